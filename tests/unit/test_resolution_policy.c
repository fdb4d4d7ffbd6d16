/* Fixture-table tests of the compensation policy and the remedy choice: every case of
 * tests/fixtures/resolution/compensation.txt is one Check test (a loop test). */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolution/policy.h"
#include "resolution/resolution.h"

#define FIXTURE	  "tests/fixtures/resolution/compensation.txt"
#define MAX_CASES 128

struct fixture_case {
	char name[64];
	int line;
	struct res_policy policy;
	struct res_facts facts;
	int64_t total;
	char rule[40];
	int chargeback;
	char remedies[512];
};

static struct fixture_case cases[MAX_CASES];
static int ncases;

/* Finds key=value in a line of space-separated pairs; copies the value. */
static bool field(const char *line, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);
	for (const char *p = line; (p = strstr(p, key)) != NULL; p += klen) {
		if ((p == line || p[-1] == ' ') && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, " \n");
			snprintf(out, cap, "%.*s", (int)n, p + klen + 1);
			return true;
		}
	}
	return false;
}

static int64_t num(const char *line, const char *key)
{
	char v[32];
	return field(line, key, v, sizeof(v)) ? strtoll(v, NULL, 10) : 0;
}

static void parse_policy(const char *line, struct res_policy *p)
{
	memset(p, 0, sizeof(*p));
	field(line, "name", p->name, sizeof(p->name));
	p->freight_multiple = num(line, "multiple");
	p->declared_ceiling_fen = num(line, "ceiling");
	p->damage_loss_pct = num(line, "damage_pct");
	field(line, "delay", p->delay_remedy, sizeof(p->delay_remedy));
	p->delay_coupon_fen = num(line, "coupon");
	p->vip_coupon_fen = num(line, "vip");
	p->last_mile_coupon_fen = num(line, "last_mile");
}

static void parse_facts(const char *line, struct res_facts *f)
{
	char demand[128] = "";
	memset(f, 0, sizeof(*f));
	field(line, "cat", f->category, sizeof(f->category));
	field(line, "sub", f->subcategory, sizeof(f->subcategory));
	if (!field(line, "tier", f->tier, sizeof(f->tier)))
		snprintf(f->tier, sizeof(f->tier), "standard");
	if (!field(line, "party", f->party, sizeof(f->party)))
		snprintf(f->party, sizeof(f->party), "unknown");
	f->insured = num(line, "insured") != 0;
	f->insured_value_fen = num(line, "insured_value");
	f->declared_value_fen = num(line, "declared");
	f->freight_fen = num(line, "freight");
	f->loss_pct = (int)num(line, "pct");
	f->locatable = num(line, "locatable") != 0;
	field(line, "demand", demand, sizeof(demand));
	for (char *save = NULL, *w = strtok_r(demand, ",", &save); w;
	     w = strtok_r(NULL, ",", &save))
		f->demand |= res_demand_bit(w);
}

static void parse_expect(const char *line, struct fixture_case *c)
{
	char v[16] = "0";
	c->total = num(line, "total");
	field(line, "rule", c->rule, sizeof(c->rule));
	field(line, "chargeback", v, sizeof(v));
	c->chargeback = atoi(v);
	field(line, "remedies", c->remedies, sizeof(c->remedies));
}

static void load_fixture(void)
{
	FILE *f = fopen(getenv("RES_FIXTURE") ? getenv("RES_FIXTURE") : FIXTURE, "r");
	if (!f) {
		fprintf(stderr, "cannot open %s (run from the repository root)\n", FIXTURE);
		exit(2);
	}
	char line[1024];
	struct res_policy policy = {0};
	int lineno = 0;
	while (fgets(line, sizeof(line), f) && ncases < MAX_CASES) {
		lineno++;
		if (strncmp(line, "policy ", 7) == 0) {
			parse_policy(line, &policy);
		} else if (strncmp(line, "case ", 5) == 0) {
			struct fixture_case *c = &cases[ncases];
			field(line, "name", c->name, sizeof(c->name));
			c->line = lineno;
			c->policy = policy;
			parse_facts(line, &c->facts);
		} else if (strncmp(line, "expect ", 7) == 0) {
			parse_expect(line, &cases[ncases++]);
		}
	}
	fclose(f);
}

static void render(const struct res_plan *plan, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < plan->n && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s:%" PRId64 ":%s", i ? "," : "",
					plan->remedies[i].kind, plan->remedies[i].amount_fen,
					plan->remedies[i].rule);
}

START_TEST(test_fixture_case)
{
	const struct fixture_case *c = &cases[_i];
	struct res_plan plan;
	char got[512];
	res_propose(&c->policy, &c->facts, &plan);
	render(&plan, got, sizeof(got));
	ck_assert_msg(strcmp(got, c->remedies) == 0, "%s (line %d): remedies %s, expected %s",
		      c->name, c->line, got, c->remedies);
	ck_assert_msg(plan.total_fen == c->total, "%s: total %" PRId64 ", expected %" PRId64,
		      c->name, plan.total_fen, c->total);
	ck_assert_msg(strcmp(plan.rule, c->rule) == 0, "%s: rule %s, expected %s", c->name,
		      plan.rule, c->rule);
	ck_assert_msg(plan.chargeback == (c->chargeback != 0), "%s: chargeback %d", c->name,
		      plan.chargeback);
}
END_TEST

START_TEST(test_fixture_has_enough_cases)
{
	ck_assert_int_ge(ncases, 20);
}
END_TEST

START_TEST(test_pct_half_up)
{
	ck_assert_int_eq(res_pct(333, 50), 167);
	ck_assert_int_eq(res_pct(1, 49), 0);
	ck_assert_int_eq(res_pct(1, 50), 1);
	ck_assert_int_eq(res_pct(-5, 50), 0);
	ck_assert_int_eq(res_pct(INT64_C(900000000000), 100), INT64_C(900000000000));
}
END_TEST

START_TEST(test_kinds_and_demands)
{
	ck_assert(res_kind_valid("compensation"));
	ck_assert(!res_kind_valid("cash"));
	ck_assert(res_kind_payout("freight_waiver"));
	ck_assert(!res_kind_payout("coupon"));
	ck_assert_uint_eq(res_demand_bit("reship"), RES_DEMAND_RESHIP);
	ck_assert_uint_eq(res_demand_bit("nonsense"), 0);
	ck_assert(res_chargeback_party("franchise_partner"));
	ck_assert(!res_chargeback_party("courier"));
}
END_TEST

/* The admin API's compensation policy check (PUT /v1/compensation-policies/{carrier}). */
START_TEST(test_an_admins_policy_is_checked_field_by_field)
{
	ck_assert(res_carrier_key_valid("default") && res_carrier_key_valid("EMS"));
	ck_assert(!res_carrier_key_valid("SF-1") && !res_carrier_key_valid("") &&
		  !res_carrier_key_valid("ABCDEFGHIJK"));
	json_t *ok =
	    json_pack("{s:i, s:i, s:i, s:s, s:i, s:i}", "freight_multiple", 3,
		      "declared_ceiling_fen", 2000000, "damage_loss_pct", 100, "delay_remedy",
		      "coupon", "delay_coupon_fen", 500, "vip_coupon_fen", 0);
	json_t *errors = json_array();
	res_policy_check("ZT", ok, errors);
	ck_assert_uint_eq(json_array_size(errors), 0);
	json_t *bad =
	    json_pack("{s:i, s:s, s:i, s:s, s:i, s:i, s:i}", "freight_multiple", -1,
		      "declared_ceiling_fen", "1", "damage_loss_pct", 101, "delay_remedy", "cash",
		      "delay_coupon_fen", 0, "vip_coupon_fen", 0, "last_mile_coupon_fen", -5);
	res_policy_check("Z-T", bad, errors);
	const char *want[] = {"carrier",	 "freight_multiple", "declared_ceiling_fen",
			      "damage_loss_pct", "delay_remedy",     "last_mile_coupon_fen"};
	ck_assert_uint_eq(json_array_size(errors), 6);
	for (size_t i = 0; i < 6; i++)
		ck_assert_str_eq(
		    json_string_value(json_object_get(json_array_get(errors, i), "field")),
		    want[i]);
	json_decref(ok);
	json_decref(bad);
	json_decref(errors);
}
END_TEST

int main(void)
{
	load_fixture();
	Suite *s = suite_create("resolution_policy");
	TCase *tc = tcase_create("fixture");
	tcase_add_loop_test(tc, test_fixture_case, 0, ncases);
	tcase_add_test(tc, test_fixture_has_enough_cases);
	tcase_add_test(tc, test_pct_half_up);
	tcase_add_test(tc, test_an_admins_policy_is_checked_field_by_field);
	tcase_add_test(tc, test_kinds_and_demands);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
