/*
** test_checkpoint.c — online backup (checkpoint.c): copies taken while
** writer threads commit bank transfers are complete stores with the exact
** total; every commit at or below the returned timestamp T is in the copy
** and none above it is visible there as of T; large (ingested) commits are
** whole; the copy's clock starts above T even with a wall clock in the past;
** an existing directory and the in-memory store are refused; a copy never
** holds a commit without the ingested one it read, even when RocksDB's
** checkpoint is slowed where it would let an ingestion in.
**
** Each writer thread counts its own commits in a key of its own ("log-N",
** written in the same transaction as its transfer) and records the commit
** timestamps it got.  A thread's commits are sequential, so its commits at
** or below T are a prefix of its list: the copy read as of T must show
** exactly that many, and read at its newest at least that many.
*/
#include "kvtest.h"

#include "dirusage.h"
#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>

#define CK_ACCOUNTS 16
#define CK_INITIAL 1000
#define CK_WRITERS 3     /* transfer threads; one more does large commits */
#define CK_MAX_COMMITS 200000
#define CK_BULK_ROWS 64  /* rows of a large commit: over ingest_bytes */

typedef struct ck_writer {
  kv_store *s;
  int id;
  bool bulk;               /* commits large enough to be ingested */
  _Atomic bool *stop;
  _Atomic long *commits;   /* all writers together */
  kv_ts *ts;               /* its commit timestamps, in order */
  long n;
  unsigned seed;
} ck_writer;

static void ck_key(char *b, size_t n, int acct) {
  snprintf(b, n, "acct-%02u", (unsigned)acct % 100u);
}

/* Reads an integer value; 0 when the key is absent. */
static long ck_get_long(kv_txn *t, const char *k) {
  const char *v = kvt_get(t, k);
  return v ? atol(v) : 0;
}

/* A borrowed value (not NUL-terminated) as an integer. */
static long ck_atol(const void *v, size_t n) {
  char b[32];
  if (n >= sizeof b) n = sizeof b - 1;
  memcpy(b, v, n);
  b[n] = 0;
  return atol(b);
}

static void ck_put_long(kv_txn *t, const char *k, long v) {
  char b[32];
  snprintf(b, sizeof b, "%ld", v);
  kvt_put(t, k, b);
}

/* One transfer (and, for the bulk writer, a large commit's rows); false
** when it must be retried. */
static bool ck_transfer(ck_writer *w) {
  kv_txn *t = NULL;
  KVT_OK(kv_txn_begin(w->s, NULL, &t, errptr));
  int a = rand_r(&w->seed) % CK_ACCOUNTS, b = rand_r(&w->seed) % CK_ACCOUNTS;
  char ka[16], kb[16], kl[16];
  ck_key(ka, sizeof ka, a);
  ck_key(kb, sizeof kb, b);
  snprintf(kl, sizeof kl, "log-%d", w->id);
  int rc = KV_OK;
  const void *v;
  size_t vn;
  long va = 0, vb = 0;
  if ((rc = kv_txn_get(t, ka, strlen(ka), 0, &v, &vn, NULL)) == KV_OK)
    va = ck_atol(v, vn);
  if (!rc && (rc = kv_txn_get(t, kb, strlen(kb), 0, &v, &vn, NULL)) == KV_OK)
    vb = ck_atol(v, vn);
  if (rc) {
    assert_int_equal(rc, KV_RETRY);
    kv_txn_abort(t);
    return false;
  }
  long x = rand_r(&w->seed) % 50;
  char buf[32];
  snprintf(buf, sizeof buf, "%ld", va - x);
  rc = kv_txn_put(t, ka, strlen(ka), buf, strlen(buf), NULL);
  if (!rc) {
    snprintf(buf, sizeof buf, "%ld", (a == b ? va - x : vb) + x);
    rc = kv_txn_put(t, kb, strlen(kb), buf, strlen(buf), NULL);
  }
  if (!rc) {
    snprintf(buf, sizeof buf, "%ld", w->n + 1);
    rc = kv_txn_put(t, kl, strlen(kl), buf, strlen(buf), NULL);
  }
  for (int i = 0; w->bulk && !rc && i < CK_BULK_ROWS; i++) {
    char kr[32], val[100];
    snprintf(kr, sizeof kr, "bulk-%04d", i);
    memset(val, 'a' + (int)(w->n % 26), sizeof val);
    rc = kv_txn_put(t, kr, strlen(kr), val, sizeof val, NULL);
  }
  kv_ts cts;
  if (!rc) rc = kv_txn_commit(t, &cts, NULL);
  if (rc) {
    assert_int_equal(rc, KV_RETRY);
    kv_txn_abort(t);
    return false;
  }
  assert_true(w->n < CK_MAX_COMMITS);
  w->ts[w->n++] = cts;
  atomic_fetch_add(w->commits, 1);
  return true;
}

static void *ck_writer_main(void *arg) {
  ck_writer *w = arg;
  while (!atomic_load(w->stop)) ck_transfer(w);
  return NULL;
}

/* Commits of writer w at or below t (a prefix of its list). */
static long ck_count_le(const ck_writer *w, kv_ts t) {
  long n = 0;
  while (n < w->n && kv_ts_cmp(w->ts[n], t) <= 0) n++;
  return n;
}

/* Checks one copy: the bank's total at its newest and as of T, each
** writer's commits there, and its clock. */
static void ck_verify(const char *copy, kv_ts at, ck_writer *w, int nw) {
  kvt_clock clk = {1}; /* a wall clock far behind every timestamp */
  kv_options o;
  kvt_clock_options(&o, &clk);
  o.create_if_missing = 0;
  kv_store *c = kvt_open_dir(copy, &o);
  kv_ts now = kv_store_now(c);
  assert_true(kv_ts_cmp(now, at) > 0);
  for (int pass = 0; pass < 2; pass++) {
    kv_txn_options to;
    kv_txn_options_init(&to);
    to.read_only = 1;
    if (pass == 1) to.read_ts = at;
    kv_txn *t = NULL;
    KVT_OK(kv_txn_begin(c, &to, &t, errptr));
    long total = 0;
    for (int i = 0; i < CK_ACCOUNTS; i++) {
      char k[16];
      ck_key(k, sizeof k, i);
      assert_non_null(kvt_get(t, k)); /* every account is there */
      total += ck_get_long(t, k);
    }
    assert_int_equal(total, (long)CK_ACCOUNTS * CK_INITIAL);
    for (int i = 0; i < nw; i++) {
      char k[16];
      snprintf(k, sizeof k, "log-%d", i);
      long in_copy = ck_get_long(t, k), le = ck_count_le(&w[i], at);
      if (pass == 1) {
        assert_int_equal(in_copy, le); /* as of T: exactly those <= T */
      } else {
        assert_true(in_copy >= le);    /* newest: at least those */
        assert_true(in_copy <= w[i].n);
        if (in_copy > 0) /* the clock is above what the copy holds */
          assert_true(kv_ts_cmp(now, w[i].ts[in_copy - 1]) > 0);
      }
    }
    kvt_commit(t);
  }
  kv_store_close(c);
}

static void test_checkpoint_under_writers(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0), *bdir = kvt_tempdir(1);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_NORMAL;
  o.ingest_bytes = 4096; /* the bulk writer's commits are ingested files */
  kv_store *s = kvt_open_dir(dir, &o);
  kv_txn *t = kvt_begin(s);
  for (int i = 0; i < CK_ACCOUNTS; i++) {
    char k[16];
    ck_key(k, sizeof k, i);
    ck_put_long(t, k, CK_INITIAL);
  }
  kvt_commit(t);

  enum { NW = CK_WRITERS + 1 };
  ck_writer w[NW];
  pthread_t th[NW];
  _Atomic bool stop = false;
  _Atomic long commits = 0;
  for (int i = 0; i < NW; i++) {
    w[i] = (ck_writer){.s = s, .id = i, .bulk = i == CK_WRITERS,
                       .stop = &stop, .commits = &commits,
                       .ts = calloc(CK_MAX_COMMITS, sizeof(kv_ts)),
                       .seed = 17u * (unsigned)i + 1};
    assert_non_null(w[i].ts);
    assert_int_equal(pthread_create(&th[i], NULL, ck_writer_main, &w[i]), 0);
  }
  long backups = kvt_scaled(6);
  char (*copies)[600] = calloc((size_t)backups, sizeof *copies);
  kv_ts *at = calloc((size_t)backups, sizeof *at);
  uint64_t ns_total = 0, ns_max = 0;
  long long bytes = 0;
  int tables = 0, linked = 0;
  for (long b = 0; b < backups; b++) {
    /* Let some commits happen between backups: an event, not a sleep. */
    long seen = atomic_load(&commits);
    while (atomic_load(&commits) < seen + 100) usleep(200);
    snprintf(copies[b], sizeof copies[b], "%s/copy-%ld", bdir, b);
    uint64_t t0 = kvt_now_ns();
    KVT_OK(kv_store_checkpoint(s, copies[b], &at[b], errptr));
    uint64_t ns = kvt_now_ns() - t0;
    ns_total += ns;
    if (ns > ns_max) ns_max = ns;
    /* Right away: a compaction that replaces a file of the store later
    ** leaves the copy's link the file's only name. */
    long long by;
    int tb, lk;
    assert_int_equal(dir_usage(copies[b], &by, &tb, &lk), 0);
    bytes += by;
    tables += tb;
    linked += lk;
  }
  atomic_store(&stop, true);
  for (int i = 0; i < NW; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < NW; i++) assert_true(w[i].n > 0);

  for (long b = 0; b < backups; b++) ck_verify(copies[b], at[b], w, NW);
  /* The copies live on the store's file system: table files are links
  ** (all of them but those a compaction replaced in the meantime). */
  assert_true(tables > 0);
  assert_true(linked > 0);
  print_message("checkpoint: %ld backups under %d writers (%ld commits): "
                "mean %.1f ms, max %.1f ms, %lld bytes per copy on "
                "average, %d of %d table files hard links\n",
                backups, NW, (long)atomic_load(&commits),
                ns_total / 1e6 / (double)backups, ns_max / 1e6,
                bytes / backups, linked, tables);

  /* A write to the store after the backup is not in the copy, and the copy
  ** takes writes of its own without touching the store. */
  kvt_put1(s, "after", "x");
  kv_store *c = kvt_open_dir(copies[backups - 1], NULL);
  assert_ptr_not_equal(c, s);
  t = kvt_begin(c);
  assert_null(kvt_get(t, "after"));
  kvt_put(t, "only-in-copy", "y");
  kvt_commit(t);
  kv_store_close(c);
  t = kvt_begin(s);
  assert_null(kvt_get(t, "only-in-copy"));
  kvt_commit(t);

  for (int i = 0; i < NW; i++) free(w[i].ts);
  free(copies);
  free(at);
  kv_store_close(s);
  kvt_rmrf(dir);
  kvt_rmrf(bdir);
  free(dir);
  free(bdir);
}

/* A slow file system for one thread: while ck_slow_dir is set, its listings
** of that directory take 20 ms more.  RocksDB's checkpoint lists the store
** directory for the WAL files after it has taken the MANIFEST, so this
** widens the window between the two to where a race in it is the rule. */
static _Thread_local const char *ck_slow_dir;

DIR *opendir(const char *name) {
  static DIR *(*_Atomic real)(const char *);
  DIR *(*f)(const char *) = atomic_load(&real);
  if (!f) {
    f = (DIR * (*)(const char *)) dlsym(RTLD_NEXT, "opendir");
    atomic_store(&real, f);
  }
  size_t n = ck_slow_dir ? strlen(ck_slow_dir) : 0;
  if (n && !strncmp(name, ck_slow_dir, n) && (!name[n] || name[n] == '/'))
    usleep(20000);
  return f(name);
}

/* A large commit and the small one that reads it right after: "x" = i is
** ingested with CK_BULK_ROWS rows, then "y" = x is a WAL write.  RocksDB's
** checkpoint takes the MANIFEST before the WAL files, so an ingestion it
** did not wait out could be missing from a copy that holds the write that
** read it (y > x there).  The copy must never show y ahead of x. */
typedef struct ck_chain {
  kv_store *s;
  char x[16], y[16];       /* its two keys */
  _Atomic bool *stop;
  _Atomic long *rounds;    /* all chains together */
} ck_chain;

#define CK_CHAINS 2

static void *ck_chain_main(void *arg) {
  ck_chain *c = arg;
  for (long i = 1; !atomic_load(c->stop); i++) {
    kv_txn *t = kvt_begin(c->s);
    ck_put_long(t, c->x, i);
    for (int r = 0; r < CK_BULK_ROWS; r++) {
      char kr[48], val[100];
      snprintf(kr, sizeof kr, "%s-bulk-%04d", c->x, r);
      memset(val, 'a' + (int)(i % 26), sizeof val);
      KVT_OK(kv_txn_put(t, kr, strlen(kr), val, sizeof val, errptr));
    }
    kvt_commit(t);
    t = kvt_begin(c->s);
    ck_put_long(t, c->y, ck_get_long(t, c->x));
    kvt_commit(t);
    atomic_fetch_add(c->rounds, 1);
  }
  return NULL;
}

static void test_checkpoint_ingestion_before_its_reader(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0), *bdir = kvt_tempdir(1);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_NORMAL;
  o.ingest_bytes = 4096; /* "x"'s commits are ingested files */
  kv_store *s = kvt_open_dir(dir, &o);
  _Atomic bool stop = false;
  _Atomic long rounds = 0;
  ck_chain c[CK_CHAINS];
  pthread_t th[CK_CHAINS];
  for (int i = 0; i < CK_CHAINS; i++) {
    c[i] = (ck_chain){.s = s, .stop = &stop, .rounds = &rounds};
    snprintf(c[i].x, sizeof c[i].x, "x%d", i);
    snprintf(c[i].y, sizeof c[i].y, "y%d", i);
    assert_int_equal(pthread_create(&th[i], NULL, ck_chain_main, &c[i]), 0);
  }
  long copies = kvt_scaled(20);
  for (long b = 0; b < copies; b++) {
    long seen = atomic_load(&rounds);
    while (atomic_load(&rounds) < seen + 2) usleep(100);
    char copy[600];
    snprintf(copy, sizeof copy, "%s/copy-%ld", bdir, b);
    kv_ts at;
    ck_slow_dir = dir;
    KVT_OK(kv_store_checkpoint(s, copy, &at, errptr));
    ck_slow_dir = NULL;
    kv_store *cs = kvt_open_dir(copy, NULL);
    kv_txn *t = kvt_begin(cs);
    for (int i = 0; i < CK_CHAINS; i++) {
      long x = ck_get_long(t, c[i].x), y = ck_get_long(t, c[i].y);
      if (y > x)
        print_error("copy %ld: %s = %ld, %s = %ld\n", b, c[i].x, x, c[i].y, y);
      assert_true(y <= x);
    }
    kvt_commit(t);
    kv_store_close(cs);
    kvt_rmrf(copy);
  }
  atomic_store(&stop, true);
  for (int i = 0; i < CK_CHAINS; i++) pthread_join(th[i], NULL);
  kv_store_close(s);
  kvt_rmrf(dir);
  kvt_rmrf(bdir);
  free(dir);
  free(bdir);
}

/* The timestamp is the clock's: above every commit that returned before the
** backup began, so those are in the copy even when nothing else happens. */
static void test_checkpoint_idle_store_has_every_commit(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0), *copy = kvt_tempdir(0);
  kvt_clock clk = {1000000000ULL};
  kv_options o;
  kvt_clock_options(&o, &clk);
  o.synchronous = KV_SYNC_OFF; /* no WAL: the flush must take the rows */
  kv_store *s = kvt_open_dir(dir, &o);
  kv_txn *t = kvt_begin(s);
  kvt_put(t, "a", "1");
  kv_ts cts = kvt_commit_ts(t);
  kv_ts at;
  KVT_OK(kv_store_checkpoint(s, copy, &at, errptr));
  assert_true(kv_ts_cmp(cts, at) < 0);
  kv_store_close(s);
  clk.now = 1; /* the machine's clock went back */
  kv_store *c = kvt_open_dir(copy, &o);
  t = kvt_begin(c);
  assert_string_equal(kvt_get(t, "a"), "1");
  kvt_put(t, "b", "2");
  kv_ts c2 = kvt_commit_ts(t);
  assert_true(kv_ts_cmp(c2, at) > 0); /* monotonic across the copy */
  kv_store_close(c);
  kvt_rmrf(dir);
  kvt_rmrf(copy);
  free(dir);
  free(copy);
}

static void test_checkpoint_refuses_existing_dir(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0), *exists = kvt_tempdir(1);
  kv_store *s = kvt_open_dir(dir, NULL);
  kvt_put1(s, "k", "v");
  char *err = NULL;
  kv_ts at = {0, 0};
  assert_int_equal(kv_store_checkpoint(s, exists, &at, &err), KV_INVALID);
  assert_non_null(strstr(err, "already exists"));
  assert_non_null(strstr(err, exists));
  assert_int_equal(at.wall, 0); /* nothing returned */
  kv_free(err);
  err = NULL;
  assert_int_equal(kv_store_checkpoint(s, "", &at, &err), KV_INVALID);
  kv_free(err);
  err = NULL;
  /* A missing parent: an I/O error that names the directory. */
  char missing[700];
  snprintf(missing, sizeof missing, "%s/no/such/parent", exists);
  assert_int_equal(kv_store_checkpoint(s, missing, &at, &err), KV_IOERR);
  assert_non_null(strstr(err, missing));
  kv_free(err);
  /* The existing directory was left as it was: empty. */
  long long bytes;
  int tables, linked;
  assert_int_equal(dir_usage(exists, &bytes, &tables, &linked), 0);
  assert_int_equal(bytes, 0);
  kv_store_close(s);
  kvt_rmrf(dir);
  kvt_rmrf(exists);
  free(dir);
  free(exists);
}

static void test_checkpoint_refuses_in_memory_store(void **state) {
  (void)state;
  char *copy = kvt_tempdir(0);
  kv_store *s = kvt_open_dir(NULL, NULL);
  char *err = NULL;
  assert_int_equal(kv_store_checkpoint(s, copy, NULL, &err), KV_INVALID);
  assert_non_null(strstr(err, "in-memory store"));
  kv_free(err);
  struct stat st;
  assert_int_not_equal(stat(copy, &st), 0); /* nothing created */
  kv_store_close(s);
  free(copy);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_checkpoint_under_writers),
      cmocka_unit_test(test_checkpoint_ingestion_before_its_reader),
      cmocka_unit_test(test_checkpoint_idle_store_has_every_commit),
      cmocka_unit_test(test_checkpoint_refuses_existing_dir),
      cmocka_unit_test(test_checkpoint_refuses_in_memory_store),
  };
  return cmocka_run_group_tests(tests, NULL, kvt_open_cleanup);
}
