"""The state vocabulary: exposures, option sets, the book's horizon, memory."""

from __future__ import annotations

import numpy as np
import pytest
from policy_states import state

from hedgemesh.policies import (
    Decision,
    Exposure,
    HedgeMemory,
    HedgeState,
    OptionSet,
    remember,
)
from hedgemesh.policies.state import book_horizon, priced_instruments
from hedgemesh.quant import bsm


def _book() -> OptionSet:
    """Two paths, three options each (one slot empty on the second path)."""
    return OptionSet(
        strike=np.array([[90.0, 100.0, 110.0], [95.0, 100.0, 120.0]]),
        tau=np.array([[0.1, 0.5, 1.0], [0.2, 0.0, 0.3]]),
        is_call=np.array([[True, False, True]]),
        quantity=np.array([[-100.0, 50.0, 20.0], [10.0, -30.0, 0.0]]),
        vol=np.array([[0.2, 0.25, 0.3], [0.2, 0.2, 0.2]]),
    )


def test_build_sums_the_options_greeks_per_path_plus_the_books_own_units():
    book = _book()
    spot = np.array([100.0, 101.0])
    s = HedgeState.build(
        time=0.0,
        spot=spot,
        vol=0.2,
        rate=0.02,
        div=0.01,
        book_options=book,
        book_underlying=[7.0, -3.0],
        instruments=Exposure(np.ones((2, 1)), np.zeros((2, 1)), np.zeros((2, 1))),
        holdings=np.zeros((2, 1)),
        memory=HedgeMemory.empty(2),
    )
    for p in range(2):
        delta = [7.0, -3.0][p]
        gamma = vega = 0.0
        for j in range(3):
            g = bsm.greeks(
                spot[p],
                book.strike[p, j],
                book.tau[p, j],
                0.02,
                0.01,
                book.vol[p, j],
                book.is_call[0, j],
            )
            q = book.quantity[p, j]
            delta, gamma, vega = delta + q * g.delta, gamma + q * g.gamma, vega + q * g.vega
        assert s.book.delta[p] == pytest.approx(delta, rel=1e-13)
        assert s.book.gamma[p] == pytest.approx(gamma, rel=1e-13)
        assert s.book.vega[p] == pytest.approx(vega, rel=1e-13)


def test_horizon_is_the_gamma_weighted_expiry_or_the_longest_life_without_gamma():
    book = _book()
    g = book.greeks(np.array([100.0, 101.0]), 0.0, 0.0)
    h = book_horizon(book, g.gamma)
    w = np.abs(book.quantity[0] * g.gamma[0])
    assert h[0] == pytest.approx((w * book.tau[0]).sum() / w.sum(), rel=1e-13)
    expired = OptionSet(
        strike=np.array([[100.0]]),
        tau=np.array([[0.0]]),
        is_call=np.array([[True]]),
        quantity=np.array([[5.0]]),
        vol=np.array([[0.2]]),
    )
    assert book_horizon(expired, np.zeros((1, 1)))[0] == 0.0


def test_priced_instruments_put_the_underlying_first_then_each_option_per_unit():
    spot = np.array([100.0, 90.0])
    opts = OptionSet(
        strike=np.array([[100.0, 95.0], [100.0, 95.0]]),
        tau=np.full((2, 2), 0.25),
        is_call=np.array([[True, False]]),
        quantity=np.zeros((2, 2)),
        vol=np.full((2, 2), 0.2),
    )
    greeks, prices = priced_instruments(spot, 0.01, 0.0, opts)
    assert greeks.delta.shape == (2, 3) and prices.shape == (2, 3)
    assert np.array_equal(greeks.delta[:, 0], [1.0, 1.0]) and not greeks.gamma[:, 0].any()
    assert np.array_equal(prices[:, 0], spot)
    expected = bsm.greeks(90.0, 95.0, 0.25, 0.01, 0.0, 0.2, False)
    assert prices[1, 2] == expected.price and greeks.vega[1, 2] == expected.vega
    only, price = priced_instruments(spot, 0.0, 0.0, None)
    assert only.delta.shape == (2, 1) and np.array_equal(price[:, 0], spot)


def test_net_exposure_adds_the_hedges_at_their_holdings():
    s = state(
        book_delta=-30.0,
        book_gamma=-4.0,
        book_vega=-100.0,
        option_delta=[0.5],
        option_gamma=[0.05],
        option_vega=[0.1],
        holdings=[10.0, 20.0],
    )
    net = s.net()
    assert (net.delta[0], net.gamma[0], net.vega[0]) == (-10.0, -3.0, -98.0)


def test_remember_records_time_and_spot_only_where_the_trigger_fired():
    s = state(spot=[100.0, 101.0], time=0.5, last_time=0.1, last_spot=99.0)
    d = Decision(target=s.holdings, rebalance=np.array([True, False]), holdings=s.holdings)
    m = remember(s.memory, s, d)
    assert list(m.last_time) == [0.5, 0.1]
    assert list(m.last_spot) == [100.0, 99.0]
    assert np.isnan(HedgeMemory.empty(3).last_time).all()
