/*
** stats.c — introspection tables, read-only and eponymous (no CREATE
** needed), over every store the connection uses:
**
**     SELECT * FROM mvcc_stats;   -- one row per counter per store (and
**                                 -- reader, writer_pid: whether another
**                                 -- process writes it, and which;
**                                 -- oldest_readable_ts: the oldest time
**                                 -- mvcc_as_of can read now, as text)
**     SELECT * FROM mvcc_txns;    -- live transactions
**     SELECT * FROM mvcc_locks;   -- held locks and their waiters
**     SELECT * FROM mvcc_indexes; -- every index of every table
**
** Each table materialises its rows when a scan starts (a snapshot: the
** core's state moves on while SQLite steps), so a cursor never holds a
** kvcore lock.
*/
#include "mvcc_int.h"

#include <string.h>

enum { STATS_COUNTERS, STATS_TXNS, STATS_LOCKS, STATS_INDEXES };

typedef struct stats_vtab {
  sqlite3_vtab base;
  mvcc_conn *conn;
  int kind;
} stats_vtab;

/* Rows are kept as arrays of up to 8 SQL values in a flat buffer. */
typedef struct stats_row {
  const char *store;
  const char *name;            /* counters: name; locks: key (hex) */
  char *owned;
  char *text[3];               /* indexes: table, index, columns */
  sqlite3_int64 v[8];
  double ts[3];
} stats_row;

typedef struct stats_cursor {
  sqlite3_vtab_cursor base;
  stats_row *rows;
  int n, cap, i;
} stats_cursor;

static const char *const schemas[] = {
    "CREATE TABLE x(store TEXT, name TEXT, value INTEGER)",
    ("CREATE TABLE x(store TEXT, id INTEGER, read_ts REAL, write_ts REAL, "
     "age REAL, priority INTEGER, boost INTEGER, read_only INTEGER, status "
     "TEXT, waiting_for INTEGER, locks INTEGER, lock_reads INTEGER)"),
    "CREATE TABLE x(store TEXT, key BLOB, txn INTEGER, waiting INTEGER)",
    ("CREATE TABLE x(store TEXT, \"table\" TEXT, \"index\" TEXT, columns "
     "TEXT, \"unique\" INTEGER, state TEXT, \"rows\" INTEGER)"),
};

static int statsConnect(sqlite3 *db, void *aux, int argc,
                        const char *const *argv, sqlite3_vtab **out,
                        char **pzErr) {
  (void)argc, (void)pzErr;
  int kind = !strcmp(argv[0], "mvcc_txns")      ? STATS_TXNS
             : !strcmp(argv[0], "mvcc_locks")   ? STATS_LOCKS
             : !strcmp(argv[0], "mvcc_indexes") ? STATS_INDEXES
                                                : STATS_COUNTERS;
  int rc = sqlite3_declare_vtab(db, schemas[kind]);
  if (rc) return rc;
  stats_vtab *v = sqlite3_malloc64(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->conn = ((mvcc_conn **)aux)[0];
  v->kind = kind;
  *out = &v->base;
  return SQLITE_OK;
}

static int statsDisconnect(sqlite3_vtab *vt) {
  sqlite3_free(vt);
  return SQLITE_OK;
}

static int statsBestIndex(sqlite3_vtab *vt, sqlite3_index_info *info) {
  (void)vt;
  info->estimatedCost = 1000;
  return SQLITE_OK;
}

static int statsOpen(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
  (void)vt;
  stats_cursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *out = &c->base;
  return SQLITE_OK;
}

static void stats_clear(stats_cursor *c) {
  for (int i = 0; i < c->n; i++) {
    sqlite3_free(c->rows[i].owned);
    for (int j = 0; j < 3; j++) sqlite3_free(c->rows[i].text[j]);
  }
  sqlite3_free(c->rows);
  c->rows = NULL;
  c->n = c->cap = c->i = 0;
}

static int statsClose(sqlite3_vtab_cursor *cur) {
  stats_clear((stats_cursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static stats_row *stats_add(stats_cursor *c) {
  if (c->n == c->cap) {
    int ncap = c->cap ? c->cap * 2 : 32;
    stats_row *r = sqlite3_realloc64(c->rows, sizeof(stats_row) * (size_t)ncap);
    if (!r) return NULL;
    c->rows = r;
    c->cap = ncap;
  }
  stats_row *r = &c->rows[c->n++];
  memset(r, 0, sizeof(*r));
  return r;
}

static double ts_real(kv_ts t) {
  return (double)t.wall / 1e9 + (double)t.logical * 1e-12;
}

typedef struct collect {
  stats_cursor *c;
  const char *store;
  int rc;
} collect;

static void collect_txn(void *ctx, const kv_txn_info *t) {
  collect *x = ctx;
  stats_row *r = stats_add(x->c);
  if (!r) {
    x->rc = SQLITE_NOMEM;
    return;
  }
  static const char *const st[] = {"pending", "committing", "committed",
                                    "aborted"};
  r->store = x->store;
  r->name = st[t->status & 3];
  r->v[0] = (sqlite3_int64)t->id;
  r->ts[0] = ts_real(t->read_ts);
  r->ts[1] = ts_real(t->write_ts);
  r->ts[2] = ts_real(t->age);
  r->v[1] = t->priority;
  r->v[2] = t->boost;
  r->v[3] = t->read_only;
  r->v[4] = (sqlite3_int64)t->waiting_for;
  r->v[5] = (sqlite3_int64)t->locks;
  r->v[6] = t->lock_reads;
}

static void collect_lock(void *ctx, const void *key, size_t klen,
                         uint64_t txn, int is_waiter) {
  collect *x = ctx;
  stats_row *r = stats_add(x->c);
  if (!r || !(r->owned = sqlite3_malloc64(klen ? klen : 1))) {
    x->rc = SQLITE_NOMEM;
    return;
  }
  memcpy(r->owned, key, klen);
  r->store = x->store;
  r->v[0] = (sqlite3_int64)klen;
  r->v[1] = (sqlite3_int64)txn;
  r->v[2] = is_waiter;
}

static int collect_index(void *ctx, const char *table, const char *index,
                         const char *columns, bool unique, bool ready,
                         int64_t rows) {
  collect *x = ctx;
  stats_row *r = stats_add(x->c);
  if (!r) return SQLITE_NOMEM;
  r->store = x->store;
  r->text[0] = sqlite3_mprintf("%s", table);
  r->text[1] = sqlite3_mprintf("%s", index);
  r->text[2] = sqlite3_mprintf("%s", columns);
  r->v[0] = unique;
  r->v[1] = rows;
  r->v[2] = ready;
  return r->text[0] && r->text[1] && r->text[2] ? SQLITE_OK : SQLITE_NOMEM;
}

static int statsFilter(sqlite3_vtab_cursor *cur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv) {
  (void)idxNum, (void)idxStr, (void)argc, (void)argv;
  stats_cursor *c = (stats_cursor *)cur;
  stats_vtab *v = (stats_vtab *)cur->pVtab;
  stats_clear(c);
  for (mvcc_sconn *sc = v->conn->stores; sc; sc = sc->next) {
    const char *store = kv_store_path(sc->store);
    collect x = {c, *store ? store : ":memory:", SQLITE_OK};
    if (v->kind == STATS_TXNS) {
      kv_store_list_txns(sc->store, collect_txn, &x);
    } else if (v->kind == STATS_LOCKS) {
      kv_store_list_locks(sc->store, collect_lock, &x);
    } else if (v->kind == STATS_INDEXES) {
      char *err = NULL;
      int rc = mvcc_list_indexes(sc, collect_index, &x, &err);
      if (rc) {
        mvcc_vtab_error(cur->pVtab, rc, err);
        return rc;
      }
    } else {
      kv_stats st;
      kv_store_stats(sc->store, &st);
      const struct {
        const char *name;
        uint64_t v;
      } counters[] = {
          {"txns_begun", st.txns_begun},
          {"txns_lock_reads", st.txns_lock_reads},
          {"commits", st.commits},
          {"commits_readonly", st.commits_readonly},
          {"aborts", st.aborts},
          {"retries_write_conflict", st.retries[KV_RETRY_WRITE_CONFLICT]},
          {"retries_read_refresh", st.retries[KV_RETRY_READ_REFRESH]},
          {"retries_deadlock", st.retries[KV_RETRY_DEADLOCK]},
          {"retries_lock_timeout", st.retries[KV_RETRY_LOCK_TIMEOUT]},
          {"retries_priority", st.retries[KV_RETRY_ABORTED_PRIORITY]},
          {"refreshes", st.refreshes},
          {"refresh_failures", st.refresh_failures},
          {"pushes_tscache", st.pushes_tscache},
          {"lock_waits", st.lock_waits},
          {"latch_waits", st.latch_waits},
          {"deadlocks", st.deadlocks},
          {"active_txns", st.active_txns},
          {"locks_held", st.locks_held},
          {"tscache_entries", st.tscache_entries},
          {"tscache_bytes", st.tscache_bytes},
          {"row_cache_entries", st.row_cache_entries},
          {"row_cache_bytes", st.row_cache_bytes},
          {"row_cache_hits", st.row_cache_hits},
          {"row_cache_misses", st.row_cache_misses},
          {"wal_writes", st.wal_writes},
          {"wal_syncs", st.wal_syncs},
          {"commits_ingested", st.commits_ingested},
          {"reads_from_gap", st.reads_from_gap},
          {"serial_write_ns", st.serial_write_ns},
          {"serial_sync_ns", st.serial_sync_ns},
          {"serial_mutex_ns", st.serial_mutex_ns},
          {"gc_runs", st.gc_runs},
          {"gc_versions_collected", st.gc_versions_deleted},
          /* 1 when another process writes the store and this one only
          ** reads it; that process's pid (0: none, or this process). */
          {"reader", (uint64_t)kv_store_is_reader(sc->store)},
          {"writer_pid", (uint64_t)kv_store_writer_pid(sc->store)},
          /* A reader's transactions: at the writer's closed timestamp, or
          ** at the newest state (README, Reading a live store). */
          {"reader_snapshots_closed", st.reader_snapshots_closed},
          {"reader_snapshots_newest", st.reader_snapshots_newest},
          /* Failed writes and fsyncs, recoveries from them, and RocksDB's
          ** count of failed flushes, compactions and writes. */
          {"write_failures", st.write_failures},
          {"write_recoveries", st.recoveries},
          {"write_reopens", st.reopens},
          {"background_errors", st.background_errors},
      };
      for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        stats_row *r = stats_add(c);
        if (!r) return SQLITE_NOMEM;
        r->store = x.store;
        r->name = counters[i].name;
        r->v[0] = (sqlite3_int64)counters[i].v;
      }
      stats_row *r = stats_add(c);
      if (!r) return SQLITE_NOMEM;
      r->store = x.store;
      r->name = "oldest_readable_ts";
      if (!(r->text[0] = mvcc_oldest_readable(sc->store))) return SQLITE_NOMEM;
      /* The write failure the store has not recovered from ('' if none):
      ** writes fail with it until the next one recovers. */
      if (!(r = stats_add(c))) return SQLITE_NOMEM;
      r->store = x.store;
      r->name = "write_error";
      char *err = NULL;
      kv_store_health(sc->store, &err);
      r->text[0] = sqlite3_mprintf("%s", err ? err : "");
      kv_free(err);
      if (!r->text[0]) return SQLITE_NOMEM;
    }
    if (x.rc) return x.rc;
  }
  return SQLITE_OK;
}

static int statsNext(sqlite3_vtab_cursor *cur) {
  ((stats_cursor *)cur)->i++;
  return SQLITE_OK;
}

static int statsEof(sqlite3_vtab_cursor *cur) {
  stats_cursor *c = (stats_cursor *)cur;
  return c->i >= c->n;
}

static int statsColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  stats_cursor *c = (stats_cursor *)cur;
  stats_vtab *v = (stats_vtab *)cur->pVtab;
  stats_row *r = &c->rows[c->i];
  if (i == 0) {
    sqlite3_result_text(ctx, r->store, -1, SQLITE_TRANSIENT);
    return SQLITE_OK;
  }
  switch (v->kind) {
    case STATS_COUNTERS:
      if (i == 1) sqlite3_result_text(ctx, r->name, -1, SQLITE_STATIC);
      else if (r->text[0])
        sqlite3_result_text(ctx, r->text[0], -1, SQLITE_TRANSIENT);
      else sqlite3_result_int64(ctx, r->v[0]);
      break;
    case STATS_TXNS:
      switch (i) {
        case 1: sqlite3_result_int64(ctx, r->v[0]); break;
        case 2: case 3: case 4: sqlite3_result_double(ctx, r->ts[i - 2]); break;
        case 5: case 6: case 7: sqlite3_result_int64(ctx, r->v[i - 4]); break;
        case 8: sqlite3_result_text(ctx, r->name, -1, SQLITE_STATIC); break;
        case 9: sqlite3_result_int64(ctx, r->v[4]); break;
        case 10: sqlite3_result_int64(ctx, r->v[5]); break;
        default: sqlite3_result_int64(ctx, r->v[6]); break;
      }
      break;
    case STATS_INDEXES:
      switch (i) {
        case 1: case 2: case 3:
          sqlite3_result_text(ctx, r->text[i - 1], -1, SQLITE_TRANSIENT);
          break;
        case 4: sqlite3_result_int64(ctx, r->v[0]); break;
        case 5:
          sqlite3_result_text(ctx, r->v[2] ? "ready" : "building", -1,
                              SQLITE_STATIC);
          break;
        default: sqlite3_result_int64(ctx, r->v[1]); break;
      }
      break;
    default:
      if (i == 1) sqlite3_result_blob(ctx, r->owned, (int)r->v[0], SQLITE_TRANSIENT);
      else sqlite3_result_int64(ctx, r->v[i - 1]);
      break;
  }
  return SQLITE_OK;
}

static int statsRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = ((stats_cursor *)cur)->i;
  return SQLITE_OK;
}

static const sqlite3_module stats_module = {
    .xConnect = statsConnect,
    .xBestIndex = statsBestIndex,
    .xDisconnect = statsDisconnect,
    .xOpen = statsOpen,
    .xClose = statsClose,
    .xFilter = statsFilter,
    .xNext = statsNext,
    .xEof = statsEof,
    .xColumn = statsColumn,
    .xRowid = statsRowid,
};

int mvcc_register_stats(sqlite3 *db, mvcc_conn *c) {
  /* The client data is a pointer to the connection pointer, so one
  ** allocation serves the four module names. */
  mvcc_conn **p = sqlite3_malloc64(sizeof(*p));
  if (!p) return SQLITE_NOMEM;
  *p = c;
  int rc = sqlite3_create_module_v2(db, "mvcc_stats", &stats_module, p,
                                    sqlite3_free);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_module(db, "mvcc_txns", &stats_module, p);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_module(db, "mvcc_locks", &stats_module, p);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_module(db, "mvcc_indexes", &stats_module, p);
  return rc;
}
