"""SSVI slices as raw SVI, the ATM skew, the base term structure and the forward-variance
integral; the surface is free of static arbitrage inside the parameter bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from hedgemesh.market import ssvi
from hedgemesh.quant import svi
from hedgemesh.quant.surface import VolSurface
from hedgemesh.quant.svi import SviParams

K = np.linspace(-1.5, 1.5, 301)


def _ssvi_w(k, theta, eta, gamma, rho):
    f = eta * theta**-gamma * (1 + theta) ** (gamma - 1)
    return theta / 2 * (1 + rho * f * k + np.sqrt((f * k + rho) ** 2 + 1 - rho**2))


@pytest.mark.parametrize(("theta", "rho"), [(1e-5, -0.7), (0.002, -0.3), (0.09, 0.4), (1.5, 0.0)])
def test_given_an_atm_variance_then_the_raw_svi_slice_is_the_ssvi_smile(theta, rho):
    row = ssvi.raw_params([theta], 0.8, 0.4, rho)[0]
    w = svi.total_variance(SviParams(*row), K)
    np.testing.assert_allclose(w, _ssvi_w(K, theta, 0.8, 0.4, rho), rtol=1e-12, atol=1e-18)
    assert svi.total_variance(SviParams(*row), 0.0) == pytest.approx(theta, rel=1e-12)


def test_given_a_slice_then_its_atm_skew_is_the_slope_of_its_vol_at_the_money():
    theta, tau, eta, gamma, rho = 0.0018, 30 / 365, 0.6, 0.5, -0.7
    params = SviParams(*ssvi.raw_params([theta], eta, gamma, rho)[0])
    h = 1e-6
    slope = (svi.implied_vol(params, h, tau) - svi.implied_vol(params, -h, tau)) / (2 * h)
    assert ssvi.atm_skew(theta, tau, eta, gamma, rho) == pytest.approx(float(slope), rel=1e-6)


def test_given_a_target_skew_then_eta_for_skew_reproduces_it():
    theta, tau = 0.0018, 30 / 365
    eta = ssvi.eta_for_skew(-0.75, tau, theta, -0.7, 0.5)
    assert ssvi.atm_skew(theta, tau, eta, 0.5, -0.7) == pytest.approx(-0.75, rel=1e-12)
    with pytest.raises(ValueError, match="same sign"):
        ssvi.eta_for_skew(0.5, tau, theta, -0.7, 0.5)


def test_given_nodes_then_the_term_structure_goes_through_them_with_flat_vol_outside():
    term = ssvi.AtmTermStructure([7 / 365, 30 / 365], [0.15, 0.16])
    assert term.total_variance([7 / 365, 30 / 365]) == pytest.approx(
        [0.15**2 * 7 / 365, 0.16**2 * 30 / 365]
    )
    assert term.total_variance(3 / 365) == pytest.approx(0.15**2 * 3 / 365)  # flat vol before
    assert term.total_variance(1.0) == pytest.approx(0.16**2)  # flat vol after
    assert term.total_variance(-1.0) == 0.0
    assert term.forward_variance([1 / 365, 10 / 365, 2.0]) == pytest.approx(
        [0.15**2, (0.16**2 * 30 - 0.15**2 * 7) / 23, 0.16**2]
    )
    with pytest.raises(ValueError, match="strictly increasing"):
        ssvi.AtmTermStructure([7 / 365, 30 / 365], [0.3, 0.1])


def test_given_the_base_alone_then_the_integral_is_exact_at_every_tenor():
    term = ssvi.AtmTermStructure([1 / 365, 7 / 365, 90 / 365], [0.12, 0.13, 0.17])
    tau = np.array([0.5 / 365, 1 / 365, 20 / 365, 90 / 365, 2.0])
    theta = ssvi.integrate_forward_variance(term, tau, 1.0)
    np.testing.assert_allclose(theta, term.total_variance(tau), rtol=1e-13)


def test_given_a_fast_decaying_factor_and_its_breaks_then_the_integral_matches_quadrature():
    term = ssvi.AtmTermStructure([7 / 365, 30 / 365], [0.15, 0.16])
    lam = math.log(2) / (2 / 24 / 365)  # a two-hour half-life
    factor = lambda u: 1.0 + 1.56 * np.exp(-lam * u)  # noqa: E731
    breaks = (2 / 24 / 365) * 2.0 ** np.arange(-3, 7)
    tau = np.array([1 / 365, 7 / 365, 30 / 365])
    got = ssvi.integrate_forward_variance(term, tau, factor, breaks)
    for t, value in zip(tau, got, strict=True):
        exact = quad(lambda u: term.forward_variance(u) * factor(u), 0, t, points=[7 / 365],
                     limit=200, epsabs=1e-14, epsrel=1e-12)[0]  # fmt: skip
        assert value == pytest.approx(exact, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    rho=st.floats(-0.95, 0.95),
    share=st.floats(0.05, 1.0),
    gamma=st.floats(0.05, 0.5),
    base=st.floats(0.08, 0.6),
    steps=st.lists(st.floats(0.01, 2.0), min_size=2, max_size=6),
)
def test_given_eta_within_the_bound_and_increasing_theta_then_no_static_arbitrage(
    rho, share, gamma, base, steps
):
    eta = share * ssvi.MAX_ETA_ONE_PLUS_RHO / (1 + abs(rho))
    tau = np.cumsum(np.array(steps) / 12)  # up to a year apart
    theta = base**2 * tau  # increasing, flat vol
    rows = ssvi.raw_params(theta, eta, gamma, rho)
    surface = VolSurface(tau, [SviParams(*r) for r in rows], spot=100.0)
    report = surface.check_arbitrage(tol=1e-12)
    assert report.ok, report.describe()
