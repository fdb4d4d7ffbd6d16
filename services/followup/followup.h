/* The follow-up service: keeps the customer informed at every step until they confirm,
 * runs the satisfaction survey, closes and archives cases, and computes the quality figures
 * from its own projection of every topic. */
#ifndef CP_FOLLOWUP_H
#define CP_FOLLOWUP_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth.h"
#include "consumer.h"
#include "httpd.h"

/* The body of a step without a template in the message's language nor in zh-CN. */
#define FU_DEFAULT_TEMPLATE "{complaint_no}: {text}"

struct followup_config {
	char *link_secret;
	char *link_secret_previous;
	char *link_secret_previous_until;
	struct auth_keyring link_keys; /* built from the three link variables at start */
	char *public_base_url;
	char *webhook_url;
	char *webhook_secret;
	char *notify_file;
	long long webhook_timeout_ms;
	long long max_attempts;
	long long backoff_ms;
	long long backoff_max_ms;
	long long delivery_interval_ms;
	long long quiet_start_min;
	long long quiet_end_min;
	long long quiet_utc_offset_min;
	long long survey_timeout_s;
	long long close_interval_ms;
	long long stats_interval_ms;
	long long stats_window_days;
	long long fcr_window_days;
};
extern struct followup_config followup_cfg;

/* ---- pure rules (rules.c) ---------------------------------------------------------------- */

/* Values substituted into a template's {name} placeholders; NULL values render empty. */
struct fu_vars {
	const char *complaint_no;
	const char *owner;
	const char *plan;
	const char *survey_url;
	const char *appeal;
	const char *text;
	const char *next_update_by;
	const char *merged_into;
};

/* Renders tmpl into out (always NUL-terminated; truncated at cap). Unknown placeholders are
 * kept as written. Returns the length written. */
size_t fu_render(const char *tmpl, const struct fu_vars *v, char *out, size_t cap);

/* When a message created at now_ms may be sent: now_ms outside quiet hours, else the end of
 * the quiet period. Quiet hours are [start_min, end_min) minutes of the local day (UTC +
 * offset_min); they may wrap midnight; start == end disables them. */
int64_t fu_quiet_release(int64_t now_ms, int start_min, int end_min, int offset_min);

/* A survey answer that re-opens the case: score <= 2 or not solved. */
bool fu_dissatisfied(int score, bool solved);

/* Delay before delivery attempt number attempts+1: base * 2^(attempts-1), capped. */
int64_t fu_backoff_ms(int attempts, int64_t base_ms, int64_t max_ms);

/* The customer's local wall-clock time of ms as "YYYY-MM-DD HH:MM" (offset_min east of UTC):
 * what a promised update time reads like in a message. out holds at least 17 bytes. */
void fu_local_time(int64_t ms, int offset_min, char *out, size_t cap);

/* Copies text replacing every run of 7 or more digits (phone-like) with "***". */
void fu_redact_digits(const char *text, char *out, size_t cap);

/* Splits "http://host[:port]/path". Returns 0, or -1 for anything else (https included). */
int fu_parse_url(const char *url, char *host, size_t hostcap, char *port, size_t portcap,
		 char *path, size_t pathcap);

/* The customer-facing text of a remedy list: "compensation 30.00 CNY, apology" in en or
 * "赔偿 30.00 元、道歉" in zh-CN. remedies_json is [{"kind","amount_fen"}...]. */
void fu_plan_text(const char *remedies_json, const char *language, char *out, size_t cap);

/* Who may act on a case: common/auth.h's auth_case_verdict (fu_require_actor). */
/* The staff id a complaint's target names: its id when the kind is courier or agent, else "". */
const char *fu_target_staff(const char *kind, const char *id);

/* A call outcome the API accepts: reached, no_answer, voicemail, wrong_number. */
bool fu_call_outcome_valid(const char *outcome);
/* Only a call that reached the customer is a contact; the others are attempts. */
bool fu_call_is_contact(const char *outcome);

/* A reason staff may close with: resolved, no_fault_found, withdrawn, duplicate. */
bool fu_close_reason_valid(const char *reason);
/* The template step that tells the customer about a closure with this reason: each staff
 * reason but "resolved" has its own wording; resolved, satisfied and closed_without_feedback
 * share "closed". */
const char *fu_close_step(const char *reason);
/* Withdrawn and duplicate (merged) cases are terminal: they are never reopened. */
bool fu_reopenable(const char *close_reason);

/* The executed plan was decided by a person: approved by staff, or proposed or amended by
 * staff. "", "system" and rule or automatic actors ("rule:...", "auto...") are not people. */
bool fu_person_decided(const char *approved_by, const char *proposed_by);
/* Service, attitude and pricing complaints: never surveyed or closed before a person answered
 * the customer (a contact or a close by staff). */
bool fu_needs_person_answer(const char *category, const char *subcategory);
/* A template staff may send from the case: customer-facing, and not one whose wording is
 * tied to a state change (survey, closure, reopening) or that is internal (appeal,
 * customer_replied, contact, staff_*). */
bool fu_contact_template_allowed(const char *step);

/* What a stuck parcel's recipient is told before they complain (the {text} of the
 * delay_notice template): where the parcel stands, for how long, and why: the operator's
 * phrase for the carrier's exception code in delay_reasons (NULL or empty when there is none:
 * "being checked"), in language (zh-CN or en). */
void fu_delay_text(const char *why, const char *place, int hours, const char *waybill,
		   const char *language, char *out, size_t cap);

/* A carrier's delay reason code as delay_reasons stores it: 1-40 of [a-z0-9_]. */
bool fu_delay_reason_code_valid(const char *code);

/* ---- the case, notifications and closure (cases.c) ---------------------------------------- */

/* Makes sure the projection row exists. */
int fu_case_ensure(PGconn *c, const char *complaint_id, const char *complaint_no);
/* Appends to the case's event history. detail_json may be NULL. */
int fu_history(PGconn *c, const char *complaint_id, const char *ce_type, const char *detail_json);
/* fu_case_ensure then fu_history with one statement (a consumed event's case and its history
 * row; issue 14: two statements per event were a sixth of follow-up's). */
int fu_case_event(PGconn *c, const char *complaint_id, const char *complaint_no,
		  const char *ce_type, const char *detail_json) __attribute__((warn_unused_result));
/* fu_case_event for a set of events with one statement: cells holds 4 per event (complaint
 * id, number, ce_type, detail JSON text), in the order their history rows are written. */
int fu_case_events_set(PGconn *c, const char *const *cells, size_t n)
    __attribute__((warn_unused_result));
/* fu_history for n rows with one statement: cells holds 3 per row (complaint id, ce_type,
 * detail JSON text), in the order written. */
int fu_history_set(PGconn *c, const char *const *cells, size_t n)
    __attribute__((warn_unused_result));
/* A notification's template variables as JSON text, as stored in notifications.vars
 * (malloc'ed; NULL when out of memory). */
char *fu_vars_json(const struct fu_vars *v);
/* One message of fu_notify_set: what fu_notify (a customer's step) or fu_staff_notify (a
 * staff step, notify_events.c) would queue. */
struct fu_note_req {
	const char *complaint_id;
	const char *staff_id; /* NULL: the customer; else to "staff:<id>" ("" unassigned) */
	const char *step;
	int round;	      /* -1: the case's reopen count */
	const char *language; /* NULL: the case's */
	char *vars;	      /* JSON text (owned: fu_note_reqs_free) */
	char release[32];     /* the customer's: when it may be sent (quiet hours); "": now */
	const char *event_id; /* "" for the customer's steps */
	bool unless_awaiting; /* not for a proactive case nobody joined (first response) */
	bool to_owner;	      /* staff: the case's owner as the set finds it (none: none) */
};
/* Fills q as fu_notify(c, id, step, round, vars, exempt) would queue it. 0 or -1 (memory). */
int fu_note_customer(struct fu_note_req *q, const char *complaint_id, const char *step, int round,
		     const struct fu_vars *vars, bool exempt) __attribute__((warn_unused_result));
void fu_note_reqs_free(struct fu_note_req *q, size_t n);
/* Queues n messages with two statements (the cases and templates they need, then one
 * insert), the same rows as fu_notify / fu_staff_notify called for each in order (the first
 * of a step and round wins); messages of one case must not depend on a case change made
 * between them. Returns 0 or -1. */
int fu_notify_set(PGconn *c, const struct fu_note_req *q, size_t n)
    __attribute__((warn_unused_result));
/* 1 when the case is a stuck parcel's proactive case that no complaint has joined yet (the
 * customer did not complain: nothing answers a complaint), 0 otherwise, -1 on error. */
int fu_case_awaits_complainant(PGconn *c, const char *complaint_id)
    __attribute__((warn_unused_result));
/* Queues the message of step for the customer (at most one per step and round); round -1
 * means the case's reopen count. exempt: ignores quiet hours (first response). */
int fu_notify(PGconn *c, const char *complaint_id, const char *step, int round,
	      const struct fu_vars *vars, bool exempt);
/* Queues a message for staff (recipient "staff:<id>"). */
int fu_notify_staff(PGconn *c, const char *complaint_id, const char *staff_id, const char *step,
		    int round);
/* Renders the template of step in language (zh-CN when missing) with the variables of a
 * notification (JSON object: owner, plan, survey_url, text) into out. Returns 0 or -1. */
int fu_render_step(PGconn *c, const char *step, const char *language, const char *complaint_no,
		   const char *vars_json, char *out, size_t cap);
/* The same from a template and appeal text already read (the delivery task reads every
 * template once per batch). Returns 0, or -1 when vars_json is not a JSON object. */
int fu_render_vars(const char *tmpl, const char *appeal, const char *complaint_no,
		   const char *vars_json, char *out, size_t cap)
    __attribute__((warn_unused_result));
/* Who closes a case, why, and the case it joined (reason "duplicate"). actor "" is the
 * system (survey answer or silence); merged_into and note may be NULL. */
struct fu_closure {
	const char *reason;
	const char *actor;
	const char *merged_into;
	const char *note;
};
/* Closes the case (status, cp.complaint.closed, the customer's message in the reason's own
 * wording, archive). Returns 0, 1 when it was closed already, -1 (the caller rolls back). */
int fu_close(PGconn *c, const char *complaint_id, const struct fu_closure *cl)
    __attribute__((warn_unused_result));
/* Queues a message a person sends from the case (sent_by = staff_id), in the case's language,
 * as step and round. Fills the new notification's id (0 when that step and round existed)
 * and the rendered text. Returns 0 or -1. */
int fu_notify_by(PGconn *c, const char *complaint_id, const char *step, int round,
		 const struct fu_vars *vars, const char *staff_id, long long *notification_id,
		 char *text, size_t textcap) __attribute__((warn_unused_result));
/* Opens the survey (status resolved, survey link to the customer) when a plan a person
 * decided was executed and, for complaints that need a person's answer, after a contact.
 * Returns 1 opened, 0 not (yet), -1 database error. */
int fu_survey_open(PGconn *c, const char *complaint_id) __attribute__((warn_unused_result));
/* Announces a FollowupEvent; ev's complaint ids must be set. */
int fu_announce(PGconn *c, const char *ce_type, void *followup_event);
/* The survey link of a case (malloc'ed). */
char *fu_survey_url(const char *complaint_no);

/* ---- the API's shared steps (api.c) ------------------------------------------------------ */

/* A case as an HTTP handler sees it, locked for the request's transaction. */
struct fu_case_lock {
	char id[40];
	char no[40];
	char status[16];
	char owner[64];
	char language[8];
	char close_reason[32];
	int reopen_count;
	bool awaiting;
	bool executed; /* a plan was executed (in any round) */
	char target_staff_id[64];
	char responsible_courier_id[64];
};
/* Begins a transaction on r->db and locks the case r->params[0] names. Replies 404/500
 * itself and returns -1 (rolled back); on 0 the caller commits (fu_finish) or rolls back. */
int fu_lock_case(struct http_req *r, struct fu_case_lock *k) __attribute__((warn_unused_result));
/* Refuses (403 conflict_of_interest or not_owner, rolled back) anyone but the owner or a
 * supervisor/admin, and anyone the case is about. Returns 0 when who may act. */
int fu_require_actor(struct http_req *r, const struct auth_principal *who,
		     const struct fu_case_lock *k) __attribute__((warn_unused_result));
/* Rolls back and replies 500. */
void fu_fail_db(struct http_req *r);
/* Commits and replies reply (owned) with status, or 500 when the commit fails. */
void fu_finish(struct http_req *r, int status, json_t *reply);

/* A person's real contact with the customer. text is what was said; redact: free text, whose
 * phone-like runs are removed before it leaves (a template's text is operator data). */
struct fu_contact {
	const char *kind;    /* message, call */
	const char *outcome; /* call: reached */
	const char *text;
	bool redact;
	const char *next_update_by; /* RFC 3339 or NULL */
	const char *detail_json;    /* the history entry's detail */
};
/* Records it on the locked case k (first contact and by whom, the promised update, status
 * in_contact, history), emits cp.complaint.contacted with staff_id as the actor, and opens the
 * survey when this contact was the last thing it waited for. Returns 0 or -1 (roll back). */
int fu_contacted(PGconn *c, const struct fu_case_lock *k, const char *staff_id,
		 const struct fu_contact *ct) __attribute__((warn_unused_result));

/* ---- consumers, API, tasks ---------------------------------------------------------------- */
extern const struct consumer_handler followup_handlers[];
extern const size_t followup_nhandlers;
/* The set-based side of the handlers (handlers.c): the same rows with a few statements per
 * batch and kind. */
extern const struct consumer_set_handler followup_set_handlers[];
extern const size_t followup_nset_handlers;

void fu_post_survey(struct http_req *r, void *arg);
void fu_post_message(struct http_req *r, void *arg);
void fu_post_await(struct http_req *r, void *arg);
/* GET lists the templates (staff), PUT replaces one (supervisor). */
void fu_get_templates(struct http_req *r, void *arg);
/* GET lists the delay reasons' phrases (staff), PUT sets one code's phrase in one language
 * (admin, audited). */
void fu_get_delay_reasons(struct http_req *r, void *arg);
void fu_put_delay_reason(struct http_req *r, void *arg);
void fu_put_template(struct http_req *r, void *arg);
void fu_get_stats(struct http_req *r, void *arg);
/* GET /v1/notifications?complaint_no=: every message of a case and its delivery state. */
void fu_get_notifications(struct http_req *r, void *arg);
/* Staff casework (casework.c): the owner, or any supervisor/admin. */
void fu_post_contact(struct http_req *r, void *arg);
void fu_post_call(struct http_req *r, void *arg);
void fu_post_close(struct http_req *r, void *arg);
void fu_post_reopen(struct http_req *r, void *arg);
void fu_get_conversation(struct http_req *r, void *arg);

/* The quality figures for [from, to) with optional filters ("" = all), as JSON text
 * (malloc'ed), or NULL on a database error. */
char *fu_stats_json(PGconn *c, const char *from, const char *to, const char *outlet,
		    const char *category, const char *agent);

int fu_deliver_task(PGconn *c, void *arg);
/* Marks the open transaction of this thread as one that queued a notification: when it
 * commits, the delivery task runs at once (fu_delivery_init registers that at start). */
void fu_delivery_queued_now(void);
int fu_delivery_init(void) __attribute__((warn_unused_result));
int fu_close_task(PGconn *c, void *arg);
int fu_stats_task(PGconn *c, void *arg);

#endif
