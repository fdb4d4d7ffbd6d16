/* The case projection, its history, the notification outbox and closure. Every function runs
 * inside the caller's transaction. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "followup.h"
#include "followup.pb-c.h"
#include "log.h"
#include "outbox.h"
#include "pg.h"
#include "topics.h"
#include "tstamp.h"

struct followup_config followup_cfg;

int fu_case_ensure(PGconn *c, const char *id, const char *no)
{
	const char *p[] = {id, no};
	return pg_exec(c,
		       "INSERT INTO cases (complaint_id, complaint_no) VALUES ($1, $2) ON CONFLICT "
		       "(complaint_id) DO NOTHING",
		       2, p);
}

int fu_history(PGconn *c, const char *id, const char *ce_type, const char *detail_json)
{
	const char *p[] = {id, ce_type, detail_json ? detail_json : "{}"};
	return pg_exec(c,
		       "INSERT INTO case_events (complaint_id, ce_type, detail) VALUES ($1, $2, "
		       "$3::jsonb)",
		       3, p);
}

int fu_case_event(PGconn *c, const char *id, const char *no, const char *ce_type,
		  const char *detail_json)
{
	const char *p[] = {id, no, ce_type, detail_json ? detail_json : "{}"};
	/* fu_case_ensure and fu_history in one round trip: the case row and the history row are
	 * independent, and a handler's update of the case comes after this either way */
	return pg_exec(
	    c,
	    "WITH k AS (INSERT INTO cases (complaint_id, complaint_no) VALUES ($1, $2) ON "
	    "CONFLICT (complaint_id) DO NOTHING) INSERT INTO case_events (complaint_id, "
	    "ce_type, detail) VALUES ($1, $3, $4::jsonb)",
	    4, p);
}

/* clang-format off */
static const char case_events_set_sql[] =
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH "
    "ORDINALITY AS u (id, no, t, d, o)), "
    "k AS (INSERT INTO cases (complaint_id, complaint_no) SELECT DISTINCT ON (id) id::uuid, no "
    "FROM u ORDER BY id, o ON CONFLICT (complaint_id) DO NOTHING) "
    "INSERT INTO case_events (complaint_id, ce_type, detail) SELECT id::uuid, t, d::jsonb FROM u "
    "ORDER BY o";
/* clang-format on */

int fu_case_events_set(PGconn *c, const char *const *cells, size_t n)
{
	if (n == 0)
		return 0;
	/* the history rows in the set's order: their ids order a case's archived timeline */
	PGresult *r = pg_query_columns(c, "fu_case_events_set", case_events_set_sql, 4, n, cells);
	PQclear(r);
	return r ? 0 : -1;
}

int fu_history_set(PGconn *c, const char *const *cells, size_t n)
{
	if (n == 0)
		return 0;
	PGresult *r = pg_query_columns(
	    c, "fu_history_set",
	    "INSERT INTO case_events (complaint_id, ce_type, detail) SELECT u.id::uuid, u.t, "
	    "u.d::jsonb FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u (id, "
	    "t, d, o) ORDER BY u.o",
	    3, n, cells);
	PQclear(r);
	return r ? 0 : -1;
}

char *fu_survey_url(const char *no)
{
	char token[33], *url = NULL;
	if (auth_customer_token(followup_cfg.link_secret, no, token) != 0)
		return NULL;
	/* the console's survey page (a GET the customer can open); it posts to the survey API */
	if (asprintf(&url, "%s/c/survey/%s?token=%s", followup_cfg.public_base_url, no, token) < 0)
		return NULL;
	return url;
}

/* The template body of step in language, falling back to zh-CN. Caller frees. */
static char *template_body(PGconn *c, const char *step, const char *language)
{
	const char *p[] = {step, language};
	PGresult *r = pg_query(c,
			       "SELECT body FROM templates WHERE step = $1 AND language IN ($2, "
			       "'zh-CN') ORDER BY language = $2 DESC LIMIT 1",
			       2, p);
	if (!r)
		return NULL;
	char *body = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : FU_DEFAULT_TEMPLATE);
	PQclear(r);
	return body;
}

struct fu_case_row {
	char no[40];
	char customer_ref[40];
	char language[8];
	int reopen_count;
};

static int case_row(PGconn *c, const char *id, struct fu_case_row *k)
{
	const char *p[] = {id};
	PGresult *r =
	    pg_query(c,
		     "SELECT complaint_no, customer_ref, language, reopen_count FROM cases "
		     "WHERE complaint_id = $1",
		     1, p);
	if (!r)
		return -1;
	int found = PQntuples(r) == 1;
	if (found) {
		snprintf(k->no, sizeof(k->no), "%s", PQgetvalue(r, 0, 0));
		snprintf(k->customer_ref, sizeof(k->customer_ref), "%s", PQgetvalue(r, 0, 1));
		snprintf(k->language, sizeof(k->language), "%s", PQgetvalue(r, 0, 2));
		k->reopen_count = atoi(PQgetvalue(r, 0, 3));
	}
	PQclear(r);
	return found ? 0 : -1;
}

char *fu_vars_json(const struct fu_vars *v)
{
	json_t *o = json_object();
	const char *names[] = {"owner", "plan",		  "survey_url",
			       "text",	"next_update_by", "merged_into"};
	const char *values[] = {v->owner, v->plan,	     v->survey_url,
				v->text,  v->next_update_by, v->merged_into};
	for (int i = 0; i < 6; i++)
		if (values[i])
			json_object_set_new(o, names[i], json_string(values[i]));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

int fu_render_vars(const char *tmpl, const char *appeal, const char *no, const char *vars_text,
		   char *out, size_t cap)
{
	json_t *vars = json_loads(vars_text ? vars_text : "{}", 0, NULL);
	if (!vars)
		return -1;
	struct fu_vars v = {
	    .complaint_no = no,
	    .owner = json_string_value(json_object_get(vars, "owner")),
	    .plan = json_string_value(json_object_get(vars, "plan")),
	    .survey_url = json_string_value(json_object_get(vars, "survey_url")),
	    .appeal = appeal,
	    .text = json_string_value(json_object_get(vars, "text")),
	    .next_update_by = json_string_value(json_object_get(vars, "next_update_by")),
	    .merged_into = json_string_value(json_object_get(vars, "merged_into")),
	};
	fu_render(tmpl, &v, out, cap);
	json_decref(vars);
	return 0;
}

int fu_render_step(PGconn *c, const char *step, const char *language, const char *no,
		   const char *vars_text, char *out, size_t cap)
{
	char *tmpl = template_body(c, step, language);
	char *appeal = template_body(c, "appeal", language);
	int rc = tmpl && appeal ? fu_render_vars(tmpl, appeal, no, vars_text, out, cap) : -1;
	free(tmpl);
	free(appeal);
	return rc;
}

/* Inserts the message (at most one per case, step and round). sent_by is "" for the
 * automatic steps, else the staff id. When out is given it receives the new row's id and the
 * rendered text, or id 0 when the step and round were queued before. */
struct fu_queued {
	long long id;
	char text[2048];
};

static int queue(PGconn *c, const char *id, const struct fu_case_row *k, const char *recipient,
		 const char *step, int round, const struct fu_vars *v, int64_t release_ms,
		 const char *sent_by, struct fu_queued *out)
{
	char rnd[16], at[TSTAMP_LEN], body[2048];
	char *vars = fu_vars_json(v);
	if (!vars || fu_render_step(c, step, k->language, k->no, vars, body, sizeof(body)) != 0) {
		free(vars);
		return -1;
	}
	snprintf(rnd, sizeof(rnd), "%d", round);
	tstamp_format(release_ms, at);
	const char *p[] = {id, k->no, k->customer_ref, recipient, step, rnd, k->language, body,
			   at, vars,  sent_by};
	PGresult *r = pg_query(
	    c,
	    "INSERT INTO notifications (complaint_id, complaint_no, customer_ref, "
	    "recipient, step, round, language, body, next_attempt_at, vars, sent_by) VALUES ($1, "
	    "$2, $3, $4, $5, $6, $7, $8, $9::timestamptz, $10::jsonb, $11) ON CONFLICT DO NOTHING "
	    "RETURNING id",
	    11, p);
	free(vars);
	if (!r)
		return -1;
	if (PQntuples(r))
		fu_delivery_queued_now();
	if (out) {
		out->id = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : 0;
		snprintf(out->text, sizeof(out->text), "%s", body);
	}
	PQclear(r);
	return 0;
}

static int64_t release_time(bool exempt)
{
	int64_t now = tstamp_now_ms();
	return exempt ? now
		      : fu_quiet_release(now, (int)followup_cfg.quiet_start_min,
					 (int)followup_cfg.quiet_end_min,
					 (int)followup_cfg.quiet_utc_offset_min);
}

int fu_case_awaits_complainant(PGconn *c, const char *id)
{
	const char *p[] = {id};
	PGresult *r = pg_query(
	    c,
	    "SELECT 1 FROM cases k WHERE complaint_id = $1 AND channel = 'proactive' AND NOT "
	    "EXISTS (SELECT 1 FROM case_events e WHERE e.complaint_id = k.complaint_id AND "
	    "e.ce_type = 'cp.complaint.message_added' AND e.detail->>'kind' = 'adopted')",
	    1, p);
	if (!r)
		return -1;
	int waits = PQntuples(r) > 0;
	PQclear(r);
	return waits;
}

int fu_note_customer(struct fu_note_req *q, const char *id, const char *step, int round,
		     const struct fu_vars *vars, bool exempt)
{
	*q = (struct fu_note_req){.complaint_id = id, .step = step, .round = round, .event_id = ""};
	tstamp_format(release_time(exempt), q->release);
	q->vars = fu_vars_json(vars);
	return q->vars ? 0 : -1;
}

void fu_note_reqs_free(struct fu_note_req *q, size_t n)
{
	for (size_t i = 0; q && i < n; i++)
		free(q[i].vars);
}

/* clang-format off */
/* the case row and the two template bodies (the step's and the appeal's, in the message's
 * language, else zh-CN: template_body's choice) of every message, in the set's order */
static const char notify_lookup_sql[] =
    "SELECT k.complaint_no, k.customer_ref, x.l, k.reopen_count, k.owner_staff_id, "
    "k.channel = 'proactive' AND NOT EXISTS (SELECT 1 FROM case_events e WHERE e.complaint_id = "
    "k.complaint_id AND e.ce_type = 'cp.complaint.message_added' AND e.detail->>'kind' = "
    "'adopted'), "
    "(SELECT t.body FROM templates t WHERE t.step = u.step AND t.language IN (x.l, 'zh-CN') "
    "ORDER BY t.language = x.l DESC LIMIT 1), "
    "(SELECT t.body FROM templates t WHERE t.step = 'appeal' AND t.language IN (x.l, 'zh-CN') "
    "ORDER BY t.language = x.l DESC LIMIT 1) "
    "FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u (id, step, lang, o) "
    "LEFT JOIN cases k ON k.complaint_id = u.id::uuid "
    "CROSS JOIN LATERAL (SELECT coalesce(NULLIF(u.lang, ''), k.language) AS l) x ORDER BY u.o";

/* queue()'s and fu_staff_notify's insert for a set: the customer's rows carry their release
 * time, the staff's are due now (the column's default) */
static const char notify_insert_sql[] =
    "INSERT INTO notifications (complaint_id, complaint_no, customer_ref, recipient, step, "
    "round, language, body, next_attempt_at, vars, sent_by, event_id) SELECT u.id::uuid, u.no, "
    "u.ref, u.rcpt, u.step, u.rnd::int, u.lang, u.body, coalesce(NULLIF(u.at, "
    "'')::timestamptz, now()), u.vars::jsonb, '', u.ev FROM unnest($1::text[], $2::text[], "
    "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], "
    "$10::text[], $11::text[]) WITH ORDINALITY AS u (id, no, ref, rcpt, step, rnd, lang, body, "
    "at, vars, ev, o) ORDER BY u.o ON CONFLICT DO NOTHING RETURNING id";
/* clang-format on */

enum { FU_NOTE_NCOLS = 11 };

/* One message of the set rendered into its insert row (skipped: no row). */
struct fu_note_row {
	bool skip;
	char recipient[80], rnd[16], body[2048];
};

static int note_render(const PGresult *r, int i, const struct fu_note_req *q, struct fu_note_row *w,
		       const char **v)
{
	if (PQgetisnull(r, i, 0))
		return -1; /* no case: fu_notify's case_row fails the same way */
	bool customer = !q->staff_id && !q->to_owner;
	const char *ref = PQgetvalue(r, i, 1), *owner = PQgetvalue(r, i, 4);
	/* fu_notify: nobody to write to; first_response: a case nobody complained about;
	 * fu_staff_on_sla: an unowned case's owner is nobody */
	w->skip = (customer && strcmp(ref, "proactive") == 0) ||
		  (q->unless_awaiting && strcmp(PQgetvalue(r, i, 5), "t") == 0) ||
		  (q->to_owner && !owner[0]);
	if (w->skip)
		return 0;
	const char *staff = q->to_owner ? owner : q->staff_id;
	if (customer)
		snprintf(w->recipient, sizeof(w->recipient), "customer");
	else
		snprintf(w->recipient, sizeof(w->recipient), "staff:%s",
			 staff[0] ? staff : "unassigned");
	snprintf(w->rnd, sizeof(w->rnd), "%d", q->round < 0 ? atoi(PQgetvalue(r, i, 3)) : q->round);
	const char *tmpl = PQgetisnull(r, i, 6) ? FU_DEFAULT_TEMPLATE : PQgetvalue(r, i, 6);
	const char *appeal = PQgetisnull(r, i, 7) ? FU_DEFAULT_TEMPLATE : PQgetvalue(r, i, 7);
	if (fu_render_vars(tmpl, appeal, PQgetvalue(r, i, 0), q->vars, w->body, sizeof(w->body)) !=
	    0)
		return -1;
	const char *row[FU_NOTE_NCOLS] = {q->complaint_id,
					  PQgetvalue(r, i, 0),
					  customer ? ref : "",
					  w->recipient,
					  q->step,
					  w->rnd,
					  PQgetvalue(r, i, 2),
					  w->body,
					  customer ? q->release : "",
					  q->vars,
					  q->event_id};
	memcpy(v, row, sizeof(row));
	return 0;
}

int fu_notify_set(PGconn *c, const struct fu_note_req *q, size_t n)
{
	if (n == 0)
		return 0;
	const char **key = malloc(3 * n * sizeof(*key));
	const char **cells = malloc(FU_NOTE_NCOLS * n * sizeof(*cells));
	struct fu_note_row *w = malloc(n * sizeof(*w));
	PGresult *r = NULL, *ins = NULL;
	size_t rows = 0;
	int rc = -1;
	if (!key || !cells || !w)
		goto done;
	for (size_t i = 0; i < n; i++) {
		key[3 * i] = q[i].complaint_id;
		key[3 * i + 1] = q[i].step;
		key[3 * i + 2] = q[i].language ? q[i].language : "";
	}
	r = pg_query_columns(c, "fu_notify_lookup_set", notify_lookup_sql, 3, n, key);
	if (!r || PQntuples(r) != (int)n)
		goto done;
	for (size_t i = 0; i < n; i++) {
		if (note_render(r, (int)i, &q[i], &w[i], cells + FU_NOTE_NCOLS * rows) != 0)
			goto done;
		rows += !w[i].skip;
	}
	rc = 0;
	if (rows > 0) {
		ins = pg_query_columns(c, "fu_notify_insert_set", notify_insert_sql, FU_NOTE_NCOLS,
				       rows, cells);
		rc = ins ? 0 : -1;
		if (ins && PQntuples(ins) > 0)
			fu_delivery_queued_now();
	}
done:
	PQclear(r);
	PQclear(ins);
	free(key);
	free(cells);
	free(w);
	return rc;
}

int fu_notify(PGconn *c, const char *id, const char *step, int round, const struct fu_vars *vars,
	      bool exempt)
{
	struct fu_case_row k;
	if (case_row(c, id, &k) != 0)
		return -1;
	/* a proactive case whose parcel named no recipient and that nobody adopted yet: there is
	 * nobody to write to (the pseudonym "proactive" is no person) */
	if (strcmp(k.customer_ref, "proactive") == 0)
		return 0;
	return queue(c, id, &k, "customer", step, round < 0 ? k.reopen_count : round, vars,
		     release_time(exempt), "", NULL);
}

int fu_notify_by(PGconn *c, const char *id, const char *step, int round, const struct fu_vars *vars,
		 const char *staff_id, long long *notification_id, char *text, size_t textcap)
{
	struct fu_case_row k;
	struct fu_queued q;
	if (case_row(c, id, &k) != 0 ||
	    queue(c, id, &k, "customer", step, round, vars, release_time(false), staff_id, &q) != 0)
		return -1;
	*notification_id = q.id;
	snprintf(text, textcap, "%s", q.text);
	return 0;
}

int fu_notify_staff(PGconn *c, const char *id, const char *staff_id, const char *step, int round)
{
	struct fu_case_row k;
	struct fu_vars v = {0};
	char recipient[80];
	if (case_row(c, id, &k) != 0)
		return -1;
	snprintf(recipient, sizeof(recipient), "staff:%s", staff_id[0] ? staff_id : "unassigned");
	snprintf(k.language, sizeof(k.language), "en");
	return queue(c, id, &k, recipient, step, round, &v, tstamp_now_ms(), "", NULL);
}

int fu_announce(PGconn *c, const char *ce_type, void *event)
{
	Cp__FollowupEvent *ev = event;
	char now[TSTAMP_LEN];
	tstamp_format(tstamp_now_ms(), now);
	if (!ev->at || !ev->at[0])
		ev->at = now;
	return outbox_add(c, TOPIC_FOLLOWUP, ev->complaint_id, ce_type, &ev->base, NULL);
}

static int archive(PGconn *c, const char *id)
{
	const char *p[] = {id};
	return pg_exec(
	    c,
	    "INSERT INTO archives (complaint_id, complaint_no, closed_at, close_reason, "
	    "timeline) SELECT k.complaint_id, k.complaint_no, k.closed_at, k.close_reason, "
	    "coalesce((SELECT jsonb_agg(jsonb_build_object('type', e.ce_type, 'at', e.at, "
	    "'detail', e.detail) ORDER BY e.id) FROM case_events e WHERE e.complaint_id = "
	    "k.complaint_id), '[]') FROM cases k WHERE k.complaint_id = $1 ON CONFLICT "
	    "(complaint_id) DO UPDATE SET closed_at = EXCLUDED.closed_at, close_reason = "
	    "EXCLUDED.close_reason, timeline = EXCLUDED.timeline, archived_at = now()",
	    1, p);
}

int fu_close(PGconn *c, const char *id, const struct fu_closure *cl)
{
	const char *merged = cl->merged_into ? cl->merged_into : "";
	const char *actor = cl->actor ? cl->actor : "";
	const char *p[] = {id, cl->reason, actor, merged, cl->note ? cl->note : ""};
	PGresult *r = pg_query(
	    c,
	    "UPDATE cases SET status = 'closed', closed_at = now(), close_reason = $2, closed_by "
	    "= $3, merged_into = $4, close_note = $5, survey_due_at = NULL, next_update_by = "
	    "NULL, updated_at = now() WHERE complaint_id = $1 AND status <> 'closed' RETURNING "
	    "complaint_no, owner_staff_id",
	    5, p);
	if (!r)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 1;
	}
	char no[40], owner[64];
	snprintf(no, sizeof(no), "%s", PQgetvalue(r, 0, 0));
	snprintf(owner, sizeof(owner), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	Cp__FollowupEvent ev = CP__FOLLOWUP_EVENT__INIT;
	struct fu_vars v = {.merged_into = merged};
	ev.complaint_id = (char *)id;
	ev.complaint_no = no;
	ev.step = "closed";
	ev.close_reason = (char *)cl->reason;
	ev.actor_staff_id = (char *)actor;
	ev.owner_staff_id = owner;
	ev.merged_into = (char *)merged;
	json_t *detail = json_pack("{s:s, s:s, s:s}", "close_reason", cl->reason, "by", actor,
				   "merged_into", merged);
	char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	json_decref(detail);
	log_msg(LOG_INFO, "case_closed",
		LOG_KV({"complaint_no", no}, {"close_reason", cl->reason}, {"actor", actor}),
		"case closed");
	int rc = text && fu_history(c, id, "cp.complaint.closed", text) == 0 &&
			 fu_announce(c, "cp.complaint.closed", &ev) == 0 &&
			 fu_notify(c, id, fu_close_step(cl->reason), -1, &v, false) == 0 &&
			 archive(c, id) == 0
		     ? 0
		     : -1;
	free(text);
	return rc;
}

/* The survey goes out once both hold: a plan a person decided was executed, and, for
 * service, attitude and pricing complaints, a person has answered the customer. Only a case
 * surveyed this way may later be closed by survey silence (the close task). */
int fu_survey_open(PGconn *c, const char *id)
{
	char due[24];
	snprintf(due, sizeof(due), "%lld", followup_cfg.survey_timeout_s);
	const char *p[] = {id, due};
	PGresult *r = pg_query(
	    c,
	    "UPDATE cases SET status = 'resolved', survey_due_at = now() + make_interval(secs => "
	    "$2::int), updated_at = now() WHERE complaint_id = $1 AND status NOT IN ('closed', "
	    "'resolved') AND executed_at IS NOT NULL AND decided_by_person AND (NOT "
	    "needs_person_answer OR first_contact_at IS NOT NULL) RETURNING complaint_no",
	    2, p);
	if (!r)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 0;
	}
	char *url = fu_survey_url(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!url)
		return -1;
	struct fu_vars v = {.survey_url = url};
	int rc = fu_notify(c, id, "plan_executed", -1, &v, false);
	free(url);
	return rc == 0 ? 1 : -1;
}
