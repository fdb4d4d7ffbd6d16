/* Fixture-table tests of the classifier: tests/fixtures/classification/cases.tsv holds
 * realistic complaint texts (Chinese and English) with the expected category, urgency,
 * priority and first-response scenario. The keyword table is the one the migration seeds
 * (read from deploy/sql/0200_classification_rules.sql), so the test checks the shipped data.
 * Also: the priority matrix, keyword validation, template rendering and nearest-staff
 * routing. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification/classification.h"

struct classification_config classification_cfg;

#define SEED_SQL	"deploy/sql/0200_classification_rules.sql"
#define CASES_TSV	"tests/fixtures/classification/cases.tsv"
#define TEXT_READER_SQL "deploy/sql/0760_classification_text_reader.sql"

static struct kw_table seed;

/* Parses one SQL value: 'text' (with '' escapes), NULL or an integer. */
static const char *sql_value(const char *p, char *out, size_t cap, bool *null)
{
	size_t n = 0;
	while (*p == ' ' || *p == ',' || *p == '(')
		p++;
	*null = strncmp(p, "NULL", 4) == 0;
	if (*null)
		return p + 4;
	if (*p != '\'') {
		while (*p >= '0' && *p <= '9' && n + 1 < cap)
			out[n++] = *p++;
		out[n] = '\0';
		return p;
	}
	for (p++; *p && !(p[0] == '\'' && p[1] != '\''); p++) {
		if (p[0] == '\'' && p[1] == '\'')
			p++;
		if (n + 1 < cap)
			out[n++] = *p;
	}
	out[n] = '\0';
	return *p ? p + 1 : p;
}

/* Adds or replaces the entry: a later migration may re-point a keyword (代签 -> proxy_signed). */
static void seed_put(const struct kw_entry *e)
{
	for (size_t i = 0; i < seed.n; i++)
		if (strcmp(seed.v[i].keyword, e->keyword) == 0) {
			seed.v[i] = *e;
			return;
		}
	seed.v[seed.n++] = *e;
}

static void load_seed_file(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", path);
	char line[1024], v[6][128], err[128];
	bool in = false, null[6];
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "-- keywords:begin"))
			in = true;
		else if (strstr(line, "-- keywords:end"))
			in = false;
		if (!in || line[0] != '(')
			continue;
		const char *p = line;
		for (int i = 0; i < 6; i++)
			p = sql_value(p, v[i], sizeof(v[i]), &null[i]);
		struct kw_entry e;
		int rc =
		    classify_kw_make(&e, v[0], v[1], null[2] ? NULL : v[2], null[3] ? NULL : v[3],
				     null[4] ? NULL : v[4], atoi(v[5]), err, sizeof(err));
		ck_assert_msg(rc == 0, "seed keyword '%s' invalid: %s", v[0], err);
		seed_put(&e);
	}
	fclose(f);
}

static void load_seed(void)
{
	free(seed.v);
	seed.v = calloc(1000, sizeof(*seed.v));
	seed.n = 0;
	load_seed_file(SEED_SQL);
	load_seed_file(TEXT_READER_SQL);
	ck_assert_msg(seed.n >= 100, "only %zu seed keywords parsed", seed.n);
}

static int type_of(const char *s)
{
	if (strcmp(s, "damage") == 0)
		return CP__COMPLAINT_TYPE__COMPLAINT_TYPE_DAMAGE;
	if (strcmp(s, "delay") == 0)
		return CP__COMPLAINT_TYPE__COMPLAINT_TYPE_DELAY;
	if (strcmp(s, "loss") == 0)
		return CP__COMPLAINT_TYPE__COMPLAINT_TYPE_LOSS;
	return CP__COMPLAINT_TYPE__COMPLAINT_TYPE_OTHER;
}

/* Splits a comma list ("-" = empty) into list (pointers into buf). */
static size_t split_list(char *buf, char **list, size_t max)
{
	size_t n = 0;
	char *save = NULL;
	if (strcmp(buf, "-") == 0)
		return 0;
	for (char *t = strtok_r(buf, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
		list[n++] = t;
	return n;
}

START_TEST(fixture_cases)
{
	load_seed();
	FILE *f = fopen(CASES_TSV, "r");
	ck_assert_msg(f != NULL, "cannot open %s", CASES_TSV);
	char line[2048];
	int ncases = 0, failures = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		char *col[14], *save = NULL;
		int n = 0;
		for (char *t = strtok_r(line, "\t", &save); t && n < 14;
		     t = strtok_r(NULL, "\t", &save))
			col[n++] = t;
		ck_assert_msg(n == 14, "case %d has %d columns", ncases + 1, n);
		char *goods[6], *demand[5];
		Cp__Impact im = CP__IMPACT__INIT;
		Cp__ComplaintReceived c = CP__COMPLAINT_RECEIVED__INIT;
		im.n_goods = split_list(col[2], goods, 6);
		im.goods = goods;
		im.declared_value_fen = atoll(col[3]);
		im.perishable = atoi(col[4]) != 0;
		c.type = (Cp__ComplaintType)type_of(col[1]);
		c.impact = &im;
		c.repeat_count = atoi(col[5]);
		c.repeat = c.repeat_count > 0;
		c.n_demand = split_list(col[6], demand, 5);
		c.demand = demand;
		c.description_redacted = col[8];
		struct classify_result r;
		classify_complaint(&c, &seed, atoi(col[7]) != 0, &r);
		ncases++;
		if (strcmp(r.category, col[9]) || strcmp(r.subcategory, col[10]) ||
		    strcmp(r.urgency, col[11]) || r.priority != atoi(col[12]) ||
		    strcmp(r.scenario, col[13])) {
			failures++;
			fprintf(stderr,
				"case %s: got %s/%s %s p%d %s, want %s/%s %s p%s %s (reason: %s)\n",
				col[0], r.category, r.subcategory, r.urgency, r.priority,
				r.scenario, col[9], col[10], col[11], col[12], col[13], r.reason);
		}
	}
	fclose(f);
	ck_assert_int_ge(ncases, 40);
	ck_assert_msg(failures == 0, "%d of %d fixture cases differ (see stderr)", failures,
		      ncases);
}
END_TEST

START_TEST(disagreement_recorded)
{
	load_seed();
	Cp__ComplaintReceived c = CP__COMPLAINT_RECEIVED__INIT;
	struct classify_result r;
	c.type = CP__COMPLAINT_TYPE__COMPLAINT_TYPE_DELAY;
	c.description_redacted = "快递延误了，而且我的信息被泄露";
	classify_complaint(&c, &seed, false, &r);
	ck_assert_str_eq(r.subcategory, "personal_data_leak");
	ck_assert_str_eq(r.text_subcategory, "personal_data_leak");
	ck_assert_ptr_nonnull(strstr(r.reason, "stated type delay"));
	ck_assert_ptr_nonnull(strstr(r.reason, "more serious"));
	ck_assert_int_ge(r.nkeywords, 2);

	c.type = CP__COMPLAINT_TYPE__COMPLAINT_TYPE_DAMAGE;
	c.description_redacted = "快递员态度差，包裹也摔坏了";
	classify_complaint(&c, &seed, false, &r);
	ck_assert_str_eq(r.subcategory, "damage");
	ck_assert_str_eq(r.text_subcategory, "courier_attitude");
	ck_assert_ptr_nonnull(strstr(r.reason, "also mentions courier_attitude"));
}
END_TEST

/* The issue-11 misreading: "not damaged, just late" was read as damage. */
START_TEST(negated_keyword_does_not_vote)
{
	load_seed();
	static const char *const cases[][2] = {
	    {"the box was not damaged, it was just three days late", "delay"},
	    {"不是延误，是东西破损了", "damage"},
	    {"包裹没有破损，但是延误了三天", "delay"},
	    {"虽然有点延误，但是外箱压坏了", "damage"},
	    {"没有丢失，只是送错了地址", "wrong_delivery"},
	    {"Ｔｈｅ ｐａｒｃｅｌ ｉｓ ＬＡＴＥ", "delay"},
	    {"包裹没有破损", "other"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Cp__ComplaintReceived c = CP__COMPLAINT_RECEIVED__INIT;
		struct classify_result r;
		c.type = CP__COMPLAINT_TYPE__COMPLAINT_TYPE_OTHER;
		c.description_redacted = (char *)cases[i][0];
		classify_complaint(&c, &seed, false, &r);
		ck_assert_msg(strcmp(r.subcategory, cases[i][1]) == 0, "'%s' read as %s, want %s",
			      cases[i][0], r.subcategory, cases[i][1]);
	}
}
END_TEST

START_TEST(priority_matrix)
{
	static const char *const u[] = {"normal", "urgent", "very_urgent"};
	static const char *const s[] = {"low", "medium", "high", "critical"};
	static const int want[3][4] = {{5, 4, 3, 2}, {3, 3, 2, 1}, {2, 2, 1, 1}};
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 4; j++) {
			ck_assert_int_eq(classify_priority(u[i], s[j], false), want[i][j]);
			int vip = want[i][j] > 1 ? want[i][j] - 1 : 1;
			ck_assert_int_eq(classify_priority(u[i], s[j], true), vip);
		}
	/* more urgent or more severe never lowers the priority */
	for (int i = 0; i < 3; i++)
		for (int j = 1; j < 4; j++)
			ck_assert_int_le(want[i][j], want[i][j - 1]);
	ck_assert_int_eq(classify_priority("bogus", "low", false), 5);
}
END_TEST

START_TEST(keyword_validation)
{
	struct kw_entry e;
	char err[128];
	ck_assert_int_eq(classify_kw_make(&e, "Damaged", "category", "transport", "damage", NULL, 2,
					  err, sizeof(err)),
			 0);
	ck_assert_str_eq(e.keyword, "damaged");
	ck_assert_int_eq(
	    classify_kw_make(&e, "x", "category", "service", "damage", NULL, 2, err, sizeof(err)),
	    -1);
	ck_assert_int_eq(classify_kw_make(&e, "x", "mood", NULL, NULL, NULL, 2, err, sizeof(err)),
			 -1);
	ck_assert_int_eq(
	    classify_kw_make(&e, "x", "goods", NULL, NULL, "gold", 2, err, sizeof(err)), -1);
	ck_assert_int_eq(classify_kw_make(&e, "", "angry", NULL, NULL, NULL, 2, err, sizeof(err)),
			 -1);
	ck_assert_int_eq(classify_kw_make(&e, "x", "angry", NULL, NULL, NULL, 11, err, sizeof(err)),
			 -1);
	ck_assert_str_eq(classify_category_of("locker_theft"), "transport");
	ck_assert_ptr_null(classify_category_of("nonsense"));
}
END_TEST

START_TEST(operator_keyword_changes_apply)
{
	struct kw_entry v[1];
	struct kw_table t = {v, 1};
	char err[128];
	ck_assert_int_eq(classify_kw_make(&v[0], "爆仓", "category", "transport", "delay", NULL, 3,
					  err, sizeof(err)),
			 0);
	Cp__ComplaintReceived c = CP__COMPLAINT_RECEIVED__INIT;
	struct classify_result r;
	c.type = CP__COMPLAINT_TYPE__COMPLAINT_TYPE_OTHER;
	c.description_redacted = "网点爆仓，一周没动";
	classify_complaint(&c, &t, false, &r);
	ck_assert_str_eq(r.subcategory, "delay");
	classify_complaint(&c, &(struct kw_table){NULL, 0}, false, &r);
	ck_assert_str_eq(r.subcategory, "other");
}
END_TEST

START_TEST(render_template)
{
	char out[256];
	const struct classify_vars v = {"CP20261124-000001", "SF1234567890", "arrived at Shenzhen",
					"2026-11-24 13:05 UTC"};
	classify_render("{complaint_no}/{waybill_no}: {latest_scan} by {next_update_by} {other}",
			&v, out, sizeof(out));
	ck_assert_str_eq(out, "CP20261124-000001/SF1234567890: arrived at Shenzhen by 2026-11-24 "
			      "13:05 UTC {other}");
	classify_render("{complaint_no}{complaint_no}", &v, out, 10);
	ck_assert_int_eq((int)strlen(out), 9);
	classify_human_time(1795997100000LL, "zh-CN", out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "北京时间"));
	classify_human_time(1795997100000LL, "en", out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, " UTC"));
	classify_scan_text(true, 2, "Shenzhen", "SZ-HUB", 1795997100000LL, "en", out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "arrived at Shenzhen"));
	classify_scan_text(false, 0, "", "", 0, "zh-CN", out, sizeof(out));
	ck_assert_str_eq(out, "暂无扫描记录");
}
END_TEST

START_TEST(route_three_nearest)
{
	struct route_staff s[5] = {
	    {"far", "O1", 31.2, 121.5, true},	{"near2", "O1", 22.55, 114.07, true},
	    {"nowhere", "O1", 0, 0, false},	{"near1", "O1", 22.543, 114.058, true},
	    {"near3", "O2", 22.6, 114.1, true},
	};
	size_t idx[3];
	size_t n = route_nearest(true, 22.543, 114.057, s, 5, 3, idx);
	ck_assert_int_eq((int)n, 3);
	ck_assert_str_eq(s[idx[0]].staff_id, "near1");
	ck_assert_str_eq(s[idx[1]].staff_id, "near2");
	ck_assert_str_eq(s[idx[2]].staff_id, "near3");
	n = route_nearest(false, 0, 0, s, 5, 2, idx);
	ck_assert_int_eq((int)n, 2);
	ck_assert_str_eq(s[idx[0]].staff_id, "far"); /* no origin: the given order */
	n = route_nearest(true, 22.5, 114.0, s, 2, 3, idx);
	ck_assert_int_eq((int)n, 2);
	double km = route_distance_km(22.543, 114.057, 31.23, 121.47);
	ck_assert_msg(fabs(km - 1213) < 30, "Shenzhen-Shanghai is %.0f km", km);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("classification");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, fixture_cases);
	tcase_add_test(tc, disagreement_recorded);
	tcase_add_test(tc, negated_keyword_does_not_vote);
	tcase_add_test(tc, priority_matrix);
	tcase_add_test(tc, keyword_validation);
	tcase_add_test(tc, operator_keyword_changes_apply);
	tcase_add_test(tc, render_template);
	tcase_add_test(tc, route_three_nearest);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
