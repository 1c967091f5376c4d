/*
** test_sqlconc.c — concurrency through SQL: many connections (one thread
** each) on one database file, checked by invariants and by the history
** checker, never by timing.
**
**   - two connections' write transactions overlap on one file and both
**     commit: SQLite's own file lock is never taken for mvcc tables;
**   - read-only transactions: a snapshot held across other commits, a fresh
**     one after COMMIT, the same for a transaction that reads then writes,
**     and ROLLBACK ending a read-only transaction;
**   - autocommit read-modify-writes from 4 threads never lose an update and
**     never fail;
**   - a deadlock between two connections: one restarts, promptly; the busy
**     timeout bounds lock waits; a dead transaction fails every statement
**     until it ends, and its COMMIT rolls back;
**   - 8 threads of bank transfers with scans (every committed scan sums to
**     the total) and a list-append history (checked for cycles);
**   - hot keys: a retry, and a transaction that asked with
**     mvcc_lock_reads(1), lock the rows they read (another connection's
**     UPDATE waits), a first attempt does not; 8 threads of
**     read-modify-writes on 5 rows lose no update, and no retry fails on
**     the rows it read (only a deadlock can fail one);
**   - another process opening the store reads it and its writes are
**     refused naming this process; its native tables keep working;
**   - a bulk load still finds a row another connection committed into the
**     range it had found empty;
**   - indexes built online while 4 threads write the table equal it;
**   - a store-wide option given at once by 8 connections, with two
**     values: the first to give one decides, the others are refused.
*/
#include "sqltest.h"

#include "kvcore.h"


#include "histcheck.h"

typedef struct fixture {
  char *db;
  sqlt_conn *a, *b, *obs;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  f->db = sqlt_tempdb();
  f->obs = sqlt_open(f->db);
  SQLT_OK(f->obs, "CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY "
                  "KEY, n INTEGER); INSERT INTO t VALUES (1, 0), (2, 0)");
  f->a = sqlt_open(f->db);
  f->b = sqlt_open(f->db);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  sqlt_close(f->a);
  sqlt_close(f->b);
  sqlt_close(f->obs);
  sqlt_rmdb(f->db);
  free(f);
  return 0;
}

static void test_sqlconc_writers_do_not_share_the_file_lock(void **state) {
  fixture *f = *state;
  SQLT_OK(f->a, "BEGIN; INSERT INTO t VALUES (10, 1)");
  SQLT_OK(f->b, "BEGIN; INSERT INTO t VALUES (20, 2)"); /* no SQLITE_BUSY */
  SQLT_OK(f->a, "UPDATE t SET n = 5 WHERE id = 1");
  SQLT_OK(f->b, "UPDATE t SET n = 6 WHERE id = 2");
  SQLT_OK(f->a, "COMMIT");
  SQLT_OK(f->b, "COMMIT");
  SQLT_ROWS(f->obs, "SELECT * FROM t", "1|5\n2|6\n10|1\n20|2\n");
}

static void test_sqlconc_readonly_snapshot_and_fresh_after_commit(void **state) {
  fixture *f = *state;
  /* (a) BEGIN; SELECT keeps its snapshot across another commit. */
  SQLT_OK(f->a, "BEGIN");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 1", "0\n");
  SQLT_OK(f->b, "UPDATE t SET n = 1 WHERE id = 1");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 1", "0\n");
  SQLT_OK(f->a, "COMMIT");
  /* (b) the next transaction sees it: no stale snapshot carried over. */
  SQLT_OK(f->a, "BEGIN");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 1", "1\n");
  SQLT_OK(f->a, "COMMIT");
  /* (c) the same for a transaction that reads, then writes. */
  SQLT_OK(f->a, "BEGIN");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 1", "1\n");
  SQLT_OK(f->b, "UPDATE t SET n = 2 WHERE id = 1");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 1", "1\n");
  SQLT_OK(f->a, "UPDATE t SET n = 7 WHERE id = 2");
  SQLT_OK(f->a, "COMMIT");
  SQLT_OK(f->a, "BEGIN");
  SQLT_ROWS(f->a, "SELECT n FROM t ORDER BY id", "2\n7\n");
  /* (d) ROLLBACK ends a read-only transaction too. */
  SQLT_OK(f->a, "ROLLBACK");
  SQLT_OK(f->b, "UPDATE t SET n = 3 WHERE id = 1");
  SQLT_OK(f->a, "BEGIN");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 1", "3\n");
  SQLT_OK(f->a, "COMMIT");
}

static void test_sqlconc_readonly_under_query_only(void **state) {
  fixture *f = *state;
  SQLT_OK(f->a, "PRAGMA query_only = 1");
  SQLT_OK(f->a, "BEGIN");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 1", "0\n");
  SQLT_OK(f->b, "UPDATE t SET n = 9 WHERE id = 1");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 1", "0\n");
  SQLT_OK(f->a, "COMMIT");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 1", "9\n");
  SQLT_ROWS(f->a, "PRAGMA query_only", "1\n"); /* restored */
  SQLT_FAILS(f->a, "UPDATE t SET n = 1", SQLITE_READONLY, "readonly");
}

typedef struct counter_thread {
  const char *db;
  int n, failures;
  pthread_t th;
} counter_thread;

static void *counter_main(void *arg) {
  counter_thread *c = arg;
  sqlite3 *db;
  sqlite3_open(c->db, &db);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "UPDATE t SET n = n + 1 WHERE id = 1", -1, &st, NULL);
  for (int i = 0; i < c->n; i++) {
    if (sqlite3_step(st) != SQLITE_DONE) c->failures++;
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return NULL;
}

static void test_sqlconc_autocommit_counter(void **state) {
  fixture *f = *state;
  enum { N = 4 };
  int per = (int)(1000 * sqlt_scale());
  if (per < 10) per = 10;
  counter_thread c[N];
  for (int i = 0; i < N; i++) {
    c[i] = (counter_thread){.db = f->db, .n = per};
    pthread_create(&c[i].th, NULL, counter_main, &c[i]);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(c[i].th, NULL);
    assert_int_equal(c[i].failures, 0);
  }
  char want[32];
  snprintf(want, sizeof want, "%d\n", N * per);
  SQLT_ROWS(f->obs, "SELECT n FROM t WHERE id = 1", want);
}

/* ----------------------------------------------------- unique values -- */

/* Threads insert rows with their own keys but values from one shared set
** into a UNIQUE column, some in autocommit, some two to a transaction: each
** value must end up in exactly one row, and every insert either committed
** (and is that row) or was refused as a duplicate or a conflict to retry. */
enum { UQ_THREADS = 8, UQ_VALUES = 40 };

typedef struct uniq_thread {
  const char *db;
  int id, inserted, duplicates, retries, errors;
  pthread_t th;
} uniq_thread;

static void *uniq_main(void *arg) {
  uniq_thread *u = arg;
  sqlite3 *db;
  sqlite3_open(u->db, &db);
  sqlite3_busy_timeout(db, 10000);
  for (int v = 0; v < UQ_VALUES; v++) {
    int value = (v * 7 + u->id * 3) % UQ_VALUES; /* each thread's own order */
    bool pair = (v + u->id) % 3 == 0 && v + 1 < UQ_VALUES;
    char sql[256];
    snprintf(sql, sizeof sql,
             "%sINSERT INTO u VALUES (%d, 'v%d');%s", pair ? "BEGIN;" : "",
             u->id * 1000 + v, value, pair ? "COMMIT;" : "");
    for (;;) {
      int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
      char msg[256];
      snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(db));
      if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
      if (rc == SQLITE_OK) {
        u->inserted++;
      } else if (rc == SQLITE_CONSTRAINT &&
                 strstr(msg, "UNIQUE constraint failed: u.email")) {
        u->duplicates++;
      } else if ((rc & 0xff) == SQLITE_BUSY) {
        u->retries++;
        continue;
      } else {
        print_error("unique insert: %d %s\n", rc, msg);
        u->errors++;
      }
      break;
    }
  }
  sqlite3_close(db);
  return NULL;
}

static void test_sqlconc_unique_values_inserted_once(void **state) {
  fixture *f = *state;
  SQLT_OK(f->obs, "CREATE VIRTUAL TABLE temp.u USING mvcc(id INTEGER PRIMARY "
                  "KEY, email TEXT UNIQUE)");
  uniq_thread u[UQ_THREADS];
  for (int i = 0; i < UQ_THREADS; i++) {
    u[i] = (uniq_thread){.db = f->db, .id = i};
    pthread_create(&u[i].th, NULL, uniq_main, &u[i]);
  }
  int inserted = 0, duplicates = 0, retries = 0;
  for (int i = 0; i < UQ_THREADS; i++) {
    pthread_join(u[i].th, NULL);
    assert_int_equal(u[i].errors, 0);
    inserted += u[i].inserted;
    duplicates += u[i].duplicates;
    retries += u[i].retries;
  }
  /* Every value once, in as many rows as inserts succeeded. */
  assert_int_equal(inserted, UQ_VALUES);
  assert_int_equal(inserted + duplicates, UQ_THREADS * UQ_VALUES);
  char want[64];
  snprintf(want, sizeof want, "%d|%d\n", UQ_VALUES, UQ_VALUES);
  SQLT_ROWS(f->obs, "SELECT count(*), count(DISTINCT email) FROM u", want);
  print_message("    unique: %d rows, %d duplicates refused, %d retries\n",
                inserted, duplicates, retries);
}

/* ------------------------------------------------------ online build -- */

/* Threads insert, update (moving rows between index values) and delete
** rows, in autocommit and in small transactions, while another connection
** builds indexes on the table: when the builds are done and the writers
** stop, each index equals the table (mvcc_check), and a query through the
** index answers as a full scan does. */
enum { OB_WRITERS = 4, OB_ROWS = 20000, OB_KEYS = 50 };

typedef struct ob_thread {
  const char *db;
  int id, ops, retries, errors;
  int *stop;
  pthread_t th;
} ob_thread;

static void *ob_main(void *arg) {
  ob_thread *w = arg;
  sqlite3 *db;
  sqlite3_open(w->db, &db);
  sqlite3_busy_timeout(db, 10000);
  uint64_t r = 0x9e3779b97f4a7c15ULL * (uint64_t)(w->id + 1);
  while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE) ||
         __atomic_load_n(&w->ops, __ATOMIC_RELAXED) < 20) {
    r = r * 6364136223846793005ULL + 1442695040888963407ULL;
    int id = (int)(r >> 33) % (OB_ROWS + 2000), k = (int)(r >> 20) % OB_KEYS;
    char sql[256];
    switch ((r >> 10) % 4) {
      case 0:
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO ob VALUES (%d, %d, "
                 "%d)", id, k, id);
        break;
      case 1:
        snprintf(sql, sizeof sql, "UPDATE ob SET k = %d WHERE id = %d", k, id);
        break;
      case 2:
        snprintf(sql, sizeof sql, "DELETE FROM ob WHERE id = %d", id);
        break;
      default:
        snprintf(sql, sizeof sql, "BEGIN; UPDATE ob SET k = %d WHERE id = %d; "
                 "INSERT OR IGNORE INTO ob VALUES (%d, %d, %d); COMMIT",
                 k, id, OB_ROWS + 2000 + w->id * 100000 + w->ops, k,
                 OB_ROWS + 2000 + w->id * 100000 + w->ops);
    }
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
    if (rc == SQLITE_OK) {
      __atomic_add_fetch(&w->ops, 1, __ATOMIC_RELAXED); /* main reads it */
    } else if ((rc & 0xff) == SQLITE_BUSY) {
      w->retries++;
    } else {
      print_error("online build writer: %d %s\n", rc, sqlite3_errmsg(db));
      w->errors++;
      break;
    }
  }
  sqlite3_close(db);
  return NULL;
}

static void test_sqlconc_online_index_build(void **state) {
  fixture *f = *state;
  SQLT_OK(f->obs, "CREATE VIRTUAL TABLE temp.ob USING mvcc(id INTEGER "
                  "PRIMARY KEY, k INT, u INT)");
  char sql[256];
  snprintf(sql, sizeof sql, "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT "
           "i + 1 FROM c WHERE i < %d) INSERT INTO ob SELECT i, i %% %d, i "
           "FROM c", OB_ROWS - 1, OB_KEYS);
  SQLT_OK(f->obs, sql);
  int stop = 0;
  ob_thread w[OB_WRITERS];
  for (int i = 0; i < OB_WRITERS; i++) {
    w[i] = (ob_thread){.db = f->db, .id = i, .stop = &stop};
    pthread_create(&w[i].th, NULL, ob_main, &w[i]);
  }
  /* The builds, on a connection of their own, while the writers run; a
  ** unique index over u (every row's u is its id, unique by construction). */
  int built = 0;
  for (int attempt = 0; attempt < 20 && built < 2; attempt++) {
    const char *ddl = built == 0
                          ? "SELECT mvcc_create_index('ob_k', 'ob', 'k')"
                          : "SELECT mvcc_create_index('ob_u', 'ob', 'u DESC', "
                            "'unique')";
    int rc = sqlt_do(f->a, ddl);
    if (rc == SQLITE_OK) built++;
    else assert_int_equal(rc & 0xff, SQLITE_BUSY); /* writers outwaited it */
  }
  int during = 0;
  for (int i = 0; i < OB_WRITERS; i++) during += __atomic_load_n(&w[i].ops,
                                                                 __ATOMIC_RELAXED);
  __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
  int ops = 0, retries = 0;
  for (int i = 0; i < OB_WRITERS; i++) {
    pthread_join(w[i].th, NULL);
    assert_int_equal(w[i].errors, 0);
    ops += w[i].ops;
    retries += w[i].retries;
  }
  assert_int_equal(built, 2);
  SQLT_ROWS(f->obs, "SELECT mvcc_check('ob')", "ok\n");
  SQLT_ROWS(f->obs, "SELECT state FROM mvcc_indexes WHERE \"table\" = 'ob' "
                    "ORDER BY \"index\"", "ready\nready\n");
  SQLT_OK(f->obs, "EXPLAIN QUERY PLAN SELECT count(*) FROM ob WHERE k = 7");
  assert_non_null(strstr(f->obs->out, "index ob_k k=?"));
  for (int k = 0; k < OB_KEYS; k += 7) {
    char q[160], want[4096];
    snprintf(q, sizeof q, "SELECT count(*) FROM ob WHERE +k = %d", k);
    SQLT_OK(f->obs, q);
    snprintf(want, sizeof want, "%s", f->obs->out);
    snprintf(q, sizeof q, "SELECT count(*) FROM ob WHERE k = %d", k);
    SQLT_ROWS(f->obs, q, want);
  }
  print_message("    online build: %d writes (%d during the builds), %d "
                "retries\n", ops, during, retries);
}

/* The predicate anomaly through an index.  Two transactions each count the
** night shift, reading through the UNIQUE(shift, name) index, see one
** doctor, and each add another: run one after the other, the second would
** have counted two, so serializability lets only one of them commit.  Its
** twin on disjoint ranges (night and day) must not conflict at all. */
static void duty_setup(fixture *f) {
  SQLT_OK(f->obs, "CREATE VIRTUAL TABLE temp.duty USING mvcc(id INTEGER "
                  "PRIMARY KEY, shift TEXT, name TEXT, UNIQUE(shift, name))");
  SQLT_OK(f->obs, "INSERT INTO duty VALUES (1, 'night', 'ann'), (2, 'day', "
                  "'bob')");
  SQLT_OK(f->obs, "EXPLAIN QUERY PLAN SELECT count(*) FROM duty WHERE shift "
                  "= 'night'");
  assert_non_null(strstr(f->obs->out, "unique(shift, name) shift=?"));
  SQLT_OK(f->a, "SELECT mvcc_attach()"); /* declare the new table */
  SQLT_OK(f->b, "SELECT mvcc_attach()");
}

static void test_sqlconc_predicate_read_through_index(void **state) {
  fixture *f = *state;
  duty_setup(f);
  SQLT_OK(f->a, "BEGIN");
  SQLT_ROWS(f->a, "SELECT count(*) FROM duty WHERE shift = 'night'", "1\n");
  SQLT_OK(f->b, "BEGIN");
  SQLT_ROWS(f->b, "SELECT count(*) FROM duty WHERE shift = 'night'", "1\n");
  SQLT_OK(f->a, "INSERT INTO duty VALUES (3, 'night', 'cy')");
  SQLT_OK(f->b, "INSERT INTO duty VALUES (4, 'night', 'dee')");
  int ra = sqlt_do(f->a, "COMMIT");
  int rb = sqlt_do(f->b, "COMMIT");
  assert_true((ra == SQLITE_OK) != (rb == SQLITE_OK)); /* exactly one */
  sqlt_conn *loser = ra == SQLITE_OK ? f->b : f->a;
  assert_int_equal(loser->rc & 0xff, SQLITE_BUSY);
  assert_non_null(strstr(loser->err, "restart transaction"));
  if (!sqlite3_get_autocommit(loser->db)) SQLT_OK(loser, "ROLLBACK");
  SQLT_ROWS(f->obs, "SELECT count(*) FROM duty WHERE shift = 'night'", "2\n");
}

static void test_sqlconc_disjoint_index_ranges_do_not_conflict(void **state) {
  fixture *f = *state;
  duty_setup(f);
  SQLT_OK(f->a, "BEGIN");
  SQLT_ROWS(f->a, "SELECT count(*) FROM duty WHERE shift = 'night'", "1\n");
  SQLT_OK(f->b, "BEGIN");
  SQLT_ROWS(f->b, "SELECT count(*) FROM duty WHERE shift = 'day'", "1\n");
  SQLT_OK(f->a, "INSERT INTO duty VALUES (3, 'night', 'cy')");
  SQLT_OK(f->b, "INSERT INTO duty VALUES (4, 'day', 'dee')");
  SQLT_OK(f->a, "COMMIT");
  SQLT_OK(f->b, "COMMIT");
  SQLT_ROWS(f->obs, "SELECT shift, count(*) FROM duty GROUP BY shift "
                    "ORDER BY shift", "day|2\nnight|2\n");
}

/* ---------------------------------------------------------- job queue -- */

/* Workers claim jobs with the usual idiom, each on its own connection:
**     BEGIN; SELECT id FROM jobs WHERE status = 'ready' ORDER BY run_at
**     LIMIT 1; UPDATE jobs SET status = 'done', worker = ? WHERE id = ?;
**     COMMIT
** reading through the index jobs_due(status, run_at), created with
** mvcc_create_index (no sort, LIMIT pushed down).  Two workers that pick the same job cannot both commit, so
** every job is claimed exactly once, by the worker the row names. */
enum { JQ_JOBS = 150, JQ_WORKERS = 6 };

typedef struct jq_worker {
  const char *db;
  int id, claimed, retries, errors;
  int jobs[JQ_JOBS];
  pthread_t th;
} jq_worker;

static void *jq_main(void *arg) {
  jq_worker *w = arg;
  sqlite3 *db;
  sqlite3_open(w->db, &db);
  sqlite3_busy_timeout(db, 10000);
  sqlite3_stmt *pick, *claim;
  sqlite3_prepare_v2(db, "SELECT id FROM jobs WHERE status = 'ready' ORDER BY "
                         "run_at LIMIT 1", -1, &pick, NULL);
  sqlite3_prepare_v2(db, "UPDATE jobs SET status = 'done', worker = ?1 WHERE "
                         "id = ?2", -1, &claim, NULL);
  for (;;) {
    int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    int job = -1;
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(pick);
      if (rc == SQLITE_ROW) job = sqlite3_column_int(pick, 0);
      rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
      sqlite3_reset(pick);
    }
    if (rc == SQLITE_OK && job >= 0) {
      sqlite3_bind_int(claim, 1, w->id);
      sqlite3_bind_int(claim, 2, job);
      rc = sqlite3_step(claim) == SQLITE_DONE ? SQLITE_OK
                                              : sqlite3_errcode(db);
      sqlite3_reset(claim);
      if (rc == SQLITE_OK && sqlite3_changes(db) != 1) w->errors++;
    }
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
      if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
      if ((rc & 0xff) == SQLITE_BUSY) {
        w->retries++;
        continue;
      }
      print_error("worker %d: %d %s\n", w->id, rc, sqlite3_errmsg(db));
      w->errors++;
      break;
    }
    if (job < 0) break; /* nothing ready */
    w->jobs[w->claimed++] = job;
  }
  sqlite3_finalize(pick);
  sqlite3_finalize(claim);
  sqlite3_close(db);
  return NULL;
}

static void test_sqlconc_job_queue_claims_each_job_once(void **state) {
  fixture *f = *state;
  SQLT_OK(f->obs, "CREATE VIRTUAL TABLE temp.jobs USING mvcc(id INTEGER "
                  "PRIMARY KEY, status TEXT NOT NULL, run_at INTEGER NOT "
                  "NULL, worker INTEGER)");
  char sql[256];
  snprintf(sql, sizeof sql,
           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
           "WHERE i < %d) INSERT INTO jobs SELECT i, 'ready', (i * 37) %% 101, "
           "NULL FROM n",
           JQ_JOBS);
  SQLT_OK(f->obs, sql);
  SQLT_OK(f->obs, "SELECT mvcc_create_index('jobs_due', 'jobs', 'status, "
                  "run_at')");
  SQLT_OK(f->obs, "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE status = "
                  "'ready' ORDER BY run_at LIMIT 1");
  assert_non_null(strstr(f->obs->out, "index jobs_due status=?, LIMIT"));
  assert_null(strstr(f->obs->out, "TEMP B-TREE")); /* no sort */
  jq_worker w[JQ_WORKERS];
  for (int i = 0; i < JQ_WORKERS; i++) {
    memset(&w[i], 0, sizeof(w[i]));
    w[i].db = f->db;
    w[i].id = i + 1;
    pthread_create(&w[i].th, NULL, jq_main, &w[i]);
  }
  int owner[JQ_JOBS + 1] = {0}, total = 0, retries = 0;
  for (int i = 0; i < JQ_WORKERS; i++) {
    pthread_join(w[i].th, NULL);
    assert_int_equal(w[i].errors, 0);
    retries += w[i].retries;
    for (int j = 0; j < w[i].claimed; j++) {
      int job = w[i].jobs[j];
      assert_true(job >= 1 && job <= JQ_JOBS);
      assert_int_equal(owner[job], 0); /* claimed once */
      owner[job] = w[i].id;
      total++;
    }
  }
  assert_int_equal(total, JQ_JOBS);
  /* The table agrees with the workers about who took each job. */
  for (int job = 1; job <= JQ_JOBS; job++) {
    char q[96], want[32];
    snprintf(q, sizeof q, "SELECT status, worker FROM jobs WHERE id = %d", job);
    snprintf(want, sizeof want, "done|%d\n", owner[job]);
    SQLT_ROWS(f->obs, q, want);
  }
  SQLT_ROWS(f->obs, "SELECT mvcc_check('jobs')", "ok\n");
  print_message("    job queue: %d jobs, %d workers, %d retries\n", JQ_JOBS,
                JQ_WORKERS, retries);
}

static void test_sqlconc_deadlock_between_connections(void **state) {
  fixture *f = *state;
  SQLT_OK(f->a, "BEGIN; UPDATE t SET n = 1 WHERE id = 1");
  SQLT_OK(f->b, "BEGIN; UPDATE t SET n = 2 WHERE id = 2");
  sqlt_start(f->a, "UPDATE t SET n = 1 WHERE id = 2");
  sqlt_wait_waiting(f->obs, 1);
  uint64_t t0 = sqlt_now_ns();
  int rb = sqlt_do(f->b, "UPDATE t SET n = 2 WHERE id = 1");
  int ra = sqlt_wait(f->a);
  /* Found at once (the default lock timeout is 5 s). */
  assert_true(sqlt_now_ns() - t0 < 1000000000ULL);
  assert_true((ra == SQLITE_OK) != (rb == SQLITE_OK)); /* exactly one */
  sqlt_conn *loser = ra == SQLITE_OK ? f->b : f->a;
  sqlt_conn *winner = ra == SQLITE_OK ? f->a : f->b;
  assert_non_null(strstr(loser->err, "restart transaction: deadlock"));
  SQLT_OK(loser, "ROLLBACK");
  SQLT_OK(winner, "COMMIT");
  SQLT_ROWS(f->obs, "SELECT n FROM t ORDER BY id",
            winner == f->a ? "1\n1\n" : "2\n2\n");
}

static void test_sqlconc_busy_timeout_bounds_lock_waits(void **state) {
  fixture *f = *state;
  SQLT_OK(f->a, "BEGIN; UPDATE t SET n = 1 WHERE id = 1");
  SQLT_OK(f->b, "PRAGMA busy_timeout = 150");
  uint64_t t0 = sqlt_now_ns();
  SQLT_FAILS(f->b, "UPDATE t SET n = 2 WHERE id = 1", SQLITE_BUSY,
             "restart transaction: lock timeout");
  uint64_t waited = sqlt_now_ns() - t0;
  assert_true(waited >= 150000000ULL && waited < 4000000000ULL);
  SQLT_OK(f->a, "COMMIT");
  SQLT_OK(f->b, "UPDATE t SET n = 2 WHERE id = 1"); /* the retry works */
  SQLT_ROWS(f->obs, "SELECT n FROM t WHERE id = 1", "2\n");
}

static void test_sqlconc_dead_transaction_until_rollback(void **state) {
  fixture *f = *state;
  SQLT_OK(f->a, "BEGIN; UPDATE t SET n = 1 WHERE id = 1");
  SQLT_OK(f->b, "PRAGMA busy_timeout = 50; BEGIN; INSERT INTO t VALUES (5, 5)");
  SQLT_FAILS(f->b, "UPDATE t SET n = 2 WHERE id = 1", SQLITE_BUSY,
             "restart transaction: lock timeout");
  /* Dead: every later statement fails the same way, reads included. */
  SQLT_FAILS(f->b, "SELECT * FROM t", SQLITE_BUSY, "lock timeout");
  SQLT_FAILS(f->b, "UPDATE t SET n = 3 WHERE id = 2", SQLITE_BUSY,
             "lock timeout");
  /* COMMIT fails and rolls back. */
  SQLT_FAILS(f->b, "COMMIT", SQLITE_BUSY, "restart transaction");
  assert_int_not_equal(sqlite3_get_autocommit(f->b->db), 0);
  SQLT_OK(f->a, "COMMIT");
  SQLT_ROWS(f->obs, "SELECT * FROM t", "1|1\n2|0\n"); /* nothing of b */
  SQLT_OK(f->b, "BEGIN; INSERT INTO t VALUES (5, 5); COMMIT");
  SQLT_ROWS(f->obs, "SELECT count(*) FROM t", "3\n");
}

/* ---------------------------------------------------------------- bank -- */

enum { NTHREADS = 8, NACC = 16, INITIAL = 1000 };

typedef struct bank_thread {
  const char *db;
  int id, iters;
  long transfers, scans, bad, retries, errors;
  pthread_t th;
} bank_thread;

static unsigned rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 16) & 0x7fff;
}

static int exec1(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static void *bank_main(void *arg) {
  bank_thread *b = arg;
  sqlite3 *db;
  sqlite3_open(b->db, &db);
  unsigned seed = 7919u * (unsigned)b->id + 3;
  for (int i = 0; i < b->iters; i++) {
    bool scan = rnd(&seed) % 4 == 0;
    int from = (int)(rnd(&seed) % NACC), to = (int)(rnd(&seed) % (NACC - 1));
    if (to >= from) to++;
    int amt = (int)(rnd(&seed) % 20);
    for (;;) {
      int rc;
      long sum = 0, rows = 0;
      if (scan) {
        sqlite3_stmt *st;
        rc = exec1(db, "BEGIN");
        if (rc == SQLITE_OK)
          rc = sqlite3_prepare_v2(db, "SELECT bal FROM acct", -1, &st, NULL);
        if (rc == SQLITE_OK) {
          while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            sum += sqlite3_column_int64(st, 0);
            rows++;
          }
          sqlite3_finalize(st);
          if (rc == SQLITE_DONE) rc = SQLITE_OK;
        }
      } else {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "BEGIN; UPDATE acct SET bal = bal - %d WHERE id = %d; "
                 "UPDATE acct SET bal = bal + %d WHERE id = %d",
                 amt, from, amt, to);
        rc = exec1(db, sql);
      }
      if (rc == SQLITE_OK) rc = exec1(db, "COMMIT");
      if (rc == SQLITE_OK) {
        if (scan) {
          b->scans++;
          if (sum != (long)NACC * INITIAL || rows != NACC) b->bad++;
        } else {
          b->transfers++;
        }
        break;
      }
      exec1(db, "ROLLBACK");
      if ((rc & 0xff) != SQLITE_BUSY) {
        b->errors++;
        break;
      }
      b->retries++;
    }
  }
  sqlite3_close(db);
  return NULL;
}

static void test_sqlconc_bank_invariant(void **state) {
  fixture *f = *state;
  SQLT_OK(f->obs, "CREATE VIRTUAL TABLE temp.acct USING mvcc(id INTEGER "
                  "PRIMARY KEY, bal INTEGER)");
  for (int i = 0; i < NACC; i++) {
    char sql[80];
    snprintf(sql, sizeof sql, "INSERT INTO acct VALUES (%d, %d)", i, INITIAL);
    SQLT_OK(f->obs, sql);
  }
  bank_thread b[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    b[i] = (bank_thread){.db = f->db, .id = i,
                         .iters = (int)(300 * sqlt_scale()) + 1};
    pthread_create(&b[i].th, NULL, bank_main, &b[i]);
  }
  long transfers = 0, scans = 0, retries = 0;
  for (int i = 0; i < NTHREADS; i++) {
    pthread_join(b[i].th, NULL);
    assert_int_equal(b[i].bad, 0);
    assert_int_equal(b[i].errors, 0);
    transfers += b[i].transfers;
    scans += b[i].scans;
    retries += b[i].retries;
  }
  char want[32];
  snprintf(want, sizeof want, "%d|%d\n", NACC * INITIAL, NACC);
  SQLT_ROWS(f->obs, "SELECT sum(bal), count(*) FROM acct", want);
  print_message("    bank over SQL: %ld transfers, %ld consistent scans, "
                "%ld retries\n",
                transfers, scans, retries);
}

/* --------------------------------------------------------- list-append -- */

enum { LA_KEYS = 5, LA_OPS = 3 };

typedef struct la_txn {
  int status;
  uint64_t start, end;
  int nops;
  hc_op ops[LA_OPS];
  int64_t *lists[LA_OPS];
} la_txn;

typedef struct la_thread {
  const char *db;
  int id, iters, n;
  la_txn *log;
  pthread_t th;
} la_thread;

/* The list is stored as text "v1,v2,..."; parse into an array. */
static int64_t *parse_list(const unsigned char *z, size_t *n) {
  *n = 0;
  if (!z || !*z) return NULL;
  size_t cap = 8;
  int64_t *v = malloc(cap * sizeof(int64_t));
  const char *p = (const char *)z;
  while (*p) {
    if (*n == cap) v = realloc(v, (cap *= 2) * sizeof(int64_t));
    v[(*n)++] = strtoll(p, (char **)&p, 10);
    if (*p == ',') p++;
  }
  return v;
}

static void *la_main(void *arg) {
  la_thread *l = arg;
  sqlite3 *db;
  sqlite3_open(l->db, &db);
  sqlite3_stmt *rd, *up;
  sqlite3_prepare_v2(db, "SELECT v FROM lists WHERE k = ?", -1, &rd, NULL);
  sqlite3_prepare_v2(db,
                     "INSERT OR REPLACE INTO lists VALUES (?1, coalesce((SELECT "
                     "v || ',' FROM lists WHERE k = ?1), '') || ?2)",
                     -1, &up, NULL);
  unsigned seed = 131u * (unsigned)l->id + 1;
  int64_t next = (int64_t)(l->id + 1) * 1000000;
  for (int i = 0; i < l->iters; i++) {
    la_txn *x = &l->log[l->n++];
    memset(x, 0, sizeof(*x));
    x->nops = 1 + (int)(rnd(&seed) % LA_OPS);
    for (int j = 0; j < x->nops; j++) {
      x->ops[j].key = (int64_t)(rnd(&seed) % LA_KEYS);
      x->ops[j].is_read = (int)(rnd(&seed) % 2);
      if (!x->ops[j].is_read) x->ops[j].value = ++next;
    }
    x->start = sqlt_now_ns();
    int rc = exec1(db, "BEGIN");
    for (int j = 0; j < x->nops && rc == SQLITE_OK; j++) {
      hc_op *op = &x->ops[j];
      if (op->is_read) {
        sqlite3_bind_int64(rd, 1, op->key);
        rc = sqlite3_step(rd);
        size_t n = 0;
        x->lists[j] = rc == SQLITE_ROW ? parse_list(sqlite3_column_text(rd, 0), &n)
                                       : NULL;
        op->list = x->lists[j];
        op->list_len = n;
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_reset(rd);
      } else {
        sqlite3_bind_int64(up, 1, op->key);
        sqlite3_bind_int64(up, 2, op->value);
        rc = sqlite3_step(up);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_reset(up);
      }
    }
    if (rc == SQLITE_OK) rc = exec1(db, "COMMIT");
    x->end = sqlt_now_ns();
    if (rc == SQLITE_OK) {
      x->status = HC_COMMITTED;
    } else {
      exec1(db, "ROLLBACK");
      x->status = (rc & 0xff) == SQLITE_BUSY ? HC_ABORTED : HC_UNKNOWN;
    }
  }
  sqlite3_finalize(rd);
  sqlite3_finalize(up);
  sqlite3_close(db);
  return NULL;
}

static void test_sqlconc_list_append_is_serializable(void **state) {
  fixture *f = *state;
  SQLT_OK(f->obs, "CREATE VIRTUAL TABLE temp.lists USING mvcc(k INTEGER "
                  "PRIMARY KEY, v TEXT)");
  la_thread l[NTHREADS];
  int iters = (int)(250 * sqlt_scale()) + 1;
  for (int i = 0; i < NTHREADS; i++) {
    l[i] = (la_thread){.db = f->db, .id = i, .iters = iters};
    l[i].log = calloc((size_t)iters, sizeof(la_txn));
    pthread_create(&l[i].th, NULL, la_main, &l[i]);
  }
  hc_history *h = hc_create();
  long committed = 0;
  for (int i = 0; i < NTHREADS; i++) {
    pthread_join(l[i].th, NULL);
    for (int j = 0; j < l[i].n; j++) {
      la_txn *x = &l[i].log[j];
      assert_true(hc_add_txn(h, x->status, x->ops, (size_t)x->nops, x->start,
                             x->end) >= 0);
      committed += x->status == HC_COMMITTED;
      for (int k = 0; k < x->nops; k++) free(x->lists[k]);
    }
    free(l[i].log);
  }
  hc_result r;
  assert_int_equal(hc_check(h, HC_CHECK_REALTIME, &r), 0);
  print_message("    list-append over SQL: %ld of %d committed; edges ww %zu "
                "wr %zu rw %zu: %s\n",
                committed, NTHREADS * iters, r.nedges_ww, r.nedges_wr,
                r.nedges_rw, r.anomaly ? r.desc : "no anomaly");
  assert_int_equal(r.anomaly, HC_OK);
  assert_true(committed > 0);
  hc_destroy(h);
}

/* ------------------------------------------------------------ hot keys -- */

/* A first attempt reads without locking; its retry, and a transaction that
** asked with mvcc_lock_reads(1), lock the row at the SELECT: another
** connection's UPDATE of it waits (seen in mvcc_locks) until they end. */
static void test_sqlconc_retry_and_asked_lock_their_reads(void **state) {
  fixture *f = *state;
  SQLT_OK(f->b, "PRAGMA busy_timeout = 10000");
  /* First attempt: b's UPDATE does not wait (it would hang sqlt_do for
  ** 10 s and fail it), and a's own UPDATE then fails. */
  SQLT_ROWS(f->a, "SELECT mvcc_lock_reads()", "0\n");
  SQLT_OK(f->a, "BEGIN");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 1", "0\n");
  SQLT_OK(f->b, "UPDATE t SET n = n + 1 WHERE id = 1");
  SQLT_FAILS(f->a, "UPDATE t SET n = 10 WHERE id = 1", SQLITE_BUSY,
             "restart transaction: write conflict");
  SQLT_OK(f->a, "ROLLBACK");
  /* The retry: b's UPDATE now waits for a's read. */
  SQLT_ROWS(f->a, "SELECT mvcc_lock_reads()", "1\n");
  SQLT_OK(f->a, "BEGIN");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 1", "1\n");
  sqlt_start(f->b, "UPDATE t SET n = n + 1 WHERE id = 1");
  sqlt_wait_waiting(f->obs, 1);
  SQLT_OK(f->a, "UPDATE t SET n = 10 WHERE id = 1");
  assert_false(sqlt_done(f->b));
  SQLT_OK(f->a, "COMMIT");
  assert_int_equal(sqlt_wait(f->b), SQLITE_OK);
  SQLT_ROWS(f->obs, "SELECT n FROM t WHERE id = 1", "11\n");
  /* Used up: the next transaction reads without locking again. */
  SQLT_ROWS(f->a, "SELECT mvcc_lock_reads()", "0\n");
  /* Asked for, inside BEGIN before the first read. */
  SQLT_OK(f->a, "BEGIN; SELECT mvcc_lock_reads(1)");
  SQLT_ROWS(f->a, "SELECT n FROM t WHERE id = 2", "0\n");
  sqlt_start(f->b, "UPDATE t SET n = n + 1 WHERE id = 2");
  sqlt_wait_waiting(f->obs, 1);
  SQLT_OK(f->a, "UPDATE t SET n = n + 5 WHERE id = 2");
  SQLT_OK(f->a, "COMMIT");
  assert_int_equal(sqlt_wait(f->b), SQLITE_OK);
  SQLT_ROWS(f->obs, "SELECT n FROM t WHERE id = 2", "6\n");
  SQLT_ROWS(f->a, "SELECT mvcc_lock_reads()", "0\n");
}

/* Threads run read-modify-write transactions on a few hot rows (SELECT
** both, then UPDATE both from what they read) and retry on failure: no
** update is lost, and a retry, which locks what it reads, never fails on
** those rows again (write conflict, read refresh); it can only lose a
** deadlock between retries. */
enum { HK_THREADS = 8, HK_KEYS = 5 };

typedef struct hot_thread {
  const char *db;
  int id, txns;
  long commits, first_failures, retry_failures, retry_conflicts, errors;
  long wrong_lock_state;
  char last_retry_error[256];
  pthread_t th;
} hot_thread;

/* One attempt; 0 when it committed, else the failing rc (message in err). */
static int hot_attempt(sqlite3 *db, sqlite3_stmt *sel, sqlite3_stmt *upd,
                       const int *k, char *err, size_t errsz) {
  int64_t n[2];
  int rc = exec1(db, "BEGIN");
  for (int i = 0; i < 2 && rc == SQLITE_OK; i++) {
    sqlite3_bind_int(sel, 1, k[i]);
    rc = sqlite3_step(sel);
    if (rc == SQLITE_ROW) {
      n[i] = sqlite3_column_int64(sel, 0);
      rc = SQLITE_OK;
    }
    sqlite3_reset(sel);
  }
  for (int i = 0; i < 2 && rc == SQLITE_OK; i++) {
    sqlite3_bind_int64(upd, 1, n[i] + 1);
    sqlite3_bind_int(upd, 2, k[i]);
    rc = sqlite3_step(upd);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    sqlite3_reset(upd);
  }
  if (rc == SQLITE_OK) rc = exec1(db, "COMMIT");
  if (rc != SQLITE_OK) {
    snprintf(err, errsz, "%s", sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db)) exec1(db, "ROLLBACK");
  }
  return rc;
}

static int lock_reads_now(sqlite3 *db) {
  sqlite3_stmt *st;
  int v = -1;
  if (sqlite3_prepare_v2(db, "SELECT mvcc_lock_reads()", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void *hot_main(void *arg) {
  hot_thread *h = arg;
  sqlite3 *db;
  sqlite3_open(h->db, &db);
  sqlite3_busy_timeout(db, 20000);
  sqlite3_stmt *sel, *upd;
  sqlite3_prepare_v2(db, "SELECT n FROM h WHERE id = ?", -1, &sel, NULL);
  sqlite3_prepare_v2(db, "UPDATE h SET n = ? WHERE id = ?", -1, &upd, NULL);
  unsigned seed = 104729u * (unsigned)h->id + 11;
  for (int i = 0; i < h->txns; i++) {
    int k[2];
    k[0] = (int)(rnd(&seed) % HK_KEYS);
    do k[1] = (int)(rnd(&seed) % HK_KEYS);
    while (k[1] == k[0]);
    for (int attempt = 0;; attempt++) {
      /* The extension's own account of which attempt this is. */
      if (lock_reads_now(db) != (attempt > 0)) h->wrong_lock_state++;
      char err[256] = "";
      int rc = hot_attempt(db, sel, upd, k, err, sizeof err);
      if (rc == SQLITE_OK) {
        h->commits++;
        break;
      }
      if ((rc & 0xff) != SQLITE_BUSY || !strstr(err, "restart transaction")) {
        print_error("hot keys: %d %s\n", rc, err);
        h->errors++;
        break;
      }
      if (attempt == 0) {
        h->first_failures++;
        continue;
      }
      h->retry_failures++;
      if (!strstr(err, "restart transaction: deadlock")) {
        h->retry_conflicts++;
        snprintf(h->last_retry_error, sizeof h->last_retry_error, "%s", err);
      }
    }
  }
  sqlite3_finalize(sel);
  sqlite3_finalize(upd);
  sqlite3_close(db);
  return NULL;
}

static void test_sqlconc_hot_keys_retries_do_not_fail_on_their_reads(
    void **state) {
  fixture *f = *state;
  SQLT_OK(f->obs, "CREATE VIRTUAL TABLE temp.h USING mvcc(id INTEGER "
                  "PRIMARY KEY, n INTEGER)");
  for (int i = 0; i < HK_KEYS; i++) {
    char sql[64];
    snprintf(sql, sizeof sql, "INSERT INTO h VALUES (%d, 0)", i);
    SQLT_OK(f->obs, sql);
  }
  int txns = (int)(300 * sqlt_scale());
  if (txns < 20) txns = 20;
  hot_thread h[HK_THREADS];
  for (int i = 0; i < HK_THREADS; i++) {
    h[i] = (hot_thread){.db = f->db, .id = i, .txns = txns};
    pthread_create(&h[i].th, NULL, hot_main, &h[i]);
  }
  long commits = 0, first = 0, retry = 0;
  for (int i = 0; i < HK_THREADS; i++) {
    pthread_join(h[i].th, NULL);
    assert_int_equal(h[i].errors, 0);
    assert_int_equal(h[i].wrong_lock_state, 0);
    if (h[i].retry_conflicts)
      print_error("a retry failed on its reads: %s\n", h[i].last_retry_error);
    assert_int_equal(h[i].retry_conflicts, 0);
    commits += h[i].commits;
    first += h[i].first_failures;
    retry += h[i].retry_failures;
  }
  assert_int_equal(commits, (long)HK_THREADS * txns);
  char want[32];
  snprintf(want, sizeof want, "%ld\n", 2 * commits); /* no lost update */
  SQLT_ROWS(f->obs, "SELECT sum(n) FROM h", want);
  print_message("    hot keys: %ld commits, %ld first attempts failed, "
                "%ld retries failed (deadlocks)\n",
                commits, first, retry);
}

/* ------------------------------------------------------ other process -- */

/* Store-wide options given at once by several connections, half one
** value and half another: the first to give one decides, every CREATE
** that gave the other is refused naming it, and none that succeeded gave
** a value the store does not have. */
static void option_race(const char *db, const char *name, const char *a,
                        const char *b) {
  enum { N = 8 };
  for (int round = 0; round < 5; round++) {
    char *dir = strdup(db), sub[600], sql[1024];
    *strrchr(dir, '/') = 0;
    snprintf(sub, sizeof sub, "%s/race-%s-%d", dir, name, round);
    free(dir);
    sqlt_conn *c[N];
    for (int i = 0; i < N; i++) {
      c[i] = sqlt_open(db);
      snprintf(sql, sizeof sql,
               "CREATE VIRTUAL TABLE temp.r%d USING mvcc(k INTEGER PRIMARY "
               "KEY, store='%s', %s=%s)",
               i, sub, name, i % 2 ? a : b);
      sqlt_start(c[i], sql);
    }
    int won[2] = {0, 0};
    for (int i = 0; i < N; i++) {
      if (sqlt_wait(c[i]) == SQLITE_OK) {
        won[i % 2]++;
      } else {
        assert_non_null(strstr(c[i]->err, "(a store-wide option)"));
      }
    }
    /* Exactly one value won, and everyone who gave it succeeded. */
    assert_true((won[0] == N / 2) != (won[1] == N / 2));
    assert_true(won[0] == 0 || won[1] == 0);
    for (int i = 0; i < N; i++) sqlt_close(c[i]);
  }
}

static void test_sqlconc_store_options_first_to_give_decides(void **state) {
  fixture *f = *state;
  option_race(f->db, "synchronous", "full", "normal");
  option_race(f->db, "retention", "'1 hour'", "'2 hours'");
}

/* Tables are shared through the store: one connection's CREATE reaches
** the others with mvcc_attach(), its DROP is reported to them. */
static void test_sqlconc_catalog_across_connections(void **state) {
  fixture *f = *state;
  SQLT_OK(f->a, "CREATE VIRTUAL TABLE temp.shared USING mvcc(k PRIMARY KEY, "
                "v); INSERT INTO shared VALUES ('x', 1)");
  SQLT_FAILS(f->b, "SELECT * FROM shared", SQLITE_ERROR, "no such table");
  SQLT_ROWS(f->b, "SELECT mvcc_attach()", "1\n");
  SQLT_ROWS(f->b, "SELECT * FROM shared", "x|1\n");
  SQLT_OK(f->a, "DROP TABLE shared");
  SQLT_FAILS(f->b, "SELECT * FROM shared", SQLITE_ERROR,
             "table shared was dropped");
  SQLT_FAILS(f->b, "INSERT INTO shared VALUES ('y', 2)", SQLITE_ERROR,
             "table shared was dropped");
  /* A new connection does not see it at all. */
  sqlt_conn *c = sqlt_open(f->db);
  SQLT_FAILS(c, "SELECT * FROM shared", SQLITE_ERROR, "no such table");
  SQLT_ROWS(c, "SELECT count(*) FROM t", "2\n");
  sqlt_close(c);
}

/* A bulk load answers its uniqueness checks from a range it found empty;
** a row another connection commits in that range meanwhile is still a
** duplicate for it, and the load's statement fails whole. */
static void test_sqlconc_bulk_load_sees_rows_committed_into_its_range(
    void **state) {
  fixture *f = *state;
  SQLT_OK(f->a, "BEGIN; INSERT INTO t WITH RECURSIVE c(x) AS (SELECT 100 "
                "UNION ALL SELECT x + 1 FROM c WHERE x < 199) SELECT x, 0 "
                "FROM c");
  SQLT_OK(f->b, "INSERT INTO t VALUES (250, 7)");
  SQLT_FAILS(f->a, "INSERT INTO t WITH RECURSIVE c(x) AS (SELECT 200 UNION "
                   "ALL SELECT x + 1 FROM c WHERE x < 299) SELECT x, 0 FROM c",
             SQLITE_CONSTRAINT, "UNIQUE");
  SQLT_OK(f->a, "INSERT INTO t WITH RECURSIVE c(x) AS (SELECT 300 UNION "
                "ALL SELECT x + 1 FROM c WHERE x < 399) SELECT x, 0 FROM c");
  SQLT_OK(f->a, "COMMIT");
  SQLT_ROWS(f->obs, "SELECT count(*), sum(n) FROM t", "203|7\n");
  SQLT_ROWS(f->obs, "SELECT count(*) FROM t WHERE id BETWEEN 200 AND 299",
            "1\n");
  SQLT_ROWS(f->obs, "SELECT value > 150 FROM mvcc_stats WHERE name = "
                    "'reads_from_gap'", "1\n");
}

/* Row keys in the store (0x01 ‖ table id ‖ key), read with kvcore itself:
** the same store as the connections', since a directory opened twice in
** one process is one store. */
static int store_rows(const char *db) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s-mvcc", db);
  kv_store *s = NULL;
  assert_int_equal(kv_store_open(dir, NULL, &s, NULL), KV_OK);
  kv_txn *t = NULL;
  assert_int_equal(kv_txn_begin(s, NULL, &t, NULL), KV_OK);
  kv_iter *it = NULL;
  assert_int_equal(kv_txn_scan(t, "\x01", 1, "\x02", 1, 0, 0, &it, NULL),
                   KV_OK);
  int n = 0;
  while (kv_iter_next(it, NULL) == KV_OK) n++;
  kv_iter_close(it);
  kv_txn_abort(t);
  kv_store_close(s);
  return n;
}

/* A transaction that commits into a table dropped meanwhile leaves rows
** nobody can reach; the next connection to open the store deletes them. */
static void test_sqlconc_rows_of_dropped_tables_are_swept(void **state) {
  fixture *f = *state;
  int before = store_rows(f->db); /* t's rows */
  SQLT_OK(f->a, "CREATE VIRTUAL TABLE temp.gone USING mvcc(k PRIMARY KEY, v)");
  SQLT_ROWS(f->b, "SELECT mvcc_attach()", "1\n");
  SQLT_OK(f->b, "BEGIN; INSERT INTO gone VALUES (1, 'x'), (2, 'y')");
  SQLT_OK(f->a, "DROP TABLE gone");
  SQLT_OK(f->b, "COMMIT");
  assert_int_equal(store_rows(f->db), before + 2);
  sqlt_conn *c = sqlt_open(f->db);
  SQLT_ROWS(c, "SELECT count(*) FROM t", "2\n");
  assert_int_equal(store_rows(f->db), before);
  sqlt_close(c);
}

/* The extension built beside this test program (build/mvcc.so). */
static char ext_path[1024];

/* A second process on the same database reads the store this one writes:
** its native tables work, it declares and reads the store's tables, and
** its writes and new tables are refused naming this process. */
static void test_sqlconc_second_process_reads_and_cannot_write(void **state) {
  fixture *f = *state;
  /* A real second process: the sqlite3 shell on the same database file. */
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "sqlite3 -batch -cmd '.load %s' '%s' 2>&1 <<'EOF'\n"
           "CREATE TABLE native(x); INSERT INTO native VALUES (1);\n"
           "SELECT 'native rows: ' || count(*) FROM native;\n"
           "SELECT 'mvcc rows: ' || count(*) FROM t;\n"
           "INSERT INTO t VALUES (3, 0);\n"
           "CREATE VIRTUAL TABLE temp.u USING mvcc(id INTEGER PRIMARY KEY, n);\n"
           "EOF\n",
           ext_path, f->db);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  char out[4096] = {0};
  size_t n = fread(out, 1, sizeof out - 1, p);
  pclose(p);
  out[n] = 0;
  assert_non_null(strstr(out, "native rows: 1"));  /* native tables work */
  assert_non_null(strstr(out, "mvcc rows: 2"));    /* the store is read */
  char who[64];
  snprintf(who, sizeof who, "written by process %ld", (long)getpid());
  const char *w1 = strstr(out, who), *w2 = w1 ? strstr(w1 + 1, who) : NULL;
  assert_non_null(w2); /* both writes refused, naming this process */
  assert_non_null(strstr(out, "attempt to write a readonly database"));
  SQLT_ROWS(f->obs, "SELECT count(*) FROM t", "2\n"); /* store unharmed */
  SQLT_ROWS(f->obs, "SELECT count(*) FROM main.native", "1\n");
}

int main(int argc, char **argv) {
  (void)argc;
  /* build/tests/test_sqlconc -> build/mvcc */
  snprintf(ext_path, sizeof ext_path, "%s", argv[0]);
  char *slash = strrchr(ext_path, '/');
  if (slash) *slash = 0;
  slash = strrchr(ext_path, '/');
  if (slash) *slash = 0; else snprintf(ext_path, sizeof ext_path, "..");
  char *abs = realpath(ext_path, NULL);
  if (getenv("MVCC_EXT")) /* sanitizer builds: an uninstrumented one */
    snprintf(ext_path, sizeof ext_path, "%s", getenv("MVCC_EXT"));
  else if (abs)
    snprintf(ext_path, sizeof ext_path, "%s/mvcc", abs);
  free(abs);
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_sqlconc_writers_do_not_share_the_file_lock),
      T(test_sqlconc_readonly_snapshot_and_fresh_after_commit),
      T(test_sqlconc_readonly_under_query_only),
      T(test_sqlconc_autocommit_counter),
      T(test_sqlconc_unique_values_inserted_once),
      T(test_sqlconc_online_index_build),
      T(test_sqlconc_predicate_read_through_index),
      T(test_sqlconc_disjoint_index_ranges_do_not_conflict),
      T(test_sqlconc_job_queue_claims_each_job_once),
      T(test_sqlconc_deadlock_between_connections),
      T(test_sqlconc_busy_timeout_bounds_lock_waits),
      T(test_sqlconc_dead_transaction_until_rollback),
      T(test_sqlconc_bank_invariant),
      T(test_sqlconc_list_append_is_serializable),
      T(test_sqlconc_retry_and_asked_lock_their_reads),
      T(test_sqlconc_hot_keys_retries_do_not_fail_on_their_reads),
      T(test_sqlconc_catalog_across_connections),
      T(test_sqlconc_store_options_first_to_give_decides),
      T(test_sqlconc_bulk_load_sees_rows_committed_into_its_range),
      T(test_sqlconc_rows_of_dropped_tables_are_swept),
      T(test_sqlconc_second_process_reads_and_cannot_write),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
