/*
** marker.c — `mvcc_txn`, the marker table.
**
** SQLite tells a virtual table nothing about a transaction that only reads
** it: no xBegin, no xSync, no xCommit.  To end a read-only BEGIN ... COMMIT
** at COMMIT (and not at some later statement), the first read inside BEGIN
** runs `DELETE FROM temp.mvcc_txn WHERE 0` on this table (conn.c).  The
** statement deletes nothing, but it is a write, so SQLite calls this
** table's xBegin and later its xSync/xCommit or xRollback, and savepoint
** calls in between — which the connection forwards to its kvcore
** transactions exactly as for an mvcc table.
**
** Every connection gets its own marker in its temp schema when the
** extension loads.  It has no rows; inserting into it and dropping it are
** refused.
*/
#include "mvcc_int.h"

#include <string.h>

typedef struct marker_vtab {
  sqlite3_vtab base;
  mvcc_conn *conn;
  mvcc_txcheck txcheck;     /* SQLite's call order, asserted */
} marker_vtab;

static int markerConnect(sqlite3 *db, void *aux, int argc,
                         const char *const *argv, sqlite3_vtab **out,
                         char **pzErr) {
  (void)argc;
  if (strcmp(argv[1], "temp") != 0) {
    *pzErr = sqlite3_mprintf("mvcc_txn belongs in the temp schema");
    return SQLITE_ERROR;
  }
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(marker)");
  if (rc) return rc;
  marker_vtab *m = sqlite3_malloc64(sizeof(*m));
  if (!m) return SQLITE_NOMEM;
  memset(m, 0, sizeof(*m));
  m->conn = aux;
  *out = &m->base;
  return SQLITE_OK;
}

static int markerCreate(sqlite3 *db, void *aux, int argc,
                        const char *const *argv, sqlite3_vtab **out,
                        char **pzErr) {
  int rc = markerConnect(db, aux, argc, argv, out, pzErr);
  if (rc == SQLITE_OK)
    mvcc_txcheck_step(&((marker_vtab *)*out)->txcheck, MVCC_TX_BEGIN, 0);
  return rc;
}

static int markerDisconnect(sqlite3_vtab *vt) {
  sqlite3_free(vt);
  return SQLITE_OK;
}

/* DROP TABLE: refused.  Without the marker a read-only transaction could
** not end at its COMMIT, and it cannot be made again from where it is
** missed (inside a statement, SQLite creates a virtual table in main). */
static int markerDestroy(sqlite3_vtab *vt) {
  return mvcc_vtab_error(vt, SQLITE_ERROR,
                         sqlite3_mprintf("mvcc_txn belongs to the mvcc "
                                         "extension and cannot be dropped"));
}

static int markerBestIndex(sqlite3_vtab *vt, sqlite3_index_info *info) {
  (void)vt;
  info->estimatedCost = 1;
  info->estimatedRows = 0;
  return SQLITE_OK;
}

static int markerOpen(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  (void)vt;
  sqlite3_vtab_cursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *out = c;
  return SQLITE_OK;
}

static int markerClose(sqlite3_vtab_cursor *c) {
  sqlite3_free(c);
  return SQLITE_OK;
}

static int markerFilter(sqlite3_vtab_cursor *c, int n, const char *s, int argc,
                        sqlite3_value **argv) {
  (void)c, (void)n, (void)s, (void)argc, (void)argv;
  return SQLITE_OK;
}

static int markerNext(sqlite3_vtab_cursor *c) {
  (void)c;
  return SQLITE_OK;
}

static int markerEof(sqlite3_vtab_cursor *c) {
  (void)c;
  return 1;
}

static int markerColumn(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int i) {
  (void)c, (void)ctx, (void)i;
  return SQLITE_OK;
}

static int markerRowid(sqlite3_vtab_cursor *c, sqlite3_int64 *r) {
  (void)c;
  *r = 0;
  return SQLITE_OK;
}

static int markerUpdate(sqlite3_vtab *vt, int argc, sqlite3_value **argv,
                        sqlite3_int64 *r) {
  (void)argc, (void)argv, (void)r;
  return mvcc_vtab_error(vt, SQLITE_READONLY,
                         sqlite3_mprintf("mvcc_txn is a marker table with no "
                                         "rows"));
}

static int markerBegin(sqlite3_vtab *vt) {
  marker_vtab *m = (marker_vtab *)vt;
  mvcc_txcheck_step(&m->txcheck, MVCC_TX_BEGIN, 0);
  m->conn->enrolled = true;
  return SQLITE_OK;
}

static int markerSync(sqlite3_vtab *vt) {
  marker_vtab *m = (marker_vtab *)vt;
  mvcc_txcheck_step(&m->txcheck, MVCC_TX_SYNC, 0);
  char *err = NULL;
  int rc = mvcc_conn_sync(m->conn, &err);
  return rc ? mvcc_vtab_error(vt, rc, err) : SQLITE_OK;
}

static int markerCommit(sqlite3_vtab *vt) {
  mvcc_txcheck_step(&((marker_vtab *)vt)->txcheck, MVCC_TX_COMMIT, 0);
  mvcc_conn_commit(((marker_vtab *)vt)->conn);
  return SQLITE_OK;
}

static int markerRollback(sqlite3_vtab *vt) {
  mvcc_txcheck_step(&((marker_vtab *)vt)->txcheck, MVCC_TX_ROLLBACK, 0);
  mvcc_conn_rollback(((marker_vtab *)vt)->conn);
  return SQLITE_OK;
}

static int markerSavepoint(sqlite3_vtab *vt, int n) {
  mvcc_txcheck_step(&((marker_vtab *)vt)->txcheck, MVCC_TX_SAVEPOINT, n);
  char *err = NULL;
  int rc = mvcc_conn_savepoint(((marker_vtab *)vt)->conn, n, &err);
  return rc ? mvcc_vtab_error(vt, rc, err) : SQLITE_OK;
}

static int markerRelease(sqlite3_vtab *vt, int n) {
  mvcc_txcheck_step(&((marker_vtab *)vt)->txcheck, MVCC_TX_RELEASE, n);
  char *err = NULL;
  int rc = mvcc_conn_release(((marker_vtab *)vt)->conn, n, &err);
  return rc ? mvcc_vtab_error(vt, rc, err) : SQLITE_OK;
}

static int markerRollbackTo(sqlite3_vtab *vt, int n) {
  mvcc_txcheck_step(&((marker_vtab *)vt)->txcheck, MVCC_TX_ROLLBACK_TO, n);
  char *err = NULL;
  int rc = mvcc_conn_rollback_to(((marker_vtab *)vt)->conn, n, &err);
  return rc ? mvcc_vtab_error(vt, rc, err) : SQLITE_OK;
}

const sqlite3_module mvcc_marker_module = {
    .iVersion = 2,
    .xCreate = markerCreate,
    .xConnect = markerConnect,
    .xBestIndex = markerBestIndex,
    .xDisconnect = markerDisconnect,
    .xDestroy = markerDestroy,
    .xOpen = markerOpen,
    .xClose = markerClose,
    .xFilter = markerFilter,
    .xNext = markerNext,
    .xEof = markerEof,
    .xColumn = markerColumn,
    .xRowid = markerRowid,
    .xUpdate = markerUpdate,
    .xBegin = markerBegin,
    .xSync = markerSync,
    .xCommit = markerCommit,
    .xRollback = markerRollback,
    .xSavepoint = markerSavepoint,
    .xRelease = markerRelease,
    .xRollbackTo = markerRollbackTo,
};
