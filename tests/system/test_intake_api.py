"""Intake on the real broker and PostgreSQL: every validation error class stores nothing,
idempotent retries, both kinds of repeat complaint, the filing window from pickup scans, and
who may see what (401/403, masking, customer A cannot read customer B's case)."""

import datetime
import json
import time
import uuid

import pytest

from helpers import complaint, post, waybill, wait_rows

TOKENS = ("tok-agent-1:agent:AG-1,tok-sup-1:supervisor:SUP-1,tok-admin-1:admin:ADM-1,"
          "tok-gw-1:integration:GW-1")
AGENT = {"Authorization": "Bearer tok-agent-1"}
SUPERVISOR = {"Authorization": "Bearer tok-sup-1"}
GATEWAY = {"Authorization": "Bearer tok-gw-1"}


@pytest.fixture(scope="module")
def intake(stack):
    with stack.service_env("intake", AUTH_TOKENS=TOKENS):
        yield stack


def _stored(stack, waybill_no):
    return stack.db().execute("SELECT count(*) FROM intake.complaints WHERE waybill_no = %s",
                              (waybill_no,)).fetchone()[0]


def _key_stored(stack, key):
    return stack.db().execute("SELECT count(*) FROM intake.idempotency_keys WHERE key = %s",
                              (key,)).fetchone()[0]


def _fields(resp):
    return {f["field"]: f["problem"] for f in resp.json()["fields"]}


def test_each_validation_error_class_stores_nothing(intake, http):
    url = intake.base_url + "/v1/complaints"
    cases = []  # (what, response, waybill, key)

    def send(what, data, wb, content_type="application/json", **over):
        key = str(uuid.uuid4())
        r = http.post(url, data=data, headers={"Content-Type": content_type,
                                               "Idempotency-Key": key})
        cases.append((what, r, wb, key))
        return r

    wb = waybill()
    r = send("malformed", b'{"channel": "web", "waybill_no": "' + wb.encode() + b'",', wb)
    assert r.status_code == 400 and r.json()["error"] == "malformed_json", r.text
    body = json.dumps(complaint(waybill_no=(wb := waybill())), ensure_ascii=False).encode()
    r = send("invalid utf-8", body.replace("破损".encode(), b"\xff\xfe\xfd"), wb)
    assert r.status_code == 400 and r.json()["error"] == "invalid_utf8", r.text
    big = complaint(waybill_no=(wb := waybill()), description="x" * 70000)
    r = send("too large", json.dumps(big).encode(), wb)
    assert r.status_code == 413, r.text
    assert r.json()["fields"][0]["field"] == "body"
    r = send("content type", json.dumps(complaint(waybill_no=(wb := waybill()))).encode(), wb,
             content_type="text/plain")
    assert r.status_code == 415 and _fields(r) == {"Content-Type": "must be application/json"}

    def bad(what, field, **over):
        wb = over.get("waybill_no") or waybill()
        over.setdefault("waybill_no", wb)
        r = send(what, json.dumps(complaint(**over), ensure_ascii=False).encode(), wb)
        assert r.status_code == 422, (what, r.text)
        assert field in _fields(r), (what, r.json())
        return r

    bad("waybill", "waybill_no", waybill_no="sf-12")
    bad("phone", "complainant.phone", complainant={"phone": "12345"})
    bad("enum", "type", type="smashed")
    bad("enum channel", "channel", channel="fax")
    r = bad("too long", "description", description="破" * 2001)
    assert "2000" in _fields(r)["description"]
    r = bad("several at once", "channel", channel="fax", type="??",
            complainant={"phone": "1", "role": "owner"})
    assert {"channel", "type", "complainant.phone", "complainant.role"} <= set(_fields(r))

    time.sleep(0.5)
    for what, r, wb, key in cases:
        assert r.headers["Content-Type"].startswith("application/json"), what
        assert _stored(intake, wb) == 0, what
        assert _key_stored(intake, key) == 0, what


def test_idempotent_retry_returns_the_same_complaint(intake, http):
    body = complaint()
    key = str(uuid.uuid4())
    first = post(http, intake, body, **{"Idempotency-Key": key})
    again = post(http, intake, body, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.json()["complaint_no"] == first.json()["complaint_no"]
    assert again.json()["idempotent_replay"] is True
    assert first.json()["complaint_no"].startswith("CP")
    assert first.json()["link"].endswith("token=" + first.json()["link"].split("token=")[1])
    assert _stored(intake, body["waybill_no"]) == 1

    changed = dict(body, description="another text")
    conflict = post(http, intake, changed, **{"Idempotency-Key": key})
    assert conflict.status_code == 422, conflict.text
    assert "Idempotency-Key" in _fields(conflict)
    assert _stored(intake, body["waybill_no"]) == 1


def test_concurrent_retries_with_one_key_make_one_complaint(intake):
    import concurrent.futures

    import requests
    body, key = complaint(), str(uuid.uuid4())
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda _: requests.post(
            intake.base_url + "/v1/complaints", json=body,
            headers={"Idempotency-Key": key}, timeout=10), range(6)))
    assert {r.status_code for r in replies} == {201}, [r.text for r in replies]
    assert len({r.json()["complaint_no"] for r in replies}) == 1
    assert sum(not r.json()["idempotent_replay"] for r in replies) == 1
    assert _stored(intake, body["waybill_no"]) == 1


def test_repeat_on_open_case_attaches_and_raises_priority(intake, http):
    body = complaint()
    with intake.consumer(["complaint.received.v1"], from_beginning=False) as reader:
        first = post(http, intake, body)
        assert first.status_code == 201, first.text
        cid = first.json()["complaint_id"]
        prio0 = intake.db().execute("SELECT priority FROM intake.complaints WHERE id = %s",
                                    (cid,)).fetchone()[0]
        again = post(http, intake, dict(body, description="还是没有人联系我"))
        assert again.status_code == 200, again.text
        assert again.json()["complaint_no"] == first.json()["complaint_no"]
        assert again.json()["attached_to_open_case"] is True
        assert again.json()["repeat_count"] == 1
        msg = reader.poll_until(lambda m: m.key == cid and m.headers.get("ce_type")
                                == "cp.complaint.message_added", timeout=15)
    ev = intake.proto.ComplaintMessageAdded()
    ev.ParseFromString(msg.value)
    assert ev.kind == "repeat" and ev.repeat_count == 1
    row = intake.db().execute("SELECT count(*), min(priority), max(repeat_count) FROM "
                              "intake.complaints WHERE waybill_no = %s",
                              (body["waybill_no"],)).fetchone()
    assert row[0] == 1
    assert row[1] < prio0 or row[1] == 1
    assert row[2] == 1
    wait_rows(intake, "SELECT 1 FROM intake.timeline WHERE complaint_id = %s AND step = "
                      "'repeat_message'", (cid,))


def _close(stack, cid, no):
    ev = stack.proto.FollowupEvent(complaint_id=cid, complaint_no=no, step="closed",
                                   close_reason="satisfied",
                                   at=datetime.datetime.now(datetime.timezone.utc).isoformat())
    stack.produce("complaint.followup.v1", cid, ev.SerializeToString(),
                  stack.ce_headers("cp.complaint.closed", source="/cp/followup"))
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND status = 'closed'",
              (cid,), timeout=20)


def test_repeat_after_closure_opens_a_linked_case(intake, http):
    body = complaint(type="loss", description="包裹丢失了")
    first = post(http, intake, body)
    assert first.status_code == 201, first.text
    old = first.json()
    _close(intake, old["complaint_id"], old["complaint_no"])

    # another person (different phone) about the same waybill and type within 30 days
    with intake.consumer(["complaint.received.v1"], from_beginning=False) as reader:
        second = post(http, intake, complaint(waybill_no=body["waybill_no"], type="loss",
                                              description="还是没找到"))
        assert second.status_code == 201, second.text
        new = second.json()
        msg = reader.poll_until(lambda m: m.key == new["complaint_id"], timeout=15)
    assert new["complaint_no"] != old["complaint_no"]
    assert new["repeat"] is True
    ev = intake.proto.ComplaintReceived()
    ev.ParseFromString(msg.value)
    assert ev.repeat and ev.previous_complaint_id == old["complaint_id"]
    view = http.get(f"{intake.base_url}/v1/complaints/{new['complaint_no']}", headers=SUPERVISOR)
    assert view.status_code == 200, view.text
    assert view.json()["previous_complaint_no"] == old["complaint_no"]
    assert view.json()["repeat"] is True

    # a different type after closure is not a repeat
    third = post(http, intake, complaint(waybill_no=body["waybill_no"], type="damage"))
    assert third.status_code == 201 and third.json()["repeat"] is False
    # both repeats count: the staff list shows them flagged
    listed = http.get(intake.base_url + "/v1/staff/complaints",
                      params={"waybill_no": body["waybill_no"]}, headers=AGENT).json()
    assert sorted(c["repeat"] for c in listed["complaints"]) == [False, False, True]


def _pickup(stack, waybill_no, days_ago):
    at = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days_ago)
    ev = stack.proto.TrackingEvent(waybill_no=waybill_no, code=1,
                                   facility_id="SZ-NS-01", facility_type="outlet",
                                   occurred_at=at.isoformat().replace("+00:00", "Z"),
                                   scan_id=str(uuid.uuid4()), city="Shenzhen")
    stack.produce("parcel.tracking.v1", waybill_no, ev.SerializeToString(),
                  stack.ce_headers("cp.parcel.scanned", source="/carrier/test"))
    wait_rows(stack, "SELECT 1 FROM intake.pickups WHERE waybill_no = %s", (waybill_no,))
    return at


def test_filing_window_after_pickup(intake, http):
    old, recent = waybill(), waybill()
    picked = _pickup(intake, old, days_ago=400)
    _pickup(intake, recent, days_ago=10)
    late = post(http, intake, complaint(waybill_no=old))
    assert late.status_code == 422, late.text
    assert late.json()["error"] == "filing_window_passed"
    problem = _fields(late)["waybill_no"]
    assert picked.strftime("%Y-%m-%d") in problem and "365 days" in problem
    assert _stored(intake, old) == 0
    ok = post(http, intake, complaint(waybill_no=recent))
    assert ok.status_code == 201, ok.text


def test_staff_endpoints_need_the_right_token(intake, http):
    url = intake.base_url + "/v1/staff/complaints"
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert http.get(url, headers=GATEWAY).status_code == 403
    body = complaint(channel="hotline")
    assert http.post(url, json=body).status_code == 401
    assert http.post(url, json=body, headers=GATEWAY).status_code == 403
    keyed = http.post(url, json=body, headers={**AGENT, "Idempotency-Key": str(uuid.uuid4())})
    assert keyed.status_code == 201, keyed.text
    entered = intake.db().execute("SELECT entered_by, channel FROM intake.complaints WHERE "
                                  "complaint_no = %s", (keyed.json()["complaint_no"],)).fetchone()
    assert entered == ("AG-1", "hotline")
    bad = http.post(url, json=complaint(waybill_no="bad"), headers=AGENT)
    assert bad.status_code == 422 and "waybill_no" in _fields(bad)

    listed = http.get(url, params={"waybill_no": body["waybill_no"]}, headers=AGENT)
    assert listed.status_code == 200, listed.text
    [row] = listed.json()["complaints"]
    assert row["entered_by"] == "AG-1"
    assert row["complainant"]["phone"] == body["complainant"]["phone"]  # staff see it in full
    assert http.get(url, params={"status": "bogus"}, headers=AGENT).status_code == 422
    received = http.get(url, params={"status": "received", "limit": "5"}, headers=SUPERVISOR)
    assert received.status_code == 200
    assert all(c["status"] == "received" for c in received.json()["complaints"])


def test_customer_a_cannot_read_customer_b(intake, http):
    a = complaint(complainant={"phone": "13900001111"})
    b = complaint(complainant={"phone": "13800002222"})
    ra, rb = post(http, intake, a).json(), post(http, intake, b).json()
    url_b = f"{intake.base_url}/v1/complaints/{rb['complaint_no']}"
    token_a = ra["link"].split("token=")[1]
    assert http.get(url_b).status_code == 401
    # a proof of another case and a wrong proof look like an unknown case
    wrong = http.get(url_b, params={"token": token_a})
    assert wrong.status_code == 404
    assert http.get(url_b, params={"phone_last4": "1111"}).json() == wrong.json()
    own = http.get(url_b, params={"phone": b["complainant"]["phone"]})
    assert own.status_code == 200, own.text
    assert own.json()["complainant"]["phone"] != b["complainant"]["phone"]
    assert "complaint_id" not in own.json()
    # the last four digits open only the minimal status
    minimal = http.get(url_b, params={"phone_last4": b["complainant"]["phone"][-4:]})
    assert minimal.status_code == 200, minimal.text
    assert set(minimal.json()) == {"complaint_no", "status", "next_step", "next_update_by",
                                   "proof"}
    # the link opens the console's status page, which reads the case with the link's token
    assert "/c/status/" + rb["complaint_no"] + "?token=" in rb["link"]
    by_link = http.get(url_b, params={"token": rb["link"].split("token=")[1]})
    assert by_link.status_code == 200
    assert by_link.json()["next_step"]

    # an agent who does not handle the case sees the contact masked; a supervisor in full
    staff = http.get(url_b, headers=AGENT).json()
    assert staff["complainant"]["phone"] != b["complainant"]["phone"]
    assert "****" in staff["complainant"]["phone"] and staff["contact_masked"] is True
    assert staff["complaint_id"] == rb["complaint_id"]
    sup = http.get(url_b, headers=SUPERVISOR).json()
    assert sup["complainant"]["phone"] == b["complainant"]["phone"]
    gateway = http.get(url_b, headers=GATEWAY).json()
    assert gateway["complainant"]["phone"] == b["complainant"]["phone"]
    assert gateway["complainant"]["preferred_contact"] == "phone"
    assert "complaint_id" not in gateway
    assert http.get(url_b, headers={"Authorization": "Bearer nope"}).status_code == 401
