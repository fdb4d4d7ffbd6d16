"""The fault battery (issue 13). Under a bounded stream of complaints (POSTed through nginx, as
customers do, retried with the same Idempotency-Key until answered) and tracking scans (produced
to parcel.tracking.v1, as carriers do, some sent twice), each of the six services is SIGKILLed in
turn and started again by the harness, the Kafka broker is SIGKILLed and started again, and
PostgreSQL is stopped with `pg_ctl stop -m immediate` and started again. Then the oracle:

- every complaint intake stored (every 201, every replay's) reached the end of the automatic
  pipeline (follow-up applied its drafted plan) exactly once: one row per stage in each
  service's schema, one event (one ce_id) per stage on the topics (per bundle version and per
  re-proposal for the stages that announce changes), every sent outbox row on its topic and
  every service event in an outbox, each event applied once by intake's timeline and
  follow-up's case history;
- every short SLA clock breached once per level and climbed the whole ladder (no fire lost or
  repeated); no alarm of any clock announced twice;
- every scan the broker acknowledged is stored once by evidence;
- nothing was dead-lettered.

Each fault's recovery is printed, not asserted (the machine is shared): when the harness's
restart returned (the broker's or PostgreSQL's start-up), when every service's /readyz answered
200 again, and when a complaint posted after that reached the end; also each service's readiness
transitions. The figures are written to $BUILD/test-results/chaos.json."""

from __future__ import annotations

import collections
import json
import os
import threading
import time
import uuid

import requests

from evidence_helpers import ago, scan, send
from helpers import committed_lag, complaint
from stack import BUILD, SERVICES, TOPICS, StackError, wait_for
from timer_helpers import classify, new_id

ALL_FAULTS = (*SERVICES, "broker", "postgres")
# CHAOS_FAULTS="broker postgres" runs only those (in that order), e.g. to study one recovery
FAULTS = tuple(os.environ.get("CHAOS_FAULTS", "").split()) or ALL_FAULTS
assert set(FAULTS) <= set(ALL_FAULTS), f"CHAOS_FAULTS: one of {ALL_FAULTS}"
STREAM_INTERVAL = 0.25  # seconds between complaints: bounded, a few per second
CLOCK_EVERY = 4  # one short clock per this many complaints
RESEND_EVERY = 7  # a carrier sends one scan of this many twice
CLOCK_S = 3  # the short clocks' duration per level: the ladder is done in ~3 levels x 3 s
END = "cp.complaint.resolution_proposed"  # what follow-up applies last without a person
# Announced once per complaint. The others come once per change of what they announce: evidence
# announces cp.complaint.evidence_updated once per new bundle version (a scan that came after
# the bundle) and resolution re-announces its plan once per re-proposal (which it audits).
ONCE = ("cp.complaint.received", "cp.complaint.classified", "cp.complaint.first_response",
        "cp.complaint.evidence_collected")
# what the automatic pipeline announces, all of it done once the stream's complaints are at the
# end (the clocks and escalations go on on their own time)
PIPELINE = (*ONCE, "cp.complaint.evidence_updated", END)
# the topics the pipeline's events travel on (the receipts first: intake makes them)
PIPELINE_TOPICS = ("complaint.received.v1", "complaint.classified.v1", "complaint.evidence.v1",
                   "complaint.resolution.v1")
# intake's timeline: the step each consumed event writes (one row per event)
TIMELINE = {"classified": "cp.complaint.classified",
            "first_response": "cp.complaint.first_response",
            "evidence_found": "cp.complaint.evidence_collected",
            "evidence_updated": "cp.complaint.evidence_updated",
            "plan_drafted": END,
            "escalated": "cp.complaint.escalated"}
# (what, rows WHERE ...): one row per complaint each
ONE_ROW = (
    ("intake timeline received", "intake.timeline WHERE step = 'received'"),
    ("classification", "classification.classifications WHERE true"),
    ("evidence bundle", "evidence.bundles WHERE true"),
    ("resolution proposal", "resolution.proposals WHERE true"),
    ("follow-up case", "followup.cases WHERE true"),
    ("follow-up receipt notice", "followup.notifications WHERE step = 'received'"),
    ("timer first_response clock", "timer.clocks WHERE clock = 'first_response'"),
)


def post_until_accepted(stack, http, body: dict, deadline: float, answers: collections.Counter):
    """POSTs through the front door until intake answers 201 or 200 (a replay: an earlier
    attempt was stored), with the same Idempotency-Key each time, as a customer's client
    retries; returns (complaint_id, complaint_no, replayed) or None at the deadline. Counts
    each answer (status, or the client error's name) in answers."""
    key = str(uuid.uuid4())
    while time.monotonic() < deadline:
        try:
            r = http.post(stack.base_url + "/v1/complaints", json=body,
                          headers={"Idempotency-Key": key}, timeout=5)
            answers[r.status_code] += 1
            if r.status_code in (200, 201):
                got = r.json()
                return got["complaint_id"], got["complaint_no"], bool(got.get("idempotent_replay"))
            # only the faults' answers: the front door's 502/504, intake's 503
            assert r.status_code >= 500, f"POST answered {r.status_code}: {r.text}"
        except requests.RequestException as e:
            answers[type(e).__name__] += 1
        time.sleep(0.25)
    return None


class Stream(threading.Thread):
    """The bounded stream: a complaint every STREAM_INTERVAL through the front door, two scans
    of its parcel, every RESEND_EVERY-th scan sent again, and every CLOCK_EVERY-th complaint a
    synthetic classification whose first_response clock lasts CLOCK_S per level. Scans and
    clocks go through a producer of its own, asynchronously, so a broker outage only delays
    them (its delivery reports say what the broker has)."""

    def __init__(self, stack):
        super().__init__(name="chaos-stream", daemon=True)
        from confluent_kafka import Producer
        self.stack = stack
        self.proto = stack.proto
        self.ce_headers = stack.ce_headers
        self.halt = threading.Event()
        self.accepted: dict[str, str] = {}  # complaint_id -> complaint_no
        self.answers = collections.Counter()  # HTTP status (or error kind) of every attempt
        self.replays = 0
        self.unaccepted = 0
        self.scans: set[str] = set()  # scan ids the broker acknowledged
        self.clocks: set[str] = set()  # synthetic complaint ids whose classification it has
        self.failed: list[str] = []
        self._producer = Producer({"bootstrap.servers": stack.bootstrap,
                                   "enable.idempotence": True, "linger.ms": 5,
                                   # long enough for any outage of the battery: nothing is
                                   # given up, so "produced" is what the broker acknowledged
                                   "message.timeout.ms": 300000})
        self._http = requests.Session()
        self.error: BaseException | None = None

    def produce(self, topic, key, value, headers=None):
        """Stack.produce's signature (evidence_helpers.send and timer_helpers.classify call it),
        without waiting for the delivery."""
        if topic == "parcel.tracking.v1":
            tag = self.proto.TrackingEvent.FromString(value).scan_id
            done = self.scans
        else:
            tag, done = key, self.clocks

        def delivered(err, msg):
            if err is None:
                done.add(tag)
            else:
                self.failed.append(f"{topic} {tag}: {err}")

        self._producer.produce(topic, key=key, value=value,
                               headers=list((headers or {}).items()), on_delivery=delivered)
        self._producer.poll(0)

    def post(self, body: dict, deadline: float) -> bool:
        accepted = post_until_accepted(self.stack, self._http, body, deadline, self.answers)
        if accepted is None:
            self.unaccepted += 1
            return False
        cid, no, replay = accepted
        self.accepted[cid] = no
        self.replays += replay
        return True

    def run(self):
        try:
            i = 0
            while not self.halt.is_set():
                body = complaint()
                self.post(body, time.monotonic() + 120)
                scans = [scan(self, body["waybill_no"], "picked_up", ago(30), facility_id="O1",
                              facility_type="outlet", courier_id="C1"),
                         scan(self, body["waybill_no"], "arrived", ago(20), facility_id="SC1",
                              facility_type="sorting_centre")]
                if i % RESEND_EVERY == 0:
                    scans.append(scans[-1])
                send(self, *scans)
                if i % CLOCK_EVERY == 0:
                    cid, no = new_id()
                    classify(self, cid, no, durations=(CLOCK_S, 0, 0, 0), at=time.time())
                i += 1
                self.halt.wait(STREAM_INTERVAL)
        except BaseException as e:  # the test reports it after join()
            self.error = e

    def finish(self):
        self.halt.set()
        self.join(150)
        left = self._producer.flush(120)
        self._http.close()
        assert not self.is_alive(), "the stream did not end"
        if self.error:
            raise self.error
        assert left == 0 and not self.failed, (left, self.failed[:5])


class Readiness(threading.Thread):
    """Polls every service's /readyz and keeps each change (time, service, ready)."""

    def __init__(self, stack, t0: float):
        super().__init__(name="chaos-readiness", daemon=True)
        self.stack, self.t0 = stack, t0
        self.halt = threading.Event()
        self.state: dict[str, bool] = {}
        self.changes: list[tuple[float, str, bool]] = []

    def run(self):
        while not self.halt.is_set():
            for name in SERVICES:
                up = self.stack.ready(name)
                if self.state.get(name) != up:
                    self.state[name] = up
                    self.changes.append((time.monotonic(), name, up))
            self.halt.wait(0.2)

    def since(self, t: float) -> list[str]:
        return [f"{name} {'up' if up else 'down'} {at - t:+.1f}s" for at, name, up in self.changes
                if at >= t]


def at_end(stack, complaint_id: str) -> bool:
    try:
        with stack.db() as conn:
            return conn.execute("SELECT 1 FROM followup.case_events WHERE complaint_id = %s AND "
                                "ce_type = %s", (complaint_id, END)).fetchone() is not None
    except Exception:  # PostgreSQL may still be starting
        return False


def inject(stack, stream: Stream, fault: str) -> dict:
    """One fault, the harness's restart, then every service ready and a new complaint through
    the pipeline; returns the seconds after the fault at which each came."""
    t0 = time.monotonic()
    n = len(stream.accepted)
    if fault in SERVICES:
        assert stack.kill_service(fault) == -9
    elif fault == "broker":
        stack.kill_broker()
        stack.start_broker()
    else:
        stack.stop_postgres("immediate")
        stack.start_postgres()
    revived = stack.revive()  # the killed service, and any that exited on its own meanwhile
    restarted = time.monotonic() - t0

    def ready():
        revived.extend(stack.revive())
        return stack.all_ready()

    wait_for(ready, 120, f"every service ready after the {fault} fault", interval=0.1)
    all_ready = time.monotonic() - t0
    with requests.Session() as http:
        accepted = post_until_accepted(stack, http, complaint(), time.monotonic() + 60,
                                       collections.Counter())
    assert accepted, f"no complaint accepted within 60 s of every service ready after {fault}"
    cid, probe_no = accepted[0], accepted[1]
    wait_for(lambda: at_end(stack, cid), 120, f"a complaint through the pipeline after {fault}")
    flowing = time.monotonic() - t0
    # the stream goes on across the fault: a recovery quicker than the stream's pace (the
    # timer's can take 0.2 s on an idle machine) must still see its complaints in the oracle
    wait_for(lambda: len(stream.accepted) > n, 60, f"the stream going on after {fault}")
    return {"fault": fault, "restarted_s": round(restarted, 2), "ready_s": round(all_ready, 2),
            "end_to_end_s": round(flowing, 2), "probe": probe_no, "revived": revived,
            "complaints_meanwhile": len(stream.accepted) - n}


def per_complaint(conn, sql: str, ids: list[str]) -> collections.Counter:
    """{complaint id: n} from a query selecting (complaint_id, n) among ids (its %s)."""
    return collections.Counter({str(k): n for k, n in conn.execute(sql, (ids,)).fetchall()})


def test_every_fault_in_turn_loses_and_repeats_nothing(stack):
    t_start = time.monotonic()
    readiness = Readiness(stack, t_start)
    readiness.start()
    stream = Stream(stack)
    stream.start()
    results = []
    try:
        time.sleep(3)  # the stream under way before the first fault
        for fault in FAULTS:
            res = inject(stack, stream, fault)
            res["readiness"] = readiness.since(time.monotonic() - res["end_to_end_s"])
            results.append(res)
            print(f"\nchaos: {fault:<14} restarted {res['restarted_s']:5.1f}s, every /readyz "
                  f"200 {res['ready_s']:5.1f}s ({res['ready_s'] - res['restarted_s']:.1f}s after "
                  f"the restart), a new complaint ({res['probe']}) at the end "
                  f"{res['end_to_end_s']:5.1f}s; "
                  f"readiness: {', '.join(res['readiness']) or 'no change'}", flush=True)
            time.sleep(2)  # the stream flows between faults
    finally:
        readiness.halt.set()
        stream.finish()
    print(f"chaos: stream: {len(stream.accepted)} complaints accepted ({stream.replays} on a "
          f"retry's replay), POST answers {dict(stream.answers)}, {len(stream.scans)} scans, "
          f"{len(stream.clocks)} short clocks", flush=True)
    out = BUILD / "test-results" / "chaos.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"faults": results, "answers": dict(stream.answers),
                               "accepted": len(stream.accepted), "scans": len(stream.scans),
                               "clocks": len(stream.clocks)}, indent=1, default=str))
    assert stream.unaccepted == 0
    # /readyz tells: while the broker was dead for about 8 s the services said so (two missed
    # Kafka probes in a row, about 4-6 s), and they were all ready again afterwards
    for broker in (r for r in results if r["fault"] == "broker"):
        assert any(line.split()[1] == "down" for line in broker["readiness"]), broker["readiness"]
    # the stream ran through every fault: complaints came in from each fault on
    assert [r["fault"] for r in results if r["complaints_meanwhile"] == 0] == []

    # ---- drain: everything in flight settles (bounded; a failure says what is missing) ----
    conn = stack.db()
    ids = [str(r[0]) for r in conn.execute("SELECT id FROM intake.complaints").fetchall()]
    assert set(stream.accepted) <= set(ids)
    clocks = sorted(stream.clocks)
    scans = sorted(stream.scans)

    def settled():
        ended = conn.execute("SELECT count(DISTINCT complaint_id) FROM followup.case_events "
                             "WHERE ce_type = %s AND complaint_id = ANY(%s::uuid[])",
                             (END, ids)).fetchone()[0]
        exhausted = conn.execute("SELECT count(*) FROM timer.clocks WHERE clock = "
                                 "'first_response' AND state = 'exhausted' AND complaint_id = "
                                 "ANY(%s::uuid[])", (clocks,)).fetchone()[0]
        stored = conn.execute("SELECT count(DISTINCT scan_id) FROM evidence.scans WHERE "
                              "scan_id = ANY(%s)", (scans,)).fetchone()[0]
        unsent = sum(conn.execute(f"SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL")
                     .fetchone()[0] for s in SERVICES)
        state = (ended, exhausted, stored, unsent)
        settled.last = state
        return state == (len(ids), len(clocks), len(scans), 0)

    try:
        wait_for(settled, 180, "every complaint at the end, every short clock exhausted, every "
                 "scan stored, every outbox sent", interval=0.5)
    except StackError as e:
        raise AssertionError(f"{e}: (at the end, exhausted, stored, unsent) = {settled.last}, "
                             f"wanted ({len(ids)}, {len(clocks)}, {len(scans)}, 0)") from None

    # The pipeline's own events (not the clocks': the timer goes on warning about promised
    # updates and classification escalates on its own time) stop: wait until their rows stop
    # changing, read the database, then the topics (anything applied was on a topic before).
    settled_steps = [step for step, ce_type in TIMELINE.items() if ce_type in PIPELINE]

    def fingerprint():
        return conn.execute(
            "SELECT (SELECT count(*) FROM intake.timeline WHERE step = ANY(%s)), (SELECT count(*)"
            " FROM followup.case_events WHERE ce_type = ANY(%s)), (SELECT count(*) FROM "
            "resolution.proposal_audit), (SELECT max(version) FROM evidence.bundles)",
            (settled_steps, list(PIPELINE))).fetchone()

    last = [None]

    def quiet():
        now = fingerprint()
        same, last[0] = now == last[0], now
        return same

    time.sleep(2)  # a relay's second copy of anything would be on the topics by now
    # the consumers whose rows are counted below have applied every pipeline event on the
    # topics: rows that stay the same for 2 s said too little (intake, backing off after the
    # database's restart or rejoining its group, once held 59 classifications for longer)
    for group, topics in (("cp-intake", PIPELINE_TOPICS[1:]), ("cp-followup", PIPELINE_TOPICS)):
        wait_for(lambda: committed_lag(stack, group, topics) == 0, 60,
                 f"{group}'s committed offsets at the end of {', '.join(topics)}", interval=1)
    wait_for(quiet, 60, "the pipeline's rows to stop changing", interval=2)

    # ---- the database ----
    each_once = collections.Counter({cid: 1 for cid in ids})
    one_row = {what: per_complaint(conn, f"SELECT complaint_id, count(*) FROM {rows} AND "
                                   "complaint_id = ANY(%s::uuid[]) GROUP BY 1", ids)
               for what, rows in ONE_ROW}
    timeline = {step: per_complaint(conn, "SELECT complaint_id, count(*) FROM intake.timeline "
                                    f"WHERE step = '{step}' AND complaint_id = ANY(%s::uuid[]) "
                                    "GROUP BY 1", ids) for step in TIMELINE}
    history = collections.defaultdict(collections.Counter)
    for cid, ce_type, n in conn.execute(
            "SELECT complaint_id, ce_type, count(*) FROM followup.case_events WHERE "
            "complaint_id = ANY(%s::uuid[]) GROUP BY 1, 2", (ids,)).fetchall():
        history[ce_type][str(cid)] = n
    bundle_versions = +per_complaint(conn, "SELECT complaint_id, version - 1 FROM "
                                     "evidence.bundles WHERE complaint_id = ANY(%s::uuid[])", ids)
    plans = per_complaint(conn, "SELECT p.complaint_id, count(*) FROM resolution.proposals p "
                          "JOIN resolution.proposal_audit a ON a.proposal_id = p.id WHERE "
                          "a.action IN ('proposed', 'reproposed') AND p.complaint_id = "
                          "ANY(%s::uuid[]) GROUP BY 1", ids)
    sent = set()
    for name in SERVICES:
        sent |= {str(r[0]) for r in conn.execute(f"SELECT ce_id FROM {name}.outbox WHERE "
                                                 "sent_at IS NOT NULL")}
    stored_scans = conn.execute("SELECT count(*), count(DISTINCT scan_id) FROM evidence.scans "
                                "WHERE scan_id LIKE 'scan-%%'").fetchone()

    # ---- the topics, read to their end ----
    messages = stack.dump(TOPICS)
    events = collections.defaultdict(set)  # (key, ce_type) -> ce_ids; customer_notified by step
    alarms = collections.defaultdict(set)  # (clock id, clock, kind, level) -> ce_ids
    versions = collections.defaultdict(set)  # (complaint, bundle version) -> ce_ids
    for m in messages:
        ce_type, ce_id = m.headers.get("ce_type"), m.headers.get("ce_id")
        if ce_type == "cp.complaint.customer_notified":
            ce_type += "/" + stack.proto.FollowupEvent.FromString(m.value).step
        elif ce_type == "cp.complaint.evidence_updated":
            versions[(m.key, stack.proto.EvidenceBundle.FromString(m.value).version)].add(ce_id)
        elif ce_type in ("cp.complaint.sla_breached", "cp.complaint.sla_warning"):
            ev = stack.proto.SlaEvent.FromString(m.value)
            alarms[(m.key, ev.clock, ev.kind, ev.escalation_level)].add(ce_id)
        events[(m.key, ce_type)].add(ce_id)

    def announced(ce_type: str) -> collections.Counter:
        """{complaint: distinct events of ce_type on the topics} for every complaint with one."""
        return +collections.Counter({cid: len(events[(cid, ce_type)]) for cid in ids})

    def at_most(got: collections.Counter, ce_type: str) -> dict:
        """The complaints that have more rows than events of ce_type (applied twice)."""
        on_topic = announced(ce_type)
        return {cid: (n, on_topic[cid]) for cid, n in got.items() if n > on_topic[cid]}

    # ---- the relays: every sent outbox row is on its topic, every service's event is a row ----
    on_topics = {m.headers.get("ce_id") for m in messages}
    assert sent - on_topics == set(), "outbox rows marked sent that no topic holds"
    outboxes = set()
    for name in SERVICES:
        outboxes |= {str(r[0]) for r in conn.execute(f"SELECT ce_id FROM {name}.outbox")}
    made_here = {m.headers["ce_id"] for m in messages
                 if m.headers.get("ce_source", "").startswith("/cp/")}
    assert made_here - outboxes == set(), "events on the topics that no outbox holds"
    # ---- producers: one event per complaint and stage, one per change for the others ----
    for ce_type in ONCE:
        assert announced(ce_type) == each_once, ce_type
    assert announced("cp.complaint.customer_notified/received") == each_once
    assert announced("cp.complaint.evidence_updated") == bundle_versions
    assert {k: v for k, v in versions.items() if len(v) != 1} == {}, "a bundle version twice"
    assert announced(END) == plans, "plan announcements against resolution's audit"
    # ---- rows: one per complaint in each service's schema ----
    for what, got in one_row.items():
        assert got == each_once, (what, {k: v for k, v in got.items() if v != 1},
                                  len(ids) - len(got), "missing")
    # ---- consumers: each event applied once (intake's timeline, follow-up's case history);
    # the pipeline's all of them, the clocks' and escalations' (still coming) never twice ----
    for step, ce_type in TIMELINE.items():
        if ce_type in PIPELINE:
            assert timeline[step] == announced(ce_type), f"intake timeline {step}"
        assert at_most(timeline[step], ce_type) == {}, f"intake timeline {step} applied twice"
    assert history[END] == plans
    for ce_type, got in history.items():
        if ce_type == "cp.complaint.customer_notified":  # its own: one per notification
            continue
        if ce_type in PIPELINE:
            assert got == announced(ce_type), f"follow-up applied {ce_type}"
        assert at_most(got, ce_type) == {}, f"follow-up applied {ce_type} twice"
    # ---- scans: each acknowledged scan stored once (the resent ones too), nothing else ----
    assert stored_scans == (len(scans), len(scans))
    # ---- clocks: each short clock breached once at each level 1..3; no alarm of any clock
    # (the real complaints' promised updates too) announced twice ----
    for cid in clocks:
        levels = sorted(lvl for (key, clock, kind, lvl) in alarms
                        if key == cid and clock == "first_response" and kind == "breach")
        assert levels == [1, 2, 3], (cid, levels)
    assert {k: v for k, v in alarms.items() if len(v) != 1} == {}
    # ---- nothing was dead-lettered: the faults made no event unreadable ----
    assert [m for m in messages if m.topic == "complaint.deadletter.v1"] == []
    print(f"chaos: oracle held for {len(ids)} complaints, {len(clocks)} clocks, {len(scans)} "
          f"scans, {len(messages)} records; {time.monotonic() - t_start:.0f}s", flush=True)
