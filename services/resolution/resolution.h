/* The resolution service: the remedy and compensation for each verified complaint, the
 * approvals above each role's authority, and the tracked execution of the plan. */
#ifndef CP_RESOLUTION_H
#define CP_RESOLUTION_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "consumer.h"
#include "httpd.h"
#include "policy.h"

/* Event handlers (handlers.c). */
extern const struct consumer_handler resolution_handlers[];
extern const size_t resolution_nhandlers;
/* The classified, assigned and evidence events as sets (handlers.c). */
extern const struct consumer_set_handler resolution_set_handlers[];
extern const size_t resolution_nset_handlers;

/* HTTP handlers (api.c). */
void res_list_proposals(struct http_req *r, void *arg);
void res_get_proposal(struct http_req *r, void *arg);
void res_approve(struct http_req *r, void *arg);
void res_reject(struct http_req *r, void *arg);
void res_amend(struct http_req *r, void *arg);
void res_confirm_execution(struct http_req *r, void *arg);
void res_accept(struct http_req *r, void *arg);

/* Auto-settlement rules over HTTP (settle.c). */
void res_list_rules(struct http_req *r, void *arg);
void res_put_rule(struct http_req *r, void *arg);

/* admin.c: compensation policies and authority limits (GET supervisors, PUT admins). */
void res_list_compensation_policies(struct http_req *r, void *arg);
void res_put_compensation_policy(struct http_req *r, void *arg);
void res_list_authority_limits(struct http_req *r, void *arg);
void res_put_authority_limit(struct http_req *r, void *arg);
/* 'default' or 1-10 letters (the waybill prefix a policy applies to). Pure. */
bool res_carrier_key_valid(const char *s);
/* Every problem of a PUT /v1/compensation-policies/{carrier} body appended to errors. Pure. */
void res_policy_check(const char *carrier, const json_t *body, json_t *errors);

/* The plan store and its state machine (plan.c); every function runs inside the caller's
 * transaction and writes state and events together. */

/* Proposes for the case when both its classification and its evidence are known and it has no
 * proposal yet (status proposed: it waits for a decision); a plan still proposed by the system
 * follows changed facts (audited and announced as reproposed, with why: "the evidence changed",
 * "the category changed") and is offered to the auto-settlement rules again. 0 or -1. */
int res_try_propose(PGconn *c, const char *complaint_id, const char *why)
    __attribute__((warn_unused_result));

/* Offers a still-proposed plan to the enabled auto-settlement rules (settle.c); the first
 * that matches approves it as "rule:<name>" and starts its execution. Returns 0 or -1. */
int res_try_settle(PGconn *c, const char *proposal_id) __attribute__((warn_unused_result));

/* A person (staff id) or a rule ("rule:<name>") approved the plan: approved_by, an audit row,
 * cp.complaint.resolution_approved (status approved) and the execution requests. The caller
 * checked the actor's right and authority. Returns 0 or -1. */
int res_approve_and_execute(PGconn *c, const char *proposal_id, const char *actor,
			    const char *reason) __attribute__((warn_unused_result));

/* The compensation ledger's lock of one waybill (transaction-scoped; "" takes none). */
int res_ledger_lock(PGconn *c, const char *waybill_no) __attribute__((warn_unused_result));

/* Payouts requested or confirmed on the waybill by proposals other than proposal_id (NULL:
 * every proposal); 0 for "", -1 on error. */
int64_t res_ledger_paid(PGconn *c, const char *waybill_no, const char *proposal_id);

/* Parses a proposal's remedies JSON into plan. Returns 0 or -1. */
int res_plan_from_json(const char *remedies, struct res_plan *plan)
    __attribute__((warn_unused_result));

/* Moves an approved plan on: requests its executions, or marks it executed when nothing is
 * to be done. Returns 0 or -1. */
int res_start_execution(PGconn *c, const char *proposal_id);

/* Settles one execution (ok or failed with reason). Returns 0, 1 when the execution was not
 * waiting (unknown or already settled: nothing written), or -1. */
int res_settle_execution(PGconn *c, const char *execution_id, bool ok, const char *reason,
			 const char *reference);

/* Announces the proposal's current state with ce_type; reason may be NULL. */
int res_announce(PGconn *c, const char *proposal_id, const char *ce_type, const char *status,
		 const char *reason);

/* Writes a row of proposal_audit. before/after are JSON text or NULL. */
int res_audit(PGconn *c, const char *proposal_id, const char *actor, const char *action,
	      const char *reason, const char *before, const char *after);

/* The largest total (fen) role may grant; -1 on a database error, 0 for unknown roles. There is
 * no row for the system: it proposes, it never decides. */
int64_t res_authority(PGconn *c, const char *role);

/* Remedies JSON array of plan (malloc'ed). */
char *res_remedies_json(const struct res_plan *plan);

#endif
