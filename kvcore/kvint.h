/*
** kvint.h — internal interfaces between the modules of kvcore.
**
** Nothing here is public: ext/ and programs use kvcore.h only.  One section
** per module, in dependency order; each .c file's header comment gives the
** module's invariants.  Lock order across modules (never take a lock on the
** left while holding one on the right):
**
**     txn-table shard  <  lock-table shard  <  wait graph  <  txn wake mutex
**     latch shard, tscache shard, tscache ranges, row-cache shard, clock:
**     leaves (nothing is taken while holding them, except more latch
**     shards, and under the clock's mutex, when its lease ran out, its
**     persist mutex and the engine's mutex, to write a new mark: clock.c)
**
** Several shards of one kind are taken together only in ascending index
** (GC takes every txn-table shard; a commit the latch shards of its keys).
** kv_mu_enter() asserts the order of the first line, and that no latch
** shard is held meanwhile; the latch manager asserts the ascending order
** of latch shards.
*/
#ifndef KVINT_H
#define KVINT_H

#include "kvcore.h"

#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <rocksdb/c.h>

/* ------------------------------------------------------------- error.c -- */

/* Sets *errptr (when errptr is not NULL) to a malloc'd formatted message,
** freeing the previous one.  Returns rc so callers can `return kv_err(...)`. */
int kv_err(char **errptr, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* malloc'd printf; NULL on OOM. */
char *kv_mprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *kv_vmprintf(const char *fmt, va_list ap);
/* Writes a printable rendering of key (at most ~64 bytes of it) into buf. */
const char *kv_key_repr(char *buf, size_t bufsz, const void *key, size_t klen);

/* 64-bit hash of a byte string. */
uint64_t kv_hash(const void *p, size_t n);

/* Monotonic nanoseconds, for timeouts. */
uint64_t kv_mono_ns(void);

/* Lock-order checks.  Each thread records which ordered kvcore mutexes it
** holds (the order at the top of this file), and which latch shards; taking
** one asserts that nothing later in the order is held.  A class is entered
** once for any number of its shards, which are then taken in ascending
** index (kv_mu_enter before the first, kv_mu_leave after the last). */
enum {
  KV_MU_TXNTABLE = 1u << 0,   /* transaction-table shards */
  KV_MU_LOCKTABLE = 1u << 1,  /* one lock-table shard */
  KV_MU_WAITQ = 1u << 2,      /* the wait graph */
  KV_MU_WAKE = 1u << 3        /* a transaction's wake mutex */
};
extern _Thread_local unsigned kv_mu_held
    __attribute__((visibility("hidden")));      /* KV_MU_* */
extern _Thread_local uint32_t kv_latch_held
    __attribute__((visibility("hidden")));      /* bit i: latch shard i */

static inline void kv_mu_enter(unsigned cls) {
  assert((kv_mu_held & ~(cls - 1)) == 0); /* nothing of cls or later */
  assert(kv_latch_held == 0);             /* latch shards are leaves */
  kv_mu_held |= cls;
}
static inline void kv_mu_leave(unsigned cls) {
  assert(kv_mu_held & cls);
  kv_mu_held &= ~cls;
}
/* Lock and unlock mu, a mutex of class cls, checking the order. */
static inline void kv_mu_lock(pthread_mutex_t *mu, unsigned cls) {
  kv_mu_enter(cls);
  pthread_mutex_lock(mu);
}
static inline void kv_mu_unlock(pthread_mutex_t *mu, unsigned cls) {
  pthread_mutex_unlock(mu);
  kv_mu_leave(cls);
}

/* Compares byte strings: memcmp, then the shorter one first. */
static inline int kv_bytes_cmp(const void *a, size_t an, const void *b,
                               size_t bn) {
  size_t n = an < bn ? an : bn;
  int c = n ? __builtin_memcmp(a, b, n) : 0;
  if (c) return c;
  return an < bn ? -1 : an > bn ? 1 : 0;
}

/* ------------------------------------------------------------- arena.c -- */

/* A bump allocator: many small allocations, freed all at once. */
typedef struct kv_arena_block kv_arena_block;
typedef struct kv_arena {
  kv_arena_block *head;
  char *cur;
  size_t left;
  size_t next_size;   /* size of the next block to allocate */
  size_t bytes;       /* total bytes of all blocks */
} kv_arena;

void kv_arena_init(kv_arena *a);
void *kv_arena_alloc(kv_arena *a, size_t n);          /* 8-aligned; NULL: OOM */
void *kv_arena_dup(kv_arena *a, const void *p, size_t n);
void kv_arena_free(kv_arena *a);                      /* back to empty */

/* --------------------------------------------------------------- skl.c -- */

/* An ordered map from byte-string keys to pointers (a skiplist).  Not thread
** safe.  Keys are borrowed: they must outlive their node.  Nodes come from
** an arena (then delete does not free) or from malloc. */
typedef struct kv_skl_node {
  const char *key;
  size_t klen;
  void *val;
  struct kv_skl_node *prev;   /* level-0 predecessor, NULL at the front */
  int height;
  struct kv_skl_node *next[];
} kv_skl_node;

typedef struct kv_skl kv_skl;

kv_skl *kv_skl_new(kv_arena *arena);    /* NULL arena: malloc nodes */
void kv_skl_free(kv_skl *s);            /* frees nodes (not keys or values) */
size_t kv_skl_count(const kv_skl *s);
kv_skl_node *kv_skl_first(const kv_skl *s);
kv_skl_node *kv_skl_last(const kv_skl *s);
static inline kv_skl_node *kv_skl_next(const kv_skl_node *n) {
  return n->next[0];
}
static inline kv_skl_node *kv_skl_prev(const kv_skl_node *n) {
  return n->prev;
}
kv_skl_node *kv_skl_find(const kv_skl *s, const void *key, size_t klen);
kv_skl_node *kv_skl_seek_ge(const kv_skl *s, const void *key, size_t klen);
kv_skl_node *kv_skl_seek_le(const kv_skl *s, const void *key, size_t klen);
/* Inserts key (which must not be present); NULL on OOM. */
kv_skl_node *kv_skl_insert(kv_skl *s, const void *key, size_t klen, void *val);
void kv_skl_delete(kv_skl *s, kv_skl_node *n);

/* ------------------------------------------------------------- clock.c -- */

#define KV_TS_ZERO ((kv_ts){0, 0})
#define KV_TS_MAX ((kv_ts){UINT64_MAX, UINT32_MAX})

static inline bool kv_ts_lt(kv_ts a, kv_ts b) {
  return a.wall < b.wall || (a.wall == b.wall && a.logical < b.logical);
}
static inline bool kv_ts_le(kv_ts a, kv_ts b) { return !kv_ts_lt(b, a); }
static inline bool kv_ts_eq(kv_ts a, kv_ts b) {
  return a.wall == b.wall && a.logical == b.logical;
}
static inline kv_ts kv_ts_max(kv_ts a, kv_ts b) { return kv_ts_lt(a, b) ? b : a; }
static inline bool kv_ts_is_zero(kv_ts a) { return a.wall == 0 && a.logical == 0; }
/* The smallest timestamp above t. */
static inline kv_ts kv_ts_next(kv_ts t) {
  if (t.logical == UINT32_MAX) return (kv_ts){t.wall + 1, 0};
  return (kv_ts){t.wall, t.logical + 1};
}

/* Persists a new high-water mark (wall ns); returns KV_OK or an error. */
typedef int (*kv_clock_persist_fn)(void *ctx, uint64_t hwm, char **errptr);

typedef struct kv_clock {
  pthread_mutex_t mu;
  kv_ts last;               /* the latest timestamp handed out or seen */
  uint64_t hwm;             /* persisted: no handed-out wall exceeds it */
  bool renewing;            /* a thread is persisting the next mark (mu) */
  uint64_t (*wall)(void *ctx);
  void *wall_ctx;
  kv_clock_persist_fn persist;
  void *persist_ctx;
  pthread_mutex_t pmu;      /* one persist at a time; taken under mu or
                            ** alone, never the other way round */
  uint64_t persisted;       /* the highest mark written (pmu) */
  uint64_t retry_after;     /* kv_mono_ns() before which no mark is
                            ** written after one failed (mu) */
  _Atomic uint64_t held_ns;  /* time mu was held (kv_stats.serial_mutex_ns) */
} kv_clock;

/* Starts the clock above a persisted high-water mark `hwm`. */
int kv_clock_init(kv_clock *c, uint64_t (*wall)(void *), void *wall_ctx,
                  uint64_t hwm, kv_clock_persist_fn persist, void *pctx,
                  char **errptr);
void kv_clock_destroy(kv_clock *c);
/* A timestamp strictly above every one handed out or seen before. */
int kv_clock_now(kv_clock *c, kv_ts *out, char **errptr);
/* Records that t happened: later kv_clock_now() results are above it. */
void kv_clock_update(kv_clock *c, kv_ts t);
/* The latest timestamp handed out or seen (does not advance the clock). */
kv_ts kv_clock_peek(kv_clock *c);

/* ------------------------------------------------------------ keyenc.c -- */

/* A growable byte buffer owned by its user. */
typedef struct kv_buf {
  char *p;
  size_t n, cap;
} kv_buf;

/* Engine keys of versioned data (storage format 2, keyenc.c):
** enc(key) ‖ ~ts, where enc(key) = key with each 0x00 as 0x00 0xFF, then
** 0x00 0x01; ordered by RocksDB's bytewise comparator: by user key, then
** newest version first. */
#define KV_TS_LEN 12
#define KV_UKEY_TERM_LEN 2
/* The most bytes enc() of a klen-byte key can take. */
#define KV_UKEY_ENC_MAX(klen) (2 * (klen) + KV_UKEY_TERM_LEN)

void kv_ts_encode(char *out, kv_ts ts);                 /* KV_TS_LEN bytes */
kv_ts kv_ts_decode(const char *in);
/* Writes enc(key) into out (room for KV_UKEY_ENC_MAX(klen)); returns its
** length. */
size_t kv_ukey_encode(char *out, const void *key, size_t klen);
/* Sets *out to the user key that enc (an encoded user key) encodes: KV_OK,
** KV_CORRUPT if enc is not one, or KV_NOMEM (no message: the caller, who
** knows where enc came from, reports it). */
int kv_ukey_decode(kv_buf *out, const char *enc, size_t elen);
/* Splits an engine key into its encoded user key (the first *ulen bytes)
** and timestamp; false if it is not a version key. */
bool kv_vkey_split(const char *ek, size_t eklen, size_t *ulen, kv_ts *ts);
/* kv_vkey_split's timestamp, for C++ (tsbound.cc): 1, or 0 when ek is not a
** version key. */
int kv_vkey_ts(const char *ek, size_t eklen, uint64_t *wall,
               uint32_t *logical);
/* Turns enc(k) into a bound just past every version of k (and before every
** version of the next key). */
void kv_ukey_past(char *ukey, size_t ulen);
/* The error for a key of the data family that does not decode: KV_CORRUPT,
** with a message naming it.  Every reader of the data family reports an
** undecodable key so, never as an absent key or the end of a scan. */
int kv_mvcc_key_corrupt(const char *ek, size_t eklen, char **errptr);
/* Maps a version to its encoded user key (RocksDB prefix blooms). */
rocksdb_slicetransform_t *kv_mvcc_prefix_extractor_create(void);

static inline void kv_buf_init(kv_buf *b) { b->p = 0; b->n = b->cap = 0; }
void kv_buf_free(kv_buf *b);
bool kv_buf_reserve(kv_buf *b, size_t cap);
bool kv_buf_set(kv_buf *b, const void *p, size_t n);
/* Sets b to enc(key). */
bool kv_buf_set_ukey(kv_buf *b, const void *key, size_t klen);
/* Sets b to the engine key of (key, ts). */
bool kv_buf_set_mvcc_key(kv_buf *b, const void *key, size_t klen, kv_ts ts);
/* Sets b to the engine key of an encoded user key and ts (ukey may be b's
** own bytes). */
bool kv_buf_set_vkey(kv_buf *b, const char *ukey, size_t ulen, kv_ts ts);

/* ------------------------------------------------------------ engine.c -- */

#define KV_ITER_POOL 8
enum { KV_ITER_SCAN = 0, KV_ITER_POINT = 1 };

/* Idle iterators of one kind, with the write count each is fresh for. */
typedef struct kv_iter_pool {
  rocksdb_iterator_t *it[KV_ITER_POOL];
  uint64_t seq[KV_ITER_POOL];
  int n;
} kv_iter_pool;

typedef struct kv_engine {
  rocksdb_t *db;
  rocksdb_options_t *dbopts;
  rocksdb_options_t *cfopts_data;
  rocksdb_env_t *env;                   /* in-memory env, or NULL */
  rocksdb_cache_t *cache;
  rocksdb_block_based_table_options_t *bbto;
  rocksdb_column_family_handle_t *cf_meta;  /* "default": bytewise */
  rocksdb_column_family_handle_t *cf_data;  /* "kvcore.v2": versions */
  rocksdb_writeoptions_t *wo[3];        /* per kv_sync mode */
  _Atomic int sync_mode;                /* the synchronous option in force */
  rocksdb_writeoptions_t *wo_sync;      /* fsync (metadata); in memory: none */
  rocksdb_readoptions_t *ro;            /* scans: total order */
  rocksdb_readoptions_t *ro_point;      /* one user key: prefix blooms */
  rocksdb_filterpolicy_t *filter;
  /* Group sync (engine.c): writes are numbered as they complete; one fsync
  ** makes every write numbered before it started durable. */
  pthread_mutex_t gmu;
  pthread_cond_t gcond;
  bool gmu_ready;
  uint64_t written;          /* writes completed (gmu) */
  uint64_t synced;           /* writes known durable (gmu) */
  bool syncing;              /* an fsync is under way (gmu) */
  uint64_t wal_seen;         /* the newest WAL file number whose directory
                             ** entry is fsynced (the syncing thread's) */
  _Atomic uint64_t wal_writes, wal_syncs, ingests;
  /* Write failure (engine.c, FAILURE AND RECOVERY), under gmu: the code
  ** and message of a failure not recovered from yet (KV_OK: none), and
  ** whether a thread is recovering.  failed mirrors fail_rc != KV_OK for
  ** lock-free checks. */
  int fail_rc;
  char *fail_msg;
  bool fail_sync;            /* the failure was an fsync's */
  bool fail_fatal;           /* RocksDB will not resume: reopen only */
  bool recovering;
  _Atomic int failed;
  _Atomic uint64_t write_failures, recoveries;
  char *dir;                 /* the store directory (its WAL files); NULL
                             ** in memory */
  /* Nanoseconds in sections one thread at a time is in (kv_stats
  ** serial_*_ns): RocksDB writes and ingestions, WAL fsyncs, gmu held. */
  _Atomic uint64_t write_ns, sync_ns, gmu_ns;
  char *ingest_dir;          /* <store>/ingest, NULL for in-memory stores */
  size_t ingest_bytes;       /* commits this large are ingested files */
  /* Held by an ingestion and by a checkpoint's copy, which must not overlap
  ** (kv_engine_checkpoint says why). */
  pthread_mutex_t ingest_mu;
  /* Reopening after a fatal failure (engine.c, REOPEN).  A use of the
  ** engine outside every transaction counts itself in pinned, under the
  ** read side of gate; a reopen holds its write side, and runs only when
  ** pinned is 0 and no transaction is live. */
  pthread_rwlock_t gate;
  _Atomic long pinned;
  _Atomic bool reopen_wanted;
  _Atomic uint64_t reopens;
  uint64_t reopen_interval_ns;        /* kv_options.reopen_interval_ms */
  _Atomic uint64_t reopen_after_ns;   /* kv_mono_ns(): no retry before */
  /* Bumped after every write is in the engine: an iterator created when it
  ** read n sees everything a new one would see as long as it still reads
  ** n, so point reads may reuse it (kv_engine_point_iter). */
  _Atomic uint64_t write_seq;
  /* Iterators handed back by ended reads, by kind (pool_mu). */
  pthread_mutex_t pool_mu;
  kv_iter_pool pools[2];
  _Atomic uint64_t iter_creates, iter_refreshes;
  /* Set when another process writes the store: db is then a RocksDB
  ** secondary instance (caught up before each use outside transactions),
  ** and transactions read through views (reader.c). */
  struct kv_reader *reader;
} kv_engine;

int kv_engine_open(kv_engine *e, const char *path, bool in_memory,
                   const kv_options *o, char **errptr);
void kv_engine_close(kv_engine *e);
/* A new total-order iterator over the data family, owned by the caller
** (rocksdb_iter_destroy): for long scans outside transactions (GC,
** history).  Transactions use the pools below. */
rocksdb_iterator_t *kv_engine_iter(kv_engine *e);
/* Destroys an iterator from kv_engine_iter or kv_engine_iter_from (NULL:
** nothing). */
void kv_engine_iter_done(kv_engine *e, rocksdb_iterator_t *it);
/* kv_engine_iter that skips table files whose versions are all below from
** (tsbound.cc): it shows every version at or above from, and some others.
** NULL when out of memory. */
rocksdb_iterator_t *kv_engine_iter_from(kv_engine *e, kv_ts from);
/* tsbound.cc: the collector of each table file's newest version, for the
** data family's options, and the iterator kv_engine_iter_from makes. */
void kv_engine_add_ts_collector(rocksdb_options_t *o);
rocksdb_iterator_t *kv_engine_iter_from_raw(
    rocksdb_t *db, rocksdb_column_family_handle_t *cf, uint64_t wall,
    uint32_t logical);
/* An iterator of kind KV_ITER_SCAN (total order) or KV_ITER_POINT (the
** versions of one user key: seeks may skip memtables and files whose prefix
** bloom says the key is absent) that sees every write completed before the
** call: from the pool, refreshed if needed, or new.  *seq receives the write
** count it is fresh for.  The caller hands it back with kv_engine_iter_put
** (or destroys it).  NULL when out of memory. */
rocksdb_iterator_t *kv_engine_iter_get(kv_engine *e, int kind, uint64_t *seq);
/* Makes the caller's iterator it (fresh for *seq; NULL for none) see every
** write completed before the call: unchanged if no write completed since,
** else refreshed (or replaced).  Returns the iterator to use from now on
** (NULL when out of memory: it is then gone).  It must be positioned again
** if it changed. */
rocksdb_iterator_t *kv_engine_iter_fresh(kv_engine *e, int kind,
                                         rocksdb_iterator_t *it,
                                         uint64_t *seq);
void kv_engine_iter_put(kv_engine *e, int kind, rocksdb_iterator_t *it,
                        uint64_t seq);
int kv_engine_write(kv_engine *e, rocksdb_writebatch_t *b, bool sync_always,
                    char **errptr);
/* Large commits, written as an SST file and ingested (see engine.c).
** kv_engine_ingests: whether a commit of about `bytes` goes this way. */
typedef struct kv_sst kv_sst;
bool kv_engine_ingests(kv_engine *e, size_t bytes);
/* A new file for transaction id; *out is the caller's (kv_engine_sst_free). */
int kv_engine_sst_open(kv_engine *e, uint64_t id, kv_sst **out,
                       char **errptr);
/* Appends one versioned key; keys must come in comparator order. */
int kv_engine_sst_put(kv_sst *f, const char *key, size_t klen,
                      const char *val, size_t vlen, char **errptr);
int kv_engine_sst_finish(kv_sst *f, char **errptr);
/* Makes the finished file part of the store, atomically and durably. */
int kv_engine_ingest(kv_engine *e, kv_sst *f, char **errptr);
/* RocksDB's checkpoint of the store into the new directory dir (its
** memtables flushed first), with no ingestion under way meanwhile.  On
** failure *errptr holds RocksDB's message (caller frees) and the return is
** nonzero. */
int kv_engine_checkpoint(kv_engine *e, const char *dir, char **rerr);
/* Closes f and removes its file (the store keeps its own link if it was
** ingested).  NULL is a no-op. */
void kv_engine_sst_free(kv_sst *f);
int kv_engine_meta_get(kv_engine *e, const char *name, char **pval,
                       size_t *plen, char **errptr);
int kv_engine_meta_put(kv_engine *e, const char *name, const void *val,
                       size_t len, char **errptr);
/* The same, through the log but without waiting for a sync. */
int kv_engine_meta_put_async(kv_engine *e, const char *name, const void *val,
                             size_t len, char **errptr);
int kv_engine_delete_range(kv_engine *e, const void *start, size_t slen,
                           const void *end, size_t elen, char **errptr);
/* Cumulative write-ahead-log writes and syncs, and ingested commits, since
** the store opened. */
void kv_engine_counters(kv_engine *e, uint64_t *writes, uint64_t *syncs,
                         uint64_t *ingests);
/* Nanoseconds spent so far in the engine's serial sections (engine.c). */
void kv_engine_serial(kv_engine *e, uint64_t *write_ns, uint64_t *sync_ns,
                      uint64_t *mutex_ns);
/* Maps a RocksDB error string to a KV_* code. */
int kv_engine_code(const char *rocks_err);
/* KV_OK, or the unrecovered write failure's code and message (engine.c). */
int kv_engine_health(kv_engine *e, char **errptr);
/* Whether a fatal failure (or a reopen that failed long enough ago) asks
** for a reopen now. */
bool kv_engine_wants_reopen(kv_engine *e);
/* Closes RocksDB and opens it again, ending a fatal failure: the caller
** makes sure no transaction is live and none can begin meanwhile.  KV_OK,
** or why not: KV_BUSY (nothing done) while a use outside transactions is
** under way, else the open's error (the engine then reads from a read-only
** instance, or from the failed one when even that could not be opened). */
int kv_engine_reopen(kv_engine *e, char **errptr);
/* RocksDB's count of background errors (flushes, compactions, writes). */
uint64_t kv_engine_background_errors(kv_engine *e);

/* ------------------------------------------------------------ reader.c -- */

/* The metadata key of the clock's persisted high-water mark (store.c). */
#define KV_CLOCK_META "kvcore.clock_hwm"
/* One RocksDB secondary instance, held by one transaction at a time, which
** caught it up when it began: everything the transaction reads comes from
** it, so no other catch-up changes what it sees. */
typedef struct kv_view {
  rocksdb_t *db;
  rocksdb_column_family_handle_t *cf_meta, *cf_data;
  bool busy;               /* held by a transaction (reader mutex) */
  kv_ts ts;                /* above every timestamp in its state */
} kv_view;

typedef struct kv_reader kv_reader;

/* The name of the data column family (engine.c). */
extern const char kv_data_family[];
/* Opens e as a reader of the store at path that another process writes:
** e->db becomes a secondary instance, e->reader its view pool.  KV_BUSY
** when it cannot be read either (it keeps its error message). */
int kv_reader_open(kv_engine *e, const char *path, char **errptr);
/* Closes every instance and removes the private directory. */
void kv_reader_close(kv_engine *e);
/* Reader transactions' snapshots so far: at a closed timestamp, and at the
** newest state (no closed timestamp in time, or the writer said "off"). */
void kv_reader_counters(kv_engine *e, uint64_t *closed, uint64_t *newest);
/* Catches e->db up with the writer (for reads outside transactions). */
int kv_reader_catch_up(kv_engine *e, char **errptr);
/* A view for a transaction that begins now: an idle one or a new one
** (never waits for one), caught up with the writer; *out is held until
** kv_reader_release. */
int kv_reader_acquire(kv_engine *e, kv_view **out, char **errptr);
void kv_reader_release(kv_engine *e, kv_view *v);
/* A new iterator over v's data family (KV_ITER_SCAN or KV_ITER_POINT);
** the caller destroys it.  NULL when out of memory. */
rocksdb_iterator_t *kv_view_iter(kv_engine *e, kv_view *v, int kind);
/* KV_READONLY with a message that names the writing process. */
int kv_reader_refuse(kv_engine *e, char **errptr);
/* The pid of the process holding the LOCK file of the store at path, or 0. */
long kv_reader_lock_holder(const char *path);

/* -------------------------------------------------------------- mvcc.c -- */

/* Stored value of a version: 1 tag byte then the user value.  An empty
** stored value is a deletion (tombstone). */
#define KV_VALUE_TAG 0x01

/* The first user key at or after key with any version at all, into *next,
** or *none when no key follows; it needs a total-order iterator
** (kv_engine_iter).  No key in between has a version: a caller that found
** key absent learns the whole gap. */
int kv_mvcc_next_key(rocksdb_iterator_t *it, kv_buf *scratch, const void *key,
                     size_t klen, kv_buf *next, bool *none, char **errptr);
/* Finds the newest version of key with timestamp <= at.  Returns KV_OK with
** *val and *vlen (borrowed from the iterator; valid until it moves) and *vts,
** or KV_NOTFOUND when there is none or it is a deletion (*vts is then the
** deletion's timestamp, or zero when there is no version at all).  scratch
** holds the encoded seek key. */
int kv_mvcc_get(rocksdb_iterator_t *it, kv_buf *scratch, const void *key,
                size_t klen, kv_ts at, const char **val, size_t *vlen,
                kv_ts *vts, char **errptr);
/* kv_mvcc_get, and *newest: the version returned is a value and no newer
** version of key exists (it is seeked from the newest version down). */
int kv_mvcc_get_newest(rocksdb_iterator_t *it, kv_buf *scratch,
                       const void *key, size_t klen, kv_ts at,
                       const char **val, size_t *vlen, kv_ts *vts,
                       bool *newest, char **errptr);
/* A span of keys: a point [start] or a range [start, end) (end_inf: no
** upper bound). */
typedef struct kv_span {
  const char *start;
  size_t slen;
  const char *end;
  size_t elen;
  uint8_t is_range;
  uint8_t end_inf;
} kv_span;

/* Looks for a version in (from, to] of any key in span.  Returns KV_OK with
** *changed false, or with *changed true and the first such key copied into
** *key_out; or an error code from the iterator. */
int kv_mvcc_changed(rocksdb_iterator_t *it, kv_buf *scratch, const kv_span *sp,
                    kv_ts from, kv_ts to, bool *changed, kv_buf *key_out,
                    kv_ts *when, char **errptr);

/* Reads the newest visible version of each key of a range, in either
** direction.  Owns its iterator. */
typedef struct kv_mvcc_cursor {
  kv_engine *eng;
  kv_view *view;           /* a reader's transaction reads from it (its
                           ** own iterator, never pooled), or NULL */
  rocksdb_iterator_t *it;  /* from the engine's pool, fresh for seq */
  uint64_t seq;
  kv_ts at;
  bool reverse;
  bool started;
  bool done;
  kv_buf lo;          /* enc(start key): inclusive bound */
  kv_buf hi;          /* enc(end key): exclusive bound, unless hi_inf */
  bool hi_inf;
  kv_buf seek;        /* scratch: encoded seek keys */
  kv_buf ekey;        /* current row: enc(key), a copy */
  kv_buf key;         /* current row: its key, decoded */
  const char *val;    /* current row: its value, borrowed from the
                      ** iterator (forward) or from vcopy (reverse: the
                      ** iterator has moved past it); valid until the
                      ** cursor moves */
  size_t vlen;
  kv_buf vcopy;
} kv_mvcc_cursor;

void kv_mvcc_cursor_init(kv_mvcc_cursor *c);
/* Positions before the first row of [lo, hi) (reverse: after the last);
** `from` (may be NULL) resumes strictly after (reverse: before) that key. */
int kv_mvcc_cursor_open(kv_mvcc_cursor *c, kv_engine *e, kv_ts at,
                        bool reverse, const void *lo, size_t lolen,
                        const void *hi, size_t hilen, bool hi_inf,
                        const void *from, size_t fromlen, char **errptr);
/* KV_OK with c->key and c->val/vlen set, KV_NOTFOUND at the end, or an
** error. */
int kv_mvcc_cursor_next(kv_mvcc_cursor *c, char **errptr);
void kv_mvcc_cursor_close(kv_mvcc_cursor *c);

/* ------------------------------------------------------------- latch.c -- */

/* A commit holds every shard its latches touch at once, a range latch all
** of them: 32 keeps that cheap, and within what ThreadSanitizer can track
** for one thread (64 mutexes, SQLite's own among them). */
#define KV_LATCH_SHARDS 32
/* More write keys than this are latched as one range [first, last]. */
#define KV_LATCH_MAX_POINTS 32

typedef struct kv_latch_shard kv_latch_shard;

/* A write latch: a point key, or a range [start, end] (inclusive). */
typedef struct kv_latch {
  struct kv_latch *next, *prev;   /* in its shard's list */
  const char *start;
  size_t slen;
  const char *end;
  size_t elen;
  bool is_range;
  int shard;
  kv_ts ts;
  uint64_t seq;
} kv_latch;

typedef struct kv_latch_mgr {
  kv_latch_shard *shards;
  _Atomic uint64_t seq;
  _Atomic uint64_t waits;
} kv_latch_mgr;

/* The write latches of one commit. */
typedef struct kv_latch_guard {
  kv_latch *latches;
  size_t n;
  uint64_t shard_mask;
  kv_latch inline_latches[4];
} kv_latch_guard;

int kv_latch_mgr_init(kv_latch_mgr *m);
void kv_latch_mgr_destroy(kv_latch_mgr *m);
/* Latches the n keys (ascending, distinct) for writing at ts and waits for
** earlier conflicting write latches.  Keys are borrowed until release. */
int kv_latch_acquire(kv_latch_mgr *m, kv_latch_guard *g, const char **keys,
                     const size_t *klens, size_t n, kv_ts ts);
void kv_latch_release(kv_latch_mgr *m, kv_latch_guard *g);
/* Waits until no write latch at a timestamp <= ts overlaps span: the
** optimistic read's half of latching (see txn.c). */
void kv_latch_wait_read(kv_latch_mgr *m, const kv_span *sp, kv_ts ts);

/* ----------------------------------------------------------- tscache.c -- */

typedef struct kv_tscache kv_tscache;

/* budget: bytes for entries; low: the initial low-water mark. */
kv_tscache *kv_tscache_new(size_t budget, kv_ts low);
void kv_tscache_free(kv_tscache *tc);
/* Records a read of span at ts by txn `owner`. */
void kv_tscache_add(kv_tscache *tc, const kv_span *sp, kv_ts ts,
                    uint64_t owner);
/* The latest read of key by a transaction other than `self`, exact when it
** is at or above `from`; otherwise some timestamp below `from` (callers ask
** whether a write at `from` must move, and a generation whose newest entry
** is below it is not searched). */
kv_ts kv_tscache_max(kv_tscache *tc, const void *key, size_t klen,
                     uint64_t self, kv_ts from);
void kv_tscache_usage(kv_tscache *tc, uint64_t *entries, uint64_t *bytes);

/* ---------------------------------------------------------- rowcache.c -- */

typedef struct kv_rowcache kv_rowcache;

/* What an insert needs from the lookup that missed (E3 in rowcache.c). */
typedef struct kv_rc_ticket {
  uint64_t hash, gen, epoch;
  bool wanted;        /* the key had no entry */
} kv_rc_ticket;

/* budget: bytes of entries; 0 gives NULL (no cache). */
kv_rowcache *kv_rowcache_new(size_t budget);
void kv_rowcache_free(kv_rowcache *rc);
/* 1: key's newest version is at or below at; its value is copied into *out
** and its timestamp into *ts.  0: ask the engine, then pass *ticket to
** kv_rowcache_put with what it found.  -1: out of memory copying. */
int kv_rowcache_get(kv_rowcache *rc, const void *key, size_t klen, kv_ts at,
                    kv_buf *out, kv_ts *ts, kv_rc_ticket *ticket);
/* Adds key's newest version (ts, val) as found by an engine read made
** fresh after the kv_rowcache_get that gave ticket; ignored when a commit
** or a clear came in between, or the key has an entry. */
void kv_rowcache_put(kv_rowcache *rc, const kv_rc_ticket *ticket,
                     const void *key, size_t klen, kv_ts ts, const void *val,
                     size_t vlen);
/* A commit wrote key at ts (val NULL: deleted): its entry, if any, follows.
** Called after the write, before the commit lets its latches go. */
void kv_rowcache_commit(kv_rowcache *rc, const void *key, size_t klen,
                        kv_ts ts, const void *val, size_t vlen);
/* The engine changed in ways not named by key: every entry goes.  NULL ok. */
void kv_rowcache_clear(kv_rowcache *rc);
void kv_rowcache_usage(kv_rowcache *rc, uint64_t *entries, uint64_t *bytes,
                       uint64_t *hits, uint64_t *misses);

/* ----------------------------------------------------------- spanset.c -- */

/* The read spans of a transaction, with bounded memory. */
typedef struct kv_spanset {
  kv_span *v;
  size_t n, cap;
  kv_arena arena;
  size_t bytes;       /* key bytes referenced by v */
  size_t budget;
  uint32_t gen;       /* bumped when v is rebuilt */
} kv_spanset;

void kv_spanset_init(kv_spanset *s, size_t budget);
void kv_spanset_free(kv_spanset *s);
void kv_spanset_clear(kv_spanset *s);
/* Adds a span (copied); returns its index, or -1 on OOM. */
long kv_spanset_add(kv_spanset *s, const kv_span *sp);
/* Merges overlapping spans and, while over budget, widens neighbours into
** covering spans.  Returns false on OOM (the set is then unchanged). */
bool kv_spanset_condense(kv_spanset *s);
/* Does the set cover key? */
bool kv_spanset_contains(const kv_spanset *s, const void *key, size_t klen);

/* -------------------------------------------------------------- wbuf.c -- */

/* A transaction's buffered writes and the keys it has locked. */
enum { KV_W_LOCK = 0, KV_W_PUT = 1, KV_W_DEL = 2 };

typedef struct kv_wver {
  uint32_t seq;
  uint8_t kind;
  const char *val;
  size_t vlen;
  const struct kv_wver *older;
} kv_wver;

typedef struct kv_wentry {
  const char *key;
  size_t klen;
  const kv_wver *head;   /* never NULL: the oldest is the shared KV_W_LOCK
                            at seq 0; versions never change once pushed */
} kv_wentry;

typedef struct kv_wbuf {
  kv_arena arena;
  kv_skl *skl;           /* key -> kv_wentry */
  kv_wentry *hot;        /* the entry last found or added */
  kv_wentry **log;       /* entries in order of their versions' seqs */
  uint32_t *logseq;
  size_t nlog, caplog;
  uint32_t seq;          /* seq of the latest write */
  size_t nwrites;        /* entries whose head is PUT or DEL */
  size_t nentries;       /* entries: keys written or only locked */
} kv_wbuf;

bool kv_wbuf_init(kv_wbuf *w);
void kv_wbuf_free(kv_wbuf *w);
kv_wentry *kv_wbuf_find(kv_wbuf *w, const void *key, size_t klen);
/* A new entry holding only a lock (key copied); NULL on OOM. */
kv_wentry *kv_wbuf_add(kv_wbuf *w, const void *key, size_t klen);
/* Pushes a new version (value copied); false on OOM. */
bool kv_wbuf_write(kv_wbuf *w, kv_wentry *e, int kind, const void *val,
                   size_t vlen);
/* The version visible to a reader at seq. */
static inline const kv_wver *kv_wbuf_visible(const kv_wentry *e,
                                             uint32_t seq) {
  const kv_wver *v = e->head;
  while (v->seq > seq) v = v->older;
  return v;
}
/* Undoes every version with seq > mark. */
void kv_wbuf_rollback(kv_wbuf *w, uint32_t mark);

/* ------------------------------------------------------------- waitq.c -- */

/* Transaction state, the low byte of kv_txn.status. */
enum {
  KV_TXN_PENDING = 0,
  KV_TXN_COMMITTING = 1,  /* prepared or writing its commit: cannot be
                          ** pushed or aborted by others */
  KV_TXN_COMMITTED = 2,
  KV_TXN_ABORTED = 3
};

/* The status word packs the state (KV_TXN_*, bits 0-7) and, for an ABORTED
** transaction, the kv_retry_reason it died of (bits 8 and up), so that one
** compare-and-swap aborts a transaction and says why.  It is built and read
** only through these. */
static inline int kv_status_word(int state, kv_retry_reason reason) {
  return state | ((int)reason << 8);
}
static inline int kv_status_state(int word) { return word & 0xff; }
static inline kv_retry_reason kv_status_reason(int word) {
  return (kv_retry_reason)(word >> 8);
}

typedef struct kv_waitq {
  pthread_mutex_t mu;         /* the wait graph */
  struct kv_txn *waiting;     /* list of transactions waiting for a lock */
  _Atomic uint64_t deadlocks;
} kv_waitq;

int kv_waitq_init(kv_waitq *q);
void kv_waitq_destroy(kv_waitq *q);
/* Records that waiter waits for holder and looks for a cycle through the
** new edge.  When there is one it picks the victim and, if that is another
** transaction, aborts it (waking it and its waiters).  Returns the victim,
** or NULL.  Caller holds the lock-table shard mutex of the key. */
struct kv_txn *kv_waitq_wait_for(kv_waitq *q, struct kv_txn *waiter,
                                 struct kv_txn *holder);
/* Re-points waiter's out-edge (a lock changed hands); NULL clears it. */
void kv_waitq_set_edge(kv_waitq *q, struct kv_txn *waiter,
                       struct kv_txn *holder);
/* waiter stops waiting: clears its edge and leaves the graph. */
void kv_waitq_done(kv_waitq *q, struct kv_txn *waiter);
/* Aborts t (when still pending) with reason, waking it and every
** transaction waiting for it.  Returns true if this call aborted it.  t must
** stay alive for the call: the caller holds the shard mutex of a lock t
** holds. */
bool kv_txn_abort_by_other(kv_waitq *q, struct kv_txn *t,
                           kv_retry_reason reason);

/* The wake-up event count of a transaction (no lost wake-ups: take a token,
** check the condition, then wait while the token is current). */
uint64_t kv_txn_wake_token(struct kv_txn *t);
void kv_txn_wake(struct kv_txn *t);
/* Waits until woken after `token` or until deadline (monotonic ns, 0 =
** none); returns false on timeout. */
bool kv_txn_sleep(struct kv_txn *t, uint64_t token, uint64_t deadline);

/* --------------------------------------------------------- locktable.c -- */

#define KV_LOCK_SHARDS 64

typedef struct kv_lock_shard kv_lock_shard;
typedef struct kv_locktable {
  kv_lock_shard *shards;
  _Atomic uint64_t held;
  _Atomic uint64_t waits;
} kv_locktable;

int kv_locktable_init(kv_locktable *lt);
void kv_locktable_destroy(kv_locktable *lt);
/* Takes key's exclusive lock for txn, waiting in the key's FIFO queue when
** another transaction holds it (until txn's lock timeout).  Returns KV_OK
** (*newly tells whether txn just took it), or KV_RETRY with the reason in
** *reason (deadlock victim, timeout, aborted while waiting). */
int kv_lock_acquire(kv_locktable *lt, kv_waitq *q, struct kv_txn *txn,
                    const void *key, size_t klen, bool *newly,
                    kv_retry_reason *reason);
/* Releases txn's lock on key (if it still holds it) and hands it to the
** first waiter. */
void kv_lock_release(kv_locktable *lt, kv_waitq *q, struct kv_txn *txn,
                     const void *key, size_t klen);
size_t kv_locktable_list(kv_locktable *lt,
                         void (*fn)(void *, const void *, size_t, uint64_t,
                                    int),
                         void *ctx);

/* --------------------------------------------- txn.c, scan.c, commit.c -- */

/* Transactions (txn.c), their scans (scan.c) and their end (commit.c).
** scan.c and commit.c call txn.c; commit.c calls scan.c; txn.c calls
** neither. */

/* An open scan (scan.c).  Lives on its transaction's list until closed. */
struct kv_iter {
  struct kv_txn *txn;
  struct kv_iter *next, *prev;   /* the transaction's open iterators */
  kv_mvcc_cursor cur;            /* committed rows at `at` */
  kv_ts at;
  bool row_pending;              /* cur holds a row not yet returned */
  bool eng_done;
  bool reopen;                   /* the read timestamp moved: reopen cur */
  kv_skl_node *wnode;            /* next own-write candidate */
  uint32_t seq;                  /* own writes visible to this iterator */
  bool reverse, for_update;
  uint64_t limit, count;
  kv_buf lo, hi;
  bool hi_inf;
  bool done, exhausted;
  kv_buf last;                   /* last key returned */
  bool have_last;
  kv_buf span_end;               /* scratch for the covered span */
  const char *rk, *rv;           /* the current row (borrowed) */
  size_t rkl, rvl;
};

/* Used by scan.c and commit.c. */
int kv_txn_check(struct kv_txn *t, char **errptr);
int kv_txn_die(struct kv_txn *t, int rc, kv_retry_reason reason,
               char **errptr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Locks key for t (a no-op if held), and pushes t's write timestamp above
** every read and committed write of key (timestamp cache). */
int kv_txn_lock_key(struct kv_txn *t, const void *key, size_t klen,
                    kv_wentry **out, char **errptr);
/* A locking read: locks key, then reads its latest committed value, moving
** t's read timestamp just above it when it is newer than the snapshot.
** KV_OK with the value in t->vbuf, or KV_NOTFOUND. */
int kv_txn_locking_read(struct kv_txn *t, const void *key, size_t klen,
                        char **errptr);
/* Publishes a read of sp at ts and waits out commits that could hide from
** it; after this an engine iterator created now sees everything at <= ts. */
void kv_txn_prepare_read(struct kv_txn *t, const kv_span *sp, kv_ts ts);
/* Records an engine read of sp for refresh (not for read-only txns). */
int kv_txn_note_read(struct kv_txn *t, const kv_span *sp, char **errptr);
/* The span an open iterator has observed so far; false if none.  Read
** refresh checks it with the transaction's read spans. */
bool kv_iter_covered(struct kv_iter *it, kv_span *out);
/* Moves t's read_ts forward to `to` if nothing t read (its spans and open
** iterators) changed in between; else t dies with KV_RETRY. */
int kv_txn_refresh(struct kv_txn *t, kv_ts to, char **errptr);
/* Releases every lock t holds (its write buffer lists them), handing each
** to its first waiter. */
void kv_txn_release_locks(struct kv_txn *t);
/* Unregisters t and frees it with everything it owns (not its locks). */
void kv_txn_free(struct kv_txn *t);

#define KV_RECENT_READS 4

/* A prepared commit (kv_txn_prepare): what is left is the write. */
#define KV_PREP_SMALL 8
typedef struct kv_prepared {
  const char **keys;       /* the keys to write, ascending (wbuf arena) */
  size_t *klens;
  size_t n;
  const char *keys_small[KV_PREP_SMALL];
  size_t klens_small[KV_PREP_SMALL];
  kv_latch_guard guard;    /* write latches on keys, at cts */
  bool latched;
  size_t bytes;            /* of keys and values, about */
  rocksdb_writebatch_t *batch;   /* the write, or ... */
  kv_sst *sst;             /* ... a file to ingest (large commits) */
  kv_ts cts;
} kv_prepared;

struct kv_txn {
  struct kv_store *store;
  uint64_t id;
  kv_ts read_ts;           /* owner thread only */
  _Atomic uint64_t read_wall;    /* copy of read_ts for introspection */
  _Atomic uint32_t read_logical;
  _Atomic uint64_t write_wall;   /* write_ts, readable by introspection */
  _Atomic uint32_t write_logical;
  kv_ts age;
  int priority;
  int boost;
  bool read_only;
  bool lock_reads;         /* every get and scan locks (kv_txn_options) */
  int lock_timeout_ms;
  int (*lock_timeout_fn)(void *);  /* resolves the timeout at the first wait */
  void *lock_timeout_ctx;
  _Atomic int status;      /* kv_status_word(): read it with kv_txn_state() */
  _Atomic int abort_reason;    /* why another transaction aborted it */

  /* Death: after a retryable or storage error every call fails the same. */
  int dead_rc;
  kv_retry_reason dead_reason;
  char *dead_msg;
  kv_buf dead_key;         /* the key a retryable error was about */

  kv_wbuf wbuf;
  bool wbuf_ready;
  bool prepared;           /* kv_txn_prepare succeeded; status COMMITTING */
  kv_prepared prep;
  kv_spanset spans;
  struct kv_iter *iters;   /* open iterators */
  kv_buf vbuf;             /* value returned by get */
  kv_buf kbuf;             /* scratch engine key */
  rocksdb_iterator_t *pit; /* point-read iterator, reused while fresh */
  kv_view *view;           /* on a reader store: what it reads (reader.c) */
  uint64_t pit_seq;
  /* A key range known to hold no version at all while the engine's write
  ** sequence is gap_seq: [gap_lo, gap_hi), gap_hi_inf for no upper end.
  ** Locking reads of ascending absent keys (a bulk INSERT) answer from it
  ** without an engine read; see kv_txn_locking_read. */
  kv_buf gap_lo, gap_hi;
  bool gap_valid, gap_hi_inf;
  uint64_t gap_seq;
  int gap_misses;          /* absent locking reads since the last probe */
  int gap_every;           /* misses before the next probe (backs off) */
  int gap_hits;            /* reads the current gap answered */
  bool gap_probed;
  uint64_t gap_reads;      /* reads all gaps answered: added to kv_stats
                           ** when the transaction ends */
  /* The last plain reads (key, value at read_ts), so that a locking read of
  ** a key just read (SQL: SELECT, then UPDATE) need not read it again. */
  struct {
    kv_buf key, val;
    bool found, valid;
  } recent[KV_RECENT_READS];
  int recent_next;

  /* Wait state (wait graph mutex unless noted). */
  pthread_mutex_t wmu;     /* wake event count: changed under wmu, read */
  pthread_cond_t wcond;    /* without it by a sleeper that spins first */
  _Atomic uint64_t wake_seq;
  struct kv_txn *waiting_for;
  struct kv_txn *wnext, *wprev;   /* in kv_waitq.waiting */
  bool in_waitq;
  _Atomic uint64_t waiting_for_id;
  struct kv_txn *qnext, *qprev;   /* in a lock's queue (lock shard mutex) */
  _Atomic uint64_t nlocks;
  bool queued;                    /* in a lock's queue (lock shard mutex) */

  /* Transaction table (its shard's mutex). */
  struct kv_txn *tnext, *tprev;
};

/* t's read timestamp as published for GC and introspection.  The halves are
** stored logical first (txn_publish_read_ts) and loaded wall first, so a
** load racing with a forward move never returns more than the newer of the
** two timestamps (txntable.c relies on it). */
static inline kv_ts kv_txn_published_read_ts(const struct kv_txn *t) {
  uint64_t w = atomic_load(&t->read_wall);
  uint32_t l = atomic_load(&t->read_logical);
  return (kv_ts){w, l};
}

/* t's write timestamp (any thread: introspection reads it). */
static inline kv_ts kv_txn_get_write_ts(const struct kv_txn *t) {
  return (kv_ts){atomic_load(&((struct kv_txn *)t)->write_wall),
                 atomic_load(&((struct kv_txn *)t)->write_logical)};
}
/* Sets it (owner thread only). */
static inline void kv_txn_set_write_ts(struct kv_txn *t, kv_ts ts) {
  atomic_store(&t->write_wall, ts.wall);
  atomic_store(&t->write_logical, ts.logical);
}
/* Raises it to at least ts (owner thread only). */
static inline void kv_txn_forward_write_ts(struct kv_txn *t, kv_ts ts) {
  if (kv_ts_lt(kv_txn_get_write_ts(t), ts)) kv_txn_set_write_ts(t, ts);
}

/* The state of t (KV_TXN_*) and, once it is ABORTED, why.  Any thread. */
static inline int kv_txn_state(const struct kv_txn *t) {
  return kv_status_state(atomic_load(&((struct kv_txn *)t)->status));
}
static inline kv_retry_reason kv_txn_abort_reason(const struct kv_txn *t) {
  return kv_status_reason(atomic_load(&((struct kv_txn *)t)->status));
}

/* Status transitions.  PENDING -> COMMITTING (its owner prepares a commit)
** or -> ABORTED (its owner, or another transaction aborting it) by
** compare-and-swap from PENDING, which any thread may race for.  Out of
** COMMITTING only its owner moves it, back to PENDING (the commit did not
** happen) or on to COMMITTED, and nobody else changes a committing status,
** so that move is a plain store.  Nothing leaves COMMITTED or ABORTED. */
static inline bool kv_txn_leave_pending(struct kv_txn *t, int word) {
  assert(kv_status_state(word) == KV_TXN_COMMITTING ||
         kv_status_state(word) == KV_TXN_ABORTED);
  int expected = KV_TXN_PENDING;
  return atomic_compare_exchange_strong(&t->status, &expected, word);
}
static inline void kv_txn_leave_committing(struct kv_txn *t, int state) {
  assert(state == KV_TXN_PENDING || state == KV_TXN_COMMITTED);
  assert(kv_txn_state(t) == KV_TXN_COMMITTING);
  atomic_store(&t->status, state);
}

/* ---------------------------------------------------------- txntable.c -- */

#define KV_TXN_SHARDS 16

typedef struct kv_txn_shard {
  pthread_mutex_t mu;
  struct kv_txn *head;     /* via kv_txn.tnext/tprev */
} kv_txn_shard;

/* The live transactions of a store, and the GC threshold they are admitted
** against (the invariant is in txntable.c). */
typedef struct kv_txntable {
  kv_txn_shard shards[KV_TXN_SHARDS];
  kv_ts gc_threshold;      /* all shard mutexes; only rises */
} kv_txntable;

void kv_txntable_init(kv_txntable *tt);
void kv_txntable_destroy(kv_txntable *tt);
/* Adds t (its read_ts set); KV_INVALID when t reads below the threshold. */
int kv_txntable_register(kv_txntable *tt, struct kv_txn *t, char **errptr);
void kv_txntable_unregister(kv_txntable *tt, struct kv_txn *t);
/* fn(ctx, errptr) with every shard held, so that no transaction can
** begin meanwhile, if no transaction is live; KV_BUSY if one is. */
int kv_txntable_when_empty(kv_txntable *tt, int (*fn)(void *, char **),
                           void *ctx, char **errptr);
/* Raises the threshold to min(horizon, the oldest live read timestamp), if
** that is higher, and returns the threshold in force. */
kv_ts kv_txntable_gc_threshold(kv_txntable *tt, kv_ts horizon);
/* The threshold in force: reads below it are refused. */
kv_ts kv_txntable_threshold(kv_txntable *tt);
/* Calls fn (when not NULL) for each live transaction, under its shard's
** mutex; returns how many there are. */
size_t kv_txntable_list(kv_txntable *tt,
                        void (*fn)(void *, const kv_txn_info *), void *ctx);

/* ------------------------------------------------------------ ticker.c -- */

/* A thread that calls tick(arg) every period_ns(arg) until stopped. */
typedef struct kv_ticker {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;               /* mu */
  bool running;            /* owner's thread only */
  uint64_t (*period_ns)(void *arg);
  void (*tick)(void *arg);
  void *arg;
} kv_ticker;

/* false when the thread cannot be started. */
bool kv_ticker_start(kv_ticker *t, uint64_t (*period_ns)(void *),
                     void (*tick)(void *), void *arg);
/* Restarts the current wait with the period as it is now (no tick). */
void kv_ticker_wake(kv_ticker *t);
/* Stops and joins the thread; a no-op when it does not run. */
void kv_ticker_stop(kv_ticker *t);

/* ---------------------------------------------------------- closedts.c -- */

/* The metadata key of the writer's closed timestamp. */
#define KV_CLOSED_META "kvcore.closed"

/* A closed-timestamp record: every commit at or below ts is in the log
** before it, none will follow it (closedts.c); off: the writer keeps no
** log (synchronous=off), so it promises nothing.  tick_wall: the wall
** clock (ns) when the tick that wrote it began. */
typedef struct kv_closed {
  bool off;
  uint64_t tick_wall;
  kv_ts ts;
} kv_closed;

int kv_closed_decode(const char *val, size_t n, kv_closed *out);
/* CLOCK_REALTIME in ns, the clock tick_wall is on. */
uint64_t kv_closed_wall_ns(void);
/* A reader process announces itself to the store at path: the malloc'd
** name of its file, or NULL when it cannot (a read-only directory). */
char *kv_closed_register(const char *path);
/* Removes and frees the file (NULL: nothing). */
void kv_closed_unregister(char *file);
/* The writer's closer thread: started when a writer store opens on disk,
** stopped first when it closes; kv_closed_stop is a no-op when none runs. */
int kv_closed_start(struct kv_store *s, char **errptr);
void kv_closed_stop(struct kv_store *s);

/* ---------------------------------------------------------------- gc.c -- */

/* The background GC thread (kv_options.gc_interval_ms > 0): started last
** when a store opens, stopped first when it closes.  kv_gc_stop is a no-op
** when none runs. */
int kv_gc_start(struct kv_store *s, char **errptr);
void kv_gc_stop(struct kv_store *s);

/* ------------------------------------------------------------- store.c -- */

#define KV_TALLY_SLOTS 1024 /* a power of two */

struct kv_store {
  char *path;              /* "" for the in-memory store */
  bool in_memory;
  int refs;                /* registry mutex */
  bool superseded;         /* a reader whose process opened the store as
                           ** writer since: opens skip it (registry mutex) */
  pid_t pid;
  struct kv_store *reg_next;

  kv_options opts;
  _Atomic int lock_timeout_ms;
  /* kv_store_set_gc(): read by GC passes and the GC thread each time. */
  _Atomic int64_t retention_ms, gc_interval_ms;
  _Atomic uint64_t gc_runs, gc_deleted;  /* kv_stats */
  _Atomic uint64_t epoch;
  pthread_mutex_t meta_mu;  /* kv_store_meta_claim: a leaf */
  kv_ts opened_at;         /* kv_store_opened_at(), set once at open */
  /* kv_store_tally(): an open-addressing table of atomic counters, so a
  ** commit that counts its rows takes no lock.  id 0 marks a free slot. */
  struct kv_tally { _Atomic uint64_t id; _Atomic int64_t v; }
      tallies[KV_TALLY_SLOTS];
  kv_engine eng;
  kv_clock clock;
  kv_tscache *tscache;
  kv_rowcache *rowcache;   /* NULL: none (a reader, or row_cache_bytes 0) */
  kv_latch_mgr latches;
  kv_locktable locks;
  kv_waitq waitq;
  kv_txntable txns;
  _Atomic uint64_t next_txn_id;

  kv_ticker closer;        /* closedts.c */
  _Atomic bool closer_readers;   /* a reader process was there last tick */

  kv_ticker gc;             /* the GC thread (gc.c) */

  struct {
    _Atomic uint64_t txns_begun, txns_lock_reads;
    _Atomic uint64_t commits, commits_readonly, aborts;
    _Atomic uint64_t retries[6];
    _Atomic uint64_t refreshes, refresh_failures;
    _Atomic uint64_t pushes_tscache;
    _Atomic uint64_t reads_from_gap;
  } st;
};

#define KV_STAT_INC(s, field) \
  atomic_fetch_add_explicit(&(s)->st.field, 1, memory_order_relaxed)

#endif /* KVINT_H */
