/* Working-calendar arithmetic (see calendar.h). Every computation walks local dates one by one
 * and asks each for its single working window, so a holiday, a make-up Saturday or an empty
 * weekday are all the same case: a date with or without a window. */
#include "calendar.h"

#define DAY_MS	  86400000LL
#define MINUTE_MS 60000LL

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int32_t cal_local_day(const struct calendar *c, int64_t ms)
{
	return (int32_t)floor_div(ms + c->utc_offset_min * MINUTE_MS, DAY_MS);
}

int cal_weekday(int32_t day)
{
	/* 1970-01-01 was a Thursday (3 when Monday is 0) */
	int64_t w = ((int64_t)day + 3) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

static const struct cal_day *exception_of(const struct calendar *c, int32_t day)
{
	size_t lo = 0, hi = c->ndays;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->days[mid].day == day)
			return &c->days[mid];
		if (c->days[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool hours_valid(struct cal_hours h)
{
	return h.start_min >= 0 && h.end_min <= 1440 && h.end_min > h.start_min;
}

bool cal_window(const struct calendar *c, int32_t day, int64_t *from_ms, int64_t *to_ms)
{
	const struct cal_day *x = exception_of(c, day);
	struct cal_hours h = x ? x->hours : c->week[cal_weekday(day)];
	if ((x && !x->working) || !hours_valid(h))
		return false;
	/* the local midnight of `day` as a UTC instant */
	int64_t midnight = (int64_t)day * DAY_MS - c->utc_offset_min * MINUTE_MS;
	*from_ms = midnight + h.start_min * MINUTE_MS;
	*to_ms = midnight + h.end_min * MINUTE_MS;
	return true;
}

bool cal_has_work(const struct calendar *c)
{
	for (int i = 0; i < 7; i++)
		if (hours_valid(c->week[i]))
			return true;
	for (size_t i = 0; i < c->ndays; i++)
		if (c->days[i].working && hours_valid(c->days[i].hours))
			return true;
	return false;
}

int64_t cal_due_ms(const struct calendar *c, int64_t start_ms, int64_t duration_ms)
{
	int64_t left = duration_ms;
	if (left <= 0)
		return start_ms;
	int32_t day = cal_local_day(c, start_ms);
	for (int i = 0; i < CAL_HORIZON_DAYS; i++, day++) {
		int64_t from, to;
		if (!cal_window(c, day, &from, &to) || to <= start_ms)
			continue;
		if (from < start_ms)
			from = start_ms;
		/* `<=`: a duration that fills the window exactly is due at its end */
		if (left <= to - from)
			return from + left;
		left -= to - from;
	}
	return start_ms + duration_ms;
}

int64_t cal_due(const struct calendar *c, int64_t start_ms, int64_t duration_s)
{
	return cal_due_ms(c, start_ms, duration_s * 1000);
}

int64_t cal_working_ms(const struct calendar *c, int64_t from_ms, int64_t to_ms)
{
	int64_t sum = 0;
	if (to_ms <= from_ms)
		return 0;
	for (int32_t day = cal_local_day(c, from_ms); day <= cal_local_day(c, to_ms); day++) {
		int64_t a, b;
		if (!cal_window(c, day, &a, &b))
			continue;
		a = a < from_ms ? from_ms : a;
		b = b > to_ms ? to_ms : b;
		if (b > a)
			sum += b - a;
	}
	return sum;
}
