/*
** fuzz_rowcodec.c — libFuzzer harness for the row codec (ext/rowcodec.c).
**
** The first byte chooses the mode:
**   even: the rest is a stored row as read from a damaged store.
**         mvcc_row_parse() must accept it or say SQLITE_CORRUPT, never read
**         outside it (ASan), and a row it accepts must read back column by
**         column and survive encode -> parse with the same cells.
**   odd:  the rest describes up to 40 cells (a type byte, then 8 bytes for
**         INTEGER and REAL, a length byte and up to 255 bytes for TEXT and
**         BLOB).  encode -> parse must give back every cell exactly (REAL
**         bit for bit: -0.0, infinities and NaN payloads), a column past
**         the stored ones reads as NULL, and every shorter prefix of the
**         encoding (one chosen by the input) is SQLITE_CORRUPT.
*/
#include <sqlite3.h>
#include <string.h>

#include "fuzz.h"
#include "rowcodec.h"

#define MAX_CELLS 40

static void check_same(const mvcc_cell *a, const mvcc_cell *b, int col) {
  FUZZ_CHECK(a->type == b->type, "column %d: type %d read as %d", col,
             a->type, b->type);
  switch (a->type) {
    case SQLITE_INTEGER:
      FUZZ_CHECK(a->i == b->i, "column %d: %lld read as %lld", col,
                 (long long)a->i, (long long)b->i);
      break;
    case SQLITE_FLOAT:
      FUZZ_CHECK(!memcmp(&a->r, &b->r, 8), "column %d: REAL bits differ",
                 col);
      break;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      FUZZ_CHECK(a->n == b->n && (!a->n || !memcmp(a->p, b->p, a->n)),
                 "column %d: %zu bytes read as %zu", col, a->n, b->n);
      break;
    default: break;
  }
}

/* encode(cells) -> parse: the same cells; a cut encoding is corrupt. */
static void round_trip(int ncol, const mvcc_cell *cells, size_t cut_seed) {
  unsigned char *enc;
  size_t n;
  int rc = mvcc_row_encode_cells(ncol, cells, &enc, &n);
  if (rc == SQLITE_NOMEM) return;
  FUZZ_CHECK(rc == SQLITE_OK, "encode rc %d", rc);
  mvcc_row r;
  memset(&r, 0, sizeof r);
  rc = mvcc_row_parse(&r, enc, n);
  FUZZ_CHECK(rc == SQLITE_OK, "parse of an encoding: rc %d", rc);
  FUZZ_CHECK(r.ncol == ncol, "%d columns read as %d", ncol, r.ncol);
  for (int i = 0; i < ncol; i++) {
    mvcc_cell c;
    mvcc_row_cell(&r, i, &c);
    check_same(&cells[i], &c, i);
    FUZZ_CHECK(mvcc_row_column_type(&r, i) == cells[i].type, "column %d", i);
  }
  FUZZ_CHECK(mvcc_row_column_type(&r, ncol) == SQLITE_NULL &&
                 mvcc_row_column_type(&r, -1) == SQLITE_NULL,
             "a column past the row is not NULL");
  mvcc_row_clear(&r);
  if (n > 0) {
    size_t cut = cut_seed % n; /* a proper prefix */
    unsigned char *shorter = malloc(cut ? cut : 1);
    if (shorter) {
      memcpy(shorter, enc, cut);
      rc = mvcc_row_parse(&r, shorter, cut);
      FUZZ_CHECK(rc == SQLITE_CORRUPT, "a %zu-byte prefix of %zu: rc %d", cut,
                 n, rc);
      mvcc_row_clear(&r);
      free(shorter);
    }
  }
  free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  if (!(data[0] & 1)) {
    mvcc_row r;
    memset(&r, 0, sizeof r);
    int rc = mvcc_row_parse(&r, data + 1, size - 1);
    FUZZ_CHECK(rc == SQLITE_OK || rc == SQLITE_CORRUPT || rc == SQLITE_NOMEM,
               "parse rc %d", rc);
    if (rc != SQLITE_OK) return 0;
    FUZZ_CHECK(r.ncol >= 0 && (size_t)r.ncol <= size, "ncol %d", r.ncol);
    mvcc_cell *cells = malloc(sizeof(mvcc_cell) * (size_t)(r.ncol + 1));
    if (cells) {
      for (int i = 0; i < r.ncol; i++) {
        mvcc_row_cell(&r, i, &cells[i]);
        if (cells[i].n) /* every byte it points at is inside the row */
          FUZZ_CHECK((const uint8_t *)cells[i].p >= data + 1 &&
                         (const uint8_t *)cells[i].p + cells[i].n <= data + size,
                     "column %d points outside the row", i);
      }
      round_trip(r.ncol, cells, size);
      free(cells);
    }
    mvcc_row_clear(&r);
    return 0;
  }
  fuzz_in in = {data + 1, size - 1};
  mvcc_cell cells[MAX_CELLS];
  int ncol = fuzz_u8(&in) % (MAX_CELLS + 1);
  size_t cut_seed = fuzz_u8(&in);
  static const int types[5] = {SQLITE_NULL, SQLITE_INTEGER, SQLITE_FLOAT,
                               SQLITE_TEXT, SQLITE_BLOB};
  for (int i = 0; i < ncol; i++) {
    mvcc_cell *c = &cells[i];
    memset(c, 0, sizeof(*c));
    c->type = types[fuzz_u8(&in) % 5];
    if (c->type == SQLITE_INTEGER) c->i = (sqlite3_int64)fuzz_u64(&in);
    if (c->type == SQLITE_FLOAT) {
      uint64_t bits = fuzz_u64(&in);
      memcpy(&c->r, &bits, 8);
    }
    if (c->type == SQLITE_TEXT || c->type == SQLITE_BLOB)
      c->p = fuzz_bytes(&in, 255, &c->n);
  }
  round_trip(ncol, cells, cut_seed);
  return 0;
}
