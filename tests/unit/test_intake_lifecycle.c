/* The case lifecycle (services/intake/lifecycle.c): the status the customer sees moves only
 * forward, reopened goes back to the owner, merged and withdrawn are terminal, amounts are
 * shown only once a plan is approved. */
#include <check.h>
#include <string.h>

#include "intake/intake.h"

struct intake_config intake_cfg;

static const char *const forward[] = {"received",
				      "offered",
				      "accepted",
				      "in_contact",
				      "verified",
				      "plan_proposed",
				      "pending_approval",
				      "executing",
				      "awaiting_confirmation",
				      "closed"};
#define NFORWARD (sizeof(forward) / sizeof(forward[0]))

START_TEST(every_step_moves_forward)
{
	for (size_t i = 0; i + 1 < NFORWARD; i++)
		ck_assert_str_eq(intake_lifecycle_next(forward[i], forward[i + 1]), forward[i + 1]);
	/* steps may be skipped (nobody was offered: escalated straight to a manager who accepts) */
	ck_assert_str_eq(intake_lifecycle_next("received", "accepted"), "accepted");
	ck_assert_str_eq(intake_lifecycle_next("accepted", "verified"), "verified");
}
END_TEST

START_TEST(never_backwards)
{
	/* events of different topics arrive in any order: a late step changes nothing */
	for (size_t i = 1; i < NFORWARD; i++)
		for (size_t j = 0; j < i; j++)
			ck_assert_str_eq(intake_lifecycle_next(forward[i], forward[j]), forward[i]);
	ck_assert_str_eq(intake_lifecycle_next("in_contact", "in_contact"), "in_contact");
	/* the regression of the issue: an accept after the plan must not move the case back */
	ck_assert_str_eq(intake_lifecycle_next("plan_proposed", "accepted"), "plan_proposed");
}
END_TEST

START_TEST(reopen_goes_back_to_the_owner)
{
	ck_assert_str_eq(intake_lifecycle_next("closed", "reopened"), "reopened");
	ck_assert_str_eq(intake_lifecycle_next("awaiting_confirmation", "reopened"), "reopened");
	ck_assert_str_eq(intake_lifecycle_next("in_contact", "reopened"), "reopened");
	/* nobody works a case that is only offered: there is nothing to reopen */
	ck_assert_str_eq(intake_lifecycle_next("offered", "reopened"), "offered");
	ck_assert_str_eq(intake_lifecycle_next("accepted", "reopened"), "accepted");
	/* after a reopening the case moves forward again */
	ck_assert_str_eq(intake_lifecycle_next("reopened", "in_contact"), "in_contact");
	ck_assert_str_eq(intake_lifecycle_next("reopened", "accepted"), "reopened");
	ck_assert_str_eq(intake_lifecycle_next("reopened", "closed"), "closed");
}
END_TEST

START_TEST(merged_and_withdrawn_are_terminal)
{
	const char *terminal[] = {"merged", "withdrawn", "closed"};
	for (size_t t = 0; t < 3; t++) {
		ck_assert(intake_lifecycle_terminal(terminal[t]));
		for (size_t i = 0; i < NFORWARD; i++)
			ck_assert_str_eq(intake_lifecycle_next(terminal[t], forward[i]),
					 terminal[t]);
	}
	ck_assert_str_eq(intake_lifecycle_next("merged", "reopened"), "merged");
	ck_assert_str_eq(intake_lifecycle_next("withdrawn", "reopened"), "withdrawn");
	ck_assert(!intake_lifecycle_terminal("reopened"));
	ck_assert(!intake_lifecycle_terminal("awaiting_confirmation"));
	/* any open case can be closed, merged or withdrawn */
	ck_assert_str_eq(intake_lifecycle_next("offered", "withdrawn"), "withdrawn");
	ck_assert_str_eq(intake_lifecycle_next("received", "merged"), "merged");
}
END_TEST

START_TEST(unknown_statuses)
{
	ck_assert(!intake_status_valid("assigned"));
	ck_assert(!intake_status_valid(""));
	ck_assert(intake_status_valid("pending_approval"));
	ck_assert_str_eq(intake_lifecycle_next("in_contact", "bogus"), "in_contact");
	ck_assert_str_eq(intake_lifecycle_next("legacy", "offered"), "offered");
}
END_TEST

START_TEST(resolution_and_closure_map_onto_the_lifecycle)
{
	ck_assert_str_eq(intake_lifecycle_of_resolution("proposed"), "plan_proposed");
	ck_assert_str_eq(intake_lifecycle_of_resolution("pending_approval"), "pending_approval");
	ck_assert_str_eq(intake_lifecycle_of_resolution("approved"), "executing");
	ck_assert_str_eq(intake_lifecycle_of_resolution("executed"), "awaiting_confirmation");
	ck_assert_ptr_null(intake_lifecycle_of_resolution("rejected"));
	ck_assert_ptr_null(intake_lifecycle_of_resolution("failed"));
	ck_assert_str_eq(intake_lifecycle_of_closure("duplicate"), "merged");
	ck_assert_str_eq(intake_lifecycle_of_closure("withdrawn"), "withdrawn");
	ck_assert_str_eq(intake_lifecycle_of_closure("no_fault_found"), "closed");
	ck_assert_str_eq(intake_lifecycle_of_closure(""), "closed");
}
END_TEST

START_TEST(amounts_only_once_approved)
{
	ck_assert(!intake_plan_visible_to_customer("proposed"));
	ck_assert(!intake_plan_visible_to_customer("pending_approval"));
	ck_assert(!intake_plan_visible_to_customer("rejected"));
	ck_assert(intake_plan_visible_to_customer("approved"));
	ck_assert(intake_plan_visible_to_customer("executing"));
	ck_assert(intake_plan_visible_to_customer("executed"));
}
END_TEST

START_TEST(next_step_in_the_customers_language)
{
	for (size_t i = 0; i < NFORWARD; i++) {
		ck_assert_ptr_nonnull(strstr(intake_lifecycle_next_step(forward[i], "en"), " "));
		ck_assert_int_gt(strlen(intake_lifecycle_next_step(forward[i], "zh-CN")), 0);
	}
	ck_assert_ptr_nonnull(strstr(intake_lifecycle_next_step("closed", "en"), "appeal"));
	ck_assert_ptr_nonnull(strstr(intake_lifecycle_next_step("closed", "zh-CN"), "邮政管理局"));
}
END_TEST

/* The status page's "by when": the clock that times the step the case waits on. */
START_TEST(the_next_step_is_timed_by_the_clock_that_waits_on_it)
{
	ck_assert_str_eq(intake_lifecycle_next_clock("received"), "first_response");
	ck_assert_str_eq(intake_lifecycle_next_clock("accepted"), "first_response");
	ck_assert_str_eq(intake_lifecycle_next_clock("in_contact"), "verification");
	ck_assert_str_eq(intake_lifecycle_next_clock("verified"), "resolution");
	ck_assert_str_eq(intake_lifecycle_next_clock("pending_approval"), "resolution");
	ck_assert_str_eq(intake_lifecycle_next_clock("reopened"), "resolution");
	/* the customer is the one to answer, or it is over: no deadline to promise */
	ck_assert_ptr_null(intake_lifecycle_next_clock("awaiting_confirmation"));
	ck_assert_ptr_null(intake_lifecycle_next_clock("closed"));
	ck_assert_ptr_null(intake_lifecycle_next_clock("withdrawn"));
	ck_assert_ptr_null(intake_lifecycle_next_clock("no_such_status"));
	ck_assert_ptr_null(intake_lifecycle_next_clock(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("intake_lifecycle");
	TCase *tc = tcase_create("lifecycle");
	tcase_add_test(tc, every_step_moves_forward);
	tcase_add_test(tc, never_backwards);
	tcase_add_test(tc, reopen_goes_back_to_the_owner);
	tcase_add_test(tc, merged_and_withdrawn_are_terminal);
	tcase_add_test(tc, unknown_statuses);
	tcase_add_test(tc, resolution_and_closure_map_onto_the_lifecycle);
	tcase_add_test(tc, amounts_only_once_approved);
	tcase_add_test(tc, next_step_in_the_customers_language);
	tcase_add_test(tc, the_next_step_is_timed_by_the_clock_that_waits_on_it);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
