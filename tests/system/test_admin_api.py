"""The operator's tables behind the console's admin pages, each through the service that owns
it: SLA policies, keywords, the VIP list and the staff registry (classification), working
calendars (timer), message templates (followup), compensation policies and authority limits
(resolution). For each: supervisors may read, only an admin writes (403 otherwise), invalid
input is a 422 naming the field, the change takes effect, and it is recorded in the owning
service's admin_audit with who changed what."""

from __future__ import annotations

import uuid

import pytest

from helpers import wait_rows
from stack import TOKENS
from test_resolution_flow import accept, given_case, proposal_of, produce_assigned, wait_owner

ADMIN_ID = TOKENS["admin"][1]


def fields(r) -> set[str]:
    assert r.status_code == 422, r.text
    return {f["field"] for f in r.json()["fields"]}


def audited(stack, schema: str, entity: str, key: str) -> list:
    return stack.db().execute(
        f"SELECT actor, before IS NOT NULL, after FROM {schema}.admin_audit WHERE entity = %s "
        "AND key = %s ORDER BY id", (entity, key)).fetchall()


def test_only_admins_change_the_operator_tables(stack, http):
    """Every write route refuses a supervisor (they read) and an agent; every read route
    refuses an agent where it is a supervisor's table, and everyone without a token."""
    writes = [("PUT", "/v1/sla-policies", {"policies": []}),
              ("PUT", "/v1/keywords", {"keywords": []}),
              ("PUT", "/v1/vip-customers/ref_x", {"note": ""}),
              ("DELETE", "/v1/vip-customers/ref_x", None),
              ("PUT", "/v1/staff-registry/X9", {"outlet_id": "O", "role": "agent"}),
              ("PUT", "/v1/calendars/cal-x", {"utc_offset_min": 480, "hours": [], "days": []}),
              ("PUT", "/v1/templates", {"step": "received", "language": "en", "body": "x"}),
              ("PUT", "/v1/compensation-policies/ZZ", {}),
              ("PUT", "/v1/authority-limits/agent", {"max_fen": 1})]
    for method, path, body in writes:
        for role in ("supervisor", "agent"):
            r = http.request(method, stack.base_url + path, json=body, headers=stack.auth(role))
            assert r.status_code == 403, (method, path, role, r.text)
        assert http.request(method, stack.base_url + path, json=body).status_code == 401
    for path in ("/v1/sla-policies", "/v1/vip-customers", "/v1/staff-registry", "/v1/calendars",
                 "/v1/compensation-policies", "/v1/authority-limits"):
        assert http.get(stack.base_url + path, headers=stack.auth("agent")).status_code == 403
        assert http.get(stack.base_url + path, headers=stack.auth("supervisor")).status_code == 200


def test_a_working_calendar_is_validated_stored_and_audited(stack, http):
    name = f"cal-{uuid.uuid4().hex[:6]}"
    url = f"{stack.base_url}/v1/calendars/{name}"
    admin = stack.auth("admin")
    bad = http.put(url, json={"utc_offset_min": 900,
                              "hours": [{"weekday": 8, "start_min": 540, "end_min": 500},
                                        {"weekday": 1, "start_min": 540, "end_min": 1080},
                                        {"weekday": 1, "start_min": 540, "end_min": 1080}],
                              "days": [{"day": "2026-02-30", "working": False},
                                       {"day": "2026-10-01", "working": True}]},
                   headers=admin)
    assert fields(bad) == {"utc_offset_min", "hours[0].weekday", "hours[0].end_min",
                           "hours[2].weekday", "days[0].day", "days[1].start_min",
                           "days[1].end_min"}
    assert http.put(f"{stack.base_url}/v1/calendars/Bad Name", json={}, headers=admin) \
        .status_code == 422
    week = [{"weekday": d, "start_min": 540, "end_min": 1080} for d in range(1, 6)]
    body = {"utc_offset_min": 480, "description": "Shanghai office",
            "hours": week, "days": [{"day": "2026-10-01", "working": False, "note": "国庆"},
                                    {"day": "2026-10-11", "working": True, "start_min": 540,
                                     "end_min": 1080, "note": "调休"}]}
    r = http.put(url, json=body, headers=admin)
    assert r.status_code == 201 and r.json()["created"] is True, r.text
    body["hours"] = week[:4]  # Friday off from now on
    assert http.put(url, json=body, headers=admin).status_code == 200
    cals = {c["name"]: c for c in http.get(f"{stack.base_url}/v1/calendars",
                                           headers=stack.auth("supervisor")).json()["calendars"]}
    assert [h["weekday"] for h in cals[name]["hours"]] == [1, 2, 3, 4]
    assert [(d["day"], d["working"]) for d in cals[name]["days"]] == \
        [("2026-10-01", False), ("2026-10-11", True)]
    # the tables the timer's clock arithmetic reads (calendar_db.c) hold the change
    rows = stack.db().execute("SELECT weekday FROM timer.calendar_hours WHERE calendar = %s "
                              "ORDER BY weekday", (name,)).fetchall()
    assert [w for (w,) in rows] == [1, 2, 3, 4]
    trail = audited(stack, "timer", "calendars", name)
    assert [(a, b) for a, b, _ in trail] == [(ADMIN_ID, False), (ADMIN_ID, True)]
    assert len(trail[1][2]["hours"]) == 4


def test_authority_limits_take_effect_on_the_next_decision(stack, http):
    url = f"{stack.base_url}/v1/authority-limits"
    admin = stack.auth("admin")
    limits = {x["role"]: x["max_fen"] for x in http.get(url, headers=stack.auth("supervisor"))
              .json()["authority_limits"]}
    assert limits["agent"] == 20000
    assert fields(http.put(f"{url}/agent", json={"max_fen": -1}, headers=admin)) == {"max_fen"}
    assert fields(http.put(f"{url}/auto", json={"max_fen": 1}, headers=admin)) == {"role"}
    assert fields(http.put(f"{url}/agent", json={"max_fen": "5"}, headers=admin)) == {"max_fen"}
    agent = TOKENS["agent"][1]
    try:
        r = http.put(f"{url}/agent", json={"max_fen": 60000}, headers=admin)
        assert r.status_code == 200 and r.json()["max_fen"] == 60000, r.text
        # a 500 CNY plan is now within an agent's authority: it executes on their accept
        cid, no, waybill = str(uuid.uuid4()), f"CPA{uuid.uuid4().hex[:10].upper()}", \
            f"SF{uuid.uuid4().int % 10**12:012d}"
        given_case(stack, cid, no, waybill, insured=True, insured_value=50000)
        produce_assigned(stack, cid, no, agent)
        pid, status, total, _ = proposal_of(stack, cid)
        assert (status, total) == ("proposed", 50000)
        wait_owner(stack, cid, agent)
        r = accept(stack, http, pid, stack.auth("agent"))
        assert r.status_code == 200 and r.json()["status"] == "executing", r.text
    finally:
        assert http.put(f"{url}/agent", json={"max_fen": limits["agent"]},
                        headers=admin).status_code == 200
    trail = audited(stack, "resolution", "authority_limits", "agent")
    assert trail[-2][2] == {"role": "agent", "max_fen": 60000}
    assert trail[-1][2] == {"role": "agent", "max_fen": 20000} and trail[-1][0] == ADMIN_ID


def test_a_compensation_policy_takes_effect_on_the_next_plan(stack, http):
    carrier = "Z" + "".join(chr(65 + int(c, 16) % 26) for c in uuid.uuid4().hex[:5])
    url = f"{stack.base_url}/v1/compensation-policies/{carrier}"
    admin = stack.auth("admin")
    policy = {"freight_multiple": 5, "declared_ceiling_fen": 2000000, "damage_loss_pct": 100,
              "delay_remedy": "coupon", "delay_coupon_fen": 800, "vip_coupon_fen": 0,
              "description": "test carrier: up to 5x freight"}
    bad = http.put(url, json={**policy, "damage_loss_pct": 101, "delay_remedy": "cash"},
                   headers=admin)
    assert fields(bad) == {"damage_loss_pct", "delay_remedy"}
    assert fields(http.put(f"{stack.base_url}/v1/compensation-policies/Z-1", json=policy,
                           headers=admin)) == {"carrier"}
    r = http.put(url, json=policy, headers=admin)
    assert r.status_code == 201, r.text
    listed = {p["carrier"]: p for p in http.get(f"{stack.base_url}/v1/compensation-policies",
                                                 headers=stack.auth("supervisor"))
              .json()["compensation_policies"]}
    assert listed[carrier]["freight_multiple"] == 5 and "default" in listed
    # an uninsured loss worth 120 CNY on a 10 CNY freight: the cap is now 5 x 10 CNY
    cid, no = str(uuid.uuid4()), f"CPC{uuid.uuid4().hex[:10].upper()}"
    waybill = f"{carrier}{uuid.uuid4().int % 10**10:010d}"
    given_case(stack, cid, no, waybill, declared=12000, freight=1000)
    _, status, total, rule = proposal_of(stack, cid)
    assert (total, rule) == (5000, "uninsured_freight_cap"), (status, total, rule)
    [(actor, had_before, after)] = audited(stack, "resolution", "compensation_policies", carrier)
    assert actor == ADMIN_ID and not had_before and after["freight_multiple"] == 5


def test_templates_vip_and_registry_changes_are_audited(stack, http):
    admin = stack.auth("admin")
    # a template: validated, stored, audited with the text before and after
    url = f"{stack.base_url}/v1/templates"
    original = {(t["step"], t["language"]): t["body"] for t in
                http.get(url, headers=stack.auth("agent")).json()["templates"]}
    assert fields(http.put(url, json={"step": "received", "language": "de", "body": "x"},
                           headers=admin)) == {"language"}
    body = original[("appeal", "en")]
    r = http.put(url, json={"step": "appeal", "language": "en", "body": body + " "},
                 headers=admin)
    assert r.status_code == 200, r.text
    http.put(url, json={"step": "appeal", "language": "en", "body": body}, headers=admin)
    trail = audited(stack, "followup", "templates", "appeal/en")
    assert trail[-2][0] == ADMIN_ID and trail[-2][1] and trail[-2][2]["body"] == body + " "

    # the VIP list: added and removed, both recorded
    ref = f"ref_{uuid.uuid4().hex[:12]}"
    vip = f"{stack.base_url}/v1/vip-customers/{ref}"
    assert fields(http.put(vip, json={"note": 7}, headers=admin)) == {"note"}
    assert http.put(vip, json={"note": "key account"}, headers=admin).status_code == 201
    assert http.delete(vip, headers=admin).status_code == 200
    trail = audited(stack, "classification", "vip_customers", ref)
    assert [(b, a is None) for _, b, a in trail] == [(False, False), (True, True)]

    # the registry: the first name customers see is validated; the change is recorded
    sid = f"T-AUD-{uuid.uuid4().hex[:6]}"
    reg = f"{stack.base_url}/v1/staff-registry/{sid}"
    member = {"outlet_id": "T-AUD", "role": "courier", "available": False}
    assert fields(http.put(reg, json={**member, "first_name": "13800138000"},
                           headers=admin)) == {"first_name"}
    assert http.put(reg, json={**member, "first_name": "小张"}, headers=admin).status_code == 200
    listed = http.get(f"{stack.base_url}/v1/staff-registry", params={"outlet_id": "T-AUD"},
                      headers=stack.auth("supervisor")).json()["staff"]
    assert [(m["staff_id"], m["first_name"]) for m in listed] == [(sid, "小张")]
    [(actor, had_before, after)] = audited(stack, "classification", "staff", sid)
    assert actor == ADMIN_ID and not had_before and after["first_name"] == "小张"


def test_sla_policy_and_keyword_replacements_are_audited(stack, http):
    """(The policies and keywords taking effect on classification is
    test_classification_routing.py::test_operator_tables_need_admin_and_take_effect.)"""
    admin = stack.auth("admin")
    url = f"{stack.base_url}/v1/sla-policies"
    policies = http.get(url, headers=stack.auth("supervisor")).json()["policies"]
    bad = [dict(p, first_response_s=0) if p["name"] == "default" else p for p in policies]
    assert any(f.endswith(".first_response_s") for f in fields(http.put(
        url, json={"policies": bad}, headers=admin)))
    before = len(audited(stack, "classification", "sla_policies", ""))
    assert http.put(url, json={"policies": policies}, headers=admin).status_code == 200
    trail = audited(stack, "classification", "sla_policies", "")
    assert len(trail) == before + 1 and trail[-1][0] == ADMIN_ID and trail[-1][1]
    assert {p["name"] for p in trail[-1][2]} == {p["name"] for p in policies}
