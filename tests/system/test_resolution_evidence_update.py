"""Resolution follows later versions of the evidence (late tracking, answers, a supervisor's
confirmation): the newest version's party and stage win, and an older version arriving late
never overwrites a newer one."""

import uuid

from helpers import wait_rows


def bundle(stack, cid, version, party, stage):
    b = stack.proto.EvidenceBundle()
    b.complaint_id = cid
    b.complaint_no = "CP20261124-900001"
    b.waybill_no = "SF900000000001"
    b.version = version
    b.tracking_found = True
    b.responsibility.party = party
    b.responsibility.stage = stage
    b.responsibility.preliminary = version < 3
    return b.SerializeToString()


def test_newest_evidence_version_wins(stack):
    cid = str(uuid.uuid4())
    ids = []
    for version, party, stage, ce_type in (
            (1, "unknown", "unknown", "cp.complaint.evidence_collected"),
            (3, "franchise_partner", "delivery", "cp.complaint.evidence_updated"),
            (2, "courier", "pickup", "cp.complaint.evidence_updated")):
        headers = stack.ce_headers(ce_type)
        ids.append(headers["ce_id"])
        stack.produce("complaint.evidence.v1", cid, bundle(stack, cid, version, party, stage),
                      headers)
    rows = wait_rows(stack, "SELECT party, stage, evidence_version FROM resolution.cases "
                            "WHERE complaint_id = %s AND evidence_version = 3", (cid,))
    # the late version 2 is consumed after version 3 on the same partition; give it its turn
    wait_rows(stack, "SELECT 1 FROM resolution.inbox WHERE ce_source = 'test' AND "
                     "ce_id = ANY(%s)", (ids,), count=3)
    rows = stack.db().execute("SELECT party, stage, evidence_version FROM resolution.cases "
                              "WHERE complaint_id = %s", (cid,)).fetchall()
    assert rows == [("franchise_partner", "delivery", 3)]
