"""The API against a real nats-server: fed by what is published, changing KV `limits` by
compare-and-set, sending control commands to a manager serving them on NATS; in this process
(production wiring, ASGI transport) and as `python -m hedgemesh.api` under uvicorn."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_examples import (
    ADMIN_TOKEN,
    ORIGIN,
    TOKENS,
    VIEWER_TOKEN,
    bearer,
    chain,
    fill_reports,
    order,
    proposal,
    risk_limits,
    session,
    snapshot,
    store_decisions,
    store_orders,
)

from hedgemesh.api.__main__ import STARTUP_REFUSED
from hedgemesh.api.adapters.desk import NOT_LEADER
from hedgemesh.api.app import create_app
from hedgemesh.api.bootstrap import build_context
from hedgemesh.api.config import ApiSettings
from hedgemesh.api.context import ApiContext
from hedgemesh.api.security.auth import sha256_hex
from hedgemesh.runtime.bus import Bus, Envelope
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.service import RuntimeSettings
from hedgemesh.scenario import DEFAULT_SCENARIO
from hedgemesh.store.db import StoreSettings
from hedgemesh.wire import subjects
from hedgemesh.wire.hedging import DecisionOutcome
from hedgemesh.wire.ops import ControlAction, ControlCommand, ControlReply
from hedgemesh.wire.state import RiskLimits


@pytest.fixture
async def limits_kv(bus) -> TypedKV[RiskLimits]:
    return TypedKV(await bus.js.key_value(subjects.KV_LIMITS), RiskLimits, subjects.KV_LIMITS)


@pytest.fixture
async def running(nats_server, tmp_path) -> AsyncIterator[ApiContext]:
    """The API's production wiring on the test's nats-server and a scratch SQLite store."""
    context = build_context(
        ApiSettings(
            scenario=DEFAULT_SCENARIO, kv_poll_s=0.05, control_timeout_s=3.0, tokens=TOKENS
        ),
        store=StoreSettings(url=f"sqlite:///{tmp_path / 'store.db'}"),
        nats=NatsSettings(url=nats_server.url),
        runtime=RuntimeSettings(instance="api-test", heartbeat_interval_s=0.2),
    )
    assert context.lifecycle is not None
    await context.lifecycle.start()
    try:
        yield context
    finally:
        await context.lifecycle.stop()


def client_of(context: ApiContext) -> httpx.AsyncClient:
    app = create_app(context.settings, context=context)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://api.test",
        headers=bearer(ADMIN_TOKEN),
    )


async def serve_manager(bus: Bus, *, ok: bool = True, reason: str = "", queue: str = "") -> list:
    """A manager stand-in answering control commands on NATS; returns the commands it got."""
    received: list[ControlCommand] = []

    async def handle(command: ControlCommand, _envelope: Envelope) -> ControlReply:
        received.append(command)
        state = {"trading_state": "HALTED" if command.action is ControlAction.HALT else "ACTIVE"}
        return ControlReply(
            command_id=command.id, target="manager", ok=ok, reason=reason, state=state
        )

    await bus.serve_control("manager", handle, queue=queue)
    return received


async def test_given_published_market_and_positions_then_the_api_serves_them(
    running, bus, eventually
) -> None:
    market = session("SPX", origin=datetime.now(UTC) - timedelta(seconds=30))
    spx = chain(market)
    for batch in market.run_until(30):
        for message in (*batch.surfaces, *batch.ticks):
            await bus.publish(message.publish_subject, message)
    holdings = [(spx[1], -20), (spx[4], 5)]
    await bus.publish(subjects.positions("SPX"), snapshot("SPX", holdings, seq=2))
    async with client_of(running) as client:

        async def positions() -> Any:
            body = (await client.get("/v1/positions")).json()
            return body if body["count"] == 2 else None

        body = await eventually(positions)
        assert [p["instrument"] for p in body["underlyings"][0]["positions"]] == [
            spx[1].symbol,
            spx[4].symbol,
        ]
        risk = (await client.get("/v1/risk")).json()
        spx_risk = next(u for u in risk["underlyings"] if u["underlying"] == "SPX")
        assert spx_risk["greeks"]["gamma"] != 0.0
        health = await client.get("/health")
        assert health.status_code == 200 and health.json()["nats_connected"]


async def test_given_a_limit_change_then_kv_holds_it_and_a_stale_revision_is_refused(
    running, limits_kv, eventually
) -> None:
    revision = await limits_kv.create("SPX", risk_limits("SPX"))  # SPX: in the scenario
    async with client_of(running) as client:

        async def listed() -> Any:
            body = (await client.get("/v1/limits")).json()
            return body["underlyings"] or None

        assert (await eventually(listed))[0]["revision"] == revision
        changed = await client.put(
            "/v1/limits/SPX.max_abs_gamma", json={"value": 80, "revision": revision}
        )
        assert changed.status_code == 200, changed.text
        stored = await limits_kv.get("SPX")
        assert stored is not None and stored.value.max_abs_gamma == 80.0
        assert stored.revision == changed.json()["entry"]["revision"]
        stale = await client.put(
            "/v1/limits/SPX.max_abs_gamma", json={"value": 70, "revision": revision}
        )
        assert stale.status_code == 409
        assert (await limits_kv.get("SPX")).value.max_abs_gamma == 80.0


async def test_given_a_manager_on_nats_then_halt_and_resume_round_trip(running, bus) -> None:
    async with client_of(running) as client:
        absent = await client.post("/v1/control/halt")
        assert absent.status_code == 503 and "no manager answers" in absent.json()["message"]
        received = await serve_manager(bus)
        halted = await client.post("/v1/control/halt", json={"reason": "drill"})
        resumed = await client.post("/v1/control/resume")
    assert halted.status_code == 200 and halted.json()["state"]["trading_state"] == "HALTED"
    assert resumed.status_code == 200 and resumed.json()["state"]["trading_state"] == "ACTIVE"
    assert [(c.action, c.reason) for c in received] == [
        (ControlAction.HALT, "drill"),
        (ControlAction.RESUME, ""),
    ]


async def test_given_only_a_standby_answers_then_control_retries_and_says_not_leader(
    running, bus
) -> None:
    received = await serve_manager(bus, ok=False, reason=NOT_LEADER)
    async with client_of(running) as client:
        response = await client.post("/v1/control/halt")
    assert response.status_code == 409 and response.json()["error"] == NOT_LEADER
    assert len(received) > 1  # asked again within the timeout, as a leader may take over


async def test_given_heartbeats_and_proposals_then_agents_show_the_api_and_the_agent(
    running, bus, eventually
) -> None:
    await bus.publish(subjects.proposal("gamma-agent"), proposal("p1"))
    async with client_of(running) as client:

        async def agents() -> Any:
            body = (await client.get("/v1/agents")).json()
            names = {a["service"] for a in body["agents"]}
            return body if {"api", "gamma-agent"} <= names else None

        body = await eventually(agents)
    api = next(a for a in body["agents"] if a["service"] == "api")
    assert api["instances"][0]["instance"] == "api-test" and api["instances"][0]["alive"]
    gamma = next(a for a in body["agents"] if a["service"] == "gamma-agent")
    assert gamma["last_proposal"]["id"] == "p1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_given_the_api_process_then_it_serves_the_desk_and_stops_on_sigterm(
    nats_server, bus, limits_kv, tmp_path: Path, eventually
) -> None:
    port, database = free_port(), f"sqlite:///{tmp_path / 'hedgemesh.db'}"
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        "tokens:\n"
        f"  - {{name: alice, role: admin, sha256: {sha256_hex(ADMIN_TOKEN)}}}\n"
        f"  - {{name: dashboard, role: viewer, token: {VIEWER_TOKEN}}}\n"
    )
    env = {
        **os.environ,
        "HEDGEMESH_API_TOKENS_FILE": str(tokens),
        "HEDGEMESH_NATS_URL": nats_server.url,
        "HEDGEMESH_DATABASE_URL": database,
        "HEDGEMESH_API_PORT": str(port),
        "HEDGEMESH_API_KV_POLL_S": "0.05",
        "HEDGEMESH_INSTANCE": "api-process",
        "HEDGEMESH_LOG_LEVEL": "WARNING",
        "HEDGEMESH_API_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen([sys.executable, "-m", "hedgemesh.api"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(
            base_url=base, timeout=5.0, headers=bearer(ADMIN_TOKEN)
        ) as client:

            async def healthy() -> bool:
                try:
                    return (await client.get("/health")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(healthy, timeout=60)
            # Positions from NATS (SPX is in the default scenario the process reads).
            market = session("SPX")
            spx = chain(market)
            held = snapshot("SPX", [(spx[0], 7)], seq=4)

            async def positions() -> Any:
                # Healthy is connected, not yet subscribed: publish until the API has it.
                await bus.publish(subjects.positions("SPX"), held)
                return (await client.get("/v1/positions")).json()["count"] == 1

            await eventually(positions, timeout=20)
            # Orders, fills and decisions from the store (migrated by the API at start).
            filled = order("SPX-9")
            store_orders(database, (filled, fill_reports(filled, [10], 5002.0, ORIGIN)))
            store_decisions(database, (proposal("p7"), DecisionOutcome.APPROVED, 0.0))
            orders = (await client.get("/v1/orders?status=filled")).json()["orders"]
            fills = (await client.get("/v1/fills?underlying=SPX")).json()["fills"]
            decisions = (await client.get("/v1/decisions")).json()["decisions"]
            assert [o["client_order_id"] for o in orders] == [filled.client_order_id]
            assert [f["last_quantity"] for f in fills] == [10]
            assert [d["proposal_id"] for d in decisions] == ["p7"]
            # A limit changed through the API lands in KV.
            revision = await limits_kv.create("SPX", risk_limits("SPX"))

            async def limits_read() -> bool:
                return bool((await client.get("/v1/limits")).json()["underlyings"])

            await eventually(limits_read, timeout=20)
            put = await client.put(
                "/v1/limits/SPX.max_abs_delta", json={"value": 750.5, "revision": revision}
            )
            assert put.status_code == 200, put.text
            assert (await limits_kv.get("SPX")).value.max_abs_delta == 750.5
            # ... audited in the store: who, what, before and after.
            trail = await client.get("/v1/audit", params={"path": "/v1/limits/"})
            (entry,) = trail.json()["entries"]
            assert (entry["actor"], entry["status"]) == ("alice", 200)
            assert entry["before"] == {"value": 1500.0, "revision": revision}
            assert entry["after"] == {"value": 750.5, "revision": revision + 1}
            # A viewer reads but may not change; no token gets nothing.
            viewer = bearer(VIEWER_TOKEN)
            assert (await client.get("/v1/positions", headers=viewer)).status_code == 200
            assert (await client.post("/v1/control/halt", headers=viewer)).status_code == 403
            assert (await httpx.AsyncClient(base_url=base).get("/v1/risk")).status_code == 401
            # Control through a manager on NATS.
            received = await serve_manager(bus)
            halted = await client.post("/v1/control/halt")
            assert halted.status_code == 200 and received[0].action is ControlAction.HALT
            document = (await client.get("/openapi.json")).json()
            assert "/v1/limits/{name}" in document["paths"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_given_no_tokens_then_the_api_process_refuses_to_start_naming_the_setting(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEMESH_")}
    env["HEDGEMESH_API_PORT"] = str(free_port())
    short = subprocess.run(
        [sys.executable, "-m", "hedgemesh.api"],
        env={**env, "HEDGEMESH_API_ADMIN_TOKEN": "s3cr3t"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    none = subprocess.run(
        [sys.executable, "-m", "hedgemesh.api"], env=env, capture_output=True, text=True, timeout=60
    )
    assert short.returncode == none.returncode == STARTUP_REFUSED
    assert "HEDGEMESH_API_ADMIN_TOKEN" in short.stderr and "32" in short.stderr
    assert "HEDGEMESH_API_TOKENS_FILE" in none.stderr and "HEDGEMESH_DEV_MODE" in none.stderr
    assert "Traceback" not in short.stderr + none.stderr
