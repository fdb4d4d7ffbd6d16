/* Staff casework on a case: message the customer (a template or free text), log a phone
 * call, close with a reason, reopen, and read the whole conversation.
 *
 * Only the case's owner (the staff id of the latest accepted or reassigned event) or a
 * supervisor/admin token acts; another agent gets 403 not_owner, and the staff member the
 * complaint is about (or the courier the evidence names) 403 conflict_of_interest. Every action
 * validates its whole body first (422 with one entry per bad field), then locks the case, checks
 * who acts and the case's state (404, 403, 409), and writes its rows, history, outbox event and the
 * customer's message in one transaction: on any error nothing changes.
 *
 * A message from the case and a call that reached the customer are a person's real contact:
 * they emit cp.complaint.contacted (the timer stops the first-response clock on it; the
 * automatic acknowledgement never does). An unanswered call is recorded as an attempt only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "followup.h"
#include "followup.pb-c.h"
#include "log.h"
#include "pg.h"
#include "tstamp.h"

#define FU_TEXT_MAX	 2000
#define FU_REASON_MAX	 500
#define FU_COMPLAINT_MAX 39

/* The body of one action: parsed and checked before the case is touched. */
struct fu_action_in {
	const char *template_step; /* contact */
	const char *text;	   /* contact: free text; call: summary; close: note */
	const char *next_update_by;
	const char *outcome;	 /* call */
	const char *reason;	 /* close, reopen */
	const char *merged_into; /* close duplicate */
};

typedef void (*fu_parse_fn)(json_t *body, struct fu_action_in *in, json_t *errors);

/* ---- parsing ------------------------------------------------------------------------------ */

static const char *fu_opt_string(json_t *body, const char *name, size_t max, const char *problem,
				 json_t *errors)
{
	json_t *v = json_object_get(body, name);
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= max)
		return json_string_value(v);
	json_array_append_new(errors, http_field(name, problem));
	return NULL;
}

static const char *fu_req_string(json_t *body, const char *name, size_t max, const char *problem,
				 json_t *errors)
{
	const char *s = fu_opt_string(body, name, max, problem, errors);
	json_t *v = json_object_get(body, name);
	if (!s && (!v || json_is_null(v)))
		json_array_append_new(errors, http_field(name, problem));
	return s;
}

/* A promised update time: RFC 3339 and in the future. */
static const char *fu_next_update(json_t *body, json_t *errors)
{
	const char *problem = "an RFC 3339 time in the future";
	const char *s = fu_opt_string(body, "next_update_by", 40, problem, errors);
	int64_t ms;
	if (s && (tstamp_parse(s, &ms) != 0 || ms <= tstamp_now_ms())) {
		json_array_append_new(errors, http_field("next_update_by", problem));
		return NULL;
	}
	return s;
}

static void fu_parse_contact(json_t *body, struct fu_action_in *in, json_t *errors)
{
	in->template_step = fu_opt_string(body, "template", 64, "a template step name", errors);
	in->text =
	    fu_opt_string(body, "text", FU_TEXT_MAX, "a non-empty string up to 2000 bytes", errors);
	bool tmpl = json_object_get(body, "template") != NULL;
	bool text = json_object_get(body, "text") != NULL;
	if (tmpl == text)
		json_array_append_new(errors,
				      http_field("text", "give either template or text, not both"));
	if (in->template_step && !fu_contact_template_allowed(in->template_step))
		json_array_append_new(errors, http_field("template", "not a template staff send"));
	in->next_update_by = fu_next_update(body, errors);
}

static void fu_parse_call(json_t *body, struct fu_action_in *in, json_t *errors)
{
	in->outcome = fu_req_string(body, "outcome", 32,
				    "one of reached, no_answer, voicemail, wrong_number", errors);
	if (in->outcome && !fu_call_outcome_valid(in->outcome))
		json_array_append_new(errors,
				      http_field("outcome", "one of reached, no_answer, voicemail, "
							    "wrong_number"));
	in->text = fu_req_string(body, "summary", FU_TEXT_MAX,
				 "required, a non-empty string up to 2000 bytes", errors);
	in->next_update_by = fu_next_update(body, errors);
}

static void fu_parse_close(json_t *body, struct fu_action_in *in, json_t *errors)
{
	const char *reasons = "one of resolved, no_fault_found, withdrawn, duplicate";
	in->reason = fu_req_string(body, "reason", 32, reasons, errors);
	if (in->reason && !fu_close_reason_valid(in->reason))
		json_array_append_new(errors, http_field("reason", reasons));
	in->merged_into =
	    fu_opt_string(body, "merged_into", FU_COMPLAINT_MAX, "a complaint number", errors);
	bool duplicate = in->reason && strcmp(in->reason, "duplicate") == 0;
	if (duplicate && !json_object_get(body, "merged_into"))
		json_array_append_new(errors, http_field("merged_into", "required for duplicate"));
	if (!duplicate && in->reason && json_object_get(body, "merged_into"))
		json_array_append_new(errors,
				      http_field("merged_into", "only with reason duplicate"));
	in->text = fu_opt_string(body, "note", FU_TEXT_MAX, "a string up to 2000 bytes", errors);
}

static void fu_parse_reopen(json_t *body, struct fu_action_in *in, json_t *errors)
{
	in->reason = fu_req_string(body, "reason", FU_REASON_MAX,
				   "required, a non-empty string up to 500 bytes", errors);
}

/* ---- the common prologue ------------------------------------------------------------------ */

struct fu_action {
	struct auth_principal who;
	struct fu_case_lock k;
	struct fu_action_in in;
	json_t *body;
};

static void fu_action_release(struct fu_action *a)
{
	json_decref(a->body);
	a->body = NULL;
}

static void fu_reply_conflict(struct http_req *r, const char *code, const char *message)
{
	pg_rollback(r->db);
	http_reply_error(r, 409, code, message);
}

/* Auth, body, validation, lock, who acts. Replies itself and returns -1 on any failure;
 * on 0 the case is locked in an open transaction and a->body must be released. */
static int fu_action_begin(struct http_req *r, struct fu_action *a, fu_parse_fn parse)
{
	memset(a, 0, sizeof(*a));
	if (auth_caller(r, &a->who) != 0)
		return -1;
	a->body = http_req_json(r);
	if (!a->body)
		return -1;
	json_t *errors = json_array();
	parse(a->body, &a->in, errors);
	if (json_array_size(errors)) {
		/* the reply takes the errors */
		http_reply_fields(r, 422, "validation_failed", errors);
		goto release_body;
	}
	json_decref(errors);
	if (fu_lock_case(r, &a->k) != 0)
		goto release_body;
	if (fu_require_actor(r, &a->who, &a->k) != 0)
		goto release_body;
	return 0;
release_body:
	fu_action_release(a);
	return -1;
}

/* ---- contact: what counts as a person's real contact ---------------------------------------- */

int fu_contacted(PGconn *c, const struct fu_case_lock *k, const char *staff_id,
		 const struct fu_contact *ct)
{
	const char *p[] = {k->id, staff_id, ct->next_update_by};
	if (pg_exec(
		c,
		"UPDATE cases SET first_contact_by = CASE WHEN first_contact_at IS NULL THEN $2 "
		"ELSE first_contact_by END, first_contact_at = coalesce(first_contact_at, "
		"now()), next_update_by = $3::timestamptz, status = CASE WHEN status = 'open' "
		"THEN 'in_contact' ELSE status END, updated_at = now() WHERE complaint_id = $1",
		3, p) != 0 ||
	    fu_history(c, k->id, "cp.complaint.contacted", ct->detail_json) != 0)
		return -1;
	size_t cap = strlen(ct->text) + 1;
	char *clean = malloc(cap);
	if (!clean)
		return -1;
	/* a template's text is operator data (and its dates are not phone numbers) */
	if (ct->redact)
		fu_redact_digits(ct->text, clean, cap);
	else
		memcpy(clean, ct->text, cap);
	Cp__FollowupEvent ev = CP__FOLLOWUP_EVENT__INIT;
	ev.complaint_id = (char *)k->id;
	ev.complaint_no = (char *)k->no;
	ev.step = "contacted";
	ev.language = (char *)k->language;
	ev.owner_staff_id = (char *)k->owner;
	ev.actor_staff_id = (char *)staff_id;
	ev.contact_kind = (char *)ct->kind;
	ev.outcome = (char *)(ct->outcome ? ct->outcome : "");
	ev.text_redacted = clean;
	ev.next_update_by = (char *)(ct->next_update_by ? ct->next_update_by : "");
	int rc = fu_announce(c, "cp.complaint.contacted", &ev);
	free(clean);
	if (rc != 0)
		return -1;
	log_msg(LOG_INFO, "case_contacted",
		LOG_KV({"complaint_no", k->no}, {"contact_kind", ct->kind}, {"actor", staff_id}),
		"a person contacted the customer");
	return fu_survey_open(c, k->id) < 0 ? -1 : 0;
}

/* The text of a template in the case's language, rendered now with what the case knows. */
static int fu_render_template(PGconn *c, const struct fu_action *a, char *out, size_t cap,
			      bool *found)
{
	const char *p[] = {a->in.template_step};
	PGresult *r = pg_query(c, "SELECT 1 FROM templates WHERE step = $1", 1, p);
	if (!r)
		return -1;
	*found = PQntuples(r) > 0;
	PQclear(r);
	if (!*found)
		return 0;
	json_t *vars = json_pack("{s:s}", "owner", a->k.owner);
	int64_t ms;
	if (a->in.next_update_by && tstamp_parse(a->in.next_update_by, &ms) == 0) {
		char local[32];
		fu_local_time(ms, (int)followup_cfg.quiet_utc_offset_min, local, sizeof(local));
		json_object_set_new(vars, "next_update_by", json_string(local));
	}
	char *text = json_dumps(vars, JSON_COMPACT);
	json_decref(vars);
	int rc =
	    text ? fu_render_step(c, a->in.template_step, a->k.language, a->k.no, text, out, cap)
		 : -1;
	free(text);
	return rc;
}

static int fu_message_round(PGconn *c, const char *id)
{
	PGresult *r = pg_query(c,
			       "SELECT count(*) + 1 FROM notifications WHERE complaint_id = $1 AND "
			       "step = 'contact'",
			       1, (const char *[]){id});
	if (!r)
		return -1;
	int round = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return round;
}

static bool fu_is_closed(struct http_req *r, const struct fu_action *a)
{
	if (strcmp(a->k.status, "closed") != 0)
		return false;
	fu_reply_conflict(r, "closed", "the case is closed");
	return true;
}

static int fu_send_message(PGconn *c, const struct fu_action *a, const char *text, json_t *reply)
{
	struct fu_vars v = {.text = text};
	long long note_id;
	char sent[2048], detail[160];
	int round = fu_message_round(c, a->k.id);
	if (round < 0 || fu_notify_by(c, a->k.id, "contact", round, &v, a->who.staff_id, &note_id,
				      sent, sizeof(sent)) != 0)
		return -1;
	snprintf(detail, sizeof(detail),
		 "{\"contact_kind\":\"message\",\"by\":\"%.60s\",\"notification_id\":%lld}",
		 a->who.staff_id, note_id);
	/* free text: the person's own words, redacted; a template: the text as sent */
	const struct fu_contact ct = {.kind = "message",
				      .text = a->in.template_step ? sent : text,
				      .redact = a->in.template_step == NULL,
				      .next_update_by = a->in.next_update_by,
				      .detail_json = detail};
	if (fu_contacted(c, &a->k, a->who.staff_id, &ct) != 0)
		return -1;
	json_object_set_new(reply, "notification_id", json_integer(note_id));
	json_object_set_new(reply, "text", json_string(sent));
	return 0;
}

void fu_post_contact(struct http_req *r, void *arg)
{
	struct fu_action a;
	char rendered[2048];
	bool found = true;
	if (fu_action_begin(r, &a, fu_parse_contact) != 0)
		return;
	if (fu_is_closed(r, &a))
		goto release;
	if (a.in.template_step &&
	    fu_render_template(r->db, &a, rendered, sizeof(rendered), &found) != 0) {
		fu_fail_db(r);
		goto release;
	}
	if (!found) {
		pg_rollback(r->db);
		http_reply_fields(r, 422, "validation_failed",
				  json_pack("[o]", http_field("template", "no such template")));
		goto release;
	}
	json_t *reply = json_pack("{s:s, s:s, s:s}", "complaint_no", a.k.no, "contact_kind",
				  "message", "by", a.who.staff_id);
	if (a.in.next_update_by)
		json_object_set_new(reply, "next_update_by", json_string(a.in.next_update_by));
	if (fu_send_message(r->db, &a, a.in.template_step ? rendered : a.in.text, reply) != 0) {
		json_decref(reply);
		fu_fail_db(r);
		goto release;
	}
	fu_finish(r, 201, reply);
release:
	fu_action_release(&a);
}

/* ---- calls -------------------------------------------------------------------------------- */

static int fu_log_call(PGconn *c, const struct fu_action *a, const char *summary,
		       long long *call_id)
{
	const char *p[] = {a->k.id, a->who.staff_id, a->in.outcome, summary, a->in.next_update_by};
	PGresult *r = pg_query(c,
			       "INSERT INTO calls (complaint_id, staff_id, outcome, summary, "
			       "next_update_by) VALUES ($1, $2, $3, $4, $5::timestamptz) RETURNING "
			       "id",
			       5, p);
	if (!r)
		return -1;
	*call_id = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	char detail[200];
	snprintf(detail, sizeof(detail),
		 "{\"outcome\":\"%.20s\",\"by\":\"%.60s\",\"call_id\":%lld}", a->in.outcome,
		 a->who.staff_id, *call_id);
	if (fu_history(c, a->k.id, "cp.complaint.call_logged", detail) != 0)
		return -1;
	if (!fu_call_is_contact(a->in.outcome))
		return 0;
	const struct fu_contact ct = {.kind = "call",
				      .outcome = a->in.outcome,
				      .text = summary,
				      .redact = true,
				      .next_update_by = a->in.next_update_by,
				      .detail_json = detail};
	return fu_contacted(c, &a->k, a->who.staff_id, &ct);
}

void fu_post_call(struct http_req *r, void *arg)
{
	struct fu_action a;
	long long call_id;
	if (fu_action_begin(r, &a, fu_parse_call) != 0)
		return;
	if (fu_is_closed(r, &a))
		goto release;
	size_t cap = strlen(a.in.text) + 1;
	char *summary = malloc(cap);
	if (!summary) {
		fu_fail_db(r);
		goto release;
	}
	fu_redact_digits(a.in.text, summary, cap);
	int rc = fu_log_call(r->db, &a, summary, &call_id);
	free(summary);
	if (rc != 0) {
		fu_fail_db(r);
		goto release;
	}
	fu_finish(r, 201,
		  json_pack("{s:s, s:I, s:s, s:b, s:s}", "complaint_no", a.k.no, "call_id",
			    (json_int_t)call_id, "outcome", a.in.outcome, "contact",
			    fu_call_is_contact(a.in.outcome), "by", a.who.staff_id));
release:
	fu_action_release(&a);
}

/* ---- close and reopen --------------------------------------------------------------------- */

/* The case a duplicate joins must be another case follow-up knows. */
static int fu_merge_target(PGconn *c, const struct fu_action *a, bool *ok)
{
	const char *p[] = {a->in.merged_into, a->k.no};
	PGresult *r =
	    pg_query(c, "SELECT 1 FROM cases WHERE complaint_no = $1 AND complaint_no <> $2", 2, p);
	if (!r)
		return -1;
	*ok = PQntuples(r) == 1;
	PQclear(r);
	return 0;
}

/* 409 when the case may not be closed with this reason now; replies itself. */
static bool fu_close_refused(struct http_req *r, const struct fu_action *a)
{
	if (strcmp(a->k.status, "closed") == 0) {
		fu_reply_conflict(r, "already_closed", "the case is closed already");
		return true;
	}
	if (strcmp(a->in.reason, "resolved") == 0 && !a->k.executed) {
		fu_reply_conflict(r, "no_plan_executed",
				  "resolved needs an executed plan; close with another reason");
		return true;
	}
	return false;
}

void fu_post_close(struct http_req *r, void *arg)
{
	struct fu_action a;
	bool target_ok = true;
	if (fu_action_begin(r, &a, fu_parse_close) != 0)
		return;
	if (fu_close_refused(r, &a))
		goto release;
	if (a.in.merged_into && fu_merge_target(r->db, &a, &target_ok) != 0) {
		fu_fail_db(r);
		goto release;
	}
	if (!target_ok) {
		pg_rollback(r->db);
		http_reply_fields(
		    r, 422, "validation_failed",
		    json_pack("[o]", http_field("merged_into", "another complaint's number")));
		goto release;
	}
	const struct fu_closure cl = {.reason = a.in.reason,
				      .actor = a.who.staff_id,
				      .merged_into = a.in.merged_into,
				      .note = a.in.text};
	if (fu_close(r->db, a.k.id, &cl) != 0) {
		fu_fail_db(r);
		goto release;
	}
	json_t *reply = json_pack("{s:s, s:s, s:s, s:s}", "complaint_no", a.k.no, "status",
				  "closed", "close_reason", a.in.reason, "by", a.who.staff_id);
	if (a.in.merged_into)
		json_object_set_new(reply, "merged_into", json_string(a.in.merged_into));
	fu_finish(r, 200, reply);
release:
	fu_action_release(&a);
}

/* Back to the owner, in a new round: no escalation (that is the survey's dissatisfied
 * answer), and a plan must be executed again before the customer is surveyed again. */
static int fu_reopen(PGconn *c, const struct fu_action *a, const char *reason, json_t *reply)
{
	PGresult *res = pg_query(
	    c,
	    "UPDATE cases SET status = 'reopened', reopen_count = reopen_count + 1, closed_at = "
	    "NULL, close_reason = NULL, closed_by = '', merged_into = '', survey_due_at = NULL, "
	    "decided_by_person = false, updated_at = now() WHERE complaint_id = $1 RETURNING "
	    "priority, escalation_level, reopen_count",
	    1, (const char *[]){a->k.id});
	if (!res)
		return -1;
	Cp__FollowupEvent ev = CP__FOLLOWUP_EVENT__INIT;
	struct fu_vars v = {0};
	ev.complaint_id = (char *)a->k.id;
	ev.complaint_no = (char *)a->k.no;
	ev.step = "reopened";
	ev.reason = (char *)reason;
	ev.owner_staff_id = (char *)a->k.owner;
	ev.actor_staff_id = (char *)a->who.staff_id;
	ev.priority = atoi(PQgetvalue(res, 0, 0));
	ev.escalation_level = atoi(PQgetvalue(res, 0, 1));
	ev.reopen_count = atoi(PQgetvalue(res, 0, 2));
	PQclear(res);
	json_t *detail = json_pack("{s:s, s:s}", "by", a->who.staff_id, "reason", reason);
	char *text = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	int rc = text && fu_history(c, a->k.id, "cp.complaint.reopened", text) == 0 &&
			 fu_announce(c, "cp.complaint.reopened", &ev) == 0 &&
			 fu_notify(c, a->k.id, "reopened_by_staff", ev.reopen_count, &v, false) == 0
		     ? 0
		     : -1;
	free(text);
	json_object_set_new(reply, "reopen_count", json_integer(ev.reopen_count));
	return rc;
}

void fu_post_reopen(struct http_req *r, void *arg)
{
	struct fu_action a;
	if (fu_action_begin(r, &a, fu_parse_reopen) != 0)
		return;
	if (strcmp(a.k.status, "closed") != 0) {
		fu_reply_conflict(r, "not_closed", "only a closed case is reopened");
		goto release;
	}
	if (!fu_reopenable(a.k.close_reason)) {
		fu_reply_conflict(r, "terminal", "a withdrawn or merged case is never reopened");
		goto release;
	}
	size_t cap = strlen(a.in.reason) + 1;
	char *reason = malloc(cap);
	if (!reason) {
		fu_fail_db(r);
		goto release;
	}
	fu_redact_digits(a.in.reason, reason, cap);
	json_t *reply = json_pack("{s:s, s:s, s:s, s:s}", "complaint_no", a.k.no, "status",
				  "reopened", "owner_staff_id", a.k.owner, "by", a.who.staff_id);
	int rc = fu_reopen(r->db, &a, reason, reply);
	free(reason);
	if (rc != 0) {
		json_decref(reply);
		fu_fail_db(r);
		goto release;
	}
	fu_finish(r, 200, reply);
release:
	fu_action_release(&a);
}

/* ---- the conversation --------------------------------------------------------------------- */

/* One list, oldest first: what the customer wrote (the complaint itself and every reply, in
 * their own words with phone numbers removed), what we sent (the text as rendered, automatic
 * or by whom, channel, delivery state; questions marked as such) and the calls staff logged.
 * Messages to staff are internal and not part of it. */
/* clang-format off */
static const char conversation_sql[] =
	"WITH k AS (SELECT * FROM cases WHERE complaint_no = $1), e AS ("
	"  SELECT k.received_at at, 0 seq, json_build_object('kind', 'complaint', 'direction',"
	"      'in', 'at', k.received_at, 'by', 'customer', 'text', k.description) j"
	"    FROM k WHERE k.description <> ''"
	"  UNION ALL SELECT n.created_at, n.id, json_build_object('kind', CASE WHEN n.step ="
	"      'awaiting_customer' THEN 'question' ELSE 'message' END, 'direction', 'out', 'at',"
	"      n.created_at, 'step', n.step, 'text', n.body, 'automatic', n.sent_by = '', 'by',"
	"      nullif(n.sent_by, ''), 'channel', coalesce(nullif(n.channel, ''),"
	"      nullif(k.preferred_contact, ''), k.channel), 'delivery', json_build_object("
	"      'status', n.status, 'attempts', n.attempts, 'delivered_at', n.delivered_at,"
	"      'last_error', n.last_error))"
	"    FROM notifications n JOIN k USING (complaint_id) WHERE n.recipient = 'customer'"
	"  UNION ALL SELECT m.at, m.id, json_build_object('kind', 'customer_message', 'direction',"
	"      'in', 'at', m.at, 'by', 'customer', 'text', m.text, 'source', m.source)"
	"    FROM messages m JOIN k USING (complaint_id) WHERE m.author = 'customer'"
	"  UNION ALL SELECT c.at, c.id, json_build_object('kind', 'call', 'direction', 'out',"
	"      'at', c.at, 'by', c.staff_id, 'outcome', c.outcome, 'summary', c.summary,"
	"      'next_update_by', c.next_update_by)"
	"    FROM calls c JOIN k USING (complaint_id)) "
	"SELECT json_build_object('complaint_no', k.complaint_no, 'status', k.status,"
	"  'owner_staff_id', k.owner_staff_id, 'language', k.language, 'next_update_by',"
	"  k.next_update_by, 'first_contact_at', k.first_contact_at, 'entries',"
	"  coalesce((SELECT json_agg(j ORDER BY at, seq) FROM e), '[]'))::text FROM k";
/* clang-format on */

void fu_get_conversation(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	http_reply_query_json(r, conversation_sql, r->params[0], "no such complaint");
}
