/*
** conn.c — SQLite's transactions mapped onto kvcore's, per connection.
**
** Each SQLite connection has one mvcc_conn (the module's client data) and,
** per store it uses, one mvcc_sconn holding the connection's current kvcore
** transaction on that store.  Facts of SQLite (3.40: vtab.c, vdbe.c,
** vdbeaux.c) this relies on: xBegin comes only for statements that
** write a virtual table; a read-only BEGIN ... COMMIT gets no callback at
** all; xSync errors abort a COMMIT and reach the user; xCommit's result is
** ignored; a virtual table's SQLITE_BUSY only undoes the statement.
**
** Two kinds of kvcore transaction:
**   MVCC_TXN_AUTO  a read in autocommit mode with no write under way: a
**                  read-only snapshot for the statement, ended when its last
**                  cursor closes (SQLite's own read transaction lasts as
**                  long as its statement, too).
**   MVCC_TXN_SQL   part of SQLite's transaction: begun by the first xBegin
**                  (a write) or, inside BEGIN, by the first read; ended by
**                  SQLite's xSync / xCommit / xRollback.  A read inside BEGIN
**                  gets no hook at all, so the first one runs
**                  `DELETE FROM temp.mvcc_txn WHERE 0` on the marker table
**                  (marker.c): that no-op write enrolls the connection in
**                  SQLite's transaction, so the marker's xSync/xRollback mark
**                  the end even when no mvcc table is written.  Under PRAGMA
**                  query_only the pragma is lifted for that one statement.
**
** Commit is two-phase: the first xSync of a COMMIT prepares every SQL
** transaction of the connection (kv_txn_prepare: the validation, so every
** conflict reaches the user as a failed COMMIT); SQLite then commits its
** own btrees, and xCommit writes the prepared transactions, or xRollback
** aborts them when SQLite's commit failed.  When the transaction writes no
** database file but the private temp schema, SQLite's commit cannot fail
** that way, and xSync writes at once (the rows are not kept latched).
** Later xSync calls are no-ops.  A retryable failure is returned as
** SQLITE_BUSY_SNAPSHOT: its primary code is SQLITE_BUSY, and unlike plain
** SQLITE_BUSY it makes SQLite roll the transaction back rather than keep it
** open for a retried COMMIT.  Inside BEGIN, a statement that hits a
** retryable error leaves the kvcore transaction dead: every later statement
** fails with the same message until ROLLBACK (or the failed COMMIT).  The
** next transaction on the connection is begun as its retry (kvcore keeps
** its age and raises its priority, so it cannot starve).
**
** Hot keys: that retry also locks every row it reads (kvcore's lock_reads:
** each read is a locking read, as an UPDATE's are), so the rows that
** changed under the failed attempt cannot change under the retry; it
** waits for their locks instead of failing on them again.  So does the
** next transaction after SELECT mvcc_lock_reads(1).  "Next" means the next
** SQL transaction that begins a kvcore transaction: autocommit SELECTs are
** read-only kvcore transactions, which cannot lock, and neither lock nor
** use up the retry or the request; the transaction that ends (commit or
** rollback, on whichever stores) uses up both, and if it fails the one
** after it is a retry again.  The ext cannot know at begin whether a
** transaction inside BEGIN will write, so such a retry locks even if it
** turns out only to read; but one that reads without locking never fails
** with restart, so what is retried wrote or locked before.  The locks are
** write locks, released when the transaction commits or aborts; none of
** this touches the latches, which only a commit takes (xSync to xCommit at
** the longest, as above).
**
** Savepoints: SQLite numbers savepoints (user and per-statement) 0, 1, ...;
** each SQL transaction keeps the kvcore mark of every open level.  Every
** enrolled table receives the same calls, so a level's mark is set only by
** the first xSavepoint for it; a table that joins late gets
** xSavepoint(n-1) for levels opened before its transaction began, which
** then all start at the transaction's beginning.
**
** Time travel (timetravel.c): after SELECT mvcc_as_of(T) inside BEGIN, and
** before the transaction touches a store, every kvcore transaction the SQL
** transaction begins is read-only at read_ts T (admitted again per store by
** mvcc_asof_admit).  mvcc_as_of enrolls the connection through the marker
** at once, so the request ends with the SQL transaction even when it
** touches no mvcc table.  Its writes are refused (xBegin, xUpdate).  It is
** not "the next transaction" of the rules above: it neither uses up nor
** becomes a retry, nor a request for locking reads.  A transaction that
** commits a write records its commit timestamp for mvcc_commit_ts().
**
** Lock waits use the connection's busy timeout (PRAGMA busy_timeout, read
** only when a wait actually happens) or else the store's lock timeout.
*/
#include "mvcc_int.h"
#include "tstext.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------ call-order checks -- */

void mvcc_txcheck_step(mvcc_txcheck *c, int op, int n) {
  (void)n; /* read only by the asserts */
  switch (op) {
    case MVCC_TX_BEGIN:
      assert(c->state == 0);
      c->state = 1;
      c->savepoint = -1;
      break;
    case MVCC_TX_SYNC:
      assert(c->state == 1 || c->state == 2);
      c->state = 2;
      break;
    case MVCC_TX_COMMIT:
      assert(c->state == 2);
      c->state = 0;
      break;
    case MVCC_TX_ROLLBACK:
      c->state = 0;
      break;
    case MVCC_TX_SAVEPOINT:
      assert(c->state >= 1);
      assert(n >= 0 && n >= c->savepoint);
      c->state = 1;
      c->savepoint = n;
      break;
    case MVCC_TX_RELEASE:
      assert(c->state >= 1);
      assert(n >= 0);
      c->state = 1;
      c->savepoint = n - 1;
      break;
    case MVCC_TX_ROLLBACK_TO:
      assert(c->state >= 1);
      assert(n >= -1);
      c->state = 1;
      c->savepoint = n;
      break;
    default: assert(0); break;
  }
}

/* ---------------------------------------------------- retry messages -- */

/* "a row of t", for the key a conflict was about. */
static char *key_owner(kv_store *s, const unsigned char *k, size_t kl) {
  if (kl < MVCC_KEY_PREFIX_LEN || k[0] != MVCC_ROW_PREFIX)
    return sqlite3_mprintf("the store's catalog");
  char *name = NULL, *err = NULL;
  mvcc_catalog_name_of(s, mvcc_row_table_id(k), &name, &err);
  sqlite3_free(err);
  char *r = name ? sqlite3_mprintf("a row of %s", name)
                 : sqlite3_mprintf("a row of a dropped table");
  sqlite3_free(name);
  return r;
}

char *mvcc_retry_message(kv_store *s, kv_txn *t, const char *kvmsg) {
  kv_retry_reason r = t ? kv_txn_retry_reason(t) : KV_RETRY_NONE;
  size_t kl = 0;
  const unsigned char *k = t ? kv_txn_retry_key(t, &kl) : NULL;
  if (r == KV_RETRY_NONE || !k)
    return sqlite3_mprintf("%s", kvmsg ? kvmsg : "restart transaction");
  char *what = key_owner(s, k, kl);
  const char *why = kv_retry_reason_name(r);
  char *m;
  switch (r) {
    case KV_RETRY_LOCK_TIMEOUT:
      m = sqlite3_mprintf("restart transaction: %s: another transaction held "
                          "the lock on %s longer than the busy timeout",
                          why, what);
      break;
    case KV_RETRY_WRITE_CONFLICT:
    case KV_RETRY_READ_REFRESH:
      m = sqlite3_mprintf("restart transaction: %s: another transaction "
                          "changed %s after this one read it",
                          why, what);
      break;
    default:
      m = sqlite3_mprintf("restart transaction: %s (while waiting for the "
                          "lock on %s)",
                          why, what);
      break;
  }
  sqlite3_free(what);
  return m;
}

int mvcc_txn_fail(mvcc_sconn *sc, kv_txn *t, int krc, char *err,
                  bool at_commit, char **pzErr) {
  int rc = mvcc_kv_error(krc, err, at_commit, pzErr);
  if (krc == KV_RETRY && pzErr) {
    mvcc_note_failure(sc);
    mvcc_set_error(pzErr, mvcc_retry_message(sc->store, t, err));
  }
  kv_free(err);
  return rc;
}

void mvcc_note_failure(mvcc_sconn *sc) {
  mvcc_txn *t = sc->cur;
  if (t && t->kv && kv_txn_retry_reason(t->kv) != KV_RETRY_NONE) {
    kv_txn_retry_info(t->kv, &sc->retry);
    sc->has_retry = true;
  }
}

/* ------------------------------------------------------- connections -- */

mvcc_conn *mvcc_conn_new(sqlite3 *db) {
  mvcc_conn *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return NULL;
  memset(c, 0, sizeof(*c));
  c->db = db;
  return c;
}

static void txn_free_if_done(mvcc_txn *t);

/* Ends t's kvcore transaction: commit (read-only ones) or abort. */
static void txn_finish_kv(mvcc_txn *t) {
  if (!t->kv) return;
  if (t->read_only) {
    if (kv_txn_commit(t->kv, NULL, NULL) != KV_OK) kv_txn_abort(t->kv);
  } else {
    kv_txn_abort(t->kv);
  }
  t->kv = NULL;
}

/* Detaches t from its store-connection; it dies with its last cursor. */
static void txn_detach(mvcc_txn *t) {
  if (t->sc && t->sc->cur == t) t->sc->cur = NULL;
  t->attached = false;
  txn_free_if_done(t);
}

static void txn_free_if_done(mvcc_txn *t) {
  if (t->attached || t->cursors > 0) return;
  txn_finish_kv(t);
  free(t->sp);
  free(t->deltas);
  free(t);
}

void mvcc_txn_count_rows(mvcc_txn *t, uint64_t table, int64_t rows) {
  if (rows == 0) return;
  int i = 0;
  while (i < t->ndelta && t->deltas[i].table != table) i++;
  if (i == t->ndelta) {
    if (t->ndelta == t->capdelta) {
      int cap = t->capdelta ? 2 * t->capdelta : 4;
      struct mvcc_rowdelta *n = realloc(t->deltas, sizeof(*n) * (size_t)cap);
      if (!n) return; /* row counts are estimates: lose this one */
      t->deltas = n;
      t->capdelta = cap;
    }
    t->deltas[t->ndelta++] = (struct mvcc_rowdelta){table, 0};
  }
  t->deltas[i].rows += rows;
}

void mvcc_conn_free(void *p) {
  mvcc_conn *c = p;
  if (!c) return;
  mvcc_sconn *sc = c->stores;
  while (sc) {
    mvcc_sconn *next = sc->next;
    if (sc->cur) {
      mvcc_txn *t = sc->cur;
      t->cursors = 0;
      txn_detach(t);
    }
    kv_store_close(sc->store);
    sqlite3_free(sc);
    sc = next;
  }
  sqlite3_finalize(c->enroll_stmt); /* normally done at disconnect */
  sqlite3_free(c->dflt_err);
  sqlite3_free(c->commit_err);
  sqlite3_free(c);
}

int mvcc_conn_store(mvcc_conn *c, const char *dir, mvcc_sconn **out,
                    char **pzErr) {
  kv_store *s = NULL;
  char *err = NULL;
  /* The GC thread runs for every store; its interval follows the
  ** retention window, which mvcc_retention_load sets below. */
  kv_options o;
  kv_options_init(&o);
  o.gc_interval_ms = mvcc_gc_interval_ms(o.retention_ms);
  int krc = kv_store_open(dir && *dir ? dir : NULL, &o, &s, &err);
  if (krc) {
    /* A store that cannot be opened is bad input, not a broken database:
    ** SQLITE_IOERR or SQLITE_CORRUPT would make SQLite roll back (or
    ** refuse) the surrounding transaction, SQLITE_CANTOPEN fails only the
    ** statement.  Another process's store stays SQLITE_BUSY. */
    int rc = mvcc_kv_error(krc, err, false, pzErr);
    if (krc != KV_BUSY && krc != KV_NOMEM) rc = SQLITE_CANTOPEN;
    kv_free(err);
    return rc;
  }
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) {
    if (sc->store == s) {
      kv_store_close(s); /* we hold a reference already */
      *out = sc;
      return SQLITE_OK;
    }
  }
  mvcc_sconn *sc = sqlite3_malloc64(sizeof(*sc));
  if (!sc) {
    kv_store_close(s);
    return SQLITE_NOMEM;
  }
  memset(sc, 0, sizeof(*sc));
  sc->conn = c;
  sc->store = s;
  sc->next = c->stores;
  c->stores = sc;
  /* Not fatal: the rows of dropped tables only take space.  A reader
  ** (another process writes the store) leaves that to the writer. */
  int swept = 0;
  char *serr = NULL;
  if (!kv_store_is_reader(s)) {
    mvcc_catalog_sweep(s, &swept, &serr);
    sqlite3_free(serr);
    serr = NULL;
    mvcc_index_sweep(s, &swept, &serr);
    sqlite3_free(serr);
  }
  /* The store-wide synchronous option, if a table set it. */
  char *v = NULL;
  size_t n = 0;
  if (kv_store_meta_get(s, "mvcc.synchronous", &v, &n, NULL) == KV_OK &&
      n == 1 && v[0] >= '0' && v[0] <= '2')
    kv_store_set_synchronous(s, (kv_sync)(v[0] - '0'));
  kv_free(v);
  mvcc_retention_load(s);
  *out = sc;
  return SQLITE_OK;
}

/* ----------------------------------------------------- transactions -- */

/* Reads the connection's busy timeout when a lock wait first happens. */
static int busy_timeout_cb(void *ctx) {
  mvcc_conn *c = ctx;
  sqlite3_stmt *st = NULL;
  int ms = -1;
  if (sqlite3_prepare_v2(c->db, "PRAGMA busy_timeout", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    int v = sqlite3_column_int(st, 0);
    if (v > 0) ms = v;
  }
  sqlite3_finalize(st);
  return ms;
}

/* Does the connection's next SQL transaction lock what it reads?  When it
** asked (mvcc_lock_reads), or when its last one failed with a retryable
** error on any store: that is a retry, whose plain reads would let the
** same rows change under it again. */
static bool next_locks_reads(mvcc_conn *c) {
  if (c->lock_reads_next) return true;
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next)
    if (sc->has_retry) return true;
  return false;
}

/* The connection's SQL transaction on some store, if it has begun one. */
static mvcc_txn *current_sql_txn(mvcc_conn *c) {
  if (!c->enrolled) return NULL;
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next)
    if (sc->cur && sc->cur->kind == MVCC_TXN_SQL && sc->cur->kv)
      return sc->cur;
  return NULL;
}

int mvcc_conn_lock_reads(mvcc_conn *c, int on, int *locks, char **pzErr) {
  mvcc_txn *t = current_sql_txn(c);
  if (on >= 0 && t) {
    *pzErr = sqlite3_mprintf("mvcc_lock_reads(%d) must come before the "
                             "transaction first reads or writes an mvcc "
                             "table: it applies to the connection's next "
                             "transaction", on);
    return SQLITE_ERROR;
  }
  if (on >= 0) c->lock_reads_next = on != 0;
  *locks = t ? t->lock_reads : next_locks_reads(c);
  return SQLITE_OK;
}

static int enroll(mvcc_conn *c, char **pzErr);

int mvcc_conn_as_of(mvcc_conn *c, const kv_ts *ts, char **pzErr) {
  if (sqlite3_get_autocommit(c->db)) {
    mvcc_set_error(pzErr, sqlite3_mprintf(
                              "mvcc_as_of must be called inside BEGIN ... "
                              "COMMIT: it makes that transaction read as of "
                              "T (in autocommit mode there is none)"));
    return SQLITE_ERROR;
  }
  if (current_sql_txn(c)) {
    mvcc_set_error(pzErr, sqlite3_mprintf(
                              "mvcc_as_of must come before the transaction "
                              "first reads or writes an mvcc table: it sets "
                              "the time the whole transaction reads at"));
    return SQLITE_ERROR;
  }
  if (!ts) return SQLITE_OK;
  if (!c->enrolled) {
    int rc = enroll(c, pzErr);
    if (rc) return rc;
  }
  c->asof = true;
  c->asof_ts = *ts;
  return SQLITE_OK;
}

char *mvcc_conn_asof_refusal(mvcc_conn *c) {
  char t[MVCC_TS_TEXT_MAX];
  mvcc_ts_text(c->asof_ts, t);
  return sqlite3_mprintf("cannot write to an mvcc table in a time-travel "
                         "transaction: it reads as of %s (mvcc_as_of) and "
                         "is read-only; COMMIT or ROLLBACK it first", t);
}

static int txn_begin(mvcc_sconn *sc, int kind, bool read_only, mvcc_txn **out,
                     char **pzErr) {
  mvcc_conn *c = sc->conn;
  bool asof = kind == MVCC_TXN_SQL && c->asof;
  int rc;
  if (asof && (rc = mvcc_asof_admit(sc->store, c->asof_ts, pzErr))) return rc;
  mvcc_txn *t = malloc(sizeof(*t));
  if (!t) return SQLITE_NOMEM;
  memset(t, 0, sizeof(*t));
  kv_txn_options o;
  kv_txn_options_init(&o);
  if (asof) {
    read_only = true;
    o.read_ts = c->asof_ts;
  }
  o.read_only = read_only;
  if (!read_only && sc->has_retry) o.retry_of = &sc->retry;
  o.lock_reads = !read_only && next_locks_reads(sc->conn);
  char *err = NULL;
  int krc = kv_txn_begin(sc->store, &o, &t->kv, &err);
  if (krc) {
    free(t);
    rc = mvcc_kv_error(krc, err, false, pzErr);
    if (asof) /* GC passed T since it was admitted */
      mvcc_set_error(pzErr, sqlite3_mprintf("mvcc_as_of: %s", err));
    kv_free(err);
    return rc;
  }
  if (!read_only) kv_txn_set_lock_timeout_fn(t->kv, busy_timeout_cb, sc->conn);
  t->sc = sc;
  t->kind = kind;
  t->read_only = read_only;
  t->lock_reads = o.lock_reads != 0;
  t->attached = true;
  sc->cur = t;
  *out = t;
  return SQLITE_OK;
}

void mvcc_conn_finalize(mvcc_conn *c) {
  if (!c || !c->enroll_stmt || c->enrolling) return;
  sqlite3_finalize(c->enroll_stmt);
  c->enroll_stmt = NULL;
}

/* The marker's no-op write, from a statement prepared once per connection:
** parsing it again for every transaction was 7% of a short one. */
static int enroll_step(mvcc_conn *c) {
  if (!c->enroll_stmt) {
    int rc = sqlite3_prepare_v3(c->db, "DELETE FROM temp.mvcc_txn WHERE 0",
                                -1, SQLITE_PREPARE_PERSISTENT,
                                &c->enroll_stmt, NULL);
    if (rc != SQLITE_OK) return rc;
  }
  int rc = sqlite3_step(c->enroll_stmt);
  sqlite3_reset(c->enroll_stmt);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Enrolls the connection in SQLite's transaction through the marker. */
static int enroll(mvcc_conn *c, char **pzErr) {
  c->enrolling = true;
  int rc = enroll_step(c);
  if (rc == SQLITE_READONLY) { /* PRAGMA query_only: lift it for the no-op */
    rc = sqlite3_exec(c->db, "PRAGMA query_only=0", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
      rc = enroll_step(c);
      int prc = sqlite3_exec(c->db, "PRAGMA query_only=1", NULL, NULL, NULL);
      if (rc == SQLITE_OK) rc = prc;
    }
  }
  c->enrolling = false;
  if (rc != SQLITE_OK) {
    *pzErr = sqlite3_mprintf("mvcc: cannot join the SQL transaction: %s",
                             sqlite3_errmsg(c->db));
    return rc;
  }
  return SQLITE_OK;
}

int mvcc_txn_for_read(mvcc_sconn *sc, mvcc_txn **out, char **pzErr) {
  mvcc_conn *c = sc->conn;
  mvcc_conn_resume(c);
  bool autocommit = sqlite3_get_autocommit(c->db) != 0;
  mvcc_txn *t = sc->cur;
  if (t && t->kind == MVCC_TXN_AUTO && !autocommit) {
    txn_detach(t); /* a BEGIN came while an autocommit read was open */
    t = NULL;
  } else if (t && t->kind == MVCC_TXN_SQL && autocommit && !c->enrolled) {
    txn_detach(t); /* its SQL transaction ended unseen */
    t = NULL;
  }
  if (!t) {
    int rc = autocommit ? txn_begin(sc, MVCC_TXN_AUTO, true, &t, pzErr)
                        : txn_begin(sc, MVCC_TXN_SQL, false, &t, pzErr);
    if (rc) return rc;
    if (!autocommit && !c->enrolled && (rc = enroll(c, pzErr))) {
      txn_detach(t);
      return rc;
    }
  }
  t->cursors++;
  *out = t;
  return SQLITE_OK;
}

int mvcc_txn_for_write(mvcc_sconn *sc, mvcc_txn **out, char **pzErr) {
  mvcc_conn *c = sc->conn;
  mvcc_conn_resume(c);
  if (c->asof && c->enrolled) {
    *pzErr = mvcc_conn_asof_refusal(c);
    return SQLITE_READONLY;
  }
  mvcc_txn *t = sc->cur;
  if (t && t->kind == MVCC_TXN_AUTO) {
    txn_detach(t); /* still read by an earlier statement's cursors */
    t = NULL;
  } else if (t && !c->enrolled) {
    txn_detach(t);
    t = NULL;
  }
  if (!t) {
    int rc = txn_begin(sc, MVCC_TXN_SQL, false, &t, pzErr);
    if (rc) return rc;
  }
  c->enrolled = true;
  *out = t;
  return SQLITE_OK;
}

void mvcc_txn_release(mvcc_txn *t) {
  if (!t) return;
  if (t->cursors > 0) t->cursors--;
  if (t->kind == MVCC_TXN_AUTO && t->cursors == 0 && t->attached)
    txn_detach(t);
  else
    txn_free_if_done(t);
}

/* ------------------------------------------------------------- hooks -- */

/* Writes sc's prepared SQL transaction, if it has one (KV_OK if not). */
static int write_prepared(mvcc_sconn *sc, char **err) {
  mvcc_txn *t = sc->cur;
  if (!t || t->kind != MVCC_TXN_SQL || !t->prepared || !t->kv) return KV_OK;
  bool writes = kv_txn_has_writes(t->kv);
  kv_ts cts;
  int krc = kv_txn_commit(t->kv, &cts, err);
  if (krc != KV_OK) return krc;
  if (writes) { /* what mvcc_commit_ts() reports */
    sc->conn->has_commit_ts = true;
    sc->conn->last_commit_ts = cts;
  }
  for (int i = 0; i < t->ndelta; i++)
    mvcc_index_rows_committed(sc->store, t->deltas[i].table, t->deltas[i].rows);
  t->ndelta = 0;
  t->kv = NULL; /* freed by kvcore */
  t->prepared = false;
  t->committed = true;
  if (!t->read_only) sc->has_retry = false; /* a time-travel one is no retry */
  return KV_OK;
}

/* Does the connection's transaction write a database file other than its
** temp schema?  Then SQLite's own commit, after xSync, can still fail (a
** file lock held by another connection). */
static bool native_writes(sqlite3 *db) {
  for (int i = 0;; i++) {
    const char *name = sqlite3_db_name(db, i);
    if (!name) return false;
    if (i != 1 && sqlite3_txn_state(db, name) == SQLITE_TXN_WRITE) return true;
  }
}

/* The first xSync prepares every SQL transaction of the connection: all
** that can fail (refresh, pushes) happens here and reaches the user as a
** failed COMMIT.  xCommit, after SQLite's own commit succeeded, writes
** them; if SQLite's commit fails instead (a native table's file is locked)
** xRollback aborts them, so a transaction over native and mvcc tables, or
** over several stores, is all or nothing. */
int mvcc_conn_sync(mvcc_conn *c, char **pzErr) {
  if (c->syncing) return SQLITE_OK;
  c->syncing = true;
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) {
    mvcc_txn *t = sc->cur;
    if (!t || t->kind != MVCC_TXN_SQL || t->prepared || !t->kv) continue;
    char *err = NULL;
    int krc = kv_txn_prepare(t->kv, &err);
    if (krc == KV_OK) {
      t->prepared = true;
      continue;
    }
    /* SQLite now calls xRollback, which aborts them all. */
    return mvcc_txn_fail(sc, t->kv, krc, err, true, pzErr);
  }
  if (native_writes(c->db)) return SQLITE_OK; /* xCommit writes them */
  /* Only the private temp schema has a write transaction: SQLite's own
  ** commit cannot fail on another connection's lock, so write now rather
  ** than keep the rows latched across it. */
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) {
    mvcc_txn *t = sc->cur;
    char *err = NULL;
    int krc = write_prepared(sc, &err);
    if (krc != KV_OK) return mvcc_txn_fail(sc, t->kv, krc, err, true, pzErr);
  }
  return SQLITE_OK;
}

/* SQLite kept its transaction open after a COMMIT that failed past xSync
** (SQLITE_BUSY on a native file lock): the connection goes on, so its
** prepared transactions go back to work. */
void mvcc_conn_resume(mvcc_conn *c) {
  if (!c->syncing) return;
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) {
    mvcc_txn *t = sc->cur;
    if (t && t->prepared && t->kv) kv_txn_unprepare(t->kv);
    if (t) t->prepared = false;
  }
  c->syncing = false;
}

/* Writes the prepared transactions (xCommit).  Only a storage error can
** fail now, and xCommit cannot report it: it is kept for the connection's
** next statement, so that it is not lost silently. */
static void commit_prepared(mvcc_conn *c) {
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) {
    char *err = NULL;
    int krc = write_prepared(sc, &err);
    if (krc != KV_OK && !c->commit_err) {
      c->commit_err = sqlite3_mprintf(
          "mvcc: the last COMMIT failed after SQLite committed; its writes "
          "to the store in %s were lost: %s",
          *kv_store_path(sc->store) ? kv_store_path(sc->store) : ":memory:",
          err ? err : kv_code_name(krc));
    }
    kv_free(err);
  }
}

int mvcc_conn_take_commit_error(mvcc_conn *c, char **pzErr) {
  if (!c->commit_err) return SQLITE_OK;
  sqlite3_free(*pzErr);
  *pzErr = c->commit_err;
  c->commit_err = NULL;
  return SQLITE_IOERR;
}

static void end_sql_txns(mvcc_conn *c) {
  /* The transaction ending was the connection's "next" one: it used up a
  ** request for locking reads and the retry it was, whichever stores it
  ** touched.  If it failed, the next one is a retry in turn.  (An xCommit
  ** after DDL, which began no transaction, uses up nothing.) */
  bool ended = false;
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next)
    ended |= sc->cur && sc->cur->kind == MVCC_TXN_SQL && !sc->cur->read_only;
  if (ended) {
    c->lock_reads_next = false;
    for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) sc->has_retry = false;
  }
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) {
    mvcc_txn *t = sc->cur;
    if (!t || t->kind != MVCC_TXN_SQL) continue;
    if (t->kv && !t->committed) mvcc_note_failure(sc);
    txn_detach(t);
  }
  c->syncing = false;
  c->enrolled = false;
  c->asof = false;
}

void mvcc_conn_commit(mvcc_conn *c) {
  if (!c->enrolled && !c->syncing) return;
  commit_prepared(c);
  end_sql_txns(c);
}

void mvcc_conn_rollback(mvcc_conn *c) {
  if (!c->enrolled && !c->syncing) return;
  end_sql_txns(c);
}

/* Savepoint levels of every SQL transaction of the connection. */
int mvcc_conn_savepoint(mvcc_conn *c, int n, char **pzErr) {
  if (n < 0) return SQLITE_OK;
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) {
    mvcc_txn *t = sc->cur;
    if (!t || t->kind != MVCC_TXN_SQL || !t->kv) continue;
    if (n >= t->spcap) {
      int cap = t->spcap ? t->spcap : 16;
      while (cap <= n) cap *= 2;
      uint32_t *sp = realloc(t->sp, sizeof(*sp) * (size_t)cap);
      if (!sp) {
        mvcc_set_error(pzErr, sqlite3_mprintf("mvcc: out of memory for "
                                              "savepoint %d", n));
        return SQLITE_NOMEM;
      }
      t->sp = sp;
      t->spcap = cap;
    }
    uint32_t mark = 0;
    char *err = NULL;
    int krc = kv_txn_savepoint(t->kv, &mark, &err);
    /* A dead transaction keeps failing every statement with its own error
    ** (and rolling it back to a level does nothing); any other failure is
    ** reported here rather than taken as the mark 0, which would undo all. */
    if (krc && !kv_txn_is_dead(t->kv)) {
      int rc = mvcc_kv_error(krc, err, false, pzErr);
      kv_free(err);
      return rc;
    }
    kv_free(err);
    /* Levels opened before this transaction began start at its start. */
    while (t->nsp < n) t->sp[t->nsp++] = 0;
    if (t->nsp == n) t->sp[t->nsp++] = mark;
  }
  return SQLITE_OK;
}

int mvcc_conn_release(mvcc_conn *c, int n, char **pzErr) {
  (void)pzErr; /* releasing a level cannot fail */
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) {
    mvcc_txn *t = sc->cur;
    if (t && t->kind == MVCC_TXN_SQL && t->nsp > n) t->nsp = n < 0 ? 0 : n;
  }
  return SQLITE_OK;
}

int mvcc_conn_rollback_to(mvcc_conn *c, int n, char **pzErr) {
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) {
    mvcc_txn *t = sc->cur;
    if (!t || t->kind != MVCC_TXN_SQL || !t->kv) continue;
    uint32_t mark = n >= 0 && n < t->nsp ? t->sp[n] : 0;
    if (n < 0) t->nsp = 0;
    else if (t->nsp > n + 1) t->nsp = n + 1;
    char *err = NULL;
    int krc = kv_txn_rollback_to(t->kv, mark, &err);
    /* A dead transaction stays dead: its error shows at the next use. */
    if (krc && !kv_txn_is_dead(t->kv)) {
      int rc = mvcc_kv_error(krc, err, false, pzErr);
      kv_free(err);
      return rc;
    }
    kv_free(err);
  }
  return SQLITE_OK;
}
