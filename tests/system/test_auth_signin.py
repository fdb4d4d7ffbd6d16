"""Staff sign-in with a password (issue 10): classification owns the credentials and the
session rows; every service accepts the signed session cookie as it accepts a bearer token,
refuses a revoked one (sign-out, a new password) and a state-changing request without the
session's CSRF token. Failed sign-ins are limited per staff id and client (429 + Retry-After).
"""

from __future__ import annotations

import itertools
import time
import uuid

import requests

from helpers import complaint, post, wait_rows
from stack import BOOTSTRAP_ADMIN, wait_for

_ids = itertools.count(1)
PASSWORD = "a good long password 1"


def new_staff_id() -> str:
    return f"P{int(time.time()) % 100000:05d}{next(_ids):02d}"


def set_credentials(stack, http, staff_id, password=PASSWORD, role="agent"):
    r = http.put(f"{stack.base_url}/v1/staff-credentials/{staff_id}", headers=stack.auth("admin"),
                 json={"password": password, "role": role})
    assert r.status_code == 200, r.text
    return r.json()


def sign_in(stack, staff_id, password=PASSWORD) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    r = s.post(f"{stack.base_url}/v1/auth/session", json={"staff_id": staff_id,
                                                          "password": password}, timeout=30)
    return s, r


def signed_in(stack, http, role="agent"):
    staff_id = new_staff_id()
    set_credentials(stack, http, staff_id, role=role)
    s, r = sign_in(stack, staff_id)
    assert r.status_code == 200, r.text
    s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return staff_id, s


def cookie_header(value: str) -> dict[str, str]:
    return {"Cookie": f"cp_session={value}"}


def set_cookies(resp) -> dict[str, str]:
    """Set-Cookie lines by cookie name (requests folds them into one header)."""
    raw = resp.raw.headers.getlist("Set-Cookie")
    return {line.split("=", 1)[0]: line for line in raw}


def status_of(stack, service, path, value) -> int:
    return requests.get(f"{stack.service_url(service)}{path}", headers=cookie_header(value),
                        timeout=10).status_code


def test_bootstrap_admin_signs_in_with_a_strict_http_only_cookie(stack, http):
    # classification creates the first admin on a task thread once it has started
    wait_rows(stack, "SELECT 1 FROM classification.staff_credentials WHERE staff_id = %s "
              "AND set_by = 'bootstrap'", (BOOTSTRAP_ADMIN[0],))
    s, r = sign_in(stack, *BOOTSTRAP_ADMIN)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["staff_id"] == "ADM1" and body["role"] == "admin" and body["via"] == "session"
    cookies = set_cookies(r)
    session = cookies["cp_session"]
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session
    assert "Max-Age=43200" in session
    assert "Secure" not in session  # the client came over plain http
    csrf = cookies["cp_csrf"]
    assert "HttpOnly" not in csrf and "SameSite=Strict" in csrf
    assert f"cp_csrf={body['csrf_token']};" in csrf
    me = s.get(f"{stack.base_url}/v1/auth/session")
    assert me.status_code == 200 and me.json()["staff_id"] == "ADM1"
    # the admin's session administers, as the admin token does
    assert s.get(f"{stack.base_url}/v1/staff-credentials").status_code == 200


def test_cookie_is_secure_when_the_client_used_https(stack, http):
    staff_id = new_staff_id()
    set_credentials(stack, http, staff_id)
    r = requests.post(f"{stack.service_url('classification')}/v1/auth/session",
                      json={"staff_id": staff_id, "password": PASSWORD},
                      headers={"X-Forwarded-Proto": "https"}, timeout=30)
    assert r.status_code == 200, r.text
    assert all("; Secure" in line for line in set_cookies(r).values())


def test_session_is_accepted_by_other_services_as_the_same_person(stack, http):
    staff_id, s = signed_in(stack, http, role="supervisor")
    assert s.get(f"{stack.base_url}/v1/auth/session").json()["role"] == "supervisor"
    # intake and follow-up check the cookie themselves
    r = s.get(f"{stack.base_url}/v1/staff/complaints?scope=mine")
    assert r.status_code == 200, r.text
    r = s.get(f"{stack.base_url}/v1/templates")
    assert r.status_code == 200, r.text
    # intake's case view, which tells staff from customers, takes the session as staff
    r = post(http, stack, complaint())
    assert r.status_code == 201, r.text
    case = s.get(f"{stack.base_url}/v1/complaints/{r.json()['complaint_no']}")
    assert case.status_code == 200 and "complaint_id" in case.json(), case.text
    # a supervisor's session is no admin anywhere
    r = s.put(f"{stack.base_url}/v1/staff-credentials/{new_staff_id()}",
              json={"password": PASSWORD, "role": "admin"})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    # bearer tokens still work beside it
    assert http.get(f"{stack.base_url}/v1/templates", headers=stack.auth("agent")).ok


def test_wrong_password_and_unknown_id_get_the_same_answer(stack, http):
    staff_id = new_staff_id()
    set_credentials(stack, http, staff_id)
    _, wrong = sign_in(stack, staff_id, "not the password at all")
    _, unknown = sign_in(stack, new_staff_id(), "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {
        "error": "invalid_credentials", "message": "the staff id or the password is wrong"}
    assert "cp_session" not in set_cookies(wrong)


def test_failed_sign_ins_are_limited_per_staff_id_and_client(stack, http):
    staff_id = new_staff_id()
    set_credentials(stack, http, staff_id)
    for _ in range(5):
        _, r = sign_in(stack, staff_id, "a wrong guess here")
        assert r.status_code == 401
    _, r = sign_in(stack, staff_id, "a wrong guess here")
    assert r.status_code == 429 and r.json()["error"] == "too_many_attempts"
    assert 0 < int(r.headers["Retry-After"]) <= 900
    # even the right password waits: the limit is not a hint
    _, r = sign_in(stack, staff_id, PASSWORD)
    assert r.status_code == 429
    with stack.db() as conn:
        rows = conn.execute("SELECT failures FROM classification.signin_failures WHERE key LIKE %s",
                            (f"id:{staff_id}|%",)).fetchall()
    assert rows and rows[0][0] >= 5
    # another staff id from the same client is not locked out by it
    other = new_staff_id()
    set_credentials(stack, http, other)
    assert sign_in(stack, other)[1].status_code == 200


def test_sign_out_revokes_the_session_in_every_service(stack, http):
    staff_id, s = signed_in(stack, http)
    value = s.cookies["cp_session"]
    assert status_of(stack, "intake", "/v1/staff/complaints", value) == 200
    r = s.delete(f"{stack.base_url}/v1/auth/session")
    assert r.status_code == 204, r.text
    assert "Max-Age=0" in set_cookies(r)["cp_session"]
    # the owner refuses the old cookie at once; the others once they fetched the revocation
    assert status_of(stack, "classification", "/v1/auth/session", value) == 401
    for service, path in (("intake", "/v1/staff/complaints"), ("followup", "/v1/templates")):
        wait_for(lambda: status_of(stack, service, path, value) == 401, 10,
                 f"{service} to refuse a signed-out session")
    with stack.db() as conn:
        row = conn.execute("SELECT revoked_why FROM classification.staff_sessions "
                           "WHERE staff_id = %s", (staff_id,)).fetchone()
    assert row[0] == "signed_out"


def test_password_change_needs_the_old_one_and_revokes_the_other_sessions(stack, http):
    staff_id, a = signed_in(stack, http)
    _, b = sign_in(stack, staff_id)
    other = b.cookies["cp_session"]
    new = "another long password 2"
    r = a.put(f"{stack.base_url}/v1/auth/password",
              json={"old_password": "not my password", "new_password": new})
    assert r.status_code == 403 and r.json()["error"] == "wrong_password"
    r = a.put(f"{stack.base_url}/v1/auth/password",
              json={"old_password": PASSWORD, "new_password": "short"})
    assert r.status_code == 422
    r = a.put(f"{stack.base_url}/v1/auth/password",
              json={"old_password": PASSWORD, "new_password": new})
    assert r.status_code == 200, r.text
    # the session that changed it goes on; the other one ends, here and elsewhere
    assert a.get(f"{stack.base_url}/v1/staff/complaints").status_code == 200
    assert status_of(stack, "classification", "/v1/auth/session", other) == 401
    wait_for(lambda: status_of(stack, "intake", "/v1/staff/complaints", other) == 401, 10,
             "intake to refuse the session the new password superseded")
    assert sign_in(stack, staff_id, PASSWORD)[1].status_code == 401
    assert sign_in(stack, staff_id, new)[1].status_code == 200


def test_admin_setting_a_password_revokes_that_persons_sessions(stack, http):
    staff_id, s = signed_in(stack, http)
    set_credentials(stack, http, staff_id, password="reset by the admin 3")
    assert s.get(f"{stack.base_url}/v1/auth/session").status_code == 401


def test_state_changing_cookie_requests_need_the_csrf_token(stack, http):
    staff_id, s = signed_in(stack, http)
    token = s.headers.pop("X-CSRF-Token")
    url = f"{stack.base_url}/v1/complaints/{uuid.uuid4()}/await-customer"
    # no token: refused before anything else, in follow-up as in classification
    r = s.post(url, json={"reason": "x"})
    assert r.status_code == 403 and r.json()["error"] == "csrf_refused"
    r = s.put(f"{stack.base_url}/v1/auth/password",
              json={"old_password": PASSWORD, "new_password": "whatever it is 4"})
    assert r.status_code == 403 and r.json()["error"] == "csrf_refused"
    # another session's token is not this one's
    _, other = signed_in(stack, http)
    r = s.post(url, json={"reason": "x"}, headers={"X-CSRF-Token": other.headers["X-CSRF-Token"]})
    assert r.json().get("error") == "csrf_refused"
    # a request another site made, even with the token
    r = s.post(url, json={"reason": "x"},
               headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"})
    assert r.json().get("error") == "csrf_refused"
    # with the token the request reaches the handler (which has its own answer)
    r = s.post(url, json={"reason": "x"}, headers={"X-CSRF-Token": token})
    assert r.status_code not in (401, 403), r.text
    # reads need no token; a bearer token needs none either
    assert s.get(f"{stack.base_url}/v1/templates").status_code == 200
    # a sign-in form posted from another site is refused
    r = requests.post(f"{stack.base_url}/v1/auth/session", headers={"Sec-Fetch-Site": "cross-site"},
                      json={"staff_id": staff_id, "password": PASSWORD}, timeout=30)
    assert r.status_code == 403


def test_credentials_admin_api(stack, http):
    staff_id = new_staff_id()
    url = f"{stack.base_url}/v1/staff-credentials/{staff_id}"
    r = http.put(url, headers=stack.auth("agent"), json={"password": PASSWORD, "role": "agent"})
    assert r.status_code == 403
    r = http.put(url, headers=stack.auth("admin"), json={"password": "short", "role": "agent"})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "password"
    r = http.put(url, headers=stack.auth("admin"), json={"password": PASSWORD,
                                                         "role": "integration"})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "role"
    set_credentials(stack, http, staff_id, role="supervisor")
    listed = http.get(f"{stack.base_url}/v1/staff-credentials", headers=stack.auth("admin")).json()
    mine = [c for c in listed["credentials"] if c["staff_id"] == staff_id]
    assert mine and mine[0]["role"] == "supervisor" and mine[0]["set_by"] == "ADM1"
    assert "password_hash" not in mine[0]
    with stack.db() as conn:
        stored = conn.execute("SELECT password_hash FROM classification.staff_credentials "
                              "WHERE staff_id = %s", (staff_id,)).fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert http.delete(url, headers=stack.auth("admin")).status_code == 204
    assert sign_in(stack, staff_id)[1].status_code == 401


def test_revocation_feed_is_for_services_only(stack, http):
    assert http.get(f"{stack.base_url}/v1/auth/revocations?since=0").status_code == 404
    r = http.get(f"{stack.service_url('classification')}/v1/auth/revocations?since=0")
    assert r.status_code == 401


def test_no_password_hash_or_session_id_in_the_logs(stack, http):
    staff_id, s = signed_in(stack, http)
    value = s.cookies["cp_session"]
    sid = value.split(".")[1]
    with stack.db() as conn:
        stored = conn.execute("SELECT password_hash FROM classification.staff_credentials "
                              "WHERE staff_id = %s", (staff_id,)).fetchone()[0]
    for service in ("classification", "intake", "followup"):
        text = stack.logs(service) + stack.logs(service, stderr=True)
        for secret in (PASSWORD, BOOTSTRAP_ADMIN[1], stored, sid, value):
            assert secret not in text, f"{service} logged a secret"
    with stack.db() as conn:
        assert not conn.execute("SELECT 1 FROM classification.staff_sessions WHERE sid_hash = %s",
                                (sid,)).fetchall()


def test_secrets_script_makes_the_session_key_and_first_admin_password_once(tmp_path):
    import subprocess
    from stack import SCRIPTS
    d = tmp_path / "secrets"
    for _ in range(2):
        r = subprocess.run([str(SCRIPTS / "secrets.sh"), str(d)], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        if _ == 0:
            first = (d / "admin_password").read_text()
    pw = (d / "admin_password").read_text()
    assert pw == first and len(pw) == 20 and pw.isalnum()
    assert len((d / "session_secret").read_text()) == 64
    assert (d / "admin_password").stat().st_mode & 0o077 == 0
