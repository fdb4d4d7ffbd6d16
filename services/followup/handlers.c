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
#include "notify.h"
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

/* A stuck parcel's proactive case: nobody complained, so nobody is told "we received your
 * complaint" (the first response of its classification included, should it have come first:
 * it waited, unsent, for this event). Its recipient, when the tracking feed named one, is
 * told of the delay and its reason instead, once per case, on their channel, in their
 * language, and not in quiet hours. */
static int proactive_received(PGconn *c, const Cp__ComplaintReceived *r)
{
	char text[512];
	const char *p[] = {r->complaint_id};
	if (pg_exec(c,
		    "DELETE FROM notifications WHERE complaint_id = $1 AND recipient = 'customer' "
		    "AND step IN ('received', 'first_response') AND status = 'queued' AND "
		    "attempts = 0",
		    1, p) != 0)
		return -1;
	if (!ids_customer_ref_valid(r->customer_ref))
		return 0;
	const char *lang = strcmp(r->language, "en") == 0 ? "en" : "zh-CN";
	const char *q[] = {r->delay_reason, lang};
	PGresult *why =
	    pg_query(c, "SELECT text FROM delay_reasons WHERE code = $1 AND language = $2", 2, q);
	if (!why)
		return -1; /* transient: the batch is retried, the notice is not sent without it */
	fu_delay_text(PQntuples(why) ? PQgetvalue(why, 0, 0) : NULL, r->delay_place, r->delay_hours,
		      r->waybill_no, lang, text, sizeof(text));
	PQclear(why);
	struct fu_vars v = {.text = text};
	return fu_notify(c, r->complaint_id, "delay_notice", 0, &v, false);
}

static int on_received(PGconn *c, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintReceived *r = (const void *)m;
	char buf[TSTAMP_LEN], cnt[16];
	struct fu_vars v = {0};
	snprintf(cnt, sizeof(cnt), "%d", r->repeat_count);
	/* the waybill and the earlier complaint are what FCR's repeat check looks for */
	const char *prev = ids_is_uuid(r->previous_complaint_id) ? r->previous_complaint_id : NULL;
	const char *p[] = {r->complaint_id,
			   r->customer_ref,
			   strcmp(r->language, "en") == 0 ? "en" : "zh-CN",
			   r->channel,
			   r->outlet_id,
			   event_time(r->received_at, buf),
			   r->repeat ? "t" : "f",
			   cnt,
			   r->waybill_no,
			   prev,
			   r->description_redacted,
			   r->preferred_contact,
			   r->target ? fu_target_staff(r->target->kind, r->target->id) : ""};
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, NULL) != 0 ||
	    update(c,
		   "UPDATE cases SET customer_ref = $2, language = $3, channel = $4, outlet_id = "
		   "CASE WHEN $5 = '' THEN outlet_id ELSE $5 END, received_at = $6::timestamptz, "
		   "is_repeat = $7::boolean, repeat_count = GREATEST(repeat_count, $8::int), "
		   "waybill_no = $9, previous_complaint_id = $10::uuid, description = $11, "
		   "preferred_contact = $12, target_staff_id = CASE WHEN $13 = '' THEN "
		   "target_staff_id ELSE $13 END, updated_at = now() WHERE complaint_id = $1",
		   13, p) != 0)
		return -1;
	if (strcmp(r->channel, "proactive") == 0)
		return proactive_received(c, r);
	return fu_notify(c, r->complaint_id, "received", 0, &v, false);
}

static int v_message(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__ComplaintMessageAdded *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

/* A customer joined the proactive case (kind adopted): from now on the case's messages go to
 * them, in their language and by their preferred contact. */
static int adopt_complainant(PGconn *c, const Cp__ComplaintMessageAdded *r)
{
	if (!r->customer_ref[0])
		return 0;
	const char *p[] = {r->complaint_id, r->customer_ref,
			   strcmp(r->language, "en") == 0 ? "en" : "zh-CN", r->preferred_contact};
	return update(c,
		      "UPDATE cases SET customer_ref = $2, language = $3, preferred_contact = "
		      "CASE WHEN $4 = '' THEN preferred_contact ELSE $4 END, updated_at = now() "
		      "WHERE complaint_id = $1",
		      4, p);
}

static const char *message_kind(const char *kind)
{
	if (strcmp(kind, "repeat") == 0 || strcmp(kind, "adopted") == 0)
		return kind;
	return "reply";
}

static int on_message(PGconn *c, const struct ce_meta *ce, const char *key,
		      const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintMessageAdded *r = (const void *)m;
	char cnt[16], detail[96];
	snprintf(cnt, sizeof(cnt), "%d", r->repeat_count);
	snprintf(detail, sizeof(detail), "{\"kind\":\"%s\"}", message_kind(r->kind));
	const char *p[] = {r->complaint_id, cnt};
	/* the customer's own words belong in the conversation staff read */
	const char *words[] = {r->complaint_id, r->text_redacted};
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, detail) != 0)
		return -1;
	if (r->text_redacted[0] &&
	    pg_exec(c,
		    "INSERT INTO messages (complaint_id, author, text, source) VALUES ($1, "
		    "'customer', $2, 'intake')",
		    2, words) != 0)
		return -1;
	if (strcmp(r->kind, "adopted") == 0)
		return adopt_complainant(c, r);
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
	char fr[16], ac[16], ve[16];
	snprintf(fr, sizeof(fr), "%d", r->first_response_s > 0 ? r->first_response_s : 0);
	snprintf(ac, sizeof(ac), "%d", r->accept_s > 0 ? r->accept_s : 0);
	snprintf(ve, sizeof(ve), "%d", r->verification_s > 0 ? r->verification_s : 0);
	const char *p[] = {r->complaint_id,
			   r->category,
			   r->subcategory,
			   prio,
			   r->outlet_id,
			   fr,
			   ac,
			   ve,
			   fu_needs_person_answer(r->category, r->subcategory) ? "t" : "f",
			   r->target ? fu_target_staff(r->target->kind, r->target->id) : ""};
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, NULL) != 0)
		return -1;
	/* the policy's limits are what first-contact, accept and verification compliance
	 * are measured against */
	if (update(c,
		   "UPDATE cases SET category = $2, subcategory = $3, priority = LEAST(priority, "
		   "$4::int), outlet_id = CASE WHEN $5 = '' THEN outlet_id ELSE $5 END, "
		   "first_response_s = $6::int, accept_s = $7::int, verification_s = $8::int, "
		   "needs_person_answer = $9::boolean, target_staff_id = CASE WHEN $10 = '' THEN "
		   "target_staff_id ELSE $10 END, updated_at = now() WHERE complaint_id = $1",
		   10, p) != 0)
		return -1;
	return 0;
}

static int v_assignment(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__ComplaintAssignment *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

/* The owner is whoever the latest accepted or reassigned event names; the first accept
 * (and the first offer) time the accept figure. */
static int on_assignment(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintAssignment *r = (const void *)m;
	char buf[TSTAMP_LEN];
	struct fu_vars v = {0};
	const char *at = event_time(r->at, buf);
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, NULL) != 0)
		return -1;
	if (fu_staff_on_assignment(c, ce, r) != 0)
		return -1;
	/* the person an escalation names supervises the case from then on: they are told of a
	 * plan waiting for approval */
	if (strcmp(ce->type, "cp.complaint.escalated") == 0)
		return update(
		    c,
		    "UPDATE cases SET escalation_level = escalation_level + 1, "
		    "escalated_staff_id = CASE WHEN $2 = '' THEN escalated_staff_id ELSE "
		    "$2 END WHERE complaint_id = $1",
		    2,
		    (const char *[]){r->complaint_id,
				     r->n_staff_ids > 0 && r->staff_ids[0] ? r->staff_ids[0] : ""});
	if (strcmp(ce->type, "cp.complaint.offered") == 0)
		return update(c,
			      "UPDATE cases SET offered_at = LEAST(offered_at, $2::timestamptz), "
			      "updated_at = now() WHERE complaint_id = $1",
			      2, (const char *[]){r->complaint_id, at});
	bool accepted = strcmp(r->action, "accepted") == 0;
	if (!accepted && strcmp(r->action, "reassigned") != 0)
		return 0;
	const char *p[] = {r->complaint_id, r->owner_staff_id, at, accepted ? "t" : "f"};
	if (update(c,
		   "UPDATE cases SET owner_staff_id = $2, assigned_at = CASE WHEN $4::boolean "
		   "THEN LEAST(assigned_at, $3::timestamptz) ELSE assigned_at END, updated_at = "
		   "now() WHERE complaint_id = $1",
		   4, p) != 0)
		return -1;
	if (!accepted)
		return 0;
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
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, NULL) != 0 ||
	    update(c,
		   "UPDATE cases SET first_response_at = LEAST(first_response_at, "
		   "$2::timestamptz), updated_at = now() WHERE complaint_id = $1",
		   2, p) != 0)
		return -1;
	v.text = r->text;
	int waits = fu_case_awaits_complainant(c, r->complaint_id);
	if (waits != 0) /* a proactive case nobody complained about: nothing to answer */
		return waits < 0 ? -1 : 0;
	return fu_notify(c, r->complaint_id, "first_response", 0, &v, true);
}

/* ---- complaint.evidence.v1 ---------------------------------------------------------------- */

static int v_evidence(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__EvidenceBundle *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

/* A courier the evidence ever named as responsible stays barred from acting on the case.
 * The automatic bundle only records the suspected party; the customer hears "verified" and
 * the verification figure stops only when a person confirmed the responsibility
 * (evidence_updated with preliminary false). */
static int on_evidence(PGconn *c, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__EvidenceBundle *r = (const void *)m;
	char buf[TSTAMP_LEN];
	struct fu_vars v = {0};
	const Cp__Responsibility *resp = r->responsibility;
	const char *party = resp ? resp->party : "";
	bool confirmed =
	    resp && !resp->preliminary && strcmp(ce->type, "cp.complaint.evidence_updated") == 0;
	const char *courier =
	    resp && strcmp(resp->party, "courier") == 0 && resp->party_id ? resp->party_id : "";
	const char *p[] = {r->complaint_id, party, confirmed ? "t" : "f",
			   event_time(resp ? resp->confirmed_at : NULL, buf), courier};
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, NULL) != 0 ||
	    update(
		c,
		"UPDATE cases SET evidence_at = coalesce(evidence_at, now()), responsible_party = "
		"CASE WHEN $2 IN ('', 'unknown') AND responsible_party <> '' THEN "
		"responsible_party ELSE $2 END, verified_at = CASE WHEN $3::boolean THEN "
		"LEAST(verified_at, $4::timestamptz) ELSE verified_at END, "
		"responsible_courier_id = CASE WHEN $5 = '' THEN responsible_courier_id ELSE $5 "
		"END, updated_at = now() WHERE complaint_id = $1",
		5, p) != 0)
		return -1;
	if (!confirmed)
		return 0;
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

/* The plan was carried out. Whether the customer is surveyed (and so whether silence may
 * close the case) depends on who decided it: see fu_survey_open. A person's decision in this
 * round is not undone by a later automatic execution; a reopening clears it. */
static int plan_executed(PGconn *c, const Cp__ResolutionDecided *r)
{
	char fen[24];
	snprintf(fen, sizeof(fen), "%lld", (long long)(r->total ? r->total->amount_fen : 0));
	bool person = fu_person_decided(r->approved_by, r->proposed_by);
	const char *p[] = {r->complaint_id, fen, person ? "t" : "f"};
	if (update(c,
		   "UPDATE cases SET executed_at = now(), compensation_fen = $2, "
		   "decided_by_person = decided_by_person OR $3::boolean, status = 'executed', "
		   "updated_at = now() WHERE "
		   "complaint_id = $1 AND status NOT IN ('closed', 'resolved')",
		   3, p) != 0)
		return -1;
	return fu_survey_open(c, r->complaint_id) < 0 ? -1 : 0;
}

static int on_resolution(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ResolutionDecided *r = (const void *)m;
	char detail[160];
	snprintf(detail, sizeof(detail), "{\"status\":\"%.40s\",\"proposal_id\":\"%.40s\"}",
		 r->status, r->proposal_id);
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, detail) != 0)
		return -1;
	/* The customer is told the plan (and its amounts) once a person with enough authority,
	 * or an operator's auto-settlement rule, approved it: the machine's draft and a plan
	 * waiting for a supervisor are promises nobody has made yet (不轻易承诺，承诺必兑现). */
	if (strcmp(ce->type, "cp.complaint.resolution_proposed") == 0)
		return fu_staff_on_plan_pending(c, ce, r);
	if (strcmp(ce->type, "cp.complaint.resolution_approved") == 0)
		return plan_proposed(c, r);
	if (strcmp(ce->type, "cp.complaint.resolution_executed") == 0)
		return plan_executed(c, r);
	return 0;
}

/* ---- complaint.evidence_request.v1 -------------------------------------------------------- */

static int v_overdue(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__EvidenceRequest *r = (const void *)m;
	return validate_id(r->complaint_id, r->complaint_no, e, n);
}

static int on_overdue(PGconn *c, const struct ce_meta *ce, const char *key,
		      const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__EvidenceRequest *r = (const void *)m;
	char detail[160];
	snprintf(detail, sizeof(detail), "{\"kind\":\"%.40s\",\"facility_id\":\"%.64s\"}", r->kind,
		 r->facility_id);
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, detail) != 0)
		return -1;
	return fu_staff_on_evidence_overdue(c, ce, r);
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
	if (strcmp(ce->type, "cp.complaint.clock_changed") == 0)
		return 0; /* the timer's clock snapshots: follow-up keeps warnings and breaches */
	snprintf(level, sizeof(level), "%d", r->escalation_level);
	snprintf(detail, sizeof(detail), "{\"clock\":\"%.32s\",\"kind\":\"%.16s\"}", r->clock,
		 r->kind);
	const char *p[] = {r->complaint_id, r->clock, r->kind};
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, detail) != 0 ||
	    pg_exec(c, "INSERT INTO sla_events (complaint_id, clock, kind) VALUES ($1, $2, $3)", 3,
		    p) != 0)
		return -1;
	if (fu_staff_on_sla(c, ce, r) != 0)
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
    {TOPIC_CLASSIFIED, "cp.complaint.offered", &cp__complaint_assignment__descriptor, v_assignment,
     on_assignment},
    {TOPIC_CLASSIFIED, "cp.complaint.first_response", &cp__first_response__descriptor, v_first,
     on_first},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_collected", &cp__evidence_bundle__descriptor,
     v_evidence, on_evidence},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_updated", &cp__evidence_bundle__descriptor, v_evidence,
     on_evidence},
    {TOPIC_EVIDENCE_REQUEST, "cp.complaint.evidence_request_overdue",
     &cp__evidence_request__descriptor, v_overdue, on_overdue},
    {TOPIC_RESOLUTION, NULL, &cp__resolution_decided__descriptor, v_resolution, on_resolution},
    {TOPIC_SLA, NULL, &cp__sla_event__descriptor, v_sla, on_sla},
};
const size_t followup_nhandlers = sizeof(followup_handlers) / sizeof(followup_handlers[0]);
