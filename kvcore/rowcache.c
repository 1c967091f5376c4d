/*
** rowcache.c — the newest committed value of recently read keys, so that a
** point read that finds its key here needs no RocksDB seek.
**
** A point read through RocksDB is an iterator seek: the memtables and every
** table file whose bloom filter admits the key, a binary search of an index
** block and of a data block each, with a cache miss at nearly every probe
** once the data outgrows the CPU caches (bench/PROFILE.md).  A lookup by a
** secondary index pays it twice (the entry, then the row).  RocksDB's own
** row cache serves Get() only, and a versioned key cannot be read by Get().
**
** WHAT AN ENTRY SAYS
**   (K, ts, value): the newest committed version of K in the store is a
**   value written at ts.  Deletions are not kept.  A read of K at R with
**   ts <= R may answer from it; any other read goes to the engine.
**
** INVARIANTS
**   E1. Entries change only at commits.  A commit that writes K updates or
**       removes K's entry (kv_rowcache_commit) after its write is in the
**       engine and before it releases its latches and locks (commit.c, C5),
**       and bumps the generation of K's shard in the same critical section.
**       It never adds an entry that is not there.
**   E2. Whatever changes the engine without naming its keys (an ingested
**       commit file, a range delete, a write that failed part-way) bumps the
**       epoch after the change: every entry of an older epoch is gone.
**   E3. A new entry comes only from a reader that found (ts, value) to be
**       K's newest version, through an engine iterator made fresh after it
**       took a ticket (K's shard generation and the epoch), and goes in only
**       if the ticket is still current and K has no entry.
**   New versions of K are always written above K's existing ones (every
**   commit puts its keys in the timestamp cache, W2), so "newest" is "last
**   written", and E1-E3 keep every entry true: a commit C of K either bumped
**   the generation before the ticket was taken, and then C's write was in
**   the engine before the reader's iterator was made (the engine counts a
**   write done before C's bump: engine.c write_seq), so the reader saw C's
**   version; or C bumps it after, and then the insert comes either first
**   (C removes or updates the entry) or after (the ticket is stale).
**
** WHY A READ MAY ANSWER FROM AN ENTRY
**   A read at R is in the timestamp cache (R2) and has waited out the write
**   latches over K at <= R (R3) before it looks: every commit of K at <= R
**   has finished C5, so has done E1, and any later commit of K is above R.
**   So the entry holds everything at or below R that the engine would show.
**   A locking read holds K's lock: nobody else can commit K meanwhile.
**
** LAYOUT
**   KV_RC_SHARDS shards by key hash, each with its own mutex (a leaf: nothing
**   is taken under it), a chained hash table and a list in insertion order;
**   each shard keeps within its share of the budget by CLOCK eviction from
**   the list's tail: an entry read since it was last passed gets a second
**   chance (back to the head, its mark cleared).  A hit only sets the mark:
**   moving entries to the front of an LRU list on every hit touched three
**   other entries' cache lines, and cost more than the lookup itself.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

#define KV_RC_SHARDS 128
#define RC_OVERHEAD 16 /* malloc's own bytes per block, about */

typedef struct rc_entry {
  struct rc_entry *hnext;       /* hash chain */
  struct rc_entry *prev, *next; /* the CLOCK list: newest first */
  uint64_t hash;
  kv_ts ts;
  bool ref;                     /* read since the hand last passed it */
  size_t klen, vlen;
  char data[];                  /* key, then value */
} rc_entry;

typedef struct rc_shard {
  pthread_mutex_t mu;
  rc_entry **buckets;
  size_t nbuckets;              /* a power of two, or 0 before the first */
  size_t n, bytes, budget;
  rc_entry *head, *tail;
  uint64_t gen;                 /* bumped by every commit of a key here */
  uint64_t epoch;               /* the epoch the entries belong to */
  /* Counted under mu, which a lookup holds anyway: one counter for the
  ** whole cache would be a cache line every reading thread writes. */
  uint64_t hits, misses;
  char pad[64];
} rc_shard;

struct kv_rowcache {
  _Atomic uint64_t epoch;
  rc_shard shard[KV_RC_SHARDS];
};

static size_t rc_charge(size_t klen, size_t vlen) {
  return sizeof(rc_entry) + klen + vlen + RC_OVERHEAD;
}

static rc_shard *rc_shard_of(kv_rowcache *rc, uint64_t h) {
  return &rc->shard[(h >> 32) % KV_RC_SHARDS];
}

static rc_entry **rc_slot(rc_shard *sh, uint64_t h, const void *key,
                          size_t klen) {
  if (!sh->nbuckets) return NULL;
  rc_entry **pp = &sh->buckets[h & (sh->nbuckets - 1)];
  for (; *pp; pp = &(*pp)->hnext)
    if ((*pp)->hash == h && (*pp)->klen == klen &&
        memcmp((*pp)->data, key, klen) == 0)
      return pp;
  return pp;
}

static void lru_unlink(rc_shard *sh, rc_entry *e) {
  if (e->prev) e->prev->next = e->next;
  else sh->head = e->next;
  if (e->next) e->next->prev = e->prev;
  else sh->tail = e->prev;
}

static void lru_push(rc_shard *sh, rc_entry *e) {
  e->prev = NULL;
  e->next = sh->head;
  if (sh->head) sh->head->prev = e;
  else sh->tail = e;
  sh->head = e;
}

/* Removes the entry *pp points at from the chain and the LRU, and frees it. */
static void rc_remove(rc_shard *sh, rc_entry **pp) {
  rc_entry *e = *pp;
  *pp = e->hnext;
  lru_unlink(sh, e);
  sh->n--;
  sh->bytes -= rc_charge(e->klen, e->vlen);
  free(e);
}

static void rc_empty(rc_shard *sh) {
  for (rc_entry *e = sh->head, *next; e; e = next) {
    next = e->next;
    free(e);
  }
  if (sh->nbuckets) memset(sh->buckets, 0, sh->nbuckets * sizeof(rc_entry *));
  sh->head = sh->tail = NULL;
  sh->n = sh->bytes = 0;
}

/* Under sh->mu: entries of an older epoch go (E2). */
static void rc_sync_epoch(kv_rowcache *rc, rc_shard *sh) {
  uint64_t ep = atomic_load(&rc->epoch);
  if (sh->epoch != ep) {
    rc_empty(sh);
    sh->epoch = ep;
  }
}

static void rc_evict_to(rc_shard *sh, size_t budget) {
  while (sh->bytes > budget && sh->tail) {
    rc_entry *e = sh->tail;
    if (e->ref) { /* a second chance: each mark is cleared once */
      e->ref = false;
      lru_unlink(sh, e);
      lru_push(sh, e);
      continue;
    }
    rc_remove(sh, rc_slot(sh, e->hash, e->data, e->klen));
  }
}

/* Doubles the buckets when the chains average more than one entry; false
** when out of memory (the table then stays as it is, still correct). */
static bool rc_grow(rc_shard *sh) {
  if (sh->n < sh->nbuckets) return true;
  size_t nb = sh->nbuckets ? sh->nbuckets * 2 : 64;
  rc_entry **b = calloc(nb, sizeof(rc_entry *));
  if (!b) return sh->nbuckets > 0;
  for (rc_entry *e = sh->head; e; e = e->next) {
    rc_entry **pp = &b[e->hash & (nb - 1)];
    e->hnext = *pp;
    *pp = e;
  }
  free(sh->buckets);
  sh->buckets = b;
  sh->nbuckets = nb;
  return true;
}

kv_rowcache *kv_rowcache_new(size_t budget) {
  if (budget == 0) return NULL;
  kv_rowcache *rc = calloc(1, sizeof(*rc));
  if (!rc) return NULL;
  for (int i = 0; i < KV_RC_SHARDS; i++) {
    pthread_mutex_init(&rc->shard[i].mu, NULL);
    rc->shard[i].budget = budget / KV_RC_SHARDS;
  }
  return rc;
}

void kv_rowcache_free(kv_rowcache *rc) {
  if (!rc) return;
  for (int i = 0; i < KV_RC_SHARDS; i++) {
    rc_empty(&rc->shard[i]);
    free(rc->shard[i].buckets);
    pthread_mutex_destroy(&rc->shard[i].mu);
  }
  free(rc);
}

int kv_rowcache_get(kv_rowcache *rc, const void *key, size_t klen, kv_ts at,
                    kv_buf *out, kv_ts *ts, kv_rc_ticket *ticket) {
  uint64_t h = kv_hash(key, klen);
  rc_shard *sh = rc_shard_of(rc, h);
  int found = 0;
  pthread_mutex_lock(&sh->mu);
  rc_sync_epoch(rc, sh);
  rc_entry **pp = rc_slot(sh, h, key, klen);
  rc_entry *e = pp ? *pp : NULL;
  ticket->hash = h;
  ticket->gen = sh->gen;
  ticket->epoch = sh->epoch;
  ticket->wanted = e == NULL;
  if (e && kv_ts_le(e->ts, at)) {
    if (kv_buf_set(out, e->data + e->klen, e->vlen)) {
      *ts = e->ts;
      found = 1;
      e->ref = true;
    } else {
      found = -1;
    }
  }
  if (found > 0) sh->hits++;
  else sh->misses++;
  pthread_mutex_unlock(&sh->mu);
  return found;
}

void kv_rowcache_put(kv_rowcache *rc, const kv_rc_ticket *ticket,
                     const void *key, size_t klen, kv_ts ts, const void *val,
                     size_t vlen) {
  if (!ticket->wanted) return;
  rc_shard *sh = rc_shard_of(rc, ticket->hash);
  size_t charge = rc_charge(klen, vlen);
  if (charge > sh->budget / 4) return; /* one big row would flush the shard */
  rc_entry *e = malloc(sizeof(rc_entry) + klen + vlen);
  if (!e) return;
  e->hash = ticket->hash;
  e->ref = false;
  e->ts = ts;
  e->klen = klen;
  e->vlen = vlen;
  memcpy(e->data, key, klen);
  if (vlen) memcpy(e->data + klen, val, vlen);
  pthread_mutex_lock(&sh->mu);
  rc_sync_epoch(rc, sh);
  rc_entry **pp = NULL;
  if (sh->gen == ticket->gen && sh->epoch == ticket->epoch && rc_grow(sh))
    pp = rc_slot(sh, e->hash, key, klen);
  if (pp && !*pp) { /* E3: still current, and nobody put it first */
    e->hnext = NULL;
    *pp = e;
    lru_push(sh, e);
    sh->n++;
    sh->bytes += charge;
    rc_evict_to(sh, sh->budget);
    e = NULL;
  }
  pthread_mutex_unlock(&sh->mu);
  free(e);
}

void kv_rowcache_commit(kv_rowcache *rc, const void *key, size_t klen,
                        kv_ts ts, const void *val, size_t vlen) {
  uint64_t h = kv_hash(key, klen);
  rc_shard *sh = rc_shard_of(rc, h);
  pthread_mutex_lock(&sh->mu);
  rc_sync_epoch(rc, sh);
  sh->gen++;
  rc_entry **pp = rc_slot(sh, h, key, klen);
  rc_entry *e = pp ? *pp : NULL;
  if (e) {
    rc_entry *ne = !val ? NULL
                   : vlen == e->vlen ? e
                                     : malloc(sizeof(rc_entry) + klen + vlen);
    if (ne == e) { /* the same size: in place */
      e->ts = ts;
      if (vlen) memcpy(e->data + klen, val, vlen);
    } else if (ne) { /* a new size: a new entry in the old one's places */
      *ne = *e;
      ne->ts = ts;
      ne->vlen = vlen;
      memcpy(ne->data, key, klen);
      if (vlen) memcpy(ne->data + klen, val, vlen);
      *pp = ne;
      if (ne->prev) ne->prev->next = ne;
      else sh->head = ne;
      if (ne->next) ne->next->prev = ne;
      else sh->tail = ne;
      sh->bytes += rc_charge(klen, vlen) - rc_charge(klen, e->vlen);
      free(e);
      rc_evict_to(sh, sh->budget);
    } else {
      rc_remove(sh, pp); /* a deletion (or out of memory) */
    }
  }
  pthread_mutex_unlock(&sh->mu);
}

void kv_rowcache_clear(kv_rowcache *rc) {
  if (rc) atomic_fetch_add(&rc->epoch, 1);
}

void kv_rowcache_usage(kv_rowcache *rc, uint64_t *entries, uint64_t *bytes,
                       uint64_t *hits, uint64_t *misses) {
  *entries = *bytes = *hits = *misses = 0;
  if (!rc) return;
  for (int i = 0; i < KV_RC_SHARDS; i++) {
    rc_shard *sh = &rc->shard[i];
    pthread_mutex_lock(&sh->mu);
    rc_sync_epoch(rc, sh);
    *entries += sh->n;
    *bytes += sh->bytes;
    *hits += sh->hits;
    *misses += sh->misses;
    pthread_mutex_unlock(&sh->mu);
  }
}
