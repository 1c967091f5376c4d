/*
** test_damaged.c — stores damaged on disk behind kvcore's back, reopened:
** a missing CURRENT, a CURRENT naming a missing MANIFEST or nothing at all,
** a damaged table file (SST), and a write-ahead log whose tail is torn off
** or overwritten, or that is cut behind a table file.  Each either fails to
** open with KV_CORRUPT and a message naming the damage, leaving the directory as it was (no new, empty store
** is made over the remains), or opens with what RocksDB's recovery keeps:
** for a log, the commits before the damage, each whole (a commit is one
** write batch, one log record); for a table file, reads that meet the bad
** block fail with KV_CORRUPT and never return a wrong value.  Also
** kv_store_exists, which tells "no store here" from "a store that does not
** open".
*/
#include "kvtest.h"

#include <dirent.h>
#include <fcntl.h>
#include <rocksdb/c.h>
#include <sys/stat.h>

#include "kvint.h"

#define COMMITS 50

/* A store in a fresh directory (left closed) holding COMMITS commits, the
** i-th writing a<i> and b<i>: a commit is whole when both are there. */
static char *make_store(int flush) {
  char *dir = kvt_tempdir(0);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_NORMAL;
  kv_store *s = kvt_open_dir(dir, &o);
  for (int i = 0; i < COMMITS; i++) {
    char k[16], v[64];
    kv_txn *t = kvt_begin(s);
    snprintf(v, sizeof v, "value of commit %d, padded to be long enough", i);
    snprintf(k, sizeof k, "a%03d", i);
    kvt_put(t, k, v);
    snprintf(k, sizeof k, "b%03d", i);
    kvt_put(t, k, v);
    kvt_commit(t);
  }
  if (flush) {
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    char *rerr = NULL;
    rocksdb_flush_cf(s->eng.db, fo, s->eng.cf_data, &rerr);
    rocksdb_flushoptions_destroy(fo);
    assert_null(rerr);
  }
  kv_store_close(s);
  return dir;
}

/* The path of the first file in dir whose name ends with suffix (and is
** not empty), or fails the test. */
static void find_file(const char *dir, const char *prefix, const char *suffix,
                      char *out, size_t cap) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *de;
  off_t best = 0;
  out[0] = 0;
  while ((de = readdir(d))) {
    size_t n = strlen(de->d_name), m = strlen(suffix);
    if (n < m || strcmp(de->d_name + n - m, suffix) ||
        strncmp(de->d_name, prefix, strlen(prefix)))
      continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    struct stat st;
    if (stat(p, &st) == 0 && st.st_size > best) { /* the biggest */
      best = st.st_size;
      snprintf(out, cap, "%s", p);
    }
  }
  closedir(d);
  assert_true(out[0] != 0);
}

static off_t file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return st.st_size;
}

/* Overwrites n bytes of path at off with 'Z'. */
static void scribble(const char *path, off_t off, size_t n) {
  int fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  char buf[256];
  assert_true(n <= sizeof buf);
  memset(buf, 'Z', n);
  assert_int_equal(pwrite(fd, buf, n, off), (ssize_t)n);
  close(fd);
}

static bool exists_in(const char *dir, const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return access(p, F_OK) == 0;
}

static void test_damaged_missing_current_is_corrupt(void **state) {
  (void)state;
  char *dir = make_store(0);
  char p[1024];
  snprintf(p, sizeof p, "%s/CURRENT", dir);
  assert_int_equal(unlink(p), 0);
  kv_store *s;
  assert_int_equal(kvt_open_rc(dir, NULL, &s), KV_CORRUPT);
  assert_null(s);
  assert_non_null(strstr(kvt_open_err, "is damaged"));
  assert_non_null(strstr(kvt_open_err, "CURRENT file"));
  assert_false(exists_in(dir, "CURRENT")); /* no new store over it */
  assert_int_equal(kv_store_exists(dir), 1);
  kvt_rmrf(dir);
  free(dir);
}

static void test_damaged_missing_manifest_is_corrupt(void **state) {
  (void)state;
  char *dir = make_store(0);
  char p[1024];
  find_file(dir, "MANIFEST-", "", p, sizeof p);
  const char *name = strrchr(p, '/') + 1;
  char want[600];
  snprintf(want, sizeof want, "names %s, which is missing", name);
  assert_int_equal(unlink(p), 0);
  kv_store *s;
  assert_int_equal(kvt_open_rc(dir, NULL, &s), KV_CORRUPT);
  assert_null(s);
  assert_non_null(strstr(kvt_open_err, want));
  /* Nothing was written: still no MANIFEST at all. */
  DIR *d = opendir(dir);
  struct dirent *de;
  while ((de = readdir(d))) assert_null(strstr(de->d_name, "MANIFEST"));
  closedir(d);
  kvt_rmrf(dir);
  free(dir);
}

static void test_damaged_current_naming_nothing_is_corrupt(void **state) {
  (void)state;
  char *dir = make_store(0);
  char p[1024];
  snprintf(p, sizeof p, "%s/CURRENT", dir);
  kvt_write_file(p, "");
  kv_store *s;
  assert_int_equal(kvt_open_rc(dir, NULL, &s), KV_CORRUPT);
  assert_non_null(strstr(kvt_open_err, "does not name a MANIFEST"));
  kvt_write_file(p, "../elsewhere/MANIFEST-000001\n");
  assert_int_equal(kvt_open_rc(dir, NULL, &s), KV_CORRUPT);
  assert_non_null(strstr(kvt_open_err, "does not name a MANIFEST"));
  kvt_rmrf(dir);
  free(dir);
}

/* Reads every key; returns the first error (KV_OK if none), checking that
** each value returned is the one committed. */
static int read_all(kv_store *s, int *found, char **err) {
  kv_txn *t = kvt_begin(s);
  int rc = KV_OK;
  *found = 0;
  for (int i = 0; i < COMMITS && rc == KV_OK; i++) {
    for (int half = 0; half < 2 && rc == KV_OK; half++) {
      char k[16], want[64];
      snprintf(k, sizeof k, "%c%03d", half ? 'b' : 'a', i);
      snprintf(want, sizeof want,
               "value of commit %d, padded to be long enough", i);
      const void *v;
      size_t n;
      rc = kv_txn_get(t, k, strlen(k), 0, &v, &n, err);
      if (rc == KV_OK) {
        assert_int_equal(n, strlen(want));
        assert_memory_equal(v, want, n);
        ++*found;
      } else if (rc == KV_NOTFOUND) {
        rc = KV_OK;
      }
    }
  }
  kv_txn_abort(t);
  return rc;
}

/* Opens dir and reads every row (RocksDB checks data blocks as it reads
** them): the open or the reads must fail with KV_CORRUPT; returns the
** message (caller frees with kv_free). */
static char *open_and_read_corrupt(const char *dir) {
  kv_store *s = NULL;
  int rc = kvt_open_rc(dir, NULL, &s);
  char *err = NULL;
  int found = 0;
  if (rc == KV_OK) {
    rc = read_all(s, &found, &err);
    kv_store_close(s);
  } else {
    err = kvt_open_err;
    kvt_open_err = NULL;
  }
  assert_int_equal(rc, KV_CORRUPT);
  assert_non_null(err);
  return err;
}

static void test_damaged_sst_block_is_corrupt_on_read(void **state) {
  (void)state;
  char *dir = make_store(1);
  char p[1024];
  find_file(dir, "", ".sst", p, sizeof p);
  scribble(p, 40, 32); /* inside the first (only) data block */
  char *err = open_and_read_corrupt(dir);
  assert_non_null(strstr(err, "checksum mismatch"));
  kv_free(err);
  kvt_rmrf(dir);
  free(dir);
}

static void test_damaged_sst_truncated_is_corrupt(void **state) {
  (void)state;
  char *dir = make_store(1);
  char p[1024];
  find_file(dir, "", ".sst", p, sizeof p);
  assert_int_equal(truncate(p, file_size(p) / 2), 0);
  kv_free(open_and_read_corrupt(dir));
  kvt_rmrf(dir);
  free(dir);
}

/* Opens dir and checks the store holds commits 0..n-1, each whole, and
** nothing else; returns n. */
static int recovered_prefix(const char *dir) {
  kv_store *s = kvt_open_dir(dir, NULL);
  int found = 0;
  KVT_OK(read_all(s, &found, errptr));
  kv_txn *t = kvt_begin(s);
  int n = 0;
  while (n < COMMITS) {
    char k[16];
    snprintf(k, sizeof k, "a%03d", n);
    bool a = kvt_get(t, k) != NULL;
    snprintf(k, sizeof k, "b%03d", n);
    bool b = kvt_get(t, k) != NULL;
    assert_int_equal(a, b); /* whole commits only */
    if (!a) break;
    n++;
  }
  kv_txn_abort(t);
  assert_int_equal(found, 2 * n); /* nothing after the first missing one */
  /* The recovered store takes writes again. */
  kvt_put1(s, "after", "recovery");
  kv_store_close(s);
  return n;
}

static void test_damaged_wal_torn_tail_keeps_whole_commits(void **state) {
  (void)state;
  char *dir = make_store(0);
  char p[1024];
  find_file(dir, "", ".log", p, sizeof p);
  assert_int_equal(truncate(p, file_size(p) - 70), 0);
  int n = recovered_prefix(dir);
  assert_true(n < COMMITS);
  assert_true(n >= COMMITS - 3);
  kvt_rmrf(dir);
  free(dir);
}

static void test_damaged_wal_corrupt_tail_keeps_whole_commits(void **state) {
  (void)state;
  char *dir = make_store(0);
  char p[1024];
  find_file(dir, "", ".log", p, sizeof p);
  scribble(p, file_size(p) - 200, 8);
  int n = recovered_prefix(dir);
  assert_true(n < COMMITS);
  assert_true(n >= COMMITS - 5);
  kvt_rmrf(dir);
  free(dir);
}

/* The log cut in half after the data family was flushed: the table file
** holds commits the cut log no longer reaches.  RocksDB refuses to open
** rather than recover a state older than its table files ("SST file is
** ahead of WALs"): KV_CORRUPT. */
static void test_damaged_wal_cut_behind_table_file_is_corrupt(void **state) {
  (void)state;
  char *dir = make_store(1);
  char p[1024];
  find_file(dir, "", ".log", p, sizeof p);
  assert_int_equal(truncate(p, file_size(p) / 2), 0);
  kv_store *s = NULL;
  int rc = kvt_open_rc(dir, NULL, &s);
  if (rc == KV_OK) { /* the cut took only what the table file holds */
    int found = 0;
    KVT_OK(read_all(s, &found, errptr));
    assert_int_equal(found, 2 * COMMITS);
    kv_store_close(s);
  } else {
    assert_int_equal(rc, KV_CORRUPT);
    assert_non_null(strstr(kvt_open_err, "Corruption"));
    print_message("log cut behind a table file: %s\n", kvt_open_err);
  }
  kvt_rmrf(dir);
  free(dir);
}

static void test_damaged_store_exists_tells_remains_from_nothing(void **state) {
  (void)state;
  char *dir = kvt_tempdir(1);
  char p[1024];
  assert_int_equal(kv_store_exists(NULL), 0);
  assert_int_equal(kv_store_exists(":memory:"), 0);
  assert_int_equal(kv_store_exists(dir), 0); /* empty */
  snprintf(p, sizeof p, "%s/missing", dir);
  assert_int_equal(kv_store_exists(p), 0);
  snprintf(p, sizeof p, "%s/file", dir);
  kvt_write_file(p, "x");
  assert_int_equal(kv_store_exists(p), 0);
  assert_int_equal(kv_store_exists(dir), 0); /* other files only */
  snprintf(p, sizeof p, "%s/000007.sst", dir);
  kvt_write_file(p, "x");
  assert_int_equal(kv_store_exists(dir), 1); /* what is left of a store */
  kvt_rmrf(dir);
  free(dir);
  dir = make_store(0);
  assert_int_equal(kv_store_exists(dir), 1);
  kvt_rmrf(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_teardown(fn, kvt_open_cleanup)
      T(test_damaged_missing_current_is_corrupt),
      T(test_damaged_missing_manifest_is_corrupt),
      T(test_damaged_current_naming_nothing_is_corrupt),
      T(test_damaged_sst_block_is_corrupt_on_read),
      T(test_damaged_sst_truncated_is_corrupt),
      T(test_damaged_wal_torn_tail_keeps_whole_commits),
      T(test_damaged_wal_corrupt_tail_keeps_whole_commits),
      T(test_damaged_wal_cut_behind_table_file_is_corrupt),
      T(test_damaged_store_exists_tells_remains_from_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
