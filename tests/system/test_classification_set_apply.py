"""Set-based apply of received complaints in classification (issue 14): a backlog of
cp.complaint.received applied as a set (a constant number of statements per batch) leaves the
SAME rows (classifications, assignments, offers, exclusions) and the same announcements per
complaint (classified, offered, first response) as the one-event path
(CONSUMER_SET_APPLY=false). The backlogs hold: a parcel with a known position (the nearest
staff, its latest scan in the first response), a complainant's outlet without a position (the
outlet's staff average), a VIP customer, a complaint about a courier (excluded before the first
round), no position and no outlet (the nearest outlet), the same event delivered twice, a
complaint received again under a new id in the same batch and in a later one (classified
once), an event whose complaint number belongs to another complaint (dead-lettered alone) and
a poison event PostgreSQL refuses (dead-lettered alone, the rest applied). Classification is
stopped while each backlog is produced, so it meets it as one batch. Complaints nobody can be
offered are escalated at once, in both paths."""

import datetime
import re
import uuid

import requests
from google.protobuf.json_format import MessageToDict

from helpers import dead_letter_reasons, refusing, wait_rows

DLQ = "complaint.deadletter.v1"
TOPIC = "complaint.received.v1"
OUTLET = f"SET-OUT-{uuid.uuid4().hex[:6]}"
ORIGIN = (-33.0, 151.0)  # far from any seeded staff: the nearest are this test's
STAFF = [f"SET{uuid.uuid4().hex[:5]}-{i}" for i in range(5)]
CUSTOMER_VIP = f"cust_setvip_{uuid.uuid4().hex[:6]}"
# the same in both runs (it is stored with the event), and a day ahead: no clock the timer
# starts from it falls due (and escalates) while the test runs
RECEIVED_AT = (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
               + datetime.timedelta(days=1)).isoformat().replace("+00:00", "Z")


def _metric(stack, name):
    text = requests.get(stack.service_url("classification") + "/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and f'topic="{TOPIC}"' in line)


class _Run:
    """One run: its complaints and waybills by label, its event source, what it sent."""

    def __init__(self, stack, poison_no):
        self.stack = stack
        self.source = f"/test/clsets-{uuid.uuid4().hex[:8]}"
        self.ids = {k: str(uuid.uuid4()) for k in "ABCDEFGHIJKP"}
        self.nos = {k: f"CPC{self.ids[k][:8]}" for k in "ABCDEFHIJK"}
        self.nos["P"] = poison_no
        self.nos["G"] = self.nos["A"]  # G names A's number: dead-lettered
        self.waybills = {k: f"SW{uuid.uuid4().hex[:10].upper()}" for k in "ABCDEFGHIJKP"}
        self.fresh, self.refused = set(), {}
        with stack.db() as db:  # A's and C's parcels were scanned at this test's outlet
            for k, lat in (("A", ORIGIN[0]), ("C", ORIGIN[0] + 0.02)):
                db.execute("INSERT INTO classification.parcel_positions (waybill_no, code, "
                           "facility_id, facility_type, city, lat, lon, occurred_at) VALUES "
                           "(%s, 3, %s, 'outlet', 'Setville', %s, %s, '2026-01-02T08:30:00Z')",
                           (self.waybills[k], OUTLET, lat, ORIGIN[1]))
            # I's routing is there before its classification (offers_open leaves it)
            db.execute("INSERT INTO classification.assignments (complaint_id, complaint_no, "
                       "outlet_id, state) VALUES (%s, %s, %s, 'offered')",
                       (self.ids["I"], self.nos["I"], OUTLET))

    def received(self, label, ce_id=None, good=True, **kw):
        fields = dict(complaint_id=self.ids[label], complaint_no=self.nos[label], channel="web",
                      waybill_no=self.waybills[label], customer_ref="cust_settest",
                      role="recipient", type=1, language="zh-CN",
                      description_redacted="包裹破损，里面的杯子碎了", demand=["compensation"],
                      received_at=RECEIVED_AT)
        fields.update(kw)
        ev = self.stack.proto.ComplaintReceived(**fields)
        ce_id = ce_id or str(uuid.uuid4())
        (self.fresh.add(ce_id) if good else self.refused.__setitem__(ce_id, label))
        self.stack.produce(TOPIC, self.ids[label], ev.SerializeToString(),
                           self.stack.ce_headers("cp.complaint.received", source=self.source,
                                                 id=ce_id))
        return ce_id


def _backlog(stack, mode, run, produce):
    """Produces a backlog while classification is stopped, then lets it apply it."""
    stack.stop_service("classification")
    produce()
    stack.start_service("classification", **dict(
        stack._start_env["classification"], CONSUMER_SET_APPLY=mode,
        CONSUMER_BATCH_WAIT_MS="300", OFFER_TIMEOUT_SECONDS="3600"))
    wait_rows(stack, "SELECT 1 FROM classification.inbox WHERE ce_source = %s", (run.source,),
              count=len(run.fresh), timeout=90)
    return (_metric(stack, "cp_consumer_set_events_total"),
            _metric(stack, "cp_consumer_set_fallbacks_total"))


def _run(stack, mode, poison_no):
    run = _Run(stack, poison_no)

    def first():
        run.received("A")  # the parcel's position: the nearest of this test's staff
        run.received("B", outlet_id=OUTLET, customer_ref=CUSTOMER_VIP,
                     description_redacted="快递太慢了，一周还没到", type=2)  # VIP, outlet average
        run.received("C", target=stack.proto.ComplaintTarget(kind="courier", id=STAFF[0]))
        dup = run.received("D", channel="hotline", language="en",
                           description_redacted="The parcel is lost, nobody answers")
        run.received("D", ce_id=dup, channel="hotline", language="en",
                     description_redacted="The parcel is lost, nobody answers")
        run.received("E", outlet_id=OUTLET)
        run.received("E", description_redacted="another text: the first event counts")
        run.received("F")  # no position, no outlet: the nearest outlet
        run.received("I")

    def again():
        run.received("A", description_redacted="received again later: nothing changes")
        run.received("H", outlet_id=OUTLET, channel="app")

    def nobody():
        # this test's staff are away (and other tests leave theirs away): escalated at once
        _staff(stack, False)
        run.received("J", outlet_id=OUTLET)
        run.received("K", target=stack.proto.ComplaintTarget(kind="agent", id=STAFF[1]))

    def refused():
        _staff(stack, True)
        run.received("B", description_redacted="received again with a poison event")
        run.received("P", good=False)  # PostgreSQL refuses it
        run.received("G", good=False)  # A's number: collides

    with stack.consumer(DLQ, from_beginning=False) as dlq:
        counts = [_backlog(stack, mode, run, produce)
                  for produce in (first, again, nobody, refused)]
        reasons = dead_letter_reasons(dlq, run.refused, "cp-classification")
    return run, counts, reasons


def _norm(run):
    names = {v: k for k, v in run.ids.items()}
    names.update({v: f"no-{k}" for k, v in run.nos.items() if k not in "GP"})
    names.update({v: f"wb-{k}" for k, v in run.waybills.items()})

    def norm(v):
        if isinstance(v, dict):
            # the moments of writing differ between the runs; everything else must not
            return {k: norm(x) for k, x in v.items() if not k.endswith("_at")
                    and k not in ("classifiedAt", "at", "nextUpdateBy", "text")}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, str):
            for value, label in names.items():
                v = v.replace(value, label)
        return v
    return norm


TABLES = {
    "classifications": "SELECT to_jsonb(t) FROM classification.classifications t "
                       "WHERE complaint_id = ANY(%s::uuid[])",
    "assignments": "SELECT to_jsonb(t) FROM classification.assignments t "
                   "WHERE complaint_id = ANY(%s::uuid[])",
    "offers": "SELECT to_jsonb(t) FROM classification.offers t "
              "WHERE complaint_id = ANY(%s::uuid[])",
    "excluded": "SELECT to_jsonb(t) FROM classification.excluded_staff t "
                "WHERE complaint_id = ANY(%s::uuid[])",
}
MESSAGES = {"cp.complaint.classified": "ComplaintClassified",
            "cp.complaint.offered": "ComplaintAssignment",
            "cp.complaint.escalated": "ComplaintAssignment",
            "cp.complaint.first_response": "FirstResponse"}


def _rows(stack, run):
    norm, ids = _norm(run), list(run.ids.values())
    out = {}
    with stack.db() as db:
        for table, sql in TABLES.items():
            rows = [norm(r[0]) for r in db.execute(sql, (ids,)).fetchall()]
            for r in rows:  # the received event as stored, compared as its fields
                if r.get("received"):
                    raw = bytes.fromhex(r["received"][2:])
                    r["received"] = norm(MessageToDict(
                        stack.proto.ComplaintReceived.FromString(raw)))
            out[table] = sorted(rows, key=repr)
        msgs = db.execute("SELECT msg_key, ce_type, payload FROM classification.outbox WHERE "
                          "msg_key = ANY(%s) ORDER BY id", (ids,)).fetchall()
    # per complaint in the order announced
    out["announced"] = {}
    for key, ce_type, payload in msgs:
        ev = getattr(stack.proto, MESSAGES[ce_type]).FromString(bytes(payload))
        body = norm(MessageToDict(ev))
        if ce_type == "cp.complaint.first_response":
            # the text names the time of the promised update: its digits differ by the run
            body["text"] = re.sub(r"[0-9]", "#", norm(ev.text))
        out["announced"].setdefault(norm(key), []).append((ce_type, body))
    return out


def _staff(stack, available):
    with stack.db() as db:
        for i, sid in enumerate(STAFF):
            db.execute("INSERT INTO classification.staff (staff_id, outlet_id, role, lat, lon, "
                       "available) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (staff_id) DO "
                       "UPDATE SET available = EXCLUDED.available",
                       (sid, OUTLET, "courier" if i == 0 else "agent", ORIGIN[0],
                        ORIGIN[1] + 0.01 * (i + 1), available))


def test_classification_sets_and_the_one_event_path_store_identical_rows(stack):
    poison_no = f"CPX{uuid.uuid4().hex[:8]}"
    _staff(stack, True)
    with stack.db() as db:
        db.execute("INSERT INTO classification.vip_customers (customer_ref, note) VALUES "
                   "(%s, 'set test') ON CONFLICT DO NOTHING", (CUSTOMER_VIP,))
    with refusing(stack, "classification.classifications", f"complaint_no <> '{poison_no}'",
                  "classification"):
        try:
            one, one_counts, one_dead = _run(stack, "false", poison_no)
            got, got_counts, got_dead = _run(stack, "true", poison_no)
        finally:
            _staff(stack, False)  # nobody of this test is offered other tests' complaints
    # the paths really differed: only the set run applied the clean backlogs as sets (8 fresh
    # events: D's second delivery is a duplicate; then 2), and fell back to one event at a time
    # for the backlog with refused ones (per backlog: the service restarts for each)
    assert one_counts == [(0, 0)] * 4, one_counts
    # (at least: a stray event of an earlier test may join a backlog)
    assert got_counts[0][0] >= 8 and got_counts[1][0] >= 2 and got_counts[2][0] >= 2, got_counts
    assert [c[1] for c in got_counts[:3]] == [0, 0, 0], got_counts
    assert got_counts[3][1] > 0, got_counts
    a, b = _rows(stack, one), _rows(stack, got)
    for table in ("classifications", "assignments", "offers", "excluded", "announced"):
        assert b[table] == a[table], table
    # what both stored: one classification per good complaint, G and P nothing
    cls = {r["complaint_id"]: r for r in b["classifications"]}
    assert sorted(cls) == ["A", "B", "C", "D", "E", "F", "H", "I", "J", "K"], sorted(cls)
    assert cls["B"]["tier"] == "vip" and cls["B"]["outlet_id"] == OUTLET
    assert cls["A"]["outlet_id"] == OUTLET and cls["A"]["text_reader"]
    assert cls["F"]["outlet_id"]  # the nearest available staff member's outlet
    # E's first event counted (the same batch), A's second changed nothing (a later one)
    assert cls["E"]["description_redacted"] == "包裹破损，里面的杯子碎了"
    assert cls["A"]["description_redacted"] == "包裹破损，里面的杯子碎了"
    assert cls["D"]["language"] == "en" and cls["D"]["received"]
    # A was offered to this test's nearest three; C never to the courier it is about
    offered = {}
    for r in b["offers"]:
        offered.setdefault(r["complaint_id"], set()).add(r["staff_id"])
    assert offered["A"] == set(STAFF[:3]), offered
    assert STAFF[0] not in offered["C"] and len(offered["C"]) == 3, offered
    assert sorted((r["complaint_id"], r["staff_id"]) for r in b["excluded"]) == [
        ("C", STAFF[0]), ("K", STAFF[1])]
    kinds = {k: [t for t, _ in v] for k, v in b["announced"].items()}
    assert kinds["A"] == ["cp.complaint.classified", "cp.complaint.offered",
                          "cp.complaint.first_response"], kinds
    assert b["announced"]["C"][1][1]["excludedStaffIds"] == [STAFF[0]]
    # I's routing existed: classified and answered, not offered again
    assert kinds["I"] == ["cp.complaint.classified", "cp.complaint.first_response"], kinds
    assert "I" not in offered
    # J and K found nobody to offer them to: escalated in their first announcement
    assert kinds["J"][:2] == ["cp.complaint.classified", "cp.complaint.escalated"], kinds
    assert kinds["K"][:2] == ["cp.complaint.classified", "cp.complaint.escalated"], kinds
    assert b["announced"]["K"][1][1]["excludedStaffIds"] == [STAFF[1]]
    # each refused event was dead-lettered alone, for the reason the one-event path gives
    names = _norm(got)
    dead = sorted((got.refused[k], names(v)) for k, v in got_dead.items())
    one_names = _norm(one)
    assert dead == sorted((one.refused[k], one_names(v)) for k, v in one_dead.items())
    assert [r[0] for r in dead] == ["G", "P"], dead
    assert dead[0][1] == "invalid event: complaint_no no-A belongs to complaint A, not G"
    assert "apply failed" in dead[1][1]
