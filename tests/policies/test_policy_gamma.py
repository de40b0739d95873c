"""Delta–gamma and delta–gamma–vega decisions on hand-checked states."""

from __future__ import annotations

import numpy as np
import pytest
from policy_states import col, state

from hedgemesh.policies import DeltaGamma, DeltaGammaVega, HedgeOption
from hedgemesh.policies.gamma import MIN_GAMMA_TIMES_SPOT

# Book: delta −30, gamma −4, vega −100. Option 1 per unit: delta 0.5, gamma 0.05, vega 0.1.
BOOK = {"book_delta": -30.0, "book_gamma": -4.0, "book_vega": -100.0}
OPT1 = {"option_delta": [0.5], "option_gamma": [0.05], "option_vega": [0.1]}


def test_full_delta_gamma_is_gamma_then_delta_neutral():
    s = state(**BOOK, **OPT1, holdings=[0.0, 0.0])
    d = DeltaGamma().decide(s)
    assert d.target[0, 1] == pytest.approx(80.0, rel=1e-14)  # −(−4) / 0.05
    assert d.target[0, 0] == pytest.approx(30.0 - 80.0 * 0.5, rel=1e-14)
    net = s.net(d.target)
    assert net.gamma[0] == pytest.approx(0.0, abs=1e-12)
    assert net.delta[0] == pytest.approx(0.0, abs=1e-12)


def test_partial_delta_gamma_neutralises_the_fraction_of_gamma():
    d = DeltaGamma(fraction=0.5).decide(state(**BOOK, **OPT1, holdings=[0.0, 0.0]))
    assert d.target[0, 1] == pytest.approx(40.0, rel=1e-14)
    assert d.target[0, 0] == pytest.approx(10.0, rel=1e-14)


def test_gamma_band_trades_options_only_outside_and_only_back_to_the_edge():
    # held 50 options: net gamma −4 + 2.5 = −1.5, outside ±1: to the edge −1 at 60 options;
    # held 70: net −0.5, inside: kept; held 100: net +1, on the edge: kept.
    s = state(**BOOK, **OPT1, holdings=[[0.0, 50.0], [0.0, 70.0], [0.0, 100.0]])
    d = DeltaGamma(gamma_band=1.0).decide(s)
    assert d.target[:, 1] == pytest.approx(col(60.0, 70.0, 100.0), rel=1e-14)
    assert s.net(d.target).gamma == pytest.approx(col(-1.0, -0.5, 1.0), rel=1e-12)
    assert s.net(d.target).delta == pytest.approx(np.zeros(3), abs=1e-12)
    assert DeltaGamma(gamma_band=1.0).trigger == "band_breach"


def test_given_an_option_without_gamma_when_delta_gamma_then_its_holding_is_kept():
    s = state(
        **BOOK,
        option_delta=[1.0],
        option_gamma=[0.5 * MIN_GAMMA_TIMES_SPOT / 100.0],
        option_vega=[0.0],
        holdings=[0.0, 7.0],
    )
    d = DeltaGamma().decide(s)
    assert d.target[0, 1] == 7.0
    assert d.target[0, 0] == 30.0 - 7.0


def test_delta_gamma_on_an_interval_keeps_holdings_between_rebalances():
    s = state(**BOOK, **OPT1, holdings=[1.0, 2.0], time=1.0 / 365.0, last_time=0.0)
    d = DeltaGamma(interval_days=2).decide(s)
    assert np.array_equal(d.target, s.holdings) and not d.rebalance[0]


def test_delta_gamma_vega_solves_the_two_by_two_system():
    s = state(
        **BOOK,
        option_delta=[0.5, 0.4],
        option_gamma=[0.05, 0.02],
        option_vega=[0.1, 0.3],
        holdings=[0.0, 0.0, 0.0],
    )
    d = DeltaGammaVega().decide(s)
    det = 0.05 * 0.3 - 0.02 * 0.1
    assert d.target[0, 1] == pytest.approx((-100.0 * 0.02 + 4.0 * 0.3) / det, rel=1e-13)
    assert d.target[0, 2] == pytest.approx((-4.0 * 0.1 + 100.0 * 0.05) / det, rel=1e-13)
    net = s.net(d.target)
    assert net.delta[0] == pytest.approx(0.0, abs=1e-10)
    assert net.gamma[0] == pytest.approx(0.0, abs=1e-12)
    assert net.vega[0] == pytest.approx(0.0, abs=1e-10)


def test_given_two_options_of_the_same_risk_when_delta_gamma_vega_then_options_are_kept():
    s = state(
        **BOOK,
        option_delta=[0.5, 1.0],
        option_gamma=[0.05, 0.1],
        option_vega=[0.1, 0.2],
        holdings=[[0.0, 3.0, -2.0], [0.0, 3.0, -2.0]],
    )
    d = DeltaGammaVega().decide(s)
    assert np.array_equal(d.target[:, 1:], s.holdings[:, 1:])
    assert d.target[0, 0] == 30.0 - (3.0 * 0.5 - 2.0 * 1.0)
    assert np.isfinite(d.target).all()


def test_vectorised_decision_equals_one_path_at_a_time():
    rng = np.random.default_rng(4)
    n = 64
    gamma = rng.uniform(-6.0, 6.0, n)
    vega = rng.uniform(-200.0, 200.0, n)
    delta = rng.uniform(-50.0, 50.0, n)
    held = rng.uniform(-20.0, 20.0, (n, 3))
    kwargs = {"option_delta": [0.5, 0.4], "option_gamma": [0.05, 0.02], "option_vega": [0.1, 0.3]}
    all_paths = state(book_delta=delta, book_gamma=gamma, book_vega=vega, holdings=held, **kwargs)
    together = DeltaGammaVega().decide(all_paths).target
    for p in range(n):
        one = state(
            book_delta=delta[p], book_gamma=gamma[p], book_vega=vega[p], holdings=held[p], **kwargs
        )
        assert np.array_equal(DeltaGammaVega().decide(one).target[0], together[p])


@pytest.mark.parametrize(
    "make",
    [
        lambda: DeltaGamma(fraction=1.5),
        lambda: DeltaGamma(gamma_band=-1.0),
        lambda: DeltaGamma(gamma_band=1.0, fraction=0.5),
        lambda: DeltaGammaVega(hedges=(HedgeOption(),)),
        lambda: DeltaGamma(hedge={"tenor_days": 30}),
    ],
)
def test_given_bad_parameters_then_gamma_policies_refuse(make):
    with pytest.raises((ValueError, TypeError)):
        make()


def test_hedge_options_name_the_instrument_columns():
    assert DeltaGamma().n_instruments == 2
    assert DeltaGammaVega().n_instruments == 3
    assert [h.tenor_days for h in DeltaGammaVega().hedge_options] == [30.0, 90.0]
