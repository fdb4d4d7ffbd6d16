/* GET /v1/complaints/{complaint_id_or_no}/clocks: every SLA clock of a complaint side by side
 * (due, used, paused, state, calendar, escalation level), for staff. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "ids.h"
#include "pg.h"
#include "sla.h"
#include "timer.h"

/* SQL text reads best as written. */
// clang-format off
#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#define CASE_SQL                                                                            \
	"SELECT complaint_id::text, complaint_no, sla_policy, awaiting_since IS NOT NULL, " \
	ISO("awaiting_since") " FROM cases WHERE "

#define CLOCKS_SQL                                                                          \
	"SELECT clock, state, duration_s, " ISO("started_at") ", " ISO("due_at") ", "       \
	ISO("warn_at") ", warned, escalation_level, pausable, " ISO("paused_at") ", "       \
	"paused_ms / 1000, " ISO("stopped_at") ", stopped_by, complaint_id::text, "         \
	"complaint_no, coalesce(calendar, ''), used_ms, "                                   \
	"(extract(epoch FROM counted_from) * 1000)::bigint, "                               \
	"(extract(epoch FROM now()) * 1000)::bigint FROM clocks WHERE %s "                  \
	"ORDER BY array_position(ARRAY['accept', 'first_response', 'verification', "        \
	"'resolution', 'whole_cycle', 'next_update', 'regulatory'], clock), clock"

enum { COL_CALENDAR = 15, COL_USED, COL_COUNTED, COL_NOW };
// clang-format on

static json_t *nullable(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

/* Time counted so far: the closed segments, plus the open one while the clock counts (on its
 * working calendar when it has one). */
static int used_s(PGconn *pg, struct timer_calendars *cals, PGresult *r, int i, json_int_t *out)
{
	const struct calendar *cal;
	struct sla_clock c = {0};
	int state = sla_state_of(PQgetvalue(r, i, 1));
	if (timer_calendars_get(pg, cals, PQgetvalue(r, i, COL_CALENDAR), &cal) != 0)
		return -1;
	c.state = state < 0 ? SLA_STOPPED : (enum sla_state)state;
	c.used_ms = atoll(PQgetvalue(r, i, COL_USED));
	c.counted_from_ms = atoll(PQgetvalue(r, i, COL_COUNTED));
	*out = (json_int_t)(sla_clock_used_ms(&c, cal, atoll(PQgetvalue(r, i, COL_NOW))) / 1000);
	return 0;
}

static json_t *clock_json(PGresult *r, int i)
{
	int level = atoi(PQgetvalue(r, i, 7));
	json_t *j = json_pack(
	    "{s:s, s:s, s:i, s:s, s:s, s:b, s:i, s:s, s:b, s:I}", "clock", PQgetvalue(r, i, 0),
	    "state", PQgetvalue(r, i, 1), "duration_s", atoi(PQgetvalue(r, i, 2)), "started_at",
	    PQgetvalue(r, i, 3), "due_at", PQgetvalue(r, i, 4), "warned",
	    PQgetvalue(r, i, 6)[0] == 't', "escalation_level", level, "escalated_to",
	    sla_level_name(level), "pausable", PQgetvalue(r, i, 8)[0] == 't', "paused_s",
	    (json_int_t)atoll(PQgetvalue(r, i, 10)));
	json_object_set_new(j, "warn_at", nullable(r, i, 5));
	json_object_set_new(j, "paused_at", nullable(r, i, 9));
	json_object_set_new(j, "stopped_at", nullable(r, i, 11));
	json_object_set_new(j, "stopped_by", nullable(r, i, 12));
	json_object_set_new(j, "calendar", json_string(PQgetvalue(r, i, COL_CALENDAR)));
	return j;
}

static PGresult *query_by(PGconn *c, const char *sql_fmt, const char *key, bool by_id)
{
	char sql[2048];
	snprintf(sql, sizeof(sql), sql_fmt,
		 by_id ? "complaint_id = $1::uuid" : "complaint_no = $1");
	const char *p[] = {key};
	return pg_query(c, sql, 1, p);
}

static json_t *clocks_json(PGconn *pg, PGresult *cases, PGresult *clocks)
{
	json_t *arr = json_array();
	struct timer_calendars cals = {0};
	for (int i = 0; i < PQntuples(clocks); i++) {
		json_t *c = clock_json(clocks, i);
		json_int_t used = 0;
		if (used_s(pg, &cals, clocks, i, &used) != 0) {
			json_decref(c);
			json_decref(arr);
			timer_calendars_release(&cals);
			return NULL;
		}
		json_object_set_new(c, "used_s", json_integer(used));
		json_array_append_new(arr, c);
	}
	timer_calendars_release(&cals);
	bool have_case = PQntuples(cases) > 0;
	PGresult *src = have_case ? cases : clocks;
	int idcol = have_case ? 0 : 13, nocol = have_case ? 1 : 14;
	json_t *j = json_pack("{s:s, s:s, s:o}", "complaint_id", PQgetvalue(src, 0, idcol),
			      "complaint_no", PQgetvalue(src, 0, nocol), "clocks", arr);
	json_object_set_new(j, "sla_policy", have_case ? nullable(cases, 0, 2) : json_null());
	json_object_set_new(j, "awaiting_customer",
			    json_boolean(have_case && PQgetvalue(cases, 0, 3)[0] == 't'));
	json_object_set_new(j, "awaiting_since", have_case ? nullable(cases, 0, 4) : json_null());
	return j;
}

static void reply_clocks(struct http_req *r, PGresult *cases, PGresult *clocks)
{
	json_t *body = clocks_json(r->db, cases, clocks);
	if (!body)
		http_reply_error(r, 503, "unavailable", "the calendars could not be read; retry");
	else
		http_reply_json(r, 200, body);
}

void timer_get_clocks(struct http_req *r, void *arg)
{
	struct auth_principal who;
	if (auth_caller(r, &who) != 0)
		return;
	const char *key = r->params[0];
	bool by_id = ids_is_uuid(key);
	PGresult *cases = query_by(r->db, CASE_SQL "%s", key, by_id);
	PGresult *clocks = cases ? query_by(r->db, CLOCKS_SQL, key, by_id) : NULL;
	if (!cases || !clocks)
		http_reply_error(r, 503, "unavailable", "the clocks could not be read; retry");
	else if (PQntuples(cases) == 0 && PQntuples(clocks) == 0)
		http_reply_error(r, 404, "not_found", "no clocks for this complaint");
	else
		reply_clocks(r, cases, clocks);
	PQclear(clocks);
	PQclear(cases);
}
