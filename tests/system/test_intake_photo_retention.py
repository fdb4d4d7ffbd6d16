"""Photos leave the store (services/intake/photos.c): a person who may see a case's photos
deletes one with a reason -- the bytes go, the timeline says which photo went (not why: the
reason is free text), intake's admin audit has who, when, why and what the photo was -- and the
retention sweep deletes the photos of cases closed more than PHOTO_RETENTION_SECONDS ago,
leaving open and recently closed cases alone."""

from __future__ import annotations

import io

from PIL import Image

from helpers import wait_rows
from stack import TOKENS
from test_intake_attachments import Filed, bearer

REASON = "客户误传了身份证照片 13800138000"


def jpeg(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, "JPEG")
    return out.getvalue()


def delete(case, n: int, role: str = "supervisor", body=None):
    return case.http.delete(
        f"{case.stack.base_url}/v1/staff/complaints/{case.no}/attachments/{n}",
        json={"reason": REASON} if body is None else body, headers=bearer(role))


def timeline(case, step: str) -> list:
    return [r[0] for r in case.stack.db().execute(
        "SELECT detail FROM intake.timeline WHERE complaint_id = %s AND step = %s ORDER BY id",
        (case.id, step)).fetchall()]


def test_a_person_deletes_one_photo_with_a_reason_and_it_is_audited(stack, http):
    case = Filed(stack, http)
    assert case.upload(jpeg((200, 0, 0))).json()["attachment"] == 1
    assert case.upload(jpeg((0, 200, 0))).json()["attachment"] == 2

    # who may not, and what is not a deletion
    assert delete(case, 1, role="agent").status_code == 403  # nobody owns it: not entitled
    assert http.delete(f"{stack.base_url}/v1/staff/complaints/{case.no}/attachments/1",
                       json={"reason": REASON}).status_code == 401
    for body in ({}, {"reason": "  "}, {"reason": 7}, {"reason": "x" * 501}):
        r = delete(case, 1, body=body)
        assert r.status_code == 422 and r.json()["fields"][0]["field"] == "reason", (body, r.text)
    assert delete(case, 9).status_code == 404
    assert case.stored() == 2

    r = delete(case, 2)
    assert r.status_code == 200, r.text
    assert r.json() == {"complaint_no": case.no, "attachment": 2, "deleted": True}
    assert case.stored() == 1 and case.photo(2).status_code == 404
    assert case.photo(1).status_code == 200
    assert delete(case, 2).status_code == 404  # gone is gone

    # the timeline says which photo, not why; the customer sees it and no longer lists it
    assert timeline(case, "attachment_deleted") == [{"attachment": 2, "by": "staff"}]
    view = http.get(f"{stack.base_url}/v1/complaints/{case.no}", params={"token": case.token})
    assert [a["attachment"] for a in view.json()["attachments"]] == [1]
    assert REASON not in view.text and "13800138000" not in view.text

    # the audit read: who, which photo, why, and what it was (not its bytes or hash)
    page = http.get(f"{stack.base_url}/v1/admin/audit/intake",
                    params={"entity": "attachments", "actor": TOKENS["supervisor"][1]},
                    headers=stack.auth("admin")).json()
    [entry] = [e for e in page["audit"] if e["key"] == f"{case.no}/2"]
    assert entry["reason"] == REASON and entry["after"] is None
    assert entry["before"]["content_type"] == "image/jpeg" and entry["before"]["bytes"] > 0
    assert entry["before"]["uploaded_by"] == "customer"
    assert "sha256" not in entry["before"] and "data" not in entry["before"]

    # a photo added later gets a new number, never the deleted one's
    r = case.upload(jpeg((0, 0, 200)))
    assert r.status_code == 201 and r.json()["attachment"] == 3, r.text
    # the same image as the deleted one is stored again (it is not a replay of what is gone)
    r = case.upload(jpeg((0, 200, 0)))
    assert r.status_code == 201 and r.json()["attachment"] == 4, r.text
    # a reason of 500 characters (not bytes: these take three each) is enough
    r = delete(case, 1, body={"reason": "因" * 500})
    assert r.status_code == 200, r.text


def closed(case, ago: str):
    case.stack.db().execute(
        "UPDATE intake.complaints SET status = 'closed', closed_at = now() - %s::interval "
        "WHERE id = %s", (ago, case.id))


def test_the_sweep_deletes_photos_of_cases_closed_past_the_retention(stack, http):
    old, recent, still_open = Filed(stack, http), Filed(stack, http), Filed(stack, http)
    for i, case in enumerate((old, recent, still_open)):
        for colour in ((i * 40, 10, 10), (10, i * 40, 10)):
            assert case.upload(jpeg(colour)).status_code == 201
    closed(old, "2 hours")
    closed(recent, "1 second")
    with stack.service_env("intake", PHOTO_RETENTION_SECONDS="3600", PHOTO_SWEEP_MS="200",
                           PHOTO_SWEEP_BATCH="1"):
        wait_rows(stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND "
                  "photos_swept_at IS NOT NULL", (old.id,))
        assert old.stored() == 0
        assert timeline(old, "attachment_deleted") == [
            {"attachment": 1, "by": "retention"}, {"attachment": 2, "by": "retention"}]
        # a photo added to the closed case afterwards is swept too
        r = old.upload(jpeg((90, 90, 90)))
        assert r.status_code == 201 and r.json()["attachment"] == 3, r.text
        wait_rows(stack, "SELECT 1 FROM intake.timeline WHERE complaint_id = %s AND "
                  "step = 'attachment_deleted' AND detail->>'attachment' = '3'", (old.id,))
        assert old.stored() == 0
        # the sweep ran (it swept the late photo) without touching the others
        assert recent.stored() == 2 and still_open.stored() == 2
        assert timeline(recent, "attachment_deleted") == []
