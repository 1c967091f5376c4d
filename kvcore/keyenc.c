/*
** keyenc.c — the byte layout of versioned keys (storage format 2).
**
** Every version of a user key is one RocksDB key in the data column family,
** ordered by RocksDB's built-in bytewise comparator (no comparator callback
** runs on any key comparison):
**
**     esc(user key) ‖ 0x00 0x01 ‖ ~wall (8 bytes, BE) ‖ ~logical (4 bytes, BE)
**
** esc() writes each 0x00 byte of the user key as 0x00 0xFF; the terminator
** 0x00 0x01 sorts below every escaped continuation (0x00 0xFF) and every
** other byte, so enc(k) = esc(k) ‖ 0x00 0x01 is order-preserving (memcmp of
** encodings = memcmp of keys, shorter prefix first) and prefix-free.  The
** timestamp follows inverted, so the versions of one key are adjacent,
** newest first, as in CockroachDB's MVCC key encoding and TiKV's Percolator
** keys.  Consequences the readers (mvcc.c, gc.c, history.c) rely on:
**
**   - Two versions belong to one user key iff their first eklen - KV_TS_LEN
**     bytes are equal (no decoding needed to group versions).
**   - enc(k) alone sorts after every version of every key below k and before
**     every version of k: it is a seek target and a scan bound.  For a
**     range [lo, hi), an engine key ek is a version of a key in range iff
**     enc(lo) <= ek < enc(hi) (bytewise).
**   - enc(k) with its last byte raised to 0x02 sorts after every version of
**     k and before every version of the next key (kv_ukey_past).
**   - (k, KV_TS_MAX) encodes to enc(k) ‖ 12 zero bytes, the first possible
**     version; (k, KV_TS_ZERO) to enc(k) ‖ 12 0xFF bytes, the last.
**
** The prefix extractor maps a version to enc(user key), so RocksDB's prefix
** blooms (memtable and table filters) answer "no version of this key"
** without a search: what most duplicate checks and gap probes find.
**
** Format 1 (a C comparator over key ‖ timestamp) lives in another column
** family name; engine.c tells the formats apart before opening anything.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>

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
  put_be64(out, ~ts.wall);
  put_be32(out + 8, ~ts.logical);
}

kv_ts kv_ts_decode(const char *in) {
  return (kv_ts){~get_be64(in), ~get_be32(in + 8)};
}

/* Byte loops, not memchr runs: keys are short and dense with zeros (a
** table prefix, big-endian integers), so a call per zero run cost more. */
size_t kv_ukey_encode(char *out, const void *key, size_t klen) {
  const unsigned char *k = key;
  unsigned char *o = (unsigned char *)out;
  for (size_t i = 0; i < klen; i++) {
    *o++ = k[i];
    if (!k[i]) *o++ = 0xFF;
  }
  *o++ = 0;
  *o++ = 1;
  return (size_t)(o - (unsigned char *)out);
}

int kv_ukey_decode(kv_buf *out, const char *enc, size_t elen) {
  if (elen < KV_UKEY_TERM_LEN || enc[elen - 2] != 0 || enc[elen - 1] != 1)
    return KV_CORRUPT;
  size_t n = elen - KV_UKEY_TERM_LEN;
  if (!kv_buf_reserve(out, n ? n : 1)) return KV_NOMEM;
  const unsigned char *e = (const unsigned char *)enc;
  unsigned char *o = (unsigned char *)out->p;
  for (size_t i = 0; i < n; i++) {
    *o++ = e[i];
    if (!e[i] && (++i >= n || e[i] != 0xFF)) return KV_CORRUPT;
  }
  out->n = (size_t)(o - (unsigned char *)out->p);
  return KV_OK;
}

bool kv_vkey_split(const char *ek, size_t eklen, size_t *ulen, kv_ts *ts) {
  if (eklen < KV_UKEY_TERM_LEN + KV_TS_LEN) return false;
  size_t u = eklen - KV_TS_LEN;
  if (ek[u - 2] != 0 || ek[u - 1] != 1) return false;
  *ulen = u;
  *ts = kv_ts_decode(ek + u);
  return true;
}

int kv_vkey_ts(const char *ek, size_t eklen, uint64_t *wall,
               uint32_t *logical) {
  size_t ulen;
  kv_ts ts;
  if (!kv_vkey_split(ek, eklen, &ulen, &ts)) return 0;
  *wall = ts.wall;
  *logical = ts.logical;
  return 1;
}

int kv_mvcc_key_corrupt(const char *ek, size_t eklen, char **errptr) {
  char kb[160];
  return kv_err(errptr, KV_CORRUPT,
                "corrupt version key '%s' in the data family (%zu bytes: not "
                "an escaped key, terminator and timestamp)",
                kv_key_repr(kb, sizeof kb, ek, eklen), eklen);
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

bool kv_buf_set_ukey(kv_buf *b, const void *key, size_t klen) {
  if (!kv_buf_reserve(b, KV_UKEY_ENC_MAX(klen) + KV_TS_LEN)) return false;
  b->n = kv_ukey_encode(b->p, key, klen);
  return true;
}

bool kv_buf_set_mvcc_key(kv_buf *b, const void *key, size_t klen, kv_ts ts) {
  if (!kv_buf_set_ukey(b, key, klen)) return false;
  kv_ts_encode(b->p + b->n, ts);
  b->n += KV_TS_LEN;
  return true;
}

bool kv_buf_set_vkey(kv_buf *b, const char *ukey, size_t ulen, kv_ts ts) {
  if (!kv_buf_reserve(b, ulen + KV_TS_LEN)) return false;
  if (b->p != ukey) memmove(b->p, ukey, ulen);
  kv_ts_encode(b->p + ulen, ts);
  b->n = ulen + KV_TS_LEN;
  return true;
}

void kv_ukey_past(char *ukey, size_t ulen) { ukey[ulen - 1] = 2; }

/* The prefix of a version is its encoded user key. */
static char *prefix_transform(void *state, const char *key, size_t len,
                              size_t *dst_len) {
  (void)state;
  *dst_len = len >= KV_UKEY_TERM_LEN + KV_TS_LEN ? len - KV_TS_LEN : len;
  return (char *)key;
}

/* Only versions are in the domain: a bare enc(k) seek target or bound is
** not, so seeks to one run in total order. */
static unsigned char prefix_in_domain(void *state, const char *key,
                                      size_t len) {
  (void)state;
  size_t u;
  kv_ts ts;
  return kv_vkey_split(key, len, &u, &ts);
}

static unsigned char prefix_in_range(void *state, const char *key, size_t len) {
  (void)state;
  (void)key;
  (void)len;
  return 0;
}

static const char *prefix_name(void *state) {
  (void)state;
  return "kvcore.userkey.v2";
}

static void prefix_destroy(void *state) { (void)state; }

rocksdb_slicetransform_t *kv_mvcc_prefix_extractor_create(void) {
  return rocksdb_slicetransform_create(NULL, prefix_destroy, prefix_transform,
                                       prefix_in_domain, prefix_in_range,
                                       prefix_name);
}
