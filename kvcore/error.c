/*
** error.c — error codes, messages and small shared utilities of kvcore.
**
** Every fallible kvcore function returns a KV_* code and, through a
** `char **errptr`, a malloc'd message (RocksDB's convention).  kv_err() is the
** one place that formats such a message.  Also here: the byte-string hash,
** the monotonic clock used for timeouts, and the printable rendering of keys
** used in messages (so a message never carries raw binary), and the
** per-thread record of held mutexes that the lock-order asserts check
** (kv_mu_enter, kvint.h).
*/
#include "kvint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Thread_local unsigned kv_mu_held;
_Thread_local uint32_t kv_latch_held;

static const char *const code_names[] = {
    "ok",         "not found",      "restart transaction",
    "I/O error",  "corruption",     "invalid argument",
    "store busy", "out of memory",  "read-only store",
    "database or disk is full",
};

const char *kv_code_name(int rc) {
  if (rc < 0 || (size_t)rc >= sizeof(code_names) / sizeof(code_names[0]))
    return "unknown error";
  return code_names[rc];
}

static const char *const reason_names[] = {
    "none",
    "write conflict",
    "read refresh failed",
    "deadlock",
    "lock timeout",
    "aborted by a higher-priority transaction",
};

const char *kv_retry_reason_name(kv_retry_reason r) {
  if ((unsigned)r >= sizeof(reason_names) / sizeof(reason_names[0]))
    return "unknown";
  return reason_names[r];
}

void kv_free(void *p) { free(p); }

int kv_key_cmp(const void *a, size_t an, const void *b, size_t bn) {
  return kv_bytes_cmp(a, an, b, bn);
}

char *kv_vmprintf(const char *fmt, va_list ap) {
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) return NULL;
  return s;
}

char *kv_mprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = kv_vmprintf(fmt, ap);
  va_end(ap);
  return s;
}

int kv_err(char **errptr, int rc, const char *fmt, ...) {
  if (errptr) {
    va_list ap;
    va_start(ap, fmt);
    char *s = kv_vmprintf(fmt, ap);
    va_end(ap);
    free(*errptr);
    *errptr = s;
  }
  return rc;
}

/* Printable bytes as themselves, others as \xNN; long keys are cut with
** "...".  Always NUL-terminates buf. */
const char *kv_key_repr(char *buf, size_t bufsz, const void *key,
                        size_t klen) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *k = key;
  size_t o = 0;
  if (bufsz < 8) {
    if (bufsz) buf[0] = 0;
    return buf;
  }
  for (size_t i = 0; i < klen; i++) {
    if (o + 8 >= bufsz) {
      memcpy(buf + o, "...", 3);
      o += 3;
      break;
    }
    unsigned char c = k[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      buf[o++] = (char)c;
    } else {
      buf[o++] = '\\';
      buf[o++] = 'x';
      buf[o++] = hex[c >> 4];
      buf[o++] = hex[c & 15];
    }
  }
  buf[o] = 0;
  return buf;
}

/* A 64-bit multiply-mix hash over 8-byte words (keys are short; the lock
** table, latches and timestamp cache only need a good spread). */
uint64_t kv_hash(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL);
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ (w * 0xc4ceb9fe1a85ec53ULL)) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    s += 8;
    n -= 8;
  }
  /* The last 0-7 bytes in at most two loads, without a byte loop: for
  ** 4-7 bytes two overlapping words cover them, for 1-3 the first, middle
  ** and last byte do; either way the word determines the bytes (n is mixed
  ** in above). */
  uint64_t w = 0;
  if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + n - 4, 4);
    w = a | (uint64_t)b << 32;
  } else if (n > 0) {
    w = s[0] | (uint64_t)s[n / 2] << 8 | (uint64_t)s[n - 1] << 16;
  }
  h = (h ^ (w * 0xc4ceb9fe1a85ec53ULL)) * 0x9e3779b97f4a7c15ULL;
  h ^= h >> 32;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

uint64_t kv_mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

int kv_ts_cmp(kv_ts a, kv_ts b) {
  return kv_ts_lt(a, b) ? -1 : kv_ts_lt(b, a) ? 1 : 0;
}
