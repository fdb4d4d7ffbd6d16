/* HTTP server on libevent (evhttp).
 *
 * The loop thread only parses requests and sends replies. A route marked .db runs on one of
 * the worker threads, each owning a PostgreSQL connection (see pg.h): the loop thread copies
 * the request into a struct http_req, queues it, and a worker runs the handler with r->db
 * set; the reply goes back to the loop thread through event_base_once, which is thread-safe
 * because evthread_use_pthreads() is called before the base is created. Routes without .db
 * run on the loop thread and must not block.
 *
 * Bodies over the configured limit get 413, non-JSON content 415, malformed JSON or invalid
 * UTF-8 400, a method the path does not have 405 (with Allow), a method the server does not
 * know (or CONNECT) 501, each with a JSON body {"error": code, "message": ..., "fields":
 * [...]}. Every reply says X-Content-Type-Options: nosniff (a stored image is never read as a
 * page). */
#ifndef CP_HTTPD_H
#define CP_HTTPD_H

#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTPD_MAX_PARAMS  4
#define HTTPD_MAX_HEADERS 24

struct http_header {
	char *name;
	char *value;
};

struct http_req {
	/* request (read-only for handlers) */
	char method[8];
	char path[512];
	char *query;			    /* raw query string or NULL */
	char params[HTTPD_MAX_PARAMS][160]; /* the {} segments of the route pattern */
	int nparams;
	struct http_header headers[HTTPD_MAX_HEADERS];
	int nheaders;
	char *body; /* NUL-terminated copy */
	size_t body_len;
	PGconn *db;	   /* set for .db routes */
	const char *route; /* the matched pattern */
	/* the front door's X-Request-Id (made here when absent or unusable): returned in the
	 * reply and carried by every log line of the request */
	char request_id[72];
	unsigned roles; /* the matched route's roles */
	/* response (set by handlers through the http_reply_* helpers) */
	int status;
	char *resp_body;
	size_t resp_len; /* bytes of resp_body; 0 means strlen (text replies) */
	const char *resp_type;
	char location[256];
	char retry_after[24];  /* Retry-After seconds for 429/503, "" when none */
	char disposition[192]; /* Content-Disposition of a file reply, "" when none */
	/* Set-Cookie lines ("" when none): the session and its CSRF token */
	char set_cookie[2][640];
	char allow[48]; /* Allow for a 405: the methods the path has */
	/* internal */
	void *ev;
	struct httpd *srv;
	double started;
};

typedef void (*http_handler_fn)(struct http_req *r, void *arg);

struct http_route {
	const char *method;  /* "GET", "POST", ... */
	const char *pattern; /* "/v1/complaints/{}/survey": {} matches one segment */
	http_handler_fn fn;
	bool db;
	/* Who may call it (AUTH_* bits of auth.h; never 0: httpd_new refuses an undeclared
	 * route). The one place a route's roles are written: httpd_opts.authorize enforces them
	 * before the handler runs, `cp-<service> --routes` prints them for the nginx and OpenAPI
	 * tests (tests/system/test_api_contract.py). */
	unsigned roles;
};

struct httpd;

struct httpd_opts {
	const char *addr;
	int port;
	int workers;	      /* threads for .db routes */
	size_t max_body;      /* soft limit answered with a JSON 413 */
	const char *conninfo; /* for the workers' connections */
	void *arg;	      /* passed to every handler */
	size_t max_upload;    /* 0, or the soft limit of the largest binary upload a route takes */
	/* Runs on the loop thread before a matched route's handler: returns 0 to go on, or
	 * replies (401/403) itself and returns -1. NULL lets every request through. */
	int (*authorize)(struct http_req *r, unsigned roles);
};

struct httpd *httpd_new(struct event_base *base, const struct httpd_opts *o,
			const struct http_route *routes, size_t nroutes, char *errstr,
			size_t errlen);
/* Shutdown, loop thread only: stop accepting, keep running the loop until httpd_inflight()
 * is 0 (replies still travel through it), then httpd_free joins the workers and frees. */
void httpd_stop_accepting(struct httpd *h);
int httpd_inflight(struct httpd *h);
void httpd_free(struct httpd *h);

/* Header lookup (case-insensitive); NULL when absent. */
const char *http_req_header(const struct http_req *r, const char *name);
/* Query parameter lookup; returns a malloc'ed decoded value or NULL. */
char *http_req_query(const struct http_req *r, const char *name);

/* Parses the JSON object body. On failure replies 413/415/400 and returns NULL.
 * The caller json_decref()s the result. */
json_t *http_req_json(struct http_req *r);

/* A binary body (an upload) within max bytes: 0, or -1 after replying 413 {"error":
 * "body_too_large", "fields": [{"field": "body", ...}], "max_bytes": max}. A server taking
 * uploads sets httpd_opts.max_upload to its largest max so evhttp reads such a body at all. */
int http_req_body_within(struct http_req *r, size_t max) __attribute__((warn_unused_result));

/* Replies with obj (reference stolen). */
void http_reply_json(struct http_req *r, int status, json_t *obj);
/* Replies {"error": code, "message": message}. */
void http_reply_error(struct http_req *r, int status, const char *code, const char *message);
/* Replies {"error": code, "message": ..., "fields": fields} (fields stolen). */
void http_reply_fields(struct http_req *r, int status, const char *code, json_t *fields);
void http_reply_text(struct http_req *r, int status, const char *type, const char *text);
/* Sets Retry-After (seconds) on the reply; call before or after the http_reply_* call. */
void http_reply_retry_after(struct http_req *r, long seconds);
/* Adds a Set-Cookie header (at most two per reply; more are dropped and -1 returned). */
int http_reply_cookie(struct http_req *r, const char *line) __attribute__((warn_unused_result));
/* Replies with len bytes of data (which may hold NUL bytes, e.g. an image), copied. */
void http_reply_bytes(struct http_req *r, int status, const char *type, const void *data,
		      size_t len);
/* One entry of a "fields" array: {"field": field, "problem": problem}. */
json_t *http_field(const char *field, const char *problem);
/* Rolls back r->db's transaction and replies 503 (the database failed; the client may retry). */
void http_reply_db_error(struct http_req *r);
/* Runs sql with one parameter on r->db; its first column of the first row is JSON text, replied
 * with 200, or 404 {"error":"not_found","message":what} when there is no row. */
void http_reply_query_json(struct http_req *r, const char *sql, const char *param,
			   const char *what);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool http_utf8_valid(const char *s, size_t len);

#endif
