"""The consumer's fast path (common/consumer.c): a batch's inbox claims and id<->number checks are
one statement each and its events are applied without a savepoint per event; should one of them
fail, the batch is rolled back and applied again the one-event way, each event under its own
savepoint. The outcome must be the same as applying the events one at a time: a colliding event
is dead-lettered alone (whichever batch it falls in), a redelivered event is applied once, and
the rest of the batch is applied."""

from __future__ import annotations

import uuid

from confluent_kafka import Producer

from helpers import waybill, wait_rows

DLQ = "complaint.deadletter.v1"
GROUPS = {"cp-classification", "cp-followup"}


def received(stack, cid: str, no: str):
    return stack.proto.ComplaintReceived(complaint_id=cid, complaint_no=no, channel="web",
                                         waybill_no=waybill(), language="zh-CN",
                                         customer_ref="cust_test0123456789abcdef",
                                         received_at="2026-11-24T10:00:00Z",
                                         description_redacted="包裹破损，杯子碎了")


def test_a_colliding_event_among_others_is_dead_lettered_alone_and_a_duplicate_applied_once(
        stack):
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    no, no3 = f"CPB-{first[:8]}", f"CPB-{third[:8]}"
    events = [(first, received(stack, first, no), stack.ce_headers("cp.complaint.received")),
              (second, received(stack, second, no), stack.ce_headers("cp.complaint.received")),
              (third, received(stack, third, no3), stack.ce_headers("cp.complaint.received"))]
    # the third again with the same CloudEvents id: a redelivery, in the same batch
    events.append((third, events[2][1], events[2][2]))
    # back to back, so the consumers most likely take them as one batch (the assertions hold
    # however the broker splits them)
    producer = Producer({"bootstrap.servers": stack.bootstrap, "enable.idempotence": True,
                         "linger.ms": 50})
    with stack.consumer(DLQ, from_beginning=False) as dlq:
        for key, msg, headers in events:
            producer.produce("complaint.received.v1", key=key, value=msg.SerializeToString(),
                             headers=list(headers.items()))
        assert producer.flush(30) == 0
        ids = {events[0][2]["ce_id"]: first, events[1][2]["ce_id"]: second}
        got = {}
        while not GROUPS <= set(got):
            m = dlq.poll_until(lambda m: m.headers.get("ce_id") in ids
                               and m.headers.get("dlq_group") in GROUPS
                               and m.headers.get("dlq_group") not in got, timeout=60)
            got[m.headers["dlq_group"]] = (ids[m.headers["ce_id"]], m.headers["dlq_reason"])
    # the first and the second disagree; whichever each consumer saw second is refused, the
    # other applied (two partitions need not keep their order between them)
    for group, (refused, reason) in got.items():
        kept = first if refused == second else second
        assert reason == (f"invalid event: complaint_no {no} belongs to complaint {kept}, "
                          f"not {refused}"), (group, reason)
    refused_by = {g: r for g, (r, _) in got.items()}
    wait_rows(stack, "SELECT 1 FROM classification.classifications WHERE complaint_id = %s",
              (third,))
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND received_at IS "
                     "NOT NULL", (third,))
    with stack.db() as db:
        kept = first if refused_by["cp-classification"] == second else second
        assert db.execute("SELECT complaint_id::text FROM classification.classifications "
                          "WHERE complaint_no = %s", (no,)).fetchall() == [(kept,)]
        kept = first if refused_by["cp-followup"] == second else second
        assert db.execute("SELECT complaint_id::text FROM followup.cases WHERE complaint_no = %s",
                          (no,)).fetchall() == [(kept,)]
        # the redelivered third was applied once: one history row, one classification event
        assert db.execute("SELECT count(*) FROM followup.case_events WHERE complaint_id = %s "
                          "AND ce_type = 'cp.complaint.received'", (third,)).fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM classification.outbox WHERE msg_key = %s AND "
                          "ce_type = 'cp.complaint.classified'", (third,)).fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM classification.inbox WHERE ce_id = %s",
                          (events[2][2]["ce_id"],)).fetchone()[0] == 1
