/*
** test_locktable.c — the lock table and the wait queue (locktable.c,
** waitq.c) driven directly: exclusive holding and hand-off, a waiter taking
** over from a holder aborted by someone else, NOWAIT, the deadlock rule on
** the waits-for graph (cycle through the new edge only; deterministic
** victim), event-count wake-ups, a many-thread invariant that a key
** never has two holders, and the hash table against a model.
*/
#include "kvtest.h"

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

/* Builds the cycle t0 -> t1 -> t2 -> t3 -> t0 (t3 closes it) with fresh
** transactions (t3 the youngest), after `tweak` adjusts them; returns the
** index of the victim, or -1. */
static int cycle_victim(void (*tweak)(kv_txn **)) {
  kv_txn *t[4];
  for (int i = 0; i < 4; i++) t[i] = kvt_begin(S);
  if (tweak) tweak(t);
  kv_waitq *q = &S->waitq;
  assert_null(kv_waitq_wait_for(q, t[0], t[1]));
  assert_null(kv_waitq_wait_for(q, t[1], t[2]));
  assert_null(kv_waitq_wait_for(q, t[2], t[3]));
  kv_txn *v = kv_waitq_wait_for(q, t[3], t[0]);
  int idx = -1;
  for (int i = 0; i < 4; i++)
    if (v == t[i]) idx = i;
  /* A victim other than the detector was aborted by the detector. */
  for (int i = 0; i < 3; i++)
    assert_int_equal(kv_txn_is_dead(t[i]), i == idx);
  /* While the cycle is being broken nobody picks a second victim. */
  if (idx >= 0 && idx < 3) assert_null(kv_waitq_wait_for(q, t[3], t[0]));
  for (int i = 0; i < 4; i++) kv_waitq_done(q, t[i]);
  for (int i = 0; i < 4; i++) kv_txn_abort(t[i]);
  return idx;
}

static void make_t1_low(kv_txn **t) { t[1]->priority = KV_PRIORITY_LOW; }
static void boost_t3(kv_txn **t) { t[3]->boost = 2; }
static void age_t3(kv_txn **t) { t[3]->age = (kv_ts){1, 0}; }

static void test_locktable_waitq_cycle_and_victim(void **state) {
  (void)state;
  assert_int_equal(cycle_victim(NULL), 3);         /* the youngest */
  assert_int_equal(cycle_victim(make_t1_low), 1);  /* lower priority first */
  assert_int_equal(cycle_victim(boost_t3), 2);     /* retries outrank */
  assert_int_equal(cycle_victim(age_t3), 2);       /* a retry keeps its age */
  /* An edge that closes no cycle reports nothing. */
  kv_txn *a = kvt_begin(S), *b = kvt_begin(S);
  assert_null(kv_waitq_wait_for(&S->waitq, a, b));
  assert_null(kv_waitq_wait_for(&S->waitq, b, NULL));
  kv_waitq_done(&S->waitq, a);
  kv_waitq_done(&S->waitq, b);
  kv_txn_abort(a);
  kv_txn_abort(b);
}

typedef struct sleeper {
  kv_txn *t;
  uint64_t token;
  bool woken;
  _Atomic pid_t tid;   /* announced just before it sleeps */
  _Atomic int done;
  pthread_t th;
} sleeper;

static void *sleeper_main(void *arg) {
  sleeper *s = arg;
  uint64_t deadline = kvt_now_ns() + 5000000000ULL;
  atomic_store(&s->tid, kvt_gettid());
  s->woken = kv_txn_sleep(s->t, s->token, deadline);
  atomic_store(&s->done, 1);
  return NULL;
}

static void test_locktable_wake_is_never_lost(void **state) {
  (void)state;
  kv_txn *t = kvt_begin(S);
  /* A wake between taking the token and sleeping is not lost. */
  uint64_t tok = kv_txn_wake_token(t);
  kv_txn_wake(t);
  uint64_t t0 = kvt_now_ns();
  assert_true(kv_txn_sleep(t, tok, kvt_now_ns() + 5000000000ULL));
  assert_true(kvt_now_ns() - t0 < 1000000000ULL);
  /* A sleeper is woken by the event: it is observably blocked in the
  ** kernel (past its spin) before the wake, which then ends its sleep well
  ** before its 5 s deadline.  A timeout reports false. */
  sleeper s = {.t = t, .token = kv_txn_wake_token(t)};
  pthread_create(&s.th, NULL, sleeper_main, &s);
  kvt_wait_asleep(&s.tid, &s.done);
  assert_int_equal(kv_txn_wake_token(t), s.token); /* nothing woke it yet */
  uint64_t w0 = kvt_now_ns();
  kv_txn_wake(t);
  pthread_join(s.th, NULL);
  assert_true(s.woken);
  assert_true(kvt_now_ns() - w0 < 1000000000ULL);
  assert_false(kv_txn_sleep(t, kv_txn_wake_token(t), kvt_now_ns() + 1000000));
  kv_txn_abort(t);
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

/* The hash the lock table, latches and timestamp cache share: changing any
** one byte of a key, at any length (each tail length takes its own path),
** changes it, and sequential integer keys spread over the shard bits. */
static void test_locktable_hash_sees_every_byte(void **state) {
  (void)state;
  unsigned char k[24] = {0};
  for (size_t n = 0; n <= sizeof k; n++) {
    for (size_t i = 0; i < n; i++) k[i] = (unsigned char)(i * 7 + 1);
    uint64_t h = kv_hash(k, n);
    if (n) assert_int_not_equal(kv_hash(k, n - 1), h);
    for (size_t i = 0; i < n; i++) {
      for (int bit = 0; bit < 8; bit++) {
        k[i] ^= (unsigned char)(1 << bit);
        assert_int_not_equal(kv_hash(k, n), h);
        k[i] ^= (unsigned char)(1 << bit);
      }
    }
  }
  int per_shard[KV_LOCK_SHARDS] = {0};
  for (uint32_t i = 0; i < 64000; i++) {
    unsigned char b[9] = {0x12, 0x80, 0, 0, 0, 0, 0, 0, 0};
    for (int j = 0; j < 4; j++) b[8 - j] = (unsigned char)(i >> (8 * j));
    per_shard[(kv_hash(b, sizeof b) >> 32) % KV_LOCK_SHARDS]++;
  }
  for (int i = 0; i < KV_LOCK_SHARDS; i++) {
    assert_true(per_shard[i] > 800);  /* 1000 each if even */
    assert_true(per_shard[i] < 1200);
  }
}

int main(void) {
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_locktable_exclusive_and_reentrant),
      T(test_locktable_waiter_takes_over_from_aborted_holder),
      T(test_locktable_waitq_cycle_and_victim),
      T(test_locktable_wake_is_never_lost),
      T(test_locktable_threads_single_holder),
      T(test_locktable_many_keys_model),
      T(test_locktable_hash_sees_every_byte),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
