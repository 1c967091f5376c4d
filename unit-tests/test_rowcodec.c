/*
** test_rowcodec.c — the row encoding (ext/rowcodec.c): every value comes
** back from SQLite with its exact type and bytes; damaged encodings are
** refused, never read out of bounds (run it under AddressSanitizer).
**
** Round trips go through a real SQLite connection: the test registers
** rowpack(...) (encodes its arguments) and rowcol(row, i) (decodes column
** i with mvcc_row_result), so values are produced and checked by SQLite.
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

#include "rowcodec.h"

static sqlite3 *db;

static void rowpack(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  unsigned char *out;
  size_t n;
  if (mvcc_row_encode_values(argc, argv, &out, &n) != SQLITE_OK) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_blob64(ctx, out, n, free);
}

static void rowcol(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  mvcc_row r;
  memset(&r, 0, sizeof r);
  const unsigned char *p = sqlite3_value_blob(argv[0]);
  int n = sqlite3_value_bytes(argv[0]);
  if (mvcc_row_parse(&r, p ? p : (const unsigned char *)"", (size_t)n) !=
      SQLITE_OK) {
    sqlite3_result_error(ctx, "corrupt", -1);
    return;
  }
  mvcc_row_result(&r, sqlite3_value_int(argv[1]), ctx);
  mvcc_row_clear(&r);
}

static int setup(void **state) {
  (void)state;
  if (sqlite3_open(":memory:", &db)) return 1;
  sqlite3_create_function(db, "rowpack", -1, SQLITE_UTF8, NULL, rowpack, NULL,
                          NULL);
  sqlite3_create_function(db, "rowcol", 2, SQLITE_UTF8, NULL, rowcol, NULL,
                          NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sqlite3_close(db);
  return 0;
}

/* Every value of `vals` (a SQL list) survives a round trip: same typeof(),
** same bytes (compared as hex of a blob cast, and with IS). */
static void round_trip(const char *vals, int n) {
  char q[8192];
  snprintf(q, sizeof q,
           "WITH v(i, x) AS (SELECT row_number() OVER () - 1, column1 FROM "
           "(VALUES %s)) SELECT i, typeof(x) = typeof(rowcol(rowpack(x), 0)) "
           "AND (x IS rowcol(rowpack(x), 0)) AND (typeof(x) NOT IN ('text', "
           "'blob') OR hex(CAST(x AS BLOB)) = hex(CAST(rowcol(rowpack(x), 0) AS "
           "BLOB))) FROM v",
           vals);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
  int rows = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (!sqlite3_column_int(st, 1))
      print_error("value %d of (%s) did not round-trip\n",
                  sqlite3_column_int(st, 0), vals);
    assert_int_equal(sqlite3_column_int(st, 1), 1);
    rows++;
  }
  sqlite3_finalize(st);
  assert_int_equal(rows, n);
}

static void test_rowcodec_values_round_trip(void **state) {
  (void)state;
  round_trip("(NULL), (0), (1), (-1), (127), (128), (-128), (-129), "
             "(32767), (-32768), (8388607), (2147483647), (-2147483648), "
             "(140737488355327), (-140737488355328), (9223372036854775807), "
             "(-9223372036854775808)",
             17);
  round_trip("(0.0), (-0.0), (1.5), (-2.25), (1e308), (-1e-308), (4.9e-324), "
             "(9e999), (-9e999), (0.1)",
             10);
  round_trip("(''), ('a'), ('hello world'), (CAST(X'00610062' AS TEXT)), "
             "(CAST(X'ff80c0' AS TEXT)), (X''), (X'00'), (X'00ff00ff'), "
             "(zeroblob(1000))",
             9);
}

/* -0.0 keeps its sign bit; an empty BLOB is not NULL. */
static void test_rowcodec_exact_bits(void **state) {
  (void)state;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT rowcol(rowpack(?1, ?2, ?3), 0), "
                                      "rowcol(rowpack(?1, ?2, ?3), 1), "
                                      "rowcol(rowpack(?1, ?2, ?3), 2)",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_double(st, 1, -0.0);
  sqlite3_bind_zeroblob(st, 2, 0);
  sqlite3_bind_text(st, 3, "a\0b", 3, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  double z = sqlite3_column_double(st, 0);
  assert_true(z == 0.0 && signbit(z));
  assert_int_equal(sqlite3_column_type(st, 1), SQLITE_BLOB);
  assert_int_equal(sqlite3_column_bytes(st, 1), 0);
  assert_int_equal(sqlite3_column_type(st, 2), SQLITE_TEXT);
  assert_int_equal(sqlite3_column_bytes(st, 2), 3);
  assert_memory_equal(sqlite3_column_text(st, 2), "a\0b", 3);
  sqlite3_finalize(st);
}

static void test_rowcodec_large_blob_and_many_columns(void **state) {
  (void)state;
  size_t big = 40u << 20;
  unsigned char *blob = malloc(big);
  for (size_t i = 0; i < big; i++) blob[i] = (unsigned char)(i * 31 + 7);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT rowcol(rowpack(1, ?1, 'x'), 1)",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_blob64(st, 1, blob, big, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_bytes(st, 0), (int)big);
  assert_memory_equal(sqlite3_column_blob(st, 0), blob, big);
  sqlite3_finalize(st);
  free(blob);

  /* 100 columns of mixed types; each reads back by position. */
  char sql[8192] = "SELECT rowpack(";
  size_t o = strlen(sql);
  for (int i = 0; i < 100; i++)
    o += (size_t)snprintf(sql + o, sizeof sql - o, "%s%s", i ? "," : "",
                          i % 3 == 0 ? "NULL" : i % 3 == 1 ? "'t'" : "12345");
  snprintf(sql + o, sizeof sql - o, ")");
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  mvcc_row r;
  memset(&r, 0, sizeof r);
  assert_int_equal(mvcc_row_parse(&r, sqlite3_column_blob(st, 0),
                                  (size_t)sqlite3_column_bytes(st, 0)),
                   SQLITE_OK);
  assert_int_equal(r.ncol, 100);
  for (int i = 0; i < 100; i++) {
    mvcc_cell c;
    mvcc_row_cell(&r, i, &c);
    assert_int_equal(c.type, i % 3 == 0   ? SQLITE_NULL
                             : i % 3 == 1 ? SQLITE_TEXT
                                          : SQLITE_INTEGER);
    if (c.type == SQLITE_INTEGER) assert_int_equal(c.i, 12345);
  }
  /* A column past the stored ones reads as NULL. */
  assert_int_equal(mvcc_row_column_type(&r, 100), SQLITE_NULL);
  assert_int_equal(mvcc_row_column_type(&r, -1), SQLITE_NULL);
  mvcc_row_clear(&r);
  sqlite3_finalize(st);
}

/* Every truncation and many byte flips: refused or parsed within bounds. */
static void test_rowcodec_damage_is_detected(void **state) {
  (void)state;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT rowpack(1, -70000, 2.5, 'text', "
                                      "X'0102', NULL, 9223372036854775807)",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  size_t n = (size_t)sqlite3_column_bytes(st, 0);
  unsigned char *good = malloc(n);
  memcpy(good, sqlite3_column_blob(st, 0), n);
  sqlite3_finalize(st);
  mvcc_row r;
  memset(&r, 0, sizeof r);
  assert_int_equal(mvcc_row_parse(&r, good, n), SQLITE_OK);
  mvcc_row_clear(&r);
  for (size_t len = 0; len < n; len++) {
    unsigned char *cut = malloc(len ? len : 1); /* exact size: ASan checks */
    memcpy(cut, good, len);
    assert_int_equal(mvcc_row_parse(&r, cut, len), SQLITE_CORRUPT);
    free(cut);
  }
  uint64_t x = 12345;
  for (int i = 0; i < 20000; i++) {
    unsigned char *bad = malloc(n);
    memcpy(bad, good, n);
    for (int f = 0; f < 1 + i % 3; f++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      bad[(x >> 33) % n] ^= (unsigned char)(1 + (x >> 20) % 255);
    }
    if (mvcc_row_parse(&r, bad, n) == SQLITE_OK) {
      for (int c = 0; c < r.ncol; c++) { /* every read stays inside */
        mvcc_cell cell;
        mvcc_row_cell(&r, c, &cell);
        if (cell.type == SQLITE_TEXT || cell.type == SQLITE_BLOB)
          assert_true((const unsigned char *)cell.p + cell.n <= bad + n);
      }
      mvcc_row_clear(&r);
    }
    free(bad);
  }
  free(good);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rowcodec_values_round_trip),
      cmocka_unit_test(test_rowcodec_exact_bits),
      cmocka_unit_test(test_rowcodec_large_blob_and_many_columns),
      cmocka_unit_test(test_rowcodec_damage_is_detected),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
