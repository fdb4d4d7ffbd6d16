/* The customer's view of a case: GET /v1/complaints/{no}. The customer proves who they are
 * with the last four digits of their phone or the signed token from their link; staff use a
 * bearer token.
 *
 * Who sees personal data: staff roles (agent, supervisor, admin) handle cases and see the
 * complainant's name and phone in full. The integration role is the carriers' delivery
 * gateway: it sees the contact (name, phone, preferred contact) in full because it delivers
 * the notifications, but not the internal complaint id. The customer sees their own case
 * with the contact masked (the page may be open on a shared screen); nobody else sees it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "ids.h"
#include "intake.h"
#include "pg.h"

enum viewer { VIEWER_NONE, VIEWER_CUSTOMER, VIEWER_GATEWAY, VIEWER_STAFF, VIEWER_DENIED };

#define CASE_SQL                                                                                   \
	"SELECT id, complaint_no, status, channel, waybill_no, type, complainant_name, "           \
	"complainant_phone, role, language, priority, repeat_count, is_repeat, "                   \
	"to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "              \
	"to_char(next_update_by AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "           \
	"decision, demand::text, preferred_contact, (SELECT complaint_no FROM complaints p WHERE " \
	"p.id = "                                                                                  \
	"c.previous_complaint_id) FROM complaints c WHERE complaint_no = $1"

static enum viewer identify(struct http_req *r, const char *no, const char *phone)
{
	struct auth_principal who;
	if (http_req_header(r, "Authorization")) {
		if (auth_require(r, AUTH_STAFF | AUTH_INTEGRATION, &who) != 0)
			return VIEWER_DENIED;
		return who.role == AUTH_INTEGRATION ? VIEWER_GATEWAY : VIEWER_STAFF;
	}
	char *token = http_req_query(r, "token"), *last4 = http_req_query(r, "phone_last4");
	char expect[33];
	enum viewer v = VIEWER_NONE;
	size_t n = strlen(phone);
	if (token && auth_customer_token(intake_cfg.link_secret, no, expect) == 0 &&
	    ids_equal(token, expect))
		v = VIEWER_CUSTOMER;
	else if (last4 && strlen(last4) == 4 && n >= 4 && ids_equal(last4, phone + n - 4))
		v = VIEWER_CUSTOMER;
	else if (token || last4)
		v = VIEWER_DENIED;
	free(token);
	free(last4);
	return v;
}

static json_t *timeline_json(PGconn *c, const char *id)
{
	const char *p[] = {id};
	json_t *arr = json_array();
	PGresult *r =
	    pg_query(c,
		     "SELECT step, to_char(at AT TIME ZONE 'UTC', "
		     "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), detail::text FROM timeline "
		     "WHERE complaint_id = $1 AND visibility = 'customer' ORDER BY at, id",
		     1, p);
	for (int i = 0; r && i < PQntuples(r); i++) {
		json_t *detail = json_loads(PQgetvalue(r, i, 2), 0, NULL);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "step", PQgetvalue(r, i, 0),
						     "at", PQgetvalue(r, i, 1), "detail",
						     detail ? detail : json_object()));
	}
	PQclear(r);
	return arr;
}

static json_t *case_json(PGconn *c, PGresult *res, enum viewer v)
{
	char name[160], phone[40];
	const char *raw_name = PQgetvalue(res, 0, 6), *raw_phone = PQgetvalue(res, 0, 7);
	if (v == VIEWER_STAFF || v == VIEWER_GATEWAY) {
		snprintf(name, sizeof(name), "%s", raw_name);
		snprintf(phone, sizeof(phone), "%s", raw_phone);
	} else {
		intake_mask_name(raw_name, name, sizeof(name));
		intake_mask_phone(raw_phone, phone, sizeof(phone));
	}
	const char *status = PQgetvalue(res, 0, 2);
	json_t *j = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:i, s:i, s:b, s:s, s:s}",
	    "complaint_no", PQgetvalue(res, 0, 1), "status", status, "channel",
	    PQgetvalue(res, 0, 3), "waybill_no", PQgetvalue(res, 0, 4), "type",
	    PQgetvalue(res, 0, 5), "complainant", "name", name, "phone", phone, "role",
	    PQgetvalue(res, 0, 8), "language", PQgetvalue(res, 0, 9), "priority",
	    atoi(PQgetvalue(res, 0, 10)), "repeat_count", atoi(PQgetvalue(res, 0, 11)), "repeat",
	    PQgetvalue(res, 0, 12)[0] == 't', "received_at", PQgetvalue(res, 0, 13), "next_step",
	    intake_lifecycle_next_step(status, PQgetvalue(res, 0, 9)));
	json_object_set_new(j, "next_update_by",
			    PQgetisnull(res, 0, 14) ? json_null()
						    : json_string(PQgetvalue(res, 0, 14)));
	json_object_set_new(j, "decision",
			    PQgetisnull(res, 0, 15) ? json_null()
						    : json_string(PQgetvalue(res, 0, 15)));
	json_object_set_new(j, "previous_complaint_no",
			    PQgetisnull(res, 0, 18) ? json_null()
						    : json_string(PQgetvalue(res, 0, 18)));
	json_object_set_new(j, "timeline", timeline_json(c, PQgetvalue(res, 0, 0)));
	if (v == VIEWER_STAFF || v == VIEWER_GATEWAY)
		json_object_set_new(json_object_get(j, "complainant"), "preferred_contact",
				    json_string(PQgetvalue(res, 0, 17)));
	if (v == VIEWER_STAFF)
		json_object_set_new(j, "complaint_id", json_string(PQgetvalue(res, 0, 0)));
	return j;
}

void intake_get_complaint(struct http_req *r, void *arg)
{
	const char *no = r->params[0];
	const char *p[] = {no};
	PGresult *res = pg_query(r->db, CASE_SQL, 1, p);
	if (!res) {
		http_reply_error(r, 503, "unavailable", "the case could not be read; retry");
		return;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		http_reply_error(r, 404, "not_found", "no complaint with this number");
		return;
	}
	enum viewer v = identify(r, no, PQgetvalue(res, 0, 7));
	if (v == VIEWER_NONE)
		http_reply_error(r, 401, "unauthorized",
				 "prove who you are: ?phone_last4=, ?token= from your link, or a "
				 "staff bearer token");
	else if (v == VIEWER_DENIED && r->status == 0)
		http_reply_error(r, 403, "forbidden", "this case belongs to someone else");
	else if (v != VIEWER_DENIED)
		http_reply_json(r, 200, case_json(r->db, res, v));
	PQclear(res);
}
