/*
** test_waitq.c — the wait queue (waitq.c): the waits-for graph driven
** directly (a cycle is found through the new edge only; the victim is
** deterministic: lower priority, then fewer retries, then younger; no
** second victim while a cycle is being broken; edges re-pointed or
** removed as locks change hands), aborting another transaction (once, with
** its reason, waking it and its waiters only; never one that is
** committing), the event-count wake-up
** that never loses a wake and wakes a thread asleep in the kernel, and,
** through transactions, deadlocks of two and three found well under the
** lock timeout with exactly one victim (seed bug B15 aborted both) chosen
** by that rule.
*/
#include "kvtest.h"

#include "kvint.h"

/* The store of the current test, for the graph tests that drive waitq.c
** directly. */
static kv_store *S;

static int setup(void **state) {
  kvt_setup(state);
  S = ((kvt_fixture *)*state)->s;
  return 0;
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

static void test_waitq_cycle_and_victim(void **state) {
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

/* The lock table re-points a waiter's edge when a lock changes hands, and
** kv_waitq_done removes it: cycles are judged on the edges as they are
** now, not as they were. */
static void test_waitq_set_edge_and_done_redirect_the_graph(void **state) {
  (void)state;
  kv_waitq *q = &S->waitq;
  kv_txn *a = kvt_begin(S), *b = kvt_begin(S), *c = kvt_begin(S);
  uint64_t dl0 = atomic_load(&q->deadlocks);
  assert_null(kv_waitq_wait_for(q, a, b));
  kv_waitq_set_edge(q, a, c); /* the lock a waits for went from b to c */
  assert_int_equal(atomic_load(&a->waiting_for_id), c->id);
  assert_null(kv_waitq_wait_for(q, b, a)); /* b -> a -> c: no cycle */
  /* c -> b -> a -> c closes one: c, the youngest, is the victim, and as
  ** the detector it is not aborted by the graph (it fails its own wait). */
  assert_ptr_equal(kv_waitq_wait_for(q, c, b), c);
  assert_int_equal(atomic_load(&q->deadlocks), dl0 + 1);
  assert_false(kv_txn_is_dead(a));
  assert_false(kv_txn_is_dead(b));
  assert_false(kv_txn_is_dead(c));
  kv_waitq_done(q, c);
  assert_int_equal(atomic_load(&c->waiting_for_id), 0);
  kv_waitq_done(q, a); /* a stops waiting: b -> a leads nowhere */
  assert_null(kv_waitq_wait_for(q, c, b));
  assert_int_equal(atomic_load(&q->deadlocks), dl0 + 1);
  kv_waitq_done(q, b);
  kv_waitq_done(q, c);
  kv_txn_abort(a);
  kv_txn_abort(b);
  kv_txn_abort(c);
}

/* Aborting another transaction: once, with the reason it will report,
** waking it and the transactions waiting for it (and no others); a cycle
** through an aborted transaction is already being broken. */
static void test_waitq_abort_by_other_wakes_it_and_its_waiters(void **state) {
  (void)state;
  kv_waitq *q = &S->waitq;
  kv_txn *t = kvt_begin(S), *u = kvt_begin(S);
  kv_txn *w1 = kvt_begin(S), *w2 = kvt_begin(S);
  assert_null(kv_waitq_wait_for(q, w1, t));
  assert_null(kv_waitq_wait_for(q, w2, u));
  uint64_t tt = kv_txn_wake_token(t), tu = kv_txn_wake_token(u);
  uint64_t t1 = kv_txn_wake_token(w1), t2 = kv_txn_wake_token(w2);
  assert_true(kv_txn_abort_by_other(q, t, KV_RETRY_ABORTED_PRIORITY));
  assert_true(kv_txn_is_dead(t));
  assert_int_equal(kv_txn_retry_reason(t), KV_RETRY_ABORTED_PRIORITY);
  assert_int_not_equal(kv_txn_wake_token(t), tt);
  assert_int_not_equal(kv_txn_wake_token(w1), t1);
  assert_int_equal(kv_txn_wake_token(w2), t2); /* waits for u, not t */
  assert_int_equal(kv_txn_wake_token(u), tu);
  assert_false(kv_txn_is_dead(u));
  /* A second abort does nothing, not even a wake-up. */
  tt = kv_txn_wake_token(t);
  assert_false(kv_txn_abort_by_other(q, t, KV_RETRY_DEADLOCK));
  assert_int_equal(kv_txn_retry_reason(t), KV_RETRY_ABORTED_PRIORITY);
  assert_int_equal(kv_txn_wake_token(t), tt);
  /* t waiting for w1 would close t -> w1 -> t, but t is aborted already. */
  uint64_t dl0 = atomic_load(&q->deadlocks);
  assert_null(kv_waitq_wait_for(q, t, w1));
  assert_int_equal(atomic_load(&q->deadlocks), dl0);
  kv_txn *all[4] = {t, u, w1, w2};
  for (int i = 0; i < 4; i++) kv_waitq_done(q, all[i]);
  for (int i = 0; i < 4; i++) kv_txn_abort(all[i]);
}

/* A prepared transaction is committing: nobody can abort it any more. */
static void test_waitq_committing_txn_cannot_be_aborted(void **state) {
  (void)state;
  kv_txn *t = kvt_begin(S);
  kvt_put(t, "k", "v");
  KVT_OK(kv_txn_prepare(t, errptr));
  uint64_t tok = kv_txn_wake_token(t);
  assert_false(kv_txn_abort_by_other(&S->waitq, t, KV_RETRY_DEADLOCK));
  assert_false(kv_txn_is_dead(t));
  assert_int_equal(kv_txn_wake_token(t), tok);
  kvt_commit(t);
  kv_txn *r = kvt_begin(S);
  assert_string_equal(kvt_get(r, "k"), "v");
  kvt_commit(r);
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

static void test_waitq_wake_is_never_lost(void **state) {
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

static void test_waitq_deadlock_of_two(void **state) {
  kvt_fixture *f = *state;
  for (int round = 0; round < 5; round++) run_deadlock(f->s, 2);
}

static void test_waitq_deadlock_of_three(void **state) {
  kvt_fixture *f = *state;
  for (int round = 0; round < 5; round++) run_deadlock(f->s, 3);
}

/* The victim is the lower priority, then the younger. */
static void test_waitq_deadlock_victim_rule(void **state) {
  kvt_fixture *f = *state;
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


int main(void) {
#define T(n) cmocka_unit_test_setup_teardown(n, setup, kvt_teardown)
  const struct CMUnitTest tests[] = {
      T(test_waitq_cycle_and_victim),
      T(test_waitq_set_edge_and_done_redirect_the_graph),
      T(test_waitq_abort_by_other_wakes_it_and_its_waiters),
      T(test_waitq_committing_txn_cannot_be_aborted),
      T(test_waitq_wake_is_never_lost),
      T(test_waitq_deadlock_of_two),
      T(test_waitq_deadlock_of_three),
      T(test_waitq_deadlock_victim_rule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
