/*
** engine.c — the RocksDB instance under a store.
**
** Two column families:
**   "default"    store metadata, bytewise keys: the format marker
**                ("kvcore.format" = "2"), the clock's high-water mark, and
**                whatever the embedding layer keeps there (kv_store_meta_*).
**   "kvcore.v2"  versioned user data in storage format 2 (keyenc.c), under
**                RocksDB's built-in bytewise comparator.
**
** Formats.  The data family's name carries the storage format: "kvcore.vN"
** for format N >= 2, "mvcc" for format 1 (a C comparator over key ‖
** timestamp).  RocksDB lists a directory's families without opening it, so
** a store of another format is refused with both formats named before a
** byte of it is written (opening a RocksDB read-write writes a new MANIFEST
** and log even if nothing else happens).  The "kvcore.format" marker says
** the same inside the store, and is checked too.
**
** Opening refuses anything that is not a kvcore store instead of writing
** into it: a non-empty directory without a RocksDB CURRENT file, a RocksDB
** without a kvcore data family, or one without the format marker.
**
** Damage.  A directory that holds RocksDB's files but not its CURRENT file,
** or whose CURRENT does not name a MANIFEST that is there, is a damaged
** store: KV_CORRUPT, saying which file is missing, before RocksDB is asked
** (it would answer "not a store" or a bare ENOENT, and an open that went
** ahead would create a new, empty store over the remains).  A damaged table
** file or MANIFEST is RocksDB's "Corruption: ..." (KV_CORRUPT), passed on.
** A log whose tail is torn or corrupt is recovered up to the last whole
** record (RocksDB's default kPointInTimeRecovery): a commit is one write
** batch, one record, so what comes back is a prefix of whole commits.
** RocksDB's LOCK file keeps a second process out of writing: when another
** process holds it, the store is opened as a reader (reader.c) and every
** write here fails with KV_READONLY; a store that cannot be read that way
** either is KV_BUSY.
**
** Durability (the `synchronous` option, changeable while open): full = the
** write goes to the WAL and is fsynced before the commit returns, normal =
** WAL without fsync, off = no WAL.  Metadata writes are always synchronous.
**
** Group sync.  A full write is a WAL write without sync followed by
** engine_sync(): writes are numbered as they complete, and one thread at a
** time fsyncs the WAL on behalf of every write numbered before its fsync
** began; the others wait for that fsync or the next one.  The fsync goes
** through descriptors of kvcore's own on the store's WAL files
** (wal_fsync_direct), not through RocksDB's SyncWAL() (rocksdb_flush_wal):
** SyncWAL() runs beside the writes, and when one of them fails meanwhile
** (a full disk) RocksDB's WAL writer has seen an error and SyncWAL()
** trips an assertion that aborts the process (Debian's build keeps
** asserts; test_fault's concurrent committers hit it).  An fsync of the
** file makes durable whatever RocksDB handed the kernel, which is every
** completed write (RocksDB writes each WAL record out before its write
** returns), and the directory is fsynced when a new WAL file appears.
** While one fsync runs, every commit that finishes its write meanwhile
** joins the next, so N concurrent committers cost about two
** fsyncs, not N, and nothing serialises the writes themselves (RocksDB's
** write thread groups those).  A commit calls this under its latches, so
** no reader sees its writes before they are durable.  kvcore counts the WAL
** writes and fsyncs itself (kv_stats).
**
** Serial time.  kv_stats.serial_*_ns add up the time spent where one thread
** at a time can be, measured around the calls (CLOCK_MONOTONIC, a vDSO read
** of about 25 ns): rocksdb_write and ingestion, the group fsync, and the
** time gmu is held.  rocksdb_write holds the serial part of a commit, its
** write group (the leader writes the WAL for the group, one group at a
** time), but also the writer's own memtable insert, which runs in parallel
** with other writers' (unordered writes, below), and, when other threads
** write, the wait for the group ahead: the write figure is an upper bound
** of the serial work, close to it only when one thread writes (the
** benchmark takes the memtable insert out with RocksDB's perf context).
** The others are serial at any concurrency.
**
** FAILURE AND RECOVERY.  A RocksDB write or WAL fsync that fails (a full
** disk: KV_FULL; any other I/O error: KV_IOERR) puts the engine in the
** failed state (fail_rc, under gmu), and RocksDB itself stops accepting
** writes (its "background error": paranoid_checks is on).  A failed write
** had no effect: RocksDB inserts a batch into the memtable only after its
** WAL write succeeded, and every batch of a failed write group fails.
**   - Nothing syncs through RocksDB's WAL writer (Group sync, above), so
**     a failed write never leads to an assertion.  Commits whose own WAL
**     write succeeded before another one failed still get their fsync:
**     the group sync goes on after a failed *write*.
**     After a failed *fsync* (fail_sync) no later fsync can be trusted
**     (the kernel may have dropped the pages it could not write and report
**     the next fsync clean), so every commit still waiting for a sync then
**     fails with the fsync's error.  Such a commit's batch is in the
**     memtable already: its outcome is unknown (the message says so), the
**     one case where a failed commit can be visible afterwards.
**   - Reads go on: iterators and gets work on a stopped RocksDB.
**   - Every write (kv_engine_write, meta_put, ingest) first tries to
**     recover (engine_recover): one thread at a time, once no fsync is
**     under way, calls DB::Resume() (resume.cc), which clears RocksDB's
**     error if it can, flushes every memtable to table files and moves to
**     a new WAL, so the WAL that saw the error is never written or synced
**     again and is deleted as obsolete.  While the disk is still full the
**     flush fails, Resume() returns the error and the write fails with it
**     at once; once space is back the next write recovers and goes on.
**     Every commit acknowledged before the failure is in the WAL (synced)
**     or, after the recovery, in synced table files.  Nothing is closed
**     or reopened under the open connections, so pooled iterators, open
**     transactions, the GC thread and the group sync need no quiescing
**     (recovery still waits out a group fsync under way, syncing, so that
**     at most one of the two runs at a time).
**   - RocksDB refuses to resume after an error it deems fatal: a failed
**     WAL write for any reason but a full disk is one.  Resume() then
**     fails at once, and every write fails with the failure and a message
**     that says so (fail_fatal) until the next transaction to begin while
**     none is open reopens RocksDB underneath the store (REOPEN, below).
**   - A failed flush or compaction in the background stops RocksDB's
**     writes the same way: the next write fails with its error, which puts
**     the engine in the failed state, and recovers as above.  RocksDB's
**     count of such errors and the failure itself are in kv_stats and
**     kv_store_health (mvcc_stats: background_errors, write_error).
**   - RocksDB also recovers by itself from a full disk: its SstFileManager
**     polls the free space (every 5 s) and resumes once there is room for
**     the largest memtable (kv_options.write_buffer_bytes, 32 MiB by
**     default), and it retries other retryable errors.  While that recovery is under
**     way Resume() answers "Resource busy": the write fails with the
**     failure as it was, and the store accepts writes again when RocksDB's
**     recovery succeeds (within about 5 s of space coming back) or, when
**     none is under way, at the first write after it.  Resume() on a
**     recovered instance returns at once: the two never conflict.
**
** Large commits (kv_options.ingest_bytes) skip the WAL and the memtable:
** their rows are written, in key order, to one SST file in <store>/ingest/,
** which RocksDB then links into the LSM tree under one MANIFEST record
** (CockroachDB's AddSSTable does the same for bulk writes).  Ingestion is
** all or nothing across a crash and fsyncs the file, so the commit is
** durable at every level; the WAL is synced first, so no earlier commit
** can be lost by a crash that keeps this one.  A file left by a crash
** before its ingestion is removed when the store opens.  The batch path
** would hold the rows three times at once (write buffer, WriteBatch,
** memtable); this one holds them once.
*/
#include "kvint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KV_META_WRITE_BUFFER (4u << 20)
/* RocksDB's own retries after a retryable write error (resume.cc): 200 ms,
** so that a store recovers and closes within that of the cause going. */
#define KV_RESUME_RETRY_US 200000
void kv_engine_set_resume_interval(rocksdb_options_t *o, uint64_t us);
#define KV_FORMAT_KEY "kvcore.format"
#define KV_INGEST_DIR "ingest"
#define KV_FORMAT_VERSION "2"
#define KV_DATA_FAMILY "kvcore.v" KV_FORMAT_VERSION
#define KV_DATA_FAMILY_V1 "mvcc"

const char kv_data_family[] = KV_DATA_FAMILY;

int kv_engine_code(const char *m) {
  if (!m) return KV_IOERR;
  if (strstr(m, "lock hold by current process") ||
      strstr(m, "While lock file") || strstr(m, "LOCK:"))
    return KV_BUSY;
  if (!strncmp(m, "Corruption", 10)) return KV_CORRUPT;
  if (strstr(m, "No space left on device") || strstr(m, "NoSpace"))
    return KV_FULL;
  if (!strncmp(m, "Invalid argument", 16)) return KV_INVALID;
  return KV_IOERR;
}

/* Sets *errptr from a RocksDB error (consumed) and returns the code. */
static int engine_fail(char **errptr, char *rerr, const char *what) {
  int rc = kv_engine_code(rerr);
  if (rc == KV_BUSY)
    kv_err(errptr, rc, "store is in use by another process (%s)", rerr);
  else if (rc == KV_FULL)
    kv_err(errptr, rc, "database or disk is full (%s: %s)", what, rerr);
  else
    kv_err(errptr, rc, "%s: %s", what, rerr);
  free(rerr);
  return rc;
}

/* Is name one of the files RocksDB keeps in a database directory? */
static bool rocksdb_file(const char *name) {
  size_t n = strlen(name);
  return !strcmp(name, "CURRENT") || !strcmp(name, "IDENTITY") ||
         !strncmp(name, "MANIFEST-", 9) || !strncmp(name, "OPTIONS-", 8) ||
         (n > 4 && (!strcmp(name + n - 4, ".sst") ||
                    !strcmp(name + n - 4, ".log")));
}

/* 1: a directory with entries, 0: empty, -1: missing (errno set).
** *has_rocksdb: one of the entries is a file of RocksDB's. */
static int dir_state(const char *path, bool *has_current, bool *has_rocksdb) {
  *has_current = *has_rocksdb = false;
  DIR *d = opendir(path);
  if (!d) return -1;
  int any = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    any = 1;
    if (!strcmp(de->d_name, "CURRENT")) *has_current = true;
    if (rocksdb_file(de->d_name)) *has_rocksdb = true;
  }
  closedir(d);
  return any;
}

int kv_store_exists(const char *path) {
  bool cur, rdb;
  if (!path || !strcmp(path, ":memory:")) return 0;
  return dir_state(path, &cur, &rdb) > 0 && rdb;
}

/* Checks that <path>/CURRENT names a MANIFEST that is there: RocksDB
** reports a missing one as a bare "No such file or directory". */
static int check_current(const char *path, char **errptr) {
  char f[4096], name[256];
  if (snprintf(f, sizeof f, "%s/CURRENT", path) >= (int)sizeof f)
    return KV_OK; /* RocksDB will say */
  FILE *fp = fopen(f, "r");
  if (!fp)
    return kv_err(errptr, KV_IOERR, "cannot read %s: %s", f, strerror(errno));
  size_t n = fread(name, 1, sizeof name - 1, fp);
  fclose(fp);
  name[n] = 0;
  while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == '\r')) name[--n] = 0;
  if (n == 0 || strncmp(name, "MANIFEST-", 9) || strchr(name, '/'))
    return kv_err(errptr, KV_CORRUPT,
                  "store %s is damaged: its CURRENT file does not name a "
                  "MANIFEST (the store was left untouched)",
                  path);
  struct stat st;
  if (snprintf(f, sizeof f, "%s/%s", path, name) < (int)sizeof f &&
      stat(f, &st) != 0 && errno == ENOENT)
    return kv_err(errptr, KV_CORRUPT,
                  "store %s is damaged: its CURRENT file names %s, which is "
                  "missing (the store was left untouched)",
                  path, name);
  return KV_OK;
}

static void engine_free_opts(kv_engine *e) {
  free(e->ingest_dir);
  e->ingest_dir = NULL;
  free(e->dir);
  free(e->fail_msg);
  if (e->ro) rocksdb_readoptions_destroy(e->ro);
  if (e->ro_point) rocksdb_readoptions_destroy(e->ro_point);
  for (int i = 0; i < 3; i++)
    if (e->wo[i]) rocksdb_writeoptions_destroy(e->wo[i]);
  if (e->wo_sync) rocksdb_writeoptions_destroy(e->wo_sync);
  if (e->cfopts_data) rocksdb_options_destroy(e->cfopts_data);
  if (e->dbopts) rocksdb_options_destroy(e->dbopts);
  if (e->bbto) rocksdb_block_based_options_destroy(e->bbto);
  /* the filter policy belongs to the table options now */
  if (e->cache) rocksdb_cache_destroy(e->cache);
  if (e->env) rocksdb_env_destroy(e->env);
  memset(e, 0, sizeof(*e));
}

static int engine_make_opts(kv_engine *e, bool in_memory, const kv_options *o,
                            char **errptr) {
  e->dbopts = rocksdb_options_create();
  e->cfopts_data = rocksdb_options_create();
  e->bbto = rocksdb_block_based_options_create();
  e->cache = rocksdb_cache_create_lru(o->cache_bytes ? o->cache_bytes : 1);
  for (int i = 0; i < 3; i++) e->wo[i] = rocksdb_writeoptions_create();
  e->wo_sync = rocksdb_writeoptions_create();
  e->ro = rocksdb_readoptions_create();
  e->ro_point = rocksdb_readoptions_create();
  e->filter = rocksdb_filterpolicy_create_bloom_full(10);
  rocksdb_slicetransform_t *px = kv_mvcc_prefix_extractor_create();
  if (!e->ro_point || !e->filter || !px) {
    if (px) rocksdb_slicetransform_destroy(px);
    return kv_err(errptr, KV_NOMEM, "out of memory creating RocksDB options");
  }
  /* Options take ownership of the extractor and, through the table
  ** options, of the filter policy. */
  rocksdb_options_set_prefix_extractor(e->cfopts_data, px);
  rocksdb_options_set_memtable_prefix_bloom_size_ratio(e->cfopts_data, 0.05);
  rocksdb_block_based_options_set_filter_policy(e->bbto, e->filter);
  /* Each table file records its newest version (tsbound.cc). */
  kv_engine_add_ts_collector(e->cfopts_data);
  rocksdb_block_based_options_set_whole_key_filtering(e->bbto, 0);
  rocksdb_readoptions_set_total_order_seek(e->ro, 1);
  rocksdb_readoptions_set_prefix_same_as_start(e->ro_point, 1);
  if (!e->dbopts || !e->cfopts_data || !e->bbto || !e->cache ||
      !e->wo[0] || !e->wo[1] || !e->wo[2] || !e->wo_sync || !e->ro)
    return kv_err(errptr, KV_NOMEM, "out of memory creating RocksDB options");
  if (in_memory) {
    e->env = rocksdb_create_mem_env();
    if (!e->env) return kv_err(errptr, KV_NOMEM, "cannot create memory env");
    rocksdb_options_set_env(e->dbopts, e->env);
    rocksdb_options_set_env(e->cfopts_data, e->env);
  }
  rocksdb_options_set_create_if_missing(e->dbopts, 1);
  rocksdb_options_set_create_missing_column_families(e->dbopts, 1);
  rocksdb_options_set_max_background_jobs(e->dbopts, 2);
  /* Unordered writes: a write group's leader writes the WAL for the group
  ** (the serial part of a commit), then each writer puts its own batch into
  ** the memtable, in parallel, and returns without waiting for the others.
  ** Pipelined writes (which it excludes) and the leader filling the
  ** memtable for its whole group both made the memtable insert serial, and
  ** both made committers wait for other committers' memtable work: with
  ** more committers than cores those waiters blocked and the write path
  ** became a convoy of wake-ups (W6 8 threads fell to 0.55-0.65 of 2
  ** threads).  RocksDB gives up the immutability of its own snapshots for
  ** this (an iterator may see a batch whose memtable insert is still under
  ** way); kvcore does not rely on it: a reader waits out the latches of
  ** every commit at or below its timestamp over what it reads, and a commit
  ** holds them until rocksdb_write has returned, i.e. until its whole batch
  ** is in the memtable (txn.c, WHY THE LATCH WINDOW IS NEEDED). */
  rocksdb_options_set_enable_pipelined_write(e->dbopts, 0);
  rocksdb_options_set_allow_concurrent_memtable_write(e->dbopts, 1);
  rocksdb_options_set_unordered_write(e->dbopts, 1);
  rocksdb_options_set_keep_log_file_num(e->dbopts, 4);
  rocksdb_options_set_info_log_level(e->dbopts, 3 /* WARN */);
  kv_engine_set_resume_interval(e->dbopts, KV_RESUME_RETRY_US);

  rocksdb_block_based_options_set_block_cache(e->bbto, e->cache);
  /* 16 KiB data blocks, not 4: a scan pays a block-cache lookup and a block
  ** iterator set-up per block, and rows are ~150 bytes, so 100-row scans
  ** crossed four blocks or more.  Measured: 100-row scans 1.2-1.5x faster,
  ** point reads unchanged (everything cached). */
  rocksdb_block_based_options_set_block_size(e->bbto, 16 << 10);
  /* Index and filter blocks stay with their table readers: in the block
  ** cache they were evicted by data blocks and re-read (and decompressed)
  ** by every new iterator once the data outgrew the cache. */
  rocksdb_block_based_options_set_cache_index_and_filter_blocks(e->bbto, 0);
  rocksdb_options_set_block_based_table_factory(e->cfopts_data, e->bbto);
  rocksdb_options_set_write_buffer_size(
      e->cfopts_data, o->write_buffer_bytes ? o->write_buffer_bytes : 32u << 20);
  rocksdb_options_set_max_write_buffer_number(e->cfopts_data, 3);
  /* The metadata family holds a few small keys; RocksDB's default memtable
  ** budget (64 MiB) for it would also be the free space RocksDB waits for
  ** before it resumes after a full disk (FAILURE AND RECOVERY). */
  rocksdb_options_set_write_buffer_size(e->dbopts, KV_META_WRITE_BUFFER);
  rocksdb_options_set_compression(e->cfopts_data, rocksdb_lz4_compression);

  rocksdb_writeoptions_set_sync(e->wo[KV_SYNC_FULL], 1);
  rocksdb_writeoptions_set_sync(e->wo[KV_SYNC_NORMAL], 0);
  rocksdb_writeoptions_disable_WAL(e->wo[KV_SYNC_OFF], 1);
  atomic_store(&e->sync_mode, (int)o->synchronous);
  /* In memory there is nothing to fsync, and with unordered writes RocksDB
  ** answers a sync write to its in-memory WAL with SyncWAL(), which that
  ** WAL does not implement: the in-memory "sync" write is a plain one. */
  rocksdb_writeoptions_set_sync(e->wo_sync, !in_memory);
  return KV_OK;
}

/* <path>/ingest/, emptied: a file still there was never ingested (a crash
** or a failed commit came first), so nothing refers to it. */
static int ingest_dir_init(kv_engine *e, const char *path, const kv_options *o,
                           char **errptr) {
  size_t n = strlen(path) + sizeof("/" KV_INGEST_DIR);
  if (!(e->ingest_dir = malloc(n)))
    return kv_err(errptr, KV_NOMEM, "out of memory");
  snprintf(e->ingest_dir, n, "%s/" KV_INGEST_DIR, path);
  e->ingest_bytes = o->ingest_bytes;
  DIR *d = opendir(e->ingest_dir);
  if (!d) return KV_OK; /* made by the first large commit */
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char f[4096];
    if (snprintf(f, sizeof f, "%s/%s", e->ingest_dir, de->d_name) <
        (int)sizeof f)
      unlink(f);
  }
  closedir(d);
  return KV_OK;
}

/* The storage format a data family's name stands for, or 0. */
static int family_format(const char *name) {
  if (!strcmp(name, KV_DATA_FAMILY_V1)) return 1;
  if (strncmp(name, "kvcore.v", 8) || name[8] < '1' || name[8] > '9') return 0;
  char *end;
  long v = strtol(name + 8, &end, 10);
  return *end || v > 1000000 ? 0 : (int)v;
}

/* Checks, before opening it, that an existing RocksDB is a kvcore store of
** this build's format (by its data family's name). */
static int engine_check_families(kv_engine *e, const char *path,
                                 char **errptr) {
  char *rerr = NULL;
  size_t n = 0;
  char **names = rocksdb_list_column_families(e->dbopts, path, &n, &rerr);
  if (rerr) {
    /* RocksDB returns an (empty) array even on failure. */
    rocksdb_list_column_families_destroy(names, n);
    char what[4200];
    snprintf(what, sizeof what, "cannot read store %s", path);
    return engine_fail(errptr, rerr, what);
  }
  int fmt = 0;
  for (size_t i = 0; i < n && !fmt; i++) fmt = family_format(names[i]);
  rocksdb_list_column_families_destroy(names, n);
  if (!fmt)
    return kv_err(errptr, KV_CORRUPT,
                  "not a kvcore store: %s is a RocksDB database without "
                  "kvcore's data",
                  path);
  if (fmt != atoi(KV_FORMAT_VERSION))
    return kv_err(errptr, KV_CORRUPT,
                  "store %s is in storage format %d; this build reads format "
                  "%s only (the store was left untouched: open it with a "
                  "build of format %d)",
                  path, fmt, KV_FORMAT_VERSION, fmt);
  return KV_OK;
}

rocksdb_logger_t *kv_engine_logger_create(const char *dir); /* infolog.cc */
void kv_engine_logger_free(rocksdb_logger_t *l);

int kv_engine_open(kv_engine *e, const char *path, bool in_memory,
                   const kv_options *o, char **errptr) {
  memset(e, 0, sizeof(*e));
  int rc = engine_make_opts(e, in_memory, o, errptr);
  if (rc == KV_OK) {
    pthread_mutex_init(&e->gmu, NULL);
    pthread_mutex_init(&e->pool_mu, NULL);
    pthread_mutex_init(&e->ingest_mu, NULL);
    pthread_rwlock_init(&e->gate, NULL);
    pthread_cond_init(&e->gcond, NULL);
    e->gmu_ready = true;
  }
  e->reopen_interval_ns =
      o->reopen_interval_ms > 0 ? (uint64_t)o->reopen_interval_ms * 1000000u
                                : 0;
  if (rc == KV_OK && !in_memory && !(e->dir = strdup(path)))
    rc = kv_err(errptr, KV_NOMEM, "out of memory");
  if (rc) goto fail;

  bool fresh = in_memory;
  if (!in_memory) {
    bool has_current, has_rocksdb;
    int st = dir_state(path, &has_current, &has_rocksdb);
    if (st < 0 && errno != ENOENT) {
      rc = kv_err(errptr, KV_IOERR, "cannot open store directory %s: %s",
                  path, strerror(errno));
      goto fail;
    }
    if (st < 0 && !o->create_if_missing) {
      rc = kv_err(errptr, KV_IOERR, "store directory %s does not exist",
                  path);
      goto fail;
    }
    if (st > 0 && !has_current && has_rocksdb) {
      rc = kv_err(errptr, KV_CORRUPT,
                  "store %s is damaged: its CURRENT file (RocksDB's pointer "
                  "to its MANIFEST) is missing (the store was left "
                  "untouched)",
                  path);
      goto fail;
    }
    if (st > 0 && has_current && (rc = check_current(path, errptr)))
      goto fail;
    if (st > 0 && !has_current) {
      rc = kv_err(errptr, KV_CORRUPT,
                  "not a kvcore store: %s is not empty and holds no store",
                  path);
      goto fail;
    }
    fresh = st <= 0;
    if (!fresh && (rc = engine_check_families(e, path, errptr))) goto fail;
  }

  if (!in_memory) {
    /* RocksDB's own info log aborts the process after a failed write:
    ** infolog.cc.  Without ours (out of memory), RocksDB's. */
    rocksdb_logger_t *log = kv_engine_logger_create(path);
    if (log) rocksdb_options_set_info_log(e->dbopts, log);
    kv_engine_logger_free(log);
  }
  const char *names[2] = {"default", KV_DATA_FAMILY};
  const rocksdb_options_t *cfopts[2] = {e->dbopts, e->cfopts_data};
  rocksdb_column_family_handle_t *cfs[2] = {NULL, NULL};
  char *rerr = NULL;
  e->db = rocksdb_open_column_families(e->dbopts, path, 2, names, cfopts, cfs,
                                       &rerr);
  if (rerr && !fresh && kv_engine_code(rerr) == KV_BUSY) {
    /* Another process writes it: read it. */
    e->db = NULL;
    free(rerr);
    if ((rc = kv_reader_open(e, path, errptr))) goto fail;
    rerr = NULL;
    cfs[0] = e->cf_meta;
    cfs[1] = e->cf_data;
  }
  if (rerr) {
    rc = kv_engine_code(rerr);
    if (rc == KV_INVALID) { /* option mismatch */
      kv_err(errptr, KV_CORRUPT, "not a kvcore store: %s (%s)", path, rerr);
      free(rerr);
      rc = KV_CORRUPT;
    } else {
      char what[4200];
      snprintf(what, sizeof what, "cannot open store %s", path);
      rc = engine_fail(errptr, rerr, what);
    }
    e->db = NULL;
    goto fail;
  }
  e->cf_meta = cfs[0];
  e->cf_data = cfs[1];

  char *fmt = NULL;
  size_t flen = 0;
  rc = kv_engine_meta_get(e, KV_FORMAT_KEY, &fmt, &flen, errptr);
  if (rc == KV_NOTFOUND && fresh) {
    rc = kv_engine_meta_put(e, KV_FORMAT_KEY, KV_FORMAT_VERSION,
                            strlen(KV_FORMAT_VERSION), errptr);
  } else if (rc == KV_NOTFOUND) {
    rc = kv_err(errptr, KV_CORRUPT, "not a kvcore store: %s has no format "
                "marker", path);
  } else if (rc == KV_OK && (flen != 1 || fmt[0] != KV_FORMAT_VERSION[0])) {
    rc = kv_err(errptr, KV_CORRUPT,
                "store %s has format marker %.*s; this build reads format %s", path,
                (int)(flen > 16 ? 16 : flen), fmt, KV_FORMAT_VERSION);
  }
  free(fmt);
  if (rc) goto fail;
  if (!in_memory && !e->reader &&
      (rc = ingest_dir_init(e, path, o, errptr)))
    goto fail;
  return KV_OK;

fail:
  kv_engine_close(e);
  return rc;
}

void kv_engine_close(kv_engine *e) {
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < e->pools[k].n; i++)
      rocksdb_iter_destroy(e->pools[k].it[i]);
    e->pools[k].n = 0;
  }
  if (e->db) {
    if (e->cf_meta) rocksdb_column_family_handle_destroy(e->cf_meta);
    if (e->cf_data) rocksdb_column_family_handle_destroy(e->cf_data);
    rocksdb_close(e->db);
  }
  kv_reader_close(e);
  if (e->gmu_ready) {
    pthread_mutex_destroy(&e->pool_mu);
    pthread_mutex_destroy(&e->ingest_mu);
    pthread_rwlock_destroy(&e->gate);
    pthread_mutex_destroy(&e->gmu);
    pthread_cond_destroy(&e->gcond);
  }
  engine_free_opts(e);
}

/* Adds the nanoseconds since `since` to a serial-time counter. */
static void serial_add(_Atomic uint64_t *ns, uint64_t since) {
  atomic_fetch_add_explicit(ns, kv_mono_ns() - since, memory_order_relaxed);
}

/* gmu, with its hold time counted (gmu_unlock adds it). */
static uint64_t gmu_lock(kv_engine *e) {
  pthread_mutex_lock(&e->gmu);
  return kv_mono_ns();
}

static void gmu_unlock(kv_engine *e, uint64_t held_since) {
  serial_add(&e->gmu_ns, held_since);
  pthread_mutex_unlock(&e->gmu);
}

/* ---------------------------------------------------------- iterators -- */

/* Iterators are pooled per kind and refreshed (refresh.cc) rather than
** created: a refresh that finds the same table files only picks up the
** latest sequence number.  Freshness is counted in completed writes
** (write_seq): an iterator refreshed or created after reading n sees every
** write counted up to n, so one still at n needs nothing. */

int kv_engine_iter_refresh(rocksdb_iterator_t *it, char **errmsg);

static rocksdb_iterator_t *iter_create(kv_engine *e, int kind) {
  return rocksdb_create_iterator_cf(
      e->db, kind == KV_ITER_POINT ? e->ro_point : e->ro, e->cf_data);
}

rocksdb_iterator_t *kv_engine_iter_fresh(kv_engine *e, int kind,
                                         rocksdb_iterator_t *it,
                                         uint64_t *seq) {
  uint64_t now = atomic_load(&e->write_seq); /* before: later writes count */
  if (it && *seq == now) return it;
  *seq = now;
  if (it) {
    char *msg = NULL;
    if (kv_engine_iter_refresh(it, &msg) == 0) {
      atomic_fetch_add(&e->iter_refreshes, 1);
      return it;
    }
    free(msg); /* not refreshable: a new one does the same */
    rocksdb_iter_destroy(it);
  }
  atomic_fetch_add(&e->iter_creates, 1);
  return iter_create(e, kind);
}

rocksdb_iterator_t *kv_engine_iter_get(kv_engine *e, int kind, uint64_t *seq) {
  kv_iter_pool *p = &e->pools[kind];
  rocksdb_iterator_t *it = NULL;
  pthread_mutex_lock(&e->pool_mu);
  uint64_t held = kv_mono_ns(); /* a store-wide mutex: serial time */
  if (p->n > 0) {
    p->n--;
    it = p->it[p->n];
    *seq = p->seq[p->n];
  }
  serial_add(&e->gmu_ns, held);
  pthread_mutex_unlock(&e->pool_mu);
  return kv_engine_iter_fresh(e, kind, it, seq);
}

void kv_engine_iter_put(kv_engine *e, int kind, rocksdb_iterator_t *it,
                        uint64_t seq) {
  if (!it) return;
  kv_iter_pool *p = &e->pools[kind];
  pthread_mutex_lock(&e->pool_mu);
  uint64_t held = kv_mono_ns();
  if (p->n < KV_ITER_POOL) {
    p->it[p->n] = it;
    p->seq[p->n++] = seq;
    it = NULL;
  }
  serial_add(&e->gmu_ns, held);
  pthread_mutex_unlock(&e->pool_mu);
  if (it) rocksdb_iter_destroy(it);
}

/* A use of the engine outside every transaction begins: no reopen until it
** ends (REOPEN). */
static void engine_pin(kv_engine *e) {
  pthread_rwlock_rdlock(&e->gate);
  atomic_fetch_add(&e->pinned, 1);
  pthread_rwlock_unlock(&e->gate);
}

static void engine_unpin(kv_engine *e) { atomic_fetch_sub(&e->pinned, 1); }

rocksdb_iterator_t *kv_engine_iter(kv_engine *e) {
  engine_pin(e);
  if (e->reader) kv_reader_catch_up(e, NULL); /* else: what it had */
  atomic_fetch_add(&e->iter_creates, 1);
  rocksdb_iterator_t *it = iter_create(e, KV_ITER_SCAN);
  if (!it) engine_unpin(e);
  return it;
}

rocksdb_iterator_t *kv_engine_iter_from(kv_engine *e, kv_ts from) {
  engine_pin(e);
  if (e->reader) kv_reader_catch_up(e, NULL);
  atomic_fetch_add(&e->iter_creates, 1);
  rocksdb_iterator_t *it =
      kv_engine_iter_from_raw(e->db, e->cf_data, from.wall, from.logical);
  if (!it) engine_unpin(e);
  return it;
}

void kv_engine_iter_done(kv_engine *e, rocksdb_iterator_t *it) {
  if (!it) return;
  rocksdb_iter_destroy(it);
  engine_unpin(e);
}

/* ------------------------------------------ failure and recovery -- */

int kv_engine_resume(rocksdb_t *db, char **errmsg); /* resume.cc */

/* Puts the engine in the failed state (gmu held) with code rc and message
** msg, unless it is in it already; sync: the failure was an fsync's. */
static void fail_locked(kv_engine *e, int rc, const char *msg, bool sync) {
  atomic_fetch_add(&e->write_failures, 1);
  if (e->fail_rc) {
    e->fail_sync |= sync;
    return;
  }
  char *m = strdup(msg ? msg : kv_code_name(rc));
  e->fail_rc = rc;
  e->fail_msg = m;
  e->fail_sync = sync;
  atomic_store(&e->failed, 1);
}

/* Only errors of the storage stop writes: not a misuse or a busy store. */
static bool stops_writes(int rc) {
  return rc == KV_IOERR || rc == KV_FULL || rc == KV_CORRUPT;
}

/* engine_fail() for a RocksDB write that failed: the engine fails too. */
static int write_fail(kv_engine *e, char **errptr, char *rerr,
                      const char *what) {
  char *msg = NULL;
  int rc = engine_fail(&msg, rerr, what);
  if (stops_writes(rc)) {
    uint64_t held = gmu_lock(e);
    fail_locked(e, rc, msg, false);
    gmu_unlock(e, held);
  }
  kv_err(errptr, rc, "%s", msg ? msg : kv_code_name(rc));
  free(msg);
  return rc;
}

/* The failure's error (gmu held). */
static int failed_error(kv_engine *e, char **errptr) {
  return kv_err(errptr, e->fail_rc, "%s (%s)",
                e->fail_msg ? e->fail_msg : "write failed",
                e->fail_fatal ? "RocksDB cannot resume after this error: "
                                "writes fail until no transaction is open "
                                "on the store, when the next one to begin "
                                "reopens it"
                              : "writes are stopped until the store "
                                "recovers: the next write retries");
}

int kv_engine_health(kv_engine *e, char **errptr) {
  if (!atomic_load(&e->failed)) return KV_OK;
  uint64_t held = gmu_lock(e);
  int rc = e->fail_rc ? failed_error(e, errptr) : KV_OK;
  gmu_unlock(e, held);
  return rc;
}

uint64_t kv_engine_background_errors(kv_engine *e) {
  uint64_t v = 0;
  engine_pin(e);
  if (e->db && !e->reader &&
      rocksdb_property_int(e->db, "rocksdb.background-errors", &v) != 0)
    v = 0;
  engine_unpin(e);
  return v;
}

/* Ends the failed state if RocksDB can resume writing: KV_OK, or the
** failure's code and the reason it persists.  One thread at a time, and
** never while an fsync is under way (FAILURE AND RECOVERY). */
static int engine_recover(kv_engine *e, char **errptr) {
  if (!atomic_load(&e->failed)) return KV_OK;
  uint64_t held = gmu_lock(e);
  while (e->fail_rc && (e->recovering || e->syncing)) {
    serial_add(&e->gmu_ns, held);
    pthread_cond_wait(&e->gcond, &e->gmu);
    held = kv_mono_ns();
  }
  if (!e->fail_rc || e->fail_fatal) { /* fatal: Resume() would refuse */
    if (e->fail_fatal && e->dir) atomic_store(&e->reopen_wanted, true);
    int rc = e->fail_rc ? failed_error(e, errptr) : KV_OK;
    gmu_unlock(e, held);
    return rc;
  }
  e->recovering = true;
  gmu_unlock(e, held);
  char *rerr = NULL;
  int res = kv_engine_resume(e->db, &rerr);
  bool ok = res == 0;
  held = gmu_lock(e);
  e->recovering = false;
  int rc = KV_OK;
  if (ok) {
    e->fail_rc = KV_OK;
    e->fail_sync = false;
    e->fail_fatal = false;
    free(e->fail_msg);
    e->fail_msg = NULL;
    atomic_store(&e->failed, 0);
    atomic_fetch_add(&e->recoveries, 1);
  } else {
    /* The cause as it is now (a full disk may have become an I/O error);
    ** "Resource busy" only says RocksDB's own recovery is under way. */
    bool cause = rerr && (!strncmp(rerr, "IO error", 8) ||
                          !strncmp(rerr, "Corruption", 10));
    char *msg = NULL;
    int now = engine_fail(&msg, rerr, "cannot recover from a write error");
    rerr = NULL;
    if (cause && stops_writes(now) && msg) {
      free(e->fail_msg);
      e->fail_msg = msg;
      e->fail_rc = now;
      msg = NULL;
    }
    free(msg);
    e->fail_fatal = res == -2;
    if (e->fail_fatal && e->dir) atomic_store(&e->reopen_wanted, true);
    rc = failed_error(e, errptr);
  }
  pthread_cond_broadcast(&e->gcond);
  gmu_unlock(e, held);
  free(rerr);
  return rc;
}

/* fsyncs the WAL files of the store that may have writes since the last
** sync (the newest then, and any newer) through descriptors of its own, and
** the directory when a WAL file it had not seen appeared (its entry must
** be durable too): the group sync (Group sync, above).  A file gone
** meanwhile was flushed and deleted: its writes are in synced table files.
** One thread at a time (the syncing flag): e->wal_seen is its own. */
static int wal_fsync_direct(kv_engine *e, char **errptr) {
  DIR *d = e->dir ? opendir(e->dir) : NULL;
  if (!d)
    return kv_err(errptr, KV_IOERR, "cannot list the store %s: %s", e->dir,
                  strerror(errno));
  int rc = KV_OK;
  uint64_t newest = e->wal_seen;
  struct dirent *de;
  while ((de = readdir(d)) && rc == KV_OK) {
    size_t n = strlen(de->d_name);
    if (n < 5 || strcmp(de->d_name + n - 4, ".log")) continue;
    uint64_t num = strtoull(de->d_name, NULL, 10);
    if (num > newest) newest = num;
    /* Older than the newest at the last sync: no write since, synced. */
    if (num < e->wal_seen) continue;
    int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (fsync(fd) != 0)
      rc = kv_err(errptr, errno == ENOSPC ? KV_FULL : KV_IOERR,
                  "fsync of the write-ahead log %s/%s failed: %s", e->dir,
                  de->d_name, strerror(errno));
    close(fd);
  }
  if (rc == KV_OK && newest > e->wal_seen) {
    if (fsync(dirfd(d)) != 0)
      rc = kv_err(errptr, KV_IOERR, "fsync of the store directory %s "
                  "failed: %s", e->dir, strerror(errno));
    else
      e->wal_seen = newest;
  }
  closedir(d);
  return rc;
}

/* Makes every write completed so far durable, sharing the fsync. */
static int engine_sync(kv_engine *e, char **errptr) {
  uint64_t held = gmu_lock(e);
  uint64_t mine = ++e->written;
  while (e->synced < mine) {
    if (e->fail_rc && e->fail_sync) { /* FAILURE AND RECOVERY */
      int rc = kv_err(errptr, e->fail_rc, "%s (the commit may or may not "
                      "have been applied)", e->fail_msg);
      gmu_unlock(e, held);
      return rc;
    }
    if (e->syncing) {
      serial_add(&e->gmu_ns, held);
      pthread_cond_wait(&e->gcond, &e->gmu);
      held = kv_mono_ns();
      continue;
    }
    e->syncing = true;
    uint64_t upto = e->written;
    gmu_unlock(e, held);
    char *msg = NULL;
    uint64_t t0 = kv_mono_ns();
    int rc = wal_fsync_direct(e, &msg);
    serial_add(&e->sync_ns, t0);
    atomic_fetch_add(&e->wal_syncs, 1);
    held = gmu_lock(e);
    e->syncing = false;
    if (rc == KV_OK && upto > e->synced) e->synced = upto;
    if (rc) fail_locked(e, stops_writes(rc) ? rc : KV_IOERR, msg, true);
    pthread_cond_broadcast(&e->gcond);
    free(msg); /* the waiters, and this thread, report it from fail_msg */
  }
  gmu_unlock(e, held);
  return KV_OK;
}

int kv_engine_write(kv_engine *e, rocksdb_writebatch_t *b, bool sync_always,
                    char **errptr) {
  if (e->reader) return kv_reader_refuse(e, errptr);
  int rc = engine_recover(e, errptr);
  if (rc) return rc;
  int mode = sync_always ? KV_SYNC_FULL : atomic_load(&e->sync_mode);
  char *rerr = NULL;
  uint64_t t0 = kv_mono_ns();
  if (mode == KV_SYNC_FULL && e->env) {
    /* RocksDB's in-memory WAL cannot SyncWAL(), nor needs it (wo_sync does
    ** not sync in memory). */
    rocksdb_write(e->db, e->wo_sync, b, &rerr);
    serial_add(&e->write_ns, t0);
    atomic_fetch_add(&e->write_seq, 1);
    if (rerr) return write_fail(e, errptr, rerr, "write failed");
    atomic_fetch_add(&e->wal_writes, 1);
    atomic_fetch_add(&e->wal_syncs, 1);
    return KV_OK;
  }
  rocksdb_write(e->db, e->wo[mode == KV_SYNC_OFF ? KV_SYNC_OFF : KV_SYNC_NORMAL],
                b, &rerr);
  serial_add(&e->write_ns, t0);
  atomic_fetch_add(&e->write_seq, 1);
  if (rerr) return write_fail(e, errptr, rerr, "write failed");
  if (mode == KV_SYNC_OFF) return KV_OK;
  atomic_fetch_add(&e->wal_writes, 1);
  return mode == KV_SYNC_FULL ? engine_sync(e, errptr) : KV_OK;
}

/* ------------------------------------------------------------- reopen -- */

/* REOPEN.  After a failure RocksDB deems fatal only a new instance takes
** writes again.  kv_engine_reopen closes RocksDB and opens it from its
** directory: recovery replays the WAL, so every acknowledged write is
** there (the failed one had no effect; FAILURE AND RECOVERY), and the new
** instance writes a new WAL.  Nothing may hold a RocksDB object meanwhile:
**   - transactions (iterators, batches, column-family handles): the caller
**     holds every txn-table shard and found none (txn.c, kv_txn_begin),
**     and a transaction gives its iterator back before it leaves the table;
**   - iterators in the pools: destroyed here;
**   - uses outside transactions (GC, the closer, history iterators,
**     metadata, checkpoints, statistics) pin the engine under the read
**     side of gate; the reopen takes the write side only when it is free
**     and nothing is pinned, and otherwise gives up (KV_BUSY): the next
**     begin tries again.  No transaction and no pin also means no write,
**     fsync or recovery under way.
** Reads must not stop because a reopen failed.  So it first opens a
** read-only instance (no LOCK: the failed one may stay open meanwhile);
** if even that fails, the disk is unreadable, the failed instance stays
** and nothing changes.  Then it closes the failed instance and opens a
** writable one; if that fails, the read-only one serves the reads, and
** writes keep failing before they reach it (fail_fatal).  A failed
** attempt is tried again at a begin kv_options.reopen_interval_ms later.
** An in-memory store (nothing to recover from) and a reader process (it
** writes nothing) never reopen. */
/* Opens the store's RocksDB again (read-only: without its LOCK, so while
** the failed instance is still open); NULL with *rerr on failure. */
static rocksdb_t *engine_open_db(kv_engine *e, bool read_only,
                                 rocksdb_column_family_handle_t **cfs,
                                 char **rerr) {
  const char *names[2] = {"default", KV_DATA_FAMILY};
  const rocksdb_options_t *cfopts[2] = {e->dbopts, e->cfopts_data};
  /* A logger of its own: opening sets the logger's level, which another
  ** instance's background threads may be reading (the failed one's, the
  ** read-only one's). */
  rocksdb_logger_t *log = kv_engine_logger_create(e->dir);
  if (log) rocksdb_options_set_info_log(e->dbopts, log);
  kv_engine_logger_free(log);
  if (read_only)
    return rocksdb_open_for_read_only_column_families(
        e->dbopts, e->dir, 2, names, cfopts, cfs, 0, rerr);
  return rocksdb_open_column_families(e->dbopts, e->dir, 2, names, cfopts,
                                      cfs, rerr);
}

static void engine_close_db(rocksdb_t *db,
                            rocksdb_column_family_handle_t **cfs) {
  if (!db) return;
  rocksdb_column_family_handle_destroy(cfs[0]);
  rocksdb_column_family_handle_destroy(cfs[1]);
  rocksdb_close(db);
}

int kv_engine_reopen(kv_engine *e, char **errptr) {
  if (!e->dir || e->reader) return KV_OK;
  if (pthread_rwlock_trywrlock(&e->gate) != 0)
    return kv_err(errptr, KV_BUSY, "the store is in use");
  if (atomic_load(&e->pinned) > 0) {
    pthread_rwlock_unlock(&e->gate);
    return kv_err(errptr, KV_BUSY, "the store is in use");
  }
  /* First a read-only instance: if the disk cannot even give that, the
  ** failed instance stays (it still reads) and nothing changes. */
  rocksdb_column_family_handle_t *rcfs[2] = {NULL, NULL};
  char *rerr = NULL;
  rocksdb_t *ro = engine_open_db(e, true, rcfs, &rerr);
  int rc = KV_OK;
  char *msg = NULL;
  if (!ro) {
    rc = engine_fail(&msg, rerr, "cannot reopen the store");
  } else {
    pthread_mutex_lock(&e->pool_mu);
    for (int k = 0; k < 2; k++) {
      for (int i = 0; i < e->pools[k].n; i++)
        rocksdb_iter_destroy(e->pools[k].it[i]);
      e->pools[k].n = 0;
    }
    pthread_mutex_unlock(&e->pool_mu);
    rocksdb_column_family_handle_t *old[2] = {e->cf_meta, e->cf_data};
    engine_close_db(e->db, old);
    rocksdb_column_family_handle_t *cfs[2] = {NULL, NULL};
    rocksdb_t *db = engine_open_db(e, false, cfs, &rerr);
    if (db) {
      engine_close_db(ro, rcfs);
    } else { /* reads go on from the read-only one; writes fail first */
      rc = engine_fail(&msg, rerr, "cannot reopen the store");
      db = ro;
      cfs[0] = rcfs[0];
      cfs[1] = rcfs[1];
    }
    e->db = db;
    e->cf_meta = cfs[0];
    e->cf_data = cfs[1];
  }
  uint64_t held = gmu_lock(e);
  if (rc == KV_OK) {
    e->fail_rc = KV_OK;
    e->fail_sync = e->fail_fatal = false;
    free(e->fail_msg);
    e->fail_msg = NULL;
    atomic_store(&e->failed, 0);
    atomic_store(&e->reopen_wanted, false);
    atomic_fetch_add(&e->reopens, 1);
    atomic_fetch_add(&e->recoveries, 1);
  } else {
    if (!stops_writes(rc)) rc = KV_IOERR;
    if (msg) {
      free(e->fail_msg);
      e->fail_msg = msg;
    }
    e->fail_rc = rc;
    e->fail_fatal = true;
    atomic_store(&e->failed, 1);
    atomic_store(&e->reopen_after_ns, kv_mono_ns() + e->reopen_interval_ns);
    kv_err(errptr, rc, "%s", e->fail_msg ? e->fail_msg : kv_code_name(rc));
  }
  gmu_unlock(e, held);
  atomic_fetch_add(&e->write_seq, 1);
  pthread_rwlock_unlock(&e->gate);
  return rc;
}

bool kv_engine_wants_reopen(kv_engine *e) {
  return atomic_load_explicit(&e->reopen_wanted, memory_order_relaxed) &&
         kv_mono_ns() >= atomic_load(&e->reopen_after_ns);
}

/* ------------------------------------------------- large commits -- */

struct kv_sst {
  rocksdb_envoptions_t *eo;
  rocksdb_sstfilewriter_t *w;
  char *path;
};

bool kv_engine_ingests(kv_engine *e, size_t bytes) {
  return !e->reader && e->ingest_dir && e->ingest_bytes && bytes >= e->ingest_bytes &&
         atomic_load(&e->sync_mode) != KV_SYNC_OFF;
}

int kv_engine_sst_open(kv_engine *e, uint64_t id, kv_sst **out,
                       char **errptr) {
  *out = NULL;
  kv_sst *f = calloc(1, sizeof(*f));
  size_t n = strlen(e->ingest_dir) + 32;
  if (!f || !(f->path = malloc(n)) || !(f->eo = rocksdb_envoptions_create())) {
    kv_engine_sst_free(f);
    return kv_err(errptr, KV_NOMEM, "out of memory");
  }
  snprintf(f->path, n, "%s/%llu.sst", e->ingest_dir, (unsigned long long)id);
  if (mkdir(e->ingest_dir, 0755) != 0 && errno != EEXIST) {
    int rc = kv_err(errptr, KV_IOERR, "cannot create %s: %s", e->ingest_dir,
                    strerror(errno));
    kv_engine_sst_free(f);
    return rc;
  }
  /* The data family's options: same comparator, table format and blooms. */
  f->w = rocksdb_sstfilewriter_create(f->eo, e->cfopts_data);
  char *rerr = NULL;
  if (f->w) rocksdb_sstfilewriter_open(f->w, f->path, &rerr);
  if (!f->w || rerr) {
    int rc = f->w ? engine_fail(errptr, rerr, "cannot create a commit file")
                  : kv_err(errptr, KV_NOMEM, "out of memory");
    kv_engine_sst_free(f);
    return rc;
  }
  *out = f;
  return KV_OK;
}

int kv_engine_sst_put(kv_sst *f, const char *key, size_t klen,
                      const char *val, size_t vlen, char **errptr) {
  char *rerr = NULL;
  rocksdb_sstfilewriter_put(f->w, key, klen, val, vlen, &rerr);
  return rerr ? engine_fail(errptr, rerr, "cannot write a commit file")
              : KV_OK;
}

int kv_engine_sst_finish(kv_sst *f, char **errptr) {
  char *rerr = NULL;
  rocksdb_sstfilewriter_finish(f->w, &rerr); /* fsyncs the file */
  return rerr ? engine_fail(errptr, rerr, "cannot write a commit file")
              : KV_OK;
}

int kv_engine_ingest(kv_engine *e, kv_sst *f, char **errptr) {
  int rc = engine_recover(e, errptr);
  if (rc == KV_OK) rc = engine_sync(e, errptr); /* earlier commits first */
  if (rc) return rc;
  rocksdb_ingestexternalfileoptions_t *io =
      rocksdb_ingestexternalfileoptions_create();
  if (!io) return kv_err(errptr, KV_NOMEM, "out of memory");
  rocksdb_ingestexternalfileoptions_set_move_files(io, 1);
  const char *files[1] = {f->path};
  char *rerr = NULL;
  pthread_mutex_lock(&e->ingest_mu);
  uint64_t t0 = kv_mono_ns();
  rocksdb_ingest_external_file_cf(e->db, e->cf_data, files, 1, io, &rerr);
  serial_add(&e->write_ns, t0);
  pthread_mutex_unlock(&e->ingest_mu);
  rocksdb_ingestexternalfileoptions_destroy(io);
  atomic_fetch_add(&e->write_seq, 1);
  if (rerr) return write_fail(e, errptr, rerr, "ingesting the commit failed");
  atomic_fetch_add(&e->ingests, 1);
  return KV_OK;
}

/* RocksDB's checkpoint takes the live table files and the MANIFEST's size
** first and the write-ahead log files after, so a file ingested in between
** would be missing from a copy that holds WAL records written after it:
** the commits that read what it wrote, or overwrote it, without it (a
** bank's total breaks in the copy; checkpoint.c, guarantee 3).  Ingestions
** are rare and a copy takes tens of milliseconds: they wait. */
int kv_engine_checkpoint(kv_engine *e, const char *dir, char **rerr) {
  engine_pin(e);
  rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(e->db, rerr);
  if (!*rerr) {
    pthread_mutex_lock(&e->ingest_mu);
    rocksdb_checkpoint_create(cp, dir, 0 /* flush first */, rerr);
    pthread_mutex_unlock(&e->ingest_mu);
    rocksdb_checkpoint_object_destroy(cp);
  }
  engine_unpin(e);
  return *rerr ? KV_IOERR : KV_OK;
}

void kv_engine_sst_free(kv_sst *f) {
  if (!f) return;
  if (f->w) rocksdb_sstfilewriter_destroy(f->w);
  if (f->eo) rocksdb_envoptions_destroy(f->eo);
  if (f->path) unlink(f->path); /* ingested: RocksDB has its own link */
  free(f->path);
  free(f);
}

int kv_engine_meta_get(kv_engine *e, const char *name, char **pval,
                       size_t *plen, char **errptr) {
  engine_pin(e);
  if (e->reader) {
    int rc = kv_reader_catch_up(e, errptr);
    if (rc) {
      engine_unpin(e);
      return rc;
    }
  }
  char *rerr = NULL;
  size_t len = 0;
  char *v = rocksdb_get_cf(e->db, e->ro, e->cf_meta, name, strlen(name), &len,
                           &rerr);
  engine_unpin(e);
  if (rerr) return engine_fail(errptr, rerr, "cannot read store metadata");
  *pval = v;
  *plen = len;
  return v ? KV_OK : KV_NOTFOUND;
}

/* Writes a metadata value through the log; synced unless async. */
static int meta_write_pinned(kv_engine *e, const char *name, const void *val,
                             size_t len, bool async, char **errptr);

static int meta_write(kv_engine *e, const char *name, const void *val,
                      size_t len, bool async, char **errptr) {
  if (e->reader) return kv_reader_refuse(e, errptr);
  engine_pin(e);
  int rc = meta_write_pinned(e, name, val, len, async, errptr);
  engine_unpin(e);
  return rc;
}

static int meta_write_pinned(kv_engine *e, const char *name, const void *val,
                             size_t len, bool async, char **errptr) {
  int rc = engine_recover(e, errptr);
  if (rc) return rc;
  char *rerr = NULL;
  rocksdb_put_cf(e->db, e->env && !async ? e->wo_sync : e->wo[KV_SYNC_NORMAL],
                 e->cf_meta, name, strlen(name), val, len, &rerr);
  if (rerr) return write_fail(e, errptr, rerr, "cannot write store metadata");
  if (async) return KV_OK; /* closed timestamps: not counted as commits' */
  atomic_fetch_add(&e->wal_writes, 1);
  if (e->env) {
    atomic_fetch_add(&e->wal_syncs, 1);
    return KV_OK;
  }
  return engine_sync(e, errptr);
}

int kv_engine_meta_put(kv_engine *e, const char *name, const void *val,
                       size_t len, char **errptr) {
  return meta_write(e, name, val, len, false, errptr);
}

int kv_engine_meta_put_async(kv_engine *e, const char *name, const void *val,
                             size_t len, char **errptr) {
  return meta_write(e, name, val, len, true, errptr);
}

static int delete_range_pinned(kv_engine *e, const void *start, size_t slen,
                               const void *end, size_t elen, char **errptr);

int kv_engine_delete_range(kv_engine *e, const void *start, size_t slen,
                           const void *end, size_t elen, char **errptr) {
  if (e->reader) return kv_reader_refuse(e, errptr);
  engine_pin(e);
  int rc = delete_range_pinned(e, start, slen, end, elen, errptr);
  engine_unpin(e);
  return rc;
}

static int delete_range_pinned(kv_engine *e, const void *start, size_t slen,
                               const void *end, size_t elen, char **errptr) {
  /* enc(key) precedes every version of key (keyenc.c). */
  kv_buf a, b;
  kv_buf_init(&a);
  kv_buf_init(&b);
  if (!kv_buf_set_ukey(&a, start, slen) || !kv_buf_set_ukey(&b, end, elen)) {
    kv_buf_free(&a);
    kv_buf_free(&b);
    return kv_err(errptr, KV_NOMEM, "out of memory");
  }
  rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
  rocksdb_writebatch_delete_range_cf(wb, e->cf_data, a.p, a.n, b.p, b.n);
  int rc = kv_engine_write(e, wb, true, errptr);
  rocksdb_writebatch_destroy(wb);
  kv_buf_free(&a);
  kv_buf_free(&b);
  if (rc == KV_OK) {
    /* Range tombstones in the memtable slow every reverse iteration over
    ** it (RocksDB re-checks them at each Prev); in a table file they are
    ** fragmented once.  Deleting a range is rare (a dropped table or
    ** index): flush it out now.  Not fatal if it fails. */
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    char *ferr = NULL;
    if (fo) {
      rocksdb_flushoptions_set_wait(fo, 1);
      rocksdb_flush_cf(e->db, fo, e->cf_data, &ferr);
      rocksdb_flushoptions_destroy(fo);
    }
    free(ferr);
  }
  return rc;
}

void kv_engine_counters(kv_engine *e, uint64_t *writes, uint64_t *syncs,
                         uint64_t *ingests) {
  *writes = atomic_load(&e->wal_writes);
  *syncs = atomic_load(&e->wal_syncs);
  *ingests = atomic_load(&e->ingests);
}

void kv_engine_serial(kv_engine *e, uint64_t *write_ns, uint64_t *sync_ns,
                      uint64_t *mutex_ns) {
  *write_ns = atomic_load(&e->write_ns);
  *sync_ns = atomic_load(&e->sync_ns);
  *mutex_ns = atomic_load(&e->gmu_ns);
}
