/*
** test_wbuf.c — the write buffer (kvcore/wbuf.c): versions per key,
** visibility at a sequence number, nested rollbacks, the count of writes,
** big values and many keys in order, and the arena under them.
*/
#include "kvtest.h"

#include "kvint.h"

static kv_wentry *add(kv_wbuf *w, const char *k) {
  kv_wentry *e = kv_wbuf_add(w, k, strlen(k));
  assert_non_null(e);
  return e;
}

static void put(kv_wbuf *w, kv_wentry *e, const char *v) {
  assert_true(kv_wbuf_write(w, e, KV_W_PUT, v, strlen(v)));
}

static void test_wbuf_versions_and_visibility(void **state) {
  (void)state;
  kv_wbuf w;
  assert_true(kv_wbuf_init(&w));
  kv_wentry *a = add(&w, "a");
  assert_int_equal(a->head->kind, KV_W_LOCK);
  assert_ptr_equal(kv_wbuf_find(&w, "a", 1), a);
  assert_null(kv_wbuf_find(&w, "b", 1));
  put(&w, a, "1");
  uint32_t s1 = w.seq;
  put(&w, a, "2");
  assert_true(kv_wbuf_write(&w, a, KV_W_DEL, NULL, 0));
  assert_int_equal(kv_wbuf_visible(a, w.seq)->kind, KV_W_DEL);
  assert_int_equal(kv_wbuf_visible(a, s1)->kind, KV_W_PUT);
  assert_memory_equal(kv_wbuf_visible(a, s1)->val, "1", 1);
  assert_int_equal(kv_wbuf_visible(a, 0)->kind, KV_W_LOCK);
  assert_int_equal(w.nwrites, 1);
  kv_wbuf_free(&w);
}

static void test_wbuf_nested_rollback(void **state) {
  (void)state;
  kv_wbuf w;
  assert_true(kv_wbuf_init(&w));
  kv_wentry *a = add(&w, "a"), *b = add(&w, "b");
  put(&w, a, "a1");
  uint32_t m1 = w.seq;
  put(&w, b, "b1");
  put(&w, a, "a2");
  uint32_t m2 = w.seq;
  assert_true(kv_wbuf_write(&w, b, KV_W_DEL, NULL, 0));
  assert_int_equal(w.nwrites, 2);
  kv_wbuf_rollback(&w, m2);
  assert_int_equal(b->head->kind, KV_W_PUT);
  kv_wbuf_rollback(&w, m1);
  assert_memory_equal(a->head->val, "a1", 2);
  assert_int_equal(b->head->kind, KV_W_LOCK); /* still locked */
  assert_int_equal(w.nwrites, 1);
  put(&w, b, "b2");
  kv_wbuf_rollback(&w, m1); /* the mark stays usable */
  assert_int_equal(b->head->kind, KV_W_LOCK);
  kv_wbuf_rollback(&w, 0);
  assert_int_equal(a->head->kind, KV_W_LOCK);
  assert_int_equal(w.nwrites, 0);
  kv_wbuf_free(&w);
}

static void test_wbuf_big_values_and_many_keys(void **state) {
  (void)state;
  kv_wbuf w;
  assert_true(kv_wbuf_init(&w));
  size_t big = 8u << 20;
  char *v = malloc(big);
  memset(v, 'x', big);
  kv_wentry *e = add(&w, "big");
  assert_true(kv_wbuf_write(&w, e, KV_W_PUT, v, big));
  assert_int_equal(e->head->vlen, big);
  assert_memory_equal(e->head->val, v, big);
  free(v);
  enum { N = 100000 };
  for (int i = N - 1; i >= 0; i--) {
    char k[16];
    snprintf(k, sizeof k, "k%06d", i);
    put(&w, add(&w, k), k);
  }
  int i = 0;
  for (kv_skl_node *n = kv_skl_first(w.skl); n; n = kv_skl_next(n)) {
    kv_wentry *x = n->val;
    /* Keys are klen bytes, not NUL-terminated. */
    if (x->klen == 3 && !memcmp(x->key, "big", 3)) continue;
    char k[16];
    snprintf(k, sizeof k, "k%06d", i++);
    assert_int_equal(x->klen, strlen(k));
    assert_memory_equal(x->key, k, x->klen);
    assert_int_equal(x->head->vlen, x->klen);
    assert_memory_equal(x->head->val, k, x->klen);
  }
  assert_int_equal(i, N);
  kv_wbuf_free(&w);
}

/* The arena past its largest block size (2 MiB, huge-page aligned): pieces
** of every small size stay 8-aligned and keep their own bytes, and a piece
** larger than a quarter block sits between small ones without moving them. */
static void test_wbuf_arena_blocks_keep_their_pieces(void **state) {
  (void)state;
  kv_arena a;
  kv_arena_init(&a);
  enum { N = 120000 };
  static unsigned char *piece[N];
  size_t total = 0;
  for (int i = 0; i < N; i++) {
    size_t n = 1 + (size_t)(i * 37 % 97);
    if (i == N / 2) n = 3u << 20; /* a dedicated block in the middle */
    piece[i] = kv_arena_alloc(&a, n);
    assert_non_null(piece[i]);
    assert_int_equal((uintptr_t)piece[i] % 8, 0);
    memset(piece[i], i & 0xff, n);
    total += n;
  }
  assert_true(a.bytes >= total);
  for (int i = 0; i < N; i++) {
    size_t n = i == N / 2 ? 3u << 20 : 1 + (size_t)(i * 37 % 97);
    assert_int_equal(piece[i][0], i & 0xff);
    assert_int_equal(piece[i][n - 1], i & 0xff);
  }
  kv_arena_free(&a);
  assert_int_equal(a.bytes, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wbuf_versions_and_visibility),
      cmocka_unit_test(test_wbuf_nested_rollback),
      cmocka_unit_test(test_wbuf_big_values_and_many_keys),
      cmocka_unit_test(test_wbuf_arena_blocks_keep_their_pieces),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
