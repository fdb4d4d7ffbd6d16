/* Staff endpoints: GET /v1/staff/complaints (list and search, agent role or above). Staff
 * handle cases, so they see the complainant's contact in full. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "intake.h"
#include "pg.h"

#define LIST_SQL                                                                                   \
	"SELECT complaint_no, status, channel, waybill_no, type, priority, repeat_count, "         \
	"is_repeat, to_char(received_at AT TIME ZONE 'UTC', "                                      \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), entered_by, complainant_name, complainant_phone, "     \
	"preferred_contact, outlet_id FROM complaints WHERE ($1::text IS NULL OR status = $1) "    \
	"AND ($2::text IS NULL OR waybill_no = $2) ORDER BY received_at DESC, id LIMIT $3"

struct list_query {
	char *status;
	char *waybill;
	char *limit;
	long limit_n;
};

static json_t *check_query(struct list_query *q)
{
	json_t *errors = json_array();
	char *end = NULL;
	if (q->status && !intake_status_valid(q->status))
		json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "status", "problem",
							"unknown status"));
	if (q->waybill && !intake_waybill_valid(q->waybill))
		json_array_append_new(errors,
				      json_pack("{s:s, s:s}", "field", "waybill_no", "problem",
						"must be 8 to 20 capital letters or digits"));
	q->limit_n = q->limit ? strtol(q->limit, &end, 10) : 50;
	if (q->limit && (*end || q->limit_n < 1 || q->limit_n > 200))
		json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "limit", "problem",
							"must be a whole number from 1 to 200"));
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

static json_t *row_json(PGresult *res, int i)
{
	json_t *j = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:b, s:s, s:{s:s, s:s, s:s}}", "complaint_no",
	    PQgetvalue(res, i, 0), "status", PQgetvalue(res, i, 1), "channel",
	    PQgetvalue(res, i, 2), "waybill_no", PQgetvalue(res, i, 3), "type",
	    PQgetvalue(res, i, 4), "priority", atoi(PQgetvalue(res, i, 5)), "repeat_count",
	    atoi(PQgetvalue(res, i, 6)), "repeat", PQgetvalue(res, i, 7)[0] == 't', "received_at",
	    PQgetvalue(res, i, 8), "complainant", "name", PQgetvalue(res, i, 10), "phone",
	    PQgetvalue(res, i, 11), "preferred_contact", PQgetvalue(res, i, 12));
	json_object_set_new(j, "entered_by", opt(res, i, 9));
	json_object_set_new(j, "outlet_id", opt(res, i, 13));
	return j;
}

void intake_staff_list_complaints(struct http_req *r, void *arg)
{
	if (auth_require(r, AUTH_AGENT, NULL) != 0)
		return;
	struct list_query q = {http_req_query(r, "status"), http_req_query(r, "waybill_no"),
			       http_req_query(r, "limit"), 0};
	json_t *errors = check_query(&q);
	if (errors) {
		http_reply_fields(r, 422, "validation_failed", errors);
		goto out;
	}
	char limit[16];
	snprintf(limit, sizeof(limit), "%ld", q.limit_n);
	const char *p[] = {q.status, q.waybill, limit};
	PGresult *res = pg_query(r->db, LIST_SQL, 3, p);
	if (!res) {
		http_reply_error(r, 503, "unavailable", "the complaints could not be read; retry");
		goto out;
	}
	json_t *items = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(items, row_json(res, i));
	PQclear(res);
	http_reply_json(r, 200,
			json_pack("{s:o, s:I}", "complaints", items, "count",
				  (json_int_t)json_array_size(items)));
out:
	free(q.status);
	free(q.waybill);
	free(q.limit);
}
