/*
** test_history.c — the change feed of mvcc_history under concurrent
** writers: polled with `WHERE ts > ?last ORDER BY ts`, advancing last to
** the newest ts each poll returned, it sees every committed change exactly
** once and nothing of a transaction that rolled back.
**
** Four writer threads (a connection each) run transactions of 1-3 changes
** on keys of their own: insert a new key, update one of theirs, delete one,
** or move one to a new key (UPDATE of the primary key: a delete and an
** insert).  Every insert and update writes a change id unique to the test
** into the row; keys are never reused, so a delete is known by its key.
** One transaction in five ends with ROLLBACK (so do any that fail).  A
** poller thread on its own connection polls all the while, and once more
** after the writers are done.  The checks, by id and by key:
**   - each committed insert or update seen exactly once, with its op;
**   - each committed delete (and each moved key's old key) seen exactly
**     once as a delete;
**   - no change id or delete of a rolled-back transaction ever seen;
**   - every poll's rows are above its `last`, in ts order.
** A commit that was in flight during a poll, with a ts below what that
** poll returned, would be missed forever by the next one (ts > last): the
** history's read timestamp (kvcore/history.c) is what rules that out, and
** this test is where it would show: with the history's timestamp-cache
** entry and latch wait taken out, it failed 5 runs in 5 (a committed
** change never seen).
*/
#include "sqltest.h"

#include <stdatomic.h>

#define WRITERS 4
#define KEY_SPACE 1000000   /* writer w's keys and ids: w * KEY_SPACE + n */
#define MAX_OPS 16384       /* changes (and keys) per writer, at most */

enum { CH_NONE, CH_INSERT, CH_UPDATE, CH_ROLLED_BACK };

typedef struct writer {
  const char *db;
  int w, txns;
  unsigned seed;
  /* By change id n (w * KEY_SPACE + n): what it was, once its transaction
  ** ended (CH_*). */
  unsigned char change[MAX_OPS];
  /* By key n: 1 deleted by a committed transaction, 2 by a rolled-back
  ** one (then it lives on). */
  unsigned char deleted[MAX_OPS];
  int nchange, nkey;
  int commits, rollbacks;
  char err[256];
  pthread_t th;
} writer;

typedef struct poller {
  const char *db;
  _Atomic int *stop;
  /* Seen counts, by writer and n. */
  unsigned short seen_change[WRITERS][MAX_OPS];
  unsigned char seen_op[WRITERS][MAX_OPS];
  unsigned short seen_delete[WRITERS][MAX_OPS];
  long polls, rows;
  char err[256];
  pthread_t th;
} poller;

/* One transaction of 1-3 changes on distinct keys; commits or rolls back. */
static int writer_txn(writer *w, sqlite3 *db, int *live, int *nlive) {
  int n = 1 + (int)(rand_r(&w->seed) % 3);
  int ids[3], idk[3], kind[3], slot[3], moved[3], nops = 0;
  static _Thread_local bool touched[MAX_OPS];
  memset(touched, 0, sizeof touched);
  int rc = sqlt_exec(db, "BEGIN");
  for (int i = 0; i < n && rc == SQLITE_OK; i++) {
    if (w->nchange >= MAX_OPS - 4 || w->nkey >= MAX_OPS - 4) break;
    int r = (int)(rand_r(&w->seed) % 4);
    int s = *nlive ? (int)(rand_r(&w->seed) % (unsigned)*nlive) : -1;
    if (s >= 0 && touched[s]) r = 0; /* each key at most once per txn */
    if (s < 0) r = 0;
    char sql[256];
    int cid = w->nchange++;
    ids[nops] = cid;
    slot[nops] = s;
    moved[nops] = -1;
    long base = (long)w->w * KEY_SPACE;
    if (r == 0) { /* insert a new key */
      int k = w->nkey++;
      snprintf(sql, sizeof sql, "INSERT INTO t VALUES (%ld, %ld, %d)",
               base + k, base + cid, w->w);
      idk[nops] = k;
      kind[nops] = CH_INSERT;
    } else if (r == 1) { /* update */
      snprintf(sql, sizeof sql, "UPDATE t SET cid = %ld WHERE k = %ld",
               base + cid, base + live[s]);
      idk[nops] = live[s];
      kind[nops] = CH_UPDATE;
    } else if (r == 2) { /* delete */
      w->nchange--; /* a delete writes no id */
      ids[nops] = -1;
      snprintf(sql, sizeof sql, "DELETE FROM t WHERE k = %ld",
               base + live[s]);
      idk[nops] = live[s];
      kind[nops] = CH_NONE;
    } else { /* move to a new key: a delete and an insert */
      int k = w->nkey++;
      snprintf(sql, sizeof sql, "UPDATE t SET k = %ld, cid = %ld WHERE k = %ld",
               base + k, base + cid, base + live[s]);
      idk[nops] = k;
      moved[nops] = live[s];
      kind[nops] = CH_INSERT;
    }
    if (s >= 0) touched[s] = true;
    rc = sqlt_exec(db, sql);
    if (rc == SQLITE_OK && sqlite3_changes(db) != 1) {
      snprintf(w->err, sizeof w->err, "%.200s changed %d rows", sql,
               sqlite3_changes(db));
      rc = SQLITE_ERROR;
    }
    nops++;
  }
  bool commit = rc == SQLITE_OK && rand_r(&w->seed) % 5 != 0;
  if (commit) rc = sqlt_exec(db, "COMMIT");
  if (!commit || rc != SQLITE_OK) {
    if (rc != SQLITE_OK && !commit && w->err[0]) return rc;
    sqlt_exec(db, "ROLLBACK");
    commit = false;
  }
  /* Record the outcome; the live set changes only for a commit. */
  int s_removed[3], nrem = 0;
  for (int i = 0; i < nops; i++) {
    if (ids[i] >= 0) w->change[ids[i]] = commit ? kind[i] : CH_ROLLED_BACK;
    int gone = kind[i] == CH_NONE ? idk[i] : moved[i];
    if (gone >= 0) w->deleted[gone] = commit ? 1 : 2;
    if (!commit) continue;
    if (kind[i] == CH_INSERT && moved[i] < 0) live[(*nlive)++] = idk[i];
    else if (kind[i] == CH_INSERT) live[slot[i]] = idk[i]; /* moved */
    else if (kind[i] == CH_NONE) s_removed[nrem++] = slot[i];
  }
  /* Remove deleted slots, highest first, so the lower stay valid. */
  for (int a = 0; a < nrem; a++)
    for (int b = a + 1; b < nrem; b++)
      if (s_removed[b] > s_removed[a]) {
        int x = s_removed[a];
        s_removed[a] = s_removed[b];
        s_removed[b] = x;
      }
  for (int a = 0; a < nrem; a++) live[s_removed[a]] = live[--*nlive];
  if (commit) w->commits++;
  else w->rollbacks++;
  return SQLITE_OK;
}

static void *writer_main(void *arg) {
  writer *w = arg;
  sqlite3 *db = NULL;
  sqlite3_open(w->db, &db);
  sqlite3_busy_timeout(db, 10000);
  int *live = calloc(MAX_OPS, sizeof(int));
  int nlive = 0;
  for (int i = 0; i < w->txns && !w->err[0]; i++) {
    int rc = writer_txn(w, db, live, &nlive);
    if (rc != SQLITE_OK && !w->err[0])
      snprintf(w->err, sizeof w->err, "txn failed: %s", sqlite3_errmsg(db));
  }
  free(live);
  sqlite3_close(db);
  return NULL;
}

/* One poll: every row above last, checked and counted; last advances to
** the newest ts seen. */
static int poll_once(poller *p, sqlite3_stmt *st, char *last) {
  sqlite3_bind_text(st, 1, last, -1, SQLITE_TRANSIENT);
  char prev[64];
  snprintf(prev, sizeof prev, "%s", last);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *ts = (const char *)sqlite3_column_text(st, 0);
    const char *op = (const char *)sqlite3_column_text(st, 1);
    sqlite3_int64 k = sqlite3_column_int64(st, 2);
    sqlite3_int64 cid = sqlite3_column_int64(st, 3);
    size_t tl = strlen(ts);
    if (strcmp(ts, last) <= 0 || strcmp(ts, prev) < 0 ||
        (tl != 29 && tl != 40)) {
      snprintf(p->err, sizeof p->err, "ts %s after last %s / prev %s", ts,
               last, prev);
      break;
    }
    snprintf(prev, sizeof prev, "%s", ts);
    p->rows++;
    int w = (int)(k / KEY_SPACE), n = (int)(k % KEY_SPACE);
    if (w < 0 || w >= WRITERS || n >= MAX_OPS) {
      snprintf(p->err, sizeof p->err, "unknown key %lld", (long long)k);
      break;
    }
    if (!strcmp(op, "delete")) {
      p->seen_delete[w][n]++;
      continue;
    }
    int cw = (int)(cid / KEY_SPACE), cn = (int)(cid % KEY_SPACE);
    if (cw != w || cn >= MAX_OPS) {
      snprintf(p->err, sizeof p->err, "bad change id %lld", (long long)cid);
      break;
    }
    p->seen_change[cw][cn]++;
    p->seen_op[cw][cn] = !strcmp(op, "insert") ? CH_INSERT : CH_UPDATE;
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW && !p->err[0])
    snprintf(p->err, sizeof p->err, "poll failed: %s",
             sqlite3_errmsg(sqlite3_db_handle(st)));
  sqlite3_reset(st);
  if (strcmp(prev, last) > 0) strcpy(last, prev);
  p->polls++;
  return p->err[0] ? SQLITE_ERROR : SQLITE_OK;
}

static void *poller_main(void *arg) {
  poller *p = arg;
  sqlite3 *db = NULL;
  sqlite3_open(p->db, &db);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT ts, op, key ->> 0, row ->> 'cid' FROM "
                         "mvcc_history('t') WHERE ts > ?1 ORDER BY ts",
                         -1, &st, NULL) != SQLITE_OK) {
    snprintf(p->err, sizeof p->err, "prepare: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    return NULL;
  }
  char last[64] = "";
  /* Poll while the writers run, then once more: every commit has returned
  ** by then, so the last poll ends the feed. */
  while (!atomic_load(p->stop))
    if (poll_once(p, st, last)) break;
  if (!p->err[0]) poll_once(p, st, last);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return NULL;
}

static void test_history_feed_sees_each_commit_once(void **state) {
  (void)state;
  char *path = sqlt_tempdb();
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlt_exec(db, "CREATE VIRTUAL TABLE temp.t USING mvcc(k "
                            "INTEGER PRIMARY KEY, cid INTEGER, w INTEGER, "
                            "synchronous=normal)"),
                   SQLITE_OK);
  _Atomic int stop = 0;
  poller *p = calloc(1, sizeof(*p));
  p->db = path;
  p->stop = &stop;
  writer *w = calloc(WRITERS, sizeof(*w));
  int txns = (int)(2000 * sqlt_scale());
  if (txns < 20) txns = 20;
  pthread_create(&p->th, NULL, poller_main, p);
  for (int i = 0; i < WRITERS; i++) {
    w[i].db = path;
    w[i].w = i;
    w[i].txns = txns;
    w[i].seed = 1234u + (unsigned)i;
    pthread_create(&w[i].th, NULL, writer_main, &w[i]);
  }
  for (int i = 0; i < WRITERS; i++) pthread_join(w[i].th, NULL);
  atomic_store(&stop, 1);
  pthread_join(p->th, NULL);
  assert_string_equal(p->err, "");
  long committed = 0, rolled_back = 0, deletes = 0, commits = 0, rbs = 0;
  for (int i = 0; i < WRITERS; i++) {
    if (w[i].err[0]) print_error("writer %d: %s\n", i, w[i].err);
    assert_string_equal(w[i].err, "");
    commits += w[i].commits;
    rbs += w[i].rollbacks;
    for (int n = 0; n < w[i].nchange; n++) {
      int ch = w[i].change[n];
      if (ch == CH_INSERT || ch == CH_UPDATE) {
        committed++;
        if (p->seen_change[i][n] != 1 || p->seen_op[i][n] != ch)
          print_error("change %d/%d (%s) seen %d times as %d\n", i, n,
                      ch == CH_INSERT ? "insert" : "update",
                      p->seen_change[i][n], p->seen_op[i][n]);
        assert_int_equal(p->seen_change[i][n], 1);
        assert_int_equal(p->seen_op[i][n], ch);
      } else {
        rolled_back++;
        assert_int_equal(ch, CH_ROLLED_BACK);
        assert_int_equal(p->seen_change[i][n], 0);
      }
    }
    for (int n = 0; n < w[i].nkey; n++) {
      int want = w[i].deleted[n] == 1 ? 1 : 0;
      deletes += want;
      if (p->seen_delete[i][n] != want)
        print_error("delete of key %d/%d seen %d times, want %d\n", i, n,
                    p->seen_delete[i][n], want);
      assert_int_equal(p->seen_delete[i][n], want);
    }
    for (int n = w[i].nchange; n < MAX_OPS; n++)
      assert_int_equal(p->seen_change[i][n], 0);
  }
  /* The feed saw exactly the committed changes: nothing more. */
  assert_int_equal(p->rows, committed + deletes);
  assert_true(commits > 0 && rbs > 0 && rolled_back > 0 && p->polls > 2);
  printf("change feed: %ld changes seen (%ld inserts/updates, %ld deletes) "
         "in %ld polls, from %ld commits; %ld changes of %ld rolled-back "
         "transactions never seen\n",
         p->rows, committed, deletes, p->polls, commits, rolled_back, rbs);
  sqlite3_close(db);
  free(w);
  free(p);
  sqlt_rmdb(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_history_feed_sees_each_commit_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
