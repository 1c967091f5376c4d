/*
** index.c — secondary indexes: a table's UNIQUE constraints and the indexes
** created later with mvcc_create_index(), their entries, their online
** build, and mvcc_check / mvcc_indexes.
**
** An index is more keys in the table's own range (mvcc_index gives the
** layout), written by the row's transaction (vtab.c), so it commits, rolls
** back and conflicts exactly with its row: a read through an index is a
** read of the index's span, covered by read refresh and the timestamp
** cache like any other read.
**
** The indexes of a table as one connection sees them (mvcc_indexset) come
** from its definition and from the catalog (catalog.c), and are loaded
** again when the store's schema epoch moves.  Writers maintain every index
** of the set; reads plan only over the ready ones.
**
** Online build (CockroachDB's schema changer, on one store):
**
**   1. The index enters the catalog in state building, and the store's
**      epoch is bumped.  Every write statement that starts from then on
**      sees the new epoch, loads the index and maintains it; one that was
**      already running checks the epoch again when its write is done and,
**      if it moved, redoes the write with the new set (vtab.c's xUpdate).
**   2. The build waits until every transaction that was writing when the
**      epoch moved has ended: those may hold writes that maintain no entry.
**      (A transaction idle for longer than the store's lock timeout fails
**      the build with SQLITE_BUSY instead of stalling it.)
**   3. The backfill reads the table in batches of rows, each in its own
**      transaction that writes the batch's entries: memory stays bounded,
**      and a batch conflicts like any transaction with writers of its rows
**      (a row updated after the batch read it fails the batch's refresh,
**      and the batch is retried, smaller), so the two never disagree.  A
**      unique index checks each entry with a locking read; a duplicate
**      fails the build.
**   4. The index is marked ready and the epoch bumped: plans may use it.
** A batch's entries are written in key order: kvcore's write buffer and
** lock table take ascending keys far faster than the rows' random order.
** A build that fails removes the catalog entry and the entries it wrote,
** leaving nothing behind; one whose process died is removed when the
** store is next opened (mvcc_index_sweep: the entry names its builder's
** opening of the store).  Dropping an index removes it from the catalog,
** bumps the epoch, waits out the writers that may still maintain it, and
** deletes its entries.
*/
#include "mvcc_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keycodec.h"
#include "rowcodec.h"

#define BUILD_BATCH_MAX 65536 /* rows per backfill transaction: from the
                              ** most, halved at each conflict, doubled
                              ** again after each success */
#define BUILD_BATCH_MIN 64
#define BUILD_RETRIES 100    /* attempts per batch */
#define NAME_MAX_LEN 128

/* ----------------------------------------------------------- entries -- */

int mvcc_key_append_cell(mvcc_keybuf *kb, const mvcc_value *x, int coll,
                         int desc) {
  switch (x->type) {
    case SQLITE_INTEGER: return mvcc_key_append_int64(kb, x->i, desc);
    case SQLITE_FLOAT: return mvcc_key_append_double(kb, x->r, desc);
    case SQLITE_TEXT:
      return mvcc_key_append_text(kb, x->p, (size_t)x->n, coll, desc);
    case SQLITE_BLOB: return mvcc_key_append_blob(kb, x->p, (size_t)x->n, desc);
    default: return SQLITE_CONSTRAINT;
  }
}

int mvcc_index_prefix(mvcc_keybuf *kb, const unsigned char *tprefix, int num) {
  unsigned char hdr[MVCC_KEY_PREFIX_LEN + 2];
  memcpy(hdr, tprefix, MVCC_KEY_PREFIX_LEN);
  hdr[MVCC_KEY_PREFIX_LEN] = MVCC_INDEX_TAG;
  hdr[MVCC_KEY_PREFIX_LEN + 1] = (unsigned char)num;
  mvcc_keybuf_reset(kb);
  return mvcc_keybuf_append(kb, hdr, sizeof hdr);
}

/* [lo, hi): every entry of index num of the table with prefix tprefix. */
static int index_span(const unsigned char *tprefix, int num, mvcc_keybuf *lo,
                      mvcc_keybuf *hi) {
  int rc = mvcc_index_prefix(lo, tprefix, num);
  if (rc == SQLITE_OK && mvcc_key_prefix_successor(lo->p, lo->n, hi) != 0)
    rc = SQLITE_INTERNAL; /* the prefix is never all 0xFF */
  return rc;
}

int mvcc_index_entry(mvcc_keybuf *out, const unsigned char *tprefix,
                     const mvcc_index *ix, const mvcc_value *vals,
                     const void *rk, size_t rkl, bool *carries_key) {
  int rc = mvcc_index_prefix(out, tprefix, ix->num);
  bool has_null = false;
  for (int i = 0; i < ix->ncol && rc == SQLITE_OK; i++) {
    const mvcc_value *x = &vals[ix->col[i]];
    if (x->type == SQLITE_NULL) {
      has_null = true;
      rc = mvcc_key_append_null(out, ix->desc[i]);
    } else {
      rc = mvcc_key_append_cell(out, x, ix->coll[i], ix->desc[i]);
    }
  }
  *carries_key = has_null || !ix->unique;
  if (rc == SQLITE_OK && out->n > MVCC_MAX_KEY_BYTES) rc = SQLITE_TOOBIG;
  if (rc == SQLITE_OK && *carries_key) rc = mvcc_keybuf_append(out, rk, rkl);
  return rc;
}

int mvcc_index_value(mvcc_keybuf *out, const mvcc_tabledef *d,
                     const mvcc_index *ix, const mvcc_value *vals,
                     const void *rk, size_t rkl) {
  mvcc_cell small[16];
  mvcc_cell *cells = d->ncol <= 16 ? small
                                   : calloc((size_t)d->ncol, sizeof(mvcc_cell));
  if (!cells) return SQLITE_NOMEM;
  for (int i = 0; i < d->ncol; i++) cells[i] = (mvcc_cell){SQLITE_NULL, 0, 0, NULL, 0};
  for (int pass = 0; pass < 2; pass++) {
    int n = pass ? d->npk : ix->ncol;
    for (int k = 0; k < n; k++) {
      int c = pass ? d->pk[k] : ix->col[k];
      const mvcc_value *x = &vals[c];
      cells[c] = (mvcc_cell){x->type, x->i, x->r, x->p, (size_t)x->n};
    }
  }
  unsigned char *row = NULL;
  size_t rowlen = 0;
  int rc = mvcc_row_encode_cells(d->ncol, cells, &row, &rowlen);
  if (cells != small) free(cells);
  unsigned char len[4] = {(unsigned char)(rkl >> 24), (unsigned char)(rkl >> 16),
                          (unsigned char)(rkl >> 8), (unsigned char)rkl};
  mvcc_keybuf_reset(out);
  if (rc == SQLITE_OK) rc = mvcc_keybuf_append(out, len, sizeof len);
  if (rc == SQLITE_OK) rc = mvcc_keybuf_append(out, rk, rkl);
  if (rc == SQLITE_OK) rc = mvcc_keybuf_append(out, row, rowlen);
  free(row);
  return rc;
}

int mvcc_index_value_parts(const void *v, size_t n, const unsigned char **rk,
                           size_t *rkl, const unsigned char **row,
                           size_t *rowlen) {
  const unsigned char *p = v;
  if (n < 4) return SQLITE_CORRUPT;
  size_t kl = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
  if (kl > n - 4) return SQLITE_CORRUPT;
  *rk = p + 4;
  *rkl = kl;
  if (row) {
    *row = p + 4 + kl;
    *rowlen = n - 4 - kl;
  }
  return SQLITE_OK;
}

void mvcc_row_values(const mvcc_row *r, int ncol, mvcc_value *vals) {
  for (int i = 0; i < ncol; i++) {
    mvcc_cell c;
    mvcc_row_cell(r, i, &c);
    vals[i] = (mvcc_value){c.type, c.i, c.r, c.p, (int)c.n, NULL};
  }
}

char *mvcc_index_columns(const mvcc_tabledef *d, const mvcc_index *ix) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  for (int k = 0; k < ix->ncol; k++) {
    const mvcc_column *c = &d->cols[ix->col[k]];
    sqlite3_str_appendf(s, "%s%s", k ? ", " : "", c->name);
    if (ix->coll[k] != c->decl_coll)
      sqlite3_str_appendf(s, " COLLATE %s", mvcc_coll_name(ix->coll[k]));
    if (ix->desc[k]) sqlite3_str_appendall(s, " DESC");
  }
  return sqlite3_str_finish(s);
}

char *mvcc_unique_msg(const char *table, const mvcc_tabledef *d,
                      const int *cols, int ncol) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  sqlite3_str_appendall(s, "UNIQUE constraint failed: ");
  for (int i = 0; i < ncol; i++)
    sqlite3_str_appendf(s, "%s%s.%s", i ? ", " : "", table,
                        d->cols[cols[i]].name);
  return sqlite3_str_finish(s);
}

/* -------------------------------------------------------- statistics -- */

/* Statistics for planning: the table's rows and, for the key and each
** index, the distinct values of each leading part (its first k columns),
** counted with HyperLogLog sketches (2^HLL_BITS one-byte registers, about
** 3% error) over the encoded prefixes, so one pass over the rows in any
** order gathers them in bounded memory.  Gathered by an index's build
** (rows, the key's and the new index's) and by mvcc_analyze (everything),
** kept in the catalog as
**     0x02 ‖ rows (8) ‖ per path: num (1), ncol (1), ncol sketches
**     (HLL_REGS bytes each)
** (num 0 is the key), and given to plans through mvcc_path.  Writes keep
** the sketches growing: each table handle sketches the rows it writes and
** merges them into the record (the larger register wins) every
** SKETCH_FLUSH rows, so distinct values follow inserts and updates at the
** cost of a hash per indexed prefix and one catalog write per SKETCH_FLUSH
** rows.  (A sketch cannot forget: after deletes it overestimates until
** the next build or mvcc_analyze.)
**
** Row counts follow every commit cheaply: a committed transaction adds the
** rows it gained to the store's in-memory tally for the table
** (kv_store_tally), plans use the record's rows plus the tally, and when
** the tally has drifted by an eighth of the record's rows (at least 1000)
** the committer writes the sum into the record, so a restart loses little.
** A new table starts with a record of 0 rows (catalog.c).  Distinct-value
** counts change only with a build or mvcc_analyze. */
#define HLL_BITS 10
#define HLL_REGS (1 << HLL_BITS)
#define STATS_FORMAT 0x02

typedef struct hll {
  uint8_t reg[HLL_REGS];
} hll;

static uint64_t hash_bytes(const unsigned char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a full mix */
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

static void hll_add(hll *h, uint64_t x) {
  unsigned i = (unsigned)(x >> (64 - HLL_BITS));
  uint64_t w = x << HLL_BITS | 1ULL << (HLL_BITS - 1);
  uint8_t rho = (uint8_t)(__builtin_clzll(w) + 1);
  if (rho > h->reg[i]) h->reg[i] = rho;
}

static double hll_count(const hll *h) {
  double sum = 0, m = HLL_REGS;
  int zeros = 0;
  for (int i = 0; i < HLL_REGS; i++) {
    sum += 1.0 / (double)(1ULL << h->reg[i]);
    zeros += h->reg[i] == 0;
  }
  double e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
  if (e <= 2.5 * m && zeros) e = m * log(m / zeros); /* linear counting */
  return e;
}

/* One pass's sketches: for each path (the key, then indexes ix[]), one per
** leading part. */
typedef struct gatherer {
  int n, npk;
  const mvcc_index **ix;   /* [i] NULL: the key */
  hll *h;                  /* n × MVCC_MAX_KEY_COLUMNS */
  int64_t rows;
  mvcc_keybuf kb;
} gatherer;

static int gatherer_init(gatherer *g, const mvcc_tabledef *d,
                         const mvcc_index *const *ix, int n) {
  memset(g, 0, sizeof(*g));
  g->npk = d->npk;
  g->ix = malloc(sizeof(*g->ix) * (size_t)(n + 1));
  g->h = calloc((size_t)(n + 1) * MVCC_MAX_KEY_COLUMNS, sizeof(hll));
  if (!g->ix || !g->h) return SQLITE_NOMEM;
  g->ix[0] = NULL;
  for (int i = 0; i < n; i++) g->ix[i + 1] = ix[i];
  g->n = n + 1;
  mvcc_keybuf_init(&g->kb);
  return SQLITE_OK;
}

static void gatherer_free(gatherer *g) {
  free(g->ix);
  free(g->h);
  mvcc_keybuf_free(&g->kb);
}

static int gather_row(gatherer *g, const mvcc_tabledef *d,
                      const mvcc_value *vals) {
  int rc = SQLITE_OK;
  for (int i = 0; i < g->n && rc == SQLITE_OK; i++) {
    const mvcc_index *ix = g->ix[i];
    int ncol = ix ? ix->ncol : d->npk;
    mvcc_keybuf_reset(&g->kb);
    for (int k = 0; k < ncol && rc == SQLITE_OK; k++) {
      int c = ix ? ix->col[k] : d->pk[k];
      const mvcc_value *x = &vals[c];
      int coll = ix ? ix->coll[k] : d->cols[c].coll;
      bool desc = ix ? ix->desc[k] : d->cols[c].desc;
      rc = x->type == SQLITE_NULL ? mvcc_key_append_null(&g->kb, desc)
                                  : mvcc_key_append_cell(&g->kb, x, coll, desc);
      if (rc == SQLITE_CONSTRAINT) rc = mvcc_key_append_null(&g->kb, desc);
      hll_add(&g->h[i * MVCC_MAX_KEY_COLUMNS + k], hash_bytes(g->kb.p, g->kb.n));
    }
  }
  g->rows++;
  return rc;
}

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

/* The sketches of path i of g in record format, or of old's path num. */
static int path_ncol(const gatherer *g, int i) {
  return g->ix[i] ? g->ix[i]->ncol : g->npk;
}

/* Finds path num in record v (n bytes): its offset, or 0; *ncol. */
static size_t stats_find(const unsigned char *v, size_t n, int num, int *ncol) {
  for (size_t o = 9; v && n >= 9 && v[0] == STATS_FORMAT && o + 2 <= n;) {
    size_t len = 2 + (size_t)v[o + 1] * HLL_REGS;
    if (o + len > n) return 0;
    if (v[o] == num) {
      *ncol = v[o + 1];
      return o;
    }
    o += len;
  }
  return 0;
}

/* The record of g's sketches over old (another record, or NULL): with
** merge, each of g's sketches is merged into old's of the same path
** (register by register, the larger) and old's rows stay; without, g's
** paths replace old's and g's rows are the count.  old's other paths are
** kept.  sqlite3_malloc'd. */
static unsigned char *stats_encode(const gatherer *g, const unsigned char *old,
                                   size_t oldn, bool merge, size_t *n) {
  size_t cap = 9 + (size_t)g->n * (2 + (size_t)HLL_REGS * MVCC_MAX_KEY_COLUMNS) +
               oldn;
  unsigned char *v = sqlite3_malloc64(cap), *p = v;
  if (!v) return NULL;
  bool have_old = old && oldn >= 9 && old[0] == STATS_FORMAT;
  *p++ = STATS_FORMAT;
  put64(p, merge && have_old ? get64(old + 1) : (uint64_t)g->rows);
  p += 8;
  bool mine[256] = {false};
  for (int i = 0; i < g->n; i++) {
    int num = g->ix[i] ? g->ix[i]->num : 0, ncol = path_ncol(g, i), oncol = 0;
    size_t o = merge && have_old ? stats_find(old, oldn, num, &oncol) : 0;
    if (o && oncol != ncol) o = 0;
    mine[num] = true;
    *p++ = (unsigned char)num;
    *p++ = (unsigned char)ncol;
    for (int k = 0; k < ncol; k++, p += HLL_REGS) {
      const uint8_t *r = g->h[i * MVCC_MAX_KEY_COLUMNS + k].reg;
      for (int j = 0; j < HLL_REGS; j++) {
        uint8_t x = o ? old[o + 2 + (size_t)k * HLL_REGS + (size_t)j] : 0;
        p[j] = r[j] > x ? r[j] : x;
      }
    }
  }
  for (size_t o = 9; have_old && o + 2 <= oldn;) { /* old's other paths */
    size_t len = 2 + (size_t)old[o + 1] * HLL_REGS;
    if (o + len > oldn) break;
    if (!mine[old[o]]) {
      memcpy(p, old + o, len);
      p += len;
    }
    o += len;
  }
  *n = (size_t)(p - v);
  return v;
}

/* Gives the paths of set the statistics in record v. */
static void stats_apply(mvcc_indexset *set, const unsigned char *v, size_t n) {
  set->stats_rows = -1;
  if (!v || n < 9 || v[0] != STATS_FORMAT) return;
  double rows = (double)get64(v + 1);
  set->stats_rows = rows;
  for (size_t o = 9; o + 2 <= n;) {
    int num = v[o], ncol = v[o + 1];
    if (o + 2 + (size_t)HLL_REGS * (size_t)ncol > n ||
        ncol > MVCC_MAX_KEY_COLUMNS)
      return;
    for (int i = 0; i < set->npath; i++) {
      mvcc_path *p = &set->paths[i];
      if (p->num != num || p->ncol != ncol) continue;
      for (int k = 0; k < ncol; k++) {
        hll h;
        memcpy(h.reg, v + o + 2 + (size_t)k * HLL_REGS, HLL_REGS);
        p->ndv[k] = hll_count(&h);
      }
    }
    o += 2 + (size_t)HLL_REGS * (size_t)ncol;
  }
  for (int i = 0; i < set->npath; i++) set->paths[i].rows = rows;
}

#define SKETCH_FLUSH 4096

struct mvcc_sketch {
  gatherer g;
};

/* How an update rewrites a record (mvcc_catalog_stats_update's fn). */
typedef struct stats_change {
  const gatherer *g;    /* sketches to write */
  bool merge;           /* into the record's (else replacing them) */
  bool fresh;           /* g covers every path: old's others are dropped */
  int64_t tally;        /* row-count drift to write back (no g) */
  bool wrote;
} stats_change;

static int stats_rewrite(void *ctx, const unsigned char *old, size_t n,
                         unsigned char **out, size_t *outn) {
  stats_change *c = ctx;
  *out = NULL;
  bool have = old && n >= 9 && old[0] == STATS_FORMAT;
  if (c->g) {
    if (c->merge && !have) return SQLITE_OK; /* nothing to merge into */
    *out = stats_encode(c->g, c->fresh ? NULL : old, c->fresh ? 0 : n,
                        c->merge, outn);
    if (!*out) return SQLITE_NOMEM;
  } else {
    if (!have) return SQLITE_OK;
    int64_t base = (int64_t)get64(old + 1);
    int64_t drift = c->tally < 0 ? -c->tally : c->tally;
    if (drift < 1000 || drift < base / 8) return SQLITE_OK;
    if (!(*out = sqlite3_malloc64(n))) return SQLITE_NOMEM;
    memcpy(*out, old, n);
    put64(*out + 1, (uint64_t)(base + c->tally < 0 ? 0 : base + c->tally));
    *outn = n;
  }
  c->wrote = true;
  return SQLITE_OK;
}

/* Writes statistics: g's sketches (merged, or replacing), or the tally's
** drift; true when the record changed. */
static bool stats_write(kv_store *s, uint64_t id, stats_change *c) {
  char *err = NULL;
  c->wrote = false;
  if (mvcc_catalog_stats_update(s, id, stats_rewrite, c, &err) != SQLITE_OK)
    c->wrote = false;
  sqlite3_free(err); /* statistics are best effort */
  return c->wrote;
}

void mvcc_sketch_row(mvcc_sketch **sk, kv_store *s, uint64_t id,
                     const mvcc_tabledef *d, const mvcc_indexset *set,
                     const mvcc_value *vals) {
  if (!*sk) {
    mvcc_sketch *n = calloc(1, sizeof(*n));
    const mvcc_index **ix = malloc(sizeof(*ix) * (size_t)(set->nix + 1));
    for (int i = 0; ix && i < set->nix; i++) ix[i] = &set->ix[i];
    if (!n || !ix || gatherer_init(&n->g, d, ix, set->nix) != SQLITE_OK) {
      if (n) gatherer_free(&n->g);
      free(n);
      free(ix);
      return; /* statistics are best effort */
    }
    free(ix);
    *sk = n;
  }
  gatherer *g = &(*sk)->g;
  gather_row(g, d, vals);
  if (g->rows < SKETCH_FLUSH) return;
  stats_change c = {g, true, false, 0, false};
  stats_write(s, id, &c);
  g->rows = 0;
  memset(g->h, 0, sizeof(hll) * (size_t)g->n * MVCC_MAX_KEY_COLUMNS);
}

void mvcc_sketch_free(mvcc_sketch *sk) {
  if (!sk) return;
  gatherer_free(&sk->g);
  free(sk);
}

void mvcc_index_rows_committed(kv_store *s, uint64_t id, int64_t rows) {
  int64_t now = kv_store_tally(s, id, rows), before = now - rows;
  if (now / 1000 == before / 1000) return; /* look only every 1000 rows */
  stats_change c = {NULL, false, false, now, false};
  if (stats_write(s, id, &c)) {
    kv_store_tally(s, id, -now);
    kv_store_bump_epoch(s); /* connections take the new base */
  }
}

/* --------------------------------------------------------- index sets -- */

void mvcc_indexset_clear(mvcc_indexset *x) {
  for (int i = 0; i < x->nix; i++) sqlite3_free(x->ix[i].name);
  free(x->ix);
  free(x->paths);
  memset(x, 0, sizeof(*x));
}

/* Copies of catalog entries (mvcc_catalog_index_list's callback): those
** `want` accepts, or all. */
typedef struct catindex_list {
  mvcc_catindex *x;
  int n, cap;
  bool (*want)(const mvcc_catindex *x, const void *arg);
  const void *arg;
} catindex_list;

static int collect_catindex(void *ctx, const mvcc_catindex *x) {
  catindex_list *l = ctx;
  if (l->want && !l->want(x, l->arg)) return SQLITE_OK;
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 4;
    mvcc_catindex *n = realloc(l->x, sizeof(*n) * (size_t)cap);
    if (!n) return SQLITE_NOMEM;
    l->x = n;
    l->cap = cap;
  }
  l->x[l->n] = *x;
  l->x[l->n].ix.name = sqlite3_mprintf("%s", x->ix.name);
  return l->x[l->n++].ix.name ? SQLITE_OK : SQLITE_NOMEM;
}

static void catindex_list_free(catindex_list *l) {
  for (int i = 0; i < l->n; i++) sqlite3_free(l->x[i].ix.name);
  free(l->x);
}

static int newest_first(const void *a, const void *b) {
  const mvcc_catindex *x = a, *y = b;
  return x->ix.seq < y->ix.seq ? 1 : x->ix.seq > y->ix.seq ? -1 : 0;
}

int mvcc_indexset_load(kv_store *s, const mvcc_tabledef *d, uint64_t id,
                       mvcc_indexset *out, char **pzErr) {
  memset(out, 0, sizeof(*out));
  catindex_list l = {NULL, 0, 0, NULL, NULL};
  int rc = id ? mvcc_catalog_index_list(s, id, collect_catindex, &l, pzErr)
              : SQLITE_OK;
  int nix = l.n + d->nuniq;
  mvcc_index *ix = rc == SQLITE_OK ? malloc(sizeof(*ix) * (size_t)(nix + 1))
                                   : NULL;
  mvcc_path *paths = ix ? malloc(sizeof(*paths) * (size_t)(nix + 1)) : NULL;
  if (rc == SQLITE_OK && !paths) rc = SQLITE_NOMEM;
  for (int i = 0; i < l.n; i++) {
    /* a column past the definition's: a corrupt or foreign entry */
    for (int k = 0; k < l.x[i].ix.ncol; k++)
      if (rc == SQLITE_OK &&
          (l.x[i].ix.col[k] >= d->ncol || l.x[i].ix.coll[k] > 2)) {
        mvcc_set_error(pzErr, sqlite3_mprintf("mvcc: the catalog entry of "
                                              "index %s of %s is corrupt",
                                              l.x[i].ix.name, d->name));
        rc = SQLITE_CORRUPT;
      }
  }
  if (rc) {
    catindex_list_free(&l);
    free(ix);
    free(paths);
    return rc;
  }
  if (l.n > 1) qsort(l.x, (size_t)l.n, sizeof(mvcc_catindex), newest_first);
  for (int i = 0; i < l.n; i++) ix[i] = l.x[i].ix; /* names move to ix */
  free(l.x);
  for (int i = 0; i < d->nuniq; i++) ix[l.n + i] = d->uniq[i];
  out->ix = ix;
  out->nix = nix;
  out->ncreated = l.n;
  out->paths = paths;
  mvcc_path_of(d, NULL, &paths[out->npath++]);
  for (int i = nix - 1; i >= 0; i--) /* the definition's first, then oldest */
    if (ix[i].ready) mvcc_path_of(d, &ix[i], &paths[out->npath++]);
  unsigned char *st = NULL;
  size_t stn = 0;
  char *serr = NULL; /* no statistics only makes plans guess */
  out->stats_rows = -1;
  if (id && mvcc_catalog_stats_get(s, id, &st, &stn, &serr) == SQLITE_OK)
    stats_apply(out, st, stn);
  sqlite3_free(serr);
  sqlite3_free(st);
  return SQLITE_OK;
}

const mvcc_path *mvcc_indexset_path(const mvcc_indexset *x, int num) {
  for (int i = 0; i < x->npath; i++)
    if (x->paths[i].num == num) return &x->paths[i];
  return NULL;
}

/* ---------------------------------------------------------- the build -- */

/* The connection's store holding table name: the default store first. */
static int find_table(mvcc_conn *c, const char *name, mvcc_sconn **sc,
                      mvcc_catentry *e, const char *fn, char **pzErr) {
  *sc = NULL;
  memset(e, 0, sizeof(*e));
  for (int pass = 0; pass < 2; pass++) {
    for (mvcc_sconn *s = pass ? c->stores : c->dflt; s;
         s = pass ? s->next : NULL) {
      if (pass && s == c->dflt) continue;
      bool found = false;
      int rc = mvcc_catalog_get(s->store, name, &found, e, pzErr);
      if (rc) return rc;
      if (found) {
        *sc = s;
        return SQLITE_OK;
      }
    }
  }
  *pzErr = sqlite3_mprintf("%s: no mvcc table %s", fn, name);
  return SQLITE_ERROR;
}

/* DDL commits on its own; a transaction of this connection that already
** wrote to the store would commit writes the index never saw. */
static int refuse_in_write_txn(mvcc_sconn *sc, const char *fn, char **pzErr) {
  if (!sc->cur || !sc->cur->kv || sc->cur->read_only) return SQLITE_OK;
  *pzErr = sqlite3_mprintf("%s: cannot run inside a transaction that writes "
                           "to the store; COMMIT or ROLLBACK first", fn);
  return SQLITE_ERROR;
}

typedef struct txn_ids {
  uint64_t *ids;
  size_t n, cap;
  uint64_t self;
  bool oom;
} txn_ids;

static void note_writer(void *ctx, const kv_txn_info *i) {
  txn_ids *x = ctx;
  if (i->read_only || i->id == x->self || i->status >= 2) return;
  if (x->n == x->cap) {
    size_t cap = x->cap ? 2 * x->cap : 16;
    uint64_t *n = realloc(x->ids, sizeof(uint64_t) * cap);
    if (!n) {
      x->oom = true;
      return;
    }
    x->ids = n;
    x->cap = cap;
  }
  x->ids[x->n++] = i->id;
}

/* Waits until every writing transaction live now (but the caller's own,
** self) has ended, or timeout_ms passed (*waited_out false). */
static int wait_writers(kv_store *s, uint64_t self, int timeout_ms,
                        bool *waited_out) {
  txn_ids before = {NULL, 0, 0, self, false};
  kv_store_list_txns(s, note_writer, &before);
  *waited_out = true;
  int rc = before.oom ? SQLITE_NOMEM : SQLITE_OK;
  for (int slept = 0; rc == SQLITE_OK && before.n; slept++) {
    txn_ids now = {NULL, 0, 0, self, false};
    kv_store_list_txns(s, note_writer, &now);
    if (now.oom) rc = SQLITE_NOMEM;
    size_t left = 0;
    for (size_t i = 0; i < before.n; i++)
      for (size_t j = 0; j < now.n; j++)
        if (before.ids[i] == now.ids[j]) before.ids[left++] = before.ids[i];
    before.n = left;
    free(now.ids);
    if (!before.n) break;
    if (slept >= timeout_ms) {
      *waited_out = false;
      break;
    }
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  free(before.ids);
  return rc;
}

static int kv_err(int krc, char *err, char **pzErr) {
  int rc = mvcc_kv_error(krc, err, false, pzErr);
  kv_free(err);
  return rc;
}

/* One batch of the backfill: indexes up to `limit` rows from b->start in
** transaction t; *next is the last row's key, *n counts the rows, *done at
** the end of the table. */
typedef struct build {
  kv_store *s;
  const mvcc_tabledef *d;
  const char *table;
  unsigned char prefix[MVCC_KEY_PREFIX_LEN];
  const mvcc_index *ix;
  mvcc_keybuf start;      /* the next row key to index */
  mvcc_value *vals;
  mvcc_row row;
  mvcc_keybuf e;
  mvcc_keybuf batch;      /* the batch's entries: key ‖ row key, ... */
  gatherer *g;            /* statistics of the key and the new index */
  size_t *off;            /* 3 offsets per row into batch */
  size_t noff, capoff;
} build;

/* A batch's entry in the sort: the 8 bytes of its key past the prefix all
** the batch's keys share, big-endian (zeros past the key's end), so most
** comparisons are one integer compare and touch no key. */
typedef struct entry_ref {
  uint64_t head;
  size_t i;    /* its first offset in build.off */
} entry_ref;

static int entry_order(const void *x, const void *y, void *ctx) {
  const build *b = ctx;
  const entry_ref *l = x, *r = y;
  if (l->head != r->head) return l->head < r->head ? -1 : 1;
  size_t i = l->i, j = r->i;
  return kv_key_cmp(b->batch.p + b->off[i], b->off[i + 1] - b->off[i],
                    b->batch.p + b->off[j], b->off[j + 1] - b->off[j]);
}

/* The batch's entries in key order (caller frees); NULL when out of
** memory. */
static entry_ref *entries_sorted(build *b, size_t nent) {
  entry_ref *r = malloc(sizeof(entry_ref) * nent);
  if (!r) return NULL;
  const unsigned char *k0 = b->batch.p + b->off[0];
  size_t shared = b->off[1] - b->off[0];
  for (size_t e = 1; e < nent && shared; e++) {
    const unsigned char *k = b->batch.p + b->off[3 * e];
    size_t kl = b->off[3 * e + 1] - b->off[3 * e], m = 0;
    if (kl < shared) shared = kl;
    while (m < shared && k[m] == k0[m]) m++;
    shared = m;
  }
  for (size_t e = 0; e < nent; e++) {
    const unsigned char *k = b->batch.p + b->off[3 * e];
    size_t kl = b->off[3 * e + 1] - b->off[3 * e];
    uint64_t h = 0;
    for (size_t m = shared; m < shared + 8; m++)
      h = h << 8 | (m < kl ? k[m] : 0);
    r[e] = (entry_ref){h, 3 * e};
  }
  qsort_r(r, nent, sizeof(entry_ref), entry_order, b);
  return r;
}

static int build_batch(build *b, kv_txn *t, int limit, mvcc_keybuf *next,
                       int64_t *n, bool *done, char **pzErr) {
  unsigned char end[MVCC_KEY_PREFIX_LEN + 1];
  memcpy(end, b->prefix, MVCC_KEY_PREFIX_LEN);
  end[MVCC_KEY_PREFIX_LEN] = MVCC_INDEX_TAG;
  kv_iter *it = NULL;
  char *err = NULL;
  *n = 0;
  *done = false;
  int krc = kv_txn_scan(t, b->start.p, b->start.n, end, sizeof end, 0,
                        (uint64_t)limit, &it, &err);
  if (krc) return kv_err(krc, err, pzErr);
  int rc = SQLITE_OK;
  /* Entries are written after the scan (a write during it would disturb
  ** the iterator): meanwhile they are collected in one buffer. */
  mvcc_keybuf_reset(&b->batch);
  b->noff = 0;
  while (rc == SQLITE_OK && (krc = kv_iter_next(it, &err)) == KV_OK) {
    size_t kl, vl;
    const unsigned char *k = kv_iter_key(it, &kl);
    const unsigned char *v = kv_iter_value(it, &vl);
    if (mvcc_row_parse(&b->row, v, vl) || b->row.ncol < b->d->ncol) {
      *pzErr = sqlite3_mprintf("mvcc: a row of %s cannot be decoded",
                               b->table);
      rc = SQLITE_CORRUPT;
      break;
    }
    mvcc_row_values(&b->row, b->d->ncol, b->vals);
    if (b->g) gather_row(b->g, b->d, b->vals); /* counts rows in retries too */
    bool carries;
    rc = mvcc_index_entry(&b->e, b->prefix, b->ix, b->vals,
                          k + MVCC_KEY_PREFIX_LEN, kl - MVCC_KEY_PREFIX_LEN,
                          &carries);
    if (rc) break;
    if (b->noff + 3 > b->capoff) {
      size_t cap = b->capoff ? 2 * b->capoff : 3 * 256;
      size_t *no = realloc(b->off, sizeof(size_t) * cap);
      if (!no) {
        rc = SQLITE_NOMEM;
        break;
      }
      b->off = no;
      b->capoff = cap;
    }
    b->off[b->noff++] = b->batch.n;
    rc = mvcc_keybuf_append(&b->batch, b->e.p, b->e.n);
    b->off[b->noff++] = b->batch.n;
    if (rc == SQLITE_OK)
      rc = mvcc_index_value(&b->e, b->d, b->ix, b->vals, k + MVCC_KEY_PREFIX_LEN,
                            kl - MVCC_KEY_PREFIX_LEN);
    if (rc == SQLITE_OK) rc = mvcc_keybuf_append(&b->batch, b->e.p, b->e.n);
    b->off[b->noff++] = b->batch.n;
    ++*n;
    mvcc_keybuf_reset(next);
    if (rc == SQLITE_OK) rc = mvcc_keybuf_append(next, k, kl);
  }
  kv_iter_close(it);
  if (rc == SQLITE_OK && krc != KV_OK && krc != KV_NOTFOUND)
    rc = kv_err(krc, err, pzErr);
  else
    kv_free(err);
  if (rc == SQLITE_OK) *done = *n < limit;
  /* Written in key order: the transaction's write buffer and lock table
  ** take ascending keys faster than the rows' random order. */
  size_t nent = b->noff / 3;
  entry_ref *order = rc == SQLITE_OK && nent ? entries_sorted(b, nent) : NULL;
  if (rc == SQLITE_OK && nent && !order) rc = SQLITE_NOMEM;
  for (size_t j = 0; rc == SQLITE_OK && j < nent; j++) {
    size_t i = order[j].i;
    const unsigned char *ek = b->batch.p + b->off[i];
    const unsigned char *ev = b->batch.p + b->off[i + 1];
    size_t ekl = b->off[i + 1] - b->off[i], evl = b->off[i + 2] - b->off[i + 1];
    err = NULL;
    if (b->ix->unique) {
      const unsigned char *rk;
      size_t rkl;
      mvcc_index_value_parts(ev, evl, &rk, &rkl, NULL, NULL);
      /* A locking read, so no writer slips in the same value meanwhile;
      ** the entry may already be there (a writer of that row put it). */
      const void *v;
      size_t vl;
      krc = kv_txn_get(t, ek, ekl, KV_READ_FOR_UPDATE, &v, &vl, &err);
      const unsigned char *ork = NULL;
      size_t orkl = 0;
      if (krc == KV_OK &&
          (mvcc_index_value_parts(v, vl, &ork, &orkl, NULL, NULL) ||
           orkl != rkl || memcmp(ork, rk, rkl) != 0)) {
        *pzErr = mvcc_unique_msg(b->table, b->d, b->ix->col, b->ix->ncol);
        rc = SQLITE_CONSTRAINT_UNIQUE;
        break;
      }
      if (krc != KV_OK && krc != KV_NOTFOUND) {
        rc = kv_err(krc, err, pzErr);
        break;
      }
      kv_free(err);
      err = NULL;
    }
    krc = kv_txn_put(t, ek, ekl, ev, evl, &err);
    if (krc) rc = kv_err(krc, err, pzErr);
  }
  free(order);
  return rc;
}

/* The backfill: every row of the table gets its entry; *rows counts them. */
static int backfill(build *b, int64_t *rows, char **pzErr) {
  int rc = SQLITE_OK;
  mvcc_keybuf next;
  mvcc_keybuf_init(&next);
  *rows = 0;
  int limit = BUILD_BATCH_MAX;
  for (bool done = false; !done && rc == SQLITE_OK;) {
    kv_retry_info info;
    bool retry = false;
    int64_t n = 0;
    for (int attempt = 0;; attempt++) {
      kv_txn_options o;
      kv_txn_options_init(&o);
      if (retry) o.retry_of = &info;
      kv_txn *t = NULL;
      char *err = NULL;
      int krc = kv_txn_begin(b->s, &o, &t, &err);
      if (krc) {
        rc = kv_err(krc, err, pzErr);
        break;
      }
      rc = build_batch(b, t, limit, &next, &n, &done, pzErr);
      if (rc == SQLITE_OK) {
        krc = kv_txn_commit(t, NULL, &err);
        if (krc == KV_OK) break;
        rc = kv_err(krc, err, pzErr);
      }
      if (kv_txn_retry_reason(t) == KV_RETRY_NONE ||
          attempt + 1 == BUILD_RETRIES) {
        kv_txn_abort(t);
        break;
      }
      kv_txn_retry_info(t, &info);
      retry = true;
      kv_txn_abort(t);
      sqlite3_free(*pzErr);
      *pzErr = NULL;
      rc = SQLITE_OK;
      if (limit > BUILD_BATCH_MIN) limit /= 2; /* less to conflict with */
    }
    if (rc) break;
    *rows += n;
    if (!retry && limit < BUILD_BATCH_MAX) limit *= 2;
    /* The next batch starts right after the last row: key ‖ 0x00. */
    static const unsigned char zero = 0;
    mvcc_keybuf_reset(&b->start);
    rc = mvcc_keybuf_append(&b->start, next.p, next.n);
    if (rc == SQLITE_OK) rc = mvcc_keybuf_append(&b->start, &zero, 1);
  }
  mvcc_keybuf_free(&next);
  return rc;
}

/* Deletes index num's entries of table id. */
static int delete_entries(kv_store *s, uint64_t id, int num, char **pzErr) {
  unsigned char prefix[MVCC_KEY_PREFIX_LEN];
  mvcc_row_prefix(prefix, id);
  mvcc_keybuf lo, hi;
  mvcc_keybuf_init(&lo);
  mvcc_keybuf_init(&hi);
  int rc = index_span(prefix, num, &lo, &hi);
  char *err = NULL;
  int krc = rc ? KV_OK : kv_store_delete_range(s, lo.p, lo.n, hi.p, hi.n, &err);
  if (krc) rc = kv_err(krc, err, pzErr);
  mvcc_keybuf_free(&lo);
  mvcc_keybuf_free(&hi);
  return rc;
}

static int bad_name(const char *name, const char *fn, char **pzErr) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > NAME_MAX_LEN ||
      sqlite3_strnicmp(name, "sqlite_", 7) == 0) {
    *pzErr = sqlite3_mprintf("%s: bad index name %Q (a name of 1-%d "
                             "characters not beginning with sqlite_)",
                             fn, name ? name : "", NAME_MAX_LEN);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

static uint64_t own_txn(mvcc_sconn *sc) {
  return sc->cur && sc->cur->kv ? kv_txn_id(sc->cur->kv) : 0;
}

int mvcc_index_create(mvcc_conn *c, const char *name, const char *table,
                      const char *columns, bool unique, int64_t *rows,
                      char **pzErr) {
  static const char fn[] = "mvcc_create_index";
  *rows = 0;
  if (bad_name(name, fn, pzErr)) return SQLITE_ERROR;
  if (!table || !columns) {
    *pzErr = sqlite3_mprintf("%s(name, table, columns [, 'unique']): give "
                             "a table and its columns", fn);
    return SQLITE_ERROR;
  }
  mvcc_sconn *sc;
  mvcc_catentry e;
  int rc = find_table(c, table, &sc, &e, fn, pzErr);
  if (rc == SQLITE_OK) rc = refuse_in_write_txn(sc, fn, pzErr);
  char **argv = NULL;
  int argc = 0;
  mvcc_tabledef *d = NULL;
  if (rc == SQLITE_OK) rc = mvcc_split_args(e.args, &argv, &argc);
  if (rc == SQLITE_OK)
    rc = mvcc_schema_parse(c->db, e.name, argc, (const char *const *)argv, &d,
                           pzErr);
  mvcc_catindex x;
  memset(&x, 0, sizeof(x));
  x.table = e.id;
  if (sc) x.builder = kv_store_opened_at(sc->store);
  x.ix.unique = unique;
  x.ix.name = sqlite3_mprintf("%s", name);
  if (rc == SQLITE_OK && !x.ix.name) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK)
    rc = mvcc_schema_index_columns(c->db, d, columns, &x.ix, pzErr);
  bool added = false;
  if (rc == SQLITE_OK) {
    rc = mvcc_catalog_index_add(sc->store, e.name, &x, pzErr);
    added = rc == SQLITE_OK;
  }
  build b;
  memset(&b, 0, sizeof(b));
  mvcc_keybuf_init(&b.start);
  mvcc_keybuf_init(&b.e);
  mvcc_keybuf_init(&b.batch);
  if (added) {
    kv_store_bump_epoch(sc->store); /* step 1: writers maintain it */
    kv_options o;
    kv_store_get_options(sc->store, &o);
    bool waited_out;
    rc = wait_writers(sc->store, own_txn(sc), o.lock_timeout_ms, &waited_out);
    if (rc == SQLITE_OK && !waited_out) {
      *pzErr = sqlite3_mprintf("%s: index %s waited %d ms for transactions "
                               "that were writing when its build began; try "
                               "again when they end",
                               fn, name, o.lock_timeout_ms);
      rc = SQLITE_BUSY;
    }
  }
  if (added && rc == SQLITE_OK) {
    b.s = sc->store;
    b.d = d;
    b.table = e.name;
    b.ix = &x.ix;
    mvcc_row_prefix(b.prefix, e.id);
    b.vals = calloc((size_t)d->ncol, sizeof(mvcc_value));
    rc = b.vals ? mvcc_keybuf_append(&b.start, b.prefix, sizeof b.prefix)
                : SQLITE_NOMEM;
    gatherer g;
    const mvcc_index *gi = &x.ix;
    bool gathering =
        rc == SQLITE_OK && gatherer_init(&g, d, &gi, 1) == SQLITE_OK;
    b.g = gathering ? &g : NULL;
    if (rc == SQLITE_OK) rc = backfill(&b, rows, pzErr);
    if (rc == SQLITE_OK && gathering) {
      /* Statistics: best effort (a plan without them only guesses). */
      g.rows = *rows;
      int64_t tally = kv_store_tally(sc->store, e.id, 0);
      stats_change sch = {&g, false, false, 0, false};
      if (stats_write(sc->store, e.id, &sch))
        kv_store_tally(sc->store, e.id, -tally); /* counted afresh */
    }
    gatherer_free(&g);
    if (rc == SQLITE_OK)
      rc = mvcc_catalog_index_ready(sc->store, name, e.id, x.ix.num, pzErr);
    kv_store_bump_epoch(sc->store);
  }
  if (added && rc != SQLITE_OK) {
    /* Leave nothing behind: the catalog entry, then the entries. */
    bool found;
    char *err2 = NULL;
    mvcc_catalog_index_remove(sc->store, name, e.id, x.ix.num, &found, NULL,
                              &err2);
    sqlite3_free(err2);
    kv_store_bump_epoch(sc->store);
    err2 = NULL;
    delete_entries(sc->store, e.id, x.ix.num, &err2);
    sqlite3_free(err2);
  }
  free(b.vals);
  mvcc_row_clear(&b.row);
  mvcc_keybuf_free(&b.start);
  mvcc_keybuf_free(&b.e);
  mvcc_keybuf_free(&b.batch);
  free(b.off);
  mvcc_catindex_clear(&x);
  mvcc_tabledef_free(d);
  mvcc_free_args(argv, argc);
  mvcc_catentry_clear(&e);
  return rc;
}

int mvcc_index_drop(mvcc_conn *c, const char *name, char **pzErr) {
  static const char fn[] = "mvcc_drop_index";
  if (bad_name(name, fn, pzErr)) return SQLITE_ERROR;
  mvcc_catindex x;
  memset(&x, 0, sizeof(x));
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) {
    int rc = refuse_in_write_txn(sc, fn, pzErr);
    if (rc) return rc;
  }
  for (mvcc_sconn *sc = c->stores; sc; sc = sc->next) {
    bool found = false;
    int rc = mvcc_catalog_index_remove(sc->store, name, 0, 0, &found, &x,
                                       pzErr);
    if (rc) return rc;
    if (!found) continue;
    kv_store_bump_epoch(sc->store);
    kv_options o;
    kv_store_get_options(sc->store, &o);
    bool waited_out; /* a writer past the timeout may leave stray entries
                     ** under the num, which is not reused for long */
    rc = wait_writers(sc->store, own_txn(sc), o.lock_timeout_ms, &waited_out);
    if (rc == SQLITE_OK) rc = delete_entries(sc->store, x.table, x.ix.num, pzErr);
    mvcc_catindex_clear(&x);
    return rc;
  }
  *pzErr = sqlite3_mprintf("no such index: %s", name);
  return SQLITE_ERROR;
}

/* Indexes left building by a builder that died: its process held the store,
** so any index building under another opening than this one is orphaned. */
static bool orphaned(const mvcc_catindex *x, const void *now) {
  return !x->ix.ready && kv_ts_cmp(x->builder, *(const kv_ts *)now) != 0;
}

int mvcc_index_sweep(kv_store *s, int *swept, char **pzErr) {
  kv_ts now = kv_store_opened_at(s);
  catindex_list l = {NULL, 0, 0, orphaned, &now};
  *swept = 0;
  int rc = mvcc_catalog_index_list(s, 0, collect_catindex, &l, pzErr);
  for (int i = 0; rc == SQLITE_OK && i < l.n; i++) {
    bool found = false;
    rc = mvcc_catalog_index_remove(s, l.x[i].ix.name, l.x[i].table,
                                   l.x[i].ix.num, &found, NULL, pzErr);
    if (rc == SQLITE_OK && found) {
      kv_store_bump_epoch(s);
      rc = delete_entries(s, l.x[i].table, l.x[i].ix.num, pzErr);
      ++*swept;
    }
  }
  catindex_list_free(&l);
  return rc;
}

/* ------------------------------------------------------------- check -- */

/* How many entries index num of the table with prefix has, in t. */
static int count_entries(kv_txn *t, const unsigned char *prefix, int num,
                         int64_t *n, char **pzErr) {
  mvcc_keybuf lo, hi;
  mvcc_keybuf_init(&lo);
  mvcc_keybuf_init(&hi);
  int rc = index_span(prefix, num, &lo, &hi);
  *n = 0;
  kv_iter *it = NULL;
  char *err = NULL;
  int krc = rc ? KV_OK : kv_txn_scan(t, lo.p, lo.n, hi.p, hi.n, 0, 0, &it, &err);
  if (rc == SQLITE_OK && krc == KV_OK) {
    while ((krc = kv_iter_next(it, &err)) == KV_OK) ++*n;
    kv_iter_close(it);
    if (krc == KV_NOTFOUND) krc = KV_OK;
  }
  if (rc == SQLITE_OK && krc) rc = kv_err(krc, err, pzErr);
  else kv_free(err);
  mvcc_keybuf_free(&lo);
  mvcc_keybuf_free(&hi);
  return rc;
}

static char *index_label(const char *table, const mvcc_tabledef *d,
                         const mvcc_index *ix) {
  if (ix->name) return sqlite3_mprintf("index %s", ix->name);
  char *m = mvcc_unique_msg(table, d, ix->col, ix->ncol);
  char *r = m ? sqlite3_mprintf("UNIQUE(%s)", m + 26) : NULL;
  sqlite3_free(m);
  return r;
}

/* Compares every index of the set with the table's rows in snapshot t:
** each row has its entry in each index, naming it, and each index has as
** many entries as the table has rows (so none names a row not there). */
static int check_indexes(kv_txn *t, const mvcc_tabledef *d, const char *table,
                         const unsigned char *prefix, const mvcc_indexset *set,
                         sqlite3_str *out, int *problems, char **pzErr) {
  unsigned char end[MVCC_KEY_PREFIX_LEN + 1];
  memcpy(end, prefix, MVCC_KEY_PREFIX_LEN);
  end[MVCC_KEY_PREFIX_LEN] = MVCC_INDEX_TAG;
  kv_iter *it = NULL;
  char *err = NULL;
  int krc = kv_txn_scan(t, prefix, MVCC_KEY_PREFIX_LEN, end, sizeof end, 0, 0,
                        &it, &err);
  if (krc) return kv_err(krc, err, pzErr);
  mvcc_keybuf e, want;
  mvcc_keybuf_init(&e);
  mvcc_keybuf_init(&want);
  mvcc_value *vals = calloc((size_t)d->ncol, sizeof(mvcc_value));
  mvcc_row row;
  memset(&row, 0, sizeof(row));
  int64_t rows = 0;
  int rc = vals ? SQLITE_OK : SQLITE_NOMEM;
  while (rc == SQLITE_OK && (krc = kv_iter_next(it, &err)) == KV_OK) {
    size_t kl, vl;
    const unsigned char *k = kv_iter_key(it, &kl);
    const unsigned char *val = kv_iter_value(it, &vl);
    rows++;
    if (mvcc_row_parse(&row, val, vl) || row.ncol < d->ncol) {
      sqlite3_str_appendf(out, "%sa row of %s cannot be decoded",
                          (*problems)++ ? "; " : "", table);
      continue;
    }
    mvcc_row_values(&row, d->ncol, vals);
    for (int u = 0; rc == SQLITE_OK && u < set->nix; u++) {
      bool carries;
      const unsigned char *rk = k + MVCC_KEY_PREFIX_LEN;
      size_t rkl = kl - MVCC_KEY_PREFIX_LEN;
      rc = mvcc_index_entry(&e, prefix, &set->ix[u], vals, rk, rkl, &carries);
      if (rc == SQLITE_OK)
        rc = mvcc_index_value(&want, d, &set->ix[u], vals, rk, rkl);
      if (rc) break;
      const void *ev;
      size_t evl;
      char *gerr = NULL;
      int grc = kv_txn_get(t, e.p, e.n, 0, &ev, &evl, &gerr);
      kv_free(gerr);
      if (grc == KV_OK && evl == want.n && memcmp(ev, want.p, evl) == 0)
        continue;
      if (grc != KV_OK && grc != KV_NOTFOUND) {
        rc = SQLITE_IOERR;
        break;
      }
      const unsigned char *ork = NULL;
      size_t orkl = 0;
      bool mine = grc == KV_OK &&
                  !mvcc_index_value_parts(ev, evl, &ork, &orkl, NULL, NULL) &&
                  orkl == rkl && memcmp(ork, rk, rkl) == 0;
      char *m = index_label(table, d, &set->ix[u]);
      sqlite3_str_appendf(out, "%srow %lld of %s: its entry in %s is %s",
                          (*problems)++ ? "; " : "", (long long)rows, table,
                          m ? m : "?",
                          grc != KV_OK ? "missing"
                          : mine       ? "stale (other values)"
                                       : "another row's");
      sqlite3_free(m);
    }
  }
  kv_iter_close(it);
  if (rc == SQLITE_OK && krc != KV_NOTFOUND) rc = kv_err(krc, err, pzErr);
  else kv_free(err);
  for (int u = 0; rc == SQLITE_OK && u < set->nix; u++) {
    int64_t n = 0;
    rc = count_entries(t, prefix, set->ix[u].num, &n, pzErr);
    if (rc == SQLITE_OK && n != rows) {
      char *m = index_label(table, d, &set->ix[u]);
      sqlite3_str_appendf(out, "%s%s has %lld entries for %lld rows",
                          (*problems)++ ? "; " : "", m ? m : "?",
                          (long long)n, (long long)rows);
      sqlite3_free(m);
    }
  }
  mvcc_row_clear(&row);
  free(vals);
  mvcc_keybuf_free(&e);
  mvcc_keybuf_free(&want);
  return rc;
}

/* A table of the catalog, parsed, with its indexes. */
typedef struct table_view {
  char **argv;
  int argc;
  mvcc_tabledef *d;
  mvcc_indexset set;
} table_view;

static int view_open(mvcc_sconn *sc, const mvcc_catentry *e, table_view *v,
                     char **pzErr) {
  memset(v, 0, sizeof(*v));
  int rc = mvcc_split_args(e->args, &v->argv, &v->argc);
  if (rc == SQLITE_OK)
    rc = mvcc_schema_parse(sc->conn->db, e->name, v->argc,
                           (const char *const *)v->argv, &v->d, pzErr);
  if (rc == SQLITE_OK)
    rc = mvcc_indexset_load(sc->store, v->d, e->id, &v->set, pzErr);
  return rc;
}

static void view_close(table_view *v) {
  mvcc_indexset_clear(&v->set);
  mvcc_tabledef_free(v->d);
  mvcc_free_args(v->argv, v->argc);
}

static int snapshot(kv_store *s, kv_txn **t, char **pzErr) {
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = 1;
  char *err = NULL;
  int krc = kv_txn_begin(s, &o, t, &err);
  return krc ? kv_err(krc, err, pzErr) : SQLITE_OK;
}

int mvcc_check_table(mvcc_sconn *sc, const char *name, char **report,
                     char **pzErr) {
  bool found = false;
  mvcc_catentry e;
  int rc = mvcc_catalog_get(sc->store, name, &found, &e, pzErr);
  if (rc == SQLITE_OK && !found) {
    mvcc_set_error(pzErr, sqlite3_mprintf("mvcc_check: no mvcc table %s in "
                                          "the store", name));
    rc = SQLITE_ERROR;
  }
  table_view v;
  memset(&v, 0, sizeof(v));
  kv_txn *t = NULL;
  if (rc == SQLITE_OK) rc = view_open(sc, &e, &v, pzErr);
  if (rc == SQLITE_OK) rc = snapshot(sc->store, &t, pzErr);
  if (rc == SQLITE_OK) {
    unsigned char prefix[MVCC_KEY_PREFIX_LEN];
    mvcc_row_prefix(prefix, e.id);
    sqlite3_str *out = sqlite3_str_new(NULL);
    int problems = 0;
    rc = check_indexes(t, v.d, e.name, prefix, &v.set, out, &problems, pzErr);
    if (rc == SQLITE_OK && problems == 0) sqlite3_str_appendall(out, "ok");
    char *r = sqlite3_str_finish(out);
    if (rc == SQLITE_OK && !r) rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK) *report = r;
    else sqlite3_free(r);
  }
  if (t) kv_txn_abort(t);
  view_close(&v);
  mvcc_catentry_clear(&e);
  return rc;
}

/* ----------------------------------------------------------- analyze -- */

int mvcc_index_analyze(mvcc_conn *c, const char *table, int64_t *rows,
                       char **pzErr) {
  *rows = 0;
  if (!table) {
    *pzErr = sqlite3_mprintf("mvcc_analyze: give the name of an mvcc table");
    return SQLITE_ERROR;
  }
  mvcc_sconn *sc;
  mvcc_catentry e;
  int rc = find_table(c, table, &sc, &e, "mvcc_analyze", pzErr);
  table_view v;
  memset(&v, 0, sizeof(v));
  kv_txn *t = NULL;
  gatherer g;
  memset(&g, 0, sizeof(g));
  mvcc_value *vals = NULL;
  mvcc_row row;
  memset(&row, 0, sizeof(row));
  if (rc == SQLITE_OK) rc = view_open(sc, &e, &v, pzErr);
  if (rc == SQLITE_OK) {
    const mvcc_index **ix = malloc(sizeof(*ix) * (size_t)(v.set.nix + 1));
    for (int i = 0; ix && i < v.set.nix; i++) ix[i] = &v.set.ix[i];
    rc = ix ? gatherer_init(&g, v.d, ix, v.set.nix) : SQLITE_NOMEM;
    free(ix);
    vals = calloc((size_t)v.d->ncol, sizeof(mvcc_value));
    if (rc == SQLITE_OK && !vals) rc = SQLITE_NOMEM;
  }
  if (rc == SQLITE_OK) rc = snapshot(sc->store, &t, pzErr);
  if (rc == SQLITE_OK) {
    unsigned char lo[MVCC_KEY_PREFIX_LEN], hi[MVCC_KEY_PREFIX_LEN + 1];
    mvcc_row_prefix(lo, e.id);
    memcpy(hi, lo, sizeof lo);
    hi[MVCC_KEY_PREFIX_LEN] = MVCC_INDEX_TAG;
    kv_iter *it = NULL;
    char *err = NULL;
    int krc = kv_txn_scan(t, lo, sizeof lo, hi, sizeof hi, 0, 0, &it, &err);
    while (krc == KV_OK && rc == SQLITE_OK &&
           (krc = kv_iter_next(it, &err)) == KV_OK) {
      size_t vl;
      const unsigned char *val = kv_iter_value(it, &vl);
      if (mvcc_row_parse(&row, val, vl) || row.ncol < v.d->ncol) {
        *pzErr = sqlite3_mprintf("mvcc: a row of %s cannot be decoded",
                                 e.name);
        rc = SQLITE_CORRUPT;
        break;
      }
      mvcc_row_values(&row, v.d->ncol, vals);
      rc = gather_row(&g, v.d, vals);
    }
    if (it) kv_iter_close(it);
    if (rc == SQLITE_OK && krc != KV_NOTFOUND) rc = kv_err(krc, err, pzErr);
    else kv_free(err);
  }
  if (t) kv_txn_abort(t);
  if (rc == SQLITE_OK) {
    int64_t tally = kv_store_tally(sc->store, e.id, 0);
    stats_change sch = {&g, false, true, 0, false};
    rc = mvcc_catalog_stats_update(sc->store, e.id, stats_rewrite, &sch, pzErr);
    if (rc == SQLITE_OK) kv_store_tally(sc->store, e.id, -tally);
    kv_store_bump_epoch(sc->store); /* plans take them up */
    *rows = g.rows;
  }
  mvcc_row_clear(&row);
  free(vals);
  gatherer_free(&g);
  view_close(&v);
  mvcc_catentry_clear(&e);
  return rc;
}

/* -------------------------------------------------------- index list -- */

typedef struct index_list {
  mvcc_sconn *sc;
  mvcc_index_fn fn;
  void *ctx;
  char **pzErr;
} index_list;

static int list_table_indexes(void *vctx, const mvcc_catentry *e) {
  index_list *x = vctx;
  table_view v;
  kv_txn *t = NULL;
  int rc = view_open(x->sc, e, &v, x->pzErr);
  if (rc == SQLITE_OK && v.set.nix) rc = snapshot(x->sc->store, &t, x->pzErr);
  unsigned char prefix[MVCC_KEY_PREFIX_LEN];
  mvcc_row_prefix(prefix, e->id);
  /* The definition's first (SQLite's order), then created, oldest first. */
  for (int j = 0; rc == SQLITE_OK && j < v.set.nix; j++) {
    int nd = v.set.nix - v.set.ncreated;
    const mvcc_index *ix = &v.set.ix[j < nd ? v.set.ncreated + j
                                            : v.set.ncreated - 1 - (j - nd)];
    int64_t n = 0;
    rc = count_entries(t, prefix, ix->num, &n, x->pzErr);
    char *name = ix->name ? sqlite3_mprintf("%s", ix->name)
                          : sqlite3_mprintf("sqlite_autoindex_%s_%d", e->name,
                                            ix->num);
    char *cols = mvcc_index_columns(v.d, ix);
    if (rc == SQLITE_OK && (!name || !cols)) rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK)
      rc = x->fn(x->ctx, e->name, name, cols, ix->unique, ix->ready, n);
    sqlite3_free(name);
    sqlite3_free(cols);
  }
  if (t) kv_txn_abort(t);
  view_close(&v);
  return rc;
}

int mvcc_list_indexes(mvcc_sconn *sc, mvcc_index_fn fn, void *ctx,
                      char **pzErr) {
  index_list x = {sc, fn, ctx, pzErr};
  return mvcc_catalog_list(sc->store, list_table_indexes, &x, pzErr);
}
