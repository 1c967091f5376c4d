/*
** test_error.c — error.c: the names of codes and retry reasons, kv_err's
** message handling, the printable rendering of keys in messages, and the
** byte-string hash the lock table, latches and timestamp cache share.
*/
#include "kvtest.h"

#include "kvint.h"

/* The hash the lock table, latches and timestamp cache share: changing any
** one byte of a key, at any length (each tail length takes its own path),
** changes it, and sequential integer keys spread over the shard bits. */
static void test_error_hash_sees_every_byte(void **state) {
  (void)state;
  unsigned char k[24] = {0};
  for (size_t n = 0; n <= sizeof k; n++) {
    for (size_t i = 0; i < n; i++) k[i] = (unsigned char)(i * 7 + 1);
    uint64_t h = kv_hash(k, n);
    if (n) assert_int_not_equal(kv_hash(k, n - 1), h);
    for (size_t i = 0; i < n; i++) {
      for (int bit = 0; bit < 8; bit++) {
        k[i] ^= (unsigned char)(1 << bit);
        assert_int_not_equal(kv_hash(k, n), h);
        k[i] ^= (unsigned char)(1 << bit);
      }
    }
  }
  int per_shard[KV_LOCK_SHARDS] = {0};
  for (uint32_t i = 0; i < 64000; i++) {
    unsigned char b[9] = {0x12, 0x80, 0, 0, 0, 0, 0, 0, 0};
    for (int j = 0; j < 4; j++) b[8 - j] = (unsigned char)(i >> (8 * j));
    per_shard[(kv_hash(b, sizeof b) >> 32) % KV_LOCK_SHARDS]++;
  }
  for (int i = 0; i < KV_LOCK_SHARDS; i++) {
    assert_true(per_shard[i] > 800);  /* 1000 each if even */
    assert_true(per_shard[i] < 1200);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_hash_sees_every_byte),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
