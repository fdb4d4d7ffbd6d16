"""Helpers of the timer's system tests: produce the events the timer reacts to, read clocks.

The synthetic complaints are announced only with cp.complaint.classified (never with
cp.complaint.received, which would start the real classification and its own policy); the timer
starts their clocks at classified_at. Their waybill_no is empty, so no other service builds on
them (evidence rejects such a classification)."""

from __future__ import annotations

import datetime
import time
import uuid

SLA_TOPIC = "complaint.sla.v1"
CLOCKS = ("accept", "first_response", "verification", "resolution", "whole_cycle", "next_update",
          "regulatory")
# The clocks a synthetic classification starts at once (accept waits for an offer, next_update
# for a promise).
RECEIPT_CLOCKS = ("first_response", "verification", "resolution", "whole_cycle", "regulatory")
ALARMS = ("cp.complaint.sla_warning", "cp.complaint.sla_breached")
CHANGED = "cp.complaint.clock_changed"


def iso(ts: float | None = None) -> str:
    ts = time.time() if ts is None else ts
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(s: str) -> float:
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def new_id() -> tuple[str, str]:
    cid = str(uuid.uuid4())
    return cid, "CPT" + cid[:8]


def classify(stack, cid: str, no: str, durations=(3600, 3600, 3600, 3600), pausable=(),
             at: float | None = None, accept_s: int = 300, whole_cycle_s: int = 86400,
             working=(), calendar: str = "", policy: str = "test"):
    """Produces cp.complaint.classified with the policy durations (first_response,
    verification, resolution, regulatory), accept and whole-cycle durations (classification's
    defaults; 0: the policy runs no such clock), pausable clocks, and the clocks on the working
    calendar named."""
    ev = stack.proto.ComplaintClassified(
        complaint_id=cid, complaint_no=no, sla_policy=policy, classified_at=iso(at),
        first_response_s=durations[0], verification_s=durations[1], resolution_s=durations[2],
        regulatory_s=durations[3], pausable_clocks=list(pausable), category="service",
        subcategory="damage", tier="standard", priority=3, accept_s=accept_s,
        whole_cycle_s=whole_cycle_s, working_time_clocks=list(working), calendar=calendar)
    stack.produce("complaint.classified.v1", cid, ev.SerializeToString(),
                  stack.ce_headers("cp.complaint.classified"))


def receive(stack, cid: str, no: str, at: float):
    """cp.complaint.received stamped received_at = at. The real classification classifies it
    too (with its own policy) unless the test stops it."""
    ev = stack.proto.ComplaintReceived(
        complaint_id=cid, complaint_no=no, channel="web", waybill_no="",
        customer_ref="cust_timertest", role="recipient", type=1, language="zh-CN",
        description_redacted="包裹破损", demand=["compensation"], received_at=iso(at))
    stack.produce("complaint.received.v1", cid, ev.SerializeToString(),
                  stack.ce_headers("cp.complaint.received"))


def followup(stack, cid: str, no: str, ce_type: str, at: float | None = None,
             next_update_by: str = "", **fields):
    """cp.complaint.closed / awaiting_customer / customer_replied / reopened / contacted."""
    step = ce_type.rsplit(".", 1)[1]
    ev = stack.proto.FollowupEvent(complaint_id=cid, complaint_no=no, step=step, at=iso(at),
                                   next_update_by=next_update_by, **fields)
    stack.produce("complaint.followup.v1", cid, ev.SerializeToString(), stack.ce_headers(ce_type))


def assigned(stack, cid: str, no: str, action: str, at: float | None = None,
             owner: str | None = None):
    """cp.complaint.offered (action offered) or cp.complaint.assigned (accepted, reassigned;
    owner "" when the case was taken from its owner)."""
    ce_type = "cp.complaint.offered" if action == "offered" else "cp.complaint.assigned"
    if owner is None:
        owner = "" if action == "offered" else "A001"
    ev = stack.proto.ComplaintAssignment(
        complaint_id=cid, complaint_no=no, action=action, staff_ids=["A001"],
        owner_staff_id=owner, at=iso(at))
    stack.produce("complaint.classified.v1", cid, ev.SerializeToString(), stack.ce_headers(ce_type))


def first_response(stack, cid: str, no: str, next_update_by: str = ""):
    """The automatic acknowledgement (with the update it promises, when given)."""
    ev = stack.proto.FirstResponse(complaint_id=cid, complaint_no=no, scenario="inquiry", at=iso(),
                                   next_update_by=next_update_by)
    stack.produce("complaint.classified.v1", cid, ev.SerializeToString(),
                  stack.ce_headers("cp.complaint.first_response"))


def contacted(stack, cid: str, no: str, next_update_by: str = "", at: float | None = None):
    """A person's real contact with the customer (a logged call), with or without a promise."""
    followup(stack, cid, no, "cp.complaint.contacted", at=at, next_update_by=next_update_by,
             contact_kind="call", outcome="reached", actor_staff_id="A001",
             owner_staff_id="A001")


def evidence(stack, cid: str, no: str, ce_type: str = "cp.complaint.evidence_collected",
             preliminary: bool = True, at: float | None = None):
    """The automatic bundle, or an update whose responsibility a person confirmed
    (preliminary false) or not."""
    resp = stack.proto.Responsibility(party="courier", party_id="C001", confidence_pct=80,
                                      preliminary=preliminary,
                                      confirmed_by="" if preliminary else "S001",
                                      confirmed_at="" if preliminary else iso(at))
    ev = stack.proto.EvidenceBundle(complaint_id=cid, complaint_no=no, version=1,
                                    collected_at=iso(at), responsibility=resp)
    stack.produce("complaint.evidence.v1", cid, ev.SerializeToString(), stack.ce_headers(ce_type))


def evidence_collected(stack, cid: str, no: str):
    evidence(stack, cid, no)


def evidence_confirmed(stack, cid: str, no: str):
    evidence(stack, cid, no, "cp.complaint.evidence_updated", preliminary=False)


def resolution(stack, cid: str, no: str, ce_type: str):
    status = ce_type.rsplit("_", 1)[1]
    ev = stack.proto.ResolutionDecided(complaint_id=cid, complaint_no=no, status=status,
                                       decided_at=iso())
    stack.produce("complaint.resolution.v1", cid, ev.SerializeToString(), stack.ce_headers(ce_type))


_conns: dict[int, object] = {}


def db(stack):
    """One connection per stack for the polling helpers (stack.db() opens a new one per call,
    and polling with it runs PostgreSQL out of connections)."""
    conn = _conns.get(id(stack))
    if conn is None or conn.closed:
        conn = _conns[id(stack)] = stack.db()
    return conn


def clocks(stack, cid: str) -> dict[str, dict]:
    """The timer's clock rows of a complaint, by clock name (straight from timer.clocks)."""
    rows = db(stack).execute(
        "SELECT clock, state, escalation_level, extract(epoch FROM due_at)::float8, "
        "extract(epoch FROM warn_at)::float8, pausable, paused_ms, stopped_by, "
        "extract(epoch FROM started_at)::float8, duration_s, calendar, used_ms, "
        "extract(epoch FROM stopped_at)::float8 "
        "FROM timer.clocks WHERE complaint_id = %s", (cid,)).fetchall()
    return {r[0]: {"state": r[1], "level": r[2], "due": r[3], "warn": r[4], "pausable": r[5],
                   "paused_ms": r[6], "stopped_by": r[7], "started": r[8],
                   "duration": r[9], "calendar": r[10], "used_ms": r[11],
                   "stopped_at": r[12]} for r in rows}


def wait_clocks(stack, cid: str, predicate, timeout: float = 15.0, what: str = "clocks"):
    """Polls the clocks of cid until predicate(clocks) is true; returns them."""
    deadline = time.monotonic() + timeout
    got = {}
    while time.monotonic() < deadline:
        got = clocks(stack, cid)
        if predicate(got):
            return got
        time.sleep(0.1)
    raise AssertionError(f"{what} of {cid} not reached within {timeout}s; clocks: {got}")


def timer_consuming(stack):
    """Waits until a (re)started timer applies events: a throwaway classification gets its
    clocks. A test whose clock starts at its classified_at would otherwise lose the seconds the
    consumer takes to join its group."""
    cid, no = new_id()
    classify(stack, cid, no, durations=(0, 0, 0, 3600))
    wait_clocks(stack, cid, lambda c: "regulatory" in c, timeout=30, what="a warm-up clock")


def sla_event(stack, msg):
    ev = stack.proto.SlaEvent()
    ev.ParseFromString(msg.value)
    return ev


def alarms(stack, messages, cid: str):
    """The warnings and breaches among messages, for cid (snapshots left out)."""
    return [m for m in messages if m.key == cid and m.headers.get("ce_type") in ALARMS]


def is_alarm(stack, m, cid: str, clock: str | None = None, kind: str | None = None) -> bool:
    if m.key != cid or m.headers.get("ce_type") not in ALARMS:
        return False
    ev = sla_event(stack, m)
    return (clock is None or ev.clock == clock) and (kind is None or ev.kind == kind)


def is_snapshot(stack, m, cid: str, clock: str | None = None, kind: str | None = None) -> bool:
    if m.key != cid or m.headers.get("ce_type") != CHANGED:
        return False
    ev = sla_event(stack, m)
    return (clock is None or ev.clock == clock) and (kind is None or ev.kind == kind)
