"""The ledger's records: a booked trade or fill (`LedgerEvent`), a position, an account. Plain
frozen dataclasses (no I/O): the ledger's domain makes them, `hedgemesh.store.ledger` maps them
to tables and reads them back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hedgemesh.wire.instruments import Instrument

__all__ = ["EventKind", "LedgerAccount", "LedgerEvent", "LedgerPosition"]


class EventKind(StrEnum):
    TRADE = "trade"  # a client trade (`ClientTrade`, id = trade id)
    FILL = "fill"  # a fill of a hedge order (`ExecutionReport`, id = exec id)


@dataclass(frozen=True, slots=True)
class LedgerPosition:
    """The book's holding of one instrument: signed quantity (contracts or units), average
    cost per unit (None when flat), realised P&L net of fees and fees paid (currency)."""

    instrument: Instrument
    quantity: int = 0
    average_price: float | None = None
    realised_pnl: float = 0.0
    fees: float = 0.0

    def __post_init__(self) -> None:
        if (self.quantity == 0) != (self.average_price is None):
            raise ValueError("average_price must be given iff the position is not flat")

    @property
    def symbol(self) -> str:
        return self.instrument.symbol


@dataclass(frozen=True, slots=True)
class LedgerAccount:
    """Cash, realised P&L (net of fees) and fees of the book in one underlying (currency), and
    `seq`, the number of events booked in it; `last_message_id` is the last one's message."""

    underlying: str
    cash: float = 0.0
    realised_pnl: float = 0.0
    fees: float = 0.0
    seq: int = 0
    last_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One booking: what a trade or fill did to the book.

    `event_id` is the trade id or exec id; `seq` its number within the underlying; `cash` the
    cash it moved (fees included), `realised_pnl` what it realised net of its `fees`; `raw` the
    wire message it came from.
    """

    event_id: str
    kind: EventKind
    message_id: str
    instrument: Instrument
    signed_quantity: int
    price: float
    fees: float
    cash: float
    realised_pnl: float
    seq: int
    ts: datetime
    raw: str

    @property
    def underlying(self) -> str:
        return self.instrument.underlying
