/* Event handlers: the case projection from every topic (for the quality figures), its event
 * history, and one customer message per step: received, first response, owner assigned,
 * evidence found, plan proposed (never while pending approval), plan executed (with the
 * survey link). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification.pb-c.h"
#include "evcheck.h"
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

/* The longest history detail an event here writes (a resolution's or an evidence request's). */
#define FU_DETAIL_LEN 160

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

static void message_detail(const Cp__ComplaintMessageAdded *r, char detail[FU_DETAIL_LEN])
{
	snprintf(detail, FU_DETAIL_LEN, "{\"kind\":\"%s\"}", message_kind(r->kind));
}

static int message_rest(PGconn *c, const Cp__ComplaintMessageAdded *r);

static int on_message(PGconn *c, const struct ce_meta *ce, const char *key,
		      const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintMessageAdded *r = (const void *)m;
	char detail[FU_DETAIL_LEN];
	message_detail(r, detail);
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, detail) != 0)
		return -1;
	return message_rest(c, r);
}

/* on_message after the history row. */
static int message_rest(PGconn *c, const Cp__ComplaintMessageAdded *r)
{
	char cnt[16];
	snprintf(cnt, sizeof(cnt), "%d", r->repeat_count);
	const char *p[] = {r->complaint_id, cnt};
	/* the customer's own words belong in the conversation staff read */
	const char *words[] = {r->complaint_id, r->text_redacted};
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

static int assignment_rest(PGconn *c, const struct ce_meta *ce, const Cp__ComplaintAssignment *r);

/* The owner is whoever the latest accepted or reassigned event names; the first accept
 * (and the first offer) time the accept figure. */
static int on_assignment(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintAssignment *r = (const void *)m;
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, NULL) != 0)
		return -1;
	return assignment_rest(c, ce, r);
}

/* on_assignment after the history row. */
static int assignment_rest(PGconn *c, const struct ce_meta *ce, const Cp__ComplaintAssignment *r)
{
	char buf[TSTAMP_LEN];
	struct fu_vars v = {0};
	const char *at = event_time(r->at, buf);
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

static void resolution_detail(const Cp__ResolutionDecided *r, char detail[FU_DETAIL_LEN]);
static int resolution_rest(PGconn *c, const struct ce_meta *ce, const Cp__ResolutionDecided *r);

static int on_resolution(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ResolutionDecided *r = (const void *)m;
	char detail[FU_DETAIL_LEN];
	resolution_detail(r, detail);
	if (fu_case_event(c, r->complaint_id, r->complaint_no, ce->type, detail) != 0)
		return -1;
	return resolution_rest(c, ce, r);
}

static void resolution_detail(const Cp__ResolutionDecided *r, char detail[FU_DETAIL_LEN])
{
	snprintf(detail, FU_DETAIL_LEN, "{\"status\":\"%.40s\",\"proposal_id\":\"%.40s\"}",
		 r->status, r->proposal_id);
}

/* on_resolution after the history row. */
static int resolution_rest(PGconn *c, const struct ce_meta *ce, const Cp__ResolutionDecided *r)
{
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

static void overdue_detail(const Cp__EvidenceRequest *r, char detail[FU_DETAIL_LEN])
{
	snprintf(detail, FU_DETAIL_LEN, "{\"kind\":\"%.40s\",\"facility_id\":\"%.64s\"}", r->kind,
		 r->facility_id);
}

static int on_overdue(PGconn *c, const struct ce_meta *ce, const char *key,
		      const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__EvidenceRequest *r = (const void *)m;
	char detail[FU_DETAIL_LEN];
	overdue_detail(r, detail);
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

static void sla_detail(const Cp__SlaEvent *r, char detail[FU_DETAIL_LEN])
{
	snprintf(detail, FU_DETAIL_LEN, "{\"clock\":\"%.32s\",\"kind\":\"%.16s\"}", r->clock,
		 r->kind);
}

static int on_sla(PGconn *c, const struct ce_meta *ce, const char *key, const ProtobufCMessage *m,
		  char *e, size_t n, void *arg)
{
	const Cp__SlaEvent *r = (const void *)m;
	char level[16], detail[FU_DETAIL_LEN];
	if (strcmp(ce->type, "cp.complaint.clock_changed") == 0)
		return 0; /* the timer's clock snapshots: follow-up keeps warnings and breaches */
	snprintf(level, sizeof(level), "%d", r->escalation_level);
	sla_detail(r, detail);
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

/* ---- set-based apply (issue 14) ------------------------------------------------------------
 *
 * A batch's events of one kind as a few statements instead of several per event: the cases
 * and history rows of all of them with one insert (fu_case_events_set), each kind's case
 * update as one UPDATE ... FROM unnest per round, and the customer's and staff's messages of
 * a round with fu_notify_set (a lookup and one insert). Round r holds the r-th event of each
 * complaint in the set, so a complaint meets its events in order, as on the one-event path
 * (a message reads the case as the update before it left it); in a burst a set is one round.
 * The history rows may all go first: nothing a set does after them reads them (the first
 * response's check reads only a customer's adoption, which message_added writes). The rarer
 * kinds (offers, acceptances, messages, plans, overdue requests) write their history rows as
 * a set and the rest one event at a time, in the set's order. */

/* The most text cells an event fills in one of the statements below. */
#define FU_SET_COLS 13

struct fu_set {
	PGconn *c;
	const struct consumer_set_item *items;
	size_t n, rounds;
	size_t *round;		    /* per event: earlier events of the set on its complaint */
	const char **cells;	    /* n rows of FU_SET_COLS */
	char (*num)[4][TSTAMP_LEN]; /* per event: its numbers and times as text */
	char (*detail)[FU_DETAIL_LEN];
	struct fu_note_req *notes; /* one round's messages */
	size_t nnotes, capnotes;
};

static const char *fu_set_id(const struct consumer_set_item *it)
{
	const char *id, *no;
	evcheck_ids(it->m, &id, &no);
	return id ? id : "";
}

static int fu_set_cmp(const void *a, const void *b, void *arg)
{
	const struct consumer_set_item *items = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(fu_set_id(&items[i]), fu_set_id(&items[j]));
	return c ? c : (i > j) - (i < j);
}

static void fu_set_notes_clear(struct fu_set *s)
{
	fu_note_reqs_free(s->notes, s->nnotes);
	s->nnotes = 0;
}

static void fu_set_close(struct fu_set *s)
{
	fu_set_notes_clear(s);
	free(s->notes);
	free(s->round);
	free(s->cells);
	free(s->num);
	free(s->detail);
}

/* The set's scratch space and its rounds (sorted by complaint, then by position: no pairwise
 * comparison of a batch of 500). 0 or -1 (memory). */
static __attribute__((warn_unused_result)) int
fu_set_open(struct fu_set *s, PGconn *c, const struct consumer_set_item *items, size_t n)
{
	*s = (struct fu_set){.c = c,
			     .items = items,
			     .n = n,
			     .round = calloc(n, sizeof(*s->round)),
			     .cells = calloc(n * FU_SET_COLS, sizeof(*s->cells)),
			     .num = calloc(n, sizeof(*s->num)),
			     .detail = calloc(n, sizeof(*s->detail))};
	size_t *order = malloc(n * sizeof(*order));
	if (!s->round || !s->cells || !s->num || !s->detail || !order) {
		free(order);
		fu_set_close(s);
		return -1;
	}
	for (size_t j = 0; j < n; j++)
		order[j] = j;
	qsort_r(order, n, sizeof(*order), fu_set_cmp, (void *)items);
	for (size_t k = 1; k < n; k++)
		if (strcmp(fu_set_id(&items[order[k]]), fu_set_id(&items[order[k - 1]])) == 0)
			s->round[order[k]] = s->round[order[k - 1]] + 1;
	for (size_t j = 0; j < n; j++)
		s->rounds = s->round[j] + 1 > s->rounds ? s->round[j] + 1 : s->rounds;
	free(order);
	return 0;
}

/* A slot for one more message of the round (NULL: no memory). */
static struct fu_note_req *fu_set_note(struct fu_set *s)
{
	if (s->nnotes == s->capnotes) {
		size_t cap = s->capnotes ? 2 * s->capnotes : 16;
		struct fu_note_req *q = realloc(s->notes, cap * sizeof(*q));
		if (!q)
			return NULL;
		s->notes = q;
		s->capnotes = cap;
	}
	return &s->notes[s->nnotes++];
}

/* One more customer's message of the round (fu_notify's). 0 or -1 (memory). */
static int fu_set_customer(struct fu_set *s, const char *id, const char *step, int round,
			   const struct fu_vars *v, bool exempt, bool unless_awaiting)
{
	struct fu_note_req *q = fu_set_note(s);
	if (!q || fu_note_customer(q, id, step, round, v, exempt) != 0)
		return -1;
	q->unless_awaiting = unless_awaiting;
	return 0;
}

/* One more staff message of the round (fu_staff_notify's; to_owner: the case's owner). */
static int fu_set_staff(struct fu_set *s, const char *id, const char *staff_id, const char *step,
			int round, const char *event_id, const struct fu_vars *v, bool to_owner)
{
	struct fu_note_req *q = fu_set_note(s);
	if (!q || fu_staff_note(q, id, staff_id, step, round, event_id, v) != 0)
		return -1;
	q->to_owner = to_owner;
	return 0;
}

/* The round's messages (fu_notify_set), then none. */
static int fu_set_notify(struct fu_set *s)
{
	int rc = fu_notify_set(s->c, s->notes, s->nnotes);
	fu_set_notes_clear(s);
	return rc;
}

typedef const char *(*fu_detail_fn)(const struct consumer_set_item *it, char buf[FU_DETAIL_LEN]);

/* The history rows of the set's events (detail NULL: "{}"; detail returning NULL: the event
 * writes none), in order, with one statement. */
static int fu_set_history(struct fu_set *s, fu_detail_fn detail)
{
	size_t rows = 0;
	for (size_t j = 0; j < s->n; j++) {
		const char *id, *no, *d = detail ? detail(&s->items[j], s->detail[j]) : "{}";
		evcheck_ids(s->items[j].m, &id, &no);
		if (!d)
			continue;
		const char *row[4] = {id, no, s->items[j].ce->type, d};
		memcpy(s->cells + 4 * rows++, row, sizeof(row));
	}
	return fu_case_events_set(s->c, s->cells, rows);
}

/* One row of a round's update: fills the event's ncols cells (its complaint id first);
 * returns false when the event changes nothing. */
typedef bool (*fu_row_fn)(struct fu_set *s, size_t j, const char **row);

/* The round's case update as one statement over the rows fill gives. */
static int fu_set_update(struct fu_set *s, size_t r, const char *name, const char *sql,
			 size_t ncols, fu_row_fn fill)
{
	size_t rows = 0;
	for (size_t j = 0; j < s->n; j++)
		if (s->round[j] == r && fill(s, j, s->cells + ncols * rows))
			rows++;
	if (rows == 0)
		return 0;
	PGresult *q = pg_query_columns(s->c, name, sql, ncols, rows, s->cells);
	PQclear(q);
	return q ? 0 : -1;
}

/* complaint.received.v1: on_received's update; the customer's acknowledgement as a set, a
 * proactive case's notice (proactive_received) one at a time. */
static bool received_row(struct fu_set *s, size_t j, const char **row)
{
	const Cp__ComplaintReceived *r = (const void *)s->items[j].m;
	char(*x)[TSTAMP_LEN] = s->num[j];
	snprintf(x[0], TSTAMP_LEN, "%d", r->repeat_count);
	const char *v[13] = {r->complaint_id,
			     r->customer_ref,
			     strcmp(r->language, "en") == 0 ? "en" : "zh-CN",
			     r->channel,
			     r->outlet_id,
			     event_time(r->received_at, x[1]),
			     r->repeat ? "t" : "f",
			     x[0],
			     r->waybill_no,
			     ids_is_uuid(r->previous_complaint_id) ? r->previous_complaint_id : "",
			     r->description_redacted,
			     r->preferred_contact,
			     r->target ? fu_target_staff(r->target->kind, r->target->id) : ""};
	memcpy(row, v, sizeof(v));
	return true;
}

/* clang-format off */
static const char received_set_sql[] =
    "UPDATE cases k SET customer_ref = u.ref, language = u.lang, channel = u.ch, outlet_id = "
    "CASE WHEN u.outlet = '' THEN k.outlet_id ELSE u.outlet END, received_at = "
    "u.at::timestamptz, is_repeat = u.rep::boolean, repeat_count = GREATEST(k.repeat_count, "
    "u.cnt::int), waybill_no = u.wb, previous_complaint_id = NULLIF(u.prev, '')::uuid, "
    "description = u.descr, preferred_contact = u.pc, target_staff_id = CASE WHEN u.target = "
    "'' THEN k.target_staff_id ELSE u.target END, updated_at = now() FROM unnest($1::text[], "
    "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
    "$9::text[], $10::text[], $11::text[], $12::text[], $13::text[]) AS u (id, ref, lang, ch, "
    "outlet, at, rep, cnt, wb, prev, descr, pc, target) WHERE k.complaint_id = u.id::uuid";
/* clang-format on */

static int on_received_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			   size_t en, void *arg)
{
	struct fu_set s;
	struct fu_vars v = {0};
	if (fu_set_open(&s, c, items, n) != 0)
		return -1;
	int rc = fu_set_history(&s, NULL);
	for (size_t r = 0; r < s.rounds && rc == 0; r++) {
		rc = fu_set_update(&s, r, "fu_received_set", received_set_sql, 13, received_row);
		for (size_t j = 0; j < n && rc == 0; j++) {
			const Cp__ComplaintReceived *ev = (const void *)items[j].m;
			if (s.round[j] == r && strcmp(ev->channel, "proactive") != 0)
				rc = fu_set_customer(&s, ev->complaint_id, "received", 0, &v, false,
						     false);
		}
		if (rc == 0)
			rc = fu_set_notify(&s);
		/* a stuck parcel's case: its own (rare) statements, after the round's update
		 * like on_received's; no other complaint's rows are read */
		for (size_t j = 0; j < n && rc == 0; j++) {
			const Cp__ComplaintReceived *ev = (const void *)items[j].m;
			if (s.round[j] == r && strcmp(ev->channel, "proactive") == 0)
				rc = proactive_received(c, ev);
		}
	}
	fu_set_close(&s);
	return rc;
}

/* complaint.classified.v1 */
static bool classified_row(struct fu_set *s, size_t j, const char **row)
{
	const Cp__ComplaintClassified *r = (const void *)s->items[j].m;
	char(*x)[TSTAMP_LEN] = s->num[j];
	snprintf(x[0], TSTAMP_LEN, "%d", r->priority > 0 ? r->priority : 3);
	snprintf(x[1], TSTAMP_LEN, "%d", r->first_response_s > 0 ? r->first_response_s : 0);
	snprintf(x[2], TSTAMP_LEN, "%d", r->accept_s > 0 ? r->accept_s : 0);
	snprintf(x[3], TSTAMP_LEN, "%d", r->verification_s > 0 ? r->verification_s : 0);
	const char *v[10] = {r->complaint_id,
			     r->category,
			     r->subcategory,
			     x[0],
			     r->outlet_id,
			     x[1],
			     x[2],
			     x[3],
			     fu_needs_person_answer(r->category, r->subcategory) ? "t" : "f",
			     r->target ? fu_target_staff(r->target->kind, r->target->id) : ""};
	memcpy(row, v, sizeof(v));
	return true;
}

/* clang-format off */
static const char classified_set_sql[] =
    "UPDATE cases k SET category = u.cat, subcategory = u.sub, priority = LEAST(k.priority, "
    "u.prio::int), outlet_id = CASE WHEN u.outlet = '' THEN k.outlet_id ELSE u.outlet END, "
    "first_response_s = u.fr::int, accept_s = u.ac::int, verification_s = u.ve::int, "
    "needs_person_answer = u.npa::boolean, target_staff_id = CASE WHEN u.target = '' THEN "
    "k.target_staff_id ELSE u.target END, updated_at = now() FROM unnest($1::text[], "
    "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
    "$9::text[], $10::text[]) AS u (id, cat, sub, prio, outlet, fr, ac, ve, npa, target) "
    "WHERE k.complaint_id = u.id::uuid";
/* clang-format on */

static int on_classified_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			     size_t en, void *arg)
{
	struct fu_set s;
	if (fu_set_open(&s, c, items, n) != 0)
		return -1;
	int rc = fu_set_history(&s, NULL);
	for (size_t r = 0; r < s.rounds && rc == 0; r++)
		rc = fu_set_update(&s, r, "fu_classified_set", classified_set_sql, 10,
				   classified_row);
	fu_set_close(&s);
	return rc;
}

/* cp.complaint.first_response: the time, and the message unless nobody complained */
static bool first_row(struct fu_set *s, size_t j, const char **row)
{
	const Cp__FirstResponse *r = (const void *)s->items[j].m;
	row[0] = r->complaint_id;
	row[1] = event_time(r->at, s->num[j][0]);
	return true;
}

static int on_first_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			size_t en, void *arg)
{
	struct fu_set s;
	if (fu_set_open(&s, c, items, n) != 0)
		return -1;
	int rc = fu_set_history(&s, NULL);
	for (size_t r = 0; r < s.rounds && rc == 0; r++) {
		rc = fu_set_update(&s, r, "fu_first_set",
				   "UPDATE cases k SET first_response_at = "
				   "LEAST(k.first_response_at, u.at::timestamptz), updated_at = "
				   "now() FROM unnest($1::text[], $2::text[]) AS u (id, at) WHERE "
				   "k.complaint_id = u.id::uuid",
				   2, first_row);
		for (size_t j = 0; j < n && rc == 0; j++) {
			const Cp__FirstResponse *ev = (const void *)items[j].m;
			struct fu_vars v = {.text = ev->text};
			if (s.round[j] == r)
				rc = fu_set_customer(&s, ev->complaint_id, "first_response", 0, &v,
						     true, true);
		}
		if (rc == 0)
			rc = fu_set_notify(&s);
	}
	fu_set_close(&s);
	return rc;
}

/* complaint.evidence.v1 (collected and updated) */
static bool evidence_confirmed(const struct consumer_set_item *it)
{
	const Cp__EvidenceBundle *r = (const void *)it->m;
	const Cp__Responsibility *resp = r->responsibility;
	return resp && !resp->preliminary &&
	       strcmp(it->ce->type, "cp.complaint.evidence_updated") == 0;
}

static bool evidence_row(struct fu_set *s, size_t j, const char **row)
{
	const Cp__EvidenceBundle *r = (const void *)s->items[j].m;
	const Cp__Responsibility *resp = r->responsibility;
	const char *v[5] = {
	    r->complaint_id, resp ? resp->party : "", evidence_confirmed(&s->items[j]) ? "t" : "f",
	    event_time(resp ? resp->confirmed_at : NULL, s->num[j][0]),
	    resp && strcmp(resp->party, "courier") == 0 && resp->party_id ? resp->party_id : ""};
	memcpy(row, v, sizeof(v));
	return true;
}

/* clang-format off */
static const char evidence_set_sql[] =
    "UPDATE cases k SET evidence_at = coalesce(k.evidence_at, now()), responsible_party = CASE "
    "WHEN u.party IN ('', 'unknown') AND k.responsible_party <> '' THEN k.responsible_party "
    "ELSE u.party END, verified_at = CASE WHEN u.conf::boolean THEN LEAST(k.verified_at, "
    "u.at::timestamptz) ELSE k.verified_at END, responsible_courier_id = CASE WHEN u.courier = "
    "'' THEN k.responsible_courier_id ELSE u.courier END, updated_at = now() FROM "
    "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u (id, party, conf, "
    "at, courier) WHERE k.complaint_id = u.id::uuid";
/* clang-format on */

static int on_evidence_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			   size_t en, void *arg)
{
	struct fu_set s;
	struct fu_vars v = {0};
	if (fu_set_open(&s, c, items, n) != 0)
		return -1;
	int rc = fu_set_history(&s, NULL);
	for (size_t r = 0; r < s.rounds && rc == 0; r++) {
		rc = fu_set_update(&s, r, "fu_evidence_set", evidence_set_sql, 5, evidence_row);
		for (size_t j = 0; j < n && rc == 0; j++) {
			const Cp__EvidenceBundle *ev = (const void *)items[j].m;
			if (s.round[j] == r && evidence_confirmed(&items[j]))
				rc = fu_set_customer(&s, ev->complaint_id, "evidence_found", -1, &v,
						     false, false);
		}
		if (rc == 0)
			rc = fu_set_notify(&s);
	}
	fu_set_close(&s);
	return rc;
}

/* cp.complaint.escalated: every person named is told (fu_staff_on_assignment), then the
 * level and the supervisor (on_assignment's update) */
static bool escalated_row(struct fu_set *s, size_t j, const char **row)
{
	const Cp__ComplaintAssignment *r = (const void *)s->items[j].m;
	row[0] = r->complaint_id;
	row[1] = r->n_staff_ids > 0 && r->staff_ids[0] ? r->staff_ids[0] : "";
	return true;
}

static int on_escalated_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			    size_t en, void *arg)
{
	struct fu_set s;
	if (fu_set_open(&s, c, items, n) != 0)
		return -1;
	int rc = fu_set_history(&s, NULL);
	for (size_t r = 0; r < s.rounds && rc == 0; r++) {
		for (size_t j = 0; j < n && rc == 0; j++) {
			const Cp__ComplaintAssignment *ev = (const void *)items[j].m;
			struct fu_vars v = {.text = ev->reason};
			for (size_t i = 0; s.round[j] == r && i < ev->n_staff_ids && rc == 0; i++)
				if (ev->staff_ids[i][0])
					rc = fu_set_staff(&s, ev->complaint_id, ev->staff_ids[i],
							  "staff_escalated", ev->round,
							  items[j].ce->id, &v, false);
		}
		if (rc == 0)
			rc = fu_set_notify(&s);
		if (rc == 0)
			rc = fu_set_update(
			    &s, r, "fu_escalated_set",
			    "UPDATE cases k SET escalation_level = k.escalation_level + 1, "
			    "escalated_staff_id = CASE WHEN u.s = '' THEN k.escalated_staff_id "
			    "ELSE "
			    "u.s END FROM unnest($1::text[], $2::text[]) AS u (id, s) WHERE "
			    "k.complaint_id = u.id::uuid",
			    2, escalated_row);
	}
	fu_set_close(&s);
	return rc;
}

/* complaint.sla.v1: the clock snapshots write nothing; a warning or breach its history and
 * sla_events rows, the owner's message and the highest level. Nothing here changes what
 * another of the set's events reads (the owner; the level only grows), so one round. */
static const char *sla_history(const struct consumer_set_item *it, char buf[FU_DETAIL_LEN])
{
	if (strcmp(it->ce->type, "cp.complaint.clock_changed") == 0)
		return NULL;
	sla_detail((const void *)it->m, buf);
	return buf;
}

/* clang-format off */
static const char sla_events_set_sql[] =
    "INSERT INTO sla_events (complaint_id, clock, kind) SELECT u.id::uuid, u.clock, u.kind FROM "
    "unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u (id, clock, kind, o) "
    "ORDER BY u.o";
static const char sla_level_set_sql[] =
    "UPDATE cases k SET escalation_level = GREATEST(k.escalation_level, u.lvl) FROM (SELECT "
    "id::uuid AS id, max(lvl::int) AS lvl FROM unnest($1::text[], $2::text[]) AS u (id, lvl) "
    "GROUP BY 1) u WHERE k.complaint_id = u.id";
/* clang-format on */

static int on_sla_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
		      size_t en, void *arg)
{
	struct fu_set s;
	size_t rows = 0;
	if (fu_set_open(&s, c, items, n) != 0)
		return -1;
	int rc = fu_set_history(&s, sla_history);
	for (size_t j = 0; j < n && rc == 0; j++) {
		const Cp__SlaEvent *ev = (const void *)items[j].m;
		if (strcmp(items[j].ce->type, "cp.complaint.clock_changed") == 0)
			continue;
		const char *row[3] = {ev->complaint_id, ev->clock, ev->kind};
		memcpy(s.cells + 3 * rows++, row, sizeof(row));
	}
	PGresult *q = NULL;
	if (rc == 0 && rows > 0 &&
	    !(q = pg_query_columns(c, "fu_sla_events_set", sla_events_set_sql, 3, rows, s.cells)))
		rc = -1;
	PQclear(q);
	q = NULL; /* the level's statement below may not run: no second PQclear of this one */
	/* fu_staff_on_sla: the owner is told of a warning or a breach */
	for (size_t j = 0; j < n && rc == 0; j++) {
		const Cp__SlaEvent *ev = (const void *)items[j].m;
		const char *step = strcmp(ev->kind, "warning") == 0  ? "staff_sla_warning"
				   : strcmp(ev->kind, "breach") == 0 ? "staff_sla_breach"
								     : NULL;
		struct fu_vars v = {.text = ev->clock};
		if (step && strcmp(items[j].ce->type, "cp.complaint.clock_changed") != 0)
			rc = fu_set_staff(&s, ev->complaint_id, "", step, 0, items[j].ce->id, &v,
					  true);
	}
	if (rc == 0)
		rc = fu_set_notify(&s);
	rows = 0;
	for (size_t j = 0; j < n && rc == 0; j++) {
		const Cp__SlaEvent *ev = (const void *)items[j].m;
		if (strcmp(items[j].ce->type, "cp.complaint.clock_changed") == 0)
			continue;
		snprintf(s.num[j][0], TSTAMP_LEN, "%d", ev->escalation_level);
		s.cells[2 * rows] = ev->complaint_id;
		s.cells[2 * rows++ + 1] = s.num[j][0];
	}
	if (rc == 0 && rows > 0 &&
	    !(q = pg_query_columns(c, "fu_sla_level_set", sla_level_set_sql, 2, rows, s.cells)))
		rc = -1;
	PQclear(q);
	fu_set_close(&s);
	return rc;
}

/* cp.complaint.assigned: an acceptance or a transfer names the owner (on_assignment's update),
 * who is told (fu_staff_on_assignment), and the customer hears of an acceptance. The staff
 * message reads only the case's number, so a round's messages all go after its update. */
static bool assigned_acts(const Cp__ComplaintAssignment *r, bool *accepted)
{
	*accepted = strcmp(r->action, "accepted") == 0;
	return *accepted || strcmp(r->action, "reassigned") == 0;
}

static bool assigned_row(struct fu_set *s, size_t j, const char **row)
{
	const Cp__ComplaintAssignment *r = (const void *)s->items[j].m;
	bool accepted;
	if (!assigned_acts(r, &accepted))
		return false;
	const char *v[4] = {r->complaint_id, r->owner_staff_id, event_time(r->at, s->num[j][0]),
			    accepted ? "t" : "f"};
	memcpy(row, v, sizeof(v));
	return true;
}

static int on_assigned_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			   size_t en, void *arg)
{
	struct fu_set s;
	if (fu_set_open(&s, c, items, n) != 0)
		return -1;
	int rc = fu_set_history(&s, NULL);
	for (size_t r = 0; r < s.rounds && rc == 0; r++) {
		rc = fu_set_update(
		    &s, r, "fu_assigned_set",
		    "UPDATE cases k SET owner_staff_id = u.owner, assigned_at = CASE "
		    "WHEN u.acc::boolean THEN LEAST(k.assigned_at, u.at::timestamptz) "
		    "ELSE k.assigned_at END, updated_at = now() FROM unnest($1::text[], "
		    "$2::text[], $3::text[], $4::text[]) AS u (id, owner, at, acc) WHERE "
		    "k.complaint_id = u.id::uuid",
		    4, assigned_row);
		for (size_t j = 0; j < n && rc == 0; j++) {
			const Cp__ComplaintAssignment *ev = (const void *)items[j].m;
			struct fu_vars v = {.text = ev->reason},
				       owner = {.owner = ev->owner_staff_id};
			bool accepted, acts = assigned_acts(ev, &accepted);
			if (s.round[j] != r || !acts)
				continue;
			if (ev->owner_staff_id[0])
				rc = fu_set_staff(&s, ev->complaint_id, ev->owner_staff_id,
						  accepted ? "staff_assigned" : "staff_transferred",
						  0, items[j].ce->id, &v, false);
			if (rc == 0 && accepted)
				rc = fu_set_customer(&s, ev->complaint_id, "owner_assigned", -1,
						     &owner, false, false);
		}
		if (rc == 0)
			rc = fu_set_notify(&s);
	}
	fu_set_close(&s);
	return rc;
}

/* cp.complaint.offered: whoever an earlier round offered the case and this one does not is
 * told the offer lapsed (fu_staff_offers_expired: one query per round, which sees the earlier
 * rounds' offers), each person offered is told, and the first offer's time is kept. */
static bool offered_row(struct fu_set *s, size_t j, const char **row)
{
	const Cp__ComplaintAssignment *r = (const void *)s->items[j].m;
	row[0] = r->complaint_id;
	row[1] = event_time(r->at, s->num[j][0]);
	return true;
}

/* clang-format off */
static const char offers_expired_set_sql[] =
    "SELECT u.o, x.s FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u (id, "
    "rnd, list, o) CROSS JOIN LATERAL (SELECT DISTINCT substr(recipient, 7) AS s FROM "
    "notifications WHERE complaint_id = u.id::uuid AND step = 'staff_offered' AND round < "
    "u.rnd::int AND NOT recipient IN (SELECT jsonb_array_elements_text(u.list::jsonb))) x "
    "ORDER BY u.o, x.s";
/* clang-format on */

/* The round's lapsed offers as staff messages, before the round's offers. The messages name
 * their staff in *found, which the caller clears once they are queued. */
static int offers_expired_set(struct fu_set *s, size_t r, char **lists, PGresult **found)
{
	size_t rows = 0, *at = malloc(s->n * sizeof(*at));
	int rc = at ? 0 : -1;
	for (size_t j = 0; j < s->n && rc == 0; j++) {
		const Cp__ComplaintAssignment *ev = (const void *)s->items[j].m;
		if (s->round[j] != r)
			continue;
		json_t *now = json_array();
		for (size_t i = 0; i < ev->n_staff_ids; i++)
			json_array_append_new(now, json_sprintf("staff:%s", ev->staff_ids[i]));
		lists[j] = json_dumps(now, JSON_COMPACT);
		json_decref(now);
		snprintf(s->num[j][1], TSTAMP_LEN, "%d", ev->round);
		const char *row[3] = {ev->complaint_id, s->num[j][1], lists[j]};
		memcpy(s->cells + 3 * rows, row, sizeof(row));
		at[rows++] = j;
		rc = lists[j] ? 0 : -1;
	}
	PGresult *q = NULL;
	if (rc == 0 && rows > 0 &&
	    !(q = *found = pg_query_columns(s->c, "fu_offers_expired_set", offers_expired_set_sql,
					    3, rows, s->cells)))
		rc = -1;
	for (int i = 0; q && i < PQntuples(q) && rc == 0; i++) {
		size_t j = at[strtoul(PQgetvalue(q, i, 0), NULL, 10) - 1];
		const Cp__ComplaintAssignment *ev = (const void *)s->items[j].m;
		rc = fu_set_staff(s, ev->complaint_id, PQgetvalue(q, i, 1), "staff_offer_expired",
				  ev->round, s->items[j].ce->id, NULL, false);
	}
	free(at);
	return rc;
}

static int on_offered_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			  size_t en, void *arg)
{
	struct fu_set s;
	char **lists = calloc(n, sizeof(*lists));
	if (!lists || fu_set_open(&s, c, items, n) != 0) {
		free(lists);
		return -1;
	}
	int rc = fu_set_history(&s, NULL);
	for (size_t r = 0; r < s.rounds && rc == 0; r++) {
		PGresult *found = NULL;
		rc = offers_expired_set(&s, r, lists, &found);
		for (size_t j = 0; j < n && rc == 0; j++) {
			const Cp__ComplaintAssignment *ev = (const void *)items[j].m;
			struct fu_vars v = {0};
			for (size_t i = 0; s.round[j] == r && i < ev->n_staff_ids && rc == 0; i++)
				if (ev->staff_ids[i][0])
					rc = fu_set_staff(&s, ev->complaint_id, ev->staff_ids[i],
							  "staff_offered", ev->round,
							  items[j].ce->id, &v, false);
		}
		if (rc == 0)
			rc = fu_set_notify(&s);
		fu_set_notes_clear(&s); /* before the staff ids they point to go */
		PQclear(found);
		if (rc == 0)
			rc = fu_set_update(&s, r, "fu_offered_set",
					   "UPDATE cases k SET offered_at = LEAST(k.offered_at, "
					   "u.at::timestamptz), updated_at = now() FROM "
					   "unnest($1::text[], $2::text[]) AS u (id, at) WHERE "
					   "k.complaint_id = u.id::uuid",
					   2, offered_row);
	}
	for (size_t j = 0; j < n; j++)
		free(lists[j]);
	free(lists);
	fu_set_close(&s);
	return rc;
}

/* The rarer kinds: the history rows as a set, the rest of each event one at a time. */
static const char *message_history(const struct consumer_set_item *it, char buf[FU_DETAIL_LEN])
{
	message_detail((const void *)it->m, buf);
	return buf;
}

/* The kinds whose set writes only their history rows: the rest of each event (rest, its
 * one-event statements) follows in the set's order. */
static int fu_set_history_then(PGconn *c, const struct consumer_set_item *items, size_t n,
			       fu_detail_fn detail,
			       int (*rest)(PGconn *, const struct consumer_set_item *))
{
	struct fu_set s;
	if (fu_set_open(&s, c, items, n) != 0)
		return -1;
	int rc = fu_set_history(&s, detail);
	for (size_t j = 0; j < n && rc == 0; j++)
		rc = rest(c, &items[j]);
	fu_set_close(&s);
	return rc;
}

static int message_rest_item(PGconn *c, const struct consumer_set_item *it)
{
	return message_rest(c, (const void *)it->m);
}

static int on_message_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			  size_t en, void *arg)
{
	return fu_set_history_then(c, items, n, message_history, message_rest_item);
}

static const char *resolution_history(const struct consumer_set_item *it, char buf[FU_DETAIL_LEN])
{
	resolution_detail((const void *)it->m, buf);
	return buf;
}

static int resolution_rest_item(PGconn *c, const struct consumer_set_item *it)
{
	return resolution_rest(c, it->ce, (const void *)it->m);
}

static int on_resolution_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			     size_t en, void *arg)
{
	return fu_set_history_then(c, items, n, resolution_history, resolution_rest_item);
}

static const char *overdue_history(const struct consumer_set_item *it, char buf[FU_DETAIL_LEN])
{
	overdue_detail((const void *)it->m, buf);
	return buf;
}

static int overdue_rest_item(PGconn *c, const struct consumer_set_item *it)
{
	return fu_staff_on_evidence_overdue(c, it->ce, (const void *)it->m);
}

static int on_overdue_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			  size_t en, void *arg)
{
	return fu_set_history_then(c, items, n, overdue_history, overdue_rest_item);
}

const struct consumer_set_handler followup_set_handlers[] = {
    {TOPIC_RECEIVED, "cp.complaint.received", on_received_set, NULL, false},
    {TOPIC_RECEIVED, "cp.complaint.message_added", on_message_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.classified", on_classified_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.assigned", on_assigned_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.escalated", on_escalated_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.offered", on_offered_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.first_response", on_first_set, NULL, false},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_collected", on_evidence_set, NULL, false},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_updated", on_evidence_set, NULL, false},
    {TOPIC_EVIDENCE_REQUEST, "cp.complaint.evidence_request_overdue", on_overdue_set, NULL, false},
    {TOPIC_RESOLUTION, NULL, on_resolution_set, NULL, false},
    {TOPIC_SLA, NULL, on_sla_set, NULL, false},
};
const size_t followup_nset_handlers =
    sizeof(followup_set_handlers) / sizeof(followup_set_handlers[0]);
