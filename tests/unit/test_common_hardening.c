/* Unit tests: regressions of issue 13's code defects, one test named after each. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "ce.h"
#include "consumer.h"
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

static rd_kafka_headers_t *ce_binary(const char *ctype, bool with_time)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(8);
	rd_kafka_header_add(h, "ce_specversion", -1, "1.0", -1);
	rd_kafka_header_add(h, "ce_id", -1, "scan-1", -1);
	rd_kafka_header_add(h, "ce_source", -1, "/carrier/sf", -1);
	rd_kafka_header_add(h, "ce_type", -1, "parcel.scanned", -1);
	if (with_time)
		rd_kafka_header_add(h, "ce_time", -1, "2026-11-24T12:00:00Z", -1);
	rd_kafka_header_add(h, "content-type", -1, ctype, -1);
	return h;
}

START_TEST(ce_binary_mode_time_optional_and_content_type_parameters)
{
	struct ce_meta m;
	struct ce_data d;
	char err[200];
	rd_kafka_headers_t *h = ce_binary("application/protobuf", false);
	ck_assert_int_eq(ce_event_read(h, "\x0a\x01x", 3, &m, &d, err, sizeof(err)), 0);
	ck_assert_str_eq(m.time, "");
	ck_assert_str_eq(m.id, "scan-1");
	ck_assert_uint_eq(d.len, 3);
	ck_assert_ptr_null(d.owned);
	rd_kafka_headers_destroy(h);
	h = ce_binary("application/protobuf; charset=binary", true);
	ck_assert_int_eq(ce_event_read(h, "", 0, &m, &d, err, sizeof(err)), 0);
	ck_assert_str_eq(m.time, "2026-11-24T12:00:00Z");
	rd_kafka_headers_destroy(h);
	ck_assert(ce_content_type_is(" Application/Protobuf ;charset=binary", CE_CONTENT_TYPE));
	ck_assert(!ce_content_type_is("application/protobufx", CE_CONTENT_TYPE));
	ck_assert(!ce_content_type_is("application/json", CE_CONTENT_TYPE));
	h = ce_binary("application/json", true);
	ck_assert_int_eq(ce_event_read(h, "{}", 2, &m, &d, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unsupported content-type application/json");
	rd_kafka_headers_destroy(h);
}
END_TEST

START_TEST(ce_structured_mode_reads_the_envelope_and_data_base64)
{
	struct ce_meta m;
	struct ce_data d;
	char err[200];
	rd_kafka_headers_t *h = rd_kafka_headers_new(2);
	rd_kafka_header_add(h, "content-type", -1, "application/cloudevents+json; charset=UTF-8",
			    -1);
	const char *env = "{\"specversion\":\"1.0\",\"id\":\"scan-9\",\"source\":\"/carrier/sf\","
			  "\"type\":\"parcel.scanned\",\"datacontenttype\":"
			  "\"application/protobuf\",\"data_base64\":\"CgNhYmM=\"}";
	ck_assert_int_eq(ce_event_read(h, env, strlen(env), &m, &d, err, sizeof(err)), 0);
	ck_assert_str_eq(m.id, "scan-9");
	ck_assert_str_eq(m.type, "parcel.scanned");
	ck_assert_str_eq(m.time, "");
	ck_assert_uint_eq(d.len, 5);
	ck_assert(memcmp(d.ptr,
			 "\x0a\x03"
			 "abc",
			 5) == 0);
	ck_assert_ptr_nonnull(d.owned);
	ce_data_release(&d);
	const struct {
		const char *json, *reason;
	} bad[] = {
	    {"[1]", "structured event is not a JSON object"},
	    {"{\"specversion\":\"1.0\",", "structured event is not JSON"},
	    {"{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":\"t\"}",
	     "structured event has no data_base64 (protobuf) member"},
	    {"{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":\"t\","
	     "\"data_base64\":\"@@@\"}",
	     "data_base64 is not base64"},
	    {"{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":\"t\","
	     "\"datacontenttype\":\"application/json\",\"data_base64\":\"\"}",
	     "unsupported datacontenttype application/json"},
	    {"{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":\"t\","
	     "\"time\":\"2026-02-31T00:00:00Z\",\"data_base64\":\"\"}",
	     "ce_time is not RFC 3339"},
	    {"{\"specversion\":\"0.3\",\"id\":\"a\",\"source\":\"s\",\"type\":\"t\","
	     "\"data_base64\":\"\"}",
	     "unsupported ce_specversion 0.3"},
	    {"{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"data_base64\":\"\"}",
	     "missing attribute id"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(
		    ce_event_read(h, bad[i].json, strlen(bad[i].json), &m, &d, err, sizeof(err)),
		    -1);
		ck_assert_str_eq(err, bad[i].reason);
		ce_data_release(&d);
	}
	rd_kafka_headers_destroy(h);
}
END_TEST

START_TEST(consumer_poison_event_sqlstates_are_not_transient)
{
	const char *transient[] = {"",	    "08006", "08P01", "40001",
				   "40P01", "53300", "57P01", "42501"};
	const char *poison[] = {"23505", "23503", "23514", "22P02",
				"22007", "42P01", "42601", "P0001"};
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		ck_assert_msg(consumer_sqlstate_transient(transient[i]), "%s", transient[i]);
	for (size_t i = 0; i < sizeof(poison) / sizeof(poison[0]); i++)
		ck_assert_msg(!consumer_sqlstate_transient(poison[i]), "%s", poison[i]);
}
END_TEST

/* pg_query prepares what PostgreSQL plans, except statements whose best plan depends on
 * which optional filter is given: a generic plan of "$2 IS NULL OR waybill_no = $2" cannot use
 * the waybill's index. A column's own NULL test is no optional filter. */
START_TEST(pg_prepares_all_but_optional_filters)
{
	ck_assert(pg_prepares("SELECT 1 FROM complaints WHERE id = $1"));
	ck_assert(pg_prepares("  WITH x AS (SELECT 1) SELECT * FROM x"));
	ck_assert(pg_prepares("INSERT INTO t (a) VALUES ($1)"));
	ck_assert(pg_prepares("UPDATE p SET s = 1 WHERE (p.last_scan_at IS NULL OR "
			      "EXCLUDED.last_scan_at >= p.last_scan_at)"));
	ck_assert(!pg_prepares("SELECT 1 FROM c WHERE ($1::text IS NULL OR status = $1)"));
	ck_assert(!pg_prepares("SELECT 1 FROM c WHERE a = $1 AND ($12::int IS NULL OR b = $12)"));
	ck_assert(!pg_prepares("SELECT 1 FROM c WHERE ($3 = '' OR outlet_id = $3)"));
	ck_assert(!pg_prepares("BEGIN"));
	ck_assert(!pg_prepares("SET LOCAL statement_timeout = 1000"));
	ck_assert(!pg_prepares("LISTEN x"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common_hardening");
	TCase *tc = tcase_create("hardening");
	tcase_add_test(tc, tstamp_rejects_impossible_dates);
	tcase_add_test(tc, backoff_delays_stay_within_bounds_and_spread);
	tcase_add_test(tc, pg_text_array_escapes_quotes_backslashes_commas_braces_null);
	tcase_add_test(tc, ce_binary_mode_time_optional_and_content_type_parameters);
	tcase_add_test(tc, ce_structured_mode_reads_the_envelope_and_data_base64);
	tcase_add_test(tc, consumer_poison_event_sqlstates_are_not_transient);
	tcase_add_test(tc, pg_prepares_all_but_optional_filters);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
