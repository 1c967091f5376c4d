/*
** test_skl.c — the ordered map (kvcore/skl.c) against a reference: random
** inserts, deletes, finds and seeks compared with a sorted array, for both
** arena-backed and malloc-backed maps; keys include the empty key, NUL
** bytes and shared prefixes.  Ascending inserts take a shortcut past the
** tail; a run of appends mixed with deletes of the tail checks it.
*/
#include "kvtest.h"

#include "kvint.h"

#define NKEYS 300

static char keys[NKEYS][8];
static size_t klen[NKEYS];

static int kcmp(int a, int b) {
  return kv_bytes_cmp(keys[a], klen[a], keys[b], klen[b]);
}

static void make_keys(void) {
  for (int i = 0; i < NKEYS; i++) {
    klen[i] = (size_t)(i % 5); /* 0..4 bytes: prefixes and empty keys */
    for (size_t j = 0; j < klen[i]; j++)
      keys[i][j] = (char)((i * 7 + j * 13) % 4); /* small alphabet with NUL */
  }
}

/* The reference: present[i] for distinct key contents. */
static int find_ref(const int *present, int k) {
  for (int i = 0; i < NKEYS; i++)
    if (present[i] && kcmp(i, k) == 0) return i;
  return -1;
}

static void check_order(kv_skl *s, const int *present) {
  size_t n = 0;
  kv_skl_node *prev = NULL;
  for (kv_skl_node *x = kv_skl_first(s); x; x = kv_skl_next(x)) {
    if (prev) assert_true(kv_bytes_cmp(prev->key, prev->klen, x->key, x->klen) < 0);
    assert_ptr_equal(kv_skl_prev(x), prev);
    prev = x;
    n++;
  }
  assert_ptr_equal(kv_skl_last(s), prev);
  size_t want = 0;
  for (int i = 0; i < NKEYS; i++) want += present[i] != 0;
  assert_int_equal(n, want);
  assert_int_equal(kv_skl_count(s), want);
}

static void run_differential(kv_arena *arena) {
  make_keys();
  kv_skl *s = kv_skl_new(arena);
  assert_non_null(s);
  int present[NKEYS] = {0};
  uint64_t x = 99;
  for (int step = 0; step < 20000; step++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int k = (int)((x >> 33) % NKEYS);
    int op = (int)((x >> 20) % 4);
    int r = find_ref(present, k);
    kv_skl_node *f = kv_skl_find(s, keys[k], klen[k]);
    assert_true((r >= 0) == (f != NULL));
    if (op <= 1 && r < 0) {
      assert_non_null(kv_skl_insert(s, keys[k], klen[k], (void *)(intptr_t)k));
      present[k] = 1;
    } else if (op == 2 && r >= 0 && !arena) {
      kv_skl_delete(s, f);
      present[r] = 0;
    } else {
      /* seek_ge / seek_le agree with the reference */
      int ge = -1, le = -1;
      for (int i = 0; i < NKEYS; i++) {
        if (!present[i]) continue;
        int c = kcmp(i, k);
        if (c >= 0 && (ge < 0 || kcmp(i, ge) < 0)) ge = i;
        if (c <= 0 && (le < 0 || kcmp(i, le) > 0)) le = i;
      }
      kv_skl_node *g = kv_skl_seek_ge(s, keys[k], klen[k]);
      kv_skl_node *l = kv_skl_seek_le(s, keys[k], klen[k]);
      assert_true((ge < 0) == (g == NULL));
      assert_true((le < 0) == (l == NULL));
      if (g) assert_int_equal(kv_bytes_cmp(g->key, g->klen, keys[ge], klen[ge]), 0);
      if (l) assert_int_equal(kv_bytes_cmp(l->key, l->klen, keys[le], klen[le]), 0);
    }
    if (step % 1000 == 0) check_order(s, present);
  }
  check_order(s, present);
  kv_skl_free(s);
}

static void test_skl_matches_reference_malloc(void **state) {
  (void)state;
  run_differential(NULL);
}

static void test_skl_matches_reference_arena(void **state) {
  (void)state;
  kv_arena a;
  kv_arena_init(&a);
  run_differential(&a);
  kv_arena_free(&a);
}

static void test_skl_empty_map(void **state) {
  (void)state;
  kv_skl *s = kv_skl_new(NULL);
  assert_null(kv_skl_first(s));
  assert_null(kv_skl_last(s));
  assert_null(kv_skl_seek_ge(s, "", 0));
  assert_null(kv_skl_seek_le(s, "zz", 2));
  assert_int_equal(kv_skl_count(s), 0);
  kv_skl_free(s);
}

static void test_skl_many_keys_in_order(void **state) {
  (void)state;
  kv_arena a;
  kv_arena_init(&a);
  kv_skl *s = kv_skl_new(&a);
  enum { N = 100000 };
  for (int i = N - 1; i >= 0; i--) {
    char *k = kv_arena_alloc(&a, 8);
    for (int j = 0; j < 8; j++) k[j] = (char)(((unsigned)i * 2654435761u) >> (j * 4));
    uint32_t be = (uint32_t)i;
    k[0] = (char)(be >> 24); k[1] = (char)(be >> 16); k[2] = (char)(be >> 8); k[3] = (char)be;
    assert_non_null(kv_skl_insert(s, k, 4, NULL));
  }
  int i = 0;
  for (kv_skl_node *x = kv_skl_first(s); x; x = kv_skl_next(x), i++) {
    const unsigned char *k = (const unsigned char *)x->key;
    assert_int_equal((k[0] << 24 | k[1] << 16 | k[2] << 8 | k[3]), i);
  }
  assert_int_equal(i, N);
  kv_skl_free(s);
  kv_arena_free(&a);
}

/* Appends (the shortcut past the tail) mixed with deletes of the tail and
** of random nodes: every level's last node must follow, or a later append
** links into a deleted node and finds fail. */
static void test_skl_appends_and_tail_deletes(void **state) {
  (void)state;
  enum { N = 3000 };
  static char k[N][4];
  static int present[N];
  memset(present, 0, sizeof present);
  kv_skl *s = kv_skl_new(NULL);
  uint64_t x = 7;
  int next = 0;
  for (int step = 0; step < 3 * N && next < N; step++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int op = (int)((x >> 33) % 8);
    if (op < 5 || !kv_skl_count(s)) {
      for (int j = 0; j < 4; j++) k[next][j] = (char)(next >> (24 - 8 * j));
      assert_non_null(kv_skl_insert(s, k[next], 4, (void *)(intptr_t)next));
      present[next++] = 1;
    } else if (op < 7) {
      kv_skl_node *t = kv_skl_last(s);
      present[(int)(intptr_t)t->val] = 0;
      kv_skl_delete(s, t);
    } else {
      int i = (int)((x >> 40) % (uint64_t)next);
      kv_skl_node *f = kv_skl_find(s, k[i], 4);
      assert_true((f != NULL) == (present[i] != 0));
      if (f) {
        kv_skl_delete(s, f);
        present[i] = 0;
      }
    }
    if (step % 97 == 0) {
      size_t n = 0;
      for (int i = 0; i < next; i++) {
        kv_skl_node *f = kv_skl_find(s, k[i], 4);
        assert_true((f != NULL) == (present[i] != 0));
        n += present[i] != 0;
      }
      assert_int_equal(kv_skl_count(s), n);
    }
  }
  int prev = -1;
  for (kv_skl_node *n = kv_skl_first(s); n; n = kv_skl_next(n)) {
    int i = (int)(intptr_t)n->val;
    assert_true(present[i] && i > prev);
    prev = i;
  }
  kv_skl_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_skl_matches_reference_malloc),
      cmocka_unit_test(test_skl_matches_reference_arena),
      cmocka_unit_test(test_skl_empty_map),
      cmocka_unit_test(test_skl_many_keys_in_order),
      cmocka_unit_test(test_skl_appends_and_tail_deletes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
