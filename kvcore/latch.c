/*
** latch.c — the latch manager: write latches over the keys a commit is
** writing, so that nobody reads those keys at a timestamp at or above the
** commit's while its timestamp is being decided and its write is built and
** applied.
**
** CockroachDB latches every request (reads and writes) for the length of its
** evaluation.  Here only commits insert latches; reads use CockroachDB's
** optimistic evaluation (AcquireOptimistic / CheckOptimisticNoConflicts)
** turned around: a read first publishes itself in the timestamp cache and
** then waits for the write latches that overlap it at a timestamp at or
** below its own (kv_latch_wait_read).  Either a committer saw the read in
** the timestamp cache and moved above it, or its latch was in place before
** the read looked, so the read waits until its write is applied and then
** sees it.  Readers therefore never block writers and never block each
** other; a read waits only for a commit whose latches cover what it reads,
** and only while they are held: for kv_txn_commit, the commit's own work
** up to the end of its write; for a prepared transaction, until it is
** committed, aborted or unprepared (commit.c).  txn.c has the full
** argument (guarantee 3, the latch window).
**
** Invariants (asserted): a commit's keys come ascending and distinct; a
** thread takes latch shard mutexes in ascending index only, and no
** txn-table, lock-table, wait-graph or wake mutex while it holds one
** (kvint.h's lock order).
**
** Structure: KV_LATCH_SHARDS shards, each a mutex, a condition variable and
** a list of latches.  A point latch lives in the shard of its key's hash; a
** range latch (a commit with more than KV_LATCH_MAX_POINTS keys is latched
** as [first, last]) has a node in every shard.  A commit inserts all its
** latches while holding all the shards they touch (taken in ascending
** order, so two inserters cannot deadlock), and takes a sequence number
** there; it then waits only for overlapping latches with smaller sequence
** numbers.  Waits point only to earlier requests, so latches cannot
** deadlock.  (Two commits rarely overlap: both would need the same key's
** lock.  Range latches can.)  Releasing broadcasts the shard's condition, so
** waiters wake on the event, never on a timer.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

struct kv_latch_shard {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  kv_latch *head;
  _Atomic int n;          /* latches in the list: read without mu as a hint */
  char pad[64];
};

/* A thread takes latch shards in ascending index only (several at once when
** a commit inserts its latches), and nothing else while holding one. */
static void shard_lock(kv_latch_mgr *m, int s) {
  assert((kv_latch_held >> s) == 0); /* no shard at or above s held */
  pthread_mutex_lock(&m->shards[s].mu);
  kv_latch_held |= (uint32_t)1 << s;
}
static void shard_unlock(kv_latch_mgr *m, int s) {
  kv_latch_held &= ~((uint32_t)1 << s);
  pthread_mutex_unlock(&m->shards[s].mu);
}

static int latch_shard_of(const char *key, size_t klen) {
  return (int)(kv_hash(key, klen) & (KV_LATCH_SHARDS - 1));
}

int kv_latch_mgr_init(kv_latch_mgr *m) {
  memset(m, 0, sizeof(*m));
  m->shards = calloc(KV_LATCH_SHARDS, sizeof(kv_latch_shard));
  if (!m->shards) return KV_NOMEM;
  for (int i = 0; i < KV_LATCH_SHARDS; i++) {
    pthread_mutex_init(&m->shards[i].mu, NULL);
    pthread_cond_init(&m->shards[i].cond, NULL);
  }
  return KV_OK;
}

void kv_latch_mgr_destroy(kv_latch_mgr *m) {
  if (!m->shards) return;
  for (int i = 0; i < KV_LATCH_SHARDS; i++) {
    pthread_mutex_destroy(&m->shards[i].mu);
    pthread_cond_destroy(&m->shards[i].cond);
  }
  free(m->shards);
  m->shards = NULL;
}

/* Do two write latches overlap?  Ranges are [start, end] inclusive. */
static bool latch_overlap(const kv_latch *a, const kv_latch *b) {
  if (!a->is_range && !b->is_range)
    return kv_bytes_cmp(a->start, a->slen, b->start, b->slen) == 0;
  if (!a->is_range) {
    const kv_latch *t = a;
    a = b;
    b = t;
  }
  /* a is a range; b a point or a range */
  const char *bs = b->start, *be = b->is_range ? b->end : b->start;
  size_t bsl = b->slen, bel = b->is_range ? b->elen : b->slen;
  return kv_bytes_cmp(a->start, a->slen, be, bel) <= 0 &&
         kv_bytes_cmp(bs, bsl, a->end, a->elen) <= 0;
}

/* Does write latch l overlap read span sp? */
static bool latch_overlaps_span(const kv_latch *l, const kv_span *sp) {
  const char *ls = l->start, *le = l->is_range ? l->end : l->start;
  size_t lsl = l->slen, lel = l->is_range ? l->elen : l->slen;
  if (!sp->is_range)
    return kv_bytes_cmp(ls, lsl, sp->start, sp->slen) <= 0 &&
           kv_bytes_cmp(sp->start, sp->slen, le, lel) <= 0;
  /* [ls, le] vs [start, end) */
  if (kv_bytes_cmp(le, lel, sp->start, sp->slen) < 0) return false;
  return sp->end_inf || kv_bytes_cmp(ls, lsl, sp->end, sp->elen) < 0;
}

static void shard_insert(kv_latch_shard *s, kv_latch *l) {
  l->prev = NULL;
  l->next = s->head;
  if (s->head) s->head->prev = l;
  s->head = l;
  atomic_fetch_add(&s->n, 1);
}

static void shard_remove(kv_latch_shard *s, kv_latch *l) {
  if (l->prev)
    l->prev->next = l->next;
  else
    s->head = l->next;
  if (l->next) l->next->prev = l->prev;
  atomic_fetch_sub(&s->n, 1);
}

/* Is there an earlier latch in s that overlaps one of g's latches there? */
static bool shard_blocks_writer(kv_latch_shard *s, const kv_latch_guard *g,
                                int shard) {
  for (size_t i = 0; i < g->n; i++) {
    const kv_latch *mine = &g->latches[i];
    if (mine->shard != shard) continue;
    for (kv_latch *l = s->head; l; l = l->next)
      if (l->seq < mine->seq && latch_overlap(l, mine)) return true;
  }
  return false;
}

int kv_latch_acquire(kv_latch_mgr *m, kv_latch_guard *g, const char **keys,
                     const size_t *klens, size_t n, kv_ts ts) {
  bool range = n > KV_LATCH_MAX_POINTS;
  size_t need = range ? KV_LATCH_SHARDS : n;
  g->n = 0;
  g->shard_mask = 0;
  g->latches = need <= sizeof(g->inline_latches) / sizeof(kv_latch)
                   ? g->inline_latches
                   : malloc(need * sizeof(kv_latch));
  if (!g->latches) return KV_NOMEM;
  for (size_t i = 0; i < need; i++) {
    kv_latch *l = &g->latches[i];
    memset(l, 0, sizeof(*l));
    l->ts = ts;
    if (range) {
      l->is_range = true;
      l->start = keys[0];
      l->slen = klens[0];
      l->end = keys[n - 1];
      l->elen = klens[n - 1];
      l->shard = (int)i;
    } else {
      assert(i == 0 || kv_bytes_cmp(keys[i - 1], klens[i - 1], keys[i],
                                    klens[i]) < 0); /* ascending, distinct */
      l->start = keys[i];
      l->slen = klens[i];
      l->shard = latch_shard_of(keys[i], klens[i]);
    }
    g->shard_mask |= 1ULL << l->shard;
  }
  g->n = need;

  /* Insert atomically across the shards, in ascending shard order. */
  for (uint64_t b = g->shard_mask; b; b &= b - 1)
    shard_lock(m, __builtin_ctzll(b));
  uint64_t seq = atomic_fetch_add(&m->seq, 1) + 1;
  for (size_t i = 0; i < g->n; i++) {
    g->latches[i].seq = seq;
    shard_insert(&m->shards[g->latches[i].shard], &g->latches[i]);
  }
  /* Usually nothing earlier overlaps: then we are done in one pass. */
  bool blocked = false;
  for (uint64_t b = g->shard_mask; b && !blocked; b &= b - 1) {
    int s = __builtin_ctzll(b);
    blocked = shard_blocks_writer(&m->shards[s], g, s);
  }
  for (uint64_t b = g->shard_mask; b; b &= b - 1)
    shard_unlock(m, __builtin_ctzll(b));
  if (!blocked) return KV_OK;

  /* Wait for earlier overlapping latches. */
  bool waited = false;
  for (uint64_t b = g->shard_mask; b; b &= b - 1) {
    int s = __builtin_ctzll(b);
    kv_latch_shard *sh = &m->shards[s];
    shard_lock(m, s);
    while (shard_blocks_writer(sh, g, s)) {
      waited = true;
      pthread_cond_wait(&sh->cond, &sh->mu);
    }
    shard_unlock(m, s);
  }
  if (waited) atomic_fetch_add_explicit(&m->waits, 1, memory_order_relaxed);
  return KV_OK;
}

void kv_latch_release(kv_latch_mgr *m, kv_latch_guard *g) {
  for (uint64_t b = g->shard_mask; b; b &= b - 1) {
    int s = __builtin_ctzll(b);
    kv_latch_shard *sh = &m->shards[s];
    shard_lock(m, s);
    for (size_t i = 0; i < g->n; i++)
      if (g->latches[i].shard == s) shard_remove(sh, &g->latches[i]);
    pthread_cond_broadcast(&sh->cond);
    shard_unlock(m, s);
  }
  if (g->latches != g->inline_latches) free(g->latches);
  g->latches = NULL;
  g->n = 0;
  g->shard_mask = 0;
}

static bool shard_blocks_reader(kv_latch_shard *s, const kv_span *sp,
                                kv_ts ts) {
  for (kv_latch *l = s->head; l; l = l->next)
    if (kv_ts_le(l->ts, ts) && latch_overlaps_span(l, sp)) return true;
  return false;
}

static void wait_shard(kv_latch_mgr *m, int s, const kv_span *sp, kv_ts ts) {
  kv_latch_shard *sh = &m->shards[s];
  /* The count is raised before the committer looks at the timestamp cache,
  ** and this runs after the reader wrote there, so a zero means that no
  ** committer that missed this read is still writing. */
  if (atomic_load(&sh->n) == 0) return;
  shard_lock(m, s);
  bool waited = false;
  while (shard_blocks_reader(sh, sp, ts)) {
    waited = true;
    pthread_cond_wait(&sh->cond, &sh->mu);
  }
  shard_unlock(m, s);
  if (waited) atomic_fetch_add_explicit(&m->waits, 1, memory_order_relaxed);
}

void kv_latch_wait_read(kv_latch_mgr *m, const kv_span *sp, kv_ts ts) {
  if (!sp->is_range) {
    wait_shard(m, latch_shard_of(sp->start, sp->slen), sp, ts);
    return;
  }
  for (int s = 0; s < KV_LATCH_SHARDS; s++) wait_shard(m, s, sp, ts);
}
