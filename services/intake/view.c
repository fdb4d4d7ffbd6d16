/* The customer's view of a case: GET /v1/complaints/{no}. Staff use a bearer token. The
 * customer proves who they are with the signed token from their link or their full phone
 * number (the whole case, contact masked), or with the last four digits of the phone (only
 * the minimal status: where it stands and what happens next — 10,000 values guard no more).
 *
 * Guessing is made useless (OWASP API2/API4): an unknown number and a wrong proof get the same
 * 404, and failed proofs are counted per case and per client address in PostgreSQL (so the
 * limit holds across instances): past the limit the answer is 429 with Retry-After until the
 * window has passed, whatever the proof.
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
#include "log.h"
#include "pg.h"
#include "throttle.h"
#include "tstamp.h"

enum viewer {
	VIEWER_NONE,
	VIEWER_CUSTOMER,
	VIEWER_CUSTOMER_MINIMAL,
	VIEWER_GATEWAY,
	VIEWER_STAFF,
	VIEWER_STAFF_MASKED, /* staff who do not handle this case: the contact masked */
	VIEWER_DENIED
};

#define CASE_SQL                                                                                   \
	"SELECT id, complaint_no, status, channel, waybill_no, type, complainant_name, "           \
	"complainant_phone, role, language, priority, repeat_count, is_repeat, "                   \
	"to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "              \
	"to_char(next_update_by AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "           \
	"decision, demand::text, preferred_contact, (SELECT complaint_no FROM complaints p WHERE " \
	"p.id = "                                                                                  \
	"c.previous_complaint_id), customer_ref, coalesce(owner_staff_id, ''), "                   \
	"coalesce(entered_by, ''), owner_first_name, owner_role FROM complaints c "                \
	"WHERE complaint_no = $1"

/* The customer's proof, from the query string (each value malloc'ed or NULL). */
struct proof {
	char *token;
	char *phone;
	char *last4;
};

static void proof_read(struct http_req *r, struct proof *pf)
{
	pf->token = http_req_query(r, "token");
	pf->phone = http_req_query(r, "phone");
	pf->last4 = http_req_query(r, "phone_last4");
}

static void proof_release(struct proof *pf)
{
	free(pf->token);
	free(pf->phone);
	free(pf->last4);
}

/* What a phone proof opens on this case (res: the case row, NULL when there is none); the
 * token was checked before. */
static enum viewer proof_check(const struct proof *pf, PGresult *res)
{
	char refs[AUTH_KEYRING_MAX + 1][30];
	if (!res)
		return VIEWER_DENIED;
	const char *phone = PQgetvalue(res, 0, 7), *stored_ref = PQgetvalue(res, 0, 19);
	size_t n = strlen(phone);
	/* the same pseudonym as at intake: spaces, dashes and a +86 written differently still
	 * match, and the comparison is constant-time */
	if (pf->phone && strlen(pf->phone) < 40 && intake_phone_valid(pf->phone)) {
		/* under every pseudonym key still accepted: a case filed before a rotation */
		int nrefs = intake_customer_refs(pf->phone, tstamp_now_ms(), refs);
		bool match = false;
		for (int i = 0; i < nrefs; i++)
			match |= ids_equal(refs[i], stored_ref) != 0;
		if (match)
			return VIEWER_CUSTOMER;
	}
	if (pf->last4 && strlen(pf->last4) == 4 && n >= 4 && ids_equal(pf->last4, phone + n - 4))
		return VIEWER_CUSTOMER_MINIMAL;
	return VIEWER_DENIED;
}

/* The client's address as nginx saw it: the last X-Forwarded-For entry is the one nginx
 * appended (earlier ones are whatever the client claimed). Direct callers share one key. */
static void client_addr(const struct http_req *r, char *out, size_t cap)
{
	const char *xff = http_req_header(r, "X-Forwarded-For");
	const char *last = xff ? strrchr(xff, ',') : NULL;
	const char *v = last ? last + 1 : xff;
	while (v && *v == ' ')
		v++;
	snprintf(out, cap, "ip:%.64s", v && *v ? v : "direct");
}

/* Seconds until the client or the case may try again (0: not throttled), or -1. */
static long proof_throttled(PGconn *c, const char *case_key, const char *client_key)
{
	const struct throttle t = {"proof_failures", intake_cfg.proof_window_s,
				   intake_cfg.proof_max_per_case, intake_cfg.proof_max_per_client};
	return throttle_wait(c, &t, case_key, client_key);
}

/* Counts a failed proof against the case number and the client; a window that has passed
 * starts again at one. */
static void proof_failed(PGconn *c, const char *case_key, const char *client_key)
{
	const struct throttle t = {"proof_failures", intake_cfg.proof_window_s,
				   intake_cfg.proof_max_per_case, intake_cfg.proof_max_per_client};
	if (throttle_failed(c, &t, case_key, client_key) != 0)
		log_warn("proof_failure_not_counted", "a failed proof could not be counted");
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

/* The photos the case holds, without their bytes: who sent each ("customer" or "staff", never
 * a staff id) and, for the customer's own, where the customer reads it back with their proof
 * (intake_customer_get_attachment; the client adds ?token=). Staff read every one through
 * /v1/staff/complaints/{no}/attachments/{n}. */
static json_t *photos_json(PGconn *c, const char *id, const char *no)
{
	json_t *arr = json_array();
	PGresult *r = pg_query(c,
			       "SELECT seq, content_type, bytes, to_char(created_at AT TIME ZONE "
			       "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), uploaded_by = 'customer' "
			       "FROM attachments WHERE complaint_id = $1 ORDER BY seq",
			       1, (const char *[]){id});
	for (int i = 0; r && i < PQntuples(r); i++) {
		bool theirs = PQgetvalue(r, i, 4)[0] == 't';
		json_t *p = json_pack(
		    "{s:i, s:s, s:i, s:s, s:s}", "attachment", atoi(PQgetvalue(r, i, 0)),
		    "content_type", PQgetvalue(r, i, 1), "bytes", atoi(PQgetvalue(r, i, 2)), "at",
		    PQgetvalue(r, i, 3), "uploaded_by", theirs ? "customer" : "staff");
		if (theirs) {
			char url[256];
			snprintf(url, sizeof(url), "/v1/complaints/%s/attachments/%s", no,
				 PQgetvalue(r, i, 0));
			json_object_set_new(p, "url", json_string(url));
		}
		json_array_append_new(arr, p);
	}
	PQclear(r);
	return arr;
}

/* Who handles the case as the customer may know it: first name and role, never the staff
 * id, the full name or a contact; null while nobody owns it. */
static json_t *owner_json(PGresult *res)
{
	if (!PQgetvalue(res, 0, 20)[0])
		return json_null();
	const char *first = PQgetvalue(res, 0, 22), *role = PQgetvalue(res, 0, 23);
	return json_pack("{s:o, s:s}", "first_name", first[0] ? json_string(first) : json_null(),
			 "role", role[0] ? role : "agent");
}

/* By when the step the case waits on is due: the deadline of the running clock that times it
 * (intake_lifecycle_next_clock), null when none runs. */
static json_t *next_step_by(PGconn *c, PGresult *res)
{
	const char *clock = intake_lifecycle_next_clock(PQgetvalue(res, 0, 2));
	if (!clock)
		return json_null();
	PGresult *r = pg_query(c,
			       "SELECT to_char(due_at AT TIME ZONE 'UTC', "
			       "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM case_clocks WHERE "
			       "complaint_id = $1 AND clock = $2 AND state = 'running' AND due_at "
			       "IS NOT NULL",
			       2, (const char *[]){PQgetvalue(res, 0, 0), clock});
	json_t *j = r && PQntuples(r) ? json_string(PQgetvalue(r, 0, 0)) : json_null();
	PQclear(r);
	return j;
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
	json_object_set_new(j, "attachments",
			    photos_json(c, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1)));
	json_object_set_new(j, "owner", owner_json(res));
	json_object_set_new(j, "next_step_by", next_step_by(c, res));
	if (v == VIEWER_STAFF || v == VIEWER_STAFF_MASKED || v == VIEWER_GATEWAY)
		json_object_set_new(json_object_get(j, "complainant"), "preferred_contact",
				    json_string(PQgetvalue(res, 0, 17)));
	if (v == VIEWER_STAFF || v == VIEWER_STAFF_MASKED)
		json_object_set_new(j, "complaint_id", json_string(PQgetvalue(res, 0, 0)));
	if (v == VIEWER_STAFF_MASKED)
		json_object_set_new(j, "contact_masked", json_true());
	return j;
}

int intake_purge_proof_failures(PGconn *c, void *arg)
{
	char window[16];
	snprintf(window, sizeof(window), "%lld", intake_cfg.proof_window_s);
	/* a row whose window has passed counts nothing any more: the next failure restarts it */
	return pg_exec(
		   c,
		   "DELETE FROM proof_failures WHERE window_start < now() - make_interval(secs => "
		   "$1::int)",
		   1, (const char *[]){window}) == 0
		   ? 0
		   : -1;
}

static json_t *minimal_json(PGresult *res)
{
	const char *status = PQgetvalue(res, 0, 2);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "complaint_no", PQgetvalue(res, 0, 1),
			      "status", status, "next_step",
			      intake_lifecycle_next_step(status, PQgetvalue(res, 0, 9)), "proof",
			      "phone_last4");
	json_object_set_new(j, "next_update_by",
			    PQgetisnull(res, 0, 14) ? json_null()
						    : json_string(PQgetvalue(res, 0, 14)));
	return j;
}

static void staff_view(struct http_req *r, PGresult *res)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	if (PQntuples(res) == 0) {
		http_reply_error(r, 404, "not_found", "no complaint with this number");
		return;
	}
	enum viewer v =
	    who.role == AUTH_INTEGRATION ? VIEWER_GATEWAY
	    : intake_contact_entitled(&who, PQgetvalue(res, 0, 20), PQgetvalue(res, 0, 21))
		? VIEWER_STAFF
		: VIEWER_STAFF_MASKED;
	http_reply_json(r, 200, case_json(r->db, res, v));
}

/* True when the proof is the case's signed link token: 128 bits that cannot be guessed, so it
 * opens the case even while guessers are being throttled on it. */
static bool token_valid(const struct proof *pf, const char *no)
{
	return pf->token &&
	       auth_customer_token_check(&intake_cfg.link_keys, no, pf->token, tstamp_now_ms());
}

static void customer_view(struct http_req *r, PGresult *res, const struct proof *pf)
{
	char case_key[200], client_key[80];
	if (PQntuples(res) > 0 && token_valid(pf, r->params[0])) {
		http_reply_json(r, 200, case_json(r->db, res, VIEWER_CUSTOMER));
		return;
	}
	snprintf(case_key, sizeof(case_key), "case:%s", r->params[0]);
	client_addr(r, client_key, sizeof(client_key));
	long wait = proof_throttled(r->db, case_key, client_key);
	if (wait != 0) {
		if (wait > 0)
			http_reply_retry_after(r, wait);
		http_reply_error(r, wait > 0 ? 429 : 503,
				 wait > 0 ? "too_many_attempts" : "unavailable",
				 wait > 0 ? "too many failed attempts; try again later"
					  : "the case could not be read; retry");
		return;
	}
	enum viewer v = proof_check(pf, PQntuples(res) ? res : NULL);
	if (v == VIEWER_DENIED) {
		proof_failed(r->db, case_key, client_key);
		/* the same answer whether the case exists or the proof is wrong */
		http_reply_error(r, 404, "not_found", "no case matches this number and proof");
	} else if (v == VIEWER_CUSTOMER_MINIMAL) {
		http_reply_json(r, 200, minimal_json(res));
	} else {
		http_reply_json(r, 200, case_json(r->db, res, v));
	}
}

void intake_get_complaint(struct http_req *r, void *arg)
{
	struct proof pf;
	proof_read(r, &pf);
	bool staff = auth_presented(r);
	if (!staff && !pf.token && !pf.phone && !pf.last4) {
		/* answered before any lookup: it says nothing of whether the case exists */
		http_reply_error(r, 401, "unauthorized",
				 "prove who you are: ?token= from your link, ?phone= (the full "
				 "number), or a staff bearer token");
		goto out;
	}
	PGresult *res = pg_query(r->db, CASE_SQL, 1, (const char *[]){r->params[0]});
	if (!res) {
		http_reply_error(r, 503, "unavailable", "the case could not be read; retry");
		goto out;
	}
	if (staff)
		staff_view(r, res);
	else
		customer_view(r, res, &pf);
	PQclear(res);
out:
	proof_release(&pf);
}

int intake_customer_prove(struct http_req *r, const char *no, char *complaint_id, size_t cap)
{
	struct proof pf;
	char case_key[200], client_key[80];
	int rc = -1;
	proof_read(r, &pf);
	PGresult *res = NULL;
	if (!pf.token && !pf.phone) {
		http_reply_error(r, 401, "unauthorized",
				 "prove who you are: ?token= from your link or ?phone= (the full "
				 "number)");
		goto out;
	}
	res = pg_query(r->db, CASE_SQL, 1, (const char *[]){no});
	if (!res) {
		http_reply_error(r, 503, "unavailable", "the case could not be read; retry");
		goto out;
	}
	bool found = PQntuples(res) > 0;
	if (!(found && token_valid(&pf, no))) {
		snprintf(case_key, sizeof(case_key), "case:%s", no);
		client_addr(r, client_key, sizeof(client_key));
		long wait = proof_throttled(r->db, case_key, client_key);
		if (wait != 0) {
			if (wait > 0)
				http_reply_retry_after(r, wait);
			http_reply_error(r, wait > 0 ? 429 : 503,
					 wait > 0 ? "too_many_attempts" : "unavailable",
					 wait > 0 ? "too many failed attempts; try again later"
						  : "the case could not be read; retry");
			goto out;
		}
		/* the last four digits open only the minimal status, never an action */
		if (proof_check(&pf, found ? res : NULL) != VIEWER_CUSTOMER) {
			proof_failed(r->db, case_key, client_key);
			http_reply_error(r, 404, "not_found",
					 "no case matches this number and proof");
			goto out;
		}
	}
	snprintf(complaint_id, cap, "%s", PQgetvalue(res, 0, 0));
	rc = 0;
out:
	PQclear(res);
	proof_release(&pf);
	return rc;
}
