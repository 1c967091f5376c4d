/*
** test_kvhistory.c — kvcore/history.c: a history reads at a timestamp R
** with the guarantees of a read-only transaction, which is what lets a
** change feed polled with "ts > last" see every commit exactly once.
** (Named test_kvhistory, not test_history: sql-tests/test_history.c is the
** SQL change-feed driver and both build into build/tests/.)
**
**   - a commit in flight (prepared: latched, its timestamp fixed below R)
**     when a history opens is waited for, observably (the opener is asleep
**     in the kernel until the commit), and is in the history;
**   - a transaction that began before the history opened but commits after
**     it lands above R (the timestamp cache entry at R), so no poll that
**     already returned R's versions can miss it;
**   - every version returned is at or below R;
**   - kv_history_skip_key moves past a key's older versions, also past more
**     of them than the iterator steps over before it seeks.
*/
#include "kvtest.h"

static kv_ts put_commit(kv_store *s, const char *k, const char *v) {
  kv_txn *t = kvt_begin(s);
  if (v)
    kvt_put(t, k, v);
  else
    KVT_OK(kv_txn_delete(t, k, strlen(k), errptr));
  return kvt_commit_ts(t);
}

/* The versions of a history, collected: key, ts, value ("" for a deletion
** is told apart by del). */
typedef struct hver {
  char key[16], val[16];
  kv_ts ts;
  int del;
} hver;

typedef struct hist_run {
  kv_store *s;
  const char *lo, *hi;
  _Atomic pid_t tid;   /* announced just before kv_store_history */
  _Atomic int done;    /* kv_store_history returned */
  uint64_t done_ns;
  kv_ts at;
  hver v[32];
  int n;
  pthread_t th;
} hist_run;

static void hist_collect(hist_run *r) {
  kv_history *h = NULL;
  atomic_store(&r->tid, kvt_gettid());
  KVT_OK(kv_store_history(r->s, r->lo, strlen(r->lo), r->hi, strlen(r->hi),
                          &h, errptr));
  r->done_ns = kvt_now_ns();
  atomic_store(&r->done, 1);
  r->at = kv_history_read_ts(h);
  int rc;
  while ((rc = kv_history_next(h, NULL)) == KV_OK) {
    assert_true(r->n < 32);
    hver *x = &r->v[r->n++];
    size_t kl, vl;
    const char *k = kv_history_key(h, &kl);
    const char *v = kv_history_value(h, &vl);
    snprintf(x->key, sizeof x->key, "%.*s", (int)kl, k);
    snprintf(x->val, sizeof x->val, "%.*s", (int)vl, v ? v : "");
    x->ts = kv_history_ts(h);
    x->del = kv_history_is_delete(h);
    /* Every version is at or below the read timestamp. */
    assert_true(kv_ts_cmp(x->ts, r->at) <= 0);
  }
  assert_int_equal(rc, KV_NOTFOUND);
  kv_history_close(h);
}

static void *hist_main(void *arg) {
  hist_collect(arg);
  return NULL;
}

static void test_kvhistory_waits_for_commit_in_flight(void **state) {
  kvt_fixture *f = *state;
  kv_ts c0 = put_commit(f->s, "k", "old");
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "k", "new");
  KVT_OK(kv_txn_prepare(t, errptr)); /* latched; its timestamp is fixed */
  kv_stats st0;
  kv_store_stats(f->s, &st0);
  hist_run r = {.s = f->s, .lo = "a", .hi = "z"};
  assert_int_equal(pthread_create(&r.th, NULL, hist_main, &r), 0);
  /* Asleep in its latch wait, not merely not there yet: a history that
  ** did not wait would have returned "old" alone. */
  kvt_wait_asleep(&r.tid, &r.done);
  uint64_t commit_ns = kvt_now_ns();
  kv_ts tc;
  KVT_OK(kv_txn_commit(t, &tc, errptr));
  pthread_join(r.th, NULL);
  assert_true(r.done_ns >= commit_ns);
  kv_stats st1;
  kv_store_stats(f->s, &st1);
  assert_true(st1.latch_waits > st0.latch_waits);
  assert_true(kv_ts_cmp(tc, r.at) < 0);
  assert_int_equal(r.n, 2);
  assert_string_equal(r.v[0].val, "new");
  assert_int_equal(kv_ts_cmp(r.v[0].ts, tc), 0);
  assert_string_equal(r.v[1].val, "old");
  assert_int_equal(kv_ts_cmp(r.v[1].ts, c0), 0);
}

static void test_kvhistory_later_commit_lands_above_read_ts(void **state) {
  kvt_fixture *f = *state;
  put_commit(f->s, "k", "old");
  /* t begins (and writes) before the history, commits after it. */
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "m", "late");
  kv_ts w = kv_txn_write_ts(t);
  hist_run r = {.s = f->s, .lo = "a", .hi = "z"};
  hist_collect(&r);
  assert_true(kv_ts_cmp(w, r.at) < 0);
  kv_ts tc = kvt_commit_ts(t);
  /* Pushed above R by the history's read: a poll for "ts > newest seen"
  ** that saw R's versions still finds it. */
  assert_true(kv_ts_cmp(tc, r.at) > 0);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.v[0].key, "k");
  /* A key outside the history's range is not pushed. */
  kv_txn *u = kvt_begin(f->s);
  kvt_put(u, "zz", "outside");
  kv_ts uw = kv_txn_write_ts(u);
  hist_run r2 = {.s = f->s, .lo = "a", .hi = "z"};
  hist_collect(&r2);
  assert_int_equal(r2.n, 2);
  assert_string_equal(r2.v[1].key, "m");
  assert_int_equal(kv_ts_cmp(r2.v[1].ts, tc), 0);
  kv_ts uc = kvt_commit_ts(u);
  assert_int_equal(kv_ts_cmp(uc, uw), 0);
}

static void test_kvhistory_skip_key(void **state) {
  kvt_fixture *f = *state;
  char v[8];
  for (int i = 0; i < 9; i++) {
    snprintf(v, sizeof v, "a%d", i);
    put_commit(f->s, "a", v);
  }
  put_commit(f->s, "b", "b0");
  put_commit(f->s, "b", NULL);
  put_commit(f->s, "c", "c0");
  kv_history *h = NULL;
  KVT_OK(kv_store_history(f->s, "a", 1, NULL, 0, &h, errptr));
  size_t kl, vl;
  KVT_OK(kv_history_next(h, errptr));
  assert_memory_equal(kv_history_key(h, &kl), "a", 1);
  assert_memory_equal(kv_history_value(h, &vl), "a8", 2);
  KVT_OK(kv_history_next(h, errptr));
  assert_memory_equal(kv_history_value(h, &vl), "a7", 2);
  kv_history_skip_key(h); /* 7 older versions: past the stepping, a seek */
  KVT_OK(kv_history_next(h, errptr));
  assert_memory_equal(kv_history_key(h, &kl), "b", 1);
  assert_true(kv_history_is_delete(h));
  kv_history_skip_key(h); /* 1 older version: stepped over */
  KVT_OK(kv_history_next(h, errptr));
  assert_memory_equal(kv_history_key(h, &kl), "c", 1);
  assert_memory_equal(kv_history_value(h, &vl), "c0", 2);
  kv_history_skip_key(h); /* the last key */
  KVT_RC(KV_NOTFOUND, kv_history_next(h, errptr));
  kv_history_close(h);
  /* Bad bounds are refused, not read. */
  KVT_RC(KV_INVALID, kv_store_history(f->s, NULL, 1, NULL, 0, &h, errptr));
  assert_null(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_kvhistory_waits_for_commit_in_flight,
                                      kvt_setup, kvt_teardown),
      cmocka_unit_test_setup_teardown(
          test_kvhistory_later_commit_lands_above_read_ts, kvt_setup,
          kvt_teardown),
      cmocka_unit_test_setup_teardown(test_kvhistory_skip_key, kvt_setup,
                                      kvt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
