/* The pure rules of SLA clocks (see sla.h). */
#include <string.h>

#include "sla.h"

const char *const sla_clock_names[SLA_NCLOCKS] = {"first_response", "verification", "resolution",
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

struct sla_times sla_resume(struct sla_times t, int64_t paused_at_ms, int64_t resumed_at_ms,
			    int64_t *paused_ms)
{
	int64_t d = resumed_at_ms - paused_at_ms;
	if (d < 0)
		d = 0;
	t.due_ms += d;
	t.warn_ms += d;
	if (paused_ms)
		*paused_ms = d;
	return t;
}

bool sla_pausable(const char *clock, const char *const *pausable, size_t n)
{
	if (!clock || strcmp(clock, "regulatory") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (pausable[i] && strcmp(pausable[i], clock) == 0)
			return true;
	return false;
}

int sla_plan(const struct sla_policy *p, int64_t duration_s[SLA_NCLOCKS])
{
	int n = 0;
	for (int i = 0; i < SLA_NCLOCKS; i++) {
		int64_t d = p->classified ? p->duration_s[i]
			    : i == 0	  ? p->default_first_response_s
					  : 0;
		duration_s[i] = d > 0 ? d : 0;
		n += duration_s[i] > 0;
	}
	return n;
}

struct sla_reaction sla_react(const char *ce_type, const char *detail)
{
	static const struct {
		const char *type;
		struct sla_reaction r;
	} table[] = {
	    {"cp.complaint.first_response", {SLA_STOP, "first_response"}},
	    {"cp.complaint.evidence_collected", {SLA_STOP, "verification"}},
	    {"cp.complaint.resolution_executed", {SLA_STOP, "resolution"}},
	    {"cp.complaint.closed", {SLA_STOP, NULL}},
	    {"cp.complaint.awaiting_customer", {SLA_PAUSE, NULL}},
	    {"cp.complaint.customer_replied", {SLA_RESUME, NULL}},
	    {"cp.complaint.reopened", {SLA_REOPEN, "resolution"}},
	};
	struct sla_reaction none = {SLA_NONE, NULL};
	if (!ce_type)
		return none;
	if (strcmp(ce_type, "cp.complaint.assigned") == 0) {
		struct sla_reaction stop = {SLA_STOP, "first_response"};
		return detail && strcmp(detail, "accepted") == 0 ? stop : none;
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].type, ce_type) == 0)
			return table[i].r;
	return none;
}
