"""The agents over a real nats-server: marketdata in-process on a fast clock, a stand-in
ledger answering the snapshot request, limits in KV; proposals from the leader only, cycle ids
from the tick seqs, a standby taking over when the leader dies, live limits and trading state,
live parameters put through the API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from api_examples import OPERATOR_TOKEN, TOKENS, bearer

from hedgemesh.api.app import create_app
from hedgemesh.api.bootstrap import build_context
from hedgemesh.api.config import ApiSettings
from hedgemesh.gamma_agent.bootstrap import build as build_gamma
from hedgemesh.gamma_agent.config import GammaAgentSettings
from hedgemesh.marketdata.bootstrap import build as build_marketdata
from hedgemesh.marketdata.config import MarketDataSettings
from hedgemesh.policies.learned.checkpoint import WEIGHTS_FILE
from hedgemesh.runtime import AcceleratedClock, NatsSettings, Service
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.service import RuntimeSettings
from hedgemesh.scenario.testing import make_scenario, scenario_dict, underlying_dict
from hedgemesh.store.db import StoreSettings
from hedgemesh.vega_agent.bootstrap import build as build_vega
from hedgemesh.vega_agent.config import VegaAgentSettings
from hedgemesh.wire import subjects
from hedgemesh.wire.book import Position, PositionSnapshot, PositionSnapshotRequest
from hedgemesh.wire.codes import TradingState
from hedgemesh.wire.hedging import Proposal
from hedgemesh.wire.instruments import Instrument
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.ops import Heartbeat
from hedgemesh.wire.state import RiskLimits, TradingStatus
from tests.policies.learned_checkpoints import write_checkpoint

pytestmark = pytest.mark.timeout(60)

SPEED = 200.0  # a 10 s tick every 50 ms
LEASE_TTL_S = 1.0  # leases run in real seconds, whatever the market clock's speed
START = datetime(2024, 6, 11, 13, 30, tzinfo=UTC)


def market_scenario():
    spx = underlying_dict(
        chain={
            "expiries_days": [7, 30, 90],
            "strikes": {"moneyness": [0.95, 0.98, 1.0, 1.02, 1.05], "round_to": 5},
            "multiplier": 100,
            "tick_size": 0.05,
        },
        surface={"atm_vol": {7: 0.15, 30: 0.16, 90: 0.17}, "rho": -0.7, "atm_skew": -0.6},
    )
    return make_scenario(scenario_dict(underlyings=[spx]))


SPX_LIMITS = RiskLimits(
    underlying="SPX",
    max_abs_delta=1e6,
    max_abs_gamma=4.0,
    max_abs_vega_per_vol_point=2.0e4,
    max_order_quantity=500,
    max_order_notional=1e8,
    daily_cost_budget=1e6,
    price_collar=0.05,
    max_tick_age_s=60.0,
    changed_by="test",
)


@dataclass
class Desk:
    """What the test sees on the wire."""

    ticks: dict[int, Tick] = field(default_factory=dict)
    proposals: list[Proposal] = field(default_factory=list)
    surface: asyncio.Event = field(default_factory=asyncio.Event)
    snapshot: PositionSnapshot | None = None


async def _start(service: Service, stack: AsyncExitStack) -> Service:
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))

    async def finish() -> None:
        stop.set()
        await asyncio.wait_for(task, 10.0)

    stack.push_async_callback(finish)
    deadline = time.monotonic() + 10.0
    while service.state.value != "ready":
        assert time.monotonic() < deadline and not task.done(), "service did not start"
        await asyncio.sleep(0.01)
    return service


@asynccontextmanager
async def cluster(nats_server, bus) -> AsyncIterator[tuple[Desk, AsyncExitStack, dict]]:
    """marketdata + a stand-in ledger + limits; yields (what is seen, the stack, builders)."""
    desk = Desk()
    scenario = market_scenario()
    clock = AcceleratedClock(SPEED, START)
    nats = NatsSettings(url=nats_server.url)

    async def on_tick(tick, envelope):
        desk.ticks[tick.seq] = tick

    async def on_surface(surface: Surface, envelope):
        if desk.snapshot is None:  # a short 7-day straddle at the money: short gamma
            expiry = surface.slices[0].expiry
            strike = round(surface.spot / 5) * 5
            options = [Instrument.option("SPX", expiry, strike, r) for r in ("call", "put")]
            short = [Position(instrument=i, quantity=-60, average_price=50.0) for i in options]
            desk.snapshot = PositionSnapshot(
                underlying="SPX", positions=short, cash=0.0, realised_pnl=0.0,
                unrealised_pnl=0.0, as_of_seq=1,
            )  # fmt: skip
        desk.surface.set()

    async def on_request(request: PositionSnapshotRequest, envelope):
        if desk.snapshot is not None and envelope.reply:
            await bus.publish(envelope.reply, desk.snapshot)

    async def on_proposal(proposal, envelope):
        desk.proposals.append(proposal)

    await bus.subscribe(subjects.ALL_TICKS, Tick, on_tick)
    await bus.subscribe(subjects.ALL_SURFACES, Surface, on_surface)
    await bus.subscribe(subjects.ALL_PROPOSALS, Proposal, on_proposal)
    await bus.subscribe(subjects.POSITIONS_SNAPSHOT, PositionSnapshotRequest, on_request)
    limits = TypedKV(await bus.js.key_value(subjects.KV_LIMITS), RiskLimits, subjects.KV_LIMITS)
    await limits.put("SPX", SPX_LIMITS)

    def runtime(instance):
        return RuntimeSettings(
            instance=instance, lease_ttl_s=LEASE_TTL_S, heartbeat_interval_s=60.0
        )

    # No manager here: the agents are not to wait for one.
    fast = {"decision_timeout_s": 0.3, "kv_poll_s": 0.05, "snapshot_retry_s": 0.1, "manager": None}

    def gamma(instance, **settings):
        return build_gamma(
            GammaAgentSettings(**fast, **settings), scenario=scenario, clock=clock,
            runtime=runtime(instance), nats=nats,
        )  # fmt: skip

    def vega(instance):
        return build_vega(
            VegaAgentSettings(**fast), scenario=scenario, clock=clock,
            runtime=runtime(instance), nats=nats,
        )  # fmt: skip

    async with AsyncExitStack() as stack:
        md = build_marketdata(
            MarketDataSettings(client_flow=False), scenario=scenario, clock=clock,
            runtime=runtime("md"), nats=nats,
        )  # fmt: skip
        await _start(md, stack)
        await asyncio.wait_for(desk.surface.wait(), 10.0)
        yield desk, stack, {"gamma": gamma, "vega": vega}


def component(service):
    return service.components[0]


async def test_given_two_gamma_replicas_then_only_the_leader_proposes_on_the_ticks_cycles(
    nats_server, bus, eventually
):
    async with cluster(nats_server, bus) as (desk, stack, make):
        first = await _start(make["gamma"]("g1"), stack)
        second = await _start(make["gamma"]("g2"), stack)
        leader, standby = (first, second) if first.is_leader else (second, first)
        assert leader.is_leader and not standby.is_leader
        await eventually(lambda: len(desk.proposals) >= 3, timeout=10.0)
        warm = component(standby)
        await eventually(lambda: warm.evaluations["standby"] >= 3, timeout=5.0)
        assert warm.published_count == 0  # warm, but silent
        # the standby keeps the state on every tick and evaluates once a standby_cycle_s
        assert sum(warm.evaluations.values()) - warm.evaluations["standby"] <= (
            sum(component(leader).evaluations.values()) / 3
        )
        for proposal in desk.proposals:
            assert proposal.agent == "gamma-agent" and proposal.epoch == leader.epoch
            assert proposal.cycle_id == f"SPX-{proposal.tick_seq}"
            assert desk.ticks[proposal.tick_seq].id == proposal.causation_id
            assert proposal.positions_seq == 1 and proposal.legs
            assert proposal.leg_greeks.gamma > 0.0  # buying back the short gamma
        published = {p.id for p in component(leader).published}
        assert {p.id for p in desk.proposals} <= published
        for warm in component(standby).decided:  # computed on the same ticks, never stamped
            assert warm.epoch is None and warm.cycle_id == f"SPX-{warm.tick_seq}"
            assert desk.ticks[warm.tick_seq].id == warm.causation_id


async def test_given_the_leader_dies_then_the_standby_takes_over_within_the_ttl_and_proposes(
    nats_server, bus, eventually
):
    async with cluster(nats_server, bus) as (desk, stack, make):
        first = await _start(make["gamma"]("g1"), stack)
        second = await _start(make["gamma"]("g2"), stack)
        leader, standby = (first, second) if first.is_leader else (second, first)
        await eventually(lambda: len(desk.proposals) >= 1, timeout=10.0)
        old_epoch = leader.epoch
        await leader.bus.nc.close()  # as a crash: no release, the lease lapses
        died = time.monotonic()
        await eventually(lambda: standby.is_leader, timeout=5.0)
        took_over = time.monotonic() - died
        # the record lapses a ttl after the last renewal, the standby looks every ttl / 3;
        # the rest is slack for a busy machine
        assert took_over <= 2.0 * LEASE_TTL_S
        assert standby.epoch > old_epoch
        await eventually(lambda: any(p.epoch == standby.epoch for p in desk.proposals), 5.0)
        assert all(p.epoch in (old_epoch, standby.epoch) for p in desk.proposals)


async def test_given_live_limits_and_trading_state_then_the_agents_follow_them(
    nats_server, bus, eventually
):
    async with cluster(nats_server, bus) as (desk, stack, make):
        gamma = await _start(make["gamma"]("g1"), stack)
        vega = await _start(make["vega"]("v1"), stack)
        await eventually(lambda: {p.agent for p in desk.proposals} == {"gamma-agent", "vega-agent"})
        vega_legs = next(p for p in desk.proposals if p.agent == "vega-agent").legs
        assert all(leg.instrument.expiry > START for leg in vega_legs)
        states = TypedKV(
            await bus.js.key_value(subjects.KV_TRADING_STATE), TradingStatus,
            subjects.KV_TRADING_STATE,
        )  # fmt: skip
        await states.put("desk", TradingStatus(state=TradingState.HALTED, changed_by="test"))
        await eventually(lambda: component(gamma).evaluations["halted"] > 0)
        seen = len(desk.proposals)
        halted_before = component(gamma).evaluations["halted"]
        await eventually(lambda: component(gamma).evaluations["halted"] > halted_before + 5)
        assert len(desk.proposals) == seen  # nothing while HALTED
        await states.put("desk", TradingStatus(state=TradingState.ACTIVE, changed_by="test"))
        limits = TypedKV(await bus.js.key_value(subjects.KV_LIMITS), RiskLimits, subjects.KV_LIMITS)
        wide = SPX_LIMITS.evolve(max_abs_gamma=1e6, max_abs_vega_per_vol_point=1e9)
        await limits.put("SPX", wide)
        await eventually(lambda: component(gamma).evaluations["no_trigger"] > 0)
        await eventually(lambda: component(vega).evaluations["no_trigger"] > 0)


@asynccontextmanager
async def api_client(nats_server, folder) -> AsyncIterator[httpx.AsyncClient]:
    """The API's production wiring on the test's nats-server, an operator's HTTP client on it."""
    context = build_context(
        ApiSettings(scenario=None, kv_poll_s=0.05, tokens=TOKENS),
        store=StoreSettings(url=f"sqlite:///{folder / 'store.db'}"),
        nats=NatsSettings(url=nats_server.url),
        runtime=RuntimeSettings(instance="api-test", heartbeat_interval_s=60.0),
    )
    assert context.lifecycle is not None
    await context.lifecycle.start()
    app = create_app(context.settings, context=context)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api.test", headers=bearer(OPERATOR_TOKEN)
        ) as client:
            yield client
    finally:
        await context.lifecycle.stop()


async def test_given_params_put_through_the_api_then_both_replicas_apply_them_at_once(
    nats_server, bus, eventually, tmp_path
):
    async with (
        cluster(nats_server, bus) as (desk, stack, make),
        api_client(nats_server, tmp_path) as api,
    ):
        first = await _start(make["gamma"]("g1"), stack)
        second = await _start(make["gamma"]("g2"), stack)
        leader, standby = (first, second) if first.is_leader else (second, first)
        await eventually(lambda: len(desk.proposals) >= 1, timeout=10.0)
        off = await api.put("/v1/agents/gamma-agent/params", json={"enabled": False})
        assert off.status_code == 200, off.text
        revision = off.json()["revision"]
        for replica in (leader, standby):  # the standby too: it takes over with them
            await eventually(lambda r=replica: component(r).core.params_revision == revision)
            assert replica.params_revision == revision  # what its heartbeats say
        disabled = component(leader).evaluations["disabled"]
        await eventually(lambda: component(leader).evaluations["disabled"] > disabled + 5)
        seen = len(desk.proposals)
        disabled = component(leader).evaluations["disabled"]
        await eventually(lambda: component(leader).evaluations["disabled"] > disabled + 5)
        assert len(desk.proposals) == seen  # nothing while disabled
        on = await api.put(
            "/v1/agents/gamma-agent/params",
            json={"enabled": True, "max_legs": 1, "revision": revision},
        )
        assert on.status_code == 200, on.text
        await eventually(lambda: len(desk.proposals) > seen, timeout=10.0)
        assert component(standby).core.rules.max_legs == 1
        assert all(len(p.legs) == 1 for p in desk.proposals[seen:])
        refused = await api.put("/v1/agents/gamma-agent/params", json={"max_legs": 99})
        assert refused.status_code == 422
        assert component(leader).core.params_revision == on.json()["revision"]


async def test_given_the_policy_switched_to_learned_through_the_api_then_both_replicas_run_it(
    nats_server, bus, eventually, tmp_path
):
    """Both replicas switch to the learned policy; a checkpoint that then fails its checksum
    hands every decision to the band, and the heartbeats say so."""
    write_checkpoint(tmp_path / "ck", head="fraction")
    beats: list[Heartbeat] = []

    async def on_beat(beat: Heartbeat, envelope) -> None:
        beats.append(beat)

    await bus.subscribe(f"{subjects.PREFIX}.heartbeat.gamma-agent.*", Heartbeat, on_beat)
    async with (
        cluster(nats_server, bus) as (desk, stack, make),
        api_client(nats_server, tmp_path) as api,
    ):
        first = await _start(make["gamma"]("g1", checkpoint=tmp_path / "ck"), stack)
        second = await _start(make["gamma"]("g2", checkpoint=tmp_path / "ck"), stack)
        leader, standby = (first, second) if first.is_leader else (second, first)
        await eventually(lambda: len(desk.proposals) >= 1, timeout=10.0)
        assert leader.policy_status is not None and leader.policy_status.asked == "band"
        put = await api.put("/v1/agents/gamma-agent/params", json={"policy": "learned"})
        assert put.status_code == 200, put.text
        for replica in (leader, standby):

            def learning(r=replica) -> bool:
                status = r.policy_status
                return status is not None and status.last == "learned"

            # A standby evaluates once a standby_cycle_s, after its next KV poll: allow a loaded
            # machine its time (failed once at 10 s in the whole suite, passes alone in 12 s).
            await eventually(learning, timeout=30.0)
        seen = len(desk.proposals)
        await eventually(lambda: len(desk.proposals) > seen, timeout=10.0)
        weights = tmp_path / "ck" / WEIGHTS_FILE
        data = bytearray(weights.read_bytes())
        data[-30] ^= 0x01
        weights.write_bytes(bytes(data))  # no longer what was trained
        await eventually(lambda: leader.policy_status.reason == "checksum", timeout=10.0)
        fallbacks = leader.policy_status.fallbacks
        await eventually(lambda: leader.policy_status.fallbacks > fallbacks, timeout=10.0)
        await leader._beat()
        await eventually(
            lambda: any(b.policy is not None and b.policy.reason == "checksum" for b in beats)
        )
        agents = await api.get("/v1/agents")
        assert agents.status_code == 200
