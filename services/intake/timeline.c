/* The customer's timeline: intake follows the other services' events and records each step
 * (with its time) on the case it owns, so GET /v1/complaints/{no} answers from one schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification.pb-c.h"
#include "evidence.pb-c.h"
#include "followup.pb-c.h"
#include "ids.h"
#include "intake.h"
#include "pg.h"
#include "resolution.pb-c.h"
#include "sla.pb-c.h"
#include "topics.h"
#include "tracking.pb-c.h"
#include "tstamp.h"

/* Adds a step and, when status is not NULL, moves the case to it. A closed case stays closed
 * unless the step reopens it. */
static int step(PGconn *c, const char *id, const char *name, const char *status,
		const char *detail_json)
{
	const char *p[] = {id, name, detail_json ? detail_json : "{}"};
	if (pg_exec(c,
		    "INSERT INTO timeline (complaint_id, step, detail) SELECT id, $2, $3::jsonb "
		    "FROM complaints WHERE id = $1::uuid",
		    3, p) != 0)
		return -1;
	if (!status)
		return 0;
	const char *u[] = {id, status};
	return pg_exec(c,
		       "UPDATE complaints SET status = $2, updated_at = now(), closed_at = CASE "
		       "WHEN $2 = 'closed' THEN now() ELSE NULL END WHERE id = $1::uuid AND "
		       "(status <> 'closed' OR $2 = 'reopened')",
		       2, u);
}

static int has_id(const char *id, char *errstr, size_t errlen)
{
	if (!ids_is_uuid(id)) {
		snprintf(errstr, errlen, "complaint_id must be a UUID");
		return -1;
	}
	return 0;
}

/* A small JSON object of one or two string members (k2 may be NULL). Thread-local buffer. */
static char *detail(const char *k1, const char *v1, const char *k2, const char *v2)
{
	static __thread char buf[1024];
	json_t *j = json_object();
	json_object_set_new(j, k1, json_string(v1 ? v1 : ""));
	if (k2)
		json_object_set_new(j, k2, json_string(v2 ? v2 : ""));
	char *s = json_dumps(j, JSON_COMPACT);
	snprintf(buf, sizeof(buf), "%s", s ? s : "{}");
	free(s);
	json_decref(j);
	return buf;
}

static int v_classified(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__ComplaintClassified *)m)->complaint_id, e, n);
}

static int on_classified(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintClassified *ev = (const void *)m;
	char d[256];
	snprintf(d, sizeof(d), "{\"category\":\"%s\",\"subcategory\":\"%s\",\"urgency\":\"%s\"}",
		 ev->category, ev->subcategory, ev->urgency);
	char prio[8];
	snprintf(prio, sizeof(prio), "%d", ev->priority);
	const char *p[] = {ev->complaint_id, prio};
	if (ev->priority > 0 &&
	    pg_exec(c,
		    "UPDATE complaints SET priority = LEAST(priority, $2::int) WHERE id = $1::uuid",
		    2, p) != 0)
		return -1;
	return step(c, ev->complaint_id, "classified", "classified", d);
}

static int v_assignment(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__ComplaintAssignment *)m)->complaint_id, e, n);
}

static int on_assignment(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintAssignment *ev = (const void *)m;
	if (strcmp(ev->action, "accepted") == 0)
		return step(c, ev->complaint_id, "owner_assigned", "assigned",
			    detail("owner", ev->owner_staff_id, NULL, NULL));
	if (strcmp(ev->action, "escalated") == 0)
		return step(c, ev->complaint_id, "escalated", NULL, NULL);
	return 0;
}

static int v_first_response(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__FirstResponse *)m)->complaint_id, e, n);
}

static int on_first_response(PGconn *c, const struct ce_meta *ce, const char *key,
			     const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__FirstResponse *ev = (const void *)m;
	const char *p[] = {ev->complaint_id, ev->next_update_by};
	if (ev->next_update_by[0] &&
	    pg_exec(c, "UPDATE complaints SET next_update_by = $2::timestamptz WHERE id = $1::uuid",
		    2, p) != 0)
		return -1;
	return step(c, ev->complaint_id, "first_response", NULL,
		    detail("scenario", ev->scenario, "text", ev->text));
}

static int v_evidence(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__EvidenceBundle *)m)->complaint_id, e, n);
}

static int on_evidence(PGconn *c, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__EvidenceBundle *ev = (const void *)m;
	const char *stage = ev->responsibility ? ev->responsibility->stage : "unknown";
	if (strcmp(ce->type, "cp.complaint.evidence_updated") == 0)
		return step(c, ev->complaint_id, "evidence_updated", NULL,
			    detail("stage", stage, NULL, NULL));
	return step(c, ev->complaint_id, "evidence_found", "verified",
		    detail("stage", stage, NULL, NULL));
}

static int v_resolution(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__ResolutionDecided *)m)->complaint_id, e, n);
}

static const char *resolution_status(const char *s)
{
	if (strcmp(s, "pending_approval") == 0)
		return "pending_approval";
	if (strcmp(s, "executed") == 0)
		return "executed";
	if (strcmp(s, "failed") == 0)
		return "execution_failed";
	return "resolution_proposed";
}

static int on_resolution(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ResolutionDecided *ev = (const void *)m;
	char decision[512] = "";
	for (size_t i = 0; i < ev->n_remedies; i++) {
		size_t len = strlen(decision);
		long long fen = ev->remedies[i]->amount ? ev->remedies[i]->amount->amount_fen : 0;
		snprintf(decision + len, sizeof(decision) - len, "%s%s%s", i ? ", " : "",
			 ev->remedies[i]->kind, "");
		if (fen > 0) {
			len = strlen(decision);
			snprintf(decision + len, sizeof(decision) - len, " %lld.%02lld CNY",
				 fen / 100, fen % 100);
		}
	}
	const char *p[] = {ev->complaint_id, decision};
	if (decision[0] && strcmp(ev->status, "rejected") != 0 &&
	    pg_exec(c, "UPDATE complaints SET decision = $2 WHERE id = $1::uuid", 2, p) != 0)
		return -1;
	char name[64];
	snprintf(name, sizeof(name), "plan_%s", ev->status);
	return step(c, ev->complaint_id, name, resolution_status(ev->status),
		    detail("decision", decision, NULL, NULL));
}

static int v_followup(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__FollowupEvent *)m)->complaint_id, e, n);
}

static int on_followup(PGconn *c, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__FollowupEvent *ev = (const void *)m;
	if (strcmp(ce->type, "cp.complaint.closed") == 0)
		return step(c, ev->complaint_id, "closed", "closed",
			    detail("reason", ev->close_reason, NULL, NULL));
	if (strcmp(ce->type, "cp.complaint.reopened") == 0)
		return step(c, ev->complaint_id, "reopened", "reopened", NULL);
	if (strcmp(ce->type, "cp.complaint.survey_answered") == 0)
		return step(c, ev->complaint_id, "survey_answered", NULL, NULL);
	return 0;
}

static int v_sla(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__SlaEvent *)m)->complaint_id, e, n);
}

static int on_sla(PGconn *c, const struct ce_meta *ce, const char *key, const ProtobufCMessage *m,
		  char *e, size_t n, void *arg)
{
	const Cp__SlaEvent *ev = (const void *)m;
	if (strcmp(ev->kind, "breach") != 0)
		return 0;
	return step(c, ev->complaint_id, "escalated", NULL,
		    detail("clock", ev->clock, "escalated_to", ev->escalated_to));
}

/* Intake's projection of pickup scans (waybill -> picked_up_at) for the filing window. */
static int v_scan(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__TrackingEvent *ev = (const void *)m;
	int64_t ms;
	if (!ev->waybill_no[0]) {
		snprintf(e, n, "waybill_no is required");
		return -1;
	}
	if (ev->code == CP__SCAN_CODE__SCAN_PICKED_UP && tstamp_parse(ev->occurred_at, &ms) != 0) {
		snprintf(e, n, "occurred_at of a pickup scan must be RFC 3339");
		return -1;
	}
	return 0;
}

static int on_scan(PGconn *c, const struct ce_meta *ce, const char *key, const ProtobufCMessage *m,
		   char *e, size_t n, void *arg)
{
	const Cp__TrackingEvent *ev = (const void *)m;
	if (ev->code != CP__SCAN_CODE__SCAN_PICKED_UP)
		return 0;
	const char *p[] = {ev->waybill_no, ev->occurred_at};
	return pg_exec(
	    c,
	    "INSERT INTO pickups (waybill_no, picked_up_at) VALUES ($1, $2::timestamptz) "
	    "ON CONFLICT (waybill_no) DO UPDATE SET picked_up_at = "
	    "LEAST(pickups.picked_up_at, EXCLUDED.picked_up_at), updated_at = now()",
	    2, p);
}

static int v_stuck(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__ParcelException *x = (const void *)m;
	if (x->waybill_no[0] && strlen(x->waybill_no) < 32)
		return 0;
	snprintf(e, n, "waybill_no is required");
	return -1;
}

static int on_stuck(PGconn *c, const struct ce_meta *ce, const char *key, const ProtobufCMessage *m,
		    char *e, size_t n, void *arg)
{
	const Cp__ParcelException *x = (const void *)m;
	char text[512];
	if (!x->proactive_case)
		return 0;
	snprintf(text, sizeof(text),
		 "主动预警：包裹在 %s 停滞超过 %lld 小时。/ Proactive case: the parcel has had no "
		 "scan at %s for over %lld hours.",
		 x->facility_id, (long long)(x->stuck_seconds / 3600), x->facility_id,
		 (long long)(x->stuck_seconds / 3600));
	return intake_open_proactive(c, x->waybill_no, text);
}

const struct consumer_handler intake_handlers[] = {
    {TOPIC_PARCEL_EXCEPTION, "cp.parcel.stuck", &cp__parcel_exception__descriptor, v_stuck,
     on_stuck},
    {TOPIC_TRACKING, "cp.parcel.scanned", &cp__tracking_event__descriptor, v_scan, on_scan},
    {TOPIC_CLASSIFIED, "cp.complaint.classified", &cp__complaint_classified__descriptor,
     v_classified, on_classified},
    {TOPIC_CLASSIFIED, "cp.complaint.assigned", &cp__complaint_assignment__descriptor, v_assignment,
     on_assignment},
    {TOPIC_CLASSIFIED, "cp.complaint.escalated", &cp__complaint_assignment__descriptor,
     v_assignment, on_assignment},
    {TOPIC_CLASSIFIED, "cp.complaint.first_response", &cp__first_response__descriptor,
     v_first_response, on_first_response},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_collected", &cp__evidence_bundle__descriptor,
     v_evidence, on_evidence},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_updated", &cp__evidence_bundle__descriptor, v_evidence,
     on_evidence},
    {TOPIC_RESOLUTION, NULL, &cp__resolution_decided__descriptor, v_resolution, on_resolution},
    {TOPIC_FOLLOWUP, NULL, &cp__followup_event__descriptor, v_followup, on_followup},
    {TOPIC_SLA, NULL, &cp__sla_event__descriptor, v_sla, on_sla},
};
const size_t intake_nhandlers = sizeof(intake_handlers) / sizeof(intake_handlers[0]);
