"""Photos attached to a complaint (intake, services/intake/attachments.c): the customer adds
them with the proof that opens their case, only real JPEG/PNG/WebP within the size and count
limits are stored, without their EXIF/GPS, XMP and text metadata, and only the people who see
the complainant's contact in full (owner, supervisors) read them back -- and the customer,
the photos they sent, with the same proof -- through the front door, as the console does."""

from __future__ import annotations

import importlib.util
import io
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image

from helpers import complaint, post, wait_rows
from stack import TOKENS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
_spec = importlib.util.spec_from_file_location("make_photos", FIXTURES / "make_photos.py")
photos = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(photos)


def bearer(role: str) -> dict:
    return {"Authorization": f"Bearer {TOKENS[role][0]}"}


class Filed:
    def __init__(self, stack, http):
        self.stack, self.http = stack, http
        self.body = complaint()
        r = post(http, stack, self.body)
        assert r.status_code == 201, r.text
        self.id, self.no = r.json()["complaint_id"], r.json()["complaint_no"]
        self.token = parse_qs(urlparse(r.json()["link"]).query)["token"][0]

    def upload(self, data: bytes, ctype: str = "image/jpeg", proof: dict | None = None,
               headers: dict | None = None):
        params = {"token": self.token} if proof is None else proof
        return self.http.post(f"{self.stack.base_url}/v1/complaints/{self.no}/attachments",
                              params=params, data=data,
                              headers={"Content-Type": ctype, **(headers or {})})

    def photo(self, n: int, role: str = "supervisor"):
        return self.http.get(
            f"{self.stack.base_url}/v1/staff/complaints/{self.no}/attachments/{n}",
            headers=bearer(role))

    def stored(self) -> int:
        with self.stack.db() as conn:
            return conn.execute("SELECT count(*) FROM intake.attachments WHERE complaint_id = %s",
                                (self.id,)).fetchone()[0]

    def owned_by(self, staff_id: str):
        ev = self.stack.proto.ComplaintAssignment(
            complaint_id=self.id, complaint_no=self.no, action="accepted",
            owner_staff_id=staff_id, at="2026-12-02T00:00:00Z")
        self.stack.produce("complaint.classified.v1", self.id, ev.SerializeToString(),
                           self.stack.ce_headers("cp.complaint.assigned", source="/cp/test"))
        wait_rows(self.stack, "SELECT 1 FROM intake.complaints WHERE id = %s AND "
                  "owner_staff_id = %s", (self.id, staff_id))


def coloured_jpeg(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, "JPEG")
    return out.getvalue()


def test_a_customer_photo_is_stored_without_its_gps_and_served_only_to_staff(stack, http):
    case = Filed(stack, http)
    original = photos.jpeg_bytes()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825), "fixture has GPS"
    r = case.upload(original)
    assert r.status_code == 201, r.text
    assert r.json()["attachment"] == 1
    assert sorted(r.json()["metadata_removed"]) == ["exif", "text", "xmp"]

    r = case.photo(1)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "image/jpeg"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"] == f'inline; filename="{case.no}-1.jpg"'
    img = Image.open(io.BytesIO(r.content))
    img.load()  # the stripped copy still decodes to the same picture
    assert img.size == (32, 24)
    assert not img.getexif() and "xmp" not in img.info and "comment" not in img.info
    assert b"ParcelCam" not in r.content and b"13800138000" not in r.content

    # the case lists it: the customer without bytes or address, staff with the address
    view = http.get(f"{stack.base_url}/v1/complaints/{case.no}", params={"token": case.token})
    assert view.status_code == 200
    [listed] = view.json()["attachments"]
    assert listed["content_type"] == "image/jpeg" and listed["uploaded_by"] == "customer"
    # the customer's own photo carries the address the customer reads it from (with the proof)
    assert listed["url"] == f"/v1/complaints/{case.no}/attachments/1"
    assert any(t["step"] == "attachment_added" for t in view.json()["timeline"])
    staff = http.get(f"{stack.base_url}/v1/staff/complaints/{case.no}",
                     headers=bearer("supervisor")).json()
    assert staff["photos"][0]["url"] == f"/v1/staff/complaints/{case.no}/attachments/1"
    assert staff["photos"][0]["uploaded_by"] == "customer"


@pytest.mark.parametrize("make,ctype,removed", [
    (photos.png_bytes, "image/png", ["exif", "text"]),
    (photos.webp_bytes, "image/webp", ["exif", "xmp"]),
])
def test_png_and_webp_lose_their_metadata_too(stack, http, make, ctype, removed):
    case = Filed(stack, http)
    r = case.upload(make(), ctype)
    assert r.status_code == 201, r.text
    assert sorted(r.json()["metadata_removed"]) == removed
    got = case.photo(1)
    assert got.headers["Content-Type"] == ctype
    img = Image.open(io.BytesIO(got.content))
    img.load()
    assert img.size == (32, 24) and not img.getexif()
    assert not {"Author", "Location", "Comment", "xmp"} & set(img.info)


def test_only_real_images_of_the_named_type_are_taken(stack, http):
    case = Filed(stack, http)
    jpeg = photos.jpeg_bytes()
    r = case.upload(b'{"a":1}', "application/json")
    assert r.status_code == 415 and r.json()["fields"][0]["field"] == "Content-Type"
    r = case.upload(b"<html><script>alert(1)</script></html>", "image/png")
    assert r.status_code == 415 and r.json()["fields"][0]["field"] == "body"
    r = case.upload(photos.png_bytes(), "image/jpeg")  # a PNG labelled JPEG
    assert r.status_code == 415 and r.json()["fields"][0]["field"] == "body"
    r = case.upload(b"GIF89a" + b"\0" * 64, "image/gif")
    assert r.status_code == 415
    r = case.upload(jpeg[: len(jpeg) // 2])  # cut in the middle of the picture
    assert r.status_code == 422 and r.json()["error"] == "invalid_image", r.text
    assert case.stored() == 0


def test_size_and_count_limits_answer_clearly(stack, http):
    case = Filed(stack, http)
    big = b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024)
    r = case.upload(big)
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "body_too_large" and r.json()["fields"][0]["field"] == "body"
    assert r.json()["max_bytes"] == 5 * 1024 * 1024
    r = case.upload(b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024))  # beyond the front door's
    assert r.status_code == 413 and r.headers["Content-Type"].startswith("application/json")

    for i in range(5):
        r = case.upload(coloured_jpeg((40 * i, 10, 10)))
        assert r.status_code == 201, r.text
        assert r.json()["attachment"] == i + 1
    # a retried upload of a photo already there is no new photo
    r = case.upload(coloured_jpeg((0, 10, 10)))
    assert r.status_code == 200 and r.json()["idempotent_replay"] is True
    r = case.upload(coloured_jpeg((1, 200, 10)))
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "too_many_attachments"
    assert r.json()["fields"][0]["field"] == "attachments"
    assert case.stored() == 5


def test_who_may_add_and_see_photos(stack, http):
    case = Filed(stack, http)
    jpeg = photos.jpeg_bytes()
    assert case.upload(jpeg, proof={}).status_code == 401
    r = case.upload(jpeg, proof={"token": "0" * 32})
    assert r.status_code == 404  # the same answer as for a case that does not exist
    r = case.upload(jpeg, proof={"phone_last4": case.body["complainant"]["phone"][-4:]})
    assert r.status_code == 401  # the minimal proof opens the status, never an action
    other = Filed(stack, http)
    assert case.upload(jpeg, proof={"token": other.token}).status_code == 404
    assert case.stored() == 0
    r = case.upload(jpeg, proof={"phone": case.body["complainant"]["phone"]})
    assert r.status_code == 201, r.text

    # never public; an agent who does not handle the case sees the case masked, not the photo
    url = f"{stack.base_url}/v1/staff/complaints/{case.no}/attachments/1"
    assert http.get(url).status_code == 401
    assert http.get(url, params={"token": case.token}).status_code == 401
    r = case.photo(1, "agent2")
    assert r.status_code == 403 and r.json()["error"] == "not_entitled"
    masked = http.get(f"{stack.base_url}/v1/staff/complaints/{case.no}",
                      headers=bearer("agent2")).json()
    assert masked["contact_masked"] is True and len(masked["photos"]) == 1
    assert case.upload(coloured_jpeg((9, 9, 9)), proof={},
                       headers=bearer("agent2")).status_code == 403
    assert case.photo(2).status_code == 404

    # the owner sees it and may add what the customer sent another way
    case.owned_by(TOKENS["agent3"][1])
    assert case.photo(1, "agent3").status_code == 200
    r = case.upload(coloured_jpeg((9, 9, 9)), proof={}, headers=bearer("agent3"))
    assert r.status_code == 201, r.text
    assert case.photo(2, "admin").status_code == 200
    staff = http.get(f"{stack.base_url}/v1/staff/complaints/{case.no}",
                     headers=bearer("agent3")).json()
    assert [p["uploaded_by"] for p in staff["photos"]] == ["customer", TOKENS["agent3"][1]]


def test_the_customer_sees_the_photos_they_sent_with_their_proof(stack, http):
    case = Filed(stack, http)
    jpeg = photos.jpeg_bytes()
    assert case.upload(jpeg).status_code == 201
    url = f"{stack.base_url}/v1/complaints/{case.no}/attachments/1"

    r = http.get(url, params={"token": case.token})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "image/jpeg"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "private, no-store"  # no shared cache keeps it
    assert r.headers["Content-Disposition"] == f'inline; filename="{case.no}-1.jpg"'
    assert r.content == case.photo(1).content  # the stored copy, without its GPS
    assert b"ParcelCam" not in r.content
    # the full phone number is a proof too; the last four digits open no photo
    phone = case.body["complainant"]["phone"]
    assert http.get(url, params={"phone": phone}).status_code == 200
    assert http.get(url, params={"phone_last4": phone[-4:]}).status_code == 401
    assert http.get(url).status_code == 401
    assert http.get(url, headers=bearer("supervisor")).status_code == 401  # staff use theirs

    # no case, a wrong proof and another case's proof: one and the same 404 (three failed
    # proofs of this client, which the throttle counts: the front door's tests share it)
    other = Filed(stack, http)
    assert other.upload(coloured_jpeg((1, 2, 3))).status_code == 201
    wrong = http.get(url, params={"token": "0" * 32})
    foreign = http.get(f"{stack.base_url}/v1/complaints/{other.no}/attachments/1",
                       params={"token": case.token})
    missing = http.get(f"{stack.base_url}/v1/complaints/CP20260101-NOSUCHNO/attachments/1",
                       params={"token": case.token})
    assert [x.status_code for x in (wrong, foreign, missing)] == [404, 404, 404]
    assert wrong.json() == foreign.json() == missing.json(), (wrong.text, missing.text)
    assert wrong.headers["Content-Type"].startswith("application/json")
    assert wrong.headers["Cache-Control"] == "private, no-store"
    for seq in ("2", "0", "x1", "99999"):
        assert http.get(f"{stack.base_url}/v1/complaints/{case.no}/attachments/{seq}",
                        params={"token": case.token}).status_code == 404, seq

    # a photo a member of staff added (the owner keying in what a caller sent) is listed, not
    # the customer's to read: it may come from someone else
    case.owned_by(TOKENS["agent3"][1])
    r = case.upload(coloured_jpeg((9, 9, 9)), proof={}, headers=bearer("agent3"))
    assert r.status_code == 201, r.text
    view = http.get(f"{stack.base_url}/v1/complaints/{case.no}", params={"token": case.token}).json()
    assert [(p["attachment"], p["uploaded_by"], "url" in p) for p in view["attachments"]] == [
        (1, "customer", True), (2, "staff", False)]
    assert http.get(f"{stack.base_url}/v1/complaints/{case.no}/attachments/2",
                    params={"token": case.token}).status_code == 404
    assert case.photo(2, "agent3").status_code == 200
