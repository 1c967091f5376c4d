/*
** test_locktable.c — the lock table (locktable.c): exclusive holding,
** re-entry and NOWAIT; a waiter taking over from a holder aborted by
** someone else; through transactions, a second writer that waits for the
** first's commit (woken by the release, not a timer) or abort, waiters
** served in FIFO order, a higher-priority writer aborting the holder
** instead of waiting, the lock timeout and its error, and a lock wait well
** past 1.25 s (a seed project crashed there) that ends in a commit, the
** waiter asleep throughout and its transaction intact; a many-thread
** invariant that a key never has two holders; and the hash table against a
** model.
**
** The waits-for graph, deadlocks and wake-ups are in test_waitq.c.  Waiting
** is observed, never assumed: a test that needs "T2 is now queued" polls the
** lock table's introspection until T2 shows up (kvt_wait_until_queued).
*/
#include "kvtest.h"

#include <sys/resource.h>

#include "kvint.h"

static kv_store *S;

static int setup(void **state) {
  (void)state;
  S = kvt_open_dir(NULL, NULL);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  kv_store_close(S);
  return 0;
}

static int acquire(kv_txn *t, const char *k, bool *newly,
                   kv_retry_reason *why) {
  return kv_lock_acquire(&S->locks, &S->waitq, t, k, strlen(k), newly, why);
}

static void release(kv_txn *t, const char *k) {
  kv_lock_release(&S->locks, &S->waitq, t, k, strlen(k));
}

static void test_locktable_exclusive_and_reentrant(void **state) {
  (void)state;
  kv_txn *a = kvt_begin(S);
  bool newly;
  kv_retry_reason why;
  assert_int_equal(acquire(a, "k", &newly, &why), KV_OK);
  assert_true(newly);
  assert_int_equal(acquire(a, "k", &newly, &why), KV_OK);
  assert_false(newly); /* already held */
  assert_int_equal(atomic_load(&S->locks.held), 1);
  kv_txn *b = kvt_begin(S);
  b->lock_timeout_ms = 0; /* NOWAIT */
  assert_int_equal(acquire(b, "k", &newly, &why), KV_RETRY);
  assert_int_equal(why, KV_RETRY_LOCK_TIMEOUT);
  release(b, "k"); /* not the holder: no effect */
  assert_int_equal(atomic_load(&S->locks.held), 1);
  release(a, "k");
  assert_int_equal(atomic_load(&S->locks.held), 0);
  assert_int_equal(acquire(b, "k", &newly, &why), KV_OK);
  release(b, "k");
  kv_txn_abort(a);
  kv_txn_abort(b);
}

typedef struct bg_acq {
  kv_txn *t;
  const char *k;
  int rc;
  kv_retry_reason why;
  pthread_t th;
} bg_acq;

static void *bg_acq_main(void *arg) {
  bg_acq *b = arg;
  bool newly;
  b->rc = acquire(b->t, b->k, &newly, &b->why);
  return NULL;
}

static void wait_waiting_for(kv_txn *t, uint64_t id) {
  uint64_t deadline = kvt_now_ns() + 5000000000ULL;
  while (atomic_load(&t->waiting_for_id) != id) {
    assert_true(kvt_now_ns() < deadline);
    usleep(100);
  }
}

/* A holder aborted by a third party never makes its waiters wait for its
** own thread: the first waiter to notice hands the lock on. */
static void test_locktable_waiter_takes_over_from_aborted_holder(void **state) {
  (void)state;
  kv_txn *holder = kvt_begin(S), *w = kvt_begin(S);
  bool newly;
  kv_retry_reason why;
  assert_int_equal(acquire(holder, "h", &newly, &why), KV_OK);
  bg_acq b = {.t = w, .k = "h"};
  pthread_create(&b.th, NULL, bg_acq_main, &b);
  wait_waiting_for(w, holder->id);
  assert_true(kv_txn_abort_by_other(&S->waitq, holder, KV_RETRY_DEADLOCK));
  assert_false(kv_txn_abort_by_other(&S->waitq, holder, KV_RETRY_DEADLOCK));
  pthread_join(b.th, NULL);
  assert_int_equal(b.rc, KV_OK);
  release(holder, "h"); /* the aborted holder's release is now a no-op */
  assert_int_equal(atomic_load(&S->locks.held), 1);
  release(w, "h");
  kv_txn_abort(holder);
  kv_txn_abort(w);
}

/* Many threads lock random keys through transactions.  Mutual exclusion,
** checked afterwards: for every key, the intervals [lock returned, commit
** called] of transactions that committed never overlap.  (A deadlock victim
** may still believe it holds a key that was handed on; it cannot commit.) */
enum { HK = 16, HT = 8 };

typedef struct hold {
  int key;
  uint64_t from, to;
} hold;

typedef struct hammer {
  int id;
  long iters;
  hold *holds;
  long nholds, commits, retries;
} hammer;

static void *hammer_main(void *arg) {
  hammer *h = arg;
  unsigned seed = 31u * (unsigned)h->id + 7;
  for (long i = 0; i < h->iters; i++) {
    kv_txn *t = NULL;
    kv_txn_begin(S, NULL, &t, NULL);
    int k[2];
    uint64_t got[2] = {0, 0};
    for (int j = 0; j < 2; j++) {
      seed = seed * 1103515245u + 12345u;
      k[j] = (int)((seed >> 16) % HK);
      char name[8];
      snprintf(name, sizeof name, "x%d", k[j]);
      if (kv_txn_lock(t, name, strlen(name), NULL) != KV_OK) break;
      got[j] = kvt_now_ns();
    }
    uint64_t end = kvt_now_ns();
    if (kv_txn_commit(t, NULL, NULL) == KV_OK) {
      h->commits++;
      for (int j = 0; j < 2; j++)
        if (got[j] && (j == 0 || k[1] != k[0]))
          h->holds[h->nholds++] = (hold){k[j], got[j], end};
    } else {
      h->retries++; /* deadlock victims */
      kv_txn_abort(t);
    }
  }
  return NULL;
}

static int hold_cmp(const void *a, const void *b) {
  const hold *x = a, *y = b;
  if (x->key != y->key) return x->key - y->key;
  return x->from < y->from ? -1 : x->from > y->from;
}

static void test_locktable_threads_single_holder(void **state) {
  (void)state;
  hammer h[HT];
  pthread_t th[HT];
  long iters = kvt_scaled(5000);
  for (int i = 0; i < HT; i++) {
    h[i] = (hammer){.id = i, .iters = iters};
    h[i].holds = calloc((size_t)iters * 2, sizeof(hold));
    pthread_create(&th[i], NULL, hammer_main, &h[i]);
  }
  long commits = 0, retries = 0, n = 0;
  for (int i = 0; i < HT; i++) {
    pthread_join(th[i], NULL);
    commits += h[i].commits;
    retries += h[i].retries;
    n += h[i].nholds;
  }
  hold *all = malloc((size_t)n * sizeof(hold));
  long o = 0;
  for (int i = 0; i < HT; i++) {
    memcpy(all + o, h[i].holds, (size_t)h[i].nholds * sizeof(hold));
    o += h[i].nholds;
    free(h[i].holds);
  }
  qsort(all, (size_t)n, sizeof(hold), hold_cmp);
  for (long i = 1; i < n; i++)
    if (all[i].key == all[i - 1].key) assert_true(all[i - 1].to < all[i].from);
  free(all);
  assert_int_equal(commits + retries, HT * iters);
  assert_true(commits > 0);
  assert_int_equal(atomic_load(&S->locks.held), 0);
  print_message("    %ld commits, %ld deadlock victims\n", commits, retries);
}

static void count_lock(void *ctx, const void *k, size_t n, uint64_t id,
                       int waiting) {
  (void)k;
  (void)n;
  (void)id;
  if (!waiting) (*(size_t *)ctx)++;
}

/* The table against a model: one holder takes thousands of keys and lets
** them go in random order, in rounds, while probes by another transaction
** (NOWAIT) check that every key held is found and every key released is
** free.  Open addressing with backward-shift deletion gets this wrong as
** soon as one move across a probe run is wrong: a held key then looks free,
** or a released one still held. */
static void test_locktable_many_keys_model(void **state) {
  (void)state;
  enum { N = 6000, ROUNDS = 6 };
  static bool held[N];
  memset(held, 0, sizeof held);
  kv_txn *a = kvt_begin(S), *b = kvt_begin(S);
  b->lock_timeout_ms = 0;
  uint64_t rnd = 0x2545f4914f6cdd1dULL;
  char k[16];
  bool newly;
  kv_retry_reason why;
  size_t nheld = 0;
  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < N; i++) {
      rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
      snprintf(k, sizeof k, "k%d", i);
      bool take = (rnd % 3) != 0;
      if (take && !held[i]) {
        assert_int_equal(acquire(a, k, &newly, &why), KV_OK);
        assert_true(newly);
        held[i] = true;
        nheld++;
      } else if (!take && held[i]) {
        release(a, k);
        held[i] = false;
        nheld--;
      }
    }
    assert_int_equal(atomic_load(&S->locks.held), nheld);
    size_t listed = 0;
    kv_locktable_list(&S->locks, count_lock, &listed);
    assert_int_equal(listed, nheld);
    for (int i = 0; i < N; i++) {
      snprintf(k, sizeof k, "k%d", i);
      if (held[i]) {
        assert_int_equal(acquire(a, k, &newly, &why), KV_OK);
        assert_false(newly);
        assert_int_equal(acquire(b, k, &newly, &why), KV_RETRY);
      } else {
        assert_int_equal(acquire(b, k, &newly, &why), KV_OK);
        assert_true(newly);
        release(b, k);
      }
    }
  }
  for (int i = 0; i < N; i++) {
    snprintf(k, sizeof k, "k%d", i);
    if (held[i]) release(a, k);
  }
  assert_int_equal(atomic_load(&S->locks.held), 0);
  kv_txn_abort(a);
  kv_txn_abort(b);
}

/* ===================================== through transactions -- */

/* ----------------------------------------------- 3. write-write -- */

static void test_locktable_second_writer_waits_for_commit(void **state) {
  kvt_fixture *f = *state;
  kv_txn *t1 = kvt_begin(f->s);
  kvt_put(t1, "k", "t1");
  kvt_bg_put b = {.s = f->s, .t = kvt_begin(f->s), .k = "k", .v = "t2"};
  uint64_t id2 = kv_txn_id(b.t);
  kvt_bg_start(&b);
  kvt_wait_until_queued(f->s, id2);
  uint64_t before = kvt_now_ns();
  kv_ts c1 = kvt_commit_ts(t1);
  kvt_bg_join(&b);
  assert_int_equal(b.put_rc, KV_OK);
  assert_int_equal(b.commit_rc, KV_OK);
  assert_true(kv_ts_cmp(b.cts, c1) > 0);
  /* Woken by the release, not by a timer. */
  assert_true(b.done_ns - before < 200ULL * 1000000ULL);
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "k"), "t2");
  kvt_commit(r);
}

static void test_locktable_second_writer_proceeds_when_first_aborts(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k", "v0");
  kv_txn *t1 = kvt_begin(f->s);
  kvt_put(t1, "k", "t1");
  kvt_bg_put b = {.s = f->s, .t = kvt_begin(f->s), .k = "k", .v = "t2"};
  kvt_bg_start(&b);
  kvt_wait_until_queued(f->s, kv_txn_id(b.t));
  kv_txn_abort(t1);
  kvt_bg_join(&b);
  assert_int_equal(b.put_rc, KV_OK);
  assert_int_equal(b.commit_rc, KV_OK);
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "k"), "t2");
  kvt_commit(r);
}

static void test_locktable_waiters_are_served_fifo(void **state) {
  kvt_fixture *f = *state;
  kv_txn *t0 = kvt_begin(f->s);
  kvt_put(t0, "q", "0");
  enum { N = 4 };
  kvt_bg_put b[N];
  char vals[N][16];
  for (int i = 0; i < N; i++) {
    snprintf(vals[i], sizeof vals[i], "%d", i + 1);
    b[i] = (kvt_bg_put){.s = f->s, .t = kvt_begin(f->s), .k = "q", .v = vals[i]};
    kvt_bg_start(&b[i]);
    kvt_wait_until_queued(f->s, kv_txn_id(b[i].t));
  }
  kvt_commit(t0);
  for (int i = 0; i < N; i++) {
    kvt_bg_join(&b[i]);
    assert_int_equal(b[i].commit_rc, KV_OK);
    if (i) assert_true(kv_ts_cmp(b[i].cts, b[i - 1].cts) > 0);
  }
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "q"), "4");
  kvt_commit(r);
}

/* A writer of higher priority aborts the holder instead of waiting. */
static void test_locktable_high_priority_aborts_holder(void **state) {
  kvt_fixture *f = *state;
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

/* ------------------------------------------------- lock timeouts -- */

static void test_locktable_lock_timeout_error(void **state) {
  kvt_fixture *f = *state;
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

static int short_timeout_then_long(void *ctx) {
  (void)ctx;
  return 10000; /* as the SQLite layer's busy timeout would */
}

#define LONG_WAIT_NS (1600ULL * 1000000ULL)

static void test_locktable_long_lock_wait_then_commit(void **state) {
  kvt_fixture *f = *state; /* store lock timeout: 10 s */
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
  kvt_wait_until_queued(f->s, ida);
  kvt_wait_until_queued(f->s, idb);
  uint64_t queued = kvt_now_ns();
  /* The holder stays alive and busy while they wait; they keep waiting for
  ** it, still pending, the whole time. */
  int checks = 0;
  while (kvt_now_ns() - queued < LONG_WAIT_NS) {
    assert_still_waiting(&a, 'a');
    assert_still_waiting(&b, 'b');
    kv_txn_info ia = kvt_txn_info(f->s, ida), ib = kvt_txn_info(f->s, idb);
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
  kv_ts ch = kvt_commit_ts(holder);
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


int main(void) {
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
#define TX(n) cmocka_unit_test_setup_teardown(n, kvt_setup, kvt_teardown)
  const struct CMUnitTest tests[] = {
      T(test_locktable_exclusive_and_reentrant),
      T(test_locktable_waiter_takes_over_from_aborted_holder),
      T(test_locktable_threads_single_holder),
      T(test_locktable_many_keys_model),
      TX(test_locktable_second_writer_waits_for_commit),
      TX(test_locktable_second_writer_proceeds_when_first_aborts),
      TX(test_locktable_waiters_are_served_fifo),
      TX(test_locktable_high_priority_aborts_holder),
      TX(test_locktable_lock_timeout_error),
      TX(test_locktable_long_lock_wait_then_commit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
