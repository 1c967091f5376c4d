/*
** rowcodec.c — the stored form of a row: every value with its exact type
** and bytes, any column readable without decoding the others.
**
**   0x01                         format version
**   varint  ncol
**   varint  code[ncol]           one serial code per column
**   payload[ncol]                in column order
**
** Codes (SQLite's record format, less its header size):
**   0        NULL                      no payload
**   1..6     INTEGER, 1,2,3,4,6,8-byte big-endian two's complement
**   7        REAL, 8 bytes: the IEEE-754 bits big-endian (-0.0, NaN payloads
**            and infinities survive)
**   8, 9     INTEGER 0, 1              no payload
**   12+2n    TEXT of n bytes (stored as given: embedded NULs and invalid
**            UTF-8 are kept)
**   13+2n    BLOB of n bytes (n may be 0: an empty BLOB is not NULL)
** varint: unsigned LEB128, at most 10 bytes.
**
** Parsing checks the version, every code, and that the payloads fill the
** buffer exactly, so a truncated or damaged value is SQLITE_CORRUPT and is
** never read out of bounds.
*/
#ifdef MVCC_EXTENSION_BUILD
#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif

#include <stdlib.h>
#include <string.h>

#include "rowcodec.h"

#define ROW_FORMAT 0x01

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static unsigned char *varint_put(unsigned char *o, uint64_t v) {
  while (v >= 0x80) {
    *o++ = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  *o++ = (unsigned char)v;
  return o;
}

/* Reads a varint from p[*i..n); false if it is cut or too long. */
static int varint_get(const unsigned char *p, size_t n, size_t *i,
                      uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (*i >= n) return 0;
    unsigned char c = p[(*i)++];
    if (shift == 63 && c > 1) return 0;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

static const size_t int_size[7] = {0, 1, 2, 3, 4, 6, 8};

static uint64_t payload_len(uint64_t code) {
  if (code >= 12) return (code - 12) / 2;
  if (code >= 1 && code <= 6) return int_size[code];
  if (code == 7) return 8;
  return 0;
}

static uint64_t cell_code(const mvcc_cell *c) {
  switch (c->type) {
    case SQLITE_INTEGER: {
      sqlite3_int64 v = c->i;
      if (v == 0) return 8;
      if (v == 1) return 9;
      uint64_t u = v < 0 ? ~(uint64_t)v : (uint64_t)v;
      if (u <= 0x7f) return 1;
      if (u <= 0x7fff) return 2;
      if (u <= 0x7fffff) return 3;
      if (u <= 0x7fffffff) return 4;
      if (u <= 0x7fffffffffffULL) return 5;
      return 6;
    }
    case SQLITE_FLOAT: return 7;
    case SQLITE_TEXT: return 12 + 2 * (uint64_t)c->n;
    case SQLITE_BLOB: return 13 + 2 * (uint64_t)c->n;
    default: return 0;
  }
}

int mvcc_row_encode_cells(int ncol, const mvcc_cell *cells,
                          unsigned char **out, size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  size_t total = 1 + varint_len((uint64_t)ncol);
  for (int i = 0; i < ncol; i++) {
    if ((cells[i].type == SQLITE_TEXT || cells[i].type == SQLITE_BLOB) &&
        cells[i].n > ((uint64_t)1 << 61))
      return SQLITE_TOOBIG;
    uint64_t code = cell_code(&cells[i]);
    total += varint_len(code) + (size_t)payload_len(code);
  }
  unsigned char *buf = malloc(total ? total : 1);
  if (!buf) return SQLITE_NOMEM;
  unsigned char *o = buf;
  *o++ = ROW_FORMAT;
  o = varint_put(o, (uint64_t)ncol);
  for (int i = 0; i < ncol; i++) o = varint_put(o, cell_code(&cells[i]));
  for (int i = 0; i < ncol; i++) {
    const mvcc_cell *c = &cells[i];
    uint64_t code = cell_code(c);
    size_t len = (size_t)payload_len(code);
    if (code >= 1 && code <= 6) {
      uint64_t u = (uint64_t)c->i;
      for (size_t j = 0; j < len; j++)
        o[j] = (unsigned char)(u >> (8 * (len - 1 - j)));
    } else if (code == 7) {
      uint64_t u;
      memcpy(&u, &c->r, 8);
      for (int j = 0; j < 8; j++) o[j] = (unsigned char)(u >> (56 - 8 * j));
    } else if (code >= 12 && len) {
      memcpy(o, c->p, len);
    }
    o += len;
  }
  *out = buf;
  *outlen = (size_t)(o - buf);
  return SQLITE_OK;
}

int mvcc_row_encode_values(int ncol, sqlite3_value **vals, unsigned char **out,
                           size_t *outlen) {
  mvcc_cell small[16] = {{0}};
  mvcc_cell *cells = ncol <= 16 ? small
                                : malloc(sizeof(mvcc_cell) * (size_t)ncol);
  if (!cells) return SQLITE_NOMEM;
  for (int i = 0; i < ncol; i++) {
    mvcc_cell *c = &cells[i];
    memset(c, 0, sizeof(*c));
    c->type = sqlite3_value_type(vals[i]);
    switch (c->type) {
      case SQLITE_INTEGER: c->i = sqlite3_value_int64(vals[i]); break;
      case SQLITE_FLOAT: c->r = sqlite3_value_double(vals[i]); break;
      case SQLITE_TEXT:
        c->p = sqlite3_value_text(vals[i]);
        c->n = (size_t)sqlite3_value_bytes(vals[i]);
        break;
      case SQLITE_BLOB:
        c->p = sqlite3_value_blob(vals[i]);
        c->n = (size_t)sqlite3_value_bytes(vals[i]);
        break;
      default: break;
    }
  }
  int rc = mvcc_row_encode_cells(ncol, cells, out, outlen);
  if (cells != small) free(cells);
  return rc;
}

void mvcc_row_clear(mvcc_row *r) {
  if (r->codes && r->codes != r->codes_buf) free(r->codes);
  if (r->offs && r->offs != r->offs_buf) free(r->offs);
  r->codes = NULL;
  r->offs = NULL;
  r->ncol = 0;
}

int mvcc_row_parse(mvcc_row *r, const unsigned char *p, size_t n) {
  mvcc_row_clear(r);
  r->p = p;
  r->n = n;
  size_t i = 0;
  uint64_t ncol;
  if (n < 2 || p[0] != ROW_FORMAT) return SQLITE_CORRUPT;
  i = 1;
  if (!varint_get(p, n, &i, &ncol) || ncol > n) return SQLITE_CORRUPT;
  if (ncol > 16) {
    r->codes = malloc(sizeof(uint64_t) * ncol);
    r->offs = malloc(sizeof(size_t) * ncol);
    if (!r->codes || !r->offs) {
      mvcc_row_clear(r);
      return SQLITE_NOMEM;
    }
  } else {
    r->codes = r->codes_buf;
    r->offs = r->offs_buf;
  }
  for (uint64_t c = 0; c < ncol; c++) {
    uint64_t code;
    if (!varint_get(p, n, &i, &code) || code == 10 || code == 11) {
      mvcc_row_clear(r);
      return SQLITE_CORRUPT;
    }
    r->codes[c] = code;
  }
  size_t off = i;
  for (uint64_t c = 0; c < ncol; c++) {
    uint64_t len = payload_len(r->codes[c]);
    if (len > n - off) {
      mvcc_row_clear(r);
      return SQLITE_CORRUPT;
    }
    r->offs[c] = off;
    off += (size_t)len;
  }
  if (off != n) {
    mvcc_row_clear(r);
    return SQLITE_CORRUPT;
  }
  r->ncol = (int)ncol;
  return SQLITE_OK;
}

int mvcc_row_column_type(const mvcc_row *r, int i) {
  if (i < 0 || i >= r->ncol) return SQLITE_NULL;
  uint64_t code = r->codes[i];
  if (code == 0) return SQLITE_NULL;
  if (code <= 6 || code == 8 || code == 9) return SQLITE_INTEGER;
  if (code == 7) return SQLITE_FLOAT;
  return code & 1 ? SQLITE_BLOB : SQLITE_TEXT;
}

void mvcc_row_cell(const mvcc_row *r, int i, mvcc_cell *c) {
  memset(c, 0, sizeof(*c));
  c->type = mvcc_row_column_type(r, i);
  if (c->type == SQLITE_NULL) return;
  uint64_t code = r->codes[i];
  const unsigned char *q = r->p + r->offs[i];
  if (code == 8 || code == 9) {
    c->i = (sqlite3_int64)(code - 8);
  } else if (code <= 6) {
    size_t len = int_size[code];
    uint64_t u = q[0] & 0x80 ? ~(uint64_t)0 : 0; /* sign-extend */
    for (size_t j = 0; j < len; j++) u = (u << 8) | q[j];
    c->i = (sqlite3_int64)u;
  } else if (code == 7) {
    uint64_t u = 0;
    for (int j = 0; j < 8; j++) u = (u << 8) | q[j];
    memcpy(&c->r, &u, 8);
  } else {
    c->p = q;
    c->n = (size_t)payload_len(code);
  }
}

int mvcc_row_result(const mvcc_row *r, int i, sqlite3_context *ctx) {
  mvcc_cell c;
  mvcc_row_cell(r, i, &c);
  switch (c.type) {
    case SQLITE_INTEGER: sqlite3_result_int64(ctx, c.i); break;
    case SQLITE_FLOAT: sqlite3_result_double(ctx, c.r); break;
    case SQLITE_TEXT:
      sqlite3_result_text64(ctx, c.n ? (const char *)c.p : "", c.n,
                            SQLITE_TRANSIENT, SQLITE_UTF8);
      break;
    case SQLITE_BLOB:
      sqlite3_result_blob64(ctx, c.n ? c.p : "", c.n, SQLITE_TRANSIENT);
      break;
    default: sqlite3_result_null(ctx); break;
  }
  return SQLITE_OK;
}
