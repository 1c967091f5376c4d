/*
** spanset.c — the read spans of a transaction, kept for read refresh.
**
** Every key a transaction read from the store (a point) and every range it
** scanned is recorded here; a refresh from timestamp A to B asks whether any
** of them got a version in (A, B].  Missing a span would let a stale read
** commit, so the set may only ever grow or widen, never lose coverage.
**
** Memory is bounded (CockroachDB's max_refresh_spans_bytes): when the key
** bytes pass the budget, condense() sorts the spans, merges those that
** overlap or touch, and, while still over budget, merges neighbours pairwise
** into covering ranges.  Wider spans are less precise (a refresh fails more
** often) but still cover every read.  Unlike CockroachDB the set never gives
** up: in the limit it is one range from the first key read to the last.
** Keys live in the set's arena, rebuilt by each condense; `gen` changes then,
** so a caller holding an index knows it is stale.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

void kv_spanset_init(kv_spanset *s, size_t budget) {
  memset(s, 0, sizeof(*s));
  kv_arena_init(&s->arena);
  s->budget = budget ? budget : (1u << 20);
}

void kv_spanset_free(kv_spanset *s) {
  free(s->v);
  kv_arena_free(&s->arena);
  memset(s, 0, sizeof(*s));
}

void kv_spanset_clear(kv_spanset *s) {
  size_t budget = s->budget;
  uint32_t gen = s->gen;
  kv_spanset_free(s);
  kv_spanset_init(s, budget);
  s->gen = gen + 1;
}

static size_t span_bytes(const kv_span *sp) {
  return sp->slen + (sp->is_range && !sp->end_inf ? sp->elen : 0);
}

long kv_spanset_add(kv_spanset *s, const kv_span *sp) {
  if (s->n == s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 16;
    kv_span *nv = realloc(s->v, ncap * sizeof(kv_span));
    if (!nv) return -1;
    s->v = nv;
    s->cap = ncap;
  }
  kv_span c = *sp;
  c.start = kv_arena_dup(&s->arena, sp->start, sp->slen ? sp->slen : 1);
  if (!c.start) return -1;
  if (sp->is_range && !sp->end_inf) {
    c.end = kv_arena_dup(&s->arena, sp->end, sp->elen ? sp->elen : 1);
    if (!c.end) return -1;
  } else {
    c.end = NULL;
    c.elen = 0;
  }
  s->v[s->n] = c;
  s->bytes += span_bytes(&c);
  return (long)s->n++;
}

/* Half-open form used while condensing: points become [k, k‖0x00). */
typedef struct hspan {
  const char *s, *e;
  size_t sl, el;
  bool inf, point;
} hspan;

static int hspan_cmp(const void *pa, const void *pb) {
  const hspan *a = pa, *b = pb;
  int c = kv_bytes_cmp(a->s, a->sl, b->s, b->sl);
  if (c) return c;
  if (a->inf != b->inf) return a->inf ? 1 : -1;
  return a->inf ? 0 : kv_bytes_cmp(a->e, a->el, b->e, b->el);
}

/* Is end a < end b? */
static bool hend_lt(const hspan *a, const hspan *b) {
  if (a->inf) return false;
  if (b->inf) return true;
  return kv_bytes_cmp(a->e, a->el, b->e, b->el) < 0;
}

/* Widens a to cover b (b starts at or after a). */
static void hspan_absorb(hspan *a, const hspan *b) {
  bool same_point = a->point && b->point &&
                    kv_bytes_cmp(a->s, a->sl, b->s, b->sl) == 0;
  if (hend_lt(a, b)) {
    a->e = b->e;
    a->el = b->el;
    a->inf = b->inf;
  }
  a->point = same_point;
}

static size_t hspan_bytes(const hspan *h) {
  return h->sl + (h->point || h->inf ? 0 : h->el);
}

bool kv_spanset_condense(kv_spanset *s) {
  if (s->n == 0) return true;
  kv_arena tmp;
  kv_arena_init(&tmp);
  hspan *h = malloc(s->n * sizeof(hspan));
  if (!h) return false;
  for (size_t i = 0; i < s->n; i++) {
    kv_span *sp = &s->v[i];
    h[i] = (hspan){sp->start, sp->end, sp->slen, sp->elen,
                   sp->is_range && sp->end_inf, !sp->is_range};
    if (!sp->is_range) {
      char *e = kv_arena_alloc(&tmp, sp->slen + 1);
      if (!e) goto oom;
      memcpy(e, sp->start, sp->slen);
      e[sp->slen] = 0;
      h[i].e = e;
      h[i].el = sp->slen + 1;
    }
  }
  qsort(h, s->n, sizeof(hspan), hspan_cmp);
  size_t n = 0, bytes = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (n > 0) {
      hspan *cur = &h[n - 1];
      /* Overlapping or touching: x.start <= cur.end */
      if (cur->inf || kv_bytes_cmp(h[i].s, h[i].sl, cur->e, cur->el) <= 0) {
        hspan_absorb(cur, &h[i]);
        continue;
      }
    }
    h[n++] = h[i];
  }
  for (size_t i = 0; i < n; i++) bytes += hspan_bytes(&h[i]);
  while (bytes > s->budget && n > 1) {
    size_t m = 0;
    bytes = 0;
    for (size_t i = 0; i < n; i += 2) {
      h[m] = h[i];
      if (i + 1 < n) {
        h[m].point = false;
        hspan_absorb(&h[m], &h[i + 1]);
        h[m].point = false;
      }
      bytes += hspan_bytes(&h[m]);
      m++;
    }
    n = m;
  }

  /* Rebuild in a fresh arena. */
  kv_arena na;
  kv_arena_init(&na);
  kv_span *nv = malloc((n ? n : 1) * sizeof(kv_span));
  if (!nv) goto oom;
  size_t nbytes = 0;
  for (size_t i = 0; i < n; i++) {
    kv_span sp = {0};
    sp.slen = h[i].sl;
    sp.start = kv_arena_dup(&na, h[i].s, h[i].sl ? h[i].sl : 1);
    sp.is_range = !h[i].point;
    sp.end_inf = h[i].inf;
    if (sp.is_range && !sp.end_inf) {
      sp.elen = h[i].el;
      sp.end = kv_arena_dup(&na, h[i].e, h[i].el ? h[i].el : 1);
    }
    if (!sp.start || (sp.is_range && !sp.end_inf && !sp.end)) {
      free(nv);
      kv_arena_free(&na);
      goto oom;
    }
    nv[i] = sp;
    nbytes += span_bytes(&sp);
  }
  free(h);
  kv_arena_free(&tmp);
  free(s->v);
  kv_arena_free(&s->arena);
  s->v = nv;
  s->n = n;
  s->cap = n ? n : 1;
  s->arena = na;
  s->bytes = nbytes;
  s->gen++;
  return true;

oom:
  free(h);
  kv_arena_free(&tmp);
  return false;
}

bool kv_spanset_contains(const kv_spanset *s, const void *key, size_t klen) {
  for (size_t i = 0; i < s->n; i++) {
    const kv_span *sp = &s->v[i];
    int c = kv_bytes_cmp(key, klen, sp->start, sp->slen);
    if (!sp->is_range) {
      if (c == 0) return true;
    } else if (c >= 0 && (sp->end_inf ||
                          kv_bytes_cmp(key, klen, sp->end, sp->elen) < 0)) {
      return true;
    }
  }
  return false;
}
