/*
** test_sqldiff.c — differential testing of mvcc tables against native
** SQLite.
**
** For each of many random table definitions, the same CREATE goes to an
** mvcc table (CREATE VIRTUAL TABLE temp.t USING mvcc(...), connection A) and
** to a native WITHOUT ROWID table (CREATE TABLE t(...) WITHOUT ROWID,
** connection B, a separate database), and then the same random statements
** go to both: INSERT with every conflict mode, UPDATE (the key too), DELETE,
** INSERT ... SELECT from the table itself, SELECT (and aggregates) with =,
** IN, ranges, BETWEEN, IS [NOT] NULL, COLLATE, ORDER BY either way,
** LIMIT/OFFSET, and BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ROLLBACK TO and
** RELEASE.  Native SQLite is the
** oracle: every result set, every error (primary code and message), every
** changes() count and the autocommit state must be the same on both, and
** the whole table is compared now and then and at the end.
**
** Definitions cover every way a key can be declared (a column's PRIMARY
** KEY, with ASC/DESC; a table constraint PRIMARY KEY(...) of one or several
** columns, each with an optional COLLATE and DESC; CONSTRAINT name PRIMARY
** KEY(...)), every affinity (no type, INTEGER, TEXT, REAL, NUMERIC, BLOB and
** look-alikes), column collations BINARY, NOCASE and RTRIM, NOT NULL, and
** UNIQUE constraints (a column's, and UNIQUE(a [COLLATE] [DESC], ...)).
** Values are drawn from a small domain so that keys collide: integers,
** reals equal to integers, text with case and trailing-space variants,
** numeric text, blobs and NULL.
**
** The order in which a multi-row statement meets its rows can decide its
** outcome (OR FAIL keeps the rows before a conflict; OR IGNORE and OR
** REPLACE decide which of two rows keeps a value; the error names the first
** constraint that fails).  An mvcc table meets them in key order, a native
** one in the order its planner picks (it may scan a UNIQUE constraint's
** index).  So INSERT ... SELECT orders its SELECT by the key, and on a
** table with UNIQUE constraints a multi-row UPDATE is OR ABORT or OR
** ROLLBACK (all or nothing) and compared by outcome and error code; its OR
** FAIL, OR IGNORE and OR REPLACE update one row at most.
**
** Results are compared in order when the ORDER BY fixes the order (every
** key column in it, compared by a collation at least as fine as the key's),
** as sorted multisets otherwise; LIMIT/OFFSET are generated only with such
** an order, since otherwise any subset is a right answer.
**
** Reproducible: SQLDIFF_SEED (default 1) seeds the run, definition i uses
** seed + i, SQLDIFF_DEF=i runs that definition alone.  SQLDIFF_DEFS and
** SQLDIFF_STMTS set the counts (defaults 200 and 500, times KV_TEST_SCALE
** for the statements).  On a difference it prints both CREATEs and the
** statements that led to it, shortened by removing every statement whose
** removal keeps the difference at the same statement (blocks of halving
** size down to one statement at a time), so the output
** pastes into two sqlite3 shells as a reproduction.  SQLDIFF_KEEP_GOING=1
** reports every failing definition instead of stopping at the first.
** SQLDIFF_SECONDS=n runs definitions seed+0, seed+1, ... until n seconds
** have passed instead of SQLDIFF_DEFS of them (`make soak` sets it, with a
** fresh seed each run; the seed is printed first, so a failure found there
** is reproduced with SQLDIFF_SEED and SQLDIFF_DEF).
*/
#include "sqltest.h"

#include <limits.h>

/* ------------------------------------------------------------- random -- */

typedef struct rng {
  uint64_t s;
} rng;

static uint64_t rng_next(rng *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int rng_int(rng *r, int n) { return (int)(rng_next(r) % (uint64_t)n); }
static bool rng_chance(rng *r, int percent) { return rng_int(r, 100) < percent; }
static const char *rng_pick(rng *r, const char *const *a, int n) {
  return a[rng_int(r, n)];
}
#define PICK(r, a) rng_pick((r), (a), (int)(sizeof(a) / sizeof((a)[0])))

/* -------------------------------------------------------- definitions -- */

enum { COLL_BINARY, COLL_NOCASE, COLL_RTRIM };
static const char *const coll_names[] = {"BINARY", "NOCASE", "RTRIM"};

#define MAXCOL 6

typedef struct tdef {
  int ncol;
  int coll[MAXCOL];       /* the column's collation (BINARY if none given) */
  int npk;
  int pk[MAXCOL];         /* key columns in key order */
  int pkcoll[MAXCOL];     /* the key's collation of each */
  bool uniq[MAXCOL];      /* the column is in a UNIQUE constraint or a
                          ** created unique index */
  bool idx[MAXCOL];       /* the column leads a created index */
  int next_index;         /* created indexes are named ix0, ix1, ... */
  char defs[1024];        /* the column definitions, as written */
} tdef;

static void def_make(rng *r, tdef *d) {
  static const char *const types[] = {
      "",        "INTEGER", "INT",   "TEXT",           "REAL",     "NUMERIC",
      "BLOB",    "VARCHAR(5)", "DOUBLE PRECISION", "BOOLEAN", "FLOAT",
      "CLOB",    "ANY"};
  memset(d, 0, sizeof(*d));
  d->ncol = 1 + rng_int(r, 5);
  /* Key form: 0 a column's PRIMARY KEY, 1 PRIMARY KEY(...), 2 CONSTRAINT
  ** name PRIMARY KEY(...). */
  int form = rng_int(r, 3);
  d->npk = form == 0 ? 1 : 1 + rng_int(r, d->ncol < 3 ? d->ncol : 3);
  bool used[MAXCOL] = {false};
  for (int k = 0; k < d->npk; k++) {
    int c;
    do c = rng_int(r, d->ncol);
    while (used[c]);
    used[c] = true;
    d->pk[k] = c;
  }
  char keyterm[MAXCOL][64]; /* a column constraint's or a term's extra */
  bool integer[MAXCOL];     /* the column's declared type is INTEGER */
  char *o = d->defs;
  size_t left = sizeof d->defs;
  for (int c = 0; c < d->ncol; c++) {
    d->coll[c] = rng_chance(r, 50) ? COLL_BINARY : rng_int(r, 3);
    bool explicit_coll = d->coll[c] != COLL_BINARY || rng_chance(r, 20);
    bool notnull = rng_chance(r, 15);
    char clauses[3][40];
    int ncl = 0;
    if (explicit_coll)
      snprintf(clauses[ncl++], 40, "COLLATE %s", coll_names[d->coll[c]]);
    if (notnull) snprintf(clauses[ncl++], 40, "NOT NULL");
    if (form == 0 && d->pk[0] == c)
      snprintf(clauses[ncl++], 40, "PRIMARY KEY%s",
               rng_chance(r, 25) ? " DESC" : rng_chance(r, 20) ? " ASC" : "");
    if (rng_chance(r, 15)) {
      snprintf(clauses[ncl++], 40, "UNIQUE");
      d->uniq[c] = true;
    }
    /* The clauses in a random order: SQLite takes any. */
    for (int i = ncl - 1; i > 0; i--) {
      int j = rng_int(r, i + 1);
      char t[40];
      memcpy(t, clauses[i], 40);
      memcpy(clauses[i], clauses[j], 40);
      memcpy(clauses[j], t, 40);
    }
    int n = snprintf(o, left, "%sc%d", c ? ", " : "", c);
    o += n, left -= (size_t)n;
    const char *t = PICK(r, types);
    integer[c] = !strcmp(t, "INTEGER");
    if (*t) n = snprintf(o, left, " %s", t), o += n, left -= (size_t)n;
    for (int i = 0; i < ncl; i++)
      n = snprintf(o, left, " %s", clauses[i]), o += n, left -= (size_t)n;
  }
  for (int k = 0; k < d->npk; k++) d->pkcoll[k] = d->coll[d->pk[k]];
  if (form != 0) {
    int n = snprintf(o, left, ", %sPRIMARY KEY(",
                     form == 2 ? "CONSTRAINT pk " : "");
    o += n, left -= (size_t)n;
    for (int k = 0; k < d->npk; k++) {
      keyterm[k][0] = 0;
      if (rng_chance(r, 30)) {
        d->pkcoll[k] = rng_int(r, 3);
        snprintf(keyterm[k], 64, " COLLATE %s", coll_names[d->pkcoll[k]]);
      }
      const char *dir = rng_chance(r, 25) ? " DESC" : rng_chance(r, 15) ? " ASC" : "";
      /* SQLite takes PRIMARY KEY(c) of one INTEGER column, ASC or DESC,
      ** for an INTEGER PRIMARY KEY and drops the term's COLLATE: the key
      ** compares by the column's own collation (build.c,
      ** sqlite3AddPrimaryKey; mvcc tables do the same). */
      if (d->npk == 1 && integer[d->pk[k]])
        d->pkcoll[k] = d->coll[d->pk[k]];
      n = snprintf(o, left, "%sc%d%s%s", k ? ", " : "", d->pk[k], keyterm[k],
                   dir);
      o += n, left -= (size_t)n;
    }
    n = snprintf(o, left, ")");
    o += n, left -= (size_t)n;
  }
  /* UNIQUE table constraints: one or two columns, with a collation or a
  ** direction now and then. */
  for (int i = rng_chance(r, 70) ? 0 : 1 + rng_int(r, 2); i > 0; i--) {
    int n = snprintf(o, left, ", UNIQUE(");
    o += n, left -= (size_t)n;
    int ncols = 1 + rng_int(r, d->ncol < 2 ? 1 : 2), first = -1;
    for (int j = 0; j < ncols; j++) {
      int c = rng_int(r, d->ncol);
      if (c == first) continue;
      if (first < 0) first = c;
      d->uniq[c] = true;
      n = snprintf(o, left, "%sc%d%s%s%s", j ? ", " : "", c,
                   rng_chance(r, 25) ? " COLLATE " : "", "", "");
      o += n, left -= (size_t)n;
      if (o[-1] == ' ') { /* COLLATE needs its name */
        n = snprintf(o, left, "%s", coll_names[rng_int(r, 3)]);
        o += n, left -= (size_t)n;
      }
      if (rng_chance(r, 20)) n = snprintf(o, left, " DESC"), o += n, left -= (size_t)n;
    }
    n = snprintf(o, left, ")");
    o += n, left -= (size_t)n;
  }
}

/* ------------------------------------------------------------- values -- */

static const char *value(rng *r) {
  static const char *const ints[] = {"-1", "0", "1", "2", "3", "10",
                                     "9223372036854775807"};
  static const char *const reals[] = {"1.0", "2.0", "2.5", "-0.5", "1e20",
                                      "3.0"};
  static const char *const texts[] = {"'a'",  "'A'",  "'a '",  "'b'",  "'B'",
                                      "'b  '", "' a'", "''",    "'1'",  "'2.0'",
                                      "'10'", "'abc'", "'ABC'", "'Abc '", "'x'"};
  static const char *const blobs[] = {"x''", "x'61'", "x'41'", "x'0102'"};
  int k = rng_int(r, 100);
  if (k < 30) return PICK(r, ints);
  if (k < 42) return PICK(r, reals);
  if (k < 85) return PICK(r, texts);
  if (k < 93) return PICK(r, blobs);
  return "NULL";
}

/* --------------------------------------------------------- statements -- */

static int pick_col(rng *r, const tdef *d) {
  if (rng_chance(r, 50)) return d->pk[rng_int(r, d->npk)];
  if (rng_chance(r, 50))
    for (int c = rng_int(r, d->ncol), i = 0; i < d->ncol; i++, c = (c + 1) % d->ncol)
      if (d->uniq[c] || d->idx[c]) return c;
  return rng_int(r, d->ncol);
}

static void where_term(rng *r, const tdef *d, sqlite3_str *s) {
  int c = pick_col(r, d);
  char col[48];
  if (rng_chance(r, 12))
    snprintf(col, sizeof col, "c%d COLLATE %s", c, coll_names[rng_int(r, 3)]);
  else
    snprintf(col, sizeof col, "c%d", c);
  switch (rng_int(r, 13)) {
    case 0: case 1: case 2:
      sqlite3_str_appendf(s, "%s = %s", col, value(r));
      break;
    case 3: {
      int n = 1 + rng_int(r, 4);
      sqlite3_str_appendf(s, "%s IN (", col);
      for (int i = 0; i < n; i++)
        sqlite3_str_appendf(s, "%s%s", i ? ", " : "", value(r));
      sqlite3_str_appendall(s, ")");
      break;
    }
    case 4: sqlite3_str_appendf(s, "%s < %s", col, value(r)); break;
    case 5: sqlite3_str_appendf(s, "%s <= %s", col, value(r)); break;
    case 6: sqlite3_str_appendf(s, "%s > %s", col, value(r)); break;
    case 7: sqlite3_str_appendf(s, "%s >= %s", col, value(r)); break;
    case 8:
      sqlite3_str_appendf(s, "%s BETWEEN %s AND %s", col, value(r), value(r));
      break;
    case 9: sqlite3_str_appendf(s, "%s IS NULL", col); break;
    case 10: sqlite3_str_appendf(s, "%s IS NOT NULL", col); break;
    case 11: sqlite3_str_appendf(s, "%s IS %s", col, value(r)); break;
    default: /* the value on the left */
      sqlite3_str_appendf(s, "%s %s %s", value(r),
                          rng_chance(r, 50) ? "<" : ">=", col);
      break;
  }
}

static void where(rng *r, const tdef *d, sqlite3_str *s) {
  int n = rng_int(r, 10) < 2 ? 0 : 1 + rng_int(r, 2);
  for (int i = 0; i < n; i++) {
    sqlite3_str_appendall(s, i ? " AND " : " WHERE ");
    where_term(r, d, s);
  }
}

/* Is collation a at least as fine as b (a-equal values are b-equal)? */
static bool finer_or_same(int a, int b) { return a == COLL_BINARY || a == b; }

/* Appends an ORDER BY; returns whether it fixes the order of the rows. */
static bool order_by(rng *r, const tdef *d, sqlite3_str *s) {
  int how = rng_int(r, 10);
  if (how < 3) return false;
  sqlite3_str_appendall(s, " ORDER BY ");
  bool covered[MAXCOL] = {false};
  int nterm = 0;
  if (how < 5) { /* a random column first */
    int c = rng_int(r, d->ncol);
    sqlite3_str_appendf(s, "c%d%s", c, rng_chance(r, 40) ? " DESC" : "");
    nterm++;
    if (how == 4) return false;
  }
  /* The key columns, in key order (or shuffled now and then). */
  int order[MAXCOL];
  for (int k = 0; k < d->npk; k++) order[k] = k;
  if (rng_chance(r, 20))
    for (int k = d->npk - 1; k > 0; k--) {
      int j = rng_int(r, k + 1), t = order[k];
      order[k] = order[j];
      order[j] = t;
    }
  int nkey = rng_chance(r, 80) ? d->npk : 1 + rng_int(r, d->npk);
  bool dirs_same = rng_chance(r, 70), desc_all = rng_chance(r, 50);
  for (int i = 0; i < nkey; i++) {
    int k = order[i], c = d->pk[k];
    int coll = d->coll[c];
    const char *explicit_coll = "";
    if (rng_chance(r, 15)) {
      coll = rng_int(r, 3);
      explicit_coll = coll_names[coll];
    }
    bool desc = dirs_same ? desc_all : rng_chance(r, 50);
    sqlite3_str_appendf(s, "%sc%d%s%s%s", nterm++ ? ", " : "", c,
                        *explicit_coll ? " COLLATE " : "", explicit_coll,
                        desc ? " DESC" : "");
    if (finer_or_same(coll, d->pkcoll[k])) covered[k] = true;
  }
  for (int k = 0; k < d->npk; k++)
    if (!covered[k]) return false;
  return true;
}

static void stmt_insert(rng *r, const tdef *d, sqlite3_str *s) {
  static const char *const verbs[] = {
      "INSERT INTO",        "INSERT INTO",           "INSERT OR ABORT INTO",
      "INSERT OR FAIL INTO", "INSERT OR IGNORE INTO", "INSERT OR REPLACE INTO",
      "REPLACE INTO",       "INSERT OR ROLLBACK INTO"};
  sqlite3_str_appendf(s, "%s t", PICK(r, verbs));
  int cols[MAXCOL], ncols = d->ncol;
  for (int c = 0; c < d->ncol; c++) cols[c] = c;
  if (rng_chance(r, 40)) { /* a column list: a random subset and order */
    for (int c = d->ncol - 1; c > 0; c--) {
      int j = rng_int(r, c + 1), t = cols[c];
      cols[c] = cols[j];
      cols[j] = t;
    }
    ncols = 1 + rng_int(r, d->ncol);
    sqlite3_str_appendall(s, "(");
    for (int i = 0; i < ncols; i++)
      sqlite3_str_appendf(s, "%sc%d", i ? ", " : "", cols[i]);
    sqlite3_str_appendall(s, ")");
  }
  int nrows = rng_chance(r, 70) ? 1 : 2 + rng_int(r, 3);
  sqlite3_str_appendall(s, " VALUES ");
  for (int i = 0; i < nrows; i++) {
    sqlite3_str_appendall(s, i ? ", (" : "(");
    for (int j = 0; j < ncols; j++)
      sqlite3_str_appendf(s, "%s%s", j ? ", " : "", value(r));
    sqlite3_str_appendall(s, ")");
  }
}

/* INSERT ... SELECT from the table itself: each column from a column of
** the row (the key columns often shifted), so keys collide with rows that
** exist and with rows of the same statement. */
static void stmt_insert_select(rng *r, const tdef *d, sqlite3_str *s) {
  static const char *const verbs[] = {
      "INSERT INTO", "INSERT OR FAIL INTO", "INSERT OR IGNORE INTO",
      "INSERT OR REPLACE INTO", "INSERT OR ROLLBACK INTO"};
  sqlite3_str_appendf(s, "%s t SELECT ", PICK(r, verbs));
  for (int c = 0; c < d->ncol; c++) {
    switch (rng_int(r, 5)) {
      case 0: sqlite3_str_appendf(s, "%sc%d + 1", c ? ", " : "", c); break;
      case 1: sqlite3_str_appendf(s, "%slower(c%d)", c ? ", " : "", c); break;
      case 2: sqlite3_str_appendf(s, "%s%s", c ? ", " : "", value(r)); break;
      default: sqlite3_str_appendf(s, "%sc%d", c ? ", " : "", rng_int(r, d->ncol));
    }
  }
  sqlite3_str_appendall(s, " FROM t");
  where(r, d, s);
  /* In key order on both sides: which row of the SELECT comes first can
  ** decide the outcome (OR FAIL, OR IGNORE, OR REPLACE, the error). */
  for (int k = 0; k < d->npk; k++)
    sqlite3_str_appendf(s, "%sc%d COLLATE %s", k ? ", " : " ORDER BY ",
                        d->pk[k], coll_names[d->pkcoll[k]]);
}

static void stmt_update(rng *r, const tdef *d, sqlite3_str *s, bool *loose) {
  static const char *const verbs[] = {"UPDATE",         "UPDATE",
                                      "UPDATE OR ABORT", "UPDATE OR FAIL",
                                      "UPDATE OR IGNORE", "UPDATE OR REPLACE",
                                      "UPDATE OR ROLLBACK"};
  const char *verb = PICK(r, verbs);
  sqlite3_str_appendf(s, "%s t SET ", verb);
  int n = 1 + rng_int(r, d->ncol < 2 ? 1 : 2);
  int first = -1;
  bool sets_key = false;
  for (int i = 0; i < n; i++) {
    int c = pick_col(r, d);
    if (c == first) continue;
    if (first < 0) first = c;
    for (int k = 0; k < d->npk; k++) sets_key |= d->pk[k] == c;
    sets_key |= d->uniq[c];
    sqlite3_str_appendf(s, "%sc%d = ", i ? ", " : "", c);
    switch (rng_int(r, 6)) {
      case 0: sqlite3_str_appendf(s, "c%d + 1", c); break;
      case 1: sqlite3_str_appendf(s, "c%d", rng_int(r, d->ncol)); break;
      case 2: sqlite3_str_appendf(s, "upper(c%d)", c); break;
      default: sqlite3_str_appendall(s, value(r)); break;
    }
  }
  /* A multi-row UPDATE of a table with UNIQUE constraints meets its rows
  ** in an order each planner picks (either table may be read through a
  ** UNIQUE constraint's index), and the outcome can depend on that order:
  ** OR FAIL / IGNORE / REPLACE, and any statement that sets a key or
  ** UNIQUE column (moving rows one by one can succeed in one order and
  ** collide in another).  Those update one row at most here; the others
  ** are compared by outcome and error code (step_both). */
  bool uniq_table = false; /* or with a created index: the same holds */
  for (int c = 0; c < d->ncol; c++) uniq_table |= d->uniq[c] || d->idx[c];
  bool order_dependent = uniq_table && (sets_key || strstr(verb, "FAIL") ||
                                        strstr(verb, "IGNORE") ||
                                        strstr(verb, "REPLACE"));
  if ((sets_key && strstr(verb, "REPLACE")) || order_dependent) {
    /* One row at most: SQLite computes all new rows of a virtual table's
    ** multi-row UPDATE before it writes any, so where OR REPLACE deletes a
    ** row the statement then updates too (by its key or a UNIQUE column),
    ** the mvcc table refuses the statement (native SQLite updates the row
    ** as it is by then); the SQL case 034 tests that refusal. */
    for (int k = 0; k < d->npk; k++)
      sqlite3_str_appendf(s, "%sc%d = %s COLLATE %s", k ? " AND " : " WHERE ",
                          d->pk[k], value(r), coll_names[d->pkcoll[k]]);
    return;
  }
  *loose = uniq_table;
  where(r, d, s);
}

static void stmt_select(rng *r, const tdef *d, sqlite3_str *s, bool *ordered) {
  int shape = rng_int(r, 10);
  if (shape == 0) {
    sqlite3_str_appendall(s, "SELECT count(*) FROM t");
    where(r, d, s);
    *ordered = true;
    return;
  }
  if (shape == 1) {
    int c = rng_int(r, d->ncol);
    sqlite3_str_appendf(s, "SELECT typeof(c%d), quote(c%d) FROM t", c, c);
  } else if (shape == 2) {
    /* Over the rows in key order on both sides: min and max keep the first
    ** of values equal under the column's collation, and total() rounds in
    ** the order it adds, so the order matters, and a native planner may
    ** read the table through a covering index.  (The LIMIT keeps SQLite
    ** from flattening the subquery and dropping its ORDER BY.) */
    int c = pick_col(r, d);
    sqlite3_str_appendf(s, "SELECT min(c%d), max(c%d), count(c%d), total(c%d) "
                        "FROM (SELECT c%d FROM t", c, c, c, c, c);
    where(r, d, s);
    for (int k = 0; k < d->npk; k++)
      sqlite3_str_appendf(s, "%sc%d COLLATE %s", k ? ", " : " ORDER BY ",
                          d->pk[k], coll_names[d->pkcoll[k]]);
    sqlite3_str_appendall(s, " LIMIT -1)");
    return;
  } else {
    sqlite3_str_appendall(s, "SELECT * FROM t");
  }
  where(r, d, s);
  *ordered = order_by(r, d, s);
  if (*ordered && rng_chance(r, 50)) {
    sqlite3_str_appendf(s, " LIMIT %d", rng_int(r, 6) - 1);
    if (rng_chance(r, 50)) sqlite3_str_appendf(s, " OFFSET %d", rng_int(r, 4));
  }
}

/* An index created on both sides: mvcc_create_index on the mvcc side
** (sql), CREATE INDEX on the native one (*native).  One to three columns,
** each with a collation or DESC now and then; unique one time in three. */
static char *stmt_create_index(rng *r, tdef *d, char **native) {
  sqlite3_str *cols = sqlite3_str_new(NULL);
  int n = 1 + rng_int(r, d->ncol < 3 ? d->ncol : 3);
  bool used[MAXCOL] = {false}, unique = rng_chance(r, 33);
  for (int i = 0; i < n; i++) {
    int c = rng_int(r, d->ncol);
    if (used[c]) continue;
    used[c] = true;
    if (i == 0) d->idx[c] = true;
    if (unique) d->uniq[c] = true;
    sqlite3_str_appendf(cols, "%sc%d", sqlite3_str_length(cols) ? ", " : "", c);
    if (rng_chance(r, 25))
      sqlite3_str_appendf(cols, " COLLATE %s", coll_names[rng_int(r, 3)]);
    if (rng_chance(r, 20)) sqlite3_str_appendall(cols, " DESC");
  }
  char *c = sqlite3_str_finish(cols);
  int no = d->next_index++;
  *native = sqlite3_mprintf("CREATE %sINDEX ix%d ON t(%s)",
                            unique ? "UNIQUE " : "", no, c);
  char *sql = sqlite3_mprintf("SELECT mvcc_create_index('ix%d', 't', '%s'%s)",
                              no, c, unique ? ", 'unique'" : "");
  sqlite3_free(c);
  return sql;
}

/* Drops an index of the native side (picked by r) on both, or returns
** NULL when there is none. */
static char *stmt_drop_index(rng *r, sqlite3 *native_db, char **native) {
  sqlite3_stmt *st = NULL;
  char *name = NULL;
  int n = 0;
  if (sqlite3_prepare_v2(native_db,
                         "SELECT name FROM sqlite_schema WHERE type = 'index' "
                         "AND name LIKE 'ix%' ORDER BY name",
                         -1, &st, NULL) != SQLITE_OK) {
    sqlite3_finalize(st);
    return NULL;
  }
  while (sqlite3_step(st) == SQLITE_ROW) n++;
  sqlite3_reset(st);
  for (int pick = n ? rng_int(r, n) : -1; pick >= 0 &&
                                          sqlite3_step(st) == SQLITE_ROW;
       pick--)
    if (pick == 0) name = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  if (!name) return NULL;
  *native = sqlite3_mprintf("DROP INDEX %s", name);
  char *sql = sqlite3_mprintf("SELECT mvcc_drop_index('%s')", name);
  sqlite3_free(name);
  return sql;
}

/* One random statement; *ordered tells whether its rows come in a fixed
** order, *loose whether its error message may depend on the order SQLite
** meets rows in (then only the codes are compared).  in_txn: a transaction
** is open (on the mvcc side). */
static char *stmt_make(rng *r, const tdef *d, bool in_txn, bool *ordered,
                       bool *loose) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  *ordered = true;
  *loose = false;
  int k = rng_int(r, 100);
  if (k < 5) {
    static const char *const in[] = {"COMMIT", "ROLLBACK", "SAVEPOINT",
                                     "ROLLBACK TO", "RELEASE"};
    static const char *const out[] = {"BEGIN", "BEGIN", "SAVEPOINT"};
    const char *verb = in_txn ? PICK(r, in) : PICK(r, out);
    if (strstr(verb, "SAVEPOINT") || strstr(verb, "RELEASE") || strstr(verb, " TO"))
      sqlite3_str_appendf(s, "%s s%d", verb, rng_int(r, 3));
    else
      sqlite3_str_appendall(s, verb);
  } else if (k < 33) {
    stmt_insert(r, d, s);
  } else if (k < 36) {
    stmt_insert_select(r, d, s);
  } else if (k < 52) {
    stmt_update(r, d, s, loose);
  } else if (k < 60) {
    sqlite3_str_appendall(s, "DELETE FROM t");
    where(r, d, s);
  } else {
    stmt_select(r, d, s, ordered);
  }
  return sqlite3_str_finish(s);
}

/* ------------------------------------------------------------ running -- */

typedef struct outcome {
  int rc;
  char *err;       /* sqlite3_mprintf'd, or NULL */
  char **rows;     /* each row as typed text */
  int nrow, cap;
  sqlite3_int64 changes;
  int autocommit;
} outcome;

static void outcome_clear(outcome *o) {
  sqlite3_free(o->err);
  for (int i = 0; i < o->nrow; i++) sqlite3_free(o->rows[i]);
  free(o->rows);
  memset(o, 0, sizeof(*o));
}

static char *row_text(sqlite3_stmt *st) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  for (int i = 0; i < sqlite3_column_count(st); i++) {
    if (i) sqlite3_str_appendall(s, "|");
    switch (sqlite3_column_type(st, i)) {
      case SQLITE_INTEGER:
        sqlite3_str_appendf(s, "%lld", sqlite3_column_int64(st, i));
        break;
      case SQLITE_FLOAT:
        sqlite3_str_appendf(s, "r%!.17g", sqlite3_column_double(st, i));
        break;
      case SQLITE_TEXT:
        sqlite3_str_appendf(s, "'%q'", sqlite3_column_text(st, i));
        break;
      case SQLITE_BLOB: {
        const unsigned char *b = sqlite3_column_blob(st, i);
        sqlite3_str_appendall(s, "x'");
        for (int j = 0; j < sqlite3_column_bytes(st, i); j++)
          sqlite3_str_appendf(s, "%02x", b[j]);
        sqlite3_str_appendall(s, "'");
        break;
      }
      default: sqlite3_str_appendall(s, "NULL"); break;
    }
  }
  return sqlite3_str_finish(s);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run(sqlite3 *db, const char *sql, bool sorted, outcome *o) {
  memset(o, 0, sizeof(*o));
  sqlite3_stmt *st = NULL;
  o->rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  while (o->rc == SQLITE_OK) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      o->rc = rc;
      break;
    }
    if (o->nrow == o->cap) {
      o->cap = o->cap ? 2 * o->cap : 16;
      o->rows = realloc(o->rows, sizeof(char *) * (size_t)o->cap);
    }
    o->rows[o->nrow++] = row_text(st);
  }
  sqlite3_finalize(st);
  if (o->rc != SQLITE_OK) o->err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  o->changes = sqlite3_changes64(db);
  o->autocommit = sqlite3_get_autocommit(db);
  if (sorted && o->nrow > 1) qsort(o->rows, (size_t)o->nrow, sizeof(char *), cmp_str);
}

/* Why two outcomes differ, or NULL if they do not (caller frees). */
static char *outcome_diff(const outcome *m, const outcome *n, bool dml,
                          bool loose) {
  if ((m->rc & 0xff) != (n->rc & 0xff) ||
      (!loose && strcmp(m->err ? m->err : "", n->err ? n->err : "") != 0))
    return sqlite3_mprintf("error: mvcc %d '%s', native %d '%s'", m->rc,
                           m->err ? m->err : "", n->rc, n->err ? n->err : "");
  if (m->autocommit != n->autocommit)
    return sqlite3_mprintf("autocommit: mvcc %d, native %d", m->autocommit,
                           n->autocommit);
  if (dml && m->changes != n->changes)
    return sqlite3_mprintf("changes(): mvcc %lld, native %lld", m->changes,
                           n->changes);
  int i = 0;
  while (i < m->nrow && i < n->nrow && !strcmp(m->rows[i], n->rows[i])) i++;
  if (i < m->nrow || i < n->nrow)
    return sqlite3_mprintf("rows (%d mvcc, %d native) differ at row %d: mvcc "
                           "%s, native %s",
                           m->nrow, n->nrow, i, i < m->nrow ? m->rows[i] : "(none)",
                           i < n->nrow ? n->rows[i] : "(none)");
  return NULL;
}

/* The two connections: a (mvcc tables) and b (native tables). */
typedef struct pair {
  sqlite3 *a, *b;
} pair;

static void exec_ok(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    print_error("%s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    fail();
  }
}

static void tables_create(pair *p, const tdef *d) {
  char *sa = sqlite3_mprintf("CREATE VIRTUAL TABLE temp.t USING mvcc(%s)", d->defs);
  char *sb = sqlite3_mprintf("CREATE TABLE t(%s) WITHOUT ROWID", d->defs);
  exec_ok(p->a, sa);
  exec_ok(p->b, sb);
  sqlite3_free(sa);
  sqlite3_free(sb);
}

static void tables_drop(pair *p) {
  if (!sqlite3_get_autocommit(p->a)) exec_ok(p->a, "ROLLBACK");
  if (!sqlite3_get_autocommit(p->b)) exec_ok(p->b, "ROLLBACK");
  exec_ok(p->a, "DROP TABLE t");
  exec_ok(p->b, "DROP TABLE t");
}

typedef struct stmt {
  char *sql;
  char *native;    /* the native side's statement, when it differs (index
                   ** DDL: then only the outcomes are compared, not rows) */
  bool ordered;
  bool dml;
  bool loose;
} stmt;

/* What the run compared, to show it is not vacuous. */
static struct {
  long errors, rows, changes;
} seen;

/* Runs one statement on both sides; returns why they differ (caller frees),
** or NULL. */
static char *step_both(pair *p, const stmt *s) {
  outcome m, n;
  run(p->a, s->sql, !s->ordered, &m);
  run(p->b, s->native ? s->native : s->sql, !s->ordered, &n);
  if (s->native) /* mvcc_create_index returns a count, CREATE INDEX nothing */
    for (; m.nrow > 0; m.nrow--) sqlite3_free(m.rows[m.nrow - 1]);
  char *why = outcome_diff(&m, &n, s->dml, s->loose);
  seen.errors += n.rc != SQLITE_OK;
  seen.rows += n.nrow;
  if (s->dml && n.rc == SQLITE_OK) seen.changes += n.changes;
  outcome_clear(&m);
  outcome_clear(&n);
  return why;
}

/* The whole table on both sides, sorted. */
static char *compare_tables(pair *p) {
  stmt all = {"SELECT * FROM t", NULL, false, false, false};
  return step_both(p, &all);
}

/* Replays stmts (those with keep[i]) on fresh tables; returns the index of
** the first statement after which the sides differ (the table check after
** the last statement counts as index n), or -1. */
static int replay(pair *p, const tdef *d, stmt *stmts, const bool *keep, int n,
                  char **why) {
  tables_create(p, d);
  int at = -1;
  for (int i = 0; i < n && at < 0; i++) {
    if (!keep[i]) continue;
    /* Index DDL is generated outside transactions only (mvcc_create_index
    ** refuses to run in one that wrote, as documented): one that dropping
    ** a COMMIT moved into a transaction is dropped too. */
    if (stmts[i].native && !sqlite3_get_autocommit(p->a)) continue;
    char *w = step_both(p, &stmts[i]);
    if (w) {
      at = i;
      if (why) *why = w;
      else sqlite3_free(w);
    }
  }
  if (at < 0) {
    char *w = compare_tables(p);
    if (w) {
      at = n;
      if (why) *why = w;
      else sqlite3_free(w);
    }
  }
  tables_drop(p);
  return at;
}

/* Prints the shortest reproduction found by dropping statements while the
** sides still differ at the same statement. */
static void report(pair *p, const tdef *d, stmt *stmts, int n, uint64_t seed,
                   int defno) {
  bool *keep = malloc((size_t)n + 1);
  for (int i = 0; i < n; i++) keep[i] = true;
  int last = replay(p, d, stmts, keep, n, NULL);
  if (last >= 0) {
    int end = last < n ? last + 1 : n;
    for (int i = end; i < n; i++) keep[i] = false;
    /* Drop blocks of the statements before the failing one, halving the
    ** block size down to single statements; a block stays dropped if the
    ** sides still differ without it, at the same statement (a difference
    ** elsewhere may be another one). */
    bool *was = malloc((size_t)n + 1);
    for (int size = end / 2; size >= 1; size /= 2)
      for (int hi = end - 1; hi > 0; hi -= size) {
        int lo = hi - size < 0 ? 0 : hi - size;
        bool any = false;
        for (int i = lo; i < hi; i++) {
          was[i] = keep[i];
          any |= keep[i];
          keep[i] = false;
        }
        if (any && replay(p, d, stmts, keep, end, NULL) != last)
          for (int i = lo; i < hi; i++) keep[i] = was[i];
      }
    free(was);
  }
  char *why = NULL;
  int at = replay(p, d, stmts, keep, n, &why);
  fprintf(stderr,
          "\nsqldiff: definition %d (SQLDIFF_SEED=%llu SQLDIFF_DEF=%d) differs"
          "%s\n  -- mvcc:   CREATE VIRTUAL TABLE temp.t USING mvcc(%s);\n"
          "  -- native: CREATE TABLE t(%s) WITHOUT ROWID;\n",
          defno, (unsigned long long)seed, defno,
          last < 0 ? " (but not when replayed on fresh tables)" : "", d->defs,
          d->defs);
  for (int i = 0; i < n && last >= 0; i++)
    if (keep[i])
      fprintf(stderr, "  %s;%s%s%s\n", stmts[i].sql,
              stmts[i].native ? "   -- native: " : "",
              stmts[i].native ? stmts[i].native : "", i == at ? "   -- <<<" : "");
  fprintf(stderr, "  => %s\n", why ? why : "(no difference on replay)");
  sqlite3_free(why);
  free(keep);
}

static long env_long(const char *name, long dflt) {
  const char *s = getenv(name);
  return s && *s ? atol(s) : dflt;
}

/* Runs one definition; returns false if the sides differed. */
static bool run_definition(pair *p, uint64_t seed, int defno, int nstmt,
                           long *count) {
  rng r = {seed + (uint64_t)defno * 0x100000001b3ULL};
  tdef d;
  def_make(&r, &d);
  stmt *stmts = calloc((size_t)nstmt, sizeof(stmt));
  tables_create(p, &d);
  char *why = NULL;
  int n = 0;
  for (; n < nstmt && !why; n++) {
    bool in_txn = !sqlite3_get_autocommit(p->a);
    int ddl = in_txn ? 100 : rng_int(&r, 100);
    /* Index DDL outside transactions (it commits on its own on the mvcc
    ** side, and is refused in a transaction that wrote). */
    if (ddl < 2) {
      stmts[n].sql = stmt_create_index(&r, &d, &stmts[n].native);
      stmts[n].ordered = true;
    } else if (ddl < 3 &&
               (stmts[n].sql = stmt_drop_index(&r, p->b, &stmts[n].native))) {
      stmts[n].ordered = true;
    } else {
      stmts[n].sql = stmt_make(&r, &d, in_txn, &stmts[n].ordered,
                               &stmts[n].loose);
    }
    /* changes() counts INSERT, UPDATE and DELETE; after other statements
    ** it is left over (and on the mvcc side the enrolment of a reading
    ** transaction zeroes it, as the README says). */
    stmts[n].dml = !strncmp(stmts[n].sql, "INSERT", 6) ||
                   !strncmp(stmts[n].sql, "REPLACE", 7) ||
                   !strncmp(stmts[n].sql, "UPDATE", 6) ||
                   !strncmp(stmts[n].sql, "DELETE", 6);
    why = step_both(p, &stmts[n]);
    (*count)++;
    if (!why && (n % 50 == 49 || n == nstmt - 1)) why = compare_tables(p);
  }
  tables_drop(p);
  bool ok = why == NULL;
  if (!ok) report(p, &d, stmts, n, seed, defno);
  sqlite3_free(why);
  for (int i = 0; i < n; i++) {
    sqlite3_free(stmts[i].sql);
    sqlite3_free(stmts[i].native);
  }
  free(stmts);
  return ok;
}

static void test_sqldiff_random_definitions(void **state) {
  (void)state;
  pair p;
  sqlite3_auto_extension((void (*)(void))sqlite3_mvcc_init);
  assert_int_equal(sqlite3_open(":memory:", &p.a), SQLITE_OK);
  assert_int_equal(sqlite3_open(":memory:", &p.b), SQLITE_OK);
  uint64_t seed = (uint64_t)env_long("SQLDIFF_SEED", 1);
  long ndef = env_long("SQLDIFF_DEFS", 200);
  long nstmt = (long)(env_long("SQLDIFF_STMTS", 500) * sqlt_scale());
  if (nstmt < 50) nstmt = 50;
  long only = env_long("SQLDIFF_DEF", -1);
  bool keep_going = env_long("SQLDIFF_KEEP_GOING", 0) != 0;
  long seconds = env_long("SQLDIFF_SECONDS", 0);
  time_t until = time(NULL) + seconds;
  if (seconds > 0 && only < 0) ndef = LONG_MAX;
  printf("sqldiff: seed %llu, %ld statements per definition%s\n",
         (unsigned long long)seed, nstmt,
         seconds > 0 ? ", until the time is up" : "");
  fflush(stdout);
  long count = 0, failed = 0, defs = 0;
  for (long i = only >= 0 ? only : 0; i < (only >= 0 ? only + 1 : ndef); i++) {
    if (seconds > 0 && defs > 0 && time(NULL) >= until) break;
    defs++;
    if (!run_definition(&p, seed, (int)i, (int)nstmt, &count)) {
      failed++;
      if (!keep_going) break;
    }
  }
  printf("sqldiff: %ld statements over %ld definitions (seed %llu), %ld "
         "differing; compared %ld errors, %ld rows, %ld rows changed\n",
         count, defs, (unsigned long long)seed, failed, seen.errors, seen.rows,
         seen.changes);
  assert_int_equal(sqlite3_close(p.a), SQLITE_OK);
  assert_int_equal(sqlite3_close(p.b), SQLITE_OK);
  assert_int_equal(failed, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sqldiff_random_definitions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
