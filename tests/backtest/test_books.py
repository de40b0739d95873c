"""Books laid out on a market: static positions, the insured portfolio, Poisson trades."""

from __future__ import annotations

import numpy as np
import pytest

from hedgemesh.backtest.books import (
    OptionPosition,
    PoissonBook,
    StaticBook,
    insured_portfolio,
    single_option,
)
from hedgemesh.backtest.instruments import MarketPaths

DAY = 1.0 / 365.0


def market(n=500, steps=60, start=2.0):
    rng = np.random.default_rng(8)
    spot = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, (n, steps + 1)), axis=1))
    return MarketPaths(spot, start + np.arange(steps + 1) * DAY)


def test_static_book_shares_one_row_across_paths_with_expiries_from_the_start():
    m = market(start=2.0)
    a = single_option(strike=100.0, expiry=0.5, is_call=False, quantity=-3.0).materialise(m)
    assert a.strike.shape == (1, 1) and a.n_options == 1
    assert a.expiry[0, 0] == pytest.approx(2.5) and a.start[0, 0] == 2.0
    assert not a.is_call[0, 0] and a.quantity[0, 0] == -3.0 and a.underlying == 0.0


def test_a_strike_given_as_moneyness_follows_each_paths_first_spot():
    m = market()
    book = StaticBook(options=(OptionPosition(quantity=1.0, moneyness=1.1, expiry=0.1),))
    a = book.materialise(m)
    np.testing.assert_allclose(a.strike[:, 0], 1.1 * m.spot[:, 0], rtol=1e-15)


def test_insured_portfolio_is_short_the_shares_and_short_the_puts():
    a = insured_portfolio(units=1000.0, strike=95.0, expiry=0.25).materialise(market())
    assert a.underlying == -1000.0
    assert a.quantity[0, 0] == -1000.0 and not a.is_call[0, 0] and a.strike[0, 0] == 95.0
    with pytest.raises(ValueError):
        insured_portfolio(units=0.0, strike=95.0, expiry=0.25)


def test_poisson_book_arrivals_are_seeded_counted_and_drawn_as_configured():
    m = market(n=2000, steps=60)
    book = PoissonBook(
        trades_per_year=365.0 / 2,
        tenors_days=(30.0, 90.0),
        moneyness=(0.95, 1.05),
        call_probability=0.25,
        sell_probability=0.8,
        sizes=(100.0, 300.0),
        initial=single_option(strike=100.0, expiry=0.5),
        seed=3,
    )
    a = book.materialise(m)
    b = book.materialise(m)
    assert np.array_equal(a.quantity, b.quantity) and np.array_equal(a.strike, b.strike)
    trades = a.quantity[:, 1:] != 0.0  # column 0: the initial book, on every path
    assert np.all(a.quantity[:, 0] == -1.0)
    # one arrival every other day over steps 1..59: 29.5 a path on average (Poisson)
    per_path = trades.sum(axis=1)
    assert per_path.mean() == pytest.approx(59 / 2, rel=0.02)
    assert per_path.var() == pytest.approx(59 / 2, rel=0.1)
    start = a.start[:, 1:][trades]
    assert start.min() >= m.times[1] and start.max() <= m.times[-2]
    life = (a.expiry[:, 1:] - a.start[:, 1:])[trades] / DAY
    assert set(np.round(life, 9)) == {30.0, 90.0}
    q = a.quantity[:, 1:][trades]
    assert set(np.abs(q)) == {100.0, 300.0}
    assert (q < 0).mean() == pytest.approx(0.8, abs=0.01)
    assert a.is_call[:, 1:][trades].mean() == pytest.approx(0.25, abs=0.01)
    rows, cols = np.nonzero(trades)
    steps = np.round((a.start[:, 1:][trades] - m.times[0]) / DAY).astype(int)
    ratio = a.strike[:, 1:][trades] / m.spot[rows, steps]
    assert ratio.min() >= 0.95 and ratio.max() <= 1.05
    # unused slots never arrive and hold nothing
    assert np.all(a.start[:, 1:][~trades] > m.times[-1])
    assert cols.size == trades.sum()


def test_a_different_seed_gives_different_trades():
    m = market(n=50)
    a = PoissonBook(trades_per_year=100.0, seed=1).materialise(m)
    b = PoissonBook(trades_per_year=100.0, seed=2).materialise(m)
    assert a.quantity.shape != b.quantity.shape or not np.array_equal(a.quantity, b.quantity)


@pytest.mark.parametrize(
    "make",
    [
        lambda: OptionPosition(quantity=1.0, expiry=0.5),
        lambda: OptionPosition(quantity=1.0, expiry=0.5, strike=100.0, moneyness=1.0),
        lambda: OptionPosition(quantity=1.0, expiry=0.0, strike=100.0),
        lambda: OptionPosition(quantity=float("nan"), expiry=0.5, strike=100.0),
        lambda: PoissonBook(trades_per_year=-1.0),
        lambda: PoissonBook(trades_per_year=1.0, sell_probability=1.5),
        lambda: PoissonBook(trades_per_year=1.0, tenors_days=()),
        lambda: PoissonBook(trades_per_year=1.0, moneyness=(1.1, 0.9)),
        lambda: StaticBook(underlying=float("inf")),
    ],
)
def test_given_bad_book_parameters_then_refused(make):
    with pytest.raises(ValueError):
        make()
