/* Failed-attempt limits kept in PostgreSQL, so they hold across every instance of a service.
 *
 * Used where a guess must not be cheap: the customer's proof for a case (intake) and staff
 * sign-in (classification). Each failure is counted against two keys at once, a narrow one
 * (the case, or the staff id from this client) and a wide one (the client alone), in a table
 * of the calling service's schema shaped as
 *     (key text PRIMARY KEY, window_start timestamptz, failures int)
 * A key that reached its limit inside the fixed window is refused until the window ends; the
 * wait is what the caller returns as Retry-After. */
#ifndef CP_THROTTLE_H
#define CP_THROTTLE_H

#include <libpq-fe.h>

struct throttle {
	const char *table; /* a constant table name from the code, never from a request */
	long long window_s;
	long long max_narrow;
	long long max_wide;
};

/* Seconds until both keys may try again (0: now), or -1 when the database could not say
 * (the caller answers 503 rather than letting an unlimited guess through). */
__attribute__((warn_unused_result)) long
throttle_wait(PGconn *c, const struct throttle *t, const char *narrow_key, const char *wide_key);
/* Counts one failure against both keys; a window that has passed starts again at one.
 * Returns 0, or -1 when the failure could not be counted. */
__attribute__((warn_unused_result)) int
throttle_failed(PGconn *c, const struct throttle *t, const char *narrow_key, const char *wide_key);

#endif
