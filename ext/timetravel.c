/*
** timetravel.c — time travel, commit timestamps and retention in SQL.
**
**     SELECT mvcc_commit_ts();      -- the connection's last commit, as text
**     BEGIN;
**     SELECT mvcc_as_of(T);         -- this transaction reads as of T
**     SELECT ... FROM t1, t2 ...;   -- what had committed at T, all tables
**     COMMIT;
**     CREATE VIRTUAL TABLE temp.t USING mvcc(..., retention='7 days');
**
** mvcc_commit_ts() is the commit timestamp of the connection's last
** committed transaction that wrote something (conn.c records it in
** mvcc_conn.last_commit_ts; autocommit writes count, a transaction that
** only read commits nothing and leaves it as it was), as tstext.h's text:
** "YYYY-MM-DD HH:MM:SS.NNNNNNNNN" UTC, plus ".LLLLLLLLLL" when the logical
** counter is not 0.  NULL before the connection's first commit.
**
** mvcc_as_of(T) resolves T to a timestamp and hands it to conn.c
** (mvcc_conn_as_of), which makes the current SQL transaction a time-travel
** transaction: on every store it touches, its kvcore transaction is
** read-only with read_ts = T.  It returns T as that text.  T is
**   - a mvcc_commit_ts() text: exactly that timestamp;
**   - a date-time as SQLite's date functions read it ('2026-12-06
**     10:00:00', 'T' or ' ' between date and time, optional fraction and
**     time zone, 'now'): read by julianday(), except that fractional
**     seconds are taken off first and parsed here to the nanosecond
**     (SQLite rounds them to the millisecond, which can carry into the
**     next second);
**   - a modifier relative to now ('-30 seconds', '-2 hours', 'start of
**     day'): julianday('now', T), to the millisecond.
** A second mvcc_as_of before the transaction touches an mvcc table
** replaces the first; after it, it is an error, as is any call outside
** BEGIN.  mvcc_as_of() without an argument returns the time the current
** transaction reads at, or NULL when it is not a time-travel transaction.
**
** Admission (mvcc_asof_admit, run by mvcc_as_of against the default store
** and by conn.c when the transaction first reads a store, against it): T is compared with the store's own clock (which can
** run ahead of the wall clock after a restart: its persisted mark).  T
** more than MVCC_ASOF_FUTURE_NS ahead is refused; T ahead by less is waited
** out, so that once admitted T is in the past of the store's clock and
** every transaction that begins from then on reads and commits above it.
** T older than the store's retention window, or below kvcore's GC
** threshold, is refused with a message naming the window.
**
** Why a read as of a past T is exact (kvcore, txn.c "LIFE OF A READ"): a
** read at T first records itself in the timestamp cache at T, then waits
** out the write latches at or below T, then reads the engine.  A commit
** that could still land at or below T belongs to a transaction that began
** before T (later ones begin above it, see admission).  If it had latched
** its keys before the read looked, the read waits for its write (the latch
** window: only a commit in flight, never a lock holder) and sees it; if
** not, its commit finds the read in the timestamp cache and moves above
** T.  So the snapshot is exactly the commits at or below T, on every key
** and every table of the store, however long the transaction lasts; and
** GC (kvcore/gc.c) never collects below the oldest live read timestamp,
** so T's versions stay while the transaction lives.  Rows of a table
** dropped since T are gone (DROP deletes them); a table created since T
** reads as empty.  An index built (mvcc_create_index) after T has no
** entries at T for the rows that were there (its build writes them at its
** own commit), so plans of a time-travel transaction leave it out, and a
** plan made before mvcc_as_of that uses it is refused (vtab.c).
**
** Retention: the store option retention='<n> <unit>' (units second,
** minute, hour, day, singular or plural; 1 <= n and at most
** MVCC_RETENTION_MAX_DAYS days) is store-wide like synchronous: it is kept
** in the store's metadata under MVCC_RETENTION_META as its normalized text
** ("7 days"), and a different value later is refused.  Default
** MVCC_RETENTION_DEFAULT.  Every connection that opens the store applies
** it to kvcore (kv_store_set_gc), with the GC thread's interval
** (mvcc_gc_interval_ms): a quarter of the window, within 1 second and 10
** minutes, so versions older than the window are collected within about
** a quarter of it, and a pass (a scan of the whole store) runs at most
** every second.
*/
#include "mvcc_int.h"
#include "tstext.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MVCC_RETENTION_META "mvcc.retention"
#define MVCC_RETENTION_DEFAULT "24 hours"
#define MVCC_RETENTION_MAX_DAYS 36500   /* a century: ms fit in int64 */
#define MVCC_ASOF_FUTURE_NS 1000000000ULL /* waited out up to a second */
#define MS_NS 1000000ULL

/* --------------------------------------------------------- retention -- */

static const struct {
  const char *name;   /* singular */
  int64_t ms;
} retention_units[] = {{"second", 1000},
                       {"minute", 60 * 1000},
                       {"hour", 3600 * 1000},
                       {"day", 24 * 3600 * 1000}};

int mvcc_retention_parse(const char *value, int64_t *ms, char **text,
                         char **pzErr) {
  const char *p = value;
  while (isspace((unsigned char)*p)) p++;
  int64_t n = 0;
  int digits = 0;
  while (isdigit((unsigned char)*p) && digits < 12) {
    n = n * 10 + (*p++ - '0');
    digits++;
  }
  while (isspace((unsigned char)*p)) p++;
  const char *unit = p;
  while (isalpha((unsigned char)*p)) p++;
  size_t ulen = (size_t)(p - unit);
  while (isspace((unsigned char)*p)) p++;
  int u = -1;
  for (int i = 0; digits && !*p && i < 4; i++) {
    size_t nl = strlen(retention_units[i].name);
    if ((ulen == nl || (ulen == nl + 1 && (unit[nl] | 0x20) == 's')) &&
        !sqlite3_strnicmp(unit, retention_units[i].name, (int)nl))
      u = i;
  }
  if (u < 0 || n < 1 ||
      n > MVCC_RETENTION_MAX_DAYS * (retention_units[3].ms /
                                     retention_units[u].ms)) {
    mvcc_set_error(pzErr,
                   sqlite3_mprintf("mvcc: retention must be '<n> <unit>' with "
                                   "n from 1 and unit seconds, minutes, hours "
                                   "or days (at most %d days), not '%s'",
                                   MVCC_RETENTION_MAX_DAYS, value));
    return SQLITE_ERROR;
  }
  *ms = n * retention_units[u].ms;
  if (text) {
    *text = sqlite3_mprintf("%lld %s%s", (long long)n, retention_units[u].name,
                            n == 1 ? "" : "s");
    if (!*text) return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

int64_t mvcc_gc_interval_ms(int64_t retention_ms) {
  int64_t iv = retention_ms / 4;
  if (iv < 1000) iv = 1000;
  if (iv > 600000) iv = 600000;
  return iv;
}

/* The store's retention as normalized text (sqlite3_mprintf'd) and ms. */
static char *retention_of(kv_store *s, int64_t *ms) {
  char *v = NULL;
  size_t n = 0;
  char *text = NULL;
  if (kv_store_meta_get(s, MVCC_RETENTION_META, &v, &n, NULL) == KV_OK) {
    char *z = sqlite3_mprintf("%.*s", (int)n, v);
    if (z && mvcc_retention_parse(z, ms, &text, NULL) != SQLITE_OK)
      text = NULL;
    sqlite3_free(z);
  }
  kv_free(v);
  if (!text) mvcc_retention_parse(MVCC_RETENTION_DEFAULT, ms, &text, NULL);
  return text;
}

void mvcc_retention_load(kv_store *s) {
  int64_t ms = 0;
  sqlite3_free(retention_of(s, &ms));
  if (ms > 0) kv_store_set_gc(s, ms, mvcc_gc_interval_ms(ms));
}

int mvcc_retention_apply(kv_store *s, const char *text, char **pzErr) {
  int64_t want = 0, cur = 0;
  int rc = mvcc_retention_parse(text, &want, NULL, pzErr);
  if (rc) return rc;
  /* The first to give it decides (a claim: two connections giving
  ** different ones at once cannot both win); a different one is refused. */
  char *v = NULL, *err = NULL;
  size_t n = 0;
  int krc = kv_store_meta_claim(s, MVCC_RETENTION_META, text, strlen(text),
                                &v, &n, &err);
  kv_free(v);
  if (krc) {
    rc = mvcc_kv_error(krc, err, false, pzErr);
    kv_free(err);
    return rc;
  }
  if (!v) {
    kv_store_set_gc(s, want, mvcc_gc_interval_ms(want));
    return SQLITE_OK;
  }
  char *curtext = retention_of(s, &cur);
  if (!curtext) return SQLITE_NOMEM;
  if (cur != want) {
    mvcc_set_error(pzErr, sqlite3_mprintf(
                              "mvcc: retention='%s' conflicts with the "
                              "store's retention='%s' (a store-wide option)",
                              text, curtext));
    rc = SQLITE_ERROR;
  }
  sqlite3_free(curtext);
  return rc;
}

/* ---------------------------------------------------------- admission -- */

static void sleep_ns(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000ULL),
                        (long)(ns % 1000000000ULL)};
  nanosleep(&ts, NULL);
}

static const char *store_name(kv_store *s) {
  return *kv_store_path(s) ? kv_store_path(s) : ":memory:";
}

int mvcc_asof_admit(kv_store *s, kv_ts ts, char **pzErr) {
  char t[MVCC_TS_TEXT_MAX];
  mvcc_ts_text(ts, t);
  kv_ts now = kv_store_now(s);
  if (kv_ts_cmp(ts, now) >= 0) {
    uint64_t ahead = ts.wall - now.wall;
    if (ahead > MVCC_ASOF_FUTURE_NS) {
      mvcc_set_error(pzErr, sqlite3_mprintf(
                                "mvcc_as_of: %s is in the future of the store "
                                "%s by more than 1 second (up to 1 second, it "
                                "waits until T is past)",
                                t, store_name(s)));
      return SQLITE_ERROR;
    }
    /* Wait until the store's clock is past T. */
    while (kv_ts_cmp(ts, now = kv_store_now(s)) >= 0)
      sleep_ns(ts.wall > now.wall ? ts.wall - now.wall + 1 : 1000);
  }
  int64_t ms = 0;
  char *window = retention_of(s, &ms);
  kv_stats st;
  kv_store_stats(s, &st);
  kv_ts oldest = {now.wall > (uint64_t)ms * MS_NS ? now.wall - (uint64_t)ms * MS_NS
                                                  : 0, 0};
  if (kv_ts_cmp(oldest, st.gc_threshold) < 0) oldest = st.gc_threshold;
  int rc = SQLITE_OK;
  if (kv_ts_cmp(ts, oldest) < 0) {
    mvcc_set_error(pzErr, sqlite3_mprintf(
                              "mvcc_as_of: %s is older than the retention "
                              "window of the store %s (%s; mvcc_stats' "
                              "oldest_readable_ts is the oldest time it can "
                              "read now)",
                              t, store_name(s), window ? window : "?"));
    rc = SQLITE_ERROR;
  }
  sqlite3_free(window);
  return rc;
}

char *mvcc_oldest_readable(kv_store *s) {
  int64_t ms = 0;
  sqlite3_free(retention_of(s, &ms));
  kv_ts now = kv_store_now(s);
  kv_stats st;
  kv_store_stats(s, &st);
  kv_ts oldest = {now.wall > (uint64_t)ms * MS_NS ? now.wall - (uint64_t)ms * MS_NS
                                                  : 0, 0};
  if (kv_ts_cmp(oldest, st.gc_threshold) < 0) oldest = st.gc_threshold;
  char o[MVCC_TS_TEXT_MAX];
  mvcc_ts_text(oldest, o);
  return sqlite3_mprintf("%s", o);
}

/* ------------------------------------------------------ reading T -- */

/* One double from `sql` with ?1 = arg (text); false when it is NULL. */
static bool query_double(sqlite3 *db, const char *sql, const char *arg,
                         int n, double *out) {
  sqlite3_stmt *st = NULL;
  bool ok = false;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, arg, n, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL) {
      *out = sqlite3_column_double(st, 0);
      ok = true;
    }
  }
  sqlite3_finalize(st);
  return ok;
}

/* The last millisecond a kv_ts can hold (in 2554). */
#define WALL_MAX_MS 18446744073709.0

/* Julian day jd as nanoseconds since the epoch, to the millisecond: 0
** before 1970, UINT64_MAX past what a timestamp can hold. */
static uint64_t jd_to_wall(double jd) {
  double ms = round((jd - 2440587.5) * 86400000.0);
  if (!(ms >= 0)) return 0;
  if (ms > WALL_MAX_MS) return UINT64_MAX;
  return (uint64_t)ms * MS_NS;
}

/* A date-time "YYYY-MM-DD HH:MM:SS.fff...rest": the fraction's digits (up
** to 9 kept as nanoseconds) are taken out; *base is the text without them
** (sqlite3_mprintf'd), or NULL when there is no fraction to take. */
static char *split_fraction(const char *z, uint64_t *frac_ns) {
  static const char shape[] = "dddd-dd-dd dd:dd:dd.";
  *frac_ns = 0;
  for (int i = 0; shape[i]; i++) {
    char c = z[i];
    bool ok = shape[i] == 'd'   ? isdigit((unsigned char)c)
              : i == 10         ? c == ' ' || c == 'T'
                                : c == shape[i];
    if (!ok) return NULL;
  }
  const char *d = z + 20;
  int nd = 0;
  uint64_t v = 0;
  while (isdigit((unsigned char)d[nd])) {
    if (nd < 9) v = v * 10 + (uint64_t)(d[nd] - '0');
    nd++;
  }
  if (nd == 0) return NULL;
  /* A second fraction (a mangled mvcc_commit_ts text) is no time zone. */
  if (d[nd] == '.') return sqlite3_mprintf("not a time");
  for (int i = nd; i < 9; i++) v *= 10;
  *frac_ns = v;
  return sqlite3_mprintf("%.19s%s", z, d + nd);
}

int mvcc_asof_parse(sqlite3 *db, sqlite3_value *v, kv_ts *out, char **pzErr) {
  const char *z = (const char *)sqlite3_value_text(v);
  int n = sqlite3_value_bytes(v);
  if (sqlite3_value_type(v) != SQLITE_TEXT || !z) {
    mvcc_set_error(pzErr, sqlite3_mprintf(
                              "mvcc_as_of: T must be text: a mvcc_commit_ts() "
                              "value, a UTC date-time ('2026-12-06 10:00:00') "
                              "or a modifier relative to now ('-30 seconds')"));
    return SQLITE_ERROR;
  }
  if (mvcc_ts_from_text(z, (size_t)n, out)) return SQLITE_OK;
  uint64_t frac = 0;
  char *base = split_fraction(z, &frac);
  double jd = 0;
  uint64_t wall = 0;
  if (query_double(db, "SELECT julianday(?1)", base ? base : z, -1, &jd)) {
    wall = jd_to_wall(jd);
    if (wall && wall != UINT64_MAX) wall += frac;
  } else if (query_double(db, "SELECT julianday('now', ?1)", z, n, &jd)) {
    wall = jd_to_wall(jd);
  }
  sqlite3_free(base);
  if (wall == UINT64_MAX) {
    mvcc_set_error(pzErr, sqlite3_mprintf(
                              "mvcc_as_of: %Q is in the future by more than "
                              "1 second (up to 1 second, it waits until T is "
                              "past)",
                              z));
    return SQLITE_ERROR;
  }
  if (wall == 0) {
    mvcc_set_error(pzErr, sqlite3_mprintf(
                              "mvcc_as_of: cannot read %Q as a time: give a "
                              "mvcc_commit_ts() value, a UTC date-time from "
                              "1970 on ('2026-12-06 10:00:00') or a modifier "
                              "relative to now ('-30 seconds')",
                              z));
    return SQLITE_ERROR;
  }
  *out = (kv_ts){wall, 0};
  return SQLITE_OK;
}

/* ----------------------------------------------------- SQL functions -- */

static void result_ts(sqlite3_context *ctx, kv_ts ts) {
  char buf[MVCC_TS_TEXT_MAX];
  size_t n = mvcc_ts_text(ts, buf);
  sqlite3_result_text(ctx, buf, (int)n, SQLITE_TRANSIENT);
}

static void result_err(sqlite3_context *ctx, int rc, char *err) {
  sqlite3_result_error(ctx, err ? err : sqlite3_errstr(rc), -1);
  sqlite3_result_error_code(ctx, rc);
  sqlite3_free(err);
}

/* mvcc_commit_ts(): the connection's last commit timestamp, or NULL. */
static void commit_ts_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc, (void)argv;
  mvcc_conn *c = sqlite3_user_data(ctx);
  if (c->has_commit_ts) result_ts(ctx, c->last_commit_ts);
  else sqlite3_result_null(ctx);
}

/* mvcc_as_of([T]). */
static void as_of_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  mvcc_conn *c = sqlite3_user_data(ctx);
  if (argc == 0) {
    if (c->asof) result_ts(ctx, c->asof_ts);
    else sqlite3_result_null(ctx);
    return;
  }
  kv_ts ts;
  char *err = NULL;
  int rc = mvcc_conn_as_of(c, NULL, &err); /* the cheap checks first */
  if (rc == SQLITE_OK) rc = mvcc_asof_parse(c->db, argv[0], &ts, &err);
  /* Checked now against the default store, so that most mistakes show
  ** here; every store is checked again when the transaction first reads
  ** it (conn.c), each against its own window. */
  mvcc_sconn *first = c->dflt ? c->dflt : c->stores;
  if (rc == SQLITE_OK && first) rc = mvcc_asof_admit(first->store, ts, &err);
  if (rc == SQLITE_OK) rc = mvcc_conn_as_of(c, &ts, &err);
  if (rc) {
    result_err(ctx, rc, err);
    return;
  }
  result_ts(ctx, ts);
}

int mvcc_register_timetravel(sqlite3 *db, mvcc_conn *c) {
  int rc = sqlite3_create_function(db, "mvcc_commit_ts", 0, SQLITE_UTF8, c,
                                   commit_ts_fn, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "mvcc_as_of", 0, SQLITE_UTF8, c,
                                 as_of_fn, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function(db, "mvcc_as_of", 1, SQLITE_UTF8, c,
                                 as_of_fn, NULL, NULL);
  return rc;
}
