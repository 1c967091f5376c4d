/*
** test_spanset.c — read spans (kvcore/spanset.c): condensing under a budget
** may widen spans but must never lose coverage of a key that was read.
*/
#include "kvtest.h"

#include "kvint.h"

static void key_of(char *b, int i) { snprintf(b, 16, "k%04d", i); }

static kv_span pt(const char *k) { return (kv_span){.start = k, .slen = strlen(k)}; }
static kv_span rg(const char *s, const char *e) {
  return (kv_span){.start = s, .slen = strlen(s), .end = e, .elen = e ? strlen(e) : 0,
                   .is_range = 1, .end_inf = e == NULL};
}

static bool has(const kv_spanset *s, const char *k) {
  return kv_spanset_contains(s, k, strlen(k));
}

static void test_spanset_contains_points_and_ranges(void **state) {
  (void)state;
  kv_spanset s;
  kv_spanset_init(&s, 1u << 20);
  kv_span a = pt("b"), r = rg("d", "f"), inf = rg("x", NULL);
  kv_spanset_add(&s, &a);
  kv_spanset_add(&s, &r);
  kv_spanset_add(&s, &inf);
  assert_true(has(&s, "b"));
  assert_false(has(&s, "ba"));
  assert_false(has(&s, "a"));
  assert_true(has(&s, "d"));
  assert_true(has(&s, "e"));
  assert_false(has(&s, "f")); /* end exclusive */
  assert_true(has(&s, "xyz"));
  assert_false(has(&s, "w"));
  kv_spanset_free(&s);
}

static void test_spanset_condense_merges_and_keeps_points(void **state) {
  (void)state;
  kv_spanset s;
  kv_spanset_init(&s, 1u << 20);
  kv_span a = pt("k"), b = pt("k"), r1 = rg("a", "c"), r2 = rg("b", "d"), r3 = rg("d", "e");
  kv_spanset_add(&s, &a);
  kv_spanset_add(&s, &b);
  kv_spanset_add(&s, &r1);
  kv_spanset_add(&s, &r2);
  kv_spanset_add(&s, &r3);
  uint32_t gen = s.gen;
  assert_true(kv_spanset_condense(&s));
  assert_int_equal(s.gen, gen + 1);
  assert_int_equal(s.n, 2); /* [a, e) and the point k */
  assert_true(has(&s, "a") && has(&s, "c") && has(&s, "d") && has(&s, "k"));
  assert_false(has(&s, "e"));
  assert_false(s.v[1].is_range); /* a duplicated point stays a point */
  kv_spanset_free(&s);
}

/* Random points and ranges, condensed with a tiny budget: every key that was
** covered still is, and the bytes are within the budget (or one span). */
static void test_spanset_condense_never_loses_coverage(void **state) {
  (void)state;
  for (int round = 0; round < 50; round++) {
    kv_spanset s;
    kv_spanset_init(&s, 64 + (size_t)round * 8);
    bool covered[1000] = {false};
    uint64_t x = 1234567 + (uint64_t)round;
    char keys[200][2][16];
    for (int i = 0; i < 200; i++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      int lo = (int)((x >> 33) % 990), width = (x >> 20) % 3 ? 0 : 1 + (int)((x >> 8) % 9);
      key_of(keys[i][0], lo);
      key_of(keys[i][1], lo + width);
      kv_span sp = width ? rg(keys[i][0], keys[i][1]) : pt(keys[i][0]);
      assert_true(kv_spanset_add(&s, &sp) >= 0);
      for (int k = lo; k < lo + (width ? width : 1); k++) covered[k] = true;
      if (s.bytes > s.budget) assert_true(kv_spanset_condense(&s));
    }
    assert_true(s.bytes <= s.budget || s.n == 1);
    for (int k = 0; k < 1000; k++) {
      char kb[16];
      key_of(kb, k);
      if (covered[k]) assert_true(has(&s, kb));
    }
    kv_spanset_free(&s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spanset_contains_points_and_ranges),
      cmocka_unit_test(test_spanset_condense_merges_and_keeps_points),
      cmocka_unit_test(test_spanset_condense_never_loses_coverage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
