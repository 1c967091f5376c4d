/*
** kvtest.h — shared helpers for kvcore's cmocka tests: temporary store
** directories, a manual wall clock, a scale factor for long tests, and
** assertion helpers that print kvcore's error messages.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* A manual wall clock: tests move time by hand, never by sleeping. */
typedef struct kvt_clock {
  _Atomic uint64_t now;
} kvt_clock;

static inline uint64_t kvt_clock_read(void *ctx) {
  return ((kvt_clock *)ctx)->now;
}

/* Opens the in-memory store... no: a store in a fresh directory with
** defaults changed by the caller afterwards.  *dir receives the path. */
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

#endif /* KVTEST_H */
