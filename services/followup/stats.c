/* Quality figures from follow-up's own projection, and the periodic tasks that close cases
 * without feedback and refresh the Prometheus gauges.
 *
 * Definitions (all over complaints received in [from, to), optionally one outlet, category
 * or owning agent). The figures that time people come from people's actions only:
 *   first_response      seconds from received to the automatic acknowledgement (kept for
 *                       comparison; it stops no clock and measures nobody)
 *   first_contact       seconds from received to a person's first real contact (a message
 *                       from the case or a reached call); compliance: contacted within the
 *                       policy's first_response_s, over the cases whose limit has passed or
 *                       that were contacted (so an owner who does not contact in time counts
 *                       against it before they ever do)
 *   accept              seconds from the first offer to the accept; compliance vs accept_s
 *   verification        seconds from received to responsibility confirmed by a person;
 *                       compliance vs verification_s
 *   whole_cycle         seconds from received to closed (closed cases)
 *   sla_compliance      per clock, 1 - (cases with a breach of that clock) / received
 *   repeat_rate         cases that are repeats or got repeat complaints / received
 *   resolution_rate     cases whose plan was executed / received
 *   first_contact_resolution  closed satisfied at the first closure (never reopened), not a
 *                       repeat itself, no repeat while open, and no later complaint about the
 *                       same waybill (or naming it as the previous one) received within
 *                       FCR_WINDOW_DAYS of its closure / closed
 *   csat                survey answers: count, share scoring 4-5, average score
 *   compensation_paid_fen     sum of the executed plans' totals
 *   by_agent, by_outlet per owner / outlet: cases, median accept, first-contact and
 *                       verification seconds
 *   top_causes          the five most frequent responsible parties */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "followup.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "tstamp.h"

/* one SQL statement reads better as written */
/* clang-format off */
#define RATIO(cond, over)                                                                  \
	"(SELECT CASE WHEN count(*) FILTER (WHERE " over ") = 0 THEN NULL ELSE "           \
	"round(count(*) FILTER (WHERE " cond ")::numeric / count(*) FILTER (WHERE " over   \
	"), 4) END FROM c)"
#define MEDIAN_P90(t)                                                                      \
	"'median_s', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) FROM " t "), " \
	"'p90_s', (SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY s) FROM " t "), " \
	"'sum_s', (SELECT sum(s) FROM " t ")"

#define PEOPLE(col)                                                                        \
	"'count', (SELECT count(" col ") FROM c), "                                        \
	"'median_s', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY " col ") FROM c), " \
	"'p90_s', (SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY " col ") FROM c), " \
	"'sum_s', (SELECT sum(" col ") FROM c)"
/* done within limit_s of start, over the cases whose limit is known and has passed or that
 * are done already */
#define WITHIN(done, start, limit_s)                                                       \
	RATIO(done " IS NOT NULL AND " done " <= " start " + make_interval(secs => " limit_s ")", \
	      limit_s " > 0 AND " start " IS NOT NULL AND (" done " IS NOT NULL OR " start      \
	      " + make_interval(secs => " limit_s ") <= now())")
#define PER(key)                                                                           \
	"(SELECT coalesce(json_agg(json_build_object('" key "', g, 'cases', n, "             \
	"'accept_median_s', a, 'first_contact_median_s', f, 'verification_median_s', v) "    \
	"ORDER BY g), '[]') FROM (SELECT " key "_id g, count(*) n, "                        \
	"percentile_cont(0.5) WITHIN GROUP (ORDER BY t_accept) a, "                          \
	"percentile_cont(0.5) WITHIN GROUP (ORDER BY t_contact) f, "                         \
	"percentile_cont(0.5) WITHIN GROUP (ORDER BY t_verify) v FROM c WHERE " key "_id <> ''" \
	" GROUP BY 1) x)"

static const char stats_sql[] =
	"WITH c AS (SELECT *, owner_staff_id agent_id,"
	"    extract(epoch FROM assigned_at - offered_at)::float8 t_accept,"
	"    extract(epoch FROM first_contact_at - received_at)::float8 t_contact,"
	"    extract(epoch FROM verified_at - received_at)::float8 t_verify"
	"    FROM cases WHERE received_at >= $1::timestamptz"
	"    AND received_at < $2::timestamptz AND ($3 = '' OR outlet_id = $3)"
	"    AND ($4 = '' OR category = $4) AND ($5 = '' OR owner_staff_id = $5)), "
	"fr AS (SELECT extract(epoch FROM first_response_at - received_at)::float8 s FROM c"
	"    WHERE first_response_at IS NOT NULL), "
	"cy AS (SELECT extract(epoch FROM closed_at - received_at)::float8 s FROM c"
	"    WHERE closed_at IS NOT NULL), "
	"sv AS (SELECT s.score FROM surveys s JOIN c USING (complaint_id)), "
	"br AS (SELECT e.clock, count(DISTINCT e.complaint_id) n FROM sla_events e"
	"    JOIN c USING (complaint_id) WHERE e.kind = 'breach' GROUP BY e.clock), "
	"causes AS (SELECT responsible_party p, count(*) n FROM c"
	"    WHERE responsible_party NOT IN ('', 'unknown') GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5), "
	/* a later complaint about the same parcel within the window undoes first-contact
	 * resolution, whether intake linked it as a repeat or not */
	"rep AS (SELECT x.complaint_id FROM c x WHERE x.closed_at IS NOT NULL AND EXISTS ("
	"    SELECT 1 FROM cases y WHERE y.complaint_id <> x.complaint_id"
	"    AND y.received_at > x.received_at"
	"    AND y.received_at <= x.closed_at + make_interval(days => $6::int)"
	"    AND ((x.waybill_no <> '' AND y.waybill_no = x.waybill_no)"
	"      OR y.previous_complaint_id = x.complaint_id))) "
	"SELECT json_build_object("
	"  'from', $1::timestamptz, 'to', $2::timestamptz,"
	"  'filters', json_build_object('outlet', $3, 'category', $4, 'agent', $5),"
	"  'received', (SELECT count(*) FROM c),"
	"  'first_response', json_build_object('count', (SELECT count(*) FROM fr), "
	       MEDIAN_P90("fr") ", 'within_3min_share', "
	       RATIO("first_response_at - received_at <= interval '3 minutes'", "true") "),"
	"  'first_contact', json_build_object(" PEOPLE("t_contact") ", 'compliance', "
	       WITHIN("first_contact_at", "received_at", "first_response_s") "),"
	"  'accept', json_build_object(" PEOPLE("t_accept") ", 'compliance', "
	       WITHIN("assigned_at", "offered_at", "accept_s") "),"
	"  'verification', json_build_object(" PEOPLE("t_verify") ", 'compliance', "
	       WITHIN("verified_at", "received_at", "verification_s") "),"
	"  'whole_cycle', json_build_object('count', (SELECT count(*) FROM cy), "
	       MEDIAN_P90("cy") "),"
	"  'sla_compliance', (SELECT json_object_agg(k, CASE WHEN (SELECT count(*) FROM c) = 0"
	"      THEN NULL ELSE round(1 - coalesce((SELECT n FROM br WHERE br.clock = k), 0)::numeric"
	"      / (SELECT count(*) FROM c), 4) END) FROM unnest(ARRAY['first_response',"
	"      'verification', 'resolution', 'regulatory']) k),"
	"  'sla_breaches', (SELECT coalesce(json_object_agg(clock, n), '{}') FROM br),"
	"  'repeat_rate', " RATIO("is_repeat OR repeat_count > 0", "true") ","
	"  'resolution_rate', " RATIO("executed_at IS NOT NULL", "true") ","
	"  'first_contact_resolution', "
	       RATIO("close_reason = 'satisfied' AND reopen_count = 0 AND repeat_count = 0"
		     " AND NOT is_repeat AND complaint_id NOT IN (SELECT complaint_id FROM rep)",
		     "closed_at IS NOT NULL") ","
	"  'fcr_window_days', $6::int,"
	"  'csat', json_build_object('answered', (SELECT count(*) FROM sv),"
	"      'satisfied_share', (SELECT CASE WHEN count(*) = 0 THEN NULL ELSE"
	"      round(count(*) FILTER (WHERE score >= 4)::numeric / count(*), 4) END FROM sv),"
	"      'average_score', (SELECT round(avg(score), 2) FROM sv)),"
	"  'compensation_paid_fen', (SELECT coalesce(sum(compensation_fen), 0) FROM c"
	"      WHERE executed_at IS NOT NULL),"
	"  'closed', (SELECT count(*) FROM c WHERE closed_at IS NOT NULL),"
	"  'by_agent', " PER("agent") ","
	"  'by_outlet', " PER("outlet") ","
	"  'top_causes', (SELECT coalesce(json_agg(json_build_object('party', p, 'count', n)"
	"      ORDER BY n DESC, p), '[]') FROM causes))::text";
/* clang-format on */

char *fu_stats_json(PGconn *c, const char *from, const char *to, const char *outlet,
		    const char *category, const char *agent)
{
	char window[16];
	snprintf(window, sizeof(window), "%lld", followup_cfg.fcr_window_days);
	const char *p[] = {from, to, outlet, category, agent, window};
	PGresult *r = pg_query(c, stats_sql, 6, p);
	if (!r)
		return NULL;
	char *out = PQntuples(r) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
	PQclear(r);
	return out;
}

int fu_close_task(PGconn *c, void *arg)
{
	if (pg_begin(c) != 0)
		return -1;
	PGresult *r = pg_query(c,
			       "SELECT complaint_id FROM cases WHERE status = 'resolved' AND "
			       "survey_due_at <= now() AND decided_by_person AND (NOT "
			       "needs_person_answer OR first_contact_at IS NOT NULL) ORDER BY "
			       "survey_due_at LIMIT 20 FOR UPDATE SKIP LOCKED",
			       0, NULL);
	if (!r) {
		pg_rollback(c);
		return -1;
	}
	int n = PQntuples(r);
	const struct fu_closure cl = {.reason = "closed_without_feedback"};
	for (int i = 0; i < n; i++) {
		if (fu_close(c, PQgetvalue(r, i, 0), &cl) < 0) {
			PQclear(r);
			pg_rollback(c);
			return -1;
		}
	}
	PQclear(r);
	if (pg_commit(c) != 0)
		return -1;
	return n;
}

static void gauge(const char *name, const char *help, const char *labels, json_t *v)
{
	if (json_is_number(v))
		metrics_set(metrics_gauge(name, help, labels), json_number_value(v));
}

/* One timing figure over the STATS_WINDOW_DAYS window as three gauges: <prefix>_median_seconds,
 * <prefix>_p90_seconds and <prefix>_cases (how many cases they were computed over). Not a
 * Prometheus summary: a summary's _count and _sum are counters since the start, and these are
 * the window's, which fall as old cases leave it; rate() over them would read every fall as a
 * counter reset. NaN: no case in the window. */
static void window_figure(const char *prefix, const char *what, json_t *fig)
{
	char name[96], help[192];
	json_t *median = json_object_get(fig, "median_s"), *p90 = json_object_get(fig, "p90_s");
	snprintf(name, sizeof(name), "%s_median_seconds", prefix);
	snprintf(help, sizeof(help), "Median %s over the stats window.", what);
	metrics_set(metrics_gauge(name, help, NULL),
		    json_is_number(median) ? json_number_value(median) : NAN);
	snprintf(name, sizeof(name), "%s_p90_seconds", prefix);
	snprintf(help, sizeof(help), "90th percentile of %s over the stats window.", what);
	metrics_set(metrics_gauge(name, help, NULL),
		    json_is_number(p90) ? json_number_value(p90) : NAN);
	snprintf(name, sizeof(name), "%s_cases", prefix);
	snprintf(help, sizeof(help), "Cases in the stats window that %s is computed over.", what);
	json_t *count = json_object_get(fig, "count");
	metrics_set(metrics_gauge(name, help, NULL),
		    json_is_number(count) ? json_number_value(count) : 0);
}

/* The window figure and <prefix>_compliance_ratio of one people figure. */
static void people_gauges(json_t *fig, const char *prefix, const char *what)
{
	char name[96], help[160];
	snprintf(help, sizeof(help), "time from %s", what);
	window_figure(prefix, help, fig);
	snprintf(name, sizeof(name), "%s_compliance_ratio", prefix);
	snprintf(help, sizeof(help), "Share within the policy's limit: %s.", what);
	gauge(name, help, NULL, json_object_get(fig, "compliance"));
}

static void set_gauges(json_t *s)
{
	json_t *fr = json_object_get(s, "first_response"), *cy = json_object_get(s, "whole_cycle");
	json_t *sla = json_object_get(s, "sla_compliance"), *v;
	const char *clock;
	gauge("cp_quality_received", "Complaints received in the window.", NULL,
	      json_object_get(s, "received"));
	window_figure("cp_quality_first_response",
		      "first-response time (the automatic acknowledgement)", fr);
	gauge("cp_quality_first_response_within_3min_ratio", "Share answered within 3 minutes.",
	      NULL, json_object_get(fr, "within_3min_share"));
	window_figure("cp_quality_cycle", "whole-cycle time of the closed cases", cy);
	static const char *const people[][3] = {
	    {"first_contact", "cp_quality_first_contact", "first real contact by a person"},
	    {"accept", "cp_quality_accept", "offer to accept"},
	    {"verification", "cp_quality_verification", "received to person-confirmed facts"},
	};
	for (size_t i = 0; i < sizeof(people) / sizeof(people[0]); i++)
		people_gauges(json_object_get(s, people[i][0]), people[i][1], people[i][2]);
	json_object_foreach (sla, clock, v) {
		char labels[64];
		snprintf(labels, sizeof(labels), "clock=\"%s\"", clock);
		gauge("cp_quality_sla_compliance_ratio", "SLA compliance per clock.", labels, v);
	}
	gauge("cp_quality_repeat_ratio", "Repeat-complaint rate.", NULL,
	      json_object_get(s, "repeat_rate"));
	gauge("cp_quality_resolution_ratio", "Resolution rate.", NULL,
	      json_object_get(s, "resolution_rate"));
	gauge("cp_quality_first_contact_resolution_ratio", "First-contact resolution.", NULL,
	      json_object_get(s, "first_contact_resolution"));
	gauge("cp_quality_csat_ratio", "Share of satisfied survey answers.", NULL,
	      json_object_get(json_object_get(s, "csat"), "satisfied_share"));
	gauge("cp_quality_compensation_paid_fen", "Compensation paid (fen).", NULL,
	      json_object_get(s, "compensation_paid_fen"));
}

int fu_stats_task(PGconn *c, void *arg)
{
	char from[TSTAMP_LEN], to[TSTAMP_LEN];
	int64_t now = tstamp_now_ms();
	tstamp_format(now - followup_cfg.stats_window_days * 86400000LL, from);
	tstamp_format(now + 1000, to);
	char *text = fu_stats_json(c, from, to, "", "", "");
	if (!text)
		return -1;
	json_t *s = json_loads(text, 0, NULL);
	free(text);
	if (s)
		set_gauges(s);
	json_decref(s);
	return 0;
}
