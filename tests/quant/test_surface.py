"""Vol surface across expiries: interpolation in total variance, forwards, arbitrage checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.quant import svi
from hedgemesh.quant.surface import SliceStack, VolSurface
from hedgemesh.quant.svi import SviParams

EXPIRIES = np.array([0.1, 0.25, 0.5, 1.0, 2.0])
SPOT, RATE, DIV = 100.0, 0.03, 0.01


def _clean_params(expiries=EXPIRIES):
    """Calendar-clean slices: a and b grow with T, same shape otherwise."""
    return [
        SviParams(a=0.03 * t + 0.001, b=0.05 + 0.05 * math.sqrt(t), rho=-0.5, m=0.02, sigma=0.2)
        for t in expiries
    ]


CLEAN = _clean_params()


@pytest.fixture
def surface() -> VolSurface:
    return VolSurface(EXPIRIES, CLEAN, spot=SPOT, rate=RATE, div=DIV)


def _strike(k, t):
    return SPOT * np.exp((RATE - DIV) * t) * np.exp(k)


def test_given_slice_expiry_then_surface_vol_equals_the_slice_vol(surface):
    k = np.linspace(-1.0, 1.0, 21)
    for t, params in zip(EXPIRIES, CLEAN, strict=True):
        np.testing.assert_allclose(
            surface.implied_vol(_strike(k, t), t), svi.implied_vol(params, k, t), rtol=1e-14
        )
        np.testing.assert_array_equal(surface.total_variance(k, t), svi.total_variance(params, k))


def test_given_time_between_slices_then_total_variance_is_linear_in_time(surface):
    k = np.linspace(-1.0, 1.0, 11)
    for i in range(len(EXPIRIES) - 1):
        t1, t2 = EXPIRIES[i], EXPIRIES[i + 1]
        w1, w2 = svi.total_variance(CLEAN[i], k), svi.total_variance(CLEAN[i + 1], k)
        for lam in (0.1, 0.5, 0.9):
            t = t1 + lam * (t2 - t1)
            np.testing.assert_allclose(
                surface.total_variance(k, t), (1 - lam) * w1 + lam * w2, rtol=1e-13
            )


def test_given_time_outside_the_slices_then_vol_is_flat_in_time_at_fixed_moneyness(surface):
    k = np.linspace(-1.0, 1.0, 11)
    first, last = EXPIRIES[0], EXPIRIES[-1]
    for t in (0.01, 0.05):
        np.testing.assert_allclose(
            surface.implied_vol_k(k, t), svi.implied_vol(CLEAN[0], k, first), rtol=1e-13
        )
    for t in (2.5, 10.0):
        np.testing.assert_allclose(
            surface.implied_vol_k(k, t), svi.implied_vol(CLEAN[-1], k, last), rtol=1e-13
        )


def test_given_zero_or_negative_time_then_no_variance_and_the_short_end_vol(surface):
    k = np.array([-0.2, 0.0, 0.3])
    np.testing.assert_array_equal(surface.total_variance(k, 0.0), 0.0)
    np.testing.assert_array_equal(surface.total_variance(k, -1.0), 0.0)
    np.testing.assert_allclose(
        surface.implied_vol_k(k, 0.0), svi.implied_vol(CLEAN[0], k, EXPIRIES[0]), rtol=1e-12
    )


def test_given_arrays_of_strikes_and_times_then_lookup_is_vectorised_and_broadcasts(surface):
    strikes = np.linspace(60, 160, 7)
    times = np.array([0.05, 0.3, 1.5])
    grid = surface.implied_vol(strikes[None, :], times[:, None])
    assert grid.shape == (3, 7)
    for i, t in enumerate(times):
        for j, strike in enumerate(strikes):
            assert grid[i, j] == pytest.approx(float(surface.implied_vol(strike, t)), rel=1e-15)


def test_given_spot_and_carry_then_forward_is_spot_grown_at_carry(surface):
    t = np.array([0.0, 0.05, 0.3, 2.0, 7.0])
    np.testing.assert_allclose(surface.forward(t), SPOT * np.exp((RATE - DIV) * t), rtol=1e-14)


def test_given_forwards_then_forward_curve_is_log_linear_through_them():
    fwd = np.array([100.5, 101.0, 101.2, 103.0, 102.0])
    s = VolSurface(EXPIRIES, CLEAN, fwd, spot=100.0)
    np.testing.assert_allclose(s.forward(EXPIRIES), fwd, rtol=1e-14)
    assert float(s.forward(0.0)) == pytest.approx(100.0, rel=1e-14)
    mid = 0.5 * (EXPIRIES[1] + EXPIRIES[2])
    assert float(s.forward(mid)) == pytest.approx(math.sqrt(101.0 * 101.2), rel=1e-14)
    beyond = float(s.forward(3.0))  # last segment's carry continued
    assert beyond == pytest.approx(102.0 * (102.0 / 103.0) ** ((3.0 - 2.0) / 1.0), rel=1e-13)
    no_spot = VolSurface(EXPIRIES, CLEAN, fwd)
    assert float(no_spot.forward(0.05)) == pytest.approx(
        100.5 * (101.0 / 100.5) ** ((0.05 - 0.1) / 0.15), rel=1e-13
    )


def test_given_strike_then_moneyness_uses_the_forward_at_that_time():
    fwd = np.array([100.5, 101.0, 101.2, 103.0, 102.0])
    s = VolSurface(EXPIRIES, CLEAN, fwd)
    assert float(s.implied_vol(103.0, 1.0)) == pytest.approx(
        float(svi.implied_vol(CLEAN[3], 0.0, 1.0)), rel=1e-14
    )


def test_given_clean_surface_then_arbitrage_report_is_empty(surface):
    report = surface.check_arbitrage()
    assert report.ok
    assert report.violations == ()
    assert "no static arbitrage" in report.describe()


def test_given_slices_that_cross_then_calendar_check_names_the_pair_and_the_k_range():
    # w2 − w1 = 0.004 + b (ρ2 − ρ1)(k − m): negative for k < m − 0.004 / (0.1 · 0.4) = −0.1
    p1 = SviParams(a=0.02, b=0.1, rho=-0.6, m=0.0, sigma=0.2)
    p2 = SviParams(a=0.024, b=0.1, rho=-0.2, m=0.0, sigma=0.2)
    s = VolSurface([0.5, 1.0], [p1, p2], spot=100.0)
    report = s.check_arbitrage(np.linspace(-1.0, 1.0, 2001))
    assert not report.ok
    (cal,) = report.calendar
    assert (cal.earlier_index, cal.earlier_expiry, cal.later_expiry) == (0, 0.5, 1.0)
    assert cal.k_range.k_lo == -1.0
    assert cal.k_range.k_hi == pytest.approx(-0.1, abs=1e-3)
    assert cal.k_range.k_worst == -1.0
    assert cal.k_range.worst == pytest.approx(0.004 + 0.1 * 0.4 * -1.0, rel=1e-12)
    assert "calendar: T=0.5 -> T=1" in report.describe()
    # the interpolated surface really does lose total variance there
    assert s.total_variance(-0.5, 0.9) < s.total_variance(-0.5, 0.5)


def test_given_an_arbitrageable_slice_then_the_report_names_its_expiry():
    vogt = SviParams(a=-0.0410, b=0.1331, rho=0.3060, m=0.3586, sigma=0.4153)
    later = SviParams(a=0.0, b=0.1331, rho=0.3060, m=0.3586, sigma=0.4153)
    report = VolSurface([0.99744, 1.5], [vogt, later], spot=1.0).check_arbitrage()
    assert report.calendar == ()
    assert [v.expiry_index for v in report.butterfly] == [0]
    (bad,) = report.butterfly
    assert bad.expiry == 0.99744
    assert 0.6 < bad.k_range.k_lo < bad.k_range.k_worst < bad.k_range.k_hi < 1.3
    assert "butterfly: slice 0" in report.describe()


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([0.5, 0.5], CLEAN[:2]), {"spot": 100.0}, "strictly increasing"),
        (([0.0, 0.5], CLEAN[:2]), {"spot": 100.0}, "years > 0"),
        (([0.5, 1.0], CLEAN[:1]), {"spot": 100.0}, "one SviParams per expiry"),
        (([0.5, 1.0], CLEAN[:2]), {}, "give forwards or spot"),
        (([0.5, 1.0], CLEAN[:2], [100.0, -1.0]), {}, "forwards must be finite"),
        (([0.5, 1.0], CLEAN[:2]), {"spot": math.nan}, "spot must be finite"),
    ],
)
def test_given_inconsistent_inputs_then_surface_is_refused(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        VolSurface(*args, **kwargs)


def test_given_non_positive_strike_then_lookup_is_refused(surface):
    with pytest.raises(ValueError, match="strikes must be > 0"):
        surface.implied_vol([100.0, 0.0], 0.5)


def test_given_quotes_per_expiry_then_calibrated_surface_reproduces_them():
    truth = VolSurface(EXPIRIES, CLEAN, spot=SPOT, rate=RATE, div=DIV)
    strikes = np.linspace(70.0, 140.0, 15)
    quotes = {float(t): (strikes, truth.implied_vol(strikes, t)) for t in EXPIRIES}
    fitted = VolSurface.calibrate(quotes, spot=SPOT, rate=RATE, div=DIV)
    assert fitted.fits is not None and all(f.success for f in fitted.fits)
    assert max(f.rmse for f in fitted.fits) < 1e-9
    k_strikes = np.linspace(75.0, 135.0, 9)
    for t in (0.1, 0.3, 0.75, 2.0):
        np.testing.assert_allclose(
            fitted.implied_vol(k_strikes, t), truth.implied_vol(k_strikes, t), atol=1e-7
        )
    assert fitted.check_arbitrage().ok


def test_given_quotes_with_forwards_and_weights_then_calibration_uses_them():
    fwd = {0.5: 101.0, 1.0: 102.0}
    truth = VolSurface([0.5, 1.0], CLEAN[2:4], [101.0, 102.0])
    strikes = np.linspace(80.0, 125.0, 10)
    vols = {t: truth.implied_vol(strikes, t) for t in fwd}
    bad = vols[1.0].copy()
    bad[0] += 0.1
    weights = np.ones(10)
    weights[0] = 0.0
    fitted = VolSurface.calibrate(
        {0.5: (strikes, vols[0.5]), 1.0: (strikes, bad, weights)}, forwards=fwd
    )
    np.testing.assert_allclose(fitted.forwards, [101.0, 102.0])
    np.testing.assert_allclose(fitted.implied_vol(strikes, 1.0), vols[1.0], atol=1e-7)
    with pytest.raises(ValueError, match="no forward"):
        VolSurface.calibrate({0.5: (strikes, vols[0.5])}, forwards={1.0: 100.0})


def test_given_several_surfaces_then_stacked_lookup_equals_each_surface_alone():
    rng = np.random.default_rng(11)
    surfaces = [
        VolSurface(EXPIRIES, CLEAN, spot=SPOT),
        VolSurface([0.3], [SviParams(0.02, 0.1, 0.1, 0.0, 0.3)], spot=50.0),
        VolSurface([0.05, 0.8, 3.0], _clean_params([0.05, 0.8, 3.0]), spot=10.0),
    ]
    stack = SliceStack.from_surfaces(surfaces)
    n = 3000
    group = rng.integers(0, 3, n)
    k = rng.normal(0.0, 0.4, n)
    t = np.concatenate([rng.uniform(-0.1, 5.0, n - 5), [0.0, 0.05, 0.3, 3.0, 2.0]])
    got = stack.total_variance(k, t, group)
    for g, s in enumerate(surfaces):
        mask = group == g
        np.testing.assert_array_equal(got[mask], s.total_variance(k[mask], t[mask]))
    with pytest.raises(ValueError, match="group is required"):
        stack.total_variance(k, t)
    with pytest.raises(ValueError, match="out of range"):
        stack.total_variance(k[:1], t[:1], [3])


def test_given_many_slices_then_binary_search_path_agrees_with_per_slice_formula():
    expiries = np.linspace(0.05, 4.0, 40)  # above the counting-loop threshold
    s = VolSurface(expiries, _clean_params(expiries), spot=SPOT)
    t = np.array([0.01, 0.05, 0.5 * (expiries[10] + expiries[11]), 4.0, 6.0])
    k = np.full_like(t, -0.3)
    w = [svi.total_variance(p, -0.3) for p in s.params]
    expected = [
        w[0] * 0.01 / 0.05,
        w[0],
        0.5 * (w[10] + w[11]),
        w[-1],
        w[-1] * 6.0 / 4.0,
    ]
    np.testing.assert_allclose(s.total_variance(k, t), expected, rtol=1e-13)


increments = st.lists(
    st.tuples(st.floats(0.01, 1.0), st.floats(0.0, 0.02), st.floats(0.0, 0.1)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=100, deadline=None)
@given(
    steps=increments,
    rho=st.floats(-0.95, 0.95),
    m=st.floats(-0.3, 0.3),
    sigma=st.floats(0.01, 1.0),
    k=st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=8),
    times=st.lists(st.floats(0.0, 8.0), min_size=2, max_size=8),
)
def test_property_calendar_clean_surface_has_total_variance_monotone_in_time(
    steps, rho, m, sigma, k, times
):
    # Growing a and b with T (same ρ, m, σ) raises w at every k: calendar-clean by construction.
    expiries, params, t, a, b = [], [], 0.0, 0.0, 0.05
    for dt, da, db in steps:
        t, a, b = t + dt, a + da, b + db
        expiries.append(t)
        params.append(SviParams(a=a, b=b, rho=rho, m=m, sigma=sigma))
    s = VolSurface(expiries, params, spot=100.0)
    assert s.check_arbitrage(np.linspace(-3.0, 3.0, 61)).calendar == ()
    k_arr = np.array(k)[:, None]
    t_arr = np.sort(np.array(times))[None, :]
    w = s.total_variance(k_arr, t_arr)
    assert np.all(w >= 0.0)
    assert np.all(np.diff(w, axis=1) >= -1e-12 * (1.0 + np.abs(w[:, 1:])))
    vol = s.implied_vol_k(k_arr, t_arr)
    assert np.all(np.isfinite(vol)) and np.all(vol > 0.0)
