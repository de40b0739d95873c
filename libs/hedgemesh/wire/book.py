"""The book: client trades into it, and the ledger's positions and P&L per underlying."""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, model_validator

from hedgemesh.wire import subjects
from hedgemesh.wire.base import Id, Seq, WireModel, WireValue
from hedgemesh.wire.instruments import (
    Cost,
    Instrument,
    Money,
    Price,
    Quantity,
    Side,
    SignedQuantity,
    Underlying,
    require_one_underlying,
)

#: Most positions in one snapshot (one underlying).
MAX_POSITIONS = 500


class ClientTrade(WireModel):
    """A trade a client did with the book (a command into the ledger; idempotent by `trade_id`).

    `side` is the book's: `buy` means the book bought. Cash moves by
    −sign(side) · quantity · price · multiplier.
    """

    kind: ClassVar[str] = "client_trade"
    subject_pattern: ClassVar[str] = subjects.BOOK_TRADE

    trade_id: Id = Field(description="Unique per trade; the ledger books each id once.")
    instrument: Instrument
    side: Side = Field(description="The book's side.")
    quantity: Quantity = Field(description="Contracts (options) or units (underlying).")
    price: Price = Field(description="Per unit of the underlying (an option's premium).")
    counterparty: Id = Field(description="The client.")

    @property
    def signed_quantity(self) -> int:
        """The change of the book's position: + for a buy, − for a sell."""
        return self.side.sign * self.quantity

    @property
    def publish_subject(self) -> str:
        return subjects.BOOK_TRADE


class Position(WireValue):
    """The book's holding of one instrument. Rule: `average_price` is given iff the position is
    not flat."""

    instrument: Instrument
    quantity: SignedQuantity = Field(description="Contracts or units; negative is short.")
    average_price: Price | None = Field(
        default=None, description="Average opening price per unit (currency); none when flat."
    )
    mark_price: Price | None = Field(
        default=None, description="Price the position is marked at (currency per unit)."
    )
    realised_pnl: Money = Field(default=0.0, description="Closed P&L (currency).")
    unrealised_pnl: Money = Field(default=0.0, description="Open P&L at `mark_price` (currency).")

    @model_validator(mode="after")
    def _average_price_iff_open(self) -> Self:
        if (self.quantity == 0) != (self.average_price is None):
            raise ValueError("average_price must be given iff the quantity is not zero")
        return self


class PositionSnapshot(WireModel):
    """All of the book's positions in one underlying, with cash and P&L, as of a ledger sequence.

    Rules: every position is on `underlying`, each instrument at most once.
    """

    kind: ClassVar[str] = "position_snapshot"
    subject_pattern: ClassVar[str] = subjects.ALL_POSITIONS

    underlying: Underlying
    positions: list[Position] = Field(max_length=MAX_POSITIONS)
    cash: Money = Field(
        description="Cash from trades, fills and fees in this underlying (currency)."
    )
    realised_pnl: Money = Field(description="Closed P&L, net of fees (currency).")
    unrealised_pnl: Money = Field(description="Open P&L at the marks (currency).")
    fees: Cost = Field(default=0.0, description="Fees paid to date (currency).")
    as_of_seq: Seq = Field(
        description="Ledger sequence of this underlying: events (trades, fills) applied so far."
    )
    causation_id: Id | None = Field(
        default=None, description="Id of the trade or execution report last applied."
    )

    @model_validator(mode="after")
    def _positions_of_the_underlying(self) -> Self:
        require_one_underlying((p.instrument for p in self.positions), self.underlying)
        return self

    @property
    def total_pnl(self) -> float:
        """Realised plus unrealised P&L (currency)."""
        return self.realised_pnl + self.unrealised_pnl

    @property
    def publish_subject(self) -> str:
        return subjects.positions(self.underlying)


class PositionSnapshotRequest(WireModel):
    """Ask the ledger for the current `PositionSnapshot` of one underlying (request/reply)."""

    kind: ClassVar[str] = "position_snapshot_request"
    subject_pattern: ClassVar[str] = subjects.POSITIONS_SNAPSHOT

    underlying: Underlying
    requested_by: Id = Field(description="The asking service or operator.")

    @property
    def publish_subject(self) -> str:
        return subjects.POSITIONS_SNAPSHOT
