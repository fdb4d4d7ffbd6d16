"""Issue 8 end to end on the real stack: people own the case and decide; the machine prepares,
times and shows. One damage complaint goes through every service with a person acting at
each step, and what the customer, the staff and the clocks see is checked on the way:

  offered to the nearest staff -> accepted (the owner) -> the plan is proposed at once but
  no money moves -> the owner contacts the customer (stops the first-response clock; the
  automatic acknowledgement did not) -> confirms the responsibility (stops verification;
  the automatic bundle did not) -> accepts the plan within their authority -> finance
  confirms the payout -> the customer sees the amount, answers the survey -> closed (stops
  the whole-cycle clock). The staff case view shows all of it in one request."""

from __future__ import annotations

import datetime
import time
import uuid

import pytest
import requests

from helpers import complaint, post, waybill, wait_rows
from stack import TOKENS

OUTLET = f"E2E-{uuid.uuid4().hex[:6]}"
ORIGIN = (-20.0, 40.0)  # far from every other test's staff and parcels
PEOPLE = {"agent": "agent", "agent2": "agent", "agent3": "agent"}


def bearer(role: str) -> dict:
    return {"Authorization": f"Bearer {TOKENS[role][0]}"}


@pytest.fixture(scope="module")
def staffed(stack):
    url = stack.base_url + "/v1/staff-registry/"
    people = [(TOKENS[role][1], kind, i) for i, (role, kind) in enumerate(PEOPLE.items())]
    for sid, kind, i in people:
        r = requests.put(url + sid, json={"outlet_id": OUTLET, "role": kind,
                                          "lat": ORIGIN[0], "lon": ORIGIN[1] + 0.01 * (i + 1),
                                          "available": True}, headers=bearer("admin"),
                         timeout=10)
        assert r.status_code == 200, r.text
    yield stack
    for sid, kind, _ in people:  # nobody stays available for other tests' complaints
        requests.put(url + sid, json={"outlet_id": OUTLET, "role": kind, "available": False},
                     headers=bearer("admin"), timeout=10)


MANAGER, AWAY = f"MGR-{uuid.uuid4().hex[:6]}", f"MGA-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def managed(staffed):
    """The outlet's two managers: the first in the ladder's order is away, the other is on
    duty."""
    url = staffed.base_url + "/v1/staff-registry/"
    for sid, available in ((AWAY, False), (MANAGER, True)):
        r = requests.put(url + sid, json={"outlet_id": OUTLET, "role": "outlet_manager",
                                          "lat": ORIGIN[0], "lon": ORIGIN[1],
                                          "available": available}, headers=bearer("admin"),
                         timeout=10)
        assert r.status_code == 200, r.text
    yield staffed
    for sid in (AWAY, MANAGER):
        requests.put(url + sid, json={"outlet_id": OUTLET, "role": "outlet_manager",
                                      "available": False}, headers=bearer("admin"), timeout=10)


@pytest.fixture
def fast_accept(stack):
    """A policy (first in rank) giving charges complaints a 3-second accept clock; the table is
    restored after the test."""
    url = stack.base_url + "/v1/sla-policies"
    saved = requests.get(url, headers=bearer("admin"), timeout=10).json()["policies"]
    fast = {**next(p for p in saved if p["name"] == "default"), "name": "e2e_fast_accept",
            "rank": 0, "category": "charges", "subcategory": None, "urgency": None,
            "tier": None, "accept_s": 3}
    r = requests.put(url, json={"policies": [fast, *saved]}, headers=bearer("admin"), timeout=10)
    assert r.status_code == 200, r.text
    yield
    r = requests.put(url, json={"policies": saved}, headers=bearer("admin"), timeout=10)
    assert r.status_code == 200, r.text


def scan(stack, waybill_no: str) -> None:
    at = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    ev = stack.proto.TrackingEvent(waybill_no=waybill_no, code=2, facility_id=OUTLET,
                                   facility_type="outlet", occurred_at=at, city="E2E",
                                   scan_id=str(uuid.uuid4()),
                                   location=stack.proto.GeoPoint(lat=ORIGIN[0], lon=ORIGIN[1]))
    stack.produce("parcel.tracking.v1", waybill_no, ev.SerializeToString(),
                  stack.ce_headers("cp.parcel.scanned", source="/carrier/test"))
    wait_rows(stack, "SELECT 1 FROM classification.parcel_positions WHERE waybill_no = %s",
              (waybill_no,))


def clock(stack, cid: str, name: str):
    return stack.db().execute("SELECT state, stopped_by FROM timer.clocks WHERE complaint_id = "
                              "%s AND clock = %s", (cid, name)).fetchone()


def status(stack, cid: str) -> str:
    return stack.db().execute("SELECT status FROM intake.complaints WHERE id = %s",
                              (cid,)).fetchone()[0]


def test_a_person_owns_every_step(staffed, http):
    stack = staffed
    owner = TOKENS["agent"][1]
    wb = waybill()
    scan(stack, wb)
    body = complaint(waybill_no=wb, impact={"goods": ["other"], "declared_value_fen": 12000,
                                            "freight_fen": 1200})
    r = post(http, stack, body)
    assert r.status_code == 201, r.text
    cid, no = r.json()["complaint_id"], r.json()["complaint_no"]
    token = r.json()["link"].split("token=")[1]
    base = stack.base_url

    # offered to the three nearest; the first to accept owns it
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND %s = ANY(offered_to)",
              (cid, owner))
    assert http.post(f"{base}/v1/complaints/{no}/accept",
                     headers=bearer("agent")).status_code == 200
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND owner_staff_id = %s",
              (cid, owner))
    assert http.post(f"{base}/v1/complaints/{no}/accept",
                     headers=bearer("agent2")).status_code == 409

    # the plan is proposed at once, but nothing is paid and the customer sees no amount
    proposal = wait_rows(stack, "SELECT id, total_fen FROM resolution.proposals WHERE "
                                "complaint_id = %s AND status = 'proposed'", (cid,))[0]
    pid, total = str(proposal[0]), proposal[1]
    assert total > 0
    # the automatic acknowledgement went out, and stopped no clock
    wait_rows(stack, "SELECT 1 FROM intake.timeline WHERE complaint_id = %s AND step = "
                     "'first_response'", (cid,))
    assert clock(stack, cid, "first_response")[0] == "running"
    wait_rows(stack, "SELECT 1 FROM intake.timeline WHERE complaint_id = %s AND step = "
                     "'evidence_found'", (cid,))
    assert clock(stack, cid, "verification")[0] == "running"
    assert stack.db().execute("SELECT count(*) FROM resolution.executions WHERE complaint_id = "
                              "%s", (cid,)).fetchone()[0] == 0
    view = http.get(f"{base}/v1/complaints/{no}", params={"token": token}).json()
    assert view["decision"] is None and view["status"] == "accepted"  # the draft moved nothing

    # the owner contacts the customer: a real contact stops the first-response clock
    r = http.post(f"{base}/v1/complaints/{no}/contact",
                  json={"text": "您好，我是负责您投诉的客服，正在核实分拣监控，今晚8点前答复您。"},
                  headers=bearer("agent"))
    assert r.status_code == 201, r.text
    wait_rows(stack, "SELECT 1 FROM timer.clocks WHERE complaint_id = %s AND clock = "
                     "'first_response' AND state = 'stopped'", (cid,))
    assert clock(stack, cid, "first_response")[1] == "cp.complaint.contacted"
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND status = 'in_contact'",
              (cid,))

    # another agent may not decide; the owner confirms the responsibility
    assert http.post(f"{base}/v1/complaints/{no}/evidence/confirm", json={},
                     headers=bearer("agent2")).status_code == 403
    r = http.post(f"{base}/v1/complaints/{no}/evidence/confirm",
                  json={"stage": "sorting", "party": "sorting_centre",
                        "note": "surveillance shows the box dropped at the sorter"},
                  headers=bearer("agent"))
    assert r.status_code == 200, r.text
    wait_rows(stack, "SELECT 1 FROM timer.clocks WHERE complaint_id = %s AND clock = "
                     "'verification' AND state = 'stopped'", (cid,))
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND status = 'verified'",
              (cid,))

    # the owner accepts the plan within their authority: now, and only now, money moves
    assert http.post(f"{base}/v1/proposals/{pid}/accept", json={},
                     headers=bearer("agent2")).status_code == 403
    r = http.post(f"{base}/v1/proposals/{pid}/accept", json={}, headers=bearer("agent"))
    assert r.status_code == 200, r.text
    execution = wait_rows(stack, "SELECT id FROM resolution.executions WHERE complaint_id = %s "
                                 "AND kind = 'payout' AND status = 'requested'", (cid,))[0][0]
    r = http.post(f"{base}/v1/executions/{execution}/confirm",
                  json={"status": "confirmed", "reference": "PAY-E2E"},
                  headers=bearer("integration"))
    assert r.status_code == 200, r.text
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND status = "
                     "'awaiting_confirmation'", (cid,))
    view = http.get(f"{base}/v1/complaints/{no}", params={"token": token}).json()
    assert view["decision"] and "CNY" in view["decision"]

    # the customer confirms: the case closes and the whole-cycle clock stops
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND status = "
                     "'resolved'", (cid,))
    r = http.post(f"{base}/v1/complaints/{no}/survey", params={"token": token},
                  json={"score": 5, "solved": True})
    assert r.status_code == 200, r.text
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND status = 'closed'",
              (cid,))
    wait_rows(stack, "SELECT 1 FROM timer.clocks WHERE complaint_id = %s AND clock = "
                     "'whole_cycle' AND state = 'stopped'", (cid,))

    # staff see the whole case in one request, every step with its person (once intake has
    # the timer's last snapshot: it travels on its own topic)
    wait_rows(stack, "SELECT 1 FROM intake.case_clocks WHERE complaint_id = %s AND clock = "
                     "'whole_cycle' AND state = 'stopped'", (cid,))
    case = http.get(f"{base}/v1/staff/complaints/{no}", headers=bearer("supervisor")).json()
    assert case["owner"]["staff_id"] == owner
    assert case["evidence"]["responsibility"]["preliminary"] is False
    assert case["evidence"]["responsibility"]["confirmed_by"] == owner
    assert [p["status"] for p in case["plans"]][-1] == "executed"
    assert any(m["actor"] == owner and m["direction"] == "to_customer"
               for m in case["conversation"])
    assert any(m["kind"] == "automatic" for m in case["conversation"])
    clocks = {c["clock"]: c for c in case["clocks"]}
    for name in ("first_response", "verification", "whole_cycle"):
        assert clocks[name]["state"] == "stopped", clocks[name]
    actors = {t["step"]: t["actor"] for t in case["timeline"]}
    assert actors["owner_assigned"] == owner and actors["contacted"] == owner
    assert actors["verified"] == owner
    steps = [t["step"] for t in case["timeline"]]
    assert steps.index("owner_assigned") < steps.index("contacted") < steps.index("verified")


def test_nobody_accepts_no_money_moves_and_a_named_person_is_called(managed, fast_accept, http):
    stack = managed
    wb = waybill()
    scan(stack, wb)
    body = complaint(waybill_no=wb, type="other", demand=["compensation", "freight_refund"],
                     description="快递员乱收费，多收了我二十元运费，要求退还",
                     impact={"goods": ["other"], "freight_fen": 2000})
    r = post(http, stack, body)
    assert r.status_code == 201, r.text
    cid, no = r.json()["complaint_id"], r.json()["complaint_no"]
    wait_rows(stack, "SELECT 1 FROM classification.classifications WHERE complaint_id = %s "
                     "AND sla_policy = 'e2e_fast_accept'", (cid,))
    # offered, nobody accepts: the accept clock breaches and the manager on duty (not the
    # one away) is named, offered the case and told
    wait_rows(stack, "SELECT 1 FROM timer.clocks WHERE complaint_id = %s AND clock = 'accept' "
                     "AND escalation_level >= 1", (cid,), timeout=60)
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND escalated_to = %s",
              (cid, MANAGER), timeout=60)
    case = http.get(f"{stack.base_url}/v1/staff/complaints/{no}", headers=bearer("supervisor"))
    escalations = [t for t in case.json()["timeline"] if t["step"] == "escalated"]
    assert escalations and escalations[0]["detail"]["escalated_to"] == MANAGER
    assert "accept" in escalations[0]["detail"]["reason"]
    assert AWAY not in str(escalations)
    wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND "
                     "recipient = %s", (cid, f"staff:{MANAGER}"))
    # the plan is drafted, and nothing is paid without a person's decision
    wait_rows(stack, "SELECT 1 FROM resolution.proposals WHERE complaint_id = %s AND status = "
                     "'proposed'", (cid,))
    time.sleep(2)  # the pipeline had every chance to pay
    assert stack.db().execute("SELECT count(*) FROM resolution.executions WHERE complaint_id = "
                              "%s", (cid,)).fetchone()[0] == 0
    assert case.json()["owner"]["staff_id"] is None
    assert status(stack, cid) == "offered"
