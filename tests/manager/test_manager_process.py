"""`python -m hedgemesh.manager` as a process: configured from the environment (the default
scenario seeds KV), it leads, answers control, and SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hedgemesh.runtime.errors import NatsUnavailable
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.wire import ControlAction, ControlCommand, ControlReply, RiskLimits, subjects


def start_manager(nats_url: str, database_url: str, home: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "HEDGEMESH_NATS_URL": nats_url,
        "HEDGEMESH_DATABASE_URL": database_url,
        "HEDGEMESH_HOME": str(home),
        "HEDGEMESH_INSTANCE": "manager-process",
        "HEDGEMESH_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "hedgemesh.manager"], env=env)


async def status(bus) -> ControlReply | None:
    try:
        reply = await bus.command(
            ControlCommand(target="manager", action=ControlAction.STATUS, issued_by="test")
        )
    except NatsUnavailable:  # not up yet
        return None
    return reply if reply.ok else None


async def test_given_the_module_run_then_it_leads_answers_and_stops_on_sigterm(
    nats_server, bus, tmp_path, eventually
) -> None:
    process = start_manager(nats_server.url, f"sqlite:///{tmp_path / 'm.db'}", tmp_path)
    try:
        reply = await eventually(lambda: status(bus), timeout=30)
        assert reply.state["role"] == "leader"
        assert set(reply.state["budgets"]["agents"]) == {"gamma-agent", "vega-agent"}
        kv = TypedKV(await bus.js.key_value(subjects.KV_LIMITS), RiskLimits, subjects.KV_LIMITS)
        spx = await kv.get("SPX")
        assert spx is not None and spx.value.changed_by == "scenario:default"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
