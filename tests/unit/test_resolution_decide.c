/* Who and what may decide a plan (services/resolution/decide.c) and the per-waybill
 * compensation ledger (policy.c): the pure parts of "money moves only on a decision". */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "resolution/decide.h"
#include "resolution/policy.h"

static void add(struct res_plan *p, const char *kind, int64_t fen, const char *rule)
{
	struct res_remedy *r = &p->remedies[p->n++];
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	snprintf(r->rule, sizeof(r->rule), "%s", rule);
	r->amount_fen = fen;
	p->total_fen += fen;
}

/* the seeded rule, enabled: delay proven by scans, freight waiver <= 2000 fen */
static struct res_rule seeded(void)
{
	struct res_rule r = {.enabled = true, .max_fen = 2000};
	snprintf(r.name, sizeof(r.name), "delay_proven_by_scans");
	snprintf(r.categories, sizeof(r.categories), "transport/delay");
	snprintf(r.kinds, sizeof(r.kinds), "freight_waiver,apology");
	return r;
}

static struct res_plan waiver(int64_t fen)
{
	struct res_plan p = {0};
	add(&p, "freight_waiver", fen, "delay_freight_waiver");
	add(&p, "apology", 0, "liable");
	return p;
}

static const struct res_settle_facts proven = {"transport", "delay", false, true, 0};

START_TEST(test_rule_matches_only_when_every_condition_holds)
{
	struct res_rule rule = seeded();
	struct res_plan plan = waiver(1500);
	struct res_settle_facts f = proven;
	ck_assert_ptr_null(res_rule_mismatch(&rule, &plan, &f));
	f.conclusive = false, f.confirmed = true; /* a person confirmed it instead */
	ck_assert_ptr_null(res_rule_mismatch(&rule, &plan, &f));
	f.confirmed = false; /* preliminary and not proven by the scans */
	ck_assert_str_eq(res_rule_mismatch(&rule, &plan, &f), "preliminary");
	f = proven;
	rule.enabled = false;
	ck_assert_str_eq(res_rule_mismatch(&rule, &plan, &f), "disabled");
}
END_TEST

START_TEST(test_rule_limit_is_inclusive)
{
	struct res_rule rule = seeded();
	struct res_plan at = waiver(2000), over = waiver(2001);
	ck_assert_ptr_null(res_rule_mismatch(&rule, &at, &proven));
	ck_assert_str_eq(res_rule_mismatch(&rule, &over, &proven), "over_limit");
}
END_TEST

START_TEST(test_rule_category_and_kinds)
{
	struct res_rule rule = seeded();
	struct res_plan plan = waiver(1000);
	struct res_settle_facts f = proven;
	f.subcategory = "damage";
	ck_assert_str_eq(res_rule_mismatch(&rule, &plan, &f), "category");
	f.category = "service", f.subcategory = "delay"; /* the pair, not the subcategory alone */
	ck_assert_str_eq(res_rule_mismatch(&rule, &plan, &f), "category");
	snprintf(rule.categories, sizeof(rule.categories), "charges,transport");
	f = proven; /* a whole category listed */
	ck_assert_ptr_null(res_rule_mismatch(&rule, &plan, &f));
	add(&plan, "coupon", 0, "vip_goodwill");
	ck_assert_str_eq(res_rule_mismatch(&rule, &plan, &f), "remedy_kind");
	snprintf(rule.kinds, sizeof(rule.kinds), "freight_waiver,apology_x,coupon");
	struct res_plan apology = waiver(1000); /* "apology" is not "apology_x" */
	ck_assert_str_eq(res_rule_mismatch(&rule, &apology, &f), "remedy_kind");
	struct res_plan empty = {0};
	ck_assert_str_eq(res_rule_mismatch(&rule, &empty, &f), "nothing_to_settle");
	struct res_plan words = {0}; /* an apology alone is a person's answer, not a settlement */
	add(&words, "apology", 0, "not_liable_force_majeure");
	ck_assert_str_eq(res_rule_mismatch(&rule, &words, &f), "nothing_to_settle");
}
END_TEST

START_TEST(test_rule_never_pays_twice_on_a_waybill)
{
	struct res_rule rule = seeded();
	struct res_plan plan = waiver(1000);
	struct res_settle_facts f = proven;
	f.paid_before_fen = 1;
	ck_assert_str_eq(res_rule_mismatch(&rule, &plan, &f), "paid_before");
}
END_TEST

START_TEST(test_ledger_first_complaint_pays_in_full)
{
	struct res_plan plan = {0};
	add(&plan, "compensation", 3600, "uninsured_freight_cap");
	add(&plan, "apology", 0, "liable");
	ck_assert_int_eq(res_ledger_apply(&plan, 0), 3600);
	ck_assert_int_eq(plan.n, 2);
	ck_assert_int_eq(plan.total_fen, 3600);
	ck_assert_str_eq(plan.remedies[0].rule, "uninsured_freight_cap");
}
END_TEST

START_TEST(test_ledger_repeat_complaint_proposes_the_difference)
{
	struct res_plan plan = {0};
	add(&plan, "compensation", 3600, "uninsured_freight_cap");
	add(&plan, "freight_refund", 1000, "demand_freight_refund");
	add(&plan, "coupon", 500, "vip_goodwill");
	add(&plan, "apology", 0, "liable");
	snprintf(plan.rule, sizeof(plan.rule), "uninsured_freight_cap");
	/* 4600 payable for the loss, 3000 paid: 1600 left, taken from the first remedy */
	ck_assert_int_eq(res_ledger_apply(&plan, 3000), 4600);
	ck_assert_int_eq(plan.n, 3);
	ck_assert_str_eq(plan.remedies[0].kind, "compensation");
	ck_assert_int_eq(plan.remedies[0].amount_fen, 1600);
	ck_assert_str_eq(plan.remedies[0].rule, "already_paid_difference");
	ck_assert_str_eq(plan.remedies[1].kind, "coupon"); /* the refund is cut to 0: dropped */
	ck_assert_int_eq(plan.total_fen, 2100);
	ck_assert_str_eq(plan.rule, "uninsured_freight_cap");
}
END_TEST

START_TEST(test_ledger_nothing_left_to_pay)
{
	struct res_plan plan = {0};
	add(&plan, "compensation", 3600, "uninsured_freight_cap");
	add(&plan, "apology", 0, "liable");
	plan.chargeback = true;
	ck_assert_int_eq(res_ledger_apply(&plan, 3600), 3600);
	ck_assert_int_eq(plan.n, 1);
	ck_assert_str_eq(plan.remedies[0].kind, "apology");
	ck_assert_int_eq(plan.total_fen, 0);
	ck_assert_str_eq(plan.rule, "already_paid");
	ck_assert(!plan.chargeback);
	struct res_plan more = {0}; /* paid more than this loss is worth */
	add(&more, "compensation", 1000, "x");
	res_ledger_apply(&more, 5000);
	ck_assert_int_eq(more.n, 0);
	ck_assert_int_eq(more.total_fen, 0);
}
END_TEST

START_TEST(test_ledger_payable)
{
	/* a first plan: all of it */
	ck_assert_int_eq(res_ledger_payable(3600, 0, 3600, 0), 3600);
	/* another complaint's 3600 requested meanwhile: nothing */
	ck_assert_int_eq(res_ledger_payable(3600, 0, 3600, 3600), 0);
	/* a repeat plan of the difference is not cut twice */
	ck_assert_int_eq(res_ledger_payable(2000, 0, 5000, 3000), 2000);
	/* an amended plan states the whole remedy: what was confirmed for it is deducted */
	ck_assert_int_eq(res_ledger_payable(1500, 500, 1500, 0), 1000);
	ck_assert_int_eq(res_ledger_payable(1500, 500, 1500, 900), 100);
	/* never negative */
	ck_assert_int_eq(res_ledger_payable(100, 0, 100, 999), 0);
	ck_assert_int_eq(res_ledger_payable(100, 200, 300, 0), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("resolution_decide");
	TCase *tc = tcase_create("decide");
	tcase_add_test(tc, test_rule_matches_only_when_every_condition_holds);
	tcase_add_test(tc, test_rule_limit_is_inclusive);
	tcase_add_test(tc, test_rule_category_and_kinds);
	tcase_add_test(tc, test_rule_never_pays_twice_on_a_waybill);
	tcase_add_test(tc, test_ledger_first_complaint_pays_in_full);
	tcase_add_test(tc, test_ledger_repeat_complaint_proposes_the_difference);
	tcase_add_test(tc, test_ledger_nothing_left_to_pay);
	tcase_add_test(tc, test_ledger_payable);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
