/*
** fuzz.h — what the libFuzzer harnesses in fuzz/ share.
**
** Each harness defines LLVMFuzzerTestOneInput (and may define
** LLVMFuzzerInitialize).  Built with -fsanitize=fuzzer it is a libFuzzer
** program (`make fuzz`); linked with replay.c instead it runs the inputs
** it is given, files or directories, once each (`make test` replays
** fuzz/corpus/<name>/ that way, with any compiler).
**
** A broken property is a crash: FUZZ_CHECK prints what failed and aborts,
** which libFuzzer reports with the input that caused it.
*/
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                            \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__,          \
              __LINE__, #cond);                                          \
      fprintf(stderr, __VA_ARGS__);                                      \
      fputc('\n', stderr);                                               \
      abort();                                                           \
    }                                                                    \
  } while (0)

/* Structured input: the fuzzer's bytes read front to back; past the end
** every read yields zeros, so any input is a valid program. */
typedef struct fuzz_in {
  const uint8_t *p;
  size_t n;
} fuzz_in;

static inline uint8_t fuzz_u8(fuzz_in *in) {
  if (!in->n) return 0;
  in->n--;
  return *in->p++;
}

static inline uint64_t fuzz_u64(fuzz_in *in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | fuzz_u8(in);
  return v;
}

/* Up to max bytes (the count is the next byte): *len and a pointer into
** the input. */
static inline const uint8_t *fuzz_bytes(fuzz_in *in, size_t max,
                                        size_t *len) {
  size_t want = fuzz_u8(in);
  if (want > max) want = max;
  if (want > in->n) want = in->n;
  const uint8_t *p = in->p;
  in->p += want;
  in->n -= want;
  *len = want;
  return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
