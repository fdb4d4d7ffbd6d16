/* Event handlers: tracking scans (stored once each), classified complaints (their evidence
 * bundle), and closing/reopening (a closed complaint's bundle is no longer rebuilt when
 * late tracking arrives). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification.pb-c.h"
#include "evidence.h"
#include "followup.pb-c.h"
#include "pg.h"
#include "topics.h"
#include "tracking.pb-c.h"

struct first_problem {
	char *buf;
	size_t len;
	int n;
};

static void keep_first(const char *field, const char *problem, void *arg)
{
	struct first_problem *f = arg;
	if (f->n++ == 0)
		snprintf(f->buf, f->len, "%s %s", field, problem);
}

static int validate_scan(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	struct first_problem f = {errstr, errlen, 0};
	return ingest_check((const void *)m, keep_first, &f) == 0 ? 0 : -1;
}

static int on_scan(PGconn *pg, const struct ce_meta *ce, const char *key, const ProtobufCMessage *m,
		   char *errstr, size_t errlen, void *arg)
{
	return ingest_store(pg, (const void *)m);
}

/* The batch's scans as one set (ingest_store_set); the same rows as on_scan on each. */
static int on_scans(PGconn *pg, const struct consumer_set_item *items, size_t n, char *errstr,
		    size_t errlen, void *arg)
{
	const Cp__TrackingEvent **scans = malloc(n * sizeof(*scans));
	if (!scans)
		return -1;
	for (size_t i = 0; i < n; i++)
		scans[i] = (const void *)items[i].m;
	int rc = ingest_store_set(pg, scans, n);
	free(scans);
	return rc;
}

static int on_scans_end(PGconn *pg, void *arg)
{
	return ingest_batch_end(pg);
}

static int validate_classified(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__ComplaintClassified *c = (const void *)m;
	if (strlen(c->complaint_id) != 36 || !c->complaint_no[0]) {
		snprintf(errstr, errlen, "complaint_id and complaint_no are required");
		return -1;
	}
	return 0;
}

/* Classified again: a person corrected the category (classification announces the case
 * again). The bundle follows the new sub-category: its findings, evidence requests and
 * preliminary responsibility are rebuilt for it and announced as evidence_updated (a person's
 * confirmed responsibility stays theirs). The same category again changes nothing. */
static int follow_category(PGconn *pg, const Cp__ComplaintClassified *c)
{
	const char *p[] = {c->complaint_id, c->category, c->subcategory};
	PGresult *r = pg_query(pg,
			       "UPDATE bundles SET category = $2, subcategory = $3 WHERE "
			       "complaint_id = $1::uuid AND (category, subcategory) IS DISTINCT "
			       "FROM ($2, $3) RETURNING 1",
			       3, p);
	if (!r)
		return -1;
	bool changed = PQntuples(r) == 1;
	PQclear(r);
	return changed ? bundle_build(pg, c->complaint_id, false) : 0;
}

/* Whom the complaint is about (that person never confirms its responsibility), the bundle's
 * row when it is new, and the parcel row, locked before the scans are read (a scan committing
 * meanwhile either is seen by the build, or sees pending_bundle and rebuilds the bundle; see
 * ingest_store), in one statement where there were three (issue 14). It returns the new
 * bundle's row; none when the bundle existed. */
static const char classified_sql[] =
    "WITH t AS (INSERT INTO case_people (complaint_id, target_kind, target_id) VALUES "
    "($1::uuid, $2, $3) ON CONFLICT (complaint_id) DO UPDATE SET target_kind = "
    "EXCLUDED.target_kind, target_id = EXCLUDED.target_id, updated_at = now()), b AS (INSERT "
    "INTO bundles (complaint_id, complaint_no, waybill_no, category, subcategory, version, "
    "tracking_found, scan_count) VALUES ($1::uuid, $4, $5, $6, $7, 0, false, 0) ON CONFLICT "
    "(complaint_id) DO NOTHING RETURNING " BUNDLE_ROW_COLS "), p AS (INSERT INTO parcels AS p "
    "(waybill_no) SELECT waybill_no FROM b WHERE waybill_no <> '' ON CONFLICT (waybill_no) DO "
    "UPDATE SET pending_bundle = p.pending_bundle) SELECT * FROM b";

static int on_classified(PGconn *pg, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ComplaintClassified *c = (const void *)m;
	const char *p[] = {c->complaint_id,
			   c->target ? c->target->kind : "",
			   c->target ? c->target->id : "",
			   c->complaint_no,
			   c->waybill_no,
			   c->category,
			   c->subcategory};
	PGresult *r = pg_query(pg, classified_sql, 7, p);
	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return follow_category(pg, c);
	}
	return bundle_build_fresh(pg, c->complaint_id, r);
}

static int validate_assigned(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__ComplaintAssignment *a = (const void *)m;
	if (strlen(a->complaint_id) != 36) {
		snprintf(errstr, errlen, "complaint_id is required");
		return -1;
	}
	return 0;
}

/* The owner may confirm the responsibility of their own case (accepted or reassigned; the
 * event carries the owner after it). */
static int on_assigned(PGconn *pg, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ComplaintAssignment *a = (const void *)m;
	if (strcmp(a->action, "accepted") != 0 && strcmp(a->action, "reassigned") != 0)
		return 0;
	const char *p[] = {a->complaint_id, a->owner_staff_id};
	return pg_exec(pg,
		       "INSERT INTO case_people (complaint_id, owner_staff_id) VALUES ($1::uuid, "
		       "$2) ON CONFLICT (complaint_id) DO UPDATE SET owner_staff_id = "
		       "EXCLUDED.owner_staff_id, updated_at = now()",
		       2, p);
}

static int validate_followup(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__FollowupEvent *f = (const void *)m;
	if (strlen(f->complaint_id) != 36) {
		snprintf(errstr, errlen, "complaint_id is required");
		return -1;
	}
	return 0;
}

static int on_closed(PGconn *pg, const struct ce_meta *ce, const char *key,
		     const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__FollowupEvent *f = (const void *)m;
	const char *p[] = {f->complaint_id};
	return pg_exec(pg,
		       "UPDATE bundles SET closed_at = COALESCE(closed_at, now()) WHERE "
		       "complaint_id = $1::uuid",
		       1, p);
}

static int on_reopened(PGconn *pg, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__FollowupEvent *f = (const void *)m;
	const char *p[] = {f->complaint_id};
	return pg_exec(pg, "UPDATE bundles SET closed_at = NULL WHERE complaint_id = $1::uuid", 1,
		       p);
}

const struct consumer_handler evidence_handlers[] = {
    {TOPIC_TRACKING, "cp.parcel.scanned", &cp__tracking_event__descriptor, validate_scan, on_scan},
    {TOPIC_CLASSIFIED, "cp.complaint.classified", &cp__complaint_classified__descriptor,
     validate_classified, on_classified},
    {TOPIC_CLASSIFIED, "cp.complaint.assigned", &cp__complaint_assignment__descriptor,
     validate_assigned, on_assigned},
    {TOPIC_FOLLOWUP, "cp.complaint.closed", &cp__followup_event__descriptor, validate_followup,
     on_closed},
    {TOPIC_FOLLOWUP, "cp.complaint.reopened", &cp__followup_event__descriptor, validate_followup,
     on_reopened},
};
const size_t evidence_nhandlers = sizeof(evidence_handlers) / sizeof(evidence_handlers[0]);

/* A scan is idempotent by its own (carrier, scan_id) key (scan_keys): no inbox row. */
const struct consumer_set_handler evidence_set_handlers[] = {
    {TOPIC_TRACKING, "cp.parcel.scanned", on_scans, on_scans_end, true},
};
const size_t evidence_nset_handlers =
    sizeof(evidence_set_handlers) / sizeof(evidence_set_handlers[0]);
