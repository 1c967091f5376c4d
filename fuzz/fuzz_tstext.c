/*
** fuzz_tstext.c — libFuzzer harness for commit timestamps as text
** (ext/tstext.c).
**
** The first byte chooses the mode:
**   even: the rest is text given to mvcc_ts_from_text() (as
**         mvcc_as_of('...') passes it): it must not read past it, and text
**         it accepts must be exactly what mvcc_ts_text() writes for the
**         timestamp it read (the parser is strict, so text read back is the
**         text written);
**   odd:  the next 12 bytes are a timestamp (wall nanoseconds, logical)
**         and the 12 after another: each writes to text that reads back to itself, and the
**         two texts' byte order is the timestamps' order.
*/
#include <string.h>

#include "fuzz.h"
#include "tstext.h"

static int ts_cmp(kv_ts a, kv_ts b) {
  if (a.wall != b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.logical != b.logical) return a.logical < b.logical ? -1 : 1;
  return 0;
}

static kv_ts read_ts(fuzz_in *in) {
  kv_ts t;
  t.wall = fuzz_u64(in);
  t.logical = (uint32_t)(fuzz_u64(in) >> 32);
  return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  if (!(data[0] & 1)) {
    kv_ts t;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (!mvcc_ts_from_text(s, n, &t)) return 0;
    char buf[MVCC_TS_TEXT_MAX];
    size_t len = mvcc_ts_text(t, buf);
    FUZZ_CHECK(len == n && !memcmp(buf, s, n),
               "'%.*s' read as a timestamp that is written '%s'", (int)n, s,
               buf);
    return 0;
  }
  fuzz_in in = {data + 1, size - 1};
  kv_ts a = read_ts(&in), b = read_ts(&in);
  char ta[MVCC_TS_TEXT_MAX], tb[MVCC_TS_TEXT_MAX];
  size_t na = mvcc_ts_text(a, ta), nb = mvcc_ts_text(b, tb);
  FUZZ_CHECK(na < MVCC_TS_TEXT_MAX && ta[na] == 0, "length %zu", na);
  kv_ts back;
  FUZZ_CHECK(mvcc_ts_from_text(ta, na, &back) && ts_cmp(a, back) == 0,
             "'%s' does not read back", ta);
  int c = strcmp(ta, tb);
  c = (c > 0) - (c < 0);
  FUZZ_CHECK(c == ts_cmp(a, b), "'%s' vs '%s': text order %d", ta, tb, c);
  (void)nb;
  return 0;
}
