/*
** test_corrupt.c — a key of the data family that does not decode as
** key‖timestamp (written here behind kvcore's back) is KV_CORRUPT, with a
** message naming it, for every reader that meets it: a scan in either
** direction, the history iterator and GC.  It is never taken for the end of
** a scan.
*/
#include "kvtest.h"

#include "kvint.h"

/* A store holding a=1 and c=3, and between them the raw key "bz", two
** bytes, too short to carry a timestamp. */
static int setup(void **state) {
  kvt_setup(state);
  kvt_fixture *f = *state;
  kvt_put1(f->s, "a", "1");
  kvt_put1(f->s, "c", "3");
  rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
  char *err = NULL;
  static const char val[] = {KV_VALUE_TAG, 'x'};
  rocksdb_put_cf(f->s->eng.db, wo, f->s->eng.cf_data, "bz", 2, val,
                 sizeof val, &err);
  rocksdb_writeoptions_destroy(wo);
  assert_null(err);
  return 0;
}

static void assert_corrupt(int rc, char *err) {
  const char *msg = err ? err : "";
  assert_int_equal(rc, KV_CORRUPT);
  assert_non_null(strstr(msg, "corrupt version key 'bz'"));
  kv_free(err);
}

/* Scans [a, d) and returns the first result that is not a row. */
static int scan_rc(kv_store *s, int flags, int *rows, char **err) {
  kv_txn *t = kvt_begin(s);
  kv_iter *it = NULL;
  KVT_OK(kv_txn_scan(t, "a", 1, "d", 1, flags, 0, &it, errptr));
  int rc;
  *rows = 0;
  while ((rc = kv_iter_next(it, err)) == KV_OK) ++*rows;
  kv_iter_close(it);
  kv_txn_abort(t);
  return rc;
}

static void test_corrupt_key_fails_forward_scan(void **state) {
  kvt_fixture *f = *state;
  char *err = NULL;
  int rows;
  int rc = scan_rc(f->s, 0, &rows, &err);
  assert_corrupt(rc, err);
  assert_int_equal(rows, 1); /* a, then the bad key: not "end of scan" */
}

static void test_corrupt_key_fails_reverse_scan(void **state) {
  kvt_fixture *f = *state;
  char *err = NULL;
  int rows;
  int rc = scan_rc(f->s, KV_SCAN_REVERSE, &rows, &err);
  assert_corrupt(rc, err);
  assert_int_equal(rows, 1); /* c, then the bad key */
}

static void test_corrupt_key_fails_history(void **state) {
  kvt_fixture *f = *state;
  kv_history *h;
  KVT_OK(kv_store_history(f->s, "a", 1, "d", 1, &h, errptr));
  KVT_OK(kv_history_next(h, errptr)); /* a */
  char *err = NULL;
  int rc = kv_history_next(h, &err);
  assert_corrupt(rc, err);
  kv_history_close(h);
}

static void test_corrupt_key_fails_gc(void **state) {
  kvt_fixture *f = *state;
  char *err = NULL;
  int rc = kv_store_gc(f->s, NULL, &err);
  assert_corrupt(rc, err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, kvt_teardown)
      T(test_corrupt_key_fails_forward_scan),
      T(test_corrupt_key_fails_reverse_scan),
      T(test_corrupt_key_fails_history),
      T(test_corrupt_key_fails_gc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
