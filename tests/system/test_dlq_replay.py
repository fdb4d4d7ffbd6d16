"""cp-admin dlq list and replay: an operator sees why events were dead-lettered and sends them
back to their topic, fixed (--value-file) or as they were; each event is replayed once however
many services dead-lettered it, and an event that is still invalid is dead-lettered again."""

from __future__ import annotations

import json
import os
import subprocess

from evidence_helpers import ago, scan
from helpers import waybill, wait_rows
from stack import bin_dir

DLQ = "complaint.deadletter.v1"


def admin(stack, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
           "ADMIN_DATABASE_URL": stack.admin_url}
    return subprocess.run([str(bin_dir() / "cp-admin"), "dlq", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def listed(stack, *args: str) -> list[dict]:
    r = admin(stack, "list", *args)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def dead_lettered(stack, dlq, ce_id: str, groups: set[str]):
    got = set()
    while not groups <= got:
        m = dlq.poll_until(lambda m: m.headers.get("ce_id") == ce_id, timeout=30)
        got.add(m.headers["dlq_group"])


def test_list_shows_the_reason_and_replay_brings_a_fixed_event_back(stack, tmp_path):
    w = waybill()
    bad = scan(stack, w, "arrived", ago(1), facility_id="SC9", facility_type="sorting_centre")
    bad.code = 99
    headers = stack.ce_headers("cp.parcel.scanned", source="/carrier/sfx")
    with stack.consumer(DLQ, from_beginning=False) as dlq:
        stack.produce("parcel.tracking.v1", w, bad.SerializeToString(), headers)
        dead_lettered(stack, dlq, headers["ce_id"], {"cp-evidence", "cp-classification"})
    mine = [d for d in listed(stack, "--topic", "parcel.tracking.v1")
            if d["ce_id"] == headers["ce_id"]]
    assert {d["dlq_group"] for d in mine} >= {"cp-evidence", "cp-classification"}
    assert all(d["dlq_reason"] == "invalid event: code: 99 is not a known value" for d in mine)
    assert all("value" not in d for d in mine)

    # as it was: still invalid, dead-lettered again (and only once per service, though several
    # services dead-lettered it)
    with stack.consumer(DLQ, from_beginning=False) as dlq:
        r = admin(stack, "replay", headers["ce_id"])
        assert r.returncode == 0, r.stderr
        assert "1 dead letter(s) replayed" in r.stderr
        dead_lettered(stack, dlq, headers["ce_id"], {"cp-evidence"})
    with stack.db() as db:
        assert db.execute("SELECT count(*) FROM evidence.scans WHERE waybill_no = %s",
                          (w,)).fetchone()[0] == 0

    # fixed by the operator: the corrected protobuf replaces the payload and is applied
    bad.code = stack.proto.tracking_pb2.ScanCode.Value("SCAN_ARRIVED")
    fixed = tmp_path / "fixed.pb"
    fixed.write_bytes(bad.SerializeToString())
    first = mine[0]
    r = admin(stack, "replay", f"{first['partition']}:{first['offset']}", "--value-file",
              str(fixed))
    assert r.returncode == 0, r.stderr
    rows = wait_rows(stack, "SELECT code FROM evidence.scans WHERE waybill_no = %s", (w,))
    assert len(rows) == 1


def test_replay_refuses_an_unselected_run_and_dry_run_changes_nothing(stack):
    r = admin(stack, "replay")
    assert r.returncode == 2 and "usage" in r.stderr
    r = admin(stack, "replay", "--all", "--value-file", "/dev/null")
    assert r.returncode == 2  # a fix replaces exactly one event's payload
    before = len(listed(stack))
    r = admin(stack, "replay", "--all", "--dry-run")
    assert r.returncode == 0 and "would be replayed" in r.stderr
    assert len(listed(stack)) == before
    r = admin(stack, "replay", "9:999999999")
    assert r.returncode == 1 and "nothing matched" in r.stderr
