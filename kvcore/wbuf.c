/*
** wbuf.c — a transaction's write buffer: its uncommitted writes and the
** keys it has locked, in key order.
**
** Writes stay in memory until commit, when they become one RocksDB batch, or
** one ingested SST file for a large commit, at the commit timestamp
** (commit.c); one process owns every transaction, so a crash leaves nothing
** half-done on disk.  Each key has one entry holding a chain of versions,
** newest first; the oldest is always a KV_W_LOCK at seq 0 (the lock taken
** before the first write; one constant shared by every entry), so a key
** once locked stays locked whatever is rolled back — CockroachDB keeps
** locks across ROLLBACK TO SAVEPOINT too.
**
** Sequence numbers: every write gets the next seq.  A reader at seq S sees,
** per key, the newest version with seq <= S (kv_wbuf_visible); an iterator
** opened at S therefore does not see writes made while it is open (no
** Halloween problem).  A savepoint is a seq mark; rolling back to it pops
** every version with a larger seq, found through the log (entries in the
** order their versions were pushed).
**
** Everything lives in the buffer's arena: keys, values, versions, skiplist
** nodes.  Rolled-back versions are not reclaimed until the transaction ends.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

bool kv_wbuf_init(kv_wbuf *w) {
  memset(w, 0, sizeof(*w));
  kv_arena_init(&w->arena);
  w->skl = kv_skl_new(&w->arena);
  return w->skl != NULL;
}

void kv_wbuf_free(kv_wbuf *w) {
  kv_skl_free(w->skl);
  kv_arena_free(&w->arena);
  free(w->log);
  free(w->logseq);
  memset(w, 0, sizeof(*w));
}

/* The entry last found or added answers first: a statement reads a key
** and then writes it (INSERT checks that the key is free, UPDATE locks the
** row before it replaces it), so the second lookup is nearly always it. */
kv_wentry *kv_wbuf_find(kv_wbuf *w, const void *key, size_t klen) {
  kv_wentry *h = w->hot;
  if (h && h->klen == klen && (klen == 0 || memcmp(h->key, key, klen) == 0))
    return h;
  kv_skl_node *n = kv_skl_find(w->skl, key, klen);
  if (n) w->hot = n->val;
  return n ? n->val : NULL;
}

/* The bottom of every entry's chain: versions are never written once
** pushed, so all entries share this one (32 bytes a key less, which is 6 MiB
** in a 200k-row transaction). */
static const kv_wver wbuf_locked = {0, KV_W_LOCK, NULL, 0, NULL};

kv_wentry *kv_wbuf_add(kv_wbuf *w, const void *key, size_t klen) {
  kv_wentry *e = kv_arena_alloc(&w->arena, sizeof(kv_wentry));
  char *k = kv_arena_dup(&w->arena, key, klen ? klen : 1);
  if (!e || !k) return NULL;
  *e = (kv_wentry){k, klen, &wbuf_locked};
  if (!kv_skl_insert(w->skl, k, klen, e)) return NULL;
  w->hot = e;
  w->nentries++;
  return e;
}

bool kv_wbuf_write(kv_wbuf *w, kv_wentry *e, int kind, const void *val,
                   size_t vlen) {
  if (w->nlog == w->caplog) {
    size_t ncap = w->caplog ? w->caplog * 2 : 16;
    kv_wentry **nl = realloc(w->log, ncap * sizeof(*nl));
    if (!nl) return false;
    w->log = nl;
    uint32_t *ns = realloc(w->logseq, ncap * sizeof(*ns));
    if (!ns) return false;
    w->logseq = ns;
    w->caplog = ncap;
  }
  kv_wver *v = kv_arena_alloc(&w->arena, sizeof(kv_wver));
  if (!v) return false;
  const char *vc = NULL;
  if (kind == KV_W_PUT) {
    vc = kv_arena_dup(&w->arena, val, vlen ? vlen : 1);
    if (!vc) return false;
  }
  if (e->head->kind == KV_W_LOCK) w->nwrites++;
  *v = (kv_wver){++w->seq, (uint8_t)kind, vc, vlen, e->head};
  e->head = v;
  w->log[w->nlog] = e;
  w->logseq[w->nlog] = v->seq;
  w->nlog++;
  return true;
}

void kv_wbuf_rollback(kv_wbuf *w, uint32_t mark) {
  while (w->nlog > 0 && w->logseq[w->nlog - 1] > mark) {
    kv_wentry *e = w->log[--w->nlog];
    e->head = e->head->older;
    if (e->head->kind == KV_W_LOCK) w->nwrites--;
  }
}
