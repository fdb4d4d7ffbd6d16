/* Staff sessions that every service verifies by itself.
 *
 * A staff member who signs in with a password (classification owns the credentials and the
 * session rows) gets a cookie that carries its own claims, signed with SESSION_SECRET, which
 * every service holds:
 *     cp_session = v1.<session id, 64 hex>.<expires, unix s>.<role>.<staff id, hex>.<mac, 64 hex>
 * so any service knows who is calling without a round trip, on whichever thread it runs.
 * What a signature cannot say is that the session was revoked (sign-out, a new password):
 * each service keeps the set of revoked, unexpired session hashes in memory, refreshed every
 * SESSION_SYNC_MS from the owner's GET /v1/auth/revocations (signed with the same secret, over
 * HTTP: no service reads another's schema). A service that has not heard from the owner for
 * SESSION_STALE_MS refuses cookie sessions (fail closed; bearer tokens still work).
 *
 * The session id itself is never stored or sent anywhere but in the cookie: the owner keeps
 * and publishes SHA-256(id), and the CSRF token is HMAC(secret, "csrf:" + that hash). */
#ifndef CP_SESSION_H
#define CP_SESSION_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define SESSION_COOKIE	    "cp_session"
#define SESSION_CSRF_COOKIE "cp_csrf"
#define SESSION_CSRF_HEADER "X-CSRF-Token"
#define SESSION_HEX	    65 /* 64 hex digits and the NUL */
#define SESSION_COOKIE_MAX  400

struct session_claims {
	char sid[SESSION_HEX];
	char staff_id[64];
	char role[16];
	long long expires; /* unix seconds */
};

enum session_verdict {
	SESSION_NONE,	      /* no cookie, or not one of ours (bad format, signature, expired) */
	SESSION_OK,	      /* signed, unexpired, not revoked */
	SESSION_REVOKED,      /* signed but signed out or superseded by a new password */
	SESSION_UNVERIFIABLE, /* revocations not heard from the owner within SESSION_STALE_MS */
};

/* Configures the module (strings copied): secret signs cookies and CSRF tokens;
 * authority_url is the owner's base URL ("" disables the sync, so cookies are refused);
 * stale_ms as above. Starts libcurl. Call once at start-up. Returns 0 or -1. */
int session_init(const char *secret, const char *authority_url, long long stale_ms)
    __attribute__((warn_unused_result));

/* A new random session id (64 hex digits). */
void session_new_id(char sid[SESSION_HEX]);
/* out = hex SHA-256 of the session id: what is stored, published and revoked. */
void session_id_hash(const char *sid, char out[SESSION_HEX]);
/* out = hex HMAC(secret, "csrf:" + sid_hash): the double-submit token of that session. */
int session_csrf_token(const char *sid_hash, char out[SESSION_HEX])
    __attribute__((warn_unused_result));

/* Writes the signed cookie value of c into out[cap]. Returns 0, or -1 when it does not fit. */
int session_cookie_make(const struct session_claims *c, char *out, size_t cap)
    __attribute__((warn_unused_result));
/* Reads a cookie value: 0 and the claims when its format and signature hold and it has not
 * expired at now (unix s), else -1. Does not look at revocations. */
int session_cookie_read(const char *value, long long now, struct session_claims *out)
    __attribute__((warn_unused_result));
/* Finds name=value in a Cookie header into out[cap]; false when absent or too long. Pure. */
bool session_cookie_find(const char *header, const char *name, char *out, size_t cap);

/* The verdict on a request's Cookie header (NULL allowed) at now (unix s); fills out on
 * SESSION_OK and SESSION_REVOKED. Thread-safe. */
enum session_verdict session_check(const char *cookie_header, long long now,
				   struct session_claims *out);

/* Marks a session hash revoked here at once (the owner, on sign-out, so its next request
 * does not wait for the sync); expires bounds how long it is remembered. */
void session_revoke_local(const char *sid_hash, long long expires);
/* Applies a revocations body {"now": s, "revoked": [{"sid_hash", "expires"}]} as the owner
 * sends it, and marks the set fresh. Returns 0, or -1 (malformed; nothing applied). */
int session_revocations_apply(const char *body, size_t len) __attribute__((warn_unused_result));
/* The request signature of GET /v1/auth/revocations?since=<since>: hex HMAC(secret,
 * "revocations:" + since). */
int session_sync_signature(const char *since, char out[SESSION_HEX])
    __attribute__((warn_unused_result));

/* The periodic task (struct svc_task) that fetches new revocations from the owner with a
 * blocking libcurl call: task threads only, never the loop thread. Always returns 0. */
int session_sync_task(PGconn *c, void *arg);

#endif
