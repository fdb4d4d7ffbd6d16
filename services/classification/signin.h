/* Staff sign-in: classification owns the staff's credentials and sessions, next to the staff
 * registry (who the staff are is known in one place). Every other service checks a session
 * cookie by itself (common/session.h) and learns of revoked sessions from
 * GET /v1/auth/revocations, so no service reads this schema.
 *
 *   POST   /v1/auth/session          staff id + password -> session cookie (public)
 *   GET    /v1/auth/session          who is calling (session or bearer token)
 *   DELETE /v1/auth/session          sign out: the session is revoked everywhere
 *   PUT    /v1/auth/password         change one's own password (old one required); revokes
 *                                    one's other sessions
 *   GET    /v1/staff-credentials     who may sign in with a password (admin)
 *   PUT    /v1/staff-credentials/{}  set a staff member's password and role (admin)
 *   DELETE /v1/staff-credentials/{}  remove them (admin)
 *   GET    /v1/auth/revocations      revoked, unexpired session hashes (the services' sync,
 *                                    signed with SESSION_SECRET; not routed by the front door)
 *
 * Password hashing is slow on purpose: it runs on the HTTP worker threads of these .db routes
 * (and the bootstrap on a task thread), never on the loop thread.
 *
 * OpenID Connect seam: a carrier's provider would add GET /v1/auth/oidc/login (redirect with
 * state and nonce) and GET /v1/auth/oidc/callback, configured by OIDC_ISSUER, OIDC_CLIENT_ID,
 * OIDC_CLIENT_SECRET(_FILE), OIDC_REDIRECT_URI, OIDC_STAFF_CLAIM, OIDC_ROLE_CLAIM. The callback,
 * once it has verified the ID token, maps its claims with signin_oidc_principal and hands the
 * result to signin_issue, the same step a password sign-in ends with. Not built: no provider
 * is configured anywhere yet. */
#ifndef CP_CLASSIFICATION_SIGNIN_H
#define CP_CLASSIFICATION_SIGNIN_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "httpd.h"

struct signin_config {
	long long session_ttl_s;
	bool cookie_secure;
	long long window_s;
	long long max_per_staff;
	long long max_per_client;
	long long purge_ms;
	long long pw_ops;
	long long pw_mem_kib;
	long long pw_concurrent;
	char *bootstrap_id;
	char *bootstrap_password;
};
extern struct signin_config signin_cfg;

/* Starts libsodium's hashing with the configured cost. Returns 0 or -1 (errstr says). */
int signin_init(char *errstr, size_t errlen) __attribute__((warn_unused_result));

void signin_post_session(struct http_req *r, void *arg);
void signin_get_session(struct http_req *r, void *arg);
void signin_delete_session(struct http_req *r, void *arg);
void signin_put_password(struct http_req *r, void *arg);
void signin_get_credentials(struct http_req *r, void *arg);
void signin_put_credentials(struct http_req *r, void *arg);
void signin_delete_credentials(struct http_req *r, void *arg);
void signin_get_revocations(struct http_req *r, void *arg);

/* Task: creates the bootstrap admin's credentials once (when BOOTSTRAP_ADMIN_ID and its
 * password are set and the id has none yet), and purges expired sessions and failure rows. */
int signin_task(PGconn *c, void *arg);

/* Opens a session for staff_id with role on r: stores its hash, sets the cookies, replies
 * 200 {staff_id, role, expires_at, csrf_token}. The end of every way of signing in. */
void signin_issue(struct http_req *r, const char *staff_id, const char *role);

/* The cookie attributes, pure: "; Path=/; Max-Age=<ttl>; SameSite=Strict[; HttpOnly][; Secure]".
 * secure when configured or the front door says the client used https. */
void signin_cookie_attrs(char *out, size_t cap, long long max_age, bool http_only, bool secure);

/* OIDC seam, pure: the staff id and role from verified ID-token claims. staff_claim names the
 * claim holding the staff id (e.g. "preferred_username"); role_claim a string or an array of
 * strings, the strongest of agent < supervisor < admin present wins. Returns 0, or -1 when
 * either is missing (the person may not sign in). role has room for 16 bytes. */
int signin_oidc_principal(const json_t *claims, const char *staff_claim, const char *role_claim,
			  char staff_id[64], char role[16]) __attribute__((warn_unused_result));

#endif
