/*
** keycodec.c — order-preserving byte encoding of SQLite key values.
**
** Goal: for any two key values a and b, memcmp order of enc(a) and enc(b)
** (shorter prefix first) is SQLite's comparison of a and b under the key
** column's collation, and equal values (3 and 3.0) encode to equal bytes.
** SQLite orders NULL < numbers < TEXT < BLOB; numbers compare numerically
** and exactly across INTEGER and REAL.
**
** Bytes of one value (every encoding is self-delimiting, so a composite key
** is just the concatenation of its columns' encodings):
**
**   0x05                        NULL (only in index entries: a row's
**                               key never holds NULL)
**   0x10                        -infinity
**   0x11 ~E(2) ~M(1..10)        a negative number (E, M of its magnitude,
**                               complemented: bigger magnitudes sort first)
**   0x12                        zero (and -0.0)
**   0x13 E(2) M(1..10)          a positive number
**   0x14                        +infinity
**   0x30 escaped-text 0x00 0x01     TEXT
**   0x40 escaped-bytes 0x00 0x01    BLOB
**
** Numbers: a positive value is m * 2^(E - 63) with m a 64-bit integer whose
** top bit is set; E is stored big-endian plus a bias of 1100 (doubles reach
** 2^-1074 and 2^1023).  M is m's bits from the top, 7 per byte, as
** (bits << 1) | more, ending at the last group that holds a set bit: the
** low "more" bit makes a longer M (more set bits further down) sort after
** a shorter one with the same leading bits, so M orders like m, is
** self-delimiting, and is short for the common case (1 byte for integers
** below 128) and free of 0x00 bytes for positive numbers (the store
** escapes 0x00).  Every int64 (63 significant bits) and every finite
** double (53) is exact here, so 9007199254740993 and 9007199254740992.0
** differ and 3 equals 3.0, as in sqlite3IntFloatCompare.  NaN never
** reaches a key (SQLite stores NaN as NULL) and is refused.
**
** TEXT and BLOB: each 0x00 byte becomes 0x00 0xFF and the value ends with
** 0x00 0x01, which keeps memcmp order and makes the encoding prefix-free.
** Collations act before escaping: RTRIM drops trailing spaces; NOCASE folds
** ASCII A-Z to a-z and, like SQLite's sqlite3StrNICmp, looks only at the
** bytes before the first NUL, then at the total length: a NOCASE text is
** 0x30 escaped-folded-prefix 0x00 0x01 length(8 bytes BE).
**
** A DESC key column complements every byte of its encoding; prefix-freeness
** makes that an exact order reversal.
*/
#ifdef MVCC_EXTENSION_BUILD
#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "keycodec.h"

#define K_NULL 0x05
#define K_NEG_INF 0x10
#define K_NEG 0x11
#define K_ZERO 0x12
#define K_POS 0x13
#define K_POS_INF 0x14
#define K_TEXT 0x30
#define K_BLOB 0x40
#define E_BIAS 1100

void mvcc_keybuf_init(mvcc_keybuf *b) { memset(b, 0, sizeof(*b)); }
void mvcc_keybuf_reset(mvcc_keybuf *b) { b->n = 0; }

void mvcc_keybuf_free(mvcc_keybuf *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

static int kb_reserve(mvcc_keybuf *b, size_t extra) {
  if (b->n + extra <= b->cap) return SQLITE_OK;
  size_t cap = b->cap ? b->cap : 32;
  while (cap < b->n + extra) cap *= 2;
  unsigned char *p = realloc(b->p, cap);
  if (!p) return SQLITE_NOMEM;
  b->p = p;
  b->cap = cap;
  return SQLITE_OK;
}

int mvcc_keybuf_append(mvcc_keybuf *b, const void *p, size_t n) {
  if (kb_reserve(b, n ? n : 1)) return SQLITE_NOMEM;
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
  return SQLITE_OK;
}

int mvcc_coll_from_name(const char *z) {
  if (!z || !*z || !sqlite3_stricmp(z, "BINARY")) return MVCC_COLL_BINARY;
  if (!sqlite3_stricmp(z, "NOCASE")) return MVCC_COLL_NOCASE;
  if (!sqlite3_stricmp(z, "RTRIM")) return MVCC_COLL_RTRIM;
  return -1;
}

const char *mvcc_coll_name(int coll) {
  return coll == MVCC_COLL_NOCASE ? "NOCASE"
         : coll == MVCC_COLL_RTRIM ? "RTRIM"
                                   : "BINARY";
}

static void complement(mvcc_keybuf *b, size_t from) {
  for (size_t i = from; i < b->n; i++) b->p[i] = (unsigned char)~b->p[i];
}

/* A positive magnitude m * 2^(e - 63), m normalized: E, then m's bits from
** the top in groups of 7, each byte (bits << 1) | more, up to the last
** nonzero group. */
static int put_magnitude(mvcc_keybuf *b, int negative, int e, uint64_t m) {
  if (kb_reserve(b, 3 + 10)) return SQLITE_NOMEM;
  unsigned char *o = b->p + b->n;
  unsigned int be = (unsigned int)(e + E_BIAS);
  o[0] = negative ? K_NEG : K_POS;
  o[1] = (unsigned char)(be >> 8);
  o[2] = (unsigned char)be;
  size_t n = 3;
  do {
    unsigned int bits = (unsigned int)(m >> 57);
    m <<= 7;
    o[n++] = (unsigned char)(bits << 1 | (m != 0));
  } while (m);
  if (negative)
    for (size_t i = 1; i < n; i++) o[i] = (unsigned char)~o[i];
  b->n += n;
  return SQLITE_OK;
}

static int put_byte(mvcc_keybuf *b, unsigned char c) {
  return mvcc_keybuf_append(b, &c, 1);
}

int mvcc_key_append_int64(mvcc_keybuf *b, sqlite3_int64 v, int desc) {
  size_t from = b->n;
  int rc;
  if (v == 0) {
    rc = put_byte(b, K_ZERO);
  } else {
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    int lz = __builtin_clzll(u);
    rc = put_magnitude(b, v < 0, 63 - lz, u << lz);
  }
  if (rc == SQLITE_OK && desc) complement(b, from);
  return rc;
}

int mvcc_key_append_double(mvcc_keybuf *b, double v, int desc) {
  size_t from = b->n;
  int rc;
  if (isnan(v)) return SQLITE_CONSTRAINT;
  if (v == 0) {
    rc = put_byte(b, K_ZERO);
  } else if (isinf(v)) {
    rc = put_byte(b, v < 0 ? K_NEG_INF : K_POS_INF);
  } else {
    int e;
    double f = frexp(fabs(v), &e); /* |v| = f * 2^e, f in [0.5, 1) */
    uint64_t m = (uint64_t)ldexp(f, 64);
    rc = put_magnitude(b, v < 0, e - 1, m);
  }
  if (rc == SQLITE_OK && desc) complement(b, from);
  return rc;
}

/* Escaped bytes with the terminator.  Unfolded bytes are copied a run at a
** time (memchr finds the zeros to escape): an index over a BLOB or long
** TEXT column spent a tenth of its build copying byte by byte. */
static int put_escaped(mvcc_keybuf *b, unsigned char cls,
                       const unsigned char *z, size_t n, int fold) {
  const unsigned char *end = z + n, *q;
  size_t zeros = 0;
  for (q = z; q < end && (q = memchr(q, 0, (size_t)(end - q))); q++) zeros++;
  if (kb_reserve(b, 1 + n + zeros + 2)) return SQLITE_NOMEM;
  unsigned char *o = b->p + b->n;
  *o++ = cls;
  if (fold) {
    for (size_t i = 0; i < n; i++) {
      unsigned char c = z[i];
      if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
      *o++ = c;
      if (c == 0) *o++ = 0xFF;
    }
  } else {
    for (q = z; q < end;) {
      const unsigned char *nul = memchr(q, 0, (size_t)(end - q));
      size_t run = (size_t)((nul ? nul + 1 : end) - q);
      memcpy(o, q, run);
      o += run;
      q += run;
      if (nul) *o++ = 0xFF;
    }
  }
  *o++ = 0x00;
  *o++ = 0x01;
  b->n = (size_t)(o - b->p);
  return SQLITE_OK;
}

int mvcc_key_append_text(mvcc_keybuf *b, const unsigned char *z, size_t n,
                         int coll, int desc) {
  size_t from = b->n;
  if (!z) z = (const unsigned char *)"";
  if (coll == MVCC_COLL_RTRIM)
    while (n > 0 && z[n - 1] == ' ') n--;
  int rc;
  if (coll == MVCC_COLL_NOCASE) {
    /* SQLite's NOCASE (sqlite3StrNICmp) stops at the first NUL byte and
    ** then orders by total length: encode the folded text before the first
    ** NUL, then the length. */
    size_t cut = 0;
    while (cut < n && z[cut]) cut++;
    rc = put_escaped(b, K_TEXT, z, cut, 1);
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    if (rc == SQLITE_OK) rc = mvcc_keybuf_append(b, len, 8);
  } else {
    rc = put_escaped(b, K_TEXT, z, n, 0);
  }
  if (rc == SQLITE_OK && desc) complement(b, from);
  return rc;
}

int mvcc_key_append_null(mvcc_keybuf *b, int desc) {
  unsigned char t = desc ? (unsigned char)~K_NULL : K_NULL;
  return mvcc_keybuf_append(b, &t, 1);
}

int mvcc_key_append_blob(mvcc_keybuf *b, const void *p, size_t n, int desc) {
  size_t from = b->n;
  int rc = put_escaped(b, K_BLOB, p ? p : "", n, 0);
  if (rc == SQLITE_OK && desc) complement(b, from);
  return rc;
}

int mvcc_key_append_value(mvcc_keybuf *b, sqlite3_value *v, int coll,
                          int desc) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      return mvcc_key_append_int64(b, sqlite3_value_int64(v), desc);
    case SQLITE_FLOAT:
      return mvcc_key_append_double(b, sqlite3_value_double(v), desc);
    case SQLITE_TEXT: {
      const unsigned char *z = sqlite3_value_text(v);
      if (!z) return SQLITE_NOMEM;
      return mvcc_key_append_text(b, z, (size_t)sqlite3_value_bytes(v), coll,
                                  desc);
    }
    case SQLITE_BLOB:
      return mvcc_key_append_blob(b, sqlite3_value_blob(v),
                                  (size_t)sqlite3_value_bytes(v), desc);
    default: return SQLITE_CONSTRAINT;
  }
}

int mvcc_key_prefix_successor(const unsigned char *p, size_t n,
                              mvcc_keybuf *out) {
  while (n > 0 && p[n - 1] == 0xFF) n--;
  if (n == 0) return -1;
  mvcc_keybuf_reset(out);
  if (mvcc_keybuf_append(out, p, n)) return -1;
  out->p[n - 1]++;
  return 0;
}
