"""deploy/k8s/ is generated from the service catalog and the permissions table, and valid offline:
every manifest against the Kubernetes schemas (`kubernetes-validate`, strict), every overlay as
kustomize renders it (`kubectl kustomize`, where kubectl is installed), the NATS config by
nats-server itself (`-t`), and each fact as the catalog, compose and the permissions say it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hedgemesh.api.security.auth import Role
from hedgemesh.launcher import catalog, compose, k8s
from hedgemesh.runtime import permissions
from hedgemesh.runtime.server import find_binary

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
#: The oldest Kubernetes release the manifests must be valid for.
KUBERNETES = "1.30"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _base() -> dict[tuple[str, str], dict[str, Any]]:
    resources = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())["resources"]
    return {
        (doc["kind"], doc["metadata"]["name"]): doc
        for name in resources
        for doc in _docs(K8S / "base" / name)
    }


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_checked_in_manifests_are_the_ones_the_catalog_renders() -> None:
    rendered = k8s.files()
    on_disk = {p.relative_to(ROOT) for p in K8S.rglob("*") if p.is_file()}
    assert on_disk == set(rendered), "regenerate with `.venv/bin/hedgemesh k8s --write`"
    for path, text in rendered.items():
        assert (ROOT / path).read_text() == text, f"{path} differs: `hedgemesh k8s --write`"


def test_every_base_manifest_is_valid_kubernetes_strictly() -> None:
    base = _base()
    assert len(base) > 3 * len(catalog.SERVICES)
    for doc in base.values():
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)  # raises on any fault


@pytest.mark.parametrize("overlay", sorted(k8s.OVERLAYS))
def test_every_overlay_renders_with_kustomize_into_valid_manifests(overlay: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: the overlays are not rendered (the base is validated)")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    assert {(d["kind"], d["metadata"]["name"]) for d in docs} == set(_base())
    namespace = k8s.OVERLAYS[overlay]["namespace"]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        assert doc["metadata"]["namespace"] == namespace
    image = k8s.OVERLAYS[overlay]["images"][0]
    wanted = f"{image.get('newName', 'hedgemesh')}:{image['newTag']}"
    workloads = [d for d in docs if d["kind"] in ("Deployment", "Job")]
    for doc in workloads:
        for container in doc["spec"]["template"]["spec"]["containers"]:
            assert container["image"] == wanted, doc["metadata"]["name"]


def test_every_catalog_service_is_a_deployment_as_the_catalog_says() -> None:
    base = _base()
    for spec in catalog.SERVICES:
        deployment = base[("Deployment", spec.name)]
        assert deployment["spec"]["replicas"] == spec.replicas
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["command"] == ["python", *spec.command]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in container, f"{spec.name} has no {probe}"
        requests = container["resources"]["requests"]
        assert requests == {
            "cpu": f"{spec.resources.cpu_m}m",
            "memory": f"{spec.resources.memory_mi}Mi",
        }
        env = _env(container)
        assert env["HEDGEMESH_INSTANCE"] == {"fieldRef": {"fieldPath": "metadata.name"}}
        assert env["HEDGEMESH_NATS_USER"] == spec.name
        assert env["HEDGEMESH_NATS_PASSWORD"] == {
            "secretKeyRef": {"name": k8s.NATS_SECRET, "key": spec.name}
        }
        assert env["HEDGEMESH_STREAM_REPLICAS"] == "3"
        assert env["HEDGEMESH_PARTITIONS"] == str(k8s.PARTITIONS)
        metrics = deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"]
        assert int(metrics) in {p["containerPort"] for p in container["ports"]}
        if spec.http is None:  # the API serves /metrics on its own port
            assert env["HEDGEMESH_METRICS_PORT"] == metrics == str(compose.METRICS_PORT)
        assert ("HEDGEMESH_DATABASE_URL" in env) == spec.needs_database
        for key, value in compose.shared_env(spec).items():  # what compose gives it too
            assert env[key] == value, key
        pdb = base[("PodDisruptionBudget", spec.name)]
        assert (
            pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        )
        if spec.replicas > 1:  # a leader or a standby always runs
            assert pdb["spec"]["minAvailable"] == spec.replicas - 1
    deployments = {name for kind, name in base if kind == "Deployment"}
    assert deployments == {spec.name for spec in catalog.SERVICES}


def test_no_secret_is_in_the_manifests_only_references_to_the_operators_secrets() -> None:
    secrets: set[tuple[str, str]] = set()
    for path in K8S.rglob("*.yaml"):
        text = path.read_text()
        assert "kind: Secret\n" not in text, path
        secrets |= set(re.findall(r"name: (hedgemesh-[a-z]+)\n\s+key: ([\w-]+)", text))
    expected = {(k8s.NATS_SECRET, user) for user in permissions.GRANTS}
    expected |= {(k8s.API_SECRET, role.value) for role in Role}
    expected |= {(k8s.POSTGRES_SECRET, "password")}
    assert secrets == expected


def test_nats_is_a_three_node_jetstream_cluster_with_the_compose_users() -> None:
    base = _base()
    statefulset = base[("StatefulSet", "nats")]
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    assert base[("PodDisruptionBudget", "nats")]["spec"]["minAvailable"] == 2  # a quorum
    conf = base[("ConfigMap", "nats-config")]["data"]["nats.conf"]
    for i in range(3):
        assert f'"nats://nats-{i}.nats-headless:6222"' in conf
    assert "sync_interval: always" in conf
    authorization = conf[conf.index("authorization {") :]
    compose_conf = (ROOT / "deploy" / "nats" / "nats.conf").read_text()
    assert authorization == compose_conf[compose_conf.index("authorization {") :]
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    for user in permissions.GRANTS:
        assert env[permissions.password_env(user)] == {
            "secretKeyRef": {"name": k8s.NATS_SECRET, "key": user}
        }
    job = base[("Job", "nats-declare")]
    (declare,) = job["spec"]["template"]["spec"]["containers"]
    assert declare["command"] == ["python", "-m", "hedgemesh.runtime.declare"]
    assert _env(declare)["HEDGEMESH_NATS_USER"] == permissions.ADMIN


def test_nats_server_accepts_the_cluster_config(tmp_path: Path) -> None:
    conf = tmp_path / "nats.conf"
    conf.write_text(_base()[("ConfigMap", "nats-config")]["data"]["nats.conf"])
    env = {permissions.password_env(user): "x" for user in permissions.GRANTS}
    checked = subprocess.run(
        [str(find_binary()), "-t", "-c", str(conf)],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "SERVER_NAME": "nats-0"},
        timeout=30,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_helm_values_give_the_same_users_and_a_three_node_jetstream_cluster() -> None:
    values = yaml.safe_load((K8S / "nats-helm-values.yaml").read_text())
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["enabled"] is True
    assert values["config"]["jetstream"]["merge"] == {"sync_interval": "always"}
    users = values["config"]["merge"]["authorization"]["users"]
    assert [u["user"] for u in users] == list(permissions.GRANTS)
    for user in users:
        grant = permissions.GRANTS[user["user"]]
        assert user["permissions"]["subscribe"]["allow"] == list(grant.subscribe)
        assert user["password"] == f"<< {permissions.env_reference(user['user'])} >>"
    env = values["container"]["env"]
    assert set(env) == {permissions.password_env(user) for user in permissions.GRANTS}


def test_the_fix_acceptor_is_off_in_the_base_and_on_in_the_fix_overlay() -> None:
    fix = catalog.find("execution").fix
    assert fix is not None
    (deployment,) = [
        d for (kind, name), d in _base().items() if (kind, name) == ("Deployment", "execution")
    ]
    assert fix.port_env not in _env(deployment["spec"]["template"]["spec"]["containers"][0])
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: the fix overlay is not rendered")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / "fix")],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(rendered) if d}
    assert set(docs) == set(_base()) | {("Service", "execution-fix")}
    for doc in docs.values():
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    (container,) = docs[("Deployment", "execution")]["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    assert env[fix.port_env] == str(fix.default_port) and env[fix.host_env] == "0.0.0.0"
    assert env[fix.passwords_env] == {"secretKeyRef": {"name": k8s.FIX_SECRET, "key": "passwords"}}
    assert {"name": "fix", "containerPort": fix.default_port} in container["ports"]
    service = docs[("Service", "execution-fix")]["spec"]
    assert service["ports"] == [{"name": "fix", "port": fix.default_port, "targetPort": "fix"}]
