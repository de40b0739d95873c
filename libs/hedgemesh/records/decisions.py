"""The manager's audit records: a decided cycle, a decision with its proposal, an agent's budget
period and its spending. Plain frozen dataclasses (no I/O): the manager's domain makes them,
`hedgemesh.store.decisions` maps them to tables and reads them back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hedgemesh.wire.hedging import Decision, Proposal

__all__ = ["BudgetPeriod", "CycleRecord", "DecisionRecord", "Spending"]


@dataclass(frozen=True, slots=True)
class CycleRecord:
    """One decided hedge cycle: greeks as {"delta", "gamma", "vega_per_vol_point"} of the
    underlying (its units), `solver` as {"method", "status", "objective", ...}."""

    cycle_id: str
    underlying: str
    epoch: int
    trigger: str
    trading_state: str
    decided_at: datetime
    proposals: int = 0
    orders: int = 0
    expected_cost: float = 0.0
    gross_notional: float = 0.0
    greeks_before: dict[str, float] = field(default_factory=dict)
    greeks_after: dict[str, float] = field(default_factory=dict)
    solver: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision with the proposal it decides, the premium charged to the agent's budget
    (currency) and the risk it removed (Σ over gamma and vega of the cut in |greek| divided
    by its limit); `published_at` as read back (None: not yet on NATS)."""

    decision: Decision
    proposal: Proposal
    premium: float = 0.0
    risk_removed: float = 0.0
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BudgetPeriod:
    """One agent's budget over one period (currency) and the allocation chosen for the next;
    `efficiency` is risk removed per million of premium (None when nothing was spent)."""

    agent: str
    period_start: datetime
    period_end: datetime
    allocated: float
    spent: float
    risk_removed: float
    efficiency: float | None
    floor: float
    next_allocation: float
    reason: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Spending:
    """An agent's approved premium (currency) and risk removed over a span of time."""

    premium: float = 0.0
    risk_removed: float = 0.0
