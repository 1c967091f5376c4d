/*
** errors.c — how the extension reports errors to SQLite.  A leaf module:
** it calls into no other file of ext/.
**
** Two rules hold everywhere in ext/:
**   1. A failure carries a message that says what failed and why, in terms
**      of the user's tables and statements; a kvcore failure passes kvcore's
**      own message through, never just the name of its code.
**   2. Setting a message frees the one it replaces (a virtual table's
**      zErrMsg, or a *pzErr that an earlier step set).
**
** kvcore codes map onto SQLite's by what the caller should do next:
**     KV_RETRY    SQLITE_BUSY (SQLITE_BUSY_SNAPSHOT at commit, so that SQLite
**                 rolls the transaction back instead of keeping it open)
**     KV_BUSY     SQLITE_BUSY          the store is held by another process
**     KV_READONLY SQLITE_READONLY      a write to a store another process
**                                      writes (this one reads it)
**     KV_IOERR    SQLITE_IOERR
**     KV_FULL     SQLITE_FULL          a full disk: the write had no effect
**     KV_CORRUPT  SQLITE_CORRUPT
**     KV_NOMEM    SQLITE_NOMEM
**     others      SQLITE_ERROR
*/
#include "mvcc_int.h"

void mvcc_set_error(char **pzErr, char *msg) {
  if (!pzErr) {
    sqlite3_free(msg);
    return;
  }
  sqlite3_free(*pzErr);
  *pzErr = msg;
}

int mvcc_vtab_error(sqlite3_vtab *vt, int rc, char *msg) {
  mvcc_set_error(&vt->zErrMsg, msg);
  return rc;
}

char *mvcc_reader_error(kv_store *s) {
  long pid = kv_store_writer_pid(s);
  const char *path = *kv_store_path(s) ? kv_store_path(s) : ":memory:";
  if (pid > 0)
    return sqlite3_mprintf("mvcc: attempt to write a readonly database: the "
                           "store %s is written by process %ld; this "
                           "process only reads it",
                           path, pid);
  return sqlite3_mprintf("mvcc: attempt to write a readonly database: the "
                         "store %s was written by another process when this "
                         "connection opened it, so it only reads it (that "
                         "process has ended: a new connection writes it)",
                         path);
}

int mvcc_kv_error(int kvrc, const char *msg, bool at_commit, char **pzErr) {
  int rc;
  switch (kvrc) {
    case KV_OK:
    case KV_NOTFOUND: return SQLITE_OK;
    case KV_RETRY: rc = at_commit ? SQLITE_BUSY_SNAPSHOT : SQLITE_BUSY; break;
    case KV_BUSY: rc = SQLITE_BUSY; break;
    case KV_READONLY: rc = SQLITE_READONLY; break;
    case KV_IOERR: rc = SQLITE_IOERR; break;
    case KV_FULL: rc = SQLITE_FULL; break;
    case KV_CORRUPT: rc = SQLITE_CORRUPT; break;
    case KV_NOMEM: rc = SQLITE_NOMEM; break;
    default: rc = SQLITE_ERROR; break;
  }
  if (kvrc == KV_RETRY)
    mvcc_set_error(pzErr, sqlite3_mprintf("%s", msg ? msg : "restart transaction"));
  else
    mvcc_set_error(pzErr, sqlite3_mprintf("mvcc: %s", msg ? msg : kv_code_name(kvrc)));
  return rc;
}
