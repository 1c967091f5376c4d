/*
** catalog.c — the tables of a store.
**
** The catalog lives in the store itself, as ordinary kvcore keys, so it is
** shared by every connection and process that opens the store, survives
** restarts, and changes transactionally:
**
**     0x00 'C' <table name, ASCII-lowercased>  ->  entry
**     0x00 'I' <table id, 8 bytes BE>          ->  table name (for checks
**                                                  by id: survives RENAME)
**     0x00 'N'                                 ->  next table id (8 bytes BE)
**     0x00 'X' <index name, ASCII-lowercased>  ->  index entry
**     0x00 'M' <table id, 8 bytes BE>          ->  the table's next index seq
**                                                  (4 bytes BE)
**     0x00 'S' <table id, 8 bytes BE>          ->  the table's statistics
**                                                  (index.c's format)
**
** entry = 0x01 (format) ‖ id (8 bytes BE) ‖ name length (4 bytes BE) ‖ name
**         ‖ column definitions (the rest)
** index entry = 0x01 ‖ table id (8) ‖ num (1) ‖ seq (4) ‖ flags (1: 1 unique,
**         2 ready) ‖ builder (12: the kv_store_opened_at of the opening that
**         builds it) ‖ ncol (1) ‖ per column: column (2), collation (1),
**         desc (1) ‖ name (the rest)
**
** Tables and indexes share one namespace, as in SQLite.  A created index's
** num (the byte after MVCC_INDEX_TAG in its entries) is chosen from
** 33-255 starting after the last one the table used, so a num comes back
** only after 223 other indexes were created on the table: entries that a
** writer still committed into a dropped index cannot meet a new one.
**
** A table's rows are the keys 0x01 ‖ id ‖ encoded primary key, so dropping a
** table is one range deletion of [0x01 ‖ id, 0x01 ‖ id+1), and ids are never
** reused.  Catalog changes run in their own kvcore transactions with locking
** reads, retried on conflicts, so two connections creating the same table
** at once end up with one table.  They commit on their own: DDL is not
** part of the user's SQL transaction.
*/
#include "mvcc_int.h"

#include <stdlib.h>
#include <string.h>

#define CAT_FORMAT 0x01
#define CAT_RETRIES 20

static void put_be64(unsigned char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (unsigned char)(v & 0xff);
    v >>= 8;
  }
}

static uint64_t get_be64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

/* A table id in a row key is 8 base-255 digits, each plus one: fixed
** width, ordered like the id, and without 0x00 bytes, which the store
** would escape (kvcore keys are escaped at 0x00; a big-endian id is
** mostly zeros). */
uint64_t mvcc_row_table_id(const unsigned char *key) {
  uint64_t id = 0;
  for (int i = 1; i <= 8; i++) id = id * 255 + (uint64_t)(key[i] - 1);
  return id;
}

void mvcc_row_prefix(unsigned char *out, uint64_t id) {
  out[0] = MVCC_ROW_PREFIX;
  for (int i = 8; i >= 1; i--) {
    out[i] = (unsigned char)(id % 255 + 1);
    id /= 255;
  }
}

void mvcc_catentry_clear(mvcc_catentry *e) {
  sqlite3_free(e->name);
  sqlite3_free(e->args);
  memset(e, 0, sizeof(*e));
}

/* The catalog key of a name: 0x00 'C' lowercase(name).  sqlite3_free it. */
static unsigned char *name_key(const char *name, size_t *len) {
  size_t n = strlen(name);
  unsigned char *k = sqlite3_malloc64(n + 2);
  if (!k) return NULL;
  k[0] = 0x00;
  k[1] = 'C';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    k[2 + i] = c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
  }
  *len = n + 2;
  return k;
}

static void id_key(unsigned char *k, uint64_t id) {
  k[0] = 0x00;
  k[1] = 'I';
  put_be64(k + 2, id);
}

static const unsigned char next_id_key[2] = {0x00, 'N'};

int mvcc_catentry_decode(const unsigned char *v, size_t n, mvcc_catentry *e) {
  if (n < 13 || v[0] != CAT_FORMAT) return SQLITE_CORRUPT;
  uint32_t nl = (uint32_t)v[9] << 24 | (uint32_t)v[10] << 16 |
                (uint32_t)v[11] << 8 | v[12];
  if (13 + (size_t)nl > n) return SQLITE_CORRUPT;
  e->id = get_be64(v + 1);
  e->name = sqlite3_mprintf("%.*s", (int)nl, v + 13);
  e->args = sqlite3_mprintf("%.*s", (int)(n - 13 - nl), v + 13 + nl);
  return e->name && e->args ? SQLITE_OK : SQLITE_NOMEM;
}

static unsigned char *encode_entry(uint64_t id, const char *name,
                                   const char *args, size_t *len) {
  size_t nl = strlen(name), al = strlen(args);
  unsigned char *v = sqlite3_malloc64(13 + nl + al);
  if (!v) return NULL;
  v[0] = CAT_FORMAT;
  put_be64(v + 1, id);
  v[9] = (unsigned char)(nl >> 24);
  v[10] = (unsigned char)(nl >> 16);
  v[11] = (unsigned char)(nl >> 8);
  v[12] = (unsigned char)nl;
  memcpy(v + 13, name, nl);
  memcpy(v + 13 + nl, args, al);
  *len = 13 + nl + al;
  return v;
}

static int snapshot_begin(kv_store *s, kv_txn **t, char **err);

/* Runs body in catalog transactions, retrying on conflicts. */
typedef int (*cat_body)(kv_txn *t, void *ctx, char **pzErr);

static int cat_run(kv_store *s, cat_body body, void *ctx, char **pzErr) {
  kv_retry_info info;
  bool retry = false;
  for (int attempt = 0; attempt < CAT_RETRIES; attempt++) {
    kv_txn_options o;
    kv_txn_options_init(&o);
    if (retry) o.retry_of = &info;
    kv_txn *t = NULL;
    char *err = NULL;
    int krc = kv_txn_begin(s, &o, &t, &err);
    if (krc) {
      int rc = mvcc_kv_error(krc, err, false, pzErr);
      kv_free(err);
      return rc;
    }
    int rc = body(t, ctx, pzErr);
    if (rc == SQLITE_OK) {
      krc = kv_txn_commit(t, NULL, &err);
      if (krc == KV_OK) return SQLITE_OK;
      rc = mvcc_kv_error(krc, err, false, pzErr);
      kv_free(err);
    }
    if (kv_txn_retry_reason(t) == KV_RETRY_NONE) {
      kv_txn_abort(t);
      return rc;
    }
    kv_txn_retry_info(t, &info);
    retry = true;
    kv_txn_abort(t);
    sqlite3_free(*pzErr);
    *pzErr = NULL;
  }
  *pzErr = sqlite3_mprintf("mvcc: the catalog is too busy, try again");
  return SQLITE_BUSY;
}

/* A kvcore call's result as an SQLite code (with the message). */
static int kvrc(int rc, char *err, char **pzErr) {
  if (rc == KV_OK || rc == KV_NOTFOUND) {
    kv_free(err);
    return SQLITE_OK;
  }
  int src = mvcc_kv_error(rc, err, false, pzErr);
  kv_free(err);
  return src;
}

/* ----------------------------------------------------------- lookups -- */

typedef struct get_ctx {
  const char *name;
  bool *found;
  mvcc_catentry *out;
  int flags;
} get_ctx;

static int get_body(kv_txn *t, void *vctx, char **pzErr) {
  get_ctx *g = vctx;
  size_t kl;
  unsigned char *k = name_key(g->name, &kl);
  if (!k) return SQLITE_NOMEM;
  const void *v;
  size_t vl;
  char *err = NULL;
  int krc = kv_txn_get(t, k, kl, g->flags, &v, &vl, &err);
  sqlite3_free(k);
  *g->found = krc == KV_OK;
  if (krc != KV_OK) return kvrc(krc, err, pzErr);
  int rc = mvcc_catentry_decode(v, vl, g->out);
  if (rc == SQLITE_CORRUPT)
    *pzErr = sqlite3_mprintf("mvcc: catalog entry of %s is corrupt", g->name);
  return rc;
}

int mvcc_catalog_get(kv_store *s, const char *name, bool *found,
                     mvcc_catentry *out, char **pzErr) {
  memset(out, 0, sizeof(*out));
  get_ctx g = {name, found, out, 0};
  return cat_run(s, get_body, &g, pzErr);
}

/* ----------------------------------------------------------- indexes -- */

#define IX_FORMAT 0x01
#define IX_UNIQUE 1
#define IX_READY 2
#define IX_FIXED 28   /* format, table, num, seq, flags, builder, ncol */

void mvcc_catindex_clear(mvcc_catindex *x) {
  sqlite3_free(x->ix.name);
  memset(x, 0, sizeof(*x));
}

/* The catalog key of an index name: 0x00 'X' lowercase(name). */
static unsigned char *index_key(const char *name, size_t *len) {
  unsigned char *k = name_key(name, len);
  if (k) k[1] = 'X';
  return k;
}

static void seq_key(unsigned char *k, uint64_t id) {
  k[0] = 0x00;
  k[1] = 'M';
  put_be64(k + 2, id);
}

static unsigned char *encode_index(const mvcc_catindex *x, size_t *len) {
  const mvcc_index *ix = &x->ix;
  size_t nl = strlen(ix->name), n = IX_FIXED + 4 * (size_t)ix->ncol + nl;
  unsigned char *v = sqlite3_malloc64(n), *p = v;
  if (!v) return NULL;
  *p++ = IX_FORMAT;
  put_be64(p, x->table);
  p += 8;
  *p++ = (unsigned char)ix->num;
  for (int i = 3; i >= 0; i--) *p++ = (unsigned char)(ix->seq >> (8 * i));
  *p++ = (unsigned char)((ix->unique ? IX_UNIQUE : 0) |
                         (ix->ready ? IX_READY : 0));
  put_be64(p, x->builder.wall);
  p += 8;
  for (int i = 3; i >= 0; i--) *p++ = (unsigned char)(x->builder.logical >> (8 * i));
  *p++ = (unsigned char)ix->ncol;
  for (int k = 0; k < ix->ncol; k++) {
    *p++ = (unsigned char)(ix->col[k] >> 8);
    *p++ = (unsigned char)ix->col[k];
    *p++ = (unsigned char)ix->coll[k];
    *p++ = ix->desc[k];
  }
  memcpy(p, ix->name, nl);
  *len = n;
  return v;
}

int mvcc_catindex_decode(const unsigned char *v, size_t n, mvcc_catindex *x) {
  memset(x, 0, sizeof(*x));
  if (n < IX_FIXED || v[0] != IX_FORMAT) return SQLITE_CORRUPT;
  mvcc_index *ix = &x->ix;
  x->table = get_be64(v + 1);
  ix->num = v[9];
  ix->seq = (uint32_t)v[10] << 24 | (uint32_t)v[11] << 16 |
            (uint32_t)v[12] << 8 | v[13];
  ix->unique = (v[14] & IX_UNIQUE) != 0;
  ix->ready = (v[14] & IX_READY) != 0;
  x->builder.wall = get_be64(v + 15);
  x->builder.logical = (uint32_t)v[23] << 24 | (uint32_t)v[24] << 16 |
                       (uint32_t)v[25] << 8 | v[26];
  ix->ncol = v[27];
  if (ix->ncol < 1 || ix->ncol > MVCC_MAX_KEY_COLUMNS ||
      n < IX_FIXED + 4 * (size_t)ix->ncol + 1)
    return SQLITE_CORRUPT;
  const unsigned char *p = v + IX_FIXED;
  for (int k = 0; k < ix->ncol; k++, p += 4) {
    ix->col[k] = p[0] << 8 | p[1];
    ix->coll[k] = p[2];
    ix->desc[k] = p[3] != 0;
  }
  ix->name = sqlite3_mprintf("%.*s", (int)(n - (size_t)(p - v)), p);
  return ix->name ? SQLITE_OK : SQLITE_NOMEM;
}

/* Reads index name's catalog entry in t (flags: kv_txn_get's); the kvcore
** code, with *v borrowed as kv_txn_get lends it; SQLITE_NOMEM as -1. */
static int index_entry_get(kv_txn *t, const char *name, int flags,
                           const void **v, size_t *vl, char **err) {
  size_t kl;
  unsigned char *k = index_key(name, &kl);
  if (!k) return -1;
  int krc = kv_txn_get(t, k, kl, flags, v, vl, err);
  sqlite3_free(k);
  return krc;
}

static int index_name_taken(kv_txn *t, const char *name, bool *taken,
                            char **pzErr) {
  const void *v;
  size_t vl;
  char *err = NULL;
  int krc = index_entry_get(t, name, KV_READ_FOR_UPDATE, &v, &vl, &err);
  if (krc < 0) return SQLITE_NOMEM;
  *taken = krc == KV_OK;
  return kvrc(krc, err, pzErr);
}

int mvcc_catalog_index_ready_in(kv_txn *t, const char *name, uint64_t id,
                                int num, bool *ready, char **pzErr) {
  const void *v;
  size_t vl;
  char *err = NULL;
  *ready = false;
  int krc = index_entry_get(t, name, 0, &v, &vl, &err);
  if (krc < 0) return SQLITE_NOMEM;
  if (krc != KV_OK) return kvrc(krc, err, pzErr);
  mvcc_catindex x;
  int rc = mvcc_catindex_decode(v, vl, &x);
  if (rc == SQLITE_OK)
    *ready = x.table == id && x.ix.num == num && x.ix.ready;
  else if (rc == SQLITE_CORRUPT)
    *pzErr = sqlite3_mprintf("mvcc: the catalog entry of index %s is corrupt",
                             name);
  mvcc_catindex_clear(&x);
  return rc;
}

/* Calls fn for each index entry of table id (0: every table) in t. */
static int each_index(kv_txn *t, uint64_t id, int flags,
                      int (*fn)(void *, const mvcc_catindex *), void *ctx,
                      char **pzErr) {
  static const unsigned char lo[2] = {0x00, 'X'}, hi[2] = {0x00, 'Y'};
  kv_iter *it;
  char *err = NULL;
  int krc = kv_txn_scan(t, lo, 2, hi, 2, flags, 0, &it, &err);
  if (krc) return kvrc(krc, err, pzErr);
  int rc = SQLITE_OK;
  while ((krc = kv_iter_next(it, &err)) == KV_OK) {
    size_t vl;
    const unsigned char *v = kv_iter_value(it, &vl);
    mvcc_catindex x;
    rc = mvcc_catindex_decode(v, vl, &x);
    if (rc == SQLITE_CORRUPT)
      *pzErr = sqlite3_mprintf("mvcc: an index entry of the catalog is "
                               "corrupt");
    if (rc == SQLITE_OK && (id == 0 || x.table == id)) rc = fn(ctx, &x);
    mvcc_catindex_clear(&x);
    if (rc) break;
  }
  kv_iter_close(it);
  if (rc == SQLITE_OK && krc != KV_NOTFOUND) rc = kvrc(krc, err, pzErr);
  else kv_free(err);
  return rc;
}

typedef struct ixlist_ctx {
  uint64_t id;
  int (*fn)(void *, const mvcc_catindex *);
  void *ctx;
} ixlist_ctx;

static int ixlist_body(kv_txn *t, void *vctx, char **pzErr) {
  ixlist_ctx *l = vctx;
  return each_index(t, l->id, 0, l->fn, l->ctx, pzErr);
}

int mvcc_catalog_index_list(kv_store *s, uint64_t id,
                            int (*fn)(void *ctx, const mvcc_catindex *x),
                            void *ctx, char **pzErr) {
  kv_txn *t = NULL;
  char *err = NULL;
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = 1;
  int krc = kv_txn_begin(s, &o, &t, &err);
  if (krc) return kvrc(krc, err, pzErr);
  ixlist_ctx l = {id, fn, ctx};
  int rc = ixlist_body(t, &l, pzErr);
  kv_txn_abort(t);
  return rc;
}

/* Marks the nums table id's indexes use. */
static int note_num(void *ctx, const mvcc_catindex *x) {
  bool *used = ctx;
  used[x->ix.num] = true;
  return SQLITE_OK;
}

typedef struct ixadd_ctx {
  const char *table_name;
  mvcc_catindex *x;
} ixadd_ctx;

static int ixadd_body(kv_txn *t, void *vctx, char **pzErr) {
  ixadd_ctx *a = vctx;
  mvcc_catindex *x = a->x;
  const char *name = x->ix.name;
  bool found, taken;
  mvcc_catentry e;
  memset(&e, 0, sizeof(e));
  get_ctx g = {a->table_name, &found, &e, KV_READ_FOR_UPDATE};
  int rc = get_body(t, &g, pzErr);
  bool same = found && e.id == x->table;
  mvcc_catentry_clear(&e);
  if (rc) return rc;
  if (!same) {
    *pzErr = sqlite3_mprintf("mvcc: table %s was dropped", a->table_name);
    return SQLITE_ERROR;
  }
  get_ctx g2 = {name, &found, &e, KV_READ_FOR_UPDATE};
  rc = get_body(t, &g2, pzErr);
  mvcc_catentry_clear(&e);
  if (rc == SQLITE_OK) rc = index_name_taken(t, name, &taken, pzErr);
  if (rc) return rc;
  if (found || taken) {
    *pzErr = sqlite3_mprintf("mvcc: there is already %s named %s",
                             found ? "a table" : "an index", name);
    return SQLITE_ERROR;
  }
  bool used[256] = {false};
  rc = each_index(t, x->table, KV_READ_FOR_UPDATE, note_num, used, pzErr);
  if (rc) return rc;
  unsigned char sk[10];
  seq_key(sk, x->table);
  const void *v;
  size_t vl;
  char *err = NULL;
  int krc = kv_txn_get(t, sk, sizeof sk, KV_READ_FOR_UPDATE, &v, &vl, &err);
  if (krc != KV_OK && krc != KV_NOTFOUND) return kvrc(krc, err, pzErr);
  kv_free(err);
  err = NULL;
  const unsigned char *b = v;
  uint32_t seq = krc == KV_OK && vl == 4
                     ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                           (uint32_t)b[2] << 8 | b[3]
                     : 0;
  int span = MVCC_LAST_CREATED_INDEX - MVCC_FIRST_CREATED_INDEX + 1;
  x->ix.num = 0;
  for (int i = 0; i < span && !x->ix.num; i++) {
    int num = MVCC_FIRST_CREATED_INDEX + (int)((seq + (uint32_t)i) % (uint32_t)span);
    if (!used[num]) x->ix.num = num;
  }
  if (!x->ix.num) {
    *pzErr = sqlite3_mprintf("mvcc: table %s has %d indexes, the most it "
                             "can have", a->table_name, span);
    return SQLITE_ERROR;
  }
  x->ix.seq = seq;
  x->ix.ready = false;
  unsigned char nb[4] = {(unsigned char)((seq + 1) >> 24),
                         (unsigned char)((seq + 1) >> 16),
                         (unsigned char)((seq + 1) >> 8),
                         (unsigned char)(seq + 1)};
  size_t kl, el;
  unsigned char *k = index_key(name, &kl), *ev = encode_index(x, &el);
  if (!k || !ev) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK) {
    krc = kv_txn_put(t, sk, sizeof sk, nb, sizeof nb, &err);
    if (!krc) krc = kv_txn_put(t, k, kl, ev, el, &err);
    rc = kvrc(krc, err, pzErr);
  }
  sqlite3_free(k);
  sqlite3_free(ev);
  return rc;
}

int mvcc_catalog_index_add(kv_store *s, const char *table_name,
                           mvcc_catindex *x, char **pzErr) {
  ixadd_ctx a = {table_name, x};
  return cat_run(s, ixadd_body, &a, pzErr);
}

typedef struct ixchange_ctx {
  const char *name;
  uint64_t id;
  int num;
  bool ready;       /* mark ready (else remove) */
  bool found;
  mvcc_catindex *out;
} ixchange_ctx;

static int ixchange_body(kv_txn *t, void *vctx, char **pzErr) {
  ixchange_ctx *c = vctx;
  size_t kl;
  unsigned char *k = index_key(c->name, &kl);
  if (!k) return SQLITE_NOMEM;
  const void *v;
  size_t vl;
  char *err = NULL;
  int krc = kv_txn_get(t, k, kl, KV_READ_FOR_UPDATE, &v, &vl, &err);
  c->found = false;
  mvcc_catindex x;
  memset(&x, 0, sizeof(x));
  int rc = kvrc(krc, err, pzErr);
  err = NULL;
  if (rc == SQLITE_OK && krc == KV_OK) {
    rc = mvcc_catindex_decode(v, vl, &x);
    if (rc == SQLITE_CORRUPT)
      *pzErr = sqlite3_mprintf("mvcc: catalog entry of index %s is corrupt",
                               c->name);
  }
  if (rc == SQLITE_OK && krc == KV_OK &&
      (c->id == 0 || (x.table == c->id && x.ix.num == c->num))) {
    c->found = true;
    if (c->ready) {
      x.ix.ready = true;
      size_t el;
      unsigned char *ev = encode_index(&x, &el);
      krc = ev ? kv_txn_put(t, k, kl, ev, el, &err) : KV_NOMEM;
      sqlite3_free(ev);
    } else {
      krc = kv_txn_delete(t, k, kl, &err);
    }
    rc = kvrc(krc, err, pzErr);
  }
  sqlite3_free(k);
  if (rc == SQLITE_OK && c->found && c->out) {
    mvcc_catindex_clear(c->out);
    *c->out = x;
  } else {
    mvcc_catindex_clear(&x);
  }
  return rc;
}

int mvcc_catalog_index_ready(kv_store *s, const char *name, uint64_t id,
                             int num, char **pzErr) {
  ixchange_ctx c = {name, id, num, true, false, NULL};
  int rc = cat_run(s, ixchange_body, &c, pzErr);
  if (rc == SQLITE_OK && !c.found) {
    *pzErr = sqlite3_mprintf("mvcc: index %s was dropped while it was being "
                             "built", name);
    rc = SQLITE_ERROR;
  }
  return rc;
}

int mvcc_catalog_index_remove(kv_store *s, const char *name, uint64_t id,
                              int num, bool *found, mvcc_catindex *out,
                              char **pzErr) {
  ixchange_ctx c = {name, id, num, false, false, out};
  int rc = cat_run(s, ixchange_body, &c, pzErr);
  *found = c.found;
  return rc;
}

/* Collects index names (a write during a scan would disturb it). */
typedef struct name_list {
  char **names;
  int n, cap;
} name_list;

static int collect_name(void *ctx, const mvcc_catindex *x) {
  name_list *l = ctx;
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 8;
    char **nn = sqlite3_realloc64(l->names, sizeof(char *) * (size_t)cap);
    if (!nn) return SQLITE_NOMEM;
    l->names = nn;
    l->cap = cap;
  }
  l->names[l->n] = sqlite3_mprintf("%s", x->ix.name);
  return l->names[l->n++] ? SQLITE_OK : SQLITE_NOMEM;
}

/* Deletes the catalog entries of table id's indexes and its seq counter
** (the entries themselves go with the table's range). */
static void stats_key(unsigned char *k, uint64_t id) {
  k[0] = 0x00;
  k[1] = 'S';
  put_be64(k + 2, id);
}

static int drop_table_indexes(kv_txn *t, uint64_t id, char **pzErr) {
  name_list l = {NULL, 0, 0};
  int rc = each_index(t, id, KV_READ_FOR_UPDATE, collect_name, &l, pzErr);
  char *err = NULL;
  int krc = KV_OK;
  for (int i = 0; i < l.n && rc == SQLITE_OK && krc == KV_OK; i++) {
    size_t kl;
    unsigned char *k = l.names[i] ? index_key(l.names[i], &kl) : NULL;
    if (!k) rc = SQLITE_NOMEM;
    else krc = kv_txn_delete(t, k, kl, &err);
    sqlite3_free(k);
  }
  for (int i = 0; i < l.n; i++) sqlite3_free(l.names[i]);
  sqlite3_free(l.names);
  if (rc == SQLITE_OK && krc == KV_OK) {
    unsigned char sk[10];
    seq_key(sk, id);
    krc = kv_txn_delete(t, sk, sizeof sk, &err);
    stats_key(sk, id);
    if (krc == KV_OK) krc = kv_txn_delete(t, sk, sizeof sk, &err);
  }
  if (rc) {
    kv_free(err);
    return rc;
  }
  return kvrc(krc, err, pzErr);
}

/* -------------------------------------------------------- statistics -- */

int mvcc_catalog_stats_get(kv_store *s, uint64_t id, unsigned char **val,
                           size_t *n, char **pzErr) {
  *val = NULL;
  *n = 0;
  kv_txn *t = NULL;
  char *err = NULL;
  int krc = snapshot_begin(s, &t, &err);
  if (krc) return kvrc(krc, err, pzErr);
  unsigned char k[10];
  stats_key(k, id);
  const void *v;
  size_t vl;
  krc = kv_txn_get(t, k, sizeof k, 0, &v, &vl, &err);
  if (krc == KV_OK) {
    *val = sqlite3_malloc64(vl ? vl : 1);
    if (*val) {
      memcpy(*val, v, vl);
      *n = vl;
    } else {
      krc = KV_NOMEM;
    }
  }
  kv_txn_abort(t);
  return kvrc(krc, err, pzErr);
}

typedef struct stats_update_ctx {
  uint64_t id;
  mvcc_stats_fn fn;
  void *ctx;
} stats_update_ctx;

static int stats_update_body(kv_txn *t, void *vctx, char **pzErr) {
  stats_update_ctx *c = vctx;
  unsigned char ik[10], k[10];
  id_key(ik, c->id);
  stats_key(k, c->id);
  const void *v;
  size_t vl;
  char *err = NULL;
  /* Only for a table that is still there (its drop removes the key). */
  int krc = kv_txn_get(t, ik, sizeof ik, KV_READ_FOR_UPDATE, &v, &vl, &err);
  if (krc != KV_OK) return kvrc(krc, err, pzErr);
  krc = kv_txn_get(t, k, sizeof k, KV_READ_FOR_UPDATE, &v, &vl, &err);
  if (krc != KV_OK && krc != KV_NOTFOUND) return kvrc(krc, err, pzErr);
  kv_free(err);
  err = NULL;
  unsigned char *nv = NULL;
  size_t nl = 0;
  int rc = krc == KV_OK ? c->fn(c->ctx, v, vl, &nv, &nl)
                        : c->fn(c->ctx, NULL, 0, &nv, &nl);
  if (rc == SQLITE_OK && nv) {
    krc = kv_txn_put(t, k, sizeof k, nv, nl, &err);
    rc = kvrc(krc, err, pzErr);
  }
  sqlite3_free(nv);
  return rc;
}

int mvcc_catalog_stats_update(kv_store *s, uint64_t id, mvcc_stats_fn fn,
                              void *ctx, char **pzErr) {
  stats_update_ctx c = {id, fn, ctx};
  return cat_run(s, stats_update_body, &c, pzErr);
}

/* ------------------------------------------------------------ create -- */

typedef struct create_ctx {
  const char *name, *args;
  uint64_t id;
} create_ctx;

static int create_body(kv_txn *t, void *vctx, char **pzErr) {
  create_ctx *c = vctx;
  bool found;
  mvcc_catentry e;
  memset(&e, 0, sizeof(e));
  get_ctx g = {c->name, &found, &e, KV_READ_FOR_UPDATE};
  int rc = get_body(t, &g, pzErr);
  if (rc) return rc;
  if (!found) {
    bool taken = false;
    rc = index_name_taken(t, c->name, &taken, pzErr);
    if (rc) return rc;
    if (taken) {
      *pzErr = sqlite3_mprintf("mvcc: there is already an index named %s",
                               c->name);
      return SQLITE_ERROR;
    }
  }
  if (found) {
    if (strcmp(e.args, c->args) != 0) {
      *pzErr = sqlite3_mprintf(
          "mvcc: table %s already exists in the store with another "
          "definition: (%s)",
          e.name, e.args);
      rc = SQLITE_ERROR;
    }
    c->id = e.id;
    mvcc_catentry_clear(&e);
    return rc;
  }
  const void *v;
  size_t vl;
  char *err = NULL;
  int krc = kv_txn_get(t, next_id_key, 2, KV_READ_FOR_UPDATE, &v, &vl, &err);
  if (krc != KV_OK && krc != KV_NOTFOUND) return kvrc(krc, err, pzErr);
  c->id = krc == KV_OK && vl == 8 ? get_be64(v) : 1;
  unsigned char nb[8], ik[10];
  put_be64(nb, c->id + 1);
  id_key(ik, c->id);
  size_t kl, el;
  unsigned char *k = name_key(c->name, &kl);
  unsigned char *ev = encode_entry(c->id, c->name, c->args, &el);
  if (!k || !ev) {
    sqlite3_free(k);
    sqlite3_free(ev);
    return SQLITE_NOMEM;
  }
  /* Statistics of an empty table (index.c's format: 0 rows, no paths), so
  ** that its row count is known from the start. */
  static const unsigned char no_rows[9] = {0x02, 0, 0, 0, 0, 0, 0, 0, 0};
  unsigned char sk[10];
  stats_key(sk, c->id);
  krc = kv_txn_put(t, next_id_key, 2, nb, 8, &err);
  if (!krc) krc = kv_txn_put(t, ik, sizeof ik, c->name, strlen(c->name), &err);
  if (!krc) krc = kv_txn_put(t, sk, sizeof sk, no_rows, sizeof no_rows, &err);
  if (!krc) krc = kv_txn_put(t, k, kl, ev, el, &err);
  sqlite3_free(k);
  sqlite3_free(ev);
  return kvrc(krc, err, pzErr);
}

int mvcc_catalog_create(kv_store *s, const char *name, const char *args,
                        uint64_t *id, char **pzErr) {
  create_ctx c = {name, args, 0};
  int rc = cat_run(s, create_body, &c, pzErr);
  *id = c.id;
  return rc;
}

/* -------------------------------------------------------------- drop -- */

typedef struct drop_ctx {
  const char *name, *to;
  uint64_t id;
  bool done;
} drop_ctx;

static int drop_body(kv_txn *t, void *vctx, char **pzErr) {
  drop_ctx *d = vctx;
  bool found;
  mvcc_catentry e;
  memset(&e, 0, sizeof(e));
  get_ctx g = {d->name, &found, &e, KV_READ_FOR_UPDATE};
  int rc = get_body(t, &g, pzErr);
  d->done = false;
  if (rc || !found) return rc;
  bool mine = e.id == d->id;
  mvcc_catentry_clear(&e);
  if (!mine) return SQLITE_OK; /* dropped and created again meanwhile */
  size_t kl;
  unsigned char *k = name_key(d->name, &kl);
  if (!k) return SQLITE_NOMEM;
  unsigned char ik[10];
  id_key(ik, d->id);
  char *err = NULL;
  int krc = kv_txn_delete(t, k, kl, &err);
  if (!krc) krc = kv_txn_delete(t, ik, sizeof ik, &err);
  sqlite3_free(k);
  if (krc) return kvrc(krc, err, pzErr);
  rc = drop_table_indexes(t, d->id, pzErr);
  d->done = rc == SQLITE_OK;
  return rc;
  return kvrc(krc, err, pzErr);
}

int mvcc_catalog_drop(kv_store *s, const char *name, uint64_t id,
                      char **pzErr) {
  drop_ctx d = {name, NULL, id, false};
  int rc = cat_run(s, drop_body, &d, pzErr);
  if (rc == SQLITE_OK && d.done) {
    unsigned char lo[MVCC_KEY_PREFIX_LEN], hi[MVCC_KEY_PREFIX_LEN];
    mvcc_row_prefix(lo, id);
    mvcc_row_prefix(hi, id + 1);
    char *err = NULL;
    int krc = kv_store_delete_range(s, lo, sizeof lo, hi, sizeof hi, &err);
    rc = kvrc(krc, err, pzErr);
    kv_store_bump_epoch(s);
  }
  return rc;
}

/* ------------------------------------------------------------ rename -- */

static int rename_body(kv_txn *t, void *vctx, char **pzErr) {
  drop_ctx *d = vctx;
  bool found;
  mvcc_catentry e, other;
  memset(&e, 0, sizeof(e));
  memset(&other, 0, sizeof(other));
  get_ctx g = {d->name, &found, &e, KV_READ_FOR_UPDATE};
  int rc = get_body(t, &g, pzErr);
  if (rc) return rc;
  if (!found || e.id != d->id) {
    mvcc_catentry_clear(&e);
    *pzErr = sqlite3_mprintf("mvcc: table %s was dropped", d->name);
    return SQLITE_ERROR;
  }
  bool same = sqlite3_stricmp(d->name, d->to) == 0;
  if (!same) {
    get_ctx g2 = {d->to, &found, &other, KV_READ_FOR_UPDATE};
    rc = get_body(t, &g2, pzErr);
    mvcc_catentry_clear(&other);
    if (rc == SQLITE_OK && found) {
      *pzErr = sqlite3_mprintf("mvcc: there is already a table named %s in "
                               "the store",
                               d->to);
      rc = SQLITE_ERROR;
    }
    bool taken = false;
    if (rc == SQLITE_OK) rc = index_name_taken(t, d->to, &taken, pzErr);
    if (rc == SQLITE_OK && taken) {
      *pzErr = sqlite3_mprintf("mvcc: there is already an index named %s",
                               d->to);
      rc = SQLITE_ERROR;
    }
  }
  size_t ol, nl, el;
  unsigned char *ok = name_key(d->name, &ol), *nk = name_key(d->to, &nl);
  unsigned char *ev = encode_entry(d->id, d->to, e.args, &el);
  unsigned char ik[10];
  id_key(ik, d->id);
  if (rc == SQLITE_OK && (!ok || !nk || !ev)) rc = SQLITE_NOMEM;
  char *err = NULL;
  int krc = KV_OK;
  if (rc == SQLITE_OK && !same) krc = kv_txn_delete(t, ok, ol, &err);
  if (rc == SQLITE_OK && !krc) krc = kv_txn_put(t, nk, nl, ev, el, &err);
  if (rc == SQLITE_OK && !krc)
    krc = kv_txn_put(t, ik, sizeof ik, d->to, strlen(d->to), &err);
  if (rc == SQLITE_OK) rc = kvrc(krc, err, pzErr);
  else kv_free(err);
  sqlite3_free(ok);
  sqlite3_free(nk);
  sqlite3_free(ev);
  mvcc_catentry_clear(&e);
  return rc;
}

int mvcc_catalog_rename(kv_store *s, const char *from, const char *to,
                        uint64_t id, char **pzErr) {
  drop_ctx d = {from, to, id, false};
  int rc = cat_run(s, rename_body, &d, pzErr);
  if (rc == SQLITE_OK) kv_store_bump_epoch(s); /* others' names are stale */
  return rc;
}

/* -------------------------------------------------------------- list -- */

typedef struct list_ctx {
  int (*fn)(void *, const mvcc_catentry *);
  void *ctx;
  int fn_rc;
  kv_store *s; /* for messages */
} list_ctx;

static int list_body(kv_txn *t, void *vctx, char **pzErr) {
  list_ctx *l = vctx;
  static const unsigned char lo[2] = {0x00, 'C'}, hi[2] = {0x00, 'D'};
  kv_iter *it;
  char *err = NULL;
  int krc = kv_txn_scan(t, lo, 2, hi, 2, 0, 0, &it, &err);
  if (krc) return kvrc(krc, err, pzErr);
  int rc = SQLITE_OK;
  while ((krc = kv_iter_next(it, &err)) == KV_OK) {
    size_t vl;
    const unsigned char *v = kv_iter_value(it, &vl);
    mvcc_catentry e;
    memset(&e, 0, sizeof(e));
    rc = mvcc_catentry_decode(v, vl, &e);
    if (rc == SQLITE_CORRUPT) {
      size_t kl;
      const unsigned char *k = kv_iter_key(it, &kl);
      *pzErr = sqlite3_mprintf("mvcc: the catalog entry of table %.*s in "
                               "the store %s is corrupt (it does not decode)",
                               kl > 2 ? (int)(kl - 2) : 0, k + 2,
                               *kv_store_path(l->s) ? kv_store_path(l->s)
                                                    : ":memory:");
    }
    if (rc == SQLITE_OK) {
      rc = l->fn(l->ctx, &e);
      if (rc) l->fn_rc = rc;
    }
    mvcc_catentry_clear(&e);
    if (rc) break;
  }
  kv_iter_close(it);
  if (rc == SQLITE_OK && krc != KV_NOTFOUND) rc = kvrc(krc, err, pzErr);
  else kv_free(err);
  return rc;
}

int mvcc_catalog_list(kv_store *s,
                      int (*fn)(void *ctx, const mvcc_catentry *e), void *ctx,
                      char **pzErr) {
  list_ctx l = {fn, ctx, 0, s};
  return cat_run(s, list_body, &l, pzErr);
}

/* A read-only transaction: one snapshot of the catalog. */
static int snapshot_begin(kv_store *s, kv_txn **t, char **err) {
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = 1;
  return kv_txn_begin(s, &o, t, err);
}

/* The current name of table id, or NULL when it was dropped. */
int mvcc_catalog_name_of(kv_store *s, uint64_t id, char **name,
                         char **pzErr) {
  *name = NULL;
  kv_txn *t = NULL;
  char *err = NULL;
  int krc = snapshot_begin(s, &t, &err);
  if (krc) return kvrc(krc, err, pzErr);
  unsigned char ik[10];
  id_key(ik, id);
  const void *v;
  size_t vl;
  krc = kv_txn_get(t, ik, sizeof ik, 0, &v, &vl, &err);
  if (krc == KV_OK) {
    *name = sqlite3_mprintf("%.*s", (int)vl, (const char *)v);
    if (!*name) krc = KV_NOMEM;
  }
  kv_txn_abort(t);
  return kvrc(krc, err, pzErr);
}

/* Is table id still in the catalog (under any name)? */
/* ------------------------------------------------------------- sweep -- */

/* Rows of dropped tables.  A transaction that wrote into a table while
** another connection dropped it commits its rows after the drop's range
** deletion; nothing can read them (ids are never reused), but they would
** take space forever.  The sweep, run when a connection opens the store,
** finds row ranges whose id is below the catalog's next id and not in the
** catalog, all in one snapshot (a table created since has a higher id),
** and deletes them. */
int mvcc_catalog_sweep(kv_store *s, int *swept, char **pzErr) {
  *swept = 0;
  kv_txn *t = NULL;
  char *err = NULL;
  int krc = snapshot_begin(s, &t, &err);
  if (krc) return kvrc(krc, err, pzErr);
  const void *v;
  size_t vl;
  krc = kv_txn_get(t, next_id_key, 2, 0, &v, &vl, &err);
  uint64_t next = krc == KV_OK && vl == 8 ? get_be64(v) : 1;
  int rc = kvrc(krc, err, pzErr);
  err = NULL;
  uint64_t id = 1;
  while (rc == SQLITE_OK && id < next) {
    unsigned char lo[MVCC_KEY_PREFIX_LEN];
    mvcc_row_prefix(lo, id);
    kv_iter *it = NULL;
    static const unsigned char end[1] = {MVCC_ROW_PREFIX + 1};
    krc = kv_txn_scan(t, lo, sizeof lo, end, 1, 0, 1, &it, &err);
    if (krc) {
      rc = kvrc(krc, err, pzErr);
      break;
    }
    krc = kv_iter_next(it, &err);
    size_t kl = 0;
    const unsigned char *k = krc == KV_OK ? kv_iter_key(it, &kl) : NULL;
    uint64_t found = k && kl >= MVCC_KEY_PREFIX_LEN ? mvcc_row_table_id(k) : next;
    kv_iter_close(it);
    if (krc != KV_OK) {
      rc = kvrc(krc, err, pzErr); /* KV_NOTFOUND: no rows above */
      break;
    }
    if (found >= next) break;
    unsigned char ik[10];
    id_key(ik, found);
    krc = kv_txn_get(t, ik, sizeof ik, 0, &v, &vl, &err);
    if (krc == KV_NOTFOUND) {
      unsigned char a[MVCC_KEY_PREFIX_LEN], b[MVCC_KEY_PREFIX_LEN];
      mvcc_row_prefix(a, found);
      mvcc_row_prefix(b, found + 1);
      kv_free(err);
      err = NULL;
      krc = kv_store_delete_range(s, a, sizeof a, b, sizeof b, &err);
      if (krc == KV_OK) (*swept)++;
    }
    rc = kvrc(krc, err, pzErr);
    err = NULL;
    id = found + 1;
  }
  kv_txn_abort(t);
  return rc;
}
