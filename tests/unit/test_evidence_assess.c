/* Fixture-table tests of the evidence and responsibility logic (services/evidence/assess.c):
 * every tests/fixtures/evidence/<name>.case file is one scan sequence with its expected findings
 * and responsibility, run as one iteration of a Check loop test.
 *
 * Case file lines (# comments):
 *   sub <subcategory>                     now <RFC 3339>
 *   scan <code> at=<time> [fac= type= courier= promised= reason= pod= signed= consent=1
 *        city= lat= lon=]
 *   answer kind=<kind> fac=<facility> outcome=<outcome> [late=1]
 *   expect finding <kind> [<facility>]    expect nofinding <kind>
 *   expect stage|party|party_id <value>   expect confidence <min>..<max>
 *   expect survey <f1,f2|->               expect delivered|tracking|courier_statement 0|1
 *   expect courier <id>                   expect slice <from>..<to>
 *   expect conclusive 0|1 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/assess.h"
#include "tstamp.h"

#define FIXTURE_DIR "tests/fixtures/evidence"
#define MAX_CASES   64
#define MAX_LINES   128

static char case_files[MAX_CASES][320];
static int ncases;

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void find_cases(void)
{
	DIR *d = opendir(FIXTURE_DIR);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && ncases < MAX_CASES) {
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".case") == 0)
			snprintf(case_files[ncases++], sizeof(case_files[0]), "%s/%.255s",
				 FIXTURE_DIR, e->d_name);
	}
	if (d)
		closedir(d);
	qsort(case_files, (size_t)ncases, sizeof(case_files[0]), by_name);
}

/* One parsed case: the lines are kept, scans and answers borrow from them. */
struct fixture {
	char lines[MAX_LINES][512];
	int nlines;
	char sub[48];
	int64_t now;
	struct ev_scan scans[64];
	size_t nscans;
	struct ev_answer answers[8];
	size_t nanswers;
};

/* Value of key=value in a token list (tokens NUL-separated in place). */
static const char *kv(char **tok, int ntok, const char *key)
{
	size_t klen = strlen(key);
	for (int i = 0; i < ntok; i++)
		if (strncmp(tok[i], key, klen) == 0 && tok[i][klen] == '=')
			return tok[i] + klen + 1;
	return "";
}

static int64_t when(const char *s, const char *file)
{
	int64_t ms = 0;
	ck_assert_msg(!s[0] || tstamp_parse(s, &ms) == 0, "%s: bad time %s", file, s);
	return ms;
}

static int tokens(char *line, char **tok)
{
	int n = 0;
	for (char *save = NULL, *t = strtok_r(line, " \t\n", &save); t && n < 24;
	     t = strtok_r(NULL, " \t\n", &save))
		tok[n++] = t;
	return n;
}

static void parse_scan(struct fixture *f, char **tok, int n, const char *file)
{
	struct ev_scan *s = &f->scans[f->nscans];
	s->code = ev_code_parse(tok[1]);
	ck_assert_msg(s->code != EV_NONE, "%s: unknown code %s", file, tok[1]);
	s->at_ms = when(kv(tok, n, "at"), file);
	s->promised_ms = when(kv(tok, n, "promised"), file);
	s->facility_id = kv(tok, n, "fac");
	s->facility_type = kv(tok, n, "type");
	s->courier_id = kv(tok, n, "courier");
	s->city = kv(tok, n, "city");
	s->pod_ref = kv(tok, n, "pod");
	s->signed_by = kv(tok, n, "signed");
	s->reason = kv(tok, n, "reason");
	s->consented = strcmp(kv(tok, n, "consent"), "1") == 0;
	s->has_location = kv(tok, n, "lat")[0] != '\0';
	s->lat = atof(kv(tok, n, "lat"));
	s->lon = atof(kv(tok, n, "lon"));
	s->ref = f->nscans++;
}

static void parse_answer(struct fixture *f, char **tok, int n)
{
	struct ev_answer *a = &f->answers[f->nanswers++];
	a->kind = kv(tok, n, "kind");
	a->facility_id = kv(tok, n, "fac");
	a->outcome = kv(tok, n, "outcome");
	a->late = strcmp(kv(tok, n, "late"), "1") == 0;
}

static void load(struct fixture *f, const char *file)
{
	FILE *in = fopen(file, "r");
	ck_assert_msg(in != NULL, "cannot open %s", file);
	memset(f, 0, sizeof(*f));
	while (f->nlines < MAX_LINES && fgets(f->lines[f->nlines], sizeof(f->lines[0]), in))
		f->nlines++;
	fclose(in);
	for (int i = 0; i < f->nlines; i++) {
		char copy[512], *tok[24];
		snprintf(copy, sizeof(copy), "%s", f->lines[i]);
		char *line = f->lines[i];
		int n = tokens(line, tok);
		if (n == 0 || tok[0][0] == '#')
			continue;
		if (strcmp(tok[0], "sub") == 0 && n > 1)
			snprintf(f->sub, sizeof(f->sub), "%s", tok[1]);
		else if (strcmp(tok[0], "now") == 0 && n > 1)
			f->now = when(tok[1], file);
		else if (strcmp(tok[0], "scan") == 0 && n > 1)
			parse_scan(f, tok, n, file);
		else if (strcmp(tok[0], "answer") == 0)
			parse_answer(f, tok, n);
		else
			snprintf(f->lines[i], sizeof(f->lines[0]), "%s",
				 copy); /* kept for checks */
	}
}

static bool has_finding(const struct ev_result *r, const char *kind, const char *facility)
{
	for (size_t i = 0; i < r->nfindings; i++)
		if (strcmp(r->findings[i].kind, kind) == 0 &&
		    (!facility || strcmp(r->findings[i].facility_id, facility) == 0))
			return true;
	return false;
}

static void dump(const struct ev_result *r, char *buf, size_t cap)
{
	size_t len = (size_t)snprintf(
	    buf, cap, "stage=%s party=%s party_id=%s conf=%d findings:", r->resp.stage,
	    r->resp.party, r->resp.party_id, r->resp.confidence);
	for (size_t i = 0; i < r->nfindings && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, " %s@%s", r->findings[i].kind,
					r->findings[i].facility_id);
}

static void check_survey(const struct ev_result *r, const char *want, const char *ctx)
{
	char got[512] = "";
	size_t len = 0;
	for (size_t i = 0; i < r->nsurvey; i++)
		len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s", i ? "," : "",
					r->survey[i]);
	ck_assert_msg(strcmp(got, strcmp(want, "-") == 0 ? "" : want) == 0,
		      "%s: survey %s, want %s", ctx, got, want);
}

static void check_flag(const char *what, bool got, const char *want, const char *ctx)
{
	ck_assert_msg(got == (atoi(want) != 0), "%s: %s is %d, want %s", ctx, what, got, want);
}

static void check_range(const char *what, long got, const char *want, const char *ctx)
{
	long lo = 0, hi = 0;
	ck_assert_msg(sscanf(want, "%ld..%ld", &lo, &hi) == 2, "%s: bad range %s", ctx, want);
	ck_assert_msg(got >= lo && got <= hi, "%s: %s %ld not in %s", ctx, what, got, want);
}

static void check_string(const char *what, const char *got, const char *want, const char *ctx)
{
	ck_assert_msg(strcmp(got, want) == 0, "%s: %s is '%s', want '%s'", ctx, what, got, want);
}

static void check_one(const struct ev_result *r, char **tok, int n, const char *ctx)
{
	const char *what = tok[1], *v = n > 2 ? tok[2] : "";
	if (strcmp(what, "finding") == 0)
		ck_assert_msg(has_finding(r, v, n > 3 ? tok[3] : NULL), "%s: no finding %s %s", ctx,
			      v, n > 3 ? tok[3] : "");
	else if (strcmp(what, "nofinding") == 0)
		ck_assert_msg(!has_finding(r, v, NULL), "%s: unexpected finding %s", ctx, v);
	else if (strcmp(what, "stage") == 0)
		check_string("stage", r->resp.stage, v, ctx);
	else if (strcmp(what, "party") == 0)
		check_string("party", r->resp.party, v, ctx);
	else if (strcmp(what, "party_id") == 0)
		check_string("party_id", r->resp.party_id, v, ctx);
	else if (strcmp(what, "courier") == 0)
		check_string("courier", r->courier_id, v, ctx);
	else if (strcmp(what, "confidence") == 0)
		check_range("confidence", r->resp.confidence, v, ctx);
	else if (strcmp(what, "slice") == 0)
		check_range("slice from", (long)r->slice_from, v, ctx);
	else if (strcmp(what, "survey") == 0)
		check_survey(r, v, ctx);
	else if (strcmp(what, "delivered") == 0)
		check_flag("delivered", r->delivered, v, ctx);
	else if (strcmp(what, "tracking") == 0)
		check_flag("tracking_found", r->tracking_found, v, ctx);
	else if (strcmp(what, "conclusive") == 0)
		check_flag("conclusive", r->resp.conclusive, v, ctx);
	else if (strcmp(what, "courier_statement") == 0)
		check_flag("courier_statement", r->courier_statement, v, ctx);
	else
		ck_abort_msg("%s: unknown expectation %s", ctx, what);
}

START_TEST(test_fixture_case)
{
	static struct fixture f;
	struct ev_result r;
	struct ev_policy pol = {86400, "weather,traffic_control", 3};
	const char *file = case_files[_i];
	load(&f, file);
	ck_assert_msg(f.sub[0] && f.now, "%s: sub and now are required", file);
	ev_assess(f.scans, f.nscans, f.sub, f.answers, f.nanswers, &pol, f.now, &r);
	char ctx[1400];
	int len = snprintf(ctx, 300, "%s", file);
	dump(&r, ctx + len, sizeof(ctx) - (size_t)len);
	int checks = 0;
	for (int i = 0; i < f.nlines; i++) {
		char line[512], *tok[24];
		snprintf(line, sizeof(line), "%s", f.lines[i]);
		int n = tokens(line, tok);
		if (n >= 2 && strcmp(tok[0], "expect") == 0) {
			check_one(&r, tok, n, ctx);
			checks++;
		}
	}
	ck_assert_msg(checks > 0, "%s has no expectations", file);
}
END_TEST

START_TEST(test_out_of_order_is_sorted)
{
	struct ev_scan s[3] = {
	    {.code = EV_DELIVERED, .at_ms = 3000, .facility_id = "O2"},
	    {.code = EV_PICKED_UP, .at_ms = 1000, .facility_id = "O1"},
	    {.code = EV_ARRIVED, .at_ms = 2000, .facility_id = "SC1"},
	};
	for (int i = 0; i < 3; i++) {
		s[i].facility_type = s[i].courier_id = s[i].city = s[i].pod_ref = "";
		s[i].signed_by = s[i].reason = "";
		s[i].ref = (size_t)i;
	}
	struct ev_policy pol = {86400, "weather", 10};
	struct ev_result r;
	ev_assess(s, 3, "other", NULL, 0, &pol, 4000, &r);
	ck_assert_int_eq(s[0].code, EV_PICKED_UP);
	ck_assert_int_eq(s[2].code, EV_DELIVERED);
	ck_assert_uint_eq(s[0].ref, 1);
	ck_assert_int_eq(r.last, 2);
	ck_assert(r.delivered);
}
END_TEST

START_TEST(test_codes_and_vocabulary)
{
	for (int c = 1; c < EV_NCODES; c++)
		ck_assert_int_eq(ev_code_parse(ev_code_name(c)), c);
	ck_assert_int_eq(ev_code_parse("teleported"), EV_NONE);
	ck_assert_str_eq(ev_code_name(99), "");
	ck_assert(ev_facility_type_valid("sorting_centre"));
	ck_assert(!ev_facility_type_valid("moon_base"));
	ck_assert(ev_outcome_valid("sorting_mishandling"));
	ck_assert(!ev_outcome_valid("guess"));
	ck_assert_int_eq(ev_kind_of("locker_theft"), EV_KIND_LOSS);
	ck_assert_int_eq(ev_kind_of("courier_attitude"), EV_KIND_OTHER);
}
END_TEST

int main(void)
{
	find_cases();
	Suite *s = suite_create("evidence_assess");
	TCase *tc = tcase_create("fixtures");
	if (ncases == 0) {
		fprintf(stderr, "no fixture cases in %s (run from the repository root)\n",
			FIXTURE_DIR);
		return 1;
	}
	tcase_add_loop_test(tc, test_fixture_case, 0, ncases);
	tcase_add_test(tc, test_out_of_order_is_sorted);
	tcase_add_test(tc, test_codes_and_vocabulary);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
