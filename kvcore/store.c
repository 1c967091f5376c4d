/*
** store.c — opening and closing stores, the process-wide registry,
** options, metadata, statistics and introspection.
**
** The registry is the only global mutable state of kvcore: a list of open
** stores keyed by real path, each reference counted, under one mutex.
** Opening a directory the process already has open returns the same store,
** so every connection of a process shares one RocksDB instance, one clock,
** one lock table.  The registry remembers which process opened each store:
** after fork() the child finds the parent's entries but skips them, so its
** own open reaches RocksDB's LOCK file and opens the store as a reader, as
** any other process would.  The registry mutex is taken around fork() so a
** child never inherits it locked.
**
** Readers (reader.c): a store another process writes is opened as a
** reader.  An open that finds a reader in the registry checks who holds the
** LOCK file now: while another process does, it shares the reader; once
** none does, it opens the store afresh, as its writer, and the reader's
** entry is marked superseded, so that every later open finds the writer.
** The references to the reader handed out before stay readers (their
** transactions keep reading, catching up with this process's writes) until
** they are closed.
**
** A store owns one of each shared component: the engine (engine.c), the
** clock (clock.c), the timestamp cache (tscache.c), the latch manager
** (latch.c), the lock table (locktable.c), the wait graph (waitq.c), the
** table of live transactions (txntable.c) and, when configured, the GC
** thread (gc.c).  Opening creates them and starts the GC thread last, so
** it never sees a half-built store; closing stops it first and then
** destroys the rest, which needs every transaction of the store to have
** ended.
*/
#include "kvint.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KV_RESERVED_META "kvcore."

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static kv_store *registry;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static void registry_prefork(void) { pthread_mutex_lock(&registry_mu); }
static void registry_postfork(void) { pthread_mutex_unlock(&registry_mu); }
static void registry_init(void) {
  pthread_atfork(registry_prefork, registry_postfork, registry_postfork);
}

void kv_options_init(kv_options *o) {
  memset(o, 0, sizeof(*o));
  o->create_if_missing = 1;
  o->synchronous = KV_SYNC_FULL;
  o->lock_timeout_ms = 5000;
  o->retention_ms = 24LL * 3600 * 1000;
  o->tscache_bytes = 16u << 20;
  o->refresh_span_bytes = 1u << 20;
  /* 160 MiB of caches in all.  A row-cache hit skips a seek, a block-cache
  ** hit only the read and decompression of one block: point reads by a
  ** unique index over 200,000 rows ran 1.0-1.1x native with 64 + 96 MiB
  ** and 0.58-0.64x with 32 + 128 (bench_sql W8); scans (W4) the same. */
  o->cache_bytes = 96u << 20;
  o->row_cache_bytes = 64u << 20;
  o->write_buffer_bytes = 32u << 20;
  o->ingest_bytes = 4u << 20;
  o->reopen_interval_ms = 1000;
}

static int clock_persist(void *ctx, uint64_t hwm, char **errptr) {
  kv_store *s = ctx;
  /* A reader's clock stamps nothing that is written: nothing to protect. */
  if (s->eng.reader) return KV_OK;
  char b[8];
  for (int i = 7; i >= 0; i--) {
    b[i] = (char)(hwm & 0xff);
    hwm >>= 8;
  }
  return kv_engine_meta_put(&s->eng, KV_CLOCK_META, b, 8, errptr);
}

static int clock_load(kv_store *s, uint64_t *hwm, char **errptr) {
  char *v = NULL;
  size_t n = 0;
  *hwm = 0;
  int rc = kv_engine_meta_get(&s->eng, KV_CLOCK_META, &v, &n, errptr);
  if (rc == KV_NOTFOUND) return KV_OK;
  if (rc) return rc;
  if (n != 8) {
    free(v);
    return kv_err(errptr, KV_CORRUPT, "store clock mark is corrupt");
  }
  for (int i = 0; i < 8; i++) *hwm = (*hwm << 8) | (unsigned char)v[i];
  free(v);
  return KV_OK;
}

static void store_destroy(kv_store *s) {
  kv_closed_stop(s);
  kv_gc_stop(s);
  kv_engine_close(&s->eng);
  kv_tscache_free(s->tscache);
  kv_rowcache_free(s->rowcache);
  pthread_mutex_destroy(&s->meta_mu);
  kv_latch_mgr_destroy(&s->latches);
  kv_locktable_destroy(&s->locks);
  kv_waitq_destroy(&s->waitq);
  kv_clock_destroy(&s->clock);
  kv_txntable_destroy(&s->txns);
  free(s->path);
  free(s);
}

static int store_create(const char *path, bool in_memory, const kv_options *o,
                        kv_store **out, char **errptr) {
  kv_store *s = calloc(1, sizeof(*s));
  if (!s) return kv_err(errptr, KV_NOMEM, "out of memory");
  s->path = strdup(path);
  s->in_memory = in_memory;
  s->opts = *o;
  pthread_mutex_init(&s->meta_mu, NULL);
  s->pid = getpid();
  atomic_store(&s->lock_timeout_ms, o->lock_timeout_ms);
  atomic_store(&s->retention_ms, o->retention_ms);
  atomic_store(&s->gc_interval_ms, o->gc_interval_ms);
  kv_txntable_init(&s->txns);
  int rc = KV_OK;
  if (!s->path || kv_latch_mgr_init(&s->latches) ||
      kv_locktable_init(&s->locks) || kv_waitq_init(&s->waitq)) {
    rc = kv_err(errptr, KV_NOMEM, "out of memory");
    goto fail;
  }
  if ((rc = kv_engine_open(&s->eng, in_memory ? "/kvcore-memory" : path,
                           in_memory, o, errptr)))
    goto fail;
  uint64_t hwm;
  if ((rc = clock_load(s, &hwm, errptr))) goto fail;
  if ((rc = kv_clock_init(&s->clock, o->wall_clock, o->wall_clock_ctx, hwm,
                          clock_persist, s, errptr)))
    goto fail;
  kv_ts now;
  if ((rc = kv_clock_now(&s->clock, &now, errptr))) goto fail;
  /* Reads from before this open are forgotten: nothing may be written at
  ** or below now. */
  s->tscache = kv_tscache_new(o->tscache_bytes, now);
  /* A reader's snapshots are another process's writes: nothing to keep. */
  if (!s->eng.reader) s->rowcache = kv_rowcache_new(o->row_cache_bytes);
  if (!s->tscache || (o->row_cache_bytes && !s->eng.reader && !s->rowcache)) {
    rc = kv_err(errptr, KV_NOMEM, "out of memory");
    goto fail;
  }
  if ((rc = kv_gc_start(s, errptr))) goto fail;
  if ((rc = kv_closed_start(s, errptr))) goto fail;
  *out = s;
  return KV_OK;

fail:
  store_destroy(s);
  return rc;
}

/* Resolves path to the registry key: the real path of the directory,
** created first when allowed. */
static int store_key(const char *path, const kv_options *o, char **key,
                     char **errptr) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno != ENOENT)
      return kv_err(errptr, KV_IOERR, "cannot open store %s: %s", path,
                    strerror(errno));
    if (!o->create_if_missing)
      return kv_err(errptr, KV_IOERR, "store directory %s does not exist",
                    path);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
      return kv_err(errptr, KV_IOERR, "cannot create store directory %s: %s",
                    path, strerror(errno));
  } else if (!S_ISDIR(st.st_mode)) {
    return kv_err(errptr, KV_CORRUPT,
                  "not a kvcore store: %s is not a directory", path);
  }
  char *rp = realpath(path, NULL);
  if (!rp)
    return kv_err(errptr, KV_IOERR, "cannot resolve store path %s: %s", path,
                  strerror(errno));
  *key = rp;
  return KV_OK;
}

int kv_store_open(const char *path, const kv_options *opts, kv_store **out,
                  char **errptr) {
  kv_options dflt;
  if (!opts) {
    kv_options_init(&dflt);
    opts = &dflt;
  }
  *out = NULL;
  if (opts->synchronous < KV_SYNC_FULL || opts->synchronous > KV_SYNC_OFF)
    return kv_err(errptr, KV_INVALID, "synchronous must be full, normal or "
                  "off");
  if (opts->lock_timeout_ms < 0 || opts->retention_ms < 0)
    return kv_err(errptr, KV_INVALID, "negative timeout or retention");
  pthread_once(&registry_once, registry_init);
  bool in_memory = !path || !strcmp(path, ":memory:");
  char *key = NULL;
  if (in_memory) {
    key = strdup("");
    if (!key) return kv_err(errptr, KV_NOMEM, "out of memory");
  } else {
    int rc = store_key(path, opts, &key, errptr);
    if (rc) return rc;
  }
  pthread_mutex_lock(&registry_mu);
  pid_t me = getpid();
  kv_store *reader = NULL;
  for (kv_store *s = registry; s; s = s->reg_next) {
    if (s->pid == me && !s->superseded && !strcmp(s->path, key)) {
      if (s->eng.reader && kv_reader_lock_holder(key) == 0) {
        reader = s; /* its writer is gone: try to become the writer */
        break;
      }
      s->refs++;
      pthread_mutex_unlock(&registry_mu);
      free(key);
      *out = s;
      return KV_OK;
    }
  }
  kv_store *s = NULL;
  int rc = store_create(key, in_memory, opts, &s, errptr);
  if (reader && (rc != KV_OK || s->eng.reader)) {
    /* Another process took the store meanwhile: share the reader. */
    if (rc == KV_OK) store_destroy(s);
    reader->refs++;
    pthread_mutex_unlock(&registry_mu);
    free(key);
    *out = reader;
    return KV_OK;
  }
  if (rc == KV_OK && reader) reader->superseded = true;
  if (rc == KV_OK) {
    s->refs = 1;
    s->opened_at = kv_store_now(s);
    s->reg_next = registry;
    registry = s;
    *out = s;
  }
  pthread_mutex_unlock(&registry_mu);
  free(key);
  return rc;
}

void kv_store_close(kv_store *s) {
  if (!s) return;
  pthread_mutex_lock(&registry_mu);
  bool last = --s->refs == 0;
  if (last) {
    kv_store **pp = &registry;
    while (*pp && *pp != s) pp = &(*pp)->reg_next;
    if (*pp) *pp = s->reg_next;
  }
  pthread_mutex_unlock(&registry_mu);
  if (last) store_destroy(s);
}

void kv_store_get_options(kv_store *s, kv_options *out) {
  *out = s->opts;
  out->synchronous = (kv_sync)atomic_load(&s->eng.sync_mode);
  out->lock_timeout_ms = atomic_load(&s->lock_timeout_ms);
  out->retention_ms = atomic_load(&s->retention_ms);
  out->gc_interval_ms = atomic_load(&s->gc_interval_ms);
}

void kv_store_set_lock_timeout(kv_store *s, int ms) {
  atomic_store(&s->lock_timeout_ms, ms < 0 ? 0 : ms);
}

void kv_store_set_synchronous(kv_store *s, kv_sync mode) {
  if (mode < KV_SYNC_FULL || mode > KV_SYNC_OFF) return;
  atomic_store(&s->eng.sync_mode, (int)mode);
}

uint64_t kv_store_epoch(kv_store *s) { return atomic_load(&s->epoch); }
kv_ts kv_store_opened_at(kv_store *s) { return s->opened_at; }

int64_t kv_store_tally(kv_store *s, uint64_t id, int64_t delta) {
  if (id == 0) return 0;
  size_t mask = KV_TALLY_SLOTS - 1, i = (size_t)kv_hash(&id, sizeof id) & mask;
  for (size_t probes = 0; probes < KV_TALLY_SLOTS; probes++, i = (i + 1) & mask) {
    struct kv_tally *t = &s->tallies[i];
    uint64_t cur = atomic_load(&t->id);
    if (cur == 0) {
      if (delta == 0) return 0; /* never counted */
      if (!atomic_compare_exchange_strong(&t->id, &cur, id) && cur != id)
        continue; /* another id took the slot */
    } else if (cur != id) {
      continue;
    }
    return atomic_fetch_add(&t->v, delta) + delta;
  }
  return 0; /* every slot taken: a tally is bookkeeping, lose the update */
}
void kv_store_bump_epoch(kv_store *s) { atomic_fetch_add(&s->epoch, 1); }

const char *kv_store_path(kv_store *s) { return s->path; }

int kv_store_is_reader(kv_store *s) { return s->eng.reader != NULL; }

long kv_store_writer_pid(kv_store *s) {
  if (s->in_memory) return 0;
  long pid = kv_reader_lock_holder(s->path);
  return pid == (long)getpid() ? 0 : pid;
}

kv_ts kv_store_now(kv_store *s) {
  kv_ts t;
  if (kv_clock_now(&s->clock, &t, NULL)) t = kv_clock_peek(&s->clock);
  return t;
}

int kv_store_meta_get(kv_store *s, const char *name, char **pval,
                      size_t *plen, char **errptr) {
  if (!strncmp(name, KV_RESERVED_META, strlen(KV_RESERVED_META)))
    return kv_err(errptr, KV_INVALID, "metadata names starting with '%s' are "
                  "reserved", KV_RESERVED_META);
  return kv_engine_meta_get(&s->eng, name, pval, plen, errptr);
}

int kv_store_meta_put(kv_store *s, const char *name, const void *val,
                      size_t len, char **errptr) {
  if (!strncmp(name, KV_RESERVED_META, strlen(KV_RESERVED_META)))
    return kv_err(errptr, KV_INVALID, "metadata names starting with '%s' are "
                  "reserved", KV_RESERVED_META);
  return kv_engine_meta_put(&s->eng, name, val, len, errptr);
}

int kv_store_meta_claim(kv_store *s, const char *name, const void *val,
                        size_t len, char **pcur, size_t *pcurlen,
                        char **errptr) {
  *pcur = NULL;
  *pcurlen = 0;
  pthread_mutex_lock(&s->meta_mu);
  int rc = kv_store_meta_get(s, name, pcur, pcurlen, errptr);
  if (rc == KV_NOTFOUND) rc = kv_store_meta_put(s, name, val, len, errptr);
  pthread_mutex_unlock(&s->meta_mu);
  return rc;
}

int kv_store_delete_range(kv_store *s, const void *start, size_t slen,
                          const void *end, size_t elen, char **errptr) {
  if (kv_bytes_cmp(start, slen, end, elen) >= 0) return KV_OK;
  int rc = kv_engine_delete_range(&s->eng, start, slen, end, elen, errptr);
  kv_rowcache_clear(s->rowcache); /* E2, failed or not */
  return rc;
}

size_t kv_store_list_txns(kv_store *s, void (*fn)(void *, const kv_txn_info *),
                          void *ctx) {
  return kv_txntable_list(&s->txns, fn, ctx);
}

size_t kv_store_list_locks(kv_store *s,
                           void (*fn)(void *, const void *, size_t, uint64_t,
                                      int),
                           void *ctx) {
  return kv_locktable_list(&s->locks, fn, ctx);
}

void kv_store_stats(kv_store *s, kv_stats *o) {
  memset(o, 0, sizeof(*o));
  o->txns_begun = atomic_load(&s->st.txns_begun);
  o->txns_lock_reads = atomic_load(&s->st.txns_lock_reads);
  o->commits = atomic_load(&s->st.commits);
  o->commits_readonly = atomic_load(&s->st.commits_readonly);
  o->aborts = atomic_load(&s->st.aborts);
  for (int i = 0; i < 6; i++) o->retries[i] = atomic_load(&s->st.retries[i]);
  o->refreshes = atomic_load(&s->st.refreshes);
  o->refresh_failures = atomic_load(&s->st.refresh_failures);
  o->pushes_tscache = atomic_load(&s->st.pushes_tscache);
  o->reads_from_gap = atomic_load(&s->st.reads_from_gap);
  o->lock_waits = atomic_load(&s->locks.waits);
  o->latch_waits = atomic_load(&s->latches.waits);
  o->deadlocks = atomic_load(&s->waitq.deadlocks);
  o->locks_held = atomic_load(&s->locks.held);
  o->active_txns = kv_txntable_list(&s->txns, NULL, NULL);
  kv_tscache_usage(s->tscache, &o->tscache_entries, &o->tscache_bytes);
  kv_reader_counters(&s->eng, &o->reader_snapshots_closed,
                     &o->reader_snapshots_newest);
  kv_rowcache_usage(s->rowcache, &o->row_cache_entries, &o->row_cache_bytes,
                    &o->row_cache_hits, &o->row_cache_misses);
  kv_engine_counters(&s->eng, &o->wal_writes, &o->wal_syncs,
                      &o->commits_ingested);
  o->iter_creates = atomic_load(&s->eng.iter_creates);
  o->iter_refreshes = atomic_load(&s->eng.iter_refreshes);
  kv_engine_serial(&s->eng, &o->serial_write_ns, &o->serial_sync_ns,
                   &o->serial_mutex_ns);
  o->serial_mutex_ns += atomic_load(&s->clock.held_ns);
  o->gc_runs = atomic_load(&s->gc_runs);
  o->gc_versions_deleted = atomic_load(&s->gc_deleted);
  o->gc_threshold = kv_txntable_threshold(&s->txns);
  o->write_failures = atomic_load(&s->eng.write_failures);
  o->recoveries = atomic_load(&s->eng.recoveries);
  o->reopens = atomic_load(&s->eng.reopens);
  o->background_errors = kv_engine_background_errors(&s->eng);
}

int kv_store_health(kv_store *s, char **errptr) {
  return kv_engine_health(&s->eng, errptr);
}
