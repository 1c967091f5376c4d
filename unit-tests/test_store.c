/*
** test_store.c — opening stores (scenario 10 of the kvcore issue; store.c):
** one store per directory per process, reference counted and thread safe;
** the in-memory store shared; a forked child opens the store as a reader
** (its writes fail) and harms nothing; missing and bad paths give clear
** errors; metadata (reserved names refused), range deletion, and
** statistics.
**
** What the engine refuses to open, the synchronous option and large
** commits are in test_engine.c; garbage collection in test_gc.c.
*/
#include "kvtest.h"

#include <sys/wait.h>

static void test_store_same_directory_is_one_store(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kv_store *a = kvt_open_dir(dir, NULL);
  char alias[600];
  snprintf(alias, sizeof alias, "%s/../%s", dir, strrchr(dir, '/') + 1);
  kv_store *b = kvt_open_dir(alias, NULL); /* another spelling of the path */
  assert_ptr_equal(a, b);
  kvt_put1(a, "k", "v");
  kv_store_close(a);
  kv_txn *t = kvt_begin(b); /* still open: one reference left */
  assert_string_equal(kvt_get(t, "k"), "v");
  kvt_commit(t);
  kv_store_close(b);
  kvt_rmrf(dir);
  free(dir);
}

typedef struct opener {
  const char *dir;
  kv_store *s;
} opener;

static void *opener_main(void *arg) {
  opener *o = arg;
  kv_store_open(o->dir, NULL, &o->s, NULL);
  return NULL;
}

static void test_store_concurrent_opens_share(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  enum { N = 8 };
  opener o[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    o[i] = (opener){dir, NULL};
    pthread_create(&th[i], NULL, opener_main, &o[i]);
  }
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < N; i++) {
    assert_non_null(o[i].s);
    assert_ptr_equal(o[i].s, o[0].s);
  }
  for (int i = 0; i < N; i++) kv_store_close(o[i].s);
  kvt_rmrf(dir);
  free(dir);
}

static void test_store_in_memory_is_shared(void **state) {
  (void)state;
  kv_store *a = kvt_open_dir(NULL, NULL);
  kv_store *b = kvt_open_dir(":memory:", NULL);
  assert_ptr_equal(a, b);
  assert_string_equal(kv_store_path(a), "");
  kvt_put1(a, "mem", "yes");
  kv_txn *t = kvt_begin(b);
  assert_string_equal(kvt_get(t, "mem"), "yes");
  kvt_commit(t);
  kv_store_close(a);
  kv_store_close(b);
}

/* The second process of scenario 10 (this program run again, as
** `test_store --second DIR FD`): opens DIR, reads "k", tries to write it,
** and reports on FD. */
static void second_process(const char *dir, int fd) {
  kv_store *c = NULL;
  char *err = NULL;
  int rc = kv_store_open(dir, NULL, &c, &err);
  kv_txn *t = NULL;
  const void *v = NULL;
  size_t vl = 0;
  int wrc = -1;
  if (rc == KV_OK && kv_txn_begin(c, NULL, &t, &err) == KV_OK) {
    if (kv_txn_get(t, "k", 1, 0, &v, &vl, &err) != KV_OK) vl = 0;
    wrc = kv_txn_put(t, "k", 1, "child", 5, &err);
    kv_txn_abort(t);
  }
  char msg[512];
  int n = snprintf(msg, sizeof msg, "%d %d %d %.*s %s", rc,
                   c ? kv_store_is_reader(c) : -1, wrc, (int)vl,
                   (const char *)v, err ? err : "");
  if (write(fd, msg, (size_t)n) < 0) _exit(3);
  _exit(0);
}

/* Scenario 10: a second process opens the store as a reader (reader.c has
** its own tests): it reads the parent's commits, its writes fail with
** KV_READONLY, and the parent's store is unharmed.  The child execs this
** program again: ThreadSanitizer cannot follow a fork of a process with
** threads into one that starts threads (RocksDB's). */
static void test_store_busy_in_other_process(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kv_store *s = kvt_open_dir(dir, NULL);
  kvt_put1(s, "k", "parent");
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    char fd[16];
    snprintf(fd, sizeof fd, "%d", pfd[1]);
    execl("/proc/self/exe", "test_store", "--second", dir, fd, (char *)NULL);
    _exit(9);
  }
  close(pfd[1]);
  char msg[512] = {0};
  ssize_t n = read(pfd[0], msg, sizeof msg - 1);
  close(pfd[0]);
  int status;
  waitpid(pid, &status, 0);
  assert_true(n > 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  char want[64];
  snprintf(want, sizeof want, "0 1 %d parent ", KV_READONLY);
  assert_memory_equal(msg, want, strlen(want));
  assert_non_null(strstr(msg, "attempt to write a readonly database"));
  /* The parent's store is unharmed and writable. */
  kvt_put1(s, "k2", "after");
  kv_txn *t = kvt_begin(s);
  assert_string_equal(kvt_get(t, "k"), "parent");
  assert_string_equal(kvt_get(t, "k2"), "after");
  kvt_commit(t);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

static void test_store_missing_or_bad_paths(void **state) {
  (void)state;
  kv_options o;
  kv_options_init(&o);
  o.create_if_missing = 0;
  kv_store *s;
  char *dir = kvt_tempdir(0);
  assert_int_equal(kvt_open_rc(dir, &o, &s), KV_IOERR);
  assert_non_null(strstr(kvt_open_err, "does not exist"));
  assert_int_equal(kvt_open_rc("/dev/null/store", NULL, &s), KV_IOERR);
  char file[600];
  snprintf(file, sizeof file, "%s.file", dir);
  kvt_write_file(file, "x");
  assert_int_equal(kvt_open_rc(file, NULL, &s), KV_CORRUPT);
  assert_non_null(strstr(kvt_open_err, "not a directory"));
  unlink(file);
  kv_options_init(&o);
  o.synchronous = 7;
  assert_int_equal(kvt_open_rc(dir, &o, &s), KV_INVALID);
  free(dir);
}

static void test_store_meta(void **state) {
  (void)state;
  kv_store *s = kvt_open_dir(NULL, NULL);
  KVT_OK(kv_store_meta_put(s, "catalog.version", "7", 1, errptr));
  char *v = NULL;
  size_t n = 0;
  KVT_OK(kv_store_meta_get(s, "catalog.version", &v, &n, errptr));
  assert_int_equal(n, 1);
  assert_memory_equal(v, "7", 1);
  kv_free(v);
  KVT_RC(KV_NOTFOUND, kv_store_meta_get(s, "nothing", &v, &n, errptr));
  KVT_RC(KV_INVALID, kv_store_meta_put(s, "kvcore.clock_hwm", "", 0, errptr));
  kv_store_close(s);
}

static void test_store_delete_range(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kv_store *s = kvt_open_dir(dir, NULL);
  const char *keys[] = {"t1/a", "t2/a", "t2/b", "t2/c", "t3/a"};
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 5; i++) kvt_put1(s, keys[i], round ? "2" : "1");
  KVT_OK(kv_store_delete_range(s, "t2/", 3, "t20", 3, errptr));
  kv_txn *t = kvt_begin(s);
  assert_string_equal(kvt_get(t, "t1/a"), "2");
  assert_null(kvt_get(t, "t2/a"));
  assert_null(kvt_get(t, "t2/c"));
  assert_string_equal(kvt_get(t, "t3/a"), "2");
  kvt_commit(t);
  kv_history *h; /* every version in the range is gone */
  KVT_OK(kv_store_history(s, "t2/", 3, "t20", 3, &h, errptr));
  KVT_RC(KV_NOTFOUND, kv_history_next(h, errptr));
  kv_history_close(h);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

static void test_store_stats_and_introspection(void **state) {
  (void)state;
  kv_store *s = kvt_open_dir(NULL, NULL);
  kv_stats before, after;
  kv_store_stats(s, &before);
  kv_txn *t = kvt_begin(s);
  kvt_put(t, "intro", "1");
  kv_store_stats(s, &after);
  assert_int_equal(after.active_txns, before.active_txns + 1);
  assert_int_equal(after.locks_held, before.locks_held + 1);
  kvt_commit(t);
  kv_store_stats(s, &after);
  assert_int_equal(after.commits, before.commits + 1);
  assert_int_equal(after.active_txns, before.active_txns);
  assert_int_equal(after.locks_held, before.locks_held);
  kv_store_close(s);
}

/* Tallies add up per id, live while the store is open, and start at 0 in
** another opening; two openings get distinct kv_store_opened_at(). */
static void test_store_tallies_and_openings(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kv_store *s = kvt_open_dir(dir, NULL);
  assert_int_equal(kv_store_tally(s, 7, 0), 0);
  assert_int_equal(kv_store_tally(s, 7, 5), 5);
  assert_int_equal(kv_store_tally(s, 9, -2), -2);
  assert_int_equal(kv_store_tally(s, 7, -1), 4);
  assert_int_equal(kv_store_tally(s, 9, 0), -2);
  kv_ts first = kv_store_opened_at(s);
  kv_store *again = kvt_open_dir(dir, NULL); /* the same opening */
  assert_int_equal(kv_ts_cmp(kv_store_opened_at(again), first), 0);
  assert_int_equal(kv_store_tally(again, 7, 0), 4);
  kv_store_close(again);
  kv_store_close(s);
  s = kvt_open_dir(dir, NULL);
  assert_int_equal(kv_store_tally(s, 7, 0), 0);
  assert_true(kv_ts_cmp(kv_store_opened_at(s), first) > 0);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "--second"))
    second_process(argv[2], atoi(argv[3]));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_store_tallies_and_openings),
      cmocka_unit_test(test_store_same_directory_is_one_store),
      cmocka_unit_test(test_store_concurrent_opens_share),
      cmocka_unit_test(test_store_in_memory_is_shared),
      cmocka_unit_test(test_store_busy_in_other_process),
      cmocka_unit_test(test_store_missing_or_bad_paths),
      cmocka_unit_test(test_store_meta),
      cmocka_unit_test(test_store_delete_range),
      cmocka_unit_test(test_store_stats_and_introspection),
  };
  return cmocka_run_group_tests(tests, NULL, kvt_open_cleanup);
}
