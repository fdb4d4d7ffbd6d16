/* Unit test: cp-admin migrate refuses an applied migration whose file was edited (issue 13:
 * without checksums the edit was skipped without a word). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"

START_TEST(admin_migration_edited_after_apply_is_refused)
{
	char a[ADMIN_SHA256_HEX], b[ADMIN_SHA256_HEX];
	admin_sha256_hex("", 0, a);
	ck_assert_str_eq(a, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	admin_sha256_hex("CREATE TABLE t (a int);\n", 24, a);
	admin_sha256_hex("CREATE TABLE t (a int); -- edited\n", 34, b);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(admin_migration_check(false, NULL, a), ADMIN_MIGRATION_NEW);
	ck_assert_int_eq(admin_migration_check(true, "", a), ADMIN_MIGRATION_BACKFILL);
	ck_assert_int_eq(admin_migration_check(true, NULL, a), ADMIN_MIGRATION_BACKFILL);
	ck_assert_int_eq(admin_migration_check(true, a, a), ADMIN_MIGRATION_UNCHANGED);
	ck_assert_int_eq(admin_migration_check(true, a, b), ADMIN_MIGRATION_CHANGED);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("admin_checksum");
	TCase *tc = tcase_create("checksum");
	tcase_add_test(tc, admin_migration_edited_after_apply_is_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
