"""Published results the engine must reproduce (seeded Monte Carlo, with its error)."""

from __future__ import annotations

import numpy as np
import pytest

from hedgemesh.backtest import engine
from hedgemesh.backtest.books import single_option
from hedgemesh.backtest.costs import PremiumCost
from hedgemesh.backtest.instruments import MarketPaths
from hedgemesh.policies import DeltaGamma, DeltaInterval, HedgeOption
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
