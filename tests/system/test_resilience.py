"""Foundation: the first-response SLA breach, a SIGKILL while complaints flow, and the
dead-letter topic."""

import time

from helpers import complaint, post, wait_rows


def test_first_response_breach_is_announced(stack, http):
    # Without classification nobody acknowledges the complaint: the 2 s clock must breach.
    stack.stop_service("classification")
    try:
        with stack.service_env("timer", SLA_FIRST_RESPONSE_SECONDS="2", TIMER_TICK_MS="100"):
            with stack.consumer("complaint.sla.v1", from_beginning=False) as reader:
                r = post(http, stack, complaint())
                assert r.status_code == 201, r.text
                cid = r.json()["complaint_id"]
                msg = reader.poll_until(lambda m: m.key == cid and m.headers.get("ce_type")
                                        == "cp.complaint.sla_breached", timeout=20)
        ev = stack.proto.SlaEvent()
        ev.ParseFromString(msg.value)
        assert ev.clock == "first_response"
        assert ev.kind == "breach"
        assert ev.escalation_level == 1
        assert ev.due_at
    finally:
        stack.start_service("classification")


def test_sigkill_mid_flow_still_delivers_every_complaint_exactly_once(stack, http):
    ids = []
    for i in range(30):
        r = post(http, stack, complaint())
        assert r.status_code == 201, r.text
        ids.append(r.json()["complaint_id"])
        if i == 10:
            stack.kill_service("evidence")
        if i == 20:
            stack.kill_service("resolution")
    stack.start_service("evidence")
    stack.start_service("resolution")
    rows = wait_rows(stack, "SELECT DISTINCT complaint_id FROM followup.case_events WHERE "
                            "complaint_id = ANY(%s::uuid[]) AND ce_type = "
                            "'cp.complaint.resolution_proposed'",
                     (ids,), count=len(ids), timeout=60)
    assert len(rows) == len(ids)
    conn = stack.db()
    # one evidence bundle and one proposal per complaint, never two
    for table in ("evidence.bundles", "resolution.proposals"):
        n = conn.execute(f"SELECT count(*), count(DISTINCT complaint_id) FROM {table} "
                         "WHERE complaint_id = ANY(%s::uuid[])", (ids,)).fetchone()
        assert n == (len(ids), len(ids)), (table, n)
    # follow-up applied each proposal once (its inbox), and it was announced once per
    # complaint (distinct ce_id) although resolution was killed mid-flow
    n = conn.execute("SELECT count(*) FROM followup.case_events WHERE complaint_id = "
                     "ANY(%s::uuid[]) AND ce_type = 'cp.complaint.resolution_proposed'",
                     (ids,)).fetchone()[0]
    assert n == len(ids)
    with stack.consumer("complaint.resolution.v1") as reader:
        reader.collect(timeout=3)
        per = {}
        for m in reader.messages:
            if m.key in ids and m.headers.get("ce_type") == "cp.complaint.resolution_proposed":
                per.setdefault(m.key, set()).add(m.headers["ce_id"])
    assert set(per) == set(ids)
    assert all(len(v) == 1 for v in per.values())


def test_malformed_events_go_to_the_dead_letter_topic_and_the_consumer_goes_on(stack, http):
    # Regression (found by the ASan layer): the dead-letter headers used the consumer group
    # name from a stack buffer of svc_main that had gone out of scope; run under the sanitizer
    # layer this test fails if that comes back.
    with stack.consumer("complaint.deadletter.v1", from_beginning=False) as dlq:
        bad_pb = stack.ce_headers("cp.complaint.received")
        stack.produce("complaint.received.v1", "bad-1", b"\xff\xff\xff\x01garbage", bad_pb)
        stack.produce("complaint.received.v1", "bad-2", b"\x0a\x03abc", {"x": "no ce headers"})
        got = {}
        for _ in range(2):
            m = dlq.poll_until(lambda m: m.key in ("bad-1", "bad-2") and m.key not in got,
                               timeout=20)
            got[m.key] = m
    assert "protobuf" in got["bad-1"].headers["dlq_reason"]
    assert got["bad-1"].headers["dlq_topic"] == "complaint.received.v1"
    assert got["bad-1"].headers["ce_id"] == bad_pb["ce_id"]
    assert "cloudevents" in got["bad-2"].headers["dlq_reason"]
    # the consumers carry on with the next, valid complaint
    r = post(http, stack, complaint())
    assert r.status_code == 201
    wait_rows(stack, "SELECT 1 FROM classification.classifications WHERE complaint_id = %s",
              (r.json()["complaint_id"],))
