/* Unit tests of follow-up's pure rules: templates, quiet hours, survey outcome, backoff,
 * redaction, webhook URLs, plan texts, and the casework rules (who acts, call outcomes, close
 * reasons and their wordings, reopening, who decided a plan, complaints that need a
 * person's answer, templates staff may send). */
#include <check.h>
#include <string.h>

#include "auth.h"
#include "followup/followup.h"

/* 2026-11-24T00:00:00Z */
#define MIDNIGHT_UTC INT64_C(1795478400000)
#define MIN	     INT64_C(60000)

START_TEST(test_render_placeholders)
{
	struct fu_vars v = {.complaint_no = "CP1", .survey_url = "http://x/s?token=ab"};
	char out[128];
	fu_render("case {complaint_no}: {survey_url} {unknown} {owner}.", &v, out, sizeof(out));
	ck_assert_str_eq(out, "case CP1: http://x/s?token=ab {unknown} .");
}
END_TEST

START_TEST(test_render_truncates)
{
	struct fu_vars v = {.complaint_no = "CP20261124-000001"};
	char out[8];
	size_t n = fu_render("{complaint_no}", &v, out, sizeof(out));
	ck_assert_uint_eq(n, 7);
	ck_assert_str_eq(out, "CP20261");
}
END_TEST

START_TEST(test_quiet_hours_disabled)
{
	ck_assert_int_eq(fu_quiet_release(MIDNIGHT_UTC + 5, 0, 0, 480), MIDNIGHT_UTC + 5);
}
END_TEST

START_TEST(test_quiet_hours_wrap_midnight)
{
	/* quiet 22:00-08:00 China time; 16:00 UTC is 00:00 in China: wait 8 hours */
	int64_t now = MIDNIGHT_UTC + 16 * 60 * MIN;
	ck_assert_int_eq(fu_quiet_release(now, 22 * 60, 8 * 60, 480), now + 8 * 60 * MIN);
	/* 02:00 UTC is 10:00 in China: not quiet */
	now = MIDNIGHT_UTC + 2 * 60 * MIN;
	ck_assert_int_eq(fu_quiet_release(now, 22 * 60, 8 * 60, 480), now);
	/* 14:30 UTC is 22:30 in China: wait until 08:00, 9.5 hours */
	now = MIDNIGHT_UTC + (14 * 60 + 30) * MIN;
	ck_assert_int_eq(fu_quiet_release(now, 22 * 60, 8 * 60, 480), now + 570 * MIN);
}
END_TEST

START_TEST(test_quiet_hours_same_day)
{
	/* quiet 12:00-13:00 UTC; 12:15:30 waits until 13:00 */
	int64_t now = MIDNIGHT_UTC + (12 * 60 + 15) * MIN + 30000;
	ck_assert_int_eq(fu_quiet_release(now, 12 * 60, 13 * 60, 0), MIDNIGHT_UTC + 13 * 60 * MIN);
	ck_assert_int_eq(fu_quiet_release(MIDNIGHT_UTC + 13 * 60 * MIN, 12 * 60, 13 * 60, 0),
			 MIDNIGHT_UTC + 13 * 60 * MIN);
}
END_TEST

START_TEST(test_dissatisfied)
{
	ck_assert(fu_dissatisfied(1, true));
	ck_assert(fu_dissatisfied(2, true));
	ck_assert(!fu_dissatisfied(3, true));
	ck_assert(fu_dissatisfied(5, false));
	ck_assert(!fu_dissatisfied(4, true));
}
END_TEST

START_TEST(test_backoff)
{
	ck_assert_int_eq(fu_backoff_ms(1, 1000, 60000), 1000);
	ck_assert_int_eq(fu_backoff_ms(2, 1000, 60000), 2000);
	ck_assert_int_eq(fu_backoff_ms(4, 1000, 60000), 8000);
	ck_assert_int_eq(fu_backoff_ms(30, 1000, 60000), 60000);
}
END_TEST

START_TEST(test_redact_digits)
{
	char out[64];
	fu_redact_digits("call 13912345678 or room 12", out, sizeof(out));
	ck_assert_str_eq(out, "call *** or room 12");
}
END_TEST

START_TEST(test_parse_url)
{
	char host[64], port[8], path[64];
	ck_assert_int_eq(fu_parse_url("http://127.0.0.1:9000/hook?x=1", host, sizeof(host), port,
				      sizeof(port), path, sizeof(path)),
			 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_str_eq(port, "9000");
	ck_assert_str_eq(path, "/hook?x=1");
	ck_assert_int_eq(fu_parse_url("http://sms.local", host, sizeof(host), port, sizeof(port),
				      path, sizeof(path)),
			 0);
	ck_assert_str_eq(port, "80");
	ck_assert_str_eq(path, "/");
	ck_assert_int_eq(
	    fu_parse_url("https://x/", host, sizeof(host), port, sizeof(port), path, sizeof(path)),
	    -1);
	ck_assert_int_eq(fu_parse_url("http://x:ab/", host, sizeof(host), port, sizeof(port), path,
				      sizeof(path)),
			 -1);
}
END_TEST

START_TEST(test_plan_text)
{
	char out[256];
	const char *json = "[{\"kind\":\"compensation\",\"amount_fen\":3005},"
			   "{\"kind\":\"apology\",\"amount_fen\":0}]";
	fu_plan_text(json, "en", out, sizeof(out));
	ck_assert_str_eq(out, "compensation 30.05 CNY, apology");
	fu_plan_text(json, "zh-CN", out, sizeof(out));
	ck_assert_str_eq(out, "赔偿 30.05 元、致歉");
}
END_TEST

START_TEST(test_render_casework_placeholders)
{
	struct fu_vars v = {
	    .complaint_no = "CP2", .merged_into = "CP1", .next_update_by = "2026-12-02T10:00:00Z"};
	char out[128];
	fu_render("{complaint_no} into {merged_into} by {next_update_by}", &v, out, sizeof(out));
	ck_assert_str_eq(out, "CP2 into CP1 by 2026-12-02T10:00:00Z");
}
END_TEST

START_TEST(test_local_time)
{
	char out[32];
	/* 2026-11-24T15:30Z is 23:30 in China; 16:10Z is already the next day there */
	fu_local_time(MIDNIGHT_UTC + (15 * 60 + 30) * MIN, 480, out, sizeof(out));
	ck_assert_str_eq(out, "2026-11-24 23:30");
	fu_local_time(MIDNIGHT_UTC + (16 * 60 + 10) * MIN, 480, out, sizeof(out));
	ck_assert_str_eq(out, "2026-11-25 00:10");
	fu_local_time(MIDNIGHT_UTC + 59999, 0, out, sizeof(out));
	ck_assert_str_eq(out, "2026-11-24 00:00");
}
END_TEST

/* who may act is common/auth.c's rule (test_common_config.c); follow-up keeps only the ids of
 * targets that are people */
START_TEST(test_conflict_of_interest)
{
	ck_assert_str_eq(fu_target_staff("courier", "C-7"), "C-7");
	ck_assert_str_eq(fu_target_staff("agent", "ag3"), "ag3");
	ck_assert_str_eq(fu_target_staff("outlet", "OUT-1"), "");
	ck_assert_str_eq(fu_target_staff("", "x"), "");
}
END_TEST

START_TEST(test_call_outcomes)
{
	ck_assert(fu_call_outcome_valid("reached"));
	ck_assert(fu_call_outcome_valid("no_answer"));
	ck_assert(fu_call_outcome_valid("voicemail"));
	ck_assert(fu_call_outcome_valid("wrong_number"));
	ck_assert(!fu_call_outcome_valid("busy"));
	ck_assert(!fu_call_outcome_valid(NULL));
	/* only a reached call is a contact */
	ck_assert(fu_call_is_contact("reached"));
	ck_assert(!fu_call_is_contact("no_answer"));
	ck_assert(!fu_call_is_contact("voicemail"));
	ck_assert(!fu_call_is_contact("wrong_number"));
}
END_TEST

START_TEST(test_close_reasons_and_wordings)
{
	ck_assert(fu_close_reason_valid("resolved"));
	ck_assert(fu_close_reason_valid("no_fault_found"));
	ck_assert(fu_close_reason_valid("withdrawn"));
	ck_assert(fu_close_reason_valid("duplicate"));
	/* the system's reasons are not staff's */
	ck_assert(!fu_close_reason_valid("satisfied"));
	ck_assert(!fu_close_reason_valid("closed_without_feedback"));
	ck_assert_str_eq(fu_close_step("resolved"), "closed");
	ck_assert_str_eq(fu_close_step("satisfied"), "closed");
	ck_assert_str_eq(fu_close_step("closed_without_feedback"), "closed");
	ck_assert_str_eq(fu_close_step("no_fault_found"), "closed_no_fault_found");
	ck_assert_str_eq(fu_close_step("withdrawn"), "closed_withdrawn");
	ck_assert_str_eq(fu_close_step("duplicate"), "closed_duplicate");
	ck_assert(fu_reopenable("resolved"));
	ck_assert(fu_reopenable("satisfied"));
	ck_assert(fu_reopenable("no_fault_found"));
	ck_assert(!fu_reopenable("withdrawn"));
	ck_assert(!fu_reopenable("duplicate"));
}
END_TEST

START_TEST(test_person_decided)
{
	ck_assert(fu_person_decided("sup1", "system"));
	ck_assert(fu_person_decided("", "ag1"));
	ck_assert(!fu_person_decided("", "system"));
	ck_assert(!fu_person_decided("", ""));
	ck_assert(!fu_person_decided("rule:delay_freight_waiver", "system"));
	ck_assert(!fu_person_decided("auto_settlement", ""));
	ck_assert(!fu_person_decided("system", "system"));
}
END_TEST

START_TEST(test_needs_person_answer)
{
	ck_assert(fu_needs_person_answer("service", "courier_attitude"));
	ck_assert(fu_needs_person_answer("charges", "overcharge"));
	ck_assert(fu_needs_person_answer("", "agent_attitude"));
	ck_assert(!fu_needs_person_answer("transport", "loss"));
	ck_assert(!fu_needs_person_answer("information", ""));
}
END_TEST

START_TEST(test_contact_templates)
{
	ck_assert(fu_contact_template_allowed("update_promised"));
	ck_assert(fu_contact_template_allowed("owner_assigned"));
	ck_assert(!fu_contact_template_allowed("appeal"));
	ck_assert(!fu_contact_template_allowed("customer_replied"));
	ck_assert(!fu_contact_template_allowed("plan_executed"));
	ck_assert(!fu_contact_template_allowed("closed"));
	ck_assert(!fu_contact_template_allowed("closed_withdrawn"));
	ck_assert(!fu_contact_template_allowed("reopened_by_staff"));
	ck_assert(!fu_contact_template_allowed("contact"));
	ck_assert(!fu_contact_template_allowed("staff_offered"));
	ck_assert(!fu_contact_template_allowed("delay_notice"));
	ck_assert(!fu_contact_template_allowed(""));
}
END_TEST

START_TEST(test_delay_text)
{
	char out[512];
	fu_delay_text("bad weather", "Lanzhou", 26, "SF123", "en", out, sizeof(out));
	ck_assert_str_eq(out, "Your parcel SF123 has had no tracking update at Lanzhou for over 26 "
			      "hours. Reason: bad weather.");
	fu_delay_text("交通管制", "兰州", 30, "SF123", "zh-CN", out, sizeof(out));
	ck_assert_str_eq(out, "您的包裹（运单号 SF123）在兰州已超过 30 小时没有新的物流信息，原因："
			      "交通管制。");
	/* no phrase for the carrier's code (delay_reasons has none): being checked */
	fu_delay_text(NULL, "HUB-1", 25, "SF1", "en", out, sizeof(out));
	ck_assert(strstr(out, "Reason: the cause is being checked.") != NULL);
	fu_delay_text("", "HUB-1", 25, "SF1", "zh-CN", out, sizeof(out));
	ck_assert(strstr(out, "原因正在核查") != NULL);
	fu_delay_text(NULL, "HUB-1", 25, "SF1", "fr", out, sizeof(out));
	ck_assert(strstr(out, "原因正在核查") != NULL); /* any other language: zh-CN */
}
END_TEST

START_TEST(test_delay_reason_code)
{
	ck_assert(fu_delay_reason_code_valid("weather"));
	ck_assert(fu_delay_reason_code_valid("sorter_jam_7"));
	ck_assert(fu_delay_reason_code_valid("a"));
	ck_assert(fu_delay_reason_code_valid("abcdefghij_abcdefghij_abcdefghij_abcdefg")); /* 40 */
	ck_assert(
	    !fu_delay_reason_code_valid("abcdefghij_abcdefghij_abcdefghij_abcdefgh")); /* 41 */
	ck_assert(!fu_delay_reason_code_valid(""));
	ck_assert(!fu_delay_reason_code_valid(NULL));
	ck_assert(!fu_delay_reason_code_valid("Weather"));
	ck_assert(!fu_delay_reason_code_valid("road-closed"));
	ck_assert(!fu_delay_reason_code_valid("天气"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("followup_rules");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, test_render_placeholders);
	tcase_add_test(tc, test_render_truncates);
	tcase_add_test(tc, test_quiet_hours_disabled);
	tcase_add_test(tc, test_quiet_hours_wrap_midnight);
	tcase_add_test(tc, test_quiet_hours_same_day);
	tcase_add_test(tc, test_dissatisfied);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_redact_digits);
	tcase_add_test(tc, test_parse_url);
	tcase_add_test(tc, test_plan_text);
	tcase_add_test(tc, test_render_casework_placeholders);
	tcase_add_test(tc, test_local_time);
	tcase_add_test(tc, test_conflict_of_interest);
	tcase_add_test(tc, test_call_outcomes);
	tcase_add_test(tc, test_close_reasons_and_wordings);
	tcase_add_test(tc, test_person_decided);
	tcase_add_test(tc, test_needs_person_answer);
	tcase_add_test(tc, test_contact_templates);
	tcase_add_test(tc, test_delay_text);
	tcase_add_test(tc, test_delay_reason_code);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
