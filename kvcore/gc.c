/*
** gc.c — garbage collection of old versions, and the thread that runs it.
**
** The GC threshold is min(now - retention, the oldest live read timestamp),
** published through the transaction table (txntable.c), whose header
** comment states the invariant that makes it safe: a transaction is either
** seen by GC or sees the new threshold.  The threshold only rises.  For
** each key, versions above the threshold are kept, and so is the newest one
** at or below it (what a read at the threshold sees) unless that one is a
** deletion; everything older goes (CockroachDB's gc.isGarbage).  So nothing
** an admitted reader can see is ever collected.  Deletions are ordinary
** RocksDB deletes of the exact version keys, in batches of GC_BATCH; they
** never touch versions above the threshold, so they cannot race with
** commits, which only add versions above every reader.
**
** The GC thread (kv_options.gc_interval_ms > 0) runs kv_store_gc() every
** interval until the store closes: a ticker (ticker.c), so closing the
** store wakes and joins it at once, and kv_store_set_gc wakes it to start
** waiting again with a new interval (never a pass of its own).  The
** retention window and the interval are atomics, read afresh by each pass
** and each wait.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GC_BATCH 1000

static kv_ts gc_pick_threshold(kv_store *s) {
  kv_ts now;
  if (kv_clock_now(&s->clock, &now, NULL)) now = kv_clock_peek(&s->clock);
  uint64_t keep = (uint64_t)atomic_load(&s->retention_ms) * 1000000ULL;
  kv_ts horizon = {now.wall > keep ? now.wall - keep : 0, 0};
  return kv_txntable_gc_threshold(&s->txns, horizon);
}

int kv_store_gc(kv_store *s, kv_gc_stats *stats, char **errptr) {
  if (s->eng.reader) return kv_reader_refuse(&s->eng, errptr);
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
    size_t ulen;
    kv_ts ts;
    if (!kv_vkey_split(ek, eklen, &ulen, &ts)) {
      rc = kv_mvcc_key_corrupt(ek, eklen, errptr);
      break;
    }
    /* key holds the current encoded user key: no decoding needed. */
    if (!key.p || ulen != key.n || memcmp(ek, key.p, ulen) != 0) {
      if (!kv_buf_set(&key, ek, ulen)) {
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
  kv_engine_iter_done(&s->eng, it);
  kv_buf_free(&key);
  atomic_fetch_add(&s->gc_runs, 1);
  atomic_fetch_add(&s->gc_deleted, st.versions_deleted);
  if (stats) *stats = st;
  return rc;
}

/* ----------------------------------------------------------- GC thread -- */

static uint64_t gc_period_ns(void *arg) {
  kv_store *s = arg;
  return (uint64_t)atomic_load(&s->gc_interval_ms) * 1000000ULL;
}

static void gc_tick(void *arg) { kv_store_gc(arg, NULL, NULL); }

int kv_gc_start(kv_store *s, char **errptr) {
  /* A reader collects nothing: the writer's GC does. */
  if (s->opts.gc_interval_ms <= 0 || s->eng.reader) return KV_OK;
  if (!kv_ticker_start(&s->gc, gc_period_ns, gc_tick, s))
    return kv_err(errptr, KV_NOMEM, "cannot start the GC thread");
  return KV_OK;
}

void kv_store_set_gc(kv_store *s, int64_t retention_ms, int64_t interval_ms) {
  if (retention_ms >= 0) atomic_store(&s->retention_ms, retention_ms);
  if (interval_ms <= 0 || !s->gc.running) return;
  /* The thread waits again with the new interval. */
  if (atomic_exchange(&s->gc_interval_ms, interval_ms) != interval_ms)
    kv_ticker_wake(&s->gc);
}

void kv_gc_stop(kv_store *s) { kv_ticker_stop(&s->gc); }
