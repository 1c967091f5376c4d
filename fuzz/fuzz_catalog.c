/*
** fuzz_catalog.c — libFuzzer harness for catalog entry decoding
** (ext/catalog.c), as a damaged or hostile store presents entries.
**
** The first byte chooses the mode:
**   even: the rest is a table entry.  mvcc_catentry_decode() accepts it or
**         says SQLITE_CORRUPT, never reading outside it; an accepted
**         entry's definitions go where a store's do on load
**         (mvcc_split_args, mvcc_schema_parse) and must give a definition
**         or a clean error; and the declaration the extension runs for it
**         (CREATE VIRTUAL TABLE temp."name" USING mvcc(<args>)) must be
**         one statement, or be refused before it runs
**         (mvcc_catentry_declare_sql).
**   odd:  the rest is an index entry; mvcc_catindex_decode() accepts it
**         with 1 to 16 columns, or says SQLITE_CORRUPT.
*/
#include <string.h>

#include "extapi.h"
#include "fuzz.h"
#include "mvcc_int.h"

static sqlite3 *db;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  db = fuzz_ext_init();
  return 0;
}

static void table_entry(const uint8_t *p, size_t n) {
  mvcc_catentry e;
  memset(&e, 0, sizeof e);
  int rc = mvcc_catentry_decode(p, n, &e);
  FUZZ_CHECK(rc == SQLITE_OK || rc == SQLITE_CORRUPT || rc == SQLITE_NOMEM,
             "rc %d", rc);
  if (rc == SQLITE_OK) {
    FUZZ_CHECK(e.name && e.args, "an entry without name or args");
    char *sql = NULL, *err = NULL;
    rc = mvcc_catentry_declare_sql(db, &e, NULL, &sql, &err);
    FUZZ_CHECK((rc == SQLITE_OK) == (sql != NULL) &&
                   (rc == SQLITE_OK || (err && err[0])),
               "declare_sql rc %d", rc);
    if (sql) {
      sqlite3_stmt *st = NULL, *more = NULL;
      const char *tail = NULL;
      if (sqlite3_prepare_v2(db, sql, -1, &st, &tail) == SQLITE_OK) {
        FUZZ_CHECK(sqlite3_prepare_v2(db, tail, -1, &more, NULL) ==
                           SQLITE_OK &&
                       !more,
                   "a declaration that is several statements: %s", sql);
      }
      sqlite3_finalize(st);
      sqlite3_finalize(more);
    }
    sqlite3_free(sql);
    sqlite3_free(err);
    if (strlen(e.args) < 4096) {
      char **argv;
      int argc;
      if (mvcc_split_args(e.args, &argv, &argc) == SQLITE_OK) {
        mvcc_tabledef *d = NULL;
        char *perr = NULL;
        rc = mvcc_schema_parse(db, e.name, argc, (const char *const *)argv,
                               &d, &perr);
        FUZZ_CHECK(rc == SQLITE_OK ? d && !perr : !d && perr && perr[0],
                   "schema rc %d", rc);
        sqlite3_free(perr);
        mvcc_tabledef_free(d);
        mvcc_free_args(argv, argc);
      }
    }
  }
  mvcc_catentry_clear(&e);
}

static void index_entry(const uint8_t *p, size_t n) {
  mvcc_catindex x;
  int rc = mvcc_catindex_decode(p, n, &x);
  FUZZ_CHECK(rc == SQLITE_OK || rc == SQLITE_CORRUPT || rc == SQLITE_NOMEM,
             "rc %d", rc);
  if (rc == SQLITE_OK) {
    FUZZ_CHECK(x.ix.ncol >= 1 && x.ix.ncol <= MVCC_MAX_KEY_COLUMNS && x.ix.name,
               "ncol %d", x.ix.ncol);
    for (int k = 0; k < x.ix.ncol; k++)
      FUZZ_CHECK(x.ix.col[k] >= 0 && x.ix.col[k] <= 0xFFFF, "column %d",
                 x.ix.col[k]);
  }
  mvcc_catindex_clear(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!db) LLVMFuzzerInitialize(NULL, NULL);
  if (size == 0 || size > 8192) return 0;
  /* An exact copy, so a read past the entry is a read past the heap
  ** block. */
  uint8_t *p = malloc(size - 1 ? size - 1 : 1);
  if (!p) return 0;
  memcpy(p, data + 1, size - 1);
  if (!(data[0] & 1)) table_entry(p, size - 1);
  else index_entry(p, size - 1);
  free(p);
  return 0;
}
