/*
** keyenc.c — the byte layout of versioned keys, and its RocksDB comparator.
**
** Every version of a user key is one RocksDB key in the "mvcc" column family:
**
**     user key bytes ‖ wall (8 bytes, big-endian) ‖ logical (4 bytes, BE)
**
** The comparator orders by user key (memcmp, shorter prefix first), then by
** timestamp descending, so a seek to (key, T) lands on the newest version at
** or below T, and the versions of one key are adjacent, newest first (as in
** CockroachDB's MVCC key encoding).  The timestamp is a fixed-width suffix,
** so splitting a key needs no separator and user keys may hold any bytes.
** (key, KV_TS_MAX) sorts before every version of key: it is used as a seek
** target and as a range-deletion bound, never stored.
**
** The comparator's name is checked by RocksDB when a store is opened: a
** directory made with another comparator is refused, not misread.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

const char kv_mvcc_comparator_name[] = "kvcore.mvcc.v1";

static void put_be64(char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (char)(v & 0xff);
    v >>= 8;
  }
}

static void put_be32(char *p, uint32_t v) {
  for (int i = 3; i >= 0; i--) {
    p[i] = (char)(v & 0xff);
    v >>= 8;
  }
}

static uint64_t get_be64(const char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | (unsigned char)p[i];
  return v;
}

static uint32_t get_be32(const char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v = (v << 8) | (unsigned char)p[i];
  return v;
}

void kv_ts_encode(char *out, kv_ts ts) {
  put_be64(out, ts.wall);
  put_be32(out + 8, ts.logical);
}

kv_ts kv_ts_decode(const char *in) {
  return (kv_ts){get_be64(in), get_be32(in + 8)};
}

void kv_mvcc_key_encode(char *out, const void *key, size_t klen, kv_ts ts) {
  if (klen) memcpy(out, key, klen);
  kv_ts_encode(out + klen, ts);
}

bool kv_mvcc_key_decode(const char *ek, size_t eklen, const char **key,
                        size_t *klen, kv_ts *ts) {
  if (eklen < KV_TS_LEN) return false;
  *key = ek;
  *klen = eklen - KV_TS_LEN;
  *ts = kv_ts_decode(ek + *klen);
  return true;
}

int kv_mvcc_key_corrupt(const char *ek, size_t eklen, char **errptr) {
  char kb[160];
  return kv_err(errptr, KV_CORRUPT,
                "corrupt version key '%s' in the data family (%zu bytes, "
                "too short for its timestamp)",
                kv_key_repr(kb, sizeof kb, ek, eklen), eklen);
}

/* A key too short to carry a timestamp (never written by kvcore) compares as
** a whole user key at the maximum timestamp, so the order stays total. */
static int mvcc_compare(void *state, const char *a, size_t alen,
                        const char *b, size_t blen) {
  (void)state;
  size_t ak = alen >= KV_TS_LEN ? alen - KV_TS_LEN : alen;
  size_t bk = blen >= KV_TS_LEN ? blen - KV_TS_LEN : blen;
  int c = kv_bytes_cmp(a, ak, b, bk);
  if (c) return c;
  bool ah = alen >= KV_TS_LEN, bh = blen >= KV_TS_LEN;
  if (!ah || !bh) return ah == bh ? 0 : ah ? 1 : -1;
  /* Newer first: compare b's timestamp with a's. */
  return memcmp(b + bk, a + ak, KV_TS_LEN);
}

static const char *mvcc_name(void *state) {
  (void)state;
  return kv_mvcc_comparator_name;
}

static void mvcc_destroy(void *state) { (void)state; }

rocksdb_comparator_t *kv_mvcc_comparator_create(void) {
  return rocksdb_comparator_create(NULL, mvcc_destroy, mvcc_compare,
                                   mvcc_name);
}

void kv_buf_free(kv_buf *b) {
  free(b->p);
  kv_buf_init(b);
}

bool kv_buf_reserve(kv_buf *b, size_t cap) {
  if (cap <= b->cap) return true;
  size_t ncap = b->cap ? b->cap : 64;
  while (ncap < cap) ncap *= 2;
  char *p = realloc(b->p, ncap);
  if (!p) return false;
  b->p = p;
  b->cap = ncap;
  return true;
}

bool kv_buf_set(kv_buf *b, const void *p, size_t n) {
  if (!kv_buf_reserve(b, n ? n : 1)) return false;
  if (n) memcpy(b->p, p, n);
  b->n = n;
  return true;
}

bool kv_buf_set_mvcc_key(kv_buf *b, const void *key, size_t klen, kv_ts ts) {
  if (!kv_buf_reserve(b, klen + KV_TS_LEN)) return false;
  kv_mvcc_key_encode(b->p, key, klen, ts);
  b->n = klen + KV_TS_LEN;
  return true;
}

/* The prefix of a versioned key is its user key: RocksDB's prefix blooms
** (memtable and table filters) then answer "no version of this key" without
** a search, which is what most point reads and duplicate checks find. */
static char *prefix_transform(void *state, const char *key, size_t len,
                              size_t *dst_len) {
  (void)state;
  *dst_len = len >= KV_TS_LEN ? len - KV_TS_LEN : len;
  return (char *)key;
}

static unsigned char prefix_in_domain(void *state, const char *key,
                                      size_t len) {
  (void)state;
  (void)key;
  return len >= KV_TS_LEN;
}

static unsigned char prefix_in_range(void *state, const char *key, size_t len) {
  (void)state;
  (void)key;
  (void)len;
  return 0;
}

static const char *prefix_name(void *state) {
  (void)state;
  return "kvcore.userkey.v1";
}

rocksdb_slicetransform_t *kv_mvcc_prefix_extractor_create(void) {
  return rocksdb_slicetransform_create(NULL, mvcc_destroy, prefix_transform,
                                       prefix_in_domain, prefix_in_range,
                                       prefix_name);
}
