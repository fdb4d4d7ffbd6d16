/* Staff authentication with bearer tokens or a session cookie, roles, and signed customer
 * links. Tokens come from configuration (AUTH_TOKENS or AUTH_TOKENS_FILE):
 *   "token:role:staff_id[,token:role:staff_id...]"   role: agent|supervisor|admin|integration
 * Sessions (staff who signed in with a password, see session.h) map to the same principal.
 * A supervisor may do what an agent may; admin may do everything. */
#ifndef CP_AUTH_H
#define CP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpd.h"

enum auth_role {
	AUTH_AGENT = 1,
	AUTH_SUPERVISOR = 2,
	AUTH_ADMIN = 4,
	AUTH_INTEGRATION = 8,
};

#define AUTH_STAFF (AUTH_AGENT | AUTH_SUPERVISOR | AUTH_ADMIN)

struct auth_principal {
	char staff_id[64];
	unsigned role; /* one enum auth_role bit */
	const char *role_name;
	bool via_session;	   /* a signed-in staff member's cookie, not a bearer token */
	char session_hash[65];	   /* via_session: SHA-256 of the session id */
	long long session_expires; /* via_session: unix seconds */
};

/* ---- who may call a route (struct http_route.roles) ----
 * The staff roles above are exact there: a route open to supervisors lists AUTH_SUPERVISOR |
 * AUTH_ADMIN (AUTH_SUPERVISORS), an integration route lists AUTH_ADMIN too when an admin may
 * call it. auth_route_check enforces the set before the handler runs; handlers keep only the
 * per-case checks (owner, conflict of interest) and read the caller with auth_caller. */
#define AUTH_PUBLIC   16u /* anyone, no credentials (a waybill's QR code, filing a complaint) */
#define AUTH_CUSTOMER 32u /* the customer, with the proof the handler checks (?token=, phone) */
#define AUTH_QUERY_TOKEN                                                                           \
	64u /* the bearer token may come as ?access_token= (EventSource cannot                     \
	       send headers); a modifier, not a caller */
#define AUTH_SERVICE                                                                               \
	128u /* another of our services, with the signed request its handler checks                \
	      (X-Session-Sync); never routed by the front door */
#define AUTH_SUPERVISORS (AUTH_SUPERVISOR | AUTH_ADMIN)
#define AUTH_CALLERS	 (AUTH_STAFF | AUTH_INTEGRATION | AUTH_PUBLIC | AUTH_CUSTOMER | AUTH_SERVICE)

/* httpd_opts.authorize: 0 when a caller roles admits may go on to the handler. A public (or
 * service) route admits everyone to its handler; a customer route without staff roles leaves
 * the proof to its handler; a customer route that also admits staff checks staff credentials
 * when they are presented (auth_presented). Otherwise a bearer token (or ?access_token= with
 * AUTH_QUERY_TOKEN) or a session cookie whose role is in roles is required: 401 when missing
 * or unknown, 403 for another role or a cookie request that changes something without its
 * CSRF token, 503 when sessions cannot be verified now (auth_require's rules, exact roles). */
int auth_route_check(struct http_req *r, unsigned roles) __attribute__((warn_unused_result));

/* The caller the route check let through (staff and integration routes): 0 and *out, or
 * replies 401 and returns -1 when the request carries no known credentials. */
int auth_caller(struct http_req *r, struct auth_principal *out) __attribute__((warn_unused_result));

/* The names of roles' bits ("agent", "supervisor", "admin", "integration", "public",
 * "customer", "query_token", "service"), comma-separated into out. */
void auth_roles_names(unsigned roles, char *out, size_t cap);

/* Replaces the token table. Returns -1 with the offending entry in errstr. */
int auth_load(const char *spec, char *errstr, size_t errlen) __attribute__((warn_unused_result));

/* Looks up the bearer token of r, else its session cookie (session_check). Returns 0 and
 * fills out, or -1 (no, unknown, expired or revoked credentials, or sessions that cannot be
 * verified now). Does not check CSRF: auth_require does, for state-changing methods. */
int auth_identify(const struct http_req *r, struct auth_principal *out);

/* True when r presents staff credentials: an Authorization header (valid or not: a wrong
 * token must get 401, not the customer's view), or a session cookie that identifies someone
 * (a stale cookie in a browser that also holds a customer's link is no staff member). */
bool auth_presented(const struct http_req *r);

/* Prefer the route table's roles (checked before the handler) and auth_caller in the handler;
 * this stays for a check inside a handler that depends on the request's data.
 * Requires a token or session whose role is in roles (admin always passes). A session on a
 * state-changing method (anything but GET, HEAD, OPTIONS) must also carry the session's
 * X-CSRF-Token and must not come from another site (Sec-Fetch-Site). Replies 401 (missing,
 * unknown or revoked credentials), 403 (wrong role; "csrf_refused"), or 503 (sessions cannot
 * be verified now) itself and returns -1. */
int auth_require(struct http_req *r, unsigned roles, struct auth_principal *out)
    __attribute__((warn_unused_result));

/* The token in a customer's case link: hex HMAC-SHA256(secret, "case:" + complaint_no),
 * first 32 digits. out must hold 33 bytes. */
int auth_customer_token(const char *secret, const char *complaint_no, char out[33]);

/* ---- key rotation (CUSTOMER_LINK_SECRET, PSEUDONYM_KEY) -------------------------------- */

/* A key and the previous keys it replaced. New links and pseudonyms always use the current
 * key; the previous ones are accepted until previous_until_ms only (a grace period: a key
 * accepted forever would make rotating after a leak pointless). */
#define AUTH_KEYRING_MAX 4
struct auth_keyring {
	const char *name; /* the variable, for messages: "CUSTOMER_LINK_SECRET" */
	const char *current;
	char *previous[AUTH_KEYRING_MAX]; /* malloc'ed copies */
	int nprevious;
	int64_t previous_until_ms; /* 0 when there is no previous key */
};

/* Builds k from the configuration: previous is a list of keys separated by commas or newlines
 * (empty: none), until the RFC 3339 time they stop being accepted. A previous key without an
 * end, an end without a key, an unparsable end, more than AUTH_KEYRING_MAX keys or a previous
 * key equal to the current one are refused with a message naming the variable. */
int auth_keyring_init(struct auth_keyring *k, const char *name, const char *current,
		      const char *previous, const char *until, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void auth_keyring_free(struct auth_keyring *k);

/* The keys accepted at now_ms, current first, into keys[AUTH_KEYRING_MAX + 1]; returns how
 * many (the previous ones only while their grace period runs). */
int auth_keyring_accepted(const struct auth_keyring *k, int64_t now_ms, const char **keys);

/* True when token is the customer link token of complaint_no under a key accepted at now_ms
 * (every accepted key is compared, in constant time each, so timing says nothing of which). */
bool auth_customer_token_check(const struct auth_keyring *k, const char *complaint_no,
			       const char *token, int64_t now_ms);

int auth_role_parse(const char *name, unsigned *role);

/* ---- who may act on a case (people own cases; every service enforces the same rule) ---- */

enum auth_case_verdict {
	AUTH_CASE_OK,
	AUTH_CASE_NOT_OWNER, /* an agent who does not own the case (nobody owns it yet, too) */
	AUTH_CASE_CONFLICT,  /* the complaint is about this person, or the evidence names them */
};

/* The verdict on who acting on a case owned by owner ("" while nobody owns it). conflicted:
 * the caller's own data names who (the complaint's target when it is a person, the courier
 * the evidence holds responsible); that refuses everyone, supervisors included. Otherwise the
 * owner, or any supervisor or admin, may act. Pure. */
enum auth_case_verdict auth_case_verdict(const struct auth_principal *who, const char *owner,
					 bool conflicted);

/* True for the target kinds that are a member of staff (courier, agent): an outlet's id is
 * not a person even when the strings happen to be equal. */
bool auth_kind_is_person(const char *kind);

/* True when the complaint's target (kind, id) or the responsible party (kind, id) is
 * staff_id. NULL or empty fields name nobody. Pure. */
bool auth_case_names(const char *staff_id, const char *target_kind, const char *target_id,
		     const char *party_kind, const char *party_id);

/* Replies 403 for a refused verdict (not_owner or conflict_of_interest); action completes
 * "only the case's owner or a supervisor may <action>". Does nothing for AUTH_CASE_OK. */
void auth_case_refuse(struct http_req *r, enum auth_case_verdict v, const char *action);

#endif
