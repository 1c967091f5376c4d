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

/* A store whose failed reopen is retried at once (tests only). */
static kv_store *open_store_retrying(const char *dir) {
  kv_options o;
  kv_options_init(&o);
  o.write_buffer_bytes = 64 << 10;
  o.reopen_interval_ms = 0;
  kv_store *s = NULL;
  char *err = NULL;
  if (kv_store_open(dir, &o, &s, &err)) fail_msg("open %s: %s", dir, err);
  return s;
}

/* Commit i must fail with code want and a message holding what. */
static void commit_fails(kv_store *s, int i, int want, const char *what) {
  char *err = NULL;
  int rc = commit_txn(s, i, &err);
  if (rc != want || !err || !strstr(err, what))
    fail_msg("commit %d: %s (%s), wanted %s with \"%s\"", i,
             kv_code_name(rc), err ? err : "", kv_code_name(want), what);
  kv_free(err);
}

/* A store in a new watched directory (*tmp, *dir: the caller frees) with
** transaction 0 committed and acknowledged, whose transaction 1 then
** failed on the WAL with EIO; faultfs stays armed for kinds. */
static kv_store *store_after_eio(char **tmp, char **dir, bool *acked,
                                 int kinds) {
  *tmp = kvt_tempdir(1);
  *dir = realpath(*tmp, NULL);
  faultfs_watch(*dir);
  kv_store *s = open_store_retrying(*dir);
  KVT_RC(KV_OK, commit_txn(s, 0, errptr));
  acked[0] = true;
  faultfs_only(kinds, 0);
  faultfs_arm(1, EIO);
  char *err = NULL;
  assert_int_equal(commit_txn(s, 1, &err), KV_IOERR);
  kv_free(err);
  return s;
}

/* An EIO on a WAL write: the commit fails with KV_IOERR and has no effect,
** reads go on, RocksDB will not resume (the error is fatal for it), so
** writes fail with a message that says so, for as long as a transaction
** is open or a history iterator holds the engine; the next transaction to
** begin after both have ended reopens RocksDB underneath the open store,
** and writes work with everything acknowledged there, also after a close
** and an open from the directory. */
static void test_fault_eio_on_wal_reopens_when_nothing_is_open(void **state) {
  (void)state;
  char *tmp, *dir, *err = NULL;
  bool acked[KV_FAULT_ALL] = {0};
  kv_store *s = store_after_eio(&tmp, &dir, acked, FAULTFS_ALL);
  faultfs_disarm();
  kv_txn *open_txn = kvt_begin(s); /* holds the reopen off */
  commit_fails(s, 2, KV_IOERR, "no transaction is open");
  assert_int_equal(kv_store_health(s, &err), KV_IOERR);
  assert_non_null(strstr(err, "Input/output error"));
  kv_free(err);
  err = NULL;
  commit_fails(s, 3, KV_IOERR, "no transaction is open");
  assert_int_equal(has(open_txn, 'a', 0), 1); /* reads go on */
  kv_txn_abort(open_txn);
  kv_history *h = NULL; /* so does a history iterator */
  KVT_OK(kv_store_history(s, NULL, 0, NULL, 0, &h, errptr));
  commit_fails(s, 4, KV_IOERR, "no transaction is open");
  kv_history_close(h);
  kv_stats st;
  kv_store_stats(s, &st);
  assert_true(st.write_failures >= 1);
  assert_int_equal(st.reopens, 0);
  KVT_RC(KV_OK, commit_txn(s, 5, errptr)); /* reopened at its begin */
  acked[5] = true;
  kv_store_stats(s, &st);
  assert_int_equal(st.reopens, 1);
  assert_true(st.recoveries >= 1);
  KVT_RC(KV_OK, kv_store_health(s, errptr));
  check_store(s, acked, true); /* nothing of 1-4 shows */
  kv_store_close(s);
  faultfs_watch(NULL);
  s = open_store(dir);
  check_store(s, acked, true);
  KVT_RC(KV_OK, commit_txn(s, 6, errptr));
  acked[6] = true;
  check_store(s, acked, true);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
  free(tmp);
}

/* The reopen itself fails while the disk stays broken.  When files can
** still be opened and read, the store reads from a read-only instance and
** writes keep failing; when not even that works, the failed instance
** stays and still reads.  Either way GC, history, checkpoints and
** statistics answer or fail cleanly, and once the disk works the next
** begin reopens with every acknowledged commit there. */
static void test_fault_reopen_fails_while_disk_is_broken(void **state) {
  (void)state;
  char *tmp, *dir, *err = NULL;
  bool acked[KV_FAULT_ALL] = {0};
  /* Writes and fsyncs fail, opening for reading works. */
  kv_store *s = store_after_eio(&tmp, &dir, acked,
                                FAULTFS_WRITE | FAULTFS_SYNC);
  commit_fails(s, 2, KV_IOERR, "no transaction is open");
  check_store(s, acked, true); /* its begin tried the reopen: read-only */
  commit_fails(s, 3, KV_IOERR, "reopen");
  kv_stats st;
  kv_store_stats(s, &st);
  assert_int_equal(st.reopens, 0);
  faultfs_disarm();
  KVT_RC(KV_OK, commit_txn(s, 4, errptr));
  acked[4] = true;
  check_store(s, acked, true);
  /* Now opening fails too: the reopen cannot even read, so the failed
  ** instance stays, and still reads. */
  faultfs_only(FAULTFS_ALL, 0);
  faultfs_arm(1, EIO);
  assert_int_equal(commit_txn(s, 5, &err), KV_IOERR);
  kv_free(err);
  err = NULL;
  commit_fails(s, 6, KV_IOERR, "no transaction is open");
  check_store(s, acked, true); /* its begin's reopen failed */
  commit_fails(s, 7, KV_IOERR, "reopen");
  kv_history *h = NULL;
  KVT_OK(kv_store_history(s, NULL, 0, NULL, 0, &h, errptr));
  kv_history_close(h);
  kv_gc_stats gs;
  int grc = kv_store_gc(s, &gs, &err); /* deletes nothing, or fails */
  assert_true(grc == KV_OK || grc == KV_IOERR);
  kv_free(err);
  err = NULL;
  kv_ts at;
  char copy[700];
  snprintf(copy, sizeof copy, "%s-copy", dir);
  assert_int_equal(kv_store_checkpoint(s, copy, &at, &err), KV_IOERR);
  kv_free(err);
  kvt_rmrf(copy);
  kv_store_stats(s, &st); /* statistics still answer */
  faultfs_disarm();
  KVT_RC(KV_OK, commit_txn(s, 8, errptr));
  acked[8] = true;
  check_store(s, acked, true);
  kv_store_stats(s, &st);
  assert_int_equal(st.reopens, 2);
  kv_store_close(s);
  faultfs_watch(NULL);
  s = open_store(dir);
  check_store(s, acked, true);
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

/* Threads commit while the fault hits at the n-th counted call, for n
** over a range; after each run the store is reopened from its directory
** and every acknowledged commit must be there, whole.  once: one call
** fails (EIO on the WAL: fatal for RocksDB, so the store reopens itself
** between the threads' transactions); else every call from n on. */
static void concurrent_runs(int err_no, int once, long *reopens) {
  long runs = 0, acked = 0, failed = 0;
  for (long n = 5; n <= 60; n += 11) {
    char *tmp = kvt_tempdir(1);
    char *dir = realpath(tmp, NULL);
    faultfs_watch(dir);
    kv_store *s = once ? open_store_retrying(dir) : open_store(dir);
    faultfs_only(FAULTFS_ALL, once);
    faultfs_arm(n, err_no);
    committer c[KV_FAULT_THREADS];
    pthread_t th[KV_FAULT_THREADS];
    int want = err_no == ENOSPC ? KV_FULL : KV_IOERR;
    for (int t = 0; t < KV_FAULT_THREADS; t++) {
      c[t] = (committer){.s = s, .t = t, .want = want};
      assert_int_equal(pthread_create(&th[t], NULL, commit_thread, &c[t]), 0);
    }
    for (int t = 0; t < KV_FAULT_THREADS; t++) pthread_join(th[t], NULL);
    faultfs_disarm();
    kv_stats st;
    kv_store_stats(s, &st);
    *reopens += (long)st.reopens;
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
  faultfs_only(FAULTFS_ALL, 0);
  printf("concurrent, %s%s: %ld runs, %ld commits acknowledged, %ld "
         "failed, %ld reopens\n", strerror(err_no), once ? " once" : "",
         runs, acked, failed, *reopens);
  assert_true(failed > 0);
}

static void test_fault_concurrent_commits(void **state) {
  (void)state;
  long reopens = 0;
  concurrent_runs(ENOSPC, 0, &reopens);
}

/* A transient EIO among threads committing: the store reopens underneath
** them at a begin while none has a transaction open, then the threads go
** on committing; nothing acknowledged is lost. */
static void test_fault_concurrent_reopen(void **state) {
  (void)state;
  long reopens = 0;
  concurrent_runs(EIO, 1, &reopens);
  assert_true(reopens > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fault_eio_on_wal_reopens_when_nothing_is_open),
      cmocka_unit_test(test_fault_reopen_fails_while_disk_is_broken),
      cmocka_unit_test(test_fault_transient_fsync_failure),
      cmocka_unit_test(test_fault_concurrent_commits),
      cmocka_unit_test(test_fault_concurrent_reopen),
      cmocka_unit_test(test_fault_enospc_sweep),
      cmocka_unit_test(test_fault_eio_sweep),
      cmocka_unit_test(test_fault_transient_enospc_sweep),
      cmocka_unit_test(test_fault_transient_eio_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
