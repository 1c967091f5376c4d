/*
** ticker.c — a background thread that runs a function periodically until
** it is stopped: the GC thread (gc.c) and the closed-timestamp closer
** (closedts.c).
**
** The thread sleeps on a condition variable (CLOCK_MONOTONIC), so stopping
** it wakes and joins it at once.  The period is asked afresh before every
** wait; kv_ticker_wake makes it wait again from now with the period as it
** is then (a new GC interval), and is never a tick itself: a wait that
** ends early, by a wake or spuriously, only starts another wait.  The
** mutex guards the stop flag and the waits, and is never held during a
** tick.
*/
#include "kvint.h"

#include <time.h>

static void *ticker_main(void *arg) {
  kv_ticker *t = arg;
  pthread_mutex_lock(&t->mu);
  while (!t->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + t->period_ns(t->arg);
    ts.tv_sec += (time_t)(ns / 1000000000ULL);
    ts.tv_nsec = (long)(ns % 1000000000ULL);
    int r = pthread_cond_timedwait(&t->cv, &t->mu, &ts);
    if (t->stop) break;
    if (r == 0) continue; /* woken before its time: wait again */
    pthread_mutex_unlock(&t->mu);
    t->tick(t->arg);
    pthread_mutex_lock(&t->mu);
  }
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

bool kv_ticker_start(kv_ticker *t, uint64_t (*period_ns)(void *),
                     void (*tick)(void *), void *arg) {
  t->period_ns = period_ns;
  t->tick = tick;
  t->arg = arg;
  t->stop = false;
  pthread_mutex_init(&t->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&t->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (pthread_create(&t->th, NULL, ticker_main, t)) {
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    return false;
  }
  t->running = true;
  return true;
}

void kv_ticker_wake(kv_ticker *t) {
  if (!t->running) return;
  pthread_mutex_lock(&t->mu);
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

void kv_ticker_stop(kv_ticker *t) {
  if (!t->running) return;
  pthread_mutex_lock(&t->mu);
  t->stop = true;
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
  pthread_join(t->th, NULL);
  pthread_cond_destroy(&t->cv);
  pthread_mutex_destroy(&t->mu);
  t->running = false;
}
