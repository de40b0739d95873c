"""The ledger's books: every booked trade and fill, positions per instrument, and accounts.

The ledger computes a booking (pure arithmetic, in the service), then `book` stores it in one
transaction: the event unless its id was booked before (then nothing changes and `book`
returns False), the instrument's new position, and the underlying's account, advanced from
sequence n − 1 to n by compare-and-set, so that a second writer or a stale in-memory state is
refused (`StaleLedger`) rather than silently overwriting the books.

    repo = LedgerRepository(session_factory(make_engine(url)))
    if repo.book(event, position, account):  # False: this trade or fill was booked before
        ...publish the new snapshot...
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hedgemesh.records.ledger import EventKind, LedgerAccount, LedgerEvent, LedgerPosition
from hedgemesh.store._sql import insert_if_absent, rows_updated, upsert
from hedgemesh.store.models import LedgerAccountRow, LedgerEventRow, LedgerPositionRow
from hedgemesh.wire.instruments import Instrument

__all__ = [
    "EventKind",
    "LedgerAccount",
    "LedgerEvent",
    "LedgerPosition",
    "LedgerRepository",
    "StaleLedger",
]


class StaleLedger(RuntimeError):
    """The account moved on since the booking was computed (another writer, or stale state)."""


def _position(row: LedgerPositionRow) -> LedgerPosition:
    return LedgerPosition(
        instrument=Instrument.model_validate(row.spec),
        quantity=row.quantity,
        average_price=row.average_price,
        realised_pnl=row.realised_pnl,
        fees=row.fees,
    )


def _account(row: LedgerAccountRow) -> LedgerAccount:
    return LedgerAccount(
        underlying=row.underlying,
        cash=row.cash,
        realised_pnl=row.realised_pnl,
        fees=row.fees,
        seq=row.seq,
        last_message_id=row.last_message_id,
    )


def _event(row: LedgerEventRow, instrument: Instrument) -> LedgerEvent:
    return LedgerEvent(
        event_id=row.event_id,
        kind=EventKind(row.kind),
        message_id=row.message_id,
        instrument=instrument,
        signed_quantity=row.signed_quantity,
        price=row.price,
        fees=row.fees,
        cash=row.cash,
        realised_pnl=row.realised_pnl,
        seq=row.seq,
        ts=row.ts,
        raw=row.raw,
    )


class LedgerRepository:
    """Booked events, positions and accounts in the store (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def book(
        self,
        event: LedgerEvent,
        position: LedgerPosition,
        account: LedgerAccount,
        *,
        booked_at: datetime | None = None,
    ) -> bool:
        """Store one booking in one transaction; False (nothing changed) when `event_id` was
        booked before. `position` and `account` are their states after the event; the account
        must be at `event.seq` and the stored one at `event.seq − 1`, else `StaleLedger`."""
        underlying = event.underlying
        if not (position.instrument == event.instrument and account.underlying == underlying):
            raise ValueError("the event, position and account must be of one instrument")
        if account.seq != event.seq or event.seq < 1:
            raise ValueError(f"account at seq {account.seq} after booking event seq {event.seq}")
        now = booked_at or datetime.now(UTC)
        try:
            with self._sessions() as session, session.begin():
                if not insert_if_absent(
                    session, LedgerEventRow, self._event_values(event, now), key=("event_id",)
                ):
                    return False
                self._advance(session, account, now)
                upsert(
                    session,
                    LedgerPositionRow,
                    {
                        "instrument": position.symbol,
                        "underlying": underlying,
                        "spec": position.instrument.model_dump(mode="json"),
                        "quantity": position.quantity,
                        "average_price": position.average_price,
                        "realised_pnl": position.realised_pnl,
                        "fees": position.fees,
                        "updated_seq": event.seq,
                        "updated_at": now,
                    },
                    key=("instrument",),
                )
                return True
        except IntegrityError as error:  # (underlying, seq) taken, or the account exists
            raise StaleLedger(f"{underlying}: seq {event.seq} is already booked") from error

    @staticmethod
    def _event_values(event: LedgerEvent, now: datetime) -> dict[str, object]:
        return {
            "event_id": event.event_id,
            "kind": event.kind.value,
            "message_id": event.message_id,
            "underlying": event.underlying,
            "seq": event.seq,
            "instrument": event.instrument.symbol,
            "signed_quantity": event.signed_quantity,
            "price": event.price,
            "fees": event.fees,
            "cash": event.cash,
            "realised_pnl": event.realised_pnl,
            "ts": event.ts,
            "booked_at": now,
            "raw": event.raw,
        }

    @staticmethod
    def _advance(session: Session, account: LedgerAccount, now: datetime) -> None:
        """Move the stored account from seq − 1 to `account` (compare-and-set)."""
        values = {
            "cash": account.cash,
            "realised_pnl": account.realised_pnl,
            "fees": account.fees,
            "seq": account.seq,
            "last_message_id": account.last_message_id,
            "updated_at": now,
        }
        if account.seq == 1:
            session.add(LedgerAccountRow(underlying=account.underlying, **values))
            session.flush()
            return
        statement = (
            update(LedgerAccountRow)
            .where(
                LedgerAccountRow.underlying == account.underlying,
                LedgerAccountRow.seq == account.seq - 1,
            )
            .values(**values)
        )
        if not rows_updated(session, statement):
            raise StaleLedger(
                f"{account.underlying}: the stored account is not at seq {account.seq - 1}"
            )

    def is_booked(self, event_id: str) -> bool:
        with self._sessions() as session:
            query = select(LedgerEventRow.id).where(LedgerEventRow.event_id == event_id)
            return session.scalar(query) is not None

    def positions(self, underlying: str | None = None) -> list[LedgerPosition]:
        """Every instrument ever booked (flat ones too), by underlying then symbol."""
        query = select(LedgerPositionRow).order_by(
            LedgerPositionRow.underlying, LedgerPositionRow.instrument
        )
        if underlying is not None:
            query = query.where(LedgerPositionRow.underlying == underlying)
        with self._sessions() as session:
            return [_position(row) for row in session.scalars(query)]

    def accounts(self) -> list[LedgerAccount]:
        with self._sessions() as session:
            query = select(LedgerAccountRow).order_by(LedgerAccountRow.underlying)
            return [_account(row) for row in session.scalars(query)]

    def account(self, underlying: str) -> LedgerAccount | None:
        with self._sessions() as session:
            row = session.get(LedgerAccountRow, underlying)
            return None if row is None else _account(row)

    def events(self, underlying: str | None = None, since_seq: int = 0) -> list[LedgerEvent]:
        """Booked events in booking order; for one underlying, those after `since_seq`."""
        query = (
            select(LedgerEventRow, LedgerPositionRow.spec)
            .join(LedgerPositionRow, LedgerPositionRow.instrument == LedgerEventRow.instrument)
            .order_by(LedgerEventRow.id)
        )
        if underlying is not None:
            query = query.where(
                LedgerEventRow.underlying == underlying, LedgerEventRow.seq > since_seq
            )
        with self._sessions() as session:
            return [
                _event(row, Instrument.model_validate(spec)) for row, spec in session.execute(query)
            ]
