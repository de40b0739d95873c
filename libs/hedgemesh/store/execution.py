"""Execution's orders and reports: idempotent by client order id and by exec id.

    repo = ExecutionRepository(session_factory(make_engine(url)))
    if repo.insert_order(order):           # False: this client order id was seen before
        ...work it...
    repo.record_report(report)             # idempotent by exec_id; updates the order too
    for stored in repo.working_orders():   # after a restart: what is still to do
        ...

Each method is one short transaction, committed before it returns. Returned values are plain
frozen dataclasses and wire models, never live ORM objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hedgemesh.records.execution import StoredOrder, Switch
from hedgemesh.store._sql import insert_if_absent, rows_updated, table_of, upsert
from hedgemesh.store.models import OrderRow, ReportRow, SwitchRow
from hedgemesh.wire.orders import ExecStatus, ExecutionReport, Order

__all__ = [
    "ConflictingReport",
    "ExecutionRepository",
    "StoredOrder",
    "Switch",
    "UnknownOrder",
]


class UnknownOrder(LookupError):
    """A report names a client order id the store does not hold."""


class ConflictingReport(ValueError):
    """A report reuses its order's seq (or exec id) with different content."""


def _stored(row: OrderRow) -> StoredOrder:
    return StoredOrder(
        order=Order.from_json(row.raw),
        status=None if row.status is None else ExecStatus(row.status),
        final=row.final,
        cum_quantity=row.cum_quantity,
        leaves_quantity=row.leaves_quantity,
        avg_price=row.avg_price,
        fees=row.fees,
        last_seq=row.last_seq,
        reason_code=row.reason_code,
        algo_state=row.algo_state,
        received_at=row.received_at,
        updated_at=row.updated_at,
    )


def order_values(order: Order, received_at: datetime) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "message_id": order.id,
        "instrument": order.instrument.symbol,
        "underlying": order.instrument.underlying,
        "side": order.side.value,
        "quantity": order.quantity,
        "order_type": order.order_type.value,
        "limit_price": order.limit_price,
        "time_in_force": order.time_in_force.value,
        "algo": order.algo.model_dump(mode="json"),
        "epoch": order.epoch,
        "cycle_id": order.cycle_id,
        "status": None,
        "final": False,
        "cum_quantity": 0,
        "leaves_quantity": order.quantity,
        "avg_price": None,
        "fees": 0.0,
        "last_seq": 0,
        "reason_code": None,
        "algo_state": None,
        "created_at": order.ts,
        "updated_at": order.ts,
        "received_at": received_at,
        "raw": order.to_json().decode(),
    }


def _report_values(report: ExecutionReport) -> dict[str, Any]:
    return {
        "exec_id": report.exec_id,
        "message_id": report.id,
        "client_order_id": report.client_order_id,
        "seq": report.seq,
        "status": report.status.value,
        "is_fill": report.is_fill,
        "last_quantity": report.last_quantity,
        "last_price": report.last_price,
        "cum_quantity": report.cum_quantity,
        "leaves_quantity": report.leaves_quantity,
        "avg_price": report.avg_price,
        "fees": report.fees,
        "reason_code": None if report.reason_code is None else report.reason_code.value,
        "ts": report.ts,
        "published_at": None,
        "raw": report.to_json().decode(),
    }


#: The order columns a report sets (besides fees, which every fill adds to).
_REPORT_STATE = (
    "status", "final", "cum_quantity", "leaves_quantity", "avg_price", "last_seq",
    "reason_code", "updated_at",
)  # fmt: skip


class ExecutionRepository:
    """Orders and execution reports in the store (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -- orders ------------------------------------------------------------------------------

    def insert_order(self, order: Order, *, received_at: datetime | None = None) -> bool:
        """Store a new order; False (and nothing changes) when its client order id exists.

        The one gate against working an order twice: call it before doing anything with it.
        """
        values = order_values(order, received_at or datetime.now(UTC))
        with self._sessions() as session, session.begin():
            return insert_if_absent(session, OrderRow, values, key=("client_order_id",))

    def get_order(self, client_order_id: str) -> StoredOrder | None:
        with self._sessions() as session:
            row = session.get(OrderRow, client_order_id)
            return None if row is None else _stored(row)

    def orders(self, received_since: datetime | None = None) -> list[StoredOrder]:
        """Every stored order (received at or after `received_since`), final or not, in the
        order received."""
        query = select(OrderRow).order_by(OrderRow.received_at, OrderRow.client_order_id)
        if received_since is not None:
            query = query.where(OrderRow.received_at >= received_since)
        with self._sessions() as session:
            return [_stored(row) for row in session.scalars(query)]

    def working_orders(self, underlying: str | None = None) -> list[StoredOrder]:
        """Orders not in a final state (including those never reported on), oldest first."""
        query = select(OrderRow).where(OrderRow.final.is_(False))
        if underlying is not None:
            query = query.where(OrderRow.underlying == underlying)
        query = query.order_by(OrderRow.created_at, OrderRow.client_order_id)
        with self._sessions() as session:
            return [_stored(row) for row in session.scalars(query)]

    def max_epoch(self, received_before: datetime | None = None) -> int | None:
        """The highest manager epoch of any stored order (execution refuses older ones); of
        those received before `received_before` when given (the fence an order met)."""
        query = select(func.max(OrderRow.epoch))
        if received_before is not None:
            query = query.where(OrderRow.received_at < received_before)
        with self._sessions() as session:
            return session.scalar(query)

    def save_algo_state(self, client_order_id: str, state: dict[str, Any] | None) -> None:
        """Remember how far the algorithm has worked an order (JSON-serialisable)."""
        with self._sessions() as session, session.begin():
            statement = (
                update(OrderRow)
                .where(OrderRow.client_order_id == client_order_id)
                .values(algo_state=state)
            )
            if not rows_updated(session, statement):
                raise UnknownOrder(client_order_id)

    # -- switches ----------------------------------------------------------------------------

    def set_switch(self, switch: Switch) -> None:
        """Engage or release a switch (stored before the caller acts on it)."""
        values = {
            "name": switch.name,
            "engaged": switch.engaged,
            "reason": switch.reason,
            "changed_by": switch.changed_by,
            "changed_at": switch.changed_at,
        }
        with self._sessions() as session, session.begin():
            upsert(session, SwitchRow, values, key=("name",))

    def switches(self) -> dict[str, Switch]:
        """Every switch ever set, by name."""
        with self._sessions() as session:
            return {
                row.name: Switch(row.name, row.engaged, row.reason, row.changed_by, row.changed_at)
                for row in session.scalars(select(SwitchRow))
            }

    # -- reports -----------------------------------------------------------------------------

    def record_report(self, report: ExecutionReport) -> bool:
        """Store a report and apply it to its order, in one transaction.

        Returns False, changing nothing, when its exec id was stored before. The order's
        status, cum/leaves, average price, fees and last seq follow the report with the highest
        seq (a late, lower seq is stored but does not move the order back). Raises
        `UnknownOrder` for an order not stored, `ConflictingReport` when the order's seq is
        taken by another exec id or the report contradicts its order.
        """
        return self.record_reports([report])[0]

    def record_reports(self, reports: Sequence[ExecutionReport]) -> list[bool]:
        """`record_report` for several reports, in order, in one transaction (one commit, the
        cost that dominates on PostgreSQL): all are stored, or, when one is refused, none."""
        try:
            with self._sessions() as session, session.begin():
                return [_record(session, report) for report in reports]
        except IntegrityError as error:  # no such order, or its seq taken by another exec id
            raise self._refusal(reports) from error

    def _refusal(self, reports: Sequence[ExecutionReport]) -> Exception:
        """Which report the database refused, and why (after the transaction rolled back)."""
        with self._sessions() as session:
            for report in reports:
                if session.get(OrderRow, report.client_order_id) is None:
                    return UnknownOrder(report.client_order_id)
        return ConflictingReport(
            "a report reuses its order's seq with another exec id: "
            + ", ".join(f"{r.exec_id} (seq {r.seq})" for r in reports)
        )

    def reports(
        self,
        client_order_id: str | None = None,
        since_seq: int | None = None,
        *,
        received_since: datetime | None = None,
    ) -> list[ExecutionReport]:
        """Reports in the order they were recorded; for one order, those after `since_seq`;
        only of orders received at or after `received_since` when given."""
        return self._reports(
            client_order_id, since_seq, fills_only=False, received_since=received_since
        )

    def fills(
        self,
        client_order_id: str | None = None,
        since_seq: int | None = None,
        *,
        underlying: str | None = None,
    ) -> list[ExecutionReport]:
        """Fill reports only (partially filled, filled), in the order recorded."""
        return self._reports(client_order_id, since_seq, fills_only=True, underlying=underlying)

    def _reports(
        self,
        client_order_id: str | None,
        since_seq: int | None,
        *,
        fills_only: bool,
        underlying: str | None = None,
        received_since: datetime | None = None,
    ) -> list[ExecutionReport]:
        query = select(ReportRow.raw).order_by(ReportRow.id)
        if underlying is not None or received_since is not None:
            query = query.join(OrderRow)
        if received_since is not None:
            query = query.where(OrderRow.received_at >= received_since)
        if client_order_id is not None:
            query = query.where(ReportRow.client_order_id == client_order_id)
        if since_seq is not None:
            query = query.where(ReportRow.seq > since_seq)
        if fills_only:
            query = query.where(ReportRow.is_fill.is_(True))
        if underlying is not None:
            query = query.where(OrderRow.underlying == underlying)
        with self._sessions() as session:
            return [ExecutionReport.from_json(raw) for raw in session.scalars(query)]

    # -- outbox ------------------------------------------------------------------------------

    def unpublished_reports(self, limit: int = 1000) -> list[ExecutionReport]:
        """Reports stored but not yet marked published, oldest first (publish them with
        `Nats-Msg-Id` = exec id, then `mark_published`)."""
        query = (
            select(ReportRow.raw)
            .where(ReportRow.published_at.is_(None))
            .order_by(ReportRow.id)
            .limit(limit)
        )
        with self._sessions() as session:
            return [ExecutionReport.from_json(raw) for raw in session.scalars(query)]

    def mark_published(self, exec_ids: Iterable[str], *, at: datetime | None = None) -> int:
        """Mark reports as on JetStream; returns how many were newly marked."""
        ids: Sequence[str] = list(exec_ids)
        if not ids:
            return 0
        with self._sessions() as session, session.begin():
            return rows_updated(
                session,
                update(ReportRow)
                .where(ReportRow.exec_id.in_(ids), ReportRow.published_at.is_(None))
                .values(published_at=at or datetime.now(UTC)),
            )


_ORDERS = table_of(OrderRow)
_ORDER_FACTS = (
    select(OrderRow.instrument, OrderRow.side, OrderRow.quantity, OrderRow.last_seq)
    .where(OrderRow.client_order_id == bindparam("coid"))
    .with_for_update()
)
_ADD_FEES = (
    update(_ORDERS)
    .where(_ORDERS.c.client_order_id == bindparam("b_coid"))
    .values(fees=_ORDERS.c.fees + bindparam("b_fees"))
)
_APPLY_REPORT = _ADD_FEES.values({name: bindparam(f"b_{name}") for name in _REPORT_STATE})


def _record(session: Session, report: ExecutionReport) -> bool:
    """Store one report and apply it to its order (see `ExecutionRepository.record_report`)."""
    if not insert_if_absent(session, ReportRow, _report_values(report), key=("exec_id",)):
        return False
    facts = session.execute(_ORDER_FACTS, {"coid": report.client_order_id}).first()
    if facts is None:  # only without foreign keys enforced; they refuse it first
        raise UnknownOrder(report.client_order_id)
    _check_matches(report.client_order_id, (facts[0], facts[1], facts[2]), report)
    statement = _ADD_FEES if report.seq <= facts.last_seq else _APPLY_REPORT
    session.execute(statement, _apply_values(report))
    return True


def _apply_values(report: ExecutionReport) -> dict[str, Any]:
    """Parameters of `_ADD_FEES` / `_APPLY_REPORT`: the order takes a report's state unless a
    later report already moved it (then only its fees count)."""
    return {
        "b_coid": report.client_order_id,
        "b_fees": report.fees,
        "b_status": report.status.value,
        "b_final": report.is_terminal,
        "b_cum_quantity": report.cum_quantity,
        "b_leaves_quantity": report.leaves_quantity,
        "b_avg_price": report.avg_price,
        "b_last_seq": report.seq,
        "b_reason_code": None if report.reason_code is None else report.reason_code.value,
        "b_updated_at": report.ts,
    }


def _check_matches(
    client_order_id: str, facts: tuple[str, str, int], report: ExecutionReport
) -> None:
    """Refuse a report whose order facts (instrument, side, quantity) differ from the stored
    order's."""
    instrument, side, quantity = facts
    mismatches = [
        name
        for name, stored, reported in (
            ("instrument", instrument, report.instrument.symbol),
            ("side", side, report.side.value),
            ("quantity", quantity, report.order_quantity),
        )
        if stored != reported
    ]
    if mismatches:
        raise ConflictingReport(
            f"report {report.exec_id} disagrees with order {client_order_id} on "
            + ", ".join(mismatches)
        )
