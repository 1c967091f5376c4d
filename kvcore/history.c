/*
** history.c — the history iterator: every retained version of a key range,
** outside any transaction (kv_store_history, kv_history_*).
**
** It walks the data column family in engine order — user key ascending,
** then each key's versions newest first — with one total-order RocksDB
** iterator over the store as it was when the history was opened (later
** commits and GC passes do not show).  A deletion is a version with an
** empty stored value and comes back with a NULL value.  It reads no lock,
** latch or timestamp cache: it does not take part in any transaction's
** isolation, and it returns committed versions only.
** Versions that GC has collected are not there: the history goes back as
** far as the GC threshold and the retention window (gc.c) have kept it.
** A key or value that does not have the layout of keyenc.c is KV_CORRUPT.
*/
#include "kvint.h"

#include <stdlib.h>

struct kv_history {
  rocksdb_iterator_t *it;
  kv_buf end;   /* enc(end key) */
  kv_buf key;   /* the current version's key, decoded */
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
  if (!h || !kv_buf_set_ukey(&seek, start ? start : "", slen) ||
      (end && !kv_buf_set_ukey(&h->end, end, elen))) {
    if (h) kv_buf_free(&h->end);
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
  size_t ulen;
  if (!kv_vkey_split(ek, eklen, &ulen, &h->ts))
    return kv_mvcc_key_corrupt(ek, eklen, errptr);
  if (!h->end_inf && kv_bytes_cmp(ek, eklen, h->end.p, h->end.n) >= 0)
    return KV_NOTFOUND;
  int rc = kv_ukey_decode(&h->key, ek, ulen);
  if (rc == KV_NOMEM) return kv_err(errptr, KV_NOMEM, "out of memory");
  if (rc) return kv_mvcc_key_corrupt(ek, eklen, errptr);
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
  kv_buf_free(&h->key);
  free(h);
}
