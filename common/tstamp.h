/* Time stamps: RFC 3339 text in events and APIs, milliseconds since the epoch inside. */
#ifndef CP_TSTAMP_H
#define CP_TSTAMP_H

#include <stdint.h>

#define TSTAMP_LEN 32

int64_t tstamp_now_ms(void);
/* Monotonic clock in seconds, for measuring durations. */
double tstamp_mono(void);
/* Formats ms since the epoch as 2026-11-24T12:00:00.123Z. */
void tstamp_format(int64_t ms, char out[TSTAMP_LEN]);
/* Parses RFC 3339 (Z or +hh:mm offset, optional fraction). Returns 0 or -1. */
int tstamp_parse(const char *s, int64_t *ms) __attribute__((warn_unused_result));

#endif
