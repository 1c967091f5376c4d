/*
** test_keyenc.c — versioned keys in storage format 2 (kvcore/keyenc.c):
** encode/decode with escapes, malformed keys refused, and the order that
** RocksDB's bytewise comparator gives them: user keys bytewise (shorter
** prefix first), then versions newest first, with the seek bounds enc(k)
** and past(enc(k)) in their places, checked on random keys and in a real
** RocksDB.
*/
#include "kvtest.h"

#include "kvint.h"

/* Encodes (key, ts) into buf; returns its length. */
static size_t vkey(char *buf, const void *key, size_t klen, kv_ts ts) {
  size_t n = kv_ukey_encode(buf, key, klen);
  kv_ts_encode(buf + n, ts);
  return n + KV_TS_LEN;
}

static void test_keyenc_round_trip(void **state) {
  (void)state;
  char buf[64];
  kv_ts ts = {0x0102030405060708ULL, 0x0a0b0c0dU};
  size_t n = vkey(buf, "ab\0c\0", 5, ts);
  assert_int_equal(n, 5 + 2 + KV_UKEY_TERM_LEN + KV_TS_LEN); /* two escapes */
  size_t ulen;
  kv_ts back;
  assert_true(kv_vkey_split(buf, n, &ulen, &back));
  assert_int_equal(ulen, n - KV_TS_LEN);
  assert_int_equal(kv_ts_cmp(back, ts), 0);
  kv_buf k;
  kv_buf_init(&k);
  assert_int_equal(kv_ukey_decode(&k, buf, ulen), KV_OK);
  assert_int_equal(k.n, 5);
  assert_memory_equal(k.p, "ab\0c\0", 5);
  /* The empty key, and a key of zeros only. */
  n = vkey(buf, "", 0, ts);
  assert_int_equal(n, KV_UKEY_TERM_LEN + KV_TS_LEN);
  assert_true(kv_vkey_split(buf, n, &ulen, &back));
  assert_int_equal(kv_ukey_decode(&k, buf, ulen), KV_OK);
  assert_int_equal(k.n, 0);
  n = vkey(buf, "\0\0\0", 3, ts);
  assert_true(kv_vkey_split(buf, n, &ulen, &back));
  assert_int_equal(kv_ukey_decode(&k, buf, ulen), KV_OK);
  assert_int_equal(k.n, 3);
  assert_memory_equal(k.p, "\0\0\0", 3);
  /* Not versions: too short, no terminator before the timestamp, a bad
  ** escape inside the key. */
  assert_false(kv_vkey_split(buf, KV_TS_LEN + 1, &ulen, &back));
  memset(buf, 'x', 20);
  assert_false(kv_vkey_split(buf, 20, &ulen, &back));
  assert_int_equal(kv_ukey_decode(&k, "a\0\x07" "b\0\x01", 6), KV_CORRUPT);
  assert_int_equal(kv_ukey_decode(&k, "ab", 2), KV_CORRUPT);
  /* The timestamp is stored inverted: newer sorts first. */
  vkey(buf, "a", 1, ts);
  assert_int_equal((unsigned char)buf[3], 0xFE); /* ~0x01, wall's top byte */
  kv_buf_free(&k);
}

static void test_keyenc_next_timestamp(void **state) {
  (void)state;
  kv_ts a = kv_ts_next((kv_ts){5, 7});
  assert_true(a.wall == 5 && a.logical == 8);
  kv_ts b = kv_ts_next((kv_ts){5, UINT32_MAX});
  assert_true(b.wall == 6 && b.logical == 0);
  assert_true(kv_ts_lt((kv_ts){5, UINT32_MAX}, b));
}

/* The order the format promises, on random keys rich in 0x00, 0x01 and
** 0xFF bytes: memcmp of engine keys is (user key ascending, shorter prefix
** first; then timestamp descending); enc(k) sits before every version of k
** and after every version of a smaller key; past(enc(k)) after every
** version of k and before every version of a larger key. */
static int sign(int c) { return (c > 0) - (c < 0); }

static void test_keyenc_order_property(void **state) {
  (void)state;
  static const unsigned char alphabet[] = {0x00, 0x01, 0x02, 0xFE, 0xFF, 'a'};
  unsigned seed = 12345;
  for (int round = 0; round < 20000; round++) {
    unsigned char a[6], b[6];
    size_t al = (size_t)(rand_r(&seed) % 6), bl = (size_t)(rand_r(&seed) % 6);
    for (size_t i = 0; i < al; i++) a[i] = alphabet[rand_r(&seed) % 6];
    for (size_t i = 0; i < bl; i++) b[i] = alphabet[rand_r(&seed) % 6];
    if (rand_r(&seed) % 4 == 0) { /* often one a prefix of the other */
      bl = al;
      memcpy(b, a, al);
      if (rand_r(&seed) % 2 && bl < 6) b[bl++] = alphabet[rand_r(&seed) % 6];
    }
    kv_ts ta = {(uint64_t)(rand_r(&seed) % 3), (uint32_t)(rand_r(&seed) % 3)};
    kv_ts tb = {(uint64_t)(rand_r(&seed) % 3), (uint32_t)(rand_r(&seed) % 3)};
    char ea[40], eb[40];
    size_t ean = vkey(ea, a, al, ta), ebn = vkey(eb, b, bl, tb);
    int want = kv_bytes_cmp((const char *)a, al, (const char *)b, bl);
    if (want == 0) want = -kv_ts_cmp(ta, tb);
    assert_int_equal(sign(kv_bytes_cmp(ea, ean, eb, ebn)), sign(want));
    /* Bounds of b against a's versions. */
    char ub[40];
    size_t ubn = kv_ukey_encode(ub, b, bl);
    int kc = sign(kv_bytes_cmp((const char *)a, al, (const char *)b, bl));
    int lo = sign(kv_bytes_cmp(ea, ean, ub, ubn)); /* a's version vs enc(b) */
    assert_int_equal(lo, kc < 0 ? -1 : 1);
    kv_ukey_past(ub, ubn);
    int hi = sign(kv_bytes_cmp(ea, ean, ub, ubn)); /* vs past(enc(b)) */
    assert_int_equal(hi, kc > 0 ? 1 : -1);
  }
}

/* Through a real RocksDB with its default (bytewise) comparator: iteration
** order, and seeks to (key, T) and to enc(key). */
static void test_keyenc_rocksdb_order(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  rocksdb_options_t *o = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(o, 1);
  char *err = NULL;
  rocksdb_t *db = rocksdb_open(o, dir, &err);
  assert_null(err);
  rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
  const char *users[] = {"", "\0", "\0\0", "\0\x01", "a", "a\0", "ab", "b",
                         "\xff", "\xff\xff"};
  size_t ulen[] = {0, 1, 2, 2, 1, 2, 2, 1, 1, 2};
  enum { NU = 10 };
  kv_ts tss[] = {{1, 0}, {2, 0}, {2, 1}, {UINT64_MAX - 1, 0}};
  for (int u = NU - 1; u >= 0; u--)
    for (int t = 0; t < 4; t++) {
      char k[40];
      size_t n = vkey(k, users[u], ulen[u], tss[t]);
      rocksdb_put(db, wo, k, n, "v", 1, &err);
      assert_null(err);
    }
  rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
  rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
  kv_buf k;
  kv_buf_init(&k);
  int u = 0, t = 3;
  for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
    size_t n, ul;
    const char *ek = rocksdb_iter_key(it, &n);
    kv_ts ts;
    assert_true(kv_vkey_split(ek, n, &ul, &ts));
    assert_int_equal(kv_ukey_decode(&k, ek, ul), KV_OK);
    assert_int_equal(k.n, ulen[u]);
    assert_memory_equal(k.p, users[u], k.n);
    assert_int_equal(kv_ts_cmp(ts, tss[t]), 0); /* newest first */
    if (--t < 0) {
      t = 3;
      u++;
    }
  }
  assert_int_equal(u, NU);
  /* A seek to (key, T) lands on the newest version at or below T. */
  char sk[40];
  size_t sn = vkey(sk, "a", 1, (kv_ts){2, 0});
  rocksdb_iter_seek(it, sk, sn);
  size_t n, ul;
  kv_ts got;
  const char *ek = rocksdb_iter_key(it, &n);
  assert_true(kv_vkey_split(ek, n, &ul, &got));
  assert_true(got.wall == 2 && got.logical == 0);
  /* A seek to enc("a\0") lands on its newest version, past "a"'s. */
  sn = kv_ukey_encode(sk, "a\0", 2);
  rocksdb_iter_seek(it, sk, sn);
  ek = rocksdb_iter_key(it, &n);
  assert_true(kv_vkey_split(ek, n, &ul, &got));
  assert_int_equal(kv_ukey_decode(&k, ek, ul), KV_OK);
  assert_true(k.n == 2 && !memcmp(k.p, "a\0", 2));
  assert_int_equal(got.wall, UINT64_MAX - 1);
  kv_buf_free(&k);
  rocksdb_iter_destroy(it);
  rocksdb_readoptions_destroy(ro);
  rocksdb_writeoptions_destroy(wo);
  rocksdb_close(db);
  rocksdb_options_destroy(o);
  kvt_rmrf(dir);
  free(dir);
}

static void test_keyenc_buffers(void **state) {
  (void)state;
  kv_buf b;
  kv_buf_init(&b);
  assert_true(kv_buf_set(&b, "abc", 3));
  assert_true(kv_buf_set_mvcc_key(&b, "xy", 2, (kv_ts){9, 9}));
  assert_int_equal(b.n, 2 + KV_UKEY_TERM_LEN + KV_TS_LEN);
  /* An encoded user key extended in place by a timestamp. */
  assert_true(kv_buf_set_ukey(&b, "\0", 1));
  assert_int_equal(b.n, 2 + KV_UKEY_TERM_LEN);
  assert_true(kv_buf_set_vkey(&b, b.p, b.n, (kv_ts){9, 9}));
  size_t ul;
  kv_ts ts;
  assert_true(kv_vkey_split(b.p, b.n, &ul, &ts));
  assert_true(ul == 4 && ts.wall == 9 && ts.logical == 9);
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
      cmocka_unit_test(test_keyenc_order_property),
      cmocka_unit_test(test_keyenc_rocksdb_order),
      cmocka_unit_test(test_keyenc_buffers),
      cmocka_unit_test(test_keyenc_arena),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
