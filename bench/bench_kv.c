/*
** bench_kv.c — kvcore against raw RocksDB, in one run.
**
** The same operations through kvcore's transactions and through RocksDB's
** C API directly (same RocksDB build, same machine, same moment), printed
** as operations per second and as the ratio kvcore / RocksDB:
**
**   put+commit   one key written and committed per operation, with
**                synchronous=off (RocksDB: WAL disabled) and =full
**                (RocksDB: sync=true)
**   get          random point reads of 100k existing keys (kvcore: inside
**                one read transaction per 1000 reads)
**   scan100      100-key ascending scans from random starting keys
**   2 threads    put+commit on disjoint keys, off, from 2 threads, against
**                the 1-thread kvcore figure (scaling)
**
** Each phase runs for a fixed time (BENCH_SECONDS, default 1.5) and checks
** what it read, so a fast wrong answer fails the run.  Values are 100
** bytes.  Usage: bench_kv [dir]   (default: a fresh directory under /tmp)
*/
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvcore.h"

#define NKEYS 100000
#define VLEN 100

static double bench_seconds = 1.5;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what, char *err) {
  fprintf(stderr, "bench_kv: %s: %s\n", what, err ? err : "failed");
  exit(1);
}

static void make_key(char *k, long i) { snprintf(k, 24, "k%012ld", i); }

static void make_value(char *v, long i) {
  uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ULL + 1;
  for (int j = 0; j < VLEN; j++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v[j] = (char)x;
  }
  memcpy(v, &i, sizeof i); /* checkable */
}

static uint64_t rnd_next(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return *s >> 33;
}

typedef struct result {
  const char *name;
  double ops;
} result;

/* ------------------------------------------------------------ RocksDB -- */

typedef struct rdb {
  rocksdb_t *db;
  rocksdb_options_t *o;
  rocksdb_writeoptions_t *wo_off, *wo_full;
  rocksdb_readoptions_t *ro;
} rdb;

static void rdb_open(rdb *r, const char *dir) {
  char *err = NULL;
  r->o = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(r->o, 1);
  rocksdb_options_set_compression(r->o, rocksdb_lz4_compression);
  r->db = rocksdb_open(r->o, dir, &err);
  if (err) die("rocksdb_open", err);
  r->wo_off = rocksdb_writeoptions_create();
  rocksdb_writeoptions_disable_WAL(r->wo_off, 1);
  r->wo_full = rocksdb_writeoptions_create();
  rocksdb_writeoptions_set_sync(r->wo_full, 1);
  r->ro = rocksdb_readoptions_create();
}

static void rdb_close(rdb *r) {
  rocksdb_writeoptions_destroy(r->wo_off);
  rocksdb_writeoptions_destroy(r->wo_full);
  rocksdb_readoptions_destroy(r->ro);
  rocksdb_close(r->db);
  rocksdb_options_destroy(r->o);
}

static double rdb_puts(rdb *r, rocksdb_writeoptions_t *wo, long base) {
  char k[24], v[VLEN];
  long n = 0;
  double t0 = now_s(), t;
  do {
    for (int j = 0; j < 16; j++, n++) {
      make_key(k, base + n);
      make_value(v, base + n);
      char *err = NULL;
      rocksdb_put(r->db, wo, k, strlen(k), v, VLEN, &err);
      if (err) die("rocksdb_put", err);
    }
  } while ((t = now_s() - t0) < bench_seconds);
  return (double)n / t;
}

static double rdb_gets(rdb *r) {
  char k[24];
  long n = 0;
  uint64_t seed = 7;
  double t0 = now_s(), t;
  do {
    for (int j = 0; j < 256; j++, n++) {
      long i = (long)(rnd_next(&seed) % NKEYS);
      make_key(k, i);
      size_t vl;
      char *err = NULL;
      char *v = rocksdb_get(r->db, r->ro, k, strlen(k), &vl, &err);
      if (err || !v || vl != VLEN || memcmp(v, &i, sizeof i))
        die("rocksdb_get returned a wrong value", err);
      free(v);
    }
  } while ((t = now_s() - t0) < bench_seconds);
  return (double)n / t;
}

static double rdb_scans(rdb *r) {
  char k[24];
  long n = 0;
  uint64_t seed = 9;
  double t0 = now_s(), t;
  do {
    for (int j = 0; j < 16; j++, n++) {
      long i = (long)(rnd_next(&seed) % (NKEYS - 100));
      make_key(k, i);
      rocksdb_iterator_t *it = rocksdb_create_iterator(r->db, r->ro);
      rocksdb_iter_seek(it, k, strlen(k));
      for (int m = 0; m < 100; m++, rocksdb_iter_next(it)) {
        size_t vl;
        const char *v = rocksdb_iter_value(it, &vl);
        long want = i + m;
        if (!rocksdb_iter_valid(it) || memcmp(v, &want, sizeof want))
          die("rocksdb scan returned a wrong row", NULL);
      }
      rocksdb_iter_destroy(it);
    }
  } while ((t = now_s() - t0) < bench_seconds);
  return (double)n / t;
}

/* ------------------------------------------------------------- kvcore -- */

static double kv_puts(kv_store *s, long base, long stride, long offset) {
  char k[24], v[VLEN];
  long n = 0;
  double t0 = now_s(), t;
  do {
    for (int j = 0; j < 16; j++, n++) {
      long i = base + n * stride + offset;
      make_key(k, i);
      make_value(v, i);
      kv_txn *x;
      char *err = NULL;
      if (kv_txn_begin(s, NULL, &x, &err) ||
          kv_txn_put(x, k, strlen(k), v, VLEN, &err) ||
          kv_txn_commit(x, NULL, &err))
        die("kvcore put+commit", err);
    }
  } while ((t = now_s() - t0) < bench_seconds);
  return (double)n / t;
}

static double kv_gets(kv_store *s) {
  char k[24];
  long n = 0;
  uint64_t seed = 7;
  double t0 = now_s(), t;
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = 1;
  do {
    kv_txn *x;
    char *err = NULL;
    if (kv_txn_begin(s, &o, &x, &err)) die("kv_txn_begin", err);
    for (int j = 0; j < 1000; j++, n++) {
      long i = (long)(rnd_next(&seed) % NKEYS);
      make_key(k, i);
      const void *v;
      size_t vl;
      if (kv_txn_get(x, k, strlen(k), 0, &v, &vl, &err) || vl != VLEN ||
          memcmp(v, &i, sizeof i))
        die("kv_txn_get returned a wrong value", err);
    }
    kv_txn_commit(x, NULL, NULL);
  } while ((t = now_s() - t0) < bench_seconds);
  return (double)n / t;
}

static double kv_scans(kv_store *s) {
  char k[24];
  long n = 0;
  uint64_t seed = 9;
  double t0 = now_s(), t;
  kv_txn_options o;
  kv_txn_options_init(&o);
  o.read_only = 1;
  do {
    kv_txn *x;
    char *err = NULL;
    if (kv_txn_begin(s, &o, &x, &err)) die("kv_txn_begin", err);
    for (int j = 0; j < 16; j++, n++) {
      long i = (long)(rnd_next(&seed) % (NKEYS - 100));
      make_key(k, i);
      kv_iter *it;
      if (kv_txn_scan(x, k, strlen(k), NULL, 0, 0, 100, &it, &err))
        die("kv_txn_scan", err);
      for (int m = 0; m < 100; m++) {
        long want = i + m;
        size_t vl;
        if (kv_iter_next(it, &err) != KV_OK ||
            memcmp(kv_iter_value(it, &vl), &want, sizeof want))
          die("kvcore scan returned a wrong row", err);
      }
      kv_iter_close(it);
    }
    kv_txn_commit(x, NULL, NULL);
  } while ((t = now_s() - t0) < bench_seconds);
  return (double)n / t;
}

typedef struct bench_thread {
  kv_store *s;
  rdb *r;
  rocksdb_writeoptions_t *wo;
  long base, offset;
  double ops;
} bench_thread;

static void *kv_thread_main(void *arg) {
  bench_thread *k = arg;
  k->ops = kv_puts(k->s, k->base, 2, k->offset);
  return NULL;
}

static void *kv_get_thread_main(void *arg) {
  bench_thread *k = arg;
  k->ops = kv_gets(k->s);
  return NULL;
}

static void *rdb_get_thread_main(void *arg) {
  bench_thread *k = arg;
  k->ops = rdb_gets(k->r);
  return NULL;
}

static double gets_2threads(kv_store *s, rdb *r) {
  bench_thread th[2] = {{s, r, NULL, 0, 0, 0}, {s, r, NULL, 0, 1, 0}};
  pthread_t p[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&p[i], NULL, s ? kv_get_thread_main : rdb_get_thread_main,
                   &th[i]);
  for (int i = 0; i < 2; i++) pthread_join(p[i], NULL);
  return th[0].ops + th[1].ops;
}

static void *rdb_thread_main(void *arg) {
  bench_thread *k = arg;
  k->ops = rdb_puts(k->r, k->wo, k->base + k->offset * 100000000L);
  return NULL;
}

/* Two threads on disjoint keys: kvcore (s) or RocksDB (r). */
static double puts_2threads(kv_store *s, rdb *r, rocksdb_writeoptions_t *wo,
                            long base) {
  bench_thread th[2] = {{s, r, wo, base, 0, 0}, {s, r, wo, base, 1, 0}};
  pthread_t p[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&p[i], NULL, s ? kv_thread_main : rdb_thread_main, &th[i]);
  for (int i = 0; i < 2; i++) pthread_join(p[i], NULL);
  return th[0].ops + th[1].ops;
}

static void load(rdb *r, kv_store *s) {
  char k[24], v[VLEN];
  rocksdb_writebatch_t *b = rocksdb_writebatch_create();
  kv_txn *x = NULL;
  char *err = NULL;
  for (long i = 0; i < NKEYS; i++) {
    make_key(k, i);
    make_value(v, i);
    rocksdb_writebatch_put(b, k, strlen(k), v, VLEN);
    if (!x && kv_txn_begin(s, NULL, &x, &err)) die("begin", err);
    if (kv_txn_put(x, k, strlen(k), v, VLEN, &err)) die("put", err);
    if (i % 10000 == 9999) {
      rocksdb_write(r->db, r->wo_off, b, &err);
      if (err) die("rocksdb_write", err);
      rocksdb_writebatch_clear(b);
      if (kv_txn_commit(x, NULL, &err)) die("commit", err);
      x = NULL;
    }
  }
  rocksdb_writebatch_destroy(b);
}

int main(int argc, char **argv) {
  const char *env = getenv("BENCH_SECONDS");
  if (env && atof(env) > 0) bench_seconds = atof(env);
  char base[256];
  if (argc > 1)
    snprintf(base, sizeof base, "%s", argv[1]);
  else
    snprintf(base, sizeof base, "/tmp/bench_kv.%d", (int)getpid());
  char cmd[600], rdir[300], kdir[300], kdir2[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", base, base);
  if (system(cmd)) return 1;
  snprintf(rdir, sizeof rdir, "%s/rocksdb", base);
  snprintf(kdir, sizeof kdir, "%s/kvcore", base);
  snprintf(kdir2, sizeof kdir2, "%s/kvcore-full", base);

  rdb r;
  rdb_open(&r, rdir);
  kv_options o;
  kv_options_init(&o);
  o.synchronous = KV_SYNC_OFF;
  kv_store *s;
  char *err = NULL;
  if (kv_store_open(kdir, &o, &s, &err)) die("kv_store_open", err);
  o.synchronous = KV_SYNC_FULL;
  kv_store *sf;
  if (kv_store_open(kdir2, &o, &sf, &err)) die("kv_store_open", err);

  load(&r, s);
  long b = NKEYS * 10;
  double r_off = rdb_puts(&r, r.wo_off, b);
  double k_off = kv_puts(s, b, 1, 0);
  double r_full = rdb_puts(&r, r.wo_full, b * 2);
  double k_full = kv_puts(sf, b * 2, 1, 0);
  double r_get = rdb_gets(&r), k_get = kv_gets(s);
  double r_scan = rdb_scans(&r), k_scan = kv_scans(s);
  double k_2t = puts_2threads(s, NULL, NULL, b * 3);
  double r_2t = puts_2threads(NULL, &r, r.wo_off, b * 4);
  double k_2tf = puts_2threads(sf, NULL, NULL, b * 5);
  double r_2tf = puts_2threads(NULL, &r, r.wo_full, b * 6);
  double k_2tg = gets_2threads(s, NULL), r_2tg = gets_2threads(NULL, &r);

  printf("\nkvcore vs raw RocksDB (%s, %.1f s per phase, %d-byte values)\n",
         base, bench_seconds, VLEN);
  printf("%-28s %14s %14s %8s\n", "operation", "RocksDB op/s", "kvcore op/s",
         "ratio");
  printf("%-28s %14.0f %14.0f %8.2f\n", "put+commit, sync off", r_off, k_off,
         k_off / r_off);
  printf("%-28s %14.0f %14.0f %8.2f\n", "put+commit, sync full", r_full,
         k_full, k_full / r_full);
  printf("%-28s %14.0f %14.0f %8.2f\n", "get (100k keys)", r_get, k_get,
         k_get / r_get);
  printf("%-28s %14.0f %14.0f %8.2f\n", "scan of 100 keys", r_scan, k_scan,
         k_scan / r_scan);
  printf("%-28s %14.0f %14.0f %8.2f\n", "put+commit off, 2 threads", r_2t,
         k_2t, k_2t / r_2t);
  printf("%-28s %14.0f %14.0f %8.2f\n", "put+commit full, 2 threads", r_2tf,
         k_2tf, k_2tf / r_2tf);
  printf("%-28s %14.0f %14.0f %8.2f\n", "get, 2 threads", r_2tg, k_2tg,
         k_2tg / r_2tg);
  printf("\nscaling, 2 threads / 1 thread:\n"
         "  get:                    RocksDB %.2f, kvcore %.2f\n"
         "  put+commit, sync off:   RocksDB %.2f, kvcore %.2f\n"
         "  put+commit, sync full:  RocksDB %.2f, kvcore %.2f\n",
         r_2tg / r_get, k_2tg / k_get, r_2t / r_off, k_2t / k_off,
         r_2tf / r_full, k_2tf / k_full);

  kv_store_close(s);
  kv_store_close(sf);
  rdb_close(&r);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
  if (system(cmd)) return 1;
  return 0;
}
