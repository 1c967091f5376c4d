/*
** clock.c — the hybrid logical clock.
**
** A timestamp is (wall nanoseconds, logical counter).  now() returns the wall
** time when it is ahead of every timestamp handed out or seen, else the
** latest one with its logical counter raised: timestamps are strictly
** increasing across threads, and a wall clock that stalls or steps back only
** makes the logical part count.
**
** Restarts: no timestamp handed out ever has a wall part above the persisted
** high-water mark (hwm).  A restarted clock starts at the persisted mark,
** so it never goes back even if the machine's clock was set back while the
** store was closed.  The mark is renewed KV_CLOCK_LEASE_NS ahead of the
** wall time (a synchronous write, about once per lease) by the first now()
** that finds less than half the lease left: that thread persists it after
** letting go of the mutex, and the mutex is taken again only to raise hwm
** once the write is durable.  Only a wall time past hwm itself (the
** renewal failed, or did not finish within half a lease) persists under
** the mutex, holding every other now() back meanwhile.  Marks are written
** one at a time and only upwards (pmu, persisted), so a late renewal never
** overwrites a higher mark.
**
** The mutex is store-wide and on every transaction's path (now() at begin,
** update() at commit): the time it is held is counted in held_ns
** (kv_stats.serial_mutex_ns).  Lock order: mu, then pmu, then the engine's
** mutexes inside persist(); a renewal takes pmu without mu.
**
** A mark that cannot be written (a full disk: the store's writes fail
** until it recovers) does not stop the clock: now() then hands out
** timestamps at the mark itself, counting in the logical part, as a wall
** clock that stalls would, so reads go on while the disk is full.  It tries
** to write a mark again at most every KV_CLOCK_RETRY_NS, not on every
** now(): each attempt is a write that tries to recover the store.
**
** update(t) records a timestamp made elsewhere (a commit timestamp pushed
** above the clock by logical increments) so that transactions that begin
** afterwards read above it: this is what makes a commit that returned
** visible to every transaction that begins after it.
*/
#include "kvint.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How far ahead of the wall time the persisted mark is set: one synchronous
** metadata write per lease. */
#define KV_CLOCK_LEASE_NS (2ULL * 1000000000ULL)
/* After a mark failed to persist, how long now() waits before writing one
** again (meanwhile it stalls at the mark). */
#define KV_CLOCK_RETRY_NS (100ULL * 1000000ULL)

static uint64_t clock_realtime(void *ctx) {
  (void)ctx;
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

int kv_clock_init(kv_clock *c, uint64_t (*wall)(void *), void *wall_ctx,
                  uint64_t hwm, kv_clock_persist_fn persist, void *pctx,
                  char **errptr) {
  memset(c, 0, sizeof(*c));
  if (pthread_mutex_init(&c->mu, NULL))
    return kv_err(errptr, KV_NOMEM, "cannot create the clock's mutex");
  if (pthread_mutex_init(&c->pmu, NULL)) {
    pthread_mutex_destroy(&c->mu);
    return kv_err(errptr, KV_NOMEM, "cannot create the clock's mutex");
  }
  c->wall = wall ? wall : clock_realtime;
  c->wall_ctx = wall_ctx;
  c->persist = persist;
  c->persist_ctx = pctx;
  c->hwm = c->persisted = hwm;
  /* Everything handed out before the restart is below (hwm + 1, 0). */
  c->last = (kv_ts){hwm + 1, 0};
  return KV_OK;
}

void kv_clock_destroy(kv_clock *c) {
  pthread_mutex_destroy(&c->mu);
  pthread_mutex_destroy(&c->pmu);
}

/* Makes a mark of at least `mark` durable (a higher one may already be). */
static int clock_persist_mark(kv_clock *c, uint64_t mark, char **errptr) {
  int rc = KV_OK;
  pthread_mutex_lock(&c->pmu);
  if (mark > c->persisted) {
    rc = c->persist ? c->persist(c->persist_ctx, mark, errptr) : KV_OK;
    if (rc == KV_OK) c->persisted = mark;
  }
  pthread_mutex_unlock(&c->pmu);
  return rc;
}

/* Persists a mark covering wall; caller holds c->mu. */
static int clock_extend(kv_clock *c, uint64_t wall, char **errptr) {
  uint64_t mark = wall + KV_CLOCK_LEASE_NS;
  int rc = clock_persist_mark(c, mark, errptr);
  if (rc) return rc;
  c->hwm = mark;
  return KV_OK;
}

/* c->mu, with its hold time counted (clock_unlock adds it). */
static uint64_t clock_lock(kv_clock *c) {
  pthread_mutex_lock(&c->mu);
  return kv_mono_ns();
}

static void clock_unlock(kv_clock *c, uint64_t held_since) {
  atomic_fetch_add_explicit(&c->held_ns, kv_mono_ns() - held_since,
                            memory_order_relaxed);
  pthread_mutex_unlock(&c->mu);
}

int kv_clock_now(kv_clock *c, kv_ts *out, char **errptr) {
  uint64_t pt = c->wall(c->wall_ctx);
  uint64_t held = clock_lock(c);
  kv_ts t;
  if (pt > c->last.wall)
    t = (kv_ts){pt, 0};
  else
    t = kv_ts_next(c->last);
  if (t.wall > c->hwm) {
    int rc = kv_mono_ns() < c->retry_after ? KV_IOERR
                                            : clock_extend(c, t.wall, errptr);
    if (rc) {
      /* Stall at the mark (see above), unless its logical part is spent. */
      kv_ts at = kv_ts_max(c->last, (kv_ts){c->hwm, 0});
      if (rc == KV_INVALID || at.logical == UINT32_MAX) {
        if (!errptr || !*errptr)
          kv_err(errptr, rc, "cannot persist the clock's mark");
        clock_unlock(c, held);
        return rc;
      }
      if (kv_mono_ns() >= c->retry_after)
        c->retry_after = kv_mono_ns() + KV_CLOCK_RETRY_NS;
      if (errptr) {
        free(*errptr);
        *errptr = NULL;
      }
      t = kv_ts_next(at);
    }
  }
  c->last = t;
  bool renew = !c->renewing && t.wall + KV_CLOCK_LEASE_NS / 2 > c->hwm &&
               kv_mono_ns() >= c->retry_after;
  if (renew) c->renewing = true;
  clock_unlock(c, held);
  *out = t;
  if (renew) {
    /* Half the lease is gone: the next mark, written outside the mutex.
    ** A failure is left to the now() that finds the lease exhausted. */
    uint64_t mark = t.wall + KV_CLOCK_LEASE_NS;
    int rc = clock_persist_mark(c, mark, NULL);
    held = clock_lock(c);
    if (rc == KV_OK && mark > c->hwm) c->hwm = mark;
    if (rc) c->retry_after = kv_mono_ns() + KV_CLOCK_RETRY_NS;
    c->renewing = false;
    clock_unlock(c, held);
  }
  return KV_OK;
}

void kv_clock_update(kv_clock *c, kv_ts t) {
  uint64_t held = clock_lock(c);
  /* t derives from handed-out timestamps plus logical steps, so its wall is
  ** covered by the mark already. */
  if (kv_ts_lt(c->last, t)) c->last = t;
  clock_unlock(c, held);
}

kv_ts kv_clock_peek(kv_clock *c) {
  uint64_t held = clock_lock(c);
  kv_ts t = c->last;
  clock_unlock(c, held);
  return t;
}
