"""Two instances of every service against one broker and one database (issue 12): a stream of
complaints, scans and due clocks; one instance of each service is killed (SIGKILL) half-way.
Every complaint is classified once and reaches its offers, every clock fires once, each
service's outbox is relayed in its order, the consumer groups rebalance onto the survivors and
nothing is left unsent or unapplied."""

from __future__ import annotations

import collections
import datetime
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from evidence_helpers import scan, send
from helpers import complaint, post
from stack import SERVICES, bin_dir, free_ports, http_status, wait_for
from timer_helpers import classify, new_id, sla_event

CLASSIFIED = "complaint.classified.v1"
SLA = "complaint.sla.v1"
PER_HALF = 12
# consumers per instance where a service runs more than one (svc.c CONSUMER_PARALLEL, 2 more
# for evidence's parallel_topic)
PER_INSTANCE = {"evidence": 3}


# Run in a child process: a librdkafka admin client that outlives the broker (a failed test's
# traceback keeps its locals until the stack is gone) can hang the interpreter's exit.
DESCRIBE = """
import json, sys
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
out = {}
for group, fut in admin.describe_consumer_groups(sys.argv[2:], request_timeout=10).items():
    try:
        desc = fut.result()
    except KafkaException:
        out[group] = None
        continue
    out[group] = [sorted([tp.topic, tp.partition] for tp in m.assignment.topic_partitions)
                  for m in desc.members]
print(json.dumps(out))
"""


def group_members(stack) -> dict[str, list[set] | None]:
    """Each service's consumer group cp-<service>: the partitions of each member (None while
    the broker cannot say, e.g. its coordinator is moving)."""
    try:
        r = subprocess.run([sys.executable, "-c", DESCRIBE, stack.bootstrap,
                            *[f"cp-{s}" for s in SERVICES]], capture_output=True, text=True,
                           timeout=30)
        raw = json.loads(r.stdout)
    except (subprocess.TimeoutExpired, ValueError):
        return {s: None for s in SERVICES}
    return {g.removeprefix("cp-"): None if ms is None else [{tuple(tp) for tp in m} for m in ms]
            for g, ms in raw.items()}


@pytest.fixture
def second_instances(stack):
    """cp-<service> -b beside each of the stack's instances, each on its own port."""
    procs, logs = {}, []
    ports = dict(zip(SERVICES, free_ports(len(SERVICES))))
    try:
        for name in SERVICES:
            log = open(stack.state_dir / f"{name}-b.log", "a")
            logs.append(log)
            env = stack.env_for(name, HTTP_PORT=str(ports[name]), INSTANCE_ID=f"{name}-b")
            procs[name] = subprocess.Popen([str(bin_dir() / f"cp-{name}")], env=env,
                                           stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True)
            stack.adopt(f"{name}-b", procs[name])
        for name in SERVICES:
            url = f"http://127.0.0.1:{ports[name]}"
            wait_for(lambda: procs[name].poll() is not None or
                     http_status(f"{url}/readyz") == 200, 60, f"{name}-b ready")
            assert procs[name].poll() is None, f"{name}-b exited at start-up"
        yield procs, ports
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        for log in logs:
            log.close()


def test_two_instances_of_every_service_one_killed(stack, http, second_instances):
    procs, ports = second_instances
    # every service consumes (main.c hands svc_main its handlers): each group has two members
    # sharing its partitions, evidence two of each of its PER_INSTANCE consumers (the extra
    # ones take parcel.tracking.v1 alone, and there are more of them than its partitions)
    members = {}

    def split_between_two():
        members.update(group_members(stack))
        return all(m is not None and len(m) == 2 * PER_INSTANCE.get(s, 1) and
                   sum(1 for parts in m if parts) >= 2 for s, m in members.items())

    wait_for(split_between_two, 40, "every consumer group shared by two instances", interval=0.5)
    partitions = {s: set().union(*m) for s, m in members.items()}

    nos, clock_ids = [], []
    now = datetime.datetime.now(datetime.timezone.utc)

    def half(intake_urls):
        for i in range(PER_HALF):
            body = complaint()
            url = intake_urls[i % len(intake_urls)]
            r = http.post(f"{url}/v1/complaints", json=body,
                          headers={"Idempotency-Key": os.urandom(8).hex()})
            assert r.status_code == 201, r.text
            nos.append(r.json()["complaint_no"])
            send(stack, scan(stack, body["waybill_no"], "picked_up",
                             now - datetime.timedelta(hours=30)))
            # a clock that falls due in 3 s, fired by whichever timer claims it
            cid, no = new_id()
            clock_ids.append(cid)
            classify(stack, cid, no, durations=(3, 0, 0, 0), at=time.time())

    with stack.consumer([CLASSIFIED, SLA], from_beginning=False) as reader:
        half([stack.base_url, f"http://127.0.0.1:{ports['intake']}"])
        time.sleep(1)  # some work in flight on the instances about to die
        for name in SERVICES:
            procs[name].send_signal(signal.SIGKILL)
            procs[name].wait(10)
        half([stack.base_url])

        # the survivors take every partition (after the session timeout of the dead member)
        def rebalanced():
            now_members = group_members(stack)
            return all(m is not None and len(m) == PER_INSTANCE.get(s, 1) and
                       set().union(*m) == partitions[s] for s, m in now_members.items())

        wait_for(rebalanced, 40, "every partition on the surviving instances", interval=0.5)

        conn = stack.db()

        # nothing stuck: every complaint reached every service that builds on it
        def all_handled():
            ids = [r[0] for r in conn.execute("SELECT id FROM intake.complaints WHERE "
                                              "complaint_no = ANY(%s)", (nos,)).fetchall()]
            counts = [conn.execute(f"SELECT count(DISTINCT complaint_id) FROM {table} WHERE "
                                   "complaint_id = ANY(%s)", (ids,)).fetchone()[0]
                      for table in ("classification.classifications", "evidence.bundles",
                                    "timer.clocks", "followup.cases")]
            return len(ids) == len(nos) and counts == [len(nos)] * 4

        wait_for(all_handled, 40, "every complaint classified, with evidence, clocks and a case")

        def all_fired():
            reader.collect(timeout=0.3)
            fired = {m.key for m in reader.messages
                     if m.topic == SLA and m.headers.get("ce_type") == "cp.complaint.sla_breached"}
            return fired >= set(clock_ids)

        wait_for(all_fired, 30, "every clock's breach")

        def nothing_unsent():
            return sum(conn.execute(f"SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL")
                       .fetchone()[0] for s in SERVICES) == 0

        wait_for(nothing_unsent, 20, "every outbox relayed")
        reader.collect(timeout=2)  # a second copy of anything would arrive by now

    ids = dict(conn.execute("SELECT complaint_no, id::text FROM intake.complaints "
                            "WHERE complaint_no = ANY(%s)", (nos,)).fetchall())
    # classified once: one event (one ce_id; the relay may repeat a message, never make a second)
    classified = collections.defaultdict(set)
    for m in reader.messages:
        if m.topic == CLASSIFIED and m.headers.get("ce_type") == "cp.complaint.classified":
            classified[m.key].add(m.headers["ce_id"])
    for no in nos:
        assert len(classified[ids[no]]) == 1, (no, classified[ids[no]])
    rows = conn.execute("SELECT count(*), count(DISTINCT complaint_id) FROM "
                        "classification.classifications WHERE complaint_id = ANY(%s::uuid[])",
                        (list(ids.values()),)).fetchone()
    assert rows == (len(nos), len(nos))
    # every clock fired once per level: one breach event (a killed relay may publish the same
    # event again, with its ce_id, which consumers skip; never a second event)
    breaches = collections.defaultdict(set)
    for m in reader.messages:
        if m.key in clock_ids and m.headers.get("ce_type") == "cp.complaint.sla_breached":
            ev = sla_event(stack, m)
            breaches[(m.key, ev.clock, ev.escalation_level)].add(m.headers["ce_id"])
    assert {k for k in breaches if k[2] == 1} >= {(c, "first_response", 1) for c in clock_ids}
    assert {k: n for k, n in breaches.items() if len(n) != 1} == {}
    # classification's outbox relayed in its order: per complaint, the topic shows its events
    # in the order of the outbox rows that made them
    order = collections.defaultdict(list)
    for ce_id, key in conn.execute("SELECT ce_id::text, msg_key FROM classification.outbox "
                                   "WHERE topic = %s AND msg_key = ANY(%s) ORDER BY id",
                                   (CLASSIFIED, list(ids.values()))).fetchall():
        order[key].append(ce_id)
    seen = collections.defaultdict(list)
    for m in reader.messages:
        if m.topic == CLASSIFIED and m.key in order and m.headers["ce_id"] not in seen[m.key]:
            seen[m.key].append(m.headers["ce_id"])
    for key, ce_ids in order.items():
        assert seen[key] == ce_ids, key
    # the second intake answered half of the first half's requests
    b_log = (stack.state_dir / "intake-b.log").read_text(errors="replace")
    assert sum(f'"complaint_no":"{no}"' in b_log for no in nos[:PER_HALF]) == PER_HALF // 2
