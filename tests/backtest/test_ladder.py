"""A ladder of freshly struck hedge options (Cao et al.'s benchmark): rungs held to the end,
their greeks in the book the policy sees, the accounting by hand, and the published
baselines reproduced within Monte Carlo error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hedgemesh.backtest import engine, load_config, run_config
from hedgemesh.backtest.books import single_option
from hedgemesh.backtest.costs import PremiumCost
from hedgemesh.backtest.instruments import MarketPaths
from hedgemesh.policies import DeltaGamma, DeltaVega, HedgeOption, roll_due
from hedgemesh.quant import bsm

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "backtest"
DAY = 1.0 / 365.0
LADDER = HedgeOption(tenor_days=30.0, ladder=True)


def _market(spots: list[list[float]], vol: float = 0.3) -> MarketPaths:
    s = np.asarray(spots, dtype=np.float64)
    return MarketPaths(s, np.arange(s.shape[1]) * DAY, vol=vol)


def test_a_ladder_is_due_at_every_decision_and_refuses_a_roll_period():
    assert roll_due(LADDER, np.array([0.0, np.nan]), np.array([1.0, 1.0]), 0.5).all()
    assert LADDER.label == "30d-100%-C-ladder"
    with pytest.raises(ValueError, match="ladder"):
        HedgeOption(tenor_days=30.0, ladder=True, roll_days=1.0)


def test_the_ladders_pnl_is_what_a_hand_computation_of_cao_s_delta_gamma_gives():
    """Two decisions on one path: gamma-neutral with a fresh option each day, the first rung
    held; every figure recomputed here with bsm alone."""
    spots = [100.0, 103.0, 98.0]
    market = _market([spots])
    book = single_option(strike=100.0, expiry=60 * DAY, quantity=-100.0)
    costs = PremiumCost(option_rate=0.01)
    result = engine.run(market, book, DeltaGamma(hedge=LADDER), costs)

    def g(s, k, days):
        return bsm.greeks(s, k, days * DAY, 0.0, 0.0, 0.3, True)

    # day 0: buy q0 of the 30-day call struck at 100
    b0, h0 = g(100.0, 100.0, 60), g(100.0, 100.0, 30)
    q0 = 100.0 * b0.gamma / h0.gamma
    u0 = -(-100.0 * b0.delta + q0 * h0.delta)
    # day 1: the rung (29 days) is in the book; buy q1 of a fresh one struck at 103
    b1, r1, h1 = g(103.0, 100.0, 59), g(103.0, 100.0, 29), g(103.0, 103.0, 30)
    q1 = -(-100.0 * b1.gamma + q0 * r1.gamma) / h1.gamma
    u1 = -(-100.0 * b1.delta + q0 * r1.delta + q1 * h1.delta)
    # day 2: everything marked
    b2, r2a, r2b = g(98.0, 100.0, 58), g(98.0, 100.0, 28), g(98.0, 103.0, 29)
    book_pnl = -100.0 * (b2.price - b0.price)
    hedge_pnl = q0 * (r2a.price - h0.price) + q1 * (r2b.price - h1.price)
    hedge_pnl += u0 * (103.0 - 100.0) + u1 * (98.0 - 103.0)
    cost = 0.01 * (abs(q0) * h0.price + abs(q1) * h1.price)
    assert result.cost[0] == pytest.approx(cost, rel=1e-12)
    assert result.book_pnl[0] == pytest.approx(book_pnl, rel=1e-12)
    assert result.hedge_pnl[0] == pytest.approx(hedge_pnl, rel=1e-10)
    assert result.pnl[0] == pytest.approx(book_pnl + hedge_pnl - cost, rel=1e-10)
    assert result.n_trades[0] == 4  # stock and a fresh option on each day


def test_with_a_ladder_the_fresh_option_is_held_at_zero_and_the_trades_make_gamma_neutral():
    market = _market([[100.0, 101.0, 99.5, 100.5, 102.0]])
    book = single_option(strike=100.0, expiry=60 * DAY, quantity=-100.0)
    result = engine.run(market, book, DeltaGamma(hedge=LADDER), samples=(0,))
    sample = result.samples[0]
    assert np.all(sample.trades[:, 1] != 0.0)  # a new rung every day
    assert np.allclose(sample.net_delta, 0.0, atol=1e-9)
    assert result.pnl[0] == pytest.approx(
        result.book_pnl[0] + result.hedge_pnl[0] + result.carry[0] - result.cost[0], rel=1e-12
    )


def test_delta_vega_with_one_option_makes_the_net_vega_zero():
    market = _market([[100.0, 101.0, 99.0]])
    book = single_option(strike=100.0, expiry=60 * DAY, quantity=-100.0)
    policy = DeltaVega(hedge=HedgeOption(tenor_days=90.0, ladder=True))
    result = engine.run(market, book, policy, samples=(0,))
    # with a ladder the only rung of day 0 offsets the book's vega: day 1 trades little
    trades = result.samples[0].trades[:, 1]
    assert abs(trades[1]) < 0.1 * abs(trades[0])


# -- Cao et al.'s published baselines -----------------------------------------------------------

PUBLISHED_DELTA = {"mean": 0.05, "std": 14.99}
PUBLISHED_DELTA_GAMMA = {  # premium cost: (mean − 1.645 std, CVaR95 as a P&L)
    0.005: (-5.78, -7.13),
    0.01: (-9.93, -11.55),
    0.02: (-18.74, -21.10),
}
PUBLISHED_EPISODES = 5_000
SMALL = 4_000
Z = 4.0
"""Both samples are random: our estimate's standard error at SMALL paths and theirs at 5,000
episodes (from our sample's dispersion) combine; a difference under Z of them passes."""


def _combined(stderr: float) -> float:
    return stderr * float(np.sqrt(1.0 + SMALL / PUBLISHED_EPISODES))


@pytest.mark.parametrize("rate", sorted(PUBLISHED_DELTA_GAMMA))
def test_cao_gbm_reproduces_the_published_delta_gamma_baselines(rate):
    config = load_config(EXAMPLES / "cao-gbm.yaml", n_paths=SMALL)
    raw = config.model_dump(exclude_unset=True)
    raw["costs"] = {"premium": {"option_rate": rate}}
    raw["policies"] = [p for p in raw["policies"] if p["name"] in ("delta", "delta-gamma")]
    raw["plots"] = {"enabled": False}
    run = run_config(type(config).model_validate(raw))
    entry = run.report["policies"]["delta-gamma"]
    score, cvar = PUBLISHED_DELTA_GAMMA[rate]
    se = _combined(entry["mean_minus_k_std_stderr"])
    assert abs(entry["mean_minus_k_std"] - score) <= Z * se, (entry["mean_minus_k_std"], se)
    se = _combined(entry["cvar95_stderr"])
    assert abs(-entry["cvar95"] - cvar) <= Z * se, (entry["cvar95"], se)
    delta = run.report["policies"]["delta"]
    assert abs(delta["mean"] - PUBLISHED_DELTA["mean"]) <= Z * _combined(delta["stderr_mean"])
    assert abs(delta["std"] - PUBLISHED_DELTA["std"]) <= Z * _combined(delta["std_stderr"])


def test_cao_gbm_compares_the_baselines_tuned_where_its_learned_policy_was_trained():
    config = load_config(EXAMPLES / "cao-gbm.yaml", n_paths=SMALL)
    policies = config.built_policies()
    learned = policies["learned"]
    tuned = learned.loaded.manifest["baselines"]  # type: ignore[attr-defined]
    assert policies["tuned-band"].gamma_band == tuned["tuned_band"]["gamma_band"]
    assert policies["fixed-ratio"].fraction == tuned["tuned_fraction"]["fraction"]
    assert learned.hedge_options == policies["delta-gamma"].hedge_options
