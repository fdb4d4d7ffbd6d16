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

int tstamp_parse(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	int frac_ms = 0, used = 0;
	if (!s || strlen(s) < 20 ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 ||
	    used != 19)
		return -1;
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
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ms = (int64_t)timegm(&tm) * 1000 + frac_ms - off;
	return 0;
}
