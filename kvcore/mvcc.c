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
**     kv_mvcc_get_newest returns the same, and says whether it is the
**     newest version of all (what the row cache may keep: rowcache.c).
**   - A version above the read timestamp is skipped; it never hides the
**     newest one at or below it (get, cursor, both directions).
**   - kv_mvcc_changed reports a change exactly when some key of the span
**     has a version in (from, to].
**   - Every entry of the data family is enc(key)‖~timestamp (keyenc.c) with
**     an empty (deletion) or KV_VALUE_TAG-tagged value.  An entry that is not
**     is KV_CORRUPT with a message, from every function here: never taken
**     for an absent key, an unchanged span or the end of a scan.
**   - Iterator errors come back as their KV_* code (kv_engine_code).
**
** Keys are compared in their encoded form (a memcmp of the engine key's
** user-key part, or of the whole engine key against an encoded bound), and
** decoded only when handed out.  A cursor's forward rows are borrowed from
** the RocksDB iterator, not copied.
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

static int nomem(char **errptr) {
  return kv_err(errptr, KV_NOMEM, "out of memory");
}

/* Splits the iterator's current entry: its encoded user key is the first
** *ulen bytes of *ek.  False if it is not a version key. */
static bool cur_version(rocksdb_iterator_t *it, const char **ek, size_t *eklen,
                        size_t *ulen, kv_ts *ts) {
  *ek = rocksdb_iter_key(it, eklen);
  return kv_vkey_split(*ek, *eklen, ulen, ts);
}

/* The iterator's current entry did not decode: KV_CORRUPT. */
static int cur_corrupt(rocksdb_iterator_t *it, char **errptr) {
  size_t eklen;
  const char *ek = rocksdb_iter_key(it, &eklen);
  return kv_mvcc_key_corrupt(ek, eklen, errptr);
}

/* Decodes the encoded user key u of the iterator's current entry into out,
** reporting a failure as an error code with its message. */
static int cur_decode(rocksdb_iterator_t *it, kv_buf *out, const char *u,
                      size_t ulen, char **errptr) {
  int rc = kv_ukey_decode(out, u, ulen);
  if (rc == KV_NOMEM) return nomem(errptr);
  if (rc) return cur_corrupt(it, errptr);
  return KV_OK;
}

/* Is the current entry a version of the encoded user key u? */
static bool cur_is(rocksdb_iterator_t *it, const char *u, size_t ulen) {
  size_t eklen, cl;
  const char *ek;
  kv_ts ts;
  return cur_version(it, &ek, &eklen, &cl, &ts) && cl == ulen &&
         memcmp(ek, u, ulen) == 0;
}

/* A stored value: KV_OK with the user value, KV_NOTFOUND for a deletion,
** KV_CORRUPT for anything else. */
static int cur_value(rocksdb_iterator_t *it, const char **val, size_t *vlen,
                     char **errptr) {
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

int kv_mvcc_get(rocksdb_iterator_t *it, kv_buf *scratch, const void *key,
                size_t klen, kv_ts at, const char **val, size_t *vlen,
                kv_ts *vts, char **errptr) {
  *vts = KV_TS_ZERO;
  if (!kv_buf_set_mvcc_key(scratch, key, klen, at)) return nomem(errptr);
  size_t ulen = scratch->n - KV_TS_LEN;
  rocksdb_iter_seek(it, scratch->p, scratch->n);
  if (!rocksdb_iter_valid(it)) {
    int rc = iter_status(it, errptr);
    return rc ? rc : KV_NOTFOUND;
  }
  const char *ek;
  size_t eklen, cl;
  kv_ts ts;
  if (!cur_version(it, &ek, &eklen, &cl, &ts)) return cur_corrupt(it, errptr);
  if (cl != ulen || memcmp(ek, scratch->p, ulen) != 0) return KV_NOTFOUND;
  *vts = ts;
  return cur_value(it, val, vlen, errptr);
}

int kv_mvcc_get_newest(rocksdb_iterator_t *it, kv_buf *scratch,
                       const void *key, size_t klen, kv_ts at,
                       const char **val, size_t *vlen, kv_ts *vts,
                       bool *newest, char **errptr) {
  *newest = false;
  int rc = kv_mvcc_get(it, scratch, key, klen, KV_TS_MAX, val, vlen, vts,
                       errptr);
  if (rc != KV_OK && rc != KV_NOTFOUND) return rc;
  if (kv_ts_le(*vts, at)) { /* the newest of all is visible at `at` */
    *newest = rc == KV_OK;
    return rc;
  }
  /* Written after `at`: usually the one below it is next. */
  size_t ulen = scratch->n - KV_TS_LEN;
  rocksdb_iter_next(it);
  if (rocksdb_iter_valid(it)) {
    const char *ek;
    size_t eklen, cl;
    kv_ts ts;
    if (!cur_version(it, &ek, &eklen, &cl, &ts)) return cur_corrupt(it, errptr);
    if (cl != ulen || memcmp(ek, scratch->p, ulen) != 0) {
      *vts = KV_TS_ZERO;
      return KV_NOTFOUND;
    }
    if (kv_ts_le(ts, at)) {
      *vts = ts;
      return cur_value(it, val, vlen, errptr);
    }
  } else if ((rc = iter_status(it, errptr))) {
    return rc;
  }
  return kv_mvcc_get(it, scratch, key, klen, at, val, vlen, vts, errptr);
}

int kv_mvcc_next_key(rocksdb_iterator_t *it, kv_buf *scratch, const void *key,
                     size_t klen, kv_buf *next, bool *none, char **errptr) {
  *none = false;
  if (!kv_buf_set_ukey(scratch, key, klen)) return nomem(errptr);
  rocksdb_iter_seek(it, scratch->p, scratch->n);
  if (!rocksdb_iter_valid(it)) {
    int rc = iter_status(it, errptr);
    *none = rc == KV_OK;
    return rc;
  }
  const char *ek;
  size_t eklen, ulen;
  kv_ts ts;
  if (!cur_version(it, &ek, &eklen, &ulen, &ts)) return cur_corrupt(it, errptr);
  return cur_decode(it, next, ek, ulen, errptr);
}

/* Moves past every version of the encoded user key u (a copy, not iterator
** memory; scratch must not hold it): a few steps first, since most keys
** have one or two versions, then a seek just past the key.  It stops at an
** entry that does not decode; the caller's next decode reports it.  False
** only when out of memory (the iterator is then still on a version of u). */
static bool skip_key(rocksdb_iterator_t *it, kv_buf *scratch, const char *u,
                     size_t ulen) {
  for (int i = 0; i < 4; i++) {
    rocksdb_iter_next(it);
    if (!rocksdb_iter_valid(it) || !cur_is(it, u, ulen)) return true;
  }
  if (!kv_buf_set(scratch, u, ulen)) return false;
  kv_ukey_past(scratch->p, scratch->n);
  rocksdb_iter_seek(it, scratch->p, scratch->n);
  return true;
}

/* Seeks to the newest version of u at or below at: 1 when there is one, 0
** when u has none (the iterator is then at the next key, or invalid), -1
** when out of memory (the iterator has not moved). */
static int seek_visible(rocksdb_iterator_t *it, kv_buf *scratch,
                        const char *u, size_t ulen, kv_ts at) {
  if (!kv_buf_set_vkey(scratch, u, ulen, at)) return -1;
  rocksdb_iter_seek(it, scratch->p, scratch->n);
  return rocksdb_iter_valid(it) && cur_is(it, u, ulen);
}

int kv_mvcc_changed(rocksdb_iterator_t *it, kv_buf *scratch, const kv_span *sp,
                    kv_ts from, kv_ts to, bool *changed, kv_buf *key_out,
                    kv_ts *when, char **errptr) {
  *changed = false;
  const char *ek;
  size_t eklen, ulen;
  kv_ts ts;
  if (!sp->is_range) {
    if (!kv_buf_set_mvcc_key(scratch, sp->start, sp->slen, to))
      return nomem(errptr);
    size_t want = scratch->n - KV_TS_LEN;
    rocksdb_iter_seek(it, scratch->p, scratch->n);
    if (!rocksdb_iter_valid(it)) return iter_status(it, errptr);
    if (!cur_version(it, &ek, &eklen, &ulen, &ts))
      return cur_corrupt(it, errptr);
    if (ulen == want && memcmp(ek, scratch->p, ulen) == 0 &&
        kv_ts_lt(from, ts)) {
      *changed = true;
      *when = ts;
      if (!kv_buf_set(key_out, sp->start, sp->slen)) return nomem(errptr);
    }
    return KV_OK;
  }
  kv_buf cur, end;
  kv_buf_init(&cur);
  kv_buf_init(&end);
  int rc = KV_OK;
  if (!kv_buf_set_ukey(scratch, sp->start, sp->slen) ||
      (!sp->end_inf && !kv_buf_set_ukey(&end, sp->end, sp->elen))) {
    rc = nomem(errptr);
    goto out;
  }
  rocksdb_iter_seek(it, scratch->p, scratch->n);
  while (rocksdb_iter_valid(it)) {
    if (!cur_version(it, &ek, &eklen, &ulen, &ts)) {
      rc = cur_corrupt(it, errptr);
      break;
    }
    if (!sp->end_inf && kv_bytes_cmp(ek, eklen, end.p, end.n) >= 0) break;
    if (!kv_buf_set(&cur, ek, ulen)) {
      rc = nomem(errptr);
      break;
    }
    if (kv_ts_lt(to, ts)) {
      /* Newer than the window: jump to the newest version <= to. */
      int sv = seek_visible(it, scratch, cur.p, cur.n, to);
      if (sv < 0) {
        rc = nomem(errptr);
        break;
      }
      if (sv == 0) continue; /* none: now at the next key */
      cur_version(it, &ek, &eklen, &ulen, &ts);
    }
    if (kv_ts_lt(from, ts)) {
      *changed = true;
      *when = ts;
      rc = cur_decode(it, key_out, cur.p, cur.n, errptr);
      break;
    }
    if (!skip_key(it, scratch, cur.p, cur.n)) {
      rc = nomem(errptr);
      break;
    }
  }
  if (rc == KV_OK) rc = iter_status(it, errptr);
out:
  kv_buf_free(&cur);
  kv_buf_free(&end);
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
  c->eng = e;
  c->at = at;
  c->reverse = reverse;
  c->done = false;
  c->hi_inf = hi_inf;
  c->val = NULL;
  c->vlen = 0;
  if (!kv_buf_set_ukey(&c->lo, lo, lolen) ||
      (!hi_inf && !kv_buf_set_ukey(&c->hi, hi, hilen)))
    return nomem(errptr);
  /* Reopened (a refresh moved the read timestamp): the same iterator,
  ** brought up to date. */
  if (c->view) /* a reader's view never changes: one iterator serves */
    c->it = c->it ? c->it : kv_view_iter(e, c->view, KV_ITER_SCAN);
  else
    c->it = c->it ? kv_engine_iter_fresh(e, KV_ITER_SCAN, c->it, &c->seq)
                  : kv_engine_iter_get(e, KV_ITER_SCAN, &c->seq);
  if (!c->it) return nomem(errptr);
  const char *target = NULL;
  size_t tlen = 0;
  if (from) {
    /* Forward: past every version of from; reverse: before all of them. */
    if (!kv_buf_set_ukey(&c->seek, from, fromlen)) return nomem(errptr);
    if (!reverse) kv_ukey_past(c->seek.p, c->seek.n);
    target = c->seek.p;
    tlen = c->seek.n;
  } else if (!reverse) {
    target = c->lo.p;
    tlen = c->lo.n;
  } else if (!hi_inf) {
    target = c->hi.p;
    tlen = c->hi.n;
  }
  if (!reverse)
    rocksdb_iter_seek(c->it, target, tlen);
  else if (target)
    rocksdb_iter_seek_for_prev(c->it, target, tlen);
  else
    rocksdb_iter_seek_to_last(c->it);
  c->started = false;
  return iter_status(c->it, errptr);
}

static int cursor_fail(kv_mvcc_cursor *c, int rc) {
  c->done = true;
  return rc;
}

static int cursor_next_forward(kv_mvcc_cursor *c, char **errptr) {
  rocksdb_iterator_t *it = c->it;
  if (c->started && !skip_key(it, &c->seek, c->ekey.p, c->ekey.n))
    return cursor_fail(c, nomem(errptr));
  c->started = true;
  while (rocksdb_iter_valid(it)) {
    const char *ek;
    size_t eklen, ulen;
    kv_ts ts;
    if (!cur_version(it, &ek, &eklen, &ulen, &ts))
      return cursor_fail(c, cur_corrupt(it, errptr));
    if (!c->hi_inf && kv_bytes_cmp(ek, eklen, c->hi.p, c->hi.n) >= 0) break;
    if (!kv_buf_set(&c->ekey, ek, ulen)) return cursor_fail(c, nomem(errptr));
    if (kv_ts_lt(c->at, ts)) {
      int sv = seek_visible(it, &c->seek, c->ekey.p, c->ekey.n, c->at);
      if (sv < 0) return cursor_fail(c, nomem(errptr));
      if (sv == 0) continue; /* nothing visible: now at the next key */
    }
    int rc = cur_value(it, &c->val, &c->vlen, errptr);
    if (rc == KV_NOTFOUND) { /* deleted */
      if (!skip_key(it, &c->seek, c->ekey.p, c->ekey.n))
        return cursor_fail(c, nomem(errptr));
      continue;
    }
    if (!rc) rc = cur_decode(it, &c->key, c->ekey.p, c->ekey.n, errptr);
    return rc ? cursor_fail(c, rc) : KV_OK;
  }
  c->done = true;
  int rc = iter_status(it, errptr);
  return rc ? rc : KV_NOTFOUND;
}

/* Backwards, the versions of a key come oldest first: walk them all and
** keep the last one at or below the read timestamp (copied: the iterator
** leaves the key to learn that it has no more versions). */
static int cursor_next_reverse(kv_mvcc_cursor *c, char **errptr) {
  rocksdb_iterator_t *it = c->it;
  c->started = true;
  while (rocksdb_iter_valid(it)) {
    const char *ek;
    size_t eklen, ulen;
    kv_ts ts;
    if (!cur_version(it, &ek, &eklen, &ulen, &ts))
      return cursor_fail(c, cur_corrupt(it, errptr));
    if (kv_bytes_cmp(ek, eklen, c->lo.p, c->lo.n) < 0) break;
    if (!kv_buf_set(&c->ekey, ek, ulen)) return cursor_fail(c, nomem(errptr));
    int drc = cur_decode(it, &c->key, c->ekey.p, c->ekey.n, errptr);
    if (drc) return cursor_fail(c, drc);
    bool found = false, deleted = false;
    do {
      if (kv_ts_le(ts, c->at)) {
        const char *v = NULL;
        size_t vl = 0;
        int rc = cur_value(it, &v, &vl, errptr);
        if (rc && rc != KV_NOTFOUND) return cursor_fail(c, rc);
        found = true;
        deleted = rc == KV_NOTFOUND;
        if (!deleted && !kv_buf_set(&c->vcopy, v, vl))
          return cursor_fail(c, nomem(errptr));
      }
      rocksdb_iter_prev(it);
    } while (rocksdb_iter_valid(it) &&
             cur_version(it, &ek, &eklen, &ulen, &ts) && ulen == c->ekey.n &&
             memcmp(ek, c->ekey.p, ulen) == 0);
    if (found && !deleted) {
      c->val = c->vcopy.p;
      c->vlen = c->vcopy.n;
      return KV_OK;
    }
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
  if (c->it && c->view) rocksdb_iter_destroy(c->it);
  else if (c->it) kv_engine_iter_put(c->eng, KV_ITER_SCAN, c->it, c->seq);
  kv_buf_free(&c->lo);
  kv_buf_free(&c->hi);
  kv_buf_free(&c->seek);
  kv_buf_free(&c->ekey);
  kv_buf_free(&c->key);
  kv_buf_free(&c->vcopy);
  memset(c, 0, sizeof(*c));
}
