"""No service runs on a known development secret outside an explicit development mode; per-
install secrets come from files (NAME_FILE); the command line is strict (--version, unknown
arguments exit 2)."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess

import pytest

from helpers import complaint, post
from stack import SERVICES

BIN = os.environ.get("CP_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build",
                                               "bin")


def run(name: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    return subprocess.run([os.path.join(BIN, f"cp-{name}"), *args], capture_output=True,
                          text=True, timeout=20, env={**base, **(env or {})})


@pytest.mark.parametrize("name,secrets", [
    ("intake", ["PSEUDONYM_KEY", "CUSTOMER_LINK_SECRET"]),
    ("followup", ["CUSTOMER_LINK_SECRET", "WEBHOOK_SECRET"]),
])
def test_development_secrets_are_refused_without_dev_mode(name, secrets):
    r = run(name)
    assert r.returncode == 2, r.stderr
    for secret in secrets:
        assert secret in r.stderr
    assert "DEV_MODE=true" in r.stderr
    # one set, the others still default: still refused, naming only those left
    r = run(name, env={secrets[0]: "an-operators-own-secret-0123456789"})
    assert r.returncode == 2 and secrets[0] not in r.stderr.split(":")[1]


@pytest.mark.parametrize("name", SERVICES)
def test_version_and_unknown_arguments(name):
    v = run(name, "--version")
    assert v.returncode == 0 and v.stdout.startswith(f"cp-{name} ")
    bad = run(name, "--frobnicate")
    assert bad.returncode == 2 and "unknown argument" in bad.stderr
    assert "NAME_FILE" in run(name, "--help").stdout


def test_dev_mode_says_so_at_readyz(stack, http):
    ready = http.get(f"{stack.service_url('intake')}/readyz").json()
    assert ready["development_secrets"] is True
    assert "development_secrets" in stack.logs("intake")


def test_secrets_from_files_are_used_and_not_called_development(stack, http, tmp_path):
    link_secret, key = "link-" + os.urandom(16).hex(), "pseudo-" + os.urandom(16).hex()
    (tmp_path / "link").write_text(link_secret + "\n")
    (tmp_path / "key").write_text(key)
    with stack.service_env("intake", DEV_MODE="false",
                           CUSTOMER_LINK_SECRET_FILE=str(tmp_path / "link"),
                           PSEUDONYM_KEY_FILE=str(tmp_path / "key")):
        ready = http.get(f"{stack.service_url('intake')}/readyz").json()
        assert ready["development_secrets"] is False
        r = post(http, stack, complaint())
        assert r.status_code == 201, r.text
        no = r.json()["complaint_no"]
        expect = hmac.new(link_secret.encode(), f"case:{no}".encode(),
                          hashlib.sha256).hexdigest()[:32]
        assert r.json()["link"].endswith(f"token={expect}")
