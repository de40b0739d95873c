"""The redundancy the chaos scenarios rely on, as deployed: the launcher's catalog and the
generated compose file run two replicas of each agent and of the manager, each its own
instance (its own lease holder), restarted by Docker when it dies, so that
`docker compose kill gamma-agent-1` behaves as `hedgemesh kill gamma-agent` does."""

from __future__ import annotations

from pathlib import Path

import yaml

from hedgemesh.launcher import catalog

ROOT = Path(__file__).resolve().parents[2]
REPLICATED = ("gamma-agent", "vega-agent", "manager")


def test_given_the_catalog_then_each_agent_and_the_manager_has_two_replicas() -> None:
    for name in REPLICATED:
        spec = catalog.find(name)
        assert spec is not None and spec.replicas == 2, name
        assert spec.instance_names() == [f"{name}-1", f"{name}-2"]


def test_given_compose_then_two_replicas_each_run_as_their_own_instance_and_restart() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in REPLICATED:
        for instance in (f"{name}-1", f"{name}-2"):
            service = services[instance]
            assert service["environment"]["HEDGEMESH_INSTANCE"] == instance
            assert service["restart"] == "unless-stopped"
            assert "healthcheck" in service
        module = ["python", "-m", catalog.find(name).module]  # type: ignore[union-attr]
        replicas = [s for s in services.values() if s.get("command") == module]
        assert len(replicas) == 2, name
