/* The pure rules of SLA clocks: which clocks a policy runs, their due and warning times, what
 * pausing and resuming does to them, which event stops which clock, and the escalation ladder.
 * No I/O: times are milliseconds since the epoch, durations seconds. */
#ifndef CP_TIMER_SLA_H
#define CP_TIMER_SLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLA_NCLOCKS   4
#define SLA_MAX_LEVEL 3 /* 0 agent, 1 outlet manager, 2 regional supervisor, 3 HQ */

/* The clock names in their fixed order: first_response, verification, resolution,
 * regulatory. */
extern const char *const sla_clock_names[SLA_NCLOCKS];

/* Index of a clock name in sla_clock_names, -1 when unknown. */
int sla_clock_index(const char *name);

/* agent, outlet_manager, regional_supervisor, hq; levels outside 0..3 are clamped. */
const char *sla_level_name(int level);

/* What a breach at `level` does: the clock escalates one level; past HQ there is no one left,
 * the clock is exhausted and not re-armed. */
struct sla_escalation {
	int level;	/* the level the breach escalates to (announced in the event) */
	bool exhausted; /* true: no re-arm, the clock stays breached */
};
struct sla_escalation sla_escalate(int level);

/* The level a reopened case's resolution clock restarts at: one up, at most HQ. */
int sla_reopen_level(int level);

/* The times of one running clock. */
struct sla_times {
	int64_t due_ms;
	int64_t warn_ms;
};

/* A clock started at start_ms for duration_s, with paused_ms of pauses behind it, warns at
 * warn_pct percent of its time (the pauses are added to both). */
struct sla_times sla_schedule(int64_t start_ms, int64_t duration_s, int64_t paused_ms,
			      int warn_pct);

/* Resuming a clock paused at paused_at_ms, at resumed_at_ms: due and warning times move by
 * the paused time, which is returned in *paused_ms (never negative: a resume stamped before
 * the pause moves nothing). */
struct sla_times sla_resume(struct sla_times t, int64_t paused_at_ms, int64_t resumed_at_ms,
			    int64_t *paused_ms);

/* Whether waiting on the customer pauses clock under a policy's pausable list. The
 * regulatory clock never pauses, whatever the policy says. */
bool sla_pausable(const char *clock, const char *const *pausable, size_t n);

/* The policy of a complaint as far as the timer knows it. */
struct sla_policy {
	bool classified;		 /* false: only the default first-response clock runs */
	int64_t duration_s[SLA_NCLOCKS]; /* in sla_clock_names order; <= 0: the policy has no such
					    clock */
	int64_t default_first_response_s;
};

/* Which clocks run and for how long: fills duration_s[i] (0 = the clock does not run) and
 * returns how many run. */
int sla_plan(const struct sla_policy *p, int64_t duration_s[SLA_NCLOCKS]);

/* What an event does to the clocks. */
enum sla_action {
	SLA_NONE,
	SLA_STOP,   /* stop the named clock (or every clock when clock is NULL) */
	SLA_PAUSE,  /* pause the pausable clocks */
	SLA_RESUME, /* resume the paused clocks */
	SLA_REOPEN, /* restart the resolution clock one level up */
};
struct sla_reaction {
	enum sla_action action;
	const char *clock; /* for SLA_STOP: the clock, NULL for all */
};

/* The reaction to an event of type ce_type (cp.complaint.*). `detail` is the assignment's
 * action for cp.complaint.assigned (only "accepted" stops the first-response clock); may be
 * NULL otherwise. */
struct sla_reaction sla_react(const char *ce_type, const char *detail);

#endif
