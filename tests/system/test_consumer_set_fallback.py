"""A set that fails falls back to the one-event path for ITS events only (common/consumer.c
consumer_apply_set). A batch may hold two sets of one handler: an event that waits for an
earlier event of another handler about the same complaint joins a later set, while the events
after it that do not wait were applied in the first. When that later set fails, the events of
the first set must not be applied a second time (once they were: each then counted as a
duplicate, or, for a handler without inbox rows, written twice).

The timer's classifications are a set-capable handler; an assignment (another handler on the
same topic) makes the next classification of its complaint wait. The timer is stopped while the
backlog is produced, all of it to one partition so the batch keeps the produced order."""

import datetime
import uuid

import requests

from helpers import wait_rows

DLQ = "complaint.deadletter.v1"
TOPIC = "complaint.classified.v1"
POLICY = dict(sla_policy="fallback-p1", first_response_s=3600, verification_s=7200,
              resolution_s=86400, regulatory_s=172800, accept_s=300, whole_cycle_s=259200)


def _metric(stack, name):
    text = requests.get(stack.service_url("timer") + "/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") and f'topic="{TOPIC}"' in line)


def test_a_failing_later_set_applies_only_its_own_events_again(stack):
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    at = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    source = f"/test/fallback-{uuid.uuid4().hex[:8]}"
    ids = {k: str(uuid.uuid4()) for k in "AHIJ"}
    nos = {k: f"CPF{ids[k][:8]}" for k in "AHIJ"}
    sent = []

    def send(ce_type, label, msg, no=None):
        ce_id = str(uuid.uuid4())
        sent.append(ce_id)
        stack.produce(TOPIC if ce_type != "cp.complaint.received" else "complaint.received.v1",
                      ids[label], msg.SerializeToString(),
                      stack.ce_headers(ce_type, source=source, id=ce_id), partition=0)
        return ce_id

    def classified(label, no=None):
        ev = stack.proto.ComplaintClassified(
            complaint_id=ids[label], complaint_no=no or nos[label], classified_at=at,
            category="service", subcategory="damage", tier="standard", priority=3, **POLICY)
        return send("cp.complaint.classified", label, ev)

    def backlog(produce, fresh):
        stack.stop_service("timer")
        produce()
        stack.start_service("timer", **dict(stack._start_env["timer"], CONSUMER_SET_APPLY="true",
                                            CONSUMER_BATCH_WAIT_MS="300"))
        wait_rows(stack, "SELECT 1 FROM timer.inbox WHERE ce_source = %s", (source,),
                  count=fresh, timeout=60)

    # no real classification joins the backlog
    stack.stop_service("classification")
    try:
        with stack.consumer(DLQ, from_beginning=False) as dlq:
            # A: a complaint with clocks, whose number I's classification will name
            backlog(lambda: (send("cp.complaint.received", "A", stack.proto.ComplaintReceived(
                complaint_id=ids["A"], complaint_no=nos["A"], channel="web", waybill_no="",
                customer_ref="cust_settest", role="recipient", type=1, language="zh-CN",
                description_redacted="包裹破损", received_at=at)), classified("A")), 2)

            def second():
                classified("H")  # the first set begins
                send("cp.complaint.assigned", "I", stack.proto.ComplaintAssignment(
                    complaint_id=ids["I"], complaint_no=nos["I"], action="accepted",
                    owner_staff_id="staff-fallback", round=1, at=at))
                bad = classified("I", no=nos["A"])  # waits for the assignment; collides
                classified("J")  # does not wait: in the first set, after I in the batch
                return bad

            refused = []
            backlog(lambda: refused.append(second()), 2 + 3)
            m = dlq.poll_until(lambda m: m.headers.get("ce_id") == refused[0]
                               and m.headers.get("dlq_group") == "cp-timer", timeout=60)
            reason = m.headers["dlq_reason"]
            sets = _metric(stack, "cp_consumer_set_events_total")
            fallbacks = _metric(stack, "cp_consumer_set_fallbacks_total")
            duplicates = _metric(stack, "cp_duplicates_total")
    finally:
        if not stack.is_running("timer"):
            stack.start_service("timer", **stack._start_env["timer"])
        else:
            stack.restart_service("timer")
        stack.start_service("classification", **stack._start_env["classification"])
    assert reason == (f"invalid event: complaint_no {nos['A']} belongs to complaint "
                      f"{ids['A']}, not {ids['I']}"), reason
    # H and J as the first set, I alone as the second, which fell back; J was not applied
    # again (nothing of this batch had been applied before it)
    assert (sets, fallbacks, duplicates) == (2, 1, 0), (sets, fallbacks, duplicates)
    with stack.db() as db:
        got = db.execute("SELECT complaint_id::text, count(*) FROM timer.clocks WHERE "
                         "complaint_id = ANY(%s::uuid[]) GROUP BY 1",
                         ([ids[k] for k in "HIJ"],)).fetchall()
    assert {i for i, _ in got} == {ids["H"], ids["J"]}, got
