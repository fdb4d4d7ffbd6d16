"""Set-based apply of parcel.tracking.v1 (issue 14): the three consumers of the topic (evidence's
scan store and parcel summary, intake's pickup projection, classification's latest-scan
projection) store the SAME rows whether a batch goes through the set path (a few statements
per batch) or the one-event path (CONSUMER_SET_APPLY=false), for a batch with duplicates (the
same scan under a new event id, the same event delivered twice), out-of-order scans, equal
times, times within one millisecond, a parcel that already had scans, and late tracking for complaints filed before it. The
consumers are stopped while the batch is produced, so they meet it as one backlog (one poll
batch), and each mode's metrics show which path ran. No inbox row is written for scans: their
own (carrier, scan_id) key or the projection's min/latest rule makes them idempotent. A poison
scan among good ones in a set costs only itself."""

import datetime
import re
import uuid

import requests

from evidence_helpers import iso, scan
from helpers import complaint, post, waybill, wait_rows

TRACKING_CONSUMERS = ("evidence", "intake", "classification")
HOUR = datetime.timedelta(hours=1)


def _metric(stack, service, name):
    text = requests.get(stack.service_url(service) + "/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and 'topic="parcel.tracking.v1"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def _produce(stack, source, ev, ce_id=None):
    stack.produce("parcel.tracking.v1", ev.waybill_no, ev.SerializeToString(),
                  stack.ce_headers("cp.parcel.scanned", source=source, id=ce_id))


def _scenario(stack, wb, t0):
    """(scans before the batch, the batch as (scan, ce_id or None)) for waybills wb[...]."""
    def s(key, n, code, at, loc=None, **f):
        ev = scan(stack, wb[key], code, t0 + at * HOUR, carrier="EQ",
                  scan_id=f"{wb[key]}-{n}", **f)
        if loc:
            ev.location.lat, ev.location.lon = loc
        return ev

    before = [s("b", 1, "arrived", 10, facility_id="SC1", facility_type="sorting_centre")]
    pick = s("a", 1, "picked_up", 0, facility_id="O1", facility_type="outlet", courier_id="C1",
             promised_by=iso(t0 + 40 * HOUR), city="Shenzhen",
             recipient_ref="cust_00112233445566778899aabb", recipient_language="en",
             recipient_contact="app")
    batch = [
        # a: new parcel, scans out of order, the same scan again under another event id with
        # other content (the first one counts), a courier-less delivery, an older exception
        (s("a", 3, "arrived", 6, facility_id="SC1", facility_type="sorting_centre"), None),
        (pick, None),
        (s("a", 2, "departed", 2, facility_id="O1", facility_type="outlet"), None),
        (s("a", 1, "picked_up", 0, facility_id="XX", facility_type="outlet"), None),
        (s("a", 4, "out_for_delivery", 20, facility_id="O2", facility_type="outlet",
           courier_id="C7"), None),
        (s("a", 6, "delivered", 22, facility_id="O2", facility_type="outlet",
           signed_by="recipient"), None),
        (s("a", 5, "exception", 21, facility_id="O2", facility_type="outlet", courier_id="C9",
           exception_reason="address_unknown"), None),
        # b: had a scan before; older scans fill the courier once, equal times replace
        (s("b", 2, "picked_up", 0, facility_id="O1", facility_type="outlet", courier_id="C1"),
         None),
        (s("b", 3, "departed", 2, facility_id="O1", facility_type="outlet", courier_id="C2"),
         None),
        (s("b", 4, "departed", 10, facility_id="SC1", facility_type="sorting_centre"), None),
        (s("b", 5, "arrived", 10, facility_id="O2", facility_type="outlet", city="Guangzhou"),
         None),
        # c, d: late tracking (a complaint's bundle waits for it); c's scans are sent twice
        (s("c", 1, "picked_up", -60, facility_id="O1", facility_type="outlet",
           courier_id="C1", promised_by=iso(t0 - 20 * HOUR)), None),
        (s("c", 2, "arrived", -54, facility_id="SC1", facility_type="sorting_centre"), None),
        (s("c", 3, "departed", -22, facility_id="SC1", facility_type="sorting_centre"), None),
        (s("c", 4, "delivered", -10, facility_id="O2", facility_type="outlet",
           courier_id="C7", signed_by="recipient"), None),
        (s("d", 1, "exception", -5, facility_id="SC2", facility_type="sorting_centre",
           exception_reason="damaged_on_arrival"), None),
        (s("d", 2, "arrived", -6, facility_id="SC2", facility_type="sorting_centre"), None),
        # e: equal times with and without a location; the promise comes on the second scan
        (s("e", 1, "arrived", 3, facility_id="SC1", facility_type="sorting_centre",
           loc=(22.5, 114.0)), None),
        (s("e", 2, "departed", 3, facility_id="SC1", facility_type="sorting_centre",
           promised_by=iso(t0 + 30 * HOUR)), None),
        (s("e", 3, "picked_up", 1, facility_id="O1", facility_type="outlet",
           loc=(22.4, 113.9)), None),
    ]
    # f: two scans in the same millisecond, the later time first (the time is compared in
    # full, not to the millisecond), and one whose local time reads later but is older
    day = t0.strftime("%Y-%m-%d")
    batch += [
        (s("f", 1, "departed", 0, facility_id="SC1", facility_type="sorting_centre",
           occurred_at=f"{day}T05:00:00.123900Z"), None),
        (s("f", 2, "arrived", 0, facility_id="SC2", facility_type="sorting_centre",
           occurred_at=f"{day}T05:00:00.123100Z"), None),
        (s("f", 3, "arrived", 0, facility_id="SC3", facility_type="sorting_centre",
           occurred_at=f"{day}T12:00:00+08:00"), None),
    ]
    batch += [(ev, None) for ev, _ in batch if ev.waybill_no == wb["c"]]
    redelivered = f"{wb['e']}-redelivered"
    batch += [(s("e", 4, "arrived", 4, facility_id="O2", facility_type="outlet"), redelivered),
              (s("e", 4, "arrived", 4, facility_id="O2", facility_type="outlet"), redelivered)]
    return before, batch


def _file(http, stack, w):
    r = post(http, stack, complaint(waybill_no=w, type="delay",
                                    description="快递延误了三天还没到，说好昨天送到的"))
    assert r.status_code == 201, r.text
    return r.json()["complaint_id"]


def _run(stack, http, mode, t0):
    """Applies the scenario with CONSUMER_SET_APPLY=mode; returns its waybills."""
    wb = {k: waybill() for k in "abcdef"}
    source = f"/carrier/eq-{uuid.uuid4().hex[:8]}"
    before, batch = _scenario(stack, wb, t0)
    for ev in before:
        _produce(stack, source, ev)
    wait_rows(stack, "SELECT 1 FROM evidence.parcels WHERE waybill_no = %s AND scan_count = 1",
              (wb["b"],))
    late = [_file(http, stack, wb[k]) for k in "cd"]
    wait_rows(stack, "SELECT 1 FROM evidence.bundles WHERE complaint_id = ANY(%s::uuid[]) AND "
                     "NOT tracking_found", (late,), count=2)
    for name in TRACKING_CONSUMERS:
        stack.stop_service(name)
    for ev, ce_id in batch:
        _produce(stack, source, ev, ce_id)
    for name in TRACKING_CONSUMERS:
        # a long batch wait: the whole backlog is one batch (one set) in either mode
        stack.start_service(name, **dict(stack._start_env[name], CONSUMER_SET_APPLY=mode,
                                         CONSUMER_BATCH_WAIT_MS="300"))
    waybills = list(wb.values())
    distinct = len({ev.scan_id for ev, _ in batch} | {ev.scan_id for ev in before})
    wait_rows(stack, "SELECT 1 FROM evidence.scans WHERE waybill_no = ANY(%s)", (waybills,),
              count=distinct)
    wait_rows(stack, "SELECT 1 FROM evidence.bundles WHERE complaint_id = ANY(%s::uuid[]) AND "
                     "tracking_found", (late,), count=2)
    wait_rows(stack, "SELECT 1 FROM intake.pickups WHERE waybill_no = ANY(%s)", (waybills,),
              count=4)
    wait_rows(stack, "SELECT 1 FROM classification.parcel_positions WHERE waybill_no = ANY(%s)",
              (waybills,), count=6)
    set_events = {name: _metric(stack, name, "cp_consumer_set_events_total")
                  for name in TRACKING_CONSUMERS}
    return wb, source, late, set_events


QUERIES = {
    "scans": "SELECT carrier, scan_id, waybill_no, code, facility_id, facility_type, courier_id, "
             "occurred_at, city, lat, lon, pod_ref, note, signed_by, exception_reason, "
             "customer_consented, promised_by FROM evidence.scans WHERE waybill_no = ANY(%s)",
    "parcels": "SELECT waybill_no, carrier, scan_count, first_scan_at, last_scan_at, last_code, "
               "last_facility_id, last_facility_type, last_city, courier_id, promised_by, "
               "delivered, delivered_at, final, exceptions, pending_bundle FROM evidence.parcels "
               "WHERE waybill_no = ANY(%s)",
    "pickups": "SELECT waybill_no, picked_up_at FROM intake.pickups WHERE waybill_no = ANY(%s)",
    "recipients": "SELECT waybill_no, customer_ref, language, contact FROM "
                  "evidence.parcel_recipients WHERE waybill_no = ANY(%s)",
    "positions": "SELECT waybill_no, code, facility_id, facility_type, city, lat, lon, "
                 "occurred_at FROM classification.parcel_positions WHERE waybill_no = ANY(%s)",
    "bundles": "SELECT waybill_no, version, tracking_found, scan_count, "
               "(SELECT array_agg(f->>'kind' ORDER BY f->>'kind') FROM "
               "jsonb_array_elements(findings) f) FROM evidence.bundles WHERE waybill_no = ANY(%s)",
}


def _rows(stack, wb):
    """Every row the scenario left, with the waybill numbers replaced by their roles."""
    names = {w: k for k, w in wb.items()}
    pattern = re.compile("|".join(map(re.escape, names)))

    def norm(v):
        return pattern.sub(lambda m: names[m.group(0)], v) if isinstance(v, str) else v

    out = {}
    with stack.db() as db:
        for table, sql in QUERIES.items():
            rows = db.execute(sql, (list(wb.values()),)).fetchall()
            out[table] = sorted((tuple(norm(v) for v in row) for row in rows), key=repr)
    return out


def _inbox_rows(stack, source):
    with stack.db() as db:
        return {name: db.execute(f"SELECT count(*) FROM {name}.inbox WHERE ce_source = %s",
                                 (source,)).fetchone()[0] for name in TRACKING_CONSUMERS}


def test_set_path_and_one_event_path_store_identical_rows(stack, http):
    t0 = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - 48 * HOUR
    try:
        one_wb, one_source, _, one_set = _run(stack, http, "false", t0)
        set_wb, set_source, _, set_set = _run(stack, http, "true", t0)
    finally:
        for name in TRACKING_CONSUMERS:
            stack.restart_service(name)
    # the paths really differed: only the set run applied scans as sets, in every consumer
    assert all(v == 0 for v in one_set.values()), one_set
    assert all(v > 0 for v in set_set.values()), set_set
    one, got = _rows(stack, one_wb), _rows(stack, set_wb)
    assert len(one["scans"]) == 24 and len(one["bundles"]) == 2
    for table in QUERIES:
        assert got[table] == one[table], table
    # spot checks of what both store: first of a repeated scan id, the newest summary
    assert got["recipients"] == [("a", "cust_00112233445566778899aabb", "en", "app")]
    parcels = {r[0]: r for r in got["parcels"]}
    assert parcels["a"][2] == 6 and parcels["a"][5] == "delivered" and parcels["a"][9] == "C7"
    assert parcels["b"][2] == 5 and parcels["b"][6] == "O2" and parcels["b"][9] == "C1"
    assert ("EQ", "a-1", "a", "picked_up", "O1") == got["scans"][0][:5]
    positions = {r[0]: r for r in got["positions"]}
    assert positions["f"][2] == "SC1" and parcels["f"][6] == "SC1"
    assert not any(r[15] for r in got["parcels"])  # no bundle waits for tracking any more
    assert _inbox_rows(stack, one_source) == _inbox_rows(stack, set_source) == {
        name: 0 for name in TRACKING_CONSUMERS}


def test_a_poison_scan_in_a_set_costs_only_itself(stack):
    """A scan that passes every validator but that PostgreSQL refuses fails the set; the set
    is applied again one event at a time, the poison scan is dead-lettered and the others are
    stored. The validators now catch anything malformed (a city that is not UTF-8 is refused
    before apply), so the refusal comes from a CHECK constraint the test adds for one city:
    the same kind of non-transient failure a real schema constraint gives."""
    w = waybill()
    source = f"/carrier/poison-{uuid.uuid4().hex[:8]}"
    t0 = datetime.datetime.now(datetime.timezone.utc) - 10 * HOUR
    good = [scan(stack, w, "arrived", t0 + i * HOUR, scan_id=f"{w}-{i}", facility_id="SC1",
                 facility_type="sorting_centre") for i in range(6)]
    poison_city = f"Poison{uuid.uuid4().hex[:6]}"
    poison = scan(stack, w, "departed", t0 + 3.5 * HOUR, scan_id=f"{w}-p", city=poison_city,
                  facility_id="SC1", facility_type="sorting_centre")
    raw = poison.SerializeToString()
    constraint = f"test_refuses_{poison_city.lower()}"
    with stack.db() as db:
        db.execute(f"ALTER TABLE evidence.scans ADD CONSTRAINT {constraint} "
                   f"CHECK (city <> '{poison_city}')")
    stack.stop_service("evidence")
    try:
        with stack.consumer("complaint.deadletter.v1", from_beginning=False) as dlq:
            for ev in good[:3]:
                _produce(stack, source, ev)
            poison_id = str(uuid.uuid4())
            stack.produce("parcel.tracking.v1", w, raw,
                          stack.ce_headers("cp.parcel.scanned", source=source, id=poison_id))
            for ev in good[3:]:
                _produce(stack, source, ev)
            stack.start_service("evidence", **stack._start_env["evidence"])
            m = dlq.poll_until(lambda m: m.headers.get("ce_id") == poison_id
                               and "evidence" in m.headers.get("dlq_group", ""), timeout=60)
            assert "apply failed" in m.headers["dlq_reason"], m.headers
    finally:
        if not stack.is_running("evidence"):
            stack.start_service("evidence", **stack._start_env["evidence"])
        with stack.db() as db:
            db.execute(f"ALTER TABLE evidence.scans DROP CONSTRAINT IF EXISTS {constraint}")
    rows = wait_rows(stack, "SELECT scan_id FROM evidence.scans WHERE waybill_no = %s", (w,),
                     count=6)
    assert sorted(r[0] for r in rows) == sorted(ev.scan_id for ev in good)
    # the restarted evidence counts from zero: the set was tried and fell back
    assert _metric(stack, "evidence", "cp_consumer_set_fallbacks_total") > 0
