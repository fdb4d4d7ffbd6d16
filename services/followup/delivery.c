/* The delivery task: claims due notifications (FOR UPDATE SKIP LOCKED, with a lease so no
 * transaction stays open during delivery), sends each to the gateway of its channel and
 * records the outcome with the receiver's answer.
 *
 * Channels (notify.h): sms, email, app for customers (their preferred contact; phone and
 * wechat fall back to sms), staff_app for staff. Each channel is a signed HTTPS webhook of its
 * own (NOTIFY_<KIND>_URL / _SECRET, else WEBHOOK_URL / WEBHOOK_SECRET); gateway.c makes the
 * call with libcurl. Without any URL the file adapter appends JSON lines to NOTIFY_FILE (or
 * logs them) and the row says "logged": only a receiver's 2xx answer makes "delivered".
 *
 * This runs on the task's own thread, so the gateway call blocks, always with timeouts.
 * A failed attempt is retried with jittered exponential backoff; after NOTIFY_MAX_ATTEMPTS it
 * is recorded as failed (the dead-letter state: event, error log, metric), never dropped. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "followup.h"
#include "followup.pb-c.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pg.h"

#define CLAIM_BATCH	 10
#define CLAIM_BATCH_TEXT "10" /* the same, for the claim query */

struct fu_notify_config fu_notify_cfg;

struct fu_note {
	char id[24];
	char complaint_id[40];
	char complaint_no[40];
	char customer_ref[40];
	char recipient[80];
	char step[32];
	char language[8];
	enum fu_channel channel;
	char *body;
	int attempts;
};

/* What one attempt came to: the row's status on success, the receiver's answer. */
struct fu_outcome {
	const char *status; /* delivered, logged */
	struct fu_gateway_result gw;
};

/* ---- adapters ----------------------------------------------------------------------------- */

static bool is_staff(const struct fu_note *n)
{
	return strncmp(n->recipient, "staff:", 6) == 0;
}

/* The gateway's payload. A customer is addressed by customer_ref only (the gateway resolves
 * the contact); a staff message carries no customer_ref at all. */
static char *note_json(const struct fu_note *n)
{
	const char *to = is_staff(n) ? n->recipient : n->customer_ref;
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "notification_id",
			      n->id, "complaint_no", n->complaint_no, "recipient", n->recipient,
			      "to", to, "channel", fu_channel_name(n->channel), "step", n->step,
			      "language", n->language, "text", n->body, "attempt", n->attempts);
	if (o && !is_staff(n))
		json_object_set_new(o, "customer_ref", json_string(n->customer_ref));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static const char *gateway_url(enum fu_channel ch)
{
	const char *url = fu_notify_cfg.gw[ch].url;
	return url && url[0] ? url : followup_cfg.webhook_url;
}

static const char *gateway_secret(enum fu_channel ch)
{
	const char *secret = fu_notify_cfg.gw[ch].secret;
	return secret && secret[0] ? secret : followup_cfg.webhook_secret;
}

static int deliver_file(const struct fu_note *n, const char *json, char *err, size_t errlen)
{
	if (!followup_cfg.notify_file[0]) {
		log_msg(LOG_INFO, "notification_delivered",
			LOG_KV({"complaint_no", n->complaint_no}, {"step", n->step},
			       {"recipient", n->recipient}, {"channel", "file"}),
			"%s", n->body);
		return 0;
	}
	int fd = open(followup_cfg.notify_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "open %s: %s", followup_cfg.notify_file, strerror(errno));
		return -1;
	}
	char *line = NULL;
	int len = asprintf(&line, "%s\n", json);
	int rc = len > 0 && write(fd, line, (size_t)len) == len ? 0 : -1;
	if (rc != 0)
		snprintf(err, errlen, "write %s: %s", followup_cfg.notify_file, strerror(errno));
	free(line);
	close(fd);
	return rc;
}

static int deliver(const struct fu_note *n, struct fu_outcome *o)
{
	char *json = note_json(n);
	const char *url = gateway_url(n->channel);
	int rc = -1;
	memset(o, 0, sizeof(*o));
	if (!json) {
		snprintf(o->gw.error, sizeof(o->gw.error), "cannot encode");
		return -1;
	}
	if (url[0]) {
		o->status = "delivered";
		rc = fu_gateway_post(url, gateway_secret(n->channel), n->id, json,
				     (long)followup_cfg.webhook_timeout_ms, &o->gw);
	} else {
		o->status = "logged";
		rc = deliver_file(n, json, o->gw.error, sizeof(o->gw.error));
	}
	if (rc == 0 && url[0])
		log_msg(LOG_INFO, "notification_delivered",
			LOG_KV({"complaint_no", n->complaint_no}, {"step", n->step},
			       {"recipient", n->recipient},
			       {"channel", fu_channel_name(n->channel)}),
			"the gateway answered %ld", o->gw.status);
	free(json);
	return rc;
}

/* ---- claiming and recording --------------------------------------------------------------- */

/* A customer's message waits (up to HOLD_S) until the case's received event, which carries
 * the customer_ref, language and preferred contact, has been seen. */
#define HOLD_S "60"

static void note_from_row(PGconn *c, PGresult *r, int i, struct fu_note *n)
{
	char body[2048];
	snprintf(n->id, sizeof(n->id), "%s", PQgetvalue(r, i, 0));
	snprintf(n->complaint_id, sizeof(n->complaint_id), "%s", PQgetvalue(r, i, 1));
	snprintf(n->complaint_no, sizeof(n->complaint_no), "%s", PQgetvalue(r, i, 2));
	snprintf(n->customer_ref, sizeof(n->customer_ref), "%s", PQgetvalue(r, i, 3));
	snprintf(n->recipient, sizeof(n->recipient), "%s", PQgetvalue(r, i, 4));
	snprintf(n->step, sizeof(n->step), "%s", PQgetvalue(r, i, 5));
	snprintf(n->language, sizeof(n->language), "%s", PQgetvalue(r, i, 6));
	if (fu_render_step(c, n->step, n->language, n->complaint_no, PQgetvalue(r, i, 7), body,
			   sizeof(body)) != 0)
		body[0] = '\0';
	n->body = strdup(body);
	n->attempts = atoi(PQgetvalue(r, i, 8));
	n->channel = fu_channel_for(n->recipient, PQgetvalue(r, i, 9));
}

static int claim(PGconn *c, struct fu_note *notes, int max)
{
	char lease[24];
	/* the lease outlasts the whole batch, each call bounded by the total timeout */
	snprintf(lease, sizeof(lease), "%lld",
		 followup_cfg.webhook_timeout_ms * CLAIM_BATCH / 1000 + 5);
	const char *p[] = {lease};
	PGresult *r = pg_query(
	    c,
	    "UPDATE notifications n SET attempts = n.attempts + 1, next_attempt_at = now() + "
	    "make_interval(secs => $1::int) FROM (SELECT q.id, k.customer_ref, k.language, "
	    "k.preferred_contact FROM notifications q JOIN cases k USING (complaint_id) WHERE "
	    "q.status = 'queued' AND q.next_attempt_at <= now() AND (k.customer_ref <> '' OR "
	    "q.recipient <> 'customer' OR q.created_at < now() - interval '" HOLD_S " seconds') "
	    "ORDER BY q.next_attempt_at, q.id LIMIT " CLAIM_BATCH_TEXT
	    " FOR UPDATE OF q SKIP LOCKED) d WHERE n.id "
	    "= d.id RETURNING n.id, n.complaint_id, n.complaint_no, d.customer_ref, n.recipient, "
	    "n.step, CASE WHEN n.recipient = 'customer' THEN d.language ELSE n.language END, "
	    "n.vars::text, n.attempts, CASE WHEN n.recipient = 'customer' THEN "
	    "d.preferred_contact ELSE '' END",
	    1, p);
	if (!r)
		return -1;
	int count = PQntuples(r) < max ? PQntuples(r) : max;
	for (int i = 0; i < count; i++)
		note_from_row(c, r, i, &notes[i]);
	PQclear(r);
	return count;
}

static int announce(PGconn *c, const struct fu_note *n, const char *status, const char *reason)
{
	if (strcmp(n->recipient, "customer") != 0)
		return 0;
	Cp__FollowupEvent ev = CP__FOLLOWUP_EVENT__INIT;
	ev.complaint_id = (char *)n->complaint_id;
	ev.complaint_no = (char *)n->complaint_no;
	ev.step = (char *)n->step;
	ev.channel = (char *)fu_channel_name(n->channel);
	ev.status = (char *)status;
	ev.language = (char *)n->language;
	ev.reason = (char *)(reason ? reason : "");
	char detail[160];
	snprintf(detail, sizeof(detail), "{\"step\":\"%s\",\"status\":\"%s\",\"channel\":\"%s\"}",
		 n->step, status, fu_channel_name(n->channel));
	if (fu_history(c, n->complaint_id, "cp.complaint.customer_notified", detail) != 0)
		return -1;
	return fu_announce(c, "cp.complaint.customer_notified", &ev);
}

/* The receiver's answer as query parameters: its status (NULL when none came) and excerpt. */
static void answer_params(const struct fu_outcome *o, char status[16], const char **p_status)
{
	snprintf(status, 16, "%ld", o->gw.status);
	*p_status = o->gw.status > 0 ? status : NULL;
}

static int record_success(PGconn *c, const struct fu_note *n, const struct fu_outcome *o)
{
	char code[16];
	const char *p_code;
	answer_params(o, code, &p_code);
	const char *p[] = {n->id,	    fu_channel_name(n->channel),
			   n->body,	    n->language,
			   n->customer_ref, o->status,
			   p_code,	    o->gw.excerpt};
	PGresult *r = pg_query(
	    c,
	    "UPDATE notifications SET status = $6, delivered_at = now(), channel = $2, "
	    "last_error = '', body = $3, language = $4, customer_ref = $5, response_status = "
	    "$7::int, response_excerpt = $8 WHERE id = $1 AND status = 'queued'",
	    8, p);
	if (!r)
		return -1;
	bool changed = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	metrics_add(
	    metrics_counter("cp_notifications_delivered_total", "Notifications delivered.", NULL),
	    1);
	return changed ? announce(c, n, o->status, NULL) : 0;
}

static int64_t retry_delay_ms(int attempts)
{
	int64_t ms = fu_backoff_ms(attempts, followup_cfg.backoff_ms, followup_cfg.backoff_max_ms);
	return fu_jitter_ms(ms, (double)random() / ((double)RAND_MAX + 1.0));
}

static int record_failure(PGconn *c, const struct fu_note *n, const struct fu_outcome *o)
{
	bool final = n->attempts >= followup_cfg.max_attempts;
	char delay[24], code[16];
	const char *p_code, *err = o->gw.error;
	snprintf(delay, sizeof(delay), "%.3f", (double)retry_delay_ms(n->attempts) / 1000.0);
	answer_params(o, code, &p_code);
	const char *p[] = {
	    n->id,  err,	  final ? "failed" : "queued", delay, fu_channel_name(n->channel),
	    p_code, o->gw.excerpt};
	if (pg_exec(c,
		    "UPDATE notifications SET status = $3, last_error = $2, channel = $5, "
		    "next_attempt_at = now() + make_interval(secs => $4::double precision), "
		    "response_status = $6::int, response_excerpt = $7 WHERE id = $1 AND status = "
		    "'queued'",
		    7, p) != 0)
		return -1;
	if (!final) {
		log_msg(LOG_WARN, "notification_retry",
			LOG_KV({"complaint_no", n->complaint_no}, {"step", n->step},
			       {"channel", fu_channel_name(n->channel)}),
			"delivery attempt %d failed, retrying in %s s: %s", n->attempts, delay,
			err);
		return 0;
	}
	metrics_add(metrics_counter("cp_notifications_failed_total",
				    "Notifications given up after every retry.", NULL),
		    1);
	log_msg(LOG_ERROR, "notification_failed",
		LOG_KV({"complaint_no", n->complaint_no}, {"step", n->step},
		       {"channel", fu_channel_name(n->channel)}),
		"notification not delivered after %d attempts: %s", n->attempts, err);
	return announce(c, n, "failed", err);
}

static int record(PGconn *c, const struct fu_note *n, int ok, const struct fu_outcome *o)
{
	if (pg_begin(c) != 0)
		return -1;
	int rc = ok == 0 ? record_success(c, n, o) : record_failure(c, n, o);
	if (rc != 0) {
		pg_rollback(c);
		return -1;
	}
	return pg_commit(c);
}

int fu_deliver_task(PGconn *c, void *arg)
{
	struct fu_note notes[CLAIM_BATCH];
	int n = claim(c, notes, CLAIM_BATCH), rc = 0;
	if (n <= 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct fu_outcome o;
		int ok = deliver(&notes[i], &o);
		if (rc == 0 && record(c, &notes[i], ok, &o) != 0)
			rc = -1; /* the lease expires and the row is claimed again */
		free(notes[i].body);
	}
	return rc < 0 ? -1 : n;
}
