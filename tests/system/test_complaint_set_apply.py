"""Set-based apply of complaint events (issue 14): the timer's receipts and classifications
applied as sets (a few statements per batch) leave the SAME rows and announce the same clock
snapshots as the one-event path (CONSUMER_SET_APPLY=false), for backlogs with several
complaints, a complaint classified twice in one batch (its two events apply one after the
other), a classification before its receipt, the same event delivered twice, a receipt sent
again under a new event id, an event whose complaint number belongs to another complaint
(dead-lettered alone) and a poison event that PostgreSQL refuses (dead-lettered alone, the rest
applied). The timer is stopped while each backlog is produced, so it meets it as one batch;
classification is stopped for the test so that no real classification joins in."""

import datetime
import uuid

import requests

from helpers import SetRun, dead_letter_reasons, refusing, wait_rows

HOUR = 3600.0
DLQ = "complaint.deadletter.v1"


def _iso(ts: float) -> str:
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _metric(stack, service, name, topic):
    text = requests.get(stack.service_url(service) + "/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and f'topic="{topic}"' in line)


POLICY_1 = dict(sla_policy="set-p1", first_response_s=3600, verification_s=7200,
                resolution_s=86400, regulatory_s=172800, accept_s=300, whole_cycle_s=259200,
                pausable_clocks=["resolution"], working_time_clocks=["resolution"],
                calendar="cn-mainland")
# a second classification: shorter, without verification (that clock stops), calendar time
POLICY_2 = dict(sla_policy="set-p2", first_response_s=1800, verification_s=0,
                resolution_s=43200, regulatory_s=172800, accept_s=300, whole_cycle_s=259200)


class _Run(SetRun):
    """One run of the scenario: its complaints (by label), its event source, what it sent."""

    def __init__(self, stack, t0, poison_no):
        self.stack, self.t0 = stack, t0
        self.source = f"/test/sets-{uuid.uuid4().hex[:8]}"
        self.ids = {k: str(uuid.uuid4()) for k in "ABCDEFG"}
        self.nos = {k: f"CPS{self.ids[k][:8]}" for k in "ABCDEF"}
        self.ids["P"], self.nos["P"] = str(uuid.uuid4()), poison_no
        self.nos["G"] = self.nos["A"]  # G names A's number: dead-lettered
        self.fresh = set()  # the (distinct) event ids that must be applied
        self.refused = {}  # event id -> label, dead-lettered

    def received(self, label, at, **kw):
        ev = self.stack.proto.ComplaintReceived(
            complaint_id=self.ids[label], complaint_no=self.nos[label], channel="web",
            waybill_no="", customer_ref="cust_settest", role="recipient", type=1,
            language="zh-CN", description_redacted="包裹破损", demand=["compensation"],
            received_at=_iso(self.t0 + at))
        return self.send("complaint.received.v1", "cp.complaint.received", label, ev, **kw)

    def classified(self, label, at, policy, **kw):
        ev = self.stack.proto.ComplaintClassified(
            complaint_id=self.ids[label], complaint_no=self.nos[label],
            classified_at=_iso(self.t0 + at), category="service", subcategory="damage",
            tier="standard", priority=3, **policy)
        return self.send("complaint.classified.v1", "cp.complaint.classified", label, ev, **kw)


def _backlog(stack, mode, run, produce):
    """Produces a backlog while the timer is stopped, then lets it apply it as one batch."""
    stack.stop_service("timer")
    produce()
    stack.start_service("timer", **dict(stack._start_env["timer"], CONSUMER_SET_APPLY=mode,
                                        CONSUMER_BATCH_WAIT_MS="300"))
    wait_rows(stack, "SELECT 1 FROM timer.inbox WHERE ce_source = %s", (run.source,),
              count=len(run.fresh), timeout=60)


def _metrics(stack, name):
    return sum(_metric(stack, "timer", name, t)
               for t in ("complaint.received.v1", "complaint.classified.v1"))


def _run(stack, mode, t0, poison_no):
    """Three clean backlogs (the set path when mode is true), then one with poison events and
    one with a collision among good ones (a set falls back to the one-event path for those)."""
    run = _Run(stack, t0, poison_no)
    sets, fallbacks = [], []
    with stack.consumer(DLQ, from_beginning=False) as dlq:
        def first():
            run.classified("B", 1 * HOUR, POLICY_1)
            run.classified("C", 1 * HOUR, POLICY_1)
            run.classified("C", 2 * HOUR, POLICY_2)  # the same complaint again: a re-plan
            dup = run.classified("D", 1 * HOUR, POLICY_1)
            run.classified("D", 1 * HOUR, POLICY_1, ce_id=dup)  # delivered twice

        def second():
            run.received("A", 0)
            run.received("B", 0)  # after its classification: the start moves to the receipt
            run.received("C", 0.5 * HOUR)
            run.received("D", 0)
            dup = run.received("E", 0)
            run.received("E", 0, ce_id=dup)
            run.received("A", 0.25 * HOUR)  # sent again under a new id: received_at stays

        def third():
            run.classified("A", 1 * HOUR, POLICY_1)
            run.classified("E", 1 * HOUR, POLICY_2)
            run.classified("E", 3 * HOUR, POLICY_1)

        def poison():
            run.received("F", 0)
            run.received("P", 0, good=False)  # PostgreSQL refuses it
            run.received("B", 0.5 * HOUR)
            run.classified("P", 1 * HOUR, POLICY_1, good=False)

        def collision():
            run.classified("F", 1 * HOUR, POLICY_2)
            run.classified("G", 1 * HOUR, POLICY_1, good=False)  # A's number: collides
            run.classified("D", 2 * HOUR, POLICY_2)

        for produce in (first, second, third, poison, collision):
            _backlog(stack, mode, run, produce)
            sets.append(_metrics(stack, "cp_consumer_set_events_total"))
            fallbacks.append(_metrics(stack, "cp_consumer_set_fallbacks_total"))
        reasons = dead_letter_reasons(dlq, run.refused, "cp-timer")
    # the reasons name the run's ids and numbers; the first line is the reason itself (a
    # failing row's detail shows the moment it was written)
    names = {v: k for k, v in run.ids.items()}
    names.update({v: f"no-{k}" for k, v in run.nos.items() if k in "ABCDEF"})
    for k, v in reasons.items():
        v = v.split("\n")[0]
        for value, label in names.items():
            v = v.replace(value, label)
        reasons[k] = v
    return run, sets, fallbacks, sorted((run.refused[k], v) for k, v in reasons.items())


QUERIES = {
    "cases": "SELECT complaint_id::text, complaint_no, received_at, classified_at, classified, "
             "sla_policy, first_response_s, verification_s, resolution_s, regulatory_s, "
             "pausable_clocks, accept_s, whole_cycle_s, next_update_s, working_time_clocks, "
             "calendar, offered_at, awaiting_since, owner_staff_id FROM timer.cases "
             "WHERE complaint_id = ANY(%s::uuid[])",
    "clocks": "SELECT complaint_id::text, clock, complaint_no, state, duration_s, "
              "escalation_level, warned, pausable, calendar, stopped_by, started_at, "
              "counted_from, used_ms, level_base_ms, paused_at, paused_ms, stopped_at, due_at, "
              "warn_at FROM timer.clocks WHERE complaint_id = ANY(%s::uuid[])",
    "stops": "SELECT complaint_id::text, clock, stopped_at, stopped_by FROM timer.stops "
             "WHERE complaint_id = ANY(%s::uuid[])",
}


def _rows(stack, run):
    """The run's rows and snapshots, its complaint ids and numbers replaced by their labels."""
    names = {v: k for k, v in run.ids.items()}
    names.update({v: f"no-{k}" for k, v in run.nos.items() if k not in "GP"})

    def norm(v):
        return names.get(v, v) if isinstance(v, str) else v

    out = {}
    ids = list(run.ids.values())
    with stack.db() as db:
        for table, sql in QUERIES.items():
            rows = db.execute(sql, (ids,)).fetchall()
            out[table] = sorted((tuple(norm(v) for v in row) for row in rows), key=repr)
        snaps = db.execute("SELECT msg_key, payload FROM timer.outbox WHERE ce_type = "
                           "'cp.complaint.clock_changed' AND msg_key = ANY(%s) ORDER BY id",
                           (ids,)).fetchall()
    # per complaint in the order announced (fired_at and used_s are the moment of writing)
    out["snapshots"] = {}
    for key, payload in snaps:
        ev = stack.proto.SlaEvent.FromString(bytes(payload))
        out["snapshots"].setdefault(names[key], []).append(
            (ev.clock, ev.kind, ev.state, ev.due_at, ev.started_at, ev.duration_s,
             ev.escalation_level, ev.stopped_by, ev.calendar, ev.paused_s, norm(ev.complaint_no)))
    return out


def test_timer_sets_and_the_one_event_path_store_identical_rows(stack):
    # a day ahead: no clock of the scenario falls due (nor warns) while the test runs
    t0 = float(int(datetime.datetime.now(datetime.timezone.utc).timestamp())) + 24 * HOUR
    poison_no = f"CPX{uuid.uuid4().hex[:8]}"
    with refusing(stack, "timer.cases", f"complaint_no <> '{poison_no}'", "timer",
                  stopped=["classification"]):
        one, one_sets, one_falls, one_dlq = _run(stack, "false", t0, poison_no)
        got, got_sets, got_falls, got_dlq = _run(stack, "true", t0, poison_no)
    # the paths really differed: only the set run applied the clean backlogs as sets (all of
    # their fresh events), and its backlogs with a refused event fell back
    assert one_sets == [0] * 5 and one_falls == [0] * 5, (one_sets, one_falls)
    # (at least: a stray event of an earlier test may join a backlog)
    assert got_sets[0] >= 4 and got_sets[1] >= 6 and got_sets[2] >= 3, got_sets
    assert got_falls[:3] == [0, 0, 0], got_falls
    assert all(f > 0 for f in got_falls[3:]), got_falls
    a, b = _rows(stack, one), _rows(stack, got)
    for table in ("cases", "clocks", "stops", "snapshots"):
        assert b[table] == a[table], table
    # what both stored: every good complaint has its case, G and P nothing
    assert sorted(r[0] for r in b["cases"]) == ["A", "B", "C", "D", "E", "F"]
    assert not [r for r in b["clocks"] if r[0] in ("G", "P")]
    clocks = {(r[0], r[1]): r for r in b["clocks"]}
    # C's second policy dropped verification and re-planned resolution on calendar time
    assert clocks[("C", "verification")][3] == "stopped"
    assert clocks[("C", "verification")][9] == "cp.complaint.classified"
    assert clocks[("C", "resolution")][4] == 43200 and clocks[("C", "resolution")][8] is None
    assert clocks[("A", "resolution")][8] == "cn-mainland"
    cases = {r[0]: r for r in b["cases"]}
    assert cases["A"][2] == datetime.datetime.fromtimestamp(t0, datetime.timezone.utc)
    assert cases["E"][5] == "set-p1" and cases["D"][5] == "set-p2"
    # each refused event was dead-lettered alone, for the reason the one-event path gives
    assert got_dlq == one_dlq, (got_dlq, one_dlq)
    assert [r[0] for r in got_dlq] == ["G", "P", "P"], got_dlq
    assert got_dlq[0][1] == "invalid event: complaint_no no-A belongs to complaint A, not G"
    assert all("apply failed" in r[1] for r in got_dlq[1:]), got_dlq


# ---- intake: the timer's clock events (complaint.sla.v1) ----------------------------------

INTAKE_QUERIES = {
    "case_clocks": "SELECT complaint_id::text, clock, state, due_at, started_at, duration_s, "
                   "used_s, paused_s, calendar, escalation_level, warned, breached, stopped_by "
                   "FROM intake.case_clocks WHERE complaint_id = ANY(%s::uuid[])",
    "next_due": "SELECT id::text, next_due_at, next_due_clock FROM intake.complaints "
                "WHERE id = ANY(%s::uuid[])",
}


class _SlaRun(_Run):
    """Synthetic complaints only intake knows (no other service acts on them)."""

    def __init__(self, stack, t0, poison_clock):
        super().__init__(stack, t0, "")
        self.ids = {k: str(uuid.uuid4()) for k in "XYZWV"}
        self.nos = {k: f"CPS{self.ids[k][:8]}" for k in "XYZW"}
        self.nos["V"] = self.nos["X"]  # V names X's number: dead-lettered
        self.poison_clock = poison_clock
        with stack.db() as db:
            for k in "XYZ":
                db.execute("INSERT INTO intake.complaints (id, complaint_no, channel, "
                           "waybill_no, customer_ref, complainant_name, complainant_phone, "
                           "role, language, preferred_contact, description, type, impact, "
                           "demand, priority) VALUES (%s, %s, 'web', '', 'cust_settest', '', "
                           "'', 'recipient', 'zh-CN', 'app', 'set test', 'delay', '{}', '{}', "
                           "5)", (self.ids[k], self.nos[k]))

    def sla(self, label, ce_type, clock, kind, due, next_due=None, level=0, state="",
            ce_id=None, good=True, **f):
        ev = self.stack.proto.SlaEvent(
            complaint_id=self.ids[label], complaint_no=self.nos[label], clock=clock, kind=kind,
            due_at=_iso(self.t0 + due), escalation_level=level,
            escalated_to=("agent", "outlet_manager", "regional_supervisor", "hq")[level],
            fired_at=_iso(self.t0), next_due_at="" if next_due is None else _iso(
                self.t0 + next_due), state=state, started_at=_iso(self.t0), **f)
        return self.send("complaint.sla.v1", ce_type, label, ev, ce_id=ce_id, good=good)

    def changed(self, label, clock, kind, due, state="running", **f):
        return self.sla(label, "cp.complaint.clock_changed", clock, kind, due, state=state,
                        duration_s=3600, **f)


def _sla_backlog(stack, mode, run, produce):
    stack.stop_service("intake")
    produce()
    stack.start_service("intake", **dict(stack._start_env["intake"], CONSUMER_SET_APPLY=mode,
                                          CONSUMER_BATCH_WAIT_MS="300"))
    wait_rows(stack, "SELECT 1 FROM intake.inbox WHERE ce_source = %s", (run.source,),
              count=len(run.fresh), timeout=60)
    return (_metric(stack, "intake", "cp_consumer_set_events_total", "complaint.sla.v1"),
            _metric(stack, "intake", "cp_consumer_set_fallbacks_total", "complaint.sla.v1"))


def _sla_run(stack, mode, t0, poison_clock):
    run = _SlaRun(stack, t0, poison_clock)
    warning, breach = "cp.complaint.sla_warning", "cp.complaint.sla_breached"

    def clean():
        # X: two clocks; one warns, breaches, is re-armed and stopped, all in one batch
        run.changed("X", "first_response", "started", HOUR)
        run.changed("X", "resolution", "started", 24 * HOUR)
        run.sla("X", warning, "first_response", "warning", HOUR)
        run.sla("X", breach, "first_response", "breach", HOUR, next_due=2 * HOUR, level=1)
        run.changed("X", "first_response", "replanned", 2 * HOUR, level=1)
        run.changed("X", "first_response", "stopped", 2 * HOUR, state="stopped",
                    stopped_by="cp.complaint.contacted")
        # Y: a breach before its clock's snapshot, then the ladder exhausted
        run.sla("Y", breach, "verification", "breach", HOUR, next_due=3 * HOUR, level=1)
        run.changed("Y", "verification", "started", 3 * HOUR, level=1)
        run.sla("Y", breach, "verification", "breach", 3 * HOUR, level=3)
        # Z: a snapshot delivered twice, a paused clock
        dup = run.changed("Z", "whole_cycle", "started", 72 * HOUR)
        run.changed("Z", "whole_cycle", "started", 72 * HOUR, ce_id=dup)
        run.changed("Z", "regulatory", "paused", 48 * HOUR, state="paused")
        # W: a complaint intake does not know (its clock is kept, no timeline step)
        run.sla("W", breach, "resolution", "breach", HOUR, next_due=5 * HOUR, level=1)

    def refused():
        run.changed("X", "accept", "started", 0.5 * HOUR)
        run.changed("Y", poison_clock, "started", HOUR, good=False)  # PostgreSQL refuses it
        run.changed("V", "accept", "started", HOUR, good=False)  # X's number: collides
        run.sla("Z", breach, "whole_cycle", "breach", 72 * HOUR, next_due=96 * HOUR, level=1)

    with stack.consumer(DLQ, from_beginning=False) as dlq:
        counts = [_sla_backlog(stack, mode, run, clean), _sla_backlog(stack, mode, run, refused)]
        reasons = dead_letter_reasons(dlq, run.refused, "cp-intake")
    names = {v: k for k, v in run.ids.items()}
    names.update({v: f"no-{k}" for k, v in run.nos.items() if k != "V"})

    def norm(v):
        for value, label in names.items():
            v = v.replace(value, label) if isinstance(v, str) else v
        return v

    rows = {}
    ids = list(run.ids.values())
    with stack.db() as db:
        for table, sql in INTAKE_QUERIES.items():
            rows[table] = sorted((tuple(norm(v) for v in r) for r in
                                  db.execute(sql, (ids,)).fetchall()), key=repr)
        # per complaint in the order written (a stable sort by label keeps the ids' order)
        rows["timeline"] = sorted((tuple(norm(v) for v in r) for r in db.execute(
            "SELECT complaint_id::text, step, detail, actor, visibility FROM intake.timeline "
            "WHERE complaint_id = ANY(%s::uuid[]) ORDER BY id", (ids,)).fetchall()),
            key=lambda r: r[0])
    dead = sorted((run.refused[k], norm(v)) for k, v in reasons.items())
    return counts, rows, dead


def test_intake_clock_event_sets_and_the_one_event_path_store_identical_rows(stack):
    t0 = float(int(datetime.datetime.now(datetime.timezone.utc).timestamp()))
    poison_clock = f"poison{uuid.uuid4().hex[:6]}"
    with refusing(stack, "intake.case_clocks", f"clock <> '{poison_clock}'", "intake"):
        one_counts, one, one_dead = _sla_run(stack, "false", t0, poison_clock)
        got_counts, got, got_dead = _sla_run(stack, "true", t0, poison_clock)
    # only the set run applied the clean backlog as a set (its 12 fresh events), and fell
    # back to one event at a time for the backlog with refused events
    assert one_counts == [(0, 0), (0, 0)], one_counts
    assert got_counts[0][0] >= 12 and got_counts[0][1] == 0, got_counts
    assert got_counts[1][1] > 0, got_counts
    for table in ("case_clocks", "next_due", "timeline"):
        assert got[table] == one[table], table
    clocks = {(r[0], r[1]): r for r in got["case_clocks"]}
    assert clocks[("X", "first_response")][2] == "stopped"
    assert clocks[("X", "first_response")][10:12] == (True, True)  # warned, then breached
    # the breach before the snapshot created the row; the last one raised it to HQ (the
    # timer's next snapshot brings the state)
    assert clocks[("Y", "verification")][9:12] == (3, False, True)
    assert clocks[("W", "resolution")][11] is True
    assert clocks[("Z", "whole_cycle")][3] == datetime.datetime.fromtimestamp(
        t0 + 96 * HOUR, datetime.timezone.utc)
    due = {r[0]: r[1:] for r in got["next_due"]}
    # X: first_response stopped, accept (0.5 h) is the nearest running deadline
    assert due["X"] == (datetime.datetime.fromtimestamp(t0 + 0.5 * HOUR, datetime.timezone.utc),
                        "accept")
    steps = [(r[0], r[1], r[2]["clock"]) for r in got["timeline"]]
    assert sorted(steps) == [("X", "sla_breached", "first_response"),
                             ("Y", "sla_breached", "verification"),
                             ("Y", "sla_breached", "verification"),
                             ("Z", "sla_breached", "whole_cycle")], steps
    assert got_dead == one_dead, (got_dead, one_dead)
    assert [r[0] for r in got_dead] == ["V", "Y"], got_dead
    assert got_dead[0][1] == "invalid event: complaint_no no-X belongs to complaint X, not V"
    assert "apply failed" in got_dead[1][1]
