/* Unit tests: configuration tables, librdkafka property pass-through, time stamps, ids, auth. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cfg.h"
#include "ids.h"
#include "redact.h"
#include "tstamp.h"

static char *s_value;
static long long i_value;
static bool b_value;

static const struct cfg_entry table[] = {
    {"T_STR", CFG_STR, "dflt", 0, 0, "a string", &s_value},
    {"T_INT", CFG_INT, "5", 1, 10, "an integer", &i_value},
    {"T_BOOL", CFG_BOOL, "false", 0, 0, "a boolean", &b_value},
};

static void clear_env(void)
{
	unsetenv("T_STR");
	unsetenv("T_STR_FILE");
	unsetenv("T_INT");
	unsetenv("T_BOOL");
}

START_TEST(defaults_apply)
{
	char err[256] = "";
	clear_env();
	ck_assert_int_eq(cfg_load(table, 3, err, sizeof(err)), 0);
	ck_assert_str_eq(s_value, "dflt");
	ck_assert_int_eq(i_value, 5);
	ck_assert(!b_value);
	cfg_free(table, 3);
}
END_TEST

START_TEST(int_not_a_number_names_the_variable)
{
	char err[256] = "";
	clear_env();
	setenv("T_INT", "12x", 1);
	ck_assert_int_eq(cfg_load(table, 3, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "T_INT: '12x' is not an integer");
	cfg_free(table, 3);
}
END_TEST

START_TEST(int_out_of_range)
{
	char err[256] = "";
	clear_env();
	setenv("T_INT", "11", 1);
	ck_assert_int_eq(cfg_load(table, 3, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "T_INT: 11 is out of range [1, 10]");
	cfg_free(table, 3);
}
END_TEST

START_TEST(bool_rejects_garbage)
{
	char err[256] = "";
	clear_env();
	setenv("T_BOOL", "maybe", 1);
	ck_assert_int_eq(cfg_load(table, 3, err, sizeof(err)), -1);
	ck_assert(strstr(err, "T_BOOL") != NULL);
	setenv("T_BOOL", "YES", 1);
	ck_assert_int_eq(cfg_load(table, 3, err, sizeof(err)), 0);
	ck_assert(b_value);
	cfg_free(table, 3);
}
END_TEST

START_TEST(file_variant_reads_secret_and_trims_newline)
{
	char err[256] = "", path[] = "/tmp/cfgtestXXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "s3cret\n", 7), 7);
	close(fd);
	clear_env();
	setenv("T_STR_FILE", path, 1);
	ck_assert_int_eq(cfg_load(table, 3, err, sizeof(err)), 0);
	ck_assert_str_eq(s_value, "s3cret");
	setenv("T_STR_FILE", "/nonexistent/secret", 1);
	ck_assert_int_eq(cfg_load(table, 3, err, sizeof(err)), -1);
	ck_assert(strstr(err, "T_STR_FILE: cannot open") != NULL);
	unlink(path);
	cfg_free(table, 3);
}
END_TEST

static int collect(const char *prop, const char *value, void *arg)
{
	char *buf = arg;
	strcat(buf, prop);
	strcat(buf, "=");
	strcat(buf, value);
	strcat(buf, ";");
	return 0;
}

static char *sec_a, *sec_b, *plain;
static const struct cfg_entry secrets[] = {
    {"T_SEC_A", CFG_SECRET, "dev-only-a", 0, 0, "a dev default", &sec_a},
    {"T_SEC_B", CFG_SECRET, "dev-only-b", 0, 0, "another", &sec_b},
    {"T_PLAIN", CFG_STR, "dev-only-not-a-secret", 0, 0, "not a secret", &plain},
};

START_TEST(known_development_secrets_are_named)
{
	char err[256] = "", names[128];
	unsetenv("T_SEC_A");
	unsetenv("T_SEC_B");
	ck_assert_int_eq(cfg_load(secrets, 3, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_dev_secrets(secrets, 3, names, sizeof(names)), 2);
	ck_assert_str_eq(names, "T_SEC_A, T_SEC_B");
	cfg_free(secrets, 3);
	setenv("T_SEC_A", "an-operators-own", 1);
	setenv("T_SEC_B", "dev-only", 1); /* the prefix needs its dash: this one is not a default */
	ck_assert_int_eq(cfg_load(secrets, 3, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg_dev_secrets(secrets, 3, names, sizeof(names)), 0);
	ck_assert_str_eq(names, "");
	cfg_free(secrets, 3);
	unsetenv("T_SEC_A");
	unsetenv("T_SEC_B");
}
END_TEST

static struct auth_principal person(const char *staff_id, unsigned role)
{
	struct auth_principal who = {.role = role};
	snprintf(who.staff_id, sizeof(who.staff_id), "%s", staff_id);
	return who;
}

START_TEST(case_actor_owner_supervisor_conflict)
{
	struct auth_principal a1 = person("A1", AUTH_AGENT), a2 = person("A2", AUTH_AGENT),
			      s1 = person("S1", AUTH_SUPERVISOR),
			      c9 = person("C9", AUTH_SUPERVISOR), c7 = person("C7", AUTH_AGENT),
			      ad = person("ADM", AUTH_ADMIN);
	ck_assert_int_eq(auth_case_verdict(&a1, "A1", false), AUTH_CASE_OK);
	ck_assert_int_eq(auth_case_verdict(&a2, "A1", false), AUTH_CASE_NOT_OWNER);
	ck_assert_int_eq(auth_case_verdict(&s1, "A1", false), AUTH_CASE_OK);
	ck_assert_int_eq(auth_case_verdict(&ad, "", false), AUTH_CASE_OK);
	/* the delivery gateway's token is nobody's owner, even with a matching id */
	struct auth_principal gw = person("A1", AUTH_INTEGRATION);
	ck_assert_int_eq(auth_case_verdict(&gw, "A1", false), AUTH_CASE_NOT_OWNER);
	/* nobody owns the case yet: no agent acts, an empty id matches nothing */
	ck_assert_int_eq(auth_case_verdict(&a1, "", false), AUTH_CASE_NOT_OWNER);
	struct auth_principal nobody = person("", AUTH_AGENT);
	ck_assert_int_eq(auth_case_verdict(&nobody, "", false), AUTH_CASE_NOT_OWNER);
	/* the staff member the complaint is about, and the courier the evidence names, whatever
	 * their role, even as the owner */
	ck_assert(auth_case_names("C9", "courier", "C9", "courier", "C7"));
	ck_assert(auth_case_names("C7", "courier", "C9", "courier", "C7"));
	ck_assert(auth_case_names("A3", "agent", "A3", "unknown", ""));
	ck_assert_int_eq(auth_case_verdict(&c9, "A1", true), AUTH_CASE_CONFLICT);
	ck_assert_int_eq(auth_case_verdict(&c7, "C7", true), AUTH_CASE_CONFLICT);
	/* an outlet target or a non-person party is not a person, even with the same string */
	ck_assert(!auth_case_names("S1", "outlet", "S1", "outlet", "S1"));
	ck_assert(!auth_case_names("", "courier", "", "courier", ""));
	ck_assert(!auth_case_names("A1", NULL, NULL, NULL, NULL));
	ck_assert(auth_kind_is_person("agent") && !auth_kind_is_person("sorting_centre"));
}
END_TEST

/* A request with the given Authorization header (NULL: none) and query string. */
static struct http_req route_req(const char *authorization, const char *query)
{
	struct http_req r = {0};
	if (authorization)
		r.headers[r.nheaders++] =
		    (struct http_header){"Authorization", (char *)authorization};
	r.query = (char *)query;
	return r;
}

/* The status a route check answered (0: it let the request through to the handler). */
static int route_verdict(unsigned roles, const char *authorization, const char *query)
{
	struct http_req r = route_req(authorization, query);
	r.roles = roles;
	int rc = auth_route_check(&r, roles);
	int status = rc == 0 ? 0 : r.status;
	ck_assert_msg(rc == 0 ? r.status == 0 : status == 401 || status == 403,
		      "rc %d with status %d", rc, r.status);
	free(r.resp_body);
	return status;
}

/* The roles in a route table are the gate: exact sets (an agent route never lets the
 * integration token in, a supervisor route never an agent), public and customer routes
 * leave the proof to their handler, a staff token sent to a customer-and-staff route is
 * checked, ?access_token= counts only where the route says so. */
START_TEST(route_roles_gate_before_the_handler)
{
	char err[200];
	ck_assert_int_eq(auth_load("agent-token-1:agent:A1,super-token-1:supervisor:S1,"
				   "admin-token-1:admin:AD,gateway-token:integration:GW",
				   err, sizeof(err)),
			 0);
	const char *agent = "Bearer agent-token-1", *sup = "Bearer super-token-1",
		   *adm = "Bearer admin-token-1", *gw = "Bearer gateway-token";
	ck_assert_int_eq(route_verdict(AUTH_STAFF, NULL, NULL), 401);
	ck_assert_int_eq(route_verdict(AUTH_STAFF, "Bearer wrong-token", NULL), 401);
	ck_assert_int_eq(route_verdict(AUTH_STAFF, agent, NULL), 0);
	ck_assert_int_eq(route_verdict(AUTH_STAFF, gw, NULL), 403);
	ck_assert_int_eq(route_verdict(AUTH_SUPERVISORS, agent, NULL), 403);
	ck_assert_int_eq(route_verdict(AUTH_SUPERVISORS, sup, NULL), 0);
	ck_assert_int_eq(route_verdict(AUTH_ADMIN, sup, NULL), 403);
	ck_assert_int_eq(route_verdict(AUTH_ADMIN, adm, NULL), 0);
	ck_assert_int_eq(route_verdict(AUTH_INTEGRATION | AUTH_ADMIN, gw, NULL), 0);
	ck_assert_int_eq(route_verdict(AUTH_INTEGRATION | AUTH_ADMIN, agent, NULL), 403);
	ck_assert_int_eq(route_verdict(AUTH_PUBLIC, NULL, NULL), 0);
	ck_assert_int_eq(route_verdict(AUTH_SERVICE, NULL, NULL), 0);
	ck_assert_int_eq(route_verdict(AUTH_PUBLIC, "Bearer wrong-token", NULL), 0);
	ck_assert_int_eq(route_verdict(AUTH_CUSTOMER, NULL, "token=x"), 0);
	ck_assert_int_eq(route_verdict(AUTH_CUSTOMER, "Bearer wrong-token", NULL), 0);
	unsigned mixed = AUTH_CUSTOMER | AUTH_STAFF | AUTH_INTEGRATION;
	ck_assert_int_eq(route_verdict(mixed, NULL, "phone=1"), 0);
	ck_assert_int_eq(route_verdict(mixed, "Bearer wrong-token", "phone=1"), 401);
	ck_assert_int_eq(route_verdict(mixed, gw, NULL), 0);
	ck_assert_int_eq(route_verdict(AUTH_STAFF, NULL, "access_token=agent-token-1"), 401);
	ck_assert_int_eq(
	    route_verdict(AUTH_STAFF | AUTH_QUERY_TOKEN, NULL, "access_token=agent-token-1"), 0);
	ck_assert_int_eq(
	    route_verdict(AUTH_STAFF | AUTH_QUERY_TOKEN, NULL, "access_token=gateway-token"), 403);
	/* the caller a handler reads is the one the check admitted */
	struct http_req r = route_req(NULL, "access_token=super-token-1");
	r.roles = AUTH_STAFF | AUTH_QUERY_TOKEN;
	struct auth_principal who;
	ck_assert_int_eq(auth_caller(&r, &who), 0);
	ck_assert_str_eq(who.staff_id, "S1");
	r.roles = AUTH_STAFF;
	ck_assert_int_eq(auth_caller(&r, &who), -1);
	ck_assert_int_eq(r.status, 401);
	free(r.resp_body);
	char names[160];
	auth_roles_names(AUTH_SUPERVISORS | AUTH_QUERY_TOKEN, names, sizeof(names));
	ck_assert_str_eq(names, "supervisor,admin,query_token");
	ck_assert_int_eq(auth_load("", err, sizeof(err)), 0);
}
END_TEST

/* A route whose callers nobody wrote down is refused at start, naming it. */
START_TEST(route_without_roles_is_refused)
{
	static const struct http_route routes[] = {
	    {"GET", "/v1/open", NULL, false, AUTH_PUBLIC},
	    {"POST", "/v1/forgotten", NULL, false, 0},
	};
	struct httpd_opts o = {.addr = "127.0.0.1", .port = 1, .workers = 0};
	char err[256] = "";
	ck_assert_ptr_null(httpd_new(NULL, &o, routes, 2, err, sizeof(err)));
	ck_assert_msg(strstr(err, "POST /v1/forgotten declares no roles"), "%s", err);
}
END_TEST

START_TEST(kafka_passthrough_maps_names)
{
	char buf[512] = "";
	static const char *const skip[] = {"PRODUCER_", NULL};
	setenv("KTEST_FETCH_WAIT_MAX_MS", "10", 1);
	setenv("KTEST_PRODUCER_LINGER_MS", "1", 1);
	ck_assert_int_eq(cfg_passthrough("KTEST_", skip, collect, buf), 0);
	ck_assert(strstr(buf, "fetch.wait.max.ms=10;") != NULL);
	ck_assert(strstr(buf, "linger") == NULL);
	unsetenv("KTEST_FETCH_WAIT_MAX_MS");
	unsetenv("KTEST_PRODUCER_LINGER_MS");
}
END_TEST

START_TEST(kafka_passthrough_reads_files_for_secrets)
{
	char buf[512] = "", path[] = "/tmp/cp-test-kafka-pw-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "s3cret-pw\n", 10), 10);
	close(fd);
	setenv("KTEST_SASL_PASSWORD_FILE", path, 1);
	ck_assert_int_eq(cfg_passthrough("KTEST_", NULL, collect, buf), 0);
	/* the property is sasl.password (not sasl.password.file), the value the file's line */
	ck_assert(strstr(buf, "sasl.password=s3cret-pw;") != NULL);
	unlink(path);
	ck_assert_int_eq(cfg_passthrough("KTEST_", NULL, collect, buf), -1);
	unsetenv("KTEST_SASL_PASSWORD_FILE");
}
END_TEST

START_TEST(secrets_are_redacted_for_the_configuration_dump)
{
	char out[256];
	cfg_redact("postgresql://intake:pw123@db:5432/complaints", out, sizeof(out));
	ck_assert_str_eq(out, "postgresql://intake:***@db:5432/complaints");
	cfg_redact("postgresql://intake@db/complaints?sslmode=require&password=pw9&x=1", out,
		   sizeof(out));
	ck_assert_str_eq(out, "postgresql://intake@db/complaints?sslmode=require&password=***&x=1");
	cfg_redact("dev-only-link-secret", out, sizeof(out));
	ck_assert_str_eq(out, "(development default dev-only-...)");
	cfg_redact("tok1:agent:A1", out, sizeof(out));
	ck_assert_str_eq(out, "(set, 13 characters)");
	cfg_redact("", out, sizeof(out));
	ck_assert_str_eq(out, "");
}
END_TEST

/* tstamp_parse reads the digits itself (sscanf and timegm were a quarter of a tracking
 * consumer's CPU): the same instant as timegm for every day of 1901-2199, leap years and
 * leap seconds included, and no sign or space where a digit belongs. */
START_TEST(tstamp_parse_agrees_with_timegm)
{
	char text[64];
	int64_t ms = 0;
	for (time_t t = -2177452800; t < 7258118400; t += 86400 + 3671) {
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S.042Z", &tm);
		ck_assert_int_eq(tstamp_parse(text, &ms), 0);
		ck_assert_int_eq(ms, (int64_t)timegm(&tm) * 1000 + 42);
	}
	ck_assert_int_eq(tstamp_parse("2026-12-31T23:59:60Z", &ms), 0);
	ck_assert_int_eq(ms, (int64_t)1798761600 * 1000);
	ck_assert_int_eq(tstamp_parse("+026-11-24T12:00:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-11-24T 2:00:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-1-24T12:00:00.0Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-11-24t12:00:00Z", &ms), -1);
}
END_TEST

START_TEST(tstamp_round_trip_and_offsets)
{
	int64_t ms = 0;
	char out[TSTAMP_LEN];
	ck_assert_int_eq(tstamp_parse("2026-11-24T12:00:00.250Z", &ms), 0);
	tstamp_format(ms, out);
	ck_assert_str_eq(out, "2026-11-24T12:00:00.250Z");
	int64_t shifted = 0;
	ck_assert_int_eq(tstamp_parse("2026-11-24T20:00:00+08:00", &shifted), 0);
	ck_assert_int_eq(shifted, ms - 250);
	ck_assert_int_eq(tstamp_parse("2026-13-24T12:00:00Z", &ms), -1);
	ck_assert_int_eq(tstamp_parse("yesterday", &ms), -1);
	ck_assert_int_eq(tstamp_parse("2026-11-24T12:00:00", &ms), -1);
}
END_TEST

START_TEST(customer_ref_is_stable_and_hides_the_phone)
{
	char a[30], b[30], c[30];
	ck_assert_int_eq(ids_customer_ref("k", "139 1234 5678", a), 0);
	ck_assert_int_eq(ids_customer_ref("k", "13912345678", b), 0);
	ck_assert_int_eq(ids_customer_ref("other", "13912345678", c), 0);
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	ck_assert(strncmp(a, "cust_", 5) == 0);
	ck_assert(strstr(a, "5678") == NULL || strlen(a) == 29);
	/* the shape a field that must carry a pseudonym accepts, and nothing else */
	ck_assert(ids_customer_ref_valid(a));
	ck_assert(!ids_customer_ref_valid("13912345678"));
	ck_assert(!ids_customer_ref_valid("cust_13912345678"));
	ck_assert(!ids_customer_ref_valid("cust_0123456789abcdef0123456"));   /* 23 digits */
	ck_assert(!ids_customer_ref_valid("cust_0123456789abcdef012345678")); /* 25 */
	ck_assert(!ids_customer_ref_valid("cust_0123456789ABCDEF01234567"));
	ck_assert(ids_customer_ref_valid("cust_0123456789abcdef01234567"));
	ck_assert(!ids_customer_ref_valid("proactive") && !ids_customer_ref_valid(""));
	char u1[IDS_UUID_LEN], u2[IDS_UUID_LEN];
	ids_uuid(u1);
	ids_uuid(u2);
	ck_assert_int_eq(strlen(u1), 36);
	ck_assert_str_ne(u1, u2);
	ck_assert_int_eq(u1[14], '4');
	ck_assert(ids_is_uuid(u1));
	ck_assert(ids_is_uuid("0B8F5D5E-8A51-4A3E-9F0E-6D1C2B3A4F5E"));
	ck_assert(!ids_is_uuid("0b8f5d5e-8a51-4a3e-9f0e-6d1c2b3a4f5"));
	ck_assert(!ids_is_uuid("0b8f5d5e+8a51-4a3e-9f0e-6d1c2b3a4f5e"));
	ck_assert(!ids_is_uuid("zb8f5d5e-8a51-4a3e-9f0e-6d1c2b3a4f5e"));
	ck_assert(!ids_is_uuid(NULL));
}
END_TEST

START_TEST(redaction_hides_phones_in_any_spelling_and_the_name)
{
	char out[128];
	redact_text("call 139 1234 5678, +86-139-1234-5678 or 13912345678; room 12", NULL, "***",
		    out, sizeof(out));
	ck_assert_str_eq(out, "call ***, *** or ***; room 12");
	redact_text("王小明的电话13912345678", "王小明", "[phone]", out, sizeof(out));
	ck_assert_str_eq(out, "[name]的电话[phone]");
	redact_text("abcdef", NULL, "***", out, 4);
	ck_assert_str_eq(out, "abc");
}
END_TEST

START_TEST(auth_tokens_parse_and_reject)
{
	char err[256] = "";
	ck_assert_int_eq(
	    auth_load("tok-agent-1:agent:A1, tok-super-1:supervisor:S1", err, sizeof(err)), 0);
	ck_assert_int_eq(auth_load("short:agent:A1", err, sizeof(err)), -1);
	ck_assert_int_eq(auth_load("tok-agent-1:chief:A1", err, sizeof(err)), -1);
	ck_assert(strstr(err, "unknown role 'chief'") != NULL);
	char t1[33], t2[33];
	ck_assert_int_eq(auth_customer_token("s", "CP20261124-000001", t1), 0);
	ck_assert_int_eq(auth_customer_token("s", "CP20261124-000002", t2), 0);
	ck_assert_str_ne(t1, t2);
	ck_assert_int_eq(strlen(t1), 32);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common_config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, defaults_apply);
	tcase_add_test(tc, int_not_a_number_names_the_variable);
	tcase_add_test(tc, int_out_of_range);
	tcase_add_test(tc, bool_rejects_garbage);
	tcase_add_test(tc, file_variant_reads_secret_and_trims_newline);
	tcase_add_test(tc, kafka_passthrough_maps_names);
	tcase_add_test(tc, kafka_passthrough_reads_files_for_secrets);
	tcase_add_test(tc, secrets_are_redacted_for_the_configuration_dump);
	tcase_add_test(tc, known_development_secrets_are_named);
	tcase_add_test(tc, case_actor_owner_supervisor_conflict);
	tcase_add_test(tc, route_roles_gate_before_the_handler);
	tcase_add_test(tc, route_without_roles_is_refused);
	tcase_add_test(tc, tstamp_round_trip_and_offsets);
	tcase_add_test(tc, tstamp_parse_agrees_with_timegm);
	tcase_add_test(tc, customer_ref_is_stable_and_hides_the_phone);
	tcase_add_test(tc, auth_tokens_parse_and_reject);
	tcase_add_test(tc, redaction_hides_phones_in_any_spelling_and_the_name);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
