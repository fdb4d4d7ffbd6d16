"""Customer proof that cannot be guessed (OWASP API2/API4): an unknown complaint number and a
wrong proof get the same answer; failed proofs are limited per case and per client address
(429 with Retry-After, counted in PostgreSQL); the signed link still opens a case that
guessers are locked out of; the last four digits open only the minimal status; complaint
numbers do not count up.

The requests go to intake's own port with the X-Forwarded-For header nginx would add, so each
test is its own client and the limits it trips do not throttle the rest of the suite (which
reaches intake through nginx from 127.0.0.1)."""

from __future__ import annotations

import re
import uuid

from helpers import complaint, post


def client() -> str:
    # addresses from the documentation ranges, only ever written into a header. Intake keys a
    # client by the last entry (the one nginx appends): an IPv6 one with 48 random bits, since
    # with 250 IPv4 ones two tests of a run shared a key often enough that one's failures
    # throttled the other (429 at the 20th guess instead of the 21st)
    u = uuid.uuid4().hex
    return f"192.0.2.{uuid.uuid4().int % 250 + 1}, 2001:db8::{u[:4]}:{u[4:8]}:{u[8:12]}"


def get(http, stack, no: str, xff: str, **params):
    return http.get(f"{stack.service_url('intake')}/v1/complaints/{no}", params=params,
                    headers={"X-Forwarded-For": xff})


def file(http, stack) -> tuple[dict, dict]:
    body = complaint()
    r = post(http, stack, body)
    assert r.status_code == 201, r.text
    return body, r.json()


def test_unknown_case_and_wrong_proof_look_the_same(stack, http):
    body, case = file(http, stack)
    xff = client()
    wrong = get(http, stack, case["complaint_no"], xff, phone="13900000000")
    day = case["complaint_no"][2:10]
    unknown = get(http, stack, f"CP{day}-ZZZZZZZZ", xff, phone=body["complainant"]["phone"])
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    assert wrong.headers["Content-Type"] == unknown.headers["Content-Type"]
    # no proof at all: 401 before any lookup, the same for both
    assert get(http, stack, case["complaint_no"], xff).json() == \
        get(http, stack, f"CP{day}-ZZZZZZZZ", xff).json()


def test_guessing_one_case_is_stopped_within_ten_tries(stack, http):
    body, case = file(http, stack)
    no, xffs = case["complaint_no"], [client() for _ in range(10)]
    answers = [get(http, stack, no, xffs[i], phone_last4=f"{i:04d}").status_code
               for i in range(10)]
    assert 429 in answers, answers
    assert answers.index(429) <= 5  # PROOF_MAX_FAILURES_PER_CASE = 5 failures, then 429
    # while throttled even the right last digits or phone are refused: guessing gains nothing
    locked = get(http, stack, no, client(), phone=body["complainant"]["phone"])
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert locked.json()["error"] == "too_many_attempts"
    # the signed link is not guessable and still opens the case for its customer
    token = case["link"].split("token=")[1]
    assert get(http, stack, no, client(), token=token).status_code == 200
    rows = stack.db().execute("SELECT failures FROM intake.proof_failures WHERE key = %s",
                              (f"case:{no}",)).fetchone()
    assert rows[0] == 5


def test_one_client_guessing_across_cases_is_stopped(stack, http):
    body, case = file(http, stack)
    xff = client()
    day = case["complaint_no"][2:10]
    statuses = [get(http, stack, f"CP{day}-{uuid.uuid4().hex[:8].upper()}", xff,
                    phone_last4="1234").status_code for _ in range(21)]
    assert statuses[:20] == [404] * 20 and statuses[20] == 429
    # that client is refused even for a real case with the right phone; another client is not
    assert get(http, stack, case["complaint_no"], xff,
               phone=body["complainant"]["phone"]).status_code == 429
    ok = get(http, stack, case["complaint_no"], client(), phone=body["complainant"]["phone"])
    assert ok.status_code == 200, ok.text
    assert ok.json()["complainant"]["phone"] != body["complainant"]["phone"]  # masked


def test_proofs_and_what_they_open(stack, http):
    body, case = file(http, stack)
    no, phone = case["complaint_no"], body["complainant"]["phone"]
    full = get(http, stack, no, client(), phone=f"{phone[:3]} {phone[3:7]}-{phone[7:]}")
    assert full.status_code == 200 and "timeline" in full.json()
    minimal = get(http, stack, no, client(), phone_last4=phone[-4:])
    assert minimal.status_code == 200
    assert "timeline" not in minimal.json() and "waybill_no" not in minimal.json()
    assert minimal.json()["status"] and minimal.json()["next_step"]
    assert get(http, stack, no, client(), phone=phone[:-1]).status_code == 404
    assert get(http, stack, no, client(), token="0" * 32).status_code == 404


def test_complaint_numbers_do_not_count_up(stack, http):
    numbers = [file(http, stack)[1]["complaint_no"] for _ in range(5)]
    for no in numbers:
        assert re.fullmatch(r"CP\d{8}-[2-9A-HJKMNP-Z]{8}", no), no
    assert len({n.split("-")[1] for n in numbers}) == 5
