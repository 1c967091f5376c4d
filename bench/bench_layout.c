/*
** bench_layout.c — versioned-key layouts in RocksDB, measured side by side
** before storage format 2 is chosen.
**
** The same rows, with the same versions, are loaded into one RocksDB per
** layout (same process, same RocksDB 7.8 build, same options otherwise) and
** read back through the C API:
**
**   a        format 1 (kvcore/keyenc.c, linked from libkvcore.a): user key ‖
**            wall(8 BE) ‖ logical(4 BE) under kvcore's C comparator callback
**            (user key, then timestamp descending); kvcore's prefix
**            extractor (the key minus its 12-byte timestamp, a C callback).
**   b-esc    bytewise, candidate format 2: the user key escaped (0x00 ->
**            0x00 0xFF, then the terminator 0x00 0x01) ‖ ~wall(8 BE) ‖
**            ~logical(4 BE), RocksDB's built-in bytewise comparator.
**   b-shift  bytewise with another order-preserving escape, chosen because
**            our keys are full of 0x00 and rarely hold 0xFE/0xFF: bytes
**            0x00..0xFD are written plus one, 0xFE as 0xFF 0x01, 0xFF as
**            0xFF 0x02, terminator 0x00 (so 0x00 costs nothing; only 0xFE
**            and 0xFF grow).  Then ~timestamp as in b-esc.
**   b-raw    bytewise, no escape at all: user key ‖ ~timestamp.  Correct
**            only when no user key is a proper prefix of another (true of
**            the SQL layer's row and index keys, whose encodings are
**            self-delimiting; not of its catalog keys, nor of arbitrary
**            kvcore keys): the floor any escape is measured against.
**   c-udt    RocksDB user-defined timestamps: rocksdb_comparator_with_ts_
**            create (C callbacks, timestamp_size 12 = wall ‖ logical BE),
**            rows written with rocksdb_writebatch_put_cf_with_ts, read with
**            rocksdb_readoptions_set_timestamp.
** Every b layout uses the same prefix extractor as a (a C callback: the key
** minus its last 12 bytes, i.e. the encoded user key including the escape's
** terminator; escaped keys are not fixed length, so fixed_prefix cannot be
** used).  c uses the built-in noop extractor (RocksDB strips the timestamp
** before the extractor and the filters see a key).  Everything else is
** kvcore's data-family configuration (engine.c): 10-bit full bloom, prefix
** only (whole_key_filtering off), memtable prefix bloom 0.05, LZ4, a 128 MiB
** LRU block cache per store, index/filter blocks held by the table readers.
**
** Data: ROWS rows (default 200,000) of 100-byte incompressible values, row i
** at rowid 2i (so the odd rowids are absent keys inside the key range: only
** the bloom filter can turn them away).  Every 1000 rows are one commit
** (one write batch, one timestamp); then 20% of the rows get a second
** version and 10% a third (commits of 100 rows, in a scattered order).
** Two key shapes, each in its own pass:
**   brief  0x01 ‖ rowid(8 BE, sign bit flipped): 9 bytes, 4-5 of them 0x00.
**   sql    the row key the SQL layer really writes: 0x01 ‖ table id(8 BE)
**          ‖ keycodec int (0x13 ‖ E(2) ‖ M(8); 0x12 for rowid 0): 20 bytes,
**          about 12 of them 0x00 for our rowids.
** Each pass measures with every row in the memtable, then flushes each store
** to one SST file (all data then in the block cache after a verifying full
** scan) and measures again.  A verification pass (untimed) checks, for
** every layout, the full scan row by row (decoded key and value), point
** reads of present and absent keys, and reads of the previous version of
** multi-version rows at an older timestamp (that versions survive the
** flush, and that a read below the newest version sees the older one).
**
** Measurements, from 1 thread.  The machine is shared (2 cores, other
** builds running), so each measurement runs all layouts interleaved a
** chunk at a time (a few milliseconds of work: e.g. 1000 point reads), the
** first layout of each round rotating, and rates are per second of the
** reading thread's CPU time (CLOCK_THREAD_CPUTIME_ID: time spent
** descheduled does not count; every read runs in the calling thread, the
** data being in memory).  The rounds are grouped into BLOCKS blocks
** (default 15) sized so that a gets SECONDS CPU-seconds in all (default
** 1.5); reported are the median of the blocks' rates and the median of the
** blocks' paired ratios to a, with a distribution-free ~95% interval of
** that median.  Two untimed rounds warm up first.
**   W3 point, pooled iterator   newest version <= now of a random present
**       key: Seek to (key, now) on one iterator made once per measurement
**       (kvcore pools them; prefix_same_as_start), check key and value.
**       c: the same through an iterator with the read timestamp set.
**   W3 point, new iterator      the same, with an iterator made and
**       destroyed for each read.
**   W3 get_pinned               a, b: rocksdb_get_pinned of the exact
**       versioned key of the newest version (no real read path can know it:
**       a lower bound on the cost of a lookup); c: rocksdb_get_pinned with
**       the read timestamp (a real MVCC point read).
**   W3 rocksdb_get              the same through rocksdb_get (a malloc'd
**       copy of the value).
**   absent, pooled iterator     as W3 pooled, of absent keys (odd rowids).
**   absent, get_pinned          a, b: the versioned key (key, now); c: the
**       key at the read timestamp.
**   W4a 100-row scan            from a random row: Seek, then Next until
**       100 rows, each the newest version of its key (a, b: skipping older
**       versions by comparing with the previous key, as kvcore does; c:
**       RocksDB hides them), user key decoded (b-esc, b-shift: unescaped
**       into a buffer), value checked.  Scans per second.
**   W4b full scan               the same over every row.  Rows per second.
** Last, a few probes of c through the 7.8 C API (what kvcore would need):
** whether an iterator follows a read timestamp changed after its creation,
** range deletion, a read without a timestamp; their outcome is printed.
**
** Usage: bench_layout [dir]   (default: a fresh directory under /tmp, removed
** at the end).  Environment: LAYOUT_SECONDS, LAYOUT_BLOCKS, LAYOUT_ROWS,
** LAYOUT_SHAPES ("brief", "sql" or "brief,sql", the default), LAYOUT_RAW (a
** file to write every block's rate to).
*/
#include <rocksdb/c.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kvint.h"

#define VLEN 100
#define TSLEN KV_TS_LEN /* 12 */
#define MAXK 64          /* bytes of any encoded key here */

enum { L_A, L_BESC, L_BSHIFT, L_BRAW, L_C, NL };
static const char *const lname[NL] = {"a fmt1", "b-esc", "b-shift", "b-raw",
                                      "c-udt"};

enum {
  M_PT_POOL,
  M_PT_NEWIT,
  M_PT_PIN,
  M_PT_GET,
  M_ABS_POOL,
  M_ABS_PIN,
  M_SCAN100,
  M_FULL,
  NM
};
static const char *const mname[NM] = {
    "W3 point, pooled iterator (reads/s)",
    "W3 point, new iterator per read (reads/s)",
    "W3 get_pinned: a,b exact versioned key; c at ts (reads/s)",
    "W3 rocksdb_get: a,b exact versioned key; c at ts (reads/s)",
    "absent key, pooled iterator (reads/s)",
    "absent key, get_pinned (reads/s)",
    "W4a 100-row range scan (scans/s)",
    "W4b full scan (rows/s)",
};

enum { SHAPE_BRIEF, SHAPE_SQL };
enum { PH_MEM, PH_SST, NPH };
static const char *const phname[NPH] = {"all rows in the memtable",
                                        "flushed to one SST file"};

#define MAXB 64
static double secs = 1.5; /* CPU-seconds of a per measurement and phase */
static int blocks = 15;
static uint32_t nrows = 200000;
static int shape;

static uint8_t *nver;    /* versions of row i (1..3) */
static kv_ts *newest;    /* timestamp of row i's newest version */
static kv_ts ts_now;     /* the read timestamp: above every write */
static volatile uint64_t g_sink; /* keeps decoded keys from being elided */
static char now_be[TSLEN], now_inv[TSLEN];

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* This thread's CPU time: what rates are computed from, so time the thread
** spends descheduled (other processes on a busy 2-core machine) does not
** count; every read runs in the calling thread. */
static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_layout: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void check(char *err, const char *what) {
  if (err) {
    fprintf(stderr, "bench_layout: %s: %s\n", what, err);
    exit(1);
  }
}

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void put_be64(unsigned char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

/* ------------------------------------------------------------ user keys -- */

/* The user key of rowid r, in the pass's shape; returns its length. */
static size_t ukey_make(unsigned char *o, uint64_t r) {
  o[0] = 0x01;
  if (shape == SHAPE_BRIEF) {
    put_be64(o + 1, r ^ (1ULL << 63));
    return 9;
  }
  /* ext/ as it wrote row keys when this was measured (before format 2:
  ** MVCC_ROW_PREFIX ‖ table id BE ‖ 0x13 E(2) m(8 BE), 12 of 20 bytes 0x00;
  ** format 2's keys are zero-free, see LAYOUT.md) */
  put_be64(o + 1, 1);
  if (r == 0) {
    o[9] = 0x12;
    return 10;
  }
  int lz = __builtin_clzll(r);
  unsigned e = (unsigned)(63 - lz + 1100);
  o[9] = 0x13;
  o[10] = (unsigned char)(e >> 8);
  o[11] = (unsigned char)e;
  put_be64(o + 12, r << lz);
  return 20;
}

/* ------------------------------------------------------------ format 1 -- */

/* Format 1 as kvcore wrote it (kvcore has moved to format 2; the baseline
** lives on here): the timestamp big-endian, not inverted; a C comparator
** ordering by user key, then newest first; the prefix extractor taking the
** key minus its timestamp. */
static void ts_be(char *o, kv_ts ts) {
  for (int i = 0; i < 8; i++) o[i] = (char)(ts.wall >> (56 - 8 * i));
  for (int i = 0; i < 4; i++) o[8 + i] = (char)(ts.logical >> (24 - 8 * i));
}

static int fmt1_compare(void *s, const char *a, size_t al, const char *b,
                        size_t bl) {
  (void)s;
  size_t ak = al >= TSLEN ? al - TSLEN : al;
  size_t bk = bl >= TSLEN ? bl - TSLEN : bl;
  int c = kv_bytes_cmp(a, ak, b, bk);
  if (c) return c;
  if (al < TSLEN || bl < TSLEN) return (al >= TSLEN) - (bl >= TSLEN);
  return memcmp(b + bk, a + ak, TSLEN);
}

static const char *fmt1_name(void *s) {
  (void)s;
  return "kvcore.mvcc.v1";
}

static char *fmt1_prefix(void *s, const char *key, size_t len, size_t *dl) {
  (void)s;
  *dl = len >= TSLEN ? len - TSLEN : len;
  return (char *)key;
}

static unsigned char fmt1_in_domain(void *s, const char *key, size_t len) {
  (void)s;
  (void)key;
  return len >= TSLEN;
}

static unsigned char fmt1_in_range(void *s, const char *key, size_t len) {
  (void)s;
  (void)key;
  (void)len;
  return 0;
}

static const char *fmt1_prefix_name(void *s) {
  (void)s;
  return "kvcore.userkey.v1";
}

/* ------------------------------------------------------ versioned keys -- */

static void ts_inv(char *o, kv_ts ts) {
  ts_be(o, ts);
  for (int i = 0; i < TSLEN; i++) o[i] = (char)~o[i];
}

/* The stored key of (uk, ts) in layout kind (c: the user key alone, its
** timestamp travels separately); *plen: bytes before the timestamp. */
static size_t vkey(int kind, char *out, const unsigned char *uk, size_t ul,
                   kv_ts ts, size_t *plen) {
  unsigned char *o = (unsigned char *)out;
  switch (kind) {
  case L_A:
    memcpy(out, uk, ul);
    ts_be(out + ul, ts);
    *plen = ul;
    return ul + TSLEN;
  case L_BESC:
    for (size_t i = 0; i < ul; i++) {
      *o++ = uk[i];
      if (uk[i] == 0) *o++ = 0xFF;
    }
    *o++ = 0x00;
    *o++ = 0x01;
    break;
  case L_BSHIFT:
    for (size_t i = 0; i < ul; i++) {
      unsigned c = uk[i];
      if (c < 0xFE) {
        *o++ = (unsigned char)(c + 1);
      } else {
        *o++ = 0xFF;
        *o++ = (unsigned char)(c - 0xFD); /* 0xFE -> 1, 0xFF -> 2 */
      }
    }
    *o++ = 0x00;
    break;
  case L_BRAW:
    memcpy(o, uk, ul);
    o += ul;
    break;
  default:
    memcpy(out, uk, ul);
    *plen = ul;
    return ul;
  }
  *plen = (size_t)(o - (unsigned char *)out);
  ts_inv((char *)o, ts);
  return *plen + TSLEN;
}

/* The user key of an encoded one (p bytes, terminator included), into o
** (or, when no decoding is needed, returned in place); *ul its length. */
static const unsigned char *ukey_decode(int kind, const char *k, size_t p,
                                        unsigned char *o, size_t *ul) {
  const unsigned char *s = (const unsigned char *)k;
  size_t n = 0, i = 0;
  switch (kind) {
  case L_BESC:
    while (i < p) {
      unsigned char c = s[i++];
      if (c == 0) {
        if (i >= p || s[i] == 0x01) break;
        i++; /* 0x00 0xFF */
      }
      o[n++] = c;
    }
    *ul = n;
    return o;
  case L_BSHIFT:
    while (i < p) {
      unsigned char c = s[i++];
      if (c == 0) break;
      if (c == 0xFF) {
        c = (unsigned char)(0xFD + (i < p ? s[i++] : 0));
      } else {
        c--;
      }
      o[n++] = c;
    }
    *ul = n;
    return o;
  default: /* a, b-raw: the key before the timestamp; c: the key */
    *ul = p;
    return s;
  }
}

/* ---------------------------------------------------------------- values -- */

static void value_make(char *v, uint32_t i, uint8_t ver) {
  uint64_t x = ((uint64_t)i << 8 | ver) * 0x9e3779b97f4a7c15ULL + 1;
  for (int j = 0; j < VLEN; j++) v[j] = (char)(rnd(&x) >> 24);
  memcpy(v, &i, 4);
  v[4] = (char)ver;
}

/* The value of row i's version ver? */
static inline int value_is(const char *v, size_t n, uint32_t i, uint8_t ver) {
  uint32_t got;
  if (n != VLEN) return 0;
  memcpy(&got, v, 4);
  return got == i && (uint8_t)v[4] == ver;
}

/* ----------------------------------------------------- C-API callbacks -- */

static void noop_destroy(void *s) { (void)s; }

/* c: full keys (user key ‖ 12-byte timestamp): key, then newer first —
** format 1's order; RocksDB also asks for the two halves separately. */
static int udt_compare(void *s, const char *a, size_t al, const char *b,
                       size_t bl) {
  return fmt1_compare(s, a, al, b, bl);
}

static int udt_compare_ts(void *s, const char *a, size_t al, const char *b,
                          size_t bl) {
  (void)s;
  return kv_bytes_cmp(a, al, b, bl);
}

static int udt_compare_without_ts(void *s, const char *a, size_t al,
                                  unsigned char ahas, const char *b, size_t bl,
                                  unsigned char bhas) {
  (void)s;
  if (ahas && al >= TSLEN) al -= TSLEN;
  if (bhas && bl >= TSLEN) bl -= TSLEN;
  return kv_bytes_cmp(a, al, b, bl);
}

static const char *udt_name(void *s) {
  (void)s;
  return "bench.udt12";
}

/* --------------------------------------------------------------- stores -- */

typedef struct layout {
  int kind;
  char dir[600];
  rocksdb_t *db;
  rocksdb_column_family_handle_t *cf;
  rocksdb_options_t *opts;
  rocksdb_block_based_table_options_t *bbto;
  rocksdb_cache_t *cache;
  rocksdb_comparator_t *cmp;
  rocksdb_readoptions_t *ro_point, *ro_scan, *ro_get;
  rocksdb_writeoptions_t *wo;
  rocksdb_writebatch_t *wb;
  double load_s;
  uint64_t key_bytes, nkeys; /* stored key bytes (c: key + timestamp) */
} layout;

static layout L[NL];

static void layout_open(layout *l, int kind, const char *base) {
  char *err = NULL;
  memset(l, 0, sizeof *l);
  l->kind = kind;
  snprintf(l->dir, sizeof l->dir, "%s/%d", base, kind);
  l->opts = rocksdb_options_create();
  l->bbto = rocksdb_block_based_options_create();
  l->cache = rocksdb_cache_create_lru(128u << 20);
  rocksdb_options_set_create_if_missing(l->opts, 1);
  rocksdb_options_set_max_background_jobs(l->opts, 2);
  rocksdb_options_set_info_log_level(l->opts, 3);
  rocksdb_options_set_keep_log_file_num(l->opts, 2);
  /* one memtable holds every row: the memtable phase, then one flush */
  rocksdb_options_set_write_buffer_size(l->opts, 128u << 20);
  rocksdb_options_set_max_write_buffer_number(l->opts, 3);
  rocksdb_options_set_compression(l->opts, rocksdb_lz4_compression);
  rocksdb_block_based_options_set_block_cache(l->bbto, l->cache);
  rocksdb_block_based_options_set_filter_policy(
      l->bbto, rocksdb_filterpolicy_create_bloom_full(10));
  rocksdb_block_based_options_set_whole_key_filtering(l->bbto, 0);
  rocksdb_block_based_options_set_cache_index_and_filter_blocks(l->bbto, 0);
  rocksdb_options_set_block_based_table_factory(l->opts, l->bbto);
  rocksdb_options_set_memtable_prefix_bloom_size_ratio(l->opts, 0.05);
  if (kind == L_C) {
    l->cmp = rocksdb_comparator_with_ts_create(
        NULL, noop_destroy, udt_compare, udt_compare_ts,
        udt_compare_without_ts, udt_name, TSLEN);
    rocksdb_options_set_comparator(l->opts, l->cmp);
    rocksdb_options_set_prefix_extractor(l->opts,
                                         rocksdb_slicetransform_create_noop());
  } else {
    if (kind == L_A) {
      l->cmp = rocksdb_comparator_create(NULL, noop_destroy, fmt1_compare, fmt1_name);
      rocksdb_options_set_comparator(l->opts, l->cmp);
    }
    rocksdb_options_set_prefix_extractor(l->opts,
                                         rocksdb_slicetransform_create(NULL, noop_destroy, fmt1_prefix, fmt1_in_domain, fmt1_in_range, fmt1_prefix_name));
  }
  const char *cfname = "default";
  const rocksdb_options_t *cfo = l->opts;
  l->db = rocksdb_open_column_families(l->opts, l->dir, 1, &cfname, &cfo,
                                       &l->cf, &err);
  check(err, l->dir);

  l->ro_point = rocksdb_readoptions_create();
  rocksdb_readoptions_set_prefix_same_as_start(l->ro_point, 1);
  l->ro_scan = rocksdb_readoptions_create();
  rocksdb_readoptions_set_total_order_seek(l->ro_scan, 1);
  l->ro_get = rocksdb_readoptions_create();
  if (kind == L_C) {
    /* the read options keep a pointer to the timestamp: now_be is static */
    rocksdb_readoptions_set_timestamp(l->ro_point, now_be, TSLEN);
    rocksdb_readoptions_set_timestamp(l->ro_scan, now_be, TSLEN);
    rocksdb_readoptions_set_timestamp(l->ro_get, now_be, TSLEN);
  }
  l->wo = rocksdb_writeoptions_create();
  rocksdb_writeoptions_disable_WAL(l->wo, 1);
  l->wb = rocksdb_writebatch_create();
}

static void layout_close(layout *l) {
  char *err = NULL;
  rocksdb_writebatch_destroy(l->wb);
  rocksdb_writeoptions_destroy(l->wo);
  rocksdb_readoptions_destroy(l->ro_point);
  rocksdb_readoptions_destroy(l->ro_scan);
  rocksdb_readoptions_destroy(l->ro_get);
  rocksdb_column_family_handle_destroy(l->cf);
  rocksdb_close(l->db);
  rocksdb_destroy_db(l->opts, l->dir, &err);
  check(err, "rocksdb_destroy_db");
  rmdir(l->dir);
  rocksdb_options_destroy(l->opts);
  rocksdb_block_based_options_destroy(l->bbto);
  rocksdb_cache_destroy(l->cache);
  if (l->cmp) rocksdb_comparator_destroy(l->cmp);
}

/* ----------------------------------------------------------------- load -- */

/* One commit: rows idx[0..n) get version ver at ts, in every layout (the
** first layout rotating), each timed. */
static void commit_rows(const uint32_t *idx, int n, uint8_t ver, kv_ts ts,
                        int first) {
  char tsb[TSLEN], v[VLEN], ek[MAXK];
  unsigned char uk[MAXK];
  ts_be(tsb, ts);
  for (int j = 0; j < NL; j++) {
    layout *l = &L[(first + j) % NL];
    double t0 = cpu_s();
    rocksdb_writebatch_clear(l->wb);
    for (int r = 0; r < n; r++) {
      uint32_t i = idx[r];
      size_t ul = ukey_make(uk, 2 * (uint64_t)i), p;
      size_t el = vkey(l->kind, ek, uk, ul, ts, &p);
      value_make(v, i, ver);
      if (l->kind == L_C)
        rocksdb_writebatch_put_cf_with_ts(l->wb, l->cf, ek, el, tsb, TSLEN, v,
                                          VLEN);
      else
        rocksdb_writebatch_put_cf(l->wb, l->cf, ek, el, v, VLEN);
      l->key_bytes += el + (l->kind == L_C ? TSLEN : 0);
      l->nkeys++;
    }
    char *err = NULL;
    rocksdb_write(l->db, l->wo, l->wb, &err);
    check(err, "rocksdb_write");
    l->load_s += cpu_s() - t0;
  }
  for (int r = 0; r < n; r++) {
    nver[idx[r]] = ver;
    newest[idx[r]] = ts;
  }
}

static uint64_t versions_written;

static void load_all(void) {
  kv_ts ts = {1765000000000000000ULL, 0};
  uint32_t idx[1000];
  int first = 0;
  /* the initial load: key order, 1000 rows a commit */
  for (uint32_t i = 0; i < nrows;) {
    int n = 0;
    while (n < 1000 && i < nrows) idx[n++] = i++;
    commit_rows(idx, n, 1, ts, first++);
    versions_written += (uint64_t)n;
    ts.wall += 1000000;
    ts.logical = (uint32_t)(ts.wall / 1000000 % 3);
  }
  /* updates: 20% of the rows get version 2, then half of those version 3,
  ** scattered (a stride coprime with the row count), 100 rows a commit */
  for (uint8_t ver = 2; ver <= 3; ver++) {
    uint64_t stride = 100003;
    for (;; stride += 2) { /* coprime with nrows: a permutation */
      uint64_t a = stride, b = nrows;
      while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
      }
      if (a == 1) break;
    }
    int n = 0;
    for (uint64_t j = 0; j < nrows; j++) {
      uint32_t i = (uint32_t)(j * stride % nrows);
      uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ULL >> 40;
      if (h % 10 >= (ver == 2 ? 2u : 1u)) continue;
      idx[n++] = i;
      if (n == 100) {
        commit_rows(idx, n, ver, ts, first++);
        versions_written += (uint64_t)n;
        n = 0;
        ts.wall += 100000;
        ts.logical = (uint32_t)(ts.wall % 7);
      }
    }
    if (n) {
      commit_rows(idx, n, ver, ts, first++);
      versions_written += (uint64_t)n;
      ts.wall += 100000;
    }
  }
  ts_now = (kv_ts){ts.wall + 1, 0};
  ts_be(now_be, ts_now);
  ts_inv(now_inv, ts_now);
}

/* ---------------------------------------------------------- point reads -- */

enum { MODE_POOL, MODE_NEWIT, MODE_PIN, MODE_GET };

/* Reads the newest version <= now (or, for a, b in the get modes, the exact
** version `at`) of uk; returns 1 when found with row i's newest value, 0
** when absent (a wrong value is fatal). */
static int read_one(layout *l, int mode, rocksdb_iterator_t *it,
                    const unsigned char *uk, size_t ul, uint32_t i, kv_ts at,
                    rocksdb_readoptions_t *ro_get) {
  char ek[MAXK];
  size_t p, el = vkey(l->kind, ek, uk, ul, at, &p);
  const char *v;
  size_t vl;
  int found = 0;
  if (mode == MODE_POOL || mode == MODE_NEWIT) {
    if (mode == MODE_NEWIT)
      it = rocksdb_create_iterator_cf(l->db, l->ro_point, l->cf);
    rocksdb_iter_seek(it, ek, el);
    if (rocksdb_iter_valid(it)) {
      size_t kl;
      const char *k = rocksdb_iter_key(it, &kl);
      if (kl == (l->kind == L_C ? p : p + TSLEN) && memcmp(k, ek, p) == 0) {
        v = rocksdb_iter_value(it, &vl);
        if (!value_is(v, vl, i, nver[i])) die("%s: wrong value", lname[l->kind]);
        found = 1;
      }
    } else {
      char *err = NULL;
      rocksdb_iter_get_error(it, &err);
      check(err, "iterator");
    }
    if (mode == MODE_NEWIT) rocksdb_iter_destroy(it);
    return found;
  }
  char *err = NULL;
  if (mode == MODE_PIN) {
    rocksdb_pinnableslice_t *ps =
        rocksdb_get_pinned_cf(l->db, ro_get, l->cf, ek, el, &err);
    check(err, "rocksdb_get_pinned");
    if (!ps) return 0;
    v = rocksdb_pinnableslice_value(ps, &vl);
    if (!value_is(v, vl, i, nver[i])) die("%s: wrong value", lname[l->kind]);
    rocksdb_pinnableslice_destroy(ps);
    return 1;
  }
  char *val = rocksdb_get_cf(l->db, ro_get, l->cf, ek, el, &vl, &err);
  check(err, "rocksdb_get");
  if (!val) return 0;
  if (!value_is(val, vl, i, nver[i])) die("%s: wrong value", lname[l->kind]);
  free(val);
  return 1;
}

/* ---------------------------------------------------------------- scans -- */

/* A scan in progress: its iterator, the row the next visible key must be,
** and the encoded key of the row it returned last (a, b skip the older
** versions of that key). */
typedef struct scan_cur {
  layout *l;
  rocksdb_iterator_t *it;
  long i;
  int at_end;
  size_t lastlen;
  char last[MAXK];
  uint64_t sink;
} scan_cur;

/* Positions c at row i0's newest version <= now, or at the first row. */
static void scan_seek(scan_cur *c, long i0) {
  c->lastlen = SIZE_MAX;
  c->at_end = 0;
  if (i0 < 0) {
    rocksdb_iter_seek_to_first(c->it);
    c->i = 0;
  } else {
    char ek[MAXK];
    unsigned char uk[MAXK];
    size_t p, ul = ukey_make(uk, 2 * (uint64_t)i0);
    size_t el = vkey(c->l->kind, ek, uk, ul, ts_now, &p);
    rocksdb_iter_seek(c->it, ek, el);
    c->i = i0;
  }
}

/* Up to limit more rows, each the newest version <= now of its key (fewer
** at the end: c->at_end); checks they come in order with their newest
** values, and when verify decodes and compares every key. */
static long scan_step(scan_cur *c, long limit, int verify) {
  layout *l = c->l;
  unsigned char ub[MAXK], want[MAXK];
  long rows = 0;
  for (; rows < limit; rocksdb_iter_next(c->it)) {
    if (!rocksdb_iter_valid(c->it)) {
      char *err = NULL;
      rocksdb_iter_get_error(c->it, &err);
      check(err, "scan");
      c->at_end = 1;
      break;
    }
    size_t kl, p, ul, vl;
    const char *k = rocksdb_iter_key(c->it, &kl);
    if (l->kind == L_C) {
      p = kl; /* RocksDB shows each key's newest version <= now only */
    } else {
      if (kl < TSLEN) die("%s: short key", lname[l->kind]);
      p = kl - TSLEN;
      /* invisible (newer than now)? */
      if (l->kind == L_A ? memcmp(k + p, now_be, TSLEN) > 0
                         : memcmp(k + p, now_inv, TSLEN) < 0)
        continue;
      if (p == c->lastlen && memcmp(k, c->last, p) == 0) continue; /* older */
      if (p > sizeof c->last) die("%s: long key", lname[l->kind]);
      memcpy(c->last, k, p);
      c->lastlen = p;
    }
    const unsigned char *u = ukey_decode(l->kind, k, p, ub, &ul);
    uint32_t i = (uint32_t)c->i;
    const char *v = rocksdb_iter_value(c->it, &vl);
    if (c->i >= (long)nrows || !value_is(v, vl, i, nver[i]))
      die("%s: scan: a wrong row", lname[l->kind]);
    if (verify) {
      size_t wl = ukey_make(want, 2 * (uint64_t)i);
      if (wl != ul || memcmp(want, u, ul) != 0)
        die("%s: scan: a wrong key", lname[l->kind]);
    }
    c->sink += ul + u[ul - 1];
    c->i++;
    rows++;
  }
  return rows;
}

/* ---------------------------------------------------------- measurement -- */

/* One measurement of one layout, done a chunk at a time; its iterators
** (the pooled point iterator, the scan's) live as long as it. */
typedef struct mstate {
  layout *l;
  int m;
  uint64_t seed;
  rocksdb_iterator_t *it;
  scan_cur sc;
  int started;
} mstate;

/* Units (reads, scans, rows) per chunk: a few milliseconds each, so the
** layouts take turns many times a second. */
static const long chunk_units[NM] = {1000, 700, 1000, 1000,
                                     8000, 8000, 120,  20000};

static void ms_open(mstate *s, layout *l, int m) {
  memset(s, 0, sizeof *s);
  s->l = l;
  s->m = m;
  s->seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(m + 1); /* same keys for all */
  if (m == M_PT_POOL || m == M_ABS_POOL)
    s->it = rocksdb_create_iterator_cf(l->db, l->ro_point, l->cf);
  if (m == M_SCAN100 || m == M_FULL) {
    s->sc.l = l;
    s->sc.it = rocksdb_create_iterator_cf(l->db, l->ro_scan, l->cf);
  }
}

static void ms_close(mstate *s) {
  if (s->it) rocksdb_iter_destroy(s->it);
  if (s->sc.it) rocksdb_iter_destroy(s->sc.it);
  g_sink += s->sc.sink;
}

static void ms_chunk(mstate *s) {
  layout *l = s->l;
  long n = chunk_units[s->m];
  if (s->m == M_SCAN100) {
    for (long j = 0; j < n; j++) {
      scan_seek(&s->sc, (long)(rnd(&s->seed) % (nrows - 99)));
      if (scan_step(&s->sc, 100, 0) != 100)
        die("%s: a short scan", lname[l->kind]);
    }
    return;
  }
  if (s->m == M_FULL) {
    for (long got = 0; got < n;) {
      if (!s->started || s->sc.at_end) {
        if (s->started && s->sc.i != (long)nrows)
          die("%s: the full scan lost rows", lname[l->kind]);
        scan_seek(&s->sc, -1);
        s->started = 1;
      }
      got += scan_step(&s->sc, n - got, 0);
    }
    return;
  }
  int absent = s->m == M_ABS_POOL || s->m == M_ABS_PIN;
  int mode = s->m == M_PT_POOL || s->m == M_ABS_POOL ? MODE_POOL
             : s->m == M_PT_NEWIT                    ? MODE_NEWIT
             : s->m == M_PT_GET                      ? MODE_GET
                                                     : MODE_PIN;
  unsigned char uk[MAXK];
  for (long j = 0; j < n; j++) {
    uint32_t i = (uint32_t)(rnd(&s->seed) % nrows);
    size_t ul = ukey_make(uk, 2 * (uint64_t)i + (absent ? 1 : 0));
    /* a, b in the get modes: the exact newest version (present keys) */
    kv_ts at = absent || mode < MODE_PIN ? ts_now : newest[i];
    if (read_one(l, mode, s->it, uk, ul, i, at, l->ro_get) == absent)
      die("%s: a point read found the wrong thing", lname[l->kind]);
  }
}

/* --------------------------------------------------------- verification -- */

/* Untimed: every row by a full scan, point reads of every mode, absent keys,
** and the previous version of 3-version rows read at an older timestamp. */
static void verify(layout *l) {
  scan_cur c = {.l = l};
  c.it = rocksdb_create_iterator_cf(l->db, l->ro_scan, l->cf);
  scan_seek(&c, -1);
  if (scan_step(&c, (long)nrows + 1, 1) != (long)nrows || !c.at_end)
    die("%s: verify: the full scan lost rows", lname[l->kind]);
  rocksdb_iter_destroy(c.it);
  g_sink += c.sink;
  rocksdb_iterator_t *it = rocksdb_create_iterator_cf(l->db, l->ro_point, l->cf);
  unsigned char uk[MAXK];
  uint64_t s = 99;
  for (int j = 0; j < 4000; j++) {
    uint32_t i = (uint32_t)(rnd(&s) % nrows);
    size_t ul = ukey_make(uk, 2 * (uint64_t)i);
    for (int mode = MODE_POOL; mode <= MODE_GET; mode++)
      if (!read_one(l, mode, it, uk, ul, i, mode < MODE_PIN ? ts_now : newest[i],
                    l->ro_get))
        die("%s: verify: a present key not found", lname[l->kind]);
    ul = ukey_make(uk, 2 * (uint64_t)i + 1);
    for (int mode = MODE_POOL; mode <= MODE_GET; mode++)
      if (read_one(l, mode, it, uk, ul, i, ts_now, l->ro_get))
        die("%s: verify: an absent key found", lname[l->kind]);
  }
  rocksdb_iter_destroy(it);
  /* version 2 of a 3-version row, read just below its version 3 */
  long checked = 0;
  for (uint32_t i = 0; i < nrows && checked < 2000; i++) {
    if (nver[i] != 3) continue;
    kv_ts below = newest[i];
    below.wall--;
    char tsb[TSLEN], ek[MAXK];
    ts_be(tsb, below);
    size_t ul = ukey_make(uk, 2 * (uint64_t)i), p, vl;
    size_t el = vkey(l->kind, ek, uk, ul, below, &p);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_prefix_same_as_start(ro, 1);
    if (l->kind == L_C) rocksdb_readoptions_set_timestamp(ro, tsb, TSLEN);
    rocksdb_iterator_t *it2 = rocksdb_create_iterator_cf(l->db, ro, l->cf);
    rocksdb_iter_seek(it2, ek, el);
    const char *v = NULL;
    if (rocksdb_iter_valid(it2)) {
      size_t kl;
      const char *k = rocksdb_iter_key(it2, &kl);
      if (kl == (l->kind == L_C ? p : p + TSLEN) && memcmp(k, ek, p) == 0)
        v = rocksdb_iter_value(it2, &vl);
    }
    if (!v || !value_is(v, vl, i, 2))
      die("%s: verify: the older version is not read below the newest",
          lname[l->kind]);
    rocksdb_iter_destroy(it2);
    if (l->kind == L_C) {
      char *err = NULL;
      rocksdb_pinnableslice_t *ps =
          rocksdb_get_pinned_cf(l->db, ro, l->cf, (const char *)uk, ul, &err);
      check(err, "get_pinned");
      v = ps ? rocksdb_pinnableslice_value(ps, &vl) : NULL;
      if (!v || !value_is(v, vl, i, 2))
        die("%s: verify: get at an older timestamp", lname[l->kind]);
      rocksdb_pinnableslice_destroy(ps);
    }
    rocksdb_readoptions_destroy(ro);
    checked++;
  }
  if (!checked) die("verify: no 3-version rows");
}

/* c-udt: what RocksDB 7.8's C API lets kvcore do with it (printed). */
static void udt_probe(layout *l) {
  uint32_t i = 0;
  while (i < nrows && nver[i] != 3) i++;
  if (i == nrows) die("udt probe: no 3-version row");
  unsigned char uk[MAXK];
  size_t ul = ukey_make(uk, 2 * (uint64_t)i);
  kv_ts below = newest[i];
  below.wall--;
  char ts_a[TSLEN], ts_b[TSLEN];
  printf("\n#### c-udt through the C API of RocksDB 7.8: probes\n\n");

  /* 1. an iterator's read timestamp after its creation */
  for (int how = 0; how < 2; how++) {
    memcpy(ts_a, now_be, TSLEN);
    ts_be(ts_b, below);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_timestamp(ro, ts_a, TSLEN);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(l->db, ro, l->cf);
    if (how == 0)
      rocksdb_readoptions_set_timestamp(ro, ts_b, TSLEN);
    else
      memcpy(ts_a, ts_b, TSLEN); /* the bytes the options point to */
    rocksdb_iter_seek(it, (const char *)uk, ul);
    size_t vl = 0;
    const char *v = rocksdb_iter_valid(it) ? rocksdb_iter_value(it, &vl) : NULL;
    int ver = v && vl == VLEN ? (uint8_t)v[4] : -1;
    printf("- iterator made at ts=now, then %s: a Seek reads version %d "
           "(%s)\n",
           how == 0 ? "rocksdb_readoptions_set_timestamp(older ts) on its "
                      "read options"
                    : "the timestamp bytes those options point to rewritten "
                      "in place to the older ts",
           ver,
           ver == 3 ? "the iterator keeps the ts it was made with"
                    : "the iterator follows the change");
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
  }

  /* 2. range deletion, which kvcore uses (kv_engine_delete_range) */
  char *err = NULL;
  unsigned char uk2[MAXK];
  size_t ul2 = ukey_make(uk2, 2 * (uint64_t)i + 1);
  rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
  rocksdb_writebatch_delete_range_cf(wb, l->cf, (const char *)uk, ul,
                                     (const char *)uk2, ul2);
  int before = rocksdb_writebatch_count(wb);
  rocksdb_write(l->db, l->wo, wb, &err);
  int still = read_one(l, MODE_GET, NULL, uk, ul, i, ts_now, l->ro_get);
  printf("- rocksdb_writebatch_delete_range_cf([row, next key)) on the UDT "
         "family (the 7.8 C API has no _with_ts form): %s; the batch "
         "counted %d entries; the row is %s\n",
         err ? err : "rocksdb_write succeeded", before,
         still ? "still there (the deletion was dropped without an error)"
               : "gone");
  free(err);
  err = NULL;
  rocksdb_delete_range_cf(l->db, l->wo, l->cf, (const char *)uk, ul,
                          (const char *)uk2, ul2, &err);
  printf("- rocksdb_delete_range_cf on the UDT family: %s\n",
         err ? err : "accepted");
  free(err);
  rocksdb_writebatch_destroy(wb);

  /* 3. a read without a timestamp */
  err = NULL;
  rocksdb_readoptions_t *ro0 = rocksdb_readoptions_create();
  size_t vl;
  char *val = rocksdb_get_cf(l->db, ro0, l->cf, (const char *)uk, ul, &vl, &err);
  printf("- rocksdb_get without a read timestamp: %s\n",
         err ? err : val ? "a value" : "not found");
  free(err);
  free(val);
  rocksdb_readoptions_destroy(ro0);

}

/* ------------------------------------------------------------- reporting -- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(const double *v, int n) {
  double t[MAXB];
  memcpy(t, v, sizeof(double) * (size_t)n);
  qsort(t, (size_t)n, sizeof(double), cmp_double);
  return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* A distribution-free ~95% confidence interval of the median of v[0..n):
** the order statistics x(k) and x(n+1-k), k the largest with
** P(Binomial(n, 1/2) < k) <= 0.025. */
static void median_ci(const double *v, int n, double *lo, double *hi) {
  double t[MAXB], cdf = 0, pk = 1;
  memcpy(t, v, sizeof(double) * (size_t)n);
  qsort(t, (size_t)n, sizeof(double), cmp_double);
  for (int i = 0; i < n; i++) pk *= 0.5; /* P(X = 0) */
  int k = 0;
  for (int j = 0; j < n; j++) {
    if (cdf + pk > 0.025) break;
    cdf += pk; /* P(X <= j) */
    k = j + 1;
    pk = pk * (double)(n - j) / (double)(j + 1);
  }
  if (k < 1) k = 1;
  *lo = t[k - 1];
  *hi = t[n - k];
}

/* res[phase][measurement][layout][block]: the block's rate, units per
** CPU-second of this thread. */
static double res[NPH][NM][NL][MAXB];

static uint64_t prop_u64(layout *l, const char *name) {
  char *s = rocksdb_property_value_cf(l->db, l->cf, name);
  uint64_t v = s ? strtoull(s, NULL, 10) : 0;
  free(s);
  return v;
}

static double cpu_share[NPH];
static FILE *raw_out; /* LAYOUT_RAW=file: every block's rate */

/* Each measurement: the layouts take turns a chunk at a time (the first
** one rotating every round) for `blocks` blocks of equal rounds, sized so
** that a gets about secs CPU-seconds in all; a block's rate is its units
** over its CPU time.  Two rounds first warm the caches, untimed. */
static void run_phase(int ph) {
  fprintf(stderr, "bench_layout: %s keys, %s: measuring\n",
          shape == SHAPE_BRIEF ? "brief" : "sql", phname[ph]);
  double w0 = now_s(), c0 = cpu_s();
  for (int m = 0; m < NM; m++) {
    mstate st[NL];
    for (int k = 0; k < NL; k++) ms_open(&st[k], &L[k], m);
    double ta = 0;
    for (int w = 0; w < 3; w++)
      for (int k = 0; k < NL; k++) {
        double t0 = cpu_s();
        ms_chunk(&st[k]);
        if (k == L_A && w > 0) ta += (cpu_s() - t0) / 2;
      }
    int rpb = (int)(secs / blocks / (ta > 1e-6 ? ta : 1e-6) + 0.5);
    if (rpb < 1) rpb = 1;
    for (int b = 0; b < blocks; b++) {
      double cpu[NL] = {0};
      for (int r = 0; r < rpb; r++)
        for (int j = 0; j < NL; j++) {
          int k = (j + r + b) % NL;
          double t0 = cpu_s();
          ms_chunk(&st[k]);
          cpu[k] += cpu_s() - t0;
        }
      for (int k = 0; k < NL; k++)
        res[ph][m][k][b] = (double)rpb * (double)chunk_units[m] / cpu[k];
    }
    for (int k = 0; k < NL; k++) ms_close(&st[k]);
  }
  cpu_share[ph] = (cpu_s() - c0) / (now_s() - w0);
  if (raw_out)
    for (int m = 0; m < NM; m++)
      for (int k = 0; k < NL; k++) {
        fprintf(raw_out, "%d %d %d %d", shape, ph, m, k);
        for (int b = 0; b < blocks; b++)
          fprintf(raw_out, " %.0f", res[ph][m][k][b]);
        fprintf(raw_out, "\n");
      }
}

static void print_phase(int ph) {
  const char *sh = shape == SHAPE_BRIEF ? "brief (9-byte)" : "sql (20-byte)";
  printf("\n#### %s keys, %s: median rate (ratio to a)\n\n", sh, phname[ph]);
  printf("| %-58s |", "per CPU-second of the reading thread");
  for (int k = 0; k < NL; k++) printf(" %16s |", lname[k]);
  printf("\n|%s|", "------------------------------------------------------------");
  for (int k = 0; k < NL; k++) printf("-----------------:|");
  printf("\n");
  double ratio[NM][NL][MAXB];
  for (int m = 0; m < NM; m++) {
    printf("| %-58s |", mname[m]);
    for (int k = 0; k < NL; k++) {
      for (int b = 0; b < blocks; b++)
        ratio[m][k][b] = res[ph][m][k][b] / res[ph][m][L_A][b];
      char cell[40];
      snprintf(cell, sizeof cell, "%.0f (%.2f)", median(res[ph][m][k], blocks),
               median(ratio[m][k], blocks));
      printf(" %16s |", cell);
    }
    printf("\n");
  }
  printf("\nratio to a, median of the %d blocks' paired ratios [~95%% "
         "interval]; the thread ran %.0f%% of the wall time\n\n",
         blocks, cpu_share[ph] * 100);
  printf("| %-58s |", "measurement");
  for (int k = 1; k < NL; k++) printf(" %18s |", lname[k]);
  printf("\n|%s|", "------------------------------------------------------------");
  for (int k = 1; k < NL; k++) printf("-------------------:|");
  printf("\n");
  for (int m = 0; m < NM; m++) {
    printf("| %-58s |", mname[m]);
    for (int k = 1; k < NL; k++) {
      double lo, hi;
      median_ci(ratio[m][k], blocks, &lo, &hi);
      char cell[40];
      snprintf(cell, sizeof cell, "%.2f [%.2f-%.2f]", median(ratio[m][k], blocks),
               lo, hi);
      printf(" %18s |", cell);
    }
    printf("\n");
  }
}

static void print_sizes(void) {
  printf("\n#### %s keys: sizes and load\n\n",
         shape == SHAPE_BRIEF ? "brief (9-byte)" : "sql (20-byte)");
  printf("| %-44s |", "");
  for (int k = 0; k < NL; k++) printf(" %9s |", lname[k]);
  printf("\n|----------------------------------------------|");
  for (int k = 0; k < NL; k++) printf("----------:|");
  printf("\n| %-44s |", "stored key bytes, mean (c: key + timestamp)");
  for (int k = 0; k < NL; k++)
    printf(" %9.1f |", (double)L[k].key_bytes / (double)L[k].nkeys);
  printf("\n| %-44s |", "load, WAL off (versions/CPU-s)");
  for (int k = 0; k < NL; k++)
    printf(" %9.0f |", (double)versions_written / L[k].load_s);
  printf("\n| %-44s |", "SST file (KiB)");
  for (int k = 0; k < NL; k++)
    printf(" %9.0f |", prop_u64(&L[k], "rocksdb.total-sst-files-size") / 1024.0);
  static const char *const tprop[3][2] = {
      {"data blocks (KiB)", "data block size="},
      {"index blocks (KiB)", "index block size"},
      {"filter blocks (KiB)", "filter block size="}};
  for (int t = 0; t < 3; t++) {
    printf("\n| %-44s |", tprop[t][0]);
    for (int k = 0; k < NL; k++) {
      char *a = rocksdb_property_value_cf(L[k].db, L[k].cf,
                                          "rocksdb.aggregated-table-properties");
      const char *f = a ? strstr(a, tprop[t][1]) : NULL;
      if (f) f = strchr(f, '=');
      printf(" %9.0f |", f ? (double)strtoull(f + 1, NULL, 10) / 1024.0 : -1.0);
      free(a);
    }
  }
  printf("\n| %-44s |", "table reader memory: index + filter (KiB)");
  for (int k = 0; k < NL; k++)
    printf(" %9.0f |",
           prop_u64(&L[k], "rocksdb.estimate-table-readers-mem") / 1024.0);
  printf("\n");
}

/* ----------------------------------------------------------------- main -- */

static int probed;

static void run_shape(const char *base) {
  memset(nver, 0, nrows);
  versions_written = 0;
  for (int k = 0; k < NL; k++) layout_open(&L[k], k, base);
  fprintf(stderr, "bench_layout: %s keys: loading\n",
          shape == SHAPE_BRIEF ? "brief" : "sql");
  load_all();
  uint64_t memsz[NL];
  for (int k = 0; k < NL; k++) {
    memsz[k] = prop_u64(&L[k], "rocksdb.cur-size-all-mem-tables");
    if (prop_u64(&L[k], "rocksdb.num-files-at-level0") != 0)
      die("%s: a flush during the load (LAYOUT_ROWS too large)", lname[k]);
    verify(&L[k]);
  }
  run_phase(PH_MEM);
  rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
  rocksdb_flushoptions_set_wait(fo, 1);
  for (int k = 0; k < NL; k++) {
    char *err = NULL;
    rocksdb_flush_cf(L[k].db, fo, L[k].cf, &err);
    check(err, "flush");
    if (prop_u64(&L[k], "rocksdb.num-files-at-level0") != 1 ||
        prop_u64(&L[k], "rocksdb.num-entries-active-mem-table") != 0)
      die("%s: not one SST file after the flush", lname[k]);
    verify(&L[k]); /* also loads the blocks into the cache */
  }
  rocksdb_flushoptions_destroy(fo);
  run_phase(PH_SST);

  print_sizes();
  printf("| %-44s |", "memtable before the flush (KiB)");
  for (int k = 0; k < NL; k++) printf(" %9.0f |", memsz[k] / 1024.0);
  printf("\n");
  for (int ph = 0; ph < NPH; ph++) print_phase(ph);
  if (!probed) { /* last: it may delete a row */
    udt_probe(&L[L_C]);
    probed = 1;
  }
  fflush(stdout);
  for (int k = 0; k < NL; k++) layout_close(&L[k]);
}

int main(int argc, char **argv) {
  const char *e;
  if ((e = getenv("LAYOUT_SECONDS"))) secs = atof(e);
  if ((e = getenv("LAYOUT_BLOCKS"))) blocks = atoi(e);
  if ((e = getenv("LAYOUT_ROWS"))) nrows = (uint32_t)atol(e);
  if ((e = getenv("LAYOUT_RAW")) && !(raw_out = fopen(e, "w")))
    die("cannot write %s", e);
  const char *shapes = (e = getenv("LAYOUT_SHAPES")) ? e : "brief,sql";
  if (secs <= 0 || blocks < 3 || blocks > MAXB || nrows < 1000)
    die("bad LAYOUT_SECONDS, LAYOUT_BLOCKS (3..64) or LAYOUT_ROWS (>= 1000)");
  char base[512];
  int made = 0;
  if (argc > 1) {
    snprintf(base, sizeof base, "%s", argv[1]);
    mkdir(base, 0755);
  } else {
    snprintf(base, sizeof base, "/tmp/bench_layout.XXXXXX");
    if (!mkdtemp(base)) die("cannot make %s", base);
    made = 1;
  }
  nver = calloc(nrows, 1);
  newest = calloc(nrows, sizeof *newest);
  if (!nver || !newest) die("out of memory");

  printf("### bench_layout: %u rows (rowids 0, 2, 4, ...), %d-byte values; "
         "layouts interleaved chunk by chunk, %.2f CPU-s of a per "
         "measurement in %d blocks; rates per second of the thread's CPU "
         "time\n",
         nrows, VLEN, secs, blocks);
  if (strstr(shapes, "brief")) {
    shape = SHAPE_BRIEF;
    run_shape(base);
  }
  if (strstr(shapes, "sql")) {
    shape = SHAPE_SQL;
    run_shape(base);
  }
  free(nver);
  free(newest);
  if (made) rmdir(base);
  if (raw_out) fclose(raw_out);
  return 0;
}
