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
** the catch-up began, since a commit returns after its write.  Log order
** is not commit-timestamp order, though (closedts.c, THE PROBLEM), so the
** transaction does not read at the newest timestamp in its view but at
** the writer's closed timestamp T (KV_CLOSED_META): every commit at or
** below T is in the view and none will ever join them, so what it sees is
** a prefix of the serial order.  For freshness it takes a record whose
** tick began after the transaction did (both clocks are the host's), so
** every commit that returned before it began is at or below T: it waits
** for one, catching up every KV_READER_CLOSED_POLL_NS; the writer ticks
** every few milliseconds while a reader process has announced itself
** (kv_closed_register, at open).
**   Without a record in KV_READER_CLOSED_WAIT_NS (a writer that does not
** publish: an older build, a failed log, a prepared transaction that holds
** its latches), when the writer says "off" (synchronous=off: its commits
** are not in the log), or when no process writes the store any more
** (nothing is in flight: the newest state is final), it reads at the
** newest state instead: above
** every version in the view, the writer's clock mark (KV_CLOCK_META) as of
** the view, plus one, since the writer persists a mark before it hands out
** any timestamp below it.  That state holds every commit that returned
** before the catch-up, but may show a commit without an earlier one that
** only plainly read what it wrote.
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
#include <time.h>
#include <unistd.h>

/* How long a transaction waits for the writer's closed timestamp before it
** takes the newest state instead, and how often it looks. */
#define KV_READER_CLOSED_WAIT_NS (1000ULL * 1000000ULL)
#define KV_READER_CLOSED_POLL_NS 200000L

struct kv_reader {
  char *path;              /* the store directory */
  char *presence;          /* <path>/readers/<pid> (closedts.c), or NULL */
  rocksdb_readoptions_t *ro_meta; /* for the views' metadata reads */
  pthread_mutex_t mu;      /* views and their busy flags */
  kv_view **views;         /* the pool: each malloc'd (transactions hold
                           ** pointers to them) */
  int nviews, capviews;
  /* Snapshots at a closed timestamp, and at the newest state instead. */
  _Atomic uint64_t snap_closed, snap_newest;
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
  kv_closed_unregister(r->presence);
  if (r->ro_meta) rocksdb_readoptions_destroy(r->ro_meta);
  pthread_mutex_destroy(&r->mu);
  free(r->path);
  free(r);
}

int kv_reader_open(kv_engine *e, const char *path, char **errptr) {
  kv_reader *r = calloc(1, sizeof(*r));
  if (!r) return kv_err(errptr, KV_NOMEM, "out of memory");
  pthread_mutex_init(&r->mu, NULL);
  r->path = strdup(path);
  r->ro_meta = rocksdb_readoptions_create();
  int rc = KV_NOMEM;
  if (!r->path || !r->ro_meta) goto fail;
  /* Every table file stays open: the writer may delete one meanwhile. */
  rocksdb_options_set_max_open_files(e->dbopts, -1);
  kv_view ctl;
  if ((rc = view_open(e, r, &ctl, errptr))) goto fail;
  e->db = ctl.db;
  e->cf_meta = ctl.cf_meta;
  e->cf_data = ctl.cf_data;
  e->reader = r;
  /* The writer publishes closed timestamps while a reader is there. */
  r->presence = kv_closed_register(path);
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

void kv_reader_counters(kv_engine *e, uint64_t *closed, uint64_t *newest) {
  *closed = e->reader ? atomic_load(&e->reader->snap_closed) : 0;
  *newest = e->reader ? atomic_load(&e->reader->snap_newest) : 0;
}

int kv_reader_catch_up(kv_engine *e, char **errptr) {
  return catch_up(e->db, e->reader->path, errptr);
}

/* v's metadata value name, or NULL when absent (*n 0). */
static int view_meta(kv_reader *r, kv_view *v, const char *name, char **val,
                     size_t *n, char **errptr) {
  char *rerr = NULL;
  *n = 0;
  *val = rocksdb_get_cf(v->db, r->ro_meta, v->cf_meta, name, strlen(name), n,
                        &rerr);
  if (!rerr) return KV_OK;
  int rc = kv_err(errptr, kv_engine_code(rerr), "cannot read store %s: %s",
                  r->path, rerr);
  free(rerr);
  return rc;
}

/* The newest state v can show, without the writer's promise: above every
** version in it. */
static int view_newest_ts(kv_reader *r, kv_view *v, char **errptr) {
  char *val;
  size_t n;
  int rc = view_meta(r, v, KV_CLOCK_META, &val, &n, errptr);
  if (rc) return rc;
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

/* Sets v->ts for a transaction that began at wall time began: the writer's
** closed timestamp from a tick that began after it (CLOSED TIMESTAMPS). */
static int view_read_ts(kv_reader *r, kv_view *v, uint64_t began,
                        char **errptr) {
  uint64_t deadline = kv_mono_ns() + KV_READER_CLOSED_WAIT_NS;
  for (;;) {
    char *val;
    size_t n;
    int rc = view_meta(r, v, KV_CLOSED_META, &val, &n, errptr);
    if (rc) return rc;
    kv_closed c;
    bool have = val && kv_closed_decode(val, n, &c) == KV_OK;
    free(val);
    if (have && c.tick_wall > began) {
      if (c.off) {
        atomic_fetch_add(&r->snap_newest, 1);
        return view_newest_ts(r, v, errptr);
      }
      /* Files ingested before the record: the MANIFEST is read before the
      ** log, so one more catch-up has every one of them. */
      if ((rc = catch_up(v->db, r->path, errptr))) return rc;
      v->ts = c.ts;
      atomic_fetch_add(&r->snap_closed, 1);
      return KV_OK;
    }
    /* No writer: nothing is in flight, the newest state is final. */
    if (!r->presence || kv_mono_ns() > deadline ||
        kv_reader_lock_holder(r->path) == 0) {
      atomic_fetch_add(&r->snap_newest, 1);
      return view_newest_ts(r, v, errptr);
    }
    struct timespec ts = {0, KV_READER_CLOSED_POLL_NS};
    nanosleep(&ts, NULL);
    if ((rc = catch_up(v->db, r->path, errptr))) return rc;
  }
}

int kv_reader_acquire(kv_engine *e, kv_view **out, char **errptr) {
  uint64_t began = kv_closed_wall_ns();
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
  if (!rc) rc = view_read_ts(r, v, began, errptr);
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
