"""The manager's audit: decided cycles, a decision per proposal, routed orders, budgets.

    repo = DecisionRepository(session_factory(make_engine(url)))
    if repo.record_cycle(cycle, decisions, orders):   # False: this cycle was decided before
        ...publish decisions and orders, then mark them published...
    for order in repo.unpublished_orders():           # after a take-over: finish the outbox
        ...

A cycle is decided once whatever the leader: `record_cycle` stores the cycle, its decisions
and its orders in one transaction, keyed by the cycle id, and refuses (returns False) a cycle
already stored, so a new leader re-deciding a cycle its predecessor stored changes nothing.
Decisions are unique by proposal id; orders by client order id. Decisions and orders carry
`published_at`, NULL until they are on NATS (an outbox, as execution's reports).

Reads (for the API and for a new leader's recovery) return frozen dataclasses and wire models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from hedgemesh.records.decisions import BudgetPeriod, CycleRecord, DecisionRecord, Spending
from hedgemesh.store._sql import insert_if_absent, rows_updated
from hedgemesh.store.models import (
    BudgetPeriodRow,
    CycleRow,
    DecisionRow,
    ManagerOrderRow,
    OrderRow,
)
from hedgemesh.wire.hedging import Decision, DecisionOutcome, Proposal
from hedgemesh.wire.orders import Order

__all__ = [
    "BudgetPeriod",
    "CycleRecord",
    "DecisionRecord",
    "DecisionRepository",
    "Spending",
]

#: Most rows one query returns.
MAX_LIMIT = 10_000


def _cycle(row: CycleRow) -> CycleRecord:
    return CycleRecord(
        cycle_id=row.cycle_id,
        underlying=row.underlying,
        epoch=row.epoch,
        trigger=row.trigger,
        trading_state=row.trading_state,
        decided_at=row.decided_at,
        proposals=row.proposals,
        orders=row.orders,
        expected_cost=row.expected_cost,
        gross_notional=row.gross_notional,
        greeks_before=dict(row.greeks_before),
        greeks_after=dict(row.greeks_after),
        solver=dict(row.solver),
    )


def _cycle_values(cycle: CycleRecord) -> dict[str, Any]:
    return {
        "cycle_id": cycle.cycle_id,
        "underlying": cycle.underlying,
        "epoch": cycle.epoch,
        "trigger": cycle.trigger,
        "trading_state": cycle.trading_state,
        "proposals": cycle.proposals,
        "orders": cycle.orders,
        "expected_cost": cycle.expected_cost,
        "gross_notional": cycle.gross_notional,
        "greeks_before": cycle.greeks_before,
        "greeks_after": cycle.greeks_after,
        "solver": cycle.solver,
        "decided_at": cycle.decided_at,
    }


def _decision_values(record: DecisionRecord) -> dict[str, Any]:
    decision = record.decision
    return {
        "decision_id": decision.id,
        "proposal_id": decision.proposal_id,
        "cycle_id": decision.cycle_id,
        "agent": decision.agent,
        "underlying": decision.underlying,
        "outcome": decision.outcome.value,
        "reason_code": None if decision.reason_code is None else decision.reason_code.value,
        "scale_factor": decision.scale_factor,
        "premium": record.premium,
        "risk_removed": record.risk_removed,
        "epoch": decision.epoch,
        "ts": decision.ts,
        "published_at": record.published_at,
        "raw": decision.to_json().decode(),
        "proposal": record.proposal.to_json().decode(),
    }


def _decision(row: DecisionRow) -> DecisionRecord:
    return DecisionRecord(
        decision=Decision.from_json(row.raw),
        proposal=Proposal.from_json(row.proposal),
        premium=row.premium,
        risk_removed=row.risk_removed,
        published_at=row.published_at,
    )


def _order_values(
    order: Order, published_at: datetime | None = None, unit_cost: float = 0.0
) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "cycle_id": order.cycle_id,
        "underlying": order.instrument.underlying,
        "instrument": order.instrument.symbol,
        "side": order.side.value,
        "quantity": order.quantity,
        "limit_price": order.limit_price,
        "unit_cost": unit_cost,
        "epoch": order.epoch,
        "ts": order.ts,
        "published_at": published_at,
        "raw": order.to_json().decode(),
    }


def _budget(row: BudgetPeriodRow) -> BudgetPeriod:
    return BudgetPeriod(
        agent=row.agent,
        period_start=row.period_start,
        period_end=row.period_end,
        allocated=row.allocated,
        spent=row.spent,
        risk_removed=row.risk_removed,
        efficiency=row.efficiency,
        floor=row.floor,
        next_allocation=row.next_allocation,
        reason=row.reason,
        recorded_at=row.recorded_at,
    )


def _limited(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be in [1, {MAX_LIMIT}], got {limit}")
    return limit


class DecisionRepository:
    """Cycles, decisions, orders and budget periods in the store (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -- writing a cycle ---------------------------------------------------------------------

    def record_cycle(
        self,
        cycle: CycleRecord,
        decisions: Sequence[DecisionRecord],
        orders: Sequence[Order] = (),
        *,
        published_at: datetime | None = None,
        unit_costs: Mapping[str, float] | None = None,
    ) -> bool:
        """Store a decided cycle with its decisions and orders in one transaction.

        Returns False, storing nothing, when the cycle id is stored already (another leader
        decided it). A decision whose proposal id is stored already (decided in an earlier
        cycle) is skipped; the rest of the cycle is stored. `published_at`: when the
        decisions and orders were published already (else NULL: they wait in the outbox).
        `unit_costs`: each order's expected spread and fees per unit, by client order id.
        """
        if any(d.decision.cycle_id != cycle.cycle_id for d in decisions) or any(
            o.cycle_id != cycle.cycle_id for o in orders
        ):
            raise ValueError(f"decisions and orders must all be of cycle {cycle.cycle_id}")
        with self._sessions() as session, session.begin():
            if not insert_if_absent(session, CycleRow, _cycle_values(cycle), key=("cycle_id",)):
                return False
            for record in decisions:
                values = _decision_values(record)
                values["published_at"] = published_at or record.published_at
                insert_if_absent(session, DecisionRow, values, ("proposal_id",))
            for order in orders:
                unit = (unit_costs or {}).get(order.client_order_id, 0.0)
                values = _order_values(order, published_at, unit)
                insert_if_absent(session, ManagerOrderRow, values, ("client_order_id",))
            return True

    def record_decision(self, record: DecisionRecord) -> bool:
        """Store a decision outside a decided cycle (a late or refused proposal); False when
        its proposal was decided before."""
        with self._sessions() as session, session.begin():
            return insert_if_absent(
                session, DecisionRow, _decision_values(record), ("proposal_id",)
            )

    def mark_published(
        self,
        *,
        decision_ids: Iterable[str] = (),
        client_order_ids: Iterable[str] = (),
        at: datetime | None = None,
        restamped: Sequence[Order] = (),
    ) -> int:
        """Record that decisions and orders are on NATS; returns how many rows changed.
        `restamped`: stored orders a new leader published under its own epoch, which is what
        the order stream now holds: their epoch and wire copy follow."""
        at = at or datetime.now(UTC)
        decisions, orders = list(decision_ids), list(client_order_ids)
        changed = 0
        with self._sessions() as session, session.begin():
            for order in restamped:
                session.execute(
                    update(ManagerOrderRow)
                    .where(ManagerOrderRow.client_order_id == order.client_order_id)
                    .values(epoch=order.epoch, raw=order.to_json().decode())
                )
            if decisions:
                changed += rows_updated(
                    session,
                    update(DecisionRow)
                    .where(DecisionRow.decision_id.in_(decisions))
                    .where(DecisionRow.published_at.is_(None))
                    .values(published_at=at),
                )
            if orders:
                changed += rows_updated(
                    session,
                    update(ManagerOrderRow)
                    .where(ManagerOrderRow.client_order_id.in_(orders))
                    .where(ManagerOrderRow.published_at.is_(None))
                    .values(published_at=at),
                )
        return changed

    def record_routed(self, orders: Sequence[Order], *, trading_state: str, at: datetime) -> int:
        """Store orders found on the order stream that the store lacks (a leader published
        them and died before storing; `takeover.reconcile_orders`), published `at`, each under
        its cycle (a bare cycle row, trigger `reconciled`, when the cycle is missing too);
        returns how many were new."""
        stored = 0
        with self._sessions() as session, session.begin():
            for order in orders:
                cycle = CycleRecord(
                    cycle_id=order.cycle_id,
                    underlying=order.instrument.underlying,
                    epoch=order.epoch,
                    trigger="reconciled",
                    trading_state=trading_state,
                    decided_at=order.ts,
                )
                insert_if_absent(session, CycleRow, _cycle_values(cycle), key=("cycle_id",))
                values = _order_values(order, at)
                stored += insert_if_absent(session, ManagerOrderRow, values, ("client_order_id",))
        return stored

    # -- recovery ----------------------------------------------------------------------------

    def known_orders(self, client_order_ids: Iterable[str]) -> set[str]:
        """Which of these client order ids the store holds."""
        ids = list(client_order_ids)
        query = select(ManagerOrderRow.client_order_id).where(
            ManagerOrderRow.client_order_id.in_(ids)
        )
        with self._sessions() as session:
            return set(session.scalars(query))

    def has_cycle(self, cycle_id: str) -> bool:
        with self._sessions() as session:
            return session.get(CycleRow, cycle_id) is not None

    def decided(self, proposal_ids: Iterable[str]) -> set[str]:
        """Which of these proposals have a stored decision."""
        ids = list(proposal_ids)
        if not ids:
            return set()
        query = select(DecisionRow.proposal_id).where(DecisionRow.proposal_id.in_(ids))
        with self._sessions() as session:
            return set(session.scalars(query))

    def unpublished_decisions(self, limit: int = 1000) -> list[Decision]:
        """Decisions stored but not yet published, oldest first."""
        query = (
            select(DecisionRow.raw)
            .where(DecisionRow.published_at.is_(None))
            .order_by(DecisionRow.ts, DecisionRow.decision_id)
            .limit(_limited(limit))
        )
        with self._sessions() as session:
            return [Decision.from_json(raw) for raw in session.scalars(query)]

    def unpublished_orders(self, limit: int = 1000) -> list[Order]:
        """Orders stored but not yet published, oldest first."""
        query = (
            select(ManagerOrderRow.raw)
            .where(ManagerOrderRow.published_at.is_(None))
            .order_by(ManagerOrderRow.ts, ManagerOrderRow.client_order_id)
            .limit(_limited(limit))
        )
        with self._sessions() as session:
            return [Order.from_json(raw) for raw in session.scalars(query)]

    def spending_since(self, since: datetime) -> dict[str, Spending]:
        """Approved premium and risk removed per agent from decisions at or after `since`."""
        query = (
            select(
                DecisionRow.agent, func.sum(DecisionRow.premium), func.sum(DecisionRow.risk_removed)
            )
            .where(DecisionRow.ts >= since)
            .group_by(DecisionRow.agent)
        )
        with self._sessions() as session:
            return {
                agent: Spending(float(premium or 0.0), float(removed or 0.0))
                for agent, premium, removed in session.execute(query)
            }

    def cost_since(self, since: datetime) -> dict[str, float]:
        """The day's cost as the manager counts it, per underlying: for each order routed at or
        after `since`, its expected cost per unit × the quantity execution has filled (from
        execution's `exec_orders`, in the same store)."""
        query = (
            select(
                ManagerOrderRow.underlying,
                func.sum(ManagerOrderRow.unit_cost * OrderRow.cum_quantity),
            )
            .join(OrderRow, OrderRow.client_order_id == ManagerOrderRow.client_order_id)
            .where(ManagerOrderRow.ts >= since)
            .group_by(ManagerOrderRow.underlying)
        )
        with self._sessions() as session:
            return {und: float(cost or 0.0) for und, cost in session.execute(query)}

    # -- reading -----------------------------------------------------------------------------

    def cycle(self, cycle_id: str) -> CycleRecord | None:
        with self._sessions() as session:
            row = session.get(CycleRow, cycle_id)
            return None if row is None else _cycle(row)

    def cycles(self, *, underlying: str | None = None, limit: int = 100) -> list[CycleRecord]:
        """The latest decided cycles, newest first."""
        query = select(CycleRow)
        if underlying is not None:
            query = query.where(CycleRow.underlying == underlying)
        query = query.order_by(CycleRow.decided_at.desc(), CycleRow.cycle_id.desc())
        with self._sessions() as session:
            return [_cycle(row) for row in session.scalars(query.limit(_limited(limit)))]

    def orders_of_cycle(self, cycle_id: str) -> list[Order]:
        query = (
            select(ManagerOrderRow.raw)
            .where(ManagerOrderRow.cycle_id == cycle_id)
            .order_by(ManagerOrderRow.client_order_id)
        )
        with self._sessions() as session:
            return [Order.from_json(raw) for raw in session.scalars(query)]

    def decision_for(self, proposal_id: str) -> DecisionRecord | None:
        query = select(DecisionRow).where(DecisionRow.proposal_id == proposal_id)
        with self._sessions() as session:
            row = session.scalars(query).first()
            return None if row is None else _decision(row)

    def decisions(
        self,
        *,
        agent: str | None = None,
        underlying: str | None = None,
        cycle_id: str | None = None,
        outcome: DecisionOutcome | None = None,
        since: datetime | None = None,
        before: datetime | None = None,
        limit: int = 100,
    ) -> list[DecisionRecord]:
        """Decisions, newest first, filtered by any of the arguments (`since` inclusive,
        `before` exclusive, on the decision's ts: page backwards with `before`)."""
        query = select(DecisionRow)
        if agent is not None:
            query = query.where(DecisionRow.agent == agent)
        if underlying is not None:
            query = query.where(DecisionRow.underlying == underlying)
        if cycle_id is not None:
            query = query.where(DecisionRow.cycle_id == cycle_id)
        if outcome is not None:
            query = query.where(DecisionRow.outcome == outcome.value)
        if since is not None:
            query = query.where(DecisionRow.ts >= since)
        if before is not None:
            query = query.where(DecisionRow.ts < before)
        query = query.order_by(DecisionRow.ts.desc(), DecisionRow.decision_id.desc())
        with self._sessions() as session:
            return [_decision(row) for row in session.scalars(query.limit(_limited(limit)))]

    def count_decisions(self, *, cycle_id: str | None = None) -> int:
        query = select(func.count()).select_from(DecisionRow)
        if cycle_id is not None:
            query = query.where(DecisionRow.cycle_id == cycle_id)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    # -- budgets -----------------------------------------------------------------------------

    def record_budget_periods(self, periods: Sequence[BudgetPeriod]) -> int:
        """Store closed budget periods (one per agent and period start; a repeat is skipped);
        returns how many were new."""
        with self._sessions() as session, session.begin():
            return sum(
                insert_if_absent(
                    session,
                    BudgetPeriodRow,
                    {
                        "agent": p.agent,
                        "period_start": p.period_start,
                        "period_end": p.period_end,
                        "allocated": p.allocated,
                        "spent": p.spent,
                        "risk_removed": p.risk_removed,
                        "efficiency": p.efficiency,
                        "floor": p.floor,
                        "next_allocation": p.next_allocation,
                        "reason": p.reason,
                        "recorded_at": p.recorded_at,
                    },
                    ("agent", "period_start"),
                )
                for p in periods
            )

    def budget_history(self, *, agent: str | None = None, limit: int = 100) -> list[BudgetPeriod]:
        """Closed budget periods, newest first."""
        query = select(BudgetPeriodRow)
        if agent is not None:
            query = query.where(BudgetPeriodRow.agent == agent)
        query = query.order_by(BudgetPeriodRow.period_end.desc(), BudgetPeriodRow.agent)
        with self._sessions() as session:
            return [_budget(row) for row in session.scalars(query.limit(_limited(limit)))]

    def latest_budget_periods(self) -> dict[str, BudgetPeriod]:
        """Each agent's most recent closed period (its `next_allocation` is its budget now)."""
        latest = (
            select(BudgetPeriodRow.agent, func.max(BudgetPeriodRow.period_end).label("end"))
            .group_by(BudgetPeriodRow.agent)
            .subquery()
        )
        query = select(BudgetPeriodRow).join(
            latest,
            (BudgetPeriodRow.agent == latest.c.agent)
            & (BudgetPeriodRow.period_end == latest.c.end),
        )
        with self._sessions() as session:
            return {row.agent: _budget(row) for row in session.scalars(query)}
