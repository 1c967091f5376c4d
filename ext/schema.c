/*
** schema.c — the definition of an mvcc table, from the arguments of
** CREATE VIRTUAL TABLE ... USING mvcc(...).
**
** Arguments are column definitions as in CREATE TABLE, at most one table
** constraint PRIMARY KEY(a, b, ...), and options written name=value:
**     store='DIR'                   the store holding the table
**     synchronous=full|normal|off   durability of commits (store-wide)
**     retention='<n> <unit>'        how far back time travel reaches
**                                   (store-wide; timetravel.c)
** With no column definitions the table is (key PRIMARY KEY, value).
**
** The column definitions are parsed by SQLite itself: they are replayed as
** CREATE TABLE x(...) WITHOUT ROWID in a private in-memory database, whose
** PRAGMA table_xinfo / index_xinfo / index_list then give each column's
** name, declared type, NOT NULL, the primary key's columns, collations
** and directions, and each UNIQUE constraint's (mvcc_index).  So the grammar, the quoting rules
** and the error messages
** ("near ...: syntax error", "table ... has more than one primary key") are
** exactly SQLite's, and no SQL parser is written here.  What SQLite accepts
** but an mvcc table cannot honour is refused with a clear message: a
** missing primary key, CHECK, foreign keys, generated columns,
** AUTOINCREMENT, DEFAULT (SQLite passes an omitted column to a virtual table
** as NULL, so a default could never apply), and key collations other than
** BINARY, NOCASE and RTRIM.
**
** The declaration handed to sqlite3_declare_vtab() reuses the column
** definitions verbatim, so SQLite compares and sorts every column by its
** declared type and collation exactly as on a native table.  A
** single-column key stays the table's PRIMARY KEY (a column constraint, or
** PRIMARY KEY(c) after the columns); a composite key becomes a hidden BLOB
** column __mvcc_key holding the encoded key, because SQLite only lets a
** writable WITHOUT ROWID virtual table have a one-column key.  The key's
** collation (PRIMARY KEY(c COLLATE NOCASE)) may differ from the column's:
** the key then orders and deduplicates by its own, and SQLite's comparisons
** use the column's (mvcc_column.decl_coll).
**
** Affinity: SQLite does not apply column affinity to values written to a
** virtual table, so mvcc_value_set() does it with SQLite's rules.
*/
#include "mvcc_int.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keycodec.h"

void mvcc_tabledef_free(mvcc_tabledef *d) {
  if (!d) return;
  for (int i = 0; i < d->ncol; i++) {
    sqlite3_free(d->cols[i].name);
    sqlite3_free(d->cols[i].type);
  }
  sqlite3_free(d->cols);
  sqlite3_free(d->name);
  sqlite3_free(d->args);
  sqlite3_free(d->declare);
  sqlite3_free(d->store);
  sqlite3_free(d->retention);
  sqlite3_free(d);
}

char *mvcc_quote_ident(const char *z) { return sqlite3_mprintf("\"%w\"", z); }

/* SQLite's affinity of a declared type (sqlite3AffinityType): the first
** rule whose word the type contains, in any case, anywhere in it. */
static char type_affinity(const char *t) {
  if (strcasestr(t, "INT")) return MVCC_AFF_INTEGER;
  if (strcasestr(t, "CHAR") || strcasestr(t, "CLOB") || strcasestr(t, "TEXT"))
    return MVCC_AFF_TEXT;
  if (strcasestr(t, "BLOB") || !*t) return MVCC_AFF_BLOB;
  if (strcasestr(t, "REAL") || strcasestr(t, "FLOA") || strcasestr(t, "DOUB"))
    return MVCC_AFF_REAL;
  return MVCC_AFF_NUMERIC;
}

/* ------------------------------------------------------------ options -- */

/* If arg is `name = value`, copies name and value (unquoted) and returns
** true. */
static bool split_option(const char *arg, char *name, size_t namesz,
                         char **value) {
  const char *p = arg;
  while (isspace((unsigned char)*p)) p++;
  const char *s = p;
  if (!isalpha((unsigned char)*p) && *p != '_') return false;
  while (isalnum((unsigned char)*p) || *p == '_') p++;
  size_t n = (size_t)(p - s);
  while (isspace((unsigned char)*p)) p++;
  if (*p != '=') return false;
  p++;
  while (isspace((unsigned char)*p)) p++;
  if (n >= namesz) n = namesz - 1;
  memcpy(name, s, n);
  name[n] = 0;
  size_t vl = strlen(p);
  while (vl && isspace((unsigned char)p[vl - 1])) vl--;
  if (vl >= 2 && (p[0] == '\'' || p[0] == '"') && p[vl - 1] == p[0]) {
    char q = p[0];
    char *v = sqlite3_malloc64(vl);
    if (!v) return true;
    size_t o = 0;
    for (size_t i = 1; i + 1 < vl; i++) {
      v[o++] = p[i];
      if (p[i] == q && p[i + 1] == q) i++; /* '' inside '...' */
    }
    v[o] = 0;
    *value = v;
  } else {
    *value = sqlite3_mprintf("%.*s", (int)vl, p);
  }
  return true;
}

static int parse_option(mvcc_tabledef *d, const char *arg, bool *is_option,
                        char **pzErr) {
  char name[64];
  char *value = NULL;
  *is_option = split_option(arg, name, sizeof name, &value);
  if (!*is_option) return SQLITE_OK;
  if (!value) return SQLITE_NOMEM;
  int rc = SQLITE_OK;
  if (!sqlite3_stricmp(name, "store")) {
    if (!value[0]) {
      *pzErr = sqlite3_mprintf("mvcc: store='' needs a directory");
      rc = SQLITE_ERROR;
    } else if (d->store) {
      *pzErr = sqlite3_mprintf("mvcc: option store given twice");
      rc = SQLITE_ERROR;
    } else {
      d->store = value;
      value = NULL;
    }
  } else if (!sqlite3_stricmp(name, "synchronous")) {
    if (d->synchronous >= 0) {
      *pzErr = sqlite3_mprintf("mvcc: option synchronous given twice");
      rc = SQLITE_ERROR;
    } else if (!sqlite3_stricmp(value, "full") || !strcmp(value, "2"))
      d->synchronous = KV_SYNC_FULL;
    else if (!sqlite3_stricmp(value, "normal") || !strcmp(value, "1"))
      d->synchronous = KV_SYNC_NORMAL;
    else if (!sqlite3_stricmp(value, "off") || !strcmp(value, "0"))
      d->synchronous = KV_SYNC_OFF;
    else {
      *pzErr = sqlite3_mprintf(
          "mvcc: synchronous must be full, normal or off, not '%s'", value);
      rc = SQLITE_ERROR;
    }
  } else if (!sqlite3_stricmp(name, "retention")) {
    int64_t ms;
    if (d->retention) {
      *pzErr = sqlite3_mprintf("mvcc: option retention given twice");
      rc = SQLITE_ERROR;
    } else {
      rc = mvcc_retention_parse(value, &ms, &d->retention, pzErr);
    }
  } else {
    *pzErr = sqlite3_mprintf("mvcc: unknown option '%s' (options are store, "
                             "synchronous and retention)",
                             name);
    rc = SQLITE_ERROR;
  }
  sqlite3_free(value);
  return rc;
}

/* ------------------------------------------------------- definitions -- */

/* The first word of a definition, uppercased, skipping quotes. */
static void first_word(const char *arg, char *out, size_t outsz) {
  const char *p = arg;
  while (isspace((unsigned char)*p)) p++;
  size_t n = 0;
  while (isalpha((unsigned char)*p) && n + 1 < outsz)
    out[n++] = (char)toupper((unsigned char)*p++);
  out[n] = 0;
}

/* The next token of *p: a bare word (*w, *n its length), or *n = 0 for a
** quoted string or identifier or a punctuation character, which are thus
** never taken for keywords.  False at the end. */
static bool next_word(const char **p, const char **w, size_t *n) {
  const char *s = *p;
  while (isspace((unsigned char)*s)) s++;
  if (!*s) return false;
  if (isalpha((unsigned char)*s) || *s == '_') {
    *w = s;
    while (isalnum((unsigned char)*s) || *s == '_') s++;
    *n = (size_t)(s - *w);
  } else { /* a quoted token or punctuation: a non-word */
    char close = *s == '[' ? ']' : *s;
    bool quoted = *s == '\'' || *s == '"' || *s == '`' || *s == '[';
    s++;
    if (quoted) {
      while (*s && *s != close) s++;
      if (*s) s++;
    }
    *w = s;
    *n = 0;
  }
  *p = s;
  return true;
}

/* Looks for keywords SQLite accepts but mvcc tables cannot honour, outside
** quoted strings and identifiers; returns the first one or NULL. */
static const char *unsupported_keyword(const char *z) {
  /* DEFAULT: SQLite hands a virtual table NULL for an omitted column, so a
  ** default could never apply; refusing it beats ignoring it. */
  static const char *const words[] = {"CHECK",         "REFERENCES", "FOREIGN",
                                      "GENERATED",     "AS",         "DEFAULT",
                                      "AUTOINCREMENT"};
  const char *p = z, *w;
  size_t n;
  while (next_word(&p, &w, &n))
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
      if (strlen(words[i]) == n && !sqlite3_strnicmp(w, words[i], (int)n))
        return words[i];
  return NULL;
}

/* Does z hold ON CONFLICT (outside quotes)?  A column's conflict clause
** cannot be honoured: SQLite tells a virtual table only the statement's
** conflict mode, and reports a plain INSERT as OR ABORT, so the table
** cannot tell when the column's default should apply. */
static bool has_on_conflict(const char *z) {
  const char *p = z, *w, *prev = NULL;
  size_t n, prevn = 0;
  while (next_word(&p, &w, &n)) {
    if (n == 8 && !sqlite3_strnicmp(w, "CONFLICT", 8) && prevn == 2 &&
        !sqlite3_strnicmp(prev, "ON", 2))
      return true;
    prev = w;
    prevn = n;
  }
  return false;
}

/* Whitespace-normalised copy, for storing and comparing definitions: runs
** of blanks outside quotes and comments become one space; quoted strings
** and identifiers and comments are kept byte for byte (a column "a  b"
** keeps its two spaces, and a declared type keeps a comment inside it, as
** SQLite's affinity rules read it).  A `-- ...` comment ends with a newline
** whatever blanks followed it, so it never swallows what comes after it. */
static char *normalize(const char *z) {
  char *o = sqlite3_malloc64(strlen(z) + 2);
  if (!o) return NULL;
  size_t n = 0;
  bool space = false;
  for (const char *p = z; *p; p++) {
    if (isspace((unsigned char)*p)) {
      space = n > 0;
      continue;
    }
    if (space && o[n - 1] != '\n') o[n++] = ' ';
    space = false;
    if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n') o[n++] = *p++;
      o[n++] = '\n';
      if (!*p) break;
      continue;
    }
    if (p[0] == '/' && p[1] == '*') {
      o[n++] = *p++;
      o[n++] = *p++;
      while (*p && !(p[0] == '*' && p[1] == '/')) o[n++] = *p++;
      if (!*p) break;
      o[n++] = *p++;
    } else if (*p == '\'' || *p == '"' || *p == '`' || *p == '[') {
      char close = *p == '[' ? ']' : *p;
      o[n++] = *p++;
      while (*p && *p != close) o[n++] = *p++;
      if (!*p) break;
    }
    o[n++] = *p;
  }
  while (n > 0 && o[n - 1] == ' ') n--;
  o[n] = 0;
  return o;
}

/* Runs sql on db if it is exactly one statement (blanks and comments may
** follow).  The column definitions are spliced into CREATE TABLE x(...):
** definitions that close the list early and go on with more statements
** ("a PRIMARY KEY); ATTACH ...") must not run them, even in a scratch
** database; *several says that was refused. */
static int exec_one(sqlite3 *db, const char *sql, bool *several) {
  sqlite3_stmt *st = NULL, *more = NULL;
  const char *tail = NULL;
  *several = false;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
  if (rc == SQLITE_OK && tail && *tail) {
    rc = sqlite3_prepare_v2(db, tail, -1, &more, NULL);
    if (rc != SQLITE_OK || more) {
      *several = true;
      rc = SQLITE_ERROR;
    }
  }
  if (rc == SQLITE_OK && st) {
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_finalize(more);
  return rc;
}

#define MVCC_MAX_COLLATIONS 16

static int placeholder_collation(void *ctx, int n1, const void *p1, int n2,
                                 const void *p2) {
  (void)ctx;
  int r = memcmp(p1, p2, (size_t)(n1 < n2 ? n1 : n2));
  return r ? r : n1 - n2;
}

/* Does the connection know the collation? */
/* The scratch databases below parse definitions with SQLite.  An
** application that registered the extension with sqlite3_auto_extension()
** would load it into them too, and its init would declare the store's
** tables there, parsing each in another scratch database, without end;
** sqlite3_mvcc_init does nothing in a database opened here. */
static _Thread_local bool opening_scratch;

bool mvcc_schema_opening_scratch(void) { return opening_scratch; }

static int scratch_open(sqlite3 **tmp) {
  opening_scratch = true;
  int rc = sqlite3_open_v2(":memory:", tmp,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  opening_scratch = false;
  return rc;
}

static bool has_collation(sqlite3 *db, const char *name) {
  char *sql = sqlite3_mprintf("SELECT '' = '' COLLATE \"%w\"", name);
  sqlite3_stmt *st = NULL;
  bool ok = sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
  sqlite3_finalize(st);
  sqlite3_free(sql);
  return ok;
}

/* The columns of unique index u (sqlite_autoindex_x_<u->num>). */
static int describe_index(sqlite3 *tmp, const mvcc_tabledef *d,
                          const char *iname, mvcc_index *u, char **pzErr) {
  sqlite3_stmt *st = NULL;
  char *q = sqlite3_mprintf("PRAGMA index_xinfo(%Q)", iname);
  int rc = q ? sqlite3_prepare_v2(tmp, q, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(q);
  while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    if (!sqlite3_column_int(st, 5)) continue; /* the key, not indexed */
    int cid = sqlite3_column_int(st, 1);
    const char *what = u->name ? "an index" : "a UNIQUE constraint";
    if (cid < 0) {
      *pzErr = sqlite3_mprintf("mvcc: %s of %s indexes an expression; mvcc "
                               "indexes take columns only", what, d->name);
      rc = SQLITE_ERROR;
      break;
    }
    if (cid >= d->ncol || u->ncol == MVCC_MAX_KEY_COLUMNS) {
      *pzErr = sqlite3_mprintf("mvcc: %s of %s has more than %d columns",
                               what, d->name, MVCC_MAX_KEY_COLUMNS);
      rc = SQLITE_ERROR;
      break;
    }
    const char *coll = (const char *)sqlite3_column_text(st, 4);
    int c = mvcc_coll_from_name(coll);
    if (c < 0) {
      const char *w = u->name ? "indexed" : "UNIQUE";
      *pzErr = sqlite3_mprintf("mvcc: %s column %s has collation %s; "
                               "%s columns support BINARY, NOCASE and RTRIM",
                               w, d->cols[cid].name, coll, w);
      rc = SQLITE_ERROR;
      break;
    }
    u->col[u->ncol] = cid;
    u->coll[u->ncol] = c;
    u->desc[u->ncol] = sqlite3_column_int(st, 3) != 0;
    u->ncol++;
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_OK && u->ncol == 0) {
    *pzErr = sqlite3_mprintf("mvcc: cannot read %s of %s",
                             u->name ? "an index" : "a UNIQUE constraint",
                             d->name);
    rc = SQLITE_ERROR;
  }
  return rc;
}

/* Does z hold the keyword (a bare word, outside quotes)? */
static bool has_keyword(const char *z, const char *kw) {
  const char *p = z, *w;
  size_t n, kl = strlen(kw);
  while (next_word(&p, &w, &n))
    if (n == kl && !sqlite3_strnicmp(w, kw, (int)n)) return true;
  return false;
}

/* Blanks out the bare word UNIQUE in a column definition: SQLite's
** declaration of a virtual table takes no indexes; the table keeps its
** unique indexes itself. */
static void blank_unique(char *z) {
  const char *p = z, *w;
  size_t n;
  while (next_word(&p, &w, &n))
    if (n == 6 && !sqlite3_strnicmp(w, "UNIQUE", 6))
      memset((char *)w, ' ', 6);
}

/* Runs the definitions through SQLite in a scratch database and reads the
** columns and key back.  db is the connection, for its collations. */
static int describe(sqlite3 *db, mvcc_tabledef *d, const char *defs,
                    char **pzErr) {
  sqlite3 *tmp = NULL;
  sqlite3_stmt *st = NULL;
  char *sql = NULL;
  int rc = scratch_open(&tmp);
  if (rc != SQLITE_OK) {
    *pzErr = sqlite3_mprintf("mvcc: cannot open a scratch database");
    goto done;
  }
  /* The connection's limits (columns, lengths, depths), so the definition
  ** is refused here, with a message naming the table, exactly when the
  ** declaration would be; and no ATTACH, whatever the definitions hold. */
  if (db)
    for (int id = 0; id <= SQLITE_LIMIT_WORKER_THREADS; id++)
      sqlite3_limit(tmp, id, sqlite3_limit(db, id, -1));
  sqlite3_limit(tmp, SQLITE_LIMIT_ATTACHED, 0);
  sql = sqlite3_mprintf("CREATE TABLE x(%s) WITHOUT ROWID", defs);
  if (!sql) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  /* The scratch database lacks the connection's own collations (the
  ** shell's "uint", an application's): each one the definitions name is
  ** stood in for by a placeholder, since only the parse is wanted here.
  ** The real declaration (sqlite3_declare_vtab) uses the real one. */
  static const char no_coll[] = "no such collation sequence: ";
  bool several = false;
  for (int tries = 0;; tries++) {
    rc = exec_one(tmp, sql, &several);
    const char *m = sqlite3_errmsg(tmp);
    if (rc != SQLITE_ERROR || several || tries == MVCC_MAX_COLLATIONS ||
        strncmp(m, no_coll, sizeof no_coll - 1) != 0)
      break;
    const char *coll = m + sizeof no_coll - 1;
    if (!has_collation(db, coll) ||
        sqlite3_create_collation(tmp, coll, SQLITE_UTF8, NULL,
                                 placeholder_collation) != SQLITE_OK)
      break;
  }
  if (rc != SQLITE_OK) {
    const char *m = sqlite3_errmsg(tmp);
    if (several)
      *pzErr = sqlite3_mprintf("mvcc: bad column definitions for %s: they "
                               "end the column list (unbalanced ')')",
                               d->name);
    else if (strstr(m, "PRIMARY KEY missing"))
      *pzErr = sqlite3_mprintf(
          "mvcc: table %s has no PRIMARY KEY (declare one column PRIMARY "
          "KEY, or PRIMARY KEY(a, b))",
          d->name);
    else if (strstr(m, "too many columns"))
      *pzErr = sqlite3_mprintf("mvcc: table %s has too many columns (the "
                               "limit is SQLite's, %d)",
                               d->name, sqlite3_limit(tmp, SQLITE_LIMIT_COLUMN,
                                                      -1));
    else if (strstr(m, "more than one primary key"))
      *pzErr = sqlite3_mprintf("mvcc: table %s has more than one PRIMARY KEY",
                               d->name);
    else
      *pzErr = sqlite3_mprintf("mvcc: bad column definitions for %s: %s",
                               d->name, m);
    rc = SQLITE_ERROR;
    goto done;
  }

  /* Columns. */
  rc = sqlite3_prepare_v2(tmp, "PRAGMA table_xinfo(x)", -1, &st, NULL);
  int cap = 8;
  d->cols = sqlite3_malloc64(sizeof(mvcc_column) * (size_t)cap);
  if (rc == SQLITE_OK && !d->cols) rc = SQLITE_NOMEM;
  while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    if (d->ncol == cap) {
      cap *= 2;
      mvcc_column *nc = sqlite3_realloc64(d->cols, sizeof(mvcc_column) *
                                                       (size_t)cap);
      if (!nc) {
        rc = SQLITE_NOMEM;
        break;
      }
      d->cols = nc;
    }
    mvcc_column *c = &d->cols[d->ncol];
    memset(c, 0, sizeof(*c));
    c->name = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 1));
    c->type = sqlite3_mprintf("%s", sqlite3_column_text(st, 2)
                                        ? (const char *)sqlite3_column_text(st, 2)
                                        : "");
    if (!c->name || !c->type) rc = SQLITE_NOMEM;
    c->affinity = type_affinity(c->type);
    c->notnull = sqlite3_column_int(st, 3) != 0;
    d->ncol++;
    if (c->name && !sqlite3_stricmp(c->name, MVCC_HIDDEN_KEY)) {
      *pzErr = sqlite3_mprintf("mvcc: column name %s is reserved",
                               MVCC_HIDDEN_KEY);
      rc = SQLITE_ERROR;
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  /* Each column's own collation, which SQLite compares and sorts it by: a
  ** key or UNIQUE written (c COLLATE X) may be ordered by another one. */
  for (int i = 0; rc == SQLITE_OK && i < d->ncol; i++) {
    const char *colcoll = NULL;
    rc = sqlite3_table_column_metadata(tmp, "main", "x", d->cols[i].name, NULL,
                                       &colcoll, NULL, NULL, NULL);
    d->cols[i].decl_coll = mvcc_coll_from_name(colcoll);
  }
  if (rc) goto done;

  /* The key (the WITHOUT ROWID table's primary-key index) and the UNIQUE
  ** constraints, in the order SQLite checks them. */
  rc = sqlite3_prepare_v2(tmp, "PRAGMA index_list(x)", -1, &st, NULL);
  char pkindex[128] = "";
  while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    const char *origin = (const char *)sqlite3_column_text(st, 3);
    const char *iname = (const char *)sqlite3_column_text(st, 1);
    if (origin && !strcmp(origin, "pk")) {
      snprintf(pkindex, sizeof pkindex, "%s", iname);
      d->check[d->ncheck++] = -1;
    } else if (d->nuniq == MVCC_MAX_UNIQUE) {
      *pzErr = sqlite3_mprintf("mvcc: table %s has more than %d UNIQUE "
                               "constraints", d->name, MVCC_MAX_UNIQUE);
      rc = SQLITE_ERROR;
    } else {
      const char *n = iname ? strrchr(iname, '_') : NULL;
      mvcc_index *u = &d->uniq[d->nuniq];
      memset(u, 0, sizeof(*u));
      u->unique = u->ready = true;
      u->num = n ? atoi(n + 1) : 0;
      if (u->num <= 0 || u->num > 255) {
        *pzErr = sqlite3_mprintf("mvcc: unexpected index %s", iname);
        rc = SQLITE_ERROR;
        break;
      }
      d->check[d->ncheck++] = d->nuniq++;
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  for (int i = 0; rc == SQLITE_OK && i < d->nuniq; i++) {
    char iname[40];
    snprintf(iname, sizeof iname, "sqlite_autoindex_x_%d", d->uniq[i].num);
    rc = describe_index(tmp, d, iname, &d->uniq[i], pzErr);
  }
  if (rc) goto done;
  char *q = sqlite3_mprintf("PRAGMA index_xinfo(%Q)", pkindex);
  rc = q ? sqlite3_prepare_v2(tmp, q, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(q);
  while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    if (!sqlite3_column_int(st, 5)) continue; /* not a key column */
    int cid = sqlite3_column_int(st, 1);
    if (cid < 0 || cid >= d->ncol) continue;
    if (d->npk == MVCC_MAX_KEY_COLUMNS) {
      *pzErr = sqlite3_mprintf("mvcc: at most %d key columns",
                               MVCC_MAX_KEY_COLUMNS);
      rc = SQLITE_ERROR;
      break;
    }
    mvcc_column *c = &d->cols[cid];
    c->desc = sqlite3_column_int(st, 3) != 0;
    const char *coll = (const char *)sqlite3_column_text(st, 4);
    c->coll = mvcc_coll_from_name(coll);
    if (c->coll < 0) {
      *pzErr = sqlite3_mprintf(
          "mvcc: key column %s has collation %s; key columns support BINARY, "
          "NOCASE and RTRIM",
          c->name, coll ? coll : "?");
      rc = SQLITE_ERROR;
      break;
    }
    d->pk[d->npk++] = cid;
  }
  if (rc == SQLITE_OK && d->npk == 0) {
    *pzErr = sqlite3_mprintf("mvcc: table %s has no PRIMARY KEY", d->name);
    rc = SQLITE_ERROR;
  }

done:
  sqlite3_finalize(st);
  sqlite3_free(sql);
  sqlite3_close(tmp);
  return rc;
}

int mvcc_schema_parse(sqlite3 *db, const char *name, int argc,
                      const char *const *argv, mvcc_tabledef **out,
                      char **pzErr) {
  *out = NULL;
  mvcc_tabledef *d = sqlite3_malloc64(sizeof(*d));
  if (!d) return SQLITE_NOMEM;
  memset(d, 0, sizeof(*d));
  d->synchronous = -1;
  d->name = sqlite3_mprintf("%s", name);
  sqlite3_str *cols = sqlite3_str_new(NULL);   /* column definitions */
  sqlite3_str *decl = sqlite3_str_new(NULL);   /* declared columns */
  int rc = d->name ? SQLITE_OK : SQLITE_NOMEM;
  int ndefs = 0, ncoldefs = 0;
  bool has_table_pk = false;
  for (int i = 0; rc == SQLITE_OK && i < argc; i++) {
    bool is_option;
    rc = parse_option(d, argv[i], &is_option, pzErr);
    if (rc || is_option) continue;
    if (has_on_conflict(argv[i])) {
      *pzErr = sqlite3_mprintf(
          "mvcc: ON CONFLICT in a column definition is not supported on mvcc "
          "tables (SQLite passes a virtual table only the statement's "
          "conflict mode): write INSERT OR REPLACE, INSERT OR IGNORE, ... "
          "instead (in \"%s\")",
          argv[i]);
      rc = SQLITE_ERROR;
      break;
    }
    const char *bad = unsupported_keyword(argv[i]);
    if (bad) {
      *pzErr = sqlite3_mprintf("mvcc: %s is not supported on mvcc tables "
                               "(in \"%s\")",
                               bad, argv[i]);
      rc = SQLITE_ERROR;
      break;
    }
    char w[16];
    first_word(argv[i], w, sizeof w);
    bool table_constraint = !strcmp(w, "PRIMARY") || !strcmp(w, "CONSTRAINT") ||
                            !strcmp(w, "UNIQUE");
    if (ndefs++) sqlite3_str_appendall(cols, ", ");
    sqlite3_str_appendall(cols, argv[i]);
    if (table_constraint && has_keyword(argv[i], "PRIMARY")) has_table_pk = true;
    if (!table_constraint) {
      char *coldef = sqlite3_mprintf("%s", argv[i]);
      if (!coldef) {
        rc = SQLITE_NOMEM;
        break;
      }
      blank_unique(coldef);
      if (ncoldefs++) sqlite3_str_appendall(decl, ", ");
      sqlite3_str_appendall(decl, coldef);
      sqlite3_free(coldef);
    }
  }
  if (rc == SQLITE_OK && ndefs == 0) {
    sqlite3_str_appendall(cols, "key PRIMARY KEY, value");
    sqlite3_str_appendall(decl, "key PRIMARY KEY, value");
  }
  char *defs = sqlite3_str_finish(cols);
  char *declcols = sqlite3_str_finish(decl);
  if (rc == SQLITE_OK && (!defs || !declcols)) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK) rc = describe(db, d, defs, pzErr);
  if (rc == SQLITE_OK) {
    d->args = normalize(defs);
    /* The column definitions are declared as written, so SQLite compares
    ** and sorts each column by its own collation and type.  A key given as
    ** a table constraint stays one (of one column), or becomes the hidden
    ** key (of several). */
    if (mvcc_hidden_key(d)) {
      d->declare = sqlite3_mprintf(
          "CREATE TABLE x(%s, %s BLOB HIDDEN PRIMARY KEY) WITHOUT ROWID",
          declcols, MVCC_HIDDEN_KEY);
    } else if (has_table_pk) {
      /* With the key's own collation and direction: SQLite collects the
      ** keys of the rows a multi-row UPDATE or DELETE touches in a table
      ** ordered by them, which must not merge two keys ('a' and 'a ' of a
      ** BINARY key on an RTRIM column). */
      const mvcc_column *k = &d->cols[d->pk[0]];
      char *qn = mvcc_quote_ident(k->name);
      d->declare = qn ? sqlite3_mprintf("CREATE TABLE x(%s, PRIMARY KEY(%s "
                                        "COLLATE %s%s)) WITHOUT ROWID",
                                        declcols, qn, mvcc_coll_name(k->coll),
                                        k->desc ? " DESC" : "")
                      : NULL;
      sqlite3_free(qn);
    } else {
      d->declare = sqlite3_mprintf("CREATE TABLE x(%s) WITHOUT ROWID", declcols);
    }
    if (!d->args || !d->declare) rc = SQLITE_NOMEM;
  }
  sqlite3_free(defs);
  sqlite3_free(declcols);
  if (rc) {
    mvcc_tabledef_free(d);
    if (rc == SQLITE_NOMEM && !*pzErr) *pzErr = sqlite3_mprintf("out of memory");
    return rc;
  }
  *out = d;
  return SQLITE_OK;
}

/* ------------------------------------------------- stored definitions -- */

int mvcc_split_args(const char *args, char ***out, int *n) {
  int cap = 8, depth = 0;
  char **v = sqlite3_malloc64(sizeof(char *) * (size_t)cap);
  *out = NULL;
  *n = 0;
  if (!v) return SQLITE_NOMEM;
  const char *start = args;
  bool unterminated = false;
  for (const char *p = args;; p++) {
    if (*p == '\'' || *p == '"' || *p == '`' || *p == '[') {
      char close = *p == '[' ? ']' : *p;
      for (p++; *p && *p != close; p++) {}
      if (!*p) {
        unterminated = true;
        break;
      }
      continue;
    }
    /* A comma or parenthesis inside a comment is not one, as for SQLite;
    ** the comment stays in its definition (with the newline that ends a
    ** -- comment: the definitions are joined on one line again). */
    if (p[0] == '-' && p[1] == '-') {
      while (p[1] && p[1] != '\n') p++;
      continue;
    }
    if (p[0] == '/' && p[1] == '*') {
      for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++) {}
      if (!*p) p--; /* to the end, as SQLite reads it */
      else p++;
      continue;
    }
    if (*p == '(') depth++;
    if (*p == ')') depth--;
    if (*p && (*p != ',' || depth > 0)) continue;
    if (*n == cap) {
      cap *= 2;
      char **nv = sqlite3_realloc64(v, sizeof(char *) * (size_t)cap);
      if (!nv) break;
      v = nv;
    }
    while (isspace((unsigned char)*start)) start++;
    v[*n] = sqlite3_mprintf("%.*s", (int)(p - start), start);
    if (!v[*n]) break;
    (*n)++;
    if (!*p) {
      *out = v;
      return SQLITE_OK;
    }
    start = p + 1;
  }
  mvcc_free_args(v, *n);
  *n = 0;
  return unterminated ? SQLITE_CORRUPT : SQLITE_NOMEM;
}

void mvcc_free_args(char **argv, int n) {
  for (int i = 0; i < n; i++) sqlite3_free(argv[i]);
  sqlite3_free(argv);
}

/* ------------------------------------------------------- access paths -- */

void mvcc_path_of(const mvcc_tabledef *d, const mvcc_index *ix,
                  mvcc_path *p) {
  memset(p, 0, sizeof(*p));
  if (!ix) {
    p->unique = true;
    p->ncol = d->npk;
    for (int k = 0; k < d->npk; k++) {
      const mvcc_column *c = &d->cols[d->pk[k]];
      p->col[k] = d->pk[k];
      p->coll[k] = c->coll;
      p->desc[k] = c->desc;
    }
  } else {
    p->index = 1;
    p->num = ix->num;
    p->unique = ix->unique;
    p->name = ix->name;
    p->ncol = ix->ncol;
    for (int k = 0; k < ix->ncol; k++) {
      p->col[k] = ix->col[k];
      p->coll[k] = ix->coll[k];
      p->desc[k] = ix->desc[k];
    }
  }
  for (int k = 0; k < p->ncol; k++)
    p->sorts[k] = d->cols[p->col[k]].decl_coll == p->coll[k];
}

/* A created index's columns.  The scratch table has the definition's
** column names, each with its own collation (a collation mvcc indexes do
** not support stands in as "mvcc_other", so an index that would use it
** is refused), and SQLite parses CREATE INDEX on it. */
int mvcc_schema_index_columns(sqlite3 *db, const mvcc_tabledef *d,
                              const char *columns, mvcc_index *out,
                              char **pzErr) {
  (void)db;
  sqlite3 *tmp = NULL;
  int rc = scratch_open(&tmp);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_collation(tmp, "mvcc_other", SQLITE_UTF8, NULL,
                                  placeholder_collation);
  sqlite3_str *s = sqlite3_str_new(NULL);
  sqlite3_str_appendall(s, "CREATE TABLE x(");
  for (int i = 0; i < d->ncol; i++) {
    int c = d->cols[i].decl_coll;
    sqlite3_str_appendf(s, "%s\"%w\" COLLATE %s", i ? ", " : "",
                        d->cols[i].name, c < 0 ? "mvcc_other"
                                               : mvcc_coll_name(c));
  }
  sqlite3_str_appendf(s, "); CREATE INDEX i ON x(%s)", columns);
  char *sql = sqlite3_str_finish(s);
  if (rc == SQLITE_OK && !sql) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK && (strchr(columns, ';') || strstr(columns, "--") ||
                          strstr(columns, "/*"))) {
    *pzErr = sqlite3_mprintf("mvcc: bad index columns for %s: %s", d->name,
                             columns);
    rc = SQLITE_ERROR;
  } else if (rc == SQLITE_OK &&
             (rc = sqlite3_exec(tmp, sql, NULL, NULL, NULL)) != SQLITE_OK) {
    *pzErr = sqlite3_mprintf("mvcc: bad index columns for %s: %s", d->name,
                             sqlite3_errmsg(tmp));
    rc = SQLITE_ERROR;
  }
  sqlite3_free(sql);
  if (rc == SQLITE_OK) {
    /* A partial index (columns text "a) WHERE (b") has a WHERE. */
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(tmp, "SELECT partial FROM pragma_index_list('x')",
                            -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_int(st, 0)) {
      *pzErr = sqlite3_mprintf("mvcc: bad index columns for %s: %s (partial "
                               "indexes are not supported)", d->name, columns);
      rc = SQLITE_ERROR;
    }
    sqlite3_finalize(st);
  }
  if (rc == SQLITE_OK) {
    const char *keep = out->name;
    out->name = out->name ? out->name : (char *)"i";
    out->ncol = 0;
    rc = describe_index(tmp, d, "i", out, pzErr);
    out->name = (char *)keep;
  }
  sqlite3_close(tmp);
  return rc;
}

/* ------------------------------------------------------------ affinity -- */

void mvcc_value_clear(mvcc_value *v) {
  sqlite3_free(v->owned);
  memset(v, 0, sizeof(*v));
}

/* A REAL that is exactly an int64 becomes INTEGER (sqlite3VdbeIntegerAffinity). */
static void integer_if_exact(mvcc_value *v) {
  double r = v->r;
  if (r > -9223372036854775808.0 && r < 9223372036854775808.0) {
    sqlite3_int64 i = (sqlite3_int64)r;
    if ((double)i == r && i > INT64_MIN && i < INT64_MAX) {
      v->type = SQLITE_INTEGER;
      v->i = i;
    }
  }
}

int mvcc_value_set(mvcc_value *out, sqlite3_value *v, char affinity) {
  memset(out, 0, sizeof(*out));
  out->type = sqlite3_value_type(v);
  switch (out->type) {
    case SQLITE_INTEGER: out->i = sqlite3_value_int64(v); break;
    case SQLITE_FLOAT: out->r = sqlite3_value_double(v); break;
    case SQLITE_TEXT:
      out->p = sqlite3_value_text(v);
      out->n = sqlite3_value_bytes(v);
      if (!out->p) return SQLITE_NOMEM;
      break;
    case SQLITE_BLOB:
      out->p = sqlite3_value_blob(v);
      out->n = sqlite3_value_bytes(v);
      if (!out->p) out->p = (const unsigned char *)"";
      break;
    default: return SQLITE_OK;
  }
  switch (affinity) {
    case MVCC_AFF_TEXT:
      if (out->type == SQLITE_INTEGER || out->type == SQLITE_FLOAT) {
        out->owned = out->type == SQLITE_INTEGER
                         ? sqlite3_mprintf("%lld", out->i)
                         : sqlite3_mprintf("%!.15g", out->r);
        if (!out->owned) return SQLITE_NOMEM;
        out->type = SQLITE_TEXT;
        out->p = (const unsigned char *)out->owned;
        out->n = (int)strlen(out->owned);
      }
      break;
    case MVCC_AFF_NUMERIC:
    case MVCC_AFF_INTEGER:
    case MVCC_AFF_REAL:
      if (out->type == SQLITE_TEXT) {
        sqlite3_value *d = sqlite3_value_dup(v);
        if (!d) return SQLITE_NOMEM;
        int t = sqlite3_value_numeric_type(d);
        if (t == SQLITE_INTEGER) {
          out->type = SQLITE_INTEGER;
          out->i = sqlite3_value_int64(d);
        } else if (t == SQLITE_FLOAT) {
          out->type = SQLITE_FLOAT;
          out->r = sqlite3_value_double(d);
        }
        sqlite3_value_free(d);
      }
      if (affinity == MVCC_AFF_REAL && out->type == SQLITE_INTEGER) {
        out->type = SQLITE_FLOAT;
        out->r = (double)out->i;
      } else if (affinity != MVCC_AFF_REAL && out->type == SQLITE_FLOAT) {
        integer_if_exact(out);
      }
      break;
    default: break;
  }
  return SQLITE_OK;
}
