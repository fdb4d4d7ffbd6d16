"""The Helm chart (deploy/helm/complaints), checked offline: `helm lint`, `helm template` of the
default values and of the production-like example, every rendered object against the Kubernetes
schemas (kubernetes-validate, strict), and the chart against the services themselves: every
environment variable is in the service's own table (`--help`), the whole environment is one the
service accepts (`--print-config` with the chart's values, exit 0), ports and probes are the
service's (the probe paths answer on the running services), and the secrets arrive as files.

helm is built from its Go module by deploy/scripts/deps.sh ($HELM or the cache)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from stack import DEFAULT_PORTS, ROOT, SERVICES, bin_dir

CHART = ROOT / "deploy" / "helm" / "complaints"
PROD_VALUES = CHART / "values-production.yaml"
KUBE_VERSION = "1.31.0"
HELM = Path(os.environ.get("HELM") or Path(os.environ.get("CP_CACHE") or
            Path.home() / ".cache" / "complaints") / "helm-v3.19.5" / "helm")
SECRET_DIR = "/var/run/secrets/complaints"
# what the service accepts for each secret file (the shape it parses)
SECRET_SAMPLES = {
    "database_url": "postgresql://{svc}:pw-0123456789@db.example:5432/complaints?sslmode=require",
    "auth_tokens": "tok-agent-0123456789:agent:A001,tok-super-0123456789:supervisor:S001",
    "kafka_password": "kafka-0123456789",
}

pytestmark = pytest.mark.skipif(not HELM.exists(), reason=f"no helm at {HELM} (deps.sh builds it)")


def helm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)


def render(*values: Path) -> list[dict]:
    args = ["template", "complaints", str(CHART), "--namespace", "complaints",
            "--kube-version", KUBE_VERSION]
    for v in values:
        args += ["-f", str(v)]
    r = helm(*args)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d]


@pytest.fixture(scope="module", params=["default", "production"])
def objects(request):
    return render() if request.param == "default" else render(PROD_VALUES)


@pytest.fixture(scope="module")
def prod():
    return render(PROD_VALUES)


def of_kind(objs: list[dict], kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


def named(objs: list[dict], kind: str, name: str) -> dict:
    found = [o for o in of_kind(objs, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} objects"
    return found[0]


def table(binary: str) -> dict[str, str]:
    """The configuration table a binary prints with --help: name -> type."""
    out = subprocess.run([str(bin_dir() / binary), "--help"], capture_output=True, text=True,
                         timeout=20).stdout
    return dict(re.findall(r"^  ([A-Z][A-Z0-9_<>]*) +(string|integer|boolean|secret)\b", out,
                           re.M))


def container_env(container: dict) -> dict[str, str]:
    env = {}
    for e in container.get("env", []):
        env[e["name"]] = e.get("value", "<fieldRef>" if "valueFrom" in e else "")
    return env


# --- helm itself ---------------------------------------------------------------------------

@pytest.mark.parametrize("values", [[], [PROD_VALUES]], ids=["default", "production"])
def test_helm_lint(values):
    args = ["lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION]
    for v in values:
        args += ["-f", str(v)]
    r = helm(*args)
    assert r.returncode == 0 and "0 chart(s) failed" in r.stdout, r.stdout + r.stderr


def test_every_object_passes_the_kubernetes_schemas(objects):
    kinds = set()
    for obj in objects:
        kinds.add(obj["kind"])
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            # a CRD the bundled schemas do not have: its few fields are checked below
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    assert {"Deployment", "Service", "Job", "PodDisruptionBudget", "HorizontalPodAutoscaler",
            "NetworkPolicy", "Ingress", "ConfigMap"} <= kinds


def test_a_broken_object_would_be_caught(objects):
    # the validation has teeth: a typo'd field is refused in strict mode
    dep = dict(of_kind(objects, "Deployment")[0])
    dep["spec"] = {**dep["spec"], "replica": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, KUBE_VERSION, strict=True)


def test_objects_per_service(objects):
    for name in SERVICES:
        full = f"complaints-{name}"
        named(objects, "Deployment", full)
        svc = named(objects, "Service", full)
        assert svc["spec"]["ports"][0]["targetPort"] == "http"
        assert named(objects, "PodDisruptionBudget", full)["spec"]["maxUnavailable"] >= 1
        hpa = named(objects, "HorizontalPodAutoscaler", full)
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_setup_job_is_a_pre_install_and_pre_upgrade_hook(objects):
    job = named(objects, "Job", "complaints-setup")
    ann = job["metadata"]["annotations"]
    assert set(ann["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["command"][-1] == "cp-admin migrate && cp-admin topics"
    known = table("cp-admin")
    for name in container_env(c):
        base = name.removesuffix("_FILE")
        assert (base in known or base.startswith("KAFKA_") or
                re.fullmatch(r"DB_PASSWORD_[A-Z]+", base) and "DB_PASSWORD_<SERVICE>" in known), name
    services = {n.removeprefix("DB_PASSWORD_").removesuffix("_FILE").lower()
                for n in container_env(c) if n.startswith("DB_PASSWORD_")}
    assert services == set(SERVICES)


# --- the pods ------------------------------------------------------------------------------

def pods(objects):
    for o in of_kind(objects, "Deployment") + of_kind(objects, "Job"):
        yield o["metadata"]["name"], o["spec"]["template"]["spec"]


def test_pods_are_hardened_and_sized(objects):
    for name, spec in pods(objects):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        assert spec["automountServiceAccountToken"] is False, name
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, (name, c["name"])
            assert sc["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (name, c["name"])
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), (name, c["name"], kind)


def test_grace_period_exceeds_the_drain(objects):
    for name in SERVICES:
        spec = named(objects, "Deployment", f"complaints-{name}")["spec"]["template"]["spec"]
        drain = int(container_env(spec["containers"][0])["DRAIN_TIMEOUT_SECONDS"])
        # after the drain: the consumer's last batch and the producer's flush (up to 10 s)
        assert spec["terminationGracePeriodSeconds"] >= drain + 15, name


def write_secret_files(tmp: Path, service: str, spec: dict, env: dict[str, str]) -> dict[str, str]:
    """The chart's *_FILE paths mapped to files holding sample values; checks that each path is
    an item of a mounted secret volume."""
    c = spec["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    items = {}
    for vol in spec["volumes"]:
        if "secret" in vol:
            for item in vol["secret"]["items"]:
                items[f"{mounts[vol['name']]}/{item['path']}"] = item["key"]
    out = {}
    for name, path in env.items():
        if not name.endswith("_FILE"):
            continue
        assert path in items, f"{service}: {name}={path} is not a mounted secret item"
        base = Path(path).name
        sample = SECRET_SAMPLES.get(base, f"{base}-sample-0123456789abcdef").format(svc=service)
        local = tmp / f"{service}-{base}"
        local.write_text(sample + "\n")
        out[name] = str(local)
    return out


@pytest.mark.parametrize("name", SERVICES)
def test_service_env_ports_and_probes_match_the_service(objects, name, tmp_path):
    dep = named(objects, "Deployment", f"complaints-{name}")
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["command"] == [f"cp-{name}"]
    env = container_env(c)
    known = table(f"cp-{name}")
    for var in env:
        base = var.removesuffix("_FILE")
        assert base in known or base.startswith("KAFKA_"), f"{name}: {var} is not in its --help"
        if var.endswith("_FILE") and not base.startswith("KAFKA_"):
            assert known[base] == "secret", f"{name}: {var} read from a file but not a secret"
    # the port: the chart's, the service's default (nginx's and Compose's too), the probes'
    port = c["ports"][0]
    assert port["name"] == "http" and int(env["HTTP_PORT"]) == port["containerPort"]
    assert port["containerPort"] == DEFAULT_PORTS[name]
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
    if "prometheus.io/port" in annotations:
        assert int(annotations["prometheus.io/port"]) == port["containerPort"]
    # the whole environment is one the service starts with: it parses every value against its
    # own table (types, ranges, required) and PRODUCTION=true's rules
    files = write_secret_files(tmp_path, name, spec, env)
    run_env = {"PATH": os.environ["PATH"], **{k: v for k, v in env.items() if v != "<fieldRef>"},
               **files, "INSTANCE_ID": f"{name}-pod-0"}
    r = subprocess.run([str(bin_dir() / f"cp-{name}"), "--print-config"], env=run_env,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, f"{name}: {r.stderr}"
    assert f"HTTP_PORT={port['containerPort']}  # environment" in r.stdout
    assert "PRODUCTION=true" in r.stdout and "development default" not in r.stdout


def test_probe_paths_answer_on_the_running_services(stack, http):
    for name in SERVICES:
        for path in ("/healthz", "/readyz"):
            assert http.get(f"{stack.service_url(name)}{path}").status_code == 200, (name, path)


def test_kafka_password_is_a_file_when_sasl_is_on(prod):
    for name in SERVICES:
        spec = named(prod, "Deployment", f"complaints-{name}")["spec"]["template"]["spec"]
        env = container_env(spec["containers"][0])
        assert env["KAFKA_SASL_PASSWORD_FILE"] == f"{SECRET_DIR}/kafka_password"
        assert not any("PASSWORD" in k and not k.endswith("_FILE") for k in env)
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"


# --- the network and the signals ------------------------------------------------------------

def test_network_policies_keep_the_services_internal(objects):
    svc = named(objects, "NetworkPolicy", "complaints-services")
    assert svc["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "service"
    sources = [peer for rule in svc["spec"]["ingress"] for peer in rule["from"]]
    assert sources[0] == {"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "gateway", "app.kubernetes.io/instance": "complaints"}}}
    assert list(sources[1]) == ["namespaceSelector"] and len(sources) == 3
    # the other services reach classification's port only (the revoked staff sessions)
    assert sources[2] == {"podSelector": {"matchLabels": {
        "app.kubernetes.io/component": "service", "app.kubernetes.io/instance": "complaints"}}}
    assert svc["spec"]["ingress"][2]["ports"] == [{"protocol": "TCP", "port": 8082}]
    gw = named(objects, "NetworkPolicy", "complaints-gateway")
    assert [list(p) for r in gw["spec"]["ingress"] for p in r["from"]] == [["namespaceSelector"]]
    # the services' pods carry the label the policy selects
    for name in SERVICES:
        labels = named(objects, "Deployment", f"complaints-{name}")["spec"]["template"][
            "metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == "service"


def test_gateway_routes_the_template_and_never_metrics(objects, tmp_path):
    conf = named(objects, "ConfigMap", "complaints-gateway")["data"]["nginx.conf"]
    assert not re.search(r"@[A-Z_]+@", conf.split("\n", 4)[-1]), "an unfilled placeholder"
    for name in SERVICES:
        assert f"server complaints-{name}:{DEFAULT_PORTS[name]};" in conf
    assert not re.search(r"location[^{]*metrics", conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("no nginx")
    local = re.sub(r"server complaints-[a-z]+:", "server 127.0.0.1:", conf)
    (tmp_path / "nginx.conf").write_text(local)
    r = subprocess.run([nginx, "-t", "-q", "-p", str(tmp_path), "-e", "/dev/stderr", "-c",
                        str(tmp_path / "nginx.conf")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_scraping(prod):
    # default: annotations, no ServiceMonitor; production example: a ServiceMonitor
    default = render()
    assert not of_kind(default, "ServiceMonitor")
    ann = named(default, "Deployment", "complaints-intake")["spec"]["template"]["metadata"][
        "annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/path"] == "/metrics"
    (sm,) = of_kind(prod, "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]
    assert sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "service"


def test_lag_autoscaling_names_the_services_consumer_groups(prod):
    svc_c = (ROOT / "common" / "svc.c").read_text()
    assert 'snprintf(group, sizeof(group), "cp-%s", def->name)' in svc_c
    for name in SERVICES:
        hpa = named(prod, "HorizontalPodAutoscaler", f"complaints-{name}")
        (ext,) = [m for m in hpa["spec"]["metrics"] if m["type"] == "External"]
        assert ext["external"]["metric"]["selector"]["matchLabels"] == {
            "consumergroup": f"cp-{name}"}


def test_ingress_sends_everything_to_the_gateway(objects):
    (ing,) = of_kind(objects, "Ingress")
    (path,) = ing["spec"]["rules"][0]["http"]["paths"]
    assert path["path"] == "/" and path["backend"]["service"]["name"] == "complaints-gateway"


def test_versions_agree():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = (ROOT / "VERSION").read_text().strip()
    assert chart["appVersion"] == version
    out = subprocess.run([str(bin_dir() / "cp-intake"), "--version"], capture_output=True,
                         text=True, timeout=20).stdout
    assert out.startswith(f"cp-intake {version} ")


# --- alert rules ---------------------------------------------------------------------------

PROMTOOL = shutil.which("promtool")
ALERTS = {"ComplaintsConsumerStalled", "ComplaintsConsumerRetrying", "ComplaintsConsumerLag",
          "ComplaintsDeadLetters", "ComplaintsOutboxBacklog", "ComplaintsStuckSweepSkipped"}


def rules_file(objs: list[dict], tmp_path: Path) -> Path:
    """The PrometheusRule's groups as a plain Prometheus rule file (what promtool reads)."""
    (rule,) = of_kind(objs, "PrometheusRule")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    return path


def test_alert_rules_only_when_enabled(prod):
    # off by default (no Prometheus Operator assumed); the production example turns them on
    assert not of_kind(render(), "PrometheusRule")
    (rule,) = of_kind(prod, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    names = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert names == ALERTS


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is installed by deploy/scripts/deps.sh")
def test_alert_rules_pass_promtool(prod, tmp_path):
    r = subprocess.run([PROMTOOL, "check", "rules", str(rules_file(prod, tmp_path))],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and f"SUCCESS: {len(ALERTS)} rules found" in r.stdout, \
        r.stdout + r.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is installed by deploy/scripts/deps.sh")
def test_stalled_consumer_alert_fires_on_the_stalled_group_only(prod, tmp_path):
    # promtool's rule unit test: intake's consumer holds one batch from minute 1 on, evidence's
    # applies; the alert waits for 60 s over the threshold (stalledSeconds, for: 1m)
    rules = rules_file(prod, tmp_path)
    labels = {"severity": "critical", "namespace": "complaints", "pod": "intake-0",
              "group": "cp-intake"}
    summary = "cp-intake in intake-0 has not applied its batch for {}"
    (rule,) = of_kind(prod, "PrometheusRule")
    description = [r for g in rule["spec"]["groups"] for r in g["rules"]
                   if r["alert"] == "ComplaintsConsumerStalled"][0]["annotations"]["description"]
    test = {"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": 'cp_consumer_stalled_seconds{namespace="complaints",pod="intake-0",'
                       'group="cp-intake"}', "values": "0 0 60 120 180 240 300"},
            {"series": 'cp_consumer_stalled_seconds{namespace="complaints",pod="evidence-0",'
                       'group="cp-evidence"}', "values": "0 0 0 0 0 0 0"}],
        "alert_rule_test": [
            {"eval_time": "3m", "alertname": "ComplaintsConsumerStalled", "exp_alerts": []},
            {"eval_time": "5m", "alertname": "ComplaintsConsumerStalled", "exp_alerts": [
                {"exp_labels": labels,
                 "exp_annotations": {"summary": summary.format("4m 0s"),
                                     "description": description}}]}]}]}
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test))
    r = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
