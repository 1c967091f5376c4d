/*
** test_sqlreader.c — another process reads a live store (SQL level).
**
** A forked writer process runs a bank workload on two connections (two
** threads): each transfer moves an amount between two accounts and records
** itself in a table `done` (id, from, to, amount) in the same transaction,
** and once its COMMIT has returned the writer writes the transfer's id to a
** pipe.  This process opens the same database, so its connections read the
** store as a reader, and checks, on two reader connections in two threads:
**   - every transaction (BEGIN ... COMMIT, and autocommit statements) sees
**     the exact bank total, and balances that are exactly the initial ones
**     moved by the transfers it sees in `done`: whole commits only;
**   - it sees every transfer acknowledged on the pipe before it began;
**   - a transaction keeps its snapshot while other connections of this
**     process catch up past it (checked deterministically: it reads, then
**     waits for more acknowledgements, another connection sees them, and it
**     reads the same state again);
**   - writes, DDL and index functions fail with SQLITE_READONLY, "attempt to
**     write a readonly database", naming the writer's pid;
**   - once the writer has exited, a new connection writes the store, while
**     the reader connection stays a reader that sees those writes.
** Reports the snapshots checked and the transfers seen.  The writer runs
** this program again (exec, as `test_sqlreader --writer DB CTL ACK`), so it
** starts without this process's threads (ThreadSanitizer cannot follow a
** fork of a process with threads).
*/
#include "sqltest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define ACCOUNTS 8
#define INITIAL 1000
#define MAX_IDS 200000

/* ------------------------------------------------------------- helpers -- */

static sqlite3 *open_db(const char *path) {
  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) return NULL;
  sqlite3_busy_timeout(db, 5000);
  return db;
}

/* ------------------------------------------------------------- writer -- */

typedef struct wctx {
  const char *path;
  int ack;                  /* write end of the acknowledgement pipe */
  atomic_int stop;
  atomic_long next_id;
} wctx;

typedef struct wthread {
  wctx *w;
  unsigned seed;
} wthread;

/* One transfer, retried until it commits; returns its id, or -1 on a
** failure that is not a conflict. */
static long transfer(sqlite3 *db, wctx *w, unsigned *rs) {
  long id = atomic_fetch_add(&w->next_id, 1) + 1;
  int a = (int)(rand_r(rs) % ACCOUNTS) + 1, b = (int)(rand_r(rs) % ACCOUNTS) + 1;
  if (b == a) b = a % ACCOUNTS + 1;
  int x = (int)(rand_r(rs) % 50) + 1;
  char sql[512];
  snprintf(sql, sizeof sql,
           "BEGIN;"
           "UPDATE accounts SET balance = balance - %d WHERE id = %d;"
           "UPDATE accounts SET balance = balance + %d WHERE id = %d;"
           "INSERT INTO done VALUES (%ld, %d, %d, %d);"
           "COMMIT;",
           x, a, x, b, id, a, b, x);
  for (int attempt = 0; attempt < 1000; attempt++) {
    int rc = sqlt_exec(db, sql);
    if (rc == SQLITE_OK) return id;
    sqlt_exec(db, "ROLLBACK");
    if ((rc & 0xff) != SQLITE_BUSY) return -1;
  }
  return -1;
}

static void *writer_thread(void *arg) {
  wthread *wt = arg;
  wctx *w = wt->w;
  sqlite3 *db = open_db(w->path);
  if (!db) return (void *)1;
  unsigned rs = wt->seed;
  while (!atomic_load(&w->stop)) {
    long id = transfer(db, w, &rs);
    if (id < 0 || id >= MAX_IDS) break;
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", id);
    if (write(w->ack, line, (size_t)n) != n) break; /* atomic: < PIPE_BUF */
  }
  sqlite3_close(db);
  return NULL;
}

/* The writer process: sets up the bank, says "R", runs two transfer
** threads until its control pipe is closed. */
static void writer_main(const char *path, int ctl, int ack) {
  sqlite3 *db = open_db(path);
  if (!db) _exit(20);
  if (sqlt_exec(db, "CREATE VIRTUAL TABLE temp.accounts USING mvcc(id INTEGER "
               "PRIMARY KEY, balance INTEGER)") ||
      sqlt_exec(db, "CREATE VIRTUAL TABLE temp.done USING mvcc(id INTEGER "
               "PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER)"))
    _exit(21);
  for (int i = 1; i <= ACCOUNTS; i++) {
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO accounts VALUES (%d, %d)", i,
             INITIAL);
    if (sqlt_exec(db, sql)) _exit(22);
  }
  if (write(ack, "R\n", 2) != 2) _exit(23);
  wctx w = {.path = path, .ack = ack};
  pthread_t th[2];
  wthread wt[2] = {{&w, 7}, {&w, 8}};
  for (int i = 0; i < 2; i++)
    if (pthread_create(&th[i], NULL, writer_thread, &wt[i])) _exit(25);
  char c;
  while (read(ctl, &c, 1) > 0) {
  }
  atomic_store(&w.stop, 1);
  void *r0 = NULL, *r1 = NULL;
  pthread_join(th[0], &r0);
  pthread_join(th[1], &r1);
  sqlite3_close(db);
  _exit(r0 || r1 ? 24 : 0);
}

/* ------------------------------------------------------------- reader -- */

typedef struct rstate {
  int fd;                   /* read end of the acknowledgements */
  pthread_mutex_t mu;       /* acked, nacked, buf */
  unsigned char *acked;     /* acked[id]: its commit returned */
  long nacked;
  char buf[4096];
  size_t blen;
  bool ready;
  atomic_long snapshots, seen_max;
} rstate;

/* Reads the acknowledgements that are there (waits up to ms for the
** first); returns how many lines came.  Caller holds mu. */
static long drain(rstate *r, int ms) {
  long lines = 0;
  for (;;) {
    struct pollfd p = {r->fd, POLLIN, 0};
    if (poll(&p, 1, lines ? 0 : ms) <= 0) return lines;
    ssize_t n = read(r->fd, r->buf + r->blen, sizeof r->buf - 1 - r->blen);
    if (n <= 0) return lines;
    r->blen += (size_t)n;
    r->buf[r->blen] = 0;
    char *line = r->buf, *nl;
    while ((nl = strchr(line, '\n'))) {
      if (line[0] == 'R') {
        r->ready = true;
      } else {
        long id = atol(line);
        assert_true(id > 0 && id < MAX_IDS);
        if (!r->acked[id]) r->nacked++;
        r->acked[id] = 1;
      }
      lines++;
      line = nl + 1;
    }
    r->blen -= (size_t)(line - r->buf);
    memmove(r->buf, line, r->blen);
  }
}

/* What one transaction saw: balances and the transfers in `done`. */
typedef struct view {
  sqlite3_int64 bal[ACCOUNTS + 1];
  unsigned char *seen;      /* seen[id] */
  long nseen, maxid;
} view;

/* Reads v in one transaction (the caller's BEGIN ... COMMIT, whole: the
** balances must match the transfers seen) or, in autocommit mode, in two
** (each statement its own snapshot: only the total is checked). */
static void view_read(sqlite3 *db, view *v) {
  bool whole = sqlite3_get_autocommit(db) == 0;
  memset(v->bal, 0, sizeof v->bal);
  memset(v->seen, 0, MAX_IDS);
  v->nseen = v->maxid = 0;
  sqlite3_int64 moved[ACCOUNTS + 1] = {0};
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, balance FROM accounts",
                                      -1, &st, NULL),
                   SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    int id = sqlite3_column_int(st, 0);
    assert_true(id >= 1 && id <= ACCOUNTS);
    v->bal[id] = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, src, dst, amount FROM "
                                      "done", -1, &st, NULL),
                   SQLITE_OK);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    long id = (long)sqlite3_column_int64(st, 0);
    assert_true(id > 0 && id < MAX_IDS);
    v->seen[id] = 1;
    v->nseen++;
    if (id > v->maxid) v->maxid = id;
    int x = sqlite3_column_int(st, 3);
    moved[sqlite3_column_int(st, 1)] -= x;
    moved[sqlite3_column_int(st, 2)] += x;
  }
  assert_int_equal(rc, SQLITE_DONE);
  sqlite3_finalize(st);
  /* Whole commits only: each balance is the initial one moved by exactly
  ** the transfers this snapshot holds (so the total is exact too). */
  sqlite3_int64 total = 0;
  for (int i = 1; i <= ACCOUNTS; i++) {
    if (whole) assert_int_equal(v->bal[i], INITIAL + moved[i]);
    total += v->bal[i];
  }
  assert_int_equal(total, (sqlite3_int64)ACCOUNTS * INITIAL);
}

/* Every transfer acknowledged before the transaction began is in it. */
static void view_covers(const view *v, const unsigned char *acked) {
  for (long id = 1; id < MAX_IDS; id++)
    if (acked[id] && !v->seen[id]) fail_msg("transfer %ld returned before "
                                            "the transaction began but is "
                                            "not in its snapshot", id);
}

typedef struct rthread {
  rstate *r;
  const char *path;
  uint64_t until;
} rthread;

static void *reader_thread(void *arg) {
  rthread *rt = arg;
  rstate *r = rt->r;
  sqlite3 *db = open_db(rt->path);
  assert_non_null(db);
  view v = {.seen = malloc(MAX_IDS)};
  unsigned char *before = malloc(MAX_IDS);
  assert_true(v.seen && before);
  for (int round = 0; round < 4 || sqlt_now_ns() < rt->until; round++) {
    pthread_mutex_lock(&r->mu);
    drain(r, 0);
    memcpy(before, r->acked, MAX_IDS);
    pthread_mutex_unlock(&r->mu);
    bool explicit = round % 2 == 0;
    if (explicit) assert_int_equal(sqlt_exec(db, "BEGIN"), SQLITE_OK);
    view_read(db, &v);
    if (explicit) assert_int_equal(sqlt_exec(db, "COMMIT"), SQLITE_OK);
    view_covers(&v, before);
    atomic_fetch_add(&r->snapshots, 1);
    long m = atomic_load(&r->seen_max);
    while (v.maxid > m && !atomic_compare_exchange_weak(&r->seen_max, &m,
                                                          v.maxid)) {
    }
  }
  free(before);
  free(v.seen);
  sqlite3_close(db);
  return NULL;
}

/* Writes, DDL and index functions on the reader connection: refused. */
static void check_refusals(sqlite3 *db, pid_t writer) {
  char pid[48];
  snprintf(pid, sizeof pid, "written by process %ld", (long)writer);
  static const char *const writes[] = {
      "INSERT INTO accounts VALUES (99, 1)",
      "UPDATE accounts SET balance = 0",
      "DELETE FROM done",
      "CREATE VIRTUAL TABLE temp.other USING mvcc",
      "ALTER TABLE accounts RENAME TO acc",
      "SELECT mvcc_create_index('acc_balance', 'accounts', 'balance')",
      "SELECT mvcc_analyze('accounts')",
  };
  for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
    int rc = sqlt_exec(db, writes[i]);
    if (rc != SQLITE_READONLY || !strstr(sqlite3_errmsg(db), pid) ||
        !strstr(sqlite3_errmsg(db), "attempt to write a readonly database"))
      fail_msg("%s: %d %s (wanted SQLITE_READONLY naming %s)", writes[i],
               rc, sqlite3_errmsg(db), pid);
  }
  /* Inside BEGIN the write fails, the transaction goes on. */
  assert_int_equal(sqlt_exec(db, "BEGIN"), SQLITE_OK);
  assert_int_equal(sqlt_exec(db, "INSERT INTO accounts VALUES (99, 1)"),
                   SQLITE_READONLY);
  assert_int_equal(sqlt_one_int(db, "SELECT count(*) FROM accounts"), ACCOUNTS);
  assert_int_equal(sqlt_exec(db, "COMMIT"), SQLITE_OK);
  assert_int_equal(sqlt_exec(db, "DROP TABLE accounts"), SQLITE_READONLY);
  assert_int_equal(sqlt_one_int(db, "SELECT value FROM mvcc_stats WHERE name = "
                               "'writer_pid'"),
                   writer);
}

static void test_reader_bank_invariant_and_visibility(void **state) {
  (void)state;
  char *path = sqlt_tempdb();
  int ctl[2], ack[2];
  assert_int_equal(pipe(ctl), 0);
  assert_int_equal(pipe(ack), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(ctl[1]);
    close(ack[0]);
    char in[16], out[16];
    snprintf(in, sizeof in, "%d", ctl[0]);
    snprintf(out, sizeof out, "%d", ack[1]);
    execl("/proc/self/exe", "test_sqlreader", "--writer", path, in, out,
          (char *)NULL);
    _exit(9);
  }
  close(ctl[0]);
  close(ack[1]);
  rstate r = {.fd = ack[0]};
  pthread_mutex_init(&r.mu, NULL);
  r.acked = calloc(1, MAX_IDS);
  assert_non_null(r.acked);
  while (!r.ready) assert_true(drain(&r, 10000) > 0); /* the bank is set up */

  sqlite3 *db = open_db(path);
  assert_non_null(db);
  assert_int_equal(sqlt_one_int(db, "SELECT value FROM mvcc_stats WHERE name = "
                               "'reader'"),
                   1);
  check_refusals(db, pid);

  /* A transaction keeps its snapshot while another connection of this
  ** process catches up past it. */
  view v1 = {.seen = malloc(MAX_IDS)}, v2 = {.seen = malloc(MAX_IDS)};
  assert_true(v1.seen && v2.seen);
  sqlite3 *db2 = open_db(path);
  assert_non_null(db2);
  for (int round = 0; round < 3; round++) {
    assert_int_equal(sqlt_exec(db, "BEGIN"), SQLITE_OK);
    view_read(db, &v1);
    pthread_mutex_lock(&r.mu);
    /* Wait until at least 5 acknowledged transfers are not in v1 (v1 may
    ** hold some whose acknowledgement is still on its way). */
    while (r.nacked < v1.nseen + 5) assert_true(drain(&r, 10000) > 0);
    pthread_mutex_unlock(&r.mu);
    assert_int_equal(sqlt_exec(db2, "BEGIN"), SQLITE_OK);
    view_read(db2, &v2); /* caught up */
    assert_int_equal(sqlt_exec(db2, "COMMIT"), SQLITE_OK);
    view_covers(&v2, r.acked);
    assert_true(v2.nseen >= v1.nseen + 5);
    view_read(db, &v2); /* the first transaction again: unchanged */
    assert_int_equal(v2.nseen, v1.nseen);
    assert_memory_equal(v2.bal, v1.bal, sizeof v1.bal);
    assert_memory_equal(v2.seen, v1.seen, MAX_IDS);
    assert_int_equal(sqlt_exec(db, "COMMIT"), SQLITE_OK);
  }
  sqlite3_close(db2);

  /* Two reader connections in two threads against the running writer. */
  uint64_t until = sqlt_now_ns() + (uint64_t)(1.5e9 * sqlt_scale());
  rthread rt = {&r, path, until};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &rt), 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  /* The snapshots while the writer ran were at its closed timestamp (all
  ** of them, unless the machine was too loaded for the writer to tick
  ** within a second: reader.c). */
  sqlite3_int64 closed = sqlt_one_int(db, "SELECT value FROM mvcc_stats "
                                          "WHERE name = "
                                          "'reader_snapshots_closed'");
  sqlite3_int64 newest = sqlt_one_int(db, "SELECT value FROM mvcc_stats "
                                          "WHERE name = "
                                          "'reader_snapshots_newest'");
  printf("reader: %lld snapshots at a closed timestamp, %lld at the newest "
         "state\n", (long long)closed, (long long)newest);
  assert_true(closed > 0 && newest * 10 <= closed);

  /* The writer ends: a new connection writes; the reader connection stays
  ** a reader and sees what it writes. */
  close(ctl[1]);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  pthread_mutex_lock(&r.mu);
  drain(&r, 0);
  pthread_mutex_unlock(&r.mu);
  assert_int_equal(sqlt_exec(db, "BEGIN"), SQLITE_OK);
  view_read(db, &v1);
  assert_int_equal(sqlt_exec(db, "COMMIT"), SQLITE_OK);
  view_covers(&v1, r.acked);
  assert_int_equal(v1.nseen, r.nacked); /* every transfer that committed */
  sqlite3 *w = open_db(path);
  assert_non_null(w);
  assert_int_equal(sqlt_one_int(w, "SELECT value FROM mvcc_stats WHERE name = "
                              "'reader'"),
                   0);
  assert_int_equal(sqlt_exec(w, "UPDATE accounts SET balance = balance - 1 WHERE "
                           "id = 1; UPDATE accounts SET balance = balance + 1 "
                           "WHERE id = 2; INSERT INTO done VALUES (199999, 1, "
                           "2, 1)"),
                   SQLITE_OK);
  assert_int_equal(sqlt_exec(db, "BEGIN"), SQLITE_OK);
  view_read(db, &v2);
  assert_int_equal(sqlt_exec(db, "COMMIT"), SQLITE_OK);
  assert_int_equal(v2.nseen, v1.nseen + 1);
  int rc = sqlt_exec(db, "INSERT INTO accounts VALUES (99, 1)");
  assert_int_equal(rc, SQLITE_READONLY);
  assert_non_null(strstr(sqlite3_errmsg(db), "a new connection writes it"));
  sqlite3_close(w);
  sqlite3_close(db);

  print_message("reader: %ld snapshots checked by 2 reader connections, "
                "%ld transfers acknowledged, newest seen %ld\n",
                atomic_load(&r.snapshots), r.nacked, atomic_load(&r.seen_max));
  assert_true(atomic_load(&r.snapshots) > 0);
  free(v1.seen);
  free(v2.seen);
  free(r.acked);
  close(ack[0]);
  pthread_mutex_destroy(&r.mu);
  sqlt_rmdb(path);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 5 && !strcmp(argv[1], "--writer")) {
    sqlite3_auto_extension((void (*)(void))sqlite3_mvcc_init);
    writer_main(argv[2], atoi(argv[3]), atoi(argv[4]));
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reader_bank_invariant_and_visibility),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
