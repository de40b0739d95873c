"""The ledger's arithmetic: positions, average cost, cash and P&L. Pure: no I/O, no clock.

Method: average cost. A trade that opens or adds to a position moves its average price to the
quantity-weighted mean of the old average and the trade price; one that reduces it realises
(price − average) per unit closed (negated for a short), and leaves the average unchanged; one
that crosses zero closes the whole position (realising as above) and opens the rest at the
trade price. Fees are paid in cash and charged to realised P&L. With multiplier m (units of
the underlying per contract), per instrument:

    cash        = −Σ signed quantity · price · m − Σ fees
    realised    = Σ (price − average) · closed · sign(position before) · m − Σ fees
    unrealised  = (mark − average) · quantity · m

so that cash + quantity · mark · m = realised + unrealised whenever the book starts flat with
no cash (the identity the tests check, with a brute-force FIFO recomputation of the total).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from hedgemesh.records.ledger import EventKind, LedgerAccount, LedgerEvent, LedgerPosition
from hedgemesh.wire.book import MAX_POSITIONS, Position, PositionSnapshot
from hedgemesh.wire.instruments import Instrument

__all__ = ["Booking", "BookingRefused", "Ledger", "apply_trade", "unrealised_pnl"]


class BookingRefused(ValueError):
    """An event the ledger cannot book (for a person: why)."""


def apply_trade(
    position: LedgerPosition, signed_quantity: int, price: float, fees: float = 0.0
) -> tuple[LedgerPosition, float, float]:
    """Book a trade of `signed_quantity` (+ bought) at `price` (per unit) with `fees`
    (currency) into `position`; returns (new position, cash moved, P&L realised net of fees).

    >>> from hedgemesh.wire import Instrument
    >>> flat = LedgerPosition(Instrument.spot("SPX"))
    >>> long, cash, _ = apply_trade(flat, 10, 100.0)
    >>> long.quantity, long.average_price, cash
    (10, 100.0, -1000.0)
    >>> short, cash, realised = apply_trade(long, -15, 110.0, fees=1.0)
    >>> short.quantity, short.average_price, cash, realised
    (-5, 110.0, 1649.0, 99.0)
    """
    if signed_quantity == 0:
        raise BookingRefused("a trade of zero quantity")
    if not (np.isfinite(price) and price > 0 and np.isfinite(fees) and fees >= 0):
        raise BookingRefused(f"price {price!r} must be > 0 and fees {fees!r} ≥ 0, both finite")
    m = position.instrument.multiplier
    q0, avg0 = position.quantity, position.average_price
    q1 = q0 + signed_quantity
    gross = 0.0
    avg1: float | None
    if avg0 is None:  # open from flat
        avg1 = price
    elif (q0 > 0) == (signed_quantity > 0):  # add
        avg1 = (abs(q0) * avg0 + abs(signed_quantity) * price) / abs(q1)
    else:  # reduce, close or cross
        closed = min(abs(signed_quantity), abs(q0))
        gross = (price - avg0) * closed * (1 if q0 > 0 else -1) * m
        avg1 = None if q1 == 0 else (avg0 if (q1 > 0) == (q0 > 0) else price)
    realised = gross - fees
    new = replace(
        position,
        quantity=q1,
        average_price=avg1,
        realised_pnl=position.realised_pnl + realised,
        fees=position.fees + fees,
    )
    return new, -signed_quantity * price * m - fees, realised


def unrealised_pnl(
    quantity: np.ndarray, average_price: np.ndarray, mark: np.ndarray, multiplier: np.ndarray
) -> np.ndarray:
    """Open P&L per position at the marks (currency): (mark − average) · quantity · m.

    Flat positions (quantity 0) and unmarked ones (mark NaN) contribute 0.
    """
    quantity = np.asarray(quantity, dtype=np.float64)
    open_and_marked = (quantity != 0) & np.isfinite(mark)
    pnl = (np.asarray(mark) - np.asarray(average_price)) * quantity * np.asarray(multiplier)
    return np.where(open_and_marked, pnl, 0.0)


@dataclass(frozen=True, slots=True)
class Booking:
    """What booking one event does: the event, and the position and account after it."""

    event: LedgerEvent
    position: LedgerPosition
    account: LedgerAccount


@dataclass
class Ledger:
    """The books in memory: positions by symbol and accounts by underlying.

    `prepare` computes a booking without changing anything; `commit` applies it once it is
    stored. The service keeps this state as a cache of the store, reloaded at start-up.
    """

    positions: dict[str, LedgerPosition] = field(default_factory=dict)
    accounts: dict[str, LedgerAccount] = field(default_factory=dict)

    @classmethod
    def from_records(
        cls, positions: Iterable[LedgerPosition], accounts: Iterable[LedgerAccount]
    ) -> Ledger:
        return cls({p.symbol: p for p in positions}, {a.underlying: a for a in accounts})

    @property
    def underlyings(self) -> list[str]:
        return sorted(self.accounts)

    def prepare(
        self,
        *,
        event_id: str,
        kind: EventKind,
        message_id: str,
        instrument: Instrument,
        signed_quantity: int,
        price: float,
        fees: float,
        ts: datetime,
        raw: str,
    ) -> Booking:
        """The booking of one trade or fill (nothing changes until `commit`)."""
        held = self.positions.get(instrument.symbol)
        if held is not None and held.instrument != instrument:
            raise BookingRefused(
                f"{instrument.symbol}: multiplier {instrument.multiplier} differs from the "
                f"{held.instrument.multiplier} already booked"
            )
        position, cash, realised = apply_trade(
            held or LedgerPosition(instrument), signed_quantity, price, fees
        )
        account = self.accounts.get(instrument.underlying) or LedgerAccount(instrument.underlying)
        account = replace(
            account,
            cash=account.cash + cash,
            realised_pnl=account.realised_pnl + realised,
            fees=account.fees + fees,
            seq=account.seq + 1,
            last_message_id=message_id,
        )
        event = LedgerEvent(
            event_id=event_id,
            kind=kind,
            message_id=message_id,
            instrument=instrument,
            signed_quantity=signed_quantity,
            price=price,
            fees=fees,
            cash=cash,
            realised_pnl=realised,
            seq=account.seq,
            ts=ts,
            raw=raw,
        )
        return Booking(event, position, account)

    def commit(self, booking: Booking) -> None:
        """Apply a booking that the store has accepted."""
        self.positions[booking.position.symbol] = booking.position
        self.accounts[booking.account.underlying] = booking.account

    def holdings(self, underlying: str) -> list[LedgerPosition]:
        """Positions in one underlying (flat ones too), by symbol."""
        return sorted(
            (p for p in self.positions.values() if p.instrument.underlying == underlying),
            key=lambda p: p.symbol,
        )

    def snapshot(
        self, underlying: str, marks: Mapping[str, float], ts: datetime
    ) -> PositionSnapshot:
        """The book in one underlying, marked at `marks` (price per unit by symbol; a position
        without a mark has no mark price and no unrealised P&L; one marked at 0, a worthless
        option, has its unrealised P&L but no mark price, which the wire requires > 0).

        Lists open positions, then flat ones with realised P&L, up to `MAX_POSITIONS` (open
        first); the totals always cover every position.
        """
        held = self.holdings(underlying)
        account = self.accounts.get(underlying) or LedgerAccount(underlying)
        mark = np.array([marks.get(p.symbol, np.nan) for p in held], dtype=np.float64)
        pnl = unrealised_pnl(
            np.array([p.quantity for p in held], dtype=np.float64),
            np.array([p.average_price or 0.0 for p in held], dtype=np.float64),
            mark,
            np.array([p.instrument.multiplier for p in held], dtype=np.float64),
        )
        listed = [
            Position(
                instrument=p.instrument,
                quantity=p.quantity,
                average_price=p.average_price,
                mark_price=float(m) if np.isfinite(m) and m > 0 else None,
                realised_pnl=p.realised_pnl,
                unrealised_pnl=float(u),
            )
            for p, m, u in zip(held, mark, pnl, strict=True)
            if p.quantity != 0 or p.realised_pnl != 0
        ]
        listed.sort(key=lambda p: p.quantity == 0)  # stable: open first, each by symbol
        return PositionSnapshot(
            ts=ts,
            underlying=underlying,
            positions=listed[:MAX_POSITIONS],
            cash=account.cash,
            realised_pnl=account.realised_pnl,
            unrealised_pnl=float(pnl.sum()),
            fees=account.fees,
            as_of_seq=account.seq,
            causation_id=account.last_message_id,
        )
