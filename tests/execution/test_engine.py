"""The execution engine without NATS or a database: judging, reports, expiries, resuming, and
crash-only recovery as a property (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from exec_examples import (
    CALL,
    EXPIRIES,
    SPX,
    check_report_chain,
    later,
    made_reports,
    order,
    surface,
    tick,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.execution.config import ExecutionSettings
from hedgemesh.execution.domain.engine import Engine, next_close, utc_seconds
from hedgemesh.execution.domain.reports import MAX_ID_LENGTH, exec_id
from hedgemesh.runtime.clock import EPOCH
from hedgemesh.venue.spec import VENUE, VenueSpec
from hedgemesh.wire import (
    ExecStatus,
    ExecutionReport,
    Iceberg,
    MarketableLimit,
    Order,
    ReasonCode,
    Side,
    TimeInForce,
    Twap,
)

T0 = EPOCH.timestamp()
PARTIAL = ExecStatus.PARTIALLY_FILLED


#: Tests here price orders far through fair value to mean "marketable": a collar that allows it.
WIDE = {"price_collar": 10.0}


def quoted_engine(venue: VenueSpec = VENUE, **settings) -> Engine:
    engine = Engine(ExecutionSettings(**{**WIDE, **settings}).engine_params(venue))
    assert engine.on_tick(tick(), T0) == []
    assert engine.on_surface(surface(), T0) == []
    return engine


def test_given_an_order_id_then_exec_ids_follow_its_seq_and_stay_valid_wire_ids():
    assert exec_id("SPX-abc", 1) == "SPX-abc-1"
    long_id = "X" * 128
    hashed = exec_id(long_id, 12)
    assert len(hashed) <= MAX_ID_LENGTH and hashed.endswith("-12")
    assert hashed == exec_id(long_id, 12) != exec_id("Y" * 128, 12)


def test_given_a_time_then_the_next_close_is_strictly_after_it():
    close = ExecutionSettings().session_close_utc
    assert next_close(utc_seconds("2024-01-02T20:59:59"), close) == utc_seconds("2024-01-02T21:00")
    assert next_close(utc_seconds("2024-01-02T21:00"), close) == utc_seconds("2024-01-03T21:00")


def test_given_market_data_then_the_spot_book_is_quoted_around_the_tick():
    engine = quoted_engine()
    quote = engine.quote("SPX")
    assert quote is not None and quote.bid < 5000.0 < quote.ask
    assert [p for p, _ in quote.ask_depth] == sorted(p for p, _ in quote.ask_depth)


def test_given_a_drought_then_spreads_widen_and_depth_thins():
    normal, drought = quoted_engine(), quoted_engine()
    drought.on_surface(surface(seq=2, depth=0.25), T0 + 1)
    n, d = normal.quote("SPX"), drought.quote("SPX")
    assert d.ask - d.bid > n.ask - n.bid
    assert d.ask_depth[0][1] < n.ask_depth[0][1]


def test_given_higher_vol_then_option_spreads_widen():
    calm, stressed = quoted_engine(), quoted_engine()
    stressed.on_surface(surface(seq=2, atm_vol=0.40), T0)
    for engine in (calm, stressed):
        engine.receive(order("c", CALL, quantity=1, limit_price=1.0, tif=TimeInForce.GTC), T0)
    c, s = calm.quote(CALL.symbol), stressed.quote(CALL.symbol)
    assert s.ask - s.bid > c.ask - c.bid


def test_given_a_large_order_then_it_walks_the_book_and_depth_comes_back_over_time():
    engine = quoted_engine()
    before = engine.quote("SPX")
    # Past the whole first level and into the second, whatever the configured depth.
    past_top = int(before.ask_depth[0][1] + before.ask_depth[1][1] / 2)
    sweep = order("sweep", quantity=past_top, limit_price=before.ask_depth[-1][0])
    reports = engine.receive(sweep, T0 + 1)
    prices = [r.last_price for r in reports if r.is_fill]
    assert prices == sorted(prices) and len(set(prices)) > 1  # impact: worse prices further in
    engine.on_time(T0 + 2)
    thin = engine.quote("SPX").ask_depth[0][1]
    engine.on_time(T0 + 1 + 4 * 30.0)  # four half-lives
    assert thin < engine.quote("SPX").ask_depth[0][1] <= before.ask_depth[0][1]


def test_given_an_order_that_walks_the_book_then_reports_give_its_arrival_price_and_impact():
    engine = quoted_engine()
    before = engine.quote("SPX")
    mid = (before.bid + before.ask) / 2
    past_top = int(before.ask_depth[0][1] + before.ask_depth[1][1] / 2)
    sweep = order("sweep", quantity=past_top, limit_price=before.ask_depth[-1][0])
    reports = engine.receive(sweep, T0 + 1)
    assert [r.arrival_price for r in reports] == [pytest.approx(mid)] * len(reports)
    fills = [r for r in reports if r.is_fill]
    assert all(r.mid_after is None for r in reports if not r.is_fill)
    assert fills[-1].mid_after > mid  # a buy through two levels lifted the mid
    assert [r.mid_after for r in fills] == sorted(r.mid_after for r in fills)


def test_given_an_order_over_the_maximum_then_it_is_rejected_quantity_exceeds_maximum():
    engine = quoted_engine(max_order_quantity=10)
    (report,) = engine.receive(order("big", quantity=11), T0)
    assert report.status is ExecStatus.REJECTED
    assert report.reason_code is ReasonCode.QUANTITY_EXCEEDS_MAXIMUM


def test_given_a_buy_limit_below_one_tick_then_it_is_rejected_invalid_request():
    engine = quoted_engine()
    (report,) = engine.receive(order("tiny", limit_price=0.004), T0)
    assert report.status is ExecStatus.REJECTED
    assert report.reason_code is ReasonCode.INVALID_REQUEST


def test_given_an_underlying_not_traded_here_then_it_is_rejected_at_once():
    engine = Engine(ExecutionSettings(underlyings=("NDX",)).engine_params())
    (report,) = engine.receive(order("spx"), T0)
    assert report.reason_code is ReasonCode.UNKNOWN_INSTRUMENT


def test_given_an_expired_option_then_it_is_rejected_instrument_expired():
    engine = quoted_engine()
    expired = CALL.model_copy(update={"expiry": EPOCH - timedelta(days=1)})
    (report,) = engine.receive(order("late", expired, limit_price=1.0), T0)
    assert report.reason_code is ReasonCode.INSTRUMENT_EXPIRED


def test_given_an_order_waiting_for_market_data_then_it_is_worked_when_data_arrives():
    engine = Engine(ExecutionSettings(**WIDE).engine_params())
    assert engine.receive(order("early", quantity=5), T0) == []
    assert engine.receive(order("early", CALL, quantity=5, limit_price=500.0), T0) == []
    assert engine.next_wakeup() == T0 + engine.params.market_data_wait_s
    worked = [ExecStatus.ACCEPTED, ExecStatus.FILLED]
    assert [r.status for r in engine.on_tick(tick(), T0 + 0.5)] == worked  # spot: a tick will do
    assert [
        r.status for r in engine.on_surface(surface(), T0 + 0.6)
    ] == worked  # options: a surface


def test_given_working_orders_when_the_option_expires_then_they_end_instrument_expired():
    engine = quoted_engine()
    bid = order("bid", CALL, quantity=3, limit_price=1.0, tif=TimeInForce.GTC)
    assert [r.status for r in engine.receive(bid, T0)] == [ExecStatus.ACCEPTED]
    expiry = CALL.expiry.timestamp()
    assert engine.next_wakeup() == expiry
    (report,) = engine.on_time(expiry)
    assert report.status is ExecStatus.EXPIRED
    assert report.reason_code is ReasonCode.INSTRUMENT_EXPIRED
    assert CALL.symbol not in engine.venue.providers


def test_given_a_day_order_on_an_option_expiring_at_the_close_then_it_ends_once():
    engine = Engine(ExecutionSettings(**WIDE).engine_params())
    today = EPOCH.replace(hour=21, minute=0)
    engine.on_tick(tick(), T0)
    engine.on_surface(surface(expiries=(today, *EXPIRIES)), T0)
    expiring = CALL.model_copy(update={"expiry": today})
    bid = order("bid", expiring, quantity=3, limit_price=0.5, tif=TimeInForce.DAY)
    assert [r.status for r in engine.receive(bid, T0)] == [ExecStatus.ACCEPTED]
    assert engine.next_wakeup() == today.timestamp()  # the close and the expiry at once
    (report,) = engine.on_time(today.timestamp())
    assert report.status is ExecStatus.EXPIRED and report.seq == 2
    assert engine.orders == {} and engine.on_time(today.timestamp() + 1) == []


def test_given_a_resumed_order_without_market_data_when_the_session_closes_then_it_expires():
    engine = Engine(ExecutionSettings(**WIDE).engine_params())
    day = order("day", quantity=10, tif=TimeInForce.DAY, limit_price=4000.0)
    _, fill = made_reports(day, (ExecStatus.ACCEPTED, 0, None), (PARTIAL, 4, 400000))
    assert engine.resume(day, seq=2, fills=[fill], accepted_at=EPOCH, now=T0 + 1) == []
    (report,) = engine.on_time(next_close(T0, engine.params.session_close_utc))
    assert report.status is ExecStatus.EXPIRED and report.seq == 3
    assert report.cum_quantity == 4 and report.avg_price == 4000.0


def test_given_a_stored_order_never_judged_and_older_than_the_fence_then_it_is_stale():
    engine = quoted_engine()
    engine.raise_fence(9)
    (report,) = engine.resume(order("old", epoch=8), seq=0, fills=[], accepted_at=None, now=T0)
    assert report.reason_code is ReasonCode.STALE_EPOCH and report.seq == 1


def test_given_fees_then_options_pay_per_contract_and_the_underlying_per_notional():
    venue = replace(
        VENUE,
        underlying=replace(VENUE.underlying, fee_bp=1.0),
        option=replace(VENUE.option, fee_per_contract=0.65),
    )
    engine = quoted_engine(venue)
    spot = [r for r in engine.receive(order("s", quantity=10), T0) if r.is_fill]
    assert spot[0].fees == pytest.approx(10 * spot[0].last_price * 1e-4)
    call = [
        r for r in engine.receive(order("o", CALL, quantity=4, limit_price=500.0), T0) if r.is_fill
    ]
    assert call[0].fees == pytest.approx(4 * 0.65)


# -- crash-only recovery, as a property -----------------------------------------------------------


@dataclass
class Store:
    """What a crash leaves: the orders received and the reports stored, in order."""

    orders: dict[str, Order] = field(default_factory=dict)
    reports: dict[str, list[ExecutionReport]] = field(default_factory=dict)

    def record(self, reports: list[ExecutionReport], keep: int | None = None) -> None:
        for report in reports[:keep]:
            self.reports.setdefault(report.client_order_id, []).append(report)

    def working(self) -> list[Order]:
        return [
            o
            for coid, o in self.orders.items()
            if not any(r.is_terminal for r in self.reports.get(coid, []))
        ]


def restarted(store: Store, spot: float, now: float) -> tuple[Engine, list[ExecutionReport]]:
    """A fresh engine recovered from the store, as the service starts."""
    engine = Engine(ExecutionSettings(**WIDE).engine_params())
    engine.raise_fence(max((o.epoch for o in store.orders.values()), default=0))
    reports = engine.on_tick(tick(spot), now) + engine.on_surface(surface(spot), now)
    for o in store.working():
        stored = store.reports.get(o.client_order_id, [])
        accepted = next((r for r in stored if r.status is ExecStatus.ACCEPTED), None)
        reports += engine.resume(
            o,
            seq=len(stored),
            fills=[r for r in stored if r.is_fill],
            accepted_at=None if accepted is None else accepted.ts,
            now=now,
        )
    return engine, reports


ALGOS = st.sampled_from(["ioc", "day", "twap", "iceberg"])
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["order", "tick", "time", "crash"]),
        st.integers(1, 60),  # quantity, or seconds to move
        ALGOS,
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(-20, 20),  # price offset (ticks x 100) / spot move
        st.integers(0, 3),  # how many of the last call's reports a crash leaves stored
    ),
    min_size=1,
    max_size=25,
)


def _make_order(n: int, quantity: int, algo: str, side: Side, offset: int, spot: float) -> Order:
    limit = round(spot + side.sign * 1.0 + offset * 0.5, 2)
    spec = {
        "ioc": (MarketableLimit(), TimeInForce.IOC),
        "day": (MarketableLimit(), TimeInForce.DAY),
        "twap": (Twap(duration_s=30, slices=min(quantity, 5)), TimeInForce.GTC),
        "iceberg": (Iceberg(display_quantity=max(1, quantity // 3)), TimeInForce.GTC),
    }[algo]
    if algo == "iceberg" and quantity == 1:
        spec = (MarketableLimit(), TimeInForce.GTC)
    return order(f"p-{n}", SPX, side, quantity, limit_price=limit, tif=spec[1], algo=spec[0])


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_given_crashes_anywhere_then_every_order_is_reported_once_with_consistent_quantities(steps):
    store = Store()
    spot, now = 5000.0, T0
    engine, pending = restarted(store, spot, now)
    for n, (kind, size, algo, side, offset, keep) in enumerate(steps):
        if kind == "crash":  # the reports of the last call were stored in part, then it died
            store.record(pending, keep)
            engine, pending = restarted(store, spot, now)
            continue
        store.record(pending)
        if kind == "order":
            o = _make_order(n, size, algo, side, offset, spot)
            store.orders[o.client_order_id] = o  # stored before it is worked
            pending = engine.receive(o, now)
        elif kind == "tick":
            spot = round(spot + offset * 0.5, 2)
            pending = engine.on_tick(tick(spot, seq=n + 2, at=later(now - T0)), now)
        else:
            now += size
            pending = engine.on_time(now)
    store.record(pending)
    now += 3600.0  # long after every schedule; resting orders stay working (gtc, day)
    store.record(engine.on_time(now))
    for coid, o in store.orders.items():
        reports = store.reports[coid]
        fills = sum(r.last_quantity or 0 for r in reports)
        assert fills <= o.quantity
        assert [r.seq for r in reports] == list(range(1, len(reports) + 1))
        assert len({r.exec_id for r in reports}) == len(reports)
        if any(r.is_terminal for r in reports):
            check_report_chain(reports, o)
        else:
            assert coid in engine.orders and reports[-1].cum_quantity == fills
