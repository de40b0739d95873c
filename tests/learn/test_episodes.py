"""The training layout is the engine's accounting: with a ladder, an episode's P&L is linear in
the trades, and the rollout of a rule on the laid-out arrays gives the engine's P&L to
rounding, for a fixed fraction, a gamma band and a vega rule on SABR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hedgemesh.backtest import engine, load_config
from hedgemesh.backtest.runner import build_market
from hedgemesh.learn.episodes import build_episodes, check_trainable, ladder_option, lay_out
from hedgemesh.learn.rollout import rollout
from hedgemesh.policies import DeltaGamma, DeltaVega
from hedgemesh.policies.learned import spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "backtest"
SCALE = 100.0


def _setup(name: str, n: int = 300):
    config = load_config(EXAMPLES / name, n_paths=n)
    market = build_market(config)
    book = config.book.book(config.seed).materialise(market)
    hedge_name = next(iter(config.hedge_options))
    return config, market, book, ladder_option(config, hedge_name)


def _fraction(f):
    def decide(step, raw):
        return f * spec.features(("gamma_trade",), **raw, **_scales())[0]

    return decide


def _scales():
    return {"scale": SCALE, "episode": 1.0, "vol_ref": 0.3}


@pytest.mark.parametrize("fraction", [1.0, 0.4])
def test_the_rollout_of_a_fixed_fraction_is_the_engines_pnl(fraction):
    config, market, book, hedge = _setup("cao-gbm.yaml")
    episodes = lay_out(market, book, hedge, config.cost_model())
    pnl, trades = rollout(episodes, _fraction(fraction), SCALE)
    result = engine.run(
        market, book, DeltaGamma(hedge=hedge, fraction=fraction), config.cost_model()
    )
    np.testing.assert_allclose(pnl, result.pnl, rtol=1e-9, atol=1e-9)
    assert len(trades) == market.n_steps


def test_the_rollout_of_a_gamma_band_is_the_engines_pnl():
    config, market, book, hedge = _setup("cao-gbm.yaml")
    episodes = lay_out(market, book, hedge, config.cost_model())
    band = 8.0

    def decide(step, raw):
        net, g = raw["net_gamma"], raw["option_gamma"]
        return -(net - spec.clip(net, -band, band)) / g / SCALE

    pnl, _ = rollout(episodes, decide, SCALE)
    result = engine.run(market, book, DeltaGamma(hedge=hedge, gamma_band=band), config.cost_model())
    np.testing.assert_allclose(pnl, result.pnl, rtol=1e-9, atol=1e-9)


def test_on_sabr_the_vega_of_the_rungs_is_carried_and_a_vega_rule_matches_the_engine():
    config, market, book, hedge = _setup("cao-sabr.yaml")
    episodes = lay_out(market, book, hedge, config.cost_model(), with_vega=True)

    def decide(step, raw):
        return 0.5 * spec.features(("vega_trade",), **raw, **_scales())[0]

    pnl, _ = rollout(episodes, decide, SCALE)
    result = engine.run(market, book, DeltaVega(hedge=hedge, fraction=0.5), config.cost_model())
    np.testing.assert_allclose(pnl, result.pnl, rtol=1e-9, atol=1e-9)


def test_training_episodes_come_from_their_own_stream_and_are_float32_by_default():
    config = load_config(EXAMPLES / "cao-gbm.yaml", n_paths=50)
    hedge = ladder_option(config, "atm30")
    a = build_episodes(
        config, hedge, 40, np.random.default_rng(np.random.SeedSequence(7).spawn(1)[0])
    )
    b = build_episodes(
        config, hedge, 40, np.random.default_rng(np.random.SeedSequence(7).spawn(1)[0])
    )
    market = build_market(config)
    book = config.book.book(config.seed).materialise(market)
    held_out = lay_out(market, book, hedge, config.cost_model())
    assert a.gamma.dtype == np.float32 and a.n == 40 and a.steps == 30
    np.testing.assert_array_equal(a.gain, b.gain)  # seeded
    assert not np.isin(a.base, held_out.base).any()  # no episode of the held-out set
    assert a.take(np.array([3, 5])).n == 2


def test_what_training_cannot_express_is_refused():
    config = load_config(EXAMPLES / "cao-gbm.yaml", n_paths=50)
    raw = config.model_dump(exclude_unset=True) | {"policies": [{"kind": "no_hedge"}]}
    with pytest.raises(ValueError, match="ladder"):
        hedges = {**raw["hedge_options"], "x": {"tenor_days": 30}}
        ladder_option(type(config).model_validate({**raw, "hedge_options": hedges}), "x")
    for change, says in [
        ({"market": {"rate": 0.01, "vol": 0.3}}, "rate"),
        ({"costs": {"notional": {"stock_rate": 0.001}}}, "stock"),
        ({"costs": {"fixed": {"option_fee": 1.0}}}, "proportional"),
    ]:
        with pytest.raises(ValueError, match=says):
            check_trainable(type(config).model_validate({**raw, **change}))
