/*
** mvcc.c — reading versioned data: the newest version at or below a
** timestamp, the newest version of all, changes inside a time window, and a
** cursor over the visible rows of a key range in either direction.
**
** These functions see only committed data (a transaction's own writes live
** in its write buffer until commit) and take no locks: the caller has done
** what makes the read safe (timestamp cache, then latch wait, then a fresh
** iterator; see txn.c).  The layout is in keyenc.c: the versions of a key are
** adjacent, newest first, and a stored value is KV_VALUE_TAG‖bytes, or empty
** for a deletion.
**
** Contract:
**   - kv_mvcc_get returns a version of exactly the key asked for: an absent
**     key is KV_NOTFOUND even when the seek lands on the next key.
**   - A version above the read timestamp is skipped; it never hides the
**     newest one at or below it (get, cursor, both directions).
**   - kv_mvcc_changed reports a change exactly when some key of the span
**     has a version in (from, to].
**   - Every entry of the data family is key‖timestamp (keyenc.c) with an
**     empty (deletion) or KV_VALUE_TAG-tagged value.  An entry that is not
**     is KV_CORRUPT with a message, from every function here: never taken
**     for an absent key, an unchanged span or the end of a scan.
**   - Iterator errors come back as their KV_* code (kv_engine_code).
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

/* Reports an iterator error, if any, as a KV code. */
static int iter_status(rocksdb_iterator_t *it, char **errptr) {
  char *rerr = NULL;
  rocksdb_iter_get_error(it, &rerr);
  if (!rerr) return KV_OK;
  int rc = kv_engine_code(rerr);
  kv_err(errptr, rc, "read failed: %s", rerr);
  free(rerr);
  return rc;
}

static void seek_to(rocksdb_iterator_t *it, kv_buf *scratch, const void *key,
                    size_t klen, kv_ts ts) {
  kv_mvcc_key_encode(scratch->p, key, klen, ts);
  rocksdb_iter_seek(it, scratch->p, klen + KV_TS_LEN);
}

/* Decodes the iterator's current entry; false if it is not a version. */
static bool cur_version(rocksdb_iterator_t *it, const char **k, size_t *kl,
                        kv_ts *ts) {
  size_t eklen;
  const char *ek = rocksdb_iter_key(it, &eklen);
  return kv_mvcc_key_decode(ek, eklen, k, kl, ts);
}

/* The iterator's current entry did not decode: KV_CORRUPT. */
static int cur_corrupt(rocksdb_iterator_t *it, char **errptr) {
  size_t eklen;
  const char *ek = rocksdb_iter_key(it, &eklen);
  return kv_mvcc_key_corrupt(ek, eklen, errptr);
}

int kv_mvcc_get(rocksdb_iterator_t *it, kv_buf *scratch, const void *key,
                size_t klen, kv_ts at, const char **val, size_t *vlen,
                kv_ts *vts, char **errptr) {
  *vts = KV_TS_ZERO;
  if (!kv_buf_reserve(scratch, klen + KV_TS_LEN))
    return kv_err(errptr, KV_NOMEM, "out of memory");
  seek_to(it, scratch, key, klen, at);
  if (!rocksdb_iter_valid(it)) {
    int rc = iter_status(it, errptr);
    return rc ? rc : KV_NOTFOUND;
  }
  const char *k;
  size_t kl;
  kv_ts ts;
  if (!cur_version(it, &k, &kl, &ts)) return cur_corrupt(it, errptr);
  if (kv_bytes_cmp(k, kl, key, klen) != 0) return KV_NOTFOUND;
  *vts = ts;
  size_t n;
  const char *v = rocksdb_iter_value(it, &n);
  if (n == 0) return KV_NOTFOUND;
  if (v[0] != KV_VALUE_TAG)
    return kv_err(errptr, KV_CORRUPT, "corrupt value (tag 0x%02x)",
                  (unsigned char)v[0]);
  *val = v + 1;
  *vlen = n - 1;
  return KV_OK;
}

int kv_mvcc_next_key(rocksdb_iterator_t *it, kv_buf *scratch, const void *key,
                     size_t klen, kv_buf *next, bool *none, char **errptr) {
  *none = false;
  if (!kv_buf_reserve(scratch, klen + KV_TS_LEN))
    return kv_err(errptr, KV_NOMEM, "out of memory");
  seek_to(it, scratch, key, klen, KV_TS_MAX);
  if (!rocksdb_iter_valid(it)) {
    int rc = iter_status(it, errptr);
    *none = rc == KV_OK;
    return rc;
  }
  const char *k;
  size_t kl;
  kv_ts ts;
  if (!cur_version(it, &k, &kl, &ts)) return cur_corrupt(it, errptr);
  if (!kv_buf_set(next, k, kl)) return kv_err(errptr, KV_NOMEM, "out of memory");
  return KV_OK;
}

/* Moves past every version of key (a copy, not iterator memory): a few
** steps first, since most keys have one or two versions, then a seek.  It
** stops at an entry that does not decode; the caller's next decode of the
** current entry reports it. */
static void skip_key(rocksdb_iterator_t *it, kv_buf *scratch, const char *key,
                     size_t klen) {
  for (int i = 0; i < 4; i++) {
    rocksdb_iter_next(it);
    if (!rocksdb_iter_valid(it)) return;
    const char *k;
    size_t kl;
    kv_ts ts;
    if (!cur_version(it, &k, &kl, &ts) || kv_bytes_cmp(k, kl, key, klen) != 0)
      return;
  }
  /* (key, 0) is the last possible version of key. */
  seek_to(it, scratch, key, klen, KV_TS_ZERO);
  if (!rocksdb_iter_valid(it)) return;
  const char *k;
  size_t kl;
  kv_ts ts;
  if (cur_version(it, &k, &kl, &ts) && kv_bytes_cmp(k, kl, key, klen) == 0)
    rocksdb_iter_next(it);
}

static bool before_end(const kv_span *sp, const char *k, size_t kl) {
  return sp->end_inf || kv_bytes_cmp(k, kl, sp->end, sp->elen) < 0;
}

int kv_mvcc_changed(rocksdb_iterator_t *it, kv_buf *scratch, const kv_span *sp,
                    kv_ts from, kv_ts to, bool *changed, kv_buf *key_out,
                    kv_ts *when, char **errptr) {
  *changed = false;
  size_t need = sp->slen + KV_TS_LEN;
  if (!kv_buf_reserve(scratch, need))
    return kv_err(errptr, KV_NOMEM, "out of memory");
  if (!sp->is_range) {
    seek_to(it, scratch, sp->start, sp->slen, to);
    if (!rocksdb_iter_valid(it)) return iter_status(it, errptr);
    const char *k;
    size_t kl;
    kv_ts ts;
    if (!cur_version(it, &k, &kl, &ts)) return cur_corrupt(it, errptr);
    if (kv_bytes_cmp(k, kl, sp->start, sp->slen) == 0 && kv_ts_lt(from, ts)) {
      *changed = true;
      *when = ts;
      if (!kv_buf_set(key_out, k, kl))
        return kv_err(errptr, KV_NOMEM, "out of memory");
    }
    return KV_OK;
  }
  kv_buf cur;
  kv_buf_init(&cur);
  int rc = KV_OK;
  seek_to(it, scratch, sp->start, sp->slen, KV_TS_MAX);
  while (rocksdb_iter_valid(it)) {
    const char *k;
    size_t kl;
    kv_ts ts;
    if (!cur_version(it, &k, &kl, &ts)) {
      rc = cur_corrupt(it, errptr);
      break;
    }
    if (!before_end(sp, k, kl)) break;
    if (!kv_buf_set(&cur, k, kl) || !kv_buf_reserve(scratch, kl + KV_TS_LEN)) {
      rc = kv_err(errptr, KV_NOMEM, "out of memory");
      break;
    }
    if (kv_ts_lt(to, ts)) {
      /* Newer than the window: jump to the newest version <= to. */
      seek_to(it, scratch, cur.p, cur.n, to);
      if (!rocksdb_iter_valid(it)) break;
      if (!cur_version(it, &k, &kl, &ts) ||
          kv_bytes_cmp(k, kl, cur.p, cur.n) != 0)
        continue; /* no version <= to: now at the next key */
    }
    if (kv_ts_lt(from, ts)) {
      *changed = true;
      *when = ts;
      if (!kv_buf_set(key_out, cur.p, cur.n))
        rc = kv_err(errptr, KV_NOMEM, "out of memory");
      break;
    }
    skip_key(it, scratch, cur.p, cur.n);
  }
  kv_buf_free(&cur);
  if (rc == KV_OK) rc = iter_status(it, errptr);
  return rc;
}

/* ------------------------------------------------------------- cursor -- */

void kv_mvcc_cursor_init(kv_mvcc_cursor *c) {
  memset(c, 0, sizeof(*c));
}

int kv_mvcc_cursor_open(kv_mvcc_cursor *c, kv_engine *e, kv_ts at,
                        bool reverse, const void *lo, size_t lolen,
                        const void *hi, size_t hilen, bool hi_inf,
                        const void *from, size_t fromlen, char **errptr) {
  if (c->it) rocksdb_iter_destroy(c->it);
  c->it = NULL;
  c->at = at;
  c->reverse = reverse;
  c->done = false;
  c->hi_inf = hi_inf;
  if (!kv_buf_set(&c->lo, lo, lolen) ||
      (!hi_inf && !kv_buf_set(&c->hi, hi, hilen)))
    return kv_err(errptr, KV_NOMEM, "out of memory");
  size_t big = lolen > hilen ? lolen : hilen;
  if (from && fromlen > big) big = fromlen;
  if (!kv_buf_reserve(&c->seek, big + KV_TS_LEN))
    return kv_err(errptr, KV_NOMEM, "out of memory");
  c->it = kv_engine_iter(e);
  if (!c->it) return kv_err(errptr, KV_NOMEM, "out of memory");
  if (!reverse) {
    if (from) {
      seek_to(c->it, &c->seek, from, fromlen, KV_TS_ZERO);
      const char *k;
      size_t kl;
      kv_ts ts;
      if (rocksdb_iter_valid(c->it) && cur_version(c->it, &k, &kl, &ts) &&
          kv_bytes_cmp(k, kl, from, fromlen) == 0)
        rocksdb_iter_next(c->it);
    } else {
      seek_to(c->it, &c->seek, lo, lolen, KV_TS_MAX);
    }
  } else {
    if (from) {
      kv_mvcc_key_encode(c->seek.p, from, fromlen, KV_TS_MAX);
      rocksdb_iter_seek_for_prev(c->it, c->seek.p, fromlen + KV_TS_LEN);
    } else if (hi_inf) {
      rocksdb_iter_seek_to_last(c->it);
    } else {
      kv_mvcc_key_encode(c->seek.p, hi, hilen, KV_TS_MAX);
      rocksdb_iter_seek_for_prev(c->it, c->seek.p, hilen + KV_TS_LEN);
    }
  }
  c->started = false;
  return iter_status(c->it, errptr);
}

static int cursor_fail_nomem(kv_mvcc_cursor *c, char **errptr) {
  c->done = true;
  return kv_err(errptr, KV_NOMEM, "out of memory");
}

static int cursor_next_forward(kv_mvcc_cursor *c, char **errptr) {
  rocksdb_iterator_t *it = c->it;
  if (c->started) skip_key(it, &c->seek, c->key.p, c->key.n);
  c->started = true;
  while (rocksdb_iter_valid(it)) {
    const char *k;
    size_t kl;
    kv_ts ts;
    if (!cur_version(it, &k, &kl, &ts)) {
      c->done = true;
      return cur_corrupt(it, errptr);
    }
    if (!c->hi_inf && kv_bytes_cmp(k, kl, c->hi.p, c->hi.n) >= 0) break;
    if (!kv_buf_set(&c->key, k, kl) ||
        !kv_buf_reserve(&c->seek, kl + KV_TS_LEN))
      return cursor_fail_nomem(c, errptr);
    if (kv_ts_lt(c->at, ts)) {
      seek_to(it, &c->seek, c->key.p, c->key.n, c->at);
      if (!rocksdb_iter_valid(it)) break;
      if (!cur_version(it, &k, &kl, &ts) ||
          kv_bytes_cmp(k, kl, c->key.p, c->key.n) != 0)
        continue; /* nothing visible: now at the next key */
    }
    size_t n;
    const char *v = rocksdb_iter_value(it, &n);
    if (n == 0) { /* deleted */
      skip_key(it, &c->seek, c->key.p, c->key.n);
      continue;
    }
    if (v[0] != KV_VALUE_TAG) {
      c->done = true;
      return kv_err(errptr, KV_CORRUPT, "corrupt value (tag 0x%02x)",
                    (unsigned char)v[0]);
    }
    if (!kv_buf_set(&c->val, v + 1, n - 1)) return cursor_fail_nomem(c, errptr);
    return KV_OK;
  }
  c->done = true;
  int rc = iter_status(it, errptr);
  return rc ? rc : KV_NOTFOUND;
}

/* Backwards, the versions of a key come oldest first: walk them all and
** keep the last one at or below the read timestamp. */
static int cursor_next_reverse(kv_mvcc_cursor *c, char **errptr) {
  rocksdb_iterator_t *it = c->it;
  c->started = true;
  while (rocksdb_iter_valid(it)) {
    const char *k;
    size_t kl;
    kv_ts ts;
    if (!cur_version(it, &k, &kl, &ts)) {
      c->done = true;
      return cur_corrupt(it, errptr);
    }
    if (kv_bytes_cmp(k, kl, c->lo.p, c->lo.n) < 0) break;
    if (!kv_buf_set(&c->key, k, kl)) return cursor_fail_nomem(c, errptr);
    bool found = false, deleted = false;
    do {
      if (kv_ts_le(ts, c->at)) {
        size_t n;
        const char *v = rocksdb_iter_value(it, &n);
        found = true;
        deleted = n == 0;
        if (!deleted) {
          if (v[0] != KV_VALUE_TAG) {
            c->done = true;
            return kv_err(errptr, KV_CORRUPT, "corrupt value (tag 0x%02x)",
                          (unsigned char)v[0]);
          }
          if (!kv_buf_set(&c->val, v + 1, n - 1))
            return cursor_fail_nomem(c, errptr);
        }
      }
      rocksdb_iter_prev(it);
    } while (rocksdb_iter_valid(it) && cur_version(it, &k, &kl, &ts) &&
             kv_bytes_cmp(k, kl, c->key.p, c->key.n) == 0);
    if (found && !deleted) return KV_OK;
  }
  c->done = true;
  int rc = iter_status(it, errptr);
  return rc ? rc : KV_NOTFOUND;
}

int kv_mvcc_cursor_next(kv_mvcc_cursor *c, char **errptr) {
  if (c->done) return KV_NOTFOUND;
  return c->reverse ? cursor_next_reverse(c, errptr)
                    : cursor_next_forward(c, errptr);
}

void kv_mvcc_cursor_close(kv_mvcc_cursor *c) {
  if (c->it) rocksdb_iter_destroy(c->it);
  kv_buf_free(&c->lo);
  kv_buf_free(&c->hi);
  kv_buf_free(&c->seek);
  kv_buf_free(&c->key);
  kv_buf_free(&c->val);
  memset(c, 0, sizeof(*c));
}
