/*
** test_rowcache.c — the row cache (kvcore/rowcache.c): its own contract
** (hits only at or above an entry's timestamp, commits update or remove,
** stale tickets and clears keep old values out, the budget holds), and
** through transactions: every read answers what the engine holds, whether
** it came from the cache or not (old snapshots, deletions, new sizes,
** ingested commits, range deletes, a store without a cache), and threads
** that race reads against commits keep the bank's total.
*/
#include "kvtest.h"

#include "kvint.h"

static kv_ts T(uint64_t w) { return (kv_ts){w, 0}; }

/* Looks k up at `at`: the value ("" when a miss) and the ticket. */
static const char *rc_get(kv_rowcache *rc, const char *k, kv_ts at,
                          kv_rc_ticket *tk) {
  static kv_buf out;
  static char copy[256];
  kv_ts ts;
  kv_rc_ticket ignored;
  int hit = kv_rowcache_get(rc, k, strlen(k), at, &out, &ts, tk ? tk : &ignored);
  assert_true(hit >= 0);
  if (!hit) return NULL;
  assert_true(out.n < sizeof copy);
  memcpy(copy, out.p, out.n);
  copy[out.n] = 0;
  return copy;
}

static void rc_put(kv_rowcache *rc, const kv_rc_ticket *tk, const char *k,
                   kv_ts ts, const char *v) {
  kv_rowcache_put(rc, tk, k, strlen(k), ts, v, strlen(v));
}

static void test_rowcache_entries_answer_at_or_above_their_version(void **state) {
  (void)state;
  kv_rowcache *rc = kv_rowcache_new(1u << 20);
  kv_rc_ticket tk;
  assert_null(rc_get(rc, "a", T(10), &tk));
  assert_true(tk.wanted);
  rc_put(rc, &tk, "a", T(5), "five");
  assert_string_equal(rc_get(rc, "a", T(10), NULL), "five");
  assert_string_equal(rc_get(rc, "a", T(5), NULL), "five");
  /* Below the version: the engine must answer, and no insert is wanted
  ** (the key has an entry). */
  assert_null(rc_get(rc, "a", T(4), &tk));
  assert_false(tk.wanted);
  /* A commit follows in place (same size) or with a new entry. */
  kv_rowcache_commit(rc, "a", 1, T(7), "FIVE", 4);
  assert_null(rc_get(rc, "a", T(6), NULL));
  assert_string_equal(rc_get(rc, "a", T(7), NULL), "FIVE");
  kv_rowcache_commit(rc, "a", 1, T(8), "seventeen", 9);
  assert_string_equal(rc_get(rc, "a", T(9), NULL), "seventeen");
  kv_rowcache_commit(rc, "a", 1, T(9), "", 0);
  assert_string_equal(rc_get(rc, "a", T(9), NULL), "");
  /* A deletion removes it. */
  kv_rowcache_commit(rc, "a", 1, T(11), NULL, 0);
  assert_null(rc_get(rc, "a", T(20), &tk));
  assert_true(tk.wanted);
  /* A commit of a key without an entry adds none. */
  kv_rowcache_commit(rc, "b", 1, T(12), "b", 1);
  assert_null(rc_get(rc, "b", T(20), NULL));
  uint64_t n, bytes, hits, misses;
  kv_rowcache_usage(rc, &n, &bytes, &hits, &misses);
  assert_int_equal(n, 0);
  assert_int_equal(bytes, 0);
  assert_int_equal(hits, 5);
  kv_rowcache_free(rc);
}

static void test_rowcache_stale_tickets_and_clears_keep_values_out(void **state) {
  (void)state;
  kv_rowcache *rc = kv_rowcache_new(1u << 20);
  kv_rc_ticket tk, tk2;
  /* A commit of the key after the ticket: the reader's value may be older
  ** than the commit's, so it must not go in. */
  assert_null(rc_get(rc, "k", T(10), &tk));
  kv_rowcache_commit(rc, "k", 1, T(11), "new", 3);
  rc_put(rc, &tk, "k", T(9), "old");
  assert_null(rc_get(rc, "k", T(20), &tk2));
  /* A clear after the ticket: likewise. */
  kv_rowcache_clear(rc);
  rc_put(rc, &tk2, "k", T(11), "new");
  assert_null(rc_get(rc, "k", T(20), &tk));
  /* A fresh ticket goes in; a second put of the same key is ignored. */
  rc_put(rc, &tk, "k", T(11), "new");
  rc_put(rc, &tk, "k", T(11), "other");
  assert_string_equal(rc_get(rc, "k", T(20), NULL), "new");
  /* A clear empties everything. */
  kv_rowcache_clear(rc);
  assert_null(rc_get(rc, "k", T(20), NULL));
  uint64_t n, bytes, hits, misses;
  kv_rowcache_usage(rc, &n, &bytes, &hits, &misses);
  assert_int_equal(n, 0);
  kv_rowcache_free(rc);
}

/* Puts keys "key<from>" .. "key<to - 1>", each a miss first, with
** 200-byte values. */
static void fill(kv_rowcache *rc, int from, int to) {
  char k[32], v[200];
  memset(v, 'v', sizeof v - 1);
  v[sizeof v - 1] = 0;
  for (int i = from; i < to; i++) {
    snprintf(k, sizeof k, "key%06d", i);
    kv_rc_ticket tk;
    assert_null(rc_get(rc, k, T(100), &tk));
    rc_put(rc, &tk, k, T(1), v);
  }
}

static void test_rowcache_stays_within_its_budget(void **state) {
  (void)state;
  size_t budget = 256u << 10;
  kv_rowcache *rc = kv_rowcache_new(budget);
  fill(rc, 0, 20000);
  uint64_t n, bytes, hits, misses;
  kv_rowcache_usage(rc, &n, &bytes, &hits, &misses);
  assert_true(bytes <= budget);
  assert_true(n > 500 && n < 20000); /* most were evicted, not refused */
  /* The most recent are kept (eviction starts at the oldest). */
  assert_non_null(rc_get(rc, "key019999", T(100), NULL));
  kv_rowcache_free(rc);
  assert_null(kv_rowcache_new(0));
}

/* An entry read since it was inserted gets a second chance: of 1000
** entries that all fit, every other one is read, then 2000 more are
** inserted, more than fit: the read ones are kept, the others go first. */
static void test_rowcache_read_entries_get_a_second_chance(void **state) {
  (void)state;
  kv_rowcache *rc = kv_rowcache_new(128 * 18 * 300); /* ~18 a shard */
  char k[32];
  fill(rc, 0, 1000);
  uint64_t n, bytes, hits, misses;
  kv_rowcache_usage(rc, &n, &bytes, &hits, &misses);
  assert_int_equal(n, 1000); /* all fit, none read yet */
  for (int j = 0; j < 1000; j += 2) {
    snprintf(k, sizeof k, "key%06d", j);
    assert_non_null(rc_get(rc, k, T(100), NULL));
  }
  fill(rc, 1000, 3000);
  int kept[2] = {0, 0};
  for (int i = 0; i < 1000; i++) {
    snprintf(k, sizeof k, "key%06d", i);
    kept[i % 2] += rc_get(rc, k, T(100), NULL) != NULL;
  }
  print_message("    after 2000 more: %d of 500 read entries kept, %d of "
                "500 others\n", kept[0], kept[1]);
  assert_true(kept[1] < 500);          /* some had to go ... */
  assert_true(kept[0] > kept[1] + 100); /* ... the ones not read */
  kv_rowcache_free(rc);
}

/* ---------------------------------------------------- through txns -- */

static uint64_t hits(kv_store *s) {
  kv_stats st;
  kv_store_stats(s, &st);
  return st.row_cache_hits;
}

/* Reads k in a transaction of its own. */
static char *get1(kv_store *s, const char *k) {
  kv_txn *t = kvt_begin(s);
  const char *v = kvt_get(t, k);
  char *copy = v ? strdup(v) : NULL;
  kvt_commit(t);
  return copy;
}

static void expect1(kv_store *s, const char *k, const char *want) {
  char *got = get1(s, k);
  if (want) assert_string_equal(got, want);
  else assert_null(got);
  free(got);
}

static void test_rowcache_reads_match_the_engine(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_NORMAL;
  o.row_cache_bytes = 64u << 20;
  kv_store *s = kvt_open_dir(dir, &o);
  kvt_put1(s, "a", "1");
  expect1(s, "a", "1"); /* fills the cache */
  uint64_t h0 = hits(s);
  expect1(s, "a", "1");
  assert_int_equal(hits(s), h0 + 1);
  /* An older snapshot is not answered from the newer entry. */
  kv_txn *old = kvt_begin(s);
  kvt_put1(s, "a", "22"); /* a new size: the entry is replaced */
  expect1(s, "a", "22");
  assert_string_equal(kvt_get(old, "a"), "1");
  kvt_commit(old);
  kvt_put1(s, "a", "33"); /* the same size: in place */
  h0 = hits(s);
  expect1(s, "a", "33");
  assert_int_equal(hits(s), h0 + 1);
  /* A locking read answers from it too, and sees the newest. */
  kv_txn *t = kvt_begin(s);
  const void *v;
  size_t n;
  KVT_OK(kv_txn_get(t, "a", 1, KV_READ_FOR_UPDATE, &v, &n, errptr));
  assert_int_equal(n, 2);
  assert_memory_equal(v, "33", 2);
  kvt_put(t, "a", "44");
  kvt_commit(t);
  expect1(s, "a", "44");
  /* A deletion, and a write again. */
  t = kvt_begin(s);
  KVT_OK(kv_txn_delete(t, "a", 1, errptr));
  kvt_commit(t);
  expect1(s, "a", NULL);
  kvt_put1(s, "a", "5");
  expect1(s, "a", "5");
  /* An aborted write changes nothing. */
  t = kvt_begin(s);
  kvt_put(t, "a", "never");
  kv_txn_abort(t);
  expect1(s, "a", "5");
  /* An insert (a locking read found nothing) leaves the cache alone at
  ** commit; the key's first read fills it, the next update follows. */
  t = kvt_begin(s);
  KVT_RC(KV_NOTFOUND, kv_txn_get(t, "n", 1, KV_READ_FOR_UPDATE, &v, &n,
                                 errptr));
  kvt_put(t, "n", "new");
  kvt_commit(t);
  expect1(s, "n", "new");
  h0 = hits(s);
  expect1(s, "n", "new");
  assert_int_equal(hits(s), h0 + 1);
  kvt_put1(s, "n", "NEW");
  expect1(s, "n", "NEW");
  /* A range delete (DROP TABLE's) empties it. */
  kvt_put1(s, "b", "b");
  expect1(s, "b", "b");
  KVT_OK(kv_store_delete_range(s, "a", 1, "c", 1, errptr));
  expect1(s, "a", NULL);
  expect1(s, "b", NULL);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

/* A commit large enough to be ingested as a file names no keys to the
** cache: it must start over. */
static void test_rowcache_ingested_commit(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_NORMAL;
  o.ingest_bytes = 64u << 10;
  o.row_cache_bytes = 64u << 20;
  kv_store *s = kvt_open_dir(dir, &o);
  kvt_put1(s, "k0000", "old");
  expect1(s, "k0000", "old");
  kv_txn *t = kvt_begin(s);
  char k[16], v[128];
  memset(v, 'x', sizeof v - 1);
  v[sizeof v - 1] = 0;
  for (int i = 0; i < 2000; i++) {
    snprintf(k, sizeof k, "k%04d", i);
    kvt_put(t, k, i ? v : "new");
  }
  kvt_commit(t);
  kv_stats st;
  kv_store_stats(s, &st);
  assert_int_equal(st.commits_ingested, 1);
  expect1(s, "k0000", "new");
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

static void test_rowcache_off(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kv_options o;
  kv_options_init(&o);
  o.row_cache_bytes = 0;
  kv_store *s = kvt_open_dir(dir, &o);
  kvt_put1(s, "a", "1");
  expect1(s, "a", "1");
  expect1(s, "a", "1");
  kv_stats st;
  kv_store_stats(s, &st);
  assert_int_equal(st.row_cache_hits + st.row_cache_misses, 0);
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

/* ------------------------------------------------------------ threads -- */

/* Transfers between a few accounts with plain (cached) reads, while other
** threads read every account in one transaction: each such read, and the
** end, must sum to the initial total.  A stale entry (a value older than a
** commit the reader should see) breaks the sum or loses a transfer. */
enum { RC_THREADS = 6, RC_ACCOUNTS = 8, RC_INITIAL = 1000 };

static unsigned rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 8;
}

typedef struct rc_worker {
  kv_store *s;
  int id;
  long iters, done, bad, transfers;
} rc_worker;

static int acct_get(kv_txn *t, int i, int flags, long *bal) {
  char k[16];
  snprintf(k, sizeof k, "acct%d", i);
  const void *v;
  size_t n;
  int rc = kv_txn_get(t, k, strlen(k), flags, &v, &n, NULL);
  if (rc == KV_NOTFOUND && i < RC_ACCOUNTS) {
    *bal = RC_INITIAL;
    return KV_OK;
  }
  if (rc == KV_OK) {
    char buf[32];
    memcpy(buf, v, n < 31 ? n : 31);
    buf[n < 31 ? n : 31] = 0;
    *bal = atol(buf);
  }
  return rc;
}

static int acct_put(kv_txn *t, int i, long bal) {
  char k[16], v[32];
  snprintf(k, sizeof k, "acct%d", i);
  /* An account at its initial balance is absent: entries come and go,
  ** so reads that fill the cache race with commits of the same keys.
  ** Balances of varying width: entries change size too. */
  if (i < RC_ACCOUNTS && bal == RC_INITIAL)
    return kv_txn_delete(t, k, strlen(k), NULL);
  snprintf(v, sizeof v, "%ld", bal);
  return kv_txn_put(t, k, strlen(k), v, strlen(v), NULL);
}

static void *rc_main(void *arg) {
  rc_worker *w = arg;
  unsigned seed = 7919u * (unsigned)w->id + 1;
  for (long i = 0; i < w->iters; i++) {
    kv_txn *t = NULL;
    kv_txn_begin(w->s, NULL, &t, NULL);
    int rc = KV_OK;
    if (w->id % 3 == 0) { /* an auditor */
      long sum = 0, b = 0;
      for (int a = 0; a < RC_ACCOUNTS && rc == KV_OK; a++) {
        rc = acct_get(t, a, 0, &b);
        sum += b;
      }
      if (rc == KV_OK) rc = kv_txn_commit(t, NULL, NULL);
      if (rc == KV_OK && sum != (long)RC_ACCOUNTS * RC_INITIAL) w->bad++;
    } else {
      int from = (int)(rnd(&seed) % RC_ACCOUNTS);
      int to = (int)((from + 1 + rnd(&seed) % (RC_ACCOUNTS - 1)) % RC_ACCOUNTS);
      long amt = (long)(rnd(&seed) % 3), bf = 0, bt = 0;
      int flags = rnd(&seed) % 2 ? KV_READ_FOR_UPDATE : 0;
      rc = acct_get(t, from, flags, &bf);
      if (rc == KV_OK) rc = acct_get(t, to, flags, &bt);
      if (rc == KV_OK) rc = acct_put(t, from, bf - amt);
      if (rc == KV_OK) rc = acct_put(t, to, bt + amt);
      /* Account RC_ACCOUNTS counts the transfers: a lost update shows. */
      long c = 0;
      if (rc == KV_OK) rc = acct_get(t, RC_ACCOUNTS, flags, &c);
      if (rc == KV_OK) rc = acct_put(t, RC_ACCOUNTS, c + 1);
      if (rc == KV_OK) rc = kv_txn_commit(t, NULL, NULL);
      if (rc == KV_OK) w->transfers++;
    }
    if (rc == KV_OK) w->done++;
    else kv_txn_abort(t);
  }
  return NULL;
}

static void test_rowcache_threads_keep_the_total(void **state) {
  (void)state;
  char *dir = kvt_tempdir(0);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_OFF;
  o.lock_timeout_ms = 20000;
  o.row_cache_bytes = 64u << 20;
  kv_store *s = kvt_open_dir(dir, &o);
  kv_txn *t = kvt_begin(s);
  for (int a = 0; a < RC_ACCOUNTS; a++)
    assert_int_equal(acct_put(t, a, RC_INITIAL), KV_OK);
  assert_int_equal(acct_put(t, RC_ACCOUNTS, 0), KV_OK);
  kvt_commit(t);
  rc_worker w[RC_THREADS];
  pthread_t th[RC_THREADS];
  for (int i = 0; i < RC_THREADS; i++) {
    w[i] = (rc_worker){.s = s, .id = i, .iters = kvt_scaled(4000)};
    pthread_create(&th[i], NULL, rc_main, &w[i]);
  }
  long done = 0, transfers = 0;
  for (int i = 0; i < RC_THREADS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(w[i].bad, 0);
    done += w[i].done;
    transfers += w[i].transfers;
  }
  kv_stats st;
  kv_store_stats(s, &st);
  /* The end state, through the cache and then from the engine alone (a
  ** reopened store starts with an empty cache). */
  for (int pass = 0; pass < 2; pass++) {
    if (pass) {
      kv_store_close(s);
      s = kvt_open_dir(dir, &o);
    }
    t = kvt_begin(s);
    long sum = 0, b = 0, count = 0;
    for (int a = 0; a < RC_ACCOUNTS; a++) {
      assert_int_equal(acct_get(t, a, 0, &b), KV_OK);
      sum += b;
    }
    assert_int_equal(acct_get(t, RC_ACCOUNTS, 0, &count), KV_OK);
    kvt_commit(t);
    assert_int_equal(sum, (long)RC_ACCOUNTS * RC_INITIAL);
    assert_int_equal(count, transfers);
  }
  print_message("    %ld commits; row cache: %llu hits, %llu misses\n", done,
                (unsigned long long)st.row_cache_hits,
                (unsigned long long)st.row_cache_misses);
  assert_true(st.row_cache_hits > 0); /* the cache was in play */
  kv_store_close(s);
  kvt_rmrf(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rowcache_entries_answer_at_or_above_their_version),
      cmocka_unit_test(test_rowcache_stale_tickets_and_clears_keep_values_out),
      cmocka_unit_test(test_rowcache_stays_within_its_budget),
      cmocka_unit_test(test_rowcache_read_entries_get_a_second_chance),
      cmocka_unit_test(test_rowcache_reads_match_the_engine),
      cmocka_unit_test(test_rowcache_ingested_commit),
      cmocka_unit_test(test_rowcache_off),
      cmocka_unit_test(test_rowcache_threads_keep_the_total),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
