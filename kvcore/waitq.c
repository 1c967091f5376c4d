/*
** waitq.c — the transaction wait queue: who waits for whom, deadlock
** detection, aborting another transaction, and the wake-up primitive.
**
** CockroachDB detects deadlocks by having each waiting pusher query its own
** record for transitive dependents every so often (after a 100 ms push
** delay), across nodes.  In one process the whole waits-for graph is at
** hand, so it is kept exactly and checked at the moment an edge is added:
** a cycle is found when it closes, not after a delay or a timeout.
**
** The graph: a transaction waits for at most one lock at a time, so it has at
** most one out-edge, `waiting_for` (the holder of the lock it queues for).
** Edges are set by the waiter (kv_waitq_wait_for) and re-pointed by the lock
** table when a lock changes hands, all under this module's mutex.  A cycle
** through a new edge waiter -> holder exists iff following out-edges from
** holder comes back to waiter.  Every member of a cycle is waiting, hence
** pending, hence abortable.  The victim is chosen deterministically, so two
** detectors can never abort two members of one cycle: the lowest priority,
** then the lowest boost (fewest retries), then the youngest (latest age),
** then the highest id.  A member already aborted means the cycle is being
** broken: no second victim.
**
** Aborting another transaction is a compare-and-swap on its status word
** from PENDING (never a committing one) to ABORTED with the reason
** (kv_txn_leave_pending, kv_status_word in kvint.h), then a wake-up of it
** and of every transaction waiting for it.  The victim, when it wakes,
** leaves its queue and releases its own locks; a waiter whose holder is
** aborted may also hand the lock on itself (see locktable.c), so nobody
** waits for an aborted transaction's thread.
**
** Lock order (asserted): the graph mutex is taken under a lock-table shard
** or alone, and a wake mutex under either or alone, never the reverse.
**
** Wake-ups use an event count per transaction: take a token, test the
** condition under the lock that guards it, sleep while the token is
** current.  A wake-up between the test and the sleep changes the token, so
** none is lost.  A sleeper yields its CPU for a few tens of microseconds
** (about a commit) before it blocks, watching the token; after that nobody
** polls.
*/
#include "kvint.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

int kv_waitq_init(kv_waitq *q) {
  memset(q, 0, sizeof(*q));
  return pthread_mutex_init(&q->mu, NULL) ? KV_NOMEM : KV_OK;
}

void kv_waitq_destroy(kv_waitq *q) { pthread_mutex_destroy(&q->mu); }

/* The graph mutex comes after a lock-table shard and before wake mutexes. */
static void graph_lock(kv_waitq *q) { kv_mu_lock(&q->mu, KV_MU_WAITQ); }
static void graph_unlock(kv_waitq *q) { kv_mu_unlock(&q->mu, KV_MU_WAITQ); }

/* Should a be aborted rather than b? */
static bool victim_before(const kv_txn *a, const kv_txn *b) {
  if (a->priority != b->priority) return a->priority < b->priority;
  if (a->boost != b->boost) return a->boost < b->boost;
  if (!kv_ts_eq(a->age, b->age)) return kv_ts_lt(b->age, a->age);
  return a->id > b->id;
}

static void waitq_link(kv_waitq *q, kv_txn *t) {
  if (t->in_waitq) return;
  t->wprev = NULL;
  t->wnext = q->waiting;
  if (q->waiting) q->waiting->wprev = t;
  q->waiting = t;
  t->in_waitq = true;
}

static void waitq_unlink(kv_waitq *q, kv_txn *t) {
  if (!t->in_waitq) return;
  if (t->wprev)
    t->wprev->wnext = t->wnext;
  else
    q->waiting = t->wnext;
  if (t->wnext) t->wnext->wprev = t->wprev;
  t->wnext = t->wprev = NULL;
  t->in_waitq = false;
}

static void set_edge_locked(kv_txn *waiter, kv_txn *holder) {
  waiter->waiting_for = holder;
  atomic_store(&waiter->waiting_for_id, holder ? holder->id : 0);
}

/* Aborts t (if pending) and wakes it and its waiters; q->mu held.  Waking
** under the mutex keeps t alive: a transaction leaves the graph
** (kv_waitq_done) under the same mutex before it can be freed. */
static bool abort_locked(kv_waitq *q, kv_txn *t, kv_retry_reason reason) {
  if (!kv_txn_leave_pending(t, kv_status_word(KV_TXN_ABORTED, reason)))
    return false;
  for (kv_txn *w = q->waiting; w; w = w->wnext)
    if (w->waiting_for == t) kv_txn_wake(w);
  kv_txn_wake(t);
  return true;
}

kv_txn *kv_waitq_wait_for(kv_waitq *q, kv_txn *waiter, kv_txn *holder) {
  graph_lock(q);
  waitq_link(q, waiter);
  set_edge_locked(waiter, holder);
  kv_txn *victim = NULL;
  /* Follow out-edges from the holder.  Out-degree is at most one, so the walk
  ** is a path; it is bounded in case it enters a cycle that is already
  ** being broken elsewhere. */
  size_t steps = 0;
  bool cycle = false;
  for (kv_txn *t = holder; t && steps < 1000000; t = t->waiting_for, steps++) {
    if (t == waiter) {
      cycle = true;
      break;
    }
    if (kv_txn_state(t) == KV_TXN_ABORTED) break;
  }
  if (cycle) {
    kv_txn *t = waiter;
    bool breaking = false;
    do {
      if (kv_txn_state(t) == KV_TXN_ABORTED) breaking = true;
      if (!victim || victim_before(t, victim)) victim = t;
      t = t->waiting_for;
    } while (t && t != waiter);
    if (breaking) {
      victim = NULL;
    } else {
      atomic_fetch_add_explicit(&q->deadlocks, 1, memory_order_relaxed);
      /* Every member waits in the graph, so the victim is alive here. */
      if (victim != waiter && !abort_locked(q, victim, KV_RETRY_DEADLOCK))
        victim = NULL;
    }
  }
  graph_unlock(q);
  return victim;
}

void kv_waitq_set_edge(kv_waitq *q, kv_txn *waiter, kv_txn *holder) {
  graph_lock(q);
  set_edge_locked(waiter, holder);
  graph_unlock(q);
}

void kv_waitq_done(kv_waitq *q, kv_txn *waiter) {
  graph_lock(q);
  set_edge_locked(waiter, NULL);
  waitq_unlink(q, waiter);
  graph_unlock(q);
}

bool kv_txn_abort_by_other(kv_waitq *q, kv_txn *t, kv_retry_reason reason) {
  graph_lock(q);
  bool done = abort_locked(q, t, reason);
  graph_unlock(q);
  return done;
}

uint64_t kv_txn_wake_token(kv_txn *t) { return atomic_load(&t->wake_seq); }

void kv_txn_wake(kv_txn *t) {
  kv_mu_lock(&t->wmu, KV_MU_WAKE);
  atomic_fetch_add(&t->wake_seq, 1);
  pthread_cond_broadcast(&t->wcond);
  kv_mu_unlock(&t->wmu, KV_MU_WAKE);
}

/* How long a sleeper first yields instead of blocking.  A lock is usually
** held until its holder's commit, tens of microseconds away; a blocked
** thread's wake-up took about as long again (on a virtual machine, waking
** an idle CPU), while a yielding one sees the hand-off at once and gives
** its CPU to any thread that can use it meanwhile. */
#define KV_WAKE_SPIN_NS 50000

bool kv_txn_sleep(kv_txn *t, uint64_t token, uint64_t deadline) {
  uint64_t spin_end = kv_mono_ns() + KV_WAKE_SPIN_NS;
  if (deadline && deadline < spin_end) spin_end = deadline;
  while (atomic_load(&t->wake_seq) == token) {
    if (kv_mono_ns() >= spin_end) break;
    sched_yield();
  }
  if (atomic_load(&t->wake_seq) != token) return true;
  struct timespec ts;
  if (deadline) {
    ts.tv_sec = (time_t)(deadline / 1000000000ULL);
    ts.tv_nsec = (long)(deadline % 1000000000ULL);
  }
  bool woken = true;
  kv_mu_lock(&t->wmu, KV_MU_WAKE);
  while (t->wake_seq == token) {
    if (!deadline) {
      pthread_cond_wait(&t->wcond, &t->wmu);
    } else if (pthread_cond_timedwait(&t->wcond, &t->wmu, &ts) == ETIMEDOUT) {
      woken = t->wake_seq != token;
      break;
    }
  }
  kv_mu_unlock(&t->wmu, KV_MU_WAKE);
  return woken;
}
