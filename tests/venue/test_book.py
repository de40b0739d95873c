"""Order book: unit tests of matching, events, reasons, ticks, snapshot and restore."""

from __future__ import annotations

import doctest

import pytest

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
    RestingOrder,
    price_to_ticks,
    tick_decimals,
    ticks_to_price,
)
from hedgemesh.wire.orders import TimeInForce


@pytest.fixture
def book() -> OrderBook:
    return OrderBook("SPX", 0.01)


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def test_given_buy_and_sell_limits_then_prices_round_to_the_safe_side() -> None:
    assert price_to_ticks(100.017, 0.01, BUY) == 10001
    assert price_to_ticks(100.017, 0.01, SELL) == 10002
    assert price_to_ticks(100.01, 0.01, BUY) == price_to_ticks(100.01, 0.01, SELL) == 10001
    assert price_to_ticks(0.3, 0.1, BUY) == 3  # 0.3 / 0.1 = 2.9999999999999996
    assert price_to_ticks(5002.5, 5.0, BUY) == 1000
    assert price_to_ticks(5002.5, 5.0, SELL) == 1001


@pytest.mark.parametrize("price", [0.0, -1.0, float("nan"), float("inf")])
def test_given_non_positive_or_non_finite_price_then_conversion_refuses(price: float) -> None:
    with pytest.raises(ValueError):
        price_to_ticks(price, 0.01, BUY)


def test_given_bad_side_or_tick_then_conversion_refuses() -> None:
    with pytest.raises(ValueError):
        price_to_ticks(1.0, 0.01, 0)
    with pytest.raises(ValueError):
        price_to_ticks(1.0, 0.0, BUY)


def test_given_ticks_then_price_has_no_float_noise() -> None:
    assert ticks_to_price(10001, 0.01) == 100.01
    assert ticks_to_price(3, 0.1) == 0.3
    assert tick_decimals(0.05) == 2
    assert tick_decimals(5.0) == 0


def test_given_resting_ask_when_buy_crosses_then_fill_at_maker_price(book: OrderBook) -> None:
    book.submit("a", "lp", SELL, 101, 10)
    events = book.submit("b", "desk", BUY, 105, 4)
    assert events == [
        Accepted(2, "b", "desk", BUY, 105, 4, TimeInForce.GTC),
        Fill(3, "b", "desk", "a", "lp", BUY, 101, 4, 0, 6),
    ]
    assert book.best_ask() == 101
    assert book.best_bid() is None
    assert book.order("a") == RestingOrder("a", "lp", SELL, 101, 6, 10)


def test_given_earlier_order_at_same_price_then_it_fills_first(book: OrderBook) -> None:
    book.submit("first", "x", SELL, 100, 5)
    book.submit("second", "y", SELL, 100, 5)
    book.submit("better", "z", SELL, 99, 1)
    fills = [e for e in book.submit("t", "desk", BUY, 100, 8) if isinstance(e, Fill)]
    assert [(f.maker_id, f.price, f.quantity) for f in fills] == [
        ("better", 99, 1),
        ("first", 100, 5),
        ("second", 100, 2),
    ]


def test_given_ioc_then_rest_is_cancelled_not_rested(book: OrderBook) -> None:
    book.submit("a", "lp", SELL, 100, 3)
    events = book.submit("b", "desk", BUY, 100, 5, TimeInForce.IOC)
    assert kinds(events) == ["Accepted", "Fill", "Cancelled"]
    assert events[-1].quantity == 2
    assert events[-1].reason is Reason.TIME_IN_FORCE
    assert "b" not in book
    assert book.best_bid() is None


def test_given_market_order_into_empty_side_then_rejected_no_liquidity(book: OrderBook) -> None:
    book.submit("bid", "lp", BUY, 100, 3)
    assert book.submit("m", "desk", BUY, None, 5) == [Rejected(2, "m", "desk", Reason.NO_LIQUIDITY)]


def test_given_market_order_larger_than_book_then_rest_cancelled_no_liquidity(
    book: OrderBook,
) -> None:
    book.submit("a1", "lp", SELL, 100, 3)
    book.submit("a2", "lp", SELL, 140, 3)
    events = book.submit("m", "desk", BUY, None, 10)
    assert kinds(events) == ["Accepted", "Fill", "Fill", "Cancelled"]
    assert events[0].tif is TimeInForce.IOC
    assert [e.price for e in events[1:3]] == [100, 140]
    assert events[-1] == Cancelled(6, "m", "desk", BUY, None, 4, Reason.NO_LIQUIDITY)
    assert book.best_ask() is None


def test_given_limit_then_fills_never_beyond_limit(book: OrderBook) -> None:
    book.submit("a1", "lp", SELL, 100, 3)
    book.submit("a2", "lp", SELL, 102, 3)
    events = book.submit("b", "desk", BUY, 101, 10)
    assert [e.price for e in events if isinstance(e, Fill)] == [100]
    assert book.best_bid() == 101
    assert book.best_ask() == 102


def test_given_fok_that_cannot_fill_whole_then_nothing_fills(book: OrderBook) -> None:
    book.submit("a", "lp", SELL, 100, 3)
    events = book.submit("f", "desk", BUY, 100, 4, "fok")
    assert kinds(events) == ["Accepted", "Cancelled"]
    assert events[-1].reason is Reason.TIME_IN_FORCE and events[-1].quantity == 4
    assert book.order("a").remaining == 3
    events = book.submit("g", "desk", BUY, 100, 3, "fok")
    assert kinds(events) == ["Accepted", "Fill"]


@pytest.mark.parametrize(
    ("side", "price", "quantity", "tif", "reason"),
    [
        (BUY, 100, 0, "gtc", Reason.INVALID_QUANTITY),
        (BUY, 100, -3, "gtc", Reason.INVALID_QUANTITY),
        (BUY, 100, 2.5, "gtc", Reason.INVALID_QUANTITY),
        (BUY, 100, True, "gtc", Reason.INVALID_QUANTITY),
        (BUY, 0, 1, "gtc", Reason.INVALID_PRICE),
        (BUY, 100.5, 1, "gtc", Reason.INVALID_PRICE),
        (0, 100, 1, "gtc", Reason.INVALID_SIDE),
        (BUY, 100, 1, "gfd", Reason.INVALID_TIME_IN_FORCE),
    ],
)
def test_given_invalid_order_then_rejected_with_reason_and_book_unchanged(
    book: OrderBook, side, price, quantity, tif, reason
) -> None:
    book.submit("a", "lp", SELL, 100, 3)
    assert book.submit("x", "desk", side, price, quantity, tif) == [
        Rejected(2, "x", "desk", reason)
    ]
    assert book.resting() == [RestingOrder("a", "lp", SELL, 100, 3, 3)]


def test_given_used_order_id_then_duplicate_rejected_even_after_it_filled(book: OrderBook) -> None:
    book.submit("a", "lp", SELL, 100, 3)
    assert book.submit("a", "lp", SELL, 101, 3)[0].reason is Reason.DUPLICATE_ORDER_ID
    book.submit("b", "desk", BUY, 100, 3)
    assert book.submit("a", "lp", SELL, 101, 3)[0].reason is Reason.DUPLICATE_ORDER_ID


def test_given_cancel_then_order_leaves_and_never_fills(book: OrderBook) -> None:
    book.submit("a", "lp", SELL, 100, 3)
    book.submit("b", "lp2", SELL, 100, 2)
    assert book.cancel("a") == [Cancelled(3, "a", "lp", SELL, 100, 3, Reason.CANCELLED_BY_REQUEST)]
    fills = [e for e in book.submit("t", "desk", BUY, 100, 5) if isinstance(e, Fill)]
    assert [(f.maker_id, f.quantity) for f in fills] == [("b", 2)]
    assert book.cancel("a") == [Rejected(6, "a", "", Reason.UNKNOWN_ORDER)]


def test_given_same_owner_on_both_sides_then_no_self_trade(book: OrderBook) -> None:
    book.submit("own", "lp", SELL, 100, 3)
    book.submit("other", "x", SELL, 100, 3)
    events = book.submit("t", "lp", BUY, 100, 4)
    assert kinds(events) == ["Accepted", "Cancelled", "Fill"]
    assert events[1].reason is Reason.SELF_TRADE and events[1].order_id == "own"
    assert events[2].maker_id == "other"
    assert book.best_bid() == 100  # one unit rests


def test_given_amend_down_then_priority_kept_and_amend_up_loses_it(book: OrderBook) -> None:
    book.submit("a", "x", SELL, 100, 5)
    book.submit("b", "y", SELL, 100, 5)
    assert book.amend("a", quantity=2)[0] == Amended(3, "a", "x", SELL, 100, 2, 100, 5)
    fills = [e for e in book.submit("t", "d", BUY, 100, 3) if isinstance(e, Fill)]
    assert [(f.maker_id, f.quantity) for f in fills] == [("a", 2), ("b", 1)]
    book.submit("c", "z", SELL, 100, 5)
    book.amend("b", quantity=9)  # up: behind c now
    fills = [e for e in book.submit("u", "d", BUY, 100, 6) if isinstance(e, Fill)]
    assert [(f.maker_id, f.quantity) for f in fills] == [("c", 5), ("b", 1)]


def test_given_amend_to_crossing_price_then_it_matches(book: OrderBook) -> None:
    book.submit("ask", "x", SELL, 102, 5)
    book.submit("bid", "y", BUY, 100, 3)
    events = book.amend("bid", price=102)
    assert kinds(events) == ["Amended", "Fill"]
    assert events[1].quantity == 3 and events[1].price == 102
    assert "bid" not in book
    assert book.amend("bid", price=101)[0].reason is Reason.UNKNOWN_ORDER
    assert book.amend("ask", quantity=0)[0].reason is Reason.INVALID_QUANTITY
    assert book.amend("ask", price=-1)[0].reason is Reason.INVALID_PRICE


def test_given_many_cancels_behind_the_touch_then_level_stays_consistent(book: OrderBook) -> None:
    book.submit("head", "x", SELL, 100, 1)
    for i in range(200):
        book.submit(i, "y", SELL, 100, 1)
    for i in range(199):
        book.cancel(i)
    assert book.depth(SELL) == [(100, 2)]
    fills = [e for e in book.submit("t", "d", BUY, 100, 5) if isinstance(e, Fill)]
    assert [f.maker_id for f in fills] == ["head", 199]


def test_given_every_event_then_sequence_numbers_are_consecutive(book: OrderBook) -> None:
    seqs = []
    seqs += [e.seq for e in book.submit("a", "x", SELL, 100, 5)]
    seqs += [e.seq for e in book.submit("b", "y", BUY, None, 7)]
    seqs += [e.seq for e in book.cancel("zzz")]
    seqs += [e.seq for e in book.submit("a", "y", BUY, 1, 1)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert book.seq == seqs[-1]


def test_given_snapshot_then_restore_keeps_priority_and_sequence(book: OrderBook) -> None:
    book.submit("a1", "x", SELL, 101, 5)
    book.submit("a2", "y", SELL, 101, 4)
    book.submit("a3", "y", SELL, 103, 4)
    book.submit("b1", "z", BUY, 99, 2)
    book.submit("t", "d", BUY, 101, 2)
    snap = book.snapshot()
    assert [o.order_id for o in snap.orders] == ["b1", "a1", "a2", "a3"]
    again = OrderBook.restore(snap.instrument, snap.tick_size, snap.orders, snap.seq)
    assert again.snapshot() == snap
    assert again.submit("t2", "d", BUY, 101, 5) == book.submit("t2", "d", BUY, 101, 5)


def test_given_crossed_or_repeated_orders_then_restore_refuses() -> None:
    with pytest.raises(ValueError, match="crossed"):
        OrderBook.restore("X", 0.01, [("a", "x", BUY, 101, 1, 1), ("b", "y", SELL, 100, 1, 1)])
    with pytest.raises(ValueError, match="repeats"):
        OrderBook.restore("X", 0.01, [("a", "x", BUY, 99, 1, 1), ("a", "y", SELL, 100, 1, 1)])
    with pytest.raises(ValueError, match="remaining"):
        OrderBook.restore("X", 0.01, [("a", "x", BUY, 99, 2, 1)])
    with pytest.raises(ValueError, match="price"):
        OrderBook.restore("X", 0.01, [("a", "x", BUY, 0, 1, 1)])


def test_given_levels_then_depth_is_best_first_and_limited(book: OrderBook) -> None:
    for i, px in enumerate((100, 99, 98, 99)):
        book.submit(f"b{i}", "x", BUY, px, 1 + i)
    assert book.depth(BUY) == [(100, 1), (99, 6), (98, 3)]
    assert book.depth(BUY, 2) == [(100, 1), (99, 6)]
    assert book.depth(SELL) == []
    assert len(book) == 4


def test_given_the_module_doctests_then_they_pass() -> None:
    from hedgemesh.venue import book as book_module
    from hedgemesh.venue import liquidity

    for module in (book_module, liquidity):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0
