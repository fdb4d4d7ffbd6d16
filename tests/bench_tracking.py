"""Benchmark: tracking ingest on the real broker and PostgreSQL.

Produces N TrackingEvent scans (5 scans per waybill) to parcel.tracking.v1 in a fast producer
loop and measures how long until the evidence service has stored all of them in its partitioned
trajectory store (evidence.scans). Prints

  tracking ingest: N events in S s = R events/s

Usage: BUILD=... <venv python> tests/bench_tracking.py [--events N]
"""

import argparse
import datetime
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "system"))

from stack import SERVICES, Stack  # noqa: E402

CODES = ("SCAN_PICKED_UP", "SCAN_DEPARTED", "SCAN_ARRIVED", "SCAN_OUT_FOR_DELIVERY",
         "SCAN_DELIVERED")
FACILITIES = (("O1", "outlet"), ("O1", "outlet"), ("SC1", "sorting_centre"), ("O2", "outlet"),
              ("O2", "outlet"))


def iso(t):
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_events(stack, n, carrier):
    """n (waybill, payload, headers) triples, 5 scans per waybill, an hour apart. The CloudEvents
    headers (a fresh ce_id each) are built here, before the clock starts: the timed producer
    loop then only hands records to librdkafka, so the load generator takes less of the cores
    the system under test needs."""
    ev = stack.proto.TrackingEvent()
    headers = list(stack.ce_headers("cp.parcel.scanned", source="/carrier/bench").items())
    headers = [(k, v) for k, v in headers if k != "ce_id"]
    codes = [stack.proto.tracking_pb2.ScanCode.Value(c) for c in CODES]
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=6)
    out = []
    for i in range(n):
        w, step = f"BT{i // 5:09d}{carrier[-4:]}", i % 5
        ev.Clear()
        ev.waybill_no, ev.carrier, ev.scan_id = w, carrier, f"{w}-{step}"
        ev.code = codes[step]
        ev.facility_id, ev.facility_type = FACILITIES[step]
        ev.courier_id = "C1" if step in (0, 3, 4) else ""
        ev.occurred_at = iso(start + datetime.timedelta(hours=step))
        out.append((w, ev.SerializeToString(), headers + [("ce_id", str(uuid.uuid4()))]))
    return out


def produce_all(stack, events):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": stack.bootstrap, "enable.idempotence": True,
                  "linger.ms": 5, "batch.num.messages": 10000, "compression.type": "lz4",
                  "queue.buffering.max.messages": 200000})
    t0 = time.perf_counter()
    for key, value, headers in events:
        while True:
            try:
                p.produce("parcel.tracking.v1", key=key, value=value, headers=headers)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    if p.flush(60) != 0:
        raise SystemExit("bench: the producer could not deliver every event in 60 s")
    return time.perf_counter() - t0


def wait_stored(stack, carrier, n, timeout=600):
    db = stack.db()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = db.execute("SELECT count(*) FROM evidence.scans WHERE carrier = %s",
                         (carrier,)).fetchone()[0]
        if got >= n:
            return got
        time.sleep(0.2)
    raise SystemExit(f"bench: only {got} of {n} scans stored within {timeout} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    args = ap.parse_args()
    stack = Stack.start(service_env={name: {"LOG_LEVEL": "warn"} for name in SERVICES})
    try:
        warm = f"BENCHW{uuid.uuid4().hex[:6]}"
        produce_all(stack, make_events(stack, 500, warm))
        wait_stored(stack, warm, 500)
        carrier = f"BENCH{uuid.uuid4().hex[:6]}"
        events = make_events(stack, args.events, carrier)
        started = time.perf_counter()
        produced = produce_all(stack, events)
        stored = wait_stored(stack, carrier, args.events)
        total = time.perf_counter() - started
        print(f"tracking ingest: {stored} events in {total:.2f} s = {stored / total:.0f} "
              "events/s")
        print(f"  (the producer loop took {produced:.2f} s; the rest is the evidence consumer "
              "storing them)")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
