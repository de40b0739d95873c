"""Implied volatility: round trips against the pricer, every status, edges and shapes."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.quant import bsm, iv
from hedgemesh.quant.iv import IVStatus

RESOLUTION = 1e-10
EPS = np.finfo(np.float64).eps
DBL_MIN = np.finfo(np.float64).tiny


def vol_uncertainty(price, spot, strike, t, rate, div, is_call, vol):
    """The module's identifiability criterion, written out from its documentation:
    δσ = (8 ε P + (8 ε [ITM] + 2^-1022)(S e^{-qT} + K e^{-rT})) / (dP/dσ), at the true vol."""
    sq, kr = bsm.discounted(spot, strike, t, rate, div)
    intrinsic = np.maximum(np.where(is_call, 1.0, -1.0) * (sq - kr), 0.0)
    rounding = 8 * EPS * price + (np.where(intrinsic > 0, 8 * EPS, 0.0) + DBL_MIN) * (sq + kr)
    with np.errstate(divide="ignore", over="ignore"):
        return rounding / (100.0 * bsm.greeks(spot, strike, t, rate, div, vol, is_call).vega)


def domain(n: int, seed: int) -> dict[str, np.ndarray]:
    """|ln(F/K)| <= 3, one day to five years, vols 0.01 to 5 (log-uniform), calls and puts."""
    rng = np.random.default_rng(seed)
    t = np.exp(rng.uniform(np.log(1 / 365), np.log(5.0), n))
    rate, div = rng.uniform(-0.02, 0.10, n), rng.uniform(0.0, 0.08, n)
    spot = np.exp(rng.uniform(0.0, np.log(1000.0), n))
    forward = spot * np.exp((rate - div) * t)
    return {
        "spot": spot,
        "strike": forward * np.exp(-rng.uniform(-3.0, 3.0, n)),
        "t": t,
        "rate": rate,
        "div": div,
        "vol": np.exp(rng.uniform(np.log(0.01), np.log(5.0), n)),
        "is_call": rng.random(n) < 0.5,
    }


def market(c: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return tuple(c[k] for k in ("spot", "strike", "t", "rate", "div"))


def check_round_trip(c: dict[str, np.ndarray]) -> dict[str, int]:
    """Price at the true vol, invert, and hold every element to the documented criterion:

    - identifiable (δσ <= resolution/2 at the true vol): OK and within 1e-10 of the true vol;
    - not identifiable (δσ > 2 resolution): UNIDENTIFIABLE, or OK with vol 0 when the price
      rounded to exactly the discounted intrinsic value (the documented at-intrinsic rule);
    - in between, where the criterion is evaluated at a vol that differs from the true one by
      less than the criterion itself: OK within 1e-10, or UNIDENTIFIABLE.
    No other status may appear: the prices are all within the no-arbitrage bounds.
    """
    args = (*market(c), c["is_call"])
    price = bsm.price(*market(c), c["vol"], c["is_call"])
    res = iv.implied_vol(price, *args)
    assert res.vol.shape == price.shape and res.status.dtype == np.int8
    ok = res.status == IVStatus.OK
    assert np.array_equal(np.isnan(res.vol), ~ok), "vol is NaN exactly where status is not OK"
    assert set(np.unique(res.status)) <= {IVStatus.OK, IVStatus.UNIDENTIFIABLE}
    err = np.abs(res.vol - c["vol"])
    uncertainty = vol_uncertainty(price, *market(c), c["is_call"], c["vol"])
    sq, kr = bsm.discounted(*market(c))
    at_intrinsic = price == np.maximum(np.where(c["is_call"], 1.0, -1.0) * (sq - kr), 0.0)

    identifiable = uncertainty <= 0.5 * RESOLUTION
    assert np.all(ok[identifiable])
    assert np.all(err[identifiable] <= 1e-10), err[identifiable].max()
    hopeless = uncertainty > 2 * RESOLUTION
    accepted = (res.status == IVStatus.UNIDENTIFIABLE) | (ok & (res.vol == 0) & at_intrinsic)
    assert np.all(accepted[hopeless])
    band = ~identifiable & ~hopeless
    assert np.all((err <= 1e-10)[band & ok])
    return {"identifiable": int(identifiable.sum()), "band": int(band.sum()), "n": price.size}


def test_given_a_dense_random_grid_then_vol_round_trips_to_1e10_wherever_identifiable():
    counts = check_round_trip(domain(200_000, seed=41))
    # The criterion must not be what makes this pass: most of the grid is held to 1e-10.
    assert counts["identifiable"] > 0.4 * counts["n"]


def test_given_realistic_quotes_then_every_vol_round_trips_to_1e10():
    rng = np.random.default_rng(43)
    n = 50_000
    t = np.exp(rng.uniform(np.log(7 / 365), np.log(3.0), n))
    vol = rng.uniform(0.05, 1.2, n)
    strike = 100.0 * np.exp(rng.uniform(-2.0, 2.0, n) * vol * np.sqrt(t))
    is_call = rng.random(n) < 0.5
    price = bsm.price(100.0, strike, t, 0.04, 0.01, vol, is_call)
    res = iv.implied_vol(price, 100.0, strike, t, 0.04, 0.01, is_call)
    assert np.all(res.status == IVStatus.OK)
    np.testing.assert_allclose(res.vol, vol, rtol=0, atol=1e-10)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.floats(-3.0, 3.0),
    st.floats(1 / 365, 5.0),
    st.floats(0.01, 5.0),
    st.floats(-0.02, 0.1),
    st.floats(0.0, 0.08),
    st.floats(0.01, 1e4),
    st.booleans(),
)
def test_given_any_quote_in_the_domain_then_the_round_trip_respects_the_criterion(
    x, t, vol, rate, div, spot, is_call
):
    strike = spot * math.exp((rate - div) * t - x)
    one = {
        "spot": np.array([spot]),
        "strike": np.array([strike]),
        "t": np.array([t]),
        "rate": np.array([rate]),
        "div": np.array([div]),
        "vol": np.array([vol]),
        "is_call": np.array([is_call]),
    }
    check_round_trip(one)


def test_given_a_batch_then_each_result_equals_solving_that_element_alone():
    """Sorting by branch, shrinking the active set and blocking never leak between elements."""
    n = 3 * 8192 + 5
    c = domain(n, seed=47)
    price = bsm.price(*market(c), c["vol"], c["is_call"])
    batch = iv.implied_vol(price, *market(c), c["is_call"])
    for i in [*range(0, n, 997), 8191, 8192, 16383, 16384, n - 1]:
        alone = iv.implied_vol(price[i], *(a[i] for a in market(c)), c["is_call"][i])
        assert alone.status == batch.status[i]
        np.testing.assert_array_equal(alone.vol, batch.vol[i])


# --- statuses ---------------------------------------------------------------------------------


def test_given_a_price_exactly_at_discounted_intrinsic_then_vol_is_zero_and_ok():
    t, r, q = 0.5, 0.05, 0.02
    strikes = np.array([80.0, 100.0, 130.0])
    sq, kr = bsm.discounted(100.0, strikes, t, r, q)
    calls = np.maximum(sq - kr, 0.0)
    puts = np.maximum(kr - sq, 0.0)
    price = np.concatenate([calls, puts])
    is_call = np.repeat([True, False], 3)
    res = iv.implied_vol(price, 100.0, np.tile(strikes, 2), t, r, q, is_call)
    np.testing.assert_array_equal(res.status, IVStatus.OK)
    np.testing.assert_array_equal(res.vol, 0.0)
    # And it is what the pricer gives at zero vol.
    np.testing.assert_array_equal(price, bsm.price(100.0, np.tile(strikes, 2), t, r, q, 0, is_call))


def test_given_expiry_then_only_the_intrinsic_value_has_an_implied_vol():
    res = iv.implied_vol(
        [10.0, 10.5, 0.0, 0.1], 100.0, [90.0, 90.0, 110.0, 110.0], 0.0, 0.0, 0.0, True
    )
    np.testing.assert_array_equal(
        res.status, [0, IVStatus.ABOVE_MAXIMUM, 0, IVStatus.ABOVE_MAXIMUM]
    )
    np.testing.assert_array_equal(res.vol, [0.0, np.nan, 0.0, np.nan])


def test_given_prices_below_discounted_intrinsic_then_status_below_intrinsic_and_nan():
    t, r, q = 1.0, 0.03, 0.0
    sq, kr = bsm.discounted(100.0, 80.0, t, r, q)
    itm_call = np.nextafter(sq - kr, -np.inf)  # one ulp below
    res = iv.implied_vol(
        [itm_call, -1e-12, -5.0], 100.0, [80.0, 120.0, 120.0], t, r, q, [True, True, False]
    )
    np.testing.assert_array_equal(res.status, IVStatus.BELOW_INTRINSIC)
    assert np.all(np.isnan(res.vol))


def test_given_prices_at_or_above_the_upper_bound_then_status_above_maximum_and_nan():
    t, r, q = 1.0, 0.03, 0.01
    sq, kr = bsm.discounted(100.0, 90.0, t, r, q)
    res = iv.implied_vol(
        [sq, sq + 1.0, kr, 1e300], 100.0, 90.0, t, r, q, [True, True, False, False]
    )
    np.testing.assert_array_equal(res.status, IVStatus.ABOVE_MAXIMUM)
    assert np.all(np.isnan(res.vol))


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (0, np.nan),
        (0, np.inf),
        (1, 0.0),
        (1, -100.0),
        (2, 0.0),
        (2, np.nan),
        (3, -1e-9),
        (4, np.nan),
        (5, np.inf),
    ],
)
def test_given_invalid_input_then_status_invalid_input_in_that_element_only(index, value):
    inputs = [np.full(3, v) for v in (10.0, 100.0, 100.0, 1.0, 0.05, 0.0)]  # price, S, K, t, r, q
    inputs[index][1] = value
    res = iv.implied_vol(*inputs, True)
    np.testing.assert_array_equal(res.status, [0, IVStatus.INVALID_INPUT, 0])
    assert np.isnan(res.vol[1]) and np.all(np.isfinite(res.vol[[0, 2]]))


def test_given_time_value_drowned_in_the_rounding_of_intrinsic_then_status_unidentifiable():
    # Far in the money, one day, low vol: the time value is far below 8 ε of the price.
    t, r, q = 1 / 365, 0.0, 0.0
    sq, kr = bsm.discounted(100.0, 60.0, t, r, q)
    price = np.nextafter(sq - kr, np.inf)  # one ulp above intrinsic
    res = iv.implied_vol(price, 100.0, 60.0, t, r, q, True)
    assert res.status == IVStatus.UNIDENTIFIABLE and np.isnan(res.vol)


def test_given_a_price_within_rounding_of_its_upper_bound_then_status_unidentifiable():
    sq, _ = bsm.discounted(100.0, 100.0, 1.0, 0.0, 0.0)
    res = iv.implied_vol(np.nextafter(sq, 0.0), 100.0, 100.0, 1.0, 0.0, 0.0, True)
    assert res.status == IVStatus.UNIDENTIFIABLE and np.isnan(res.vol)


def test_given_too_few_iterations_then_status_not_converged_and_nan():
    c = domain(2_000, seed=53)
    price = bsm.price(*market(c), c["vol"], c["is_call"])
    res = iv.implied_vol(price, *market(c), c["is_call"], max_iter=1)
    assert np.any(res.status == IVStatus.NOT_CONVERGED)
    assert np.all(np.isnan(res.vol[res.status == IVStatus.NOT_CONVERGED]))
    full = iv.implied_vol(price, *market(c), c["is_call"])
    assert not np.any(full.status == IVStatus.NOT_CONVERGED)


# --- shapes ----------------------------------------------------------------------------------


def test_given_scalar_inputs_then_results_are_zero_dimensional():
    price = float(bsm.price(100.0, 105.0, 0.25, 0.02, 0.0, 0.3, False))
    res = iv.implied_vol(price, 100.0, 105.0, 0.25, 0.02, 0.0, False)
    assert res.vol.shape == () and res.status.shape == ()
    assert res.status.dtype == np.int8
    assert float(res.vol) == pytest.approx(0.3, abs=1e-12)


def test_given_broadcastable_inputs_then_results_have_the_broadcast_shape():
    strikes = np.array([80.0, 100.0, 120.0])
    expiries = np.array([[0.1], [1.0]])
    vols = np.array([[0.2], [0.4]])
    price = bsm.price(100.0, strikes, expiries, 0.01, 0.0, vols, [[True], [False]])
    res = iv.implied_vol(price, 100.0, strikes, expiries, 0.01, 0.0, [[True], [False]])
    assert res.vol.shape == (2, 3)
    np.testing.assert_array_equal(res.status, IVStatus.OK)
    np.testing.assert_allclose(res.vol, np.broadcast_to(vols, (2, 3)), atol=1e-12)
    empty = iv.implied_vol(np.empty((0, 4)), 100.0, 100.0, 1.0, 0.0, 0.0, True)
    assert empty.vol.shape == (0, 4) and empty.status.shape == (0, 4)


def test_given_the_module_doctests_then_they_pass():
    assert doctest.testmod(iv).failed == 0
