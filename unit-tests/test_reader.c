/*
** test_reader.c — reading a store that another process writes (reader.c).
**
** Each test forks a writer: a child process that opens the store (so it
** holds RocksDB's LOCK) and commits what the parent asks for over a pipe,
** answering once each commit has returned.  The parent opens the same
** store as a reader and checks: a transaction sees every commit that
** returned before it began, and keeps seeing the state it began with while
** other transactions catch up past it (also with 20 at once, each on a
** view of its own, and across the writer's memtable flushes); with the
** writer at synchronous=off, commits show once flushed; writes, locks, metadata writes and
** GC fail with KV_READONLY naming the writer's pid; and once the writer has
** exited, the next open becomes the writer while the reader's references
** stay readers.  The child runs this program again (exec, so that it
** starts without the parent's threads: ThreadSanitizer cannot follow a
** fork of a process with threads), as `test_reader --writer DIR IN OUT`,
** and uses no cmocka (it exits with a code instead).
*/
#include "kvtest.h"

#include <sys/wait.h>

typedef struct writer {
  pid_t pid;
  int to, from;       /* commands to the child, its answers */
} writer;

/* The child: opens dir, answers "ok", then for each command "k=v" commits
** it and answers "ok"; "f" flushes its memtable to a table file (through
** a range delete of keys nobody uses), so its log can go; "o" turns its
** write-ahead log off (synchronous=off); "q" ends it. */
static void writer_main(const char *dir, int in, int out) {
  kv_store *s = NULL;
  if (kv_store_open(dir, NULL, &s, NULL) != KV_OK) _exit(10);
  if (kv_store_is_reader(s)) _exit(11);
  if (write(out, "ok", 2) != 2) _exit(12);
  kv_txn *held = NULL; /* transaction A of the 'R' and 'C' commands */
  char cmd[256];
  for (;;) {
    ssize_t n = read(in, cmd, sizeof cmd - 1);
    if (n <= 0) _exit(13);
    cmd[n] = 0;
    if (cmd[0] == 'q') break;
    if (cmd[0] == 'o') {
      kv_store_set_synchronous(s, KV_SYNC_OFF);
      if (write(out, "ok", 2) != 2) _exit(16);
      continue;
    }
    if (cmd[0] == 'R') { /* transaction A begins and plainly reads x */
      const void *v;
      size_t vl;
      int rc = kv_txn_begin(s, NULL, &held, NULL);
      if (!rc) rc = kv_txn_get(held, "x", 1, 0, &v, &vl, NULL);
      if (rc != KV_OK && rc != KV_NOTFOUND) _exit(18);
      if (write(out, "ok", 2) != 2) _exit(16);
      continue;
    }
    if (cmd[0] == 'C') { /* A writes y=A and commits: "ok" or "rt" (retry) */
      int rc = kv_txn_put(held, "y", 1, "A", 1, NULL);
      if (!rc) rc = kv_txn_commit(held, NULL, NULL);
      if (rc != KV_OK && rc != KV_RETRY) _exit(19);
      if (rc) kv_txn_abort(held);
      held = NULL;
      if (write(out, rc ? "rt" : "ok", 2) != 2) _exit(16);
      continue;
    }
    if (cmd[0] == 'f') {
      if (kv_store_delete_range(s, "~", 1, "~~", 2, NULL)) _exit(17);
      if (write(out, "ok", 2) != 2) _exit(16);
      continue;
    }
    char *eq = strchr(cmd, '=');
    if (!eq) _exit(14);
    kv_txn *t = NULL;
    if (kv_txn_begin(s, NULL, &t, NULL) ||
        kv_txn_put(t, cmd, (size_t)(eq - cmd), eq + 1, strlen(eq + 1), NULL) ||
        kv_txn_commit(t, NULL, NULL))
      _exit(15);
    if (write(out, "ok", 2) != 2) _exit(16);
  }
  kv_store_close(s);
  _exit(0);
}

static writer writer_start(const char *dir) {
  int a[2], b[2];
  assert_int_equal(pipe(a), 0);
  assert_int_equal(pipe(b), 0);
  writer w;
  w.pid = fork();
  assert_true(w.pid >= 0);
  if (w.pid == 0) {
    close(a[1]);
    close(b[0]);
    char in[16], out[16];
    snprintf(in, sizeof in, "%d", a[0]);
    snprintf(out, sizeof out, "%d", b[1]);
    execl("/proc/self/exe", "test_reader", "--writer", dir, in, out,
          (char *)NULL);
    _exit(9);
  }
  close(a[0]);
  close(b[1]);
  w.to = a[1];
  w.from = b[0];
  char ok[3] = {0};
  assert_int_equal(read(w.from, ok, 2), 2); /* it holds the store now */
  assert_string_equal(ok, "ok");
  return w;
}

/* Sends cmd; the child's two-letter answer (static buffer). */
static const char *writer_ask(writer *w, const char *cmd) {
  static char ans[3];
  assert_int_equal(write(w->to, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
  memset(ans, 0, sizeof ans);
  assert_int_equal(read(w->from, ans, 2), 2);
  return ans;
}

/* Has the child commit k=v; returns once that commit has returned. */
static void writer_put(writer *w, const char *kv) {
  assert_int_equal(write(w->to, kv, strlen(kv)), (ssize_t)strlen(kv));
  char ok[3] = {0};
  assert_int_equal(read(w->from, ok, 2), 2);
  assert_string_equal(ok, "ok");
}

static void writer_stop(writer *w) {
  assert_int_equal(write(w->to, "q", 1), 1);
  int status;
  assert_int_equal(waitpid(w->pid, &status, 0), w->pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  close(w->to);
  close(w->from);
}

/* A reader's snapshots so far: at a closed timestamp, or the newest. */
static uint64_t snapshots(kv_store *s, bool closed) {
  kv_stats st;
  kv_store_stats(s, &st);
  return closed ? st.reader_snapshots_closed : st.reader_snapshots_newest;
}

/* The rows of a full scan, "k=v;..." (static buffer). */
static const char *scan_all(kv_txn *t) {
  static char out[1024];
  out[0] = 0;
  kv_iter *it;
  KVT_OK(kv_txn_scan(t, "", 0, NULL, 0, 0, 0, &it, errptr));
  while (kv_iter_next(it, NULL) == KV_OK) {
    size_t kl, vl;
    const char *k = kv_iter_key(it, &kl), *v = kv_iter_value(it, &vl);
    size_t n = strlen(out);
    snprintf(out + n, sizeof out - n, "%.*s=%.*s;", (int)kl, k, (int)vl, v);
  }
  kv_iter_close(it);
  return out;
}

static void test_reader_sees_commits_that_returned(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  writer w = writer_start(dir);
  writer_put(&w, "a=1");
  kv_store *s = kvt_open_dir(dir, NULL);
  assert_int_equal(kv_store_is_reader(s), 1);
  assert_int_equal(kv_store_writer_pid(s), w.pid);

  kv_txn *t1 = kvt_begin(s);
  assert_string_equal(kvt_get(t1, "a"), "1");
  writer_put(&w, "a=2");
  writer_put(&w, "b=1");
  /* A transaction that begins after those commits returned sees them ... */
  kv_txn *t2 = kvt_begin(s);
  assert_string_equal(kvt_get(t2, "a"), "2");
  assert_string_equal(scan_all(t2), "a=2;b=1;");
  /* ... while t1 keeps its own state, in gets and in scans. */
  assert_string_equal(kvt_get(t1, "a"), "1");
  assert_null(kvt_get(t1, "b"));
  assert_string_equal(scan_all(t1), "a=1;");
  kvt_commit(t1);
  /* Across a flush of the writer's memtable (its log can go): an open
  ** transaction keeps its state, a new one finds the rows in table files. */
  writer_put(&w, "f");
  writer_put(&w, "c=1");
  kv_txn *t3 = kvt_begin(s);
  assert_string_equal(scan_all(t3), "a=2;b=1;c=1;");
  assert_string_equal(scan_all(t2), "a=2;b=1;");
  writer_put(&w, "f");
  assert_string_equal(scan_all(t3), "a=2;b=1;c=1;");
  kvt_commit(t3);
  kvt_commit(t2);
  assert_true(snapshots(s, true) >= 3);
  /* Catch-up happens at every begin, not only at the first. */
  for (int i = 3; i <= 6; i++) {
    char kv[16];
    snprintf(kv, sizeof kv, "a=%d", i);
    writer_put(&w, kv);
    kv_txn *t = kvt_begin(s);
    assert_string_equal(kvt_get(t, "a"), kv + 2);
    kvt_commit(t);
  }
  kv_store_close(s);
  writer_stop(&w);
  kvt_rmrf(dir);
  free(dir);
}

/* Log order is not commit order: A plainly reads x at ra, B writes x and
** commits (pushed above A's read), then A writes y and would commit at ra,
** before B in the serial order.  A reader that began after B returned sees
** x=B; it must not see y absent unless A never commits below it (closedts.c,
** THE PROBLEM).  The writer's closed timestamp makes A commit above the
** reader's snapshot, where its read of x no longer holds: A retries.  At
** the newest state instead, A would commit at ra and the reader would have
** seen B without the earlier A. */
static void test_reader_snapshot_is_a_prefix_of_commit_order(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  writer w = writer_start(dir);
  writer_put(&w, "x=0");
  kv_store *s = kvt_open_dir(dir, NULL);
  int closed_rounds = 0;
  bool a_committed = false; /* in a round read at the newest state */
  for (int round = 0; round < 5; round++) {
    assert_string_equal(writer_ask(&w, "R"), "ok"); /* A reads x */
    char kv[16];
    snprintf(kv, sizeof kv, "x=B%d", round);
    writer_put(&w, kv);                               /* B commits */
    uint64_t closed0 = snapshots(s, true);
    kv_txn *t = kvt_begin(s);
    /* At a closed timestamp (a machine too loaded for the writer to tick
    ** within a second makes it the newest state: reader.c). */
    bool closed = snapshots(s, true) == closed0 + 1;
    assert_string_equal(kvt_get(t, "x"), kv + 2);     /* it returned */
    bool y_absent = kvt_get(t, "y") == NULL;
    kvt_commit(t);
    const char *a = writer_ask(&w, "C");              /* A commits? */
    /* The reader saw B and not A: A must not commit, or it would be
    ** serialized before B. */
    if (!a_committed) assert_true(y_absent);
    if (closed) {
      assert_string_equal(a, "rt");
      closed_rounds++;
    }
    a_committed |= strcmp(a, "ok") == 0;
  }
  assert_true(closed_rounds >= 3);
  kv_store_close(s);
  writer_stop(&w);
  kvt_rmrf(dir);
  free(dir);
}

/* More transactions at once than a pool of a fixed size would hold, each
** begun after one more commit: each keeps the state it began with. */
static void test_reader_many_transactions_each_own_snapshot(void **state) {
  (void)state;
  enum { N = 20 };
  char *dir = kvt_tempdir(0);
  writer w = writer_start(dir);
  writer_put(&w, "a=0");
  kv_store *s = kvt_open_dir(dir, NULL);
  kv_txn *t[N];
  for (int i = 0; i < N; i++) {
    t[i] = kvt_begin(s);
    char kv[16];
    snprintf(kv, sizeof kv, "a=%d", i + 1);
    writer_put(&w, kv);
  }
  for (int i = N - 1; i >= 0; i--) {
    char want[16];
    snprintf(want, sizeof want, "%d", i);
    assert_string_equal(kvt_get(t[i], "a"), want);
  }
  for (int i = 0; i < N; i++) kvt_commit(t[i]);
  kv_txn *last = kvt_begin(s);
  assert_string_equal(kvt_get(last, "a"), "20");
  kvt_commit(last);
  kv_store_close(s);
  writer_stop(&w);
  kvt_rmrf(dir);
  free(dir);
}

/* With synchronous=off the writer keeps no log: a reader sees its commits
** once they reach a table file (a flush), not before. */
static void test_reader_synchronous_off_shows_after_flush(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  writer w = writer_start(dir);
  writer_put(&w, "k=logged");
  kv_store *s = kvt_open_dir(dir, NULL);
  writer_put(&w, "o");
  writer_put(&w, "k=unlogged");
  kv_txn *t = kvt_begin(s);
  assert_string_equal(kvt_get(t, "k"), "logged");
  kvt_commit(t);
  writer_put(&w, "f");
  t = kvt_begin(s);
  assert_string_equal(kvt_get(t, "k"), "unlogged");
  kvt_commit(t);
  /* The writer promises nothing without a log: the newest state. */
  assert_true(snapshots(s, false) >= 2);
  kv_store_close(s);
  writer_stop(&w);
  kvt_rmrf(dir);
  free(dir);
}

static void test_reader_refuses_writes(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  writer w = writer_start(dir);
  writer_put(&w, "k=v");
  kv_store *s = kvt_open_dir(dir, NULL);
  assert_int_equal(kv_store_is_reader(s), 1);
  char pid[32];
  snprintf(pid, sizeof pid, "process %ld", (long)w.pid);

  kv_txn *t = kvt_begin(s);
  char *err = NULL;
  assert_int_equal(kv_txn_put(t, "k", 1, "x", 1, &err), KV_READONLY);
  assert_non_null(strstr(err, "attempt to write a readonly database"));
  assert_non_null(strstr(err, pid));
  assert_int_equal(kv_txn_delete(t, "k", 1, &err), KV_READONLY);
  assert_int_equal(kv_txn_lock(t, "k", 1, &err), KV_READONLY);
  /* The transaction is unharmed: a locking read is a plain read here. */
  const void *v;
  size_t vl;
  assert_int_equal(kv_txn_get(t, "k", 1, KV_READ_FOR_UPDATE, &v, &vl, &err),
                   KV_OK);
  assert_memory_equal(v, "v", 1);
  kvt_commit(t);
  assert_int_equal(kv_store_meta_put(s, "m", "x", 1, &err), KV_READONLY);
  assert_int_equal(kv_store_delete_range(s, "a", 1, "z", 1, &err),
                   KV_READONLY);
  kv_gc_stats gs;
  assert_int_equal(kv_store_gc(s, &gs, &err), KV_READONLY);
  assert_non_null(strstr(err, pid));
  kv_free(err);
  /* Nothing reached the store: the writer's value is still there. */
  t = kvt_begin(s);
  assert_string_equal(kvt_get(t, "k"), "v");
  kvt_commit(t);
  kv_store_close(s);
  writer_stop(&w);
  kvt_rmrf(dir);
  free(dir);
}

static void test_reader_becomes_writer_when_writer_exits(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  writer w = writer_start(dir);
  writer_put(&w, "k=child");
  kv_store *r = kvt_open_dir(dir, NULL);
  assert_int_equal(kv_store_is_reader(r), 1);
  kv_store *r2 = kvt_open_dir(dir, NULL); /* shares the reader */
  assert_ptr_equal(r, r2);
  kv_store_close(r2);
  writer_stop(&w);
  assert_int_equal(kv_store_writer_pid(r), 0);
  /* The writer is gone: the next open writes. */
  kv_store *s = kvt_open_dir(dir, NULL);
  assert_ptr_not_equal(s, r);
  assert_int_equal(kv_store_is_reader(s), 0);
  kvt_put1(s, "k", "parent");
  /* The reader's reference stays a reader, and catches up with the new
  ** writer in this process. */
  kv_txn *t = kvt_begin(r);
  assert_string_equal(kvt_get(t, "k"), "parent");
  char *err = NULL;
  assert_int_equal(kv_txn_put(t, "k", 1, "x", 1, &err), KV_READONLY);
  kv_free(err);
  kvt_commit(t);
  kv_store *s2 = kvt_open_dir(dir, NULL); /* later opens find the writer */
  assert_ptr_equal(s2, s);
  kv_store_close(s2);
  kv_store_close(r);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "--writer"))
    writer_main(argv[2], atoi(argv[3]), atoi(argv[4]));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reader_sees_commits_that_returned),
      cmocka_unit_test(test_reader_many_transactions_each_own_snapshot),
      cmocka_unit_test(test_reader_snapshot_is_a_prefix_of_commit_order),
      cmocka_unit_test(test_reader_synchronous_off_shows_after_flush),
      cmocka_unit_test(test_reader_refuses_writes),
      cmocka_unit_test(test_reader_becomes_writer_when_writer_exits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
