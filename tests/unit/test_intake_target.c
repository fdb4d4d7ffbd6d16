/* Unit test: intake stores the complaint's target as JSON built by jansson (issue 13: an id
 * with a quote made snprintf write invalid JSON and a valid request fail with 503). */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "intake/intake.h"

struct intake_config intake_cfg; /* defined by main.c, which a unit test does not link */

START_TEST(intake_target_json_keeps_quotes_and_backslashes)
{
	struct intake_input in;
	memset(&in, 0, sizeof(in));
	ck_assert_ptr_null(intake_target_json(&in)); /* no target: SQL NULL */
	strcpy(in.target_kind, "courier");
	strcpy(in.target_id, "C-\"7\"\\x\t}");
	char *s = intake_target_json(&in);
	ck_assert_ptr_nonnull(s);
	json_error_t err;
	json_t *t = json_loads(s, 0, &err);
	ck_assert_msg(t != NULL, "not JSON: %s (%s)", s, err.text);
	ck_assert_str_eq(json_string_value(json_object_get(t, "kind")), "courier");
	ck_assert_str_eq(json_string_value(json_object_get(t, "id")), "C-\"7\"\\x\t}");
	json_decref(t);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("intake_target");
	TCase *tc = tcase_create("target");
	tcase_add_test(tc, intake_target_json_keeps_quotes_and_backslashes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
