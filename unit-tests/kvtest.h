/*
** kvtest.h — shared helpers for kvcore's cmocka tests: temporary store
** directories, a manual wall clock, a scale factor for long tests, and
** assertion helpers that print kvcore's error messages; a per-test store
** fixture that checks nothing is left behind; helpers that observe a lock
** wait (the lock table's introspection) or a thread asleep in the kernel
** (/proc), so that a test asserting "still waiting" never passes because
** the waiter had not got there yet.
**
** KV_TEST_SCALE (environment, default 1.0) multiplies iteration counts of
** stress tests; the sanitizer builds run them smaller.
*/
#ifndef KVTEST_H
#define KVTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kvcore.h"

static inline double kvt_scale(void) {
  const char *s = getenv("KV_TEST_SCALE");
  double v = s ? atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}

static inline long kvt_scaled(long n) {
  long v = (long)(n * kvt_scale());
  return v < 1 ? 1 : v;
}

static int kvt_rm_cb(const char *p, const struct stat *sb, int flag,
                     struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

/* Removes a directory tree. */
static inline void kvt_rmrf(const char *path) {
  nftw(path, kvt_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh empty directory path under TMPDIR (the directory itself is
** created when create is set).  Caller frees. */
static inline char *kvt_tempdir(int create) {
  const char *base = getenv("TMPDIR");
  char tmpl[512];
  snprintf(tmpl, sizeof tmpl, "%s/kvtest-XXXXXX", base ? base : "/tmp");
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  if (!create) rmdir(d);
  return strdup(d);
}

/* Fails the test with kvcore's message when rc is not want. */
#define KVT_RC(want, expr)                                                  \
  do {                                                                      \
    char *kvt_err_ = NULL;                                                  \
    char **errptr = &kvt_err_;                                              \
    int kvt_rc_ = (expr);                                                   \
    if (kvt_rc_ != (want)) {                                                \
      print_error("%s:%d: %s returned %d (%s), wanted %d: %s\n", __FILE__,  \
                  __LINE__, #expr, kvt_rc_, kv_code_name(kvt_rc_), (want),  \
                  kvt_err_ ? kvt_err_ : "");                                \
      kv_free(kvt_err_);                                                    \
      fail();                                                               \
    }                                                                       \
    kv_free(kvt_err_);                                                      \
  } while (0)
#define KVT_OK(expr) KVT_RC(KV_OK, expr)

/* Writes text to a new file at path (replacing it). */
static inline void kvt_write_file(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
}

/* A manual wall clock: tests move time by hand, never by sleeping. */
typedef struct kvt_clock {
  _Atomic uint64_t now;
} kvt_clock;

static inline uint64_t kvt_clock_read(void *ctx) {
  return ((kvt_clock *)ctx)->now;
}

/* Default options whose wall clock is clk. */
static inline void kvt_clock_options(kv_options *o, kvt_clock *clk) {
  kv_options_init(o);
  o->wall_clock = kvt_clock_read;
  o->wall_clock_ctx = clk;
}

/* kv_store_open for tests that expect it to fail: the message stays in
** kvt_open_err until the next call. */
static char *kvt_open_err;
static inline int kvt_open_rc(const char *dir, const kv_options *o,
                              kv_store **out) {
  kv_free(kvt_open_err);
  kvt_open_err = NULL;
  *out = NULL;
  return kv_store_open(dir, o, out, &kvt_open_err);
}

/* A group teardown that frees kvt_open_err. */
static inline int kvt_open_cleanup(void **state) {
  (void)state;
  kv_free(kvt_open_err);
  kvt_open_err = NULL;
  return 0;
}

/* Opens the store in dir (NULL: the process's in-memory store) with
** options o (NULL: the defaults); fails the test on error. */
static inline kv_store *kvt_open_dir(const char *dir, const kv_options *o) {
  kv_store *s = NULL;
  KVT_OK(kv_store_open(dir, o, &s, errptr));
  return s;
}

static inline kv_txn *kvt_begin(kv_store *s) {
  kv_txn *t = NULL;
  KVT_OK(kv_txn_begin(s, NULL, &t, errptr));
  return t;
}

static inline void kvt_put(kv_txn *t, const char *k, const char *v) {
  KVT_OK(kv_txn_put(t, k, strlen(k), v, strlen(v), errptr));
}

/* Reads k; returns a static copy of the value, or NULL when absent. */
static inline const char *kvt_get(kv_txn *t, const char *k) {
  static __thread char buf[4096];
  const void *v;
  size_t n;
  char *err = NULL;
  int rc = kv_txn_get(t, k, strlen(k), 0, &v, &n, &err);
  if (rc == KV_NOTFOUND) return NULL;
  if (rc != KV_OK) {
    print_error("get %s: %s\n", k, err ? err : "");
    kv_free(err);
    fail();
  }
  if (n >= sizeof buf) n = sizeof buf - 1;
  memcpy(buf, v, n);
  buf[n] = 0;
  return buf;
}

static inline void kvt_commit(kv_txn *t) { KVT_OK(kv_txn_commit(t, NULL, errptr)); }

/* Writes k=v in a transaction of its own. */
static inline void kvt_put1(kv_store *s, const char *k, const char *v) {
  kv_txn *t = kvt_begin(s);
  kvt_put(t, k, v);
  kvt_commit(t);
}

static inline uint64_t kvt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline kv_ts kvt_commit_ts(kv_txn *t) {
  kv_ts c;
  KVT_OK(kv_txn_commit(t, &c, errptr));
  return c;
}

/* ------------------------------------------------ store fixture -- */

/* A store in a fresh directory (synchronous=normal) for one test, and a
** teardown that checks the test left no transaction or lock behind. */
typedef struct kvt_fixture {
  char *dir;
  kv_store *s;
} kvt_fixture;

static inline int kvt_setup_timeout(void **state, int lock_timeout_ms) {
  kvt_fixture *f = calloc(1, sizeof(*f));
  f->dir = kvt_tempdir(0);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_NORMAL;
  o.lock_timeout_ms = lock_timeout_ms;
  f->s = kvt_open_dir(f->dir, &o);
  *state = f;
  return 0;
}

/* Lock timeout 10 s: far above any wait a test means to see end. */
static inline int kvt_setup(void **state) {
  return kvt_setup_timeout(state, 10000);
}

static inline int kvt_teardown(void **state) {
  kvt_fixture *f = *state;
  kv_stats st;
  kv_store_stats(f->s, &st);
  /* Every test ends with nothing left behind. */
  assert_int_equal(st.active_txns, 0);
  assert_int_equal(st.locks_held, 0);
  kv_store_close(f->s);
  kvt_rmrf(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

/* ------------------------------------------ observing lock waits -- */

typedef struct kvt_waiter_probe {
  uint64_t id;
  int found;
} kvt_waiter_probe;

static inline void kvt_probe_lock(void *ctx, const void *k, size_t kl,
                                  uint64_t id, int is_waiter) {
  (void)k;
  (void)kl;
  kvt_waiter_probe *p = ctx;
  if (is_waiter && id == p->id) p->found = 1;
}

/* Waits (at most 10 s, else fails) until transaction id is queued for a
** lock, as the lock table's introspection shows. */
static inline void kvt_wait_until_queued(kv_store *s, uint64_t id) {
  uint64_t deadline = kvt_now_ns() + 10ULL * 1000000000ULL;
  for (;;) {
    kvt_waiter_probe p = {id, 0};
    kv_store_list_locks(s, kvt_probe_lock, &p);
    if (p.found) return;
    assert_true(kvt_now_ns() < deadline);
    usleep(200);
  }
}

typedef struct kvt_txn_probe {
  uint64_t id;
  kv_txn_info info;
  int found;
} kvt_txn_probe;

static inline void kvt_probe_txn(void *ctx, const kv_txn_info *ti) {
  kvt_txn_probe *p = ctx;
  if (ti->id == p->id) {
    p->info = *ti;
    p->found = 1;
  }
}

/* The introspection record of live transaction id (fails if it is gone). */
static inline kv_txn_info kvt_txn_info(kv_store *s, uint64_t id) {
  kvt_txn_probe p = {.id = id};
  kv_store_list_txns(s, kvt_probe_txn, &p);
  assert_true(p.found);
  return p.info;
}

/* A transaction run in another thread: one put, then commit (or abort on
** failure, recording why). */
typedef struct kvt_bg_put {
  kv_store *s;
  kv_txn *t;          /* begun by the main thread */
  const char *k, *v;
  int put_rc, commit_rc;
  kv_retry_reason reason;
  kv_ts cts;
  uint64_t done_ns;
  pthread_t th;
} kvt_bg_put;

static inline void *kvt_bg_put_main(void *arg) {
  kvt_bg_put *b = arg;
  b->put_rc = kv_txn_put(b->t, b->k, strlen(b->k), b->v, strlen(b->v), NULL);
  b->done_ns = kvt_now_ns();
  if (b->put_rc == KV_OK) {
    b->commit_rc = kv_txn_commit(b->t, &b->cts, NULL);
    if (b->commit_rc) {
      b->reason = kv_txn_retry_reason(b->t);
      kv_txn_abort(b->t);
    }
  } else {
    b->reason = kv_txn_retry_reason(b->t);
    kv_txn_abort(b->t);
  }
  return NULL;
}

static inline void kvt_bg_start(kvt_bg_put *b) {
  assert_int_equal(pthread_create(&b->th, NULL, kvt_bg_put_main, b), 0);
}

static inline void kvt_bg_join(kvt_bg_put *b) { pthread_join(b->th, NULL); }

/* -------------------------------------- a thread provably asleep -- */

/* The calling thread's kernel id, for the /proc probes below. */
static inline pid_t kvt_gettid(void) { return (pid_t)syscall(SYS_gettid); }

/* A thread's scheduler state ('R', 'S', ...), from
** /proc/self/task/<tid>/stat; '?' when it cannot be read. */
static inline char kvt_thread_state(pid_t tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  FILE *fp = fopen(path, "r");
  if (!fp) return '?';
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  fclose(fp);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the name may hold spaces or parentheses */
  return p && p[1] == ' ' ? p[2] : '?';
}

/* A thread's voluntary context switches so far; -1 when unreadable. */
static inline long kvt_thread_vcsw(pid_t tid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
  FILE *fp = fopen(path, "r");
  if (!fp) return -1;
  long v = -1;
  while (fgets(line, sizeof line, fp))
    if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1) break;
  fclose(fp);
  return v;
}

/* Waits (at most 10 s, else fails) until a thread that stores its kernel
** id in *tid (kvt_gettid) just before it blocks is asleep in the kernel,
** failing at once if it sets *done instead (it did not block).  The thread
** must do nothing that can sleep between announcing itself and the wait
** under test; then state S means it is parked in that wait.  Returns the
** thread's id. */
static inline pid_t kvt_wait_asleep(_Atomic pid_t *tid, _Atomic int *done) {
  uint64_t deadline = kvt_now_ns() + 10ULL * 1000000000ULL;
  while (atomic_load(tid) == 0) {
    assert_true(kvt_now_ns() < deadline);
    assert_int_equal(atomic_load(done), 0);
    usleep(50);
  }
  pid_t t = atomic_load(tid);
  while (kvt_thread_state(t) != 'S') {
    assert_true(kvt_now_ns() < deadline);
    assert_int_equal(atomic_load(done), 0); /* it must block */
    usleep(50);
  }
  assert_int_equal(atomic_load(done), 0);
  return t;
}

#endif /* KVTEST_H */
