"""Small helpers shared by the system tests: complaint bodies, polling the database."""

from __future__ import annotations

import contextlib
import itertools
import random
import time
import uuid

_counter = itertools.count(1)


def waybill() -> str:
    """A fresh, valid waybill number (never reused within a run)."""
    return f"SF{int(time.time() * 1000) % 10**9:09d}{next(_counter):03d}"


def phone() -> str:
    return f"139{random.randint(10**7, 10**8 - 1)}"


def complaint(**over) -> dict:
    body = {
        "channel": "web",
        "waybill_no": waybill(),
        "complainant": {"name": "王小明", "phone": phone(), "role": "recipient",
                        "language": "zh-CN"},
        "description": "包裹破损，外箱压坏了，里面的杯子碎了",
        "type": "damage",
        "impact": {"goods": ["other"], "declared_value_fen": 12000},
        "demand": ["compensation"],
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return body


def wait_rows(stack, sql: str, params=(), count: int = 1, timeout: float = 30.0):
    """Polls sql until it returns at least count rows; returns the rows."""
    deadline = time.monotonic() + timeout
    rows = []
    with stack.db() as conn:
        while time.monotonic() < deadline:
            rows = conn.execute(sql, params).fetchall()
            if len(rows) >= count:
                return rows
            time.sleep(0.1)
    shown = repr(params)
    shown = shown if len(shown) < 300 else shown[:300] + "..."
    raise AssertionError(f"{sql!r} {shown} returned {len(rows)} rows, wanted {count}, "
                         f"within {timeout}s")


def post(http, stack, body: dict, **headers):
    return http.post(stack.base_url + "/v1/complaints", json=body,
                     headers={"Idempotency-Key": str(uuid.uuid4()), **headers})


def seen(reader, predicate, timeout: float = 30.0):
    """The first message matching predicate among those the reader already read, else the next
    one it reads: events of different topics arrive in any order, so a test waiting for them in
    pipeline order must not lose the ones it read past."""
    for msg in reader.messages:
        if predicate(msg):
            return msg
    return reader.poll_until(predicate, timeout=timeout)


def dead_letter_reasons(dlq, refused, group: str) -> dict:
    """The first line of the dead-letter reason of each event id in refused, as group's consumer
    gave it (dlq: a TopicReader on complaint.deadletter.v1)."""
    reasons = {}
    while set(reasons) != set(refused):
        m = dlq.poll_until(lambda m: m.headers.get("ce_id") in refused
                           and m.headers.get("dlq_group") == group
                           and m.headers.get("ce_id") not in reasons, timeout=60)
        reasons[m.headers["ce_id"]] = m.headers["dlq_reason"].split("\n")[0]
    return reasons


# Run in a child process: a librdkafka client that outlives the broker can hang the
# interpreter's exit (see test_many_instances). Prints the group's lag over the topics.
_LAG = """
import sys
from confluent_kafka import Consumer, TopicPartition
boot, group, topics = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
c = Consumer({"bootstrap.servers": boot, "group.id": group, "enable.auto.commit": False})
lag = 0
for topic in topics:
    parts = [TopicPartition(topic, p)
             for p in c.list_topics(topic, timeout=10).topics[topic].partitions]
    high = {p.partition: c.get_watermark_offsets(p, timeout=10, cached=False)[1] for p in parts}
    lag += sum(high[p.partition] - max(p.offset, 0) for p in c.committed(parts, timeout=10))
print(lag)
c.close()
"""


def committed_lag(stack, group: str, topics) -> int | None:
    """The consumer group's committed lag summed over topics (a consumer stores an offset only
    after the event's transaction committed), None when it could not be read."""
    import subprocess
    import sys
    try:
        out = subprocess.run([sys.executable, "-c", _LAG, stack.bootstrap, group,
                              ",".join([topics] if isinstance(topics, str) else topics)],
                             capture_output=True, text=True, timeout=30)
        return int(out.stdout)
    except (subprocess.TimeoutExpired, ValueError):
        return None


@contextlib.contextmanager
def refusing(stack, table: str, check: str, service: str, stopped=()):
    """The set tests' poison: while the block runs, PostgreSQL refuses the rows of `table` that
    fail `check` (a CHECK constraint) and the services in `stopped` are stopped (they would
    answer the test's events with their own). Afterwards the constraint is dropped, `service`
    runs again with its start-of-session environment (a run leaves it stopped or with its own
    overrides) and the stopped ones start again."""
    constraint = f"test_refuses_{uuid.uuid4().hex[:8]}"
    with stack.db() as db:
        db.execute(f"ALTER TABLE {table} ADD CONSTRAINT {constraint} CHECK ({check})")
    for name in stopped:
        stack.stop_service(name)
    try:
        yield
    finally:
        with stack.db() as db:
            db.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint}")
        if stack.is_running(service):
            stack.restart_service(service)
        else:
            stack.start_service(service)
        for name in stopped:
            stack.start_service(name)


class SetRun:
    """The base of a set test's run (one backlog): a subclass sets `stack`, `source` (the
    run's CloudEvents source), `ids` (complaint ids by label), `fresh` (a set) and `refused`
    (a dict) in its __init__."""

    def send(self, topic, ce_type, label, msg, ce_id=None, good=True):
        """Produces msg keyed by the label's complaint; a good event is expected applied
        (fresh), another refused (dead-lettered under its label)."""
        ce_id = ce_id or str(uuid.uuid4())
        (self.fresh.add(ce_id) if good else self.refused.__setitem__(ce_id, label))
        self.stack.produce(topic, self.ids[label], msg.SerializeToString(),
                           self.stack.ce_headers(ce_type, source=self.source, id=ce_id))
        return ce_id
