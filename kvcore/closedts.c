/*
** closedts.c — closed timestamps: the writer's promise that lets a reader
** process take a snapshot that is both fresh and serializable.
**
** THE PROBLEM.  A reader process (reader.c) sees the writer's commits in
** the order they were written: its write-ahead log.  That is not always
** commit-timestamp order.  Transaction A plainly reads x at ra; B writes x
** and commits first, at tb > ra (the timestamp cache pushed it above A's
** read); A then commits its own writes at ra.  The serial order is A, B,
** the log order B, A: a reader caught up between them would see B without
** A, a state no serial execution passes through.
**
** THE PROMISE (CockroachDB's closed timestamps).  Now and then the writer
** publishes T, the metadata record KV_CLOSED_META, in its log, meaning:
**   every commit at or below T is in the log before this record, and no
**   commit at or below T will ever be written after it.
** A reader whose view holds that record reads at T: MVCC hides every
** version above T, and everything at or below T is there.  So it sees
** exactly the commits at or below T: a prefix of the serial order.
**
** CLOSING T is a read of the whole key space at T (txn.c, R2-R3):
**   1. the timestamp cache gets [everything) at T, so a commit that has not
**      yet decided its timestamp (C2, under its latches) decides one above
**      T, refreshing its reads to it (A above: its read of x no longer
**      holds at its new timestamp, so it fails and retries);
**   2. then the write latches at or below T are waited out: a commit that
**      decided a timestamp at or below T before step 1 holds them until
**      its write has returned, i.e. is in the log;
**   3. then the record is written (to the log, not synced: a reader reads
**      the log file, not the disk).
** T is the clock's now(), so commits that returned before the tick are at
** or below it.  A commit of a large transaction is an ingested file, which
** a reader picks up from the MANIFEST; its ingestion is complete by step 2
** too, so a reader that catches up once more after it found the record
** has it (reader.c).
**
** FRESHNESS.  The record also carries the wall time at which its tick
** began.  A reader transaction that began at wall time w waits (reader.c)
** for a record whose tick began after w: every commit that returned before
** w is then at or below its T.  Readers and writer share the host's clock
** (one host writes a store's directory).
**
** COST.  Ticks run only while a reader is there: each reader process keeps
** a file <store>/readers/<pid> while it has the store open, and the tick
** looks at that directory first (removing files of processes that are
** gone).  A tick is every KV_CLOSED_TICK_MS while a reader is there, and
** the directory is looked at every KV_CLOSED_IDLE_MS otherwise: a
** reader's transaction waits about one tick for its snapshot, and the
** first one after a quiet spell up to KV_CLOSED_IDLE_MS.  A writer's
** transaction that straddles a tick commits above it: a refresh of its
** reads, which fails only if what it read changed meanwhile.  With
** synchronous=off commits are not in the log: the record then says so
** ("off") and readers fall back to the newest state they can see
** (reader.c).
*/
#include "kvint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KV_CLOSED_TICK_MS 2   /* while a reader is there */
#define KV_CLOSED_IDLE_MS 50  /* looking for one */
#define KV_CLOSED_DIR "readers"

static uint64_t wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t kv_closed_wall_ns(void) { return wall_ns(); }

static void put_be(unsigned char *p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

/* version(1) ‖ tick wall ns(8) ‖ T.wall(8) ‖ T.logical(4); version 0 is
** "off". */
enum { CLOSED_LEN = 21 };

int kv_closed_decode(const char *val, size_t n, kv_closed *out) {
  const unsigned char *p = (const unsigned char *)val;
  if (n != CLOSED_LEN || p[0] > 1) return KV_CORRUPT;
  out->off = p[0] == 0;
  out->tick_wall = get_be(p + 1, 8);
  out->ts = (kv_ts){get_be(p + 9, 8), (uint32_t)get_be(p + 17, 4)};
  return KV_OK;
}

static void closed_encode(unsigned char *p, bool off, uint64_t tick_wall,
                          kv_ts ts) {
  p[0] = off ? 0 : 1;
  put_be(p + 1, tick_wall, 8);
  put_be(p + 9, ts.wall, 8);
  put_be(p + 17, ts.logical, 4);
}

/* ---------------------------------------------------- reader presence -- */

char *kv_closed_register(const char *path) {
  size_t n = strlen(path) + sizeof(KV_CLOSED_DIR) + 32;
  char *dir = malloc(n), *file = malloc(n);
  if (!dir || !file) goto fail;
  snprintf(dir, n, "%s/" KV_CLOSED_DIR, path);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) goto fail;
  snprintf(file, n, "%s/%ld", dir, (long)getpid());
  int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) goto fail;
  close(fd);
  free(dir);
  return file;
fail:
  free(dir);
  free(file);
  return NULL;
}

void kv_closed_unregister(char *file) {
  if (!file) return;
  unlink(file);
  free(file);
}

/* Is a reader process there?  Files of processes that are gone go. */
static bool readers_present(const char *path) {
  char dir[4096];
  if (snprintf(dir, sizeof dir, "%s/" KV_CLOSED_DIR, path) >= (int)sizeof dir)
    return false;
  DIR *d = opendir(dir);
  if (!d) return false;
  bool any = false;
  struct dirent *de;
  while ((de = readdir(d))) {
    char *end;
    long pid = strtol(de->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    if (kill((pid_t)pid, 0) == 0 || errno == EPERM) {
      any = true;
    } else {
      char f[sizeof dir + 260];
      snprintf(f, sizeof f, "%s/%s", dir, de->d_name);
      unlink(f);
    }
  }
  closedir(d);
  return any;
}

/* ------------------------------------------------------------- closer -- */

/* One tick: close the clock's now and publish it (or "off"). */
static void closed_tick(kv_store *s) {
  unsigned char rec[CLOSED_LEN];
  uint64_t tick_wall = wall_ns();
  kv_ts t = KV_TS_ZERO;
  bool off = atomic_load(&s->eng.sync_mode) == KV_SYNC_OFF;
  if (!off) {
    if (kv_clock_now(&s->clock, &t, NULL) != KV_OK) return;
    kv_span all = {.start = "", .slen = 0, .is_range = 1, .end_inf = 1};
    kv_tscache_add(s->tscache, &all, t, 0);
    kv_latch_wait_read(&s->latches, &all, t);
  }
  closed_encode(rec, off, tick_wall, t);
  /* A failed write (the engine refuses writes until it recovers) just
  ** publishes nothing: readers wait, then fall back (reader.c). */
  kv_engine_meta_put_async(&s->eng, KV_CLOSED_META, rec, sizeof rec, NULL);
}

static uint64_t closer_period_ns(void *arg) {
  kv_store *s = arg;
  return (atomic_load(&s->closer_readers) ? KV_CLOSED_TICK_MS
                                          : KV_CLOSED_IDLE_MS) *
         1000000ULL;
}

static void closer_tick(void *arg) {
  kv_store *s = arg;
  bool readers = readers_present(s->path);
  atomic_store(&s->closer_readers, readers);
  if (readers) closed_tick(s);
}

int kv_closed_start(kv_store *s, char **errptr) {
  /* Readers are other processes on a directory: none for an in-memory
  ** store, and a reader publishes nothing. */
  if (s->in_memory || s->eng.reader) return KV_OK;
  if (!kv_ticker_start(&s->closer, closer_period_ns, closer_tick, s))
    return kv_err(errptr, KV_NOMEM, "cannot start the closed-timestamp "
                  "thread");
  return KV_OK;
}

void kv_closed_stop(kv_store *s) { kv_ticker_stop(&s->closer); }
