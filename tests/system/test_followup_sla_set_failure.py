"""A set of clock warnings whose staff message PostgreSQL refuses after the set's clock events
were stored (services/followup/handlers.c on_sla_set): the set falls back to the one-event path
and the refused event is dead-lettered alone, follow-up keeps running. The set's first result
was once cleared a second time when the message failed (a double free that aborted follow-up).

The message is refused by a CHECK on its variables (the warning's clock is its text); the case
is owned (an acceptance first), so the warning's owner is told and the insert is tried."""

import datetime
import random
import string
import uuid

from helpers import wait_rows

DLQ = "complaint.deadletter.v1"


def test_a_refused_clock_warning_message_costs_its_event_only(stack):
    poison = "poison" + "".join(random.choice(string.ascii_lowercase) for _ in range(8))
    constraint = f"test_refuses_{poison}"
    source = f"/test/slaset-{uuid.uuid4().hex[:8]}"
    cid = str(uuid.uuid4())
    ids = dict(complaint_id=cid, complaint_no=f"CPS{cid[:8]}")
    due = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    due = due.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def send(topic, ce_type, msg):
        ce_id = str(uuid.uuid4())
        stack.produce(topic, cid, msg.SerializeToString(),
                      stack.ce_headers(ce_type, source=source, id=ce_id))
        return ce_id

    def warning(clock):
        ev = stack.proto.SlaEvent(**ids, clock=clock, kind="warning", escalation_level=0,
                                  due_at=due)
        return send("complaint.sla.v1", "cp.complaint.sla_warning", ev)

    with stack.db() as db:
        db.execute(f"ALTER TABLE followup.notifications ADD CONSTRAINT {constraint} "
                   f"CHECK (vars->>'text' IS DISTINCT FROM '{poison}')")
    try:
        send("complaint.classified.v1", "cp.complaint.assigned",
             stack.proto.ComplaintAssignment(**ids, action="accepted", owner_staff_id="ag-sla",
                                             round=1, at=due))
        wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s AND "
                  "owner_staff_id = 'ag-sla'", (cid,))
        with stack.consumer(DLQ, from_beginning=False) as dlq:
            refused = warning(poison)
            m = dlq.poll_until(lambda m: m.headers.get("ce_id") == refused
                               and m.headers.get("dlq_group") == "cp-followup", timeout=60)
        assert "apply failed" in m.headers["dlq_reason"], m.headers["dlq_reason"]
        assert stack.is_running("followup")
        # the events after it are applied as before
        warning("resolution")
        wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND "
                  "recipient = 'staff:ag-sla' AND step = 'staff_sla_warning'", (cid,))
        with stack.db() as db:
            clocks = db.execute("SELECT clock FROM followup.sla_events WHERE complaint_id = %s "
                                "ORDER BY id", (cid,)).fetchall()
        assert clocks == [("resolution",)], clocks
    finally:
        with stack.db() as db:
            db.execute(f"ALTER TABLE followup.notifications DROP CONSTRAINT IF EXISTS "
                       f"{constraint}")
        if not stack.is_running("followup"):
            stack.start_service("followup", **stack._start_env["followup"])
