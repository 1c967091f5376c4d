/*
** gc.c — garbage collection of old versions, and the history iterator.
**
** The GC threshold is min(now - retention, the oldest live read timestamp).
** For each key, versions above the threshold are kept, and so is the newest
** one at or below it (what a read at the threshold sees) unless that one is
** a deletion; everything older goes (CockroachDB's gc.isGarbage).  The
** threshold only rises, and once published, transactions reading below it
** are refused (store.c), so nothing any reader can see is ever collected.
** Deletions are ordinary RocksDB deletes of the exact version keys, in
** batches; they never touch versions above the threshold, so they cannot
** race with commits, which only add versions above every reader.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

#define GC_BATCH 1000

static kv_ts gc_pick_threshold(kv_store *s) {
  kv_ts now = kv_store_now(s);
  uint64_t keep = (uint64_t)s->opts.retention_ms * 1000000ULL;
  kv_ts th = {now.wall > keep ? now.wall - keep : 0, 0};
  for (int i = 0; i < KV_TXN_SHARDS; i++) pthread_mutex_lock(&s->txns[i].mu);
  for (int i = 0; i < KV_TXN_SHARDS; i++)
    for (kv_txn *t = s->txns[i].head; t; t = t->tnext) {
      kv_ts r = {atomic_load(&t->read_wall), atomic_load(&t->read_logical)};
      if (kv_ts_lt(r, th)) th = r;
    }
  if (kv_ts_lt(s->gc_threshold, th))
    s->gc_threshold = th;
  else
    th = s->gc_threshold;
  for (int i = KV_TXN_SHARDS - 1; i >= 0; i--)
    pthread_mutex_unlock(&s->txns[i].mu);
  return th;
}

int kv_store_gc(kv_store *s, kv_gc_stats *stats, char **errptr) {
  kv_gc_stats st;
  memset(&st, 0, sizeof(st));
  st.threshold = gc_pick_threshold(s);
  rocksdb_iterator_t *it = kv_engine_iter(&s->eng);
  rocksdb_writebatch_t *b = rocksdb_writebatch_create();
  kv_buf key;
  kv_buf_init(&key);
  int rc = it && b ? KV_OK : kv_err(errptr, KV_NOMEM, "out of memory");
  bool below_seen = false; /* the newest version <= threshold was passed */
  bool dropping = false;   /* everything older goes */
  int pending = 0;
  if (rc == KV_OK) rocksdb_iter_seek_to_first(it);
  while (rc == KV_OK && rocksdb_iter_valid(it)) {
    size_t eklen;
    const char *ek = rocksdb_iter_key(it, &eklen);
    const char *k;
    size_t kl;
    kv_ts ts;
    if (!kv_mvcc_key_decode(ek, eklen, &k, &kl, &ts)) {
      rc = kv_err(errptr, KV_CORRUPT, "corrupt version key");
      break;
    }
    if (!key.p || kv_bytes_cmp(k, kl, key.p, key.n) != 0) {
      if (!kv_buf_set(&key, k, kl)) {
        rc = kv_err(errptr, KV_NOMEM, "out of memory");
        break;
      }
      st.keys_scanned++;
      below_seen = dropping = false;
    }
    st.versions_scanned++;
    if (kv_ts_le(ts, st.threshold)) {
      size_t vl;
      rocksdb_iter_value(it, &vl);
      bool drop = dropping;
      if (!below_seen) {
        below_seen = true;
        if (vl == 0) drop = dropping = true; /* a deletion: it and all older */
        else dropping = true;                /* keep it; older ones go */
      }
      if (drop) {
        rocksdb_writebatch_delete_cf(b, s->eng.cf_data, ek, eklen);
        st.versions_deleted++;
        if (++pending >= GC_BATCH) {
          rc = kv_engine_write(&s->eng, b, false, errptr);
          rocksdb_writebatch_clear(b);
          pending = 0;
        }
      }
    }
    rocksdb_iter_next(it);
  }
  if (rc == KV_OK && it) {
    char *rerr = NULL;
    rocksdb_iter_get_error(it, &rerr);
    if (rerr) {
      rc = kv_err(errptr, kv_engine_code(rerr), "GC read failed: %s", rerr);
      free(rerr);
    }
  }
  if (rc == KV_OK && pending) rc = kv_engine_write(&s->eng, b, false, errptr);
  if (b) rocksdb_writebatch_destroy(b);
  if (it) rocksdb_iter_destroy(it);
  kv_buf_free(&key);
  if (stats) *stats = st;
  return rc;
}

/* ------------------------------------------------------------ history -- */

struct kv_history {
  rocksdb_iterator_t *it;
  kv_buf end;
  bool end_inf, started;
  const char *k, *v;
  size_t kl, vl;
  kv_ts ts;
};

int kv_store_history(kv_store *s, const void *start, size_t slen,
                     const void *end, size_t elen, kv_history **out,
                     char **errptr) {
  kv_history *h = calloc(1, sizeof(*h));
  kv_buf seek;
  kv_buf_init(&seek);
  if (!h || !kv_buf_set_mvcc_key(&seek, start ? start : "", slen, KV_TS_MAX) ||
      (end && !kv_buf_set(&h->end, end, elen))) {
    free(h);
    kv_buf_free(&seek);
    return kv_err(errptr, KV_NOMEM, "out of memory");
  }
  h->end_inf = end == NULL;
  h->it = kv_engine_iter(&s->eng);
  rocksdb_iter_seek(h->it, seek.p, seek.n);
  kv_buf_free(&seek);
  *out = h;
  return KV_OK;
}

int kv_history_next(kv_history *h, char **errptr) {
  if (h->started) rocksdb_iter_next(h->it);
  h->started = true;
  if (!rocksdb_iter_valid(h->it)) {
    char *rerr = NULL;
    rocksdb_iter_get_error(h->it, &rerr);
    if (!rerr) return KV_NOTFOUND;
    int rc = kv_err(errptr, kv_engine_code(rerr), "read failed: %s", rerr);
    free(rerr);
    return rc;
  }
  size_t eklen;
  const char *ek = rocksdb_iter_key(h->it, &eklen);
  if (!kv_mvcc_key_decode(ek, eklen, &h->k, &h->kl, &h->ts))
    return kv_err(errptr, KV_CORRUPT, "corrupt version key");
  if (!h->end_inf && kv_bytes_cmp(h->k, h->kl, h->end.p, h->end.n) >= 0)
    return KV_NOTFOUND;
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

const void *kv_history_key(kv_history *h, size_t *klen) {
  *klen = h->kl;
  return h->k;
}
const void *kv_history_value(kv_history *h, size_t *vlen) {
  *vlen = h->vl;
  return h->v;
}
kv_ts kv_history_ts(kv_history *h) { return h->ts; }
int kv_history_is_delete(kv_history *h) { return h->v == NULL; }

void kv_history_close(kv_history *h) {
  if (!h) return;
  rocksdb_iter_destroy(h->it);
  kv_buf_free(&h->end);
  free(h);
}
