/* The pure ownership rules of classification: whom an escalation names (the ladder outlet
 * manager -> regional supervisor -> HQ, unavailable and excluded people skipped) and which
 * complaint targets are people who must not handle their own case. */
#include <check.h>
#include <string.h>

#include "classification/classification.h"
#include "classification/ownership.h"

struct classification_config classification_cfg;

#define OUTLET "SZ-NS-01"
#define REGION "GD-SZ"

static struct esc_person person(const char *id, const char *role, const char *outlet,
				const char *region, bool available)
{
	struct esc_person p = {0};
	snprintf(p.staff_id, sizeof(p.staff_id), "%s", id);
	snprintf(p.outlet_id, sizeof(p.outlet_id), "%s", outlet);
	snprintf(p.region_id, sizeof(p.region_id), "%s", region);
	p.level = escalation_level_of_role(role);
	p.available = available;
	return p;
}

/* The ladder of one outlet: two managers (one elsewhere), two regional supervisors (one of
 * another region), one HQ. */
static size_t ladder(struct esc_person *v)
{
	size_t n = 0;
	v[n++] = person("M-OTHER", "outlet_manager", "GZ-01", REGION, true);
	v[n++] = person("M-1", "outlet_manager", OUTLET, REGION, true);
	v[n++] = person("M-2", "outlet_manager", OUTLET, REGION, true);
	v[n++] = person("R-OTHER", "regional_supervisor", "GZ-HQ", "GD-GZ", true);
	v[n++] = person("R-1", "regional_supervisor", "SZ-HQ", REGION, true);
	v[n++] = person("H-1", "hq", "HQ", "", true);
	return n;
}

static const char *pick(const struct esc_person *v, size_t n, int from, int *level)
{
	int i = escalation_pick(v, n, from, OUTLET, REGION, level);
	return i < 0 ? "" : v[i].staff_id;
}

START_TEST(level_one_is_the_case_outlets_manager)
{
	struct esc_person v[8];
	size_t n = ladder(v);
	int level;
	ck_assert_str_eq(pick(v, n, 1, &level), "M-1");
	ck_assert_int_eq(level, 1);
	/* level 0 or below starts at the outlet manager too */
	ck_assert_str_eq(pick(v, n, 0, &level), "M-1");
}
END_TEST

START_TEST(an_unavailable_manager_is_skipped_for_the_next_at_that_level)
{
	struct esc_person v[8];
	size_t n = ladder(v);
	int level;
	v[1].available = false;
	ck_assert_str_eq(pick(v, n, 1, &level), "M-2");
	ck_assert_int_eq(level, 1);
}
END_TEST

START_TEST(nobody_available_at_a_level_goes_to_the_next_level)
{
	struct esc_person v[8];
	size_t n = ladder(v);
	int level;
	v[1].available = false;
	v[2].available = false;
	ck_assert_str_eq(pick(v, n, 1, &level), "R-1"); /* never the other region's supervisor */
	ck_assert_int_eq(level, 2);
	v[4].available = false;
	ck_assert_str_eq(pick(v, n, 1, &level), "H-1");
	ck_assert_int_eq(level, 3);
	v[5].available = false;
	ck_assert_int_eq(escalation_pick(v, n, 1, OUTLET, REGION, &level), -1);
	ck_assert_int_eq(level, 0);
}
END_TEST

START_TEST(an_excluded_person_is_never_named)
{
	struct esc_person v[8];
	size_t n = ladder(v);
	int level;
	v[1].excluded = true; /* the complaint is about M-1 */
	ck_assert_str_eq(pick(v, n, 1, &level), "M-2");
}
END_TEST

START_TEST(a_higher_start_never_goes_down)
{
	struct esc_person v[8];
	size_t n = ladder(v);
	int level;
	ck_assert_str_eq(pick(v, n, 2, &level), "R-1");
	ck_assert_int_eq(level, 2);
	ck_assert_str_eq(pick(v, n, 3, &level), "H-1");
	ck_assert_int_eq(level, 3);
	ck_assert_int_eq(escalation_pick(v, n, 4, OUTLET, REGION, &level), -1);
}
END_TEST

START_TEST(without_a_region_level_two_is_skipped)
{
	struct esc_person v[8];
	size_t n = ladder(v);
	int level;
	int i = escalation_pick(v, n, 2, OUTLET, "", &level);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(v[i].staff_id, "H-1");
	/* and an outlet with no manager at all goes up */
	i = escalation_pick(v, n, 1, "NOWHERE", REGION, &level);
	ck_assert_str_eq(v[i].staff_id, "R-1");
}
END_TEST

START_TEST(agents_and_couriers_are_not_on_the_ladder)
{
	struct esc_person v[2];
	int level;
	v[0] = person("A-1", "agent", OUTLET, REGION, true);
	v[1] = person("C-1", "courier", OUTLET, REGION, true);
	ck_assert_int_eq(escalation_pick(v, 2, 1, OUTLET, REGION, &level), -1);
}
END_TEST

START_TEST(role_names_and_levels)
{
	ck_assert_str_eq(escalation_role_name(1), "outlet_manager");
	ck_assert_str_eq(escalation_role_name(2), "regional_supervisor");
	ck_assert_str_eq(escalation_role_name(3), "hq");
	ck_assert_str_eq(escalation_role_name(0), "");
	ck_assert_str_eq(escalation_role_name(4), "");
	ck_assert_int_eq(escalation_level_of_role("hq"), 3);
	ck_assert_int_eq(escalation_level_of_role("agent"), 0);
	ck_assert_int_eq(escalation_level_of_role(NULL), 0);
	/* whose supervisor an overdue evidence request goes to: the rung above the owner */
	ck_assert_int_eq(escalation_level_above("agent"), 1);
	ck_assert_int_eq(escalation_level_above("courier"), 1);
	ck_assert_int_eq(escalation_level_above(""), 1);
	ck_assert_int_eq(escalation_level_above("outlet_manager"), 2);
	ck_assert_int_eq(escalation_level_above("regional_supervisor"), 3);
	ck_assert_int_eq(escalation_level_above("hq"), 0);
}
END_TEST

START_TEST(targets_that_are_people)
{
	ck_assert(conflict_target_is_staff("courier", "C-1"));
	ck_assert(conflict_target_is_staff("agent", "A-1"));
	ck_assert(!conflict_target_is_staff("courier", ""));
	ck_assert(!conflict_target_is_staff("outlet", "SZ-NS-01"));
	ck_assert(!conflict_target_is_staff("sorting_centre", "SZ-HUB"));
	ck_assert(!conflict_target_is_staff(NULL, "C-1"));
}
END_TEST

/* The name a customer sees for the case's owner: a first name, never a number or an address. */
START_TEST(a_first_name_shown_to_customers_carries_no_contact)
{
	ck_assert(registry_first_name_valid("小王"));
	ck_assert(registry_first_name_valid("Li Lei"));
	ck_assert(registry_first_name_valid("张二二二二二二二二二二二二二二二二二二二")); /* 20 */
	ck_assert(!registry_first_name_valid("张二二二二二二二二二二二二二二二二二二二二"));
	ck_assert(!registry_first_name_valid(""));
	ck_assert(!registry_first_name_valid("13800138000"));
	ck_assert(!registry_first_name_valid("A001"));
	ck_assert(!registry_first_name_valid("wang@example.com"));
	ck_assert(!registry_first_name_valid("Li\nLei"));
	ck_assert(!registry_first_name_valid("\xe5\xbc")); /* cut UTF-8 */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("classification_ownership");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, level_one_is_the_case_outlets_manager);
	tcase_add_test(tc, a_first_name_shown_to_customers_carries_no_contact);
	tcase_add_test(tc, an_unavailable_manager_is_skipped_for_the_next_at_that_level);
	tcase_add_test(tc, nobody_available_at_a_level_goes_to_the_next_level);
	tcase_add_test(tc, an_excluded_person_is_never_named);
	tcase_add_test(tc, a_higher_start_never_goes_down);
	tcase_add_test(tc, without_a_region_level_two_is_skipped);
	tcase_add_test(tc, agents_and_couriers_are_not_on_the_ladder);
	tcase_add_test(tc, role_names_and_levels);
	tcase_add_test(tc, targets_that_are_people);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
