/*
** test_gc.c — garbage collection and the history iterator (gc.c), always
** on a manual wall clock (kv_options.wall_clock), never by sleeping: GC
** never drops a version a live transaction can read (the oldest live read
** timestamp pins the threshold, also for a read-only transaction reading in
** the past, and a deletion committed after a snapshot keeps the version
** under it); it drops history older than the retention window and nothing
** younger, keeping per key the newest version at or below the threshold
** (what a read at the threshold sees) unless it is a deletion; time travel
** below the threshold is refused; the background thread collects on its
** own.
*/
#include "kvtest.h"

static char *errbuf;

/* 1e12 ns: an arbitrary start for the manual clock. */
#define T0 1000000000000ULL
#define MS 1000000ULL

/* A store in a fresh directory on the manual clock clk, with the given
** retention and no background thread.  *dir receives the path. */
static kv_store *open_gc_store(kvt_clock *clk, int64_t retention_ms,
                               char **dir) {
  *dir = kvt_tempdir(0);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_NORMAL;
  o.wall_clock = kvt_clock_read;
  o.wall_clock_ctx = clk;
  o.retention_ms = retention_ms;
  return kvt_open_dir(*dir, &o);
}

static void close_gc_store(kv_store *s, char *dir) {
  kv_stats st;
  kv_store_stats(s, &st);
  assert_int_equal(st.active_txns, 0);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

static kv_ts put1_ts(kv_store *s, const char *k, const char *v) {
  kv_txn *t = kvt_begin(s);
  kvt_put(t, k, v);
  return kvt_commit_ts(t);
}

static kv_ts del1_ts(kv_store *s, const char *k) {
  kv_txn *t = kvt_begin(s);
  KVT_OK(kv_txn_delete(t, k, strlen(k), errptr));
  return kvt_commit_ts(t);
}

static int count_versions(kv_store *s, const char *k) {
  kv_history *h;
  KVT_OK(kv_store_history(s, k, strlen(k), NULL, 0, &h, errptr));
  int n = 0;
  while (kv_history_next(h, NULL) == KV_OK) {
    size_t kl;
    const char *hk = kv_history_key(h, &kl);
    if (kl != strlen(k) || memcmp(hk, k, kl)) break;
    n++;
  }
  kv_history_close(h);
  return n;
}

static void test_gc_keeps_what_readers_can_see(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kvt_clock clk = {.now = 1000000000000ULL};
  kv_options o;
  kvt_clock_options(&o, &clk);
  o.retention_ms = 1000;
  kv_store *s = kvt_open_dir(dir, &o);
  kvt_put1(s, "k", "v1");
  kvt_put1(s, "k", "v2");
  kvt_put1(s, "gone", "x");
  kv_txn *t = kvt_begin(s);
  KVT_OK(kv_txn_delete(t, "gone", 4, errptr));
  kvt_commit(t);
  clk.now += 5000000000ULL; /* 5 s later: all of the above is history */
  kv_txn *live = kvt_begin(s); /* a reader that must keep its snapshot */
  kvt_put1(s, "k", "v3");
  clk.now += 5000000000ULL;
  kv_gc_stats st;
  KVT_OK(kv_store_gc(s, &st, errptr));
  /* The live reader pins the threshold at its read timestamp: it sees v2. */
  assert_string_equal(kvt_get(live, "k"), "v2");
  assert_int_equal(count_versions(s, "k"), 2);     /* v3, v2 */
  assert_int_equal(count_versions(s, "gone"), 0);  /* deletion collected */
  kvt_commit(live);
  KVT_OK(kv_store_gc(s, &st, errptr));
  assert_int_equal(count_versions(s, "k"), 1);
  assert_true(st.versions_deleted >= 1);
  kv_txn *r = kvt_begin(s);
  assert_string_equal(kvt_get(r, "k"), "v3");
  assert_null(kvt_get(r, "gone"));
  kvt_commit(r);
  /* Time travel below the threshold is refused with a clear error. */
  kv_txn_options to;
  kv_txn_options_init(&to);
  to.read_only = 1;
  to.read_ts = (kv_ts){1000000000000ULL + 1, 0};
  kv_txn *old = NULL;
  kv_free(errbuf);
  errbuf = NULL;
  assert_int_equal(kv_txn_begin(s, &to, &old, &errbuf), KV_INVALID);
  assert_non_null(strstr(errbuf, "retention"));
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

static void test_gc_background_thread(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kvt_clock clk = {.now = 1000000000000ULL};
  kv_options o;
  kvt_clock_options(&o, &clk);
  o.retention_ms = 1;
  o.gc_interval_ms = 5;
  kv_store *s = kvt_open_dir(dir, &o);
  for (int i = 0; i < 10; i++) kvt_put1(s, "k", "v");
  clk.now += 10000000000ULL;
  uint64_t deadline = kvt_now_ns() + 10ULL * 1000000000ULL;
  while (count_versions(s, "k") > 1) { /* the thread collects on its own */
    assert_true(kvt_now_ns() < deadline);
    usleep(1000);
  }
  kv_store_close(s); /* stops and joins the thread */
  kvt_rmrf(dir);
  free(dir);
}

/* kv_store_set_gc changes the window of later passes and wakes the thread
** to wait its new interval (it was sleeping for an hour); kv_stats counts
** the passes and the versions they collected, and reports the threshold. */
static void test_gc_set_gc_changes_window_and_wakes_thread(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kvt_clock clk = {.now = T0};
  kv_options o;
  kvt_clock_options(&o, &clk);
  o.retention_ms = 3600 * 1000;
  o.gc_interval_ms = 3600 * 1000;
  kv_store *s = kvt_open_dir(dir, &o);
  for (int i = 0; i < 10; i++) kvt_put1(s, "k", "v");
  clk.now += 10000 * MS;
  kv_gc_stats gs;
  KVT_OK(kv_store_gc(s, &gs, errptr)); /* an hour's window: nothing goes */
  assert_int_equal(gs.versions_deleted, 0);
  kv_store_set_gc(s, 1000, 5);
  kv_options got;
  kv_store_get_options(s, &got);
  assert_int_equal(got.retention_ms, 1000);
  assert_int_equal(got.gc_interval_ms, 5);
  uint64_t deadline = kvt_now_ns() + 10ULL * 1000000000ULL;
  kv_stats st;
  /* The woken thread collects (and counts its pass once it is over). */
  for (;;) {
    kv_store_stats(s, &st);
    if (count_versions(s, "k") == 1 && st.gc_runs >= 2) break;
    assert_true(kvt_now_ns() < deadline);
    usleep(1000);
  }
  assert_int_equal(st.gc_versions_deleted, 9);
  assert_true(st.gc_threshold.wall >= T0 + 10000 * MS - 1000 * MS);
  kv_store_set_gc(s, -1, 0); /* keeps both */
  kv_store_get_options(s, &got);
  assert_int_equal(got.retention_ms, 1000);
  assert_int_equal(got.gc_interval_ms, 5);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

/* History younger than the retention window survives any number of runs;
** once it is older, each key keeps only its newest version (none when that
** is a deletion), and versions above the threshold are never touched. */
static void test_gc_drops_history_older_than_retention(void **state) {
  (void)state;
  kvt_clock clk = {.now = T0};
  char *dir;
  kv_store *s = open_gc_store(&clk, 1000, &dir);
  kvt_put1(s, "k", "v1");
  kvt_put1(s, "k", "v2");
  kvt_put1(s, "k", "v3");
  kvt_put1(s, "d", "x");
  del1_ts(s, "d");
  /* 500 ms later: all of it is inside the 1 s window. */
  clk.now += 500 * MS;
  kv_gc_stats st;
  KVT_OK(kv_store_gc(s, &st, errptr));
  assert_true(kv_ts_cmp(st.threshold, (kv_ts){T0, 0}) < 0);
  assert_int_equal(st.keys_scanned, 2);
  assert_int_equal(st.versions_scanned, 5);
  assert_int_equal(st.versions_deleted, 0);
  assert_int_equal(count_versions(s, "k"), 3);
  assert_int_equal(count_versions(s, "d"), 2);
  /* 1.5 s after the writes, with two fresh versions of another key. */
  clk.now += 1000 * MS;
  kvt_put1(s, "fresh", "f1");
  kvt_put1(s, "fresh", "f2");
  KVT_OK(kv_store_gc(s, &st, errptr));
  assert_true(kv_ts_cmp(st.threshold, (kv_ts){T0 + 500 * MS, 0}) >= 0);
  assert_true(kv_ts_cmp(st.threshold, (kv_ts){T0 + 1500 * MS, 0}) < 0);
  assert_int_equal(st.keys_scanned, 3);
  assert_int_equal(st.versions_scanned, 7);
  assert_int_equal(st.versions_deleted, 4); /* v1, v2; d's put and deletion */
  assert_int_equal(count_versions(s, "k"), 1);
  assert_int_equal(count_versions(s, "d"), 0);
  assert_int_equal(count_versions(s, "fresh"), 2); /* inside the window */
  kv_txn *r = kvt_begin(s);
  assert_string_equal(kvt_get(r, "k"), "v3");
  assert_null(kvt_get(r, "d"));
  assert_string_equal(kvt_get(r, "fresh"), "f2");
  kvt_commit(r);
  /* Nothing is left to collect, and the threshold does not move back. */
  kv_ts th = st.threshold;
  KVT_OK(kv_store_gc(s, &st, errptr));
  assert_int_equal(st.versions_deleted, 0);
  assert_true(kv_ts_cmp(st.threshold, th) >= 0);
  close_gc_store(s, dir);
}

/* The newest version at or below the threshold is what a read at the
** threshold sees: it stays while a deletion above the threshold hides it
** from the present, and goes once the deletion itself is old enough. */
static void test_gc_keeps_version_under_a_young_deletion(void **state) {
  (void)state;
  kvt_clock clk = {.now = T0};
  char *dir;
  kv_store *s = open_gc_store(&clk, 1000, &dir);
  kvt_put1(s, "k", "old");
  kvt_put1(s, "k", "v");
  clk.now += 2000 * MS;
  del1_ts(s, "k");
  clk.now += 500 * MS; /* threshold: 1.5 s, between the put and the delete */
  kv_gc_stats st;
  KVT_OK(kv_store_gc(s, &st, errptr));
  assert_int_equal(st.versions_deleted, 1); /* "old" only */
  assert_int_equal(count_versions(s, "k"), 2);
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = 1;
  o.read_ts = st.threshold; /* the oldest read still allowed */
  kv_txn *at = NULL;
  KVT_OK(kv_txn_begin(s, &o, &at, errptr));
  assert_string_equal(kvt_get(at, "k"), "v");
  kvt_commit(at);
  clk.now += 2000 * MS; /* the deletion is history too */
  KVT_OK(kv_store_gc(s, &st, errptr));
  assert_int_equal(st.versions_deleted, 2);
  assert_int_equal(count_versions(s, "k"), 0);
  close_gc_store(s, dir);
}

/* Live transactions pin the threshold at their read timestamps, however
** old: a writer's snapshot keeps the versions it can read, including one a
** later transaction deleted, and so does a read-only transaction reading
** in the past. */
static void test_gc_never_drops_what_a_live_txn_can_read(void **state) {
  (void)state;
  kvt_clock clk = {.now = T0};
  char *dir;
  kv_store *s = open_gc_store(&clk, 1000, &dir);
  kv_ts c1 = put1_ts(s, "k", "v1");
  kvt_put1(s, "k2", "x");
  clk.now += 100 * MS;
  kvt_put1(s, "k", "v2");
  kv_txn *live = kvt_begin(s); /* sees v2 and x */
  clk.now += 100 * MS;
  kvt_put1(s, "k", "v3");
  del1_ts(s, "k2");
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = 1;
  o.read_ts = c1; /* 200 ms in the past: inside the window */
  kv_txn *past = NULL;
  KVT_OK(kv_txn_begin(s, &o, &past, errptr));
  clk.now += 10000 * MS; /* everything is far older than the retention */
  kv_gc_stats st;
  KVT_OK(kv_store_gc(s, &st, errptr));
  assert_true(kv_ts_cmp(st.threshold, c1) <= 0);
  assert_int_equal(st.versions_deleted, 0);
  assert_string_equal(kvt_get(past, "k"), "v1");
  assert_null(kvt_get(past, "k2")); /* written after its timestamp */
  kvt_commit(past);
  /* Only live is left: v1 goes, what live reads stays. */
  KVT_OK(kv_store_gc(s, &st, errptr));
  assert_true(kv_ts_cmp(st.threshold, kv_txn_read_ts(live)) <= 0);
  assert_int_equal(st.versions_deleted, 1);
  assert_string_equal(kvt_get(live, "k"), "v2");
  assert_string_equal(kvt_get(live, "k2"), "x");
  assert_int_equal(count_versions(s, "k"), 2);  /* v3, v2 */
  assert_int_equal(count_versions(s, "k2"), 2); /* deletion, x */
  kvt_commit(live);
  /* Nobody reads the past any more: each key keeps its present. */
  KVT_OK(kv_store_gc(s, &st, errptr));
  assert_int_equal(st.versions_deleted, 3);
  assert_int_equal(count_versions(s, "k"), 1);
  assert_int_equal(count_versions(s, "k2"), 0);
  close_gc_store(s, dir);
}



static int cleanup(void **state) {
  (void)state;
  kv_free(errbuf);
  errbuf = NULL;
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gc_drops_history_older_than_retention),
      cmocka_unit_test(test_gc_keeps_version_under_a_young_deletion),
      cmocka_unit_test(test_gc_never_drops_what_a_live_txn_can_read),
      cmocka_unit_test(test_gc_keeps_what_readers_can_see),
      cmocka_unit_test(test_gc_background_thread),
      cmocka_unit_test(test_gc_set_gc_changes_window_and_wakes_thread),
  };
  return cmocka_run_group_tests(tests, NULL, cleanup);
}
