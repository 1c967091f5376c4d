/*
** skl.c — an ordered map of byte-string keys (a skiplist).
**
** Used for a transaction's write buffer (ordered so scans can merge it with
** the store, arena-allocated) and for the ranged part of the timestamp cache
** (malloc'd nodes, deleted as intervals split and merge).  Keys are borrowed
** from the caller.  Towers have height 1..KV_SKL_MAXH with p = 1/4, so a
** search visits O(log n) nodes; level 0 is doubly linked for reverse scans.
** Not thread safe: callers hold their own lock.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

#define KV_SKL_MAXH 16

struct kv_skl {
  kv_arena *arena;
  size_t count;
  int height;
  uint64_t rnd;
  kv_skl_node *tail;                 /* last node, or NULL */
  kv_skl_node *head[KV_SKL_MAXH];    /* first node at each level */
  kv_skl_node *last[KV_SKL_MAXH];    /* last node at each level */
};

kv_skl *kv_skl_new(kv_arena *arena) {
  kv_skl *s = calloc(1, sizeof(*s));
  if (!s) return NULL;
  s->arena = arena;
  s->height = 1;
  s->rnd = 0x2545f4914f6cdd1dULL ^ (uint64_t)(uintptr_t)s;
  return s;
}

void kv_skl_free(kv_skl *s) {
  if (!s) return;
  if (!s->arena) {
    kv_skl_node *n = s->head[0];
    while (n) {
      kv_skl_node *next = n->next[0];
      free(n);
      n = next;
    }
  }
  free(s);
}

size_t kv_skl_count(const kv_skl *s) { return s->count; }
kv_skl_node *kv_skl_first(const kv_skl *s) { return s->head[0]; }
kv_skl_node *kv_skl_last(const kv_skl *s) { return s->tail; }

static int skl_random_height(kv_skl *s) {
  uint64_t x = s->rnd;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  s->rnd = x;
  int h = 1;
  while (h < KV_SKL_MAXH && (x & 3) == 0) {
    h++;
    x >>= 2;
  }
  return h;
}

/* Fills prev[l] with the last node at level l whose key is < key (NULL: the
** head), and returns the first node >= key.  A key past the tail (keys
** written in ascending order, as bulk loads do) costs one comparison. */
static kv_skl_node *skl_search(const kv_skl *s, const void *key, size_t klen,
                               kv_skl_node **prev) {
  if (s->tail && kv_bytes_cmp(s->tail->key, s->tail->klen, key, klen) < 0) {
    if (prev) memcpy(prev, s->last, sizeof(s->last));
    return NULL;
  }
  kv_skl_node *x = NULL; /* NULL stands for the head */
  for (int l = KV_SKL_MAXH - 1; l >= 0; l--) {
    kv_skl_node *next = x ? x->next[l] : s->head[l];
    while (next && kv_bytes_cmp(next->key, next->klen, key, klen) < 0) {
      x = next;
      next = x->next[l];
    }
    if (prev) prev[l] = x;
  }
  return x ? x->next[0] : s->head[0];
}

kv_skl_node *kv_skl_seek_ge(const kv_skl *s, const void *key, size_t klen) {
  return skl_search(s, key, klen, NULL);
}

kv_skl_node *kv_skl_find(const kv_skl *s, const void *key, size_t klen) {
  kv_skl_node *n = skl_search(s, key, klen, NULL);
  if (n && kv_bytes_cmp(n->key, n->klen, key, klen) == 0) return n;
  return NULL;
}

kv_skl_node *kv_skl_seek_le(const kv_skl *s, const void *key, size_t klen) {
  kv_skl_node *n = skl_search(s, key, klen, NULL);
  if (n && kv_bytes_cmp(n->key, n->klen, key, klen) == 0) return n;
  return n ? n->prev : s->tail;
}

kv_skl_node *kv_skl_insert(kv_skl *s, const void *key, size_t klen,
                           void *val) {
  kv_skl_node *prev[KV_SKL_MAXH];
  kv_skl_node *succ = skl_search(s, key, klen, prev);
  int h = skl_random_height(s);
  size_t sz = sizeof(kv_skl_node) + (size_t)h * sizeof(kv_skl_node *);
  kv_skl_node *n = s->arena ? kv_arena_alloc(s->arena, sz) : malloc(sz);
  if (!n) return NULL;
  n->key = key;
  n->klen = klen;
  n->val = val;
  n->height = h;
  for (int l = 0; l < h; l++) {
    if (prev[l]) {
      n->next[l] = prev[l]->next[l];
      prev[l]->next[l] = n;
    } else {
      n->next[l] = s->head[l];
      s->head[l] = n;
    }
    if (!n->next[l]) s->last[l] = n;
  }
  n->prev = prev[0];
  if (succ)
    succ->prev = n;
  else
    s->tail = n;
  if (h > s->height) s->height = h;
  s->count++;
  return n;
}

void kv_skl_delete(kv_skl *s, kv_skl_node *n) {
  kv_skl_node *prev[KV_SKL_MAXH];
  skl_search(s, n->key, n->klen, prev);
  for (int l = 0; l < n->height; l++) {
    if (prev[l])
      prev[l]->next[l] = n->next[l];
    else
      s->head[l] = n->next[l];
    if (s->last[l] == n) s->last[l] = prev[l];
  }
  if (n->next[0])
    n->next[0]->prev = n->prev;
  else
    s->tail = n->prev;
  s->count--;
  if (!s->arena) free(n);
}
