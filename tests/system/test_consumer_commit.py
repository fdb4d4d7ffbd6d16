"""A consumer that has caught up commits its offsets at once (common/consumer.c), not only at
the next auto commit: so a group's committed lag (what make bench and an operator's lag alert
read) says that everything is applied as soon as it is."""

from __future__ import annotations

import datetime
import subprocess
import sys

from evidence_helpers import scan, send
from helpers import waybill, wait_rows
from stack import wait_for

TRACKING = "parcel.tracking.v1"

# Run in a child process: a librdkafka client that outlives the broker can hang the
# interpreter's exit (see test_many_instances). Prints the group's lag on the topic.
LAG = """
import sys
from confluent_kafka import Consumer, TopicPartition
boot, group, topic = sys.argv[1:]
c = Consumer({"bootstrap.servers": boot, "group.id": group, "enable.auto.commit": False})
parts = [TopicPartition(topic, p) for p in c.list_topics(topic, timeout=10).topics[topic].partitions]
high = {p.partition: c.get_watermark_offsets(p, timeout=10, cached=False)[1] for p in parts}
print(sum(high[p.partition] - max(p.offset, 0) for p in c.committed(parts, timeout=10)))
c.close()
"""


def committed_lag(stack, group: str) -> int | None:
    try:
        out = subprocess.run([sys.executable, "-c", LAG, stack.bootstrap, group, TRACKING],
                             capture_output=True, text=True, timeout=30)
        return int(out.stdout)
    except (subprocess.TimeoutExpired, ValueError):
        return None


def test_a_caught_up_consumer_commits_its_offsets_without_the_auto_commit(stack):
    # the auto commit an hour away: only the caught-up commit can bring the lag to 0
    with stack.service_env("intake", KAFKA_CONSUMER_AUTO_COMMIT_INTERVAL_MS="3600000"):
        w = waybill()
        at = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
        send(stack, scan(stack, w, "picked_up", at), scan(stack, w, "arrived", at))
        wait_rows(stack, "SELECT 1 FROM intake.pickups WHERE waybill_no = %s", (w,))
        wait_for(lambda: committed_lag(stack, "cp-intake") == 0, 30,
                 "cp-intake's committed offsets at the end of parcel.tracking.v1", interval=0.5)
