/* The pure rules of SLA clocks (see sla.h). */
#include <string.h>

#include "sla.h"

const char *const sla_clock_names[SLA_NCLOCKS] = {"accept",	"first_response", "verification",
						  "resolution", "whole_cycle",	  "next_update",
						  "regulatory"};

int sla_clock_index(const char *name)
{
	for (int i = 0; name && i < SLA_NCLOCKS; i++)
		if (strcmp(sla_clock_names[i], name) == 0)
			return i;
	return -1;
}

const char *sla_level_name(int level)
{
	static const char *const names[] = {"agent", "outlet_manager", "regional_supervisor", "hq"};
	return names[level < 0 ? 0 : level > SLA_MAX_LEVEL ? SLA_MAX_LEVEL : level];
}

struct sla_escalation sla_escalate(int level)
{
	struct sla_escalation e;
	e.level = level < 0 ? 1 : level + 1;
	if (e.level > SLA_MAX_LEVEL)
		e.level = SLA_MAX_LEVEL;
	e.exhausted = e.level >= SLA_MAX_LEVEL;
	return e;
}

int sla_reopen_level(int level)
{
	return level < 0 ? 1 : level >= SLA_MAX_LEVEL ? SLA_MAX_LEVEL : level + 1;
}

struct sla_times sla_schedule(int64_t start_ms, int64_t duration_s, int64_t paused_ms, int warn_pct)
{
	struct sla_times t;
	int64_t span_ms = duration_s * 1000;
	if (paused_ms < 0)
		paused_ms = 0;
	t.due_ms = start_ms + span_ms + paused_ms;
	t.warn_ms = start_ms + span_ms * warn_pct / 100 + paused_ms;
	return t;
}

static bool listed(const char *clock, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], clock) == 0)
			return true;
	return false;
}

bool sla_pausable(const char *clock, const char *const *pausable, size_t n)
{
	if (!clock || strcmp(clock, "regulatory") == 0)
		return false;
	return listed(clock, pausable, n);
}

bool sla_on_working_time(const char *clock, const char *const *working, size_t n)
{
	if (!clock || strcmp(clock, "regulatory") == 0 || strcmp(clock, "next_update") == 0)
		return false;
	return listed(clock, working, n);
}

/* Before the classification the defaults time the case; after it the policy alone decides,
 * and 0 means it runs no such clock (operator data may switch a clock off). */
static int64_t planned(const struct sla_policy *p, int i)
{
	if (i == SLA_NEXT_UPDATE)
		return 0;
	if (p->classified)
		return p->duration_s[i];
	switch (i) {
	case SLA_ACCEPT:
		return p->default_accept_s;
	case SLA_FIRST_RESPONSE:
		return p->default_first_response_s;
	case SLA_WHOLE_CYCLE:
		return p->default_whole_cycle_s;
	default:
		return 0;
	}
}

int sla_plan(const struct sla_policy *p, int64_t duration_s[SLA_NCLOCKS])
{
	int n = 0;
	for (int i = 0; i < SLA_NCLOCKS; i++) {
		int64_t d = planned(p, i);
		duration_s[i] = d > 0 ? d : 0;
		n += duration_s[i] > 0;
	}
	return n;
}

/* ---- one clock ---- */

static const char *const state_names[] = {"running", "paused", "stopped", "exhausted"};

const char *sla_state_name(enum sla_state s)
{
	return s >= SLA_RUNNING && s <= SLA_EXHAUSTED ? state_names[s] : "stopped";
}

int sla_state_of(const char *name)
{
	for (int i = 0; name && i < 4; i++)
		if (strcmp(state_names[i], name) == 0)
			return i;
	return -1;
}

int64_t sla_span_ms(const struct calendar *cal, int64_t from_ms, int64_t to_ms)
{
	if (to_ms <= from_ms)
		return 0;
	return cal ? cal_working_ms(cal, from_ms, to_ms) : to_ms - from_ms;
}

static int64_t advance(const struct calendar *cal, int64_t from_ms, int64_t span_ms)
{
	if (span_ms <= 0)
		return from_ms;
	return cal ? cal_due_ms(cal, from_ms, span_ms) : from_ms + span_ms;
}

/* Whether the clock is counting time now (an exhausted clock still counts: it is overdue). */
static bool counting(const struct sla_clock *c)
{
	return c->state == SLA_RUNNING || c->state == SLA_EXHAUSTED;
}

int64_t sla_clock_used_ms(const struct sla_clock *c, const struct calendar *cal, int64_t now_ms)
{
	return c->used_ms + (counting(c) ? sla_span_ms(cal, c->counted_from_ms, now_ms) : 0);
}

/* Closes the open segment at at_ms (never before it began). */
static void fold(struct sla_clock *c, const struct calendar *cal, int64_t at_ms)
{
	if (at_ms < c->counted_from_ms)
		at_ms = c->counted_from_ms;
	c->used_ms += sla_span_ms(cal, c->counted_from_ms, at_ms);
	c->counted_from_ms = at_ms;
}

void sla_clock_plan(struct sla_clock *c, const struct calendar *cal, int warn_pct)
{
	int64_t level_used = c->used_ms - c->level_base_ms;
	int64_t span = c->duration_s * 1000;
	c->t.due_ms = advance(cal, c->counted_from_ms, span - level_used);
	c->t.warn_ms = advance(cal, c->counted_from_ms, span * warn_pct / 100 - level_used);
}

void sla_clock_start(struct sla_clock *c, const struct calendar *cal, int64_t start_ms,
		     int64_t duration_s, int warn_pct)
{
	memset(c, 0, sizeof(*c));
	c->state = SLA_RUNNING;
	c->duration_s = duration_s;
	c->started_ms = c->counted_from_ms = start_ms;
	sla_clock_plan(c, cal, warn_pct);
}

void sla_clock_arm(struct sla_clock *c, int64_t at_ms, int64_t due_ms, int warn_pct)
{
	int64_t span = due_ms > at_ms ? due_ms - at_ms : 0;
	sla_clock_start(c, NULL, at_ms, span > 1000 ? (span + 999) / 1000 : 1, warn_pct);
	c->t.due_ms = due_ms;
	c->t.warn_ms = at_ms + span * warn_pct / 100;
}

void sla_clock_pause(struct sla_clock *c, const struct calendar *cal, int64_t at_ms)
{
	if (c->state != SLA_RUNNING)
		return;
	fold(c, cal, at_ms);
	c->paused_at_ms = c->counted_from_ms;
	c->state = SLA_PAUSED;
}

int64_t sla_clock_resume(struct sla_clock *c, const struct calendar *cal, int64_t at_ms,
			 int warn_pct)
{
	if (c->state != SLA_PAUSED)
		return 0;
	int64_t d = at_ms - c->paused_at_ms;
	if (d < 0)
		d = 0;
	c->paused_ms += d;
	c->counted_from_ms = c->paused_at_ms + d;
	c->paused_at_ms = 0;
	c->state = SLA_RUNNING;
	sla_clock_plan(c, cal, warn_pct);
	return d;
}

void sla_clock_stop(struct sla_clock *c, const struct calendar *cal, int64_t at_ms)
{
	if (counting(c))
		fold(c, cal, at_ms);
	c->state = SLA_STOPPED;
	c->paused_at_ms = 0;
	c->stopped_ms = at_ms;
}

struct sla_escalation sla_clock_breach(struct sla_clock *c, const struct calendar *cal,
				       int64_t now_ms, int warn_pct)
{
	struct sla_escalation e = sla_escalate(c->level);
	fold(c, cal, now_ms);
	c->level = e.level;
	if (e.exhausted) {
		c->state = SLA_EXHAUSTED;
		c->warned = true;
		return e;
	}
	c->level_base_ms = c->used_ms;
	c->warned = false;
	sla_clock_plan(c, cal, warn_pct);
	return e;
}

void sla_clock_replan(struct sla_clock *c, const struct calendar *old_cal,
		      const struct calendar *new_cal, int64_t at_ms, int64_t duration_s,
		      int warn_pct)
{
	if (counting(c))
		fold(c, old_cal, at_ms);
	c->duration_s = duration_s;
	if (c->state != SLA_RUNNING && c->state != SLA_PAUSED)
		return;
	sla_clock_plan(c, new_cal, warn_pct);
	/* a warning already given stays given unless the new plan warns later than now */
	c->warned = c->warned && c->t.warn_ms <= at_ms;
}

void sla_clock_move_start(struct sla_clock *c, const struct calendar *cal, int64_t new_start_ms,
			  int warn_pct)
{
	if (new_start_ms < c->started_ms)
		c->used_ms += sla_span_ms(cal, new_start_ms, c->started_ms);
	else
		c->used_ms -= sla_span_ms(cal, c->started_ms, new_start_ms);
	if (c->used_ms < 0)
		c->used_ms = 0;
	if (c->counted_from_ms < new_start_ms)
		c->counted_from_ms = new_start_ms;
	c->started_ms = new_start_ms;
	if (c->state == SLA_RUNNING || c->state == SLA_PAUSED)
		sla_clock_plan(c, cal, warn_pct);
}

void sla_clock_restart(struct sla_clock *c, const struct calendar *cal, int64_t at_ms, int level,
		       int warn_pct)
{
	int64_t duration_s = c->duration_s;
	sla_clock_start(c, cal, at_ms, duration_s, warn_pct);
	c->level = level;
}

/* ---- events ---- */

const char *sla_assignment_detail(const char *action, const char *owner)
{
	/* Someone owns the case now, whether they accepted the offer or a supervisor (or the
	 * previous owner) handed it to them: the accept clock has done its job. A reassignment
	 * that leaves nobody owning it (the owner was the courier the evidence names) is not. */
	if (owner && owner[0] && action &&
	    (strcmp(action, "accepted") == 0 || strcmp(action, "reassigned") == 0))
		return "owned";
	return action;
}

struct sla_reaction sla_react(const char *ce_type, const char *detail)
{
	static const struct {
		const char *type;
		const char *detail; /* NULL: any */
		struct sla_reaction r;
	} table[] = {
	    {"cp.complaint.offered", NULL, {SLA_OFFER, "accept", SLA_PROMISE_NONE}},
	    {"cp.complaint.assigned", "owned", {SLA_STOP, "accept", SLA_PROMISE_NONE}},
	    {"cp.complaint.first_response", NULL, {SLA_NONE, NULL, SLA_PROMISE_ARM}},
	    {"cp.complaint.contacted", NULL, {SLA_STOP, "first_response", SLA_PROMISE_ARM_OR_STOP}},
	    {"cp.complaint.evidence_updated",
	     "confirmed",
	     {SLA_STOP, "verification", SLA_PROMISE_NONE}},
	    {"cp.complaint.resolution_executed", NULL, {SLA_STOP, "resolution", SLA_PROMISE_NONE}},
	    {"cp.complaint.closed", NULL, {SLA_STOP, NULL, SLA_PROMISE_NONE}},
	    {"cp.complaint.awaiting_customer", NULL, {SLA_PAUSE, NULL, SLA_PROMISE_NONE}},
	    {"cp.complaint.customer_replied", NULL, {SLA_RESUME, NULL, SLA_PROMISE_NONE}},
	    {"cp.complaint.reopened", NULL, {SLA_REOPEN, "resolution", SLA_PROMISE_NONE}},
	};
	struct sla_reaction none = {SLA_NONE, NULL, SLA_PROMISE_NONE};
	if (!ce_type)
		return none;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(table[i].type, ce_type) != 0)
			continue;
		if (table[i].detail && (!detail || strcmp(table[i].detail, detail) != 0))
			return none;
		return table[i].r;
	}
	return none;
}
