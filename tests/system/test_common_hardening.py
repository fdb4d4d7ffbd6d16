"""Regressions of issue 13's code defects that need the real stack: a complaint target whose id
holds a quote and a backslash is stored and shown intact (snprintf built invalid JSON and the
request failed with 503); cp-admin migrate refuses an applied migration whose file was edited
(without checksums the edit was skipped without a word); carriers' tracking events are accepted
as the CloudEvents Kafka binding allows (no ce_time, content-type parameters, structured mode)
instead of being dead-lettered."""

import base64
import json
import os
import uuid
import shutil
import subprocess

from evidence_helpers import ago, scan
from helpers import complaint, post, waybill, wait_rows
from stack import ROOT, bin_dir

ODD_ID = 'C-"7"\\x'


def test_target_id_with_quote_and_backslash_is_stored_and_shown_intact(stack, http):
    r = post(http, stack, complaint(target={"kind": "courier", "id": ODD_ID}))
    assert r.status_code == 201, r.text
    no = r.json()["complaint_no"]
    rows = wait_rows(stack, "SELECT target->>'kind', target->>'id' FROM intake.complaints "
                            "WHERE complaint_no = %s", (no,))
    assert rows[0] == ("courier", ODD_ID)
    view = http.get(f"{stack.base_url}/v1/staff/complaints/{no}", headers=stack.auth("supervisor"))
    assert view.status_code == 200, view.text
    assert view.json()["target"] == {"kind": "courier", "id": ODD_ID}


def _migrate(stack, migrations_dir):
    env = {"PATH": os.environ.get("PATH", ""), "ADMIN_DATABASE_URL": stack.admin_url,
           "MIGRATIONS_DIR": str(migrations_dir)}
    return subprocess.run([str(bin_dir() / "cp-admin"), "migrate"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_migration_edited_after_apply_is_refused(stack, tmp_path):
    sql = tmp_path / "sql"
    shutil.copytree(ROOT / "deploy" / "sql", sql)
    with stack.db() as db:
        # as if these two had been applied before checksums existed: filled on the next run
        db.execute("UPDATE public.schema_migrations SET sha256 = NULL WHERE name IN "
                   "(SELECT name FROM public.schema_migrations ORDER BY name LIMIT 2)")
    done = _migrate(stack, sql)
    assert done.returncode == 0, done.stdout + done.stderr
    with stack.db() as db:
        missing = db.execute("SELECT count(*) FROM public.schema_migrations "
                             "WHERE sha256 IS NULL").fetchone()[0]
        assert missing == 0
        first, recorded = db.execute("SELECT name, sha256 FROM public.schema_migrations "
                                     "ORDER BY name LIMIT 1").fetchone()
    with open(sql / first, "a") as f:
        f.write("\n-- edited after it was applied\n")
    done = _migrate(stack, sql)
    assert done.returncode != 0
    assert first in done.stdout + done.stderr
    with stack.db() as db:
        still = db.execute("SELECT sha256 FROM public.schema_migrations WHERE name = %s",
                           (first,)).fetchone()[0]
    assert still == recorded  # the refusal changed nothing


def test_tracking_events_in_every_cloudevents_form_the_kafka_binding_allows(stack):
    w = waybill()
    binary = scan(stack, w, "picked_up", ago(3), facility_id="O1", facility_type="outlet")
    headers = stack.ce_headers("cp.parcel.scanned", source="/carrier/sfx")
    headers = {k: v for k, v in headers.items() if k != "ce_time"}
    headers["content-type"] = "application/protobuf; charset=binary"
    stack.produce("parcel.tracking.v1", w, binary.SerializeToString(), headers)
    structured = scan(stack, w, "arrived", ago(2), facility_id="SC1",
                      facility_type="sorting_centre")
    envelope = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/carrier/sfx",
                "type": "cp.parcel.scanned", "datacontenttype": "application/protobuf",
                "data_base64": base64.b64encode(structured.SerializeToString()).decode()}
    stack.produce("parcel.tracking.v1", w, json.dumps(envelope).encode(),
                  {"content-type": "application/cloudevents+json; charset=UTF-8"})
    rows = wait_rows(stack, "SELECT code FROM evidence.scans WHERE waybill_no = %s "
                            "ORDER BY occurred_at", (w,), count=2)
    assert len(rows) == 2


def test_poison_events_are_dead_lettered_without_delaying_the_good_one_behind_them(stack):
    """Ten events reuse a complaint number under other complaint ids: follow-up's unique key on
    the number fails each at apply time. They share the good event's partition (one key), so
    before savepoints the batch fell back to one transaction per event with a back-off per
    round and the good event waited minutes; now each costs only itself."""
    key = f"poison-{uuid.uuid4()}"
    taken = f"CP-POISON-{uuid.uuid4().hex[:8]}"

    def received(cid, no):
        m = stack.proto.ComplaintReceived(complaint_id=cid, complaint_no=no,
                                          customer_ref="cust_test0123456789abcdef",
                                          channel="app", language="zh-CN")
        headers = stack.ce_headers("cp.complaint.received")
        stack.produce("complaint.received.v1", key, m.SerializeToString(), headers)
        return headers["ce_id"]

    first = str(uuid.uuid4())
    received(first, taken)
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s", (first,))
    with stack.consumer("complaint.deadletter.v1", from_beginning=False) as dlq:
        bad = {received(str(uuid.uuid4()), taken) for _ in range(10)}
        good = str(uuid.uuid4())
        received(good, f"CP-GOOD-{uuid.uuid4().hex[:8]}")
        wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s", (good,))
        dead = set()
        while dead != bad:
            m = dlq.poll_until(lambda m: m.headers.get("ce_id") in bad - dead
                               and "followup" in m.headers.get("dlq_group", ""), timeout=30)
            # caught before apply by the id<->number check (common/consumer.c), with the reason
            assert f"complaint_no {taken} belongs to complaint {first}" in \
                m.headers["dlq_reason"], m.headers
            dead.add(m.headers["ce_id"])
    with stack.db() as db:
        n = db.execute("SELECT count(*) FROM followup.cases WHERE complaint_no = %s",
                       (taken,)).fetchone()[0]
    assert n == 1
