/* Staff authentication with bearer tokens and roles, and signed customer links.
 * Tokens come from configuration (AUTH_TOKENS or AUTH_TOKENS_FILE):
 *   "token:role:staff_id[,token:role:staff_id...]"   role: agent|supervisor|admin|integration
 * A supervisor may do what an agent may; admin may do everything. */
#ifndef CP_AUTH_H
#define CP_AUTH_H

#include <stddef.h>

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
};

/* Replaces the token table. Returns -1 with the offending entry in errstr. */
int auth_load(const char *spec, char *errstr, size_t errlen) __attribute__((warn_unused_result));

/* Looks up the bearer token of r. Returns 0 and fills out, or -1 (no or unknown token). */
int auth_identify(const struct http_req *r, struct auth_principal *out);

/* Requires a token whose role is in roles (admin always passes). Replies 401 (missing or
 * unknown token) or 403 (wrong role) itself and returns -1. */
int auth_require(struct http_req *r, unsigned roles, struct auth_principal *out)
    __attribute__((warn_unused_result));

/* The token in a customer's case link: hex HMAC-SHA256(secret, "case:" + complaint_no),
 * first 32 digits. out must hold 33 bytes. */
int auth_customer_token(const char *secret, const char *complaint_no, char out[33]);

int auth_role_parse(const char *name, unsigned *role);

#endif
