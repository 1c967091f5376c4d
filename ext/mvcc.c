/*
** mvcc.c — the extension's entry point and per-connection setup.
**
**     .load ./build/mvcc                       (sqlite3 shell)
**     sqlite3_auto_extension((void(*)(void))sqlite3_mvcc_init);  (C)
**
** For each connection it loads into, the extension
**   1. registers the `mvcc` and `mvcc_txn` modules, with one mvcc_conn (the
**      connection's transaction state, conn.c) as their client data;
**   2. opens the connection's default store: the directory
**      "<main database file>-mvcc" beside the main database, or the
**      process's in-memory store when the main database is in memory or
**      temporary;
**   3. creates the marker table temp.mvcc_txn and declares every table of
**      the default store in temp (mvcc_declare_store_tables, below), so a
**      table created once is there for every connection, now and after a
**      restart;
**   4. registers the SQL functions mvcc_attach([dir]), which opens another
**      store (or, without an argument, the default one again) and declares
**      its tables, including tables other connections created since, and
**      mvcc_check(table [, dir]), which compares a table's indexes with
**      its rows, the index functions (mvcc_create_index, mvcc_drop_index,
**      mvcc_analyze), mvcc_lock_reads([on]), which makes the
**      connection's next transaction lock the rows it reads,
**      mvcc_backup(dir [, store]), an online backup (backup.c), and the
**      time travel functions mvcc_as_of and mvcc_commit_ts (timetravel.c);
**   5. registers the introspection tables (stats.c) and mvcc_history, the
**      row history and change feed (history.c).
** When another process writes the default store, the connection opens it
** as a reader (kvcore's reader.c): its tables are declared as usual, every
** transaction reads one snapshot caught up with that process when it
** begins, and writes, DDL and index functions fail with SQLITE_READONLY
** ("attempt to write a readonly database"), naming the writing process.
** The connection stays a reader until it closes, also after that process
** has ended (its transactions then read what this process writes); a
** connection opened after that process ended writes the store.
** If the default store is there (its directory holds RocksDB's files) but
** cannot be opened (damaged: CURRENT or MANIFEST missing, a table file
** that fails its checksum; unreadable; held by another process and not
** readable either), loading fails with the store's error, before anything
** is registered: the shell prints "error during initialization: mvcc: ..."
** at .load, Python's load_extension() raises it, and under
** sqlite3_auto_extension() sqlite3_open() itself fails with it ("automatic
** extension loading failed: ..."), so no program runs on with the store's
** tables silently missing ("no such table").  The same goes for a catalog
** entry of the store that does not decode: the load fails naming the
** table (the tables declared before it stay declared).  Native tables stay
** usable by loading nothing (in C: open the database without the auto
** extension).  If there is no store there and none can be made (the path
** is a file, the directory cannot be written), nothing of a store is
** missing: the extension loads, native tables keep working, and using the
** default store reports why it is unavailable.
**
** The init function returns SQLITE_OK_LOAD_PERMANENTLY: RocksDB's
** background threads must never see the library unloaded.  Loading it twice
** into one connection is harmless (the second load finds mvcc_attach and
** does nothing).
*/
#include "mvcc_int.h"

SQLITE_EXTENSION_INIT1

#include <dlfcn.h>
#include <string.h>

/* ----------------------------------------------- declaring the store -- */

typedef struct declare_ctx {
  mvcc_sconn *sc;
  bool strict;          /* a name taken by something else is an error */
  int declared;
  char **pzErr;
} declare_ctx;

/* What temp already has under name: 0 nothing, 1 an mvcc table, 2 other. */
static int temp_has(sqlite3 *db, const char *name) {
  sqlite3_stmt *st = NULL;
  int what = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT sql LIKE 'CREATE VIRTUAL TABLE % USING "
                         "mvcc(%' FROM temp.sqlite_master WHERE name = ?1 "
                         "COLLATE NOCASE",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) what = sqlite3_column_int(st, 0) ? 1 : 2;
  }
  sqlite3_finalize(st);
  return what;
}

int mvcc_catentry_declare_sql(sqlite3 *db, const mvcc_catentry *e,
                              const char *store, char **out, char **pzErr) {
  *out = NULL;
  char *qn = mvcc_quote_ident(e->name);
  char *sql = NULL;
  if (qn && !store)
    sql = sqlite3_mprintf("CREATE VIRTUAL TABLE temp.%s USING mvcc(%s)", qn,
                          e->args);
  else if (qn)
    sql = sqlite3_mprintf("CREATE VIRTUAL TABLE temp.%s USING "
                          "mvcc(%s, store=%Q)",
                          qn, e->args, store);
  sqlite3_free(qn);
  if (!sql) return SQLITE_NOMEM;
  /* The definitions come from the store, which may be damaged or made by
  ** someone else: spliced into SQL, text such as "a); DROP TABLE main.x;
  ** --" would run in the application's connection.  Only what SQLite reads
  ** as one statement is run (preparing a CREATE VIRTUAL TABLE runs nothing);
  ** a definition that does not even parse is left to the declaration,
  ** which reports SQLite's error. */
  sqlite3_stmt *st = NULL, *more = NULL;
  const char *tail = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
  if (rc == SQLITE_OK && tail && *tail) {
    rc = sqlite3_prepare_v2(db, tail, -1, &more, NULL);
    if (rc != SQLITE_OK || more) rc = SQLITE_CORRUPT;
  }
  sqlite3_finalize(st);
  sqlite3_finalize(more);
  if (rc == SQLITE_CORRUPT) {
    *pzErr = sqlite3_mprintf("mvcc: catalog entry of %s is corrupt: its "
                             "column definitions end the column list",
                             e->name);
    sqlite3_free(sql);
    return rc;
  }
  *out = sql;
  return SQLITE_OK;
}

static int declare_one(void *vctx, const mvcc_catentry *e) {
  declare_ctx *x = vctx;
  mvcc_conn *c = x->sc->conn;
  int has = temp_has(c->db, e->name);
  if (has == 1) return SQLITE_OK; /* declared already */
  if (has == 2) {
    if (!x->strict) return SQLITE_OK;
    *x->pzErr = sqlite3_mprintf("mvcc: cannot declare table %s of the store: "
                                "temp.%s is already something else",
                                e->name, e->name);
    return SQLITE_ERROR;
  }
  char *sql;
  int rc = mvcc_catentry_declare_sql(
      c->db, e, x->sc == c->dflt ? NULL : kv_store_path(x->sc->store), &sql,
      x->pzErr);
  if (rc) return rc;
  char *err = NULL;
  rc = sqlite3_exec(c->db, sql, NULL, NULL, &err);
  sqlite3_free(sql);
  if (rc) {
    *x->pzErr = sqlite3_mprintf("mvcc: cannot declare table %s: %s", e->name,
                                err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return rc;
  }
  x->declared++;
  return SQLITE_OK;
}

int mvcc_declare_store_tables(mvcc_sconn *sc, bool strict, int *declared,
                              char **pzErr) {
  declare_ctx x = {sc, strict, 0, pzErr};
  int rc = mvcc_catalog_list(sc->store, declare_one, &x, pzErr);
  if (declared) *declared = x.declared;
  return rc;
}

/* mvcc_check(table [, dir]): "ok" when every index of the table agrees
** with its rows, else what disagrees (like PRAGMA integrity_check). */
static void check_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  mvcc_conn *c = sqlite3_user_data(ctx);
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  const char *dir = argc > 1 ? (const char *)sqlite3_value_text(argv[1]) : NULL;
  char *err = NULL, *report = NULL;
  mvcc_sconn *sc = c->dflt;
  int rc = SQLITE_OK;
  if (!name) {
    err = sqlite3_mprintf("mvcc_check: give the name of an mvcc table");
    rc = SQLITE_ERROR;
  } else if (dir && *dir) {
    rc = mvcc_conn_store(c, dir, &sc, &err);
  } else if (!sc) {
    err = sqlite3_mprintf("%s", c->dflt_err ? c->dflt_err
                                            : "mvcc: no default store");
    rc = SQLITE_CANTOPEN;
  }
  if (rc == SQLITE_OK) rc = mvcc_check_table(sc, name, &report, &err);
  if (rc) {
    sqlite3_result_error(ctx, err ? err : sqlite3_errstr(rc), -1);
    sqlite3_result_error_code(ctx, rc);
  } else {
    sqlite3_result_text(ctx, report, -1, sqlite3_free);
  }
  sqlite3_free(err);
}

/* The result of an index function: an error (rc, err: freed here), NULL
** (rows < 0) or rows. */
static void index_fn_result(sqlite3_context *ctx, int rc, char *err,
                            int64_t rows) {
  if (rc) {
    sqlite3_result_error(ctx, err ? err : sqlite3_errstr(rc), -1);
    sqlite3_result_error_code(ctx, rc);
  } else if (rows < 0) {
    sqlite3_result_null(ctx);
  } else {
    sqlite3_result_int64(ctx, rows);
  }
  sqlite3_free(err);
}

/* mvcc_create_index(name, table, columns [, 'unique']): builds an index
** online and returns the rows it indexed. */
static void create_index_fn(sqlite3_context *ctx, int argc,
                            sqlite3_value **argv) {
  mvcc_conn *c = sqlite3_user_data(ctx);
  const char *kind = argc > 3 ? (const char *)sqlite3_value_text(argv[3]) : NULL;
  char *err = NULL;
  int64_t rows = 0;
  int rc = SQLITE_OK;
  if (kind && sqlite3_stricmp(kind, "unique") != 0) {
    err = sqlite3_mprintf("mvcc_create_index: the fourth argument is "
                          "'unique' or absent, not %Q", kind);
    rc = SQLITE_ERROR;
  } else {
    rc = mvcc_index_create(c, (const char *)sqlite3_value_text(argv[0]),
                           (const char *)sqlite3_value_text(argv[1]),
                           (const char *)sqlite3_value_text(argv[2]),
                           kind != NULL, &rows, &err);
  }
  index_fn_result(ctx, rc, err, rows);
}

/* mvcc_analyze(table): gathers the table's statistics; returns its rows. */
static void analyze_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  mvcc_conn *c = sqlite3_user_data(ctx);
  char *err = NULL;
  int64_t rows = 0;
  int rc = mvcc_index_analyze(c, (const char *)sqlite3_value_text(argv[0]),
                              &rows, &err);
  index_fn_result(ctx, rc, err, rows);
}

/* mvcc_drop_index(name). */
static void drop_index_fn(sqlite3_context *ctx, int argc,
                          sqlite3_value **argv) {
  (void)argc;
  mvcc_conn *c = sqlite3_user_data(ctx);
  char *err = NULL;
  int rc = mvcc_index_drop(c, (const char *)sqlite3_value_text(argv[0]), &err);
  index_fn_result(ctx, rc, err, -1);
}

/* A value as a message shows it: 2, 'yes', NULL, a blob. */
static char *shown_value(sqlite3_value *v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_NULL: return sqlite3_mprintf("NULL");
    case SQLITE_BLOB: return sqlite3_mprintf("a blob");
    case SQLITE_TEXT: return sqlite3_mprintf("%Q", sqlite3_value_text(v));
    default: return sqlite3_mprintf("%s", sqlite3_value_text(v));
  }
}

/* mvcc_lock_reads([on]): on 1 makes the connection's next transaction lock
** the rows it reads (for hot keys), 0 takes that back; returns whether the
** current transaction, once it has touched a store, or else the next one
** locks what it reads (a retry does without asking).  conn.c has the
** rules. */
static void lock_reads_fn(sqlite3_context *ctx, int argc,
                          sqlite3_value **argv) {
  mvcc_conn *c = sqlite3_user_data(ctx);
  int on = -1;
  if (argc > 0) {
    sqlite3_int64 v = sqlite3_value_int64(argv[0]);
    if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER || (v != 0 && v != 1)) {
      char *what = shown_value(argv[0]);
      char *m = what ? sqlite3_mprintf("mvcc_lock_reads: the argument is 1 "
                                       "(the next transaction locks the rows "
                                       "it reads) or 0, not %s",
                                       what)
                     : NULL;
      sqlite3_free(what);
      sqlite3_result_error(ctx, m ? m : "mvcc_lock_reads: bad argument", -1);
      sqlite3_free(m);
      return;
    }
    on = (int)v;
  }
  int locks = 0;
  char *err = NULL;
  int rc = mvcc_conn_lock_reads(c, on, &locks, &err);
  if (rc) {
    sqlite3_result_error(ctx, err ? err : sqlite3_errstr(rc), -1);
    sqlite3_result_error_code(ctx, rc);
    sqlite3_free(err);
    return;
  }
  sqlite3_result_int(ctx, locks);
}

/* mvcc_attach([dir]): declares the tables of a store in temp that are not
** declared yet; returns how many it declared.  A name temp already uses for
** something else (a temp table of the application's) is an error. */
static void attach_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  mvcc_conn *c = sqlite3_user_data(ctx);
  const char *dir = argc > 0 ? (const char *)sqlite3_value_text(argv[0]) : NULL;
  char *err = NULL;
  mvcc_sconn *sc = NULL;
  int rc;
  if (dir && *dir) {
    rc = mvcc_conn_store(c, dir, &sc, &err);
  } else if (c->dflt) {
    sc = c->dflt;
    rc = SQLITE_OK;
  } else {
    /* Try the default store again: its holder may be gone. */
    const char *main = sqlite3_db_filename(c->db, "main");
    char *path = main && *main ? sqlite3_mprintf("%s-mvcc", main) : NULL;
    rc = mvcc_conn_store(c, path, &sc, &err);
    sqlite3_free(path);
    if (rc == SQLITE_OK) {
      c->dflt = sc;
      sqlite3_free(c->dflt_err);
      c->dflt_err = NULL;
    }
  }
  int declared = 0;
  if (rc == SQLITE_OK) rc = mvcc_declare_store_tables(sc, true, &declared, &err);
  if (rc) {
    if (!err)
      err = sqlite3_mprintf("mvcc_attach(%Q): %s", dir ? dir : "",
                            sqlite3_errstr(rc));
    sqlite3_result_error(ctx, err ? err : sqlite3_errstr(rc), -1);
    sqlite3_result_error_code(ctx, rc);
    sqlite3_free(err);
    return;
  }
  sqlite3_result_int(ctx, declared);
}

static bool already_loaded(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  bool found = false;
  if (sqlite3_prepare_v2(db,
                         "SELECT 1 FROM pragma_function_list WHERE name = "
                         "'mvcc_attach'",
                         -1, &st, NULL) == SQLITE_OK)
    found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return found;
}

/* A failed load makes SQLite dlclose() the library; it must stay (a
** failed RocksDB open may have started RocksDB's thread pool, and what was
** registered before the failure points into it).  RTLD_NODELETE on our
** own handle makes that dlclose() keep it loaded, as
** SQLITE_OK_LOAD_PERMANENTLY does for a load that succeeds.  Returns rc. */
static int load_failed(char **pzErrMsg, char *msg, int rc) {
  Dl_info info;
  if (dladdr((void *)load_failed, &info) && info.dli_fname) {
    void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    if (h) dlclose(h); /* the flag stays */
  }
  *pzErrMsg = msg;
  return rc ? rc : SQLITE_ERROR;
}

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_mvcc_init(sqlite3 *db, char **pzErrMsg,
                      const sqlite3_api_routines *pApi) {
  /* SQLITE_EXTENSION_INIT2, made safe for connections opened at once on
  ** many threads (sqlite3_auto_extension): set once, with a barrier. */
  const sqlite3_api_routines *cur = __atomic_load_n(&sqlite3_api,
                                                    __ATOMIC_ACQUIRE);
  if (!cur &&
      !__atomic_compare_exchange_n(&sqlite3_api, &cur, pApi, false,
                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    cur = __atomic_load_n(&sqlite3_api, __ATOMIC_ACQUIRE);
  if (cur && cur != pApi)
    return SQLITE_ERROR; /* loaded into two different SQLite libraries */
  if (mvcc_schema_opening_scratch() || already_loaded(db))
    return SQLITE_OK_LOAD_PERMANENTLY;
  mvcc_conn *c = mvcc_conn_new(db);
  if (!c) return SQLITE_NOMEM;

  /* The default store first: one that is there but cannot be opened fails
  ** the load before anything is registered. */
  const char *main = sqlite3_db_filename(db, "main");
  char *path = main && *main ? sqlite3_mprintf("%s-mvcc", main) : NULL;
  char *dflt_err = NULL;
  mvcc_sconn *dflt = NULL;
  int rc = mvcc_conn_store(c, path, &dflt, &dflt_err);
  if (rc != SQLITE_OK && path && kv_store_exists(path)) {
    char *m = sqlite3_mprintf("%s; its tables are not declared",
                              dflt_err ? dflt_err : sqlite3_errstr(rc));
    sqlite3_free(dflt_err);
    sqlite3_free(path);
    mvcc_conn_free(c);
    return load_failed(pzErrMsg, m, rc);
  }
  sqlite3_free(path);
  if (rc != SQLITE_OK) {
    /* Not fatal: native tables keep working; mvcc tables say why not. */
    c->dflt_err = dflt_err;
    dflt = NULL;
  }

  rc = sqlite3_create_module_v2(db, "mvcc", &mvcc_module, c,
                                    mvcc_conn_free);
  if (rc != SQLITE_OK) {
    /* create_module_v2 has already called the destructor on failure. */
    return load_failed(pzErrMsg,
                       sqlite3_mprintf("mvcc: cannot register the module"), rc);
  }
  rc = sqlite3_create_module_v2(db, "mvcc_txn", &mvcc_marker_module, c, NULL);
  static const struct {
    const char *name;
    int nargs;
    void (*fn)(sqlite3_context *, int, sqlite3_value **);
  } fns[] = {{"mvcc_attach", 0, attach_fn}, {"mvcc_attach", 1, attach_fn},
             {"mvcc_check", 1, check_fn},   {"mvcc_check", 2, check_fn},
             {"mvcc_create_index", 3, create_index_fn},
             {"mvcc_create_index", 4, create_index_fn},
             {"mvcc_drop_index", 1, drop_index_fn},
             {"mvcc_analyze", 1, analyze_fn},
             {"mvcc_lock_reads", 0, lock_reads_fn},
             {"mvcc_lock_reads", 1, lock_reads_fn},
             {"mvcc_backup", 1, mvcc_backup_fn},
             {"mvcc_backup", 2, mvcc_backup_fn}};
  for (size_t i = 0; rc == SQLITE_OK && i < sizeof fns / sizeof fns[0]; i++)
    rc = sqlite3_create_function(db, fns[i].name, fns[i].nargs, SQLITE_UTF8, c,
                                 fns[i].fn, NULL, NULL);
  if (rc == SQLITE_OK) rc = mvcc_register_stats(db, c);
  if (rc == SQLITE_OK) rc = mvcc_register_history(db, c);
  if (rc == SQLITE_OK) rc = mvcc_register_timetravel(db, c);
  if (rc != SQLITE_OK)
    return load_failed(pzErrMsg, sqlite3_mprintf("mvcc: %s",
                                                 sqlite3_errmsg(db)), rc);
  if (sqlite3_exec(db, "CREATE VIRTUAL TABLE IF NOT EXISTS temp.mvcc_txn "
                       "USING mvcc_txn",
                   NULL, NULL, NULL) != SQLITE_OK)
    return load_failed(pzErrMsg,
                       sqlite3_mprintf("mvcc: cannot create temp.mvcc_txn: %s",
                                       sqlite3_errmsg(db)),
                       SQLITE_ERROR);

  if (dflt) {
    char *err = NULL;
    c->dflt = dflt;
    rc = mvcc_declare_store_tables(dflt, false, NULL, &err);
    if (rc != SQLITE_OK) {
      char *m = sqlite3_mprintf("%s (while declaring the tables of the "
                                "store %s; the catalog's tables from there on "
                                "are not declared)",
                                err ? err : sqlite3_errstr(rc),
                                kv_store_path(dflt->store));
      sqlite3_free(err);
      return load_failed(pzErrMsg, m, rc);
    }
  }
  return SQLITE_OK_LOAD_PERMANENTLY;
}
