/*
** dirusage.h — what a store directory (or a backup of one) takes on disk:
** the bytes of its regular files, how many table files (.sst) it has, and
** how many of those are hard links shared with another directory.  Used by
** the backup tests (unit-tests/test_checkpoint.c, sql-tests/test_backup.c)
** to report sizes and whether the checkpoint linked or copied.
*/
#ifndef DIRUSAGE_H
#define DIRUSAGE_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Returns 0, or -1 when dir cannot be read. */
static inline int dir_usage(const char *dir, long long *bytes, int *tables,
                            int *linked) {
  *bytes = 0;
  *tables = *linked = 0;
  DIR *d = opendir(dir);
  if (!d) return -1;
  struct dirent *de;
  while ((de = readdir(d))) {
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    if (de->d_name[0] == '.' || stat(p, &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    *bytes += st.st_size;
    if (strstr(de->d_name, ".sst")) {
      (*tables)++;
      if (st.st_nlink > 1) (*linked)++;
    }
  }
  closedir(d);
  return 0;
}

#endif
