/*
** bench_sql.c — the mvcc virtual table against native SQLite, raw RocksDB
** and RocksDB's pessimistic TransactionDB, in one run.
**
** The same prepared SQL runs against an mvcc table and against a native
** table kv(k INTEGER PRIMARY KEY, v BLOB) in WAL mode; RocksDB (same build,
** same machine, same moment) does the equivalent operations through its C
** API, with 8-byte big-endian keys.  Everything runs at two durability
** levels, each in databases of its own (mvcc's synchronous is store-wide):
**
**     full:    mvcc synchronous=full    SQLite synchronous=FULL    RocksDB sync=true
**     normal:  mvcc synchronous=normal  SQLite synchronous=NORMAL  RocksDB sync=false
**
** A value is 100 bytes: the row's update counter (8 bytes), then random
** bytes.  Workloads:
**
**   W1  autocommit single-row INSERTs of sequential keys (RocksDB: Put;
**       TransactionDB: GetForUpdate, Put, Commit)
**   W2  a 200,000-row INSERT in one transaction, into an empty table
**       (RocksDB: one write batch; TransactionDB: one transaction).  Each
**       runs in a child process (this program again, with --w2) so that
**       the peak resident memory it reports is the workload's own; the
**       bytes on disk are measured after it
**   W3  random point SELECTs by key over W2's rows
**   W4  100-row range scans (k BETWEEN ? AND ? ORDER BY k), and full scans
**   W5  read-modify-write transactions, one thread: BEGIN; SELECT 2 random
**       keys; UPDATE both (counter + 1, new random bytes); COMMIT
**   W6  W5 from 2, 4 and 8 threads, one connection each, on disjoint key
**       ranges (W5 is its 1-thread point): commits/s, aborts per commit,
**       and the CPU per commit (the process's CPU time, all its threads,
**       over the timed phase, divided by the commits)
**   W7  W5 from 1, 2, 4 and 8 threads on 10 hot keys
**   W8  a 200,000-row table with a UNIQUE column: its load in one
**       transaction; an index built over its 100-byte values
**       (mvcc_create_index against CREATE INDEX: seconds, and the growth
**       of the peak RSS); then random SELECTs by the unique column, timed
**       right after (cold: caches filling) and after one untimed pass over
**       every key (the result the target applies to)
**   W9  autocommit INSERTs into a table with two secondary indexes, from 1
**       thread and from 8 (one connection each, disjoint keys; native
**       SQLite with autocommit and with BEGIN IMMEDIATE, the better kept)
**
** Native connections do not load the extension.  Native SQLite runs W5-W7
** twice, with BEGIN and with BEGIN IMMEDIATE (its best idiom with several
** writers: they queue in the busy handler); W5 is compared with BEGIN, W6
** and W7 with the better of the two.  For mvcc the report also gives the
** serial time per commit of W5 (kvcore's serial_*_ns counters; see
** report_method() for the definition) and the commit rate it caps.  A transaction refused with SQLITE_BUSY or
** SQLITE_LOCKED (mvcc: "restart transaction: ..."; SQLite: a lock it could
** not get) is rolled back, counted as an abort and run again.
**
** Every workload checks its results, and a wrong answer ends the run with
** status 1: each INSERT succeeds and the rows are counted afterwards, every
** point read finds its 100-byte row, scans return 100 consecutive keys in
** order, full scans count every row, each UPDATE changes one row, and after
** each W5-W7 run the counters of the rows it used grew by exactly two per
** commit (no lost update).  Missed performance targets are reported, not
** fatal.
**
** Usage: bench_sql [RESULTS.md [bench_kv-output]]
**   Prints the tables and writes them, with the machine, the date, the
**   command and the targets of the benchmark issue, to RESULTS.md (default
**   bench/RESULTS.md), followed by bench_kv's output when given; writes
**   results.dat and reads.dat beside it for bench/plot.gp.
**   BENCH_SECONDS  seconds per timed phase (default 1; W5-W7 twice that)
**   BENCH_DIR      where the scratch directory goes (default /tmp)
**   BENCH_ONLY     e.g. "W3,W6" or "W5,mvcc": run only these timed
**                  workloads (W2 always runs: it loads the data) and/or
**                  these kinds (mvcc, native, rocksdb, txndb)
**   BENCH_LEVELS   "full" or "normal": run only that durability level
**   BENCH_THREADS  e.g. "2,8": run W5-W7 with only these thread counts
**   BENCH_PERF_CTL, BENCH_PERF_ACK  perf's control FIFOs: the timed phases
**                  of W5-W7 enable perf's events (bench/profile.py)
**   BENCH_STATS    set: print the mvcc counters that moved in each
**                  read-modify-write run (stderr)
*/
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int sqlite3_mvcc_init(sqlite3 *, char **, const sqlite3_api_routines *);

#define W1_KEY0 10000000L /* W1's keys, above W2's 0 .. W2_ROWS-1 */
#define W2_ROWS 200000L
#define VLEN 100
#define HOT 10
#define MAXTHREADS 8

enum { MVCC, NATIVE, ROCKS, TXNDB, NKIND };
static const char *const kind_name[NKIND] = {"mvcc", "native", "rocksdb",
                                             "txndb"};
enum { FULL, NORMAL };
static const char *const sync_name[2] = {"full", "normal"};

static double secs = 1.0;
static char base[400];
static char phase[96]; /* what is running, for error messages */
static const char *only, *levels, *threads_only;

/* --------------------------------------------------------- utilities -- */

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_sql: %s: ", phase);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (scratch files in %s)\n", base);
  va_end(ap);
  exit(1);
}

static void set_phase(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(phase, sizeof phase, fmt, ap);
  va_end(ap);
}

/* splitmix64 */
static uint64_t rnd(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* A value: the update counter n in 8 bytes, then random bytes. */
static void value_make(unsigned char *v, int64_t n, uint64_t *s) {
  memcpy(v, &n, 8);
  for (int i = 8; i < VLEN; i += 4) {
    uint32_t x = (uint32_t)rnd(s);
    memcpy(v + i, &x, 4);
  }
}

static int64_t value_counter(const void *v, size_t n) {
  int64_t c;
  if (!v || n != VLEN) die("a row's value has %zu bytes, not %d", n, VLEN);
  memcpy(&c, v, 8);
  return c;
}

/* Whether BENCH_ONLY lets workload w (NULL: any) run on kind (-1: any):
** it may name workloads (W1 .. W9), kinds (mvcc, native, rocksdb, txndb)
** or both. */
static bool selected(const char *w, int kind) {
  bool any_w = false, any_k = false;
  if (!only) return true;
  for (int i = 1; i <= 9; i++) {
    char t[4] = {'W', (char)('0' + i), 0};
    any_w |= strstr(only, t) != NULL;
  }
  for (int k = 0; k < NKIND; k++) any_k |= strstr(only, kind_name[k]) != NULL;
  return (!any_w || !w || strstr(only, w)) &&
         (!any_k || kind < 0 || strstr(only, kind_name[kind]));
}

/* Whether BENCH_THREADS (e.g. "2,8") lets W5-W7 run with n threads. */
static bool threads_selected(int n) {
  if (!threads_only) return true;
  for (const char *p = threads_only; *p;) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p) break;
    if (v == n) return true;
    p = *end ? end + 1 : end;
  }
  return false;
}

static void dir_of(char *out, size_t n, int kind, int sync) {
  snprintf(out, n, "%s/%s-%s", base, kind_name[kind], sync_name[sync]);
}

static void mkdir_p(const char *dir) {
  if (mkdir(dir, 0755) != 0 && access(dir, F_OK) != 0) die("mkdir %s", dir);
}

static long long du_bytes;
static int du_one(const char *p, const struct stat *st, int flag,
                  struct FTW *f) {
  (void)p, (void)flag, (void)f;
  du_bytes += (long long)st->st_blocks * 512;
  return 0;
}

/* Bytes allocated on disk under dir. */
static long long dir_bytes(const char *dir) {
  du_bytes = 0;
  if (nftw(dir, du_one, 16, FTW_PHYS)) die("cannot walk %s", dir);
  return du_bytes;
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *f) {
  (void)st, (void)flag, (void)f;
  return remove(p);
}

static void rm_rf(const char *dir) {
  if (access(dir, F_OK) == 0 &&
      nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
    die("cannot remove %s", dir);
}

/* Peak resident set of this process, in KiB. */
static long peak_rss_kb(void) {
  long kb = -1;
  char line[256];
  FILE *f = fopen("/proc/self/status", "r");
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
  if (f) fclose(f);
  return kb;
}

/* ----------------------------------------------------------- SQLite -- */

/* The extension loads into mvcc connections only: a native connection
** must not pay for a store it does not use. */
static _Thread_local bool load_mvcc;
static int mvcc_filter(sqlite3 *db, char **err,
                       const sqlite3_api_routines *api) {
  return load_mvcc ? sqlite3_mvcc_init(db, err, api) : SQLITE_OK;
}

static void exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
    die("%s: %s", sql, err ? err : sqlite3_errmsg(db));
}

static sqlite3 *db_open(int kind, int sync) {
  char path[600];
  dir_of(path, sizeof path - 8, kind, sync);
  strcat(path, "/t.db");
  sqlite3 *db = NULL;
  load_mvcc = kind == MVCC;
  int rc = sqlite3_open(path, &db);
  load_mvcc = false;
  if (rc != SQLITE_OK) die("open %s: %s", path, sqlite3_errmsg(db));
  sqlite3_busy_timeout(db, 10000);
  if (kind == NATIVE)
    exec(db, sync == FULL ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL"
                          : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  return db;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    die("prepare %s: %s", sql, sqlite3_errmsg(db));
  return st;
}

/* Runs a statement that returns no rows; returns sqlite3_step's code. */
static int step_reset(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc;
}

/* The one integer a query returns. */
static sqlite3_int64 query_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = prep(db, sql);
  if (sqlite3_step(st) != SQLITE_ROW) die("%s: %s", sql, sqlite3_errmsg(db));
  sqlite3_int64 n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

/* W1: autocommit INSERTs of W1_KEY0, W1_KEY0+1, ...; *rows: how many. */
static double w1_sql(sqlite3 *db, long *rows) {
  sqlite3_stmt *ins = prep(db, "INSERT INTO kv VALUES (?, ?)");
  unsigned char v[VLEN];
  uint64_t s = 1;
  long n = 0;
  double t0 = now_s(), t;
  do {
    for (int j = 0; j < 8; j++, n++) {
      value_make(v, 0, &s);
      sqlite3_bind_int64(ins, 1, W1_KEY0 + n);
      sqlite3_bind_blob(ins, 2, v, VLEN, SQLITE_STATIC);
      if (step_reset(ins) != SQLITE_DONE)
        die("INSERT key %ld: %s", W1_KEY0 + n, sqlite3_errmsg(db));
    }
  } while ((t = now_s() - t0) < secs);
  sqlite3_finalize(ins);
  sqlite3_int64 got = query_int(db, "SELECT count(*) FROM kv WHERE k >= 10000000");
  if (got != n) die("%ld rows inserted, %lld found", n, (long long)got);
  *rows = n;
  return (double)n / t;
}

/* W2, in the child: the table is created, then filled in one transaction.
** Returns the seconds from BEGIN to the end of COMMIT. */
static double w2_sql(int kind, int sync) {
  char dir[500];
  dir_of(dir, sizeof dir, kind, sync);
  mkdir_p(dir);
  sqlite3 *db = db_open(kind, sync);
  char sql[300];
  if (kind == MVCC)
    snprintf(sql, sizeof sql,
             "CREATE VIRTUAL TABLE IF NOT EXISTS temp.kv USING mvcc(k INTEGER "
             "PRIMARY KEY, v BLOB, synchronous=%s)",
             sync_name[sync]);
  else
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v BLOB)");
  exec(db, sql);
  sqlite3_stmt *ins = prep(db, "INSERT INTO kv VALUES (?, ?)");
  unsigned char v[VLEN];
  uint64_t s = 2;
  double t0 = now_s();
  exec(db, "BEGIN");
  for (long i = 0; i < W2_ROWS; i++) {
    value_make(v, 0, &s);
    sqlite3_bind_int64(ins, 1, i);
    sqlite3_bind_blob(ins, 2, v, VLEN, SQLITE_STATIC);
    if (step_reset(ins) != SQLITE_DONE)
      die("INSERT key %ld: %s", i, sqlite3_errmsg(db));
  }
  exec(db, "COMMIT");
  double t = now_s() - t0;
  sqlite3_finalize(ins);
  sqlite3_int64 n = query_int(db, "SELECT count(*) FROM kv");
  if (n != W2_ROWS) die("%lld rows after the load", (long long)n);
  sqlite3_close(db);
  return t;
}

/* W3: random point SELECTs of W2's keys. */
static double w3_sql(sqlite3 *db) {
  sqlite3_stmt *st = prep(db, "SELECT v FROM kv WHERE k = ?");
  uint64_t s = 3;
  long n = 0;
  double t0 = now_s(), t;
  do {
    for (int j = 0; j < 32; j++, n++) {
      long k = (long)(rnd(&s) % W2_ROWS);
      sqlite3_bind_int64(st, 1, k);
      if (sqlite3_step(st) != SQLITE_ROW) die("key %ld not found", k);
      if (value_counter(sqlite3_column_blob(st, 0),
                        (size_t)sqlite3_column_bytes(st, 0)) != 0)
        die("key %ld: wrong value", k);
      sqlite3_reset(st);
    }
  } while ((t = now_s() - t0) < secs);
  sqlite3_finalize(st);
  return (double)n / t;
}

static double w8_build(sqlite3 *db, int kind, double *mib);

/* Looks up key k of W8's table by its unique column; dies when the row
** found is not k's. */
static void w8_lookup(sqlite3_stmt *st, long k) {
  char email[64];
  int len = snprintf(email, sizeof email, "user%08lx@example.com",
                     (unsigned long)((uint64_t)k * 2654435761u % 4294967291u));
  sqlite3_bind_text(st, 1, email, len, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) != k)
    die("W8: %s not found as key %ld", email, k);
  sqlite3_reset(st);
}

/* Random lookups for `secs`: rows/s. */
static double w8_lookups(sqlite3_stmt *st, uint64_t *s) {
  long n = 0;
  double t, t0 = now_s();
  do {
    for (int j = 0; j < 32; j++, n++) w8_lookup(st, (long)(rnd(s) % W2_ROWS));
  } while ((t = now_s() - t0) < secs);
  return (double)n / t;
}

/* W8: a table with a UNIQUE column, loaded in one transaction (timed into
** *load, rows/s); an index built over its values (w8_build); then random
** lookups by the unique column (rows/s), each checked to find the row
** whose key the value was made from.  The lookups are timed twice: right
** after the load and the build (*cold: caches still filling), and after
** one untimed pass over every key (the result: a working set that has
** been read once, as in any application that has been running). */
static double w8_sql(sqlite3 *db, int kind, double *load, double *cold,
                     double *build, double *build_mib) {
  exec(db, kind == MVCC
               ? "CREATE VIRTUAL TABLE temp.kv8 USING mvcc(k INTEGER PRIMARY "
                 "KEY, email TEXT UNIQUE, v BLOB)"
               : "CREATE TABLE kv8(k INTEGER PRIMARY KEY, email TEXT UNIQUE, v "
                 "BLOB)");
  sqlite3_stmt *ins = prep(db, "INSERT INTO kv8 VALUES (?, ?, ?)");
  unsigned char v[VLEN];
  uint64_t s = 8;
  char email[64];
  double t0 = now_s();
  exec(db, "BEGIN");
  for (long i = 0; i < W2_ROWS; i++) {
    value_make(v, 0, &s);
    int n = snprintf(email, sizeof email, "user%08lx@example.com",
                     (unsigned long)((uint64_t)i * 2654435761u % 4294967291u));
    sqlite3_bind_int64(ins, 1, i);
    sqlite3_bind_text(ins, 2, email, n, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 3, v, VLEN, SQLITE_STATIC);
    if (step_reset(ins) != SQLITE_DONE)
      die("W8 INSERT %ld: %s", i, sqlite3_errmsg(db));
  }
  exec(db, "COMMIT");
  *load = (double)W2_ROWS / (now_s() - t0);
  sqlite3_finalize(ins);
  *build = w8_build(db, kind, build_mib);
  sqlite3_stmt *st = prep(db, "SELECT k, v FROM kv8 WHERE email = ?");
  *cold = w8_lookups(st, &s);
  for (long k = 0; k < W2_ROWS; k++) w8_lookup(st, k);
  double rate = w8_lookups(st, &s);
  sqlite3_finalize(st);
  exec(db, kind == MVCC ? "DROP TABLE temp.kv8" : "DROP TABLE kv8");
  return rate;
}

/* Resets the process's peak RSS (VmHWM) to its current RSS. */
static void peak_rss_reset(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f) {
    fputs("5", f);
    fclose(f);
  }
}

/* W8's table gets an index over its values: seconds; *mib: how far the
** peak RSS rose above the RSS before it. */
static double w8_build(sqlite3 *db, int kind, double *mib) {
  peak_rss_reset();
  long before = peak_rss_kb();
  double t0 = now_s();
  if (kind == MVCC) {
    if (query_int(db, "SELECT mvcc_create_index('kv8_v', 'kv8', 'v')") !=
        W2_ROWS)
      die("W8 index build: not every row indexed");
  } else {
    exec(db, "CREATE INDEX kv8_v ON kv8(v)");
  }
  double t = now_s() - t0;
  *mib = (double)(peak_rss_kb() - before) / 1024.0;
  return t;
}

/* ------------------------------------------------------------------ W9 -- */

/* Autocommit INSERTs into kv9(k, a, b, v) with indexes on a and on b, by
** nthreads connections on disjoint keys; rows/s.  Native runs it with
** autocommit and with BEGIN IMMEDIATE ... COMMIT per row. */
typedef struct w9_worker {
  int kind, sync, id;
  bool immediate;
  long rows;
  pthread_t th;
} w9_worker;

static pthread_barrier_t w9_gate;

static void w9_insert_rows(sqlite3 *db, w9_worker *w) {
  sqlite3_stmt *ins = prep(db, "INSERT INTO kv9 VALUES (?, ?, ?, ?)");
  unsigned char v[VLEN];
  uint64_t s = 900 + (uint64_t)w->id;
  char b[32];
  pthread_barrier_wait(&w9_gate);
  double stop = now_s() + secs;
  for (long i = 0; now_s() < stop; i++) {
    long k = (long)w->id * 100000000L + i;
    value_make(v, 0, &s);
    int n = snprintf(b, sizeof b, "b%016llx", (unsigned long long)rnd(&s));
    sqlite3_bind_int64(ins, 1, k);
    sqlite3_bind_int64(ins, 2, (sqlite3_int64)(rnd(&s) % 1000));
    sqlite3_bind_text(ins, 3, b, n, SQLITE_STATIC);
    sqlite3_bind_blob(ins, 4, v, VLEN, SQLITE_STATIC);
    for (;;) {
      int rc = w->immediate ? sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0)
                            : SQLITE_OK;
      if (rc == SQLITE_OK) rc = step_reset(ins) == SQLITE_DONE ? SQLITE_OK
                                                               : sqlite3_errcode(db);
      if (rc == SQLITE_OK && w->immediate)
        rc = sqlite3_exec(db, "COMMIT", 0, 0, 0);
      if (rc == SQLITE_OK) break;
      if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
      if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
        die("W9 INSERT: %s", sqlite3_errmsg(db));
    }
    w->rows++;
  }
  sqlite3_finalize(ins);
}

static void *w9_main(void *arg) {
  w9_worker *w = arg;
  sqlite3 *db = db_open(w->kind, w->sync);
  w9_insert_rows(db, w);
  sqlite3_close(db);
  return NULL;
}

static double w9_run(int kind, int sync, int nthreads, bool immediate) {
  sqlite3 *db = db_open(kind, sync);
  exec(db, kind == MVCC
               ? "CREATE VIRTUAL TABLE temp.kv9 USING mvcc(k INTEGER PRIMARY "
                 "KEY, a INTEGER, b TEXT, v BLOB);"
                 "SELECT mvcc_create_index('kv9_a', 'kv9', 'a');"
                 "SELECT mvcc_create_index('kv9_b', 'kv9', 'b')"
               : "CREATE TABLE kv9(k INTEGER PRIMARY KEY, a INTEGER, b TEXT, v "
                 "BLOB); CREATE INDEX kv9_a ON kv9(a); CREATE INDEX kv9_b ON "
                 "kv9(b)");
  w9_worker w[MAXTHREADS];
  pthread_barrier_init(&w9_gate, NULL, (unsigned)nthreads + 1);
  for (int i = 0; i < nthreads; i++) {
    w[i] = (w9_worker){kind, sync, i, immediate, 0, 0};
    pthread_create(&w[i].th, NULL, w9_main, &w[i]);
  }
  pthread_barrier_wait(&w9_gate);
  double t0 = now_s();
  long rows = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(w[i].th, NULL);
    rows += w[i].rows;
  }
  double t = now_s() - t0;
  pthread_barrier_destroy(&w9_gate);
  if (query_int(db, "SELECT count(*) FROM kv9") != rows)
    die("W9: rows missing");
  if (kind == MVCC && query_int(db, "SELECT mvcc_check('kv9') = 'ok'") != 1)
    die("W9: an index differs from its table");
  exec(db, kind == MVCC ? "DROP TABLE temp.kv9" : "DROP TABLE kv9");
  sqlite3_close(db);
  return (double)rows / t;
}

/* W4: 100-row range scans; checks the keys come in order, all 100. */
static double w4_sql(sqlite3 *db) {
  sqlite3_stmt *st =
      prep(db, "SELECT k, v FROM kv WHERE k BETWEEN ? AND ? ORDER BY k");
  uint64_t s = 4;
  long n = 0;
  double t0 = now_s(), t;
  do {
    for (int j = 0; j < 8; j++, n++) {
      long lo = (long)(rnd(&s) % (W2_ROWS - 99)), rows = 0;
      sqlite3_bind_int64(st, 1, lo);
      sqlite3_bind_int64(st, 2, lo + 99);
      int rc;
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int64(st, 0) != lo + rows)
          die("scan from %ld: key %lld at row %ld", lo,
              (long long)sqlite3_column_int64(st, 0), rows);
        if (sqlite3_column_bytes(st, 1) != VLEN) die("scan: short value");
        rows++;
      }
      if (rc != SQLITE_DONE) die("scan: %s", sqlite3_errmsg(db));
      if (rows != 100) die("scan from %ld: %ld rows, not 100", lo, rows);
      sqlite3_reset(st);
    }
  } while ((t = now_s() - t0) < secs);
  sqlite3_finalize(st);
  return (double)n / t;
}

/* W4: full scans; rows/s.  Every row is counted and its value read. */
static double w4_full_sql(sqlite3 *db, long expect) {
  sqlite3_stmt *st = prep(db, "SELECT count(*), sum(length(v)) FROM kv");
  long n = 0;
  double t0 = now_s(), t;
  do {
    if (sqlite3_step(st) != SQLITE_ROW) die("full scan: %s", sqlite3_errmsg(db));
    sqlite3_int64 rows = sqlite3_column_int64(st, 0);
    if (rows != expect || sqlite3_column_int64(st, 1) != rows * VLEN)
      die("full scan: %lld rows, %lld bytes; %ld rows expected",
          (long long)rows, (long long)sqlite3_column_int64(st, 1), expect);
    sqlite3_reset(st);
    n += rows;
  } while ((t = now_s() - t0) < secs);
  sqlite3_finalize(st);
  return (double)n / t;
}

/* The sum of the counters of keys lo..hi; checks they all exist. */
static int64_t counters_sql(sqlite3 *db, long lo, long hi) {
  sqlite3_stmt *st = prep(db, "SELECT v FROM kv WHERE k BETWEEN ? AND ?");
  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  int64_t sum = 0;
  long rows = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    sum += value_counter(sqlite3_column_blob(st, 0),
                         (size_t)sqlite3_column_bytes(st, 0));
    rows++;
  }
  if (sqlite3_finalize(st) != SQLITE_OK) die("counters: %s", sqlite3_errmsg(db));
  if (rows != hi - lo + 1) die("counters: %ld rows of %ld", rows, hi - lo + 1);
  return sum;
}

/* ---------------------------------------------------------- RocksDB -- */

typedef struct rdb {
  rocksdb_t *db;               /* raw RocksDB, or */
  rocksdb_transactiondb_t *tdb; /* TransactionDB */
  rocksdb_options_t *o;
  rocksdb_transactiondb_options_t *to;
  rocksdb_writeoptions_t *wo; /* sync per durability level */
  rocksdb_readoptions_t *ro;
} rdb;

static void key8(char *k, long i) {
  for (int j = 7; j >= 0; j--, i >>= 8) k[j] = (char)(i & 0xff);
}

static long key8_decode(const char *k, size_t n) {
  long i = 0;
  if (n != 8) die("a RocksDB key of %zu bytes", n);
  for (int j = 0; j < 8; j++) i = (i << 8) | (unsigned char)k[j];
  return i;
}

static void rdie(const char *what, char *err) { die("%s: %s", what, err); }

static void rdb_open(rdb *r, int kind, int sync) {
  char dir[500];
  dir_of(dir, sizeof dir, kind, sync);
  memset(r, 0, sizeof *r);
  r->o = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(r->o, 1);
  char *err = NULL;
  if (kind == TXNDB) {
    r->to = rocksdb_transactiondb_options_create();
    r->tdb = rocksdb_transactiondb_open(r->o, r->to, dir, &err);
  } else {
    r->db = rocksdb_open(r->o, dir, &err);
  }
  if (err) rdie("open", err);
  r->wo = rocksdb_writeoptions_create();
  rocksdb_writeoptions_set_sync(r->wo, sync == FULL);
  r->ro = rocksdb_readoptions_create();
}

static void rdb_close(rdb *r) {
  rocksdb_writeoptions_destroy(r->wo);
  rocksdb_readoptions_destroy(r->ro);
  if (r->tdb) rocksdb_transactiondb_close(r->tdb);
  if (r->db) rocksdb_close(r->db);
  if (r->to) rocksdb_transactiondb_options_destroy(r->to);
  rocksdb_options_destroy(r->o);
}

static rocksdb_iterator_t *rdb_iter(rdb *r) {
  return r->tdb ? rocksdb_transactiondb_create_iterator(r->tdb, r->ro)
                : rocksdb_create_iterator(r->db, r->ro);
}

/* Rows with keys >= lo, and the sum of their counters when keys < hi. */
static long rdb_count(rdb *r, long lo, long hi, int64_t *sum) {
  char k[8];
  key8(k, lo);
  long rows = 0;
  int64_t total = 0;
  rocksdb_iterator_t *it = rdb_iter(r);
  for (rocksdb_iter_seek(it, k, 8); rocksdb_iter_valid(it);
       rocksdb_iter_next(it)) {
    size_t kn, vn;
    const char *key = rocksdb_iter_key(it, &kn);
    if (key8_decode(key, kn) >= hi) break;
    const char *v = rocksdb_iter_value(it, &vn);
    total += value_counter(v, vn);
    rows++;
  }
  rocksdb_iter_destroy(it);
  if (sum) *sum = total;
  return rows;
}

/* W1: one Put per key (TransactionDB: a transaction that checks the key is
** new, as INSERT does, then writes it). */
static double w1_rdb(rdb *r, long *rows) {
  rocksdb_transaction_options_t *txo = rocksdb_transaction_options_create();
  unsigned char v[VLEN];
  uint64_t s = 1;
  long n = 0;
  double t0 = now_s(), t;
  do {
    for (int j = 0; j < 8; j++, n++) {
      char k[8], *err = NULL;
      key8(k, W1_KEY0 + n);
      value_make(v, 0, &s);
      if (r->db) {
        rocksdb_put(r->db, r->wo, k, 8, (const char *)v, VLEN, &err);
        if (err) rdie("put", err);
        continue;
      }
      rocksdb_transaction_t *x =
          rocksdb_transaction_begin(r->tdb, r->wo, txo, NULL);
      size_t vn;
      char *old = rocksdb_transaction_get_for_update(x, r->ro, k, 8, &vn, 1, &err);
      if (err) rdie("get_for_update", err);
      if (old) die("key %ld exists", W1_KEY0 + n);
      rocksdb_transaction_put(x, k, 8, (const char *)v, VLEN, &err);
      if (!err) rocksdb_transaction_commit(x, &err);
      if (err) rdie("commit", err);
      rocksdb_transaction_destroy(x);
    }
  } while ((t = now_s() - t0) < secs);
  rocksdb_transaction_options_destroy(txo);
  long got = rdb_count(r, W1_KEY0, W1_KEY0 + n + 1, NULL);
  if (got != n) die("%ld keys written, %ld found", n, got);
  *rows = n;
  return (double)n / t;
}

/* W2, in the child: W2_ROWS keys in one write batch (TransactionDB: in one
** transaction).  Returns the seconds it took. */
static double w2_rdb(int kind, int sync) {
  rdb r;
  rdb_open(&r, kind, sync);
  unsigned char v[VLEN];
  uint64_t s = 2;
  char k[8], *err = NULL;
  double t0 = now_s();
  if (kind == ROCKS) {
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    for (long i = 0; i < W2_ROWS; i++) {
      key8(k, i);
      value_make(v, 0, &s);
      rocksdb_writebatch_put(b, k, 8, (const char *)v, VLEN);
    }
    rocksdb_write(r.db, r.wo, b, &err);
    rocksdb_writebatch_destroy(b);
  } else {
    rocksdb_transaction_options_t *txo = rocksdb_transaction_options_create();
    rocksdb_transaction_t *x = rocksdb_transaction_begin(r.tdb, r.wo, txo, NULL);
    for (long i = 0; i < W2_ROWS && !err; i++) {
      key8(k, i);
      value_make(v, 0, &s);
      rocksdb_transaction_put(x, k, 8, (const char *)v, VLEN, &err);
    }
    if (!err) rocksdb_transaction_commit(x, &err);
    rocksdb_transaction_destroy(x);
    rocksdb_transaction_options_destroy(txo);
  }
  if (err) rdie("load", err);
  double t = now_s() - t0;
  long n = rdb_count(&r, 0, W2_ROWS, NULL);
  if (n != W2_ROWS) die("%ld keys after the load", n);
  rdb_close(&r);
  return t;
}

static double w3_rdb(rdb *r) {
  uint64_t s = 3;
  long n = 0;
  double t0 = now_s(), t;
  do {
    for (int j = 0; j < 32; j++, n++) {
      char k[8], *err = NULL;
      long i = (long)(rnd(&s) % W2_ROWS);
      key8(k, i);
      size_t vn;
      char *v = rocksdb_get(r->db, r->ro, k, 8, &vn, &err);
      if (err) rdie("get", err);
      if (!v) die("key %ld not found", i);
      if (value_counter(v, vn) != 0) die("key %ld: wrong value", i);
      free(v);
    }
  } while ((t = now_s() - t0) < secs);
  return (double)n / t;
}

static double w4_rdb(rdb *r) {
  uint64_t s = 4;
  long n = 0;
  double t0 = now_s(), t;
  do {
    for (int j = 0; j < 8; j++, n++) {
      long lo = (long)(rnd(&s) % (W2_ROWS - 99)), rows = 0;
      char k[8];
      key8(k, lo);
      rocksdb_iterator_t *it = rocksdb_create_iterator(r->db, r->ro);
      for (rocksdb_iter_seek(it, k, 8); rocksdb_iter_valid(it) && rows < 100;
           rocksdb_iter_next(it), rows++) {
        size_t kn, vn;
        const char *key = rocksdb_iter_key(it, &kn);
        if (key8_decode(key, kn) != lo + rows)
          die("scan from %ld: wrong key at row %ld", lo, rows);
        rocksdb_iter_value(it, &vn);
        if (vn != VLEN) die("scan: short value");
      }
      rocksdb_iter_destroy(it);
      if (rows != 100) die("scan from %ld: %ld rows", lo, rows);
    }
  } while ((t = now_s() - t0) < secs);
  return (double)n / t;
}

static double w4_full_rdb(rdb *r, long expect) {
  long n = 0;
  double t0 = now_s(), t;
  do {
    long rows = rdb_count(r, 0, W1_KEY0 * 2, NULL);
    if (rows != expect) die("full scan: %ld rows of %ld", rows, expect);
    n += rows;
  } while ((t = now_s() - t0) < secs);
  return (double)n / t;
}

/* -------------------------------------------- read-modify-write W5-W7 -- */

enum { V_MVCC, V_BEGIN, V_IMMEDIATE, V_TXNDB, NVARIANT };

typedef struct worker {
  int variant, sync, id;
  rdb *r;          /* V_TXNDB */
  long lo, span;   /* its keys: lo .. lo+span-1 */
  long commits, aborts;
  double cpu;      /* the thread's own CPU time in the timed phase, s */
  bool rocks_perf; /* time RocksDB's write stages (its perf context) */
  double memtable_ns, wal_ns; /* ... the thread's totals */
} worker;

/* Workers start together at gate and stop together at gate_end, before they
** close their connections: the timed phase, its process CPU and its profile
** (BENCH_PERF_CTL) lie between the two. */
static pthread_barrier_t gate, gate_end;

/* W5-W7 phases run twice as long as the others: a commit's CPU is their
** main figure, and RocksDB's flushes and compactions (in the process's CPU
** time) land in whichever phase they fall in. */
#define RMW_SECS (2 * secs)

/* This thread's CPU time, s. */
static double thread_cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Two different random keys of the worker's range. */
static void pick2(const worker *w, uint64_t *s, long *k) {
  k[0] = w->lo + (long)(rnd(s) % (uint64_t)w->span);
  do k[1] = w->lo + (long)(rnd(s) % (uint64_t)w->span);
  while (k[1] == k[0]);
}

typedef struct rmw_stmts {
  sqlite3_stmt *begin, *sel, *upd, *commit, *rollback;
} rmw_stmts;

/* Dies unless rc says "run the transaction again" (BUSY or LOCKED). */
static void check_busy(sqlite3 *db, int rc, const char *stmt, long key) {
  if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
    die("%s (key %ld): error %d: %s", stmt, key, rc, sqlite3_errmsg(db));
}

/* One attempt of the transaction on keys k; true when it committed. */
static bool rmw_sql_once(sqlite3 *db, rmw_stmts *q, const long *k,
                         uint64_t *s) {
  unsigned char v[VLEN];
  int64_t n[2];
  int rc = step_reset(q->begin);
  if (rc != SQLITE_DONE) check_busy(db, rc, "BEGIN", -1);
  for (int i = 0; i < 2 && rc == SQLITE_DONE; i++) {
    sqlite3_bind_int64(q->sel, 1, k[i]);
    rc = sqlite3_step(q->sel);
    if (rc == SQLITE_ROW) {
      n[i] = value_counter(sqlite3_column_blob(q->sel, 0),
                           (size_t)sqlite3_column_bytes(q->sel, 0));
      rc = SQLITE_DONE;
    } else if (rc == SQLITE_DONE) {
      die("SELECT: key %ld not found", k[i]);
    } else {
      check_busy(db, rc, "SELECT", k[i]);
    }
    sqlite3_reset(q->sel);
  }
  for (int i = 0; i < 2 && rc == SQLITE_DONE; i++) {
    value_make(v, n[i] + 1, s);
    sqlite3_bind_blob(q->upd, 1, v, VLEN, SQLITE_STATIC);
    sqlite3_bind_int64(q->upd, 2, k[i]);
    rc = step_reset(q->upd);
    if (rc != SQLITE_DONE) check_busy(db, rc, "UPDATE", k[i]);
    else if (sqlite3_changes(db) != 1)
      die("UPDATE key %ld changed %d rows", k[i], sqlite3_changes(db));
  }
  if (rc == SQLITE_DONE) {
    rc = step_reset(q->commit);
    if (rc == SQLITE_DONE) return true;
    check_busy(db, rc, "COMMIT", -1);
  }
  if (!sqlite3_get_autocommit(db) && step_reset(q->rollback) != SQLITE_DONE)
    die("ROLLBACK: %s", sqlite3_errmsg(db));
  return false;
}

static void *rmw_sql_main(void *arg) {
  worker *w = arg;
  sqlite3 *db = db_open(w->variant == V_MVCC ? MVCC : NATIVE, w->sync);
  rmw_stmts q = {
      prep(db, w->variant == V_IMMEDIATE ? "BEGIN IMMEDIATE" : "BEGIN"),
      prep(db, "SELECT v FROM kv WHERE k = ?"),
      prep(db, "UPDATE kv SET v = ? WHERE k = ?"), prep(db, "COMMIT"),
      prep(db, "ROLLBACK")};
  uint64_t s = 100 + (uint64_t)w->id;
  /* RocksDB's perf context belongs to the thread that calls RocksDB: this
  ** one, through SQLite, the extension and kvcore. */
  rocksdb_perfcontext_t *pc = NULL;
  if (w->rocks_perf) {
    rocksdb_set_perf_level(rocksdb_enable_time_except_for_mutex);
    pc = rocksdb_perfcontext_create();
  }
  pthread_barrier_wait(&gate);
  if (pc) rocksdb_perfcontext_reset(pc);
  double c0 = thread_cpu_s(), stop = now_s() + RMW_SECS;
  while (now_s() < stop) {
    long k[2];
    pick2(w, &s, k);
    while (!rmw_sql_once(db, &q, k, &s)) w->aborts++;
    w->commits++;
  }
  if (pc) {
    /* With unordered writes RocksDB times the writer's own memtable
    ** insert as part of its pre- and post-processing, not as
    ** write_memtable_time (0 here). */
    w->memtable_ns = (double)rocksdb_perfcontext_metric(
        pc, rocksdb_write_pre_and_post_process_time);
    w->wal_ns = (double)rocksdb_perfcontext_metric(pc, rocksdb_write_wal_time);
    rocksdb_perfcontext_destroy(pc);
    rocksdb_set_perf_level(rocksdb_enable_count); /* RocksDB's default */
  }
  w->cpu = thread_cpu_s() - c0;
  pthread_barrier_wait(&gate_end);
  sqlite3_finalize(q.begin);
  sqlite3_finalize(q.sel);
  sqlite3_finalize(q.upd);
  sqlite3_finalize(q.commit);
  sqlite3_finalize(q.rollback);
  sqlite3_close(db);
  return NULL;
}

/* The same through TransactionDB: GetForUpdate both keys, Put both. */
static bool rmw_tdb_once(rdb *r, rocksdb_transaction_options_t *txo,
                         const long *k, uint64_t *s) {
  rocksdb_transaction_t *x = rocksdb_transaction_begin(r->tdb, r->wo, txo, NULL);
  char kk[2][8], *err = NULL;
  unsigned char v[VLEN];
  int64_t n[2];
  for (int i = 0; i < 2 && !err; i++) {
    key8(kk[i], k[i]);
    size_t vn;
    char *old = rocksdb_transaction_get_for_update(x, r->ro, kk[i], 8, &vn, 1, &err);
    if (!err && !old) die("key %ld not found", k[i]);
    if (!err) n[i] = value_counter(old, vn);
    free(old);
  }
  for (int i = 0; i < 2 && !err; i++) {
    value_make(v, n[i] + 1, s);
    rocksdb_transaction_put(x, kk[i], 8, (const char *)v, VLEN, &err);
  }
  if (!err) rocksdb_transaction_commit(x, &err);
  bool ok = err == NULL;
  if (!ok) {
    /* Busy (deadlocks too) and TimedOut (a lock wait) are aborts. */
    if (!strcasestr(err, "busy") && !strcasestr(err, "timed out") &&
        !strcasestr(err, "deadlock"))
      rdie("transaction", err);
    free(err);
    err = NULL;
    rocksdb_transaction_rollback(x, &err);
    if (err) rdie("rollback", err);
  }
  rocksdb_transaction_destroy(x);
  return ok;
}

static void *rmw_tdb_main(void *arg) {
  worker *w = arg;
  rocksdb_transaction_options_t *txo = rocksdb_transaction_options_create();
  rocksdb_transaction_options_set_deadlock_detect(txo, 1);
  uint64_t s = 100 + (uint64_t)w->id;
  pthread_barrier_wait(&gate);
  double c0 = thread_cpu_s(), stop = now_s() + RMW_SECS;
  while (now_s() < stop) {
    long k[2];
    pick2(w, &s, k);
    while (!rmw_tdb_once(w->r, txo, k, &s)) w->aborts++;
    w->commits++;
  }
  w->cpu = thread_cpu_s() - c0;
  pthread_barrier_wait(&gate_end);
  rocksdb_transaction_options_destroy(txo);
  return NULL;
}

static int64_t counters(int variant, sqlite3 *db, rdb *r, long lo, long hi) {
  if (variant != V_TXNDB) return counters_sql(db, lo, hi);
  int64_t sum;
  if (rdb_count(r, lo, hi + 1, &sum) != hi - lo + 1) die("counters: rows missing");
  return sum;
}

/* The mvcc counters (mvcc_stats), to print the ones a run moved
** (BENCH_STATS) and to take its serial time per commit. */
typedef struct counters_snap {
  int n;
  char name[64][48];
  sqlite3_int64 v[64];
} counters_snap;

static void stats_read(sqlite3 *db, counters_snap *c) {
  sqlite3_stmt *st = prep(db, "SELECT name, value FROM mvcc_stats");
  c->n = 0;
  while (sqlite3_step(st) == SQLITE_ROW && c->n < 64) {
    snprintf(c->name[c->n], sizeof c->name[0], "%s", sqlite3_column_text(st, 0));
    c->v[c->n++] = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
}

static void stats_print(const counters_snap *a, const counters_snap *b) {
  for (int i = 0; i < a->n && i < b->n; i++)
    if (b->v[i] != a->v[i])
      fprintf(stderr, "      %-32s %+lld\n", b->name[i],
              (long long)(b->v[i] - a->v[i]));
}

/* How much counter `name` grew from a to b (0 when absent). */
static double stats_delta(const counters_snap *a, const counters_snap *b,
                          const char *name) {
  for (int i = 0; i < a->n && i < b->n; i++)
    if (!strcmp(b->name[i], name)) return (double)(b->v[i] - a->v[i]);
  return 0;
}

/* The serial sections kvcore times (mvcc_stats serial_*_ns): RocksDB's
** write (its write group), the group fsync, and the store-wide mutexes. */
enum { SER_WRITE, SER_SYNC, SER_MUTEX, NSERIAL };
static const char *const serial_stat[NSERIAL] = {
    "serial_write_ns", "serial_sync_ns", "serial_mutex_ns"};

typedef struct rmw_result {
  double rate;            /* commits/s */
  double abort;           /* aborts per commit */
  double cpu;             /* process CPU per commit, µs */
  double wcpu;            /* the workers' own CPU per commit, µs: without
                          ** RocksDB's background threads and kvcore's GC */
  double csw;             /* the process's voluntary context switches (a
                          ** thread blocked) per commit */
  double serial[NSERIAL]; /* mvcc: ns per commit in each serial section */
  double memtable, wal;   /* rocks_perf: ns per commit in RocksDB's
                          ** memtable insert (with its pre- and post-
                          ** processing) and WAL write */
} rmw_result;

#define RMW_NONE ((rmw_result){-1, -1, -1, -1, -1, {-1, -1, -1}, -1, -1})

static double vcsw(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_nvcsw;
}

static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* BENCH_PERF_CTL and BENCH_PERF_ACK name the control and acknowledgement
** FIFOs of a `perf record -D -1 --control fifo:CTL,ACK` that runs this
** program (bench/profile.sh): each timed phase of W5-W7 enables its events
** and disables them at its end, so the profile holds those phases only. */
static void perf_ctl(const char *cmd) {
  static int ctl = -2, ack = -1;
  if (ctl == -2) {
    const char *c = getenv("BENCH_PERF_CTL"), *a = getenv("BENCH_PERF_ACK");
    ctl = c && a ? open(c, O_WRONLY) : -1;
    ack = ctl >= 0 ? open(a, O_RDONLY) : -1;
    if (c && a && (ctl < 0 || ack < 0)) die("cannot open %s and %s", c, a);
  }
  if (ctl < 0) return;
  char buf[16];
  if (write(ctl, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) ||
      read(ack, buf, sizeof buf) <= 0)
    die("perf does not answer on %s", getenv("BENCH_PERF_CTL"));
}

/* nthreads workers of one variant, on disjoint ranges or the HOT keys.  db
** is a connection to check the counters with (V_TXNDB: r).  rocks_perf
** (mvcc): the workers time RocksDB's write stages, and the serial write
** time leaves out their own memtable inserts, which unordered writes run
** in parallel (engine.c); the timers slow the run a little. */
static rmw_result rmw_run(int variant, int sync, int nthreads, bool hot,
                          sqlite3 *db, rdb *r, bool rocks_perf) {
  worker w[MAXTHREADS];
  pthread_t th[MAXTHREADS];
  long span = hot ? HOT : W2_ROWS / nthreads;
  long hi = hot ? HOT - 1 : W2_ROWS - 1;
  int64_t before = counters(variant, db, r, 0, hi);
  static counters_snap s0, s1;
  if (variant == V_MVCC) stats_read(db, &s0);
  pthread_barrier_init(&gate, NULL, (unsigned)nthreads + 1);
  pthread_barrier_init(&gate_end, NULL, (unsigned)nthreads + 1);
  for (int i = 0; i < nthreads; i++) {
    w[i] = (worker){.variant = variant, .sync = sync, .id = i, .r = r,
                    .lo = hot ? 0 : span * i, .span = span,
                    .rocks_perf = rocks_perf};
    if (pthread_create(&th[i], NULL,
                       variant == V_TXNDB ? rmw_tdb_main : rmw_sql_main, &w[i]))
      die("pthread_create");
  }
  pthread_barrier_wait(&gate);
  double t0 = now_s(), c0 = cpu_s(), v0 = vcsw();
  perf_ctl("enable\n");
  pthread_barrier_wait(&gate_end);
  double t = now_s() - t0, cpu = cpu_s() - c0, csw = vcsw() - v0;
  perf_ctl("disable\n");
  long commits = 0, aborts = 0;
  double memtable = 0, wal = 0, wcpu = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(th[i], NULL);
    commits += w[i].commits;
    aborts += w[i].aborts;
    wcpu += w[i].cpu;
    memtable += w[i].memtable_ns;
    wal += w[i].wal_ns;
  }
  pthread_barrier_destroy(&gate);
  pthread_barrier_destroy(&gate_end);
  rmw_result res = RMW_NONE;
  res.rate = (double)commits / t;
  res.abort = commits ? (double)aborts / (double)commits : 0;
  res.cpu = commits ? cpu * 1e6 / (double)commits : -1;
  res.wcpu = commits ? wcpu * 1e6 / (double)commits : -1;
  res.csw = commits ? csw / (double)commits : -1;
  if (variant == V_MVCC) {
    stats_read(db, &s1);
    if (getenv("BENCH_STATS")) stats_print(&s0, &s1);
    for (int i = 0; i < NSERIAL && commits; i++)
      res.serial[i] = stats_delta(&s0, &s1, serial_stat[i]) / (double)commits;
    if (rocks_perf && commits) {
      res.memtable = memtable / (double)commits;
      res.wal = wal / (double)commits;
      res.serial[SER_WRITE] -= res.memtable;
    }
  }
  int64_t grew = counters(variant, db, r, 0, hi) - before;
  if (grew != 2 * (int64_t)commits)
    die("lost updates: the counters grew by %lld for %ld commits (expected %ld)",
        (long long)grew, commits, 2 * commits);
  return res;
}

/* ------------------------------------------------------------ report -- */

static FILE *md;

static void out(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  if (md) {
    va_start(ap, fmt);
    vfprintf(md, fmt, ap);
    va_end(ap);
  }
}

static void progress(const char *what, double v) {
  fprintf(stderr, "  %-40s %12.0f\n", what, v);
}

/* A figure, or "-" when not measured (< 0). */
static const char *fig(char *buf, double v) {
  if (v < 0) return "-";
  snprintf(buf, 32, "%.0f", v);
  return buf;
}

static const char *ratio(char *buf, double a, double b) {
  if (a < 0 || b <= 0) return "-";
  snprintf(buf, 32, "%.2f", a / b);
  return buf;
}

static void row(const char *name, const double *v) {
  char b[5][32];
  out("| %-42s | %10s | %10s | %10s | %10s | %11s |\n", name, fig(b[0], v[0]),
      fig(b[1], v[1]), fig(b[2], v[2]), fig(b[3], v[3]),
      ratio(b[4], v[0], v[1]));
}

typedef struct target {
  char what[96];
  const char *op; /* ">=", "<=" or "<": how got must compare with want */
  double got, want;
} target;
static target targets[40];
static int ntargets;

static void target_add(double got, const char *op, double want,
                       const char *fmt, ...) {
  if (got < 0 || ntargets == 40) return; /* not measured */
  target *t = &targets[ntargets++];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->what, sizeof t->what, fmt, ap);
  va_end(ap);
  t->op = op;
  t->got = got;
  t->want = want;
}

static double ratio_of(double a, double b) { return a < 0 || b <= 0 ? -1 : a / b; }

/* ------------------------------------------------------------- levels -- */

typedef struct level {
  double w1[NKIND], w2[NKIND], w3[NKIND], w4[NKIND], w4f[NKIND];
  double w8[NKIND], w8cold[NKIND], w8load[NKIND], w8build[NKIND],
      w8mib[NKIND];
  double w9[NKIND], w9t8[NKIND];
  double rss[NKIND], disk[NKIND]; /* MiB */
  /* W5-W7 by threads (1, 2, 4, 8): w6[1] is W5, w7[n] W7 on the hot keys */
  rmw_result w6[MAXTHREADS + 1][NVARIANT], w7[MAXTHREADS + 1][NVARIANT];
  rmw_result serial; /* W5 mvcc again, timing RocksDB's write stages */
} level;

/* The W2 child for kind: seconds, peak RSS (MiB); disk after it (MiB). */
static void w2_run(const char *self, int kind, int sync, level *L) {
  char cmd[1200], dir[500];
  set_phase("W2 %s %s", kind_name[kind], sync_name[sync]);
  snprintf(cmd, sizeof cmd, "'%s' --w2 %d %d '%s'", self, kind, sync, base);
  FILE *p = popen(cmd, "r");
  double t;
  long kb;
  if (!p || fscanf(p, "%lf %ld", &t, &kb) != 2) die("the child failed");
  if (pclose(p) != 0) die("the child failed");
  dir_of(dir, sizeof dir, kind, sync);
  L->w2[kind] = (double)W2_ROWS / t;
  L->rss[kind] = kb / 1024.0;
  L->disk[kind] = (double)dir_bytes(dir) / (1 << 20);
  progress(phase, L->w2[kind]);
}

static void rmw_all(int sync, int n, bool hot, rmw_result *res,
                    sqlite3 **conn, rdb *t) {
  for (int v = 0; v < NVARIANT; v++) {
    res[v] = RMW_NONE;
    if (!selected(NULL, v == V_MVCC ? MVCC : v == V_TXNDB ? TXNDB : NATIVE))
      continue;
    set_phase("W%d %s %d threads %s %s", hot ? 7 : n == 1 ? 5 : 6,
              v == V_MVCC ? "mvcc" : v == V_BEGIN ? "native BEGIN"
              : v == V_IMMEDIATE ? "native IMMEDIATE" : "txndb",
              n, hot ? "hot" : "disjoint", sync_name[sync]);
    res[v] = rmw_run(v, sync, n, hot, conn[v], t, false);
    fprintf(stderr, "  %-40s %12.0f  aborts/commit %.3f  CPU/commit %.1f us  "
            "switches/commit %.2f  workers' CPU/commit %.1f us\n",
            phase, res[v].rate, res[v].abort, res[v].cpu, res[v].csw,
            res[v].wcpu);
  }
}

static double best_native(const rmw_result *r) {
  return r[V_BEGIN].rate > r[V_IMMEDIATE].rate ? r[V_BEGIN].rate
                                                : r[V_IMMEDIATE].rate;
}

/* Every figure "not measured" (-1). */
static void level_clear(level *L) {
  for (int k = 0; k < NKIND; k++)
    L->w1[k] = L->w2[k] = L->w3[k] = L->w4[k] = L->w4f[k] = L->rss[k] =
        L->disk[k] = L->w8[k] = L->w8cold[k] = L->w8load[k] =
            L->w8build[k] = L->w8mib[k] = L->w9[k] = L->w9t8[k] = -1;
  for (int v = 0; v < NVARIANT; v++)
    for (int n = 0; n <= MAXTHREADS; n++) L->w6[n][v] = L->w7[n][v] = RMW_NONE;
  L->serial = RMW_NONE;
}

static void run_level(const char *self, int sync, level *L) {
  fprintf(stderr, "synchronous=%s\n", sync_name[sync]);
  for (int k = 0; k < NKIND; k++)
    if (selected(NULL, k)) w2_run(self, k, sync, L);
  set_phase("open %s", sync_name[sync]);
  sqlite3 *conn[2] = {selected(NULL, MVCC) ? db_open(MVCC, sync) : NULL,
                      selected(NULL, NATIVE) ? db_open(NATIVE, sync) : NULL};
  rdb r[NKIND];
  rdb_open(&r[ROCKS], ROCKS, sync);
  rdb_open(&r[TXNDB], TXNDB, sync);
  long w1rows[NKIND] = {0, 0, 0, 0};
  for (int k = 0; k < NKIND; k++) {
    set_phase("W1 %s %s", kind_name[k], sync_name[sync]);
    if (!selected("W1", k)) continue;
    L->w1[k] = k <= NATIVE ? w1_sql(conn[k], &w1rows[k]) : w1_rdb(&r[k], &w1rows[k]);
    progress(phase, L->w1[k]);
  }
  for (int k = 0; k <= ROCKS; k++) {
    set_phase("W3 %s %s", kind_name[k], sync_name[sync]);
    if (!selected("W3", k)) continue;
    L->w3[k] = k <= NATIVE ? w3_sql(conn[k]) : w3_rdb(&r[k]);
    progress(phase, L->w3[k]);
  }
  for (int k = 0; k <= ROCKS; k++) {
    if (!selected("W4", k)) continue;
    set_phase("W4 range %s %s", kind_name[k], sync_name[sync]);
    L->w4[k] = k <= NATIVE ? w4_sql(conn[k]) : w4_rdb(&r[k]);
    progress(phase, L->w4[k]);
    set_phase("W4 full %s %s", kind_name[k], sync_name[sync]);
    long expect = W2_ROWS + w1rows[k];
    L->w4f[k] = k <= NATIVE ? w4_full_sql(conn[k], expect) : w4_full_rdb(&r[k], expect);
    progress(phase, L->w4f[k]);
  }
  for (int k = 0; k <= NATIVE; k++) {
    if (!selected("W8", k)) continue;
    set_phase("W8 %s %s", kind_name[k], sync_name[sync]);
    L->w8[k] = w8_sql(conn[k], k, &L->w8load[k], &L->w8cold[k],
                      &L->w8build[k], &L->w8mib[k]);
    progress(phase, L->w8[k]);
  }
  for (int k = 0; k <= NATIVE; k++) {
    if (!selected("W9", k)) continue;
    set_phase("W9 %s %s", kind_name[k], sync_name[sync]);
    L->w9[k] = w9_run(k, sync, 1, false);
    progress(phase, L->w9[k]);
    set_phase("W9 8 threads %s %s", kind_name[k], sync_name[sync]);
    L->w9t8[k] = w9_run(k, sync, 8, false);
    if (k == NATIVE) {
      double imm = w9_run(k, sync, 8, true);
      if (imm > L->w9t8[k]) L->w9t8[k] = imm;
    }
    progress(phase, L->w9t8[k]);
  }
  sqlite3 *vconn[NVARIANT] = {conn[MVCC], conn[NATIVE], conn[NATIVE], NULL};
  for (int n = 1; n <= MAXTHREADS; n *= 2)
    if (threads_selected(n) && selected(n == 1 ? "W5" : "W6", -1))
      rmw_all(sync, n, false, L->w6[n], vconn, &r[TXNDB]);
  for (int n = 1; n <= MAXTHREADS; n *= 2)
    if (threads_selected(n) && selected("W7", -1))
      rmw_all(sync, n, true, L->w7[n], vconn, &r[TXNDB]);
  if (threads_selected(1) && selected("W5", MVCC)) {
    set_phase("W5 mvcc serial time %s", sync_name[sync]);
    L->serial = rmw_run(V_MVCC, sync, 1, false, conn[MVCC], NULL, true);
    fprintf(stderr, "  %-40s write group %.0f ns, memtable %.0f ns, WAL %.0f "
            "ns, mutexes %.0f ns per commit\n", phase,
            L->serial.serial[SER_WRITE], L->serial.memtable, L->serial.wal,
            L->serial.serial[SER_MUTEX]);
  }
  sqlite3_close(conn[MVCC]);
  sqlite3_close(conn[NATIVE]);
  rdb_close(&r[ROCKS]);
  rdb_close(&r[TXNDB]);
}

static void report_level(int sync, const level *L) {
  out("## synchronous=%s (SQLite %s, RocksDB sync=%s)\n\n", sync_name[sync],
      sync == FULL ? "FULL" : "NORMAL", sync == FULL ? "true" : "false");
  out("| %-42s | %10s | %10s | %10s | %10s | %11s |\n", "workload", "mvcc",
      "SQLite", "RocksDB", "TxnDB", "mvcc/SQLite");
  out("|--------------------------------------------|-----------:|-----------:"
      "|-----------:|-----------:|------------:|\n");
  row("W1 autocommit INSERT (rows/s)", L->w1);
  row("W2 200k-row INSERT transaction (rows/s)", L->w2);
  row("W3 point SELECT (rows/s)", L->w3);
  row("W4 100-row range scan (scans/s)", L->w4);
  row("W4 full scan (rows/s)", L->w4f);
  row("W8 load, a UNIQUE column (rows/s)", L->w8load);
  row("W8 SELECT by the UNIQUE column, cold (rows/s)", L->w8cold);
  row("W8 SELECT by the UNIQUE column (rows/s)", L->w8);
  row("W9 INSERT, 2 indexes (rows/s)", L->w9);
  row("W9 INSERT, 2 indexes, 8 threads (rows/s)", L->w9t8);
  double v[NKIND];
  const rmw_result *w5 = L->w6[1];
  v[0] = w5[V_MVCC].rate, v[1] = w5[V_BEGIN].rate, v[2] = -1, v[3] = w5[V_TXNDB].rate;
  row("W5 RMW, 1 thread (commits/s)", v);
  for (int n = 2; n <= MAXTHREADS; n *= 2) {
    const rmw_result *w = L->w6[n];
    char name[64];
    snprintf(name, sizeof name, "W6 RMW, %d threads, disjoint (commits/s)", n);
    v[0] = w[V_MVCC].rate, v[1] = best_native(w), v[2] = -1, v[3] = w[V_TXNDB].rate;
    row(name, v);
  }
  for (int n = 1; n <= MAXTHREADS; n *= 2) {
    const rmw_result *w = L->w7[n];
    char name[64];
    snprintf(name, sizeof name, "W7 RMW, %d thread%s, %d hot keys (commits/s)", n,
             n > 1 ? "s" : "", HOT);
    v[0] = w[V_MVCC].rate, v[1] = best_native(w), v[2] = -1, v[3] = w[V_TXNDB].rate;
    row(name, v);
  }
  out("\nW5 SQLite column: BEGIN; W6/W7: the better of BEGIN and BEGIN "
      "IMMEDIATE.  Read-modify-write in detail (commits/s, aborts per commit, "
      "CPU per commit in µs: the process's CPU time over the timed phase, all "
      "its threads, divided by the commits):\n\n");
  out("| %-26s | %24s | %24s | %24s | %24s |\n", "workload", "mvcc",
      "SQLite BEGIN", "SQLite IMMEDIATE", "TxnDB");
  out("|----------------------------|-------------------------:|-----------------"
      "--------:|-------------------------:|-------------------------:|\n");
  for (int hot = 0; hot <= 1; hot++)
    for (int n = 1; n <= MAXTHREADS; n *= 2) {
      const rmw_result *w = hot ? L->w7[n] : L->w6[n];
      char name[64], cell[NVARIANT][48];
      snprintf(name, sizeof name, "W%d %d thread%s%s", hot ? 7 : n == 1 ? 5 : 6,
               n, n > 1 ? "s" : "", hot ? ", hot keys" : "");
      for (int k = 0; k < NVARIANT; k++) {
        if (w[k].rate < 0) snprintf(cell[k], sizeof cell[k], "-");
        else snprintf(cell[k], sizeof cell[k], "%.0f / %.3f / %.1f", w[k].rate,
                      w[k].abort, w[k].cpu);
      }
      out("| %-26s | %24s | %24s | %24s | %24s |\n", name, cell[0], cell[1],
          cell[2], cell[3]);
    }
  const rmw_result *m1 = &L->w6[1][V_MVCC], *m2 = &L->w6[2][V_MVCC],
                   *m8 = &L->w6[8][V_MVCC];
  if (m1->cpu > 0 && m2->cpu > 0 && m8->cpu > 0)
    out("\nmvcc W6 (disjoint) CPU per commit: %.1f µs at 1 thread, %.1f at 2, "
        "%.1f at 8; 8 threads / 1 thread %.2fx.  The workers' own CPU (their "
        "threads only, without RocksDB's flushes and compactions): %.1f, "
        "%.1f, %.1f µs; %.2fx.  Commits/s at 8 threads / 2 threads: %.2f.\n",
        m1->cpu, m2->cpu, m8->cpu, m8->cpu / m1->cpu, m1->wcpu, m2->wcpu,
        m8->wcpu, m8->wcpu / m1->wcpu, m8->rate / m2->rate);
  const rmw_result *sr = &L->serial;
  if (sr->serial[SER_WRITE] >= 0) {
    double ser = sr->serial[SER_WRITE] + sr->serial[SER_MUTEX];
    out("\nmvcc serial time per commit at 1 thread (W5): RocksDB's write group "
        "%.2f µs (the rocksdb_write call, %.2f µs, less the writer's own "
        "memtable insert, %.2f µs; its WAL write %.2f µs), store-wide mutexes "
        "%.2f µs; total %.2f µs: a ceiling of %.0f commits/s on any number "
        "of cores",
        sr->serial[SER_WRITE] / 1e3,
        (sr->serial[SER_WRITE] + sr->memtable) / 1e3, sr->memtable / 1e3,
        sr->wal / 1e3, sr->serial[SER_MUTEX] / 1e3, ser / 1e3,
        ser > 0 ? 1e9 / ser : -1.0);
    if (sync == FULL)
      out(", plus the group fsync: %.1f µs per commit at 1 thread, %.1f at 8 "
          "threads (W6), where one fsync serves several commits",
          m1->serial[SER_SYNC] / 1e3, m8->serial[SER_SYNC] / 1e3);
    out(" (how: \"CPU and serial time per commit\" below).\n");
  }
  out("\nW2 peak RSS of the loading process (MiB): mvcc %.1f, SQLite %.1f, "
      "RocksDB %.1f, TxnDB %.1f.\n",
      L->rss[MVCC], L->rss[NATIVE], L->rss[ROCKS], L->rss[TXNDB]);
  out("W2 bytes on disk afterwards (MiB): mvcc %.1f, SQLite %.1f, RocksDB %.1f, "
      "TxnDB %.1f.\n",
      L->disk[MVCC], L->disk[NATIVE], L->disk[ROCKS], L->disk[TXNDB]);
  out("W8 index build over 200,000 rows (s): mvcc %.3f, SQLite %.3f (%.1fx); "
      "peak RSS rise (MiB): mvcc %.1f, SQLite %.1f.\n",
      L->w8build[MVCC], L->w8build[NATIVE],
      L->w8build[NATIVE] > 0 ? L->w8build[MVCC] / L->w8build[NATIVE] : -1.0,
      L->w8mib[MVCC], L->w8mib[NATIVE]);
  out("W9 8 threads, SQLite column: the better of autocommit and BEGIN "
      "IMMEDIATE.\n\n");
}

static void add_targets(int sync, const level *L) {
  const char *s = sync_name[sync];
  if (sync == NORMAL) {
    target_add(ratio_of(L->w6[2][V_MVCC].rate, best_native(L->w6[2])), ">=",
               2.0, "W6 2 threads, normal: >= 2x SQLite's better");
    target_add(ratio_of(L->w1[MVCC], L->w1[NATIVE]), ">=", 1.5,
               "W1 normal: >= 1.5x");
    target_add(ratio_of(L->w6[1][V_MVCC].rate, L->w6[1][V_BEGIN].rate), ">=",
               1.0, "W5 normal: >= 1.0x");
    target_add(ratio_of(L->w6[8][V_MVCC].cpu, L->w6[1][V_MVCC].cpu), "<=", 1.3,
               "W6 normal: CPU per commit at 8 threads <= 1.3x 1 thread (x)");
    target_add(ratio_of(L->w6[8][V_MVCC].wcpu, L->w6[1][V_MVCC].wcpu), "<=",
               1.3, "W6 normal: the same, the workers' own CPU (x)");
    target_add(ratio_of(L->w6[8][V_MVCC].rate, L->w6[2][V_MVCC].rate), ">=",
               1.0, "W6 normal: 8 threads >= 2 threads (x)");
    const rmw_result *sr = &L->serial;
    if (sr->serial[SER_WRITE] >= 0)
      target_add((sr->serial[SER_WRITE] + sr->serial[SER_MUTEX]) / 1e3, "<=",
                 2.0, "Serial time per commit, normal, 1 thread: <= 2 µs (µs)");
  } else {
    target_add(ratio_of(L->w6[8][V_MVCC].rate, best_native(L->w6[8])), ">=",
               3.0, "W6 8 threads, full: >= 3x SQLite's better");
    target_add(ratio_of(L->w1[MVCC], L->w1[NATIVE]), ">=", 0.9,
               "W1 full: >= 0.9x");
  }
  target_add(ratio_of(L->w3[MVCC], L->w3[NATIVE]), ">=", 0.6, "W3 %s: >= 0.6x", s);
  target_add(ratio_of(L->w4[MVCC], L->w4[NATIVE]), ">=", 0.6,
             "W4 range scan %s: >= 0.6x", s);
  target_add(ratio_of(L->w4f[MVCC], L->w4f[NATIVE]), ">=", 0.6,
             "W4 full scan %s: >= 0.6x", s);
  target_add(ratio_of(L->w2[MVCC], L->w2[NATIVE]), ">=", 0.5, "W2 %s: >= 0.5x", s);
  target_add(ratio_of(L->w8[MVCC], L->w8[NATIVE]), ">=", 0.6,
             "W8 SELECT by a UNIQUE column %s: >= 0.6x", s);
  target_add(L->rss[MVCC], "<=", 100, "W2 %s: peak RSS <= 100 MiB (MiB)", s);
  if (L->w8build[NATIVE] > 0 && L->w8build[MVCC] > 0)
    target_add(L->w8build[MVCC] / L->w8build[NATIVE], "<=", 3.0,
               "W8 index build %s: <= 3x native CREATE INDEX (x)", s);
  target_add(L->w8mib[MVCC], "<=", 100,
             "W8 index build %s: peak RSS rise < 100 MiB (MiB)", s);
  if (sync == NORMAL)
    target_add(ratio_of(L->w9[MVCC], L->w9[NATIVE]), ">=", 1.0,
               "W9 INSERT with 2 indexes, normal: >= 1.0x");
  else
    target_add(ratio_of(L->w9t8[MVCC], L->w9t8[NATIVE]), ">=", 2.0,
               "W9 8 threads, full: >= 2x SQLite's better");
  /* W7 from 8 threads: issue 14's hot-key targets (retries lock what they
  ** read); 2 threads keep the earlier ones. */
  for (int n = 2; n <= 8; n *= 4) {
    const rmw_result *w = L->w7[n];
    double want = n == 2 ? 0.5 : sync == NORMAL ? 0.25 : 1.0;
    target_add(w[V_MVCC].abort, "<", 0.5,
               "W7 %d threads %s: < 0.5 aborts per commit", n, s);
    target_add(ratio_of(w[V_MVCC].rate, best_native(w)), ">=", want,
               "W7 %d threads %s: >= %.2gx SQLite's better", n, s, want);
  }
}

static void report_header(int argc, char **argv) {
  char host[256] = "?", cpu[256] = "?", line[512], date[64];
  struct utsname u;
  gethostname(host, sizeof host);
  uname(&u);
  FILE *f = fopen("/proc/cpuinfo", "r");
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
      snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
      cpu[strcspn(cpu, "\n")] = 0;
      break;
    }
  if (f) fclose(f);
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  out("# sqlite-mvcc: benchmark results\n\n");
  out("- machine: %s, %ld cores (%s), %.1f GiB RAM, Linux %s; scratch "
      "directory on the root disk (%s)\n",
      host, sysconf(_SC_NPROCESSORS_ONLN), cpu,
      (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1 << 30),
      u.release, base);
  out("- date: %s\n", date);
  out("- command: `make bench`, which runs `%s%s%s%s` after bench_kv; "
      "BENCH_SECONDS=%g per timed phase (W5-W7: twice that)\n",
      argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "",
      argc > 2 ? " ..." : "", secs);
  char rver[64] = "?";
  FILE *p = popen("dpkg-query -W -f='${Version}' librocksdb-dev 2>/dev/null", "r");
  if (p && !fgets(rver, sizeof rver, p)) snprintf(rver, sizeof rver, "?");
  if (p) pclose(p);
  out("- SQLite %s (WAL), RocksDB %s (Debian), %d-byte incompressible values, "
      "integer keys (RocksDB: 8-byte big-endian); mvcc/SQLite is the ratio\n\n",
      sqlite3_libversion(), rver, VLEN);
}

static int report_targets(void) {
  int met = 0;
  out("## Targets (mvcc / native SQLite in this run)\n\n");
  out("| target | measured | |\n|---|---:|---|\n");
  for (int i = 0; i < ntargets; i++) {
    target *t = &targets[i];
    bool ok = !strcmp(t->op, ">=")   ? t->got >= t->want
              : !strcmp(t->op, "<=") ? t->got <= t->want
                                     : t->got < t->want;
    met += ok;
    out("| %s | %.2f | %s |\n", t->what, t->got, ok ? "met" : "**missed**");
  }
  out("\n%d of %d targets met.  Every self-check passed, 0 lost updates in "
      "W5-W7.\n",
      met, ntargets);
  return met;
}

/* How the CPU and serial figures are taken, once, after the levels. */
static void report_method(void) {
  out("## CPU and serial time per commit: how they are measured\n\n"
      "- CPU per commit: `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)` read when "
      "the workers pass their start barrier and again at their stop barrier "
      "(before they close their connections), divided by the commits in "
      "between.  It is the whole process: SQLite, the extension, kvcore, "
      "RocksDB with its background threads, and the kernel on their "
      "behalf.  Every system runs in this process.  The summary also gives "
      "the workers' own CPU (`CLOCK_THREAD_CPUTIME_ID` of each worker over "
      "the same phase): without RocksDB's flushes and compactions, which "
      "fall in whichever phase fills a memtable.\n"
      "- Serial time per commit: kvcore adds up the nanoseconds "
      "(`CLOCK_MONOTONIC`) spent in sections that one thread at a time can "
      "be in, and `mvcc_stats` shows them: `serial_write_ns`, the "
      "`rocksdb_write` call (a write group's leader writes the WAL for the "
      "whole group, one group at a time; then, with unordered writes, each "
      "writer inserts its own batch into the memtable, in parallel with the "
      "others); "
      "`serial_sync_ns`, the group fsync (one at a time); "
      "`serial_mutex_ns`, the hold times of the store-wide mutexes on the "
      "commit path (the clock's, and the engine's, which guards the group "
      "sync's bookkeeping and the pool of point iterators).  The report "
      "takes them from a second 1-thread run of W5 (mvcc only) whose thread "
      "also turns on RocksDB's perf context "
      "(`rocksdb_enable_time_except_for_mutex`): the write group is the "
      "`rocksdb_write` time less the thread's own memtable insert, which "
      "is not serial (with unordered writes RocksDB times it in "
      "`write_pre_and_post_process_time`; that timer also holds the "
      "group's bookkeeping, about 0.4 µs per commit when it was measured "
      "alone with the previous write options, so the write group figure "
      "leans low by up to that).  One thread, because "
      "with more a `rocksdb_write` call also waits for the group ahead of "
      "it, which is not serial work either.  These are wall times: on a "
      "machine shared with other busy processes they include the time the "
      "thread was preempted inside the section.  The ceiling is 1 / (write "
      "group + mutexes): the commits/s that no number of cores can pass at "
      "synchronous=normal.  At full, the fsync is also serial but is shared "
      "by every commit that waits for it.\n\n");
}

/* The figures bench/plot.gp draws, in dir (RESULTS.md's directory):
** results.dat, commits/s against threads for each system (gnuplot index
** 0-3: normal disjoint, normal hot, full disjoint, full hot), then CPU µs
** per commit of normal disjoint (index 4); reads.dat, the mvcc / native
** SQLite ratio of the other workloads at each level.  "-" is missing. */
static void write_plot_data(const char *dir, const level *L) {
  char path[1100];
  snprintf(path, sizeof path, "%s/results.dat", dir);
  FILE *f = fopen(path, "w");
  if (!f) die("cannot write %s", path);
  fprintf(f, "# bench_sql: commits/s by threads (index 0 normal disjoint, 1 "
             "normal hot, 2 full disjoint, 3 full hot), then CPU us per commit "
             "(index 4, normal disjoint)\n"
             "# threads mvcc sqlite_begin sqlite_immediate txndb\n");
  for (int blk = 0; blk < 5; blk++) {
    const level *l = &L[blk < 2 || blk == 4 ? NORMAL : FULL];
    for (int n = 1; n <= MAXTHREADS; n *= 2) {
      const rmw_result *w = blk % 2 && blk < 4 ? l->w7[n] : l->w6[n];
      fprintf(f, "%d", n);
      for (int v = 0; v < NVARIANT; v++) {
        double x = blk == 4 ? w[v].cpu : w[v].rate;
        if (x < 0) fprintf(f, " -");
        else fprintf(f, " %.1f", x);
      }
      fprintf(f, "\n");
    }
    fprintf(f, "\n\n");
  }
  fclose(f);
  snprintf(path, sizeof path, "%s/reads.dat", dir);
  if (!(f = fopen(path, "w"))) die("cannot write %s", path);
  fprintf(f, "# bench_sql: mvcc / native SQLite\n# workload normal full\n");
  static const struct { const char *name; size_t off; } w[] = {
      {"W1 INSERT", offsetof(level, w1)},
      {"W2 load", offsetof(level, w2)},
      {"W3 point SELECT", offsetof(level, w3)},
      {"W4 range scan", offsetof(level, w4)},
      {"W4 full scan", offsetof(level, w4f)},
      {"W8 load", offsetof(level, w8load)},
      {"W8 UNIQUE lookup", offsetof(level, w8)},
  };
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
    fprintf(f, "\"%s\"", w[i].name);
    for (int sync = NORMAL; sync >= FULL; sync--) {
      const double *x = (const double *)((const char *)&L[sync] + w[i].off);
      double r = ratio_of(x[MVCC], x[NATIVE]);
      if (r < 0) fprintf(f, " -");
      else fprintf(f, " %.3f", r);
    }
    fprintf(f, "\n");
  }
  fclose(f);
}

static void append_file(const char *path) {
  FILE *f = fopen(path, "r");
  char line[512];
  if (!f) return;
  out("\n## kvcore against raw RocksDB (bench_kv, same run)\n\n```\n");
  bool text = false;
  while (fgets(line, sizeof line, f))
    if ((text |= line[0] != '\n')) out("%s", line);
  out("```\n");
  fclose(f);
}

int main(int argc, char **argv) {
  sqlite3_auto_extension((void (*)(void))mvcc_filter);
  if (argc == 5 && !strcmp(argv[1], "--w2")) {
    snprintf(base, sizeof base, "%s", argv[4]);
    int kind = atoi(argv[2]), sync = atoi(argv[3]);
    set_phase("W2 %s %s", kind_name[kind], sync_name[sync]);
    double t = kind <= NATIVE ? w2_sql(kind, sync) : w2_rdb(kind, sync);
    printf("%.6f %ld\n", t, peak_rss_kb());
    return 0;
  }
  const char *e = getenv("BENCH_SECONDS");
  if (e && atof(e) > 0) secs = atof(e);
  only = getenv("BENCH_ONLY");
  levels = getenv("BENCH_LEVELS");
  threads_only = getenv("BENCH_THREADS");
  e = getenv("BENCH_DIR");
  snprintf(base, sizeof base, "%s/bench_sql.%d", e ? e : "/tmp", (int)getpid());
  if (strchr(base, '\'')) die("BENCH_DIR must not contain a quote");
  char self[400];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) die("cannot find this program");
  self[n] = 0;
  rm_rf(base);
  mkdir_p(base);

  static level L[2];
  for (int sync = NORMAL; sync >= FULL; sync--) {
    level_clear(&L[sync]);
    if (!levels || strstr(levels, sync_name[sync])) run_level(self, sync, &L[sync]);
  }

  const char *results = argc > 1 ? argv[1] : "bench/RESULTS.md";
  md = fopen(results, "w");
  if (!md) die("cannot write %s", results);
  set_phase("report");
  report_header(argc, argv);
  for (int sync = NORMAL; sync >= FULL; sync--)
    if (!levels || strstr(levels, sync_name[sync])) {
      report_level(sync, &L[sync]);
      add_targets(sync, &L[sync]);
    }
  report_method();
  report_targets();
  if (argc > 2) append_file(argv[2]);
  fclose(md);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", results);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  else snprintf(dir, sizeof dir, ".");
  write_plot_data(dir, L);
  rm_rf(base);
  return 0;
}
