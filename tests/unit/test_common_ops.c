/* Unit tests: the operator's signals in common/ (special values, process_* metrics, the log
 * context that carries request and event ids). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "svc.h"

START_TEST(a_dependency_is_down_only_after_the_threshold_of_misses_in_a_row)
{
	int fails = 0;
	ck_assert(svc_probe_judge(&fails, true, 2));
	ck_assert(svc_probe_judge(&fails, false, 2)); /* one miss: a busy broker, still up */
	ck_assert(svc_probe_judge(&fails, true, 2));  /* an answer resets the count */
	ck_assert(svc_probe_judge(&fails, false, 2));
	ck_assert(!svc_probe_judge(&fails, false, 2)); /* two in a row: down */
	ck_assert(!svc_probe_judge(&fails, false, 2));
	ck_assert(svc_probe_judge(&fails, true, 2)); /* back up on the first answer */
	fails = 0;
	ck_assert(!svc_probe_judge(&fails, false, 1)); /* threshold 1 believes every miss */
}
END_TEST

/* A paced consumer's fetch waits for 64 KiB or 100 ms (the broker then completes it once per
 * 64 KiB, not inside every produce request); a prompt one keeps librdkafka's consumer defaults
 * of kafka.c (answered as soon as one event is there). */
static const char *prop(const char *const *props, const char *name)
{
	for (size_t i = 0; props && props[i]; i += 2)
		if (strcmp(props[i], name) == 0)
			return props[i + 1];
	return NULL;
}

START_TEST(only_a_prompt_consumer_has_its_fetch_answered_at_the_first_event)
{
	ck_assert_ptr_null(svc_consumer_fetch_props(true));
	const char *const *paced = svc_consumer_fetch_props(false);
	ck_assert_ptr_nonnull(paced);
	ck_assert_str_eq(prop(paced, "fetch.min.bytes"), "65536");
	ck_assert_str_eq(prop(paced, "fetch.wait.max.ms"), "100");
}
END_TEST

START_TEST(gauges_spell_the_special_values_as_the_format_does)
{
	metrics_reset();
	metrics_set(metrics_gauge("cp_t_median_seconds", "A figure.", NULL), NAN);
	metrics_set(metrics_gauge("cp_t_ratio", "A ratio.", "clock=\"x\""), INFINITY);
	metrics_set(metrics_gauge("cp_t_low", "Low.", NULL), -INFINITY);
	metrics_set(metrics_gauge("cp_t_cases", "Cases.", NULL), 3);
	char *text = metrics_render();
	ck_assert_ptr_nonnull(strstr(text, "# TYPE cp_t_median_seconds gauge\n"));
	ck_assert_ptr_nonnull(strstr(text, "\ncp_t_median_seconds NaN\n"));
	ck_assert_ptr_nonnull(strstr(text, "\ncp_t_ratio{clock=\"x\"} +Inf\n"));
	ck_assert_ptr_nonnull(strstr(text, "\ncp_t_low -Inf\n"));
	ck_assert_ptr_nonnull(strstr(text, "\ncp_t_cases 3\n"));
	free(text);
}
END_TEST

START_TEST(process_metrics_come_from_proc)
{
	metrics_reset();
	metrics_process_update();
	char *text = metrics_render();
	static const char *const names[] = {
	    "# TYPE process_cpu_seconds_total counter\n", "\nprocess_resident_memory_bytes ",
	    "\nprocess_open_fds ", "\nprocess_max_fds ", "\nprocess_start_time_seconds "};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(strstr(text, names[i]) != NULL, "missing %s", names[i]);
	double start = 0;
	const char *p = strstr(text, "\nprocess_start_time_seconds ");
	ck_assert_int_eq(sscanf(p, "\nprocess_start_time_seconds %lf", &start), 1);
	ck_assert(start > 1.7e9 && start <= (double)time(NULL) + 1);
	free(text);
}
END_TEST

/* What log_msg writes to stdout while fn runs. */
static char *captured(void (*fn)(void))
{
	static char buf[8192];
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	int saved = dup(STDOUT_FILENO);
	dup2(fds[1], STDOUT_FILENO);
	fn();
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fds[1]);
	ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void log_with_context(void)
{
	log_context_set("request_id", "rid-1");
	log_context_set("ce_id", "ce-1");
	log_info("one", "first");
	log_msg(LOG_INFO, "two", LOG_KV({"ce_id", "ce-own"}), "the call's own id wins");
	log_context_set("ce_id", NULL);
	log_info("three", "request only");
	log_context_clear();
	log_info("four", "none");
}

START_TEST(log_context_is_added_until_cleared)
{
	log_init("t", LOG_INFO);
	char *out = captured(log_with_context);
	char *l2 = strstr(out, "\"event\":\"two\""), *l3 = strstr(out, "\"event\":\"three\""),
	     *l4 = strstr(out, "\"event\":\"four\"");
	ck_assert(l2 && l3 && l4);
	ck_assert_ptr_nonnull(
	    strstr(out, "\"msg\":\"first\",\"request_id\":\"rid-1\",\"ce_id\":\"ce-1\"}"));
	ck_assert_ptr_nonnull(strstr(l2, "\"ce_id\":\"ce-own\",\"request_id\":\"rid-1\"}"));
	ck_assert(strstr(l2, "ce-1") == NULL || strstr(l2, "ce-1") > l3);
	ck_assert_ptr_nonnull(strstr(l3, "\"msg\":\"request only\",\"request_id\":\"rid-1\"}"));
	ck_assert_ptr_nonnull(strstr(l4, "\"msg\":\"none\"}"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common_ops");
	TCase *tc = tcase_create("ops");
	tcase_add_test(tc, gauges_spell_the_special_values_as_the_format_does);
	tcase_add_test(tc, process_metrics_come_from_proc);
	tcase_add_test(tc, log_context_is_added_until_cleared);
	tcase_add_test(tc, only_a_prompt_consumer_has_its_fetch_answered_at_the_first_event);
	tcase_add_test(tc, a_dependency_is_down_only_after_the_threshold_of_misses_in_a_row);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
