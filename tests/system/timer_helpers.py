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
CLOCKS = ("first_response", "verification", "resolution", "regulatory")


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
             at: float | None = None):
    """Produces cp.complaint.classified with the policy durations (first_response,
    verification, resolution, regulatory) and pausable clocks."""
    ev = stack.proto.ComplaintClassified(
        complaint_id=cid, complaint_no=no, sla_policy="test", classified_at=iso(at),
        first_response_s=durations[0], verification_s=durations[1], resolution_s=durations[2],
        regulatory_s=durations[3], pausable_clocks=list(pausable), category="service",
        subcategory="damage", tier="standard", priority=3)
    stack.produce("complaint.classified.v1", cid, ev.SerializeToString(),
                  stack.ce_headers("cp.complaint.classified"))


def followup(stack, cid: str, no: str, ce_type: str, at: float | None = None):
    """cp.complaint.closed / awaiting_customer / customer_replied / reopened."""
    step = ce_type.rsplit(".", 1)[1]
    ev = stack.proto.FollowupEvent(complaint_id=cid, complaint_no=no, step=step, at=iso(at))
    stack.produce("complaint.followup.v1", cid, ev.SerializeToString(), stack.ce_headers(ce_type))


def assigned(stack, cid: str, no: str, action: str):
    ce_type = "cp.complaint.assigned" if action == "accepted" else "cp.complaint.offered"
    ev = stack.proto.ComplaintAssignment(complaint_id=cid, complaint_no=no, action=action,
                                         owner_staff_id="A001", at=iso())
    stack.produce("complaint.classified.v1", cid, ev.SerializeToString(), stack.ce_headers(ce_type))


def first_response(stack, cid: str, no: str):
    ev = stack.proto.FirstResponse(complaint_id=cid, complaint_no=no, scenario="inquiry", at=iso())
    stack.produce("complaint.classified.v1", cid, ev.SerializeToString(),
                  stack.ce_headers("cp.complaint.first_response"))


def evidence_collected(stack, cid: str, no: str):
    ev = stack.proto.EvidenceBundle(complaint_id=cid, complaint_no=no, version=1,
                                    collected_at=iso())
    stack.produce("complaint.evidence.v1", cid, ev.SerializeToString(),
                  stack.ce_headers("cp.complaint.evidence_collected"))


def resolution(stack, cid: str, no: str, ce_type: str):
    status = ce_type.rsplit("_", 1)[1]
    ev = stack.proto.ResolutionDecided(complaint_id=cid, complaint_no=no, status=status,
                                       decided_at=iso())
    stack.produce("complaint.resolution.v1", cid, ev.SerializeToString(), stack.ce_headers(ce_type))


def clocks(stack, cid: str) -> dict[str, dict]:
    """The timer's clock rows of a complaint, by clock name (straight from timer.clocks)."""
    rows = stack.db().execute(
        "SELECT clock, state, escalation_level, extract(epoch FROM due_at)::float8, "
        "extract(epoch FROM warn_at)::float8, pausable, paused_ms, stopped_by, "
        "extract(epoch FROM started_at)::float8, duration_s "
        "FROM timer.clocks WHERE complaint_id = %s", (cid,)).fetchall()
    return {r[0]: {"state": r[1], "level": r[2], "due": r[3], "warn": r[4], "pausable": r[5],
                   "paused_ms": r[6], "stopped_by": r[7], "started": r[8],
                   "duration": r[9]} for r in rows}


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


def sla_event(stack, msg):
    ev = stack.proto.SlaEvent()
    ev.ParseFromString(msg.value)
    return ev
