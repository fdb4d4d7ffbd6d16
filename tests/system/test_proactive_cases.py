"""Issue 9's early warning becomes work: a stuck parcel opens a proactive case by default (no
STUCK_PROACTIVE_CASE in the environment), offered to the staff of the hub where it is stuck
under the proactive SLA policy; the customer's later complaint about the same waybill joins
that case (the case adopts the complainant) instead of opening a second one, and followup
learns who to write to."""

import concurrent.futures
import uuid

import pytest
import requests

from evidence_helpers import ago, scan, send
from helpers import complaint, phone, post, wait_rows, waybill
from stack import TOKENS

RUN = uuid.uuid4().hex[:6]
HUB = f"HUB-{RUN}"
HUB_STAFF = [f"H{RUN}-{i}" for i in range(2)]
SPOT = (-41.5, 101.5)  # far from every other test's staff: the hub's people are the nearest
ADMIN = {"Authorization": f"Bearer {TOKENS['admin'][0]}"}


@pytest.fixture(scope="module")
def hub(stack):
    http = requests.Session()
    for i, sid in enumerate(HUB_STAFF):
        r = http.put(f"{stack.base_url}/v1/staff-registry/{sid}",
                     json={"outlet_id": HUB, "role": "agent", "available": True,
                           "lat": SPOT[0], "lon": SPOT[1] + 0.001 * i}, headers=ADMIN)
        assert r.status_code == 200, r.text
    yield HUB_STAFF
    for sid in HUB_STAFF:  # nobody left for other tests
        http.put(f"{stack.base_url}/v1/staff-registry/{sid}",
                 json={"outlet_id": HUB, "role": "agent", "available": False},
                 headers=ADMIN, timeout=10)


def stuck_event(stack, wb, facility=HUB):
    """What evidence raises; injected where the tracking chain is not the point."""
    x = stack.proto.ParcelException(waybill_no=wb, kind="stuck", facility_id=facility,
                                    facility_type="sorting_centre", stuck_seconds=30 * 3600,
                                    threshold_seconds=24 * 3600, proactive_case=True)
    stack.produce("parcel.exception.v1", wb, x.SerializeToString(),
                  stack.ce_headers("cp.parcel.stuck", source="/cp/evidence"))


def proactive_case(stack, wb):
    return wait_rows(stack, "SELECT id::text, complaint_no FROM intake.complaints WHERE "
                            "waybill_no = %s AND channel = 'proactive'", (wb,))[0]


def test_a_stuck_parcel_opens_a_proactive_case_by_default_offered_at_its_hub(stack, hub):
    wb = waybill()
    # STUCK_PROACTIVE_CASE is not set: the default opens the case
    with stack.service_env("evidence", STUCK_AFTER_SECONDS="3", STUCK_CHECK_MS="200"):
        ev = scan(stack, wb, "arrived", ago(0.001), facility_id=HUB,
                  facility_type="sorting_centre", city="Lanzhou")
        ev.location.lat, ev.location.lon = SPOT
        send(stack, ev)
        cid, _ = proactive_case(stack, wb)
    conn = stack.db()
    ref, outlet = conn.execute("SELECT customer_ref, outlet_id FROM intake.complaints WHERE "
                               "id = %s", (cid,)).fetchone()
    assert (ref, outlet) == ("proactive", HUB)
    policy = wait_rows(stack, "SELECT sla_policy FROM classification.classifications WHERE "
                              "complaint_id = %s", (cid,))[0][0]
    assert policy == "proactive"
    offered = wait_rows(stack, "SELECT staff_id FROM classification.offers WHERE "
                               "complaint_id = %s AND round = 1", (cid,), count=2)
    assert set(HUB_STAFF) <= {r[0] for r in offered}
    # the hub's people are told through the ordinary offer notification, on the staff app
    # (the channel is the one the delivery used: wait until each went out)
    told = wait_rows(stack, "SELECT recipient, channel FROM followup.notifications WHERE "
                            "complaint_id = %s AND step = 'staff_offered' AND recipient = "
                            "ANY(%s) AND channel <> ''", (cid, [f"staff:{s}" for s in HUB_STAFF]),
                     count=2)
    assert {r[1] for r in told} == {"staff_app"}
    assert conn.execute("SELECT count(*) FROM intake.complaints WHERE waybill_no = %s",
                        (wb,)).fetchone()[0] == 1


def test_the_customers_complaint_joins_the_proactive_case(stack, hub):
    http = requests.Session()
    wb = waybill()
    stuck_event(stack, wb)
    cid, no = proactive_case(stack, wb)
    body = complaint(waybill_no=wb, type="delay", description="快递三天没动了，什么时候到？",
                     complainant={"name": "李雷", "language": "en",
                                  "preferred_contact": "sms"})
    key = str(uuid.uuid4())
    r = post(http, stack, body, **{"Idempotency-Key": key})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["complaint_no"], got["complaint_id"]) == (no, cid)
    assert got["attached_to_open_case"] and got["joined_proactive_case"]
    assert no in got["link"] and "token=" in got["link"]
    again = post(http, stack, body, **{"Idempotency-Key": key})
    assert again.status_code == 200 and again.json()["idempotent_replay"]
    assert again.json()["joined_proactive_case"] and again.json()["complaint_no"] == no
    conn = stack.db()
    ref, tel, lang, pref, role = conn.execute(
        "SELECT customer_ref, complainant_phone, language, preferred_contact, role FROM "
        "intake.complaints WHERE id = %s", (cid,)).fetchone()
    assert ref != "proactive" and tel == body["complainant"]["phone"]
    assert (lang, pref, role) == ("en", "sms", "recipient")
    assert conn.execute("SELECT count(*) FROM intake.complaints WHERE waybill_no = %s",
                        (wb,)).fetchone()[0] == 1
    words = conn.execute("SELECT text FROM intake.conversation WHERE complaint_id = %s AND "
                         "kind = 'adopted'", (cid,)).fetchall()
    assert [w[0] for w in words] == [body["description"]]
    # followup now writes to the complainant, in their language, by their contact
    rows = wait_rows(stack, "SELECT language, preferred_contact FROM followup.cases WHERE "
                            "complaint_id = %s AND customer_ref = %s", (cid, ref))
    assert rows[0] == ("en", "sms")
    wait_rows(stack, "SELECT 1 FROM followup.messages WHERE complaint_id = %s AND author = "
                     "'customer' AND text = %s", (cid, body["description"]))
    # the same customer writing again is an ordinary repeat on the same case
    r = post(http, stack, body)
    assert r.status_code == 200 and r.json()["complaint_no"] == no
    assert r.json()["repeat_count"] == 1


def test_two_concurrent_complaints_join_one_proactive_case(stack, hub):
    wb = waybill()
    stuck_event(stack, wb)
    cid, no = proactive_case(stack, wb)
    body = complaint(waybill_no=wb, type="delay",
                     complainant={"phone": phone(), "role": "recipient"})

    def one(_):
        return post(requests.Session(), stack, body)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(one, range(2)))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert {a.json()["complaint_no"] for a in answers} == {no}
    conn = stack.db()
    assert conn.execute("SELECT count(*) FROM intake.complaints WHERE waybill_no = %s",
                        (wb,)).fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM intake.conversation WHERE complaint_id = %s AND "
                        "kind = 'adopted'", (cid,)).fetchone()[0] == 1


def test_a_complaint_without_a_proactive_case_opens_its_own(stack):
    http = requests.Session()
    r = post(http, stack, complaint(type="delay"))
    assert r.status_code == 201, r.text
    assert not r.json()["joined_proactive_case"] and not r.json()["attached_to_open_case"]


# ---- staff notifications of issue 9 that were still missing -------------------------------

def _case_ids():
    return str(uuid.uuid4()), f"CP20261202-T{uuid.uuid4().hex[:7].upper()}"


def _assignment(stack, cid, no, ce_type, action, staff, owner=""):
    a = stack.proto.ComplaintAssignment(complaint_id=cid, complaint_no=no, action=action,
                                        staff_ids=staff, owner_staff_id=owner,
                                        reason="sla_breach:accept", escalation_level=1,
                                        escalated_role="outlet_manager")
    stack.produce("complaint.classified.v1", cid, a.SerializeToString(),
                  stack.ce_headers(ce_type, source="/cp/classification"))


def _staff_told(stack, cid, step):
    # what was sent, once every queued message of that step went out (the channel is the one
    # the delivery used, empty while queued)
    wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND step = %s "
                     "HAVING count(*) = count(*) FILTER (WHERE channel <> '')", (cid, step))
    return stack.db().execute("SELECT recipient, channel FROM followup.notifications WHERE "
                              "complaint_id = %s AND step = %s ORDER BY recipient",
                              (cid, step)).fetchall()


def test_a_plan_waiting_for_approval_tells_the_cases_supervisors_once(stack):
    manager, approver = f"OM{RUN}", f"APR{RUN}"
    cid, no = _case_ids()
    quiet_cid, quiet_no = _case_ids()
    with stack.service_env("followup", APPROVERS=f"{approver},{manager}"):
        _assignment(stack, cid, no, "cp.complaint.escalated", "escalated", [manager])
        wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND "
                         "escalated_staff_id = %s", (cid, manager))
        ce_id = str(uuid.uuid4())
        for status, key, num, ident in (("proposed", quiet_cid, quiet_no, None),
                                        ("pending_approval", cid, no, ce_id),
                                        ("pending_approval", cid, no, ce_id)):  # redelivered
            d = stack.proto.ResolutionDecided(complaint_id=key, complaint_no=num,
                                              proposal_id=str(uuid.uuid4()), status=status,
                                              reason="compensation above the agent's limit")
            stack.produce("complaint.resolution.v1", key, d.SerializeToString(),
                          stack.ce_headers("cp.complaint.resolution_proposed",
                                           source="/cp/resolution", id=ident))
        wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND "
                         "step = 'staff_plan_approval'", (cid,), count=2)
        wait_rows(stack, "SELECT 1 FROM followup.case_events WHERE complaint_id = %s",
                  (quiet_cid,))
    # the escalated manager is also on APPROVERS: still one message each
    assert _staff_told(stack, cid, "staff_plan_approval") == [
        (f"staff:{approver}", "staff_app"), (f"staff:{manager}", "staff_app")]
    assert _staff_told(stack, quiet_cid, "staff_plan_approval") == []


def test_an_overdue_evidence_request_reminds_the_facility_and_tells_the_owner_once(stack):
    owner = f"OWN{RUN}"
    cid, no = _case_ids()
    _assignment(stack, cid, no, "cp.complaint.assigned", "accepted", [owner], owner=owner)
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND "
                     "owner_staff_id = %s", (cid, owner))
    conn = stack.db()
    conn.execute("INSERT INTO evidence.bundles (complaint_id, complaint_no, waybill_no, "
                 "subcategory, tracking_found, scan_count) VALUES (%s, %s, %s, 'loss', false, "
                 "0)", (cid, no, waybill()))
    rid, answered = str(uuid.uuid4()), str(uuid.uuid4())
    for r, at in ((rid, None), (answered, "now()")):
        conn.execute("INSERT INTO evidence.requests (request_id, complaint_id, facility_id, "
                     "facility_type, kind, due_at, answered_at) VALUES (%s, %s, %s, 'outlet', "
                     f"%s, now() - interval '1 minute', {at or 'NULL'})",
                     (r, cid, HUB if r == rid else HUB + "-B", "surveillance"))
    conn.commit()
    with stack.consumer("complaint.evidence_request.v1", from_beginning=False) as reader:
        with stack.service_env("evidence", EVIDENCE_OVERDUE_CHECK_MS="200"):
            msg = reader.poll_until(lambda m: m.key == cid, timeout=30)
            wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s "
                             "AND step = 'staff_evidence_overdue'", (cid,))
            reader.collect(timeout=2)
    assert msg.headers["ce_type"] == "cp.complaint.evidence_request_overdue"
    q = stack.proto.EvidenceRequest()
    q.ParseFromString(msg.value)
    assert (q.request_id, q.facility_id, q.kind) == (rid, HUB, "surveillance")
    assert q.callback_path == f"/v1/evidence-requests/{rid}/answer"
    # once: a later sweep (and the answered request) sends nothing more
    assert [m.key for m in reader.messages].count(cid) == 1
    assert _staff_told(stack, cid, "staff_evidence_overdue") == [(f"staff:{owner}",
                                                                  "staff_app")]
