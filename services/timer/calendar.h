/* Working calendars: business hours per weekday, public holidays and make-up working days
 * (调休), in one fixed UTC offset (China has no daylight saving time). Pure arithmetic, no
 * I/O: instants are milliseconds since the epoch, durations seconds; the caller loads the
 * calendar (operator data, tables timer.calendars / calendar_hours / calendar_days).
 *
 * A working day has one window [start_min, end_min) in local minutes after midnight. A dated
 * exception replaces the weekday's window for that local date: a holiday has none, a make-up
 * working day has its own window even on a Saturday or Sunday. */
#ifndef CP_TIMER_CALENDAR_H
#define CP_TIMER_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How far ahead cal_due looks for working time (days) before it gives up on a calendar that
 * has none, and falls back to calendar time. */
#define CAL_HORIZON_DAYS 3700

/* A working window in local minutes after midnight; end_min <= start_min means no work. */
struct cal_hours {
	int start_min;
	int end_min;
};

/* A dated exception: `day` is the local date as days since 1970-01-01. */
struct cal_day {
	int32_t day;
	bool working;		/* false: a public holiday; true: a (make-up) working day */
	struct cal_hours hours; /* working days only */
};

struct calendar {
	int utc_offset_min;	    /* local time = UTC + this (480 for China) */
	struct cal_hours week[7];   /* index 0 = Monday .. 6 = Sunday */
	const struct cal_day *days; /* sorted by day, no duplicates; not owned */
	size_t ndays;
};

/* The local date (days since 1970-01-01) of instant ms. */
int32_t cal_local_day(const struct calendar *c, int64_t ms);

/* The weekday of a local date: 0 = Monday .. 6 = Sunday. */
int cal_weekday(int32_t day);

/* The working window of a local date in UTC milliseconds; false when the date has none. */
bool cal_window(const struct calendar *c, int32_t day, int64_t *from_ms, int64_t *to_ms);

/* Whether the calendar has any working time at all (a weekday window or a working exception). */
bool cal_has_work(const struct calendar *c);

/* The instant at which duration_s of working time has passed since start_ms. A duration that
 * ends exactly at the end of a window is due then, not at the next window's start; a zero or
 * negative duration is due at start_ms. A calendar without working time within
 * CAL_HORIZON_DAYS counts calendar time instead. */
int64_t cal_due(const struct calendar *c, int64_t start_ms, int64_t duration_s);

/* As cal_due, in milliseconds of working time. */
int64_t cal_due_ms(const struct calendar *c, int64_t start_ms, int64_t duration_ms);

/* Milliseconds of working time between from_ms and to_ms (0 when to_ms <= from_ms). */
int64_t cal_working_ms(const struct calendar *c, int64_t from_ms, int64_t to_ms);

#endif
