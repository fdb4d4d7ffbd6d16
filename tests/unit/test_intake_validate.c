/* Intake's pure functions: complaint validation (every bad field reported), waybill and
 * phone formats, masking, redaction, the filing window and the initial priority. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "intake/intake.h"

struct intake_config intake_cfg;

static const char *const valid_body =
    "{\"channel\":\"web\",\"waybill_no\":\"SF1234567890\","
    "\"complainant\":{\"name\":\"王小明\",\"phone\":\"13912345678\",\"role\":\"recipient\"},"
    "\"description\":\"包裹破损\",\"type\":\"damage\","
    "\"impact\":{\"goods\":[\"medicine\"],\"declared_value_fen\":12000,\"perishable\":false},"
    "\"demand\":[\"compensation\",\"apology\"],\"target\":{\"kind\":\"courier\",\"id\":\"C1\"},"
    "\"attachments\":[\"photo-1\"]}";

static struct intake_input in;

/* Parses text; returns the errors array (caller decrefs). */
static json_t *parse(const char *text, bool *ok)
{
	json_t *body = json_loads(text, JSON_ALLOW_NUL, NULL);
	ck_assert_ptr_nonnull(body);
	json_t *errors = json_array();
	*ok = intake_parse(body, &in, errors);
	json_decref(body);
	return errors;
}

static bool has_field(json_t *errors, const char *field)
{
	size_t i;
	json_t *e;
	json_array_foreach (errors, i, e)
		if (strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
			return true;
	return false;
}

/* valid_body with key (a top-level or "complainant.x" member) replaced by value JSON. */
static json_t *parse_with(const char *key, const char *value, bool *ok)
{
	json_t *body = json_loads(valid_body, 0, NULL);
	json_t *target = body;
	const char *dot = strchr(key, '.');
	char head[32];
	if (dot) {
		snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
		target = json_object_get(body, head);
		key = dot + 1;
	}
	json_object_set_new(target, key, json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL));
	char *text = json_dumps(body, 0);
	json_t *errors = parse(text, ok);
	free(text);
	json_decref(body);
	return errors;
}

START_TEST(valid_complaint_parses)
{
	bool ok;
	json_t *errors = parse(valid_body, &ok);
	ck_assert_msg(ok, "errors: %s", json_dumps(errors, 0));
	ck_assert_str_eq(in.channel, "web");
	ck_assert_str_eq(in.language, "zh-CN"); /* default */
	ck_assert_str_eq(in.preferred_contact, "phone");
	ck_assert_int_eq(in.ngoods, 1);
	ck_assert_int_eq(in.ndemand, 2);
	ck_assert_int_eq(in.declared_value_fen, 12000);
	ck_assert_int_eq(in.nattachments, 1);
	json_decref(errors);
}
END_TEST

START_TEST(each_bad_field_is_named)
{
	bool ok;
	const struct {
		const char *key, *value, *field;
	} cases[] = {
	    {"waybill_no", "\"sf-123\"", "waybill_no"},
	    {"waybill_no", "\"SF12\"", "waybill_no"},
	    {"complainant.phone", "\"12345\"", "complainant.phone"},
	    {"complainant.phone", "\"1391234567a\"", "complainant.phone"},
	    {"channel", "\"fax\"", "channel"},
	    {"type", "\"broken\"", "type"},
	    {"complainant.role", "\"owner\"", "complainant.role"},
	    {"complainant.language", "\"fr\"", "complainant.language"},
	    {"demand", "[\"money\"]", "demand[0]"},
	    {"impact", "{\"declared_value_fen\": -1}", "impact.declared_value_fen"},
	    {"impact", "{\"declared_value_fen\": 1.5}", "impact.declared_value_fen"},
	    {"target", "{\"kind\":\"alien\"}", "target.kind"},
	    {"attachments", "[\"\"]", "attachments"},
	    {"description", "\"\"", "description"},
	    {"description", "42", "description"},
	    {"complainant", "null", "complainant"},
	    {"complainant.name", "\"a\\u0000b\"", "complainant.name"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *errors = parse_with(cases[i].key, cases[i].value, &ok);
		ck_assert_msg(!ok, "%s=%s accepted", cases[i].key, cases[i].value);
		ck_assert_msg(has_field(errors, cases[i].field), "%s=%s: %s", cases[i].key,
			      cases[i].value, json_dumps(errors, 0));
		if (strcmp(cases[i].key, "complainant.name") == 0)
			ck_assert_ptr_nonnull(strstr(json_dumps(errors, 0), "NUL"));
		json_decref(errors);
	}
}
END_TEST

START_TEST(too_long_text_rejected)
{
	bool ok;
	char *big = malloc(INTAKE_DESCRIPTION_MAX * 3 + 16);
	size_t n = 0;
	big[n++] = '"';
	for (int i = 0; i < INTAKE_DESCRIPTION_MAX + 1; i++) {
		memcpy(big + n, "破", 3); /* counted in characters, not bytes */
		n += 3;
	}
	big[n++] = '"';
	big[n] = '\0';
	json_t *errors = parse_with("description", big, &ok);
	ck_assert(!ok);
	ck_assert(has_field(errors, "description"));
	json_decref(errors);
	/* exactly the limit in multi-byte characters passes */
	big[n - 1 - 3] = '"';
	big[n - 3] = '\0';
	errors = parse_with("description", big, &ok);
	ck_assert_msg(ok, "%s", json_dumps(errors, 0));
	json_decref(errors);
	free(big);
}
END_TEST

START_TEST(all_errors_reported_at_once)
{
	bool ok;
	json_t *errors = parse("{\"channel\":\"fax\",\"waybill_no\":\"x\",\"type\":\"??\"}", &ok);
	ck_assert(!ok);
	ck_assert(has_field(errors, "channel"));
	ck_assert(has_field(errors, "waybill_no"));
	ck_assert(has_field(errors, "type"));
	ck_assert(has_field(errors, "complainant"));
	ck_assert(has_field(errors, "description"));
	json_decref(errors);
}
END_TEST

START_TEST(formats)
{
	ck_assert(intake_waybill_valid("SF1234567890"));
	ck_assert(intake_waybill_valid("12345678"));
	ck_assert(!intake_waybill_valid("sf1234567890"));
	ck_assert(!intake_waybill_valid("SF12345678901234567890"));
	ck_assert(intake_phone_valid("13912345678"));
	ck_assert(intake_phone_valid("+86 139 1234 5678"));
	ck_assert(intake_phone_valid("010-12345678"));
	ck_assert(!intake_phone_valid("12912345678"));
	ck_assert(!intake_phone_valid("1391234567"));
	ck_assert(!intake_phone_valid("139-1234-567x"));
	ck_assert(intake_status_valid("closed"));
	ck_assert(!intake_status_valid("lost"));
}
END_TEST

START_TEST(masking)
{
	char out[64];
	intake_mask_phone("13912345678", out, sizeof(out));
	ck_assert_str_eq(out, "139****5678");
	intake_mask_phone("123", out, sizeof(out));
	ck_assert_str_eq(out, "****");
	intake_mask_name("王小明", out, sizeof(out));
	ck_assert_str_eq(out, "王*");
	intake_mask_name("John Smith", out, sizeof(out));
	ck_assert_str_eq(out, "J*");
}
END_TEST

START_TEST(redaction)
{
	char out[256];
	intake_redact("李秘密说打13912345678或者 010-1234 5678 都行，单号SF123", "李秘密", out,
		      sizeof(out));
	ck_assert_ptr_null(strstr(out, "李秘密"));
	ck_assert_ptr_null(strstr(out, "13912345678"));
	ck_assert_ptr_null(strstr(out, "1234 5678"));
	ck_assert_ptr_nonnull(strstr(out, "[name]"));
	ck_assert_ptr_nonnull(strstr(out, "[phone]"));
	ck_assert_ptr_nonnull(strstr(out, "SF123")); /* short digit runs stay */
	intake_redact("abc", "李秘密", out, 3);
	ck_assert_int_le((int)strlen(out), 2);
}
END_TEST

START_TEST(filing_window)
{
	char problem[256] = "";
	const int64_t day = 86400000LL, pickup = 1764000000000LL;
	ck_assert(intake_filing_window_ok(pickup, pickup + 365 * day, 365, "2025-11-24T16:00:00Z",
					  problem, sizeof(problem)));
	ck_assert(!intake_filing_window_ok(pickup, pickup + 366 * day, 365, "2025-11-24T16:00:00Z",
					   problem, sizeof(problem)));
	ck_assert_ptr_nonnull(strstr(problem, "2025-11-24T16:00:00Z"));
	ck_assert_ptr_nonnull(strstr(problem, "365 days"));
}
END_TEST

START_TEST(initial_priority)
{
	bool ok;
	json_t *errors = parse(valid_body, &ok);
	ck_assert_int_eq(intake_initial_priority(&in), 2); /* medicine */
	in.ngoods = 0;
	ck_assert_int_eq(intake_initial_priority(&in), 4);
	in.declared_value_fen = 600000;
	ck_assert_int_eq(intake_initial_priority(&in), 3);
	json_decref(errors);
}
END_TEST

START_TEST(contact_only_for_those_who_handle_the_case)
{
	struct auth_principal agent = {.staff_id = "A1", .role = AUTH_AGENT};
	struct auth_principal sup = {.staff_id = "S1", .role = AUTH_SUPERVISOR};
	struct auth_principal gw = {.staff_id = "A1", .role = AUTH_INTEGRATION};
	struct auth_principal nobody = {.staff_id = "", .role = AUTH_AGENT};
	ck_assert(intake_contact_entitled(&agent, "A1", ""));	/* the owner */
	ck_assert(intake_contact_entitled(&agent, "A2", "A1")); /* keyed it in */
	ck_assert(!intake_contact_entitled(&agent, "A2", "A3"));
	ck_assert(!intake_contact_entitled(&agent, "", ""));
	ck_assert(!intake_contact_entitled(&nobody, "", ""));
	ck_assert(intake_contact_entitled(&sup, "", ""));
	ck_assert(!intake_contact_entitled(&gw, "A1", "A1"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("intake");
	TCase *tc = tcase_create("validate");
	tcase_add_test(tc, valid_complaint_parses);
	tcase_add_test(tc, each_bad_field_is_named);
	tcase_add_test(tc, too_long_text_rejected);
	tcase_add_test(tc, all_errors_reported_at_once);
	tcase_add_test(tc, formats);
	tcase_add_test(tc, masking);
	tcase_add_test(tc, redaction);
	tcase_add_test(tc, filing_window);
	tcase_add_test(tc, initial_priority);
	tcase_add_test(tc, contact_only_for_those_who_handle_the_case);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
