"""Foundation: a complaint posted over HTTP travels intake -> classification -> evidence ->
resolution -> follow-up on the real broker and PostgreSQL, one event per stage with the
CloudEvents headers, and no personal data in any Kafka payload or log."""

import json

from helpers import complaint, post, seen, wait_rows

STAGES = [
    ("complaint.received.v1", "cp.complaint.received"),
    ("complaint.classified.v1", "cp.complaint.classified"),
    ("complaint.evidence.v1", "cp.complaint.evidence_collected"),
    ("complaint.resolution.v1", "cp.complaint.resolution_proposed"),
    ("complaint.followup.v1", "cp.complaint.customer_notified"),
]
CE_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type")


def test_complaint_reaches_followup_with_one_event_per_stage(stack, http):
    body = complaint(complainant={"name": "李秘密", "phone": "13912345678"},
                     description="快递员态度差，打我电话13912345678也不接，李秘密很生气")
    with stack.consumer([t for t, _ in STAGES], from_beginning=False) as reader:
        r = post(http, stack, body)
        assert r.status_code == 201, r.text
        created = r.json()
        cid = created["complaint_id"]
        assert created["complaint_no"].startswith("CP")

        # one row in each service's own table
        wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s", (cid,))
        wait_rows(stack, "SELECT 1 FROM classification.classifications WHERE complaint_id = %s", (cid,))
        wait_rows(stack, "SELECT 1 FROM evidence.bundles WHERE complaint_id = %s", (cid,))
        wait_rows(stack, "SELECT 1 FROM resolution.proposals WHERE complaint_id = %s", (cid,))
        wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s "
                         "AND step = 'received'", (cid,))

        by_topic = {}
        for topic, ce_type in STAGES:
            msg = seen(reader, lambda m: m.topic == topic and m.key == cid
                       and m.headers.get("ce_type") == ce_type, timeout=30)
            by_topic[topic] = msg
        reader.collect(timeout=2)
        messages = reader.messages

    for topic, msg in by_topic.items():
        for h in CE_HEADERS:
            assert msg.headers.get(h), f"{topic} lacks header {h}"
        assert msg.headers["ce_specversion"] == "1.0"
        assert msg.headers["content-type"] == "application/protobuf"
        assert msg.headers["ce_source"].startswith("/cp/")

    # exactly one event per stage for this complaint (distinct ce_id); follow-up announces one
    # notification per step, so count its received step (the plan is told to the customer only
    # once a person approved it, which nobody does here)
    def step_of(m):
        if m.topic != "complaint.followup.v1":
            return None
        ev = stack.proto.FollowupEvent()
        ev.ParseFromString(m.value)
        return ev.step

    for topic, ce_type in STAGES:
        ids = {m.headers["ce_id"] for m in messages
               if m.topic == topic and m.key == cid and m.headers.get("ce_type") == ce_type
               and step_of(m) in (None, "received")}
        assert len(ids) == 1, (topic, ids)

    # the event decodes and carries a pseudonym, not the phone number
    received = stack.proto.ComplaintReceived()
    received.ParseFromString(by_topic["complaint.received.v1"].value)
    assert received.complaint_id == cid
    assert received.customer_ref.startswith("cust_")
    assert "13912345678" not in received.description_redacted
    assert "李秘密" not in received.description_redacted

    # no phone number or name anywhere in Kafka payloads or headers, nor in any service log
    for m in messages:
        blob = (m.value or b"") + json.dumps(m.headers, ensure_ascii=False).encode()
        assert b"13912345678" not in blob, m.topic
        assert "李秘密".encode() not in blob, m.topic
    for name in ("intake", "classification", "evidence", "resolution", "followup", "timer"):
        log = stack.logs(name)
        assert "13912345678" not in log, name
        assert "李秘密" not in log, name


def test_customer_sees_the_steps_of_the_case(stack, http):
    body = complaint()
    r = post(http, stack, body)
    assert r.status_code == 201, r.text
    no = r.json()["complaint_no"]
    wait_rows(stack, "SELECT 1 FROM intake.timeline t JOIN intake.complaints c ON c.id = "
                     "t.complaint_id WHERE c.complaint_no = %s AND t.step = 'plan_drafted'",
              (no,))
    view = http.get(f"{stack.base_url}/v1/complaints/{no}",
                    params={"phone": body["complainant"]["phone"]})
    assert view.status_code == 200, view.text
    case = view.json()
    steps = [s["step"] for s in case["timeline"]]
    assert steps[0] == "received"
    for step in ("classified", "first_response", "evidence_found"):
        assert step in steps, steps
    # the machine's draft plan is preparation for the owner: staff see it, the customer not
    assert "plan_drafted" not in steps
    assert case["complainant"]["phone"] != body["complainant"]["phone"]
    assert "****" in case["complainant"]["phone"]
