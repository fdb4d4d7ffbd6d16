/* Security rules in common/: key rotation (a previous key accepted for a grace period only). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
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

int main(void)
{
	Suite *s = suite_create("common_security");
	TCase *tc = tcase_create("keys");
	tcase_add_test(tc, keyring_accepts_previous_keys_only_within_the_grace_period);
	tcase_add_test(tc, keyring_refuses_half_or_wrong_configuration);
	tcase_add_test(tc, customer_token_of_an_overlong_number_is_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
