"""Timer: the clocks that time people (issue 8). Events are produced directly, so each rule is
seen alone: the automatic acknowledgement and the automatic evidence bundle stop nothing; a
person's contact stops the first-contact clock, a person's confirmation the verification clock;
the accept clock runs from the first offer to the acceptance and breaches otherwise; the whole
cycle ends at the close; every promised update time is a clock; a working-calendar clock is due
in working time (holidays and make-up days are operator data); a second classification keeps
the time already used and paused; and every change of a clock is announced as a
cp.complaint.clock_changed snapshot."""

import datetime
import time
import uuid

import pytest

from timer_helpers import (CHANGED, SLA_TOPIC, assigned, classify, contacted, evidence,
                           first_response, followup, is_alarm, is_snapshot, iso, new_id,
                           parse_iso, receive, sla_event, wait_clocks)

CST = datetime.timezone(datetime.timedelta(hours=8))


@pytest.fixture(scope="module", autouse=True)
def evidence_stopped(stack):
    """The real evidence service would answer classifications with its own bundles; the
    synthetic complaints get only the evidence events the tests produce."""
    stack.stop_service("evidence")
    try:
        yield
    finally:
        stack.start_service("evidence")


def state(name):
    return lambda c: name in c and c[name]["state"]


def test_first_contact_stops_only_on_a_persons_contact(stack):
    cid, no = new_id()
    classify(stack, cid, no)
    wait_clocks(stack, cid, lambda c: state("first_response")(c) == "running")
    first_response(stack, cid, no)  # the automatic acknowledgement
    assigned(stack, cid, no, "offered")
    assigned(stack, cid, no, "accepted")
    # one topic, one key: by the time the acceptance is applied, so is the acknowledgement
    c = wait_clocks(stack, cid, lambda c: state("accept")(c) == "stopped")
    assert c["first_response"]["state"] == "running", c
    assert c["accept"]["stopped_by"] == "cp.complaint.assigned"

    at = time.time()
    contacted(stack, cid, no, at=at)
    c = wait_clocks(stack, cid, lambda c: c["first_response"]["state"] == "stopped")
    assert c["first_response"]["stopped_by"] == "cp.complaint.contacted"
    assert abs(c["first_response"]["stopped_at"] - at) < 0.01
    assert c["verification"]["state"] == "running"


def test_verification_stops_only_on_a_confirmed_responsibility(stack):
    cid, no = new_id()
    t0 = time.time()
    classify(stack, cid, no, at=t0)
    wait_clocks(stack, cid, lambda c: state("verification")(c) == "running")
    evidence(stack, cid, no, at=t0 + 1)  # the automatic bundle
    evidence(stack, cid, no, "cp.complaint.evidence_updated", preliminary=True, at=t0 + 2)
    evidence(stack, cid, no, "cp.complaint.evidence_updated", preliminary=False, at=t0 + 3)
    c = wait_clocks(stack, cid, lambda c: c["verification"]["state"] == "stopped")
    # stopped by the confirmation (its time), not by the bundle or the preliminary update
    assert c["verification"]["stopped_by"] == "cp.complaint.evidence_updated"
    assert abs(c["verification"]["stopped_at"] - (t0 + 3)) < 0.01
    assert c["verification"]["used_ms"] == 3000
    assert c["first_response"]["state"] == "running"


def test_accept_clock_breaches_unless_the_offer_is_accepted(stack):
    taken, taken_no = new_id()
    left, left_no = new_id()
    with stack.consumer(SLA_TOPIC, from_beginning=False) as reader:
        for cid, no in ((taken, taken_no), (left, left_no)):
            classify(stack, cid, no, accept_s=2)
        at = time.time()
        assigned(stack, taken, taken_no, "offered", at=at)
        assigned(stack, taken, taken_no, "accepted", at=at + 0.5)
        assigned(stack, left, left_no, "offered", at=at)
        # a second offer round does not restart the clock
        assigned(stack, left, left_no, "offered", at=at + 1)
        c = wait_clocks(stack, left, lambda c: "accept" in c)
        assert abs(c["accept"]["started"] - at) < 0.01
        assert abs(c["accept"]["due"] - (at + 2)) < 0.01
        assert c["accept"]["duration"] == 2
        m = reader.poll_until(lambda m: is_alarm(stack, m, left, "accept", "breach"), timeout=20)
        ev = sla_event(stack, m)
        assert (ev.escalation_level, ev.escalated_to) == (1, "outlet_manager")
        assert ev.complaint_no == left_no
        # both offers fell due at the same instant; only the unaccepted one breached
        assert not [m for m in reader.messages if is_alarm(stack, m, taken, "accept")]
    c = wait_clocks(stack, taken, lambda c: state("accept")(c) == "stopped")
    assert c["accept"]["stopped_by"] == "cp.complaint.assigned"
    assert c["accept"]["level"] == 0


def test_an_offer_after_the_owner_was_lost_starts_a_new_accept_round(stack):
    cid, no = new_id()
    classify(stack, cid, no, accept_s=600)
    t0 = time.time()
    assigned(stack, cid, no, "offered", at=t0)
    assigned(stack, cid, no, "accepted", at=t0 + 1)
    # an offer to a case that has its owner (escalation offers it to the person named) and a
    # transfer to a colleague start nothing
    assigned(stack, cid, no, "offered", at=t0 + 2)
    assigned(stack, cid, no, "reassigned", at=t0 + 3, owner="A002")
    assigned(stack, cid, no, "offered", at=t0 + 4)
    # conflict of interest: the case is taken from its owner and offered to others
    assigned(stack, cid, no, "reassigned", at=t0 + 5, owner="")
    assigned(stack, cid, no, "offered", at=t0 + 6)
    # the events are one partition's, applied in order, so the round the last offer starts is
    # also the sign that the ones before it were applied: waiting for "running" alone could
    # read the first offer's round before the acceptance stopped it (it did, under load, once
    # the timer took the events in several batches).
    c = wait_clocks(stack, cid, lambda c: state("accept")(c) == "running" and
                    abs(c["accept"]["started"] - (t0 + 6)) < 0.01,
                    what="the accept clock running from the last offer (t0 + 6)")
    acc = c["accept"]
    assert acc["due"] == pytest.approx(t0 + 606, abs=0.01)
    assert (acc["level"], acc["used_ms"], acc["stopped_by"]) == (0, 0, None)


def test_whole_cycle_runs_from_receipt_to_close(stack):
    cid, no = new_id()
    t0 = time.time()
    classify(stack, cid, no, at=t0, whole_cycle_s=7200)
    c = wait_clocks(stack, cid, lambda c: "whole_cycle" in c)
    assert abs(c["whole_cycle"]["due"] - (t0 + 7200)) < 0.01
    # the stops of the other clocks leave it running
    contacted(stack, cid, no)
    evidence(stack, cid, no, "cp.complaint.evidence_updated", preliminary=False)
    c = wait_clocks(stack, cid, lambda c: c["verification"]["state"] == "stopped" and
                    c["first_response"]["state"] == "stopped")
    assert c["whole_cycle"]["state"] == "running"
    followup(stack, cid, no, "cp.complaint.closed", close_reason="resolved")
    c = wait_clocks(stack, cid, lambda c: c["whole_cycle"]["state"] == "stopped")
    assert c["whole_cycle"]["stopped_by"] == "cp.complaint.closed"

    # a receipt starts it with the default (24 h) before the classification; a policy that
    # switches the clock off (0) stops it, as stopped by the classification
    cid2, no2 = new_id()
    receive(stack, cid2, no2, t0)
    c = wait_clocks(stack, cid2, lambda c: "whole_cycle" in c)
    assert c["whole_cycle"]["duration"] == 86400
    assert c["whole_cycle"]["due"] == pytest.approx(t0 + 86400, abs=0.01)
    classify(stack, cid2, no2, at=t0 + 5, whole_cycle_s=0)
    c = wait_clocks(stack, cid2, lambda c: c["whole_cycle"]["state"] == "stopped")
    assert c["whole_cycle"]["stopped_by"] == "cp.complaint.classified"


def test_a_promised_update_is_a_clock(stack):
    cid, no = new_id()
    with stack.consumer(SLA_TOPIC, from_beginning=False) as reader:
        classify(stack, cid, no)
        wait_clocks(stack, cid, lambda c: "first_response" in c)
        promised = time.time() + 2
        contacted(stack, cid, no, next_update_by=iso(promised))
        c = wait_clocks(stack, cid, lambda c: "next_update" in c)
        assert c["next_update"]["state"] == "running"
        assert abs(c["next_update"]["due"] - promised) < 0.01
        assert c["first_response"]["stopped_by"] == "cp.complaint.contacted"
        # nobody updates the customer in time: breach and escalation, as every other clock
        m = reader.poll_until(lambda m: is_alarm(stack, m, cid, "next_update", "breach"),
                              timeout=20)
        assert sla_event(stack, m).escalation_level == 1
        assert abs(parse_iso(sla_event(stack, m).due_at) - promised) < 0.01
    # the owner gets back to the customer without a new promise: the clock stops
    contacted(stack, cid, no)
    c = wait_clocks(stack, cid, lambda c: c["next_update"]["state"] == "stopped")
    assert c["next_update"]["stopped_by"] == "cp.complaint.contacted"
    # a new promise arms it again
    again = time.time() + 3600
    contacted(stack, cid, no, next_update_by=iso(again))
    c = wait_clocks(stack, cid, lambda c: c["next_update"]["state"] == "running")
    assert abs(c["next_update"]["due"] - again) < 0.01 and c["next_update"]["level"] == 0

    # the automatic acknowledgement's promise is timed too, and stops nothing
    cid2, no2 = new_id()
    classify(stack, cid2, no2)
    wait_clocks(stack, cid2, lambda c: "first_response" in c)
    ack = time.time() + 7200
    first_response(stack, cid2, no2, next_update_by=iso(ack))
    c = wait_clocks(stack, cid2, lambda c: "next_update" in c)
    assert abs(c["next_update"]["due"] - ack) < 0.01
    assert c["first_response"]["state"] == "running"


def next_weekday(day: datetime.date, weekday: int) -> datetime.date:
    return day + datetime.timedelta(days=(weekday - day.weekday()) % 7)


def cst(day: datetime.date, hh: int, mm: int = 0) -> float:
    return datetime.datetime(day.year, day.month, day.day, hh, mm, tzinfo=CST).timestamp()


def test_a_working_calendar_clock_is_due_in_working_time(stack, http):
    db = stack.db()
    # the seed holds the 2026 public holidays and make-up days of the mainland calendar
    assert db.execute("SELECT working FROM timer.calendar_days WHERE calendar = 'cn-mainland' "
                      "AND day = '2026-02-14'").fetchone() == (True,)
    assert db.execute("SELECT working FROM timer.calendar_days WHERE calendar = 'cn-mainland' "
                      "AND day = '2026-10-01'").fetchone() == (False,)
    # an operator's calendar, in the future so that nothing fires: Mon-Fri 09:00-18:00 Beijing
    # time; the Monday after the first Friday is a public holiday, the Saturday after the
    # second Friday a make-up working day
    name = f"test-{uuid.uuid4().hex[:8]}"
    fri = next_weekday(datetime.datetime.now(CST).date() + datetime.timedelta(days=7), 4)
    fri2 = fri + datetime.timedelta(days=7)
    db.execute("INSERT INTO timer.calendars (name, utc_offset_min) VALUES (%s, 480)", (name,))
    db.execute("INSERT INTO timer.calendar_hours (calendar, weekday, start_min, end_min) "
               "SELECT %s, d, 540, 1080 FROM generate_series(1, 5) d", (name,))
    db.execute("INSERT INTO timer.calendar_days (calendar, day, working, start_min, end_min) "
               "VALUES (%s, %s, false, NULL, NULL), (%s, %s, true, 540, 1080)",
               (name, fri + datetime.timedelta(days=3), name, fri2 + datetime.timedelta(days=1)))

    cid, no = new_id()
    start = cst(fri, 17)  # a Friday evening before a public holiday
    classify(stack, cid, no, durations=(3600, 3600, 7200, 86400), at=start, calendar=name,
             working=("first_response", "resolution", "regulatory"))
    c = wait_clocks(stack, cid, lambda c: "resolution" in c)
    # 2 working hours: 17:00-18:00 on Friday, then (weekend, holiday Monday) Tuesday 09-10
    assert c["resolution"]["due"] == pytest.approx(cst(fri + datetime.timedelta(days=4), 10))
    assert c["resolution"]["calendar"] == name
    # exactly the rest of Friday: due at 18:00, not the next working morning
    assert c["first_response"]["due"] == pytest.approx(cst(fri, 18))
    # not on the working list: calendar time; the regulatory clock never runs on working time
    assert c["verification"]["due"] == pytest.approx(start + 3600)
    assert c["verification"]["calendar"] is None
    assert c["regulatory"]["due"] == pytest.approx(start + 86400)
    assert c["regulatory"]["calendar"] is None

    cid2, no2 = new_id()
    classify(stack, cid2, no2, durations=(0, 0, 7200, 0), at=cst(fri2, 17), calendar=name,
             working=("resolution",))
    c = wait_clocks(stack, cid2, lambda c: "resolution" in c)
    # the make-up Saturday counts: 1 h on Friday, 1 h on Saturday morning
    assert c["resolution"]["due"] == pytest.approx(cst(fri2 + datetime.timedelta(days=1), 10))

    body = http.get(f"{stack.base_url}/v1/complaints/{no}/clocks",
                    headers=stack.auth("agent")).json()
    res = next(x for x in body["clocks"] if x["clock"] == "resolution")
    assert res["calendar"] == name and res["used_s"] == 0  # it starts in the future
    assert parse_iso(res["due_at"]) == pytest.approx(cst(fri + datetime.timedelta(days=4), 10))


def test_a_new_policy_keeps_the_time_used_and_paused(stack):
    cid, no = new_id()
    t0 = time.time()
    with stack.consumer(SLA_TOPIC, from_beginning=False) as reader:
        classify(stack, cid, no, durations=(3600, 3600, 3600, 3600), pausable=("resolution",),
                 at=t0)
        wait_clocks(stack, cid, lambda c: state("resolution")(c) == "running")
        # 10 s counted, 30 s waiting on the customer, then 20 s more (the events' own stamps)
        followup(stack, cid, no, "cp.complaint.awaiting_customer", at=t0 + 10)
        wait_clocks(stack, cid, lambda c: c["resolution"]["state"] == "paused")
        followup(stack, cid, no, "cp.complaint.customer_replied", at=t0 + 40)
        wait_clocks(stack, cid, lambda c: c["resolution"]["state"] == "running")
        # re-classified at t0 + 60 s with a 600 s resolution: 570 s are left, not 600
        classify(stack, cid, no, durations=(3600, 3600, 600, 3600), pausable=("resolution",),
                 at=t0 + 60)
        c = wait_clocks(stack, cid, lambda c: c["resolution"]["duration"] == 600)
        res = c["resolution"]
        assert res["started"] == pytest.approx(t0, abs=0.01)
        assert res["paused_ms"] == 30000
        assert res["used_ms"] == 30000
        assert res["due"] == pytest.approx(t0 + 630, abs=0.01)
        # the other clocks kept their plan
        assert c["regulatory"]["due"] == pytest.approx(t0 + 3600, abs=0.01)

        m = reader.poll_until(lambda m: is_snapshot(stack, m, cid, "resolution", "replanned"))
        snaps = [sla_event(stack, x) for x in reader.messages
                 if is_snapshot(stack, x, cid, "resolution")]
    assert [s.kind for s in snaps] == ["started", "paused", "resumed", "replanned"]
    ev = sla_event(stack, m)
    assert m.headers["ce_type"] == CHANGED
    assert (ev.state, ev.duration_s, ev.used_s, ev.paused_s) == ("running", 600, 30, 30)
    assert parse_iso(ev.due_at) == pytest.approx(t0 + 630, abs=0.01)
    assert parse_iso(ev.started_at) == pytest.approx(t0, abs=0.01)
    assert ev.calendar == "" and ev.complaint_no == no and ev.escalated_to == "agent"
    paused = snaps[1]
    assert (paused.state, paused.used_s) == ("paused", 10)


def test_every_clock_change_is_announced(stack):
    cid, no = new_id()
    with stack.consumer(SLA_TOPIC, from_beginning=False) as reader:
        classify(stack, cid, no)
        # topics are not ordered among each other: a contact applied before the
        # classification would create the clock already stopped
        wait_clocks(stack, cid, lambda c: state("first_response")(c) == "running")
        contacted(stack, cid, no)
        reader.poll_until(lambda m: is_snapshot(stack, m, cid, "first_response", "stopped"))
        followup(stack, cid, no, "cp.complaint.closed", close_reason="resolved")
        reader.poll_until(lambda m: is_snapshot(stack, m, cid, "regulatory", "stopped"))
        reader.collect(timeout=1)
    snaps = [sla_event(stack, m) for m in reader.messages if is_snapshot(stack, m, cid)]
    started = {s.clock for s in snaps if s.kind == "started"}
    assert started == {"first_response", "verification", "resolution", "whole_cycle",
                       "regulatory"}
    stopped = {s.clock: s for s in snaps if s.kind == "stopped"}
    assert set(stopped) == started
    assert stopped["first_response"].stopped_by == "cp.complaint.contacted"
    assert stopped["whole_cycle"].stopped_by == "cp.complaint.closed"
    assert all(s.state == "stopped" for s in stopped.values())
    assert all(s.started_at and s.due_at and s.fired_at for s in snaps)
