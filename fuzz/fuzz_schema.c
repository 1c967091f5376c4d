/*
** fuzz_schema.c — libFuzzer harness for the `USING mvcc(...)` argument and
** column-definition parser (ext/schema.c: mvcc_schema_parse,
** mvcc_split_args, the options, retention).
**
** The input is split at NUL bytes into at most 24 arguments, given to
** mvcc_schema_parse() as SQLite gives a CREATE VIRTUAL TABLE's arguments
** (and, joined with commas, to mvcc_split_args() as the catalog's stored
** definition is).  Properties:
**   - it never crashes, leaks or reads outside the text (ASan);
**   - an error returns no definition and a message (never an empty or
**     missing one); success returns a definition that holds together:
**     columns, 1 to 16 key columns, all distinct and in range, UNIQUE
**     columns in range;
**   - the stored form round-trips: the definition's args (what the catalog
**     keeps) split and parsed again give the same column names, types
**     (up to blanks) and affinities, key and UNIQUE constraints, and a
**     second time the same args too;
**   - the stored form and the declaration are each exactly one statement
**     when spliced into SQL (CREATE VIRTUAL TABLE ... USING mvcc(<args>)
**     and the declaration itself): nothing past it could ever run.
*/
#include <ctype.h>
#include <string.h>

#include "extapi.h"
#include "fuzz.h"
#include "mvcc_int.h"

#define MAX_ARGS 24

static sqlite3 *db;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  db = fuzz_ext_init();
  return 0;
}

/* Is sql one statement with nothing but blanks and comments after it?
** (Prepared only: a CREATE VIRTUAL TABLE of an unknown module prepares.) */
static int one_statement(const char *sql) {
  sqlite3_stmt *st = NULL;
  const char *tail = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) return 1; /* not a statement: nothing runs */
  sqlite3_stmt *more = NULL;
  rc = sqlite3_prepare_v2(db, tail, -1, &more, NULL);
  int clean = rc == SQLITE_OK && more == NULL;
  sqlite3_finalize(more);
  return clean;
}

static void check_def(const mvcc_tabledef *d) {
  FUZZ_CHECK(d->ncol >= 1 && d->cols, "no columns");
  FUZZ_CHECK(d->npk >= 1 && d->npk <= MVCC_MAX_KEY_COLUMNS, "npk %d", d->npk);
  for (int i = 0; i < d->npk; i++) {
    FUZZ_CHECK(d->pk[i] >= 0 && d->pk[i] < d->ncol, "key column %d", d->pk[i]);
    for (int j = 0; j < i; j++)
      FUZZ_CHECK(d->pk[i] != d->pk[j], "key column %d twice", d->pk[i]);
  }
  FUZZ_CHECK(d->nuniq >= 0 && d->nuniq <= MVCC_MAX_UNIQUE, "nuniq %d",
             d->nuniq);
  for (int u = 0; u < d->nuniq; u++) {
    FUZZ_CHECK(d->uniq[u].ncol >= 1 &&
                   d->uniq[u].ncol <= MVCC_MAX_KEY_COLUMNS,
               "unique ncol %d", d->uniq[u].ncol);
    for (int k = 0; k < d->uniq[u].ncol; k++)
      FUZZ_CHECK(d->uniq[u].col[k] >= 0 && d->uniq[u].col[k] < d->ncol,
                 "unique column %d", d->uniq[u].col[k]);
  }
  for (int i = 0; i < d->ncol; i++)
    FUZZ_CHECK(d->cols[i].name && d->cols[i].type, "column %d unnamed", i);
  FUZZ_CHECK(d->args && d->declare, "no args or declaration");
}

/* Are a and b the same words?  The stored form keeps one blank between
** words (normalize() in schema.c), so a declared type "BIG   INT" reads
** back as "BIG INT". */
static int same_words(const char *a, const char *b) {
  for (;;) {
    while (isspace((unsigned char)*a)) a++;
    while (isspace((unsigned char)*b)) b++;
    if (!*a || !*b) return !*a && !*b;
    while (*a && !isspace((unsigned char)*a) && *a == *b) a++, b++;
    if ((*a && !isspace((unsigned char)*a)) ||
        (*b && !isspace((unsigned char)*b)))
      return 0;
  }
}

static void check_same(const mvcc_tabledef *a, const mvcc_tabledef *b,
                       int same_args) {
  FUZZ_CHECK(a->ncol == b->ncol, "%d columns reparsed as %d", a->ncol,
             b->ncol);
  for (int i = 0; i < a->ncol; i++) {
    FUZZ_CHECK(!strcmp(a->cols[i].name, b->cols[i].name),
               "column '%s' reparsed as '%s'", a->cols[i].name,
               b->cols[i].name);
    FUZZ_CHECK(same_words(a->cols[i].type, b->cols[i].type) &&
                   a->cols[i].affinity == b->cols[i].affinity,
               "type '%s' reparsed as '%s'", a->cols[i].type, b->cols[i].type);
    FUZZ_CHECK(a->cols[i].coll == b->cols[i].coll &&
                   a->cols[i].desc == b->cols[i].desc &&
                   a->cols[i].notnull == b->cols[i].notnull,
               "column %d reparsed differently", i);
  }
  FUZZ_CHECK(a->npk == b->npk && !memcmp(a->pk, b->pk, sizeof a->pk[0] *
                                                          (size_t)a->npk),
             "key reparsed differently");
  FUZZ_CHECK(a->nuniq == b->nuniq, "UNIQUE reparsed differently");
  FUZZ_CHECK(!same_args || !strcmp(a->args, b->args),
             "args '%s' reparsed as '%s'", a->args, b->args);
}

static int parse(int argc, const char *const *argv, mvcc_tabledef **d) {
  char *err = NULL;
  int rc = mvcc_schema_parse(db, "t", argc, argv, d, &err);
  if (rc == SQLITE_OK) {
    FUZZ_CHECK(*d && !err, "success with an error message '%s'",
               err ? err : "");
  } else {
    FUZZ_CHECK(!*d, "an error (%d) with a definition", rc);
    FUZZ_CHECK(err && err[0], "error %d without a message", rc);
  }
  sqlite3_free(err);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!db) LLVMFuzzerInitialize(NULL, NULL);
  if (size > 4096) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  const char *argv[MAX_ARGS];
  int argc = 0;
  for (size_t i = 0; i <= size && argc < MAX_ARGS;) {
    argv[argc++] = text + i;
    i += strlen(text + i) + 1;
  }
  if (size == 0) argc = 0;

  mvcc_tabledef *d = NULL;
  if (parse(argc, argv, &d) == SQLITE_OK) {
    check_def(d);
    char *sql = sqlite3_mprintf("CREATE VIRTUAL TABLE temp.x USING mvcc(%s)",
                                d->args);
    FUZZ_CHECK(!sql || one_statement(sql), "stored args escape: %s", sql);
    sqlite3_free(sql);
    FUZZ_CHECK(one_statement(d->declare), "declaration escapes: %s",
               d->declare);
    /* Stored and read back twice: the same table, and from the first
    ** reading on the same stored text (an argument given with a bare comma
    ** in it, which SQLite itself never passes, is stored as two). */
    mvcc_tabledef *cur = d;
    for (int round = 0; round < 2 && cur; round++) {
      char **v2;
      int n2;
      mvcc_tabledef *next = NULL;
      if (mvcc_split_args(cur->args, &v2, &n2) == SQLITE_OK) {
        int rc2 = parse(n2, (const char *const *)v2, &next);
        FUZZ_CHECK(rc2 == SQLITE_OK, "stored args '%s' do not parse again",
                   cur->args);
        check_same(cur, next, round > 0);
        mvcc_free_args(v2, n2);
      }
      if (cur != d) mvcc_tabledef_free(cur);
      cur = next;
    }
    if (cur != d) mvcc_tabledef_free(cur);
    mvcc_tabledef_free(d);
  }

  /* The whole text as a stored definition. */
  char **v;
  int n;
  if (mvcc_split_args(text, &v, &n) == SQLITE_OK) {
    mvcc_tabledef *d3 = NULL;
    if (parse(n, (const char *const *)v, &d3) == SQLITE_OK) check_def(d3);
    mvcc_tabledef_free(d3);
    mvcc_free_args(v, n);
  }
  free(text);
  return 0;
}
