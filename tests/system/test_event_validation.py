"""Semantic validation of events after decoding (common/evcheck.c, run by every consumer):
valid protobuf with priority -7, an unknown enum value 99, a negative amount of money or a
garbage timestamp is dead-lettered by every service that consumes it, with the reason, and
never applied or re-emitted; an event whose complaint number belongs to another complaint id
is caught before apply by the id<->number check."""

from __future__ import annotations

import uuid

from evidence_helpers import ago, scan
from helpers import waybill, wait_rows

DLQ = "complaint.deadletter.v1"


def dead_letters(dlq, ce_id: str, groups: set[str], timeout: float = 30) -> dict[str, str]:
    """group -> dlq_reason of the dead letters of ce_id, until every group in groups sent one."""
    got: dict[str, str] = {}
    while not groups <= set(got):
        m = dlq.poll_until(lambda m: m.headers.get("ce_id") == ce_id
                           and m.headers.get("dlq_group") not in got, timeout=timeout)
        got[m.headers["dlq_group"]] = m.headers["dlq_reason"]
    return got


def produce(stack, topic: str, ce_type: str, key: str, msg) -> str:
    headers = stack.ce_headers(ce_type)
    stack.produce(topic, key, msg.SerializeToString(), headers)
    return headers["ce_id"]


def test_priority_minus_seven_is_dead_lettered_by_every_consumer(stack):
    cid = str(uuid.uuid4())
    m = stack.proto.ComplaintClassified(complaint_id=cid, complaint_no=f"CPV-{cid[:8]}",
                                        waybill_no=waybill(), category="service",
                                        subcategory="damage", priority=-7, tier="standard",
                                        language="zh-CN", classified_at="2026-11-24T10:00:00Z")
    with stack.consumer(DLQ, from_beginning=False) as dlq:
        ce_id = produce(stack, "complaint.classified.v1", "cp.complaint.classified", cid, m)
        got = dead_letters(dlq, ce_id, {"cp-intake", "cp-evidence", "cp-resolution",
                                        "cp-followup", "cp-timer"})
    for group, reason in got.items():
        assert "invalid event: priority: -7 is out of range 0..5" == reason, (group, reason)
    with stack.db() as db:
        for table in ("resolution.cases", "followup.cases", "evidence.bundles", "timer.clocks"):
            n = db.execute(f"SELECT count(*) FROM {table} WHERE complaint_id = %s",
                           (cid,)).fetchone()[0]
            assert n == 0, table


def test_unknown_scan_code_99_is_dead_lettered_and_not_stored(stack):
    w = waybill()
    ev = scan(stack, w, "arrived", ago(1), facility_id="SC1", facility_type="sorting_centre")
    ev.code = 99  # valid protobuf: proto3 enums are open
    with stack.consumer(DLQ, from_beginning=False) as dlq:
        ce_id = produce(stack, "parcel.tracking.v1", "cp.parcel.scanned", w, ev)
        got = dead_letters(dlq, ce_id, {"cp-evidence", "cp-classification", "cp-intake"})
    assert all(r == "invalid event: code: 99 is not a known value" for r in got.values()), got
    with stack.db() as db:
        assert db.execute("SELECT count(*) FROM evidence.scans WHERE waybill_no = %s",
                          (w,)).fetchone()[0] == 0


def test_negative_money_is_dead_lettered(stack):
    cid = str(uuid.uuid4())
    remedy = stack.proto.Remedy(kind="compensation", amount=stack.proto.Money(
        amount_fen=-12000, currency="CNY"))
    m = stack.proto.ResolutionDecided(complaint_id=cid, complaint_no=f"CPV-{cid[:8]}",
                                      proposal_id=str(uuid.uuid4()), status="proposed",
                                      remedies=[remedy], decided_at="2026-11-24T10:00:00Z")
    with stack.consumer(DLQ, from_beginning=False) as dlq:
        ce_id = produce(stack, "complaint.resolution.v1", "cp.complaint.resolution_proposed",
                        cid, m)
        got = dead_letters(dlq, ce_id, {"cp-intake", "cp-followup"})
    for reason in got.values():
        assert reason == ("invalid event: remedies[0].amount.amount_fen: -12000 is out of "
                          "range 0..10000000000"), reason


def test_garbage_timestamps_are_dead_lettered_and_nothing_is_re_emitted(stack):
    """classification would classify a received complaint and emit cp.complaint.classified; an
    invalid one is refused before apply, so there is no row and no outbox event for it."""
    for garbage in ("2026-13-45T99:00:00Z", "yesterday", "1970-01-01T00:00:00Z"):
        cid = str(uuid.uuid4())
        m = stack.proto.ComplaintReceived(complaint_id=cid, complaint_no=f"CPV-{cid[:8]}",
                                          channel="web", waybill_no=waybill(),
                                          customer_ref="cust_test0123456789abcdef",
                                          language="zh-CN", received_at=garbage,
                                          description_redacted="包裹破损")
        with stack.consumer(DLQ, from_beginning=False) as dlq:
            ce_id = produce(stack, "complaint.received.v1", "cp.complaint.received", cid, m)
            got = dead_letters(dlq, ce_id, {"cp-classification", "cp-followup", "cp-timer"})
        for reason in got.values():
            assert reason == f"invalid event: received_at: '{garbage}' is not an RFC 3339 time"
        with stack.db() as db:
            assert db.execute("SELECT count(*) FROM classification.classifications WHERE "
                              "complaint_id = %s", (cid,)).fetchone()[0] == 0
            assert db.execute("SELECT count(*) FROM classification.outbox WHERE "
                              "msg_key = %s", (cid,)).fetchone()[0] == 0


def test_a_number_reused_under_another_id_is_caught_before_apply_everywhere(stack):
    """The same complaint number under a second complaint id: every projection that knows the
    first pair refuses the second before applying it (classification would otherwise classify
    it and carry the collision on in its own events)."""
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    no = f"CPV-{first[:8]}"

    def received(cid):
        m = stack.proto.ComplaintReceived(complaint_id=cid, complaint_no=no, channel="web",
                                          waybill_no=waybill(), language="zh-CN",
                                          customer_ref="cust_test0123456789abcdef",
                                          received_at="2026-11-24T10:00:00Z",
                                          description_redacted="包裹破损，杯子碎了")
        return produce(stack, "complaint.received.v1", "cp.complaint.received", cid, m)

    received(first)
    wait_rows(stack, "SELECT 1 FROM classification.classifications WHERE complaint_id = %s",
              (first,))
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s", (first,))
    with stack.consumer(DLQ, from_beginning=False) as dlq:
        ce_id = received(second)
        got = dead_letters(dlq, ce_id, {"cp-classification", "cp-followup"})
    for reason in got.values():
        assert reason == f"invalid event: complaint_no {no} belongs to complaint {first}, " \
                         f"not {second}", reason
    with stack.db() as db:
        assert db.execute("SELECT count(*) FROM classification.outbox WHERE msg_key = %s",
                          (second,)).fetchone()[0] == 0
