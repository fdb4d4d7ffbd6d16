"""Issue 9: an evidence request nobody answered by its due time first reminds its facility
(and tells the case's owner), then, still unanswered EVIDENCE_ESCALATE_AFTER_SECONDS after
the reminder, escalates to the owner's supervisor: a named, available person the staff
registry's ladder gives for the owner's outlet (the manager on duty, not the one away), told
on the staff app with why, while the owner keeps the case. On the real stack: a stuck parcel's
proactive case is offered at the outlet, an agent accepts it, the facility does not answer."""

import uuid

import pytest
import requests

from helpers import wait_rows, waybill
from stack import TOKENS
from test_notify_channels import signed, wait_inbox

RUN = uuid.uuid4().hex[:6]
OUTLET, REGION = f"EVO-{RUN}", f"REG-{RUN}"
OWNER = TOKENS["agent4"][1]
# the ladder is read in staff id order: the manager who is away comes first and is skipped
AWAY, ON_DUTY, REGIONAL = f"M1-{RUN}", f"M2-{RUN}", f"RS-{RUN}"
SPOT = (-33.5, 151.5)  # far from every other test's staff
ADMIN = {"Authorization": f"Bearer {TOKENS['admin'][0]}"}


def registry(stack, sid, role, available, lat_off=0.0):
    r = requests.put(f"{stack.base_url}/v1/staff-registry/{sid}", headers=ADMIN, timeout=10,
                     json={"outlet_id": OUTLET, "role": role, "available": available,
                           "region_id": REGION, "lat": SPOT[0], "lon": SPOT[1] + lat_off})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def ladder(stack):
    people = [(OWNER, "agent", True), (AWAY, "outlet_manager", False),
              (ON_DUTY, "outlet_manager", True), (REGIONAL, "regional_supervisor", True)]
    for i, (sid, role, available) in enumerate(people):
        registry(stack, sid, role, available, 0.01 * i)
    yield
    for sid, role, _ in people:  # nobody stays available for other tests' complaints
        registry(stack, sid, role, False)


def owned_case(stack):
    """A stuck parcel's case at the outlet, accepted by the agent there."""
    wb = waybill()
    x = stack.proto.ParcelException(waybill_no=wb, kind="stuck", facility_id=OUTLET,
                                    facility_type="outlet", stuck_seconds=30 * 3600,
                                    threshold_seconds=24 * 3600, proactive_case=True)
    stack.produce("parcel.exception.v1", wb, x.SerializeToString(),
                  stack.ce_headers("cp.parcel.stuck", source="/cp/evidence"))
    cid, no = wait_rows(stack, "SELECT id::text, complaint_no FROM intake.complaints WHERE "
                               "waybill_no = %s", (wb,))[0]
    wait_rows(stack, "SELECT 1 FROM classification.offers WHERE complaint_id = %s AND staff_id "
                     "= %s", (cid, OWNER))
    r = requests.post(f"{stack.base_url}/v1/complaints/{no}/accept", timeout=10,
                      headers={"Authorization": f"Bearer {TOKENS['agent4'][0]}"})
    assert r.status_code == 200, r.text
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND owner_staff_id = "
                     "%s", (cid, OWNER))
    # the bundle the facility is asked to complete
    wait_rows(stack, "SELECT 1 FROM evidence.bundles WHERE complaint_id = %s", (cid,))
    return cid, no


def test_an_unanswered_evidence_request_escalates_to_the_owners_supervisor(stack, ladder):
    cid, no = owned_case(stack)
    rid = str(uuid.uuid4())
    conn = stack.db()
    conn.execute("INSERT INTO evidence.requests (request_id, complaint_id, facility_id, "
                 "facility_type, kind, due_at) VALUES (%s, %s, %s, 'outlet', 'surveillance', "
                 "now() - interval '1 minute')", (rid, cid, OUTLET))
    with stack.consumer("complaint.evidence_request.v1", from_beginning=False) as reader:
        with stack.service_env("evidence", EVIDENCE_OVERDUE_CHECK_MS="200",
                               EVIDENCE_ESCALATE_AFTER_SECONDS="1",
                               STUCK_PROACTIVE_CASE="false"):
            # first the facility is reminded and the owner told ...
            reminded = wait_inbox(stack, f"staff:{OWNER}", no, ["staff_evidence_overdue"])
            # ... then the owner's supervisor on duty is named and told, with why
            got = wait_inbox(stack, f"staff:{ON_DUTY}", no, ["staff_escalated"])
            reader.poll_until(lambda m: m.key == cid and m.headers["ce_type"] ==
                              "cp.complaint.evidence_request_escalated", timeout=30)
            reader.collect(timeout=2)
    kinds = [m.headers["ce_type"] for m in reader.messages if m.key == cid]
    assert kinds == ["cp.complaint.evidence_request_overdue",
                     "cp.complaint.evidence_request_escalated"]
    assert conn.execute("SELECT overdue_at < escalated_at FROM evidence.requests WHERE "
                        "request_id = %s", (rid,)).fetchone()[0]
    reminded = [m for m in reminded if m["note"]["step"] == "staff_evidence_overdue"]
    assert len(reminded) == 1 and signed(reminded[0])
    escalated = [m for m in got if m["note"]["step"] == "staff_escalated"]
    assert len(escalated) == 1 and signed(escalated[0])
    assert escalated[0]["channel"] == "staff_app"
    assert f"evidence_overdue:surveillance:{OUTLET}" in escalated[0]["note"]["text"]
    # the escalation names that one person on the outlet manager's rung; the owner keeps it
    row = conn.execute("SELECT state, owner_staff_id, escalation_level FROM "
                       "classification.assignments WHERE complaint_id = %s", (cid,)).fetchone()
    assert row == ("accepted", OWNER, 1)
    told = conn.execute("SELECT recipient FROM followup.notifications WHERE complaint_id = %s "
                        "AND step = 'staff_escalated'", (cid,)).fetchall()
    assert [t[0] for t in told] == [f"staff:{ON_DUTY}"]
