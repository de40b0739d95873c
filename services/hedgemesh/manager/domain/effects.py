"""What the manager's core asks its adapter to do, and the instant it is called at. No I/O.

Every `ManagerCore.on_*` returns a list of effects, in the order they are to be carried out;
the adapter (`manager.adapters.component`) turns each into NATS, KV, the store or a timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hedgemesh.records.decisions import BudgetPeriod, DecisionRecord
from hedgemesh.wire.state import RiskLimits, TradingStatus

__all__ = [
    "At",
    "CreateLimits",
    "Decide",
    "DecideDue",
    "DecideLater",
    "Effect",
    "FetchLimits",
    "FlushOutbox",
    "Lag",
    "PublishLate",
    "RecheckDelta",
    "RecordBudgets",
    "SetTrading",
]


@dataclass(frozen=True, slots=True)
class At:
    """When a call happens: the injected clock's time, real monotonic seconds (liveness,
    gathering and orders in flight run on real time whatever the clock's speed), and the
    lease as the service holds it (held, its epoch)."""

    now: datetime
    real: float
    lease: bool = False
    epoch: int | None = None


@dataclass(frozen=True, slots=True)
class Decide:
    """Decide this gathered cycle now (`ManagerCore.decide`); `now`: the clock's time already
    read for it (the book's risk is computed once per instant), None: read when deciding."""

    cycle_id: str
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class DecideLater:
    """Decide this cycle in `delay_s` real seconds (its gathering window), unless it is
    decided before."""

    cycle_id: str
    delay_s: float


@dataclass(frozen=True, slots=True)
class RecheckDelta:
    """Check this underlying's delta again in `delay_s` real seconds (`ManagerCore.recheck`)."""

    underlying: str
    delay_s: float


@dataclass(frozen=True, slots=True)
class PublishLate:
    """A late proposal's rejection (`CYCLE_CLOSED`): publish the decision, store it."""

    record: DecisionRecord


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """No limits for this underlying yet: read KV `limits`, then `ManagerCore.on_limits`
    (which then checks the delta on `cycle_id` as of `now`, the tick's instant)."""

    underlying: str
    spot: float
    cycle_id: str
    now: datetime


@dataclass(frozen=True, slots=True)
class CreateLimits:
    """Fallback limits taken in memory: create them in KV (never overwriting) so that an
    operator sees and can change them."""

    underlying: str
    limits: RiskLimits


@dataclass(frozen=True, slots=True)
class SetTrading:
    """Write this trading state to KV, then act on it (`ManagerCore.set_trading`)."""

    status: TradingStatus


@dataclass(frozen=True, slots=True)
class RecordBudgets:
    """A budget period closed: store its reallocations."""

    periods: list[BudgetPeriod]


@dataclass(frozen=True, slots=True)
class FlushOutbox:
    """The leader's timer: store the cycles decided but not stored yet, and publish what the
    store holds unpublished."""


@dataclass(frozen=True, slots=True)
class DecideDue:
    """After the outbox flush: the leader's inherited cycles that are due now
    (`ManagerCore.due_inherited`, asked then)."""


@dataclass(frozen=True, slots=True)
class Lag:
    """How far behind the market this replica runs (clock milliseconds, for its heartbeats)."""

    ms: float


Effect = (
    Decide
    | DecideLater
    | RecheckDelta
    | PublishLate
    | FetchLimits
    | CreateLimits
    | SetTrading
    | RecordBudgets
    | FlushOutbox
    | DecideDue
    | Lag
)
