/*
** backup.c — `mvcc_backup(DIR [, STORE])`, an online backup of a store.
**
**     SELECT mvcc_backup('/backups/app-0712.db-mvcc');
**     -> '2026-12-07 12:34:56.123456789'
**
** Writes a consistent copy of the connection's default store (or of the
** store in directory STORE) into the new directory DIR while other
** connections keep writing, and returns the copy's timestamp T as text
** (tstext.h): every transaction that committed at or below T is in the
** copy, and no transaction is in it in part (kv_store_checkpoint in
** kvcore/checkpoint.c argues it).  The copy may also hold some
** transactions that committed after T, each whole and with everything
** they read; what it holds is a state some serial run of them produces.
**
** The copy is a complete store, catalog included: put it beside a copy of
** the main database file as "<file>-mvcc" (VACUUM INTO '<file>' makes that
** copy) and a connection that opens <file> and loads the extension has all
** its tables.  Table files are hard links to the store's where the file
** system allows, so a backup on the same file system costs little space
** and time until the store compacts those files away.
**
** DIR must not exist (its parent must); a relative DIR is resolved against
** the process's current directory, as the sqlite3 shell's own paths are.
** STORE is a store directory: one the connection attached, or any other
** store this process can open (it is opened for the backup and closed
** after; a directory without a store is refused, never created).  The
** in-memory store has no files to copy and is refused.
**
** Errors are for the statement only, never the surrounding transaction
** (SQLITE_IOERR would make SQLite roll that back): a bad argument, an
** existing DIR or the in-memory store is SQLITE_ERROR, a copy that cannot
** be written SQLITE_CANTOPEN, a store another process holds SQLITE_BUSY.
** A failed backup leaves nothing behind and the store untouched.
*/
#include "mvcc_int.h"
#include "tstext.h"

#include <string.h>
#include <sys/stat.h>

/* Fails the function call with code rc and message msg (freed here). */
static void backup_error(sqlite3_context *ctx, int rc, char *msg) {
  sqlite3_result_error(ctx, msg ? msg : sqlite3_errstr(rc), -1);
  sqlite3_result_error_code(ctx, rc);
  sqlite3_free(msg);
}

/* The SQLite code for a failed backup (see the header: statement only). */
static int backup_code(int krc) {
  switch (krc) {
    case KV_BUSY: return SQLITE_BUSY;
    case KV_NOMEM: return SQLITE_NOMEM;
    case KV_FULL: return SQLITE_FULL; /* the copy did not fit */
    case KV_IOERR:
    case KV_CORRUPT: return SQLITE_CANTOPEN;
    default: return SQLITE_ERROR;
  }
}

/* Opens the store in dir for the backup, without creating one: a reference
** the caller drops with kv_store_close(). */
static int backup_open_store(const char *dir, kv_store **out, char **pzErr) {
  *out = NULL;
  bool in_memory = !strcmp(dir, ":memory:");
  if (!in_memory) {
    struct stat st;
    char *current = sqlite3_mprintf("%s/CURRENT", dir);
    if (!current) return SQLITE_NOMEM;
    bool is_store = stat(current, &st) == 0;
    sqlite3_free(current);
    if (!is_store) {
      *pzErr = sqlite3_mprintf("mvcc_backup: there is no store in %Q", dir);
      return SQLITE_ERROR;
    }
  }
  kv_options o;
  kv_options_init(&o);
  o.create_if_missing = 0;
  char *err = NULL;
  int krc = kv_store_open(in_memory ? NULL : dir, &o, out, &err);
  if (krc) {
    *pzErr = sqlite3_mprintf("mvcc_backup: cannot open store %Q: %s", dir,
                             err ? err : kv_code_name(krc));
    kv_free(err);
    return backup_code(krc);
  }
  return SQLITE_OK;
}

void mvcc_backup_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  mvcc_conn *c = sqlite3_user_data(ctx);
  const char *dir = (const char *)sqlite3_value_text(argv[0]);
  const char *sdir = argc > 1 ? (const char *)sqlite3_value_text(argv[1])
                              : NULL;
  if (!dir || !*dir) {
    backup_error(ctx, SQLITE_ERROR,
                 sqlite3_mprintf("mvcc_backup: give the new directory to "
                                 "write the backup into"));
    return;
  }
  if (argc > 1 && (!sdir || !*sdir)) {
    backup_error(ctx, SQLITE_ERROR,
                 sqlite3_mprintf("mvcc_backup: the second argument names "
                                 "the store directory to back up"));
    return;
  }
  kv_store *s = NULL, *opened = NULL;
  char *msg = NULL;
  int rc = SQLITE_OK;
  if (sdir) {
    rc = backup_open_store(sdir, &opened, &msg);
    s = opened;
  } else if (c->dflt) {
    s = c->dflt->store;
  } else {
    rc = SQLITE_CANTOPEN;
    msg = sqlite3_mprintf("mvcc_backup: %s",
                          c->dflt_err ? c->dflt_err : "no default store");
  }
  if (rc) {
    backup_error(ctx, rc, msg);
    return;
  }
  kv_ts at;
  char *err = NULL;
  int krc = kv_store_checkpoint(s, dir, &at, &err);
  if (opened) kv_store_close(opened);
  if (krc) {
    msg = sqlite3_mprintf("mvcc_backup: %s", err ? err : kv_code_name(krc));
    kv_free(err);
    backup_error(ctx, backup_code(krc), msg);
    return;
  }
  char text[MVCC_TS_TEXT_MAX];
  size_t n = mvcc_ts_text(at, text);
  sqlite3_result_text(ctx, text, (int)n, SQLITE_TRANSIENT);
}
