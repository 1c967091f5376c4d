/*
** test_gc.c — garbage collection and the history iterator (gc.c), always
** on a manual wall clock (kv_options.wall_clock), never by sleeping: a live
** reader keeps its snapshot through a collection, deletions are collected
** whole once nobody can read them, time travel below the threshold is
** refused, and the background thread collects on its own.
*/
#include "kvtest.h"

static char *errbuf;

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
  kv_options_init(&o);
  o.wall_clock = kvt_clock_read;
  o.wall_clock_ctx = &clk;
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
  kv_options_init(&o);
  o.wall_clock = kvt_clock_read;
  o.wall_clock_ctx = &clk;
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


static int cleanup(void **state) {
  (void)state;
  kv_free(errbuf);
  errbuf = NULL;
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gc_keeps_what_readers_can_see),
      cmocka_unit_test(test_gc_background_thread),
  };
  return cmocka_run_group_tests(tests, NULL, cleanup);
}
