/*
** scan.c — iterators: a transaction's scans over a key range, merging the
** committed rows at its read timestamp with its own writes.
**
** Opening a scan publishes a read of the whole range [lo, hi) in the
** timestamp cache and waits out in-flight commits (kv_txn_prepare_read),
** then opens a RocksDB iterator: from then on no version at or below the
** read timestamp can appear in the range, so the iterator may be read
** lazily, row by row, as SQLite steps a cursor.
**
** Own writes come from the write buffer at the sequence number current when
** the scan opened, so rows the transaction writes while scanning do not
** show up in the scan.  A buffered deletion hides the committed row; a
** buffered put replaces it.
**
** Read spans: an iterator records what it has observed — [lo, last key
** returned] (or [lo, hi) once exhausted; mirrored for reverse scans) — when
** it closes, and offers the same to any refresh while it is open
** (kv_iter_covered, which lives in txn.c beside the refresh that reads it,
** so that txn.c never calls into this file).  A scan that stops early (a
** LIMIT, a cursor closed early) therefore depends only on the rows it
** returned.  When a refresh moves the read timestamp (a locking read
** elsewhere, or a locking scan finding a newer row), open iterators reopen
** at the new timestamp after the last key they returned.
**
** KV_READ_FOR_UPDATE (every scan of a transaction begun with lock_reads)
** locks each committed row before returning it; if the row has a newer
** committed version than the snapshot, the transaction refreshes to just
** above it and the scan reads on from the last row it returned, at the new
** timestamp: the keys it passed over on the way to the locked row were
** read at the old timestamp, and the refresh did not check them (an
** iterator's observed span ends at the last row returned), so they are read
** again; the locked row comes back, or not at all if it was deleted.  The
** range is published and recorded as for any scan, so a phantom still
** fails a refresh.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

static bool iter_in_range(const kv_iter *it, const char *k, size_t kl) {
  if (it->reverse) return kv_bytes_cmp(k, kl, it->lo.p, it->lo.n) >= 0;
  return it->hi_inf || kv_bytes_cmp(k, kl, it->hi.p, it->hi.n) < 0;
}

/* Positions wnode at the first own write of the range in scan order. */
static void iter_seek_wbuf(kv_iter *it) {
  kv_txn *t = it->txn;
  it->wnode = NULL;
  if (!t->wbuf_ready) return;
  if (!it->reverse) {
    it->wnode = kv_skl_seek_ge(t->wbuf.skl, it->lo.p, it->lo.n);
  } else if (it->hi_inf) {
    it->wnode = kv_skl_last(t->wbuf.skl);
  } else {
    kv_skl_node *n = kv_skl_seek_le(t->wbuf.skl, it->hi.p, it->hi.n);
    if (n && kv_bytes_cmp(n->key, n->klen, it->hi.p, it->hi.n) == 0)
      n = kv_skl_prev(n);
    it->wnode = n;
  }
}

/* Reopens the committed-row cursor at the transaction's read timestamp,
** after the last key returned. */
static int iter_reopen(kv_iter *it, char **errptr) {
  kv_txn *t = it->txn;
  it->reopen = false;
  it->row_pending = false;
  it->eng_done = false;
  it->at = t->read_ts;
  kv_span sp = {.is_range = 1,
                .start = it->lo.p,
                .slen = it->lo.n,
                .end = it->hi.p,
                .elen = it->hi.n,
                .end_inf = it->hi_inf};
  if (it->have_last) {
    if (!it->reverse) {
      if (!kv_buf_reserve(&it->span_end, it->last.n + 1))
        return kv_err(errptr, KV_NOMEM, "out of memory");
      memcpy(it->span_end.p, it->last.p, it->last.n);
      it->span_end.p[it->last.n] = 0;
      sp.start = it->span_end.p;
      sp.slen = it->last.n + 1;
    } else {
      sp.end = it->last.p;
      sp.elen = it->last.n;
      sp.end_inf = 0;
    }
  }
  kv_txn_prepare_read(t, &sp, it->at);
  it->cur.view = t->view;
  return kv_mvcc_cursor_open(
      &it->cur, &t->store->eng, it->at, it->reverse, it->lo.p, it->lo.n,
      it->hi.p, it->hi.n, it->hi_inf, it->have_last ? it->last.p : NULL,
      it->last.n, errptr);
}

int kv_txn_scan(kv_txn *t, const void *start, size_t slen, const void *end,
                size_t elen, int flags, uint64_t limit, kv_iter **out,
                char **errptr) {
  *out = NULL;
  int rc = kv_txn_check(t, errptr);
  if (rc) return rc;
  if ((!start && slen) || (end == NULL && elen))
    return kv_err(errptr, KV_INVALID, "NULL scan bound");
  if (t->view) flags &= ~KV_READ_FOR_UPDATE; /* as kv_txn_get */
  if ((flags & KV_READ_FOR_UPDATE) && t->read_only)
    return kv_err(errptr, KV_INVALID,
                  "a read-only transaction cannot lock keys");
  if (t->lock_reads) flags |= KV_READ_FOR_UPDATE;
  kv_iter *it = calloc(1, sizeof(*it));
  if (!it) return kv_err(errptr, KV_NOMEM, "out of memory");
  it->txn = t;
  it->reverse = (flags & KV_SCAN_REVERSE) != 0;
  it->for_update = (flags & KV_READ_FOR_UPDATE) != 0;
  it->limit = limit;
  it->hi_inf = end == NULL;
  kv_mvcc_cursor_init(&it->cur);
  if (!kv_buf_set(&it->lo, start ? start : "", slen) ||
      (end && !kv_buf_set(&it->hi, end, elen))) {
    rc = kv_err(errptr, KV_NOMEM, "out of memory");
    goto fail;
  }
  if (!it->hi_inf && kv_bytes_cmp(it->lo.p, it->lo.n, it->hi.p, it->hi.n) >= 0) {
    it->done = it->exhausted = true; /* empty range: reads nothing */
  } else {
    it->reopen = true; /* opens the cursor at the first next() */
    if ((rc = iter_reopen(it, errptr))) goto fail;
  }
  it->seq = t->wbuf_ready ? t->wbuf.seq : 0;
  iter_seek_wbuf(it);
  it->next = t->iters;
  if (t->iters) t->iters->prev = it;
  t->iters = it;
  *out = it;
  return KV_OK;

fail:
  kv_mvcc_cursor_close(&it->cur);
  kv_buf_free(&it->lo);
  kv_buf_free(&it->hi);
  free(it);
  return rc;
}

/* The next own write in range that is a put or delete at it->seq. */
static kv_skl_node *iter_wbuf_candidate(kv_iter *it, const kv_wver **vout) {
  while (it->wnode) {
    kv_skl_node *n = it->wnode;
    if (!iter_in_range(it, n->key, n->klen)) {
      it->wnode = NULL;
      break;
    }
    const kv_wver *v = kv_wbuf_visible(n->val, it->seq);
    if (v->kind != KV_W_LOCK) {
      *vout = v;
      return n;
    }
    it->wnode = it->reverse ? kv_skl_prev(n) : kv_skl_next(n);
  }
  return NULL;
}

static int iter_fail(kv_iter *it, int rc, char **errptr) {
  it->done = true;
  if (rc == KV_NOMEM)
    return kv_txn_die(it->txn, KV_NOMEM, KV_RETRY_NONE, errptr,
                      "out of memory");
  return kv_txn_die(it->txn, rc, KV_RETRY_NONE, errptr, "%s",
                    errptr && *errptr ? *errptr : kv_code_name(rc));
}

/* Locks the committed row the cursor holds and reads its latest value
** (kv_txn_locking_read); *skip when it turns out to be deleted.  Runs before
** the row becomes it->last, so a refresh here covers neither the row nor
** the keys between it->last and the row (kv_iter_next reads them again). */
static int iter_lock_row(kv_iter *it, bool *skip, char **errptr) {
  kv_txn *t = it->txn;
  *skip = false;
  int rc = kv_txn_locking_read(t, it->cur.key.p, it->cur.key.n, errptr);
  if (rc == KV_NOTFOUND) {
    *skip = true;
    return KV_OK;
  }
  if (rc) {
    it->done = true;
    return rc;
  }
  /* A copy: the next read of the transaction reuses t->vbuf. */
  if (!kv_buf_set(&it->cur.vcopy, t->vbuf.p, t->vbuf.n))
    return iter_fail(it, KV_NOMEM, errptr);
  it->cur.val = it->cur.vcopy.p;
  it->cur.vlen = it->cur.vcopy.n;
  return KV_OK;
}

int kv_iter_next(kv_iter *it, char **errptr) {
  kv_txn *t = it->txn;
  int rc = kv_txn_check(t, errptr);
  if (rc) {
    it->done = true;
    return rc;
  }
  if (it->done) return KV_NOTFOUND;
  if (it->limit && it->count >= it->limit) {
    it->done = true;
    return KV_NOTFOUND;
  }
  for (;;) {
    if (it->reopen && (rc = iter_reopen(it, errptr)))
      return iter_fail(it, rc, errptr);
    if (!it->row_pending && !it->eng_done) {
      rc = kv_mvcc_cursor_next(&it->cur, errptr);
      if (rc == KV_OK)
        it->row_pending = true;
      else if (rc == KV_NOTFOUND)
        it->eng_done = true;
      else
        return iter_fail(it, rc, errptr);
    }
    const kv_wver *v = NULL;
    kv_skl_node *w = iter_wbuf_candidate(it, &v);
    if (!w && !it->row_pending) {
      it->done = it->exhausted = true;
      return KV_NOTFOUND;
    }
    bool take_own = false;
    if (w) {
      if (!it->row_pending) {
        take_own = true;
      } else {
        int c = kv_bytes_cmp(w->key, w->klen, it->cur.key.p, it->cur.key.n);
        if (c == 0) it->row_pending = false; /* own write replaces it */
        take_own = it->reverse ? c >= 0 : c <= 0;
      }
    }
    if (take_own) {
      it->wnode = it->reverse ? kv_skl_prev(w) : kv_skl_next(w);
      if (!kv_buf_set(&it->last, w->key, w->klen))
        return iter_fail(it, KV_NOMEM, errptr);
      it->have_last = true;
      if (v->kind == KV_W_DEL) continue;
      it->rv = v->val;
      it->rvl = v->vlen;
    } else {
      it->row_pending = false;
      bool skip = false;
      if (it->for_update) {
        if ((rc = iter_lock_row(it, &skip, errptr))) return rc;
        /* The lock found a newer version and the snapshot moved: the keys
        ** passed over on the way to this row were read at the old
        ** timestamp and are not yet in the observed span the refresh
        ** checked, so read on from the last row returned, at the new
        ** timestamp.  This row comes back (its lock is held: no refresh
        ** then), or not at all if it is gone. */
        if (it->reopen) continue;
      }
      /* The row's key becomes it->last by a swap, not a copy: the cursor
      ** writes its next row's key over whatever buffer it holds. */
      kv_buf k = it->last;
      it->last = it->cur.key;
      it->cur.key = k;
      it->have_last = true;
      if (skip) continue;
      it->rv = it->cur.val;
      it->rvl = it->cur.vlen;
    }
    it->rk = it->last.p;
    it->rkl = it->last.n;
    it->count++;
    return KV_OK;
  }
}

const void *kv_iter_key(kv_iter *it, size_t *klen) {
  *klen = it->rkl;
  return it->rk;
}

const void *kv_iter_value(kv_iter *it, size_t *vlen) {
  *vlen = it->rvl;
  return it->rv;
}

void kv_iter_close(kv_iter *it) {
  if (!it) return;
  kv_txn *t = it->txn;
  kv_span sp;
  if (!t->dead_rc && kv_iter_covered(it, &sp)) kv_txn_note_read(t, &sp, NULL);
  if (it->prev)
    it->prev->next = it->next;
  else
    t->iters = it->next;
  if (it->next) it->next->prev = it->prev;
  kv_mvcc_cursor_close(&it->cur);
  kv_buf_free(&it->lo);
  kv_buf_free(&it->hi);
  kv_buf_free(&it->last);
  kv_buf_free(&it->span_end);
  free(it);
}
