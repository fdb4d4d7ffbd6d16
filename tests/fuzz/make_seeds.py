"""Writes the seed corpora of the libFuzzer targets (tests/fuzz/corpus/<target>/). Run once when
a target or an event type is added; the files are committed (the fuzzer starts from them).

    PYTHONPATH=build/gen/py python3 tests/fuzz/make_seeds.py
"""

import json
import pathlib

import classification_pb2 as cl
import common_pb2 as co
import evidence_pb2 as ev
import followup_pb2 as fu
import intake_pb2 as it
import resolution_pb2 as re_
import sla_pb2 as sl
import tracking_pb2 as tr

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"
CID = "6f1c2a10-1111-4222-8333-944455556666"
AT = "2026-11-24T10:00:00.123Z"


def write(target: str, name: str, data: bytes):
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# the order of fuzz_types in fuzz_evcheck.c
EVENTS = [
    it.ComplaintReceived(complaint_id=CID, complaint_no="CP20261124-7K3M9QXA", channel="web",
                         waybill_no="SF1234567890", customer_ref="cust_0123456789abcdef01234567",
                         received_at=AT, description_redacted="包裹破损 [phone]",
                         impact=it.Impact(goods=["other"], declared_value_fen=12000)),
    it.ComplaintMessageAdded(complaint_id=CID, complaint_no="CP1", kind="repeat", added_at=AT),
    cl.ComplaintClassified(complaint_id=CID, complaint_no="CP1", priority=2, resolution_s=259200,
                           classified_at=AT, keywords=["破损"]),
    cl.ComplaintAssignment(complaint_id=CID, complaint_no="CP1", action="offered", round=1,
                           staff_ids=["ag1"], at=AT, escalation_level=1),
    cl.FirstResponse(complaint_id=CID, complaint_no="CP1", next_update_by=AT, at=AT),
    ev.EvidenceBundle(complaint_id=CID, complaint_no="CP1", version=2, collected_at=AT,
                      findings=[ev.Finding(kind="stuck", seconds=3600)],
                      trajectory=[ev.TrajectoryPoint(occurred_at=AT, code="arrived")],
                      responsibility=ev.Responsibility(stage="sorting", confidence_pct=80)),
    ev.EvidenceRequest(request_id="r1", complaint_id=CID, due_at=AT),
    re_.ResolutionDecided(complaint_id=CID, complaint_no="CP1", decided_at=AT,
                          remedies=[re_.Remedy(kind="compensation", amount=co.Money(
                              amount_fen=12000, currency="CNY"))]),
    re_.ExecutionRequest(execution_id="e1", complaint_id=CID, kind="payout"),
    re_.ExecutionResult(execution_id="e1", complaint_id=CID, status="confirmed", at=AT),
    fu.FollowupEvent(complaint_id=CID, complaint_no="CP1", step="closed", at=AT, survey_score=5),
    sl.SlaEvent(complaint_id=CID, complaint_no="CP1", clock="accept", kind="breach", due_at=AT,
                used_s=100, escalation_level=2),
    tr.TrackingEvent(waybill_no="SF1234567890", code=tr.SCAN_ARRIVED, occurred_at=AT,
                     location=co.GeoPoint(lat=22.5, lon=114.1)),
    tr.ParcelException(waybill_no="SF1234567890", kind="stuck", stuck_seconds=7200,
                       raised_at=AT),
]


def headers(pairs: list[tuple[str, str]], payload: bytes) -> bytes:
    out = bytes([len(pairs)])
    for name, value in pairs:
        out += bytes([len(name)]) + name.encode() + bytes([len(value.encode())]) + value.encode()
    return out + payload


def main():
    for i, msg in enumerate(EVENTS):
        write("fuzz_evcheck", f"{i:02d}_{type(msg).__name__}", bytes([i]) + msg.SerializeToString())
    write("fuzz_evcheck", "bad_priority",
          bytes([2]) + cl.ComplaintClassified(complaint_id=CID, priority=-7).SerializeToString())
    binary = [("ce_specversion", "1.0"), ("ce_id", "e-1"), ("ce_source", "/carrier/sfx"),
              ("ce_type", "cp.parcel.scanned"), ("ce_time", AT),
              ("content-type", "application/protobuf; charset=binary")]
    write("fuzz_ce_headers", "binary", headers(binary, EVENTS[12].SerializeToString()))
    write("fuzz_ce_headers", "binary_no_time", headers(binary[:4] + binary[5:], b"\x0a\x01x"))
    envelope = {"specversion": "1.0", "id": "e-2", "source": "/carrier/sfx",
                "type": "cp.parcel.scanned", "time": AT, "datacontenttype": "application/protobuf",
                "data_base64": "CgxTRjEyMzQ1Njc4OTA="}
    write("fuzz_ce_headers", "structured",
          headers([("content-type", "application/cloudevents+json; charset=UTF-8")],
                  json.dumps(envelope).encode()))
    for i, s in enumerate(["2026-11-24T10:00:00Z", "2026-11-24T10:00:00.123+08:00",
                           "2024-02-29T23:59:59-05:30", "2026-02-31T00:00:00Z",
                           "1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"]):
        write("fuzz_tstamp", f"t{i}", s.encode())
    body = {"channel": "web", "waybill_no": "SF1234567890",
            "complainant": {"name": "王小明", "phone": "13800138000", "role": "recipient",
                            "language": "zh-CN"},
            "description": "包裹破损，请回电 138.0013.8000 或 １３８００１３８０００",
            "type": "damage", "impact": {"goods": ["other"], "declared_value_fen": 12000},
            "demand": ["compensation"], "target": {"kind": "courier", "id": "C-\"7\""}}
    write("fuzz_intake_request", "complaint", json.dumps(body, ensure_ascii=False).encode())
    write("fuzz_intake_request", "phone", b"+86 138-0013-8000")
    write("fuzz_intake_request", "empty_object", b"{}")


if __name__ == "__main__":
    main()
