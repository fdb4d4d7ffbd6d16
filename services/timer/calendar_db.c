/* Loading working calendars from timer.calendars / calendar_hours / calendar_days. A calendar is
 * read at most once per operation (one consumed event, one fired clock, one request), so an
 * operator's change applies to the next event without a restart or a reload signal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "timer.h"

/* SQL text reads best as written. */
// clang-format off
#define CALENDAR_SQL                                                                        \
	"SELECT c.utc_offset_min, "                                                         \
	"coalesce((SELECT string_agg(h.weekday || ':' || h.start_min || ':' || h.end_min, ',') " \
	"  FROM calendar_hours h WHERE h.calendar = c.name), ''), "                         \
	"coalesce((SELECT string_agg((d.day - date '1970-01-01') || ':' || d.working::int || ':' " \
	"  || coalesce(d.start_min, 0) || ':' || coalesce(d.end_min, 0), ',' ORDER BY d.day) " \
	"  FROM calendar_days d WHERE d.calendar = c.name), ''), "                          \
	"(SELECT count(*) FROM calendar_days d WHERE d.calendar = c.name) "                 \
	"FROM calendars c WHERE c.name = $1"
// clang-format on

/* "weekday:start:end,..." with ISO weekdays 1 (Monday) .. 7 */
static void parse_hours(const char *s, struct calendar *cal)
{
	int wd, a, b, used;
	while (*s && sscanf(s, "%d:%d:%d%n", &wd, &a, &b, &used) == 3) {
		if (wd >= 1 && wd <= 7)
			cal->week[wd - 1] = (struct cal_hours){a, b};
		s += used;
		s += *s == ',';
	}
}

/* "day:working:start:end,..." in day order */
static size_t parse_days(const char *s, struct cal_day *days, size_t max)
{
	int day, working, a, b, used;
	size_t n = 0;
	while (*s && n < max && sscanf(s, "%d:%d:%d:%d%n", &day, &working, &a, &b, &used) == 4) {
		days[n++] = (struct cal_day){day, working != 0, {a, b}};
		s += used;
		s += *s == ',';
	}
	return n;
}

static int load(PGconn *pg, const char *name, struct calendar *cal, struct cal_day **days,
		bool *found)
{
	const char *p[] = {name};
	PGresult *r = pg_query(pg, CALENDAR_SQL, 1, p);
	if (!r)
		return -1;
	*found = PQntuples(r) == 1;
	if (*found) {
		size_t max = (size_t)atoll(PQgetvalue(r, 0, 3));
		cal->utc_offset_min = atoi(PQgetvalue(r, 0, 0));
		parse_hours(PQgetvalue(r, 0, 1), cal);
		*days = max ? calloc(max, sizeof(**days)) : NULL;
		cal->ndays = *days ? parse_days(PQgetvalue(r, 0, 2), *days, max) : 0;
		cal->days = *days;
	}
	PQclear(r);
	return 0;
}

int timer_calendars_get(PGconn *pg, struct timer_calendars *cs, const char *name,
			const struct calendar **out)
{
	*out = NULL;
	if (!name || !name[0])
		return 0;
	for (int i = 0; i < cs->n; i++)
		if (strcmp(cs->e[i].name, name) == 0) {
			*out = cs->e[i].usable ? &cs->e[i].cal : NULL;
			return 0;
		}
	if (cs->n == TIMER_CALENDARS_MAX) {
		/* more than any operation needs; earlier entries stay valid for the caller */
		log_msg(LOG_WARN, "calendar_cache_full", LOG_KV({"calendar", name}),
			"too many calendars in one operation: %s counts calendar time", name);
		return 0;
	}
	int i = cs->n;
	bool found = false;
	memset(&cs->e[i], 0, sizeof(cs->e[i]));
	snprintf(cs->e[i].name, sizeof(cs->e[i].name), "%s", name);
	if (load(pg, name, &cs->e[i].cal, &cs->e[i].days, &found) != 0)
		return -1;
	cs->n++;
	cs->e[i].usable = found && cal_has_work(&cs->e[i].cal);
	if (!cs->e[i].usable)
		log_msg(LOG_WARN, "calendar_unusable", LOG_KV({"calendar", name}),
			"calendar %s is %s: its clocks count calendar time", name,
			found ? "without working time" : "unknown");
	*out = cs->e[i].usable ? &cs->e[i].cal : NULL;
	return 0;
}

void timer_calendars_release(struct timer_calendars *cs)
{
	for (int i = 0; i < cs->n; i++)
		free(cs->e[i].days);
	memset(cs, 0, sizeof(*cs));
}
