"""Set-based apply of the complaint events intake projects (issue 14): classifications, offers,
owners and escalations, first responses (complaint.classified.v1), evidence bundles
(complaint.evidence.v1) and plans (complaint.resolution.v1) applied as sets leave the SAME rows
in intake's complaints, timeline, conversation, case_evidence and case_plans as the one-event
path (CONSUMER_SET_APPLY=false). The backlogs hold a complaint's events several times in one
set (two classifications, two escalations, an older bundle after a newer one), events the set
hands to the one-event handler (an offer and an owner, which move the lifecycle status; a bundle
a person confirmed; an approved plan; a staff proposal; a draft without a proposal id), a
complaint intake does not know, an event delivered twice, an event PostgreSQL refuses and one
whose complaint number belongs to another complaint (each dead-lettered alone). Intake is
stopped while each backlog is produced, so it meets it as one batch; the other services are
stopped for the test so that none of them answers the synthetic events with events of its
own."""

import datetime
import uuid

from helpers import SetRun, dead_letter_reasons, refusing, wait_rows
from test_complaint_set_apply import DLQ, _iso, _metric

HOUR = 3600.0
OTHERS = ("classification", "evidence", "resolution", "followup", "timer")
CLASSIFIED = "complaint.classified.v1"

QUERIES = {
    "complaints": "SELECT id::text, status, priority, category, subcategory, urgency, tier, "
                  "sla_policy, offered_to, owner_staff_id, owner_first_name, owner_role, "
                  "escalated_to, escalation_level, next_update_by, decision, episode "
                  "FROM intake.complaints WHERE id = ANY(%s::uuid[])",
    "case_evidence": "SELECT complaint_id::text, version, bundle FROM intake.case_evidence "
                     "WHERE complaint_id = ANY(%s::uuid[])",
    "case_plans": "SELECT proposal_id::text, complaint_id::text, status, remedies, total_fen, "
                  "rule, responsible_party, proposed_by, approved_by, reason, decided_at "
                  "FROM intake.case_plans WHERE complaint_id = ANY(%s::uuid[])",
}
# per complaint in the order written (a stable sort by label keeps the ids' order)
ORDERED = {
    "timeline": "SELECT complaint_id::text, step, detail, actor, visibility FROM "
                "intake.timeline WHERE complaint_id = ANY(%s::uuid[]) ORDER BY id",
    "conversation": "SELECT complaint_id::text, direction, kind, actor, text, detail FROM "
                    "intake.conversation WHERE complaint_id = ANY(%s::uuid[]) ORDER BY id",
}


class _Run(SetRun):
    """One run: complaints A, B, C that intake knows, D that it does not, G naming A's
    number; plans P1..P4."""

    def __init__(self, stack, t0, poison):
        self.stack, self.t0, self.poison = stack, t0, poison
        self.source = f"/test/intake-sets-{uuid.uuid4().hex[:8]}"
        self.ids = {k: str(uuid.uuid4()) for k in "ABCDG"}
        self.nos = {k: f"CPI{self.ids[k][:8]}" for k in "ABCD"}
        self.nos["G"] = self.nos["A"]
        self.plans = {k: str(uuid.uuid4()) for k in ("P1", "P2", "P3", "P4")}
        self.fresh, self.refused = set(), {}
        with stack.db() as db:
            for k in "ABC":
                db.execute("INSERT INTO intake.complaints (id, complaint_no, channel, "
                           "waybill_no, customer_ref, complainant_name, complainant_phone, "
                           "role, language, preferred_contact, description, type, impact, "
                           "demand, priority) VALUES (%s, %s, 'web', '', 'cust_settest', '', "
                           "'', 'recipient', 'zh-CN', 'app', 'set test', 'damage', '{}', '{}', "
                           "5)", (self.ids[k], self.nos[k]))

    def classified(self, label, priority, sub, **kw):
        ev = self.stack.proto.ComplaintClassified(
            complaint_id=self.ids[label], complaint_no=self.nos[label], category="service",
            subcategory=sub, urgency="high", tier="standard", priority=priority,
            sla_policy="set-policy", classified_at=_iso(self.t0))
        return self.send(CLASSIFIED, "cp.complaint.classified", label, ev, **kw)

    def assignment(self, label, ce_type, action, **f):
        good = f.pop("good", True)
        ev = self.stack.proto.ComplaintAssignment(
            complaint_id=self.ids[label], complaint_no=self.nos[label], action=action,
            at=_iso(self.t0), **f)
        return self.send(CLASSIFIED, ce_type, label, ev, good=good)

    def escalated(self, label, level, to, **f):
        return self.assignment(label, "cp.complaint.escalated", "escalated", staff_ids=[to],
                               escalation_level=level, reason="sla_breach:accept",
                               escalated_role=("", "outlet_manager", "regional_supervisor",
                                               "hq")[level], **f)

    def first_response(self, label, text, next_update_by, **kw):
        ev = self.stack.proto.FirstResponse(
            complaint_id=self.ids[label], complaint_no=self.nos[label], scenario="inquiry",
            language="en", text=text, next_update_by=next_update_by, at=_iso(self.t0))
        return self.send(CLASSIFIED, "cp.complaint.first_response", label, ev, **kw)

    def bundle(self, label, ce_type, version, confirmed_by=""):
        p = self.stack.proto
        ev = p.EvidenceBundle(
            complaint_id=self.ids[label], complaint_no=self.nos[label], waybill_no="SF1",
            subcategory="damage", tracking_found=True, version=version, scan_count=version,
            collected_at=_iso(self.t0), last_scan_at=_iso(self.t0 - HOUR),
            findings=[p.Finding(kind="dwell", facility_id="HUB1", seconds=7200 * version)],
            responsibility=p.Responsibility(stage="sorting", party="sorting_centre",
                                            party_id="HUB1", reasons=["dwell"],
                                            confidence_pct=60, preliminary=not confirmed_by,
                                            confirmed_by=confirmed_by),
            trajectory=[p.TrajectoryPoint(occurred_at=_iso(self.t0 - HOUR), code="arrived",
                                          facility_id="HUB1")])
        return self.send("complaint.evidence.v1", ce_type, label, ev)

    def plan(self, label, plan, status, proposed_by="system", approved_by="", fen=3600):
        p = self.stack.proto
        ev = p.ResolutionDecided(
            complaint_id=self.ids[label], complaint_no=self.nos[label],
            proposal_id=self.plans.get(plan, plan), status=status,
            remedies=[p.Remedy(kind="compensation", amount=p.Money(amount_fen=fen),
                               rule="damage-standard"), p.Remedy(kind="apology")],
            total=p.Money(amount_fen=fen), responsible_party="sorting_centre",
            decided_at=_iso(self.t0), rule="damage-standard", proposed_by=proposed_by,
            approved_by=approved_by)
        return self.send("complaint.resolution.v1", f"cp.complaint.resolution_{status}", label,
                         ev)


def _backlog(stack, mode, run, produce):
    """Produces a backlog while intake is stopped, then lets it apply it as one batch; returns
    (events applied as sets, sets that fell back) on the classified topic so far."""
    stack.stop_service("intake")
    produce()
    stack.start_service("intake", **dict(stack._start_env["intake"], CONSUMER_SET_APPLY=mode,
                                          CONSUMER_BATCH_WAIT_MS="300"))
    wait_rows(stack, "SELECT 1 FROM intake.inbox WHERE ce_source = %s", (run.source,),
              count=len(run.fresh), timeout=60)
    return (_metric(stack, "intake", "cp_consumer_set_events_total", CLASSIFIED),
            _metric(stack, "intake", "cp_consumer_set_fallbacks_total", CLASSIFIED))


def _run(stack, mode, t0, poison):
    run = _Run(stack, t0, poison)
    accepted = "cp.complaint.assigned"

    def classified():
        run.classified("A", 3, "damage")
        run.assignment("A", "cp.complaint.offered", "offered", staff_ids=["s1", "s2"], round=1)
        run.escalated("A", 1, "mgr1")
        dup = run.first_response("A", "we are on it", _iso(t0 + 2 * HOUR))
        run.escalated("A", 2, "reg1", actor_staff_id="sup9")
        run.classified("A", 2, "delay")  # classified again: a second round
        run.first_response("A", "we are on it", _iso(t0 + 2 * HOUR), ce_id=dup)  # twice
        run.classified("B", 0, "damage")
        run.first_response("B", "thank you", "")
        run.assignment("B", accepted, "accepted", owner_staff_id="o1", owner_first_name="Li",
                       owner_role="agent")
        run.escalated("B", 1, "mgr2")
        run.escalated("C", 3, "hq1", actor_staff_id="sup1")
        run.assignment("C", "cp.complaint.offered", "offered", staff_ids=["s3"], round=2)
        run.classified("D", 4, "loss")  # a complaint intake does not know
        run.first_response("D", "hello", _iso(t0 + HOUR))
        run.escalated("D", 1, "mgr3")

    def evidence():
        run.bundle("A", "cp.complaint.evidence_collected", 1)
        run.bundle("A", "cp.complaint.evidence_updated", 2)
        run.bundle("B", "cp.complaint.evidence_collected", 1, confirmed_by="sup1")
        run.bundle("C", "cp.complaint.evidence_updated", 3)
        run.bundle("C", "cp.complaint.evidence_collected", 2)  # older: kept out, step written
        run.bundle("D", "cp.complaint.evidence_collected", 1)

    def plans():
        run.plan("A", "P1", "proposed")
        run.plan("A", "P1", "approved", approved_by="sup1")
        run.plan("B", "P2", "proposed", fen=0)
        run.plan("C", "not-a-uuid", "proposed")
        run.plan("C", "P3", "proposed", proposed_by="agent7")
        run.plan("D", "P4", "proposed")

    def refused():
        run.first_response("C", "hello again", _iso(t0 + 3 * HOUR))
        run.escalated("B", 2, poison, good=False)  # PostgreSQL refuses it
        run.classified("G", 3, "damage", good=False)  # A's number: collides
        run.escalated("C", 3, "hq2")

    with stack.consumer(DLQ, from_beginning=False) as dlq:
        counts = [_backlog(stack, mode, run, f) for f in (classified, evidence, plans, refused)]
        reasons = dead_letter_reasons(dlq, run.refused, "cp-intake")
    names = {v: k for k, v in run.ids.items()}
    names.update({v: f"no-{k}" for k, v in run.nos.items() if k != "G"})
    names.update({v: k for k, v in run.plans.items()})

    def norm(v):
        if isinstance(v, dict):  # a jsonb document: the ids in it too
            v = repr(v)
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, str):
            for value, label in names.items():
                v = v.replace(value, label)
        return v

    rows = {}
    ids = list(run.ids.values())
    with stack.db() as db:
        for table, sql in QUERIES.items():
            rows[table] = sorted((tuple(norm(v) for v in r) for r in
                                  db.execute(sql, (ids,)).fetchall()), key=repr)
        for table, sql in ORDERED.items():
            rows[table] = sorted((tuple(norm(v) for v in r) for r in
                                  db.execute(sql, (ids,)).fetchall()), key=lambda r: r[0])
    dead = sorted((run.refused[k], norm(v)) for k, v in reasons.items())
    return counts, rows, dead


def test_intake_complaint_event_sets_and_the_one_event_path_store_identical_rows(stack):
    t0 = float(int(datetime.datetime.now(datetime.timezone.utc).timestamp()))
    poison = f"poison{uuid.uuid4().hex[:6]}"
    with refusing(stack, "intake.complaints", f"escalated_to IS DISTINCT FROM '{poison}'",
                  "intake", stopped=[s for s in OTHERS if stack.is_running(s)]):
        one_counts, one, one_dead = _run(stack, "false", t0, poison)
        got_counts, got, got_dead = _run(stack, "true", t0, poison)
    # only the set run applied the classified backlog as sets, with no fallback; the refused
    # backlog fell back to one event at a time
    # (intake starts afresh for each backlog: its counters are the backlog's own)
    assert one_counts == [(0, 0)] * 4, one_counts
    assert got_counts[0] == (15, 0), got_counts
    assert got_counts[3][1] > 0, got_counts
    for table in (*QUERIES, *ORDERED):
        assert got[table] == one[table], table
    case = {r[0]: r for r in got["complaints"]}
    # A: classified twice (the second priority and subcategory), escalated twice, offered
    assert case["A"][2:5] == (2, "service", "delay"), case["A"]
    assert case["A"][8] == ["s1", "s2"] and case["A"][12:14] == ("reg1", 2), case["A"]
    assert case["B"][2] == 5 and case["B"][9] == "o1" and case["B"][14] is None, case["B"]
    assert case["C"][12:14] == ("hq2", 3), case["C"]
    steps = {}
    for r in got["timeline"]:
        steps.setdefault(r[0], []).append(r[1])
    assert steps["A"] == ["classified", "offered", "escalated", "first_response", "escalated",
                          "classified", "evidence_found", "evidence_updated", "plan_drafted",
                          "plan_approved"], steps["A"]
    assert steps["B"] == ["classified", "first_response", "owner_assigned", "escalated",
                          "verified", "plan_drafted"], steps["B"]
    assert steps["C"] == ["escalated", "offered", "evidence_updated", "evidence_found",
                          "plan_drafted", "plan_proposed", "first_response", "escalated"], \
        steps["C"]
    assert "D" not in steps
    evidence = {r[0]: r[1] for r in got["case_evidence"]}
    assert evidence == {"A": 2, "B": 1, "C": 3}, evidence  # D: intake keeps no bundle
    assert sorted((r[0], r[2]) for r in got["case_plans"]) == [
        ("P1", "approved"), ("P2", "proposed"), ("P3", "proposed"), ("P4", "proposed")]
    assert [r[0] for r in got["conversation"]] == ["A", "B", "C"], got["conversation"]
    assert got_dead == one_dead, (got_dead, one_dead)
    assert [r[0] for r in got_dead] == ["B", "G"], got_dead
    assert got_dead[1][1] == "invalid event: complaint_no no-A belongs to complaint A, not G"
    assert "apply failed" in got_dead[0][1]
