/*
** test_prepare.c — two-phase commit (kv_txn_prepare): everything that can
** fail fails at prepare, a prepared transaction is invisible until it is
** committed, nobody can abort it, its keys' readers above its timestamp
** wait for it (and readers below do not), and an abort after prepare leaves
** nothing behind: no versions, no locks, no latches.
*/
#include "kvtest.h"

#include <stdatomic.h>

typedef struct fixture {
  char *dir;
  kv_store *s;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  f->dir = kvt_tempdir(0);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_NORMAL;
  o.lock_timeout_ms = 10000;
  f->s = kvt_open_dir(f->dir, &o);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  kv_stats st;
  kv_store_stats(f->s, &st);
  assert_int_equal(st.active_txns, 0);
  assert_int_equal(st.locks_held, 0);
  kv_store_close(f->s);
  kvt_rmrf(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

static void test_prepare_then_commit(void **state) {
  fixture *f = *state;
  kvt_put1(f->s, "k", "old");
  kv_txn *before = kvt_begin(f->s); /* reads below the commit */
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "k", "new");
  kvt_put(t, "j", "also");
  KVT_OK(kv_txn_prepare(t, errptr));
  KVT_OK(kv_txn_prepare(t, errptr)); /* twice: a no-op */
  /* Prepared: no more reads or writes on it. */
  KVT_RC(KV_INVALID, kv_txn_put(t, "x", 1, "y", 1, errptr));
  const void *v;
  size_t n;
  KVT_RC(KV_INVALID, kv_txn_get(t, "k", 1, 0, &v, &n, errptr));
  /* Its effects are invisible, and a reader below it does not wait. */
  assert_string_equal(kvt_get(before, "k"), "old");
  assert_null(kvt_get(before, "j"));
  kv_ts cts;
  KVT_OK(kv_txn_commit(t, &cts, errptr));
  assert_true(kv_ts_cmp(kv_txn_read_ts(before), cts) < 0);
  assert_string_equal(kvt_get(before, "k"), "old"); /* still its snapshot */
  kvt_commit(before);
  kv_txn *after = kvt_begin(f->s);
  assert_string_equal(kvt_get(after, "k"), "new");
  assert_string_equal(kvt_get(after, "j"), "also");
  kvt_commit(after);
}

static void test_prepare_then_abort_leaves_nothing(void **state) {
  fixture *f = *state;
  kvt_put1(f->s, "k", "old");
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "k", "never");
  KVT_OK(kv_txn_lock(t, "l", 1, errptr));
  KVT_OK(kv_txn_prepare(t, errptr));
  kv_txn_abort(t);
  /* Locks are free at once (no wait allowed) and latches are gone (a new
  ** reader above the aborted timestamp would hang on one). */
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.lock_timeout_ms = 0;
  kv_txn *w = NULL;
  KVT_OK(kv_txn_begin(f->s, &o, &w, errptr));
  assert_string_equal(kvt_get(w, "k"), "old");
  kvt_put(w, "k", "later");
  KVT_OK(kv_txn_lock(w, "l", 1, errptr));
  kvt_commit(w);
  kv_txn *r = kvt_begin(f->s);
  assert_string_equal(kvt_get(r, "k"), "later");
  kvt_commit(r);
}

/* What can fail fails at prepare: here the read refresh. */
static void test_prepare_fails_on_refresh(void **state) {
  fixture *f = *state;
  kvt_put1(f->s, "a", "1");
  kv_txn *t = kvt_begin(f->s);
  assert_string_equal(kvt_get(t, "a"), "1");
  kv_txn *u = kvt_begin(f->s);
  kvt_put(u, "a", "2");
  kvt_commit(u);
  kv_txn *r = kvt_begin(f->s); /* a read of "b" above t pushes t */
  assert_null(kvt_get(r, "b"));
  kvt_commit(r);
  kvt_put(t, "b", "x");
  KVT_RC(KV_RETRY, kv_txn_prepare(t, errptr));
  assert_int_equal(kv_txn_retry_reason(t), KV_RETRY_READ_REFRESH);
  KVT_RC(KV_RETRY, kv_txn_commit(t, NULL, errptr)); /* dead stays dead */
  kv_txn_abort(t);
  kv_txn *c = kvt_begin(f->s);
  assert_null(kvt_get(c, "b"));
  kvt_commit(c);
}

/* Unprepare: back to an ordinary transaction that may go on writing. */
static void test_unprepare_goes_on(void **state) {
  fixture *f = *state;
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "a", "1");
  KVT_OK(kv_txn_prepare(t, errptr));
  kv_txn_unprepare(t);
  kv_txn *r = kvt_begin(f->s); /* no latch is left to wait on */
  assert_null(kvt_get(r, "a"));
  kvt_commit(r);
  kvt_put(t, "b", "2");
  kvt_commit(t);
  kv_txn *c = kvt_begin(f->s);
  assert_string_equal(kvt_get(c, "a"), "1");
  assert_string_equal(kvt_get(c, "b"), "2");
  kvt_commit(c);
}

/* A read-only transaction, and one that only locked keys, prepare too. */
static void test_prepare_without_writes(void **state) {
  fixture *f = *state;
  kvt_put1(f->s, "k", "v");
  kv_txn *t = kvt_begin(f->s);
  assert_string_equal(kvt_get(t, "k"), "v");
  KVT_OK(kv_txn_lock(t, "k", 1, errptr));
  KVT_OK(kv_txn_prepare(t, errptr));
  /* Cannot be aborted by priority now: a high-priority writer queues. */
  kvt_commit(t);
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = true;
  kv_txn *ro = NULL;
  KVT_OK(kv_txn_begin(f->s, &o, &ro, errptr));
  assert_string_equal(kvt_get(ro, "k"), "v");
  KVT_OK(kv_txn_prepare(ro, errptr));
  kvt_commit(ro);
}

typedef struct bg {
  kv_store *s;
  const char *key;
  int priority;
  _Atomic int done;
  char value[4096];
  int rc;
} bg;

static void *bg_read(void *arg) {
  bg *b = arg;
  kv_txn *t = kvt_begin(b->s);
  const char *v = kvt_get(t, b->key);
  snprintf(b->value, sizeof b->value, "%s", v ? v : "(none)");
  kvt_commit(t);
  atomic_store(&b->done, 1);
  return NULL;
}

static void *bg_write(void *arg) {
  bg *b = arg;
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.priority = b->priority;
  kv_txn *t = NULL;
  char *err = NULL;
  b->rc = kv_txn_begin(b->s, &o, &t, &err);
  if (b->rc == KV_OK) b->rc = kv_txn_put(t, b->key, strlen(b->key), "bg", 2, &err);
  if (b->rc == KV_OK) b->rc = kv_txn_commit(t, NULL, &err);
  else kv_txn_abort(t);
  kv_free(err);
  atomic_store(&b->done, 1);
  return NULL;
}

/* Readers above a prepared transaction's timestamp wait for its outcome
** (the value they would see is being decided), then see it; a writer of
** higher priority cannot abort it and queues instead. */
static void test_prepared_blocks_later_readers_and_pushers(void **state) {
  fixture *f = *state;
  kvt_put1(f->s, "k", "old");
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "k", "new");
  KVT_OK(kv_txn_prepare(t, errptr));
  bg rd = {.s = f->s, .key = "k"};
  bg wr = {.s = f->s, .key = "k", .priority = KV_PRIORITY_HIGH};
  pthread_t th1, th2;
  pthread_create(&th1, NULL, bg_read, &rd);
  pthread_create(&th2, NULL, bg_write, &wr);
  /* Both are still waiting after a while (a fast wrong answer would have
  ** returned "old", or aborted t, by now). */
  uint64_t t0 = kvt_now_ns();
  while (kvt_now_ns() - t0 < 200ULL * 1000000ULL) {
    assert_int_equal(atomic_load(&rd.done), 0);
    assert_int_equal(atomic_load(&wr.done), 0);
    usleep(10000);
  }
  kvt_commit(t);
  pthread_join(th1, NULL);
  pthread_join(th2, NULL);
  assert_string_equal(rd.value, "new");
  assert_int_equal(wr.rc, KV_OK);
  kv_txn *c = kvt_begin(f->s);
  assert_string_equal(kvt_get(c, "k"), "bg");
  kvt_commit(c);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_prepare_then_commit),
      T(test_prepare_then_abort_leaves_nothing),
      T(test_prepare_fails_on_refresh),
      T(test_prepare_without_writes),
      T(test_unprepare_goes_on),
      T(test_prepared_blocks_later_readers_and_pushers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
