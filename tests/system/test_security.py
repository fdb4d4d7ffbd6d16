"""The security battery (issue 13), after a run of flows: no customer token and no phone number
in any service log, nginx's logs or any topic; forged tokens are refused by both services that
take them; through the front door an unknown complaint and a wrong proof are indistinguishable.

Where the rest lives (not repeated here): brute force gets 429 within 10 tries, per case and per
client, and unknown versus wrong proof at the service (test_intake_proof.py); development
secrets refused outside DEV_MODE (test_secrets.py); key rotation (test_key_rotation.py); events
with out-of-range values dead-lettered (test_event_validation.py). When the whole suite runs,
this module greps what every earlier module's flows left behind too."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid

import pytest
import requests

from helpers import complaint, post, wait_rows
from stack import TOPICS, SERVICES

DEV_LINK_SECRET = "dev-only-link-secret"  # the test stack runs in DEV_MODE on the defaults
SPELLINGS = 5  # len(spellings(...))


def token(no: str, secret: str = DEV_LINK_SECRET) -> str:
    return hmac.new(secret.encode(), f"case:{no}".encode(), hashlib.sha256).hexdigest()[:32]


def spellings(phone: str) -> list[str]:
    """Every spelling of a phone number that escaped redaction before (issue 13)."""
    fw = "".join(chr(0xFF10 + int(d)) for d in phone)
    return [phone, fw, f"{phone[:3]}.{phone[3:7]}.{phone[7:]}",
            f"{phone[:3]}转{phone[3:7]}转{phone[7:]}",
            f"{fw[:3]}\u3000{fw[3:7]}\u3000{fw[7:]}"]


@pytest.fixture(scope="module")
def flows(stack):
    """Complaints whose descriptions spell the complainant's phone in every way, opened by the
    customer through the front door (link, full phone, last four), written to, surveyed after
    an executed plan, and attacked with forged tokens."""
    http = requests.Session()
    cases = []
    for spelling in range(SPELLINGS):
        body = complaint()
        phone = body["complainant"]["phone"]
        body["description"] = f"包裹破损，请打 {spellings(phone)[spelling]} 联系我"
        r = post(http, stack, body)
        assert r.status_code == 201, r.text
        no, cid = r.json()["complaint_no"], r.json()["complaint_id"]
        tok = token(no)
        assert r.json()["link"].endswith(f"token={tok}")
        cases.append({"no": no, "id": cid, "phone": phone, "token": tok})
        base = f"{stack.base_url}/v1/complaints/{no}"
        assert http.get(base, params={"token": tok}).status_code == 200
        assert http.get(f"{stack.base_url}/c/status/{no}", params={"token": tok}).status_code \
            == 200
        assert http.get(base, params={"phone": phone}).status_code == 200
        assert http.get(base, params={"phone_last4": phone[-4:]}).status_code == 200
    # the customer writes (with the phone again) and a decided plan is executed: follow-up
    # sends the survey link
    first = cases[0]
    wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_id = %s", (first["id"],))
    r = http.post(f"{stack.base_url}/v1/complaints/{first['no']}/messages",
                  params={"token": first["token"]},
                  json={"text": f"还没人联系我，电话 {spellings(first['phone'])[2]}"})
    assert r.status_code in (200, 201), r.text
    m = stack.proto.ResolutionDecided(complaint_id=first["id"], complaint_no=first["no"],
                                      proposal_id=str(uuid.uuid4()), status="executed",
                                      proposed_by="system", approved_by="sup1")
    m.total.amount_fen = 12000
    stack.produce("complaint.resolution.v1", first["id"], m.SerializeToString(),
                  stack.ce_headers("cp.complaint.resolution_executed"))
    wait_rows(stack, "SELECT 1 FROM followup.notifications WHERE complaint_id = %s AND "
              "body LIKE %s", (first["id"], f"%token={first['token']}%"))
    http.close()
    return cases


def forged(no: str, other_no: str) -> list[str]:
    real = token(no)
    return [token(no, "guessed-secret"), token(other_no), real[:-1], real.upper(), real + "0",
            "0" * 32, "' OR 1=1 --", hmac.new(b"", f"case:{no}".encode(),
                                              hashlib.sha256).hexdigest()[:32]]


def test_forged_tokens_are_refused_by_intake_and_followup(stack, http, flows):
    a, b = flows[0], flows[1]
    for fake in forged(a["no"], b["no"]):
        view = http.get(f"{stack.base_url}/v1/complaints/{a['no']}", params={"token": fake})
        assert view.status_code in (404, 429), (fake, view.status_code)
        reply = http.post(f"{stack.base_url}/v1/complaints/{a['no']}/messages",
                          params={"token": fake}, json={"text": "伪造"})
        assert reply.status_code == 403, (fake, reply.status_code)
        survey = http.post(f"{stack.base_url}/v1/complaints/{a['no']}/survey",
                           params={"token": fake}, json={"score": 5, "solved": True})
        assert survey.status_code == 403, (fake, survey.status_code)
    # the real one still works for the customer
    assert http.get(f"{stack.base_url}/v1/complaints/{a['no']}",
                    params={"token": a["token"]}).status_code == 200


def test_enumeration_through_the_front_door_is_indistinguishable(stack, http, flows):
    """An unknown number and an existing one with a wrong proof: the same status, body and
    headers (but the request id and date) through nginx, for each kind of proof."""
    known = flows[2]["no"]
    unknown = known[:-8] + "ZZZZZZZZ"
    for proof in ({"token": "0" * 32}, {"phone": "13000000000"}, {}):
        a = http.get(f"{stack.base_url}/v1/complaints/{known}", params=proof)
        b = http.get(f"{stack.base_url}/v1/complaints/{unknown}", params=proof)
        assert a.status_code == b.status_code and a.status_code in (401, 404), proof
        assert a.content == b.content, proof
        skip = {"date", "x-request-id"}
        assert {k.lower(): v for k, v in a.headers.items() if k.lower() not in skip} == \
               {k.lower(): v for k, v in b.headers.items() if k.lower() not in skip}, proof


def secrets_to_find(stack, flows) -> tuple[set[str], set[str]]:
    """Every complainant's phone (in every spelling) and every link token the dev secret made,
    for all complaints in the database (the whole suite's, when it ran before)."""
    with stack.db() as db:
        rows = db.execute("SELECT complaint_no, complainant_phone FROM intake.complaints "
                          "WHERE channel <> 'proactive'").fetchall()
    phones, tokens = set(), set()
    for no, phone in rows:
        digits = re.sub(r"\D", "", phone)
        if len(digits) >= 7:
            phones.update(spellings(digits[-11:]))
        tokens.add(token(no))
    assert {c["token"] for c in flows} <= tokens
    return phones, tokens


LEAKED_TOKEN = re.compile(r"token=(?!\*\*\*)[A-Za-z0-9%_.~-]{8,}")


def log_files(stack) -> list:
    files = [stack.log_dir / f"{name}{suffix}.log" for name in SERVICES
             for suffix in ("", ".stderr")]
    files += [stack.state_dir / "nginx" / "logs" / "access.log",
              stack.state_dir / "nginx" / "logs" / "error.log", stack.log_dir / "admin.log"]
    return [f for f in files if f.exists()]


def test_no_token_or_phone_in_any_log(stack, flows):
    phones, tokens = secrets_to_find(stack, flows)
    files = log_files(stack)
    assert any("nginx" in str(f) for f in files) and len(files) >= len(SERVICES)
    for path in files:
        text = path.read_text(errors="replace")
        leak = LEAKED_TOKEN.search(text)
        assert leak is None, f"{path.name}: {text[max(0, leak.start() - 200):leak.end()]}"
        for secret in tokens | phones:
            assert secret not in text, f"{secret!r} in {path.name}"


def test_no_token_or_phone_in_any_topic(stack, flows):
    phones, tokens = secrets_to_find(stack, flows)
    needles = [s.encode() for s in tokens | phones]
    messages = stack.dump(TOPICS)  # every record up to each partition's end as it is now
    # the flows' own events are among them (the dump is complete)
    assert any(m.key == flows[0]["id"] for m in messages)
    for m in messages:
        blob = b"".join([m.value or b"", m.key.encode() if isinstance(m.key, str) else
                         (m.key or b"")] + [v.encode() for v in m.headers.values()])
        for needle in needles:
            assert needle not in blob, (m.topic, m.offset, needle.decode())
