/*
** mvcc_int.h — internal interfaces between the files of the SQLite
** extension (ext/).  The extension talks to the transaction core only
** through kvcore.h.
**
**   errors.c    error codes and messages (a leaf: calls no other ext file)
**   mvcc.c      entry point, per-connection setup, SQL functions, declaring
**               a store's tables in temp
**   conn.c      per-connection transaction tracking: SQLite's transaction
**               hooks mapped onto kvcore transactions
**   catalog.c   the tables and indexes of a store (its catalog)
**   schema.c    CREATE VIRTUAL TABLE arguments: columns, key, options
**   plan.c      planning: xBestIndex's constraints, order, LIMIT and cost
**   vtab.c      the `mvcc` virtual table: executing plans, cursors, writes
**   index.c     secondary indexes: entries, online builds, mvcc_check
**   marker.c    `mvcc_txn`, the marker table that enrolls read-only
**               transactions in SQLite's transaction
**   stats.c     introspection tables
**   backup.c    mvcc_backup(), an online backup of a store
**   history.c   mvcc_history: row history and a change feed
**   timetravel.c  mvcc_as_of, mvcc_commit_ts, the retention option
**   keycodec.c, rowcodec.c   byte encodings of keys and rows
**
** Key layout in the store (all under kvcore's MVCC):
**   0x00 'C' <lowercased table name>   catalog entry of a table
**   0x00 'N'                           next table id (8 bytes big-endian)
**   0x01 <table id, 8 bytes BE> <encoded primary key>   a row
** Table ids are never reused, so a dropped table's range stays empty.
**
** Memory: what a statement allocates and frees itself (cursors, key and row
** buffers, probe lists, the per-transaction state) comes from libc's malloc,
** not sqlite3_malloc.  SQLite's allocator takes one process-wide mutex for
** its memory statistics (SQLITE_CONFIG_MEMSTATUS, on by default); with
** 5-15 allocations per statement, connections in other threads queued on
** it, and two threads on disjoint keys committed fewer transactions than one.
** Memory that SQLite frees (error messages, zErrMsg, results given
** sqlite3_free as destructor) and long-lived per-connection objects stay
** sqlite3_malloc'd.
*/
#ifndef MVCC_INT_H
#define MVCC_INT_H

#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT3

#include <stdbool.h>
#include <stdint.h>

#include "kvcore.h"
#include "keycodec.h"
#include "rowcodec.h"

/* ------------------------------------------------------------ errors.c -- */

/* Sets *pzErr to msg (sqlite3_mprintf'd; taken over), freeing what it held;
** with pzErr NULL, frees msg. */
void mvcc_set_error(char **pzErr, char *msg);
/* Sets vt's zErrMsg to msg (taken over), freeing the old one; returns rc. */
int mvcc_vtab_error(sqlite3_vtab *vt, int rc, char *msg);
/* Maps a kvcore error (with kvcore's message msg, borrowed) onto an SQLite
** code and sets *pzErr (if not NULL); `at_commit` selects
** SQLITE_BUSY_SNAPSHOT for retryable errors so that SQLite rolls the
** transaction back instead of keeping it open. */
int mvcc_kv_error(int kvrc, const char *msg, bool at_commit, char **pzErr);
/* The message for a write refused on a store that another process writes
** (kv_store_is_reader): "mvcc: attempt to write a readonly database: ..."
** naming that process.  sqlite3_mprintf'd. */
char *mvcc_reader_error(kv_store *s);

/* ------------------------------------------------------------ schema.c -- */

/* SQLite's type affinities, as its internal SQLITE_AFF_* letters. */
enum { MVCC_AFF_BLOB = 'A', MVCC_AFF_TEXT = 'B', MVCC_AFF_NUMERIC = 'C',
       MVCC_AFF_INTEGER = 'D', MVCC_AFF_REAL = 'E' };

#define MVCC_MAX_KEY_COLUMNS 16
/* The most bytes of a row's key (the table prefix and the encoded primary
** key), and of the encoded values of an index entry's columns.  Keys are
** copied into latches, the lock table and the timestamp cache and compared
** on every seek, so a bound keeps those cheap, and a key above it is a
** clear SQLITE_TOOBIG rather than a slow commit.  (A row's values are bound
** by SQLite's own SQLITE_LIMIT_LENGTH, as a native row is.) */
#define MVCC_MAX_KEY_BYTES (1 << 20)
#define MVCC_HIDDEN_KEY "__mvcc_key"

typedef struct mvcc_column {
  char *name;          /* as declared, unquoted */
  char *type;          /* declared type, "" if none */
  char affinity;       /* MVCC_AFF_* */
  bool notnull;
  int coll;            /* key columns: MVCC_COLL_* (keycodec.h) */
  int decl_coll;       /* the column's own collation, what SQLite compares
                       ** and sorts it by: MVCC_COLL_*, -1 for another */
  bool desc;           /* key columns: PRIMARY KEY ... DESC */
} mvcc_column;

/* A secondary index: a UNIQUE constraint of the definition, or an index
** created later with mvcc_create_index (index.c).  Its entries are keys in
** the table's own range, after its rows:
**     table prefix ‖ MVCC_INDEX_TAG ‖ num ‖ enc(indexed values) ‖ [enc(key)]
** with value the row's encoded key (what follows the table prefix) and the
** values of the index's and the key's columns (mvcc_index_value), so a
** query that uses no other column reads the entry alone.  A
** non-unique index always appends the row's key to the entry's; a unique
** one only when the values include a NULL (NULLs are never equal, as in
** SQLite), so its other entries are unique by construction.
** num: a definition's UNIQUE is sqlite_autoindex_<table>_<num> (1-32, fixed
** by the definition); a created index gets one of 33-255 from the catalog. */
typedef struct mvcc_index {
  int num;
  int ncol;
  int col[MVCC_MAX_KEY_COLUMNS];
  int coll[MVCC_MAX_KEY_COLUMNS];  /* MVCC_COLL_* */
  bool desc[MVCC_MAX_KEY_COLUMNS];
  bool unique;
  bool ready;          /* built: reads may use it (writers maintain it from
                       ** the moment its build begins) */
  char *name;          /* a created index's name (sqlite3_malloc'd); NULL
                       ** for the definition's */
  uint32_t seq;        /* created indexes: creation order in the table */
} mvcc_index;

#define MVCC_INDEX_TAG 0xF8 /* above every key encoding's first byte */
#define MVCC_MAX_UNIQUE 32
#define MVCC_FIRST_CREATED_INDEX 33   /* nums 33..255 */
#define MVCC_LAST_CREATED_INDEX 255

typedef struct mvcc_tabledef {
  char *name;
  int ncol;
  mvcc_column *cols;
  int npk;
  int pk[MVCC_MAX_KEY_COLUMNS]; /* column indexes, in key order */
  int nuniq;
  mvcc_index uniq[MVCC_MAX_UNIQUE];
  /* The order SQLite checks a native table's constraints in (its index
  ** list): -1 for the key, else an index into uniq.  Which error a row
  ** that breaks several gets, and the order OR REPLACE deletes in. */
  int ncheck;
  int check[MVCC_MAX_UNIQUE + 1];
  char *args;          /* the column definitions as stored in the catalog */
  char *declare;       /* CREATE TABLE text for sqlite3_declare_vtab */
  /* Options (not part of the stored definition). */
  char *store;         /* store='DIR', or NULL */
  int synchronous;     /* kv_sync, or -1 when not given */
  char *retention;     /* retention='<n> <unit>' normalized ("7 days"), or
                       ** NULL when not given */
} mvcc_tabledef;

/* Composite keys are exposed to SQLite as a hidden BLOB primary key column
** (index ncol) holding the encoded key. */
static inline bool mvcc_hidden_key(const mvcc_tabledef *d) { return d->npk > 1; }

/* An access path to a table's rows, in the order of its own keys: the
** primary key, or a ready secondary index (its entries give the keys). */
typedef struct mvcc_path {
  int index;                          /* 0: the key; 1: an index */
  int num;                            /* the index's num; 0: key */
  bool unique;                        /* a whole fixed path is one row */
  const char *name;                   /* a created index's, borrowed */
  int ncol;
  int col[MVCC_MAX_KEY_COLUMNS];      /* the columns, in path order */
  int coll[MVCC_MAX_KEY_COLUMNS];     /* MVCC_COLL_* */
  bool desc[MVCC_MAX_KEY_COLUMNS];
  bool sorts[MVCC_MAX_KEY_COLUMNS];   /* SQLite sorts the column by coll */
  /* Statistics (index.c): the table's rows and the distinct values of the
  ** path's first k + 1 columns; rows < 0 when none were gathered. */
  double rows;
  double ndv[MVCC_MAX_KEY_COLUMNS];
} mvcc_path;

/* Splits a stored definition (mvcc_tabledef.args, as the catalog keeps
** it) into the arguments CREATE VIRTUAL TABLE gave: at commas outside
** parentheses, quotes and comments.  *argv (n strings) is freed with
** mvcc_free_args.  SQLITE_CORRUPT for an unterminated quote (a damaged
** entry), SQLITE_NOMEM. */
int mvcc_split_args(const char *args, char ***argv, int *n);
void mvcc_free_args(char **argv, int n);

/* Fills *p with the primary key's path (ix NULL) or index ix's. */
void mvcc_path_of(const mvcc_tabledef *d, const mvcc_index *ix, mvcc_path *p);
/* Parses an index's column list ("a, b DESC, c COLLATE NOCASE") against d,
** with SQLite's own grammar (a CREATE INDEX in a scratch database).  Fills
** out's columns; on error *pzErr names what is wrong. */
int mvcc_schema_index_columns(sqlite3 *db, const mvcc_tabledef *d,
                              const char *columns, mvcc_index *out,
                              char **pzErr);

/* Parses the module arguments argv[0..argc) of CREATE VIRTUAL TABLE.  On
** success *out is a new definition (free with mvcc_tabledef_free); on error
** *pzErr is an sqlite3_mprintf'd message. */
int mvcc_schema_parse(sqlite3 *db, const char *name, int argc,
                      const char *const *argv, mvcc_tabledef **out,
                      char **pzErr);
void mvcc_tabledef_free(mvcc_tabledef *d);
/* Is this thread opening one of schema.c's scratch databases (where the
** extension, auto-loaded, must do nothing)? */
bool mvcc_schema_opening_scratch(void);
/* A value after affinity: what gets encoded into keys and rows. */
typedef struct mvcc_value {
  int type;                  /* SQLITE_INTEGER/FLOAT/TEXT/BLOB/NULL */
  sqlite3_int64 i;
  double r;
  const unsigned char *p;    /* TEXT and BLOB bytes (borrowed or owned) */
  int n;
  char *owned;               /* converted text, freed by mvcc_value_clear */
} mvcc_value;

/* Sets *out to v with column affinity applied as SQLite applies it when it
** stores a value (SQLite does not do it for virtual tables).  *out borrows
** v's bytes: v must outlive it. */
int mvcc_value_set(mvcc_value *out, sqlite3_value *v, char affinity);
void mvcc_value_clear(mvcc_value *v);
/* Quotes an identifier for SQL ("..."); sqlite3_mprintf'd. */
char *mvcc_quote_ident(const char *z);

/* ----------------------------------------------------------- catalog.c -- */

#define MVCC_ROW_PREFIX 0x01
#define MVCC_KEY_PREFIX_LEN 9   /* 0x01 + 8-byte table id */

typedef struct mvcc_catentry {
  uint64_t id;
  char *name;          /* as created (or renamed) */
  char *args;          /* column definitions */
} mvcc_catentry;

void mvcc_catentry_clear(mvcc_catentry *e);
/* The statement that declares catalog entry e in temp (CREATE VIRTUAL
** TABLE temp."name" USING mvcc(<args>[, store='<store>'])), in *out
** (sqlite3_mprintf'd), after checking on db that it is one statement:
** SQLITE_CORRUPT with a message when the stored definitions would end it
** early (mvcc.c). */
int mvcc_catentry_declare_sql(sqlite3 *db, const mvcc_catentry *e,
                              const char *store, char **out, char **pzErr);
/* Decodes a stored catalog entry (layout in catalog.c) into *e: SQLITE_OK,
** SQLITE_CORRUPT when v is not one, or SQLITE_NOMEM.  Free *e with
** mvcc_catentry_clear() whatever it returns. */
int mvcc_catentry_decode(const unsigned char *v, size_t n, mvcc_catentry *e);
/* Looks up name: SQLITE_OK with *found, or an error. */
int mvcc_catalog_get(kv_store *s, const char *name, bool *found,
                     mvcc_catentry *out, char **pzErr);
/* Creates the table (or finds an identical one).  *id receives its id. */
int mvcc_catalog_create(kv_store *s, const char *name, const char *args,
                        uint64_t *id, char **pzErr);
/* Removes the entry (if its id matches) and deletes the table's rows. */
int mvcc_catalog_drop(kv_store *s, const char *name, uint64_t id,
                      char **pzErr);
int mvcc_catalog_rename(kv_store *s, const char *from, const char *to,
                        uint64_t id, char **pzErr);
/* The current name of table id (sqlite3_malloc'd; the caller frees it),
** or NULL when the table was dropped. */
int mvcc_catalog_name_of(kv_store *s, uint64_t id, char **name, char **pzErr);
/* Calls fn for each table of the store; stops at a non-OK return. */
int mvcc_catalog_list(kv_store *s,
                      int (*fn)(void *ctx, const mvcc_catentry *e), void *ctx,
                      char **pzErr);
/* Deletes the rows of dropped tables left by transactions that committed
** into them after the drop; *swept counts the tables. */
int mvcc_catalog_sweep(kv_store *s, int *swept, char **pzErr);
/* The table id of a row key (at least MVCC_KEY_PREFIX_LEN bytes). */
uint64_t mvcc_row_table_id(const unsigned char *key);
/* Writes the 9-byte row-key prefix of table id into out. */
void mvcc_row_prefix(unsigned char *out, uint64_t id);

/* A created index as the catalog keeps it (catalog.c's header gives the
** layout).  ix.name is sqlite3_malloc'd: free with mvcc_catindex_clear. */
typedef struct mvcc_catindex {
  uint64_t table;      /* the table's id */
  kv_ts builder;       /* building: kv_store_opened_at() of its builder */
  mvcc_index ix;
} mvcc_catindex;

void mvcc_catindex_clear(mvcc_catindex *x);
/* The same for a stored index entry; free *x with mvcc_catindex_clear(). */
int mvcc_catindex_decode(const unsigned char *v, size_t n, mvcc_catindex *x);
/* Calls fn for each created index of table id (every table's when id is 0),
** read in one snapshot; stops at a non-OK return. */
int mvcc_catalog_index_list(kv_store *s, uint64_t id,
                            int (*fn)(void *ctx, const mvcc_catindex *x),
                            void *ctx, char **pzErr);
/* Adds index x->ix (name, unique, columns given) to table x->table, named
** table_name, in state building: picks its num and seq.  Fails when the
** name is taken by an index or a table, or the table is gone. */
int mvcc_catalog_index_add(kv_store *s, const char *table_name,
                           mvcc_catindex *x, char **pzErr);
/* Marks index name (of table id, num) ready. */
int mvcc_catalog_index_ready(kv_store *s, const char *name, uint64_t id,
                             int num, char **pzErr);
/* Removes index name (when id is not 0: only if it is table id's index num);
** *found says whether it was there, and *out (if not NULL) receives it. */
int mvcc_catalog_index_remove(kv_store *s, const char *name, uint64_t id,
                              int num, bool *found, mvcc_catindex *out,
                              char **pzErr);

/* Was index name table id's index num, and ready, in t's snapshot?  (A
** time-travel transaction may use an index only if it was built by then:
** the entries of the rows it had are written by the build.) */
int mvcc_catalog_index_ready_in(kv_txn *t, const char *name, uint64_t id,
                                int num, bool *ready, char **pzErr);

/* Table id's statistics as index.c encodes them (*val sqlite3_malloc'd;
** NULL when there are none), read in a snapshot. */
int mvcc_catalog_stats_get(kv_store *s, uint64_t id, unsigned char **val,
                           size_t *n, char **pzErr);
/* Rewrites table id's statistics in one catalog transaction (a locking
** read, so concurrent updates do not lose each other's): fn gets the record
** (borrowed; NULL when there is none) and returns a new one in *out
** (sqlite3_malloc'd; NULL: leave it as it is).  Nothing happens when the
** table is gone. */
typedef int (*mvcc_stats_fn)(void *ctx, const unsigned char *old, size_t n,
                             unsigned char **out, size_t *outn);
int mvcc_catalog_stats_update(kv_store *s, uint64_t id, mvcc_stats_fn fn,
                              void *ctx, char **pzErr);

/* -------------------------------------------------------------- conn.c -- */

typedef struct mvcc_conn mvcc_conn;
typedef struct mvcc_sconn mvcc_sconn;
typedef struct mvcc_txn mvcc_txn;

/* How a kvcore transaction is tied to SQLite's. */
enum {
  MVCC_TXN_AUTO = 1,   /* an autocommit read: ends when its cursors close */
  MVCC_TXN_SQL = 2     /* part of SQLite's transaction: ends at its
                       ** xSync/xCommit/xRollback */
};

struct mvcc_txn {
  kv_txn *kv;          /* NULL once committed or ended */
  mvcc_sconn *sc;
  int kind;            /* MVCC_TXN_* */
  bool attached;       /* it is sc->cur */
  int cursors;         /* open cursors reading with it */
  bool read_only;
  bool lock_reads;     /* its reads lock (kv_txn_options.lock_reads) */
  bool prepared;       /* by the first xSync (kv_txn_prepare) */
  bool committed;      /* by xCommit */
  uint32_t *sp;        /* savepoint marks by SQLite savepoint number */
  int nsp, spcap;
  /* Rows each table gained (net) in this transaction, added to the store's
  ** tallies when it commits (index.c's row counts). */
  struct mvcc_rowdelta { uint64_t table; int64_t rows; } *deltas;
  int ndelta, capdelta;
};

/* A store as seen by one connection. */
struct mvcc_sconn {
  mvcc_conn *conn;
  kv_store *store;
  mvcc_txn *cur;           /* the current transaction, or NULL */
  kv_retry_info retry;     /* the last attempt that failed, if has_retry */
  bool has_retry;          /* the connection's last SQL transaction failed
                           ** here with a retryable error */
  mvcc_sconn *next;
};

struct mvcc_conn {
  sqlite3 *db;
  mvcc_sconn *stores;
  mvcc_sconn *dflt;        /* the default store, or NULL */
  char *dflt_err;          /* why the default store could not be opened */
  bool enrolled;           /* some mvcc or marker table is in SQLite's
                           ** transaction: it will call xSync/xRollback */
  bool syncing;            /* between the first xSync and xCommit/xRollback */
  bool enrolling;          /* running the nested marker statement */
  sqlite3_stmt *enroll_stmt; /* that statement, prepared once; see
                           ** mvcc_conn_finalize */
  char *commit_err;        /* a write that failed in xCommit, for the next
                           ** statement to report */
  bool lock_reads_next;    /* mvcc_lock_reads(1): the next SQL transaction
                           ** locks what it reads */
  /* Time travel (timetravel.c). */
  bool asof;               /* mvcc_as_of: the current SQL transaction reads
                           ** every store as of asof_ts, read-only; cleared
                           ** when it ends */
  kv_ts asof_ts;
  bool has_commit_ts;      /* mvcc_commit_ts: the last transaction that
                           ** committed a write, on any store */
  kv_ts last_commit_ts;
};

mvcc_conn *mvcc_conn_new(sqlite3 *db);
void mvcc_conn_free(void *p);
/* Finalizes the statements the connection keeps prepared.  Called when an
** mvcc table is disconnected: sqlite3_close() disconnects every virtual
** table before it refuses to close over unfinalized statements, and the
** marker's own xDisconnect cannot do it (the statement keeps the marker
** connected).  They are prepared again when next needed. */
void mvcc_conn_finalize(mvcc_conn *c);
/* Opens (or finds) the connection's handle on the store in dir (NULL or ""
** for the in-memory store). */
int mvcc_conn_store(mvcc_conn *c, const char *dir, mvcc_sconn **out,
                    char **pzErr);

/* The transaction a cursor reads with (begun when there is none): an
** autocommit read, or the SQL transaction (enrolled in SQLite's through
** the marker table when only reads touch mvcc tables).  Adds a reference
** that the caller drops with mvcc_txn_release. */
int mvcc_txn_for_read(mvcc_sconn *sc, mvcc_txn **out, char **pzErr);
/* The SQL transaction a write statement uses (from xBegin). */
int mvcc_txn_for_write(mvcc_sconn *sc, mvcc_txn **out, char **pzErr);
void mvcc_txn_release(mvcc_txn *t);

/* The order in which SQLite calls one virtual table's transaction methods,
** checked with assert() as FTS5 checks its own (fts5CheckTransactionState):
**     xBegin, then xSavepoint / xRelease / xRollbackTo (savepoint numbers
**     rising, except that a rollback or release goes back), then xSync
**     (again, when SQLite retries a COMMIT that failed), then xCommit;
**     xRollback at any time.
** xCreate counts as xBegin: SQLite enrolls a table it creates without one.
** A statement after a COMMIT that failed in SQLite's own commit (the
** transaction stays open) takes the table from synced back to open. */
typedef struct mvcc_txcheck {
  int state;           /* 0 idle, 1 open, 2 synced */
  int savepoint;       /* the highest open savepoint, -1 if none */
} mvcc_txcheck;
enum { MVCC_TX_BEGIN, MVCC_TX_SYNC, MVCC_TX_COMMIT, MVCC_TX_ROLLBACK,
       MVCC_TX_SAVEPOINT, MVCC_TX_RELEASE, MVCC_TX_ROLLBACK_TO };
void mvcc_txcheck_step(mvcc_txcheck *c, int op, int savepoint);

/* SQLite's transaction hooks, for every mvcc and marker table. */
int mvcc_conn_sync(mvcc_conn *c, char **pzErr);
void mvcc_conn_resume(mvcc_conn *c);
/* SQLITE_IOERR with the message of a write that failed in xCommit (once),
** or SQLITE_OK. */
int mvcc_conn_take_commit_error(mvcc_conn *c, char **pzErr);
void mvcc_conn_commit(mvcc_conn *c);
void mvcc_conn_rollback(mvcc_conn *c);
int mvcc_conn_savepoint(mvcc_conn *c, int n, char **pzErr);
int mvcc_conn_release(mvcc_conn *c, int n, char **pzErr);
int mvcc_conn_rollback_to(mvcc_conn *c, int n, char **pzErr);
/* mvcc_lock_reads([on]).  on 0 or 1 asks that the connection's next SQL
** transaction lock the rows it reads, or not (a retry locks them anyway);
** SQLITE_ERROR once the current SQL transaction has begun on a store.  on
** -1 only asks.  *locks: whether the current SQL transaction, if it has
** begun on a store, else the next one, locks what it reads. */
int mvcc_conn_lock_reads(mvcc_conn *c, int on, int *locks, char **pzErr);

/* mvcc_as_of(T) (timetravel.c): makes the current SQL transaction read as
** of *ts.  SQLITE_ERROR outside BEGIN, or once the transaction has read or
** written an mvcc table; else enrolls the connection in SQLite's
** transaction (the marker), so the request ends with it.  ts NULL only
** checks. */
int mvcc_conn_as_of(mvcc_conn *c, const kv_ts *ts, char **pzErr);
/* The message refusing a write in the current time-travel transaction
** (sqlite3_mprintf'd). */
char *mvcc_conn_asof_refusal(mvcc_conn *c);

/* The message of a retryable failure of kvcore transaction t on store s:
** "restart transaction: <reason>: ..." naming the table of the row it was
** about rather than an encoded key.  sqlite3_mprintf'd. */
char *mvcc_retry_message(kv_store *s, kv_txn *t, const char *kvmsg);
/* A failed kvcore call on sc's transaction t: frees err, sets *pzErr (the
** retry message for KV_RETRY, noting the failure for the retry) and
** returns the SQLite code. */
int mvcc_txn_fail(mvcc_sconn *sc, kv_txn *t, int krc, char *err,
                  bool at_commit, char **pzErr);
/* Notes a retryable failure of sc's current transaction, for the retry. */
void mvcc_note_failure(mvcc_sconn *sc);
/* Table `table` gained `rows` rows (net) in t. */
void mvcc_txn_count_rows(mvcc_txn *t, uint64_t table, int64_t rows);

/* -------------------------------------------------------------- plan.c -- */

/* The plan word (xBestIndex's idxNum), as plan.c's header describes it. */
enum {
  MVCC_PLAN_NEQ = 0x1f,        /* leading key columns fixed by = / IN */
  MVCC_PLAN_IN = 1 << 5,       /* some of them are IN lists */
  MVCC_PLAN_LO = 1 << 6,       /* a lower bound on the next key column */
  MVCC_PLAN_LO_INCL = 1 << 7,
  MVCC_PLAN_HI = 1 << 8,       /* an upper bound on it */
  MVCC_PLAN_HI_INCL = 1 << 9,
  MVCC_PLAN_DESC = 1 << 10,    /* descending key order */
  MVCC_PLAN_LIMIT = 1 << 11,   /* LIMIT (and OFFSET) pushed down */
  MVCC_PLAN_OFFSET = 1 << 12,
  MVCC_PLAN_PATH_SHIFT = 13,   /* bits 13-20: the access path's num */
  MVCC_PLAN_IS_SHIFT = 21,     /* bits 21-29: fixed index column k is
                               ** compared by IS (a NULL matches NULLs) */
  MVCC_PLAN_IS_COLUMNS = 9,
  MVCC_PLAN_COVERING = 1 << 30 /* the index's entries hold every column
                               ** the query uses: rows are not read */
};

/* xBestIndex of an mvcc table with definition d over access paths
** paths[0..npath) (paths[0] the primary key). */
int mvcc_plan_best_index(const mvcc_tabledef *d, const mvcc_path *paths,
                         int npath, sqlite3_index_info *info);
/* Plan word `plan` on path p in words, for EXPLAIN QUERY PLAN
** (sqlite3_mprintf'd). */
char *mvcc_plan_describe(const mvcc_tabledef *d, const mvcc_path *p, int plan);

/* -------------------------------------------------------------- vtab.c -- */

extern const sqlite3_module mvcc_module;

/* ------------------------------------------------------------- index.c -- */

/* The indexes of a table as a connection sees them: the created ones
** (newest first: the order SQLite checks a native table's indexes in),
** then the definition's UNIQUE constraints (def->uniq's order); and the
** access paths plans may use: [0] the primary key, then each ready index.
** paths[].name borrows ix[].name: the two live and die together. */
typedef struct mvcc_indexset {
  mvcc_index *ix;
  int nix, ncreated;
  mvcc_path *paths;
  int npath;
  double stats_rows;   /* rows when the statistics were written; < 0: none */
} mvcc_indexset;

/* Loads table id's indexes (id 0: only the definition's) from the catalog
** of s.  mvcc_indexset_clear frees them. */
int mvcc_indexset_load(kv_store *s, const mvcc_tabledef *d, uint64_t id,
                       mvcc_indexset *out, char **pzErr);
void mvcc_indexset_clear(mvcc_indexset *x);
/* The path of index num (0: the key), or NULL when it is not ready or gone. */
const mvcc_path *mvcc_indexset_path(const mvcc_indexset *x, int num);

/* Appends x (not NULL) to kb in key encoding. */
int mvcc_key_append_cell(mvcc_keybuf *kb, const mvcc_value *x, int coll,
                         int desc);
/* kb = table prefix ‖ MVCC_INDEX_TAG ‖ num: where index num's entries are. */
int mvcc_index_prefix(mvcc_keybuf *kb, const unsigned char *tprefix, int num);
/* The entry key of index ix for a row with values vals and key rk (rkl
** bytes after the table prefix); *carries_key: the row's key is in it.
** SQLITE_TOOBIG when the indexed values take more than MVCC_MAX_KEY_BYTES. */
int mvcc_index_entry(mvcc_keybuf *out, const unsigned char *tprefix,
                     const mvcc_index *ix, const mvcc_value *vals,
                     const void *rk, size_t rkl, bool *carries_key);
/* The value of index ix's entry for a row with values vals and key rk:
** len(rk) (4 bytes BE) ‖ rk ‖ rowcodec(the table's columns: the index's
** and the key's values, NULL for the others).  And its parts back:
** SQLITE_CORRUPT when v is not such a value; rk and row borrow v. */
int mvcc_index_value(mvcc_keybuf *out, const mvcc_tabledef *d,
                     const mvcc_index *ix, const mvcc_value *vals,
                     const void *rk, size_t rkl);
int mvcc_index_value_parts(const void *v, size_t n, const unsigned char **rk,
                           size_t *rkl, const unsigned char **row,
                           size_t *rowlen);
/* The values of a parsed row (borrowing its bytes). */
void mvcc_row_values(const mvcc_row *r, int ncol, mvcc_value *vals);
/* "a COLLATE NOCASE, b DESC": an index's columns as a definition would
** write them (sqlite3_mprintf'd). */
char *mvcc_index_columns(const mvcc_tabledef *d, const mvcc_index *ix);
/* "UNIQUE constraint failed: t.a, t.b" (sqlite3_mprintf'd). */
char *mvcc_unique_msg(const char *table, const mvcc_tabledef *d,
                      const int *cols, int ncol);

/* mvcc_create_index(name, table, columns [, 'unique']): builds the index
** online (index.c's header); *rows: rows indexed. */
int mvcc_index_create(mvcc_conn *c, const char *name, const char *table,
                      const char *columns, bool unique, int64_t *rows,
                      char **pzErr);
/* mvcc_analyze(table): gathers table name's statistics (rows, and the
** distinct values of each leading part of its key and of each index) in
** one snapshot and keeps them in the catalog; *rows: the rows counted. */
int mvcc_index_analyze(mvcc_conn *c, const char *table, int64_t *rows,
                       char **pzErr);
/* mvcc_drop_index(name). */
int mvcc_index_drop(mvcc_conn *c, const char *name, char **pzErr);
/* A table handle's sketches of the rows it writes (index.c's statistics):
** mvcc_sketch_row adds one (creating *sk), and every SKETCH_FLUSH rows
** merges them into the table's record.  Free with mvcc_sketch_free before
** the index set they were made for changes. */
typedef struct mvcc_sketch mvcc_sketch;
void mvcc_sketch_row(mvcc_sketch **sk, kv_store *s, uint64_t id,
                     const mvcc_tabledef *d, const mvcc_indexset *set,
                     const mvcc_value *vals);
void mvcc_sketch_free(mvcc_sketch *sk);
/* A committed transaction changed table id's rows by `rows` (net): adds it
** to the store's tally, and writes the table's row count into its
** statistics when the tally has drifted far from it. */
void mvcc_index_rows_committed(kv_store *s, uint64_t id, int64_t rows);
/* Removes the indexes of s left building by an earlier opening of the
** store (a process that died during a build); *swept counts them. */
int mvcc_index_sweep(kv_store *s, int *swept, char **pzErr);

/* mvcc_check: compares table name's indexes with its rows in one snapshot
** of sc's store; *report is "ok" or the problems found (sqlite3_mprintf'd). */
int mvcc_check_table(mvcc_sconn *sc, const char *name, char **report,
                     char **pzErr);
/* Calls fn for every index of every table of sc's store: its table, name,
** columns (as a definition writes them), whether unique, whether ready
** (else building), and its entries now.  Strings are borrowed for the
** call; a non-OK return stops. */
typedef int (*mvcc_index_fn)(void *ctx, const char *table, const char *index,
                             const char *columns, bool unique, bool ready,
                             int64_t rows);
int mvcc_list_indexes(mvcc_sconn *sc, mvcc_index_fn fn, void *ctx,
                      char **pzErr);

/* ------------------------------------------------------------ marker.c -- */

extern const sqlite3_module mvcc_marker_module;

/* -------------------------------------------------------------- mvcc.c -- */

/* Declares every table of sc's store in the connection's temp schema that
** is not declared there yet; *declared (if not NULL) counts them.  strict:
** a name temp already uses for something else is an error (else skipped). */
int mvcc_declare_store_tables(mvcc_sconn *sc, bool strict, int *declared,
                              char **pzErr);

/* -------------------------------------------------------- timetravel.c -- */

/* retention='<n> <unit>': *ms and (if text is not NULL) the normalized
** text "<n> <unit>[s]" (sqlite3_mprintf'd); SQLITE_ERROR with *pzErr (if
** not NULL) for anything else. */
int mvcc_retention_parse(const char *value, int64_t *ms, char **text,
                         char **pzErr);
/* Sets store s's retention (normalized text) once; a different value
** later is an error.  Applies it to kvcore. */
int mvcc_retention_apply(kv_store *s, const char *text, char **pzErr);
/* Applies the retention kept in s (if any) to kvcore: when a store opens. */
void mvcc_retention_load(kv_store *s);
/* How often the GC thread runs for a retention window of that length. */
int64_t mvcc_gc_interval_ms(int64_t retention_ms);
/* Reads mvcc_as_of's argument: SQLITE_OK with *out, or an error. */
int mvcc_asof_parse(sqlite3 *db, sqlite3_value *v, kv_ts *out, char **pzErr);
/* May a transaction on s read as of ts?  Waits when ts is less than a
** second ahead of s's clock; errors name the retention window. */
int mvcc_asof_admit(kv_store *s, kv_ts ts, char **pzErr);
/* The oldest time s can be read at now, as text (sqlite3_mprintf'd). */
char *mvcc_oldest_readable(kv_store *s);
int mvcc_register_timetravel(sqlite3 *db, mvcc_conn *c);

/* ------------------------------------------------------------- stats.c -- */

int mvcc_register_stats(sqlite3 *db, mvcc_conn *c);

/* ------------------------------------------------------------ backup.c -- */

/* mvcc_backup(DIR [, STORE]): the SQL function; its user data is the
** connection's mvcc_conn.  Returns the copy's timestamp as text. */
void mvcc_backup_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv);
/* ----------------------------------------------------------- history.c -- */

/* Registers mvcc_history('t' [, key...]), the eponymous table of t's row
** versions (history.c). */
int mvcc_register_history(sqlite3 *db, mvcc_conn *c);

#endif /* MVCC_INT_H */
