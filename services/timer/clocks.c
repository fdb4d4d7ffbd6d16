/* Starting, stopping and firing clocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification.pb-c.h"
#include "intake.pb-c.h"
#include "log.h"
#include "outbox.h"
#include "pg.h"
#include "sla.pb-c.h"
#include "timer.h"
#include "topics.h"
#include "tstamp.h"

#define TIMER_MAX_LEVEL 3

const char *timer_level_name(int level)
{
	static const char *const names[] = {"agent", "outlet_manager", "regional_supervisor",
					    "hq"};
	return names[level < 0 ? 0 : level > TIMER_MAX_LEVEL ? TIMER_MAX_LEVEL : level];
}

static int v_received(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__ComplaintReceived *c = (const void *)m;
	int64_t ms;
	if (strlen(c->complaint_id) != 36 || tstamp_parse(c->received_at, &ms) != 0) {
		snprintf(errstr, errlen, "complaint_id and an RFC 3339 received_at are required");
		return -1;
	}
	return 0;
}

static int on_received(PGconn *pg, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ComplaintReceived *c = (const void *)m;
	char dur[16], pct[16];
	snprintf(dur, sizeof(dur), "%lld", timer_cfg.first_response_s);
	snprintf(pct, sizeof(pct), "%lld", timer_cfg.warn_pct);
	const char *p[] = {c->complaint_id, c->complaint_no, dur, c->received_at, pct};
	return pg_exec(pg,
		       "INSERT INTO clocks (complaint_id, clock, complaint_no, duration_s, "
		       "started_at, due_at, warn_at) VALUES ($1, 'first_response', $2, $3::int, "
		       "$4::timestamptz, $4::timestamptz + make_interval(secs => $3::int), "
		       "$4::timestamptz + make_interval(secs => $3::int * $5::int / 100.0)) "
		       "ON CONFLICT DO NOTHING",
		       5, p);
}

static int stop_clock(PGconn *pg, const char *complaint_id, const char *clock, const char *by)
{
	const char *p[] = {complaint_id, clock, by};
	return pg_exec(pg,
		       "UPDATE clocks SET state = 'stopped', stopped_at = now(), stopped_by = $3 "
		       "WHERE complaint_id = $1::uuid AND clock = $2 AND state IN ('running', "
		       "'paused')",
		       3, p);
}

static int v_first(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	if (strlen(((const Cp__FirstResponse *)m)->complaint_id) == 36)
		return 0;
	snprintf(errstr, errlen, "complaint_id must be a UUID");
	return -1;
}

static int on_first(PGconn *pg, const struct ce_meta *ce, const char *key,
		    const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	return stop_clock(pg, ((const Cp__FirstResponse *)m)->complaint_id, "first_response",
			  ce->type);
}

static int announce(PGconn *pg, PGresult *r, int row, const char *kind, int level)
{
	Cp__SlaEvent ev = CP__SLA_EVENT__INIT;
	char now[TSTAMP_LEN];
	tstamp_format(tstamp_now_ms(), now);
	ev.complaint_id = PQgetvalue(r, row, 0);
	ev.clock = PQgetvalue(r, row, 1);
	ev.complaint_no = PQgetvalue(r, row, 2);
	ev.due_at = PQgetvalue(r, row, 3);
	ev.kind = (char *)kind;
	ev.escalation_level = level;
	ev.escalated_to = (char *)timer_level_name(level);
	ev.fired_at = now;
	log_msg(LOG_WARN, strcmp(kind, "breach") == 0 ? "sla_breach" : "sla_warning",
		LOG_KV({"complaint_no", ev.complaint_no}, {"clock", ev.clock}),
		"%s clock %s, escalation to %s", ev.clock, kind, ev.escalated_to);
	return outbox_add(pg, TOPIC_SLA, ev.complaint_id,
			  strcmp(kind, "breach") == 0 ? "cp.complaint.sla_breached"
						      : "cp.complaint.sla_warning",
			  &ev.base, NULL);
}

#define DUE_COLUMNS                                                                         \
	"complaint_id::text, clock, complaint_no, to_char(due_at AT TIME ZONE 'UTC', "      \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), escalation_level, duration_s"

static int fire_warnings(PGconn *pg, const char *limit)
{
	const char *p[] = {limit};
	PGresult *r = pg_query(pg,
			       "SELECT " DUE_COLUMNS " FROM clocks WHERE state = 'running' AND NOT "
			       "warned AND warn_at <= now() AND due_at > now() ORDER BY warn_at "
			       "LIMIT $1::int FOR UPDATE SKIP LOCKED",
			       1, p);
	if (!r)
		return -1;
	int n = PQntuples(r), rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		const char *u[] = {PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)};
		rc = pg_exec(pg, "UPDATE clocks SET warned = true WHERE complaint_id = $1::uuid AND "
				 "clock = $2",
			     2, u);
		if (rc == 0)
			rc = announce(pg, r, i, "warning", atoi(PQgetvalue(r, i, 4)));
	}
	PQclear(r);
	return rc == 0 ? n : -1;
}

/* A breach escalates one level and re-arms the clock for the next; past HQ it is exhausted. */
static int fire_breaches(PGconn *pg, const char *limit)
{
	const char *p[] = {limit};
	PGresult *r = pg_query(pg,
			       "SELECT " DUE_COLUMNS " FROM clocks WHERE state = 'running' AND "
			       "due_at <= now() ORDER BY due_at LIMIT $1::int FOR UPDATE SKIP LOCKED",
			       1, p);
	if (!r)
		return -1;
	int n = PQntuples(r), rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		int level = atoi(PQgetvalue(r, i, 4)) + 1;
		char lv[16];
		snprintf(lv, sizeof(lv), "%d", level);
		const char *u[] = {PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), lv};
		rc = pg_exec(pg,
			     "UPDATE clocks SET escalation_level = $3::int, warned = true, "
			     "state = CASE WHEN $3::int >= 3 THEN 'exhausted' ELSE 'running' END, "
			     "due_at = now() + make_interval(secs => duration_s) "
			     "WHERE complaint_id = $1::uuid AND clock = $2",
			     3, u);
		if (rc == 0)
			rc = announce(pg, r, i, "breach", level > TIMER_MAX_LEVEL ? TIMER_MAX_LEVEL : level);
	}
	PQclear(r);
	return rc == 0 ? n : -1;
}

int timer_fire_due(PGconn *pg, void *arg)
{
	char limit[16];
	snprintf(limit, sizeof(limit), "%lld", timer_cfg.batch);
	if (pg_begin(pg) != 0)
		return -1;
	int w = fire_warnings(pg, limit);
	int b = w < 0 ? -1 : fire_breaches(pg, limit);
	if (b < 0 || pg_commit(pg) != 0) {
		pg_rollback(pg);
		return -1;
	}
	return w + b >= timer_cfg.batch ? 1 : 0;
}

const struct consumer_handler timer_handlers[] = {
    {TOPIC_RECEIVED, "cp.complaint.received", &cp__complaint_received__descriptor, v_received,
     on_received},
    {TOPIC_CLASSIFIED, "cp.complaint.first_response", &cp__first_response__descriptor, v_first,
     on_first},
};
const size_t timer_nhandlers = sizeof(timer_handlers) / sizeof(timer_handlers[0]);
