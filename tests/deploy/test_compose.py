"""docker-compose.yml is generated from the service catalog; no Docker engine runs here, so check
the file against the catalog and, where Debian's `docker-compose` is installed, against Compose."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hedgemesh.launcher import catalog, compose
from hedgemesh.runtime import permissions
from hedgemesh.runtime.server import find_binary

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
NATS_CONF = ROOT / "deploy" / "nats" / "nats.conf"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_checked_in_compose_file_is_the_one_the_catalog_renders() -> None:
    assert COMPOSE_FILE.read_text() == compose.render(), (
        "docker-compose.yml differs from the catalog; regenerate it with "
        "`.venv/bin/hedgemesh compose --write`"
    )


def test_compose_runs_every_catalog_instance_with_the_launcher_command() -> None:
    services = _compose()["services"]
    for instance in catalog.instances():
        assert instance.name in services, f"{instance.name} missing from docker-compose.yml"
        service = services[instance.name]
        assert service["command"] == ["python", *instance.spec.command]
        assert service["environment"]["HEDGEMESH_INSTANCE"] == instance.name
        assert "healthcheck" in service
    expected = {i.name for i in catalog.instances()} | {"nats", compose.INIT, "postgres"}
    assert set(services) == expected


def test_every_bind_mount_and_the_dockerfile_exist() -> None:
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: bind mount {source} does not exist"
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file()


def test_compose_nats_runs_jetstream_from_the_shipped_config() -> None:
    nats = _compose()["services"]["nats"]
    assert nats["command"] == ["-c", "/etc/nats/nats.conf"]
    assert "./deploy/nats/nats.conf:/etc/nats/nats.conf:ro" in nats["volumes"]
    config = (ROOT / "deploy" / "nats" / "nats.conf").read_text()
    assert "store_dir: /data/jetstream" in config and "sync_interval: always" in config


def test_dockerfile_copies_what_the_services_need() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for folder in ("libs", "services"):
        assert f"COPY {folder} ./{folder}" in dockerfile


def _compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **env},
        timeout=60,
    )


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_accepts_the_file_with_the_secrets_and_refuses_it_without() -> None:
    passwords = {permissions.password_env(user): f"pw-{user}" for user in permissions.GRANTS}
    tokens = {name: f"token-{name}" for name in compose.API_TOKENS}
    fix = _fix_spec()
    fix_passwords = {fix.password_env(name): f"pw-{name}" for name in fix.counterparties}
    postgres = {"HEDGEMESH_POSTGRES_PASSWORD": "pg-secret"}
    result = _compose_config(passwords | tokens | fix_passwords | postgres)
    assert result.returncode == 0, result.stderr
    no_postgres = _compose_config(passwords | tokens | fix_passwords)
    assert no_postgres.returncode != 0 and "HEDGEMESH_POSTGRES_PASSWORD" in no_postgres.stderr
    refused = _compose_config({})
    assert refused.returncode != 0 and "HEDGEMESH_NATS_PASSWORD_" in refused.stderr
    no_tokens = _compose_config(passwords | fix_passwords | postgres)
    assert no_tokens.returncode != 0 and "HEDGEMESH_API_" in no_tokens.stderr
    no_fix = _compose_config(passwords | tokens | {"HEDGEMESH_POSTGRES_PASSWORD": "pg"})
    assert no_fix.returncode != 0 and "HEDGEMESH_FIX_PASSWORD_" in no_fix.stderr


def _fix_spec() -> catalog.FixSpec:
    spec = catalog.find("execution")
    assert spec is not None and spec.fix is not None
    return spec.fix


def test_compose_exposes_the_fix_acceptor_with_a_required_password_per_counterparty() -> None:
    fix = _fix_spec()
    execution = _compose()["services"]["execution"]
    published = f"${{HEDGEMESH_BIND:-127.0.0.1}}:${{{fix.port_env}:-{fix.default_port}}}"
    assert f"{published}:{fix.default_port}" in execution["ports"]
    env = execution["environment"]
    assert env[fix.port_env] == str(fix.default_port) and env[fix.host_env] == "0.0.0.0"
    passwords = json.loads(env[fix.passwords_env])
    assert passwords == {n: f"${{{fix.password_env(n)}:?required}}" for n in fix.counterparties}


def test_checked_in_nats_conf_is_the_one_the_permissions_render() -> None:
    assert NATS_CONF.read_text() == compose.render_nats_conf(), (
        "deploy/nats/nats.conf differs from hedgemesh.runtime.permissions; regenerate it with "
        "`.venv/bin/python -m hedgemesh.launcher.compose`"
    )


def _check_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_binary()), "-t", "-c", str(NATS_CONF)],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), **env},
        timeout=30,
    )


def test_nats_accepts_the_config_with_every_password_and_refuses_it_without_one() -> None:
    passwords = {permissions.password_env(user): f"pw-{user}" for user in permissions.GRANTS}
    assert _check_config(passwords).returncode == 0
    missing = permissions.password_env("manager")
    refused = _check_config({k: v for k, v in passwords.items() if k != missing})
    assert refused.returncode != 0 and missing in refused.stdout + refused.stderr


def test_every_service_connects_as_its_own_user_with_a_required_secret() -> None:
    services = _compose()["services"]
    nats_env = services["nats"]["environment"]
    for user in permissions.GRANTS:
        name = permissions.password_env(user)
        assert nats_env[name] == f"${{{name}:?required}}"
    for instance in catalog.instances():
        env = services[instance.name]["environment"]
        name = permissions.password_env(instance.spec.name)
        assert env["HEDGEMESH_NATS_USER"] == instance.spec.name
        assert env["HEDGEMESH_NATS_PASSWORD"] == f"${{{name}:?required}}"
        depends = services[instance.name]["depends_on"]
        assert depends[compose.INIT] == {"condition": "service_completed_successfully"}
    init = services[compose.INIT]
    assert init["command"] == ["python", "-m", "hedgemesh.runtime.declare"]
    assert init["environment"]["HEDGEMESH_NATS_USER"] == permissions.ADMIN


def test_checked_in_prometheus_config_scrapes_every_instance_the_catalog_runs() -> None:
    path = ROOT / compose.PROMETHEUS_CONF
    assert path.read_text() == compose.render_prometheus(), "regenerate: hedgemesh compose --write"
    scraped = {
        target.split(":")[0]
        for job in yaml.safe_load(path.read_text())["scrape_configs"]
        for config in job["static_configs"]
        for target in config["targets"]
    }
    assert scraped == {i.name for i in catalog.instances()}
    services = _compose()["services"]
    for instance in catalog.instances():
        if instance.spec.http is None:
            env = services[instance.name]["environment"]
            assert env["HEDGEMESH_METRICS_PORT"] == str(compose.METRICS_PORT)


def test_grafana_dashboard_reads_only_metrics_the_services_declare() -> None:
    import json
    import re

    import hedgemesh.agentkit.adapters.component
    import hedgemesh.api.adapters.monitor
    import hedgemesh.execution.adapters.component
    import hedgemesh.ledger.adapters.component
    import hedgemesh.manager.adapters.component
    import hedgemesh.marketdata.adapters.component
    import hedgemesh.runtime.streams  # noqa: F401  (they declare their metrics)
    from hedgemesh.runtime import metrics

    declared = {
        name.removesuffix("_total")
        for family in metrics.REGISTRY.collect()
        for name in (family.name,)
    }
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "hedgemesh.json").read_text())
    used = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"hedgemesh_[a-z_]+", target["expr"])
    }
    assert used and used <= declared, f"undeclared: {used - declared}"


def test_every_published_port_binds_loopback_by_default_and_the_monitor_stays_inside() -> None:
    published = {name: service.get("ports", []) for name, service in _compose()["services"].items()}
    assert {name for name, ports in published.items() if ports} == {"nats", "api", "execution"}
    for name, ports in published.items():
        for port in ports:
            assert port.startswith("${HEDGEMESH_BIND:-127.0.0.1}:"), (name, port)
    assert not any("8222" in port for port in published["nats"])  # the monitor: internal


def test_every_secret_is_required_from_the_environment_postgres_included() -> None:
    text = COMPOSE_FILE.read_text()
    services = _compose()["services"]
    postgres = services["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD"] == "${HEDGEMESH_POSTGRES_PASSWORD:?required}"
    for instance in catalog.instances():
        env = services[instance.name]["environment"]
        assert env["HEDGEMESH_NATS_PASSWORD"].endswith(":?required}")
        if "HEDGEMESH_DATABASE_URL" in env:
            assert ":${HEDGEMESH_POSTGRES_PASSWORD:?required}@" in env["HEDGEMESH_DATABASE_URL"]
    for name in compose.API_TOKENS:
        assert services["api"]["environment"][name] == f"${{{name}:?required}}"
    assert "hedgemesh:hedgemesh@" not in text and "PASSWORD: hedgemesh" not in text
