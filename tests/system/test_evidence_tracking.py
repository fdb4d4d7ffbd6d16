"""Tracking ingest on the real broker and PostgreSQL: duplicates and out-of-order scans, the
HTTP push path, stuck-parcel exceptions."""

import re
import time

from evidence_helpers import ago, iso, scan, send
from helpers import waybill, wait_rows
from stack import wait_for


def test_duplicate_and_out_of_order_scans_are_stored_once_in_time_order(stack, http):
    w = waybill()
    first = scan(stack, w, "picked_up", ago(30), facility_id="O1", facility_type="outlet",
                 courier_id="C1")
    middle = scan(stack, w, "arrived", ago(20), facility_id="SC1",
                  facility_type="sorting_centre")
    last = scan(stack, w, "out_for_delivery", ago(2), facility_id="O2", facility_type="outlet",
                courier_id="C7")
    # newest first, then the same scans again (new CloudEvents ids: only the scan id repeats)
    send(stack, last, middle, first, middle, first, last)
    rows = wait_rows(stack, "SELECT scan_count FROM evidence.parcels WHERE waybill_no = %s "
                            "AND scan_count >= 3", (w,))
    time.sleep(1.0)  # let any duplicate be applied too
    db = stack.db()
    assert db.execute("SELECT count(*) FROM evidence.scans WHERE waybill_no = %s",
                      (w,)).fetchone()[0] == 3
    summary = db.execute("SELECT scan_count, last_code, last_facility_id, courier_id, "
                         "first_scan_at < last_scan_at, delivered FROM evidence.parcels "
                         "WHERE waybill_no = %s", (w,)).fetchone()
    assert rows[0][0] == 3 and summary == (3, "out_for_delivery", "O2", "C7", True, False)

    r = http.get(f"{stack.base_url}/v1/parcels/{w}/trajectory", headers=stack.auth("agent"))
    assert r.status_code == 200, r.text
    traj = r.json()
    assert [s["code"] for s in traj["scans"]] == ["picked_up", "arrived", "out_for_delivery"]
    assert traj["last_facility_id"] == "O2" and traj["scan_count"] == 3
    assert http.get(f"{stack.base_url}/v1/parcels/{w}/trajectory").status_code == 401
    assert http.get(f"{stack.base_url}/v1/parcels/NOPE{w}/trajectory",
                    headers=stack.auth("agent")).status_code == 404


def _push(http, stack, body, role="integration"):
    return http.post(f"{stack.base_url}/v1/tracking/events", json=body, headers=stack.auth(role))


def test_http_push_goes_through_the_tracking_topic(stack, http):
    w = waybill()
    events = [
        {"waybill_no": w, "scan_id": f"{w}-1", "code": "picked_up",
         "occurred_at": iso(ago(5)), "facility_id": "O1", "facility_type": "outlet",
         "courier_id": "C1", "promised_by": iso(ago(-40)), "city": "Shenzhen",
         "location": {"lat": 22.54, "lon": 114.06}},
        {"waybill_no": w, "scan_id": f"{w}-2", "code": "exception", "occurred_at": iso(ago(3)),
         "facility_id": "SC1", "facility_type": "sorting_centre",
         "exception_reason": "traffic_control", "note": "road closed"},
    ]
    with stack.consumer("parcel.tracking.v1", from_beginning=False) as reader:
        r = _push(http, stack, {"carrier": "SFX", "events": events})
        assert r.status_code == 202, r.text
        assert r.json() == {"accepted": 2}
        got = [reader.poll_until(lambda m: m.key == w, timeout=15) for _ in range(2)]
    assert {m.headers["ce_type"] for m in got} == {"cp.parcel.scanned"}
    wait_rows(stack, "SELECT 1 FROM evidence.parcels WHERE waybill_no = %s AND scan_count = 2",
              (w,))
    row = stack.db().execute("SELECT carrier, exception_reason, note FROM evidence.scans WHERE "
                             "waybill_no = %s AND code = 'exception'", (w,)).fetchone()
    assert row == ("SFX", "traffic_control", "road closed")
    # the same batch again: accepted, still stored once
    assert _push(http, stack, {"carrier": "SFX", "events": events}).status_code == 202
    time.sleep(1.0)
    assert stack.db().execute("SELECT count(*) FROM evidence.scans WHERE waybill_no = %s",
                              (w,)).fetchone()[0] == 2


def test_http_push_rejects_bad_items_by_index_and_stores_nothing(stack, http):
    w = waybill()
    good = {"waybill_no": w, "scan_id": f"{w}-ok", "code": "arrived",
            "occurred_at": iso(ago(1)), "facility_id": "SC1", "facility_type": "sorting_centre"}
    bad = [good,
           {**good, "scan_id": f"{w}-b1", "occurred_at": "yesterday"},
           {**good, "scan_id": f"{w}-b2", "code": "teleported", "facility_type": "moon"},
           {**good, "scan_id": f"{w}-b3", "code": "exception"},
           "not an object"]
    r = _push(http, stack, {"carrier": "SFX", "events": bad})
    assert r.status_code == 422, r.text
    fields = r.json()["fields"]
    assert {(f["index"], f["field"]) for f in fields} >= {
        (1, "events[1].occurred_at"), (2, "events[2].code"), (2, "events[2].facility_type"),
        (3, "events[3].exception_reason"), (4, "events[4].")}
    assert all(f["index"] != 0 for f in fields)
    assert _push(http, stack, {"events": [good]}).status_code == 422  # no carrier anywhere
    assert _push(http, stack, {"carrier": "SFX", "events": []}).status_code == 422
    assert _push(http, stack, {"carrier": "SFX", "events": [good] * 101}).status_code == 413
    assert _push(http, stack, {"carrier": "SFX", "events": [good]}, role="agent").status_code == 403
    assert http.post(f"{stack.base_url}/v1/tracking/events", json={"events": [good]}).status_code == 401
    time.sleep(1.0)
    assert stack.db().execute("SELECT count(*) FROM evidence.outbox WHERE msg_key = %s",
                              (w,)).fetchone()[0] == 0


def test_stuck_parcel_raises_an_exception_event(stack):
    stuck, done = waybill(), waybill()
    with stack.service_env("evidence", STUCK_AFTER_SECONDS="3", STUCK_CHECK_MS="200",
                           STUCK_PROACTIVE_CASE="true"):
        with stack.consumer("parcel.exception.v1", from_beginning=False) as reader:
            send(stack,
                 scan(stack, stuck, "arrived", ago(0.001), facility_id="SC9",
                      facility_type="sorting_centre", city="Wuhan"),
                 scan(stack, done, "delivered", ago(0.001), facility_id="O9",
                      facility_type="outlet", signed_by="recipient"))
            msg = reader.poll_until(lambda m: m.key == stuck, timeout=20)
            reader.collect(timeout=2)  # raised once per last scan, never for the delivered
    assert msg.headers["ce_type"] == "cp.parcel.stuck"
    ex = stack.proto.ParcelException()
    ex.ParseFromString(msg.value)
    assert (ex.kind, ex.facility_id, ex.facility_type, ex.city) == ("stuck", "SC9",
                                                                    "sorting_centre", "Wuhan")
    assert ex.proactive_case and ex.threshold_seconds == 3 and ex.stuck_seconds >= 3
    assert ex.last_code == "arrived"
    keys = [m.key for m in reader.messages]
    assert keys.count(stuck) == 1 and done not in keys


def _partitions(stack):
    return {r[0] for r in stack.db().execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'evidence.scans'::regclass").fetchall()}


def test_retention_drops_old_partitions_and_skips_expired_scans(stack):
    import datetime
    old_month = (datetime.datetime.now(datetime.timezone.utc)
                 - datetime.timedelta(days=75)).strftime("scans_%Y%m")
    now_month = datetime.datetime.now(datetime.timezone.utc).strftime("scans_%Y%m")
    assert old_month in _partitions(stack)
    w = waybill()
    with stack.service_env("evidence", TRACKING_RETENTION_DAYS="40",
                           TRACKING_MONTHS_AHEAD="2"):
        parts = stack_wait(lambda: old_month not in _partitions(stack) and _partitions(stack))
        assert now_month in parts
        send(stack, scan(stack, w, "picked_up", ago(24 * 50), facility_id="O1",
                         facility_type="outlet"),
             scan(stack, w, "arrived", ago(1), facility_id="SC1",
                  facility_type="sorting_centre"))
        wait_rows(stack, "SELECT 1 FROM evidence.parcels WHERE waybill_no = %s", (w,))
        stored = stack.db().execute("SELECT code FROM evidence.scans WHERE waybill_no = %s",
                                    (w,)).fetchall()
    assert stored == [("arrived",)]
    # back to the default retention: the partitions are there again
    stack_wait(lambda: old_month in _partitions(stack))


def stack_wait(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def _metric(http, stack, name: str, having: str = "") -> float:
    """The sum of evidence's samples of name (those whose labels contain `having`)."""
    text = http.get(f"{stack.service_url('evidence')}/metrics").text
    return sum(float(v) for k, v in re.findall(rf"^({name}(?:{{[^}}]*}})?) (\S+)$", text, re.M)
               if having in k)


def _produce_scan(stack, ev, partition: int):
    stack.produce("parcel.tracking.v1", ev.waybill_no, ev.SerializeToString(),
                  stack.ce_headers("cp.parcel.scanned", source="/carrier/sfx"),
                  partition=partition)


def test_stuck_sweep_waits_while_tracking_events_are_unapplied(stack, http):
    """The lag guard: a parcel whose stored last scan is 3 h old is not declared stuck while its
    newer scan waits unapplied on the topic. The backlog is real: PostgreSQL refuses the scan of
    a blocker waybill (a trigger raising a serialization failure, which the consumer retries),
    so the consumer of its partition holds its batch and the parcel's newer scan waits behind
    it on the same partition; the parcel's older scan was stored before (STUCK_SWEEP_MAX_LAG=0:
    any unapplied event holds the sweep). Everything goes through one partition: which of
    evidence's consumers owns which partition is the group's choice, so a test that needs two
    partitions in different hands fails when one consumer gets both."""
    blocker, w, other = waybill(), waybill(), waybill()
    db = stack.db()
    # stored while the sweep's threshold is the default day: 3 h old is not stuck yet
    _produce_scan(stack, scan(stack, w, "departed", ago(3), facility_id="SC1",
                              facility_type="sorting_centre"), 1)
    wait_rows(stack, "SELECT 1 FROM evidence.parcels WHERE waybill_no = %s AND "
                     "last_code = 'departed'", (w,))
    db.execute("CREATE FUNCTION evidence.cp_test_refuse_scan() RETURNS trigger LANGUAGE plpgsql "
               "AS $$ BEGIN RAISE EXCEPTION 'test: scan refused' USING ERRCODE = '40001'; END $$")
    db.execute("CREATE TRIGGER cp_test_refuse_scan BEFORE INSERT ON evidence.scans FOR EACH ROW "
               f"WHEN (NEW.waybill_no = '{blocker}') EXECUTE FUNCTION "
               "evidence.cp_test_refuse_scan()")
    refused = True
    try:
        retries = _metric(http, stack, "cp_consumer_batch_retries_total")
        _produce_scan(stack, scan(stack, blocker, "arrived", ago(0.01), facility_id="SC3",
                                  facility_type="sorting_centre"), 1)
        wait_for(lambda: _metric(http, stack, "cp_consumer_batch_retries_total") > retries, 60,
                 "evidence retrying the blocker's batch")
        # the parcel's newer scan waits behind the blocker
        _produce_scan(stack, scan(stack, w, "arrived", ago(0.2), facility_id="SC2",
                                  facility_type="sorting_centre"), 1)
        with stack.service_env("evidence", STUCK_AFTER_SECONDS="3600", STUCK_CHECK_MS="200",
                               STUCK_SWEEP_MAX_LAG="0"):
            skipped = _metric(http, stack, "cp_evidence_stuck_sweeps_skipped_total",
                              'reason="tracking_lag"')
            wait_for(lambda: _metric(http, stack, "cp_evidence_stuck_sweeps_skipped_total",
                                     'reason="tracking_lag"') >= skipped + 2, 60,
                     "sweeps skipped with the parcel stored")
            # stored alone, the older scan is 3 h old: a sweep would have raised it
            assert db.execute("SELECT stuck_for FROM evidence.parcels WHERE waybill_no = %s",
                              (w,)).fetchone() == (None,)
            db.execute("DROP TRIGGER cp_test_refuse_scan ON evidence.scans")
            refused = False
            # the backlog applied: the newer scan is the parcel's last, the sweeps run again
            wait_rows(stack, "SELECT 1 FROM evidence.parcels WHERE waybill_no = %s AND "
                             "last_code = 'arrived'", (w,))
            swept = _metric(http, stack, "cp_evidence_stuck_sweeps_total")
            wait_for(lambda: _metric(http, stack, "cp_evidence_stuck_sweeps_total") >= swept + 2,
                     60, "sweeps run once the tracking events are applied")
            assert db.execute("SELECT stuck_for FROM evidence.parcels WHERE waybill_no = %s",
                              (w,)).fetchone() == (None,)
            # and a parcel that is stuck is still raised
            send(stack, scan(stack, other, "arrived", ago(3), facility_id="SC4",
                             facility_type="sorting_centre"))
            wait_rows(stack, "SELECT 1 FROM evidence.parcels WHERE waybill_no = %s AND "
                             "stuck_for IS NOT NULL", (other,))
    finally:
        if refused:
            db.execute("DROP TRIGGER IF EXISTS cp_test_refuse_scan ON evidence.scans")
        db.execute("DROP FUNCTION evidence.cp_test_refuse_scan()")
