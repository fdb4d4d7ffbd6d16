/* Staff sign-in, sessions and credentials (see signin.h). */
#include "signin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "ids.h"
#include "log.h"
#include "password.h"
#include "pg.h"
#include "session.h"
#include "throttle.h"
#include "tstamp.h"

struct signin_config signin_cfg;

static const char *const signin_roles[] = {"agent", "supervisor", "admin"};

int signin_init(char *errstr, size_t errlen)
{
	if (password_init((unsigned long long)signin_cfg.pw_ops, (size_t)signin_cfg.pw_mem_kib,
			  (unsigned)signin_cfg.pw_concurrent) != 0) {
		snprintf(errstr, errlen,
			 "PASSWORD_OPSLIMIT/PASSWORD_MEMLIMIT_KIB: libsodium cannot hash with this "
			 "cost on this machine");
		return -1;
	}
	return 0;
}

/* --- small helpers --- */

static bool signin_id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 60)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

static const char *signin_role_of(const char *name)
{
	for (size_t i = 0; name && i < 3; i++)
		if (strcmp(name, signin_roles[i]) == 0)
			return signin_roles[i];
	return NULL;
}

/* The client's address as nginx saw it: the last X-Forwarded-For entry is the one nginx
 * appended (earlier ones are whatever the client claimed). Direct callers share one key. */
static void signin_client(const struct http_req *r, char *out, size_t cap)
{
	const char *xff = http_req_header(r, "X-Forwarded-For");
	const char *last = xff ? strrchr(xff, ',') : NULL;
	const char *v = last ? last + 1 : xff;
	while (v && *v == ' ')
		v++;
	snprintf(out, cap, "%.64s", v && *v ? v : "direct");
}

void signin_cookie_attrs(char *out, size_t cap, long long max_age, bool http_only, bool secure)
{
	snprintf(out, cap, "; Path=/; Max-Age=%lld; SameSite=Strict%s%s", max_age,
		 http_only ? "; HttpOnly" : "", secure ? "; Secure" : "");
}

static bool signin_secure(const struct http_req *r)
{
	const char *proto = http_req_header(r, "X-Forwarded-Proto");
	return signin_cfg.cookie_secure || (proto && strcmp(proto, "https") == 0);
}

/* Sets both cookies (value NULL: clears them). */
static void signin_cookies(struct http_req *r, const char *session_value, const char *csrf,
			   long long max_age)
{
	char attrs[96], line[640];
	bool secure = signin_secure(r);
	signin_cookie_attrs(attrs, sizeof(attrs), session_value ? max_age : 0, true, secure);
	snprintf(line, sizeof(line), "%s=%s%s", SESSION_COOKIE, session_value ? session_value : "",
		 attrs);
	if (http_reply_cookie(r, line) != 0)
		log_error("session_cookie_not_set", "the session cookie did not fit the reply");
	/* the CSRF token is readable by our pages (not HttpOnly): they echo it in X-CSRF-Token */
	signin_cookie_attrs(attrs, sizeof(attrs), session_value ? max_age : 0, false, secure);
	snprintf(line, sizeof(line), "%s=%s%s", SESSION_CSRF_COOKIE, csrf ? csrf : "", attrs);
	if (http_reply_cookie(r, line) != 0)
		log_error("session_cookie_not_set", "the CSRF cookie did not fit the reply");
}

/* --- failed attempts (per staff id and client, and per client) --- */

/* Seconds until this staff id from this client may try again (0: now), or -1. */
static long signin_throttled(PGconn *c, const char *pair_key, const char *client_key)
{
	const struct throttle t = {"signin_failures", signin_cfg.window_s, signin_cfg.max_per_staff,
				   signin_cfg.max_per_client};
	return throttle_wait(c, &t, pair_key, client_key);
}

/* Counts a failure against both keys; a window that has passed starts again at one. */
static void signin_failed(PGconn *c, const char *pair_key, const char *client_key)
{
	const struct throttle t = {"signin_failures", signin_cfg.window_s, signin_cfg.max_per_staff,
				   signin_cfg.max_per_client};
	if (throttle_failed(c, &t, pair_key, client_key) != 0)
		log_warn("signin_failure_not_counted", "a failed sign-in could not be counted");
}

struct signin_keys {
	char pair[200];
	char client[80];
};

static void signin_keys_of(const struct http_req *r, const char *staff_id, struct signin_keys *k)
{
	char addr[72];
	signin_client(r, addr, sizeof(addr));
	snprintf(k->pair, sizeof(k->pair), "id:%s|%s", staff_id, addr);
	snprintf(k->client, sizeof(k->client), "ip:%s", addr);
}

/* Replies 429 (or 503) and returns true when the keys are over their limit. */
static bool signin_refuse_throttled(struct http_req *r, const struct signin_keys *k)
{
	long wait = signin_throttled(r->db, k->pair, k->client);
	if (wait < 0) {
		http_reply_db_error(r);
		return true;
	}
	if (wait == 0)
		return false;
	http_reply_retry_after(r, wait);
	http_reply_error(r, 429, "too_many_attempts",
			 "too many failed sign-ins for this staff id from here; try again later");
	return true;
}

/* --- sessions --- */

/* Revokes staff_id's live sessions except keep_hash (NULL: all), here at once and, through
 * the revocations the services fetch, everywhere. Returns 0 or -1. */
static int signin_revoke_staff(PGconn *c, const char *staff_id, const char *keep_hash,
			       const char *why)
{
	const char *p[] = {staff_id, keep_hash, why};
	PGresult *res = pg_query(
	    c,
	    "UPDATE staff_sessions SET revoked_at = now(), revoked_why = $3 WHERE staff_id = $1 "
	    "AND revoked_at IS NULL AND expires_at > now() AND sid_hash IS DISTINCT FROM $2 "
	    "RETURNING sid_hash, extract(epoch FROM expires_at)::bigint",
	    3, p);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		session_revoke_local(PQgetvalue(res, i, 0), atoll(PQgetvalue(res, i, 1)));
	PQclear(res);
	return 0;
}

void signin_issue(struct http_req *r, const char *staff_id, const char *role)
{
	struct session_claims c = {0};
	char hash[SESSION_HEX], csrf[SESSION_HEX], value[SESSION_COOKIE_MAX], expires[24];
	session_new_id(c.sid);
	snprintf(c.staff_id, sizeof(c.staff_id), "%s", staff_id);
	snprintf(c.role, sizeof(c.role), "%s", role);
	c.expires = tstamp_now_ms() / 1000 + signin_cfg.session_ttl_s;
	session_id_hash(c.sid, hash);
	snprintf(expires, sizeof(expires), "%lld", c.expires);
	if (session_cookie_make(&c, value, sizeof(value)) != 0 ||
	    session_csrf_token(hash, csrf) != 0) {
		http_reply_error(r, 500, "internal", "the session could not be made");
		return;
	}
	const char *p[] = {hash, staff_id, role, expires};
	if (pg_exec(r->db,
		    "INSERT INTO staff_sessions (sid_hash, staff_id, role, expires_at) VALUES ($1, "
		    "$2, $3, to_timestamp($4::bigint))",
		    4, p) != 0) {
		http_reply_db_error(r);
		return;
	}
	signin_cookies(r, value, csrf, signin_cfg.session_ttl_s);
	char at[TSTAMP_LEN];
	tstamp_format((int64_t)c.expires * 1000, at);
	log_msg(LOG_INFO, "staff_signed_in", LOG_KV({"staff_id", staff_id}), "a session began");
	http_reply_json(r, 200,
			json_pack("{s:s, s:s, s:s, s:s, s:s}", "staff_id", staff_id, "role", role,
				  "via", "session", "expires_at", at, "csrf_token", csrf));
}

/* --- POST /v1/auth/session --- */

/* The stored hash and role of staff_id into hash/role ("" when there is none). -1: the
 * database failed. */
static int signin_lookup(PGconn *c, const char *staff_id, char hash[PASSWORD_HASH_MAX],
			 char role[16])
{
	const char *p[] = {staff_id};
	hash[0] = role[0] = '\0';
	PGresult *res = pg_query(
	    c, "SELECT password_hash, role FROM staff_credentials WHERE staff_id = $1", 1, p);
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		snprintf(hash, PASSWORD_HASH_MAX, "%s", PQgetvalue(res, 0, 0));
		snprintf(role, 16, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return 0;
}

/* After a successful sign-in: forget this pair's failures and bring an old hash up to the
 * configured cost (the password is at hand only now). */
static void signin_after_success(PGconn *c, const struct signin_keys *k, const char *staff_id,
				 const char *hash, const char *password)
{
	char fresh[PASSWORD_HASH_MAX];
	if (pg_exec(c, "DELETE FROM signin_failures WHERE key = $1", 1,
		    (const char *[]){k->pair}) != 0)
		log_warn("signin_failures_not_cleared", "the failed sign-ins were not cleared");
	if (!password_needs_rehash(hash) || password_hash(password, fresh) != 0)
		return;
	const char *p[] = {staff_id, fresh, hash};
	if (pg_exec(c,
		    "UPDATE staff_credentials SET password_hash = $2 WHERE staff_id = $1 AND "
		    "password_hash = $3",
		    3, p) != 0)
		log_warn("password_not_rehashed", "a password hash was not brought up to cost");
}

/* A sign-in form posted from another site (login CSRF) would sign the victim into the
 * attacker's account; browsers say where a request came from. */
static bool signin_cross_site(const struct http_req *r)
{
	const char *site = http_req_header(r, "Sec-Fetch-Site");
	return site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0;
}

void signin_post_session(struct http_req *r, void *arg)
{
	if (signin_cross_site(r)) {
		http_reply_error(r, 403, "csrf_refused", "sign in from the console itself");
		return;
	}
	json_t *body = http_req_json(r);
	if (!body)
		return;
	const char *id = json_string_value(json_object_get(body, "staff_id"));
	const char *pw = json_string_value(json_object_get(body, "password"));
	char hash[PASSWORD_HASH_MAX], role[16];
	struct signin_keys k;
	if (!signin_id_valid(id) || !pw || !pw[0] || strlen(pw) > PASSWORD_MAX_LEN) {
		json_t *f = json_array();
		if (!signin_id_valid(id))
			json_array_append_new(f, http_field("staff_id", "is required"));
		if (!pw || !pw[0] || strlen(pw) > PASSWORD_MAX_LEN)
			json_array_append_new(f, http_field("password", "is required"));
		http_reply_fields(r, 422, "validation_failed", f);
		goto out;
	}
	signin_keys_of(r, id, &k);
	if (signin_refuse_throttled(r, &k))
		goto out;
	if (signin_lookup(r->db, id, hash, role) != 0) {
		http_reply_db_error(r);
		goto out;
	}
	/* an unknown id is verified against a dummy hash: the same work, the same answer */
	if (!password_verify(hash[0] ? hash : NULL, pw) || !signin_role_of(role)) {
		signin_failed(r->db, k.pair, k.client);
		log_info("staff_signin_failed", "a sign-in was refused");
		http_reply_error(r, 401, "invalid_credentials",
				 "the staff id or the password is wrong");
		goto out;
	}
	signin_after_success(r->db, &k, id, hash, pw);
	signin_issue(r, id, signin_role_of(role));
out:
	json_decref(body);
}

/* --- GET and DELETE /v1/auth/session --- */

void signin_get_session(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *j = json_pack("{s:s, s:s, s:s}", "staff_id", who.staff_id, "role", who.role_name,
			      "via", who.via_session ? "session" : "token");
	if (who.via_session) {
		char at[TSTAMP_LEN], csrf[SESSION_HEX];
		tstamp_format((int64_t)who.session_expires * 1000, at);
		json_object_set_new(j, "expires_at", json_string(at));
		/* a reloaded page reads its CSRF token here as well as from the cookie */
		if (session_csrf_token(who.session_hash, csrf) == 0)
			json_object_set_new(j, "csrf_token", json_string(csrf));
	}
	http_reply_json(r, 200, j);
}

void signin_delete_session(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	if (who.via_session) {
		const char *p[] = {who.session_hash};
		if (pg_exec(
			r->db,
			"UPDATE staff_sessions SET revoked_at = now(), revoked_why = 'signed_out' "
			"WHERE sid_hash = $1 AND revoked_at IS NULL",
			1, p) != 0) {
			http_reply_db_error(r);
			return;
		}
		session_revoke_local(who.session_hash, who.session_expires);
		log_msg(LOG_INFO, "staff_signed_out", LOG_KV({"staff_id", who.staff_id}),
			"a session ended");
	}
	signin_cookies(r, NULL, NULL, 0);
	http_reply_text(r, 204, "text/plain", "");
}

/* --- PUT /v1/auth/password --- */

/* Stores a new hash of password for staff_id and revokes the sessions it supersedes (all but
 * keep_hash). Replies on failure and returns -1. */
static int signin_store(struct http_req *r, const char *staff_id, const char *role,
			const char *password, const char *set_by, const char *keep_hash,
			const char *why)
{
	char hash[PASSWORD_HASH_MAX];
	if (password_hash(password, hash) != 0) {
		http_reply_error(r, 503, "unavailable", "the password could not be hashed; retry");
		return -1;
	}
	const char *p[] = {staff_id, role, hash, set_by};
	if (pg_begin(r->db) != 0 ||
	    pg_exec(
		r->db,
		"INSERT INTO staff_credentials (staff_id, role, password_hash, set_by) VALUES "
		"($1, coalesce($2, 'agent'), $3, $4) ON CONFLICT (staff_id) DO UPDATE SET role = "
		"coalesce($2, staff_credentials.role), password_hash = $3, set_by = $4, "
		"updated_at = now()",
		4, p) != 0 ||
	    signin_revoke_staff(r->db, staff_id, keep_hash, why) != 0 || pg_commit(r->db) != 0) {
		http_reply_db_error(r);
		return -1;
	}
	return 0;
}

static bool signin_new_password_ok(struct http_req *r, const char *field, const char *pw)
{
	const char *problem = pw ? password_policy_problem(pw) : "is required";
	if (!problem)
		return true;
	json_t *f = json_array();
	json_array_append_new(f, http_field(field, problem));
	http_reply_fields(r, 422, "validation_failed", f);
	return false;
}

void signin_put_password(struct http_req *r, void *arg)
{
	struct auth_principal who;
	char hash[PASSWORD_HASH_MAX], role[16];
	struct signin_keys k;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	const char *old = json_string_value(json_object_get(body, "old_password"));
	const char *pw = json_string_value(json_object_get(body, "new_password"));
	if (!signin_new_password_ok(r, "new_password", pw))
		goto out;
	signin_keys_of(r, who.staff_id, &k);
	if (signin_refuse_throttled(r, &k))
		goto out;
	if (signin_lookup(r->db, who.staff_id, hash, role) != 0) {
		http_reply_db_error(r);
		goto out;
	}
	/* the old password proves it is the person, not someone at their unlocked screen; its
	 * guesses count against the same limit as sign-ins */
	if (!password_verify(hash[0] ? hash : NULL, old ? old : "")) {
		signin_failed(r->db, k.pair, k.client);
		http_reply_error(
		    r, 403, "wrong_password",
		    hash[0] ? "the old password is wrong"
			    : "this staff id has no password; an admin sets the first one");
		goto out;
	}
	if (signin_store(r, who.staff_id, NULL, pw, who.staff_id,
			 who.via_session ? who.session_hash : NULL, "password_changed") != 0)
		goto out;
	log_msg(LOG_INFO, "staff_password_changed", LOG_KV({"staff_id", who.staff_id}),
		"a staff member changed their password; their other sessions were revoked");
	http_reply_json(
	    r, 200, json_pack("{s:s, s:b}", "staff_id", who.staff_id, "other_sessions_revoked", 1));
out:
	json_decref(body);
}

/* --- /v1/staff-credentials (admin) --- */

void signin_get_credentials(struct http_req *r, void *arg)
{
	http_reply_query_json(
	    r,
	    "SELECT json_build_object('credentials', "
	    "coalesce(json_agg(json_build_object('staff_id', "
	    "c.staff_id, 'role', c.role, 'set_by', c.set_by, 'updated_at', to_char(c.updated_at AT "
	    "TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'live_sessions', (SELECT count(*) "
	    "FROM staff_sessions s WHERE s.staff_id = c.staff_id AND s.revoked_at IS NULL AND "
	    "s.expires_at > now())) ORDER BY c.staff_id), '[]'))::text FROM staff_credentials c "
	    "WHERE $1::text IS NULL",
	    NULL, "no credentials");
}

void signin_put_credentials(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	const char *id = r->params[0];
	const char *role = signin_role_of(json_string_value(json_object_get(body, "role")));
	const char *pw = json_string_value(json_object_get(body, "password"));
	if (!signin_id_valid(id) || !role) {
		json_t *f = json_array();
		if (!signin_id_valid(id))
			json_array_append_new(
			    f,
			    http_field("staff_id", "must be 1 to 60 printable ASCII characters"));
		if (!role)
			json_array_append_new(
			    f, http_field("role", "must be agent, supervisor or admin"));
		http_reply_fields(r, 422, "validation_failed", f);
		goto out;
	}
	if (!signin_new_password_ok(r, "password", pw))
		goto out;
	/* a new password or role supersedes every session the person had */
	if (signin_store(r, id, role, pw, who.staff_id, NULL, "credentials_set") != 0)
		goto out;
	log_msg(LOG_INFO, "staff_credentials_set", LOG_KV({"staff_id", id}, {"by", who.staff_id}),
		"an admin set a staff member's password and role");
	http_reply_json(r, 200, json_pack("{s:s, s:s}", "staff_id", id, "role", role));
out:
	json_decref(body);
}

void signin_delete_credentials(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	const char *p[] = {r->params[0]};
	PGresult *res = NULL;
	if (pg_begin(r->db) != 0 ||
	    !(res = pg_query(r->db, "DELETE FROM staff_credentials WHERE staff_id = $1", 1, p)) ||
	    signin_revoke_staff(r->db, r->params[0], NULL, "credentials_removed") != 0 ||
	    pg_commit(r->db) != 0) {
		PQclear(res);
		http_reply_db_error(r);
		return;
	}
	bool gone = atoi(PQcmdTuples(res)) > 0;
	PQclear(res);
	if (!gone) {
		http_reply_error(r, 404, "not_found", "this staff id has no password");
		return;
	}
	log_msg(LOG_INFO, "staff_credentials_removed",
		LOG_KV({"staff_id", r->params[0]}, {"by", who.staff_id}),
		"an admin removed a staff member's password; their sessions were revoked");
	http_reply_text(r, 204, "text/plain", "");
}

/* --- GET /v1/auth/revocations?since= (the services' sync) --- */

void signin_get_revocations(struct http_req *r, void *arg)
{
	char want[SESSION_HEX], *end = NULL;
	char *since = http_req_query(r, "since");
	const char *sig = http_req_header(r, "X-Session-Sync");
	long long s = since ? strtoll(since, &end, 10) : -1;
	if (!since || *end || s < 0 || !sig || session_sync_signature(since, want) != 0 ||
	    !ids_equal(want, sig)) {
		free(since);
		http_reply_error(r, 401, "unauthorized",
				 "a service's signed sync request is required");
		return;
	}
	http_reply_query_json(
	    r,
	    "SELECT json_build_object('now', extract(epoch FROM now())::bigint, 'revoked', "
	    "coalesce(json_agg(json_build_object('sid_hash', sid_hash, 'expires', extract(epoch "
	    "FROM expires_at)::bigint)), '[]'))::text FROM staff_sessions WHERE revoked_at >= "
	    "to_timestamp($1::bigint) AND expires_at > now()",
	    since, "no revocations");
	free(since);
}

/* --- the task: bootstrap admin, purge --- */

static int signin_bootstrap(PGconn *c)
{
	char hash[PASSWORD_HASH_MAX];
	const char *id = signin_cfg.bootstrap_id, *pw = signin_cfg.bootstrap_password;
	if (!id || !id[0] || !pw || !pw[0])
		return 0;
	PGresult *res = pg_query(c, "SELECT 1 FROM staff_credentials WHERE staff_id = $1", 1,
				 (const char *[]){id});
	if (!res)
		return -1;
	bool exists = PQntuples(res) > 0;
	PQclear(res);
	/* an admin who changed the first password keeps theirs: only a missing row is created */
	if (exists)
		return 0;
	if (password_policy_problem(pw) || password_hash(pw, hash) != 0) {
		log_error("bootstrap_admin_refused",
			  "BOOTSTRAP_ADMIN_PASSWORD is not a usable password (at least 10 "
			  "characters); no admin can sign in with a password");
		return 0;
	}
	const char *p[] = {id, hash};
	if (pg_exec(c,
		    "INSERT INTO staff_credentials (staff_id, role, password_hash, set_by) VALUES "
		    "($1, 'admin', $2, 'bootstrap') ON CONFLICT (staff_id) DO NOTHING",
		    2, p) != 0)
		return -1;
	log_msg(LOG_INFO, "bootstrap_admin_created", LOG_KV({"staff_id", id}),
		"the first admin may sign in with the bootstrap password");
	return 0;
}

int signin_task(PGconn *c, void *arg)
{
	static bool bootstrapped;
	char window[16];
	if (!bootstrapped) {
		if (signin_bootstrap(c) != 0)
			return -1;
		bootstrapped = true;
	}
	snprintf(window, sizeof(window), "%lld", signin_cfg.window_s);
	/* expired sessions stay a day for the record; a failure row past its window counts
	 * nothing any more */
	if (pg_exec(c, "DELETE FROM staff_sessions WHERE expires_at < now() - interval '1 day'", 0,
		    NULL) != 0 ||
	    pg_exec(c,
		    "DELETE FROM signin_failures WHERE window_start < now() - make_interval(secs "
		    "=> $1::int)",
		    1, (const char *[]){window}) != 0)
		return -1;
	return 0;
}

/* --- the OIDC seam --- */

static int signin_role_rank(const char *role)
{
	for (int i = 0; role && i < 3; i++)
		if (strcmp(role, signin_roles[i]) == 0)
			return i;
	return -1;
}

int signin_oidc_principal(const json_t *claims, const char *staff_claim, const char *role_claim,
			  char staff_id[64], char role[16])
{
	const char *id = json_string_value(json_object_get(claims, staff_claim));
	const json_t *roles = json_object_get(claims, role_claim);
	int best = signin_role_rank(json_string_value(roles));
	size_t i;
	const json_t *e;
	json_array_foreach (roles, i, e) {
		int rank = signin_role_rank(json_string_value(e));
		best = rank > best ? rank : best;
	}
	if (!signin_id_valid(id) || best < 0)
		return -1;
	snprintf(staff_id, 64, "%s", id);
	snprintf(role, 16, "%s", signin_roles[best]);
	return 0;
}
