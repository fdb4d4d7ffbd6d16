/* The staff queue: GET /v1/staff/complaints (agent role or above).
 *
 * The queue is sorted by the nearest deadline of a running clock (cases without one last),
 * then by complaint number, and paged by keyset (?after=<cursor from the previous page>) so a
 * page costs the same however deep it is and a case moving meanwhile is neither skipped nor
 * shown twice on one walk. A row carries the complainant's contact in full only for those who
 * handle that case (intake_contact_entitled); other agents see it masked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "intake.h"
#include "pg.h"

/* clang-format off */
/* $1 status  $2 waybill  $3 owner  $4 outlet  $5 priority  $6 category  $7 scope
 * $8 due-soon minutes  $9 cursor due (ms, or NULL for no cursor)  $10 cursor complaint_no
 * $11 limit  $12 include closed. Open cases only, unless a status is asked for, closed ones
 * are included, or a waybill is looked up (a search finds its closed cases too). */
static const char queue_sql[] =
    "SELECT complaint_no, status, channel, waybill_no, type, priority, repeat_count, is_repeat, "
    "  to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), entered_by, "
    "  complainant_name, complainant_phone, preferred_contact, outlet_id, owner_staff_id, "
    "  category, subcategory, next_due_clock, "
    "  to_char(next_due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "  escalation_level, "
    "  next_due_at < now() OR EXISTS (SELECT 1 FROM case_clocks k WHERE k.complaint_id = c.id "
    "     AND k.breached AND k.state IN ('running', 'exhausted')) AS overdue, "
    "  CASE WHEN next_due_at IS NULL THEN 'inf' "
    "       ELSE (extract(epoch FROM next_due_at) * 1000)::bigint::text END AS sort_due "
    "FROM complaints c "
    "WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR waybill_no = $2) "
    "  AND ($3::text IS NULL OR owner_staff_id = $3) AND ($4::text IS NULL OR outlet_id = $4) "
    "  AND ($5::int IS NULL OR priority = $5) AND ($6::text IS NULL OR category = $6) "
    "  AND ($1::text IS NOT NULL OR $2::text IS NOT NULL OR $12::boolean "
    "       OR status NOT IN ('closed', 'merged', 'withdrawn')) "
    "  AND CASE $7 "
    "    WHEN 'unassigned' THEN owner_staff_id IS NULL "
    "    WHEN 'overdue' THEN next_due_at < now() OR EXISTS (SELECT 1 FROM case_clocks k "
    "       WHERE k.complaint_id = c.id AND k.breached AND k.state IN ('running', 'exhausted')) "
    "    WHEN 'due_soon' THEN next_due_at < now() + make_interval(mins => $8::int) "
    "    ELSE true END "
    "  AND ($9::text IS NULL OR (coalesce(next_due_at, 'infinity'::timestamptz), complaint_no) > "
    "       (CASE WHEN $9 = 'inf' THEN 'infinity'::timestamptz "
    "             ELSE to_timestamp($9::bigint / 1000.0) END, $10::text)) "
    "ORDER BY coalesce(next_due_at, 'infinity'::timestamptz), complaint_no LIMIT $11::int";
/* clang-format on */

static const char *const queue_scopes[] = {"all", "mine", "unassigned", "overdue", "due_soon"};

struct queue_query {
	char *v[11]; /* status waybill_no owner outlet priority category scope within_minutes
			after limit include_closed */
	long limit;
	char cursor_due[24];
	char cursor_no[64];
};

enum {
	Q_STATUS,
	Q_WAYBILL,
	Q_OWNER,
	Q_OUTLET,
	Q_PRIORITY,
	Q_CATEGORY,
	Q_SCOPE,
	Q_WITHIN,
	Q_AFTER,
	Q_LIMIT,
	Q_CLOSED
};

static const char *const queue_params[] = {
    "status", "waybill_no",	"owner", "outlet", "priority",	    "category",
    "scope",  "within_minutes", "after", "limit",  "include_closed"};

static bool whole_in(const char *s, long lo, long hi, long *out)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool scope_valid(const char *s)
{
	for (size_t i = 0; i < sizeof(queue_scopes) / sizeof(queue_scopes[0]); i++)
		if (strcmp(s, queue_scopes[i]) == 0)
			return true;
	return false;
}

/* after=<due ms or inf>~<complaint_no>, as returned in next_cursor. */
static bool cursor_parse(const char *s, struct queue_query *q)
{
	const char *sep = strchr(s, '~');
	size_t n = sep ? (size_t)(sep - s) : 0;
	if (!sep || n == 0 || n >= sizeof(q->cursor_due) || strlen(sep + 1) == 0 ||
	    strlen(sep + 1) >= sizeof(q->cursor_no))
		return false;
	memcpy(q->cursor_due, s, n);
	q->cursor_due[n] = '\0';
	snprintf(q->cursor_no, sizeof(q->cursor_no), "%s", sep + 1);
	long ignored;
	return strcmp(q->cursor_due, "inf") == 0 ||
	       whole_in(q->cursor_due, 0, 9000000000000000L, &ignored);
}

static void problem(json_t *errors, const char *field, const char *text)
{
	json_array_append_new(errors, http_field(field, text));
}

static json_t *check_query(struct queue_query *q)
{
	json_t *errors = json_array();
	long ignored;
	if (q->v[Q_STATUS] && !intake_status_valid(q->v[Q_STATUS]))
		problem(errors, "status", "unknown status");
	if (q->v[Q_WAYBILL] && !intake_waybill_valid(q->v[Q_WAYBILL]))
		problem(errors, "waybill_no", "must be 8 to 20 capital letters or digits");
	if (q->v[Q_PRIORITY] && !whole_in(q->v[Q_PRIORITY], 1, 5, &ignored))
		problem(errors, "priority", "must be a whole number from 1 to 5");
	if (q->v[Q_SCOPE] && !scope_valid(q->v[Q_SCOPE]))
		problem(errors, "scope",
			"unknown value; one of: all mine unassigned overdue due_soon");
	if (q->v[Q_WITHIN] && !whole_in(q->v[Q_WITHIN], 1, 10080, &ignored))
		problem(errors, "within_minutes", "must be a whole number from 1 to 10080");
	if (q->v[Q_AFTER] && !cursor_parse(q->v[Q_AFTER], q))
		problem(errors, "after", "is not a cursor this endpoint returned");
	q->limit = 50;
	if (q->v[Q_LIMIT] && !whole_in(q->v[Q_LIMIT], 1, 200, &q->limit))
		problem(errors, "limit", "must be a whole number from 1 to 200");
	if (q->v[Q_CLOSED] && strcmp(q->v[Q_CLOSED], "true") != 0 &&
	    strcmp(q->v[Q_CLOSED], "false") != 0)
		problem(errors, "include_closed", "must be true or false");
	static const int free_text[] = {Q_OWNER, Q_OUTLET, Q_CATEGORY};
	for (size_t i = 0; i < sizeof(free_text) / sizeof(free_text[0]); i++)
		if (q->v[free_text[i]] && strlen(q->v[free_text[i]]) > 64)
			problem(errors, queue_params[free_text[i]],
				"is too long (at most 64 bytes)");
	if (json_array_size(errors) == 0) {
		json_decref(errors);
		return NULL;
	}
	return errors;
}

static json_t *opt(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static json_t *row_json(PGresult *res, int i, const struct auth_principal *who)
{
	char name[160], phone[40];
	/* the contact in full only for those who handle the case (and supervisors) */
	if (intake_contact_entitled(who, PQgetvalue(res, i, 14), PQgetvalue(res, i, 9))) {
		snprintf(name, sizeof(name), "%s", PQgetvalue(res, i, 10));
		snprintf(phone, sizeof(phone), "%s", PQgetvalue(res, i, 11));
	} else {
		intake_mask_name(PQgetvalue(res, i, 10), name, sizeof(name));
		intake_mask_phone(PQgetvalue(res, i, 11), phone, sizeof(phone));
	}
	json_t *j = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:b, s:s, s:{s:s, s:s, s:s}, s:i, s:b}",
	    "complaint_no", PQgetvalue(res, i, 0), "status", PQgetvalue(res, i, 1), "channel",
	    PQgetvalue(res, i, 2), "waybill_no", PQgetvalue(res, i, 3), "type",
	    PQgetvalue(res, i, 4), "priority", atoi(PQgetvalue(res, i, 5)), "repeat_count",
	    atoi(PQgetvalue(res, i, 6)), "repeat", PQgetvalue(res, i, 7)[0] == 't', "received_at",
	    PQgetvalue(res, i, 8), "complainant", "name", name, "phone", phone, "preferred_contact",
	    PQgetvalue(res, i, 12), "escalation_level", atoi(PQgetvalue(res, i, 19)), "overdue",
	    PQgetvalue(res, i, 20)[0] == 't');
	json_object_set_new(j, "entered_by", opt(res, i, 9));
	json_object_set_new(j, "outlet_id", opt(res, i, 13));
	json_object_set_new(j, "owner_staff_id", opt(res, i, 14));
	json_object_set_new(j, "category", opt(res, i, 15));
	json_object_set_new(j, "subcategory", opt(res, i, 16));
	json_object_set_new(j, "nearest_deadline",
			    PQgetisnull(res, i, 18)
				? json_null()
				: json_pack("{s:s, s:s}", "clock", PQgetvalue(res, i, 17), "due_at",
					    PQgetvalue(res, i, 18)));
	return j;
}

static void reply_page(struct http_req *r, PGresult *res, long limit,
		       const struct auth_principal *who)
{
	json_t *items = json_array();
	int n = PQntuples(res);
	for (int i = 0; i < n; i++)
		json_array_append_new(items, row_json(res, i, who));
	json_t *next = json_null();
	if (n == limit) {
		char cursor[128];
		snprintf(cursor, sizeof(cursor), "%s~%s", PQgetvalue(res, n - 1, 21),
			 PQgetvalue(res, n - 1, 0));
		next = json_string(cursor);
	}
	http_reply_json(r, 200,
			json_pack("{s:o, s:I, s:o}", "complaints", items, "count",
				  (json_int_t)json_array_size(items), "next_cursor", next));
}

void intake_staff_list_complaints(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	struct queue_query q = {0};
	for (int i = 0; i <= Q_CLOSED; i++)
		q.v[i] = http_req_query(r, queue_params[i]);
	json_t *errors = check_query(&q);
	if (errors) {
		http_reply_fields(r, 422, "validation_failed", errors);
		goto out;
	}
	const char *scope = q.v[Q_SCOPE] ? q.v[Q_SCOPE] : "all";
	char limit[16];
	snprintf(limit, sizeof(limit), "%ld", q.limit);
	/* "mine" is the caller's own cases, whatever owner= says */
	const char *owner = strcmp(scope, "mine") == 0 ? who.staff_id : q.v[Q_OWNER];
	const char *p[] = {q.v[Q_STATUS],
			   q.v[Q_WAYBILL],
			   owner,
			   q.v[Q_OUTLET],
			   q.v[Q_PRIORITY],
			   q.v[Q_CATEGORY],
			   scope,
			   q.v[Q_WITHIN] ? q.v[Q_WITHIN] : "30",
			   q.v[Q_AFTER] ? q.cursor_due : NULL,
			   q.v[Q_AFTER] ? q.cursor_no : NULL,
			   limit,
			   q.v[Q_CLOSED] && strcmp(q.v[Q_CLOSED], "true") == 0 ? "true" : "false"};
	PGresult *res = pg_query(r->db, queue_sql, 12, p);
	if (!res) {
		http_reply_error(r, 503, "unavailable", "the complaints could not be read; retry");
		goto out;
	}
	reply_page(r, res, q.limit, &who);
	PQclear(res);
out:
	for (int i = 0; i <= Q_CLOSED; i++)
		free(q.v[i]);
}
