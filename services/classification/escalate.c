/* The escalation ladder. An escalation names a PERSON who is available, never only a role:
 * level 1 the outlet manager of the case's outlet, level 2 a regional supervisor of that
 * outlet's region, level 3 HQ. Unavailable or excluded people are skipped (the next person
 * at that level, else the next level). Three roads lead here: offer rounds exhausted
 * (offers.c), an SLA breach from the timer (complaint.sla.v1, cp.complaint.sla_breached) and
 * a person escalating by hand (POST /v1/complaints/{no}/escalate).
 *
 * While nobody owns the case the person escalated to is offered it too, so they can accept
 * it or hand it on; an owned case keeps its owner and the person is told (the event). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "classification.h"
#include "evidence.pb-c.h"
#include "log.h"
#include "ownership.h"
#include "pg.h"
#include "sla.pb-c.h"
#include "tstamp.h"

#define ESC_MAX_PEOPLE 200

static const char *const esc_roles[] = {"", "outlet_manager", "regional_supervisor", "hq"};

const char *escalation_role_name(int level)
{
	return level >= ESC_LEVEL_OUTLET && level <= ESC_LEVEL_HQ ? esc_roles[level] : "";
}

int escalation_level_of_role(const char *role)
{
	for (int level = ESC_LEVEL_OUTLET; role && level <= ESC_LEVEL_HQ; level++)
		if (strcmp(role, esc_roles[level]) == 0)
			return level;
	return 0;
}

/* Whether p stands on the given rung of this case's ladder. */
static bool on_rung(const struct esc_person *p, int level, const char *outlet, const char *region)
{
	if (p->level != level)
		return false;
	if (level == ESC_LEVEL_OUTLET)
		return outlet && outlet[0] && strcmp(p->outlet_id, outlet) == 0;
	if (level == ESC_LEVEL_REGION)
		return region && region[0] && strcmp(p->region_id, region) == 0;
	return true;
}

int escalation_pick(const struct esc_person *people, size_t n, int from_level, const char *outlet,
		    const char *region, int *level)
{
	if (from_level < ESC_LEVEL_OUTLET)
		from_level = ESC_LEVEL_OUTLET;
	for (int l = from_level; l <= ESC_LEVEL_HQ; l++)
		for (size_t i = 0; i < n; i++)
			if (on_rung(&people[i], l, outlet, region) && people[i].available &&
			    !people[i].excluded) {
				*level = l;
				return (int)i;
			}
	*level = 0;
	return -1;
}

/* --- reading the ladder of one case --- */

/* The region an outlet belongs to: what its staff rows say, the manager's word first. */
#define REGION_SQL                                                                                 \
	"SELECT region_id FROM staff WHERE outlet_id = $1 AND coalesce(region_id, '') <> '' "      \
	"ORDER BY (role = 'outlet_manager') DESC, updated_at DESC, staff_id LIMIT 1"

/* The ladder with the region it was read for (the last column, REGION_SQL's answer or ""):
 * one statement where the region and the ladder were two. */
#define LADDER_SQL                                                                                 \
	"WITH r AS (" REGION_SQL ") SELECT staff_id, outlet_id, coalesce(region_id, ''), role, "   \
	"available, EXISTS (SELECT 1 FROM excluded_staff x WHERE x.complaint_id = $2::uuid AND "   \
	"x.staff_id = s.staff_id), coalesce((SELECT region_id FROM r), '') FROM staff s WHERE "    \
	"(role = 'outlet_manager' AND outlet_id = $1) OR (role = 'regional_supervisor' AND "       \
	"region_id = coalesce((SELECT region_id FROM r), '')) OR role = 'hq' ORDER BY staff_id "   \
	"LIMIT 200"

static void person_read(PGresult *res, int i, struct esc_person *p)
{
	snprintf(p->staff_id, sizeof(p->staff_id), "%s", PQgetvalue(res, i, 0));
	snprintf(p->outlet_id, sizeof(p->outlet_id), "%s", PQgetvalue(res, i, 1));
	snprintf(p->region_id, sizeof(p->region_id), "%s", PQgetvalue(res, i, 2));
	p->level = escalation_level_of_role(PQgetvalue(res, i, 3));
	p->available = PQgetvalue(res, i, 4)[0] == 't';
	p->excluded = PQgetvalue(res, i, 5)[0] == 't';
}

int escalation_find(PGconn *c, const struct offers_case *a, int from_level, struct esc_target *to)
{
	char region[64];
	memset(to, 0, sizeof(*to));
	const char *p[] = {a->outlet, a->id};
	PGresult *res = pg_query(c, LADDER_SQL, 2, p);
	if (!res)
		return -1;
	size_t n = (size_t)PQntuples(res);
	/* without a rung to stand on, the region decides nothing */
	snprintf(region, sizeof(region), "%s", n > 0 ? PQgetvalue(res, 0, 6) : "");
	struct esc_person *people = calloc(n ? n : 1, sizeof(*people));
	if (!people) {
		PQclear(res);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		person_read(res, (int)i, &people[i]);
	PQclear(res);
	int i = escalation_pick(people, n, from_level, a->outlet, region, &to->level);
	if (i >= 0)
		snprintf(to->staff_id, sizeof(to->staff_id), "%s", people[i].staff_id);
	else
		to->level = from_level > ESC_LEVEL_HQ ? ESC_LEVEL_HQ : from_level;
	free(people);
	return 0;
}

/* --- recording and announcing --- */

/* Offers the case to staff_id (none when "") as the next round and records the escalation
 * level reached, in one statement (the offer, the round and the level were three). */
static int offer_to(PGconn *c, struct offers_case *a, const char *staff_id, const char *level)
{
	char round[16];
	a->round++;
	snprintf(round, sizeof(round), "%d", a->round);
	const char *o[] = {a->id, staff_id, round, level};
	if (pg_exec(
		c,
		"WITH o AS (INSERT INTO offers (complaint_id, staff_id, round) SELECT $1::uuid, "
		"$2, $3::int WHERE $2 <> '' ON CONFLICT DO NOTHING) UPDATE assignments SET state "
		"= 'escalated', round = $3::int, expires_at = NULL, escalation_level = "
		"greatest(escalation_level, $4::int), escalated_at = now() WHERE complaint_id = "
		"$1::uuid",
		4, o) != 0)
		return -1;
	snprintf(a->state, sizeof(a->state), "escalated");
	return 0;
}

int escalation_apply(PGconn *c, struct offers_case *a, const struct esc_target *to, bool offer,
		     const char *reason, const char *actor)
{
	char level[8];
	snprintf(level, sizeof(level), "%d", to->level);
	const char *u[] = {a->id, level};
	if (offer && strcmp(a->state, "accepted") != 0) {
		if (offer_to(c, a, to->staff_id, level) != 0)
			return -1;
	} else if (pg_exec(c,
			   "UPDATE assignments SET escalation_level = greatest(escalation_level, "
			   "$2::int), escalated_at = now() WHERE complaint_id = $1::uuid",
			   2, u) != 0) {
		return -1;
	}
	a->level = to->level > a->level ? to->level : a->level;
	char *staff[] = {(char *)to->staff_id};
	const struct offers_note n = {.action = "escalated",
				      .ce_type = "cp.complaint.escalated",
				      .staff = staff,
				      .nstaff = to->staff_id[0] ? 1 : 0,
				      .owner = a->owner,
				      .actor = actor,
				      .reason = reason,
				      .level = to->level,
				      .role =
					  to->staff_id[0] ? escalation_role_name(to->level) : ""};
	return offers_announce(c, a, &n);
}

/* --- complaint.sla.v1: a breached clock becomes work for a named person --- */

int escalation_validate_breach(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__SlaEvent *ev = (const void *)m;
	if (strlen(ev->complaint_id) != 36 || !ev->clock[0]) {
		snprintf(errstr, errlen, "complaint_id (a UUID) and clock are required");
		return -1;
	}
	return 0;
}

/* 1 the first time this (complaint, clock, level) is seen, 0 a repeat, -1 on error. */
static int breach_first_seen(PGconn *c, const Cp__SlaEvent *ev, int level)
{
	char lv[8];
	snprintf(lv, sizeof(lv), "%d", level);
	const char *p[] = {ev->complaint_id, ev->clock, lv};
	PGresult *res = pg_query(c,
				 "INSERT INTO sla_escalations (complaint_id, clock, level) VALUES "
				 "($1::uuid, $2, $3::int) ON CONFLICT DO NOTHING RETURNING 1",
				 3, p);
	if (!res)
		return -1;
	int fresh = PQntuples(res) > 0;
	PQclear(res);
	return fresh;
}

static int breach_record(PGconn *c, const Cp__SlaEvent *ev, int level, const char *staff_id)
{
	char lv[8];
	snprintf(lv, sizeof(lv), "%d", level);
	const char *p[] = {ev->complaint_id, ev->clock, lv, staff_id};
	return pg_exec(c,
		       "UPDATE sla_escalations SET staff_id = NULLIF($4, '') WHERE complaint_id = "
		       "$1::uuid AND clock = $2 AND level = $3::int",
		       4, p);
}

/* Whether the breach fired so long ago that nobody should be called for it now: the consumer
 * starts at the earliest offset, so a first deployment would otherwise replay every breach the
 * timer ever fired. An unreadable or missing fired_at counts as fresh. */
static bool breach_stale(const Cp__SlaEvent *ev)
{
	int64_t fired;
	if (!ev->fired_at[0] || tstamp_parse(ev->fired_at, &fired) != 0)
		return false;
	return tstamp_now_ms() - fired > classification_cfg.breach_max_age_s * 1000;
}

int escalation_on_breach(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__SlaEvent *ev = (const void *)m;
	/* level 0 reminds the owner; only levels above it name someone else */
	int level = ev->escalation_level > ESC_LEVEL_HQ ? ESC_LEVEL_HQ : ev->escalation_level;
	if (level < ESC_LEVEL_OUTLET)
		return 0;
	struct offers_case a;
	int found = offers_case_load(c, ev->complaint_id, false, &a);
	if (found <= 0)
		return found;
	int fresh = breach_first_seen(c, ev, level);
	if (fresh <= 0)
		return fresh;
	if (breach_stale(ev)) {
		log_msg(LOG_WARN, "breach_stale",
			LOG_KV({"complaint_no", a.no}, {"clock", ev->clock}),
			"breach fired at %s is older than BREACH_MAX_AGE_SECONDS; not escalated",
			ev->fired_at);
		return 0;
	}
	struct esc_target to;
	char reason[64];
	snprintf(reason, sizeof(reason), "sla_breach:%s", ev->clock);
	if (escalation_find(c, &a, level, &to) != 0 ||
	    breach_record(c, ev, level, to.staff_id) != 0)
		return -1;
	/* nobody accepted in time: the person named may take the case or hand it on */
	bool offer = strcmp(ev->clock, "accept") == 0;
	return escalation_apply(c, &a, &to, offer, reason, NULL);
}

/* --- complaint.evidence_request.v1: an unanswered evidence request goes to the owner's
 * supervisor --- */

int escalation_level_above(const char *role)
{
	int level = escalation_level_of_role(role);
	return level >= ESC_LEVEL_HQ ? 0 : level + 1;
}

int escalation_validate_evidence(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__EvidenceRequest *q = (const void *)m;
	if (strlen(q->complaint_id) != 36 || !q->request_id[0]) {
		snprintf(errstr, errlen, "complaint_id (a UUID) and request_id are required");
		return -1;
	}
	return 0;
}

/* Where the owner's supervisor is found: the owner's own outlet (its manager, its region's
 * supervisor) and the rung above the owner's role. An owner the registry does not know is
 * supervised like an agent of the case's outlet. */
static int owner_ladder(PGconn *c, const char *owner, char *outlet, size_t cap, int *from_level)
{
	const char *p[] = {owner};
	PGresult *res = pg_query(c, "SELECT outlet_id, role FROM staff WHERE staff_id = $1", 1, p);
	if (!res)
		return -1;
	*from_level = ESC_LEVEL_OUTLET;
	if (PQntuples(res) == 1) {
		if (PQgetvalue(res, 0, 0)[0])
			snprintf(outlet, cap, "%s", PQgetvalue(res, 0, 0));
		*from_level = escalation_level_above(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return 0;
}

int escalation_on_evidence_overdue(PGconn *c, const struct ce_meta *ce, const char *key,
				   const ProtobufCMessage *m, char *errstr, size_t errlen,
				   void *arg)
{
	const Cp__EvidenceRequest *q = (const void *)m;
	struct offers_case a, ladder;
	int found = offers_case_load(c, q->complaint_id, false, &a), from = ESC_LEVEL_OUTLET;
	if (found <= 0)
		return found;
	ladder = a;
	if (a.owner[0] &&
	    owner_ladder(c, a.owner, ladder.outlet, sizeof(ladder.outlet), &from) != 0)
		return -1;
	if (from == 0) {
		log_msg(LOG_WARN, "evidence_escalation_top", LOG_KV({"complaint_no", a.no}),
			"the case's owner is HQ: nobody above to escalate the overdue request to");
		return 0;
	}
	struct esc_target to;
	char reason[200];
	snprintf(reason, sizeof(reason), "evidence_overdue:%s:%s", q->kind, q->facility_id);
	if (escalation_find(c, &ladder, from, &to) != 0)
		return -1;
	if (!to.staff_id[0])
		log_msg(LOG_WARN, "evidence_escalation_nobody", LOG_KV({"complaint_no", a.no}),
			"nobody above the owner is available for the overdue evidence request");
	/* the owner keeps the case (the person is told, with why); an unowned case is offered */
	return escalation_apply(c, &a, &to, true, reason, NULL);
}

/* --- POST /v1/complaints/{no}/escalate {"reason"} --- */

enum hand_result { HAND_OK, HAND_UNKNOWN, HAND_NOT_OWNER, HAND_CONFLICT, HAND_TOP, HAND_NOBODY };

static int hand_tx(PGconn *c, const char *no, const struct auth_principal *who, const char *reason,
		   struct esc_target *to)
{
	struct offers_case a;
	int found = offers_case_load(c, no, true, &a);
	if (found <= 0)
		return found < 0 ? -1 : HAND_UNKNOWN;
	int v = conflict_case_verdict(c, a.id, a.state, a.owner, who);
	if (v != AUTH_CASE_OK)
		return v < 0 ? -1 : v == AUTH_CASE_CONFLICT ? HAND_CONFLICT : HAND_NOT_OWNER;
	if (a.level >= ESC_LEVEL_HQ)
		return HAND_TOP;
	if (escalation_find(c, &a, a.level + 1, to) != 0)
		return -1;
	if (!to->staff_id[0])
		return HAND_NOBODY;
	char why[600];
	snprintf(why, sizeof(why), "by_hand: %s", reason);
	return escalation_apply(c, &a, to, true, why, who->staff_id) == 0 ? HAND_OK : -1;
}

static void hand_reply(struct http_req *r, int rc, const char *reason, const struct esc_target *to)
{
	char why[600];
	if (rc < 0)
		http_reply_error(r, 503, "unavailable", "the case could not be escalated; retry");
	else if (rc == HAND_UNKNOWN)
		http_reply_error(r, 404, "not_found", "no case with this complaint number");
	else if (rc == HAND_NOT_OWNER || rc == HAND_CONFLICT)
		auth_case_refuse(r, rc == HAND_CONFLICT ? AUTH_CASE_CONFLICT : AUTH_CASE_NOT_OWNER,
				 "escalate this case");
	else if (rc == HAND_TOP)
		http_reply_error(r, 409, "top_of_ladder", "the case is already escalated to HQ");
	else if (rc == HAND_NOBODY)
		http_reply_error(r, 409, "nobody_available",
				 "nobody above the current level is available");
	else {
		snprintf(why, sizeof(why), "by_hand: %s", reason);
		http_reply_json(r, 200,
				json_pack("{s:s, s:s, s:i, s:s, s:s}", "complaint_no", r->params[0],
					  "escalated_to", to->staff_id, "escalation_level",
					  to->level, "escalated_role",
					  escalation_role_name(to->level), "reason", why));
	}
}

/* The reason a person gives for an action: required, at most ESC_REASON_MAX bytes of UTF-8.
 * NULL (and a field error added) when it is not usable. */
const char *escalation_reason_field(const json_t *body, json_t *errors)
{
	const json_t *v = json_object_get(body, "reason");
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	if (!s || !s[0]) {
		json_array_append_new(errors, http_field("reason", "is required"));
		return NULL;
	}
	if (strlen(s) > ESC_REASON_MAX) {
		json_array_append_new(errors, http_field("reason", "must be at most 500 bytes"));
		return NULL;
	}
	return s;
}

void escalation_by_hand(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *errors = json_array();
	const char *reason = escalation_reason_field(body, errors);
	struct esc_target to = {0};
	if (!reason) {
		http_reply_fields(r, 422, "validation_failed", errors);
		json_decref(body);
		return;
	}
	json_decref(errors);
	int rc = pg_begin(r->db);
	if (rc == 0)
		rc = hand_tx(r->db, r->params[0], &who, reason, &to);
	if (rc == HAND_OK && pg_commit(r->db) != 0)
		rc = -1;
	if (rc != HAND_OK)
		pg_rollback(r->db);
	hand_reply(r, rc, reason, &to);
	json_decref(body);
}
