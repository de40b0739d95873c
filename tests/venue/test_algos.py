"""Execution algorithms and the Venue that drives them: states, children, impact, wire mapping."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.venue.algos import (
    CancelChild,
    ParentOrder,
    ParentUpdate,
    PlaceChild,
    TwapAlgo,
    make_algo,
    wire_reason,
)
from hedgemesh.venue.book import BUY, SELL, Reason
from hedgemesh.venue.liquidity import LiquidityParams
from hedgemesh.venue.simulator import Venue
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.instruments import Instrument, Side
from hedgemesh.wire.orders import (
    ExecStatus,
    ExecutionReport,
    Iceberg,
    MarketableLimit,
    Order,
    OrderType,
    TimeInForce,
    Twap,
)

GTC, IOC, DAY = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.DAY
LP = LiquidityParams(levels=10, top_size=100, half_life_s=10.0)


def venue(fair: float = 100.0, params: LiquidityParams | None = LP) -> Venue:
    v = Venue()
    v.add_book("X", 0.01, params, seed=3)
    if params is not None:
        v.mark("X", 0.0, fair=fair, vol=0.2)
    return v


def parent(quantity: int = 500, limit: int | None = 10_100, tif=IOC, algo=None, side=BUY):
    return ParentOrder("p", "desk", side, quantity, limit, tif, algo or MarketableLimit())


def statuses(updates: Iterable[ParentUpdate]) -> list[str]:
    return [u.status.value for u in updates]


def run_to_end(v: Venue, updates: list[ParentUpdate], horizon: float = 1e6) -> list[ParentUpdate]:
    while (t := v.next_wakeup()) is not None and t <= horizon:
        updates += v.on_time(t)
    return updates


def test_given_marketable_limit_ioc_then_it_sweeps_to_the_limit_and_cancels_the_rest() -> None:
    v = venue()
    updates = v.submit("X", parent(500, limit=10_004), 0.0)
    assert statuses(updates) == ["accepted", *["partially_filled"] * 3, "cancelled"]
    assert [u.last_price for u in updates[1:4]] == [10_002, 10_003, 10_004]
    end = updates[-1]
    assert (end.cum_quantity, end.leaves_quantity, end.reason) == (219, 0, ReasonCode.TIME_IN_FORCE)
    assert end.avg_price == pytest.approx((100 * 10_002 + 70 * 10_003 + 49 * 10_004) / 219)
    assert "p" not in v.working


def test_given_marketable_limit_gtc_then_rest_works_at_the_limit_until_filled() -> None:
    v = venue(params=None)
    book = v.books["X"]
    book.submit("a", "mm", SELL, 100, 3)
    updates = v.submit("X", parent(5, limit=100, tif=GTC), 0.0)
    assert statuses(updates) == ["accepted", "partially_filled"]
    assert book.best_bid() == 100 and "p" in v.working
    updates = v.direct("X", "s", "mm", SELL, 99, 4, 1.0, "gtc")
    assert statuses(updates) == ["filled"]
    assert updates[0].last_price == 100 and updates[0].cum_quantity == 5
    assert book.best_ask() == 99  # the seller's rest


def test_given_market_parent_into_empty_book_then_cancelled_no_liquidity() -> None:
    v = venue(params=None)
    updates = v.submit("X", parent(5, limit=None), 0.0)
    assert statuses(updates) == ["accepted", "cancelled"]
    assert updates[-1].reason is ReasonCode.NO_LIQUIDITY


def test_given_twap_then_children_spread_evenly_over_the_slices() -> None:
    v = venue()
    placed: list[tuple[float, int]] = []
    algo_parent = parent(500, tif=DAY, algo=Twap(duration_s=100.0, slices=10))
    updates = v.submit("X", algo_parent, 0.0)
    algo = v.working["p"]
    assert isinstance(algo, TwapAlgo) and algo.next_wakeup == pytest.approx(10.0)
    placed.append((0.0, algo.cum_quantity))
    while (t := v.next_wakeup()) is not None:
        updates += v.on_time(t)
        placed.append((t, sum(u.last_quantity or 0 for u in updates)))
    assert [t for t, _ in placed] == pytest.approx([10.0 * k for k in range(10)])
    assert [q for _, q in placed] == [50 * (k + 1) for k in range(10)]
    assert statuses(updates)[-1] == "filled"
    assert all(u.last_price == 10_002 for u in updates if u.last_price)  # depth came back


def test_given_twap_on_a_dry_book_then_shortfall_carries_and_rest_is_cancelled_at_the_end():
    v = venue(params=None)
    book = v.books["X"]
    updates = v.submit("X", parent(9, limit=None, tif=DAY, algo=Twap(duration_s=3.0, slices=3)), 0)
    assert statuses(updates) == ["accepted"]  # slice 0 met an empty book
    book.submit("a", "mm", SELL, 100, 4)
    updates = v.on_time(1.0)  # slice 1 wants 6, the book has 4
    assert [(u.status.value, u.cum_quantity) for u in updates] == [("partially_filled", 4)]
    updates = v.on_time(2.0)  # slice 2 (last) finds nothing: the schedule ends short
    assert statuses(updates) == ["cancelled"]
    assert updates[-1].reason is ReasonCode.TIME_IN_FORCE and updates[-1].cum_quantity == 4
    assert v.next_wakeup() is None


def test_given_iceberg_then_book_never_shows_more_than_display_and_refills() -> None:
    v = venue(params=None)
    book = v.books["X"]
    updates = v.submit("X", parent(25, limit=100, tif=GTC, algo=Iceberg(display_quantity=10)), 0)
    assert book.depth(BUY) == [(100, 10)]
    for i in range(7):
        updates += v.direct("X", f"s{i}", "mm", SELL, 100, 4, float(i), "gtc")
        shown = sum(o.remaining for o in book.resting() if o.owner == "desk")
        assert shown <= 10
    assert statuses(updates)[-1] == "filled" and updates[-1].cum_quantity == 25
    assert book.depth(BUY) == [] and book.depth(SELL) == [(100, 7 * 4 - 25)]


def test_given_cancel_of_resting_iceberg_then_child_cancelled_then_parent() -> None:
    v = venue(params=None)
    v.submit("X", parent(25, limit=100, tif=GTC, algo=Iceberg(display_quantity=10)), 0)
    updates = v.cancel("p", 1.0)
    assert statuses(updates) == ["cancelled"]
    assert updates[0].reason is ReasonCode.CANCELLED_BY_REQUEST and updates[0].leaves_quantity == 0
    assert len(v.books["X"]) == 0 and v.cancel("p", 2.0) == []


def test_given_a_large_parent_then_twap_pays_less_than_one_sweep() -> None:
    sweep = venue().submit("X", parent(300, limit=10_050), 0.0)
    v = venue()
    twap = run_to_end(
        v, v.submit("X", parent(300, tif=DAY, algo=Twap(duration_s=120.0, slices=8)), 0.0)
    )
    assert sweep[-1].cum_quantity == twap[-1].cum_quantity == 300
    assert twap[-1].avg_price < sweep[-1].avg_price


def test_given_invalid_parent_then_rejected_with_reason() -> None:
    for bad in (
        parent(0),
        parent(5, limit=-1),
        ParentOrder("p", "desk", 0, 5, 100, IOC),
        parent(3, tif=DAY, algo=Twap(duration_s=10.0, slices=5)),
        parent(30, limit=None, tif=GTC, algo=Iceberg(display_quantity=10)),
        parent(30, tif=IOC, algo=Iceberg(display_quantity=10)),
    ):
        updates = make_algo(bad).start(0.0)
        assert statuses(updates) == ["rejected"]
        assert updates[0].reason is ReasonCode.INVALID_REQUEST and updates[0].text


def test_given_duplicate_or_unknown_instrument_then_venue_rejects() -> None:
    v = venue(params=None)
    v.submit("X", parent(5, limit=100, tif=GTC), 0.0)
    assert v.submit("X", parent(5, limit=100, tif=GTC), 0.0)[0].reason is ReasonCode.DUPLICATE
    got = v.submit("Y", parent(5), 0.0)[0]
    assert got.status is ExecStatus.REJECTED and got.reason is ReasonCode.UNKNOWN_INSTRUMENT


def test_given_resumed_twap_then_it_catches_up_on_missed_slices_without_accepting_again() -> None:
    algo = make_algo(
        parent(100, tif=DAY, algo=Twap(duration_s=10.0, slices=10)),
        cum_quantity=20,
        cum_notional_ticks=20 * 10_002,
        started_at=0.0,
    )
    actions = algo.start(5.0)
    assert actions == [PlaceChild("p/1", "desk", BUY, 10_100, 40, IOC)]  # target 60 by slice 5


def test_given_parent_cancel_with_working_children_then_cancel_children_first() -> None:
    algo = make_algo(parent(30, tif=GTC, algo=Iceberg(display_quantity=10)))
    algo.start(0.0)
    assert algo.cancel() == [CancelChild("p/1")]
    assert not algo.done


def test_given_book_reasons_then_each_maps_to_a_wire_code() -> None:
    assert {wire_reason(r) for r in Reason} <= set(ReasonCode)


def test_given_wire_order_then_parent_maps_it_rounding_the_limit_safely() -> None:
    order = Order(
        client_order_id="SPX-1",
        instrument=Instrument.spot("SPX"),
        side=Side.SELL,
        quantity=12,
        order_type=OrderType.LIMIT,
        limit_price=5000.013,
        time_in_force=TimeInForce.DAY,
        algo=Twap(duration_s=60, slices=4),
        cycle_id="c1",
        epoch=1,
        decision_ids=["d1"],
    )
    p = ParentOrder.from_wire(order, 0.01, owner="desk")
    assert (p.order_id, p.side, p.quantity, p.limit, p.tif) == ("SPX-1", SELL, 12, 500_002, DAY)
    assert p.algo == Twap(duration_s=60, slices=4) and p.owner == "desk"
    market = order.model_copy(update={"order_type": OrderType.MARKET, "limit_price": None})
    assert ParentOrder.from_wire(market, 0.01).limit is None


def to_report(u: ParentUpdate, n: int) -> ExecutionReport:
    """The wire report of an update (what the service publishes); validates the wire rules."""
    tick = 0.01
    return ExecutionReport(
        client_order_id=u.parent_id,
        exec_id=f"{u.parent_id}-{n}",
        seq=n,
        cycle_id="c",
        instrument=Instrument.spot("X"),
        side=Side.BUY,
        status=u.status,
        order_quantity=u.quantity,
        cum_quantity=u.cum_quantity,
        leaves_quantity=u.leaves_quantity,
        last_quantity=u.last_quantity,
        last_price=None if u.last_price is None else u.last_price * tick,
        avg_price=None if u.avg_price is None else u.avg_price * tick,
        reason_code=u.reason,
        text=u.text,
    )


algos = st.one_of(
    st.builds(MarketableLimit),
    st.builds(Twap, duration_s=st.floats(1.0, 100.0), slices=st.integers(1, 8)),
    st.builds(Iceberg, display_quantity=st.integers(1, 40)),
)
steps = st.lists(
    st.tuples(
        st.floats(0.0, 20.0),  # time passes
        st.floats(-0.01, 0.01),  # fair value move
        st.integers(0, 150),  # another trader's market order (0: none)
        st.booleans(),  # its side
        st.booleans(),  # cancel the parent now
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    algo=algos,
    quantity=st.integers(8, 400),
    limit_off=st.one_of(st.none(), st.integers(-5, 30)),
    tif=st.sampled_from([GTC, DAY, IOC]),
    steps=steps,
)
def test_given_any_flow_then_children_never_exceed_parent_and_reports_obey_wire_rules(
    algo, quantity, limit_off, tif, steps
) -> None:
    if isinstance(algo, Iceberg) and limit_off is None:
        limit_off = 0
    if not isinstance(algo, MarketableLimit):
        tif = DAY
    v = venue()
    book = v.books["X"]
    limit = None if limit_off is None else 10_000 + limit_off
    p = ParentOrder("p", "desk", BUY, quantity, limit, tif, algo)
    updates = v.submit("X", p, 0.0)
    now, fair = 0.0, 100.0

    def check() -> None:
        a = v.working.get("p")
        if a is not None:
            assert a.cum_quantity + sum(a.working.values()) <= quantity
        shown = sum(o.remaining for o in book.resting() if o.owner == "desk")
        assert shown <= quantity - (updates[-1].cum_quantity if updates else 0)
        if isinstance(algo, Iceberg):
            assert shown <= algo.display_quantity

    check()
    for i, (dt, move, take, buy, cancel) in enumerate(steps):
        now += dt
        fair *= 1 + move
        updates += v.mark("X", now, fair=fair)
        updates += v.on_time(now)
        if take:
            updates += v.direct("X", f"t{i}", "other", BUY if buy else SELL, None, take, now)
        if cancel:
            updates += v.cancel("p", now)
        check()
    updates = run_to_end(v, updates)
    updates += v.cancel("p", now + 1e6)
    reports = [to_report(u, n) for n, u in enumerate(updates, 1)]
    assert reports[0].status in (ExecStatus.ACCEPTED, ExecStatus.REJECTED)
    assert sum(r.last_quantity or 0 for r in reports) == reports[-1].cum_quantity <= quantity
    assert reports[-1].is_terminal and "p" not in v.working
    assert all(not r.is_terminal for r in reports[:-1])
    if limit is not None:
        assert all(r.last_price <= limit * 0.01 + 1e-9 for r in reports if r.is_fill)


def test_given_resumed_iceberg_then_only_the_rest_is_worked_and_child_ids_continue() -> None:
    algo = make_algo(
        parent(30, limit=100, tif=GTC, algo=Iceberg(display_quantity=10)),
        cum_quantity=25,
        cum_notional_ticks=25 * 100,
        started_at=0.0,
        children=3,
    )
    assert algo.start(1.0) == [PlaceChild("p/4", "desk", BUY, 100, 5, GTC)]
    assert algo.avg_price == 100.0


def test_given_resumed_marketable_limit_then_one_child_for_what_is_left() -> None:
    algo = make_algo(parent(30, limit=100, tif=GTC), cum_quantity=12, started_at=0.0, children=1)
    assert algo.start(1.0) == [PlaceChild("p/2", "desk", BUY, 100, 18, GTC)]
    assert algo.on_time(2.0) == []
