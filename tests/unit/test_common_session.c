/* Unit tests: staff passwords (libsodium crypto_pwhash_str) and the signed session cookie
 * every service checks by itself (common/password.c, common/session.c, common/auth.c). */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "password.h"
#include "session.h"
#include "tstamp.h"

#define NOW 1900000000LL

/* A cheap cost for the tests (8 MiB, 2 passes); the product default is 64 MiB. */
static void setup(void)
{
	ck_assert_int_eq(password_init(2, 8192, 2), 0);
	ck_assert_int_eq(session_init("unit-test-session-secret", "", 30000), 0);
}

START_TEST(password_hash_verifies_only_the_same_password)
{
	char h1[PASSWORD_HASH_MAX], h2[PASSWORD_HASH_MAX];
	ck_assert_int_eq(password_hash("correct horse battery", h1), 0);
	ck_assert_int_eq(password_hash("correct horse battery", h2), 0);
	ck_assert(strncmp(h1, "$argon2id$", 10) == 0);
	/* a random salt: the same password never hashes to the same string */
	ck_assert_str_ne(h1, h2);
	ck_assert(password_verify(h1, "correct horse battery"));
	ck_assert(password_verify(h2, "correct horse battery"));
	ck_assert(!password_verify(h1, "correct horse batterY"));
	ck_assert(!password_verify(h1, "correct horse battery "));
	ck_assert(!password_verify(h1, ""));
	/* the stored string holds no trace of the password */
	ck_assert_ptr_null(strstr(h1, "horse"));
}
END_TEST

START_TEST(password_unknown_or_malformed_hash_never_verifies)
{
	ck_assert(!password_verify(NULL, "anything at all"));
	ck_assert(!password_verify("", "anything at all"));
	ck_assert(!password_verify("plain-text-password", "plain-text-password"));
	ck_assert(!password_verify("$argon2id$v=19$m=8,t=2,p=1$broken", "x"));
}
END_TEST

START_TEST(password_cheaper_hash_needs_rehash)
{
	char h[PASSWORD_HASH_MAX];
	ck_assert_int_eq(password_hash("a long enough password", h), 0);
	ck_assert(!password_needs_rehash(h));
	ck_assert_int_eq(password_init(3, 16384, 2), 0);
	ck_assert(password_needs_rehash(h));
	/* still verifies: the cost is read from the stored string */
	ck_assert(password_verify(h, "a long enough password"));
}
END_TEST

START_TEST(password_policy_counts_characters)
{
	ck_assert_ptr_nonnull(password_policy_problem(""));
	ck_assert_ptr_nonnull(password_policy_problem("short pw"));
	ck_assert_ptr_null(password_policy_problem("ten chars!"));
	/* ten Chinese characters are ten characters (30 bytes) */
	ck_assert_ptr_null(password_policy_problem("投诉处理中心的密码很长"));
	ck_assert_ptr_nonnull(password_policy_problem("投诉处理中心"));
	char big[200];
	memset(big, 'x', 129);
	big[129] = '\0';
	ck_assert_ptr_nonnull(password_policy_problem(big));
}
END_TEST

static void claims(struct session_claims *c, const char *staff, const char *role, long long exp)
{
	memset(c, 0, sizeof(*c));
	session_new_id(c->sid);
	snprintf(c->staff_id, sizeof(c->staff_id), "%s", staff);
	snprintf(c->role, sizeof(c->role), "%s", role);
	c->expires = exp;
}

START_TEST(session_cookie_round_trip_and_tamper)
{
	struct session_claims c, got;
	char v[SESSION_COOKIE_MAX], bad[SESSION_COOKIE_MAX];
	claims(&c, "A.0;1 x", "supervisor", NOW + 60);
	ck_assert_int_eq(session_cookie_make(&c, v, sizeof(v)), 0);
	/* the staff id travels hex-encoded: none of its characters can break the cookie */
	ck_assert_ptr_null(strchr(v, ';'));
	ck_assert_ptr_null(strchr(v, ' '));
	ck_assert_int_eq(session_cookie_read(v, NOW, &got), 0);
	ck_assert_str_eq(got.staff_id, "A.0;1 x");
	ck_assert_str_eq(got.role, "supervisor");
	ck_assert_str_eq(got.sid, c.sid);
	ck_assert(got.expires == NOW + 60);
	/* expired */
	ck_assert_int_eq(session_cookie_read(v, NOW + 60, &got), -1);
	/* any changed character fails the signature: role, expiry, staff id, id, mac */
	for (size_t i = 0; i < strlen(v); i++) {
		if (v[i] == '.')
			continue;
		memcpy(bad, v, sizeof(v));
		bad[i] = bad[i] == 'a' ? 'b' : 'a';
		ck_assert_msg(session_cookie_read(bad, NOW, &got) == -1, "position %zu", i);
	}
	/* another secret (another installation) does not accept it */
	ck_assert_int_eq(session_init("another-secret", "", 30000), 0);
	ck_assert_int_eq(session_cookie_read(v, NOW, &got), -1);
	ck_assert_int_eq(session_init("unit-test-session-secret", "", 30000), 0);
	ck_assert_int_eq(session_cookie_read(v, NOW, &got), 0);
	ck_assert_int_eq(session_cookie_read("", NOW, &got), -1);
	ck_assert_int_eq(session_cookie_read("v1.abc", NOW, &got), -1);
}
END_TEST

START_TEST(session_cookie_found_among_others)
{
	char out[64];
	ck_assert(session_cookie_find("a=1; cp_session=xyz; b=2", "cp_session", out, sizeof(out)));
	ck_assert_str_eq(out, "xyz");
	ck_assert(session_cookie_find("cp_session=last", "cp_session", out, sizeof(out)));
	ck_assert_str_eq(out, "last");
	ck_assert(
	    !session_cookie_find("xcp_session=1; cp_sessionx=2", "cp_session", out, sizeof(out)));
	ck_assert(!session_cookie_find(NULL, "cp_session", out, sizeof(out)));
	ck_assert(!session_cookie_find("cp_session=waytoolongforthebuffer", "cp_session", out, 8));
}
END_TEST

static char *cookie_header(const struct session_claims *c)
{
	static char h[SESSION_COOKIE_MAX + 32];
	char v[SESSION_COOKIE_MAX];
	ck_assert_int_eq(session_cookie_make(c, v, sizeof(v)), 0);
	snprintf(h, sizeof(h), "theme=dark; cp_session=%s", v);
	return h;
}

START_TEST(session_check_fails_closed_until_revocations_are_known)
{
	struct session_claims c, got;
	long long now = tstamp_now_ms() / 1000;
	claims(&c, "A001", "agent", now + 600);
	/* never synced: no revocation list, no session (bearer tokens are unaffected) */
	ck_assert_int_eq(session_check(cookie_header(&c), now, &got), SESSION_UNVERIFIABLE);
	char body[300];
	snprintf(body, sizeof(body), "{\"now\": %lld, \"revoked\": []}", now);
	ck_assert_int_eq(session_revocations_apply(body, strlen(body)), 0);
	ck_assert_int_eq(session_check(cookie_header(&c), now, &got), SESSION_OK);
	ck_assert_int_eq(session_check("theme=dark", now, &got), SESSION_NONE);
	ck_assert_int_eq(session_check(NULL, now, &got), SESSION_NONE);
	/* a malformed answer changes nothing */
	ck_assert_int_eq(session_revocations_apply("{\"revoked\": [{}]}", 17), -1);
}
END_TEST

START_TEST(session_revoked_by_sync_or_locally)
{
	struct session_claims a, b, got;
	char ha[SESSION_HEX], hb[SESSION_HEX], body[400];
	long long now = tstamp_now_ms() / 1000;
	claims(&a, "A001", "agent", now + 600);
	claims(&b, "A002", "agent", now + 600);
	session_id_hash(a.sid, ha);
	session_id_hash(b.sid, hb);
	ck_assert_str_ne(ha, a.sid);
	snprintf(body, sizeof(body),
		 "{\"now\": %lld, \"revoked\": [{\"sid_hash\": \"%s\", "
		 "\"expires\": %lld}]}",
		 now, ha, now + 600);
	ck_assert_int_eq(session_revocations_apply(body, strlen(body)), 0);
	ck_assert_int_eq(session_check(cookie_header(&a), now, &got), SESSION_REVOKED);
	ck_assert_int_eq(session_check(cookie_header(&b), now, &got), SESSION_OK);
	session_revoke_local(hb, now + 600);
	ck_assert_int_eq(session_check(cookie_header(&b), now, &got), SESSION_REVOKED);
	/* applying the same revocation again (the sync overlaps) keeps it revoked */
	ck_assert_int_eq(session_revocations_apply(body, strlen(body)), 0);
	ck_assert_int_eq(session_check(cookie_header(&a), now, &got), SESSION_REVOKED);
}
END_TEST

START_TEST(session_csrf_token_is_bound_to_the_session_and_secret)
{
	char t1[SESSION_HEX], t2[SESSION_HEX], t3[SESSION_HEX];
	ck_assert_int_eq(session_csrf_token("aa", t1), 0);
	ck_assert_int_eq(session_csrf_token("ab", t2), 0);
	ck_assert_str_ne(t1, t2);
	ck_assert_int_eq(session_init("another-secret", "", 30000), 0);
	ck_assert_int_eq(session_csrf_token("aa", t3), 0);
	ck_assert_str_ne(t1, t3);
}
END_TEST

/* auth_require through a fabricated request: the cookie maps to the same principal as a
 * token, and a state-changing request needs the CSRF token. */
static struct http_req *req(const char *method, const char *cookie, const char *csrf,
			    const char *site)
{
	static struct http_req r;
	memset(&r, 0, sizeof(r));
	snprintf(r.method, sizeof(r.method), "%s", method);
	if (cookie)
		r.headers[r.nheaders++] = (struct http_header){"Cookie", (char *)cookie};
	if (csrf)
		r.headers[r.nheaders++] = (struct http_header){"X-CSRF-Token", (char *)csrf};
	if (site)
		r.headers[r.nheaders++] = (struct http_header){"Sec-Fetch-Site", (char *)site};
	return &r;
}

START_TEST(auth_accepts_a_session_and_checks_csrf)
{
	struct session_claims c;
	struct auth_principal who;
	char hash[SESSION_HEX], csrf[SESSION_HEX], body[64];
	long long now = tstamp_now_ms() / 1000;
	snprintf(body, sizeof(body), "{\"now\": %lld, \"revoked\": []}", now);
	ck_assert_int_eq(session_revocations_apply(body, strlen(body)), 0);
	claims(&c, "S001", "supervisor", now + 600);
	char *cookie = strdup(cookie_header(&c));
	session_id_hash(c.sid, hash);
	ck_assert_int_eq(session_csrf_token(hash, csrf), 0);
	ck_assert_int_eq(auth_identify(req("GET", cookie, NULL, NULL), &who), 0);
	ck_assert_str_eq(who.staff_id, "S001");
	ck_assert_str_eq(who.role_name, "supervisor");
	ck_assert(who.via_session);
	ck_assert_int_eq(auth_require(req("GET", cookie, NULL, NULL), AUTH_AGENT, &who), 0);
	ck_assert_int_eq(auth_require(req("POST", cookie, csrf, "same-origin"), AUTH_AGENT, &who),
			 0);
	struct http_req *r = req("POST", cookie, NULL, NULL);
	ck_assert_int_eq(auth_require(r, AUTH_AGENT, &who), -1);
	ck_assert_int_eq(r->status, 403);
	free(r->resp_body);
	r = req("PUT", cookie, "0000", NULL);
	ck_assert_int_eq(auth_require(r, AUTH_AGENT, &who), -1);
	ck_assert_int_eq(r->status, 403);
	free(r->resp_body);
	r = req("DELETE", cookie, csrf, "cross-site");
	ck_assert_int_eq(auth_require(r, AUTH_AGENT, &who), -1);
	ck_assert_int_eq(r->status, 403);
	free(r->resp_body);
	/* a supervisor's session is no admin */
	r = req("GET", cookie, NULL, NULL);
	ck_assert_int_eq(auth_require(r, AUTH_ADMIN, &who), -1);
	ck_assert_int_eq(r->status, 403);
	free(r->resp_body);
	session_revoke_local(hash, now + 600);
	r = req("GET", cookie, NULL, NULL);
	ck_assert_int_eq(auth_require(r, AUTH_AGENT, &who), -1);
	ck_assert_int_eq(r->status, 401);
	free(r->resp_body);
	free(cookie);
}
END_TEST

START_TEST(auth_session_never_carries_the_integration_role)
{
	struct session_claims c;
	struct auth_principal who;
	char body[64];
	long long now = tstamp_now_ms() / 1000;
	snprintf(body, sizeof(body), "{\"now\": %lld, \"revoked\": []}", now);
	ck_assert_int_eq(session_revocations_apply(body, strlen(body)), 0);
	claims(&c, "INT9", "integration", now + 600);
	ck_assert_int_eq(auth_identify(req("GET", cookie_header(&c), NULL, NULL), &who), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common_session");
	TCase *tc = tcase_create("session");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, password_hash_verifies_only_the_same_password);
	tcase_add_test(tc, password_unknown_or_malformed_hash_never_verifies);
	tcase_add_test(tc, password_cheaper_hash_needs_rehash);
	tcase_add_test(tc, password_policy_counts_characters);
	tcase_add_test(tc, session_cookie_round_trip_and_tamper);
	tcase_add_test(tc, session_cookie_found_among_others);
	tcase_add_test(tc, session_check_fails_closed_until_revocations_are_known);
	tcase_add_test(tc, session_revoked_by_sync_or_locally);
	tcase_add_test(tc, session_csrf_token_is_bound_to_the_session_and_secret);
	tcase_add_test(tc, auth_accepts_a_session_and_checks_csrf);
	tcase_add_test(tc, auth_session_never_carries_the_integration_role);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
