/* The timer service: SLA clocks in PostgreSQL, warning, breach and clock snapshot events,
 * escalation.
 *
 *   sla.c          the pure rules (plan, one clock's transitions, ladder, reactions)
 *   calendar.c     the pure working-calendar arithmetic (hours, holidays, make-up days)
 *   calendar_db.c  loads working calendars (operator data) for one operation
 *   clocks.c       the clock rows of one complaint, changed inside the caller's transaction,
 *                  each change announced as cp.complaint.clock_changed
 *   handlers.c     the events the timer consumes, mapped onto clocks.c
 *   fire.c         the periodic tasks: due warnings and breaches, the running-clocks gauge
 *   api.c          GET /v1/complaints/{id_or_no}/clocks */
#ifndef CP_TIMER_H
#define CP_TIMER_H

#include <libpq-fe.h>
#include <stdint.h>

#include "calendar.h"
#include "consumer.h"
#include "httpd.h"
#include "sla.h"

struct timer_config {
	long long first_response_s;
	long long accept_s;
	long long whole_cycle_s;
	long long warn_pct;
	long long tick_ms;
	long long batch;
	long long gauge_ms;
};
extern struct timer_config timer_cfg;

/* ---- calendar_db.c ---- */

/* The calendars one operation has loaded, by name (a handful at most: a clock's old and new
 * calendar). Zero-initialise; timer_calendars_release frees what was loaded. */
#define TIMER_CALENDARS_MAX 4
struct timer_calendars {
	struct {
		char name[64];
		bool usable; /* found and has working time */
		struct calendar cal;
		struct cal_day *days;
	} e[TIMER_CALENDARS_MAX];
	int n;
};

/* *out: the calendar called name, or NULL for calendar time (name empty, unknown, or without
 * any working time; an unknown name is logged). Returns 0, or -1 on a database error. The
 * calendar stays valid until timer_calendars_release. */
int timer_calendars_get(PGconn *c, struct timer_calendars *cs, const char *name,
			const struct calendar **out) __attribute__((warn_unused_result));
void timer_calendars_release(struct timer_calendars *cs);

/* ---- clocks.c: every function runs inside the caller's transaction; 0 or -1 (the caller
 * rolls back). Every clock a function changes is announced on complaint.sla.v1 as
 * cp.complaint.clock_changed in the same transaction. ---- */

/* The complaint was received at received_ms: the receipt clocks run from then. */
int clocks_received(PGconn *c, const char *complaint_id, const char *complaint_no,
		    int64_t received_ms) __attribute__((warn_unused_result));

/* The complaint's policy: durations in sla_clock_names order (next_update's is ignored: each
 * promise sets it), the pausable clocks, the clocks on working time and their calendar, and
 * when it was classified (the receipt clocks start there until the receipt is known; a later
 * classification re-plans the open clocks from there, keeping the time already used). */
struct clocks_policy {
	const char *name;
	int64_t classified_ms;
	int64_t duration_s[SLA_NCLOCKS];
	char **pausable;
	size_t npausable;
	char **working;
	size_t nworking;
	const char *calendar;
};
int clocks_policy(PGconn *c, const char *complaint_id, const char *complaint_no,
		  const struct clocks_policy *p) __attribute__((warn_unused_result));

/* One complaint's event in a set: its receipt (at_ms) or its policy. */
struct clocks_event {
	const char *complaint_id;
	const char *complaint_no;
	int64_t at_ms;
	const struct clocks_policy *policy;
};

/* clocks_received and clocks_policy for n events of n DISTINCT complaints, with a constant
 * number of statements (the case upsert, the cases, stops and clocks loaded, the changed
 * clocks written); the same rows and snapshots as the one-event functions called in order. */
int clocks_received_set(PGconn *c, const struct clocks_event *ev, size_t n)
    __attribute__((warn_unused_result));
int clocks_policy_set(PGconn *c, const struct clocks_event *ev, size_t n)
    __attribute__((warn_unused_result));

/* The case's owner after an assignment ("" while nobody owns it). */
int clocks_owner(PGconn *c, const char *complaint_id, const char *complaint_no, const char *owner)
    __attribute__((warn_unused_result));

/* The case was offered at at_ms: the accept clock starts at the first offer, and again at an
 * offer after an accepted case lost its owner. */
int clocks_offered(PGconn *c, const char *complaint_id, const char *complaint_no, int64_t at_ms)
    __attribute__((warn_unused_result));

/* Stops clock (every clock when NULL), recording the stop for clocks not created yet. */
int clocks_stop(PGconn *c, const char *complaint_id, const char *clock, const char *by,
		int64_t at_ms) __attribute__((warn_unused_result));

/* A promise made at at_ms to update the customer by due_ms arms the next_update clock (a
 * later stop or promise already seen wins; a closed case takes no promise). */
int clocks_promise(PGconn *c, const char *complaint_id, const char *complaint_no, int64_t at_ms,
		   int64_t due_ms) __attribute__((warn_unused_result));

/* The case waits on the customer from at_ms: the pausable clocks pause. */
int clocks_pause(PGconn *c, const char *complaint_id, const char *complaint_no, int64_t at_ms)
    __attribute__((warn_unused_result));
/* The customer replied at at_ms: paused clocks run again, their due times moved. */
int clocks_resume(PGconn *c, const char *complaint_id, int64_t at_ms)
    __attribute__((warn_unused_result));
/* The case was reopened at at_ms: the resolution clock restarts one escalation level up. */
int clocks_reopen(PGconn *c, const char *complaint_id, int64_t at_ms)
    __attribute__((warn_unused_result));

/* Fires up to limit due clocks (running, due_at passed) as one set: one claim (FOR UPDATE SKIP
 * LOCKED), one UPDATE of their rows, one INSERT of their events. Each clock missed its
 * deadline: it escalates one level and is re-armed on its own calendar, or exhausted at HQ;
 * its breach event precedes its snapshot on the topic. Adds the breaches per
 * clock to breaches. Returns the number of clocks claimed or -1. */
int clocks_breach_due(PGconn *c, int limit, int breaches[SLA_NCLOCKS])
    __attribute__((warn_unused_result));

/* ---- fire.c ---- */

/* Periodic task: fires due warnings and breaches. Returns 1 when a full batch fired (run
 * again at once) or after sleeping until the next clock falls due within the tick, 0
 * otherwise, -1 on a database error. */
int timer_fire_due(PGconn *c, void *arg);
/* Periodic task: a second firing transaction while timer_fire_due finds full batches (a
 * storm); does nothing otherwise. Same returns. */
int timer_fire_spare(PGconn *c, void *arg);
/* Periodic task: sets the running/paused clocks gauges. */
int timer_gauge(PGconn *c, void *arg);

/* ---- handlers.c ---- */
extern const struct consumer_handler timer_handlers[];
extern const struct consumer_set_handler timer_set_handlers[];
extern const size_t timer_nset_handlers;
extern const size_t timer_nhandlers;

/* ---- api.c ---- */
void timer_get_clocks(struct http_req *r, void *arg);

/* calendars_api.c: the working calendars as operator data (GET supervisors, PUT admins). */
void timer_calendars_list(struct http_req *r, void *arg);
void timer_calendar_put(struct http_req *r, void *arg);
/* 1-40 of a-z, 0-9, '-', '_'. Pure. */
bool timer_calendar_name_valid(const char *s);
/* A real date written YYYY-MM-DD (2026-02-30 is not). Pure. */
bool timer_calendar_day_valid(const char *s);
/* Every problem of a PUT /v1/calendars/{name} body appended to errors ({"field","problem"},
 * fields such as "hours[2].end_min"). Pure. */
void timer_calendar_check(const char *name, const json_t *body, json_t *errors);

#endif
