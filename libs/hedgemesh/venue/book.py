"""A price-time priority limit order book for one instrument, prices in integer ticks.

Every call returns the list of events it caused, in order, each stamped with the book's next
sequence number (1, 2, ...). Events are named tuples (fast to build, cheap to keep):

- `Accepted(seq, order_id, owner, side, price, quantity, tif)`: the order entered matching
  (`price` None for a market order);
- `Fill(seq, taker_id, taker_owner, maker_id, maker_owner, taker_side, price, quantity,
  taker_remaining, maker_remaining)`: one match, at the maker's (resting) price;
- `Cancelled(seq, order_id, owner, side, price, quantity, reason)`: `quantity` left the book
  unfilled (the order's whole remainder);
- `Rejected(seq, order_id, owner, reason)`: refused before matching, nothing changed;
- `Amended(seq, order_id, owner, side, price, remaining, previous_price, previous_remaining)`.

Sides are ints: `BUY` = +1, `SELL` = -1 (the wire's `Side.sign`). Time in force: the wire's
`TimeInForce` (or its string values): `gtc` and `day` rest (the book has no calendar: the
service expires day orders), `ioc` cancels its unfilled rest, `fok` fills whole or is cancelled
whole. A market order (`price=None`) is IOC against the book; into an empty opposite side it is
rejected `NO_LIQUIDITY`, and a rest the book cannot fill is cancelled `NO_LIQUIDITY`.

Self-trade prevention: an incoming order never trades with a resting order of the same owner;
the resting one is cancelled (`SELF_TRADE`) and matching goes on.

Order ids are any hashable value, used once per book (a repeat is rejected
`DUPLICATE_ORDER_ID`); owners are strings. Conservation holds per order and in total:
quantity = filled + resting + cancelled.

Layout, for speed: each side keeps a dict price -> `_Level` (a deque of resting orders in time
order, with a live count) and a sorted list of keys `side * price`, ascending, so the best price
of either side is the list's last element. A cancelled order is marked dead (remaining 0) and
dropped lazily when matching reaches it. A resting order is a list
`[order_id, owner, side, price, remaining, quantity]`.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Hashable, Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from hedgemesh.wire.orders import TimeInForce

BUY = 1
SELL = -1

OrderId = Hashable


class Reason(StrEnum):
    """Why an order was rejected or (part of it) cancelled; machine-readable."""

    INVALID_QUANTITY = "INVALID_QUANTITY"  # not a whole number > 0
    INVALID_PRICE = "INVALID_PRICE"  # a limit price that is not a whole number of ticks > 0
    INVALID_SIDE = "INVALID_SIDE"  # neither BUY (+1) nor SELL (-1)
    INVALID_TIME_IN_FORCE = "INVALID_TIME_IN_FORCE"
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"  # the id was used before on this book
    UNKNOWN_ORDER = "UNKNOWN_ORDER"  # cancel/amend of an order not resting
    NO_LIQUIDITY = "NO_LIQUIDITY"  # a market order and nothing (more) to fill it
    TIME_IN_FORCE = "TIME_IN_FORCE"  # IOC rest, or a FOK that could not fill whole
    CANCELLED_BY_REQUEST = "CANCELLED_BY_REQUEST"
    SELF_TRADE = "SELF_TRADE"  # resting order of the taker's own owner, cancelled


class Accepted(NamedTuple):
    seq: int
    order_id: OrderId
    owner: str
    side: int
    price: int | None
    quantity: int
    tif: str


class Fill(NamedTuple):
    seq: int
    taker_id: OrderId
    taker_owner: str
    maker_id: OrderId
    maker_owner: str
    taker_side: int
    price: int
    quantity: int
    taker_remaining: int
    maker_remaining: int


class Cancelled(NamedTuple):
    seq: int
    order_id: OrderId
    owner: str
    side: int
    price: int | None
    quantity: int
    reason: Reason


class Rejected(NamedTuple):
    seq: int
    order_id: OrderId
    owner: str
    reason: Reason


class Amended(NamedTuple):
    seq: int
    order_id: OrderId
    owner: str
    side: int
    price: int
    remaining: int
    previous_price: int
    previous_remaining: int


Event = Accepted | Fill | Cancelled | Rejected | Amended


class RestingOrder(NamedTuple):
    """An order on the book (snapshot row); `quantity`: as entered, changed by amendments."""

    order_id: OrderId
    owner: str
    side: int
    price: int
    remaining: int
    quantity: int


class BookSnapshot(NamedTuple):
    """All resting orders, best price first per side and in time order within a price."""

    instrument: str
    tick_size: float
    seq: int
    orders: list[RestingOrder]


# Built with tuple.__new__ in the hot path: skips the named tuple's Python-level __new__.
_new: Any = tuple.__new__

_GTC, _DAY, _IOC, _FOK = TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK
_TIFS = {t.value: t for t in TimeInForce}
_REST = frozenset({_GTC, _DAY})
_R_NO_LIQ = Reason.NO_LIQUIDITY
_R_TIF = Reason.TIME_IN_FORCE
_R_SELF = Reason.SELF_TRADE
_R_CANCEL = Reason.CANCELLED_BY_REQUEST
# Compact a level's deque when dead entries outnumber live ones by this margin.
_COMPACT_SLACK = 32


def tick_decimals(tick_size: float) -> int:
    """Decimal places that represent every multiple of `tick_size` (0.01 -> 2, 0.5 -> 1, 5 -> 0)."""
    if not (math.isfinite(tick_size) and tick_size > 0):
        raise ValueError(f"tick size must be finite and > 0, got {tick_size!r}")
    exponent = Decimal(repr(tick_size)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def price_to_ticks(price: float, tick_size: float, side: int) -> int:
    """A limit price in currency to whole ticks, rounding to the side's safe direction.

    A buy limit rounds down and a sell limit rounds up, so the order never pays more (buy) or
    receives less (sell) than the price asked for. A price within 1e-9 ticks of a tick is that
    tick (float noise). Raises ValueError for a non-finite or non-positive price or a bad side.

    >>> price_to_ticks(100.017, 0.01, BUY), price_to_ticks(100.017, 0.01, SELL)
    (10001, 10002)
    >>> price_to_ticks(100.01, 0.01, SELL)
    10001
    """
    if side != BUY and side != SELL:
        raise ValueError(f"side must be BUY (+1) or SELL (-1), got {side!r}")
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"price must be finite and > 0, got {price!r}")
    if not (math.isfinite(tick_size) and tick_size > 0):
        raise ValueError(f"tick size must be finite and > 0, got {tick_size!r}")
    ratio = price / tick_size
    nearest = round(ratio)
    if abs(ratio - nearest) <= 1e-9 * max(1.0, abs(ratio)):
        return int(nearest)
    return math.floor(ratio) if side == BUY else math.ceil(ratio)


def ticks_to_price(ticks: int | float, tick_size: float) -> float:
    """Whole (or average, fractional) ticks back to a price in currency, without float noise.

    >>> ticks_to_price(10001, 0.01)
    100.01
    """
    return round(ticks * tick_size, tick_decimals(tick_size) + 6)


class _Level(deque):  # type: ignore[type-arg]
    """Resting orders at one price in time order (dead ones included); `live` counts the rest."""

    __slots__ = ("live",)

    def __init__(self) -> None:
        super().__init__()
        self.live = 0


class OrderBook:
    """The order book of one instrument; see the module docstring for events and layout."""

    __slots__ = (
        "_keys",
        "_levels",
        "_orders",
        "_seen",
        "decimals",
        "instrument",
        "seq",
        "tick_size",
    )

    def __init__(self, instrument: str, tick_size: float) -> None:
        self.instrument = instrument
        self.tick_size = float(tick_size)
        self.decimals = tick_decimals(self.tick_size)
        self.seq = 0
        # Indexed by side: [1] bids, [-1] asks ([0] unused).
        self._levels: list[dict[int, _Level]] = [{}, {}, {}]
        self._keys: list[list[int]] = [[], [], []]
        self._orders: dict[OrderId, list[Any]] = {}
        self._seen: set[OrderId] = set()

    # -- prices -------------------------------------------------------------------------------

    def to_ticks(self, price: float, side: int) -> int:
        """A limit price to ticks, buy rounding down and sell up (`price_to_ticks`)."""
        return price_to_ticks(price, self.tick_size, side)

    def to_price(self, ticks: int | float) -> float:
        return round(ticks * self.tick_size, self.decimals + 6)

    # -- commands -----------------------------------------------------------------------------

    def submit(
        self,
        order_id: OrderId,
        owner: str,
        side: int,
        price: int | None,
        quantity: int,
        tif: str = _GTC,
    ) -> list[Event]:
        """Enter an order: limit at `price` ticks, or market when `price` is None.

        Returns Rejected, or Accepted followed by its Fills (and SELF_TRADE cancels of the
        owner's own resting orders it met), then a Cancelled for an unfilled IOC/FOK/market rest.
        """
        events: list[Event] = []
        seq = self.seq
        if order_id in self._seen:
            reason = Reason.DUPLICATE_ORDER_ID
        elif type(quantity) is not int or quantity <= 0:
            reason = Reason.INVALID_QUANTITY
        elif side != 1 and side != -1:
            reason = Reason.INVALID_SIDE
        elif price is not None and (type(price) is not int or price <= 0):
            reason = Reason.INVALID_PRICE
        elif tif not in _TIFS:
            reason = Reason.INVALID_TIME_IN_FORCE
        elif price is None and not self._keys[-side]:
            reason = _R_NO_LIQ
        else:
            reason = None
        if reason is not None:
            self.seq = seq + 1
            events.append(_new(Rejected, (seq + 1, order_id, owner, reason)))
            return events
        self._seen.add(order_id)
        tif = _TIFS[tif]
        if price is None and tif is not _FOK:
            tif = _IOC
        seq += 1
        events.append(_new(Accepted, (seq, order_id, owner, side, price, quantity, tif)))
        if tif is _FOK and self._fillable(owner, side, price, quantity) < quantity:
            seq += 1
            events.append(_new(Cancelled, (seq, order_id, owner, side, price, quantity, _R_TIF)))
            self.seq = seq
            return events
        self.seq = seq
        remaining = self._match(order_id, owner, side, price, quantity, events)
        if remaining:
            if price is None:
                self._cancel_rest(order_id, owner, side, price, remaining, _R_NO_LIQ, events)
            elif tif in _REST:
                self._rest([order_id, owner, side, price, remaining, quantity])
            else:
                self._cancel_rest(order_id, owner, side, price, remaining, _R_TIF, events)
        return events

    def cancel(self, order_id: OrderId, reason: Reason = _R_CANCEL) -> list[Event]:
        """Take a resting order off the book: Cancelled with its remainder, or Rejected."""
        order = self._orders.get(order_id)
        if order is None:
            self.seq += 1
            return [_new(Rejected, (self.seq, order_id, "", Reason.UNKNOWN_ORDER))]
        remaining = order[4]
        self._unrest(order)
        self.seq += 1
        return [
            _new(Cancelled, (self.seq, order_id, order[1], order[2], order[3], remaining, reason))
        ]

    def amend(
        self, order_id: OrderId, *, price: int | None = None, quantity: int | None = None
    ) -> list[Event]:
        """Change a resting order's price and/or remaining quantity.

        Lowering the quantity at the same price keeps time priority; a new price or a larger
        quantity loses it (the order re-enters at the back, and matches first if it now crosses:
        the Fills follow the Amended event). Quantity is the new remaining (> 0).
        """
        order = self._orders.get(order_id)
        owner = order[1] if order is not None else ""
        reason = None
        if order is None:
            reason = Reason.UNKNOWN_ORDER
        elif quantity is not None and (type(quantity) is not int or quantity <= 0):
            reason = Reason.INVALID_QUANTITY
        elif price is not None and (type(price) is not int or price <= 0):
            reason = Reason.INVALID_PRICE
        if reason is not None or order is None:
            self.seq += 1
            return [_new(Rejected, (self.seq, order_id, owner, reason))]
        _, owner, side, old_price, old_remaining, entered = order
        new_price = old_price if price is None else price
        new_remaining = old_remaining if quantity is None else quantity
        self.seq += 1
        events: list[Event] = [
            _new(
                Amended,
                (
                    self.seq,
                    order_id,
                    owner,
                    side,
                    new_price,
                    new_remaining,
                    old_price,
                    old_remaining,
                ),
            )
        ]
        entered += new_remaining - old_remaining
        if new_price == old_price and new_remaining <= old_remaining:
            order[4] = new_remaining
            order[5] = entered
            return events
        self._unrest(order)
        remaining = self._match(order_id, owner, side, new_price, new_remaining, events)
        if remaining:
            self._rest([order_id, owner, side, new_price, remaining, entered])
        return events

    # -- queries ------------------------------------------------------------------------------

    def best_bid(self) -> int | None:
        keys = self._keys[BUY]
        return keys[-1] if keys else None

    def best_ask(self) -> int | None:
        keys = self._keys[SELL]
        return -keys[-1] if keys else None

    def depth(self, side: int, levels: int | None = None) -> list[tuple[int, int]]:
        """(price, total remaining) per price of one side, best first, at most `levels`."""
        keys = self._keys[side]
        book = self._levels[side]
        out = []
        for key in reversed(keys[-levels:] if levels else keys):
            price = side * key
            out.append((price, sum(o[4] for o in book[price])))
        return out

    def order(self, order_id: OrderId) -> RestingOrder | None:
        """The resting order with this id, or None once it is filled, cancelled or unknown."""
        order = self._orders.get(order_id)
        return None if order is None else RestingOrder(*order)

    def __len__(self) -> int:
        """Number of resting orders."""
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def resting(self) -> list[RestingOrder]:
        """Every resting order: bids then asks, best price first, time order within a price."""
        out: list[RestingOrder] = []
        for side in (BUY, SELL):
            book = self._levels[side]
            for key in reversed(self._keys[side]):
                out.extend(RestingOrder(*o) for o in book[side * key] if o[4])
        return out

    def snapshot(self) -> BookSnapshot:
        return BookSnapshot(self.instrument, self.tick_size, self.seq, self.resting())

    @classmethod
    def restore(
        cls,
        instrument: str,
        tick_size: float,
        orders: Iterable[RestingOrder | tuple[Any, ...]],
        seq: int = 0,
    ) -> OrderBook:
        """A book holding `orders` (in time order within a price), without matching.

        Raises ValueError for a repeated id, an invalid order, or orders that would cross.
        """
        book = cls(instrument, tick_size)
        book.seq = seq
        for row in orders:
            order_id, owner, side, price, remaining, quantity = row
            if order_id in book._seen:
                raise ValueError(f"order id {order_id!r} repeats")
            if side not in (BUY, SELL) or type(price) is not int or price <= 0:
                raise ValueError(f"order {order_id!r}: bad side {side!r} or price {price!r}")
            if type(remaining) is not int or not 0 < remaining <= quantity:
                raise ValueError(f"order {order_id!r}: remaining {remaining!r} of {quantity!r}")
            book._seen.add(order_id)
            book._rest([order_id, owner, side, price, remaining, quantity])
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            raise ValueError(f"restored book is crossed: bid {bid} >= ask {ask}")
        return book

    # -- internals ----------------------------------------------------------------------------

    def _match(
        self,
        order_id: OrderId,
        owner: str,
        side: int,
        price: int | None,
        remaining: int,
        events: list[Event],
    ) -> int:
        """Match against the opposite side up to `price`; appends events, returns the rest."""
        keys = self._keys[-side]
        if not keys:
            return remaining
        # Opposite keys are -side * price; a level is acceptable iff key >= bound.
        bound = -side * price if price is not None else -(1 << 62)
        if keys[-1] < bound:
            return remaining
        levels = self._levels[-side]
        orders = self._orders
        seq = self.seq
        while keys:
            key = keys[-1]
            if key < bound:
                break
            level_price = -side * key
            level = levels[level_price]
            while level:
                maker = level[0]
                left = maker[4]
                if not left:
                    level.popleft()
                    continue
                if maker[1] == owner:
                    maker[4] = 0
                    level.popleft()
                    level.live -= 1
                    del orders[maker[0]]
                    seq += 1
                    events.append(
                        _new(
                            Cancelled,
                            (seq, maker[0], owner, -side, level_price, left, _R_SELF),
                        )
                    )
                    continue
                quantity = left if left <= remaining else remaining
                remaining -= quantity
                left -= quantity
                maker[4] = left
                seq += 1
                fill = (seq, order_id, owner, maker[0], maker[1], side, level_price, quantity)
                events.append(_new(Fill, (*fill, remaining, left)))
                if not left:
                    level.popleft()
                    level.live -= 1
                    del orders[maker[0]]
                if not remaining:
                    break
            if not level.live:
                keys.pop()
                del levels[level_price]
            if not remaining:
                break
        self.seq = seq
        return remaining

    def _fillable(self, owner: str, side: int, price: int | None, wanted: int) -> int:
        """Quantity available to `owner` up to `price` on the opposite side (at most `wanted`)."""
        keys = self._keys[-side]
        levels = self._levels[-side]
        bound = -side * price if price is not None else -(1 << 62)
        total = 0
        for key in reversed(keys):
            if key < bound:
                break
            for o in levels[-side * key]:
                if o[4] and o[1] != owner:
                    total += o[4]
                    if total >= wanted:
                        return total
        return total

    def _rest(self, order: list[Any]) -> None:
        side, price = order[2], order[3]
        book = self._levels[side]
        level = book.get(price)
        if level is None:
            level = book[price] = _Level()
            insort(self._keys[side], side * price)
        level.append(order)
        level.live += 1
        self._orders[order[0]] = order

    def _unrest(self, order: list[Any]) -> None:
        """Remove a resting order (lazily from its level's deque)."""
        side, price = order[2], order[3]
        order[4] = 0
        del self._orders[order[0]]
        book = self._levels[side]
        level = book[price]
        level.live -= 1
        if not level.live:
            keys = self._keys[side]
            del keys[bisect_left(keys, side * price)]
            del book[price]
        elif level[0] is order:
            level.popleft()
        elif len(level) > 2 * level.live + _COMPACT_SLACK:
            live = [o for o in level if o[4]]
            level.clear()
            level.extend(live)

    def _cancel_rest(
        self,
        order_id: OrderId,
        owner: str,
        side: int,
        price: int | None,
        remaining: int,
        reason: Reason,
        events: list[Event],
    ) -> None:
        self.seq += 1
        events.append(_new(Cancelled, (self.seq, order_id, owner, side, price, remaining, reason)))
