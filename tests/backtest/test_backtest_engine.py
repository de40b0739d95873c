"""The vectorised engine: accounting, invariants, rolls, vol sources, comparisons."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hedgemesh.backtest import engine
from hedgemesh.backtest.books import OptionPosition, PoissonBook, StaticBook, single_option
from hedgemesh.backtest.costs import CompositeCost, FixedCost, NotionalCost, PremiumCost
from hedgemesh.backtest.instruments import (
    ConstantVol,
    HestonVol,
    MarketPaths,
    PathVol,
    SurfaceVol,
    with_gap,
)
from hedgemesh.policies import (
    DeltaBand,
    DeltaGamma,
    DeltaGammaVega,
    DeltaInterval,
    DeltaMove,
    HedgeOption,
    Leland,
    NoHedge,
    PortfolioInsurance,
    WhalleyWilmott,
    Zakamouline,
)
from hedgemesh.quant import bsm, svi
from hedgemesh.quant.history import as_prices, historical_paths
from hedgemesh.quant.paths import GBM, Heston
from hedgemesh.quant.surface import VolSurface

DAY = 1.0 / 365.0


def gbm_market(n=2000, steps=30, seed=11, rate=0.03, div=0.0, sigma=0.2, vol=None):
    paths = GBM(mu=0.05, sigma=sigma).simulate(100.0, DAY, steps, n, np.random.default_rng(seed))
    return MarketPaths.of(paths, rate=rate, div=div, vol=sigma if vol is None else vol)


SHORT_CALL = single_option(strike=100.0, expiry=30 * DAY, quantity=-100.0)
EVERY_POLICY = [
    NoHedge(),
    DeltaInterval(),
    DeltaInterval(interval_days=5, name="delta-5d"),
    DeltaMove(threshold=0.01),
    DeltaBand(half_width=5.0),
    WhalleyWilmott(cost=0.001, risk_aversion=0.01),
    Zakamouline(cost=0.001, risk_aversion=0.01),
    Leland(round_trip_cost=0.002),
    DeltaGamma(hedge=HedgeOption(tenor_days=60)),
    DeltaGamma(hedge=HedgeOption(tenor_days=20, roll_days=1), name="dg-rolled"),
    DeltaGamma(gamma_band=1.0, name="dg-band"),
    DeltaGammaVega(),
    PortfolioInsurance(),
]
COSTS = CompositeCost(
    (NotionalCost(stock_rate=0.0005, option_rate=0.0002), PremiumCost(0.01), FixedCost(0.5, 1.0))
)


def test_given_no_hedge_then_pnl_is_the_premium_with_interest_less_the_payoff():
    m = gbm_market(rate=0.03)
    r = engine.run(m, SHORT_CALL, NoHedge())
    premium = 100.0 * float(bsm.price(100.0, 100.0, 30 * DAY, 0.03, 0.0, 0.2, True))
    payoff = 100.0 * np.maximum(m.spot[:, -1] - 100.0, 0.0)
    expected = premium * math.exp(0.03 * 30 * DAY) - payoff
    np.testing.assert_allclose(r.pnl, expected, rtol=1e-12, atol=1e-9)
    assert not r.turnover.any() and not r.cost.any() and not r.n_trades.any()
    assert r.discount == pytest.approx(math.exp(-0.03 * 30 * DAY), rel=1e-15)


@pytest.mark.parametrize("costs", [None, CompositeCost(()), NotionalCost()])
def test_given_zero_costs_then_costs_are_zero(costs):
    r = engine.run(gbm_market(n=300), SHORT_CALL, DeltaGamma(), costs)
    assert not r.cost.any()
    assert r.turnover.min() > 0.0


def test_pnl_splits_exactly_into_book_hedge_carry_and_costs_for_every_policy():
    m = gbm_market(n=500, rate=0.04, div=0.02)
    book = StaticBook(
        options=(
            OptionPosition(quantity=-100.0, strike=100.0, expiry=30 * DAY),
            OptionPosition(quantity=50.0, moneyness=0.95, expiry=12.5 * DAY, is_call=False),
            OptionPosition(quantity=-30.0, strike=110.0, expiry=90 * DAY),
        ),
        underlying=20.0,
    )
    results = engine.compare(m, book, EVERY_POLICY, COSTS)
    assert list(results) == [p.name for p in EVERY_POLICY]
    for r in results.values():
        parts = r.book_pnl + r.hedge_pnl + r.carry - r.cost
        scale = 1.0 + np.abs(r.book_pnl) + np.abs(r.hedge_pnl) + r.turnover  # flows through cash
        assert np.max(np.abs(r.pnl - parts) / scale) < 1e-12, r.name
        assert np.all(np.isfinite(r.pnl))


def test_compare_gives_each_policy_exactly_what_it_gets_alone():
    m = gbm_market(n=400)
    together = engine.compare(m, SHORT_CALL, EVERY_POLICY[:6], COSTS)
    for policy in EVERY_POLICY[:6]:
        alone = engine.run(m, SHORT_CALL, policy, COSTS)
        assert np.array_equal(alone.pnl, together[policy.name].pnl)
        assert np.array_equal(alone.cost, together[policy.name].cost)


def test_compare_refuses_two_policies_with_one_name_and_takes_a_mapping():
    m = gbm_market(n=50, steps=5)
    with pytest.raises(ValueError, match="distinct names"):
        engine.compare(m, SHORT_CALL, [DeltaInterval(), DeltaInterval(interval_days=2)])
    out = engine.compare(m, SHORT_CALL, {"a": DeltaInterval(), "b": NoHedge()})
    assert list(out) == ["a", "b"] and out["a"].name == "a"


def test_proportional_stock_cost_is_its_rate_times_the_stock_turnover():
    r = engine.run(gbm_market(n=300), SHORT_CALL, DeltaInterval(), NotionalCost(stock_rate=0.002))
    np.testing.assert_allclose(r.cost, 0.002 * r.turnover, rtol=1e-13)
    assert (r.n_trades <= 30).all() and r.n_trades.mean() > 29  # daily, unless delta is still 0


def test_given_more_frequent_hedging_then_the_hedged_pnl_is_tighter():
    m = gbm_market(n=3000, steps=30)
    out = engine.compare(
        m,
        SHORT_CALL,
        [NoHedge(), DeltaInterval(interval_days=10, name="10d"), DeltaInterval(name="1d")],
    )
    stds = [out[k].pnl.std() for k in ("no_hedge", "10d", "1d")]
    assert stds[0] > 2 * stds[1] > 2 * stds[2]


def test_band_policy_leaves_net_delta_inside_its_band_after_every_decision():
    m = gbm_market(n=200)
    r = engine.run(m, SHORT_CALL, DeltaBand(half_width=3.0), samples=range(200))
    for s in r.samples:
        assert np.all(np.abs(s.net_delta) <= 3.0 + 1e-9)
        moved = s.trades[:, 0] != 0.0
        assert np.allclose(np.abs(s.net_delta[moved]), 3.0)  # trades end on the edge
    assert 0 < r.n_trades.mean() < 30


def test_sample_path_tells_the_story_of_that_path():
    m = gbm_market(n=100, rate=0.0)
    r = engine.run(m, SHORT_CALL, DeltaInterval(), samples=[3, 7])
    s = r.samples[1]
    assert s.path == 7 and np.array_equal(s.spot, m.spot[7])
    assert s.wealth[-1] == pytest.approx(r.pnl[7], rel=1e-12)
    np.testing.assert_allclose(s.holdings[:, 0], -s.book_delta, rtol=1e-14)
    np.testing.assert_allclose(np.cumsum(s.trades[:, 0]), s.holdings[:, 0], rtol=1e-9, atol=1e-9)
    assert s.instruments == ("underlying",)
    assert r.mean_holdings.shape == (30, 1)


def test_a_daily_rolled_hedge_option_is_closed_and_reopened_every_day():
    m = gbm_market(n=100)
    policy = DeltaGamma(hedge=HedgeOption(tenor_days=20, roll_days=1, max_drift=None))
    r = engine.run(m, SHORT_CALL, policy, COSTS, samples=[0])
    s = r.samples[0]
    # every day but the first, the option bought the day before is sold back before the decision
    np.testing.assert_allclose(s.closed[1:, 1], -s.holdings[:-1, 1], rtol=1e-14)
    assert s.closed[0, 1] == 0.0 and not s.closed[:, 0].any()
    assert (r.n_trades >= 2 * 30 - 1).all()
    assert r.instruments == ("underlying", "20d-100%-C")


def test_a_hedge_option_left_to_expire_settles_at_intrinsic_value_without_cost():
    m = gbm_market(n=200, steps=20)
    hedge = HedgeOption(tenor_days=10, min_life_days=0.0, max_drift=None)
    r = engine.run(m, SHORT_CALL, DeltaGamma(hedge=hedge), FixedCost(option_fee=1.0))
    parts = r.book_pnl + r.hedge_pnl + r.carry - r.cost
    np.testing.assert_allclose(r.pnl, parts, rtol=1e-12, atol=1e-8)


def test_an_option_expiring_between_two_times_settles_at_the_later_one():
    m = gbm_market(n=50, steps=10, rate=0.0)
    book = single_option(strike=100.0, expiry=4.5 * DAY, quantity=-1.0)
    r = engine.run(m, book, NoHedge())
    premium = float(bsm.price(100.0, 100.0, 4.5 * DAY, 0.0, 0.0, 0.2, True))
    np.testing.assert_allclose(r.pnl, premium - np.maximum(m.spot[:, 5] - 100.0, 0.0), rtol=1e-12)


def test_dividends_are_paid_on_the_underlying_held():
    m = gbm_market(n=10, steps=5, rate=0.0, div=0.05)
    r = engine.run(m, StaticBook(underlying=100.0), NoHedge())
    expected = 100.0 * (m.spot[:, :-1] * math.expm1(0.05 * DAY)).sum(axis=1)
    np.testing.assert_allclose(r.carry, expected, rtol=1e-12)
    np.testing.assert_allclose(r.book_pnl, 100.0 * (m.spot[:, -1] - m.spot[:, 0]), rtol=1e-12)


def test_a_poisson_book_is_hedged_path_by_path_and_still_adds_up():
    m = gbm_market(n=300, steps=40)
    book = PoissonBook(trades_per_year=100.0, seed=5)
    policies = [NoHedge(), DeltaInterval(), DeltaGammaVega()]
    for r in engine.compare(m, book, policies, COSTS).values():
        parts = r.book_pnl + r.hedge_pnl + r.carry - r.cost
        np.testing.assert_allclose(r.pnl, parts, rtol=1e-12, atol=1e-7)
    out = engine.compare(m, book, policies)  # frictionless: risk only
    assert out["delta_interval"].pnl.std() < 0.5 * out["no_hedge"].pnl.std()
    assert out["delta_gamma_vega"].pnl.std() < out["delta_interval"].pnl.std()


def test_path_vol_and_heston_vol_mark_options_with_each_paths_variance():
    model = Heston(kappa=2.0, theta=0.04, xi=0.3, rho=-0.7, v0=0.09)
    paths = model.simulate(100.0, DAY, 20, 300, np.random.default_rng(2))
    heston = HestonVol.of(paths, model)
    spot = paths.spot[:, 5]
    tau = np.array([[0.0, 0.25]])
    vols = heston.option_vols(5, spot, np.array([[100.0, 100.0]]), tau, 0.0)
    v = paths.variance[:, 5]
    x = 2.0 * 0.25
    np.testing.assert_allclose(vols[:, 0], np.sqrt(v), rtol=1e-12)
    np.testing.assert_allclose(vols[:, 1], np.sqrt(0.04 + (v - 0.04) * -np.expm1(-x) / x))
    instantaneous = PathVol.of(paths)
    assert np.array_equal(instantaneous.reference(5, spot, np.zeros(300), 0.0), np.sqrt(v))
    for vol in (heston, instantaneous):
        m = MarketPaths.of(paths, rate=0.01, vol=vol)
        r = engine.run(m, SHORT_CALL, DeltaGamma())
        np.testing.assert_allclose(r.pnl, r.book_pnl + r.hedge_pnl + r.carry - r.cost, atol=1e-8)


def test_surface_vol_is_read_sticky_in_moneyness():
    t = np.array([0.25, 1.0])
    params = [svi.SviParams(a=0.03 * x, b=0.1 * x, rho=-0.5, m=0.0, sigma=0.2) for x in t]
    surface = VolSurface(t, params, spot=100.0, rate=0.02)
    source = SurfaceVol(surface)
    spot = np.array([100.0, 80.0])
    strike = np.array([[90.0], [72.0]])  # the same moneyness on both paths
    vols = source.option_vols(0, spot, strike, np.full((2, 1), 0.5), 0.02)
    assert vols[0, 0] == pytest.approx(vols[1, 0], rel=1e-14)
    k = math.log(90.0 / (100.0 * math.exp(0.02 * 0.5)))
    assert vols[0, 0] == pytest.approx(float(surface.implied_vol_k(k, 0.5)), rel=1e-14)
    m = gbm_market(n=200, vol=surface)
    assert isinstance(m.vol, SurfaceVol)
    r = engine.run(m, SHORT_CALL, Zakamouline(cost=0.001, risk_aversion=0.01))
    np.testing.assert_allclose(r.pnl, r.book_pnl + r.hedge_pnl + r.carry - r.cost, atol=1e-8)


def test_with_gap_moves_every_price_from_the_step_on():
    spot = np.full((2, 5), 100.0)
    gapped = with_gap(spot, 3, -0.2)
    assert np.array_equal(gapped[:, :3], spot[:, :3]) and np.allclose(gapped[:, 3:], 80.0)
    with pytest.raises(ValueError):
        with_gap(spot, 0, -0.2)
    with pytest.raises(ValueError):
        with_gap(spot, 2, -1.0)


def test_market_paths_refuses_bad_input():
    good = np.full((3, 4), 100.0)
    times = np.arange(4.0) * DAY
    with pytest.raises(ValueError):
        MarketPaths(good[:, :1], times[:1])
    with pytest.raises(ValueError):
        MarketPaths(good, times[::-1])
    with pytest.raises(ValueError):
        MarketPaths(np.where(good > 0, np.nan, 0.0), times)
    with pytest.raises(ValueError):
        MarketPaths(good, times, rate=float("inf"))
    with pytest.raises(ValueError):
        ConstantVol(-0.1)
    with pytest.raises(ValueError):
        MarketPaths.of(GBM(sigma=0.2).simulate(1.0, DAY, 2, 2, np.random.default_rng(0)), vol="x")


def test_subset_replays_some_paths_of_a_market():
    m = gbm_market(n=20, steps=10)
    sub = m.subset([4])
    alone = engine.run(sub, SHORT_CALL, DeltaMove(threshold=0.005))
    full = engine.run(m, SHORT_CALL, DeltaMove(threshold=0.005))
    assert alone.pnl[0] == pytest.approx(full.pnl[4], rel=1e-13)


def test_historical_windows_from_a_price_series_are_backtested_like_simulated_paths():
    rng = np.random.default_rng(9)
    closes = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.012, 400)))
    paths = historical_paths(as_prices(closes, dt=1 / 252), window=30, stride=5, rebase=100.0)
    m = MarketPaths.of(paths, rate=0.02, vol=0.19)
    assert m.n_paths == paths.n_paths and np.array_equal(m.times, paths.times)
    out = engine.compare(m, SHORT_CALL, [NoHedge(), DeltaInterval()])
    assert out["delta_interval"].pnl.std() < 0.5 * out["no_hedge"].pnl.std()


def test_summary_reports_the_issues_figures():
    r = engine.run(gbm_market(n=500), SHORT_CALL, DeltaInterval(), COSTS)
    s = r.summary()
    for key in ("mean", "std", "var95", "cvar95", "var99", "cvar99", "cost_mean", "turnover"):
        assert math.isfinite(s[key])
    assert s["cost_mean"] == pytest.approx(r.cost.mean())
    assert s["trades_mean"] == pytest.approx(r.n_trades.mean())
    assert np.array_equal(r.pnl_pv, r.pnl * r.discount)
