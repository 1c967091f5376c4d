/*
** test_error.c — error.c: the names of codes and retry reasons, kv_err's
** message handling, the printable rendering of keys in messages, timestamp
** comparison, and the byte-string hash the lock table, latches and
** timestamp cache share.
*/
#include "kvtest.h"

#include "kvint.h"

/* Every code and retry reason has its own name (they reach users in
** messages); anything out of range gets a fixed fallback, never garbage. */
static void test_error_code_and_reason_names(void **state) {
  (void)state;
  static const char *const codes[] = {
      "ok",         "not found",      "restart transaction",
      "I/O error",  "corruption",     "invalid argument",
      "store busy", "out of memory",  "read-only store",
      "database or disk is full",
  };
  assert_int_equal(KV_FULL + 1, sizeof codes / sizeof codes[0]);
  for (int rc = KV_OK; rc <= KV_FULL; rc++)
    assert_string_equal(kv_code_name(rc), codes[rc]);
  assert_string_equal(kv_code_name(-1), "unknown error");
  assert_string_equal(kv_code_name(KV_FULL + 1), "unknown error");
  static const char *const reasons[] = {
      "none",         "write conflict", "read refresh failed",
      "deadlock",     "lock timeout",
      "aborted by a higher-priority transaction",
  };
  for (int r = KV_RETRY_NONE; r <= KV_RETRY_ABORTED_PRIORITY; r++)
    assert_string_equal(kv_retry_reason_name((kv_retry_reason)r), reasons[r]);
  assert_string_equal(kv_retry_reason_name((kv_retry_reason)6), "unknown");
  assert_string_equal(kv_retry_reason_name((kv_retry_reason)-1), "unknown");
}

/* kv_err returns its code, replaces (and frees: the sanitizer build checks)
** a message already there, formats messages of any length, and accepts a
** NULL errptr. */
static void test_error_err_sets_message_and_returns_code(void **state) {
  (void)state;
  char *err = kv_mprintf("an older message");
  assert_int_equal(kv_err(&err, KV_BUSY, "store %s is busy (%d)", "x", 7),
                   KV_BUSY);
  assert_string_equal(err, "store x is busy (7)");
  enum { LONG = 10000 };
  char *big = malloc(LONG + 1);
  memset(big, 'k', LONG);
  big[LONG] = 0;
  assert_int_equal(kv_err(&err, KV_CORRUPT, "<%s>", big), KV_CORRUPT);
  assert_int_equal(strlen(err), LONG + 2);
  assert_int_equal(err[0], '<');
  assert_int_equal(err[LONG + 1], '>');
  free(big);
  kv_free(err);
  assert_int_equal(kv_err(NULL, KV_IOERR, "nobody reads %s", "this"),
                   KV_IOERR);
  char *m = kv_mprintf("%d-%s", 42, "x");
  assert_string_equal(m, "42-x");
  kv_free(m);
}

/* Keys in messages: printable bytes as themselves, the rest (and the
** backslash, so the rendering is unambiguous) as \xNN; long keys cut with
** "..."; the result always fits the buffer, NUL included. */
static void test_error_key_repr_escapes_and_truncates(void **state) {
  (void)state;
  char buf[128];
  assert_string_equal(kv_key_repr(buf, sizeof buf, "acct/17", 7), "acct/17");
  assert_string_equal(kv_key_repr(buf, sizeof buf, "\x00\x01" "a\\\x7f\xff",
                                  6),
                      "\\x00\\x01a\\x5c\\x7f\\xff");
  assert_string_equal(kv_key_repr(buf, sizeof buf, "", 0), "");
  assert_string_equal(kv_key_repr(buf, 16, "abcdefghijklmnopqrstuvwxyz", 26),
                      "abcdefgh...");
  assert_string_equal(kv_key_repr(buf, 7, "abc", 3), ""); /* too small */
  /* Any key, any buffer size: NUL-terminated within the buffer. */
  unsigned char key[200];
  for (size_t i = 0; i < sizeof key; i++) key[i] = (unsigned char)(i * 37);
  for (size_t bufsz = 1; bufsz <= sizeof buf; bufsz++) {
    for (size_t kl = 0; kl <= sizeof key; kl += 13) {
      memset(buf, '#', sizeof buf);
      kv_key_repr(buf, bufsz, key, kl);
      assert_true(memchr(buf, 0, bufsz) != NULL);
    }
  }
}

static void test_error_ts_cmp_orders_wall_then_logical(void **state) {
  (void)state;
  kv_ts a = {100, 5}, b = {100, 6}, c = {101, 0}, big = {UINT64_MAX, 0};
  assert_int_equal(kv_ts_cmp(a, a), 0);
  assert_int_equal(kv_ts_cmp(a, b), -1);
  assert_int_equal(kv_ts_cmp(b, a), 1);
  assert_int_equal(kv_ts_cmp(b, c), -1); /* wall first */
  assert_int_equal(kv_ts_cmp(c, b), 1);
  assert_int_equal(kv_ts_cmp(c, big), -1);
  assert_int_equal(kv_ts_cmp((kv_ts){7, UINT32_MAX}, (kv_ts){8, 0}), -1);
}

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
      cmocka_unit_test(test_error_code_and_reason_names),
      cmocka_unit_test(test_error_err_sets_message_and_returns_code),
      cmocka_unit_test(test_error_key_repr_escapes_and_truncates),
      cmocka_unit_test(test_error_ts_cmp_orders_wall_then_logical),
      cmocka_unit_test(test_error_hash_sees_every_byte),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
