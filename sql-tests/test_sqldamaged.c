/*
** test_sqldamaged.c — a damaged default store as a C program using
** sqlite3_auto_extension() sees it.
**
** A default store that is there but does not open (its CURRENT file gone)
** and a store with a catalog entry that does not decode (written here
** through kvcore, behind the extension's back) both make sqlite3_open()
** fail with the store's message, "automatic extension loading failed:
** ...", naming the damage (the missing file; the table whose entry is
** bad): no program runs on with the store's tables silently missing.  The
** database's native tables stay reachable by opening it without the
** extension, and nothing in the store is changed by the failed opens.
** (The shell's view of the same, .load failing, is sql-tests/cases/079-*.)
*/
#include "sqltest.h"

#include "kvcore.h"

/* A database with a native table nat (one row) and, in its default store,
** mvcc tables t and u (one row each); every connection closed. */
static char *make_db(void) {
  char *path = sqlt_tempdb(); /* registers the auto extension */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "CREATE TABLE nat(x); INSERT INTO nat VALUES (42);"
                   "CREATE VIRTUAL TABLE temp.t USING mvcc(k PRIMARY KEY, v);"
                   "CREATE VIRTUAL TABLE temp.u USING mvcc(k PRIMARY KEY, v);"
                   "INSERT INTO t VALUES (1, 'one');"
                   "INSERT INTO u VALUES (2, 'two');",
                   NULL, NULL, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  return path;
}

/* sqlite3_open(path) with the auto extension; returns its rc and copies
** the connection's message to msg. */
static int open_rc(const char *path, char *msg, size_t cap) {
  sqlite3 *db = NULL;
  int rc = sqlite3_open(path, &db);
  snprintf(msg, cap, "%s", db ? sqlite3_errmsg(db) : "");
  sqlite3_close(db);
  return rc;
}

/* The native table, read with the extension not loaded. */
static void native_still_reads(const char *path) {
  sqlite3_cancel_auto_extension((void (*)(void))sqlite3_mvcc_init);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT x FROM nat", -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 42);
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  sqlite3_auto_extension((void (*)(void))sqlite3_mvcc_init);
}

static void test_sqldamaged_missing_current_fails_open(void **state) {
  (void)state;
  char *path = make_db();
  char f[600], msg[1024];
  snprintf(f, sizeof f, "%s-mvcc/CURRENT", path);
  assert_int_equal(unlink(f), 0);
  assert_int_not_equal(open_rc(path, msg, sizeof msg), SQLITE_OK);
  assert_non_null(strstr(msg, "automatic extension loading failed"));
  assert_non_null(strstr(msg, "is damaged: its CURRENT file"));
  assert_non_null(strstr(msg, "its tables are not declared"));
  assert_int_not_equal(access(f, F_OK), 0); /* nothing made over it */
  native_still_reads(path);
  sqlt_rmdb(path);
}

static void test_sqldamaged_bad_catalog_entry_fails_open(void **state) {
  (void)state;
  char *path = make_db();
  char dir[600], msg[1024];
  snprintf(dir, sizeof dir, "%s-mvcc", path);
  /* u's catalog entry (key 0x00 'C' "u") replaced by bytes that do not
  ** decode: a format byte of 0x7f. */
  kv_store *s = NULL;
  char *err = NULL;
  assert_int_equal(kv_store_open(dir, NULL, &s, &err), KV_OK);
  kv_txn *t = NULL;
  assert_int_equal(kv_txn_begin(s, NULL, &t, &err), KV_OK);
  static const char key[3] = {0x00, 'C', 'u'}, bad[4] = {0x7f, 1, 2, 3};
  assert_int_equal(kv_txn_put(t, key, sizeof key, bad, sizeof bad, &err),
                   KV_OK);
  assert_int_equal(kv_txn_commit(t, NULL, &err), KV_OK);
  kv_store_close(s);
  assert_int_not_equal(open_rc(path, msg, sizeof msg), SQLITE_OK);
  assert_non_null(strstr(msg, "automatic extension loading failed"));
  assert_non_null(strstr(msg, "the catalog entry of table u"));
  assert_non_null(strstr(msg, "is corrupt"));
  /* The failed opens changed nothing: t's row and u's bad entry are
  ** there as they were. */
  assert_int_equal(kv_store_open(dir, NULL, &s, &err), KV_OK);
  assert_int_equal(kv_txn_begin(s, NULL, &t, &err), KV_OK);
  const void *v;
  size_t n;
  assert_int_equal(kv_txn_get(t, key, sizeof key, 0, &v, &n, &err), KV_OK);
  assert_int_equal(n, sizeof bad);
  assert_memory_equal(v, bad, n);
  kv_txn_abort(t);
  kv_store_close(s);
  native_still_reads(path);
  sqlt_rmdb(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sqldamaged_missing_current_fails_open),
      cmocka_unit_test(test_sqldamaged_bad_catalog_entry_fails_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
