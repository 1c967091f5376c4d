/*
** test_wbuf.c — the write buffer (kvcore/wbuf.c): versions per key,
** visibility at a sequence number, nested rollbacks, the count of writes,
** big values and many keys in order.
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
  }
  assert_int_equal(i, N);
  kv_wbuf_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wbuf_versions_and_visibility),
      cmocka_unit_test(test_wbuf_nested_rollback),
      cmocka_unit_test(test_wbuf_big_values_and_many_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
