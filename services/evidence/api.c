/* HTTP: the carriers' push of tracking scans, facilities' answers to evidence requests, and
 * the staff's reading and confirming of evidence and trajectories. Runs on HTTP worker
 * threads (r->db); every change and its events commit in one transaction. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assess.h"
#include "auth.h"
#include "evidence.h"
#include "ids.h"
#include "log.h"
#include "outbox.h"
#include "pg.h"
#include "topics.h"
#include "tracking.pb-c.h"

#define ISO(col)       "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define TRAJECTORY_MAX "1000"

/* The complaint_id of a complaint given by id or number; "" when unknown, NULL on error. */
static char *complaint_id_of(PGconn *c, const char *key, char out[40])
{
	const char *p[] = {key};
	PGresult *res = pg_query(
	    c,
	    ids_is_uuid(key) ? "SELECT complaint_id::text FROM bundles WHERE complaint_id = $1"
			     : "SELECT complaint_id::text FROM bundles WHERE complaint_no = $1",
	    1, p);
	if (!res)
		return NULL;
	snprintf(out, 40, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return out;
}

/* ---- POST /v1/tracking/events ---- */

struct push_errors {
	json_t *fields;
	size_t index;
};

static void push_report(const char *field, const char *problem, void *arg)
{
	struct push_errors *e = arg;
	char name[96];
	snprintf(name, sizeof(name), "events[%zu].%s", e->index, field);
	json_t *f = http_field(name, problem);
	json_object_set_new(f, "index", json_integer((json_int_t)e->index));
	json_array_append_new(e->fields, f);
}

static const char *str_field(json_t *o, const char *key, struct push_errors *e)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return "";
	if (!json_is_string(v)) {
		push_report(key, "must be a string", e);
		return "";
	}
	return json_string_value(v);
}

static void scan_location(json_t *o, Cp__TrackingEvent *t, Cp__GeoPoint *g, struct push_errors *e)
{
	json_t *loc = json_object_get(o, "location");
	if (!loc || json_is_null(loc))
		return;
	json_t *lat = json_object_get(loc, "lat"), *lon = json_object_get(loc, "lon");
	if (!json_is_number(lat) || !json_is_number(lon)) {
		push_report("location", "must be {\"lat\": number, \"lon\": number}", e);
		return;
	}
	cp__geo_point__init(g);
	g->lat = json_number_value(lat);
	g->lon = json_number_value(lon);
	t->location = g;
}

/* Fills t from the JSON object (strings borrowed from o); reports type problems. */
static void scan_from_json(json_t *o, const char *carrier, Cp__TrackingEvent *t, Cp__GeoPoint *g,
			   struct push_errors *e)
{
	cp__tracking_event__init(t);
	t->waybill_no = (char *)str_field(o, "waybill_no", e);
	t->scan_id = (char *)str_field(o, "scan_id", e);
	t->code = (Cp__ScanCode)ev_code_parse(str_field(o, "code", e));
	t->facility_id = (char *)str_field(o, "facility_id", e);
	t->facility_type = (char *)str_field(o, "facility_type", e);
	t->courier_id = (char *)str_field(o, "courier_id", e);
	t->occurred_at = (char *)str_field(o, "occurred_at", e);
	t->city = (char *)str_field(o, "city", e);
	t->pod_ref = (char *)str_field(o, "pod_ref", e);
	t->note = (char *)str_field(o, "note", e);
	t->recipient_ref = (char *)str_field(o, "recipient_ref", e);
	t->recipient_language = (char *)str_field(o, "recipient_language", e);
	t->recipient_contact = (char *)str_field(o, "recipient_contact", e);
	t->signed_by = (char *)str_field(o, "signed_by", e);
	t->exception_reason = (char *)str_field(o, "exception_reason", e);
	t->promised_by = (char *)str_field(o, "promised_by", e);
	t->carrier = (char *)str_field(o, "carrier", e);
	if (!t->carrier[0])
		t->carrier = (char *)carrier;
	if (!t->carrier[0])
		push_report("carrier", "is required (in the event or the batch)", e);
	json_t *consent = json_object_get(o, "customer_consented");
	if (consent && !json_is_boolean(consent))
		push_report("customer_consented", "must be true or false", e);
	t->customer_consented = json_is_true(consent);
	scan_location(o, t, g, e);
}

static int push_write(PGconn *c, Cp__TrackingEvent *scans, size_t n)
{
	if (pg_begin(c) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (outbox_add(c, TOPIC_TRACKING, scans[i].waybill_no, "cp.parcel.scanned",
			       &scans[i].base, NULL) != 0) {
			pg_rollback(c);
			return -1;
		}
	return pg_commit(c);
}

static void push_batch(struct http_req *r, json_t *events, const char *carrier)
{
	size_t n = json_array_size(events);
	Cp__TrackingEvent *scans = calloc(n, sizeof(*scans));
	Cp__GeoPoint *geo = calloc(n, sizeof(*geo));
	struct push_errors e = {json_array(), 0};
	for (size_t i = 0; scans && geo && i < n; i++) {
		json_t *o = json_array_get(events, i);
		e.index = i;
		if (!json_is_object(o)) {
			push_report("", "must be an object", &e);
			continue;
		}
		scan_from_json(o, carrier, &scans[i], &geo[i], &e);
		ingest_check(&scans[i], push_report, &e);
	}
	if (!scans || !geo)
		http_reply_error(r, 500, "internal", "out of memory");
	else if (json_array_size(e.fields) > 0)
		http_reply_fields(r, 422, "invalid_events", json_incref(e.fields));
	else if (push_write(r->db, scans, n) != 0)
		http_reply_error(r, 503, "unavailable", "database error; retry");
	else
		http_reply_json(r, 202, json_pack("{s:I}", "accepted", (json_int_t)n));
	json_decref(e.fields);
	free(geo);
	free(scans);
}

void api_push_scans(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *events = json_object_get(body, "events");
	json_t *carrier = json_object_get(body, "carrier");
	if (!json_is_array(events) || json_array_size(events) == 0)
		http_reply_fields(
		    r, 422, "invalid_events",
		    json_pack("[o]", http_field("events", "must be a non-empty array")));
	else if (carrier && !json_is_string(carrier))
		http_reply_fields(r, 422, "invalid_events",
				  json_pack("[o]", http_field("carrier", "must be a string")));
	else if (json_array_size(events) > (size_t)evidence_cfg.push_max) {
		char msg[96];
		snprintf(msg, sizeof(msg), "at most %lld events per request",
			 evidence_cfg.push_max);
		http_reply_error(r, 413, "too_many_events", msg);
	} else
		push_batch(r, events, carrier ? json_string_value(carrier) : "");
	json_decref(body);
}

/* ---- GET /v1/complaints/{id_or_no}/evidence ---- */

/* clang-format off */
#define EVIDENCE_JSON                                                                          \
	"SELECT (b.doc || jsonb_build_object('version', b.version, 'confirmed', b.confirmed_by IS " \
	"NOT NULL, 'closed', b.closed_at IS NOT NULL, 'requests', COALESCE((SELECT "              \
	"jsonb_agg(jsonb_build_object('request_id', q.request_id, 'kind', q.kind, 'facility_id', "  \
	"q.facility_id, 'facility_type', q.facility_type, 'courier_id', q.courier_id, 'due_at', "  \
	ISO("q.due_at") ", 'answered_at', " ISO("q.answered_at") ", 'late', q.late, 'outcome', "   \
	"q.outcome) ORDER BY q.requested_at, q.request_id) FROM requests q WHERE q.complaint_id "  \
	"= b.complaint_id), '[]'::jsonb)))::text FROM bundles b WHERE "
#define EVIDENCE_BY_ID EVIDENCE_JSON "b.complaint_id = $1::uuid"
#define EVIDENCE_BY_NO EVIDENCE_JSON "b.complaint_no = $1 ORDER BY b.collected_at DESC LIMIT 1"
/* clang-format on */

void api_get_evidence(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	const char *key = r->params[0];
	http_reply_query_json(r, ids_is_uuid(key) ? EVIDENCE_BY_ID : EVIDENCE_BY_NO, key,
			      "no evidence for this complaint (yet)");
}

/* ---- POST /v1/complaints/{id_or_no}/evidence/confirm ---- */

static bool one_of(const char *v, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(*list, v) == 0)
			return true;
	return false;
}

static const char *const stages[] = {"pickup", "sorting",	   "line_haul", "delivery",
				     "locker", "customer_service", "unknown",	NULL};
static const char *const parties[] = {
    "courier",	       "outlet",   "sorting_centre", "line_haul", "franchise_partner",
    "locker_operator", "customer", "force_majeure",  "unknown",	  NULL};

/* The confirmed responsibility: the body's values over the preliminary ones. */
static json_t *confirm_doc(json_t *body, json_t *prelim, json_t *fields)
{
	static const char *const keys[] = {"stage", "party", "party_id", "note"};
	json_t *out = json_object();
	for (size_t i = 0; i < 4; i++) {
		json_t *v = json_object_get(body, keys[i]);
		if (v && !json_is_string(v))
			json_array_append_new(fields, http_field(keys[i], "must be a string"));
		if (!json_is_string(v))
			v = json_object_get(prelim, keys[i]);
		json_object_set_new(out, keys[i],
				    json_is_string(v) ? json_incref(v) : json_string(""));
	}
	json_t *reasons = json_object_get(body, "reasons");
	bool ok = !reasons || (json_is_array(reasons) && json_array_size(reasons) <= 6);
	for (size_t i = 0; ok && i < json_array_size(reasons); i++)
		ok = json_is_string(json_array_get(reasons, i)) &&
		     strlen(json_string_value(json_array_get(reasons, i))) <= 500;
	if (!ok)
		json_array_append_new(fields, http_field("reasons", "must be at most 6 strings"));
	json_t *rs = ok && reasons ? reasons : json_object_get(prelim, "reasons");
	json_object_set_new(out, "reasons", json_is_array(rs) ? json_incref(rs) : json_array());
	if (!one_of(json_string_value(json_object_get(out, "stage")), stages))
		json_array_append_new(fields, http_field("stage", "is not a known stage"));
	if (!one_of(json_string_value(json_object_get(out, "party")), parties))
		json_array_append_new(fields, http_field("party", "is not a known party"));
	if (strlen(json_string_value(json_object_get(out, "note"))) > 1000)
		json_array_append_new(fields, http_field("note", "is too long"));
	return out;
}

static json_t *prelim_of(PGconn *c, const char *id)
{
	const char *p[] = {id};
	PGresult *res = pg_query(c,
				 "SELECT responsibility::text FROM bundles WHERE complaint_id = $1 "
				 "FOR UPDATE",
				 1, p);
	json_t *j = res && PQntuples(res) ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
	PQclear(res);
	return j;
}

static int confirm_store(PGconn *c, const char *id, json_t *doc, const char *staff)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	const char *p[] = {id, text, staff};
	int rc = text ? pg_exec(c,
				"UPDATE bundles SET confirmed = $2::jsonb, confirmed_by = $3, "
				"confirmed_at = now() WHERE complaint_id = $1",
				3, p)
		      : -1;
	free(text);
	return rc == 0 ? bundle_build(c, id, false) : -1;
}

/* The responsible party of a responsibility object as auth_case_names reads it. */
static bool names_courier(json_t *resp, const char *staff)
{
	return auth_case_names(staff, NULL, NULL, json_string_value(json_object_get(resp, "party")),
			       json_string_value(json_object_get(resp, "party_id")));
}

/* Who may confirm: the case's owner or a supervisor/admin, never the staff member the
 * complaint is about nor the courier the responsibility names (before or after the
 * confirmation). Returns an enum auth_case_verdict or -1 on a database error. */
static int confirm_actor(PGconn *c, const char *id, json_t *prelim, json_t *doc,
			 const struct auth_principal *who)
{
	const char *p[] = {id};
	PGresult *res = pg_query(c,
				 "SELECT owner_staff_id, target_kind, target_id FROM case_people "
				 "WHERE complaint_id = $1::uuid",
				 1, p);
	if (!res)
		return -1;
	bool known = PQntuples(res) == 1;
	bool named = known && auth_case_names(who->staff_id, PQgetvalue(res, 0, 1),
					      PQgetvalue(res, 0, 2), NULL, NULL);
	enum auth_case_verdict v = auth_case_verdict(
	    who, known ? PQgetvalue(res, 0, 0) : "",
	    named || names_courier(prelim, who->staff_id) || names_courier(doc, who->staff_id));
	PQclear(res);
	return v;
}

/* Replies 403 and rolls back unless who may confirm; returns true when it replied. */
static bool confirm_refused(struct http_req *r, const char *id, json_t *prelim, json_t *doc,
			    const struct auth_principal *who)
{
	int actor = confirm_actor(r->db, id, prelim, doc, who);
	if (actor == AUTH_CASE_OK)
		return false;
	if (actor < 0) {
		http_reply_db_error(r);
		return true;
	}
	pg_rollback(r->db);
	auth_case_refuse(r, actor, "confirm its responsibility");
	return true;
}

static void confirm_commit(struct http_req *r, const char *id, json_t *doc, const char *staff)
{
	if (confirm_store(r->db, id, doc, staff) != 0 || pg_commit(r->db) != 0)
		return http_reply_db_error(r);
	log_msg(LOG_INFO, "responsibility_confirmed",
		LOG_KV({"complaint_id", id}, {"staff_id", staff}), "responsibility confirmed");
	http_reply_query_json(r, EVIDENCE_BY_ID, id, "gone");
}

static void confirm_in_tx(struct http_req *r, const char *id, json_t *body,
			  const struct auth_principal *who)
{
	json_t *prelim = prelim_of(r->db, id);
	json_t *fields = json_array();
	json_t *doc = prelim ? confirm_doc(body, prelim, fields) : NULL;
	if (!prelim)
		http_reply_db_error(r);
	else if (json_array_size(fields) > 0) {
		pg_rollback(r->db);
		http_reply_fields(r, 422, "invalid_confirmation", json_incref(fields));
	} else if (!confirm_refused(r, id, prelim, doc, who))
		confirm_commit(r, id, doc, who->staff_id);
	json_decref(doc);
	json_decref(fields);
	json_decref(prelim);
}

void api_confirm(struct http_req *r, void *arg)
{
	struct auth_principal who;
	char id[40];
	/* agents too: the owner confirms their own case (checked in the transaction) */
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = r->body_len ? http_req_json(r) : json_object();
	if (!body)
		return;
	if (!complaint_id_of(r->db, r->params[0], id))
		http_reply_error(r, 503, "unavailable", "database error; retry");
	else if (!id[0])
		http_reply_error(r, 404, "not_found", "no evidence for this complaint (yet)");
	else if (pg_begin(r->db) != 0)
		http_reply_error(r, 503, "unavailable", "database error; retry");
	else
		confirm_in_tx(r, id, body, &who);
	json_decref(body);
}

/* ---- POST /v1/evidence-requests/{id}/answer ---- */

static json_t *answer_fields(json_t *body)
{
	json_t *fields = json_array();
	json_t *outcome = json_object_get(body, "outcome"),
	       *detail = json_object_get(body, "detail");
	json_t *att = json_object_get(body, "attachments");
	if (!json_is_string(outcome) || !ev_outcome_valid(json_string_value(outcome)))
		json_array_append_new(fields,
				      http_field("outcome", "is required, a known outcome"));
	if (detail && (!json_is_string(detail) || strlen(json_string_value(detail)) > 2000))
		json_array_append_new(fields, http_field("detail", "must be a string of at most "
								   "2000 characters"));
	bool att_ok = !att || (json_is_array(att) && json_array_size(att) <= 20);
	for (size_t i = 0; att_ok && i < json_array_size(att); i++) {
		json_t *v = json_array_get(att, i);
		att_ok = json_is_string(v) && strlen(json_string_value(v)) <= 256;
	}
	if (!att_ok)
		json_array_append_new(fields, http_field("attachments", "must be at most 20 ids"));
	return fields;
}

/* clang-format off */
static const char answer_sql[] =
    "UPDATE requests SET answered_at = now(), late = now() > due_at, outcome = $2, detail = "
    "$3, attachments = ARRAY(SELECT json_array_elements_text($4::json)), answered_by = $5 "
    "WHERE request_id = $1::uuid AND answered_at IS NULL "
    "RETURNING complaint_id::text, late";
/* clang-format on */

/* 1 answered (id filled), 0 unknown or already answered, -1 error. */
static int answer_store(PGconn *c, const char *req, json_t *body, const char *who, char id[40],
			bool *late)
{
	json_t *att = json_object_get(body, "attachments");
	char *atts = json_dumps(att ? att : json_array(), JSON_COMPACT | JSON_ENCODE_ANY);
	const char *detail = json_string_value(json_object_get(body, "detail"));
	const char *p[] = {req, json_string_value(json_object_get(body, "outcome")),
			   detail ? detail : "", atts ? atts : "[]", who};
	PGresult *res = pg_query(c, answer_sql, 5, p);
	free(atts);
	if (!res)
		return -1;
	int rc = PQntuples(res) == 1;
	if (rc) {
		snprintf(id, 40, "%s", PQgetvalue(res, 0, 0));
		*late = PQgetvalue(res, 0, 1)[0] == 't';
	}
	PQclear(res);
	return rc;
}

static void answer_in_tx(struct http_req *r, json_t *body, const char *who)
{
	char id[40] = "";
	bool late = false;
	int rc = answer_store(r->db, r->params[0], body, who, id, &late);
	if (rc < 0 || (rc == 1 && bundle_build(r->db, id, false) != 0))
		return http_reply_db_error(r);
	if (rc == 0) {
		pg_rollback(r->db);
		const char *p[] = {r->params[0]};
		PGresult *res =
		    pg_query(r->db, "SELECT 1 FROM requests WHERE request_id = $1::uuid", 1, p);
		bool known = res && PQntuples(res) == 1;
		PQclear(res);
		return known ? http_reply_error(r, 409, "already_answered",
						"this request has been answered")
			     : http_reply_error(r, 404, "not_found", "no such evidence request");
	}
	if (pg_commit(r->db) != 0)
		return http_reply_db_error(r);
	http_reply_json(r, 200,
			json_pack("{s:s, s:s, s:b}", "request_id", r->params[0], "complaint_id", id,
				  "late", late));
}

void api_answer(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	if (!ids_is_uuid(r->params[0]))
		return http_reply_error(r, 404, "not_found", "no such evidence request");
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *fields = answer_fields(body);
	if (json_array_size(fields) > 0)
		http_reply_fields(r, 422, "invalid_answer", json_incref(fields));
	else if (pg_begin(r->db) != 0)
		http_reply_error(r, 503, "unavailable", "database error; retry");
	else
		answer_in_tx(r, body, who.staff_id);
	json_decref(fields);
	json_decref(body);
}

/* ---- trajectories ---- */

/* clang-format off */
#define TRAJECTORY_JSON                                                                        \
	"SELECT jsonb_build_object('waybill_no', p.waybill_no, 'carrier', p.carrier, "             \
	"'scan_count', p.scan_count, 'first_scan_at', " ISO("p.first_scan_at") ", "               \
	"'last_scan_at', " ISO("p.last_scan_at") ", 'last_code', p.last_code, "                   \
	"'last_facility_id', p.last_facility_id, 'last_facility_type', p.last_facility_type, "     \
	"'courier_id', p.courier_id, 'promised_by', " ISO("p.promised_by") ", 'delivered', "      \
	"p.delivered, 'delivered_at', " ISO("p.delivered_at") ", 'exceptions', p.exceptions, "    \
	"'stuck_seconds', CASE WHEN p.final OR p.last_scan_at IS NULL THEN 0 ELSE "                \
	"floor(extract(epoch FROM now() - p.last_scan_at)) END, 'scans', COALESCE((SELECT "       \
	"jsonb_agg(jsonb_build_object('carrier', s.carrier, 'scan_id', s.scan_id, 'code', "       \
	"s.code, 'occurred_at', " ISO("s.occurred_at") ", 'facility_id', s.facility_id, "         \
	"'facility_type', s.facility_type, 'courier_id', s.courier_id, 'city', s.city, 'lat', "   \
	"s.lat, 'lon', s.lon, 'pod_ref', s.pod_ref, 'signed_by', s.signed_by, "                   \
	"'exception_reason', s.exception_reason, 'customer_consented', s.customer_consented, "    \
	"'note', s.note) ORDER BY s.occurred_at, s.received_at) FROM (SELECT * FROM scans s "     \
	"WHERE s.waybill_no = p.waybill_no AND s.occurred_at BETWEEN p.first_scan_at AND "         \
	"p.last_scan_at ORDER BY s.occurred_at, s.received_at LIMIT " TRAJECTORY_MAX ") s), "     \
	"'[]'::jsonb))::text FROM parcels p WHERE p.scan_count > 0 AND p.waybill_no = "
#define TRAJECTORY_BY_ID \
	TRAJECTORY_JSON "(SELECT waybill_no FROM bundles WHERE complaint_id = $1::uuid)"
#define TRAJECTORY_BY_NO \
	TRAJECTORY_JSON "(SELECT waybill_no FROM bundles WHERE complaint_no = $1 LIMIT 1)"
/* clang-format on */

void api_parcel_trajectory(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	http_reply_query_json(r, TRAJECTORY_JSON "$1", r->params[0], "no scans for this waybill");
}

void api_complaint_trajectory(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	const char *key = r->params[0];
	http_reply_query_json(r, ids_is_uuid(key) ? TRAJECTORY_BY_ID : TRAJECTORY_BY_NO, key,
			      "no scans for this complaint's waybill");
}
