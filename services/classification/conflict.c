/* Conflict of interest. A complaint about a member of staff (its target, kind courier or
 * agent) must not be handled by that person, and neither by the courier the evidence names
 * as responsible: judging one's own case is the conflict the handbooks forbid. Such people
 * are recorded per complaint in excluded_staff; the candidate query, the escalation ladder,
 * accept, reassign and escalate all consult that table, so one row closes every door.
 *
 * Evidence may name the courier after the case was accepted by that very courier: then the
 * case is taken from them (cp.complaint.assigned, action reassigned, owner "") and offered
 * again to the nearest people not excluded, both steps with reason conflict_of_interest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "classification.h"
#include "evidence.pb-c.h"
#include "log.h"
#include "ownership.h"
#include "pg.h"

#define CONFLICT_REASON "conflict_of_interest"

bool conflict_target_is_staff(const char *kind, const char *id)
{
	return id && id[0] && auth_kind_is_person(kind);
}

int conflict_case_verdict(PGconn *c, const char *complaint_id, const char *state, const char *owner,
			  const struct auth_principal *who)
{
	int excluded = conflict_is_excluded(c, complaint_id, who->staff_id);
	if (excluded < 0)
		return -1;
	/* an offered or escalated case has no owner yet, whatever the row's last owner was */
	return auth_case_verdict(who, strcmp(state, "accepted") == 0 ? owner : "", excluded > 0);
}

int conflict_exclude(PGconn *c, const char *complaint_id, const char *staff_id,
		     enum conflict_reason why)
{
	const char *p[] = {complaint_id, staff_id,
			   why == CONFLICT_TARGET ? "target" : "responsible_courier"};
	PGresult *res =
	    pg_query(c,
		     "INSERT INTO excluded_staff (complaint_id, staff_id, reason) VALUES "
		     "($1::uuid, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
		     3, p);
	if (!res)
		return -1;
	int fresh = PQntuples(res) > 0;
	PQclear(res);
	return fresh;
}

int conflict_is_excluded(PGconn *c, const char *complaint_id, const char *staff_id)
{
	const char *p[] = {complaint_id, staff_id};
	PGresult *res = pg_query(
	    c, "SELECT 1 FROM excluded_staff WHERE complaint_id = $1::uuid AND staff_id = $2", 2,
	    p);
	if (!res)
		return -1;
	int excluded = PQntuples(res) > 0;
	PQclear(res);
	return excluded;
}

int conflict_list(PGconn *c, const char *complaint_id, PGresult **res, char ***ids, size_t *n)
{
	const char *p[] = {complaint_id};
	*ids = NULL;
	*n = 0;
	*res =
	    pg_query(c,
		     "SELECT staff_id FROM excluded_staff WHERE complaint_id = $1::uuid ORDER BY "
		     "staff_id",
		     1, p);
	if (!*res)
		return -1;
	int rows = PQntuples(*res);
	if (rows == 0)
		return 0;
	*ids = calloc((size_t)rows, sizeof(**ids));
	if (!*ids) {
		PQclear(*res);
		*res = NULL;
		return -1;
	}
	for (int i = 0; i < rows; i++)
		(*ids)[i] = PQgetvalue(*res, i, 0);
	*n = (size_t)rows;
	return 0;
}

/* --- complaint.evidence.v1: the courier named as responsible --- */

int conflict_validate_evidence(const ProtobufCMessage *m, char *errstr, size_t errlen)
{
	const Cp__EvidenceBundle *b = (const void *)m;
	if (strlen(b->complaint_id) != 36) {
		snprintf(errstr, errlen, "complaint_id must be a UUID");
		return -1;
	}
	return 0;
}

/* The owner lost the case: announce that nobody owns it, then offer it again. */
static int withdraw(PGconn *c, struct offers_case *a, const char *staff_id)
{
	const char *p[] = {a->id};
	if (pg_exec(
		c,
		"UPDATE assignments SET state = 'offered', owner_staff_id = NULL, accepted_at = "
		"NULL WHERE complaint_id = $1::uuid",
		1, p) != 0)
		return -1;
	const struct offers_note n = {.action = "reassigned",
				      .ce_type = "cp.complaint.assigned",
				      .owner = "",
				      .previous_owner = staff_id,
				      .reason = CONFLICT_REASON};
	if (offers_announce(c, a, &n) != 0)
		return -1;
	log_msg(LOG_WARN, "owner_withdrawn", LOG_KV({"complaint_no", a->no}),
		"the owner is the courier the evidence names as responsible; offered again");
	a->reason = CONFLICT_REASON;
	snprintf(a->state, sizeof(a->state), "offered");
	a->owner[0] = '\0';
	return offers_next_round(c, a);
}

int conflict_on_evidence(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg)
{
	const Cp__EvidenceBundle *b = (const void *)m;
	const Cp__Responsibility *r = b->responsibility;
	if (!r || strcmp(r->party, "courier") != 0 || !r->party_id[0])
		return 0;
	int fresh = conflict_exclude(c, b->complaint_id, r->party_id, CONFLICT_RESPONSIBLE_COURIER);
	if (fresh <= 0)
		return fresh;
	struct offers_case a;
	/* the assignment may not exist yet (evidence can overtake classification); the row
	 * written above keeps the courier out of the first round then */
	int found = offers_case_load(c, b->complaint_id, false, &a);
	if (found <= 0)
		return found;
	if (strcmp(a.state, "accepted") != 0 || strcmp(a.owner, r->party_id) != 0)
		return 0;
	return withdraw(c, &a, r->party_id);
}
