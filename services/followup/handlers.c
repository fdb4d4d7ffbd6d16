/* Event handlers: the case projection from every topic (for the quality figures), its event
 * history, and one customer message per step: received, first response, owner assigned,
 * evidence found, plan proposed (never while pending approval), plan executed (with the
 * survey link). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification.pb-c.h"
#include "evidence.pb-c.h"
#include "followup.h"
#include "followup.pb-c.h"
#include "ids.h"
#include "intake.pb-c.h"
#include "pg.h"
#include "resolution.pb-c.h"
#include "sla.pb-c.h"
#include "topics.h"
#include "tstamp.h"

static int validate_id(const char *id, const char *no, char *errstr, size_t errlen)
{
	if (!ids_is_uuid(id)) {
		snprintf(errstr, errlen, "complaint_id must be a UUID");
		return -1;
	}
	if (!no || !no[0]) {
		snprintf(errstr, errlen, "complaint_no is required");
		return -1;
	}
	return 0;
}

/* An event's RFC 3339 time, or now when absent or malformed. */
static const char *event_time(const char *at, char buf[TSTAMP_LEN])
{
	int64_t ms;
	if (at && at[0] && tstamp_parse(at, &ms) == 0)
		return at;
	tstamp_format(tstamp_now_ms(), buf);
	return buf;
}

static int update(PGconn *c, const char *sql, int n, const char *const *p)
{
	return pg_exec(c, sql, n, p);
}

/* ---- complaint.received.v1 ---------------------------------------------------------------- */

static int v_received(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__ComplaintReceived *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

static int on_received(PGconn *c, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintReceived *r = (const void *)m;
	char buf[TSTAMP_LEN], cnt[16];
	struct fu_vars v = {0};
	snprintf(cnt, sizeof(cnt), "%d", r->repeat_count);
	const char *p[] = {r->complaint_id,
			   r->customer_ref,
			   strcmp(r->language, "en") == 0 ? "en" : "zh-CN",
			   r->channel,
			   r->outlet_id,
			   event_time(r->received_at, buf),
			   r->repeat ? "t" : "f",
			   cnt};
	if (fu_case_ensure(c, r->complaint_id, r->complaint_no) != 0 ||
	    update(c,
		   "UPDATE cases SET customer_ref = $2, language = $3, channel = $4, outlet_id = "
		   "CASE WHEN $5 = '' THEN outlet_id ELSE $5 END, received_at = $6::timestamptz, "
		   "is_repeat = $7::boolean, repeat_count = GREATEST(repeat_count, $8::int), "
		   "updated_at = now() WHERE complaint_id = $1",
		   8, p) != 0 ||
	    fu_history(c, r->complaint_id, ce->type, NULL) != 0)
		return -1;
	return fu_notify(c, r->complaint_id, "received", 0, &v, false);
}

static int v_message(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__ComplaintMessageAdded *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

static int on_message(PGconn *c, const struct ce_meta *ce, const char *key,
		      const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintMessageAdded *r = (const void *)m;
	char cnt[16], detail[96];
	snprintf(cnt, sizeof(cnt), "%d", r->repeat_count);
	snprintf(detail, sizeof(detail), "{\"kind\":\"%s\"}",
		 strcmp(r->kind, "repeat") == 0 ? "repeat" : "reply");
	const char *p[] = {r->complaint_id, cnt};
	if (fu_case_ensure(c, r->complaint_id, r->complaint_no) != 0 ||
	    fu_history(c, r->complaint_id, ce->type, detail) != 0)
		return -1;
	if (strcmp(r->kind, "repeat") != 0)
		return 0;
	return update(c,
		      "UPDATE cases SET repeat_count = GREATEST(repeat_count + 1, $2::int), "
		      "updated_at = now() WHERE complaint_id = $1",
		      2, p);
}

/* ---- complaint.classified.v1 -------------------------------------------------------------- */

static int v_classified(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__ComplaintClassified *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

static int on_classified(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintClassified *r = (const void *)m;
	char prio[16];
	snprintf(prio, sizeof(prio), "%d", r->priority > 0 ? r->priority : 3);
	const char *p[] = {r->complaint_id, r->category, r->subcategory, prio, r->outlet_id};
	if (fu_case_ensure(c, r->complaint_id, r->complaint_no) != 0)
		return -1;
	if (update(c,
		   "UPDATE cases SET category = $2, subcategory = $3, priority = LEAST(priority, "
		   "$4::int), outlet_id = CASE WHEN $5 = '' THEN outlet_id ELSE $5 END, updated_at "
		   "= now() WHERE complaint_id = $1",
		   5, p) != 0)
		return -1;
	return fu_history(c, r->complaint_id, ce->type, NULL);
}

static int v_assignment(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__ComplaintAssignment *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

static int on_assignment(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintAssignment *r = (const void *)m;
	char buf[TSTAMP_LEN];
	struct fu_vars v = {0};
	if (fu_case_ensure(c, r->complaint_id, r->complaint_no) != 0 ||
	    fu_history(c, r->complaint_id, ce->type, NULL) != 0)
		return -1;
	if (strcmp(ce->type, "cp.complaint.escalated") == 0)
		return update(c,
			      "UPDATE cases SET escalation_level = escalation_level + 1 WHERE "
			      "complaint_id = $1",
			      1, (const char *[]){r->complaint_id});
	if (strcmp(r->action, "accepted") != 0)
		return 0;
	const char *p[] = {r->complaint_id, r->owner_staff_id, event_time(r->at, buf)};
	if (update(c,
		   "UPDATE cases SET owner_staff_id = $2, assigned_at = LEAST(assigned_at, "
		   "$3::timestamptz), updated_at = now() WHERE complaint_id = $1",
		   3, p) != 0)
		return -1;
	v.owner = r->owner_staff_id;
	return fu_notify(c, r->complaint_id, "owner_assigned", -1, &v, false);
}

static int v_first(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__FirstResponse *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

static int on_first(PGconn *c, const struct ce_meta *ce, const char *key, const ProtobufCMessage *m,
		    char *e, size_t n, void *arg)
{
	const Cp__FirstResponse *r = (const void *)m;
	char buf[TSTAMP_LEN];
	struct fu_vars v = {0};
	const char *p[] = {r->complaint_id, event_time(r->at, buf)};
	if (fu_case_ensure(c, r->complaint_id, r->complaint_no) != 0 ||
	    update(c,
		   "UPDATE cases SET first_response_at = LEAST(first_response_at, "
		   "$2::timestamptz), updated_at = now() WHERE complaint_id = $1",
		   2, p) != 0 ||
	    fu_history(c, r->complaint_id, ce->type, NULL) != 0)
		return -1;
	v.text = r->text;
	return fu_notify(c, r->complaint_id, "first_response", 0, &v, true);
}

/* ---- complaint.evidence.v1 ---------------------------------------------------------------- */

static int v_evidence(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__EvidenceBundle *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

static int on_evidence(PGconn *c, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__EvidenceBundle *r = (const void *)m;
	struct fu_vars v = {0};
	const char *party = r->responsibility ? r->responsibility->party : "";
	const char *p[] = {r->complaint_id, party};
	if (fu_case_ensure(c, r->complaint_id, r->complaint_no) != 0 ||
	    update(
		c,
		"UPDATE cases SET evidence_at = coalesce(evidence_at, now()), responsible_party = "
		"CASE WHEN $2 IN ('', 'unknown') AND responsible_party <> '' THEN "
		"responsible_party ELSE $2 END, updated_at = now() WHERE complaint_id = $1",
		2, p) != 0 ||
	    fu_history(c, r->complaint_id, ce->type, NULL) != 0)
		return -1;
	return fu_notify(c, r->complaint_id, "evidence_found", -1, &v, false);
}

/* ---- complaint.resolution.v1 -------------------------------------------------------------- */

static int v_resolution(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__ResolutionDecided *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

static char *remedies_json(const Cp__ResolutionDecided *r)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < r->n_remedies; i++)
		json_array_append_new(
		    arr, json_pack("{s:s, s:I}", "kind", r->remedies[i]->kind, "amount_fen",
				   (json_int_t)(r->remedies[i]->amount
						    ? r->remedies[i]->amount->amount_fen
						    : 0)));
	char *s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return s;
}

static int plan_proposed(PGconn *c, const Cp__ResolutionDecided *r)
{
	struct fu_vars v = {0};
	char plan[1024];
	char *json = remedies_json(r);
	const char *lang = strcmp(r->language, "en") == 0 ? "en" : "zh-CN";
	fu_plan_text(json ? json : "[]", lang, plan, sizeof(plan));
	free(json);
	v.plan = plan;
	if (update(c,
		   "UPDATE cases SET proposed_at = coalesce(proposed_at, now()) WHERE complaint_id "
		   "= $1",
		   1, (const char *[]){r->complaint_id}) != 0)
		return -1;
	return fu_notify(c, r->complaint_id, "plan_proposed", -1, &v, false);
}

static int plan_executed(PGconn *c, const Cp__ResolutionDecided *r)
{
	struct fu_vars v = {0};
	char fen[24], due[24];
	snprintf(fen, sizeof(fen), "%lld", (long long)(r->total ? r->total->amount_fen : 0));
	snprintf(due, sizeof(due), "%lld", followup_cfg.survey_timeout_s);
	const char *p[] = {r->complaint_id, fen, due};
	if (update(c,
		   "UPDATE cases SET executed_at = now(), compensation_fen = $2, status = "
		   "'resolved', survey_due_at = now() + make_interval(secs => $3::int), updated_at "
		   "= now() WHERE complaint_id = $1 AND status <> 'closed'",
		   3, p) != 0)
		return -1;
	char *url = fu_survey_url(r->complaint_no);
	if (!url)
		return -1;
	v.survey_url = url;
	int rc = fu_notify(c, r->complaint_id, "plan_executed", -1, &v, false);
	free(url);
	return rc;
}

static int on_resolution(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ResolutionDecided *r = (const void *)m;
	char detail[160];
	snprintf(detail, sizeof(detail), "{\"status\":\"%.40s\",\"proposal_id\":\"%.40s\"}",
		 r->status, r->proposal_id);
	if (fu_case_ensure(c, r->complaint_id, r->complaint_no) != 0 ||
	    fu_history(c, r->complaint_id, ce->type, detail) != 0)
		return -1;
	/* pending_approval must never reach the customer */
	if (strcmp(ce->type, "cp.complaint.resolution_approved") == 0 ||
	    (strcmp(ce->type, "cp.complaint.resolution_proposed") == 0 &&
	     strcmp(r->status, "proposed") == 0))
		return plan_proposed(c, r);
	if (strcmp(ce->type, "cp.complaint.resolution_executed") == 0)
		return plan_executed(c, r);
	return 0;
}

/* ---- complaint.sla.v1 --------------------------------------------------------------------- */

static int v_sla(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__SlaEvent *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

static int on_sla(PGconn *c, const struct ce_meta *ce, const char *key, const ProtobufCMessage *m,
		  char *e, size_t n, void *arg)
{
	const Cp__SlaEvent *r = (const void *)m;
	char level[16], detail[128];
	snprintf(level, sizeof(level), "%d", r->escalation_level);
	snprintf(detail, sizeof(detail), "{\"clock\":\"%.32s\",\"kind\":\"%.16s\"}", r->clock,
		 r->kind);
	const char *p[] = {r->complaint_id, r->clock, r->kind};
	if (fu_case_ensure(c, r->complaint_id, r->complaint_no) != 0 ||
	    pg_exec(c, "INSERT INTO sla_events (complaint_id, clock, kind) VALUES ($1, $2, $3)", 3,
		    p) != 0 ||
	    fu_history(c, r->complaint_id, ce->type, detail) != 0)
		return -1;
	return update(c,
		      "UPDATE cases SET escalation_level = GREATEST(escalation_level, $2::int) "
		      "WHERE complaint_id = $1",
		      2, (const char *[]){r->complaint_id, level});
}

const struct consumer_handler followup_handlers[] = {
    {TOPIC_RECEIVED, "cp.complaint.received", &cp__complaint_received__descriptor, v_received,
     on_received},
    {TOPIC_RECEIVED, "cp.complaint.message_added", &cp__complaint_message_added__descriptor,
     v_message, on_message},
    {TOPIC_CLASSIFIED, "cp.complaint.classified", &cp__complaint_classified__descriptor,
     v_classified, on_classified},
    {TOPIC_CLASSIFIED, "cp.complaint.assigned", &cp__complaint_assignment__descriptor, v_assignment,
     on_assignment},
    {TOPIC_CLASSIFIED, "cp.complaint.escalated", &cp__complaint_assignment__descriptor,
     v_assignment, on_assignment},
    {TOPIC_CLASSIFIED, "cp.complaint.first_response", &cp__first_response__descriptor, v_first,
     on_first},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_collected", &cp__evidence_bundle__descriptor,
     v_evidence, on_evidence},
    {TOPIC_RESOLUTION, NULL, &cp__resolution_decided__descriptor, v_resolution, on_resolution},
    {TOPIC_SLA, NULL, &cp__sla_event__descriptor, v_sla, on_sla},
};
const size_t followup_nhandlers = sizeof(followup_handlers) / sizeof(followup_handlers[0]);
