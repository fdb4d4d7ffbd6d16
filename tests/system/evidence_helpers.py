"""Helpers of the evidence system tests: tracking scans as carriers send them, bundles as the
evidence service announces them."""

from __future__ import annotations

import datetime
import itertools
import uuid

_scan_ids = itertools.count(1)


def iso(t: datetime.datetime) -> str:
    return t.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def ago(hours: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)


def scan(stack, waybill: str, code: str, at: datetime.datetime, **fields):
    """A TrackingEvent protobuf message; code is the short name (picked_up, arrived, ...)."""
    ev = stack.proto.TrackingEvent()
    ev.waybill_no = waybill
    ev.code = stack.proto.tracking_pb2.ScanCode.Value("SCAN_" + code.upper())
    ev.occurred_at = iso(at)
    ev.carrier = fields.pop("carrier", "SFX")
    ev.scan_id = fields.pop("scan_id", f"scan-{uuid.uuid4().hex[:12]}-{next(_scan_ids)}")
    for key, value in fields.items():
        setattr(ev, key, value)
    return ev


def send(stack, *scans):
    """Produces scans to parcel.tracking.v1 (key: waybill) as a carrier would."""
    for ev in scans:
        stack.produce("parcel.tracking.v1", ev.waybill_no, ev.SerializeToString(),
                      stack.ce_headers("cp.parcel.scanned", source="/carrier/sfx"))


def hub_delay_route(stack, waybill: str, stuck_hours: float = 32):
    """Picked up 3 days ago, held stuck_hours at sorting centre SC1, delivered after the promise."""
    t0 = ago(72)
    h = datetime.timedelta(hours=1)
    promised = t0 + 40 * h
    return [
        scan(stack, waybill, "picked_up", t0, facility_id="O1", facility_type="outlet",
             courier_id="C1", promised_by=iso(promised)),
        scan(stack, waybill, "departed", t0 + 2 * h, facility_id="O1", facility_type="outlet"),
        scan(stack, waybill, "arrived", t0 + 6 * h, facility_id="SC1",
             facility_type="sorting_centre"),
        scan(stack, waybill, "departed", t0 + (6 + stuck_hours) * h, facility_id="SC1",
             facility_type="sorting_centre"),
        scan(stack, waybill, "arrived", t0 + (12 + stuck_hours) * h, facility_id="O2",
             facility_type="outlet"),
        scan(stack, waybill, "delivered", t0 + (16 + stuck_hours) * h, facility_id="O2",
             facility_type="outlet", courier_id="C7", signed_by="recipient", pod_ref="PH-1"),
    ]


def bundle_of(stack, msg):
    b = stack.proto.EvidenceBundle()
    b.ParseFromString(msg.value)
    return b


def wait_bundle(stack, reader, complaint_id: str, ce_type: str, timeout: float = 30,
                version: int | None = None):
    """The next bundle event of the complaint with this ce_type (and version), decoded."""
    def match(m):
        if m.topic != "complaint.evidence.v1" or m.key != complaint_id:
            return False
        if m.headers.get("ce_type") != ce_type:
            return False
        return version is None or bundle_of(stack, m).version == version
    return bundle_of(stack, reader.poll_until(match, timeout=timeout))
