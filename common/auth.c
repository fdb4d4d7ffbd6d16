#include "auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ids.h"
#include "session.h"
#include "tstamp.h"

#define AUTH_MAX 256

struct auth_token {
	char token[128];
	struct auth_principal who;
};

static struct auth_token auth_tokens[AUTH_MAX];
static size_t auth_n;
static pthread_rwlock_t auth_lock = PTHREAD_RWLOCK_INITIALIZER;

static const char *const auth_names[] = {"agent", "supervisor", "admin", "integration"};

int auth_role_parse(const char *name, unsigned *role)
{
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(name, auth_names[i]) == 0) {
			*role = 1u << i;
			return 0;
		}
	}
	return -1;
}

static const char *auth_role_name(unsigned role)
{
	for (unsigned i = 0; i < 4; i++)
		if (role == 1u << i)
			return auth_names[i];
	return "unknown";
}

static int auth_parse_entry(char *entry, struct auth_token *t, char *errstr, size_t errlen)
{
	char *save = NULL;
	char *token = strtok_r(entry, ":", &save);
	char *role = strtok_r(NULL, ":", &save);
	char *staff = strtok_r(NULL, ":", &save);
	if (!token || !role || !staff || strlen(token) < 8 || strlen(token) >= sizeof(t->token)) {
		snprintf(errstr, errlen,
			 "AUTH_TOKENS: entry %zu is not token:role:staff_id with a "
			 "token of 8 to 127 characters",
			 auth_n + 1);
		return -1;
	}
	if (auth_role_parse(role, &t->who.role) != 0) {
		snprintf(errstr, errlen, "AUTH_TOKENS: unknown role '%s'", role);
		return -1;
	}
	snprintf(t->token, sizeof(t->token), "%s", token);
	snprintf(t->who.staff_id, sizeof(t->who.staff_id), "%s", staff);
	t->who.role_name = auth_role_name(t->who.role);
	return 0;
}

int auth_load(const char *spec, char *errstr, size_t errlen)
{
	char *copy = strdup(spec ? spec : "");
	char *save = NULL;
	int rc = 0;
	if (!copy)
		return -1;
	pthread_rwlock_wrlock(&auth_lock);
	auth_n = 0;
	for (char *e = strtok_r(copy, ",", &save); e && rc == 0; e = strtok_r(NULL, ",", &save)) {
		while (*e == ' ')
			e++;
		if (!*e)
			continue;
		if (auth_n == AUTH_MAX) {
			snprintf(errstr, errlen, "AUTH_TOKENS: more than %d tokens", AUTH_MAX);
			rc = -1;
		} else if ((rc = auth_parse_entry(e, &auth_tokens[auth_n], errstr, errlen)) == 0) {
			auth_n++;
		}
	}
	pthread_rwlock_unlock(&auth_lock);
	free(copy);
	return rc;
}

static int auth_bearer(const struct http_req *r, struct auth_principal *out)
{
	const char *h = http_req_header(r, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return -1;
	const char *token = h + 7;
	int rc = -1;
	pthread_rwlock_rdlock(&auth_lock);
	for (size_t i = 0; i < auth_n; i++) {
		if (ids_equal(auth_tokens[i].token, token)) {
			*out = auth_tokens[i].who;
			rc = 0;
		}
	}
	pthread_rwlock_unlock(&auth_lock);
	return rc;
}

/* The session cookie's principal. Integration is a role for machines: a cookie claiming it
 * is refused (sessions are made for people, by classification, with a staff role). */
static enum session_verdict auth_session(const struct http_req *r, struct auth_principal *out)
{
	struct session_claims c;
	enum session_verdict v =
	    session_check(http_req_header(r, "Cookie"), tstamp_now_ms() / 1000, &c);
	if (v != SESSION_OK)
		return v;
	memset(out, 0, sizeof(*out));
	if (auth_role_parse(c.role, &out->role) != 0 || !(out->role & AUTH_STAFF))
		return SESSION_NONE;
	snprintf(out->staff_id, sizeof(out->staff_id), "%s", c.staff_id);
	out->role_name = auth_role_name(out->role);
	out->via_session = true;
	out->session_expires = c.expires;
	session_id_hash(c.sid, out->session_hash);
	return SESSION_OK;
}

/* Bearer first: an integration that sends its token means that token, whatever cookie a
 * shared browser profile might also carry. */
static enum session_verdict auth_who(const struct http_req *r, struct auth_principal *out)
{
	if (auth_bearer(r, out) == 0)
		return SESSION_OK;
	return auth_session(r, out);
}

int auth_identify(const struct http_req *r, struct auth_principal *out)
{
	return auth_who(r, out) == SESSION_OK ? 0 : -1;
}

bool auth_presented(const struct http_req *r)
{
	struct auth_principal who;
	return http_req_header(r, "Authorization") != NULL || auth_session(r, &who) == SESSION_OK;
}

static bool auth_safe_method(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* A cookie rides along on any request the browser makes, including one another site
 * triggers; SameSite=Strict stops that in current browsers, and this stops it in the rest:
 * the request must come from our own pages (Sec-Fetch-Site, when the browser sends it) and
 * carry the session's double-submit token, which only our pages can read (cp_csrf cookie). */
static bool auth_csrf_ok(const struct http_req *r, const struct auth_principal *who)
{
	char want[SESSION_HEX];
	const char *site = http_req_header(r, "Sec-Fetch-Site");
	const char *got = http_req_header(r, SESSION_CSRF_HEADER);
	if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
		return false;
	return got && session_csrf_token(who->session_hash, want) == 0 && ids_equal(want, got);
}

/* The bearer token (header), else with AUTH_QUERY_TOKEN one in ?access_token=, else the
 * session cookie. */
static enum session_verdict auth_who_route(const struct http_req *r, unsigned roles,
					   struct auth_principal *out)
{
	if (auth_bearer(r, out) == 0)
		return SESSION_OK;
	if ((roles & AUTH_QUERY_TOKEN) && !http_req_header(r, "Authorization")) {
		char *token = http_req_query(r, "access_token");
		int rc = -1;
		pthread_rwlock_rdlock(&auth_lock);
		for (size_t i = 0; token && token[0] && i < auth_n; i++) {
			if (ids_equal(auth_tokens[i].token, token)) {
				*out = auth_tokens[i].who;
				rc = 0;
			}
		}
		pthread_rwlock_unlock(&auth_lock);
		free(token);
		if (rc == 0)
			return SESSION_OK;
	}
	return auth_session(r, out);
}

/* Requires credentials whose role is in the exact set allowed; replies and returns -1. */
static int auth_check(struct http_req *r, unsigned roles, unsigned allowed,
		      struct auth_principal *out)
{
	struct auth_principal who;
	enum session_verdict v = auth_who_route(r, roles, &who);
	if (v == SESSION_UNVERIFIABLE) {
		http_reply_retry_after(r, 5);
		http_reply_error(r, 503, "sessions_unverifiable",
				 "signed-in sessions cannot be checked right now; retry, or use a "
				 "bearer token");
		return -1;
	}
	if (v != SESSION_OK) {
		http_reply_error(r, 401, "unauthorized", "sign in, or send a valid bearer token");
		return -1;
	}
	if (who.via_session && !auth_safe_method(r->method) && !auth_csrf_ok(r, &who)) {
		http_reply_error(r, 403, "csrf_refused",
				 "a signed-in request that changes something must come from the "
				 "console with its X-CSRF-Token");
		return -1;
	}
	if (!(who.role & allowed)) {
		http_reply_error(r, 403, "forbidden", "this role may not do that");
		return -1;
	}
	if (out)
		*out = who;
	return 0;
}

int auth_require(struct http_req *r, unsigned roles, struct auth_principal *out)
{
	unsigned allowed = roles | AUTH_ADMIN;
	if (roles & AUTH_AGENT)
		allowed |= AUTH_SUPERVISOR;
	return auth_check(r, 0, allowed, out);
}

int auth_route_check(struct http_req *r, unsigned roles)
{
	unsigned staff = roles & (AUTH_STAFF | AUTH_INTEGRATION);
	if (roles & (AUTH_PUBLIC | AUTH_SERVICE))
		return 0;
	/* a customer proves who they are in the handler (link token, phone); a member of staff
	 * who also may call the route is checked here when they present credentials */
	if ((roles & AUTH_CUSTOMER) && (!staff || !auth_presented(r)))
		return 0;
	return auth_check(r, roles, staff, NULL);
}

int auth_caller(struct http_req *r, struct auth_principal *out)
{
	if (auth_who_route(r, r->roles, out) == SESSION_OK)
		return 0;
	http_reply_error(r, 401, "unauthorized", "sign in, or send a valid bearer token");
	return -1;
}

void auth_roles_names(unsigned roles, char *out, size_t cap)
{
	static const char *const names[] = {"agent",  "supervisor", "admin",	   "integration",
					    "public", "customer",   "query_token", "service"};
	size_t n = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < 8; i++) {
		if (!(roles & (1u << i)))
			continue;
		int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", names[i]);
		if (w < 0 || (size_t)w >= cap - n)
			return;
		n += (size_t)w;
	}
}

int auth_customer_token(const char *secret, const char *complaint_no, char out[33])
{
	char msg[128], hex[65];
	int n = snprintf(msg, sizeof(msg), "case:%s", complaint_no);
	/* a number longer than any complaint number has no token (and the HMAC must never read
	 * past msg: snprintf returns the length it wanted, not the one it wrote) */
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -1;
	if (ids_hmac_hex(secret, msg, (size_t)n, hex) != 0)
		return -1;
	memcpy(out, hex, 32);
	out[32] = '\0';
	return 0;
}

int auth_keyring_init(struct auth_keyring *k, const char *name, const char *current,
		      const char *previous, const char *until, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	k->name = name;
	k->current = current;
	bool has_prev = previous && strspn(previous, ", \t\r\n") < strlen(previous);
	bool has_until = until && until[0];
	if (!has_prev && !has_until)
		return 0;
	if (!has_prev || !has_until) {
		snprintf(err, errlen,
			 "%s_PREVIOUS and %s_PREVIOUS_UNTIL go together: a previous key "
			 "is accepted for a grace period that ends",
			 name, name);
		return -1;
	}
	if (tstamp_parse(until, &k->previous_until_ms) != 0) {
		snprintf(err, errlen, "%s_PREVIOUS_UNTIL: not an RFC 3339 time", name);
		return -1;
	}
	char *copy = strdup(previous), *save = NULL;
	if (!copy) {
		snprintf(err, errlen, "%s_PREVIOUS: out of memory", name);
		return -1;
	}
	int rc = 0;
	for (char *t = strtok_r(copy, ",\r\n", &save); t && rc == 0;
	     t = strtok_r(NULL, ",\r\n", &save)) {
		while (*t == ' ' || *t == '\t')
			t++;
		size_t n = strlen(t);
		while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			t[--n] = '\0';
		if (!n)
			continue;
		if (k->nprevious == AUTH_KEYRING_MAX) {
			snprintf(err, errlen, "%s_PREVIOUS: at most %d keys", name,
				 AUTH_KEYRING_MAX);
			rc = -1;
		} else if (current && strcmp(t, current) == 0) {
			snprintf(err, errlen, "%s_PREVIOUS holds the current key", name);
			rc = -1;
		} else if (!(k->previous[k->nprevious++] = strdup(t))) {
			snprintf(err, errlen, "%s_PREVIOUS: out of memory", name);
			rc = -1;
		}
	}
	free(copy);
	if (rc != 0)
		auth_keyring_free(k);
	return rc;
}

void auth_keyring_free(struct auth_keyring *k)
{
	for (int i = 0; i < k->nprevious; i++)
		free(k->previous[i]);
	k->nprevious = 0;
	k->previous_until_ms = 0;
}

int auth_keyring_accepted(const struct auth_keyring *k, int64_t now_ms, const char **keys)
{
	int n = 0;
	keys[n++] = k->current;
	if (now_ms < k->previous_until_ms)
		for (int i = 0; i < k->nprevious; i++)
			keys[n++] = k->previous[i];
	return n;
}

bool auth_customer_token_check(const struct auth_keyring *k, const char *complaint_no,
			       const char *token, int64_t now_ms)
{
	const char *keys[AUTH_KEYRING_MAX + 1];
	char expect[33];
	bool ok = false;
	if (!token || !complaint_no)
		return false;
	int n = auth_keyring_accepted(k, now_ms, keys);
	for (int i = 0; i < n; i++)
		if (auth_customer_token(keys[i], complaint_no, expect) == 0 &&
		    ids_equal(token, expect))
			ok = true;
	return ok;
}

enum auth_case_verdict auth_case_verdict(const struct auth_principal *who, const char *owner,
					 bool conflicted)
{
	if (conflicted)
		return AUTH_CASE_CONFLICT;
	if (who->role & (AUTH_SUPERVISOR | AUTH_ADMIN))
		return AUTH_CASE_OK;
	/* an empty owner never matches: nobody but a supervisor acts on an unaccepted case */
	if ((who->role & AUTH_AGENT) && owner && owner[0] && strcmp(owner, who->staff_id) == 0)
		return AUTH_CASE_OK;
	return AUTH_CASE_NOT_OWNER;
}

bool auth_kind_is_person(const char *kind)
{
	return kind && (strcmp(kind, "courier") == 0 || strcmp(kind, "agent") == 0);
}

static bool auth_is(const char *staff_id, const char *kind, const char *id)
{
	return auth_kind_is_person(kind) && id && id[0] && strcmp(id, staff_id) == 0;
}

bool auth_case_names(const char *staff_id, const char *target_kind, const char *target_id,
		     const char *party_kind, const char *party_id)
{
	if (!staff_id || !staff_id[0])
		return false;
	return auth_is(staff_id, target_kind, target_id) || auth_is(staff_id, party_kind, party_id);
}

void auth_case_refuse(struct http_req *r, enum auth_case_verdict v, const char *action)
{
	char msg[200];
	if (v == AUTH_CASE_CONFLICT) {
		snprintf(msg, sizeof(msg),
			 "the complaint or its evidence names you: another person must %s", action);
		http_reply_error(r, 403, "conflict_of_interest", msg);
	} else if (v == AUTH_CASE_NOT_OWNER) {
		snprintf(msg, sizeof(msg), "only the case's owner or a supervisor may %s", action);
		http_reply_error(r, 403, "not_owner", msg);
	}
}
