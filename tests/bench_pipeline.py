"""Benchmark: complaints through the real system (nginx, six services, Kafka, PostgreSQL).

Prints
  intake HTTP: N complaints with C clients in S s = R req/s (latency p50/p99 ms)
  pipeline: N complaints to follow-up in S s = R complaints/s (received -> plan drafted p50/p99 ms)
  notifications: N delivered to the local gateway receivers in S s = R messages/s

Usage: <venv python> tests/bench_pipeline.py [--complaints N] [--clients C]
"""

import argparse
import concurrent.futures
import statistics
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "system"))

import requests  # noqa: E402

from helpers import complaint, wait_rows  # noqa: E402
from stack import Stack  # noqa: E402



# When follow-up (the last service) recorded the drafted plan of a complaint, from its receipt:
# every automatic step (classification, routing, evidence, the proposal) is behind it.
DRAFTED_SQL = ("SELECT min(e.at) - c.received_at FROM followup.case_events e JOIN "
               "intake.complaints c ON c.id = e.complaint_id WHERE {where} AND e.ce_type = "
               "'cp.complaint.resolution_proposed' GROUP BY c.id, c.received_at")

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def post_all(stack, n, clients):
    local = threading.local()

    def one(_):
        s = getattr(local, "session", None)
        if s is None:
            s = local.session = requests.Session()
        t0 = time.perf_counter()
        r = s.post(stack.base_url + "/v1/complaints", json=complaint(),
                   headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30)
        r.raise_for_status()
        return time.perf_counter() - t0, r.json()["complaint_id"]

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(n)))
    return time.perf_counter() - t0, results


def wrk_intake(stack, seconds, connections):
    """HTTP load with wrk (a native client): returns (requests, seconds, p50, p99, errors)."""
    script = Path(__file__).resolve().parent / "bench_intake.lua"
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), stack.base_url], capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRK "))
    n, dur_us, p50, p99, _mean, errors = line.split()[1:]
    return int(n), int(dur_us) / 1e6, float(p50), float(p99), int(errors)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--complaints", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    args = ap.parse_args()
    stack = Stack.start(service_env={name: {"LOG_LEVEL": "warn"} for name in
                                     ("intake", "classification", "evidence", "resolution",
                                      "followup", "timer")})
    try:
        # warm-up: connections, consumer groups, prepared caches
        post_all(stack, 20, 4)
        started = time.perf_counter()
        elapsed, results = post_all(stack, args.complaints, args.clients)
        lat = [r[0] * 1000 for r in results]
        print(f"intake HTTP: {args.complaints} complaints with {args.clients} clients in "
              f"{elapsed:.2f} s = {args.complaints / elapsed:.0f} req/s "
              f"(latency p50 {pct(lat, 0.5):.1f} ms, p99 {pct(lat, 0.99):.1f} ms)")
        ids = [r[1] for r in results]
        # the machine's part ends when follow-up has the drafted plan (people decide the rest)
        rows = wait_rows(stack, DRAFTED_SQL.format(where="e.complaint_id = ANY(%s::uuid[])"),
                         (ids,), count=len(ids), timeout=600)
        total = time.perf_counter() - started
        e2e = [r[0].total_seconds() * 1000 for r in rows]
        print(f"pipeline: {len(ids)} complaints to follow-up in {total:.2f} s = "
              f"{len(ids) / total:.0f} complaints/s (received -> plan drafted p50 "
              f"{pct(e2e, 0.5):.0f} ms, p99 {pct(e2e, 0.99):.0f} ms)")
        # the customers' acknowledgements of the burst, signed and sent over HTTP to the local
        # gateway receivers; "delivered" means a receiver answered 2xx
        rows = wait_rows(stack, "SELECT count(*), extract(epoch FROM max(delivered_at) - "
                                "min(created_at)) FROM followup.notifications WHERE "
                                "complaint_id = ANY(%s::uuid[]) AND step = 'received' AND "
                                "status = 'delivered' HAVING count(*) >= %s",
                         (ids, len(ids)), timeout=600)
        sent, span = rows[0][0], float(rows[0][1])
        print(f"notifications: {sent} delivered to the local gateway receivers in {span:.2f} s "
              f"= {sent / span:.0f} messages/s (from queued to the last receiver's 2xx)")
        # a steady trickle: how long one complaint takes through all five services when idle
        single = []
        for _ in range(20):
            _, res = post_all(stack, 1, 1)
            rows = wait_rows(stack, DRAFTED_SQL.format(where="e.complaint_id = %s"),
                             (res[0][1],), timeout=30)
            single.append(rows[0][0].total_seconds() * 1000)
        print(f"pipeline latency, one complaint at a time: received -> plan drafted p50 "
              f"{pct(single, 0.5):.0f} ms, max {max(single):.0f} ms (20 complaints)")
        if shutil.which("wrk"):
            n, secs, p50, p99, errors = wrk_intake(stack, args.wrk_seconds, 32)
            print(f"intake HTTP (wrk, 32 connections, {secs:.0f} s): {n} complaints = "
                  f"{n / secs:.0f} req/s (latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
                  f"{errors} errors)")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
