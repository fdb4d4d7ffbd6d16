/* The case as staff work it: the whole case in one request (GET /v1/staff/complaints/{no})
 * and internal notes (POST /v1/complaints/{no}/notes).
 *
 * The view is one statement: the complaint row and intake's projections of the other
 * services' events (classification, evidence, plans, clocks, conversation) aggregated as JSON
 * by PostgreSQL, so the agent's most frequent read costs one round trip. The complainant's
 * contact is in full for those who handle the case (owner, the agent who keyed it in,
 * supervisors) and masked for other staff (view.c says who else sees what). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "intake.h"
#include "log.h"
#include "pg.h"

/* clang-format off */
#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Earlier complaints of the same customer (customer_ref), newest first; a repeat complainer
 * has another complaint in the 90 days before this one, or repeated this one. */
#define CUSTOMER_SQL \
    "jsonb_build_object('customer_ref', c.customer_ref, " \
    "  'tier', coalesce(c.tier, 'standard'), " \
    "  'complaints_total', (SELECT count(*) FROM complaints o WHERE o.customer_ref = c.customer_ref), " \
    "  'repeat_complainer', c.is_repeat OR c.repeat_count > 0 OR EXISTS (SELECT 1 FROM complaints o " \
    "     WHERE o.customer_ref = c.customer_ref AND o.id <> c.id " \
    "       AND o.received_at > c.received_at - interval '90 days'), " \
    "  'earlier_complaints', coalesce((SELECT jsonb_agg(jsonb_build_object(" \
    "       'complaint_no', o.complaint_no, 'waybill_no', o.waybill_no, 'type', o.type, " \
    "       'status', o.status, 'received_at', " ISO("o.received_at") ") ORDER BY o.received_at DESC) " \
    "     FROM (SELECT * FROM complaints o WHERE o.customer_ref = c.customer_ref AND o.id <> c.id " \
    "           ORDER BY o.received_at DESC LIMIT 20) o), '[]'))"

/* The photos (the bytes are read one by one from .../attachments/{n}, by those who see the
 * contact in full). */
#define PHOTOS_SQL \
    "coalesce((SELECT jsonb_agg(jsonb_build_object('attachment', a.seq, " \
    "     'content_type', a.content_type, 'bytes', a.bytes, 'uploaded_by', a.uploaded_by, " \
    "     'metadata_removed', to_jsonb(a.stripped), 'at', " ISO("a.created_at") ", " \
    "     'url', '/v1/staff/complaints/' || c.complaint_no || '/attachments/' || a.seq) " \
    "     ORDER BY a.seq) FROM attachments a WHERE a.complaint_id = c.id), '[]')"

static const char case_view_sql[] =
    "SELECT jsonb_build_object("
    "  'complaint_id', c.id, 'complaint_no', c.complaint_no, 'status', c.status, "
    "  'channel', c.channel, 'waybill_no', c.waybill_no, 'type', c.type, "
    "  'description', c.description, 'impact', c.impact, 'demand', to_jsonb(c.demand), "
    "  'target', c.target, 'attachments', c.attachments, 'priority', c.priority, "
    "  'repeat_count', c.repeat_count, 'repeat', c.is_repeat, 'language', c.language, "
    "  'complainant', jsonb_build_object('name', c.complainant_name, 'phone', c.complainant_phone, "
    "     'role', c.role, 'preferred_contact', c.preferred_contact), "
    "  'outlet_id', c.outlet_id, 'entered_by', c.entered_by, "
    "  'received_at', " ISO("c.received_at") ", 'closed_at', " ISO("c.closed_at") ", "
    "  'close_reason', c.close_reason, 'merged_into', c.merged_into, "
    "  'next_update_by', " ISO("c.next_update_by") ", "
    "  'owner', jsonb_build_object('staff_id', c.owner_staff_id, 'since', " ISO("c.owner_since") "), "
    "  'offered_to', to_jsonb(c.offered_to), "
    "  'escalation', jsonb_build_object('level', c.escalation_level, 'to', c.escalated_to), "
    "  'classification', jsonb_build_object('category', c.category, 'subcategory', c.subcategory, "
    "     'urgency', c.urgency, 'tier', c.tier, 'sla_policy', c.sla_policy), "
    "  'nearest_deadline', jsonb_build_object('clock', c.next_due_clock, "
    "     'due_at', " ISO("c.next_due_at") "), "
    "  'evidence', (SELECT e.bundle FROM case_evidence e WHERE e.complaint_id = c.id), "
    "  'plans', coalesce((SELECT jsonb_agg(jsonb_build_object('proposal_id', p.proposal_id, "
    "     'status', p.status, 'remedies', p.remedies, 'total_fen', p.total_fen, 'rule', p.rule, "
    "     'responsible_party', p.responsible_party, 'proposed_by', p.proposed_by, "
    "     'approved_by', p.approved_by, 'reason', p.reason, "
    "     'decided_at', " ISO("p.decided_at") ") ORDER BY p.updated_at) "
    "     FROM case_plans p WHERE p.complaint_id = c.id), '[]'), "
    "  'clocks', coalesce((SELECT jsonb_agg(jsonb_build_object('clock', k.clock, "
    "     'state', k.state, 'due_at', " ISO("k.due_at") ", 'started_at', " ISO("k.started_at") ", "
    "     'duration_s', k.duration_s, 'used_s', k.used_s, 'paused_s', k.paused_s, "
    "     'calendar', k.calendar, 'escalation_level', k.escalation_level, 'warned', k.warned, "
    "     'breached', k.breached, 'stopped_by', k.stopped_by) ORDER BY k.due_at NULLS LAST, k.clock) "
    "     FROM case_clocks k WHERE k.complaint_id = c.id), '[]'), "
    "  'conversation', coalesce((SELECT jsonb_agg(jsonb_build_object('at', " ISO("v.at") ", "
    "     'direction', v.direction, 'kind', v.kind, 'actor', v.actor, 'text', v.text, "
    "     'detail', v.detail) ORDER BY v.at, v.id) "
    "     FROM conversation v WHERE v.complaint_id = c.id), '[]'), "
    "  'notes', coalesce((SELECT jsonb_agg(jsonb_build_object('id', n.id, 'at', " ISO("n.at") ", "
    "     'author', n.author, 'text', n.text) ORDER BY n.id) "
    "     FROM notes n WHERE n.complaint_id = c.id), '[]'), "
    "  'timeline', coalesce((SELECT jsonb_agg(jsonb_build_object('step', t.step, "
    "     'at', " ISO("t.at") ", 'actor', t.actor, 'visibility', t.visibility, "
    "     'detail', t.detail) ORDER BY t.at, t.id) "
    "     FROM timeline t WHERE t.complaint_id = c.id), '[]'), "
    "  'photos', " PHOTOS_SQL ", "
    "  'customer', " CUSTOMER_SQL ")::text "
    "FROM complaints c WHERE c.complaint_no = $1";
/* clang-format on */

/* The complainant's contact in full only for those who handle the case and supervisors. */
static void contact_for(json_t *j, const struct auth_principal *who)
{
	const char *owner =
	    json_string_value(json_object_get(json_object_get(j, "owner"), "staff_id"));
	const char *entered = json_string_value(json_object_get(j, "entered_by"));
	if (intake_contact_entitled(who, owner, entered))
		return;
	json_t *c = json_object_get(j, "complainant");
	char name[160], phone[40];
	const char *raw_name = json_string_value(json_object_get(c, "name"));
	const char *raw_phone = json_string_value(json_object_get(c, "phone"));
	intake_mask_name(raw_name ? raw_name : "", name, sizeof(name));
	intake_mask_phone(raw_phone ? raw_phone : "", phone, sizeof(phone));
	json_object_set_new(c, "name", json_string(name));
	json_object_set_new(c, "phone", json_string(phone));
	json_object_set_new(j, "contact_masked", json_true());
}

void intake_staff_get_case(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	PGresult *res = pg_query(r->db, case_view_sql, 1, (const char *[]){r->params[0]});
	if (!res) {
		http_reply_db_error(r);
		return;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		http_reply_error(r, 404, "not_found", "no complaint with this number");
		return;
	}
	json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	PQclear(res);
	if (!j) {
		http_reply_error(r, 500, "internal", "the case could not be rendered");
		return;
	}
	contact_for(j, &who);
	json_object_set_new(j, "next_step",
			    json_string(intake_lifecycle_next_step(
				json_string_value(json_object_get(j, "status")), "en")));
	http_reply_json(r, 200, j);
}

/* ---- POST /v1/complaints/{no}/notes ----------------------------------------------------- */

#define INTAKE_NOTE_MAX 2000 /* characters */

static int utf8_chars(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* The note's text, or NULL after a 422 naming the field. */
static const char *note_text(struct http_req *r, json_t *body)
{
	const char *text = json_string_value(json_object_get(body, "text"));
	const char *problem = NULL;
	if (!text)
		problem = "is required and must be a string";
	else if (!text[strspn(text, " \t\r\n")])
		problem = "must not be blank";
	else if (utf8_chars(text) > INTAKE_NOTE_MAX)
		problem = "is too long (at most 2000 characters)";
	if (!problem)
		return text;
	json_t *fields = json_array();
	json_array_append_new(fields, http_field("text", problem));
	http_reply_fields(r, 422, "validation_failed", fields);
	return NULL;
}

/* Locks the case, reads its id and whether who may act on it (common/auth.h's rule: the
 * owner or a supervisor, never the person the complaint is about or the courier the evidence
 * names); 0 found, 1 unknown, -1 database error. */
static int lock_case(PGconn *c, const char *no, const struct auth_principal *who, char *id,
		     size_t cap, enum auth_case_verdict *verdict)
{
	PGresult *res = pg_query(
	    c,
	    "SELECT c.id, coalesce(c.owner_staff_id, ''), coalesce(c.target->>'kind', ''), "
	    "coalesce(c.target->>'id', ''), coalesce(e.bundle->'responsibility'->>'party', ''), "
	    "coalesce(e.bundle->'responsibility'->>'party_id', '') FROM complaints c LEFT JOIN "
	    "case_evidence e ON e.complaint_id = c.id WHERE c.complaint_no = $1 FOR UPDATE OF c",
	    1, (const char *[]){no});
	if (!res)
		return -1;
	int found = PQntuples(res) > 0;
	if (found) {
		snprintf(id, cap, "%s", PQgetvalue(res, 0, 0));
		*verdict = auth_case_verdict(
		    who, PQgetvalue(res, 0, 1),
		    auth_case_names(who->staff_id, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
				    PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5)));
	}
	PQclear(res);
	return found ? 0 : 1;
}

/* Stores the note and its staff-only timeline step; returns the result row (id, at). */
static PGresult *insert_note(PGconn *c, const char *id, const char *author, const char *text)
{
	const char *p[] = {id, author, text};
	PGresult *res =
	    pg_query(c,
		     "WITH n AS (INSERT INTO notes (complaint_id, author, text) VALUES "
		     "($1, $2, $3) RETURNING id, at) INSERT INTO timeline (complaint_id, "
		     "step, detail, actor, visibility) SELECT $1, 'note_added', "
		     "jsonb_build_object('note_id', n.id), $2, 'staff' FROM n RETURNING "
		     "(detail->>'note_id'), " ISO("at"),
		     3, p);
	return res;
}

static void note_tx(struct http_req *r, const struct auth_principal *who, const char *text)
{
	char id[64];
	enum auth_case_verdict verdict = AUTH_CASE_NOT_OWNER;
	if (pg_begin(r->db) != 0) {
		http_reply_db_error(r);
		return;
	}
	int found = lock_case(r->db, r->params[0], who, id, sizeof(id), &verdict);
	PGresult *res = NULL;
	if (found < 0)
		goto db_failed;
	if (found > 0) {
		pg_rollback(r->db);
		http_reply_error(r, 404, "not_found", "no complaint with this number");
		return;
	}
	if (verdict != AUTH_CASE_OK) {
		pg_rollback(r->db);
		auth_case_refuse(r, verdict, "write notes on this case");
		return;
	}
	res = insert_note(r->db, id, who->staff_id, text);
	if (!res || pg_commit(r->db) != 0)
		goto db_failed;
	log_msg(LOG_INFO, "note_added", LOG_KV({"complaint_no", r->params[0]}),
		"internal note added by %s", who->staff_id);
	http_reply_json(r, 201,
			json_pack("{s:s, s:I, s:s, s:s}", "complaint_no", r->params[0], "note_id",
				  (json_int_t)atoll(PQgetvalue(res, 0, 0)), "at",
				  PQgetvalue(res, 0, 1), "author", who->staff_id));
	PQclear(res);
	return;
db_failed:
	PQclear(res);
	http_reply_db_error(r);
}

void intake_post_note(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	const char *text = note_text(r, body);
	if (text)
		note_tx(r, &who, text);
	json_decref(body);
}
