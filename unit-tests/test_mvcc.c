/*
** test_mvcc.c — versioned reads (scenario 1 of the kvcore issue, and the
** seed project's read-path bugs B2 and B3): a read at T sees the newest
** version at or below T; deletions hide; an absent key never returns a
** neighbour's value; a lock or uncommitted write above a reader's snapshot
** never hides the older committed version; committed data survives a reopen
** and nothing of an uncommitted or failed transaction does.
*/
#include "kvtest.h"

typedef struct fixture {
  char *dir;
  kv_store *s;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  f->dir = kvt_tempdir(0);
  f->s = kvt_open_dir(f->dir, NULL);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  if (f->s) kv_store_close(f->s);
  kvt_rmrf(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

static kv_ts put_commit(kv_store *s, const char *k, const char *v) {
  kv_txn *t = kvt_begin(s);
  if (v)
    kvt_put(t, k, v);
  else
    KVT_OK(kv_txn_delete(t, k, strlen(k), errptr));
  kv_ts c;
  KVT_OK(kv_txn_commit(t, &c, errptr));
  return c;
}

/* Reads k in a read-only transaction at `at`. */
static const char *get_at(kv_store *s, const char *k, kv_ts at) {
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = 1;
  o.read_ts = at;
  kv_txn *t = NULL;
  KVT_OK(kv_txn_begin(s, &o, &t, errptr));
  const char *v = kvt_get(t, k);
  kvt_commit(t);
  return v;
}

static kv_ts ts_prev(kv_ts t) {
  if (t.logical) return (kv_ts){t.wall, t.logical - 1};
  return (kv_ts){t.wall - 1, UINT32_MAX};
}

static void test_mvcc_read_sees_newest_at_or_below(void **state) {
  fixture *f = *state;
  kv_ts c1 = put_commit(f->s, "k", "v1");
  kv_ts c2 = put_commit(f->s, "k", "v2");
  kv_ts c3 = put_commit(f->s, "k", NULL);
  kv_ts c4 = put_commit(f->s, "k", "v4");
  assert_true(kv_ts_cmp(c1, c2) < 0 && kv_ts_cmp(c2, c3) < 0 &&
              kv_ts_cmp(c3, c4) < 0);
  assert_null(get_at(f->s, "k", ts_prev(c1)));
  assert_string_equal(get_at(f->s, "k", c1), "v1");
  assert_string_equal(get_at(f->s, "k", ts_prev(c2)), "v1");
  assert_string_equal(get_at(f->s, "k", c2), "v2");
  assert_string_equal(get_at(f->s, "k", ts_prev(c3)), "v2");
  assert_null(get_at(f->s, "k", c3)); /* the deletion hides v2 */
  assert_null(get_at(f->s, "k", ts_prev(c4)));
  assert_string_equal(get_at(f->s, "k", c4), "v4");
  kv_txn *t = kvt_begin(f->s);
  assert_string_equal(kvt_get(t, "k"), "v4");
  kvt_commit(t);
}

static void test_mvcc_history_lists_every_version(void **state) {
  fixture *f = *state;
  kv_ts c1 = put_commit(f->s, "h", "a");
  kv_ts c2 = put_commit(f->s, "h", NULL);
  kv_ts c3 = put_commit(f->s, "h", "c");
  put_commit(f->s, "i", "other");
  kv_history *h;
  KVT_OK(kv_store_history(f->s, "h", 1, "i", 1, &h, errptr));
  kv_ts want[3] = {c3, c2, c1};
  const char *vals[3] = {"c", NULL, "a"};
  for (int i = 0; i < 3; i++) {
    KVT_OK(kv_history_next(h, errptr));
    size_t kl, vl;
    const char *k = kv_history_key(h, &kl);
    assert_int_equal(kl, 1);
    assert_memory_equal(k, "h", 1);
    assert_int_equal(kv_ts_cmp(kv_history_ts(h), want[i]), 0);
    const char *v = kv_history_value(h, &vl);
    if (!vals[i]) {
      assert_true(kv_history_is_delete(h));
    } else {
      assert_false(kv_history_is_delete(h));
      assert_int_equal(vl, strlen(vals[i]));
      assert_memory_equal(v, vals[i], vl);
    }
  }
  KVT_RC(KV_NOTFOUND, kv_history_next(h, errptr));
  kv_history_close(h);
}

/* Seed bug B2: a get of an absent key returned a neighbour's value. */
static void test_mvcc_absent_key_is_not_a_neighbour(void **state) {
  fixture *f = *state;
  put_commit(f->s, "b", "B");
  put_commit(f->s, "d", "D");
  put_commit(f->s, "d\x01", "D1");
  kv_txn *t = kvt_begin(f->s);
  const char *absent[] = {"", "a", "a\xff", "b\x00", "bb", "c", "d\x00", "dd",
                          "e", "\xff\xff"};
  for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
    size_t n = i == 3 || i == 6 ? 2 : strlen(absent[i]);
    const void *v;
    size_t vl;
    KVT_RC(KV_NOTFOUND, kv_txn_get(t, absent[i], n, 0, &v, &vl, errptr));
  }
  assert_string_equal(kvt_get(t, "b"), "B");
  assert_string_equal(kvt_get(t, "d"), "D");
  kvt_commit(t);
}

/* Seed bug B3: a lock (uncommitted write) above the reader's timestamp hid
** the older committed version. */
static void test_mvcc_lock_above_reader_does_not_hide_committed(void **state) {
  fixture *f = *state;
  put_commit(f->s, "k", "old");
  put_commit(f->s, "j", "old-j");
  kv_txn *reader = kvt_begin(f->s);
  kv_txn *writer = kvt_begin(f->s); /* begins after: above the reader */
  kvt_put(writer, "k", "new");
  KVT_OK(kv_txn_delete(writer, "j", 1, errptr));
  assert_string_equal(kvt_get(reader, "k"), "old");
  assert_string_equal(kvt_get(reader, "j"), "old-j");
  kv_iter *it;
  KVT_OK(kv_txn_scan(reader, "", 0, NULL, 0, 0, 0, &it, errptr));
  int n = 0;
  while (kv_iter_next(it, NULL) == KV_OK) n++;
  kv_iter_close(it);
  assert_int_equal(n, 2);
  kvt_commit(writer);
  /* The reader's snapshot is unchanged after the writer commits. */
  assert_string_equal(kvt_get(reader, "k"), "old");
  assert_string_equal(kvt_get(reader, "j"), "old-j");
  kvt_commit(reader);
}

static void test_mvcc_reads_own_writes(void **state) {
  fixture *f = *state;
  put_commit(f->s, "a", "1");
  put_commit(f->s, "c", "3");
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "b", "2");
  KVT_OK(kv_txn_delete(t, "c", 1, errptr));
  kvt_put(t, "a", "1'");
  assert_string_equal(kvt_get(t, "a"), "1'");
  assert_string_equal(kvt_get(t, "b"), "2");
  assert_null(kvt_get(t, "c"));
  kv_iter *it;
  KVT_OK(kv_txn_scan(t, "", 0, NULL, 0, 0, 0, &it, errptr));
  const char *want[][2] = {{"a", "1'"}, {"b", "2"}};
  for (int i = 0; i < 2; i++) {
    KVT_OK(kv_iter_next(it, errptr));
    size_t kl, vl;
    const char *k = kv_iter_key(it, &kl);
    const char *v = kv_iter_value(it, &vl);
    assert_int_equal(kl, 1);
    assert_memory_equal(k, want[i][0], 1);
    assert_int_equal(vl, strlen(want[i][1]));
    assert_memory_equal(v, want[i][1], vl);
  }
  KVT_RC(KV_NOTFOUND, kv_iter_next(it, errptr));
  kv_iter_close(it);
  kvt_commit(t);
}

static void test_mvcc_empty_value_is_not_a_deletion(void **state) {
  fixture *f = *state;
  kv_txn *t = kvt_begin(f->s);
  KVT_OK(kv_txn_put(t, "e", 1, "", 0, errptr));
  kvt_commit(t);
  t = kvt_begin(f->s);
  const void *v;
  size_t n = 99;
  KVT_OK(kv_txn_get(t, "e", 1, 0, &v, &n, errptr));
  assert_int_equal(n, 0);
  kvt_commit(t);
}

static void test_mvcc_reopen_keeps_committed_only(void **state) {
  fixture *f = *state;
  put_commit(f->s, "keep", "yes");
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "keep", "no");
  kvt_put(t, "ghost", "no");
  kv_txn_abort(t);
  /* A transaction whose commit failed leaves nothing either. */
  kv_txn *t1 = kvt_begin(f->s);
  assert_string_equal(kvt_get(t1, "keep"), "yes");
  kv_txn *t2 = kvt_begin(f->s);
  kvt_put(t2, "keep", "t2");
  kvt_commit(t2);
  kv_txn *t3 = kvt_begin(f->s);
  assert_null(kvt_get(t3, "ghost2")); /* pushes t1's write above t2 */
  kvt_commit(t3);
  kvt_put(t1, "ghost2", "no");
  KVT_RC(KV_RETRY, kv_txn_commit(t1, NULL, errptr));
  assert_int_equal(kv_txn_retry_reason(t1), KV_RETRY_READ_REFRESH);
  kv_txn_abort(t1);
  /* And one that wrote a key it had read after someone else did. */
  kv_txn *t4 = kvt_begin(f->s);
  assert_string_equal(kvt_get(t4, "keep"), "t2");
  kvt_put1(f->s, "keep", "t5");
  kvt_put(t4, "ghost3", "no");
  kvt_put(t4, "keep", "t4");
  KVT_RC(KV_RETRY, kv_txn_commit(t4, NULL, errptr));
  assert_int_equal(kv_txn_retry_reason(t4), KV_RETRY_WRITE_CONFLICT);
  kv_txn_abort(t4);
  kv_store_close(f->s);
  f->s = kvt_open_dir(f->dir, NULL);
  t = kvt_begin(f->s);
  assert_string_equal(kvt_get(t, "keep"), "t5");
  assert_null(kvt_get(t, "ghost"));
  assert_null(kvt_get(t, "ghost2"));
  assert_null(kvt_get(t, "ghost3"));
  kvt_commit(t);
}

static void test_mvcc_binary_keys_and_values(void **state) {
  fixture *f = *state;
  unsigned char k[300], v[1000];
  for (int i = 0; i < 300; i++) k[i] = (unsigned char)(i * 7);
  for (int i = 0; i < 1000; i++) v[i] = (unsigned char)(255 - i);
  kv_txn *t = kvt_begin(f->s);
  KVT_OK(kv_txn_put(t, k, sizeof k, v, sizeof v, errptr));
  KVT_OK(kv_txn_put(t, k, 1, v, 1, errptr)); /* a prefix of the other key */
  kvt_commit(t);
  t = kvt_begin(f->s);
  const void *got;
  size_t n;
  KVT_OK(kv_txn_get(t, k, sizeof k, 0, &got, &n, errptr));
  assert_int_equal(n, sizeof v);
  assert_memory_equal(got, v, n);
  KVT_OK(kv_txn_get(t, k, 1, 0, &got, &n, errptr));
  assert_int_equal(n, 1);
  KVT_RC(KV_NOTFOUND, kv_txn_get(t, k, 2, 0, &got, &n, errptr));
  kvt_commit(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_mvcc_read_sees_newest_at_or_below,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_mvcc_history_lists_every_version,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_mvcc_absent_key_is_not_a_neighbour,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_mvcc_lock_above_reader_does_not_hide_committed, setup,
          teardown),
      cmocka_unit_test_setup_teardown(test_mvcc_reads_own_writes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_mvcc_empty_value_is_not_a_deletion,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_mvcc_reopen_keeps_committed_only,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_mvcc_binary_keys_and_values, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
