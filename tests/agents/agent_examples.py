"""Shared by the agents' tests: the default scenario's market at its start, its book as a
position snapshot, its limits, and cores fed with them (no NATS)."""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hedgemesh.agentkit.config import AgentSettings
from hedgemesh.agentkit.domain.core import AgentCore, Specialist
from hedgemesh.gamma_agent.config import GammaAgentSettings
from hedgemesh.gamma_agent.domain.specialist import GammaSpecialist
from hedgemesh.market.session import Batch, MarketSession
from hedgemesh.scenario import DEFAULT_SCENARIO, Scenario, load_scenario
from hedgemesh.vega_agent.config import VegaAgentSettings
from hedgemesh.vega_agent.domain.specialist import VegaSpecialist
from hedgemesh.wire.book import Position, PositionSnapshot
from hedgemesh.wire.instruments import Instrument
from hedgemesh.wire.market import Tick
from hedgemesh.wire.state import RiskLimits

ORIGIN = datetime(2024, 6, 11, 13, 30, tzinfo=UTC)


@functools.cache
def scenario() -> Scenario:
    return load_scenario(DEFAULT_SCENARIO)


@functools.cache
def start() -> Batch:
    """The default scenario's first batch: ticks, surfaces and the book's initial trades."""
    return MarketSession(scenario(), ORIGIN, client_flow=False).start()


def tick(underlying: str) -> Tick:
    return next(t for t in start().ticks if t.underlying == underlying)


def book_holdings() -> dict[str, dict[Instrument, int]]:
    """The scenario's initial book, per underlying: instrument → contracts."""
    held: dict[str, dict[Instrument, int]] = defaultdict(dict)
    for trade in start().trades:
        book = held[trade.instrument.underlying]
        book[trade.instrument] = book.get(trade.instrument, 0) + trade.signed_quantity
    return held


def snapshot(underlying: str, holdings: dict[Instrument, int], seq: int = 1) -> PositionSnapshot:
    positions = [
        Position(instrument=i, quantity=q, average_price=1.0 if q else None)
        for i, q in holdings.items()
    ]
    return PositionSnapshot(
        underlying=underlying,
        positions=positions,
        cash=0.0,
        realised_pnl=0.0,
        unrealised_pnl=0.0,
        as_of_seq=seq,
    )


def limits(underlying: str, **changes: float) -> RiskLimits:
    """The default scenario's limits of `underlying`, with `changes`."""
    assert scenario().limits is not None
    base = scenario().limits.underlyings[underlying].risk_limits(underlying, "test")
    return base.evolve(**changes) if changes else base


def core(
    specialist: Specialist,
    settings: AgentSettings,
    holdings: dict[str, dict[Instrument, int]] | None = None,
) -> AgentCore:
    """A core fed with the start's market, `holdings` (default: the scenario's book) and the
    scenario's limits."""
    agent = AgentCore(
        specialist, settings.rules(), {u.symbol: u.chain for u in scenario().underlyings}
    )
    batch = start()
    for message in (*batch.surfaces, *batch.ticks):
        agent.book.apply(message)
    for underlying, held in (book_holdings() if holdings is None else holdings).items():
        agent.book.apply(snapshot(underlying, held))
        agent.limits[underlying] = limits(underlying)
    for underlying in scenario().symbols:
        agent.limits.setdefault(underlying, limits(underlying))
    return agent


def gamma_core(holdings=None, **settings) -> AgentCore:
    return core(GammaSpecialist(), GammaAgentSettings(**settings), holdings)


def vega_core(holdings=None, **settings) -> AgentCore:
    return core(VegaSpecialist(), VegaAgentSettings(**settings), holdings)


def moved(core_: AgentCore, underlying: str, factor: float, seconds: float = 10.0) -> Tick:
    """Feed a tick `seconds` later at `factor` times the held price; returns it."""
    held = core_.book.tick(underlying)
    assert held is not None
    new = held.evolve(
        price=held.price * factor, seq=held.seq + 1, ts=held.ts + timedelta(seconds=seconds)
    )
    core_.book.apply(new)
    return new
