"""docker-compose.yml is checked offline (no Docker engine here): the Compose specification's rules
that can be checked without one, and agreement with the Makefile, the services' default ports,
their --help output and the nginx routing template. Needs no running stack."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from stack import DEFAULT_PORTS, ROOT, SCRIPTS, bin_dir

COMPOSE = ROOT / "docker-compose.yml"
DURATION = r"^([0-9]+(\.[0-9]+)?(us|ms|s|m|h))+$"

# The subset of the Compose specification (compose-spec.io, schema compose-spec.json) used here.
SCHEMA = {
    "type": "object",
    "required": ["services"],
    "properties": {
        "version": {"type": "string"},
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "include": {"type": "array"},
        "services": {"type": "object", "minProperties": 1,
                     "additionalProperties": {"$ref": "#/$defs/service"}},
        "networks": {"type": ["object", "null"]},
        "volumes": {"type": ["object", "null"]},
        "configs": {"type": ["object", "null"]},
        "secrets": {"type": ["object", "null"]},
    },
    "patternProperties": {"^x-": {}},
    "additionalProperties": False,
    "$defs": {
        "string_or_list": {"oneOf": [{"type": "string"},
                                     {"type": "array", "items": {"type": "string"}}]},
        "service": {
            "type": "object",
            "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
            "properties": {
                "image": {"type": "string"},
                "build": {"oneOf": [
                    {"type": "string"},
                    {"type": "object", "properties": {"context": {"type": "string"},
                                                      "dockerfile": {"type": "string"}},
                     "additionalProperties": True}]},
                "command": {"$ref": "#/$defs/string_or_list"},
                "entrypoint": {"$ref": "#/$defs/string_or_list"},
                "environment": {"oneOf": [
                    {"type": "object", "additionalProperties": {"type": ["string", "number",
                                                                         "boolean", "null"]}},
                    {"type": "array", "items": {"type": "string"}}]},
                "depends_on": {"oneOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "object", "additionalProperties": {
                        "type": "object", "required": ["condition"],
                        "properties": {"condition": {"enum": [
                            "service_started", "service_healthy",
                            "service_completed_successfully"]},
                            "restart": {"type": "boolean"}, "required": {"type": "boolean"}},
                        "additionalProperties": False}}]},
                "healthcheck": {
                    "type": "object",
                    "properties": {
                        "test": {"oneOf": [
                            {"type": "string"},
                            {"type": "array", "minItems": 1, "items": {"type": "string"}}]},
                        "interval": {"type": "string", "pattern": DURATION},
                        "timeout": {"type": "string", "pattern": DURATION},
                        "start_period": {"type": "string", "pattern": DURATION},
                        "start_interval": {"type": "string", "pattern": DURATION},
                        "retries": {"type": "integer", "minimum": 0},
                        "disable": {"type": "boolean"},
                    },
                    "additionalProperties": False,
                },
                "ports": {"type": "array", "items": {"type": ["string", "integer", "object"]}},
                "volumes": {"type": "array"},
                "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
            },
            "additionalProperties": True,
        },
    },
}

# Keys a service may have (compose-spec.json's service properties); anything else is a typo.
SERVICE_KEYS = {
    "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup",
    "cgroup_parent", "command", "configs", "container_name", "cpu_count", "cpu_percent",
    "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset",
    "credential_spec", "depends_on", "deploy", "develop", "device_cgroup_rules", "devices", "dns",
    "dns_opt", "dns_search", "domainname", "entrypoint", "env_file", "environment", "expose",
    "extends", "external_links", "extra_hosts", "group_add", "healthcheck", "hostname", "image",
    "init", "ipc", "isolation", "labels", "links", "logging", "mac_address", "mem_limit",
    "mem_reservation", "mem_swappiness", "memswap_limit", "network_mode", "networks",
    "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports", "privileged",
    "profiles", "pull_policy", "read_only", "restart", "runtime", "scale", "secrets",
    "security_opt", "shm_size", "stdin_open", "stop_grace_period", "stop_signal", "storage_opt",
    "sysctls", "tmpfs", "tty", "ulimits", "user", "userns_mode", "uts", "volumes", "volumes_from",
    "working_dir",
}
PORT_SHORT = re.compile(r"^((\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(([0-9]+(-[0-9]+)?):)?"
                        r"[0-9]+(-[0-9]+)?(/(tcp|udp|sctp))?$")


@pytest.fixture(scope="module")
def compose():
    with open(COMPOSE) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def makefile_services():
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^SERVICES\s*:?=\s*(.+)$", text, re.M)
    assert match, "Makefile has no SERVICES variable"
    return set(match.group(1).split())


def commands(service: dict) -> list[str]:
    cmd = service.get("command", [])
    return [cmd] if isinstance(cmd, str) else list(cmd)


def cp_binaries(service: dict) -> list[str]:
    return sorted(set(re.findall(r"\bcp-([a-z]+)\b", " ".join(commands(service)))))


def cp_services(compose) -> dict[str, dict]:
    """Compose services that run one of our long-lived binaries (not the one-shot init)."""
    return {name: svc for name, svc in compose["services"].items()
            if name in DEFAULT_PORTS and cp_binaries(svc) == [name]}


def env_dict(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def test_matches_the_compose_schema_subset(compose):
    jsonschema.validate(compose, SCHEMA)


def test_service_keys_are_known(compose):
    for name, svc in compose["services"].items():
        unknown = set(svc) - SERVICE_KEYS
        assert not unknown, f"service {name}: unknown keys {sorted(unknown)}"


def test_depends_on_names_existing_services_with_valid_conditions(compose):
    services = compose["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        deps = {d: {"condition": "service_started"} for d in deps} if isinstance(deps, list) else deps
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert dep != name, f"{name} depends on itself"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} healthy, which has no healthcheck"


def test_healthcheck_test_forms(compose):
    for name, svc in compose["services"].items():
        test = svc.get("healthcheck", {}).get("test")
        if test is None or isinstance(test, str):
            continue
        assert test[0] in ("NONE", "CMD", "CMD-SHELL"), f"{name}: healthcheck test starts with {test[0]}"
        if test[0] == "CMD-SHELL":
            assert len(test) == 2, f"{name}: CMD-SHELL takes exactly one string"
        if test[0] == "CMD":
            assert len(test) >= 2, f"{name}: CMD needs a command"


def test_ports_syntax(compose):
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            if isinstance(port, dict):
                assert "target" in port, f"{name}: long port syntax needs target"
            else:
                assert PORT_SHORT.match(str(port)), f"{name}: bad port {port!r}"


def test_published_ports_bind_to_loopback_only(compose):
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is published on every interface"


def test_named_volumes_are_declared(compose):
    declared = set(compose.get("volumes") or {})
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0] if isinstance(vol, str) else vol.get("source", "")
            if source and not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source} not declared at the top level"


def test_every_cp_command_is_a_makefile_service(compose, makefile_services):
    named = {b for svc in compose["services"].values() for b in cp_binaries(svc)}
    assert named, "docker-compose.yml runs no cp-* binary"
    assert named <= makefile_services, f"not in the Makefile's SERVICES: {sorted(named - makefile_services)}"


def test_the_stack_is_complete(compose):
    services = compose["services"]
    assert set(cp_services(compose)) == set(DEFAULT_PORTS)
    for infra in ("kafka", "postgres", "init", "gateway"):
        assert infra in services
    assert services["kafka"]["image"].startswith("apache/kafka:3.9")
    assert services["postgres"]["image"].startswith("postgres:15")
    assert env_dict(services["postgres"])["POSTGRES_DB"] == "complaints"
    init = " ".join(commands(services["init"]))
    assert "cp-admin migrate" in init and "cp-admin topics" in init
    for dep in ("kafka", "postgres"):
        assert services["init"]["depends_on"][dep]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", sorted(DEFAULT_PORTS))
def test_service_wiring(compose, name):
    svc = cp_services(compose)[name]
    port = DEFAULT_PORTS[name]
    env = env_dict(svc)
    assert svc["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert env.get("HTTP_PORT", str(port)) == str(port)
    assert env["DATABASE_URL"].startswith(f"postgresql://{name}:")
    assert env["DATABASE_URL"].endswith("/complaints")
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    test = " ".join(svc["healthcheck"]["test"])
    assert f":{port}/healthz" in test, f"{name}: healthcheck does not probe /healthz on {port}"
    for key, value in env.items():
        for m in re.finditer(r"@([a-z]+):([0-9]+)", value):
            assert m.group(1) in compose["services"], f"{name}: {key} names unknown host {m.group(1)}"


@pytest.mark.parametrize("name", [*sorted(DEFAULT_PORTS), "admin"])
def test_environment_names_appear_in_help(compose, name):
    binary = bin_dir() / f"cp-{name}"
    if not binary.exists():
        pytest.skip(f"{binary} not built yet: cannot compare the environment with --help")
    help_text = subprocess.run([str(binary), "--help"], capture_output=True, text=True,
                               timeout=10).stdout
    users = [svc for svc in compose["services"].values() if name in cp_binaries(svc)]
    assert users, f"no compose service runs cp-{name}"
    for svc in users:
        for key in env_dict(svc):
            assert key in help_text, f"cp-{name} --help does not document {key}, set in docker-compose.yml"


def test_gateway_config_is_the_rendered_template(compose):
    rendered = subprocess.run([str(SCRIPTS / "nginx.sh"), "render-compose"], capture_output=True,
                              text=True, timeout=30, check=True).stdout
    assert (ROOT / "deploy/nginx/compose.conf").read_text() == rendered, \
        "deploy/nginx/compose.conf is stale: deploy/scripts/nginx.sh render-compose > deploy/nginx/compose.conf"
    mounts = " ".join(compose["services"]["gateway"]["volumes"])
    assert "deploy/nginx/compose.conf:/etc/nginx/nginx.conf" in mounts


def test_dockerfile_builds_every_binary(makefile_services):
    text = (ROOT / "deploy/Dockerfile").read_text()
    assert re.search(r"^FROM debian:12\S* AS build", text, re.M)
    for svc in makefile_services:
        assert f"build/bin/cp-{svc}" in text, f"deploy/Dockerfile does not build cp-{svc}"


# --- a real Compose implementation, offline ---------------------------------------------------

DOCKER_COMPOSE = shutil.which("docker-compose")
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def compose_config(path: Path) -> subprocess.CompletedProcess:
    # `config` parses, validates and interpolates the file; it needs no Docker engine
    return subprocess.run([DOCKER_COMPOSE, "-f", str(path), "--project-directory", str(ROOT),
                           "-p", "complaints", "config", "-q"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


@pytest.mark.skipif(DOCKER_COMPOSE is None, reason="deploy/scripts/deps.sh installs docker-compose")
def test_debian_compose_accepts_the_file(tmp_path):
    r = compose_config(COMPOSE)
    assert r.returncode == 0, r.stderr
    services = subprocess.run([DOCKER_COMPOSE, "-f", str(COMPOSE), "--project-directory",
                               str(ROOT), "config", "--services"], capture_output=True,
                              text=True, timeout=60, cwd=ROOT).stdout.split()
    assert set(DEFAULT_PORTS) <= set(services)
    # the check has teeth: the top-level `name` this file once had is refused by Compose 1.29.2
    named = tmp_path / "docker-compose.yml"
    named.write_text("name: complaints\n" + COMPOSE.read_text())
    r = compose_config(named)
    assert r.returncode != 0 and "'name' does not match" in r.stderr, r.stderr


def test_compose_spec_schema_accepts_the_file():
    # check-jsonschema bundles the compose-spec schema (vendor.compose-spec): no network
    r = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec",
                        str(COMPOSE)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
