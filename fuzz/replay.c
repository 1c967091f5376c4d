/*
** replay.c — a main() for the harnesses without libFuzzer: runs each file
** named on the command line (a directory: each file in it, in name order)
** through LLVMFuzzerTestOneInput once.  `make test` replays the corpus
** with it, so the properties the fuzzers found hold are checked on every
** build, with gcc or clang, with or without libFuzzer's runtime.
**
** Prints "<harness>: N inputs" and exits 0, or 1 if a file cannot be read
** (a broken property aborts, with the harness's message).
*/
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  int bad = ferror(f) || !buf;
  fclose(f);
  if (bad) {
    fprintf(stderr, "%s: cannot read\n", path);
    free(buf);
    return -1;
  }
  /* An exact-size copy, so ASan sees a read past the input's end. */
  uint8_t *exact = malloc(n ? n : 1);
  if (!exact) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  int count = 0, failed = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      failed = 1;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i])) failed = 1;
      else count++;
      continue;
    }
    struct dirent **names;
    int k = scandir(argv[i], &names, NULL, by_name);
    if (k < 0) {
      perror(argv[i]);
      failed = 1;
      continue;
    }
    for (int j = 0; j < k; j++) {
      if (names[j]->d_name[0] != '.') {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[i], names[j]->d_name);
        if (run_file(path)) failed = 1;
        else count++;
      }
      free(names[j]);
    }
    free(names);
  }
  const char *me = strrchr(argv[0], '/');
  printf("%s: %d inputs replayed\n", me ? me + 1 : argv[0], count);
  return failed;
}
