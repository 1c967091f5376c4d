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
** high-water mark (hwm).  When the wall time passes it, the clock first
** persists a new mark KV_CLOCK_LEASE_NS ahead (a synchronous write, about
** once per lease) and only then hands the time out.  A restarted clock starts
** at the persisted mark, so it never goes back even if the machine's clock
** was set back while the store was closed.
**
** The mutex is store-wide and on every transaction's path (now() at begin,
** update() at commit): the time it is held is counted in held_ns
** (kv_stats.serial_mutex_ns).
**
** update(t) records a timestamp made elsewhere (a commit timestamp pushed
** above the clock by logical increments) so that transactions that begin
** afterwards read above it: this is what makes a commit that returned
** visible to every transaction that begins after it.
*/
#include "kvint.h"

#include <string.h>
#include <time.h>

/* How far ahead of the wall time the persisted mark is set: one synchronous
** metadata write per lease. */
#define KV_CLOCK_LEASE_NS (2ULL * 1000000000ULL)

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
  c->wall = wall ? wall : clock_realtime;
  c->wall_ctx = wall_ctx;
  c->persist = persist;
  c->persist_ctx = pctx;
  c->hwm = hwm;
  /* Everything handed out before the restart is below (hwm + 1, 0). */
  c->last = (kv_ts){hwm + 1, 0};
  return KV_OK;
}

void kv_clock_destroy(kv_clock *c) { pthread_mutex_destroy(&c->mu); }

/* Persists a mark covering wall; caller holds c->mu. */
static int clock_extend(kv_clock *c, uint64_t wall, char **errptr) {
  uint64_t mark = wall + KV_CLOCK_LEASE_NS;
  if (c->persist) {
    int rc = c->persist(c->persist_ctx, mark, errptr);
    if (rc) return rc;
  }
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
    int rc = clock_extend(c, t.wall, errptr);
    if (rc) {
      clock_unlock(c, held);
      return rc;
    }
  }
  c->last = t;
  clock_unlock(c, held);
  *out = t;
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
