/*
** keycodec.h — order-preserving byte encoding of SQLite key values.
**
** memcmp order of encodings (shorter prefix first) equals SQLite's order of
** the values under the key column's collation, and equal values get equal
** bytes; composite keys are concatenations.  Bytes are in keycodec.c.
*/
#ifndef KEYCODEC_H
#define KEYCODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef MVCC_EXTENSION_BUILD
#include "sqlite3ext.h"
#else
#include <sqlite3.h>
#endif

/* A growable byte buffer; p is heap memory (libc malloc, not sqlite3_malloc:
** see mvcc_int.h), so the struct may be copied and moved. */
typedef struct mvcc_keybuf {
  unsigned char *p;
  size_t n, cap;
} mvcc_keybuf;

void mvcc_keybuf_init(mvcc_keybuf *b);
void mvcc_keybuf_reset(mvcc_keybuf *b);     /* n = 0, keeps the memory */
void mvcc_keybuf_free(mvcc_keybuf *b);
int mvcc_keybuf_append(mvcc_keybuf *b, const void *p, size_t n);

enum { MVCC_COLL_BINARY = 0, MVCC_COLL_NOCASE = 1, MVCC_COLL_RTRIM = 2 };
/* The collation of a name (NULL or "" is BINARY); -1 if unsupported. */
int mvcc_coll_from_name(const char *zName);
/* The name of MVCC_COLL_* coll (a static string). */
const char *mvcc_coll_name(int coll);

/* Append one value's encoding.  desc: the column is DESC in the key (all
** of its bytes are complemented).  Return SQLITE_OK, SQLITE_CONSTRAINT for
** NULL or NaN (a key cannot hold them), or SQLITE_NOMEM. */
int mvcc_key_append_int64(mvcc_keybuf *b, sqlite3_int64 v, int desc);
int mvcc_key_append_double(mvcc_keybuf *b, double v, int desc);
/* NULL, which sorts before every other value (index entries only). */
int mvcc_key_append_null(mvcc_keybuf *b, int desc);
int mvcc_key_append_text(mvcc_keybuf *b, const unsigned char *z, size_t n,
                         int coll, int desc);
int mvcc_key_append_blob(mvcc_keybuf *b, const void *p, size_t n, int desc);
int mvcc_key_append_value(mvcc_keybuf *b, sqlite3_value *v, int coll,
                          int desc);

/* The smallest byte string above every string that starts with p[0..n):
** writes it into out (reset first) and returns 0, or returns -1 when there
** is none (p is empty or all 0xFF). */
int mvcc_key_prefix_successor(const unsigned char *p, size_t n,
                              mvcc_keybuf *out);

#endif /* KEYCODEC_H */
