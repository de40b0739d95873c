"""Hagan's SABR implied vol against QuantLib's `sabrVolatility` (an independent oracle)."""

from __future__ import annotations

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.quant.hagan import hagan_lognormal_vol


@settings(max_examples=200, deadline=None)
@given(
    moneyness=st.floats(0.6, 1.6),
    tau=st.floats(0.01, 3.0),
    alpha=st.floats(0.05, 0.8),
    beta=st.sampled_from([0.0, 0.5, 1.0]),
    rho=st.floats(-0.9, 0.9),
    nu=st.floats(0.0, 1.5),
)
def test_hagan_matches_quantlib(moneyness, tau, alpha, beta, rho, nu):
    forward = 100.0
    strike = forward * moneyness
    scaled = alpha * forward ** (1.0 - beta)  # alpha in the lognormal scale at F
    ours = float(hagan_lognormal_vol(forward, strike, tau, scaled, beta, rho, nu))
    oracle = ql.sabrVolatility(strike, forward, tau, scaled, beta, max(nu, 1e-12), rho)
    assert ours == pytest.approx(oracle, rel=1e-9, abs=1e-12)


def test_at_the_money_it_is_alpha_times_the_time_correction_and_it_broadcasts():
    vols = hagan_lognormal_vol(
        np.array([10.0, 10.0]), 10.0, np.array([0.0, 0.12]), 0.3, 1.0, -0.7, 0.3
    )
    expected = 0.3 * (1.0 + (-0.7 * 0.3 * 0.3 / 4.0 + (2.0 - 3.0 * 0.49) / 24.0 * 0.09) * 0.12)
    assert vols.tolist() == pytest.approx([0.3, expected], rel=1e-14)
