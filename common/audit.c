#include "audit.h"

#include <stdlib.h>

#include "pg.h"

int audit_record(PGconn *c, const char *actor, const char *entity, const char *key,
		 const json_t *before, const json_t *after)
{
	char *b = before ? json_dumps(before, JSON_COMPACT) : NULL;
	char *a = after ? json_dumps(after, JSON_COMPACT) : NULL;
	const char *p[] = {actor, entity, key ? key : "", b, a};
	int rc = pg_exec(c,
			 "INSERT INTO admin_audit (actor, entity, key, before, after) VALUES ($1, "
			 "$2, $3, $4::jsonb, $5::jsonb)",
			 5, p);
	free(b);
	free(a);
	return rc;
}

json_t *audit_snapshot(PGconn *c, const char *sql, int nparams, const char *const *params,
		       int *failed)
{
	PGresult *r = pg_query(c, sql, nparams, params);
	if (!r) {
		*failed = 1;
		return NULL;
	}
	json_t *j =
	    PQntuples(r) && !PQgetisnull(r, 0, 0) ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
	PQclear(r);
	return j;
}
