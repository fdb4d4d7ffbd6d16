/* Event handlers: the projections of classification, ownership and evidence (either may come
 * first), the proposal once both are known, a rule's second look when the evidence changes,
 * and the finance/shipping systems' execution results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification.pb-c.h"
#include "evidence.pb-c.h"
#include "followup.pb-c.h"
#include "ids.h"
#include "log.h"
#include "pg.h"
#include "resolution.h"
#include "resolution.pb-c.h"
#include "topics.h"

static int has_uuid(const char *id, const char *what, char *errstr, size_t errlen)
{
	if (ids_is_uuid(id))
		return 0;
	snprintf(errstr, errlen, "%s must be a UUID", what);
	return -1;
}

static int v_classified(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__ComplaintClassified *c = (const void *)m;
	if (has_uuid(c->complaint_id, "complaint_id", e, n) != 0)
		return -1;
	if (!c->complaint_no[0]) {
		snprintf(e, n, "complaint_no is required");
		return -1;
	}
	return 0;
}

static int store_classified(PGconn *pg, const Cp__ComplaintClassified *c)
{
	static const Cp__Impact none = CP__IMPACT__INIT;
	const Cp__Impact *im = c->impact ? c->impact : &none;
	char *demand = pg_text_array((const char *const *)c->demand, c->n_demand);
	char *goods = pg_text_array((const char *const *)im->goods, im->n_goods);
	char ins[24], dec[24], fr[24];
	snprintf(ins, sizeof(ins), "%lld", (long long)im->insured_value_fen);
	snprintf(dec, sizeof(dec), "%lld", (long long)im->declared_value_fen);
	snprintf(fr, sizeof(fr), "%lld", (long long)im->freight_fen);
	const char *p[] = {c->complaint_id,
			   c->complaint_no,
			   c->waybill_no,
			   c->customer_ref,
			   c->language[0] ? c->language : "zh-CN",
			   c->category,
			   c->subcategory,
			   c->tier[0] ? c->tier : "standard",
			   demand,
			   goods,
			   im->perishable ? "t" : "f",
			   im->insured ? "t" : "f",
			   ins,
			   dec,
			   fr,
			   c->outlet_id,
			   c->target ? c->target->kind : "",
			   c->target ? c->target->id : ""};
	int rc = demand && goods ? 0 : -1;
	if (rc == 0)
		rc = pg_exec(
		    pg,
		    "INSERT INTO cases AS k (complaint_id, complaint_no, waybill_no, customer_ref, "
		    "language, classified, category, subcategory, tier, demand, goods, perishable, "
		    "insured, insured_value_fen, declared_value_fen, freight_fen, outlet_id, "
		    "target_kind, target_id) VALUES "
		    "($1, $2, $3, $4, $5, true, $6, $7, $8, $9::text[], $10::text[], $11, $12, "
		    "$13, "
		    "$14, $15, $16, $17, $18) ON CONFLICT (complaint_id) DO UPDATE SET "
		    "complaint_no = "
		    "EXCLUDED.complaint_no, waybill_no = EXCLUDED.waybill_no, customer_ref = "
		    "EXCLUDED.customer_ref, language = EXCLUDED.language, classified = true, "
		    "category = EXCLUDED.category, subcategory = EXCLUDED.subcategory, tier = "
		    "EXCLUDED.tier, demand = EXCLUDED.demand, goods = EXCLUDED.goods, perishable = "
		    "EXCLUDED.perishable, insured = EXCLUDED.insured, insured_value_fen = "
		    "EXCLUDED.insured_value_fen, declared_value_fen = EXCLUDED.declared_value_fen, "
		    "freight_fen = EXCLUDED.freight_fen, outlet_id = EXCLUDED.outlet_id, "
		    "target_kind = EXCLUDED.target_kind, target_id = EXCLUDED.target_id, "
		    "updated_at = now()",
		    18, p);
	free(demand);
	free(goods);
	return rc;
}

static int on_classified(PGconn *pg, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ComplaintClassified *c = (const void *)m;
	if (store_classified(pg, c) != 0)
		return -1;
	/* classified again: a person corrected the category */
	return res_try_propose(pg, c->complaint_id, "the category changed");
}

static int v_evidence(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__EvidenceBundle *b = (const void *)m;
	if (has_uuid(b->complaint_id, "complaint_id", e, n) != 0)
		return -1;
	if (!b->complaint_no[0]) {
		snprintf(e, n, "complaint_no is required");
		return -1;
	}
	return 0;
}

/* Still in the network and not delivered: it can be found and delivered. */
static bool locatable(const Cp__EvidenceBundle *b)
{
	if (b->delivered || !b->tracking_found)
		return false;
	for (size_t i = 0; i < b->n_findings; i++)
		if (strcmp(b->findings[i]->kind, "stuck") == 0)
			return true;
	return false;
}

static int on_evidence(PGconn *pg, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__EvidenceBundle *b = (const void *)m;
	const Cp__Responsibility *resp = b->responsibility;
	char version[16];
	snprintf(version, sizeof(version), "%d", b->version);
	/* confirmed only with a person's name: a bundle that merely leaves preliminary unset
	 * (false in proto3) is not a person's judgement */
	const char *p[] = {b->complaint_id,
			   b->complaint_no,
			   b->waybill_no,
			   version,
			   resp && resp->party[0] ? resp->party : "unknown",
			   resp ? resp->party_id : "",
			   resp && resp->stage[0] ? resp->stage : "unknown",
			   locatable(b) ? "t" : "f",
			   resp && !resp->preliminary && resp->confirmed_by[0] ? "f" : "t",
			   resp && resp->conclusive ? "t" : "f",
			   resp && !resp->preliminary ? resp->confirmed_by : ""};
	if (pg_exec(
		pg,
		"INSERT INTO cases AS k (complaint_id, complaint_no, waybill_no, "
		"evidence_collected, evidence_version, party, party_id, stage, locatable, "
		"resp_preliminary, resp_conclusive, resp_confirmed_by) VALUES ($1, $2, $3, true, "
		"$4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (complaint_id) DO UPDATE SET "
		"evidence_collected = true, evidence_version = EXCLUDED.evidence_version, party "
		"= EXCLUDED.party, party_id = EXCLUDED.party_id, stage = EXCLUDED.stage, "
		"locatable = EXCLUDED.locatable, resp_preliminary = EXCLUDED.resp_preliminary, "
		"resp_conclusive = EXCLUDED.resp_conclusive, resp_confirmed_by = "
		"EXCLUDED.resp_confirmed_by, waybill_no = CASE WHEN k.waybill_no = '' THEN "
		"EXCLUDED.waybill_no ELSE k.waybill_no END, updated_at = now() "
		"WHERE k.evidence_version IS NULL OR k.evidence_version <= "
		"EXCLUDED.evidence_version",
		11, p) != 0)
		return -1;
	return res_try_propose(pg, b->complaint_id, "the evidence changed");
}

static int v_assigned(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__ComplaintAssignment *a = (const void *)m;
	if (has_uuid(a->complaint_id, "complaint_id", e, n) != 0)
		return -1;
	if (!a->complaint_no[0]) {
		snprintf(e, n, "complaint_no is required");
		return -1;
	}
	return 0;
}

/* The owner decides on the plan (accepted: the first to accept; reassigned: the new owner). */
static int on_assigned(PGconn *pg, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ComplaintAssignment *a = (const void *)m;
	if (strcmp(a->action, "accepted") != 0 && strcmp(a->action, "reassigned") != 0)
		return 0;
	const char *p[] = {a->complaint_id, a->complaint_no, a->owner_staff_id};
	return pg_exec(pg,
		       "INSERT INTO cases AS k (complaint_id, complaint_no, owner_staff_id) VALUES "
		       "($1, $2, $3) ON CONFLICT (complaint_id) DO UPDATE SET owner_staff_id = "
		       "EXCLUDED.owner_staff_id, updated_at = now()",
		       3, p);
}

static int v_result(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__ExecutionResult *x = (const void *)m;
	return has_uuid(x->execution_id, "execution_id", e, n);
}

static int on_result(PGconn *pg, const struct ce_meta *ce, const char *key,
		     const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__ExecutionResult *x = (const void *)m;
	size_t len = strlen(ce->type);
	bool ok = len > 10 && strcmp(ce->type + len - 10, "_confirmed") == 0;
	int rc = res_settle_execution(pg, x->execution_id, ok, x->reason, x->reference);
	if (rc == 1)
		log_msg(LOG_WARN, "execution_result_ignored",
			LOG_KV({"execution_id", x->execution_id}, {"ce_id", ce->id}),
			"no execution waits for this result (unknown or already settled)");
	return rc < 0 ? -1 : 0;
}

static int v_reopened(const ProtobufCMessage *m, char *e, size_t n)
{
	const Cp__FollowupEvent *f = (const void *)m;
	return has_uuid(f->complaint_id, "complaint_id", e, n);
}

/* The customer was not satisfied: the executed plan is open again for staff to amend. */
static int on_reopened(PGconn *pg, const struct ce_meta *ce, const char *key,
		       const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__FollowupEvent *f = (const void *)m;
	const char *p[] = {f->complaint_id};
	PGresult *r = pg_query(pg,
			       "UPDATE proposals SET status = 'reopened', updated_at = now() WHERE "
			       "complaint_id = $1 AND status = 'executed' RETURNING id",
			       1, p);
	if (!r)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++)
		rc = res_audit(pg, PQgetvalue(r, i, 0), "customer", "reopened",
			       f->reason[0] ? f->reason : "dissatisfied", NULL, NULL);
	PQclear(r);
	return rc;
}

const struct consumer_handler resolution_handlers[] = {
    {TOPIC_CLASSIFIED, "cp.complaint.classified", &cp__complaint_classified__descriptor,
     v_classified, on_classified},
    {TOPIC_CLASSIFIED, "cp.complaint.assigned", &cp__complaint_assignment__descriptor, v_assigned,
     on_assigned},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_collected", &cp__evidence_bundle__descriptor,
     v_evidence, on_evidence},
    /* later versions (late tracking, answers, a person's confirmation) refresh the party and
     * stage used for chargebacks, amendments and conflicts of interest, and how firm the
     * responsibility is: a still-proposed plan is offered to the auto-settlement rules again;
     * an older version never overwrites */
    {TOPIC_EVIDENCE, "cp.complaint.evidence_updated", &cp__evidence_bundle__descriptor, v_evidence,
     on_evidence},
    {TOPIC_FOLLOWUP, "cp.complaint.reopened", &cp__followup_event__descriptor, v_reopened,
     on_reopened},
    {TOPIC_EXECUTION, "cp.finance.payout_confirmed", &cp__execution_result__descriptor, v_result,
     on_result},
    {TOPIC_EXECUTION, "cp.finance.payout_failed", &cp__execution_result__descriptor, v_result,
     on_result},
    {TOPIC_EXECUTION, "cp.shipping.reship_confirmed", &cp__execution_result__descriptor, v_result,
     on_result},
    {TOPIC_EXECUTION, "cp.shipping.reship_failed", &cp__execution_result__descriptor, v_result,
     on_result},
};
const size_t resolution_nhandlers = sizeof(resolution_handlers) / sizeof(resolution_handlers[0]);
