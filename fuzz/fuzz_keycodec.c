/*
** fuzz_keycodec.c — libFuzzer harness for the SQL key codec
** (ext/keycodec.c).
**
** Input: a flags byte (collation = flags % 3, bit 2: DESC), then two
** values, each a type byte (% 5: INTEGER, REAL, TEXT, BLOB, NULL) and its
** data (8 bytes for a number, a length byte and up to 64 bytes for TEXT and
** BLOB).  Properties checked for every input:
**   - order: memcmp order of enc(a), enc(b) (shorter prefix first) is
**     SQLite's own comparison of a and b under the collation (an in-memory
**     connection is the oracle, as in unit-tests/test_keycodec.c), and
**     reversed for DESC; NULL sorts first (index entries);
**   - round trip: a reference decoder written here from the format in
**     keycodec.c reads enc(a) back to a (numbers exactly, as long double;
**     TEXT and BLOB byte for byte, after the collation's folding), and
**     consumes exactly the encoding (it is self-delimiting), also from the
**     concatenation enc(a) ‖ enc(b) (a composite key);
**   - mvcc_key_append_value() on SQLite's own value gives the same bytes;
**   - mvcc_key_prefix_successor(enc(a)) sorts above enc(a) ‖ anything;
**   - NaN is refused with SQLITE_CONSTRAINT.
*/
#include <math.h>
#include <sqlite3.h>
#include <string.h>

#include "fuzz.h"
#include "keycodec.h"

static sqlite3 *db;
static sqlite3_stmt *cmp_st[3], *val_st;
static const char *const coll_sql[] = {"BINARY", "NOCASE", "RTRIM"};

typedef struct fval {
  int type;
  sqlite3_int64 i;
  double r;
  const uint8_t *b;
  size_t n;
} fval;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) abort();
  for (int c = 0; c < 3; c++) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT CASE WHEN ?1 < ?2 COLLATE %s THEN -1 WHEN ?1 = ?2 "
             "COLLATE %s THEN 0 ELSE 1 END",
             coll_sql[c], coll_sql[c]);
    if (sqlite3_prepare_v2(db, sql, -1, &cmp_st[c], NULL)) abort();
  }
  if (sqlite3_prepare_v2(db, "SELECT ?1", -1, &val_st, NULL)) abort();
  return 0;
}

static void read_val(fuzz_in *in, fval *v) {
  memset(v, 0, sizeof(*v));
  static const int types[5] = {SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT,
                               SQLITE_BLOB, SQLITE_NULL};
  v->type = types[fuzz_u8(in) % 5];
  if (v->type == SQLITE_INTEGER) v->i = (sqlite3_int64)fuzz_u64(in);
  if (v->type == SQLITE_FLOAT) {
    uint64_t bits = fuzz_u64(in);
    memcpy(&v->r, &bits, 8);
  }
  if (v->type == SQLITE_TEXT || v->type == SQLITE_BLOB)
    v->b = fuzz_bytes(in, 64, &v->n);
}

static void bind_val(sqlite3_stmt *st, int i, const fval *v) {
  switch (v->type) {
    case SQLITE_INTEGER: sqlite3_bind_int64(st, i, v->i); break;
    case SQLITE_FLOAT: sqlite3_bind_double(st, i, v->r); break;
    case SQLITE_TEXT:
      sqlite3_bind_text(st, i, v->n ? (const char *)v->b : "", (int)v->n,
                        SQLITE_TRANSIENT);
      break;
    case SQLITE_BLOB:
      sqlite3_bind_blob(st, i, v->n ? v->b : (const void *)"", (int)v->n,
                        SQLITE_TRANSIENT);
      break;
    default: sqlite3_bind_null(st, i); break;
  }
}

static int enc_val(mvcc_keybuf *kb, const fval *v, int coll, int desc) {
  switch (v->type) {
    case SQLITE_INTEGER: return mvcc_key_append_int64(kb, v->i, desc);
    case SQLITE_FLOAT: return mvcc_key_append_double(kb, v->r, desc);
    case SQLITE_TEXT:
      return mvcc_key_append_text(kb, v->b, v->n, coll, desc);
    case SQLITE_BLOB: return mvcc_key_append_blob(kb, v->b, v->n, desc);
    default: return mvcc_key_append_null(kb, desc);
  }
}

static int sign(int x) { return (x > 0) - (x < 0); }

static int bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b,
                     size_t bn) {
  size_t n = an < bn ? an : bn;
  int c = n ? memcmp(a, b, n) : 0;
  return c ? sign(c) : (an > bn) - (an < bn);
}

static int type_rank(int t) {
  return t == SQLITE_NULL ? 0 : t == SQLITE_TEXT ? 2 : t == SQLITE_BLOB ? 3 : 1;
}

static int sqlite_cmp(const fval *a, const fval *b, int coll) {
  if (a->type == SQLITE_NULL || b->type == SQLITE_NULL)
    return sign(type_rank(a->type) - type_rank(b->type));
  sqlite3_stmt *st = cmp_st[coll];
  bind_val(st, 1, a);
  bind_val(st, 2, b);
  FUZZ_CHECK(sqlite3_step(st) == SQLITE_ROW, "%s", sqlite3_errmsg(db));
  int r = sqlite3_column_int(st, 0);
  sqlite3_reset(st);
  return r;
}

/* ---------------------------------------------- reference decoder -- */

typedef struct dval {
  int type;            /* SQLITE_NULL, SQLITE_FLOAT (every number), TEXT,
                          BLOB */
  long double num;
  uint8_t b[160];
  size_t n;
  uint64_t nocase_len; /* NOCASE text: the stored total length */
} dval;

/* Decodes one value of collation coll from p[0..n) (already
** un-complemented); returns the bytes consumed, 0 if malformed. */
static size_t ref_decode(const uint8_t *p, size_t n, int coll, dval *out) {
  memset(out, 0, sizeof(*out));
  if (!n) return 0;
  switch (p[0]) {
    case 0x05: out->type = SQLITE_NULL; return 1;
    case 0x10: out->type = SQLITE_FLOAT; out->num = -INFINITY; return 1;
    case 0x12: out->type = SQLITE_FLOAT; out->num = 0; return 1;
    case 0x14: out->type = SQLITE_FLOAT; out->num = INFINITY; return 1;
    case 0x11:
    case 0x13: {
      int neg = p[0] == 0x11;
      uint8_t q[13];
      size_t k = 0;
      int ended = 0;
      for (; k < 13 && 1 + k < n; k++) {
        q[k] = neg ? (uint8_t)~p[1 + k] : p[1 + k];
        if (k >= 2 && !(q[k] & 1)) {
          ended = 1;
          break;
        }
      }
      if (!ended) return 0;
      int e = (q[0] << 8 | q[1]) - 1100;
      uint64_t m = 0;
      int shift = 57;
      for (size_t j = 2; j <= k; j++, shift -= 7) {
        uint64_t bits = q[j] >> 1;
        m |= shift >= 0 ? bits << shift : bits >> -shift;
      }
      out->type = SQLITE_FLOAT;
      out->num = ldexpl((long double)m, e - 63);
      if (neg) out->num = -out->num;
      return 2 + k;
    }
    case 0x30:
    case 0x40: {
      out->type = p[0] == 0x30 ? SQLITE_TEXT : SQLITE_BLOB;
      size_t i = 1;
      for (;;) {
        if (i + 1 >= n) return 0;
        if (p[i] == 0 && p[i + 1] == 1) break;
        if (out->n == sizeof out->b) return 0;
        if (p[i] == 0) {
          if (p[i + 1] != 0xFF) return 0;
          out->b[out->n++] = 0;
          i += 2;
        } else {
          out->b[out->n++] = p[i++];
        }
      }
      i += 2;
      if (out->type == SQLITE_TEXT && coll == MVCC_COLL_NOCASE) {
        if (i + 8 > n) return 0;
        for (int j = 0; j < 8; j++) out->nocase_len = out->nocase_len << 8 | p[i + j];
        i += 8;
      }
      return i;
    }
    default: return 0;
  }
}

/* Does the decoded value d stand for v under coll? */
static void check_decoded(const fval *v, const dval *d, int coll) {
  if (v->type == SQLITE_NULL) {
    FUZZ_CHECK(d->type == SQLITE_NULL, "NULL decoded as type %d", d->type);
    return;
  }
  if (v->type == SQLITE_INTEGER || v->type == SQLITE_FLOAT) {
    long double want = v->type == SQLITE_INTEGER ? (long double)v->i
                                                 : (long double)v->r;
    FUZZ_CHECK(d->type == SQLITE_FLOAT && d->num == want,
               "number decoded as %Lg, not %Lg", d->num, want);
    return;
  }
  FUZZ_CHECK(d->type == v->type, "type %d decoded as %d", v->type, d->type);
  uint8_t want[64];
  size_t wn = v->n;
  memcpy(want, v->b, wn);
  if (v->type == SQLITE_TEXT && coll == MVCC_COLL_RTRIM)
    while (wn && want[wn - 1] == ' ') wn--;
  if (v->type == SQLITE_TEXT && coll == MVCC_COLL_NOCASE) {
    FUZZ_CHECK(d->nocase_len == v->n, "NOCASE length %llu, not %zu",
               (unsigned long long)d->nocase_len, v->n);
    size_t cut = 0;
    while (cut < wn && want[cut]) cut++;
    wn = cut;
    for (size_t j = 0; j < wn; j++)
      if (want[j] >= 'A' && want[j] <= 'Z') want[j] = (uint8_t)(want[j] + 32);
  }
  FUZZ_CHECK(d->n == wn && (!wn || !memcmp(d->b, want, wn)),
             "bytes differ after a round trip (%zu vs %zu)", d->n, wn);
}

static void uncomplement(uint8_t *dst, const uint8_t *src, size_t n,
                         int desc) {
  for (size_t i = 0; i < n; i++) dst[i] = desc ? (uint8_t)~src[i] : src[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!db) LLVMFuzzerInitialize(NULL, NULL);
  fuzz_in in = {data, size};
  uint8_t flags = fuzz_u8(&in);
  int coll = flags % 3, desc = (flags >> 2) & 1;
  fval a, b;
  read_val(&in, &a);
  read_val(&in, &b);
  /* A TEXT value reaches the codec as SQLite holds it: as bytes, which
  ** may be any bytes; the oracle sees the same bytes. */
  int a_nan = a.type == SQLITE_FLOAT && isnan(a.r);
  int b_nan = b.type == SQLITE_FLOAT && isnan(b.r);

  mvcc_keybuf ea, eb, both, viav, succ;
  mvcc_keybuf_init(&ea);
  mvcc_keybuf_init(&eb);
  mvcc_keybuf_init(&both);
  mvcc_keybuf_init(&viav);
  mvcc_keybuf_init(&succ);
  int ra = enc_val(&ea, &a, coll, desc);
  int rb = enc_val(&eb, &b, coll, desc);
  FUZZ_CHECK(ra == (a_nan ? SQLITE_CONSTRAINT : SQLITE_OK), "rc %d", ra);
  FUZZ_CHECK(rb == (b_nan ? SQLITE_CONSTRAINT : SQLITE_OK), "rc %d", rb);
  if (a_nan || b_nan) goto done;

  /* Order. */
  int want = sqlite_cmp(&a, &b, coll);
  int got = bytes_cmp(ea.p, ea.n, eb.p, eb.n);
  FUZZ_CHECK(got == (desc ? -want : want),
             "types %d, %d under %s%s: encoded order %d, SQLite says %d",
             a.type, b.type, coll_sql[coll], desc ? " DESC" : "", got, want);

  /* Round trip, alone and in a composite key. */
  if (mvcc_keybuf_append(&both, ea.p, ea.n) ||
      mvcc_keybuf_append(&both, eb.p, eb.n))
    goto done;
  uint8_t *plain = malloc(both.n);
  if (!plain) goto done;
  uncomplement(plain, both.p, both.n, desc);
  dval da, db_;
  size_t ua = ref_decode(plain, both.n, coll, &da);
  FUZZ_CHECK(ua == ea.n, "decoder consumed %zu of %zu bytes", ua, ea.n);
  size_t ub = ref_decode(plain + ua, both.n - ua, coll, &db_);
  FUZZ_CHECK(ub == eb.n, "decoder consumed %zu of %zu bytes", ub, eb.n);
  free(plain);
  check_decoded(&a, &da, coll);
  check_decoded(&b, &db_, coll);

  /* The same bytes from SQLite's own value of a. */
  if (a.type != SQLITE_NULL) {
    bind_val(val_st, 1, &a);
    FUZZ_CHECK(sqlite3_step(val_st) == SQLITE_ROW, "%s", sqlite3_errmsg(db));
    int rv = mvcc_key_append_value(&viav, sqlite3_column_value(val_st, 0),
                                   coll, desc);
    sqlite3_reset(val_st);
    FUZZ_CHECK(rv == SQLITE_OK && viav.n == ea.n &&
                   !memcmp(viav.p, ea.p, ea.n),
               "mvcc_key_append_value differs (rc %d)", rv);
  }

  /* The successor of enc(a) as a prefix is above enc(a) ‖ enc(b). */
  if (mvcc_key_prefix_successor(ea.p, ea.n, &succ) == 0) {
    FUZZ_CHECK(bytes_cmp(succ.p, succ.n, both.p, both.n) > 0,
               "prefix successor not above an extension");
    FUZZ_CHECK(bytes_cmp(succ.p, succ.n, ea.p, ea.n) > 0,
               "prefix successor not above the prefix");
  }
done:
  mvcc_keybuf_free(&ea);
  mvcc_keybuf_free(&eb);
  mvcc_keybuf_free(&both);
  mvcc_keybuf_free(&viav);
  mvcc_keybuf_free(&succ);
  return 0;
}
