/*
 * dur.h — durations ("500ms", "30s", "2h") and RFC 3339 times, parsed and printed.
 *
 * Shared by the server and the CLI. All values are milliseconds; times are milliseconds since the
 * Unix epoch (UTC).
 */
#ifndef SL_DUR_H
#define SL_DUR_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* The longest duration accepted anywhere: 365 days. */
#define DUR_MAX_MS (365LL * 24 * 3600 * 1000)

/* Parses a duration of len bytes: digits followed by one of ms, s, m, h, d, or digits alone
 * (seconds). Stores milliseconds in *ms. Returns 0, or SL_EPARAM when the text is malformed,
 * empty, or longer than DUR_MAX_MS. */
int dur_parse(const char *s, size_t len, int64_t *ms);

/* Parses an RFC 3339 date-time ("2026-11-22T06:45:28Z", "...28.5+01:00") of len bytes into
 * milliseconds since the epoch. Returns 0 or SL_EPARAM. */
int dur_parse_time(const char *s, size_t len, int64_t *ms);

/* Writes ms since the epoch as "2026-11-22T06:45:28.123Z" into buf (at least DUR_TIME_LEN
 * bytes). Returns buf. */
#define DUR_TIME_LEN 64
char *dur_format_time(int64_t ms, char *buf);

/* Writes a duration in its largest exact unit ("90s", "5m", "500ms", "0s") into buf (at least
 * DUR_LEN bytes). Returns buf. */
#define DUR_LEN 24
char *dur_format(int64_t ms, char *buf);

/* Returns the wall-clock time in milliseconds since the epoch. */
int64_t dur_now_ms(void);

#endif
