/*
** test_crash.c — durability and atomicity across a crash (scenario 12 of
** the kvcore issue).  A child process commits transactions from two threads
** and writes an acknowledgement to a pipe after each commit returns; the
** parent kills it with SIGKILL at a random moment, reopens the store and
** checks that every acknowledged transaction is fully present and that no
** transaction is partly present.  Several rounds on one store, with
** synchronous=full and =normal (both must survive a process crash).  A
** third thread commits large transactions, which go to the store as
** ingested files rather than through the WAL (kv_options.ingest_bytes):
** they too must be whole or absent, and never lost once acknowledged.
*/
#include "kvtest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#define KEYS_PER_TXN 3
#define KEYS_PER_BIG_TXN 300 /* past the child's ingest_bytes */
#define NTHREADS 3           /* the last one commits the large ones */

static int keys_per_txn(int id) {
  return id == NTHREADS - 1 ? KEYS_PER_BIG_TXN : KEYS_PER_TXN;
}

typedef struct child_thread {
  kv_store *s;
  int id, fd;
  long start;
} child_thread;

static void *child_main(void *arg) {
  child_thread *c = arg;
  for (long i = c->start;; i++) {
    char key[64], val[64];
    snprintf(val, sizeof val, "%ld", i);
    kv_txn *t = NULL;
    if (kv_txn_begin(c->s, NULL, &t, NULL)) _exit(10);
    for (int k = 0; k < keys_per_txn(c->id); k++) {
      snprintf(key, sizeof key, "c/%d/%08ld/%03d", c->id, i, k);
      if (kv_txn_put(t, key, strlen(key), val, strlen(val), NULL)) _exit(11);
    }
    snprintf(key, sizeof key, "c/%d/last", c->id);
    if (kv_txn_put(t, key, strlen(key), val, strlen(val), NULL)) _exit(12);
    if (kv_txn_commit(t, NULL, NULL)) _exit(13);
    char ack[32];
    int n = snprintf(ack, sizeof ack, "%d %ld\n", c->id, i);
    if (write(c->fd, ack, (size_t)n) != n) _exit(14);
  }
  return NULL;
}

static void run_child(const char *dir, int sync, int fd,
                      const long start[NTHREADS]) {
  kv_options o;
  kv_options_init(&o);
  o.synchronous = sync;
  o.ingest_bytes = 4096;
  kv_store *s = NULL;
  if (kv_store_open(dir, &o, &s, NULL)) _exit(9);
  child_thread c[NTHREADS];
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    c[i] = (child_thread){s, i, fd, start[i]};
    pthread_create(&th[i], NULL, child_main, &c[i]);
  }
  for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
  _exit(0);
}

/* Reads acknowledgements until the deadline (or EOF); records the highest
** acknowledged number per thread. */
static void read_acks(int fd, uint64_t deadline, long max_ack[NTHREADS],
                      char *buf,
                      size_t *blen) {
  for (;;) {
    int wait_ms = 0;
    if (deadline) {
      uint64_t now = kvt_now_ns();
      if (now >= deadline) return;
      wait_ms = (int)((deadline - now) / 1000000ULL) + 1;
    }
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, deadline ? wait_ms : 1000) <= 0) return;
    ssize_t n = read(fd, buf + *blen, 4095 - *blen);
    if (n <= 0) return;
    *blen += (size_t)n;
    buf[*blen] = 0;
    char *line = buf, *nl;
    while ((nl = strchr(line, '\n'))) {
      int id;
      long i;
      if (sscanf(line, "%d %ld", &id, &i) == 2 && id >= 0 && id < NTHREADS &&
          i > max_ack[id])
        max_ack[id] = i;
      line = nl + 1;
    }
    *blen -= (size_t)(line - buf);
    memmove(buf, line, *blen);
  }
}

/* Checks the store after a crash; returns the highest committed number per
** thread through max_seen. */
static void verify(const char *dir, const long max_ack[NTHREADS],
                   long max_seen[NTHREADS]) {
  kv_store *s = kvt_open_dir(dir, NULL);
  kv_txn *t = kvt_begin(s);
  for (int id = 0; id < NTHREADS; id++) {
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "c/%d/0", id);
    snprintf(hi, sizeof hi, "c/%d/9", id);
    kv_iter *it;
    KVT_OK(kv_txn_scan(t, lo, strlen(lo), hi, strlen(hi), 0, 0, &it, errptr));
    long cur = -1, count = 0, expect_next = 0;
    max_seen[id] = -1;
    while (kv_iter_next(it, NULL) == KV_OK) {
      size_t kl;
      const char *k = kv_iter_key(it, &kl);
      char kbuf[64];
      memcpy(kbuf, k, kl < 63 ? kl : 63);
      kbuf[kl < 63 ? kl : 63] = 0;
      long i = atol(kbuf + 4);
      if (i != cur) {
        /* The previous transaction must be whole. */
        if (cur >= 0) assert_int_equal(count, keys_per_txn(id));
        /* Commits of one thread are sequential: no gaps. */
        assert_int_equal(i, expect_next);
        expect_next = i + 1;
        cur = i;
        count = 0;
      }
      count++;
    }
    if (cur >= 0) assert_int_equal(count, keys_per_txn(id));
    kv_iter_close(it);
    max_seen[id] = cur;
    /* Every acknowledged transaction is there. */
    assert_true(max_seen[id] >= max_ack[id]);
    char lk[32];
    snprintf(lk, sizeof lk, "c/%d/last", id);
    const char *last = kvt_get(t, lk);
    if (cur >= 0) {
      assert_non_null(last);
      assert_int_equal(atol(last), cur);
    }
  }
  kvt_commit(t);
  kv_store_close(s);
}

static void crash_rounds(int sync, int rounds) {
  char *dir = kvt_tempdir(0);
  unsigned seed = 12345u + (unsigned)sync;
  long next_start[NTHREADS] = {0};
  long total_acked = 0, big_acked = 0;
  for (int r = 0; r < rounds; r++) {
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
      close(pfd[0]);
      run_child(dir, sync, pfd[1], next_start);
    }
    close(pfd[1]);
    long max_ack[NTHREADS];
    for (int id = 0; id < NTHREADS; id++) max_ack[id] = next_start[id] - 1;
    char buf[4096];
    size_t blen = 0;
    seed = seed * 1103515245u + 12345u;
    uint64_t run_ms = 30 + (seed >> 8) % 300;
    read_acks(pfd[0], kvt_now_ns() + run_ms * 1000000ULL, max_ack, buf, &blen);
    /* Each thread commits at least once per round (the large transactions
    ** are slow under the sanitizers), unless 10 s go by. */
    uint64_t cap = kvt_now_ns() + 10000000000ULL;
    for (int id = 0; id < NTHREADS; id++)
      while (max_ack[id] < next_start[id] && kvt_now_ns() < cap)
        read_acks(pfd[0], kvt_now_ns() + 20000000ULL, max_ack, buf, &blen);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status)); /* it was running, not failing */
    read_acks(pfd[0], 0, max_ack, buf, &blen); /* acks already in the pipe */
    close(pfd[0]);
    long max_seen[NTHREADS];
    verify(dir, max_ack, max_seen);
    for (int id = 0; id < NTHREADS; id++) {
      total_acked += max_ack[id] - next_start[id] + 1;
      if (id == NTHREADS - 1) big_acked += max_ack[id] - next_start[id] + 1;
      next_start[id] = max_seen[id] + 1;
    }
  }
  print_message("    %d crash rounds (synchronous=%s): %ld acknowledged "
                "transactions verified, %ld of them ingested\n",
                rounds, sync == KV_SYNC_FULL ? "full" : "normal", total_acked,
                big_acked);
  assert_true(total_acked > 0);
  assert_true(big_acked > 0);
  kvt_rmrf(dir);
  free(dir);
}

static void test_crash_sigkill_full(void **state) {
  (void)state;
  crash_rounds(KV_SYNC_FULL, (int)kvt_scaled(6));
}

static void test_crash_sigkill_normal(void **state) {
  (void)state;
  crash_rounds(KV_SYNC_NORMAL, (int)kvt_scaled(6));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crash_sigkill_full),
      cmocka_unit_test(test_crash_sigkill_normal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
