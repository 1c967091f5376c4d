/*
** extapi.h — lets a harness call the extension's files (those of ext/, built
** with MVCC_EXTENSION_BUILD) outside a loaded extension: they call SQLite
** through the sqlite3_api pointer that mvcc.c defines and
** sqlite3_mvcc_init sets.  fuzz_ext_init() sets it to SQLite's own routine
** table (handed to every auto-extension) without running the extension's
** init, which would open a store.
*/
#ifndef FUZZ_EXTAPI_H
#define FUZZ_EXTAPI_H

#include <sqlite3.h>
#include <stdlib.h>

struct sqlite3_api_routines;
extern const struct sqlite3_api_routines *sqlite3_api;

static int fuzz_grab_api(sqlite3 *db, char **err,
                         const struct sqlite3_api_routines *api) {
  (void)db;
  (void)err;
  sqlite3_api = api;
  return SQLITE_OK;
}

/* Opens an in-memory connection (returned) with sqlite3_api set. */
static sqlite3 *fuzz_ext_init(void) {
  sqlite3 *db = NULL;
  sqlite3_auto_extension((void (*)(void))fuzz_grab_api);
  if (sqlite3_open(":memory:", &db) != SQLITE_OK || !sqlite3_api) abort();
  return db;
}

#endif
