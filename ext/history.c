/*
** history.c — mvcc_history: row history and a change feed in SQL, an
** eponymous table-valued function over the tables of the connection's
** stores (the default store's first, then those of store= and
** mvcc_attach).
**
**     SELECT ts, op, key, row FROM mvcc_history('t');          -- all of t
**     SELECT * FROM mvcc_history('t', 42);                     -- one row
**     SELECT * FROM mvcc_history('t') WHERE ts > :last_seen;   -- changes
**     SELECT row ->> 'balance' FROM mvcc_history('accounts', 1);
**
** Columns:
**   ts    the commit timestamp of the version, as text that sorts in commit
**         order (tstext.h: "YYYY-MM-DD HH:MM:SS.NNNNNNNNN" UTC, plus
**         ".LLLLLLLLLL" when the logical counter is not 0);
**   op    'insert' (the previous retained version of the key is absent or
**         a deletion), 'update' (it is a row), 'delete' (a deletion of a
**         row).  An UPDATE of the primary key is a delete of the old key and
**         an insert of the new one, at one ts.  A deletion of a key that had
**         no row (a transaction that inserted and deleted it) changed
**         nothing and is not listed;
**   key   a JSON array of the primary key's values, in key order;
**   row   a JSON object, column name -> value, of the row after the change;
**         NULL for a delete.
** JSON values: NULL is null, integers and reals are numbers (a real keeps a
** decimal point, +-Inf is +-9e999 as SQLite's JSON writes it), text is a
** string, and a BLOB is a string of its bytes in uppercase hex, as SQLite's
** hex() writes them (so `row ->> 'b' = hex(b)` compares them).
**
** Arguments (hidden columns): the table's name, then optionally values of
** its primary key columns in key order.  All of them select one row's
** history; fewer select every row whose leading key columns equal them (a
** prefix of a composite key).  The values are compared as `=` compares them
** against the key columns (affinity, collation); more values than key
** columns, or a NULL, is an error.
**
** Order: rows come in commit order (ts, and within one ts in key order),
** which is what a change feed wants; ORDER BY ts is served without a sort.
** A constraint on ts (>, >=, <, <=, =, BETWEEN) is pushed down: the scan
** reads only each key's versions in the range (and the one before, which
** decides insert or update) and skips the older ones; with a lower bound
** it visits only the keys that have a version in the range
** (kv_store_history_from: table files with only older versions are not
** read), so a change feed's poll does not read the whole table.  Any
** value works — a ts from an earlier poll, a plain date, '2026-12-07
** 10:00' — since the bounds are widened to whole timestamps of the text
** order and SQLite checks the constraint itself on what comes back.
**
** Consistency (the change feed's guarantee): the versions are read with
** kv_store_history, at a fresh read timestamp R with the guarantees of a
** read-only transaction (kvcore/history.c), and only versions at or below R
** are returned.  Polled with `WHERE ts > :last` where :last is the largest
** ts the previous poll returned, the feed sees every committed change
** exactly once.  History is read outside the connection's own transaction:
** it shows committed versions only, never the transaction's own uncommitted
** writes, and reads the store as it is when the scan starts.  It reaches as
** far back as the store retains versions (garbage collection removes older
** ones: then the oldest retained version of a key may show as an insert).
**
** The rows of one scan are materialised when it starts (xFilter), as the
** introspection tables do: the store's iterator is closed before SQLite
** steps, and sorting into commit order needs them all.  Memory is the size
** of the versions selected, so a change feed's poll costs what it returns.
** Index entries live in the same table range after the rows and are never
** read.
*/
#include "mvcc_int.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tstext.h"

/* Columns of the virtual table. */
enum { HCOL_TS, HCOL_OP, HCOL_KEY, HCOL_ROW, HCOL_TABLE, HCOL_KEY1 };
enum { HIST_INSERT, HIST_UPDATE, HIST_DELETE };

/* Most ts constraints one scan pushes down (others are SQLite's alone). */
#define HIST_MAX_TS 8

/* A parsed table definition, shared by the table handle (its cache) and the
** cursors that scan with it; freed with its last reference. */
typedef struct hist_def {
  int refs;
  uint64_t id;
  char *args;              /* the catalog's definition it was parsed from */
  mvcc_tabledef *d;
  mvcc_path pk;            /* the primary key's columns, collations, DESC */
} hist_def;

typedef struct hist_vtab {
  sqlite3_vtab base;
  mvcc_conn *conn;
  hist_def *cache;         /* the last table scanned */
} hist_vtab;

/* One version to return.  row: the row after the change (insert, update)
** or before it (delete: the key's values come from it); bytes in the
** cursor's buffer at row_off. */
typedef struct hist_entry {
  kv_ts ts;
  int op;
  size_t seq;              /* emission order (key order): the tiebreak */
  size_t row_off, row_len;
} hist_entry;

typedef struct hist_cursor {
  sqlite3_vtab_cursor base;
  hist_def *def;
  hist_entry *e;
  size_t n, cap, i;
  mvcc_keybuf bytes;       /* every entry's row */
  sqlite3_value *args[1 + MVCC_MAX_KEY_COLUMNS]; /* table, key values */
  int nargs;
} hist_cursor;

/* ---------------------------------------------------------- planning -- */

static int histConnect(sqlite3 *db, void *aux, int argc,
                       const char *const *argv, sqlite3_vtab **out,
                       char **pzErr) {
  (void)argc, (void)argv, (void)pzErr;
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_str_appendall(s, "CREATE TABLE x(ts TEXT, op TEXT, key TEXT, row "
                           "TEXT, table_name HIDDEN");
  for (int k = 1; k <= MVCC_MAX_KEY_COLUMNS; k++)
    sqlite3_str_appendf(s, ", key%d HIDDEN", k);
  sqlite3_str_appendall(s, ")");
  char *sql = sqlite3_str_finish(s);
  if (!sql) return SQLITE_NOMEM;
  int rc = sqlite3_declare_vtab(db, sql);
  sqlite3_free(sql);
  if (rc) return rc;
  hist_vtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = aux;
  *out = &v->base;
  return SQLITE_OK;
}

static void def_unref(hist_def *h) {
  if (!h || --h->refs > 0) return;
  mvcc_tabledef_free(h->d);
  sqlite3_free(h->args);
  sqlite3_free(h);
}

static int histDisconnect(sqlite3_vtab *vt) {
  def_unref(((hist_vtab *)vt)->cache);
  sqlite3_free(vt);
  return SQLITE_OK;
}

static const char *const ts_ops[] = {">", ">=", "<", "<=", "="};

/* The ts operator a constraint op is, as an index into ts_ops, or -1. */
static int ts_op(unsigned char op) {
  switch (op) {
    case SQLITE_INDEX_CONSTRAINT_GT: return 0;
    case SQLITE_INDEX_CONSTRAINT_GE: return 1;
    case SQLITE_INDEX_CONSTRAINT_LT: return 2;
    case SQLITE_INDEX_CONSTRAINT_LE: return 3;
    case SQLITE_INDEX_CONSTRAINT_EQ: return 4;
    default: return -1;
  }
}

/* The plan is idxStr, a list of what xFilter's arguments are, in order:
** "table", "key*N" (N key values), then one "ts<op>" per pushed ts
** constraint — so EXPLAIN QUERY PLAN reads e.g. "INDEX 0:table ts>".
** The table and key arguments are omitted (the hidden columns return
** them); ts constraints are not: their bounds are widened (xFilter), and
** SQLite applies the exact comparison. */
static int histBestIndex(sqlite3_vtab *vt, sqlite3_index_info *info) {
  (void)vt;
  int table = -1, keys[MVCC_MAX_KEY_COLUMNS], ts[HIST_MAX_TS], nts = 0;
  for (int k = 0; k < MVCC_MAX_KEY_COLUMNS; k++) keys[k] = -1;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->iColumn >= HCOL_TABLE) {
      if (c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
      /* An argument SQLite cannot give yet: not this plan. */
      if (!c->usable) return SQLITE_CONSTRAINT;
      if (c->iColumn == HCOL_TABLE) table = i;
      else keys[c->iColumn - HCOL_KEY1] = i;
    } else if (c->iColumn == HCOL_TS && c->usable && ts_op(c->op) >= 0 &&
               nts < HIST_MAX_TS &&
               sqlite3_stricmp(sqlite3_vtab_collation(info, i), "BINARY") == 0) {
      ts[nts++] = i;
    }
  }
  sqlite3_str *s = sqlite3_str_new(NULL);
  int argi = 0;
  if (table >= 0) {
    info->aConstraintUsage[table].argvIndex = ++argi;
    info->aConstraintUsage[table].omit = 1;
    sqlite3_str_appendall(s, "table");
  }
  int nkey = 0;
  while (nkey < MVCC_MAX_KEY_COLUMNS && keys[nkey] >= 0) {
    info->aConstraintUsage[keys[nkey]].argvIndex = ++argi;
    info->aConstraintUsage[keys[nkey]].omit = 1;
    nkey++;
  }
  if (nkey) sqlite3_str_appendf(s, " key*%d", nkey);
  for (int j = 0; j < nts; j++) {
    info->aConstraintUsage[ts[j]].argvIndex = ++argi;
    sqlite3_str_appendf(s, " ts%s", ts_ops[ts_op(info->aConstraint[ts[j]].op)]);
  }
  int src = sqlite3_str_errcode(s);
  info->idxStr = sqlite3_str_finish(s); /* NULL when empty */
  if (src) return src;
  info->needToFreeIdxStr = 1;
  if (info->nOrderBy == 1 && info->aOrderBy[0].iColumn == HCOL_TS &&
      !info->aOrderBy[0].desc)
    info->orderByConsumed = 1;
  /* A key narrows the scan to one row's versions; a ts bound to the
  ** recent ones. */
  info->estimatedCost = nkey ? 10.0 : nts ? 1000.0 : 100000.0;
  info->estimatedRows = nkey ? 10 : nts ? 100 : 10000;
  return SQLITE_OK;
}

/* ----------------------------------------------------------- cursors -- */

static int histOpen(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  (void)vt;
  hist_cursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  mvcc_keybuf_init(&c->bytes);
  *out = &c->base;
  return SQLITE_OK;
}

static void cursor_reset(hist_cursor *c) {
  def_unref(c->def);
  c->def = NULL;
  free(c->e);
  c->e = NULL;
  c->n = c->cap = c->i = 0;
  mvcc_keybuf_free(&c->bytes);
  for (int i = 0; i < c->nargs; i++) sqlite3_value_free(c->args[i]);
  c->nargs = 0;
}

static int histClose(sqlite3_vtab_cursor *cur) {
  cursor_reset((hist_cursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int hist_error(sqlite3_vtab_cursor *cur, int rc, char *msg) {
  return mvcc_vtab_error(cur->pVtab, rc, msg ? msg : sqlite3_mprintf(
                                                        "mvcc_history: %s",
                                                        sqlite3_errstr(rc)));
}

/* The table's definition: the cached one when the catalog still has it
** as it was parsed, else parsed now (and cached).  *out is a reference the
** caller drops with def_unref. */
static int hist_find_table(hist_vtab *v, const char *name, mvcc_sconn **psc,
                           hist_def **out, char **pzErr) {
  *out = NULL;
  bool found = false;
  mvcc_catentry e;
  int rc = SQLITE_OK;
  /* The default store first, then the others the connection uses (store=,
  ** mvcc_attach). */
  mvcc_sconn *sc = v->conn->dflt;
  if (sc) rc = mvcc_catalog_get(sc->store, name, &found, &e, pzErr);
  for (mvcc_sconn *o = v->conn->stores; o && !found && rc == SQLITE_OK;
       o = o->next) {
    if (o == v->conn->dflt) continue;
    rc = mvcc_catalog_get(o->store, name, &found, &e, pzErr);
    if (found) sc = o;
  }
  if (rc) return rc;
  *psc = sc;
  if (!found) {
    /* Say whether the name is some other table, or nothing at all: a
    ** query of it compiles only if SQLite knows a table or view so named. */
    char *q = sqlite3_mprintf("SELECT 1 FROM \"%w\"", name);
    sqlite3_stmt *st = NULL;
    bool other = q && sqlite3_prepare_v2(v->conn->db, q, -1, &st, NULL) ==
                          SQLITE_OK;
    sqlite3_finalize(st);
    sqlite3_free(q);
    mvcc_set_error(pzErr, other ? sqlite3_mprintf("mvcc_history: %s is not "
                                                  "an mvcc table of the "
                                                  "connection's stores",
                                                  name)
                                : sqlite3_mprintf("mvcc_history: no such "
                                                  "table: %s",
                                                  name));
    return SQLITE_ERROR;
  }
  hist_def *h = v->cache;
  if (!h || h->id != e.id || strcmp(h->args, e.args) != 0) {
    h = sqlite3_malloc64(sizeof(*h));
    if (!h) rc = SQLITE_NOMEM;
    char **argv = NULL;
    int argc = 0;
    if (rc == SQLITE_OK) {
      memset(h, 0, sizeof(*h));
      h->refs = 1;
      h->id = e.id;
      h->args = e.args;
      e.args = NULL;
      rc = mvcc_split_args(h->args, &argv, &argc);
    }
    if (rc == SQLITE_OK)
      rc = mvcc_schema_parse(v->conn->db, e.name, argc,
                             (const char *const *)argv, &h->d, pzErr);
    mvcc_free_args(argv, argc);
    if (rc) {
      def_unref(h);
      mvcc_catentry_clear(&e);
      return rc;
    }
    mvcc_path_of(h->d, NULL, &h->pk);
    def_unref(v->cache);
    v->cache = h;
  }
  mvcc_catentry_clear(&e);
  h->refs++;
  *out = h;
  return SQLITE_OK;
}

/* [lo, hi): the rows of the table whose key starts with the nkey values
** given (all rows when nkey is 0; index entries, which follow the rows at
** MVCC_INDEX_TAG, never). */
static int hist_span(const hist_def *h, sqlite3_value **vals, int nkey,
                     mvcc_keybuf *lo, mvcc_keybuf *hi, char **pzErr) {
  const mvcc_tabledef *d = h->d;
  if (nkey > d->npk) {
    mvcc_set_error(pzErr, sqlite3_mprintf("mvcc_history: table %s has a "
                                          "primary key of %d column%s; %d "
                                          "key values given",
                                          d->name, d->npk,
                                          d->npk == 1 ? "" : "s", nkey));
    return SQLITE_ERROR;
  }
  unsigned char prefix[MVCC_KEY_PREFIX_LEN];
  mvcc_row_prefix(prefix, h->id);
  int rc = mvcc_keybuf_append(lo, prefix, sizeof prefix);
  for (int k = 0; k < nkey && rc == SQLITE_OK; k++) {
    const mvcc_column *col = &d->cols[h->pk.col[k]];
    if (sqlite3_value_type(vals[k]) == SQLITE_NULL) {
      mvcc_set_error(pzErr, sqlite3_mprintf("mvcc_history: key value %d "
                                            "(%s.%s) is NULL, which no key "
                                            "holds",
                                            k + 1, d->name, col->name));
      return SQLITE_ERROR;
    }
    /* As vtab.c encodes a value compared with a key column. */
    char aff = col->affinity == MVCC_AFF_REAL ? MVCC_AFF_NUMERIC : col->affinity;
    mvcc_value x;
    rc = mvcc_value_set(&x, vals[k], aff);
    if (rc == SQLITE_OK)
      rc = mvcc_key_append_cell(lo, &x, h->pk.coll[k], h->pk.desc[k]);
    mvcc_value_clear(&x);
    if (rc == SQLITE_CONSTRAINT) {
      mvcc_set_error(pzErr, sqlite3_mprintf("mvcc_history: key value %d "
                                            "(%s.%s) is not a value a key "
                                            "can hold",
                                            k + 1, d->name, col->name));
      return SQLITE_ERROR;
    }
  }
  if (rc) return rc;
  if (nkey == 0) {
    rc = mvcc_keybuf_append(hi, prefix, sizeof prefix);
    unsigned char tag = MVCC_INDEX_TAG;
    if (rc == SQLITE_OK) rc = mvcc_keybuf_append(hi, &tag, 1);
    return rc;
  }
  /* Key encodings are prefix-free and never start with 0xFF: lo has a
  ** successor. */
  return mvcc_key_prefix_successor(lo->p, lo->n, hi) == 0 ? SQLITE_OK
                                                          : SQLITE_INTERNAL;
}

/* ---------------------------------------------------------- ts bounds -- */

/* Does the text of ts compare with x (n bytes) as op says?  BINARY
** comparison: memcmp, then the shorter first. */
static bool ts_text_holds(kv_ts ts, const char *x, size_t n, int op) {
  char buf[MVCC_TS_TEXT_MAX];
  size_t len = mvcc_ts_text(ts, buf);
  int c = memcmp(buf, x, len < n ? len : n);
  if (c == 0) c = len < n ? -1 : len > n ? 1 : 0;
  switch (op) {
    case 0: return c > 0;
    case 1: return c >= 0;
    case 2: return c < 0;
    default: return c <= 0;
  }
}

/* The scan's bounds on versions: ts in [lo, hi]. */
typedef struct ts_bounds {
  kv_ts lo, hi;
  bool has_lo, has_hi;
} ts_bounds;

/* Narrows b by the constraint `ts <op> x`.  Text order is ts order, so
** the timestamps whose text satisfies a lower bound form an upper range
** of timestamps: the smallest wall w with text(w, any logical) > x, found
** by bisection, bounds it from below (whole wall ticks: a little wide,
** never narrow).  Likewise for upper bounds.
** A number x is compared as text when SQLite applies ts's TEXT affinity to
** it (a literal, a parameter), as a number below every text otherwise (a
** column without a type): the bound takes the union of both.  So `ts > 5`
** and `ts >= 5` are not pushed down (as numbers, every ts passes), and
** `ts < 5`, `ts <= 5`, `ts = 5` read x as its text (as numbers, none
** passes).  A BLOB or NULL is not pushed down: SQLite's own comparison
** decides. */
static void ts_narrow(ts_bounds *b, int op, sqlite3_value *arg) {
  int t = sqlite3_value_type(arg);
  if (t == SQLITE_NULL || t == SQLITE_BLOB) return;
  if ((t == SQLITE_INTEGER || t == SQLITE_FLOAT) && op <= 1) return;
  sqlite3_value *x = sqlite3_value_dup(arg);
  const char *s = x ? (const char *)sqlite3_value_text(x) : NULL;
  if (!s) {
    sqlite3_value_free(x);
    return; /* no pushdown: still correct */
  }
  size_t n = (size_t)sqlite3_value_bytes(x);
  if (op == 4) { /* = is >= and <= */
    ts_narrow(b, 1, x);
    ts_narrow(b, 3, x);
  } else if (op <= 1) {
    /* The first wall whose last timestamp passes. */
    uint64_t l = 0, h = UINT64_MAX;
    if (!ts_text_holds((kv_ts){h, UINT32_MAX}, s, n, op)) {
      b->has_lo = b->has_hi = true; /* nothing passes: an empty range */
      b->lo = (kv_ts){UINT64_MAX, UINT32_MAX};
      b->hi = (kv_ts){0, 0};
    } else {
      while (l < h) {
        uint64_t m = l + (h - l) / 2;
        if (ts_text_holds((kv_ts){m, UINT32_MAX}, s, n, op)) h = m;
        else l = m + 1;
      }
      /* ... and its first logical that passes: `ts > last` starts just
      ** above last, so a change feed's poll skips the table files whose
      ** newest version is last (kv_store_history_from). */
      uint64_t ll = 0, lh = UINT32_MAX;
      while (ll < lh) {
        uint64_t m = ll + (lh - ll) / 2;
        if (ts_text_holds((kv_ts){l, (uint32_t)m}, s, n, op)) lh = m;
        else ll = m + 1;
      }
      kv_ts lo = {l, (uint32_t)ll};
      if (!b->has_lo || kv_ts_cmp(lo, b->lo) > 0) b->lo = lo;
      b->has_lo = true;
    }
  } else {
    /* The last wall whose first timestamp passes. */
    uint64_t l = 0, h = UINT64_MAX;
    if (!ts_text_holds((kv_ts){0, 0}, s, n, op)) {
      b->has_lo = b->has_hi = true;
      b->lo = (kv_ts){UINT64_MAX, UINT32_MAX};
      b->hi = (kv_ts){0, 0};
    } else {
      while (l < h) {
        uint64_t m = h - (h - l) / 2;
        if (ts_text_holds((kv_ts){m, 0}, s, n, op)) l = m;
        else h = m - 1;
      }
      kv_ts hi = {l, UINT32_MAX};
      if (!b->has_hi || kv_ts_cmp(hi, b->hi) < 0) b->hi = hi;
      b->has_hi = true;
    }
  }
  sqlite3_value_free(x);
}

/* -------------------------------------------------------------- scan -- */

/* The versions of one key read so far, newest first; their rows are in
** the key's scratch buffer. */
typedef struct hist_ver {
  kv_ts ts;
  bool del;
  size_t off, len;
} hist_ver;

typedef struct hist_scan {
  hist_cursor *c;
  ts_bounds b;
  mvcc_keybuf key;         /* the current key */
  bool have_key;
  bool based;              /* its oldest version read is below the range:
                           ** it decides the op of the next, not listed */
  hist_ver *v;
  size_t nv, capv;
  mvcc_keybuf rows;        /* the current key's rows */
} hist_scan;

static int hist_emit(hist_cursor *c, kv_ts ts, int op, const unsigned char *row,
                     size_t len) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    hist_entry *e = realloc(c->e, cap * sizeof(*e));
    if (!e) return SQLITE_NOMEM;
    c->e = e;
    c->cap = cap;
  }
  hist_entry *e = &c->e[c->n];
  e->ts = ts;
  e->op = op;
  e->seq = c->n;
  e->row_off = c->bytes.n;
  e->row_len = len;
  int rc = mvcc_keybuf_append(&c->bytes, row, len);
  if (rc == SQLITE_OK) c->n++;
  return rc;
}

/* Lists the current key's versions, oldest first, with their ops. */
static int hist_flush_key(hist_scan *s) {
  if (!s->have_key) return SQLITE_OK;
  size_t i = s->nv;
  const hist_ver *prev = NULL;
  if (s->based && i > 0) prev = &s->v[--i];
  int rc = SQLITE_OK;
  while (i > 0 && rc == SQLITE_OK) {
    const hist_ver *x = &s->v[--i];
    const unsigned char *rows = s->rows.p;
    if (x->del) {
      /* A deletion of a row; of nothing, it changed nothing. */
      if (prev && !prev->del)
        rc = hist_emit(s->c, x->ts, HIST_DELETE, rows + prev->off, prev->len);
    } else {
      rc = hist_emit(s->c, x->ts, prev && !prev->del ? HIST_UPDATE : HIST_INSERT,
                     rows + x->off, x->len);
    }
    prev = x;
  }
  s->nv = 0;
  s->based = false;
  s->have_key = false;
  mvcc_keybuf_reset(&s->rows);
  return rc;
}

/* One version from the history (newest first per key). */
static int hist_take(hist_scan *s, kv_history *h) {
  size_t kl, vl;
  const void *k = kv_history_key(h, &kl);
  kv_ts ts = kv_history_ts(h);
  if (!s->have_key || kl != s->key.n || memcmp(k, s->key.p, kl) != 0) {
    int rc = hist_flush_key(s);
    mvcc_keybuf_reset(&s->key);
    if (rc == SQLITE_OK) rc = mvcc_keybuf_append(&s->key, k, kl);
    if (rc) return rc;
    s->have_key = true;
  }
  if (s->b.has_hi && kv_ts_cmp(ts, s->b.hi) > 0) return SQLITE_OK;
  bool below = s->b.has_lo && kv_ts_cmp(ts, s->b.lo) < 0;
  if (below && s->nv == 0) {
    /* Nothing of this key is in the range: skip it unread. */
    kv_history_skip_key(h);
    return SQLITE_OK;
  }
  if (s->nv == s->capv) {
    size_t cap = s->capv ? s->capv * 2 : 8;
    hist_ver *v = realloc(s->v, cap * sizeof(*v));
    if (!v) return SQLITE_NOMEM;
    s->v = v;
    s->capv = cap;
  }
  const void *val = kv_history_value(h, &vl);
  hist_ver *x = &s->v[s->nv++];
  x->ts = ts;
  x->del = kv_history_is_delete(h);
  x->off = s->rows.n;
  x->len = x->del ? 0 : vl;
  if (!x->del) {
    int rc = mvcc_keybuf_append(&s->rows, val, vl);
    if (rc) return rc;
  }
  if (below) {
    /* The version before the range: it decides the op of the oldest one
    ** in it; older ones do not matter. */
    s->based = true;
    kv_history_skip_key(h);
  }
  return SQLITE_OK;
}

static int entry_cmp(const void *a, const void *b) {
  const hist_entry *x = a, *y = b;
  int c = kv_ts_cmp(x->ts, y->ts);
  if (c) return c;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Reads the versions of [lo, hi) in bounds b into c, in commit order. */
static int hist_read(hist_cursor *c, kv_store *store, const mvcc_keybuf *lo,
                     const mvcc_keybuf *hi, const ts_bounds *b, char **pzErr) {
  if (b->has_lo && b->has_hi && kv_ts_cmp(b->lo, b->hi) > 0) return SQLITE_OK;
  hist_scan s;
  memset(&s, 0, sizeof(s));
  s.c = c;
  s.b = *b;
  kv_history *h = NULL;
  char *err = NULL;
  /* With a lower bound only the keys changed since are read (a change
  ** feed's poll costs what it returns, not the table's size). */
  int krc = b->has_lo ? kv_store_history_from(store, lo->p, lo->n, hi->p,
                                              hi->n, b->lo, &h, &err)
                      : kv_store_history(store, lo->p, lo->n, hi->p, hi->n,
                                         &h, &err);
  int rc = SQLITE_OK;
  while (krc == KV_OK && rc == SQLITE_OK) {
    krc = kv_history_next(h, &err);
    if (krc == KV_OK) rc = hist_take(&s, h);
  }
  if (rc == SQLITE_OK && krc == KV_NOTFOUND) rc = hist_flush_key(&s);
  else if (rc == SQLITE_OK) rc = mvcc_kv_error(krc, err, false, pzErr);
  kv_free(err);
  kv_history_close(h);
  free(s.v);
  mvcc_keybuf_free(&s.key);
  mvcc_keybuf_free(&s.rows);
  if (rc == SQLITE_OK && c->n > 1) qsort(c->e, c->n, sizeof(*c->e), entry_cmp);
  return rc;
}

/* Reads the plan (idxStr, as histBestIndex wrote it) and its arguments. */
static int histFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr,
                      int argc, sqlite3_value **argv) {
  (void)idxNum;
  hist_cursor *c = (hist_cursor *)cur;
  hist_vtab *v = (hist_vtab *)cur->pVtab;
  cursor_reset(c);
  const char *plan = idxStr ? idxStr : "";
  int argi = 0, nkey = 0;
  sqlite3_value *table = NULL;
  ts_bounds b;
  memset(&b, 0, sizeof(b));
  for (const char *p = plan; *p && argi <= argc;) {
    while (*p == ' ') p++;
    if (!strncmp(p, "table", 5)) {
      table = argv[argi++];
      p += 5;
    } else if (!strncmp(p, "key*", 4)) {
      nkey = atoi(p + 4);
      while (*p && *p != ' ') p++;
      argi += nkey;
    } else if (!strncmp(p, "ts", 2)) {
      p += 2;
      int op = -1;
      for (int j = 1; j >= 0 && op < 0; j--) /* ">=" before ">" */
        for (int o = 0; o < 5; o++)
          if ((int)strlen(ts_ops[o]) == j + 1 &&
              !strncmp(p, ts_ops[o], strlen(ts_ops[o]))) {
            op = o;
            break;
          }
      if (op < 0 || argi >= argc) break;
      p += strlen(ts_ops[op]);
      ts_narrow(&b, op, argv[argi++]);
    } else {
      break;
    }
  }
  assert(argi == argc);
  const char *name = table ? (const char *)sqlite3_value_text(table) : NULL;
  if (!name)
    return hist_error(cur, SQLITE_ERROR,
                      sqlite3_mprintf("mvcc_history: give the name of an "
                                      "mvcc table: mvcc_history('t' [, key "
                                      "values...])"));
  /* Keep the arguments: the hidden columns return them. */
  for (int i = 0; i < 1 + nkey; i++) {
    c->args[i] = sqlite3_value_dup(argv[i]);
    if (!c->args[i]) return hist_error(cur, SQLITE_NOMEM, NULL);
    c->nargs++;
  }
  if (!v->conn->dflt && !v->conn->stores)
    return hist_error(cur, SQLITE_CANTOPEN,
                      sqlite3_mprintf("%s", v->conn->dflt_err
                                                ? v->conn->dflt_err
                                                : "mvcc: no default store"));
  mvcc_sconn *sc = NULL;
  char *err = NULL;
  int rc = hist_find_table(v, name, &sc, &c->def, &err);
  mvcc_keybuf lo, hi;
  mvcc_keybuf_init(&lo);
  mvcc_keybuf_init(&hi);
  if (rc == SQLITE_OK) rc = hist_span(c->def, argv + 1, nkey, &lo, &hi, &err);
  if (rc == SQLITE_OK) rc = hist_read(c, sc->store, &lo, &hi, &b, &err);
  mvcc_keybuf_free(&lo);
  mvcc_keybuf_free(&hi);
  if (rc) return hist_error(cur, rc, err);
  return SQLITE_OK;
}

static int histNext(sqlite3_vtab_cursor *cur) {
  ((hist_cursor *)cur)->i++;
  return SQLITE_OK;
}

static int histEof(sqlite3_vtab_cursor *cur) {
  hist_cursor *c = (hist_cursor *)cur;
  return c->i >= c->n;
}

/* ------------------------------------------------------------- JSON -- */

static void json_string(sqlite3_str *s, const unsigned char *z, size_t n) {
  static const char hex[] = "0123456789abcdef";
  sqlite3_str_appendchar(s, 1, '"');
  size_t run = 0; /* bytes copied as they are, written in one append */
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = z[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    sqlite3_str_append(s, (const char *)z + run, (int)(i - run));
    run = i + 1;
    switch (ch) {
      case '"': sqlite3_str_append(s, "\\\"", 2); break;
      case '\\': sqlite3_str_append(s, "\\\\", 2); break;
      case '\n': sqlite3_str_append(s, "\\n", 2); break;
      case '\r': sqlite3_str_append(s, "\\r", 2); break;
      case '\t': sqlite3_str_append(s, "\\t", 2); break;
      default: {
        char u[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
        sqlite3_str_append(s, u, 6);
      }
    }
  }
  sqlite3_str_append(s, (const char *)z + run, (int)(n - run));
  sqlite3_str_appendchar(s, 1, '"');
}

/* A real as JSON: the shortest of 15 or 17 digits that reads back exactly,
** with a decimal point (%!) so it stays a real; Inf as SQLite writes it. */
static void json_real(sqlite3_str *s, double r) {
  if (isinf(r)) {
    sqlite3_str_appendall(s, r > 0 ? "9e999" : "-9e999");
    return;
  }
  char *t = sqlite3_mprintf("%!.15g", r);
  if (t && strtod(t, NULL) != r) {
    sqlite3_free(t);
    t = sqlite3_mprintf("%!.17g", r);
  }
  if (t) sqlite3_str_appendall(s, t);
  sqlite3_free(t);
}

static void json_cell(sqlite3_str *s, const mvcc_cell *c) {
  static const char hex[] = "0123456789ABCDEF";
  switch (c->type) {
    case SQLITE_INTEGER: sqlite3_str_appendf(s, "%lld", c->i); break;
    case SQLITE_FLOAT: json_real(s, c->r); break;
    case SQLITE_TEXT: json_string(s, c->p, c->n); break;
    case SQLITE_BLOB: {
      const unsigned char *p = c->p;
      sqlite3_str_appendchar(s, 1, '"');
      for (size_t i = 0; i < c->n; i++) {
        char two[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
        sqlite3_str_append(s, two, 2);
      }
      sqlite3_str_appendchar(s, 1, '"');
      break;
    }
    default: sqlite3_str_appendall(s, "null"); break;
  }
}

/* The key (a JSON array of the key's values) or the row (a JSON object)
** of entry e, as an sqlite3_str'd result. */
static int hist_json(hist_cursor *c, const hist_entry *e, bool whole_row,
                     sqlite3_context *ctx) {
  const mvcc_tabledef *d = c->def->d;
  mvcc_row row;
  memset(&row, 0, sizeof(row));
  int rc = mvcc_row_parse(&row, c->bytes.p + e->row_off, e->row_len);
  if (rc) {
    mvcc_row_clear(&row);
    sqlite3_result_error(ctx, "mvcc_history: corrupt row", -1);
    return rc;
  }
  sqlite3_str *s = sqlite3_str_new(NULL);
  mvcc_cell cell;
  int n = whole_row ? d->ncol : d->npk;
  sqlite3_str_appendchar(s, 1, whole_row ? '{' : '[');
  for (int i = 0; i < n; i++) {
    int col = whole_row ? i : c->def->pk.col[i];
    if (i) sqlite3_str_appendchar(s, 1, ',');
    if (whole_row) {
      json_string(s, (const unsigned char *)d->cols[col].name,
                  strlen(d->cols[col].name));
      sqlite3_str_appendchar(s, 1, ':');
    }
    mvcc_row_cell(&row, col, &cell);
    json_cell(s, &cell);
  }
  sqlite3_str_appendchar(s, 1, whole_row ? '}' : ']');
  mvcc_row_clear(&row);
  int len = sqlite3_str_length(s);
  char *z = sqlite3_str_finish(s);
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return SQLITE_NOMEM;
  }
  sqlite3_result_text(ctx, z, len, sqlite3_free);
  return SQLITE_OK;
}

static int histColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  hist_cursor *c = (hist_cursor *)cur;
  const hist_entry *e = &c->e[c->i];
  static const char *const ops[] = {"insert", "update", "delete"};
  switch (i) {
    case HCOL_TS: {
      char buf[MVCC_TS_TEXT_MAX];
      size_t n = mvcc_ts_text(e->ts, buf);
      sqlite3_result_text(ctx, buf, (int)n, SQLITE_TRANSIENT);
      return SQLITE_OK;
    }
    case HCOL_OP:
      sqlite3_result_text(ctx, ops[e->op], -1, SQLITE_STATIC);
      return SQLITE_OK;
    case HCOL_KEY: return hist_json(c, e, false, ctx);
    case HCOL_ROW:
      if (e->op == HIST_DELETE) return SQLITE_OK; /* NULL */
      return hist_json(c, e, true, ctx);
    default:
      if (i - HCOL_TABLE < c->nargs)
        sqlite3_result_value(ctx, c->args[i - HCOL_TABLE]);
      return SQLITE_OK;
  }
}

static int histRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = (sqlite3_int64)((hist_cursor *)cur)->i;
  return SQLITE_OK;
}

static const sqlite3_module history_module = {
    .xConnect = histConnect,
    .xBestIndex = histBestIndex,
    .xDisconnect = histDisconnect,
    .xOpen = histOpen,
    .xClose = histClose,
    .xFilter = histFilter,
    .xNext = histNext,
    .xEof = histEof,
    .xColumn = histColumn,
    .xRowid = histRowid,
};

int mvcc_register_history(sqlite3 *db, mvcc_conn *c) {
  return sqlite3_create_module(db, "mvcc_history", &history_module, c);
}
