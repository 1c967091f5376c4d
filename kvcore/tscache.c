/*
** tscache.c — the timestamp cache: the latest timestamp at which each key
** or key range was read, so that no transaction writes underneath a read.
**
** Contract (CockroachDB's tscache.Cache): after add(span, ts, owner),
** max(k, self) >= ts for every k in span and every self != owner, for ever.
** Forgetting is allowed only upwards: evicted entries raise a low-water mark
** that answers for every key they covered, so memory is bounded and the
** cache stays pessimistic (a write may be pushed more than needed, never
** less).  The owner lets a transaction write above its own reads without
** being pushed by them: an entry's owner is the one transaction whose read
** set its timestamp, or none (0) when two transactions tie.
**
** Layout:
**   points   KV_TSC_SHARDS shards by key hash, each with its own mutex.  A
**            shard keeps two generations of an open-addressing hash table
**            whose keys live in the generation's arena.  When the current
**            generation fills its share of the budget, the older one is
**            dropped whole and its highest timestamp raises the shard's
**            low-water mark (CockroachDB rotates arena pages the same way).
**   ranges   one ordered map of disjoint intervals [start, end) -> (ts,
**            owner) under a read-write lock, for scans.  Adding a range
**            splits, ratchets and fills gaps, then merges neighbours with
**            equal values, so repeated scans of the same table stay one
**            interval.  Past its budget, the older half (by timestamp) is
**            evicted into the ranges' low-water mark.
**   floor    the low-water mark the cache starts with (the clock at open):
**            reads from before a restart are forgotten, and nothing may be
**            written at or below it.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

#define KV_TSC_SHARDS 64

typedef struct tc_slot {
  uint64_t hash;       /* 0: empty */
  const char *key;
  size_t klen;
  kv_ts ts;
  uint64_t owner;
} tc_slot;

typedef struct tc_gen {
  tc_slot *slots;
  size_t cap, n;
  kv_arena arena;
  kv_ts maxts;
} tc_gen;

typedef struct tc_shard {
  pthread_mutex_t mu;
  tc_gen gen[2];       /* gen[cur] is written; the other is older */
  int cur;
  kv_ts low;
  char pad[64];        /* shards are hot: one cache line each, at least */
} tc_shard;

typedef struct tc_range {
  char *start;
  size_t slen;
  char *end;
  size_t elen;
  bool end_inf;
  kv_ts ts;
  uint64_t owner;
} tc_range;

struct kv_tscache {
  tc_shard shards[KV_TSC_SHARDS];
  size_t gen_budget;
  kv_ts floor;

  pthread_rwlock_t rmu;
  kv_skl *ranges;         /* start -> tc_range */
  size_t range_bytes, range_budget;
  kv_ts range_low;
  _Atomic int nranges;    /* hint: skip the lock when there are none */
  _Atomic bool range_low_set;

};

#define TC_SLOT_BYTES sizeof(tc_slot)
#define TC_RANGE_OVERHEAD (sizeof(tc_range) + 64)

static uint64_t tc_hash(const void *k, size_t n) {
  uint64_t h = kv_hash(k, n);
  return h ? h : 1;
}

/* Shards take the high bits of the hash; slots within a shard the low
** bits, so every slot of a shard's table is used. */
static unsigned tc_shard_of(uint64_t h) {
  return (unsigned)(h >> 58) % KV_TSC_SHARDS;
}

/* Is an entry with this owner a read of `self` alone?  Owner 0 is nobody
** (a tie between transactions, or a commit's own keys). */
static bool owned_by(uint64_t owner, uint64_t self) {
  return owner != 0 && owner == self;
}

/* Raises (ts, owner) to at least (nts, nowner): CockroachDB's ratchet. */
static void tc_ratchet(kv_ts *ts, uint64_t *owner, kv_ts nts,
                       uint64_t nowner) {
  if (kv_ts_lt(*ts, nts)) {
    *ts = nts;
    *owner = nowner;
  } else if (kv_ts_eq(*ts, nts) && *owner != nowner) {
    *owner = 0;
  }
}

kv_tscache *kv_tscache_new(size_t budget, kv_ts low) {
  kv_tscache *tc = calloc(1, sizeof(*tc));
  if (!tc) return NULL;
  if (budget < (1u << 20)) budget = 1u << 20;
  tc->gen_budget = budget * 3 / 4 / KV_TSC_SHARDS / 2;
  tc->range_budget = budget / 4;
  tc->floor = low;
  for (int i = 0; i < KV_TSC_SHARDS; i++) {
    pthread_mutex_init(&tc->shards[i].mu, NULL);
    kv_arena_init(&tc->shards[i].gen[0].arena);
    kv_arena_init(&tc->shards[i].gen[1].arena);
  }
  pthread_rwlock_init(&tc->rmu, NULL);
  tc->ranges = kv_skl_new(NULL);
  if (!tc->ranges) {
    kv_tscache_free(tc);
    return NULL;
  }
  return tc;
}

static void gen_clear(tc_gen *g) {
  free(g->slots);
  kv_arena_free(&g->arena);
  g->slots = NULL;
  g->cap = g->n = 0;
  g->maxts = KV_TS_ZERO;
}

static void range_free(tc_range *r) {
  free(r->start);
  free(r->end);
  free(r);
}

void kv_tscache_free(kv_tscache *tc) {
  if (!tc) return;
  for (int i = 0; i < KV_TSC_SHARDS; i++) {
    gen_clear(&tc->shards[i].gen[0]);
    gen_clear(&tc->shards[i].gen[1]);
    pthread_mutex_destroy(&tc->shards[i].mu);
  }
  if (tc->ranges) {
    for (kv_skl_node *n = kv_skl_first(tc->ranges); n; n = kv_skl_next(n))
      range_free(n->val);
    kv_skl_free(tc->ranges);
  }
  pthread_rwlock_destroy(&tc->rmu);
  free(tc);
}

/* ------------------------------------------------------------- points -- */

static tc_slot *gen_lookup(tc_gen *g, uint64_t h, const void *k, size_t n) {
  if (!g->cap) return NULL;
  size_t mask = g->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    tc_slot *s = &g->slots[i];
    if (!s->hash) return NULL;
    if (s->hash == h && kv_bytes_cmp(s->key, s->klen, k, n) == 0) return s;
  }
}

static bool gen_grow(tc_gen *g) {
  size_t ncap = g->cap ? g->cap * 2 : 64;
  tc_slot *ns = calloc(ncap, sizeof(tc_slot));
  if (!ns) return false;
  for (size_t i = 0; i < g->cap; i++) {
    tc_slot *s = &g->slots[i];
    if (!s->hash) continue;
    size_t j = s->hash & (ncap - 1);
    while (ns[j].hash) j = (j + 1) & (ncap - 1);
    ns[j] = *s;
  }
  free(g->slots);
  g->slots = ns;
  g->cap = ncap;
  return true;
}

static size_t gen_bytes(const tc_gen *g) {
  return g->cap * TC_SLOT_BYTES + g->arena.bytes;
}

static void tc_add_point(kv_tscache *tc, const char *k, size_t n, kv_ts ts,
                         uint64_t owner) {
  uint64_t h = tc_hash(k, n);
  tc_shard *sh = &tc->shards[tc_shard_of(h)];
  pthread_mutex_lock(&sh->mu);
  tc_gen *g = &sh->gen[sh->cur];
  tc_slot *s = gen_lookup(g, h, k, n);
  if (s) {
    tc_ratchet(&s->ts, &s->owner, ts, owner);
  } else {
    if (gen_bytes(g) + n + TC_SLOT_BYTES > tc->gen_budget && g->n > 0) {
      /* Rotate: forget the older generation into the low-water mark. */
      tc_gen *old = &sh->gen[!sh->cur];
      sh->low = kv_ts_max(sh->low, old->maxts);
      gen_clear(old);
      sh->cur = !sh->cur;
      g = old;
    }
    char *kc = (g->n + 1) * 2 > g->cap && !gen_grow(g)
                   ? NULL
                   : kv_arena_dup(&g->arena, k, n ? n : 1);
    if (!kc) {
      /* Out of memory: remember the read pessimistically. */
      sh->low = kv_ts_max(sh->low, ts);
    } else {
      size_t mask = g->cap - 1, i = h & mask;
      while (g->slots[i].hash) i = (i + 1) & mask;
      g->slots[i] = (tc_slot){h, kc, n, ts, owner};
      g->n++;
    }
  }
  if (kv_ts_lt(g->maxts, ts)) g->maxts = ts;
  pthread_mutex_unlock(&sh->mu);
}

/* ------------------------------------------------------------- ranges -- */

static tc_range *range_new(const char *s, size_t sl, const char *e, size_t el,
                           bool einf, kv_ts ts, uint64_t owner) {
  tc_range *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  r->start = malloc(sl ? sl : 1);
  r->end = einf ? NULL : malloc(el ? el : 1);
  if (!r->start || (!einf && !r->end)) {
    range_free(r);
    return NULL;
  }
  memcpy(r->start, s, sl);
  r->slen = sl;
  if (!einf) memcpy(r->end, e, el);
  r->elen = el;
  r->end_inf = einf;
  r->ts = ts;
  r->owner = owner;
  return r;
}

static bool range_insert(kv_tscache *tc, tc_range *r) {
  if (!r) return false;
  if (!kv_skl_insert(tc->ranges, r->start, r->slen, r)) {
    range_free(r);
    return false;
  }
  tc->range_bytes += r->slen + r->elen + TC_RANGE_OVERHEAD;
  return true;
}

static void range_delete(kv_tscache *tc, kv_skl_node *n) {
  tc_range *r = n->val;
  tc->range_bytes -= r->slen + r->elen + TC_RANGE_OVERHEAD;
  kv_skl_delete(tc->ranges, n);
  range_free(r);
}

/* Cuts r at key k (r.start < k < r.end): r keeps [start, k), a new node gets
** [k, end). */
static bool range_split(kv_tscache *tc, tc_range *r, const char *k, size_t kl) {
  tc_range *tail = range_new(k, kl, r->end, r->elen, r->end_inf, r->ts,
                             r->owner);
  char *nend = malloc(kl ? kl : 1);
  if (!tail || !nend) {
    free(nend);
    if (tail) range_free(tail);
    return false;
  }
  memcpy(nend, k, kl);
  if (!range_insert(tc, tail)) {
    free(nend);
    return false;
  }
  tc->range_bytes -= r->elen;
  free(r->end);
  r->end = nend;
  r->elen = kl;
  r->end_inf = false;
  tc->range_bytes += kl;
  return true;
}

static int range_cmp_end(const tc_range *r, const char *k, size_t kl) {
  if (r->end_inf) return 1;
  return kv_bytes_cmp(r->end, r->elen, k, kl);
}

/* Merges n with its successor while they touch and carry the same value. */
static void range_merge_from(kv_tscache *tc, kv_skl_node *n, const char *e,
                             size_t el, bool einf) {
  while (n) {
    kv_skl_node *m = kv_skl_next(n);
    if (!m) return;
    tc_range *a = n->val, *b = m->val;
    if (!einf && kv_bytes_cmp(a->start, a->slen, e, el) > 0) return;
    if (!a->end_inf &&
        kv_bytes_cmp(a->end, a->elen, b->start, b->slen) == 0 &&
        kv_ts_eq(a->ts, b->ts) && a->owner == b->owner) {
      tc->range_bytes -= a->elen;
      free(a->end);
      a->end = b->end;
      a->elen = b->elen;
      a->end_inf = b->end_inf;
      tc->range_bytes += a->elen;
      /* b's end is a's now, counted there: range_delete below counts b
      ** without it. */
      tc->range_bytes -= b->elen;
      b->end = NULL;
      b->elen = 0;
      range_delete(tc, m);
      continue;
    }
    n = m;
  }
}

static int ts_cmp_qsort(const void *a, const void *b) {
  return kv_ts_cmp(*(const kv_ts *)a, *(const kv_ts *)b);
}

/* Evicts the older half of the intervals into the low-water mark. */
static void ranges_evict(kv_tscache *tc) {
  size_t n = kv_skl_count(tc->ranges), i = 0;
  if (n == 0) return;
  kv_ts *v = malloc((n ? n : 1) * sizeof(kv_ts));
  kv_ts cut;
  if (v) {
    for (kv_skl_node *x = kv_skl_first(tc->ranges); x; x = kv_skl_next(x))
      v[i++] = ((tc_range *)x->val)->ts;
    qsort(v, n, sizeof(kv_ts), ts_cmp_qsort);
    cut = v[n / 2];
    free(v);
  } else {
    cut = KV_TS_ZERO; /* no memory even for this: forget everything */
    for (kv_skl_node *x = kv_skl_first(tc->ranges); x; x = kv_skl_next(x))
      cut = kv_ts_max(cut, ((tc_range *)x->val)->ts);
  }
  kv_skl_node *x = kv_skl_first(tc->ranges);
  while (x) {
    kv_skl_node *next = kv_skl_next(x);
    tc_range *r = x->val;
    if (kv_ts_le(r->ts, cut)) {
      tc->range_low = kv_ts_max(tc->range_low, r->ts);
      range_delete(tc, x);
    }
    x = next;
  }
  atomic_store(&tc->range_low_set, true);
}

static bool tc_add_range_locked(kv_tscache *tc, const kv_span *sp, kv_ts ts,
                                uint64_t owner) {
  const char *s = sp->start, *e = sp->end;
  size_t sl = sp->slen, el = sp->elen;
  bool einf = sp->end_inf;
  if (!einf && kv_bytes_cmp(s, sl, e, el) >= 0) return true; /* empty */

  kv_skl_node *p = kv_skl_seek_le(tc->ranges, s, sl);
  if (p) {
    tc_range *r = p->val;
    if (kv_bytes_cmp(r->start, r->slen, s, sl) < 0 &&
        range_cmp_end(r, s, sl) > 0 && !range_split(tc, r, s, sl))
      return false;
  }
  /* Walk the intervals that start inside [s, e). */
  const char *cur = s;
  size_t curl = sl;
  bool cur_inf = false;
  kv_skl_node *n = kv_skl_seek_ge(tc->ranges, s, sl);
  while (n && !cur_inf) {
    tc_range *r = n->val;
    if (!einf && kv_bytes_cmp(r->start, r->slen, e, el) >= 0) break;
    if (kv_bytes_cmp(cur, curl, r->start, r->slen) < 0 &&
        !range_insert(tc, range_new(cur, curl, r->start, r->slen, false, ts,
                                    owner)))
      return false;
    if (!einf && range_cmp_end(r, e, el) > 0 && !range_split(tc, r, e, el))
      return false;
    tc_ratchet(&r->ts, &r->owner, ts, owner);
    cur = r->end;
    curl = r->elen;
    cur_inf = r->end_inf;
    n = kv_skl_next(n);
  }
  if (!cur_inf && (einf || kv_bytes_cmp(cur, curl, e, el) < 0) &&
      !range_insert(tc, range_new(cur, curl, e, el, einf, ts, owner)))
    return false;

  kv_skl_node *first = kv_skl_seek_le(tc->ranges, s, sl);
  if (first && kv_skl_prev(first)) first = kv_skl_prev(first);
  range_merge_from(tc, first ? first : kv_skl_first(tc->ranges), e, el, einf);
  return true;
}

static void tc_add_range(kv_tscache *tc, const kv_span *sp, kv_ts ts,
                         uint64_t owner) {
  pthread_rwlock_wrlock(&tc->rmu);
  if (!tc_add_range_locked(tc, sp, ts, owner)) {
    /* Out of memory part way: fall back to the pessimistic mark. */
    tc->range_low = kv_ts_max(tc->range_low, ts);
    atomic_store(&tc->range_low_set, true);
  }
  if (tc->range_bytes > tc->range_budget) ranges_evict(tc);
  atomic_store(&tc->nranges, (int)kv_skl_count(tc->ranges));
  pthread_rwlock_unlock(&tc->rmu);
}

void kv_tscache_add(kv_tscache *tc, const kv_span *sp, kv_ts ts,
                    uint64_t owner) {
  if (sp->is_range)
    tc_add_range(tc, sp, ts, owner);
  else
    tc_add_point(tc, sp->start, sp->slen, ts, owner);
}

kv_ts kv_tscache_max(kv_tscache *tc, const void *key, size_t klen,
                     uint64_t self, kv_ts from) {
  kv_ts best = tc->floor;
  uint64_t h = tc_hash(key, klen);
  tc_shard *sh = &tc->shards[tc_shard_of(h)];
  pthread_mutex_lock(&sh->mu);
  best = kv_ts_max(best, sh->low);
  for (int i = 0; i < 2; i++) {
    /* A miss in a large generation is a cache miss or two; a writer above
    ** everything the generation holds (a bulk load) skips it. */
    if (kv_ts_lt(sh->gen[i].maxts, from)) continue;
    tc_slot *s = gen_lookup(&sh->gen[i], h, key, klen);
    if (s && !owned_by(s->owner, self)) best = kv_ts_max(best, s->ts);
  }
  pthread_mutex_unlock(&sh->mu);

  if (atomic_load(&tc->nranges) == 0 && !atomic_load(&tc->range_low_set))
    return best;
  pthread_rwlock_rdlock(&tc->rmu);
  best = kv_ts_max(best, tc->range_low);
  kv_skl_node *n = kv_skl_seek_le(tc->ranges, key, klen);
  if (n) {
    tc_range *r = n->val;
    if (range_cmp_end(r, key, klen) > 0 && !owned_by(r->owner, self))
      best = kv_ts_max(best, r->ts);
  }
  pthread_rwlock_unlock(&tc->rmu);
  return best;
}

void kv_tscache_usage(kv_tscache *tc, uint64_t *entries, uint64_t *bytes) {
  /* Summed on demand: counters shared by all readers would make every read
  ** of every thread write one cache line. */
  uint64_t n = 0, b = 0;
  for (int i = 0; i < KV_TSC_SHARDS; i++) {
    tc_shard *sh = &tc->shards[i];
    pthread_mutex_lock(&sh->mu);
    for (int g = 0; g < 2; g++) {
      n += sh->gen[g].n;
      b += gen_bytes(&sh->gen[g]);
    }
    pthread_mutex_unlock(&sh->mu);
  }
  pthread_rwlock_rdlock(&tc->rmu);
  n += kv_skl_count(tc->ranges);
  b += tc->range_bytes;
  pthread_rwlock_unlock(&tc->rmu);
  *entries = n;
  *bytes = b;
}
