/*
** test_fault.c — I/O faults injected into the store's file calls (issue 16).
**
** faultfs.c (linked in) makes write, pwrite, fsync, fdatasync, rename,
** open and openat on the store's files fail from the n-th call on, with
** ENOSPC or EIO, until disarmed.  Each run of the sweep:
**   1. opens a fresh store (synchronous=full, 64 KiB memtables, so that
**      flushes and compactions run and can fail too), arms the fault at n;
**   2. commits KV_FAULT_TXNS transactions in turn, transaction i writing
**      a<i>, b<i> (value i) and overwriting "last" with i; it records
**      which commits were acknowledged.  A failed commit must fail with
**      KV_FULL (ENOSPC) or KV_IOERR (EIO), never abort the process;
**   3. while the fault is still armed, reads every acknowledged commit
**      back (reads keep working) and checks kv_store_health reports it;
**   4. disarms, commits once more (a recovery is tried: counted, not
**      required: RocksDB waits for its own polling after a full disk, and
**      some failures need a reopen), closes the store;
**   5. reopens it and checks: every acknowledged commit is there, every
**      transaction is all or nothing (a<i> and b<i> together), "last"
**      holds the highest i present, and the store takes a new commit.
** n sweeps the counted calls of a clean run (about 110) in KV_FAULT_RUNS
** steps, for each error, with the fault lasting (every call from the n-th
** on fails: a disk that stays full or broken) and transient (only the
** n-th fails).  make test runs the short sweeps (7 steps each, about 15 s
** in all); KV_FAULT_RUNS in the environment widens them: make fault-sweep
** tries every n (several minutes).
*/
#include "kvtest.h"

#include "faultfs.h"

#include <limits.h>

#define KV_FAULT_TXNS 40
#define KV_FAULT_VALUE 2000
/* Runs per error in make test: a run whose fault hit a flush takes a second
** (RocksDB sleeps 1 s after a failed background flush, and closing waits
** for it), so the short sweeps keep to about 15 s together. */
#define KV_FAULT_RUNS_DEFAULT 7
/* Transaction numbers: the sweep's, the one after disarming, the one after
** the reopen. */
#define KV_FAULT_ALL (KV_FAULT_TXNS + 2)

typedef struct sweep_totals {
  long runs, faults, failed_commits, acked, checks, recovered, bg_errors;
} sweep_totals;

static void key_of(char *buf, size_t n, char tag, int i) {
  snprintf(buf, n, "%c%04d", tag, i);
}

/* Transaction i's value: its number, padded to KV_FAULT_VALUE bytes so
** that the memtables fill and flush (and compactions run) during a run. */
static size_t value_of(char *buf, int i) {
  memset(buf, 'p', KV_FAULT_VALUE);
  int n = snprintf(buf, 16, "%d.", i);
  buf[n] = 'p';
  return KV_FAULT_VALUE;
}

/* Commits transaction i; returns its code (the transaction is ended). */
static int commit_txn(kv_store *s, int i, char **err) {
  kv_txn *t = NULL;
  int rc = kv_txn_begin(s, NULL, &t, err);
  if (rc) return rc;
  char k[16], v[KV_FAULT_VALUE];
  size_t vn = value_of(v, i);
  key_of(k, sizeof k, 'a', i);
  if (!rc) rc = kv_txn_put(t, k, strlen(k), v, vn, err);
  key_of(k, sizeof k, 'b', i);
  if (!rc) rc = kv_txn_put(t, k, strlen(k), v, vn, err);
  if (!rc) rc = kv_txn_put(t, "last", 4, v, vn, err);
  if (!rc && (rc = kv_txn_commit(t, NULL, err)) == KV_OK) return KV_OK;
  kv_txn_abort(t); /* a failed commit leaves the handle to free */
  return rc;
}

/* 1 if key holds value i, 0 if absent; fails the test otherwise. */
static int has(kv_txn *t, char tag, int i) {
  char k[16], v[KV_FAULT_VALUE];
  key_of(k, sizeof k, tag, i);
  value_of(v, i);
  const void *p;
  size_t n;
  char *err = NULL;
  int rc = kv_txn_get(t, k, strlen(k), 0, &p, &n, &err);
  if (rc == KV_NOTFOUND) return 0;
  if (rc) fail_msg("read of %s failed: %s", k, err);
  assert_int_equal(n, KV_FAULT_VALUE);
  assert_memory_equal(p, v, n);
  return 1;
}

/* Every acknowledged commit is there; with whole, every transaction is all
** or nothing and "last" names the highest one present. */
static long check_store(kv_store *s, const bool *acked, bool whole) {
  kv_txn *t = NULL;
  char *err = NULL;
  if (kv_txn_begin(s, NULL, &t, &err)) fail_msg("begin: %s", err);
  long checks = 0;
  int highest = -1;
  for (int i = 0; i < KV_FAULT_ALL; i++) {
    int a = has(t, 'a', i), b = has(t, 'b', i);
    if (acked[i]) assert_true(a && b);
    if (whole) assert_int_equal(a, b);
    if (a) highest = i;
    checks += 2;
  }
  if (whole) {
    const void *p;
    size_t n;
    int rc = kv_txn_get(t, "last", 4, 0, &p, &n, &err);
    if (highest < 0) {
      assert_int_equal(rc, KV_NOTFOUND);
    } else {
      assert_int_equal(rc, KV_OK);
      char v[KV_FAULT_VALUE];
      value_of(v, highest);
      assert_int_equal(n, KV_FAULT_VALUE);
      assert_memory_equal(p, v, n);
    }
    checks++;
  }
  kv_txn_abort(t);
  return checks;
}

static kv_store *open_store(const char *dir) {
  kv_options o;
  kv_options_init(&o);
  o.write_buffer_bytes = 64 << 10;
  kv_store *s = NULL;
  char *err = NULL;
  if (kv_store_open(dir, &o, &s, &err)) fail_msg("open %s: %s", dir, err);
  return s;
}

/* One run with the fault at call n (0: none); returns the counted calls. */
static long run_once(long n, int err_no, int once, sweep_totals *tot) {
  char *tmp = kvt_tempdir(1);
  char *dir = realpath(tmp, NULL);
  assert_non_null(dir);
  faultfs_watch(dir); /* before the open: its files are tracked */
  kv_store *s = open_store(dir);
  faultfs_only(FAULTFS_ALL, once);
  faultfs_arm(n, err_no);
  bool acked[KV_FAULT_ALL] = {0};
  int want = err_no == ENOSPC ? KV_FULL : KV_IOERR;
  for (int i = 0; i < KV_FAULT_TXNS; i++) {
    char *err = NULL;
    int rc = commit_txn(s, i, &err);
    if (rc == KV_OK) {
      acked[i] = true;
      tot->acked++;
    } else {
      if (rc != want)
        fail_msg("commit %d with the fault at %ld (%s): %s, wanted %s: %s",
                 i, n, strerror(err_no), kv_code_name(rc), kv_code_name(want),
                 err);
      tot->failed_commits++;
    }
    kv_free(err);
  }
  long calls = faultfs_calls();
  tot->faults += faultfs_failed();
  /* Reads while the fault is still there. */
  tot->checks += check_store(s, acked, false);
  if (faultfs_failed() > 0) {
    char *err = NULL;
    int rc = kv_store_health(s, &err);
    /* A fault in a background flush may not have been seen by a write. */
    if (rc) {
      assert_int_equal(rc, want);
      assert_non_null(err);
    }
    kv_free(err);
  }
  kv_stats st;
  kv_store_stats(s, &st);
  if (st.background_errors > 0) tot->bg_errors++;
  faultfs_disarm();
  char *err = NULL;
  if (commit_txn(s, KV_FAULT_TXNS, &err) == KV_OK) {
    acked[KV_FAULT_TXNS] = true;
    tot->recovered++;
  }
  kv_free(err);
  kv_store_close(s);
  faultfs_watch(NULL);

  s = open_store(dir);
  tot->checks += check_store(s, acked, true);
  err = NULL;
  if (commit_txn(s, KV_FAULT_TXNS + 1, &err)) fail_msg("after reopen: %s", err);
  acked[KV_FAULT_TXNS + 1] = true;
  tot->checks += check_store(s, acked, true);
  kv_store_close(s);
  tot->runs++;
  kvt_rmrf(dir);
  free(dir);
  free(tmp);
  return calls;
}

static long sweep_runs(void) {
  const char *e = getenv("KV_FAULT_RUNS");
  long v = e ? atol(e) : KV_FAULT_RUNS_DEFAULT;
  return v > 0 ? v : KV_FAULT_RUNS_DEFAULT;
}

static void sweep(int err_no, int once) {
  sweep_totals tot = {0};
  long calls = run_once(0, err_no, once, &tot); /* a clean run: no fault */
  assert_int_equal(tot.failed_commits, 0);
  long runs = sweep_runs(), step = calls / runs > 0 ? calls / runs : 1;
  for (long n = 1; n <= calls; n += step) run_once(n, err_no, once, &tot);
  faultfs_only(FAULTFS_ALL, 0);
  printf("%s, %s: %ld counted calls in a clean run; %ld runs, %ld faults "
         "injected, %ld commits failed, %ld acknowledged, %ld checks, "
         "%ld recovered without a reopen, %ld with RocksDB background "
         "errors\n",
         strerror(err_no), once ? "one call fails" : "every call from n on fails",
         calls, tot.runs, tot.faults, tot.failed_commits,
         tot.acked, tot.checks, tot.recovered, tot.bg_errors);
  assert_true(tot.failed_commits > 0);
}

static void test_fault_enospc_sweep(void **state) {
  (void)state;
  sweep(ENOSPC, 0);
}

static void test_fault_eio_sweep(void **state) {
  (void)state;
  sweep(EIO, 0);
}

static void test_fault_transient_enospc_sweep(void **state) {
  (void)state;
  sweep(ENOSPC, 1);
}

static void test_fault_transient_eio_sweep(void **state) {
  (void)state;
  sweep(EIO, 1);
}

/* An EIO on a WAL write: the commit fails with KV_IOERR and has no
** effect, reads go on, RocksDB will not resume (the error is fatal for it),
** so writes keep failing with a message that says to reopen; after a
** reopen everything acknowledged is there and writes work. */
static void test_fault_eio_on_wal_fails_writes_until_reopen(void **state) {
  (void)state;
  char *tmp = kvt_tempdir(1);
  char *dir = realpath(tmp, NULL);
  faultfs_watch(dir);
  kv_store *s = open_store(dir);
  bool acked[KV_FAULT_ALL] = {0};
  char *err = NULL;
  KVT_RC(KV_OK, commit_txn(s, 0, errptr));
  acked[0] = true;
  faultfs_arm(1, EIO);
  assert_int_equal(commit_txn(s, 1, &err), KV_IOERR);
  kv_free(err);
  faultfs_disarm();
  err = NULL;
  assert_int_equal(commit_txn(s, 2, &err), KV_IOERR);
  assert_non_null(strstr(err, "opened again"));
  kv_free(err);
  err = NULL;
  assert_int_equal(kv_store_health(s, &err), KV_IOERR);
  assert_non_null(strstr(err, "Input/output error"));
  kv_free(err);
  kv_stats st;
  kv_store_stats(s, &st);
  assert_true(st.write_failures >= 1);
  assert_int_equal(st.recoveries, 0);
  check_store(s, acked, true); /* reads work, nothing of 1 or 2 shows */
  kv_store_close(s);
  faultfs_watch(NULL);
  s = open_store(dir);
  check_store(s, acked, true);
  KVT_RC(KV_OK, commit_txn(s, 3, errptr));
  acked[3] = true;
  check_store(s, acked, true);
  KVT_RC(KV_OK, kv_store_health(s, errptr));
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
  free(tmp);
}

/* One fsync of the WAL fails once (EIO), nothing else: the commit waiting
** for it fails saying its outcome is unknown, the process does not abort,
** and every later write either works or fails cleanly (RocksDB never
** writes or syncs that WAL again); after a reopen every acknowledged
** commit is there and the failed one is whole or absent. */
static void test_fault_transient_fsync_failure(void **state) {
  (void)state;
  for (int nth = 1; nth <= 3; nth++) {
    char *tmp = kvt_tempdir(1);
    char *dir = realpath(tmp, NULL);
    faultfs_watch(dir);
    kv_store *s = open_store(dir);
    bool acked[KV_FAULT_ALL] = {0};
    faultfs_only(FAULTFS_SYNC, 1);
    faultfs_arm(nth, EIO);
    int failed = 0;
    for (int i = 0; i < 10; i++) {
      char *err = NULL;
      int rc = commit_txn(s, i, &err);
      if (rc == KV_OK) {
        acked[i] = true;
      } else {
        assert_int_equal(rc, KV_IOERR);
        if (!failed++) assert_non_null(strstr(err, "may or may not"));
      }
      kv_free(err);
    }
    assert_true(failed >= 1);
    check_store(s, acked, false);
    faultfs_disarm();
    faultfs_only(FAULTFS_ALL, 0);
    kv_store_close(s);
    faultfs_watch(NULL);
    s = open_store(dir);
    check_store(s, acked, true);
    kv_store_close(s);
    kvt_rmrf(dir);
    free(dir);
    free(tmp);
  }
}

/* Concurrent committers: KV_FAULT_THREADS threads, each committing its own
** keys (thread t, transaction j writes a<t*100+j> and b<...>), while a
** lasting fault arrives at call n.  Commits whose own WAL write went
** through before another's failed are still made durable (the group sync
** then fsyncs the WAL files itself); every acknowledged one is there after
** a reopen, none in part. */
#define KV_FAULT_THREADS 4
#define KV_FAULT_PER_THREAD 10

typedef struct committer {
  kv_store *s;
  int t;
  int want;
  bool acked[KV_FAULT_PER_THREAD];
} committer;

static void *commit_thread(void *arg) {
  committer *c = arg;
  for (int j = 0; j < KV_FAULT_PER_THREAD; j++) {
    char *err = NULL;
    kv_txn *t = NULL;
    int rc = kv_txn_begin(c->s, NULL, &t, &err);
    char k[16], v[KV_FAULT_VALUE];
    int i = c->t * 100 + j;
    size_t vn = value_of(v, i);
    key_of(k, sizeof k, 'a', i);
    if (!rc) rc = kv_txn_put(t, k, strlen(k), v, vn, &err);
    key_of(k, sizeof k, 'b', i);
    if (!rc) rc = kv_txn_put(t, k, strlen(k), v, vn, &err);
    if (!rc) rc = kv_txn_commit(t, NULL, &err);
    if (rc && t) kv_txn_abort(t);
    c->acked[j] = rc == KV_OK;
    /* KV_RETRY cannot happen: the threads write disjoint keys. */
    if (rc && rc != c->want && rc != KV_IOERR) c->want = -rc;
    kv_free(err);
  }
  return NULL;
}

static void test_fault_concurrent_commits(void **state) {
  (void)state;
  long runs = 0, acked = 0, failed = 0;
  for (long n = 5; n <= 60; n += 11) {
    char *tmp = kvt_tempdir(1);
    char *dir = realpath(tmp, NULL);
    faultfs_watch(dir);
    kv_store *s = open_store(dir);
    faultfs_only(FAULTFS_ALL, 0);
    faultfs_arm(n, ENOSPC);
    committer c[KV_FAULT_THREADS];
    pthread_t th[KV_FAULT_THREADS];
    for (int t = 0; t < KV_FAULT_THREADS; t++) {
      c[t] = (committer){.s = s, .t = t, .want = KV_FULL};
      assert_int_equal(pthread_create(&th[t], NULL, commit_thread, &c[t]), 0);
    }
    for (int t = 0; t < KV_FAULT_THREADS; t++) pthread_join(th[t], NULL);
    faultfs_disarm();
    kv_store_close(s);
    faultfs_watch(NULL);
    s = open_store(dir);
    kv_txn *txn = NULL;
    KVT_RC(KV_OK, kv_txn_begin(s, NULL, &txn, errptr));
    for (int t = 0; t < KV_FAULT_THREADS; t++) {
      assert_true(c[t].want > 0); /* only KV_FULL or KV_IOERR failures */
      for (int j = 0; j < KV_FAULT_PER_THREAD; j++) {
        int a = has(txn, 'a', t * 100 + j), b = has(txn, 'b', t * 100 + j);
        assert_int_equal(a, b);
        if (c[t].acked[j]) assert_true(a);
        acked += c[t].acked[j];
        failed += !c[t].acked[j];
      }
    }
    kv_txn_abort(txn);
    kv_store_close(s);
    runs++;
    kvt_rmrf(dir);
    free(dir);
    free(tmp);
  }
  printf("concurrent: %ld runs, %ld commits acknowledged, %ld failed\n",
         runs, acked, failed);
  assert_true(failed > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fault_eio_on_wal_fails_writes_until_reopen),
      cmocka_unit_test(test_fault_transient_fsync_failure),
      cmocka_unit_test(test_fault_concurrent_commits),
      cmocka_unit_test(test_fault_enospc_sweep),
      cmocka_unit_test(test_fault_eio_sweep),
      cmocka_unit_test(test_fault_transient_enospc_sweep),
      cmocka_unit_test(test_fault_transient_eio_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
