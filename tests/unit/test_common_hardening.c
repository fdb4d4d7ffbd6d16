/* Unit tests: regressions of issue 13's code defects, one test named after each. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "pg.h"
#include "tstamp.h"

START_TEST(tstamp_rejects_impossible_dates)
{
	int64_t ms = 0;
	/* timegm() would roll these over into the next month */
	ck_assert_int_eq(tstamp_parse("2026-02-31T00:00:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-02-29T00:00:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-04-31T00:00:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("1900-02-29T00:00:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-00-10T00:00:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-01-00T00:00:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-01-01T24:00:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-01-01T23:60:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-01-01T23:59:61Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-01-01T-1:00:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("0000-01-01T00:00:00Z", &ms), -1);
	/* the real last days, leap years included */
	ck_assert_int_eq(tstamp_parse("2028-02-29T00:00:00Z", &ms), 0);
	ck_assert_int_eq(tstamp_parse("2000-02-29T12:00:00Z", &ms), 0);
	ck_assert_int_eq(tstamp_parse("2026-12-31T23:59:59.999Z", &ms), 0);
	ck_assert_int_eq(tstamp_parse("2026-04-30T00:00:00+08:00", &ms), 0);
	ck_assert_int_eq(tstamp_parse("2026-02-28T00:00:00Z", &ms), 0);
	ck_assert(ms == 1772236800000LL);
}
END_TEST

START_TEST(backoff_delays_stay_within_bounds_and_spread)
{
	struct backoff a, b;
	backoff_init(&a, 100, 5000);
	backoff_init(&b, 100, 5000);
	int differ = 0, reached_cap_half = 0;
	for (int i = 0; i < 1000; i++) {
		int da = backoff_next_ms(&a), db = backoff_next_ms(&b);
		ck_assert_int_ge(da, 100);
		ck_assert_int_le(da, 5000);
		ck_assert_int_ge(db, 100);
		ck_assert_int_le(db, 5000);
		differ += da != db;
		reached_cap_half += da > 2500;
	}
	/* two loops that fail together must not retry together */
	ck_assert_int_gt(differ, 900);
	/* and the delays do grow towards the cap */
	ck_assert_int_gt(reached_cap_half, 0);
	backoff_reset(&a);
	ck_assert_int_le(backoff_next_ms(&a), 300); /* after a reset: back near base */
	struct backoff c;
	backoff_init(&c, 0, -5); /* nonsense bounds are clamped, never a zero or negative delay */
	ck_assert_int_eq(backoff_next_ms(&c), 1);
}
END_TEST

START_TEST(pg_text_array_escapes_quotes_backslashes_commas_braces_null)
{
	const char *items[] = {"plain",	     "a,b",	    "{x}",
			       "say \"hi\"", "back\\slash", "NULL",
			       "",	     " blank ",	    "\xe7\xa0\xb4\xe6\x8d\x9f",
			       NULL};
	char *lit = pg_text_array(items, 10);
	ck_assert_ptr_nonnull(lit);
	ck_assert_str_eq(lit, "{\"plain\",\"a,b\",\"{x}\",\"say \\\"hi\\\"\",\"back\\\\slash\","
			      "\"NULL\",\"\",\" blank \",\"\xe7\xa0\xb4\xe6\x8d\x9f\",\"\"}");
	free(lit);
	char *none = pg_text_array(NULL, 0);
	ck_assert_str_eq(none, "{}");
	free(none);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common_hardening");
	TCase *tc = tcase_create("hardening");
	tcase_add_test(tc, tstamp_rejects_impossible_dates);
	tcase_add_test(tc, backoff_delays_stay_within_bounds_and_spread);
	tcase_add_test(tc, pg_text_array_escapes_quotes_backslashes_commas_braces_null);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
