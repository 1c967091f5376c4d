/*
** reader.c — reading a store that another process writes.
**
** One process writes a store: it holds RocksDB's LOCK file (a POSIX fcntl
** lock).  Another process that opens the store gets KV_BUSY from RocksDB
** and opens it here instead, as RocksDB secondary instances: they read the
** writer's files (MANIFEST, table files, write-ahead log) without the lock,
** and rocksdb_try_catch_up_with_primary() brings one up to what the writer
** has written so far.  A secondary instance needs a directory of its own
** for its info log: each gets a private temporary one (mkdtemp under
** $TMPDIR), removed as soon as the instance is open (the log file stays
** open and is written unlinked), so nothing is left behind even by a
** process that exits without closing the store.
** max_open_files = -1 keeps every table file open, so a file the writer
** deletes (compaction) stays readable through the open handle.
**
** VIEWS.  A transaction must read one state throughout, while other
** transactions of this process begin and catch up.  A RocksDB snapshot
** would pin one, but a secondary instance ignores ReadOptions.snapshot
** (RocksDB 7.8 reads at its latest sequence), and every iterator reads the
** instance's state at the iterator's creation.  So each transaction holds a
** view, one secondary instance of its own, which it catches up when it
** begins and which nobody else catches up until it ends: every iterator it
** creates sees the same state.  Views are kept in a pool, opened on
** demand and reused: as many as transactions have been in progress at once
** (a transaction never waits for another's view: the extension runs catalog
** transactions inside SQL ones, and a wait could close a cycle).  Each
** instance replays the write-ahead log into memtables of its own, so a view
** costs up to the writer's memtable size.
**
** WHAT A READER TRANSACTION SEES.  The state of a view after its catch-up is
** the writer's commits in the order they were written (its WAL and
** MANIFEST), up to some point: whole commits only (a commit is one write
** batch, or one ingested file).  It holds every commit that returned before
** the catch-up began, since a commit returns after its write.  The
** transaction reads at a timestamp above every version in the view: the
** writer's clock mark (KV_CLOCK_META) as of the view, plus one, since the
** writer persists a mark before it hands out any timestamp below it (a
** synchronous write, so it is in the view before any commit under it).
** The writer's hybrid clock may run ahead of the wall clock, so "now" on
** this side is not a bound.
**   The order of writes agrees with the order of commit timestamps for
** every two transactions where one read what the other wrote or both wrote
** one key (the second waits for the first's write: latches, locks), so the
** state is one the writer's serial order passes through as far as those
** are concerned.  It may differ for a pair where the earlier one only
** plainly read (without a lock) a key the later one wrote, and wrote its
** own keys after it: a reader can then see the later one without the
** earlier one (CockroachDB's followers avoid this with closed timestamps,
** which need the writer's cooperation).  A commit large enough to be
** ingested as a file (kv_options.ingest_bytes) is caught up through the
** MANIFEST, which is read before the log, and may show up one catch-up
** after commits written just after it.
**   With synchronous=off the writer has no write-ahead log: its commits
** reach a reader only when its memtables are flushed.
**
** Every write through a reader (transactions' writes and locks, metadata,
** range deletes, GC, ingestion) fails with KV_READONLY, naming the writing
** process: the pid that fcntl(F_GETLK) reports for the LOCK file.
*/
#include "kvint.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct kv_reader {
  char *path;              /* the store directory */
  pthread_mutex_t mu;      /* views and their busy flags */
  kv_view **views;         /* the pool: each malloc'd (transactions hold
                           ** pointers to them) */
  int nviews, capviews;
};

long kv_reader_lock_holder(const char *path) {
  char lock[4096];
  if (snprintf(lock, sizeof lock, "%s/LOCK", path) >= (int)sizeof lock)
    return 0;
  int fd = open(lock, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  long pid = 0;
  if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) pid = fl.l_pid;
  close(fd);
  return pid;
}

int kv_reader_refuse(kv_engine *e, char **errptr) {
  const char *path = e->reader ? e->reader->path : "?";
  long pid = kv_reader_lock_holder(path);
  if (pid > 0)
    return kv_err(errptr, KV_READONLY,
                  "attempt to write a readonly database: the store %s is "
                  "written by process %ld; this process only reads it",
                  path, pid);
  return kv_err(errptr, KV_READONLY,
                "attempt to write a readonly database: the store %s was "
                "opened while another process wrote it, so this process only "
                "reads it (that process has ended: open the store again to "
                "write it)",
                path);
}

static int rm_cb(const char *p, const struct stat *sb, int flag,
                 struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

/* Opens one secondary instance into v, its info log in a private
** directory that is gone again when this returns. */
static int view_open(kv_engine *e, kv_reader *r, kv_view *v, char **errptr) {
  const char *base = getenv("TMPDIR");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/kvcore-reader-XXXXXX",
           base && *base ? base : "/tmp");
  if (!mkdtemp(dir))
    return kv_err(errptr, KV_IOERR, "cannot create a directory for reading "
                  "store %s: %s", r->path, strerror(errno));
  const char *names[2] = {"default", kv_data_family};
  const rocksdb_options_t *cfopts[2] = {e->dbopts, e->cfopts_data};
  rocksdb_column_family_handle_t *cfs[2] = {NULL, NULL};
  char *rerr = NULL;
  rocksdb_t *db = rocksdb_open_as_secondary_column_families(
      e->dbopts, r->path, dir, 2, names, cfopts, cfs, &rerr);
  nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  if (rerr) {
    int rc = kv_engine_code(rerr);
    if (rc == KV_OK || rc == KV_INVALID) rc = KV_CORRUPT;
    kv_err(errptr, rc, "cannot read store %s (another process writes it): %s",
           r->path, rerr);
    free(rerr);
    return rc;
  }
  memset(v, 0, sizeof(*v));
  v->db = db;
  v->cf_meta = cfs[0];
  v->cf_data = cfs[1];
  return KV_OK;
}

static void view_close(kv_view *v) {
  if (!v->db) return;
  rocksdb_column_family_handle_destroy(v->cf_meta);
  rocksdb_column_family_handle_destroy(v->cf_data);
  rocksdb_close(v->db);
  memset(v, 0, sizeof(*v));
}

static void reader_free(kv_reader *r) {
  for (int i = 0; i < r->nviews; i++) {
    view_close(r->views[i]);
    free(r->views[i]);
  }
  free(r->views);
  pthread_mutex_destroy(&r->mu);
  free(r->path);
  free(r);
}

int kv_reader_open(kv_engine *e, const char *path, char **errptr) {
  kv_reader *r = calloc(1, sizeof(*r));
  if (!r) return kv_err(errptr, KV_NOMEM, "out of memory");
  pthread_mutex_init(&r->mu, NULL);
  r->path = strdup(path);
  int rc = KV_NOMEM;
  if (!r->path) goto fail;
  /* Every table file stays open: the writer may delete one meanwhile. */
  rocksdb_options_set_max_open_files(e->dbopts, -1);
  kv_view ctl;
  if ((rc = view_open(e, r, &ctl, errptr))) goto fail;
  e->db = ctl.db;
  e->cf_meta = ctl.cf_meta;
  e->cf_data = ctl.cf_data;
  e->reader = r;
  return KV_OK;

fail:
  if (rc == KV_NOMEM) kv_err(errptr, rc, "out of memory");
  reader_free(r);
  return rc;
}

void kv_reader_close(kv_engine *e) {
  if (!e->reader) return;
  reader_free(e->reader); /* e->db is closed by the engine */
  e->reader = NULL;
}

static int catch_up(rocksdb_t *db, const char *path, char **errptr) {
  char *rerr = NULL;
  rocksdb_try_catch_up_with_primary(db, &rerr);
  if (!rerr) return KV_OK;
  int rc = kv_engine_code(rerr);
  if (rc == KV_OK || rc == KV_INVALID || rc == KV_BUSY) rc = KV_IOERR;
  kv_err(errptr, rc, "cannot catch up with the writer of store %s: %s", path,
         rerr);
  free(rerr);
  return rc;
}

int kv_reader_catch_up(kv_engine *e, char **errptr) {
  return catch_up(e->db, e->reader->path, errptr);
}

/* The timestamp v's transaction reads at: above every version in v. */
static int view_read_ts(kv_reader *r, kv_view *v, char **errptr) {
  rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
  if (!ro) return kv_err(errptr, KV_NOMEM, "out of memory");
  char *rerr = NULL;
  size_t n = 0;
  char *val = rocksdb_get_cf(v->db, ro, v->cf_meta, KV_CLOCK_META,
                             strlen(KV_CLOCK_META), &n, &rerr);
  rocksdb_readoptions_destroy(ro);
  if (rerr) {
    int rc = kv_err(errptr, kv_engine_code(rerr), "cannot read store %s: %s",
                    r->path, rerr);
    free(rerr);
    return rc;
  }
  uint64_t hwm = 0;
  if (val && n == 8)
    for (int i = 0; i < 8; i++) hwm = (hwm << 8) | (unsigned char)val[i];
  free(val);
  if (n != 0 && n != 8)
    return kv_err(errptr, KV_CORRUPT, "store clock mark is corrupt");
  /* No timestamp handed out has a wall part above the mark; one above it
  ** (a logical counter that overflowed) is beyond reach in practice. */
  v->ts = (kv_ts){hwm + 1, 0};
  return KV_OK;
}

int kv_reader_acquire(kv_engine *e, kv_view **out, char **errptr) {
  kv_reader *r = e->reader;
  *out = NULL;
  kv_view *v = NULL;
  pthread_mutex_lock(&r->mu);
  for (int i = 0; i < r->nviews && !v; i++)
    if (!r->views[i]->busy) v = r->views[i];
  if (!v) {
    /* A new instance: opened under the mutex, which only other begins and
    ** ends wait for. */
    int rc = KV_OK;
    if (r->nviews == r->capviews) {
      int cap = r->capviews ? 2 * r->capviews : 4;
      kv_view **nv = realloc(r->views, sizeof(*nv) * (size_t)cap);
      if (nv) {
        r->views = nv;
        r->capviews = cap;
      } else {
        rc = kv_err(errptr, KV_NOMEM, "out of memory");
      }
    }
    if (!rc && !(v = malloc(sizeof(*v))))
      rc = kv_err(errptr, KV_NOMEM, "out of memory");
    if (!rc && (rc = view_open(e, r, v, errptr))) {
      free(v);
      v = NULL;
    }
    if (rc) {
      pthread_mutex_unlock(&r->mu);
      return rc;
    }
    r->views[r->nviews++] = v;
  }
  v->busy = true;
  pthread_mutex_unlock(&r->mu);
  int rc = catch_up(v->db, r->path, errptr);
  if (!rc) rc = view_read_ts(r, v, errptr);
  if (rc) {
    kv_reader_release(e, v);
    return rc;
  }
  *out = v;
  return KV_OK;
}

void kv_reader_release(kv_engine *e, kv_view *v) {
  kv_reader *r = e->reader;
  pthread_mutex_lock(&r->mu);
  v->busy = false;
  pthread_mutex_unlock(&r->mu);
}

rocksdb_iterator_t *kv_view_iter(kv_engine *e, kv_view *v, int kind) {
  atomic_fetch_add(&e->iter_creates, 1);
  return rocksdb_create_iterator_cf(
      v->db, kind == KV_ITER_POINT ? e->ro_point : e->ro, v->cf_data);
}
