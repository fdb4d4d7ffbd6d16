"""Every service is alive, ready, measurable, documented and stops cleanly; nginx reaches each."""

import signal
import subprocess

import pytest

from stack import SERVICES, bin_dir


@pytest.mark.parametrize("name", SERVICES)
def test_health_endpoints_answer_on_the_service_port(stack, http, name):
    url = stack.service_url(name)
    assert http.get(f"{url}/healthz").status_code == 200
    assert http.get(f"{url}/readyz").status_code == 200
    metrics = http.get(f"{url}/metrics")
    assert metrics.status_code == 200
    assert "# TYPE " in metrics.text


@pytest.mark.parametrize("name", SERVICES)
def test_health_endpoints_answer_through_nginx(stack, http, name):
    base = f"{stack.base_url}/services/{name}"
    assert http.get(f"{base}/healthz").status_code == 200
    assert http.get(f"{base}/readyz").status_code == 200
    # the metrics (with the quality figures) are for the internal network only
    metrics = http.get(f"{base}/metrics")
    assert metrics.status_code == 404
    assert "# TYPE " not in metrics.text


def test_nginx_answers_unknown_paths_with_json_404(stack, http):
    resp = http.get(f"{stack.base_url}/no/such/path")
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"
    assert resp.headers.get("X-Request-Id")


@pytest.mark.parametrize("name", [*SERVICES, "admin"])
def test_help_lists_the_contract_variables(name):
    binary = bin_dir() / f"cp-{name}"
    if not binary.exists():
        pytest.fail(f"{binary} not built (run make)")
    done = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    text = done.stdout + done.stderr
    if name == "admin":
        for var in ("ADMIN_DATABASE_URL", "MIGRATIONS_DIR", "KAFKA_BOOTSTRAP_SERVERS"):
            assert var in text
    else:
        for var in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
            assert var in text


@pytest.mark.parametrize("name", SERVICES)
def test_sigterm_exits_zero_within_ten_seconds(stack, http, name):
    status = stack.stop_service(name, sig=signal.SIGTERM, timeout=10)
    try:
        assert status == 0, f"cp-{name} exited {status} on SIGTERM; log tail:\n{stack.logs(name)[-2000:]}"
    finally:
        stack.start_service(name)
    assert http.get(f"{stack.service_url(name)}/healthz").status_code == 200
