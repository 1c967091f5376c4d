/*
** histcheck.c — an Elle-style serializability checker for list-append
** histories (Kingsbury & Alvaro, "Elle", VLDB 2020).  See histcheck.h for
** the workload and the API.
**
** Which transactions count.  COMMITTED ones do; ABORTED ones never do;
** an UNKNOWN one does iff a read of a counted transaction observed one of
** its values.  That is a fixpoint (an UNKNOWN txn's reads can pull in more
** UNKNOWN txns), computed with a worklist.  Reads of transactions that do
** not count are ignored entirely.
**
** Non-cycle anomalies, checked in this order, each over counted txns only:
**  1. a value appended twice (the history is invalid: INCOMPATIBLE_ORDER);
**  2. INTERNAL: within a txn, per key, a read must equal its previous read
**     of that key followed by the txn's appends since then; with no previous
**     read it must end with the txn's appends so far.  (The txn's ops are
**     grouped by key with a sort of (key, position) pairs; this also marks
**     each txn's final append per key, used by G1b.)
**  3. the version order of a key is its longest read.  For every element of
**     a version order, and of each read that is not a prefix of its key's:
**     GARBAGE (no writer, or the writer appended it to another key), G1a
**     (the writer aborted).  Per read: G1b (the list ends at a value that
**     its writer, another txn, followed with another append to the key).
**     Looking up only the version orders' elements keeps the hash lookups
**     to about one per append, not one per element read;
**  4. INCOMPATIBLE_ORDER: a version order holds a value twice, or a read is
**     not a prefix of its key's version order.
**
** The dependency graph.  Nodes 0..n-1 are the txns; nodes n.. are real-time
** barriers.  For each key with version order v_1..v_m: ww edges
** writer(v_i) -> writer(v_{i+1}).  For each read R of list L (|L| = j): a wr
** edge writer(v_j) -> R when j > 0, an rw edge R -> writer(v_{j+1}) when
** j < m.  Edges from a node to itself are dropped, so a txn's consecutive
** appends and its reads of its own appends add nothing.  With
** HC_CHECK_REALTIME, the counted COMMITTED txns with known bounds, sorted by
** end, get one barrier each: T_i -> B_i and B_i -> B_{i+1}; a counted txn T
** with known bounds gets B_k -> T for the last k with end_k < T.start.  So a
** path T1 ~> T2 through barriers exists iff T1.end < T2.start, with O(n)
** edges instead of O(n^2).  An UNKNOWN txn's end is when the client gave up,
** not a bound on its commit, so it gets no barrier.
**
** Cycles.  Tarjan's algorithm (iterative: an explicit frame stack, so
** 100k-txn histories need no deep recursion) finds the strongly connected
** components.  Each one of two or more nodes is classified by searching only
** among its own nodes, most specific first: a cycle of ww edges (G0); of
** ww/wr edges (G1c); one rw edge a -> b closed by a ww/wr path b ~> a found
** by BFS (G-single); of dependency edges (G2); else every cycle needs a
** real-time edge (REALTIME).  "Is there a cycle along these edge kinds" is
** Tarjan again restricted to the component; the cycle reported is the
** shortest one through a node of a nontrivial sub-component, found by BFS.
** The most specific anomaly over all components is reported.
**
** Invariants: node ids and op indices fit in uint32_t (hc_add_txn enforces
** it); a history is never modified by hc_check; nothing is recursive.
**
** Not done: Elle's inference of version order from unread appends (a
** committed append that no read observed is in no version order and adds
** no edges), nor its reporting of every anomaly (one is reported).  The
** G-single search is quadratic in a component's size in the worst case and
** gives up after GSINGLE_BUDGET edge visits per component, reporting G2
** instead.  When UNKNOWN txns exist, the fixpoint looks up every element of
** every counted read (otherwise it is skipped).
*/
#include "histcheck.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define MAX_OPS (UINT32_MAX - 1)
#define MAX_TXNS (INT32_MAX - 1) /* leaves room for as many barriers */
/* Edge visits the G-single search may spend on one component before it
** settles for G2: bounds the time a pathological component can take. */
#define GSINGLE_BUDGET 20000000
/* Elements of a list shown in a description before eliding the middle. */
#define SHOW_ELEMS 8

enum { E_WW = 1, E_WR = 2, E_RW = 4, E_RT = 8 }; /* edge kinds */
#define E_DEP (E_WW | E_WR | E_RW)
#define E_ALL (E_DEP | E_RT)

/* Per-op flags computed by hc_check. */
enum {
  F_FINAL = 1,     /* an append that is its txn's last to its key */
  F_NOTPREFIX = 2, /* a counted read that is not a prefix of its key's
                   ** version order */
  F_INORDER = 4    /* an append seen in its key's version order */
};

typedef struct txn {
  uint64_t start, end;
  size_t op0;    /* first op in hc_history.ops */
  uint32_t nops;
  int status;
} txn;

typedef struct op {
  int64_t key, value; /* value: appends only */
  size_t list0, len;  /* reads: the list is vals[list0 .. list0 + len) */
  uint32_t txn;
  int is_read;
} op;

struct hc_history {
  txn *txns;
  size_t ntxns, captxns;
  op *ops;
  size_t nops, capops;
  int64_t *vals;
  size_t nvals, capvals;
};

/* ------------------------------------------------------------ history -- */

/* Returns p grown to hold `need` elements of elsz bytes (updating *cap), or
** NULL when out of memory (p is then untouched). */
static void *reserve(void *p, size_t *cap, size_t need, size_t elsz) {
  if (p && need <= *cap) return p;
  size_t n = *cap ? *cap : 16;
  while (n < need) {
    if (n > SIZE_MAX / 2) return NULL;
    n *= 2;
  }
  if (n > SIZE_MAX / elsz) return NULL;
  void *q = realloc(p, n * elsz);
  if (q) *cap = n;
  return q;
}

hc_history *hc_create(void) { return calloc(1, sizeof(hc_history)); }

void hc_destroy(hc_history *h) {
  if (!h) return;
  free(h->txns);
  free(h->ops);
  free(h->vals);
  free(h);
}

long hc_add_txn(hc_history *h, int status, const hc_op *ops, size_t nops,
                uint64_t start_ns, uint64_t end_ns) {
  if (!h || status < HC_COMMITTED || status > HC_UNKNOWN || (nops && !ops))
    return -1;
  size_t nvals = 0;
  for (size_t i = 0; i < nops; i++) {
    if (!ops[i].is_read) continue;
    if (ops[i].list_len && !ops[i].list) return -1;
    if (ops[i].list_len > SIZE_MAX - h->nvals - nvals) return -1;
    nvals += ops[i].list_len;
  }
  if (h->ntxns >= MAX_TXNS || nops > MAX_OPS - h->nops) return -1;
  /* Grow everything first, so that a failure leaves h unchanged. */
  void *p = reserve(h->txns, &h->captxns, h->ntxns + 1, sizeof(txn));
  if (!p) return -1;
  h->txns = p;
  if (!(p = reserve(h->ops, &h->capops, h->nops + nops, sizeof(op)))) return -1;
  h->ops = p;
  if (!(p = reserve(h->vals, &h->capvals, h->nvals + nvals, sizeof(int64_t))))
    return -1;
  h->vals = p;

  uint32_t t = (uint32_t)h->ntxns;
  h->txns[t] = (txn){start_ns, end_ns, h->nops, (uint32_t)nops, status};
  for (size_t i = 0; i < nops; i++) {
    op *o = &h->ops[h->nops++];
    *o = (op){ops[i].key, 0, 0, 0, t, ops[i].is_read != 0};
    if (!o->is_read) {
      o->value = ops[i].value;
      continue;
    }
    o->list0 = h->nvals;
    o->len = ops[i].list_len;
    if (o->len)
      memcpy(h->vals + h->nvals, ops[i].list, o->len * sizeof(int64_t));
    h->nvals += o->len;
  }
  return (long)h->ntxns++;
}

const char *hc_anomaly_name(int anomaly) {
  static const char *const names[] = {
      "ok", "G0", "G1a", "G1b", "G1c", "G-single", "G2", "realtime",
      "incompatible-order", "garbage", "internal"};
  if (anomaly < 0 || anomaly >= (int)(sizeof names / sizeof *names))
    return "unknown";
  return names[anomaly];
}

/* ------------------------------------------------------- int64 hash map -- */

/* Open addressing, sized once for a known number of entries (never more
** than half full); maps an int64 to a uint32 (NONE = empty slot). */
typedef struct imap {
  int64_t *keys;
  uint32_t *vals;
  size_t mask;
} imap;

static int imap_init(imap *m, size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  m->keys = malloc(cap * sizeof(int64_t));
  m->vals = malloc(cap * sizeof(uint32_t));
  m->mask = cap - 1;
  if (!m->keys || !m->vals) return -1;
  memset(m->vals, 0xff, cap * sizeof(uint32_t));
  return 0;
}

static void imap_free(imap *m) {
  free(m->keys);
  free(m->vals);
}

/* Returns the slot holding k, or the empty slot where k would go. */
static size_t imap_slot(const imap *m, int64_t k) {
  uint64_t x = (uint64_t)k + 0x9e3779b97f4a7c15ULL; /* splitmix64 */
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  size_t i = (size_t)(x ^ (x >> 31)) & m->mask;
  while (m->vals[i] != NONE && m->keys[i] != k) i = (i + 1) & m->mask;
  return i;
}

static uint32_t imap_get(const imap *m, int64_t k) {
  return m->vals[imap_slot(m, k)];
}

/* ------------------------------------------------------- check context -- */

typedef struct frame {
  uint32_t v;
  size_t e; /* next position in adj[] */
} frame;

typedef struct edge {
  uint32_t from, to;
  int kind; /* one E_* */
  int64_t key;
} edge;

typedef struct chk {
  const hc_history *h;
  hc_result *r;
  const op *ops;
  imap writer;        /* appended value -> op index */
  imap keyidx;        /* read key -> index into longest[] */
  uint8_t *counted;   /* per txn */
  uint8_t *flags;     /* per op: F_* */
  uint32_t *longest;  /* per key index: the read op with the longest list */
  uint32_t nkeys;
  /* The graph: edges, and adj[off[v] .. off[v+1]) indexes v's out-edges. */
  uint32_t ntxn, nnodes;
  edge *edges;
  size_t nedges, capedges;
  size_t *off, *adj;
  /* Per-node scratch for Tarjan and BFS. */
  uint32_t *idx, *low, *stk, *tag, *seen, *queue;
  uint8_t *onstk;
  size_t *parent; /* BFS: the edge that reached a node */
  frame *frames;
  uint32_t stamp, seen_stamp; /* tag[v] == stamp: v is in the node set */
  size_t *cyc;                /* the last path or cycle found, as edges */
  size_t ncyc;
} chk;

static const int64_t *list_of(const chk *c, uint32_t o) {
  return c->h->vals + c->ops[o].list0;
}

static uint32_t txn_of_value(const chk *c, int64_t v) {
  uint32_t w = imap_get(&c->writer, v);
  assert(w != NONE);
  return c->ops[w].txn;
}

/* Appends printf-style text to r->desc, ending it with "..." when full. */
static void say(hc_result *r, const char *fmt, ...) {
  size_t len = strlen(r->desc), cap = sizeof r->desc;
  if (len + 1 >= cap) { /* full: more was to come */
    memcpy(r->desc + cap - 4, "...", 4);
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(r->desc + len, cap - len, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n >= cap - len) memcpy(r->desc + cap - 4, "...", 4);
}

/* Prints a list, eliding its middle when long. */
static void say_list(hc_result *r, const int64_t *l, size_t n) {
  say(r, "[");
  for (size_t i = 0; i < n; i++) {
    if (n > SHOW_ELEMS && i == SHOW_ELEMS / 2) {
      say(r, "... ");
      i = n - SHOW_ELEMS / 2;
    }
    say(r, "%" PRId64 "%s", l[i], i + 1 < n ? ", " : "");
  }
  say(r, "]");
}

/* Records the anomaly and starts its description; returns 1 ("found"). */
static int report(chk *c, int code) {
  c->r->anomaly = code;
  c->r->desc[0] = 0;
  say(c->r, "%s: ", hc_anomaly_name(code));
  return 1;
}

/* ------------------------------------------------ non-cycle anomalies -- */

/* The steps below return -1 when out of memory, 1 when they reported an
** anomaly in c->r, 0 to go on. */

/* Maps every appended value to its op; a value appended twice is reported. */
static int index_values(chk *c) {
  const hc_history *h = c->h;
  if (imap_init(&c->writer, h->nops) < 0) return -1;
  for (uint32_t o = 0; o < h->nops; o++) {
    if (c->ops[o].is_read) continue;
    size_t s = imap_slot(&c->writer, c->ops[o].value);
    if (c->writer.vals[s] != NONE) {
      report(c, HC_ANOMALY_INCOMPATIBLE_ORDER);
      say(c->r, "value %" PRId64 " appended by both T%" PRIu32 " and T%" PRIu32
          " (an invalid history)", c->ops[o].value,
          c->ops[c->writer.vals[s]].txn, c->ops[o].txn);
      return 1;
    }
    c->writer.keys[s] = c->ops[o].value;
    c->writer.vals[s] = o;
  }
  return 0;
}

/* Marks the counted txns: the committed ones, then (a fixpoint) every
** UNKNOWN one that a counted txn's read observed. */
static int count_txns(chk *c) {
  const hc_history *h = c->h;
  uint32_t *work = malloc((h->ntxns + 1) * sizeof(uint32_t)), nwork = 0;
  int unknowns = 0;
  if (!work) return -1;
  for (uint32_t t = 0; t < h->ntxns; t++) {
    unknowns |= h->txns[t].status == HC_UNKNOWN;
    if (h->txns[t].status == HC_COMMITTED) c->counted[t] = 1, work[nwork++] = t;
  }
  if (!unknowns) nwork = 0; /* nothing to pull in: skip the scan */
  while (nwork) {
    const txn *t = &h->txns[work[--nwork]];
    for (size_t o = t->op0; o < t->op0 + t->nops; o++) {
      if (!c->ops[o].is_read) continue;
      const int64_t *l = list_of(c, (uint32_t)o);
      for (size_t i = 0; i < c->ops[o].len; i++) {
        uint32_t w = imap_get(&c->writer, l[i]);
        if (w == NONE) continue;
        uint32_t wt = c->ops[w].txn;
        if (h->txns[wt].status == HC_UNKNOWN && !c->counted[wt])
          c->counted[wt] = 1, work[nwork++] = wt;
      }
    }
  }
  free(work);
  for (size_t t = 0; t < h->ntxns; t++) c->r->ncommitted += c->counted[t];
  return 0;
}

typedef struct keypos {
  int64_t key;
  uint32_t op;
} keypos;

static int keypos_cmp(const void *a, const void *b) {
  const keypos *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return (x->op > y->op) - (x->op < y->op);
}

/* Checks one txn's ops on one key, g[0..n) in order (INTERNAL), and marks
** its last append to the key as final. */
static int check_group(chk *c, const keypos *g, size_t n) {
  size_t base = SIZE_MAX, ap0 = 0; /* last read; first append since it */
  for (size_t j = 0; j < n; j++) {
    const op *o = &c->ops[g[j].op];
    if (!o->is_read) continue;
    const int64_t *l = list_of(c, g[j].op);
    size_t nap = j - ap0, blen = base == SIZE_MAX ? 0 : c->ops[g[base].op].len;
    int ok = base == SIZE_MAX ? o->len >= nap : o->len == blen + nap;
    if (ok && base != SIZE_MAX)
      ok = !blen || !memcmp(l, list_of(c, g[base].op), blen * sizeof *l);
    for (size_t a = 0; ok && a < nap; a++)
      ok = l[o->len - nap + a] == c->ops[g[ap0 + a].op].value;
    if (!ok) {
      report(c, HC_ANOMALY_INTERNAL);
      say(c->r, "T%" PRIu32 " read key %" PRId64 " = ", o->txn, o->key);
      say_list(c->r, l, o->len);
      if (base != SIZE_MAX)
        say(c->r, ", not its earlier read of length %zu plus its %zu appends"
            " since", blen, nap);
      else
        say(c->r, ", not ending with its %zu earlier appends", nap);
      return 1;
    }
    base = j;
    ap0 = j + 1;
  }
  for (size_t j = n; j-- > 0;)
    if (!c->ops[g[j].op].is_read) {
      c->flags[g[j].op] |= F_FINAL;
      break;
    }
  return 0;
}

/* Groups each counted txn's ops by key and checks each group. */
static int check_internal(chk *c) {
  const hc_history *h = c->h;
  size_t maxops = 1;
  for (size_t t = 0; t < h->ntxns; t++)
    if (h->txns[t].nops > maxops) maxops = h->txns[t].nops;
  keypos *kp = malloc(maxops * sizeof *kp);
  if (!kp) return -1;
  int rc = 0;
  for (size_t t = 0; t < h->ntxns && !rc; t++) {
    const txn *x = &h->txns[t];
    if (!c->counted[t]) continue;
    for (uint32_t i = 0; i < x->nops; i++)
      kp[i] = (keypos){c->ops[x->op0 + i].key, (uint32_t)(x->op0 + i)};
    qsort(kp, x->nops, sizeof *kp, keypos_cmp);
    for (size_t i = 0, j; i < x->nops && !rc; i = j) {
      j = i + 1;
      while (j < x->nops && kp[j].key == kp[i].key) j++;
      rc = check_group(c, kp + i, j - i);
    }
  }
  free(kp);
  return rc;
}

/* Finds each key's version order, its longest counted read, and flags the
** reads that are not a prefix of it. */
static int find_orders(chk *c) {
  const hc_history *h = c->h;
  size_t nreads = 0;
  for (uint32_t o = 0; o < h->nops; o++)
    nreads += c->ops[o].is_read && c->counted[c->ops[o].txn];
  c->longest = malloc((nreads + 1) * sizeof(uint32_t));
  if (!c->longest || imap_init(&c->keyidx, nreads) < 0) return -1;
  for (uint32_t o = 0; o < h->nops; o++) {
    const op *rd = &c->ops[o];
    if (!rd->is_read || !c->counted[rd->txn]) continue;
    size_t s = imap_slot(&c->keyidx, rd->key);
    if (c->keyidx.vals[s] == NONE) {
      c->keyidx.keys[s] = rd->key;
      c->keyidx.vals[s] = c->nkeys;
      c->longest[c->nkeys++] = o;
    } else if (rd->len > c->ops[c->longest[c->keyidx.vals[s]]].len) {
      c->longest[c->keyidx.vals[s]] = o;
    }
  }
  for (uint32_t o = 0; o < h->nops; o++) {
    const op *rd = &c->ops[o];
    if (!rd->is_read || !c->counted[rd->txn]) continue;
    const int64_t *a = list_of(c, o);
    const int64_t *b = list_of(c, c->longest[imap_get(&c->keyidx, rd->key)]);
    size_t i = 0;
    while (i < rd->len && a[i] == b[i]) i++;
    if (i < rd->len) c->flags[o] |= F_NOTPREFIX;
  }
  return 0;
}

/* GARBAGE or G1a among the elements of read o. */
static int check_elements(chk *c, uint32_t o) {
  const op *rd = &c->ops[o];
  const int64_t *l = list_of(c, o);
  for (size_t i = 0; i < rd->len; i++) {
    uint32_t w = imap_get(&c->writer, l[i]);
    int code = w == NONE || c->ops[w].key != rd->key ? HC_ANOMALY_GARBAGE
               : c->h->txns[c->ops[w].txn].status == HC_ABORTED ? HC_ANOMALY_G1A
                                                                 : HC_OK;
    if (code == HC_OK) continue;
    report(c, code);
    say(c->r, "T%" PRIu32 " read %" PRId64 " at key %" PRId64, rd->txn, l[i],
        rd->key);
    if (w == NONE)
      say(c->r, ", which no txn appended");
    else if (code == HC_ANOMALY_GARBAGE)
      say(c->r, ", but T%" PRIu32 " appended it to key %" PRId64,
          c->ops[w].txn, c->ops[w].key);
    else
      say(c->r, ", appended by aborted T%" PRIu32, c->ops[w].txn);
    return 1;
  }
  return 0;
}

/* GARBAGE and G1a for every element a counted read saw (a key's version
** order holds all the elements of the reads that are prefixes of it), then
** G1b for the last element of each read. */
static int check_reads(chk *c) {
  for (uint32_t k = 0; k < c->nkeys; k++)
    if (check_elements(c, c->longest[k])) return 1;
  for (uint32_t o = 0; o < c->h->nops; o++) {
    const op *rd = &c->ops[o];
    if (!rd->is_read || !c->counted[rd->txn] || !rd->len) continue;
    if ((c->flags[o] & F_NOTPREFIX) && check_elements(c, o)) return 1;
    const int64_t *l = list_of(c, o);
    uint32_t w = imap_get(&c->writer, l[rd->len - 1]);
    if (c->ops[w].txn != rd->txn && !(c->flags[w] & F_FINAL)) {
      report(c, HC_ANOMALY_G1B);
      say(c->r, "T%" PRIu32 " read key %" PRId64 " ending at %" PRId64
          ", which T%" PRIu32 " followed with another append", rd->txn,
          rd->key, l[rd->len - 1], c->ops[w].txn);
      return 1;
    }
  }
  return 0;
}

/* INCOMPATIBLE_ORDER: a version order that holds a value twice, or a read
** that is not a prefix of its key's version order. */
static int check_order(chk *c) {
  for (uint32_t k = 0; k < c->nkeys; k++) {
    const op *lo = &c->ops[c->longest[k]];
    const int64_t *l = list_of(c, c->longest[k]);
    for (size_t i = 0; i < lo->len; i++) {
      uint32_t w = imap_get(&c->writer, l[i]);
      if (!(c->flags[w] & F_INORDER)) {
        c->flags[w] |= F_INORDER;
        continue;
      }
      report(c, HC_ANOMALY_INCOMPATIBLE_ORDER);
      say(c->r, "T%" PRIu32 " read key %" PRId64 " = ", lo->txn, lo->key);
      say_list(c->r, l, lo->len);
      say(c->r, ", which holds %" PRId64 " twice", l[i]);
      return 1;
    }
  }
  for (uint32_t o = 0; o < c->h->nops; o++) {
    if (!(c->flags[o] & F_NOTPREFIX)) continue;
    const op *rd = &c->ops[o];
    uint32_t lo = c->longest[imap_get(&c->keyidx, rd->key)];
    const int64_t *a = list_of(c, o), *b = list_of(c, lo);
    size_t i = 0;
    while (a[i] == b[i]) i++;
    report(c, HC_ANOMALY_INCOMPATIBLE_ORDER);
    say(c->r, "T%" PRIu32 " read key %" PRId64 " = ", rd->txn, rd->key);
    say_list(c->r, a, rd->len);
    say(c->r, " and T%" PRIu32 " read ", c->ops[lo].txn);
    say_list(c->r, b, c->ops[lo].len);
    say(c->r, ": neither is a prefix of the other (index %zu)", i);
    return 1;
  }
  return 0;
}

/* -------------------------------------------------------------- graph -- */

static int add_edge(chk *c, uint32_t from, uint32_t to, int kind, int64_t key) {
  hc_result *r = c->r;
  if (from == to) return 0;
  void *p = reserve(c->edges, &c->capedges, c->nedges + 1, sizeof(edge));
  if (!p) return -1;
  c->edges = p;
  c->edges[c->nedges++] = (edge){from, to, kind, key};
  if (kind == E_WW) r->nedges_ww++;
  else if (kind == E_WR) r->nedges_wr++;
  else if (kind == E_RW) r->nedges_rw++;
  else if (from < c->ntxn || to < c->ntxn) r->nedges_rt++;
  return 0;
}

/* ww edges along each version order; wr and rw edges for each read. */
static int add_dep_edges(chk *c) {
  for (uint32_t k = 0; k < c->nkeys; k++) {
    const op *lo = &c->ops[c->longest[k]];
    const int64_t *l = list_of(c, c->longest[k]);
    for (size_t i = 1; i < lo->len; i++)
      if (add_edge(c, txn_of_value(c, l[i - 1]), txn_of_value(c, l[i]), E_WW,
                   lo->key) < 0)
        return -1;
  }
  for (uint32_t o = 0; o < c->h->nops; o++) {
    const op *rd = &c->ops[o];
    if (!rd->is_read || !c->counted[rd->txn]) continue;
    const op *lo = &c->ops[c->longest[imap_get(&c->keyidx, rd->key)]];
    const int64_t *l = c->h->vals + lo->list0; /* rd's list is a prefix */
    size_t n = rd->len;
    if (n && add_edge(c, txn_of_value(c, l[n - 1]), rd->txn, E_WR, rd->key) < 0)
      return -1;
    if (n < lo->len &&
        add_edge(c, rd->txn, txn_of_value(c, l[n]), E_RW, rd->key) < 0)
      return -1;
  }
  return 0;
}

typedef struct endpos {
  uint64_t end;
  uint32_t txn;
} endpos;

static int endpos_cmp(const void *a, const void *b) {
  const endpos *x = a, *y = b;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return (x->txn > y->txn) - (x->txn < y->txn);
}

static int bounds_known(const txn *t) { return t->end && t->start <= t->end; }

/* Real-time edges through a chain of barriers (see the header comment). */
static int add_rt_edges(chk *c) {
  const hc_history *h = c->h;
  endpos *ends = malloc((h->ntxns + 1) * sizeof *ends);
  uint32_t nb = 0;
  if (!ends) return -1;
  for (uint32_t t = 0; t < h->ntxns; t++)
    if (c->counted[t] && h->txns[t].status == HC_COMMITTED &&
        bounds_known(&h->txns[t]))
      ends[nb++] = (endpos){h->txns[t].end, t};
  qsort(ends, nb, sizeof *ends, endpos_cmp);
  c->nnodes = c->ntxn + nb;
  int rc = 0;
  for (uint32_t i = 0; i < nb && !rc; i++) {
    rc = add_edge(c, ends[i].txn, c->ntxn + i, E_RT, 0);
    if (!rc && i) rc = add_edge(c, c->ntxn + i - 1, c->ntxn + i, E_RT, 0);
  }
  for (uint32_t t = 0; t < h->ntxns && !rc; t++) {
    if (!c->counted[t] || !bounds_known(&h->txns[t])) continue;
    uint32_t lo = 0, hi = nb; /* find the first end >= start */
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (ends[mid].end < h->txns[t].start) lo = mid + 1;
      else hi = mid;
    }
    if (lo) rc = add_edge(c, c->ntxn + lo - 1, t, E_RT, 0);
  }
  free(ends);
  return rc;
}

/* Builds the adjacency index and the per-node scratch arrays. */
static int build_index(chk *c) {
  size_t n = (size_t)c->nnodes + 1;
  c->off = calloc(n + 1, sizeof(size_t));
  c->adj = malloc((c->nedges + 1) * sizeof(size_t));
  c->idx = malloc(n * sizeof(uint32_t));
  c->low = malloc(n * sizeof(uint32_t));
  c->stk = malloc(n * sizeof(uint32_t));
  c->tag = calloc(n, sizeof(uint32_t));
  c->seen = calloc(n, sizeof(uint32_t));
  c->queue = malloc(n * sizeof(uint32_t));
  c->onstk = calloc(n, 1);
  c->parent = malloc(n * sizeof(size_t));
  c->frames = malloc(n * sizeof(frame));
  c->cyc = malloc((n + 1) * sizeof(size_t));
  if (!c->off || !c->adj || !c->idx || !c->low || !c->stk || !c->tag ||
      !c->seen || !c->queue || !c->onstk || !c->parent || !c->frames ||
      !c->cyc)
    return -1;
  for (size_t e = 0; e < c->nedges; e++) c->off[c->edges[e].from + 1]++;
  for (uint32_t v = 0; v < c->nnodes; v++) c->off[v + 1] += c->off[v];
  size_t *fill = c->parent; /* borrowed as a cursor per node */
  for (uint32_t v = 0; v < c->nnodes; v++) fill[v] = c->off[v];
  for (size_t e = 0; e < c->nedges; e++) c->adj[fill[c->edges[e].from]++] = e;
  return 0;
}

/* ------------------------------------------------------------- cycles -- */

/* Called with each strongly connected component of two or more nodes
** (borrowed: valid during the call).  Returns 0 to go on, nonzero to stop
** the search with that value. */
typedef int (*scc_fn)(chk *c, const uint32_t *comp, uint32_t n, void *arg);

/* Tarjan's algorithm over nodes[0..nn) (0..nn-1 when nodes is NULL), which
** must be exactly the nodes tagged c->stamp, along edges of a kind in mask.
** Returns 0 when done, or the nonzero value `emit` stopped it with. */
static int tarjan(chk *c, const uint32_t *nodes, uint32_t nn, int mask,
                  scc_fn emit, void *arg) {
  uint32_t counter = 0, sp = 0, fp = 0;
  for (uint32_t i = 0; i < nn; i++) {
    uint32_t v = nodes ? nodes[i] : i;
    c->idx[v] = 0;
    c->onstk[v] = 0;
  }
  for (uint32_t i = 0; i < nn; i++) {
    uint32_t root = nodes ? nodes[i] : i;
    if (c->idx[root]) continue;
    c->idx[root] = c->low[root] = ++counter;
    c->stk[sp++] = root, c->onstk[root] = 1;
    c->frames[fp++] = (frame){root, c->off[root]};
    while (fp) {
      frame *f = &c->frames[fp - 1];
      uint32_t v = f->v;
      if (f->e < c->off[v + 1]) {
        size_t e = c->adj[f->e++];
        uint32_t w = c->edges[e].to;
        if (!(c->edges[e].kind & mask) || c->tag[w] != c->stamp) continue;
        if (!c->idx[w]) { /* "recurse" into w */
          c->idx[w] = c->low[w] = ++counter;
          c->stk[sp++] = w, c->onstk[w] = 1;
          c->frames[fp++] = (frame){w, c->off[w]};
        } else if (c->onstk[w] && c->idx[w] < c->low[v]) {
          c->low[v] = c->idx[w];
        }
        continue;
      }
      fp--;
      if (fp && c->low[v] < c->low[c->frames[fp - 1].v])
        c->low[c->frames[fp - 1].v] = c->low[v];
      if (c->low[v] != c->idx[v]) continue;
      uint32_t b = sp;
      do c->onstk[c->stk[--b]] = 0;
      while (c->stk[b] != v);
      int rc = sp - b > 1 ? emit(c, c->stk + b, sp - b, arg) : 0;
      sp = b;
      if (rc) return rc;
    }
  }
  return 0;
}

/* Finds a shortest path of one or more edges from src to dst (src == dst:
** a cycle) among tagged nodes along edges in mask, spending at most *budget
** edge visits when budget is not NULL.  Leaves it in c->cyc[0..c->ncyc).
** Returns 1 if found, 0 if not. */
static int bfs(chk *c, uint32_t src, uint32_t dst, int mask, size_t *budget) {
  uint32_t s = ++c->seen_stamp, head = 0, tail = 0;
  c->queue[tail++] = src;
  c->seen[src] = s;
  while (head < tail) {
    uint32_t x = c->queue[head++];
    for (size_t p = c->off[x]; p < c->off[x + 1]; p++) {
      if (budget) {
        if (!*budget) return 0;
        --*budget;
      }
      size_t e = c->adj[p];
      uint32_t w = c->edges[e].to;
      if (!(c->edges[e].kind & mask) || c->tag[w] != c->stamp) continue;
      if (w == dst) {
        size_t n = 0;
        for (c->cyc[n++] = e; c->edges[e].from != src; c->cyc[n++] = e)
          e = c->parent[c->edges[e].from];
        for (size_t i = 0; i < n / 2; i++) { /* reverse into path order */
          size_t t = c->cyc[i];
          c->cyc[i] = c->cyc[n - 1 - i], c->cyc[n - 1 - i] = t;
        }
        c->ncyc = n;
        return 1;
      }
      if (c->seen[w] == s) continue;
      c->seen[w] = s;
      c->parent[w] = e;
      c->queue[tail++] = w;
    }
  }
  return 0;
}

static int first_node(chk *c, const uint32_t *comp, uint32_t n, void *arg) {
  (void)c, (void)n;
  *(uint32_t *)arg = comp[0];
  return 1;
}

/* Is there a cycle along edges in mask among the tagged nodes S[0..n)?  If
** so it is left in c->cyc. */
static int has_cycle(chk *c, const uint32_t *S, uint32_t n, int mask) {
  uint32_t u;
  if (!tarjan(c, S, n, mask, first_node, &u)) return 0;
  int found = bfs(c, u, u, mask, NULL);
  assert(found);
  return found;
}

/* Is there an rw edge a -> b with a ww/wr path b ~> a among S[0..n)? */
static int has_gsingle(chk *c, const uint32_t *S, uint32_t n) {
  size_t budget = GSINGLE_BUDGET;
  for (uint32_t i = 0; i < n; i++) {
    for (size_t p = c->off[S[i]]; p < c->off[S[i] + 1]; p++) {
      size_t e = c->adj[p];
      uint32_t b = c->edges[e].to;
      if (c->edges[e].kind != E_RW || c->tag[b] != c->stamp) continue;
      if (bfs(c, b, S[i], E_WW | E_WR, &budget)) {
        memmove(c->cyc + 1, c->cyc, c->ncyc++ * sizeof *c->cyc);
        c->cyc[0] = e;
        return 1;
      }
      if (!budget) return 0;
    }
  }
  return 0;
}

/* Classifies a strongly connected component; leaves a cycle in c->cyc. */
static int classify(chk *c, const uint32_t *S, uint32_t n) {
  c->stamp++;
  for (uint32_t i = 0; i < n; i++) c->tag[S[i]] = c->stamp;
  if (has_cycle(c, S, n, E_WW)) return HC_ANOMALY_G0;
  if (has_cycle(c, S, n, E_WW | E_WR)) return HC_ANOMALY_G1C;
  if (has_gsingle(c, S, n)) return HC_ANOMALY_GSINGLE;
  if (has_cycle(c, S, n, E_DEP)) return HC_ANOMALY_G2;
  int found = has_cycle(c, S, n, E_ALL);
  assert(found);
  (void)found;
  return HC_ANOMALY_REALTIME;
}

/* Describes the cycle in c->cyc, showing a path through barriers as one
** "-rt->" edge. */
static void say_cycle(chk *c) {
  static const char *const kname[] = {"", "ww", "wr", "", "rw"};
  size_t j = 0;
  while (c->edges[c->cyc[j]].from >= c->ntxn) j++; /* start at a txn */
  say(c->r, "T%" PRIu32, c->edges[c->cyc[j]].from);
  for (size_t i = 0; i < c->ncyc; i++) {
    size_t e = c->cyc[(j + i) % c->ncyc];
    if (c->edges[e].to >= c->ntxn) continue;
    if (c->edges[e].kind == E_RT) say(c->r, " -rt-> T%" PRIu32, c->edges[e].to);
    else say(c->r, " -%s(k%" PRId64 ")-> T%" PRIu32, kname[c->edges[e].kind],
             c->edges[e].key, c->edges[e].to);
  }
}

typedef struct comps {
  uint32_t *nodes; /* all nontrivial components, one after another */
  size_t *start;   /* component i is nodes[start[i] .. start[i+1]) */
  size_t n;
} comps;

static int collect(chk *c, const uint32_t *comp, uint32_t n, void *arg) {
  (void)c;
  comps *cs = arg;
  size_t at = cs->start[cs->n];
  memcpy(cs->nodes + at, comp, n * sizeof *comp);
  cs->start[++cs->n] = at + n;
  return 0;
}

/* Finds the components, then reports the most specific anomaly of all. */
static int find_cycles(chk *c) {
  comps cs = {malloc(((size_t)c->nnodes + 1) * sizeof(uint32_t)),
              malloc(((size_t)c->nnodes / 2 + 2) * sizeof(size_t)), 0};
  if (!cs.nodes || !cs.start) {
    free(cs.nodes);
    free(cs.start);
    return -1;
  }
  cs.start[0] = 0;
  c->stamp = 1;
  for (uint32_t v = 0; v < c->nnodes; v++) c->tag[v] = 1;
  tarjan(c, NULL, c->nnodes, E_ALL, collect, &cs);
  int best = HC_OK;
  for (size_t i = 0; i < cs.n && best != HC_ANOMALY_G0; i++) {
    int code = classify(c, cs.nodes + cs.start[i],
                        (uint32_t)(cs.start[i + 1] - cs.start[i]));
    if (best != HC_OK && code >= best) continue;
    best = code;
    report(c, code);
    say_cycle(c);
  }
  free(cs.nodes);
  free(cs.start);
  return best != HC_OK;
}

/* ---------------------------------------------------------------- check -- */

static void chk_free(chk *c) {
  imap_free(&c->writer);
  imap_free(&c->keyidx);
  void *arrays[] = {c->counted, c->flags, c->longest, c->edges, c->off,
                    c->adj,     c->idx,   c->low,     c->stk,   c->tag,
                    c->seen,    c->queue, c->onstk,   c->parent, c->frames,
                    c->cyc};
  for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++) free(arrays[i]);
}

int hc_check(hc_history *h, int flags, hc_result *r) {
  assert(h && r);
  memset(r, 0, sizeof *r);
  r->ntxns = h->ntxns;
  chk c = {.h = h, .r = r, .ops = h->ops, .ntxn = (uint32_t)h->ntxns,
           .nnodes = (uint32_t)h->ntxns};
  c.counted = calloc(h->ntxns + 1, 1);
  c.flags = calloc(h->nops + 1, 1);
  int rc = c.counted && c.flags ? 0 : -1;
  if (!rc) rc = index_values(&c);
  if (!rc) rc = count_txns(&c);
  if (!rc) rc = check_internal(&c);
  if (!rc) rc = find_orders(&c);
  if (!rc) rc = check_reads(&c);
  if (!rc) rc = check_order(&c);
  if (!rc) rc = add_dep_edges(&c);
  if (!rc && (flags & HC_CHECK_REALTIME)) rc = add_rt_edges(&c);
  if (!rc) rc = build_index(&c);
  if (!rc) rc = find_cycles(&c);
  chk_free(&c);
  if (rc < 0) {
    memset(r, 0, sizeof *r);
    r->ntxns = h->ntxns;
    return -1;
  }
  return 0;
}
