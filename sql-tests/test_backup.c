/*
** test_backup.c — online backup over SQL (ext/backup.c): backups taken
** with `SELECT mvcc_backup(DIR)` while connections on other threads run a
** bank workload each open, as "<copy>.db" (VACUUM INTO) beside
** "<copy>.db-mvcc", in a new connection, with the exact total and the
** right number of accounts.
**
** The workload: transfers between two accounts, and moves of an account
** to a new id (insert the new row, delete the old, in one transaction), so
** a copy with part of a transaction would show a wrong total or a wrong
** number of accounts.  Backups are taken one after another while it runs
** (each after the writers committed more), and each copy is checked while
** the writers keep going.  Prints the backups' sizes, times and whether
** their table files are hard links.
*/
#include "sqltest.h"

#include "../unit-tests/dirusage.h"
#include <stdatomic.h>
#include <sys/stat.h>

enum { BK_WRITERS = 4, BK_ACCOUNTS = 16, BK_INITIAL = 1000 };

typedef struct bk_writer {
  const char *db;
  int id;
  _Atomic bool *stop;
  _Atomic long *commits;
  long transfers, moves, retries, errors;
  char err[256];
  pthread_t th;
} bk_writer;

static unsigned bk_rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 16) & 0x7fff;
}

/* One transaction of the workload; its SQLite code. */
static int bk_txn(sqlite3 *db, bk_writer *w, unsigned *seed, long *moved) {
  char sql[512];
  int a = (int)(bk_rnd(seed) % BK_ACCOUNTS), b = (int)(bk_rnd(seed) % BK_ACCOUNTS);
  if (bk_rnd(seed) % 8 == 0) {
    /* Move the a-th account (in id order) to a new id of this thread's. */
    long nid = 1000000L * (w->id + 1) + (*moved + 1);
    snprintf(sql, sizeof sql,
             "BEGIN;"
             "INSERT INTO acct SELECT %ld, bal FROM acct ORDER BY id "
             "LIMIT 1 OFFSET %d;"
             "DELETE FROM acct WHERE id = (SELECT id FROM acct WHERE id <> "
             "%ld ORDER BY id LIMIT 1 OFFSET %d);",
             nid, a, nid, a);
  } else {
    int x = (int)(bk_rnd(seed) % 20);
    snprintf(sql, sizeof sql,
             "BEGIN;"
             "UPDATE acct SET bal = bal - %d WHERE id = (SELECT id FROM acct "
             "ORDER BY id LIMIT 1 OFFSET %d);"
             "UPDATE acct SET bal = bal + %d WHERE id = (SELECT id FROM acct "
             "ORDER BY id LIMIT 1 OFFSET %d);",
             x, a, x, b);
  }
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &err);
  if (rc != SQLITE_OK) {
    snprintf(w->err, sizeof w->err, "%s", err ? err : "");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  } else if (strstr(sql, "INSERT")) {
    (*moved)++;
  }
  sqlite3_free(err);
  return rc;
}

static void *bk_writer_main(void *arg) {
  bk_writer *w = arg;
  sqlite3 *db = NULL;
  if (sqlite3_open(w->db, &db) != SQLITE_OK) {
    w->errors++;
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 5000);
  unsigned seed = 7919u * (unsigned)w->id + 11;
  long moved = 0;
  while (!atomic_load(w->stop)) {
    long before = moved;
    int rc = bk_txn(db, w, &seed, &moved);
    if (rc == SQLITE_OK) {
      if (moved > before) w->moves++;
      else w->transfers++;
      atomic_fetch_add(w->commits, 1);
    } else if ((rc & 0xff) == SQLITE_BUSY) {
      w->retries++;
    } else {
      w->errors++;
      break;
    }
  }
  sqlite3_close(db);
  return NULL;
}

/* Runs a one-row query on db; returns its first column as text in out. */
static int bk_query(sqlite3 *db, const char *sql, char *out, size_t n) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  out[0] = 0;
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(out, n, "%s", t ? (const char *)t : "NULL");
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK) snprintf(out, n, "%s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc;
}

/* Opens the copy in a new connection and checks the bank there. */
static void bk_check_copy(const char *copydb) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(copydb, &db), SQLITE_OK);
  char got[256], want[64];
  assert_int_equal(bk_query(db, "SELECT sum(bal) || '|' || count(*) FROM acct",
                            got, sizeof got),
                   SQLITE_OK);
  snprintf(want, sizeof want, "%d|%d", BK_ACCOUNTS * BK_INITIAL, BK_ACCOUNTS);
  if (strcmp(got, want) != 0) {
    print_error("copy %s: total|accounts %s, wanted %s\n", copydb, got, want);
    fail();
  }
  /* The native table written before the backup came with VACUUM INTO. */
  assert_int_equal(bk_query(db, "SELECT v FROM native", got, sizeof got),
                   SQLITE_OK);
  assert_string_equal(got, "main file");
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_backup_under_bank_workload(void **state) {
  (void)state;
  char *path = sqlt_tempdb();
  char dir[256];
  snprintf(dir, sizeof dir, "%s", path);
  *strrchr(dir, '/') = 0;
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "CREATE TABLE main.native(v);"
                   "INSERT INTO native VALUES ('main file');"
                   "CREATE VIRTUAL TABLE temp.acct USING mvcc(id INTEGER "
                   "PRIMARY KEY, bal INTEGER);",
                   NULL, NULL, NULL),
      SQLITE_OK);
  for (int i = 0; i < BK_ACCOUNTS; i++) {
    char sql[80];
    snprintf(sql, sizeof sql, "INSERT INTO acct VALUES (%d, %d)", i,
             BK_INITIAL);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  }

  _Atomic bool stop = false;
  _Atomic long commits = 0;
  bk_writer w[BK_WRITERS];
  for (int i = 0; i < BK_WRITERS; i++) {
    w[i] = (bk_writer){.db = path, .id = i, .stop = &stop,
                       .commits = &commits};
    assert_int_equal(pthread_create(&w[i].th, NULL, bk_writer_main, &w[i]),
                     0);
  }
  int backups = (int)(12 * sqlt_scale());
  if (backups < 2) backups = 2;
  char last_ts[64] = "";
  uint64_t ns_total = 0, ns_max = 0;
  long long bytes = 0;
  int tables = 0, linked = 0;
  for (int b = 0; b < backups; b++) {
    /* Each backup after the writers committed more: an event, not a
    ** sleep (the poll only paces). */
    long seen = atomic_load(&commits);
    while (atomic_load(&commits) < seen + 50) usleep(500);
    char copydb[512], sql[600], ts[64];
    snprintf(copydb, sizeof copydb, "%s/copy-%d.db", dir, b);
    snprintf(sql, sizeof sql, "VACUUM INTO '%s'", copydb);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    snprintf(sql, sizeof sql, "SELECT mvcc_backup('%s-mvcc')", copydb);
    uint64_t t0 = sqlt_now_ns();
    int rc = bk_query(db, sql, ts, sizeof ts);
    uint64_t ns = sqlt_now_ns() - t0;
    if (rc != SQLITE_OK) {
      print_error("%s: %s\n", sql, ts);
      fail();
    }
    ns_total += ns;
    if (ns > ns_max) ns_max = ns;
    assert_true(strcmp(ts, last_ts) > 0); /* timestamps rise */
    snprintf(last_ts, sizeof last_ts, "%s", ts);
    char mdir[600];
    snprintf(mdir, sizeof mdir, "%s-mvcc", copydb);
    long long by;
    int tb, lk;
    assert_int_equal(dir_usage(mdir, &by, &tb, &lk), 0);
    bytes += by;
    tables += tb;
    linked += lk;
    bk_check_copy(copydb); /* while the writers keep going */
  }
  atomic_store(&stop, true);
  long transfers = 0, moves = 0, retries = 0;
  for (int i = 0; i < BK_WRITERS; i++) {
    pthread_join(w[i].th, NULL);
    if (w[i].errors) print_error("writer %d: %s\n", i, w[i].err);
    assert_int_equal(w[i].errors, 0);
    transfers += w[i].transfers;
    moves += w[i].moves;
    retries += w[i].retries;
  }
  assert_true(moves > 0);
  char got[256], want[64];
  assert_int_equal(bk_query(db, "SELECT sum(bal) || '|' || count(*) FROM acct",
                            got, sizeof got),
                   SQLITE_OK);
  snprintf(want, sizeof want, "%d|%d", BK_ACCOUNTS * BK_INITIAL, BK_ACCOUNTS);
  assert_string_equal(got, want);
  assert_true(tables > 0);
  print_message("    backup: %d backups under %d writers (%ld transfers, %ld "
                "moves, %ld retries): mvcc_backup mean %.1f ms, max %.1f "
                "ms; %lld bytes per copy on average; %d of %d table files "
                "hard links\n",
                backups, BK_WRITERS, transfers, moves, retries,
                ns_total / 1e6 / backups, ns_max / 1e6, bytes / backups,
                linked, tables);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  sqlt_rmdb(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backup_under_bank_workload),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
