"""A consumer that has caught up commits its offsets at once (common/consumer.c), not only at
the next auto commit: so a group's committed lag (what make bench and an operator's lag alert
read) says that everything is applied as soon as it is."""

from __future__ import annotations

import datetime

from evidence_helpers import scan, send
from helpers import committed_lag, waybill, wait_rows
from stack import wait_for

TRACKING = "parcel.tracking.v1"

def test_a_caught_up_consumer_commits_its_offsets_without_the_auto_commit(stack):
    # the auto commit an hour away: only the caught-up commit can bring the lag to 0
    with stack.service_env("intake", KAFKA_CONSUMER_AUTO_COMMIT_INTERVAL_MS="3600000"):
        w = waybill()
        at = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
        send(stack, scan(stack, w, "picked_up", at), scan(stack, w, "arrived", at))
        wait_rows(stack, "SELECT 1 FROM intake.pickups WHERE waybill_no = %s", (w,))
        wait_for(lambda: committed_lag(stack, "cp-intake", TRACKING) == 0, 30,
                 "cp-intake's committed offsets at the end of parcel.tracking.v1", interval=0.5)
