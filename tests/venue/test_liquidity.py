"""Synthetic liquidity: the ladder, widening with vol and drought, refill, impact, determinism."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.venue.book import BUY, SELL, Fill, OrderBook
from hedgemesh.venue.liquidity import LiquidityParams, LiquidityProvider, ladder

PARAMS = LiquidityParams(levels=5, top_size=100, half_life_s=10.0)


def quoted(fair: float = 100.0, vol: float = 0.2, seed: int = 0, **params) -> LiquidityProvider:
    lp = LiquidityProvider(OrderBook("X", 0.01), "lp", LiquidityParams(**params), seed)
    lp.update(0.0, fair=fair, vol=vol)
    return lp


def sweep(lp: LiquidityProvider, quantity: int, now: float, oid: str) -> list[Fill]:
    events = lp.book.submit(oid, "desk", BUY, None, quantity)
    lp.observe(events, now)
    return [e for e in events if isinstance(e, Fill)]


def average(fills: list[Fill]) -> float:
    return sum(f.price * f.quantity for f in fills) / sum(f.quantity for f in fills)


def test_given_fair_value_then_ladder_brackets_it_with_sizes_falling_away() -> None:
    lad = ladder(100.0, 0.2, 1.0, 0.01, PARAMS)
    assert lad.bids == (9998, 9997, 9996, 9995, 9994)
    assert lad.asks == (10002, 10003, 10004, 10005, 10006)
    assert all(a > b for a, b in zip(lad.sizes, lad.sizes[1:], strict=False))


def test_given_higher_vol_or_drought_then_spread_and_spacing_widen_and_sizes_thin() -> None:
    calm = ladder(100.0, 0.2, 1.0, 0.01, PARAMS)
    for stressed in (ladder(100.0, 0.4, 1.0, 0.01, PARAMS), ladder(100.0, 0.2, 3.0, 0.01, PARAMS)):
        assert stressed.asks[0] - stressed.bids[0] > calm.asks[0] - calm.bids[0]
        assert stressed.asks[-1] - stressed.asks[0] > calm.asks[-1] - calm.asks[0]
        assert all(s < c for s, c in zip(stressed.sizes, calm.sizes, strict=True))


def test_given_cheap_option_then_bids_at_or_below_zero_are_dropped() -> None:
    lad = ladder(0.03, 0.5, 1.0, 0.01, PARAMS)
    assert all(b > 0 for b in lad.bids) and len(lad.bids) < PARAMS.levels
    assert len(lad.asks) == PARAMS.levels


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_given_bad_market_input_then_ladder_refuses(bad: float) -> None:
    for args in ((bad, 0.2, 1.0), (100.0, bad, 1.0), (100.0, 0.2, bad)):
        with pytest.raises(ValueError):
            ladder(*args, 0.01, PARAMS)


def test_given_bad_parameters_then_refused() -> None:
    with pytest.raises(ValueError):
        LiquidityParams(levels=0)
    with pytest.raises(ValueError):
        LiquidityParams(size_decay=1.5)
    with pytest.raises(ValueError):
        LiquidityParams(half_life_s=0.0)


@settings(max_examples=200, deadline=None)
@given(
    fair=st.floats(0.05, 10_000.0),
    vol=st.floats(0.01, 3.0),
    drought=st.floats(0.2, 10.0),
    tick=st.sampled_from([0.01, 0.05, 0.25, 1.0]),
)
def test_given_any_market_then_ladder_never_crosses_and_is_monotone(fair, vol, drought, tick):
    lad = ladder(fair, vol, drought, tick, PARAMS)
    assert not lad.bids or lad.bids[0] < lad.asks[0]
    assert all(a < b for a, b in zip(lad.asks, lad.asks[1:], strict=False))
    assert all(a > b for a, b in zip(lad.bids, lad.bids[1:], strict=False))
    assert not lad.bids or lad.bids[0] * tick <= fair + 1e-9 <= lad.asks[0] * tick + 2e-9


@settings(max_examples=60, deadline=None)
@given(
    moves=st.lists(
        st.tuples(st.floats(-0.02, 0.02), st.floats(0.05, 1.0), st.integers(0, 300), st.booleans()),
        min_size=1,
        max_size=15,
    )
)
def test_given_moving_market_and_takers_then_lp_never_crosses_or_trades_with_itself(moves):
    lp = quoted()
    book, fair, now = lp.book, 100.0, 0.0
    for i, (ret, vol, take, buy) in enumerate(moves):
        now += 1.0
        fair *= math.exp(ret)
        events = lp.update(now, fair=fair, vol=vol)
        if take:
            events += book.submit(f"t{i}", "desk", BUY if buy else SELL, None, take)
            lp.observe(events[-take:], now)
        assert all(not (isinstance(e, Fill) and e.taker_owner == e.maker_owner) for e in events)
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask


def test_given_a_sweep_then_depth_comes_back_with_the_half_life() -> None:
    lp = quoted(levels=5, top_size=100, half_life_s=10.0)
    before = lp.book.depth(SELL)
    sweep(lp, 170, 0.0, "big")  # takes levels 0 and 1 whole
    assert lp.missing(SELL)[:3] == [100.0, 70.0, 0.0]
    lp.update(10.0)  # one half-life: half of it back
    assert lp.book.depth(SELL)[:2] == [(10002, 50), (10003, 35)]
    lp.update(40.0)  # four half-lives: 15/16 back; the quotes top up in steps
    assert [q for _, q in lp.book.depth(SELL)[:2]] == [94, 66]
    lp.update(200.0)
    assert lp.book.depth(SELL) == before


def test_given_a_large_sweep_then_its_average_price_is_worse_than_a_small_one() -> None:
    small = average(sweep(quoted(), 50, 0.0, "s"))
    large = average(sweep(quoted(), 300, 0.0, "l"))
    assert large > small


def test_given_patience_then_consumed_depth_returns_and_costs_less() -> None:
    hurried, patient = quoted(), quoted()
    rushed = sweep(hurried, 150, 0.0, "a") + sweep(hurried, 150, 0.1, "b")
    waited = sweep(patient, 150, 0.0, "a")
    patient.update(60.0)
    waited += sweep(patient, 150, 60.0, "b")
    assert average(waited) < average(rushed)


def test_given_fair_value_moves_then_lp_requotes_around_it() -> None:
    lp = quoted()
    lp.update(1.0, fair=101.0)
    assert lp.book.best_bid() == 10097 and lp.book.best_ask() == 10103
    assert {side for side, *_ in lp.quotes()} == {BUY, SELL}
    assert len(lp.book) == 2 * PARAMS.levels


def test_given_stale_foreign_bid_above_new_fair_then_lp_picks_it_off_at_its_price() -> None:
    lp = quoted()
    lp.book.submit("stale", "desk", BUY, 10001, 30)
    events = lp.update(1.0, fair=99.0)
    fills = [e for e in events if isinstance(e, Fill)]
    assert [(f.maker_id, f.price, f.quantity, f.taker_owner) for f in fills] == [
        ("stale", 10001, 30, "lp")
    ]
    assert lp.position == -30 and lp.cash_ticks == 30 * 10001


def test_given_drought_then_book_thins_and_recovers_when_it_ends() -> None:
    lp = quoted()
    normal = lp.book.depth(SELL)
    lp.update(1.0, drought=4.0)
    dry = lp.book.depth(SELL)
    assert sum(q for _, q in dry) < sum(q for _, q in normal)
    assert dry[0][0] > normal[0][0]
    lp.update(2.0, drought=1.0)
    assert lp.book.depth(SELL) == normal


def test_given_same_seed_and_times_then_same_quotes() -> None:
    def run(seed: int) -> tuple:
        lp = quoted(seed=seed, size_jitter=0.3)
        for t, fair in ((1.0, 100.2), (2.0, 99.7), (3.0, 100.1)):
            lp.update(t, fair=fair)
            sweep(lp, 40, t, f"x{t}")
        return lp.book.snapshot(), lp.missing(SELL)

    assert run(11) == run(11)
    assert run(11)[0].orders != run(12)[0].orders


def test_given_time_going_backwards_then_refused() -> None:
    lp = quoted()
    lp.update(5.0)
    with pytest.raises(ValueError, match="backwards"):
        lp.update(4.0)


def test_given_withdraw_then_no_quotes_left() -> None:
    lp = quoted()
    lp.withdraw()
    assert len(lp.book) == 0 and lp.quotes() == []
