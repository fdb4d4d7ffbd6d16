/* The VIP list (classification.vip_customers): customers on it get the vip tier, one priority
 * level higher and their own SLA policy. Keyed by customer_ref, the pseudonym the events carry
 * (an HMAC of the phone number), so enrolling a VIP never stores a phone number here.
 * Supervisor or admin: GET /v1/vip-customers, PUT and DELETE /v1/vip-customers/{customer_ref}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "classification.h"
#include "ownership.h"
#include "pg.h"

#define VIP_NOTE_MAX 500

#define VIP_LIST_SQL                                                                               \
	"SELECT coalesce(json_agg(json_build_object('customer_ref', customer_ref, 'tier', tier, "  \
	"'note', note, 'added_at', to_char(added_at AT TIME ZONE 'UTC', "                          \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) ORDER BY added_at DESC, customer_ref), "               \
	"'[]')::text FROM vip_customers"

static bool vip_ref_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

void vip_list(struct http_req *r, void *arg)
{
	PGresult *res = pg_query(r->db, VIP_LIST_SQL, 0, NULL);
	if (!res) {
		http_reply_error(r, 503, "unavailable", "the VIP list could not be read; retry");
		return;
	}
	json_t *list = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	PQclear(res);
	http_reply_json(r, 200, json_pack("{s:o}", "vip_customers", list ? list : json_array()));
}

/* The note of a PUT body: absent or null is "", else a string of at most VIP_NOTE_MAX bytes. */
static const char *vip_note(const json_t *body, json_t *errors)
{
	const json_t *v = json_object_get(body, "note");
	if (!v || json_is_null(v))
		return "";
	if (!json_is_string(v) || strlen(json_string_value(v)) > VIP_NOTE_MAX) {
		json_array_append_new(errors,
				      http_field("note", "must be a string of at most 500 bytes"));
		return NULL;
	}
	return json_string_value(v);
}

#define VIP_SNAPSHOT "SELECT row_to_json(v) FROM vip_customers v WHERE customer_ref = $1"

static void vip_store(struct http_req *r, const char *actor, const char *ref, const char *note)
{
	const char *p[] = {ref, note};
	int failed = 0;
	json_t *before = NULL, *after = json_pack("{s:s, s:s}", "customer_ref", ref, "note", note);
	PGresult *res = NULL;
	if (pg_begin(r->db) != 0 ||
	    (before = audit_snapshot(r->db, VIP_SNAPSHOT, 1, p, &failed), failed) ||
	    audit_record(r->db, actor, "vip_customers", ref, before, after) != 0)
		goto failed;
	res = pg_query(
	    r->db,
	    "INSERT INTO vip_customers AS v (customer_ref, note) VALUES ($1, $2) ON CONFLICT "
	    "(customer_ref) DO UPDATE SET note = EXCLUDED.note RETURNING (xmax = 0), "
	    "to_char(v.added_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
	    2, p);
	if (!res || pg_commit(r->db) != 0)
		goto failed;
	bool created = PQgetvalue(res, 0, 0)[0] == 't';
	http_reply_json(r, created ? 201 : 200,
			json_pack("{s:s, s:s, s:s, s:s, s:b}", "customer_ref", ref, "tier", "vip",
				  "note", note, "added_at", PQgetvalue(res, 0, 1), "created",
				  created));
	goto out;
failed:
	pg_rollback(r->db);
	http_reply_error(r, 503, "unavailable", "the VIP could not be stored; retry");
out:
	PQclear(res);
	json_decref(before);
	json_decref(after);
}

void vip_put(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *errors = json_array();
	if (!vip_ref_valid(r->params[0]))
		json_array_append_new(
		    errors, http_field("customer_ref", "must be 1 to 128 printable ASCII "
						       "characters (the pseudonym events carry)"));
	const char *note = vip_note(body, errors);
	if (json_array_size(errors) > 0) {
		http_reply_fields(r, 422, "validation_failed", errors);
		goto release_body;
	}
	json_decref(errors);
	vip_store(r, who.staff_id, r->params[0], note);
release_body:
	json_decref(body);
}

void vip_delete(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	const char *p[] = {r->params[0]};
	int failed = 0;
	json_t *before = NULL;
	if (pg_begin(r->db) != 0 ||
	    (before = audit_snapshot(r->db, VIP_SNAPSHOT, 1, p, &failed), failed)) {
		http_reply_db_error(r);
	} else if (!before) {
		pg_rollback(r->db);
		http_reply_error(r, 404, "not_found", "this customer is not on the VIP list");
	} else if (pg_exec(r->db, "DELETE FROM vip_customers WHERE customer_ref = $1", 1, p) != 0 ||
		   audit_record(r->db, who.staff_id, "vip_customers", p[0], before, NULL) != 0 ||
		   pg_commit(r->db) != 0) {
		http_reply_db_error(r);
	} else {
		http_reply_json(
		    r, 200, json_pack("{s:s, s:b}", "customer_ref", r->params[0], "removed", true));
	}
	json_decref(before);
}
