/*
** checkpoint.c — online backup: a consistent copy of a live store in a new
** directory (kv_store_checkpoint), while other threads keep committing.
**
** The copy is RocksDB's checkpoint of the store (hard links to its table
** files where the file system allows, a copy otherwise; the MANIFEST,
** OPTIONS and the live write-ahead log copied), taken after the memtables
** are flushed (log_size_for_flush = 0).  It holds both column families, so
** the format marker, the clock's mark and the embedding layer's metadata
** and catalog (ordinary keys) are in it: it is a complete store that
** kv_store_open() opens like any other.
**
** ============================================================ DESIGN ===
**
** GUARANTEE.  kv_store_checkpoint returns a timestamp T such that
**   (1) every commit with a timestamp <= T is in the copy, whole;
**   (2) no commit is in the copy in part, at any timestamp;
**   (3) the commits in the copy above T (there may be some: writers keep
**       going while the files are taken) are a set closed under "read or
**       overwrote": if one is there, every commit it saw or overwrote is.
**   So the copy read at T or below is exactly the live store read there,
**   and the copy read at its newest is the state of a serial execution of
**   the transactions it holds (a bank's total is exact).
**
** THE PROBLEM.  A commit is one RocksDB write batch (or one ingested file),
** but its timestamp is decided before its write lands (txn.c C1-C5), and
** RocksDB runs with unordered writes (engine.c): a commit at t1 may land
** after one at t2 > t1, and a write group's batches reach the memtable in
** any order.  A copy taken "now" may therefore lack a commit below a
** timestamp it has commits of.
**
** THE PROTOCOL.  The backup acts as a reader of the whole key space at T:
**   B1. T = clock.now().
**   B2. Timestamp cache: add the read of ["", +inf) at T.        [tscache.c]
**   B3. Latches: wait out every write latch at <= T.               [latch.c]
**   B4. RocksDB checkpoint (flush, then link or copy the files), with no
**       ingestion meanwhile (kv_engine_checkpoint).
** txn.c (WHY THE LATCH WINDOW IS NEEDED, AND ENOUGH) gives the race a reader
** and a committer run, and it holds here with the reader's span the whole
** key space: a commit that inserted its latches after B2 finds the read in
** the cache at its C2 and commits above T; one that inserted them before is
** waited out at B3 (its latch is at its write_ts <= its commit ts, so a
** commit at <= T has its latch at <= T), so its rocksdb_write (or
** ingestion) has returned before B4 starts.  Hence (1): every commit at
** <= T has been applied before the checkpoint begins, and none can be
** decided at <= T afterwards.  (2): a batch is one WAL record and enters
** the memtable whole before a flush switches the memtable (RocksDB waits
** for pending unordered memtable writes there); the checkpoint keeps the
** flushed tables and a prefix of the WAL, which recovery replays record by
** record; an ingested file is one MANIFEST edit.  (3): the copy holds the
** writes that had returned before some point plus a prefix of the ones in
** flight, in WAL order; a commit that read or overwrote another's key did
** so after that one's write returned (the latch window for a read, the
** key's lock, held until after the write, for an overwrite), so it comes
** later in that order.  An ingested file is not in the WAL: RocksDB takes
** the MANIFEST before the WAL files, so a file ingested between the two
** would be missing from a copy holding later WAL records that read it.
** B4 therefore excludes ingestion (a copy of a bank once lost a large
** commit's transfer this way while keeping the transfers that followed
** it); every ingested file is then either in the copied MANIFEST or after
** every WAL record of the copy.
**
** COST.  Like any reader of a range at "now", B2 pushes the commit timestamp
** of transactions in flight that began before T above it, and one that read
** something refreshes its reads to the new timestamp (it fails only if a key
** it read changed meanwhile, as it would for a concurrent full scan).  B3
** waits at most for the commits that latched at <= T before B2: only
** transactions begun before T can, and a prepared two-phase commit is
** waited out until it ends.  Transactions that begin after T neither wait
** nor get pushed.  B4 flushes the memtables: commits keep going meanwhile.
**
** THE CLOCK.  The copy carries the clock's persisted mark as of B4, and the
** mark bounds every timestamp handed out before it was written: T was handed
** out after the mark covering it was durable (clock.c), and every commit in
** the copy came from timestamps handed out before its write.  The mark's
** write precedes them in the WAL, so the copy has it, and a store opened
** from the copy starts its clock above every timestamp in it (and above T),
** even on a machine whose clock is behind.
**
** What it does not do: it never writes into the source store's data, never
** blocks commits that begin after T (but for an ingested commit's file,
** which waits for B4), and refuses a directory that exists
** (RocksDB would too), the in-memory store (no files), an empty path, and
** a store this process only reads (reader.c: the protocol needs the
** writer's clock, cache and latches).
*/
#include "kvint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Sets *errptr from a RocksDB error (consumed) and returns its code. */
static int ckpt_fail(char **errptr, char *rerr, const char *dir) {
  int rc = kv_engine_code(rerr);
  if (rc == KV_BUSY) rc = KV_IOERR; /* a checkpoint does not take the LOCK */
  kv_err(errptr, rc, "cannot write the backup to %s: %s", dir, rerr);
  free(rerr);
  return rc;
}

/* The directory that will hold dir must exist (RocksDB's own message
** would name the temporary directory it makes first). */
static int ckpt_check_parent(const char *dir, char **errptr) {
  char *parent = strdup(dir);
  if (!parent) return kv_err(errptr, KV_NOMEM, "out of memory");
  size_t n = strlen(parent);
  while (n > 1 && parent[n - 1] == '/') parent[--n] = 0; /* "a/b/" */
  char *slash = strrchr(parent, '/');
  int rc = KV_OK;
  if (slash) {
    slash[slash == parent ? 1 : 0] = 0; /* "/x" -> "/" */
    struct stat st;
    if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode))
      rc = kv_err(errptr, KV_IOERR,
                  "cannot write the backup to %s: %s is not a directory",
                  dir, parent);
  }
  free(parent);
  return rc;
}

/* The target must not exist yet: a clear error before any work. */
static int ckpt_check_target(kv_store *s, const char *dir, char **errptr) {
  if (s->in_memory)
    return kv_err(errptr, KV_INVALID,
                  "the in-memory store cannot be backed up: it has no files "
                  "to copy (back up a store that lives in a directory)");
  if (!dir || !*dir)
    return kv_err(errptr, KV_INVALID, "the backup directory is empty");
  struct stat st;
  if (lstat(dir, &st) == 0)
    return kv_err(errptr, KV_INVALID,
                  "the backup directory %s already exists (a backup goes "
                  "into a new directory)",
                  dir);
  if (errno != ENOENT)
    return kv_err(errptr, KV_IOERR, "cannot use backup directory %s: %s", dir,
                  strerror(errno));
  return ckpt_check_parent(dir, errptr);
}

/* B1-B3: a timestamp at or below which every commit has landed and no
** commit can land any more. */
static int ckpt_settle(kv_store *s, kv_ts *at, char **errptr) {
  kv_ts t;
  int rc = kv_clock_now(&s->clock, &t, errptr);
  if (rc) return rc;
  kv_span all = {.start = "", .slen = 0, .is_range = 1, .end_inf = 1};
  kv_tscache_add(s->tscache, &all, t, 0);
  kv_latch_wait_read(&s->latches, &all, t);
  *at = t;
  return KV_OK;
}

int kv_store_checkpoint(kv_store *s, const char *dir, kv_ts *at,
                        char **errptr) {
  /* B1-B3 need the writer's clock, cache and latches: only the writing
  ** process can settle a timestamp (a reader's view has no such bound). */
  if (s->eng.reader) {
    long pid = kv_reader_lock_holder(s->path);
    if (pid > 0)
      return kv_err(errptr, KV_INVALID,
                    "cannot back up store %s in this process, which only "
                    "reads it: back it up in process %ld, which writes it",
                    s->path, pid);
    return kv_err(errptr, KV_INVALID,
                  "cannot back up store %s through a connection that only "
                  "reads it: a new connection writes it now",
                  s->path);
  }
  int rc = ckpt_check_target(s, dir, errptr);
  if (rc) return rc;
  kv_ts t;
  if ((rc = ckpt_settle(s, &t, errptr))) return rc;
  char *rerr = NULL;
  if (kv_engine_checkpoint(&s->eng, dir, &rerr))
    return ckpt_fail(errptr, rerr, dir);
  if (at) *at = t;
  return KV_OK;
}
