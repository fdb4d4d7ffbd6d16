"""Follow-up on the real broker and PostgreSQL: the whole loop from POST to a satisfied survey
(the real pipeline prepares, a person owns and contacts, a person's plan is executed); one message per step delivered to a signed webhook (a local HTTP
sink), retried while the sink is down and never duplicated; dissatisfied answers re-open and
escalate; the customer's replies and staff questions; editable templates; the quality figures
match the cases the test created."""

import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import complaint, post, wait_rows
from test_resolution_flow import (ADMIN, AGENT, INTEGRATION, SUP, TOKENS, customer_token,
                                  decode, seen, new_case, produce_classified, produce_evidence,
                                  produce_received, proposal_of, staff)  # noqa: F401

WEBHOOK_SECRET = b"dev-only-webhook-secret"
# every channel to WEBHOOK_URL (this file's sink) instead of the stack's receiver
NO_GATEWAYS = {f"NOTIFY_{kind}_URL": "" for kind in ("SMS", "EMAIL", "APP", "STAFF_APP")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """A webhook receiver on 127.0.0.1 that records every delivery (and checks its signature)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/notify"
        self.deliveries = []
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ts = self.headers.get("X-CP-Timestamp", "").encode()
                sig = hmac.new(WEBHOOK_SECRET, ts + b"." + body, hashlib.sha256).hexdigest()
                with sink.lock:
                    sink.deliveries.append({
                        "id": self.headers.get("X-CP-Notification-Id"),
                        "signed": self.headers.get("X-CP-Signature") == f"sha256={sig}",
                        "note": json.loads(body)})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def notes(self, complaint_no):
        with self.lock:
            return [d for d in self.deliveries if d["note"]["complaint_no"] == complaint_no]

    def wait_step(self, complaint_no, step, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [d for d in self.notes(complaint_no) if d["note"]["step"] == step]
            if found:
                return found[0]
            time.sleep(0.1)
        steps = [d["note"]["step"] for d in self.notes(complaint_no)]
        raise AssertionError(f"no {step} delivered for {complaint_no} in {timeout}s; got {steps}")


@pytest.fixture(scope="module")
def sink():
    s = Sink()
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def followup(stack, sink):
    with stack.service_env("followup", AUTH_TOKENS=TOKENS, WEBHOOK_URL=sink.url, **NO_GATEWAYS,
                           NOTIFY_BACKOFF_MS="200", NOTIFY_BACKOFF_MAX_MS="800",
                           NOTIFY_MAX_ATTEMPTS="50", DELIVERY_INTERVAL_MS="100",
                           WEBHOOK_TIMEOUT_MS="1000", STATS_INTERVAL_MS="500"):
        yield


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def produce_first_response(stack, cid, no, at):
    m = stack.proto.FirstResponse(complaint_id=cid, complaint_no=no, scenario="inquiry",
                                  language="zh-CN", text=f"已收到 {no}", at=at)
    stack.produce("complaint.classified.v1", cid, m.SerializeToString(),
                  stack.ce_headers("cp.complaint.first_response"))


def produce_assigned(stack, cid, no, owner):
    m = stack.proto.ComplaintAssignment(complaint_id=cid, complaint_no=no, action="accepted",
                                        owner_staff_id=owner)
    stack.produce("complaint.classified.v1", cid, m.SerializeToString(),
                  stack.ce_headers("cp.complaint.assigned"))


def produce_breach(stack, cid, no, clock):
    m = stack.proto.SlaEvent(complaint_id=cid, complaint_no=no, clock=clock, kind="breach",
                             escalation_level=1, escalated_to="outlet_manager")
    stack.produce("complaint.sla.v1", cid, m.SerializeToString(),
                  stack.ce_headers("cp.complaint.sla_breached"))


def produce_executed(stack, cid, no, total_fen, approved_by="sup1"):
    """An executed plan; approved_by "" is one no person decided (no survey follows it)."""
    m = stack.proto.ResolutionDecided(complaint_id=cid, complaint_no=no,
                                      proposal_id=str(uuid.uuid4()), status="executed",
                                      proposed_by="system", approved_by=approved_by)
    m.total.amount_fen = total_fen
    stack.produce("complaint.resolution.v1", cid, m.SerializeToString(),
                  stack.ce_headers("cp.complaint.resolution_executed"))


def confirm_executions(stack, http, pid, timeout=20):
    """Confirms every requested execution of the proposal until it is executed."""
    db = stack.db()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = db.execute("SELECT status FROM resolution.proposals WHERE id = %s",
                            (pid,)).fetchone()[0]
        if status == "executed":
            return
        for (eid,) in db.execute("SELECT id::text FROM resolution.executions WHERE "
                                 "proposal_id = %s AND status = 'requested'", (pid,)).fetchall():
            r = http.post(f"{stack.base_url}/v1/executions/{eid}/confirm",
                          json={"status": "confirmed"}, headers=INTEGRATION)
            assert r.status_code == 200, r.text
        time.sleep(0.2)
    raise AssertionError(f"proposal {pid} not executed within {timeout}s")


def survey_url(stack, no, token):
    return f"{stack.base_url}/v1/complaints/{no}/survey?token={token}"


def test_whole_loop_from_post_to_closed_with_satisfied_survey(stack, http, staff, followup,
                                                              sink):
    r = post(http, stack, complaint())
    assert r.status_code == 201, r.text
    cid, no = r.json()["complaint_id"], r.json()["complaint_no"]
    # the real pipeline prepares a plan; then people act: ag1 accepts the case (produced here:
    # classification's tests cover the offer), contacts the customer from the case, and a
    # supervisor's approved plan is executed (resolution's tests cover how)
    proposal_of(stack, cid, timeout=60)
    produce_assigned(stack, cid, no, "ag1")
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND owner_staff_id "
                     "= 'ag1'", (cid,))
    contact = http.post(f"{stack.base_url}/v1/complaints/{no}/contact",
                        json={"text": "您好，我是负责您投诉的客服，我们会尽快处理。"}, headers=AGENT)
    assert contact.status_code == 201, contact.text
    assert "负责您投诉的客服" in sink.wait_step(no, "contact")["note"]["text"]
    produce_executed(stack, cid, no, 3000)
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND status = "
                     "'resolved'", (cid,))
    executed = sink.wait_step(no, "plan_executed")
    token = customer_token(no)
    link = f"/c/survey/{no}?token={token}"
    assert link in executed["note"]["text"]
    # the link opens a page (the console's survey form), not a POST-only API
    page = http.get(stack.base_url + link)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]

    assert http.post(survey_url(stack, no, ""), json={"score": 5, "solved": True}
                     ).status_code == 401
    assert http.post(survey_url(stack, no, "0" * 32), json={"score": 5, "solved": True}
                     ).status_code == 403
    bad = http.post(survey_url(stack, no, token), json={"score": 7, "comment": 3})
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["fields"]} == {"score", "solved", "comment"}
    with stack.consumer(["complaint.followup.v1"], from_beginning=False) as reader:
        r = http.post(survey_url(stack, no, token),
                      json={"score": 5, "solved": True, "comment": "处理很快"})
        assert r.status_code == 200, r.text
        assert r.json() == {"complaint_no": no, "status": "closed", "close_reason": "satisfied"}
        closed = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                   == "cp.complaint.closed", timeout=15)
        assert decode(stack, closed, "FollowupEvent").close_reason == "satisfied"
    assert http.post(survey_url(stack, no, token), json={"score": 5, "solved": True}
                     ).status_code == 409

    # the customer's timeline at intake shows the closure; the archive holds the history
    wait_rows(stack, "SELECT 1 FROM intake.timeline WHERE complaint_id = %s AND step = "
                     "'closed'", (cid,))
    timeline = stack.db().execute("SELECT timeline FROM followup.archives WHERE complaint_id "
                                  "= %s", (cid,)).fetchone()[0]
    types = [e["type"] for e in timeline]
    for t in ("cp.complaint.received", "cp.complaint.resolution_executed",
              "cp.complaint.survey_answered", "cp.complaint.closed"):
        assert t in types, types

    closing = sink.wait_step(no, "closed")
    assert "邮政管理局" in closing["note"]["text"]
    # the customer's messages (staff are told of offers and assignments on the same sink)
    notes = [d for d in sink.notes(no) if d["note"]["recipient"] == "customer"]
    steps = [d["note"]["step"] for d in notes]
    assert len(steps) == len(set(steps)), steps
    assert {"received", "contact", "plan_executed", "closed"} <= set(steps)
    assert all(d["signed"] for d in notes)
    assert all(d["note"]["customer_ref"].startswith("cust_") for d in notes)
    body = json.dumps([d["note"] for d in notes], ensure_ascii=False)
    assert "王小明" not in body


def test_webhook_retried_while_sink_is_down_without_duplicates(stack, followup, sink):
    cid, no, waybill = new_case("CPW")
    db = stack.db()
    sink.stop()
    try:
        produce_received(stack, cid, no)
        wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND "
                         "attempts >= 3 AND status = 'queued' AND last_error <> ''", (cid,))
    finally:
        sink.start()
    wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND "
                     "status = 'delivered'", (cid,), timeout=15)
    time.sleep(1.5)
    notes = sink.notes(no)
    assert [d["note"]["step"] for d in notes] == ["received"]
    assert notes[0]["signed"]
    attempts = db.execute("SELECT attempts FROM followup.notifications WHERE complaint_id = %s",
                          (cid,)).fetchone()[0]
    assert notes[0]["note"]["attempt"] == attempts >= 3


def produce_confirmed_evidence(stack, cid, no, waybill, party="courier"):
    """Responsibility a person confirmed (evidence's confirm endpoint): the case is verified."""
    m = stack.proto.EvidenceBundle(complaint_id=cid, complaint_no=no, waybill_no=waybill,
                                   tracking_found=True, version=2)
    m.responsibility.party = party
    m.responsibility.preliminary = False
    m.responsibility.confirmed_by = "sup1"
    stack.produce("complaint.evidence.v1", cid, m.SerializeToString(),
                  stack.ce_headers("cp.complaint.evidence_updated"))


def test_step_before_received_waits_for_the_customer_ref_and_language(stack, followup, sink):
    cid, no, waybill = new_case("CPO")
    produce_confirmed_evidence(stack, cid, no, waybill)
    wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND step = "
                     "'evidence_found'", (cid,))
    time.sleep(1.0)
    assert sink.notes(no) == []
    produce_received(stack, cid, no, language="en")
    note = sink.wait_step(no, "evidence_found")
    assert note["note"]["customer_ref"] == "cust_test0123456789abcdef"
    assert note["note"]["language"] == "en"
    assert note["note"]["text"].startswith("We have verified complaint")


def test_dissatisfied_survey_reopens_and_escalates(stack, http, followup, sink):
    cid, no, waybill = new_case("CPD")
    produce_received(stack, cid, no)
    produce_executed(stack, cid, no, 0)
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND status = "
                     "'resolved' AND priority = 3", (cid,))
    token = customer_token(no)
    with stack.consumer(["complaint.followup.v1"], from_beginning=False) as reader:
        r = http.post(survey_url(stack, no, token), json={"score": 4, "solved": False})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "reopened"
        assert (r.json()["priority"], r.json()["escalation_level"]) == (2, 1)
        answered = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                     == "cp.complaint.survey_answered", timeout=15)
        ev = decode(stack, answered, "FollowupEvent")
        assert (ev.survey_score, ev.solved) == (4, False)
        reopened = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                     == "cp.complaint.reopened", timeout=15)
        ev = decode(stack, reopened, "FollowupEvent")
        assert (ev.priority, ev.escalation_level, ev.reopen_count) == (2, 1, 1)
    assert http.post(survey_url(stack, no, token), json={"score": 5, "solved": True}
                     ).status_code == 409
    sink.wait_step(no, "reopened")

    # executed again after the reopening: a new survey round, a score of 2 reopens again
    produce_executed(stack, cid, no, 0)
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND status = "
                     "'resolved'", (cid,))
    r = http.post(survey_url(stack, no, token), json={"score": 2, "solved": True})
    assert r.status_code == 200 and r.json()["status"] == "reopened"
    assert (r.json()["priority"], r.json()["escalation_level"]) == (1, 2)


def test_staff_question_and_customer_reply(stack, http, followup, sink):
    cid, no, waybill = new_case("CPQ")
    produce_received(stack, cid, no)
    produce_assigned(stack, cid, no, "ag1")
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND owner_staff_id "
                     "= 'ag1'", (cid,))
    sink.wait_step(no, "owner_assigned")
    ask = f"{stack.base_url}/v1/complaints/{no}/await-customer"
    reply = f"{stack.base_url}/v1/complaints/{no}/messages"
    token = customer_token(no)
    with stack.consumer(["complaint.followup.v1"], from_beginning=False) as reader:
        assert http.post(ask, json={"question": "x"}).status_code == 401
        assert http.post(ask, json={}, headers=AGENT).status_code == 422
        r = http.post(ask, json={"question": "请提供破损照片"}, headers=AGENT)
        assert r.status_code == 202, r.text
        seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                          == "cp.complaint.awaiting_customer", timeout=15)
        asked = sink.wait_step(no, "awaiting_customer")
        assert "请提供破损照片" in asked["note"]["text"]

        assert http.post(reply, json={"text": "hi"}).status_code == 401
        assert http.post(f"{reply}?token={'f' * 32}", json={"text": "hi"}).status_code == 403
        assert http.post(f"{reply}?token={token}", json={"text": ""}).status_code == 422
        r = http.post(f"{reply}?token={token}", json={"text": "照片已上传，电话13912345678"})
        assert r.status_code == 201, r.text
        assert r.json()["resumed"] is True
        replied = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                    == "cp.complaint.customer_replied", timeout=15)
        assert decode(stack, replied, "FollowupEvent").owner_staff_id == "ag1"
    owner_note = sink.wait_step(no, "customer_replied")
    assert owner_note["note"]["recipient"] == "staff:ag1"
    stored = stack.db().execute("SELECT text FROM followup.messages WHERE complaint_id = %s "
                                "AND author = 'customer'", (cid,)).fetchone()[0]
    assert "13912345678" not in stored


def test_templates_are_editable_by_admins(stack, http, followup, sink):
    url = f"{stack.base_url}/v1/templates"
    listed = http.get(url, headers=AGENT)
    assert listed.status_code == 200
    original = {(t["step"], t["language"]): t["body"] for t in listed.json()["templates"]}
    assert ("closed", "en") in original and ("appeal", "zh-CN") in original
    change = {"step": "received", "language": "en", "body": "We got {complaint_no}. Thanks!"}
    assert http.put(url, json=change, headers=AGENT).status_code == 403
    assert http.put(url, json=change, headers=SUP).status_code == 403  # supervisors read them
    bad = http.put(url, json={"step": "nope", "language": "fr"}, headers=ADMIN)
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["fields"]} == {"step", "language", "body"}
    try:
        r = http.put(url, json=change, headers=ADMIN)
        assert r.status_code == 200, r.text
        cid, no, waybill = new_case("CPE")
        produce_received(stack, cid, no, language="en")
        note = sink.wait_step(no, "received")
        assert note["note"]["text"] == f"We got {no}. Thanks!"
        assert note["note"]["language"] == "en"
    finally:
        http.put(url, json={"step": "received", "language": "en",
                            "body": original[("received", "en")]}, headers=ADMIN)


@pytest.fixture
def timer_stopped(stack):
    """The real timer would start clocks for the test's back-dated cases and breach them."""
    stack.stop_service("timer")
    try:
        yield
    finally:
        stack.start_service("timer")


def test_stats_match_the_cases_created(stack, http, staff, followup, sink, timer_stopped):
    outlet = f"OUT-{uuid.uuid4().hex[:8]}"
    t0 = datetime.now(timezone.utc) - timedelta(minutes=10)
    cases = [new_case("CPS") for _ in range(3)]
    (c1, n1, w1), (c2, n2, w2), (c3, n3, w3) = cases
    for cid, no, wb in cases:
        produce_received(stack, cid, no, outlet=outlet, received_at=iso(t0),
                         repeat=(cid == c3))
    # c1 and c2 get plans a supervisor approved, executed; c3 stays unclassified
    produce_classified(stack, c1, n1, w1, declared=3000, outlet=outlet)
    produce_classified(stack, c2, n2, w2, declared=1000, outlet=outlet)
    produce_first_response(stack, c1, n1, iso(t0 + timedelta(seconds=60)))
    produce_first_response(stack, c2, n2, iso(t0 + timedelta(seconds=300)))
    produce_breach(stack, c2, n2, "first_response")
    for (cid, no, wb), fen in zip(cases[:2], (3000, 1000)):
        produce_evidence(stack, cid, no, wb, party="courier")
        produce_executed(stack, cid, no, fen)
    for cid, no, _ in cases[:2]:
        wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND status = "
                         "'resolved'", (cid,))
    assert http.post(survey_url(stack, n1, customer_token(n1)),
                     json={"score": 5, "solved": True}).json()["status"] == "closed"
    assert http.post(survey_url(stack, n2, customer_token(n2)),
                     json={"score": 1, "solved": True}).json()["status"] == "reopened"
    wait_rows(stack, "SELECT 1 FROM followup.sla_events WHERE complaint_id = %s", (c2,))
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND is_repeat",
              (c3,))

    params = {"from": iso(t0 - timedelta(seconds=1)),
              "to": iso(datetime.now(timezone.utc) + timedelta(minutes=1)), "outlet": outlet}
    url = f"{stack.base_url}/v1/stats"
    assert http.get(url, params=params, headers=AGENT).status_code == 403
    assert http.get(url, params={"from": "yesterday"}, headers=SUP).status_code == 422
    r = http.get(url, params=params, headers=SUP)
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["received"] == 3
    assert s["first_response"]["count"] == 2
    assert s["first_response"]["median_s"] == pytest.approx(180)
    assert s["first_response"]["p90_s"] == pytest.approx(276)
    assert s["first_response"]["within_3min_share"] == pytest.approx(0.3333)
    assert s["whole_cycle"]["count"] == 1
    assert s["whole_cycle"]["median_s"] >= 600
    assert s["sla_compliance"] == {"first_response": pytest.approx(0.6667), "verification": 1,
                                   "resolution": 1, "regulatory": 1}
    assert s["repeat_rate"] == pytest.approx(0.3333)
    assert s["resolution_rate"] == pytest.approx(0.6667)
    assert s["first_contact_resolution"] == 1
    assert s["csat"] == {"answered": 2, "satisfied_share": 0.5, "average_score": 3}
    assert s["compensation_paid_fen"] == 4000
    assert s["closed"] == 1
    assert s["top_causes"] == [{"party": "courier", "count": 2}]

    transport = http.get(url, params={**params, "category": "transport"}, headers=SUP).json()
    assert (transport["received"], transport["resolution_rate"], transport["repeat_rate"]) == \
        (2, 1, 0)
    metrics = http.get(stack.service_url("followup") + "/metrics").text
    assert "cp_quality_received" in metrics
    assert 'cp_quality_sla_compliance_ratio{clock="first_response"}' in metrics
