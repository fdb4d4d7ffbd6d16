/* Unit tests: classification's sign-in helpers (the cookie attributes, the OIDC seam's claim
 * mapping). */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "classification/classification.h"
#include "classification/signin.h"

struct classification_config classification_cfg;

START_TEST(signin_cookie_attributes)
{
	char a[128];
	signin_cookie_attrs(a, sizeof(a), 43200, true, false);
	ck_assert_str_eq(a, "; Path=/; Max-Age=43200; SameSite=Strict; HttpOnly");
	signin_cookie_attrs(a, sizeof(a), 0, false, true);
	ck_assert_str_eq(a, "; Path=/; Max-Age=0; SameSite=Strict; Secure");
}
END_TEST

START_TEST(signin_oidc_claims_map_to_staff_id_and_strongest_role)
{
	char id[64], role[16];
	json_t *c = json_pack("{s:s, s:[s, s, s]}", "preferred_username", "S001", "roles", "viewer",
			      "agent", "supervisor");
	ck_assert_int_eq(signin_oidc_principal(c, "preferred_username", "roles", id, role), 0);
	ck_assert_str_eq(id, "S001");
	ck_assert_str_eq(role, "supervisor");
	json_decref(c);
	c = json_pack("{s:s, s:s}", "sub", "A001", "cp_role", "agent");
	ck_assert_int_eq(signin_oidc_principal(c, "sub", "cp_role", id, role), 0);
	ck_assert_str_eq(role, "agent");
	/* no staff role among the claims, or no staff id: nobody signs in */
	ck_assert_int_eq(signin_oidc_principal(c, "preferred_username", "cp_role", id, role), -1);
	ck_assert_int_eq(signin_oidc_principal(c, "sub", "roles", id, role), -1);
	json_decref(c);
	c = json_pack("{s:s, s:[s]}", "sub", "INT1", "roles", "integration");
	ck_assert_int_eq(signin_oidc_principal(c, "sub", "roles", id, role), -1);
	json_decref(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("classification_signin");
	TCase *tc = tcase_create("signin");
	tcase_add_test(tc, signin_cookie_attributes);
	tcase_add_test(tc, signin_oidc_claims_map_to_staff_id_and_strongest_role);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
