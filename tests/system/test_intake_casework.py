"""The case as people work it, at intake: the lifecycle status (forward only), the owner, the
staff queue (filters, nearest deadline first, keyset pages), the whole case in one request,
internal notes (owner or supervisor only), and what the customer may see.

Intake is driven by the events the other services would announce; those services are stopped
for this module so only the events produced here reach intake (the real pipeline's own
reactions, the timer's clocks included, are tested in their services' modules)."""

from __future__ import annotations

import datetime
import json
import time
import uuid

import pytest

from helpers import complaint, post, wait_rows
from stack import TOKENS

OTHERS = ("classification", "evidence", "resolution", "followup", "timer")


def bearer(role: str) -> dict:
    return {"Authorization": f"Bearer {TOKENS[role][0]}"}


def staff_id(role: str) -> str:
    return TOKENS[role][1]


def iso(offset_s: float = 0.0) -> str:
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture(scope="module", autouse=True)
def only_intake(stack):
    for name in OTHERS:
        stack.stop_service(name)
    yield
    for name in OTHERS:
        stack.start_service(name)


class Case:
    """One complaint filed through the front door, and the events other services announce."""

    def __init__(self, stack, http, **over):
        self.stack, self.http = stack, http
        self.body = complaint(**over)
        r = post(http, stack, self.body)
        assert r.status_code == 201, r.text
        self.id, self.no = r.json()["complaint_id"], r.json()["complaint_no"]
        self.link = r.json()["link"]

    def produce(self, topic: str, ce_type: str, msg) -> None:
        self.stack.produce(topic, self.id, msg.SerializeToString(),
                           self.stack.ce_headers(ce_type, source="/cp/test"))

    def assignment(self, ce_type: str, **fields) -> None:
        ev = self.stack.proto.ComplaintAssignment(complaint_id=self.id, complaint_no=self.no,
                                                  at=iso(), **fields)
        self.produce("complaint.classified.v1", ce_type, ev)

    def offered(self, *staff):
        self.assignment("cp.complaint.offered", action="offered", staff_ids=list(staff), round=1)

    def accepted(self, owner: str):
        self.assignment("cp.complaint.assigned", action="accepted", owner_staff_id=owner)

    def followup(self, ce_type: str, **fields) -> None:
        ev = self.stack.proto.FollowupEvent(complaint_id=self.id, complaint_no=self.no,
                                            at=iso(), **fields)
        self.produce("complaint.followup.v1", ce_type, ev)

    def evidence(self, ce_type: str, version: int, **resp) -> None:
        ev = self.stack.proto.EvidenceBundle(complaint_id=self.id, complaint_no=self.no,
                                             waybill_no=self.body["waybill_no"], version=version,
                                             tracking_found=True, collected_at=iso())
        for k, v in resp.items():
            setattr(ev.responsibility, k, v)
        f = ev.findings.add()
        f.kind, f.facility_id, f.seconds = "stuck", "SZ-HUB-1", 90000
        self.produce("complaint.evidence.v1", ce_type, ev)

    def plan(self, ce_type: str, status: str, proposal_id: str, fen: int = 3600,
             proposed_by: str = "system", approved_by: str = "") -> None:
        ev = self.stack.proto.ResolutionDecided(complaint_id=self.id, complaint_no=self.no,
                                                proposal_id=proposal_id, status=status,
                                                decided_at=iso(), proposed_by=proposed_by,
                                                approved_by=approved_by,
                                                rule="uninsured_damage")
        rem = ev.remedies.add()
        rem.kind, rem.rule = "compensation", "uninsured_damage"
        rem.amount.amount_fen, rem.amount.currency = fen, "CNY"
        ev.total.amount_fen, ev.total.currency = fen, "CNY"
        self.produce("complaint.resolution.v1", ce_type, ev)

    def clock(self, clock: str, due_in_s: float, state: str = "running") -> None:
        ev = self.stack.proto.SlaEvent(complaint_id=self.id, complaint_no=self.no, clock=clock,
                                       kind="started", state=state, due_at=iso(due_in_s),
                                       started_at=iso(-10), duration_s=600, used_s=10)
        self.produce("complaint.sla.v1", "cp.complaint.clock_changed", ev)

    def status(self) -> str:
        return self.stack.db().execute("SELECT status FROM intake.complaints WHERE id = %s",
                                       (self.id,)).fetchone()[0]

    def wait_status(self, status: str) -> None:
        wait_rows(self.stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND status = %s",
                  (self.id, status))

    def wait_step(self, step: str) -> None:
        wait_rows(self.stack, "SELECT 1 FROM intake.timeline WHERE complaint_id = %s AND "
                              "step = %s", (self.id, step))

    def customer_view(self) -> dict:
        token = self.link.split("token=")[1]
        r = self.http.get(f"{self.stack.base_url}/v1/complaints/{self.no}",
                          params={"token": token})
        assert r.status_code == 200, r.text
        return r.json()

    def staff_view(self, role: str = "agent") -> dict:
        r = self.http.get(f"{self.stack.base_url}/v1/staff/complaints/{self.no}",
                          headers=bearer(role))
        assert r.status_code == 200, r.text
        return r.json()


def test_the_status_moves_forward_along_the_lifecycle(stack, http):
    case = Case(stack, http)
    assert case.status() == "received"
    case.offered(staff_id("agent"), staff_id("agent2"))
    case.wait_status("offered")
    case.accepted(staff_id("agent"))
    case.wait_status("accepted")
    # a late offer (another topic, another order) never moves the case back
    case.offered(staff_id("agent3"))
    case.wait_step("owner_assigned")
    case.followup("cp.complaint.contacted", contact_kind="call", outcome="reached",
                  actor_staff_id=staff_id("agent"), text_redacted="called, parcel stuck at hub",
                  next_update_by=iso(3600))
    case.wait_status("in_contact")
    assert case.status() == "in_contact"
    # the automatic bundle verifies nothing; a person's confirmation does
    case.evidence("cp.complaint.evidence_collected", 1, stage="sorting", party="outlet",
                  preliminary=True, confidence_pct=55)
    case.wait_step("evidence_found")
    assert case.status() == "in_contact"
    case.evidence("cp.complaint.evidence_updated", 2, stage="sorting", party="outlet",
                  preliminary=False, confirmed_by=staff_id("agent"))
    case.wait_status("verified")
    # the machine's draft is preparation for the owner: staff see it, the status stays
    pid = str(uuid.uuid4())
    case.plan("cp.complaint.resolution_proposed", "proposed", pid)
    case.wait_step("plan_drafted")
    assert case.status() == "verified"
    # a person puts a plan forward (amended within nobody's authority yet)
    case.plan("cp.complaint.resolution_proposed", "proposed", pid, proposed_by=staff_id("agent"))
    case.wait_status("plan_proposed")
    case.plan("cp.complaint.resolution_proposed", "pending_approval", pid,
              proposed_by=staff_id("agent"))
    case.wait_status("pending_approval")
    case.plan("cp.complaint.resolution_approved", "approved", pid, approved_by="S001")
    case.wait_status("executing")
    case.plan("cp.complaint.resolution_executed", "executed", pid)
    case.wait_status("awaiting_confirmation")
    case.followup("cp.complaint.closed", close_reason="satisfied")
    case.wait_status("closed")
    case.followup("cp.complaint.reopened", reason="not solved")
    case.wait_status("reopened")
    view = case.customer_view()
    assert view["status"] == "reopened"
    assert view["next_step"] and view["next_update_by"]


def test_merged_and_withdrawn_are_terminal(stack, http):
    dup, other = Case(stack, http), Case(stack, http)
    dup.followup("cp.complaint.closed", close_reason="duplicate", merged_into=other.no,
                 actor_staff_id=staff_id("supervisor"))
    dup.wait_status("merged")
    dup.followup("cp.complaint.reopened", reason="again")
    dup.offered(staff_id("agent"))
    other.followup("cp.complaint.closed", close_reason="withdrawn")
    other.wait_status("withdrawn")
    wait_rows(stack, "SELECT 1 FROM intake.timeline WHERE complaint_id = %s AND step = "
                     "'offered'", (dup.id,))
    assert dup.status() == "merged"
    view = dup.staff_view()
    assert view["merged_into"] == other.no and view["close_reason"] == "duplicate"
    # a new complaint of the same customer about the same parcel opens a new case: the
    # merged one is not open any more
    again = post(http, stack, {**dup.body})
    assert again.status_code == 201 and again.json()["complaint_no"] != dup.no


def test_amounts_are_shown_to_the_customer_only_once_approved(stack, http):
    case = Case(stack, http)
    pid = str(uuid.uuid4())
    case.plan("cp.complaint.resolution_proposed", "proposed", pid, fen=3600)
    case.wait_step("plan_drafted")
    case.plan("cp.complaint.resolution_proposed", "pending_approval", pid, fen=3600,
              proposed_by=staff_id("agent"))
    case.wait_step("plan_pending_approval")
    view = case.customer_view()
    assert view["decision"] is None
    assert "36.00" not in str(view)
    assert "plan_drafted" not in [t["step"] for t in view["timeline"]]
    staff = case.staff_view()
    assert staff["plans"][0]["total_fen"] == 3600 and staff["plans"][0]["status"] == "pending_approval"
    case.plan("cp.complaint.resolution_approved", "approved", pid, fen=3600)
    case.wait_step("plan_approved")
    assert "36.00 CNY" in case.customer_view()["decision"]


def test_the_whole_case_in_one_request(stack, http):
    body = complaint()
    earlier = Case(stack, http, complainant=body["complainant"])
    case = Case(stack, http, complainant=body["complainant"])
    case.offered(staff_id("agent"))
    case.accepted(staff_id("agent"))
    case.followup("cp.complaint.contacted", contact_kind="message",
                  actor_staff_id=staff_id("agent"), text_redacted="我们正在核实，今晚给您答复")
    case.followup("cp.complaint.customer_replied", text_redacted="箱子是在门口被压坏的")
    case.evidence("cp.complaint.evidence_collected", 1, stage="delivery", party="courier",
                  party_id="C-77", preliminary=True)
    case.clock("first_response", 120)
    case.clock("verification", 1800)
    wait_rows(stack, "SELECT 1 FROM intake.case_clocks WHERE complaint_id = %s AND clock = "
                     "'verification'", (case.id,))
    wait_rows(stack, "SELECT 1 FROM intake.conversation WHERE complaint_id = %s AND kind = "
                     "'reply'", (case.id,))
    r = http.post(f"{stack.base_url}/v1/complaints/{case.no}/notes",
                  json={"text": "customer prefers calls after 18:00"}, headers=bearer("agent"))
    assert r.status_code == 201, r.text
    view = case.staff_view()
    assert view["owner"]["staff_id"] == staff_id("agent")
    assert view["complainant"]["phone"] == body["complainant"]["phone"]  # the owner: in full
    other = case.staff_view("agent2")  # staff who do not handle the case: masked
    assert other["complainant"]["phone"] != body["complainant"]["phone"]
    assert other["contact_masked"] is True
    row = _queue(stack, http, role="agent2", waybill_no=body_waybill(case))["complaints"][0]
    assert "****" in row["complainant"]["phone"]
    row = _queue(stack, http, role="agent", waybill_no=body_waybill(case))["complaints"][0]
    assert row["complainant"]["phone"] == body["complainant"]["phone"]
    assert [c["clock"] for c in view["clocks"]][:2] == ["first_response", "verification"]
    assert view["nearest_deadline"]["clock"] == "first_response"
    texts = [m["text"] for m in view["conversation"]]
    assert "箱子是在门口被压坏的" in texts and "我们正在核实，今晚给您答复" in texts
    assert view["evidence"]["responsibility"]["party_id"] == "C-77"
    assert view["evidence"]["findings"][0]["kind"] == "stuck"
    assert view["notes"][0]["text"] == "customer prefers calls after 18:00"
    assert view["customer"]["complaints_total"] == 2
    assert view["customer"]["repeat_complainer"] is True
    assert view["customer"]["earlier_complaints"][0]["complaint_no"] == earlier.no
    steps = {t["step"]: t for t in view["timeline"]}
    assert steps["note_added"]["visibility"] == "staff"
    assert steps["note_added"]["actor"] == staff_id("agent")
    # the customer sees neither the note nor who else was offered the case
    customer = case.customer_view()
    assert "note_added" not in [t["step"] for t in customer["timeline"]]
    assert "customer prefers" not in str(customer)
    missing = http.get(f"{stack.base_url}/v1/staff/complaints/CP19990101-000000",
                       headers=bearer("agent"))
    assert missing.status_code == 404
    assert http.get(f"{stack.base_url}/v1/staff/complaints/{case.no}").status_code == 401


def test_only_the_owner_or_a_supervisor_writes_notes(stack, http):
    case = Case(stack, http)
    url = f"{stack.base_url}/v1/complaints/{case.no}/notes"
    r = http.post(url, json={"text": "nobody owns it yet"}, headers=bearer("agent"))
    assert r.status_code == 403 and r.json()["error"] == "not_owner"
    case.accepted(staff_id("agent2"))
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND owner_staff_id = %s",
              (case.id, staff_id("agent2")))
    r = http.post(url, json={"text": "not mine"}, headers=bearer("agent"))
    assert r.status_code == 403 and r.json()["error"] == "not_owner"
    assert http.post(url, json={"text": "mine"}, headers=bearer("agent2")).status_code == 201
    assert http.post(url, json={"text": "sup"}, headers=bearer("supervisor")).status_code == 201
    bad = http.post(url, json={"text": "   "}, headers=bearer("agent2"))
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "text"
    long = http.post(url, json={"text": "长" * 2001}, headers=bearer("agent2"))
    assert long.status_code == 422
    assert http.post(url, json={"text": "长" * 2000}, headers=bearer("agent2")).status_code == 201
    assert http.post(url, json={"note": "x"}, headers=bearer("agent2")).status_code == 422
    unknown = http.post(f"{stack.base_url}/v1/complaints/CP19990101-000000/notes",
                        json={"text": "x"}, headers=bearer("supervisor"))
    assert unknown.status_code == 404
    count = stack.db().execute("SELECT count(*) FROM intake.notes WHERE complaint_id = %s",
                               (case.id,)).fetchone()[0]
    assert count == 3
    # reassigned to agent3: agent2 may no longer write, agent3 may
    case.assignment("cp.complaint.assigned", action="reassigned",
                    owner_staff_id=staff_id("agent3"), previous_owner_staff_id=staff_id("agent2"),
                    actor_staff_id=staff_id("supervisor"), reason="leave")
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND owner_staff_id = %s",
              (case.id, staff_id("agent3")))
    assert http.post(url, json={"text": "x"}, headers=bearer("agent2")).status_code == 403
    assert http.post(url, json={"text": "x"}, headers=bearer("agent3")).status_code == 201


def test_the_person_a_complaint_is_about_never_writes_on_it(stack, http):
    case = Case(stack, http, target={"kind": "courier", "id": staff_id("agent4")})
    case.accepted(staff_id("agent4"))  # even if it reached them as the owner
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND owner_staff_id = %s",
              (case.id, staff_id("agent4")))
    url = f"{stack.base_url}/v1/complaints/{case.no}/notes"
    r = http.post(url, json={"text": "it was not my fault"}, headers=bearer("agent4"))
    assert r.status_code == 403 and r.json()["error"] == "conflict_of_interest"
    # the courier the evidence names, too — a supervisor included
    other = Case(stack, http)
    other.evidence("cp.complaint.evidence_collected", 1, party="courier",
                   party_id=staff_id("supervisor2"), preliminary=True)
    other.wait_step("evidence_found")
    r = http.post(f"{stack.base_url}/v1/complaints/{other.no}/notes", json={"text": "x"},
                  headers=bearer("supervisor2"))
    assert r.status_code == 403 and r.json()["error"] == "conflict_of_interest"
    assert http.post(f"{stack.base_url}/v1/complaints/{other.no}/notes", json={"text": "x"},
                     headers=bearer("supervisor")).status_code == 201


def body_waybill(case: Case) -> str:
    return case.body["waybill_no"]


def _queue(stack, http, role="agent", **params) -> dict:
    r = http.get(f"{stack.base_url}/v1/staff/complaints", params=params, headers=bearer(role))
    assert r.status_code == 200, r.text
    return r.json()


def test_the_queue_sorts_by_the_nearest_deadline_and_pages_by_keyset(stack, http):
    outlet = f"Q-{uuid.uuid4().hex[:6]}"
    cases = [Case(stack, http, complainant={"outlet_id": outlet}) for _ in range(4)]
    dues = [900, 60, -30, None]  # the third is overdue, the fourth has no running clock
    for case, due in zip(cases, dues):
        if due is not None:
            case.clock("first_response", due)
    for case, due in zip(cases, dues):
        if due is not None:
            wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND next_due_at "
                             "IS NOT NULL", (case.id,))
    order = [c["complaint_no"] for c in _queue(stack, http, outlet=outlet)["complaints"]]
    assert order == [cases[2].no, cases[1].no, cases[0].no, cases[3].no]
    # keyset pages of one walk every case once, in the same order
    seen, after = [], None
    while True:
        params = {"outlet": outlet, "limit": "1", **({"after": after} if after else {})}
        page = _queue(stack, http, **params)
        seen += [c["complaint_no"] for c in page["complaints"]]
        after = page["next_cursor"]
        if not after:
            break
    assert seen == order
    overdue = _queue(stack, http, outlet=outlet, scope="overdue")["complaints"]
    assert [c["complaint_no"] for c in overdue] == [cases[2].no]
    assert overdue[0]["overdue"] is True
    assert overdue[0]["nearest_deadline"]["clock"] == "first_response"
    soon = _queue(stack, http, outlet=outlet, scope="due_soon", within_minutes="5")
    assert {c["complaint_no"] for c in soon["complaints"]} == {cases[1].no, cases[2].no}
    cases[0].accepted(staff_id("agent4"))
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND owner_staff_id = %s",
              (cases[0].id, staff_id("agent4")))
    mine = _queue(stack, http, role="agent4", scope="mine", outlet=outlet)["complaints"]
    assert [c["complaint_no"] for c in mine] == [cases[0].no]
    assert mine[0]["owner_staff_id"] == staff_id("agent4")
    unassigned = _queue(stack, http, outlet=outlet, scope="unassigned")["complaints"]
    assert cases[0].no not in [c["complaint_no"] for c in unassigned]
    assert len(unassigned) == 3
    by_owner = _queue(stack, http, role="supervisor", owner=staff_id("agent4"), outlet=outlet)
    assert [c["complaint_no"] for c in by_owner["complaints"]] == [cases[0].no]
    cases[1].followup("cp.complaint.closed", close_reason="no_fault_found")
    cases[1].wait_status("closed")
    open_now = [c["complaint_no"] for c in _queue(stack, http, outlet=outlet)["complaints"]]
    assert cases[1].no not in open_now
    closed = _queue(stack, http, outlet=outlet, status="closed")["complaints"]
    assert [c["complaint_no"] for c in closed] == [cases[1].no]


@pytest.mark.parametrize("params,field", [
    ({"scope": "everything"}, "scope"),
    ({"status": "assigned"}, "status"),
    ({"priority": "0"}, "priority"),
    ({"priority": "6"}, "priority"),
    ({"limit": "201"}, "limit"),
    ({"limit": "0"}, "limit"),
    ({"after": "garbage"}, "after"),
    ({"after": "12x~CP1"}, "after"),
    ({"within_minutes": "0"}, "within_minutes"),
    ({"include_closed": "yes"}, "include_closed"),
    ({"owner": "x" * 65}, "owner"),
])
def test_bad_queue_parameters_are_named(stack, http, params, field):
    r = http.get(f"{stack.base_url}/v1/staff/complaints", params=params,
                 headers=bearer("agent"))
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["fields"]] == [field]


def test_queue_boundaries_are_accepted(stack, http):
    for params in ({"priority": "1"}, {"priority": "5"}, {"limit": "200"}, {"limit": "1"},
                   {"within_minutes": "10080"}, {"owner": "x" * 64}, {"after": "inf~CP1"}):
        r = http.get(f"{stack.base_url}/v1/staff/complaints", params=params,
                     headers=bearer("agent"))
        assert r.status_code == 200, (params, r.text)


def test_the_customer_sees_who_handles_it_and_by_when(stack, http):
    """The status page's owner is a first name and a role (never the staff id, full name or
    contact), and the next step's deadline is the running clock that times it."""
    case = Case(stack, http)
    view = case.customer_view()
    assert view["owner"] is None
    case.clock("first_response", 300)
    case.clock("verification", 1800)
    wait_rows(stack, "SELECT 1 FROM intake.case_clocks WHERE complaint_id = %s AND clock = "
              "'verification'", (case.id,))
    first_due = stack.db().execute(
        "SELECT to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM "
        "intake.case_clocks WHERE complaint_id = %s AND clock = 'first_response'",
        (case.id,)).fetchone()[0]
    case.assignment("cp.complaint.assigned", action="accepted", owner_staff_id="A777",
                    owner_first_name="小周", owner_role="courier")
    case.wait_status("accepted")
    view = case.customer_view()
    assert view["owner"] == {"first_name": "小周", "role": "courier"}
    assert "A777" not in json.dumps(view)  # nowhere, the timeline's step included
    step = next(t for t in view["timeline"] if t["step"] == "owner_assigned")
    assert step["detail"] == {"first_name": "小周", "role": "courier"}
    assert view["next_step_by"] == first_due  # accepted: the first contact is what is due
    # once in contact, the verification is what the customer waits for
    case.followup("cp.complaint.contacted", contact_kind="call", outcome="reached",
                  actor_staff_id="A777")
    case.wait_status("in_contact")
    view = case.customer_view()
    assert view["next_step_by"] != first_due and view["next_step_by"] is not None
    # a member of staff without a first name in the registry is shown by role
    case.assignment("cp.complaint.assigned", action="reassigned", owner_staff_id="A778",
                    previous_owner_staff_id="A777", owner_role="agent")
    wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND owner_staff_id = 'A778'",
              (case.id,))
    assert case.customer_view()["owner"] == {"first_name": None, "role": "agent"}
