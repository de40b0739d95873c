"""Shared helpers of the API tests: a small market, snapshots, a fake desk, scratch stores."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from hedgemesh.api.adapters.desk import DeskUnavailable
from hedgemesh.api.adapters.records import Records
from hedgemesh.api.app import create_app
from hedgemesh.api.config import ApiSettings
from hedgemesh.api.context import ApiContext
from hedgemesh.api.domain.readmodel import ReadModel
from hedgemesh.market.session import Batch, MarketSession
from hedgemesh.runtime.clock import SteppedClock
from hedgemesh.runtime.errors import CasConflict
from hedgemesh.runtime.kv import Versioned
from hedgemesh.scenario.testing import make_scenario, scenario_dict, underlying_dict
from hedgemesh.store.db import make_engine, migrate, session_factory
from hedgemesh.store.decisions import CycleRecord, DecisionRecord, DecisionRepository
from hedgemesh.store.execution import ExecutionRepository
from hedgemesh.wire import subjects
from hedgemesh.wire.base import WireModel
from hedgemesh.wire.book import ClientTrade, Position, PositionSnapshot
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.hedging import (
    Decision,
    DecisionOutcome,
    Greeks,
    HedgeLeg,
    HedgeTrigger,
    Proposal,
)
from hedgemesh.wire.instruments import Instrument, Side
from hedgemesh.wire.ops import ControlCommand, ControlReply
from hedgemesh.wire.orders import (
    ExecStatus,
    ExecutionReport,
    MarketableLimit,
    Order,
    OrderType,
    TimeInForce,
    client_order_id,
)
from hedgemesh.wire.state import FirmLimits, RiskLimits

ORIGIN = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def session(*symbols: str, origin: datetime = ORIGIN) -> MarketSession:
    """A small scenario's market (SPX at 5000, NDX at 18000, ...), started at `origin`."""
    spots = {"SPX": 5000.0, "NDX": 18000.0}
    data = scenario_dict(
        underlyings=[underlying_dict(s, spot=spots.get(s, 100.0)) for s in symbols or ("SPX",)]
    )
    market = MarketSession(make_scenario(data), origin)
    market.start()
    return market


def feed_batches(model: ReadModel, batches: list[Batch]) -> None:
    for batch in batches:
        for surface in batch.surfaces:
            model.on_surface(surface)
        for tick in batch.ticks:
            model.on_tick(tick)


def chain(market: MarketSession, underlying: str = "SPX") -> list[Instrument]:
    return list(market.states[underlying].chain.instruments)


def snapshot(
    underlying: str,
    holdings: list[tuple[Instrument, int]],
    *,
    seq: int = 1,
    cash: float = 0.0,
    causation_id: str | None = None,
    ts: datetime | None = None,
) -> PositionSnapshot:
    """A ledger snapshot holding `holdings` ((instrument, signed quantity) pairs)."""
    return PositionSnapshot(
        underlying=underlying,
        positions=[
            Position(instrument=i, quantity=q, average_price=1.0 if q else None)
            for i, q in holdings
        ],
        cash=cash,
        realised_pnl=10.0 * seq,
        unrealised_pnl=-2.5 * seq,
        fees=1.0,
        as_of_seq=seq,
        causation_id=causation_id,
        **({"ts": ts} if ts is not None else {}),
    )


def risk_limits(underlying: str = "SPX", **changes: Any) -> RiskLimits:
    values: dict[str, Any] = {
        "underlying": underlying,
        "max_abs_delta": 1500.0,
        "max_abs_gamma": 120.0,
        "max_abs_vega_per_vol_point": 150_000.0,
        "max_order_quantity": 1000,
        "max_order_notional": 2.5e7,
        "daily_cost_budget": 5e5,
        "price_collar": 0.05,
        "max_tick_age_s": 30.0,
        "changed_by": "test",
    }
    return RiskLimits(**{**values, **changes})


def firm_limits(**changes: Any) -> FirmLimits:
    values: dict[str, Any] = {
        "max_abs_dollar_delta": 2.5e7,
        "max_abs_dollar_gamma_per_pct": 5e7,
        "max_abs_vega_per_vol_point": 2.5e5,
        "max_gross_notional_per_cycle": 5e7,
        "changed_by": "test",
    }
    return FirmLimits(**{**values, **changes})


Manager = Callable[[ControlCommand], Awaitable[ControlReply]]


@dataclass
class FakeDesk:
    """An in-memory `Desk`: KV entries with revisions, and a scripted manager (None: nobody
    answers control commands)."""

    manager: Manager | None = None
    connected: bool = True
    entries: dict[tuple[str, str], tuple[WireModel, int]] = field(default_factory=dict)
    commands: list[ControlCommand] = field(default_factory=list)
    revision: int = 0
    trades: dict[str, ClientTrade] = field(default_factory=dict)

    def put(self, bucket: str, key: str, value: WireModel) -> int:
        self.revision += 1
        self.entries[(bucket, key)] = (value, self.revision)
        return self.revision

    async def command(self, command: ControlCommand) -> ControlReply:
        self.commands.append(command)
        if not self.connected or self.manager is None:
            raise DeskUnavailable("no manager answers control commands on hedge.v1.control.manager")
        return await self.manager(command)

    async def get(self, bucket: str, key: str, model: type[Any]) -> Versioned[Any] | None:
        if not self.connected:
            raise DeskUnavailable("not connected")
        entry = self.entries.get((bucket, key))
        return (
            None
            if entry is None
            else Versioned(model.model_validate(entry[0].model_dump()), entry[1])
        )

    async def book_trade(self, trade: ClientTrade) -> bool:
        if not self.connected:
            raise DeskUnavailable("not connected")
        new = trade.trade_id not in self.trades
        self.trades.setdefault(trade.trade_id, trade)
        return new

    async def update(self, bucket: str, key: str, value: WireModel, *, last: int) -> int:
        if not self.connected:
            raise DeskUnavailable("not connected")
        entry = self.entries.get((bucket, key))
        if (0 if entry is None else entry[1]) != last:  # 0: only if absent, as JetStream
            raise CasConflict(bucket, key, f"not at revision {last}")
        return self.put(bucket, key, value)


_TEMPLATE: dict[str, Path] = {}


def scratch_records(folder: Path) -> tuple[str, Records]:
    """A migrated SQLite store in `folder` (a copy of one migrated once per test session)."""
    if "db" not in _TEMPLATE:
        template = folder.parent / "api-template.db"
        migrate(f"sqlite:///{template}")
        _TEMPLATE["db"] = template
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "store.db"
    shutil.copyfile(_TEMPLATE["db"], path)
    url = f"sqlite:///{path}"
    return url, Records(session_factory(make_engine(url)))


#: A token per role (random, as `hedgemesh up` writes them), named after its holder.
ADMIN_TOKEN = "tA9s-Qm2vX7kLp4Rz8Wc1Yb6Nd3Fh5Gj0Ue_Ko"
OPERATOR_TOKEN = "oP3x_Vb8Hn2Jq6Ld9Ws4Ek1Ry7Tu5Ia0Mc-Zg"
VIEWER_TOKEN = "vW7e-Rt2Yu9Io4Pa1Sd6Fg3Hj8Kl5Zx0Cv_Bn"
TOKENS = (
    {"name": "alice", "role": "admin", "token": ADMIN_TOKEN},
    {"name": "olga", "role": "operator", "token": OPERATOR_TOKEN},
    {"name": "dashboard", "role": "viewer", "token": VIEWER_TOKEN},
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Harness:
    """The app on a fake desk, a stepped clock and a scratch store."""

    context: ApiContext
    desk: FakeDesk
    clock: SteppedClock
    store_url: str

    @property
    def model(self) -> ReadModel:
        return self.context.model

    def client(self, token: str | None = ADMIN_TOKEN) -> httpx.AsyncClient:
        """An HTTP client on the app in this process (ASGI transport, no server), sending
        `token` (an admin's by default; None: no Authorization header)."""
        app = create_app(self.context.settings, context=self.context)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://api.test",
            headers=bearer(token) if token is not None else None,
        )


def harness(
    folder: Path,
    *,
    underlyings: tuple[str, ...] = ("SPX", "NDX"),
    desk: FakeDesk | None = None,
    **settings: Any,
) -> Harness:
    url, records = scratch_records(folder)
    clock = SteppedClock(ORIGIN)
    desk = desk or FakeDesk()
    context = ApiContext(
        settings=ApiSettings(scenario=None, **{"tokens": TOKENS, **settings}),
        model=ReadModel(underlyings, clock=clock),
        desk=desk,
        records=records,
    )
    return Harness(context, desk, clock, url)


def desk_harness(folder: Path, **settings: Any) -> Harness:
    """`harness` with SPX limits in KV and a manager that answers every command (HALTED)."""
    h = harness(folder, **settings)
    h.desk.put(subjects.KV_LIMITS, "SPX", risk_limits("SPX"))

    async def manager(command: ControlCommand) -> ControlReply:
        return ControlReply(
            command_id=command.id, target="manager", ok=True, state={"trading_state": "HALTED"}
        )

    h.desk.manager = manager
    return h


# -- store rows ---------------------------------------------------------------------------------


def order(
    cycle: str,
    *,
    instrument: Instrument | None = None,
    quantity: int = 10,
    side: Side = Side.BUY,
    at: datetime = ORIGIN,
) -> Order:
    instrument = instrument or Instrument.spot("SPX")
    coid = client_order_id(cycle, instrument)
    return Order(
        id=f"order-{coid}",
        ts=at,
        client_order_id=coid,
        instrument=instrument,
        side=side,
        quantity=quantity,
        order_type=OrderType.LIMIT,
        limit_price=5010.0 if not instrument.is_option else 25.0,
        time_in_force=TimeInForce.IOC,
        algo=MarketableLimit(),
        cycle_id=cycle,
        epoch=3,
        decision_ids=[f"decision-{cycle}"],
    )


def fill_reports(
    o: Order,
    fills: list[int],
    price: float,
    at: datetime,
    arrival: float | None = None,
    mids_after: list[float] | None = None,
) -> list[ExecutionReport]:
    """ACCEPTED, then one fill report per quantity in `fills` (FILLED once all is filled);
    `arrival` on every report and `mids_after` (one per fill) when given."""
    base = {
        "client_order_id": o.client_order_id,
        "cycle_id": o.cycle_id,
        "instrument": o.instrument,
        "side": o.side,
        "order_quantity": o.quantity,
        "arrival_price": arrival,
    }
    mids = mids_after or [None] * len(fills)
    out = [
        ExecutionReport(
            id=f"{o.client_order_id}-r1",
            ts=at,
            exec_id=f"{o.client_order_id}-x1",
            seq=1,
            status=ExecStatus.ACCEPTED,
            cum_quantity=0,
            leaves_quantity=o.quantity,
            **base,
        )
    ]
    cum = 0
    for n, quantity in enumerate(fills, start=2):
        cum += quantity
        out.append(
            ExecutionReport(
                id=f"{o.client_order_id}-r{n}",
                ts=at + timedelta(seconds=n),
                exec_id=f"{o.client_order_id}-x{n}",
                seq=n,
                status=ExecStatus.FILLED if cum == o.quantity else ExecStatus.PARTIALLY_FILLED,
                cum_quantity=cum,
                leaves_quantity=o.quantity - cum,
                last_quantity=quantity,
                last_price=price,
                avg_price=price,
                fees=0.5,
                mid_after=mids[n - 2],
                **base,
            )
        )
    return out


def store_orders(url: str, *orders: tuple[Order, list[ExecutionReport]]) -> None:
    repo = ExecutionRepository(session_factory(make_engine(url)))
    for o, reports in orders:
        repo.insert_order(o)
        repo.record_reports(reports)


def proposal(pid: str, *, agent: str = "gamma-agent", underlying: str = "SPX", cycle: str = "c1"):
    leg = Instrument.spot(underlying)
    return Proposal(
        id=pid,
        ts=ORIGIN,
        agent=agent,
        epoch=2,
        underlying=underlying,
        cycle_id=cycle,
        trigger=HedgeTrigger.BAND_BREACH,
        reason="gamma below its band",
        legs=[HedgeLeg(instrument=leg, quantity=-40)],
        expected_change=Greeks(delta=-40.0, gamma=0.0, vega_per_vol_point=0.0),
        leg_greeks=Greeks(delta=-40.0, gamma=0.0, vega_per_vol_point=0.0),
        estimated_cost=12.5,
        tick_seq=7,
    )


def store_decisions(url: str, *decided: tuple[Proposal, DecisionOutcome, float]) -> None:
    """One cycle per proposal, each decided with `outcome` `seconds` after `ORIGIN`."""
    repo = DecisionRepository(session_factory(make_engine(url)))
    for p, outcome, seconds in decided:
        scale, code = {
            DecisionOutcome.APPROVED: (1.0, None),
            DecisionOutcome.SCALED: (0.5, ReasonCode.BUDGET_EXHAUSTED),
            DecisionOutcome.REJECTED: (0.0, ReasonCode.TRADING_HALTED),
        }[outcome]
        at = ORIGIN + timedelta(seconds=seconds)
        d = Decision(
            id=f"d-{p.id}",
            ts=at,
            proposal_id=p.id,
            agent=p.agent,
            underlying=p.underlying,
            cycle_id=p.cycle_id,
            outcome=outcome,
            reason_code=code,
            scale_factor=scale,
            epoch=9,
        )
        cycle = CycleRecord(
            cycle_id=p.cycle_id,
            underlying=p.underlying,
            epoch=9,
            trigger="proposals",
            trading_state="ACTIVE",
            decided_at=at,
        )
        repo.record_cycle(cycle, [DecisionRecord(d, p, premium=100.0, risk_removed=0.25)])
