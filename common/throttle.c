#include "throttle.h"

#include <stdio.h>
#include <stdlib.h>

#include "pg.h"

long throttle_wait(PGconn *c, const struct throttle *t, const char *narrow_key,
		   const char *wide_key)
{
	char window[24], max_narrow[24], max_wide[24], sql[512];
	snprintf(window, sizeof(window), "%lld", t->window_s);
	snprintf(max_narrow, sizeof(max_narrow), "%lld", t->max_narrow);
	snprintf(max_wide, sizeof(max_wide), "%lld", t->max_wide);
	/* The table name is the one identifier not bound as a parameter: SQL cannot bind it, and
	 * it comes from the calling code's constant, never from input. */
	snprintf(sql, sizeof(sql),
		 "SELECT coalesce(max(ceil(extract(epoch FROM window_start + make_interval(secs => "
		 "$3::int) - now())))::bigint, 0) FROM %s WHERE window_start > now() - "
		 "make_interval(secs => $3::int) AND ((key = $1 AND failures >= $4::int) OR (key = "
		 "$2 AND failures >= $5::int))",
		 t->table);
	const char *p[] = {narrow_key, wide_key, window, max_narrow, max_wide};
	PGresult *res = pg_query(c, sql, 5, p);
	if (!res)
		return -1;
	long wait = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return wait > 0 ? wait : 0;
}

int throttle_failed(PGconn *c, const struct throttle *t, const char *narrow_key,
		    const char *wide_key)
{
	char window[24], sql[640];
	snprintf(window, sizeof(window), "%lld", t->window_s);
	/* One statement for both keys; the upsert restarts a window that has passed, so a key
	 * that failed long ago starts again at one instead of staying locked out. */
	snprintf(
	    sql, sizeof(sql),
	    "INSERT INTO %s AS f (key, window_start, failures) SELECT k, now(), 1 FROM "
	    "unnest(ARRAY[$1, $2]) k ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN "
	    "f.window_start <= now() - make_interval(secs => $3::int) THEN 1 ELSE f.failures + "
	    "1 END, window_start = CASE WHEN f.window_start <= now() - make_interval(secs => "
	    "$3::int) THEN now() ELSE f.window_start END",
	    t->table);
	const char *p[] = {narrow_key, wide_key, window};
	return pg_exec(c, sql, 3, p) == 0 ? 0 : -1;
}
