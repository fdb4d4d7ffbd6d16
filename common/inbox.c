#include "inbox.h"

#include <string.h>

#include "pg.h"

int inbox_claim(PGconn *c, const char *ce_source, const char *ce_id, const char *topic)
{
	const char *params[] = {ce_source, ce_id, topic};
	PGresult *r = pg_query(c, INBOX_CLAIM_SQL, 3, params);
	if (!r)
		return -1;
	int fresh = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	return fresh;
}
