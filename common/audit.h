/* The audit trail of an operator's change to a service's own tables (policies, calendars,
 * templates, keywords, limits, the VIP list, the staff registry): who changed what, when,
 * from what to what. Each service keeps its own `admin_audit` table in its own schema (the
 * connection's search_path), written in the same transaction as the change, so a change is
 * never stored without its record nor recorded without being stored. */
#ifndef CP_AUDIT_H
#define CP_AUDIT_H

#include <jansson.h>
#include <libpq-fe.h>

#include "httpd.h"

/* Records one change: entity names the table ("sla_policies"), key the row ("default", or ""
 * for a whole-table replacement); before and after are JSON (NULL for none: a row added or
 * removed). Inside the caller's transaction. 0 or -1. */
int audit_record(PGconn *c, const char *actor, const char *entity, const char *key,
		 const json_t *before, const json_t *after) __attribute__((warn_unused_result));

/* The same with the reason a person gave for the change (NULL for none), e.g. why a photo was
 * deleted. 0 or -1. */
int audit_record_reason(PGconn *c, const char *actor, const char *entity, const char *key,
			const json_t *before, const json_t *after, const char *reason)
    __attribute__((warn_unused_result));

/* GET handler of a service's audit trail (a .db route, supervisors and admins): newest first,
 * filtered by ?since= (RFC 3339, inclusive), ?entity= and ?actor=, in keyset pages of ?limit=
 * (1..200, default 50) continued with ?after=<next_cursor>. Replies {"audit": [{"id", "at",
 * "actor", "entity", "key", "before", "after", "reason"}], "count", "next_cursor"} -- the rows
 * as recorded, nothing joined to them -- or 422 naming the bad parameter. */
void audit_http_list(struct http_req *r, void *arg);

/* The JSON text of the first column of the first row of sql run with params, parsed (NULL
 * when there is no row or it is NULL) -- the "before" of a change. *failed is set on a
 * database error. The caller json_decref()s the result. */
json_t *audit_snapshot(PGconn *c, const char *sql, int nparams, const char *const *params,
		       int *failed);

#endif
