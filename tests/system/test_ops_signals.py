"""Operator-grade signals (issue 12): every service's /metrics passes `promtool check metrics`
(Debian's prometheus package) and carries process_* and cp_build_info; the request id of the
front door is returned and logged, the CloudEvents id is on the consumer's log lines; the
configuration dump redacts secrets; PRODUCTION=true refuses development shortcuts; a Kafka
password can be given as a file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid

import pytest

from helpers import complaint, post, wait_rows
from stack import SERVICES, bin_dir, wait_for

PROMTOOL = shutil.which("promtool")
PROCESS_METRICS = ("process_cpu_seconds_total", "process_resident_memory_bytes",
                   "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                   "process_start_time_seconds")


def run(name: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    return subprocess.run([str(bin_dir() / f"cp-{name}"), *args], capture_output=True,
                          text=True, timeout=20, env={**base, **env})


def promtool_check(text: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is installed by deploy/scripts/deps.sh")
def test_promtool_finds_the_old_quantile_gauges():
    # the check would fail on what follow-up used to expose, so passing below means something
    old = ('# HELP cp_quality_cycle_seconds Whole-cycle time.\n'
           '# TYPE cp_quality_cycle_seconds gauge\n'
           'cp_quality_cycle_seconds{quantile="0.5"} 3\n')
    assert promtool_check(old).returncode != 0


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is installed by deploy/scripts/deps.sh")
@pytest.mark.parametrize("name", SERVICES)
def test_metrics_pass_promtool_with_process_and_build_info(stack, http, name):
    if name == "followup":
        # the quality figures exist once the stats task ran (at start, then every 30 s)
        wait_for(lambda: "cp_quality_cycle_cases" in
                 http.get(f"{stack.service_url(name)}/metrics").text, 40, "quality figures")
    text = http.get(f"{stack.service_url(name)}/metrics").text
    checked = promtool_check(text)
    assert checked.returncode == 0 and not checked.stdout.strip(), \
        checked.stdout + checked.stderr
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    for metric in PROCESS_METRICS:
        assert metric in samples, metric
    assert samples["process_resident_memory_bytes"] > 1e6
    assert samples["process_open_fds"] >= 3
    assert samples["process_start_time_seconds"] > 1.7e9
    version = run(name, "--version").stdout.split()
    info = [k for k in samples if k.startswith("cp_build_info{")]
    assert info == [f'cp_build_info{{version="{version[1]}",commit="{version[3][:-1]}"}}'], info
    if name == "followup":
        # the window's figures are gauges: a summary's _count and _sum must only grow, and
        # these fall as old cases leave the stats window
        assert "# TYPE cp_quality_cycle_median_seconds gauge" in text
        assert "# TYPE cp_quality_cycle_cases gauge" in text
        assert "cp_quality_accept_p90_seconds " in text
        quality = [ln for ln in text.splitlines() if ln.startswith("cp_quality_")]
        assert quality and not [ln for ln in quality if "_count" in ln or "quantile" in ln]


def test_request_id_from_the_front_door_is_returned_and_logged(stack, http):
    rid = f"test-{uuid.uuid4()}"
    r = post(http, stack, complaint(), **{"X-Request-Id": rid})
    assert r.status_code == 201, r.text
    assert r.headers["X-Request-Id"] == rid
    no = r.json()["complaint_no"]
    wait_for(lambda: any(rec.get("complaint_no") == no for rec in stack.log_records("intake")),
             10, "intake's log line")
    line = next(rec for rec in stack.log_records("intake") if rec.get("complaint_no") == no)
    assert line["request_id"] == rid
    # none sent: nginx makes one, returns it and passes it on
    r = post(http, stack, complaint())
    made = r.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made), made
    no = r.json()["complaint_no"]
    wait_for(lambda: any(rec.get("complaint_no") == no and rec.get("request_id") == made
                         for rec in stack.log_records("intake")), 10, "the made id logged")
    # straight to the service with an unusable id: the service makes a UUID of its own
    r = http.get(f"{stack.service_url('intake')}/healthz", headers={"X-Request-Id": "a b\"c"})
    assert re.fullmatch(r"[0-9a-f-]{36}", r.headers["X-Request-Id"])


def test_consumer_log_lines_carry_the_cloudevents_id(stack, http):
    with stack.consumer(["complaint.received.v1"], from_beginning=False) as reader:
        r = post(http, stack, complaint())
        assert r.status_code == 201, r.text
        no = r.json()["complaint_no"]
        (cid,), = wait_rows(stack, "SELECT id::text FROM intake.complaints WHERE complaint_no = %s",
                            (no,))
        msg = reader.poll_until(lambda m: m.key == cid and
                                m.headers.get("ce_type") == "cp.complaint.received")
    wait_for(lambda: any(rec.get("event") == "complaint_classified" and
                         rec.get("complaint_no") == no for rec in stack.log_records("classification")),
             20, "classification's log line")
    line = next(rec for rec in stack.log_records("classification")
                if rec.get("event") == "complaint_classified" and rec.get("complaint_no") == no)
    assert line["ce_id"] == msg.headers["ce_id"]


def test_print_config_redacts_secrets(tmp_path):
    (tmp_path / "pw").write_text("kafka-pass-123456\n")
    r = run("intake", "--print-config", DEV_MODE="true",
            DATABASE_URL="postgresql://intake:db-pass-987@db.example:5432/complaints",
            PSEUDONYM_KEY="pseudo-key-abcdef0123456789", KAFKA_SASL_USERNAME="svc",
            KAFKA_SASL_PASSWORD_FILE=str(tmp_path / "pw"), KAFKA_SSL_KEY_PASSWORD="keypw-42")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "DATABASE_URL=postgresql://intake:***@db.example:5432/complaints  # environment" in out
    assert re.search(r"^PSEUDONYM_KEY=\(set, 27 characters\)", out, re.M)
    assert "CUSTOMER_LINK_SECRET=(development default" in out
    assert "HTTP_PORT=8081  # default" in out and "KAFKA_SASL_USERNAME=svc" in out
    for secret in ("db-pass-987", "pseudo-key-abcdef", "kafka-pass-123456", "keypw-42"):
        assert secret not in out + r.stderr
    # the same dump is refused (exit 2, and why) when the service would refuse to start
    r = run("intake", "--print-config")
    assert r.returncode == 2 and "DEV_MODE=true" in r.stderr


def test_development_defaults_warn_loudly_and_production_refuses():
    r = run("followup", "--print-config", DEV_MODE="true")
    assert r.returncode == 0 and "WARNING: DEVELOPMENT MODE" in r.stderr
    r = run("timer", PRODUCTION="true", DEV_MODE="true")
    assert r.returncode == 2 and "contradict" in r.stderr
    # timer has no secret of its own, but its built-in database URL is a development one
    r = run("timer", PRODUCTION="true")
    assert r.returncode == 2 and "DATABASE_URL" in r.stderr
    r = run("timer", "--print-config", PRODUCTION="true",
            DATABASE_URL="postgresql://timer:s3cret-x@db:5432/complaints",
            SESSION_SECRET="an-operators-session-secret-0123")
    assert r.returncode == 0, r.stderr


def test_an_unreadable_kafka_password_file_stops_the_start(tmp_path):
    # (a readable one reaching librdkafka as sasl.password: tests/unit/test_common_config.c)
    r = run("timer", DEV_MODE="true", KAFKA_SASL_PASSWORD_FILE=str(tmp_path / "missing"),
            KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
    assert r.returncode != 0
    assert "KAFKA_SASL_PASSWORD_FILE" in r.stderr and "missing" in r.stderr
