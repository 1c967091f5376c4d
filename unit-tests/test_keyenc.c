/*
** test_keyenc.c — versioned keys (kvcore/keyenc.c): encode/decode, and the
** order RocksDB keeps with kvcore's comparator: user keys bytewise (shorter
** prefix first), then versions newest first.
*/
#include "kvtest.h"

#include "kvint.h"

static void test_keyenc_round_trip(void **state) {
  (void)state;
  char buf[64];
  kv_ts ts = {0x0102030405060708ULL, 0x0a0b0c0dU};
  kv_mvcc_key_encode(buf, "ab\0c", 4, ts);
  const char *k;
  size_t kl;
  kv_ts back;
  assert_true(kv_mvcc_key_decode(buf, 4 + KV_TS_LEN, &k, &kl, &back));
  assert_int_equal(kl, 4);
  assert_memory_equal(k, "ab\0c", 4);
  assert_int_equal(kv_ts_cmp(back, ts), 0);
  assert_false(kv_mvcc_key_decode(buf, KV_TS_LEN - 1, &k, &kl, &back));
  assert_int_equal((unsigned char)buf[4], 0x01); /* big-endian wall */
}

static void test_keyenc_next_timestamp(void **state) {
  (void)state;
  kv_ts a = kv_ts_next((kv_ts){5, 7});
  assert_true(a.wall == 5 && a.logical == 8);
  kv_ts b = kv_ts_next((kv_ts){5, UINT32_MAX});
  assert_true(b.wall == 6 && b.logical == 0);
  assert_true(kv_ts_lt((kv_ts){5, UINT32_MAX}, b));
}

/* Through a real RocksDB with the comparator: iteration order. */
static void test_keyenc_rocksdb_order(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  rocksdb_options_t *o = rocksdb_options_create();
  rocksdb_comparator_t *cmp = kv_mvcc_comparator_create();
  rocksdb_options_set_create_if_missing(o, 1);
  rocksdb_options_set_comparator(o, cmp);
  char *err = NULL;
  rocksdb_t *db = rocksdb_open(o, dir, &err);
  assert_null(err);
  rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
  const char *users[] = {"", "a", "a\0", "ab", "b", "\xff", "\xff\xff"};
  size_t ulen[] = {0, 1, 2, 2, 1, 1, 2};
  kv_ts tss[] = {{1, 0}, {2, 0}, {2, 1}, {UINT64_MAX - 1, 0}};
  for (int u = 6; u >= 0; u--)
    for (int t = 0; t < 4; t++) {
      char k[32];
      kv_mvcc_key_encode(k, users[u], ulen[u], tss[t]);
      rocksdb_put(db, wo, k, ulen[u] + KV_TS_LEN, "v", 1, &err);
      assert_null(err);
    }
  rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
  rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
  int u = 0, t = 3;
  for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
    size_t n;
    const char *ek = rocksdb_iter_key(it, &n);
    const char *k;
    size_t kl;
    kv_ts ts;
    assert_true(kv_mvcc_key_decode(ek, n, &k, &kl, &ts));
    assert_int_equal(kl, ulen[u]);
    assert_memory_equal(k, users[u], kl);
    assert_int_equal(kv_ts_cmp(ts, tss[t]), 0); /* newest first */
    if (--t < 0) {
      t = 3;
      u++;
    }
  }
  assert_int_equal(u, 7);
  /* A seek to (key, T) lands on the newest version at or below T. */
  char sk[32];
  kv_mvcc_key_encode(sk, "a", 1, (kv_ts){2, 0});
  rocksdb_iter_seek(it, sk, 1 + KV_TS_LEN);
  size_t n;
  const char *ek = rocksdb_iter_key(it, &n);
  kv_ts got = kv_ts_decode(ek + n - KV_TS_LEN);
  assert_true(got.wall == 2 && got.logical == 0);
  rocksdb_iter_destroy(it);
  rocksdb_readoptions_destroy(ro);
  rocksdb_writeoptions_destroy(wo);
  rocksdb_close(db);
  rocksdb_options_destroy(o);
  rocksdb_comparator_destroy(cmp);
  kvt_rmrf(dir);
  free(dir);
}

static void test_keyenc_buffers(void **state) {
  (void)state;
  kv_buf b;
  kv_buf_init(&b);
  assert_true(kv_buf_set(&b, "abc", 3));
  assert_true(kv_buf_set_mvcc_key(&b, "xy", 2, (kv_ts){9, 9}));
  assert_int_equal(b.n, 2 + KV_TS_LEN);
  assert_true(kv_buf_reserve(&b, 1u << 20));
  assert_true(b.cap >= 1u << 20);
  kv_buf_free(&b);
  assert_null(b.p);
}

static void test_keyenc_arena(void **state) {
  (void)state;
  kv_arena a;
  kv_arena_init(&a);
  for (int i = 1; i < 5000; i++) {
    char *p = kv_arena_alloc(&a, (size_t)(i % 97));
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 8, 0);
    memset(p, 0xab, (size_t)(i % 97));
  }
  char *big = kv_arena_alloc(&a, 10u << 20); /* a dedicated block */
  memset(big, 1, 10u << 20);
  char *after = kv_arena_dup(&a, "tail", 4);
  assert_memory_equal(after, "tail", 4);
  assert_true(a.bytes >= (10u << 20));
  kv_arena_free(&a);
  assert_int_equal(a.bytes, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keyenc_round_trip),
      cmocka_unit_test(test_keyenc_next_timestamp),
      cmocka_unit_test(test_keyenc_rocksdb_order),
      cmocka_unit_test(test_keyenc_buffers),
      cmocka_unit_test(test_keyenc_arena),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
