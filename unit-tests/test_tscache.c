/*
** test_tscache.c — the timestamp cache's contract (kvcore/tscache.c):
** after add(span, ts, owner), max(k, self) >= ts for every k in the span and
** every self != owner.  Checked against a naive reference that remembers
** every add: equal while nothing is evicted, never lower once the budget
** forces evictions, with memory bounded; also owners, ties, the floor, and
** threads.
*/
#include "kvtest.h"

#include "kvint.h"

static kv_ts T(uint64_t w) { return (kv_ts){w, 0}; }

static kv_span point(const char *k) { return (kv_span){.start = k, .slen = strlen(k)}; }

static kv_span range(const char *s, const char *e) {
  kv_span sp = {.start = s, .slen = strlen(s), .is_range = 1};
  if (e) {
    sp.end = e;
    sp.elen = strlen(e);
  } else {
    sp.end_inf = 1;
  }
  return sp;
}

static kv_ts mx(kv_tscache *tc, const char *k, uint64_t self) {
  return kv_tscache_max(tc, k, strlen(k), self, KV_TS_ZERO);
}

static void test_tscache_points_owners_and_floor(void **state) {
  (void)state;
  kv_tscache *tc = kv_tscache_new(4u << 20, T(5));
  assert_int_equal(mx(tc, "a", 0).wall, 5); /* the floor */
  kv_span a = point("a");
  kv_tscache_add(tc, &a, T(10), 1);
  assert_int_equal(mx(tc, "a", 2).wall, 10);
  assert_int_equal(mx(tc, "a", 1).wall, 5); /* its own read does not count */
  assert_int_equal(mx(tc, "b", 2).wall, 5);
  kv_tscache_add(tc, &a, T(8), 2); /* lower: no change */
  assert_int_equal(mx(tc, "a", 1).wall, 5);
  kv_tscache_add(tc, &a, T(10), 2); /* tie with another owner: nobody owns */
  assert_int_equal(mx(tc, "a", 1).wall, 10);
  assert_int_equal(mx(tc, "a", 2).wall, 10);
  /* Asked from a timestamp: exact at or above it, below it otherwise. */
  assert_int_equal(kv_tscache_max(tc, "a", 1, 1, T(10)).wall, 10);
  assert_int_equal(kv_tscache_max(tc, "a", 1, 1, T(9)).wall, 10);
  assert_true(kv_ts_lt(kv_tscache_max(tc, "a", 1, 1, T(11)), T(11)));
  kv_tscache_free(tc);
}

static void test_tscache_ranges_split_and_merge(void **state) {
  (void)state;
  kv_tscache *tc = kv_tscache_new(4u << 20, T(0));
  kv_span r1 = range("b", "f"), r2 = range("d", "h"), r3 = range("a", NULL);
  kv_tscache_add(tc, &r1, T(10), 1);
  kv_tscache_add(tc, &r2, T(20), 2);
  assert_int_equal(mx(tc, "a", 0).wall, 0);
  assert_int_equal(mx(tc, "b", 0).wall, 10);
  assert_int_equal(mx(tc, "c", 0).wall, 10);
  assert_int_equal(mx(tc, "d", 0).wall, 20);
  assert_int_equal(mx(tc, "e", 0).wall, 20);
  assert_int_equal(mx(tc, "g", 0).wall, 20);
  assert_int_equal(mx(tc, "h", 0).wall, 0); /* end is exclusive */
  assert_int_equal(mx(tc, "c", 1).wall, 0); /* owned by 1 */
  kv_tscache_add(tc, &r3, T(15), 3);
  assert_int_equal(mx(tc, "a", 0).wall, 15);
  assert_int_equal(mx(tc, "c", 0).wall, 15);
  assert_int_equal(mx(tc, "e", 0).wall, 20);
  assert_int_equal(mx(tc, "zzz", 0).wall, 15);
  kv_span p = point("c");
  kv_tscache_add(tc, &p, T(30), 4);
  assert_int_equal(mx(tc, "c", 0).wall, 30);
  assert_int_equal(mx(tc, "c", 4).wall, 15);
  kv_tscache_free(tc);
}

/* --------------------------------------------------------- reference -- */

typedef struct ref_add {
  int lo, hi; /* key numbers; point when hi == lo + 1 */
  uint64_t ts, owner;
} ref_add;

static void key_of(char *buf, int i) { snprintf(buf, 16, "k%05d", i); }

/* The reads of key k by others than self, and by self: the contract is
** max(cache, self's own) >= others' — a transaction's own read may stand in
** for lower reads by others, since it writes above its own reads anyway. */
static void ref_reads(const ref_add *adds, int n, int k, uint64_t self,
                      uint64_t *others, uint64_t *mine) {
  *others = *mine = 0;
  for (int i = 0; i < n; i++) {
    if (k < adds[i].lo || k >= adds[i].hi) continue;
    uint64_t *m = adds[i].owner == self ? mine : others;
    if (adds[i].ts > *m) *m = adds[i].ts;
  }
}

static void run_reference(size_t budget, int nadds, bool exact) {
  kv_tscache *tc = kv_tscache_new(budget, T(1));
  ref_add *adds = calloc((size_t)nadds, sizeof(ref_add));
  uint64_t x = 7;
  for (int i = 0; i < nadds; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int lo = (int)((x >> 33) % 2000);
    int width = (x >> 20) % 4 == 0 ? 1 + (int)((x >> 8) % 50) : 1;
    ref_add *a = &adds[i];
    *a = (ref_add){lo, lo + width, 10 + (x >> 40) % 1000, 1 + (x >> 12) % 6};
    char s[16], e[16];
    key_of(s, a->lo);
    key_of(e, a->hi);
    kv_span sp = width == 1 ? point(s) : range(s, e);
    kv_tscache_add(tc, &sp, T(a->ts), a->owner);
    if (i % 97 == 0) {
      for (int k = 0; k < 2001; k += 37) {
        char kb[16];
        key_of(kb, k);
        for (uint64_t self = 1; self < 7; self++) {
          uint64_t others, mine;
          ref_reads(adds, i + 1, k, self, &others, &mine);
          uint64_t got = mx(tc, kb, self).wall;
          /* Never below what others read (unless self read higher). */
          assert_true(got >= others || mine >= others);
          /* Without evictions, never above any read or the floor. */
          if (exact) assert_true(got <= (others > mine ? others : mine) || got == 1);
          /* Asked from a timestamp: the same answer when it reaches it,
          ** something below it otherwise. */
          kv_ts from = T(10 + (uint64_t)(k * 7 + (int)self) % 1000);
          kv_ts part = kv_tscache_max(tc, kb, strlen(kb), self, from);
          if (kv_ts_le(from, T(got)))
            assert_int_equal(part.wall, got);
          else
            assert_true(kv_ts_lt(part, from));
        }
      }
    }
  }
  free(adds);
  kv_tscache_free(tc);
}

static void test_tscache_equals_reference_without_eviction(void **state) {
  (void)state;
  run_reference(64u << 20, 3000, true);
}

static void test_tscache_never_below_reference_with_eviction(void **state) {
  (void)state;
  run_reference(1u << 20, 20000, false);
}

static void test_tscache_memory_is_bounded(void **state) {
  (void)state;
  size_t budget = 1u << 20;
  kv_tscache *tc = kv_tscache_new(budget, T(1));
  uint64_t peak = 0;
  long n = kvt_scaled(1000000);
  for (long i = 0; i < n; i++) {
    char k[32];
    snprintf(k, sizeof k, "key-%ld", i);
    kv_span sp = point(k);
    kv_tscache_add(tc, &sp, T((uint64_t)i + 10), 1);
    if (i % 1000 == 0) {
      char s[32], e[32];
      snprintf(s, sizeof s, "r-%ld", i);
      snprintf(e, sizeof e, "r-%ld~", i);
      kv_span r = range(s, e);
      kv_tscache_add(tc, &r, T((uint64_t)i + 10), 2);
    }
    if (i % 10000 == 0) {
      uint64_t entries, bytes;
      kv_tscache_usage(tc, &entries, &bytes);
      if (bytes > peak) peak = bytes;
    }
  }
  /* Forgotten reads went into the low-water marks: still covered. */
  assert_true(mx(tc, "key-0", 0).wall >= 10);
  print_message("    %ld keys added, peak %llu KiB for a %zu KiB budget\n", n,
                (unsigned long long)(peak / 1024), budget / 1024);
  assert_true(peak <= 2 * budget);
  kv_tscache_free(tc);
}

typedef struct worker {
  kv_tscache *tc;
  int id, bad;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  for (int i = 0; i < 20000; i++) {
    char k[32];
    snprintf(k, sizeof k, "w%d-%d", w->id, i % 500);
    kv_span sp = point(k);
    kv_ts ts = T(100 + (uint64_t)i);
    kv_tscache_add(w->tc, &sp, ts, (uint64_t)w->id + 1);
    /* Another transaction's view must include this read. */
    if (kv_ts_lt(kv_tscache_max(w->tc, k, strlen(k), 999, ts), ts)) w->bad++;
  }
  return NULL;
}

static void test_tscache_threads_keep_the_contract(void **state) {
  (void)state;
  kv_tscache *tc = kv_tscache_new(1u << 20, T(1));
  worker w[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (worker){tc, i, 0};
    pthread_create(&th[i], NULL, worker_main, &w[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(w[i].bad, 0);
  }
  kv_tscache_free(tc);
}

/* Adjacent ranges read at one timestamp merge into one interval, and the
** cache's byte count follows: 20,000 merges leave it what one interval
** costs.  A count that drifted upwards would pass the budget for good, and
** every add would then evict the newest reads into the ownerless low-water
** mark, pushing each transaction by its own reads until it failed. */
static void test_tscache_merged_ranges_keep_their_byte_count(void **state) {
  (void)state;
  kv_tscache *one = kv_tscache_new(4u << 20, T(1));
  kv_span whole = range("k00000", "k20000");
  kv_tscache_add(one, &whole, T(5), 7);
  uint64_t want_entries, want_bytes;
  kv_tscache_usage(one, &want_entries, &want_bytes);
  kv_tscache_free(one);

  kv_tscache *tc = kv_tscache_new(4u << 20, T(1));
  for (int i = 0; i < 20000; i++) {
    char s[16], e[16];
    snprintf(s, sizeof s, "k%05d", i);
    snprintf(e, sizeof e, "k%05d", i + 1);
    kv_span sp = range(s, e);
    kv_tscache_add(tc, &sp, T(5), 7);
  }
  uint64_t entries, bytes;
  kv_tscache_usage(tc, &entries, &bytes);
  assert_int_equal(entries, want_entries);
  assert_int_equal(bytes, want_bytes);
  /* Nothing was evicted: a key no read covered is not pushed. */
  assert_true(kv_ts_lt(mx(tc, "z", 0), T(5)));
  kv_tscache_free(tc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tscache_points_owners_and_floor),
      cmocka_unit_test(test_tscache_ranges_split_and_merge),
      cmocka_unit_test(test_tscache_equals_reference_without_eviction),
      cmocka_unit_test(test_tscache_never_below_reference_with_eviction),
      cmocka_unit_test(test_tscache_memory_is_bounded),
      cmocka_unit_test(test_tscache_threads_keep_the_contract),
      cmocka_unit_test(test_tscache_merged_ranges_keep_their_byte_count),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
