/* Jittered exponential back-off for reconnects and retries.
 *
 * "Decorrelated jitter" (AWS architecture blog, Brooker 2015): each delay is drawn uniformly
 * from [base, 3 * previous delay] and capped, so processes that failed at the same instant
 * (a database restart seen by six services) spread their retries instead of reconnecting in
 * lock-step. Every delay lies in [base_ms, cap_ms]. One struct backoff per retrying loop; it
 * is not thread-safe. */
#ifndef CP_BACKOFF_H
#define CP_BACKOFF_H

#include <stdint.h>

struct backoff {
	int base_ms;
	int cap_ms;
	int prev_ms;
	uint64_t rng;
};

/* base_ms >= 1 and cap_ms >= base_ms (both are clamped to that). The random state is seeded
 * from the clock, the pid and the struct's address, so two loops never share a sequence. */
void backoff_init(struct backoff *b, int base_ms, int cap_ms);
/* The next delay in milliseconds, in [base_ms, cap_ms]; grows until backoff_reset. */
int backoff_next_ms(struct backoff *b);
/* After a success: the next failure starts again near base_ms. */
void backoff_reset(struct backoff *b);
/* Sleeps backoff_next_ms(b) on the calling (worker) thread. Never call on an event loop. */
void backoff_sleep(struct backoff *b);

#endif
