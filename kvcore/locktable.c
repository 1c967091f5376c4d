/*
** locktable.c — the lock table: exclusive write locks, held until the
** holder commits or aborts, with a FIFO queue of waiting writers per key.
**
** Locks live only in memory (CockroachDB's unreplicated locks): writes are
** buffered until commit, so there are no intents on disk and a crash leaves
** nothing to resolve.  Readers never look here (reads are optimistic; see
** txn.c); only writers and locking reads queue.
**
** Structure: KV_LOCK_SHARDS shards by key hash, each a mutex and an
** open-addressing hash table of entries {key, holder, queue}.  An entry
** exists while its key is held and is freed when released with nobody
** waiting.
**
** A writer that finds the key held joins the tail of its queue and sleeps on
** its own event count (waitq.c) until one of these wakes it:
**   - granted: the holder released and handed the lock to the queue's head
**     (direct hand-off keeps the queue FIFO and wakes one waiter, not all);
**   - its own transaction was aborted (deadlock victim, higher priority);
**   - the holder was aborted: the first waiter to notice hands the lock on
**     in the holder's place, so nobody waits for the aborted thread;
**   - its lock timeout passed.
** On each wake-up it looks its entry up again and re-evaluates under the
** shard mutex: while it slept the lock may have been handed to it, or handed
** to it and taken over by the next waiter because it had been aborted
** meanwhile (the entry may then be gone), so it never keeps a pointer to an
** entry across a sleep.  A waiter granted the lock after it was aborted
** passes it on and fails.  Before sleeping it records the waits-for edge,
** which runs deadlock detection; a writer of higher priority than the
** holder aborts the holder and takes the lock at once (CockroachDB's
** PUSH_ABORT succeeding by priority), unless the holder is committing.
**
** Preconditions (asserted): the caller holds no other lock-table shard and
** no latch (its transaction is not latched for a commit, and its thread
** holds no latch shard mutex).  Under a shard mutex this module takes the
** wait graph (waitq.c) and wake mutexes, never the other way round.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

typedef struct lk_entry {
  uint64_t hash;
  kv_txn *holder;
  kv_txn *qhead, *qtail;      /* waiters, via kv_txn.qnext/qprev */
  size_t klen;
  char key[];
} lk_entry;

/* A slot of a shard's open-addressing table.  The hash sits beside the
** pointer so that a probe for a key nobody holds (what nearly every lock
** request is) touches one cache line of the table and no entry. */
typedef struct lk_slot {
  uint64_t hash;
  lk_entry *e;                /* NULL: empty */
} lk_slot;

struct kv_lock_shard {
  pthread_mutex_t mu;
  lk_slot *slots;             /* linear probing; NULL until the first lock */
  size_t cap, n;              /* cap is 0 or a power of two; n <= cap * 3/5 */
  char pad[64];
};

#define LK_MIN_SLOTS 64

/* A thread holds at most one shard, and takes it before the wait graph and
** any wake mutex (kvint.h). */
static void shard_lock(kv_lock_shard *sh) { kv_mu_lock(&sh->mu, KV_MU_LOCKTABLE); }
static void shard_unlock(kv_lock_shard *sh) { kv_mu_unlock(&sh->mu, KV_MU_LOCKTABLE); }

int kv_locktable_init(kv_locktable *lt) {
  memset(lt, 0, sizeof(*lt));
  lt->shards = calloc(KV_LOCK_SHARDS, sizeof(kv_lock_shard));
  if (!lt->shards) return KV_NOMEM;
  for (int i = 0; i < KV_LOCK_SHARDS; i++)
    pthread_mutex_init(&lt->shards[i].mu, NULL);
  return KV_OK;
}

void kv_locktable_destroy(kv_locktable *lt) {
  if (!lt->shards) return;
  for (int i = 0; i < KV_LOCK_SHARDS; i++) {
    kv_lock_shard *sh = &lt->shards[i];
    for (size_t j = 0; j < sh->cap; j++) free(sh->slots[j].e);
    free(sh->slots);
    pthread_mutex_destroy(&sh->mu);
  }
  free(lt->shards);
  lt->shards = NULL;
}

/* The shard takes the hash's high bits, the slot its low bits. */
static kv_lock_shard *shard_of(kv_locktable *lt, uint64_t h) {
  return &lt->shards[(h >> 32) % KV_LOCK_SHARDS];
}

static lk_entry *lk_find(kv_lock_shard *sh, uint64_t h, const void *k,
                         size_t n) {
  if (!sh->cap) return NULL;
  size_t mask = sh->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    lk_slot *s = &sh->slots[i];
    if (!s->e) return NULL;
    if (s->hash == h && kv_bytes_cmp(s->e->key, s->e->klen, k, n) == 0)
      return s->e;
  }
}

static void lk_place(lk_slot *slots, size_t mask, uint64_t h, lk_entry *e) {
  size_t i = h & mask;
  while (slots[i].e) i = (i + 1) & mask;
  slots[i] = (lk_slot){h, e};
}

static bool lk_grow(kv_lock_shard *sh) {
  size_t cap = sh->cap ? sh->cap * 2 : LK_MIN_SLOTS;
  lk_slot *slots = calloc(cap, sizeof(*slots));
  if (!slots) return false;
  for (size_t i = 0; i < sh->cap; i++)
    if (sh->slots[i].e)
      lk_place(slots, cap - 1, sh->slots[i].hash, sh->slots[i].e);
  free(sh->slots);
  sh->slots = slots;
  sh->cap = cap;
  return true;
}

static lk_entry *lk_insert(kv_lock_shard *sh, uint64_t h, const void *k,
                           size_t n, kv_txn *holder) {
  if ((sh->n + 1) * 5 > sh->cap * 3 && !lk_grow(sh)) return NULL;
  lk_entry *e = malloc(sizeof(lk_entry) + (n ? n : 1));
  if (!e) return NULL;
  memset(e, 0, sizeof(*e));
  e->hash = h;
  e->holder = holder;
  e->klen = n;
  memcpy(e->key, k, n);
  lk_place(sh->slots, sh->cap - 1, h, e);
  sh->n++;
  return e;
}

/* Frees e and closes the gap it leaves by moving back the entries after it
** whose probe sequence crosses the gap (deletion without tombstones, so
** probes stay short however many keys come and go).  A shard that empties
** gives a grown table back, so one large transaction does not leave every
** shard sized for its locks; the smallest stays, so that small transactions
** do not allocate and free it with each lock. */
static void lk_remove(kv_lock_shard *sh, lk_entry *e) {
  size_t mask = sh->cap - 1, i = e->hash & mask;
  while (sh->slots[i].e != e) i = (i + 1) & mask;
  free(e);
  if (--sh->n == 0 && sh->cap > LK_MIN_SLOTS) {
    free(sh->slots);
    sh->slots = NULL;
    sh->cap = 0;
    return;
  }
  for (size_t j = (i + 1) & mask; sh->slots[j].e; j = (j + 1) & mask) {
    size_t home = sh->slots[j].hash & mask;
    /* slot j may move to the gap at i unless its home lies in (i, j]. */
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    sh->slots[i] = sh->slots[j];
    i = j;
  }
  sh->slots[i] = (lk_slot){0, NULL};
}

static void q_push(lk_entry *e, kv_txn *t) {
  t->queued = true;
  t->qnext = NULL;
  t->qprev = e->qtail;
  if (e->qtail)
    e->qtail->qnext = t;
  else
    e->qhead = t;
  e->qtail = t;
}

static void q_remove(lk_entry *e, kv_txn *t) {
  if (t->qprev)
    t->qprev->qnext = t->qnext;
  else
    e->qhead = t->qnext;
  if (t->qnext)
    t->qnext->qprev = t->qprev;
  else
    e->qtail = t->qprev;
  t->qnext = t->qprev = NULL;
  t->queued = false;
}

/* Gives the lock to `to` (the old holder is gone or aborted) and points the
** rest of the queue at it. */
static void lk_give(kv_waitq *q, lk_entry *e, kv_txn *to) {
  if (e->holder) atomic_fetch_sub(&e->holder->nlocks, 1);
  e->holder = to;
  atomic_fetch_add(&to->nlocks, 1);
  kv_waitq_set_edge(q, to, NULL);
  for (kv_txn *w = e->qhead; w; w = w->qnext) kv_waitq_set_edge(q, w, to);
}

/* The holder is done: hand the lock to the head of the queue, or free the
** entry.  Returns false when the entry was freed. */
static bool lk_handoff(kv_locktable *lt, kv_waitq *q, kv_lock_shard *sh,
                       lk_entry *e) {
  kv_txn *w = e->qhead;
  if (!w) {
    if (e->holder) atomic_fetch_sub(&e->holder->nlocks, 1);
    atomic_fetch_sub(&lt->held, 1);
    lk_remove(sh, e);
    return false;
  }
  q_remove(e, w);
  lk_give(q, e, w);
  kv_txn_wake(w);
  return true;
}

int kv_lock_acquire(kv_locktable *lt, kv_waitq *q, kv_txn *me,
                    const void *key, size_t klen, bool *newly,
                    kv_retry_reason *reason) {
  uint64_t h = kv_hash(key, klen);
  kv_lock_shard *sh = shard_of(lt, h);
  *newly = false;
  /* Waiting here with latches held would stall their readers. */
  assert(!me->prep.latched);
  shard_lock(sh);
  lk_entry *e = lk_find(sh, h, key, klen);
  if (!e) {
    e = lk_insert(sh, h, key, klen, me);
    shard_unlock(sh);
    if (!e) return KV_NOMEM;
    atomic_fetch_add(&lt->held, 1);
    atomic_fetch_add(&me->nlocks, 1);
    *newly = true;
    return KV_OK;
  }
  if (e->holder == me) {
    shard_unlock(sh);
    return KV_OK;
  }

  q_push(e, me);
  atomic_fetch_add_explicit(&lt->waits, 1, memory_order_relaxed);
  uint64_t start = kv_mono_ns(), deadline = 0;
  if (me->lock_timeout_fn) {
    /* Ask for the timeout now that we do wait, with no lock held; the
    ** queue position is kept (we are in it).  Then look again. */
    int (*fn)(void *) = me->lock_timeout_fn;
    me->lock_timeout_fn = NULL;
    shard_unlock(sh);
    int ms = fn(me->lock_timeout_ctx);
    if (ms >= 0) me->lock_timeout_ms = ms;
    shard_lock(sh);
  }
  if (me->lock_timeout_ms >= 0)
    deadline = start + (uint64_t)me->lock_timeout_ms * 1000000ULL;
  int rc = KV_OK;
  for (;;) {
    uint64_t token = kv_txn_wake_token(me);
    /* Look the entry up again: while we slept it may have been handed to us,
    ** or handed to us and then taken over because we had been aborted
    ** meanwhile (then the entry may be gone). */
    e = lk_find(sh, h, key, klen);
    if (e && e->holder == me) { /* handed to us (we were dequeued) */
      if (kv_txn_state(me) == KV_TXN_ABORTED) { /* too late: pass it on */
        lk_handoff(lt, q, sh, e);
        *reason = kv_txn_abort_reason(me);
        rc = KV_RETRY;
        break;
      }
      *newly = true;
      break;
    }
    if (!me->queued) {
      *reason = kv_txn_state(me) == KV_TXN_ABORTED ? kv_txn_abort_reason(me)
                                                 : KV_RETRY_DEADLOCK;
      rc = KV_RETRY;
      break;
    }
    if (kv_txn_state(me) == KV_TXN_ABORTED) {
      *reason = kv_txn_abort_reason(me);
      rc = KV_RETRY;
      q_remove(e, me);
      break;
    }
    kv_txn *holder = e->holder;
    if (kv_txn_state(holder) == KV_TXN_ABORTED) {
      lk_handoff(lt, q, sh, e); /* we are queued, so e survives */
      continue;
    }
    if (me->priority > holder->priority &&
        kv_txn_abort_by_other(q, holder, KV_RETRY_ABORTED_PRIORITY)) {
      q_remove(e, me);
      lk_give(q, e, me);
      *newly = true;
      break;
    }
    kv_txn *victim = kv_waitq_wait_for(q, me, holder);
    if (victim == me) {
      *reason = KV_RETRY_DEADLOCK;
      rc = KV_RETRY;
      q_remove(e, me);
      break;
    }
    if (victim) continue; /* aborted by the detector: look again */
    if (deadline && kv_mono_ns() >= deadline) {
      *reason = KV_RETRY_LOCK_TIMEOUT;
      rc = KV_RETRY;
      q_remove(e, me);
      break;
    }
    shard_unlock(sh);
    kv_txn_sleep(me, token, deadline);
    shard_lock(sh);
  }
  kv_waitq_done(q, me);
  shard_unlock(sh);
  return rc;
}

void kv_lock_release(kv_locktable *lt, kv_waitq *q, kv_txn *me,
                     const void *key, size_t klen) {
  uint64_t h = kv_hash(key, klen);
  kv_lock_shard *sh = shard_of(lt, h);
  shard_lock(sh);
  lk_entry *e = lk_find(sh, h, key, klen);
  if (e && e->holder == me) lk_handoff(lt, q, sh, e);
  shard_unlock(sh);
}

size_t kv_locktable_list(kv_locktable *lt,
                         void (*fn)(void *, const void *, size_t, uint64_t,
                                    int),
                         void *ctx) {
  size_t n = 0;
  for (int i = 0; i < KV_LOCK_SHARDS; i++) {
    kv_lock_shard *sh = &lt->shards[i];
    shard_lock(sh);
    for (size_t j = 0; j < sh->cap; j++) {
      lk_entry *e = sh->slots[j].e;
      if (!e) continue;
      fn(ctx, e->key, e->klen, e->holder ? e->holder->id : 0, 0);
      for (kv_txn *w = e->qhead; w; w = w->qnext)
        fn(ctx, e->key, e->klen, w->id, 1);
      n++;
    }
    shard_unlock(sh);
  }
  return n;
}
