"""The FIX gateway's store: session numbers, messages sent, ClOrdIDs used.

    repo = FixRepository(session_factory(make_engine(url)))
    repo.save("CLIENT1", next_in=5, next_out=9, messages=[...])   # before the bytes go out
    repo.messages("CLIENT1", begin=3, end=0)                      # a ResendRequest's range
    if repo.insert_new(order, request, received_at=now):          # False: a ClOrdID seen before
        ...work the order...

Each method is one short transaction. A new order is stored with its ClOrdID in one
transaction (`insert_new`: `fix_requests` and execution's `exec_orders`), so a ClOrdID is
refused after a restart exactly when its order exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from hedgemesh.records.fix import FixRequest, RequestKind, SentMessage
from hedgemesh.store._sql import insert_if_absent, upsert
from hedgemesh.store.execution import order_values
from hedgemesh.store.models import (
    FixMessageRow,
    FixRequestRow,
    FixSessionRow,
    OrderRow,
    ReportRow,
)
from hedgemesh.wire.orders import ExecutionReport, Order

__all__ = ["FixRepository", "FixRequest", "RequestKind", "SentMessage"]


def _message(row: FixMessageRow) -> SentMessage:
    body = tuple((int(tag), str(value)) for tag, value in json.loads(row.body))
    return SentMessage(row.counterparty, row.seq, row.msg_type, body, row.sent_at, row.exec_id)


def _request(row: FixRequestRow) -> FixRequest:
    return FixRequest(
        counterparty=row.counterparty,
        cl_ord_id=row.cl_ord_id,
        kind=RequestKind(row.kind),
        client_order_id=row.client_order_id,
        orig_cl_ord_id=row.orig_cl_ord_id,
        order_qty=row.order_qty,
        received_at=row.received_at,
        carried_qty=row.carried_qty,
        carried_notional=row.carried_notional,
    )


def _request_values(request: FixRequest) -> dict[str, object]:
    return {
        "counterparty": request.counterparty,
        "cl_ord_id": request.cl_ord_id,
        "kind": request.kind.value,
        "client_order_id": request.client_order_id,
        "orig_cl_ord_id": request.orig_cl_ord_id,
        "order_qty": request.order_qty,
        "carried_qty": request.carried_qty,
        "carried_notional": request.carried_notional,
        "received_at": request.received_at,
    }


class FixRepository:
    """The FIX gateway's tables (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -- session numbers and messages ----------------------------------------------------------

    def sessions(self) -> dict[str, tuple[int, int]]:
        """Every counterparty's (next_in, next_out)."""
        with self._sessions() as session:
            rows = session.scalars(select(FixSessionRow))
            return {row.counterparty: (row.next_in, row.next_out) for row in rows}

    def save(
        self,
        counterparty: str,
        next_in: int,
        next_out: int,
        messages: Sequence[SentMessage] = (),
        *,
        reset: bool = False,
    ) -> None:
        """A counterparty's numbers and the messages just numbered, in one transaction
        (`reset`: its stored messages dropped first, numbers started again). A message whose
        exec id is stored already is not stored again."""
        with self._sessions() as session, session.begin():
            if reset:
                session.execute(
                    delete(FixMessageRow).where(FixMessageRow.counterparty == counterparty)
                )
            values = {
                "counterparty": counterparty,
                "next_in": next_in,
                "next_out": next_out,
                "updated_at": datetime.now(UTC),
            }
            upsert(session, FixSessionRow, values, key=("counterparty",))
            for message in messages:
                row = {
                    "counterparty": message.counterparty,
                    "seq": message.seq,
                    "msg_type": message.msg_type,
                    "body": json.dumps([list(pair) for pair in message.body]),
                    "sent_at": message.sent_at,
                    "exec_id": message.exec_id,
                }
                if message.exec_id is None:
                    session.add(FixMessageRow(**row))
                else:
                    insert_if_absent(session, FixMessageRow, row, key=("exec_id",))

    def messages(self, counterparty: str, begin: int, end: int = 0) -> list[SentMessage]:
        """Messages sent to `counterparty` numbered `begin`..`end` (0: no end), in order."""
        query = (
            select(FixMessageRow)
            .where(FixMessageRow.counterparty == counterparty, FixMessageRow.seq >= begin)
            .order_by(FixMessageRow.seq)
        )
        if end:
            query = query.where(FixMessageRow.seq <= end)
        with self._sessions() as session:
            return [_message(row) for row in session.scalars(query)]

    # -- requests ------------------------------------------------------------------------------

    def insert_new(self, order: Order, request: FixRequest) -> bool:
        """Store a new (or replacing) order and its ClOrdID in one transaction; False, storing
        nothing, when the counterparty used the ClOrdID before."""
        with self._sessions() as session, session.begin():
            if not insert_if_absent(
                session, FixRequestRow, _request_values(request), key=("counterparty", "cl_ord_id")
            ):
                return False
            values = order_values(order, request.received_at)
            if not insert_if_absent(session, OrderRow, values, key=("client_order_id",)):
                raise ValueError(f"order {order.client_order_id} exists without its ClOrdID")
            return True

    def insert_request(self, request: FixRequest) -> bool:
        """Store a cancel request's ClOrdID; False when the counterparty used it before."""
        with self._sessions() as session, session.begin():
            values = _request_values(request)
            return insert_if_absent(
                session, FixRequestRow, values, key=("counterparty", "cl_ord_id")
            )

    def request(self, counterparty: str, cl_ord_id: str) -> FixRequest | None:
        """The request a counterparty made with this ClOrdID, if any."""
        with self._sessions() as session:
            row = session.get(FixRequestRow, (counterparty, cl_ord_id))
            return None if row is None else _request(row)

    def requests(self, client_order_ids: Iterable[str]) -> list[FixRequest]:
        """The requests that made, cancel or replace these orders, in the order received."""
        ids = list(set(client_order_ids))
        found: list[FixRequest] = []
        with self._sessions() as session:
            for start in range(0, len(ids), 500):
                query = select(FixRequestRow).where(
                    FixRequestRow.client_order_id.in_(ids[start : start + 500])
                )
                found += [_request(row) for row in session.scalars(query)]
            made = [r for r in found if r.kind is not RequestKind.CANCEL]
            for request in made:  # the replaces that took over from them
                query = select(FixRequestRow).where(
                    FixRequestRow.counterparty == request.counterparty,
                    FixRequestRow.orig_cl_ord_id == request.cl_ord_id,
                    FixRequestRow.kind == RequestKind.REPLACE.value,
                )
                found += [_request(row) for row in session.scalars(query)]
        return sorted(set(found), key=lambda r: (r.received_at, r.kind != RequestKind.NEW))

    def working_requests(self) -> list[FixRequest]:
        """The requests of orders execution has not finished (after a restart)."""
        query = (
            select(FixRequestRow)
            .join(OrderRow, OrderRow.client_order_id == FixRequestRow.client_order_id)
            .where(OrderRow.final.is_(False))
        )
        with self._sessions() as session:
            return [_request(row) for row in session.scalars(query)]

    def unsent_reports(self) -> list[ExecutionReport]:
        """Execution reports on FIX orders not yet turned into a message, oldest first (after a
        restart: stored, then the process died before the message was)."""
        made = select(FixRequestRow.client_order_id).where(
            FixRequestRow.kind != RequestKind.CANCEL.value
        )
        query = (
            select(ReportRow.raw)
            .outerjoin(FixMessageRow, FixMessageRow.exec_id == ReportRow.exec_id)
            .where(ReportRow.client_order_id.in_(made), FixMessageRow.id.is_(None))
            .order_by(ReportRow.id)
        )
        with self._sessions() as session:
            return [ExecutionReport.from_json(raw) for raw in session.scalars(query)]
