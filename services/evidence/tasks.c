/* Periodic tasks: stuck parcels (parcel.exception.v1), overdue evidence requests
 * (complaint.evidence_request.v1), and the trajectory store's monthly
 * partitions (created ahead, dropped after the retention). Each runs on its own thread and
 * connection; rows are claimed with FOR UPDATE SKIP LOCKED so several instances can run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"
#include "evidence.pb-c.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "pg.h"
#include "svc.h"
#include "topics.h"
#include "tracking.pb-c.h"
#include "tstamp.h"

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The parcels whose last scan is older than the threshold and not raised yet; the claim
 * marks them raised for that last scan (a new scan re-arms the detection). */
/* clang-format off */
static const char stuck_sql[] =
    "WITH due AS (SELECT waybill_no FROM parcels WHERE NOT final AND stuck_for IS DISTINCT "
    "FROM last_scan_at AND last_scan_at < now() - make_interval(secs => $1::int) "
    "ORDER BY last_scan_at LIMIT $2::int FOR UPDATE SKIP LOCKED) "
    "UPDATE parcels p SET stuck_for = p.last_scan_at FROM due LEFT JOIN parcel_recipients r "
    "ON r.waybill_no = due.waybill_no WHERE p.waybill_no = due.waybill_no "
    "RETURNING p.waybill_no, p.last_facility_id, p.last_facility_type, "
    "p.courier_id, p.last_code, p.last_city, p.carrier, " ISO("p.last_scan_at") ", "
    "floor(extract(epoch FROM now() - p.last_scan_at))::bigint, "
    "coalesce(r.customer_ref, ''), coalesce(r.language, ''), coalesce(r.contact, ''), "
    /* the reason the carrier gave, when the parcel stands after an exception scan */
    "CASE WHEN p.last_code = 'exception' THEN coalesce((SELECT s.exception_reason FROM scans s "
    "WHERE s.waybill_no = p.waybill_no ORDER BY s.occurred_at DESC LIMIT 1), '') ELSE '' END";
/* clang-format on */

static int raise_stuck(PGconn *c, PGresult *r, int i, const char *now)
{
	Cp__ParcelException x = CP__PARCEL_EXCEPTION__INIT;
	x.waybill_no = PQgetvalue(r, i, 0);
	x.kind = "stuck";
	x.facility_id = PQgetvalue(r, i, 1);
	x.facility_type = PQgetvalue(r, i, 2);
	x.courier_id = PQgetvalue(r, i, 3);
	x.last_code = PQgetvalue(r, i, 4);
	x.city = PQgetvalue(r, i, 5);
	x.carrier = PQgetvalue(r, i, 6);
	x.last_scan_at = PQgetvalue(r, i, 7);
	x.stuck_seconds = strtoll(PQgetvalue(r, i, 8), NULL, 10);
	x.raised_at = (char *)now;
	x.proactive_case = evidence_cfg.stuck_proactive;
	x.threshold_seconds = evidence_cfg.stuck_after_s;
	/* the recipient by pseudonym only (parcel_recipients holds nothing else) */
	x.recipient_ref = PQgetvalue(r, i, 9);
	x.recipient_language = PQgetvalue(r, i, 10);
	x.recipient_contact = PQgetvalue(r, i, 11);
	x.reason = PQgetvalue(r, i, 12);
	log_msg(LOG_INFO, "parcel_stuck",
		LOG_KV({"waybill_no", x.waybill_no}, {"facility_id", x.facility_id}),
		"no scan for %lld s", (long long)x.stuck_seconds);
	return outbox_add(c, TOPIC_PARCEL_EXCEPTION, x.waybill_no, "cp.parcel.stuck", &x.base,
			  NULL);
}

static void tasks_sweep_skipped(const char *reason)
{
	char labels[64];
	snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
	metrics_add(metrics_counter("cp_evidence_stuck_sweeps_skipped_total",
				    "Stuck-parcel sweeps not run because the tracking events were "
				    "not all applied (tracking_lag) or their lag was unknown.",
				    labels),
		    1);
}

/* The lag guard. A parcel is stuck when no scan came for STUCK_AFTER_SECONDS, but "came"
 * means "applied here": during a tracking backlog (a consumer behind, stalled, or restarting)
 * the newer scans of many parcels wait on the topic, and the sweep would tell customers and
 * staff of delays that are not there. So it runs only while evidence's group has applied all
 * but STUCK_SWEEP_MAX_LAG tracking events, by the offsets it committed (which never run
 * ahead of the database), and not when the brokers cannot say. */
static bool tasks_tracking_caught_up(void)
{
	int64_t lag = 0;
	if (svc_consumer_group_lag(TOPIC_TRACKING, &lag) != 0) {
		tasks_sweep_skipped("lag_unknown");
		log_warn("stuck_sweep_skipped", "the lag of %s is unknown: no sweep",
			 TOPIC_TRACKING);
		return false;
	}
	if (lag > evidence_cfg.stuck_max_lag) {
		tasks_sweep_skipped("tracking_lag");
		log_msg(LOG_INFO, "stuck_sweep_skipped", LOG_KV({"topic", TOPIC_TRACKING}),
			"%lld tracking events not applied yet (STUCK_SWEEP_MAX_LAG %lld): no sweep",
			(long long)lag, evidence_cfg.stuck_max_lag);
		return false;
	}
	return true;
}

int tasks_stuck(PGconn *c, void *arg)
{
	char secs[24], limit[24], now[TSTAMP_LEN];
	if (!tasks_tracking_caught_up())
		return 0; /* the next interval looks again */
	snprintf(secs, sizeof(secs), "%lld", evidence_cfg.stuck_after_s);
	snprintf(limit, sizeof(limit), "%lld", evidence_cfg.stuck_batch);
	tstamp_format(tstamp_now_ms(), now);
	const char *p[] = {secs, limit};
	if (pg_begin(c) != 0)
		return -1;
	PGresult *r = pg_query(c, stuck_sql, 2, p);
	int n = r ? PQntuples(r) : -1;
	for (int i = 0; i < n; i++)
		if (raise_stuck(c, r, i, now) != 0)
			n = -1;
	PQclear(r);
	if (n < 0 || pg_commit(c) != 0) {
		pg_rollback(c);
		return -1;
	}
	metrics_add(metrics_counter("cp_evidence_stuck_sweeps_total",
				    "Stuck-parcel sweeps run (the tracking events applied).", NULL),
		    1);
	if (n > 0)
		metrics_add(metrics_counter("cp_evidence_stuck_total",
					    "Stuck-parcel exceptions raised.", NULL),
			    n);
	return n >= evidence_cfg.stuck_batch ? 1 : 0;
}

/* Partitions ahead, then the retention: old partitions, old dedup keys, old summaries. */
int tasks_partitions(PGconn *c, void *arg)
{
	char days[24], ahead[24];
	snprintf(days, sizeof(days), "%lld", evidence_cfg.retention_days);
	snprintf(ahead, sizeof(ahead), "%lld", evidence_cfg.months_ahead);
	const char *p[] = {days, ahead};
	PGresult *r = pg_query(
	    c,
	    "SELECT ensure_scan_partitions(now() - make_interval(days => $1::int), now() + "
	    "make_interval(months => $2::int)), drop_scan_partitions(now() - "
	    "make_interval(days => $1::int))",
	    2, p);
	if (!r)
		return -1;
	int made = atoi(pg_value(r, 0, 0, "0")), dropped = atoi(pg_value(r, 0, 1, "0"));
	PQclear(r);
	if (made || dropped)
		log_msg(LOG_INFO, "scan_partitions", NULL, 0, "%d partition(s) created, %d dropped",
			made, dropped);
	const char *q[] = {days};
	r = pg_query(
	    c,
	    "WITH k AS (DELETE FROM scan_keys WHERE created_at < now() - make_interval(days "
	    "=> $1::int) RETURNING 1), s AS (DELETE FROM parcels WHERE last_scan_at < now() "
	    "- make_interval(days => $1::int) AND NOT pending_bundle RETURNING 1), r AS (DELETE "
	    "FROM parcel_recipients WHERE updated_at < now() - make_interval(days => $1::int) "
	    "RETURNING 1) SELECT (SELECT count(*) FROM k), (SELECT count(*) FROM s), (SELECT "
	    "count(*) FROM r)",
	    1, q);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

/* Requests nobody answered by due_at, claimed and marked so each reminds its facility once. */
/* clang-format off */
static const char overdue_sql[] =
    "WITH due AS (SELECT request_id FROM requests WHERE answered_at IS NULL AND overdue_at IS "
    "NULL AND due_at < now() ORDER BY due_at LIMIT $1::int FOR UPDATE SKIP LOCKED) "
    "UPDATE requests q SET overdue_at = now() FROM due, bundles b WHERE q.request_id = "
    "due.request_id AND b.complaint_id = q.complaint_id RETURNING q.request_id::text, "
    "q.complaint_id::text, b.complaint_no, b.waybill_no, q.facility_id, q.facility_type, "
    "q.courier_id, q.kind, " ISO("q.due_at");

/* Requests still unanswered $2 seconds after that reminder: each is escalated once (a person
 * above the case's owner is named by classification, from the staff registry's ladder). */
static const char escalate_sql[] =
    "WITH due AS (SELECT request_id FROM requests WHERE answered_at IS NULL AND escalated_at "
    "IS NULL AND overdue_at < now() - make_interval(secs => $2::int) ORDER BY overdue_at "
    "LIMIT $1::int FOR UPDATE SKIP LOCKED) "
    "UPDATE requests q SET escalated_at = now() FROM due, bundles b WHERE q.request_id = "
    "due.request_id AND b.complaint_id = q.complaint_id RETURNING q.request_id::text, "
    "q.complaint_id::text, b.complaint_no, b.waybill_no, q.facility_id, q.facility_type, "
    "q.courier_id, q.kind, " ISO("q.due_at");
/* clang-format on */

static int announce_request(PGconn *c, PGresult *r, int i, const char *ce_type)
{
	Cp__EvidenceRequest q = CP__EVIDENCE_REQUEST__INIT;
	char path[128];
	snprintf(path, sizeof(path), "/v1/evidence-requests/%s/answer", PQgetvalue(r, i, 0));
	q.request_id = PQgetvalue(r, i, 0);
	q.complaint_id = PQgetvalue(r, i, 1);
	q.complaint_no = PQgetvalue(r, i, 2);
	q.waybill_no = PQgetvalue(r, i, 3);
	q.facility_id = PQgetvalue(r, i, 4);
	q.facility_type = PQgetvalue(r, i, 5);
	q.courier_id = PQgetvalue(r, i, 6);
	q.kind = PQgetvalue(r, i, 7);
	q.due_at = PQgetvalue(r, i, 8);
	q.callback_path = path;
	/* the log event is the ce_type's name: evidence_request_overdue / _escalated */
	log_msg(LOG_INFO, ce_type + strlen("cp.complaint."),
		LOG_KV({"complaint_no", q.complaint_no}, {"facility_id", q.facility_id}),
		"an evidence request passed its due time unanswered");
	return outbox_add(c, TOPIC_EVIDENCE_REQUEST, q.complaint_id, ce_type, &q.base, NULL);
}

/* One sweep: claims and marks the requests sql returns, one event each. The number found,
 * or -1 (rolled back). */
static int sweep_requests(PGconn *c, const char *sql, int np, const char *const *p,
			  const char *ce_type)
{
	if (pg_begin(c) != 0)
		return -1;
	PGresult *r = pg_query(c, sql, np, p);
	int n = r ? PQntuples(r) : -1;
	for (int i = 0; i < n; i++)
		if (announce_request(c, r, i, ce_type) != 0)
			n = -1;
	PQclear(r);
	if (n < 0 || pg_commit(c) != 0) {
		pg_rollback(c);
		return -1;
	}
	return n;
}

/* First the facility is reminded (overdue), then, still unanswered, the case escalates. */
int tasks_overdue_requests(PGconn *c, void *arg)
{
	char limit[24], after[24];
	snprintf(limit, sizeof(limit), "%lld", evidence_cfg.stuck_batch);
	snprintf(after, sizeof(after), "%lld", evidence_cfg.escalate_after_s);
	const char *p[] = {limit, after};
	int reminded =
	    sweep_requests(c, overdue_sql, 1, p, "cp.complaint.evidence_request_overdue");
	if (reminded < 0)
		return -1;
	int escalated =
	    sweep_requests(c, escalate_sql, 2, p, "cp.complaint.evidence_request_escalated");
	if (escalated < 0)
		return -1;
	return reminded >= evidence_cfg.stuck_batch || escalated >= evidence_cfg.stuck_batch ? 1
											     : 0;
}
