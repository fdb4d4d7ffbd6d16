/* Unit tests: working-calendar arithmetic of the timer (services/timer/calendar.c) on the
 * 2026 China mainland calendar as seeded in deploy/sql/0710_timer_people_clocks.sql: Mon-Fri
 * 09:00-18:00 Beijing time (UTC+8), the public holidays and the make-up working days (调休). */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>

#include "timer/calendar.h"
#include "timer/timer.h"

#define MIN_MS	60000LL
#define HOUR_MS 3600000LL

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static int32_t civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* A Beijing wall-clock time as a UTC instant in ms. */
static int64_t cst(int y, int m, int d, int hh, int mm)
{
	return (int64_t)civil(y, m, d) * 86400000LL + (hh * 60 + mm - 480) * MIN_MS;
}

/* The exceptions of 2026 as {month, day, working}. */
static const int cn_2026[][3] = {
    {1, 1, 0},	{1, 2, 0},  {1, 3, 0},	{1, 4, 1},  {2, 14, 1}, {2, 15, 0}, {2, 16, 0},	 {2, 17, 0},
    {2, 18, 0}, {2, 19, 0}, {2, 20, 0}, {2, 21, 0}, {2, 22, 0}, {2, 23, 0}, {2, 28, 1},	 {4, 4, 0},
    {4, 5, 0},	{4, 6, 0},  {5, 1, 0},	{5, 2, 0},  {5, 3, 0},	{5, 4, 0},  {5, 5, 0},	 {5, 9, 1},
    {6, 19, 0}, {6, 20, 0}, {6, 21, 0}, {9, 20, 1}, {9, 25, 0}, {9, 26, 0}, {9, 27, 0},	 {10, 1, 0},
    {10, 2, 0}, {10, 3, 0}, {10, 4, 0}, {10, 5, 0}, {10, 6, 0}, {10, 7, 0}, {10, 10, 1},
};
#define CN_NDAYS (sizeof(cn_2026) / sizeof(cn_2026[0]))

static struct cal_day cn_days[CN_NDAYS];
static struct calendar cn;

static void setup(void)
{
	struct cal_hours office = {540, 1080}, none = {0, 0};
	for (size_t i = 0; i < CN_NDAYS; i++)
		cn_days[i] = (struct cal_day){civil(2026, cn_2026[i][0], cn_2026[i][1]),
					      cn_2026[i][2] != 0, cn_2026[i][2] ? office : none};
	cn = (struct calendar){
	    480, {office, office, office, office, office, none, none}, cn_days, CN_NDAYS};
}

START_TEST(weekdays_and_local_dates)
{
	ck_assert_int_eq(cal_weekday(civil(2026, 11, 23)), 0); /* a Monday */
	ck_assert_int_eq(cal_weekday(civil(2026, 2, 14)), 5);  /* a Saturday */
	ck_assert_int_eq(cal_weekday(civil(1969, 12, 29)), 0); /* before the epoch too */
	/* 23:30 UTC on Monday is already Tuesday 07:30 in Beijing */
	int64_t t = cst(2026, 11, 24, 7, 30);
	ck_assert_int_eq(cal_local_day(&cn, t), civil(2026, 11, 24));
}
END_TEST

/* Issue 8: a clock started on a Friday evening before a public holiday falls due on the right
 * working day. Qingming 2026: Saturday 4 to Monday 6 April off, no make-up day. */
START_TEST(friday_evening_before_a_holiday_is_due_after_it)
{
	int64_t fri_1700 = cst(2026, 4, 3, 17, 0);
	/* 2 working hours: 17:00-18:00 on Friday, then 09:00-10:00 on Tuesday 7 April */
	ck_assert_int_eq(cal_due(&cn, fri_1700, 2 * 3600), cst(2026, 4, 7, 10, 0));
	/* 30 minutes fit into Friday */
	ck_assert_int_eq(cal_due(&cn, fri_1700, 1800), cst(2026, 4, 3, 17, 30));
	/* started after hours on that Friday: Tuesday 09:30 */
	ck_assert_int_eq(cal_due(&cn, cst(2026, 4, 3, 19, 45), 1800), cst(2026, 4, 7, 9, 30));
	/* Labour Day: Thursday 30 April 17:00 + 3 h -> Wednesday 6 May 11:00 */
	ck_assert_int_eq(cal_due(&cn, cst(2026, 4, 30, 17, 0), 3 * 3600), cst(2026, 5, 6, 11, 0));
}
END_TEST

/* Spring Festival 2026: Saturday 14 February is a make-up working day, 15-23 February off. */
START_TEST(a_make_up_saturday_counts_as_working)
{
	int64_t fri_1700 = cst(2026, 2, 13, 17, 0);
	ck_assert_int_eq(cal_due(&cn, fri_1700, 2 * 3600), cst(2026, 2, 14, 10, 0));
	/* 1 h Friday + 9 h Saturday + 1 h after the holiday: Tuesday 24 February 10:00 */
	ck_assert_int_eq(cal_due(&cn, fri_1700, 11 * 3600), cst(2026, 2, 24, 10, 0));
	/* the make-up Saturday 28 February works 9 hours, the next Saturday none */
	ck_assert_int_eq(cal_working_ms(&cn, cst(2026, 2, 28, 0, 0), cst(2026, 3, 1, 0, 0)),
			 9 * HOUR_MS);
	ck_assert_int_eq(cal_working_ms(&cn, cst(2026, 3, 7, 0, 0), cst(2026, 3, 8, 0, 0)), 0);
	/* a make-up Sunday (4 January, after New Year) works, the holiday Friday before not */
	ck_assert_int_eq(cal_due(&cn, cst(2026, 1, 1, 12, 0), 3600), cst(2026, 1, 4, 10, 0));
	/* the whole holiday week has no working time */
	ck_assert_int_eq(cal_working_ms(&cn, cst(2026, 2, 15, 0, 0), cst(2026, 2, 24, 0, 0)), 0);
}
END_TEST

START_TEST(durations_span_nights_and_weekends)
{
	/* Monday 17:00 + 3 h: 1 h today, 2 h on Tuesday morning */
	ck_assert_int_eq(cal_due(&cn, cst(2026, 11, 23, 17, 0), 3 * 3600),
			 cst(2026, 11, 24, 11, 0));
	/* an ordinary Friday 17:00 + 2 h: Monday 10:00 */
	int64_t fri = cst(2026, 11, 27, 17, 0), mon = cst(2026, 11, 30, 10, 0);
	ck_assert_int_eq(cal_due(&cn, fri, 2 * 3600), mon);
	ck_assert_int_eq(cal_working_ms(&cn, fri, mon), 2 * HOUR_MS);
	/* a whole working week is 45 h: Monday 09:00 + 45 h is Friday 18:00 */
	ck_assert_int_eq(cal_due(&cn, cst(2026, 11, 23, 9, 0), 45 * 3600),
			 cst(2026, 11, 27, 18, 0));
	ck_assert_int_eq(cal_working_ms(&cn, cst(2026, 11, 21, 0, 0), cst(2026, 11, 30, 0, 0)),
			 45 * HOUR_MS);
	/* due and working time agree: the working time up to the due time is the duration */
	int64_t start = cst(2026, 9, 24, 16, 20); /* before Mid-Autumn */
	int64_t due = cal_due(&cn, start, 7 * 3600 + 123);
	ck_assert_int_eq(cal_working_ms(&cn, start, due), (7 * 3600 + 123) * 1000LL);
}
END_TEST

START_TEST(boundary_minutes)
{
	/* before opening: counting starts at 09:00 */
	ck_assert_int_eq(cal_due(&cn, cst(2026, 11, 23, 8, 59), 60), cst(2026, 11, 23, 9, 1));
	/* a duration that ends exactly at closing is due at 18:00, not the next morning */
	ck_assert_int_eq(cal_due(&cn, cst(2026, 11, 23, 17, 59), 60), cst(2026, 11, 23, 18, 0));
	ck_assert_int_eq(cal_due(&cn, cst(2026, 11, 23, 9, 0), 9 * 3600), cst(2026, 11, 23, 18, 0));
	/* one second more runs into the next day */
	ck_assert_int_eq(cal_due(&cn, cst(2026, 11, 23, 17, 59), 61),
			 cst(2026, 11, 24, 9, 0) + 1000);
	/* started at closing time: nothing is left today */
	ck_assert_int_eq(cal_due(&cn, cst(2026, 11, 23, 18, 0), 60), cst(2026, 11, 24, 9, 1));
	ck_assert_int_eq(cal_working_ms(&cn, cst(2026, 11, 23, 8, 59), cst(2026, 11, 23, 9, 1)),
			 MIN_MS);
	ck_assert_int_eq(cal_working_ms(&cn, cst(2026, 11, 23, 17, 59), cst(2026, 11, 23, 18, 1)),
			 MIN_MS);
}
END_TEST

START_TEST(zero_duration_is_due_at_its_start)
{
	int64_t sat = cst(2026, 11, 28, 3, 0);
	ck_assert_int_eq(cal_due(&cn, sat, 0), sat);
	ck_assert_int_eq(cal_due(&cn, sat, -5), sat);
	ck_assert_int_eq(cal_working_ms(&cn, sat, sat), 0);
	ck_assert_int_eq(cal_working_ms(&cn, sat + 1000, sat), 0); /* reversed: none */
}
END_TEST

START_TEST(a_calendar_without_working_time_counts_calendar_time)
{
	struct calendar none = {480, {{0, 0}}, NULL, 0};
	ck_assert(!cal_has_work(&none));
	ck_assert(cal_has_work(&cn));
	int64_t t = cst(2026, 11, 23, 12, 0);
	ck_assert_int_eq(cal_due(&none, t, 600), t + 600000);
	/* round the clock: working time is calendar time */
	struct cal_hours all = {0, 1440};
	struct calendar always = {0, {all, all, all, all, all, all, all}, NULL, 0};
	ck_assert_int_eq(cal_due(&always, t, 3 * 86400 + 7), t + (3 * 86400 + 7) * 1000LL);
	ck_assert_int_eq(cal_working_ms(&always, t, t + 90000000LL), 90000000LL);
}
END_TEST

START_TEST(a_holiday_on_a_weekday_with_its_own_hours_is_still_off)
{
	/* an exception row for a holiday that (wrongly) carries hours stays a holiday */
	struct calendar c = cn;
	struct cal_day d = {civil(2026, 11, 25), false, {540, 1080}};
	c.days = &d;
	c.ndays = 1;
	ck_assert_int_eq(cal_working_ms(&c, cst(2026, 11, 25, 0, 0), cst(2026, 11, 26, 0, 0)), 0);
}
END_TEST

/* The admin API's calendar check names every refused field (PUT /v1/calendars/{name}). */
static bool refused(const json_t *errors, const char *field)
{
	size_t i;
	const json_t *e;
	json_array_foreach (errors, i, e)
		if (strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
			return true;
	return false;
}

START_TEST(an_admins_calendar_is_checked_field_by_field)
{
	ck_assert(timer_calendar_day_valid("2026-10-01"));
	ck_assert(timer_calendar_day_valid("2028-02-29"));
	ck_assert(!timer_calendar_day_valid("2026-02-29"));
	ck_assert(!timer_calendar_day_valid("2026-13-01"));
	ck_assert(!timer_calendar_day_valid("2026-1-01"));
	ck_assert(!timer_calendar_day_valid("2026-10-01x"));
	ck_assert(timer_calendar_name_valid("cn-mainland"));
	ck_assert(!timer_calendar_name_valid("CN mainland"));
	ck_assert(!timer_calendar_name_valid(""));
	json_t *ok =
	    json_loads("{\"utc_offset_min\":480,\"hours\":[{\"weekday\":1,\"start_min\":540,"
		       "\"end_min\":1080}],\"days\":[{\"day\":\"2026-10-01\",\"working\":false},"
		       "{\"day\":\"2026-10-11\",\"working\":true,\"start_min\":540,"
		       "\"end_min\":1080,\"note\":\"x\"}]}",
		       0, NULL);
	json_t *errors = json_array();
	timer_calendar_check("cn-test", ok, errors);
	ck_assert_uint_eq(json_array_size(errors), 0);
	json_t *bad = json_loads(
	    "{\"utc_offset_min\":900,\"description\":5,\"hours\":[{\"weekday\":0,\"start_min\":600,"
	    "\"end_min\":600},{\"weekday\":2,\"start_min\":0,\"end_min\":60},{\"weekday\":2,"
	    "\"start_min\":0,\"end_min\":60}],\"days\":[{\"day\":\"2026-10-01\",\"working\":\"no\"}"
	    ","
	    "{\"day\":\"2026-10-01\",\"working\":true}]}",
	    0, NULL);
	timer_calendar_check("Bad", bad, errors);
	const char *want[] = {"name",
			      "utc_offset_min",
			      "description",
			      "hours[0].weekday",
			      "hours[0].end_min",
			      "hours[2].weekday",
			      "days[0].working",
			      "days[1].start_min",
			      "days[1].end_min",
			      "days[1].day"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(refused(errors, want[i]), "%s not refused", want[i]);
	ck_assert_uint_eq(json_array_size(errors), sizeof(want) / sizeof(want[0]));
	json_decref(ok);
	json_decref(bad);
	json_decref(errors);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timer_calendar");
	TCase *tc = tcase_create("calendar");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, weekdays_and_local_dates);
	tcase_add_test(tc, an_admins_calendar_is_checked_field_by_field);
	tcase_add_test(tc, friday_evening_before_a_holiday_is_due_after_it);
	tcase_add_test(tc, a_make_up_saturday_counts_as_working);
	tcase_add_test(tc, durations_span_nights_and_weekends);
	tcase_add_test(tc, boundary_minutes);
	tcase_add_test(tc, zero_duration_is_due_at_its_start);
	tcase_add_test(tc, a_calendar_without_working_time_counts_calendar_time);
	tcase_add_test(tc, a_holiday_on_a_weekday_with_its_own_hours_is_still_off);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
