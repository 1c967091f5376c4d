/*
** fuzz_keyenc.c — libFuzzer harness for kvcore's versioned-key encoding
** (kvcore/keyenc.c, storage format 2).
**
** The first byte chooses the mode:
**   even: the rest is an engine key as read from a damaged store.
**         kv_vkey_split() and kv_ukey_decode() must not read outside it;
**         a split must leave a user-key part that ends in the terminator
**         and a 12-byte timestamp that re-encodes to the same bytes; a user
**         key that decodes must encode back to exactly the bytes decoded.
**   odd:  two user keys (a length byte and up to 64 bytes each) and two
**         timestamps.  Their engine keys must split and decode back to
**         them, and memcmp order of the engine keys must be (user key
**         bytewise, shorter first; then newer timestamp first); enc(k)
**         alone sorts after every version of every smaller key and before
**         every version of k, and kv_ukey_past(enc(k)) after every version
**         of k and before every version of a larger key.
*/
#include <string.h>

#include "fuzz.h"
#include "kvint.h"

static int sign(int x) { return (x > 0) - (x < 0); }

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn) {
  size_t n = an < bn ? an : bn;
  int c = n ? memcmp(a, b, n) : 0;
  return c ? sign(c) : (an > bn) - (an < bn);
}

static int ts_cmp(kv_ts a, kv_ts b) {
  if (a.wall != b.wall) return a.wall < b.wall ? -1 : 1;
  return (a.logical > b.logical) - (a.logical < b.logical);
}

static void damaged(const uint8_t *p, size_t n) {
  const char *ek = (const char *)p;
  size_t ulen;
  kv_ts ts;
  kv_buf out, again;
  kv_buf_init(&out);
  kv_buf_init(&again);
  if (kv_vkey_split(ek, n, &ulen, &ts)) {
    FUZZ_CHECK(ulen >= KV_UKEY_TERM_LEN && ulen + KV_TS_LEN == n,
               "split %zu bytes at %zu", n, ulen);
    FUZZ_CHECK(ek[ulen - 2] == 0 && ek[ulen - 1] == 1, "no terminator");
    char t[KV_TS_LEN];
    kv_ts_encode(t, ts);
    FUZZ_CHECK(!memcmp(t, ek + ulen, KV_TS_LEN), "timestamp bytes differ");
    /* The decoder on the user-key part, as every reader calls it. */
    (void)kv_ukey_decode(&out, ek, ulen);
  }
  int rc = kv_ukey_decode(&out, ek, n);
  FUZZ_CHECK(rc == KV_OK || rc == KV_CORRUPT || rc == KV_NOMEM, "rc %d", rc);
  if (rc == KV_OK) {
    FUZZ_CHECK(kv_buf_set_ukey(&again, out.p, out.n), "no memory");
    FUZZ_CHECK(again.n == n && !memcmp(again.p, ek, n),
               "%zu bytes decode to a key that encodes to %zu other bytes",
               n, again.n);
  }
  kv_buf_free(&out);
  kv_buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  if (!(data[0] & 1)) {
    damaged(data + 1, size - 1);
    return 0;
  }
  fuzz_in in = {data + 1, size - 1};
  size_t n1, n2;
  const uint8_t *k1 = fuzz_bytes(&in, 64, &n1);
  const uint8_t *k2 = fuzz_bytes(&in, 64, &n2);
  kv_ts t1 = {fuzz_u64(&in), (uint32_t)fuzz_u64(&in)};
  kv_ts t2 = {fuzz_u64(&in), (uint32_t)fuzz_u64(&in)};
  kv_buf e1, e2, u1, past, dec;
  kv_buf_init(&e1);
  kv_buf_init(&e2);
  kv_buf_init(&u1);
  kv_buf_init(&past);
  kv_buf_init(&dec);
  FUZZ_CHECK(kv_buf_set_mvcc_key(&e1, k1, n1, t1) &&
                 kv_buf_set_mvcc_key(&e2, k2, n2, t2) &&
                 kv_buf_set_ukey(&u1, k1, n1) && kv_buf_set_ukey(&past, k1, n1),
             "no memory");
  kv_ukey_past(past.p, past.n);

  /* Split and decode back. */
  size_t ulen;
  kv_ts ts;
  FUZZ_CHECK(kv_vkey_split(e1.p, e1.n, &ulen, &ts), "own key does not split");
  FUZZ_CHECK(ulen == u1.n && !memcmp(e1.p, u1.p, ulen) && ts_cmp(ts, t1) == 0,
             "split gives another key or timestamp");
  FUZZ_CHECK(kv_ukey_decode(&dec, e1.p, ulen) == KV_OK && dec.n == n1 &&
                 (!n1 || !memcmp(dec.p, k1, n1)),
             "decode(encode(k)) != k");

  /* Order of versions. */
  int want = bytes_cmp(k1, n1, k2, n2);
  if (!want) want = -ts_cmp(t1, t2); /* newer first */
  int got = bytes_cmp(e1.p, e1.n, e2.p, e2.n);
  FUZZ_CHECK(got == want, "engine key order %d, want %d", got, want);

  /* Bounds: enc(k1) and past(enc(k1)) against every version of k2. */
  int kc = bytes_cmp(k1, n1, k2, n2);
  int lo = bytes_cmp(u1.p, u1.n, e2.p, e2.n);
  int hi = bytes_cmp(past.p, past.n, e2.p, e2.n);
  if (kc < 0) FUZZ_CHECK(lo < 0 && hi < 0, "bounds of a smaller key");
  if (kc == 0) FUZZ_CHECK(lo < 0 && hi > 0, "bounds of the same key");
  if (kc > 0) FUZZ_CHECK(lo > 0 && hi > 0, "bounds of a larger key");

  kv_buf_free(&e1);
  kv_buf_free(&e2);
  kv_buf_free(&u1);
  kv_buf_free(&past);
  kv_buf_free(&dec);
  return 0;
}
