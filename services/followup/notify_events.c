/* Staff notifications made from events. Staff are told of a new offer (each offered person, at
 * once), an offer that lapsed (re-offered to others), a case accepted or transferred (the new
 * owner), an escalation (each person named, with why), a clock warning or breach (the case's
 * owner), a customer's reply (the owner, with the text), a plan waiting for approval (the
 * case's supervisors) and an evidence request past its due time (the owner).
 *
 * Each is one row of the notification outbox for recipient "staff:<id>" on the staff app,
 * keyed by (case, recipient, step, round, event id): an event applied twice, or a person named
 * twice in one event, is told once. Staff are never held by quiet hours: a breach at night
 * is exactly what an on-duty person must hear. Staff texts carry the complaint number and
 * what happened, never the customer's name or phone (the reply text is redacted again). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "pg.h"
#include "redact.h"

char *fu_staff_vars(const struct fu_vars *v)
{
	json_t *o = json_object();
	if (v && v->text) {
		size_t cap = strlen(v->text) * 2 + 16;
		char *clean = malloc(cap);
		if (!clean) {
			json_decref(o);
			return NULL;
		}
		redact_text(v->text, NULL, "***", clean, cap);
		json_object_set_new(o, "text", json_string(clean));
		free(clean);
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static int fu_staff_case_no(PGconn *c, const char *complaint_id, char no[40])
{
	PGresult *r = pg_query(c, "SELECT complaint_no FROM cases WHERE complaint_id = $1", 1,
			       (const char *[]){complaint_id});
	if (!r)
		return -1;
	int found = PQntuples(r) == 1;
	if (found)
		snprintf(no, 40, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return found ? 0 : -1;
}

int fu_staff_notify(PGconn *c, const char *complaint_id, const char *staff_id, const char *step,
		    int round, const char *event_id, const struct fu_vars *vars)
{
	char no[40], recipient[80], rnd[16], body[2048];
	const char *lang = fu_notify_cfg.staff_language;
	char *json = fu_staff_vars(vars);
	int rc = -1;
	if (!json || fu_staff_case_no(c, complaint_id, no) != 0 ||
	    fu_render_step(c, step, lang, no, json, body, sizeof(body)) != 0)
		goto failed;
	snprintf(recipient, sizeof(recipient), "staff:%s", staff_id[0] ? staff_id : "unassigned");
	snprintf(rnd, sizeof(rnd), "%d", round);
	const char *p[] = {complaint_id, no, recipient, step, rnd, lang, body, json, event_id};
	/* no conflict target: the unique key is (case, recipient, step, round, event id) */
	rc = pg_exec(c,
		     "INSERT INTO notifications (complaint_id, complaint_no, recipient, step, "
		     "round, language, body, vars, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, "
		     "$8::jsonb, $9) ON CONFLICT DO NOTHING",
		     9, p);
	if (rc == 0)
		fu_delivery_queued_now();
failed:
	free(json);
	return rc;
}

int fu_staff_note(struct fu_note_req *q, const char *complaint_id, const char *staff_id,
		  const char *step, int round, const char *event_id, const struct fu_vars *vars)
{
	*q = (struct fu_note_req){.complaint_id = complaint_id,
				  .staff_id = staff_id,
				  .step = step,
				  .round = round,
				  .language = fu_notify_cfg.staff_language,
				  .event_id = event_id};
	q->vars = fu_staff_vars(vars);
	return q->vars ? 0 : -1;
}

static int fu_staff_each(PGconn *c, const struct ce_meta *ce, const Cp__ComplaintAssignment *r,
			 const char *step, const char *text)
{
	struct fu_vars v = {.text = text};
	for (size_t i = 0; i < r->n_staff_ids; i++) {
		if (!r->staff_ids[i][0])
			continue;
		if (fu_staff_notify(c, r->complaint_id, r->staff_ids[i], step, r->round, ce->id,
				    &v) != 0)
			return -1;
	}
	return 0;
}

/* A new round of offers (nobody accepted in time): whoever was offered the case before and is
 * not offered it again learns that their offer lapsed, so nobody opens a dead offer. */
static int fu_staff_offers_expired(PGconn *c, const struct ce_meta *ce,
				   const Cp__ComplaintAssignment *r)
{
	char rnd[16];
	json_t *now = json_array();
	for (size_t i = 0; i < r->n_staff_ids; i++)
		json_array_append_new(now, json_sprintf("staff:%s", r->staff_ids[i]));
	char *list = json_dumps(now, JSON_COMPACT);
	json_decref(now);
	if (!list)
		return -1;
	snprintf(rnd, sizeof(rnd), "%d", r->round);
	const char *p[] = {r->complaint_id, rnd, list};
	PGresult *res =
	    pg_query(c,
		     "SELECT DISTINCT substr(recipient, 7) FROM notifications WHERE "
		     "complaint_id = $1 AND step = 'staff_offered' AND round < $2::int "
		     "AND NOT recipient IN (SELECT jsonb_array_elements_text($3::jsonb))",
		     3, p);
	free(list);
	if (!res)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = fu_staff_notify(c, r->complaint_id, PQgetvalue(res, i, 0),
				     "staff_offer_expired", r->round, ce->id, NULL);
	PQclear(res);
	return rc;
}

int fu_staff_on_assignment(PGconn *c, const struct ce_meta *ce, const Cp__ComplaintAssignment *r)
{
	if (strcmp(ce->type, "cp.complaint.offered") == 0)
		return fu_staff_offers_expired(c, ce, r) != 0
			   ? -1
			   : fu_staff_each(c, ce, r, "staff_offered", NULL);
	if (strcmp(ce->type, "cp.complaint.escalated") == 0)
		return fu_staff_each(c, ce, r, "staff_escalated", r->reason);
	if (strcmp(ce->type, "cp.complaint.assigned") != 0 || !r->owner_staff_id[0])
		return 0;
	struct fu_vars v = {.text = r->reason};
	if (strcmp(r->action, "accepted") == 0)
		return fu_staff_notify(c, r->complaint_id, r->owner_staff_id, "staff_assigned", 0,
				       ce->id, &v);
	if (strcmp(r->action, "reassigned") == 0)
		return fu_staff_notify(c, r->complaint_id, r->owner_staff_id, "staff_transferred",
				       0, ce->id, &v);
	return 0;
}

/* The owner as follow-up's projection knows it now ("" when nobody owns the case). */
static int fu_staff_owner(PGconn *c, const char *complaint_id, char owner[64])
{
	PGresult *r = pg_query(c, "SELECT owner_staff_id FROM cases WHERE complaint_id = $1", 1,
			       (const char *[]){complaint_id});
	if (!r)
		return -1;
	snprintf(owner, 64, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return 0;
}

int fu_staff_on_sla(PGconn *c, const struct ce_meta *ce, const Cp__SlaEvent *r)
{
	const char *step = strcmp(r->kind, "warning") == 0  ? "staff_sla_warning"
			   : strcmp(r->kind, "breach") == 0 ? "staff_sla_breach"
							    : NULL;
	char owner[64];
	if (!step)
		return 0;
	if (fu_staff_owner(c, r->complaint_id, owner) != 0)
		return -1;
	/* an unowned case's breach becomes an escalation naming a person; that one is told */
	if (!owner[0])
		return 0;
	struct fu_vars v = {.text = r->clock};
	return fu_staff_notify(c, r->complaint_id, owner, step, 0, ce->id, &v);
}

/* The person the case's latest escalation named ("" when never escalated). */
static int fu_staff_escalated_to(PGconn *c, const char *complaint_id, char who[64])
{
	PGresult *r = pg_query(c, "SELECT escalated_staff_id FROM cases WHERE complaint_id = $1", 1,
			       (const char *[]){complaint_id});
	if (!r)
		return -1;
	snprintf(who, 64, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return 0;
}

int fu_staff_on_plan_pending(PGconn *c, const struct ce_meta *ce, const Cp__ResolutionDecided *r)
{
	char who[64], list[512], *save = NULL;
	int told = 0;
	if (strcmp(r->status, "pending_approval") != 0)
		return 0;
	if (fu_staff_escalated_to(c, r->complaint_id, who) != 0)
		return -1;
	struct fu_vars v = {.text = r->reason};
	if (who[0] &&
	    fu_staff_notify(c, r->complaint_id, who, "staff_plan_approval", 0, ce->id, &v) != 0)
		return -1;
	told += who[0] != '\0';
	/* the same person in both places is one row: the key is (case, recipient, step, event) */
	snprintf(list, sizeof(list), "%s", fu_notify_cfg.approvers ? fu_notify_cfg.approvers : "");
	for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save), told++)
		if (fu_staff_notify(c, r->complaint_id, t, "staff_plan_approval", 0, ce->id, &v) !=
		    0)
			return -1;
	if (!told)
		log_msg(LOG_WARN, "plan_approver_unknown",
			LOG_KV({"complaint_no", r->complaint_no}),
			"a plan waits for approval and no supervisor is known (set APPROVERS)");
	return 0;
}

int fu_staff_on_evidence_overdue(PGconn *c, const struct ce_meta *ce, const Cp__EvidenceRequest *r)
{
	char owner[64], text[160];
	if (fu_staff_owner(c, r->complaint_id, owner) != 0)
		return -1;
	if (!owner[0])
		return 0;
	snprintf(text, sizeof(text), "%.40s @ %.64s", r->kind, r->facility_id);
	struct fu_vars v = {.text = text};
	return fu_staff_notify(c, r->complaint_id, owner, "staff_evidence_overdue", 0, ce->id, &v);
}
