"""Execution algorithms: pure state machines that work a parent order through child orders.

A parent (`ParentOrder`, or `ParentOrder.from_wire(order, tick_size)` from a decoded wire
`Order`) is worked by `make_algo(parent)`:

- `MarketableLimit`: one child at the limit (or a market child without one). Time in force
  `ioc`/`fok` passes to the child; `gtc`/`day` leave its unfilled rest resting at the limit.
- `Twap(duration_s, slices)`: slice k (k = 0 .. slices-1) fires at `start + k * duration_s /
  slices` and tops the filled quantity up to `quantity * (k + 1) // slices` with an IOC child
  at the limit (market without one); a shortfall carries to the next slice. What is still
  unfilled after the last slice is cancelled with TIME_IN_FORCE (the schedule ran out).
- `Iceberg(display_quantity)`: a resting child of at most the display quantity at the limit;
  when it fills, the next one goes up (behind the queue at that price, as on a real venue).

Every method returns a list of actions, in order: `PlaceChild` and `CancelChild` for the book,
`ParentUpdate` for the parent's state (ACCEPTED, PARTIALLY_FILLED, FILLED, CANCELLED,
REJECTED, with the wire's `ExecStatus` and `ReasonCode`, cumulative and leaves quantities, the
last fill and the average price in ticks). The algorithm is driven by:

- `start(now)`: validate and send the first children;
- `on_event(event)`: the book events of its children (`Fill` as taker or maker, `Cancelled`,
  `Rejected`); other events are ignored;
- `on_time(now)`: timers (TWAP slices), due at `next_wakeup`;
- `cancel(reason)`: cancel working children; the parent is CANCELLED once they are closed.

Invariant: filled + working children never exceed the parent's quantity. It is checked where
it could break (a child sent, a fill booked) and a breach raises `ChildExceedsParent` rather
than trade past the parent. Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import NamedTuple

from hedgemesh.venue.book import BUY, SELL, Cancelled, Event, Fill, Reason, Rejected, price_to_ticks
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.orders import (
    ExecStatus,
    Iceberg,
    MarketableLimit,
    Order,
    OrderType,
    TimeInForce,
    Twap,
)

AlgoSpec = MarketableLimit | Twap | Iceberg


class ChildExceedsParent(AssertionError):
    """Children (filled and working) would exceed their parent's quantity: a bug, never traded."""


# How a book's reason reads on the wire.
_WIRE_REASON = {
    Reason.INVALID_QUANTITY: ReasonCode.INVALID_REQUEST,
    Reason.INVALID_PRICE: ReasonCode.INVALID_REQUEST,
    Reason.INVALID_SIDE: ReasonCode.INVALID_REQUEST,
    Reason.INVALID_TIME_IN_FORCE: ReasonCode.INVALID_REQUEST,
    Reason.DUPLICATE_ORDER_ID: ReasonCode.DUPLICATE,
    Reason.UNKNOWN_ORDER: ReasonCode.INVALID_REQUEST,
    Reason.NO_LIQUIDITY: ReasonCode.NO_LIQUIDITY,
    Reason.TIME_IN_FORCE: ReasonCode.TIME_IN_FORCE,
    Reason.CANCELLED_BY_REQUEST: ReasonCode.CANCELLED_BY_REQUEST,
    Reason.SELF_TRADE: ReasonCode.CANCELLED_BY_REQUEST,  # the owner's own later order
}


def wire_reason(reason: Reason) -> ReasonCode:
    """The wire `ReasonCode` for a book `Reason`."""
    return _WIRE_REASON[reason]


@dataclass(frozen=True, slots=True)
class ParentOrder:
    """An order to work: `quantity` units on `side` (+1 buy, -1 sell), limit in ticks or None."""

    order_id: str
    owner: str
    side: int
    quantity: int
    limit: int | None
    tif: TimeInForce
    algo: AlgoSpec = field(default_factory=MarketableLimit)

    @classmethod
    def from_wire(cls, order: Order, tick_size: float, owner: str | None = None) -> ParentOrder:
        """Map a decoded wire `Order`; its limit price rounds to ticks on the safe side."""
        side = order.side.sign
        limit = None
        if order.order_type is OrderType.LIMIT and order.limit_price is not None:
            limit = price_to_ticks(order.limit_price, tick_size, side)
        return cls(
            order_id=order.client_order_id,
            owner=owner if owner is not None else order.client_order_id,
            side=side,
            quantity=order.quantity,
            limit=limit,
            tif=order.time_in_force,
            algo=order.algo,
        )


class PlaceChild(NamedTuple):
    child_id: str
    owner: str
    side: int
    price: int | None  # ticks; None: market
    quantity: int
    tif: TimeInForce


class CancelChild(NamedTuple):
    child_id: str


class ParentUpdate(NamedTuple):
    parent_id: str
    status: ExecStatus
    quantity: int
    cum_quantity: int
    leaves_quantity: int
    last_quantity: int | None
    last_price: int | None  # ticks
    avg_price: float | None  # ticks
    reason: ReasonCode | None
    text: str


Action = PlaceChild | CancelChild | ParentUpdate

_TERMINAL = frozenset({ExecStatus.FILLED, ExecStatus.CANCELLED, ExecStatus.REJECTED})


class Algo:
    """Bookkeeping shared by every algorithm; subclasses decide when to send which child."""

    def __init__(
        self,
        parent: ParentOrder,
        *,
        cum_quantity: int = 0,
        cum_notional_ticks: int = 0,
        started_at: float | None = None,
        children: int = 0,
    ) -> None:
        """`cum_*`, `started_at` and `children` (sent so far) resume a parent after a restart.

        A resumed parent sends no second ACCEPTED, sends what is not filled yet (children that
        were working before the restart are assumed gone with the old book) and numbers its
        children on from `children`, so child ids never repeat.
        """
        self.parent = parent
        self.cum_quantity = cum_quantity
        self.cum_notional_ticks = cum_notional_ticks
        self.started_at = started_at
        self.status = ExecStatus.PARTIALLY_FILLED if cum_quantity else ExecStatus.ACCEPTED
        self.working: dict[Hashable, int] = {}  # child id -> leaves
        self._children = children
        self._cancelling: ReasonCode | None = None
        self._text = ""

    # -- state ---------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.status in _TERMINAL

    @property
    def leaves_quantity(self) -> int:
        return 0 if self.done else self.parent.quantity - self.cum_quantity

    @property
    def avg_price(self) -> float | None:
        """Average fill price in ticks, or None before any fill."""
        return self.cum_notional_ticks / self.cum_quantity if self.cum_quantity else None

    @property
    def next_wakeup(self) -> float | None:
        return None

    def owns(self, child_id: Hashable) -> bool:
        """Whether `child_id` is one of this parent's working children."""
        return child_id in self.working

    def child_ids(self) -> list[str]:
        """Ids of every child sent so far, in order."""
        return [self._child_id(k) for k in range(1, self._children + 1)]

    # -- driving -------------------------------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        """Validate the parent and send the first children (ACCEPTED first, or REJECTED)."""
        problem = self._invalid()
        if problem:
            self.status = ExecStatus.REJECTED
            return [self._update(reason=ReasonCode.INVALID_REQUEST, text=problem)]
        resumed = self.started_at is not None
        if self.started_at is None:
            self.started_at = now
        actions: list[Action] = [] if resumed else [self._update()]
        return actions + self._work(now) + self._finish_cancel()

    def on_time(self, now: float) -> list[Action]:
        return [] if self.done else self._work(now) + self._finish_cancel()

    def on_event(self, event: Event, now: float = 0.0) -> list[Action]:
        """React to a book event about one of this parent's children."""
        actions: list[Action] = []
        if isinstance(event, Fill):
            for child in (event.taker_id, event.maker_id):
                if child in self.working:
                    left = (
                        event.taker_remaining if child == event.taker_id else event.maker_remaining
                    )
                    actions += self._filled(child, event.price, event.quantity, left)
        elif isinstance(event, Cancelled | Rejected) and event.order_id in self.working:
            del self.working[event.order_id]
            reason = wire_reason(event.reason)
            if isinstance(event, Rejected) and event.reason is Reason.UNKNOWN_ORDER:
                reason = self._cancelling or reason  # a cancel that crossed a final fill
            actions += self._child_closed(reason, now)
        return actions + self._finish_cancel()

    def cancel(self, reason: ReasonCode = ReasonCode.CANCELLED_BY_REQUEST) -> list[Action]:
        """Cancel the parent: its working children first, then CANCELLED."""
        if self.done:
            return []
        self._cancelling = reason
        actions: list[Action] = [CancelChild(str(c)) for c in self.working]
        return actions + self._finish_cancel()

    # -- for subclasses ------------------------------------------------------------------------

    def _invalid(self) -> str:
        p = self.parent
        if p.side not in (BUY, SELL):
            return f"side must be +1 or -1, got {p.side!r}"
        if type(p.quantity) is not int or p.quantity <= 0:
            return f"quantity must be a whole number > 0, got {p.quantity!r}"
        if p.limit is not None and (type(p.limit) is not int or p.limit <= 0):
            return f"limit must be a whole number of ticks > 0, got {p.limit!r}"
        if not 0 <= self.cum_quantity < p.quantity:
            return f"resumed with {self.cum_quantity} filled of {p.quantity}"
        return ""

    def _work(self, now: float) -> list[Action]:
        """Send what the schedule asks for at `now`."""
        return []

    def _child_closed(self, reason: ReasonCode, now: float) -> list[Action]:
        """A child left the book unfilled (in part); by default the parent ends with it."""
        if self._cancelling is None and not self.done:
            self._cancelling = reason
        return []

    def _on_child_filled(self, child: Hashable) -> list[Action]:
        """A child filled completely (and left `working`)."""
        return []

    def _send(self, quantity: int, price: int | None, tif: TimeInForce) -> list[Action]:
        room = self.parent.quantity - self.cum_quantity - sum(self.working.values())
        quantity = min(quantity, room)
        if quantity <= 0 or self._cancelling is not None or self.done:
            return []
        self._children += 1
        child_id = self._child_id(self._children)
        self.working[child_id] = quantity
        self._check_children()
        p = self.parent
        return [PlaceChild(child_id, p.owner, p.side, price, quantity, tif)]

    def _child_id(self, k: int) -> str:
        return f"{self.parent.order_id}/{k}"

    def _update(
        self,
        last_quantity: int | None = None,
        last_price: int | None = None,
        reason: ReasonCode | None = None,
        text: str = "",
    ) -> ParentUpdate:
        p = self.parent
        leaves = 0 if self.done else p.quantity - self.cum_quantity
        return ParentUpdate(
            p.order_id,
            self.status,
            p.quantity,
            self.cum_quantity,
            leaves,
            last_quantity,
            last_price,
            self.avg_price,
            reason,
            text,
        )

    # -- internals -----------------------------------------------------------------------------

    def _filled(self, child: Hashable, price: int, quantity: int, left: int) -> list[Action]:
        if quantity + left > self.working[child]:
            raise ChildExceedsParent(
                f"{self.parent.order_id}: child {child} filled {quantity} with {left} left, "
                f"but only {self.working[child]} was working"
            )
        self.cum_quantity += quantity
        self.cum_notional_ticks += price * quantity
        if left:
            self.working[child] = left
        else:
            del self.working[child]
        full = self.cum_quantity >= self.parent.quantity
        self.status = ExecStatus.FILLED if full else ExecStatus.PARTIALLY_FILLED
        actions: list[Action] = [self._update(quantity, price)]
        if not left and not full:
            actions += self._on_child_filled(child)
        return actions

    def _check_children(self) -> None:
        """Filled + working children within the parent's quantity, else `ChildExceedsParent`."""
        total = self.cum_quantity + sum(self.working.values())
        if total > self.parent.quantity:
            raise ChildExceedsParent(
                f"{self.parent.order_id}: children {total} exceed the parent's "
                f"{self.parent.quantity}"
            )

    def _finish_cancel(self) -> list[Action]:
        if self._cancelling is None or self.working or self.done:
            return []
        self.status = ExecStatus.CANCELLED
        return [self._update(reason=self._cancelling, text=self._text)]


class MarketableLimitAlgo(Algo):
    """One child for the whole quantity at the limit; the time in force decides its rest."""

    _sent_once = False

    def _work(self, now: float) -> list[Action]:
        if self.working or self._sent_once:
            return []
        self._sent_once = True
        p = self.parent
        tif = TimeInForce.IOC if p.limit is None and p.tif is not TimeInForce.FOK else p.tif
        return self._send(p.quantity - self.cum_quantity, p.limit, tif)


class TwapAlgo(Algo):
    """Equal slices over the duration, each an IOC child within the limit."""

    def __init__(self, parent: ParentOrder, **resume: object) -> None:
        super().__init__(parent, **resume)  # type: ignore[arg-type]
        if not isinstance(parent.algo, Twap):
            raise TypeError("TwapAlgo works a Twap parent")
        self.spec: Twap = parent.algo
        self._fired = -1

    def _invalid(self) -> str:
        if self.spec.slices > self.parent.quantity:
            return f"{self.spec.slices} slices for {self.parent.quantity} units"
        return super()._invalid()

    def slice_time(self, k: int) -> float:
        assert self.started_at is not None
        return self.started_at + k * self.spec.duration_s / self.spec.slices

    @property
    def next_wakeup(self) -> float | None:
        k = self._fired + 1
        if self.done or self._cancelling is not None or k >= self.spec.slices:
            return None
        return self.slice_time(k)

    def _work(self, now: float) -> list[Action]:
        n = self.spec.slices
        due = self._fired
        while due + 1 < n and self.slice_time(due + 1) <= now + 1e-9:
            due += 1
        if due == self._fired:
            return []
        self._fired = due
        target = self.parent.quantity * (due + 1) // n
        wanted = target - self.cum_quantity - sum(self.working.values())
        actions = self._send(wanted, self.parent.limit, TimeInForce.IOC)
        return actions + self._expire_if_over()

    def _child_closed(self, reason: ReasonCode, now: float) -> list[Action]:
        if self._cancelling is None:  # an IOC slice ended short: the next slice catches up
            self._text = f"slice ended short: {reason.value}"
        return self._expire_if_over()

    def _expire_if_over(self) -> list[Action]:
        last = self._fired >= self.spec.slices - 1
        if last and not self.working and not self.done and self._cancelling is None:
            self._cancelling = ReasonCode.TIME_IN_FORCE
            self._text = "schedule ended before the quantity filled"
        return []


class IcebergAlgo(Algo):
    """At most `display_quantity` on the book at a time; the next piece goes up when one fills."""

    def __init__(self, parent: ParentOrder, **resume: object) -> None:
        super().__init__(parent, **resume)  # type: ignore[arg-type]
        if not isinstance(parent.algo, Iceberg):
            raise TypeError("IcebergAlgo works an Iceberg parent")
        self.spec: Iceberg = parent.algo

    def _invalid(self) -> str:
        if self.parent.limit is None:
            return "an iceberg needs a limit"
        if self.parent.tif not in (TimeInForce.GTC, TimeInForce.DAY):
            return "an iceberg rests: time in force must be gtc or day"
        return super()._invalid()

    def _work(self, now: float) -> list[Action]:
        return [] if self.working else self._piece()

    def _on_child_filled(self, child: Hashable) -> list[Action]:
        return self._piece()

    def _piece(self) -> list[Action]:
        return self._send(self.spec.display_quantity, self.parent.limit, TimeInForce.GTC)


def rejected(parent: ParentOrder, reason: ReasonCode, text: str = "") -> ParentUpdate:
    """The REJECTED update of a parent refused before any algorithm started."""
    q = parent.quantity
    return ParentUpdate(
        parent.order_id, ExecStatus.REJECTED, q, 0, 0, None, None, None, reason, text
    )


def make_algo(parent: ParentOrder, **resume: object) -> Algo:
    """The algorithm for a parent's `algo` spec (`cum_quantity`, ... resume a restarted one)."""
    kind = {MarketableLimit: MarketableLimitAlgo, Twap: TwapAlgo, Iceberg: IcebergAlgo}
    try:
        cls = kind[type(parent.algo)]
    except KeyError:
        raise TypeError(f"unknown algo {parent.algo!r}") from None
    return cls(parent, **resume)  # type: ignore[arg-type]
