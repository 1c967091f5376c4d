/*
** test_diskfull.c — a store on a file system that fills up (issue 16).
**
** The test mounts a small tmpfs (24 MiB; needs root, as CI runs: where
** mounting is not permitted it skips, printing why), puts a 4 MiB filler
** file on it, and keeps a store there.  Then, at synchronous=full, one
** connection inserts 8 KiB rows in autocommit until an INSERT fails, and
** checks, in this order:
**   - the failure is SQLITE_FULL with "database or disk is full" in its
**     message, the process is alive, and the failed row is absent;
**   - reads work while the disk is full (every acknowledged row, by count
**     and by content), a new connection reads too, and mvcc_stats reports
**     the failure (write_failures > 0, write_error names the full disk);
**   - a write still fails with SQLITE_FULL while the disk is full;
**   - once the filler is deleted and the mount grown to 64 MiB (RocksDB
**     resumes only once the free space holds its largest memtable, 32
**     MiB), writes work again on the same
**     connections without reopening anything (as soon as RocksDB has
**     recovered: within RECOVERY_DEADLINE_NS), and write_error is empty;
**   - after every connection closed (the store closes), a reopen finds
**     every acknowledged row with its content and nothing else.
** Takes up to about 6 seconds (RocksDB's recovery polls every 5 s).
*/
#include "sqltest.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define MOUNT_BYTES "24m"
/* RocksDB resumes once the free space can hold its largest memtable
** (32 MiB): the file system grows to this when space comes back. */
#define MOUNT_BYTES_AFTER "64m"
#define FILLER_BYTES (4 << 20)
#define ROW_BYTES 8192
/* RocksDB's own recovery polls every 5 s: twice that is a failure. */
#define RECOVERY_DEADLINE_NS (10ULL * 1000000000ULL)
#define MAX_ROWS 20000 /* far more than fit: the loop ends at SQLITE_FULL */

static char mnt[256];

static void fill_file(const char *path, size_t bytes) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  char buf[65536];
  memset(buf, 'f', sizeof buf);
  for (size_t done = 0; done < bytes; done += sizeof buf)
    assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
  close(fd);
}

static sqlite3 *open_db(const char *path) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_extended_result_codes(db, 0);
  return db;
}

static char *one_text(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  char *v = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return v;
}

/* Inserts row id: ROW_BYTES of one letter that depends on id. */
static int insert_row(sqlite3 *db, int id) {
  char sql[160];
  snprintf(sql, sizeof sql,
           "INSERT INTO t VALUES(%d, printf('%%.%dc', char(%d)))", id,
           ROW_BYTES, 'a' + id % 26);
  return sqlt_exec(db, sql);
}

/* Rows 0..n-1 are there, each with its own content, and nothing else. */
static void check_rows(sqlite3 *db, int n) {
  char sql[200];
  assert_int_equal(sqlt_one_int(db, "SELECT count(*) FROM t"), n);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM t WHERE id >= 0 AND id < %d AND "
           "v = printf('%%.%dc', char(97 + id %% 26))",
           n, ROW_BYTES);
  assert_int_equal(sqlt_one_int(db, sql), n);
}

static int setup_mount(void **state) {
  (void)state;
  const char *base = getenv("TMPDIR");
  snprintf(mnt, sizeof mnt, "%s/diskfull-XXXXXX", base ? base : "/tmp");
  if (!mkdtemp(mnt)) return -1;
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=" MOUNT_BYTES) != 0) {
    printf("[  SKIP    ] test_diskfull: cannot mount a tmpfs on %s (%s): "
           "the disk-full test needs root\n", mnt, strerror(errno));
    rmdir(mnt);
    mnt[0] = 0;
  }
  sqlite3_auto_extension((void (*)(void))sqlite3_mvcc_init);
  return 0;
}

static int teardown_mount(void **state) {
  (void)state;
  if (mnt[0]) {
    umount2(mnt, MNT_DETACH);
    rmdir(mnt);
  }
  return 0;
}

static void test_diskfull_full_then_recover(void **state) {
  (void)state;
  if (!mnt[0]) skip();
  char filler[300], path[300];
  snprintf(filler, sizeof filler, "%s/filler", mnt);
  snprintf(path, sizeof path, "%s/test.db", mnt);
  fill_file(filler, FILLER_BYTES);

  sqlite3 *db = open_db(path);
  assert_int_equal(sqlt_exec(db, "CREATE VIRTUAL TABLE temp.t USING mvcc(id "
                            "INTEGER PRIMARY KEY, v BLOB, synchronous=full)"),
                   SQLITE_OK);
  int acked = 0, rc = SQLITE_OK;
  while (acked < MAX_ROWS && (rc = insert_row(db, acked)) == SQLITE_OK) acked++;
  assert_int_equal(rc, SQLITE_FULL);
  assert_non_null(strstr(sqlite3_errmsg(db), "database or disk is full"));
  assert_true(acked > 100); /* the store held a fair amount first */
  printf("disk full after %d acknowledged rows: %s\n", acked,
         sqlite3_errmsg(db));

  /* Reads while full, on this connection and a new one. */
  check_rows(db, acked);
  sqlite3 *db2 = open_db(path);
  check_rows(db2, acked);
  assert_true(sqlt_one_int(db2, "SELECT value FROM mvcc_stats WHERE name = "
                           "'write_failures'") > 0);
  char *werr = one_text(db2, "SELECT value FROM mvcc_stats WHERE name = "
                             "'write_error'");
  assert_non_null(strstr(werr, "full"));
  free(werr);
  /* Still full: still a clean SQLITE_FULL, and nothing of it shows. */
  assert_int_equal(insert_row(db, acked), SQLITE_FULL);
  check_rows(db2, acked);

  /* Space back: the same connections write again, as soon as RocksDB has
  ** recovered (it polls the free space every 5 s: engine.c); until then a
  ** write fails as before, with SQLITE_FULL and no effect. */
  assert_int_equal(unlink(filler), 0);
  assert_int_equal(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT,
                         "size=" MOUNT_BYTES_AFTER), 0);
  uint64_t deadline = sqlt_now_ns() + RECOVERY_DEADLINE_NS;
  int waits = 0;
  while ((rc = insert_row(db, acked)) == SQLITE_FULL &&
         sqlt_now_ns() < deadline) {
    waits++;
    usleep(20000); /* polling RocksDB's recovery, whose period is 5 s */
  }
  assert_int_equal(rc, SQLITE_OK);
  printf("writes resumed after %d refused attempts\n", waits);
  acked++;
  assert_int_equal(insert_row(db2, acked), SQLITE_OK);
  acked++;
  check_rows(db, acked);
  werr = one_text(db, "SELECT value FROM mvcc_stats WHERE name = "
                      "'write_error'");
  assert_string_equal(werr, "");
  free(werr);
  assert_true(sqlt_one_int(db, "SELECT value FROM mvcc_stats WHERE name = "
                          "'write_recoveries'") >= 1);
  sqlite3_close(db2);
  sqlite3_close(db);

  /* Reopened (the store was closed with its last connection). */
  db = open_db(path);
  check_rows(db, acked);
  sqlite3_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_diskfull_full_then_recover),
  };
  return cmocka_run_group_tests(tests, setup_mount, teardown_mount);
}
