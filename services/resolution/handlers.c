/* Event handlers: the projections of classification, ownership and evidence (either may come
 * first), the proposal once both are known, a rule's second look when the evidence changes,
 * and the finance/shipping systems' execution results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification.pb-c.h"
#include "evcheck.h"
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

/* --- the projections as sets --------------------------------------------------------------
 *
 * A batch's classified, evidence and assignment events are upserted with one statement per
 * run of events about distinct complaints (a complaint's second event in the set starts the
 * next run, so its upserts and proposals keep their order), and only the complaints the
 * statement finds classified AND with evidence go on to res_try_propose, one by one in the
 * batch's order: the others' load_case would find nothing to propose. A proposal reads and
 * writes only its own complaint's rows (and the waybill's ledger, which the upserts do not
 * touch), so upserting the run's other complaints first changes nothing it sees. */

/* the ordinals (1-based) of the run's events whose case is now classified and has evidence */
#define READY_SELECT                                                                               \
	"SELECT u.ord FROM u LEFT JOIN up ON up.complaint_id = u.id::uuid LEFT JOIN cases c ON "   \
	"c.complaint_id = u.id::uuid WHERE coalesce(up.ready, c.classified AND "                   \
	"c.evidence_collected, false) ORDER BY u.ord"

#define CLASSIFIED_SET_SQL                                                                         \
	"WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "         \
	"$5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], "   \
	"$12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], "           \
	"$18::text[]) WITH ORDINALITY AS u (id, no, waybill, cref, lang, cat, sub, tier, demand, " \
	"goods, per, ins, insv, decv, fr, outlet, tkind, tid, ord)), up AS (INSERT INTO cases AS " \
	"k (complaint_id, complaint_no, waybill_no, customer_ref, language, classified, "          \
	"category, subcategory, tier, demand, goods, perishable, insured, insured_value_fen, "     \
	"declared_value_fen, freight_fen, outlet_id, target_kind, target_id) SELECT id::uuid, "    \
	"no, waybill, cref, lang, true, cat, sub, tier, demand::text[], goods::text[], "           \
	"per::boolean, ins::boolean, insv::bigint, decv::bigint, fr::bigint, outlet, tkind, tid "  \
	"FROM u ORDER BY ord ON CONFLICT (complaint_id) DO UPDATE SET complaint_no = "             \
	"EXCLUDED.complaint_no, waybill_no = EXCLUDED.waybill_no, customer_ref = "                 \
	"EXCLUDED.customer_ref, language = EXCLUDED.language, classified = true, category = "      \
	"EXCLUDED.category, subcategory = EXCLUDED.subcategory, tier = EXCLUDED.tier, demand = "   \
	"EXCLUDED.demand, goods = EXCLUDED.goods, perishable = EXCLUDED.perishable, insured = "    \
	"EXCLUDED.insured, insured_value_fen = EXCLUDED.insured_value_fen, declared_value_fen = "  \
	"EXCLUDED.declared_value_fen, freight_fen = EXCLUDED.freight_fen, outlet_id = "            \
	"EXCLUDED.outlet_id, target_kind = EXCLUDED.target_kind, target_id = EXCLUDED.target_id, " \
	"updated_at = now() RETURNING k.complaint_id, k.classified AND k.evidence_collected AS "   \
	"ready) " READY_SELECT

#define EVIDENCE_SET_SQL                                                                           \
	"WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "         \
	"$5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) "   \
	"WITH ORDINALITY AS u (id, no, waybill, ver, party, pid, stage, loc, pre, con, conf, "     \
	"ord)), up AS (INSERT INTO cases AS k (complaint_id, complaint_no, waybill_no, "           \
	"evidence_collected, evidence_version, party, party_id, stage, locatable, "                \
	"resp_preliminary, resp_conclusive, resp_confirmed_by) SELECT id::uuid, no, waybill, "     \
	"true, ver::int, party, pid, stage, loc::boolean, pre::boolean, con::boolean, conf FROM "  \
	"u ORDER BY ord ON CONFLICT (complaint_id) DO UPDATE SET evidence_collected = true, "      \
	"evidence_version = EXCLUDED.evidence_version, party = EXCLUDED.party, party_id = "        \
	"EXCLUDED.party_id, stage = EXCLUDED.stage, locatable = EXCLUDED.locatable, "              \
	"resp_preliminary = EXCLUDED.resp_preliminary, resp_conclusive = "                         \
	"EXCLUDED.resp_conclusive, resp_confirmed_by = EXCLUDED.resp_confirmed_by, waybill_no = "  \
	"CASE WHEN k.waybill_no = '' THEN EXCLUDED.waybill_no ELSE k.waybill_no END, updated_at "  \
	"= now() WHERE k.evidence_version IS NULL OR k.evidence_version <= "                       \
	"EXCLUDED.evidence_version RETURNING k.complaint_id, k.classified AND "                    \
	"k.evidence_collected AS ready) " READY_SELECT

#define ASSIGNED_SET_SQL                                                                           \
	"INSERT INTO cases AS k (complaint_id, complaint_no, owner_staff_id) SELECT id::uuid, "    \
	"no, owner FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u (id, no, " \
	"owner, ord) ORDER BY ord ON CONFLICT (complaint_id) DO UPDATE SET owner_staff_id = "      \
	"EXCLUDED.owner_staff_id, updated_at = now()"

/* One kind of set: its statement, its columns, and how an event becomes a row (0: it writes
 * nothing, as its one-event handler would not). */
struct res_set_kind {
	const char *name, *sql, *why; /* why: NULL when its events never propose */
	size_t ncols;
	int (*row)(const ProtobufCMessage *m, const char **cells, char (*num)[24]);
};

static int classified_row(const ProtobufCMessage *m, const char **cells, char (*num)[24])
{
	static const Cp__Impact none = CP__IMPACT__INIT;
	const Cp__ComplaintClassified *c = (const void *)m;
	const Cp__Impact *im = c->impact ? c->impact : &none;
	char *demand = pg_text_array((const char *const *)c->demand, c->n_demand);
	char *goods = pg_text_array((const char *const *)im->goods, im->n_goods);
	if (!demand || !goods) {
		free(demand);
		free(goods);
		return -1;
	}
	/* demand and goods (cells 8 and 9) are freed by res_set_run */
	snprintf(num[0], 24, "%lld", (long long)im->insured_value_fen);
	snprintf(num[1], 24, "%lld", (long long)im->declared_value_fen);
	snprintf(num[2], 24, "%lld", (long long)im->freight_fen);
	const char *row[] = {c->complaint_id,
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
			     num[0],
			     num[1],
			     num[2],
			     c->outlet_id,
			     c->target ? c->target->kind : "",
			     c->target ? c->target->id : ""};
	memcpy(cells, row, sizeof(row));
	return 1;
}

static int evidence_row(const ProtobufCMessage *m, const char **cells, char (*num)[24])
{
	const Cp__EvidenceBundle *b = (const void *)m;
	const Cp__Responsibility *resp = b->responsibility;
	snprintf(num[0], 24, "%d", b->version);
	const char *row[] = {b->complaint_id,
			     b->complaint_no,
			     b->waybill_no,
			     num[0],
			     resp && resp->party[0] ? resp->party : "unknown",
			     resp ? resp->party_id : "",
			     resp && resp->stage[0] ? resp->stage : "unknown",
			     locatable(b) ? "t" : "f",
			     resp && !resp->preliminary && resp->confirmed_by[0] ? "f" : "t",
			     resp && resp->conclusive ? "t" : "f",
			     resp && !resp->preliminary ? resp->confirmed_by : ""};
	memcpy(cells, row, sizeof(row));
	return 1;
}

static int assigned_row(const ProtobufCMessage *m, const char **cells, char (*num)[24])
{
	const Cp__ComplaintAssignment *a = (const void *)m;
	if (strcmp(a->action, "accepted") != 0 && strcmp(a->action, "reassigned") != 0)
		return 0;
	const char *row[] = {a->complaint_id, a->complaint_no, a->owner_staff_id};
	memcpy(cells, row, sizeof(row));
	return 1;
}

static const struct res_set_kind classified_kind = {"resolution_classified_set", CLASSIFIED_SET_SQL,
						    "the category changed", 18, classified_row};
static const struct res_set_kind evidence_kind = {"resolution_evidence_set", EVIDENCE_SET_SQL,
						  "the evidence changed", 11, evidence_row};
static const struct res_set_kind assigned_kind = {"resolution_assigned_set", ASSIGNED_SET_SQL, NULL,
						  3, assigned_row};

/* The complaint an event is about (every kind here names one). */
static const char *res_item_id(const ProtobufCMessage *m)
{
	const char *id, *no;
	evcheck_ids(m, &id, &no);
	return id ? id : "";
}

/* One run of events about distinct complaints: the upsert, then the proposals. */
static int res_set_run(PGconn *pg, const struct res_set_kind *k,
		       const struct consumer_set_item *items, size_t n)
{
	const char **cells = calloc(k->ncols * (n ? n : 1), sizeof(*cells));
	char(*num)[3][24] = calloc(n ? n : 1, sizeof(*num));
	const ProtobufCMessage **rows = calloc(n ? n : 1, sizeof(*rows));
	const char **ce_ids = calloc(n ? n : 1, sizeof(*ce_ids));
	size_t m = 0;
	int rc = -1;
	PGresult *res = NULL;
	if (!cells || !num || !rows || !ce_ids)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int w = k->row(items[i].m, cells + k->ncols * m, num[m]);
		if (w < 0)
			goto out;
		if (w > 0) {
			ce_ids[m] = items[i].ce->id[0] ? items[i].ce->id : NULL;
			rows[m++] = items[i].m;
		}
	}
	if (m == 0) {
		rc = 0;
		goto out;
	}
	res = pg_query_columns(pg, k->name, k->sql, k->ncols, m, cells);
	if (!res)
		goto out;
	rc = 0;
	for (int r = 0; k->why && rc == 0 && r < PQntuples(res); r++) {
		size_t j = strtoul(PQgetvalue(res, r, 0), NULL, 10) - 1;
		/* its log lines name its event, as on the one-event path */
		log_context_set("ce_id", ce_ids[j]);
		rc = res_try_propose(pg, res_item_id(rows[j]), k->why) != 0 ? -1 : 0;
		log_context_set("ce_id", NULL);
	}
out:
	/* classified rows hold two array literals each (cells 8 and 9) */
	for (size_t i = 0; k == &classified_kind && cells && i < m; i++) {
		free((char *)cells[k->ncols * i + 8]);
		free((char *)cells[k->ncols * i + 9]);
	}
	PQclear(res);
	free(cells);
	free(num);
	free(rows);
	free(ce_ids);
	return rc;
}

static int res_apply_set(PGconn *pg, const struct res_set_kind *k,
			 const struct consumer_set_item *items, size_t n)
{
	for (size_t start = 0, end; start < n; start = end) {
		/* the run ends before the first event about a complaint already in it */
		for (end = start + 1; end < n; end++) {
			bool again = false;
			for (size_t j = start; j < end && !again; j++)
				again =
				    strcmp(res_item_id(items[j].m), res_item_id(items[end].m)) == 0;
			if (again)
				break;
		}
		if (res_set_run(pg, k, items + start, end - start) != 0)
			return -1;
	}
	return 0;
}

static int on_classified_set(PGconn *pg, const struct consumer_set_item *items, size_t n,
			     char *errstr, size_t errlen, void *arg)
{
	return res_apply_set(pg, &classified_kind, items, n);
}

static int on_evidence_set(PGconn *pg, const struct consumer_set_item *items, size_t n,
			   char *errstr, size_t errlen, void *arg)
{
	return res_apply_set(pg, &evidence_kind, items, n);
}

static int on_assigned_set(PGconn *pg, const struct consumer_set_item *items, size_t n,
			   char *errstr, size_t errlen, void *arg)
{
	return res_apply_set(pg, &assigned_kind, items, n);
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

const struct consumer_set_handler resolution_set_handlers[] = {
    {TOPIC_CLASSIFIED, "cp.complaint.classified", on_classified_set, NULL, false},
    {TOPIC_CLASSIFIED, "cp.complaint.assigned", on_assigned_set, NULL, false},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_collected", on_evidence_set, NULL, false},
    {TOPIC_EVIDENCE, "cp.complaint.evidence_updated", on_evidence_set, NULL, false},
};
const size_t resolution_nset_handlers =
    sizeof(resolution_set_handlers) / sizeof(resolution_set_handlers[0]);
