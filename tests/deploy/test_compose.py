"""docker-compose.yml cannot be run here (no Docker engine); check what can be checked."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_parses_and_every_bind_mount_exists() -> None:
    services = _compose()["services"]
    assert services, "no services in docker-compose.yml"
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: bind mount {source} does not exist"


def test_compose_nats_runs_jetstream_from_the_shipped_config_with_a_healthcheck() -> None:
    nats = _compose()["services"]["nats"]
    assert nats["image"].startswith("nats:")
    assert nats["command"] == ["-c", "/etc/nats/nats.conf"]
    assert "./deploy/nats/nats.conf:/etc/nats/nats.conf:ro" in nats["volumes"]
    assert "healthz" in " ".join(nats["healthcheck"]["test"])
    config = (ROOT / "deploy" / "nats" / "nats.conf").read_text()
    assert "jetstream" in config and "store_dir: /data/jetstream" in config
