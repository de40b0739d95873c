"""Deterministic building blocks for the manager's tests: a priced market from a small scenario,
position snapshots, proposals, limits and a decision engine on them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hedgemesh.manager.config import ManagerSettings
from hedgemesh.manager.domain.budgets import Budgets
from hedgemesh.manager.domain.engine import DecisionEngine
from hedgemesh.manager.domain.gather import Cycle
from hedgemesh.manager.domain.inflight import InFlight
from hedgemesh.manager.domain.limits import DeskLimits
from hedgemesh.market.book_state import BookState
from hedgemesh.market.session import MarketSession
from hedgemesh.scenario.testing import make_scenario, scenario_dict
from hedgemesh.wire import (
    ExecStatus,
    ExecutionReport,
    FirmLimits,
    Greeks,
    HedgeLeg,
    HedgeTrigger,
    Instrument,
    Order,
    Position,
    PositionSnapshot,
    Proposal,
    RiskLimits,
    Surface,
    Tick,
)

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
SPOT = 5000.0
_ids = itertools.count()


def market(origin: datetime = T0) -> tuple[list[Surface], list[Tick]]:
    """The first surfaces and ticks of a one-underlying scenario (SPX at 5000, GBM 16 %,
    expiries 7 and 30 days, strikes 0.9..1.1)."""
    session = MarketSession(make_scenario(scenario_dict()), origin, client_flow=False)
    batch = session.start()
    return batch.surfaces, batch.ticks


def option(
    days: int, strike: float, right: str = "call", underlying: str = "SPX", origin: datetime = T0
) -> Instrument:
    expiry = (origin + timedelta(days=days)).replace(hour=21, minute=0, second=0, microsecond=0)
    return Instrument.option(underlying, expiry, strike, right)


SPX = Instrument.spot("SPX")
CALL_7 = option(7, 5000)
PUT_7 = option(7, 5000, "put")
CALL_30 = option(30, 5000)


def snapshot(
    positions: Sequence[tuple[Instrument, int]], underlying: str = "SPX", seq: int = 1
) -> PositionSnapshot:
    return PositionSnapshot(
        underlying=underlying,
        positions=[
            Position(instrument=i, quantity=q, average_price=1.0) for i, q in positions if q
        ],
        cash=0.0,
        realised_pnl=0.0,
        unrealised_pnl=0.0,
        as_of_seq=seq,
        ts=T0,
    )


def book(positions: Sequence[tuple[Instrument, int]] = ()) -> BookState:
    state = BookState()
    surfaces, ticks = market()
    for message in (*surfaces, *ticks):
        state.apply(message)
    state.apply(snapshot(positions))
    return state


def limits(**changes: float) -> RiskLimits:
    values: dict = {
        "underlying": "SPX",
        "max_abs_delta": 1000.0,
        "max_abs_gamma": 50.0,
        "max_abs_vega_per_vol_point": 100_000.0,
        "max_order_quantity": 5000,
        "max_order_notional": 1e8,
        "daily_cost_budget": 1e7,
        "price_collar": 0.05,
        "max_tick_age_s": 30.0,
        "changed_by": "test",
    }
    values.update(changes)
    return RiskLimits(**values)


def firm(**changes: float) -> FirmLimits:
    values: dict = {
        "max_abs_dollar_delta": 1e12,
        "max_abs_dollar_gamma_per_pct": 1e12,
        "max_abs_vega_per_vol_point": 1e12,
        "max_gross_notional_per_cycle": 1e12,
        "changed_by": "test",
    }
    values.update(changes)
    return FirmLimits(**values)


def engine(
    state: BookState,
    risk: RiskLimits | None = None,
    *,
    firm_limits: FirmLimits | None = None,
    budgets: dict[str, float] | None = None,
    **params: float,
) -> DecisionEngine:
    desk = DeskLimits()
    desk.set("SPX", risk or limits(), 1)
    if firm_limits is not None:
        desk.set("firm", firm_limits, 2)
    allocations = budgets if budgets is not None else {"gamma-agent": 1e9, "vega-agent": 1e9}
    return DecisionEngine(
        params=ManagerSettings(**params).decision_params(),
        book=state,
        limits=desk,
        budgets=Budgets(allocations, period_s=3600, floor_fraction=0.2, rate=0.5, now=T0),
        inflight=InFlight(),
    )


def proposal(
    legs: Sequence[tuple[Instrument, int]] | Sequence[tuple[Instrument, int, float]],
    *,
    agent: str = "gamma-agent",
    cycle: str = "SPX-1",
    epoch: int | None = None,
    pid: str | None = None,
) -> Proposal:
    return Proposal(
        id=pid or f"p{next(_ids)}",
        ts=T0,
        agent=agent,
        epoch=epoch,
        underlying="SPX",
        cycle_id=cycle,
        trigger=HedgeTrigger.BAND_BREACH,
        reason="test",
        legs=[
            HedgeLeg(
                instrument=leg[0], quantity=leg[1], limit_price=leg[2] if len(leg) > 2 else None
            )
            for leg in legs
        ],
        expected_change=Greeks(delta=0.0, gamma=0.0, vega_per_vol_point=0.0),
        leg_greeks=Greeks(delta=0.0, gamma=0.0, vega_per_vol_point=0.0),
        estimated_cost=1.0,
        tick_seq=1,
    )


def cycle(*proposals: Proposal, cycle_id: str = "SPX-1", delta_check: bool = False) -> Cycle:
    return Cycle(cycle_id, "SPX", 0.0, list(proposals), delta_check=delta_check)


def report(o: Order, rid: str, status: ExecStatus, cum: int, last: int | None) -> ExecutionReport:
    """A report `rid` on `o`: cum filled so far, `last` this fill (None: not a fill)."""
    fill = last is not None
    return ExecutionReport(
        id=rid,
        client_order_id=o.client_order_id,
        exec_id=f"x-{rid}",
        seq=1,
        cycle_id=o.cycle_id,
        instrument=o.instrument,
        side=o.side,
        status=status,
        order_quantity=o.quantity,
        cum_quantity=cum,
        leaves_quantity=0
        if status in (ExecStatus.FILLED, ExecStatus.CANCELLED)
        else o.quantity - cum,
        last_quantity=last,
        last_price=5000.0 if fill else None,
        avg_price=5000.0 if cum else None,
    )
