"""NATS permissions: a real nats-server with the users of `hedgemesh.runtime.permissions`; each
service may say only what it needs, and a refusal is the server's permissions violation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from wire_examples import example

from hedgemesh.launcher import catalog
from hedgemesh.runtime.bus import Bus
from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.runtime.errors import NatsUnavailable
from hedgemesh.runtime.permissions import (
    ADMIN,
    GRANTS,
    authorization_block,
    inbox_prefix,
    password_env,
)
from hedgemesh.runtime.server import NatsServer
from hedgemesh.runtime.streams import ensure_streams
from hedgemesh.wire import subjects
from hedgemesh.wire.ops import ControlAction, ControlCommand, ControlReply
from hedgemesh.wire.orders import Order
from hedgemesh.wire.params import AgentParams
from hedgemesh.wire.state import TradingState, TradingStatus

pytestmark = pytest.mark.timeout(30)


def _password(user: str) -> str:
    return f"pw-{user}"


@pytest.fixture
def secured_server(tmp_path: Path) -> Iterator[NatsServer]:
    config = tmp_path / "nats.conf"
    config.write_text(authorization_block(lambda user: json.dumps(_password(user))))
    with NatsServer(store_dir=tmp_path / "nats", config_file=config) as server:
        yield server


class Client:
    """A connection as one user, with the errors the server sent it."""

    def __init__(self, nc: Any, errors: list[str]) -> None:
        self.nc, self.errors = nc, errors

    def refused(self, subject: str) -> bool:
        return any(
            "permissions violation" in e and f'"{subject.lower()}"' in e for e in self.errors
        )


async def _as(server: NatsServer, user: str) -> Client:
    errors: list[str] = []

    async def on_error(error: Exception) -> None:
        errors.append(str(error).lower())

    nc = await nats.connect(
        server.url,
        user=user,
        password=_password(user),
        error_cb=on_error,
        connect_timeout=5,
        inbox_prefix=inbox_prefix(user),
    )
    return Client(nc, errors)


@pytest.fixture
async def admin(secured_server: NatsServer) -> AsyncIterator[Bus]:
    settings = NatsSettings(url=secured_server.url, user=ADMIN, password=_password(ADMIN))
    bus = Bus(await connect(settings, initial_timeout_s=5.0), "admin-test")
    await ensure_streams(bus.js)
    yield bus
    await bus.close()


def _order() -> Order:
    order = example("order")
    assert isinstance(order, Order)
    return order


async def _stored(bus: Bus, stream: str) -> int:
    return (await bus.js.stream_info(stream)).state.messages


async def test_given_an_agent_then_publishing_an_order_is_refused_and_nothing_is_stored(
    secured_server, admin, eventually
):
    agent = await _as(secured_server, "gamma-agent")
    subject = subjects.order("SPX")
    await agent.nc.publish(subject, _order().to_json())
    with pytest.raises(TimeoutError):  # through JetStream: no ack ever comes
        await agent.nc.jetstream().publish(subject, _order().to_json(), timeout=0.5)
    await eventually(lambda: agent.refused(subject))
    assert await _stored(admin, subjects.STREAM_ORDERS) == 0
    await agent.nc.close()


async def test_given_an_agent_then_a_halt_is_refused_and_the_manager_never_hears_it(
    secured_server, eventually
):
    manager, agent = await _as(secured_server, "manager"), await _as(secured_server, "gamma-agent")
    heard: list[bytes] = []

    async def on_command(msg: Any) -> None:
        heard.append(msg.data)

    await manager.nc.subscribe(subjects.control_served("manager"), cb=on_command)
    await manager.nc.flush()
    halt = ControlCommand(target="manager", action=ControlAction.HALT, issued_by="rogue")
    await agent.nc.publish(halt.subject_for("gamma-agent"), halt.to_json())
    await eventually(lambda: agent.refused(halt.subject_for("gamma-agent")))
    await manager.nc.flush()
    assert heard == []
    for client in (manager, agent):
        await client.nc.close()


async def test_given_an_agent_then_writing_trading_state_or_a_stream_config_is_refused(
    secured_server, admin, eventually
):
    agent = await _as(secured_server, "gamma-agent")
    kv = await agent.nc.jetstream().key_value(subjects.KV_TRADING_STATE)  # reading is allowed
    status = TradingStatus(state=TradingState.ACTIVE, reason="rogue", changed_by="gamma-agent")
    with pytest.raises(TimeoutError):
        await kv.put("desk", status.to_json())
    await eventually(lambda: agent.refused(f"$KV.{subjects.KV_TRADING_STATE}.desk"))
    config = (await admin.js.stream_info(subjects.STREAM_ORDERS)).config
    config.subjects = [subjects.ALL_ORDERS, subjects.proposal("gamma-agent")]
    with pytest.raises(TimeoutError):
        await agent.nc.jetstream().update_stream(config)
    await eventually(lambda: agent.refused(f"$JS.API.STREAM.UPDATE.{subjects.STREAM_ORDERS}"))
    assert await _stored(admin, f"KV_{subjects.KV_TRADING_STATE}") == 0
    await agent.nc.close()


async def test_given_the_manager_then_its_order_is_stored_and_the_api_halt_is_answered(
    secured_server, admin
):
    manager = Bus(
        await connect(
            NatsSettings(url=secured_server.url, user="manager", password=_password("manager")),
            initial_timeout_s=5.0,
        ),
        "manager",
    )
    api = Bus(
        await connect(
            NatsSettings(url=secured_server.url, user="api", password=_password("api")),
            initial_timeout_s=5.0,
        ),
        "api",
    )
    await ensure_streams(manager.js)  # only stream info: the manager may not change a stream
    ack = await manager.js_publish(subjects.order("SPX"), _order(), msg_id=_order().client_order_id)
    assert ack.stream == subjects.STREAM_ORDERS and not ack.duplicate

    async def on_halt(command: ControlCommand, envelope: Any) -> ControlReply:
        return ControlReply(command_id=command.id, target="manager", ok=True)

    await manager.serve_control("manager", on_halt)
    reply = await api.command(
        ControlCommand(target="manager", action=ControlAction.HALT, issued_by="ops")
    )
    assert reply.ok
    for bus in (manager, api):
        await bus.close()


async def test_given_a_wrong_password_then_the_connection_is_refused(secured_server):
    settings = NatsSettings(url=secured_server.url, user="manager", password="guess")
    with pytest.raises((TimeoutError, NatsUnavailable, nats.errors.Error)):
        await connect(settings, initial_timeout_s=1.0)


def test_every_catalog_service_has_its_own_user_and_nothing_else_but_admin() -> None:
    assert set(GRANTS) == {spec.name for spec in catalog.SERVICES} | {ADMIN}


def test_only_the_manager_may_publish_orders_and_write_trading_state() -> None:
    def may_publish(subject: str) -> set[str]:
        return {u for u, g in GRANTS.items() if u != ADMIN and subject in g.publish}

    assert may_publish(subjects.ALL_ORDERS) == {"manager"}
    assert may_publish(f"$KV.{subjects.KV_TRADING_STATE}.>") == {"manager"}
    assert may_publish(f"$KV.{subjects.KV_LIMITS}.>") == {"manager", "api"}
    assert may_publish(f"$KV.{subjects.KV_AGENT_PARAMS}.>") == {"api"}
    assert may_publish(subjects.ALL_EXEC_REPORTS) == {"execution"}
    assert may_publish("hedge.v1.control.manager.*.api") == {"api"}
    assert may_publish(subjects.control("manager", "halt", "execution")) == {"execution"}
    for user, grant in GRANTS.items():
        if user != ADMIN:
            assert not any(s.startswith(("$JS.API.STREAM.CREATE", "$JS.API.STREAM.UPDATE", ">"))
                           for s in grant.publish), user  # fmt: skip


def test_password_env_names_are_shell_names() -> None:
    assert password_env("gamma-agent") == "HEDGEMESH_NATS_PASSWORD_GAMMA_AGENT"


def _declare(server: NatsServer, user: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEMESH_")}
    return subprocess.run(
        [sys.executable, "-m", "hedgemesh.runtime.declare"],
        env={
            **clean,
            "HEDGEMESH_NATS_URL": server.url,
            "HEDGEMESH_NATS_USER": user,
            "HEDGEMESH_NATS_PASSWORD": _password(user),
            "HEDGEMESH_NATS_REQUEST_TIMEOUT_S": "0.5",
            "HEDGEMESH_DECLARE_TIMEOUT_S": "5",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_given_declare_as_admin_then_streams_exist_and_a_service_may_not_create_them(
    secured_server,
):
    refused = _declare(secured_server, "gamma-agent")
    assert refused.returncode == 1 and "declaring streams failed" in refused.stderr
    assert _declare(secured_server, ADMIN).returncode == 0
    assert _declare(secured_server, "gamma-agent").returncode == 0  # all current: info suffices


async def test_given_agent_params_then_the_api_writes_them_and_each_agent_reads_only_its_own(
    secured_server, admin, eventually
):
    api, agent = await _as(secured_server, "api"), await _as(secured_server, "gamma-agent")
    written = await api.nc.jetstream().key_value(subjects.KV_AGENT_PARAMS)
    for name in ("gamma-agent", "vega-agent"):
        params = AgentParams(agent=name, enabled=False, changed_by="ops")
        await written.put(name, params.to_json())
    kv = await agent.nc.jetstream().key_value(subjects.KV_AGENT_PARAMS)
    own = await kv.get("gamma-agent")
    assert AgentParams.from_json(own.value or b"").enabled is False
    with pytest.raises(TimeoutError):  # another agent's key: the direct get is refused
        await kv.get("vega-agent")
    with pytest.raises(TimeoutError):
        await kv.put("gamma-agent", AgentParams(agent="gamma-agent", changed_by="x").to_json())
    await eventually(lambda: agent.refused(f"$KV.{subjects.KV_AGENT_PARAMS}.gamma-agent"))
    assert await _stored(admin, f"KV_{subjects.KV_AGENT_PARAMS}") == 2
    for client in (api, agent):
        await client.nc.close()


# -- control by subject: (user, subject, allowed). The origin token must be the sender's own
# user; execution may only escalate; only the api sends the manager anything else; the api
# may not touch execution's kill switch or marketdata's feed over NATS.
CONTROL = [
    *(("api", subjects.control("manager", a, "api"), True)
      for a in ("halt", "resume", "reduce", "set_limit", "status")),
    ("api", subjects.control("manager", "halt", "execution"), False),  # a forged origin
    ("api", subjects.control("execution", "halt", "api"), True),  # engage it (REST, audited)
    ("api", subjects.control("execution", "resume", "api"), False),  # disarm the kill switch
    ("api", subjects.control("marketdata", "halt", "api"), False),
    ("execution", subjects.control("manager", "reduce", "execution"), True),
    ("execution", subjects.control("manager", "halt", "execution"), True),
    ("execution", subjects.control("manager", "resume", "execution"), False),
    ("execution", subjects.control("manager", "set_limit", "execution"), False),
    ("execution", subjects.control("manager", "resume", "api"), False),  # as the api
    ("gamma-agent", subjects.control("manager", "halt", "gamma-agent"), False),
    ("vega-agent", subjects.control("manager", "resume", "api"), False),
    ("manager", subjects.control("execution", "resume", "manager"), False),
    ("ledger", subjects.control("marketdata", "halt", "ledger"), False),
    ("marketdata", subjects.control("manager", "halt", "marketdata"), False),
]  # fmt: skip


async def test_given_each_user_then_only_its_granted_control_subjects_reach_a_listener(
    secured_server, eventually
):
    listener = await _as(secured_server, ADMIN)
    heard: list[str] = []

    async def on_command(msg: Any) -> None:
        heard.append(msg.subject)

    await listener.nc.subscribe("hedge.v1.control.>", cb=on_command)
    await listener.nc.flush()
    clients = {user: await _as(secured_server, user) for user in {u for u, _, _ in CONTROL}}
    halt = ControlCommand(target="manager", action=ControlAction.HALT, issued_by="ops").to_json()
    for user, subject, _ in CONTROL:
        await clients[user].nc.publish(subject, halt)
    allowed = sorted(subject for _, subject, ok in CONTROL if ok)
    await eventually(lambda: sorted(heard) == allowed)
    for user, subject, ok in CONTROL:
        if not ok:
            await eventually(lambda u=user, s=subject: clients[u].refused(s))
    await listener.nc.flush()
    assert sorted(heard) == allowed
    for client in (listener, *clients.values()):
        await client.nc.close()


async def test_given_the_api_requests_then_no_other_user_can_read_its_replies(
    secured_server, eventually
):
    api, manager = await _as(secured_server, "api"), await _as(secured_server, "manager")
    agent = await _as(secured_server, "gamma-agent")
    stolen: list[bytes] = []

    async def steal(msg: Any) -> None:
        stolen.append(msg.data)

    async def answer(msg: Any) -> None:
        await msg.respond(b"secret parameters")

    for inbox in ("_INBOX.>", f"{inbox_prefix('api')}.>", ">"):
        await agent.nc.subscribe(inbox, cb=steal)
    await manager.nc.subscribe(subjects.control_served("manager"), cb=answer)
    await manager.nc.flush()
    reply = await api.nc.request(subjects.control("manager", "status", "api"), b"{}", timeout=2)
    assert reply.data == b"secret parameters"
    assert reply.subject.startswith(f"{inbox_prefix('api')}.")
    for inbox in ("_INBOX.>", f"{inbox_prefix('api')}.>", ">"):
        await eventually(lambda i=inbox: agent.refused(i))
    await agent.nc.flush()
    assert stolen == []
    for client in (api, manager, agent):
        await client.nc.close()


@pytest.mark.parametrize(("user", "bucket", "key"), [
    ("api", subjects.KV_LIMITS, "SPX"),
    ("api", subjects.KV_AGENT_PARAMS, "gamma-agent"),
    ("gamma-agent", subjects.KV_LEASES, "gamma-agent"),
])  # fmt: skip
async def test_given_a_user_that_writes_one_key_then_a_rollup_cannot_erase_the_others(
    secured_server, admin, user, bucket, key
):
    kv = await admin.js.key_value(bucket)
    await kv.put("other", b"kept")
    client = await _as(secured_server, user)
    js = client.nc.jetstream()
    await js.publish(f"$KV.{bucket}.{key}", b"plain write", timeout=2)  # its key: allowed
    with pytest.raises(nats.js.errors.APIError, match=r"(?i)rollup"):
        await js.publish(f"$KV.{bucket}.{key}", b"wipe", headers={"Nats-Rollup": "all"}, timeout=2)
    assert (await kv.get("other")).value == b"kept"
    assert (await kv.get(key)).value == b"plain write"
    await client.nc.close()
