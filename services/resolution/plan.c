/* The plan store and its state machine: propose, decide, request execution, settle,
 * announce. Every function runs inside the caller's transaction (consumer batch or HTTP
 * handler) so a state change and its event commit together.
 *
 *   proposed --accept within authority / auto-settlement rule--> executing (approved)
 *      |  \--accept above authority / amend above authority--> pending_approval
 *      |                                                          |   |
 *    amend within authority --> executing            approve <----/   reject --> rejected
 *
 *   executing --all confirmed--> executed --customer reopened--> reopened --amend--> ...
 *       \--one failed--> failed --amend--> ...
 *
 * Nothing leaves "proposed" by itself: a person with enough authority decides, or an
 * operator's auto-settlement rule matches (settle.c). Every payout goes through the
 * waybill's compensation ledger (res_start_execution). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "pg.h"
#include "resolution.h"
#include "resolution.pb-c.h"
#include "topics.h"
#include "tstamp.h"

struct res_case {
	char complaint_no[32];
	char waybill_no[40];
	char customer_ref[40];
	char party_id[64];
	struct res_facts facts;
};

static void copy(char *dst, size_t cap, const PGresult *r, int col)
{
	snprintf(dst, cap, "%s", PQgetvalue(r, 0, col));
}

/* "{reship,compensation}" -> demand bits */
static unsigned demand_bits(const char *arr)
{
	char buf[256];
	unsigned bits = 0;
	snprintf(buf, sizeof(buf), "%s", arr);
	for (char *s = NULL, *w = strtok_r(buf, "{},\"", &s); w; w = strtok_r(NULL, "{},\"", &s))
		bits |= res_demand_bit(w);
	return bits;
}

/* The case (classified and with evidence, locked), with what res_try_propose reads next in the
 * same statement: its proposal ("" when none; the open one first); two statements per
 * proposal attempt were one each. Whether an auto-settlement rule is enabled is not read here
 * but by res_try_settle when it settles: read here, a rule an operator enabled while the rest
 * of the proposal was written was missed for that event. A case is proposed for once; after
 * that only staff change the plan (even a rejected one is amended, not replaced by a new
 * automatic proposal). */
static int load_case(PGconn *c, const char *id, struct res_case *k, char pid[IDS_UUID_LEN])
{
	const char *p[] = {id};
	PGresult *r = pg_query(
	    c,
	    "SELECT k.complaint_no, k.waybill_no, k.customer_ref, k.category, k.subcategory, "
	    "k.tier, k.demand, k.insured, k.insured_value_fen, k.declared_value_fen, "
	    "k.freight_fen, k.party, k.party_id, k.locatable, coalesce(p.id::text, '') FROM cases "
	    "k LEFT JOIN LATERAL "
	    "(SELECT id FROM proposals WHERE complaint_id = k.complaint_id ORDER BY status IN "
	    "('rejected', 'superseded'), created_at DESC LIMIT 1) p ON true WHERE "
	    "k.complaint_id = $1 AND k.classified AND k.evidence_collected FOR UPDATE OF k",
	    1, p);
	if (!r)
		return -1;
	int found = PQntuples(r) == 1;
	if (found) {
		memset(k, 0, sizeof(*k));
		copy(k->complaint_no, sizeof(k->complaint_no), r, 0);
		copy(k->waybill_no, sizeof(k->waybill_no), r, 1);
		copy(k->customer_ref, sizeof(k->customer_ref), r, 2);
		copy(k->facts.category, sizeof(k->facts.category), r, 3);
		copy(k->facts.subcategory, sizeof(k->facts.subcategory), r, 4);
		copy(k->facts.tier, sizeof(k->facts.tier), r, 5);
		k->facts.demand = demand_bits(PQgetvalue(r, 0, 6));
		k->facts.insured = PQgetvalue(r, 0, 7)[0] == 't';
		k->facts.insured_value_fen = strtoll(PQgetvalue(r, 0, 8), NULL, 10);
		k->facts.declared_value_fen = strtoll(PQgetvalue(r, 0, 9), NULL, 10);
		k->facts.freight_fen = strtoll(PQgetvalue(r, 0, 10), NULL, 10);
		copy(k->facts.party, sizeof(k->facts.party), r, 11);
		copy(k->party_id, sizeof(k->party_id), r, 12);
		k->facts.locatable = PQgetvalue(r, 0, 13)[0] == 't';
		snprintf(pid, IDS_UUID_LEN, "%s", PQgetvalue(r, 0, 14));
	}
	PQclear(r);
	return found;
}

/* The carrier's policy: the waybill's letter prefix, else 'default'; with it what
 * res_ledger_paid(waybill, pid) returns (one statement instead of two). */
static int load_policy(PGconn *c, const char *waybill, const char *pid, struct res_policy *p,
		       int64_t *paid)
{
	const char *params[] = {waybill, pid ? pid : ""};
	PGresult *r = pg_query(
	    c,
	    "SELECT carrier, freight_multiple, declared_ceiling_fen, damage_loss_pct, "
	    "delay_remedy, delay_coupon_fen, vip_coupon_fen, last_mile_coupon_fen, CASE WHEN $1 "
	    "= '' THEN 0 ELSE (SELECT coalesce(sum(amount_fen), 0) FROM executions WHERE "
	    "waybill_no = $1 AND kind = 'payout' AND status IN ('requested', 'confirmed') AND "
	    "proposal_id::text <> $2) END FROM compensation_policies WHERE carrier IN "
	    "(substring($1 from '^[A-Za-z]+'), 'default') ORDER BY carrier = 'default' LIMIT 1",
	    2, params);
	if (!r)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		log_error("policy_missing", "no compensation policy, not even 'default'");
		return -1;
	}
	memset(p, 0, sizeof(*p));
	copy(p->name, sizeof(p->name), r, 0);
	p->freight_multiple = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	p->declared_ceiling_fen = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	p->damage_loss_pct = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	copy(p->delay_remedy, sizeof(p->delay_remedy), r, 4);
	p->delay_coupon_fen = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
	p->vip_coupon_fen = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
	p->last_mile_coupon_fen = strtoll(PQgetvalue(r, 0, 7), NULL, 10);
	*paid = strtoll(PQgetvalue(r, 0, 8), NULL, 10);
	PQclear(r);
	return 0;
}

int64_t res_authority(PGconn *c, const char *role)
{
	const char *p[] = {role};
	PGresult *r = pg_query(c, "SELECT max_fen FROM authority_limits WHERE role = $1", 1, p);
	if (!r)
		return -1;
	int64_t max = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	return max;
}

char *res_remedies_json(const struct res_plan *plan)
{
	json_t *arr = json_array();
	for (int i = 0; i < plan->n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:I, s:s}", "kind",
						     plan->remedies[i].kind, "amount_fen",
						     (json_int_t)plan->remedies[i].amount_fen,
						     "rule", plan->remedies[i].rule));
	char *s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return s;
}

int res_plan_from_json(const char *remedies, struct res_plan *plan)
{
	json_t *arr = json_loads(remedies, 0, NULL), *v;
	size_t i;
	memset(plan, 0, sizeof(*plan));
	if (!json_is_array(arr)) {
		json_decref(arr);
		return -1;
	}
	json_array_foreach (arr, i, v) {
		if (plan->n >= RES_MAX_REMEDIES)
			break;
		struct res_remedy *r = &plan->remedies[plan->n++];
		snprintf(r->kind, sizeof(r->kind), "%s",
			 json_string_value(json_object_get(v, "kind")) ?: "");
		snprintf(r->rule, sizeof(r->rule), "%s",
			 json_string_value(json_object_get(v, "rule")) ?: "");
		r->amount_fen = json_integer_value(json_object_get(v, "amount_fen"));
		plan->total_fen += r->amount_fen;
	}
	json_decref(arr);
	return 0;
}

int res_approve_and_execute(PGconn *c, const char *pid, const char *actor, const char *reason)
{
	const char *p[] = {pid, actor};
	if (pg_exec(c, "UPDATE proposals SET approved_by = $2, updated_at = now() WHERE id = $1", 2,
		    p) != 0 ||
	    res_audit(c, pid, actor, "approved", reason, NULL, NULL) != 0 ||
	    res_announce(c, pid, "cp.complaint.resolution_approved", "approved", reason) != 0)
		return -1;
	log_msg(LOG_INFO, "proposal_approved", LOG_KV({"proposal_id", pid}, {"approved_by", actor}),
		"proposal approved, executing");
	return res_start_execution(c, pid);
}

int res_audit(PGconn *c, const char *proposal_id, const char *actor, const char *action,
	      const char *reason, const char *before, const char *after)
{
	const char *p[] = {proposal_id, actor, action, reason ? reason : "", before, after};
	return pg_exec(c,
		       "INSERT INTO proposal_audit (proposal_id, actor, action, reason, before, "
		       "after) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)",
		       6, p);
}

static int insert_chargeback(PGconn *c, const char *pid, const char *cid, const struct res_case *k,
			     int64_t total)
{
	char fen[24];
	snprintf(fen, sizeof(fen), "%lld", (long long)total);
	const char *p[] = {pid, cid, k->facts.party, k->party_id, fen};
	return pg_exec(
	    c,
	    "INSERT INTO chargebacks (proposal_id, complaint_id, party, party_id, "
	    "amount_fen) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (proposal_id) DO UPDATE "
	    "SET amount_fen = EXCLUDED.amount_fen",
	    5, p);
}

int res_ledger_lock(PGconn *c, const char *waybill)
{
	const char *p[] = {waybill};
	if (!waybill[0])
		return 0;
	/* a transaction-scoped advisory lock per waybill: two approvals of plans about one
	 * parcel run their ledger check and payout request one after the other, and the second
	 * (READ COMMITTED: a fresh snapshot per statement) sees the first's payout */
	return pg_exec(
	    c, "SELECT pg_advisory_xact_lock(hashtextextended('resolution.ledger:' || $1, 0))", 1,
	    p);
}

int64_t res_ledger_paid(PGconn *c, const char *waybill, const char *pid)
{
	const char *p[] = {waybill, pid ? pid : ""};
	if (!waybill[0])
		return 0;
	PGresult *r =
	    pg_query(c,
		     "SELECT coalesce(sum(amount_fen), 0) FROM executions WHERE waybill_no "
		     "= $1 AND kind = 'payout' AND status IN ('requested', 'confirmed') "
		     "AND proposal_id::text <> $2",
		     2, p);
	if (!r)
		return -1;
	int64_t paid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return paid;
}

static int insert_proposal(PGconn *c, const char *id, const char *cid, const struct res_case *k,
			   const struct res_plan *plan, int64_t cap, int64_t paid)
{
	char total[24], capfen[24], paidfen[24];
	char *remedies = res_remedies_json(plan);
	if (!remedies)
		return -1;
	snprintf(total, sizeof(total), "%lld", (long long)plan->total_fen);
	snprintf(capfen, sizeof(capfen), "%lld", (long long)cap);
	snprintf(paidfen, sizeof(paidfen), "%lld", (long long)paid);
	const char *p[] = {id,	   cid,	       k->complaint_no, remedies,
			   total,  plan->rule, k->facts.party,	k->waybill_no,
			   capfen, paidfen};
	/* the proposal and res_audit's row for it in one statement (the audit's foreign key is
	 * checked at its end, when the proposal is there) */
	int rc = pg_exec(
	    c,
	    "WITH p AS (INSERT INTO proposals (id, complaint_id, complaint_no, status, remedies, "
	    "total_fen, rule, responsible_party, waybill_no, ledger_cap_fen, already_paid_fen) "
	    "VALUES ($1, $2, $3, 'proposed', $4::jsonb, $5, $6, $7, $8, $9, $10)) INSERT INTO "
	    "proposal_audit (proposal_id, actor, action, reason, before, after) VALUES ($1, "
	    "'system', 'proposed', $6, NULL, $4::jsonb)",
	    10, p);
	free(remedies);
	return rc;
}

/* The policy's plan for the case, cut by the waybill's ledger to what plans other than
 * pid (NULL: all) left unpaid. Returns 0 or -1; cap and paid receive the ledger's figures. */
static int build_plan(PGconn *c, const struct res_case *k, const char *pid, struct res_plan *plan,
		      int64_t *cap, int64_t *paid)
{
	struct res_policy policy;
	if (load_policy(c, k->waybill_no, pid, &policy, paid) != 0)
		return -1;
	res_propose(&policy, &k->facts, plan);
	*cap = res_ledger_apply(plan, *paid);
	return 0;
}

/* The system's plan for a case that has none. Announced as "proposed"; it executes only when
 * a person decides or an auto-settlement rule matches. */
static int propose_new(PGconn *c, const char *cid, const struct res_case *k)
{
	struct res_plan plan;
	int64_t cap, paid;
	char id[IDS_UUID_LEN];
	if (build_plan(c, k, NULL, &plan, &cap, &paid) != 0)
		return -1;
	ids_uuid(id);
	if (insert_proposal(c, id, cid, k, &plan, cap, paid) != 0)
		return -1;
	if (plan.chargeback && insert_chargeback(c, id, cid, k, plan.total_fen) != 0)
		return -1;
	log_msg(LOG_INFO, "proposal_made",
		LOG_KV({"complaint_no", k->complaint_no}, {"proposal_id", id}, {"rule", plan.rule}),
		"proposed %lld fen (%lld paid before on the waybill); waits for a decision",
		(long long)plan.total_fen, (long long)paid);
	if (res_announce(c, id, "cp.complaint.resolution_proposed", "proposed", NULL) != 0)
		return -1;
	return res_try_settle(c, id);
}

/* clang-format off */
static const char refresh_sql[] =
    "WITH old AS (SELECT remedies FROM proposals WHERE id = $1) "
    "UPDATE proposals p SET remedies = $2::jsonb, total_fen = $3, rule = $4, "
    "responsible_party = $5, ledger_cap_fen = $6, already_paid_fen = $7, updated_at = now() "
    "FROM old WHERE p.id = $1 AND p.status = 'proposed' AND p.proposed_by = 'system' AND "
    "(p.remedies <> $2::jsonb OR p.responsible_party <> $5) RETURNING old.remedies::text";
/* clang-format on */

static int refresh_chargeback(PGconn *c, const char *pid, const char *cid, const struct res_case *k,
			      const struct res_plan *plan)
{
	const char *p[] = {pid};
	if (pg_exec(c, "DELETE FROM chargebacks WHERE proposal_id = $1", 1, p) != 0)
		return -1;
	return plan->chargeback ? insert_chargeback(c, pid, cid, k, plan->total_fen) : 0;
}

/* A plan nobody has decided on yet follows the facts: when later evidence (a person's
 * confirmation, late tracking, answers) changes the remedies or the responsible party, the
 * system's proposal is replaced, audited ("reproposed") and announced again, so no person and
 * no rule decides on a plan made from outdated facts. Amended or decided plans stay. */
static int refresh_proposed(PGconn *c, const char *pid, const char *cid, const struct res_case *k,
			    const char *why)
{
	struct res_plan plan;
	int64_t cap, paid;
	char total[24], capfen[24], paidfen[24];
	if (build_plan(c, k, pid, &plan, &cap, &paid) != 0)
		return -1;
	char *remedies = res_remedies_json(&plan);
	if (!remedies)
		return -1;
	snprintf(total, sizeof(total), "%lld", (long long)plan.total_fen);
	snprintf(capfen, sizeof(capfen), "%lld", (long long)cap);
	snprintf(paidfen, sizeof(paidfen), "%lld", (long long)paid);
	const char *p[] = {pid, remedies, total, plan.rule, k->facts.party, capfen, paidfen};
	PGresult *r = pg_query(c, refresh_sql, 7, p);
	int rc = r ? 0 : -1;
	bool changed = r && PQntuples(r) == 1;
	if (changed &&
	    (res_audit(c, pid, "system", "reproposed", why, PQgetvalue(r, 0, 0), remedies) != 0 ||
	     refresh_chargeback(c, pid, cid, k, &plan) != 0 ||
	     res_announce(c, pid, "cp.complaint.resolution_proposed", "proposed", why) != 0))
		rc = -1;
	PQclear(r);
	free(remedies);
	return rc;
}

int res_try_propose(PGconn *c, const char *cid, const char *why)
{
	struct res_case k;
	char id[IDS_UUID_LEN];
	int found = load_case(c, cid, &k, id);
	if (found <= 0)
		return found;
	if (!id[0])
		return propose_new(c, cid, &k);
	/* later evidence may change a still-proposed plan, or make it settleable by a rule */
	if (refresh_proposed(c, id, cid, &k, why) != 0)
		return -1;
	return res_try_settle(c, id);
}

/* ---- announcing -------------------------------------------------------------------------- */

struct res_event_buf {
	Cp__ResolutionDecided ev;
	Cp__Money total;
	Cp__Remedy remedies[RES_MAX_REMEDIES];
	Cp__Money amounts[RES_MAX_REMEDIES];
	Cp__Remedy *ptrs[RES_MAX_REMEDIES];
	char now[TSTAMP_LEN];
};

static void fill_remedies(struct res_event_buf *b, json_t *arr)
{
	size_t i;
	json_t *v;
	json_array_foreach (arr, i, v) {
		if (i >= RES_MAX_REMEDIES)
			break;
		cp__remedy__init(&b->remedies[i]);
		cp__money__init(&b->amounts[i]);
		b->amounts[i].amount_fen = json_integer_value(json_object_get(v, "amount_fen"));
		b->amounts[i].currency = "CNY";
		b->remedies[i].kind = (char *)json_string_value(json_object_get(v, "kind"));
		b->remedies[i].rule = (char *)json_string_value(json_object_get(v, "rule"));
		if (!b->remedies[i].kind)
			b->remedies[i].kind = "";
		if (!b->remedies[i].rule)
			b->remedies[i].rule = "";
		b->remedies[i].amount = &b->amounts[i];
		b->ptrs[i] = &b->remedies[i];
		b->ev.n_remedies = i + 1;
	}
	b->ev.remedies = b->ptrs;
}

int res_announce(PGconn *c, const char *pid, const char *ce_type, const char *status,
		 const char *reason)
{
	const char *p[] = {pid};
	PGresult *r =
	    pg_query(c,
		     "SELECT p.complaint_id, p.complaint_no, p.remedies, p.total_fen, p.rule, "
		     "p.responsible_party, p.proposed_by, coalesce(p.approved_by, ''), "
		     "coalesce(k.language, 'zh-CN'), coalesce(cb.party_id, '') FROM proposals "
		     "p LEFT JOIN cases k ON k.complaint_id = p.complaint_id LEFT JOIN "
		     "chargebacks cb ON cb.proposal_id = p.id WHERE p.id = $1",
		     1, p);
	if (!r)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return -1;
	}
	struct res_event_buf b;
	cp__resolution_decided__init(&b.ev);
	cp__money__init(&b.total);
	json_t *arr = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
	if (arr)
		fill_remedies(&b, arr);
	tstamp_format(tstamp_now_ms(), b.now);
	b.total.amount_fen = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	b.total.currency = "CNY";
	b.ev.complaint_id = PQgetvalue(r, 0, 0);
	b.ev.complaint_no = PQgetvalue(r, 0, 1);
	b.ev.proposal_id = (char *)pid;
	b.ev.status = (char *)status;
	b.ev.total = &b.total;
	b.ev.rule = PQgetvalue(r, 0, 4);
	b.ev.responsible_party = PQgetvalue(r, 0, 5);
	b.ev.proposed_by = PQgetvalue(r, 0, 6);
	b.ev.approved_by = PQgetvalue(r, 0, 7);
	b.ev.language = PQgetvalue(r, 0, 8);
	b.ev.chargeback_party_id = PQgetvalue(r, 0, 9);
	b.ev.reason = (char *)(reason ? reason : "");
	b.ev.decided_at = b.now;
	int rc = outbox_add(c, TOPIC_RESOLUTION, b.ev.complaint_id, ce_type, &b.ev.base, NULL);
	json_decref(arr);
	PQclear(r);
	return rc;
}

/* ---- execution --------------------------------------------------------------------------- */

/* What res_start_execution reads of a plan. */
struct res_exec_plan {
	char complaint_id[IDS_UUID_LEN];
	char complaint_no[32];
	char waybill_no[40];
	char customer_ref[40];
	int64_t payout;	   /* the plan's payout remedies */
	int64_t paid_self; /* confirmed payouts of this plan */
	int64_t cap;	   /* the ledger's cap for the loss */
	bool reship;	   /* a reship is in the plan and not confirmed yet */
};

static int request_execution(PGconn *c, const char *pid, const struct res_exec_plan *x,
			     const char *kind, int64_t fen)
{
	char id[IDS_UUID_LEN], amount[24];
	ids_uuid(id);
	snprintf(amount, sizeof(amount), "%lld", (long long)fen);
	const char *p[] = {id, pid, x->complaint_id, kind, amount, x->waybill_no};
	if (pg_exec(c,
		    "INSERT INTO executions (id, proposal_id, complaint_id, kind, amount_fen, "
		    "waybill_no) VALUES ($1, $2, $3, $4, $5, $6)",
		    6, p) != 0)
		return -1;
	Cp__ExecutionRequest ev = CP__EXECUTION_REQUEST__INIT;
	Cp__Money money = CP__MONEY__INIT;
	money.amount_fen = fen;
	money.currency = "CNY";
	ev.execution_id = id;
	ev.complaint_id = (char *)x->complaint_id;
	ev.proposal_id = (char *)pid;
	ev.kind = (char *)kind;
	ev.amount = &money;
	ev.waybill_no = (char *)x->waybill_no;
	ev.customer_ref = (char *)x->customer_ref;
	ev.complaint_no = (char *)x->complaint_no;
	return outbox_add(c, TOPIC_EXECUTION, x->complaint_id,
			  strcmp(kind, "payout") == 0 ? "cp.finance.payout_requested"
						      : "cp.shipping.reship_requested",
			  &ev.base, NULL);
}

static int mark_executed(PGconn *c, const char *pid)
{
	const char *p[] = {pid};
	if (pg_exec(c, "UPDATE proposals SET status = 'executed', updated_at = now() WHERE id = $1",
		    1, p) != 0 ||
	    res_audit(c, pid, "system", "executed", "", NULL, NULL) != 0)
		return -1;
	return res_announce(c, pid, "cp.complaint.resolution_executed", "executed", NULL);
}

/* clang-format off */
static const char exec_plan_sql[] =
    "SELECT p.complaint_id, p.complaint_no, p.waybill_no, coalesce(k.customer_ref, ''), "
    "(SELECT coalesce(sum((x->>'amount_fen')::bigint), 0) FROM jsonb_array_elements(p.remedies) x "
    " WHERE x->>'kind' IN ('compensation', 'freight_refund', 'freight_waiver')), "
    "(SELECT coalesce(sum(amount_fen), 0) FROM executions WHERE proposal_id = p.id AND kind = "
    " 'payout' AND status = 'confirmed'), p.ledger_cap_fen, "
    "EXISTS (SELECT 1 FROM jsonb_array_elements(p.remedies) x WHERE x->>'kind' = 'reship') AND "
    "NOT EXISTS (SELECT 1 FROM executions WHERE proposal_id = p.id AND kind = 'reship' AND "
    " status = 'confirmed') "
    "FROM proposals p LEFT JOIN cases k ON k.complaint_id = p.complaint_id WHERE p.id = $1";
/* clang-format on */

/* 1 loaded, 0 no such proposal, -1 error. */
static int load_exec_plan(PGconn *c, const char *pid, struct res_exec_plan *x)
{
	const char *p[] = {pid};
	PGresult *r = pg_query(c, exec_plan_sql, 1, p);
	if (!r)
		return -1;
	int found = PQntuples(r) == 1;
	if (found) {
		copy(x->complaint_id, sizeof(x->complaint_id), r, 0);
		copy(x->complaint_no, sizeof(x->complaint_no), r, 1);
		copy(x->waybill_no, sizeof(x->waybill_no), r, 2);
		copy(x->customer_ref, sizeof(x->customer_ref), r, 3);
		x->payout = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
		x->paid_self = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
		x->cap = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
		x->reship = PQgetvalue(r, 0, 7)[0] == 't';
		/* an amendment by a person with the authority states the total for the loss */
		if (x->cap < x->payout)
			x->cap = x->payout;
	}
	PQclear(r);
	return found;
}

/* The ledger left less than the plan asks: the audit says how much and why. */
static int audit_capped(PGconn *c, const char *pid, const struct res_exec_plan *x, int64_t others,
			int64_t pay)
{
	char reason[200];
	snprintf(reason, sizeof(reason),
		 "waybill %s: %lld fen paid by other complaints, cap %lld fen; %lld fen requested "
		 "instead of %lld",
		 x->waybill_no, (long long)others, (long long)x->cap, (long long)pay,
		 (long long)(x->payout - x->paid_self));
	log_msg(LOG_WARN, "ledger_capped",
		LOG_KV({"proposal_id", pid}, {"complaint_no", x->complaint_no}), "%s", reason);
	return res_audit(c, pid, "system", "ledger_capped", reason, NULL, NULL);
}

int res_start_execution(PGconn *c, const char *pid)
{
	struct res_exec_plan x;
	const char *p[] = {pid};
	int found = load_exec_plan(c, pid, &x);
	if (found <= 0)
		return -1;
	if (res_ledger_lock(c, x.waybill_no) != 0)
		return -1;
	int64_t others = res_ledger_paid(c, x.waybill_no, pid);
	if (others < 0)
		return -1;
	/* what the plan pays minus what was paid for it already (an amended plan states the
	 * whole remedy, not an increment), within what the waybill's ledger leaves */
	int64_t pay = res_ledger_payable(x.payout, x.paid_self, x.cap, others);
	if (pg_exec(c,
		    "UPDATE proposals SET status = 'executing', updated_at = now() WHERE id = $1",
		    1, p) != 0 ||
	    pg_exec(c,
		    "UPDATE executions SET status = 'superseded', settled_at = now() WHERE "
		    "proposal_id = $1 AND status IN ('requested', 'failed')",
		    1, p) != 0)
		return -1;
	if (pay < x.payout - x.paid_self && audit_capped(c, pid, &x, others, pay) != 0)
		return -1;
	if (pay > 0 && request_execution(c, pid, &x, "payout", pay) != 0)
		return -1;
	if (x.reship && request_execution(c, pid, &x, "reship", 0) != 0)
		return -1;
	return pay > 0 || x.reship ? 0 : mark_executed(c, pid);
}

static int execution_failed(PGconn *c, const char *pid, const char *kind, const char *reason)
{
	const char *p[] = {pid, reason};
	char labels[64];
	if (pg_exec(c,
		    "UPDATE proposals SET status = 'failed', reason = $2, updated_at = now() WHERE "
		    "id = $1 AND status = 'executing'",
		    2, p) != 0 ||
	    res_audit(c, pid, "system", "failed", reason, NULL, NULL) != 0)
		return -1;
	snprintf(labels, sizeof(labels), "kind=\"%s\"", kind);
	metrics_add(metrics_counter("cp_resolution_execution_failures_total",
				    "Payouts and reships that failed.", labels),
		    1);
	log_msg(LOG_ERROR, "execution_failed", LOG_KV({"proposal_id", pid}, {"kind", kind}),
		"%s execution failed, the resolution step is open again: %s", kind, reason);
	return res_announce(c, pid, "cp.complaint.resolution_failed", "failed", reason);
}

int res_settle_execution(PGconn *c, const char *eid, bool ok, const char *reason,
			 const char *reference)
{
	const char *p[] = {eid, ok ? "confirmed" : "failed", reason ? reason : "",
			   reference ? reference : ""};
	PGresult *r =
	    pg_query(c,
		     "UPDATE executions SET status = $2, reason = $3, reference = $4, "
		     "settled_at = now() WHERE id = $1 AND status = 'requested' RETURNING "
		     "proposal_id, kind, (SELECT count(*) FROM executions o WHERE "
		     "o.proposal_id = executions.proposal_id AND o.id <> $1 AND o.status NOT "
		     "IN ('confirmed', 'superseded'))",
		     4, p);
	if (!r)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 1;
	}
	char pid[IDS_UUID_LEN], kind[16];
	copy(pid, sizeof(pid), r, 0);
	copy(kind, sizeof(kind), r, 1);
	long open = strtol(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	if (!ok)
		return execution_failed(c, pid, kind, reason && reason[0] ? reason : "unspecified");
	if (open > 0)
		return 0;
	const char *q[] = {pid};
	r = pg_query(c, "SELECT status FROM proposals WHERE id = $1 FOR UPDATE", 1, q);
	if (!r)
		return -1;
	bool executing = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "executing") == 0;
	PQclear(r);
	return executing ? mark_executed(c, pid) : 0;
}
