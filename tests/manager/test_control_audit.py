"""Control over NATS is audited by the manager once, with the origin the subject proves: an
escalation from execution is a row naming execution (whatever the body claims); the api's
commands are the api's to audit (REST); with the trail unwritable a command is refused and
changes nothing."""

# ruff: noqa: F811 (the fixtures imported from test_manager_nats are parameters here)
from __future__ import annotations

from sqlalchemy import create_engine, text
from test_manager_nats import database_url, start_manager  # noqa: F401 (fixtures)

from hedgemesh.runtime.bus import Bus
from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.store.audit import AuditRepository
from hedgemesh.store.db import make_engine, session_factory
from hedgemesh.wire.ops import ControlAction, ControlCommand, ControlReply


async def _bus(nats_server, service: str) -> Bus:
    settings = NatsSettings(url=nats_server.url, name=service)
    return Bus(await connect(settings, initial_timeout_s=5.0), service)


async def _ask(bus: Bus, action: ControlAction) -> ControlReply:
    # The body claims an operator: only the api's claim counts.
    command = ControlCommand(target="manager", action=action, issued_by="alice", reason="t")
    return await bus.command(command)


async def test_given_control_over_nats_then_audited_once_with_its_origin_and_fails_closed(
    nats_server,
    start_manager,
    database_url,
    eventually,
):
    manager = await start_manager()
    await eventually(lambda: manager.service.is_leader and manager.component.control)
    execution, api = await _bus(nats_server, "execution"), await _bus(nats_server, "api")
    reduced = await _ask(execution, ControlAction.REDUCE)
    assert reduced.ok and reduced.state["trading_state"]["changed_by"] == "execution"
    assert (await _ask(execution, ControlAction.STATUS)).ok  # a read: not audited
    repo = AuditRepository(session_factory(make_engine(database_url)))
    (row,) = repo.entries()
    assert (row.actor, row.origin, row.method, row.path, row.status) == (
        "execution", "execution", "NATS", "hedge.v1.control.manager.reduce.execution", 200
    )  # fmt: skip
    assert row.body["issued_by"] == "alice" and repo.verify().ok

    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE api_audit RENAME TO api_audit_gone"))
    engine.dispose()
    halted = await _ask(execution, ControlAction.HALT)
    assert (halted.ok, halted.reason) == (False, "AUDIT_UNAVAILABLE")
    assert (await _ask(execution, ControlAction.STATUS)).state["trading_state"]["state"] == (
        "REDUCING"
    )  # nothing changed unaudited
    by_api = await _ask(api, ControlAction.HALT)  # the api audits its own (REST)
    assert by_api.ok and by_api.state["trading_state"]["changed_by"] == "alice"
    for bus in (execution, api):
        await bus.close()
