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
/* The excluded staff ids of a complaint; the caller PQclear()s *res after using ids (which
 * point into it) and free()s *ids. 0 or -1. */
int conflict_list(PGconn *c, const char *complaint_id, PGresult **res, char ***ids, size_t *n)
    __attribute__((warn_unused_result));
/* The consumer handlers for complaint.evidence.v1 (evidence_collected and evidence_updated). */
int conflict_validate_evidence(const ProtobufCMessage *m, char *errstr, size_t errlen);
int conflict_on_evidence(PGconn *c, const struct ce_meta *ce, const char *key,
			 const ProtobufCMessage *m, char *errstr, size_t errlen, void *arg);

#endif
