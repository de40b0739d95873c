"""Published results the engine must reproduce (seeded Monte Carlo, with its error)."""

from __future__ import annotations

import numpy as np
import pytest

from hedgemesh.backtest import engine
from hedgemesh.backtest.books import insured_portfolio, single_option
from hedgemesh.backtest.costs import PremiumCost
from hedgemesh.backtest.instruments import MarketPaths, with_gap
from hedgemesh.policies import DeltaGamma, DeltaInterval, HedgeOption, PortfolioInsurance
from hedgemesh.quant import bsm
from hedgemesh.quant.paths import GBM

HALF_ROUNDING = 0.005
"""Hull prints the ratios to two decimals."""


@pytest.fixture(scope="module")
def hull_table() -> dict[float, engine.StdCostRatio]:
    return engine.hull_delta_hedging(n_paths=20_000, seed=7)


@pytest.mark.parametrize(("weeks", "published"), sorted(engine.HULL_PUBLISHED.items()))
def test_hull_std_of_hedging_cost_over_price_is_within_monte_carlo_error(
    hull_table, weeks, published
):
    got = hull_table[weeks]
    assert 0.0 < got.stderr < 0.01
    assert abs(got.ratio - published) <= 4.0 * got.stderr + HALF_ROUNDING, (weeks, got)


def test_hull_ratio_decays_like_one_over_root_n(hull_table):
    ratios = np.array([hull_table[w].ratio for w in (4.0, 1.0, 0.25)])
    # 4 times the rebalances halves the ratio (the familiar 1/√n), within 10 %
    assert ratios[1] / ratios[0] == pytest.approx(0.5, rel=0.1)
    assert ratios[2] / ratios[1] == pytest.approx(0.5, rel=0.1)


@pytest.fixture(scope="module")
def atm_market() -> MarketPaths:
    paths = GBM(mu=0.08, sigma=0.2).simulate(100.0, 1 / 365, 60, 10_000, np.random.default_rng(1))
    return MarketPaths.of(paths, rate=0.02, vol=0.2)


SHORT_ATM = single_option(strike=100.0, expiry=60 / 365, quantity=-100.0)
POLICIES = [DeltaInterval(), DeltaGamma(hedge=HedgeOption(tenor_days=90, max_drift=None))]


def _stds_and_rms(market, option_cost):
    costs = PremiumCost(option_rate=option_cost) if option_cost else None
    out = engine.compare(market, SHORT_ATM, POLICIES, costs, samples=())
    delta, gamma = out["delta_interval"].pnl, out["delta_gamma"].pnl
    return (
        (delta.std(), gamma.std()),
        (np.sqrt(np.mean(delta**2)), np.sqrt(np.mean(gamma**2))),
    )


def test_delta_gamma_removes_most_of_the_variance_left_by_delta_hedging(atm_market):
    (delta_std, gamma_std), _ = _stds_and_rms(atm_market, 0.0)
    assert gamma_std**2 < 0.1 * delta_std**2


def test_the_gap_narrows_as_proportional_option_costs_grow(atm_market):
    gaps_std, gaps_rms = [], []
    for cost in (0.0, 0.005, 0.01, 0.02, 0.04):
        (d_std, g_std), (d_rms, g_rms) = _stds_and_rms(atm_market, cost)
        gaps_std.append(d_std - g_std)
        gaps_rms.append(d_rms - g_rms)
    assert np.all(np.diff(gaps_std) < 0.0), gaps_std
    assert np.all(np.diff(gaps_rms) < 0.0), gaps_rms
    assert gaps_rms[-1] < 0.0  # at 4 % of premium, delta hedging alone is better


def _insured(gap: float | None):
    units, strike, expiry, step = 1000.0, 95.0, 90 / 365, 45
    rng = np.random.default_rng(5)
    paths = GBM(mu=0.07, sigma=0.2).simulate(100.0, 1 / 365, 90, 4000, rng)
    spot = paths.spot if gap is None else with_gap(paths.spot, step, gap)
    market = MarketPaths(spot, paths.times, rate=0.03, vol=0.2)
    book = insured_portfolio(units=units, strike=strike, expiry=expiry)
    result = engine.run(market, book, PortfolioInsurance(), samples=())
    premium = units * float(bsm.price(100.0, strike, expiry, 0.03, 0.0, 0.2, False))
    return result, market, premium


def test_portfolio_insurance_replicates_the_protective_put_when_prices_move_smoothly():
    result, _, premium = _insured(None)
    shortfall = -result.pnl
    assert abs(shortfall.mean()) < 0.02 * premium
    assert shortfall.std() < 0.25 * premium


def test_a_gap_makes_the_replication_fall_short_by_the_puts_convexity_over_the_jump():
    result, market, premium = _insured(-0.2)
    shortfall = -result.pnl * result.discount
    assert np.all(shortfall > 0.0)
    # the replication holds N(1 + Δ_put(S⁻)) shares through the jump S⁻ → S⁺ it cannot trade
    # in; what it owes moves by N(ΔS + P(S⁺) − P(S⁻)): the shortfall is the convexity gap
    before, after = market.spot[:, 44], market.spot[:, 45]
    tau0, tau1 = (90 - 44) / 365, (90 - 45) / 365
    put0 = bsm.greeks(before, 95.0, tau0, 0.03, 0.0, 0.2, False)
    put1 = bsm.price(after, 95.0, tau1, 0.03, 0.0, 0.2, False)
    convexity = 1000.0 * (put1 - put0.price - put0.delta * (after - before))
    assert shortfall.mean() == pytest.approx(convexity.mean(), rel=0.03)
    assert shortfall.mean() > 3.0 * premium
