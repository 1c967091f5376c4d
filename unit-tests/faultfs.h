/*
** faultfs.h — fault injection into the file calls of the process (faultfs.c).
**
** faultfs.c defines write, pwrite, fsync, fdatasync, rename, open, openat
** and close.  Linked into a test program, its definitions take the place of
** libc's for the whole process, RocksDB's shared library included (the
** executable comes first in ELF symbol lookup, as an LD_PRELOAD library
** would); each forwards to the next definition (libc's, or a sanitizer's).
** Only calls on files under one directory count: paths given to open,
** openat and rename, and descriptors those opens returned.
**
** Armed with n > 0, the n-th counted call and every counted call after it
** fail with err, without touching the file (a disk that stays full or
** broken), until faultfs_disarm().  Calls are counted whether armed or not
** (faultfs_calls), so a test can measure a clean run first and sweep n
** over it.
*/
#ifndef FAULTFS_H
#define FAULTFS_H

/* Kinds of call, for faultfs_only(). */
enum {
  FAULTFS_WRITE = 1, /* write, pwrite */
  FAULTFS_SYNC = 2,  /* fsync, fdatasync */
  FAULTFS_OPEN = 4,  /* open, openat, rename */
  FAULTFS_ALL = 7
};

/* Counts calls on files under dir (absolute; NULL: none) from now on. */
void faultfs_watch(const char *dir);
/* Fails the n-th counted call from now and every later one with err. */
void faultfs_arm(long n, int err);
void faultfs_disarm(void);
/* From now on count (and fail) only calls of these kinds (FAULTFS_ALL by
** default), and fail only one call when once is set (a transient fault)
** instead of every call from the n-th on.  Kept until changed. */
void faultfs_only(int kinds, int once);
/* Counted calls since the last faultfs_watch / faultfs_arm; failed ones. */
long faultfs_calls(void);
long faultfs_failed(void);

#endif
