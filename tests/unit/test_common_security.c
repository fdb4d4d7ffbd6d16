/* Security rules in common/: key rotation (a previous key accepted for a grace period only) and
 * the semantic validation of every decoded event (evcheck). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "classification.pb-c.h"
#include "evcheck.h"
#include "intake.pb-c.h"
#include "log.h"
#include "redact.h"
#include "resolution.pb-c.h"
#include "tracking.pb-c.h"
#include "tstamp.h"

START_TEST(keyring_accepts_previous_keys_only_within_the_grace_period)
{
	struct auth_keyring k;
	char err[256], tok_old[33], tok_new[33], tok_other[33];
	int64_t until;
	ck_assert_int_eq(tstamp_parse("2030-01-01T00:00:00Z", &until), 0);
	ck_assert_int_eq(auth_keyring_init(&k, "CUSTOMER_LINK_SECRET", "new", "old1, old2\n",
					   "2030-01-01T00:00:00Z", err, sizeof(err)),
			 0);
	ck_assert_int_eq(k.nprevious, 2);
	ck_assert_int_eq(auth_customer_token("new", "CP1", tok_new), 0);
	ck_assert_int_eq(auth_customer_token("old2", "CP1", tok_old), 0);
	ck_assert_int_eq(auth_customer_token("other", "CP1", tok_other), 0);
	ck_assert(auth_customer_token_check(&k, "CP1", tok_new, until - 1));
	ck_assert(auth_customer_token_check(&k, "CP1", tok_old, until - 1));
	ck_assert(!auth_customer_token_check(&k, "CP1", tok_other, until - 1));
	ck_assert(!auth_customer_token_check(&k, "CP2", tok_old, until - 1));
	/* the grace period ends at until: then only the current key */
	ck_assert(!auth_customer_token_check(&k, "CP1", tok_old, until));
	ck_assert(auth_customer_token_check(&k, "CP1", tok_new, until));
	const char *keys[AUTH_KEYRING_MAX + 1];
	ck_assert_int_eq(auth_keyring_accepted(&k, until - 1, keys), 3);
	ck_assert_str_eq(keys[0], "new");
	ck_assert_int_eq(auth_keyring_accepted(&k, until, keys), 1);
	auth_keyring_free(&k);
}
END_TEST

START_TEST(keyring_refuses_half_or_wrong_configuration)
{
	struct auth_keyring k;
	char err[256];
	ck_assert_int_eq(auth_keyring_init(&k, "X", "new", "", "", err, sizeof(err)), 0);
	ck_assert_int_eq(k.nprevious, 0);
	ck_assert_int_eq(auth_keyring_init(&k, "X", "new", "old", "", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "X_PREVIOUS_UNTIL"));
	ck_assert_int_eq(
	    auth_keyring_init(&k, "X", "new", "", "2030-01-01T00:00:00Z", err, sizeof(err)), -1);
	ck_assert_int_eq(auth_keyring_init(&k, "X", "new", "old", "soon", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "RFC 3339"));
	ck_assert_int_eq(
	    auth_keyring_init(&k, "X", "new", "old,new", "2030-01-01T00:00:00Z", err, sizeof(err)),
	    -1);
	ck_assert_int_eq(auth_keyring_init(&k, "X", "new", "a,b,c,d,e", "2030-01-01T00:00:00Z", err,
					   sizeof(err)),
			 -1);
}
END_TEST

START_TEST(customer_token_of_an_overlong_number_is_refused)
{
	char tok[33], no[300];
	memset(no, '7', sizeof(no) - 1);
	no[sizeof(no) - 1] = '\0';
	/* the HMAC used to read past its 128-byte message buffer here */
	ck_assert_int_eq(auth_customer_token("k", no, tok), -1);
}
END_TEST

#define CID "6f1c2a10-1111-4222-8333-944455556666"

START_TEST(evcheck_accepts_a_sound_event)
{
	char err[256];
	Cp__ComplaintClassified c = CP__COMPLAINT_CLASSIFIED__INIT;
	c.complaint_id = CID;
	c.complaint_no = "CP20261124-7K3M9QXA";
	c.priority = 2;
	c.classified_at = "2026-11-24T10:00:00.123+08:00";
	c.resolution_s = 72 * 3600;
	ck_assert_msg(evcheck_message(&c.base, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

START_TEST(evcheck_refuses_out_of_range_values)
{
	char err[256];
	Cp__ComplaintClassified c = CP__COMPLAINT_CLASSIFIED__INIT;
	c.complaint_id = CID;
	c.priority = -7;
	ck_assert_int_eq(evcheck_message(&c.base, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "priority: -7 is out of range 0..5");
	c.priority = 6;
	ck_assert_int_eq(evcheck_message(&c.base, err, sizeof(err)), -1);
	c.priority = 1;
	c.resolution_s = -1;
	ck_assert_int_eq(evcheck_message(&c.base, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "resolution_s: -1 is out of range 0..315360000");
	c.resolution_s = 0;
	c.complaint_id = "not-a-uuid";
	ck_assert_int_eq(evcheck_message(&c.base, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "complaint_id: 'not-a-uuid' is not a UUID");
	c.complaint_id = CID;
	c.complaint_no = "CP1'; DROP TABLE x";
	ck_assert_int_eq(evcheck_message(&c.base, err, sizeof(err)), -1);
}
END_TEST

START_TEST(evcheck_refuses_unknown_enum_values)
{
	char err[256];
	Cp__TrackingEvent t = CP__TRACKING_EVENT__INIT;
	t.code = (Cp__ScanCode)99;
	ck_assert_int_eq(evcheck_message(&t.base, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "code: 99 is not a known value");
	t.code = (Cp__ScanCode)-1;
	ck_assert_int_eq(evcheck_message(&t.base, err, sizeof(err)), -1);
	t.code = CP__SCAN_CODE__SCAN_DELIVERED;
	ck_assert_int_eq(evcheck_message(&t.base, err, sizeof(err)), 0);
}
END_TEST

START_TEST(evcheck_refuses_negative_or_huge_money_in_nested_messages)
{
	char err[256];
	Cp__Money m = CP__MONEY__INIT;
	Cp__Remedy r = CP__REMEDY__INIT, *rs[] = {&r};
	Cp__ResolutionDecided d = CP__RESOLUTION_DECIDED__INIT;
	r.amount = &m;
	d.remedies = rs;
	d.n_remedies = 1;
	m.amount_fen = -12000;
	ck_assert_int_eq(evcheck_message(&d.base, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
			 "remedies[0].amount.amount_fen: -12000 is out of range 0..10000000000");
	m.amount_fen = EVCHECK_MAX_FEN + 1;
	ck_assert_int_eq(evcheck_message(&d.base, err, sizeof(err)), -1);
	m.amount_fen = 12000;
	m.currency = "cny";
	ck_assert_int_eq(evcheck_message(&d.base, err, sizeof(err)), -1);
	m.currency = "CNY";
	ck_assert_int_eq(evcheck_message(&d.base, err, sizeof(err)), 0);
}
END_TEST

START_TEST(evcheck_refuses_garbage_timestamps)
{
	char err[256];
	const char *bad[] = {"2026-13-45T99:00:00Z", "2026-02-31T00:00:00Z", "yesterday",
			     "1970-01-01T00:00:00Z", "2150-01-01T00:00:00Z", "2026-11-24 10:00"};
	Cp__ComplaintReceived c = CP__COMPLAINT_RECEIVED__INIT;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.received_at = (char *)bad[i];
		ck_assert_msg(evcheck_message(&c.base, err, sizeof(err)) == -1, "%s", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "received_at: "));
	}
	c.received_at = "";
	ck_assert_int_eq(evcheck_message(&c.base, err, sizeof(err)), 0);
	/* invalid UTF-8 in any text */
	c.description_redacted = "\xff\xfe";
	ck_assert_int_eq(evcheck_message(&c.base, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "description_redacted: not UTF-8");
}
END_TEST

START_TEST(evcheck_ids_finds_both_or_nothing)
{
	const char *id, *no;
	Cp__ComplaintClassified c = CP__COMPLAINT_CLASSIFIED__INIT;
	evcheck_ids(&c.base, &id, &no);
	ck_assert_ptr_null(id);
	c.complaint_id = CID;
	c.complaint_no = "CP1";
	evcheck_ids(&c.base, &id, &no);
	ck_assert_str_eq(id, CID);
	ck_assert_str_eq(no, "CP1");
	Cp__TrackingEvent t = CP__TRACKING_EVENT__INIT;
	evcheck_ids(&t.base, &id, &no);
	ck_assert_ptr_null(no);
}
END_TEST

/* Each spelling of 138 0013 8000 that escaped redaction before (issue 13) is masked. */
START_TEST(redaction_normalises_and_catches_separators_and_chinese_between_groups)
{
	char out[512];
	const char *phones[] = {
	    "１３８００１３８０００",	       /* full-width digits */
	    "１３８　００１３　８０００",      /* full-width, ideographic spaces */
	    "138.0013.8000",		       /* dots */
	    "138．0013．8000",		       /* full-width dots */
	    "138-0013-8000",		       /* dashes */
	    "138 (0013) 8000",		       /* brackets */
	    "138转0013转8000",		       /* Chinese between the groups */
	    "138 转 0013 转 8000",	       /* and spaces around it */
	    "一三八零零一三八零零零",	       /* Chinese numerals */
	    "幺三八 〇〇幺三 八〇〇〇",	       /* read aloud */
	    "＋８６ １３８ ００１３ ８０００", /* full-width plus */
	    "①③⑧⓪⓪①③⑧⓪⓪⓪",		       /* circled digits fold to ASCII */
	};
	for (size_t i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "请打%s谢谢", phones[i]);
		redact_text(text, NULL, "[phone]", out, sizeof(out));
		ck_assert_msg(strcmp(out, "请打[phone]谢谢") == 0, "%s -> %s", text, out);
	}
}
END_TEST

START_TEST(redaction_keeps_dates_amounts_and_short_numbers)
{
	char out[512];
	const char *keep[] = {
	    "2026年11月24日下单，12月1日还没到",
	    "24.11.2026 签收",
	    "赔偿 120.00 元",
	    "一周没动",
	    "第3件，共5件",
	    "房间 12",
	    "包裹破损，外箱压坏了，里面的杯子碎了",
	};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		redact_text(keep[i], NULL, "[phone]", out, sizeof(out));
		ck_assert_str_eq(out, keep[i]);
	}
	/* a cut never splits a character: 7 bytes of room hold two 3-byte characters */
	redact_text("包裹破损", NULL, "[phone]", out, 8);
	ck_assert_str_eq(out, "包裹");
	/* bytes that are not UTF-8 are copied, not read past */
	redact_text("\xe5\x8c", NULL, "[phone]", out, sizeof(out));
	ck_assert_str_eq(out, "\xe5\x8c");
}
END_TEST

START_TEST(log_masks_link_and_bearer_tokens)
{
	char out[256];
	log_mask_secrets("survey: https://x/c/survey/CP1?token=0123abcdef&lang=en now", out,
			 sizeof(out));
	ck_assert_str_eq(out, "survey: https://x/c/survey/CP1?token=***&lang=en now");
	log_mask_secrets("Authorization: Bearer tok-agent-1 {\"token\":\"a1b2\"} TOKEN=Z", out,
			 sizeof(out));
	ck_assert_str_eq(out, "Authorization: Bearer *** {\"token\":\"***\"} TOKEN=***");
	log_mask_secrets("no token here, token= alone", out, sizeof(out));
	ck_assert_str_eq(out, "no token here, token= alone");
	log_mask_secrets("token=abcdef", out, 9);
	ck_assert_str_eq(out, "token=**");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common_security");
	TCase *tc = tcase_create("keys");
	tcase_add_test(tc, keyring_accepts_previous_keys_only_within_the_grace_period);
	tcase_add_test(tc, keyring_refuses_half_or_wrong_configuration);
	tcase_add_test(tc, customer_token_of_an_overlong_number_is_refused);
	suite_add_tcase(s, tc);
	TCase *ev = tcase_create("events");
	tcase_add_test(ev, evcheck_accepts_a_sound_event);
	tcase_add_test(ev, evcheck_refuses_out_of_range_values);
	tcase_add_test(ev, evcheck_refuses_unknown_enum_values);
	tcase_add_test(ev, evcheck_refuses_negative_or_huge_money_in_nested_messages);
	tcase_add_test(ev, evcheck_refuses_garbage_timestamps);
	tcase_add_test(ev, evcheck_ids_finds_both_or_nothing);
	suite_add_tcase(s, ev);
	TCase *rd = tcase_create("redaction");
	tcase_add_test(rd, redaction_normalises_and_catches_separators_and_chinese_between_groups);
	tcase_add_test(rd, redaction_keeps_dates_amounts_and_short_numbers);
	tcase_add_test(rd, log_masks_link_and_bearer_tokens);
	suite_add_tcase(s, rd);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
