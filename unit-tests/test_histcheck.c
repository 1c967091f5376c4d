/*
** test_histcheck.c — the list-append history checker: valid histories
** (serial, concurrent, empty reads, UNKNOWN txns seen or not, real-time
** order respected) pass; each hand-made anomaly (G0, G1a, G1b, G1c,
** G-single, G2, lost update, realtime, incompatible order, duplicates,
** garbage, internal) is reported with its exact code; a generated serial
** history of 10k txns passes and fails once one read is corrupted; 100k
** txns check without trouble.
**
** Histories are written as small scripts, one string per txn: "a1=5"
** appends 5 to key 1, "r1=5,6" reads key 1 and saw [5, 6], "r1=" saw [].
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histcheck.h"

enum { C = HC_COMMITTED, A = HC_ABORTED, U = HC_UNKNOWN };
#define MAX_SCRIPT_OPS 16
#define MAX_SCRIPT_LIST 64

/* Adds one txn written as a script (see the header comment); returns its
** index. */
static long add_timed(hc_history *h, int status, const char *script,
                      uint64_t start, uint64_t end) {
  hc_op ops[MAX_SCRIPT_OPS];
  int64_t lists[MAX_SCRIPT_OPS][MAX_SCRIPT_LIST];
  size_t n = 0;
  const char *p = script;
  while (*p) {
    while (*p == ' ') p++;
    if (!*p) break;
    assert_true(n < MAX_SCRIPT_OPS && (*p == 'a' || *p == 'r'));
    char *q;
    hc_op *o = &ops[n];
    memset(o, 0, sizeof *o);
    o->is_read = *p == 'r';
    o->key = strtoll(p + 1, &q, 10);
    assert_true(*q == '=');
    p = q + 1;
    if (!o->is_read) {
      o->value = strtoll(p, &q, 10);
      p = q;
    } else {
      o->list = lists[n];
      while (*p && *p != ' ') {
        assert_true(o->list_len < MAX_SCRIPT_LIST);
        lists[n][o->list_len++] = strtoll(p, &q, 10);
        p = *q == ',' ? q + 1 : q;
      }
    }
    n++;
  }
  long t = hc_add_txn(h, status, ops, n, start, end);
  assert_true(t >= 0);
  return t;
}

static long add(hc_history *h, int status, const char *script) {
  return add_timed(h, status, script, 0, 0);
}

/* Checks h and expects the anomaly `want`; prints the description. */
static hc_result expect(hc_history *h, int flags, int want) {
  hc_result r;
  assert_int_equal(hc_check(h, flags, &r), 0);
  if (r.anomaly != want)
    print_error("expected %s, got %s: %s\n", hc_anomaly_name(want),
                hc_anomaly_name(r.anomaly), r.desc);
  assert_int_equal(r.anomaly, want);
  if (want == HC_OK) assert_string_equal(r.desc, "");
  else assert_non_null(strstr(r.desc, hc_anomaly_name(want)));
  return r;
}

static int setup(void **state) {
  *state = hc_create();
  return *state ? 0 : -1;
}

static int teardown(void **state) {
  hc_destroy(*state);
  return 0;
}

/* ------------------------------------------------------------ valid -- */

static void test_histcheck_empty_history_ok(void **state) {
  hc_result r = expect(*state, HC_CHECK_REALTIME, HC_OK);
  assert_int_equal(r.ntxns, 0);
  assert_int_equal(r.ncommitted, 0);
}

static void test_histcheck_serial_history_ok(void **state) {
  hc_history *h = *state;
  add(h, C, "r1= a1=1");
  add(h, C, "r1=1 a1=2 a2=3");
  add(h, C, "r1=1,2 r2=3 a2=4");
  add(h, C, "r2=3,4 r1=1,2");
  hc_result r = expect(h, 0, HC_OK);
  assert_int_equal(r.ntxns, 4);
  assert_int_equal(r.ncommitted, 4);
  assert_int_equal(r.nedges_ww, 2); /* T0->T1 (k1), T1->T2 (k2) */
  assert_int_equal(r.nedges_wr, 5); /* T0->T1, T1->T2 x2, T2->T3, T1->T3 */
  assert_int_equal(r.nedges_rw, 0); /* every read's successor is its own */
}

static void test_histcheck_concurrent_serializable_ok(void **state) {
  hc_history *h = *state;
  /* Overlapping in time; serializable as T0 T2 T1 T3. */
  add_timed(h, C, "a1=1 r2=", 10, 100);
  add_timed(h, C, "a2=2 r1=1", 20, 110);
  add_timed(h, C, "r1=1 r2=", 30, 120);
  add_timed(h, C, "r2=2 r1=1 a1=3", 40, 130);
  add_timed(h, C, "r1=1,3", 200, 210);
  expect(h, HC_CHECK_REALTIME, HC_OK);
  expect(h, 0, HC_OK);
}

static void test_histcheck_empty_reads_ok(void **state) {
  hc_history *h = *state;
  add(h, C, "r1= r2= r3=");
  add(h, C, "r1= a1=1");
  add(h, C, "r7=");
  add(h, C, "r1=1");
  hc_result r = expect(h, 0, HC_OK);
  assert_int_equal(r.nedges_rw, 1); /* T0 -rw-> T1; T1's read is its own */
}

static void test_histcheck_unknown_seen_counts_as_committed(void **state) {
  hc_history *h = *state;
  add(h, U, "a1=1");
  add(h, C, "r1=1");
  hc_result r = expect(h, 0, HC_OK);
  assert_int_equal(r.ncommitted, 2);
  assert_int_equal(r.nedges_wr, 1);
}

static void test_histcheck_unknown_seen_transitively(void **state) {
  hc_history *h = *state;
  /* T2 sees T1 (unknown), whose read sees T0 (unknown): both count, and
  ** T1's read then shows the G1c T0 -wr-> T1 -wr-> T0. */
  add(h, U, "a1=1 r2=2");
  add(h, U, "a2=2 r1=1");
  add(h, C, "r2=2");
  hc_result r = expect(h, 0, HC_ANOMALY_G1C);
  assert_int_equal(r.ncommitted, 3);
}

static void test_histcheck_unknown_unseen_ignored(void **state) {
  hc_history *h = *state;
  /* Nobody saw 2, so T1 did not commit, and its read of garbage (99)
  ** does not count. */
  add(h, C, "a1=1");
  add(h, U, "a1=2 r3=99");
  add(h, C, "r1=1");
  hc_result r = expect(h, 0, HC_OK);
  assert_int_equal(r.ncommitted, 2);
}

static void test_histcheck_aborted_reads_ignored(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1");
  add(h, A, "r1=5,1 r2=99");
  expect(h, 0, HC_OK);
}

static void test_histcheck_realtime_respected_ok(void **state) {
  hc_history *h = *state;
  add_timed(h, C, "a1=1", 10, 20);
  add_timed(h, C, "r1=1 a1=2", 30, 40);
  add_timed(h, C, "r1=1,2", 35, 50); /* overlaps T1 */
  add_timed(h, C, "r1=1,2", 60, 70);
  hc_result r = expect(h, HC_CHECK_REALTIME, HC_OK);
  /* T0 T1 T2 T3 -> barriers; barriers -> T1 T2 T3 (T0 starts first). */
  assert_int_equal(r.nedges_rt, 4 + 3);
  assert_int_equal(expect(h, 0, HC_OK).nedges_rt, 0);
}

static void test_histcheck_unknown_end_is_not_a_bound(void **state) {
  hc_history *h = *state;
  /* T0 gave up at 20 but committed later than T1's read at 30. */
  add_timed(h, U, "a1=1", 10, 20);
  add_timed(h, C, "r1=", 30, 40);
  add_timed(h, C, "r1=1", 50, 60);
  expect(h, HC_CHECK_REALTIME, HC_OK);
}

static void test_histcheck_own_intermediate_read_ok(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1 r1=1 a1=2 r1=1,2");
  add(h, C, "r1=1,2");
  expect(h, 0, HC_OK);
}

/* ------------------------------------------------ cycle anomalies -- */

static void test_histcheck_g0_write_cycle(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1 a2=2");
  add(h, C, "a1=3 a2=4");
  add(h, C, "r1=1,3 r2=4,2");
  hc_result r = expect(h, 0, HC_ANOMALY_G0);
  assert_non_null(strstr(r.desc, "-ww(k1)->"));
  assert_non_null(strstr(r.desc, "-ww(k2)->"));
}

static void test_histcheck_g1a_aborted_read(void **state) {
  hc_history *h = *state;
  add(h, A, "a1=1");
  add(h, C, "r1=1");
  hc_result r = expect(h, 0, HC_ANOMALY_G1A);
  assert_non_null(strstr(r.desc, "aborted T0"));
}

static void test_histcheck_g1b_intermediate_read(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1 a1=2");
  add(h, C, "r1=1");
  expect(h, 0, HC_ANOMALY_G1B);
}

static void test_histcheck_g1c_circular_flow(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1 r2=2");
  add(h, C, "a2=2 r1=1");
  hc_result r = expect(h, 0, HC_ANOMALY_G1C);
  assert_non_null(strstr(r.desc, "-wr(k1)->"));
  assert_non_null(strstr(r.desc, "-wr(k2)->"));
}

static void test_histcheck_g1c_mixed_ww_wr(void **state) {
  hc_history *h = *state;
  /* T0 -ww(k1)-> T1 -wr(k2)-> T0. */
  add(h, C, "a1=1 r2=2");
  add(h, C, "a1=3 a2=2");
  add(h, C, "r1=1,3");
  expect(h, 0, HC_ANOMALY_G1C);
}

static void test_histcheck_gsingle_read_skew(void **state) {
  hc_history *h = *state;
  add(h, C, "r1= r2=20");      /* saw T1's y but not its x */
  add(h, C, "a1=10 a2=20");
  add(h, C, "r1=10 r2=20");
  hc_result r = expect(h, 0, HC_ANOMALY_GSINGLE);
  assert_non_null(strstr(r.desc, "T0 -rw(k1)-> T1 -wr(k2)-> T0"));
}

static void test_histcheck_g2_write_skew(void **state) {
  hc_history *h = *state;
  add(h, C, "r1= a2=1");
  add(h, C, "r2= a1=2");
  add(h, C, "r1=2 r2=1");
  hc_result r = expect(h, 0, HC_ANOMALY_G2);
  assert_non_null(strstr(r.desc, "-rw(k1)->"));
  assert_non_null(strstr(r.desc, "-rw(k2)->"));
}

static void test_histcheck_lost_update(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1");
  add(h, C, "r1=1 a1=2");
  add(h, C, "r1=1 a1=3"); /* lost T1's update */
  add(h, C, "r1=1,2,3");
  hc_result r = expect(h, 0, HC_ANOMALY_GSINGLE);
  assert_non_null(strstr(r.desc, "T2 -rw(k1)-> T1 -ww(k1)-> T2"));
}

static void test_histcheck_g2_three_txns(void **state) {
  hc_history *h = *state;
  add(h, C, "r1= a2=1");
  add(h, C, "r2= a3=2");
  add(h, C, "r3= a1=3");
  add(h, C, "r1=3 r2=1 r3=2");
  hc_result r = expect(h, 0, HC_ANOMALY_G2);
  assert_non_null(strstr(r.desc, "T0 -rw(k1)-> T2 -rw(k3)-> T1 -rw(k2)-> T0"));
}

static void test_histcheck_most_specific_component_wins(void **state) {
  hc_history *h = *state;
  /* A G2 in txns 0-2 and a G0 in txns 3-5: G0 is reported. */
  add(h, C, "r1= a2=1");
  add(h, C, "r2= a1=2");
  add(h, C, "r1=2 r2=1");
  add(h, C, "a11=11 a12=12");
  add(h, C, "a11=13 a12=14");
  add(h, C, "r11=11,13 r12=14,12");
  expect(h, 0, HC_ANOMALY_G0);
}

static void test_histcheck_realtime_violation_needs_flag(void **state) {
  hc_history *h = *state;
  add_timed(h, C, "a1=1", 10, 20);
  add_timed(h, C, "r1=", 30, 40); /* started after T0 ended, missed it */
  add_timed(h, C, "r1=1", 50, 60);
  expect(h, 0, HC_OK);
  hc_result r = expect(h, HC_CHECK_REALTIME, HC_ANOMALY_REALTIME);
  assert_non_null(strstr(r.desc, "T0 -rt-> T1 -rw(k1)-> T0"));
}

static void test_histcheck_realtime_equal_times_no_edge(void **state) {
  hc_history *h = *state;
  /* T1 starts exactly when T0 ends: not "after", so no real-time edge. */
  add_timed(h, C, "a1=1", 10, 30);
  add_timed(h, C, "r1=", 30, 40);
  add_timed(h, C, "r1=1", 50, 60);
  expect(h, HC_CHECK_REALTIME, HC_OK);
}

/* -------------------------------------------- non-cycle anomalies -- */

static void test_histcheck_incompatible_order(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1");
  add(h, C, "a1=2");
  add(h, C, "r1=1,2");
  add(h, C, "r1=2,1");
  expect(h, 0, HC_ANOMALY_INCOMPATIBLE_ORDER);
}

static void test_histcheck_incompatible_same_length(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1");
  add(h, C, "a1=2");
  add(h, C, "r1=1");
  add(h, C, "r1=2");
  expect(h, 0, HC_ANOMALY_INCOMPATIBLE_ORDER);
}

static void test_histcheck_duplicate_in_list(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1");
  add(h, C, "r1=1,1");
  hc_result r = expect(h, 0, HC_ANOMALY_INCOMPATIBLE_ORDER);
  assert_non_null(strstr(r.desc, "twice"));
}

static void test_histcheck_duplicate_append(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1");
  add(h, A, "a2=1");
  hc_result r = expect(h, 0, HC_ANOMALY_INCOMPATIBLE_ORDER);
  assert_non_null(strstr(r.desc, "appended by both T0 and T1"));
}

static void test_histcheck_garbage(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1");
  add(h, C, "r1=1,99");
  expect(h, 0, HC_ANOMALY_GARBAGE);
}

static void test_histcheck_garbage_wrong_key(void **state) {
  hc_history *h = *state;
  add(h, C, "a2=1");
  add(h, C, "r1=1");
  hc_result r = expect(h, 0, HC_ANOMALY_GARBAGE);
  assert_non_null(strstr(r.desc, "to key 2"));
}

static void test_histcheck_internal_missing_own_append(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1");
  add(h, C, "a1=2 r1=1");
  expect(h, 0, HC_ANOMALY_INTERNAL);
}

static void test_histcheck_internal_own_appends_out_of_order(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1 a1=2 r1=2,1");
  expect(h, 0, HC_ANOMALY_INTERNAL);
}

static void test_histcheck_internal_reads_disagree(void **state) {
  hc_history *h = *state;
  add(h, C, "a1=1");
  add(h, C, "a1=2");
  add(h, C, "r1=1 a1=3 r1=1,2,3"); /* 2 appeared between its reads */
  add(h, C, "r1=1,2,3");
  expect(h, 0, HC_ANOMALY_INTERNAL);
}

/* ------------------------------------------------------------- api -- */

static void test_histcheck_add_txn_rejects_bad_arguments(void **state) {
  hc_history *h = *state;
  hc_op rd = {.is_read = 1, .key = 1, .list = NULL, .list_len = 2};
  assert_int_equal(hc_add_txn(h, 0, NULL, 0, 0, 0), -1);
  assert_int_equal(hc_add_txn(h, 4, NULL, 0, 0, 0), -1);
  assert_int_equal(hc_add_txn(h, C, NULL, 1, 0, 0), -1);
  assert_int_equal(hc_add_txn(h, C, &rd, 1, 0, 0), -1);
  assert_int_equal(hc_add_txn(h, C, NULL, 0, 0, 0), 0);
  assert_int_equal(add(h, C, "a1=1"), 1);
  assert_int_equal(expect(h, 0, HC_OK).ntxns, 2);
}

static void test_histcheck_add_txn_copies_lists(void **state) {
  hc_history *h = *state;
  int64_t seen[1] = {1};
  hc_op ops[2] = {{.is_read = 1, .key = 1, .list = seen, .list_len = 1},
                  {.key = 2, .value = 2}};
  add(h, C, "a1=1");
  assert_int_equal(hc_add_txn(h, C, ops, 2, 0, 0), 1);
  seen[0] = 99; /* would be garbage if it had been borrowed */
  expect(h, 0, HC_OK);
}

static void test_histcheck_anomaly_names(void **state) {
  (void)state;
  assert_string_equal(hc_anomaly_name(HC_OK), "ok");
  assert_string_equal(hc_anomaly_name(HC_ANOMALY_G0), "G0");
  assert_string_equal(hc_anomaly_name(HC_ANOMALY_GSINGLE), "G-single");
  assert_string_equal(hc_anomaly_name(HC_ANOMALY_INTERNAL), "internal");
  assert_string_equal(hc_anomaly_name(-1), "unknown");
  assert_string_equal(hc_anomaly_name(HC_ANOMALY_INTERNAL + 1), "unknown");
}

/* ------------------------------------------------------- generated -- */

/* A generated history: a serial execution against an in-memory list store,
** with real-time bounds around each txn's commit point that respect the
** serial order, some txns aborted (writes dropped) and some UNKNOWN
** (writes applied or not, at random). */
typedef struct gen_txn {
  int status;
  size_t nops;
  hc_op ops[6];
  uint64_t start, end;
} gen_txn;

typedef struct gen {
  gen_txn *txns;
  size_t ntxns;
  uint32_t *writer; /* value -> txn index */
} gen;

static uint64_t rnd(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
  return *s * 2685821657736338717ULL;
}

static void gen_build(gen *g, size_t ntxns, size_t nkeys, uint64_t seed) {
  int64_t **lists = calloc(nkeys, sizeof *lists);
  size_t *lens = calloc(nkeys, sizeof *lens);
  size_t *caps = calloc(nkeys, sizeof *caps);
  g->txns = calloc(ntxns, sizeof *g->txns);
  g->writer = calloc(ntxns * 6 + 1, sizeof *g->writer);
  g->ntxns = ntxns;
  assert_true(lists && lens && caps && g->txns && g->writer);
  int64_t next = 1;
  for (size_t i = 0; i < ntxns; i++) {
    gen_txn *t = &g->txns[i];
    uint64_t r = rnd(&seed) % 100;
    t->status = r < 5 ? A : r < 10 ? U : C;
    int apply = t->status == C || (t->status == U && rnd(&seed) % 2);
    uint64_t at = 1000 + 100 * (uint64_t)i; /* commit point */
    t->start = at - rnd(&seed) % 150;
    t->end = at + 1 + rnd(&seed) % 150;
    t->nops = 1 + rnd(&seed) % 6;
    for (size_t j = 0; j < t->nops; j++) {
      hc_op *o = &t->ops[j];
      size_t k = rnd(&seed) % nkeys;
      o->key = (int64_t)k;
      o->is_read = rnd(&seed) % 2;
      if (o->is_read) {
        int64_t *copy = malloc((lens[k] + 1) * sizeof *copy);
        assert_non_null(copy);
        if (lens[k]) memcpy(copy, lists[k], lens[k] * sizeof *copy);
        o->list = copy, o->list_len = lens[k];
        continue;
      }
      o->value = next++;
      g->writer[o->value] = (uint32_t)i;
      if (!apply) continue;
      if (lens[k] == caps[k]) {
        caps[k] = caps[k] ? 2 * caps[k] : 4;
        lists[k] = realloc(lists[k], caps[k] * sizeof **lists);
        assert_non_null(lists[k]);
      }
      lists[k][lens[k]++] = o->value;
    }
  }
  for (size_t k = 0; k < nkeys; k++) free(lists[k]);
  free(lists), free(lens), free(caps);
}

static void gen_load(const gen *g, hc_history *h) {
  for (size_t i = 0; i < g->ntxns; i++) {
    const gen_txn *t = &g->txns[i];
    long got = hc_add_txn(h, t->status, t->ops, t->nops, t->start, t->end);
    assert_int_equal(got, (long)i);
  }
}

static void gen_free(gen *g) {
  for (size_t i = 0; i < g->ntxns; i++)
    for (size_t j = 0; j < g->txns[i].nops; j++)
      free((void *)g->txns[i].ops[j].list);
  free(g->txns);
  free(g->writer);
}

/* Finds a committed read to corrupt by dropping its last element v, such
** that the result must have a cycle: it is the txn's only op on the key
** (so not INTERNAL), v's writer W committed and ended before the reader
** started (so W -rt-> R), a later committed read of the key still sees v
** (so R -rw-> W), and the element before v is not W's (so not G1b). */
static hc_op *gen_pick_read(gen *g) {
  for (size_t i = 0; i < g->ntxns; i++) {
    gen_txn *t = &g->txns[i];
    if (t->status != C) continue;
    for (size_t j = 0; j < t->nops; j++) {
      hc_op *o = &t->ops[j];
      int only = 1;
      for (size_t p = 0; p < t->nops; p++)
        only &= p == j || t->ops[p].key != o->key;
      if (!o->is_read || !only || !o->list_len) continue;
      uint32_t w = g->writer[o->list[o->list_len - 1]];
      if (g->txns[w].status != C || g->txns[w].end >= t->start) continue;
      if (o->list_len > 1 && g->writer[o->list[o->list_len - 2]] == w) continue;
      for (size_t l = i + 1; l < g->ntxns; l++) {
        if (g->txns[l].status != C) continue;
        for (size_t m = 0; m < g->txns[l].nops; m++) {
          const hc_op *x = &g->txns[l].ops[m];
          if (x->is_read && x->key == o->key && x->list_len >= o->list_len)
            return o;
        }
      }
    }
  }
  return NULL;
}

static void test_histcheck_generated_serial_then_corrupted(void **state) {
  hc_history *h = *state;
  gen g;
  gen_build(&g, 10000, 500, 42);
  gen_load(&g, h);
  hc_result r = expect(h, HC_CHECK_REALTIME, HC_OK);
  assert_int_equal(r.ntxns, 10000);
  assert_true(r.ncommitted > 9000 && r.nedges_ww > 0 && r.nedges_rw > 0);
  expect(h, 0, HC_OK);

  hc_op *o = gen_pick_read(&g);
  assert_non_null(o);
  o->list_len--;
  hc_history *bad = hc_create();
  assert_non_null(bad);
  gen_load(&g, bad);
  assert_int_equal(hc_check(bad, HC_CHECK_REALTIME, &r), 0);
  print_message("corrupted: %s\n", r.desc);
  assert_true(r.anomaly == HC_ANOMALY_G0 || r.anomaly == HC_ANOMALY_G1C ||
              r.anomaly == HC_ANOMALY_GSINGLE || r.anomaly == HC_ANOMALY_G2 ||
              r.anomaly == HC_ANOMALY_REALTIME ||
              r.anomaly == HC_ANOMALY_INCOMPATIBLE_ORDER);
  hc_destroy(bad);
  gen_free(&g);
}

static void test_histcheck_scale_100k(void **state) {
  hc_history *h = *state;
  gen g;
  gen_build(&g, 100000, 10000, 7);
  gen_load(&g, h);
  gen_free(&g);
  hc_result r = expect(h, HC_CHECK_REALTIME, HC_OK);
  assert_int_equal(r.ntxns, 100000);
  assert_true(r.nedges_rt > 100000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_histcheck_empty_history_ok),
      T(test_histcheck_serial_history_ok),
      T(test_histcheck_concurrent_serializable_ok),
      T(test_histcheck_empty_reads_ok),
      T(test_histcheck_unknown_seen_counts_as_committed),
      T(test_histcheck_unknown_seen_transitively),
      T(test_histcheck_unknown_unseen_ignored),
      T(test_histcheck_aborted_reads_ignored),
      T(test_histcheck_realtime_respected_ok),
      T(test_histcheck_unknown_end_is_not_a_bound),
      T(test_histcheck_own_intermediate_read_ok),
      T(test_histcheck_g0_write_cycle),
      T(test_histcheck_g1a_aborted_read),
      T(test_histcheck_g1b_intermediate_read),
      T(test_histcheck_g1c_circular_flow),
      T(test_histcheck_g1c_mixed_ww_wr),
      T(test_histcheck_gsingle_read_skew),
      T(test_histcheck_g2_write_skew),
      T(test_histcheck_lost_update),
      T(test_histcheck_g2_three_txns),
      T(test_histcheck_most_specific_component_wins),
      T(test_histcheck_realtime_violation_needs_flag),
      T(test_histcheck_realtime_equal_times_no_edge),
      T(test_histcheck_incompatible_order),
      T(test_histcheck_incompatible_same_length),
      T(test_histcheck_duplicate_in_list),
      T(test_histcheck_duplicate_append),
      T(test_histcheck_garbage),
      T(test_histcheck_garbage_wrong_key),
      T(test_histcheck_internal_missing_own_append),
      T(test_histcheck_internal_own_appends_out_of_order),
      T(test_histcheck_internal_reads_disagree),
      T(test_histcheck_add_txn_rejects_bad_arguments),
      T(test_histcheck_add_txn_copies_lists),
      T(test_histcheck_anomaly_names),
      T(test_histcheck_generated_serial_then_corrupted),
      T(test_histcheck_scale_100k),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
