"""Order book properties under random flows (hypothesis), and an independent naive oracle."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.venue.book import (
    BUY,
    SELL,
    Accepted,
    Amended,
    Cancelled,
    Fill,
    OrderBook,
    Reason,
    Rejected,
)

OWNERS = ("a", "b", "c")
TIFS = ("gtc", "ioc", "fok", "day")

submit = st.tuples(
    st.just("submit"),
    st.sampled_from(OWNERS),
    st.sampled_from((BUY, SELL)),
    st.one_of(st.none(), st.integers(95, 105)),
    st.integers(1, 12),
    st.sampled_from(TIFS),
)
cancel = st.tuples(st.just("cancel"), st.integers(0, 60))
amend = st.tuples(
    st.just("amend"),
    st.integers(0, 60),
    st.one_of(st.none(), st.integers(95, 105)),
    st.integers(1, 12),
)
flows = st.lists(st.one_of(submit, submit, submit, cancel, amend), max_size=60)


def run_flow(flow: list[tuple]) -> tuple[OrderBook, list, dict[int, tuple]]:
    """Apply a flow (order ids are message indices); the book, all events, the accepted orders."""
    book = OrderBook("X", 0.01)
    events: list = []
    orders: dict[int, tuple] = {}
    for i, msg in enumerate(flow):
        if msg[0] == "submit":
            _, owner, side, price, qty, tif = msg
            out = book.submit(i, owner, side, price, qty, tif)
            if isinstance(out[0], Accepted):
                orders[i] = (owner, side, price, qty, tif)
            else:
                assert len(out) == 1 and isinstance(out[0], Rejected)
            events += out
        elif msg[0] == "cancel":
            events += book.cancel(msg[1])
        else:
            events += book.amend(msg[1], price=msg[2], quantity=msg[3])
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask, "crossed at rest"
    return book, events, orders


class NaiveBook:
    """The oracle: a flat list of resting orders, sorted afresh for every match."""

    def __init__(self) -> None:
        self.resting: list[list] = []  # [id, owner, side, price, remaining, quantity, time]
        self.seen: set = set()
        self.clock = 0

    def _candidates(self, side: int, price: int | None) -> list[list]:
        opposite = [
            o
            for o in self.resting
            if o[2] == -side and (price is None or side * o[3] <= side * price)
        ]
        return sorted(opposite, key=lambda o: (side * o[3], o[6]))

    def _match(self, oid, owner, side, price, remaining) -> tuple[list, int]:
        out = []
        for maker in self._candidates(side, price):
            if not remaining:
                break
            if maker[1] == owner:
                self.resting.remove(maker)
                out.append(("cancel", maker[0], maker[4], Reason.SELF_TRADE))
                continue
            q = min(maker[4], remaining)
            remaining -= q
            maker[4] -= q
            out.append(("fill", oid, maker[0], maker[3], q, remaining, maker[4]))
            if not maker[4]:
                self.resting.remove(maker)
        return out, remaining

    def _rest(self, order: list) -> None:
        self.clock += 1
        self.resting.append([*order, self.clock])

    def submit(self, oid, owner, side, price, qty, tif) -> list:
        if oid in self.seen:
            return [("reject", oid, Reason.DUPLICATE_ORDER_ID)]
        if price is None and not any(o[2] == -side for o in self.resting):
            return [("reject", oid, Reason.NO_LIQUIDITY)]
        self.seen.add(oid)
        out: list = [("accept", oid)]
        if tif == "fok":
            available = sum(o[4] for o in self._candidates(side, price) if o[1] != owner)
            if available < qty:
                return [*out, ("cancel", oid, qty, Reason.TIME_IN_FORCE)]
        fills, rest = self._match(oid, owner, side, price, qty)
        out += fills
        if rest and price is None:
            out.append(("cancel", oid, rest, Reason.NO_LIQUIDITY))
        elif rest and tif in ("gtc", "day"):
            self._rest([oid, owner, side, price, rest, qty])
        elif rest:
            out.append(("cancel", oid, rest, Reason.TIME_IN_FORCE))
        return out

    def find(self, oid) -> list | None:
        return next((o for o in self.resting if o[0] == oid), None)

    def cancel(self, oid) -> list:
        order = self.find(oid)
        if order is None:
            return [("reject", oid, Reason.UNKNOWN_ORDER)]
        self.resting.remove(order)
        return [("cancel", oid, order[4], Reason.CANCELLED_BY_REQUEST)]

    def amend(self, oid, price, qty) -> list:
        order = self.find(oid)
        if order is None:
            return [("reject", oid, Reason.UNKNOWN_ORDER)]
        new_price = order[3] if price is None else price
        out: list = [("amend", oid, new_price, qty)]
        if new_price == order[3] and qty <= order[4]:
            order[4] = qty
            return out
        self.resting.remove(order)
        fills, rest = self._match(oid, order[1], order[2], new_price, qty)
        if rest:
            self._rest([oid, order[1], order[2], new_price, rest, order[5]])
        return out + fills


def normalise(event) -> tuple:
    """An engine event in the oracle's shape."""
    match event:
        case Accepted():
            return ("accept", event.order_id)
        case Fill():
            return (
                "fill",
                event.taker_id,
                event.maker_id,
                event.price,
                event.quantity,
                event.taker_remaining,
                event.maker_remaining,
            )
        case Cancelled():
            return ("cancel", event.order_id, event.quantity, event.reason)
        case Rejected():
            return ("reject", event.order_id, event.reason)
        case Amended():
            return ("amend", event.order_id, event.price, event.remaining)
    raise AssertionError(event)


@settings(max_examples=300, deadline=None)
@given(flows)
def test_given_random_flow_then_events_match_a_naive_price_time_oracle(flow) -> None:
    book = OrderBook("X", 0.01)
    oracle = NaiveBook()
    for i, msg in enumerate(flow):
        if msg[0] == "submit":
            got = book.submit(i, *msg[1:])
            want = oracle.submit(i, *msg[1:])
        elif msg[0] == "cancel":
            got, want = book.cancel(msg[1]), oracle.cancel(msg[1])
        else:
            got, want = book.amend(msg[1], price=msg[2], quantity=msg[3]), oracle.amend(*msg[1:])
        assert [normalise(e) for e in got] == want
    resting = sorted((o.order_id, o.remaining) for o in book.resting())
    assert resting == sorted((o[0], o[4]) for o in oracle.resting)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(submit, submit, cancel), max_size=80))
def test_given_random_flow_then_quantity_is_conserved_per_order_and_in_total(flow) -> None:
    book, events, orders = run_flow(flow)
    filled: dict = defaultdict(int)
    cancelled: dict = defaultdict(int)
    for e in events:
        if isinstance(e, Fill):
            filled[e.taker_id] += e.quantity
            filled[e.maker_id] += e.quantity
        elif isinstance(e, Cancelled):
            cancelled[e.order_id] += e.quantity
    resting = {o.order_id: o.remaining for o in book.resting()}
    total_in = total_out = 0
    for oid, (_, _, _, qty, _) in orders.items():
        out = filled[oid] + resting.get(oid, 0) + cancelled[oid]
        assert out == qty, f"order {oid}: {qty} in, {out} accounted for"
        total_in += qty
        total_out += out
    assert total_in == total_out
    assert set(filled) | set(cancelled) | set(resting) <= set(orders)  # rejected: no trace


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(submit, submit, cancel), max_size=80))
def test_given_random_flow_then_fills_respect_both_limits_and_cancels_never_fill(flow) -> None:
    _, events, orders = run_flow(flow)
    gone: set = set()
    for e in events:
        if isinstance(e, Fill):
            assert e.taker_id not in gone and e.maker_id not in gone, "a cancelled order filled"
            _, taker_side, taker_limit, _, _ = orders[e.taker_id]
            _, maker_side, maker_limit, _, _ = orders[e.maker_id]
            assert maker_side == -taker_side and e.taker_owner != e.maker_owner
            assert e.price == maker_limit  # makers rest at their limit, fills at the maker's
            if taker_limit is not None:
                assert taker_side * e.price <= taker_side * taker_limit
        elif isinstance(e, Cancelled):
            gone.add(e.order_id)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(submit, submit, cancel), max_size=80))
def test_given_ioc_fok_or_market_orders_then_they_never_rest(flow) -> None:
    book, _, orders = run_flow(flow)
    for o in book.resting():
        _, _, price, _, tif = orders[o.order_id]
        assert price is not None and tif in ("gtc", "day")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(submit, submit, cancel, amend), max_size=60), flows)
def test_given_snapshot_restore_then_the_same_flow_gives_the_same_events(head, tail) -> None:
    book, _, _ = run_flow(head)
    snap = book.snapshot()
    copy = OrderBook.restore(snap.instrument, snap.tick_size, snap.orders, snap.seq)
    offset = len(head) + 1000  # fresh ids: restore forgets ids of finished orders by design
    for i, msg in enumerate(tail):
        if msg[0] == "submit":
            a, b = book.submit(offset + i, *msg[1:]), copy.submit(offset + i, *msg[1:])
        elif msg[0] == "cancel":
            a, b = book.cancel(msg[1]), copy.cancel(msg[1])
        else:
            a = book.amend(msg[1], price=msg[2], quantity=msg[3])
            b = copy.amend(msg[1], price=msg[2], quantity=msg[3])
        assert a == b
