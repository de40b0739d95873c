"""Raw SVI slices: formula, derivatives, validation, calibration, butterfly check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.quant import bsm, svi
from hedgemesh.quant.svi import KRange, SviParams

# Gatheral & Jacquier (2014), "Arbitrage-free SVI volatility surfaces", Axel Vogt's example:
# a valid raw SVI slice with butterfly arbitrage (negative density) around k ∈ [0.65, 1.25].
VOGT = SviParams(a=-0.0410, b=0.1331, rho=0.3060, m=0.3586, sigma=0.4153)
VOGT_T = 0.99744
CLEAN = SviParams(a=0.04, b=0.4, rho=-0.4, m=0.05, sigma=0.2)

RECOVERABLE = [
    (CLEAN, 0.5),
    (VOGT, VOGT_T),
    (SviParams(a=-0.002, b=0.08, rho=-0.75, m=0.1, sigma=0.05), 0.08),  # short, negative a
    (SviParams(a=0.1, b=0.9, rho=0.2, m=-0.1, sigma=0.4), 2.0),  # long, steep wings
    (SviParams(a=0.01, b=0.02, rho=0.0, m=0.0, sigma=0.3), 1.0),  # almost flat smile
]


def _density_from_prices(params: SviParams, k: np.ndarray, t: float, h: float = 1e-3):
    """Density of ln(S_T/F) at k from second differences of BSM call prices (F = 1, r = 0)."""

    def call(x):
        return bsm.price(1.0, np.exp(x), t, 0.0, 0.0, svi.implied_vol(params, x, t), True)

    c_k = (call(k + h) - call(k - h)) / (2 * h)
    c_kk = (call(k + h) - 2 * call(k) + call(k - h)) / h**2
    return (c_kk - c_k) * np.exp(-k)  # K² ∂²C/∂K² = C_kk − C_k, density in k is K ∂²C/∂K²


def test_given_params_then_total_variance_is_the_raw_svi_formula():
    k = np.array([-0.5, 0.0, 0.05, 0.7])
    x = k - CLEAN.m
    expected = 0.04 + 0.4 * (-0.4 * x + np.sqrt(x * x + 0.04))
    np.testing.assert_allclose(svi.total_variance(CLEAN, k), expected, rtol=1e-15)
    # at k = m: w = a + b σ
    assert svi.total_variance(CLEAN, 0.05) == pytest.approx(0.04 + 0.4 * 0.2, rel=1e-15)


def test_given_time_then_implied_vol_is_root_of_total_variance_over_time():
    k = np.linspace(-1, 1, 9)
    np.testing.assert_allclose(
        svi.implied_vol(CLEAN, k, 0.25) ** 2 * 0.25, svi.total_variance(CLEAN, k), rtol=1e-14
    )


@pytest.mark.parametrize("t", [0.0, -1.0, math.nan])
def test_given_non_positive_time_then_implied_vol_is_refused(t):
    with pytest.raises(ValueError, match="t must be > 0"):
        svi.implied_vol(CLEAN, 0.0, t)


@pytest.mark.parametrize("params", [CLEAN, VOGT])
def test_given_params_then_derivatives_match_finite_differences(params):
    k = np.linspace(-2, 2, 41)
    h = 1e-5
    w = lambda x: svi.total_variance(params, x)  # noqa: E731
    np.testing.assert_allclose(svi.dw_dk(params, k), (w(k + h) - w(k - h)) / (2 * h), atol=1e-9)
    second = (w(k + h) - 2 * w(k) + w(k - h)) / h**2
    np.testing.assert_allclose(svi.d2w_dk2(params, k), second, atol=1e-5)


def test_given_params_then_minimum_total_variance_and_wing_slopes_are_exact():
    p = VOGT
    k_star = p.m - p.rho * p.sigma / math.sqrt(1 - p.rho**2)  # where w' = 0
    assert svi.total_variance(p, k_star) == pytest.approx(p.min_total_variance, rel=1e-14)
    assert np.all(svi.total_variance(p, k_star + np.array([-0.01, 0.01])) > p.min_total_variance)
    left, right = p.wing_slopes
    assert svi.dw_dk(p, -1e6) == pytest.approx(-left, rel=1e-9)
    assert svi.dw_dk(p, 1e6) == pytest.approx(right, rel=1e-9)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"b": -0.1}, "b must be >= 0"),
        ({"rho": 1.0}, "rho must lie in"),
        ({"rho": -1.2}, "rho must lie in"),
        ({"sigma": 0.0}, "sigma must be > 0"),
        ({"a": -0.2}, "minimum total variance"),
        ({"m": math.nan}, "m must be finite"),
        ({"a": math.inf}, "a must be finite"),
    ],
)
def test_given_invalid_params_then_construction_is_refused(fields, message):
    values = {"a": 0.04, "b": 0.4, "rho": -0.4, "m": 0.05, "sigma": 0.2} | fields
    with pytest.raises(ValueError, match=message):
        SviParams(**values)


def test_given_zero_minimum_variance_then_params_are_valid_and_g_flags_the_zero():
    p = SviParams(a=-0.4 * 0.2, b=0.4, rho=0.0, m=0.0, sigma=0.2)  # w(0) = 0
    assert p.min_total_variance == 0.0
    assert svi.g_function(p, 0.0) == -np.inf
    assert not svi.check_butterfly(p).ok


@pytest.mark.parametrize(("params", "t"), RECOVERABLE)
def test_given_noise_free_quotes_then_calibration_recovers_the_parameters(params, t):
    k = np.linspace(-0.8, 0.8, 25)
    fit = svi.calibrate(k, svi.implied_vol(params, k, t), t)
    assert fit.success, fit.message
    assert fit.rmse < 1e-9
    dense = np.linspace(-1.5, 1.5, 301)
    np.testing.assert_allclose(
        svi.implied_vol(fit.params, dense, t), svi.implied_vol(params, dense, t), atol=1e-6
    )
    got = [fit.params.a, fit.params.b, fit.params.rho, fit.params.m, fit.params.sigma]
    want = [params.a, params.b, params.rho, params.m, params.sigma]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_given_noisy_quotes_then_fit_error_is_at_the_noise_level_and_smile_is_close():
    rng = np.random.default_rng(7)
    k = np.linspace(-0.6, 0.4, 30)
    t, noise = 0.5, 0.003
    truth = svi.implied_vol(CLEAN, k, t)
    fit = svi.calibrate(k, truth + rng.normal(0.0, noise, k.size), t)
    assert fit.success
    assert 0.5 * noise < fit.rmse < 1.2 * noise
    assert fit.max_error < 4 * noise
    inside = np.linspace(-0.6, 0.4, 101)
    error = svi.implied_vol(fit.params, inside, t) - svi.implied_vol(CLEAN, inside, t)
    assert np.max(np.abs(error)) < 2 * noise


def test_given_zero_weight_on_an_outlier_then_the_fit_ignores_it():
    k = np.linspace(-0.5, 0.5, 15)
    vols = svi.implied_vol(CLEAN, k, 0.5)
    vols[7] += 0.05
    weights = np.ones_like(k)
    weights[7] = 0.0
    fit = svi.calibrate(k, vols, 0.5, weights)
    np.testing.assert_allclose(
        svi.implied_vol(fit.params, k, 0.5), svi.implied_vol(CLEAN, k, 0.5), atol=1e-7
    )
    unweighted = svi.calibrate(k, vols, 0.5)
    assert unweighted.max_error > 0.01


def test_given_the_same_quotes_then_calibration_is_deterministic():
    rng = np.random.default_rng(3)
    k = np.linspace(-0.5, 0.5, 12)
    vols = svi.implied_vol(CLEAN, k, 0.3) + rng.normal(0, 0.002, k.size)
    assert svi.calibrate(k, vols, 0.3) == svi.calibrate(k, vols, 0.3)


def test_given_wings_steeper_than_lee_bound_then_fitted_slopes_stay_within_it():
    k = np.linspace(-2.0, 2.0, 21)
    t = 1.0
    vols = np.sqrt(3.0 * np.abs(k) + 0.04)  # total-variance wing slope 3 > 2
    fit = svi.calibrate(k, vols, t)
    assert max(fit.params.wing_slopes) <= svi.MAX_WING_SLOPE + 1e-9
    assert fit.rmse > 0.0


@pytest.mark.parametrize(
    ("k", "vols", "t", "message"),
    [
        (np.linspace(-1, 1, 4), np.full(4, 0.2), 1.0, "at least 5"),
        (np.linspace(-1, 1, 6), np.full(6, -0.2), 1.0, "vols finite and > 0"),
        (np.linspace(-1, 1, 6), np.full(6, 0.2), 0.0, "t must be finite and > 0"),
        (np.linspace(-1, 1, 6), np.full(5, 0.2), 1.0, "same length"),
        (np.zeros(6), np.full(6, 0.2), 1.0, "distinct strikes"),
    ],
)
def test_given_unusable_quotes_then_calibration_is_refused(k, vols, t, message):
    with pytest.raises(ValueError, match=message):
        svi.calibrate(k, vols, t)


def test_given_vogt_slice_then_butterfly_check_reports_where_density_is_negative():
    report = svi.check_butterfly(VOGT)
    assert not report.ok
    (bad,) = report.violations
    assert bad.k_lo == pytest.approx(0.645, abs=0.01)
    assert bad.k_hi == pytest.approx(1.255, abs=0.01)
    assert bad.worst == report.min_g < -0.03
    assert bad.k_lo <= report.k_at_min_g == bad.k_worst <= bad.k_hi
    density = _density_from_prices(VOGT, np.array([bad.k_worst]), VOGT_T)
    assert density[0] < 0.0


def test_given_clean_slice_then_butterfly_check_passes():
    report = svi.check_butterfly(CLEAN)
    assert report.ok
    assert report.violations == ()
    assert report.min_g > 0.0


@pytest.mark.parametrize(("params", "t"), [(VOGT, VOGT_T), (CLEAN, 0.5)])
def test_given_slice_then_g_matches_density_implied_by_bsm_prices(params, t):
    # Gatheral–Jacquier: density of ln(S_T/F) = g / √(2πw) · exp(−d₂²/2), d₂ = −k/√w − √w/2
    k = np.linspace(-1.0, 1.5, 51)
    w = svi.total_variance(params, k)
    d2 = -k / np.sqrt(w) - np.sqrt(w) / 2
    from_g = svi.g_function(params, k) / np.sqrt(2 * np.pi * w) * np.exp(-0.5 * d2 * d2)
    from_prices = _density_from_prices(params, k, t)
    np.testing.assert_allclose(from_prices, from_g, atol=1e-4 * np.abs(from_g).max())


def test_given_values_then_k_ranges_reports_each_failing_run_and_its_worst_point():
    k = np.arange(10.0)
    values = np.array([1, -1, -3, 1, 1, np.nan, 0, -0.5, -0.2, -1e-12])
    ranges = svi.k_ranges(k, values)
    assert [(r.k_lo, r.k_hi, r.k_worst) for r in ranges] == [
        (1.0, 2.0, 2.0),
        (5.0, 5.0, 5.0),  # NaN counts as a failure
        (7.0, 9.0, 7.0),
    ]
    np.testing.assert_equal([r.worst for r in ranges], [-3.0, np.nan, -0.5])
    assert [(r.k_lo, r.k_hi) for r in svi.k_ranges(k, values, tol=1e-9)] == [
        (1.0, 2.0),
        (5.0, 5.0),
        (7.0, 8.0),
    ]
    assert svi.k_ranges(k, np.ones(10)) == ()
    assert svi.k_ranges(k, -np.ones(10)) == (KRange(0.0, 9.0, -1.0, 0.0),)


@pytest.mark.parametrize("grid", [[0.0], [1.0, 0.0], [0.0, np.nan], np.zeros((2, 2))])
def test_given_bad_k_grid_then_checks_are_refused(grid):
    with pytest.raises(ValueError, match="k_grid"):
        svi.check_butterfly(CLEAN, grid)


valid_params = st.builds(
    lambda b, rho, m, sigma, floor: SviParams(
        a=floor - b * sigma * math.sqrt(1 - rho * rho), b=b, rho=rho, m=m, sigma=sigma
    ),
    b=st.floats(0.0, 2.0),
    rho=st.floats(-0.999, 0.999),
    m=st.floats(-1.0, 1.0),
    sigma=st.floats(1e-3, 2.0),
    floor=st.floats(0.0, 0.5),
)


@settings(max_examples=200, deadline=None)
@given(params=valid_params, k=st.floats(-5.0, 5.0))
def test_property_valid_params_give_non_negative_convex_total_variance(params, k):
    assert svi.total_variance(params, k) >= params.min_total_variance - 1e-12 >= -2e-12
    assert svi.d2w_dk2(params, k) >= 0.0
    assert np.isfinite(svi.implied_vol(params, k, 0.5))
