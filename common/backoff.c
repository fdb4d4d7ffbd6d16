#include "backoff.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* splitmix64: a tiny, well-mixed generator; the delays need spread, not secrecy. */
static uint64_t backoff_rand(struct backoff *b)
{
	uint64_t z = (b->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void backoff_init(struct backoff *b, int base_ms, int cap_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	b->base_ms = base_ms < 1 ? 1 : base_ms;
	b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
	b->prev_ms = b->base_ms;
	b->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40) ^
		 (uint64_t)(uintptr_t)b;
}

int backoff_next_ms(struct backoff *b)
{
	int64_t hi = (int64_t)b->prev_ms * 3;
	if (hi > b->cap_ms)
		hi = b->cap_ms;
	int64_t span = hi - b->base_ms + 1;
	int64_t ms = b->base_ms + (int64_t)(backoff_rand(b) % (uint64_t)span);
	b->prev_ms = (int)ms;
	return (int)ms;
}

void backoff_reset(struct backoff *b)
{
	b->prev_ms = b->base_ms;
}

void backoff_sleep(struct backoff *b)
{
	int ms = backoff_next_ms(b);
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}
