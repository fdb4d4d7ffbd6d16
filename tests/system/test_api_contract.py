"""The API contract: the services' route tables (the one place a route and its callers are
written, services/*/main.c) against the nginx front door and the OpenAPI document.

Adding a route? Give it its callers in the table (AUTH_* of common/auth.h), make sure the
front door reaches it (deploy/nginx/nginx.conf.tmpl, then re-render compose.conf), and
describe it in deploy/openapi/openapi.json with the same roles in x-cp-roles: the failures
below name what is missing where.
"""

import json
import os
import re
import subprocess

import pytest

from api_contract import (API_VENV, OPENAPI, nginx_locations, nginx_pick, regex_alternatives,
                          sample_path, service_routes)

CALLERS = {"public", "customer", "agent", "supervisor", "admin", "integration", "service"}


def internal(route) -> bool:
    """A route only our services call (signed service requests): never through the front door,
    not in the public document."""
    return set(route["roles"]) == {"service"}


@pytest.fixture(scope="module")
def routes():
    return service_routes()


def test_every_route_declares_who_may_call_it(routes):
    assert len(routes) > 40, "the binaries printed too few routes: is --routes broken?"
    undeclared = [f"{r['service']}: {r['method']} {r['path']}" for r in routes
                  if not CALLERS & set(r["roles"])]
    assert not undeclared, (
        "these routes name no caller; add the roles as the route's fifth field in the service's "
        "route table (AUTH_PUBLIC, AUTH_CUSTOMER, AUTH_STAFF, AUTH_SUPERVISORS, AUTH_ADMIN, "
        "AUTH_INTEGRATION, AUTH_SERVICE in common/auth.h): " + "; ".join(undeclared))


def test_front_door_sends_every_route_to_its_service(routes):
    locs = nginx_locations()
    wrong = []
    for r in routes:
        loc = nginx_pick(locs, sample_path(r["path"]))
        got = loc.upstream if loc else None
        if internal(r):
            if got is not None:
                wrong.append(f"{r['method']} {r['path']} is for our services only, but nginx "
                             f"sends it to {got} (location {loc.path}, line {loc.line}): "
                             "answer it with the 404 in the template")
            continue
        if got != r["service"]:
            where = f"location {loc.modifier} {loc.path} (line {loc.line})" if loc else "no location"
            wrong.append(f"{r['method']} {r['path']} belongs to {r['service']} but nginx sends it "
                         f"to {got or 'nobody'} ({where})")
    assert not wrong, ("add or fix a location in the ROUTING TABLE of deploy/nginx/nginx.conf.tmpl, "
                       "then `deploy/scripts/nginx.sh render-compose > deploy/nginx/compose.conf`:\n"
                       + "\n".join(wrong))


def test_front_door_routes_nothing_no_service_serves(routes):
    """Every API location (and each word of a (a|b) group) reaches at least one route of the
    service it proxies to: a location left over from a removed route is found here."""
    by_service = {}
    for r in routes:
        by_service.setdefault(r["service"], []).append(sample_path(r["path"]))
    stale = []
    for loc in nginx_locations():
        if not loc.upstream or not loc.path.lstrip("^=~ ").startswith("/v1"):
            continue
        for alt in regex_alternatives(loc.path) if loc.modifier.startswith("~") else [loc.path]:
            probe = type(loc)(loc.modifier, alt, loc.upstream, loc.line)
            if not any(probe.matches(p) for p in by_service.get(loc.upstream, [])):
                stale.append(f"line {loc.line}: location {loc.modifier} {alt} -> {loc.upstream}")
    assert not stale, "nginx routes paths no service serves (remove them):\n" + "\n".join(stale)


# ---- the OpenAPI document (deploy/openapi/openapi.json) ----------------------------------------

SCHEME_ROLES = {"customerToken": "customer", "customerPhone": "customer",
                "customerPhoneLast4": "customer"}


def openapi_operations():
    """{(METHOD, path with {} segments): operation} of the document."""
    doc = json.loads(OPENAPI.read_text())
    ops = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("get", "put", "post", "delete", "patch"):
                ops[(method.upper(), re.sub(r"\{[^}]+\}", "{}", path))] = op
    return ops


def test_openapi_document_is_valid_openapi_3_1():
    """openapi-spec-validator (pinned in tests/requirements-api.txt) on the served document."""
    done = subprocess.run([str(API_VENV / "bin" / "openapi-spec-validator"), str(OPENAPI)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(OPENAPI.read_text())["openapi"].startswith("3.1.")


def test_openapi_describes_exactly_the_routes(routes):
    ops = openapi_operations()
    table = {(r["method"], r["path"]): r for r in routes if not internal(r)}
    missing = [f"{m} {p} ({table[(m, p)]['service']})" for m, p in table if (m, p) not in ops]
    extra = [f"{m} {p}" for m, p in ops if (m, p) not in table]
    assert not missing, ("routes missing from deploy/openapi/openapi.json (add an operation with "
                         "x-cp-service, x-cp-roles and security; {} segments are named "
                         "parameters there): " + "; ".join(missing))
    assert not extra, ("deploy/openapi/openapi.json describes operations no route table has "
                       "(remove them, or add the route): " + "; ".join(extra))


def test_openapi_roles_are_the_route_tables(routes):
    """x-cp-roles and the security requirements say what the route table says: public has no
    security, customer routes name the customer's proofs, staff and integration roles are the
    bearer token's role list, ?access_token= only where the route allows it."""
    ops = openapi_operations()
    wrong = []
    for r in routes:
        op = ops.get((r["method"], r["path"]))
        if op is None or internal(r):
            continue  # reported by test_openapi_describes_exactly_the_routes
        name = f"{r['method']} {r['path']}"
        want = set(r["roles"])
        if set(op.get("x-cp-roles", [])) != want:
            wrong.append(f"{name}: x-cp-roles {sorted(op.get('x-cp-roles', []))}, "
                         f"the route table says {sorted(want)}")
        if op.get("x-cp-service") != r["service"]:
            wrong.append(f"{name}: x-cp-service {op.get('x-cp-service')}, served by {r['service']}")
        sec = op.get("security")
        if sec is None:
            wrong.append(f"{name}: no security (public operations say security: [])")
            continue
        got = set()
        for req in sec:
            for scheme, scopes in req.items():
                got |= {SCHEME_ROLES[scheme]} if scheme in SCHEME_ROLES else set(scopes)
                if scheme == "accessToken":
                    got.add("query_token")
                if scheme == "sessionCookie" and set(scopes) != want & {"agent", "supervisor",
                                                                        "admin"}:
                    wrong.append(f"{name}: sessionCookie grants {sorted(scopes)}, the people's "
                                 f"roles of the route table are {sorted(want - {'integration'})}")
        expect = want - {"public"}
        if got != expect:
            wrong.append(f"{name}: security grants {sorted(got)}, the route table {sorted(expect)}")
    assert not wrong, "\n".join(wrong)


# ---- the document against the running system --------------------------------------------------

def test_front_door_serves_the_document(fuzz_stack, http):
    resp = http.get(fuzz_stack.base_url + "/openapi.json")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == json.loads(OPENAPI.read_text())


def test_refusals_are_json_as_documented(fuzz_stack, http):
    """What schemathesis found answered in HTML: a method a path does not have (libevent's 501
    for OPTIONS and HEAD, nginx's 405 for TRACE) and a request line too long (nginx's 414)."""
    base = fuzz_stack.base_url
    resp = http.options(base + "/v1/offers/mine")
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET, HEAD"
    assert resp.json()["error"] == "method_not_allowed"
    resp = http.head(base + "/v1/waybills/SF1234567890/qr.svg")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("image/svg+xml")
    assert resp.content == b""
    resp = http.request("TRACE", base + "/v1/offers/mine")
    assert resp.status_code == 405 and resp.json()["error"] == "method_not_allowed"
    resp = http.get(base + "/v1/staff/complaints?q=" + "x" * 9000)
    assert resp.status_code == 414 and resp.json()["error"] == "uri_too_long"


# schemathesis (tests/requirements-api.txt) against a stack of its own (it changes operator
# tables), bounded: a few examples per operation and kind of caller, the whole run about two
# minutes. Checks: no 5xx, and every response is documented (status code, content type, body
# schema). For a deeper local run: CP_SCHEMATHESIS_EXAMPLES=50 and
# CP_SCHEMATHESIS_PHASES=examples,coverage,fuzzing,stateful (the coverage phase's boundary and
# negative values take minutes; it found the HTML 501 for OPTIONS/HEAD that is now a JSON 405).
ST_EXAMPLES = os.environ.get("CP_SCHEMATHESIS_EXAMPLES", "4")
ST_PHASES = os.environ.get("CP_SCHEMATHESIS_PHASES", "examples,fuzzing,stateful")
# The stateful phase follows the document's links, so it runs where their operations are all
# selected (admin, anonymous); it refuses to run on a filtered subset without them.
ST_SUBSET_PHASES = ",".join(p for p in ST_PHASES.split(",") if p != "stateful")
ST_CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
             "response_schema_conformance")
# QUERY is not a method libevent knows: the services answer the JSON 501 (common/httpd.c), which
# RFC 9110 (15.6.2) asks for an unrecognised method; every method it knows gets the JSON 405.
ST_CONFIG = """
[phases.coverage]
unexpected-methods = ["get", "put", "post", "delete", "options", "patch", "trace"]
"""


@pytest.fixture(scope="module")
def fuzz_stack(make_stack):
    return make_stack()


def schemathesis(stack, tmp_path, name: str, args: list[str], config: str = "",
                 phases: str = ST_PHASES):
    """Runs schemathesis on the served document; fails with its output. Returns how many
    responses of each status code it received (its NDJSON report)."""
    cfg = tmp_path / f"{name}.toml"
    report = tmp_path / f"{name}.ndjson"
    cfg.write_text(ST_CONFIG + config)
    cmd = [str(API_VENV / "bin" / "schemathesis"), "--config-file", str(cfg), "run",
           stack.base_url + "/openapi.json", "--url", stack.base_url, "--checks", ST_CHECKS,
           "--max-examples", ST_EXAMPLES, "--seed", "20261124", "--workers", "1",
           "--phases", phases, "--suppress-health-check", "all",
           "--no-shrink", "--request-timeout", "20", "--output-truncate", "false",
           "--max-failures", "20", "--report", "ndjson", "--report-ndjson-path", str(report),
           *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"schemathesis ({name}) found failures:\n{out[-20000:]}"
    codes = {}
    for code in re.findall(r'"status_code":\s*(\d{3})', report.read_text()):
        codes[int(code)] = codes.get(int(code), 0) + 1
    return codes


def bearer(role: str) -> list[str]:
    from stack import TOKENS
    return ["-H", f"Authorization: Bearer {TOKENS[role][0]}"]


CUSTOMER_OPS = ("getComplaint", "answerSurvey", "customerReply")


def test_schemathesis_as_admin(fuzz_stack, tmp_path):
    """Every staff and integration operation with the token that may call them all."""
    args = bearer("admin")
    for op in CUSTOMER_OPS[1:]:
        args += ["--exclude-operation-id", op]
    codes = schemathesis(fuzz_stack, tmp_path, "admin", args)
    assert sum(n for c, n in codes.items() if c < 300) > 50, codes


def test_schemathesis_as_agent_and_integration(fuzz_stack, tmp_path):
    """The lowest staff role (403s and not_owner answers conform too) and the carriers'
    gateway on the operations it may call."""
    schemathesis(fuzz_stack, tmp_path, "agent", bearer("agent") + [
        "--include-tag", "classification", "--include-tag", "followup",
        "--exclude-operation-id", "answerSurvey", "--exclude-operation-id", "customerReply"],
        phases=ST_SUBSET_PHASES)
    schemathesis(fuzz_stack, tmp_path, "integration", bearer("integration") + [
        "--include-operation-id", "pushScans", "--include-operation-id", "answerEvidenceRequest",
        "--include-operation-id", "confirmExecution", "--include-operation-id", "getComplaint"],
        phases=ST_SUBSET_PHASES)


def test_schemathesis_as_customer_and_anonymous(fuzz_stack, tmp_path, http):
    """The customer's proofs (link token, phone, last four digits) on a real case, and nobody
    at all on every operation (public ones answer, the others 401)."""
    phone = "13800138123"
    filed = http.post(fuzz_stack.base_url + "/v1/complaints", json={
        "channel": "web", "waybill_no": "SF2026112400Q1",
        "complainant": {"name": "李四", "phone": phone, "role": "recipient"},
        "description": "the parcel is late", "type": "delay"})
    assert filed.status_code == 201, filed.text
    no = filed.json()["complaint_no"]
    token = re.search(r"token=([0-9a-f]+)", filed.json()["link"]).group(1)
    ops = []
    for op in CUSTOMER_OPS:
        ops += ["--include-operation-id", op]
    pin = f"""
[[operations]]
include-operation-id = ["getComplaint", "answerSurvey", "customerReply"]
parameters = {{ "path.complaint_no" = "{no}" }}
"""
    for scheme, key in (("customerToken", token), ("customerPhone", phone),
                        ("customerPhoneLast4", phone[-4:])):
        codes = schemathesis(fuzz_stack, tmp_path, scheme, ops, pin + f"""
[auth.openapi.{scheme}]
api_key = "{key}"
""", phases=ST_SUBSET_PHASES)
        # the proof opened the case: the run reached the handlers, not only the 401s
        assert codes.get(200), f"{scheme}: no 200 in {codes}"
    schemathesis(fuzz_stack, tmp_path, "anonymous", ["--max-examples", "2"])
