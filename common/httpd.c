#include "httpd.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "tstamp.h"

struct httpd_queue_item {
	struct http_req *req;
	const struct http_route *route; /* the matched route (method and pattern) */
	struct httpd_queue_item *next;
};

struct httpd_worker {
	struct httpd *srv;
	pthread_t thread;
	struct pg_conn pg;
};

struct httpd {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct httpd_opts opts;
	const struct http_route *routes;
	size_t nroutes;
	struct httpd_worker *workers;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct httpd_queue_item *head, *tail;
	int inflight;
	bool stopping;
};

bool http_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned char c = *p;
		size_t n = c < 0x80		? 0
			   : (c & 0xe0) == 0xc0 ? 1
			   : (c & 0xf0) == 0xe0 ? 2
			   : (c & 0xf8) == 0xf0 ? 3
						: 9;
		if (n == 9 || (size_t)(end - p) <= n || (n == 1 && c < 0xc2) || c > 0xf4)
			return false;
		for (size_t i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		if ((n == 2 && c == 0xe0 && p[1] < 0xa0) || (n == 2 && c == 0xed && p[1] > 0x9f) ||
		    (n == 3 && c == 0xf0 && p[1] < 0x90) || (n == 3 && c == 0xf4 && p[1] > 0x8f))
			return false;
		p += n + 1;
	}
	return true;
}

const char *http_req_header(const struct http_req *r, const char *name)
{
	for (int i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

char *http_req_query(const struct http_req *r, const char *name)
{
	struct evkeyvalq q;
	char *out = NULL;
	if (!r->query || evhttp_parse_query_str(r->query, &q) != 0)
		return NULL;
	const char *v = evhttp_find_header(&q, name);
	if (v)
		out = strdup(v);
	evhttp_clear_headers(&q);
	return out;
}

void http_reply_text(struct http_req *r, int status, const char *type, const char *text)
{
	free(r->resp_body);
	r->status = status;
	r->resp_type = type;
	r->resp_body = strdup(text ? text : "");
	r->resp_len = 0;
}

void http_reply_bytes(struct http_req *r, int status, const char *type, const void *data,
		      size_t len)
{
	free(r->resp_body);
	r->resp_body = malloc(len ? len : 1);
	if (!r->resp_body) {
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	memcpy(r->resp_body, data, len);
	r->status = status;
	r->resp_type = type;
	/* an empty binary body is sent as an empty text body */
	r->resp_len = len;
	if (len == 0)
		r->resp_body[0] = '\0';
}

void http_reply_json(struct http_req *r, int status, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(obj);
	free(r->resp_body);
	r->status = status;
	r->resp_type = "application/json";
	r->resp_body = s ? s : strdup("{}");
	r->resp_len = 0;
}

void http_reply_error(struct http_req *r, int status, const char *code, const char *message)
{
	http_reply_json(r, status, json_pack("{s:s, s:s}", "error", code, "message", message));
}

void http_reply_fields(struct http_req *r, int status, const char *code, json_t *fields)
{
	http_reply_json(r, status,
			json_pack("{s:s, s:s, s:o}", "error", code, "message",
				  "the request has invalid fields", "fields", fields));
}

json_t *http_field(const char *field, const char *problem)
{
	return json_pack("{s:s, s:s}", "field", field, "problem", problem);
}

static json_t *http_fields1(const char *field, const char *problem)
{
	json_t *arr = json_array();
	json_array_append_new(arr, http_field(field, problem));
	return arr;
}

int http_req_body_within(struct http_req *r, size_t max)
{
	if (r->body_len <= max)
		return 0;
	char msg[96];
	snprintf(msg, sizeof(msg), "larger than %zu bytes", max);
	http_reply_json(r, 413,
			json_pack("{s:s, s:s, s:o, s:I}", "error", "body_too_large", "message",
				  "the upload is too large", "fields", http_fields1("body", msg),
				  "max_bytes", (json_int_t)max));
	return -1;
}

void http_reply_db_error(struct http_req *r)
{
	pg_rollback(r->db);
	http_reply_error(r, 503, "unavailable", "database error; retry");
}

void http_reply_query_json(struct http_req *r, const char *sql, const char *param, const char *what)
{
	const char *p[] = {param};
	PGresult *res = pg_query(r->db, sql, 1, p);
	if (!res)
		return http_reply_error(r, 503, "unavailable", "database error; retry");
	json_t *obj = PQntuples(res) && !PQgetisnull(res, 0, 0)
			  ? json_loads(PQgetvalue(res, 0, 0), 0, NULL)
			  : NULL;
	PQclear(res);
	if (!obj)
		return http_reply_error(r, 404, "not_found", what);
	http_reply_json(r, 200, obj);
}

json_t *http_req_json(struct http_req *r)
{
	const char *ct = http_req_header(r, "Content-Type");
	if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
		http_reply_fields(r, 415, "unsupported_media_type",
				  http_fields1("Content-Type", "must be application/json"));
		return NULL;
	}
	if (r->body_len > r->srv->opts.max_body) {
		char msg[96];
		snprintf(msg, sizeof(msg), "larger than %zu bytes", r->srv->opts.max_body);
		http_reply_fields(r, 413, "body_too_large", http_fields1("body", msg));
		return NULL;
	}
	if (!http_utf8_valid(r->body, r->body_len)) {
		http_reply_fields(r, 400, "invalid_utf8",
				  http_fields1("body", "is not valid UTF-8"));
		return NULL;
	}
	json_error_t err;
	json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &err);
	if (!j || !json_is_object(j)) {
		char msg[256];
		snprintf(msg, sizeof(msg), "is not a JSON object%s%s", j ? "" : ": ",
			 j ? "" : err.text);
		json_decref(j);
		http_reply_fields(r, 400, "malformed_json", http_fields1("body", msg));
		return NULL;
	}
	return j;
}

/* Matches path against pattern, capturing {} segments. */
static bool httpd_match(const char *pattern, const char *path, struct http_req *r)
{
	int np = 0;
	while (*pattern && *path) {
		if (pattern[0] == '{' && pattern[1] == '}') {
			const char *end = strchr(path, '/');
			size_t len = end ? (size_t)(end - path) : strlen(path);
			if (len == 0 || len >= sizeof(r->params[0]) || np >= HTTPD_MAX_PARAMS)
				return false;
			memcpy(r->params[np], path, len);
			r->params[np++][len] = '\0';
			path += len;
			pattern += 2;
		} else if (*pattern++ != *path++) {
			return false;
		}
	}
	if (*pattern || *path)
		return false;
	r->nparams = np;
	return true;
}

static void httpd_req_free(struct http_req *r)
{
	for (int i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->query);
	free(r->body);
	free(r->resp_body);
	free(r);
}

static void httpd_observe(struct http_req *r)
{
	char labels[256];
	snprintf(labels, sizeof(labels), "method=\"%s\",route=\"%s\",status=\"%d\"", r->method,
		 r->route ? r->route : "unmatched", r->status);
	metrics_add(metrics_counter("cp_http_requests_total", "HTTP requests answered.", labels),
		    1);
	snprintf(labels, sizeof(labels), "route=\"%s\"", r->route ? r->route : "unmatched");
	metrics_observe(
	    metrics_histogram("cp_http_request_seconds", "HTTP request latency.", labels, NULL, 0),
	    tstamp_mono() - r->started);
}

void http_reply_retry_after(struct http_req *r, long seconds)
{
	snprintf(r->retry_after, sizeof(r->retry_after), "%ld", seconds > 0 ? seconds : 1);
}

int http_reply_cookie(struct http_req *r, const char *line)
{
	for (size_t i = 0; i < 2; i++) {
		if (!r->set_cookie[i][0]) {
			int n = snprintf(r->set_cookie[i], sizeof(r->set_cookie[i]), "%s", line);
			if (n > 0 && (size_t)n < sizeof(r->set_cookie[i]))
				return 0;
			r->set_cookie[i][0] = '\0';
			return -1;
		}
	}
	return -1;
}

/* Loop thread: sends the reply and frees the request. */
static void httpd_send(struct http_req *r)
{
	struct evhttp_request *ev = r->ev;
	struct evkeyvalq *out = evhttp_request_get_output_headers(ev);
	struct evbuffer *buf = evbuffer_new();
	if (r->status == 0)
		http_reply_error(r, 500, "internal", "the handler produced no response");
	evhttp_add_header(out, "Content-Type", r->resp_type ? r->resp_type : "application/json");
	/* every answer is one caller's (a case, a photo, a session): no cache keeps it, and a
	 * shared one (a proxy between the customer and us) is told so explicitly */
	evhttp_add_header(out, "Cache-Control", "private, no-store");
	if (r->location[0])
		evhttp_add_header(out, "Location", r->location);
	if (r->retry_after[0])
		evhttp_add_header(out, "Retry-After", r->retry_after);
	if (r->disposition[0])
		evhttp_add_header(out, "Content-Disposition", r->disposition);
	if (r->status == 405 && r->allow[0])
		evhttp_add_header(out, "Allow", r->allow);
	/* libevent reads no body after a method it does not know, so whatever the client sent
	 * after the headers must not be read as the next request on this connection */
	if (r->status == 501)
		evhttp_add_header(out, "Connection", "close");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	for (size_t i = 0; i < 2; i++)
		if (r->set_cookie[i][0])
			evhttp_add_header(out, "Set-Cookie", r->set_cookie[i]);
	evhttp_add_header(out, "X-Request-Id", r->request_id);
	/* HEAD: the headers of the GET, no body (libevent would send the body) */
	if (buf && r->resp_body && strcmp(r->method, "HEAD") != 0)
		evbuffer_add(buf, r->resp_body, r->resp_len ? r->resp_len : strlen(r->resp_body));
	evhttp_send_reply(ev, r->status, NULL, buf);
	if (buf)
		evbuffer_free(buf);
	httpd_observe(r);
	/* a failed request is logged with its id, so the operator can find it in nginx's log and
	 * in every service it touched; the rest only at debug (nginx logs every request) */
	log_msg(r->status >= 500 && r->status != 501 ? LOG_WARN : LOG_DEBUG, "http_request",
		LOG_KV({"request_id", r->request_id}, {"method", r->method},
		       {"route", r->route ? r->route : "unmatched"}),
		"answered %d", r->status);
	struct httpd *srv = r->srv;
	httpd_req_free(r);
	pthread_mutex_lock(&srv->lock);
	srv->inflight--;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

static void httpd_send_cb(evutil_socket_t fd, short what, void *arg)
{
	httpd_send(arg);
}

static void *httpd_worker_main(void *arg)
{
	struct httpd_worker *w = arg;
	struct httpd *srv = w->srv;
	for (;;) {
		pthread_mutex_lock(&srv->lock);
		while (!srv->head && !srv->stopping)
			pthread_cond_wait(&srv->cond, &srv->lock);
		struct httpd_queue_item *it = srv->head;
		if (!it) {
			pthread_mutex_unlock(&srv->lock);
			return NULL;
		}
		srv->head = it->next;
		if (!srv->head)
			srv->tail = NULL;
		pthread_mutex_unlock(&srv->lock);
		struct http_req *r = it->req;
		const struct http_route *rt = it->route;
		free(it);
		r->db = pg_conn_get(&w->pg);
		log_context_set("request_id", r->request_id);
		if (!r->db)
			http_reply_error(r, 503, "unavailable", "the database is not reachable");
		else
			rt->fn(r, srv->opts.arg);
		log_context_set("request_id", NULL);
		if (r->db && PQstatus(r->db) != CONNECTION_OK)
			pg_conn_reset(&w->pg);
		r->db = NULL;
		if (event_base_once(srv->base, -1, EV_TIMEOUT, httpd_send_cb, r, NULL) != 0)
			log_error("http_reply", "cannot schedule a reply");
	}
}

static void httpd_enqueue(struct httpd *srv, struct http_req *r, const struct http_route *rt)
{
	struct httpd_queue_item *it = calloc(1, sizeof(*it));
	if (!it) {
		http_reply_error(r, 503, "unavailable", "out of memory");
		httpd_send(r);
		return;
	}
	it->req = r;
	it->route = rt;
	pthread_mutex_lock(&srv->lock);
	if (srv->tail)
		srv->tail->next = it;
	else
		srv->head = it;
	srv->tail = it;
	pthread_cond_signal(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

static void httpd_copy_headers(struct http_req *r, struct evhttp_request *ev)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(ev);
	for (struct evkeyval *kv = in->tqh_first; kv && r->nheaders < HTTPD_MAX_HEADERS;
	     kv = kv->next.tqe_next) {
		r->headers[r->nheaders].name = strdup(kv->key);
		r->headers[r->nheaders].value = strdup(kv->value);
		r->nheaders++;
	}
}

/* The id nginx passes (it makes one when the client sent none) is kept when it is a plain
 * token; anything else (absent when the service is called directly, too long, characters that
 * would corrupt a log line or a header) is replaced by a fresh UUID. */
static void httpd_request_id(struct http_req *r)
{
	const char *rid = http_req_header(r, "X-Request-Id");
	size_t n = rid ? strlen(rid) : 0;
	bool ok = n > 0 && n < sizeof(r->request_id);
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)rid[i]) || strchr("-_.:", rid[i]);
	if (ok)
		memcpy(r->request_id, rid, n + 1);
	else
		ids_uuid(r->request_id);
}

static struct http_req *httpd_copy_request(struct httpd *srv, struct evhttp_request *ev)
{
	struct http_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->ev = ev;
	r->srv = srv;
	r->started = tstamp_mono();
	static const char *const names[] = {"GET",     "POST",	"HEAD",	   "PUT",  "DELETE",
					    "OPTIONS", "TRACE", "CONNECT", "PATCH"};
	enum evhttp_cmd_type cmd = evhttp_request_get_command(ev);
	for (int i = 0; i < 9; i++)
		if ((int)cmd == (1 << i))
			snprintf(r->method, sizeof(r->method), "%s", names[i]);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	snprintf(r->path, sizeof(r->path), "%s", path && *path ? path : "/");
	r->query = query ? strdup(query) : NULL;
	httpd_copy_headers(r, ev);
	httpd_request_id(r);
	struct evbuffer *in = evhttp_request_get_input_buffer(ev);
	r->body_len = evbuffer_get_length(in);
	r->body = malloc(r->body_len + 1);
	if (r->body) {
		evbuffer_copyout(in, r->body, r->body_len);
		r->body[r->body_len] = '\0';
	}
	return r;
}

/* The route of r's method and path. HEAD is answered as GET (libevent sends no body). When
 * the path exists with other methods only, *path_known is set and r->allow lists them. */
static const struct http_route *httpd_route(struct httpd *srv, struct http_req *r, bool *path_known)
{
	const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
	size_t n = 0;
	*path_known = false;
	for (size_t i = 0; i < srv->nroutes; i++) {
		if (!httpd_match(srv->routes[i].pattern, r->path, r))
			continue;
		*path_known = true;
		r->route = srv->routes[i].pattern;
		if (strcmp(srv->routes[i].method, method) == 0) {
			r->roles = srv->routes[i].roles;
			return &srv->routes[i];
		}
		int w = snprintf(r->allow + n, sizeof(r->allow) - n, "%s%s", n ? ", " : "",
				 srv->routes[i].method);
		if (w > 0 && (size_t)w < sizeof(r->allow) - n)
			n += (size_t)w;
		if (strcmp(srv->routes[i].method, "GET") == 0 && n + 6 < sizeof(r->allow))
			n += (size_t)snprintf(r->allow + n, sizeof(r->allow) - n, ", HEAD");
	}
	return NULL;
}

/* libevent 2.1 marks a request whose method it does not know with this bit of the command
 * (EVHTTP_REQ_UNKNOWN_ in its http-internal.h, not in the public headers) and refuses it
 * unless the bit is among the allowed methods. */
#define HTTPD_REQ_UNKNOWN (1u << 15)

static void httpd_dispatch(struct evhttp_request *ev, void *arg)
{
	struct httpd *srv = arg;
	struct http_req *r = httpd_copy_request(srv, ev);
	if (!r) {
		evhttp_send_error(ev, 503, "out of memory");
		return;
	}
	pthread_mutex_lock(&srv->lock);
	srv->inflight++;
	pthread_mutex_unlock(&srv->lock);
	bool known;
	const struct http_route *rt = httpd_route(srv, r, &known);
	if (!r->method[0] || strcmp(r->method, "CONNECT") == 0) {
		/* RFC 9110 15.6.2: a method the server does not recognise (or a tunnel it does not
		 * offer) is 501, whatever the path; in JSON like every other refusal */
		http_reply_error(r, 501, "not_implemented", "this method is not supported");
		httpd_send(r);
	} else if (!rt) {
		if (known)
			http_reply_error(r, 405, "method_not_allowed", "method not allowed here");
		else
			http_reply_error(r, 404, "not_found", "no such resource");
		httpd_send(r);
	} else if (srv->opts.authorize && srv->opts.authorize(r, rt->roles) != 0) {
		httpd_send(r);
	} else if (rt->db) {
		httpd_enqueue(srv, r, rt);
	} else {
		log_context_set("request_id", r->request_id);
		rt->fn(r, srv->opts.arg);
		log_context_set("request_id", NULL);
		httpd_send(r);
	}
}

static int httpd_start_workers(struct httpd *h, char *errstr, size_t errlen)
{
	h->workers = calloc((size_t)h->opts.workers, sizeof(*h->workers));
	if (!h->workers)
		return -1;
	for (int i = 0; i < h->opts.workers; i++) {
		h->workers[i].srv = h;
		if (pg_conn_init(&h->workers[i].pg, h->opts.conninfo, "http") != 0 ||
		    pthread_create(&h->workers[i].thread, NULL, httpd_worker_main,
				   &h->workers[i]) != 0) {
			snprintf(errstr, errlen, "cannot start http worker %d", i);
			h->opts.workers = i;
			return -1;
		}
	}
	return 0;
}

struct httpd *httpd_new(struct event_base *base, const struct httpd_opts *o,
			const struct http_route *routes, size_t nroutes, char *errstr,
			size_t errlen)
{
	struct httpd *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->base = base;
	h->opts = *o;
	h->routes = routes;
	h->nroutes = nroutes;
	for (size_t i = 0; i < nroutes; i++) {
		if (routes[i].roles == 0) {
			/* a route nobody declared the callers of would be open or shut by accident
			 */
			snprintf(errstr, errlen,
				 "route %s %s declares no roles: add them as the route's fifth "
				 "field (AUTH_* in common/auth.h)",
				 routes[i].method, routes[i].pattern);
			free(h);
			return NULL;
		}
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->http = evhttp_new(base);
	if (!h->http)
		goto failed;
	/* The soft limits get a JSON 413 (http_req_json, http_req_body_within); this is the hard
	 * stop, far enough above them that a body just over a limit is told which limit. */
	size_t hard = o->max_body * 4 > o->max_upload * 2 ? o->max_body * 4 : o->max_upload * 2;
	evhttp_set_max_body_size(h->http, (ev_ssize_t)(hard + 4096));
	evhttp_set_max_headers_size(h->http, 16384);
	evhttp_set_timeout(h->http, 30);
	/* every method libevent knows reaches the routes, so HEAD answers as GET and OPTIONS or
	 * TRACE get the JSON 405 with Allow. A method it does not know (or CONNECT) would get
	 * libevent's own HTML 501 before any callback, unless its bit is allowed too: then
	 * httpd_dispatch answers the JSON 501 (tests/unit/test_common_messaging.c pins it). */
	evhttp_set_allowed_methods(
	    h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
			 EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS |
			 EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | HTTPD_REQ_UNKNOWN);
	evhttp_set_gencb(h->http, httpd_dispatch, h);
	h->sock = evhttp_bind_socket_with_handle(h->http, o->addr, (ev_uint16_t)o->port);
	if (!h->sock) {
		snprintf(errstr, errlen, "cannot listen on %s:%d", o->addr, o->port);
		goto failed;
	}
	if (httpd_start_workers(h, errstr, errlen) != 0)
		goto failed;
	return h;
failed:
	httpd_free(h);
	return NULL;
}

void httpd_stop_accepting(struct httpd *h)
{
	if (h->sock)
		evhttp_del_accept_socket(h->http, h->sock);
	h->sock = NULL;
}

int httpd_inflight(struct httpd *h)
{
	pthread_mutex_lock(&h->lock);
	int n = h->inflight;
	pthread_mutex_unlock(&h->lock);
	return n;
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	httpd_stop_accepting(h);
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	for (int i = 0; h->workers && i < h->opts.workers; i++) {
		pthread_join(h->workers[i].thread, NULL);
		pg_conn_release(&h->workers[i].pg);
	}
	free(h->workers);
	if (h->http)
		evhttp_free(h->http);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h);
}
