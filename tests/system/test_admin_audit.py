"""Reading the admin audit (common/audit.c): each service that keeps an admin_audit answers
GET /v1/admin/audit/<service> through the front door -- supervisors and admins only, newest
first, filtered by since/entity/actor, in keyset pages that neither skip nor repeat a row, and
every bad parameter a 422 naming it. A change made through an admin API is there with who made
it and the row before and after.

Also here, because it needs the real services: a method no service knows is the JSON 501 from
the service itself and through the front door (common/httpd.c)."""

from __future__ import annotations

import uuid

import pytest

from stack import TOKENS

ADMIN_ID = TOKENS["admin"][1]
AUDITED = ("intake", "classification", "resolution", "followup", "timer")


def audit(stack, http, service: str, role: str = "supervisor", **params):
    return http.get(f"{stack.base_url}/v1/admin/audit/{service}", params=params,
                    headers=stack.auth(role))


def db_now(stack) -> str:
    return stack.db().execute(
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    ).fetchone()[0]


def test_a_change_through_an_admin_api_is_in_the_audit_read(stack, http):
    url = f"{stack.base_url}/v1/authority-limits/supervisor"
    since = db_now(stack)
    limits = {x["role"]: x["max_fen"] for x in http.get(
        f"{stack.base_url}/v1/authority-limits", headers=stack.auth("supervisor"))
        .json()["authority_limits"]}
    old = limits["supervisor"]
    assert http.put(url, json={"max_fen": old + 1}, headers=stack.auth("admin")).status_code == 200
    try:
        r = audit(stack, http, "resolution", entity="authority_limits", actor=ADMIN_ID,
                  since=since)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["count"] == 1 and page["next_cursor"] is None, page
        [entry] = page["audit"]
        assert (entry["actor"], entry["entity"], entry["key"]) == \
            (ADMIN_ID, "authority_limits", "supervisor")
        assert entry["before"]["max_fen"] == old and entry["after"]["max_fen"] == old + 1
        assert entry["reason"] is None and entry["at"] >= since[:19]
        # the row read is the row stored, by the same id
        row = stack.db().execute("SELECT id FROM resolution.admin_audit WHERE entity = "
                                 "'authority_limits' AND key = 'supervisor' ORDER BY id DESC "
                                 "LIMIT 1").fetchone()
        assert entry["id"] == row[0]
        # the filters filter: another actor, another entity, a later since
        assert audit(stack, http, "resolution", entity="authority_limits", actor="S001",
                     since=since).json()["audit"] == []
        assert audit(stack, http, "resolution", entity="compensation_policies",
                     since=since).json()["audit"] == []
        assert audit(stack, http, "resolution", since="2999-01-01T00:00:00Z").json() == \
            {"audit": [], "count": 0, "next_cursor": None}
    finally:
        assert http.put(url, json={"max_fen": old}, headers=stack.auth("admin")) \
            .status_code == 200


def test_an_auto_settlement_rule_change_is_in_resolutions_audit_read(stack, http):
    """Rules keep their own trail (auto_settlement_rule_audit) and are read with every other
    operator table of resolution, earlier changes included (migration 0936)."""
    name = f"test_audit_{uuid.uuid4().hex[:8]}"
    rule = {"enabled": False, "max_fen": 300, "categories": ["charges"],
            "remedy_kinds": ["freight_refund"], "description": "audit read"}
    r = http.put(f"{stack.base_url}/v1/auto-settlement-rules/{name}", json=rule,
                 headers=stack.auth("admin"))
    assert r.status_code == 200, r.text
    [entry] = [e for e in audit(stack, http, "resolution", entity="auto_settlement_rules",
                                limit=200).json()["audit"] if e["key"] == name]
    assert entry["actor"].upper() == ADMIN_ID and entry["before"] is None
    assert entry["after"]["max_fen"] == 300 and entry["after"]["enabled"] is False
    # the history from before the change to the trail: every rule change is in admin_audit
    with stack.db() as conn:
        missing = conn.execute(
            "SELECT count(*) FROM resolution.auto_settlement_rule_audit r WHERE NOT EXISTS ("
            "SELECT 1 FROM resolution.admin_audit a WHERE a.entity = 'auto_settlement_rules' "
            "AND a.key = r.name AND a.at = r.at)").fetchone()[0]
    assert missing == 0


def test_only_supervisors_and_admins_read_the_audit(stack, http):
    for service in AUDITED:
        for role in ("supervisor", "admin"):
            r = audit(stack, http, service, role=role, limit=1)
            assert r.status_code == 200 and "audit" in r.json(), (service, role, r.text)
        for role in ("agent", "integration"):
            r = audit(stack, http, service, role=role)
            assert r.status_code == 403, (service, role, r.text)
        r = http.get(f"{stack.base_url}/v1/admin/audit/{service}")
        assert r.status_code == 401, (service, r.text)
        # read-only: the path takes no writes
        r = http.post(f"{stack.base_url}/v1/admin/audit/{service}", json={},
                      headers=stack.auth("admin"))
        assert r.status_code == 405 and r.json()["error"] == "method_not_allowed", r.text


def test_pages_walk_every_change_once_newest_first(stack, http):
    since = db_now(stack)
    refs = [f"ref_aud{i}_{uuid.uuid4().hex[:8]}" for i in range(7)]
    for ref in refs:
        r = http.put(f"{stack.base_url}/v1/vip-customers/{ref}", json={"note": "audit paging"},
                     headers=stack.auth("admin"))
        assert r.status_code == 201, r.text
    seen, cursor, pages = [], None, 0
    while True:
        params = {"entity": "vip_customers", "since": since, "limit": 3}
        if cursor:
            params["after"] = cursor
        page = audit(stack, http, "classification", **params).json()
        pages += 1
        assert page["count"] == len(page["audit"]) <= 3
        seen += [e["key"] for e in page["audit"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10, "the cursor does not advance"
    assert seen == list(reversed(refs)), seen
    assert pages == 3
    # an exact multiple of the page size ends without an empty page
    page = audit(stack, http, "classification", entity="vip_customers", since=since,
                 limit=7).json()
    assert page["count"] == 7 and page["next_cursor"] is None


def test_bad_parameters_are_named(stack, http):
    cases = [({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "x"}, "limit"),
             ({"since": "yesterday"}, "since"), ({"after": "12"}, "after"),
             ({"after": "1~x"}, "after"), ({"after": "-1~2"}, "after"),
             ({"entity": "e" * 65}, "entity"), ({"actor": ""}, "actor")]
    for params, field in cases:
        r = audit(stack, http, "timer", **params)
        assert r.status_code == 422, (params, r.text)
        assert [f["field"] for f in r.json()["fields"]] == [field], (params, r.text)
    # the limits themselves are accepted
    for params in ({"limit": "1"}, {"limit": "200"}, {"entity": "e" * 64}, {"actor": "a" * 64},
                   {"since": "2026-12-02T08:00:00+08:00"}, {"after": "0~1"}):
        assert audit(stack, http, "timer", **params).status_code == 200, params


def test_the_audit_indexes_serve_each_filter(stack):
    """The page's statement (a filter's condition only when it is given, the cursor as a row
    comparison) in the generic plan every prepared statement may get: the keyset order is an
    index's, the filter and the cursor its conditions, no sort (the planner is told not to scan
    the table or a bitmap, as it would on this small table)."""
    cursor = "(at, id) < (timestamptz 'epoch' + $1::bigint * interval '1 microsecond', $2::bigint)"
    with stack.db() as conn:
        for setting in ("enable_seqscan", "enable_bitmapscan"):
            conn.execute(f"SET {setting} = off")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        for i, (where, index) in enumerate((
                ("", "admin_audit_by_time"),
                (" AND entity = $4", "admin_audit_by_entity_time"),
                (" AND actor = $4", "admin_audit_by_actor_time"))):
            conn.execute(f"PREPARE audit_page{i} AS SELECT id FROM classification.admin_audit "
                         f"WHERE {cursor}{where} ORDER BY at DESC, id DESC LIMIT $3::int")
            args = "1900000000000000, 1, 10" + (", 'x'" if where else "")
            plan = "\n".join(r[0] for r in conn.execute(
                f"EXPLAIN EXECUTE audit_page{i}({args})").fetchall())
            assert index in plan and "Sort" not in plan and "Index Cond" in plan, plan
            assert "Filter" not in plan, plan


@pytest.mark.parametrize("method", ["QUERY", "BREW"])
def test_unknown_methods_are_a_json_501(stack, http, method):
    for base in (stack.service_url("timer"), stack.base_url):
        r = http.request(method, base + "/v1/calendars", headers=stack.auth("admin"))
        assert r.status_code == 501, (base, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/json"), (base, r.headers)
        assert r.json()["error"] == "not_implemented"
