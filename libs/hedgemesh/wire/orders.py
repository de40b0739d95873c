"""Orders from the manager to execution, and execution's reports of every state change."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from hedgemesh.wire import subjects
from hedgemesh.wire.base import MAX_INT64, Id, Seq, WireModel, WireValue
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.instruments import MAX_QUANTITY, Cost, Instrument, Price, Quantity, Side

#: Most decisions one order can cite.
MAX_DECISIONS = 64


def client_order_id(cycle_id: str, instrument: Instrument, attempt: int = 0) -> str:
    """The deterministic client order id of the order for `instrument` in a cycle.

    A new leader that replays a cycle makes the same ids, so JetStream (`Nats-Msg-Id`) and
    execution drop the duplicates. `attempt` numbers re-issues within one cycle.

    >>> client_order_id("SPX-42", Instrument.spot("SPX"))
    'SPX-c90c4d43f99f5a9e700462a7942a42d9'
    """
    key = f"{cycle_id}\x1f{instrument.symbol}\x1f{attempt}".encode()
    return f"{instrument.underlying}-{hashlib.sha256(key).hexdigest()[:32]}"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    DAY = "day"  # until the end of the trading day
    GTC = "gtc"  # good till cancelled
    IOC = "ioc"  # immediate or cancel: fill what can be filled now, cancel the rest
    FOK = "fok"  # fill or kill: all now, or nothing


class MarketableLimit(WireValue):
    """Send at once at a limit that crosses the spread (up to the order's limit price)."""

    name: Literal["marketable_limit"] = "marketable_limit"


class Twap(WireValue):
    """Split the order into `slices` equal child orders spread evenly over `duration_s`."""

    name: Literal["twap"] = "twap"
    duration_s: float = Field(gt=0, le=86_400, description="Time to work the order (seconds).")
    slices: int = Field(ge=1, le=10_000, description="Number of child orders.")


class Iceberg(WireValue):
    """Show only `display_quantity` on the book at a time, refilling as it fills."""

    name: Literal["iceberg"] = "iceberg"
    display_quantity: Quantity = Field(description="Visible quantity per refill.")


Algo = Annotated[MarketableLimit | Twap | Iceberg, Field(discriminator="name")]
"""How execution works an order, and its parameters."""

_WORKED_OVER_TIME = (Twap, Iceberg)
_NEEDS_LIMIT = (MarketableLimit, Iceberg)
_AT_ONCE = frozenset({TimeInForce.IOC, TimeInForce.FOK})


class Order(WireModel):
    """An approved order, published with `Nats-Msg-Id` = `client_order_id`.

    Rules: a limit price iff a limit order; marketable_limit and iceberg are limit orders
    (marketable_limit may be a market order when ioc or fok: one market child, the rest
    cancelled);
    twap and iceberg work over time, so their time in force is day or gtc; an iceberg shows
    less than the whole order, a twap has no more slices than units; decision ids are unique.
    """

    kind: ClassVar[str] = "order"
    subject_pattern: ClassVar[str] = subjects.ALL_ORDERS

    client_order_id: Id = Field(description="Deterministic; see `client_order_id()`.")
    instrument: Instrument
    side: Side
    quantity: Quantity = Field(description="Contracts (options) or units (underlying).")
    order_type: OrderType
    limit_price: Price | None = Field(
        default=None, description="Worst price per unit (currency); limit orders only."
    )
    time_in_force: TimeInForce
    algo: Algo
    cycle_id: Id = Field(description="The hedge cycle the order comes from (correlation id).")
    epoch: Seq = Field(
        description="The manager's leader fencing token; execution refuses orders from an epoch "
        "older than one it has seen."
    )
    decision_ids: list[Id] = Field(
        min_length=1, max_length=MAX_DECISIONS, description="Decisions that approved it (cause)."
    )
    counterparty: Id | None = Field(
        default=None,
        description="A client's order (the FIX SenderCompID it came from): its fills are that "
        "client's trades with the book, which takes the other side; no manager epoch fences it. "
        "None: the desk's own hedge order.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.order_type is OrderType.LIMIT) != (self.limit_price is not None):
            raise ValueError("a limit price is required iff the order type is limit")
        if (
            isinstance(self.algo, _NEEDS_LIMIT)
            and self.order_type is not OrderType.LIMIT
            and not (isinstance(self.algo, MarketableLimit) and self.time_in_force in _AT_ONCE)
        ):
            raise ValueError(f"{self.algo.name} needs a limit order (or ioc/fok at market)")
        if isinstance(self.algo, _WORKED_OVER_TIME) and self.time_in_force not in (
            TimeInForce.DAY,
            TimeInForce.GTC,
        ):
            raise ValueError(f"{self.algo.name} works over time: time in force must be day or gtc")
        if isinstance(self.algo, Iceberg) and self.algo.display_quantity >= self.quantity:
            raise ValueError("an iceberg must show less than the whole quantity")
        if isinstance(self.algo, Twap) and self.algo.slices > self.quantity:
            raise ValueError("a twap cannot have more slices than units")
        if len(set(self.decision_ids)) != len(self.decision_ids):
            raise ValueError("decision ids repeat")
        return self

    @property
    def signed_quantity(self) -> int:
        return self.side.sign * self.quantity

    @property
    def publish_subject(self) -> str:
        return subjects.order(self.instrument.underlying)


class ExecStatus(StrEnum):
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


_FILLS = frozenset({ExecStatus.PARTIALLY_FILLED, ExecStatus.FILLED})
_TERMINAL = frozenset(
    {ExecStatus.FILLED, ExecStatus.CANCELLED, ExecStatus.REJECTED, ExecStatus.EXPIRED}
)
_MAY_GIVE_REASON = frozenset({ExecStatus.CANCELLED, ExecStatus.EXPIRED, ExecStatus.REJECTED})

FillQuantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]


class ExecutionReport(WireModel):
    """One state change of an order (idempotent by `exec_id`).

    Rules: `last_quantity`/`last_price` are given iff the report is a fill (partially_filled,
    filled), fees only with a fill; `avg_price` iff something has filled; cum ≤ order quantity
    and last ≤ cum. accepted: nothing filled, leaves = order quantity; partially_filled:
    0 < cum < order quantity, cum + leaves = order quantity; filled: cum = order quantity,
    leaves 0; cancelled, expired: leaves 0; rejected: nothing filled, leaves 0 and a reason code
    (only cancelled, expired and rejected may give one).
    """

    kind: ClassVar[str] = "execution_report"
    subject_pattern: ClassVar[str] = subjects.ALL_EXEC_REPORTS

    client_order_id: Id = Field(description="The order reported on (its cause).")
    exec_id: Id = Field(description="Unique per report; the ledger books each fill once.")
    seq: int = Field(ge=1, le=MAX_INT64, description="n-th report on this order, from 1.")
    cycle_id: Id = Field(description="The order's hedge cycle (correlation id).")
    instrument: Instrument
    side: Side
    status: ExecStatus
    order_quantity: Quantity = Field(description="The order's whole quantity.")
    cum_quantity: FillQuantity = Field(description="Filled so far.")
    leaves_quantity: FillQuantity = Field(description="Still working; 0 once done.")
    last_quantity: Quantity | None = Field(default=None, description="Filled by this report.")
    last_price: Price | None = Field(default=None, description="Price of this fill (per unit).")
    avg_price: Price | None = Field(default=None, description="Average fill price (per unit).")
    fees: Cost = Field(default=0.0, description="Fees of this fill (currency).")
    reason_code: ReasonCode | None = Field(
        default=None, description="Why rejected (required), cancelled or expired."
    )
    text: str = Field(default="", max_length=1024, description="Detail, for a person.")
    counterparty: Id | None = Field(
        default=None,
        description="The client whose order this is (the order's `counterparty`); None: the "
        "desk's own.",
    )
    arrival_price: Price | None = Field(
        default=None,
        description="The order's arrival price: the venue's mid (its fair value while the book "
        "is one-sided) when the order was first worked; on every report after that.",
    )
    mid_after: Price | None = Field(
        default=None,
        description="The venue's mid just after this fill (fills only): against "
        "`arrival_price`, the market impact of the order so far.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        status, order, cum, leaves = (
            self.status,
            self.order_quantity,
            self.cum_quantity,
            self.leaves_quantity,
        )
        fill = status in _FILLS
        if (self.last_quantity is not None, self.last_price is not None) != (fill, fill):
            raise ValueError("last_quantity and last_price are given iff the report is a fill")
        if self.fees and not fill:
            raise ValueError("fees are charged only with a fill")
        if self.mid_after is not None and not fill:
            raise ValueError("mid_after is given only with a fill")
        if (self.avg_price is not None) != (cum > 0):
            raise ValueError("avg_price is given iff something has filled")
        if cum > order or (self.last_quantity or 0) > cum:
            raise ValueError("filled more than the order, or this fill exceeds the filled total")
        if (self.reason_code is not None) and status not in _MAY_GIVE_REASON:
            raise ValueError(f"a {status} report gives no reason code")
        rule = {
            ExecStatus.ACCEPTED: cum == 0 and leaves == order,
            ExecStatus.PARTIALLY_FILLED: 0 < cum < order and cum + leaves == order,
            ExecStatus.FILLED: cum == order and leaves == 0,
            ExecStatus.CANCELLED: leaves == 0,
            ExecStatus.EXPIRED: leaves == 0,
            ExecStatus.REJECTED: cum == 0 and leaves == 0 and self.reason_code is not None,
        }[status]
        if not rule:
            raise ValueError(
                f"{status}: cum {cum}, leaves {leaves}, order {order}, reason {self.reason_code} "
                "break the rule for this status"
            )
        return self

    @property
    def is_fill(self) -> bool:
        return self.status in _FILLS

    @property
    def is_terminal(self) -> bool:
        """No further report follows."""
        return self.status in _TERMINAL

    @property
    def signed_last_quantity(self) -> int:
        """The change of the book's position by this report: + bought, − sold, 0 if no fill
        (a client's order moves the book the other way)."""
        sign = -1 if self.counterparty is not None else 1
        return sign * self.side.sign * (self.last_quantity or 0)

    @property
    def book_fees(self) -> float:
        """The fees the book pays for this report (a client pays its own)."""
        return 0.0 if self.counterparty is not None else self.fees

    @property
    def publish_subject(self) -> str:
        return subjects.exec_report(self.instrument.underlying)
