#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "tstamp.h"

int audit_record_reason(PGconn *c, const char *actor, const char *entity, const char *key,
			const json_t *before, const json_t *after, const char *reason)
{
	char *b = before ? json_dumps(before, JSON_COMPACT) : NULL;
	char *a = after ? json_dumps(after, JSON_COMPACT) : NULL;
	const char *p[] = {actor, entity, key ? key : "", b, a, reason};
	int rc = pg_exec(c,
			 "INSERT INTO admin_audit (actor, entity, key, before, after, reason) "
			 "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6)",
			 6, p);
	free(b);
	free(a);
	return rc;
}

int audit_record(PGconn *c, const char *actor, const char *entity, const char *key,
		 const json_t *before, const json_t *after)
{
	return audit_record_reason(c, actor, entity, key, before, after, NULL);
}

/* clang-format off */
/* Newest first by (at, id): at is the changing transaction's start, so two changes of one
 * instant are told apart by id, and a page costs the same however deep (keyset on the
 * admin_audit_by_time / _by_entity_time / _by_actor_time indexes, migrations 0930-0934).
 * The statement holds only the conditions asked for (audit_page_sql): every statement is
 * prepared (pg_query), and a generic plan of "$n IS NULL OR ..." could use none of them as an
 * index condition, so a deep page or a rare entity would scan the table from its newest row. */
static const char audit_select[] =
    "SELECT json_build_object('id', id, "
    "  'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "  'actor', actor, 'entity', entity, 'key', key, 'before', before, 'after', after, "
    "  'reason', reason)::text, "
    "  (extract(epoch FROM at) * 1000000)::bigint::text || '~' || id::text "
    "FROM admin_audit WHERE true";
/* clang-format on */

enum { AUDIT_Q_SINCE, AUDIT_Q_ENTITY, AUDIT_Q_ACTOR, AUDIT_Q_AFTER, AUDIT_Q_LIMIT, AUDIT_Q_N };

static const char *const audit_params[AUDIT_Q_N] = {"since", "entity", "actor", "after", "limit"};

struct audit_query {
	char *v[AUDIT_Q_N];
	char since_ms[24];
	char cursor_us[24];
	char cursor_id[24];
	long limit;
};

static bool audit_whole(const char *s, long lo, long hi, long *out)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* after=<at in us since the epoch>~<id>, as next_cursor returned it */
static bool audit_cursor_parse(const char *s, struct audit_query *q)
{
	const char *sep = strchr(s, '~');
	long us, id;
	if (!sep || (size_t)(sep - s) >= sizeof(q->cursor_us))
		return false;
	memcpy(q->cursor_us, s, (size_t)(sep - s));
	q->cursor_us[sep - s] = '\0';
	snprintf(q->cursor_id, sizeof(q->cursor_id), "%.23s", sep + 1);
	return strlen(sep + 1) < sizeof(q->cursor_id) &&
	       audit_whole(q->cursor_us, 0, 9000000000000000000L, &us) &&
	       audit_whole(q->cursor_id, 1, 9000000000000000000L, &id);
}

static json_t *audit_query_check(struct audit_query *q)
{
	json_t *errors = json_array();
	int64_t ms;
	if (q->v[AUDIT_Q_SINCE] && tstamp_parse(q->v[AUDIT_Q_SINCE], &ms) != 0)
		json_array_append_new(errors, http_field("since", "must be an RFC 3339 time"));
	else if (q->v[AUDIT_Q_SINCE])
		snprintf(q->since_ms, sizeof(q->since_ms), "%lld", (long long)ms);
	/* entity and actor are names (a table, a staff id), never longer than this */
	for (int i = AUDIT_Q_ENTITY; i <= AUDIT_Q_ACTOR; i++)
		if (q->v[i] && (!*q->v[i] || strlen(q->v[i]) > 64))
			json_array_append_new(errors,
					      http_field(audit_params[i], "must be 1 to 64 bytes"));
	if (q->v[AUDIT_Q_AFTER] && !audit_cursor_parse(q->v[AUDIT_Q_AFTER], q))
		json_array_append_new(
		    errors, http_field("after", "is not a cursor this endpoint returned"));
	q->limit = 50;
	if (q->v[AUDIT_Q_LIMIT] && !audit_whole(q->v[AUDIT_Q_LIMIT], 1, 200, &q->limit))
		json_array_append_new(errors,
				      http_field("limit", "must be a whole number from 1 to 200"));
	if (json_array_size(errors) == 0) {
		json_decref(errors);
		return NULL;
	}
	return errors;
}

static void audit_reply_page(struct http_req *r, PGresult *res, long limit)
{
	json_t *items = json_array();
	int n = PQntuples(res);
	int shown = n > limit ? (int)limit : n;
	for (int i = 0; i < shown; i++)
		json_array_append_new(items, json_loads(PQgetvalue(res, i, 0), 0, NULL));
	json_t *next = n > limit ? json_string(PQgetvalue(res, shown - 1, 1)) : json_null();
	http_reply_json(
	    r, 200,
	    json_pack("{s:o, s:i, s:o}", "audit", items, "count", shown, "next_cursor", next));
}

/* The page's statement with a condition for each filter given, their values in p (in the
 * order of their $n) and the limit last; returns how many parameters. The text is made of the
 * fixed pieces below only, never of a value. */
static int audit_page_sql(const struct audit_query *q, char *sql, size_t cap, const char **p,
			  const char *limit)
{
	int n = 0;
	size_t len = (size_t)snprintf(sql, cap, "%s", audit_select);
	if (q->v[AUDIT_Q_SINCE]) {
		p[n++] = q->since_ms;
		len += (size_t)snprintf(
		    sql + len, cap - len,
		    " AND at >= timestamptz 'epoch' + $%d::bigint * interval '1 ms'", n);
	}
	if (q->v[AUDIT_Q_ENTITY]) {
		p[n++] = q->v[AUDIT_Q_ENTITY];
		len += (size_t)snprintf(sql + len, cap - len, " AND entity = $%d", n);
	}
	if (q->v[AUDIT_Q_ACTOR]) {
		p[n++] = q->v[AUDIT_Q_ACTOR];
		len += (size_t)snprintf(sql + len, cap - len, " AND actor = $%d", n);
	}
	if (q->v[AUDIT_Q_AFTER]) {
		p[n++] = q->cursor_us;
		p[n++] = q->cursor_id;
		len += (size_t)snprintf(sql + len, cap - len,
					" AND (at, id) < (timestamptz 'epoch' + $%d::bigint * "
					"interval '1 microsecond', $%d::bigint)",
					n - 1, n);
	}
	p[n++] = limit;
	snprintf(sql + len, cap - len, " ORDER BY at DESC, id DESC LIMIT $%d::int", n);
	return n;
}

void audit_http_list(struct http_req *r, void *arg)
{
	struct audit_query q = {0};
	for (int i = 0; i < AUDIT_Q_N; i++)
		q.v[i] = http_req_query(r, audit_params[i]);
	json_t *errors = audit_query_check(&q);
	if (errors) {
		http_reply_fields(r, 422, "validation_failed", errors);
		goto free_params;
	}
	char limit[24];
	snprintf(limit, sizeof(limit), "%ld", q.limit + 1);
	char sql[sizeof(audit_select) + 512];
	const char *p[6];
	int n = audit_page_sql(&q, sql, sizeof(sql), p, limit);
	PGresult *res = pg_query(r->db, sql, n, p);
	if (!res) {
		http_reply_error(r, 503, "unavailable", "the audit could not be read; retry");
		goto free_params;
	}
	audit_reply_page(r, res, q.limit);
	PQclear(res);
free_params:
	for (int i = 0; i < AUDIT_Q_N; i++)
		free(q.v[i]);
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
