"""A bad value in a service's configuration (its environment settings, the scenario file) stops
the service at start-up, with a message naming the key, before it does anything else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hedgemesh.launcher import catalog

pytestmark = pytest.mark.timeout(120)

#: Nothing listens here: a service that got past its configuration would wait for NATS for ever.
NOWHERE = "nats://127.0.0.1:9"
#: The services that read the scenario file themselves.
READ_THE_SCENARIO = ("marketdata", "gamma-agent", "vega-agent", "manager")


def _start(module: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEMESH_")}
    return subprocess.run(
        [sys.executable, "-m", module],
        env={
            **clean,
            "HEDGEMESH_NATS_URL": NOWHERE,
            "HEDGEMESH_HOME": str(tmp_path),
            "HEDGEMESH_DATABASE_URL": f"sqlite:///{tmp_path / 'bad.db'}",
            "HEDGEMESH_DEV_MODE": "1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


CASES = [
    # a runtime setting every service reads
    *((spec.name, "HEDGEMESH_HEARTBEAT_INTERVAL_S", "-1", "heartbeat_interval_s")
      for spec in catalog.SERVICES),
    ("manager", "HEDGEMESH_NATS_PING_INTERVAL_S", "often", "ping_interval_s"),
    ("execution", "HEDGEMESH_EXECUTION_PUBLISH_BATCH", "0", "publish_batch"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "variable", "value", "key"), CASES)
def test_given_a_bad_setting_then_the_service_stops_at_start_naming_it(
    name, variable, value, key, tmp_path
) -> None:
    spec = catalog.find(name)
    assert spec is not None
    result = _start(spec.module, tmp_path, **{variable: value})
    assert result.returncode != 0
    assert key in result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr  # one clear line, not a stack


@pytest.mark.parametrize("name", READ_THE_SCENARIO)
def test_given_a_bad_scenario_then_the_service_stops_at_start_naming_the_key(
    name, tmp_path
) -> None:
    spec = catalog.find(name)
    assert spec is not None
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("name: broken\nseed: 7\nunderlyings: 5\n")
    result = _start(spec.module, tmp_path, HEDGEMESH_SCENARIO=str(scenario))
    assert result.returncode != 0
    assert "underlyings" in result.stdout + result.stderr and str(scenario) in result.stderr
