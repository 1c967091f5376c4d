/*
** tstext.h — commit timestamps as text that sorts in commit order.
**
** A kvcore timestamp (wall nanoseconds since the Unix epoch, logical
** counter) is shown to SQL as a UTC date-time with nanoseconds,
**
**     2026-12-07 12:34:56.123456789              logical counter 0
**     2026-12-07 12:34:56.123456789.0000000002   logical counter 2
**
** Every field has a fixed width and the logical suffix is present only when
** it is not 0, so byte order of the texts is timestamp order ('.' sorts
** below every digit, and a text sorts below its own extensions).  SQLite's
** date functions read the first form (they ignore digits past the
** millisecond).  The range is kv_ts's: 1970-01-01 00:00:00 to
** 2554-07-21 23:34:33.709551615 (the wall clock is uint64 nanoseconds).
*/
#ifndef MVCC_TSTEXT_H
#define MVCC_TSTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "kvcore.h"

/* Longest text, with its terminating NUL. */
#define MVCC_TS_TEXT_MAX 41

/* Writes ts into buf (NUL-terminated); returns its length. */
size_t mvcc_ts_text(kv_ts ts, char buf[MVCC_TS_TEXT_MAX]);

/* Reads text of exactly the form above (n bytes, no NUL needed) into *out;
** false for anything else (out of range, other punctuation, a logical
** suffix of 0, trailing bytes). */
bool mvcc_ts_from_text(const char *s, size_t n, kv_ts *out);

#endif
