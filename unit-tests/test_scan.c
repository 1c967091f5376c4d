/*
** test_scan.c — iterators: ranges in both directions with limits, the merge
** of own writes with committed rows, stable snapshots while other
** transactions commit, no Halloween problem, locking scans (also every scan
** of a lock_reads transaction, which still refreshes its range), and
** reopening after a refresh; a scan stopped early by its limit depends
** (for refresh) only on the rows it returned; plus a randomized
** differential test against an in-memory model of the store.
*/
#include "kvtest.h"

typedef struct fixture {
  kv_store *s;
  char *dir;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  f->dir = kvt_tempdir(0);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_OFF;
  f->s = kvt_open_dir(f->dir, &o);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  kv_store_close(f->s);
  kvt_rmrf(f->dir);
  free(f->dir);
  free(f);
  return 0;
}

/* Collects "k=v," for every row of a scan into out. */
static void scan_str(kv_txn *t, const char *lo, const char *hi, int flags,
                     uint64_t limit, char *out, size_t outsz) {
  kv_iter *it;
  KVT_OK(kv_txn_scan(t, lo, strlen(lo), hi, hi ? strlen(hi) : 0, flags, limit,
                     &it, errptr));
  out[0] = 0;
  size_t o = 0;
  int rc;
  while ((rc = kv_iter_next(it, NULL)) == KV_OK) {
    size_t kl, vl;
    const char *k = kv_iter_key(it, &kl);
    const char *v = kv_iter_value(it, &vl);
    o += (size_t)snprintf(out + o, outsz - o, "%.*s=%.*s,", (int)kl, k,
                          (int)vl, v);
  }
  assert_int_equal(rc, KV_NOTFOUND);
  kv_iter_close(it);
}

static void load(kv_store *s, const char *const *kv, int n) {
  kv_txn *t = kvt_begin(s);
  for (int i = 0; i < n; i++) kvt_put(t, kv[2 * i], kv[2 * i + 1]);
  kvt_commit(t);
}

static void test_scan_bounds_directions_limits(void **state) {
  fixture *f = *state;
  const char *kv[] = {"a", "1", "b", "2", "c", "3", "d", "4", "e", "5"};
  load(f->s, kv, 5);
  kv_txn *t = kvt_begin(f->s);
  char got[512];
  scan_str(t, "b", "e", 0, 0, got, sizeof got);
  assert_string_equal(got, "b=2,c=3,d=4,"); /* start in, end out */
  scan_str(t, "b", "e", KV_SCAN_REVERSE, 0, got, sizeof got);
  assert_string_equal(got, "d=4,c=3,b=2,");
  scan_str(t, "", NULL, 0, 2, got, sizeof got);
  assert_string_equal(got, "a=1,b=2,");
  scan_str(t, "", NULL, KV_SCAN_REVERSE, 2, got, sizeof got);
  assert_string_equal(got, "e=5,d=4,");
  scan_str(t, "bb", "cc", 0, 0, got, sizeof got);
  assert_string_equal(got, "c=3,");
  scan_str(t, "c", "c", 0, 0, got, sizeof got);
  assert_string_equal(got, "");
  scan_str(t, "d", "b", 0, 0, got, sizeof got);
  assert_string_equal(got, "");
  scan_str(t, "f", NULL, KV_SCAN_REVERSE, 0, got, sizeof got);
  assert_string_equal(got, "");
  kvt_commit(t);
}

static void test_scan_skips_deleted_and_newer_versions(void **state) {
  fixture *f = *state;
  const char *kv[] = {"a", "1", "b", "2", "c", "3"};
  load(f->s, kv, 3);
  kv_txn *old = kvt_begin(f->s);
  kv_txn *t = kvt_begin(f->s);
  KVT_OK(kv_txn_delete(t, "b", 1, errptr));
  kvt_put(t, "c", "3'");
  kvt_put(t, "d", "4");
  kvt_commit(t);
  char got[512];
  scan_str(old, "", NULL, 0, 0, got, sizeof got);
  assert_string_equal(got, "a=1,b=2,c=3,");
  scan_str(old, "", NULL, KV_SCAN_REVERSE, 0, got, sizeof got);
  assert_string_equal(got, "c=3,b=2,a=1,");
  kvt_commit(old);
  t = kvt_begin(f->s);
  scan_str(t, "", NULL, 0, 0, got, sizeof got);
  assert_string_equal(got, "a=1,c=3',d=4,");
  scan_str(t, "", NULL, KV_SCAN_REVERSE, 0, got, sizeof got);
  assert_string_equal(got, "d=4,c=3',a=1,");
  kvt_commit(t);
}

static void test_scan_merges_own_writes(void **state) {
  fixture *f = *state;
  const char *kv[] = {"b", "2", "d", "4", "f", "6"};
  load(f->s, kv, 3);
  kv_txn *t = kvt_begin(f->s);
  kvt_put(t, "a", "1");
  kvt_put(t, "d", "4'");
  KVT_OK(kv_txn_delete(t, "f", 1, errptr));
  kvt_put(t, "g", "7");
  KVT_OK(kv_txn_lock(t, "b", 1, errptr)); /* a lock alone changes nothing */
  char got[512];
  scan_str(t, "", NULL, 0, 0, got, sizeof got);
  assert_string_equal(got, "a=1,b=2,d=4',g=7,");
  scan_str(t, "", NULL, KV_SCAN_REVERSE, 0, got, sizeof got);
  assert_string_equal(got, "g=7,d=4',b=2,a=1,");
  scan_str(t, "b", "g", 0, 0, got, sizeof got);
  assert_string_equal(got, "b=2,d=4',");
  scan_str(t, "b", "g", KV_SCAN_REVERSE, 1, got, sizeof got);
  assert_string_equal(got, "d=4',");
  kvt_commit(t);
}

/* Writes made while an iterator is open do not show up in it. */
static void test_scan_no_halloween(void **state) {
  fixture *f = *state;
  const char *kv[] = {"k1", "1", "k2", "2"};
  load(f->s, kv, 2);
  kv_txn *t = kvt_begin(f->s);
  kv_iter *it;
  KVT_OK(kv_txn_scan(t, "k", 1, "l", 1, 0, 0, &it, errptr));
  int n = 0;
  while (kv_iter_next(it, NULL) == KV_OK) {
    size_t kl;
    const char *k = kv_iter_key(it, &kl);
    char nk[32];
    snprintf(nk, sizeof nk, "k%d", atoi(k + 1) + 10); /* "move" it ahead */
    kvt_put(t, nk, "moved");
    assert_true(++n <= 2);
  }
  kv_iter_close(it);
  assert_int_equal(n, 2);
  kvt_commit(t);
}

/* An open iterator keeps its snapshot while others commit. */
static void test_scan_snapshot_is_stable(void **state) {
  fixture *f = *state;
  const char *kv[] = {"a", "1", "b", "2", "c", "3"};
  load(f->s, kv, 3);
  kv_txn *t = kvt_begin(f->s);
  kv_iter *it;
  KVT_OK(kv_txn_scan(t, "", 0, NULL, 0, 0, 0, &it, errptr));
  KVT_OK(kv_iter_next(it, errptr));
  kv_txn *w = kvt_begin(f->s);
  kvt_put(w, "b", "2'");
  kvt_put(w, "bb", "new");
  KVT_OK(kv_txn_delete(w, "c", 1, errptr));
  kvt_commit(w);
  char got[128] = "";
  size_t o = 0;
  while (kv_iter_next(it, NULL) == KV_OK) {
    size_t kl, vl;
    const char *k = kv_iter_key(it, &kl);
    const char *v = kv_iter_value(it, &vl);
    o += (size_t)snprintf(got + o, sizeof got - o, "%.*s=%.*s,", (int)kl, k,
                          (int)vl, v);
  }
  kv_iter_close(it);
  assert_string_equal(got, "b=2,c=3,");
  kvt_commit(t); /* read-only: commits at its snapshot */
}

static void test_scan_for_update_locks_and_reads_latest(void **state) {
  fixture *f = *state;
  const char *kv[] = {"r/1", "a", "r/2", "b", "r/3", "c"};
  load(f->s, kv, 3);
  kv_txn *t = kvt_begin(f->s);
  kv_txn *w = kvt_begin(f->s); /* changes r/2 after t's snapshot */
  kvt_put(w, "r/2", "b'");
  KVT_OK(kv_txn_delete(w, "r/3", 3, errptr));
  kvt_commit(w);
  char got[256];
  scan_str(t, "r/", "r0", KV_READ_FOR_UPDATE, 0, got, sizeof got);
  /* r/2 is read again after the refresh; r/3's deletion is seen. */
  assert_string_equal(got, "r/1=a,r/2=b',");
  kv_stats st;
  kv_store_stats(f->s, &st);
  assert_true(st.locks_held >= 2);
  kvt_put(t, "r/2", "b''");
  kvt_commit(t);
  kv_store_stats(f->s, &st);
  assert_int_equal(st.locks_held, 0);
}

/* A locking scan that meets a row newer than its snapshot refreshes past
** it; the keys it passed over on the way (here the gap between a and c,
** read at the old snapshot) are read again at the new one, so a row that
** the same commit put there is returned, whether the newer row is changed
** or deleted.  (They were once skipped: the bank test with account moves
** lost accounts.) */
static void test_scan_for_update_rereads_the_gap_before_a_newer_row(
    void **state) {
  fixture *f = *state;
  const char *kv[] = {"a", "1", "c", "3", "e", "5"};
  load(f->s, kv, 3);
  for (int deleted = 0; deleted < 2; deleted++) {
    const char *ckey = deleted ? "e" : "c";
    kv_txn *t = kvt_begin(f->s);
    kv_iter *it;
    KVT_OK(kv_txn_scan(t, "a", 1, "z", 1, KV_READ_FOR_UPDATE, 0, &it,
                       errptr));
    KVT_OK(kv_iter_next(it, errptr)); /* a=1, at t's snapshot */
    kv_txn *w = kvt_begin(f->s);      /* a row into the gap, and the next */
    kvt_put(w, deleted ? "d" : "b", "2");
    if (deleted)
      KVT_OK(kv_txn_delete(w, ckey, 1, errptr));
    else
      kvt_put(w, ckey, "3'");
    kvt_commit(w);
    char got[128] = "";
    size_t o = 0;
    int rc;
    while ((rc = kv_iter_next(it, NULL)) == KV_OK) {
      size_t kl, vl;
      const char *k = kv_iter_key(it, &kl);
      const char *v = kv_iter_value(it, &vl);
      o += (size_t)snprintf(got + o, sizeof got - o, "%.*s=%.*s,", (int)kl, k,
                            (int)vl, v);
    }
    assert_int_equal(rc, KV_NOTFOUND);
    kv_iter_close(it);
    kvt_commit(t);
    /* after a: the first round adds b and changes c; the second adds d
    ** and deletes e */
    assert_string_equal(got, deleted ? "b=2,c=3',d=2," : "b=2,c=3',e=5,");
  }
}

/* A refresh moves an open iterator to the new snapshot after its last row. */
static void test_scan_reopens_after_refresh(void **state) {
  fixture *f = *state;
  const char *kv[] = {"a", "1", "b", "2", "c", "3", "x", "9"};
  load(f->s, kv, 4);
  kv_txn *t = kvt_begin(f->s);
  kv_iter *it;
  KVT_OK(kv_txn_scan(t, "a", 1, "d", 1, 0, 0, &it, errptr));
  KVT_OK(kv_iter_next(it, errptr)); /* a=1 */
  kv_txn *w = kvt_begin(f->s);
  kvt_put(w, "c", "3'");
  kvt_put(w, "x", "10");
  kvt_commit(w);
  const void *v;
  size_t vl;
  /* A locking read of x finds w's newer version: t refreshes past it.  The
  ** iterator has only observed [a, a], which did not change. */
  KVT_OK(kv_txn_get(t, "x", 1, KV_READ_FOR_UPDATE, &v, &vl, errptr));
  assert_int_equal(vl, 2);
  assert_memory_equal(v, "10", 2);
  KVT_OK(kv_iter_next(it, errptr));
  KVT_OK(kv_iter_next(it, errptr));
  v = kv_iter_value(it, &vl);
  assert_int_equal(vl, 2);
  assert_memory_equal(v, "3'", 2); /* read at the new snapshot */
  KVT_RC(KV_NOTFOUND, kv_iter_next(it, errptr));
  kv_iter_close(it);
  kvt_commit(t);
}

/* A transaction begun with lock_reads locks each row its plain scans
** return (a writer of one queues) and no row the scan did not return; its
** range still counts for refresh, so a row inserted into it fails the
** transaction when a push makes it refresh. */
typedef struct locks_probe {
  uint64_t id;
  int n;
  char keys[128]; /* ",k1,k2,": in the lock table's order */
} locks_probe;

static void probe_locks(void *ctx, const void *k, size_t kl, uint64_t id,
                        int is_waiter) {
  locks_probe *p = ctx;
  if (is_waiter || id != p->id) return;
  size_t o = strlen(p->keys);
  snprintf(p->keys + o, sizeof p->keys - o, "%s%.*s,", o ? "" : ",", (int)kl,
           (const char *)k);
  p->n++;
}

static void test_scan_lock_reads_locks_rows_returned(void **state) {
  kvt_fixture *f = *state;
  const char *kv[] = {"r/1", "a", "r/2", "b", "r/3", "c"};
  load(f->s, kv, 3);
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.lock_reads = 1;
  kv_txn *t = NULL;
  KVT_OK(kv_txn_begin(f->s, &o, &t, errptr));
  char got[256];
  scan_str(t, "r/", "r0", 0, 2, got, sizeof got); /* a LIMIT 2 */
  assert_string_equal(got, "r/1=a,r/2=b,");
  locks_probe p = {.id = kv_txn_id(t)};
  kv_store_list_locks(f->s, probe_locks, &p);
  assert_int_equal(p.n, 2);
  assert_non_null(strstr(p.keys, ",r/1,"));
  assert_non_null(strstr(p.keys, ",r/2,"));
  kvt_bg_put w = {.s = f->s, .k = "r/2", .v = "w"};
  w.t = kvt_begin(f->s);
  kvt_bg_start(&w);
  kvt_wait_until_queued(f->s, kv_txn_id(w.t));
  kvt_put1(f->s, "r/3", "c'");  /* not returned: neither locked nor read */
  kvt_put1(f->s, "r/15", "ph"); /* inserted into what it read: a phantom */
  kv_txn *r = kvt_begin(f->s);  /* pushes t's write of x above it */
  assert_null(kvt_get(r, "x"));
  kvt_commit(r);
  kvt_put(t, "x", "sum");
  KVT_RC(KV_RETRY, kv_txn_commit(t, NULL, errptr));
  assert_int_equal(kv_txn_retry_reason(t), KV_RETRY_READ_REFRESH);
  kv_txn_abort(t);
  kvt_bg_join(&w);
  assert_int_equal(w.commit_rc, KV_OK);
}

/* ---------------------------------------------- differential test -- */

#define MK 40 /* keys "k00".."k39" */

typedef struct model {
  char val[MK][8];
  int present[MK];
} model;

static unsigned rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 16) & 0x7fff;
}

static void model_scan(const model *m, int lo, int hi, int rev, int limit,
                       char *out, size_t outsz) {
  size_t o = 0;
  int n = 0;
  out[0] = 0;
  for (int j = 0; j < MK; j++) {
    int i = rev ? MK - 1 - j : j;
    if (i < lo || i >= hi || !m->present[i]) continue;
    if (limit && n >= limit) break;
    o += (size_t)snprintf(out + o, outsz - o, "k%02d=%s,", i, m->val[i]);
    n++;
  }
}

static void test_scan_matches_model(void **state) {
  fixture *f = *state;
  unsigned seed = 4242;
  print_message("    seed %u\n", seed);
  model committed = {0};
  long rounds = kvt_scaled(300);
  for (long r = 0; r < rounds; r++) {
    model m = committed; /* the transaction's view */
    kv_txn *t = kvt_begin(f->s);
    int ops = 1 + (int)(rnd(&seed) % 12);
    for (int op = 0; op < ops; op++) {
      int i = (int)(rnd(&seed) % MK);
      char k[8];
      snprintf(k, sizeof k, "k%02d", i);
      unsigned what = rnd(&seed) % 10;
      if (what < 4) {
        snprintf(m.val[i], sizeof m.val[i], "%u", rnd(&seed) % 1000);
        m.present[i] = 1;
        kvt_put(t, k, m.val[i]);
      } else if (what < 6) {
        m.present[i] = 0;
        KVT_OK(kv_txn_delete(t, k, strlen(k), errptr));
      } else {
        int lo = (int)(rnd(&seed) % MK), hi = (int)(rnd(&seed) % (MK + 1));
        int rev = (int)(rnd(&seed) & 1), limit = (int)(rnd(&seed) % 4);
        char klo[8], khi[8], want[1024], got[1024];
        snprintf(klo, sizeof klo, "k%02d", lo);
        snprintf(khi, sizeof khi, "k%02d", hi);
        model_scan(&m, lo, hi, rev, limit, want, sizeof want);
        scan_str(t, klo, hi == MK ? NULL : khi, rev ? KV_SCAN_REVERSE : 0,
                 (uint64_t)limit, got, sizeof got);
        assert_string_equal(got, want);
      }
    }
    if (rnd(&seed) % 4 == 0) {
      kv_txn_abort(t);
    } else {
      kvt_commit(t);
      committed = m;
    }
  }
}

/* A scan that stopped early depends only on the rows it returned. */
static void test_scan_limited_depends_on_returned_rows(void **state) {
  kvt_fixture *f = *state;
  kvt_put1(f->s, "q/1", "a");
  kvt_put1(f->s, "q/5", "b");
  kv_txn *t1 = kvt_begin(f->s);
  kv_iter *it;
  KVT_OK(kv_txn_scan(t1, "q/", 2, "q0", 2, 0, 1, &it, errptr));
  KVT_OK(kv_iter_next(it, errptr));
  KVT_RC(KV_NOTFOUND, kv_iter_next(it, errptr));
  kv_iter_close(it);
  kvt_put1(f->s, "q/7", "c"); /* after the returned row */
  kv_txn *t3 = kvt_begin(f->s);
  assert_null(kvt_get(t3, "q-taken"));
  kvt_commit(t3);
  kvt_put(t1, "q-taken", "1");
  kvt_commit(t1);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_scan_bounds_directions_limits),
      T(test_scan_skips_deleted_and_newer_versions),
      T(test_scan_merges_own_writes),
      T(test_scan_no_halloween),
      T(test_scan_snapshot_is_stable),
      T(test_scan_for_update_locks_and_reads_latest),
      T(test_scan_reopens_after_refresh),
      T(test_scan_matches_model),
      cmocka_unit_test_setup_teardown(test_scan_limited_depends_on_returned_rows,
                                      kvt_setup, kvt_teardown),
      cmocka_unit_test_setup_teardown(
          test_scan_for_update_rereads_the_gap_before_a_newer_row, setup,
          teardown),
      cmocka_unit_test_setup_teardown(test_scan_lock_reads_locks_rows_returned,
                                      kvt_setup, kvt_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
