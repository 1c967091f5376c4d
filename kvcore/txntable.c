/*
** txntable.c — the table of live transactions, and the GC threshold.
**
** Every transaction is in the table from kv_txn_begin until it is freed
** (commit or abort).  The table serves introspection (kv_store_list_txns,
** kv_stats.active_txns) and garbage collection, which must not collect a
** version that a live transaction can still read.  It is KV_TXN_SHARDS
** shards by transaction id, each a mutex and a doubly linked list, so that
** begins and ends of different transactions rarely share a mutex.
**
** THE GC INVARIANT: a transaction is either seen by GC or sees the new
** threshold.
**   - Admission (kv_txntable_register) compares the transaction's read
**     timestamp with the threshold under its shard's mutex and refuses a
**     transaction that would read below it (KV_INVALID).
**   - Publication (kv_txntable_gc_threshold) takes every shard's mutex, in
**     ascending order, computes min(horizon, the oldest live read
**     timestamp), raises the threshold to it (it never goes down) and only
**     then lets the shards go.
** So a registration either happened before the publication, and the
** publication saw the transaction's read timestamp, or after it, and the
** registration saw the new threshold.  A transaction's read timestamp only
** moves forward while it is registered (read refresh), so the oldest one
** seen stays a lower bound of what it reads.  Its two halves are separate
** atomics, published logical first and read wall first
** (kv_txn_published_read_ts), so a read racing with a refresh never sees a
** timestamp above the one being replaced or the new one: a torn (new wall,
** old logical) pair could be above both and let GC collect under it.  GC (gc.c) deletes only
** versions that a read at the published threshold does not see, hence none
** that any admitted transaction reads.
**
** Lock order: a shard mutex comes before every other kvcore mutex
** (kvint.h); nothing here takes another one, and the introspection
** callback must not call back into the store.
*/
#include "kvint.h"

#include <string.h>

static kv_txn_shard *shard_of(kv_txntable *tt, const kv_txn *t) {
  return &tt->shards[t->id % KV_TXN_SHARDS];
}

static void shard_lock(kv_txn_shard *sh) { kv_mu_lock(&sh->mu, KV_MU_TXNTABLE); }
static void shard_unlock(kv_txn_shard *sh) { kv_mu_unlock(&sh->mu, KV_MU_TXNTABLE); }

void kv_txntable_init(kv_txntable *tt) {
  memset(tt, 0, sizeof(*tt));
  for (int i = 0; i < KV_TXN_SHARDS; i++)
    pthread_mutex_init(&tt->shards[i].mu, NULL);
}

void kv_txntable_destroy(kv_txntable *tt) {
  for (int i = 0; i < KV_TXN_SHARDS; i++)
    pthread_mutex_destroy(&tt->shards[i].mu);
}

int kv_txntable_register(kv_txntable *tt, kv_txn *t, char **errptr) {
  kv_txn_shard *sh = shard_of(tt, t);
  shard_lock(sh);
  if (kv_ts_lt(t->read_ts, tt->gc_threshold)) {
    kv_ts g = tt->gc_threshold;
    shard_unlock(sh);
    return kv_err(errptr, KV_INVALID,
                  "read timestamp %llu.%u is below the retention window "
                  "(history up to %llu.%u was garbage-collected)",
                  (unsigned long long)t->read_ts.wall, t->read_ts.logical,
                  (unsigned long long)g.wall, g.logical);
  }
  t->tprev = NULL;
  t->tnext = sh->head;
  if (sh->head) sh->head->tprev = t;
  sh->head = t;
  shard_unlock(sh);
  return KV_OK;
}

void kv_txntable_unregister(kv_txntable *tt, kv_txn *t) {
  kv_txn_shard *sh = shard_of(tt, t);
  shard_lock(sh);
  if (t->tprev)
    t->tprev->tnext = t->tnext;
  else if (sh->head == t)
    sh->head = t->tnext;
  if (t->tnext) t->tnext->tprev = t->tprev;
  t->tnext = t->tprev = NULL;
  shard_unlock(sh);
}

kv_ts kv_txntable_gc_threshold(kv_txntable *tt, kv_ts horizon) {
  kv_ts th = horizon;
  kv_mu_enter(KV_MU_TXNTABLE);
  for (int i = 0; i < KV_TXN_SHARDS; i++)
    pthread_mutex_lock(&tt->shards[i].mu);
  for (int i = 0; i < KV_TXN_SHARDS; i++)
    for (kv_txn *t = tt->shards[i].head; t; t = t->tnext) {
      kv_ts r = kv_txn_published_read_ts(t);
      if (kv_ts_lt(r, th)) th = r;
    }
  if (kv_ts_lt(tt->gc_threshold, th))
    tt->gc_threshold = th;
  else
    th = tt->gc_threshold;
  for (int i = KV_TXN_SHARDS - 1; i >= 0; i--)
    pthread_mutex_unlock(&tt->shards[i].mu);
  kv_mu_leave(KV_MU_TXNTABLE);
  return th;
}

int kv_txntable_when_empty(kv_txntable *tt, int (*fn)(void *, char **),
                           void *ctx, char **errptr) {
  kv_mu_enter(KV_MU_TXNTABLE);
  for (int i = 0; i < KV_TXN_SHARDS; i++)
    pthread_mutex_lock(&tt->shards[i].mu);
  bool empty = true;
  for (int i = 0; i < KV_TXN_SHARDS && empty; i++)
    empty = tt->shards[i].head == NULL;
  int rc = empty ? fn(ctx, errptr)
                 : kv_err(errptr, KV_BUSY, "a transaction is open");
  for (int i = KV_TXN_SHARDS - 1; i >= 0; i--)
    pthread_mutex_unlock(&tt->shards[i].mu);
  kv_mu_leave(KV_MU_TXNTABLE);
  return rc;
}

kv_ts kv_txntable_threshold(kv_txntable *tt) {
  /* Every shard's mutex guards it while it changes: one is enough to read. */
  shard_lock(&tt->shards[0]);
  kv_ts th = tt->gc_threshold;
  shard_unlock(&tt->shards[0]);
  return th;
}

size_t kv_txntable_list(kv_txntable *tt,
                        void (*fn)(void *, const kv_txn_info *), void *ctx) {
  size_t n = 0;
  for (int i = 0; i < KV_TXN_SHARDS; i++) {
    kv_txn_shard *sh = &tt->shards[i];
    shard_lock(sh);
    for (kv_txn *t = sh->head; t; t = t->tnext) {
      if (fn) {
        kv_txn_info info = {
            .id = t->id,
            .read_ts = kv_txn_published_read_ts(t),
            .write_ts = kv_txn_get_write_ts(t),
            .age = t->age,
            .priority = t->priority,
            .boost = t->boost,
            .read_only = t->read_only,
            .lock_reads = t->lock_reads,
            .status = kv_txn_state(t),
            .waiting_for = atomic_load(&t->waiting_for_id),
            .locks = atomic_load(&t->nlocks),
        };
        fn(ctx, &info);
      }
      n++;
    }
    shard_unlock(sh);
  }
  return n;
}
