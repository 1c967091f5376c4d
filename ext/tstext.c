/*
** tstext.c — commit timestamps as text that sorts in commit order (see
** tstext.h for the form).  The calendar work is libc's (gmtime_r, timegm);
** the parser is strict, so that a text read back is the text written.
*/
#include "tstext.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define TS_BASE_LEN 29 /* "YYYY-MM-DD HH:MM:SS.NNNNNNNNN" */
#define TS_LOGICAL_LEN 11 /* ".LLLLLLLLLL" */
#define TS_SECONDS_MAX 253402300799LL /* 9999-12-31 23:59:59 */

size_t mvcc_ts_text(kv_ts ts, char buf[MVCC_TS_TEXT_MAX]) {
  time_t secs = (time_t)(ts.wall / 1000000000u);
  if (secs > TS_SECONDS_MAX) secs = TS_SECONDS_MAX;
  struct tm tm;
  gmtime_r(&secs, &tm);
  int n = snprintf(buf, MVCC_TS_TEXT_MAX, "%04d-%02d-%02d %02d:%02d:%02d.%09u",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, (unsigned)(ts.wall % 1000000000u));
  if (ts.logical)
    n += snprintf(buf + n, MVCC_TS_TEXT_MAX - (size_t)n, ".%010u",
                  (unsigned)ts.logical);
  return (size_t)n;
}

/* The n digits at s as a number; false if any is not a digit. */
static bool ts_digits(const char *s, int n, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return true;
}

bool mvcc_ts_from_text(const char *s, size_t n, kv_ts *out) {
  if (n != TS_BASE_LEN && n != TS_BASE_LEN + TS_LOGICAL_LEN) return false;
  static const char punct[] = "dddd-dd-dd dd:dd:dd.ddddddddd";
  for (int i = 0; i < TS_BASE_LEN; i++)
    if (punct[i] != 'd' && s[i] != punct[i]) return false;
  uint64_t y, mo, d, h, mi, se, ns, lg = 0;
  if (!ts_digits(s, 4, &y) || !ts_digits(s + 5, 2, &mo) ||
      !ts_digits(s + 8, 2, &d) || !ts_digits(s + 11, 2, &h) ||
      !ts_digits(s + 14, 2, &mi) || !ts_digits(s + 17, 2, &se) ||
      !ts_digits(s + 20, 9, &ns))
    return false;
  if (n > TS_BASE_LEN &&
      (s[TS_BASE_LEN] != '.' || !ts_digits(s + TS_BASE_LEN + 1, 10, &lg) ||
       lg == 0 || lg > UINT32_MAX))
    return false;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      se > 59)
    return false;
  struct tm tm = {.tm_year = (int)y - 1900, .tm_mon = (int)mo - 1,
                  .tm_mday = (int)d, .tm_hour = (int)h, .tm_min = (int)mi,
                  .tm_sec = (int)se};
  time_t secs = timegm(&tm);
  /* timegm normalizes 02-31 into March: a day that does not exist fails */
  if (secs < 0 || tm.tm_mday != (int)d || tm.tm_mon != (int)mo - 1)
    return false;
  /* wall is uint64 nanoseconds, which end in 2554: a later date would wrap
  ** around to a time near 1970 */
  if ((uint64_t)secs > (UINT64_MAX - ns) / 1000000000u) return false;
  out->wall = (uint64_t)secs * 1000000000u + ns;
  out->logical = (uint32_t)lg;
  return true;
}
