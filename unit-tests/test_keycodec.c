/*
** test_keycodec.c — the order-preserving key encoding (ext/keycodec.c).
**
** The property: for key values a and b, the memcmp order of enc(a) and
** enc(b) is SQLite's own comparison of a and b, under the column's
** collation, and equal values encode to equal bytes.  SQLite gives the
** verdict: each pair is bound into `SELECT CASE WHEN ?1 < ?2 ...` (or a row
** value comparison for composite keys) on an in-memory connection.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keycodec.h"

static sqlite3 *db;

/* A test value: what SQLite gets bound, and how it is encoded. */
typedef struct tval {
  int type;
  sqlite3_int64 i;
  double r;
  unsigned char b[64];
  int n;
} tval;

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd64(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static const sqlite3_int64 tricky_ints[] = {
    0, 1, -1, 2, -2, 127, 128, -128, 255, 256, 65535, 65536,
    9007199254740991LL, 9007199254740992LL, 9007199254740993LL,
    -9007199254740993LL, INT64_MAX, INT64_MAX - 1, INT64_MIN, INT64_MIN + 1,
    4611686018427387904LL, -4611686018427387904LL};
static const double tricky_reals[] = {
    0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 3.0, 9007199254740992.0,
    9007199254740994.0, 9223372036854775808.0, -9223372036854775808.0,
    9223372036854774784.0, 1e300, -1e300, 1e-300, -1e-300, 4.9e-324,
    -4.9e-324, 2.2250738585072014e-308, 1.7976931348623157e308, INFINITY,
    -INFINITY, 0.1, 0.3, 123456.789};

static void rand_val(tval *v) {
  memset(v, 0, sizeof(*v));
  switch (rnd64() % 8) {
    case 0:
      v->type = SQLITE_INTEGER;
      v->i = tricky_ints[rnd64() % (sizeof tricky_ints / sizeof tricky_ints[0])];
      break;
    case 1:
      v->type = SQLITE_INTEGER;
      v->i = (sqlite3_int64)(rnd64() % 21) - 10;
      break;
    case 2:
      v->type = SQLITE_INTEGER;
      v->i = (sqlite3_int64)rnd64();
      break;
    case 3:
      v->type = SQLITE_FLOAT;
      v->r = tricky_reals[rnd64() % (sizeof tricky_reals / sizeof tricky_reals[0])];
      break;
    case 4: {
      v->type = SQLITE_FLOAT;
      uint64_t bits = rnd64();
      memcpy(&v->r, &bits, 8);
      if (isnan(v->r)) v->r = (double)(sqlite3_int64)(rnd64() % 100) - 50.5;
      break;
    }
    case 5: /* small reals near small integers */
      v->type = SQLITE_FLOAT;
      v->r = (double)((sqlite3_int64)(rnd64() % 21) - 10) +
             ((rnd64() % 3) ? 0.0 : 0.25);
      break;
    default: { /* text or blob over a small alphabet with NUL and 0xFF */
      static const unsigned char alpha[] = {0, 1, ' ', '@', 'A', 'B', 'Z', '_',
                                            'a', 'b', 'z', 0x7f, 0xc3, 0xff};
      v->type = rnd64() % 2 ? SQLITE_TEXT : SQLITE_BLOB;
      v->n = (int)(rnd64() % 6);
      if (rnd64() % 16 == 0) v->n = 40 + (int)(rnd64() % 20);
      for (int i = 0; i < v->n; i++)
        v->b[i] = alpha[rnd64() % sizeof alpha];
      if (v->type == SQLITE_TEXT && rnd64() % 4 == 0 && v->n < 60)
        v->b[v->n++] = ' '; /* trailing spaces for RTRIM */
    }
  }
}

static void bind_val(sqlite3_stmt *st, int i, const tval *v) {
  switch (v->type) {
    case SQLITE_INTEGER: sqlite3_bind_int64(st, i, v->i); break;
    case SQLITE_FLOAT: sqlite3_bind_double(st, i, v->r); break;
    case SQLITE_TEXT:
      sqlite3_bind_text(st, i, (const char *)v->b, v->n, SQLITE_TRANSIENT);
      break;
    default: sqlite3_bind_blob(st, i, v->b, v->n, SQLITE_TRANSIENT); break;
  }
}

static int enc_val(mvcc_keybuf *kb, const tval *v, int coll, int desc) {
  switch (v->type) {
    case SQLITE_INTEGER: return mvcc_key_append_int64(kb, v->i, desc);
    case SQLITE_FLOAT: return mvcc_key_append_double(kb, v->r, desc);
    case SQLITE_TEXT: return mvcc_key_append_text(kb, v->b, (size_t)v->n, coll, desc);
    default: return mvcc_key_append_blob(kb, v->b, (size_t)v->n, desc);
  }
}

static int sign(int x) { return (x > 0) - (x < 0); }

static int memcmp_order(const mvcc_keybuf *a, const mvcc_keybuf *b) {
  size_t n = a->n < b->n ? a->n : b->n;
  int c = n ? memcmp(a->p, b->p, n) : 0;
  if (c) return sign(c);
  return (a->n > b->n) - (a->n < b->n);
}

static const char *coll_sql[] = {"BINARY", "NOCASE", "RTRIM"};

/* SQLite's verdict for single values under a collation. */
static int sqlite_cmp(const tval *a, const tval *b, int coll) {
  static sqlite3_stmt *st[3];
  if (!st[coll]) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT CASE WHEN ?1 < ?2 COLLATE %s THEN -1 WHEN ?1 = ?2 COLLATE "
             "%s THEN 0 ELSE 1 END",
             coll_sql[coll], coll_sql[coll]);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st[coll], NULL), SQLITE_OK);
  }
  bind_val(st[coll], 1, a);
  bind_val(st[coll], 2, b);
  assert_int_equal(sqlite3_step(st[coll]), SQLITE_ROW);
  int r = sqlite3_column_int(st[coll], 0);
  sqlite3_reset(st[coll]);
  return r;
}

static void report_pair(const char *what, const tval *a, const tval *b,
                        int want, int got) {
  print_error("%s: types %d/%d ints %lld/%lld reals %.17g/%.17g: SQLite "
              "%d, encoding %d\n",
              what, a->type, b->type, (long long)a->i, (long long)b->i, a->r,
              b->r, want, got);
}

static void test_keycodec_matches_sqlite_order(void **state) {
  (void)state;
  unsigned long seed = 20261124;
  rng ^= seed;
  long pairs = 200000;
  print_message("    seed %lu, %ld pairs per collation\n", seed, pairs);
  mvcc_keybuf ka, kb;
  mvcc_keybuf_init(&ka);
  mvcc_keybuf_init(&kb);
  for (int coll = 0; coll < 3; coll++) {
    for (long i = 0; i < pairs; i++) {
      tval a, b;
      rand_val(&a);
      if (rnd64() % 4 == 0) b = a; else rand_val(&b);
      if (rnd64() % 8 == 0 && a.type == SQLITE_INTEGER) { /* 3 vs 3.0 */
        b.type = SQLITE_FLOAT;
        b.r = (double)a.i;
      }
      mvcc_keybuf_reset(&ka);
      mvcc_keybuf_reset(&kb);
      assert_int_equal(enc_val(&ka, &a, coll, 0), SQLITE_OK);
      assert_int_equal(enc_val(&kb, &b, coll, 0), SQLITE_OK);
      int want = sqlite_cmp(&a, &b, coll), got = memcmp_order(&ka, &kb);
      if (want != got) {
        report_pair(coll_sql[coll], &a, &b, want, got);
        fail();
      }
      /* DESC reverses the order exactly. */
      mvcc_keybuf_reset(&ka);
      mvcc_keybuf_reset(&kb);
      enc_val(&ka, &a, coll, 1);
      enc_val(&kb, &b, coll, 1);
      if (memcmp_order(&ka, &kb) != -want) {
        report_pair("DESC", &a, &b, -want, memcmp_order(&ka, &kb));
        fail();
      }
    }
  }
  mvcc_keybuf_free(&ka);
  mvcc_keybuf_free(&kb);
}

/* NULL (index entries) sorts before every value, as in SQLite's ORDER BY,
** and after every value in a DESC column; two NULLs encode equal. */
static void test_keycodec_null_sorts_first(void **state) {
  (void)state;
  mvcc_keybuf kn, kv;
  mvcc_keybuf_init(&kn);
  mvcc_keybuf_init(&kv);
  for (int desc = 0; desc < 2; desc++) {
    mvcc_keybuf_reset(&kn);
    assert_int_equal(mvcc_key_append_null(&kn, desc), SQLITE_OK);
    for (long i = 0; i < 20000; i++) {
      tval v;
      rand_val(&v);
      mvcc_keybuf_reset(&kv);
      assert_int_equal(enc_val(&kv, &v, (int)(i % 3), desc), SQLITE_OK);
      assert_int_equal(memcmp_order(&kn, &kv), desc ? 1 : -1);
    }
    mvcc_keybuf_reset(&kv);
    mvcc_key_append_null(&kv, desc);
    assert_int_equal(memcmp_order(&kn, &kv), 0);
  }
  mvcc_keybuf_free(&kn);
  mvcc_keybuf_free(&kv);
}

/* Composite keys: concatenations order like SQLite's row values, with
** per-column DESC flipping that column. */
static void test_keycodec_composite_matches_row_values(void **state) {
  (void)state;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT CASE WHEN ?1 < ?2 THEN -1 WHEN ?1 = "
                                      "?2 THEN 0 ELSE 1 END",
                                      -1, &st, NULL),
                   SQLITE_OK);
  mvcc_keybuf ka, kb;
  mvcc_keybuf_init(&ka);
  mvcc_keybuf_init(&kb);
  long n = 100000;
  for (long it = 0; it < n; it++) {
    int ncol = 2 + (int)(rnd64() % 2);
    tval a[3], b[3];
    int desc[3], want = 0;
    for (int c = 0; c < ncol; c++) {
      rand_val(&a[c]);
      /* Share prefixes often, or the first column always decides. */
      if (rnd64() % 3) b[c] = a[c]; else rand_val(&b[c]);
      desc[c] = (int)(rnd64() % 2);
    }
    for (int c = 0; c < ncol && want == 0; c++) {
      bind_val(st, 1, &a[c]);
      bind_val(st, 2, &b[c]);
      assert_int_equal(sqlite3_step(st), SQLITE_ROW);
      want = sqlite3_column_int(st, 0) * (desc[c] ? -1 : 1);
      sqlite3_reset(st);
    }
    mvcc_keybuf_reset(&ka);
    mvcc_keybuf_reset(&kb);
    for (int c = 0; c < ncol; c++) {
      assert_int_equal(enc_val(&ka, &a[c], 0, desc[c]), SQLITE_OK);
      assert_int_equal(enc_val(&kb, &b[c], 0, desc[c]), SQLITE_OK);
    }
    int got = memcmp_order(&ka, &kb);
    if (got != want) {
      report_pair("composite", &a[0], &b[0], want, got);
      fail();
    }
  }
  sqlite3_finalize(st);
  mvcc_keybuf_free(&ka);
  mvcc_keybuf_free(&kb);
}

static void test_keycodec_equal_numbers_encode_equal(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof tricky_ints / sizeof tricky_ints[0]; i++) {
    double r = (double)tricky_ints[i];
    if ((sqlite3_int64)r != tricky_ints[i] || r >= 9223372036854775808.0)
      continue; /* not exactly representable */
    mvcc_keybuf a, b;
    mvcc_keybuf_init(&a);
    mvcc_keybuf_init(&b);
    mvcc_key_append_int64(&a, tricky_ints[i], 0);
    mvcc_key_append_double(&b, r, 0);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.p, b.p, a.n);
    mvcc_keybuf_free(&a);
    mvcc_keybuf_free(&b);
  }
  mvcc_keybuf z1, z2;
  mvcc_keybuf_init(&z1);
  mvcc_keybuf_init(&z2);
  mvcc_key_append_double(&z1, 0.0, 0);
  mvcc_key_append_double(&z2, -0.0, 0);
  assert_int_equal(z1.n, 1);
  assert_memory_equal(z1.p, z2.p, 1);
  mvcc_keybuf_free(&z1);
  mvcc_keybuf_free(&z2);
}

static void test_keycodec_exact_bytes(void **state) {
  (void)state;
  mvcc_keybuf b;
  mvcc_keybuf_init(&b);
  mvcc_key_append_int64(&b, 1, 0); /* 0x13, E=0+1100, m=2^63: 1000000 */
  const unsigned char one[] = {0x13, 0x04, 0x4c, 0x80};
  assert_int_equal(b.n, sizeof one);
  assert_memory_equal(b.p, one, sizeof one);
  mvcc_keybuf_reset(&b);
  mvcc_key_append_int64(&b, 129, 0); /* E=7: m = 1000000 1000000..., two groups */
  const unsigned char v129[] = {0x13, 0x04, 0x53, 0x81, 0x80};
  assert_int_equal(b.n, sizeof v129);
  assert_memory_equal(b.p, v129, sizeof v129);
  mvcc_keybuf_reset(&b);
  mvcc_key_append_int64(&b, INT64_MAX, 0); /* 63 set bits: 9 full groups */
  assert_int_equal(b.n, 3 + 9);
  for (size_t i = 3; i < b.n; i++) assert_int_not_equal(b.p[i], 0);
  mvcc_keybuf_reset(&b);
  mvcc_key_append_int64(&b, -1, 0); /* complemented */
  const unsigned char minus1[] = {0x11, 0xfb, 0xb3, 0x7f};
  assert_int_equal(b.n, sizeof minus1);
  assert_memory_equal(b.p, minus1, sizeof minus1);
  mvcc_keybuf_reset(&b);
  mvcc_key_append_text(&b, (const unsigned char *)"a\0b", 3, MVCC_COLL_BINARY,
                       0);
  const unsigned char txt[] = {0x30, 'a', 0x00, 0xff, 'b', 0x00, 0x01};
  assert_int_equal(b.n, sizeof txt);
  assert_memory_equal(b.p, txt, sizeof txt);
  mvcc_keybuf_reset(&b);
  /* Zeros first, in a row and last: each escaped where it stands. */
  mvcc_key_append_blob(&b, "\0\0x\0", 4, 0);
  const unsigned char zeros[] = {0x40, 0x00, 0xff, 0x00, 0xff, 'x',
                                 0x00, 0xff, 0x00, 0x01};
  assert_int_equal(b.n, sizeof zeros);
  assert_memory_equal(b.p, zeros, sizeof zeros);
  mvcc_keybuf_reset(&b);
  mvcc_key_append_blob(&b, "", 0, 1); /* DESC: complemented */
  const unsigned char blob[] = {0xbf, 0xff, 0xfe};
  assert_memory_equal(b.p, blob, sizeof blob);
  mvcc_keybuf_free(&b);
}

static void test_keycodec_refuses_null_and_nan(void **state) {
  (void)state;
  mvcc_keybuf b;
  mvcc_keybuf_init(&b);
  assert_int_equal(mvcc_key_append_double(&b, NAN, 0), SQLITE_CONSTRAINT);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "SELECT NULL", -1, &st, NULL);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(mvcc_key_append_value(&b, sqlite3_column_value(st, 0), 0, 0),
                   SQLITE_CONSTRAINT);
  sqlite3_finalize(st);
  assert_int_equal(b.n, 0);
  mvcc_keybuf_free(&b);
}

static void test_keycodec_collation_names(void **state) {
  (void)state;
  assert_int_equal(mvcc_coll_from_name(NULL), MVCC_COLL_BINARY);
  assert_int_equal(mvcc_coll_from_name(""), MVCC_COLL_BINARY);
  assert_int_equal(mvcc_coll_from_name("binary"), MVCC_COLL_BINARY);
  assert_int_equal(mvcc_coll_from_name("NoCase"), MVCC_COLL_NOCASE);
  assert_int_equal(mvcc_coll_from_name("RTRIM"), MVCC_COLL_RTRIM);
  assert_int_equal(mvcc_coll_from_name("UNICODE"), -1);
}

static void test_keycodec_prefix_successor(void **state) {
  (void)state;
  mvcc_keybuf out;
  mvcc_keybuf_init(&out);
  const unsigned char a[] = {0x01, 0x02, 0xff, 0xff};
  assert_int_equal(mvcc_key_prefix_successor(a, sizeof a, &out), 0);
  assert_int_equal(out.n, 2);
  assert_int_equal(out.p[0], 0x01);
  assert_int_equal(out.p[1], 0x03);
  const unsigned char ff[] = {0xff, 0xff};
  assert_int_equal(mvcc_key_prefix_successor(ff, 2, &out), -1);
  assert_int_equal(mvcc_key_prefix_successor(ff, 0, &out), -1);
  /* Every extension of the prefix is below the successor. */
  mvcc_keybuf p;
  mvcc_keybuf_init(&p);
  mvcc_key_append_int64(&p, 42, 0);
  assert_int_equal(mvcc_key_prefix_successor(p.p, p.n, &out), 0);
  mvcc_key_append_text(&p, (const unsigned char *)"\xff\xff", 2, 0, 0);
  assert_true(memcmp(p.p, out.p, out.n) < 0);
  mvcc_keybuf_free(&p);
  mvcc_keybuf_free(&out);
}

/* A sorted list of tricky numbers encodes to strictly increasing bytes. */
static int dcmp(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

static void test_keycodec_numbers_monotonic(void **state) {
  (void)state;
  enum { N = sizeof tricky_reals / sizeof tricky_reals[0] };
  double v[N];
  memcpy(v, tricky_reals, sizeof v);
  qsort(v, N, sizeof(double), dcmp);
  mvcc_keybuf prev, cur;
  mvcc_keybuf_init(&prev);
  mvcc_keybuf_init(&cur);
  for (int i = 0; i < N; i++) {
    mvcc_keybuf_reset(&cur);
    mvcc_key_append_double(&cur, v[i], 0);
    if (i) {
      int c = memcmp_order(&prev, &cur);
      assert_int_equal(c, v[i - 1] == v[i] ? 0 : -1);
    }
    mvcc_keybuf t = prev;
    prev = cur;
    cur = t;
  }
  mvcc_keybuf_free(&prev);
  mvcc_keybuf_free(&cur);
}

static int setup(void **state) {
  (void)state;
  return sqlite3_open(":memory:", &db);
}

static int teardown(void **state) {
  (void)state;
  sqlite3_close(db);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keycodec_matches_sqlite_order),
      cmocka_unit_test(test_keycodec_null_sorts_first),
      cmocka_unit_test(test_keycodec_composite_matches_row_values),
      cmocka_unit_test(test_keycodec_equal_numbers_encode_equal),
      cmocka_unit_test(test_keycodec_exact_bytes),
      cmocka_unit_test(test_keycodec_refuses_null_and_nan),
      cmocka_unit_test(test_keycodec_collation_names),
      cmocka_unit_test(test_keycodec_prefix_successor),
      cmocka_unit_test(test_keycodec_numbers_monotonic),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
