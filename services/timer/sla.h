/* The pure rules of SLA clocks: which clocks a policy runs and on which time (calendar or
 * working), what starting, pausing, resuming, stopping, breaching and re-planning do to a
 * clock, which event does what, and the escalation ladder. No I/O: times are milliseconds
 * since the epoch, durations seconds.
 *
 * A clock counts time in segments: used_ms is the time counted before counted_from_ms, the
 * start of the open segment. A running clock is due when its level's remaining time has been
 * counted from counted_from_ms on (on the working calendar when it has one). A pause closes
 * the segment; a resume opens a new one; a breach closes it and starts the next level's
 * budget; a new policy closes it under the old calendar and plans the rest under the new one,
 * so the time already used and paused is kept. */
#ifndef CP_TIMER_SLA_H
#define CP_TIMER_SLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"

#define SLA_MAX_LEVEL 3 /* 0 agent, 1 outlet manager, 2 regional supervisor, 3 HQ */

/* The clocks in their fixed order (the order the API lists them in). */
enum sla_clock_id {
	SLA_ACCEPT,	    /* first offer -> accepted */
	SLA_FIRST_RESPONSE, /* receipt -> the first real contact by a person */
	SLA_VERIFICATION,   /* receipt -> responsibility confirmed by a person */
	SLA_RESOLUTION,	    /* receipt -> the plan executed */
	SLA_WHOLE_CYCLE,    /* receipt -> closed */
	SLA_NEXT_UPDATE,    /* a promised update time; armed by each promise */
	SLA_REGULATORY,	    /* receipt -> closed, calendar days, never pauses */
	SLA_NCLOCKS
};
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
 * warn_pct percent of its time (the pauses are added to both). Calendar time only. */
struct sla_times sla_schedule(int64_t start_ms, int64_t duration_s, int64_t paused_ms,
			      int warn_pct);

/* Whether waiting on the customer pauses clock under a policy's pausable list. The
 * regulatory clock never pauses, whatever the policy says. */
bool sla_pausable(const char *clock, const char *const *pausable, size_t n);

/* Whether clock runs on the policy's working calendar. The regulatory clock counts calendar
 * days and a promised update is due at the promised instant, whatever the policy says. */
bool sla_on_working_time(const char *clock, const char *const *working, size_t n);

/* The policy of a complaint as far as the timer knows it. */
struct sla_policy {
	bool classified;		  /* false: only the defaults run */
	int64_t duration_s[SLA_NCLOCKS];  /* <= 0: the policy has no such clock */
	int64_t default_first_response_s; /* the defaults, before the classification */
	int64_t default_accept_s;
	int64_t default_whole_cycle_s;
};

/* Which clocks the policy runs and for how long: fills duration_s[i] (0 = not run) and returns
 * how many run. next_update is never planned: promises arm it. */
int sla_plan(const struct sla_policy *p, int64_t duration_s[SLA_NCLOCKS]);

/* ---- one clock ---- */

enum sla_state { SLA_RUNNING, SLA_PAUSED, SLA_STOPPED, SLA_EXHAUSTED };

/* "running", "paused", "stopped", "exhausted"; sla_state_of returns -1 for an unknown name. */
const char *sla_state_name(enum sla_state s);
int sla_state_of(const char *name);

struct sla_clock {
	enum sla_state state;
	int64_t duration_s;
	int level;
	bool warned;
	int64_t started_ms;
	int64_t counted_from_ms; /* start of the open segment (running) or the pause (paused) */
	int64_t used_ms;	 /* counted before counted_from_ms */
	int64_t level_base_ms;	 /* used_ms when the current level began */
	int64_t paused_at_ms;	 /* paused: since */
	int64_t paused_ms;	 /* wall time spent paused */
	int64_t stopped_ms;
	struct sla_times t;
};

/* Time counted between two instants: working time on cal, calendar time when cal is NULL. */
int64_t sla_span_ms(const struct calendar *cal, int64_t from_ms, int64_t to_ms);

/* Time the clock has counted by now_ms. */
int64_t sla_clock_used_ms(const struct sla_clock *c, const struct calendar *cal, int64_t now_ms);

/* Recomputes due and warning times from the open segment and the level's remaining time. */
void sla_clock_plan(struct sla_clock *c, const struct calendar *cal, int warn_pct);

/* A new running clock at level 0. */
void sla_clock_start(struct sla_clock *c, const struct calendar *cal, int64_t start_ms,
		     int64_t duration_s, int warn_pct);

/* A promised update: due exactly at due_ms; its duration (for the re-arm after a breach) is
 * the promised span, at least one second. */
void sla_clock_arm(struct sla_clock *c, int64_t at_ms, int64_t due_ms, int warn_pct);

/* Running -> paused at at_ms (never before the open segment began). */
void sla_clock_pause(struct sla_clock *c, const struct calendar *cal, int64_t at_ms);

/* Paused -> running at at_ms; returns the paused time (0 for a resume stamped before the
 * pause). */
int64_t sla_clock_resume(struct sla_clock *c, const struct calendar *cal, int64_t at_ms,
			 int warn_pct);

/* Any state -> stopped at at_ms; the time counted up to then is kept. */
void sla_clock_stop(struct sla_clock *c, const struct calendar *cal, int64_t at_ms);

/* The deadline passed at now_ms: one level up and re-armed for the full duration from now,
 * or exhausted at HQ. */
struct sla_escalation sla_clock_breach(struct sla_clock *c, const struct calendar *cal,
				       int64_t now_ms, int warn_pct);

/* A new policy at at_ms: what was counted so far (under old_cal) is kept, the rest of the
 * level's time is planned under new_cal for the new duration. A stopped clock only takes the
 * new duration. */
void sla_clock_replan(struct sla_clock *c, const struct calendar *old_cal,
		      const struct calendar *new_cal, int64_t at_ms, int64_t duration_s,
		      int warn_pct);

/* The receipt came after the clock started provisionally at the classification: the clock
 * counts from new_start_ms instead, its pauses kept. */
void sla_clock_move_start(struct sla_clock *c, const struct calendar *cal, int64_t new_start_ms,
			  int warn_pct);

/* Reopened at at_ms: starts over for its duration at `level`. */
void sla_clock_restart(struct sla_clock *c, const struct calendar *cal, int64_t at_ms, int level,
		       int warn_pct);

/* ---- events ---- */

enum sla_action {
	SLA_NONE,
	SLA_STOP,   /* stop the named clock (or every clock when clock is NULL) */
	SLA_PAUSE,  /* pause the pausable clocks */
	SLA_RESUME, /* resume the paused clocks */
	SLA_REOPEN, /* restart the resolution clock one level up */
	SLA_OFFER,  /* the case was offered: the accept clock starts (first offer only) */
};
/* What the event does to the next_update clock. */
enum sla_promise {
	SLA_PROMISE_NONE, /* nothing */
	SLA_PROMISE_ARM,  /* a promise (next_update_by) arms it; no promise changes nothing */
	SLA_PROMISE_ARM_OR_STOP, /* a person's contact: a promise arms it, none stops it */
};
struct sla_reaction {
	enum sla_action action;
	const char *clock; /* for SLA_STOP: the clock, NULL for all */
	enum sla_promise promise;
};

/* The reaction to an event of type ce_type (cp.complaint.*). `detail` is the assignment's
 * detail for cp.complaint.assigned (sla_assignment_detail: only "owned" stops the accept clock) and
 * "confirmed" for a cp.complaint.evidence_updated whose responsibility a person confirmed (only
 * that stops verification); may be NULL otherwise. */
struct sla_reaction sla_react(const char *ce_type, const char *detail);

/* The detail sla_react takes for a cp.complaint.assigned: "owned" when the assignment leaves
 * a named owner (accepted, or reassigned to someone), else the action itself. */
const char *sla_assignment_detail(const char *action, const char *owner);

#endif
