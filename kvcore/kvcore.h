/*
** kvcore.h — the public interface of the transaction core.
**
** kvcore is a transactional, multi-version key-value store on RocksDB,
** modelled on CockroachDB's KV layer and adapted to one process: MVCC with
** versioned keys, a hybrid logical clock, exclusive write locks held to
** commit, lock-free optimistic reads, a timestamp cache, read refresh, a
** latch manager, a lock table with FIFO wait queues, and a wait-for graph
** that detects deadlocks.  Every committed transaction is serializable, and
** also strictly so: a transaction that begins after another one's commit
** returned sees it.  The protocol is described at the top of txn.c.
**
** Keys and values are byte strings.  Keys compare bytewise (memcmp, shorter
** prefix first).  The empty key is the smallest key.
**
** Conventions (as in RocksDB's C API):
**  - Handles are opaque.  Every function that can fail returns an int code
**    (KV_OK on success) and takes a `char **errptr`: on failure, when errptr
**    is not NULL, *errptr is set to a malloc'd, human-readable message that
**    the caller frees with kv_free() (a message already in *errptr is freed
**    first).  errptr may be NULL.
**  - Memory that a function "returns borrowed" stays valid until the next
**    call on the same handle, unless said otherwise.
**  - A store is thread safe.  A transaction (and its iterators) must be used
**    by one thread at a time; any number of threads may each run their own
**    transactions.
*/
#ifndef KVCORE_H
#define KVCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kv_store kv_store;
typedef struct kv_txn kv_txn;
typedef struct kv_iter kv_iter;

/* ---------------------------------------------------------------- codes -- */

enum {
  KV_OK = 0,
  KV_NOTFOUND = 1,  /* a get found no value (not an error for the txn) */
  KV_RETRY = 2,     /* retryable conflict: the transaction is dead; abort it
                    ** and run it again (kv_txn_retry_reason() says why) */
  KV_IOERR = 3,     /* the storage failed to read or write */
  KV_CORRUPT = 4,   /* the directory is not a kvcore store, or is damaged */
  KV_INVALID = 5,   /* bad argument or misuse (the transaction is unharmed,
                    ** except where a function says otherwise) */
  KV_BUSY = 6,      /* the store is in use by another process */
  KV_NOMEM = 7,     /* out of memory */
  KV_READONLY = 8,  /* a write to a store this process only reads (another
                    ** process writes it: kv_store_is_reader()) */
  KV_FULL = 9       /* the storage is full (ENOSPC): the write failed and
                    ** had no effect; writes work again once space is
                    ** back (kv_store_health) */
};

/* Why a transaction failed with KV_RETRY. */
typedef enum kv_retry_reason {
  KV_RETRY_NONE = 0,
  KV_RETRY_WRITE_CONFLICT,   /* a key it read and wrote was written by a
                             ** concurrent transaction after it read it */
  KV_RETRY_READ_REFRESH,     /* its timestamp was pushed and a key or range
                             ** it read changed in between */
  KV_RETRY_DEADLOCK,         /* chosen as the victim of a deadlock cycle */
  KV_RETRY_LOCK_TIMEOUT,     /* waited for a lock longer than its timeout */
  KV_RETRY_ABORTED_PRIORITY  /* aborted by a higher-priority transaction */
} kv_retry_reason;

/* Returns a static name for a code ("ok", "not found", ...). */
const char *kv_code_name(int rc);
/* Returns a static phrase for a retry reason ("write conflict", ...). */
const char *kv_retry_reason_name(kv_retry_reason);
/* Frees memory that kvcore handed to the caller (error messages). */
void kv_free(void *p);
/* The order of keys in a store: memcmp, then the shorter first; <0, 0, >0. */
int kv_key_cmp(const void *a, size_t an, const void *b, size_t bn);

/* ------------------------------------------------------------ timestamps -- */

/* A hybrid logical clock timestamp: wall nanoseconds since the Unix epoch,
** then a logical counter that orders events within one wall tick. */
typedef struct kv_ts {
  uint64_t wall;
  uint32_t logical;
} kv_ts;

/* -1, 0 or 1 as a is before, equal to or after b. */
int kv_ts_cmp(kv_ts a, kv_ts b);

/* ----------------------------------------------------------------- store -- */

typedef enum kv_sync {
  KV_SYNC_FULL = 0,   /* a commit that returned is fsynced: survives a
                      ** machine crash.  Concurrent commits share fsyncs. */
  KV_SYNC_NORMAL = 1, /* written to the write-ahead log, not fsynced:
                      ** survives a process crash */
  KV_SYNC_OFF = 2     /* no write-ahead log: commits reach disk when
                      ** memtables flush; a crash may lose recent commits
                      ** but never part of one */
} kv_sync;

typedef struct kv_options {
  int create_if_missing;     /* default 1 */
  kv_sync synchronous;       /* default KV_SYNC_FULL */
  int lock_timeout_ms;       /* default 5000; how long a writer waits for a
                             ** lock before failing with KV_RETRY */
  int64_t retention_ms;      /* default 24h; history older than this may be
                             ** garbage-collected and cannot be read */
  int64_t gc_interval_ms;    /* default 0 (no background GC thread); when > 0
                             ** a thread runs kv_store_gc() this often */
  size_t tscache_bytes;      /* default 16 MiB: timestamp cache budget */
  size_t refresh_span_bytes; /* default 1 MiB per transaction: past it, the
                             ** read spans are condensed into wider ones */
  size_t cache_bytes;        /* default 96 MiB: RocksDB block cache of
                             ** uncompressed blocks (filled only as data
                             ** is read; a miss decompresses a block) */
  size_t row_cache_bytes;    /* default 64 MiB: the newest values of keys
                             ** read lately, so a point read that finds
                             ** its key there skips RocksDB; 0: none */
  size_t write_buffer_bytes; /* default 32 MiB: RocksDB memtable size */
  size_t ingest_bytes;       /* default 4 MiB: a commit writing at least this
                             ** much is written as one SST file ingested into
                             ** the store rather than through the WAL and
                             ** memtable (on-disk stores, synchronous full or
                             ** normal); 0: never */
  int reopen_interval_ms;    /* default 1000: after a failure RocksDB
                             ** cannot resume from, a reopen that failed
                             ** is tried again this long after, at the
                             ** next transaction's begin (engine.c) */
  /* Wall clock in nanoseconds since the epoch; NULL means CLOCK_REALTIME.
  ** Tests inject a manual clock here. */
  uint64_t (*wall_clock)(void *ctx);
  void *wall_clock_ctx;
} kv_options;

/* Fills *opts with the defaults above. */
void kv_options_init(kv_options *opts);

/* Opens the store in directory `path`, creating it when missing (if
** opts->create_if_missing).  path NULL or ":memory:" names the process's one
** in-memory store.  Opening a directory that this process already has open
** returns the same store with its reference count raised; the options of
** the first open stay in force (read them with kv_store_get_options()).
** When another process writes the store (holds RocksDB's LOCK), it is
** opened as a reader instead (reader.c): kv_store_is_reader() is then 1,
** every transaction is read-only and reads one snapshot, caught up with the
** writer when it begins, that holds every commit that returned before that;
** writes, locks, metadata writes, range deletes and GC fail with
** KV_READONLY.  Once the writing process is gone, the next kv_store_open()
** of the directory in this process opens it as its writer; references to
** the reader already handed out stay readers until they are closed.
** Errors: KV_BUSY when another process holds the store and it cannot be
** read either, KV_CORRUPT when the directory is not a kvcore store or is
** damaged (RocksDB's CURRENT or MANIFEST missing, a table file that fails
** its checksum; the message names what), KV_IOERR when it cannot be read
** or created.  A damaged store is never written to.  A log with a torn or
** corrupt tail is not an error: the store opens with the whole commits
** before the damage.  opts may be NULL for defaults.
** On success *out is a reference the caller releases with kv_store_close(). */
int kv_store_open(const char *path, const kv_options *opts, kv_store **out,
                  char **errptr);

/* 1 when path is a directory holding a store or the remains of one (any
** of RocksDB's own files: CURRENT, MANIFEST-*, IDENTITY, OPTIONS-*, *.sst,
** *.log), else 0: nothing there, an empty directory, a file, other files.
** Lets a caller tell "there is no store here yet" from "the store here
** cannot be opened" without opening it. */
int kv_store_exists(const char *path);

/* 1 when this process only reads the store (another process writes it). */
int kv_store_is_reader(kv_store *store);

/* The process id of the process that writes the store when that is another
** process (it holds the store's LOCK file), else 0: none, or this one. */
long kv_store_writer_pid(kv_store *store);

/* Drops one reference; the last one closes the store.  Every transaction of
** the store must have ended before its last reference is dropped. */
void kv_store_close(kv_store *store);

/* The options in force (a copy). */
void kv_store_get_options(kv_store *store, kv_options *out);

/* Changes the lock timeout for transactions begun from now on. */
void kv_store_set_lock_timeout(kv_store *store, int ms);

/* Changes the durability of commits from now on (the store-wide
** `synchronous` option; kv_store_get_options() reports the new value). */
void kv_store_set_synchronous(kv_store *store, kv_sync mode);

/* A counter for the embedding layer's schema: it bumps it when it changes
** what its keys mean (a table dropped), and other users of the store compare
** it with the value they last validated, at the cost of one atomic load. */
uint64_t kv_store_epoch(kv_store *store);
void kv_store_bump_epoch(kv_store *store);

/* Tallies: signed counters by 64-bit id (not 0), kept in memory while the
** store is open (not persisted), for the embedding layer's bookkeeping
** (rows each table gained since its statistics were written).  Adds delta
** to tally id and returns its new value; delta 0 reads it.  Lock-free; a
** store holds up to 1024 ids (more are not counted: reads give 0). */
int64_t kv_store_tally(kv_store *store, uint64_t id, int64_t delta);

/* A timestamp unique to this opening of the store (taken from its clock when
** the process opened it): the embedding layer marks work in progress with
** it, and work marked with another one belongs to an opening that ended
** without finishing it (a crash). */
kv_ts kv_store_opened_at(kv_store *store);

/* The directory of the store ("" for the in-memory store); borrowed for the
** life of the store. */
const char *kv_store_path(kv_store *store);

/* A fresh timestamp from the store's clock (strictly above every timestamp
** it handed out before, also across restarts). */
kv_ts kv_store_now(kv_store *store);

/* A small persistent key-value area outside MVCC (store metadata such as a
** catalog version).  Writes are synchronous.  *pval is malloc'd: free it
** with kv_free(). */
int kv_store_meta_get(kv_store *store, const char *name, char **pval,
                      size_t *plen, char **errptr);
int kv_store_meta_put(kv_store *store, const char *name, const void *val,
                      size_t len, char **errptr);
/* Sets name to val unless it has a value: atomically, against every other
** claim in this process (the only one that writes the store).  KV_OK with
** *pcur NULL: it was absent and is val now; KV_OK with *pcur set (malloc'd,
** free with kv_free()) and *pcurlen: the value it already had, unchanged.
** For a store-wide setting that the first to give it decides. */
int kv_store_meta_claim(kv_store *store, const char *name, const void *val,
                        size_t len, char **pcur, size_t *pcurlen,
                        char **errptr);

/* Removes every version of every key in [start, end) at once, outside any
** transaction (RocksDB DeleteRange).  For dropping a key range whose
** owner is already gone (a dropped table); concurrent transactions that
** still use the range see it vanish.  It also flushes the memtable: range
** tombstones there slow down every reverse scan until it is flushed. */
int kv_store_delete_range(kv_store *store, const void *start, size_t slen,
                          const void *end, size_t elen, char **errptr);

/* Online backup: writes a consistent copy of the store into the new
** directory dir (relative paths resolve against the process's current
** directory; its parent must exist) while other threads keep committing,
** and stores in *at (when not NULL) the copy's timestamp T: every commit at
** or below T is in the copy, no commit is in it in part, and the commits
** above T that it may also hold include every commit they read or
** overwrote (checkpoint.c argues it).  The copy is a complete store (the
** format marker, the clock's mark and kv_store_meta_* included) that
** kv_store_open() opens; its clock starts above T and every timestamp in
** it.  Table files are hard links where the file system allows (they
** share disk space with the store until compaction replaces them), copies
** otherwise.  Transactions begun before T that commit afterwards commit
** above T (those that read something refresh first, as for any reader of
** their keys at T); it waits for commits already deciding a timestamp at
** or below T.  Errors: KV_INVALID when dir exists or is empty, or for the
** in-memory store; KV_IOERR when the copy cannot be written (a partial
** copy is removed). */
int kv_store_checkpoint(kv_store *store, const char *dir, kv_ts *at,
                        char **errptr);

typedef struct kv_gc_stats {
  kv_ts threshold;           /* versions at or below it were considered */
  uint64_t keys_scanned;
  uint64_t versions_scanned;
  uint64_t versions_deleted;
} kv_gc_stats;

/* Deletes history that is older than the retention window and not needed by
** a live transaction: for each key, every version at or below the threshold
** except the newest one, and that one too when it is a deletion.  Reads at
** timestamps below the threshold fail with KV_INVALID afterwards. */
int kv_store_gc(kv_store *store, kv_gc_stats *stats, char **errptr);

/* Changes the retention window (retention_ms >= 0; < 0 keeps it) for GC
** passes from now on, and the interval of the background GC thread
** (interval_ms > 0; else kept), waking it to wait the new interval.  A store
** opened with gc_interval_ms 0 has no thread and gets none: only the
** retention changes.  kv_store_get_options() reports both. */
void kv_store_set_gc(kv_store *store, int64_t retention_ms,
                     int64_t interval_ms);

/* Counters since the store was opened. */
typedef struct kv_stats {
  uint64_t txns_begun;
  uint64_t txns_lock_reads;        /* of them, begun with lock_reads */
  uint64_t commits;
  uint64_t commits_readonly;
  uint64_t aborts;                 /* explicit aborts of live txns */
  uint64_t retries[6];             /* indexed by kv_retry_reason */
  uint64_t refreshes;              /* successful read refreshes */
  uint64_t refresh_failures;
  uint64_t pushes_tscache;         /* writes moved above a read or a newer
                                   ** committed version: commits record
                                   ** their keys in the timestamp cache, so
                                   ** one lookup finds both */
  uint64_t lock_waits;             /* writes that waited for a lock */
  uint64_t latch_waits;            /* requests that waited for a latch */
  uint64_t deadlocks;              /* cycles found */
  uint64_t active_txns;            /* live now */
  uint64_t locks_held;             /* keys locked now */
  uint64_t tscache_entries;        /* entries in the timestamp cache now */
  uint64_t tscache_bytes;          /* bytes used by it now */
  uint64_t row_cache_entries;      /* keys in the row cache now ... */
  uint64_t row_cache_bytes;        /* ... the bytes they use ... */
  uint64_t row_cache_hits;         /* ... point reads it answered ... */
  uint64_t row_cache_misses;       /* ... and those it sent to RocksDB */
  uint64_t wal_writes;             /* RocksDB: write-ahead log writes */
  uint64_t wal_syncs;              /* ... and fsyncs: fewer than commits when
                                   ** concurrent commits share them */
  uint64_t commits_ingested;       /* large commits written as ingested
                                   ** files (kv_options.ingest_bytes) */
  uint64_t reads_from_gap;         /* locking reads of absent keys answered
                                   ** without an engine read (bulk inserts
                                   ** of ascending keys); counted when
                                   ** their transaction ends */
  uint64_t reader_snapshots_closed; /* a reader's transactions that read
                                   ** at the writer's closed timestamp ... */
  uint64_t reader_snapshots_newest; /* ... and at the newest state instead
                                   ** (reader.c says when) */
  uint64_t iter_creates;           /* RocksDB iterators created ... */
  uint64_t iter_refreshes;         /* ... and brought up to date instead:
                                   ** reads after others' commits refresh
                                   ** a pooled iterator */
  /* Nanoseconds spent where one thread at a time can be (a commit's
  ** ceiling on any number of cores is 1 / their sum per commit): */
  uint64_t serial_write_ns;        /* RocksDB writes and ingestions: the
                                   ** write group's WAL write, plus the
                                   ** writer's own memtable insert (which
                                   ** is not serial) and, when several
                                   ** threads write, waiting for the group
                                   ** ahead: an upper bound (engine.c) */
  uint64_t serial_sync_ns;         /* WAL fsyncs (one at a time, each shared
                                   ** by the commits that wait for it) */
  uint64_t serial_mutex_ns;        /* store-wide mutexes held: the clock's
                                   ** and the engine's */
  uint64_t gc_runs;                /* GC passes (kv_store_gc, the thread) */
  uint64_t gc_versions_deleted;    /* versions they collected */
  kv_ts gc_threshold;              /* reads below it are refused: history
                                   ** at or below it may be collected */
  uint64_t write_failures;         /* writes or WAL fsyncs that failed
                                   ** (the engine then refuses writes
                                   ** until it has recovered: engine.c) */
  uint64_t recoveries;             /* recoveries from such a failure */
  uint64_t reopens;                /* of them, by reopening RocksDB after
                                   ** a failure it cannot resume from */
  uint64_t background_errors;      /* RocksDB's count of failed flushes,
                                   ** compactions and writes (property
                                   ** rocksdb.background-errors) */
} kv_stats;
void kv_store_stats(kv_store *store, kv_stats *out);

/* Whether the store accepts writes: KV_OK, or the code of the write
** failure it has not recovered from yet (KV_FULL, KV_IOERR), with its
** message in *errptr.  Reads work either way.  It does not try to recover:
** the next write does (engine.c, FAILURE AND RECOVERY). */
int kv_store_health(kv_store *store, char **errptr);

/* One live transaction, for introspection. */
typedef struct kv_txn_info {
  uint64_t id;
  kv_ts read_ts, write_ts, age;
  int priority;        /* KV_PRIORITY_* */
  int boost;           /* retries so far (raises it within its class) */
  int read_only;
  int lock_reads;      /* begun with kv_txn_options.lock_reads */
  int status;          /* 0 pending, 1 committing, 2 committed, 3 aborted */
  uint64_t waiting_for;  /* id of the lock holder it waits for, or 0 */
  uint64_t locks;      /* keys it has locked */
} kv_txn_info;

/* Calls fn for each live transaction (a snapshot; fn must not call back
** into the store).  Returns the number of transactions visited. */
size_t kv_store_list_txns(kv_store *store,
                          void (*fn)(void *ctx, const kv_txn_info *),
                          void *ctx);

/* One held lock and its queue, for introspection: fn is called once per
** locked key with the holder and then once per waiter (is_waiter=1), in
** queue order.  key is borrowed for the call only. */
size_t kv_store_list_locks(kv_store *store,
                           void (*fn)(void *ctx, const void *key, size_t klen,
                                      uint64_t txn_id, int is_waiter),
                           void *ctx);

/* ----------------------------------------------------------- transactions -- */

enum { KV_PRIORITY_LOW = 0, KV_PRIORITY_NORMAL = 1, KV_PRIORITY_HIGH = 2 };

/* What a retry inherits from the attempt that failed: its age and priority,
** so a transaction that keeps being retried grows older than its rivals and
** wins deadlocks against them (no starvation).  A plain value: copy it. */
typedef struct kv_retry_info {
  kv_ts age;
  int priority;
  int boost;
} kv_retry_info;

typedef struct kv_txn_options {
  int read_only;              /* writes fail with KV_INVALID */
  kv_ts read_ts;              /* {0,0}: now; else read as of this past time
                              ** (only with read_only; KV_INVALID when it is
                              ** ahead of the store's clock or below the GC
                              ** threshold).  Exact: each read records
                              ** itself in the timestamp cache at read_ts
                              ** and waits out commits latched at or below
                              ** it, so it sees every commit at or below
                              ** read_ts and no later one; GC keeps what it
                              ** reads while it lives. */
  int priority;               /* KV_PRIORITY_*; default NORMAL.  A writer
                              ** whose priority is above a lock holder's
                              ** aborts the holder instead of waiting. */
  int lock_timeout_ms;        /* <0: the store's timeout */
  const kv_retry_info *retry_of; /* this is a retry of that attempt (its age
                              ** and priority; reads stay lock-free unless
                              ** lock_reads is set too) */
  int lock_reads;             /* every kv_txn_get and kv_txn_scan acts as
                              ** with KV_READ_FOR_UPDATE: the transaction
                              ** locks each key it reads (an absent key
                              ** too) and each row a scan returns, so no
                              ** one can change them before it ends and it
                              ** cannot fail a refresh on them.  For a
                              ** retry on hot keys: it waits for their
                              ** locks instead of failing again.  A scan
                              ** still records its range for refresh, so a
                              ** row inserted into it later (a phantom)
                              ** can still fail it.  Not with read_only
                              ** (KV_INVALID). */
} kv_txn_options;

void kv_txn_options_init(kv_txn_options *opts);

/* Begins a transaction.  opts may be NULL for defaults.  On success *out is
** a handle that must end with kv_txn_commit() or kv_txn_abort(). */
int kv_txn_begin(kv_store *store, const kv_txn_options *opts, kv_txn **out,
                 char **errptr);

/* Flags for reads. */
enum {
  KV_READ_FOR_UPDATE = 1, /* take the key's write lock before reading and
                          ** read its latest committed value, moving the
                          ** transaction's read timestamp forward if needed
                          ** (SELECT FOR UPDATE) */
  KV_SCAN_REVERSE = 2     /* scans: descending key order */
};

/* Reads key.  On KV_OK, *pval and *plen is the value, borrowed (from the
** engine's iterator, or the transaction's own write, without a copy) until
** the next call on txn.  Returns KV_NOTFOUND when there is no value.  A
** transaction reads its own writes.  In a transaction begun with lock_reads
** every read is KV_READ_FOR_UPDATE. */
int kv_txn_get(kv_txn *txn, const void *key, size_t klen, int flags,
               const void **pval, size_t *plen, char **errptr);

/* Writes or deletes key; takes the key's write lock, waiting for another
** holder if needed.  The value is copied. */
int kv_txn_put(kv_txn *txn, const void *key, size_t klen, const void *val,
               size_t vlen, char **errptr);
int kv_txn_delete(kv_txn *txn, const void *key, size_t klen, char **errptr);

/* Takes key's write lock without writing (as KV_READ_FOR_UPDATE does). */
int kv_txn_lock(kv_txn *txn, const void *key, size_t klen, char **errptr);

/* Opens an iterator over the keys in [start, end) (end NULL: no upper
** bound), ascending or with KV_SCAN_REVERSE descending, returning at most
** limit rows (0: no limit).  KV_READ_FOR_UPDATE (always, with lock_reads)
** locks each row returned; the range is still recorded for refresh.
** The iterator sees the transaction's own writes made before it opened.
** It must be closed before the transaction commits or aborts. */
int kv_txn_scan(kv_txn *txn, const void *start, size_t slen, const void *end,
                size_t elen, int flags, uint64_t limit, kv_iter **out,
                char **errptr);

/* Moves to the next row.  KV_OK: a row is there; KV_NOTFOUND: the scan is
** over.  Key and value are borrowed until the next kv_iter_next() or
** kv_iter_close() on this iterator; other calls on its transaction (gets,
** writes, other iterators) leave them valid.  The value is RocksDB's own
** memory in an ascending scan (no copy), a copy in a descending one. */
int kv_iter_next(kv_iter *it, char **errptr);
const void *kv_iter_key(kv_iter *it, size_t *klen);
const void *kv_iter_value(kv_iter *it, size_t *vlen);
void kv_iter_close(kv_iter *it);

/* Savepoints.  kv_txn_savepoint() returns a mark; rolling back to it undoes
** every write made after it (locks stay held, as in CockroachDB); the mark
** stays valid.  Releasing forgets nothing but is checked for misuse. */
int kv_txn_savepoint(kv_txn *txn, uint32_t *mark, char **errptr);
int kv_txn_rollback_to(kv_txn *txn, uint32_t mark, char **errptr);

/* Commits.  On KV_OK the transaction is over and the handle freed; its
** commit timestamp is stored in *commit_ts when not NULL.  On failure the
** transaction is dead (nothing of it is visible to anyone) and the handle
** stays valid: free it with kv_txn_abort().  KV_FULL: the storage is full.
** The one exception: when the fsync of the write-ahead log failed after
** the commit was written (KV_IOERR or KV_FULL, the message says "may or
** may not have been applied"), the outcome is unknown: it may be visible
** and survive a restart, whole.  After a storage error the store refuses
** writes until it recovers (kv_store_health, engine.c). */
int kv_txn_commit(kv_txn *txn, kv_ts *commit_ts, char **errptr);

/* Two-phase commit, for a caller that commits together with another
** system (the SQLite extension: SQLite's own commit comes between its xSync
** and xCommit).  kv_txn_prepare() does all of a commit that can fail except
** the storage write: it latches the keys to write, takes the timestamp
** cache into account, refreshes the reads, fixes the commit timestamp and
** builds the write (a batch, or for a commit of at least
** kv_options.ingest_bytes the SST file to ingest).  Afterwards the
** transaction cannot be aborted by anyone else, its reads, writes, scans
** and savepoints fail with KV_INVALID, and readers of the keys it latched
** at or above its timestamp wait until it is committed, aborted or
** unprepared, so end it promptly.  kv_txn_commit() then only writes (and
** prepares first when it was not); kv_txn_abort() drops it.  Preparing
** twice is a no-op.  On failure the transaction is dead, as for commit. */
int kv_txn_prepare(kv_txn *txn, char **errptr);
/* Takes a prepared transaction back to where it was before kv_txn_prepare
** (its latches go; it may read, write and be aborted again).  For a caller
** whose own commit failed after preparing while the transaction goes on. */
void kv_txn_unprepare(kv_txn *txn);

/* Aborts (or, for a dead transaction, disposes of) txn and frees it. */
void kv_txn_abort(kv_txn *txn);

/* Accessors. */
uint64_t kv_txn_id(const kv_txn *txn);
kv_ts kv_txn_read_ts(const kv_txn *txn);
kv_ts kv_txn_write_ts(const kv_txn *txn);   /* provisional commit ts */
/* Has it a put or delete to commit (after savepoint rollbacks)?  A
** transaction without one commits nothing: kv_txn_commit gives its read
** timestamp. */
int kv_txn_has_writes(const kv_txn *txn);
int kv_txn_is_dead(const kv_txn *txn);      /* a KV_RETRY or I/O error hit */
kv_retry_reason kv_txn_retry_reason(const kv_txn *txn);
void kv_txn_retry_info(const kv_txn *txn, kv_retry_info *out);
/* The key a retryable error was about (the lock waited for, the read that
** another transaction changed), or NULL.  Borrowed: valid until the
** handle is freed. */
const void *kv_txn_retry_key(const kv_txn *txn, size_t *klen);
/* The transaction's lock timeout, changeable while it runs. */
void kv_txn_set_lock_timeout(kv_txn *txn, int ms);
/* Decides the lock timeout only when the transaction first has to wait:
** fn(ctx) returns milliseconds, or a negative number for the timeout already
** set.  It is called with no kvcore lock held, on the transaction's thread,
** at most once.  (The SQLite layer reads the connection's busy timeout this
** way, off the fast path.) */
void kv_txn_set_lock_timeout_fn(kv_txn *txn, int (*fn)(void *ctx), void *ctx);

/* --------------------------------------------------------------- history -- */

/* Iterates over every retained version (newest first per key) of the keys in
** [start, end) (end NULL: no upper bound) that committed at or below a read
** timestamp R, outside any transaction.  R is a fresh timestamp
** (kv_history_read_ts); opening the history reads the range at R as a
** read-only transaction would: it waits out commits in flight over the
** range at or below R, and every later commit into the range lands above R.
** So the versions at or below R are final when it opens: a caller that
** polls for versions above the newest one it has seen misses none.  The
** value of a deletion is NULL with length 0 (kv_history_is_delete() says
** which).  *out is the caller's: free it with kv_history_close(). */
typedef struct kv_history kv_history;
int kv_store_history(kv_store *store, const void *start, size_t slen,
                     const void *end, size_t elen, kv_history **out,
                     char **errptr);
/* The same, for the keys that have a version at or above from: a change
** feed's poll reads what changed since its last one, not every key.  Each
** such key comes with all its versions (as above); table files that hold
** only older versions are not read (kvcore/tsbound.cc). */
int kv_store_history_from(kv_store *store, const void *start, size_t slen,
                          const void *end, size_t elen, kv_ts from,
                          kv_history **out, char **errptr);
int kv_history_next(kv_history *h, char **errptr);  /* KV_OK / KV_NOTFOUND */
/* Key and value are borrowed until the next kv_history_next or close. */
const void *kv_history_key(kv_history *h, size_t *klen);
const void *kv_history_value(kv_history *h, size_t *vlen);
kv_ts kv_history_ts(kv_history *h);
int kv_history_is_delete(kv_history *h);
/* R: every version returned is at or below it. */
kv_ts kv_history_read_ts(kv_history *h);
/* The next kv_history_next skips the older versions of the current key
** and returns the newest version of the next one. */
void kv_history_skip_key(kv_history *h);
void kv_history_close(kv_history *h);

#ifdef __cplusplus
}
#endif
#endif /* KVCORE_H */
