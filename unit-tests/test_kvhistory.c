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
**     of them than the iterator steps over before it seeks;
**   - kv_store_history_from shows exactly the keys with a version at or
**     above from, with all their versions, over writes spread across table
**     files that its time-bound iterator may skip.
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

/* The versions of keys k..l that a history shows ("key@wall.logical=val;"
** each, a deletion as "-"): kv_store_history_from(from) when use_from,
** else kv_store_history's, only of the keys with a version at or above
** *from (from NULL: every key). */
static char *hist_dump(kv_store *s, const kv_ts *from, bool use_from) {
  size_t cap = 1 << 16, n = 0;
  char *out = malloc(cap);
  out[0] = 0;
  kv_history *h = NULL;
  if (use_from)
    KVT_OK(kv_store_history_from(s, "k", 1, "l", 1, *from, &h, errptr));
  else
    KVT_OK(kv_store_history(s, "k", 1, "l", 1, &h, errptr));
  char key[32] = "", row[128];
  size_t start = 0; /* where the current key's versions begin in out */
  /* Filtered here only for the full history: the other must do it. */
  const kv_ts *filter = use_from ? NULL : from;
  bool keep = !filter;
  int rc;
  while ((rc = kv_history_next(h, NULL)) == KV_OK) {
    size_t kl, vl;
    const char *k = kv_history_key(h, &kl);
    const char *v = kv_history_value(h, &vl);
    kv_ts ts = kv_history_ts(h);
    if (strlen(key) != kl || memcmp(key, k, kl) != 0) {
      if (!keep) n = start, out[n] = 0; /* the last key had no new version */
      snprintf(key, sizeof key, "%.*s", (int)kl, k);
      start = n;
      keep = !filter;
    }
    if (filter && kv_ts_cmp(ts, *filter) >= 0) keep = true;
    int m = snprintf(row, sizeof row, "%s@%llu.%u=%.*s;", key,
                     (unsigned long long)ts.wall, ts.logical,
                     v ? (int)vl : 1, v ? v : "-");
    if (n + (size_t)m + 1 > cap) out = realloc(out, cap *= 2);
    memcpy(out + n, row, (size_t)m + 1);
    n += (size_t)m;
  }
  if (!keep) out[start] = 0;
  assert_int_equal(rc, KV_NOTFOUND);
  kv_history_close(h);
  return out;
}

/* kv_store_history_from against kv_store_history on random writes spread
** over several table files (each round flushed), from every round's first
** commit: the same keys with the same versions, whichever files the
** time-bound iterator skipped. */
static void test_kvhistory_from_matches_a_full_history(void **state) {
  kvt_fixture *f = *state;
  enum { ROUNDS = 8, KEYS = 400 };
  kv_ts first[ROUNDS + 1];
  unsigned seed = 12345;
  for (int r = 0; r < ROUNDS; r++) {
    int writes = r == 0 ? KEYS : 1 + r * 7;
    for (int i = 0; i < writes; i++) {
      char k[16], v[16];
      seed = seed * 1103515245u + 12345u;
      int key = r == 0 ? i : (int)((seed >> 8) % KEYS);
      snprintf(k, sizeof k, "k%04d", key);
      snprintf(v, sizeof v, "r%d.%d", r, i);
      kv_ts ts = put_commit(f->s, k, (seed >> 20) % 5 == 0 && r ? NULL : v);
      if (i == 0) first[r] = ts;
    }
    if (r % 3 != 2) /* most rounds in a table file of their own */
      KVT_OK(kv_store_delete_range(f->s, "~", 1, "~~", 2, errptr));
  }
  first[ROUNDS] = kv_store_now(f->s); /* nothing at or above it */
  for (int r = 0; r <= ROUNDS; r++) {
    char *want = hist_dump(f->s, &first[r], false);
    char *got = hist_dump(f->s, &first[r], true);
    assert_string_equal(got, want);
    if (r == ROUNDS) assert_string_equal(got, "");
    else assert_true(strlen(got) > 0);
    free(want);
    free(got);
  }
  /* from below everything: every key. */
  kv_ts zero = {0, 0};
  char *all = hist_dump(f->s, NULL, false);
  char *got = hist_dump(f->s, &zero, true);
  assert_string_equal(got, all);
  free(all);
  free(got);
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
      cmocka_unit_test_setup_teardown(
          test_kvhistory_from_matches_a_full_history, kvt_setup,
          kvt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
