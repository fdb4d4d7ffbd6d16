/* The follow-up service: keeps the customer informed at every step until they confirm,
 * runs the satisfaction survey, closes and archives cases, and computes the quality figures
 * from its own projection of every topic. */
#ifndef CP_FOLLOWUP_H
#define CP_FOLLOWUP_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consumer.h"
#include "httpd.h"

struct followup_config {
	char *link_secret;
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

/* Copies text replacing every run of 7 or more digits (phone-like) with "***". */
void fu_redact_digits(const char *text, char *out, size_t cap);

/* Splits "http://host[:port]/path". Returns 0, or -1 for anything else (https included). */
int fu_parse_url(const char *url, char *host, size_t hostcap, char *port, size_t portcap,
		 char *path, size_t pathcap);

/* The customer-facing text of a remedy list: "compensation 30.00 CNY, apology" in en or
 * "赔偿 30.00 元、道歉" in zh-CN. remedies_json is [{"kind","amount_fen"}...]. */
void fu_plan_text(const char *remedies_json, const char *language, char *out, size_t cap);

/* ---- the case, notifications and closure (cases.c) ---------------------------------------- */

/* Makes sure the projection row exists. */
int fu_case_ensure(PGconn *c, const char *complaint_id, const char *complaint_no);
/* Appends to the case's event history. detail_json may be NULL. */
int fu_history(PGconn *c, const char *complaint_id, const char *ce_type, const char *detail_json);
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
/* Closes the case (status, event, closing message with the appeal notice, archive).
 * Returns 0, 1 when it was closed already, -1. */
int fu_close(PGconn *c, const char *complaint_id, const char *reason);
/* Announces a FollowupEvent; ev's complaint ids must be set. */
int fu_announce(PGconn *c, const char *ce_type, void *followup_event);
/* The survey link of a case (malloc'ed). */
char *fu_survey_url(const char *complaint_no);

/* ---- consumers, API, tasks ---------------------------------------------------------------- */
extern const struct consumer_handler followup_handlers[];
extern const size_t followup_nhandlers;

void fu_post_survey(struct http_req *r, void *arg);
void fu_post_message(struct http_req *r, void *arg);
void fu_post_await(struct http_req *r, void *arg);
/* GET lists the templates (staff), PUT replaces one (supervisor). */
void fu_get_templates(struct http_req *r, void *arg);
void fu_put_template(struct http_req *r, void *arg);
void fu_get_stats(struct http_req *r, void *arg);
/* GET /v1/notifications?complaint_no=: every message of a case and its delivery state. */
void fu_get_notifications(struct http_req *r, void *arg);

/* The quality figures for [from, to) with optional filters ("" = all), as JSON text
 * (malloc'ed), or NULL on a database error. */
char *fu_stats_json(PGconn *c, const char *from, const char *to, const char *outlet,
		    const char *category, const char *agent);

int fu_deliver_task(PGconn *c, void *arg);
int fu_close_task(PGconn *c, void *arg);
int fu_stats_task(PGconn *c, void *arg);

#endif
