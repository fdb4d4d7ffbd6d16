/* The delivery task: claims due notifications (FOR UPDATE SKIP LOCKED, with a lease so no
 * transaction stays open during delivery), hands each to an adapter and records the outcome.
 *
 * Adapters: the generic webhook (HTTP/1.1 POST to WEBHOOK_URL, body signed with
 * HMAC-SHA256(WEBHOOK_SECRET) in X-CP-Signature, the notification id in X-CP-Notification-Id
 * so a receiver can drop a repeated delivery); SMS and e-mail gateways plug in as webhooks.
 * Without WEBHOOK_URL the file adapter appends JSON lines to NOTIFY_FILE (or logs them).
 *
 * This runs on the task's own thread, so the HTTP client below blocks, always with timeouts.
 * A failed attempt is retried with exponential backoff; after NOTIFY_MAX_ATTEMPTS it is
 * recorded as failed (event, error log, metric), never dropped silently. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "followup.h"
#include "followup.pb-c.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"

#define CLAIM_BATCH "10"

struct fu_note {
	char id[24];
	char complaint_id[40];
	char complaint_no[40];
	char customer_ref[40];
	char recipient[80];
	char step[32];
	char language[8];
	char *body;
	int attempts;
};

/* ---- a small blocking HTTP/1.1 client ---------------------------------------------------- */

static int connect_timeout(const char *host, const char *port, int timeout_ms, char *err,
			   size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "resolve %.64s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || (connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS)) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		goto fail;
	}
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	if (poll(&pfd, 1, timeout_ms) != 1) {
		snprintf(err, errlen, "connect: timed out after %d ms", timeout_ms);
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
		snprintf(err, errlen, "connect: %s", strerror(soerr ? soerr : errno));
		goto fail;
	}
	freeaddrinfo(res);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* POSTs body; returns the HTTP status or -1 with the reason in err. */
static int http_post(const char *url, const char *body, const char *sig, const char *note_id,
		     int timeout_ms, char *err, size_t errlen)
{
	char host[256], port[8], path[512], head[1400], resp[256];
	if (fu_parse_url(url, host, sizeof(host), port, sizeof(port), path, sizeof(path)) != 0) {
		snprintf(err, errlen, "WEBHOOK_URL is not an http:// URL");
		return -1;
	}
	int fd = connect_timeout(host, port, timeout_ms, err, errlen);
	if (fd < 0)
		return -1;
	int n = snprintf(head, sizeof(head),
			 "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nX-CP-Signature: sha256=%s\r\n"
			 "X-CP-Notification-Id: %s\r\nConnection: close\r\n\r\n",
			 path, host, port, strlen(body), sig, note_id);
	int status = -1;
	if (send_all(fd, head, (size_t)n) != 0 || send_all(fd, body, strlen(body)) != 0) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		goto out;
	}
	ssize_t got = recv(fd, resp, sizeof(resp) - 1, 0);
	if (got <= 0) {
		snprintf(err, errlen, "no response: %s", got == 0 ? "closed" : strerror(errno));
		goto out;
	}
	resp[got] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
		snprintf(err, errlen, "malformed status line");
		status = -1;
	} else if (status < 200 || status > 299) {
		snprintf(err, errlen, "webhook answered %d", status);
	}
out:
	close(fd);
	return status;
}

/* ---- adapters ----------------------------------------------------------------------------- */

static char *note_json(const struct fu_note *n)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "notification_id", n->id,
			      "complaint_no", n->complaint_no, "customer_ref", n->customer_ref,
			      "recipient", n->recipient, "step", n->step, "language", n->language,
			      "text", n->body, "attempt", n->attempts);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static int deliver_webhook(const struct fu_note *n, const char *json, char *err, size_t errlen)
{
	char sig[65];
	if (ids_hmac_hex(followup_cfg.webhook_secret, json, strlen(json), sig) != 0) {
		snprintf(err, errlen, "cannot sign");
		return -1;
	}
	int status = http_post(followup_cfg.webhook_url, json, sig, n->id,
			       (int)followup_cfg.webhook_timeout_ms, err, errlen);
	return status >= 200 && status <= 299 ? 0 : -1;
}

static int deliver_file(const struct fu_note *n, const char *json, char *err, size_t errlen)
{
	if (!followup_cfg.notify_file[0]) {
		log_msg(LOG_INFO, "notification_delivered",
			LOG_KV({"complaint_no", n->complaint_no}, {"step", n->step},
			       {"recipient", n->recipient}),
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

static const char *channel(void)
{
	return followup_cfg.webhook_url[0] ? "webhook" : "file";
}

static int deliver(const struct fu_note *n, char *err, size_t errlen)
{
	char *json = note_json(n);
	if (!json) {
		snprintf(err, errlen, "cannot encode");
		return -1;
	}
	int rc = followup_cfg.webhook_url[0] ? deliver_webhook(n, json, err, errlen)
					     : deliver_file(n, json, err, errlen);
	free(json);
	return rc;
}

/* ---- claiming and recording --------------------------------------------------------------- */

/* A customer's message waits (up to HOLD_S) until the case's received event, which carries
 * the customer_ref and language, has been seen. */
#define HOLD_S "60"

static int claim(PGconn *c, struct fu_note *notes, int max)
{
	char lease[24];
	snprintf(lease, sizeof(lease), "%lld", followup_cfg.webhook_timeout_ms * 2 / 1000 + 5);
	const char *p[] = {lease};
	PGresult *r = pg_query(
	    c,
	    "UPDATE notifications n SET attempts = n.attempts + 1, next_attempt_at = now() + "
	    "make_interval(secs => $1::int) FROM (SELECT q.id, k.customer_ref, k.language FROM "
	    "notifications q JOIN cases k USING (complaint_id) WHERE q.status = 'queued' AND "
	    "q.next_attempt_at <= now() AND (k.customer_ref <> '' OR q.recipient <> 'customer' OR "
	    "q.created_at < now() - interval '" HOLD_S " seconds') ORDER BY q.next_attempt_at, "
	    "q.id LIMIT " CLAIM_BATCH " FOR UPDATE OF q SKIP LOCKED) d WHERE n.id = d.id "
	    "RETURNING n.id, n.complaint_id, n.complaint_no, d.customer_ref, n.recipient, n.step, "
	    "CASE WHEN n.recipient = 'customer' THEN d.language ELSE n.language END, n.vars::text, "
	    "n.attempts",
	    1, p);
	if (!r)
		return -1;
	int count = PQntuples(r) < max ? PQntuples(r) : max;
	for (int i = 0; i < count; i++) {
		struct fu_note *n = &notes[i];
		char body[2048];
		snprintf(n->id, sizeof(n->id), "%s", PQgetvalue(r, i, 0));
		snprintf(n->complaint_id, sizeof(n->complaint_id), "%s", PQgetvalue(r, i, 1));
		snprintf(n->complaint_no, sizeof(n->complaint_no), "%s", PQgetvalue(r, i, 2));
		snprintf(n->customer_ref, sizeof(n->customer_ref), "%s", PQgetvalue(r, i, 3));
		snprintf(n->recipient, sizeof(n->recipient), "%s", PQgetvalue(r, i, 4));
		snprintf(n->step, sizeof(n->step), "%s", PQgetvalue(r, i, 5));
		snprintf(n->language, sizeof(n->language), "%s", PQgetvalue(r, i, 6));
		if (fu_render_step(c, n->step, n->language, n->complaint_no, PQgetvalue(r, i, 7),
				   body, sizeof(body)) != 0)
			body[0] = '\0';
		n->body = strdup(body);
		n->attempts = atoi(PQgetvalue(r, i, 8));
	}
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
	ev.channel = (char *)channel();
	ev.status = (char *)status;
	ev.language = (char *)n->language;
	ev.reason = (char *)(reason ? reason : "");
	char detail[128];
	snprintf(detail, sizeof(detail), "{\"step\":\"%s\",\"status\":\"%s\"}", n->step, status);
	if (fu_history(c, n->complaint_id, "cp.complaint.customer_notified", detail) != 0)
		return -1;
	return fu_announce(c, "cp.complaint.customer_notified", &ev);
}

static int record_success(PGconn *c, const struct fu_note *n)
{
	const char *p[] = {n->id, channel(), n->body, n->language, n->customer_ref};
	PGresult *r =
	    pg_query(c,
		     "UPDATE notifications SET status = 'delivered', delivered_at = now(), "
		     "channel = $2, last_error = '', body = $3, language = $4, customer_ref "
		     "= $5 WHERE id = $1 AND status = 'queued'",
		     5, p);
	if (!r)
		return -1;
	bool changed = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	metrics_add(
	    metrics_counter("cp_notifications_delivered_total", "Notifications delivered.", NULL),
	    1);
	return changed ? announce(c, n, "delivered", NULL) : 0;
}

static int record_failure(PGconn *c, const struct fu_note *n, const char *err)
{
	bool final = n->attempts >= followup_cfg.max_attempts;
	char delay[24];
	int64_t ms =
	    fu_backoff_ms(n->attempts, followup_cfg.backoff_ms, followup_cfg.backoff_max_ms);
	snprintf(delay, sizeof(delay), "%.3f", (double)ms / 1000.0);
	const char *p[] = {n->id, err, final ? "failed" : "queued", delay, channel()};
	if (pg_exec(
		c,
		"UPDATE notifications SET status = $3, last_error = $2, channel = $5, "
		"next_attempt_at = now() + make_interval(secs => $4::double precision) WHERE id "
		"= $1 AND status = 'queued'",
		5, p) != 0)
		return -1;
	if (!final) {
		log_msg(LOG_WARN, "notification_retry",
			LOG_KV({"complaint_no", n->complaint_no}, {"step", n->step}),
			"delivery attempt %d failed, retrying in %s s: %s", n->attempts, delay,
			err);
		return 0;
	}
	metrics_add(metrics_counter("cp_notifications_failed_total",
				    "Notifications given up after every retry.", NULL),
		    1);
	log_msg(LOG_ERROR, "notification_failed",
		LOG_KV({"complaint_no", n->complaint_no}, {"step", n->step}),
		"notification not delivered after %d attempts: %s", n->attempts, err);
	return announce(c, n, "failed", err);
}

static int record(PGconn *c, const struct fu_note *n, int ok, const char *err)
{
	if (pg_begin(c) != 0)
		return -1;
	int rc = ok == 0 ? record_success(c, n) : record_failure(c, n, err);
	if (rc != 0) {
		pg_rollback(c);
		return -1;
	}
	return pg_commit(c);
}

int fu_deliver_task(PGconn *c, void *arg)
{
	struct fu_note notes[10];
	int n = claim(c, notes, 10), rc = 0;
	if (n <= 0)
		return n;
	for (int i = 0; i < n; i++) {
		char err[256] = "";
		int ok = deliver(&notes[i], err, sizeof(err));
		if (rc == 0 && record(c, &notes[i], ok, err) != 0)
			rc = -1; /* the lease expires and the row is claimed again */
		free(notes[i].body);
	}
	return rc < 0 ? -1 : n;
}
