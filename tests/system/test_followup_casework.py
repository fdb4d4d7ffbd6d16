"""Follow-up casework on the real broker and PostgreSQL: the owner (or a supervisor) messages the
customer from a template or in free text, logs calls, closes with a reason and reopens; other
agents are refused and nothing changes; the conversation shows what was sent and the customer's
own words; the survey goes out only after a plan a person decided was executed (and, for a
service complaint, after a person answered); the people figures (first contact, accept,
verification, FCR with the repeat on the same waybill) come from people's actions.

The upstream events are produced by the test itself (stack.produce): follow-up is the service
under test, and the cases stay out of the real pipeline's way."""

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from helpers import wait_rows
from test_followup_flow import iso, produce_executed
from test_resolution_flow import (AGENT, SUP, TOKENS, customer_token, decode, new_case,
                                  seen)

AGENT2 = {"Authorization": "Bearer agent-token-2"}
CASEWORK_TOKENS = TOKENS + ",agent-token-2:agent:ag2"
FOLLOWUP = "complaint.followup.v1"


@pytest.fixture(scope="module")
def casework(stack):
    with stack.service_env("followup", AUTH_TOKENS=CASEWORK_TOKENS, DELIVERY_INTERVAL_MS="100",
                           STATS_INTERVAL_MS="300"):
        yield


@pytest.fixture
def quiet_pipeline(stack):
    """The test's received events carry a waybill and back-dated times: the real classification
    would offer them to someone and the real timer would breach them behind the test's back."""
    stack.stop_service("timer")
    stack.stop_service("classification")
    try:
        yield
    finally:
        stack.start_service("classification")
        stack.start_service("timer")


def produce(stack, topic, cid, msg, ce_type):
    stack.produce(topic, cid, msg.SerializeToString(), stack.ce_headers(ce_type))


def produce_received(stack, cid, no, waybill="", received_at="", outlet="", language="zh-CN",
                     description="", repeat=False, previous="", target=None):
    m = stack.proto.ComplaintReceived(complaint_id=cid, complaint_no=no, waybill_no=waybill,
                                      customer_ref="cust_test0123456789abcdef", channel="app",
                                      language=language, outlet_id=outlet,
                                      received_at=received_at, description_redacted=description,
                                      repeat=repeat, previous_complaint_id=previous,
                                      preferred_contact="sms")
    if target:
        m.target.kind, m.target.id = target
    produce(stack, "complaint.received.v1", cid, m, "cp.complaint.received")


def produce_assignment(stack, cid, no, owner, action="accepted", at="", ce_type=None):
    m = stack.proto.ComplaintAssignment(complaint_id=cid, complaint_no=no, action=action,
                                        owner_staff_id=owner, at=at)
    produce(stack, "complaint.classified.v1", cid, m, ce_type or "cp.complaint.assigned")


def produce_classified(stack, cid, no, category="transport", sub="loss", first_response_s=0,
                       accept_s=0, verification_s=0, outlet=""):
    m = stack.proto.ComplaintClassified(complaint_id=cid, complaint_no=no, category=category,
                                        subcategory=sub, priority=3, outlet_id=outlet,
                                        first_response_s=first_response_s, accept_s=accept_s,
                                        verification_s=verification_s)
    produce(stack, "complaint.classified.v1", cid, m, "cp.complaint.classified")


def open_case(stack, owner="ag1", prefix="CPK", **received):
    """A received case that owner accepted, as follow-up sees it."""
    cid, no, _ = new_case(prefix)
    produce_received(stack, cid, no, **received)
    if owner:
        produce_assignment(stack, cid, no, owner)
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND customer_ref <> '' "
                     "AND owner_staff_id = %s", (cid, owner))
    return cid, no


def url(stack, no, action):
    return f"{stack.base_url}/v1/complaints/{no}/{action}"


def future(minutes=60):
    return iso(datetime.now(timezone.utc) + timedelta(minutes=minutes))


def china_time(rfc3339):
    """How a promised time reads in a message to a customer in China (UTC+8)."""
    at = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")) + timedelta(hours=8)
    return at.strftime("%Y-%m-%d %H:%M")


def events(reader, cid, ce_type, count=1, timeout=15):
    """The case's events of ce_type once at least count were read."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in reader.messages if m.key == cid and m.headers["ce_type"] == ce_type]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"{len(found)} {ce_type} for {cid}, wanted {count}"
            return found
        reader.collect(timeout=0.3)


def case_row(stack, cid, cols):
    return stack.db().execute(f"SELECT {cols} FROM followup.cases WHERE complaint_id = %s",
                              (cid,)).fetchone()


def test_contact_by_template_and_free_text_reaches_the_outbox_and_emits_contacted(
        stack, http, casework):
    cid, no = open_case(stack)
    contact = url(stack, no, "contact")
    db = stack.db()

    assert http.post(contact, json={"text": "x"}).status_code == 401
    bad = http.post(contact, json={"template": "update_promised", "text": "x",
                                   "next_update_by": "2020-01-01T00:00:00Z"}, headers=AGENT)
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["fields"]} == {"text", "next_update_by"}
    assert http.post(contact, json={}, headers=AGENT).status_code == 422
    assert http.post(contact, json={"template": "appeal"}, headers=AGENT).status_code == 422
    nope = http.post(contact, json={"template": "no_such_step"}, headers=AGENT)
    assert nope.status_code == 422 and nope.json()["fields"][0]["field"] == "template"
    assert http.post(url(stack, "CPNOSUCHCASE", "contact"), json={"text": "x"},
                     headers=AGENT).status_code == 404
    # nothing was recorded by the refused requests
    assert db.execute("SELECT count(*) FROM followup.notifications WHERE complaint_id = %s AND "
                      "step = 'contact'", (cid,)).fetchone()[0] == 0
    assert case_row(stack, cid, "first_contact_at")[0] is None

    promise = future(90)
    with stack.consumer([FOLLOWUP], from_beginning=False) as reader:
        r = http.post(contact, json={"template": "update_promised", "next_update_by": promise},
                      headers=AGENT)
        assert r.status_code == 201, r.text
        sent = r.json()
        assert sent["contact_kind"] == "message" and sent["by"] == "ag1"
        assert no in sent["text"] and china_time(promise) in sent["text"]
        ev = decode(stack, seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                == "cp.complaint.contacted"), "FollowupEvent")
        assert (ev.contact_kind, ev.actor_staff_id, ev.owner_staff_id) == ("message", "ag1", "ag1")
        assert ev.text_redacted == sent["text"] and ev.next_update_by == promise

        r = http.post(contact, json={"text": "您好，我是负责人，有事请打 13912345678"},
                      headers=AGENT)
        assert r.status_code == 201, r.text
        ev = decode(stack, events(reader, cid, "cp.complaint.contacted", 2)[1], "FollowupEvent")
        assert "您好，我是负责人" in ev.text_redacted and "13912345678" not in ev.text_redacted
        assert ev.next_update_by == ""

    rows = db.execute("SELECT body, sent_by, recipient, language FROM followup.notifications "
                      "WHERE complaint_id = %s AND step = 'contact' ORDER BY id", (cid,)).fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [("ag1", "customer", "zh-CN")] * 2
    assert china_time(promise) in rows[0][0] and "您好，我是负责人" in rows[1][0]
    first_at, first_by = case_row(stack, cid, "first_contact_at, first_contact_by")
    assert first_at is not None and first_by == "ag1"
    # the delivery task picks the staff message up like any other (the outbox is the same)
    wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND step = "
                     "'contact' AND status = 'delivered'", (cid,), count=2)


def test_a_question_asked_from_the_case_is_a_contact(stack, http, casework):
    cid, no = open_case(stack)
    with stack.consumer([FOLLOWUP], from_beginning=False) as reader:
        r = http.post(url(stack, no, "await-customer"),
                      json={"question": "请问外箱是否完好？方便时回电 13912345678"}, headers=AGENT)
        assert r.status_code == 202, r.text
        ev = decode(stack, seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                == "cp.complaint.contacted"), "FollowupEvent")
        assert (ev.contact_kind, ev.actor_staff_id) == ("message", "ag1")
        assert ev.text_redacted.startswith("请问外箱是否完好？") and "13912345678" not in \
            ev.text_redacted
        seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
             == "cp.complaint.awaiting_customer")
    assert case_row(stack, cid, "first_contact_by, status") == ("ag1", "in_contact")


def test_call_no_answer_is_an_attempt_and_reached_is_a_contact(stack, http, casework):
    cid, no = open_case(stack)
    calls = url(stack, no, "calls")
    bad = http.post(calls, json={"outcome": "busy"}, headers=AGENT)
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["fields"]} == {"outcome", "summary"}
    with stack.consumer([FOLLOWUP], from_beginning=False) as reader:
        r = http.post(calls, json={"outcome": "no_answer", "summary": "无人接听"}, headers=AGENT)
        assert r.status_code == 201, r.text
        assert r.json()["contact"] is False
        assert case_row(stack, cid, "first_contact_at")[0] is None
        r = http.post(calls, json={"outcome": "reached", "summary": "已联系客户，客户电话 139 1234 "
                                   "5678，同意等待", "next_update_by": future()}, headers=AGENT)
        assert r.status_code == 201, r.text
        assert r.json()["contact"] is True
        ev = decode(stack, seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                == "cp.complaint.contacted"), "FollowupEvent")
        # the first contacted event of the case is the reached call: no_answer emitted none
        assert (ev.contact_kind, ev.outcome, ev.actor_staff_id) == ("call", "reached", "ag1")
        assert "同意等待" in ev.text_redacted and "5678" not in ev.text_redacted
        reader.collect(timeout=1)
        assert len(events(reader, cid, "cp.complaint.contacted")) == 1
    rows = stack.db().execute("SELECT outcome, staff_id FROM followup.calls WHERE complaint_id = "
                              "%s ORDER BY id", (cid,)).fetchall()
    assert rows == [("no_answer", "ag1"), ("reached", "ag1")]
    assert case_row(stack, cid, "first_contact_by")[0] == "ag1"


def wait_closed(reader, cid):
    return seen(reader, lambda m: m.key == cid and m.headers["ce_type"] == "cp.complaint.closed")


def closing_body(stack, cid, step):
    return wait_rows(stack, "SELECT body FROM followup.notifications WHERE complaint_id = %s AND "
                            "step = %s AND recipient = 'customer'", (cid, step))[0][0]


def test_close_with_each_reason_tells_the_customer_and_emits_closed(stack, http, casework):
    resolved, no_r = open_case(stack)
    nofault, no_n = open_case(stack)
    withdrawn, no_w = open_case(stack, language="en")
    dup, no_d = open_case(stack)

    refused = http.post(url(stack, no_r, "close"), json={"reason": "resolved"}, headers=AGENT)
    assert refused.status_code == 409 and refused.json()["error"] == "no_plan_executed"
    bad = http.post(url(stack, no_d, "close"), json={"reason": "duplicate"}, headers=AGENT)
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "merged_into"
    assert http.post(url(stack, no_d, "close"), json={"reason": "duplicate", "merged_into":
                     "CPNOSUCHCASE"}, headers=AGENT).status_code == 422
    assert http.post(url(stack, no_d, "close"), json={"reason": "duplicate", "merged_into":
                     no_d}, headers=AGENT).status_code == 422
    assert http.post(url(stack, no_n, "close"), json={"reason": "fixed"},
                     headers=AGENT).status_code == 422
    assert case_row(stack, dup, "status")[0] != "closed"

    produce_executed(stack, resolved, no_r, 1000)
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND executed_at IS "
                     "NOT NULL", (resolved,))
    with stack.consumer([FOLLOWUP], from_beginning=False) as reader:
        for no, body in ((no_r, {"reason": "resolved", "note": "已赔付"}),
                         (no_n, {"reason": "no_fault_found"}),
                         (no_w, {"reason": "withdrawn"}),
                         (no_d, {"reason": "duplicate", "merged_into": no_r})):
            r = http.post(url(stack, no, "close"), json=body, headers=AGENT)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "closed" and r.json()["close_reason"] == body["reason"]
        for cid, reason in ((resolved, "resolved"), (nofault, "no_fault_found"),
                            (withdrawn, "withdrawn"), (dup, "duplicate")):
            ev = decode(stack, wait_closed(reader, cid), "FollowupEvent")
            assert (ev.close_reason, ev.actor_staff_id) == (reason, "ag1")
            assert ev.merged_into == (no_r if reason == "duplicate" else "")

    assert "邮政管理局" in closing_body(stack, resolved, "closed")
    assert "未发现我方责任" in closing_body(stack, nofault, "closed_no_fault_found")
    assert "邮政管理局" in closing_body(stack, nofault, "closed_no_fault_found")
    assert "withdrawn as you asked" in closing_body(stack, withdrawn, "closed_withdrawn")
    assert no_r in closing_body(stack, dup, "closed_duplicate")

    again = http.post(url(stack, no_r, "close"), json={"reason": "withdrawn"}, headers=AGENT)
    assert again.status_code == 409 and again.json()["error"] == "already_closed"
    assert http.post(url(stack, no_w, "reopen"), json={"reason": "客户改主意"},
                     headers=AGENT).status_code == 409
    assert http.post(url(stack, no_d, "reopen"), json={"reason": "不是重复"},
                     headers=SUP).status_code == 409
    assert http.post(url(stack, no_n, "reopen"), json={}, headers=AGENT).status_code == 422

    with stack.consumer([FOLLOWUP], from_beginning=False) as reader:
        r = http.post(url(stack, no_n, "reopen"), json={"reason": "客户提供了新照片"}, headers=AGENT)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["owner_staff_id"], r.json()["reopen_count"]) == \
            ("reopened", "ag1", 1)
        ev = decode(stack, seen(reader, lambda m: m.key == nofault and m.headers["ce_type"]
                                == "cp.complaint.reopened"), "FollowupEvent")
        assert (ev.actor_staff_id, ev.owner_staff_id, ev.reason) == ("ag1", "ag1", "客户提供了新照片")
        assert ev.escalation_level == 0
    assert case_row(stack, nofault, "status, close_reason") == ("reopened", None)
    closing_body(stack, nofault, "reopened_by_staff")
    assert http.post(url(stack, no_n, "reopen"), json={"reason": "again"},
                     headers=AGENT).status_code == 409


def test_only_the_owner_or_a_supervisor_acts(stack, http, casework):
    cid, no = open_case(stack)
    nobody, no_x = open_case(stack, owner="")
    for action, body in (("contact", {"text": "hi"}),
                         ("calls", {"outcome": "reached", "summary": "x"}),
                         ("close", {"reason": "withdrawn"}),
                         ("reopen", {"reason": "x"}),
                         ("await-customer", {"question": "x"})):
        r = http.post(url(stack, no, action), json=body, headers=AGENT2)
        assert r.status_code == 403 and r.json()["error"] == "not_owner", (action, r.text)
        r = http.post(url(stack, no_x, action), json=body, headers=AGENT)
        assert r.status_code == 403 and r.json()["error"] == "not_owner", (action, r.text)
    db = stack.db()
    assert db.execute("SELECT count(*) FROM followup.calls WHERE complaint_id = ANY(%s::uuid[])",
                      ([cid, nobody],)).fetchone()[0] == 0
    assert case_row(stack, cid, "status, first_contact_at") == ("open", None)

    r = http.post(url(stack, no_x, "contact"), json={"text": "主管来电"}, headers=SUP)
    assert r.status_code == 201 and r.json()["by"] == "sup1"

    # reassigned: the new owner acts, the previous one no longer does
    produce_assignment(stack, cid, no, "ag2", action="reassigned")
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND owner_staff_id = "
                     "'ag2'", (cid,))
    assert http.post(url(stack, no, "contact"), json={"text": "hi"},
                     headers=AGENT).status_code == 403
    assert http.post(url(stack, no, "contact"), json={"text": "我是新的负责人"},
                     headers=AGENT2).status_code == 201
    r = http.post(url(stack, no, "close"), json={"reason": "withdrawn"}, headers=SUP)
    assert r.status_code == 200 and r.json()["by"] == "sup1"


def test_the_person_a_case_is_about_never_acts_on_it(stack, http, casework):
    # the complaint is about the (supervisor) agent sup2; ag2 owns it
    cid, no = open_case(stack, owner="ag2", target=("agent", "sup2"))
    r = http.post(url(stack, no, "close"), json={"reason": "no_fault_found"},
                  headers={"Authorization": "Bearer sup-token-2"})
    assert r.status_code == 403 and r.json()["error"] == "conflict_of_interest", r.text
    assert http.post(url(stack, no, "contact"), json={"text": "您好"},
                     headers=AGENT2).status_code == 201
    # then the evidence names ag2, the owner, as the responsible courier
    ev = stack.proto.EvidenceBundle(complaint_id=cid, complaint_no=no, version=1)
    ev.responsibility.party, ev.responsibility.party_id = "courier", "ag2"
    ev.responsibility.preliminary = True
    produce(stack, "complaint.evidence.v1", cid, ev, "cp.complaint.evidence_collected")
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND "
                     "responsible_courier_id = 'ag2'", (cid,))
    for action, body in (("contact", {"text": "x"}), ("close", {"reason": "withdrawn"}),
                         ("await-customer", {"question": "x"})):
        r = http.post(url(stack, no, action), json=body, headers=AGENT2)
        assert r.status_code == 403 and r.json()["error"] == "conflict_of_interest", r.text
    assert case_row(stack, cid, "status")[0] == "in_contact"
    r = http.post(url(stack, no, "close"), json={"reason": "withdrawn"}, headers=SUP)
    assert r.status_code == 200, r.text


def test_conversation_shows_the_customers_own_words(stack, http, casework):
    cid, no = open_case(stack, description="外箱压坏了，杯子碎了",
                        received_at=iso(datetime.now(timezone.utc) - timedelta(minutes=1)))
    token = customer_token(no)
    with stack.consumer([FOLLOWUP], from_beginning=False) as reader:
        assert http.post(url(stack, no, "contact"), json={"text": "您好，请问杯子是什么牌子？"},
                         headers=AGENT).status_code == 201
        assert http.post(url(stack, no, "await-customer"), json={"question": "请上传照片"},
                         headers=AGENT).status_code == 202
        r = http.post(f"{url(stack, no, 'messages')}?token={token}",
                      json={"text": "是乐扣的杯子，急用请回电 13912345678"})
        assert r.status_code == 201, r.text
        replied = decode(stack, seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                     == "cp.complaint.customer_replied"), "FollowupEvent")
        assert "是乐扣的杯子" in replied.text_redacted
        assert "13912345678" not in replied.text_redacted
    m = stack.proto.ComplaintMessageAdded(complaint_id=cid, complaint_no=no, kind="reply",
                                          text_redacted="补充：外箱也湿了")
    produce(stack, "complaint.received.v1", cid, m, "cp.complaint.message_added")
    wait_rows(stack, "SELECT 1 FROM followup.messages WHERE complaint_id = %s AND source = "
                     "'intake'", (cid,))
    assert http.post(url(stack, no, "calls"), json={"outcome": "reached", "summary": "客户同意补发"},
                     headers=AGENT).status_code == 201

    conv = url(stack, no, "conversation")
    assert http.get(conv).status_code == 401
    assert http.get(url(stack, "CPNOSUCHCASE", "conversation"), headers=AGENT).status_code == 404
    r = http.get(conv, headers=AGENT2)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["owner_staff_id"] == "ag1" and body["first_contact_at"]
    entries = body["entries"]
    kinds = [e["kind"] for e in entries]
    assert kinds[0] == "complaint" and entries[0]["text"] == "外箱压坏了，杯子碎了"
    words = [e["text"] for e in entries if e["kind"] == "customer_message"]
    assert words[0].startswith("是乐扣的杯子") and "13912345678" not in words[0]
    assert words[1] == "补充：外箱也湿了"
    auto = [e for e in entries if e["kind"] == "message" and e["step"] == "received"]
    assert auto and auto[0]["automatic"] is True and auto[0]["by"] is None
    assert auto[0]["channel"] and auto[0]["delivery"]["status"] in ("queued", "delivered")
    mine = [e for e in entries if e["kind"] == "message" and e["step"] == "contact"]
    assert mine[0]["text"] == "您好，请问杯子是什么牌子？" and mine[0]["by"] == "ag1"
    assert mine[0]["automatic"] is False
    question = [e for e in entries if e["kind"] == "question"]
    assert "请上传照片" in question[0]["text"] and question[0]["by"] == "ag1"
    call = [e for e in entries if e["kind"] == "call"]
    assert (call[0]["outcome"], call[0]["summary"], call[0]["by"]) == ("reached", "客户同意补发",
                                                                        "ag1")
    # one ordered list: what we sent, the customer's words and the call in the order they
    # happened; messages to staff are not part of it
    order = [e["kind"] for e in entries if e["kind"] != "message" or e["step"] == "contact"]
    assert order == ["complaint", "message", "question", "customer_message",
                     "customer_message", "call"]
    assert not any(e.get("step") == "customer_replied" for e in entries)
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)


def test_survey_only_after_a_plan_a_person_decided_and_a_persons_answer(stack, http, casework):
    cid, no = open_case(stack)
    produce_executed(stack, cid, no, 500, approved_by="")
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND status = "
                     "'executed'", (cid,))
    survey = f"{url(stack, no, 'survey')}?token={customer_token(no)}"
    assert http.post(survey, json={"score": 5, "solved": True}).status_code == 409
    produce_executed(stack, cid, no, 500, approved_by="sup1")
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND status = "
                     "'resolved'", (cid,))
    assert stack.db().execute("SELECT count(*) FROM followup.notifications WHERE complaint_id = "
                              "%s AND step = 'plan_executed'", (cid,)).fetchone()[0] == 1

    # a service complaint: the plan is executed, but nobody has answered the customer yet
    svc, no_s = open_case(stack)
    produce_classified(stack, svc, no_s, category="service", sub="courier_attitude")
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND "
                     "needs_person_answer", (svc,))
    produce_executed(stack, svc, no_s, 0, approved_by="sup1")
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND status = "
                     "'executed'", (svc,))
    assert http.post(f"{url(stack, no_s, 'survey')}?token={customer_token(no_s)}",
                     json={"score": 5, "solved": True}).status_code == 409
    assert http.post(url(stack, no_s, "calls"), json={"outcome": "reached",
                     "summary": "已向客户致歉并说明处理结果"}, headers=AGENT).status_code == 201
    assert case_row(stack, svc, "status")[0] == "resolved"
    wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND step = "
                     "'plan_executed'", (svc,))


def stats(stack, http, outlet, since):
    params = {"from": iso(since - timedelta(seconds=1)),
              "to": iso(datetime.now(timezone.utc) + timedelta(minutes=1)), "outlet": outlet}
    r = http.get(f"{stack.base_url}/v1/stats", params=params, headers=SUP)
    assert r.status_code == 200, r.text
    return r.json()


def test_people_figures_first_contact_accept_and_verification(stack, http, casework,
                                                              quiet_pipeline):
    outlet = f"OUT-{uuid.uuid4().hex[:8]}"
    t0 = datetime.now(timezone.utc) - timedelta(minutes=10)
    late, no_l = open_case(stack, outlet=outlet, received_at=iso(t0))
    fast, no_f = open_case(stack, outlet=outlet, received_at=iso(t0))
    # late: the policy wants a contact within 60 s and the owner has not contacted in 10 min;
    # fast: within an hour, and the owner contacts now
    produce_classified(stack, late, no_l, first_response_s=60, accept_s=60, verification_s=1800,
                       outlet=outlet)
    produce_classified(stack, fast, no_f, first_response_s=3600, accept_s=60, outlet=outlet)
    for cid, no in ((late, no_l), (fast, no_f)):
        produce_assignment(stack, cid, no, "", action="offered", at=iso(t0 + timedelta(seconds=10)),
                           ce_type="cp.complaint.offered")
    produce_assignment(stack, late, no_l, "ag1", at=iso(t0 + timedelta(seconds=40)))
    produce_assignment(stack, fast, no_f, "ag1", at=iso(t0 + timedelta(seconds=130)))
    ev = stack.proto.EvidenceBundle(complaint_id=late, complaint_no=no_l, version=2)
    ev.responsibility.party = "courier"
    ev.responsibility.preliminary = False
    ev.responsibility.confirmed_by = "sup1"
    ev.responsibility.confirmed_at = iso(t0 + timedelta(seconds=300))
    produce(stack, "complaint.evidence.v1", late, ev, "cp.complaint.evidence_updated")
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND verified_at IS "
                     "NOT NULL AND first_response_s = 60", (late,))
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND assigned_at < "
                     "received_at + interval '3 minutes' AND offered_at IS NOT NULL AND "
                     "accept_s = 60", (fast,))
    assert http.post(url(stack, no_f, "contact"), json={"template": "update_promised",
                     "next_update_by": future()}, headers=AGENT).status_code == 201
    # the verified case tells the customer now, not on the automatic bundle
    closing_body(stack, late, "evidence_found")

    s = stats(stack, http, outlet, t0)
    assert s["received"] == 2
    assert s["first_contact"]["count"] == 1
    assert s["first_contact"]["median_s"] >= 600
    assert s["first_contact"]["compliance"] == 0.5
    assert s["accept"]["count"] == 2
    assert (s["accept"]["median_s"], s["accept"]["p90_s"]) == (pytest.approx(75),
                                                              pytest.approx(111))
    assert s["accept"]["compliance"] == 0.5
    assert s["verification"]["count"] == 1
    assert s["verification"]["median_s"] == pytest.approx(300)
    assert s["verification"]["compliance"] == 1
    assert s["by_agent"] == [{"agent": "ag1", "cases": 2, "accept_median_s": pytest.approx(75),
                              "first_contact_median_s": s["first_contact"]["median_s"],
                              "verification_median_s": pytest.approx(300)}]
    assert [o["outlet"] for o in s["by_outlet"]] == [outlet]
    mine = http.get(f"{stack.base_url}/v1/stats", params={"outlet": outlet, "agent": "ag2",
                    "from": iso(t0 - timedelta(seconds=1))}, headers=SUP).json()
    assert mine["received"] == 0 and mine["first_contact"]["compliance"] is None

    # the stats task sets the gauges one by one: wait for each
    for name in ("cp_quality_first_contact_compliance_ratio",
                 "cp_quality_accept_median_seconds", "cp_quality_accept_cases",
                 "cp_quality_accept_compliance_ratio",
                 "cp_quality_verification_median_seconds"):
        wait_metric(stack, http, name)


def wait_metric(stack, http, name, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        text = http.get(stack.service_url("followup") + "/metrics").text
        if name in text or time.monotonic() > deadline:
            assert name in text
            return text
        time.sleep(0.2)


def close_satisfied(stack, http, cid, no):
    produce_executed(stack, cid, no, 0)
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND status = "
                     "'resolved'", (cid,))
    r = http.post(f"{url(stack, no, 'survey')}?token={customer_token(no)}",
                  json={"score": 5, "solved": True})
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text


def test_fcr_not_counted_when_the_customer_complains_again_about_the_same_waybill(
        stack, http, casework, quiet_pipeline):
    outlet = f"OUT-{uuid.uuid4().hex[:8]}"
    t0 = datetime.now(timezone.utc) - timedelta(minutes=5)
    wb_again, wb_once, wb_late = (f"SF{uuid.uuid4().int % 10**12:012d}" for _ in range(3))
    again, no_a = open_case(stack, outlet=outlet, received_at=iso(t0), waybill=wb_again)
    once, no_o = open_case(stack, outlet=outlet, received_at=iso(t0), waybill=wb_once)
    late, no_l = open_case(stack, outlet=outlet, received_at=iso(t0), waybill=wb_late)
    for cid, no in ((again, no_a), (once, no_o), (late, no_l)):
        close_satisfied(stack, http, cid, no)
    # the customer complains again about wb_again a minute later (a new case intake did not
    # link), and about wb_late only after the window
    rep, no_rep = new_case("CPR")[:2]
    produce_received(stack, rep, no_rep, waybill=wb_again, outlet="OUT-elsewhere",
                     received_at=iso(datetime.now(timezone.utc) + timedelta(minutes=1)))
    after, no_after = new_case("CPR")[:2]
    produce_received(stack, after, no_after, waybill=wb_late, outlet="OUT-elsewhere",
                     received_at=iso(datetime.now(timezone.utc) + timedelta(days=8)))
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = ANY(%s::uuid[]) AND "
                     "waybill_no <> ''", ([rep, after],), count=2)

    s = stats(stack, http, outlet, t0)
    assert (s["received"], s["closed"], s["fcr_window_days"]) == (3, 3, 7)
    assert s["first_contact_resolution"] == pytest.approx(0.6667)
