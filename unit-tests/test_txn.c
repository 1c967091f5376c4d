/*
** test_txn.c — the transaction protocol, scenario by scenario (3-9 of the
** kvcore issue) and the seed project's protocol bugs (B4-B8, B15):
** write-write waits, reads that meet locks, timestamp-cache pushes, read
** refresh success and failure (points and phantoms), write too old, lost
** updates, deadlocks of two and three, lock timeouts, aborts that wake
** waiters, savepoints, and retries that never wait on their own past; a
** lock wait well past 1.25 s (a seed project crashed there) that ends in a
** commit, the waiter asleep throughout and its transaction intact; the
** read paths that reuse an earlier read or engine iterator; and two-phase
** commit (kv_txn_prepare).
**
** Waiting is observed, never assumed: a test that needs "T2 is now queued"
** polls the lock table's introspection until T2 shows up as a waiter.
*/
#include "kvtest.h"

#include <stdatomic.h>
#include <sys/resource.h>

typedef struct fixture {
  char *dir;
  kv_store *s;
} fixture;

static int setup_opts(void **state, int lock_timeout_ms) {
  fixture *f = calloc(1, sizeof(*f));
  f->dir = kvt_tempdir(0);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_NORMAL;
  o.lock_timeout_ms = lock_timeout_ms;
  f->s = kvt_open_dir(f->dir, &o);
  *state = f;
  return 0;
}

static int setup(void **state) { return setup_opts(state, 10000); }

static int teardown(void **state) {
  fixture *f = *state;
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

/* ---------------------------------------------------------- helpers -- */

typedef struct waiter_probe {
  uint64_t id;
  int found;
} waiter_probe;

static void probe_lock(void *ctx, const void *k, size_t kl, uint64_t id,
                       int is_waiter) {
  (void)k;
  (void)kl;
  waiter_probe *p = ctx;
  if (is_waiter && id == p->id) p->found = 1;
}

/* Waits (bounded) until transaction id queues for a lock. */
static void wait_until_queued(kv_store *s, uint64_t id) {
  uint64_t deadline = kvt_now_ns() + 10ULL * 1000000000ULL;
  for (;;) {
    waiter_probe p = {id, 0};
    kv_store_list_locks(s, probe_lock, &p);
    if (p.found) return;
    assert_true(kvt_now_ns() < deadline);
    usleep(200);
  }
}

/* A transaction run in another thread: one put, then commit. */
typedef struct bg_put {
  kv_store *s;
  kv_txn *t;          /* begun by the main thread */
  const char *k, *v;
  int put_rc, commit_rc;
  kv_retry_reason reason;
  kv_ts cts;
  uint64_t done_ns;
  pthread_t th;
} bg_put;

static void *bg_put_main(void *arg) {
  bg_put *b = arg;
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

static void bg_start(bg_put *b) {
  assert_int_equal(pthread_create(&b->th, NULL, bg_put_main, b), 0);
}

static void bg_join(bg_put *b) { pthread_join(b->th, NULL); }

static kv_ts commit_ts(kv_txn *t) {
  kv_ts c;
  KVT_OK(kv_txn_commit(t, &c, errptr));
  return c;
}

/* ----------------------------------------------- 3. write-write -- */

static void test_txn_second_writer_waits_for_commit(void **state) {
  fixture *f = *state;
  kv_txn *t1 = kvt_begin(f->s);
  kvt_put(t1, "k", "t1");
  bg_put b = {.s = f->s, .t = kvt_begin(f->s), .k = "k", .v = "t2"};
  uint64_t id2 = kv_txn_id(b.t);
  bg_start(&b);
  wait_until_queued(f->s, id2);
  uint64_t before = kvt_now_ns();
  kv_ts c1 = commit_ts(t1);
  bg_join(&b);
  assert_int_equal(b.put_rc, KV_OK);
  assert_int_equal(b.commit_rc, KV_OK);
  assert_true(kv_ts_cmp(b.cts, c1) > 0);
  /* Woken by the release, not by a timer. */
  assert_true(b.done_ns - before < 200ULL * 1000000ULL);
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "k"), "t2");
  kvt_commit(r);
}

static void test_txn_second_writer_proceeds_when_first_aborts(void **state) {
  fixture *f = *state;
  kvt_put1(f->s, "k", "v0");
  kv_txn *t1 = kvt_begin(f->s);
  kvt_put(t1, "k", "t1");
  bg_put b = {.s = f->s, .t = kvt_begin(f->s), .k = "k", .v = "t2"};
  bg_start(&b);
  wait_until_queued(f->s, kv_txn_id(b.t));
  kv_txn_abort(t1);
  bg_join(&b);
  assert_int_equal(b.put_rc, KV_OK);
  assert_int_equal(b.commit_rc, KV_OK);
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "k"), "t2");
  kvt_commit(r);
}

static void test_txn_waiters_are_served_fifo(void **state) {
  fixture *f = *state;
  kv_txn *t0 = kvt_begin(f->s);
  kvt_put(t0, "q", "0");
  enum { N = 4 };
  bg_put b[N];
  char vals[N][16];
  for (int i = 0; i < N; i++) {
    snprintf(vals[i], sizeof vals[i], "%d", i + 1);
    b[i] = (bg_put){.s = f->s, .t = kvt_begin(f->s), .k = "q", .v = vals[i]};
    bg_start(&b[i]);
    wait_until_queued(f->s, kv_txn_id(b[i].t));
  }
  kvt_commit(t0);
  for (int i = 0; i < N; i++) {
    bg_join(&b[i]);
    assert_int_equal(b[i].commit_rc, KV_OK);
    if (i) assert_true(kv_ts_cmp(b[i].cts, b[i - 1].cts) > 0);
  }
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "q"), "4");
  kvt_commit(r);
}

/* ------------------------------------------- 4. read meets lock -- */

static void test_txn_read_meets_lock_does_not_block(void **state) {
  fixture *f = *state;
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
  kv_ts wc = commit_ts(w); /* pushed above the read, and still commits */
  assert_true(kv_ts_cmp(wc, rts) > 0);
  kv_store_stats(f->s, &st);
  assert_true(st.refreshes >= 1);
}

/* ------------------------------------------- 5. timestamp cache -- */

static void test_txn_write_below_read_is_pushed_strictly_above(void **state) {
  fixture *f = *state;
  kv_txn *w = kvt_begin(f->s);
  kv_txn *r = kvt_begin(f->s);
  assert_null(kvt_get(r, "k"));
  kv_ts rts = kv_txn_read_ts(r);
  kvt_commit(r);
  kvt_put(w, "k", "v");
  kv_ts wts = kv_txn_write_ts(w);
  assert_true(kv_ts_cmp(wts, rts) > 0); /* never equal (seed bug B4) */
  kv_ts c = commit_ts(w);
  assert_true(kv_ts_cmp(c, rts) > 0);
}

static void test_txn_pushed_txn_commits_when_refresh_passes(void **state) {
  fixture *f = *state;
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
  kv_ts c = commit_ts(w);
  assert_true(kv_ts_cmp(c, rts) > 0 && kv_ts_cmp(c, wread) > 0);
}

/* ------------------------------------------- 6. refresh failure -- */

static void test_txn_refresh_fails_when_read_key_changed(void **state) {
  fixture *f = *state;
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
  fixture *f = *state;
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
  fixture *f = *state;
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

/* A scan that stopped early depends only on the rows it returned. */
static void test_txn_limited_scan_depends_on_returned_rows(void **state) {
  fixture *f = *state;
  kvt_put1(f->s, "q/1", "a");
  kvt_put1(f->s, "q/5", "b");
  kv_txn *t1 = kvt_begin(f->s);
  kv_iter *it;
  KVT_OK(kv_txn_scan(t1, "q/", 2, "q0", 2, 0, 1, &it, errptr));
  KVT_OK(kv_iter_next(it, errptr));
  KVT_RC(KV_NOTFOUND, kv_iter_next(it, errptr));
  kv_iter_close(it);
  kvt_put1(f->s, "q/7", "c"); /* after the returned row */
  kv_txn *t3 = kvt_begin(f->s);
  assert_null(kvt_get(t3, "q-taken"));
  kvt_commit(t3);
  kvt_put(t1, "q-taken", "1");
  kvt_commit(t1);
}

/* ---------------------------------------- 7. write too old, lost update -- */

static void test_txn_write_too_old_moves_above_newer_version(void **state) {
  fixture *f = *state;
  kv_txn *t1 = kvt_begin(f->s);
  kv_txn *t2 = kvt_begin(f->s);
  kvt_put(t2, "k", "t2");
  kv_ts c2 = commit_ts(t2);
  kvt_put(t1, "k", "t1"); /* blind write below a newer version */
  assert_true(kv_ts_cmp(kv_txn_write_ts(t1), c2) > 0);
  kv_ts c1 = commit_ts(t1);
  assert_true(kv_ts_cmp(c1, c2) > 0);
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "k"), "t1");
  kvt_commit(r);
}

static void test_txn_lost_update_is_impossible(void **state) {
  fixture *f = *state;
  kvt_put1(f->s, "n", "0");
  kv_txn *a = kvt_begin(f->s);
  kv_txn *b = kvt_begin(f->s);
  assert_string_equal(kvt_get(a, "n"), "0");
  assert_string_equal(kvt_get(b, "n"), "0");
  kvt_put(a, "n", "1");
  bg_put bb = {.s = f->s, .t = b, .k = "n", .v = "1"};
  bg_start(&bb);
  wait_until_queued(f->s, kv_txn_id(b));
  kvt_commit(a);
  bg_join(&bb);
  /* b read 0 before a's commit: it must not commit its stale increment. */
  assert_true(bb.put_rc == KV_RETRY || bb.commit_rc == KV_RETRY);
  assert_int_equal(bb.reason, KV_RETRY_WRITE_CONFLICT);
}

/* A locking read of a key the transaction has just read may answer from
** that read (SQL's SELECT then UPDATE) only while nothing newer exists: a
** commit of the key in between must be seen, and the read refreshed. */
static void test_txn_locking_read_after_read_sees_newer_commit(void **state) {
  fixture *f = *state;
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

/* A bulk insert's locking reads of ascending absent keys answer from the
** gap up to the next key that has a version, and never past it: a key
** committed in the gap by someone else after the probe, a key with only a
** deletion, and the key that ends the gap are all read from the engine. */
static void test_txn_absent_gap_answers_bulk_inserts_and_no_more(void **state) {
  fixture *f = *state;
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

/* A commit below a reader's timestamp that lands after the reader's
** previous read is seen by its next read (point reads reuse an engine
** iterator only while no write completed since it was made). */
static void test_txn_read_sees_commit_landing_below_it_later(void **state) {
  fixture *f = *state;
  kvt_put1(f->s, "x", "x0");
  kv_txn *u = kvt_begin(f->s); /* older: commits below t's snapshot */
  kv_txn *t = kvt_begin(f->s);
  assert_string_equal(kvt_get(t, "x"), "x0");
  kvt_put(u, "b", "1");
  kv_ts uc;
  KVT_OK(kv_txn_commit(u, &uc, errptr));
  assert_true(kv_ts_cmp(uc, kv_txn_read_ts(t)) < 0);
  const char *b = kvt_get(t, "b");
  assert_non_null(b);
  assert_string_equal(b, "1");
  kvt_commit(t);
}

/* The same across transactions: an ended transaction's iterator is kept
** for the next one only while no write has completed since. */
static void test_txn_next_txn_sees_commit_after_previous_read(void **state) {
  fixture *f = *state;
  kvt_put1(f->s, "x", "x0");
  kv_txn *u = kvt_begin(f->s);
  kv_txn *a = kvt_begin(f->s);
  assert_string_equal(kvt_get(a, "x"), "x0");
  kvt_commit(a); /* its iterator is handed back */
  kvt_put(u, "b", "1");
  kvt_commit(u);
  for (int i = 0; i < 3; i++) {
    kv_txn *b = kvt_begin(f->s);
    const char *v = kvt_get(b, "b");
    assert_non_null(v);
    assert_string_equal(v, "1");
    kvt_commit(b);
  }
}

/* With locking reads the same race waits instead of failing. */
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
  fixture *f = *state;
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
  wait_until_queued(f->s, kv_txn_id(b));
  kv_ts ca = commit_ts(a);
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

/* ---------------------------------------------------- 8. deadlocks -- */

typedef struct dl_member {
  kv_txn *t;
  const char *mine, *next;
  pthread_barrier_t *bar;
  int rc;
  kv_retry_reason reason;
  uint64_t start_ns, end_ns;
} dl_member;

static void *dl_main(void *arg) {
  dl_member *m = arg;
  m->rc = kv_txn_put(m->t, m->mine, strlen(m->mine), "x", 1, NULL);
  pthread_barrier_wait(m->bar);
  m->start_ns = kvt_now_ns();
  if (m->rc == KV_OK)
    m->rc = kv_txn_put(m->t, m->next, strlen(m->next), "y", 1, NULL);
  m->end_ns = kvt_now_ns();
  if (m->rc == KV_OK) {
    /* Wait for the victim's error before committing, so the commit is not
    ** what resolves the cycle. */
    m->rc = kv_txn_commit(m->t, NULL, NULL);
    if (m->rc) {
      m->reason = kv_txn_retry_reason(m->t);
      kv_txn_abort(m->t);
    }
  } else {
    m->reason = kv_txn_retry_reason(m->t);
    kv_txn_abort(m->t);
  }
  return NULL;
}

static void run_deadlock(kv_store *s, int n) {
  const char *keys[] = {"A", "B", "C", "D"};
  dl_member m[4];
  pthread_t th[4];
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, (unsigned)n);
  for (int i = 0; i < n; i++) {
    m[i] = (dl_member){.t = kvt_begin(s), .mine = keys[i],
                       .next = keys[(i + 1) % n], .bar = &bar};
  }
  for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, dl_main, &m[i]);
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&bar);
  int aborted = 0, committed = 0;
  for (int i = 0; i < n; i++) {
    if (m[i].rc == KV_OK) {
      committed++;
    } else {
      aborted++;
      assert_int_equal(m[i].rc, KV_RETRY);
      assert_int_equal(m[i].reason, KV_RETRY_DEADLOCK);
      /* Found well under the 10 s lock timeout. */
      assert_true(m[i].end_ns - m[i].start_ns < 100ULL * 1000000ULL);
    }
  }
  assert_int_equal(aborted, 1);      /* never both (seed bug B15) */
  assert_int_equal(committed, n - 1);
  kv_stats st;
  kv_store_stats(s, &st);
  assert_true(st.deadlocks >= 1);
}

static void test_txn_deadlock_of_two(void **state) {
  fixture *f = *state;
  for (int round = 0; round < 5; round++) run_deadlock(f->s, 2);
}

static void test_txn_deadlock_of_three(void **state) {
  fixture *f = *state;
  for (int round = 0; round < 5; round++) run_deadlock(f->s, 3);
}

/* The victim is the lower priority, then the younger. */
static void test_txn_deadlock_victim_rule(void **state) {
  fixture *f = *state;
  for (int variant = 0; variant < 3; variant++) {
    kv_txn_options o1, o2;
    kv_txn_options_init(&o1);
    kv_txn_options_init(&o2);
    kv_retry_info old_age;
    kv_txn *t1 = NULL, *t2 = NULL;
    if (variant == 0) { /* same priority: t2 is younger and loses */
      KVT_OK(kv_txn_begin(f->s, &o1, &t1, errptr));
      KVT_OK(kv_txn_begin(f->s, &o2, &t2, errptr));
    } else if (variant == 1) { /* t2 is a retry of an older txn: t1 loses */
      kv_txn *old = kvt_begin(f->s);
      kv_txn_retry_info(old, &old_age);
      kv_txn_abort(old);
      KVT_OK(kv_txn_begin(f->s, &o1, &t1, errptr));
      o2.retry_of = &old_age;
      KVT_OK(kv_txn_begin(f->s, &o2, &t2, errptr));
    } else { /* t1 has low priority: t1 loses although older */
      o1.priority = KV_PRIORITY_LOW;
      o2.priority = KV_PRIORITY_LOW;
      KVT_OK(kv_txn_begin(f->s, &o1, &t1, errptr));
      kv_txn_abort(t1);
      kv_txn_options_init(&o2);
      o2.priority = KV_PRIORITY_LOW;
      o1.priority = KV_PRIORITY_LOW;
      KVT_OK(kv_txn_begin(f->s, &o1, &t1, errptr));
      kv_retry_info boosted;
      kv_txn_retry_info(t1, &boosted);
      kv_txn_abort(t1);
      KVT_OK(kv_txn_begin(f->s, &o1, &t1, errptr)); /* boost 0, older */
      o2.retry_of = &boosted;                       /* boost 1 */
      KVT_OK(kv_txn_begin(f->s, &o2, &t2, errptr));
    }
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    dl_member m[2] = {
        {.t = t1, .mine = "X", .next = "Y", .bar = &bar},
        {.t = t2, .mine = "Y", .next = "X", .bar = &bar},
    };
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, dl_main, &m[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    int loser = variant == 0 ? 1 : 0;
    assert_int_equal(m[loser].rc, KV_RETRY);
    assert_int_equal(m[loser].reason, KV_RETRY_DEADLOCK);
    assert_int_equal(m[!loser].rc, KV_OK);
  }
}

/* A writer of higher priority aborts the holder instead of waiting. */
static void test_txn_high_priority_aborts_holder(void **state) {
  fixture *f = *state;
  kv_txn *low = kvt_begin(f->s);
  kvt_put(low, "k", "low");
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.priority = KV_PRIORITY_HIGH;
  kv_txn *high = NULL;
  KVT_OK(kv_txn_begin(f->s, &o, &high, errptr));
  kvt_put(high, "k", "high"); /* does not wait */
  kvt_commit(high);
  KVT_RC(KV_RETRY, kv_txn_commit(low, NULL, errptr));
  assert_int_equal(kv_txn_retry_reason(low), KV_RETRY_ABORTED_PRIORITY);
  kv_txn_abort(low);
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "k"), "high");
  kvt_commit(r);
}

/* -------------------------------- 9. timeouts, aborts, savepoints -- */

static void test_txn_lock_timeout_error(void **state) {
  fixture *f = *state;
  kv_txn *t1 = kvt_begin(f->s);
  kvt_put(t1, "k", "1");
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.lock_timeout_ms = 50;
  kv_txn *t2 = NULL;
  KVT_OK(kv_txn_begin(f->s, &o, &t2, errptr));
  uint64_t t0 = kvt_now_ns();
  char *err = NULL;
  assert_int_equal(kv_txn_put(t2, "k", 1, "2", 1, &err), KV_RETRY);
  uint64_t waited = kvt_now_ns() - t0;
  assert_true(waited >= 50ULL * 1000000ULL);
  assert_int_equal(kv_txn_retry_reason(t2), KV_RETRY_LOCK_TIMEOUT);
  assert_non_null(strstr(err, "restart transaction"));
  assert_non_null(strstr(err, "lock timeout"));
  kv_free(err);
  kv_txn_abort(t2);
  kvt_commit(t1);
}

static void test_txn_savepoint_rollback(void **state) {
  fixture *f = *state;
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
  fixture *f = *state;
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
  fixture *f = *state;
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
  fixture *f = *state;
  for (int i = 0; i < 50; i++) {
    kv_txn *w = kvt_begin(f->s);
    kv_txn *r = kvt_begin(f->s);
    assert_null(kvt_get(r, "vis"));
    kvt_commit(r);
    kvt_put(w, "vis", "x");
    kv_ts c = commit_ts(w); /* pushed above r's read */
    kv_txn *later = kvt_begin(f->s);
    assert_true(kv_ts_cmp(kv_txn_read_ts(later), c) > 0);
    assert_string_equal(kvt_get(later, "vis"), "x");
    KVT_OK(kv_txn_delete(later, "vis", 3, errptr));
    kvt_commit(later);
  }
}

/* ------------------------------------------------- long lock waits -- */

/* A seed project crashed when a waiter waited more than about 1.25 s.  A
** waiter that writes a key of its own, then waits well past that for a key
** that a live holder keeps using, and finally gets it and commits. */
typedef struct long_waiter {
  kv_store *s;
  kv_txn *t;
  const char *early, *key, *after; /* writes before, during, after waiting */
  int rc_early, rc_key, rc_after, rc_commit;
  kv_retry_reason reason;
  kv_ts cts;
  uint64_t start_ns, granted_ns;
  uint64_t cpu_ns;     /* thread CPU time spent inside the waiting put */
  long nvcsw;          /* voluntary context switches inside it */
  _Atomic int granted;   /* its put of key returned */
  _Atomic int finished;  /* the thread is done (committed or failed) */
  pthread_t th;
} long_waiter;

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static long thread_nvcsw(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_nvcsw;
}

static void *long_waiter_main(void *arg) {
  long_waiter *w = arg;
  w->rc_early = kv_txn_put(w->t, w->early, strlen(w->early), "early", 5, NULL);
  if (w->rc_early == KV_OK) {
    w->start_ns = kvt_now_ns();
    uint64_t cpu0 = thread_cpu_ns();
    long sw0 = thread_nvcsw();
    w->rc_key = kv_txn_put(w->t, w->key, strlen(w->key), "waiter", 6, NULL);
    w->cpu_ns = thread_cpu_ns() - cpu0;
    w->nvcsw = thread_nvcsw() - sw0;
    w->granted_ns = kvt_now_ns();
    atomic_store(&w->granted, 1);
  }
  if (w->rc_early == KV_OK && w->rc_key == KV_OK)
    w->rc_after = kv_txn_put(w->t, w->after, strlen(w->after), "after", 5,
                             NULL);
  if (w->rc_early == KV_OK && w->rc_key == KV_OK && w->rc_after == KV_OK) {
    w->rc_commit = kv_txn_commit(w->t, &w->cts, NULL);
    if (w->rc_commit == KV_OK) {
      atomic_store(&w->finished, 1);
      return NULL;
    }
  }
  w->reason = kv_txn_retry_reason(w->t);
  kv_txn_abort(w->t);
  atomic_store(&w->finished, 1);
  return NULL;
}

/* Fails at once, saying why, if a waiter stopped waiting. */
static void assert_still_waiting(long_waiter *w, char name) {
  if (atomic_load(&w->granted) || atomic_load(&w->finished)) {
    print_error("waiter %c stopped waiting after %.3f s: put %d (%s)\n", name,
                (double)(kvt_now_ns() - w->start_ns) / 1e9, w->rc_key,
                kv_retry_reason_name(w->reason));
    fail();
  }
}

typedef struct txn_probe {
  uint64_t id;
  kv_txn_info info;
  int found;
} txn_probe;

static void probe_txn(void *ctx, const kv_txn_info *ti) {
  txn_probe *p = ctx;
  if (ti->id == p->id) {
    p->info = *ti;
    p->found = 1;
  }
}

static kv_txn_info txn_info(kv_store *s, uint64_t id) {
  txn_probe p = {.id = id};
  kv_store_list_txns(s, probe_txn, &p);
  assert_true(p.found);
  return p.info;
}

static int short_timeout_then_long(void *ctx) {
  (void)ctx;
  return 10000; /* as the SQLite layer's busy timeout would */
}

#define LONG_WAIT_NS (1600ULL * 1000000ULL)

static void test_txn_long_lock_wait_then_commit(void **state) {
  fixture *f = *state; /* store lock timeout: 10 s */
  kv_stats st0;
  kv_store_stats(f->s, &st0);
  kv_txn *holder = kvt_begin(f->s);
  kvt_put(holder, "k", "holder");
  kvt_put(holder, "k2", "holder");
  /* a: the store's 10 s timeout.  b: begun with a 100 ms timeout that its
  ** timeout function raises to 10 s when it first has to wait. */
  long_waiter a = {.s = f->s, .t = kvt_begin(f->s), .early = "a-early",
                   .key = "k", .after = "a-after"};
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.lock_timeout_ms = 100;
  kv_txn *tb = NULL;
  KVT_OK(kv_txn_begin(f->s, &o, &tb, errptr));
  kv_txn_set_lock_timeout_fn(tb, short_timeout_then_long, NULL);
  long_waiter b = {.s = f->s, .t = tb, .early = "b-early", .key = "k2",
                   .after = "b-after"};
  uint64_t ida = kv_txn_id(a.t), idb = kv_txn_id(b.t);
  assert_int_equal(pthread_create(&a.th, NULL, long_waiter_main, &a), 0);
  assert_int_equal(pthread_create(&b.th, NULL, long_waiter_main, &b), 0);
  wait_until_queued(f->s, ida);
  wait_until_queued(f->s, idb);
  uint64_t queued = kvt_now_ns();
  /* The holder stays alive and busy while they wait; they keep waiting for
  ** it, still pending, the whole time. */
  int checks = 0;
  while (kvt_now_ns() - queued < LONG_WAIT_NS) {
    assert_still_waiting(&a, 'a');
    assert_still_waiting(&b, 'b');
    kv_txn_info ia = txn_info(f->s, ida), ib = txn_info(f->s, idb);
    assert_int_equal(ia.status, 0);
    assert_int_equal(ib.status, 0);
    assert_int_equal(ia.waiting_for, kv_txn_id(holder));
    assert_int_equal(ib.waiting_for, kv_txn_id(holder));
    assert_int_equal(ia.locks, 1); /* its early write's lock */
    assert_int_equal(ib.locks, 1);
    char key[32];
    snprintf(key, sizeof key, "h/%d", checks++);
    kvt_put(holder, key, "busy");
    usleep(50000);
  }
  assert_true(checks >= 2);
  uint64_t before = kvt_now_ns();
  kv_ts ch = commit_ts(holder);
  pthread_join(a.th, NULL);
  pthread_join(b.th, NULL);
  long_waiter *w[2] = {&a, &b};
  for (int i = 0; i < 2; i++) {
    if (w[i]->rc_early || w[i]->rc_key || w[i]->rc_after || w[i]->rc_commit)
      print_error("waiter %c: early %d key %d after %d commit %d (%s)\n",
                  'a' + i, w[i]->rc_early, w[i]->rc_key, w[i]->rc_after,
                  w[i]->rc_commit, kv_retry_reason_name(w[i]->reason));
    assert_int_equal(w[i]->rc_early, KV_OK);
    assert_int_equal(w[i]->rc_key, KV_OK);
    assert_int_equal(w[i]->rc_after, KV_OK);
    assert_int_equal(w[i]->rc_commit, KV_OK);
    assert_true(kv_ts_cmp(w[i]->cts, ch) > 0);
    uint64_t waited = w[i]->granted_ns - w[i]->start_ns;
    print_message("waiter %c: waited %.3f s, woken %.3f ms after the commit "
                  "began, %.3f ms CPU and %ld voluntary switches while "
                  "waiting\n", 'a' + i, (double)waited / 1e9,
                  (double)(w[i]->granted_ns - before) / 1e6,
                  (double)w[i]->cpu_ns / 1e6, w[i]->nvcsw);
    assert_true(waited >= LONG_WAIT_NS - 100ULL * 1000000ULL);
    /* Woken by the holder's release, not by a timer. */
    assert_true(w[i]->granted_ns - before < 500ULL * 1000000ULL);
    /* Asleep, not spinning or polling, through the long wait. */
    assert_true(w[i]->cpu_ns < 150ULL * 1000000ULL);
    assert_true(w[i]->nvcsw < 20);
  }
  /* Both transactions intact: the writes from before, during and after the
  ** wait all committed, above the holder's. */
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "k"), "waiter");
  assert_string_equal(kvt_get(r, "k2"), "waiter");
  assert_string_equal(kvt_get(r, "a-early"), "early");
  assert_string_equal(kvt_get(r, "a-after"), "after");
  assert_string_equal(kvt_get(r, "b-early"), "early");
  assert_string_equal(kvt_get(r, "b-after"), "after");
  assert_string_equal(kvt_get(r, "h/0"), "busy");
  kvt_commit(r);
  kv_stats st;
  kv_store_stats(f->s, &st);
  assert_int_equal(st.lock_waits - st0.lock_waits, 2);
  for (int i = 0; i < 6; i++) assert_int_equal(st.retries[i], st0.retries[i]);
  assert_int_equal(st.deadlocks, st0.deadlocks);
}

/* ------------------------------------------- two-phase commit -- */

/* kv_txn_prepare: everything that can fail fails there; a prepared
** transaction is invisible until committed, nobody can abort it, readers of
** its keys above its timestamp wait for it (readers below do not), and an
** abort after prepare leaves no versions, locks or latches behind. */

static void test_prepare_then_commit(void **state) {
  fixture *f = *state;
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

static void test_prepare_then_abort_leaves_nothing(void **state) {
  fixture *f = *state;
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
static void test_prepare_fails_on_refresh(void **state) {
  fixture *f = *state;
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
static void test_unprepare_goes_on(void **state) {
  fixture *f = *state;
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
static void test_prepare_without_writes(void **state) {
  fixture *f = *state;
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
static void test_prepared_blocks_later_readers_and_pushers(void **state) {
  fixture *f = *state;
  kvt_put1(f->s, "k", "old");
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "k", "new");
  KVT_OK(kv_txn_prepare(t, errptr));
  bg_get rd = {.s = f->s, .key = "k"};
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.priority = KV_PRIORITY_HIGH;
  bg_put wr = {.s = f->s, .k = "k", .v = "bg"};
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
  bg_start(&wr);
  kvt_wait_until_queued(f->s, wr_id);
  assert_int_equal(atomic_load(&rd.done), 0);
  assert_int_equal(kvt_txn_info(f->s, kv_txn_id(t)).status, 1); /* committing */
  uint64_t commit_ns = kvt_now_ns();
  kv_ts tc;
  KVT_OK(kv_txn_commit(t, &tc, errptr)); /* the writer did not abort it */
  pthread_join(rd.th, NULL);
  bg_join(&wr);
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

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_txn_second_writer_waits_for_commit),
      T(test_txn_second_writer_proceeds_when_first_aborts),
      T(test_txn_waiters_are_served_fifo),
      T(test_txn_read_meets_lock_does_not_block),
      T(test_txn_write_below_read_is_pushed_strictly_above),
      T(test_txn_pushed_txn_commits_when_refresh_passes),
      T(test_txn_refresh_fails_when_read_key_changed),
      T(test_txn_refresh_fails_on_phantom),
      T(test_txn_refresh_passes_outside_scanned_range),
      T(test_txn_limited_scan_depends_on_returned_rows),
      T(test_txn_write_too_old_moves_above_newer_version),
      T(test_txn_lost_update_is_impossible),
      T(test_txn_locking_read_waits_and_reads_latest),
      T(test_txn_locking_read_after_read_sees_newer_commit),
      T(test_txn_absent_gap_answers_bulk_inserts_and_no_more),
      T(test_txn_read_sees_commit_landing_below_it_later),
      T(test_txn_next_txn_sees_commit_after_previous_read),
      T(test_prepare_then_commit),
      T(test_prepare_then_abort_leaves_nothing),
      T(test_prepare_fails_on_refresh),
      T(test_prepare_without_writes),
      T(test_unprepare_goes_on),
      T(test_prepared_blocks_later_readers_and_pushers),
      T(test_txn_deadlock_of_two),
      T(test_txn_deadlock_of_three),
      T(test_txn_deadlock_victim_rule),
      T(test_txn_high_priority_aborts_holder),
      T(test_txn_lock_timeout_error),
      T(test_txn_long_lock_wait_then_commit),
      T(test_txn_savepoint_rollback),
      T(test_txn_failed_commit_releases_locks),
      T(test_txn_read_only_rejects_writes),
      T(test_txn_commit_visible_to_later_begin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
