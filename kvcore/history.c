/*
** history.c — the history iterator: every retained version of a key range
** that committed at or below one read timestamp, outside any transaction
** (kv_store_history, kv_history_*).
**
** A history reads as a read-only transaction does (txn.c, LIFE OF A READ):
** opening it takes a fresh timestamp R from the store's clock, records the
** whole range in the timestamp cache at R (owner 0: no transaction), waits
** out the write latches over the range at or below R, and only then opens
** its RocksDB iterator.  So, by the latch-window argument of txn.c, the
** iterator holds every version at or below R that the range will ever
** have: a commit that was deciding its timestamp or writing while the
** history opened either lands above R (it found R in the timestamp cache)
** or was waited for; a later commit lands above R too.  The history returns
** versions at or below R only (kv_history_read_ts).  That is what makes
** "every change with ts > last", polled again and again with last the
** newest ts the previous poll returned, see each commit exactly once: no
** commit can appear later at a timestamp a poll has already passed.
**
** It walks the data column family in engine order — user key ascending,
** then each key's versions newest first — with one total-order RocksDB
** iterator over the store as it was when the history was opened (later
** commits and GC passes do not show).  A deletion is a version with an
** empty stored value and comes back with a NULL value.  It takes no lock
** and returns committed versions only; the timestamp cache entry at R
** pushes writers of the range above R, as any read at R does.
** kv_history_skip_key() moves past the older versions of the current key
** (a caller that wants only recent changes reads each key's newest
** versions and skips the rest).
** Versions that GC has collected are not there: the history goes back as
** far as the GC threshold and the retention window (gc.c) have kept it.
** A key or value that does not have the layout of keyenc.c is KV_CORRUPT.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

/* Steps taken with next() before a skip seeks past a key: most keys have
** one or two versions, and a step is cheaper than a seek. */
#define HISTORY_SKIP_STEPS 4

struct kv_history {
  kv_engine *eng;        /* the iterators' (kv_engine_iter_done) */
  rocksdb_iterator_t *it;
  /* kv_store_history_from: keys with a version at or above `from`, found
  ** with a time-bound iterator (tsbound.cc); cand is the current one. */
  rocksdb_iterator_t *tb;
  kv_ts from;
  kv_buf cand;
  bool cand_valid, hold;  /* hold: the iterator was moved, do not step */
  kv_buf end;   /* enc(end key) */
  kv_buf key;   /* the current version's key, decoded */
  kv_buf ukey;  /* the current version's encoded user key (skips) */
  bool end_inf, started, skip;
  const char *k, *v;
  size_t kl, vl;
  kv_ts ts;
  kv_ts at;     /* R: the read timestamp */
};

/* Publishes the read of [start, end) at R and waits out in-flight commits
** over it (txn.c, R2-R3), as kv_txn_prepare_read does for a transaction. */
static void history_prepare(kv_store *s, const void *start, size_t slen,
                            const void *end, size_t elen, kv_ts at) {
  kv_span sp = {.is_range = 1,
                .start = start ? start : "",
                .slen = slen,
                .end = end,
                .elen = elen,
                .end_inf = end == NULL};
  kv_tscache_add(s->tscache, &sp, at, 0);
  kv_latch_wait_read(&s->latches, &sp, at);
}

int kv_store_history(kv_store *s, const void *start, size_t slen,
                     const void *end, size_t elen, kv_history **out,
                     char **errptr) {
  *out = NULL;
  if ((!start && slen) || (!end && elen))
    return kv_err(errptr, KV_INVALID, "NULL history bound");
  kv_history *h = calloc(1, sizeof(*h));
  kv_buf seek;
  kv_buf_init(&seek);
  if (!h || !kv_buf_set_ukey(&seek, start ? start : "", slen) ||
      (end && !kv_buf_set_ukey(&h->end, end, elen))) {
    if (h) kv_buf_free(&h->end);
    free(h);
    kv_buf_free(&seek);
    return kv_err(errptr, KV_NOMEM, "out of memory");
  }
  int rc = kv_clock_now(&s->clock, &h->at, errptr);
  if (rc) {
    kv_buf_free(&h->end);
    free(h);
    kv_buf_free(&seek);
    return rc;
  }
  history_prepare(s, start, slen, end, elen, h->at);
  h->end_inf = end == NULL;
  h->eng = &s->eng;
  h->it = kv_engine_iter(&s->eng);
  if (!h->it) {
    kv_buf_free(&seek);
    kv_history_close(h);
    return kv_err(errptr, KV_NOMEM, "out of memory");
  }
  rocksdb_iter_seek(h->it, seek.p, seek.n);
  kv_buf_free(&seek);
  *out = h;
  return KV_OK;
}

int kv_store_history_from(kv_store *s, const void *start, size_t slen,
                          const void *end, size_t elen, kv_ts from,
                          kv_history **out, char **errptr) {
  int rc = kv_store_history(s, start, slen, end, elen, out, errptr);
  if (rc) return rc;
  /* Made after the latch wait, like the main iterator: it sees as much. */
  (*out)->tb = kv_engine_iter_from(&s->eng, from);
  (*out)->from = from;
  if ((*out)->tb) return KV_OK;
  kv_history_close(*out);
  *out = NULL;
  return kv_err(errptr, KV_NOMEM, "out of memory");
}

/* An iterator that is no longer valid: at its end (KV_NOTFOUND), or
** stopped by a read error. */
static int iter_end(rocksdb_iterator_t *it, char **errptr) {
  char *rerr = NULL;
  rocksdb_iter_get_error(it, &rerr);
  if (!rerr) return KV_NOTFOUND;
  int rc = kv_err(errptr, kv_engine_code(rerr), "read failed: %s", rerr);
  free(rerr);
  return rc;
}

/* The first key at or after the encoded user key u with a version at or
** above h->from, into h->cand; KV_NOTFOUND when none is left in range.  The
** time-bound iterator shows every such version (and some older ones). */
static int history_candidate(kv_history *h, const char *u, size_t ulen,
                             char **errptr) {
  if (!kv_buf_set(&h->cand, u, ulen))
    return kv_err(errptr, KV_NOMEM, "out of memory");
  h->cand_valid = false;
  /* The two iterators move forward together: the time-bound one is
  ** usually at u already, or a step or two before it. */
  int steps = 0;
  while (rocksdb_iter_valid(h->tb) && steps < HISTORY_SKIP_STEPS) {
    size_t eklen;
    const char *ek = rocksdb_iter_key(h->tb, &eklen);
    if (kv_bytes_cmp(ek, eklen, u, ulen) >= 0) break;
    rocksdb_iter_next(h->tb);
    steps++;
  }
  /* (Not valid also before its first seek.) */
  if (!rocksdb_iter_valid(h->tb) || steps == HISTORY_SKIP_STEPS)
    rocksdb_iter_seek(h->tb, h->cand.p, h->cand.n);
  for (; rocksdb_iter_valid(h->tb); rocksdb_iter_next(h->tb)) {
    size_t eklen, tl;
    kv_ts ts;
    const char *ek = rocksdb_iter_key(h->tb, &eklen);
    if (!kv_vkey_split(ek, eklen, &tl, &ts))
      return kv_mvcc_key_corrupt(ek, eklen, errptr);
    if (!h->end_inf && kv_bytes_cmp(ek, eklen, h->end.p, h->end.n) >= 0)
      return KV_NOTFOUND;
    if (kv_ts_le(h->from, ts)) {
      if (!kv_buf_set(&h->cand, ek, tl))
        return kv_err(errptr, KV_NOMEM, "out of memory");
      h->cand_valid = true;
      return KV_OK;
    }
  }
  return iter_end(h->tb, errptr);
}

/* Moves the iterator past every version of the current key. */
static bool history_skip(kv_history *h) {
  for (int i = 0; i < HISTORY_SKIP_STEPS; i++) {
    rocksdb_iter_next(h->it);
    if (!rocksdb_iter_valid(h->it)) return true;
    size_t eklen, ulen;
    kv_ts ts;
    const char *ek = rocksdb_iter_key(h->it, &eklen);
    if (!kv_vkey_split(ek, eklen, &ulen, &ts)) return true; /* reported next */
    if (ulen != h->ukey.n || memcmp(ek, h->ukey.p, ulen) != 0) return true;
  }
  kv_ukey_past(h->ukey.p, h->ukey.n);
  rocksdb_iter_seek(h->it, h->ukey.p, h->ukey.n);
  return true;
}

int kv_history_next(kv_history *h, char **errptr) {
  for (;;) {
    if (h->hold) {
      h->hold = false;
    } else if (h->skip) {
      h->skip = false;
      history_skip(h);
    } else if (h->started) {
      rocksdb_iter_next(h->it);
    }
    h->started = true;
    if (!rocksdb_iter_valid(h->it)) return iter_end(h->it, errptr);
    size_t eklen;
    const char *ek = rocksdb_iter_key(h->it, &eklen);
    size_t ulen;
    if (!kv_vkey_split(ek, eklen, &ulen, &h->ts))
      return kv_mvcc_key_corrupt(ek, eklen, errptr);
    if (!h->end_inf && kv_bytes_cmp(ek, eklen, h->end.p, h->end.n) >= 0)
      return KV_NOTFOUND;
    if (h->tb && !(h->cand_valid && ulen == h->cand.n &&
                   memcmp(ek, h->cand.p, ulen) == 0)) {
      /* A key not known to have changed since `from`: on to the next one
      ** that may have, past the keys in between unread. */
      int rc = history_candidate(h, ek, ulen, errptr);
      if (rc) return rc;
      if (h->cand.n != ulen || memcmp(ek, h->cand.p, ulen) != 0) {
        rocksdb_iter_seek(h->it, h->cand.p, h->cand.n);
        h->hold = true;
        continue;
      }
    }
    if (kv_ts_lt(h->at, h->ts)) continue; /* committed after R */
    int rc = kv_ukey_decode(&h->key, ek, ulen);
    if (rc == KV_NOMEM) return kv_err(errptr, KV_NOMEM, "out of memory");
    if (rc) return kv_mvcc_key_corrupt(ek, eklen, errptr);
    if (!kv_buf_set(&h->ukey, ek, ulen))
      return kv_err(errptr, KV_NOMEM, "out of memory");
    h->k = h->key.p;
    h->kl = h->key.n;
    h->v = rocksdb_iter_value(h->it, &h->vl);
    if (h->vl > 0) {
      if (h->v[0] != KV_VALUE_TAG)
        return kv_err(errptr, KV_CORRUPT, "corrupt value");
      h->v++;
      h->vl--;
    } else {
      h->v = NULL;
    }
    return KV_OK;
  }
}

void kv_history_skip_key(kv_history *h) {
  if (h->started && h->ukey.n > 0) h->skip = true;
}

const void *kv_history_key(kv_history *h, size_t *klen) {
  *klen = h->kl;
  return h->k;
}
const void *kv_history_value(kv_history *h, size_t *vlen) {
  *vlen = h->vl;
  return h->v;
}
kv_ts kv_history_ts(kv_history *h) { return h->ts; }
kv_ts kv_history_read_ts(kv_history *h) { return h->at; }
int kv_history_is_delete(kv_history *h) { return h->v == NULL; }

void kv_history_close(kv_history *h) {
  if (!h) return;
  kv_engine_iter_done(h->eng, h->it);
  kv_engine_iter_done(h->eng, h->tb);
  kv_buf_free(&h->cand);
  kv_buf_free(&h->end);
  kv_buf_free(&h->key);
  kv_buf_free(&h->ukey);
  free(h);
}
