/* Unit tests: the pure SLA clock rules of the timer (services/timer/sla.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "timer/sla.h"

#define T0 1795000000000LL /* some instant in ms */

START_TEST(ladder_goes_agent_outlet_regional_hq)
{
	ck_assert_str_eq(sla_level_name(0), "agent");
	ck_assert_str_eq(sla_level_name(1), "outlet_manager");
	ck_assert_str_eq(sla_level_name(2), "regional_supervisor");
	ck_assert_str_eq(sla_level_name(3), "hq");
	ck_assert_str_eq(sla_level_name(7), "hq");
	ck_assert_str_eq(sla_level_name(-2), "agent");
}
END_TEST

START_TEST(breach_escalates_one_level_and_is_exhausted_at_hq)
{
	struct sla_escalation e = sla_escalate(0);
	ck_assert_int_eq(e.level, 1);
	ck_assert(!e.exhausted);
	e = sla_escalate(1);
	ck_assert_int_eq(e.level, 2);
	ck_assert(!e.exhausted);
	e = sla_escalate(2);
	ck_assert_int_eq(e.level, 3);
	ck_assert(e.exhausted);
	e = sla_escalate(3);
	ck_assert_int_eq(e.level, 3);
	ck_assert(e.exhausted);
}
END_TEST

START_TEST(reopen_goes_one_level_up_at_most_hq)
{
	ck_assert_int_eq(sla_reopen_level(0), 1);
	ck_assert_int_eq(sla_reopen_level(2), 3);
	ck_assert_int_eq(sla_reopen_level(3), 3);
}
END_TEST

START_TEST(schedule_due_and_warning_share)
{
	struct sla_times t = sla_schedule(T0, 100, 0, 80);
	ck_assert_int_eq(t.due_ms, T0 + 100000);
	ck_assert_int_eq(t.warn_ms, T0 + 80000);
	/* pauses behind the clock push both */
	t = sla_schedule(T0, 100, 5000, 80);
	ck_assert_int_eq(t.due_ms, T0 + 105000);
	ck_assert_int_eq(t.warn_ms, T0 + 85000);
	/* a negative pause is ignored */
	t = sla_schedule(T0, 10, -5000, 50);
	ck_assert_int_eq(t.due_ms, T0 + 10000);
	ck_assert_int_eq(t.warn_ms, T0 + 5000);
}
END_TEST

START_TEST(resume_moves_due_by_the_paused_time)
{
	struct sla_times t = {T0 + 60000, T0 + 48000};
	int64_t paused = -1;
	struct sla_times r = sla_resume(t, T0 + 10000, T0 + 25000, &paused);
	ck_assert_int_eq(paused, 15000);
	ck_assert_int_eq(r.due_ms, T0 + 75000);
	ck_assert_int_eq(r.warn_ms, T0 + 63000);
}
END_TEST

START_TEST(resume_stamped_before_the_pause_moves_nothing)
{
	struct sla_times t = {T0 + 60000, T0 + 48000};
	int64_t paused = -1;
	struct sla_times r = sla_resume(t, T0 + 10000, T0 + 9000, &paused);
	ck_assert_int_eq(paused, 0);
	ck_assert_int_eq(r.due_ms, t.due_ms);
	ck_assert_int_eq(r.warn_ms, t.warn_ms);
}
END_TEST

START_TEST(regulatory_never_pauses)
{
	const char *all[] = {"first_response", "verification", "resolution", "regulatory"};
	ck_assert(sla_pausable("resolution", all, 4));
	ck_assert(sla_pausable("first_response", all, 4));
	ck_assert(!sla_pausable("regulatory", all, 4));
	const char *some[] = {"resolution"};
	ck_assert(!sla_pausable("verification", some, 1));
	ck_assert(!sla_pausable("resolution", NULL, 0));
}
END_TEST

START_TEST(plan_before_classification_runs_only_first_response)
{
	struct sla_policy p = {
	    .classified = false, .duration_s = {10, 20, 30, 40}, .default_first_response_s = 180};
	int64_t d[SLA_NCLOCKS];
	ck_assert_int_eq(sla_plan(&p, d), 1);
	ck_assert_int_eq(d[0], 180);
	ck_assert_int_eq(d[1], 0);
	ck_assert_int_eq(d[2], 0);
	ck_assert_int_eq(d[3], 0);
}
END_TEST

START_TEST(plan_of_a_policy_runs_its_clocks)
{
	struct sla_policy p = {.classified = true,
			       .duration_s = {60, 0, 3600, 604800},
			       .default_first_response_s = 180};
	int64_t d[SLA_NCLOCKS];
	ck_assert_int_eq(sla_plan(&p, d), 3);
	ck_assert_int_eq(d[0], 60);
	ck_assert_int_eq(d[1], 0); /* no verification clock in this policy */
	ck_assert_int_eq(d[2], 3600);
	ck_assert_int_eq(d[3], 604800);
}
END_TEST

START_TEST(events_map_to_their_clocks)
{
	struct sla_reaction r = sla_react("cp.complaint.first_response", NULL);
	ck_assert_int_eq(r.action, SLA_STOP);
	ck_assert_str_eq(r.clock, "first_response");
	r = sla_react("cp.complaint.assigned", "accepted");
	ck_assert_int_eq(r.action, SLA_STOP);
	ck_assert_str_eq(r.clock, "first_response");
	r = sla_react("cp.complaint.evidence_collected", NULL);
	ck_assert_str_eq(r.clock, "verification");
	r = sla_react("cp.complaint.resolution_executed", NULL);
	ck_assert_str_eq(r.clock, "resolution");
	r = sla_react("cp.complaint.closed", NULL);
	ck_assert_int_eq(r.action, SLA_STOP);
	ck_assert_ptr_null(r.clock);
	ck_assert_int_eq(sla_react("cp.complaint.awaiting_customer", NULL).action, SLA_PAUSE);
	ck_assert_int_eq(sla_react("cp.complaint.customer_replied", NULL).action, SLA_RESUME);
	ck_assert_int_eq(sla_react("cp.complaint.reopened", NULL).action, SLA_REOPEN);
}
END_TEST

START_TEST(offers_and_unknown_events_change_nothing)
{
	ck_assert_int_eq(sla_react("cp.complaint.assigned", "offered").action, SLA_NONE);
	ck_assert_int_eq(sla_react("cp.complaint.assigned", NULL).action, SLA_NONE);
	ck_assert_int_eq(sla_react("cp.complaint.evidence_updated", NULL).action, SLA_NONE);
	ck_assert_int_eq(sla_react("cp.complaint.resolution_proposed", NULL).action, SLA_NONE);
	ck_assert_int_eq(sla_react(NULL, NULL).action, SLA_NONE);
}
END_TEST

START_TEST(clock_names_index)
{
	ck_assert_int_eq(sla_clock_index("first_response"), 0);
	ck_assert_int_eq(sla_clock_index("regulatory"), 3);
	ck_assert_int_eq(sla_clock_index("lunch"), -1);
	ck_assert_int_eq(sla_clock_index(NULL), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timer_sla");
	TCase *tc = tcase_create("sla");
	tcase_add_test(tc, ladder_goes_agent_outlet_regional_hq);
	tcase_add_test(tc, breach_escalates_one_level_and_is_exhausted_at_hq);
	tcase_add_test(tc, reopen_goes_one_level_up_at_most_hq);
	tcase_add_test(tc, schedule_due_and_warning_share);
	tcase_add_test(tc, resume_moves_due_by_the_paused_time);
	tcase_add_test(tc, resume_stamped_before_the_pause_moves_nothing);
	tcase_add_test(tc, regulatory_never_pauses);
	tcase_add_test(tc, plan_before_classification_runs_only_first_response);
	tcase_add_test(tc, plan_of_a_policy_runs_its_clocks);
	tcase_add_test(tc, events_map_to_their_clocks);
	tcase_add_test(tc, offers_and_unknown_events_change_nothing);
	tcase_add_test(tc, clock_names_index);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
