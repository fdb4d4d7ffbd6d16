/* The working calendars as operator data: GET /v1/calendars (supervisors read) and
 * PUT /v1/calendars/{name} (admins) to add or replace one calendar with its weekly hours and
 * dated exceptions (holidays, make-up working days 调休). The timer reads a calendar once per
 * operation (calendar_db.c), so a change applies to the next event and the next fired clock;
 * a clock already running keeps its deadline until it is next re-planned. Every change is
 * recorded in admin_audit with the calendar before and after. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "auth.h"
#include "pg.h"
#include "timer.h"

#define CAL_MAX_DAYS 800

/* clang-format off */
#define CALENDAR_JSON(where) \
	"SELECT coalesce(json_agg(json_build_object('name', c.name, 'utc_offset_min', c.utc_offset_min, " \
	"  'description', c.description, " \
	"  'hours', coalesce((SELECT json_agg(json_build_object('weekday', h.weekday, " \
	"     'start_min', h.start_min, 'end_min', h.end_min) ORDER BY h.weekday) " \
	"     FROM calendar_hours h WHERE h.calendar = c.name), '[]'), " \
	"  'days', coalesce((SELECT json_agg(json_build_object('day', d.day, 'working', d.working, " \
	"     'start_min', d.start_min, 'end_min', d.end_min, 'note', d.note) ORDER BY d.day) " \
	"     FROM calendar_days d WHERE d.calendar = c.name), '[]')) ORDER BY c.name), '[]') " \
	"FROM calendars c " where
/* clang-format on */

void timer_calendars_list(struct http_req *r, void *arg)
{
	PGresult *res = pg_query(r->db, CALENDAR_JSON(""), 0, NULL);
	json_t *list = res ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
	PQclear(res);
	if (!list) {
		http_reply_error(r, 503, "unavailable", "the calendars could not be read; retry");
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", "calendars", list));
}

static void bad(json_t *errors, const char *field, const char *problem)
{
	json_array_append_new(errors, http_field(field, problem));
}

bool timer_calendar_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

/* An integer member within [lo, hi]; false (and a problem named field) otherwise. */
static bool int_in(const json_t *o, const char *key, long lo, long hi, const char *field,
		   json_t *errors)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi)
		return true;
	char msg[80];
	snprintf(msg, sizeof(msg), "must be a whole number from %ld to %ld", lo, hi);
	bad(errors, field, msg);
	return false;
}

/* A window [start_min, end_min) of one local day. */
static void check_window(const json_t *o, const char *prefix, json_t *errors)
{
	char f[64];
	snprintf(f, sizeof(f), "%s.start_min", prefix);
	bool a = int_in(o, "start_min", 0, 1439, f, errors);
	snprintf(f, sizeof(f), "%s.end_min", prefix);
	bool b = int_in(o, "end_min", 1, 1440, f, errors);
	if (a && b &&
	    json_integer_value(json_object_get(o, "end_min")) <=
		json_integer_value(json_object_get(o, "start_min")))
		bad(errors, f, "must be after start_min");
}

static void check_hours(const json_t *hours, json_t *errors)
{
	bool seen[8] = {false};
	const json_t *h;
	size_t i;
	if (!json_is_array(hours) || json_array_size(hours) > 7) {
		bad(errors, "hours", "must be an array of at most 7 weekdays");
		return;
	}
	json_array_foreach (hours, i, h) {
		char prefix[32], f[48];
		snprintf(prefix, sizeof(prefix), "hours[%zu]", i);
		snprintf(f, sizeof(f), "%s.weekday", prefix);
		if (int_in(h, "weekday", 1, 7, f, errors)) {
			int wd = (int)json_integer_value(json_object_get(h, "weekday"));
			if (seen[wd])
				bad(errors, f, "appears twice");
			seen[wd] = true;
		}
		check_window(h, prefix, errors);
	}
}

/* True when s is a real date written YYYY-MM-DD. */
bool timer_calendar_day_valid(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%d", &tm) : NULL;
	if (!end || *end || strlen(s) != 10)
		return false;
	int mday = tm.tm_mday, mon = tm.tm_mon;
	tm.tm_isdst = 0;
	/* timegm normalises 2026-02-30 into March: a date that moves was not a date */
	if (timegm(&tm) == (time_t)-1)
		return false;
	return tm.tm_mday == mday && tm.tm_mon == mon;
}

static void check_days(const json_t *days, json_t *errors)
{
	const json_t *d;
	size_t i;
	if (!json_is_array(days) || json_array_size(days) > CAL_MAX_DAYS) {
		bad(errors, "days", "must be an array of at most 800 dated exceptions");
		return;
	}
	json_array_foreach (days, i, d) {
		char prefix[32], f[48];
		snprintf(prefix, sizeof(prefix), "days[%zu]", i);
		const json_t *day = json_object_get(d, "day"), *w = json_object_get(d, "working"),
			     *note = json_object_get(d, "note");
		snprintf(f, sizeof(f), "%s.day", prefix);
		if (!json_is_string(day) || !timer_calendar_day_valid(json_string_value(day)))
			bad(errors, f, "must be a date YYYY-MM-DD");
		snprintf(f, sizeof(f), "%s.working", prefix);
		if (!json_is_boolean(w))
			bad(errors, f, "must be true (a make-up working day) or false (a holiday)");
		else if (json_is_true(w))
			check_window(d, prefix, errors);
		snprintf(f, sizeof(f), "%s.note", prefix);
		if (note && !json_is_null(note) &&
		    !(json_is_string(note) && strlen(json_string_value(note)) <= 200))
			bad(errors, f, "must be a string of at most 200 bytes");
	}
}

/* Every problem of a PUT body, as {"field", "problem"} entries. Pure. */
void timer_calendar_check(const char *name, const json_t *body, json_t *errors)
{
	const json_t *desc = json_object_get(body, "description");
	if (!timer_calendar_name_valid(name))
		bad(errors, "name", "must be 1 to 40 of a-z, 0-9, - and _");
	int_in(body, "utc_offset_min", -840, 840, "utc_offset_min", errors);
	if (desc && !json_is_null(desc) &&
	    !(json_is_string(desc) && strlen(json_string_value(desc)) <= 500))
		bad(errors, "description", "must be a string of at most 500 bytes");
	check_hours(json_object_get(body, "hours"), errors);
	check_days(json_object_get(body, "days"), errors);
	/* two exceptions on one day would make the arithmetic pick one at random */
	const json_t *days = json_object_get(body, "days"), *a, *b;
	size_t i, j;
	json_array_foreach (days, i, a)
		for (j = i + 1; j < json_array_size(days); j++) {
			b = json_array_get(days, j);
			if (json_is_string(json_object_get(a, "day")) &&
			    json_equal(json_object_get(a, "day"), json_object_get(b, "day"))) {
				char f[32];
				snprintf(f, sizeof(f), "days[%zu].day", j);
				bad(errors, f, "appears twice");
			}
		}
}

static int store(PGconn *c, const char *name, const json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	const char *p[] = {name, text};
	int rc = text ? 0 : -1;
	/* clang-format off */
	if (rc == 0)
		rc = pg_exec(c,
		    "INSERT INTO calendars (name, utc_offset_min, description) VALUES ($1, "
		    "($2::jsonb->>'utc_offset_min')::int, coalesce($2::jsonb->>'description', '')) "
		    "ON CONFLICT (name) DO UPDATE SET utc_offset_min = EXCLUDED.utc_offset_min, "
		    "description = EXCLUDED.description", 2, p);
	if (rc == 0)
		rc = pg_exec(c, "DELETE FROM calendar_hours WHERE calendar = $1", 1, p);
	if (rc == 0)
		rc = pg_exec(c, "DELETE FROM calendar_days WHERE calendar = $1", 1, p);
	if (rc == 0)
		rc = pg_exec(c,
		    "INSERT INTO calendar_hours (calendar, weekday, start_min, end_min) SELECT $1, "
		    "(h->>'weekday')::int, (h->>'start_min')::int, (h->>'end_min')::int "
		    "FROM jsonb_array_elements($2::jsonb->'hours') h", 2, p);
	if (rc == 0)
		rc = pg_exec(c,
		    "INSERT INTO calendar_days (calendar, day, working, start_min, end_min, note) "
		    "SELECT $1, (d->>'day')::date, (d->>'working')::boolean, "
		    "CASE WHEN (d->>'working')::boolean THEN (d->>'start_min')::int END, "
		    "CASE WHEN (d->>'working')::boolean THEN (d->>'end_min')::int END, "
		    "coalesce(d->>'note', '') FROM jsonb_array_elements($2::jsonb->'days') d", 2, p);
	/* clang-format on */
	free(text);
	return rc;
}

void timer_calendar_put(struct http_req *r, void *arg)
{
	struct auth_principal who;
	int failed = 0;
	json_t *before = NULL;
	if (auth_caller(r, &who) != 0)
		return;
	json_t *body = http_req_json(r);
	if (!body)
		return;
	json_t *errors = json_array();
	timer_calendar_check(r->params[0], body, errors);
	if (json_array_size(errors) > 0) {
		http_reply_fields(r, 422, "validation_failed", errors);
		goto out;
	}
	const char *p[] = {r->params[0]};
	json_t *snap = NULL;
	if (pg_begin(r->db) != 0 ||
	    (snap = audit_snapshot(r->db, CALENDAR_JSON("WHERE c.name = $1"), 1, p, &failed),
	     failed) ||
	    store(r->db, r->params[0], body) != 0 ||
	    audit_record(r->db, who.staff_id, "calendars", r->params[0],
			 json_array_size(snap) ? json_array_get(snap, 0) : NULL, body) != 0 ||
	    pg_commit(r->db) != 0) {
		http_reply_db_error(r);
	} else {
		http_reply_json(r, json_array_size(snap) ? 200 : 201,
				json_pack("{s:s, s:b}", "name", r->params[0], "created",
					  json_array_size(snap) == 0));
	}
	before = snap;
out:
	json_decref(before);
	json_decref(errors);
	json_decref(body);
}
