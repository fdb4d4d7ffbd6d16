/* Who may hold a case: conflict of interest, the escalation ladder, reassignment and the
 * VIP list. The rule the machine keeps: it names people and offers them work; people decide.
 *
 * conflict.c   the staff a case is about (its target) and the courier the evidence names as
 *              responsible are excluded: never offered, assigned, escalated to or accepting
 * escalate.c   the ladder (outlet manager, regional supervisor, HQ; unavailable people
 *              skipped), SLA breaches turned into escalations, escalation by hand
 * transfer.c   reassign / transfer by the owner or a supervisor
 * vip.c        enrolling and removing VIP customers */
#ifndef CP_CLASSIFICATION_OWNERSHIP_H
#define CP_CLASSIFICATION_OWNERSHIP_H

#include <libpq-fe.h>

#include "auth.h"
#include <stdbool.h>
#include <stddef.h>

#include "consumer.h"
#include "httpd.h"

/* --- the case as the routing state sees it (offers.c) --- */

struct offers_case {
	char id[40];
	char no[160];
	char outlet[64];
	bool has_origin;
	double lat, lon;
	int round;
	char state[16];	    /* offered, accepted, escalated */
	char owner[64];	    /* "" while nobody owns it */
	int level;	    /* the escalation level reached (0: none) */
	const char *reason; /* carried by the next announcement ("" or NULL: none) */
	/* the case's exclusions when already read (a set reads those of all its cases with one
	 * statement); false: offers_announce reads them */
	bool excluded_read;
	char **excluded;
	size_t nexcluded;
};

/* What one ComplaintAssignment announces; the excluded staff are added from the database. */
struct offers_note {
	const char *action;  /* offered, accepted, reassigned, escalated */
	const char *ce_type; /* cp.complaint.offered / assigned / escalated */
	char **staff;
	size_t nstaff;
	const char *owner, *previous_owner, *actor, *reason;
	int level;	  /* escalated: 1..3 */
	const char *role; /* escalated: outlet_manager, regional_supervisor, hq */
};

/* Reads the routing state of a complaint by id (by_no false) or number, locking the row FOR
 * UPDATE. 1 found, 0 unknown, -1 on error. */
int offers_case_load(PGconn *c, const char *key, bool by_no, struct offers_case *a)
    __attribute__((warn_unused_result));
/* Writes the announcement to the outbox inside the caller's transaction. 0 or -1. */
int offers_announce(PGconn *c, const struct offers_case *a, const struct offers_note *n)
    __attribute__((warn_unused_result));
/* Offers the case to the next nearest staff not offered and not excluded (escalates when
 * nobody is left). 0 or -1; the caller rolls back on failure. */
int offers_next_round(PGconn *c, struct offers_case *a) __attribute__((warn_unused_result));

/* --- conflict.c --- */

enum conflict_reason { CONFLICT_TARGET, CONFLICT_RESPONSIBLE_COURIER };

/* Pure: whether a complaint target names a member of staff (kind courier or agent with an
 * id), i.e. someone who must never handle the complaint about them. */
bool conflict_target_is_staff(const char *kind, const char *id);
/* Records staff_id as excluded from the complaint. 1 newly excluded, 0 already, -1 error. */
int conflict_exclude(PGconn *c, const char *complaint_id, const char *staff_id,
		     enum conflict_reason why) __attribute__((warn_unused_result));
/* 1 when staff_id is excluded from the complaint, 0 when not, -1 on error. */
int conflict_is_excluded(PGconn *c, const char *complaint_id, const char *staff_id)
    __attribute__((warn_unused_result));
/* Who may act on the case (common/auth.h's rule): the owner of an accepted case or a
 * supervisor/admin, never someone excluded from it. An enum auth_case_verdict, or -1 on a
 * database error. */
int conflict_case_verdict(PGconn *c, const char *complaint_id, const char *state, const char *owner,
			  const struct auth_principal *who) __attribute__((warn_unused_result));
/* The excluded staff ids of a complaint; the caller PQclear()s *res after using ids (which
 * point into it) and free()s *ids. 0 or -1. */
int conflict_list(PGconn *c, const char *complaint_id, PGresult **res, char ***ids, size_t *n)
    __attribute__((warn_unused_result));
/* The consumer handlers for complaint.evidence.v1 (evidence_collected and evidence_updated). */
int conflict_validate_evidence(const ProtobufCMessage *m, char *errstr, size_t errlen);
int conflict_on_evidence(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg);

/* --- escalate.c --- */

enum esc_level { ESC_LEVEL_OUTLET = 1, ESC_LEVEL_REGION = 2, ESC_LEVEL_HQ = 3 };

/* A reason a person types (reassign, escalate by hand): required, at most this many bytes. */
#define ESC_REASON_MAX 500

/* One person who may be escalated to, as the pure pick sees them. */
struct esc_person {
	char staff_id[64];
	char outlet_id[64];
	char region_id[64];
	int level; /* the rung the role stands on: enum esc_level, 0 for agents and couriers */
	bool available;
	bool excluded; /* conflict of interest on this complaint */
};

/* Whom an escalation names: staff_id "" when nobody on the ladder is available. */
struct esc_target {
	char staff_id[64];
	int level;
};

/* Pure: outlet_manager, regional_supervisor, hq for levels 1..3; "" otherwise. */
const char *escalation_role_name(int level);
/* Pure: the level of a role name, 0 for roles not on the ladder. */
int escalation_level_of_role(const char *role);
/* Pure: the first person, in the given order, who is available and not excluded, on the
 * ladder at from_level or above: level 1 an outlet manager of outlet, level 2 a regional
 * supervisor of region, level 3 HQ. Returns the index and sets *level, or -1 (*level 0). */
int escalation_pick(const struct esc_person *people, size_t n, int from_level, const char *outlet,
		    const char *region, int *level);
/* Reads the ladder of the case (its outlet's manager, the region's supervisors, HQ) and picks
 * from from_level up. to->staff_id "" when nobody is available (to->level from_level). */
int escalation_find(PGconn *c, const struct offers_case *a, int from_level, struct esc_target *to)
    __attribute__((warn_unused_result));
/* Records the escalation and announces cp.complaint.escalated naming to. With offer set and
 * nobody owning the case, the person is offered it (state escalated). The caller rolls back
 * on failure. */
int escalation_apply(PGconn *c, struct offers_case *a, const struct esc_target *to, bool offer,
		     const char *reason, const char *actor) __attribute__((warn_unused_result));
/* The "reason" of a request body, or NULL with a field error appended to errors. */
const char *escalation_reason_field(const json_t *body, json_t *errors);
/* complaint.sla.v1 cp.complaint.sla_breached -> cp.complaint.escalated, once per (complaint,
 * clock, level). */
int escalation_validate_breach(const ProtobufCMessage *m, char *errstr, size_t errlen);
int escalation_on_breach(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg);
/* Pure: the rung of a person's supervisor: an agent's (a courier's, anyone off the ladder)
 * is the outlet manager (1), an outlet manager's the regional supervisor (2), a regional
 * supervisor's HQ (3); HQ has nobody above (0). */
int escalation_level_above(const char *role);
/* complaint.evidence_request.v1 cp.complaint.evidence_request_escalated (a request still
 * unanswered after its facility was reminded) -> cp.complaint.escalated naming the owner's
 * supervisor: the first available person on the ladder of the owner's outlet from the rung
 * above the owner's role (an unowned case: its outlet's manager, who is offered it). Once per
 * event (the inbox); evidence raises it once per request. */
int escalation_validate_evidence(const ProtobufCMessage *m, char *errstr, size_t errlen);
int escalation_on_evidence_overdue(PGconn *c, const struct ce_meta *ce, const char *key,
				   const ProtobufCMessage *m, char *errstr, size_t errlen,
				   void *arg);
/* POST /v1/complaints/{no}/escalate {"reason"}: the owner or a supervisor. */
void escalation_by_hand(struct http_req *r, void *arg);

/* --- vip.c (supervisor or admin) --- */

/* GET /v1/vip-customers -> {"vip_customers":[{"customer_ref","tier","note","added_at"}]} */
void vip_list(struct http_req *r, void *arg);
/* PUT /v1/vip-customers/{customer_ref} {"note"} -> 201 enrolled / 200 note changed */
void vip_put(struct http_req *r, void *arg);
/* DELETE /v1/vip-customers/{customer_ref} -> 200, or 404 when not on the list */
void vip_delete(struct http_req *r, void *arg);

/* --- transfer.c --- */

/* POST /v1/complaints/{no}/reassign {"to_staff_id","reason"}: the owner to an available
 * colleague, a supervisor or admin to anyone in the registry; never to an excluded person. */
void transfer_reassign(struct http_req *r, void *arg);

#endif
