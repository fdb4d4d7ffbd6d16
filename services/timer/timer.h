/* The timer service: SLA clocks in PostgreSQL, warning and breach events, escalation.
 *
 *   sla.c       the pure rules (plan, schedule, pause/resume arithmetic, ladder, reactions)
 *   clocks.c    the clock rows of one complaint, changed inside the caller's transaction
 *   handlers.c  the events the timer consumes, mapped onto clocks.c
 *   fire.c      the periodic tasks: due warnings and breaches, the running-clocks gauge
 *   api.c       GET /v1/complaints/{id_or_no}/clocks */
#ifndef CP_TIMER_H
#define CP_TIMER_H

#include <libpq-fe.h>
#include <stdint.h>

#include "consumer.h"
#include "httpd.h"

struct timer_config {
	long long first_response_s;
	long long warn_pct;
	long long tick_ms;
	long long batch;
	long long gauge_ms;
};
extern struct timer_config timer_cfg;

/* ---- clocks.c: every function runs inside the caller's transaction; 0 or -1 ---- */

/* The complaint was received at received_ms: clocks run from then. */
int clocks_received(PGconn *c, const char *complaint_id, const char *complaint_no,
		    int64_t received_ms) __attribute__((warn_unused_result));

/* The complaint's policy: durations in sla_clock_names order, the pausable clock names, and
 * when it was classified (the clocks start there until the receipt is known). */
struct clocks_policy {
	const char *name;
	int64_t classified_ms;
	int64_t duration_s[4];
	char **pausable;
	size_t npausable;
};
int clocks_policy(PGconn *c, const char *complaint_id, const char *complaint_no,
		  const struct clocks_policy *p) __attribute__((warn_unused_result));

/* Stops clock (every clock when NULL), recording the stop for clocks not created yet. */
int clocks_stop(PGconn *c, const char *complaint_id, const char *clock, const char *by,
		int64_t at_ms) __attribute__((warn_unused_result));
/* The case waits on the customer from at_ms: the pausable clocks pause. */
int clocks_pause(PGconn *c, const char *complaint_id, const char *complaint_no, int64_t at_ms)
    __attribute__((warn_unused_result));
/* The customer replied at at_ms: paused clocks run again, their due times moved. */
int clocks_resume(PGconn *c, const char *complaint_id, int64_t at_ms)
    __attribute__((warn_unused_result));
/* The case was reopened at at_ms: the resolution clock restarts one escalation level up. */
int clocks_reopen(PGconn *c, const char *complaint_id, int64_t at_ms)
    __attribute__((warn_unused_result));

/* ---- fire.c ---- */

/* Periodic task: fires due warnings and breaches. Returns 1 when a full batch fired (run
 * again at once), 0 otherwise, -1 on a database error. */
int timer_fire_due(PGconn *c, void *arg);
/* Periodic task: sets the running/paused clocks gauges. */
int timer_gauge(PGconn *c, void *arg);

/* ---- handlers.c ---- */
extern const struct consumer_handler timer_handlers[];
extern const size_t timer_nhandlers;

/* ---- api.c ---- */
void timer_get_clocks(struct http_req *r, void *arg);

#endif
