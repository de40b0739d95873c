"""docker-compose.yml is generated from the service catalog; no Docker engine runs here, so check
the file against the catalog and, where Debian's `docker-compose` is installed, against Compose."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hedgemesh.launcher import catalog, compose

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"


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
    expected = {i.name for i in catalog.instances()} | {"nats", "postgres"}
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


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
