/* The evidence service: ingests the carriers' tracking scans and assembles, for every
 * classified complaint, the evidence bundle and a preliminary responsibility.
 *
 *   assess.c    the pure findings/responsibility logic (scans in, findings out)
 *   ingest.c    scan validation (shared by Kafka and HTTP push) and the scan store
 *   bundle.c    builds, stores and announces a complaint's bundle; evidence requests
 *   handlers.c  the events the service consumes
 *   api.c       HTTP: push scans, answer requests, read and confirm evidence, trajectories
 *   tasks.c     periodic: stuck parcels, partitions ahead and retention */
#ifndef CP_EVIDENCE_H
#define CP_EVIDENCE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consumer.h"
#include "httpd.h"
#include "tracking.pb-c.h"

struct evidence_config {
	long long stuck_after_s;
	long long stuck_check_ms;
	long long stuck_batch;
	bool stuck_proactive;
	long long stuck_max_lag; /* the sweep waits while more tracking events are unapplied */
	long long retention_days;
	long long months_ahead;
	long long partition_check_ms;
	long long max_future_s;
	long long push_max;
	long long request_due_s;
	long long overdue_check_ms;
	long long escalate_after_s; /* an overdue request escalates this long after its reminder */
	long long slice_scans;
	char *force_majeure;
};
extern struct evidence_config evidence_cfg;

/* ---- ingest.c ---- */

/* Checks one scan against the contract: waybill_no, scan_id, code, occurred_at (RFC 3339,
 * not further ahead than max_future_s), a known facility_type, exception_reason on an
 * exception, coordinates in range. Each problem is reported as (field, problem) through
 * report; returns the number of problems. */
typedef void (*ingest_report_fn)(const char *field, const char *problem, void *arg);
int ingest_check(const Cp__TrackingEvent *t, ingest_report_fn report, void *arg);

/* Stores the scan once (by carrier + scan_id) and updates the parcel's summary, inside the
 * caller's transaction. A scan older than the retention is skipped. When the parcel had a
 * bundle built without tracking, that bundle is rebuilt and announced again by
 * ingest_batch_end. 0 or -1. */
int ingest_store(PGconn *c, const Cp__TrackingEvent *t) __attribute__((warn_unused_result));
/* Stores n validated scans with one statement, with the same rows as ingest_store called on
 * each in order. Returns 0 or -1 (nothing written: the transaction's savepoint is rolled
 * back by the caller). */
int ingest_store_set(PGconn *c, const Cp__TrackingEvent *const *scans, size_t n)
    __attribute__((warn_unused_result));
/* Rebuilds, once per waybill, the bundles that waited for the tracking stored since the last
 * call (consumer thread, end of each batch). Returns -1 only on a transient failure. */
int ingest_batch_end(PGconn *c) __attribute__((warn_unused_result));

/* ---- bundle.c ---- */

/* Creates (first time, evidence_collected) or rebuilds (evidence_updated, version + 1) the
 * bundle of a complaint whose bundles row exists; locks that row. 0 or -1. */
int bundle_build(PGconn *c, const char *complaint_id, bool first)
    __attribute__((warn_unused_result));
/* The bundles row as a build reads it (row_sql in bundle.c; a RETURNING list too). */
#define BUNDLE_ROW_COLS                                                                            \
	"complaint_no, waybill_no, category, subcategory, version, confirmed::text, "              \
	"COALESCE(confirmed_by, ''), COALESCE(to_char(confirmed_at AT TIME ZONE 'UTC', "           \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), '')"
/* bundle_build's first build of a bundle this transaction has just inserted: row is that row
 * (BUNDLE_ROW_COLS, from the insert's RETURNING; owned from here on, freed either way). It also
 * marks the parcel (waybill_no) as waiting for tracking when it has no scan yet. 0 or -1. */
int bundle_build_fresh(PGconn *c, const char *complaint_id, PGresult *row)
    __attribute__((warn_unused_result));
/* Rebuilds every open bundle of the waybill that was built without tracking. */
int bundle_rebuild_untracked(PGconn *c, const char *waybill_no) __attribute__((warn_unused_result));

/* ---- handlers.c ---- */
extern const struct consumer_handler evidence_handlers[];
extern const size_t evidence_nhandlers;
extern const struct consumer_set_handler evidence_set_handlers[];
extern const size_t evidence_nset_handlers;

/* ---- api.c ---- */
void api_push_scans(struct http_req *r, void *arg);
void api_get_evidence(struct http_req *r, void *arg);
void api_confirm(struct http_req *r, void *arg);
void api_answer(struct http_req *r, void *arg);
void api_parcel_trajectory(struct http_req *r, void *arg);
void api_complaint_trajectory(struct http_req *r, void *arg);

/* ---- tasks.c ---- */
int tasks_stuck(PGconn *c, void *arg);
int tasks_partitions(PGconn *c, void *arg);
/* Evidence requests past due_at and unanswered: one cp.complaint.evidence_request_overdue each
 * (the facility is reminded), and EVIDENCE_ESCALATE_AFTER_SECONDS later, still unanswered, one
 * cp.complaint.evidence_request_escalated (tasks.c). 1 when a full batch went out (run
 * again), 0, or -1 on error. */
int tasks_overdue_requests(PGconn *c, void *arg) __attribute__((warn_unused_result));

#endif
