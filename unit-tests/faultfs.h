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

/* Counts calls on files under dir (absolute; NULL: none) from now on. */
void faultfs_watch(const char *dir);
/* Fails the n-th counted call from now and every later one with err. */
void faultfs_arm(long n, int err);
void faultfs_disarm(void);
/* Counted calls since the last faultfs_watch / faultfs_arm; failed ones. */
long faultfs_calls(void);
long faultfs_failed(void);

#endif
