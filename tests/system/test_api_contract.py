"""The API contract: the services' route tables (the one place a route and its callers are
written, services/*/main.c) against the nginx front door and the OpenAPI document.

Adding a route? Give it its callers in the table (AUTH_* of common/auth.h), make sure the
front door reaches it (deploy/nginx/nginx.conf.tmpl, then re-render compose.conf), and
describe it in deploy/openapi/openapi.json with the same roles in x-cp-roles: the failures
below name what is missing where.
"""

import pytest

from api_contract import (nginx_locations, nginx_pick, regex_alternatives, sample_path,
                          service_routes)

CALLERS = {"public", "customer", "agent", "supervisor", "admin", "integration"}


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
        "AUTH_INTEGRATION in common/auth.h): " + "; ".join(undeclared))


def test_front_door_sends_every_route_to_its_service(routes):
    locs = nginx_locations()
    wrong = []
    for r in routes:
        loc = nginx_pick(locs, sample_path(r["path"]))
        got = loc.upstream if loc else None
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
