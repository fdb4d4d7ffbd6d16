"""Key rotation: CUSTOMER_LINK_SECRET and PSEUDONYM_KEY are replaced by a new key while the
previous one is still accepted for a grace period (…_PREVIOUS and …_PREVIOUS_UNTIL), and
refused after it. Pseudonyms stay joinable: during the grace period intake recognises the
customer under either pseudonym, and `cp-admin pseudonyms rekey` moves every stored
customer_ref (intake, classification with its VIP list, resolution, follow-up) to the new key."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import uuid

from helpers import complaint, post, wait_rows
from stack import bin_dir

FUTURE, PAST = "2099-01-01T00:00:00Z", "2001-01-01T00:00:00Z"


def token(secret: str, no: str) -> str:
    return hmac.new(secret.encode(), f"case:{no}".encode(), hashlib.sha256).hexdigest()[:32]


def view(http, stack, no: str, **params):
    # a client address of its own: wrong proofs here throttle nobody else
    xff = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    return http.get(f"{stack.service_url('intake')}/v1/complaints/{no}", params=params,
                    headers={"X-Forwarded-For": xff})


def reply(http, stack, no: str, tok: str):
    # no text: 422 once the token is accepted, 403 when it is not (nothing is stored either way)
    return http.post(f"{stack.service_url('followup')}/v1/complaints/{no}/messages",
                     params={"token": tok}, json={})


def test_old_links_work_within_the_grace_period_and_not_after(stack, http):
    old, new = "link-old-" + os.urandom(8).hex(), "link-new-" + os.urandom(8).hex()
    try:
        stack.restart_service("intake", CUSTOMER_LINK_SECRET=old)
        r = post(http, stack, complaint())
        assert r.status_code == 201, r.text
        no = r.json()["complaint_no"]
        old_token = token(old, no)
        assert r.json()["link"].endswith(f"token={old_token}")
        wait_rows(stack, "SELECT 1 FROM followup.cases WHERE complaint_no = %s", (no,))

        rotated = dict(CUSTOMER_LINK_SECRET=new, CUSTOMER_LINK_SECRET_PREVIOUS=old,
                       CUSTOMER_LINK_SECRET_PREVIOUS_UNTIL=FUTURE)
        stack.restart_service("intake", **rotated)
        stack.restart_service("followup", **rotated)
        assert view(http, stack, no, token=old_token).status_code == 200
        assert view(http, stack, no, token=token(new, no)).status_code == 200
        assert reply(http, stack, no, old_token).status_code == 422
        # new links are signed with the new secret only
        r = post(http, stack, complaint())
        assert r.json()["link"].endswith("token=" + token(new, r.json()["complaint_no"]))

        expired = {**rotated, "CUSTOMER_LINK_SECRET_PREVIOUS_UNTIL": PAST}
        stack.restart_service("intake", **expired)
        stack.restart_service("followup", **expired)
        refused = view(http, stack, no, token=old_token)
        assert refused.status_code == 404  # the same answer as any wrong proof
        assert reply(http, stack, no, old_token).status_code == 403
        assert view(http, stack, no, token=token(new, no)).status_code == 200
        assert reply(http, stack, no, token(new, no)).status_code == 422
    finally:
        stack.restart_service("intake")
        stack.restart_service("followup")


def test_a_previous_key_without_an_end_is_refused_at_start():
    env = {"PATH": os.environ["PATH"], "DEV_MODE": "true",
           "CUSTOMER_LINK_SECRET_PREVIOUS": "some-old-secret"}
    r = subprocess.run([str(bin_dir() / "cp-intake")], env=env, capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 2 and "CUSTOMER_LINK_SECRET_PREVIOUS_UNTIL" in r.stderr, r.stderr
    env = {**env, "CUSTOMER_LINK_SECRET_PREVIOUS_UNTIL": "next tuesday"}
    r = subprocess.run([str(bin_dir() / "cp-followup")], env=env, capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 2 and "RFC 3339" in r.stderr, r.stderr


def refs(stack, no: str) -> dict[str, str]:
    with stack.db() as conn:
        intake = conn.execute("SELECT customer_ref FROM intake.complaints WHERE complaint_no = %s",
                              (no,)).fetchone()[0]
        cls = conn.execute("SELECT customer_ref FROM classification.classifications "
                           "WHERE complaint_no = %s", (no,)).fetchone()[0]
    return {"intake": intake, "classification": cls}


def test_pseudonyms_stay_joinable_across_a_key_rotation(stack, http):
    old, new = "pseudo-old-" + os.urandom(8).hex(), "pseudo-new-" + os.urandom(8).hex()
    body = complaint()
    phone = body["complainant"]["phone"]
    try:
        stack.restart_service("intake", PSEUDONYM_KEY=old)
        r = post(http, stack, body)
        assert r.status_code == 201, r.text
        no = r.json()["complaint_no"]
        wait_rows(stack, "SELECT 1 FROM classification.classifications WHERE complaint_no = %s",
                  (no,))
        old_ref = refs(stack, no)["intake"]
        with stack.db() as conn:
            conn.execute("INSERT INTO classification.vip_customers (customer_ref, note) "
                         "VALUES (%s, 'rotation test')", (old_ref,))

        rotated = dict(PSEUDONYM_KEY=new, PSEUDONYM_KEY_PREVIOUS=old,
                       PSEUDONYM_KEY_PREVIOUS_UNTIL=FUTURE)
        stack.restart_service("intake", **rotated)
        # within the grace period the customer is recognised under the old pseudonym: the same
        # waybill joins the open case, the full phone number opens it
        again = post(http, stack, {**body, "description": "还是没有人联系我，杯子碎了"})
        assert again.status_code == 200 and again.json()["complaint_no"] == no, again.text
        assert view(http, stack, no, phone=phone).status_code == 200

        # the rotation's second half: every stored pseudonym moves to the new key
        env = {"PATH": os.environ["PATH"], "ADMIN_DATABASE_URL": stack.admin_url,
               "PSEUDONYM_KEY": new, "PSEUDONYM_KEY_PREVIOUS": old}
        done = subprocess.run([str(bin_dir() / "cp-admin"), "pseudonyms", "rekey"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        moved = refs(stack, no)
        assert moved["intake"] == moved["classification"] != old_ref
        with stack.db() as conn:
            vip = {row[0] for row in conn.execute(
                "SELECT customer_ref FROM classification.vip_customers "
                "WHERE customer_ref IN (%s, %s)", (old_ref, moved["intake"]))}
        assert vip == {moved["intake"]}

        # after the grace period only the new key is used, and the customer is still the same
        stack.restart_service("intake", **{**rotated, "PSEUDONYM_KEY_PREVIOUS_UNTIL": PAST})
        assert view(http, stack, no, phone=phone).status_code == 200
        third = post(http, stack, {**body, "description": "第三次来问，杯子碎了怎么赔"})
        assert third.status_code == 200 and third.json()["complaint_no"] == no, third.text
        # a second complaint on another waybill carries the same (new) pseudonym
        other = post(http, stack, complaint(complainant={"phone": phone}))
        assert other.status_code == 201
        wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE complaint_no = %s AND "
                  "customer_ref = %s", (other.json()["complaint_no"], moved["intake"]))
    finally:
        stack.restart_service("intake")
