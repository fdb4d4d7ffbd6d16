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
	struct sla_clock c;
	sla_clock_start(&c, NULL, T0, 60, 80);
	ck_assert_int_eq(c.t.due_ms, T0 + 60000);
	ck_assert_int_eq(c.t.warn_ms, T0 + 48000);
	sla_clock_pause(&c, NULL, T0 + 10000);
	ck_assert_int_eq(c.state, SLA_PAUSED);
	ck_assert_int_eq(sla_clock_used_ms(&c, NULL, T0 + 20000), 10000); /* paused: no count */
	int64_t paused = sla_clock_resume(&c, NULL, T0 + 25000, 80);
	ck_assert_int_eq(paused, 15000);
	ck_assert_int_eq(c.paused_ms, 15000);
	ck_assert_int_eq(c.state, SLA_RUNNING);
	ck_assert_int_eq(c.t.due_ms, T0 + 75000);
	ck_assert_int_eq(c.t.warn_ms, T0 + 63000);
	ck_assert_int_eq(sla_clock_used_ms(&c, NULL, T0 + 35000), 20000);
}
END_TEST

START_TEST(resume_stamped_before_the_pause_moves_nothing)
{
	struct sla_clock c;
	sla_clock_start(&c, NULL, T0, 60, 80);
	sla_clock_pause(&c, NULL, T0 + 10000);
	int64_t paused = sla_clock_resume(&c, NULL, T0 + 9000, 80);
	ck_assert_int_eq(paused, 0);
	ck_assert_int_eq(c.t.due_ms, T0 + 60000);
	ck_assert_int_eq(c.t.warn_ms, T0 + 48000);
}
END_TEST

START_TEST(a_stop_keeps_the_time_used)
{
	struct sla_clock c;
	sla_clock_start(&c, NULL, T0, 60, 80);
	sla_clock_stop(&c, NULL, T0 + 42000);
	ck_assert_int_eq(c.state, SLA_STOPPED);
	ck_assert_int_eq(sla_clock_used_ms(&c, NULL, T0 + 99000), 42000);
	/* a paused clock stopped: its pause is not counted */
	sla_clock_start(&c, NULL, T0, 60, 80);
	sla_clock_pause(&c, NULL, T0 + 5000);
	sla_clock_stop(&c, NULL, T0 + 50000);
	ck_assert_int_eq(sla_clock_used_ms(&c, NULL, T0 + 99000), 5000);
}
END_TEST

START_TEST(a_breach_rearms_the_next_level_for_the_full_duration)
{
	struct sla_clock c;
	sla_clock_start(&c, NULL, T0, 100, 80);
	struct sla_escalation e = sla_clock_breach(&c, NULL, T0 + 100500, 80);
	ck_assert_int_eq(e.level, 1);
	ck_assert(!e.exhausted);
	ck_assert_int_eq(c.level, 1);
	ck_assert_int_eq(c.t.due_ms, T0 + 200500);
	ck_assert_int_eq(c.t.warn_ms, T0 + 180500);
	ck_assert_int_eq(sla_clock_used_ms(&c, NULL, T0 + 110500), 110500); /* used keeps adding */
	sla_clock_breach(&c, NULL, T0 + 200500, 80);
	e = sla_clock_breach(&c, NULL, T0 + 300500, 80);
	ck_assert(e.exhausted);
	ck_assert_int_eq(c.state, SLA_EXHAUSTED);
	ck_assert_int_eq(c.level, 3);
}
END_TEST

START_TEST(a_new_policy_keeps_the_time_used_and_paused)
{
	struct sla_clock c;
	/* 600 s; 100 s used, then paused 50 s, then 50 s more: 150 s used */
	sla_clock_start(&c, NULL, T0, 600, 80);
	sla_clock_pause(&c, NULL, T0 + 100000);
	sla_clock_resume(&c, NULL, T0 + 150000, 80);
	ck_assert_int_eq(c.t.due_ms, T0 + 650000);
	/* the case is re-classified at T0 + 200 s with 300 s: 150 s remain, not 300 */
	sla_clock_replan(&c, NULL, NULL, T0 + 200000, 300, 80);
	ck_assert_int_eq(c.duration_s, 300);
	ck_assert_int_eq(c.used_ms, 150000);
	ck_assert_int_eq(c.paused_ms, 50000);
	ck_assert_int_eq(c.t.due_ms, T0 + 350000);
	ck_assert_int_eq(c.t.warn_ms, T0 + 290000);
	/* a policy shorter than the time already used makes it due at once */
	sla_clock_replan(&c, NULL, NULL, T0 + 210000, 60, 80);
	ck_assert_int_eq(c.t.due_ms, T0 + 210000);
}
END_TEST

START_TEST(a_paused_clock_replanned_stays_paused)
{
	struct sla_clock c;
	sla_clock_start(&c, NULL, T0, 600, 80);
	sla_clock_pause(&c, NULL, T0 + 100000);
	sla_clock_replan(&c, NULL, NULL, T0 + 500000, 300, 80);
	ck_assert_int_eq(c.state, SLA_PAUSED);
	ck_assert_int_eq(c.used_ms, 100000);
	sla_clock_resume(&c, NULL, T0 + 700000, 80);
	ck_assert_int_eq(c.t.due_ms, T0 + 700000 + 200000);
}
END_TEST

START_TEST(a_warning_given_stays_given_unless_the_new_plan_warns_later)
{
	struct sla_clock c;
	sla_clock_start(&c, NULL, T0, 100, 50);
	c.warned = true;
	sla_clock_replan(&c, NULL, NULL, T0 + 60000, 80, 50); /* warns at 40 s: already past */
	ck_assert(c.warned);
	sla_clock_replan(&c, NULL, NULL, T0 + 60000, 1000, 50); /* warns at 500 s */
	ck_assert(!c.warned);
}
END_TEST

START_TEST(a_later_receipt_moves_the_start_back)
{
	struct sla_clock c;
	sla_clock_start(&c, NULL, T0, 3600, 80); /* provisional: at the classification */
	sla_clock_move_start(&c, NULL, T0 - 100000, 80);
	ck_assert_int_eq(c.started_ms, T0 - 100000);
	ck_assert_int_eq(c.t.due_ms, T0 - 100000 + 3600000);
}
END_TEST

START_TEST(a_promise_is_due_at_the_promised_instant)
{
	struct sla_clock c;
	sla_clock_arm(&c, T0, T0 + 7200500, 80);
	ck_assert_int_eq(c.t.due_ms, T0 + 7200500);
	ck_assert_int_eq(c.duration_s, 7201);
	ck_assert_int_eq(c.t.warn_ms, T0 + 5760400);
	sla_clock_arm(&c, T0, T0 - 5000, 80); /* promised in the past: due at once */
	ck_assert_int_eq(c.t.due_ms, T0 - 5000);
	ck_assert_int_eq(c.duration_s, 1);
}
END_TEST

START_TEST(a_restart_starts_over_at_its_level)
{
	struct sla_clock c;
	sla_clock_start(&c, NULL, T0, 600, 80);
	sla_clock_pause(&c, NULL, T0 + 1000);
	sla_clock_stop(&c, NULL, T0 + 2000);
	sla_clock_restart(&c, NULL, T0 + 10000, 2, 80);
	ck_assert_int_eq(c.state, SLA_RUNNING);
	ck_assert_int_eq(c.level, 2);
	ck_assert_int_eq(c.used_ms, 0);
	ck_assert_int_eq(c.paused_ms, 0);
	ck_assert_int_eq(c.t.due_ms, T0 + 610000);
}
END_TEST

/* Mon-Fri 09:00-18:00 at UTC+8 for the working-time transitions. */
static const struct calendar office = {
    480,
    {{540, 1080}, {540, 1080}, {540, 1080}, {540, 1080}, {540, 1080}, {0, 0}, {0, 0}},
    NULL,
    0};
#define MON_0900_CST 1795395600000LL /* 2026-11-23 09:00 +08:00, a Monday */

START_TEST(a_working_time_clock_pauses_and_replans_in_working_time)
{
	struct sla_clock c;
	/* 30 working minutes from Monday 17:50: 10 today, 20 on Tuesday */
	int64_t mon_1750 = MON_0900_CST + 530 * 60000LL;
	sla_clock_start(&c, &office, mon_1750, 1800, 50);
	ck_assert_int_eq(c.t.due_ms, MON_0900_CST + 86400000LL + 20 * 60000LL);
	ck_assert_int_eq(c.t.warn_ms, MON_0900_CST + 86400000LL + 5 * 60000LL);
	/* paused over the night: counted 10 minutes, 20 left from Tuesday 10:00 */
	sla_clock_pause(&c, &office, mon_1750 + 3600000LL);
	ck_assert_int_eq(c.used_ms, 600000);
	sla_clock_resume(&c, &office, MON_0900_CST + 86400000LL + 3600000LL, 50);
	ck_assert_int_eq(c.t.due_ms, MON_0900_CST + 86400000LL + 80 * 60000LL);
	/* the policy moves to calendar time on Tuesday 10:05: 15 minutes left from then */
	int64_t tue_1005 = MON_0900_CST + 86400000LL + 65 * 60000LL;
	sla_clock_replan(&c, &office, NULL, tue_1005, 1800, 50);
	ck_assert_int_eq(c.used_ms, 15 * 60000);
	ck_assert_int_eq(c.t.due_ms, tue_1005 + 15 * 60000);
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

START_TEST(regulatory_and_promises_never_run_on_working_time)
{
	const char *all[] = {"accept", "first_response", "next_update", "regulatory"};
	ck_assert(sla_on_working_time("accept", all, 4));
	ck_assert(sla_on_working_time("first_response", all, 4));
	ck_assert(!sla_on_working_time("next_update", all, 4));
	ck_assert(!sla_on_working_time("regulatory", all, 4));
	ck_assert(!sla_on_working_time("resolution", all, 4));
	ck_assert(!sla_on_working_time(NULL, all, 4));
}
END_TEST

START_TEST(plan_before_classification_runs_the_defaults)
{
	struct sla_policy p = {.classified = false,
			       .duration_s = {10, 20, 30, 40, 50, 60, 70},
			       .default_first_response_s = 180,
			       .default_accept_s = 300,
			       .default_whole_cycle_s = 86400};
	int64_t d[SLA_NCLOCKS];
	ck_assert_int_eq(sla_plan(&p, d), 3);
	ck_assert_int_eq(d[SLA_ACCEPT], 300);
	ck_assert_int_eq(d[SLA_FIRST_RESPONSE], 180);
	ck_assert_int_eq(d[SLA_VERIFICATION], 0);
	ck_assert_int_eq(d[SLA_RESOLUTION], 0);
	ck_assert_int_eq(d[SLA_WHOLE_CYCLE], 86400);
	ck_assert_int_eq(d[SLA_NEXT_UPDATE], 0);
	ck_assert_int_eq(d[SLA_REGULATORY], 0);
}
END_TEST

START_TEST(plan_of_a_policy_runs_its_clocks)
{
	struct sla_policy p = {.classified = true,
			       .duration_s = {[SLA_ACCEPT] = 120,
					      [SLA_FIRST_RESPONSE] = 60,
					      [SLA_RESOLUTION] = 3600,
					      [SLA_WHOLE_CYCLE] = 0,
					      [SLA_NEXT_UPDATE] = 900,
					      [SLA_REGULATORY] = 604800},
			       .default_first_response_s = 180,
			       .default_accept_s = 300,
			       .default_whole_cycle_s = 86400};
	int64_t d[SLA_NCLOCKS];
	ck_assert_int_eq(sla_plan(&p, d), 4);
	ck_assert_int_eq(d[SLA_ACCEPT], 120);
	ck_assert_int_eq(d[SLA_FIRST_RESPONSE], 60);
	ck_assert_int_eq(d[SLA_VERIFICATION], 0); /* no verification clock in this policy */
	ck_assert_int_eq(d[SLA_RESOLUTION], 3600);
	ck_assert_int_eq(d[SLA_WHOLE_CYCLE], 0); /* switched off by the operator: no default */
	ck_assert_int_eq(d[SLA_NEXT_UPDATE], 0); /* armed by promises, never planned */
	ck_assert_int_eq(d[SLA_REGULATORY], 604800);
}
END_TEST

START_TEST(events_map_to_their_clocks)
{
	struct sla_reaction r = sla_react("cp.complaint.offered", NULL);
	ck_assert_int_eq(r.action, SLA_OFFER);
	ck_assert_str_eq(r.clock, "accept");
	r = sla_react("cp.complaint.assigned", sla_assignment_detail("accepted", "A001"));
	ck_assert_int_eq(r.action, SLA_STOP);
	ck_assert_str_eq(r.clock, "accept");
	/* a supervisor hands an unaccepted case to a named person: it is owned, the clock stops */
	r = sla_react("cp.complaint.assigned", sla_assignment_detail("reassigned", "A002"));
	ck_assert_int_eq(r.action, SLA_STOP);
	ck_assert_str_eq(r.clock, "accept");
	/* taken from its owner (conflict of interest) and owned by nobody: nothing stops */
	r = sla_react("cp.complaint.assigned", sla_assignment_detail("reassigned", ""));
	ck_assert_int_eq(r.action, SLA_NONE);
	ck_assert_str_eq(sla_assignment_detail("offered", "A001"), "offered");
	r = sla_react("cp.complaint.contacted", NULL);
	ck_assert_int_eq(r.action, SLA_STOP);
	ck_assert_str_eq(r.clock, "first_response");
	ck_assert_int_eq(r.promise, SLA_PROMISE_ARM_OR_STOP);
	r = sla_react("cp.complaint.evidence_updated", "confirmed");
	ck_assert_int_eq(r.action, SLA_STOP);
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

/* Issue 8: the machine's own acts never stop a clock that times a person. */
START_TEST(automatic_acts_stop_no_clock_of_a_person)
{
	struct sla_reaction r = sla_react("cp.complaint.first_response", NULL);
	ck_assert_int_eq(r.action, SLA_NONE);
	ck_assert_int_eq(r.promise, SLA_PROMISE_ARM); /* its promise is timed, nothing stops */
	ck_assert_int_eq(sla_react("cp.complaint.evidence_collected", NULL).action, SLA_NONE);
	ck_assert_int_eq(sla_react("cp.complaint.evidence_updated", "preliminary").action,
			 SLA_NONE);
	ck_assert_int_eq(sla_react("cp.complaint.evidence_updated", NULL).action, SLA_NONE);
	/* an acceptance stops the accept clock, not the first contact */
	ck_assert_str_ne(
	    sla_react("cp.complaint.assigned", sla_assignment_detail("accepted", "A001")).clock,
	    "first_response");
}
END_TEST

START_TEST(offers_and_unknown_events_change_nothing)
{
	ck_assert_int_eq(sla_react("cp.complaint.assigned", "offered").action, SLA_NONE);
	ck_assert_int_eq(sla_react("cp.complaint.assigned", "reassigned").action, SLA_NONE);
	ck_assert_int_eq(sla_react("cp.complaint.assigned", NULL).action, SLA_NONE);
	ck_assert_int_eq(sla_react("cp.complaint.resolution_proposed", NULL).action, SLA_NONE);
	ck_assert_int_eq(sla_react("cp.complaint.clock_changed", NULL).action, SLA_NONE);
	ck_assert_int_eq(sla_react(NULL, NULL).action, SLA_NONE);
}
END_TEST

START_TEST(clock_names_index)
{
	ck_assert_int_eq(sla_clock_index("accept"), SLA_ACCEPT);
	ck_assert_int_eq(sla_clock_index("first_response"), SLA_FIRST_RESPONSE);
	ck_assert_int_eq(sla_clock_index("whole_cycle"), SLA_WHOLE_CYCLE);
	ck_assert_int_eq(sla_clock_index("next_update"), SLA_NEXT_UPDATE);
	ck_assert_int_eq(sla_clock_index("regulatory"), SLA_REGULATORY);
	ck_assert_int_eq(sla_clock_index("lunch"), -1);
	ck_assert_int_eq(sla_clock_index(NULL), -1);
	ck_assert_str_eq(sla_state_name(SLA_EXHAUSTED), "exhausted");
	ck_assert_int_eq(sla_state_of("paused"), SLA_PAUSED);
	ck_assert_int_eq(sla_state_of("odd"), -1);
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
	tcase_add_test(tc, a_stop_keeps_the_time_used);
	tcase_add_test(tc, a_breach_rearms_the_next_level_for_the_full_duration);
	tcase_add_test(tc, a_new_policy_keeps_the_time_used_and_paused);
	tcase_add_test(tc, a_paused_clock_replanned_stays_paused);
	tcase_add_test(tc, a_warning_given_stays_given_unless_the_new_plan_warns_later);
	tcase_add_test(tc, a_later_receipt_moves_the_start_back);
	tcase_add_test(tc, a_promise_is_due_at_the_promised_instant);
	tcase_add_test(tc, a_restart_starts_over_at_its_level);
	tcase_add_test(tc, a_working_time_clock_pauses_and_replans_in_working_time);
	tcase_add_test(tc, regulatory_never_pauses);
	tcase_add_test(tc, regulatory_and_promises_never_run_on_working_time);
	tcase_add_test(tc, plan_before_classification_runs_the_defaults);
	tcase_add_test(tc, plan_of_a_policy_runs_its_clocks);
	tcase_add_test(tc, events_map_to_their_clocks);
	tcase_add_test(tc, automatic_acts_stop_no_clock_of_a_person);
	tcase_add_test(tc, offers_and_unknown_events_change_nothing);
	tcase_add_test(tc, clock_names_index);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
