"""Evidence bundles on the real stack: tracking before and after the complaint, the
confirmation by a supervisor or the case's owner (never by a person the evidence names),
conclusive delays, evidence requests answered within and after their deadline."""

import time

from evidence_helpers import ago, hub_delay_route, scan, send, wait_bundle
from helpers import complaint, post, waybill, wait_rows

EVIDENCE_TOPICS = ["complaint.evidence.v1", "complaint.evidence_request.v1"]


def _file(http, stack, w, kind):
    texts = {"delay": "快递延误了三天还没到，说好昨天送到的",
             "damage": "包裹破损，外箱压坏了，里面的杯子碎了"}
    r = post(http, stack, complaint(waybill_no=w, type=kind, description=texts[kind]))
    assert r.status_code == 201, r.text
    return r.json()


def test_tracking_before_the_complaint_gives_findings_and_a_confirmable_responsibility(
        stack, http):
    w = waybill()
    send(stack, *hub_delay_route(stack, w))
    wait_rows(stack, "SELECT 1 FROM evidence.parcels WHERE waybill_no = %s AND scan_count = 6",
              (w,))
    with stack.consumer(EVIDENCE_TOPICS, from_beginning=False) as reader:
        created = _file(http, stack, w, "delay")
        cid, no = created["complaint_id"], created["complaint_no"]
        b = wait_bundle(stack, reader, cid, "cp.complaint.evidence_collected")
        assert b.subcategory == "delay" and b.tracking_found and b.scan_count == 6
        kinds = {(f.kind, f.facility_id) for f in b.findings}
        assert {("late", ""), ("stuck", "SC1"), ("time_lost", "SC1")} <= kinds
        r = b.responsibility
        assert (r.stage, r.party, r.party_id, r.preliminary) == ("sorting", "sorting_centre",
                                                                 "SC1", True)
        # delivered after promised_by with no force-majeure scan: the scans prove the delay
        assert r.conclusive
        assert r.reasons and 0 < r.confidence_pct < 100
        assert b.delivered and b.pod_ref == "PH-1" and b.courier_id == "C7" and b.promised_by
        assert [p.code for p in b.trajectory][:2] == ["picked_up", "departed"]

        url = f"{stack.base_url}/v1/complaints/{no}/evidence"
        got = http.get(url, headers=stack.auth("agent"))
        assert got.status_code == 200, got.text
        assert got.json()["version"] == 1 and got.json()["responsibility"]["preliminary"]
        assert http.get(url).status_code == 401
        assert http.get(url, headers=stack.auth("integration")).status_code == 403
        denied = http.post(url + "/confirm", json={}, headers=stack.auth("agent"))
        assert denied.status_code == 403 and denied.json()["error"] == "not_owner"
        bad = http.post(url + "/confirm", json={"party": "aliens"},
                        headers=stack.auth("supervisor"))
        assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "party"
        ok = http.post(url + "/confirm", json={"note": "checked the hub log"},
                       headers=stack.auth("supervisor"))
        assert ok.status_code == 200, ok.text
        assert ok.json()["responsibility"]["preliminary"] is False
        assert ok.json()["responsibility"]["confirmed_by"] == "S001"
        upd = wait_bundle(stack, reader, cid, "cp.complaint.evidence_updated", version=2)
        assert not upd.responsibility.preliminary and upd.responsibility.party == "sorting_centre"
        assert upd.responsibility.confirmed_by == "S001" and upd.responsibility.confidence_pct == 100
        assert upd.responsibility.conclusive
    traj = http.get(f"{stack.base_url}/v1/complaints/{no}/trajectory",
                    headers=stack.auth("agent"))
    assert traj.status_code == 200 and traj.json()["scan_count"] == 6


def test_tracking_after_the_complaint_rebuilds_the_bundle(stack, http):
    w = waybill()
    with stack.consumer(EVIDENCE_TOPICS, from_beginning=False) as reader:
        created = _file(http, stack, w, "delay")
        cid = created["complaint_id"]
        first = wait_bundle(stack, reader, cid, "cp.complaint.evidence_collected")
        assert not first.tracking_found and first.version == 1
        assert [f.kind for f in first.findings] == ["no_tracking"]
        assert first.responsibility.party == "unknown" and first.responsibility.preliminary
        # the complaint moved on without tracking: resolution saw the bundle
        wait_rows(stack, "SELECT 1 FROM resolution.cases WHERE complaint_id = %s AND "
                         "evidence_collected", (cid,))
        send(stack, *hub_delay_route(stack, w))
        upd = wait_bundle(stack, reader, cid, "cp.complaint.evidence_updated")
        assert upd.tracking_found and upd.version == 2
        assert "stuck" in {f.kind for f in upd.findings}
        # more scans for a bundle that has tracking now do not re-announce it
        send(stack, scan(stack, w, "exception", ago(1), facility_id="O2", facility_type="outlet",
                         exception_reason="returned"))
        time.sleep(2)
        again = [m for m in reader.collect(timeout=1) if m.key == cid
                 and m.topic == "complaint.evidence.v1"]
    assert again == [] and stack.db().execute(
        "SELECT pending_bundle FROM evidence.parcels WHERE waybill_no = %s", (w,)).fetchone() == (False,)


def _damage_case(stack, http, reader):
    w = waybill()
    send(stack, *hub_delay_route(stack, w, stuck_hours=4),
         scan(stack, w, "arrived", ago(60), facility_id="SC2", facility_type="sorting_centre"),
         scan(stack, w, "exception", ago(59.9), facility_id="SC2",
              facility_type="sorting_centre", exception_reason="damaged_on_arrival"))
    wait_rows(stack, "SELECT 1 FROM evidence.parcels WHERE waybill_no = %s AND scan_count = 8",
              (w,))
    cid = _file(http, stack, w, "damage")["complaint_id"]
    b = wait_bundle(stack, reader, cid, "cp.complaint.evidence_collected")
    def asked():
        return [m for m in reader.messages
                if m.topic == "complaint.evidence_request.v1" and m.key == cid]
    deadline = time.monotonic() + 15
    while len(asked()) < 2 and time.monotonic() < deadline:
        reader.collect(timeout=0.5)
    requests = {}
    for m in asked():
        assert m.headers["ce_type"] == "cp.complaint.evidence_requested"
        q = stack.proto.EvidenceRequest()
        q.ParseFromString(m.value)
        requests[q.facility_id] = q
    return cid, b, requests


def _answer(http, stack, q, outcome, role="integration"):
    return http.post(stack.base_url + q.callback_path, headers=stack.auth(role),
                     json={"outcome": outcome, "detail": "camera 3, 02:05",
                           "attachments": ["VID-1", "PH-9"]})


def test_damage_evidence_request_answered_within_its_deadline(stack, http):
    with stack.consumer(EVIDENCE_TOPICS, from_beginning=False) as reader:
        cid, b, requests = _damage_case(stack, http, reader)
        assert set(requests) == {"SC1", "SC2"} and set(b.open_requests) == {
            q.request_id for q in requests.values()}
        assert ("damaged_on_arrival", "SC2") in {(f.kind, f.facility_id) for f in b.findings}
        q = requests["SC1"]
        assert q.kind == "surveillance" and q.due_at and q.callback_path.endswith("/answer")
        assert _answer(http, stack, q, "maybe").status_code == 422
        assert _answer(http, stack, q, "sorting_mishandling", role="agent").status_code == 200
        assert _answer(http, stack, q, "no_damage_seen").status_code == 409
        upd = wait_bundle(stack, reader, cid, "cp.complaint.evidence_updated", version=2)
    assert [(a.facility_id, a.outcome, a.late) for a in upd.answers] == [
        ("SC1", "sorting_mishandling", False)]
    assert list(upd.answers[0].attachments) == ["VID-1", "PH-9"]
    assert (upd.responsibility.party, upd.responsibility.party_id) == ("sorting_centre", "SC1")
    assert list(upd.open_requests) == [requests["SC2"].request_id]
    unknown = http.post(f"{stack.base_url}/v1/evidence-requests/"
                        "00000000-0000-4000-8000-000000000000/answer",
                        headers=stack.auth("integration"), json={"outcome": "packaging"})
    assert unknown.status_code == 404


def test_damage_evidence_answer_after_the_deadline_is_accepted_and_marked_late(stack, http):
    with stack.service_env("evidence", EVIDENCE_REQUEST_DUE_SECONDS="1"):
        with stack.consumer(EVIDENCE_TOPICS, from_beginning=False) as reader:
            cid, _, requests = _damage_case(stack, http, reader)
            time.sleep(1.5)
            r = _answer(http, stack, requests["SC2"], "transport_squeeze")
            assert r.status_code == 200 and r.json()["late"] is True
            upd = wait_bundle(stack, reader, cid, "cp.complaint.evidence_updated", version=2)
    assert [(a.facility_id, a.late) for a in upd.answers] == [("SC2", True)]
    assert "surveillance_answer" in {f.kind for f in upd.findings}
    assert upd.responsibility.stage == "line_haul"


def _assign(stack, cid, no, owner):
    m = stack.proto.ComplaintAssignment(complaint_id=cid, complaint_no=no, action="accepted",
                                        owner_staff_id=owner, actor_staff_id=owner)
    stack.produce("complaint.classified.v1", cid, m.SerializeToString(),
                  stack.ce_headers("cp.complaint.assigned"))


def test_the_owner_confirms_the_responsibility_of_their_case(stack, http):
    w = waybill()
    send(stack, *hub_delay_route(stack, w))
    wait_rows(stack, "SELECT 1 FROM evidence.parcels WHERE waybill_no = %s AND scan_count = 6",
              (w,))
    with stack.consumer(EVIDENCE_TOPICS, from_beginning=False) as reader:
        created = _file(http, stack, w, "delay")
        cid, no = created["complaint_id"], created["complaint_no"]
        wait_bundle(stack, reader, cid, "cp.complaint.evidence_collected")
        _assign(stack, cid, no, "A002")
        wait_rows(stack, "SELECT 1 FROM evidence.case_people WHERE complaint_id = %s AND "
                         "owner_staff_id = 'A002'", (cid,))
        url = f"{stack.base_url}/v1/complaints/{no}/evidence/confirm"
        other = http.post(url, json={}, headers=stack.auth("agent"))
        assert other.status_code == 403 and other.json()["error"] == "not_owner"
        # nobody confirms a responsibility that names themselves
        self_named = http.post(url, json={"party": "courier", "party_id": "A002"},
                               headers=stack.auth("agent2"))
        assert self_named.status_code == 403
        assert self_named.json()["error"] == "conflict_of_interest"
        ok = http.post(url, json={"note": "called the hub"}, headers=stack.auth("agent2"))
        assert ok.status_code == 200, ok.text
        assert ok.json()["responsibility"]["confirmed_by"] == "A002"
        upd = wait_bundle(stack, reader, cid, "cp.complaint.evidence_updated", version=2)
        assert not upd.responsibility.preliminary
        assert upd.responsibility.confirmed_by == "A002"


def test_the_person_a_complaint_is_about_never_confirms_it(stack, http):
    w = waybill()
    r = post(http, stack, complaint(waybill_no=w, type="delay",
                                    description="快递员态度差，说好昨天送到的还没到",
                                    target={"kind": "courier", "id": "A003"}))
    assert r.status_code == 201, r.text
    cid, no = r.json()["complaint_id"], r.json()["complaint_no"]
    wait_rows(stack, "SELECT 1 FROM evidence.case_people WHERE complaint_id = %s AND "
                     "target_id = 'A003'", (cid,))
    wait_rows(stack, "SELECT 1 FROM evidence.bundles WHERE complaint_id = %s", (cid,))
    # even as the case's owner
    _assign(stack, cid, no, "A003")
    wait_rows(stack, "SELECT 1 FROM evidence.case_people WHERE complaint_id = %s AND "
                     "owner_staff_id = 'A003'", (cid,))
    url = f"{stack.base_url}/v1/complaints/{no}/evidence/confirm"
    denied = http.post(url, json={}, headers=stack.auth("agent3"))
    assert denied.status_code == 403 and denied.json()["error"] == "conflict_of_interest"
    assert http.post(url, json={}, headers=stack.auth("supervisor")).status_code == 200
