#include "tstamp.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t tstamp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double tstamp_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tstamp_format(int64_t ms, char out[TSTAMP_LEN])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(out, TSTAMP_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, TSTAMP_LEN - n, ".%03dZ", (int)(ms % 1000));
}

static int tstamp_offset(const char *p, int64_t *off_ms)
{
	if (*p == 'Z' || *p == 'z') {
		*off_ms = 0;
		return p[1] == '\0' ? 0 : -1;
	}
	int hh, mm;
	char sign = *p;
	if ((sign != '+' && sign != '-') || sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 ||
	    strlen(p) != 6 || hh > 23 || mm > 59)
		return -1;
	*off_ms = (int64_t)(hh * 3600 + mm * 60) * 1000 * (sign == '-' ? -1 : 1);
	return 0;
}

static bool tstamp_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* timegm() normalises 31 February to 3 March; a stamp naming a day that does not exist is
 * a broken producer, not a date to guess at. */
static bool tstamp_fields_valid(const struct tm *tm)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (tm->tm_year < 1 || tm->tm_mon < 1 || tm->tm_mon > 12 || tm->tm_mday < 1 ||
	    tm->tm_hour < 0 || tm->tm_hour > 23 || tm->tm_min < 0 || tm->tm_min > 59 ||
	    tm->tm_sec < 0 || tm->tm_sec > 60)
		return false;
	int last = days[tm->tm_mon - 1] + (tm->tm_mon == 2 && tstamp_leap(tm->tm_year));
	return tm->tm_mday <= last;
}

/* n decimal digits at p, or -1 if any is not a digit (no sign, no space: sscanf's %d took
 * both). */
static int tstamp_digits(const char *p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Days from 1970-01-01 to the proleptic Gregorian date (H. Hinnant's days_from_civil): what
 * timegm() computes, without its time-zone machinery. */
static int64_t tstamp_days(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Every scan and event carries stamps: sscanf and timegm were a quarter of the tracking
 * consumer's CPU (perf, make bench), so the fixed layout is read digit by digit. */
int tstamp_parse(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	int frac_ms = 0;
	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':')
		return -1;
	tm.tm_year = tstamp_digits(s, 4);
	tm.tm_mon = tstamp_digits(s + 5, 2);
	tm.tm_mday = tstamp_digits(s + 8, 2);
	tm.tm_hour = tstamp_digits(s + 11, 2);
	tm.tm_min = tstamp_digits(s + 14, 2);
	tm.tm_sec = tstamp_digits(s + 17, 2);
	if (!tstamp_fields_valid(&tm))
		return -1;
	const char *p = s + 19;
	if (*p == '.') {
		int scale = 100;
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			frac_ms += (*p - '0') * scale;
	}
	int64_t off = 0;
	if (tstamp_offset(p, &off) != 0)
		return -1;
	/* a leap second (:60) counts as the next minute's first, as timegm() normalises it */
	int64_t secs = tstamp_days(tm.tm_year, tm.tm_mon, tm.tm_mday) * 86400 + tm.tm_hour * 3600 +
		       tm.tm_min * 60 + tm.tm_sec;
	*ms = secs * 1000 + frac_ms - off;
	return 0;
}
