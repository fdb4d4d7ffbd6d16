/* The follow-up API. Customers (token from their case link): the survey and replies on the
 * case. Staff (bearer tokens): asking the customer for information, templates, statistics.
 * Runs on HTTP worker threads (r->db); every change and its events commit together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "followup.h"
#include "followup.pb-c.h"
#include "ids.h"
#include "log.h"
#include "notify.h"
#include "pg.h"
#include "tstamp.h"

#define TEXT_MAX    2000
#define COMMENT_MAX 1000

/* The customer's token for this complaint. Replies 401/403 and returns -1 when wrong. */
static int customer_auth(struct http_req *r)
{
	char *token = http_req_query(r, "token");
	int rc = -1;
	if (!token || !token[0])
		http_reply_error(r, 401, "unauthorized", "the link's token is missing");
	else if (!auth_customer_token_check(&followup_cfg.link_keys, r->params[0], token,
					    tstamp_now_ms()))
		http_reply_error(r, 403, "forbidden", "the token does not match this complaint");
	else
		rc = 0;
	free(token);
	return rc;
}

int fu_lock_case(struct http_req *r, struct fu_case_lock *k)
{
	if (pg_begin(r->db) != 0) {
		http_reply_error(r, 500, "internal", "database error");
		return -1;
	}
	const char *p[] = {r->params[0]};
	PGresult *res = pg_query(r->db,
				 "SELECT complaint_id, status, owner_staff_id, reopen_count, "
				 "awaiting_customer, language, coalesce(close_reason, ''), "
				 "executed_at IS NOT NULL, target_staff_id, responsible_courier_id "
				 "FROM cases WHERE complaint_no = $1 FOR UPDATE",
				 1, p);
	if (!res || PQntuples(res) != 1) {
		pg_rollback(r->db);
		if (res)
			http_reply_error(r, 404, "not_found", "no such complaint");
		else
			http_reply_error(r, 500, "internal", "database error");
		PQclear(res);
		return -1;
	}
	snprintf(k->id, sizeof(k->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(k->no, sizeof(k->no), "%.39s", r->params[0]);
	snprintf(k->status, sizeof(k->status), "%s", PQgetvalue(res, 0, 1));
	snprintf(k->owner, sizeof(k->owner), "%s", PQgetvalue(res, 0, 2));
	k->reopen_count = atoi(PQgetvalue(res, 0, 3));
	k->awaiting = PQgetvalue(res, 0, 4)[0] == 't';
	snprintf(k->language, sizeof(k->language), "%s", PQgetvalue(res, 0, 5));
	snprintf(k->close_reason, sizeof(k->close_reason), "%s", PQgetvalue(res, 0, 6));
	k->executed = PQgetvalue(res, 0, 7)[0] == 't';
	snprintf(k->target_staff_id, sizeof(k->target_staff_id), "%s", PQgetvalue(res, 0, 8));
	snprintf(k->responsible_courier_id, sizeof(k->responsible_courier_id), "%s",
		 PQgetvalue(res, 0, 9));
	PQclear(res);
	return 0;
}

int fu_require_actor(struct http_req *r, const struct auth_principal *who,
		     const struct fu_case_lock *k)
{
	/* the person a complaint is about never handles it, whatever their role: the stored ids
	 * were kept only when they name a person (fu_target_staff, and a courier the evidence
	 * holds responsible) */
	enum auth_case_verdict v =
	    auth_case_verdict(who, k->owner,
			      auth_case_names(who->staff_id, "courier", k->target_staff_id,
					      "courier", k->responsible_courier_id));
	if (v == AUTH_CASE_OK)
		return 0;
	pg_rollback(r->db);
	auth_case_refuse(r, v, "act on it");
	return -1;
}

void fu_fail_db(struct http_req *r)
{
	pg_rollback(r->db);
	http_reply_error(r, 500, "internal", "database error");
}

void fu_finish(struct http_req *r, int status, json_t *reply)
{
	if (pg_commit(r->db) != 0) {
		json_decref(reply);
		return http_reply_error(r, 500, "internal", "database error");
	}
	http_reply_json(r, status, reply);
}

/* ---- survey ------------------------------------------------------------------------------- */

struct survey_input {
	int score;
	bool solved;
	const char *comment;
};

static bool parse_survey(json_t *body, struct survey_input *in, json_t *errors)
{
	json_t *score = json_object_get(body, "score"), *solved = json_object_get(body, "solved");
	json_t *comment = json_object_get(body, "comment");
	if (!json_is_integer(score) || json_integer_value(score) < 1 ||
	    json_integer_value(score) > 5)
		json_array_append_new(errors, http_field("score", "an integer from 1 to 5"));
	if (!json_is_boolean(solved))
		json_array_append_new(errors, http_field("solved", "true or false"));
	if (comment && (!json_is_string(comment) || json_string_length(comment) > COMMENT_MAX))
		json_array_append_new(errors, http_field("comment", "a string up to 1000 bytes"));
	in->score = (int)json_integer_value(score);
	in->solved = json_is_true(solved);
	in->comment = comment ? json_string_value(comment) : "";
	return json_array_size(errors) == 0;
}

static int reopen(PGconn *c, const struct fu_case_lock *k, const char *no, json_t *reply)
{
	const char *p[] = {k->id};
	PGresult *res =
	    pg_query(c,
		     "UPDATE cases SET status = 'reopened', reopen_count = reopen_count + 1, "
		     "priority = GREATEST(1, priority - 1), escalation_level = "
		     "escalation_level + 1, survey_due_at = NULL, decided_by_person = false, "
		     "updated_at = now() WHERE "
		     "complaint_id = $1 RETURNING priority, escalation_level, reopen_count",
		     1, p);
	if (!res)
		return -1;
	Cp__FollowupEvent ev = CP__FOLLOWUP_EVENT__INIT;
	struct fu_vars v = {0};
	ev.complaint_id = (char *)k->id;
	ev.complaint_no = (char *)no;
	ev.step = "reopened";
	ev.reason = "dissatisfied";
	ev.priority = atoi(PQgetvalue(res, 0, 0));
	ev.escalation_level = atoi(PQgetvalue(res, 0, 1));
	ev.reopen_count = atoi(PQgetvalue(res, 0, 2));
	PQclear(res);
	json_object_set_new(reply, "status", json_string("reopened"));
	json_object_set_new(reply, "priority", json_integer(ev.priority));
	json_object_set_new(reply, "escalation_level", json_integer(ev.escalation_level));
	log_msg(LOG_WARN, "case_reopened", LOG_KV({"complaint_no", no}),
		"customer dissatisfied, case reopened and escalated to level %d",
		ev.escalation_level);
	if (fu_history(c, k->id, "cp.complaint.reopened", NULL) != 0 ||
	    fu_announce(c, "cp.complaint.reopened", &ev) != 0)
		return -1;
	return fu_notify(c, k->id, "reopened", ev.reopen_count, &v, false);
}

static int record_survey(PGconn *c, const struct fu_case_lock *k, const char *no,
			 const struct survey_input *in)
{
	char score[8], round[16], detail[96];
	snprintf(score, sizeof(score), "%d", in->score);
	snprintf(round, sizeof(round), "%d", k->reopen_count);
	snprintf(detail, sizeof(detail), "{\"score\":%d,\"solved\":%s}", in->score,
		 in->solved ? "true" : "false");
	size_t cap = strlen(in->comment) + 1;
	char *comment = malloc(cap);
	if (!comment)
		return -1;
	fu_redact_digits(in->comment, comment, cap);
	const char *p[] = {k->id, round, score, in->solved ? "t" : "f", comment};
	Cp__FollowupEvent ev = CP__FOLLOWUP_EVENT__INIT;
	ev.complaint_id = (char *)k->id;
	ev.complaint_no = (char *)no;
	ev.step = "survey";
	ev.survey_score = in->score;
	ev.solved = in->solved;
	int rc = pg_exec(c,
			 "INSERT INTO surveys (complaint_id, round, score, solved, comment) VALUES "
			 "($1, $2, $3, $4, $5)",
			 5, p);
	free(comment);
	if (rc != 0 || fu_history(c, k->id, "cp.complaint.survey_answered", detail) != 0)
		return -1;
	return fu_announce(c, "cp.complaint.survey_answered", &ev);
}

void fu_post_survey(struct http_req *r, void *arg)
{
	struct survey_input in;
	struct fu_case_lock k;
	if (customer_auth(r) != 0)
		return;
	json_t *body = http_req_json(r), *errors = json_array();
	if (!body) {
		json_decref(errors);
		return;
	}
	if (!parse_survey(body, &in, errors)) {
		http_reply_fields(r, 422, "validation_failed", errors);
		goto out;
	}
	json_decref(errors);
	if (fu_lock_case(r, &k) != 0)
		goto out;
	if (strcmp(k.status, "resolved") != 0) {
		pg_rollback(r->db);
		http_reply_error(r, 409, "conflict", "the case is not waiting for a survey answer");
		goto out;
	}
	json_t *reply = json_pack("{s:s}", "complaint_no", r->params[0]);
	int rc = record_survey(r->db, &k, r->params[0], &in);
	if (rc == 0 && fu_dissatisfied(in.score, in.solved))
		rc = reopen(r->db, &k, r->params[0], reply);
	else if (rc == 0) {
		const struct fu_closure cl = {.reason = "satisfied"};
		rc = fu_close(r->db, k.id, &cl) < 0 ? -1 : 0;
		json_object_set_new(reply, "status", json_string("closed"));
		json_object_set_new(reply, "close_reason", json_string("satisfied"));
	}
	if (rc != 0) {
		json_decref(reply);
		fu_fail_db(r);
		goto out;
	}
	fu_finish(r, 200, reply);
out:
	json_decref(body);
}

/* ---- replies and questions ---------------------------------------------------------------- */

static const char *text_field(json_t *body, const char *name, size_t max, json_t *errors)
{
	json_t *v = json_object_get(body, name);
	if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= max)
		return json_string_value(v);
	char problem[64];
	snprintf(problem, sizeof(problem), "required, a non-empty string up to %zu bytes", max);
	json_array_append_new(errors, http_field(name, problem));
	return NULL;
}

static int insert_message(PGconn *c, const char *id, const char *author, const char *text,
			  char msg_id[24])
{
	size_t cap = strlen(text) + 1;
	char *clean = malloc(cap);
	if (!clean)
		return -1;
	fu_redact_digits(text, clean, cap);
	const char *p[] = {id, author, clean};
	PGresult *res =
	    pg_query(c,
		     "INSERT INTO messages (complaint_id, author, text) VALUES ($1, $2, "
		     "$3) RETURNING id",
		     3, p);
	free(clean);
	if (!res)
		return -1;
	snprintf(msg_id, 24, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static int customer_replied(PGconn *c, const struct fu_case_lock *k, const char *no,
			    const char *text, char msg_id[24])
{
	Cp__FollowupEvent ev = CP__FOLLOWUP_EVENT__INIT;
	size_t cap = strlen(text) + 1;
	char *clean = malloc(cap);
	if (!clean)
		return -1;
	/* the owner reads the customer's words in the event, never a phone number */
	fu_redact_digits(text, clean, cap);
	ev.complaint_id = (char *)k->id;
	ev.complaint_no = (char *)no;
	ev.step = "customer_replied";
	ev.owner_staff_id = (char *)k->owner;
	ev.text_redacted = clean;
	int rc =
	    insert_message(c, k->id, "customer", clean, msg_id) != 0 ||
		    pg_exec(c, "UPDATE cases SET awaiting_customer = false WHERE complaint_id = $1",
			    1, (const char *[]){k->id}) != 0 ||
		    fu_history(c, k->id, "cp.complaint.customer_replied", NULL) != 0 ||
		    fu_announce(c, "cp.complaint.customer_replied", &ev) != 0
		? -1
		: 0;
	free(clean);
	if (rc != 0)
		return -1;
	/* the owner reads the words (redacted again there), not only that the customer wrote */
	return fu_staff_notify(c, k->id, k->owner, "customer_replied", atoi(msg_id), "",
			       &(struct fu_vars){.text = text});
}

void fu_post_message(struct http_req *r, void *arg)
{
	struct fu_case_lock k;
	char msg_id[24];
	if (customer_auth(r) != 0)
		return;
	json_t *body = http_req_json(r), *errors = json_array();
	if (!body) {
		json_decref(errors);
		return;
	}
	const char *text = text_field(body, "text", TEXT_MAX, errors);
	if (!text) {
		http_reply_fields(r, 422, "validation_failed", errors);
		goto out;
	}
	json_decref(errors);
	if (fu_lock_case(r, &k) != 0)
		goto out;
	if (strcmp(k.status, "closed") == 0) {
		pg_rollback(r->db);
		http_reply_error(r, 409, "conflict", "the case is closed");
		goto out;
	}
	if (customer_replied(r->db, &k, r->params[0], text, msg_id) != 0) {
		fu_fail_db(r);
		goto out;
	}
	fu_finish(r, 201,
		  json_pack("{s:s, s:I, s:b}", "complaint_no", r->params[0], "message_id",
			    (json_int_t)atoll(msg_id), "resumed", k.awaiting));
out:
	json_decref(body);
}

static int await_customer(PGconn *c, const struct fu_case_lock *k, const char *no,
			  const char *staff_id, const char *question)
{
	char author[80], msg_id[24];
	struct fu_vars v = {0};
	Cp__FollowupEvent ev = CP__FOLLOWUP_EVENT__INIT;
	snprintf(author, sizeof(author), "staff:%s", staff_id);
	ev.complaint_id = (char *)k->id;
	ev.complaint_no = (char *)no;
	ev.step = "awaiting_customer";
	ev.reason = "information_requested";
	ev.owner_staff_id = (char *)k->owner;
	if (insert_message(c, k->id, author, question, msg_id) != 0 ||
	    pg_exec(c, "UPDATE cases SET awaiting_customer = true WHERE complaint_id = $1", 1,
		    (const char *[]){k->id}) != 0 ||
	    fu_history(c, k->id, "cp.complaint.awaiting_customer", NULL) != 0 ||
	    fu_announce(c, "cp.complaint.awaiting_customer", &ev) != 0)
		return -1;
	v.text = question;
	long long note_id;
	char sent[2048], detail[200];
	if (fu_notify_by(c, k->id, "awaiting_customer", atoi(msg_id), &v, staff_id, &note_id, sent,
			 sizeof(sent)) != 0)
		return -1;
	/* a question sent from the case is a person's real contact with the customer; the event
	 * carries the person's words (the rendered text holds the complaint number, which the
	 * phone redaction would mangle) */
	snprintf(detail, sizeof(detail),
		 "{\"contact_kind\":\"message\",\"by\":\"%.60s\",\"notification_id\":%lld,"
		 "\"question\":true}",
		 staff_id, note_id);
	const struct fu_contact ct = {
	    .kind = "message", .text = question, .redact = true, .detail_json = detail};
	return fu_contacted(c, k, staff_id, &ct);
}

void fu_post_await(struct http_req *r, void *arg)
{
	struct auth_principal who;
	struct fu_case_lock k;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r), *errors = json_array();
	if (!body) {
		json_decref(errors);
		return;
	}
	const char *question = text_field(body, "question", TEXT_MAX, errors);
	if (!question) {
		http_reply_fields(r, 422, "validation_failed", errors);
		goto out;
	}
	json_decref(errors);
	if (fu_lock_case(r, &k) != 0)
		goto out;
	/* asking the customer is casework: the owner's or a supervisor's */
	if (fu_require_actor(r, &who, &k) != 0)
		goto out;
	if (strcmp(k.status, "closed") == 0) {
		pg_rollback(r->db);
		http_reply_error(r, 409, "conflict", "the case is closed");
		goto out;
	}
	if (await_customer(r->db, &k, r->params[0], who.staff_id, question) != 0) {
		fu_fail_db(r);
		goto out;
	}
	fu_finish(r, 202, json_pack("{s:s, s:b}", "complaint_no", r->params[0], "awaiting", 1));
out:
	json_decref(body);
}

/* ---- templates ---------------------------------------------------------------------------- */

static const char *const template_steps[] = {
    "received",	     "first_response", "owner_assigned",    "evidence_found",
    "plan_proposed", "plan_executed",  "awaiting_customer", "reopened",
    "closed",	     "appeal",	       "customer_replied",  "delay_notice"};

static bool known_step(const char *s)
{
	for (size_t i = 0; i < sizeof(template_steps) / sizeof(template_steps[0]); i++)
		if (strcmp(s, template_steps[i]) == 0)
			return true;
	return false;
}

static void reply_query_json(struct http_req *r, const char *sql, int n, const char *const *p)
{
	PGresult *res = pg_query(r->db, sql, n, p);
	json_t *obj = res && PQntuples(res) ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
	PQclear(res);
	if (!obj)
		return http_reply_error(r, 500, "internal", "database error");
	http_reply_json(r, 200, obj);
}

void fu_get_templates(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	reply_query_json(
	    r,
	    "SELECT json_build_object('templates', coalesce(json_agg(json_build_object("
	    "'step', step, 'language', language, 'body', body, 'updated_by', "
	    "updated_by, 'updated_at', updated_at) ORDER BY step, language), '[]'))::text "
	    "FROM templates",
	    0, NULL);
}

/* The template before a change, for the audit trail. */
#define TEMPLATE_SNAPSHOT                                                                          \
	"SELECT json_build_object('step', step, 'language', language, 'body', body) FROM "         \
	"templates WHERE step = $1 AND language = $2"

/* One admin-set text per (code, language): a template's body or a delay reason's phrase. The
 * change and its audit row (before and after) commit together; replies 200 with the row. */
struct phrase_table {
	const char *entity;	  /* the table, also the audit's entity */
	const char *code, *text;  /* the JSON names of the key and the text */
	const char *snapshot_sql; /* the row as JSON, by ($1 code, $2 language) */
	const char *upsert_sql;	  /* ($1 code, $2 language, $3 text, $4 updated_by) */
};

static void put_phrase(struct http_req *r, const struct auth_principal *who,
		       const struct phrase_table *t, const char *code, const char *lang,
		       const char *text)
{
	int failed = 0;
	const char *p[] = {code, lang, text, who->staff_id};
	char key[64];
	snprintf(key, sizeof(key), "%s/%s", code, lang);
	json_t *before = NULL, *after = json_pack("{s:s, s:s, s:s}", t->code, code, "language",
						  lang, t->text, text);
	if (pg_begin(r->db) != 0 ||
	    (before = audit_snapshot(r->db, t->snapshot_sql, 2, p, &failed), failed) ||
	    audit_record(r->db, who->staff_id, t->entity, key, before, after) != 0 ||
	    pg_exec(r->db, t->upsert_sql, 4, p) != 0 || pg_commit(r->db) != 0) {
		http_reply_db_error(r);
	} else {
		json_object_set_new(after, "updated_by", json_string(who->staff_id));
		http_reply_json(r, 200, json_incref(after));
	}
	json_decref(before);
	json_decref(after);
}

static const struct phrase_table templates_table = {
    "templates", "step", "body", TEMPLATE_SNAPSHOT,
    "INSERT INTO templates (step, language, body, updated_by) VALUES ($1, $2, $3, $4) ON "
    "CONFLICT (step, language) DO UPDATE SET body = EXCLUDED.body, updated_by = "
    "EXCLUDED.updated_by, updated_at = now()"};

void fu_put_template(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r), *errors = json_array();
	if (!body) {
		json_decref(errors);
		return;
	}
	const char *step = json_string_value(json_object_get(body, "step"));
	const char *lang = json_string_value(json_object_get(body, "language"));
	if (!step || !known_step(step))
		json_array_append_new(errors, http_field("step", "one of the notification steps"));
	if (!lang || (strcmp(lang, "zh-CN") != 0 && strcmp(lang, "en") != 0))
		json_array_append_new(errors, http_field("language", "zh-CN or en"));
	const char *text = text_field(body, "body", TEXT_MAX, errors);
	if (json_array_size(errors)) {
		http_reply_fields(r, 422, "validation_failed", errors);
		goto out;
	}
	json_decref(errors);
	put_phrase(r, &who, &templates_table, step, lang, text);
out:
	json_decref(body);
}

/* ---- delay reasons ------------------------------------------------------------------------ */

void fu_get_delay_reasons(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	reply_query_json(
	    r,
	    "SELECT json_build_object('delay_reasons', coalesce(json_agg(json_build_object("
	    "'code', code, 'language', language, 'text', text, 'updated_by', updated_by, "
	    "'updated_at', updated_at) ORDER BY code, language), '[]'))::text FROM delay_reasons",
	    0, NULL);
}

#define DELAY_REASON_SNAPSHOT                                                                      \
	"SELECT json_build_object('code', code, 'language', language, 'text', text) FROM "         \
	"delay_reasons WHERE code = $1 AND language = $2"

/* A customer reads the phrase inside the delay notice ("Reason: <text>."), so it is short
 * (400 bytes, the table's CHECK) and one line: a newline or a template placeholder would break the
 * message it is put into. */
#define DELAY_REASON_TEXT_MAX 400

static const struct phrase_table delay_reasons_table = {
    "delay_reasons", "code", "text", DELAY_REASON_SNAPSHOT,
    "INSERT INTO delay_reasons (code, language, text, updated_by) VALUES ($1, $2, $3, $4) ON "
    "CONFLICT (code, language) DO UPDATE SET text = EXCLUDED.text, updated_by = "
    "EXCLUDED.updated_by, updated_at = now()"};

void fu_put_delay_reason(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r), *errors = json_array();
	if (!body) {
		json_decref(errors);
		return;
	}
	const char *code = json_string_value(json_object_get(body, "code"));
	const char *lang = json_string_value(json_object_get(body, "language"));
	if (!fu_delay_reason_code_valid(code))
		json_array_append_new(
		    errors, http_field("code", "the carrier's code: 1-40 of a-z, 0-9, _"));
	if (!lang || (strcmp(lang, "zh-CN") != 0 && strcmp(lang, "en") != 0))
		json_array_append_new(errors, http_field("language", "zh-CN or en"));
	const char *text = text_field(body, "text", DELAY_REASON_TEXT_MAX, errors);
	if (text && (strpbrk(text, "\r\n{}") != NULL))
		json_array_append_new(errors,
				      http_field("text", "one line, without { or } (it is put into "
							 "the delay_notice template)"));
	if (json_array_size(errors)) {
		http_reply_fields(r, 422, "validation_failed", errors);
		goto out;
	}
	json_decref(errors);
	put_phrase(r, &who, &delay_reasons_table, code, lang, text);
out:
	json_decref(body);
}

void fu_get_notifications(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	char *no = http_req_query(r, "complaint_no");
	if (!no || !no[0] || strlen(no) > 40) {
		free(no);
		return http_reply_fields(
		    r, 422, "validation_failed",
		    json_pack("[{s:s, s:s}]", "field", "complaint_no", "problem", "required"));
	}
	const char *p[] = {no};
	reply_query_json(
	    r,
	    "SELECT json_build_object('complaint_no', $1::text, 'notifications', "
	    "coalesce(json_agg(json_build_object('id', id, 'step', step, 'round', round, "
	    "'recipient', recipient, 'language', language, 'status', status, 'channel', "
	    "channel, 'attempts', attempts, 'last_error', last_error, 'created_at', "
	    "created_at, 'next_attempt_at', next_attempt_at, 'delivered_at', delivered_at, "
	    "'response_status', response_status, 'response_excerpt', response_excerpt) "
	    "ORDER BY id), '[]'))::text FROM notifications WHERE complaint_no = $1",
	    1, p);
	free(no);
}

/* ---- statistics --------------------------------------------------------------------------- */

static char *time_param(struct http_req *r, const char *name, int64_t def_ms, json_t *errors)
{
	char *v = http_req_query(r, name), buf[TSTAMP_LEN];
	int64_t ms;
	if (!v) {
		tstamp_format(def_ms, buf);
		return strdup(buf);
	}
	if (tstamp_parse(v, &ms) != 0)
		json_array_append_new(errors, http_field(name, "an RFC 3339 time"));
	return v;
}

static char *filter_param(struct http_req *r, const char *name, json_t *errors)
{
	char *v = http_req_query(r, name);
	if (v && strlen(v) > 64)
		json_array_append_new(errors, http_field(name, "at most 64 bytes"));
	return v ? v : strdup("");
}

void fu_get_stats(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *errors = json_array();
	int64_t now = tstamp_now_ms();
	char *from = time_param(r, "from", now - 30LL * 86400000, errors);
	char *to = time_param(r, "to", now + 1000, errors);
	char *outlet = filter_param(r, "outlet", errors),
	     *cat = filter_param(r, "category", errors);
	char *agent = filter_param(r, "agent", errors);
	if (json_array_size(errors)) {
		http_reply_fields(r, 422, "validation_failed", errors);
		goto out;
	}
	json_decref(errors);
	char *text = fu_stats_json(r->db, from, to, outlet, cat, agent);
	json_t *obj = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (!obj)
		http_reply_error(r, 500, "internal", "database error");
	else
		http_reply_json(r, 200, obj);
out:
	free(from);
	free(to);
	free(outlet);
	free(cat);
	free(agent);
}
