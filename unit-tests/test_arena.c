/*
** test_arena.c — the bump allocator (arena.c): every allocation is 8-byte
** aligned and disjoint from every other one, across block boundaries and
** dedicated blocks; a zero-byte request still gets its own pointer; dup
** copies; a request too large for the current block gets a block of its
** own while small allocations keep bumping in the current one; blocks
** double from 4 KiB up to 2 MiB and no further; and freeing returns the
** arena to empty and usable.
*/
#include "kvtest.h"

#include "kvint.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* Allocations of many sizes, each filled with its own byte: none is
** misaligned and none overlaps another (a later fill would show through an
** earlier one). */
static void test_arena_allocations_aligned_and_disjoint(void **state) {
  (void)state;
  enum { N = 3000 };
  static unsigned char *p[N];
  static size_t len[N];
  kv_arena a;
  kv_arena_init(&a);
  uint64_t rnd = 88172645463325252ULL;
  for (int i = 0; i < N; i++) {
    rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
    /* Mostly small, some around the quarter-block limit, a few huge. */
    size_t n = rnd % 7 == 0 ? (size_t)(rnd >> 40) % (300 * KIB)
                            : (size_t)(rnd >> 40) % 200;
    len[i] = n;
    p[i] = kv_arena_alloc(&a, n);
    assert_non_null(p[i]);
    assert_int_equal((uintptr_t)p[i] % 8, 0);
    memset(p[i], i & 0xff, n);
  }
  size_t total = 0;
  for (int i = 0; i < N; i++) {
    total += len[i];
    for (size_t j = 0; j < len[i]; j++)
      if (p[i][j] != (unsigned char)(i & 0xff)) {
        print_error("allocation %d (%zu bytes) overwritten at %zu\n", i,
                    len[i], j);
        fail();
      }
  }
  assert_true(a.bytes >= total);
  kv_arena_free(&a);
}

static void test_arena_zero_bytes_get_distinct_pointers(void **state) {
  (void)state;
  kv_arena a;
  kv_arena_init(&a);
  void *x = kv_arena_alloc(&a, 0);
  void *y = kv_arena_alloc(&a, 0);
  void *z = kv_arena_dup(&a, "ignored", 0);
  assert_non_null(x);
  assert_non_null(y);
  assert_non_null(z);
  assert_ptr_not_equal(x, y);
  assert_ptr_not_equal(y, z);
  kv_arena_free(&a);
}

static void test_arena_dup_copies(void **state) {
  (void)state;
  kv_arena a;
  kv_arena_init(&a);
  char src[] = "key\0with\0nul bytes";
  char *d = kv_arena_dup(&a, src, sizeof src);
  assert_non_null(d);
  assert_ptr_not_equal(d, src);
  assert_memory_equal(d, src, sizeof src);
  src[0] = 'X'; /* a copy, not a reference */
  assert_int_equal(d[0], 'k');
  kv_arena_free(&a);
}

/* A request larger than a quarter of the next block gets a block of its
** own, exactly its size, and small allocations go on right after the last
** one in the current block (nothing of it is wasted). */
static void test_arena_large_request_gets_own_block(void **state) {
  (void)state;
  kv_arena a;
  kv_arena_init(&a);
  char *first = kv_arena_alloc(&a, 16);
  assert_non_null(first);
  assert_int_equal(a.bytes, 4 * KIB);
  size_t left = a.left;
  char *big = kv_arena_alloc(&a, 40 * MIB);
  assert_non_null(big);
  memset(big, 1, 40 * MIB);
  assert_int_equal(a.bytes, 4 * KIB + 40 * MIB); /* exactly its size */
  assert_int_equal(a.left, left);
  char *next = kv_arena_alloc(&a, 16);
  assert_ptr_equal(next, first + 16);
  /* A request that fits what is left of the block bumps there ... */
  assert_ptr_equal(kv_arena_alloc(&a, 3 * KIB), first + 32);
  /* ... and one that does not, above a quarter of the next block (8 KiB),
  ** is linked in as a block of its own as well. */
  char *big2 = kv_arena_alloc(&a, 5 * KIB);
  assert_non_null(big2);
  assert_int_equal(a.bytes, 4 * KIB + 40 * MIB + 5 * KIB);
  assert_int_equal(big[40 * MIB - 1], 1);
  assert_ptr_equal(kv_arena_alloc(&a, 8), first + 32 + 3 * KIB);
  kv_arena_free(&a);
}

/* Blocks double from 4 KiB and stop at 2 MiB: many small allocations take
** few blocks, and the last ones are 2 MiB, not larger. */
static void test_arena_blocks_double_up_to_two_mib(void **state) {
  (void)state;
  kv_arena a;
  kv_arena_init(&a);
  assert_int_equal(a.next_size, 4 * KIB);
  size_t sizes[32];
  int nblocks = 0;
  size_t before = 0;
  for (size_t used = 0; used < 24 * MIB; used += 64) {
    assert_non_null(kv_arena_alloc(&a, 64));
    if (a.bytes != before) {
      if (nblocks < 32) sizes[nblocks] = a.bytes - before;
      nblocks++;
      before = a.bytes;
    }
  }
  assert_true(nblocks <= 32);
  assert_int_equal(sizes[0], 4 * KIB);
  assert_int_equal(sizes[1], 8 * KIB);
  assert_int_equal(sizes[2], 16 * KIB);
  for (int i = 1; i < nblocks; i++) {
    /* Each block is twice the previous one until 2 MiB (whose usable
    ** part is a little less: the block header shares its 2 MiB). */
    assert_true(sizes[i] <= 2 * MIB);
    if (sizes[i - 1] < MIB) assert_int_equal(sizes[i], 2 * sizes[i - 1]);
    else assert_true(sizes[i] > 2 * MIB - 4 * KIB);
  }
  assert_int_equal(a.next_size, 2 * MIB);
  /* Little waste: 24 MiB asked for, under 24 MiB plus two blocks taken. */
  assert_true(a.bytes < 24 * MIB + 4 * MIB);
  kv_arena_free(&a);
}

static void test_arena_free_returns_to_empty(void **state) {
  (void)state;
  kv_arena a;
  kv_arena_init(&a);
  for (int i = 0; i < 1000; i++) assert_non_null(kv_arena_alloc(&a, 100));
  assert_non_null(kv_arena_alloc(&a, 5 * MIB));
  assert_true(a.bytes > 5 * MIB);
  kv_arena_free(&a);
  assert_null(a.head);
  assert_int_equal(a.bytes, 0);
  assert_int_equal(a.left, 0);
  assert_int_equal(a.next_size, 4 * KIB); /* starts small again */
  char *p = kv_arena_dup(&a, "again", 6);
  assert_non_null(p);
  assert_string_equal(p, "again");
  assert_int_equal(a.bytes, 4 * KIB);
  kv_arena_free(&a);
  kv_arena_free(&a); /* freeing an empty arena is harmless */
  assert_int_equal(a.bytes, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arena_allocations_aligned_and_disjoint),
      cmocka_unit_test(test_arena_zero_bytes_get_distinct_pointers),
      cmocka_unit_test(test_arena_dup_copies),
      cmocka_unit_test(test_arena_large_request_gets_own_block),
      cmocka_unit_test(test_arena_blocks_double_up_to_two_mib),
      cmocka_unit_test(test_arena_free_returns_to_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
