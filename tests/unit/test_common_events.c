/* Unit tests: CloudEvents header mapping, Prometheus text output, UTF-8 checks. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ce.h"
#include "httpd.h"
#include "metrics.h"

static struct ce_meta sample(void)
{
	struct ce_meta m;
	memset(&m, 0, sizeof(m));
	strcpy(m.id, "0b8f5d5e-8a51-4a3e-9f0e-6d1c2b3a4f5e");
	strcpy(m.source, "/cp/intake");
	strcpy(m.type, "cp.complaint.received");
	strcpy(m.time, "2026-11-24T12:00:00.000Z");
	return m;
}

static const char *header(rd_kafka_headers_t *h, const char *name)
{
	static char buf[256];
	const void *v;
	size_t n;
	if (rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return NULL;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

START_TEST(ce_headers_written_in_binary_mode)
{
	struct ce_meta m = sample();
	rd_kafka_headers_t *h = rd_kafka_headers_new(8);
	ck_assert_int_eq(ce_headers_add(h, &m), 0);
	ck_assert_str_eq(header(h, "ce_specversion"), "1.0");
	ck_assert_str_eq(header(h, "ce_id"), m.id);
	ck_assert_str_eq(header(h, "ce_source"), "/cp/intake");
	ck_assert_str_eq(header(h, "ce_type"), "cp.complaint.received");
	ck_assert_str_eq(header(h, "ce_time"), m.time);
	ck_assert_str_eq(header(h, "content-type"), "application/protobuf");
	struct ce_meta back;
	char err[128];
	ck_assert_int_eq(ce_headers_read(h, &back, err, sizeof(err)), 0);
	ck_assert_str_eq(back.id, m.id);
	ck_assert_str_eq(back.type, m.type);
	rd_kafka_headers_destroy(h);
}
END_TEST

START_TEST(ce_headers_missing_or_wrong_are_reported)
{
	struct ce_meta m = sample(), back;
	char err[128];
	ck_assert_int_eq(ce_headers_read(NULL, &back, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "missing header ce_specversion");
	rd_kafka_headers_t *h = rd_kafka_headers_new(8);
	rd_kafka_header_add(h, "ce_specversion", -1, "0.3", -1);
	rd_kafka_header_add(h, "ce_id", -1, m.id, -1);
	rd_kafka_header_add(h, "ce_source", -1, m.source, -1);
	rd_kafka_header_add(h, "ce_type", -1, m.type, -1);
	rd_kafka_header_add(h, "ce_time", -1, m.time, -1);
	rd_kafka_header_add(h, "content-type", -1, "application/protobuf", -1);
	ck_assert_int_eq(ce_headers_read(h, &back, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unsupported ce_specversion 0.3");
	rd_kafka_headers_destroy(h);
	h = rd_kafka_headers_new(8);
	ck_assert_int_eq(ce_headers_add(h, &m), 0);
	rd_kafka_header_remove(h, "ce_time");
	rd_kafka_header_add(h, "ce_time", -1, "yesterday", -1);
	ck_assert_int_eq(ce_headers_read(h, &back, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "ce_time is not RFC 3339");
	rd_kafka_headers_destroy(h);
}
END_TEST

START_TEST(prometheus_text_format)
{
	metrics_reset();
	metrics_add(metrics_counter("cp_test_total", "Things counted.", "topic=\"a\""), 2);
	metrics_add(metrics_counter("cp_test_total", "Things counted.", "topic=\"b\""), 1);
	metrics_set(metrics_gauge("cp_test_backlog", "Backlog.", NULL), 7);
	struct metric *h = metrics_histogram("cp_test_seconds", "Latency.", NULL, NULL, 0);
	metrics_observe(h, 0.003);
	metrics_observe(h, 3);
	char *text = metrics_render();
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(strstr(text, "# HELP cp_test_total Things counted.\n"
					   "# TYPE cp_test_total counter\n"
					   "cp_test_total{topic=\"a\"} 2\n"
					   "cp_test_total{topic=\"b\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE cp_test_backlog gauge\ncp_test_backlog 7\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE cp_test_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(text, "cp_test_seconds_bucket{le=\"0.001\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "cp_test_seconds_bucket{le=\"0.005\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "cp_test_seconds_bucket{le=\"5\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "cp_test_seconds_bucket{le=\"+Inf\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "cp_test_seconds_count 2\n"));
	/* each family's HELP/TYPE appears once */
	ck_assert_ptr_null(
	    strstr(strstr(text, "# TYPE cp_test_total") + 1, "# TYPE cp_test_total"));
	free(text);
	metrics_reset();
}
END_TEST

START_TEST(utf8_validation)
{
	ck_assert(http_utf8_valid("plain", 5));
	ck_assert(http_utf8_valid("破损", strlen("破损")));
	ck_assert(http_utf8_valid("\xf0\x9f\x93\xa6", 4)); /* parcel emoji */
	ck_assert(!http_utf8_valid("\xff", 1));
	ck_assert(!http_utf8_valid("\xc0\xaf", 2));	    /* overlong '/' */
	ck_assert(!http_utf8_valid("\xed\xa0\x80", 3));	    /* surrogate */
	ck_assert(!http_utf8_valid("\xe7\xa0", 2));	    /* truncated */
	ck_assert(!http_utf8_valid("\xf4\x90\x80\x80", 4)); /* beyond U+10FFFF */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common_events");
	TCase *tc = tcase_create("events");
	tcase_add_test(tc, ce_headers_written_in_binary_mode);
	tcase_add_test(tc, ce_headers_missing_or_wrong_are_reported);
	tcase_add_test(tc, prometheus_text_format);
	tcase_add_test(tc, utf8_validation);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
