/*
** test_engine.c — the RocksDB engine (engine.c) as seen through the store:
** directories it refuses to open (foreign files, a corrupt manifest, a
** plain RocksDB database, a store of another storage format) with clear
** errors and nothing written; the
** synchronous option (off, normal, full) told apart by RocksDB's WAL write
** and fsync counters, at open and when changed while open, exact past
** 10,000 writes; large commits written as ingested files
** (kv_options.ingest_bytes), undone with unprepare or abort, the batch
** path where ingestion does not apply, and a failed ingestion that writes
** nothing; point reads and scans that see every commit completed before them
** through pooled iterators, refreshed instead of created again; and
** the mapping of RocksDB error strings to codes.
*/
#include "kvtest.h"

#include <dirent.h>
#include <fcntl.h>
#include <rocksdb/c.h>
#include <sys/stat.h>

#include "kvint.h"

static void test_engine_foreign_directory_is_refused(void **state) {
  (void)state;
  char *dir = kvt_tempdir(1);
  char path[600];
  snprintf(path, sizeof path, "%s/notes.txt", dir);
  kvt_write_file(path, "my files\n");
  kv_store *s;
  assert_int_equal(kvt_open_rc(dir, NULL, &s), KV_CORRUPT);
  assert_null(s);
  assert_non_null(strstr(kvt_open_err, "not a kvcore store"));
  /* Nothing was written into it. */
  snprintf(path, sizeof path, "%s/CURRENT", dir);
  assert_int_not_equal(access(path, F_OK), 0);
  kvt_rmrf(dir);
  free(dir);
}

static void test_engine_corrupt_directory_is_refused(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kv_store *s = kvt_open_dir(dir, NULL);
  kvt_put1(s, "k", "v");
  kv_store_close(s);
  char path[600];
  snprintf(path, sizeof path, "%s/CURRENT", dir);
  kvt_write_file(path, "garbage-manifest-name\n");
  int rc = kvt_open_rc(dir, NULL, &s);
  assert_true(rc == KV_CORRUPT || rc == KV_IOERR);
  assert_null(s);
  assert_non_null(kvt_open_err);
  kvt_rmrf(dir);
  free(dir);
}

static void test_engine_plain_rocksdb_is_refused(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  rocksdb_options_t *o = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(o, 1);
  char *rerr = NULL;
  rocksdb_t *db = rocksdb_open(o, dir, &rerr);
  assert_null(rerr);
  rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
  rocksdb_put(db, wo, "x", 1, "y", 1, &rerr);
  rocksdb_writeoptions_destroy(wo);
  rocksdb_close(db);
  rocksdb_options_destroy(o);
  kv_store *s;
  assert_int_equal(kvt_open_rc(dir, NULL, &s), KV_CORRUPT);
  assert_non_null(strstr(kvt_open_err, "not a kvcore store"));
  kvt_rmrf(dir);
  free(dir);
}

/* A RocksDB whose data family has the given name, as a store of another
** storage format would have: "mvcc" for format 1, "kvcore.vN" for N. */
static void make_store_of_family(const char *dir, const char *family) {
  rocksdb_options_t *o = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(o, 1);
  rocksdb_options_set_create_missing_column_families(o, 1);
  const char *names[2] = {"default", family};
  const rocksdb_options_t *cfo[2] = {o, o};
  rocksdb_column_family_handle_t *cfs[2];
  char *rerr = NULL;
  rocksdb_t *db =
      rocksdb_open_column_families(o, dir, 2, names, cfo, cfs, &rerr);
  assert_null(rerr);
  rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
  rocksdb_put_cf(db, wo, cfs[1], "row", 3, "data", 4, &rerr);
  assert_null(rerr);
  rocksdb_writeoptions_destroy(wo);
  rocksdb_column_family_handle_destroy(cfs[0]);
  rocksdb_column_family_handle_destroy(cfs[1]);
  rocksdb_close(db);
  rocksdb_options_destroy(o);
}

/* Names and sizes of a directory's files, for "nothing was touched". */
static void dir_listing(const char *dir, char *out, size_t cap) {
  out[0] = 0;
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *de;
  char names[64][256];
  int n = 0;
  while ((de = readdir(d)) && n < 64)
    if (de->d_name[0] != '.') snprintf(names[n++], 256, "%s", de->d_name);
  qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
  for (int i = 0; i < n; i++) {
    struct stat st;
    assert_int_equal(fstatat(dirfd(d), names[i], &st, 0), 0);
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "%s:%lld:%lld.%09ld\n", names[i],
             (long long)st.st_size, (long long)st.st_mtim.tv_sec,
             st.st_mtim.tv_nsec);
  }
  closedir(d);
}

/* A store of another storage format (format 1's comparator-ordered keys,
** or a future format 3) is refused with both formats named, and not one
** file of it is created, removed, resized or rewritten. */
static void test_engine_other_format_is_refused_untouched(void **state) {
  (void)state;
  static const struct { const char *family, *says; } cases[] = {
      {"mvcc", "storage format 1; this build reads format 2"},
      {"kvcore.v3", "storage format 3; this build reads format 2"},
  };
  for (size_t i = 0; i < 2; i++) {
    char *dir = kvt_tempdir(0);
    make_store_of_family(dir, cases[i].family);
    char before[8192], after[8192];
    dir_listing(dir, before, sizeof before);
    kv_store *s;
    assert_int_equal(kvt_open_rc(dir, NULL, &s), KV_CORRUPT);
    assert_null(s);
    print_message("%s: %s\n", cases[i].family, kvt_open_err);
    assert_non_null(strstr(kvt_open_err, cases[i].says));
    dir_listing(dir, after, sizeof after);
    assert_string_equal(before, after);
    kvt_rmrf(dir);
    free(dir);
  }
}

/* ------------------------------------------------------ synchronous -- */

/* The WAL counters move by N single-put commits under each mode: off writes
** no log at all, normal writes it once per commit without fsync, full
** fsyncs every commit (one thread: no group to share an fsync with).  A
** manual clock stands still so the clock's lease (a synchronous metadata
** write every 2 s of wall time) cannot land inside the measurement. */
enum { SYNC_N = 40 };

static void commit_n(kv_store *s, const char *prefix, int n,
                     uint64_t *dwrites, uint64_t *dsyncs) {
  kv_stats a, b;
  kv_store_stats(s, &a);
  for (int i = 0; i < n; i++) {
    char k[64];
    snprintf(k, sizeof k, "%s/%03d", prefix, i);
    kvt_put1(s, k, prefix);
  }
  kv_store_stats(s, &b);
  assert_int_equal(b.commits - a.commits, (uint64_t)n);
  *dwrites = b.wal_writes - a.wal_writes;
  *dsyncs = b.wal_syncs - a.wal_syncs;
}

static void expect_wal(kv_sync mode, int n, uint64_t w, uint64_t sy) {
  static const char *names[] = {"full", "normal", "off"};
  print_message("synchronous=%s: %d commits, %llu WAL writes, %llu syncs\n",
                names[mode], n, (unsigned long long)w,
                (unsigned long long)sy);
  switch (mode) {
  case KV_SYNC_OFF:
    assert_int_equal(w, 0);
    assert_int_equal(sy, 0);
    break;
  case KV_SYNC_NORMAL:
    assert_true(w >= (uint64_t)n);
    assert_int_equal(sy, 0);
    break;
  case KV_SYNC_FULL:
    assert_true(w >= (uint64_t)n);
    assert_true(sy >= (uint64_t)n); /* each returned commit was fsynced */
    break;
  }
}

static void test_engine_synchronous_modes_at_open(void **state) {
  (void)state;
  const kv_sync modes[] = {KV_SYNC_OFF, KV_SYNC_NORMAL, KV_SYNC_FULL};
  for (int m = 0; m < 3; m++) {
    char *dir = kvt_tempdir(0);
    kvt_clock clk = {.now = 1000000000000ULL};
    kv_options o;
    kvt_clock_options(&o, &clk);
    o.synchronous = modes[m];
    kv_store *s = kvt_open_dir(dir, &o);
    kv_options got;
    kv_store_get_options(s, &got);
    assert_int_equal(got.synchronous, modes[m]);
    kvt_put1(s, "warm", "up"); /* the clock's first lease, outside */
    uint64_t w, sy;
    commit_n(s, "m", SYNC_N, &w, &sy);
    expect_wal(modes[m], SYNC_N, w, sy);
    kv_store_close(s);
    /* A clean close keeps every commit, WAL or not (off: the memtable is
    ** flushed on close). */
    clk.now += 1000000000ULL;
    s = kvt_open_dir(dir, &o);
    kv_txn *t = kvt_begin(s);
    for (int i = 0; i < SYNC_N; i++) {
      char k[64];
      snprintf(k, sizeof k, "m/%03d", i);
      const char *v = kvt_get(t, k);
      assert_non_null(v);
      assert_string_equal(v, "m");
    }
    kvt_commit(t);
    kv_store_close(s);
    kvt_rmrf(dir);
    free(dir);
  }
}

/* The serial-time counters grow with the work they time: every commit
** writes (serial_write_ns) and takes the clock's mutex (serial_mutex_ns);
** only full fsyncs (serial_sync_ns).  With one thread the sections never
** overlap, so together they fit in the wall time of the commits. */
static void test_engine_serial_time_counts_sections(void **state) {
  (void)state;
  const kv_sync modes[] = {KV_SYNC_NORMAL, KV_SYNC_FULL};
  for (int m = 0; m < 2; m++) {
    char *dir = kvt_tempdir(0);
    kvt_clock clk = {.now = 1000000000000ULL};
    kv_options o;
    kvt_clock_options(&o, &clk);
    o.synchronous = modes[m];
    kv_store *s = kvt_open_dir(dir, &o);
    kvt_put1(s, "warm", "up"); /* the clock's first lease, outside */
    kv_stats a, b;
    kv_store_stats(s, &a);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t w, sy;
    commit_n(s, "s", SYNC_N, &w, &sy);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    kv_store_stats(s, &b);
    uint64_t wall = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ULL +
                    (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
    uint64_t dw = b.serial_write_ns - a.serial_write_ns,
             ds = b.serial_sync_ns - a.serial_sync_ns,
             dm = b.serial_mutex_ns - a.serial_mutex_ns;
    print_message("%s: %d commits in %llu ns: write %llu, sync %llu, "
                  "mutexes %llu ns\n",
                  modes[m] == KV_SYNC_FULL ? "full" : "normal", SYNC_N,
                  (unsigned long long)wall, (unsigned long long)dw,
                  (unsigned long long)ds, (unsigned long long)dm);
    assert_true(dw > 0);
    assert_true(dm > 0);
    if (modes[m] == KV_SYNC_FULL) assert_true(ds > 0);
    else assert_int_equal(ds, 0);
    assert_true(dw + ds + dm <= wall);
    kv_store_close(s);
    kvt_rmrf(dir);
    free(dir);
  }
}

static void test_engine_set_synchronous_takes_effect_at_once(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kvt_clock clk = {.now = 1000000000000ULL};
  kv_options o;
  kvt_clock_options(&o, &clk); /* full */
  kv_store *s = kvt_open_dir(dir, &o);
  kvt_put1(s, "warm", "up");
  const kv_sync seq[] = {KV_SYNC_OFF, KV_SYNC_NORMAL, KV_SYNC_FULL,
                         KV_SYNC_NORMAL, KV_SYNC_OFF, KV_SYNC_FULL};
  for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
    kv_store_set_synchronous(s, seq[i]);
    kv_options got;
    kv_store_get_options(s, &got);
    assert_int_equal(got.synchronous, seq[i]);
    char prefix[16];
    snprintf(prefix, sizeof prefix, "p%zu", i);
    uint64_t w, sy;
    commit_n(s, prefix, SYNC_N, &w, &sy);
    expect_wal(seq[i], SYNC_N, w, sy);
  }
  /* An out-of-range mode is ignored. */
  kv_store_set_synchronous(s, (kv_sync)7);
  kv_options got;
  kv_store_get_options(s, &got);
  assert_int_equal(got.synchronous, KV_SYNC_FULL);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

/* The counters stay exact past 10,000 WAL writes.  (RocksDB prints its
** "Cumulative WAL" counts as 12K, 3M, ... from 10,000 on.) */
static void test_engine_wal_counters_exact_past_ten_thousand(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kvt_clock clk = {.now = 1000000000000ULL};
  kv_options o;
  kvt_clock_options(&o, &clk);
  o.synchronous = KV_SYNC_NORMAL;
  kv_store *s = kvt_open_dir(dir, &o);
  kv_stats a, b;
  kv_store_stats(s, &a);
  enum { N = 10500 };
  uint64_t last = a.wal_writes;
  for (int i = 0; i < N; i++) {
    char k[32];
    snprintf(k, sizeof k, "c/%05d", i % 1000);
    kvt_put1(s, k, "v");
    if (i % 500 == 499) {
      kv_store_stats(s, &b);
      if (b.wal_writes < last + 500)
        print_error("after %d commits: wal_writes %llu, was %llu 500 "
                    "commits before\n", i + 1,
                    (unsigned long long)b.wal_writes,
                    (unsigned long long)last);
      assert_true(b.wal_writes >= last + 500);
      last = b.wal_writes;
    }
  }
  kv_store_stats(s, &b);
  assert_true(b.wal_writes - a.wal_writes >= N);
  /* The syncs counter must not be dragged down with it: the clock's lease
  ** and the format marker were fsynced. */
  assert_true(b.wal_syncs >= a.wal_syncs);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

/* ------------------------------------------------ large commits -- */

#define BIG_N 500

/* Files in dir/ingest (0 when it does not exist). */
static int ingest_files(const char *dir) {
  char p[600];
  snprintf(p, sizeof p, "%s/ingest", dir);
  DIR *d = opendir(p);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* Options that ingest commits of BIG_N keys (and not smaller ones). */
static void big_options(kv_options *o) {
  kv_options_init(o);
  o->ingest_bytes = 8192;
}

/* Opens dir and commits "z/pre" = "here", which big_writes deletes. */
static kv_store *open_with_pre(const char *dir, const kv_options *o) {
  kv_store *s = kvt_open_dir(dir, o);
  kvt_put1(s, "z/pre", "here");
  return s;
}

/* Writes BIG_N keys "b/NNNN" = "vNNNN" and deletes "z/pre" in t. */
static void big_writes(kv_txn *t) {
  for (int i = 0; i < BIG_N; i++) {
    char k[32], v[32];
    snprintf(k, sizeof k, "b/%04d", i);
    snprintf(v, sizeof v, "v%04d", i);
    kvt_put(t, k, v);
  }
  KVT_OK(kv_txn_delete(t, "z/pre", 5, errptr));
}

static void check_big(kv_store *s, const char *pre) {
  kv_txn *t = kvt_begin(s);
  for (int i = 0; i < BIG_N; i++) {
    char k[32], v[32];
    snprintf(k, sizeof k, "b/%04d", i);
    snprintf(v, sizeof v, "v%04d", i);
    const char *got = kvt_get(t, k);
    assert_non_null(got);
    assert_string_equal(got, v);
  }
  const char *z = kvt_get(t, "z/pre");
  if (pre) {
    assert_non_null(z);
    assert_string_equal(z, pre);
  } else {
    assert_null(z);
  }
  kvt_commit(t);
}

static void test_engine_large_commit_is_ingested(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kvt_clock clk = {.now = 1000000000000ULL};
  kv_options o;
  big_options(&o);
  o.synchronous = KV_SYNC_NORMAL;
  o.wall_clock = kvt_clock_read;
  o.wall_clock_ctx = &clk;
  kv_store *s = open_with_pre(dir, &o);
  kv_txn *old = kvt_begin(s);     /* a snapshot from before */
  kv_txn *inside = kvt_begin(s);  /* writes between the large one's keys */
  kv_stats a, b;
  kv_store_stats(s, &a);

  kv_txn *t = kvt_begin(s);
  big_writes(t);
  kv_ts cts;
  KVT_OK(kv_txn_commit(t, &cts, errptr));
  kv_store_stats(s, &b);
  assert_int_equal(b.commits_ingested, a.commits_ingested + 1);
  assert_int_equal(b.wal_writes, a.wal_writes); /* nothing through the WAL */
  assert_int_equal(ingest_files(dir), 0);       /* RocksDB has the file */

  /* The snapshot from before sees none of it; a new one sees all of it. */
  assert_null(kvt_get(old, "b/0000"));
  assert_null(kvt_get(old, "b/0499"));
  assert_string_equal(kvt_get(old, "z/pre"), "here");
  kvt_commit(old);
  check_big(s, NULL);

  /* A key it did not write, between two it did, is still written above it
  ** (its timestamp-cache entry is one range over its keys). */
  kvt_put(inside, "b/0001x", "in");
  assert_true(kv_ts_cmp(kv_txn_write_ts(inside), cts) > 0);
  kvt_commit(inside);

  /* Small commits still go through the WAL. */
  kvt_put1(s, "small", "1");
  kv_store_stats(s, &a);
  assert_int_equal(a.commits_ingested, b.commits_ingested);
  assert_true(a.wal_writes > b.wal_writes);

  /* It survives a reopen; a file left in ingest/ by a crash is removed. */
  kv_store_close(s);
  char junk[600];
  snprintf(junk, sizeof junk, "%s/ingest/999.sst", dir);
  int fd = open(junk, O_CREAT | O_WRONLY, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "junk", 4), 4);
  close(fd);
  clk.now += 1000000000ULL;
  s = kvt_open_dir(dir, &o);
  assert_int_equal(ingest_files(dir), 0);
  check_big(s, NULL);
  kv_txn *r = kvt_begin(s);
  assert_string_equal(kvt_get(r, "b/0001x"), "in");
  kvt_commit(r);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

static void test_engine_prepared_large_commit_can_be_undone(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kv_options o;
  big_options(&o);
  kv_store *s = open_with_pre(dir, &o);
  kv_txn *t = kvt_begin(s);
  big_writes(t);
  KVT_OK(kv_txn_prepare(t, errptr));
  assert_int_equal(ingest_files(dir), 1); /* built at prepare */
  kv_txn_unprepare(t);
  assert_int_equal(ingest_files(dir), 0);
  kv_txn *r = kvt_begin(s);
  assert_null(kvt_get(r, "b/0000"));
  kvt_commit(r);
  /* The transaction goes on, and its commit is ingested in the end. */
  kvt_put(t, "b/0000", "again");
  kv_stats a, b;
  kv_store_stats(s, &a);
  kvt_commit(t);
  kv_store_stats(s, &b);
  assert_int_equal(b.commits_ingested, a.commits_ingested + 1);
  r = kvt_begin(s);
  assert_string_equal(kvt_get(r, "b/0000"), "again");
  assert_string_equal(kvt_get(r, "b/0499"), "v0499");
  assert_null(kvt_get(r, "z/pre"));
  kvt_commit(r);
  /* A prepared transaction that is aborted leaves no file either. */
  t = kvt_begin(s);
  big_writes(t);
  KVT_OK(kv_txn_prepare(t, errptr));
  kv_txn_abort(t);
  assert_int_equal(ingest_files(dir), 0);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

static void test_engine_large_commit_batch_when_not_ingestible(void **state) {
  (void)state;
  /* In memory, with synchronous=off, or with ingest_bytes 0, the batch
  ** path is taken: same result, no file. */
  for (int c = 0; c < 3; c++) {
    char *dir = c == 0 ? NULL : kvt_tempdir(0);
    kv_options o;
    big_options(&o);
    if (c == 2) o.ingest_bytes = 0;
    if (c == 1) o.synchronous = KV_SYNC_OFF;
    kv_store *s = open_with_pre(dir, &o); /* NULL dir: the in-memory one */
    kv_stats a, b;
    kv_store_stats(s, &a);
    kv_txn *t = kvt_begin(s);
    big_writes(t);
    kvt_commit(t);
    kv_store_stats(s, &b);
    assert_int_equal(b.commits_ingested, a.commits_ingested);
    check_big(s, NULL);
    if (dir) assert_int_equal(ingest_files(dir), 0);
    kv_store_close(s);
    if (dir) kvt_rmrf(dir);
    free(dir);
  }
}

static void test_engine_failed_ingestion_writes_nothing(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kv_options o;
  big_options(&o);
  kv_store *s = open_with_pre(dir, &o);
  /* A file where the ingest directory goes: the commit file cannot be made. */
  char p[600];
  snprintf(p, sizeof p, "%s/ingest", dir);
  int fd = open(p, O_CREAT | O_WRONLY, 0644);
  assert_true(fd >= 0);
  close(fd);
  kv_txn *t = kvt_begin(s);
  big_writes(t);
  char *err = NULL;
  int rc = kv_txn_commit(t, NULL, &err);
  assert_int_not_equal(rc, KV_OK);
  assert_non_null(err);
  assert_non_null(strstr(err, "commit failed, nothing was written"));
  kv_free(err);
  assert_true(kv_txn_is_dead(t));
  kv_txn_abort(t);
  kv_txn *r = kvt_begin(s);
  assert_null(kvt_get(r, "b/0000"));
  assert_string_equal(kvt_get(r, "z/pre"), "here");
  kvt_commit(r);
  /* With the way clear the same commit goes through. */
  unlink(p);
  t = kvt_begin(s);
  big_writes(t);
  kvt_commit(t);
  check_big(s, NULL);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

/* ------------------------------------------ point-iterator reuse -- */

/* A commit below a reader's timestamp that lands after the reader's
** previous read is seen by its next read (point reads reuse an engine
** iterator only while no write completed since it was made). */
static void test_engine_read_sees_commit_landing_below_it_later(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "x", "x0");
  kv_txn *u = kvt_begin(f->s); /* older: commits below t's snapshot */
  kv_txn *t = kvt_begin(f->s);
  assert_string_equal(kvt_get(t, "x"), "x0");
  kvt_put(u, "b", "1");
  kv_ts uc;
  KVT_OK(kv_txn_commit(u, &uc, errptr));
  assert_true(kv_ts_cmp(uc, kv_txn_read_ts(t)) < 0);
  const char *b = kvt_get(t, "b");
  assert_non_null(b);
  assert_string_equal(b, "1");
  kvt_commit(t);
}

/* The same across transactions: an ended transaction's iterator is kept
** for the next one, and refreshed when a write has completed since. */
static void test_engine_next_txn_sees_commit_after_previous_read(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "x", "x0");
  kv_txn *u = kvt_begin(f->s);
  kv_txn *a = kvt_begin(f->s);
  assert_string_equal(kvt_get(a, "x"), "x0");
  kvt_commit(a); /* its iterator is handed back */
  kvt_put(u, "b", "1");
  kvt_commit(u);
  for (int i = 0; i < 3; i++) {
    kv_txn *b = kvt_begin(f->s);
    const char *v = kvt_get(b, "b");
    assert_non_null(v);
    assert_string_equal(v, "1");
    kvt_commit(b);
  }
}

/* Reads and scans after other transactions' commits see them through
** pooled iterators that are refreshed, not created again: a hundred
** rounds of commit-then-read create no iterator once the pools are warm. */
static void test_engine_iterators_are_refreshed_not_recreated(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "k000", "v");
  for (int round = 0; round < 102; round++) {
    kv_stats before, after;
    kv_store_stats(f->s, &before);
    char k[16], v[16];
    snprintf(k, sizeof k, "k%03d", round + 1);
    snprintf(v, sizeof v, "v%d", round);
    kvt_put1(f->s, k, v); /* a commit: every pooled iterator is stale */
    kv_txn *t = kvt_begin(f->s);
    assert_string_equal(kvt_get(t, k), v); /* point read */
    kv_iter *it;
    KVT_OK(kv_txn_scan(t, "k", 1, "l", 1, 0, 0, &it, errptr));
    int n = 0;
    while (kv_iter_next(it, NULL) == KV_OK) n++;
    kv_iter_close(it);
    assert_int_equal(n, round + 2); /* the scan saw the commit too */
    kvt_commit(t);
    kv_store_stats(f->s, &after);
    if (round >= 2) {
      assert_int_equal(after.iter_creates, before.iter_creates);
      assert_true(after.iter_refreshes >= before.iter_refreshes + 2);
    }
  }
}

/* ------------------------------------------------- error mapping -- */

/* RocksDB reports errors as strings; the engine maps them to codes, and the
** SQLite layer maps the codes on (busy, corrupt, misuse, I/O). */
static void test_engine_code_maps_rocksdb_errors(void **state) {
  (void)state;
  assert_int_equal(kv_engine_code(NULL), KV_IOERR);
  assert_int_equal(kv_engine_code("IO error: lock hold by current process, "
                                  "acquire time 1 acquiring thread 2: "
                                  "/s/LOCK: No locks available"),
                   KV_BUSY);
  assert_int_equal(kv_engine_code("IO error: While lock file: /s/LOCK: "
                                  "Resource temporarily unavailable"),
                   KV_BUSY);
  assert_int_equal(kv_engine_code("Corruption: block checksum mismatch"),
                   KV_CORRUPT);
  assert_int_equal(kv_engine_code("Invalid argument: Column family not "
                                  "found: mvcc"),
                   KV_INVALID);
  /* A full disk is its own code (SQLITE_FULL above kvcore). */
  assert_int_equal(kv_engine_code("IO error: No space left on device: While "
                                  "appending to file: /s/000004.log: No "
                                  "space left on device"),
                   KV_FULL);
  assert_int_equal(kv_engine_code("IO error: Input/output error"), KV_IOERR);
  /* Only a leading "Corruption" is corruption. */
  assert_int_equal(kv_engine_code("IO error: Corruption in path name"),
                   KV_IOERR);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_engine_foreign_directory_is_refused),
      cmocka_unit_test(test_engine_corrupt_directory_is_refused),
      cmocka_unit_test(test_engine_plain_rocksdb_is_refused),
      cmocka_unit_test(test_engine_other_format_is_refused_untouched),
      cmocka_unit_test(test_engine_code_maps_rocksdb_errors),
      cmocka_unit_test(test_engine_synchronous_modes_at_open),
      cmocka_unit_test(test_engine_set_synchronous_takes_effect_at_once),
      cmocka_unit_test(test_engine_serial_time_counts_sections),
      cmocka_unit_test(test_engine_wal_counters_exact_past_ten_thousand),
      cmocka_unit_test(test_engine_large_commit_is_ingested),
      cmocka_unit_test(test_engine_prepared_large_commit_can_be_undone),
      cmocka_unit_test(test_engine_large_commit_batch_when_not_ingestible),
      cmocka_unit_test(test_engine_failed_ingestion_writes_nothing),
      cmocka_unit_test_setup_teardown(test_engine_read_sees_commit_landing_below_it_later, kvt_setup,
                                      kvt_teardown),
      cmocka_unit_test_setup_teardown(test_engine_iterators_are_refreshed_not_recreated,
                                      kvt_setup, kvt_teardown),
      cmocka_unit_test_setup_teardown(test_engine_next_txn_sees_commit_after_previous_read, kvt_setup,
                                      kvt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, kvt_open_cleanup);
}
