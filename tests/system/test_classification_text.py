"""Classification's trained text reader on the real broker and PostgreSQL: the model built by
`make model` reads the customer's words (traditional Chinese, negations), its probability is
kept with the choice and shown by GET /v1/complaints/{no}/classification, an unsure reading is
marked for a person, whose correction (PUT) is stored as a labelled example and announces the
case again so evidence, resolution, the clocks and intake follow the new category; SIGHUP
reloads the model, and a bad model file stops the start with a clear error instead of a
crash."""

import datetime
import os
import signal
import time
from pathlib import Path

import pytest

from evidence_helpers import ago, scan, send
from helpers import complaint, post, seen, waybill, wait_rows
from stack import StackError

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BUILD", "build"))
MODEL = BUILD if BUILD.is_absolute() else ROOT / BUILD
MODEL = MODEL / "model" / "classifier.bin"
TOKENS = "tok-txt-a:agent:TXT-A,tok-txt-sup:supervisor:TXT-SUP,tok-txt-gw:integration:TXT-GW"
AGENT = {"Authorization": "Bearer tok-txt-a"}
SUPERVISOR = {"Authorization": "Bearer tok-txt-sup"}


@pytest.fixture(scope="module")
def cls(stack):
    assert MODEL.exists(), f"{MODEL} is missing: `make` (or `make model`) builds it"
    # every reading below certainty needs a person here, so the flag is seen on any text
    with stack.service_env("classification", AUTH_TOKENS=TOKENS, CLASSIFIER_MODEL=str(MODEL),
                           CLASSIFIER_MIN_CONFIDENCE="0.999"):
        yield stack


def _classified(stack, http, description):
    with stack.consumer(["complaint.classified.v1"], from_beginning=False) as reader:
        r = post(http, stack, complaint(type="other", description=description,
                                        impact={"goods": ["other"], "declared_value_fen": 0}))
        assert r.status_code == 201, r.text
        case = r.json()
        msg = reader.poll_until(lambda m: m.key == case["complaint_id"] and
                                m.headers.get("ce_type") == "cp.complaint.classified", timeout=30)
    ev = stack.proto.ComplaintClassified()
    ev.ParseFromString(msg.value)
    return case, ev


def _reading(stack, http, no):
    r = http.get(f"{stack.service_url('classification')}/v1/complaints/{no}/classification",
                 headers=SUPERVISOR)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("text, want", [
    ("快遞員沒經過我同意就把包裹放到驛站了，我明明在家", "unconsented_locker_station"),
    ("the box was not damaged, it was just three days late", "delay"),
    ("保安代签了我的快递，我从来没同意过", "proxy_signed"),
])
def test_the_model_reads_the_text(cls, http, text, want):
    case, ev = _classified(cls, http, text)
    assert (ev.subcategory, ev.text_subcategory) == (want, want)
    if want in ("proxy_signed", "unconsented_locker_station"):
        # their own SLA policies (migration 0760): 不告而投 is put right within a day
        assert ev.sla_policy == want
        assert ev.resolution_s == (172800 if want == "proxy_signed" else 86400)
    v = _reading(cls, http, case["complaint_no"])
    assert v["text_reader"] == "model" and v["subcategory"] == want
    assert 0.5 < v["text_probability"] <= 1.0


def test_unsure_reading_is_marked_and_a_person_corrects_it(cls, http):
    case, _ = _classified(cls, http, "包裹晚了两天，客服也不怎么理人，东西好像也有点问题")
    no = case["complaint_no"]
    v = _reading(cls, http, no)
    assert v["needs_review"] is True and v["review"] is None
    queue = http.get(cls.base_url + "/v1/classification-reviews", headers=SUPERVISOR)
    assert queue.status_code == 200
    assert no in [q["complaint_no"] for q in queue.json()["reviews"]]
    mine = http.get(cls.base_url + "/v1/classification-reviews", headers=AGENT)
    assert mine.status_code == 200 and mine.json()["reviews"] == []  # TXT-A owns none
    url = f"{cls.service_url('classification')}/v1/complaints/{no}/classification"
    assert http.put(url, json={"subcategory": "damage"}, headers=AGENT).status_code == 403
    bad = http.put(url, json={"subcategory": "broken_box"}, headers=SUPERVISOR)
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "subcategory"
    r = http.put(url, json={"subcategory": "damage"}, headers=SUPERVISOR)
    assert r.status_code == 200, r.text
    assert r.json()["category"] == "transport" and r.json()["needs_review"] is False
    v = _reading(cls, http, no)
    assert (v["subcategory"], v["needs_review"]) == ("damage", False)
    queue = http.get(cls.base_url + "/v1/classification-reviews", headers=SUPERVISOR).json()
    assert no not in [q["complaint_no"] for q in queue["reviews"]]
    assert v["review"]["by"] == "TXT-SUP" and v["review"]["original_subcategory"]
    rows = wait_rows(cls, "SELECT text, subcategory, source, staff_id FROM "
                          "classification.labelled_examples WHERE complaint_no = %s", (no,))
    assert rows[0] == ("包裹晚了两天，客服也不怎么理人，东西好像也有点问题", "damage",
                       "agent_correction", "TXT-SUP")
    missing = http.put(url.replace(no, "CP20000101-999999"), json={"subcategory": "damage"},
                       headers=SUPERVISOR)
    assert missing.status_code == 404


def _decode(stack, msg, name):
    ev = getattr(stack.proto, name)()
    ev.ParseFromString(msg.value)
    return ev


def test_a_correction_is_announced_and_every_service_follows_it(cls, http):
    """The customer says "late" about a parcel the scans show left in a locker without their
    consent (不告而投); a supervisor corrects the category. The correction is a labelled
    example, and cp.complaint.classified is announced again with the new category, its SLA
    policy and the complaint's facts: evidence rebuilds the bundle for it (locker_no_consent,
    the courier who stored it), resolution's still-proposed plan follows (the door-delivery
    promise and coupon), the timer replans the clocks on the new policy, intake shows it."""
    w = waybill()
    t0 = ago(30)
    h = datetime.timedelta(hours=1)
    send(cls, scan(cls, w, "picked_up", t0, facility_id="O1", facility_type="outlet",
                   courier_id="C1"),
         scan(cls, w, "arrived", t0 + 10 * h, facility_id="O2", facility_type="outlet"),
         scan(cls, w, "out_for_delivery", t0 + 20 * h, facility_id="O2",
              facility_type="outlet", courier_id="C9"),
         scan(cls, w, "locker_stored", t0 + 21 * h, facility_id="L1", facility_type="locker",
              courier_id="C9", customer_consented=False))
    wait_rows(cls, "SELECT 1 FROM evidence.scans WHERE waybill_no = %s", (w,), count=4)
    text = "快递寄出五天了还在路上，一直没有送到，怎么这么慢"
    with cls.consumer(["complaint.classified.v1", "complaint.evidence.v1"],
                      from_beginning=False) as reader:
        r = post(http, cls, complaint(type="delay", waybill_no=w, description=text,
                                      impact={"goods": ["other"], "declared_value_fen": 8800},
                                      demand=["apology"]))
        assert r.status_code == 201, r.text
        cid, no = r.json()["complaint_id"], r.json()["complaint_no"]
        first = _decode(cls, seen(reader, lambda m: m.key == cid and m.headers.get("ce_type") ==
                                  "cp.complaint.classified"), "ComplaintClassified")
        assert first.subcategory == "delay", first.choice_reason
        seen(reader, lambda m: m.key == cid and
             m.headers.get("ce_type") == "cp.complaint.evidence_collected")
        wait_rows(cls, "SELECT 1 FROM resolution.proposals WHERE complaint_id = %s", (cid,))
        url = f"{cls.service_url('classification')}/v1/complaints/{no}/classification"
        put = http.put(url, json={"subcategory": "unconsented_locker_station"},
                       headers=SUPERVISOR)
        assert put.status_code == 200, put.text
        body = put.json()
        assert body["previous_subcategory"] == "delay" and body["announced"] is True
        assert body["sla_policy"] == "unconsented_locker_station"
        again = _decode(cls, seen(reader, lambda m: m.key == cid and m.headers.get(
            "ce_type") == "cp.complaint.classified" and _decode(
            cls, m, "ComplaintClassified").subcategory != "delay"), "ComplaintClassified")
        bundle = _decode(cls, seen(reader, lambda m: m.key == cid and m.headers.get(
            "ce_type") == "cp.complaint.evidence_updated"), "EvidenceBundle")
    # the case announced again: the person's category, its policy, the facts as received
    assert (again.category, again.subcategory) == ("transport", "unconsented_locker_station")
    assert again.sla_policy == "unconsented_locker_station" and again.verification_s == 1800
    assert again.choice_reason == "set by a person: unconsented_locker_station"
    assert again.impact.declared_value_fen == 8800 and list(again.demand) == ["apology"]
    assert again.waybill_no == w and again.customer_ref == first.customer_ref
    assert again.text_subcategory == first.text_subcategory  # the model's reading is kept
    # the labelled example for the next training
    rows = wait_rows(cls, "SELECT text, subcategory, source FROM "
                          "classification.labelled_examples WHERE complaint_no = %s", (no,))
    assert rows[0] == (text, "unconsented_locker_station", "agent_correction")
    # evidence: the bundle of the new category
    assert bundle.subcategory == "unconsented_locker_station"
    assert "locker_no_consent" in [f.kind for f in bundle.findings]
    assert (bundle.responsibility.party, bundle.responsibility.party_id) == ("courier", "C9")
    # resolution: the plan nobody decided yet follows the new category and evidence: the
    # door-delivery promise with the default policy's 5 CNY coupon (migration 0870)
    wait_rows(cls, "SELECT 1 FROM resolution.cases WHERE complaint_id = %s AND subcategory = "
                   "'unconsented_locker_station' AND party = 'courier'", (cid,))
    wait_rows(cls, "SELECT 1 FROM resolution.proposals WHERE complaint_id = %s AND status = "
                   "'proposed' AND rule = 'unconsented_locker_station' AND total_fen = 500",
              (cid,))
    # the clocks run on the new policy; intake's case shows the new category
    wait_rows(cls, "SELECT 1 FROM timer.cases WHERE complaint_id = %s AND sla_policy = "
                   "'unconsented_locker_station'", (cid,))
    wait_rows(cls, "SELECT 1 FROM intake.complaints WHERE id = %s AND subcategory = "
                   "'unconsented_locker_station'", (cid,))
    # confirming the same category again is a labelled example, not a new announcement
    same = http.put(url, json={"subcategory": "unconsented_locker_station"}, headers=SUPERVISOR)
    assert same.status_code == 200 and same.json()["announced"] is False


def test_sighup_reloads_the_model(cls, http):
    cls._procs["classification"].send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    while time.time() < deadline and not any(
            rec.get("event") == "classifier_reloaded" for rec in cls.log_records("classification")):
        time.sleep(0.2)
    assert cls.is_running("classification")
    assert any(rec.get("event") == "classifier_reloaded"
               for rec in cls.log_records("classification"))
    _, ev = _classified(cls, http, "快递员态度很差，还骂人")
    assert ev.subcategory == "courier_attitude"


def test_bad_model_file_stops_the_start_with_a_clear_error(stack, tmp_path):
    bad = tmp_path / "classifier.bin"
    bad.write_bytes(MODEL.read_bytes()[:5000])  # cut inside the dictionary
    stack.stop_service("classification")
    try:
        with pytest.raises(StackError) as exc:
            stack.start_service("classification", CLASSIFIER_MODEL=str(bad))
        assert "exited with status 2" in str(exc.value)
        err = stack.logs("classification", stderr=True)
        assert f"CLASSIFIER_MODEL: '{bad}' is not a usable fastText model" in err
        assert "truncated" in err
    finally:
        stack.start_service("classification")
