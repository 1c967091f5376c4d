/*
** test_txn.c — the transaction protocol of txn.c, scenario by scenario
** (4-7 and 9 of the kvcore issue) and the seed project's protocol bugs
** (B4, B6, B8): reads that meet locks, timestamp-cache pushes, read refresh
** success and failure (points and phantoms), write too old, lost updates,
** locking reads (waiting, answering from an earlier read or a known gap,
** and ordering the next writer of a key read but not written),
** savepoints, failed commits that release their locks so a retry never
** waits on its own past, read-only transactions, strict
** serializability of begin after commit, two-phase commit
** (kv_txn_prepare), and transactions whose every read locks
** (kv_txn_options.lock_reads, for retries on hot keys): the lost update
** waits instead, an absent key is locked, none with read_only, and their
** deadlocks are detected.
**
** Lock waits are in test_locktable.c, deadlocks in test_waitq.c, engine
** iterator reuse in test_engine.c.  Waiting is observed, never assumed: a
** test that needs "T2 is now queued" polls the lock table's introspection
** until T2 shows up as a waiter (kvt_wait_until_queued).
*/
#include "kvtest.h"

/* ------------------------------------------- 4. read meets lock -- */

static void test_txn_read_meets_lock_does_not_block(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k", "old");
  kvt_put1(f->s, "j", "jj");
  kv_txn *w = kvt_begin(f->s);
  assert_string_equal(kvt_get(w, "j"), "jj"); /* the writer also read */
  kvt_put(w, "k", "new");
  kv_ts w_before = kv_txn_write_ts(w);
  kv_txn *r = kvt_begin(f->s);
  kv_ts rts = kv_txn_read_ts(r);
  assert_true(kv_ts_cmp(rts, w_before) > 0);
  /* Same thread, writer still holding its lock: returning at all proves
  ** the read did not wait for it. */
  assert_string_equal(kvt_get(r, "k"), "old");
  kv_stats st;
  kv_store_stats(f->s, &st);
  assert_int_equal(st.locks_held, 1);
  kvt_commit(r);
  kv_ts wc = kvt_commit_ts(w); /* pushed above the read, and still commits */
  assert_true(kv_ts_cmp(wc, rts) > 0);
  kv_store_stats(f->s, &st);
  assert_true(st.refreshes >= 1);
}

/* ------------------------------------------- 5. timestamp cache -- */

static void test_txn_write_below_read_is_pushed_strictly_above(void **state) {
  kvt_fixture *f = *state;
  kv_txn *w = kvt_begin(f->s);
  kv_txn *r = kvt_begin(f->s);
  assert_null(kvt_get(r, "k"));
  kv_ts rts = kv_txn_read_ts(r);
  kvt_commit(r);
  kvt_put(w, "k", "v");
  kv_ts wts = kv_txn_write_ts(w);
  assert_true(kv_ts_cmp(wts, rts) > 0); /* never equal (seed bug B4) */
  kv_ts c = kvt_commit_ts(w);
  assert_true(kv_ts_cmp(c, rts) > 0);
}

static void test_txn_pushed_txn_commits_when_refresh_passes(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "a", "1");
  kv_txn *w = kvt_begin(f->s);
  assert_string_equal(kvt_get(w, "a"), "1");
  kv_ts wread = kv_txn_read_ts(w);
  kv_txn *r = kvt_begin(f->s);
  assert_null(kvt_get(r, "b"));
  kv_ts rts = kv_txn_read_ts(r);
  kvt_commit(r);
  kvt_put(w, "b", "2");
  /* Pushed above r's read; the refresh over (wread, c] finds nothing, so
  ** it commits (seed bug B6 had this inverted). */
  kv_ts c = kvt_commit_ts(w);
  assert_true(kv_ts_cmp(c, rts) > 0 && kv_ts_cmp(c, wread) > 0);
}

/* ------------------------------------------- 6. refresh failure -- */

static void test_txn_refresh_fails_when_read_key_changed(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k", "v0");
  kv_txn *t1 = kvt_begin(f->s);
  assert_string_equal(kvt_get(t1, "k"), "v0");
  kvt_put1(f->s, "k", "v1"); /* T2 writes k and commits */
  kv_txn *t3 = kvt_begin(f->s);
  assert_null(kvt_get(t3, "other")); /* a read that will push T1 */
  kvt_commit(t3);
  kvt_put(t1, "other", "x");
  KVT_RC(KV_RETRY, kv_txn_commit(t1, NULL, errptr));
  assert_int_equal(kv_txn_retry_reason(t1), KV_RETRY_READ_REFRESH);
  /* Dead: every later call fails the same way. */
  KVT_RC(KV_RETRY, kv_txn_put(t1, "z", 1, "z", 1, errptr));
  kv_txn_abort(t1);
  kv_txn *r = kvt_begin(f->s);
  assert_null(kvt_get(r, "other"));
  kvt_commit(r);
}

static void test_txn_refresh_fails_on_phantom(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "acct/1", "10");
  kv_txn *t1 = kvt_begin(f->s);
  kv_iter *it;
  KVT_OK(kv_txn_scan(t1, "acct/", 5, "acct0", 5, 0, 0, &it, errptr));
  int n = 0;
  while (kv_iter_next(it, NULL) == KV_OK) n++;
  kv_iter_close(it);
  assert_int_equal(n, 1);
  kvt_put1(f->s, "acct/2", "20"); /* the phantom */
  kv_txn *t3 = kvt_begin(f->s);
  assert_null(kvt_get(t3, "summary"));
  kvt_commit(t3);
  kvt_put(t1, "summary", "10");
  KVT_RC(KV_RETRY, kv_txn_commit(t1, NULL, errptr));
  assert_int_equal(kv_txn_retry_reason(t1), KV_RETRY_READ_REFRESH);
  kv_txn_abort(t1);
}

static void test_txn_refresh_passes_outside_scanned_range(void **state) {
  kvt_fixture *f = *state;
  kv_txn *t1 = kvt_begin(f->s);
  kv_iter *it;
  KVT_OK(kv_txn_scan(t1, "acct/", 5, "acct0", 5, 0, 0, &it, errptr));
  while (kv_iter_next(it, NULL) == KV_OK) {
  }
  kv_iter_close(it);
  kvt_put1(f->s, "acct0", "outside"); /* just past the exclusive end */
  kvt_put1(f->s, "acct.", "before");  /* just before the start */
  kv_txn *t3 = kvt_begin(f->s);
  assert_null(kvt_get(t3, "summary"));
  kvt_commit(t3);
  kvt_put(t1, "summary", "0");
  kvt_commit(t1);
}

/* ---------------------------------------- 7. write too old, lost update -- */

static void test_txn_write_too_old_moves_above_newer_version(void **state) {
  kvt_fixture *f = *state;
  kv_txn *t1 = kvt_begin(f->s);
  kv_txn *t2 = kvt_begin(f->s);
  kvt_put(t2, "k", "t2");
  kv_ts c2 = kvt_commit_ts(t2);
  kvt_put(t1, "k", "t1"); /* blind write below a newer version */
  assert_true(kv_ts_cmp(kv_txn_write_ts(t1), c2) > 0);
  kv_ts c1 = kvt_commit_ts(t1);
  assert_true(kv_ts_cmp(c1, c2) > 0);
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "k"), "t1");
  kvt_commit(r);
}

static void test_txn_lost_update_is_impossible(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "n", "0");
  kv_txn *a = kvt_begin(f->s);
  kv_txn *b = kvt_begin(f->s);
  assert_string_equal(kvt_get(a, "n"), "0");
  assert_string_equal(kvt_get(b, "n"), "0");
  kvt_put(a, "n", "1");
  kvt_bg_put bb = {.s = f->s, .t = b, .k = "n", .v = "1"};
  kvt_bg_start(&bb);
  kvt_wait_until_queued(f->s, kv_txn_id(b));
  kvt_commit(a);
  kvt_bg_join(&bb);
  /* b read 0 before a's commit: it must not commit its stale increment. */
  assert_true(bb.put_rc == KV_RETRY || bb.commit_rc == KV_RETRY);
  assert_int_equal(bb.reason, KV_RETRY_WRITE_CONFLICT);
}

/* A locking read of a key the transaction has just read may answer from
** that read (SQL's SELECT then UPDATE) only while nothing newer exists: a
** commit of the key in between must be seen, and the read refreshed. */
static void test_txn_locking_read_after_read_sees_newer_commit(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "n", "0");
  kvt_put1(f->s, "m", "0");
  /* m did not change: the remembered read answers, with the same value;
  ** x was absent and still is. */
  kv_txn *a = kvt_begin(f->s);
  assert_string_equal(kvt_get(a, "m"), "0");
  assert_null(kvt_get(a, "x"));
  const void *v;
  size_t vl;
  KVT_OK(kv_txn_get(a, "m", 1, KV_READ_FOR_UPDATE, &v, &vl, errptr));
  assert_int_equal(vl, 1);
  assert_memory_equal(v, "0", 1);
  KVT_RC(KV_NOTFOUND, kv_txn_get(a, "x", 1, KV_READ_FOR_UPDATE, &v, &vl,
                                 errptr));
  kvt_put(a, "m", "1");
  kvt_commit(a);
  /* n and y changed after b read them: the locking read must not answer
  ** from b's stale reads, and b cannot serialize. */
  kv_txn *b = kvt_begin(f->s);
  assert_string_equal(kvt_get(b, "n"), "0");
  kvt_put1(f->s, "n", "1");
  KVT_RC(KV_RETRY, kv_txn_get(b, "n", 1, KV_READ_FOR_UPDATE, &v, &vl,
                              errptr));
  assert_int_equal(kv_txn_retry_reason(b), KV_RETRY_WRITE_CONFLICT);
  kv_txn_abort(b);
  kv_txn *c = kvt_begin(f->s);
  assert_null(kvt_get(c, "y"));
  kvt_put1(f->s, "y", "new");
  KVT_RC(KV_RETRY, kv_txn_get(c, "y", 1, KV_READ_FOR_UPDATE, &v, &vl,
                              errptr));
  kv_txn_abort(c);
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "n"), "1");
  assert_string_equal(kvt_get(r, "m"), "1");
  kvt_commit(r);
}

/* A key read for update and never written still orders its next writer
** after the reader: its commit records the key in the timestamp cache, so a
** writer that began before the reader cannot commit the key below the
** reader's commit timestamp, where the reader should have seen its value.
** Both with other writes (commit ts pushed) and with none (commit at the
** read timestamp). */
static void test_txn_locked_key_orders_its_next_writer(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k", "0");
  for (int wrote = 0; wrote < 2; wrote++) {
    kv_txn *u = kvt_begin(f->s); /* older than t */
    kv_txn *t = kvt_begin(f->s);
    const void *v;
    size_t vl;
    KVT_OK(kv_txn_get(t, "k", 1, KV_READ_FOR_UPDATE, &v, &vl, errptr));
    if (wrote) kvt_put(t, "other", "x");
    kv_ts ct = kvt_commit_ts(t);
    kvt_put(u, "k", "u");
    kv_ts cu = kvt_commit_ts(u);
    assert_true(kv_ts_cmp(cu, ct) > 0);
  }
}

static int lock_read(kv_txn *t, const char *k) {
  const void *v;
  size_t vl;
  char *err = NULL;
  int rc = kv_txn_get(t, k, strlen(k), KV_READ_FOR_UPDATE, &v, &vl, &err);
  kv_free(err);
  return rc;
}

static uint64_t reads_from_gap(kv_store *s) {
  kv_stats st;
  kv_store_stats(s, &st);
  return st.reads_from_gap;
}

/* The same past KV_LOCKED_POINTS_MAX (1024) keys, which the commit records
** as one range: a writer of any of them goes above it. */
static void test_txn_many_locked_keys_order_their_next_writers(void **state) {
  kvt_fixture *f = *state;
  kv_txn *u = kvt_begin(f->s);
  kv_txn *t = kvt_begin(f->s);
  char k[16];
  for (int i = 0; i < 1100; i++) {
    snprintf(k, sizeof k, "m%04d", i);
    assert_int_equal(lock_read(t, k), KV_NOTFOUND);
  }
  kv_ts ct = kvt_commit_ts(t);
  kvt_put(u, "m0000", "u");
  kvt_put(u, "m0777", "u");
  kvt_put(u, "m1099", "u");
  kv_ts cu = kvt_commit_ts(u);
  assert_true(kv_ts_cmp(cu, ct) > 0);
}

/* A bulk insert's locking reads of ascending absent keys answer from the
** gap up to the next key that has a version, and never past it: a key
** committed in the gap by someone else after the probe, a key with only a
** deletion, and the key that ends the gap are all read from the engine. */
static void test_txn_absent_gap_answers_bulk_inserts_and_no_more(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k0500", "old");
  kv_txn *d = kvt_begin(f->s);
  KVT_OK(kv_txn_delete(d, "k0700", 5, errptr));
  kvt_commit(d);
  kv_txn *t = kvt_begin(f->s);
  uint64_t from_gap = reads_from_gap(f->s);
  char k[16];
  for (int i = 0; i < 1000; i++) {
    snprintf(k, sizeof k, "k%04d", i);
    int rc = lock_read(t, k);
    assert_int_equal(rc, i == 500 || i == 650 ? KV_OK : KV_NOTFOUND);
    /* Someone commits k0650 inside the gap t learned after k0500. */
    if (i == 600) kvt_put1(f->s, "k0650", "theirs");
    if (rc == KV_NOTFOUND) kvt_put(t, k, "mine");
  }
  kv_txn_abort(t); /* its count reaches the store's when it ends */
  /* Most of the 1000 were answered from gaps; those around the probes,
  ** the commit and the deletion were not. */
  uint64_t n = reads_from_gap(f->s) - from_gap;
  assert_true(n > 900);
  assert_true(n < 1000);
}

/* With locking reads the lost-update race waits instead of failing. */
typedef struct locking_read {
  kv_txn *t;
  int rc;
  char val[8];
} locking_read;

static void *locking_read_main(void *arg) {
  locking_read *r = arg;
  const void *v;
  size_t vl;
  r->rc = kv_txn_get(r->t, "n", 1, KV_READ_FOR_UPDATE, &v, &vl, NULL);
  if (r->rc == KV_OK) {
    if (vl > 7) vl = 7;
    memcpy(r->val, v, vl);
    r->val[vl] = 0;
  }
  return NULL;
}

static void test_txn_locking_read_waits_and_reads_latest(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "n", "0");
  kv_txn *a = kvt_begin(f->s);
  kv_txn *b = kvt_begin(f->s);
  const void *v;
  size_t vl;
  KVT_OK(kv_txn_get(a, "n", 1, KV_READ_FOR_UPDATE, &v, &vl, errptr));
  kvt_put(a, "n", "1");
  locking_read r = {.t = b};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, locking_read_main, &r), 0);
  kvt_wait_until_queued(f->s, kv_txn_id(b));
  kv_ts ca = kvt_commit_ts(a);
  pthread_join(th, NULL);
  assert_int_equal(r.rc, KV_OK);
  assert_string_equal(r.val, "1"); /* the latest value, not b's snapshot */
  assert_true(kv_ts_cmp(kv_txn_read_ts(b), ca) > 0);
  kvt_put(b, "n", "2");
  kvt_commit(b);
  kv_txn *c = kvt_begin(f->s);
  assert_string_equal(kvt_get(c, "n"), "2");
  kvt_commit(c);
}

/* ------------------------------- 9. aborts, savepoints, read-only -- */

/* kv_txn_has_writes: a put or delete counts, a lock alone does not, and a
** savepoint rollback takes it back; a transaction with none commits at its
** read timestamp. */
static void test_txn_has_writes_follows_savepoints(void **state) {
  kvt_fixture *f = *state;
  kv_txn *t = kvt_begin(f->s);
  assert_false(kv_txn_has_writes(t));
  KVT_OK(kv_txn_lock(t, "l", 1, errptr));
  assert_false(kv_txn_has_writes(t));
  uint32_t sp;
  KVT_OK(kv_txn_savepoint(t, &sp, errptr));
  kvt_put(t, "a", "1");
  assert_true(kv_txn_has_writes(t));
  KVT_OK(kv_txn_rollback_to(t, sp, errptr));
  assert_false(kv_txn_has_writes(t));
  kv_ts rts = kv_txn_read_ts(t), cts;
  KVT_OK(kv_txn_commit(t, &cts, errptr));
  assert_int_equal(kv_ts_cmp(cts, rts), 0);
  t = kvt_begin(f->s);
  KVT_OK(kv_txn_delete(t, "gone", 4, errptr));
  assert_true(kv_txn_has_writes(t));
  kvt_commit(t);
}

static void test_txn_savepoint_rollback(void **state) {
  kvt_fixture *f = *state;
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "a", "1");
  uint32_t sp1, sp2;
  KVT_OK(kv_txn_savepoint(t, &sp1, errptr));
  kvt_put(t, "b", "2");
  kvt_put(t, "a", "1b");
  KVT_OK(kv_txn_savepoint(t, &sp2, errptr));
  KVT_OK(kv_txn_delete(t, "a", 1, errptr));
  assert_null(kvt_get(t, "a"));
  KVT_OK(kv_txn_rollback_to(t, sp2, errptr));
  assert_string_equal(kvt_get(t, "a"), "1b");
  KVT_OK(kv_txn_rollback_to(t, sp1, errptr));
  assert_string_equal(kvt_get(t, "a"), "1");
  assert_null(kvt_get(t, "b"));
  kvt_put(t, "c", "3");
  KVT_OK(kv_txn_rollback_to(t, sp1, errptr)); /* the mark stays valid */
  assert_null(kvt_get(t, "c"));
  kvt_put(t, "d", "4");
  kvt_commit(t);
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "a"), "1");
  assert_null(kvt_get(r, "b"));
  assert_null(kvt_get(r, "c"));
  assert_string_equal(kvt_get(r, "d"), "4");
  kvt_commit(r);
}

/* Seed bug B8: a failed commit kept its locks, and the retry then waited
** on its own previous attempt. */
static void test_txn_failed_commit_releases_locks(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k", "v0");
  kv_txn *t1 = kvt_begin(f->s);
  assert_string_equal(kvt_get(t1, "k"), "v0");
  kvt_put(t1, "w", "t1");
  kvt_put1(f->s, "k", "v1");
  kv_txn *t3 = kvt_begin(f->s);
  assert_null(kvt_get(t3, "w2"));
  kvt_commit(t3);
  kvt_put(t1, "w2", "t1");
  KVT_RC(KV_RETRY, kv_txn_commit(t1, NULL, errptr));
  kv_stats st;
  kv_store_stats(f->s, &st);
  assert_int_equal(st.locks_held, 0); /* released before abort is called */
  kv_retry_info info;
  kv_txn_retry_info(t1, &info);
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.retry_of = &info;
  o.lock_timeout_ms = 0; /* any wait at all would fail */
  kv_txn *retry = NULL;
  KVT_OK(kv_txn_begin(f->s, &o, &retry, errptr));
  kvt_put(retry, "w", "retry");
  kvt_put(retry, "w2", "retry");
  kvt_commit(retry);
  kv_txn_abort(t1);
}

static void test_txn_read_only_rejects_writes(void **state) {
  kvt_fixture *f = *state;
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = 1;
  kv_txn *t = NULL;
  KVT_OK(kv_txn_begin(f->s, &o, &t, errptr));
  KVT_RC(KV_INVALID, kv_txn_put(t, "a", 1, "b", 1, errptr));
  assert_false(kv_txn_is_dead(t)); /* misuse does not kill it */
  assert_null(kvt_get(t, "a"));
  kvt_commit(t);
  /* A past read timestamp needs read_only; a future one is refused. */
  kv_txn_options_init(&o);
  o.read_ts = (kv_ts){1, 0};
  KVT_RC(KV_INVALID, kv_txn_begin(f->s, &o, &t, errptr));
  o.read_only = 1;
  o.read_ts = (kv_ts){UINT64_MAX - 5, 0};
  KVT_RC(KV_INVALID, kv_txn_begin(f->s, &o, &t, errptr));
}

/* A commit that returned is seen by every transaction begun afterwards,
** even when its timestamp was pushed ahead of the clock. */
static void test_txn_commit_visible_to_later_begin(void **state) {
  kvt_fixture *f = *state;
  for (int i = 0; i < 50; i++) {
    kv_txn *w = kvt_begin(f->s);
    kv_txn *r = kvt_begin(f->s);
    assert_null(kvt_get(r, "vis"));
    kvt_commit(r);
    kvt_put(w, "vis", "x");
    kv_ts c = kvt_commit_ts(w); /* pushed above r's read */
    kv_txn *later = kvt_begin(f->s);
    assert_true(kv_ts_cmp(kv_txn_read_ts(later), c) > 0);
    assert_string_equal(kvt_get(later, "vis"), "x");
    KVT_OK(kv_txn_delete(later, "vis", 3, errptr));
    kvt_commit(later);
  }
}

/* ------------------------------------------- two-phase commit -- */

/* kv_txn_prepare: everything that can fail fails there; a prepared
** transaction is invisible until committed, nobody can abort it, readers of
** its keys above its timestamp wait for it (readers below do not), and an
** abort after prepare leaves no versions, locks or latches behind. */

static void test_txn_prepare_then_commit(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k", "old");
  kv_txn *before = kvt_begin(f->s); /* reads below the commit */
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "k", "new");
  kvt_put(t, "j", "also");
  KVT_OK(kv_txn_prepare(t, errptr));
  KVT_OK(kv_txn_prepare(t, errptr)); /* twice: a no-op */
  /* Prepared: no more reads or writes on it. */
  KVT_RC(KV_INVALID, kv_txn_put(t, "x", 1, "y", 1, errptr));
  const void *v;
  size_t n;
  KVT_RC(KV_INVALID, kv_txn_get(t, "k", 1, 0, &v, &n, errptr));
  /* Its effects are invisible, and a reader below it does not wait. */
  assert_string_equal(kvt_get(before, "k"), "old");
  assert_null(kvt_get(before, "j"));
  kv_ts cts;
  KVT_OK(kv_txn_commit(t, &cts, errptr));
  assert_true(kv_ts_cmp(kv_txn_read_ts(before), cts) < 0);
  assert_string_equal(kvt_get(before, "k"), "old"); /* still its snapshot */
  kvt_commit(before);
  kv_txn *after = kvt_begin(f->s);
  assert_string_equal(kvt_get(after, "k"), "new");
  assert_string_equal(kvt_get(after, "j"), "also");
  kvt_commit(after);
}

static void test_txn_prepare_then_abort_leaves_nothing(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k", "old");
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "k", "never");
  KVT_OK(kv_txn_lock(t, "l", 1, errptr));
  KVT_OK(kv_txn_prepare(t, errptr));
  kv_txn_abort(t);
  /* Locks are free at once (no wait allowed) and latches are gone (a new
  ** reader above the aborted timestamp would hang on one). */
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.lock_timeout_ms = 0;
  kv_txn *w = NULL;
  KVT_OK(kv_txn_begin(f->s, &o, &w, errptr));
  assert_string_equal(kvt_get(w, "k"), "old");
  kvt_put(w, "k", "later");
  KVT_OK(kv_txn_lock(w, "l", 1, errptr));
  kvt_commit(w);
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "k"), "later");
  kvt_commit(r);
}

/* What can fail fails at prepare: here the read refresh. */
static void test_txn_prepare_fails_on_refresh(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "a", "1");
  kv_txn *t = kvt_begin(f->s);
  assert_string_equal(kvt_get(t, "a"), "1");
  kv_txn *u = kvt_begin(f->s);
  kvt_put(u, "a", "2");
  kvt_commit(u);
  kv_txn *r = kvt_begin(f->s); /* a read of "b" above t pushes t */
  assert_null(kvt_get(r, "b"));
  kvt_commit(r);
  kvt_put(t, "b", "x");
  KVT_RC(KV_RETRY, kv_txn_prepare(t, errptr));
  assert_int_equal(kv_txn_retry_reason(t), KV_RETRY_READ_REFRESH);
  KVT_RC(KV_RETRY, kv_txn_commit(t, NULL, errptr)); /* dead stays dead */
  kv_txn_abort(t);
  kv_txn *c = kvt_begin(f->s);
  assert_null(kvt_get(c, "b"));
  kvt_commit(c);
}

/* Unprepare: back to an ordinary transaction that may go on writing. */
static void test_txn_unprepare_goes_on(void **state) {
  kvt_fixture *f = *state;
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "a", "1");
  KVT_OK(kv_txn_prepare(t, errptr));
  kv_txn_unprepare(t);
  kv_txn *r = kvt_begin(f->s); /* no latch is left to wait on */
  assert_null(kvt_get(r, "a"));
  kvt_commit(r);
  kvt_put(t, "b", "2");
  kvt_commit(t);
  kv_txn *c = kvt_begin(f->s);
  assert_string_equal(kvt_get(c, "a"), "1");
  assert_string_equal(kvt_get(c, "b"), "2");
  kvt_commit(c);
}

/* A read-only transaction, and one that only locked keys, prepare too. */
static void test_txn_prepare_without_writes(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k", "v");
  kv_txn *t = kvt_begin(f->s);
  assert_string_equal(kvt_get(t, "k"), "v");
  KVT_OK(kv_txn_lock(t, "k", 1, errptr));
  KVT_OK(kv_txn_prepare(t, errptr));
  /* Cannot be aborted by priority now: a high-priority writer queues. */
  kvt_commit(t);
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = true;
  kv_txn *ro = NULL;
  KVT_OK(kv_txn_begin(f->s, &o, &ro, errptr));
  assert_string_equal(kvt_get(ro, "k"), "v");
  KVT_OK(kv_txn_prepare(ro, errptr));
  kvt_commit(ro);
}

/* A read of one key in a transaction of its own, in another thread. */
typedef struct bg_get {
  kv_store *s;
  const char *key;
  _Atomic pid_t tid;   /* announced after its begin, just before the read */
  _Atomic int done;    /* the read returned */
  uint64_t done_ns;
  char value[64];
  pthread_t th;
} bg_get;

static void *bg_get_main(void *arg) {
  bg_get *b = arg;
  kv_txn *t = kvt_begin(b->s);
  atomic_store(&b->tid, kvt_gettid());
  const char *v = kvt_get(t, b->key);
  b->done_ns = kvt_now_ns();
  atomic_store(&b->done, 1);
  snprintf(b->value, sizeof b->value, "%.63s", v ? v : "(none)");
  kvt_commit(t);
  return NULL;
}

/* Readers above a prepared transaction's timestamp wait for its outcome
** (the value they would see is being decided), then see it; a writer of
** higher priority cannot abort it and queues instead. */
static void test_txn_prepared_blocks_later_readers_and_pushers(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k", "old");
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "k", "new");
  KVT_OK(kv_txn_prepare(t, errptr));
  bg_get rd = {.s = f->s, .key = "k"};
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.priority = KV_PRIORITY_HIGH;
  kvt_bg_put wr = {.s = f->s, .k = "k", .v = "bg"};
  KVT_OK(kv_txn_begin(f->s, &o, &wr.t, errptr));
  uint64_t wr_id = kv_txn_id(wr.t);
  kv_stats st0;
  kv_store_stats(f->s, &st0);
  assert_int_equal(pthread_create(&rd.th, NULL, bg_get_main, &rd), 0);
  /* Both are observably waiting, not merely not there yet: the reader is
  ** asleep in its read (its latch wait; a fast wrong answer would have
  ** returned "old"), and the writer is queued for t's lock (it would have
  ** aborted t instead). */
  kvt_wait_asleep(&rd.tid, &rd.done);
  kvt_bg_start(&wr);
  kvt_wait_until_queued(f->s, wr_id);
  assert_int_equal(atomic_load(&rd.done), 0);
  assert_int_equal(kvt_txn_info(f->s, kv_txn_id(t)).status, 1); /* committing */
  uint64_t commit_ns = kvt_now_ns();
  kv_ts tc;
  KVT_OK(kv_txn_commit(t, &tc, errptr)); /* the writer did not abort it */
  pthread_join(rd.th, NULL);
  kvt_bg_join(&wr);
  assert_string_equal(rd.value, "new");
  assert_true(rd.done_ns >= commit_ns); /* its read returned after the commit */
  kv_stats st1;
  kv_store_stats(f->s, &st1);
  assert_true(st1.latch_waits > st0.latch_waits);
  assert_int_equal(wr.put_rc, KV_OK);
  assert_int_equal(wr.commit_rc, KV_OK);
  assert_true(kv_ts_cmp(tc, wr.cts) < 0); /* it queued behind t */
  kv_txn *c = kvt_begin(f->s);
  assert_string_equal(kvt_get(c, "k"), "bg");
  kvt_commit(c);
}

/* ------------------------- hot keys: transactions whose reads lock -- */

static kv_txn *begin_lock_reads(kv_store *s, const kv_retry_info *retry_of) {
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.lock_reads = 1;
  o.retry_of = retry_of;
  kv_txn *t = NULL;
  KVT_OK(kv_txn_begin(s, &o, &t, errptr));
  return t;
}

typedef struct holder_probe {
  const char *key;
  uint64_t holder;
  int locks;
} holder_probe;

static void probe_holder(void *ctx, const void *k, size_t kl, uint64_t id,
                         int is_waiter) {
  holder_probe *p = ctx;
  if (is_waiter) return;
  p->locks++;
  if (kl == strlen(p->key) && memcmp(k, p->key, kl) == 0) p->holder = id;
}

/* The transaction holding key's lock, or 0. */
static uint64_t lock_holder(kv_store *s, const char *key) {
  holder_probe p = {.key = key};
  kv_store_list_locks(s, probe_holder, &p);
  return p.holder;
}

/* The lost update of test_txn_lost_update_is_impossible, then its retry
** begun with lock_reads: its plain get locks the key, so a writer that
** comes in between queues behind it (observed in the lock table) instead
** of committing under it, and the retry commits although a later reader
** pushed it into a refresh. */
static void test_txn_lock_reads_retry_waits_instead_of_failing(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "n", "0");
  kv_txn *a = kvt_begin(f->s);
  assert_string_equal(kvt_get(a, "n"), "0");
  kvt_put1(f->s, "n", "1"); /* commits under a's plain read */
  kvt_put(a, "n", "1");
  KVT_RC(KV_RETRY, kv_txn_commit(a, NULL, errptr));
  assert_int_equal(kv_txn_retry_reason(a), KV_RETRY_WRITE_CONFLICT);
  kv_retry_info info;
  kv_txn_retry_info(a, &info);
  kv_txn_abort(a);

  kv_stats st0, st1;
  kv_store_stats(f->s, &st0);
  kv_txn *b = begin_lock_reads(f->s, &info);
  assert_int_equal(kvt_txn_info(f->s, kv_txn_id(b)).lock_reads, 1);
  assert_string_equal(kvt_get(b, "n"), "1"); /* flags 0: still locks */
  assert_int_equal(lock_holder(f->s, "n"), kv_txn_id(b));
  kvt_bg_put w = {.s = f->s, .k = "n", .v = "w"};
  w.t = kvt_begin(f->s);
  kvt_bg_start(&w);
  kvt_wait_until_queued(f->s, kv_txn_id(w.t));
  /* A reader above b: b's write is pushed above it and b must refresh. */
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "n"), "1");
  kvt_commit(r);
  kvt_put(b, "n", "2");
  kv_ts cb = kvt_commit_ts(b);
  kvt_bg_join(&w);
  assert_int_equal(w.put_rc, KV_OK);
  assert_int_equal(w.commit_rc, KV_OK);
  assert_true(kv_ts_cmp(cb, w.cts) < 0); /* it waited for b */
  kv_store_stats(f->s, &st1);
  assert_int_equal(st1.txns_lock_reads - st0.txns_lock_reads, 1);
  assert_int_equal(st1.refresh_failures, st0.refresh_failures);
  kv_txn *c = kvt_begin(f->s);
  assert_string_equal(kvt_get(c, "n"), "w");
  kvt_commit(c);
}

/* Reading an absent key for update locks it too: nobody can insert it
** under the reader.  Locks that were only read go at commit, as do a
** writer's. */
static void test_txn_lock_reads_absent_key_is_locked(void **state) {
  kvt_fixture *f = *state;
  kv_txn *t = begin_lock_reads(f->s, NULL);
  assert_null(kvt_get(t, "new"));
  assert_int_equal(lock_holder(f->s, "new"), kv_txn_id(t));
  kvt_bg_put w = {.s = f->s, .k = "new", .v = "theirs"};
  w.t = kvt_begin(f->s);
  kvt_bg_start(&w);
  kvt_wait_until_queued(f->s, kv_txn_id(w.t));
  kvt_put(t, "new", "mine");
  kvt_commit(t);
  kvt_bg_join(&w);
  assert_int_equal(w.commit_rc, KV_OK);
  /* Read, never written: the lock is released by a commit with no write. */
  kv_txn *u = begin_lock_reads(f->s, NULL);
  assert_string_equal(kvt_get(u, "new"), "theirs");
  assert_int_equal(lock_holder(f->s, "new"), kv_txn_id(u));
  kvt_commit(u);
  assert_int_equal(lock_holder(f->s, "new"), 0);
}

/* lock_reads is refused with read_only; plain and read-only transactions
** lock nothing they read. */
static void test_txn_lock_reads_not_for_read_only(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k", "v");
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = 1;
  o.lock_reads = 1;
  kv_txn *t = NULL;
  KVT_RC(KV_INVALID, kv_txn_begin(f->s, &o, &t, errptr));
  assert_null(t);
  o.lock_reads = 0;
  KVT_OK(kv_txn_begin(f->s, &o, &t, errptr));
  kv_txn *p = kvt_begin(f->s);
  assert_string_equal(kvt_get(t, "k"), "v");
  assert_string_equal(kvt_get(p, "k"), "v");
  assert_null(kvt_get(p, "absent"));
  assert_int_equal(kvt_txn_info(f->s, kv_txn_id(p)).lock_reads, 0);
  kv_stats st;
  kv_store_stats(f->s, &st);
  assert_int_equal(st.locks_held, 0);
  kvt_commit(t);
  kvt_commit(p);
}

/* Two transactions that lock what they read, in opposite orders: the
** waits-for graph finds the cycle when it closes and aborts the younger. */
typedef struct bg_lock_get {
  kv_txn *t;
  const char *key;
  int rc;
  pthread_t th;
} bg_lock_get;

static void *bg_lock_get_main(void *arg) {
  bg_lock_get *g = arg;
  const void *v;
  size_t vl;
  g->rc = kv_txn_get(g->t, g->key, strlen(g->key), 0, &v, &vl, NULL);
  return NULL;
}

static void test_txn_lock_reads_deadlock_is_detected(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "a", "1");
  kvt_put1(f->s, "b", "2");
  kv_txn *t1 = begin_lock_reads(f->s, NULL);
  kv_txn *t2 = begin_lock_reads(f->s, NULL); /* the younger */
  assert_string_equal(kvt_get(t1, "a"), "1");
  assert_string_equal(kvt_get(t2, "b"), "2");
  bg_lock_get g = {.t = t1, .key = "b"};
  assert_int_equal(pthread_create(&g.th, NULL, bg_lock_get_main, &g), 0);
  kvt_wait_until_queued(f->s, kv_txn_id(t1));
  const void *v;
  size_t vl;
  KVT_RC(KV_RETRY, kv_txn_get(t2, "a", 1, 0, &v, &vl, errptr));
  assert_int_equal(kv_txn_retry_reason(t2), KV_RETRY_DEADLOCK);
  kv_txn_abort(t2);
  pthread_join(g.th, NULL);
  assert_int_equal(g.rc, KV_OK);
  kvt_put(t1, "a", "b+1");
  kvt_commit(t1);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, kvt_setup, kvt_teardown)
  const struct CMUnitTest tests[] = {
      T(test_txn_read_meets_lock_does_not_block),
      T(test_txn_write_below_read_is_pushed_strictly_above),
      T(test_txn_pushed_txn_commits_when_refresh_passes),
      T(test_txn_refresh_fails_when_read_key_changed),
      T(test_txn_refresh_fails_on_phantom),
      T(test_txn_refresh_passes_outside_scanned_range),
      T(test_txn_write_too_old_moves_above_newer_version),
      T(test_txn_lost_update_is_impossible),
      T(test_txn_locking_read_after_read_sees_newer_commit),
      T(test_txn_absent_gap_answers_bulk_inserts_and_no_more),
      T(test_txn_locking_read_waits_and_reads_latest),
      T(test_txn_locked_key_orders_its_next_writer),
      T(test_txn_many_locked_keys_order_their_next_writers),
      T(test_txn_savepoint_rollback),
      T(test_txn_has_writes_follows_savepoints),
      T(test_txn_failed_commit_releases_locks),
      T(test_txn_read_only_rejects_writes),
      T(test_txn_commit_visible_to_later_begin),
      T(test_txn_prepare_then_commit),
      T(test_txn_prepare_then_abort_leaves_nothing),
      T(test_txn_prepare_fails_on_refresh),
      T(test_txn_unprepare_goes_on),
      T(test_txn_prepare_without_writes),
      T(test_txn_prepared_blocks_later_readers_and_pushers),
      T(test_txn_lock_reads_retry_waits_instead_of_failing),
      T(test_txn_lock_reads_absent_key_is_locked),
      T(test_txn_lock_reads_not_for_read_only),
      T(test_txn_lock_reads_deadlock_is_detected),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
