"""Timer: the SLA clocks of a complaint on the real broker and PostgreSQL — warning, breach and
the escalation ladder, the events that stop each clock, pausing while waiting on the customer
(never the regulatory clock), events that arrive before their clock exists, and the staff
endpoint GET /v1/complaints/{id_or_no}/clocks on a complaint that went through the pipeline.
The clocks that time people (accept, first contact, verification, next update, working
calendars) have their own scenarios in test_timer_people.py."""

import time

import pytest
import requests

from helpers import complaint, post, waybill
from timer_helpers import (ALARMS, CLOCKS, RECEIPT_CLOCKS, SLA_TOPIC, alarms, assigned, classify,
                           clocks, contacted, evidence_collected, evidence_confirmed,
                           first_response, followup, iso, new_id, parse_iso, resolution, sla_event,
                           timer_consuming, wait_clocks)


@pytest.fixture(scope="module", autouse=True)
def evidence_stopped(stack):
    """The real evidence service answers every classification with
    cp.complaint.evidence_collected, which would stop the synthetic complaints' verification
    clocks before the tests do. It is stopped for this module and catches up afterwards."""
    stack.stop_service("evidence")
    try:
        yield
    finally:
        stack.start_service("evidence")


def wait_sql(stack, sql, params, what, timeout=15.0):
    conn = stack.db()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.execute(sql, params).fetchone()[0]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not seen within {timeout}s")


def metric(stack, name, labels):
    text = requests.get(stack.service_url("timer") + "/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(name + "{") and labels in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_warning_breach_and_the_escalation_ladder(stack):
    cid, no = new_id()
    # warnings at 50 % of each level's 2 s, looked for every 100 ms
    with stack.service_env("timer", TIMER_TICK_MS="100", SLA_WARN_PERCENT="50",
                           TIMER_GAUGE_MS="200"), \
            stack.consumer(SLA_TOPIC, from_beginning=False) as reader:
        timer_consuming(stack)
        start = time.time()
        classify(stack, cid, no, durations=(2, 0, 0, 0))
        # level 0 warns at 1 s and breaches at 2 s; every breach re-arms for 2 s more until
        # HQ (level 3), where the ladder is exhausted
        seen = []
        for _ in range(6):
            m = reader.poll_until(lambda m: m.key == cid and m.headers["ce_type"] in ALARMS
                                  and m.headers["ce_id"] not in {s[0] for s in seen}, timeout=15)
            seen.append((m.headers["ce_id"], m.headers["ce_type"], sla_event(stack, m)))
            if len(seen) == 1:
                running = metric(stack, "cp_sla_clocks_running", 'clock="first_response"')
        extra = alarms(stack, reader.collect(timeout=3.5), cid)
        breaches_after = metric(stack, "cp_sla_breaches_total", 'clock="first_response"')
    kinds = [(ev.kind, ev.escalation_level, ev.escalated_to) for _, _, ev in seen]
    assert kinds == [("warning", 0, "agent"), ("breach", 1, "outlet_manager"),
                     ("warning", 1, "outlet_manager"), ("breach", 2, "regional_supervisor"),
                     ("warning", 2, "regional_supervisor"), ("breach", 3, "hq")], kinds
    assert extra == [], "an exhausted clock fired again"
    for _, ce_type, ev in seen:
        assert ce_type == ("cp.complaint.sla_breached" if ev.kind == "breach"
                           else "cp.complaint.sla_warning")
        assert ev.clock == "first_response" and ev.complaint_no == no and ev.duration_s == 2
    warn0, breach1 = seen[0][2], seen[1][2]
    due0 = parse_iso(warn0.due_at)
    assert abs(due0 - (start + 2)) < 1.0, (warn0.due_at, start)
    assert breach1.due_at == warn0.due_at  # the breach names the deadline it missed
    assert parse_iso(warn0.fired_at) >= due0 - 1.0 - 0.05  # the warning came at 50 %
    assert parse_iso(breach1.fired_at) >= due0 - 0.05
    assert abs(parse_iso(breach1.next_due_at) - parse_iso(breach1.fired_at) - 2) < 0.6
    assert seen[5][2].next_due_at == ""  # HQ: nothing left to re-arm
    c = clocks(stack, cid)["first_response"]
    assert (c["state"], c["level"]) == ("exhausted", 3)
    assert running >= 1
    assert breaches_after >= 3  # counted by the restarted process: at least this clock's


def open_clocks(c):
    return {k for k, v in c.items() if v["state"] == "running"}


def test_each_stop_event_stops_its_clock(stack):
    cid, no = new_id()
    classify(stack, cid, no)
    wait_clocks(stack, cid, lambda c: open_clocks(c) == set(RECEIPT_CLOCKS))
    assigned(stack, cid, no, "offered")  # the offer starts the accept clock
    c = wait_clocks(stack, cid, lambda c: "accept" in c)
    assert c["accept"]["state"] == "running"
    resolution(stack, cid, no, "cp.complaint.resolution_proposed")  # a proposal stops nothing
    assigned(stack, cid, no, "accepted")
    c = wait_clocks(stack, cid, lambda c: c["accept"]["state"] == "stopped")
    assert c["accept"]["stopped_by"] == "cp.complaint.assigned"
    # accepting the case is not contacting the customer
    assert open_clocks(c) == set(RECEIPT_CLOCKS)

    resolution(stack, cid, no, "cp.complaint.resolution_executed")
    c = wait_clocks(stack, cid, lambda c: c["resolution"]["state"] == "stopped")
    assert c["resolution"]["stopped_by"] == "cp.complaint.resolution_executed"

    evidence_confirmed(stack, cid, no)
    c = wait_clocks(stack, cid, lambda c: c["verification"]["state"] == "stopped")
    assert c["verification"]["stopped_by"] == "cp.complaint.evidence_updated"

    contacted(stack, cid, no)
    c = wait_clocks(stack, cid, lambda c: c["first_response"]["state"] == "stopped")
    assert c["first_response"]["stopped_by"] == "cp.complaint.contacted"
    assert open_clocks(c) == {"whole_cycle", "regulatory"}

    followup(stack, cid, no, "cp.complaint.closed")
    c = wait_clocks(stack, cid, lambda c: not open_clocks(c))
    assert c["regulatory"]["stopped_by"] == "cp.complaint.closed"
    assert c["whole_cycle"]["stopped_by"] == "cp.complaint.closed"
    # the earlier stops keep their cause
    assert c["accept"]["stopped_by"] == "cp.complaint.assigned"
    assert c["first_response"]["stopped_by"] == "cp.complaint.contacted"


def test_reopen_restarts_the_resolution_clock_one_level_up(stack):
    cid, no = new_id()
    classify(stack, cid, no, durations=(3600, 3600, 600, 3600))
    wait_clocks(stack, cid, lambda c: len(c) == 5)
    resolution(stack, cid, no, "cp.complaint.resolution_executed")
    followup(stack, cid, no, "cp.complaint.closed")
    wait_clocks(stack, cid, lambda c: all(v["state"] == "stopped" for v in c.values()))
    reopened_at = time.time()
    followup(stack, cid, no, "cp.complaint.reopened", at=reopened_at)
    c = wait_clocks(stack, cid, lambda c: c["resolution"]["state"] == "running")
    assert c["resolution"]["level"] == 1
    assert abs(c["resolution"]["due"] - (reopened_at + 600)) < 0.01
    assert c["regulatory"]["state"] == "stopped"


def test_pause_moves_the_due_time_and_never_pauses_the_regulatory_clock(stack):
    cid, no = new_id()
    # the policy names regulatory as pausable too: it must run on regardless
    classify(stack, cid, no, pausable=("first_response", "resolution", "regulatory"))
    before = wait_clocks(stack, cid, lambda c: len(c) == 5)
    assert not before["regulatory"]["pausable"]
    t0 = time.time()
    followup(stack, cid, no, "cp.complaint.awaiting_customer", at=t0)
    c = wait_clocks(stack, cid, lambda c: c["resolution"]["state"] == "paused")
    assert {k: v["state"] for k, v in c.items()} == {
        "first_response": "paused", "verification": "running", "resolution": "paused",
        "whole_cycle": "running", "regulatory": "running"}
    # the customer answers 90 s later (by the event's own time stamp)
    followup(stack, cid, no, "cp.complaint.customer_replied", at=t0 + 90)
    c = wait_clocks(stack, cid, lambda c: c["resolution"]["state"] == "running")
    for name in ("first_response", "resolution"):
        assert abs(c[name]["due"] - (before[name]["due"] + 90)) < 0.01, name
        assert abs(c[name]["warn"] - (before[name]["warn"] + 90)) < 0.01, name
        assert c[name]["paused_ms"] == 90000
    for name in ("verification", "whole_cycle", "regulatory"):
        assert abs(c[name]["due"] - before[name]["due"]) < 0.001, name
        assert c[name]["paused_ms"] == 0


def test_a_paused_clock_does_not_breach_until_resumed(stack):
    cid, no = new_id()
    with stack.consumer(SLA_TOPIC, from_beginning=False) as reader:
        followup(stack, cid, no, "cp.complaint.awaiting_customer")  # before the clock exists
        # topics are not ordered among each other: let the wait be applied first
        wait_sql(stack, "SELECT count(*) FROM timer.cases WHERE complaint_id = %s AND "
                        "awaiting_since IS NOT NULL", (cid,), "the wait on the customer")
        classify(stack, cid, no, durations=(2, 0, 0, 2), pausable=("first_response",))
        c = wait_clocks(stack, cid, lambda c: len(c) == 3)  # and whole_cycle
        assert c["first_response"]["state"] == "paused"  # created paused
        reader.poll_until(lambda m: m.key == cid and m.headers["ce_type"] in ALARMS and
                          sla_event(stack, m).clock == "regulatory" and
                          sla_event(stack, m).kind == "breach", timeout=10)
        assert not [m for m in alarms(stack, reader.messages, cid)
                    if sla_event(stack, m).clock == "first_response"]
        followup(stack, cid, no, "cp.complaint.customer_replied")
        m = reader.poll_until(lambda m: m.key == cid and m.headers["ce_type"] in ALARMS and
                              sla_event(stack, m).clock == "first_response" and
                              sla_event(stack, m).kind == "breach", timeout=10)
    assert sla_event(stack, m).escalation_level == 1


def test_stops_that_arrive_before_the_clocks_exist(stack):
    cid, no = new_id()
    evidence_confirmed(stack, cid, no)
    # topics are not ordered among each other: let each stop be applied before the next
    wait_sql(stack, "SELECT count(*) = 1 FROM timer.stops WHERE complaint_id = %s",
             (cid,), "the recorded confirmation")
    followup(stack, cid, no, "cp.complaint.closed")
    # closed records one per clock; the confirmation keeps verification's
    wait_sql(stack, "SELECT count(*) = %s AND bool_or(stopped_by = "
                    "'cp.complaint.evidence_updated') FROM timer.stops WHERE complaint_id = %s",
             (len(CLOCKS), cid), "the recorded stops")
    classify(stack, cid, no)
    c = wait_clocks(stack, cid, lambda c: len(c) == 5)
    assert {k: v["state"] for k, v in c.items()} == {k: "stopped" for k in c}
    assert c["verification"]["stopped_by"] == "cp.complaint.evidence_updated"
    assert c["regulatory"]["stopped_by"] == "cp.complaint.closed"
    assert c["whole_cycle"]["stopped_by"] == "cp.complaint.closed"


def test_staff_read_the_clocks_of_a_complaint_from_the_pipeline(stack, http):
    r = post(http, stack, complaint())
    assert r.status_code == 201, r.text
    cid, no = r.json()["complaint_id"], r.json()["complaint_no"]
    url = f"{stack.base_url}/v1/complaints/{no}/clocks"

    def read():
        got = http.get(url, headers=stack.auth("agent"))
        return got.json() if got.status_code == 200 else None

    deadline = time.time() + 30
    body = None
    while time.time() < deadline:
        body = read()
        if body and body["sla_policy"] and {"first_response", "verification", "resolution",
                                            "whole_cycle", "regulatory"} <= \
                {c["clock"] for c in body["clocks"]}:
            break
        time.sleep(0.2)
    names = [c["clock"] for c in body["clocks"]]
    # every clock side by side, in the fixed order (accept and next_update when the pipeline
    # offered the case or promised an update)
    assert names == [n for n in CLOCKS if n in names], body
    assert body["complaint_id"] == cid and body["complaint_no"] == no
    by = {c["clock"]: c for c in body["clocks"]}
    fr = by["first_response"]
    # the automatic acknowledgement went out, but nobody contacted the customer yet
    assert fr["state"] == "running", body
    assert fr["stopped_by"] is None
    for c in body["clocks"]:
        assert {"due_at", "used_s", "paused_s", "state", "calendar", "escalation_level",
                "escalated_to"} <= set(c), c
        assert c["used_s"] >= 0 and c["paused_s"] == 0
    reg = by["regulatory"]
    assert reg["state"] == "running" and reg["escalated_to"] == "agent" and not reg["pausable"]
    assert reg["calendar"] == ""
    assert parse_iso(reg["due_at"]) > time.time()

    # by complaint_id as well; staff only
    assert http.get(f"{stack.base_url}/v1/complaints/{cid}/clocks",
                    headers=stack.auth("supervisor")).json()["complaint_no"] == no
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert http.get(url, headers=stack.auth("integration")).status_code == 403
    missing = http.get(f"{stack.base_url}/v1/complaints/CP19990101-000000/clocks",
                       headers=stack.auth("agent"))
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_a_receipt_after_its_classification_moves_the_start_to_received_at(stack):
    cid, no = new_id()
    now = time.time()
    classify(stack, cid, no, durations=(0, 0, 0, 3600), at=now)
    c = wait_clocks(stack, cid, lambda c: "regulatory" in c)
    assert abs(c["regulatory"]["due"] - (now + 3600)) < 0.01  # provisional: from classified_at
    received_at = now - 100
    ev = stack.proto.ComplaintReceived(
        complaint_id=cid, complaint_no=no, channel="web", waybill_no=waybill(),
        customer_ref="cust_timertest", role="recipient", type=1, language="zh-CN",
        description_redacted="包裹破损", demand=["compensation"], received_at=iso(received_at))
    stack.produce("complaint.received.v1", cid, ev.SerializeToString(),
                  stack.ce_headers("cp.complaint.received"))
    # the real classification classifies this receipt too and may change the durations; the
    # clocks must start at received_at either way
    c = wait_clocks(stack, cid, lambda c: abs(c["regulatory"]["started"] - received_at) < 0.01,
                    what="regulatory clock rescheduled from received_at")
    reg = c["regulatory"]
    assert abs(reg["due"] - (received_at + reg["duration"])) < 0.01
    assert reg["level"] == 0 and reg["state"] == "running"
