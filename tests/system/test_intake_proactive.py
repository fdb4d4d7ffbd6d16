"""Issue 4's proactive case: a stuck-parcel event flagged proactive_case opens one case in intake
before anyone complains, which then goes down the pipeline like any complaint; an event without
the flag opens nothing, and a repeated event does not open a second case."""

import time

from helpers import wait_rows, waybill


def stuck(stack, wb, proactive):
    x = stack.proto.ParcelException()
    x.waybill_no = wb
    x.kind = "stuck"
    x.facility_id = "SC-HZ-01"
    x.facility_type = "sorting_centre"
    x.stuck_seconds = 30 * 3600
    x.threshold_seconds = 24 * 3600
    x.proactive_case = proactive
    stack.produce("parcel.exception.v1", wb, x.SerializeToString(),
                  stack.ce_headers("cp.parcel.stuck", source="/cp/evidence"))


def test_stuck_parcel_opens_one_proactive_case(stack):
    wb, quiet = waybill(), waybill()
    stuck(stack, quiet, False)
    stuck(stack, wb, True)
    stuck(stack, wb, True)
    rows = wait_rows(stack, "SELECT id, channel, type, customer_ref FROM intake.complaints "
                            "WHERE waybill_no = %s", (wb,))
    cid, channel, ctype, ref = rows[0]
    assert (channel, ctype, ref) == ("proactive", "delay", "proactive")
    # it travels on like any complaint
    wait_rows(stack, "SELECT 1 FROM classification.classifications WHERE complaint_id = %s",
              (cid,))
    time.sleep(1)
    conn = stack.db()
    assert conn.execute("SELECT count(*) FROM intake.complaints WHERE waybill_no = %s",
                        (wb,)).fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM intake.complaints WHERE waybill_no = %s",
                        (quiet,)).fetchone()[0] == 0


def test_evidence_updates_appear_on_the_customers_timeline(stack, http):
    from helpers import complaint, post
    r = post(http, stack, complaint())
    assert r.status_code == 201, r.text
    cid = r.json()["complaint_id"]
    wait_rows(stack, "SELECT 1 FROM intake.timeline WHERE complaint_id = %s AND step = "
                     "'evidence_found'", (cid,))
    b = stack.proto.EvidenceBundle()
    b.complaint_id = cid
    b.version = 2
    b.responsibility.stage = "sorting"
    stack.produce("complaint.evidence.v1", cid, b.SerializeToString(),
                  stack.ce_headers("cp.complaint.evidence_updated", source="/cp/evidence"))
    rows = wait_rows(stack, "SELECT detail->>'stage' FROM intake.timeline WHERE complaint_id = "
                            "%s AND step = 'evidence_updated'", (cid,))
    assert rows[0][0] == "sorting"
