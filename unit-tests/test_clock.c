/*
** test_clock.c — the hybrid logical clock (scenario 2 of the kvcore issue):
** timestamps strictly increase across threads; a stalled wall clock makes
** the logical part count; a restart with the wall clock set back never
** goes back; commit timestamps pushed ahead of the clock are observed; the
** persisted mark is renewed outside the clock's mutex.
*/
#include "kvtest.h"

#include "kvint.h"

enum { NTHREADS = 8 };

typedef struct worker {
  kv_store *s;
  long n;
  kv_ts *out;
  int ok;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  w->ok = 1;
  for (long i = 0; i < w->n; i++) {
    w->out[i] = kv_store_now(w->s);
    if (i && kv_ts_cmp(w->out[i - 1], w->out[i]) >= 0) w->ok = 0;
  }
  return NULL;
}

static int cmp_ts(const void *a, const void *b) {
  return kv_ts_cmp(*(const kv_ts *)a, *(const kv_ts *)b);
}

static void run_threads(kv_store *s, long per) {
  worker w[NTHREADS];
  pthread_t th[NTHREADS];
  kv_ts *all = malloc(sizeof(kv_ts) * (size_t)per * NTHREADS);
  for (int i = 0; i < NTHREADS; i++) {
    w[i] = (worker){s, per, all + i * per, 0};
    pthread_create(&th[i], NULL, worker_main, &w[i]);
  }
  for (int i = 0; i < NTHREADS; i++) {
    pthread_join(th[i], NULL);
    assert_true(w[i].ok); /* each thread's sequence increases */
  }
  /* And no two threads ever got the same timestamp. */
  qsort(all, (size_t)per * NTHREADS, sizeof(kv_ts), cmp_ts);
  for (long i = 1; i < per * NTHREADS; i++)
    assert_true(kv_ts_cmp(all[i - 1], all[i]) < 0);
  free(all);
}

static void test_clock_strictly_increasing_under_threads(void **state) {
  (void)state;
  kv_store *s = kvt_open_dir(NULL, NULL);
  run_threads(s, kvt_scaled(100000));
  kv_store_close(s);
}

static void test_clock_stalled_wall_counts_logical(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kvt_clock clk = {.now = 5000000000ULL};
  kv_options o;
  kvt_clock_options(&o, &clk);
  kv_store *s = kvt_open_dir(dir, &o);
  kv_ts a = kv_store_now(s), b = kv_store_now(s);
  assert_int_equal(a.wall, b.wall);
  assert_int_equal(b.logical, a.logical + 1);
  run_threads(s, kvt_scaled(20000)); /* all on one wall tick */
  clk.now += 10;
  kv_ts c = kv_store_now(s);
  assert_int_equal(c.wall, clk.now);
  assert_int_equal(c.logical, 0);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

static void test_clock_never_goes_back_across_reopen(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kvt_clock clk = {.now = 1700000000ULL * 1000000000ULL};
  kv_options o;
  kvt_clock_options(&o, &clk);
  kv_store *s = kvt_open_dir(dir, &o);
  kv_txn *t = kvt_begin(s);
  kvt_put(t, "k", "before");
  kv_ts c1;
  KVT_OK(kv_txn_commit(t, &c1, errptr));
  kv_ts last = kv_store_now(s);
  kv_store_close(s);

  clk.now -= 3600ULL * 1000000000ULL; /* the machine's clock went back 1 h */
  s = kvt_open_dir(dir, &o);
  kv_ts first = kv_store_now(s);
  assert_true(kv_ts_cmp(first, last) > 0);
  t = kvt_begin(s);
  assert_true(kv_ts_cmp(kv_txn_read_ts(t), c1) > 0);
  assert_string_equal(kvt_get(t, "k"), "before");
  kvt_put(t, "k", "after");
  kv_ts c2;
  KVT_OK(kv_txn_commit(t, &c2, errptr));
  assert_true(kv_ts_cmp(c2, c1) > 0);
  t = kvt_begin(s);
  assert_string_equal(kvt_get(t, "k"), "after");
  kvt_commit(t);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

/* The clock module directly: update() records timestamps from elsewhere,
** and the persisted mark stays ahead of everything handed out. */
typedef struct persist_log {
  uint64_t last;
  int calls;
} persist_log;

static int persist_cb(void *ctx, uint64_t hwm, char **errptr) {
  (void)errptr;
  persist_log *p = ctx;
  assert_true(hwm > p->last);
  p->last = hwm;
  p->calls++;
  return KV_OK;
}

static void test_clock_update_and_mark(void **state) {
  (void)state;
  kvt_clock clk = {.now = 1000};
  persist_log pl = {0, 0};
  kv_clock c;
  KVT_OK(kv_clock_init(&c, kvt_clock_read, &clk, 0, persist_cb, &pl, errptr));
  kv_ts t;
  KVT_OK(kv_clock_now(&c, &t, errptr));
  assert_int_equal(pl.calls, 1);
  assert_true(pl.last >= t.wall);
  kv_clock_update(&c, (kv_ts){t.wall, t.logical + 10});
  kv_ts u;
  KVT_OK(kv_clock_now(&c, &u, errptr));
  assert_true(kv_ts_cmp(u, (kv_ts){t.wall, t.logical + 10}) > 0);
  for (int i = 0; i < 100; i++) {
    clk.now += 1000000000ULL; /* 1 s per step: the mark is renewed */
    KVT_OK(kv_clock_now(&c, &u, errptr));
    assert_true(u.wall <= pl.last);
  }
  assert_true(pl.calls > 1 && pl.calls <= 60); /* about once per lease */
  kv_clock_destroy(&c);
}

/* A mark that cannot be persisted (a full disk) does not stop the clock:
** now() stalls at the last mark, counting in the logical part, so reads
** keep beginning; once persisting works again the wall time comes back. */
typedef struct failing_persist {
  bool fail;
  uint64_t last;
  int calls;
} failing_persist;

static int failing_cb(void *ctx, uint64_t hwm, char **errptr) {
  failing_persist *p = ctx;
  p->calls++;
  if (p->fail) return kv_err(errptr, KV_FULL, "disk full (test)");
  p->last = hwm;
  return KV_OK;
}

static void test_clock_stalls_at_mark_when_persist_fails(void **state) {
  (void)state;
  kvt_clock clk = {.now = 1000};
  failing_persist fp = {false, 0, 0};
  kv_clock c;
  KVT_OK(kv_clock_init(&c, kvt_clock_read, &clk, 0, failing_cb, &fp, errptr));
  kv_ts t, prev;
  KVT_OK(kv_clock_now(&c, &prev, errptr));
  uint64_t mark = fp.last;
  fp.fail = true;
  for (int i = 0; i < 50; i++) {
    clk.now += 1000000000ULL; /* past the mark after two steps */
    KVT_OK(kv_clock_now(&c, &t, errptr));
    assert_true(kv_ts_cmp(t, prev) > 0); /* still strictly increasing */
    assert_true(t.wall <= mark);         /* never above what is durable */
    prev = t;
  }
  assert_int_equal(t.wall, mark); /* stalled at the mark */
  /* Rate-limited: not a persist attempt per now() once stalled. */
  assert_true(fp.calls < 50);
  fp.fail = false;
  uint64_t deadline = kv_mono_ns() + 5000000000ULL;
  while (t.wall == mark && kv_mono_ns() < deadline)
    KVT_OK(kv_clock_now(&c, &t, errptr)); /* retried after 100 ms */
  assert_int_equal(t.wall, clk.now);
  assert_true(fp.last >= t.wall);
  kv_clock_destroy(&c);
}

/* The mark is renewed before the lease runs out, by a now() that has let
** go of the clock's mutex: begins and commits are not held back by the
** renewal's synchronous write.  Only the first mark (nothing persisted
** yet, the lease already exhausted) is written under the mutex. */
typedef struct renew_log {
  kv_clock *c;
  uint64_t last;
  int under_mutex, outside;
} renew_log;

static int renew_cb(void *ctx, uint64_t hwm, char **errptr) {
  (void)errptr;
  renew_log *r = ctx;
  assert_true(hwm > r->last);
  r->last = hwm;
  if (pthread_mutex_trylock(&r->c->mu) == 0) {
    pthread_mutex_unlock(&r->c->mu);
    r->outside++;
  } else {
    r->under_mutex++;
  }
  return KV_OK;
}

static void test_clock_renews_mark_outside_mutex(void **state) {
  (void)state;
  kvt_clock clk = {.now = 1000};
  kv_clock c;
  renew_log rl = {&c, 0, 0, 0};
  KVT_OK(kv_clock_init(&c, kvt_clock_read, &clk, 0, renew_cb, &rl, errptr));
  kv_ts t;
  KVT_OK(kv_clock_now(&c, &t, errptr));
  assert_int_equal(rl.under_mutex, 1);
  for (int i = 0; i < 50; i++) {
    clk.now += 600000000ULL; /* 0.6 s per step: renewed at half a lease */
    KVT_OK(kv_clock_now(&c, &t, errptr));
    assert_true(t.wall <= rl.last);
  }
  assert_int_equal(rl.under_mutex, 1);
  assert_true(rl.outside >= 10);
  kv_clock_destroy(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_clock_strictly_increasing_under_threads),
      cmocka_unit_test(test_clock_stalled_wall_counts_logical),
      cmocka_unit_test(test_clock_never_goes_back_across_reopen),
      cmocka_unit_test(test_clock_update_and_mark),
      cmocka_unit_test(test_clock_stalls_at_mark_when_persist_fails),
      cmocka_unit_test(test_clock_renews_mark_outside_mutex),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
