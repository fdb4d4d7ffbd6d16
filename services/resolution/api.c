/* Staff and integration API: read proposals, accept / approve / reject / amend them, confirm
 * executions. Runs on HTTP worker threads (r->db); every change and its events commit in one
 * transaction. Only the case's owner or a supervisor/admin decides on its plan, never a person
 * the complaint or its evidence names (decide.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "decide.h"
#include "ids.h"
#include "log.h"
#include "pg.h"
#include "resolution.h"

#define REASON_MAX 500

#define PROPOSAL_JSON                                                                              \
	"json_build_object('id', p.id, 'complaint_id', p.complaint_id, 'complaint_no', "           \
	"p.complaint_no, 'status', p.status, 'remedies', p.remedies, 'total_fen', p.total_fen, "   \
	"'rule', p.rule, 'responsible_party', p.responsible_party, 'proposed_by', p.proposed_by, " \
	"'approved_by', p.approved_by, 'accepted_by', p.accepted_by, 'waybill_no', p.waybill_no, " \
	"'ledger_cap_fen', p.ledger_cap_fen, 'already_paid_fen', (SELECT "                         \
	"coalesce(sum(l.amount_fen), 0) FROM executions l WHERE l.waybill_no = p.waybill_no AND "  \
	"p.waybill_no <> '' AND l.proposal_id <> p.id AND l.kind = 'payout' AND l.status IN "      \
	"('requested', 'confirmed')), 'reason', p.reason, 'created_at', p.created_at, "            \
	"'updated_at', p.updated_at, 'chargeback', (SELECT json_build_object('party', cb.party, "  \
	"'party_id', cb.party_id, 'amount_fen', cb.amount_fen) FROM chargebacks cb WHERE "         \
	"cb.proposal_id = p.id), 'executions', (SELECT coalesce(json_agg(json_build_object('id', " \
	"e.id, 'kind', e.kind, 'amount_fen', e.amount_fen, 'status', e.status, 'reason', "         \
	"e.reason, 'reference', e.reference) ORDER BY e.created_at), '[]') FROM executions e "     \
	"WHERE e.proposal_id = p.id), 'audit', (SELECT coalesce(json_agg(json_build_object('at', " \
	"a.at, 'actor', a.actor, 'action', a.action, 'reason', a.reason, 'before', a.before, "     \
	"'after', a.after) ORDER BY a.id), '[]') FROM proposal_audit a WHERE a.proposal_id = "     \
	"p.id))"

void res_list_proposals(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	http_reply_query_json(
	    r,
	    "SELECT json_build_object('complaint_no', $1::text, 'proposals', "
	    "coalesce(json_agg(" PROPOSAL_JSON " ORDER BY p.created_at), '[]'))::text "
	    "FROM proposals p WHERE p.complaint_no = $1 HAVING count(*) > 0 OR EXISTS "
	    "(SELECT 1 FROM cases WHERE complaint_no = $1)",
	    r->params[0], "no such complaint");
}

void res_get_proposal(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	if (!ids_is_uuid(r->params[0]))
		return http_reply_error(r, 404, "not_found", "no such proposal");
	http_reply_query_json(r, "SELECT " PROPOSAL_JSON "::text FROM proposals p WHERE p.id = $1",
			      r->params[0], "no such proposal");
}

struct proposal_row {
	char status[24];
	char proposed_by[64];
	char accepted_by[64];
	char complaint_id[40];
	int64_t total_fen;
	char remedies[4096];
};

/* Locks the proposal. Returns 1 found, 0 not found, -1 error. */
static int lock_proposal(PGconn *c, const char *id, struct proposal_row *p)
{
	const char *params[] = {id};
	PGresult *res = pg_query(c,
				 "SELECT status, proposed_by, total_fen, remedies::text, "
				 "complaint_id::text, coalesce(accepted_by, '') FROM proposals "
				 "WHERE id = $1 FOR UPDATE",
				 1, params);
	if (!res)
		return -1;
	int found = PQntuples(res) == 1;
	if (found) {
		snprintf(p->status, sizeof(p->status), "%s", PQgetvalue(res, 0, 0));
		snprintf(p->proposed_by, sizeof(p->proposed_by), "%s", PQgetvalue(res, 0, 1));
		p->total_fen = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
		snprintf(p->remedies, sizeof(p->remedies), "%s", PQgetvalue(res, 0, 3));
		snprintf(p->complaint_id, sizeof(p->complaint_id), "%s", PQgetvalue(res, 0, 4));
		snprintf(p->accepted_by, sizeof(p->accepted_by), "%s", PQgetvalue(res, 0, 5));
	}
	PQclear(res);
	return found;
}

/* 0 when who may decide on the case of the locked proposal; otherwise replies 403
 * (not_owner, conflict_of_interest) or 503, rolls back and returns -1. */
static int require_decider(struct http_req *r, const struct proposal_row *p,
			   const struct auth_principal *who)
{
	const char *params[] = {p->complaint_id};
	PGresult *res = pg_query(r->db,
				 "SELECT owner_staff_id, target_kind, target_id, party, party_id "
				 "FROM cases WHERE complaint_id = $1",
				 1, params);
	if (!res) {
		http_reply_db_error(r);
		return -1;
	}
	const char *v[5] = {"", "", "", "", ""};
	for (int i = 0; PQntuples(res) == 1 && i < 5; i++)
		v[i] = PQgetvalue(res, 0, i);
	enum auth_case_verdict verdict =
	    auth_case_verdict(who, v[0], auth_case_names(who->staff_id, v[1], v[2], v[3], v[4]));
	PQclear(res);
	if (verdict == AUTH_CASE_OK)
		return 0;
	pg_rollback(r->db);
	auth_case_refuse(r, verdict, "decide on its plan");
	return -1;
}

/* Begins and locks; replies 404/500 itself and returns -1 (transaction closed). */
static int begin_locked(struct http_req *r, struct proposal_row *p)
{
	if (!ids_is_uuid(r->params[0])) {
		http_reply_error(r, 404, "not_found", "no such proposal");
		return -1;
	}
	if (pg_begin(r->db) != 0) {
		http_reply_error(r, 500, "internal", "database error");
		return -1;
	}
	int found = lock_proposal(r->db, r->params[0], p);
	if (found == 1)
		return 0;
	if (found < 0)
		http_reply_db_error(r);
	else {
		pg_rollback(r->db);
		http_reply_error(r, 404, "not_found", "no such proposal");
	}
	return -1;
}

static void commit_and_reply(struct http_req *r, const char *id)
{
	if (pg_commit(r->db) != 0)
		return http_reply_error(r, 500, "internal", "database error");
	http_reply_query_json(r, "SELECT " PROPOSAL_JSON "::text FROM proposals p WHERE p.id = $1",
			      id, "no such proposal");
}

/* The reason of a body: a non-empty string up to REASON_MAX characters. */
static const char *body_reason(json_t *body, bool required, json_t *errors)
{
	json_t *v = json_object_get(body, "reason");
	if (!v && !required)
		return "";
	if (!json_is_string(v) || json_string_length(v) == 0)
		json_array_append_new(errors, http_field("reason", "required, a non-empty string"));
	else if (json_string_length(v) > REASON_MAX)
		json_array_append_new(errors, http_field("reason", "longer than 500 bytes"));
	else
		return json_string_value(v);
	return NULL;
}

void res_approve(struct http_req *r, void *arg)
{
	struct auth_principal who;
	struct proposal_row p;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = r->body_len ? http_req_json(r) : json_object();
	if (!body)
		return;
	json_t *errors = json_array();
	const char *reason = body_reason(body, false, errors);
	if (json_array_size(errors)) {
		json_decref(body);
		return http_reply_fields(r, 422, "validation_failed", errors);
	}
	json_decref(errors);
	if (begin_locked(r, &p) != 0 || require_decider(r, &p, &who) != 0)
		goto out;
	int64_t limit = res_authority(r->db, who.role_name);
	if (limit < 0) {
		http_reply_db_error(r);
		goto out;
	}
	const char *refuse = NULL, *code = NULL;
	int status = 403;
	if (strcmp(p.status, "pending_approval") != 0) {
		status = 409, code = "conflict",
		refuse = "the proposal is not waiting for approval";
	} else if (strcmp(p.proposed_by, who.staff_id) == 0 ||
		   strcmp(p.accepted_by, who.staff_id) == 0) {
		/* nobody approves what they proposed or accepted themselves */
		code = "self_approval", refuse = "an approver cannot approve their own proposal";
	} else if (p.total_fen > limit) {
		code = "over_authority", refuse = "the total is above your authority";
	}
	if (refuse) {
		pg_rollback(r->db);
		http_reply_error(r, status, code, refuse);
		goto out;
	}
	if (res_approve_and_execute(r->db, r->params[0], who.staff_id, reason) != 0) {
		http_reply_db_error(r);
		goto out;
	}
	commit_and_reply(r, r->params[0]);
out:
	json_decref(body);
}

/* The owner (or a supervisor) takes the system's proposal as their decision: within their
 * authority it is approved and executes, above it it waits for a supervisor's approval. */
static int accept_store(PGconn *c, const char *pid, const struct auth_principal *who,
			const char *reason, bool within)
{
	const char *u[] = {pid, who->staff_id};
	if (pg_exec(c, "UPDATE proposals SET accepted_by = $2, updated_at = now() WHERE id = $1", 2,
		    u) != 0 ||
	    res_audit(c, pid, who->staff_id, "accepted", reason, NULL, NULL) != 0)
		return -1;
	if (within)
		return res_approve_and_execute(c, pid, who->staff_id,
					       reason[0] ? reason : "accepted within authority");
	const char *q[] = {pid};
	if (pg_exec(c,
		    "UPDATE proposals SET status = 'pending_approval', updated_at = now() WHERE id "
		    "= $1",
		    1, q) != 0)
		return -1;
	log_msg(LOG_INFO, "proposal_needs_approval",
		LOG_KV({"proposal_id", pid}, {"staff_id", who->staff_id}),
		"accepted above the accepting person's authority: waits for a supervisor");
	return res_announce(c, pid, "cp.complaint.resolution_proposed", "pending_approval",
			    "above the accepting person's authority");
}

void res_accept(struct http_req *r, void *arg)
{
	struct auth_principal who;
	struct proposal_row p;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = r->body_len ? http_req_json(r) : json_object();
	if (!body)
		return;
	json_t *errors = json_array();
	const char *reason = body_reason(body, false, errors);
	if (json_array_size(errors)) {
		json_decref(body);
		return http_reply_fields(r, 422, "validation_failed", errors);
	}
	json_decref(errors);
	if (begin_locked(r, &p) != 0 || require_decider(r, &p, &who) != 0)
		goto out;
	if (strcmp(p.status, "proposed") != 0) {
		pg_rollback(r->db);
		http_reply_error(r, 409, "conflict", "only a proposed plan can be accepted");
		goto out;
	}
	int64_t limit = res_authority(r->db, who.role_name);
	if (limit < 0 ||
	    accept_store(r->db, r->params[0], &who, reason, p.total_fen <= limit) != 0) {
		http_reply_db_error(r);
		goto out;
	}
	commit_and_reply(r, r->params[0]);
out:
	json_decref(body);
}

void res_reject(struct http_req *r, void *arg)
{
	struct auth_principal who;
	struct proposal_row p;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *errors = json_array();
	const char *reason = body_reason(body, true, errors);
	if (json_array_size(errors)) {
		json_decref(body);
		return http_reply_fields(r, 422, "validation_failed", errors);
	}
	json_decref(errors);
	if (begin_locked(r, &p) != 0 || require_decider(r, &p, &who) != 0)
		goto out;
	if (strcmp(p.status, "pending_approval") != 0) {
		pg_rollback(r->db);
		http_reply_error(r, 409, "conflict", "the proposal is not waiting for approval");
		goto out;
	}
	const char *u[] = {r->params[0], reason};
	if (pg_exec(r->db,
		    "UPDATE proposals SET status = 'rejected', reason = $2, updated_at = now() "
		    "WHERE id = $1",
		    2, u) != 0 ||
	    res_audit(r->db, r->params[0], who.staff_id, "rejected", reason, NULL, NULL) != 0 ||
	    res_announce(r->db, r->params[0], "cp.complaint.resolution_rejected", "rejected",
			 reason) != 0) {
		http_reply_db_error(r);
		goto out;
	}
	commit_and_reply(r, r->params[0]);
out:
	json_decref(body);
}

/* Parses {"remedies": [{"kind", "amount_fen", "rule"?}...]} into plan. */
static void parse_remedies(json_t *body, struct res_plan *plan, json_t *errors)
{
	json_t *arr = json_object_get(body, "remedies"), *v;
	size_t i;
	memset(plan, 0, sizeof(*plan));
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > RES_MAX_REMEDIES) {
		json_array_append_new(errors, http_field("remedies", "required, 1 to 8 remedies"));
		return;
	}
	json_array_foreach (arr, i, v) {
		char name[48];
		json_t *kind = json_object_get(v, "kind"), *fen = json_object_get(v, "amount_fen");
		struct res_remedy *rem = &plan->remedies[plan->n];
		snprintf(name, sizeof(name), "remedies[%zu].kind", i);
		if (!json_is_string(kind) || !res_kind_valid(json_string_value(kind)))
			json_array_append_new(errors, http_field(name, "unknown remedy kind"));
		snprintf(name, sizeof(name), "remedies[%zu].amount_fen", i);
		if (fen && (!json_is_integer(fen) || json_integer_value(fen) < 0 ||
			    json_integer_value(fen) > 100000000000LL))
			json_array_append_new(errors,
					      http_field(name, "an integer number of fen >= 0"));
		if (json_array_size(errors))
			continue;
		snprintf(rem->kind, sizeof(rem->kind), "%s", json_string_value(kind));
		snprintf(rem->rule, sizeof(rem->rule), "amended");
		rem->amount_fen = fen ? json_integer_value(fen) : 0;
		plan->total_fen += rem->amount_fen;
		plan->n++;
	}
}

static bool amendable(const char *status)
{
	return strcmp(status, "proposed") == 0 || strcmp(status, "pending_approval") == 0 ||
	       strcmp(status, "rejected") == 0 || strcmp(status, "failed") == 0 ||
	       strcmp(status, "reopened") == 0;
}

/* The amending person becomes the proposer; within their authority the amendment is their
 * decision (approved, executes), above it it waits for a supervisor. An amended payout larger
 * than the ledger's cap raises the cap for the parcel's loss to it: the person decided it. */
static int store_amendment(struct http_req *r, const struct auth_principal *who,
			   const struct proposal_row *p, const struct res_plan *plan,
			   const char *reason, bool within)
{
	char total[24], payout[24];
	char *remedies = res_remedies_json(plan);
	if (!remedies)
		return -1;
	snprintf(total, sizeof(total), "%lld", (long long)plan->total_fen);
	snprintf(payout, sizeof(payout), "%lld", (long long)res_payout_total(plan));
	const char *u[] = {r->params[0], remedies, total, who->staff_id, reason, payout};
	int rc = pg_exec(r->db,
			 "UPDATE proposals SET remedies = $2::jsonb, total_fen = $3, rule = "
			 "'amended', proposed_by = $4, status = 'pending_approval', approved_by = "
			 "NULL, accepted_by = NULL, reason = $5, ledger_cap_fen = "
			 "greatest(ledger_cap_fen, $6::bigint), updated_at = now() WHERE id = $1",
			 6, u);
	if (rc == 0)
		rc = res_audit(r->db, r->params[0], who->staff_id, "amended", reason, p->remedies,
			       remedies);
	if (rc == 0)
		rc = pg_exec(r->db, "UPDATE chargebacks SET amount_fen = $2 WHERE proposal_id = $1",
			     2, (const char *[]){r->params[0], total});
	free(remedies);
	if (rc != 0)
		return -1;
	if (within)
		return res_approve_and_execute(r->db, r->params[0], who->staff_id, reason);
	return res_announce(r->db, r->params[0], "cp.complaint.resolution_proposed",
			    "pending_approval", reason);
}

void res_amend(struct http_req *r, void *arg)
{
	struct auth_principal who;
	struct proposal_row p;
	struct res_plan plan;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *errors = json_array();
	parse_remedies(body, &plan, errors);
	const char *reason = body_reason(body, true, errors);
	if (json_array_size(errors)) {
		json_decref(body);
		return http_reply_fields(r, 422, "validation_failed", errors);
	}
	json_decref(errors);
	if (begin_locked(r, &p) != 0 || require_decider(r, &p, &who) != 0)
		goto out;
	if (!amendable(p.status)) {
		pg_rollback(r->db);
		http_reply_error(r, 409, "conflict",
				 "only a proposed, pending, rejected, failed or reopened proposal "
				 "can be amended");
		goto out;
	}
	int64_t limit = res_authority(r->db, who.role_name);
	if (limit < 0 || store_amendment(r, &who, &p, &plan, reason, plan.total_fen <= limit)) {
		http_reply_db_error(r);
		goto out;
	}
	commit_and_reply(r, r->params[0]);
out:
	json_decref(body);
}

void res_confirm_execution(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *errors = json_array();
	const char *status = json_string_value(json_object_get(body, "status"));
	const char *reason = json_string_value(json_object_get(body, "reason"));
	const char *ref = json_string_value(json_object_get(body, "reference"));
	if (!status || (strcmp(status, "confirmed") != 0 && strcmp(status, "failed") != 0))
		json_array_append_new(errors, http_field("status", "confirmed or failed"));
	if (json_object_get(body, "reason") && (!reason || strlen(reason) > REASON_MAX))
		json_array_append_new(errors, http_field("reason", "a string up to 500 bytes"));
	if (json_object_get(body, "reference") && (!ref || strlen(ref) > 120))
		json_array_append_new(errors, http_field("reference", "a string up to 120 bytes"));
	if (json_array_size(errors)) {
		json_decref(body);
		return http_reply_fields(r, 422, "validation_failed", errors);
	}
	json_decref(errors);
	if (!ids_is_uuid(r->params[0])) {
		http_reply_error(r, 404, "not_found", "no such execution");
		goto out;
	}
	if (pg_begin(r->db) != 0) {
		http_reply_error(r, 500, "internal", "database error");
		goto out;
	}
	int rc = res_settle_execution(r->db, r->params[0], strcmp(status, "confirmed") == 0, reason,
				      ref);
	if (rc < 0) {
		http_reply_db_error(r);
		goto out;
	}
	if (rc == 1) {
		pg_rollback(r->db);
		http_reply_error(r, 409, "conflict", "no such execution waiting for its result");
		goto out;
	}
	if (pg_commit(r->db) != 0) {
		http_reply_error(r, 500, "internal", "database error");
		goto out;
	}
	http_reply_query_json(
	    r,
	    "SELECT json_build_object('id', id, 'proposal_id', proposal_id, 'kind', "
	    "kind, 'status', status, 'amount_fen', amount_fen)::text FROM executions "
	    "WHERE id = $1",
	    r->params[0], "no such execution");
out:
	json_decref(body);
}
