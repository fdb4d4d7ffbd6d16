/* cp-evidence: tracking ingest and the evidence behind every complaint. */
#include "auth.h"
#include "evidence.h"
#include "svc.h"
#include "topics.h"

static const struct cfg_entry evidence_table[] = {
    {"STUCK_AFTER_SECONDS", CFG_INT, "86400", 1, 30 * 86400,
     "a parcel without a new scan for longer than this is stuck (parcel.exception.v1; the "
     "evidence findings use the same threshold)",
     &evidence_cfg.stuck_after_s},
    {"STUCK_CHECK_MS", CFG_INT, "60000", 100, 3600000, "how often stuck parcels are looked for",
     &evidence_cfg.stuck_check_ms},
    {"STUCK_BATCH", CFG_INT, "500", 1, 10000, "most stuck events raised per transaction",
     &evidence_cfg.stuck_batch},
    {"STUCK_PROACTIVE_CASE", CFG_BOOL, "true", 0, 0,
     "mark stuck events proactive_case=true: a proactive complaint case is wanted before the "
     "customer complains (issue 9: on by default; false only tells the timeline)",
     &evidence_cfg.stuck_proactive},
    /* 5000: a group that keeps up with 13,000 scans/s (the largest carrier's average) commits
     * every 100 ms with up to a batch per consumer in flight, a few thousand scans behind; a
     * backlog is more. A smaller carrier may lower it: the unapplied scans of a backlog this
     * size must be newer than STUCK_AFTER_SECONDS ago for the sweep to be safe */
    {"STUCK_SWEEP_MAX_LAG", CFG_INT, "5000", 0, 100000000,
     "the stuck-parcel sweep waits (cp_evidence_stuck_sweeps_skipped_total) while evidence's "
     "consumer group has more events of parcel.tracking.v1 than this not yet applied: a "
     "parcel's newer scan may be among them",
     &evidence_cfg.stuck_max_lag},
    {"TRACKING_RETENTION_DAYS", CFG_INT, "400", 1, 3650,
     "scans are kept this long (monthly partitions older than this are dropped; complaints "
     "may come up to one year after pickup)",
     &evidence_cfg.retention_days},
    {"TRACKING_MONTHS_AHEAD", CFG_INT, "3", 1, 24,
     "monthly scan partitions are created this far ahead", &evidence_cfg.months_ahead},
    {"TRACKING_PARTITION_CHECK_MS", CFG_INT, "3600000", 1000, 86400000,
     "how often partitions are created ahead and the retention applied",
     &evidence_cfg.partition_check_ms},
    {"TRACKING_MAX_FUTURE_SECONDS", CFG_INT, "86400", 0, 30 * 86400,
     "scans dated further than this in the future are rejected (dead letter / 422)",
     &evidence_cfg.max_future_s},
    {"TRACKING_PUSH_MAX", CFG_INT, "100", 1, 10000,
     "most scans per POST /v1/tracking/events (more: 413; mind HTTP_MAX_BODY_BYTES)",
     &evidence_cfg.push_max},
    {"EVIDENCE_REQUEST_DUE_SECONDS", CFG_INT, "1800", 1, 7 * 86400,
     "evidence requests (surveillance, courier statements) are due this long after they are "
     "sent; later answers are accepted and marked late",
     &evidence_cfg.request_due_s},
    {"EVIDENCE_OVERDUE_CHECK_MS", CFG_INT, "60000", 100, 3600000,
     "how often unanswered evidence requests past their due time are looked for (each reminds "
     "its facility once: cp.complaint.evidence_request_overdue)",
     &evidence_cfg.overdue_check_ms},
    {"EVIDENCE_ESCALATE_AFTER_SECONDS", CFG_INT, "3600", 0, 7 * 86400,
     "an evidence request still unanswered this long after its facility was reminded escalates "
     "once (cp.complaint.evidence_request_escalated): classification names the case owner's "
     "supervisor",
     &evidence_cfg.escalate_after_s},
    {"EVIDENCE_SLICE_SCANS", CFG_INT, "10", 1, 500,
     "the trajectory slice of a loss or other bundle: this many last scans",
     &evidence_cfg.slice_scans},
    {"FORCE_MAJEURE_REASONS", CFG_STR, "weather,traffic_control,natural_disaster,epidemic", 0, 0,
     "exception reasons that make a delay force majeure (comma-separated)",
     &evidence_cfg.force_majeure},
};

static const struct http_route evidence_routes[] = {
    {"POST", "/v1/tracking/events", api_push_scans, true, AUTH_INTEGRATION | AUTH_ADMIN},
    {"GET", "/v1/complaints/{}/evidence", api_get_evidence, true, AUTH_STAFF},
    {"POST", "/v1/complaints/{}/evidence/confirm", api_confirm, true, AUTH_STAFF},
    {"GET", "/v1/complaints/{}/trajectory", api_complaint_trajectory, true, AUTH_STAFF},
    {"GET", "/v1/parcels/{}/trajectory", api_parcel_trajectory, true, AUTH_STAFF},
    {"POST", "/v1/evidence-requests/{}/answer", api_answer, true, AUTH_INTEGRATION | AUTH_STAFF},
};

static const struct svc_task evidence_tasks[] = {
    {"stuck_parcels", tasks_stuck, &evidence_cfg.stuck_check_ms},
    {"scan_partitions", tasks_partitions, &evidence_cfg.partition_check_ms},
    {"overdue_requests", tasks_overdue_requests, &evidence_cfg.overdue_check_ms},
};

int main(int argc, char **argv)
{
	/* an event whose complaint_no belongs to another complaint here is dead-lettered */
	static const struct consumer_ids ids = {"bundles", "complaint_id"};
	const struct svc_def def = {
	    .name = "evidence",
	    .ids = &ids,
	    .summary = "ingests parcel-tracking scans and gathers the evidence for each complaint",
	    .default_port = 8083,
	    .cfg = evidence_table,
	    .ncfg = sizeof(evidence_table) / sizeof(evidence_table[0]),
	    .handlers = evidence_handlers,
	    .nhandlers = evidence_nhandlers,
	    .sets = evidence_set_handlers,
	    .nsets = evidence_nset_handlers,
	    /* a scan costs evidence's backend several times what it costs intake's or
	     * classification's (the dedup key, the partitioned row, the summary fold) */
	    .parallel_topic = TOPIC_TRACKING,
	    .routes = evidence_routes,
	    .nroutes = sizeof(evidence_routes) / sizeof(evidence_routes[0]),
	    .tasks = evidence_tasks,
	    .ntasks = sizeof(evidence_tasks) / sizeof(evidence_tasks[0]),
	};
	return svc_main(argc, argv, &def);
}
