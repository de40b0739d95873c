"""The venue in one object: books, their liquidity providers and working parent orders.

`Venue` wires `book`, `liquidity` and `algos` together synchronously, so the execution service
(or a test, or the backtester) only turns messages into calls and returns into reports:

    venue = Venue()
    venue.add_book("SPX", 0.01, LiquidityParams(top_size=50), seed=7)
    venue.mark("SPX", now, fair=5000.0, vol=0.18)             # LP re-quotes
    updates = venue.submit("SPX", ParentOrder.from_wire(order, 0.01), now)
    updates += venue.on_time(now + 1.0)                        # slices, refills; see next_wakeup()
    updates += venue.cancel(order.client_order_id, now + 2.0)

Every call returns the `ParentUpdate`s it caused, in order. A child order is sent to the book at
once; its events go to the book's liquidity provider (what it lost) and to the parent's
algorithm (fills, closes), whose follow-up actions run before the call returns. A parent leaves
`working` when it is filled, cancelled or rejected. Book events are also passed to `on_event`
when given (for persistence or audit).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Hashable

from hedgemesh.venue.algos import (
    Action,
    Algo,
    CancelChild,
    ParentOrder,
    ParentUpdate,
    PlaceChild,
    make_algo,
    rejected,
)
from hedgemesh.venue.book import Cancelled, Event, Fill, OrderBook, Rejected
from hedgemesh.venue.liquidity import LiquidityParams, LiquidityProvider
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.orders import ExecStatus

LP_OWNER = "lp"


class Venue:
    """Order books per instrument, each with an optional liquidity provider, and the algos."""

    def __init__(self, on_event: Callable[[str, Event], None] | None = None) -> None:
        self.books: dict[str, OrderBook] = {}
        self.providers: dict[str, LiquidityProvider] = {}
        self.working: dict[str, Algo] = {}  # parent id -> its algorithm
        self._symbol: dict[str, str] = {}  # parent id -> instrument
        self._parent: dict[Hashable, str] = {}  # child id -> parent id
        self._on_event = on_event

    def add_book(
        self,
        symbol: str,
        tick_size: float,
        liquidity: LiquidityParams | None = None,
        seed: int = 0,
    ) -> OrderBook:
        """A book for `symbol`, quoted by a liquidity provider when `liquidity` is given."""
        if symbol in self.books:
            raise ValueError(f"{symbol} already has a book")
        book = self.books[symbol] = OrderBook(symbol, tick_size)
        if liquidity is not None:
            self.providers[symbol] = LiquidityProvider(book, LP_OWNER, liquidity, seed)
        return book

    def mark(
        self,
        symbol: str,
        now: float,
        *,
        fair: float | None = None,
        vol: float | None = None,
        drought: float | None = None,
    ) -> list[ParentUpdate]:
        """New fair value / volatility / drought for `symbol`'s provider, which re-quotes."""
        lp = self.providers[symbol]
        return self._route(symbol, lp.update(now, fair=fair, vol=vol, drought=drought), now, False)

    def submit(
        self, symbol: str, parent: ParentOrder, now: float, **resume: object
    ) -> list[ParentUpdate]:
        """Start working a parent order (`resume`: see `make_algo`)."""
        if symbol not in self.books or parent.order_id in self.working:
            if symbol in self.books:
                return [rejected(parent, ReasonCode.DUPLICATE, "parent order id is working")]
            return [rejected(parent, ReasonCode.UNKNOWN_INSTRUMENT, f"no book for {symbol}")]
        algo = make_algo(parent, **resume)
        self.working[parent.order_id] = algo
        self._symbol[parent.order_id] = symbol
        return self._run(symbol, algo.start(now), now)

    def cancel(
        self, parent_id: str, now: float, reason: ReasonCode = ReasonCode.CANCELLED_BY_REQUEST
    ) -> list[ParentUpdate]:
        """Cancel a working parent; [] when it is not working (finished or unknown)."""
        algo = self.working.get(parent_id)
        if algo is None:
            return []
        return self._run(self._symbol[parent_id], algo.cancel(reason), now)

    def direct(
        self,
        symbol: str,
        order_id: Hashable,
        owner: str,
        side: int,
        price: int | None,
        quantity: int,
        now: float,
        tif: str = "ioc",
    ) -> list[ParentUpdate]:
        """Another trader's order straight to the book (noise or client flow, a test's hand).

        The provider learns what it took and parents whose children it met are updated.
        """
        events = self.books[symbol].submit(order_id, owner, side, price, quantity, tif)
        return self._route(symbol, events, now, True)

    def on_time(self, now: float, refill: Collection[str] | None = None) -> list[ParentUpdate]:
        """Refill and re-quote every provider (or those of `refill`), then fire every algorithm
        timer due by `now`."""
        updates: list[ParentUpdate] = []
        for symbol, lp in self.providers.items():
            if refill is None or symbol in refill:
                updates += self._route(symbol, lp.update(now), now, False)
        for parent_id, algo in list(self.working.items()):
            wake = algo.next_wakeup
            if parent_id in self.working and wake is not None and wake <= now:
                updates += self._run(self._symbol[parent_id], algo.on_time(now), now)
        return updates

    def working_symbols(self) -> set[str]:
        """The books where a parent order works."""
        return set(self._symbol.values())

    def next_wakeup(self) -> float | None:
        """The earliest algorithm timer (providers refill whenever `on_time` is called)."""
        times = [t for a in self.working.values() if (t := a.next_wakeup) is not None]
        return min(times, default=None)

    # -- internals -----------------------------------------------------------------------------

    def _run(self, symbol: str, actions: list[Action], now: float) -> list[ParentUpdate]:
        book = self.books[symbol]
        queue = deque(actions)
        updates: list[ParentUpdate] = []
        while queue:
            action = queue.popleft()
            if isinstance(action, ParentUpdate):
                updates.append(action)
                if action.status in (ExecStatus.FILLED, ExecStatus.CANCELLED, ExecStatus.REJECTED):
                    self._close(action.parent_id)
                continue
            if isinstance(action, PlaceChild):
                parent_id = action.child_id.rsplit("/", 1)[0]
                self._parent[action.child_id] = parent_id
                events = book.submit(
                    action.child_id,
                    action.owner,
                    action.side,
                    action.price,
                    action.quantity,
                    action.tif,
                )
            else:
                assert isinstance(action, CancelChild)
                events = book.cancel(action.child_id)
            queue.extend(self._dispatch(symbol, events, now, True))
        return updates

    def _route(
        self, symbol: str, events: list[Event], now: float, tell_lp: bool
    ) -> list[ParentUpdate]:
        return self._run(symbol, self._dispatch(symbol, events, now, tell_lp), now)

    def _dispatch(
        self, symbol: str, events: list[Event], now: float, tell_lp: bool
    ) -> list[Action]:
        """Hand book events to the provider (unless it made them) and to the parents involved."""
        lp = self.providers.get(symbol)
        if tell_lp and lp is not None:
            lp.observe(events, now)
        actions: list[Action] = []
        for e in events:
            if self._on_event is not None:
                self._on_event(symbol, e)
            if isinstance(e, Fill):
                ids: tuple[Hashable, ...] = (e.taker_id, e.maker_id)
            elif isinstance(e, Cancelled | Rejected):
                ids = (e.order_id,)
            else:
                continue
            for child in ids:
                algo = self.working.get(self._parent.get(child, ""))
                if algo is not None and algo.owns(child):
                    actions += algo.on_event(e, now)
        return actions

    def _close(self, parent_id: str) -> None:
        algo = self.working.pop(parent_id, None)
        self._symbol.pop(parent_id, None)
        for child in algo.child_ids() if algo is not None else ():
            self._parent.pop(child, None)
