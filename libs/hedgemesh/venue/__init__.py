"""The simulated venue's domain: order books, synthetic liquidity, execution algorithms. No I/O.

`book` — `OrderBook(instrument, tick_size)`, one per instrument, prices in integer ticks:

    book = OrderBook("SPX", 0.01)
    px = book.to_ticks(5000.017, BUY)              # 500001: buy limits round down, sells up
    events = book.submit("o1", "lp", SELL, 500002, 10)            # GTC limit: Accepted
    events = book.submit("o2", "desk", BUY, 500002, 4, "ioc")     # Accepted, Fill, ...
    events = book.submit("o3", "desk", BUY, None, 4)              # market (IOC)
    events = book.amend("o1", price=500003, quantity=1)           # Amended (+ Fills)
    events = book.cancel("o1")                                    # Cancelled or Rejected
    snap = book.snapshot()
    again = OrderBook.restore(snap.instrument, snap.tick_size, snap.orders, snap.seq)

Every call returns the events it caused, in order, each with the book's next `seq`:
`Accepted`, `Fill` (taker and maker ids and owners, price in ticks at the maker's price,
quantity, both remainders), `Cancelled` (quantity leaving unfilled, `Reason`), `Rejected`
(`Reason`: INVALID_QUANTITY, INVALID_PRICE, INVALID_SIDE, INVALID_TIME_IN_FORCE,
DUPLICATE_ORDER_ID, UNKNOWN_ORDER, NO_LIQUIDITY), `Amended`. Sides are `BUY` = +1 and
`SELL` = -1 (`wire.Side.sign`); time in force is `wire.TimeInForce` or its value (`gtc`,
`day` rest; `ioc`, `fok` never rest). Market orders (`price=None`) into an empty side are
rejected NO_LIQUIDITY; their unfillable rest is cancelled NO_LIQUIDITY, an IOC's or FOK's
TIME_IN_FORCE. An incoming order never trades with its owner's resting orders: those are
cancelled SELF_TRADE.

`liquidity` — `LiquidityProvider(book, owner, LiquidityParams(...), seed)` quotes a ladder around
a fair value passed in (`update(now, fair=, vol=, drought=)`), wider and thinner with volatility
and in a drought; depth it loses (`observe(events, now)`) comes back with a half-life.

`algos` — `make_algo(ParentOrder)`: marketable limit, TWAP, iceberg as state machines
(`start`, `on_event`, `on_time`, `cancel`) emitting `PlaceChild` / `CancelChild` /
`ParentUpdate` (wire `ExecStatus` and `ReasonCode`). `ParentOrder.from_wire(order, tick)`.

`simulator` — `Venue`: books, providers and algos wired together synchronously; every call
returns the `ParentUpdate`s it caused. The execution service wraps this. See docs/venue.md.
"""

from hedgemesh.venue import algos, book, liquidity, simulator
from hedgemesh.venue.algos import (
    Algo,
    CancelChild,
    ParentOrder,
    ParentUpdate,
    PlaceChild,
    make_algo,
)
from hedgemesh.venue.book import (
    BUY,
    SELL,
    Accepted,
    Amended,
    BookSnapshot,
    Cancelled,
    Event,
    Fill,
    OrderBook,
    Reason,
    Rejected,
    RestingOrder,
    price_to_ticks,
    ticks_to_price,
)
from hedgemesh.venue.liquidity import LiquidityParams, LiquidityProvider, ladder
from hedgemesh.venue.simulator import Venue

__all__ = [
    "BUY",
    "SELL",
    "Accepted",
    "Algo",
    "Amended",
    "BookSnapshot",
    "CancelChild",
    "Cancelled",
    "Event",
    "Fill",
    "LiquidityParams",
    "LiquidityProvider",
    "OrderBook",
    "ParentOrder",
    "ParentUpdate",
    "PlaceChild",
    "Reason",
    "Rejected",
    "RestingOrder",
    "Venue",
    "algos",
    "book",
    "ladder",
    "liquidity",
    "make_algo",
    "price_to_ticks",
    "simulator",
    "ticks_to_price",
]
