/*
** test_sqlindex.c — indexes stay equal to their tables.
**
** mvcc_check(table) is the oracle: it compares every row with its entry in
** each unique index and each index's entry count with the row count.  The
** first tests show it finds a missing and an extra entry (made by writing
** the store underneath SQLite, through kvcore on the same store, which a
** process shares).  The crash test kills a child process that commits
** INSERT OR REPLACE / UPDATE / DELETE on a table with two UNIQUE
** constraints (acknowledging each COMMIT on a pipe) at a random moment,
** several times (the table also has an index created with
** mvcc_create_index); after each kill the reopened table passes mvcc_check
** and holds every acknowledged transaction.  A process killed while it
** builds an index (held up by a transaction of its own, while other writes
** already maintain the new index) leaves nothing of it after a restart.
** Commits keep the row count of the table's statistics.
*/
#include "sqltest.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "kvcore.h"

static char *check(sqlite3 *db, const char *table) {
  char *sql = sqlite3_mprintf("SELECT mvcc_check(%Q)", table);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  sqlite3_free(sql);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  char *r = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return r;
}

static void exec_ok(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    print_error("%s: %s\n", sql, err ? err : "?");
    fail();
  }
}

/* The first index entry of the store's first table (key copied to out). */
static size_t first_index_entry(kv_store *s, unsigned char *out, size_t cap) {
  kv_txn *t;
  assert_int_equal(kv_txn_begin(s, NULL, &t, NULL), KV_OK);
  kv_iter *it;
  static const unsigned char lo[1] = {0x01}, hi[1] = {0x02};
  assert_int_equal(kv_txn_scan(t, lo, 1, hi, 1, 0, 0, &it, NULL), KV_OK);
  size_t n = 0;
  while (kv_iter_next(it, NULL) == KV_OK) {
    size_t kl;
    const unsigned char *k = kv_iter_key(it, &kl);
    if (kl > 10 && k[9] == 0xF8 && kl <= cap) {
      memcpy(out, k, kl);
      n = kl;
      break;
    }
  }
  kv_iter_close(it);
  kv_txn_abort(t);
  return n;
}

static void store_write(kv_store *s, const unsigned char *k, size_t kl,
                        const void *v, size_t vl, bool del) {
  kv_txn *t;
  assert_int_equal(kv_txn_begin(s, NULL, &t, NULL), KV_OK);
  if (del) assert_int_equal(kv_txn_delete(t, k, kl, NULL), KV_OK);
  else assert_int_equal(kv_txn_put(t, k, kl, v, vl, NULL), KV_OK);
  assert_int_equal(kv_txn_commit(t, NULL, NULL), KV_OK);
}

static void test_sqlindex_check_finds_missing_and_extra_entries(void **state) {
  (void)state;
  char *path = sqlt_tempdb();
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  exec_ok(db, "CREATE VIRTUAL TABLE temp.u USING mvcc(id INTEGER PRIMARY KEY, "
              "email TEXT UNIQUE, n INT)");
  exec_ok(db, "INSERT INTO u VALUES (1, 'a', 1), (2, 'b', 2), (3, NULL, 3)");
  char *r = check(db, "u");
  assert_string_equal(r, "ok");
  free(r);

  char store[512];
  snprintf(store, sizeof store, "%s-mvcc", path);
  kv_store *s;
  assert_int_equal(kv_store_open(store, NULL, &s, NULL), KV_OK);
  unsigned char k[256];
  size_t kl = first_index_entry(s, k, sizeof k);
  assert_true(kl > 0);
  const void *v;
  size_t vl;
  kv_txn *t;
  assert_int_equal(kv_txn_begin(s, NULL, &t, NULL), KV_OK);
  assert_int_equal(kv_txn_get(t, k, kl, 0, &v, &vl, NULL), KV_OK);
  unsigned char val[64];
  assert_true(vl <= sizeof val);
  memcpy(val, v, vl);
  kv_txn_abort(t);

  store_write(s, k, kl, NULL, 0, true); /* an entry goes missing */
  r = check(db, "u");
  assert_non_null(strstr(r, "is missing"));
  assert_non_null(strstr(r, "has 2 entries for 3 rows"));
  free(r);

  store_write(s, k, kl, val, vl, false); /* back, and one more */
  k[kl] = 0x00;
  store_write(s, k, kl + 1, val, vl, false);
  r = check(db, "u");
  assert_null(strstr(r, "missing"));
  assert_non_null(strstr(r, "has 4 entries for 3 rows"));
  free(r);
  store_write(s, k, kl + 1, NULL, 0, true);
  r = check(db, "u");
  assert_string_equal(r, "ok");
  free(r);
  /* An entry whose copy of the row's values (what covering reads return)
  ** differs from the row. */
  val[vl - 1] ^= 0x01;
  store_write(s, k, kl, val, vl, false);
  r = check(db, "u");
  assert_non_null(strstr(r, "is stale"));
  free(r);
  val[vl - 1] ^= 0x01;
  store_write(s, k, kl, val, vl, false);
  r = check(db, "u");
  assert_string_equal(r, "ok");
  free(r);
  kv_store_close(s);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  sqlt_rmdb(path);
}

/* ------------------------------------------------------------- crash -- */

enum { CRASH_IDS = 60, CRASH_EMAILS = 23 };

/* One transaction i: a log row (so every acknowledged one can be found)
** and writes that move UNIQUE values around: an upsert that may replace
** rows by key or by email, an update that may collide (ignored), and a
** delete. */
static void crash_txn(sqlite3 *db, long i) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "BEGIN;"
           "INSERT INTO log VALUES (%ld);"
           "INSERT OR REPLACE INTO u VALUES (%ld, 'e%ld', %ld, 'x%ld');"
           "UPDATE OR IGNORE u SET email = 'e%ld' WHERE id = %ld;"
           "DELETE FROM u WHERE id = %ld;"
           "COMMIT;",
           i, i % CRASH_IDS, (i * 7) % CRASH_EMAILS, i, i % 5,
           (i * 3) % CRASH_EMAILS, (i * 11) % CRASH_IDS, (i * 13 + 5) % CRASH_IDS);
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) _exit(20);
}

static void run_child(const char *path, int fd) {
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) _exit(21);
  sqlite3_exec(db, "SELECT 1 FROM u LIMIT 1", NULL, NULL, NULL);
  long i = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT coalesce(max(i), -1) + 1 FROM log", -1,
                         &st, NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW)
    _exit(22);
  i = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  for (;; i++) {
    crash_txn(db, i);
    char ack[32];
    int n = snprintf(ack, sizeof ack, "%ld\n", i);
    if (write(fd, ack, (size_t)n) != n) _exit(23);
  }
}

/* Forks a child that runs fn(path, write end of a pipe) and never
** returns; *fd is the read end. */
static pid_t spawn(void (*fn)(const char *, int), const char *path, int *fd) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    fn(path, fds[1]);
    _exit(0);
  }
  close(fds[1]);
  *fd = fds[0];
  return pid;
}

/* Reads acknowledgements for ms milliseconds; returns the highest. */
static long read_acks(int fd, int ms, long max_ack) {
  char buf[4096];
  size_t blen = 0;
  uint64_t deadline = sqlt_now_ns() + (uint64_t)ms * 1000000ULL;
  for (;;) {
    uint64_t now = sqlt_now_ns();
    if (now >= deadline) return max_ack;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, (int)((deadline - now) / 1000000ULL) + 1) <= 0) continue;
    ssize_t n = read(fd, buf + blen, sizeof buf - 1 - blen);
    if (n <= 0) return max_ack;
    blen += (size_t)n;
    buf[blen] = 0;
    char *line = buf, *nl;
    while ((nl = strchr(line, '\n'))) {
      long i = atol(line);
      if (i > max_ack) max_ack = i;
      line = nl + 1;
    }
    blen -= (size_t)(line - buf);
    memmove(buf, line, blen);
  }
}

static void test_sqlindex_indexes_survive_a_crash(void **state) {
  (void)state;
  char *path = sqlt_tempdb();
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  exec_ok(db, "CREATE VIRTUAL TABLE temp.u USING mvcc(id INTEGER PRIMARY KEY, "
              "email TEXT UNIQUE, n INT, tag TEXT, UNIQUE(tag, n))");
  exec_ok(db, "CREATE VIRTUAL TABLE temp.log USING mvcc(i INTEGER PRIMARY KEY)");
  exec_ok(db, "SELECT mvcc_create_index('u_tag', 'u', 'tag, n DESC')");
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  int rounds = 4;
  long max_ack = -1;
  srand(20261207);
  for (int round = 0; round < rounds; round++) {
    int fd;
    pid_t pid = spawn(run_child, path, &fd);
    /* Let it commit for a while, then kill it mid-flight. */
    max_ack = read_acks(fd, 150 + rand() % 250, max_ack);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    max_ack = read_acks(fd, 0, max_ack); /* what was acknowledged */
    close(fd);
    assert_true(WIFSIGNALED(status));

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *r = check(db, "u");
    if (strcmp(r, "ok") != 0) {
      print_error("round %d: %s\n", round, r);
      fail();
    }
    free(r);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), max(i) FROM log",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long count = sqlite3_column_int64(st, 0), max = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    /* Every acknowledged transaction is there, and no gap before it. */
    assert_true(max >= max_ack);
    assert_int_equal(count, max + 1);
    print_message("    round %d: %ld transactions, last acknowledged %ld\n",
                  round, count, max_ack);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
  }
  assert_true(max_ack > 0);
  sqlt_rmdb(path);
}

/* ------------------------------------------------------ row counts -- */

/* The rows of the table's statistics record in the store (index.c's
** format: 0x02, rows as 8 bytes BE, ...), or -1. */
static long stats_rows(const char *path) {
  char store[512];
  snprintf(store, sizeof store, "%s-mvcc", path);
  kv_store *s;
  assert_int_equal(kv_store_open(store, NULL, &s, NULL), KV_OK);
  kv_txn *t;
  assert_int_equal(kv_txn_begin(s, NULL, &t, NULL), KV_OK);
  static const unsigned char lo[2] = {0x00, 'S'}, hi[2] = {0x00, 'T'};
  kv_iter *it;
  assert_int_equal(kv_txn_scan(t, lo, 2, hi, 2, 0, 1, &it, NULL), KV_OK);
  long rows = -1;
  if (kv_iter_next(it, NULL) == KV_OK) {
    size_t vl;
    const unsigned char *v = kv_iter_value(it, &vl);
    assert_true(vl >= 9 && v[0] == 0x02);
    rows = 0;
    for (int i = 1; i < 9; i++) rows = rows << 8 | v[i];
  }
  kv_iter_close(it);
  kv_txn_abort(t);
  kv_store_close(s);
  return rows;
}

/* Commits keep the table's row count: a new table's record says 0 rows,
** and the count is written back once it drifts by 1000 rows and an eighth;
** smaller changes stay in the store's tally until then. */
static void test_sqlindex_row_counts_follow_commits(void **state) {
  (void)state;
  char *path = sqlt_tempdb();
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  exec_ok(db, "CREATE VIRTUAL TABLE temp.r USING mvcc(id INTEGER PRIMARY KEY, "
              "v TEXT)");
  assert_int_equal(stats_rows(path), 0);
  exec_ok(db, "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c "
              "WHERE i < 4999) INSERT INTO r SELECT i, 'v' || i FROM c");
  assert_int_equal(stats_rows(path), 5000);
  exec_ok(db, "DELETE FROM r WHERE id < 100"); /* within the drift */
  assert_int_equal(stats_rows(path), 5000);
  exec_ok(db, "BEGIN; DELETE FROM r WHERE id < 2000; INSERT OR REPLACE INTO r "
              "VALUES (4999, 'again'), (6000, 'new'); COMMIT");
  assert_int_equal(stats_rows(path), 3001); /* -100 -1900 +1 */
  exec_ok(db, "BEGIN; DELETE FROM r WHERE id >= 2000; ROLLBACK");
  assert_int_equal(stats_rows(path), 3001); /* rolled back: no change */
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  sqlt_rmdb(path);
}

/* ------------------------------------------------- a build killed -- */

typedef struct build_arg {
  const char *path;
} build_arg;

static void *build_main(void *arg) {
  build_arg *b = arg;
  sqlite3 *db;
  sqlite3_open(b->path, &db);
  /* Waits for the child's open transaction, until it is killed. */
  sqlite3_exec(db, "SELECT mvcc_create_index('big_v', 'big', 'v')", NULL, NULL,
               NULL);
  _exit(30); /* never reached before the kill */
}

static void build_child(const char *path, int fd) {
  sqlite3 *holder, *w;
  if (sqlite3_open(path, &holder) || sqlite3_open(path, &w)) _exit(31);
  if (sqlite3_exec(holder, "BEGIN; INSERT INTO big VALUES (-1, 'held')", NULL,
                   NULL, NULL))
    _exit(32);
  build_arg b = {path};
  pthread_t th;
  pthread_create(&th, NULL, build_main, &b);
  /* Once the index is building, writes maintain it: commit some. */
  for (int tries = 0;; tries++) {
    sqlite3_stmt *st;
    int building = 0;
    if (sqlite3_prepare_v2(w, "SELECT count(*) FROM mvcc_indexes WHERE state "
                           "= 'building'", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      building = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (building) break;
    if (tries > 5000) _exit(33);
    usleep(1000);
  }
  for (int i = 0; i < 50; i++) {
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO big VALUES (%d, 'w%d')", 100000 + i,
             i % 7);
    if (sqlite3_exec(w, sql, NULL, NULL, NULL)) _exit(34);
  }
  if (write(fd, "go\n", 3) != 3) _exit(35);
  for (;;) pause();
}

static void test_sqlindex_build_killed_midway_leaves_nothing(void **state) {
  (void)state;
  char *path = sqlt_tempdb();
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  exec_ok(db, "CREATE VIRTUAL TABLE temp.big USING mvcc(id INTEGER PRIMARY "
              "KEY, v TEXT)");
  exec_ok(db, "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c "
              "WHERE i < 999) INSERT INTO big SELECT i, 'v' || (i % 10) FROM c");
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  int fd;
  pid_t pid = spawn(build_child, path, &fd);
  char buf[8] = {0};
  assert_int_equal(read(fd, buf, 3), 3); /* building, with entries */
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  close(fd);
  assert_true(WIFSIGNALED(status));

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM mvcc_indexes",
                                      -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 0); /* the orphan is gone */
  sqlite3_finalize(st);
  char *r = check(db, "big");
  assert_string_equal(r, "ok");
  free(r);
  /* Its entries went with it: the store holds the table's rows only. */
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM big", -1, &st,
                                      NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 1050);
  sqlite3_finalize(st);
  /* The name is free, and the index builds. */
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT mvcc_create_index('big_v', "
                                      "'big', 'v')", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 1050);
  sqlite3_finalize(st);
  r = check(db, "big");
  assert_string_equal(r, "ok");
  free(r);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  sqlt_rmdb(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sqlindex_check_finds_missing_and_extra_entries),
      cmocka_unit_test(test_sqlindex_indexes_survive_a_crash),
      cmocka_unit_test(test_sqlindex_build_killed_midway_leaves_nothing),
      cmocka_unit_test(test_sqlindex_row_counts_follow_commits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
