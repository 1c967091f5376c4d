/*
** sqltest.h — helpers for the multi-connection SQL tests (cmocka).
**
** Each sqlt_conn is one SQLite connection driven by its own thread, so a
** test can start a statement that blocks on a lock (sqlt_start), do other
** things on other connections, and collect the result later (sqlt_wait).
** "Blocked" is observed, not assumed: sqlt_wait_waiting() polls the
** extension's mvcc_locks table until the statement's transaction shows up
** as a waiter.
**
** The extension is linked statically (build/libmvcc.a) and registered with
** sqlite3_auto_extension(), as an embedding program would.
*/
#ifndef SQLTEST_H
#define SQLTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int sqlite3_mvcc_init(sqlite3 *, char **, const void *);

static inline double sqlt_scale(void) {
  const char *s = getenv("KV_TEST_SCALE");
  double v = s ? atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}

static inline uint64_t sqlt_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static int sqlt_rm_cb(const char *p, const struct stat *sb, int f,
                      struct FTW *w) {
  (void)sb, (void)f, (void)w;
  return remove(p);
}

/* A fresh directory; returns the path of "<dir>/test.db" (caller frees). */
static inline char *sqlt_tempdb(void) {
  static int registered;
  if (!registered) {
    sqlite3_auto_extension((void (*)(void))sqlite3_mvcc_init);
    registered = 1;
  }
  char tmpl[256];
  const char *base = getenv("TMPDIR");
  snprintf(tmpl, sizeof tmpl, "%s/sqltest-XXXXXX", base ? base : "/tmp");
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  char *db = malloc(strlen(d) + 16);
  sprintf(db, "%s/test.db", d);
  return db;
}

/* Runs sql (one or more statements); SQLite's result code. */
static inline int sqlt_exec(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* The first column of sql's first row, as an integer (asserts there is
** one). */
static inline sqlite3_int64 sqlt_one_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  sqlite3_int64 v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static inline void sqlt_rmdb(char *db) {
  char *slash = strrchr(db, '/');
  *slash = 0;
  nftw(db, sqlt_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  free(db);
}

typedef struct sqlt_conn {
  sqlite3 *db;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *sql;          /* the statement to run, or NULL */
  bool busy, quit;
  int rc;
  char err[512];
  char out[4096];     /* rows as "a|b\n" */
} sqlt_conn;

static int sqlt_row_cb(void *ctx, int n, char **vals, char **names) {
  (void)names;
  sqlt_conn *c = ctx;
  size_t o = strlen(c->out);
  for (int i = 0; i < n && o + 64 < sizeof c->out; i++)
    o += (size_t)snprintf(c->out + o, sizeof c->out - o, "%s%s", i ? "|" : "",
                          vals[i] ? vals[i] : "NULL");
  if (o + 2 < sizeof c->out) {
    c->out[o++] = '\n';
    c->out[o] = 0;
  }
  return 0;
}

/* Runs sql on c's own connection now (the calling thread). */
static inline int sqlt_run(sqlt_conn *c, const char *sql) {
  char *err = NULL;
  c->out[0] = 0;
  c->rc = sqlite3_exec(c->db, sql, sqlt_row_cb, c, &err);
  snprintf(c->err, sizeof c->err, "%s", err ? err : "");
  sqlite3_free(err);
  return c->rc;
}

static void *sqlt_main(void *arg) {
  sqlt_conn *c = arg;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    while (!c->sql && !c->quit) pthread_cond_wait(&c->cv, &c->mu);
    if (c->quit) break;
    char *sql = c->sql;
    pthread_mutex_unlock(&c->mu);
    sqlt_run(c, sql);
    pthread_mutex_lock(&c->mu);
    free(c->sql);
    c->sql = NULL;
    c->busy = false;
    pthread_cond_broadcast(&c->cv);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

static inline sqlt_conn *sqlt_open(const char *db) {
  sqlt_conn *c = calloc(1, sizeof(*c));
  assert_int_equal(sqlite3_open(db, &c->db), SQLITE_OK);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  pthread_create(&c->th, NULL, sqlt_main, c);
  return c;
}

static inline void sqlt_close(sqlt_conn *c) {
  pthread_mutex_lock(&c->mu);
  c->quit = true;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->th, NULL);
  /* The strict close: it fails while any statement is left unfinalized,
  ** the extension's own included. */
  assert_int_equal(sqlite3_close(c->db), SQLITE_OK);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  free(c);
}

/* Starts sql on c's thread and returns at once. */
static inline void sqlt_start(sqlt_conn *c, const char *sql) {
  pthread_mutex_lock(&c->mu);
  assert_false(c->busy);
  c->sql = strdup(sql);
  c->busy = true;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

/* Waits (up to 20 s) for c's statement and returns its rc. */
static inline int sqlt_wait(sqlt_conn *c) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 20;
  pthread_mutex_lock(&c->mu);
  while (c->busy) {
    if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0) break;
  }
  bool stuck = c->busy;
  pthread_mutex_unlock(&c->mu);
  assert_false(stuck);
  return c->rc;
}

static inline bool sqlt_done(sqlt_conn *c) {
  pthread_mutex_lock(&c->mu);
  bool d = !c->busy;
  pthread_mutex_unlock(&c->mu);
  return d;
}

/* Runs sql on c's thread and waits for it. */
static inline int sqlt_do(sqlt_conn *c, const char *sql) {
  sqlt_start(c, sql);
  return sqlt_wait(c);
}

/* Runs sql and fails the test unless it succeeds. */
#define SQLT_OK(c, sql)                                                     \
  do {                                                                      \
    int rc_ = sqlt_do((c), (sql));                                          \
    if (rc_ != SQLITE_OK) {                                                 \
      print_error("%s:%d: %s -> %d %s\n", __FILE__, __LINE__, (sql), rc_,   \
                  (c)->err);                                                \
      fail();                                                               \
    }                                                                       \
  } while (0)

/* Runs a query and compares its rows ("a|b\n...") with want. */
#define SQLT_ROWS(c, sql, want)                                             \
  do {                                                                      \
    SQLT_OK((c), (sql));                                                    \
    if (strcmp((c)->out, (want)) != 0) {                                    \
      print_error("%s:%d: %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, \
                  (sql), (c)->out, (want));                                 \
      fail();                                                               \
    }                                                                       \
  } while (0)

/* Expects sql to fail with a primary code and a message fragment. */
#define SQLT_FAILS(c, sql, code, fragment)                                  \
  do {                                                                      \
    int rc_ = sqlt_do((c), (sql));                                          \
    if ((rc_ & 0xff) != (code) || !strstr((c)->err, (fragment))) {          \
      print_error("%s:%d: %s -> %d '%s', wanted %d '%s'\n", __FILE__,       \
                  __LINE__, (sql), rc_, (c)->err, (code), (fragment));      \
      fail();                                                               \
    }                                                                       \
  } while (0)

/* Waits until some transaction waits for a lock (seen through the
** introspection table from another connection `obs`). */
static inline void sqlt_wait_waiting(sqlt_conn *obs, int n) {
  uint64_t deadline = sqlt_now_ns() + 10ULL * 1000000000ULL;
  for (;;) {
    SQLT_OK(obs, "SELECT count(*) FROM mvcc_locks WHERE waiting");
    if (atoi(obs->out) >= n) return;
    assert_true(sqlt_now_ns() < deadline);
    usleep(500);
  }
}

#endif /* SQLTEST_H */
