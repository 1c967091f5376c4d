/*
** test_tstext.c — commit timestamps as text (ext/tstext.c).
**
** The properties: text(ts) reads back as ts; byte order of the texts is
** timestamp order; SQLite's own date functions agree with the date-time
** written (to the millisecond they keep); and nothing but the exact form
** reads back.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "tstext.h"

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t rnd64(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* A random timestamp: years 1970-9999, often logical 0, often equal walls. */
static kv_ts ts_random(void) {
  static uint64_t last;
  kv_ts t;
  t.wall = rnd64() % 4 == 0 && last ? last
                                    : rnd64() % (253402300800ULL * 1000000000u);
  last = t.wall;
  uint64_t r = rnd64() % 4;
  t.logical = r == 0 ? 0 : r == 1 ? 1 : (uint32_t)rnd64();
  return t;
}

static int ts_cmp(kv_ts a, kv_ts b) {
  if (a.wall != b.wall) return a.wall < b.wall ? -1 : 1;
  return a.logical < b.logical ? -1 : a.logical > b.logical;
}

static int sign(int x) { return (x > 0) - (x < 0); }

static void test_tstext_known_values(void **state) {
  (void)state;
  char buf[MVCC_TS_TEXT_MAX];
  assert_int_equal(mvcc_ts_text((kv_ts){0, 0}, buf), 29);
  assert_string_equal(buf, "1970-01-01 00:00:00.000000000");
  kv_ts t = {1796646896123456789ULL, 0}; /* 2026-12-07 12:34:56.123456789 */
  mvcc_ts_text(t, buf);
  assert_string_equal(buf, "2026-12-07 12:34:56.123456789");
  t.logical = 2;
  assert_int_equal(mvcc_ts_text(t, buf), 40);
  assert_string_equal(buf, "2026-12-07 12:34:56.123456789.0000000002");
  t.logical = UINT32_MAX;
  mvcc_ts_text(t, buf);
  assert_string_equal(buf, "2026-12-07 12:34:56.123456789.4294967295");
}

static void test_tstext_round_trip_and_order(void **state) {
  (void)state;
  char a[MVCC_TS_TEXT_MAX], b[MVCC_TS_TEXT_MAX];
  for (int i = 0; i < 200000; i++) {
    kv_ts x = ts_random(), y = ts_random(), back;
    size_t na = mvcc_ts_text(x, a), nb = mvcc_ts_text(y, b);
    assert_true(mvcc_ts_from_text(a, na, &back));
    assert_int_equal(ts_cmp(back, x), 0);
    assert_int_equal(sign(strcmp(a, b)), ts_cmp(x, y));
    (void)nb;
  }
}

/* SQLite reads the date-time part: julianday() of the text is the wall
** time to the millisecond. */
static void test_tstext_sqlite_reads_it(void **state) {
  (void)state;
  sqlite3 *db;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT CAST(round((julianday(?1) - "
                                      "2440587.5) * 86400000.0) AS INTEGER)",
                                      -1, &st, NULL),
                   SQLITE_OK);
  char buf[MVCC_TS_TEXT_MAX];
  for (int i = 0; i < 2000; i++) {
    kv_ts x = ts_random();
    x.logical = 0;
    size_t n = mvcc_ts_text(x, buf);
    sqlite3_bind_text(st, 1, buf, (int)n, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t ms = sqlite3_column_int64(st, 0);
    int64_t want = (int64_t)(x.wall / 1000000u);
    assert_true(ms - want <= 1 && want - ms <= 1);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

static void test_tstext_refuses_other_forms(void **state) {
  (void)state;
  static const char *bad[] = {
      "",
      "2026-12-07",
      "2026-12-07 12:34:56",
      "2026-12-07 12:34:56.123",
      "2026-12-07T12:34:56.123456789",
      "2026-12-07 12:34:56.123456789 ",
      "2026-12-07 12:34:56.123456789.0000000000", /* logical 0 is unwritten */
      "2026-12-07 12:34:56.123456789.4294967296", /* past 32 bits */
      "2026-12-07 12:34:56.123456789.000000001",
      "2026-12-07 12:34:56.123456789:0000000001",
      "2026-02-30 12:34:56.123456789",
      "2026-13-07 12:34:56.123456789",
      "2026-12-07 24:00:00.000000000",
      "2026-12-07 12:60:00.000000000",
      "1969-12-31 23:59:59.999999999",
      "2026-12-07 12:34:56.12345678x",
      "+026-12-07 12:34:56.123456789",
  };
  kv_ts t;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(mvcc_ts_from_text(bad[i], strlen(bad[i]), &t));
  assert_true(mvcc_ts_from_text("2024-02-29 00:00:00.000000001", 29, &t));
  assert_int_equal(t.wall, 1709164800000000001ULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tstext_known_values),
      cmocka_unit_test(test_tstext_round_trip_and_order),
      cmocka_unit_test(test_tstext_sqlite_reads_it),
      cmocka_unit_test(test_tstext_refuses_other_forms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
