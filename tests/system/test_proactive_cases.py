"""Issue 9's early warning becomes work: a stuck parcel opens a proactive case by default (no
STUCK_PROACTIVE_CASE in the environment), offered to the staff of the hub where it is stuck
under the proactive SLA policy; the customer's later complaint about the same waybill joins
that case (the case adopts the complainant) instead of opening a second one, and followup
learns who to write to."""

import concurrent.futures
import hashlib
import hmac
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests

from evidence_helpers import ago, scan, send
from helpers import complaint, phone, post, wait_rows, waybill
from stack import TOKENS
from test_notify_channels import inbox_of, signed, wait_inbox

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


def stuck_event(stack, wb, facility=HUB, **recipient):
    """What evidence raises; injected where the tracking chain is not the point."""
    x = stack.proto.ParcelException(waybill_no=wb, kind="stuck", facility_id=facility,
                                    facility_type="sorting_centre", stuck_seconds=30 * 3600,
                                    threshold_seconds=24 * 3600, proactive_case=True,
                                    **recipient)
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
    # ... and each reached the staff app's gateway once, signed, in the staff's language
    for person in (approver, manager):
        got = [m for m in wait_inbox(stack, f"staff:{person}", no, ["staff_plan_approval"])
               if m["note"]["step"] == "staff_plan_approval"]
        assert len(got) == 1 and signed(got[0]) and got[0]["channel"] == "staff_app"
        assert got[0]["note"]["language"] == "zh-CN"
        assert "compensation above the agent's limit" in got[0]["note"]["text"]
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
    got = [m for m in wait_inbox(stack, f"staff:{owner}", no, ["staff_evidence_overdue"])
           if m["note"]["step"] == "staff_evidence_overdue"]
    assert len(got) == 1 and signed(got[0]) and got[0]["channel"] == "staff_app"


# ---- the recipient is told of the delay before they complain (issue 9) ---------------------

def customer_ref(tel: str) -> str:
    """The pseudonym intake makes of a phone number (and a carrier's feed sends for its
    recipient): HMAC-SHA256 of its digits under the test stack's PSEUDONYM_KEY."""
    digits = "".join(ch for ch in tel if ch.isdigit())
    mac = hmac.new(b"dev-only-pseudonym-key", digits.encode(), hashlib.sha256).hexdigest()
    return "cust_" + mac[:24]


def customer_steps(stack, cid):
    return [r[0] for r in stack.db().execute(
        "SELECT step FROM followup.notifications WHERE complaint_id = %s AND recipient = "
        "'customer' ORDER BY id", (cid,)).fetchall()]


def test_a_parcel_stuck_over_a_day_tells_its_recipient_once_and_their_complaint_joins(stack,
                                                                                      hub):
    wb, tel = waybill(), phone()
    ref = customer_ref(tel)
    # the product's defaults: stuck after 24 h, a proactive case; only the sweep is quicker
    # the newest scan (with the recipient, as a carrier may send on every scan) goes first: the
    # 200 ms sweep may judge the parcel after any batch, and under load the scans came in
    # several; judged on the pick-up alone it was stuck at O-SZ, a true notice of what was
    # stored then. Sent newest first, every state the sweep can see is the final one.
    recipient = dict(recipient_ref=ref, recipient_language="en", recipient_contact="sms")
    with stack.service_env("evidence", STUCK_CHECK_MS="200"):
        send(stack,
             scan(stack, wb, "exception", ago(26), facility_id=HUB,
                  facility_type="sorting_centre", city="Lanzhou", exception_reason="weather",
                  **recipient),
             scan(stack, wb, "picked_up", ago(40), facility_id="O-SZ", facility_type="outlet",
                  **recipient),
             scan(stack, wb, "arrived", ago(30), facility_id=HUB,
                  facility_type="sorting_centre", city="Lanzhou"))
        cid, no = proactive_case(stack, wb)
    conn = stack.db()
    # only the pseudonym is kept for the parcel, and the case still waits for a complainant
    assert conn.execute("SELECT customer_ref, language, contact FROM evidence.parcel_recipients "
                        "WHERE waybill_no = %s", (wb,)).fetchone() == (ref, "en", "sms")
    assert conn.execute("SELECT customer_ref FROM intake.complaints WHERE id = %s",
                        (cid,)).fetchone()[0] == "proactive"
    got = wait_inbox(stack, ref, no, ["delay_notice"])
    note = got[0]["note"]
    assert (note["step"], note["channel"], note["language"]) == ("delay_notice", "sms", "en")
    assert (note["to"], note["customer_ref"]) == (ref, ref)
    assert got[0]["channel"] == "sms" and signed(got[0])
    for words in (wb, "Lanzhou", "Reason: bad weather", no, "no need to complain"):
        assert words in note["text"], note["text"]
    assert tel not in got[0]["raw"]
    # the hub's people were offered the case; the recipient was not told "we received your
    # complaint" (nor the classification's first response): they did not complain
    wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND step = "
                     "'staff_offered' AND channel <> ''", (cid,))
    wait_rows(stack, "SELECT 1 FROM followup.case_events WHERE complaint_id = %s AND ce_type = "
                     "'cp.complaint.classified'", (cid,))
    assert customer_steps(stack, cid) == ["delay_notice"]
    # the carrier raising it again opens nothing and tells nobody again
    stuck_event(stack, wb, recipient_ref=ref, recipient_language="en", reason="weather")
    # their complaint joins the case (same number), it does not open a second one
    body = complaint(waybill_no=wb, type="delay", description="Where is my parcel?",
                     complainant={"phone": tel, "language": "en", "preferred_contact": "sms"})
    r = post(requests.Session(), stack, body)
    assert r.status_code == 200, r.text
    assert r.json()["joined_proactive_case"] and r.json()["complaint_no"] == no
    wait_rows(stack, "SELECT 1 FROM followup.case_events WHERE complaint_id = %s AND ce_type = "
                     "'cp.complaint.message_added' AND detail->>'kind' = 'adopted'", (cid,))
    assert conn.execute("SELECT count(*) FROM intake.complaints WHERE waybill_no = %s",
                        (wb,)).fetchone()[0] == 1
    time.sleep(1.0)
    assert [m["note"]["step"] for m in inbox_of(stack, ref, no)] == ["delay_notice"]
    assert customer_steps(stack, cid) == ["delay_notice"]


def test_the_delay_notice_waits_for_the_end_of_quiet_hours(stack, hub):
    now = datetime.now(timezone.utc)
    minute = now.hour * 60 + now.minute
    start, end = (minute - 5) % 1440, (minute + 60) % 1440
    wb, ref = waybill(), customer_ref(phone())
    with stack.service_env("followup", QUIET_HOURS_START_MIN=str(start),
                           QUIET_HOURS_END_MIN=str(end), QUIET_HOURS_UTC_OFFSET_MIN="0"):
        stuck_event(stack, wb, recipient_ref=ref, recipient_contact="app",
                    reason="traffic_control")
        cid, no = proactive_case(stack, wb)
        held = wait_rows(stack, "SELECT status, attempts, language, extract(epoch FROM "
                                "next_attempt_at - now()), body FROM followup.notifications "
                                "WHERE complaint_id = %s AND step = 'delay_notice'", (cid,))[0]
        # the hub's staff are told at once all the same
        wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND "
                         "step = 'staff_offered' AND status = 'delivered'", (cid,))
    status, attempts, language, wait_s, text = held
    assert (status, attempts, language) == ("queued", 0, "zh-CN")
    assert 55 * 60 < wait_s <= 60 * 60
    assert "交通管制" in text and wb in text
    assert inbox_of(stack, ref, no) == []


def test_a_proactive_case_without_a_known_recipient_writes_to_nobody(stack, hub):
    wb = waybill()
    stuck_event(stack, wb)
    cid, _ = proactive_case(stack, wb)
    wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND step = "
                     "'staff_offered' AND channel <> ''", (cid,))
    wait_rows(stack, "SELECT 1 FROM followup.case_events WHERE complaint_id = %s AND ce_type = "
                     "'cp.complaint.classified'", (cid,))
    assert customer_steps(stack, cid) == []
    assert stack.inbox("proactive") == []


def test_a_tracking_feed_never_carries_a_phone_number_as_the_recipient(stack):
    wb, tel = waybill(), phone()
    scan_body = {"waybill_no": wb, "scan_id": f"{wb}-1", "code": "picked_up",
                 "occurred_at": datetime.now(timezone.utc).isoformat(), "facility_id": "O1",
                 "facility_type": "outlet"}
    http = requests.Session()
    bad = http.post(f"{stack.base_url}/v1/tracking/events", headers=stack.auth("integration"),
                    json={"carrier": "SFX", "events": [dict(scan_body, recipient_ref=tel)]})
    assert bad.status_code == 422, bad.text
    assert [f["field"] for f in bad.json()["fields"]] == ["events[0].recipient_ref"]
    good = http.post(f"{stack.base_url}/v1/tracking/events", headers=stack.auth("integration"),
                     json={"carrier": "SFX", "events": [dict(scan_body,
                                                             recipient_ref=customer_ref(tel))]})
    assert good.status_code == 202, good.text
    wait_rows(stack, "SELECT 1 FROM evidence.parcel_recipients WHERE waybill_no = %s AND "
                     "customer_ref = %s", (wb, customer_ref(tel)))


# ---- the delay reasons' phrases are the operator's data ------------------------------------

def test_an_admin_sets_the_phrase_of_a_carriers_own_delay_code(stack, hub):
    http = requests.Session()
    url = f"{stack.base_url}/v1/delay-reasons"
    code = f"typhoon_{RUN}"
    wb, ref = waybill(), customer_ref(phone())
    # a carrier's code nobody has described yet reads as "being checked", never as the code
    stuck_event(stack, wb, recipient_ref=ref, recipient_language="en",
                recipient_contact="app", reason=code)
    cid, _ = proactive_case(stack, wb)
    text = wait_rows(stack, "SELECT body FROM followup.notifications WHERE complaint_id = %s "
                            "AND step = 'delay_notice'", (cid,))[0][0]
    assert "the cause is being checked" in text and code not in text
    # the admin describes it (audited); the next notice says it in the customer's words
    r = http.put(url, json={"code": code, "language": "en", "text": "a typhoon closed the roads"},
                 headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json() == {"code": code, "language": "en", "text": "a typhoon closed the roads",
                        "updated_by": r.json()["updated_by"]}
    listed = http.get(url, headers={"Authorization": f"Bearer {TOKENS['agent'][0]}"})
    assert listed.status_code == 200
    assert {"code": code, "language": "en", "text": "a typhoon closed the roads"}.items() <= \
        next(x for x in listed.json()["delay_reasons"] if x["code"] == code).items()
    assert any(x["code"] == "weather" and x["language"] == "zh-CN" and x["text"] == "天气原因"
               for x in listed.json()["delay_reasons"])  # the seeded phrases
    audit = stack.db().execute("SELECT before, after->>'text' FROM followup.admin_audit WHERE "
                               "entity = 'delay_reasons' AND key = %s", (f"{code}/en",)).fetchall()
    assert audit == [(None, "a typhoon closed the roads")]
    wb2, ref2 = waybill(), customer_ref(phone())
    stuck_event(stack, wb2, recipient_ref=ref2, recipient_language="en",
                recipient_contact="app", reason=code)
    cid2, _ = proactive_case(stack, wb2)
    text = wait_rows(stack, "SELECT body FROM followup.notifications WHERE complaint_id = %s "
                            "AND step = 'delay_notice'", (cid2,))[0][0]
    assert "Reason: a typhoon closed the roads." in text, text


@pytest.mark.parametrize("body,field", [
    ({"code": "Typhoon", "language": "en", "text": "x"}, "code"),
    ({"code": "a-b", "language": "en", "text": "x"}, "code"),
    ({"code": "x" * 41, "language": "en", "text": "x"}, "code"),
    ({"code": "typhoon", "language": "fr", "text": "x"}, "language"),
    ({"code": "typhoon", "language": "en", "text": ""}, "text"),
    ({"code": "typhoon", "language": "en", "text": "x" * 401}, "text"),
    ({"code": "typhoon", "language": "en", "text": "two\nlines"}, "text"),
    ({"code": "typhoon", "language": "en", "text": "a {complaint_no}"}, "text"),
])
def test_a_bad_delay_reason_is_refused_field_by_field_and_changes_nothing(stack, body, field):
    r = requests.put(f"{stack.base_url}/v1/delay-reasons", json=body, headers=ADMIN)
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["fields"]] == [field], r.text
    assert stack.db().execute("SELECT count(*) FROM followup.delay_reasons WHERE code = %s",
                              (body["code"],)).fetchone()[0] == 0


def test_only_an_admin_changes_a_delay_reason(stack):
    body = {"code": "weather", "language": "en", "text": "sunshine"}
    for role in ("agent", "supervisor"):
        r = requests.put(f"{stack.base_url}/v1/delay-reasons", json=body,
                         headers={"Authorization": f"Bearer {TOKENS[role][0]}"})
        assert r.status_code == 403, r.text
    assert requests.put(f"{stack.base_url}/v1/delay-reasons", json=body).status_code == 401
    assert stack.db().execute("SELECT text FROM followup.delay_reasons WHERE code = 'weather' "
                              "AND language = 'en'").fetchone()[0] == "bad weather"
