/* The case as everyone sees it: intake follows the other services' events, records each step
 * (with its time, its actor and who may read it) on the case it owns, moves the lifecycle
 * status forward (lifecycle.c), and keeps projections of the evidence, the plans, the clocks
 * and the conversation, so that one request answers the customer (GET /v1/complaints/{no})
 * and staff (GET /v1/staff/complaints/{no}) from one schema. */
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

/* The visibility of a timeline row: what the customer may read, and what only staff see
 * (who was offered the case, escalations, notes, internal evidence steps). */
enum step_vis { VIS_CUSTOMER, VIS_STAFF };

struct step_def {
	const char *name;
	const char *status; /* the lifecycle status the step moves towards, or NULL */
	const char *detail; /* JSON object text, or NULL */
	const char *actor;  /* staff id, "customer" or NULL for the system */
	enum step_vis vis;
};

/* Records the step and moves the case towards s->status along the lifecycle (forward only,
 * intake_lifecycle_next). The row is locked so two steps of one case never race. r is the
 * step's statement: it inserted the timeline row and read the locked status. */
static int move_status(PGconn *c, const char *id, const char *towards, PGresult *r)
{
	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0; /* a step of a case intake does not know: nothing to move */
	}
	char cur[32];
	snprintf(cur, sizeof(cur), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	const char *next = intake_lifecycle_next(cur, towards);
	if (strcmp(next, cur) == 0)
		return 0;
	const char *u[] = {id, next};
	return pg_exec(c,
		       "UPDATE complaints SET status = $2, updated_at = now(), closed_at = CASE "
		       "WHEN $2 IN ('closed', 'merged', 'withdrawn') THEN now() ELSE NULL END, "
		       "episode = episode + CASE WHEN $2 = 'reopened' THEN 1 ELSE 0 END "
		       "WHERE id = $1::uuid",
		       2, u);
}

static int step(PGconn *c, const char *id, const struct step_def *s)
{
	const char *p[] = {id, s->name, s->detail ? s->detail : "{}",
			   s->actor && s->actor[0] ? s->actor : "system",
			   s->vis == VIS_STAFF ? "staff" : "customer"};
	if (!s->status)
		return pg_exec(c,
			       "INSERT INTO timeline (complaint_id, step, detail, actor, "
			       "visibility) SELECT id, $2, $3::jsonb, $4, $5 FROM complaints WHERE "
			       "id = $1::uuid",
			       5, p);
	/* the timeline row and the locked status with one statement (issue 14: a round trip
	 * per step less): the same rows and the same lock as the two statements it replaces */
	return move_status(
	    c, id, s->status,
	    pg_query(c,
		     "WITH t AS (INSERT INTO timeline (complaint_id, step, detail, actor, "
		     "visibility) SELECT id, $2, $3::jsonb, $4, $5 FROM complaints WHERE id = "
		     "$1::uuid) SELECT status FROM complaints WHERE id = $1::uuid FOR UPDATE",
		     5, p));
}

static int has_id(const char *id, char *errstr, size_t errlen)
{
	if (!ids_is_uuid(id)) {
		snprintf(errstr, errlen, "complaint_id must be a UUID");
		return -1;
	}
	return 0;
}

/* A JSON object of up to three string members (NULL keys end it). Thread-local buffer:
 * valid until the next call on this thread. */
static char *detail3(const char *k1, const char *v1, const char *k2, const char *v2, const char *k3,
		     const char *v3)
{
	static __thread char buf[4096];
	json_t *j = json_object();
	const char *k[] = {k1, k2, k3}, *v[] = {v1, v2, v3};
	for (int i = 0; i < 3 && k[i]; i++)
		json_object_set_new(j, k[i], json_string(v[i] ? v[i] : ""));
	char *s = json_dumps(j, JSON_COMPACT);
	snprintf(buf, sizeof(buf), "%s", s ? s : "{}");
	free(s);
	json_decref(j);
	return buf;
}

static char *detail(const char *k1, const char *v1, const char *k2, const char *v2)
{
	return detail3(k1, v1, k2, v2, NULL, NULL);
}

/* ---- complaint.classified.v1 ---------------------------------------------------------- */

static int v_classified(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__ComplaintClassified *)m)->complaint_id, e, n);
}

static int on_classified(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintClassified *ev = (const void *)m;
	char prio[16];
	snprintf(prio, sizeof(prio), "%d", ev->priority > 0 ? ev->priority : 5);
	const char *p[] = {ev->complaint_id,
			   prio,
			   ev->category,
			   ev->subcategory,
			   ev->urgency,
			   ev->tier,
			   ev->sla_policy,
			   detail3("category", ev->category, "subcategory", ev->subcategory,
				   "urgency", ev->urgency)};
	/* the case and its step (the system's, for the customer) in one statement: the step's
	 * row is written when the case exists, as step() would */
	return pg_exec(
	    c,
	    "WITH k AS (UPDATE complaints SET priority = LEAST(priority, $2::int), category = $3, "
	    "subcategory = $4, urgency = $5, tier = $6, sla_policy = $7 WHERE id = $1::uuid "
	    "RETURNING id) INSERT INTO timeline (complaint_id, step, detail, actor, visibility) "
	    "SELECT id, 'classified', $8::jsonb, 'system', 'customer' FROM k",
	    8, p);
}

static int v_assignment(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__ComplaintAssignment *)m)->complaint_id, e, n);
}

/* A PostgreSQL text[] literal of staff ids (quoted, escaped). Caller frees. */
static char *text_array(char **v, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	char *s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return s;
}

static int on_offered(PGconn *c, const Cp__ComplaintAssignment *ev)
{
	char *ids = text_array(ev->staff_ids, ev->n_staff_ids);
	if (!ids)
		return -1;
	const char *p[] = {ev->complaint_id, ids};
	int rc = pg_exec(c,
			 "UPDATE complaints SET offered_to = ARRAY(SELECT "
			 "jsonb_array_elements_text($2::jsonb)) WHERE id = $1::uuid",
			 2, p);
	free(ids);
	char round[16];
	snprintf(round, sizeof(round), "%d", ev->round);
	struct step_def s = {"offered", "offered", detail("round", round, NULL, NULL), NULL,
			     VIS_CUSTOMER};
	return rc == 0 ? step(c, ev->complaint_id, &s) : -1;
}

static int on_owner(PGconn *c, const Cp__ComplaintAssignment *ev)
{
	const char *p[] = {ev->complaint_id, ev->owner_staff_id, ev->owner_first_name,
			   ev->owner_role};
	if (pg_exec(c,
		    "UPDATE complaints SET owner_staff_id = NULLIF($2, ''), owner_since = now(), "
		    "offered_to = '{}', owner_first_name = $3, owner_role = $4 WHERE id = $1::uuid",
		    4, p) != 0)
		return -1;
	if (strcmp(ev->action, "reassigned") == 0) {
		struct step_def s = {"reassigned", NULL,
				     detail3("from", ev->previous_owner_staff_id, "to",
					     ev->owner_staff_id, "reason", ev->reason),
				     ev->actor_staff_id, VIS_STAFF};
		return step(c, ev->complaint_id, &s);
	}
	/* the customer sees this step: it names the owner as they may know them (first name and
	 * role); staff see who it was in the step's actor */
	struct step_def s = {"owner_assigned", "accepted",
			     detail("first_name", ev->owner_first_name, "role", ev->owner_role),
			     ev->owner_staff_id, VIS_CUSTOMER};
	return step(c, ev->complaint_id, &s);
}

static int on_escalated(PGconn *c, const Cp__ComplaintAssignment *ev)
{
	const char *to = ev->n_staff_ids > 0 ? ev->staff_ids[0] : "";
	char level[16];
	snprintf(level, sizeof(level), "%d", ev->escalation_level);
	const char *p[] = {ev->complaint_id, to, level};
	if (pg_exec(c,
		    "UPDATE complaints SET escalated_to = NULLIF($2, ''), escalation_level = "
		    "GREATEST(escalation_level, $3::int) WHERE id = $1::uuid",
		    3, p) != 0)
		return -1;
	/* staff only: the customer is told by the owner, not by the machine's ladder */
	struct step_def s = {
	    "escalated", NULL,
	    detail3("escalated_to", to, "role", ev->escalated_role, "reason", ev->reason),
	    ev->actor_staff_id, VIS_STAFF};
	return step(c, ev->complaint_id, &s);
}

static int on_assignment(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ComplaintAssignment *ev = (const void *)m;
	if (strcmp(ev->action, "offered") == 0)
		return on_offered(c, ev);
	if (strcmp(ev->action, "accepted") == 0 || strcmp(ev->action, "reassigned") == 0)
		return on_owner(c, ev);
	if (strcmp(ev->action, "escalated") == 0)
		return on_escalated(c, ev);
	return 0;
}

static int v_first_response(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__FirstResponse *)m)->complaint_id, e, n);
}

/* The automatic acknowledgement: shown as automatic, it is not anyone's contact. */
static int on_first_response(PGconn *c, const struct ce_meta *ce, const char *key,
			     const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__FirstResponse *ev = (const void *)m;
	const char *p[] = {ev->complaint_id, ev->next_update_by, ev->text};
	if (ev->next_update_by[0] &&
	    pg_exec(c, "UPDATE complaints SET next_update_by = $2::timestamptz WHERE id = $1::uuid",
		    2, p) != 0)
		return -1;
	/* the conversation's row and the step (the system's, for the customer) with one
	 * statement, each written when the case exists, as step() would */
	const char *q[] = {
	    ev->complaint_id, ev->next_update_by, ev->text,
	    detail3("scenario", ev->scenario, "text", ev->text, "automatic", "true")};
	return pg_exec(c,
		       "WITH v AS (INSERT INTO conversation (complaint_id, direction, kind, actor, "
		       "text, detail) SELECT id, 'to_customer', 'automatic', 'system', $3, "
		       "jsonb_build_object('next_update_by', NULLIF($2, '')) FROM complaints WHERE "
		       "id = $1::uuid) INSERT INTO timeline (complaint_id, step, detail, actor, "
		       "visibility) SELECT id, 'first_response', $4::jsonb, 'system', 'customer' "
		       "FROM complaints WHERE id = $1::uuid",
		       4, q);
}

/* ---- complaint.evidence.v1 ------------------------------------------------------------ */

static int v_evidence(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__EvidenceBundle *)m)->complaint_id, e, n);
}

static json_t *str_array(char **v, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	return arr;
}

static json_t *responsibility_json(const Cp__Responsibility *r)
{
	if (!r)
		return json_null();
	return json_pack("{s:s, s:s, s:s, s:o, s:i, s:b, s:b, s:s, s:s, s:s}", "stage", r->stage,
			 "party", r->party, "party_id", r->party_id, "reasons",
			 str_array(r->reasons, r->n_reasons), "confidence_pct", r->confidence_pct,
			 "preliminary", r->preliminary, "conclusive", r->conclusive, "confirmed_by",
			 r->confirmed_by, "confirmed_at", r->confirmed_at, "note", r->note);
}

static json_t *findings_json(const Cp__EvidenceBundle *b)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < b->n_findings; i++) {
		const Cp__Finding *f = b->findings[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s}", "kind", f->kind,
						     "facility_id", f->facility_id, "seconds",
						     (json_int_t)f->seconds, "detail", f->detail));
	}
	return arr;
}

static json_t *trajectory_json(const Cp__EvidenceBundle *b)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < b->n_trajectory; i++) {
		const Cp__TrajectoryPoint *t = b->trajectory[i];
		json_array_append_new(
		    arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "occurred_at",
				   t->occurred_at, "code", t->code, "facility_id", t->facility_id,
				   "facility_type", t->facility_type, "courier_id", t->courier_id,
				   "city", t->city, "exception_reason", t->exception_reason));
	}
	return arr;
}

/* What staff read of a bundle (the parcel's facts, no personal data: the events carry none). */
static char *bundle_json(const Cp__EvidenceBundle *b)
{
	json_t *j = json_pack(
	    "{s:i, s:b, s:b, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:b, s:b, s:o, s:o, s:o, s:o, s:s}",
	    "version", b->version, "tracking_found", b->tracking_found, "delivered", b->delivered,
	    "last_scan_at", b->last_scan_at, "last_facility_id", b->last_facility_id, "promised_by",
	    b->promised_by, "delivered_at", b->delivered_at, "scan_count", b->scan_count,
	    "courier_id", b->courier_id, "signed_by", b->signed_by, "locker_or_station",
	    b->locker_or_station, "customer_consented", b->customer_consented, "responsibility",
	    responsibility_json(b->responsibility), "findings", findings_json(b), "trajectory",
	    trajectory_json(b), "open_requests", str_array(b->open_requests, b->n_open_requests),
	    "collected_at", b->collected_at);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

/* Stores the bundle unless a newer version is stored; returns 1 when stored, 0 when older. */
static int store_bundle(PGconn *c, const Cp__EvidenceBundle *ev)
{
	char *bundle = bundle_json(ev), version[16];
	if (!bundle)
		return -1;
	snprintf(version, sizeof(version), "%d", ev->version);
	const char *p[] = {ev->complaint_id, version, bundle};
	PGresult *r = pg_query(
	    c,
	    "INSERT INTO case_evidence AS e (complaint_id, version, bundle) SELECT id, $2::int, "
	    "$3::jsonb FROM complaints WHERE id = $1::uuid ON CONFLICT (complaint_id) DO UPDATE "
	    "SET version = EXCLUDED.version, bundle = EXCLUDED.bundle, updated_at = now() WHERE "
	    "e.version <= EXCLUDED.version RETURNING 1",
	    3, p);
	free(bundle);
	if (!r)
		return -1;
	int stored = PQntuples(r) > 0;
	PQclear(r);
	return stored;
}

/* A person (the owner or a supervisor) confirmed the facts and the responsibility: the case
 * is verified. The automatic bundle is only input to that decision. */
static bool confirmed_by_person(const Cp__EvidenceBundle *ev)
{
	return ev->responsibility && !ev->responsibility->preliminary &&
	       ev->responsibility->confirmed_by[0];
}

/* A bundle no person confirmed: its step does not depend on whether the bundle was newer, so
 * store_bundle's upsert and the step (the system's, for the customer) go in one statement. */
static int store_bundle_step(PGconn *c, const struct ce_meta *ce, const Cp__EvidenceBundle *ev,
			     const char *stage)
{
	char *bundle = bundle_json(ev), version[16];
	if (!bundle)
		return -1;
	snprintf(version, sizeof(version), "%d", ev->version);
	const char *p[] = {ev->complaint_id, version, bundle,
			   strcmp(ce->type, "cp.complaint.evidence_updated") == 0
			       ? "evidence_updated"
			       : "evidence_found",
			   detail("stage", stage, NULL, NULL)};
	int rc = pg_exec(
	    c,
	    "WITH b AS (INSERT INTO case_evidence AS e (complaint_id, version, bundle) SELECT id, "
	    "$2::int, $3::jsonb FROM complaints WHERE id = $1::uuid ON CONFLICT (complaint_id) DO "
	    "UPDATE SET version = EXCLUDED.version, bundle = EXCLUDED.bundle, updated_at = now() "
	    "WHERE e.version <= EXCLUDED.version) INSERT INTO timeline (complaint_id, step, "
	    "detail, "
	    "actor, visibility) SELECT id, $4, $5::jsonb, 'system', 'customer' FROM complaints "
	    "WHERE id = $1::uuid",
	    5, p);
	free(bundle);
	return rc;
}

static int on_evidence(PGconn *c, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__EvidenceBundle *ev = (const void *)m;
	const char *stage = ev->responsibility ? ev->responsibility->stage : "unknown";
	if (!confirmed_by_person(ev))
		return store_bundle_step(c, ce, ev, stage);
	int stored = store_bundle(c, ev);
	if (stored < 0)
		return -1;
	if (stored && confirmed_by_person(ev)) {
		struct step_def s = {"verified", "verified",
				     detail("stage", stage, "party", ev->responsibility->party),
				     ev->responsibility->confirmed_by, VIS_CUSTOMER};
		return step(c, ev->complaint_id, &s);
	}
	struct step_def s = {strcmp(ce->type, "cp.complaint.evidence_updated") == 0
				 ? "evidence_updated"
				 : "evidence_found",
			     NULL, detail("stage", stage, NULL, NULL), NULL, VIS_CUSTOMER};
	return step(c, ev->complaint_id, &s);
}

/* ---- complaint.resolution.v1 ---------------------------------------------------------- */

static int v_resolution(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__ResolutionDecided *)m)->complaint_id, e, n);
}

static json_t *remedies_json(const Cp__ResolutionDecided *ev)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < ev->n_remedies; i++) {
		const Cp__Remedy *x = ev->remedies[i];
		json_array_append_new(arr,
				      json_pack("{s:s, s:I, s:s}", "kind", x->kind, "amount_fen",
						(json_int_t)(x->amount ? x->amount->amount_fen : 0),
						"rule", x->rule));
	}
	return arr;
}

/* "compensation 36.00 CNY, apology": what the customer reads once the plan is approved. */
static void decision_text(const Cp__ResolutionDecided *ev, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 0; i < ev->n_remedies; i++) {
		size_t len = strlen(out);
		long long fen = ev->remedies[i]->amount ? ev->remedies[i]->amount->amount_fen : 0;
		snprintf(out + len, cap - len, "%s%s", i ? ", " : "", ev->remedies[i]->kind);
		len = strlen(out);
		if (fen > 0)
			snprintf(out + len, cap - len, " %lld.%02lld CNY", fen / 100, fen % 100);
	}
}

/* Stores the plan; with draft_step also the machine draft's step (the system's, for staff)
 * in the same statement. Returns 1 when it wrote that step, 0 when not, -1 on error. */
static int store_plan(PGconn *c, const Cp__ResolutionDecided *ev, bool draft_step)
{
	if (!ids_is_uuid(ev->proposal_id))
		return 0;
	json_t *rem = remedies_json(ev);
	char *remedies = json_dumps(rem, JSON_COMPACT), total[24];
	json_decref(rem);
	if (!remedies)
		return -1;
	snprintf(total, sizeof(total), "%lld", (long long)(ev->total ? ev->total->amount_fen : 0));
	const char *p[] = {
	    ev->proposal_id, ev->complaint_id,	    ev->status,	     remedies,	      total,
	    ev->rule,	     ev->responsible_party, ev->proposed_by, ev->approved_by, ev->reason,
	    ev->decided_at};
#define PLAN_UPSERT                                                                                \
	"INSERT INTO case_plans (proposal_id, complaint_id, status, remedies, total_fen, rule, "   \
	"responsible_party, proposed_by, approved_by, reason, decided_at) VALUES ($1::uuid, "      \
	"$2::uuid, $3, $4::jsonb, $5::bigint, $6, $7, $8, $9, $10, NULLIF($11, "                   \
	"'')::timestamptz) "                                                                       \
	"ON CONFLICT (proposal_id) DO UPDATE SET status = EXCLUDED.status, remedies = "            \
	"EXCLUDED.remedies, total_fen = EXCLUDED.total_fen, rule = EXCLUDED.rule, "                \
	"responsible_party = EXCLUDED.responsible_party, proposed_by = EXCLUDED.proposed_by, "     \
	"approved_by = EXCLUDED.approved_by, reason = EXCLUDED.reason, decided_at = "              \
	"EXCLUDED.decided_at, updated_at = now()"
	int rc = draft_step
		     ? pg_exec(c,
			       "WITH p AS (" PLAN_UPSERT ") INSERT INTO timeline (complaint_id, "
			       "step, detail, actor, visibility) SELECT id, 'plan_drafted', "
			       "'{}', 'system', 'staff' FROM complaints WHERE id = $2::uuid",
			       11, p)
		     : pg_exec(c, PLAN_UPSERT, 11, p);
#undef PLAN_UPSERT
	free(remedies);
	return rc != 0 ? -1 : draft_step ? 1 : 0;
}

/* The machine's own draft (proposed by "system") is preparation for the owner, not a step of
 * the case: staff see it at once, the customer's status stays where the people have got to
 * (accepted, in contact, verified) until a person puts a plan forward or decides on it. */
static bool machine_draft(const Cp__ResolutionDecided *ev)
{
	return strcmp(ev->status, "proposed") == 0 &&
	       (!ev->proposed_by[0] || strcmp(ev->proposed_by, "system") == 0);
}

static int on_resolution(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__ResolutionDecided *ev = (const void *)m;
	char decision[512], name[64];
	bool visible = intake_plan_visible_to_customer(ev->status);
	decision_text(ev, decision, sizeof(decision));
	/* a machine draft that changes no decision: its step goes with the plan's upsert */
	int drafted = store_plan(c, ev, machine_draft(ev) && !(visible && decision[0]));
	if (drafted != 0)
		return drafted < 0 ? -1 : 0;
	const char *p[] = {ev->complaint_id, decision};
	if (visible && decision[0] &&
	    pg_exec(c, "UPDATE complaints SET decision = $2 WHERE id = $1::uuid", 2, p) != 0)
		return -1;
	if (machine_draft(ev)) {
		struct step_def s = {"plan_drafted", NULL, NULL, "system", VIS_STAFF};
		return step(c, ev->complaint_id, &s);
	}
	snprintf(name, sizeof(name), "plan_%s", ev->status);
	/* before approval the customer learns that a plan is being decided, not its amounts */
	struct step_def s = {name, intake_lifecycle_of_resolution(ev->status),
			     visible ? detail("decision", decision, NULL, NULL) : NULL,
			     ev->approved_by[0] ? ev->approved_by : ev->proposed_by, VIS_CUSTOMER};
	return step(c, ev->complaint_id, &s);
}

/* ---- complaint.followup.v1 ------------------------------------------------------------ */

static int v_followup(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__FollowupEvent *)m)->complaint_id, e, n);
}

static int converse(PGconn *c, const Cp__FollowupEvent *ev, const char *direction, const char *kind,
		    const char *actor, const char *text)
{
	const char *p[] = {ev->complaint_id,
			   direction,
			   kind,
			   actor && actor[0] ? actor : "system",
			   text ? text : "",
			   detail3("outcome", ev->outcome, "next_update_by", ev->next_update_by,
				   "channel", ev->channel)};
	return pg_exec(
	    c,
	    "INSERT INTO conversation (complaint_id, direction, kind, actor, text, detail) "
	    "SELECT id, $2, $3, $4, $5, $6::jsonb FROM complaints WHERE id = $1::uuid",
	    6, p);
}

/* A person contacted the customer (a message from the case or a call that reached them). */
static int on_contacted(PGconn *c, const Cp__FollowupEvent *ev)
{
	const char *p[] = {ev->complaint_id, ev->next_update_by};
	if (ev->next_update_by[0] &&
	    pg_exec(c, "UPDATE complaints SET next_update_by = $2::timestamptz WHERE id = $1::uuid",
		    2, p) != 0)
		return -1;
	const char *kind = ev->contact_kind[0] ? ev->contact_kind : "message";
	if (converse(c, ev, "to_customer", kind, ev->actor_staff_id, ev->text_redacted) != 0)
		return -1;
	struct step_def s = {"contacted", "in_contact",
			     detail("kind", kind, "next_update_by", ev->next_update_by),
			     ev->actor_staff_id, VIS_CUSTOMER};
	return step(c, ev->complaint_id, &s);
}

static int on_closed(PGconn *c, const Cp__FollowupEvent *ev)
{
	const char *p[] = {ev->complaint_id, ev->close_reason, ev->merged_into};
	if (pg_exec(c,
		    "UPDATE complaints SET close_reason = NULLIF($2, ''), merged_into = "
		    "NULLIF($3, '') WHERE id = $1::uuid",
		    3, p) != 0)
		return -1;
	struct step_def s = {"closed", intake_lifecycle_of_closure(ev->close_reason),
			     detail("reason", ev->close_reason, "merged_into", ev->merged_into),
			     ev->actor_staff_id, VIS_CUSTOMER};
	return step(c, ev->complaint_id, &s);
}

static int on_followup(PGconn *c, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *e, size_t n, void *arg)
{
	const Cp__FollowupEvent *ev = (const void *)m;
	const char *t = ce->type;
	if (strcmp(t, "cp.complaint.closed") == 0)
		return on_closed(c, ev);
	if (strcmp(t, "cp.complaint.contacted") == 0)
		return on_contacted(c, ev);
	if (strcmp(t, "cp.complaint.reopened") == 0) {
		struct step_def s = {
		    "reopened", "reopened", detail("reason", ev->reason, NULL, NULL),
		    ev->actor_staff_id[0] ? ev->actor_staff_id : "customer", VIS_CUSTOMER};
		return step(c, ev->complaint_id, &s);
	}
	if (strcmp(t, "cp.complaint.customer_replied") == 0)
		return converse(c, ev, "from_customer", "reply", "customer", ev->text_redacted);
	if (strcmp(t, "cp.complaint.awaiting_customer") == 0)
		return converse(c, ev, "to_customer", "question", ev->actor_staff_id, ev->reason);
	if (strcmp(t, "cp.complaint.survey_answered") == 0) {
		struct step_def s = {"survey_answered", NULL, NULL, "customer", VIS_CUSTOMER};
		return step(c, ev->complaint_id, &s);
	}
	return 0;
}

/* ---- complaint.sla.v1 ------------------------------------------------------------------ */

static int v_sla(const ProtobufCMessage *m, char *e, size_t n)
{
	return has_id(((const Cp__SlaEvent *)m)->complaint_id, e, n);
}

/* The nearest deadline of the running clocks orders the staff queue. */
static int refresh_next_due(PGconn *c, const char *id)
{
	const char *p[] = {id};
	return pg_exec(c,
		       "UPDATE complaints k SET next_due_at = d.due_at, next_due_clock = d.clock "
		       "FROM (SELECT $1::uuid AS id) x LEFT JOIN LATERAL (SELECT due_at, clock "
		       "FROM case_clocks WHERE complaint_id = $1::uuid AND state = 'running' AND "
		       "due_at IS NOT NULL ORDER BY due_at LIMIT 1) d ON true WHERE k.id = x.id",
		       1, p);
}

static int store_clock(PGconn *c, const Cp__SlaEvent *ev)
{
	char dur[16], used[24], paused[24], level[16];
	snprintf(dur, sizeof(dur), "%d", ev->duration_s);
	snprintf(used, sizeof(used), "%lld", (long long)ev->used_s);
	snprintf(paused, sizeof(paused), "%lld", (long long)ev->paused_s);
	snprintf(level, sizeof(level), "%d", ev->escalation_level);
	const char *p[] = {ev->complaint_id,
			   ev->clock,
			   ev->state[0] ? ev->state : "running",
			   ev->due_at,
			   ev->started_at,
			   dur,
			   used,
			   paused,
			   ev->calendar,
			   level,
			   ev->stopped_by};
	return pg_exec(
	    c,
	    "INSERT INTO case_clocks AS k (complaint_id, clock, state, due_at, started_at, "
	    "duration_s, used_s, paused_s, calendar, escalation_level, stopped_by) VALUES "
	    "($1::uuid, $2, $3, NULLIF($4, '')::timestamptz, NULLIF($5, '')::timestamptz, "
	    "$6::int, $7::bigint, $8::bigint, $9, $10::int, $11) ON CONFLICT (complaint_id, clock) "
	    "DO UPDATE SET state = EXCLUDED.state, due_at = EXCLUDED.due_at, started_at = "
	    "coalesce(EXCLUDED.started_at, k.started_at), duration_s = EXCLUDED.duration_s, used_s "
	    "= EXCLUDED.used_s, paused_s = EXCLUDED.paused_s, calendar = EXCLUDED.calendar, "
	    "escalation_level = GREATEST(k.escalation_level, EXCLUDED.escalation_level), "
	    "stopped_by = EXCLUDED.stopped_by, updated_at = now()",
	    11, p);
}

static int mark_fired(PGconn *c, const Cp__SlaEvent *ev, bool breach)
{
	char level[16];
	snprintf(level, sizeof(level), "%d", ev->escalation_level);
	const char *p[] = {ev->complaint_id, ev->clock, breach ? "t" : "f", level,
			   ev->next_due_at,  ev->due_at};
	/* a breach re-arms the clock at the next level (next_due_at); the snapshot may not
	 * have come yet, so the row is created when needed */
	return pg_exec(
	    c,
	    "INSERT INTO case_clocks AS k (complaint_id, clock, state, due_at, warned, breached, "
	    "escalation_level) VALUES ($1::uuid, $2, CASE WHEN $3::boolean AND $5 = '' THEN "
	    "'exhausted' ELSE 'running' END, coalesce(NULLIF($5, ''), NULLIF($6, "
	    "''))::timestamptz, "
	    "NOT $3::boolean, $3::boolean, $4::int) ON CONFLICT (complaint_id, clock) DO UPDATE "
	    "SET "
	    "warned = k.warned OR NOT $3::boolean, breached = k.breached OR $3::boolean, "
	    "escalation_level = GREATEST(k.escalation_level, $4::int), due_at = CASE WHEN "
	    "$3::boolean AND $5 <> '' THEN $5::timestamptz ELSE k.due_at END, updated_at = now()",
	    6, p);
}

static int on_sla(PGconn *c, const struct ce_meta *ce, const char *key, const ProtobufCMessage *m,
		  char *e, size_t n, void *arg)
{
	const Cp__SlaEvent *ev = (const void *)m;
	int rc = 0;
	if (strcmp(ce->type, "cp.complaint.clock_changed") == 0) {
		rc = store_clock(c, ev);
	} else if (strcmp(ev->kind, "breach") == 0 || strcmp(ev->kind, "warning") == 0) {
		bool breach = strcmp(ev->kind, "breach") == 0;
		rc = mark_fired(c, ev, breach);
		if (rc == 0 && breach) {
			struct step_def s = {
			    "sla_breached", NULL,
			    detail("clock", ev->clock, "escalated_to", ev->escalated_to), NULL,
			    VIS_STAFF};
			rc = step(c, ev->complaint_id, &s);
		}
	}
	return rc == 0 ? refresh_next_due(c, ev->complaint_id) : -1;
}

enum { SLA_STORE_NCOLS = 11, SLA_MARK_NCOLS = 6 };

/* A set of clock events: its rounds, the cells of its statements and their texts. */
struct sla_set {
	size_t *round; /* per event: earlier events of the set on its (complaint, clock) */
	const char **store,
	    **mark;	    /* one round's rows for store_clock's and mark_fired's upserts */
	const char **steps; /* the breaches' timeline rows: complaint id, detail */
	const char **ids;   /* every event's complaint, for the next-due refresh */
	char (*num)[4][24]; /* per event: its numbers as text */
	char **detail;	    /* per event: its step's detail (owned) */
};

static void sla_set_free(struct sla_set *s, size_t n)
{
	for (size_t j = 0; s->detail && j < n; j++)
		free(s->detail[j]);
	free(s->round);
	free(s->store);
	free(s->mark);
	free(s->steps);
	free(s->ids);
	free(s->num);
	free(s->detail);
}

static bool sla_changed(const struct consumer_set_item *it)
{
	return strcmp(it->ce->type, "cp.complaint.clock_changed") == 0;
}

static bool sla_fired(const struct consumer_set_item *it, bool *breach)
{
	const Cp__SlaEvent *ev = (const void *)it->m;
	*breach = strcmp(ev->kind, "breach") == 0;
	return !sla_changed(it) && (*breach || strcmp(ev->kind, "warning") == 0);
}

/* One round's store_clock and mark_fired rows (at most one per complaint and clock), one
 * statement each; they touch different rows. */
static int sla_round(PGconn *c, const struct consumer_set_item *items, size_t n, size_t r,
		     struct sla_set *s)
{
	size_t ns = 0, nm = 0;
	for (size_t j = 0; j < n; j++) {
		const Cp__SlaEvent *ev = (const void *)items[j].m;
		char(*x)[24] = s->num[j];
		bool breach;
		if (s->round[j] != r)
			continue;
		if (sla_changed(&items[j])) {
			snprintf(x[0], 24, "%d", ev->duration_s);
			snprintf(x[1], 24, "%lld", (long long)ev->used_s);
			snprintf(x[2], 24, "%lld", (long long)ev->paused_s);
			snprintf(x[3], 24, "%d", ev->escalation_level);
			const char *v[SLA_STORE_NCOLS] = {ev->complaint_id,
							  ev->clock,
							  ev->state[0] ? ev->state : "running",
							  ev->due_at,
							  ev->started_at,
							  x[0],
							  x[1],
							  x[2],
							  ev->calendar,
							  x[3],
							  ev->stopped_by};
			memcpy(s->store + ns++ * SLA_STORE_NCOLS, v, sizeof(v));
		} else if (sla_fired(&items[j], &breach)) {
			snprintf(x[3], 24, "%d", ev->escalation_level);
			const char *v[SLA_MARK_NCOLS] = {ev->complaint_id,   ev->clock,
							 breach ? "t" : "f", x[3],
							 ev->next_due_at,    ev->due_at};
			memcpy(s->mark + nm++ * SLA_MARK_NCOLS, v, sizeof(v));
		}
	}
	PGresult *q = NULL;
	/* store_clock's upsert, row by row the same */
	if (ns > 0 &&
	    !(q = pg_query_columns(
		  c, "intake_case_clocks_set",
		  "INSERT INTO case_clocks AS k (complaint_id, clock, state, due_at, "
		  "started_at, duration_s, used_s, paused_s, calendar, escalation_level, "
		  "stopped_by) SELECT u.id::uuid, u.clock, u.state, NULLIF(u.due, "
		  "'')::timestamptz, NULLIF(u.started, '')::timestamptz, u.dur::int, "
		  "u.used::bigint, u.paused::bigint, u.cal, u.lvl::int, u.stopped_by FROM "
		  "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
		  "$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) "
		  "WITH ORDINALITY AS u (id, clock, state, due, started, dur, used, paused, "
		  "cal, lvl, stopped_by, o) ORDER BY u.o ON CONFLICT (complaint_id, clock) DO "
		  "UPDATE SET state = EXCLUDED.state, due_at = EXCLUDED.due_at, started_at = "
		  "coalesce(EXCLUDED.started_at, k.started_at), duration_s = "
		  "EXCLUDED.duration_s, used_s = EXCLUDED.used_s, paused_s = "
		  "EXCLUDED.paused_s, calendar = EXCLUDED.calendar, escalation_level = "
		  "GREATEST(k.escalation_level, EXCLUDED.escalation_level), stopped_by = "
		  "EXCLUDED.stopped_by, updated_at = now()",
		  SLA_STORE_NCOLS, ns, s->store)))
		return -1;
	PQclear(q);
	q = NULL;
	/* mark_fired's upsert: the excluded row carries what its parameters said (breached is
	 * the breach, state 'running' after a breach means a next due time to re-arm at) */
	if (nm > 0 &&
	    !(q = pg_query_columns(
		  c, "intake_case_clocks_fired_set",
		  "INSERT INTO case_clocks AS k (complaint_id, clock, state, due_at, warned, "
		  "breached, escalation_level) SELECT u.id::uuid, u.clock, CASE WHEN "
		  "u.breach::boolean AND u.next = '' THEN 'exhausted' ELSE 'running' END, "
		  "coalesce(NULLIF(u.next, ''), NULLIF(u.due, ''))::timestamptz, NOT "
		  "u.breach::boolean, u.breach::boolean, u.lvl::int FROM unnest($1::text[], "
		  "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY "
		  "AS u (id, clock, breach, lvl, next, due, o) ORDER BY u.o ON CONFLICT "
		  "(complaint_id, clock) DO UPDATE SET warned = k.warned OR NOT "
		  "EXCLUDED.breached, breached = k.breached OR EXCLUDED.breached, "
		  "escalation_level = GREATEST(k.escalation_level, EXCLUDED.escalation_level), "
		  "due_at = CASE WHEN "
		  "EXCLUDED.breached AND EXCLUDED.state = 'running' THEN EXCLUDED.due_at ELSE "
		  "k.due_at END, updated_at = now()",
		  SLA_MARK_NCOLS, nm, s->mark)))
		return -1;
	PQclear(q);
	return 0;
}

/* on_sla for a set of clock events: the case_clocks upserts in rounds (round r holds the r-th
 * event of each complaint's clock, so a clock meets its events in order), the breaches'
 * timeline rows in one insert (in the set's order) and the next-due refresh once per
 * complaint at the end (it reads only case_clocks, which the set has finished writing). */
static int on_sla_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
		      size_t en, void *arg)
{
	struct sla_set s = {
	    .round = calloc(n, sizeof(*s.round)),
	    .store = malloc(n * SLA_STORE_NCOLS * sizeof(*s.store)),
	    .mark = malloc(n * SLA_MARK_NCOLS * sizeof(*s.mark)),
	    .steps = malloc(2 * n * sizeof(*s.steps)),
	    .ids = malloc(n * sizeof(*s.ids)),
	    .num = malloc(n * sizeof(*s.num)),
	    .detail = calloc(n, sizeof(*s.detail)),
	};
	size_t rounds = 0, nsteps = 0;
	int rc = s.round && s.store && s.mark && s.steps && s.ids && s.num && s.detail ? 0 : -1;
	for (size_t j = 0; j < n && rc == 0; j++) {
		const Cp__SlaEvent *ev = (const void *)items[j].m;
		bool breach;
		for (size_t i = 0; i < j; i++) {
			const Cp__SlaEvent *x = (const void *)items[i].m;
			s.round[j] += strcmp(x->complaint_id, ev->complaint_id) == 0 &&
				      strcmp(x->clock, ev->clock) == 0;
		}
		rounds = s.round[j] + 1 > rounds ? s.round[j] + 1 : rounds;
		s.ids[j] = ev->complaint_id;
		if (sla_fired(&items[j], &breach) && breach) {
			s.detail[j] =
			    strdup(detail("clock", ev->clock, "escalated_to", ev->escalated_to));
			rc = s.detail[j] ? 0 : -1;
			s.steps[2 * nsteps] = ev->complaint_id;
			s.steps[2 * nsteps++ + 1] = s.detail[j];
		}
	}
	for (size_t r = 0; r < rounds && rc == 0; r++)
		rc = sla_round(c, items, n, r, &s);
	PGresult *q = NULL;
	/* step()'s insert for each breach (the system's, for staff) */
	if (rc == 0 && nsteps > 0 &&
	    !(q = pg_query_columns(c, "intake_sla_steps_set",
				   "INSERT INTO timeline (complaint_id, step, detail, actor, "
				   "visibility) SELECT k.id, "
				   "'sla_breached', u.d::jsonb, 'system', 'staff' FROM "
				   "unnest($1::text[], $2::text[]) "
				   "WITH ORDINALITY AS u (id, d, o) JOIN complaints k ON k.id = "
				   "u.id::uuid ORDER BY u.o",
				   2, nsteps, s.steps)))
		rc = -1;
	PQclear(q);
	q = NULL;
	/* refresh_next_due for every complaint of the set */
	if (rc == 0 &&
	    !(q = pg_query_columns(
		  c, "intake_next_due_set",
		  "UPDATE complaints k SET next_due_at = d.due_at, next_due_clock = d.clock FROM "
		  "(SELECT DISTINCT u.id::uuid AS id FROM unnest($1::text[]) AS u (id)) x LEFT "
		  "JOIN "
		  "LATERAL (SELECT due_at, clock FROM case_clocks WHERE complaint_id = x.id AND "
		  "state "
		  "= 'running' AND due_at IS NOT NULL ORDER BY due_at LIMIT 1) d ON true WHERE "
		  "k.id = "
		  "x.id",
		  1, n, s.ids)))
		rc = -1;
	PQclear(q);
	sla_set_free(&s, n);
	return rc;
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

/* The batch's pickup scans as one statement: the earliest pickup per waybill, kept against the
 * stored one with LEAST like on_scan, so the same row whichever path and order. */
static int on_scans(PGconn *c, const struct consumer_set_item *items, size_t n, char *e, size_t en,
		    void *arg)
{
	const char **cells = malloc(2 * n * sizeof(*cells));
	size_t rows = 0;
	if (!cells)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const Cp__TrackingEvent *ev = (const void *)items[i].m;
		if (ev->code != CP__SCAN_CODE__SCAN_PICKED_UP)
			continue;
		cells[2 * rows] = ev->waybill_no;
		cells[2 * rows++ + 1] = ev->occurred_at;
	}
	PGresult *r = NULL;
	if (rows > 0)
		r = pg_query_columns(
		    c, "intake_pickups_set",
		    "INSERT INTO pickups (waybill_no, picked_up_at) SELECT w, min(t::timestamptz) "
		    "FROM unnest($1::text[], $2::text[]) AS u (w, t) GROUP BY w "
		    "ON CONFLICT (waybill_no) DO UPDATE SET picked_up_at = "
		    "LEAST(pickups.picked_up_at, EXCLUDED.picked_up_at), updated_at = now()",
		    2, rows, cells);
	free(cells);
	if (rows > 0 && !r)
		return -1;
	PQclear(r);
	return 0;
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
	const struct intake_delay d = {
	    .waybill_no = x->waybill_no,
	    .facility_id = x->facility_id,
	    .description = text,
	    /* a pseudonym or nothing: a stuck event never carries a phone number */
	    .recipient_ref = ids_customer_ref_valid(x->recipient_ref) ? x->recipient_ref : "",
	    .recipient_language = x->recipient_language,
	    .recipient_contact = x->recipient_contact,
	    .reason = x->reason,
	    .place = x->city[0] ? x->city : x->facility_id,
	    .hours = (int)(x->stuck_seconds / 3600),
	};
	return intake_open_proactive(c, &d);
}

/* ---- the complaint events as sets (issue 14) ------------------------------------------------
 * Each handler above costs one or two statements per event; in a burst that was most of
 * intake's consumer statements (pg_stat_statements in make bench: the classification, first
 * response, escalation, evidence and machine-draft rows one by one). A set applies a batch's
 * events of one kind with one statement per round: round r holds each complaint's r-th event
 * of the set, so a complaint meets its events in order and no row is updated twice by one
 * statement (ON CONFLICT and UPDATE ... FROM both need that). An event whose handler must read
 * before it writes (a step that moves the lifecycle status, a person's confirmation, a plan a
 * customer sees) goes through its one-event handler in its round: the round's other events
 * are other complaints', so the order between them does not matter. */

typedef int (*intake_apply_fn)(PGconn *c, const struct ce_meta *ce, const char *key,
			       const ProtobufCMessage *m, char *e, size_t n, void *arg);

/* The cells of one round's statement and the strings the set made for them (at most
 * SET_OWNED per event; freed after the round). */
enum { SET_OWNED = 3 };
struct set_rows {
	const char **cells;
	size_t ncols, nrows;
	char **owned;
	size_t nowned;
};

/* Takes a malloc'ed string for the round (NULL stays NULL: the round fails). */
static const char *set_keep(struct set_rows *s, char *str)
{
	if (str)
		s->owned[s->nowned++] = str;
	return str;
}

static const char *set_int(struct set_rows *s, long long v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%lld", v);
	return set_keep(s, strdup(buf));
}

/* detail() and detail3() write a thread-local buffer the next call reuses: a row keeps a
 * copy. */
static const char *set_detail(struct set_rows *s, const char *json)
{
	return set_keep(s, strdup(json));
}

static void set_rows_clear(struct set_rows *s)
{
	for (size_t i = 0; i < s->nowned; i++)
		free(s->owned[i]);
	s->nowned = 0;
	s->nrows = 0;
}

/* One kind of event applied as a set. */
struct set_kind {
	const char *name; /* the prepared statement's name */
	const char *sql;  /* over unnest of ncols text[] parameters WITH ORDINALITY */
	size_t ncols;
	const char *(*id_of)(const ProtobufCMessage *m);
	/* Fills the event's row (ncols cells, NULL when memory ran out) and returns 0, or returns
	 * 1 when the event goes through `one` instead. */
	int (*row)(const struct consumer_set_item *it, const char **cells, struct set_rows *s);
	intake_apply_fn one;
};

struct set_order {
	const char *id;
	size_t j;
};

static int set_order_cmp(const void *a, const void *b)
{
	const struct set_order *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	return c ? c : (x->j > y->j) - (x->j < y->j);
}

/* round[j]: how many earlier events of the set are about items[j]'s complaint (sorted by
 * complaint, not compared pairwise). Returns the number of rounds, or 0 when memory ran
 * out. */
static size_t set_rounds(const struct set_kind *k, const struct consumer_set_item *items, size_t n,
			 size_t *round)
{
	struct set_order *o = malloc(n * sizeof(*o));
	size_t rounds = 0;
	if (!o)
		return 0;
	for (size_t j = 0; j < n; j++)
		o[j] = (struct set_order){k->id_of(items[j].m), j};
	qsort(o, n, sizeof(*o), set_order_cmp);
	for (size_t i = 0; i < n; i++) {
		round[o[i].j] =
		    i > 0 && strcmp(o[i].id, o[i - 1].id) == 0 ? round[o[i - 1].j] + 1 : 0;
		rounds = round[o[i].j] + 1 > rounds ? round[o[i].j] + 1 : rounds;
	}
	free(o);
	return rounds;
}

/* One round: the set's rows with one statement, the other events one by one. */
static int set_round(PGconn *c, const struct set_kind *k, const struct consumer_set_item *items,
		     size_t n, const size_t *round, size_t r, struct set_rows *s, char *e,
		     size_t en, void *arg)
{
	for (size_t j = 0; j < n; j++) {
		if (round[j] != r)
			continue;
		const char **cells = s->cells + s->nrows * k->ncols;
		int x = k->row(&items[j], cells, s);
		for (size_t i = 0; x == 0 && i < k->ncols; i++)
			if (!cells[i])
				return -1; /* out of memory */
		if (x == 0)
			s->nrows++;
		else if (k->one(c, items[j].ce, items[j].key, items[j].m, e, en, arg) != 0)
			return -1;
	}
	if (s->nrows == 0)
		return 0;
	PGresult *q = pg_query_columns(c, k->name, k->sql, k->ncols, s->nrows, s->cells);
	if (!q)
		return -1;
	PQclear(q);
	return 0;
}

static int set_apply(PGconn *c, const struct set_kind *k, const struct consumer_set_item *items,
		     size_t n, char *e, size_t en, void *arg)
{
	size_t *round = malloc(n * sizeof(*round));
	struct set_rows s = {.cells = malloc(n * k->ncols * sizeof(*s.cells)),
			     .ncols = k->ncols,
			     .owned = malloc(n * SET_OWNED * sizeof(*s.owned))};
	size_t rounds = round && s.cells && s.owned ? set_rounds(k, items, n, round) : 0;
	int rc = rounds > 0 ? 0 : -1;
	for (size_t r = 0; r < rounds && rc == 0; r++) {
		rc = set_round(c, k, items, n, round, r, &s, e, en, arg);
		set_rows_clear(&s);
	}
	set_rows_clear(&s);
	free(s.owned);
	free(s.cells);
	free(round);
	return rc;
}

/* on_classified's statement for a round (no read first: always a set row). */
static const char *classified_id(const ProtobufCMessage *m)
{
	return ((const Cp__ComplaintClassified *)m)->complaint_id;
}

static int classified_row(const struct consumer_set_item *it, const char **v, struct set_rows *s)
{
	const Cp__ComplaintClassified *ev = (const void *)it->m;
	v[0] = ev->complaint_id;
	v[1] = set_int(s, ev->priority > 0 ? ev->priority : 5);
	v[2] = ev->category;
	v[3] = ev->subcategory;
	v[4] = ev->urgency;
	v[5] = ev->tier;
	v[6] = ev->sla_policy;
	v[7] = set_detail(s, detail3("category", ev->category, "subcategory", ev->subcategory,
				     "urgency", ev->urgency));
	return 0;
}

static const struct set_kind classified_set = {
    "intake_classified_set",
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
    "$5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS u (id, prio, cat, sub, "
    "urg, tier, pol, d, o)), k AS (UPDATE complaints c SET priority = LEAST(c.priority, "
    "u.prio::int), category = u.cat, subcategory = u.sub, urgency = u.urg, tier = u.tier, "
    "sla_policy = u.pol FROM u WHERE c.id = u.id::uuid RETURNING c.id, u.d, u.o) INSERT INTO "
    "timeline (complaint_id, step, detail, actor, visibility) SELECT id, 'classified', "
    "d::jsonb, 'system', 'customer' FROM k ORDER BY o",
    8,
    classified_id,
    classified_row,
    on_classified,
};

/* on_first_response's two statements as one per round. */
static const char *first_response_id(const ProtobufCMessage *m)
{
	return ((const Cp__FirstResponse *)m)->complaint_id;
}

static int first_response_row(const struct consumer_set_item *it, const char **v,
			      struct set_rows *s)
{
	const Cp__FirstResponse *ev = (const void *)it->m;
	v[0] = ev->complaint_id;
	v[1] = ev->next_update_by;
	v[2] = ev->text;
	v[3] =
	    set_detail(s, detail3("scenario", ev->scenario, "text", ev->text, "automatic", "true"));
	return 0;
}

static const struct set_kind first_response_set = {
    "intake_first_response_set",
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH "
    "ORDINALITY AS u (id, nub, txt, d, o)), n AS (UPDATE complaints c SET next_update_by = "
    "u.nub::timestamptz FROM u WHERE c.id = u.id::uuid AND u.nub <> ''), v AS (INSERT INTO "
    "conversation (complaint_id, direction, kind, actor, text, detail) SELECT k.id, "
    "'to_customer', 'automatic', 'system', u.txt, jsonb_build_object('next_update_by', "
    "NULLIF(u.nub, '')) FROM u JOIN complaints k ON k.id = u.id::uuid ORDER BY u.o) INSERT "
    "INTO timeline (complaint_id, step, detail, actor, visibility) SELECT k.id, "
    "'first_response', u.d::jsonb, 'system', 'customer' FROM u JOIN complaints k ON k.id = "
    "u.id::uuid ORDER BY u.o",
    4,
    first_response_id,
    first_response_row,
    on_first_response,
};

/* on_escalated's update and step as one statement per round; an offer or an owner moves the
 * lifecycle status (read, then written) and goes one by one. */
static const char *assignment_id(const ProtobufCMessage *m)
{
	return ((const Cp__ComplaintAssignment *)m)->complaint_id;
}

static int escalated_row(const struct consumer_set_item *it, const char **v, struct set_rows *s)
{
	const Cp__ComplaintAssignment *ev = (const void *)it->m;
	if (strcmp(ev->action, "escalated") != 0)
		return 1;
	v[0] = ev->complaint_id;
	v[1] = ev->n_staff_ids > 0 ? ev->staff_ids[0] : "";
	v[2] = set_int(s, ev->escalation_level);
	v[3] = set_detail(
	    s, detail3("escalated_to", v[1], "role", ev->escalated_role, "reason", ev->reason));
	v[4] = ev->actor_staff_id[0] ? ev->actor_staff_id : "system";
	return 0;
}

static const struct set_kind assignment_set = {
    "intake_escalated_set",
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
    "$5::text[]) WITH ORDINALITY AS u (id, dest, lvl, d, actor, o)), k AS (UPDATE complaints "
    "c SET escalated_to = NULLIF(u.dest, ''), escalation_level = GREATEST(c.escalation_level, "
    "u.lvl::int) FROM u WHERE c.id = u.id::uuid) INSERT INTO timeline (complaint_id, step, "
    "detail, actor, visibility) SELECT k.id, 'escalated', u.d::jsonb, u.actor, 'staff' FROM u "
    "JOIN complaints k ON k.id = u.id::uuid ORDER BY u.o",
    5,
    assignment_id,
    escalated_row,
    on_assignment,
};

/* store_bundle_step per round; a bundle a person confirmed goes one by one (its step depends
 * on whether the bundle was newer). */
static const char *evidence_id(const ProtobufCMessage *m)
{
	return ((const Cp__EvidenceBundle *)m)->complaint_id;
}

static int evidence_row(const struct consumer_set_item *it, const char **v, struct set_rows *s)
{
	const Cp__EvidenceBundle *ev = (const void *)it->m;
	if (confirmed_by_person(ev))
		return 1;
	v[0] = ev->complaint_id;
	v[1] = set_int(s, ev->version);
	v[2] = set_keep(s, bundle_json(ev));
	v[3] = strcmp(it->ce->type, "cp.complaint.evidence_updated") == 0 ? "evidence_updated"
									  : "evidence_found";
	v[4] = set_detail(s, detail("stage",
				    ev->responsibility ? ev->responsibility->stage : "unknown",
				    NULL, NULL));
	return 0;
}

static const struct set_kind evidence_set = {
    "intake_evidence_set",
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
    "$5::text[]) WITH ORDINALITY AS u (id, ver, b, step, d, o)), b AS (INSERT INTO "
    "case_evidence AS e (complaint_id, version, bundle) SELECT k.id, u.ver::int, u.b::jsonb "
    "FROM u JOIN complaints k ON k.id = u.id::uuid ORDER BY u.o ON CONFLICT (complaint_id) DO "
    "UPDATE SET version = EXCLUDED.version, bundle = EXCLUDED.bundle, updated_at = now() "
    "WHERE e.version <= EXCLUDED.version) INSERT INTO timeline (complaint_id, step, detail, "
    "actor, visibility) SELECT k.id, u.step, u.d::jsonb, 'system', 'customer' FROM u JOIN "
    "complaints k ON k.id = u.id::uuid ORDER BY u.o",
    5,
    evidence_id,
    evidence_row,
    on_evidence,
};

/* The machine's drafts (store_plan with its step) per round; a plan that changes the case
 * or what the customer reads goes one by one. */
static const char *resolution_id(const ProtobufCMessage *m)
{
	return ((const Cp__ResolutionDecided *)m)->complaint_id;
}

static int resolution_row(const struct consumer_set_item *it, const char **v, struct set_rows *s)
{
	const Cp__ResolutionDecided *ev = (const void *)it->m;
	char decision[512];
	decision_text(ev, decision, sizeof(decision));
	if (!machine_draft(ev) || !ids_is_uuid(ev->proposal_id) ||
	    (intake_plan_visible_to_customer(ev->status) && decision[0]))
		return 1;
	json_t *rem = remedies_json(ev);
	const char *row[] = {ev->proposal_id,
			     ev->complaint_id,
			     ev->status,
			     set_keep(s, json_dumps(rem, JSON_COMPACT)),
			     set_int(s, ev->total ? ev->total->amount_fen : 0),
			     ev->rule,
			     ev->responsible_party,
			     ev->proposed_by,
			     ev->approved_by,
			     ev->reason,
			     ev->decided_at};
	json_decref(rem);
	memcpy(v, row, sizeof(row));
	return 0;
}

static const struct set_kind resolution_set = {
    "intake_plan_drafted_set",
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
    "$5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) "
    "WITH ORDINALITY AS u (pid, cid, st, rem, tot, rule, party, pby, aby, reason, dec, o)), p "
    "AS (INSERT INTO case_plans (proposal_id, complaint_id, status, remedies, total_fen, rule, "
    "responsible_party, proposed_by, approved_by, reason, decided_at) SELECT u.pid::uuid, "
    "u.cid::uuid, u.st, u.rem::jsonb, u.tot::bigint, u.rule, u.party, u.pby, u.aby, u.reason, "
    "NULLIF(u.dec, '')::timestamptz FROM u ORDER BY u.o ON CONFLICT (proposal_id) DO UPDATE "
    "SET status = EXCLUDED.status, remedies = EXCLUDED.remedies, total_fen = "
    "EXCLUDED.total_fen, rule = EXCLUDED.rule, responsible_party = "
    "EXCLUDED.responsible_party, proposed_by = EXCLUDED.proposed_by, approved_by = "
    "EXCLUDED.approved_by, reason = EXCLUDED.reason, decided_at = EXCLUDED.decided_at, "
    "updated_at = now()) INSERT INTO timeline (complaint_id, step, detail, actor, visibility) "
    "SELECT k.id, 'plan_drafted', '{}', 'system', 'staff' FROM u JOIN complaints k ON k.id = "
    "u.cid::uuid ORDER BY u.o",
    11,
    resolution_id,
    resolution_row,
    on_resolution,
};

static int on_classified_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			     size_t en, void *arg)
{
	return set_apply(c, &classified_set, items, n, e, en, arg);
}

static int on_first_response_set(PGconn *c, const struct consumer_set_item *items, size_t n,
				 char *e, size_t en, void *arg)
{
	return set_apply(c, &first_response_set, items, n, e, en, arg);
}

static int on_assignment_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			     size_t en, void *arg)
{
	return set_apply(c, &assignment_set, items, n, e, en, arg);
}

static int on_evidence_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			   size_t en, void *arg)
{
	return set_apply(c, &evidence_set, items, n, e, en, arg);
}

static int on_resolution_set(PGconn *c, const struct consumer_set_item *items, size_t n, char *e,
			     size_t en, void *arg)
{
	return set_apply(c, &resolution_set, items, n, e, en, arg);
}

const struct consumer_handler intake_handlers[] = {
    {TOPIC_PARCEL_EXCEPTION, "cp.parcel.stuck", &cp__parcel_exception__descriptor, v_stuck,
     on_stuck},
    {TOPIC_TRACKING, "cp.parcel.scanned", &cp__tracking_event__descriptor, v_scan, on_scan},
    {TOPIC_CLASSIFIED, "cp.complaint.classified", &cp__complaint_classified__descriptor,
     v_classified, on_classified},
    {TOPIC_CLASSIFIED, "cp.complaint.offered", &cp__complaint_assignment__descriptor, v_assignment,
     on_assignment},
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

/* The pickup projection keeps the earliest time: applying a scan twice changes nothing, so
 * no inbox row is written for scans. The timer's clock events (several per complaint in a
 * burst) go as sets too (on_sla_set). */
const struct consumer_set_handler intake_set_handlers[] = {
    {TOPIC_TRACKING, "cp.parcel.scanned", on_scans, NULL, true},
    {TOPIC_SLA, NULL, on_sla_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.classified", on_classified_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.offered", on_assignment_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.assigned", on_assignment_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.escalated", on_assignment_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.first_response", on_first_response_set, NULL, false},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_collected", on_evidence_set, NULL, false},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_updated", on_evidence_set, NULL, false},
    {TOPIC_RESOLUTION, NULL, on_resolution_set, NULL, false},
};
const size_t intake_nset_handlers = sizeof(intake_set_handlers) / sizeof(intake_set_handlers[0]);
