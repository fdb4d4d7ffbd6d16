"""Notifications on real channels, on the real broker and PostgreSQL with the local gateways
(deploy/scripts/receiver.py, started by the stack): every customer step goes to the gateway of
the customer's preferred contact in their language, every staff notification (offer,
assignment, transfer, escalation, clock warning and breach, customer reply) to the staff app,
each once, signed; a gateway that fails three times then recovers gets the message once;
quiet hours hold a customer's SMS but not a staff breach alert; an HTTPS gateway with a
self-signed certificate is refused until its CA is configured; the live stream (SSE) brings an
agent the offer of a complaint filed near them, resumable with Last-Event-ID."""

import hashlib
import hmac
import json
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from helpers import wait_rows
from stack import SCRIPTS, free_ports, wait_for
from test_resolution_flow import customer_token

SECRET = b"dev-only-webhook-secret"
FAST = {"DELIVERY_INTERVAL_MS": "100", "NOTIFY_BACKOFF_MS": "200",
        "NOTIFY_BACKOFF_MAX_MS": "800", "NOTIFY_MAX_ATTEMPTS": "50"}


@pytest.fixture(scope="module")
def notify(stack):
    with stack.service_env("followup", **FAST):
        yield


def new_case(prefix="CPN"):
    n = uuid.uuid4().int
    return str(uuid.uuid4()), f"{prefix}{n % 10**8:08d}-{n % 10**6:06d}"


def new_customer() -> str:
    return f"cust_{uuid.uuid4().hex[:20]}"


def new_staff() -> str:
    return f"N{uuid.uuid4().hex[:7].upper()}"


def produce_received(stack, cid, no, cust, contact="sms", language="zh-CN"):
    """Follow-up's projection only: without a waybill the real classification and timer
    dead-letter it, so nothing else acts on the test's case."""
    m = stack.proto.ComplaintReceived(complaint_id=cid, complaint_no=no, customer_ref=cust,
                                      channel="web", language=language,
                                      preferred_contact=contact)
    stack.produce("complaint.received.v1", cid, m.SerializeToString(),
                  stack.ce_headers("cp.complaint.received"))


def produce_assignment(stack, cid, no, ce_type, action, staff_ids=(), owner="", reason="",
                       round_=1, ce_id=None):
    m = stack.proto.ComplaintAssignment(complaint_id=cid, complaint_no=no, action=action,
                                        staff_ids=list(staff_ids), owner_staff_id=owner,
                                        reason=reason, round=round_)
    stack.produce("complaint.classified.v1", cid, m.SerializeToString(),
                  stack.ce_headers(ce_type, id=ce_id))


def produce_sla(stack, cid, no, kind, clock):
    m = stack.proto.SlaEvent(complaint_id=cid, complaint_no=no, clock=clock, kind=kind,
                             escalation_level=1 if kind == "breach" else 0)
    ce_type = "cp.complaint.sla_breached" if kind == "breach" else "cp.complaint.sla_warning"
    stack.produce("complaint.sla.v1", cid, m.SerializeToString(), stack.ce_headers(ce_type))


def signed(entry, secret=SECRET) -> bool:
    """Recomputes the gateway signature from the raw body the receiver kept."""
    mac = hmac.new(secret, entry["timestamp"].encode() + b"." + entry["raw"].encode(),
                   hashlib.sha256).hexdigest()
    return entry["signature"] == f"sha256={mac}"


def inbox_of(stack, to, no=None):
    return [m for m in stack.inbox(to) if no is None or m["note"]["complaint_no"] == no]


def wait_inbox(stack, to, no, steps, timeout=30.0):
    """Waits until `to` received every step of steps for case no; returns their messages."""
    def got():
        have = inbox_of(stack, to, no)
        return have if set(steps) <= {m["note"]["step"] for m in have} else None
    try:
        return wait_for(got, timeout, f"{steps} for {to}")
    except Exception:
        raise AssertionError(f"{to} got {[m['note']['step'] for m in inbox_of(stack, to, no)]}"
                             f", wanted {steps}") from None


def stack_get(stack, path, params):
    import requests
    r = requests.get(stack.base_url + path, params=params, headers=stack.auth("agent"),
                     timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def steps_of(messages):
    return sorted(m["note"]["step"] for m in messages)


@pytest.mark.parametrize("contact,channel,language", [
    ("sms", "sms", "zh-CN"), ("email", "email", "en"), ("app", "app", "zh-CN"),
    ("wechat", "sms", "en"), ("phone", "sms", "zh-CN")])
def test_customer_message_on_the_preferred_channel_in_their_language(stack, notify, contact,
                                                                     channel, language):
    cid, no = new_case()
    cust = new_customer()
    produce_received(stack, cid, no, cust, contact=contact, language=language)
    got = wait_inbox(stack, cust, no, ["received"])
    time.sleep(0.5)
    got = inbox_of(stack, cust, no)
    assert len(got) == 1, got
    msg = got[0]
    assert msg["channel"] == channel and msg["note"]["channel"] == channel
    assert signed(msg)
    assert msg["note"]["language"] == language
    assert msg["note"]["text"].startswith("Your complaint" if language == "en" else "您的投诉")
    assert msg["note"]["customer_ref"] == cust and msg["note"]["recipient"] == "customer"
    row = stack.db().execute(
        "SELECT status, channel, response_status, response_excerpt, attempts FROM "
        "followup.notifications WHERE complaint_id = %s AND step = 'received'",
        (cid,)).fetchone()
    assert row[:3] == ("delivered", channel, 200)
    assert msg["notification_id"] in row[3] and row[4] == 1


def test_each_staff_notification_arrives_once_on_the_staff_app(stack, http, notify):
    cid, no = new_case()
    cust = new_customer()
    s1, s2, s3, boss = (new_staff() for _ in range(4))
    produce_received(stack, cid, no, cust, contact="email", language="en")
    offer_id = str(uuid.uuid4())
    produce_assignment(stack, cid, no, "cp.complaint.offered", "offered", [s1, s2, s3],
                       ce_id=offer_id)
    # the same event again (a redelivery) tells nobody twice
    produce_assignment(stack, cid, no, "cp.complaint.offered", "offered", [s1, s2, s3],
                       ce_id=offer_id)
    produce_assignment(stack, cid, no, "cp.complaint.assigned", "accepted", owner=s1)
    wait_inbox(stack, f"staff:{s1}", no, ["staff_offered", "staff_assigned"])
    produce_assignment(stack, cid, no, "cp.complaint.assigned", "reassigned", owner=s2,
                       reason="going on leave")
    wait_inbox(stack, f"staff:{s2}", no, ["staff_offered", "staff_transferred"])
    produce_assignment(stack, cid, no, "cp.complaint.escalated", "escalated", [boss],
                       reason="sla_breach:first_response")
    produce_sla(stack, cid, no, "warning", "verification")
    produce_sla(stack, cid, no, "breach", "verification")
    r = http.post(f"{stack.base_url}/v1/complaints/{no}/messages?token={customer_token(no)}",
                  json={"text": "照片已上传，请回电 139 1234 5678"})
    assert r.status_code == 201, r.text

    want = {s1: ["staff_assigned", "staff_offered"],
            s2: ["customer_replied", "staff_offered", "staff_sla_breach", "staff_sla_warning",
                 "staff_transferred"],
            s3: ["staff_offered"],
            boss: ["staff_escalated"]}
    for person, steps in want.items():
        wait_inbox(stack, f"staff:{person}", no, steps)
    time.sleep(1.0)  # room for a duplicate to show up
    for person, steps in want.items():
        got = inbox_of(stack, f"staff:{person}", no)
        assert steps_of(got) == steps, (person, steps_of(got))
        for m in got:
            assert m["channel"] == "staff_app" and m["note"]["channel"] == "staff_app"
            assert signed(m)
            assert m["note"]["language"] == "zh-CN"
            assert "customer_ref" not in m["note"] and cust not in m["raw"]
            assert m["note"]["to"] == f"staff:{person}"
    by_step = {m["note"]["step"]: m["note"]["text"] for m in inbox_of(stack, f"staff:{s2}", no)}
    assert "going on leave" in by_step["staff_transferred"]
    assert "verification" in by_step["staff_sla_breach"]
    assert "照片已上传" in by_step["customer_replied"]
    assert "5678" not in by_step["customer_replied"]
    escalated = inbox_of(stack, f"staff:{boss}", no)[0]["note"]["text"]
    assert "sla_breach:first_response" in escalated

    # the customer hears of the owner on their own channel, never of staff matters
    customer = wait_inbox(stack, cust, no, ["received", "owner_assigned"])
    assert {m["channel"] for m in customer} == {"email"}
    raw = " ".join(m["raw"] for m in customer)
    assert "staff:" not in raw and "going on leave" not in raw and "sla_breach" not in raw
    keys = stack.db().execute(
        "SELECT recipient, step, count(*) FROM followup.notifications WHERE complaint_id = %s "
        "GROUP BY 1, 2 HAVING count(*) > 1", (cid,)).fetchall()
    assert keys == []


def test_a_lapsed_offer_is_told_to_those_not_offered_again(stack, notify):
    cid, no = new_case()
    s1, s2, s3 = (new_staff() for _ in range(3))
    produce_received(stack, cid, no, new_customer())
    produce_assignment(stack, cid, no, "cp.complaint.offered", "offered", [s1, s2], round_=1)
    wait_inbox(stack, f"staff:{s2}", no, ["staff_offered"])
    produce_assignment(stack, cid, no, "cp.complaint.offered", "offered", [s2, s3], round_=2)
    wait_inbox(stack, f"staff:{s1}", no, ["staff_offered", "staff_offer_expired"])
    wait_inbox(stack, f"staff:{s3}", no, ["staff_offered"])
    time.sleep(1.0)
    assert steps_of(inbox_of(stack, f"staff:{s1}", no)) == ["staff_offer_expired",
                                                            "staff_offered"]
    # offered again in round 2: two offers, nothing lapsed
    assert steps_of(inbox_of(stack, f"staff:{s2}", no)) == ["staff_offered", "staff_offered"]
    assert steps_of(inbox_of(stack, f"staff:{s3}", no)) == ["staff_offered"]
    expired = inbox_of(stack, f"staff:{s1}", no)
    assert all(signed(m) and m["channel"] == "staff_app" for m in expired)


def test_gateway_failing_three_times_then_recovering_gets_the_message_once(stack, notify):
    cid, no = new_case()
    cust = new_customer()
    stack.receiver_fail(3, to=cust)
    produce_received(stack, cid, no, cust)
    rows = wait_rows(stack, "SELECT id, attempts, response_status, last_error FROM "
                            "followup.notifications WHERE complaint_id = %s AND status = "
                            "'delivered'", (cid,), timeout=40)
    note_id, attempts, status, error = rows[0]
    assert (attempts, status, error) == (4, 200, "")
    time.sleep(1.0)
    assert len(inbox_of(stack, cust, no)) == 1
    assert stack.receiver_stats()["requests"][str(note_id)] == 4
    # staff see the receiver's answer next to the delivery state
    listed = stack_get(stack, "/v1/notifications", {"complaint_no": no})
    row = next(n for n in listed["notifications"] if n["id"] == note_id)
    assert (row["status"], row["response_status"]) == ("delivered", 200)
    assert row["response_excerpt"].startswith('{"accepted"')
    retries = [r for r in stack.log_records("followup") if r.get("event") ==
               "notification_retry" and r.get("complaint_no") == no]
    assert len(retries) == 3 and all("503" in r.get("msg", "") for r in retries)


def test_a_burst_goes_out_concurrently_and_each_message_arrives_once(stack, notify):
    """One offer to 60 people is one batch of concurrent gateway calls over kept-alive
    connections, recorded in one statement: each row keeps its own outcome (one recipient's gateway fails twice and only
    that row is retried), and each person gets their own message once."""
    cid, no = new_case()
    staff = [new_staff() for _ in range(60)]
    flaky = staff[7]
    stack.receiver_fail(2, to=f"staff:{flaky}")
    before = stack.receiver_stats()["requests_per_connection"]
    produce_assignment(stack, cid, no, "cp.complaint.offered", "offered", staff)
    rows = wait_rows(stack, "SELECT id, recipient, attempts, response_status, last_error, body "
                            "FROM followup.notifications WHERE complaint_id = %s AND step = "
                            "'staff_offered' AND status = 'delivered'", (cid,), count=len(staff),
                     timeout=60)
    stats = stack.receiver_stats()
    requests_by_id = stats["requests"]
    # the 62 calls shared kept-alive connections: at most NOTIFY_CONCURRENCY (16) of them, not
    # a connection (and a TLS handshake) per message
    used = {k: n - before.get(k, 0) for k, n in stats["requests_per_connection"].items()
            if n > before.get(k, 0)}
    assert sum(used.values()) >= len(staff) + 2
    assert len(used) <= 16, used
    assert {r[1] for r in rows} == {f"staff:{s}" for s in staff}
    for note_id, recipient, attempts, status, error, body in rows:
        tries = 3 if recipient == f"staff:{flaky}" else 1
        assert (attempts, status, error) == (tries, 200, ""), recipient
        assert requests_by_id[str(note_id)] == tries, recipient
    time.sleep(1.0)
    for note_id, recipient, _, _, _, body in rows[:: 7]:
        got = inbox_of(stack, recipient, no)
        assert [(m["note"]["notification_id"], m["note"]["text"]) for m in got] == [
            (str(note_id), body)]
        assert signed(got[0])


def test_a_queued_message_goes_out_when_its_transaction_commits_not_at_the_next_poll(stack):
    # the delivery task's poll is a minute away: only the wake-up that follows the consumer's
    # commit can deliver the acknowledgement before the wait below gives up
    with stack.service_env("followup", DELIVERY_INTERVAL_MS="60000"):
        time.sleep(1.0)  # the task's first run, at start, is over: it sleeps for a minute now
        for _ in range(2):  # and again after the wake-up's own run
            cid, no = new_case()
            cust = new_customer()
            produce_received(stack, cid, no, cust)
            wait_inbox(stack, cust, no, ["received"], timeout=30.0)


def test_quiet_hours_hold_a_customer_sms_but_not_a_staff_breach_alert(stack):
    now = datetime.now(timezone.utc)
    minute = now.hour * 60 + now.minute
    start, end = (minute - 5) % 1440, (minute + 60) % 1440
    with stack.service_env("followup", QUIET_HOURS_START_MIN=str(start),
                           QUIET_HOURS_END_MIN=str(end), QUIET_HOURS_UTC_OFFSET_MIN="0", **FAST):
        cid, no = new_case()
        cust, owner = new_customer(), new_staff()
        produce_received(stack, cid, no, cust, contact="sms")
        produce_assignment(stack, cid, no, "cp.complaint.assigned", "accepted", owner=owner)
        # the breach goes to the owner follow-up knows: the two events travel on different
        # topics, so the breach is sent only once the assignment has been applied
        wait_inbox(stack, f"staff:{owner}", no, ["staff_assigned"])
        produce_sla(stack, cid, no, "breach", "first_response")
        wait_inbox(stack, f"staff:{owner}", no, ["staff_assigned", "staff_sla_breach"])
        held = stack.db().execute(
            "SELECT step, status, attempts, extract(epoch FROM next_attempt_at - now()) FROM "
            "followup.notifications WHERE complaint_id = %s AND recipient = 'customer'",
            (cid,)).fetchall()
        assert {h[0] for h in held} == {"received", "owner_assigned"}
        for step, status, attempts, wait_s in held:
            assert (status, attempts) == ("queued", 0) and 55 * 60 < wait_s <= 60 * 60
        assert inbox_of(stack, cust, no) == []


def make_cert(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "gateway.pem", directory / "gateway.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def https_gateway(stack, tmp_path):
    cert, key = make_cert(tmp_path)
    port = free_ports(1)[0]
    log = open(tmp_path / "receiver.log", "w")
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / "receiver.py"), "--port", str(port),
                             "--state", str(tmp_path), "--tls-cert", str(cert), "--tls-key",
                             str(key)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    stack.adopt("receiver-https", proc)
    try:
        wait_for(lambda: Path(tmp_path / "inbox").is_dir(), 20, "the HTTPS receiver")
        wait_for(lambda: _tls_up(port), 20, "the HTTPS receiver's port")
        yield f"https://127.0.0.1:{port}", cert, tmp_path
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _tls_up(port) -> bool:
    import socket
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_https_gateway_with_a_self_signed_certificate_needs_its_ca(stack, https_gateway):
    url, cert, state = https_gateway
    inbox = state / "inbox"
    cid, no = new_case()
    cust = new_customer()
    with stack.service_env("followup", NOTIFY_SMS_URL=f"{url}/sms", **FAST):
        produce_received(stack, cid, no, cust, contact="sms")
        rows = wait_rows(stack, "SELECT last_error, response_status FROM "
                                "followup.notifications WHERE complaint_id = %s AND status = "
                                "'queued' AND attempts >= 2", (cid,))
        assert "certificate" in rows[0][0].lower(), rows[0][0]
        assert rows[0][1] is None  # no answer: the handshake was refused
        assert list(inbox.glob("*.jsonl")) == []
        # the same gateway, its CA now trusted (one restart: the stack's own receiver must not
        # get the held message in between)
        stack.restart_service("followup", NOTIFY_SMS_URL=f"{url}/sms",
                              NOTIFY_CA_FILE=str(cert), **FAST)
        wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND "
                         "status = 'delivered' AND response_status = 200", (cid,))
    lines = [json.loads(line) for p in inbox.glob("*.jsonl") for line in p.read_text().splitlines()]
    assert [(m["to"], m["channel"], m["note"]["complaint_no"]) for m in lines] == \
        [(cust, "sms", no)]
    assert signed(lines[0])


# ---- the live stream ----------------------------------------------------------------------

STREAM_ORIGIN = (30.0, 30.0)  # far from every other test's staff, so the nearest is ours


def read_stream(http, stack, role, last_id=None, via_query=False):
    """One response of GET /v1/stream as a browser's EventSource reads it: (events, the
    last event id it ends with). Each event is {"id", "event", "data"}."""
    headers = {} if via_query else stack.auth(role)
    params = {"access_token": stack.auth(role)["Authorization"][7:]} if via_query else {}
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    r = http.get(stack.base_url + "/v1/stream", headers=headers, params=params, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events, block, cursor = [], {}, last_id
    for line in r.text.split("\n"):
        if not line:
            if "id" in block:
                cursor = int(block["id"])
            if "data" in block:
                events.append({"id": int(block["id"]), "event": block.get("event"),
                               "data": json.loads(block["data"])})
            block = {}
            continue
        key, _, value = line.partition(":")
        block[key] = value[1:] if value.startswith(" ") else value
    return events, cursor


def scan_near(stack, waybill_no, outlet):
    at = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    ev = stack.proto.TrackingEvent(waybill_no=waybill_no, code=2, facility_id=outlet,
                                   facility_type="outlet", occurred_at=at, city="Streamville",
                                   scan_id=str(uuid.uuid4()),
                                   location=stack.proto.GeoPoint(lat=STREAM_ORIGIN[0],
                                                                 lon=STREAM_ORIGIN[1]))
    stack.produce("parcel.tracking.v1", waybill_no, ev.SerializeToString(),
                  stack.ce_headers("cp.parcel.scanned", source="/carrier/test"))
    wait_rows(stack, "SELECT 1 FROM classification.parcel_positions WHERE waybill_no = %s",
              (waybill_no,))


@pytest.fixture
def agent_near(stack, http):
    """agent3 (A003) in the staff registry at STREAM_ORIGIN, available; unavailable after."""
    from stack import TOKENS
    staff_id = TOKENS["agent3"][1]
    outlet = f"S-OUT-{uuid.uuid4().hex[:6]}"
    url = f"{stack.base_url}/v1/staff-registry/{staff_id}"
    r = http.put(url, json={"outlet_id": outlet, "role": "agent", "lat": STREAM_ORIGIN[0],
                            "lon": STREAM_ORIGIN[1] + 0.001, "available": True},
                 headers=stack.auth("admin"))
    assert r.status_code == 200, r.text
    try:
        yield staff_id, outlet
    finally:
        http.put(url, json={"outlet_id": outlet, "role": "agent", "available": False},
                 headers=stack.auth("admin"))


def test_live_stream_brings_an_offer_to_the_agent_near_the_parcel(stack, http, agent_near):
    from helpers import complaint, post, waybill
    staff_id, outlet = agent_near
    assert http.get(stack.base_url + "/v1/stream").status_code == 401
    # the console is open: the stream starts from now
    events, cursor = read_stream(http, stack, "agent3")
    assert cursor is not None
    wb = waybill()
    scan_near(stack, wb, outlet)
    r = post(http, stack, complaint(waybill_no=wb))
    assert r.status_code == 201, r.text
    no = r.json()["complaint_no"]

    offer, deadline = None, time.monotonic() + 40
    while offer is None and time.monotonic() < deadline:
        events, cursor = read_stream(http, stack, "agent3", cursor)
        offer = next((e for e in events if e["event"] == "staff_offered"
                      and e["data"]["complaint_no"] == no), None)
    assert offer, f"no offer of {no} on the stream"
    assert no in offer["data"]["text"] and offer["data"]["notification_id"] == offer["id"]
    # the same person's staff-app gateway got it too, signed
    wait_inbox(stack, f"staff:{staff_id}", no, ["staff_offered"])

    # resumable: from the id before it, the offer comes again; from its id, never twice
    again, _ = read_stream(http, stack, "agent3", offer["id"] - 1, via_query=True)
    assert offer["id"] in [e["id"] for e in again]
    after, _ = read_stream(http, stack, "agent3", offer["id"])
    assert offer["id"] not in [e["id"] for e in after]
    # another agent's stream never carries it
    other, _ = read_stream(http, stack, "agent4", offer["id"] - 1)
    assert all(e["data"]["complaint_no"] != no for e in other)
