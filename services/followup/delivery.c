/* The delivery task: claims due notifications a batch at a time (FOR UPDATE SKIP LOCKED,
 * with a lease so no transaction stays open during delivery), sends them to the gateways of
 * their channels concurrently and records every outcome of the batch, with the receivers'
 * answers, in one transaction.
 *
 * Channels (notify.h): sms, email, app for customers (their preferred contact; phone and
 * wechat fall back to sms), staff_app for staff. Each channel is a signed HTTPS webhook of its
 * own (NOTIFY_<KIND>_URL / _SECRET, else WEBHOOK_URL / WEBHOOK_SECRET); gateway.c makes the
 * calls with libcurl's multi interface over kept-alive connections. Without any URL the file
 * adapter appends JSON lines to NOTIFY_FILE (or logs them) and the row says "logged": only a
 * receiver's 2xx answer makes "delivered".
 *
 * This runs on the task's own thread (never the event loop), so the batch blocks the thread,
 * always within the calls' timeouts. Why a batch: one HTTP call and one commit per message
 * held delivery to the pace of a round trip; NOTIFY_CONCURRENCY calls in flight and one commit
 * per NOTIFY_BATCH messages do not, and nothing is given up for it:
 * - once per event and recipient: rows are unique per (case, recipient, step, round, event),
 *   a claimed row is leased to this batch, and a row is recorded only while still queued;
 *   a batch whose record fails is rolled back and claimed again after its lease, and the
 *   receiver drops the repeat by X-CP-Notification-Id;
 * - a failed attempt is retried with jittered exponential backoff; after NOTIFY_MAX_ATTEMPTS
 *   it is recorded as failed (the dead-letter state: event, error log, metric), never
 *   dropped; every row keeps the receiver's answer. */
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
#include "outbox.h"
#include "pg.h"
#include "svc.h"
#include "tstamp.h"

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
	char *json; /* the gateway's payload */
	int attempts;
	int ok;		    /* 0 delivered or logged, -1 failed */
	const char *status; /* on success: delivered, logged */
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

/* The notes of the batch bound for a gateway go into calls (which[] maps each call back to
 * its note; returns how many); the others are written by the file adapter at once. */
static size_t prepare(struct fu_note *notes, int n, struct fu_gateway_call *calls, int *which)
{
	size_t ncalls = 0;
	for (int i = 0; i < n; i++) {
		struct fu_note *k = &notes[i];
		const char *url = gateway_url(k->channel);
		k->json = note_json(k);
		k->ok = -1;
		if (!k->json) {
			snprintf(k->gw.error, sizeof(k->gw.error), "cannot encode");
		} else if (url[0]) {
			k->status = "delivered";
			which[ncalls] = i;
			calls[ncalls++] =
			    (struct fu_gateway_call){.url = url,
						     .secret = gateway_secret(k->channel),
						     .note_id = k->id,
						     .body = k->json};
		} else {
			k->status = "logged";
			k->ok = deliver_file(k, k->json, k->gw.error, sizeof(k->gw.error));
		}
	}
	return ncalls;
}

/* Sends the gateway notes concurrently and copies each answer back to its note. */
static void deliver(struct fu_note *notes, int n)
{
	struct fu_gateway_call *calls = calloc((size_t)n, sizeof(*calls));
	int *which = calloc((size_t)n, sizeof(*which));
	if (!calls || !which) {
		for (int i = 0; i < n; i++) {
			notes[i].ok = -1; /* retried like any failed attempt */
			snprintf(notes[i].gw.error, sizeof(notes[i].gw.error), "out of memory");
		}
		goto release;
	}
	size_t ncalls = prepare(notes, n, calls, which);
	if (ncalls > 0 && fu_gateway_run(calls, ncalls, (long)fu_notify_cfg.concurrency,
					 (long)followup_cfg.webhook_timeout_ms) != 0)
		log_msg(LOG_WARN, "gateway_client_failed", NULL, 0,
			"the gateway client failed mid-batch; the unfinished calls are retried");
	for (size_t j = 0; j < ncalls; j++) {
		struct fu_note *k = &notes[which[j]];
		k->ok = calls[j].rc;
		k->gw = calls[j].res;
		if (k->ok == 0)
			log_msg(LOG_INFO, "notification_delivered",
				LOG_KV({"complaint_no", k->complaint_no}, {"step", k->step},
				       {"recipient", k->recipient},
				       {"channel", fu_channel_name(k->channel)}),
				"the gateway answered %ld", k->gw.status);
	}
release:
	free(which);
	free(calls);
}

/* ---- claiming ----------------------------------------------------------------------------- */

/* A customer's message waits (up to HOLD_S) until the case's received event, which carries
 * the customer_ref, language and preferred contact, has been seen. A proactive case with
 * nobody to write to ("proactive") keeps its customer's messages until a complaint joins it. */
#define HOLD_S "60"

/* clang-format off */
static const char claim_sql[] =
    "UPDATE notifications n SET attempts = n.attempts + 1, next_attempt_at = now() + "
    "make_interval(secs => $1::int) FROM (SELECT q.id, k.customer_ref, k.language, "
    "k.preferred_contact FROM notifications q JOIN cases k USING (complaint_id) WHERE "
    "q.status = 'queued' AND q.next_attempt_at <= now() AND (k.customer_ref <> '' OR "
    "q.recipient <> 'customer' OR q.created_at < now() - interval '" HOLD_S " seconds') "
    "AND NOT (q.recipient = 'customer' AND k.customer_ref = 'proactive') "
    "ORDER BY q.next_attempt_at, q.id LIMIT $2::int FOR UPDATE OF q SKIP LOCKED) d "
    "WHERE n.id = d.id RETURNING n.id, n.complaint_id, n.complaint_no, d.customer_ref, "
    "n.recipient, n.step, CASE WHEN n.recipient = 'customer' THEN d.language ELSE "
    "n.language END, n.vars::text, n.attempts, CASE WHEN n.recipient = 'customer' THEN "
    "d.preferred_contact ELSE '' END";
/* clang-format on */

/* The templates as they are now, read once per batch instead of twice per message. */
struct fu_templates {
	PGresult *rows; /* step, language, body */
};

static const char *template_find(const struct fu_templates *t, const char *step,
				 const char *language)
{
	const char *fallback = NULL;
	for (int i = 0; t->rows && i < PQntuples(t->rows); i++) {
		if (strcmp(PQgetvalue(t->rows, i, 0), step) != 0)
			continue;
		if (strcmp(PQgetvalue(t->rows, i, 1), language) == 0)
			return PQgetvalue(t->rows, i, 2);
		if (strcmp(PQgetvalue(t->rows, i, 1), "zh-CN") == 0)
			fallback = PQgetvalue(t->rows, i, 2);
	}
	return fallback ? fallback : FU_DEFAULT_TEMPLATE;
}

static void note_from_row(const struct fu_templates *t, PGresult *r, int i, struct fu_note *n)
{
	char body[2048];
	snprintf(n->id, sizeof(n->id), "%s", PQgetvalue(r, i, 0));
	snprintf(n->complaint_id, sizeof(n->complaint_id), "%s", PQgetvalue(r, i, 1));
	snprintf(n->complaint_no, sizeof(n->complaint_no), "%s", PQgetvalue(r, i, 2));
	snprintf(n->customer_ref, sizeof(n->customer_ref), "%s", PQgetvalue(r, i, 3));
	snprintf(n->recipient, sizeof(n->recipient), "%s", PQgetvalue(r, i, 4));
	snprintf(n->step, sizeof(n->step), "%s", PQgetvalue(r, i, 5));
	snprintf(n->language, sizeof(n->language), "%s", PQgetvalue(r, i, 6));
	if (fu_render_vars(template_find(t, n->step, n->language),
			   template_find(t, "appeal", n->language), n->complaint_no,
			   PQgetvalue(r, i, 7), body, sizeof(body)) != 0)
		body[0] = '\0';
	n->body = strdup(body);
	n->attempts = atoi(PQgetvalue(r, i, 8));
	n->channel = fu_channel_for(n->recipient, PQgetvalue(r, i, 9));
}

/* Claims up to max due rows into *out (calloc'ed, the caller frees); returns how many, or -1
 * (nothing claimed, or the claimed rows come back when their lease ends). */
static int claim(PGconn *c, int max, struct fu_note **out)
{
	char lease[24], limit[24];
	long long rounds = (max + fu_notify_cfg.concurrency - 1) / fu_notify_cfg.concurrency;
	/* the lease outlasts the whole batch: each round of concurrent calls is bounded by the
	 * total timeout */
	snprintf(lease, sizeof(lease), "%lld", followup_cfg.webhook_timeout_ms * rounds / 1000 + 5);
	snprintf(limit, sizeof(limit), "%d", max);
	const char *p[] = {lease, limit};
	struct fu_templates t = {0};
	PGresult *r = pg_query(c, claim_sql, 2, p);
	if (!r)
		return -1;
	int count = PQntuples(r);
	*out = count ? calloc((size_t)count, sizeof(**out)) : NULL;
	if (count && *out)
		t.rows = pg_query(c, "SELECT step, language, body FROM templates", 0, NULL);
	if (count && !t.rows) {
		free(*out);
		*out = NULL;
		PQclear(r);
		return -1;
	}
	for (int i = 0; i < count; i++)
		note_from_row(&t, r, i, &(*out)[i]);
	PQclear(t.rows);
	PQclear(r);
	return count;
}

/* ---- recording ---------------------------------------------------------------------------- */

/* The history rows of a batch's outcomes, written together after them (fu_history_set): three
 * cells each (complaint id, ce_type, detail), the details owned. */
struct fu_told {
	const char **cells;
	char (*detail)[160];
	size_t n;
};

static int announce(PGconn *c, const struct fu_note *n, const char *status, const char *reason,
		    struct fu_told *told)
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
	char *detail = told->detail[told->n];
	snprintf(detail, 160, "{\"step\":\"%s\",\"status\":\"%s\",\"channel\":\"%s\"}", n->step,
		 status, fu_channel_name(n->channel));
	const char *row[3] = {n->complaint_id, "cp.complaint.customer_notified", detail};
	memcpy(told->cells + 3 * told->n++, row, sizeof(row));
	/* the event waits with the batch's others for one insert (record's outbox_defer) */
	return fu_announce(c, "cp.complaint.customer_notified", &ev);
}

static int64_t retry_delay_ms(int attempts)
{
	int64_t ms = fu_backoff_ms(attempts, followup_cfg.backoff_ms, followup_cfg.backoff_max_ms);
	return fu_jitter_ms(ms, (double)random() / ((double)RAND_MAX + 1.0));
}

static bool final_failure(const struct fu_note *n)
{
	return n->ok != 0 && n->attempts >= followup_cfg.max_attempts;
}

/* The outcome columns of one note that are not in the note already, as text. */
struct fu_row_text {
	char ok[2], status[16], delay[24], code[24];
};

static void row_text(const struct fu_note *n, struct fu_row_text *t)
{
	snprintf(t->ok, sizeof(t->ok), "%s", n->ok == 0 ? "t" : "f");
	snprintf(t->status, sizeof(t->status), "%s",
		 n->ok == 0	    ? n->status
		 : final_failure(n) ? "failed"
				    : "queued");
	snprintf(t->delay, sizeof(t->delay), "%.3f",
		 n->ok == 0 ? 0.0 : (double)retry_delay_ms(n->attempts) / 1000.0);
	/* no answer came (a refused certificate, a timeout): NULL, not 0 */
	if (n->gw.status > 0)
		snprintf(t->code, sizeof(t->code), "%ld", n->gw.status);
	else
		t->code[0] = '\0';
}

/* clang-format off */
static const char record_sql[] =
    "UPDATE notifications n SET status = d.status, channel = d.channel, last_error = d.err, "
    "delivered_at = CASE WHEN d.ok THEN now() ELSE n.delivered_at END, "
    "body = CASE WHEN d.ok THEN d.body ELSE n.body END, "
    "language = CASE WHEN d.ok THEN d.language ELSE n.language END, "
    "customer_ref = CASE WHEN d.ok THEN d.customer_ref ELSE n.customer_ref END, "
    "next_attempt_at = CASE WHEN d.ok THEN n.next_attempt_at ELSE now() + "
    "make_interval(secs => d.delay) END, "
    "response_status = NULLIF(d.code, '')::int, response_excerpt = d.excerpt "
    "FROM unnest($1::bigint[], $2::boolean[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::text[], $8::text[], $9::float8[], $10::text[], $11::text[]) AS d(id, ok, status, "
    "channel, err, body, language, customer_ref, delay, code, excerpt) "
    "WHERE n.id = d.id AND n.status = 'queued' RETURNING n.id";
/* clang-format on */

#define FU_RECORD_COLS 11

/* The batch's outcomes as one array per column of record_sql (arr[j] malloc'ed). */
static int record_arrays(const struct fu_note *notes, int n, struct fu_row_text *t,
			 char *arr[FU_RECORD_COLS])
{
	const char **col = calloc((size_t)n * FU_RECORD_COLS, sizeof(*col));
	if (!col)
		return -1;
	for (int i = 0; i < n; i++) {
		const struct fu_note *k = &notes[i];
		const char *v[FU_RECORD_COLS] = {k->id,
						 t[i].ok,
						 t[i].status,
						 fu_channel_name(k->channel),
						 k->ok == 0 ? "" : k->gw.error,
						 k->body ? k->body : "",
						 k->language,
						 k->customer_ref,
						 t[i].delay,
						 t[i].code,
						 k->gw.excerpt};
		for (int j = 0; j < FU_RECORD_COLS; j++)
			col[j * n + i] = v[j];
	}
	int rc = 0;
	for (int j = 0; j < FU_RECORD_COLS; j++)
		if (!(arr[j] = pg_text_array(&col[j * n], (size_t)n)))
			rc = -1;
	free(col);
	return rc;
}

/* One UPDATE for the whole batch; changed[i] tells whether note i was still queued. */
static int record_rows(PGconn *c, const struct fu_note *notes, int n, bool *changed)
{
	struct fu_row_text *t = calloc((size_t)n, sizeof(*t));
	char *arr[FU_RECORD_COLS] = {0};
	PGresult *r = NULL;
	if (t) {
		for (int i = 0; i < n; i++)
			row_text(&notes[i], &t[i]);
		if (record_arrays(notes, n, t, arr) == 0)
			r = pg_query(c, record_sql, FU_RECORD_COLS, (const char *const *)arr);
	}
	for (int i = 0; r && i < PQntuples(r); i++)
		for (int k = 0; k < n; k++)
			if (strcmp(notes[k].id, PQgetvalue(r, i, 0)) == 0)
				changed[k] = true;
	int rc = r ? 0 : -1;
	PQclear(r);
	for (int j = 0; j < FU_RECORD_COLS; j++)
		free(arr[j]);
	free(t);
	return rc;
}

/* What a recorded outcome means besides the row: the customer's history and event, the
 * metrics and the logs. */
static int record_effects(PGconn *c, const struct fu_note *n, bool changed, struct fu_told *told)
{
	if (n->ok == 0) {
		metrics_add(metrics_counter("cp_notifications_delivered_total",
					    "Notifications delivered.", NULL),
			    1);
		return changed ? announce(c, n, n->status, NULL, told) : 0;
	}
	if (!final_failure(n)) {
		log_msg(LOG_WARN, "notification_retry",
			LOG_KV({"complaint_no", n->complaint_no}, {"step", n->step},
			       {"channel", fu_channel_name(n->channel)}),
			"delivery attempt %d failed, retrying: %s", n->attempts, n->gw.error);
		return 0;
	}
	metrics_add(metrics_counter("cp_notifications_failed_total",
				    "Notifications given up after every retry.", NULL),
		    1);
	log_msg(LOG_ERROR, "notification_failed",
		LOG_KV({"complaint_no", n->complaint_no}, {"step", n->step},
		       {"channel", fu_channel_name(n->channel)}),
		"notification not delivered after %d attempts: %s", n->attempts, n->gw.error);
	return changed ? announce(c, n, "failed", n->gw.error, told) : 0;
}

/* Every outcome of the batch in one transaction; on failure nothing is recorded and the
 * lease brings the rows back (the receivers drop the repeats by notification id). The
 * customer's history rows and events of the batch are one insert each (issue 14: they were two
 * statements per message, most of follow-up's once its events were sets); a case's rows keep
 * their order. */
static int record(PGconn *c, const struct fu_note *notes, int n)
{
	bool *changed = calloc((size_t)n, sizeof(*changed));
	struct fu_told told = {.cells = malloc(3 * (size_t)n * sizeof(*told.cells)),
			       .detail = malloc((size_t)n * sizeof(*told.detail))};
	if (!changed || !told.cells || !told.detail || pg_begin(c) != 0) {
		free(changed);
		free(told.cells);
		free(told.detail);
		return -1;
	}
	outbox_defer(true);
	int rc = record_rows(c, notes, n, changed);
	for (int i = 0; rc == 0 && i < n; i++)
		rc = record_effects(c, &notes[i], changed[i], &told);
	if (rc == 0)
		rc = fu_history_set(c, told.cells, told.n);
	if (rc == 0)
		rc = outbox_defer_flush(c);
	outbox_defer(false);
	free(changed);
	free(told.cells);
	free(told.detail);
	if (rc != 0) {
		pg_rollback(c);
		return -1;
	}
	return pg_commit(c);
}

/* A notification queued by this process is delivered as soon as the transaction that queued
 * it commits, not at the delivery task's next poll (DELIVERY_INTERVAL_MS): the customer's
 * acknowledgement is measured in milliseconds, and a poll of 200 ms cost up to 200 ms of it.
 * Rows that wait (quiet hours, a retry's back-off) are still found by the poll. */
static __thread bool fu_delivery_queued; /* this thread's open transaction queued one */

void fu_delivery_queued_now(void)
{
	fu_delivery_queued = true;
}

static void fu_delivery_tx_end(bool committed)
{
	if (fu_delivery_queued && committed)
		svc_task_wake("delivery");
	fu_delivery_queued = false;
}

int fu_delivery_init(void)
{
	return pg_add_tx_end_hook(fu_delivery_tx_end);
}

/* Each part of a delivery round (claim, calls, record), so the acknowledgement's latency can be
 * split by where it goes (make bench reads them). */
static void fu_delivery_observe(const char *stage, double since)
{
	char labels[32];
	snprintf(labels, sizeof(labels), "stage=\"%s\"", stage);
	metrics_observe(metrics_histogram("cp_delivery_stage_seconds",
					  "Time of each part of a delivery round.", labels, NULL,
					  0),
			tstamp_mono() - since);
}

int fu_deliver_task(PGconn *c, void *arg)
{
	struct fu_note *notes = NULL;
	double t0 = tstamp_mono();
	int n = claim(c, (int)fu_notify_cfg.batch, &notes);
	if (n <= 0)
		return n;
	double t1 = tstamp_mono();
	fu_delivery_observe("claim", t0);
	deliver(notes, n);
	double t2 = tstamp_mono();
	fu_delivery_observe("calls", t1);
	int rc = record(c, notes, n);
	fu_delivery_observe("record", t2);
	for (int i = 0; i < n; i++) {
		free(notes[i].body);
		free(notes[i].json);
	}
	free(notes);
	return rc < 0 ? -1 : n;
}
