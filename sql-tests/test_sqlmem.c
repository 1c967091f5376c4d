/*
** test_sqlmem.c — the extension keeps its per-statement memory off SQLite's
** allocator.
**
** sqlite3_malloc takes one process-wide mutex while SQLite keeps memory
** statistics (SQLITE_CONFIG_MEMSTATUS, on by default), so every allocation
** a statement makes through it is a point where connections in different
** threads queue.  The extension's cursors, key and row buffers, probe lists
** and transaction state therefore come from libc (mvcc_int.h).  This test
** counts the calls SQLite's allocator receives, through a wrapper installed
** with SQLITE_CONFIG_MALLOC before SQLite starts, and checks that a
** statement on an mvcc table costs no more of them than the same statement
** on a native table in the same database, measured in the same run (so the
** bound follows whatever SQLite version runs it).  One call per statement of
** slack covers SQLite's own virtual-table steps.  Multi-row UPDATEs are left
** out: SQLite runs them on a virtual table in two passes through an
** ephemeral table it opens per statement, which a native table does not
** need; those allocations are SQLite's, not the extension's.
*/
#include "sqltest.h"

#include <stdatomic.h>

static sqlite3_mem_methods base_mem;
static atomic_long sqlite_allocs; /* xMalloc + xRealloc calls so far */

static void *count_malloc(int n) {
  atomic_fetch_add(&sqlite_allocs, 1);
  return base_mem.xMalloc(n);
}

static void *count_realloc(void *p, int n) {
  atomic_fetch_add(&sqlite_allocs, 1);
  return base_mem.xRealloc(p, n);
}

typedef struct fixture {
  char *path;
  sqlite3 *db;
} fixture;

#define ROWS 200
#define ITERS 200

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  f->path = sqlt_tempdb();
  assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
  char sql[1024];
  snprintf(sql, sizeof sql,
           "PRAGMA journal_mode=WAL;"
           "CREATE VIRTUAL TABLE temp.t USING mvcc(k INTEGER PRIMARY KEY, "
           "  n INTEGER, v BLOB);"
           "CREATE TABLE nt(k INTEGER PRIMARY KEY, n INTEGER, v BLOB);"
           "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c "
           "  WHERE i < %d) INSERT INTO t SELECT i, i, randomblob(100) FROM c;"
           "INSERT INTO nt SELECT * FROM t;",
           ROWS - 1);
  char *err = NULL;
  if (sqlite3_exec(f->db, sql, NULL, NULL, &err) != SQLITE_OK)
    fail_msg("setup: %s", err);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  assert_int_equal(sqlite3_close(f->db), SQLITE_OK);
  sqlt_rmdb(f->path);
  free(f);
  return 0;
}

/* Runs sql (one parameter, ?1 = the iteration mod 100) ITERS times after a
** warm-up, and returns the allocator calls it made. */
static long allocs_of(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  long before = 0;
  for (int i = -20; i < ITERS; i++) {
    if (i == 0) before = atomic_load(&sqlite_allocs);
    sqlite3_bind_int(st, 1, (i + 20) % 100);
    int rc, rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) rows++;
    if (rc != SQLITE_DONE) fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_stmt_readonly(st) && rows == 0)
      fail_msg("%s: no rows", sql); /* the reads must find their rows */
    sqlite3_reset(st);
  }
  long n = atomic_load(&sqlite_allocs) - before;
  sqlite3_finalize(st);
  return n;
}

/* The same statement, with %s the table, on mvcc and on native. */
static void check_like_native(sqlite3 *db, const char *fmt) {
  char on_mvcc[512], on_native[512];
  snprintf(on_mvcc, sizeof on_mvcc, fmt, "t");
  snprintf(on_native, sizeof on_native, fmt, "nt");
  long m = allocs_of(db, on_mvcc), n = allocs_of(db, on_native);
  print_message("  %-64s mvcc %.2f native %.2f per statement\n", fmt,
                (double)m / ITERS, (double)n / ITERS);
  if (m > n + ITERS)
    fail_msg("%s: %ld of SQLite's allocations on mvcc, %ld on native, "
             "in %d statements",
             fmt, m, n, ITERS);
}

static const char *const statements[] = {
    "SELECT n FROM %s WHERE k = ?1",
    "SELECT n, v FROM %s WHERE k IN (?1, ?1 + 3, ?1 + 5, ?1 + 7, ?1 + 11)",
    "SELECT n FROM %s WHERE k BETWEEN ?1 AND ?1 + 49",
    "SELECT v FROM %s WHERE k >= ?1 ORDER BY k DESC LIMIT 20",
    "UPDATE %s SET n = n + 1 WHERE k = ?1",
    "UPDATE %s SET v = randomblob(120) WHERE k = ?1 + 1",
    "INSERT OR REPLACE INTO %s VALUES (1000 + ?1, ?1, x'00ff')",
    "DELETE FROM %s WHERE k = 1000 + ?1",
};

/* Autocommit statements: each is a transaction of its own. */
static void test_sqlmem_autocommit_statements(void **state) {
  fixture *f = *state;
  for (size_t i = 0; i < sizeof statements / sizeof *statements; i++)
    check_like_native(f->db, statements[i]);
}

/* The same inside one BEGIN ... COMMIT. */
static void test_sqlmem_statements_in_a_transaction(void **state) {
  fixture *f = *state;
  assert_int_equal(sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  for (size_t i = 0; i < sizeof statements / sizeof *statements; i++)
    check_like_native(f->db, statements[i]);
  assert_int_equal(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  /* Both tables went through the same changes. */
  sqlite3_stmt *st;
  assert_int_equal(
      sqlite3_prepare_v2(f->db,
                         "SELECT (SELECT count(*) || sum(n) || sum(length(v)) "
                         "FROM t) = (SELECT count(*) || sum(n) || "
                         "sum(length(v)) FROM nt)",
                         -1, &st, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
}

int main(void) {
  /* Before anything starts SQLite: the allocator cannot change later. */
  if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &base_mem) != SQLITE_OK)
    return 1;
  sqlite3_mem_methods counting = base_mem;
  counting.xMalloc = count_malloc;
  counting.xRealloc = count_realloc;
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, &counting) != SQLITE_OK) return 1;
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_sqlmem_autocommit_statements),
      T(test_sqlmem_statements_in_a_transaction),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
