"""Resolution on the real broker and PostgreSQL: proposals from the classification and evidence
projections (in either order), compensation from policy rows, authority levels with approval,
self-approval refused, rejection, amendment with an audit trail, chargebacks, and tracked
execution (confirmed over HTTP or Kafka; a failure re-opens the step and alerts).

The upstream events are produced by the test itself (stack.produce), so these tests do not
depend on the other services' progress; test_followup_flow.py drives one case through the
real pipeline."""

import hashlib
import hmac
import time
import uuid

import pytest

from helpers import wait_rows

TOKENS = ("agent-token-1:agent:ag1,sup-token-1:supervisor:sup1,sup-token-2:supervisor:sup2,"
          "admin-token-1:admin:adm1,integration-token-1:integration:fin1")
AGENT = {"Authorization": "Bearer agent-token-1"}
SUP = {"Authorization": "Bearer sup-token-1"}
SUP2 = {"Authorization": "Bearer sup-token-2"}
ADMIN = {"Authorization": "Bearer admin-token-1"}
INTEGRATION = {"Authorization": "Bearer integration-token-1"}
LINK_SECRET = b"dev-only-link-secret"


def customer_token(no: str) -> str:
    return hmac.new(LINK_SECRET, f"case:{no}".encode(), hashlib.sha256).hexdigest()[:32]


def new_case(prefix="CPT"):
    cid = str(uuid.uuid4())
    return cid, f"{prefix}{uuid.uuid4().hex[:10].upper()}", f"SF{uuid.uuid4().int % 10**12:012d}"


def produce_received(stack, cid, no, outlet="", repeat=False, received_at=None,
                     language="zh-CN"):
    """A received event for follow-up's projection only: without a waybill (and, unless
    received_at is given, without a time) the real classification and timer dead-letter it,
    so the test's case is not pushed through the real pipeline behind its back."""
    m = stack.proto.ComplaintReceived(complaint_id=cid, complaint_no=no,
                                      customer_ref="cust_test0123456789abcdef", channel="web",
                                      language=language, outlet_id=outlet, repeat=repeat,
                                      received_at=received_at or "")
    stack.produce("complaint.received.v1", cid, m.SerializeToString(),
                  stack.ce_headers("cp.complaint.received"))


def produce_classified(stack, cid, no, waybill, sub="loss", category="transport", declared=0,
                       insured=False, insured_value=0, freight=0, demand=("compensation",),
                       tier="standard", priority=3, outlet="", language="zh-CN"):
    m = stack.proto.ComplaintClassified(complaint_id=cid, complaint_no=no, waybill_no=waybill,
                                        category=category, subcategory=sub, tier=tier,
                                        priority=priority, language=language,
                                        customer_ref="cust_test0123456789abcdef",
                                        outlet_id=outlet)
    m.impact.declared_value_fen = declared
    m.impact.insured = insured
    m.impact.insured_value_fen = insured_value
    m.impact.freight_fen = freight
    m.demand.extend(demand)
    stack.produce("complaint.classified.v1", cid, m.SerializeToString(),
                  stack.ce_headers("cp.complaint.classified"))


def produce_evidence(stack, cid, no, waybill, party="courier", party_id="", stuck=False):
    m = stack.proto.EvidenceBundle(complaint_id=cid, complaint_no=no, waybill_no=waybill,
                                   tracking_found=True, version=1, delivered=False)
    m.responsibility.party = party
    m.responsibility.party_id = party_id
    m.responsibility.stage = "delivery"
    if stuck:
        m.findings.add(kind="stuck", facility_id="HUB1", seconds=90000)
    stack.produce("complaint.evidence.v1", cid, m.SerializeToString(),
                  stack.ce_headers("cp.complaint.evidence_collected"))


def produce_result(stack, cid, execution_id, ce_type, reason=""):
    m = stack.proto.ExecutionResult(execution_id=execution_id, complaint_id=cid,
                                    status="confirmed" if ce_type.endswith("confirmed") else "failed",
                                    reason=reason)
    stack.produce("complaint.execution.v1", cid, m.SerializeToString(),
                  stack.ce_headers(ce_type, source="finance-test"))


def seen(reader, predicate, timeout=15):
    """The first message (already read or still to come) satisfying predicate: events of
    different topics arrive in any order, and poll_until drops what it reads past."""
    for m in reader.messages:
        if predicate(m):
            return m
    return reader.poll_until(predicate, timeout=timeout)


def decode(stack, msg, name):
    ev = getattr(stack.proto, name)()
    ev.ParseFromString(msg.value)
    return ev


def proposal_of(stack, cid, timeout=30):
    rows = wait_rows(stack, "SELECT id::text, status, total_fen, rule FROM resolution.proposals "
                            "WHERE complaint_id = %s AND status <> 'superseded'", (cid,),
                     timeout=timeout)
    return rows[0]


def wait_status(stack, pid, status, timeout=20):
    return wait_rows(stack, "SELECT 1 FROM resolution.proposals WHERE id = %s AND status = %s",
                     (pid, status), timeout=timeout)


@pytest.fixture(scope="module")
def staff(stack):
    with stack.service_env("resolution", AUTH_TOKENS=TOKENS):
        yield


def test_evidence_first_then_classification_proposes_within_authority(stack, http, staff):
    cid, no, waybill = new_case()
    with stack.consumer(["complaint.resolution.v1", "complaint.execution.v1"],
                        from_beginning=False) as reader:
        produce_evidence(stack, cid, no, waybill, party="franchise_partner", party_id="OUT-9")
        time.sleep(0.5)
        assert not stack.db().execute("SELECT 1 FROM resolution.proposals WHERE complaint_id "
                                      "= %s", (cid,)).fetchall()
        produce_classified(stack, cid, no, waybill, declared=12000, freight=1000)
        pid, status, total, rule = proposal_of(stack, cid)
        assert (status, total, rule) == ("executing", 3000, "uninsured_freight_cap")

        proposed = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                     == "cp.complaint.resolution_proposed", timeout=15)
        ev = decode(stack, proposed, "ResolutionDecided")
        assert ev.status == "proposed" and ev.total.amount_fen == 3000
        assert [(r.kind, r.amount.amount_fen, r.rule) for r in ev.remedies] == [
            ("compensation", 3000, "uninsured_freight_cap"), ("apology", 0, "liable")]
        assert ev.chargeback_party_id == "OUT-9"
        payout = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                   == "cp.finance.payout_requested", timeout=15)
        req = decode(stack, payout, "ExecutionRequest")
        assert req.kind == "payout" and req.amount.amount_fen == 3000
        assert req.waybill_no == waybill and req.complaint_no == no

        # only the integration role may confirm
        url = f"{stack.base_url}/v1/executions/{req.execution_id}/confirm"
        assert http.post(url, json={"status": "confirmed"}, headers=AGENT).status_code == 403
        assert http.post(url, json={"status": "maybe"},
                         headers=INTEGRATION).status_code == 422
        r = http.post(url, json={"status": "confirmed", "reference": "PAY-1"},
                      headers=INTEGRATION)
        assert r.status_code == 200, r.text
        assert http.post(url, json={"status": "confirmed"},
                         headers=INTEGRATION).status_code == 409
        executed = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                     == "cp.complaint.resolution_executed", timeout=15)
        assert decode(stack, executed, "ResolutionDecided").status == "executed"

    view = http.get(f"{stack.base_url}/v1/complaints/{no}/proposals", headers=AGENT)
    assert view.status_code == 200, view.text
    [p] = view.json()["proposals"]
    assert p["status"] == "executed"
    assert p["chargeback"] == {"party": "franchise_partner", "party_id": "OUT-9",
                               "amount_fen": 3000}
    assert [e["status"] for e in p["executions"]] == ["confirmed"]
    assert [a["action"] for a in p["audit"]] == ["proposed", "executed"]
    assert http.get(f"{stack.base_url}/v1/complaints/{no}/proposals").status_code == 401


def test_above_authority_waits_for_approval_and_self_approval_is_refused(stack, http, staff):
    cid, no, waybill = new_case()
    db = stack.db()
    with stack.consumer(["complaint.resolution.v1"], from_beginning=False) as reader:
        produce_classified(stack, cid, no, waybill, insured=True, insured_value=50000,
                           declared=60000, freight=1200)
        produce_evidence(stack, cid, no, waybill)
        pid, status, total, rule = proposal_of(stack, cid)
        assert (status, total, rule) == ("pending_approval", 50000, "insured_total")
        ev = decode(stack, seen(reader, lambda m: m.key == cid, timeout=15),
                    "ResolutionDecided")
        assert ev.status == "pending_approval"

        # nothing is promised to the customer while the plan waits for approval
        time.sleep(1.0)
        assert not db.execute("SELECT 1 FROM followup.notifications WHERE complaint_id = %s "
                              "AND step = 'plan_proposed'", (cid,)).fetchall()

        base = f"{stack.base_url}/v1/proposals/{pid}"
        # an agent may not approve; a supervisor amends above their own authority
        assert http.post(base + "/approve", json={}, headers=AGENT).status_code == 403
        bad = http.post(base + "/amend", json={"remedies": [{"kind": "cash", "amount_fen": -1}]},
                        headers=SUP)
        assert bad.status_code == 422
        assert {f["field"] for f in bad.json()["fields"]} >= {"remedies[0].kind", "reason"}
        r = http.post(base + "/amend", headers=SUP, json={
            "remedies": [{"kind": "compensation", "amount_fen": 300000},
                         {"kind": "apology"}], "reason": "declared value proven by invoice"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "pending_approval" and r.json()["proposed_by"] == "sup1"

        self_approval = http.post(base + "/approve", json={}, headers=SUP)
        assert self_approval.status_code == 403
        assert self_approval.json()["error"] == "self_approval"
        over = http.post(base + "/approve", json={}, headers=SUP2)
        assert over.status_code == 403 and over.json()["error"] == "over_authority"
        assert db.execute("SELECT status FROM resolution.proposals WHERE id = %s",
                          (pid,)).fetchone()[0] == "pending_approval"

        ok = http.post(base + "/approve", json={"reason": "invoice checked"}, headers=ADMIN)
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] == "executing" and ok.json()["approved_by"] == "adm1"
        approved = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                     == "cp.complaint.resolution_approved", timeout=15)
        assert decode(stack, approved, "ResolutionDecided").total.amount_fen == 300000
        assert http.post(base + "/approve", json={}, headers=ADMIN).status_code == 409

    wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND "
                     "step = 'plan_proposed'", (cid,))
    audit = db.execute("SELECT actor, action, reason FROM resolution.proposal_audit WHERE "
                       "proposal_id = %s ORDER BY id", (pid,)).fetchall()
    assert [(a[0], a[1]) for a in audit] == [("system", "proposed"), ("sup1", "amended"),
                                             ("adm1", "approved")]
    assert audit[1][2] == "declared value proven by invoice"
    assert db.execute("SELECT amount_fen FROM resolution.executions WHERE proposal_id = %s",
                      (pid,)).fetchone()[0] == 300000


def test_rejection_needs_a_reason_and_is_announced(stack, http, staff):
    cid, no, waybill = new_case()
    with stack.consumer(["complaint.resolution.v1"], from_beginning=False) as reader:
        produce_classified(stack, cid, no, waybill, insured=True, insured_value=90000)
        produce_evidence(stack, cid, no, waybill)
        pid, status, _, _ = proposal_of(stack, cid)
        assert status == "pending_approval"
        base = f"{stack.base_url}/v1/proposals/{pid}"
        missing = http.post(base + "/reject", json={}, headers=SUP)
        assert missing.status_code == 422
        assert missing.json()["fields"][0]["field"] == "reason"
        r = http.post(base + "/reject", json={"reason": "insurance not paid"}, headers=SUP)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "rejected"
        rejected = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                     == "cp.complaint.resolution_rejected", timeout=15)
        assert decode(stack, rejected, "ResolutionDecided").reason == "insurance not paid"

    # a later classification does not replace the rejected plan; staff amend it
    produce_classified(stack, cid, no, waybill, insured=True, insured_value=90000)
    time.sleep(1.0)
    assert len(stack.db().execute("SELECT 1 FROM resolution.proposals WHERE complaint_id = %s",
                                  (cid,)).fetchall()) == 1
    r = http.post(f"{stack.base_url}/v1/proposals/{pid}/amend", headers=AGENT, json={
        "remedies": [{"kind": "compensation", "amount_fen": 9000}, {"kind": "apology"}],
        "reason": "uninsured: actual loss 3x freight"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "executing"
    assert http.post(f"{stack.base_url}/v1/proposals/{uuid.uuid4()}/approve", json={},
                     headers=SUP).status_code == 404


def test_failed_execution_reopens_the_step_and_alerts(stack, http, staff):
    cid, no, waybill = new_case()
    with stack.consumer(["complaint.resolution.v1", "complaint.execution.v1"],
                        from_beginning=False) as reader:
        produce_classified(stack, cid, no, waybill, declared=2000, freight=1000,
                           demand=("reship", "compensation"))
        produce_evidence(stack, cid, no, waybill)
        pid, status, total, _ = proposal_of(stack, cid)
        assert (status, total) == ("executing", 2000)
        kinds = {}
        deadline = time.monotonic() + 15
        while len(kinds) < 2 and time.monotonic() < deadline:
            for m in reader.messages:
                if m.key == cid and m.topic == "complaint.execution.v1":
                    req = decode(stack, m, "ExecutionRequest")
                    kinds[req.kind] = req.execution_id
            reader.collect(timeout=0.3)
        assert set(kinds) == {"payout", "reship"}

        produce_result(stack, cid, kinds["payout"], "cp.finance.payout_confirmed")
        produce_result(stack, cid, kinds["reship"], "cp.shipping.reship_failed",
                       reason="address unreachable")
        failed = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                   == "cp.complaint.resolution_failed", timeout=20)
        assert decode(stack, failed, "ResolutionDecided").reason == "address unreachable"
        wait_status(stack, pid, "failed")
        assert any(rec.get("event") == "execution_failed" and rec.get("level") == "error"
                   for rec in stack.log_records("resolution"))
        metrics = http.get(stack.service_url("resolution") + "/metrics").text
        assert 'cp_resolution_execution_failures_total{kind="reship"}' in metrics

        # the step is open again: an agent amends within their authority and it runs again
        r = http.post(f"{stack.base_url}/v1/proposals/{pid}/amend", headers=AGENT, json={
            "remedies": [{"kind": "reship"}, {"kind": "apology"}],
            "reason": "payout done, reship to the new address"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "executing"
        again = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                     == "cp.shipping.reship_requested" and decode(
                         stack, m, "ExecutionRequest").execution_id != kinds["reship"])
        new_id = decode(stack, again, "ExecutionRequest").execution_id
        assert new_id != kinds["reship"]
        produce_result(stack, cid, new_id, "cp.shipping.reship_confirmed")
        wait_status(stack, pid, "executed")


def test_reopened_case_opens_the_executed_plan_for_amendment(stack, http, staff):
    cid, no, waybill = new_case()
    produce_classified(stack, cid, no, waybill, sub="damage", declared=500, freight=1000)
    produce_evidence(stack, cid, no, waybill)
    pid, status, total, _ = proposal_of(stack, cid)
    assert (status, total) == ("executing", 500)
    [(eid,)] = wait_rows(stack, "SELECT id::text FROM resolution.executions WHERE proposal_id "
                                "= %s", (pid,))
    assert http.post(f"{stack.base_url}/v1/executions/{eid}/confirm",
                     json={"status": "confirmed"}, headers=INTEGRATION).status_code == 200
    wait_status(stack, pid, "executed")
    base = f"{stack.base_url}/v1/proposals/{pid}/amend"
    more = {"remedies": [{"kind": "compensation", "amount_fen": 1500}],
            "reason": "customer shows the repair bill"}
    assert http.post(base, json=more, headers=AGENT).status_code == 409

    reopened = stack.proto.FollowupEvent(complaint_id=cid, complaint_no=no, step="reopened",
                                         reason="dissatisfied", reopen_count=1)
    stack.produce("complaint.followup.v1", cid, reopened.SerializeToString(),
                  stack.ce_headers("cp.complaint.reopened"))
    wait_status(stack, pid, "reopened")
    r = http.post(base, json=more, headers=AGENT)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "executing"
    # the plan now pays 1500 in all; 500 were paid already
    kinds = [(e["status"], e["amount_fen"]) for e in r.json()["executions"]]
    assert kinds == [("confirmed", 500), ("requested", 1000)]
    assert [a["action"] for a in r.json()["audit"]] == ["proposed", "executed", "reopened",
                                                        "amended"]
