/*
** faultfs.c — file calls that fail on demand (faultfs.h says how to use it).
**
** Each wrapper resolves the next definition once (dlsym RTLD_NEXT) and asks
** fault_hit() whether this call fails.  Descriptors are tracked in a table
** indexed by fd: set by an open of a watched path, cleared by close, so a
** reused number does not count.  Everything is atomic: RocksDB calls these
** from its background threads while the test thread arms and disarms.
*/
#include "faultfs.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FD 65536

static char watch_dir[4096];
static _Atomic size_t watch_len;
static _Atomic long armed_at, ncalls, nfailed;
static _Atomic int fail_errno;
static _Atomic int kinds_on = FAULTFS_ALL, fail_once;
static _Atomic unsigned char tracked[MAX_FD];

void faultfs_watch(const char *dir) {
  atomic_store(&watch_len, 0);
  if (dir) {
    strncpy(watch_dir, dir, sizeof watch_dir - 1);
    atomic_store(&watch_len, strlen(watch_dir));
  }
  atomic_store(&ncalls, 0);
  atomic_store(&nfailed, 0);
}

void faultfs_arm(long n, int err) {
  atomic_store(&fail_errno, err);
  atomic_store(&ncalls, 0);
  atomic_store(&nfailed, 0);
  atomic_store(&armed_at, n);
}

void faultfs_disarm(void) { atomic_store(&armed_at, 0); }

void faultfs_only(int kinds, int once) {
  atomic_store(&kinds_on, kinds);
  atomic_store(&fail_once, once);
}
long faultfs_calls(void) { return atomic_load(&ncalls); }
long faultfs_failed(void) { return atomic_load(&nfailed); }

static bool watched_path(const char *p) {
  size_t n = atomic_load(&watch_len);
  return n && p && !strncmp(p, watch_dir, n) && (p[n] == '/' || !p[n]);
}

static bool watched_fd(int fd) {
  return fd >= 0 && fd < MAX_FD && atomic_load(&tracked[fd]);
}

/* A directory descriptor opened elsewhere (opendir): by its path. */
static bool dir_watched(int dirfd) {
  if (watched_fd(dirfd)) return true;
  if (dirfd == AT_FDCWD || !atomic_load(&watch_len)) return false;
  char link[64], p[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
  ssize_t n = readlink(link, p, sizeof p - 1);
  if (n <= 0) return false;
  p[n] = 0;
  return watched_path(p);
}

static void track(int fd, bool on) {
  if (fd >= 0 && fd < MAX_FD) atomic_store(&tracked[fd], on);
}

/* Counts a watched call of kind; true (errno set) when it is to fail. */
static bool fault_hit(bool watched, int kind) {
  if (!watched || !(atomic_load(&kinds_on) & kind)) return false;
  long c = atomic_fetch_add(&ncalls, 1) + 1;
  long at = atomic_load(&armed_at);
  if (at <= 0 || c < at || (atomic_load(&fail_once) && c != at)) return false;
  atomic_fetch_add(&nfailed, 1);
  errno = atomic_load(&fail_errno);
  return true;
}

/* next: the definition this one replaces, found once.  Atomic, though
** every thread stores the same pointer: TSan's symbolizer calls close()
** while it reports, and a race reported from inside a report deadlocks. */
#define NEXT(name, ret, args)                                             \
  static ret(*_Atomic next_) args;                                        \
  ret(*next) args = atomic_load(&next_);                                  \
  if (!next) {                                                            \
    next = (ret(*) args)dlsym(RTLD_NEXT, name);                           \
    atomic_store(&next_, next);                                           \
  }

ssize_t write(int fd, const void *buf, size_t n) {
  NEXT("write", ssize_t, (int, const void *, size_t));
  if (fault_hit(watched_fd(fd), FAULTFS_WRITE)) return -1;
  return next(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  NEXT("pwrite", ssize_t, (int, const void *, size_t, off_t));
  if (fault_hit(watched_fd(fd), FAULTFS_WRITE)) return -1;
  return next(fd, buf, n, off);
}

int fsync(int fd) {
  NEXT("fsync", int, (int));
  if (fault_hit(watched_fd(fd), FAULTFS_SYNC)) return -1;
  return next(fd);
}

int fdatasync(int fd) {
  NEXT("fdatasync", int, (int));
  if (fault_hit(watched_fd(fd), FAULTFS_SYNC)) return -1;
  return next(fd);
}

int rename(const char *from, const char *to) {
  NEXT("rename", int, (const char *, const char *));
  if (fault_hit(watched_path(from) || watched_path(to), FAULTFS_OPEN))
    return -1;
  return next(from, to);
}

int open(const char *path, int flags, ...) {
  NEXT("open", int, (const char *, int, ...));
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  bool w = watched_path(path);
  if (fault_hit(w, FAULTFS_OPEN)) return -1;
  int fd = next(path, flags, mode);
  if (fd >= 0) track(fd, w);
  return fd;
}

int openat(int dirfd, const char *path, int flags, ...) {
  NEXT("openat", int, (int, const char *, int, ...));
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  bool w = path[0] == '/' ? watched_path(path) : dir_watched(dirfd);
  if (fault_hit(w, FAULTFS_OPEN)) return -1;
  int fd = next(dirfd, path, flags, mode);
  if (fd >= 0) track(fd, w);
  return fd;
}

int close(int fd) {
  NEXT("close", int, (int));
  track(fd, false);
  return next(fd);
}
