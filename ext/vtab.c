/*
** vtab.c — the `mvcc` virtual table: SQL tables whose rows live in a
** kvcore store.
**
**     CREATE VIRTUAL TABLE temp.t USING mvcc(id INTEGER PRIMARY KEY, v TEXT);
**
** Rows: key 0x01 ‖ table id ‖ keycodec(primary key), value rowcodec(all
** columns).  The key encoding sorts like SQLite compares the key's values,
** so point lookups, IN lists, ranges and ORDER BY on the key all come
** straight from the store's order (xBestIndex below).
**
** Where tables live: only in the connection's temp schema.  A table declared
** in main (or an attached database) would make SQLite take that file's write
** lock for every statement that writes it, serialising all writers again;
** xCreate therefore refuses any schema but temp.  The store's catalog
** (catalog.c) is the source of truth, and every connection declares the
** store's tables in its own temp schema (mvcc.c).
**
** Planning (xBestIndex) is plan.c's; xFilter here executes the plan word
** it chose: the fixed values of the leading key columns become sorted
** probes (a point get each when the whole key is fixed, else a scan of each
** prefix), the bounds a key range within them, LIMIT + OFFSET where the
** scan stops.
**
** Reads inside an UPDATE or DELETE lock the rows they return (CockroachDB's
** implicit SELECT FOR UPDATE), so autocommit read-modify-writes queue on the
** lock instead of failing; a cursor knows it serves a writing statement
** when the connection has a busy statement that is not read-only.  In a
** transaction that locks its reads (a retry, or after mvcc_lock_reads(1):
** conn.c) kvcore makes every read a locking one by itself.
**
** Secondary indexes (index.c) are more keys in the table's range: a write
** puts and deletes the row's entries in every index of the table's set
** (building ones too), a read through a ready one fetches the rows its
** entries name, or takes the columns from the entries when they hold all
** the query uses.  The set is reloaded when the store's epoch moves; an
** xUpdate during which it moved writes its row again with the new set.
**
** Writes (xUpdate) apply column affinity and NOT NULL, check the key and
** every unique index for conflicts with locking reads, and resolve them by
** the statement's conflict mode (sqlite3_vtab_on_conflict;
** SQLITE_VTAB_CONSTRAINT_SUPPORT is on, so OR IGNORE skips the row, OR FAIL
** keeps earlier rows, OR ROLLBACK ends the transaction, OR REPLACE
** overwrites).  A failed xUpdate undoes its
** own partial writes through a kvcore savepoint, since SQLite gives a
** single-row statement no statement savepoint.
*/
#include "mvcc_int.h"

#include <stdlib.h>
#include <string.h>

#include "keycodec.h"
#include "rowcodec.h"

typedef struct mvcc_vtab {
  sqlite3_vtab base;
  mvcc_conn *conn;
  mvcc_sconn *sc;
  mvcc_tabledef *def;
  char *name;               /* the table's name here, for messages */
  uint64_t id;
  unsigned char prefix[MVCC_KEY_PREFIX_LEN];
  uint64_t epoch;           /* store epoch when last found alive */
  bool dropped;             /* gone from the store, or renamed elsewhere */
  char *renamed_to;         /* the table's name now, if renamed elsewhere */
  /* Keys whose rows OR REPLACE deleted in the running UPDATE: see
  ** repl_remember(). */
  mvcc_keybuf *repl;
  int nrepl, caprepl;
  mvcc_txcheck txcheck;     /* SQLite's call order, asserted */
  mvcc_indexset ixs;        /* its indexes and access paths, as of epoch */
  int64_t xdelta;           /* rows the running xUpdate added (net) */
  mvcc_sketch *sketch;      /* of the rows written, for the statistics */
} mvcc_vtab;


typedef struct mvcc_cursor {
  sqlite3_vtab_cursor base;
  mvcc_txn *txn;
  int flags;                /* kvcore read flags: KV_READ_FOR_UPDATE */
  /* Probes: sorted key prefixes, each a point get or a range scan. */
  mvcc_keybuf *probes;
  int nprobe, iprobe;
  mvcc_path path;           /* the access path (plan.c); a copy, as the
                            ** table's set may be reloaded meanwhile */
  bool point;               /* probes are whole keys of the path */
  mvcc_keybuf lo, hi;       /* bounds of the range part (after the prefix) */
  bool has_lo, has_hi, lo_incl, hi_incl;
  bool desc;
  bool covering;            /* index path: rows come from the entries */
  kv_iter *it;
  sqlite3_int64 limit, offset;   /* -1: none */
  sqlite3_int64 returned;
  bool eof;
  /* The current row.  Its value (row) is borrowed from the scan's kvcore
  ** iterator, which keeps it until the cursor's next step; a point get's
  ** value is borrowed only until the transaction's next read (another
  ** cursor's, in a join), so it is copied into val. */
  mvcc_keybuf key;
  const unsigned char *row_p;
  size_t row_n;
  unsigned char *val;
  size_t vcap;
  mvcc_row row;
  bool parsed;
} mvcc_cursor;

static int vtab_err(mvcc_vtab *v, int rc, char *msg) {
  return mvcc_vtab_error(&v->base, rc, msg);
}

/* Checks that the table still exists (another connection may have dropped
** it).  Cheap unless the store's schema epoch moved. */
static int vtab_check(mvcc_vtab *v) {
  char *cerr = NULL;
  int crc = mvcc_conn_take_commit_error(v->conn, &cerr);
  if (crc) return vtab_err(v, crc, cerr);
  if (v->dropped && v->renamed_to)
    return vtab_err(v, SQLITE_ERROR,
                    sqlite3_mprintf("mvcc: table %s was renamed to %s by "
                                    "another connection (DROP TABLE %s here, "
                                    "then SELECT mvcc_attach() declares the "
                                    "store's tables)",
                                    v->name, v->renamed_to, v->name));
  if (v->dropped)
    return vtab_err(v, SQLITE_ERROR,
                    sqlite3_mprintf("mvcc: table %s was dropped", v->name));
  uint64_t ep = kv_store_epoch(v->sc->store);
  if (ep == v->epoch) return SQLITE_OK;
  char *now = NULL, *err = NULL;
  int rc = mvcc_catalog_name_of(v->sc->store, v->id, &now, &err);
  if (rc) return vtab_err(v, rc, err);
  if (!now) {
    v->dropped = true;
    return vtab_err(v, SQLITE_ERROR,
                    sqlite3_mprintf("mvcc: table %s was dropped", v->name));
  }
  if (sqlite3_stricmp(now, v->def->name) != 0) {
    /* Renamed by another connection: this name may now be another table's,
    ** so the declaration must not go on reaching this one. */
    v->dropped = true;
    v->renamed_to = now;
    return vtab_check(v);
  }
  sqlite3_free(now);
  /* Indexes may have come or gone (the epoch moves for those too). */
  mvcc_indexset set;
  rc = mvcc_indexset_load(v->sc->store, v->def, v->id, &set, &err);
  if (rc) return vtab_err(v, rc, err);
  mvcc_sketch_free(v->sketch); /* made for the old set */
  v->sketch = NULL;
  mvcc_indexset_clear(&v->ixs);
  v->ixs = set;
  v->epoch = ep;
  return SQLITE_OK;
}

/* --------------------------------------------------------- keys, rows -- */

/* Encodes the value of column k of path p into kb.
** A value compared with a REAL column gets NUMERIC affinity, not REAL:
** SQLite compares an integer with a stored real exactly, so the constant
** 9007199254740993 must not become the double 9007199254740992.0. */
static int path_append(mvcc_vtab *v, const mvcc_path *p, mvcc_keybuf *kb,
                       int k, sqlite3_value *val) {
  const mvcc_column *c = &v->def->cols[p->col[k]];
  mvcc_value x;
  char aff = c->affinity == MVCC_AFF_REAL ? MVCC_AFF_NUMERIC : c->affinity;
  int rc = mvcc_value_set(&x, val, aff);
  if (rc == SQLITE_OK) rc = mvcc_key_append_cell(kb, &x, p->coll[k], p->desc[k]);
  mvcc_value_clear(&x);
  return rc;
}

static int keybuf_set_prefix(mvcc_vtab *v, mvcc_keybuf *kb) {
  mvcc_keybuf_reset(kb);
  return mvcc_keybuf_append(kb, v->prefix, sizeof v->prefix);
}

/* Where path p's keys begin: the table's rows, or an index's entries. */
static int path_prefix(mvcc_vtab *v, const mvcc_path *p, mvcc_keybuf *kb) {
  return p->index ? mvcc_index_prefix(kb, v->prefix, p->num)
                  : keybuf_set_prefix(v, kb);
}

/* --------------------------------------------------------- lifecycle -- */

static int vtab_open(sqlite3 *db, void *aux, int argc, const char *const *argv,
                     sqlite3_vtab **out, char **pzErr, bool create) {
  mvcc_conn *c = aux;
  *out = NULL;
  if (strcmp(argv[1], "temp") != 0) {
    *pzErr = sqlite3_mprintf(
        "mvcc tables live in the store and are declared in each "
        "connection's temp schema: write CREATE VIRTUAL TABLE temp.%s USING "
        "mvcc(...) (declared in %s, SQLite's file lock would let only one "
        "connection write at a time)",
        argv[2], argv[1]);
    return SQLITE_ERROR;
  }
  mvcc_tabledef *d = NULL;
  int rc = mvcc_schema_parse(db, argv[2], argc - 3, argv + 3, &d, pzErr);
  if (rc) return rc;
  mvcc_sconn *sc = NULL;
  if (d->store) {
    rc = mvcc_conn_store(c, d->store, &sc, pzErr);
  } else if (c->dflt) {
    sc = c->dflt;
  } else {
    *pzErr = sqlite3_mprintf("%s", c->dflt_err ? c->dflt_err
                                               : "mvcc: no default store");
    rc = SQLITE_CANTOPEN;
  }
  if (rc == SQLITE_OK && d->synchronous >= 0) {
    /* synchronous is store-wide: the first to give it decides (a claim,
    ** so two connections giving different ones at once cannot both win),
    ** and a different one later is refused. */
    char *cur = NULL, *err = NULL;
    size_t n = 0;
    char want = (char)('0' + d->synchronous);
    static const char *const names[] = {"full", "normal", "off"};
    int krc = kv_store_meta_claim(sc->store, "mvcc.synchronous", &want, 1,
                                  &cur, &n, &err);
    if (krc) {
      rc = mvcc_kv_error(krc, err, false, pzErr);
    } else if (cur && n == 1 && cur[0] != want && cur[0] >= '0' &&
               cur[0] <= '2') {
      *pzErr = sqlite3_mprintf(
          "mvcc: synchronous=%s conflicts with the store's synchronous=%s "
          "(a store-wide option)",
          names[d->synchronous], names[cur[0] - '0']);
      rc = SQLITE_ERROR;
    } else if (!cur) {
      kv_store_set_synchronous(sc->store, (kv_sync)d->synchronous);
    }
    kv_free(err);
    kv_free(cur);
  }
  if (rc == SQLITE_OK && d->retention)
    rc = mvcc_retention_apply(sc->store, d->retention, pzErr);
  uint64_t id = 0;
  bool dropped = false;
  if (rc == SQLITE_OK) {
    bool readonly = sqlite3_db_readonly(db, "main") == 1;
    bool reader = kv_store_is_reader(sc->store);
    if (create && !readonly && !reader) {
      rc = mvcc_catalog_create(sc->store, d->name, d->args, &id, pzErr);
    } else {
      /* The table must exist as defined.  A read-only connection declares
      ** the store's tables but creates none.  Reconnecting a declaration
      ** (SQLite reloads a temp schema after a rollback, for one) when the
      ** store no longer has this table, or has another table of that name
      ** now, connects it as a dropped table: every use says so, and DROP
      ** TABLE only removes the declaration, never the other table. */
      bool found = false;
      mvcc_catentry e;
      rc = mvcc_catalog_get(sc->store, d->name, &found, &e, pzErr);
      bool same = rc == SQLITE_OK && found && strcmp(e.args, d->args) == 0;
      if (same) id = e.id;
      mvcc_catentry_clear(&e);
      if (rc == SQLITE_OK && !same && create) {
        mvcc_set_error(pzErr,
                       readonly ? sqlite3_mprintf(
                                      "attempt to write a readonly database "
                                      "(the connection is read-only: it "
                                      "cannot create mvcc tables)")
                                : mvcc_reader_error(sc->store));
        rc = SQLITE_READONLY;
      }
      dropped = rc == SQLITE_OK && !same;
    }
  }
  if (rc == SQLITE_OK) rc = sqlite3_declare_vtab(db, d->declare);
  if (rc == SQLITE_OK)
    sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
  mvcc_indexset set;
  memset(&set, 0, sizeof(set));
  if (rc == SQLITE_OK)
    rc = mvcc_indexset_load(sc->store, d, dropped ? 0 : id, &set, pzErr);
  mvcc_vtab *v = rc == SQLITE_OK ? sqlite3_malloc64(sizeof(*v)) : NULL;
  if (rc == SQLITE_OK && !v) rc = SQLITE_NOMEM;
  if (rc) {
    sqlite3_free(v);
    mvcc_indexset_clear(&set);
    mvcc_tabledef_free(d);
    if (!*pzErr)
      *pzErr = sqlite3_mprintf("mvcc: cannot %s table %s: %s",
                               create ? "create" : "declare", argv[2],
                               sqlite3_errstr(rc));
    return rc;
  }
  memset(v, 0, sizeof(*v));
  v->conn = c;
  v->sc = sc;
  v->def = d;
  v->ixs = set;
  v->name = sqlite3_mprintf("%s", argv[2]);
  v->id = id;
  v->dropped = dropped;
  v->epoch = kv_store_epoch(sc->store);
  mvcc_row_prefix(v->prefix, id);
  *out = &v->base;
  return SQLITE_OK;
}

static int mvccCreate(sqlite3 *db, void *aux, int argc,
                      const char *const *argv, sqlite3_vtab **out,
                      char **pzErr) {
  int rc = vtab_open(db, aux, argc, argv, out, pzErr, true);
  if (rc == SQLITE_OK)
    mvcc_txcheck_step(&((mvcc_vtab *)*out)->txcheck, MVCC_TX_BEGIN, 0);
  return rc;
}

static int mvccConnect(sqlite3 *db, void *aux, int argc,
                       const char *const *argv, sqlite3_vtab **out,
                       char **pzErr) {
  return vtab_open(db, aux, argc, argv, out, pzErr, false);
}

static void repl_clear(mvcc_vtab *v) {
  for (int i = 0; i < v->nrepl; i++) mvcc_keybuf_free(&v->repl[i]);
  v->nrepl = 0;
}

static int mvccDisconnect(sqlite3_vtab *vt) {
  mvcc_vtab *v = (mvcc_vtab *)vt;
  if (v->sc) mvcc_conn_finalize(v->sc->conn);
  repl_clear(v);
  free(v->repl);
  mvcc_sketch_free(v->sketch);
  mvcc_indexset_clear(&v->ixs);
  mvcc_tabledef_free(v->def);
  sqlite3_free(v->name);
  sqlite3_free(v->renamed_to);
  sqlite3_free(v);
  return SQLITE_OK;
}

static int mvccDestroy(sqlite3_vtab *vt) {
  mvcc_vtab *v = (mvcc_vtab *)vt;
  if (!v->dropped && kv_store_is_reader(v->sc->store))
    return vtab_err(v, SQLITE_READONLY, mvcc_reader_error(v->sc->store));
  char *err = NULL;
  int rc = v->dropped ? SQLITE_OK
                      : mvcc_catalog_drop(v->sc->store, v->def->name, v->id,
                                          &err);
  if (rc) return vtab_err(v, rc, err);
  return mvccDisconnect(vt);
}

static int mvccRename(sqlite3_vtab *vt, const char *zNew) {
  mvcc_vtab *v = (mvcc_vtab *)vt;
  if (kv_store_is_reader(v->sc->store))
    return vtab_err(v, SQLITE_READONLY, mvcc_reader_error(v->sc->store));
  char *err = NULL;
  int rc = mvcc_catalog_rename(v->sc->store, v->def->name, zNew, v->id, &err);
  if (rc) return vtab_err(v, rc, err);
  char *n1 = sqlite3_mprintf("%s", zNew), *n2 = sqlite3_mprintf("%s", zNew);
  if (!n1 || !n2) {
    sqlite3_free(n1);
    sqlite3_free(n2);
    return SQLITE_NOMEM;
  }
  sqlite3_free(v->name);
  sqlite3_free(v->def->name);
  v->name = n1;
  v->def->name = n2;
  return SQLITE_OK;
}

/* ----------------------------------------------------------- planning -- */

/* A plan for a time-travel transaction (mvcc_as_of): over the key, the
** definition's UNIQUE indexes (written with the rows from the start) and
** the created indexes that were ready at its time; a build writes the
** entries of the rows already there at its own commit, after that time.
** Readiness is read in the catalog as of that time; when it cannot be, no
** created index is used. */
static int asof_best_index(mvcc_vtab *v, sqlite3_index_info *info) {
  mvcc_path *p = malloc(sizeof(*p) * (size_t)v->ixs.npath);
  if (!p) return SQLITE_NOMEM;
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = 1;
  o.read_ts = v->conn->asof_ts;
  kv_txn *t = NULL;
  if (kv_txn_begin(v->sc->store, &o, &t, NULL) != KV_OK) t = NULL;
  int n = 0;
  for (int i = 0; i < v->ixs.npath; i++) {
    const mvcc_path *q = &v->ixs.paths[i];
    bool ready = !q->index || q->num < MVCC_FIRST_CREATED_INDEX;
    char *err = NULL;
    if (!ready && t)
      mvcc_catalog_index_ready_in(t, q->name, v->id, q->num, &ready, &err);
    sqlite3_free(err);
    if (ready) p[n++] = *q;
  }
  if (t && kv_txn_commit(t, NULL, NULL) != KV_OK) kv_txn_abort(t);
  int rc = mvcc_plan_best_index(v->def, p, n, info);
  free(p);
  return rc;
}

static int mvccBestIndex(sqlite3_vtab *vt, sqlite3_index_info *info) {
  mvcc_vtab *v = (mvcc_vtab *)vt;
  if (!v->dropped && kv_store_epoch(v->sc->store) != v->epoch) {
    /* Plan over the indexes there are now; a table gone is reported when
    ** the statement runs, as before. */
    int rc = vtab_check(v);
    if (rc && !v->dropped) return rc;
  }
  if (v->ixs.stats_rows >= 0) { /* the rows now (index.c's row counts) */
    double rows = v->ixs.stats_rows + (double)kv_store_tally(v->sc->store,
                                                              v->id, 0);
    for (int i = 0; i < v->ixs.npath; i++)
      v->ixs.paths[i].rows = rows < 1 ? 1 : rows;
  }
  if (v->conn->asof && v->ixs.ncreated > 0) return asof_best_index(v, info);
  return mvcc_plan_best_index(v->def, v->ixs.paths, v->ixs.npath, info);
}

/* ------------------------------------------------------------ cursors -- */

static int mvccOpen(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  mvcc_cursor *c = malloc(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  mvcc_keybuf_init(&c->lo);
  mvcc_keybuf_init(&c->hi);
  mvcc_keybuf_init(&c->key);
  c->eof = true;
  (void)vt;
  *out = &c->base;
  return SQLITE_OK;
}

static void cursor_reset(mvcc_cursor *c) {
  if (c->it) kv_iter_close(c->it);
  c->it = NULL;
  for (int i = 0; i < c->nprobe; i++) mvcc_keybuf_free(&c->probes[i]);
  free(c->probes);
  c->probes = NULL;
  c->nprobe = c->iprobe = 0;
  if (c->txn) mvcc_txn_release(c->txn);
  c->txn = NULL;
  c->eof = true;
  c->parsed = false;
}

static int mvccClose(sqlite3_vtab_cursor *cur) {
  mvcc_cursor *c = (mvcc_cursor *)cur;
  cursor_reset(c);
  mvcc_row_clear(&c->row);
  mvcc_keybuf_free(&c->lo);
  mvcc_keybuf_free(&c->hi);
  mvcc_keybuf_free(&c->key);
  free(c->val);
  free(c);
  return SQLITE_OK;
}

static int cursor_err(mvcc_cursor *c, int kvrc, char *kerr) {
  mvcc_vtab *v = (mvcc_vtab *)c->base.pVtab;
  char *msg = NULL;
  int rc = mvcc_txn_fail(v->sc, c->txn ? c->txn->kv : NULL, kvrc, kerr, false,
                         &msg);
  c->eof = true;
  return vtab_err(v, rc, msg);
}

/* Does the connection run a statement that writes?  Then this cursor feeds
** an UPDATE or DELETE (or INSERT ... SELECT) and its reads lock. */
static bool writing_statement(sqlite3 *db) {
  for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s;
       s = sqlite3_next_stmt(db, s))
    if (sqlite3_stmt_busy(s) && !sqlite3_stmt_readonly(s)) return true;
  return false;
}

/* The current row's value, copied (from a point get). */
static int set_value(mvcc_cursor *c, const void *v, size_t vl) {
  if (vl > c->vcap) {
    unsigned char *p = realloc(c->val, vl);
    if (!p) return SQLITE_NOMEM;
    c->val = p;
    c->vcap = vl;
  }
  if (vl) memcpy(c->val, v, vl);
  c->row_p = c->val;
  c->row_n = vl;
  c->parsed = false;
  return SQLITE_OK;
}

/* The current row's value, borrowed from the cursor's scan. */
static int borrow_value(mvcc_cursor *c, const void *v, size_t vl) {
  c->row_p = v;
  c->row_n = vl;
  c->parsed = false;
  return SQLITE_OK;
}

/* Makes (k, v) the current row: the key copied (xUpdate and the hidden key
** column need it past the step), the value borrowed or copied. */
static int take_row(mvcc_cursor *c, const void *k, size_t kl, const void *v,
                    size_t vl, bool borrowed) {
  mvcc_keybuf_reset(&c->key);
  int rc = mvcc_keybuf_append(&c->key, k, kl);
  if (rc) return rc;
  return borrowed ? borrow_value(c, v, vl) : set_value(c, v, vl);
}

/* The row an index entry (value ev) names, read like the entry (locking
** it too in an UPDATE); or, on a covering plan, the entry's own copy of
** the columns the query uses (borrowed with the entry when it comes from
** a scan). */
static int fetch_row(mvcc_cursor *c, const void *ev, size_t evl,
                     bool borrowed) {
  mvcc_vtab *v = (mvcc_vtab *)c->base.pVtab;
  const unsigned char *rk, *erow;
  size_t rkl, erowl;
  if (mvcc_index_value_parts(ev, evl, &rk, &rkl, &erow, &erowl))
    return vtab_err(v, SQLITE_CORRUPT, sqlite3_mprintf("mvcc: an index entry "
                                                       "of %s is corrupt",
                                                       v->name));
  /* The row's key goes straight into the cursor's (no buffer per row). */
  int rc = keybuf_set_prefix(v, &c->key);
  if (rc == SQLITE_OK) rc = mvcc_keybuf_append(&c->key, rk, rkl);
  if (rc) return rc;
  if (c->covering)
    return borrowed ? borrow_value(c, erow, erowl) : set_value(c, erow, erowl);
  const void *val;
  size_t vl;
  char *err = NULL;
  int krc = kv_txn_get(c->txn->kv, c->key.p, c->key.n, c->flags, &val, &vl,
                       &err);
  if (krc == KV_OK) return set_value(c, val, vl);
  if (krc != KV_NOTFOUND) return cursor_err(c, krc, err);
  kv_free(err);
  return vtab_err(v, SQLITE_CORRUPT,
                  sqlite3_mprintf("mvcc: an index entry of %s names a row "
                                  "that does not exist", v->name));
}

/* Opens the scan of the current probe's range. */
static int probe_scan(mvcc_cursor *c) {
  mvcc_keybuf *p = &c->probes[c->iprobe];
  mvcc_keybuf lo, hi;
  mvcc_keybuf_init(&lo);
  mvcc_keybuf_init(&hi);
  int rc = mvcc_keybuf_append(&lo, p->p, p->n);
  bool hi_inf = false;
  if (rc == SQLITE_OK && c->has_lo) {
    rc = mvcc_keybuf_append(&lo, c->lo.p, c->lo.n);
    if (rc == SQLITE_OK && !c->lo_incl) {
      mvcc_keybuf t;
      mvcc_keybuf_init(&t);
      if (mvcc_key_prefix_successor(lo.p, lo.n, &t) == 0) {
        mvcc_keybuf_reset(&lo);
        rc = mvcc_keybuf_append(&lo, t.p, t.n);
      }
      mvcc_keybuf_free(&t);
    }
  }
  if (rc == SQLITE_OK) {
    rc = mvcc_keybuf_append(&hi, p->p, p->n);
    if (rc == SQLITE_OK && c->has_hi) rc = mvcc_keybuf_append(&hi, c->hi.p, c->hi.n);
    if (rc == SQLITE_OK && !c->has_hi && p->n == MVCC_KEY_PREFIX_LEN) {
      /* The whole table: its rows end where its index entries begin. */
      static const unsigned char tag = MVCC_INDEX_TAG;
      rc = mvcc_keybuf_append(&hi, &tag, 1);
    } else if (rc == SQLITE_OK && (!c->has_hi || c->hi_incl)) {
      mvcc_keybuf t;
      mvcc_keybuf_init(&t);
      if (mvcc_key_prefix_successor(hi.p, hi.n, &t) == 0) {
        mvcc_keybuf_reset(&hi);
        rc = mvcc_keybuf_append(&hi, t.p, t.n);
      } else {
        hi_inf = true;
      }
      mvcc_keybuf_free(&t);
    }
  }
  if (rc) {
    mvcc_keybuf_free(&lo);
    mvcc_keybuf_free(&hi);
    return rc;
  }
  uint64_t limit = c->limit >= 0 ? (uint64_t)(c->limit - c->returned) : 0;
  char *err = NULL;
  int krc = kv_txn_scan(c->txn->kv, lo.p, lo.n, hi_inf ? NULL : hi.p,
                        hi_inf ? 0 : hi.n,
                        c->flags | (c->desc ? KV_SCAN_REVERSE : 0), limit,
                        &c->it, &err);
  mvcc_keybuf_free(&lo);
  mvcc_keybuf_free(&hi);
  return krc ? cursor_err(c, krc, err) : SQLITE_OK;
}

/* Moves to the next row of the probes; sets eof at the end. */
static int cursor_step(mvcc_cursor *c) {
  for (;;) {
    if (c->limit >= 0 && c->returned >= c->limit) {
      c->eof = true;
      return SQLITE_OK;
    }
    if (c->it) {
      char *err = NULL;
      int krc = kv_iter_next(c->it, &err);
      if (krc == KV_OK) {
        size_t kl, vl;
        const void *k = kv_iter_key(c->it, &kl);
        const void *v = kv_iter_value(c->it, &vl);
        int rc = c->path.index ? fetch_row(c, v, vl, true)
                               : take_row(c, k, kl, v, vl, true);
        if (rc) return rc;
        c->returned++;
        return SQLITE_OK;
      }
      kv_iter_close(c->it);
      c->it = NULL;
      if (krc != KV_NOTFOUND) return cursor_err(c, krc, err);
      c->iprobe++;
    }
    if (c->iprobe >= c->nprobe) {
      c->eof = true;
      return SQLITE_OK;
    }
    if (!c->point) {
      int rc = probe_scan(c);
      if (rc) return rc;
      continue;
    }
    mvcc_keybuf *p = &c->probes[c->iprobe++];
    const void *v;
    size_t vl;
    char *err = NULL;
    int krc = kv_txn_get(c->txn->kv, p->p, p->n, c->flags, &v, &vl, &err);
    if (krc == KV_NOTFOUND) continue;
    if (krc) return cursor_err(c, krc, err);
    int rc = c->path.index ? fetch_row(c, v, vl, false)
                           : take_row(c, p->p, p->n, v, vl, false);
    if (rc) return rc;
    c->returned++;
    return SQLITE_OK;
  }
}

/* Key buffers in the store's order (qsort's comparator). */
static int probe_cmp(const void *a, const void *b) {
  const mvcc_keybuf *x = a, *y = b;
  return kv_key_cmp(x->p, x->n, y->p, y->n);
}

/* Appends, for every prefix in old[0..nold), prefix ‖ enc(val) to *out
** (NULL matches nothing, adding none, unless compared by IS: then it is an
** index's NULL entries). */
static int extend_probes(mvcc_vtab *v, const mvcc_path *path, int k, bool is,
                         sqlite3_value *val, const mvcc_keybuf *old, int nold,
                         mvcc_keybuf **out, int *n, int *cap) {
  bool null = sqlite3_value_type(val) == SQLITE_NULL;
  if (null && !is) return SQLITE_OK;
  for (int i = 0; i < nold; i++) {
    if (*n == *cap) {
      int ncap = *cap ? *cap * 2 : 8;
      mvcc_keybuf *np = realloc(*out, sizeof(mvcc_keybuf) * (size_t)ncap);
      if (!np) return SQLITE_NOMEM;
      *out = np;
      *cap = ncap;
    }
    mvcc_keybuf *b = &(*out)[(*n)++];
    mvcc_keybuf_init(b);
    int rc = mvcc_keybuf_append(b, old[i].p, old[i].n);
    if (rc == SQLITE_OK)
      rc = null ? mvcc_key_append_null(b, path->desc[k])
                : path_append(v, path, b, k, val);
    if (rc) return rc;
  }
  return SQLITE_OK;
}

static void free_probes(mvcc_keybuf *p, int n) {
  for (int i = 0; i < n; i++) mvcc_keybuf_free(&p[i]);
  free(p);
}

/* Builds the sorted, distinct key prefixes fixed by the = and IN
** constraints (the cartesian product of their values).  IN values are
** encoded as they come: sqlite3_vtab_in_next() reuses its value. */
static int build_probes(mvcc_cursor *c, mvcc_vtab *v, int neq, bool in,
                        int is_mask, sqlite3_value **argv) {
  mvcc_keybuf *cur = malloc(sizeof(mvcc_keybuf));
  if (!cur) return SQLITE_NOMEM;
  mvcc_keybuf_init(&cur[0]);
  int n = 1;
  int rc = path_prefix(v, &c->path, &cur[0]);
  for (int k = 0; k < neq && rc == SQLITE_OK && n > 0; k++) {
    mvcc_keybuf *next = NULL;
    int m = 0, cap = 0;
    sqlite3_value *x;
    if (in && sqlite3_vtab_in_first(argv[k], &x) == SQLITE_OK) {
      do {
        rc = extend_probes(v, &c->path, k, is_mask >> k & 1, x, cur, n, &next,
                           &m, &cap);
      } while (rc == SQLITE_OK &&
               sqlite3_vtab_in_next(argv[k], &x) == SQLITE_OK);
    } else {
      rc = extend_probes(v, &c->path, k, is_mask >> k & 1, argv[k], cur, n,
                         &next, &m, &cap);
    }
    free_probes(cur, n);
    cur = next;
    n = m;
  }
  if (rc) {
    free_probes(cur, n);
    return rc;
  }
  /* A NULL among the = / IN values leaves no probes and cur NULL: qsort's
  ** base must not be NULL even for zero elements (UBSan reports it). */
  if (n > 1) qsort(cur, (size_t)n, sizeof(mvcc_keybuf), probe_cmp);
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (m && probe_cmp(&cur[m - 1], &cur[i]) == 0) {
      mvcc_keybuf_free(&cur[i]);
      continue;
    }
    cur[m++] = cur[i];
  }
  c->probes = cur;
  c->nprobe = m;
  return SQLITE_OK;
}

/* Encodes a bound on key column k; false when the bound excludes every row
** (a NULL bound: comparisons with NULL are never true). */
static int encode_bound(mvcc_vtab *v, const mvcc_path *p, int k,
                        sqlite3_value *val, mvcc_keybuf *out, bool *never) {
  *never = sqlite3_value_type(val) == SQLITE_NULL;
  if (*never) return SQLITE_OK;
  return path_append(v, p, out, k, val);
}

/* A time-travel transaction (mvcc_as_of) reads an index only if it was
** ready at the time it reads at: a build writes the entries of the rows
** already there at its own commit, after that time. */
static int asof_index_ok(mvcc_vtab *v, mvcc_cursor *c, const mvcc_path *p) {
  bool ready = false;
  char *err = NULL;
  int rc = mvcc_catalog_index_ready_in(c->txn->kv, p->name, v->id, p->num,
                                       &ready, &err);
  if (rc) return vtab_err(v, rc, err);
  if (ready) return SQLITE_OK;
  return vtab_err(v, SQLITE_ERROR,
                  sqlite3_mprintf("mvcc: index %s of %s was built after the "
                                  "time this transaction reads at "
                                  "(mvcc_as_of), so it cannot answer for that "
                                  "time: prepare the statement after "
                                  "mvcc_as_of, and its plan reads the table "
                                  "itself",
                                  p->name, v->name));
}

static int mvccFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr,
                      int argc, sqlite3_value **argv) {
  mvcc_cursor *c = (mvcc_cursor *)cur;
  mvcc_vtab *v = (mvcc_vtab *)cur->pVtab;
  (void)idxStr;
  (void)argc;
  cursor_reset(c);
  repl_clear(v);
  int rc = vtab_check(v);
  if (rc) return rc;
  char *err = NULL;
  rc = mvcc_txn_for_read(v->sc, &c->txn, &err);
  if (rc) return vtab_err(v, rc, err);
  if (!c->txn->kv)
    return vtab_err(v, SQLITE_ERROR,
                    sqlite3_mprintf("mvcc: the transaction has ended"));
  c->flags = !c->txn->read_only && writing_statement(v->conn->db)
                 ? KV_READ_FOR_UPDATE
                 : 0;
  int neq = idxNum & MVCC_PLAN_NEQ, a = 0;
  const mvcc_path *path =
      mvcc_indexset_path(&v->ixs, (idxNum >> MVCC_PLAN_PATH_SHIFT) & 0xff);
  if (!path) /* SQLite prepares the statement again and retries it */
    return vtab_err(v, SQLITE_SCHEMA,
                    sqlite3_mprintf("mvcc: an index of %s that this statement "
                                    "uses was dropped", v->name));
  if (c->txn->read_only && c->txn->kind == MVCC_TXN_SQL && path->index &&
      path->num >= MVCC_FIRST_CREATED_INDEX && (rc = asof_index_ok(v, c, path)))
    return rc;
  c->path = *path;
  c->path.name = NULL; /* borrowed from a set that may be reloaded */
  c->desc = (idxNum & MVCC_PLAN_DESC) != 0;
  c->covering = (idxNum & MVCC_PLAN_COVERING) != 0 && c->path.index;
  c->limit = c->offset = -1;
  c->returned = 0;
  /* A probe with a NULL for IS is a prefix of its entries: they end with
  ** the row's key. */
  int is_mask = idxNum >> MVCC_PLAN_IS_SHIFT & ((1 << MVCC_PLAN_IS_COLUMNS) - 1);
  c->point = neq == c->path.ncol && !is_mask && c->path.unique;
  rc = build_probes(c, v, neq, (idxNum & MVCC_PLAN_IN) != 0, is_mask, argv);
  a = neq;
  bool never = false;
  mvcc_keybuf_reset(&c->lo);
  mvcc_keybuf_reset(&c->hi);
  c->has_lo = c->has_hi = false;
  if (rc == SQLITE_OK && (idxNum & MVCC_PLAN_LO)) {
    bool nv;
    rc = encode_bound(v, &c->path, neq, argv[a++], &c->lo, &nv);
    c->has_lo = true;
    c->lo_incl = (idxNum & MVCC_PLAN_LO_INCL) != 0;
    never |= nv;
  }
  if (rc == SQLITE_OK && (idxNum & MVCC_PLAN_HI)) {
    bool nv;
    rc = encode_bound(v, &c->path, neq, argv[a++], &c->hi, &nv);
    c->has_hi = true;
    c->hi_incl = (idxNum & MVCC_PLAN_HI_INCL) != 0;
    never |= nv;
  }
  if (rc == SQLITE_OK && c->path.index && c->has_hi && !c->has_lo) {
    /* An index holds NULLs, which sort first and which no range matches:
    ** a range open below starts after them. */
    mvcc_keybuf_reset(&c->lo);
    rc = mvcc_key_append_null(&c->lo, c->path.desc[neq]);
    c->has_lo = true;
    c->lo_incl = false;
  }
  if (rc == SQLITE_OK && neq < c->path.ncol && c->path.desc[neq]) {
    /* A DESC column is stored complemented: its bounds swap. */
    mvcc_keybuf t = c->lo;
    c->lo = c->hi;
    c->hi = t;
    bool b = c->has_lo;
    c->has_lo = c->has_hi;
    c->has_hi = b;
    b = c->lo_incl;
    c->lo_incl = c->hi_incl;
    c->hi_incl = b;
  }
  if (rc == SQLITE_OK && (idxNum & MVCC_PLAN_LIMIT))
    c->limit = sqlite3_value_int64(argv[a++]);
  if (rc == SQLITE_OK && (idxNum & MVCC_PLAN_OFFSET))
    c->offset = sqlite3_value_int64(argv[a++]);
  if (c->limit < 0) {
    c->limit = -1; /* a negative LIMIT means none */
  } else if (c->offset > 0) { /* SQLite skips the OFFSET rows itself */
    c->limit = c->limit > INT64_MAX - c->offset ? -1 : c->limit + c->offset;
  }
  if (rc == SQLITE_CONSTRAINT) { /* a NULL or NaN key value matches nothing */
    rc = SQLITE_OK;
    never = true;
  }
  if (rc)
    return vtab_err(v, rc, sqlite3_mprintf("mvcc: cannot encode the search "
                                           "keys of a scan of %s: %s",
                                           v->name, sqlite3_errstr(rc)));
  if (never || c->limit == 0 || c->nprobe == 0) {
    c->eof = true;
    return SQLITE_OK;
  }
  if (c->desc) { /* probes in descending order */
    for (int i = 0, j = c->nprobe - 1; i < j; i++, j--) {
      mvcc_keybuf t = c->probes[i];
      c->probes[i] = c->probes[j];
      c->probes[j] = t;
    }
  }
  c->eof = false;
  c->iprobe = 0;
  return cursor_step(c);
}

static int mvccNext(sqlite3_vtab_cursor *cur) {
  return cursor_step((mvcc_cursor *)cur);
}

static int mvccEof(sqlite3_vtab_cursor *cur) {
  return ((mvcc_cursor *)cur)->eof;
}

static int mvccColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  mvcc_cursor *c = (mvcc_cursor *)cur;
  mvcc_vtab *v = (mvcc_vtab *)cur->pVtab;
  if (i == v->def->ncol) { /* the hidden composite key */
    sqlite3_result_blob(ctx, c->key.p + MVCC_KEY_PREFIX_LEN,
                        (int)(c->key.n - MVCC_KEY_PREFIX_LEN), SQLITE_TRANSIENT);
    return SQLITE_OK;
  }
  if (!c->parsed) {
    int rc = mvcc_row_parse(&c->row, c->row_p, c->row_n);
    if (rc) {
      sqlite3_result_error(ctx, "mvcc: corrupt row", -1);
      return rc;
    }
    c->parsed = true;
  }
  return mvcc_row_result(&c->row, i, ctx);
}

static int mvccRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  (void)cur;
  *rowid = 0; /* WITHOUT ROWID: not called */
  return SQLITE_OK;
}

/* ------------------------------------------------------------- writes -- */

static char *unique_msg(mvcc_vtab *v) {
  return mvcc_unique_msg(v->name, v->def, v->def->pk, v->def->npk);
}

/* Does key exist?  (A locking read: the key stays ours.) */
static int key_exists(mvcc_vtab *v, kv_txn *t, const mvcc_keybuf *key,
                      bool *exists) {
  const void *val;
  size_t vl;
  char *err = NULL;
  int krc = kv_txn_get(t, key->p, key->n, KV_READ_FOR_UPDATE, &val, &vl, &err);
  *exists = krc == KV_OK;
  if (krc == KV_OK || krc == KV_NOTFOUND) return SQLITE_OK;
  char *msg = NULL;
  int rc = mvcc_txn_fail(v->sc, t, krc, err, false, &msg);
  return vtab_err(v, rc, msg);
}

static int kv_fail(mvcc_vtab *v, int krc, char *err) {
  char *msg = NULL;
  mvcc_txn *cur = v->sc->cur;
  int rc = mvcc_txn_fail(v->sc, cur ? cur->kv : NULL, krc, err, false, &msg);
  return vtab_err(v, rc, msg);
}

/* The key of a row being written, from its column values. */
static int row_key(mvcc_vtab *v, mvcc_value *vals, mvcc_keybuf *key) {
  int rc = keybuf_set_prefix(v, key);
  for (int k = 0; k < v->def->npk && rc == SQLITE_OK; k++) {
    const mvcc_column *col = &v->def->cols[v->def->pk[k]];
    const mvcc_value *x = &vals[v->def->pk[k]];
    if (x->type == SQLITE_NULL) {
      rc = SQLITE_CONSTRAINT_NOTNULL;
      vtab_err(v, rc, sqlite3_mprintf("NOT NULL constraint failed: %s.%s",
                                      v->name, col->name));
      break;
    }
    rc = mvcc_key_append_cell(key, x, col->coll, col->desc);
    if (rc == SQLITE_CONSTRAINT) {
      rc = SQLITE_CONSTRAINT_NOTNULL;
      vtab_err(v, rc, sqlite3_mprintf("NOT NULL constraint failed: %s.%s "
                                      "(NaN)",
                                      v->name, col->name));
    }
  }
  if (rc == SQLITE_OK && key->n > MVCC_MAX_KEY_BYTES)
    rc = vtab_err(v, SQLITE_TOOBIG,
                  sqlite3_mprintf("mvcc: key of %s too big: %llu bytes "
                                  "encoded (the limit is %d)",
                                  v->name, (unsigned long long)key->n,
                                  MVCC_MAX_KEY_BYTES));
  return rc;
}

/* The message for an index entry that mvcc_index_entry() found too big. */
static int index_too_big(mvcc_vtab *v, const mvcc_index *ix) {
  return vtab_err(v, SQLITE_TOOBIG,
                  sqlite3_mprintf("mvcc: index entry of %s too big: the "
                                  "values of %s%s take more than %d bytes "
                                  "encoded",
                                  v->name, ix->name ? "index " : "a UNIQUE "
                                  "constraint", ix->name ? ix->name : "",
                                  MVCC_MAX_KEY_BYTES));
}

/* The key of the existing row SQLite passes as argv[0]. */
static int old_key(mvcc_vtab *v, sqlite3_value *pk, mvcc_keybuf *key) {
  int rc = keybuf_set_prefix(v, key);
  if (rc) return rc;
  if (mvcc_hidden_key(v->def))
    return mvcc_keybuf_append(key, sqlite3_value_blob(pk),
                              (size_t)sqlite3_value_bytes(pk));
  return path_append(v, &v->ixs.paths[0], key, 0, pk);
}

/* OR REPLACE in a multi-row UPDATE that changes keys.  SQLite evaluates
** every new row of a virtual table's UPDATE before it writes the first (a
** native table's UPDATE re-reads each row as it reaches it), so when OR
** REPLACE has deleted the row at some key, a later update of that key
** carries values computed from contents the key no longer holds.  Native
** SQLite would skip a deleted row or update the row that moved there; a
** virtual table cannot do either, so the statement is refused and rolled
** back instead of writing rows native SQLite would not.
**
** The keys OR REPLACE deleted are remembered from one xFilter to the next:
** an UPDATE scans its table (xFilter) before its first xUpdate and makes
** no other scan of it between its xUpdates, so xFilter starts a new list.
** Keys are remembered only when OR REPLACE deletes a row, so other
** statements pay one comparison. */
static int repl_remember(mvcc_vtab *v, const mvcc_keybuf *key) {
  if (v->nrepl == v->caprepl) {
    int cap = v->caprepl ? 2 * v->caprepl : 4;
    mvcc_keybuf *n = realloc(v->repl, sizeof(*n) * (size_t)cap);
    if (!n) return SQLITE_NOMEM;
    v->repl = n;
    v->caprepl = cap;
  }
  mvcc_keybuf *k = &v->repl[v->nrepl];
  mvcc_keybuf_init(k);
  int rc = mvcc_keybuf_append(k, key->p, key->n);
  if (rc == SQLITE_OK) v->nrepl++;
  else mvcc_keybuf_free(k);
  return rc;
}

static int stale_update(mvcc_vtab *v, const mvcc_keybuf *okey) {
  for (int i = 0; i < v->nrepl; i++)
    if (probe_cmp(&v->repl[i], okey) == 0)
      return vtab_err(v, SQLITE_ERROR, sqlite3_mprintf(
          "mvcc: UPDATE OR REPLACE of %s would update a row it replaced "
          "earlier in the same statement (SQLite computes all new rows of a "
          "virtual table's UPDATE before writing any, so its values would "
          "come from the replaced row); nothing was changed: update these "
          "rows in separate statements", v->name));
  return SQLITE_OK;
}

/* ------------------------------------------------------------ indexes -- */

/* Puts (put) or deletes the entries of every index for the row with values
** vals and key rkey. */
static int index_write(mvcc_vtab *v, kv_txn *t, const mvcc_value *vals,
                       const mvcc_keybuf *rkey, bool put) {
  mvcc_keybuf e, val;
  mvcc_keybuf_init(&e);
  mvcc_keybuf_init(&val);
  int rc = SQLITE_OK;
  const unsigned char *rk = rkey->p + MVCC_KEY_PREFIX_LEN;
  size_t rkl = rkey->n - MVCC_KEY_PREFIX_LEN;
  for (int i = 0; i < v->ixs.nix && rc == SQLITE_OK; i++) {
    bool carries;
    rc = mvcc_index_entry(&e, v->prefix, &v->ixs.ix[i], vals, rk, rkl,
                          &carries);
    if (rc == SQLITE_TOOBIG) rc = index_too_big(v, &v->ixs.ix[i]);
    if (rc == SQLITE_OK && put)
      rc = mvcc_index_value(&val, v->def, &v->ixs.ix[i], vals, rk, rkl);
    if (rc) break;
    char *err = NULL;
    int krc = put ? kv_txn_put(t, e.p, e.n, val.p, val.n, &err)
                  : kv_txn_delete(t, e.p, e.n, &err);
    if (krc) rc = kv_fail(v, krc, err);
  }
  mvcc_keybuf_free(&e);
  mvcc_keybuf_free(&val);
  return rc;
}

/* A stored row, read with a lock and parsed: vals borrow buf. */
typedef struct old_row {
  bool found;
  unsigned char *buf;
  mvcc_row row;
  mvcc_value *vals;
} old_row;

static void old_row_clear(old_row *o) {
  free(o->buf);
  free(o->vals);
  mvcc_row_clear(&o->row);
  memset(o, 0, sizeof(*o));
}

static int old_row_read(mvcc_vtab *v, kv_txn *t, const mvcc_keybuf *key,
                        old_row *o) {
  memset(o, 0, sizeof(*o));
  const void *val;
  size_t vl;
  char *err = NULL;
  int krc = kv_txn_get(t, key->p, key->n, KV_READ_FOR_UPDATE, &val, &vl, &err);
  if (krc == KV_NOTFOUND) {
    kv_free(err);
    return SQLITE_OK;
  }
  if (krc) return kv_fail(v, krc, err);
  int ncol = v->def->ncol;
  o->buf = malloc(vl ? vl : 1);
  o->vals = calloc((size_t)ncol, sizeof(mvcc_value));
  if (!o->buf || !o->vals) {
    old_row_clear(o);
    return SQLITE_NOMEM;
  }
  memcpy(o->buf, val, vl);
  int rc = mvcc_row_parse(&o->row, o->buf, vl);
  if (rc == SQLITE_OK && o->row.ncol < ncol) rc = SQLITE_CORRUPT;
  if (rc) {
    old_row_clear(o);
    return vtab_err(v, rc, sqlite3_mprintf("mvcc: a row of %s cannot be "
                                           "decoded", v->name));
  }
  mvcc_row_values(&o->row, ncol, o->vals);
  o->found = true;
  return SQLITE_OK;
}

/* Deletes the row at key and its index entries: a DELETE, or the row OR
** REPLACE removes. */
static int delete_row(mvcc_vtab *v, kv_txn *t, const mvcc_keybuf *key) {
  int rc = SQLITE_OK;
  if (v->ixs.nix) {
    old_row o;
    rc = old_row_read(v, t, key, &o);
    if (rc == SQLITE_OK && o.found) rc = index_write(v, t, o.vals, key, false);
    old_row_clear(&o);
  }
  char *err = NULL;
  int krc = rc == SQLITE_OK ? kv_txn_delete(t, key->p, key->n, &err) : KV_OK;
  return krc ? kv_fail(v, krc, err) : rc;
}

static char *uniq_msg(mvcc_vtab *v, const mvcc_index *u) {
  return mvcc_unique_msg(v->name, v->def, u->col, u->ncol);
}

/* A conflict of the row being written with the row at owner, on the key
** (u NULL) or on unique index u: OR REPLACE deletes that row, any other
** mode fails (SQLite then ignores the row, or fails the statement or the
** transaction, as the mode says). */
static int resolve_conflict(mvcc_vtab *v, kv_txn *t, const mvcc_index *u,
                            const mvcc_keybuf *owner, bool update) {
  if (sqlite3_vtab_on_conflict(v->conn->db) != SQLITE_REPLACE)
    return u ? vtab_err(v, SQLITE_CONSTRAINT_UNIQUE, uniq_msg(v, u))
             : vtab_err(v, SQLITE_CONSTRAINT_PRIMARYKEY, unique_msg(v));
  int rc = SQLITE_OK;
  v->xdelta--;
  /* Without indexes the new row's put overwrites the one at its key. */
  if (u || v->ixs.nix) rc = delete_row(v, t, owner);
  if (rc == SQLITE_OK && update) rc = repl_remember(v, owner);
  return rc;
}

/* Checks the row (vals, key) against unique index u: a locking read of
** its entry, so the value stays ours until we end and two writers of one
** value queue instead of both finding it free. */
static int check_unique(mvcc_vtab *v, kv_txn *t, const mvcc_index *u,
                        const mvcc_value *vals, const mvcc_keybuf *key,
                        bool update, mvcc_keybuf *e, mvcc_keybuf *owner) {
  bool carries;
  int rc = mvcc_index_entry(e, v->prefix, u, vals, key->p + MVCC_KEY_PREFIX_LEN,
                            key->n - MVCC_KEY_PREFIX_LEN, &carries);
  if (rc == SQLITE_TOOBIG) return index_too_big(v, u);
  if (rc || carries) return rc; /* a NULL: never equal */
  const void *val;
  size_t vl;
  char *err = NULL;
  int krc = kv_txn_get(t, e->p, e->n, KV_READ_FOR_UPDATE, &val, &vl, &err);
  if (krc == KV_NOTFOUND) {
    kv_free(err);
    return SQLITE_OK;
  }
  if (krc) return kv_fail(v, krc, err);
  const unsigned char *ork;
  size_t orkl;
  if (mvcc_index_value_parts(val, vl, &ork, &orkl, NULL, NULL))
    return vtab_err(v, SQLITE_CORRUPT, sqlite3_mprintf("mvcc: an index entry "
                                                       "of %s is corrupt",
                                                       v->name));
  rc = keybuf_set_prefix(v, owner);
  if (rc == SQLITE_OK) rc = mvcc_keybuf_append(owner, ork, orkl);
  if (rc == SQLITE_OK) rc = resolve_conflict(v, t, u, owner, update);
  return rc;
}

/* Checks the row (vals, key) against the key (when key_new: an INSERT or a
** moved row) and every unique index, in SQLite's order: created indexes
** newest first, then the definition's. */
static int check_constraints(mvcc_vtab *v, kv_txn *t, const mvcc_value *vals,
                             const mvcc_keybuf *key, bool key_new,
                             bool update) {
  const mvcc_tabledef *d = v->def;
  mvcc_keybuf e, owner;
  mvcc_keybuf_init(&e);
  mvcc_keybuf_init(&owner);
  int rc = SQLITE_OK;
  for (int i = 0; i < v->ixs.ncreated && rc == SQLITE_OK; i++)
    if (v->ixs.ix[i].unique)
      rc = check_unique(v, t, &v->ixs.ix[i], vals, key, update, &e, &owner);
  for (int i = 0; i < d->ncheck && rc == SQLITE_OK; i++) {
    if (d->check[i] < 0) {
      if (!key_new) continue;
      bool exists;
      rc = key_exists(v, t, key, &exists);
      if (rc == SQLITE_OK && exists) rc = resolve_conflict(v, t, NULL, key, update);
      continue;
    }
    rc = check_unique(v, t, &v->ixs.ix[v->ixs.ncreated + d->check[i]], vals,
                      key, update, &e, &owner);
  }
  mvcc_keybuf_free(&e);
  mvcc_keybuf_free(&owner);
  return rc;
}

static int do_update(mvcc_vtab *v, kv_txn *t, int argc, sqlite3_value **argv) {
  const mvcc_tabledef *d = v->def;
  mvcc_keybuf key, okey;
  mvcc_keybuf_init(&key);
  mvcc_keybuf_init(&okey);
  mvcc_value *vals = NULL;
  unsigned char *row = NULL;
  size_t rowlen = 0;
  int rc = SQLITE_OK;
  char *err = NULL;

  if (argc == 1) { /* DELETE */
    rc = old_key(v, argv[0], &okey);
    if (rc == SQLITE_OK) rc = delete_row(v, t, &okey);
    v->xdelta--;
    goto done;
  }

  vals = malloc(sizeof(mvcc_value) * (size_t)d->ncol);
  if (!vals) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  memset(vals, 0, sizeof(mvcc_value) * (size_t)d->ncol);
  for (int i = 0; i < d->ncol && rc == SQLITE_OK; i++)
    rc = mvcc_value_set(&vals[i], argv[2 + i], d->cols[i].affinity);
  for (int i = 0; i < d->ncol && rc == SQLITE_OK; i++) {
    if (d->cols[i].notnull && vals[i].type == SQLITE_NULL) {
      rc = SQLITE_CONSTRAINT_NOTNULL;
      vtab_err(v, rc, sqlite3_mprintf("NOT NULL constraint failed: %s.%s",
                                      v->name, d->cols[i].name));
    }
  }
  if (rc == SQLITE_OK) rc = row_key(v, vals, &key);
  if (rc == SQLITE_OK) {
    mvcc_cell small[16];
    mvcc_cell *cells =
        d->ncol <= 16 ? small
                      : malloc(sizeof(mvcc_cell) * (size_t)d->ncol);
    if (!cells) {
      rc = SQLITE_NOMEM;
    } else {
      for (int i = 0; i < d->ncol; i++)
        cells[i] = (mvcc_cell){vals[i].type, vals[i].i, vals[i].r, vals[i].p,
                               (size_t)vals[i].n};
      rc = mvcc_row_encode_cells(d->ncol, cells, &row, &rowlen);
      if (cells != small) free(cells);
    }
    /* SQLite's limit on a value, which also bounds a native table's
    ** record: a row of several big values could pass each value's check
    ** and still be more than the store should take in one write. */
    int limit = sqlite3_limit(v->conn->db, SQLITE_LIMIT_LENGTH, -1);
    if (rc == SQLITE_OK && rowlen > (size_t)limit)
      rc = vtab_err(v, SQLITE_TOOBIG,
                    sqlite3_mprintf("mvcc: row of %s too big: %llu bytes "
                                    "encoded (the limit is SQLite's length "
                                    "limit, %d)",
                                    v->name, (unsigned long long)rowlen,
                                    limit));
    else if (rc == SQLITE_TOOBIG)
      vtab_err(v, rc, sqlite3_mprintf("mvcc: row of %s too big", v->name));
  }
  if (rc) goto done;

  bool insert = sqlite3_value_type(argv[0]) == SQLITE_NULL;
  bool moved = true;
  if (!insert) {
    rc = old_key(v, argv[0], &okey);
    if (rc == SQLITE_OK) rc = stale_update(v, &okey);
    if (rc) goto done;
    moved = probe_cmp(&okey, &key) != 0;
  }
  if (!insert && v->ixs.nix) {
    /* The row's own entries go first, so it never conflicts with itself;
    ** if the row fails, xUpdate's savepoint puts them back. */
    old_row o;
    rc = old_row_read(v, t, &okey, &o);
    if (rc == SQLITE_OK && o.found) rc = index_write(v, t, o.vals, &okey, false);
    old_row_clear(&o);
  }
  if (rc == SQLITE_OK) rc = check_constraints(v, t, vals, &key, moved, !insert);
  if (rc == SQLITE_OK && !insert && moved) {
    int krc = kv_txn_delete(t, okey.p, okey.n, &err);
    if (krc) rc = kv_fail(v, krc, err);
  }
  if (rc == SQLITE_OK && v->ixs.nix) rc = index_write(v, t, vals, &key, true);
  if (rc == SQLITE_OK) {
    int krc = kv_txn_put(t, key.p, key.n, row, rowlen, &err);
    if (krc) rc = kv_fail(v, krc, err);
  }
  if (insert) v->xdelta++;
  if (rc == SQLITE_OK && v->ixs.stats_rows >= 0)
    mvcc_sketch_row(&v->sketch, v->sc->store, v->id, d, &v->ixs, vals);

done:
  if (vals)
    for (int i = 0; i < d->ncol; i++) mvcc_value_clear(&vals[i]);
  free(vals);
  free(row);
  mvcc_keybuf_free(&key);
  mvcc_keybuf_free(&okey);
  return rc;
}

/* A connection opened read-only writes no store either. */
static int refuse_if_readonly(mvcc_vtab *v) {
  if (kv_store_is_reader(v->sc->store))
    return vtab_err(v, SQLITE_READONLY, mvcc_reader_error(v->sc->store));
  if (sqlite3_db_readonly(v->conn->db, "main") != 1) return SQLITE_OK;
  return vtab_err(v, SQLITE_READONLY,
                  sqlite3_mprintf("attempt to write a readonly database "
                                  "(the connection is read-only, so are its "
                                  "mvcc tables)"));
}

static int mvccUpdate(sqlite3_vtab *vt, int argc, sqlite3_value **argv,
                      sqlite3_int64 *rowid) {
  mvcc_vtab *v = (mvcc_vtab *)vt;
  (void)rowid;
  int rc = vtab_check(v);
  if (rc) return rc;
  /* Normally xBegin began the transaction.  A table created inside BEGIN
  ** is enrolled by SQLite without an xBegin (sqlite3VtabCallCreate), so
  ** its first write begins it here; xSync/xRollback still come. */
  mvcc_conn_resume(v->conn);
  mvcc_txn *t = v->sc->cur;
  if (!t || t->kind != MVCC_TXN_SQL || !t->kv) {
    char *berr = NULL;
    if ((rc = refuse_if_readonly(v))) return rc;
    rc = mvcc_txn_for_write(v->sc, &t, &berr);
    if (rc) return vtab_err(v, rc, berr);
    if (!t->kv)
      return vtab_err(v, SQLITE_ERROR,
                      sqlite3_mprintf("mvcc: the transaction has ended"));
  }
  if (t->read_only) /* a time-travel transaction */
    return vtab_err(v, SQLITE_READONLY, mvcc_conn_asof_refusal(v->conn));
  /* One xUpdate is atomic: undo its partial writes on failure. */
  uint32_t mark;
  char *err = NULL;
  int krc = kv_txn_savepoint(t->kv, &mark, &err);
  if (krc) return kv_fail(v, krc, err);
  for (;;) {
    v->xdelta = 0;
    rc = do_update(v, t->kv, argc, argv);
    if (rc != SQLITE_OK || kv_store_epoch(v->sc->store) == v->epoch) break;
    /* An index build began while the row was written (index.c, step 1):
    ** write it again with the new set of indexes. */
    if (!kv_txn_is_dead(t->kv)) kv_txn_rollback_to(t->kv, mark, NULL);
    if ((rc = vtab_check(v)) != SQLITE_OK) return rc;
  }
  if (rc != SQLITE_OK && t->kv && !kv_txn_is_dead(t->kv))
    kv_txn_rollback_to(t->kv, mark, NULL);
  if (rc == SQLITE_OK) mvcc_txn_count_rows(t, v->id, v->xdelta);
  return rc;
}

/* ------------------------------------------------------- transactions -- */

static int mvccBegin(sqlite3_vtab *vt) {
  mvcc_vtab *v = (mvcc_vtab *)vt;
  int rc = vtab_check(v);
  if (rc == SQLITE_OK) rc = refuse_if_readonly(v);
  if (rc) return rc;
  mvcc_txn *t;
  char *err = NULL;
  rc = mvcc_txn_for_write(v->sc, &t, &err);
  if (rc) return vtab_err(v, rc, err);
  mvcc_txcheck_step(&v->txcheck, MVCC_TX_BEGIN, 0);
  return SQLITE_OK;
}

static int mvccSync(sqlite3_vtab *vt) {
  mvcc_vtab *v = (mvcc_vtab *)vt;
  mvcc_txcheck_step(&v->txcheck, MVCC_TX_SYNC, 0);
  char *err = NULL;
  int rc = mvcc_conn_sync(v->conn, &err);
  return rc ? vtab_err(v, rc, err) : SQLITE_OK;
}

static int mvccCommit(sqlite3_vtab *vt) {
  mvcc_txcheck_step(&((mvcc_vtab *)vt)->txcheck, MVCC_TX_COMMIT, 0);
  mvcc_conn_commit(((mvcc_vtab *)vt)->conn);
  return SQLITE_OK;
}

static int mvccRollback(sqlite3_vtab *vt) {
  mvcc_txcheck_step(&((mvcc_vtab *)vt)->txcheck, MVCC_TX_ROLLBACK, 0);
  mvcc_conn_rollback(((mvcc_vtab *)vt)->conn);
  return SQLITE_OK;
}

static int mvccSavepoint(sqlite3_vtab *vt, int n) {
  mvcc_vtab *v = (mvcc_vtab *)vt;
  mvcc_txcheck_step(&v->txcheck, MVCC_TX_SAVEPOINT, n);
  char *err = NULL;
  int rc = mvcc_conn_savepoint(v->conn, n, &err);
  return rc ? vtab_err(v, rc, err) : SQLITE_OK;
}

static int mvccRelease(sqlite3_vtab *vt, int n) {
  mvcc_vtab *v = (mvcc_vtab *)vt;
  mvcc_txcheck_step(&v->txcheck, MVCC_TX_RELEASE, n);
  char *err = NULL;
  int rc = mvcc_conn_release(v->conn, n, &err);
  return rc ? vtab_err(v, rc, err) : SQLITE_OK;
}

static int mvccRollbackTo(sqlite3_vtab *vt, int n) {
  mvcc_vtab *v = (mvcc_vtab *)vt;
  mvcc_txcheck_step(&v->txcheck, MVCC_TX_ROLLBACK_TO, n);
  char *err = NULL;
  int rc = mvcc_conn_rollback_to(v->conn, n, &err);
  return rc ? vtab_err(v, rc, err) : SQLITE_OK;
}

const sqlite3_module mvcc_module = {
    .iVersion = 2,
    .xCreate = mvccCreate,
    .xConnect = mvccConnect,
    .xBestIndex = mvccBestIndex,
    .xDisconnect = mvccDisconnect,
    .xDestroy = mvccDestroy,
    .xOpen = mvccOpen,
    .xClose = mvccClose,
    .xFilter = mvccFilter,
    .xNext = mvccNext,
    .xEof = mvccEof,
    .xColumn = mvccColumn,
    .xRowid = mvccRowid,
    .xUpdate = mvccUpdate,
    .xBegin = mvccBegin,
    .xSync = mvccSync,
    .xCommit = mvccCommit,
    .xRollback = mvccRollback,
    .xRename = mvccRename,
    .xSavepoint = mvccSavepoint,
    .xRelease = mvccRelease,
    .xRollbackTo = mvccRollbackTo,
};
