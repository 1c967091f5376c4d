/*
** test_timetravel.c — time travel through SQL under concurrency, checked by
** invariants and by the writers' own history, never by timing.
**
**   - bank as of past commits: writer threads move money between accounts
**     in two tables (checking and savings), and deposit and withdraw, each
**     transaction recording its mvcc_commit_ts() and how it changed each
**     table's total; reader threads pick recorded timestamps at random and
**     read both tables' totals as of each (BEGIN; SELECT mvcc_as_of(T)).
**     Once every writer is done, each reading must equal the initial totals
**     plus the changes of every commit at or before T: exact, in both
**     tables at once.  Time-travel reads never fail and never restart.
**   - GC under time travel: on a store with retention='1 second' (the GC
**     thread runs every second), a transaction as of T keeps reading T's
**     rows while later versions pile up and GC passes run; GC meanwhile
**     collects the versions older than T's (none that T sees) and no
**     version above T.  Once the transaction ends, GC takes every row down
**     to its newest version, and T is refused as older than the window.
**     Waits are for GC passes counted in mvcc_stats, with a deadline.
**   - a commit in flight at T (prepared, its keys latched, waiting for
**     SQLite's file lock) is waited for by a reader as of T above its
**     timestamp and seen, while a reader below it neither waits nor sees it;
**   - a statement planned over an index built after T, before mvcc_as_of,
**     is refused rather than answered from the index's missing entries.
*/
#include "sqltest.h"

#include "kvcore.h"

enum { NACC = 8, INITIAL = 1000, NWRITERS = 3, NREADERS = 2 };

static unsigned rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 16) & 0x7fff;
}

/* The text of the first column of sql's first row, copied into out ("" for
** NULL); the step's result code. */
static int query_text(sqlite3 *db, const char *sql, char *out, size_t n) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  out[0] = 0;
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *z = (const char *)sqlite3_column_text(st, 0);
    snprintf(out, n, "%s", z ? z : "");
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

static int64_t query_int(sqlite3 *db, const char *sql) {
  char buf[64];
  assert_int_equal(query_text(db, sql, buf, sizeof buf), SQLITE_OK);
  return strtoll(buf, NULL, 10);
}

/* ---------------------------------------------------- bank as of T -- */

typedef struct commit_rec {
  char ts[48];
  int64_t dc, ds;        /* change of checking's and savings' totals */
} commit_rec;

typedef struct reading {
  char ts[48];
  int64_t c, s, rows;
} reading;

typedef struct bank {
  const char *db;
  pthread_mutex_t mu;
  commit_rec *hist;      /* mu */
  int nhist, caphist;
  int writers_left;      /* mu */
} bank;

typedef struct worker {
  bank *b;
  int id, iters;
  long commits, retries, errors;
  reading *reads;
  int nreads;
  pthread_t th;
} worker;

static void bank_record(bank *b, const char *ts, int64_t dc, int64_t ds) {
  pthread_mutex_lock(&b->mu);
  if (b->nhist == b->caphist) {
    b->caphist = b->caphist ? 2 * b->caphist : 256;
    b->hist = realloc(b->hist, sizeof(*b->hist) * (size_t)b->caphist);
    assert_non_null(b->hist);
  }
  commit_rec *r = &b->hist[b->nhist++];
  snprintf(r->ts, sizeof r->ts, "%s", ts);
  r->dc = dc;
  r->ds = ds;
  pthread_mutex_unlock(&b->mu);
}

/* One writer transaction: a transfer between the tables (either way), or a
** deposit or withdrawal in one of them. */
static void *writer_main(void *arg) {
  worker *w = arg;
  sqlite3 *db;
  assert_int_equal(sqlite3_open(w->b->db, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  unsigned seed = 7919u * (unsigned)w->id + 11;
  for (int i = 0; i < w->iters; i++) {
    int kind = (int)(rnd(&seed) % 4);
    int a = (int)(rnd(&seed) % NACC), c = (int)(rnd(&seed) % NACC);
    int amt = 1 + (int)(rnd(&seed) % 50);
    char sql[320];
    int64_t dc = 0, ds = 0;
    switch (kind) {
      case 0: /* checking -> savings */
        snprintf(sql, sizeof sql,
                 "BEGIN; UPDATE checking SET bal = bal - %d WHERE id = %d; "
                 "UPDATE savings SET bal = bal + %d WHERE id = %d; COMMIT",
                 amt, a, amt, c);
        dc = -amt, ds = amt;
        break;
      case 1: /* savings -> checking */
        snprintf(sql, sizeof sql,
                 "BEGIN; UPDATE savings SET bal = bal - %d WHERE id = %d; "
                 "UPDATE checking SET bal = bal + %d WHERE id = %d; COMMIT",
                 amt, a, amt, c);
        dc = amt, ds = -amt;
        break;
      case 2: /* a deposit, autocommit */
        snprintf(sql, sizeof sql,
                 "UPDATE checking SET bal = bal + %d WHERE id = %d", amt, a);
        dc = amt;
        break;
      default: /* a withdrawal, autocommit */
        snprintf(sql, sizeof sql,
                 "UPDATE savings SET bal = bal - %d WHERE id = %d", amt, a);
        ds = -amt;
        break;
    }
    for (;;) {
      int rc = sqlt_exec(db, sql);
      if (rc == SQLITE_OK) {
        char ts[64];
        assert_int_equal(query_text(db, "SELECT mvcc_commit_ts()", ts,
                                    sizeof ts), SQLITE_OK);
        assert_true(ts[0] != 0);
        bank_record(w->b, ts, dc, ds);
        w->commits++;
        break;
      }
      sqlt_exec(db, "ROLLBACK");
      if ((rc & 0xff) != SQLITE_BUSY) {
        w->errors++;
        break;
      }
      w->retries++;
    }
  }
  sqlite3_close(db);
  pthread_mutex_lock(&w->b->mu);
  w->b->writers_left--;
  pthread_mutex_unlock(&w->b->mu);
  return NULL;
}

/* Reads both totals as of a recorded commit, while writers run. */
static void *reader_main(void *arg) {
  worker *w = arg;
  bank *b = w->b;
  sqlite3 *db;
  assert_int_equal(sqlite3_open(b->db, &db), SQLITE_OK);
  unsigned seed = 104729u * (unsigned)w->id + 5;
  int cap = 64;
  w->reads = malloc(sizeof(*w->reads) * (size_t)cap);
  for (;;) {
    pthread_mutex_lock(&b->mu);
    bool more = b->writers_left > 0;
    reading r;
    int pick = (int)(((unsigned)rnd(&seed) << 15 | rnd(&seed)) %
                     (unsigned)b->nhist);
    snprintf(r.ts, sizeof r.ts, "%s", b->hist[pick].ts);
    pthread_mutex_unlock(&b->mu);
    if (!more) break;
    char sql[200], asof[64];
    snprintf(sql, sizeof sql, "SELECT mvcc_as_of('%s')", r.ts);
    int rc = sqlt_exec(db, "BEGIN");
    if (rc == SQLITE_OK) rc = query_text(db, sql, asof, sizeof asof);
    if (rc == SQLITE_OK) {
      assert_string_equal(asof, r.ts);
      r.c = query_int(db, "SELECT sum(bal) FROM checking");
      r.s = query_int(db, "SELECT sum(bal) FROM savings");
      r.rows = query_int(db, "SELECT (SELECT count(*) FROM checking) + "
                             "(SELECT count(*) FROM savings)");
      rc = sqlt_exec(db, "COMMIT");
    }
    if (rc != SQLITE_OK) {
      print_error("as-of read failed: %s\n", sqlite3_errmsg(db));
      sqlt_exec(db, "ROLLBACK");
      w->errors++;
      continue;
    }
    if (w->nreads == cap) {
      cap *= 2;
      w->reads = realloc(w->reads, sizeof(*w->reads) * (size_t)cap);
      assert_non_null(w->reads);
    }
    w->reads[w->nreads++] = r;
  }
  sqlite3_close(db);
  return NULL;
}

static int rec_cmp(const void *a, const void *b) {
  return strcmp(((const commit_rec *)a)->ts, ((const commit_rec *)b)->ts);
}

static void test_timetravel_bank_totals_as_of_commits(void **state) {
  (void)state;
  char *path = sqlt_tempdb();
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlt_exec(db, "CREATE VIRTUAL TABLE temp.checking USING "
                             "mvcc(id INTEGER PRIMARY KEY, bal INTEGER); "
                             "CREATE VIRTUAL TABLE temp.savings USING "
                             "mvcc(id INTEGER PRIMARY KEY, bal INTEGER)"),
                   SQLITE_OK);
  assert_int_equal(sqlt_exec(db, "BEGIN"), SQLITE_OK);
  for (int i = 0; i < NACC; i++) {
    char sql[160];
    snprintf(sql, sizeof sql,
             "INSERT INTO checking VALUES (%d, %d); "
             "INSERT INTO savings VALUES (%d, %d)",
             i, INITIAL, i, INITIAL);
    assert_int_equal(sqlt_exec(db, sql), SQLITE_OK);
  }
  assert_int_equal(sqlt_exec(db, "COMMIT"), SQLITE_OK);
  bank b = {.db = path, .writers_left = NWRITERS};
  pthread_mutex_init(&b.mu, NULL);
  char ts0[64];
  assert_int_equal(query_text(db, "SELECT mvcc_commit_ts()", ts0, sizeof ts0),
                   SQLITE_OK);
  /* The setup commit: both totals from 0. */
  bank_record(&b, ts0, (int64_t)NACC * INITIAL, (int64_t)NACC * INITIAL);
  worker w[NWRITERS + NREADERS];
  memset(w, 0, sizeof w);
  for (int i = 0; i < NWRITERS + NREADERS; i++) {
    w[i] = (worker){.b = &b, .id = i,
                    .iters = (int)(150 * sqlt_scale()) + 1};
    pthread_create(&w[i].th, NULL, i < NWRITERS ? writer_main : reader_main,
                   &w[i]);
  }
  for (int i = 0; i < NWRITERS + NREADERS; i++) pthread_join(w[i].th, NULL);
  /* Every commit has returned and is in the history: each reading as of T
  ** must be the sum of the commits at or before T. */
  qsort(b.hist, (size_t)b.nhist, sizeof *b.hist, rec_cmp);
  /* Transactions that do not conflict may share a commit timestamp (two
  ** writers pushed above one read); T then includes both. */
  long ties = 0;
  for (int i = 1; i < b.nhist; i++)
    ties += strcmp(b.hist[i - 1].ts, b.hist[i].ts) == 0;
  long checked = 0, retries = 0, commits = 0;
  for (int i = 0; i < NWRITERS + NREADERS; i++) {
    assert_int_equal(w[i].errors, 0);
    retries += w[i].retries;
    commits += w[i].commits;
    for (int k = 0; k < w[i].nreads; k++) {
      reading *r = &w[i].reads[k];
      int64_t c = 0, s = 0;
      for (int h = 0; h < b.nhist && strcmp(b.hist[h].ts, r->ts) <= 0; h++) {
        c += b.hist[h].dc;
        s += b.hist[h].ds;
      }
      if (r->c != c || r->s != s || r->rows != 2 * NACC)
        print_error("as of %s: read %lld + %lld (%lld rows), history says "
                    "%lld + %lld\n",
                    r->ts, (long long)r->c, (long long)r->s,
                    (long long)r->rows, (long long)c, (long long)s);
      assert_int_equal(r->c, c);
      assert_int_equal(r->s, s);
      assert_int_equal(r->rows, 2 * NACC);
      checked++;
    }
    free(w[i].reads);
  }
  /* And now: the sum of all of it. */
  int64_t c = 0, s = 0;
  for (int h = 0; h < b.nhist; h++) c += b.hist[h].dc, s += b.hist[h].ds;
  assert_int_equal(query_int(db, "SELECT sum(bal) FROM checking"), c);
  assert_int_equal(query_int(db, "SELECT sum(bal) FROM savings"), s);
  assert_true(checked > 0);
  print_message("    time travel: %ld snapshots as of past commits checked "
                "exact against %ld commits (%ld sharing a timestamp, %ld "
                "writer retries)\n",
                checked, commits, ties, retries);
  free(b.hist);
  pthread_mutex_destroy(&b.mu);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  sqlt_rmdb(path);
}

/* ----------------------------------------------- GC under time travel -- */

enum { GC_ROWS = 20, GC_BEFORE = 5 };

/* Versions of every row of every table in the store (kvcore's history of
** the row range 0x01..0x02). */
static int64_t row_versions(kv_store *s) {
  kv_history *h;
  assert_int_equal(kv_store_history(s, "\x01", 1, "\x02", 1, &h, NULL),
                   KV_OK);
  int64_t n = 0;
  while (kv_history_next(h, NULL) == KV_OK) n++;
  kv_history_close(h);
  return n;
}

/* Waits for the GC thread to finish `passes` more passes, running step(ctx)
** meanwhile; fails after a generous deadline. */
static void await_gc(sqlite3 *db, int passes, void (*step)(void *), void *ctx) {
  int64_t start = query_int(db, "SELECT value FROM mvcc_stats WHERE name = "
                                "'gc_runs' AND store LIKE '%short'");
  uint64_t deadline = sqlt_now_ns() + 30000000000ULL;
  while (query_int(db, "SELECT value FROM mvcc_stats WHERE name = 'gc_runs' "
                       "AND store LIKE '%short'") < start + passes) {
    assert_true(sqlt_now_ns() < deadline);
    if (step) step(ctx);
    usleep(step ? 5000 : 20000); /* pace the loop; the pass is the event */
  }
}

typedef struct gc_ctx {
  sqlite3 *writer, *reader;
  int rounds;            /* updates of every row since T */
} gc_ctx;

/* One more version of every row, then the reader's check as of T. */
static void gc_step(void *arg) {
  gc_ctx *g = arg;
  assert_int_equal(sqlt_exec(g->writer, "UPDATE t SET v = v + 1"), SQLITE_OK);
  g->rounds++;
  assert_int_equal(query_int(g->reader, "SELECT sum(v) FROM t"),
                   GC_BEFORE * GC_ROWS);
  assert_int_equal(query_int(g->reader, "SELECT count(*) FROM t"), GC_ROWS);
}

static void test_timetravel_gc_keeps_what_an_as_of_reader_reads(void **state) {
  (void)state;
  char *path = sqlt_tempdb();
  char store[1100];
  snprintf(store, sizeof store, "%s", path);
  strcpy(strrchr(store, '/') + 1, "short");
  sqlite3 *w, *r;
  assert_int_equal(sqlite3_open(path, &w), SQLITE_OK);
  assert_int_equal(sqlite3_open(path, &r), SQLITE_OK);
  char sql[1400];
  snprintf(sql, sizeof sql,
           "CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, "
           "v INTEGER, store='%s', retention='1 second')",
           store);
  assert_int_equal(sqlt_exec(w, sql), SQLITE_OK);
  snprintf(sql, sizeof sql, "SELECT mvcc_attach('%s')", store);
  assert_int_equal(sqlt_exec(r, sql), SQLITE_OK);
  /* History before T: an insert and GC_BEFORE - 1 updates of every row. */
  assert_int_equal(sqlt_exec(w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
                            "SELECT i + 1 FROM n WHERE i < 20) "
                            "INSERT INTO t SELECT i, 1 FROM n"),
                   SQLITE_OK);
  for (int i = 1; i < GC_BEFORE; i++)
    assert_int_equal(sqlt_exec(w, "UPDATE t SET v = v + 1"), SQLITE_OK);
  char ts[64];
  assert_int_equal(query_text(w, "SELECT mvcc_commit_ts()", ts, sizeof ts),
                   SQLITE_OK);
  kv_store *s;
  assert_int_equal(kv_store_open(store, NULL, &s, NULL), KV_OK);
  assert_int_equal(row_versions(s), GC_ROWS * GC_BEFORE);
  int64_t collected0 = query_int(w, "SELECT value FROM mvcc_stats WHERE name "
                                    "= 'gc_versions_collected' AND store LIKE "
                                    "'%short'");
  /* The reader as of T, held open across GC passes. */
  assert_int_equal(sqlt_exec(r, "BEGIN"), SQLITE_OK);
  snprintf(sql, sizeof sql, "SELECT mvcc_as_of('%s')", ts);
  assert_int_equal(sqlt_exec(r, sql), SQLITE_OK);
  gc_ctx g = {.writer = w, .reader = r};
  gc_step(&g);
  /* T falls out of the window after a second; passes from then on would
  ** collect T's versions but for the reader.  Three passes: at least two
  ** of them after that. */
  await_gc(w, 3, gc_step, &g);
  int64_t collected1 = query_int(w, "SELECT value FROM mvcc_stats WHERE name "
                                    "= 'gc_versions_collected' AND store LIKE "
                                    "'%short'");
  /* Per row: the versions older than T's went, T's and every later one
  ** stayed. */
  assert_true(collected1 - collected0 >= GC_ROWS * (GC_BEFORE - 1));
  assert_int_equal(row_versions(s), GC_ROWS * (1 + g.rounds));
  gc_step(&g);
  assert_int_equal(sqlt_exec(r, "COMMIT"), SQLITE_OK);
  /* Released: GC takes every row down to its newest version. */
  int64_t piled = row_versions(s);
  uint64_t deadline = sqlt_now_ns() + 30000000000ULL;
  while (row_versions(s) > GC_ROWS) {
    assert_true(sqlt_now_ns() < deadline);
    await_gc(w, 1, NULL, NULL);
  }
  int64_t collected2 = query_int(w, "SELECT value FROM mvcc_stats WHERE name "
                                    "= 'gc_versions_collected' AND store LIKE "
                                    "'%short'");
  assert_true(collected2 - collected1 >= piled - GC_ROWS);
  assert_int_equal(query_int(w, "SELECT sum(v) FROM t"),
                   GC_ROWS * (GC_BEFORE + g.rounds));
  /* T is older than the window now: refused when the transaction first
  ** reads the store (mvcc_as_of itself checks the default store). */
  assert_int_equal(sqlt_exec(r, "BEGIN"), SQLITE_OK);
  assert_int_equal(sqlt_exec(r, sql), SQLITE_OK);
  assert_int_equal(sqlt_exec(r, "SELECT count(*) FROM t"), SQLITE_ERROR);
  assert_non_null(strstr(sqlite3_errmsg(r), "older than the retention window"));
  assert_non_null(strstr(sqlite3_errmsg(r), "(1 second;"));
  assert_int_equal(sqlt_exec(r, "ROLLBACK"), SQLITE_OK);
  print_message("    GC under time travel: %lld versions collected while a "
                "reader as of T kept its rows (%d later versions of each of "
                "%d rows kept), %lld more once it ended\n",
                (long long)(collected1 - collected0), g.rounds, GC_ROWS,
                (long long)(collected2 - collected1));
  kv_store_close(s);
  assert_int_equal(sqlite3_close(r), SQLITE_OK);
  assert_int_equal(sqlite3_close(w), SQLITE_OK);
  sqlt_rmdb(path);
}

/* ------------------------------------------ a commit in flight at T -- */

/* Polls obs until the first column of sql's row reaches at least want. */
static void await_count(sqlt_conn *obs, const char *sql, long want) {
  uint64_t deadline = sqlt_now_ns() + 10ULL * 1000000000ULL;
  for (;;) {
    SQLT_OK(obs, sql);
    if (atol(obs->out) >= want) return;
    assert_true(sqlt_now_ns() < deadline);
    usleep(500);
  }
}

/* A commit in flight at T: a has prepared its commit (timestamp c, its keys
** latched) and waits for SQLite's lock on the main file, which b holds.  A
** reader as of a time below c reads at once and sees the old row; a reader
** as of T > c waits for a's write (mvcc_stats counts the latch wait) and
** then sees it: the snapshot at T is exact, not missing a commit at or
** below T that was still being written. */
static void test_timetravel_waits_for_a_commit_in_flight_below_T(void **state) {
  (void)state;
  char *path = sqlt_tempdb();
  sqlt_conn *a = sqlt_open(path);
  SQLT_OK(a, "CREATE VIRTUAL TABLE temp.k USING mvcc(id INTEGER PRIMARY KEY, "
             "v TEXT); INSERT INTO k VALUES (1, 'old'), (2, 'old'); "
             "CREATE TABLE native(x)");
  SQLT_OK(a, "SELECT mvcc_commit_ts()");
  char ts0[64], t[64], sql[256];
  snprintf(ts0, sizeof ts0, "%.*s", (int)strcspn(a->out, "\n"), a->out);
  /* r and w reach the store through mvcc_attach from in-memory databases:
  ** while a waits for its EXCLUSIVE lock on test.db, SQLite lets no new
  ** reader lock that file, and every statement of a connection whose main
  ** database it is would need one. */
  sqlt_conn *b = sqlt_open(path), *r = sqlt_open(":memory:"),
            *w = sqlt_open(":memory:");
  snprintf(sql, sizeof sql, "SELECT mvcc_attach('%s-mvcc')", path);
  SQLT_OK(r, sql);
  SQLT_OK(w, sql);
  SQLT_OK(a, "PRAGMA busy_timeout = 15000");
  SQLT_OK(b, "BEGIN; SELECT count(*) FROM native");
  sqlt_start(a, "BEGIN; UPDATE k SET v = 'new' WHERE id = 1; "
                "INSERT INTO native VALUES (1); COMMIT");
  await_count(w, "SELECT count(*) FROM mvcc_txns WHERE status = 'committing'",
              1);
  assert_false(sqlt_done(a));
  /* T: a commit that began after a's prepared, so above c. */
  SQLT_OK(w, "UPDATE k SET v = 'w' WHERE id = 2; SELECT mvcc_commit_ts()");
  snprintf(t, sizeof t, "%.*s", (int)strcspn(w->out, "\n"), w->out);
  snprintf(sql, sizeof sql, "BEGIN; SELECT mvcc_as_of('%s') IS NOT NULL; "
                            "SELECT v FROM k ORDER BY id; COMMIT", ts0);
  SQLT_ROWS(r, sql, "1\nold\nold\n");
  SQLT_OK(w, "SELECT value FROM mvcc_stats WHERE name = 'latch_waits' AND "
             "store LIKE '%test.db-mvcc'");
  long waits0 = atol(w->out);
  snprintf(sql, sizeof sql, "BEGIN; SELECT mvcc_as_of('%s') IS NOT NULL; "
                            "SELECT v FROM k ORDER BY id; COMMIT", t);
  sqlt_start(r, sql);
  /* Its transaction has begun (it reads at once); it cannot end before a's
  ** write, which waits for b. */
  await_count(w, "SELECT count(*) FROM mvcc_txns WHERE read_only", 1);
  assert_false(sqlt_done(r));
  SQLT_OK(b, "COMMIT"); /* a's commit goes on, and with it the reader */
  assert_int_equal(sqlt_wait(a), SQLITE_OK);
  assert_int_equal(sqlt_wait(r), SQLITE_OK);
  assert_string_equal(r->out, "1\nnew\nw\n");
  SQLT_OK(a, "SELECT mvcc_commit_ts()");
  assert_true(strncmp(a->out, t, strlen(t)) < 0);
  SQLT_OK(w, "SELECT value FROM mvcc_stats WHERE name = 'latch_waits' AND "
             "store LIKE '%test.db-mvcc'");
  print_message("    a commit in flight below T: the reader as of T saw it "
                "(%ld latch wait(s))\n", atol(w->out) - waits0);
  sqlt_close(w);
  sqlt_close(r);
  sqlt_close(b);
  sqlt_close(a);
  sqlt_rmdb(path);
}

/* ------------------------------------- plans over later indexes -- */

/* A statement prepared before mvcc_as_of may plan over an index built after
** T, which has no entries for T's rows: it is refused, not answered short;
** prepared after mvcc_as_of, its plan reads the table and finds them. */
static void test_timetravel_plan_over_later_index_is_refused(void **state) {
  (void)state;
  char *path = sqlt_tempdb();
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlt_exec(db, "CREATE VIRTUAL TABLE temp.p USING mvcc(id "
                             "INTEGER PRIMARY KEY, color TEXT); "
                             "INSERT INTO p VALUES (1, 'red'), (2, 'blue')"),
                   SQLITE_OK);
  char ts[64], sql[160];
  assert_int_equal(query_text(db, "SELECT mvcc_commit_ts()", ts, sizeof ts),
                   SQLITE_OK);
  assert_int_equal(sqlt_exec(db, "SELECT mvcc_create_index('p_color', 'p', "
                             "'color')"),
                   SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT id FROM p WHERE color = "
                                          "'red'", -1, &st, NULL),
                   SQLITE_OK);
  snprintf(sql, sizeof sql, "BEGIN; SELECT mvcc_as_of('%s')", ts);
  assert_int_equal(sqlt_exec(db, sql), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ERROR);
  assert_non_null(strstr(sqlite3_errmsg(db), "index p_color of p was built "
                                             "after the time"));
  sqlite3_finalize(st);
  assert_int_equal(query_int(db, "SELECT id FROM p WHERE color = 'red'"), 1);
  assert_int_equal(sqlt_exec(db, "COMMIT"), SQLITE_OK);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
  sqlt_rmdb(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_timetravel_bank_totals_as_of_commits),
      cmocka_unit_test(test_timetravel_gc_keeps_what_an_as_of_reader_reads),
      cmocka_unit_test(test_timetravel_plan_over_later_index_is_refused),
      cmocka_unit_test(test_timetravel_waits_for_a_commit_in_flight_below_T),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
