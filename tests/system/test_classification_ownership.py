"""Who may hold a case, on the real broker and PostgreSQL: the person a complaint is about is
never offered it and cannot accept it; a courier the evidence names as responsible loses the
case; escalation names an available person up the ladder (outlet manager, regional
supervisor, HQ); an SLA breach becomes an escalation to a named person; reassign and escalate
by hand follow the owner/supervisor rules."""

import uuid

import pytest

from helpers import complaint, phone, post, waybill, wait_rows

RUN = uuid.uuid4().hex[:6]
STAFF = [f"O{RUN}-{i}" for i in range(6)]  # agents, nearest first
MANAGER, MANAGER2 = f"OM{RUN}-1", f"OM{RUN}-2"
REGIONAL, HQ = f"RS{RUN}", f"HQ{RUN}"
OUTLET, REGION = f"O-OUT-{RUN}", f"O-REG-{RUN}"
ORIGIN = (20.0, 20.0)  # far from any seeded staff and from the routing test's
TOKENS = ",".join([f"tok-{s}:agent:{s}" for s in STAFF + [MANAGER, MANAGER2, REGIONAL, HQ]] + [
    "tok-sup-o:supervisor:SUP-O", "tok-admin-o:admin:ADM-O"])
ADMIN = {"Authorization": "Bearer tok-admin-o"}
SUPERVISOR = {"Authorization": "Bearer tok-sup-o"}


def agent(staff_id):
    return {"Authorization": f"Bearer tok-{staff_id}"}


def _put_staff(http, base, sid, role, available=True, lon=None, region=REGION):
    body = {"outlet_id": OUTLET, "role": role, "available": available, "region_id": region}
    if lon is not None:
        body.update(lat=ORIGIN[0], lon=lon)
    r = http.put(f"{base}/v1/staff-registry/{sid}", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r


@pytest.fixture(scope="module")
def cls(stack):
    import requests
    http = requests.Session()
    with stack.service_env("classification", AUTH_TOKENS=TOKENS, OFFER_TIMEOUT_SECONDS="4",
                           OFFER_SWEEP_MS="200", OFFER_ROUNDS="1"):
        for i, sid in enumerate(STAFF):
            _put_staff(http, stack.base_url, sid, "agent", lon=ORIGIN[1] + 0.01 * (i + 1))
        # the first manager (by staff id) is away: escalations must name the second
        _put_staff(http, stack.base_url, MANAGER, "outlet_manager", available=False)
        _put_staff(http, stack.base_url, MANAGER2, "outlet_manager")
        _put_staff(http, stack.base_url, REGIONAL, "regional_supervisor")
        _put_staff(http, stack.base_url, HQ, "hq", region=None)
        yield stack
        for sid in STAFF + [MANAGER, MANAGER2, REGIONAL, HQ]:  # nobody left for other tests
            http.put(f"{stack.base_url}/v1/staff-registry/{sid}",
                     json={"outlet_id": OUTLET, "role": "agent", "available": False},
                     headers=ADMIN, timeout=10)


def _scan(stack, waybill_no):
    import datetime
    at = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    ev = stack.proto.TrackingEvent(waybill_no=waybill_no, code=2, facility_id=OUTLET,
                                   facility_type="outlet", occurred_at=at, city="Ownerville",
                                   scan_id=str(uuid.uuid4()),
                                   location=stack.proto.GeoPoint(lat=ORIGIN[0], lon=ORIGIN[1]))
    stack.produce("parcel.tracking.v1", waybill_no, ev.SerializeToString(),
                  stack.ce_headers("cp.parcel.scanned", source="/carrier/test"))
    wait_rows(stack, "SELECT 1 FROM classification.parcel_positions WHERE waybill_no = %s",
              (waybill_no,))


def _assignment(stack, msg):
    ev = stack.proto.ComplaintAssignment()
    ev.ParseFromString(msg.value)
    return ev


def _is(cid, ce_type):
    return lambda m: m.key == cid and m.headers.get("ce_type") == ce_type


def _located_complaint(stack, http, **over):
    wb = waybill()
    _scan(stack, wb)
    r = post(http, stack, complaint(waybill_no=wb, **over))
    assert r.status_code == 201, r.text
    return r.json()


def _accepted_case(stack, http, owner):
    """A case offered to the three nearest and accepted by owner; returns (id, number)."""
    case = _located_complaint(stack, http)
    cid, no = case["complaint_id"], case["complaint_no"]
    wait_rows(stack, "SELECT 1 FROM classification.offers o JOIN classification.assignments a "
                     "USING (complaint_id) WHERE a.complaint_no = %s AND o.staff_id = %s",
              (no, owner))
    r = http.post(f"{stack.base_url}/v1/complaints/{no}/accept", headers=agent(owner))
    assert r.status_code == 200, r.text
    return cid, no


# --- conflict of interest ---

def test_a_complaint_naming_a_courier_is_never_offered_to_that_courier(cls, http):
    target = STAFF[0]  # the nearest: without the rule the first offer would go to them
    with cls.consumer(["complaint.classified.v1"], from_beginning=False) as reader:
        case = _located_complaint(cls, http, type="other", description="快递员态度很差",
                                  target={"kind": "courier", "id": target})
        cid, no = case["complaint_id"], case["complaint_no"]
        offered = reader.poll_until(_is(cid, "cp.complaint.offered"), timeout=20)
        classified = [m for m in reader.messages if _is(cid, "cp.complaint.classified")(m)]
    ev = _assignment(cls, offered)
    assert list(ev.staff_ids) == STAFF[1:4]
    assert list(ev.excluded_staff_ids) == [target]
    c = cls.proto.ComplaintClassified()
    c.ParseFromString(classified[0].value)
    assert (c.target.kind, c.target.id) == ("courier", target)

    r = http.post(f"{cls.base_url}/v1/complaints/{no}/accept", headers=agent(target))
    assert r.status_code == 403 and r.json()["error"] == "conflict_of_interest", r.text
    mine = http.get(cls.base_url + "/v1/offers/mine", headers=agent(target)).json()
    assert no not in [o["complaint_no"] for o in mine["offers"]]
    assert http.post(f"{cls.base_url}/v1/complaints/{no}/accept",
                     headers=agent(STAFF[1])).status_code == 200


def test_the_courier_the_evidence_names_loses_the_case_and_it_is_offered_again(cls, http):
    with cls.consumer(["complaint.classified.v1"], from_beginning=False) as reader:
        cid, no = _accepted_case(cls, http, STAFF[0])
        bundle = cls.proto.EvidenceBundle(
            complaint_id=cid, complaint_no=no, version=7,
            responsibility=cls.proto.Responsibility(party="courier", party_id=STAFF[0],
                                                    stage="delivery", preliminary=True))
        cls.produce("complaint.evidence.v1", cid, bundle.SerializeToString(),
                    cls.ce_headers("cp.complaint.evidence_updated", source="/test/evidence"))
        taken = reader.poll_until(lambda m: _is(cid, "cp.complaint.assigned")(m) and
                                  _assignment(cls, m).action == "reassigned", timeout=20)
        again = reader.poll_until(lambda m: _is(cid, "cp.complaint.offered")(m) and
                                  _assignment(cls, m).round == 2, timeout=20)
    ev = _assignment(cls, taken)
    assert ev.owner_staff_id == "" and ev.previous_owner_staff_id == STAFF[0]
    assert ev.reason == "conflict_of_interest" and list(ev.excluded_staff_ids) == [STAFF[0]]
    ev = _assignment(cls, again)
    assert STAFF[0] not in ev.staff_ids and list(ev.staff_ids) == STAFF[3:6]
    assert ev.reason == "conflict_of_interest"
    r = http.post(f"{cls.base_url}/v1/complaints/{no}/accept", headers=agent(STAFF[0]))
    assert r.status_code == 403 and r.json()["error"] == "conflict_of_interest"
    # staff offered in the first round may still take it
    assert http.post(f"{cls.base_url}/v1/complaints/{no}/accept",
                     headers=agent(STAFF[1])).status_code == 200


# --- the escalation ladder ---

def test_escalation_skips_an_unavailable_manager_and_names_the_available_one(cls, http):
    reg = http.get(cls.base_url + "/v1/staff-registry", params={"outlet_id": OUTLET},
                   headers=SUPERVISOR).json()["staff"]
    assert {s["staff_id"]: (s["role"], s["region_id"]) for s in reg}[REGIONAL] == \
        ("regional_supervisor", REGION)
    r = http.put(f"{cls.base_url}/v1/staff-registry/{REGIONAL}-X",
                 json={"outlet_id": OUTLET, "role": "regional_supervisor"}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "region_id"
    with cls.consumer(["complaint.classified.v1"], from_beginning=False) as reader:
        case = _located_complaint(cls, http)
        cid, no = case["complaint_id"], case["complaint_no"]
        escalated = reader.poll_until(_is(cid, "cp.complaint.escalated"), timeout=30)
    ev = _assignment(cls, escalated)  # OFFER_ROUNDS 1: after one unanswered round
    assert list(ev.staff_ids) == [MANAGER2] and MANAGER not in ev.staff_ids
    assert (ev.escalation_level, ev.escalated_role) == (1, "outlet_manager")
    r = http.post(f"{cls.base_url}/v1/complaints/{no}/accept", headers=agent(MANAGER2))
    assert r.status_code == 200, r.text
    assert http.post(f"{cls.base_url}/v1/complaints/{no}/accept",
                     headers=agent(MANAGER)).status_code in (403, 409)


def _breach(stack, cid, no, clock, level, role, fired_at=""):
    ev = stack.proto.SlaEvent(complaint_id=cid, complaint_no=no, clock=clock, kind="breach",
                              escalation_level=level, escalated_to=role, fired_at=fired_at)
    stack.produce("complaint.sla.v1", cid, ev.SerializeToString(),
                  stack.ce_headers("cp.complaint.sla_breached", source="/test/timer"))


def test_an_sla_breach_escalates_to_a_named_available_person_once(cls, http):
    with cls.consumer(["complaint.classified.v1"], from_beginning=False) as reader:
        case = _located_complaint(cls, http)
        cid, no = case["complaint_id"], case["complaint_no"]
        reader.poll_until(_is(cid, "cp.complaint.escalated"), timeout=30)  # offer rounds
        _breach(cls, cid, no, "accept", 2, "regional_supervisor")
        _breach(cls, cid, no, "accept", 2, "regional_supervisor")  # delivered twice
        # a replay of a breach fired two days ago (BREACH_MAX_AGE_SECONDS 1 day) pages nobody
        _breach(cls, cid, no, "resolution", 1, "outlet_manager",
                fired_at="2000-01-01T00:00:00Z")
        _breach(cls, cid, no, "accept", 3, "hq")
        top = reader.poll_until(lambda m: _is(cid, "cp.complaint.escalated")(m) and
                                _assignment(cls, m).escalation_level == 3, timeout=20)
        breaches = [_assignment(cls, m) for m in reader.messages
                    if _is(cid, "cp.complaint.escalated")(m) and
                    _assignment(cls, m).reason.startswith("sla_breach")]
    assert [(list(e.staff_ids), e.escalation_level, e.escalated_role, e.reason)
            for e in breaches] == [([REGIONAL], 2, "regional_supervisor", "sla_breach:accept"),
                                   ([HQ], 3, "hq", "sla_breach:accept")]
    assert _assignment(cls, top).staff_ids == [HQ]
    wait_rows(cls, "SELECT 1 FROM classification.sla_escalations WHERE complaint_id = %s "
                   "AND clock = 'resolution' AND staff_id IS NULL", (cid,))
    # nobody accepted in time: the person named may take the case
    r = http.post(f"{cls.base_url}/v1/complaints/{no}/accept", headers=agent(REGIONAL))
    assert r.status_code == 200, r.text
    wait_rows(cls, "SELECT 1 FROM classification.sla_escalations WHERE complaint_id = %s "
                   "AND clock = 'accept' AND level = 2 AND staff_id = %s", (cid, REGIONAL))


def test_escalate_by_hand(cls, http):
    cid, no = _accepted_case(cls, http, STAFF[0])
    url = f"{cls.base_url}/v1/complaints/{no}/escalate"
    assert http.post(url, json={"reason": "x"}).status_code == 401
    r = http.post(url, json={"reason": "customer threatens to go to the regulator"},
                  headers=agent(STAFF[1]))
    assert r.status_code == 403 and r.json()["error"] == "not_owner"
    r = http.post(url, json={}, headers=agent(STAFF[0]))
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "reason"
    r = http.post(url, json={"reason": "x" * 501}, headers=agent(STAFF[0]))
    assert r.status_code == 422
    with cls.consumer(["complaint.classified.v1"], from_beginning=False) as reader:
        r = http.post(url, json={"reason": "customer threatens to go to the regulator"},
                      headers=agent(STAFF[0]))
        assert r.status_code == 200, r.text
        assert r.json() == {"complaint_no": no, "escalated_to": MANAGER2,
                            "escalation_level": 1, "escalated_role": "outlet_manager",
                            "reason": "by_hand: customer threatens to go to the regulator"}
        msg = reader.poll_until(_is(cid, "cp.complaint.escalated"), timeout=20)
    ev = _assignment(cls, msg)
    assert list(ev.staff_ids) == [MANAGER2] and ev.actor_staff_id == STAFF[0]
    assert ev.owner_staff_id == STAFF[0]  # escalating keeps the owner
    assert ev.reason == "by_hand: customer threatens to go to the regulator"
    # a supervisor may escalate further: the next level's person
    r = http.post(url, json={"reason": "needs the region"}, headers=SUPERVISOR)
    assert r.status_code == 200 and r.json()["escalated_to"] == REGIONAL, r.text
    r = http.post(url, json={"reason": "needs HQ"}, headers=SUPERVISOR)
    assert r.status_code == 200 and r.json()["escalated_to"] == HQ
    r = http.post(url, json={"reason": "higher"}, headers=SUPERVISOR)
    assert r.status_code == 409 and r.json()["error"] == "top_of_ladder"
    assert http.post(f"{cls.base_url}/v1/complaints/CP00000000-000000/escalate",
                     json={"reason": "x"}, headers=SUPERVISOR).status_code == 404


# --- reassign / transfer ---

def test_reassign_rules(cls, http):
    with cls.consumer(["complaint.classified.v1"], from_beginning=False) as reader:
        case = _located_complaint(cls, http, target={"kind": "courier", "id": STAFF[5]})
        cid, no = case["complaint_id"], case["complaint_no"]
        reader.poll_until(_is(cid, "cp.complaint.offered"), timeout=20)
        assert http.post(f"{cls.base_url}/v1/complaints/{no}/accept",
                         headers=agent(STAFF[0])).status_code == 200
        url = f"{cls.base_url}/v1/complaints/{no}/reassign"

        r = http.post(url, json={"to_staff_id": STAFF[4]}, headers=agent(STAFF[0]))
        assert r.status_code == 422 and [f["field"] for f in r.json()["fields"]] == ["reason"]
        r = http.post(url, json={"to_staff_id": STAFF[4], "reason": "x" * 501},
                      headers=agent(STAFF[0]))
        assert r.status_code == 422
        r = http.post(url, json={"reason": "going off shift"}, headers=agent(STAFF[0]))
        assert r.status_code == 422 and r.json()["fields"][0]["field"] == "to_staff_id"
        r = http.post(url, json={"to_staff_id": "NOBODY-X", "reason": "r"},
                      headers=agent(STAFF[0]))
        assert r.status_code == 422 and "registry" in r.json()["fields"][0]["problem"]
        # an agent who does not own it
        r = http.post(url, json={"to_staff_id": STAFF[1], "reason": "mine now"},
                      headers=agent(STAFF[1]))
        assert r.status_code == 403 and r.json()["error"] == "not_owner"
        # the owner: only to an available colleague, never to the person it is about
        r = http.post(url, json={"to_staff_id": MANAGER, "reason": "r"}, headers=agent(STAFF[0]))
        assert r.status_code == 422 and r.json()["fields"][0]["field"] == "to_staff_id"
        r = http.post(url, json={"to_staff_id": STAFF[5], "reason": "r"}, headers=agent(STAFF[0]))
        assert r.status_code == 403 and r.json()["error"] == "conflict_of_interest"
        r = http.post(url, json={"to_staff_id": STAFF[4], "reason": "going off shift"},
                      headers=agent(STAFF[0]))
        assert r.status_code == 200, r.text
        assert r.json() == {"complaint_no": no, "owner_staff_id": STAFF[4],
                            "previous_owner_staff_id": STAFF[0], "actor_staff_id": STAFF[0],
                            "reason": "going off shift"}
        moved = reader.poll_until(lambda m: _is(cid, "cp.complaint.assigned")(m) and
                                  _assignment(cls, m).action == "reassigned", timeout=20)
        # the previous owner is now just another agent
        r = http.post(url, json={"to_staff_id": STAFF[1], "reason": "back"},
                      headers=agent(STAFF[0]))
        assert r.status_code == 403 and r.json()["error"] == "not_owner"
        # a supervisor: to anyone in the registry, even someone away; never the target
        r = http.post(url, json={"to_staff_id": STAFF[5], "reason": "r"}, headers=SUPERVISOR)
        assert r.status_code == 403 and r.json()["error"] == "conflict_of_interest"
        r = http.post(url, json={"to_staff_id": MANAGER, "reason": "the manager takes it"},
                      headers=SUPERVISOR)
        assert r.status_code == 200, r.text
    ev = _assignment(cls, moved)
    assert (ev.owner_staff_id, ev.previous_owner_staff_id, ev.actor_staff_id, ev.reason) == \
        (STAFF[4], STAFF[0], STAFF[0], "going off shift")
    assert list(ev.excluded_staff_ids) == [STAFF[5]]
    owner = cls.db().execute("SELECT owner_staff_id FROM classification.assignments WHERE "
                             "complaint_no = %s", (no,)).fetchone()[0]
    assert owner == MANAGER
    assert http.post(f"{cls.base_url}/v1/complaints/CP00000000-000000/reassign",
                     json={"to_staff_id": STAFF[1], "reason": "r"},
                     headers=SUPERVISOR).status_code == 404


# --- the clocks that time people, from the SLA policy ---

def _classified(stack, http, **over):
    with stack.consumer(["complaint.classified.v1"], from_beginning=False) as reader:
        r = post(http, stack, complaint(**over))
        assert r.status_code == 201, r.text
        cid = r.json()["complaint_id"]
        msg = reader.poll_until(_is(cid, "cp.complaint.classified"), timeout=20)
    ev = stack.proto.ComplaintClassified()
    ev.ParseFromString(msg.value)
    return r.json(), ev


def test_classified_carries_the_people_clocks_of_the_policy(cls, http):
    url = cls.base_url + "/v1/sla-policies"
    original = http.get(url, headers=SUPERVISOR).json()["policies"]
    default = next(p for p in original if p["name"] == "default")
    assert (default["accept_s"], default["whole_cycle_s"], default["next_update_s"],
            default["working_time_clocks"], default["calendar"]) == \
        (300, 86400, None, [], "cn-mainland")
    case, ev = _classified(cls, http, type="other", description="请尽快处理",
                           target={"kind": "agent", "id": STAFF[2]})
    assert ev.sla_policy == "default"
    assert (ev.accept_s, ev.whole_cycle_s, list(ev.working_time_clocks), ev.calendar) == \
        (300, 86400, [], "cn-mainland")
    assert ev.next_update_s > 0  # NULL in the table: the service's NEXT_UPDATE_SECONDS
    assert (ev.target.kind, ev.target.id) == ("agent", STAFF[2])

    bad = [dict(p, working_time_clocks=["regulatory"]) if p["name"] == "default" else p
           for p in original]
    r = http.put(url, json={"policies": bad}, headers=ADMIN)
    assert r.status_code == 422 and "working_time_clocks" in r.json()["fields"][0]["field"]
    bad = [dict(p, accept_s=-1) if p["name"] == "default" else p for p in original]
    assert http.put(url, json={"policies": bad}, headers=ADMIN).status_code == 422
    changed = [dict(p, accept_s=120, whole_cycle_s=43200, next_update_s=1800,
                    working_time_clocks=["first_response", "whole_cycle"], calendar="cn-gd")
               if p["name"] == "default" else p for p in original]
    try:
        r = http.put(url, json={"policies": changed}, headers=ADMIN)
        assert r.status_code == 200, r.text
        again = next(p for p in http.get(url, headers=SUPERVISOR).json()["policies"]
                     if p["name"] == "default")
        assert again["accept_s"] == 120 and again["calendar"] == "cn-gd"
        case, ev = _classified(cls, http, type="other", description="请尽快处理")
        assert (ev.accept_s, ev.whole_cycle_s, ev.next_update_s, list(ev.working_time_clocks),
                ev.calendar) == (120, 43200, 1800, ["first_response", "whole_cycle"], "cn-gd")
        view = http.get(f"{cls.base_url}/v1/complaints/{case['complaint_no']}/classification",
                        headers=SUPERVISOR).json()
        assert view["sla"]["accept_s"] == 120 and view["sla"]["calendar"] == "cn-gd"
    finally:
        assert http.put(url, json={"policies": original}, headers=ADMIN).status_code == 200


# --- VIP enrolment ---

def test_vip_enrolment_by_an_admin_changes_the_tier(cls, http):
    phone_no = phone()
    _, ev = _classified(cls, http, type="other", description="请尽快处理",
                        complainant={"phone": phone_no})
    assert ev.tier == "standard"
    ref = ev.customer_ref  # the pseudonym: the phone number itself is never needed here
    assert ref
    url = f"{cls.base_url}/v1/vip-customers"
    assert http.get(url).status_code == 401
    assert http.get(url, headers=agent(STAFF[0])).status_code == 403
    assert http.put(f"{url}/{ref}", json={"note": "x"}, headers=agent(STAFF[0])).status_code == 403
    # supervisors read the list; only an admin changes it
    assert http.put(f"{url}/{ref}", json={"note": "x"}, headers=SUPERVISOR).status_code == 403
    r = http.put(f"{url}/{ref}", json={"note": 5}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "note"
    assert http.put(f"{url}/{ref}", json={"note": "x" * 501}, headers=ADMIN).status_code == 422
    r = http.put(f"{url}/{ref}", json={"note": "key account"}, headers=ADMIN)
    assert r.status_code == 201 and r.json()["created"] is True, r.text
    r = http.put(f"{url}/{ref}", json={"note": "key account since 2026"}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["created"] is False
    listed = {v["customer_ref"]: v for v in http.get(url, headers=SUPERVISOR).json()
              ["vip_customers"]}
    assert listed[ref]["note"] == "key account since 2026" and listed[ref]["tier"] == "vip"

    _, ev = _classified(cls, http, type="other", description="请尽快处理",
                        complainant={"phone": phone_no})
    assert ev.customer_ref == ref and ev.tier == "vip" and ev.sla_policy == "vip"

    assert http.delete(f"{url}/{ref}", headers=agent(STAFF[0])).status_code == 403
    r = http.delete(f"{url}/{ref}", headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"customer_ref": ref, "removed": True}
    assert http.delete(f"{url}/{ref}", headers=ADMIN).status_code == 404
    _, ev = _classified(cls, http, type="other", description="请尽快处理",
                        complainant={"phone": phone_no})
    assert ev.tier == "standard"
