"""The supervisor runs real child processes: restart on crash, stop in order, state for the CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hedgemesh.cli import ops
from hedgemesh.launcher import catalog, state
from hedgemesh.launcher.catalog import ServiceSpec
from hedgemesh.launcher.supervisor import Supervisor

SAMPLE = str(Path(__file__).with_name("sample_service.py"))


class ScriptSpec(ServiceSpec):
    """A spec started from a script path instead of a module (only for tests)."""

    @property
    def command(self) -> tuple[str, ...]:
        return (SAMPLE,)


def _supervisor(tmp_path: Path, nats_url: str, replicas: int = 2, restart: bool = True):
    spec = ScriptSpec(name="sample", module="unused", replicas=replicas)
    env = {"HEDGEMESH_NATS_URL": nats_url, "HEDGEMESH_HEARTBEAT_INTERVAL_S": "0.2"}
    return Supervisor(
        catalog.instances((spec,)), env=env, log_dir=tmp_path / "logs", restart=restart
    )


def _poll_until(supervisor: Supervisor, predicate, timeout: float = 10.0) -> list[str]:
    events: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events += supervisor.poll()
        if predicate():
            return events
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s; events: {events}")


def test_instance_names_follow_replicas() -> None:
    assert ServiceSpec("ledger", "hedgemesh.ledger").instance_names() == ["ledger"]
    assert ServiceSpec("gamma-agent", "m", replicas=2).instance_names() == [
        "gamma-agent-1",
        "gamma-agent-2",
    ]


def test_every_catalog_module_exists() -> None:
    import importlib.util

    for spec in catalog.SERVICES:
        assert importlib.util.find_spec(spec.module) is not None, spec.module


def test_given_a_child_is_killed_then_it_is_restarted_with_a_new_pid(tmp_path, nats_server):
    supervisor = _supervisor(tmp_path, nats_server.url)
    supervisor.start_all()
    try:
        victim = supervisor.children["sample-1"]
        first_pid = victim.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        events = _poll_until(supervisor, lambda: victim.restarts == 1 and victim.alive)
        assert victim.pid != first_pid
        assert any("signal SIGKILL" in e for e in events)
        assert supervisor.children["sample-2"].restarts == 0
    finally:
        supervisor.stop_all()
    assert not any(child.alive for child in supervisor.children.values())


def test_given_stop_all_then_children_exit_cleanly_on_sigterm(tmp_path, nats_server):
    supervisor = _supervisor(tmp_path, nats_server.url, restart=False)
    supervisor.start_all()
    children = list(supervisor.children.values())
    # Wait until both are up (they log their first heartbeat).
    _poll_until(supervisor, lambda: all(c.log_path.stat().st_size > 0 for c in children))
    stopped = supervisor.stop_all(timeout_s=5.0)
    assert [c.process.returncode for c in children if c.process] == [0, 0]
    assert {name: s.code for name, s in stopped.items()} == {"sample-1": 0, "sample-2": 0}
    assert all(0 < s.took_s < 5.0 for s in stopped.values())


async def test_status_and_kill_find_instances_by_their_heartbeats(tmp_path, nats_server):
    supervisor = _supervisor(tmp_path, nats_server.url)
    supervisor.start_all()
    try:
        state.write(tmp_path, {"nats_url": nats_server.url, "instances": supervisor.snapshot()})
        cluster = state.read(tmp_path)
        deadline = time.monotonic() + 10
        beats: dict = {}
        while len(beats) < 2 and time.monotonic() < deadline:
            beats = await ops._heartbeats(nats_server.url, listen_s=0.5)
        assert set(beats) == {"sample-1", "sample-2"}
        rows = ops.status_rows(cluster, beats)
        assert [r["instance"] for r in rows] == ["sample-1", "sample-2"]
        assert all(r["alive"] and r["state"] == "ready" for r in rows)
        assert all(r["heartbeat_age_s"] is not None and r["heartbeat_age_s"] < 5 for r in rows)
        # No service here holds a lease, so `kill sample` picks the first live instance.
        assert ops.choose_victim("sample", cluster, beats) == "sample-1"
        assert ops.choose_victim("sample-2", cluster, beats) == "sample-2"
        with pytest.raises(SystemExit, match="no service or instance"):
            ops.choose_victim("nope", cluster, beats)
        assert ops.log_paths("sample", cluster) == [
            tmp_path / "logs" / "sample-1.log",
            tmp_path / "logs" / "sample-2.log",
        ]
    finally:
        await asyncio.to_thread(supervisor.stop_all)


def test_given_no_cluster_then_status_says_how_to_start_one(tmp_path) -> None:
    with pytest.raises(SystemExit, match="hedgemesh up"):
        state.read(tmp_path)


def test_given_an_accelerated_cluster_then_heartbeat_ages_are_in_real_seconds() -> None:
    from datetime import UTC, datetime, timedelta

    from hedgemesh.wire import Heartbeat

    start = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    anchor = time.time() - 10.0  # started ten real seconds ago, at 390x
    cluster = {
        "clock": {"speed": 390.0, "start": start.isoformat(), "anchor": anchor},
        "instances": {"ledger": {"service": "ledger", "pid": os.getpid()}},
    }
    beat_ts = start + timedelta(seconds=8.0 * 390.0)  # beat two real seconds ago
    beat = Heartbeat(
        service="ledger", instance="ledger", role="single", state="ready", seq=1,
        started_at=start, pid=os.getpid(), ts=beat_ts,
    )  # fmt: skip
    [row] = ops.status_rows(cluster, {"ledger": beat})
    assert 1.5 < row["heartbeat_age_s"] < 3.0


def test_given_a_paced_clock_then_status_shows_its_speed_the_ceiling_and_why() -> None:
    from datetime import UTC, datetime, timedelta

    from hedgemesh.wire import Heartbeat
    from hedgemesh.wire.clock import ClockRecord

    start = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    held = ClockRecord.begin(start, time.time() - 20.0, 0.0, "hedgemesh-up", ceiling=390.0)
    assert ops.clock_line(ops.clock_view(held)).startswith("clock: held at 2026-01-05T14:30")
    # Ran at 390x for 10 s, then paced to 120x for the last 5 real seconds.
    record = held.retimed(390.0, time.time() - 15.0, "marketdata", "the desk is ready")
    record = record.retimed(120.0, time.time() - 5.0, "marketdata", "the desk lags: m1 14 s")
    line = ops.clock_line(ops.clock_view(record))
    assert line.startswith("clock: 120x at ") and "paced from 390x: the desk lags: m1 14 s" in line
    beat = Heartbeat(
        service="ledger", instance="ledger", role="single", state="ready", seq=1,
        started_at=start, pid=os.getpid(), ts=record.time_at(time.time() - 2.0),
    )  # fmt: skip
    cluster = {"instances": {"ledger": {"service": "ledger", "pid": os.getpid()}}}
    [row] = ops.status_rows(cluster, {"ledger": beat}, record)
    assert 1.5 < row["heartbeat_age_s"] < 3.0  # on the paced clock, in real seconds
    assert ops.desk_line({"status": "degraded", "causes": ["m1 lags"], "detail": ""}) == (
        "desk: degraded: m1 lags"
    )
    assert timedelta(0) <= record.time_at(time.time()) - start


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_given_the_launcher_killed_9_then_nats_and_the_services_do_not_outlive_it(
    tmp_path: Path,
) -> None:
    parent = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("orphan_parent.py")), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    children: list[int] = []
    try:
        assert parent.stdout is not None
        children = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(children) == 2 and all(_alive(pid) for pid in children)
        parent.kill()  # SIGKILL: no chance to stop anything itself
        parent.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in children), "children outlived the launcher"
    finally:
        parent.kill()
        for pid in filter(_alive, children):  # the test failed: leave nothing running
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False
