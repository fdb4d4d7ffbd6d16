/* GET /v1/stream: a staff member's notifications as Server-Sent Events, for the console.
 *
 * Each response is a short stream: it is held open on an HTTP worker until the person has
 * something new (checked every STREAM_POLL_MS) or STREAM_HOLD_MS pass, then it ends, and the
 * browser's EventSource reconnects at once (retry: below) sending Last-Event-ID, so a
 * notification reaches an open console well within 2 s and none is lost between two
 * responses. Every response ends with the cursor as an id-only block, which moves the
 * browser's Last-Event-ID even when nothing was sent.
 *
 * Why held requests and not one endless stream: the HTTP server answers each request once,
 * from a worker (httpd.h); an endless stream would need the event loop to own the
 * connection. Holding is bounded instead: at most STREAM_MAX_HELD streams wait at a time, so
 * the workers stay free for the API, and a stream beyond that answers at once (the browser
 * then polls every STREAM_RETRY_MS). The sleep between checks is on the worker thread, never
 * the event loop.
 *
 * Authentication: the staff bearer token, in the Authorization header or, because a
 * browser's EventSource cannot set headers, in ?access_token=. The cursor is the
 * notification id; without Last-Event-ID (or ?last_event_id=) a stream starts from now. A row
 * is served once it is STREAM_SETTLE_MS old, so that a transaction that took an id earlier
 * but commits later is not skipped by a cursor that already moved past it. */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "followup.h"
#include "log.h"
#include "notify.h"
#include "pg.h"

#define STREAM_POLL_MS	 200
#define STREAM_RETRY_MS	 250
#define STREAM_SETTLE_MS "300"
#define STREAM_BATCH	 "100"

static atomic_int fu_stream_held;

/* The cursor: Last-Event-ID, ?last_event_id=, else the newest notification now. */
static int fu_stream_cursor(struct http_req *r, long long *cursor)
{
	const char *h = http_req_header(r, "Last-Event-ID");
	char *q = h ? NULL : http_req_query(r, "last_event_id");
	const char *v = h ? h : q;
	char *end = NULL;
	if (v && v[0]) {
		*cursor = strtoll(v, &end, 10);
		bool ok = *end == '\0' && *cursor >= 0;
		free(q);
		return ok ? 0 : -1;
	}
	free(q);
	PGresult *res = pg_query(r->db, "SELECT coalesce(max(id), 0) FROM notifications", 0, NULL);
	if (!res)
		return -2;
	*cursor = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* Appends the person's notifications after *cursor to out as events; returns how many, or
 * -1 on a database error. */
static int fu_stream_fetch(PGconn *c, const char *recipient, long long *cursor, json_t *out)
{
	char after[24];
	snprintf(after, sizeof(after), "%lld", *cursor);
	const char *p[] = {recipient, after};
	PGresult *res = pg_query(
	    c,
	    "SELECT id, json_build_object('notification_id', id, 'complaint_no', complaint_no, "
	    "'step', step, 'language', language, 'text', body, 'at', created_at)::text, step "
	    "FROM notifications WHERE recipient = $1 AND id > $2::bigint AND created_at < now() - "
	    "interval '" STREAM_SETTLE_MS " milliseconds' ORDER BY id LIMIT " STREAM_BATCH,
	    2, p);
	if (!res)
		return -1;
	int n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		*cursor = atoll(PQgetvalue(res, i, 0));
		json_array_append_new(out, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)*cursor,
						     "data", PQgetvalue(res, i, 1), "event",
						     PQgetvalue(res, i, 2)));
	}
	PQclear(res);
	return n;
}

static char *fu_stream_body(json_t *events, long long cursor)
{
	size_t i;
	json_t *ev;
	char *body = NULL, *next = NULL;
	if (asprintf(&body, "retry: %d\n\n", STREAM_RETRY_MS) < 0)
		return NULL;
	json_array_foreach (events, i, ev) {
		if (asprintf(&next, "%sid: %lld\nevent: %s\ndata: %s\n\n", body,
			     (long long)json_integer_value(json_object_get(ev, "id")),
			     json_string_value(json_object_get(ev, "event")),
			     json_string_value(json_object_get(ev, "data"))) < 0)
			goto failed;
		free(body);
		body = next;
	}
	if (asprintf(&next, "%sid: %lld\n\n", body, cursor) < 0)
		goto failed;
	free(body);
	return next;
failed:
	free(body);
	return NULL;
}

/* Waits (bounded) for the person's next notifications. Returns their count or -1. */
static int fu_stream_wait(PGconn *c, const char *recipient, long long *cursor, json_t *events)
{
	bool hold = atomic_fetch_add(&fu_stream_held, 1) < fu_notify_cfg.stream_max_held;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int n;
	for (;;) {
		n = fu_stream_fetch(c, recipient, cursor, events);
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long waited =
		    (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (n != 0 || !hold || waited + STREAM_POLL_MS > fu_notify_cfg.stream_hold_ms)
			break;
		usleep(STREAM_POLL_MS * 1000);
	}
	atomic_fetch_sub(&fu_stream_held, 1);
	return n;
}

void fu_get_stream(struct http_req *r, void *arg)
{
	struct auth_principal who;
	long long cursor = 0;
	char recipient[80];
	/* the route admits staff, with the token in the header or in ?access_token= */
	if (auth_caller(r, &who) != 0)
		return;
	int rc = fu_stream_cursor(r, &cursor);
	if (rc == -1)
		return http_reply_fields(r, 422, "validation_failed",
					 json_pack("[{s:s, s:s}]", "field", "Last-Event-ID",
						   "problem", "a notification id"));
	if (rc != 0)
		return http_reply_db_error(r);
	snprintf(recipient, sizeof(recipient), "staff:%s", who.staff_id);
	json_t *events = json_array();
	char *body = NULL;
	if (fu_stream_wait(r->db, recipient, &cursor, events) < 0)
		http_reply_db_error(r);
	else if (!(body = fu_stream_body(events, cursor)))
		http_reply_error(r, 500, "internal", "cannot build the stream");
	else
		http_reply_text(r, 200, "text/event-stream; charset=utf-8", body);
	free(body);
	json_decref(events);
}
