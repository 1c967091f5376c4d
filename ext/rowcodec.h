/*
** rowcodec.h — exact encoding of a row's values (format in rowcodec.c).
*/
#ifndef ROWCODEC_H
#define ROWCODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef MVCC_EXTENSION_BUILD
#include "sqlite3ext.h"
#else
#include <sqlite3.h>
#endif

/* One value to encode: SQLite's type and its bytes. */
typedef struct mvcc_cell {
  int type;                  /* SQLITE_INTEGER/FLOAT/TEXT/BLOB/NULL */
  sqlite3_int64 i;
  double r;
  const void *p;             /* TEXT (UTF-8, any bytes) and BLOB */
  size_t n;
} mvcc_cell;

/* Encodes ncol cells into a new buffer (*out, malloc'd: the caller frees it
** with free()).  SQLITE_OK, SQLITE_NOMEM or SQLITE_TOOBIG. */
int mvcc_row_encode_cells(int ncol, const mvcc_cell *cells,
                          unsigned char **out, size_t *outlen);
/* The same from SQLite values, exactly as they are. */
int mvcc_row_encode_values(int ncol, sqlite3_value **vals, unsigned char **out,
                           size_t *outlen);

/* A parsed row: borrows the encoding, which must outlive it. */
typedef struct mvcc_row {
  const unsigned char *p;
  size_t n;
  int ncol;
  uint64_t *codes;           /* per column: serial code */
  size_t *offs;              /* per column: payload offset */
  uint64_t codes_buf[16];
  size_t offs_buf[16];
} mvcc_row;

/* Validates the header and every length; SQLITE_CORRUPT when it does not
** describe exactly n bytes.  Call mvcc_row_clear() when done with it. */
int mvcc_row_parse(mvcc_row *r, const unsigned char *p, size_t n);
void mvcc_row_clear(mvcc_row *r);
/* SQLITE_INTEGER ...; a column past the stored ones reads as NULL. */
int mvcc_row_column_type(const mvcc_row *r, int i);
/* Reads column i into *c (bytes borrowed from the row). */
void mvcc_row_cell(const mvcc_row *r, int i, mvcc_cell *c);
/* Hands column i to SQLite with its exact type and bytes (copied). */
int mvcc_row_result(const mvcc_row *r, int i, sqlite3_context *ctx);

#endif /* ROWCODEC_H */
