"""A consumer stuck on one batch raises the alarm: /readyz's body says it is stalled, with the
reason, once the batch has been held longer than CONSUMER_STALL_SECONDS (still 200: requests do
not pass through the consumer, and a stall in every replica must not take the API away), cp_consumer_stalled_seconds and
cp_consumer_batch_retries_total say so on /metrics (promtool-clean), cp_consumer_lag counts the
held events, and all of it clears when the database lets the batch through. Before, intake's
consumer retried one batch for ever on a connection it could not use while /readyz said 200 and
no metric said "stuck".

The fault is real PostgreSQL refusing intake's statements: an operator revokes intake's INSERT
on its inbox (SQLSTATE 42501, retried: the grant is the operator's to fix, and before, every
event was dead-lettered after three tries), then grants it back."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid

import pytest
import requests
from confluent_kafka.admin import AdminClient

from helpers import wait_rows
from stack import StackError, wait_for

PROMTOOL = shutil.which("promtool")



def sample(text: str, name: str, group: str) -> float | None:
    m = re.search(rf'^{name}{{group="{group}"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else None


def classified_lag(text: str) -> float:
    """intake's largest cp_consumer_lag over the partitions of complaint.classified.v1."""
    return max(float(v) for v in re.findall(
        r'^cp_consumer_lag\{topic="complaint\.classified\.v1",partition="\d+"\} (\S+)$', text,
        re.M))


def produce_classified(stack, cid: str) -> str:
    ce_id = str(uuid.uuid4())
    m = stack.proto.ComplaintClassified(complaint_id=cid, complaint_no=f"CPS{uuid.uuid4().hex[:9]}",
                                        waybill_no=f"SF{uuid.uuid4().int % 10**12:012d}",
                                        category="transport", subcategory="delay",
                                        tier="standard", priority=3, language="zh-CN",
                                        customer_ref="cust_test0123456789abcdef")
    stack.produce("complaint.classified.v1", cid, m.SerializeToString(),
                  stack.ce_headers("cp.complaint.classified", id=ce_id))
    return ce_id


def test_a_consumer_stuck_on_its_batch_says_why_and_stays_ready(stack, http):
    url = stack.service_url("intake")
    with stack.service_env("intake", CONSUMER_STALL_SECONDS="2"):
        ready = http.get(f"{url}/readyz")
        assert ready.status_code == 200 and ready.json()["consumer"] == "ok", ready.text
        db = stack.db()
        with stack.consumer("complaint.deadletter.v1", from_beginning=False) as letters:
            db.execute("REVOKE INSERT ON intake.inbox FROM intake")
            try:
                ce_id = produce_classified(stack, str(uuid.uuid4()))
                wait_for(lambda: http.get(f"{url}/readyz").json()["consumer"] == "stalled", 60,
                         "intake's /readyz names the stall while its consumer cannot apply")
                ready = http.get(f"{url}/readyz")
                body = ready.json()
                # still ready: the API does not go through the consumer
                assert ready.status_code == 200 and body["status"] == "ready", body
                # PostgreSQL and Kafka answer: the consumer alone is the reason
                assert (body["postgres"], body["kafka"]) == ("up", "up"), body
                assert "cp-intake" in body["reason"] and "42501" in body["reason"], body
                assert body["consumer_stalled_seconds"] > 2, body
                text = http.get(f"{url}/metrics").text
                assert sample(text, "cp_consumer_stalled_seconds", "cp-intake") > 2
                assert sample(text, "cp_consumer_batch_retries_total", "cp-intake") >= 1
                # the lag counts the held event: set only when a batch was polled, it said 0
                # (the consumer had caught up when it took the batch) while the event waited
                assert classified_lag(text) >= 1, text
                if PROMTOOL:
                    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                                             capture_output=True, text=True, timeout=30)
                    assert checked.returncode == 0 and not checked.stdout.strip(), \
                        checked.stdout + checked.stderr
                wait_for(lambda: any(r.get("event") == "consumer_stalled"
                                     for r in stack.log_records("intake")), 30,
                         "consumer_stalled logged")
            finally:
                db.execute("GRANT INSERT ON intake.inbox TO intake")
            # nothing was dead-lettered for a grant the operator took away
            assert not [m for m in letters.collect(timeout=2)
                        if m.headers.get("ce_id") == ce_id], "dead-lettered"
        # the database lets the batch through: applied once, ready again, the gauge back to 0
        wait_rows(stack, "SELECT 1 FROM intake.inbox WHERE ce_id = %s", (ce_id,), timeout=60)
        wait_for(lambda: http.get(f"{url}/readyz").json()["consumer"] == "ok", 60,
                 "intake's consumer ok again")
        wait_for(lambda: sample(http.get(f"{url}/metrics").text, "cp_consumer_stalled_seconds",
                                "cp-intake") == 0, 30, "stall gauge back to 0")
        # waited for, not read once: in a whole-suite run other services' events on the topic
        # can be in flight at that instant (a fresh clone read 2)
        wait_for(lambda: classified_lag(http.get(f"{url}/metrics").text) == 0, 30,
                 "the held batch's lag back to 0")
        wait_for(lambda: any(r.get("event") == "consumer_recovered"
                             for r in stack.log_records("intake")), 30, "consumer_recovered logged")


@pytest.mark.parametrize("name", ["evidence", "timer"])
def test_readyz_says_whether_the_consumer_applies(stack, http, name):
    # evidence's several consumers of its group are watched together; every service with a
    # consumer reports it
    body = http.get(f"{stack.service_url(name)}/readyz").json()
    assert body["consumer"] == "ok" and body["consumer_stalled_seconds"] >= 0, body


# intake's topics: 7, of 3 partitions each on the test broker (6 in the chart)
INTAKE_TOPICS = ("parcel.exception.v1", "parcel.tracking.v1", "complaint.classified.v1",
                 "complaint.evidence.v1", "complaint.resolution.v1", "complaint.followup.v1",
                 "complaint.sla.v1")


def partition_lag(text: str, topic: str, partition: int) -> float | None:
    m = re.search(rf'^cp_consumer_lag{{topic="{re.escape(topic)}",partition="{partition}"}} '
                  r'(\S+)$', text, re.M)
    return float(m.group(1)) if m else None


def test_a_stalled_batch_counts_the_lag_of_every_partition_it_holds(make_stack):
    """The held batch's partitions were kept in a list of 16: a batch over more of them (intake
    alone reads 21 partitions here, 42 in the chart) left the lag of the others uncounted while
    their events waited behind the stalled batch. A stack of its own: the events that fill
    every partition are not events (each service dead-letters them)."""
    s = make_stack(intake={"CONSUMER_BATCH_WAIT_MS": "1000"})  # one batch takes them all
    try:
        topics = AdminClient({"bootstrap.servers": s.bootstrap}).list_topics(timeout=10).topics
        db = s.db()
        s.stop_service("intake")
        db.execute("REVOKE INSERT ON intake.inbox FROM intake")
        produce_classified(s, str(uuid.uuid4()))  # its inbox claim is refused: the batch stalls
        held = [(t, p) for t in INTAKE_TOPICS for p in sorted(topics[t].partitions)]
        assert len(held) > 16, held
        for topic, partition in held:
            s.produce(topic, b"filler", b"not an event", partition=partition)
        s.start_service("intake", **s._start_env["intake"])
        url = s.service_url("intake")

        left = list(held)

        def counted() -> bool:
            text = requests.get(f"{url}/metrics", timeout=10).text
            left[:] = [tp for tp in held if (partition_lag(text, *tp) or 0) < 1]
            return not left

        try:
            wait_for(counted, 60, "the lag of every partition of the held batch")
        except StackError as e:
            raise AssertionError(f"{e}; uncounted: {left}") from None
        db.execute("GRANT INSERT ON intake.inbox TO intake")
    finally:
        s.close()
