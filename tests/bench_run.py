"""`make bench`: every throughput figure beside a baseline measured in the same run, on the same
PostgreSQL and broker, and the ratio (issue 14). Not a test: nothing here passes or fails `make
test`; the output says which figure is below its target and what bounds it.

Phases, in this order (one stack, all services at LOG_LEVEL=warn; see run_phases for why):
  producer   kafka-producer-perf-test on the same broker (the producer baseline; it also warms
             the broker's JIT-compiled produce path)
  drain      the three consumers of parcel.tracking.v1 (evidence, intake, classification)
             draining a backlog of N scans produced while they were stopped (first commit to
             lag 0): the ingest rate without the producer competing
  tracking   N scans produced to parcel.tracking.v1, until the three consumer groups have
             committed every offset (lag 0); vs the SQL baseline tests/bench/tracking_baseline.sql
             (pgbench, 2 clients, 1,000 scans per transaction) and vs the producer baseline
  timer      100,000 clocks due at one instant (and a steady trickle before them): fires/s and
             lateness; vs tests/bench/timer_claim.sql (pgbench: the same claim and update);
             then waits until the storm's events are published and consumed
  burst      N complaints POSTed through nginx, drained to follow-up's drafted plan
  ack        the automatic acknowledgement (receipt -> the receiver's 2xx) p50/p99 at half the
             burst's measured rate, open loop, started once nothing waits for its acknowledgement
  intake     intake with wrk; vs tests/bench/intake_tx.sql (pgbench: intake's own transaction)
  cpu        CPU seconds (/proc/<pid>/stat) of every service, PostgreSQL (and by the role its
             backends work for) and Kafka (and its JIT compiler and GC threads) per 1,000 scans,
             per 1,000 fires and per complaint

Writes build/bench/results.json. Environment: BENCH_TRACKING_EVENTS (200000),
BENCH_COMPLAINTS (2000), BENCH_CLIENTS (16), BENCH_TIMER_CLOCKS (100000), BENCH_PERF (default
1 where perf exists: a `perf record` of the tracking consumers and of the timer with every
PostgreSQL backend, top symbols printed and saved in build/bench/profile-*.txt; 0: none),
KAFKA_TOOLS_LIBS (the kafka-tools jars; the producer baseline is skipped without them),
BENCH_PHASES (a comma-separated subset of the phases above runs only those and prints their
JSON; ack without burst needs BENCH_ACK_RATE, complaints/s), BENCH_ACK_SECONDS (10: how long
the ack phase offers its load, after BENCH_ACK_WARMUP_SECONDS (3) of the same load that are not
measured), BENCH_SERVICE_ENV (NAME=value ... added to every service's environment;
service:NAME=value to that service's only).
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


def thread_kind(name):
    """What a JVM thread of the broker does, from its name: HotSpot's JIT compilers (C1/C2
    CompilerThread), the garbage collector (GC Thread#n, G1 Conc#n, G1 Refine..., VM Thread), or
    the broker's own work (network and request handler threads, purgatory reapers, raft)."""
    if "CompilerThre" in name:
        return "kafka[jit compiler]"
    if name.startswith(("GC Thread", "G1 ", "VM Thread")):
        return "kafka[gc]"
    return None


def broker_threads(pid):
    """CPU seconds of the broker's JIT compiler and GC threads (/proc/<pid>/task)."""
    out = {"kafka[jit compiler]": 0.0, "kafka[gc]": 0.0}
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for t in tasks:
        try:
            kind = thread_kind((t / "comm").read_text().strip())
            if kind:
                fields = (t / "stat").read_text().rsplit(")", 1)[1].split()
                out[kind] += (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass
    return out


def pg_roles(stack):
    """pid -> who a PostgreSQL process works for: the service's role for a backend (every
    service connects as its own role), else its kind (autovacuum, walwriter, checkpointer)."""
    try:
        with stack.db() as db:
            return {pid: who for pid, who in db.execute(
                "SELECT pid, coalesce(usename::text, backend_type) FROM pg_stat_activity")}
    except Exception:  # noqa: BLE001 - a breakdown only; the total comes from /proc
        return {}


def cpu_snapshot(stack):
    """Cumulative CPU seconds per service and of PostgreSQL (with exited backends not counted:
    the backends of the services' pooled connections live as long as the services) and Kafka.
    Keys with brackets are parts of the key before them, not added to the total again:
    PostgreSQL's CPU by the role it works for, the broker's JIT compiler and GC threads."""
    snap = {name: proc_cpu(stack._procs[name].pid) for name in SERVICES}
    pg, kafka = infra_pids(stack)
    roles = pg_roles(stack)
    parts = {}
    total = 0.0
    for p in pg:
        total += proc_cpu(p)
        for c in proc_children(p):
            cpu = proc_cpu(c)
            total += cpu
            key = f"postgresql[{roles.get(c, 'other')}]"
            parts[key] = parts.get(key, 0.0) + cpu
    snap["postgresql"] = total
    snap.update(parts)
    snap["kafka"] = sum(proc_cpu(p) for p in kafka)
    # a fresh JVM spends its first minutes compiling the broker's hot paths; that is
    # start-up, not a cost per scan, and shown apart so the two are not mixed
    snap.update(broker_threads(kafka[0]) if kafka else broker_threads(-1))
    # this process: the load generator (the Python producer, the HTTP clients) shares the cores
    snap["bench_load_generator"] = time.process_time()
    return snap


def cpu_delta(a, b, per):
    """CPU seconds per unit between two snapshots; a process that came or went between them
    counts from zero (a backend that exited takes its CPU with it)."""
    out = {k: round((b[k] - a.get(k, 0.0)) / per, 4) for k in b}
    return {k: v for k, v in out.items() if "[" not in k or v > 0}


# ---- helpers -------------------------------------------------------------------------------

def pgbench(stack, script, clients, seconds=None, transactions=None, mode="simple"):
    """Runs a pgbench script; returns (tps, elapsed seconds). mode "prepared" for the script of
    a service that prepares its statements once per connection (intake's)."""
    args = ["pgbench", "-n", "-M", mode, "-f", str(HERE / "bench" / script), "-c",
            str(clients), "-j", str(min(clients, 2))]
    args += ["-T", str(seconds)] if seconds else ["-t", str(transactions)]
    t0 = time.perf_counter()
    out = subprocess.run(args + [stack.admin_url], capture_output=True, text=True,
                         timeout=(seconds or 120) + 120)
    elapsed = time.perf_counter() - t0
    m = re.search(r"tps = ([0-9.]+)", out.stdout)
    if out.returncode != 0 or not m:
        raise SystemExit(f"bench: pgbench {script} failed:\n{out.stdout}\n{out.stderr}")
    return float(m.group(1)), elapsed


class LagProbe:
    """Uncommitted messages per consumer group on one topic (high watermark minus committed
    offset, summed over partitions). The clients live as long as the probe: a new client per
    question (four every 0.2 s) made the broker accept connections and answer metadata and
    coordinator look-ups that were counted in its CPU per scan."""

    def __init__(self, stack, topic, groups):
        from confluent_kafka import Consumer, TopicPartition
        conf = {"bootstrap.servers": stack.bootstrap, "enable.auto.commit": False}
        self.topic = topic
        self.watermarks = Consumer(dict(conf, **{"group.id": "cp-bench-probe"}))
        meta = self.watermarks.list_topics(topic, timeout=10).topics[topic]
        self.parts = [TopicPartition(topic, p) for p in meta.partitions]
        self.groups = {g: Consumer(dict(conf, **{"group.id": g})) for g in groups}

    def lag(self):
        high = {p.partition: self.watermarks.get_watermark_offsets(p, timeout=10, cached=False)[1]
                for p in self.parts}
        return {g: sum(high[p.partition] - max(p.offset, 0)
                       for p in c.committed(self.parts, timeout=10))
                for g, c in self.groups.items()}

    def close(self):
        for c in (self.watermarks, *self.groups.values()):
            c.close()


def wait_lag_zero(stack, topic, groups, timeout=600, probe=None, caught=None):
    """Returns when every group has committed every offset of topic. caught (a dict), when
    given, gets each group's perf_counter() at the first answer that found it at lag 0: which
    consumer the figure waited for."""
    own = probe is None
    probe = probe or LagProbe(stack, topic, groups)
    deadline = time.monotonic() + timeout
    lag = None
    try:
        while time.monotonic() < deadline:
            try:
                lag = probe.lag()
            except Exception as e:  # noqa: BLE001 - the coordinator moving or loading: ask again
                print(f"bench: consumer lag not known yet ({e}); asking again", flush=True)
                time.sleep(0.5)
                continue
            if caught is not None:
                now = time.perf_counter()
                for g, v in lag.items():
                    if v == 0:
                        caught.setdefault(g, now)
            if all(v == 0 for v in lag.values()):
                return
            time.sleep(0.2)
    finally:
        if own:
            probe.close()
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


def perf_enabled():
    return os.environ.get("BENCH_PERF", "1") not in ("", "0") and shutil.which("perf")


def perf_profile(stack, names, seconds, label):
    """`perf record` of the named services and every PostgreSQL backend for seconds (user
    space: perf_event_paranoid 2 allows it for our own processes); the top lines of `perf
    report` by process and by symbol, also written to build/bench/profile-<label>.txt. None
    when BENCH_PERF=0 or perf is missing."""
    if not perf_enabled():
        return None
    data = BUILD / "bench" / f"perf-{label}.data"
    pids = ",".join(str(stack._procs[n].pid) for n in names)
    pg, _ = infra_pids(stack)
    pids += "".join(f",{c}" for p in pg for c in proc_children(p))
    rec = subprocess.run(["perf", "record", "-e", "cpu-clock:u", "-F", "499", "-o", str(data),
                          "-p", pids, "--", "sleep", str(seconds)], capture_output=True,
                         text=True, timeout=seconds + 60)
    if rec.returncode != 0:
        return [f"perf record failed: {rec.stderr.strip()[-300:]}"]
    lines = []
    for sort, limit, top in (("comm", "1", 12), ("comm,dso,symbol", "0.8", 25)):
        rep = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children",
                              "--sort", sort, "--percent-limit", limit],
                             capture_output=True, text=True, timeout=120)
        lines += [re.sub(r"\s+-\s+-\s*$", "", l.rstrip()) for l in rep.stdout.splitlines()
                  if l.strip() and not l.startswith("#")][:top]
    (BUILD / "bench" / f"profile-{label}.txt").write_text("\n".join(lines) + "\n")
    return lines


def in_background(fn, *args):
    """Runs fn(*args) on a thread; the returned function joins it and gives fn's result."""
    holder = {}
    t = threading.Thread(target=lambda: holder.update(r=fn(*args)))
    t.start()
    return lambda: (t.join(), holder.get("r"))[1]


# ---- phases --------------------------------------------------------------------------------

TRACKING_CONSUMERS = ("evidence", "intake", "classification")


def phase_tracking(stack, n, probe):
    """n scans produced while the three consumers keep up, until they are all at lag 0."""
    warm = f"BENCHW{uuid.uuid4().hex[:6]}"
    produce_all(stack, make_events(stack, 2000, warm))
    wait_lag_zero(stack, "parcel.tracking.v1", TRACKING_GROUPS, probe=probe)
    carrier = f"BENCH{uuid.uuid4().hex[:6]}"
    events = make_events(stack, n, carrier)
    reset_statements(stack)
    cpu0 = cpu_snapshot(stack)
    started = time.perf_counter()
    profile = in_background(perf_profile, stack, TRACKING_CONSUMERS, 8, "tracking")
    produced = produce_all(stack, events)
    caught = {}
    wait_lag_zero(stack, "parcel.tracking.v1", TRACKING_GROUPS, probe=probe, caught=caught)
    total = time.perf_counter() - started
    cpu1 = cpu_snapshot(stack)
    statements = top_statements(stack, n / 1000)
    profile = profile()
    stored = stack.db().execute("SELECT count(*) FROM evidence.scans WHERE carrier = %s",
                                (carrier,)).fetchone()[0]
    if stored != n:
        raise SystemExit(f"bench: evidence stored {stored} of {n} scans")
    tps, _ = pgbench(stack, "tracking_baseline.sql", 2, seconds=10)
    return {
        "scans": n, "seconds": round(total, 2), "producer_loop_seconds": round(produced, 2),
        "scans_per_s": round(n / total), "sql_baseline_scans_per_s": round(tps * 1000),
        # seconds from the first scan produced until each group was seen at lag 0 (the lag is
        # asked every 0.2 s): the last of them is the figure's bound
        "caught_up_s": {g: round(t - started, 2) for g, t in caught.items()},
        "cpu_s_per_1000_scans": cpu_delta(cpu0, cpu1, n / 1000), "profile": profile,
        "postgresql_statements_per_1000_scans": statements,
    }


def phase_drain(stack, n, probe):
    """The three consumers of parcel.tracking.v1 draining a backlog of n scans (produced while
    they were stopped), from their first committed progress to lag 0: the ingest rate without
    the load generator's producer competing for the cores. It runs before the lag-0 phase and
    so also warms the broker's fetch path (see main)."""
    carrier = f"DRAIN{uuid.uuid4().hex[:6]}"
    events = make_events(stack, n, carrier)
    for name in TRACKING_CONSUMERS:
        stack.stop_service(name)
    try:
        produce_all(stack, events)
    finally:
        for name in TRACKING_CONSUMERS:
            stack.start_service(name, **stack._start_env[name])
    first = None
    caught = {}
    cpu0 = cpu_snapshot(stack)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            lag = probe.lag()
        except Exception:  # noqa: BLE001 - the coordinator moving or loading: ask again
            time.sleep(0.2)
            continue
        now = time.perf_counter()
        if first is None and all(v < n for v in lag.values()):
            first, left = now, max(lag.values())
        for g, v in lag.items():
            if first is not None and v == 0:
                caught.setdefault(g, now)
        if all(v == 0 for v in lag.values()):
            break
        time.sleep(0.1)
    else:
        raise SystemExit(f"bench: the backlog was not drained in 600 s: {lag}")
    secs = time.perf_counter() - first
    cpu1 = cpu_snapshot(stack)
    return {"scans": n, "drained_after_first_commit": left, "seconds": round(secs, 2),
            "scans_per_s": round(left / secs) if secs > 0 else None,
            "caught_up_s": {g: round(t - first, 2) for g, t in caught.items()},
            "cpu_s_per_1000_scans": cpu_delta(cpu0, cpu1, n / 1000)}


def reset_statements(stack):
    with stack.db() as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        db.execute("SELECT pg_stat_statements_reset()")


def top_statements(stack, per, limit=12):
    """What PostgreSQL spent on the complaints (pg_stat_statements, preloaded by pg.sh): every
    service's statements and execution time per complaint, and the statements with the most
    execution time. Execution only: parsing and planning are not in it (most statements are
    prepared), nor the protocol, commit and WAL work between them."""
    with stack.db() as db:
        rows = db.execute(
            "SELECT r.rolname, s.calls, s.total_exec_time, regexp_replace(s.query, '\\s+', ' ', "
            "'g') FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE "
            "r.rolname <> 'postgres' ORDER BY s.total_exec_time DESC LIMIT %s",
            (limit,)).fetchall()
        totals = db.execute(
            "SELECT r.rolname, sum(s.calls), sum(s.total_exec_time) FROM pg_stat_statements s "
            "JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname <> 'postgres' GROUP BY 1 "
            "ORDER BY 3 DESC").fetchall()
    return {
        "statements_per_complaint": {r[0]: round(float(r[1]) / per, 1) for r in totals},
        "exec_ms_per_complaint": {r[0]: round(float(r[2]) / per, 3) for r in totals},
        "top": [{"service": r[0], "calls_per_complaint": round(r[1] / per, 2),
                 "exec_ms_per_complaint": round(r[2] / per, 3), "statement": r[3][:200]}
                for r in rows],
    }


def phase_burst(stack, n, clients):
    post_all(stack, 20, 4)
    reset_statements(stack)
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
    statements = top_statements(stack, n)
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
           "single_received_to_drafted_max_ms": round(max(single)),
           "postgresql_statements": statements}
    return out


def phase_intake(stack):
    """Intake's POST with wrk (32 connections, 10 s) and its pgbench baseline. It runs last:
    the thousands of complaints wrk files drain through the pipeline for minutes after it,
    and no later figure may be measured behind that queue."""
    out = {}
    if shutil.which("wrk"):
        cpu0 = cpu_snapshot(stack)
        reqs, secs, p50, p99, errors = wrk_intake(stack, 10, 32)
        cpu = cpu_delta(cpu0, cpu_snapshot(stack), reqs / 1000)
        out.update(wrk_req_per_s=round(reqs / secs), wrk_p50_ms=p50, wrk_p99_ms=p99,
                   wrk_errors=errors,
                   # CPU per request of intake and of PostgreSQL working for it while wrk ran
                   # (its consumer's share of the complaints' later events included): what the
                   # machine pays per POST, steadier than req/s on a shared machine
                   wrk_cpu_ms_per_request={k: round(cpu.get(k, 0.0), 3) for k in
                                          ("intake", "postgresql[intake]")})
    tps, _ = pgbench(stack, "intake_tx.sql", 8, seconds=10, mode="prepared")
    out["pgbench_intake_tx_per_s"] = round(tps)
    return out


ACK_WAITING_SQL = (
    "SELECT count(*) FROM intake.complaints c WHERE c.customer_ref <> 'cust_bench' AND "
    "c.channel <> 'proactive' AND NOT EXISTS (SELECT 1 FROM followup.notifications n WHERE "
    "n.complaint_id = c.id AND n.step = 'received' AND n.status = 'delivered')")


# Where an acknowledgement's time goes, by the timestamps each stage leaves (one clock: every
# process runs on this machine). PostgreSQL's now() is the start of its transaction.
ACK_STAGES_SQL = (
    "SELECT c.id::text, extract(epoch FROM c.received_at) * 1000, "
    "extract(epoch FROM o.sent_at) * 1000, extract(epoch FROM n.created_at) * 1000, "
    "extract(epoch FROM n.delivered_at) * 1000, n.id::text FROM intake.complaints c JOIN "
    "intake.outbox o ON o.msg_key = c.id::text AND o.ce_type = 'cp.complaint.received' JOIN "
    "followup.notifications n ON n.complaint_id = c.id AND n.step = 'received' "
    "WHERE c.id = ANY(%s::uuid[])")
ACK_STAGE_NAMES = (
    ("intake_commit_to_relay", "intake's transaction began -> its relay's transaction began "
     "(intake's statements and commit, the relay's wake-up)"),
    ("relay_to_produced", "the relay's transaction began -> the event handed to librdkafka "
     "(the relay's lock and select)"),
    ("produced_to_followup_tx", "handed to librdkafka -> follow-up's consumer transaction "
     "began (linger, the broker, the fetch, the consumer's batch wait and the batches before "
     "it)"),
    ("followup_tx_to_gateway", "follow-up's transaction began -> the request at the receiver "
     "(the batch's other events, the commit, the delivery's wake-up, claim and call)"),
    ("gateway_to_recorded", "the request at the receiver -> the delivery's record began (the "
     "answer, the batch's other calls)"),
)


# The services' own histograms of the parts the acknowledgement passes through: their mean
# over the ack phase (sum and count deltas), and how many events a consumer batch held.
ACK_METRICS = (("intake", "cp_outbox_batch_seconds", ""),
               ("intake", "cp_outbox_ack_seconds", ""),
               ("followup", "cp_consume_collect_seconds", ""),
               ("intake", "cp_consume_batch_seconds", ""),
               ("followup", "cp_consume_batch_seconds", ""),
               ("followup", "cp_delivery_stage_seconds", 'stage="claim"'),
               ("followup", "cp_delivery_stage_seconds", 'stage="calls"'),
               ("followup", "cp_delivery_stage_seconds", 'stage="record"'),
               ("followup", "cp_consumed_total", None))


def metric_sums(stack):
    """{(service, name, labels): (sum, count)} of ACK_METRICS from each service's /metrics
    (a counter's value as its sum, summed over its label sets when labels is None)."""
    out = {}
    for svc in sorted({m[0] for m in ACK_METRICS}):
        try:
            text = requests.get(stack.service_url(svc) + "/metrics", timeout=5).text
        except requests.RequestException:
            continue
        for line in text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            key, value = line.rsplit(" ", 1)
            name, _, labels = key.partition("{")
            labels = labels.rstrip("}")
            for svc2, metric, want in ACK_METRICS:
                if svc2 != svc:
                    continue
                if want is None and name == metric:
                    k = (svc, metric, None)
                    s, c = out.get(k, (0.0, 0.0))
                    out[k] = (s + float(value), c + 1)
                elif name in (metric + "_sum", metric + "_count") and labels == want:
                    s, c = out.get((svc, metric, want), (0.0, 0.0))
                    out[(svc, metric, want)] = (s + float(value), c) if name.endswith("_sum") \
                        else (s, c + float(value))
    return out


KAFKA_GAUGES = ("cp_kafka_broker_rtt_seconds", "cp_kafka_queue_latency_seconds")


def kafka_latency(stack, services=("intake", "followup")):
    """librdkafka's own windows (the last statistics interval, worst broker) per client of the
    services, in ms: which side of a Kafka hop the acknowledgement waits on."""
    out = {}
    for svc in services:
        try:
            text = requests.get(stack.service_url(svc) + "/metrics", timeout=5).text
        except requests.RequestException:
            continue
        for line in text.splitlines():
            name, _, rest = line.partition("{")
            window = rest.split('window="', 1)[-1].split('"', 1)[0]
            if name not in KAFKA_GAUGES or window not in ("p99", "avg"):
                continue
            client = rest.split('client="', 1)[1].split('"', 1)[0]
            value = float(line.rsplit(" ", 1)[1]) * 1000
            # the average round trip beside the relay's mean wait for a batch says how many
            # requests one after the other that wait is made of
            if value > 0:
                out[f"{client} {name.split('_')[2]} {window}"] = round(value, 1)
    return out


def metric_means(before, after):
    """Each histogram's mean (ms) and count over the interval; consumed events per batch."""
    out = {}
    for key, (s1, c1) in after.items():
        s0, c0 = before.get(key, (0.0, 0.0))
        svc, metric, labels = key
        if labels is None:
            out[f"{svc} {metric}"] = round(s1 - s0)
        elif c1 > c0:
            out[f"{svc} {metric}{{{labels}}}".replace("{}", "")] = {
                "mean_ms": round((s1 - s0) / (c1 - c0) * 1000, 1), "count": round(c1 - c0)}
    consumed = out.get("followup cp_consumed_total")
    batches = out.get("followup cp_consume_batch_seconds")
    if consumed is not None and isinstance(batches, dict) and batches["count"]:
        out["followup events per consumer batch"] = round(consumed / batches["count"], 1)
    return out


def ack_stages(stack, ids, since_ms):
    """p50/p99 of each stage of ACK_STAGE_NAMES for the complaints ids: the database's
    timestamps, the Kafka record's own (set when the relay handed it over) and the receiver's
    arrival time."""
    from confluent_kafka import Consumer, TopicPartition
    with stack.db() as db:
        rows = db.execute(ACK_STAGES_SQL, (ids,)).fetchall()
    topic = "complaint.received.v1"
    c = Consumer({"bootstrap.servers": stack.bootstrap, "group.id": "cp-bench-ack-stages",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    produced = {}
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        start = c.offsets_for_times([TopicPartition(topic, p, since_ms) for p in parts],
                                    timeout=10)
        c.assign([p for p in start if p.offset >= 0])
        left = {p.partition for p in start if p.offset >= 0}
        deadline = time.monotonic() + 30
        while left and time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                left.discard(m.partition())
                continue
            produced[m.key().decode()] = m.timestamp()[1]
    finally:
        c.close()
    arrived = {str(m["notification_id"]): float(m["received_unix"]) * 1000
               for m in stack.inbox() if "received_unix" in m}
    out = {}
    spans = {name: [] for name, _ in ACK_STAGE_NAMES}
    for cid, received, relayed, queued, delivered, note_id in rows:
        kafka, gateway = produced.get(cid), arrived.get(note_id)
        if kafka is None or gateway is None or relayed is None:
            continue
        points = [float(received), float(relayed), float(kafka), float(queued), gateway,
                  float(delivered)]
        for (name, _), a, b in zip(ACK_STAGE_NAMES, points, points[1:]):
            spans[name].append(b - a)
    for name, what in ACK_STAGE_NAMES:
        if spans[name]:
            out[name] = {"p50": round(pct(spans[name], 0.5), 1),
                         "p99": round(pct(spans[name], 0.99), 1), "what": what}
    out["complaints"] = len(spans[ACK_STAGE_NAMES[0][0]])
    return out


def phase_ack(stack, rate, seconds=10):
    """The automatic acknowledgement's latency (receipt -> the receiver's 2xx) at half the
    measured maximum load: an open-loop stream, one complaint every 1/rate s on a fixed schedule
    (a slow answer does not delay the next request, so the load is the one offered), started
    only once no earlier complaint waits for its acknowledgement: measured behind a backlog the
    figure would be the queue's length, not the latency at that load."""
    with stack.db() as db:
        deadline = time.monotonic() + 300
        while (waiting := db.execute(ACK_WAITING_SQL).fetchone()[0]) and \
                time.monotonic() < deadline:
            time.sleep(0.5)
    if waiting:
        raise SystemExit(f"bench: {waiting} complaints still wait for their acknowledgement "
                         "after 300 s; no latency at half load can be measured behind them")
    n = max(5, int(rate * seconds))
    interval = 1.0 / max(rate, 0.1)
    lock = threading.Lock()
    session = threading.local()

    def offer(count, ids, late):
        """count complaints on the fixed schedule; returns the rate achieved."""
        def one(due):
            late.append(time.perf_counter() - due)
            s = getattr(session, "s", None) or requests.Session()
            session.s = s
            r = s.post(stack.base_url + "/v1/complaints", json=complaint(),
                       headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=30)
            r.raise_for_status()
            with lock:
                ids.append(r.json()["complaint_id"])

        t0 = time.perf_counter() + 0.1
        # enough senders that a slow answer never holds back the schedule
        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            futures = []
            for i in range(count):
                due = t0 + i * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(one, due))
            for f in futures:
                f.result()
        return count / (time.perf_counter() - t0)

    def delivered(ids):
        return wait_rows(stack, "SELECT extract(epoch FROM n.delivered_at - c.received_at) * "
                                "1000, extract(epoch FROM n.created_at - c.received_at) * 1000 "
                                "FROM followup.notifications n JOIN intake.complaints c ON c.id "
                                "= n.complaint_id WHERE n.complaint_id = ANY(%s::uuid[]) AND "
                                "n.step = 'received' AND n.status = 'delivered'", (ids,),
                         count=len(ids), timeout=300)

    # the same stream for BENCH_ACK_WARMUP_SECONDS first, not measured: on a stack that has
    # just started (BENCH_PHASES=ack alone) the first second or two of acknowledgements took
    # up to 1 s (first connections and statements everywhere), which is start-up, not the
    # latency at this load
    warm = []
    offer(max(1, int(rate * env_int("BENCH_ACK_WARMUP_SECONDS", 3))), warm, [])
    delivered(warm)
    ids, late = [], []
    started_ms = int(time.time() * 1000)
    metrics0 = metric_sums(stack)
    cpu0, wall0 = cpu_snapshot(stack), time.monotonic()
    offered = offer(n, ids, late)
    rows = delivered(ids)
    cpu1, wall = cpu_snapshot(stack), time.monotonic() - wall0
    metrics = metric_means(metrics0, metric_sums(stack))
    metrics["kafka_ms"] = kafka_latency(stack)
    lat = [float(r[0]) for r in rows]
    queued = [float(r[1]) for r in rows]
    sent = [a - b for a, b in zip(lat, queued)]
    try:
        stages = ack_stages(stack, ids, started_ms)
    except Exception as e:  # noqa: BLE001 - the split is context; the figure stands without it
        print(f"bench: the acknowledgement's stages not measured: {e}", flush=True)
        stages = {}
    return {"rate_per_s": round(rate, 1), "offered_per_s": round(offered, 1), "complaints": n,
            "waiting_before": waiting, "p50_ms": round(pct(lat, 0.5)),
            "p99_ms": round(pct(lat, 0.99)),
            # where the time goes: receipt -> follow-up queued the message (intake's outbox,
            # Kafka, classification, follow-up's consumer), then queued -> the receiver's 2xx
            "received_to_queued_p50_ms": round(pct(queued, 0.5)),
            "received_to_queued_p99_ms": round(pct(queued, 0.99)),
            "queued_to_sent_p50_ms": round(pct(sent, 0.5)),
            "queued_to_sent_p99_ms": round(pct(sent, 0.99)),
            "schedule_slip_max_ms": round(max(late) * 1000, 1),
            # what the stack costs at this load: a broker or a database near a core's worth
            # answers late whatever the code waits for
            "cpu_s_per_complaint": cpu_delta(cpu0, cpu1, n),
            "cores_busy": {k: round(v * n / wall, 2) for k, v in cpu_delta(cpu0, cpu1, n).items()
                           if "[" not in k},
            # the machine's, other tenants' work included (the stack's alone is cores_busy)
            "load_avg_1m_after": round(os.getloadavg()[0], 1),
            "stages_ms": stages, "service_metrics": metrics}


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
        time.sleep(max(0.0, (start - db.execute("SELECT now()").fetchone()[0])
                       .total_seconds() - 1))
        reset_statements(stack)
        cpu0 = cpu_snapshot(stack)
        profile = in_background(perf_profile, stack, ("timer",), 8, "timer")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = db.execute("SELECT count(*) FROM timer.clocks WHERE complaint_no LIKE %s "
                              "AND escalation_level > 0", (storm + "%",)).fetchone()[0]
            if done >= n:
                break
            time.sleep(0.5)
        cpu1 = cpu_snapshot(stack)
        statements = top_statements(stack, n / 1000)
        profile = profile()
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
            "pgbench_fires_per_s": round((n - left) / elapsed),
            "cpu_s_per_1000_fires": cpu_delta(cpu0, cpu1, n / 1000), "profile": profile,
            "postgresql_statements_per_1000_fires": statements}


def settle_storm(stack, timeout=300):
    """Waits until the storm's events are published (timer's outbox) and consumed by the
    services that read complaint.sla.v1 (classification, follow-up): 200,000 events in their
    queues would otherwise be measured as the next phase's latency."""
    t0 = time.perf_counter()
    with stack.db() as db:
        deadline = time.monotonic() + timeout
        while db.execute("SELECT count(*) FROM timer.outbox WHERE sent_at IS NULL")\
                .fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.5)
    wait_lag_zero(stack, "complaint.sla.v1", ("cp-classification", "cp-followup"),
                  timeout=max(10, deadline - time.monotonic()))
    return round(time.perf_counter() - t0, 1)


# ---- the table ----------------------------------------------------------------------------

def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def cpu_bound(cpu, per, unit):
    """What CPU bounds a rate: the CPU seconds all processes spent per `per` units, the rate
    the machine's cores would allow at that cost, and the largest shares."""
    total = sum(v for k, v in cpu.items() if "[" not in k)
    if total <= 0:
        return "no CPU measured"
    top = sorted(((v, k) for k, v in cpu.items() if "[" not in k), reverse=True)
    shares = ", ".join(f"{k} {v / total:.0%}" for v, k in top[:4] if v > 0)
    pg_top = max(((v, k) for k, v in cpu.items() if k.startswith("postgresql[")), default=None)
    if pg_top:
        shares += f" (the most of PostgreSQL's for {pg_top[1][11:-1]}: {pg_top[0] / total:.0%})"
    jit = cpu.get("kafka[jit compiler]", 0)
    jit_text = f" (of which the broker's JIT compiler {jit / total:.0%})" if jit > 0.05 * total \
        else ""
    cores = os.cpu_count() or 1
    what = f"{per:,} {unit}" if per > 1 else unit.rstrip("s")
    return (f"{total:.3f} CPU s per {what} = at most {cores * per / total:,.0f} {unit}/s "
            f"on {cores} cores; {shares}{jit_text}")


def caught_text(phase):
    """When each consumer group was first seen at lag 0, slowest last."""
    caught = sorted(phase.get("caught_up_s", {}).items(), key=lambda kv: kv[1])
    return ("; at lag 0 after " + ", ".join(f"{g.removeprefix('cp-')} {s} s" for g, s in caught)
            if caught else "")


def figures(r):
    """(name, value, baseline, ratio, target text, met, what bounds it) for every figure."""
    t, b, a, tm, d = r["tracking"], r["burst"], r["ack"], r["timer"], r["drain"]
    track_ratio = ratio(t["scans_per_s"], t["sql_baseline_scans_per_s"])
    storm_floor = tm["clocks"] / tm["fires_per_s"] if tm["fires_per_s"] else None
    rows = [
        ("tracking ingest scans/s (3 consumers, lag 0)", t["scans_per_s"],
         t["sql_baseline_scans_per_s"], track_ratio, ">= 50000 and >= 0.5 x SQL",
         t["scans_per_s"] >= 50000 and track_ratio >= 0.5,
         cpu_bound(t["cpu_s_per_1000_scans"], 1000, "scans") +
         f"; the load generator's producer loop took {t['producer_loop_seconds']} s of "
         f"{t['seconds']} s" + caught_text(t)),
        ("tracking backlog drain scans/s (3 consumers)", d["scans_per_s"],
         t["sql_baseline_scans_per_s"], ratio(d["scans_per_s"], t["sql_baseline_scans_per_s"]),
         "(context)", None, cpu_bound(d["cpu_s_per_1000_scans"], 1000, "scans") + caught_text(d)),
        ("tracking ingest vs kafka-producer-perf-test", t["scans_per_s"],
         t["producer_perf_records_per_s"],
         ratio(t["scans_per_s"], t["producer_perf_records_per_s"]), "(context)", None, ""),
        ("complaint burst complaints/s (drafted plan)", b["complaints_per_s"], None, None,
         ">= 500", b["complaints_per_s"] >= 500,
         cpu_bound(b["cpu_s_per_complaint"], 1, "complaints")),
        ("acknowledgements delivered/s (burst)", b["notifications_per_s"], None, None,
         "(context)", None, ""),
        ("one complaint alone: received -> drafted p50 ms", b["single_received_to_drafted_p50_ms"],
         None, None, "(context)", None, ""),
        ("intake POST req/s (16 Python clients)", b["post_req_per_s"],
         b["pgbench_intake_tx_per_s"], ratio(b["post_req_per_s"], b["pgbench_intake_tx_per_s"]),
         "(context)", None, ""),
    ]
    if "wrk_req_per_s" in b:
        wrk_ratio = ratio(b["wrk_req_per_s"], b["pgbench_intake_tx_per_s"])
        rows.append(("intake wrk req/s (32 conns)", b["wrk_req_per_s"],
                     b["pgbench_intake_tx_per_s"], wrk_ratio, ">= 2000, >= 0.5 x pgbench",
                     b["wrk_req_per_s"] >= 2000 and wrk_ratio >= 0.5,
                     f"intake's own transaction in pgbench (8 clients) reaches "
                     f"{b['pgbench_intake_tx_per_s']:,} tx/s"))
        # Little's law: with 32 requests always in flight, the mean time in the system is
        # 32 / rate, and a p99 under 50 ms needs a mean under it: a rate above 640/s, which the
        # bound compares with the POST's own transaction in pgbench
        mean_ms = 1000 * 32 / b["wrk_req_per_s"] if b["wrk_req_per_s"] else None
        rows.append(("intake wrk p99 ms", b["wrk_p99_ms"], None, None, "<= 50",
                     b["wrk_p99_ms"] <= 50,
                     f"p50 {b['wrk_p50_ms']:.0f} ms; 32 connections at {b['wrk_req_per_s']:,} req/s "
                     f"spend {mean_ms:.0f} ms each on average (Little's law), so p99 <= 50 ms "
                     f"needs over 640 req/s, against {b['pgbench_intake_tx_per_s']:,} tx/s of "
                     f"intake's own transaction in pgbench" if mean_ms else ""))
    rows += [
        ("timer storm fires/s", tm["fires_per_s"], tm["pgbench_fires_per_s"],
         ratio(tm["fires_per_s"], tm["pgbench_fires_per_s"]), ">= 5000",
         tm["fires_per_s"] >= 5000, cpu_bound(tm["cpu_s_per_1000_fires"], 1000, "fires")),
        ("timer storm lateness p99 ms", tm["storm_lateness_p99_ms"], None, None, "<= 1000",
         tm["storm_lateness_p99_ms"] <= 1000,
         f"{tm['clocks']:,} clocks due at one instant, fired at {tm['fires_per_s']:,}/s, take "
         f"{storm_floor:.1f} s: the 99th percentile cannot be under {0.99 * storm_floor:.1f} s "
         f"at that rate (under 1 s needs {0.99 * tm['clocks']:,.0f} fires/s; the same claim in "
         f"pgbench does {tm['pgbench_fires_per_s']:,}/s)" if storm_floor else ""),
        ("timer steady lateness p99 ms", tm["steady_lateness_p99_ms"], None, None, "<= 100",
         tm["steady_lateness_p99_ms"] is not None and tm["steady_lateness_p99_ms"] <= 100,
         f"p50 {tm['steady_lateness_p50_ms']} ms"),
        ("acknowledgement p99 ms at half load", a["p99_ms"], None, None, "<= 200",
         a["p99_ms"] <= 200,
         f"{a['offered_per_s']}/s offered open loop; receipt -> follow-up queued it p50 "
         f"{a['received_to_queued_p50_ms']} / p99 {a['received_to_queued_p99_ms']} ms, queued "
         f"-> the receiver's 2xx p50 {a['queued_to_sent_p50_ms']} / p99 "
         f"{a['queued_to_sent_p99_ms']} ms" + ack_stage_text(a.get("stages_ms") or {},
                                                            a.get("service_metrics") or {})
         + ack_cpu_text(a)),
    ]
    return rows


def ack_stage_text(stages, metrics):
    parts = [f"{name} p50 {v['p50']} / p99 {v['p99']}" for name, _ in ACK_STAGE_NAMES
             if isinstance(v := stages.get(name), dict)]
    text = "; by stage (ms): " + ", ".join(parts) if parts else ""
    relay = metrics.get("intake cp_outbox_ack_seconds")
    batch = metrics.get("followup cp_consume_batch_seconds")
    if isinstance(relay, dict) and isinstance(batch, dict):
        # the two waits the stages are made of: the broker's answer to intake's relay (a
        # receipt committed meanwhile waits for it), and follow-up's consumer transaction
        text += (f"; intake's relay waited {relay['mean_ms']} ms on average for the broker's "
                 f"acknowledgement of a batch, follow-up's consumer transaction took "
                 f"{batch['mean_ms']} ms on average")
    lat = metrics.get("kafka_ms") or {}
    if lat:
        # librdkafka's statistics: a broker round trip (rtt) or the client's own queue
        text += "; librdkafka's last 5 s, ms: " + ", ".join(
            f"{k} {v}" for k, v in sorted(lat.items()))
    return text


def ack_cpu_text(a):
    """How busy the two cores were at this load: every hop (the broker's answer, a consumer's
    fetch, a commit) waits for a core, and at 81/s the stack alone kept 1.3-1.8 of 2 busy."""
    cores = a.get("cores_busy")
    if not cores:
        return ""
    return (f"; the stack kept {sum(cores.values()):.2f} of {os.cpu_count()} cores busy ("
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(cores.items(), key=lambda kv: -kv[1])
                        if v >= 0.01)
            + f"), load average {a.get('load_avg_1m_after')} after the phase")


def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.3f}" if isinstance(v, float) and v < 10 else f"{v:,.0f}"


def print_table(r):
    rows = figures(r)
    print(f"\n{'figure':48} {'value':>10} {'baseline':>10} {'ratio':>7}  target")
    for name, value, base, rat, target, met, _ in rows:
        flag = "" if met is None else ("  ok" if met else "  BELOW TARGET")
        print(f"{name:48} {fmt(value):>10} {fmt(base):>10} {fmt(rat):>7}  {target}{flag}")
    print("\nbefore issue 14 (same machine, the issue's table): tracking "
          f"{BEFORE['tracking_scans_per_s']} scans/s, burst {BEFORE['burst_complaints_per_s']} "
          f"complaints/s, intake wrk {BEFORE['intake_wrk_req_per_s']} req/s")
    for title, cpu in (("CPU seconds per 1,000 scans (lag 0)", r["tracking"]["cpu_s_per_1000_scans"]),
                       ("CPU seconds per 1,000 scans (drain)", r["drain"]["cpu_s_per_1000_scans"]),
                       ("CPU seconds per 1,000 fires (storm)", r["timer"]["cpu_s_per_1000_fires"]),
                       ("CPU seconds per complaint (burst)", r["burst"]["cpu_s_per_complaint"])):
        print(f"{title + ':':38}" + ", ".join(f"{k} {v:.4f}" for k, v in cpu.items() if v > 0))
    st = r["burst"].get("postgresql_statements")
    if st:
        print("PostgreSQL statements per complaint (burst, pg_stat_statements): " + ", ".join(
            f"{k} {v:.0f}" for k, v in st["statements_per_complaint"].items()) +
              "; their execution ms: " + ", ".join(
                  f"{k} {v:.2f}" for k, v in st["exec_ms_per_complaint"].items()))
        print("top statements by execution time per complaint (ms, calls per complaint):")
        for t in st["top"]:
            print(f"  {t['exec_ms_per_complaint']:6.3f} {t['calls_per_complaint']:5.2f}x "
                  f"{t['service']:14} {t['statement'][:96]}")
    for phase, key, unit in (("tracking", "postgresql_statements_per_1000_scans", "1,000 scans"),
                             ("timer", "postgresql_statements_per_1000_fires", "1,000 fires")):
        st = r[phase].get(key)
        if st:
            # top_statements names its figures per complaint; here they are per 1,000 units
            print(f"top statements by execution time per {unit} ({phase}; ms, calls):")
            for t in st["top"][:8]:
                print(f"  {t['exec_ms_per_complaint']:8.1f} {t['calls_per_complaint']:7.1f}x "
                      f"{t['service']:14} {t['statement'][:90]}")
    below = [(name, bound) for name, _, _, _, _, met, bound in rows if met is False]
    print("\nbelow target, and what bounds it (same run):")
    for name, bound in below or [("none", "")]:
        print(f"- {name}: {bound}" if bound else f"- {name}")
    for phase, what in (("tracking", "the tracking consumers and every PostgreSQL backend, 8 s "
                                     "of the lag-0 phase"),
                        ("timer", "the timer and every PostgreSQL backend, 8 s of the storm")):
        if r[phase].get("profile"):
            print(f"\nperf profile of {what} (build/bench/profile-{phase}.txt):")
            print("\n".join("  " + l for l in r[phase]["profile"]))
    return rows


def service_env(spec):
    """Each service's environment from BENCH_SERVICE_ENV: NAME=value for every service,
    service:NAME=value for that one only (a setting tried on the consumers off the measured
    path, say)."""
    env = {name: {"LOG_LEVEL": "warn"} for name in SERVICES}
    for item in spec.split():
        key, value = item.split("=", 1)
        who, _, key = key.rpartition(":")
        for name in ([who] if who else SERVICES):
            env[name][key] = value
    return env


ALL_PHASES = ("producer", "drain", "tracking", "timer", "burst", "ack", "intake")


def run_phases(stack, phases, results):
    """The phases in an order where none is measured behind another's queue: the producer
    baseline and the backlog drain first (they also warm the broker: a fresh JVM compiles its
    hot paths for its first minutes, CPU that would otherwise be charged to the lag-0 figure),
    the timer storm before the complaints (and its 200,000 events consumed before they come),
    the acknowledgement latency once the burst is drained, and wrk last."""
    n_scans = env_int("BENCH_TRACKING_EVENTS", 200000)
    probe = LagProbe(stack, "parcel.tracking.v1", TRACKING_GROUPS)

    def run(name, title, fn, *args):
        if name in phases:
            print(f"== {title}", flush=True)
            results[name] = fn(*args)
            print(json.dumps({k: v for k, v in results[name].items() if k != "profile"}),
                  flush=True)

    try:
        if "producer" in phases:
            print("== kafka-producer-perf-test on the same broker", flush=True)
            rate = producer_perf(stack, n_scans)
            results["producer"] = {"records_per_s": round(rate) if rate else None}
        run("drain", "tracking backlog drained by the three consumers", phase_drain, stack,
            n_scans, probe)
        run("tracking", "tracking ingest", phase_tracking, stack, n_scans, probe)
    finally:
        probe.close()
    run("timer", "timer storm", phase_timer, stack, env_int("BENCH_TIMER_CLOCKS", 100000))
    if "timer" in phases and {"burst", "ack", "intake"} & set(phases):
        results["timer"]["settled_seconds"] = settle_storm(stack)
    run("burst", "complaint burst", phase_burst, stack, env_int("BENCH_COMPLAINTS", 2000),
        env_int("BENCH_CLIENTS", 16))
    # the ack phase alone (BENCH_PHASES=ack) needs the rate it is to offer: BENCH_ACK_RATE
    # (complaints/s, e.g. half of an earlier burst's), so its stages can be compared between
    # runs at the same load without the burst before it
    ack_rate = (results["burst"]["complaints_per_s"] / 2 if "burst" in results
                else float(os.environ.get("BENCH_ACK_RATE", "0")))
    if "ack" in phases and ack_rate <= 0:
        print("== acknowledgement latency skipped: it needs the burst phase or BENCH_ACK_RATE",
              flush=True)
    elif ack_rate > 0:
        run("ack", "acknowledgement latency at half the burst's rate (open loop)", phase_ack,
            stack, ack_rate, env_int("BENCH_ACK_SECONDS", 10))
    run("intake", "intake with wrk and its pgbench baseline", phase_intake, stack)


def main():
    started = time.perf_counter()
    stack = Stack.start(service_env=service_env(os.environ.get("BENCH_SERVICE_ENV", "")))
    results = {"machine": {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg(),
                           "started_at": datetime.datetime.now(datetime.timezone.utc)
                           .isoformat(timespec="seconds")}}
    phases = os.environ.get("BENCH_PHASES", ",".join(ALL_PHASES)).split(",")
    try:
        run_phases(stack, phases, results)
    finally:
        stack.close()
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    results["bench_seconds"] = round(time.perf_counter() - started)
    if set(phases) != set(ALL_PHASES):
        print(json.dumps(results, indent=2, default=str))
        return
    results["tracking"]["producer_perf_records_per_s"] = results["producer"]["records_per_s"]
    results["burst"].update(results["intake"])
    rows = print_table(results)
    results["figures"] = [dict(zip(("figure", "value", "baseline", "ratio", "target", "met",
                                    "bound"), r)) for r in rows]
    results["before_issue_14"] = BEFORE
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten to {OUT} ({results['bench_seconds']} s; load average at start "
          f"{results['machine']['load_avg_at_start'][0]:.1f}, at the end "
          f"{results['machine']['load_avg_at_end'][0]:.1f})")


if __name__ == "__main__":
    main()
