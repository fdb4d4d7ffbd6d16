"""`make bench`: every throughput figure beside a baseline measured in the same run, on the same
PostgreSQL and broker, and the ratio (issue 14). Not a test: nothing here passes or fails `make
test`; the output says which figure is below its target.

Phases (one stack, all services at LOG_LEVEL=warn):
  tracking   N scans produced to parcel.tracking.v1, until the three consumer groups of the topic
             (evidence, intake, classification) have committed every offset (lag 0); vs the SQL
             baseline tests/bench/tracking_baseline.sql (pgbench, 2 clients, 1,000 scans per
             transaction) and vs kafka-producer-perf-test on the same broker
  drain      the same three consumers draining a backlog of N scans produced while they were
             stopped (first commit to lag 0): the ingest rate without the producer competing
  burst      N complaints POSTed through nginx, drained to follow-up's drafted plan; intake with
             wrk; vs tests/bench/intake_tx.sql (pgbench: intake's own transaction)
  ack        the automatic acknowledgement (receipt -> the receiver's 2xx) at half the burst's
             measured rate, p50/p99
  timer      100,000 clocks due at one instant (and a steady trickle before them): fires/s and
             lateness; vs tests/bench/timer_claim.sql (pgbench: the same claim and update)
  cpu        CPU seconds (/proc/<pid>/stat) of every service, PostgreSQL and Kafka per 1,000
             scans (tracking phase) and per complaint (burst phase)

Writes build/bench/results.json. Environment: BENCH_TRACKING_EVENTS (200000),
BENCH_COMPLAINTS (2000), BENCH_CLIENTS (16), BENCH_TIMER_CLOCKS (100000), BENCH_PERF (set: a
`perf record` of the services during the tracking phase, its top symbols printed),
KAFKA_TOOLS_LIBS (the kafka-tools jars; the producer baseline is skipped without them),
BENCH_PHASES (tracking,drain,burst,ack,timer: a subset runs only those and prints their JSON).
"""

import concurrent.futures
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "system"))
sys.path.insert(0, str(HERE))

import requests  # noqa: E402

from bench_pipeline import DRAFTED_SQL, pct, post_all, wrk_intake  # noqa: E402
from bench_tracking import make_events, produce_all  # noqa: E402
from helpers import complaint, wait_rows  # noqa: E402
from stack import SERVICES, Stack  # noqa: E402

BUILD = Path(os.environ.get("BUILD", "build"))
OUT = BUILD / "bench" / "results.json"
TRACKING_GROUPS = ("cp-evidence", "cp-intake", "cp-classification")
# The figures measured before issue 14 on the same 2-core machine (the table).
BEFORE = {"tracking_scans_per_s": 3263, "burst_complaints_per_s": 58, "intake_wrk_req_per_s": 290}


def env_int(name, default):
    return int(os.environ.get(name, default))


# ---- CPU from /proc ------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def proc_children(ppid):
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == ppid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def infra_pids(stack):
    """PostgreSQL (postmaster and its backends) and the Kafka broker of this stack."""
    state = str(stack.state_dir)
    pg, kafka = [], []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state in cmd and "postgres" in cmd and " -D " in cmd:
            pg.append(int(d.name))
        elif state in cmd and "java" in cmd and "kafka" in cmd:
            kafka.append(int(d.name))
    return pg, kafka


def cpu_snapshot(stack):
    """Cumulative CPU seconds per service and of PostgreSQL (with exited backends not counted:
    the backends of the services' pooled connections live as long as the services) and Kafka."""
    snap = {name: proc_cpu(stack._procs[name].pid) for name in SERVICES}
    pg, kafka = infra_pids(stack)
    snap["postgresql"] = sum(proc_cpu(p) + sum(proc_cpu(c) for c in proc_children(p)) for p in pg)
    snap["kafka"] = sum(proc_cpu(p) for p in kafka)
    # this process: the load generator (the Python producer, the HTTP clients) shares the cores
    snap["bench_load_generator"] = time.process_time()
    return snap


def cpu_delta(a, b, per):
    return {k: round((b[k] - a[k]) / per, 4) for k in a}


# ---- helpers -------------------------------------------------------------------------------

def pgbench(stack, script, clients, seconds=None, transactions=None):
    """Runs a pgbench script; returns (tps, elapsed seconds)."""
    args = ["pgbench", "-n", "-f", str(HERE / "bench" / script), "-c", str(clients),
            "-j", str(min(clients, 2))]
    args += ["-T", str(seconds)] if seconds else ["-t", str(transactions)]
    t0 = time.perf_counter()
    out = subprocess.run(args + [stack.admin_url], capture_output=True, text=True,
                         timeout=(seconds or 120) + 120)
    elapsed = time.perf_counter() - t0
    m = re.search(r"tps = ([0-9.]+)", out.stdout)
    if out.returncode != 0 or not m:
        raise SystemExit(f"bench: pgbench {script} failed:\n{out.stdout}\n{out.stderr}")
    return float(m.group(1)), elapsed


def group_lag(admin, consumer_conf, topic, groups):
    """Uncommitted messages per group (high watermark minus committed offset, summed)."""
    from confluent_kafka import Consumer, TopicPartition
    meta = admin.list_topics(topic, timeout=10).topics[topic]
    parts = [TopicPartition(topic, p) for p in meta.partitions]
    probe = Consumer(dict(consumer_conf, **{"group.id": "cp-bench-probe"}))
    try:
        high = {p.partition: probe.get_watermark_offsets(p, timeout=10)[1] for p in parts}
    finally:
        probe.close()
    lag = {}
    for g in groups:
        c = Consumer(dict(consumer_conf, **{"group.id": g}))
        try:
            committed = c.committed(parts, timeout=10)
        finally:
            c.close()
        lag[g] = sum(high[p.partition] - max(p.offset, 0) for p in committed)
    return lag


def wait_lag_zero(stack, topic, groups, timeout=600):
    from confluent_kafka.admin import AdminClient
    conf = {"bootstrap.servers": stack.bootstrap}
    admin = AdminClient(conf)
    deadline = time.monotonic() + timeout
    lag = None
    while time.monotonic() < deadline:
        try:
            lag = group_lag(admin, conf, topic, groups)
        except Exception as e:  # noqa: BLE001 - the coordinator moving or loading: ask again
            print(f"bench: consumer lag not known yet ({e}); asking again", flush=True)
            time.sleep(0.5)
            continue
        if all(v == 0 for v in lag.values()):
            return
        time.sleep(0.2)
    raise SystemExit(f"bench: consumers of {topic} still behind after {timeout} s: {lag}")


def producer_perf(stack, n):
    """kafka-producer-perf-test (org.apache.kafka.tools.ProducerPerformance) on the same broker,
    with the producer settings the services use; returns records/s or None without the jars."""
    libs = os.environ.get("KAFKA_TOOLS_LIBS", "")
    if not libs or not Path(libs).is_dir() or not shutil.which("java"):
        return None
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": stack.bootstrap})
    parts = len(admin.list_topics("parcel.tracking.v1", timeout=10)
                .topics["parcel.tracking.v1"].partitions)
    # the broker does not create topics on first use; as many partitions as the tracking topic
    for f in admin.create_topics([NewTopic("bench.producer.v1", parts, 1)]).values():
        try:
            f.result(30)
        except Exception as e:  # noqa: BLE001 - exists already on a second call
            if "exists" not in str(e).lower():
                raise
    args = ["java", "-Xmx256m", "-cp", f"{libs}/*", "org.apache.kafka.tools.ProducerPerformance",
            "--topic", "bench.producer.v1", "--num-records", str(n), "--record-size", "120",
            "--throughput", "-1", "--producer-props", f"bootstrap.servers={stack.bootstrap}",
            "acks=all", "enable.idempotence=true", "linger.ms=5", "compression.type=lz4",
            "batch.size=262144", "max.block.ms=20000"]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        print("bench: producer perf test did not finish in 180 s")
        return None
    m = re.findall(r"records sent, ([0-9.]+) records/sec", out.stdout)
    if not m:
        print(f"bench: producer perf test failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        return None
    return float(m[-1])


def perf_profile(stack, names, seconds):
    """`perf record` of the services for seconds (user space: perf_event_paranoid 2 allows it
    for our own processes); returns the top lines of `perf report`, or why not."""
    if not os.environ.get("BENCH_PERF") or not shutil.which("perf"):
        return None
    data = BUILD / "bench" / "perf.data"
    pids = ",".join(str(stack._procs[n].pid) for n in names)
    pg, _ = infra_pids(stack)
    pids += "".join(f",{c}" for p in pg for c in proc_children(p))
    rec = subprocess.run(["perf", "record", "-e", "cpu-clock:u", "-g", "-o", str(data), "-p",
                          pids, "--", "sleep", str(seconds)], capture_output=True, text=True,
                         timeout=seconds + 60)
    if rec.returncode != 0:
        return [f"perf record failed: {rec.stderr.strip()[-300:]}"]
    lines = []
    for sort, limit in (("comm", "1"), ("comm,dso,symbol", "0.7")):
        rep = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children",
                              "--sort", sort, "--percent-limit", limit, "-g", "none"],
                             capture_output=True, text=True, timeout=120)
        lines += [l.rstrip() for l in rep.stdout.splitlines()
                  if l.strip() and not l.startswith("#")][:20]
    return lines


# ---- phases --------------------------------------------------------------------------------

def phase_tracking(stack, n):
    warm = f"BENCHW{uuid.uuid4().hex[:6]}"
    produce_all(stack, make_events(stack, 2000, warm))
    wait_lag_zero(stack, "parcel.tracking.v1", TRACKING_GROUPS)
    carrier = f"BENCH{uuid.uuid4().hex[:6]}"
    events = make_events(stack, n, carrier)
    cpu0 = cpu_snapshot(stack)
    profile = None
    started = time.perf_counter()
    if os.environ.get("BENCH_PERF"):
        holder = {}
        t = threading.Thread(target=lambda: holder.update(
            p=perf_profile(stack, ("evidence", "intake", "classification"), 8)))
        t.start()
    produced = produce_all(stack, events)
    wait_lag_zero(stack, "parcel.tracking.v1", TRACKING_GROUPS)
    total = time.perf_counter() - started
    cpu1 = cpu_snapshot(stack)
    if os.environ.get("BENCH_PERF"):
        t.join()
        profile = holder.get("p")
    stored = stack.db().execute("SELECT count(*) FROM evidence.scans WHERE carrier = %s",
                                (carrier,)).fetchone()[0]
    if stored != n:
        raise SystemExit(f"bench: evidence stored {stored} of {n} scans")
    tps, _ = pgbench(stack, "tracking_baseline.sql", 2, seconds=10)
    perf_rate = producer_perf(stack, n)
    return {
        "scans": n, "seconds": round(total, 2), "producer_loop_seconds": round(produced, 2),
        "scans_per_s": round(n / total), "sql_baseline_scans_per_s": round(tps * 1000),
        "producer_perf_records_per_s": round(perf_rate) if perf_rate else None,
        "cpu_s_per_1000_scans": cpu_delta(cpu0, cpu1, n / 1000), "profile": profile,
    }


def phase_drain(stack, n):
    """The three consumers of parcel.tracking.v1 draining a backlog of n scans (produced while
    they were stopped), from their first committed progress to lag 0: the ingest rate without
    the load generator's producer competing for the cores."""
    from confluent_kafka.admin import AdminClient
    conf = {"bootstrap.servers": stack.bootstrap}
    admin = AdminClient(conf)
    carrier = f"DRAIN{uuid.uuid4().hex[:6]}"
    events = make_events(stack, n, carrier)
    names = ("evidence", "intake", "classification")
    for name in names:
        stack.stop_service(name)
    try:
        produce_all(stack, events)
    finally:
        for name in names:
            stack.start_service(name, **stack._start_env[name])
    first = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            lag = group_lag(admin, conf, "parcel.tracking.v1", TRACKING_GROUPS)
        except Exception:  # noqa: BLE001 - the coordinator moving or loading: ask again
            time.sleep(0.2)
            continue
        now = time.perf_counter()
        if first is None and all(v < n for v in lag.values()):
            first, left = now, max(lag.values())
        if all(v == 0 for v in lag.values()):
            break
        time.sleep(0.1)
    else:
        raise SystemExit(f"bench: the backlog was not drained in 600 s: {lag}")
    secs = time.perf_counter() - first
    return {"scans": n, "drained_after_first_commit": left, "seconds": round(secs, 2),
            "scans_per_s": round(left / secs) if secs > 0 else None}


def phase_burst(stack, n, clients):
    post_all(stack, 20, 4)
    cpu0 = cpu_snapshot(stack)
    started = time.perf_counter()
    elapsed, results = post_all(stack, n, clients)
    lat = [r[0] * 1000 for r in results]
    ids = [r[1] for r in results]
    rows = wait_rows(stack, DRAFTED_SQL.format(where="e.complaint_id = ANY(%s::uuid[])"),
                     (ids,), count=len(ids), timeout=600)
    drained = time.perf_counter() - started
    e2e = [r[0].total_seconds() * 1000 for r in rows]
    # the acknowledgements of the burst, signed and sent over HTTP to the local gateway
    # receivers: the burst is over when they are out too
    acks = wait_rows(stack, "SELECT count(*), extract(epoch FROM max(delivered_at) - "
                            "min(created_at)) FROM followup.notifications WHERE complaint_id = "
                            "ANY(%s::uuid[]) AND step = 'received' AND status = 'delivered' "
                            "HAVING count(*) >= %s", (ids, len(ids)), timeout=600)
    cpu1 = cpu_snapshot(stack)
    # one complaint at a time: the machine's part of a complaint when nothing else waits
    single = []
    for _ in range(10):
        _, res = post_all(stack, 1, 1)
        one = wait_rows(stack, DRAFTED_SQL.format(where="e.complaint_id = %s"), (res[0][1],),
                        timeout=60)
        single.append(one[0][0].total_seconds() * 1000)
    out = {"complaints": n, "post_req_per_s": round(n / elapsed),
           "post_p50_ms": round(pct(lat, 0.5), 1), "post_p99_ms": round(pct(lat, 0.99), 1),
           "drained_seconds": round(drained, 2), "complaints_per_s": round(n / drained, 1),
           "received_to_drafted_p50_ms": round(pct(e2e, 0.5)),
           "received_to_drafted_p99_ms": round(pct(e2e, 0.99)),
           "cpu_s_per_complaint": cpu_delta(cpu0, cpu1, n),
           "notifications_per_s": round(acks[0][0] / float(acks[0][1]), 1),
           "single_received_to_drafted_p50_ms": round(pct(single, 0.5)),
           "single_received_to_drafted_max_ms": round(max(single))}
    if shutil.which("wrk"):
        reqs, secs, p50, p99, errors = wrk_intake(stack, 10, 32)
        out.update(wrk_req_per_s=round(reqs / secs), wrk_p50_ms=p50, wrk_p99_ms=p99,
                   wrk_errors=errors)
    tps, _ = pgbench(stack, "intake_tx.sql", 8, seconds=10)
    out["pgbench_intake_tx_per_s"] = round(tps)
    return out


def phase_ack(stack, rate, seconds=10):
    """Complaints at a steady rate; the acknowledgement latency from receipt to the receiver."""
    # behind the complaints wrk left (they drain after it ends) the figure would be a queue's
    # length: wait until every complaint so far has its acknowledgement out (pgbench's never do)
    try:
        wait_rows(stack, "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM intake.complaints c WHERE "
                         "c.customer_ref <> 'cust_bench' AND c.channel <> 'proactive' AND NOT "
                         "EXISTS (SELECT 1 FROM followup.notifications n WHERE n.complaint_id = "
                         "c.id AND n.step = 'received' AND n.status = 'delivered'))", timeout=300)
    except AssertionError:
        print("bench: earlier complaints still wait for their acknowledgement; measuring anyway")
    n = max(5, int(rate * seconds))
    interval = 1.0 / max(rate, 0.1)
    ids = []
    lock = threading.Lock()
    session = threading.local()

    def one(_):
        s = getattr(session, "s", None) or requests.Session()
        session.s = s
        r = s.post(stack.base_url + "/v1/complaints", json=complaint(),
                   headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30)
        r.raise_for_status()
        with lock:
            ids.append(r.json()["complaint_id"])

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futures = []
        for i in range(n):
            delay = t0 + i * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(one, i))
        for f in futures:
            f.result()
    rows = wait_rows(stack, "SELECT extract(epoch FROM n.delivered_at - c.received_at) * 1000 "
                            "FROM followup.notifications n JOIN intake.complaints c ON c.id = "
                            "n.complaint_id WHERE n.complaint_id = ANY(%s::uuid[]) AND n.step = "
                            "'received' AND n.status = 'delivered'", (ids,), count=len(ids),
                     timeout=300)
    lat = [float(r[0]) for r in rows]
    return {"rate_per_s": round(rate, 1), "complaints": n, "p50_ms": round(pct(lat, 0.5)),
            "p99_ms": round(pct(lat, 0.99))}


CLOCK_COLUMNS = ("complaint_id, clock, complaint_no, state, duration_s, started_at, due_at, "
                 "warn_at, warned, escalation_level, pausable, calendar, counted_from")


def insert_clocks(db, table, prefix, n, due_sql, step_sql="0"):
    db.execute(
        f"INSERT INTO {table} ({CLOCK_COLUMNS}) SELECT gen_random_uuid(), 'first_response', "
        f"'{prefix}' || g, 'running', 3600, now() - interval '1 hour', {due_sql} + ({step_sql}) "
        f"* g * interval '1 millisecond', NULL, true, 0, false, "
        f"(SELECT calendar FROM timer.clocks WHERE clock = 'first_response' LIMIT 1), "
        f"now() - interval '1 hour' FROM generate_series(1, {n}) g")


def fired(db, prefix, due_sql):
    """Lateness in ms of every fired clock of the prefix: its first breach event's creation (the
    firing transaction's start) minus the time it was due (due_sql of the clock row k; the row's
    own due_at has moved on: a breach re-arms the clock for the next level)."""
    return [float(r[0]) for r in db.execute(
        f"SELECT extract(epoch FROM min(o.created_at) - min({due_sql})) * 1000 FROM timer.outbox "
        "o JOIN timer.clocks k ON o.msg_key = k.complaint_id::text WHERE k.complaint_no LIKE %s "
        "AND o.ce_type = 'cp.complaint.sla_breached' GROUP BY k.complaint_id",
        (prefix + "%",)).fetchall()]


def phase_timer(stack, n):
    """Clocks due at one instant T (100,000), and a trickle before them (one every 50 ms for
    the 10 s before T) for the steady-state lateness."""
    tag = uuid.uuid4().hex[:6]
    steady, storm = f"CPSTEADY-{tag}-", f"CPSTORM-{tag}-"
    with stack.db() as db:
        db.execute("SET synchronous_commit = on")
        start = db.execute("SELECT now() + interval '25 seconds'").fetchone()[0]
        # the due times are absolute: the insert's duration does not count as lateness
        with db.transaction():
            insert_clocks(db, "timer.clocks", storm, n, f"'{start.isoformat()}'::timestamptz")
            insert_clocks(db, "timer.clocks", steady, 200,
                          f"'{start.isoformat()}'::timestamptz - interval '10.5 seconds'", "50")
        # the due clocks are breached; the clock rows move on (escalated, re-armed), so the
        # storm is over when every one of them has its breach event
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = db.execute("SELECT count(*) FROM timer.clocks WHERE complaint_no LIKE %s "
                              "AND escalation_level > 0", (storm + "%",)).fetchone()[0]
            if done >= n:
                break
            time.sleep(0.5)
        at = f"'{start.isoformat()}'::timestamptz"
        storm_late = fired(db, storm, at)
        steady_late = fired(db, steady, f"{at} - interval '10.5 seconds' + "
                                        "split_part(k.complaint_no, '-', 3)::int * "
                                        "interval '50 milliseconds'")
        db.execute("CREATE SCHEMA IF NOT EXISTS bench_timer")
        db.execute("CREATE TABLE IF NOT EXISTS bench_timer.clocks (LIKE timer.clocks "
                   "INCLUDING ALL)")
        db.execute("CREATE TABLE IF NOT EXISTS bench_timer.outbox (LIKE timer.outbox "
                   "INCLUDING ALL)")
        db.execute("TRUNCATE bench_timer.clocks, bench_timer.outbox")
        insert_clocks(db, "bench_timer.clocks", "CPBASE-", n, "now() - interval '1 minute'")
        db.commit()
    _, elapsed = pgbench(stack, "timer_claim.sql", 2, transactions=(n // 500 + 1) // 2 + 1)
    with stack.db() as db:
        left = db.execute("SELECT count(*) FROM bench_timer.clocks WHERE escalation_level = 0"
                          ).fetchone()[0]
    span = max(storm_late) / 1000 if storm_late else float("nan")
    return {"clocks": n, "fired": len(storm_late), "fires_per_s": round(len(storm_late) / span)
            if storm_late else 0, "storm_lateness_p50_ms": round(pct(storm_late, 0.5)),
            "storm_lateness_p99_ms": round(pct(storm_late, 0.99)),
            "steady_lateness_p50_ms": round(pct(steady_late, 0.5)) if steady_late else None,
            "steady_lateness_p99_ms": round(pct(steady_late, 0.99)) if steady_late else None,
            "pgbench_fires_per_s": round((n - left) / elapsed)}


# ---- the table ----------------------------------------------------------------------------

def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def figures(r):
    """(name, value, baseline, ratio, target text, met) for every figure."""
    t, b, a, tm = r["tracking"], r["burst"], r["ack"], r["timer"]
    rows = [
        ("tracking ingest scans/s (3 consumers, lag 0)", t["scans_per_s"],
         t["sql_baseline_scans_per_s"], ratio(t["scans_per_s"], t["sql_baseline_scans_per_s"]),
         ">= 50000 and >= 0.5 x SQL",
         t["scans_per_s"] >= 50000 and ratio(t["scans_per_s"], t["sql_baseline_scans_per_s"]) >= 0.5),
        ("tracking backlog drain scans/s (3 consumers)", r["drain"]["scans_per_s"],
         t["sql_baseline_scans_per_s"],
         ratio(r["drain"]["scans_per_s"], t["sql_baseline_scans_per_s"]), "(context)", None),
        ("tracking ingest vs kafka-producer-perf-test", t["scans_per_s"],
         t["producer_perf_records_per_s"], ratio(t["scans_per_s"], t["producer_perf_records_per_s"]),
         "(context)", None),
        ("complaint burst complaints/s (drafted plan)", b["complaints_per_s"], None, None,
         ">= 500", b["complaints_per_s"] >= 500),
        ("acknowledgements delivered/s (burst)", b["notifications_per_s"], None, None,
         "(context)", None),
        ("one complaint alone: received -> drafted p50 ms", b["single_received_to_drafted_p50_ms"],
         None, None, "(context)", None),
        ("intake POST req/s (16 Python clients)", b["post_req_per_s"],
         b["pgbench_intake_tx_per_s"], ratio(b["post_req_per_s"], b["pgbench_intake_tx_per_s"]),
         "(context)", None),
    ]
    if "wrk_req_per_s" in b:
        rows.append(("intake wrk req/s (32 conns)", b["wrk_req_per_s"],
                     b["pgbench_intake_tx_per_s"],
                     ratio(b["wrk_req_per_s"], b["pgbench_intake_tx_per_s"]),
                     ">= 2000, >= 0.5 x pgbench", b["wrk_req_per_s"] >= 2000 and
                     ratio(b["wrk_req_per_s"], b["pgbench_intake_tx_per_s"]) >= 0.5))
        rows.append(("intake wrk p99 ms", b["wrk_p99_ms"], None, None, "<= 50",
                     b["wrk_p99_ms"] <= 50))
    rows += [
        ("timer storm fires/s", tm["fires_per_s"], tm["pgbench_fires_per_s"],
         ratio(tm["fires_per_s"], tm["pgbench_fires_per_s"]), ">= 5000",
         tm["fires_per_s"] >= 5000),
        ("timer storm lateness p99 ms", tm["storm_lateness_p99_ms"], None, None, "<= 1000",
         tm["storm_lateness_p99_ms"] <= 1000),
        ("timer steady lateness p99 ms", tm["steady_lateness_p99_ms"], None, None, "<= 100",
         tm["steady_lateness_p99_ms"] is not None and tm["steady_lateness_p99_ms"] <= 100),
        ("acknowledgement p99 ms at half load", a["p99_ms"], None, None, "<= 200",
         a["p99_ms"] <= 200),
    ]
    return rows


def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.3f}" if isinstance(v, float) and v < 10 else f"{v:,.0f}"


def print_table(r):
    rows = figures(r)
    print(f"\n{'figure':48} {'value':>10} {'baseline':>10} {'ratio':>7}  target")
    for name, value, base, rat, target, met in rows:
        flag = "" if met is None else ("  ok" if met else "  BELOW TARGET")
        print(f"{name:48} {fmt(value):>10} {fmt(base):>10} {fmt(rat):>7}  {target}{flag}")
    print("\nbefore issue 14 (same machine, the issue's table): tracking "
          f"{BEFORE['tracking_scans_per_s']} scans/s, burst {BEFORE['burst_complaints_per_s']} "
          f"complaints/s, intake wrk {BEFORE['intake_wrk_req_per_s']} req/s")
    print("\nCPU seconds per 1,000 scans: " + ", ".join(
        f"{k} {v:.3f}" for k, v in r["tracking"]["cpu_s_per_1000_scans"].items() if v > 0))
    print("CPU seconds per complaint:   " + ", ".join(
        f"{k} {v:.4f}" for k, v in r["burst"]["cpu_s_per_complaint"].items() if v > 0))
    if r["tracking"].get("profile"):
        print("\nperf profile of the tracking consumers and their PostgreSQL backends:")
        print("\n".join("  " + l for l in r["tracking"]["profile"]))
    below = [name for name, _, _, _, _, met in rows if met is False]
    print("\nbelow target: " + ("; ".join(below) if below else "none"))
    return rows


def main():
    started = time.perf_counter()
    n_scans = env_int("BENCH_TRACKING_EVENTS", 200000)
    n_complaints = env_int("BENCH_COMPLAINTS", 2000)
    clients = env_int("BENCH_CLIENTS", 16)
    n_clocks = env_int("BENCH_TIMER_CLOCKS", 100000)
    extra = dict(kv.split("=", 1) for kv in os.environ.get("BENCH_SERVICE_ENV", "").split() if kv)
    stack = Stack.start(service_env={name: {"LOG_LEVEL": "warn", **extra} for name in SERVICES})
    results = {"machine": {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg(),
                           "started_at": datetime.datetime.now(datetime.timezone.utc)
                           .isoformat(timespec="seconds")}}
    phases = os.environ.get("BENCH_PHASES", "tracking,drain,burst,ack,timer").split(",")
    try:
        if "tracking" in phases:
            print("== tracking ingest", flush=True)
            results["tracking"] = phase_tracking(stack, n_scans)
            print(json.dumps({k: v for k, v in results["tracking"].items() if k != "profile"}),
                  flush=True)
        if "drain" in phases:
            print("== tracking backlog drained by the three consumers", flush=True)
            results["drain"] = phase_drain(stack, n_scans)
            print(json.dumps(results["drain"]), flush=True)
        if "burst" in phases:
            print("== complaint burst and intake", flush=True)
            results["burst"] = phase_burst(stack, n_complaints, clients)
            print(json.dumps(results["burst"]), flush=True)
        if "ack" in phases and "burst" in results:
            print("== acknowledgement latency at half the burst's rate", flush=True)
            results["ack"] = phase_ack(stack, results["burst"]["complaints_per_s"] / 2)
            print(json.dumps(results["ack"]), flush=True)
        if "timer" in phases:
            print("== timer storm", flush=True)
            results["timer"] = phase_timer(stack, n_clocks)
            print(json.dumps(results["timer"]), flush=True)
    finally:
        stack.close()
    if set(phases) != {"tracking", "drain", "burst", "ack", "timer"}:
        print(json.dumps(results, indent=2, default=str))
        return
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    results["bench_seconds"] = round(time.perf_counter() - started)
    rows = print_table(results)
    results["figures"] = [dict(zip(("figure", "value", "baseline", "ratio", "target", "met"), r))
                          for r in rows]
    results["before_issue_14"] = BEFORE
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten to {OUT} ({results['bench_seconds']} s; load average at start "
          f"{results['machine']['load_avg_at_start'][0]:.1f})")


if __name__ == "__main__":
    main()
