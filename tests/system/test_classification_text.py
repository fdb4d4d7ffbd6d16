"""Classification's trained text reader on the real broker and PostgreSQL: the model built by
`make model` reads the customer's words (traditional Chinese, negations), its probability is
kept with the choice and shown by GET /v1/complaints/{no}/classification, an unsure reading is
marked for a person, whose correction (PUT) is stored as a labelled example; SIGHUP reloads the
model, and a bad model file stops the start with a clear error instead of a crash."""

import os
import signal
import time
from pathlib import Path

import pytest

from helpers import complaint, post, wait_rows
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
