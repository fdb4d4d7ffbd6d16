/* POST /v1/complaints/{no}/reassign {"to_staff_id","reason"}: handing a case to someone else.
 * The owner may hand it to an available colleague in the registry; a supervisor or admin to
 * anyone in the registry (available or not: they know why), including a case nobody owns
 * yet. Never to a person excluded from the case (conflict of interest). The new owner is
 * announced as cp.complaint.assigned, action reassigned, with the previous owner, who did it
 * and why, so every service's owner projection follows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "classification.h"
#include "ownership.h"
#include "pg.h"

enum transfer_result {
	TRANSFER_OK,
	TRANSFER_UNKNOWN,
	TRANSFER_NOT_OWNER,
	TRANSFER_CONFLICT,
	TRANSFER_NOT_IN_REGISTRY,
	TRANSFER_UNAVAILABLE,
	TRANSFER_SAME
};

struct transfer_req {
	const char *to;
	const char *reason;
	char previous[64];
};

static bool transfer_id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 60)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

/* 1 available, 0 unavailable, TRANSFER_NOT_IN_REGISTRY (as a negative) unknown, -1 error. */
static int registry_available(PGconn *c, const char *staff_id)
{
	const char *p[] = {staff_id};
	PGresult *res = pg_query(c, "SELECT available FROM staff WHERE staff_id = $1", 1, p);
	if (!res)
		return -1;
	int rc = PQntuples(res) == 0 ? -TRANSFER_NOT_IN_REGISTRY : PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

/* Who may hand the case to whom; TRANSFER_OK when the move may go ahead. */
static int transfer_check(PGconn *c, const struct offers_case *a, const struct auth_principal *who,
			  const char *to)
{
	bool supervisor = (who->role & (AUTH_SUPERVISOR | AUTH_ADMIN)) != 0;
	int v = conflict_case_verdict(c, a->id, a->state, a->owner, who);
	if (v != AUTH_CASE_OK)
		return v < 0			 ? -1
		       : v == AUTH_CASE_CONFLICT ? TRANSFER_CONFLICT
						 : TRANSFER_NOT_OWNER;
	/* nor to a person the case names */
	int excluded = conflict_is_excluded(c, a->id, to);
	if (excluded != 0)
		return excluded < 0 ? -1 : TRANSFER_CONFLICT;
	int available = registry_available(c, to);
	if (available == -1)
		return -1;
	if (available < 0)
		return TRANSFER_NOT_IN_REGISTRY;
	if (!available && !supervisor)
		return TRANSFER_UNAVAILABLE;
	return strcmp(a->owner, to) == 0 ? TRANSFER_SAME : TRANSFER_OK;
}

static int transfer_tx(PGconn *c, const char *no, const struct auth_principal *who,
		       struct transfer_req *t)
{
	struct offers_case a;
	int found = offers_case_load(c, no, true, &a);
	if (found <= 0)
		return found < 0 ? -1 : TRANSFER_UNKNOWN;
	int rc = transfer_check(c, &a, who, t->to);
	if (rc != TRANSFER_OK)
		return rc;
	snprintf(t->previous, sizeof(t->previous), "%s", a.owner);
	const char *p[] = {a.id, t->to};
	if (pg_exec(c,
		    "UPDATE assignments SET state = 'accepted', owner_staff_id = $2, accepted_at = "
		    "coalesce(accepted_at, now()), expires_at = NULL WHERE complaint_id = $1::uuid",
		    2, p) != 0)
		return -1;
	const struct offers_note n = {.action = "reassigned",
				      .ce_type = "cp.complaint.assigned",
				      .owner = t->to,
				      .previous_owner = t->previous,
				      .actor = who->staff_id,
				      .reason = t->reason};
	return offers_announce(c, &a, &n) == 0 ? TRANSFER_OK : -1;
}

static void transfer_reply(struct http_req *r, int rc, const struct auth_principal *who,
			   const struct transfer_req *t)
{
	if (rc < 0)
		http_reply_error(r, 503, "unavailable", "the case could not be reassigned; retry");
	else if (rc == TRANSFER_UNKNOWN)
		http_reply_error(r, 404, "not_found", "no case with this complaint number");
	else if (rc == TRANSFER_NOT_OWNER)
		auth_case_refuse(r, AUTH_CASE_NOT_OWNER, "reassign this case");
	else if (rc == TRANSFER_CONFLICT)
		http_reply_error(r, 403, "conflict_of_interest",
				 "the complaint is about that person (or you), or the evidence "
				 "names them as responsible");
	else if (rc == TRANSFER_NOT_IN_REGISTRY)
		http_reply_fields(
		    r, 422, "validation_failed",
		    json_pack("[o]", http_field("to_staff_id", "is not in the staff registry")));
	else if (rc == TRANSFER_UNAVAILABLE)
		http_reply_fields(
		    r, 422, "validation_failed",
		    json_pack("[o]", http_field("to_staff_id", "is not available; a supervisor "
							       "may still assign them")));
	else if (rc == TRANSFER_SAME)
		http_reply_fields(
		    r, 422, "validation_failed",
		    json_pack("[o]", http_field("to_staff_id", "already owns the case")));
	else
		http_reply_json(r, 200,
				json_pack("{s:s, s:s, s:s, s:s, s:s}", "complaint_no", r->params[0],
					  "owner_staff_id", t->to, "previous_owner_staff_id",
					  t->previous, "actor_staff_id", who->staff_id, "reason",
					  t->reason));
}

/* Fills t from the body; false (and a 422 sent) when a field is not usable. */
static bool transfer_parse(struct http_req *r, const json_t *body, struct transfer_req *t)
{
	json_t *errors = json_array();
	const json_t *to = json_object_get(body, "to_staff_id");
	t->to = json_is_string(to) ? json_string_value(to) : NULL;
	if (!t->to || !transfer_id_valid(t->to))
		json_array_append_new(errors,
				      http_field("to_staff_id", "is required (a staff id, 1 to 60 "
								"printable ASCII characters)"));
	t->reason = escalation_reason_field(body, errors);
	if (json_array_size(errors) > 0) {
		http_reply_fields(r, 422, "validation_failed", errors);
		return false;
	}
	json_decref(errors);
	return true;
}

void transfer_reassign(struct http_req *r, void *arg)
{
	struct auth_principal who;
	struct transfer_req t = {0};
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	if (!transfer_parse(r, body, &t))
		goto release_body;
	int rc = pg_begin(r->db);
	if (rc == 0)
		rc = transfer_tx(r->db, r->params[0], &who, &t);
	if (rc == TRANSFER_OK && pg_commit(r->db) != 0)
		rc = -1;
	if (rc != TRANSFER_OK)
		pg_rollback(r->db);
	transfer_reply(r, rc, &who, &t);
release_body:
	json_decref(body);
}
