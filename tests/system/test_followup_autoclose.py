"""Follow-up with a short survey timeout and an unreachable webhook: a resolved case nobody
answers is closed "without feedback" (event, archive) -- only when a person decided its plan -- and a notification that cannot be
delivered is retried, then recorded as failed (event, error log, metric), never lost."""

from helpers import wait_rows
from test_followup_flow import NO_GATEWAYS, free_port, produce_executed
from test_resolution_flow import AGENT, TOKENS, decode, new_case, produce_received, seen


def test_no_answer_closes_without_feedback_and_undeliverable_is_recorded(stack, http):
    dead = f"http://127.0.0.1:{free_port()}/hook"
    with stack.service_env("followup", AUTH_TOKENS=TOKENS, SURVEY_TIMEOUT_S="2", WEBHOOK_URL=dead,
                           **NO_GATEWAYS,
                           NOTIFY_MAX_ATTEMPTS="2", NOTIFY_BACKOFF_MS="100",
                           DELIVERY_INTERVAL_MS="100", CLOSE_INTERVAL_MS="200",
                           WEBHOOK_TIMEOUT_MS="500"):
        cid, no, waybill = new_case("CPA")
        nobody, no_x, _ = new_case("CPA")
        with stack.consumer(["complaint.followup.v1"], from_beginning=False) as reader:
            # a plan no person decided is never surveyed, so silence never closes its case
            produce_received(stack, nobody, no_x)
            produce_executed(stack, nobody, no_x, 500, approved_by="")
            produce_received(stack, cid, no)
            produce_executed(stack, cid, no, 500)
            closed = seen(reader, lambda m: m.key == cid and m.headers["ce_type"]
                                       == "cp.complaint.closed", timeout=30)
            assert decode(stack, closed, "FollowupEvent").close_reason == \
                "closed_without_feedback"
            failed = seen(reader, 
                lambda m: m.key == cid and m.headers["ce_type"] == "cp.complaint.customer_notified"
                and decode(stack, m, "FollowupEvent").status == "failed", timeout=30)
            assert decode(stack, failed, "FollowupEvent").channel == "sms"
        db = stack.db()
        status, reason = db.execute("SELECT status, close_reason FROM followup.cases WHERE "
                                    "complaint_id = %s", (cid,)).fetchone()
        assert (status, reason) == ("closed", "closed_without_feedback")
        assert db.execute("SELECT status, close_reason, survey_due_at FROM followup.cases WHERE "
                          "complaint_id = %s", (nobody,)).fetchone() == ("executed", None, None)
        assert db.execute("SELECT close_reason FROM followup.archives WHERE complaint_id = %s",
                          (cid,)).fetchone()[0] == "closed_without_feedback"
        rows = wait_rows(stack, "SELECT step, attempts FROM followup.notifications WHERE "
                                "complaint_id = %s AND status = 'failed' AND step = 'closed'",
                         (cid,), timeout=20)
        assert rows[0][1] == 2
        assert any(r.get("event") == "notification_failed" and r.get("level") == "error"
                   and r.get("complaint_no") == no for r in stack.log_records("followup"))
        metrics = http.get(stack.service_url("followup") + "/metrics").text
        assert "cp_notifications_failed_total" in metrics
        # staff see every message of the case and why it failed
        listed = http.get(f"{stack.base_url}/v1/notifications", params={"complaint_no": no},
                          headers=AGENT)
        assert listed.status_code == 200, listed.text
        closing = [n for n in listed.json()["notifications"] if n["step"] == "closed"]
        assert closing[0]["status"] == "failed" and "connect" in closing[0]["last_error"]


def test_quiet_hours_hold_messages_but_not_the_first_response(stack, http):
    from datetime import datetime, timezone
    from test_followup_flow import produce_first_response
    now = datetime.now(timezone.utc)
    minute = now.hour * 60 + now.minute
    start, end = (minute - 5) % 1440, (minute + 60) % 1440
    with stack.service_env("followup", QUIET_HOURS_START_MIN=str(start),
                           QUIET_HOURS_END_MIN=str(end), QUIET_HOURS_UTC_OFFSET_MIN="0",
                           DELIVERY_INTERVAL_MS="100"):
        cid, no, _ = new_case("CPH")
        produce_received(stack, cid, no)
        produce_first_response(stack, cid, no, now.isoformat().replace("+00:00", "Z"))
        wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND "
                         "step = 'first_response' AND status = 'delivered'", (cid,))
        held = stack.db().execute(
            "SELECT status, attempts, extract(epoch FROM next_attempt_at - now()) FROM "
            "followup.notifications WHERE complaint_id = %s AND step = 'received'",
            (cid,)).fetchone()
        assert held[0] == "queued" and held[1] == 0
        assert 55 * 60 < held[2] <= 60 * 60
        assert any(r.get("event") == "notification_delivered" and r.get("step") ==
                   "first_response" and r.get("complaint_no") == no
                   for r in stack.log_records("followup"))
