/*
** commit.c — ending a transaction: the commit protocol (steps C1-C5 of the
** design comment in txn.c), its two phases (kv_txn_prepare, then
** kv_txn_commit), kv_txn_unprepare, and kv_txn_abort.
**
** Prepare does everything that can fail except the write: latch the keys
** to write at write_ts (C1), push the commit timestamp above reads in the
** timestamp cache (C2), refresh when it moved and the transaction read
** anything (C3, at most KV_COMMIT_ATTEMPTS rounds), then move the status
** PENDING -> COMMITTING and build the write at the commit timestamp (C4): a
** RocksDB batch, or an SST file when kv_engine_ingests() says the commit is
** large.  Commit writes it (C5) and then, in this order: advances the
** clock, records the written keys in the timestamp cache, sets COMMITTED,
** releases the latches, records the keys it locked without writing them
** (locking reads) in the timestamp cache, and releases the locks.  The
** order is the protocol: the cache entries exist before the locks go
** (txn.c, W2), and the latches stay until the write is visible (the latch
** window).
**
** Invariants:
**   - From kv_txn_prepare's success until commit, abort or unprepare,
**     t->prepared is set, the status is COMMITTING and t->prep holds the
**     keys, the commit timestamp and, unless nothing is written, the
**     latches and the built write.  Every failure path drops them through
**     txn_unprepare().
**   - A prepared transaction keeps its latches until kv_txn_commit,
**     kv_txn_abort or kv_txn_unprepare (its readers wait meanwhile).
**   - A failed write, or a failure to build it, takes the status back to
**     PENDING and kills the transaction: nothing of it was written.  The
**     exception is a failed fsync of the write-ahead log after the write
**     (engine.c, FAILURE AND RECOVERY): the outcome is then unknown, and
**     the error says so.
**   - A transaction with nothing to write commits at its read timestamp
**     with no latch and no write, still passing through COMMITTING; the
**     keys it locked go into the timestamp cache at that timestamp.
**   - Abort releases the latches before the locks: readers wait on those.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

/* Commit rounds (C1-C3) before giving up on a transaction whose timestamp
** keeps being pushed by new reads: CockroachDB allows 5 refreshes too. */
#define KV_COMMIT_ATTEMPTS 5

static int commit_nomem(kv_txn *t, char **errptr) {
  return kv_txn_die(t, KV_NOMEM, KV_RETRY_NONE, errptr, "out of memory");
}

/* Builds the batch of t's writes at ts. */
static int txn_build_batch(kv_txn *t, kv_ts ts, rocksdb_writebatch_t *b) {
  kv_store *s = t->store;
  static const char tag = KV_VALUE_TAG;
  for (kv_skl_node *n = kv_skl_first(t->wbuf.skl); n; n = kv_skl_next(n)) {
    kv_wentry *e = n->val;
    const kv_wver *v = e->head;
    if (v->kind == KV_W_LOCK) continue;
    if (!kv_buf_set_mvcc_key(&t->kbuf, e->key, e->klen, ts)) return KV_NOMEM;
    const char *kp = t->kbuf.p;
    size_t kl = t->kbuf.n;
    if (v->kind == KV_W_DEL) {
      rocksdb_writebatch_put_cf(b, s->eng.cf_data, kp, kl, "", 0);
    } else {
      const char *parts[2] = {&tag, v->val};
      size_t sizes[2] = {1, v->vlen};
      rocksdb_writebatch_putv_cf(b, s->eng.cf_data, 1, &kp, &kl, 2, parts,
                                 sizes);
    }
  }
  return KV_OK;
}

/* C5, under the latches: cached keys follow the write (rowcache.c, E1); an
** ingested file names too many keys, so the cache starts over (E2). */
static void txn_update_rowcache(kv_txn *t, kv_ts ts) {
  kv_rowcache *rc = t->store->rowcache;
  if (t->prep.sst) {
    kv_rowcache_clear(rc);
    return;
  }
  for (kv_skl_node *n = kv_skl_first(t->wbuf.skl); n; n = kv_skl_next(n)) {
    kv_wentry *e = n->val;
    const kv_wver *v = e->head;
    if (v->kind == KV_W_LOCK) continue;
    kv_rowcache_commit(rc, e->key, e->klen, ts,
                       v->kind == KV_W_DEL ? NULL : v->val, v->vlen);
  }
}

/* The commit's write (or the file it writes) failed: t dies, having
** written nothing; *errptr holds the engine's message. */
static int txn_write_failed(kv_txn *t, int rc, char **errptr) {
  if (rc == KV_NOMEM) return commit_nomem(t, errptr);
  return kv_txn_die(t, rc, KV_RETRY_NONE, errptr,
                    "commit failed, nothing was written: %s",
                    errptr && *errptr ? *errptr : kv_code_name(rc));
}

/* Writes t's writes at ts into a file to ingest (the same versions as
** txn_build_batch, in key order, as SST files need). */
static int txn_build_sst(kv_txn *t, kv_ts ts, char **errptr) {
  kv_store *s = t->store;
  int rc = kv_engine_sst_open(&s->eng, t->id, &t->prep.sst, errptr);
  kv_buf *val = &t->vbuf; /* scratch: no read is pending at commit */
  for (kv_skl_node *n = kv_skl_first(t->wbuf.skl); n && !rc;
       n = kv_skl_next(n)) {
    kv_wentry *e = n->val;
    const kv_wver *v = e->head;
    if (v->kind == KV_W_LOCK) continue;
    if (!kv_buf_set_mvcc_key(&t->kbuf, e->key, e->klen, ts) ||
        !kv_buf_reserve(val, v->vlen + 1)) {
      rc = kv_err(errptr, KV_NOMEM, "out of memory");
      break;
    }
    val->n = 0;
    if (v->kind == KV_W_PUT) {
      val->p[0] = KV_VALUE_TAG;
      if (v->vlen) memcpy(val->p + 1, v->val, v->vlen);
      val->n = v->vlen + 1;
    }
    rc = kv_engine_sst_put(t->prep.sst, t->kbuf.p, t->kbuf.n, val->p, val->n,
                           errptr);
  }
  if (!rc) rc = kv_engine_sst_finish(t->prep.sst, errptr);
  return rc;
}

/* Past this many keys locked but not written, a commit records them in the
** timestamp cache as one range (as a large commit does its writes): the
** cache's budget is meant for reads, and a flood of points would be
** condensed into its low-water mark, which pushes every writer. */
#define KV_LOCKED_POINTS_MAX 1024

/* Records the keys t locked without writing them (locking reads) in the
** timestamp cache at its commit timestamp cts, before their locks go.  The
** value such a read returned is the newest version, and it stays the one
** visible at cts only if the next writer of the key commits above cts; the
** lock kept writers out until now, and this entry sends the next one above
** (W2), as for a written key. */
static void txn_record_locked(kv_txn *t, kv_ts cts) {
  if (!t->wbuf_ready) return;
  assert(t->wbuf.nentries >= t->wbuf.nwrites);
  size_t nlocked = t->wbuf.nentries - t->wbuf.nwrites;
  if (nlocked == 0) return;
  kv_tscache *tc = t->store->tscache;
  const kv_wentry *first = NULL, *last = NULL;
  for (kv_skl_node *n = kv_skl_first(t->wbuf.skl); n; n = kv_skl_next(n)) {
    const kv_wentry *e = n->val;
    if (e->head->kind != KV_W_LOCK) continue;
    if (nlocked <= KV_LOCKED_POINTS_MAX) {
      kv_span sp = {.start = e->key, .slen = e->klen};
      kv_tscache_add(tc, &sp, cts, 0);
    }
    if (!first) first = e;
    last = e;
  }
  if (nlocked <= KV_LOCKED_POINTS_MAX || !first) return;
  if (!kv_buf_reserve(&t->kbuf, last->klen + 1)) {
    kv_tscache_add(tc, &(kv_span){.start = first->key, .slen = first->klen,
                                  .is_range = 1, .end_inf = 1},
                   cts, 0); /* wider still, but never missing */
    return;
  }
  memcpy(t->kbuf.p, last->key, last->klen);
  t->kbuf.p[last->klen] = 0; /* the first key after the last */
  kv_span rsp = {.start = first->key, .slen = first->klen, .end = t->kbuf.p,
                 .elen = last->klen + 1, .is_range = 1};
  kv_tscache_add(tc, &rsp, cts, 0);
}

static void txn_finish(kv_txn *t, kv_ts cts, kv_ts *commit_ts, bool wrote) {
  kv_store *s = t->store;
  txn_record_locked(t, cts);
  kv_txn_release_locks(t);
  if (commit_ts) *commit_ts = cts;
  KV_STAT_INC(s, commits);
  if (!wrote) KV_STAT_INC(s, commits_readonly);
  kv_txn_free(t);
}

/* The prepared state lives in the transaction: its keys (borrowed from the
** write buffer's arena), its latches, its batch and its commit ts. */
static void txn_unprepare(kv_txn *t) {
  kv_prepared *p = &t->prep;
  if (!t->prepared) return;
  if (p->latched) kv_latch_release(&t->store->latches, &p->guard);
  p->latched = false;
  if (p->batch) rocksdb_writebatch_destroy(p->batch);
  p->batch = NULL;
  kv_engine_sst_free(p->sst);
  p->sst = NULL;
  if (p->keys != p->keys_small) free(p->keys);
  if (p->klens != p->klens_small) free(p->klens);
  p->keys = NULL;
  p->klens = NULL;
  p->n = 0;
  t->prepared = false;
}

/* Collects the keys to write, in order, into t->prep. */
static int txn_collect_keys(kv_txn *t) {
  kv_prepared *p = &t->prep;
  p->keys = p->keys_small;
  p->klens = p->klens_small;
  p->n = 0;
  p->bytes = 0;
  if (!t->wbuf_ready || t->wbuf.nwrites == 0) return KV_OK;
  size_t cap = t->wbuf.nwrites;
  if (cap > KV_PREP_SMALL) {
    p->keys = malloc(cap * sizeof(*p->keys));
    p->klens = malloc(cap * sizeof(*p->klens));
    if (!p->keys || !p->klens) return KV_NOMEM;
  }
  for (kv_skl_node *x = kv_skl_first(t->wbuf.skl); x && p->n < cap;
       x = kv_skl_next(x)) {
    kv_wentry *e = x->val;
    if (e->head->kind != KV_W_LOCK) {
      p->keys[p->n] = e->key;
      p->klens[p->n] = e->klen;
      p->bytes += e->klen + KV_TS_LEN + 1 + e->head->vlen;
      p->n++;
    }
  }
  return KV_OK;
}

int kv_txn_prepare(kv_txn *t, char **errptr) {
  if (t->prepared) return KV_OK;
  int rc = kv_txn_check(t, errptr);
  if (rc) return rc;
  if (t->iters)
    return kv_err(errptr, KV_INVALID,
                  "close the transaction's iterators before committing");
  kv_store *s = t->store;
  kv_prepared *p = &t->prep;
  t->prepared = true;
  if (txn_collect_keys(t)) {
    txn_unprepare(t);
    return commit_nomem(t, errptr);
  }
  if (p->n == 0) { /* nothing to write: commit at the snapshot, unlatched */
    if (!kv_txn_leave_pending(t, KV_TXN_COMMITTING)) {
      txn_unprepare(t);
      return kv_txn_check(t, errptr);
    }
    p->cts = t->read_ts;
    return KV_OK;
  }

  for (int attempt = 0;; attempt++) {
    kv_ts cts = kv_txn_get_write_ts(t);
    if (kv_latch_acquire(&s->latches, &p->guard, p->keys, p->klens, p->n,
                         cts)) {
      rc = KV_NOMEM;
      break;
    }
    p->latched = true;
    /* C2 */
    for (size_t i = 0; i < p->n; i++) {
      kv_ts r =
          kv_tscache_max(s->tscache, p->keys[i], p->klens[i], t->id, cts);
      if (kv_ts_le(cts, r)) {
        cts = kv_ts_next(r);
        KV_STAT_INC(s, pushes_tscache);
      }
    }
    kv_txn_forward_write_ts(t, cts);
    if (kv_ts_lt(t->read_ts, cts) && t->spans.n > 0) {
      /* C3 */
      kv_latch_release(&s->latches, &p->guard);
      p->latched = false;
      if (attempt + 1 >= KV_COMMIT_ATTEMPTS) {
        txn_unprepare(t);
        return kv_txn_die(t, KV_RETRY, KV_RETRY_READ_REFRESH, errptr,
                          "the commit timestamp was pushed %d times by "
                          "concurrent reads",
                          KV_COMMIT_ATTEMPTS);
      }
      if ((rc = kv_txn_refresh(t, cts, errptr))) {
        txn_unprepare(t);
        return rc;
      }
      continue;
    }
    /* C4: from here on nobody else can abort it; the write is built here
    ** so that only the write itself is left to fail. */
    if (!kv_txn_leave_pending(t, KV_TXN_COMMITTING)) {
      txn_unprepare(t);
      return kv_txn_check(t, errptr);
    }
    if (kv_engine_ingests(&s->eng, p->bytes)) {
      if ((rc = txn_build_sst(t, cts, errptr))) {
        kv_txn_leave_committing(t, KV_TXN_PENDING);
        txn_unprepare(t);
        return txn_write_failed(t, rc, errptr);
      }
      p->cts = cts;
      return KV_OK;
    }
    p->batch = rocksdb_writebatch_create();
    rc = p->batch ? txn_build_batch(t, cts, p->batch) : KV_NOMEM;
    if (rc) {
      kv_txn_leave_committing(t, KV_TXN_PENDING);
      break;
    }
    p->cts = cts;
    return KV_OK;
  }
  txn_unprepare(t);
  return commit_nomem(t, errptr);
}

void kv_txn_unprepare(kv_txn *t) {
  if (!t->prepared) return;
  txn_unprepare(t);
  kv_txn_leave_committing(t, KV_TXN_PENDING);
}

int kv_txn_commit(kv_txn *t, kv_ts *commit_ts, char **errptr) {
  int rc = kv_txn_prepare(t, errptr);
  if (rc) return rc;
  kv_store *s = t->store;
  kv_prepared *p = &t->prep;
  kv_ts cts = p->cts;
  assert(t->prepared && kv_txn_state(t) == KV_TXN_COMMITTING);
  assert(p->n == 0 || (p->latched && (p->batch || p->sst)));
  if (p->n == 0) {
    kv_txn_leave_committing(t, KV_TXN_COMMITTED);
    txn_unprepare(t);
    txn_finish(t, cts, commit_ts, false);
    return KV_OK;
  }
  /* C5 */
  rc = p->sst ? kv_engine_ingest(&s->eng, p->sst, errptr)
              : kv_engine_write(&s->eng, p->batch, false, errptr);
  if (rc) {
    /* What reached the engine is unknown: the row cache starts over. */
    kv_rowcache_clear(s->rowcache);
    kv_txn_leave_committing(t, KV_TXN_PENDING);
    txn_unprepare(t);
    return txn_write_failed(t, rc, errptr);
  }
  kv_clock_update(&s->clock, cts);
  if (s->rowcache) txn_update_rowcache(t, cts);
  /* Before the locks go: the next writer of each key finds this commit
  ** in the timestamp cache and writes above it (W2).  A large commit adds
  ** one range from its first key to just past its last instead of a point
  ** per key: it may push a writer of a key in between that it did not
  ** write, which the cache allows (it is pessimistic), and it does not
  ** flood the cache's points out into its low-water mark. */
  size_t last = p->n - 1;
  if (p->sst && kv_buf_reserve(&t->kbuf, p->klens[last] + 1)) {
    memcpy(t->kbuf.p, p->keys[last], p->klens[last]);
    t->kbuf.p[p->klens[last]] = 0; /* the first key after the last */
    kv_span rsp = {.start = p->keys[0], .slen = p->klens[0], .end = t->kbuf.p,
                   .elen = p->klens[last] + 1, .is_range = 1};
    kv_tscache_add(s->tscache, &rsp, cts, 0);
  } else {
    for (size_t i = 0; i < p->n; i++) {
      kv_span ksp = {.start = p->keys[i], .slen = p->klens[i]};
      kv_tscache_add(s->tscache, &ksp, cts, 0);
    }
  }
  kv_txn_leave_committing(t, KV_TXN_COMMITTED);
  txn_unprepare(t);
  txn_finish(t, cts, commit_ts, true);
  return KV_OK;
}

/* ------------------------------------------------------------- abort -- */

void kv_txn_abort(kv_txn *t) {
  if (!t) return;
  while (t->iters) kv_iter_close(t->iters);
  if (t->prepared) { /* its latches go first: readers are waiting on them */
    txn_unprepare(t);
    kv_txn_leave_committing(t, KV_TXN_PENDING);
  }
  if (!t->dead_rc) {
    if (kv_txn_leave_pending(t, kv_status_word(KV_TXN_ABORTED,
                                               KV_RETRY_NONE)))
      KV_STAT_INC(t->store, aborts);
  }
  kv_txn_release_locks(t);
  kv_txn_free(t);
}
