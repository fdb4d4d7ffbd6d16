"""Set-based apply of follow-up's complaint events (issue 14): the receipts, classifications,
escalations, offers (and lapsed offers), acceptances and transfers, first responses, evidence,
clock warnings and breaches applied as sets (a few statements per batch and kind), and the
rarer kinds (messages, plans, overdue evidence requests) with their history rows as a set, leave the SAME rows in follow-up's
cases, history, clock events, conversation and notification outbox as the one-event path
(CONSUMER_SET_APPLY=false), for backlogs with a complaint's events several times in one batch
(they apply one after the other), a classification before its receipt, the same event delivered
twice, a stuck parcel's proactive case, and a poison event PostgreSQL refuses (dead-lettered
alone, the rest applied). Follow-up is stopped while each backlog is produced, so it meets it
as one batch; the services that would answer these events with their own (classification,
evidence, resolution, the timer) are stopped for the test. The delivery's own history rows (one
per message sent or given up, a batch's written with one insert) are checked against the
messages' outcomes."""

import datetime
import uuid

import requests

from helpers import SetRun, dead_letter_reasons, refusing, wait_rows

HOUR = 3600.0
DLQ = "complaint.deadletter.v1"
STOPPED = ("classification", "evidence", "resolution", "timer")
TOPICS = ("complaint.received.v1", "complaint.classified.v1", "complaint.evidence.v1",
          "complaint.sla.v1", "complaint.resolution.v1", "complaint.evidence_request.v1")


def _iso(ts: float) -> str:
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _metric(stack, name):
    text = requests.get(stack.service_url("followup") + "/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and any(f'topic="{t}"' in line for t in TOPICS))


class _Run(SetRun):
    """One run of the scenario: its complaints (by label), its event source, what it sent."""

    def __init__(self, stack, t0, poison_clock):
        self.stack, self.t0, self.poison_clock = stack, t0, poison_clock
        self.source = f"/test/fusets-{uuid.uuid4().hex[:8]}"
        self.ids = {k: str(uuid.uuid4()) for k in "ABCDEF"}
        self.nos = {k: f"CPF{self.ids[k][:8]}" for k in "ABCDEF"}
        self.sent = []  # event ids in the order sent: the runs' events pair up by position
        self.fresh = set()
        self.refused = {}
        self.pb = stack.proto

    def send(self, topic, ce_type, label, msg, ce_id=None, good=True):
        ce_id = super().send(topic, ce_type, label, msg, ce_id, good)
        self.sent.append(ce_id)
        return ce_id

    def _ids(self, label):
        return dict(complaint_id=self.ids[label], complaint_no=self.nos[label])

    def received(self, label, at, channel="web", language="en", **kw):
        f = {k: kw.pop(k) for k in list(kw) if k != "ce_id"}
        ev = self.pb.ComplaintReceived(
            **self._ids(label), channel=channel, waybill_no=f"SF{label}0001",
            customer_ref=f.pop("customer_ref", "cust_" + "ab" * 12), role="recipient", type=1,
            language=language, description_redacted=f.pop("text", "包裹破损"),
            received_at=_iso(self.t0 + at), **f)
        return self.send("complaint.received.v1", "cp.complaint.received", label, ev, **kw)

    def message(self, label, kind, text, **f):
        ev = self.pb.ComplaintMessageAdded(**self._ids(label), kind=kind, text_redacted=text,
                                           **f)
        return self.send("complaint.received.v1", "cp.complaint.message_added", label, ev)

    def classified(self, label, category="service", subcategory="damage", priority=3, **f):
        ev = self.pb.ComplaintClassified(
            **self._ids(label), category=category, subcategory=subcategory, priority=priority,
            first_response_s=3600, accept_s=300, verification_s=7200, **f)
        return self.send("complaint.classified.v1", "cp.complaint.classified", label, ev)

    def assignment(self, label, ce_type, action, staff=(), owner="", rnd=1, reason=""):
        ev = self.pb.ComplaintAssignment(**self._ids(label), action=action, staff_ids=staff,
                                         owner_staff_id=owner, round=rnd, reason=reason,
                                         at=_iso(self.t0 + HOUR))
        return self.send("complaint.classified.v1", ce_type, label, ev)

    def first(self, label, text, at, **kw):
        ev = self.pb.FirstResponse(**self._ids(label), text=text, at=_iso(self.t0 + at))
        return self.send("complaint.classified.v1", "cp.complaint.first_response", label, ev,
                         **kw)

    def evidence(self, label, ce_type, party, preliminary=True, party_id="", **kw):
        ev = self.pb.EvidenceBundle(**self._ids(label), responsibility=self.pb.Responsibility(
            party=party, party_id=party_id, preliminary=preliminary,
            confirmed_at=_iso(self.t0 + 2 * HOUR)))
        return self.send("complaint.evidence.v1", ce_type, label, ev, **kw)

    def sla(self, label, ce_type, clock, kind, level=0, good=True):
        ev = self.pb.SlaEvent(**self._ids(label), clock=clock, kind=kind,
                              escalation_level=level, due_at=_iso(self.t0 + HOUR))
        return self.send("complaint.sla.v1", ce_type, label, ev, good=good)

    def resolution(self, label, ce_type, status, fen=3000):
        ev = self.pb.ResolutionDecided(
            **self._ids(label), proposal_id=f"plan-{label}", status=status, language="en",
            remedies=[self.pb.Remedy(kind="compensation",
                                     amount=self.pb.Money(amount_fen=fen, currency="CNY"))],
            total=self.pb.Money(amount_fen=fen, currency="CNY"), reason="plan",
            proposed_by="system", approved_by="sup-1")
        return self.send("complaint.resolution.v1", ce_type, label, ev)

    def overdue(self, label):
        ev = self.pb.EvidenceRequest(request_id=str(uuid.uuid4()), **self._ids(label),
                                     facility_id="F-SZ-01", kind="surveillance")
        return self.send("complaint.evidence_request.v1",
                         "cp.complaint.evidence_request_overdue", label, ev)


def _backlog(stack, mode, run, produce):
    """Produces a backlog while follow-up is stopped, then lets it apply it as one batch."""
    stack.stop_service("followup")
    produce()
    stack.start_service("followup", **dict(stack._start_env["followup"],
                                           CONSUMER_SET_APPLY=mode,
                                           CONSUMER_BATCH_WAIT_MS="300"))
    wait_rows(stack, "SELECT 1 FROM followup.inbox WHERE ce_source = %s", (run.source,),
              count=len(run.fresh), timeout=60)
    return (_metric(stack, "cp_consumer_set_events_total"),
            _metric(stack, "cp_consumer_set_fallbacks_total"))


def _run(stack, mode, t0, poison_clock):
    run = _Run(stack, t0, poison_clock)
    changed, warning, breach = ("cp.complaint.clock_changed", "cp.complaint.sla_warning",
                                "cp.complaint.sla_breached")

    def receipts():
        run.received("A", 0)
        dup = run.received("B", 0, language="zh-CN")
        run.received("B", 0, ce_id=dup)  # delivered twice
        # E's receipt again under a new id (a second round): its acknowledgement is the first's
        run.received("E", 0, text="first words", outlet_id="O-1")
        run.message("E", "repeat", "again please", repeat_count=2)
        run.received("E", 0.5 * HOUR, text="second words", preferred_contact="email")
        # C: a stuck parcel's case (told of the delay, not acknowledged), then adopted
        run.received("C", 0, channel="proactive", customer_ref="cust_" + "cd" * 12,
                     delay_reason="weather", delay_place="Shenzhen", delay_hours=30)
        run.message("C", "adopted", "that is my parcel", customer_ref="cust_" + "cd" * 12,
                    language="en", preferred_contact="sms")
        # D: a proactive case nobody adopted (its first response is not sent)
        run.received("D", 0, channel="proactive", customer_ref="proactive")
        run.message("A", "reply", "call me after 6")

    def classifications():
        run.classified("A", target=run.pb.ComplaintTarget(kind="courier", id="courier-9"))
        run.classified("F", outlet_id="O-7", priority=2)  # before its receipt
        run.classified("B", category="transport", subcategory="delay", priority=4)
        run.classified("B", priority=2, outlet_id="O-2")  # again: the last category, the
        # lowest priority
        run.assignment("A", "cp.complaint.escalated", "escalated", staff=["sup-a", "sup-b"],
                       reason="sla_breach:accept")
        run.assignment("B", "cp.complaint.escalated", "escalated", staff=["sup-c"])
        run.assignment("B", "cp.complaint.escalated", "escalated", staff=["", "sup-d"], rnd=2)
        # B: offered twice in one batch (the second round tells ag-4 the offer lapsed), then
        # accepted and transferred (the owner moves twice)
        run.assignment("B", "cp.complaint.offered", "offered", staff=["ag-4", "ag-5"])
        run.assignment("B", "cp.complaint.offered", "offered", staff=["ag-6", "ag-5"], rnd=2)
        run.assignment("B", "cp.complaint.assigned", "accepted", owner="ag-6", reason="took it")
        run.assignment("B", "cp.complaint.assigned", "reassigned", owner="ag-7", reason="by_hand")
        run.assignment("E", "cp.complaint.offered", "offered", staff=["ag-1", "ag-2"])
        run.assignment("E", "cp.complaint.assigned", "accepted", owner="ag-2")
        run.first("A", "we are on it", 0.1 * HOUR)
        run.first("B", "first text", 0.2 * HOUR)
        run.first("B", "second text", 0.1 * HOUR)  # earlier time kept, first message kept
        run.first("C", "sorry for the delay", 0.1 * HOUR)
        run.first("D", "nobody to tell", 0.1 * HOUR)

    def later():
        run.evidence("A", "cp.complaint.evidence_collected", "courier", party_id="courier-9")
        run.evidence("A", "cp.complaint.evidence_updated", "courier", preliminary=False,
                     party_id="courier-9")
        run.evidence("B", "cp.complaint.evidence_updated", "sorting_centre", preliminary=False)
        dup = run.evidence("B", "cp.complaint.evidence_updated", "unknown")
        run.evidence("B", "cp.complaint.evidence_updated", "unknown", ce_id=dup)
        run.sla("A", changed, "accept", "started")
        run.sla("A", warning, "first_response", "warning")
        run.sla("A", breach, "first_response", "breach", level=1)
        run.sla("E", breach, "accept", "breach", level=2)  # E is owned: ag-2 is told
        run.sla("E", warning, "resolution", "warning")
        run.resolution("A", "cp.complaint.resolution_proposed", "pending_approval")
        run.resolution("E", "cp.complaint.resolution_approved", "approved")
        run.overdue("E")

    def poison():
        run.received("F", 0)
        run.sla("B", warning, "resolution", "warning")
        run.sla("F", breach, poison_clock, "breach", level=1, good=False)  # refused
        run.sla("E", breach, "resolution", "breach", level=3)

    counts = []
    with stack.consumer(DLQ, from_beginning=False) as dlq:
        for produce in (receipts, classifications, later, poison):
            counts.append(_backlog(stack, mode, run, produce))
        reasons = dead_letter_reasons(dlq, run.refused, "cp-followup")
    return run, counts, sorted((run.refused[k], v.replace(poison_clock, "poison"))
                               for k, v in reasons.items())


QUERIES = {
    # the times follow-up takes from the clock (now()) only as whether they are set
    "cases": "SELECT complaint_id::text, complaint_no, customer_ref, language, channel, "
             "outlet_id, category, subcategory, priority, owner_staff_id, status, is_repeat, "
             "repeat_count, escalation_level, reopen_count, responsible_party, "
             "compensation_fen, received_at, first_response_at, assigned_at, "
             "evidence_at IS NOT NULL, proposed_at IS NOT NULL, executed_at IS NOT NULL, "
             "waybill_no, description, preferred_contact, target_staff_id, first_response_s, "
             "accept_s, verification_s, needs_person_answer, offered_at, verified_at, "
             "responsible_courier_id, escalated_staff_id FROM followup.cases "
             "WHERE complaint_id = ANY(%s::uuid[])",
    # the events' history (the delivery's own rows, written when a message went out, are
    # checked by _told)
    "history": "SELECT complaint_id::text, ce_type, detail FROM followup.case_events "
               "WHERE complaint_id = ANY(%s::uuid[]) AND ce_type <> "
               "'cp.complaint.customer_notified' ORDER BY id",
    "sla_events": "SELECT complaint_id::text, clock, kind FROM followup.sla_events "
                  "WHERE complaint_id = ANY(%s::uuid[]) ORDER BY id",
    "messages": "SELECT complaint_id::text, author, text, source FROM followup.messages "
                "WHERE complaint_id = ANY(%s::uuid[]) ORDER BY id",
    # what the events queued (delivery changes the status, the channel and the attempts)
    "notifications": "SELECT complaint_id::text, complaint_no, customer_ref, recipient, step, "
                     "round, language, body, vars, sent_by, event_id FROM "
                     "followup.notifications WHERE complaint_id = ANY(%s::uuid[]) ORDER BY id",
}


def _topic(ce_type):
    """The topic an event type travels on (history rows are compared in their order per
    complaint and topic: Kafka orders a key's events within a topic, never across topics)."""
    for part, topic in (("received", "r"), ("message_added", "r"), ("evidence_request", "q"),
                        ("evidence", "e"), ("sla", "s"), ("clock", "s"), ("resolution", "p")):
        if part in ce_type:
            return topic
    return "c"


def _rows(stack, run):
    """The run's rows, its complaint ids, numbers and event ids replaced by labels; ordered
    per complaint (and topic) in the order written (a stable sort keeps the ids' order), the
    notifications as a set (each is one per case, recipient, step, round and event)."""
    names = {v: k for k, v in run.ids.items()}
    names.update({v: f"no-{k}" for k, v in run.nos.items()})
    names.update({v: f"event-{i}" for i, v in enumerate(run.sent)})

    def norm(v):
        return names.get(v, v) if isinstance(v, str) else v

    out = {}
    with stack.db() as db:
        for table, sql in QUERIES.items():
            rows = db.execute(sql, (list(run.ids.values()),)).fetchall()
            rows = [tuple(norm(v) for v in row) for row in rows]
            # a body names the complaint number
            rows = [tuple(v.replace(run.nos[r[0]], "no") if isinstance(v, str) and
                          r[0] in run.nos else v for v in r) for r in rows]
            if table == "history":
                out[table] = sorted(rows, key=lambda r: (r[0], _topic(r[1])))
            elif table == "notifications":
                out[table] = sorted(rows, key=repr)
            else:
                out[table] = sorted(rows, key=lambda r: r[0])
    return out


def _told(stack, run):
    """Every customer's message the delivery settled (sent, or given up) has one history row
    naming its step, status and channel, written in the same transaction (the delivery writes
    a batch's rows with one insert)."""
    ids = [run.ids[k] for k in "ABCE"]
    wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = ANY(%s::uuid[]) "
              "AND recipient = 'customer' AND status <> 'queued'", (ids,), count=4, timeout=60)
    with stack.db() as db:
        with db.transaction():
            sent = db.execute(
                "SELECT complaint_id::text, jsonb_build_object('step', step, 'status', status, "
                "'channel', channel) FROM followup.notifications WHERE complaint_id = "
                "ANY(%s::uuid[]) AND recipient = 'customer' AND status <> 'queued'",
                (ids,)).fetchall()
            told = db.execute(
                "SELECT complaint_id::text, detail FROM followup.case_events WHERE "
                "complaint_id = ANY(%s::uuid[]) AND ce_type = 'cp.complaint.customer_notified'",
                (ids,)).fetchall()
    assert sorted(told, key=repr) == sorted(sent, key=repr), (told, sent)
    return len(told)


def test_followup_sets_and_the_one_event_path_store_identical_rows(stack):
    t0 = float(int(datetime.datetime.now(datetime.timezone.utc).timestamp()))
    poison_clock = f"poison{uuid.uuid4().hex[:6]}"
    with refusing(stack, "followup.sla_events", f"clock <> '{poison_clock}'", "followup",
                  stopped=STOPPED):
        one, one_counts, one_dead = _run(stack, "false", t0, poison_clock)
        got, got_counts, got_dead = _run(stack, "true", t0, poison_clock)
        # before the stopped services come back and answer the runs' events with their own
        a, b = _rows(stack, one), _rows(stack, got)
        assert _told(stack, one) >= 4 and _told(stack, got) >= 4
    # only the set run applied events as sets; its clean backlogs never fell back, and the
    # backlog with the refused event did (metrics are per process: each backlog starts one)
    assert all(c == (0, 0) for c in one_counts), one_counts
    assert [c[1] for c in got_counts[:3]] == [0, 0, 0], got_counts
    assert got_counts[0][0] >= 9 and got_counts[1][0] >= 18 and got_counts[2][0] >= 12
    assert got_counts[3][1] > 0, got_counts
    for table in QUERIES:
        assert b[table] == a[table], table
    # what both stored (so the comparison is not between two empty tables)
    cases = {r[0]: r for r in b["cases"]}
    assert sorted(cases) == list("ABCDEF")
    assert cases["B"][5:9] == ("O-2", "service", "damage", 2), cases["B"]
    # two escalations; the second named nobody first: the supervisor stays
    assert cases["B"][13] == 2 and cases["B"][34] == "sup-c", cases["B"]
    assert cases["B"][15] == "sorting_centre"  # 'unknown' later keeps the known party
    assert cases["B"][9] == "ag-7" and cases["B"][19] is not None, cases["B"]
    assert cases["B"][31] is not None, cases["B"]
    assert cases["E"][24] == "second words" and cases["E"][5] == "O-1", cases["E"]
    assert cases["E"][9] == "ag-2" and cases["E"][13] == 3, cases["E"]
    assert cases["A"][33] == "courier-9" and cases["A"][26] == "courier-9", cases["A"]
    assert cases["C"][25] == "sms", cases["C"]  # adopted
    assert cases["F"][5] == "O-7" and cases["F"][17] is not None, cases["F"]
    notes = sorted((r[0], r[3], r[4], r[5]) for r in b["notifications"])
    assert notes == sorted([
        ("A", "customer", "received", 0), ("A", "customer", "first_response", 0),
        ("A", "staff:sup-a", "staff_escalated", 1), ("A", "staff:sup-b", "staff_escalated", 1),
        ("A", "customer", "evidence_found", 0),
        ("A", "staff:sup-a", "staff_plan_approval", 0),
        ("B", "customer", "received", 0), ("B", "customer", "first_response", 0),
        ("B", "staff:sup-c", "staff_escalated", 1), ("B", "staff:sup-d", "staff_escalated", 2),
        ("B", "customer", "evidence_found", 0),
        ("B", "staff:ag-4", "staff_offered", 1), ("B", "staff:ag-5", "staff_offered", 1),
        ("B", "staff:ag-4", "staff_offer_expired", 2), ("B", "staff:ag-6", "staff_offered", 2),
        ("B", "staff:ag-5", "staff_offered", 2), ("B", "staff:ag-6", "staff_assigned", 0),
        ("B", "customer", "owner_assigned", 0), ("B", "staff:ag-7", "staff_transferred", 0),
        ("B", "staff:ag-7", "staff_sla_warning", 0),
        ("C", "customer", "delay_notice", 0), ("C", "customer", "first_response", 0),
        ("E", "customer", "received", 0), ("E", "staff:ag-1", "staff_offered", 1),
        ("E", "staff:ag-2", "staff_offered", 1), ("E", "staff:ag-2", "staff_assigned", 0),
        ("E", "customer", "owner_assigned", 0), ("E", "staff:ag-2", "staff_sla_breach", 0),
        ("E", "staff:ag-2", "staff_sla_warning", 0), ("E", "staff:ag-2", "staff_sla_breach", 0),
        ("E", "customer", "plan_proposed", 0), ("E", "staff:ag-2", "staff_evidence_overdue", 0),
        ("F", "customer", "received", 0),
    ]), notes
    firsts = [r[8] for r in b["notifications"] if r[0] == "B" and r[4] == "first_response"]
    assert firsts == [{"text": "first text"}], firsts
    assert [r[1:] for r in b["sla_events"] if r[0] == "A"] == [
        ("first_response", "warning"), ("first_response", "breach")]
    assert not [r for r in b["history"] if r[1] == "cp.complaint.clock_changed"]
    # the refused event was dead-lettered alone, for the reason the one-event path gives
    assert got_dead == one_dead, (got_dead, one_dead)
    assert [r[0] for r in got_dead] == ["F"] and "apply failed" in got_dead[0][1], got_dead
