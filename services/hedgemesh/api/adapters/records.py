"""The API's queries on the store: execution's orders and fills, the manager's decisions
(`hedgemesh.store.decisions.DecisionRepository`), the audit trail (`hedgemesh.store.audit`,
the one thing the API writes), and a liveness ping.

Blocking (SQLAlchemy): the routes call these in a worker thread. Any database error comes
back as `StoreUnavailable`, which the API answers with 503.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hedgemesh.api.domain.views import AuditView, DecisionView, FillView, OrderView
from hedgemesh.store.audit import AuditEntry, AuditRepository
from hedgemesh.store.decisions import DecisionRecord, DecisionRepository
from hedgemesh.store.models import OrderRow, ReportRow
from hedgemesh.wire.hedging import DecisionOutcome
from hedgemesh.wire.instruments import Side
from hedgemesh.wire.orders import ExecStatus

__all__ = ["OrderStatus", "Records", "StoreUnavailable"]

T = TypeVar("T")


class StoreUnavailable(Exception):
    """The database could not answer; `str()` says why, for a person."""


class OrderStatus(StrEnum):
    """An order's state as a filter: a reported status, or `pending` (stored by execution,
    not yet reported on), or `working` (not final: pending, accepted, partially filled)."""

    PENDING = "pending"
    WORKING = "working"
    ACCEPTED = ExecStatus.ACCEPTED.value
    PARTIALLY_FILLED = ExecStatus.PARTIALLY_FILLED.value
    FILLED = ExecStatus.FILLED.value
    CANCELLED = ExecStatus.CANCELLED.value
    REJECTED = ExecStatus.REJECTED.value
    EXPIRED = ExecStatus.EXPIRED.value


def _order(row: OrderRow) -> OrderView:
    return OrderView(
        client_order_id=row.client_order_id,
        instrument=row.instrument,
        underlying=row.underlying,
        side=Side(row.side),
        quantity=row.quantity,
        order_type=row.order_type,
        limit_price=row.limit_price,
        time_in_force=row.time_in_force,
        algo=row.algo,
        cycle_id=row.cycle_id,
        epoch=row.epoch,
        status=None if row.status is None else ExecStatus(row.status),
        final=row.final,
        cum_quantity=row.cum_quantity,
        leaves_quantity=row.leaves_quantity,
        avg_price=row.avg_price,
        fees=row.fees,
        reason_code=row.reason_code,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _decision(record: DecisionRecord) -> DecisionView:
    decision, proposal = record.decision, record.proposal
    return DecisionView(
        id=decision.id,
        proposal_id=decision.proposal_id,
        agent=decision.agent,
        underlying=decision.underlying,
        cycle_id=decision.cycle_id,
        outcome=decision.outcome,
        reason_code=decision.reason_code,
        scale_factor=decision.scale_factor,
        detail=decision.detail,
        epoch=decision.epoch,
        ts=decision.ts,
        premium=record.premium,
        risk_removed=record.risk_removed,
        trigger=proposal.trigger.value,
        proposal_reason=proposal.reason,
        legs={leg.instrument.symbol: leg.quantity for leg in proposal.legs},
    )


class Records:
    """The API's reads of the store."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._decisions = DecisionRepository(sessions)
        self._audit = AuditRepository(sessions)

    def _run(self, what: str, query: Callable[[], T], verb: str = "read") -> T:
        try:
            return query()
        except SQLAlchemyError as error:
            reason = str(error.__cause__ or error).splitlines()[0][:300]
            raise StoreUnavailable(f"the store could not {verb} {what}: {reason}") from error

    def ping(self) -> None:
        """Raise `StoreUnavailable` unless the database answers `SELECT 1`."""

        def query() -> None:
            with self._sessions() as session:
                session.execute(text("SELECT 1"))

        self._run("anything", query)

    def orders(
        self,
        *,
        underlying: str | None = None,
        status: OrderStatus | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[OrderView]:
        """Orders as execution stored them, newest first (`since`: created at or after)."""
        statement = select(OrderRow)
        if underlying is not None:
            statement = statement.where(OrderRow.underlying == underlying)
        if status is OrderStatus.PENDING:
            statement = statement.where(OrderRow.status.is_(None))
        elif status is OrderStatus.WORKING:
            statement = statement.where(OrderRow.final.is_(False))
        elif status is not None:
            statement = statement.where(OrderRow.status == status.value)
        if since is not None:
            statement = statement.where(OrderRow.created_at >= since)
        statement = statement.order_by(
            OrderRow.created_at.desc(), OrderRow.client_order_id.desc()
        ).limit(limit)

        def query() -> list[OrderView]:
            with self._sessions() as session:
                return [_order(row) for row in session.scalars(statement)]

        return self._run("orders", query)

    def fills(
        self,
        *,
        underlying: str | None = None,
        client_order_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[FillView]:
        """Fill reports (partially filled, filled), newest first (`since`: at or after)."""
        statement = (
            select(
                ReportRow,
                OrderRow.instrument,
                OrderRow.underlying,
                OrderRow.side,
                OrderRow.cycle_id,
            )
            .join(OrderRow, OrderRow.client_order_id == ReportRow.client_order_id)
            .where(ReportRow.is_fill.is_(True))
        )
        if underlying is not None:
            statement = statement.where(OrderRow.underlying == underlying)
        if client_order_id is not None:
            statement = statement.where(ReportRow.client_order_id == client_order_id)
        if since is not None:
            statement = statement.where(ReportRow.ts >= since)
        statement = statement.order_by(ReportRow.id.desc()).limit(limit)

        def query() -> list[FillView]:
            with self._sessions() as session:
                return [
                    FillView(
                        exec_id=report.exec_id,
                        client_order_id=report.client_order_id,
                        instrument=instrument,
                        underlying=und,
                        side=Side(side),
                        status=ExecStatus(report.status),
                        last_quantity=report.last_quantity or 0,
                        last_price=report.last_price or 0.0,
                        cum_quantity=report.cum_quantity,
                        avg_price=report.avg_price,
                        fees=report.fees,
                        cycle_id=cycle_id,
                        ts=report.ts,
                        **_prices(report.raw),
                    )
                    for report, instrument, und, side, cycle_id in session.execute(statement)
                ]

        return self._run("fills", query)

    def decisions(
        self,
        *,
        agent: str | None = None,
        underlying: str | None = None,
        cycle_id: str | None = None,
        outcome: DecisionOutcome | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[DecisionView]:
        """The manager's decisions, newest first (`since`: at or after)."""
        return self._run(
            "decisions",
            lambda: [
                _decision(record)
                for record in self._decisions.decisions(
                    agent=agent,
                    underlying=underlying,
                    cycle_id=cycle_id,
                    outcome=outcome,
                    since=since,
                    limit=limit,
                )
            ],
        )

    def record_audit(self, entry: AuditEntry) -> int:
        """Append `entry` to the audit trail; its id."""
        return self._run("the audit entry", lambda: self._audit.record(entry), verb="write")

    def probe_audit(self) -> None:
        """`StoreUnavailable` unless an audit entry could be appended now (rolled back)."""
        self._run("the audit trail", self._audit.probe, verb="write")

    def audit(
        self,
        *,
        actor: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditView]:
        """The audit trail, newest first (`path`: a prefix; `before_id`: the next page back)."""
        return self._run(
            "the audit trail",
            lambda: [
                AuditView.model_validate(e, from_attributes=True)
                for e in self._audit.entries(
                    actor=actor,
                    method=method,
                    path=path,
                    status=status,
                    since=since,
                    before_id=before_id,
                    limit=limit,
                )
            ],
        )


def _prices(raw: str) -> dict[str, float | None]:
    """A fill's arrival price and the mid after it, from its stored wire report (None in
    reports written before execution gave them)."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    return {key: body.get(key) for key in ("arrival_price", "mid_after")}
