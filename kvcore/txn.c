/*
** txn.c — transactions: the concurrency-control protocol of kvcore.
**
** =============================================================== DESIGN ===
**
** kvcore runs CockroachDB's transaction model (pkg/kv/kvserver/concurrency,
** kv/kvclient/kvcoord) inside one process.  This comment is the map; each
** mechanism's file has its details and invariants.  This file holds a
** transaction's life up to its end: begin, reads (R), writes and locking
** reads (W), read refresh, savepoints.  Scans are in scan.c; the commit
** (C), two-phase commit and abort in commit.c.
**
** GUARANTEES
**  1. Serializable: committed transactions are equivalent to running them
**     one at a time in the order of their commit timestamps.
**  2. Strict: a transaction that begins after another's commit returned
**     reads at a higher timestamp, so it sees that commit.
**  3. Readers take no locks and never wait for a lock holder, except in a
**     transaction begun with lock_reads, whose every read is a locking read
**     (LOCKING-READ TRANSACTIONS).  A read waits
**     only for a committing transaction whose write latches cover a key it
**     reads, at or below its timestamp (a commit of more than
**     KV_LATCH_MAX_POINTS keys latches the range from its first key to its
**     last), and only while they are held: the latch window (LIFE OF A
**     COMMIT).  In kv_txn_commit that is the commit's own work: deciding
**     its timestamp, then building and writing one RocksDB batch (with the
**     WAL fsync when synchronous is full) or building and ingesting one
**     SST file.  A two-phase commit holds them from kv_txn_prepare until
**     kv_txn_commit, kv_txn_abort or kv_txn_unprepare; in the SQLite
**     extension, when a transaction also writes SQLite's own files, that
**     spans SQLite's commit of them (ext/conn.c).
**  4. Writers queue FIFO per key; deadlocks are found when they form; every
**     wait ends on an event (grant, abort, timeout), never by polling.
**  5. A commit is atomic: its versions enter the store all at once, as one
**     RocksDB write batch or, for a commit of at least
**     kv_options.ingest_bytes on an on-disk store, as one SST file that
**     RocksDB ingests atomically (engine.c).  Nothing of an uncommitted or
**     failed transaction is ever part of the store or visible to anyone: a
**     file being built lives outside the store until it is ingested, and
**     is removed when that fails or a crash interrupts it.
**
** STATE OF A TRANSACTION
**   read_ts       the snapshot its reads see; moves only forward, and only
**                 by a successful refresh.
**   write_ts      where its writes will commit: >= read_ts, pushed up by
**                 other transactions' reads (timestamp cache) and by newer
**                 committed versions (write too old).  The commit timestamp
**                 is the final write_ts.
**   write buffer  its writes and locked keys, in memory (wbuf.c).
**   read spans    the keys and ranges it read from the store (spanset.c).
**
** LIFE OF A READ (get, scan) at read_ts R
**   R1. Own writes first: a key in the write buffer answers from there.
**   R2. Timestamp cache: add(span, R, txn).                      [tscache.c]
**   R3. Latches: wait out write latches over the span at <= R.   [latch.c]
**   R4. Engine: a fresh RocksDB iterator; per key the newest version <= R.
**       Locks are not consulted: an uncommitted write lives in its writer's
**       memory, not in the store.                                  [mvcc.c]
**       A point read first asks the row cache, which answers when the
**       key's newest version is at or below R.                 [rowcache.c]
**   R5. Read spans += span.
**   In CockroachDB a reader that meets a lock at or below its timestamp
**   pushes the holder's timestamp above it (PUSH_TIMESTAMP) and goes on.
**   Here R2 is that push: the holder finds the read in the timestamp cache
**   when it commits (C2) and moves above R.  The reader neither waits nor
**   needs to know who holds a lock; only a holder that is committing
**   (latched, C1-C5) makes it wait, for its latch window.
**
** LIFE OF A WRITE (put, delete, locking read) of key K
**   W1. Lock table: take K's exclusive lock; if it is held, queue FIFO and
**       record the waits-for edge (deadlock detection), up to the lock
**       timeout.  A writer of higher priority aborts the holder instead
**       (PUSH_ABORT).                                 [locktable.c, waitq.c]
**   W2. Write too old: K's newest committed version V must end up below
**       our commit.  Every commit records its keys in the timestamp cache
**       at its commit timestamp before releasing their locks (C5), and we
**       hold K's lock, so no version of K can appear that the cache does not
**       already bound: W3's lookup covers W2 without reading the store.
**   W3. Timestamp cache: if another transaction read (or wrote) K at T >=
**       write_ts, write_ts = T.next() — strictly above, or the write would
**       change what that reader saw.
**   W4. Buffer the write with the next sequence number (for savepoints).
**   A locking read (KV_READ_FOR_UPDATE; SQL's UPDATE reads its rows so) does
**   W1-W3 and reads K's newest version; if that is above read_ts it
**   refreshes the read timestamp to just above it: the read returns the
**   latest value, and a read-modify-write waits for the lock instead of
**   failing later.  With the lock held the value cannot change again, so it
**   needs no read span; and a key locked but never written goes into the
**   timestamp cache at the commit ts with the written ones (C5), so its
**   next writer commits above us and the value read stays the one visible
**   at our commit ts.  Nor, for a bulk INSERT of ascending keys, an engine
**   read each: one total-order seek finds the next key that has any
**   version, and the keys before it are absent for as long as nothing at
**   all is written (kv_engine.write_seq; a commit bumps it before releasing
**   its locks, and we hold K's).
**
** LOCKING-READ TRANSACTIONS (kv_txn_options.lock_reads)
**   Every get and scan of such a transaction is a locking read: a get locks
**   its key, present or absent; a scan locks each committed row it
**   returns, just before returning it.  It is how a retry on hot keys stops
**   failing.  A plain read lets another writer commit the key between the
**   read and this transaction's own write or commit, and the refresh then
**   fails (WORKED RACE: A LOST UPDATE).  A locking read holds the key from
**   the read to the end, so no refresh can fail on a key it read; it waits
**   in the key's queue instead, which is an ordinary lock wait (W1): FIFO,
**   in the waits-for graph, bounded by the lock timeout.  A scan's range
**   still goes into the timestamp cache and the read spans (R2, R5): a key
**   inserted into the range by someone else is a phantom, and a refresh
**   over it fails as for any scan.  The locks are the write locks of W1 and
**   go at C5 like them; the latches of a commit are taken at C1 only, so
**   reads that lock add nothing to the latch window.  A read-only
**   transaction cannot lock, so it cannot have lock_reads.
**
** LIFE OF A COMMIT (commit.c)
**   kv_txn_prepare does C1-C4, all of a commit that can fail except the
**   write; kv_txn_commit prepares (unless the caller did) and does C5.
**   C1. Latches: write latches over the keys to write, at write_ts.
**   C2. Timestamp cache, under the latches: for each key read by another
**       transaction at T >= commit ts, commit ts = T.next().
**   C3. If commit ts > read_ts and the transaction read anything: release
**       the latches, refresh to commit ts, and go back to C1 (a new read
**       may have pushed it meanwhile; at most KV_COMMIT_ATTEMPTS rounds).
**   C4. Status PENDING -> COMMITTING: no other transaction can abort it
**       from here on.  Build the write at the commit ts: a RocksDB batch,
**       or an SST file for a large commit (guarantee 5).  The transaction
**       is then prepared: it keeps its latches and locks, and every read,
**       write, scan or savepoint call on it is KV_INVALID.
**   C5. Write the batch or ingest the file; clock.update(commit ts); the
**       written keys go into the timestamp cache at the commit ts (W2; a
**       large commit adds one range from its first key to past its last);
**       status COMMITTED; release the latches; the keys locked but not
**       written go into the timestamp cache at the commit ts too (points,
**       or one range past KV_LOCKED_POINTS_MAX); release the locks, each
**       handed to its first waiter.
**   A write that fails takes the status back to PENDING and the
**   transaction dies, having written nothing.  kv_txn_unprepare takes a
**   prepared transaction back to PENDING with its latches and its built
**   write dropped; it goes on as before (reads, writes, may be aborted,
**   prepares again).  kv_txn_abort of a prepared transaction does the same
**   and then aborts it.  Between C1 and the end of C5, or the unprepare or
**   abort, the keys are latched: readers at or above the latch timestamp
**   wait (guarantee 3).  The SQLite extension prepares in xSync and, when
**   the transaction also wrote SQLite's own files, writes in xCommit, so
**   its latch window spans SQLite's commit of those files.
**   A transaction that wrote nothing commits at its read_ts with no latch
**   and no write (CockroachDB elides its EndTxn the same way); it still
**   passes through COMMITTING, and the keys it locked still go into the
**   timestamp cache, at its read_ts, before their locks go.
**
** READ REFRESH from A to B (CockroachDB's span refresher)
**   A read of every read span at B: timestamp cache at B; latch wait at B;
**   it fails iff some span has a committed version in (A, B].  Then
**   read_ts = B and every read made at A counts as made at B.  Open
**   iterators reopen at B after the last key they returned.  A failure is a
**   retryable error and the transaction is dead.
**
** WHY THE LATCH WINDOW IS NEEDED, AND ENOUGH
**   A reader at r and a committer W deciding commit ts c <= r on key k race:
**   W checks the cache (C2) and finds no read >= c; then the reader adds its
**   read and looks at the engine before W's write lands, and misses a
**   version that lands inside its snapshot.  But W inserted its latch on k
**   (at write_ts <= c <= r) before its check, and the reader adds to the
**   cache before it looks at latches, both through mutexes.  So either W's
**   check saw the read (then c > r), or the reader saw W's latch (and waits
**   for the write), or the write was already done.  In each case the
**   reader's iterator, created after the wait, holds every version of k at
**   or below r that will ever exist.  That is also why an open iterator may
**   keep reading its snapshot while other transactions commit.
**
** WHY IT IS SERIALIZABLE
**   Order committed transactions by commit timestamp.  A transaction T that
**   commits at c and read anything has read_ts = c at commit (C3): all its
**   reads count as reads at c.  Every read of T sees exactly the writes of
**   the transactions ordered before it:
**   (a) U with commit ts u <= c wrote k, which T read at its then read_ts
**       r <= c.  If U's C2 on k came after T's R2, u > r.  Otherwise U's
**       write was visible to T's engine read (latch window) and T saw it.
**       If u > r, each refresh of T from A to B with A < u <= B either finds
**       U's version in (A, B] (T fails) or ran its own R2 at B before U's C2
**       (so u > B) or waited for U's latch and found the version.  Hence
**       u > c: contradiction.  So T saw U's write.
**   (a') T's locking read of k (it locks k, then reads the newest version
**       v, refreshing past it if v > read_ts) saw the version of k visible
**       at c: no version of k can be committed between the lock and T's
**       end, and T's commit puts k in the timestamp cache at c before it
**       releases the lock (C5), so every later version is above c (W2);
**       every earlier one is at or below v <= c.
**   (b) U with u > c: T's reads are at <= c and never see it.
**   (c) Writes: a writer holds its key's lock from its first write to its
**       commit and commits above every version committed before it locked
**       (W2), so each key's version order is its commit-ts order.
**   Equal commit timestamps are only shared by transactions that do not
**   conflict: a writer of k is pushed above every read of k (W3, C2), and a
**   second writer of k above the first (W2).  So the history is equivalent to
**   the serial one in commit-ts order.  Strictness: clock.update(c) happens
**   before the commit returns, so a later begin reads above c.
**
** SIMPLIFIED FROM COCKROACHDB FOR ONE PROCESS
**   - No intents on disk: writes are buffered and applied at once (C5), so
**     there is no intent resolution, no transaction record, no parallel
**     commit, no heartbeat (a transaction belongs to a live thread), and
**     crash recovery is RocksDB's own.  Locks are in memory (unreplicated).
**   - Readers do not scan the lock table; pushes go through the timestamp
**     cache, so the lock table needs no ordered structure.
**   - Latches are inserted by commits only; reads run optimistically and
**     then check (latch.c).
**   - One clock: no uncertainty intervals, no closed timestamps.
**   - The waits-for graph is exact and in memory (waitq.c): a deadlock is
**     found when its last edge appears, not after a 100 ms push delay.
**   - Priorities: classes LOW < NORMAL < HIGH decide PUSH_ABORT; within a
**     class, boost (retries) and age choose deadlock victims.  A retry keeps
**     its first attempt's age and gains boost, so it cannot starve there.
**
** WORKED RACE: A READ MEETS A LOCK
**   T1 (read ts 10) puts k: it holds k's lock, write_ts 10.  T2 (ts 20) gets
**   k: adds (k, 20, T2) to the cache and reads the version below 20 without
**   waiting.  T1 commits: C2 finds (k, 20): commit ts 20.1.  T1 read nothing
**   else, so no refresh is needed; had it read j, the refresh checks j over
**   (10, 20.1].  T2's snapshot does not contain T1's write: T2 is before T1.
**
** WORKED RACE: A LOST UPDATE
**   T1 and T2 read k at 10 and 11, then both put k.  T1 locks k; T2 queues.
**   T1 commits above 11 (T2's read is in the cache).  T2 gets the lock and
**   its write is pushed above T1's commit (W2), so its commit must refresh
**   its read of k, which finds T1's version: write conflict, T2 restarts.
**   With locking reads (an SQL UPDATE), T2 waits at the read instead,
**   refreshes above T1's commit and reads T1's value: no restart.
**
** WORKED RACE: A HOT KEY
**   T1 and T2 read k plainly (SQL: SELECT), then write it (UPDATE: a
**   locking read).  T1 locks k first; T2 queues, and once T1 commits its
**   locking read finds T1's version above its earlier plain read: write
**   conflict, T2 restarts.  Its retry T2' (retry_of, lock_reads) locks k at
**   its first read, queueing behind any holder, and reads the newest value;
**   from then on nobody commits k before T2' ends, so T2' commits.  A first
**   attempt T3 that read k plainly while T2' held it fails in turn, and its
**   retry queues.  Retries that lock several keys can deadlock (T2' holds a
**   and waits for b, T4' holds b and waits for a); the waits-for graph
**   aborts the lower boost, then the younger, whose next retry has a higher
**   boost.
** ==========================================================================
*/
#include "kvint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Absent locking reads before the first look for an empty gap, and the most
** a gap that keeps ending early can make the next look wait (see gap_*). */
#define KV_GAP_PROBE_AFTER 8
#define KV_GAP_PROBE_MAX 1024

/* ------------------------------------------------------------ helpers -- */

/* Logical first: see kv_txn_published_read_ts. */
static void txn_publish_read_ts(kv_txn *t) {
  atomic_store(&t->read_logical, t->read_ts.logical);
  atomic_store(&t->read_wall, t->read_ts.wall);
}

static const char *key_repr(char *buf, size_t n, const void *k, size_t kl) {
  return kv_key_repr(buf, n, k, kl);
}

void kv_txn_release_locks(kv_txn *t) {
  if (!t->wbuf_ready) return;
  kv_store *s = t->store;
  for (kv_skl_node *n = kv_skl_first(t->wbuf.skl); n; n = kv_skl_next(n)) {
    kv_wentry *e = n->val;
    kv_lock_release(&s->locks, &s->waitq, t, e->key, e->klen);
  }
}

static void txn_drop_state(kv_txn *t) {
  kv_txn_release_locks(t);
  if (t->wbuf_ready) kv_wbuf_free(&t->wbuf);
  t->wbuf_ready = false;
  kv_spanset_clear(&t->spans);
}

int kv_txn_die(kv_txn *t, int rc, kv_retry_reason reason, char **errptr,
               const char *fmt, ...) {
  if (t->dead_rc) return kv_err(errptr, t->dead_rc, "%s", t->dead_msg);
  va_list ap;
  va_start(ap, fmt);
  char *detail = kv_vmprintf(fmt, ap);
  va_end(ap);
  if (rc == KV_RETRY)
    t->dead_msg = kv_mprintf("restart transaction: %s%s%s",
                             kv_retry_reason_name(reason),
                             detail && *detail ? ": " : "",
                             detail ? detail : "");
  else
    t->dead_msg = detail ? kv_mprintf("%s", detail) : NULL;
  free(detail);
  if (!t->dead_msg) t->dead_msg = kv_mprintf("%s", kv_code_name(rc));
  t->dead_rc = rc;
  t->dead_reason = rc == KV_RETRY ? reason : KV_RETRY_NONE;
  kv_txn_leave_pending(t, kv_status_word(KV_TXN_ABORTED, reason));
  assert(kv_txn_state(t) == KV_TXN_ABORTED); /* never dies committing */
  if (rc == KV_RETRY) KV_STAT_INC(t->store, retries[reason]);
  /* A dead transaction cannot commit: let others have its keys now. */
  txn_drop_state(t);
  return kv_err(errptr, rc, "%s", t->dead_msg ? t->dead_msg : "dead");
}

int kv_txn_check(kv_txn *t, char **errptr) {
  if (t->dead_rc) return kv_err(errptr, t->dead_rc, "%s", t->dead_msg);
  if (t->prepared)
    return kv_err(errptr, KV_INVALID,
                  "the transaction is prepared: commit or abort it");
  if (kv_txn_state(t) == KV_TXN_ABORTED) {
    kv_retry_reason r = kv_txn_abort_reason(t);
    return kv_txn_die(t, KV_RETRY, r, errptr, "%s",
                      r == KV_RETRY_DEADLOCK
                          ? "chosen as the victim of a deadlock"
                          : "aborted by another transaction");
  }
  return KV_OK;
}

static int txn_nomem(kv_txn *t, char **errptr) {
  return kv_txn_die(t, KV_NOMEM, KV_RETRY_NONE, errptr, "out of memory");
}

/* ------------------------------------------------------------- begin -- */

void kv_txn_options_init(kv_txn_options *o) {
  memset(o, 0, sizeof(*o));
  o->priority = KV_PRIORITY_NORMAL;
  o->lock_timeout_ms = -1;
}

void kv_txn_free(kv_txn *t) {
  /* The iterator goes back before t leaves the table: a reopen of the
  ** engine (engine.c, REOPEN) waits for an empty table, not for it. */
  if (t->view) { /* a reader's: its own iterator on its own view */
    if (t->pit) rocksdb_iter_destroy(t->pit);
    kv_reader_release(&t->store->eng, t->view);
  } else {
    kv_engine_iter_put(&t->store->eng, KV_ITER_POINT, t->pit, t->pit_seq);
  }
  kv_txntable_unregister(&t->store->txns, t);
  if (t->wbuf_ready) kv_wbuf_free(&t->wbuf);
  kv_spanset_free(&t->spans);
  kv_buf_free(&t->vbuf);
  kv_buf_free(&t->kbuf);
  kv_buf_free(&t->gap_lo);
  kv_buf_free(&t->gap_hi);
  /* Counted once here, not per read: a bulk load's reads would each write
  ** the store's shared counter line. */
  if (t->gap_reads)
    atomic_fetch_add_explicit(&t->store->st.reads_from_gap, t->gap_reads,
                              memory_order_relaxed);
  for (int i = 0; i < KV_RECENT_READS; i++) {
    kv_buf_free(&t->recent[i].key);
    kv_buf_free(&t->recent[i].val);
  }
  free(t->dead_msg);
  kv_buf_free(&t->dead_key);
  pthread_mutex_destroy(&t->wmu);
  pthread_cond_destroy(&t->wcond);
  free(t);
}

static int txn_reopen_engine(void *ctx, char **errptr) {
  kv_store *s = ctx;
  int rc = kv_engine_reopen(&s->eng, errptr);
  if (rc != KV_BUSY) kv_rowcache_clear(s->rowcache); /* a new instance */
  return rc;
}

int kv_txn_begin(kv_store *s, const kv_txn_options *opts, kv_txn **out,
                 char **errptr) {
  kv_txn_options dflt;
  if (!opts) {
    kv_txn_options_init(&dflt);
    opts = &dflt;
  }
  *out = NULL;
  if (!kv_ts_is_zero(opts->read_ts) && !opts->read_only)
    return kv_err(errptr, KV_INVALID,
                  "a read timestamp in the past needs a read-only "
                  "transaction");
  if (opts->priority < KV_PRIORITY_LOW || opts->priority > KV_PRIORITY_HIGH)
    return kv_err(errptr, KV_INVALID, "priority %d is not one of "
                  "KV_PRIORITY_LOW/NORMAL/HIGH", opts->priority);
  if (opts->lock_reads && opts->read_only)
    return kv_err(errptr, KV_INVALID,
                  "a read-only transaction cannot lock what it reads");
  if (kv_engine_wants_reopen(&s->eng)) {
    /* A fatal write failure: reopen RocksDB now if no transaction is
    ** live (engine.c, REOPEN).  If that fails, writes go on failing with
    ** the reason (the engine's failed state) and reads go on. */
    char *err = NULL;
    kv_txntable_when_empty(&s->txns, txn_reopen_engine, s, &err);
    free(err);
  }
  kv_txn *t = calloc(1, sizeof(*t));
  if (!t) return kv_err(errptr, KV_NOMEM, "out of memory");
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&t->wcond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&t->wmu, NULL);
  t->store = s;
  t->id = atomic_fetch_add(&s->next_txn_id, 1) + 1;
  /* On a reader store every transaction reads only, from a view of its
  ** own caught up now (reader.c); its writes fail with KV_READONLY. */
  bool reader = s->eng.reader != NULL;
  t->read_only = opts->read_only || reader;
  t->lock_reads = opts->lock_reads != 0 && !reader;
  t->lock_timeout_ms = opts->lock_timeout_ms >= 0
                           ? opts->lock_timeout_ms
                           : atomic_load(&s->lock_timeout_ms);
  kv_spanset_init(&t->spans, s->opts.refresh_span_bytes);
  t->gap_every = KV_GAP_PROBE_AFTER;

  int rc;
  if (reader && (rc = kv_reader_acquire(&s->eng, &t->view, errptr)))
    goto fail;
  if (reader && !kv_ts_is_zero(opts->read_ts)) {
    if (kv_ts_lt(t->view->ts, opts->read_ts)) {
      rc = kv_err(errptr, KV_INVALID, "read timestamp is in the future");
      goto fail;
    }
    t->read_ts = opts->read_ts;
  } else if (reader) {
    t->read_ts = t->view->ts;
  } else if (!kv_ts_is_zero(opts->read_ts)) {
    kv_ts now = kv_clock_peek(&s->clock);
    if (kv_ts_lt(now, opts->read_ts)) {
      rc = kv_err(errptr, KV_INVALID, "read timestamp is in the future");
      goto fail;
    }
    t->read_ts = opts->read_ts;
  } else if ((rc = kv_clock_now(&s->clock, &t->read_ts, errptr))) {
    goto fail;
  }
  kv_txn_set_write_ts(t, t->read_ts);
  txn_publish_read_ts(t);
  if (opts->retry_of) {
    t->age = opts->retry_of->age;
    t->priority = opts->retry_of->priority;
    t->boost = opts->retry_of->boost < 1000000 ? opts->retry_of->boost + 1
                                               : opts->retry_of->boost;
  } else {
    t->age = t->read_ts;
    t->priority = opts->priority;
  }
  if ((rc = kv_txntable_register(&s->txns, t, errptr))) goto fail;
  KV_STAT_INC(s, txns_begun);
  if (t->lock_reads) KV_STAT_INC(s, txns_lock_reads);
  *out = t;
  return KV_OK;

fail:
  if (t->view) kv_reader_release(&s->eng, t->view);
  kv_spanset_free(&t->spans);
  pthread_mutex_destroy(&t->wmu);
  pthread_cond_destroy(&t->wcond);
  free(t);
  return rc;
}

/* ------------------------------------------------------------- reads -- */

void kv_txn_prepare_read(kv_txn *t, const kv_span *sp, kv_ts ts) {
  kv_store *s = t->store;
  kv_tscache_add(s->tscache, sp, ts, t->id);
  kv_latch_wait_read(&s->latches, sp, ts);
}

int kv_txn_note_read(kv_txn *t, const kv_span *sp, char **errptr) {
  if (t->read_only) return KV_OK;
  if (kv_spanset_add(&t->spans, sp) < 0) return txn_nomem(t, errptr);
  if (t->spans.bytes > t->spans.budget && !kv_spanset_condense(&t->spans))
    return txn_nomem(t, errptr);
  return KV_OK;
}

/* What an open iterator (scan.c) has observed: [lo, last key returned], or
** [lo, hi) once exhausted; mirrored for reverse scans. */
bool kv_iter_covered(kv_iter *it, kv_span *out) {
  if (!it->have_last && !it->exhausted) return false;
  memset(out, 0, sizeof(*out));
  out->is_range = 1;
  if (!it->reverse) {
    out->start = it->lo.p;
    out->slen = it->lo.n;
    if (it->exhausted) {
      out->end = it->hi.p;
      out->elen = it->hi.n;
      out->end_inf = it->hi_inf;
    } else {
      /* [lo, last] is [lo, last‖0x00) */
      if (!kv_buf_reserve(&it->span_end, it->last.n + 1)) {
        out->end_inf = 1; /* cannot build the bound: widen instead */
        return true;
      }
      memcpy(it->span_end.p, it->last.p, it->last.n);
      it->span_end.p[it->last.n] = 0;
      out->end = it->span_end.p;
      out->elen = it->last.n + 1;
    }
  } else {
    out->end = it->hi.p;
    out->elen = it->hi.n;
    out->end_inf = it->hi_inf;
    out->start = it->exhausted ? it->lo.p : it->last.p;
    out->slen = it->exhausted ? it->lo.n : it->last.n;
  }
  return true;
}

/* The spans the transaction has read: its set plus what its open iterators
** have observed.  Calls fn for each; stops at the first non-OK result. */
static int txn_each_span(kv_txn *t, int (*fn)(kv_txn *, const kv_span *,
                                               void *),
                         void *ctx) {
  for (size_t i = 0; i < t->spans.n; i++) {
    int rc = fn(t, &t->spans.v[i], ctx);
    if (rc) return rc;
  }
  for (kv_iter *it = t->iters; it; it = it->next) {
    kv_span sp;
    if (!kv_iter_covered(it, &sp)) continue;
    int rc = fn(t, &sp, ctx);
    if (rc) return rc;
  }
  return KV_OK;
}

typedef struct refresh_ctx {
  kv_ts from, to;
  rocksdb_iterator_t *it;
  kv_buf key;
  kv_ts when;
  bool changed;
  char **errptr;
} refresh_ctx;

static int refresh_publish(kv_txn *t, const kv_span *sp, void *ctx) {
  refresh_ctx *r = ctx;
  kv_txn_prepare_read(t, sp, r->to);
  return KV_OK;
}

static int refresh_check(kv_txn *t, const kv_span *sp, void *ctx) {
  refresh_ctx *r = ctx;
  int rc = kv_mvcc_changed(r->it, &t->kbuf, sp, r->from, r->to, &r->changed,
                           &r->key, &r->when, r->errptr);
  if (rc) return rc;
  return r->changed ? KV_RETRY : KV_OK;
}

int kv_txn_refresh(kv_txn *t, kv_ts to, char **errptr) {
  if (kv_ts_le(to, t->read_ts)) return KV_OK;
  kv_store *s = t->store;
  refresh_ctx r = {.from = t->read_ts, .to = to, .errptr = errptr};
  kv_buf_init(&r.key);
  txn_each_span(t, refresh_publish, &r);
  uint64_t seq;
  r.it = kv_engine_iter_get(&s->eng, KV_ITER_SCAN, &seq);
  int rc = r.it ? txn_each_span(t, refresh_check, &r) : KV_NOMEM;
  kv_engine_iter_put(&s->eng, KV_ITER_SCAN, r.it, seq);
  if (rc == KV_RETRY) {
    KV_STAT_INC(s, refresh_failures);
    char kb[160];
    key_repr(kb, sizeof kb, r.key.p, r.key.n);
    bool wrote = t->wbuf_ready && kv_wbuf_find(&t->wbuf, r.key.p, r.key.n);
    if (!t->dead_rc) kv_buf_set(&t->dead_key, r.key.p, r.key.n);
    rc = kv_txn_die(
        t, KV_RETRY,
        wrote ? KV_RETRY_WRITE_CONFLICT : KV_RETRY_READ_REFRESH, errptr,
        "key '%s' was written at %llu.%u, after this transaction read it at "
        "%llu.%u",
        kb, (unsigned long long)r.when.wall, r.when.logical,
        (unsigned long long)r.from.wall, r.from.logical);
  } else if (rc == KV_NOMEM) {
    rc = txn_nomem(t, errptr);
  } else if (rc) {
    rc = kv_txn_die(t, rc, KV_RETRY_NONE, errptr, "refresh failed: %s",
                    errptr && *errptr ? *errptr : kv_code_name(rc));
  } else {
    KV_STAT_INC(s, refreshes);
    t->read_ts = to;
    txn_publish_read_ts(t);
    kv_txn_forward_write_ts(t, to);
    for (kv_iter *it = t->iters; it; it = it->next) it->reopen = true;
  }
  kv_buf_free(&r.key);
  return rc;
}

int kv_txn_lock_key(kv_txn *t, const void *key, size_t klen, kv_wentry **out,
                    char **errptr) {
  kv_store *s = t->store;
  if (!t->wbuf_ready) {
    if (!kv_wbuf_init(&t->wbuf)) return txn_nomem(t, errptr);
    t->wbuf_ready = true;
  }
  kv_wentry *e = kv_wbuf_find(&t->wbuf, key, klen);
  if (e) {
    *out = e;
    return KV_OK;
  }
  bool newly;
  kv_retry_reason reason = KV_RETRY_NONE;
  int rc = kv_lock_acquire(&s->locks, &s->waitq, t, key, klen, &newly, &reason);
  if (rc == KV_RETRY) {
    char kb[160];
    key_repr(kb, sizeof kb, key, klen);
    if (!t->dead_rc) kv_buf_set(&t->dead_key, key, klen);
    if (reason == KV_RETRY_LOCK_TIMEOUT)
      return kv_txn_die(t, KV_RETRY, reason, errptr,
                        "waited more than %d ms for the lock on key '%s'",
                        t->lock_timeout_ms, kb);
    return kv_txn_die(t, KV_RETRY, reason, errptr,
                      "while waiting for the lock on key '%s'", kb);
  }
  if (rc) return txn_nomem(t, errptr);
  e = kv_wbuf_add(&t->wbuf, key, klen);
  if (!e) {
    kv_lock_release(&s->locks, &s->waitq, t, key, klen);
    return txn_nomem(t, errptr);
  }
  /* W2 + W3: commits record their keys in the timestamp cache at their
  ** commit timestamp (C5) before they release their locks, so with the
  ** lock held this one lookup bounds both every read of key and every
  ** committed version of it: no engine read is needed to write. */
  kv_ts rts = kv_tscache_max(s->tscache, key, klen, t->id,
                             kv_txn_get_write_ts(t));
  if (kv_ts_le(kv_txn_get_write_ts(t), rts)) {
    kv_txn_forward_write_ts(t, kv_ts_next(rts));
    KV_STAT_INC(s, pushes_tscache);
  }
  *out = e;
  return KV_OK;
}

/* Remembers a plain read of key at read_ts (found: with value v). */
static void recent_note(kv_txn *t, const void *key, size_t klen, bool found,
                        const void *v, size_t vl) {
  int i = t->recent_next;
  t->recent_next = (i + 1) % KV_RECENT_READS;
  t->recent[i].valid = kv_buf_set(&t->recent[i].key, key, klen) &&
                       (!found || kv_buf_set(&t->recent[i].val, v, vl));
  t->recent[i].found = found;
}

/* A recent plain read of key, or -1. */
static int recent_find(kv_txn *t, const void *key, size_t klen) {
  for (int i = 0; i < KV_RECENT_READS; i++)
    if (t->recent[i].valid && t->recent[i].key.n == klen &&
        (klen == 0 || memcmp(t->recent[i].key.p, key, klen) == 0))
      return i;
  return -1;
}

/* The absent-key gap (kv_txn.gap_*).  A locking read holds the key's lock,
** so any commit of that key finished before we took it, and a commit bumps
** the engine's write sequence before it lets its locks go.  A gap seen by
** an iterator made at sequence S therefore still holds for a locked key
** while the sequence is S: nothing has been written since, anywhere. */
static bool gap_covers(kv_txn *t, const void *key, size_t klen) {
  if (!t->gap_valid) return false;
  if (t->gap_seq != atomic_load(&t->store->eng.write_seq)) {
    t->gap_valid = false;
    return false;
  }
  if (kv_bytes_cmp(key, klen, t->gap_lo.p, t->gap_lo.n) < 0) return false;
  if (!t->gap_hi_inf && kv_bytes_cmp(key, klen, t->gap_hi.p, t->gap_hi.n) >= 0)
    return false;
  t->gap_hits++;
  t->gap_reads++;
  return true;
}


/* key has no version: after enough such reads, look for the next key that
** has one (a total-order seek, which the prefix-filtered point iterator
** cannot do) and keep [key, next) as the gap.  A gap that served few reads
** before a write elsewhere ended it makes the next probe wait longer, so
** inserts between other writers' commits cost at most one seek in eight. */
static void gap_note_absent(kv_txn *t, const void *key, size_t klen) {
  if (++t->gap_misses < t->gap_every) return;
  t->gap_misses = 0;
  if (!t->gap_probed || t->gap_hits >= KV_GAP_PROBE_AFTER)
    t->gap_every = KV_GAP_PROBE_AFTER;
  else if (t->gap_every < KV_GAP_PROBE_MAX)
    t->gap_every *= 2;
  t->gap_probed = true;
  t->gap_hits = 0;
  t->gap_valid = false;
  kv_engine *e = &t->store->eng;
  uint64_t seq; /* the writes it sees */
  rocksdb_iterator_t *it = kv_engine_iter_get(e, KV_ITER_SCAN, &seq);
  if (!it) return;
  bool none;
  int rc = kv_mvcc_next_key(it, &t->kbuf, key, klen, &t->gap_hi, &none, NULL);
  kv_engine_iter_put(e, KV_ITER_SCAN, it, seq);
  if (rc != KV_OK) return; /* only a shortcut: reads go to the engine */
  if (!none && kv_bytes_cmp(t->gap_hi.p, t->gap_hi.n, key, klen) <= 0)
    return; /* key was written meanwhile */
  if (!kv_buf_set(&t->gap_lo, key, klen)) return;
  t->gap_hi_inf = none;
  t->gap_seq = seq;
  t->gap_valid = true;
}

/* The transaction's point iterator, made to see every write completed
** before the call (a commit since its last read needs a refresh, not a new
** iterator). */
static rocksdb_iterator_t *txn_point_iter(kv_txn *t) {
  kv_engine *e = &t->store->eng;
  if (t->view) { /* the view never changes: one iterator serves */
    if (!t->pit) t->pit = kv_view_iter(e, t->view, KV_ITER_POINT);
    return t->pit;
  }
  t->pit = t->pit ? kv_engine_iter_fresh(e, KV_ITER_POINT, t->pit, &t->pit_seq)
                  : kv_engine_iter_get(e, KV_ITER_POINT, &t->pit_seq);
  return t->pit;
}

int kv_txn_locking_read(kv_txn *t, const void *key, size_t klen,
                        char **errptr) {
  kv_wentry *e;
  int rc = kv_txn_lock_key(t, key, klen, &e, errptr);
  if (rc) return rc;
  /* With the lock held nobody can commit key until we end, and our commit
  ** puts key in the timestamp cache before it lets the lock go (commit.c),
  ** so its newest version is the one visible at our commit timestamp; no
  ** latch wait, timestamp-cache entry or read span is needed now. */
  kv_store *s = t->store;
  /* Read at read_ts a moment ago?  Every version of key at or below
  ** read_ts was final then (our read is in the timestamp cache, R2-R3),
  ** and every commit of key since would have put its timestamp above
  ** read_ts in the cache (C5).  So if the cache holds nothing of others
  ** above read_ts, the value read then is the newest: no engine read.  A
  ** refresh since keeps it: it checked that key did not change. */
  int ri = recent_find(t, key, klen);
  if (ri >= 0 &&
      kv_ts_le(kv_tscache_max(s->tscache, key, klen, t->id,
                              kv_ts_next(t->read_ts)),
               t->read_ts)) {
    if (!t->recent[ri].found) return KV_NOTFOUND;
    if (!kv_buf_set(&t->vbuf, t->recent[ri].val.p, t->recent[ri].val.n))
      return txn_nomem(t, errptr);
    return KV_OK;
  }
  if (gap_covers(t, key, klen)) return KV_NOTFOUND;
  kv_ts vts;
  kv_rowcache *cache = t->view ? NULL : s->rowcache;
  kv_rc_ticket ticket;
  int hit = cache ? kv_rowcache_get(cache, key, klen, KV_TS_MAX, &t->vbuf,
                                    &vts, &ticket)
                  : 0;
  if (hit < 0) return txn_nomem(t, errptr);
  if (hit) {
    rc = KV_OK;
  } else {
    rocksdb_iterator_t *it = txn_point_iter(t);
    if (!it) return txn_nomem(t, errptr);
    const char *v;
    size_t vl;
    rc = kv_mvcc_get(it, &t->kbuf, key, klen, KV_TS_MAX, &v, &vl, &vts,
                     errptr);
    if (rc == KV_OK && !kv_buf_set(&t->vbuf, v, vl)) rc = KV_NOMEM;
    if (rc == KV_NOMEM) return txn_nomem(t, errptr);
    if (rc != KV_OK && rc != KV_NOTFOUND)
      return kv_txn_die(t, rc, KV_RETRY_NONE, errptr, "%s",
                        errptr && *errptr ? *errptr : kv_code_name(rc));
    if (rc == KV_NOTFOUND && kv_ts_eq(vts, KV_TS_ZERO))
      gap_note_absent(t, key, klen);
    /* The lock is ours: what we read is the newest, and stays so. */
    if (rc == KV_OK && cache)
      kv_rowcache_put(cache, &ticket, key, klen, vts, t->vbuf.p, t->vbuf.n);
  }
  if (kv_ts_lt(t->read_ts, vts)) {
    /* Newer than our snapshot: move the snapshot just above it. */
    kv_txn_forward_write_ts(t, kv_ts_next(vts));
    int frc = kv_txn_refresh(t, kv_ts_next(vts), errptr);
    if (frc) return frc;
  }
  return rc;
}

int kv_txn_get(kv_txn *t, const void *key, size_t klen, int flags,
               const void **pval, size_t *plen, char **errptr) {
  int rc = kv_txn_check(t, errptr);
  if (rc) return rc;
  if (!key && klen) return kv_err(errptr, KV_INVALID, "NULL key");
  /* On a reader nobody in this process can write: a plain read is as
  ** good as a locking one (the catalog locks what it reads to create). */
  if (t->view) flags &= ~KV_READ_FOR_UPDATE;
  if ((flags & KV_READ_FOR_UPDATE) && t->read_only)
    return kv_err(errptr, KV_INVALID,
                  "a read-only transaction cannot lock keys");
  if (t->lock_reads) flags |= KV_READ_FOR_UPDATE;
  kv_wentry *e = t->wbuf_ready ? kv_wbuf_find(&t->wbuf, key, klen) : NULL;
  if (e) { /* R1: own writes */
    const kv_wver *v = kv_wbuf_visible(e, t->wbuf.seq);
    if (v->kind == KV_W_PUT) {
      *pval = v->val;
      *plen = v->vlen;
      return KV_OK;
    }
    if (v->kind == KV_W_DEL) return KV_NOTFOUND;
  }
  if (flags & KV_READ_FOR_UPDATE) {
    rc = kv_txn_locking_read(t, key, klen, errptr);
    if (rc == KV_OK) {
      *pval = t->vbuf.p;
      *plen = t->vbuf.n;
    }
    return rc;
  }
  kv_span sp = {.start = key, .slen = klen};
  kv_txn_prepare_read(t, &sp, t->read_ts);
  const char *v;
  size_t vl;
  kv_ts vts;
  kv_rowcache *cache = t->view ? NULL : t->store->rowcache;
  kv_rc_ticket ticket;
  /* R4 from the row cache (its ticket comes before the iterator). */
  int hit = cache ? kv_rowcache_get(cache, key, klen, t->read_ts, &t->vbuf,
                                    &vts, &ticket)
                  : 0;
  if (hit < 0) return txn_nomem(t, errptr);
  if (hit) {
    rc = KV_OK;
    v = t->vbuf.p;
    vl = t->vbuf.n;
  } else {
    rocksdb_iterator_t *it = txn_point_iter(t);
    if (!it) return txn_nomem(t, errptr);
    bool newest = false;
    rc = cache ? kv_mvcc_get_newest(it, &t->kbuf, key, klen, t->read_ts, &v,
                                    &vl, &vts, &newest, errptr)
               : kv_mvcc_get(it, &t->kbuf, key, klen, t->read_ts, &v, &vl,
                             &vts, errptr);
    if (rc == KV_NOMEM) return txn_nomem(t, errptr);
    if (rc != KV_OK && rc != KV_NOTFOUND)
      return kv_txn_die(t, rc, KV_RETRY_NONE, errptr, "%s",
                        errptr && *errptr ? *errptr : kv_code_name(rc));
    if (newest) kv_rowcache_put(cache, &ticket, key, klen, vts, v, vl);
  }
  int nrc = kv_txn_note_read(t, &sp, errptr);
  if (nrc) return nrc;
  if (!t->read_only) recent_note(t, key, klen, rc == KV_OK, v, vl);
  if (rc == KV_OK) { /* borrowed from t->pit or t->vbuf: no copy */
    *pval = v;
    *plen = vl;
  }
  return rc;
}

/* ------------------------------------------------------------ writes -- */

static int txn_write(kv_txn *t, const void *key, size_t klen, int kind,
                     const void *val, size_t vlen, char **errptr) {
  int rc = kv_txn_check(t, errptr);
  if (rc) return rc;
  if (t->view) return kv_reader_refuse(&t->store->eng, errptr);
  if (t->read_only)
    return kv_err(errptr, KV_INVALID, "cannot write in a read-only "
                  "transaction");
  if ((!key && klen) || (!val && vlen))
    return kv_err(errptr, KV_INVALID, "NULL key or value");
  kv_wentry *e;
  if ((rc = kv_txn_lock_key(t, key, klen, &e, errptr))) return rc;
  if (kind == KV_W_LOCK) return KV_OK;
  if (!kv_wbuf_write(&t->wbuf, e, kind, val, vlen)) return txn_nomem(t, errptr);
  return KV_OK;
}

int kv_txn_put(kv_txn *t, const void *key, size_t klen, const void *val,
               size_t vlen, char **errptr) {
  return txn_write(t, key, klen, KV_W_PUT, val ? val : "", vlen, errptr);
}

int kv_txn_delete(kv_txn *t, const void *key, size_t klen, char **errptr) {
  return txn_write(t, key, klen, KV_W_DEL, NULL, 0, errptr);
}

int kv_txn_lock(kv_txn *t, const void *key, size_t klen, char **errptr) {
  return txn_write(t, key, klen, KV_W_LOCK, NULL, 0, errptr);
}

/* -------------------------------------------------------- savepoints -- */

int kv_txn_savepoint(kv_txn *t, uint32_t *mark, char **errptr) {
  int rc = kv_txn_check(t, errptr);
  if (rc) return rc;
  *mark = t->wbuf_ready ? t->wbuf.seq : 0;
  return KV_OK;
}

int kv_txn_rollback_to(kv_txn *t, uint32_t mark, char **errptr) {
  int rc = kv_txn_check(t, errptr);
  if (rc) return rc;
  if (!t->wbuf_ready) return KV_OK;
  if (mark > t->wbuf.seq)
    return kv_err(errptr, KV_INVALID, "savepoint %u is not of this "
                  "transaction", mark);
  kv_wbuf_rollback(&t->wbuf, mark);
  return KV_OK;
}

/* --------------------------------------------------------- accessors -- */

uint64_t kv_txn_id(const kv_txn *t) { return t->id; }
kv_ts kv_txn_read_ts(const kv_txn *t) { return t->read_ts; }
int kv_txn_has_writes(const kv_txn *t) {
  return t->wbuf_ready && t->wbuf.nwrites > 0;
}
kv_ts kv_txn_write_ts(const kv_txn *t) { return kv_txn_get_write_ts(t); }
int kv_txn_is_dead(const kv_txn *t) {
  return t->dead_rc != 0 || kv_txn_state(t) == KV_TXN_ABORTED;
}

kv_retry_reason kv_txn_retry_reason(const kv_txn *t) {
  if (t->dead_rc) return t->dead_reason;
  if (kv_txn_state(t) == KV_TXN_ABORTED) return kv_txn_abort_reason(t);
  return KV_RETRY_NONE;
}

const void *kv_txn_retry_key(const kv_txn *t, size_t *klen) {
  *klen = t->dead_key.n;
  return t->dead_rc == KV_RETRY && t->dead_key.p ? t->dead_key.p : NULL;
}

void kv_txn_retry_info(const kv_txn *t, kv_retry_info *out) {
  out->age = t->age;
  out->priority = t->priority;
  out->boost = t->boost;
}

void kv_txn_set_lock_timeout(kv_txn *t, int ms) {
  t->lock_timeout_ms = ms < 0 ? 0 : ms;
}

void kv_txn_set_lock_timeout_fn(kv_txn *t, int (*fn)(void *), void *ctx) {
  t->lock_timeout_fn = fn;
  t->lock_timeout_ctx = ctx;
}
