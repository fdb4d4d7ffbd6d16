/* Security rules in common/: key rotation (a previous key accepted for a grace period only) and
 * the semantic validation of every decoded event (evcheck). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "classification.pb-c.h"
#include "evcheck.h"
#include "intake.pb-c.h"
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
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
