/* Unit tests of notification delivery's pure rules: the channel of a message, the gateway
 * signature, retry jitter, the receiver's answer excerpt, gateway URLs. */
#include <check.h>
#include <string.h>

#include "followup/notify.h"

START_TEST(test_channel_staff_always_staff_app)
{
	ck_assert_int_eq(fu_channel_for("staff:A001", "email"), FU_CH_STAFF_APP);
	ck_assert_int_eq(fu_channel_for("staff:", ""), FU_CH_STAFF_APP);
	ck_assert_str_eq(fu_channel_name(FU_CH_STAFF_APP), "staff_app");
}
END_TEST

START_TEST(test_channel_customer_preferred)
{
	ck_assert_int_eq(fu_channel_for("customer", "sms"), FU_CH_SMS);
	ck_assert_int_eq(fu_channel_for("customer", "email"), FU_CH_EMAIL);
	ck_assert_int_eq(fu_channel_for("customer", "app"), FU_CH_APP);
	ck_assert_str_eq(fu_channel_name(FU_CH_EMAIL), "email");
	ck_assert_str_eq(fu_channel_name(FU_CH_APP), "app");
}
END_TEST

START_TEST(test_channel_fallback_sms)
{
	/* no gateway of their own: a text message reaches every phone */
	ck_assert_int_eq(fu_channel_for("customer", "phone"), FU_CH_SMS);
	ck_assert_int_eq(fu_channel_for("customer", "wechat"), FU_CH_SMS);
	ck_assert_int_eq(fu_channel_for("customer", ""), FU_CH_SMS);
	ck_assert_int_eq(fu_channel_for("customer", NULL), FU_CH_SMS);
	ck_assert_int_eq(fu_channel_for("customer", "EMAIL"), FU_CH_SMS);
	/* "staff" without the colon is not a staff recipient */
	ck_assert_int_eq(fu_channel_for("staffA001", "app"), FU_CH_APP);
	ck_assert_str_eq(fu_channel_name(FU_CH_SMS), "sms");
}
END_TEST

START_TEST(test_sign_timestamp_dot_body)
{
	char sig[65];
	const char *body = "{\"a\":1}";
	ck_assert_int_eq(fu_sign("secret", "1700000000", body, strlen(body), sig), 0);
	ck_assert_str_eq(sig, "49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686");
	char other[65];
	ck_assert_int_eq(fu_sign("secret", "1700000001", body, strlen(body), other), 0);
	ck_assert_str_ne(sig, other);
}
END_TEST

START_TEST(test_jitter_bounds)
{
	ck_assert_int_eq(fu_jitter_ms(1000, 0.0), 500);
	ck_assert_int_eq(fu_jitter_ms(1000, 0.5), 750);
	ck_assert_int_eq(fu_jitter_ms(1000, 0.999999), 999);
	ck_assert_int_eq(fu_jitter_ms(1001, 0.0), 500);
	ck_assert_int_eq(fu_jitter_ms(1000, 1.0), 500); /* out of range: the lower bound */
	ck_assert_int_eq(fu_jitter_ms(1, 0.7), 1);
	ck_assert_int_eq(fu_jitter_ms(0, 0.7), 0);
}
END_TEST

START_TEST(test_excerpt)
{
	char out[8];
	fu_excerpt("ok\r\n\tdone", 9, out, sizeof(out));
	ck_assert_str_eq(out, "ok   do");
	/* "服务" is 6 bytes; a cut inside the second character drops it whole */
	char cjk[6];
	fu_excerpt("服务", strlen("服务"), cjk, sizeof(cjk));
	ck_assert_str_eq(cjk, "服");
	char exact[7];
	fu_excerpt("服务", strlen("服务"), exact, sizeof(exact));
	ck_assert_str_eq(exact, "服务");
	char none[1];
	fu_excerpt("abc", 3, none, sizeof(none));
	ck_assert_str_eq(none, "");
}
END_TEST

START_TEST(test_gateway_url)
{
	ck_assert(fu_gateway_url_ok("https://sms.example.com/v1/send"));
	ck_assert(fu_gateway_url_ok("http://127.0.0.1:8090/sms"));
	ck_assert(!fu_gateway_url_ok("ftp://x/"));
	ck_assert(!fu_gateway_url_ok("https://"));
	ck_assert(!fu_gateway_url_ok("https:///path"));
	ck_assert(!fu_gateway_url_ok("http://a b/"));
	ck_assert(!fu_gateway_url_ok("sms.example.com"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("followup_channels");
	TCase *tc = tcase_create("channels");
	tcase_add_test(tc, test_channel_staff_always_staff_app);
	tcase_add_test(tc, test_channel_customer_preferred);
	tcase_add_test(tc, test_channel_fallback_sms);
	tcase_add_test(tc, test_sign_timestamp_dot_body);
	tcase_add_test(tc, test_jitter_bounds);
	tcase_add_test(tc, test_excerpt);
	tcase_add_test(tc, test_gateway_url);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
