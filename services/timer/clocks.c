/* The clock rows of one complaint. The case row (cases) remembers what the timer knows of the
 * complaint; sync() makes the clock rows match it, so events may come in any order: a clock
 * created after its stop starts stopped, one created while the case waits on the customer
 * starts paused. Times cross the SQL boundary as milliseconds since the epoch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "sla.h"
#include "timer.h"

/* The statements below splice the TS()/MS() macros into SQL text, which clang-format cannot lay
 * out readably: this file is formatted by hand. */
// clang-format off
struct timer_config timer_cfg;

#define TS(n) "to_timestamp($" #n "::bigint / 1000.0)"
#define MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

struct case_row {
	char no[64];
	int64_t start_ms; /* received_at, or classified_at while the receipt is unknown */
	bool has_start;
	struct sla_policy policy;
	char pausable[256]; /* comma-separated */
};

struct clock_row {
	bool exists;
	char state[16];
	int64_t duration_s;
	int level;
	bool pausable;
	int64_t started_ms;
	int64_t paused_ms;
};

static void ms_text(int64_t ms, char out[24])
{
	snprintf(out, 24, "%lld", (long long)ms);
}

static bool case_pausable(const struct case_row *k, const char *clock)
{
	char buf[256], *save = NULL;
	const char *names[SLA_NCLOCKS];
	size_t n = 0;
	snprintf(buf, sizeof(buf), "%s", k->pausable);
	for (char *t = strtok_r(buf, ",", &save); t && n < SLA_NCLOCKS;
	     t = strtok_r(NULL, ",", &save))
		names[n++] = t;
	return sla_pausable(clock, names, n);
}

static int case_load(PGconn *pg, const char *id, struct case_row *k, bool *found)
{
	const char *p[] = {id};
	PGresult *r = pg_query(pg,
			       "SELECT complaint_no, " MS("coalesce(received_at, classified_at)") ", "
			       "classified, "
			       "first_response_s, verification_s, resolution_s, regulatory_s, "
			       "array_to_string(pausable_clocks, ',') FROM cases WHERE "
			       "complaint_id = $1::uuid FOR UPDATE",
			       1, p);
	if (!r)
		return -1;
	*found = PQntuples(r) == 1;
	if (*found) {
		snprintf(k->no, sizeof(k->no), "%s", PQgetvalue(r, 0, 0));
		k->has_start = !PQgetisnull(r, 0, 1);
		k->start_ms = atoll(PQgetvalue(r, 0, 1));
		k->policy.classified = PQgetvalue(r, 0, 2)[0] == 't';
		for (int i = 0; i < SLA_NCLOCKS; i++)
			k->policy.duration_s[i] = atoll(PQgetvalue(r, 0, 3 + i));
		k->policy.default_first_response_s = timer_cfg.first_response_s;
		snprintf(k->pausable, sizeof(k->pausable), "%s", PQgetvalue(r, 0, 7));
	}
	PQclear(r);
	return 0;
}

static int clocks_load(PGconn *pg, const char *id, struct clock_row rows[SLA_NCLOCKS])
{
	const char *p[] = {id};
	PGresult *r = pg_query(pg,
			       "SELECT clock, state, duration_s, escalation_level, pausable, " MS(
				   "started_at") ", paused_ms FROM clocks WHERE complaint_id = "
						 "$1::uuid FOR UPDATE",
			       1, p);
	if (!r)
		return -1;
	memset(rows, 0, sizeof(struct clock_row) * SLA_NCLOCKS);
	for (int i = 0; i < PQntuples(r); i++) {
		int k = sla_clock_index(PQgetvalue(r, i, 0));
		if (k < 0)
			continue;
		rows[k].exists = true;
		snprintf(rows[k].state, sizeof(rows[k].state), "%s", PQgetvalue(r, i, 1));
		rows[k].duration_s = atoll(PQgetvalue(r, i, 2));
		rows[k].level = atoi(PQgetvalue(r, i, 3));
		rows[k].pausable = PQgetvalue(r, i, 4)[0] == 't';
		rows[k].started_ms = atoll(PQgetvalue(r, i, 5));
		rows[k].paused_ms = atoll(PQgetvalue(r, i, 6));
	}
	PQclear(r);
	return 0;
}

/* A new clock: stopped when its stop came first, running otherwise (pause_waiting follows). */
static int clock_insert(PGconn *pg, const char *id, const struct case_row *k, int i,
			int64_t duration_s)
{
	struct sla_times t = sla_schedule(k->start_ms, duration_s, 0, (int)timer_cfg.warn_pct);
	char dur[24], start[24], due[24], warn[24];
	snprintf(dur, sizeof(dur), "%lld", (long long)duration_s);
	ms_text(k->start_ms, start);
	ms_text(t.due_ms, due);
	ms_text(t.warn_ms, warn);
	const char *p[] = {id,	  sla_clock_names[i], k->no, dur, start, due, warn,
			   case_pausable(k, sla_clock_names[i]) ? "t" : "f"};
	return pg_exec(pg,
		       "INSERT INTO clocks (complaint_id, clock, complaint_no, duration_s, "
		       "started_at, due_at, warn_at, pausable, state, stopped_at, stopped_by) "
		       "SELECT $1::uuid, $2, $3, $4::int, " TS(5) ", " TS(6) ", " TS(7) ", $8::bool, "
		       "CASE WHEN s.clock IS NULL THEN 'running' ELSE 'stopped' END, s.stopped_at, "
		       "s.stopped_by FROM (SELECT 1) one LEFT JOIN stops s ON s.complaint_id = "
		       "$1::uuid AND s.clock = $2 ON CONFLICT DO NOTHING",
		       8, p);
}

/* An existing clock under a (new) policy or a corrected start (the receipt came after the
 * classification): a clock that has not escalated yet is rescheduled; the pausable flag
 * follows the policy. */
static int clock_update(PGconn *pg, const char *id, const struct case_row *k, int i,
			const struct clock_row *c, int64_t duration_s)
{
	bool pausable = case_pausable(k, sla_clock_names[i]);
	bool open = strcmp(c->state, "running") == 0 || strcmp(c->state, "paused") == 0;
	bool reschedule = (c->duration_s != duration_s || c->started_ms != k->start_ms) &&
			  c->level == 0 && open;
	if (!reschedule && pausable == c->pausable)
		return 0;
	int64_t start_ms = reschedule ? k->start_ms : c->started_ms;
	struct sla_times t =
	    sla_schedule(start_ms, duration_s, c->paused_ms, (int)timer_cfg.warn_pct);
	char dur[24], start[24], due[24], warn[24];
	snprintf(dur, sizeof(dur), "%lld", (long long)(reschedule ? duration_s : c->duration_s));
	ms_text(start_ms, start);
	ms_text(t.due_ms, due);
	ms_text(t.warn_ms, warn);
	const char *p[] = {id, sla_clock_names[i], dur, due, warn, pausable ? "t" : "f", start};
	if (!reschedule)
		return pg_exec(pg,
			       "UPDATE clocks SET pausable = $6::bool WHERE complaint_id = $1::uuid "
			       "AND clock = $2",
			       7, p);
	return pg_exec(pg,
		       "UPDATE clocks SET pausable = $6::bool, duration_s = $3::int, started_at = " TS(
			   7) ", due_at = " TS(4) ", warn_at = " TS(5) ", warned = false WHERE "
			      "complaint_id = $1::uuid AND clock = $2",
		       7, p);
}

/* Pauses the running pausable clocks while the case waits on the customer; a clock started
 * after the wait began is paused from its start. */
static int pause_waiting(PGconn *pg, const char *id)
{
	const char *p[] = {id};
	return pg_exec(pg,
		       "UPDATE clocks c SET state = 'paused', paused_at = greatest(k.awaiting_since, "
		       "c.started_at) FROM cases k WHERE k.complaint_id = c.complaint_id AND "
		       "c.complaint_id = $1::uuid AND k.awaiting_since IS NOT NULL AND c.state = "
		       "'running' AND c.pausable",
		       1, p);
}

/* Makes the clock rows match the case row. */
static int sync(PGconn *pg, const char *id)
{
	struct case_row k;
	struct clock_row rows[SLA_NCLOCKS];
	int64_t plan[SLA_NCLOCKS];
	bool found = false;
	memset(&k, 0, sizeof(k));
	if (case_load(pg, id, &k, &found) != 0 || clocks_load(pg, id, rows) != 0)
		return -1;
	if (!found || !k.has_start)
		return 0;
	sla_plan(&k.policy, plan);
	for (int i = 0; i < SLA_NCLOCKS; i++) {
		int rc = 0;
		if (plan[i] > 0 && !rows[i].exists)
			rc = clock_insert(pg, id, &k, i, plan[i]);
		else if (plan[i] > 0)
			rc = clock_update(pg, id, &k, i, &rows[i], plan[i]);
		if (rc != 0)
			return -1;
	}
	return pause_waiting(pg, id);
}

int clocks_received(PGconn *pg, const char *id, const char *no, int64_t received_ms)
{
	char at[24];
	ms_text(received_ms, at);
	const char *p[] = {id, no, at};
	if (pg_exec(pg,
		    "INSERT INTO cases (complaint_id, complaint_no, received_at) VALUES ($1::uuid, "
		    "$2, " TS(3) ") ON CONFLICT (complaint_id) DO UPDATE SET complaint_no = "
		    "excluded.complaint_no, received_at = coalesce(cases.received_at, "
		    "excluded.received_at), updated_at = now()",
		    3, p) != 0)
		return -1;
	return sync(pg, id);
}

static void pausable_text(const struct clocks_policy *p, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < p->npausable; i++) {
		if (sla_clock_index(p->pausable[i]) < 0)
			continue;
		int n = snprintf(out + used, len - used, "%s%s", used ? "," : "", p->pausable[i]);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

int clocks_policy(PGconn *pg, const char *id, const char *no, const struct clocks_policy *pol)
{
	char d[SLA_NCLOCKS][24], pausable[256], at[24];
	ms_text(pol->classified_ms, at);
	for (int i = 0; i < SLA_NCLOCKS; i++)
		snprintf(d[i], sizeof(d[i]), "%lld", (long long)pol->duration_s[i]);
	pausable_text(pol, pausable, sizeof(pausable));
	const char *p[] = {id, no, pol->name, d[0], d[1], d[2], d[3], pausable, at};
	if (pg_exec(pg,
		    "INSERT INTO cases (complaint_id, complaint_no, classified, sla_policy, "
		    "first_response_s, verification_s, resolution_s, regulatory_s, "
		    "pausable_clocks, classified_at) VALUES ($1::uuid, $2, true, $3, $4::int, "
		    "$5::int, $6::int, $7::int, coalesce(string_to_array(nullif($8, ''), ','), '{}'), " TS(
		    9) ") "
		    "ON CONFLICT (complaint_id) DO UPDATE SET classified = true, classified_at = "
		    "excluded.classified_at, sla_policy = excluded.sla_policy, "
		    "first_response_s = excluded.first_response_s, verification_s = "
		    "excluded.verification_s, resolution_s = excluded.resolution_s, regulatory_s = "
		    "excluded.regulatory_s, pausable_clocks = excluded.pausable_clocks, updated_at = "
		    "now()",
		    9, p) != 0)
		return -1;
	return sync(pg, id);
}

static int stop_one(PGconn *pg, const char *id, const char *clock, const char *by,
		    const char *at)
{
	const char *p[] = {id, clock, by, at};
	if (pg_exec(pg,
		    "INSERT INTO stops (complaint_id, clock, stopped_at, stopped_by) VALUES "
		    "($1::uuid, $2, " TS(4) ", $3) ON CONFLICT DO NOTHING",
		    4, p) != 0)
		return -1;
	return pg_exec(pg,
		       "UPDATE clocks SET state = 'stopped', stopped_at = " TS(4) ", stopped_by = "
		       "$3, paused_at = NULL WHERE complaint_id = $1::uuid AND clock = $2 AND state "
		       "IN ('running', 'paused', 'exhausted')",
		       4, p);
}

int clocks_stop(PGconn *pg, const char *id, const char *clock, const char *by, int64_t at_ms)
{
	char at[24];
	ms_text(at_ms, at);
	if (clock)
		return stop_one(pg, id, clock, by, at);
	/* the case row first, then the clocks: the order every other change takes */
	const char *p[] = {id};
	if (pg_exec(pg, "UPDATE cases SET awaiting_since = NULL WHERE complaint_id = $1::uuid", 1,
		    p) != 0)
		return -1;
	for (int i = 0; i < SLA_NCLOCKS; i++)
		if (stop_one(pg, id, sla_clock_names[i], by, at) != 0)
			return -1;
	return 0;
}

int clocks_pause(PGconn *pg, const char *id, const char *no, int64_t at_ms)
{
	char at[24];
	ms_text(at_ms, at);
	const char *p[] = {id, no, at};
	if (pg_exec(pg,
		    "INSERT INTO cases (complaint_id, complaint_no, awaiting_since) VALUES "
		    "($1::uuid, $2, " TS(3) ") ON CONFLICT (complaint_id) DO UPDATE SET "
		    "awaiting_since = coalesce(cases.awaiting_since, excluded.awaiting_since), "
		    "updated_at = now()",
		    3, p) != 0)
		return -1;
	return pause_waiting(pg, id);
}

static int resume_one(PGconn *pg, const char *id, PGresult *r, int row, int64_t at_ms)
{
	struct sla_times t = {atoll(PQgetvalue(r, row, 1)), atoll(PQgetvalue(r, row, 2))};
	int64_t paused = 0;
	t = sla_resume(t, atoll(PQgetvalue(r, row, 3)), at_ms, &paused);
	char due[24], warn[24], add[24];
	ms_text(t.due_ms, due);
	ms_text(t.warn_ms, warn);
	ms_text(paused, add);
	const char *p[] = {id, PQgetvalue(r, row, 0), due, warn, add};
	return pg_exec(pg,
		       "UPDATE clocks SET state = 'running', paused_at = NULL, due_at = " TS(3)
		       ", warn_at = " TS(4) ", paused_ms = paused_ms + $5::bigint WHERE "
		       "complaint_id = $1::uuid AND clock = $2",
		       5, p);
}

int clocks_resume(PGconn *pg, const char *id, int64_t at_ms)
{
	const char *p[] = {id};
	if (pg_exec(pg, "UPDATE cases SET awaiting_since = NULL, updated_at = now() WHERE "
			"complaint_id = $1::uuid",
		    1, p) != 0)
		return -1;
	PGresult *r = pg_query(pg,
			       "SELECT clock, " MS("due_at") ", " MS("warn_at") ", " MS(
				   "paused_at") " FROM clocks WHERE complaint_id = $1::uuid AND "
						"state = 'paused' FOR UPDATE",
			       1, p);
	if (!r)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++)
		rc = resume_one(pg, id, r, i, at_ms);
	PQclear(r);
	return rc;
}

int clocks_reopen(PGconn *pg, const char *id, int64_t at_ms)
{
	const char *p[] = {id};
	if (pg_exec(pg, "DELETE FROM stops WHERE complaint_id = $1::uuid AND clock = 'resolution'",
		    1, p) != 0)
		return -1;
	struct clock_row rows[SLA_NCLOCKS];
	if (clocks_load(pg, id, rows) != 0)
		return -1;
	const struct clock_row *c = &rows[2];
	if (!c->exists)
		return sync(pg, id); /* created from the policy when it comes */
	struct sla_times t = sla_schedule(at_ms, c->duration_s, 0, (int)timer_cfg.warn_pct);
	char at[24], due[24], warn[24], level[16];
	ms_text(at_ms, at);
	ms_text(t.due_ms, due);
	ms_text(t.warn_ms, warn);
	snprintf(level, sizeof(level), "%d", sla_reopen_level(c->level));
	const char *u[] = {id, at, due, warn, level};
	if (pg_exec(pg,
		    "UPDATE clocks SET state = 'running', started_at = " TS(2) ", due_at = " TS(3)
		    ", warn_at = " TS(4) ", warned = false, escalation_level = $5::int, paused_ms "
		    "= 0, paused_at = NULL, stopped_at = NULL, stopped_by = NULL WHERE "
		    "complaint_id = $1::uuid AND clock = 'resolution'",
		    5, u) != 0)
		return -1;
	return pause_waiting(pg, id);
}
// clang-format on
