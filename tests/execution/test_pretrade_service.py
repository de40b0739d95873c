"""Pre-trade controls through the running service: counts in the status reply, the throttle's
request to the manager, the kill switch across a kill -9, and a bad setting refused at start."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from exec_examples import (
    Market,
    exec_reports,
    final_reports,
    of,
    order,
    quoted,
    ready,
    send,
    start_process,
)

from hedgemesh.cli import killswitch
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.store.audit import AuditRepository
from hedgemesh.store.db import make_engine, session_factory
from hedgemesh.wire import ExecStatus, ReasonCode, TimeInForce
from hedgemesh.wire.ops import ControlAction, ControlCommand, ControlReply

pytestmark = pytest.mark.timeout(90)


def command(action: ControlAction, reason: str = "") -> ControlCommand:
    return ControlCommand(target="execution", action=action, issued_by="ops-test", reason=reason)


async def controls(bus) -> dict:
    reply = await bus.command(command(ControlAction.STATUS), timeout_s=5)
    assert reply.ok
    return reply.state["controls"]


async def test_given_an_order_id_sent_twice_then_the_duplicate_is_counted_in_the_status(
    bus, start_execution, eventually
):
    run = await start_execution()
    await quoted(bus, run, eventually)
    first = order("cycle-dup", quantity=1)
    await send(bus, first)
    await final_reports(bus, eventually, first)
    await send(bus, first.evolve(id="again"), msg_id="past-the-dedup-window")

    async def counted():
        return (await controls(bus))["denials"].get("DUPLICATE") == 1

    await eventually(counted)
    assert len(of(await exec_reports(bus.js), first)) == 2  # accepted, filled: nothing more


async def test_given_the_throttle_tripping_then_the_manager_is_asked_for_reducing_until_it_agrees(
    bus, start_execution, eventually
):
    asked: list[ControlCommand] = []

    async def manager(cmd: ControlCommand, envelope) -> ControlReply:
        asked.append(cmd)
        standby = len(asked) == 1  # the first to answer is a standby: execution asks again
        return ControlReply(
            command_id=cmd.id, target="manager", ok=not standby, reason="NOT_LEADER" * standby
        )

    await bus.serve_control("manager", manager)
    run = await start_execution(max_orders_per_window=2, order_rate_window_s=60.0)
    await quoted(bus, run, eventually)
    burst = [order(f"cycle-burst-{i}", quantity=1) for i in range(4)]
    await send(bus, *burst)

    reports = await final_reports(bus, eventually, *burst)
    refused = [r for r in reports if r.reason_code is ReasonCode.ORDER_RATE_EXCEEDED]
    assert len(refused) == 2
    await eventually(lambda: len(asked) == 2, timeout=10)
    assert {(c.action, c.issued_by) for c in asked} == {(ControlAction.REDUCE, "execution")}
    assert asked[-1].reason.startswith("ORDER_RATE_EXCEEDED")
    state = await controls(bus)
    assert state["throttled"] and state["denials"] == {"ORDER_RATE_EXCEEDED": 2}


async def test_given_the_kill_switch_engaged_and_execution_killed_then_it_holds_until_released(
    bus, nats_server, database_url, tmp_path, eventually
):
    resting = order("cycle-rest", quantity=5, limit_price=4900.0, tif=TimeInForce.GTC)
    async with Market(bus):
        process = start_process(nats_server, database_url, tmp_path)
        try:
            await ready(bus, eventually)
            await send(bus, resting)

            async def accepted():
                return of(await exec_reports(bus.js), resting)

            await eventually(accepted, timeout=10)
            reply = await bus.command(command(ControlAction.HALT, "runaway algo"), timeout_s=5)
            assert reply.ok and reply.state["controls"]["kill_switch"] == "runaway algo"
            process.send_signal(signal.SIGKILL)  # at once: the cancel may not be stored yet
            assert process.wait(timeout=5) == -signal.SIGKILL

            process = start_process(nats_server, database_url, tmp_path)
            await ready(bus, eventually)
            assert (await controls(bus))["kill_switch"] == "runaway algo"
            (*_, cancelled) = of(await final_reports(bus, eventually, resting), resting)
            assert (cancelled.status, cancelled.reason_code) == (
                ExecStatus.CANCELLED,
                ReasonCode.KILL_SWITCH,
            )
            refused = order("cycle-while-killed", quantity=1)
            await send(bus, refused)
            (report,) = of(await final_reports(bus, eventually, refused), refused)
            assert report.reason_code is ReasonCode.KILL_SWITCH

            # Released as admin (`hedgemesh kill-switch release`): audited with that origin.
            settings = NatsSettings(url=nats_server.url, name="kill-switch-cli")
            released = await killswitch._send(settings, "resume", "fixed", "olga")
            assert released["ok"] and released["controls"]["kill_switch"] is None
            trail = AuditRepository(session_factory(make_engine(database_url))).entries()
            assert [(e.origin, e.actor, e.path, e.status) for e in trail][:2] == [
                ("admin", "admin", "hedge.v1.control.execution.resume.admin", 200),
                ("test", "test", "hedge.v1.control.execution.halt.test", 200),
            ]
            after = order("cycle-after", quantity=1)
            await send(bus, after)
            reports = of(await final_reports(bus, eventually, after), after)
            assert reports[-1].status is ExecStatus.FILLED
            terminal = [r for r in of(await exec_reports(bus.js), resting) if r.is_terminal]
            assert len(terminal) == 1  # cancelled once, whichever process did it
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, 10)


@pytest.mark.parametrize(
    ("key", "value"),
    [("PRICE_COLLAR", "-0.1"), ("MAX_ORDERS_PER_WINDOW", "0"), ("MAX_DAILY_LOSS", "lots")],
)
def test_given_a_bad_control_setting_then_the_service_stops_naming_the_key(key, value):
    env = {**os.environ, f"HEDGEMESH_EXECUTION_{key}": value, "HEDGEMESH_NATS_URL": "nats://x:1"}
    done = subprocess.run(
        [sys.executable, "-m", "hedgemesh.execution"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert key.lower() in done.stdout + done.stderr
