/*
** test_latch.c — the latch manager: write latches isolate overlapping
** commits (an earlier latch makes a later one wait; disjoint ones do not);
** an optimistic read waits for a write latch at or below its timestamp and
** not for one above it; range latches cover their keys; waiters wake on the
** release; many threads on overlapping sets never deadlock and never
** overlap.  A request that must wait is observed blocked (asleep in the
** kernel, not returned: kvt_wait_asleep), never given a fixed time to
** return or not.
**
** Wake-ups are events, not timers: a waiter that is provably asleep in the
** kernel (its /proc state) is released within 100 ms (median of several
** rounds; a 250 ms or 1 s polling timer fails every round), and while it
** sleeps it makes no voluntary context switch at all (a poll would).
*/
#include "kvtest.h"

#include "kvint.h"

static kv_latch_mgr mgr;

static int setup(void **state) {
  (void)state;
  return kv_latch_mgr_init(&mgr);
}

static int teardown(void **state) {
  (void)state;
  kv_latch_mgr_destroy(&mgr);
  return 0;
}

static kv_ts ts(uint64_t w) { return (kv_ts){w, 0}; }

typedef struct reader {
  kv_span sp;
  kv_ts at;
  _Atomic pid_t tid;   /* announced just before it waits */
  _Atomic int done;
  pthread_t th;
} reader;

static void *reader_main(void *arg) {
  reader *r = arg;
  atomic_store(&r->tid, kvt_gettid());
  kv_latch_wait_read(&mgr, &r->sp, r->at);
  atomic_store(&r->done, 1);
  return NULL;
}

static void reader_start(reader *r) { pthread_create(&r->th, NULL, reader_main, r); }

/* Waits up to 2 s for r to return from its read. */
static void expect_done(reader *r) {
  uint64_t deadline = kvt_now_ns() + 2000ULL * 1000000ULL;
  while (atomic_load(&r->done) != 1 && kvt_now_ns() < deadline) usleep(100);
  assert_int_equal(atomic_load(&r->done), 1);
}

/* Waits until r is observably blocked in its read (asleep in the kernel,
** not returned), failing if it returns instead. */
static void expect_blocked(reader *r) {
  kvt_wait_asleep(&r->tid, &r->done);
}

static void test_latch_read_waits_only_at_or_above(void **state) {
  (void)state;
  const char *k = "key";
  size_t kl = 3;
  kv_latch_guard g;
  assert_int_equal(kv_latch_acquire(&mgr, &g, &k, &kl, 1, ts(100)), KV_OK);
  /* A read below the latch's timestamp does not wait. */
  reader below = {.sp = {.start = "key", .slen = 3}, .at = ts(99)};
  reader_start(&below);
  expect_done(&below);
  pthread_join(below.th, NULL);
  /* Another key does not wait. */
  reader other = {.sp = {.start = "kez", .slen = 3}, .at = ts(500)};
  reader_start(&other);
  expect_done(&other);
  pthread_join(other.th, NULL);
  /* At or above: waits until the release, which wakes it. */
  reader at = {.sp = {.start = "key", .slen = 3}, .at = ts(100)};
  reader range = {.sp = {.start = "a", .slen = 1, .is_range = 1, .end_inf = 1},
                  .at = ts(200)};
  reader_start(&at);
  reader_start(&range);
  expect_blocked(&at);
  expect_blocked(&range);
  kv_latch_release(&mgr, &g);
  expect_done(&at);
  expect_done(&range);
  pthread_join(at.th, NULL);
  pthread_join(range.th, NULL);
}

static void test_latch_range_latch_covers_its_keys(void **state) {
  (void)state;
  enum { N = KV_LATCH_MAX_POINTS + 5 };
  char keys[N][8];
  const char *kp[N];
  size_t kl[N];
  for (int i = 0; i < N; i++) {
    snprintf(keys[i], sizeof keys[i], "m%03d", i * 2);
    kp[i] = keys[i];
    kl[i] = strlen(keys[i]);
  }
  kv_latch_guard g;
  assert_int_equal(kv_latch_acquire(&mgr, &g, kp, kl, N, ts(10)), KV_OK);
  /* A key between two written keys is inside the condensed range. */
  reader inside = {.sp = {.start = "m001", .slen = 4}, .at = ts(20)};
  reader outside = {.sp = {.start = "n", .slen = 1}, .at = ts(20)};
  reader_start(&inside);
  reader_start(&outside);
  expect_done(&outside);
  expect_blocked(&inside);
  kv_latch_release(&mgr, &g);
  expect_done(&inside);
  pthread_join(inside.th, NULL);
  pthread_join(outside.th, NULL);
}

typedef struct writer {
  const char *key;
  _Atomic pid_t tid;   /* announced just before it latches */
  _Atomic int done;
  pthread_t th;
  kv_latch_guard g;
} writer;

static void *writer_main(void *arg) {
  writer *w = arg;
  size_t kl = strlen(w->key);
  atomic_store(&w->tid, kvt_gettid());
  kv_latch_acquire(&mgr, &w->g, &w->key, &kl, 1, ts(5));
  atomic_store(&w->done, 1);
  return NULL;
}

static void test_latch_later_writer_waits_for_earlier(void **state) {
  (void)state;
  const char *k = "w";
  size_t kl = 1;
  kv_latch_guard g;
  kv_latch_acquire(&mgr, &g, &k, &kl, 1, ts(50));
  uint64_t waits0 = atomic_load(&mgr.waits);
  writer same = {.key = "w"}, other = {.key = "x"};
  pthread_create(&same.th, NULL, writer_main, &same);
  pthread_create(&other.th, NULL, writer_main, &other);
  pthread_join(other.th, NULL);
  assert_int_equal(atomic_load(&other.done), 1);
  assert_int_equal(atomic_load(&mgr.waits), waits0); /* other never waited */
  /* same is observably parked behind ours (asleep in the kernel, not
  ** done), not merely not yet started. */
  kvt_wait_asleep(&same.tid, &same.done);
  assert_int_equal(atomic_load(&same.done), 0); /* still behind ours */
  kv_latch_release(&mgr, &g);
  pthread_join(same.th, NULL);
  assert_int_equal(atomic_load(&same.done), 1);
  /* It waited in the latch manager, and only there. */
  assert_int_equal(atomic_load(&mgr.waits), waits0 + 1);
  kv_latch_release(&mgr, &same.g);
  kv_latch_release(&mgr, &other.g);
}

/* Many threads latch random overlapping sets (sorted, as commits do): each
** checks that nobody else holds any of its keys while it holds them. */
enum { NKEYS = 24, NTH = 8 };
static _Atomic int owner[NKEYS];
static char keyname[NKEYS][16]; /* room for any int: no truncation */

typedef struct hammer {
  int id;
  long iters;
  int bad;
} hammer;

static void *hammer_main(void *arg) {
  hammer *h = arg;
  unsigned seed = (unsigned)h->id * 7919u + 1;
  for (long it = 0; it < h->iters; it++) {
    int n = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 4;
    int pick[4], m = 0;
    for (int i = 0; i < NKEYS && m < n; i++) {
      seed = seed * 1103515245u + 12345u;
      if ((seed >> 16) % (unsigned)(NKEYS - i) < (unsigned)(n - m)) pick[m++] = i;
    }
    const char *kp[4];
    size_t kl[4];
    for (int i = 0; i < m; i++) {
      kp[i] = keyname[pick[i]];
      kl[i] = strlen(kp[i]);
    }
    kv_latch_guard g;
    kv_latch_acquire(&mgr, &g, kp, kl, (size_t)m, ts(1));
    for (int i = 0; i < m; i++) {
      int expect = 0;
      if (!atomic_compare_exchange_strong(&owner[pick[i]], &expect, h->id + 1))
        h->bad++;
    }
    for (int i = 0; i < m; i++) atomic_store(&owner[pick[i]], 0);
    kv_latch_release(&mgr, &g);
  }
  return NULL;
}

static void test_latch_threads_never_overlap_or_deadlock(void **state) {
  (void)state;
  for (int i = 0; i < NKEYS; i++)
    snprintf(keyname[i], sizeof keyname[i], "h%02d", i);
  hammer h[NTH];
  pthread_t th[NTH];
  for (int i = 0; i < NTH; i++) {
    h[i] = (hammer){i, kvt_scaled(20000), 0};
    pthread_create(&th[i], NULL, hammer_main, &h[i]);
  }
  for (int i = 0; i < NTH; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(h[i].bad, 0);
  }
}

/* ------------------------------------------ wake-ups are events -- */

/* A waiter that announces its thread id, then blocks (a read on a span, or
** a writer's latch), then records when it returned. */
typedef struct timed_waiter {
  int is_writer;
  kv_span sp;          /* reader */
  kv_ts at;
  const char *wkey;    /* writer */
  kv_latch_guard g;
  _Atomic pid_t tid;
  _Atomic uint64_t done_ns;
  pthread_t th;
} timed_waiter;

static void *timed_waiter_main(void *arg) {
  timed_waiter *w = arg;
  atomic_store(&w->tid, kvt_gettid());
  if (w->is_writer) {
    size_t kl = strlen(w->wkey);
    kv_latch_acquire(&mgr, &w->g, &w->wkey, &kl, 1, w->at);
  } else {
    kv_latch_wait_read(&mgr, &w->sp, w->at);
  }
  atomic_store(&w->done_ns, kvt_now_ns());
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* One round: latch `key` at ts 100, start w, wait until it sleeps in the
** kernel (and is counted as a latch waiter), check that it stays asleep
** without waking for 20 ms, release, and return the release-to-return
** latency in nanoseconds. */
static uint64_t wake_round(timed_waiter *w, const char *key) {
  size_t kl = strlen(key);
  kv_latch_guard g;
  assert_int_equal(kv_latch_acquire(&mgr, &g, &key, &kl, 1, ts(100)), KV_OK);
  uint64_t waits0 = atomic_load(&mgr.waits);
  assert_int_equal(pthread_create(&w->th, NULL, timed_waiter_main, w), 0);
  uint64_t deadline = kvt_now_ns() + 10ULL * 1000000000ULL;
  while (atomic_load(&w->tid) == 0) {
    assert_true(kvt_now_ns() < deadline);
    usleep(50);
  }
  pid_t tid = atomic_load(&w->tid);
  /* Nothing between announcing and the latch wait sleeps: once the thread
  ** is in state S it is parked on the latch's condition variable. */
  while (kvt_thread_state(tid) != 'S') {
    assert_true(kvt_now_ns() < deadline);
    assert_int_equal(atomic_load(&w->done_ns), 0); /* it must block */
    usleep(50);
  }
  /* Asleep on an event: no wake-ups at all while nothing happens (a
  ** polling loop of any period under 20 ms would switch here). */
  long v0 = kvt_thread_vcsw(tid);
  usleep(20000);
  long v1 = kvt_thread_vcsw(tid);
  assert_true(v0 >= 0);
  if (v1 != v0)
    print_error("waiter woke %ld times while blocked\n", v1 - v0);
  assert_int_equal(v1, v0);
  assert_int_equal(kvt_thread_state(tid), 'S');
  assert_int_equal(atomic_load(&w->done_ns), 0);
  uint64_t t0 = kvt_now_ns();
  kv_latch_release(&mgr, &g);
  pthread_join(w->th, NULL);
  uint64_t lat = atomic_load(&w->done_ns) - t0;
  /* It really waited in the latch manager (not a stray sleep elsewhere). */
  assert_int_equal(atomic_load(&mgr.waits), waits0 + 1);
  if (w->is_writer) kv_latch_release(&mgr, &w->g);
  return lat;
}

enum { WAKE_ROUNDS = 7 };
#define WAKE_MEDIAN_LIMIT_NS (100ULL * 1000000ULL)

static void check_wake_rounds(const char *what, uint64_t *lat) {
  qsort(lat, WAKE_ROUNDS, sizeof lat[0], cmp_u64);
  uint64_t med = lat[WAKE_ROUNDS / 2];
  print_message("%s: release-to-wake median %.3f ms, max %.3f ms\n", what,
                (double)med / 1e6, (double)lat[WAKE_ROUNDS - 1] / 1e6);
  assert_true(med < WAKE_MEDIAN_LIMIT_NS);
}

static void test_latch_read_wakes_on_release_event(void **state) {
  (void)state;
  uint64_t lat[WAKE_ROUNDS];
  for (int r = 0; r < WAKE_ROUNDS; r++) {
    timed_waiter w = {.sp = {.start = "wk", .slen = 2}, .at = ts(150)};
    lat[r] = wake_round(&w, "wk");
  }
  check_wake_rounds("point read", lat);
  /* A range read waits shard by shard: same bound. */
  for (int r = 0; r < WAKE_ROUNDS; r++) {
    timed_waiter w = {.sp = {.start = "w", .slen = 1, .is_range = 1,
                             .end = "x", .elen = 1},
                      .at = ts(150)};
    lat[r] = wake_round(&w, "wk");
  }
  check_wake_rounds("range read", lat);
}

static void test_latch_writer_wakes_on_release_event(void **state) {
  (void)state;
  uint64_t lat[WAKE_ROUNDS];
  for (int r = 0; r < WAKE_ROUNDS; r++) {
    timed_waiter w = {.is_writer = 1, .wkey = "wk", .at = ts(200)};
    lat[r] = wake_round(&w, "wk");
  }
  check_wake_rounds("writer", lat);
}

int main(void) {
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_latch_read_waits_only_at_or_above),
      T(test_latch_range_latch_covers_its_keys),
      T(test_latch_later_writer_waits_for_earlier),
      T(test_latch_threads_never_overlap_or_deadlock),
      T(test_latch_read_wakes_on_release_event),
      T(test_latch_writer_wakes_on_release_event),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
