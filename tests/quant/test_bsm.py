"""Black–Scholes–Merton prices and greeks: an independent oracle (QuantLib), parity, finite
differences, closed forms, limits, broadcasting and invalid input."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from hedgemesh.quant import bsm

GREEKS = bsm.Greeks._fields


def random_cases(n: int, seed: int) -> dict[str, np.ndarray]:
    """Options over a wide range: spot 1..1000, moneyness ±3 standard deviations, 1 day..10 y."""
    rng = np.random.default_rng(seed)
    days = rng.integers(1, 3651, n)
    t = days / 365.0
    vol = rng.uniform(0.02, 1.5, n)
    spot = np.exp(rng.uniform(np.log(1.0), np.log(1000.0), n))
    strike = spot * np.exp(rng.uniform(-3.0, 3.0, n) * vol * np.sqrt(t))
    return {
        "spot": spot,
        "strike": strike,
        "t": t,
        "rate": rng.uniform(-0.02, 0.10, n),
        "div": rng.uniform(-0.01, 0.08, n),
        "vol": vol,
        "is_call": rng.random(n) < 0.5,
        "days": days,
    }


def args(c: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    return tuple(c[k] for k in ("spot", "strike", "t", "rate", "div", "vol", "is_call"))


def assert_close(actual, expected, rtol: float, atol, what: str = "") -> None:
    """|actual - expected| <= rtol |expected| + atol, elementwise (atol may be an array)."""
    actual, expected = np.broadcast_arrays(np.asarray(actual), np.asarray(expected))
    err = np.abs(actual - expected)
    allowed = rtol * np.abs(expected) + atol
    if not np.all(err <= allowed):
        worst = np.unravel_index(np.argmax(np.where(err <= allowed, 0, err / allowed)), err.shape)
        raise AssertionError(f"{what}: {actual[worst]!r} vs {expected[worst]!r} at {worst}")


# --- QuantLib as the oracle --------------------------------------------------------------------


def quantlib_greeks(c: dict[str, np.ndarray]) -> np.ndarray:
    """NPV, delta, gamma, vega (per unit vol), thetaPerDay, rho (per unit rate) from
    QuantLib's AnalyticEuropeanEngine on flat curves, one process whose quotes are reset per case.
    """
    ql = pytest.importorskip("QuantLib")
    today = ql.Date(15, 6, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    spot, rate, div, vol = (ql.SimpleQuote(1.0) for _ in range(4))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(div), dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(rate), dc)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vol), dc)
        ),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    out = np.empty((c["spot"].size, 6))
    for i in range(c["spot"].size):
        spot.setValue(float(c["spot"][i]))
        rate.setValue(float(c["rate"][i]))
        div.setValue(float(c["div"][i]))
        vol.setValue(float(c["vol"][i]))
        kind = ql.Option.Call if c["is_call"][i] else ql.Option.Put
        option = ql.VanillaOption(
            ql.PlainVanillaPayoff(kind, float(c["strike"][i])),
            ql.EuropeanExercise(today + int(c["days"][i])),
        )
        option.setPricingEngine(engine)
        out[i] = (
            option.NPV(),
            option.delta(),
            option.gamma(),
            option.vega(),
            option.thetaPerDay(),
            option.rho(),
        )
    return out


def test_given_10k_random_options_then_price_and_greeks_match_quantlib_to_1e9_relative():
    """Relative 1e-9, with an absolute floor of 1e-14 × each quantity's natural scale (S + K for
    price, 1 for delta, 1/S for gamma, S√T for vega, (S + K)/365 for theta, K T for rho):
    QuantLib takes N(-d) as 1 - N(d), so its far tails are only good to a few ε absolute."""
    c = random_cases(12_000, seed=20250615)
    expected = quantlib_greeks(c)
    g = bsm.greeks(*args(c))
    mine = np.column_stack([g.price, g.delta, g.gamma, 100 * g.vega, g.theta, 100 * g.rho])
    s, k, t = c["spot"], c["strike"], c["t"]
    scale = np.column_stack([s + k, np.ones_like(s), 1 / s, s * np.sqrt(t), (s + k) / 365, k * t])
    for j, name in enumerate(("price", "delta", "gamma", "vega", "theta", "rho")):
        assert_close(mine[:, j], expected[:, j], 1e-9, 1e-14 * scale[:, j], name)
    # The floor is not what makes this pass: most values are far above it.
    assert np.mean(np.abs(expected[:, 0]) > 1e-6 * scale[:, 0]) > 0.9


# --- internal consistency: closed forms, parity, finite differences -----------------------------


def closed_form_vanna_volga(c: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Textbook vanna = -e^{-qT} φ(d1) d2 / σ and volga = S e^{-qT} φ(d1) √T d1 d2 / σ, in the
    module's units (per vol point, per vol point squared)."""
    s, k, t, r, q, v = (c[name] for name in ("spot", "strike", "t", "rate", "div", "vol"))
    d1 = (np.log(s / k) + (r - q + 0.5 * v * v) * t) / (v * np.sqrt(t))
    d2 = d1 - v * np.sqrt(t)
    pdf = np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi)
    vanna = -np.exp(-q * t) * pdf * d2 / v
    volga = s * np.exp(-q * t) * pdf * np.sqrt(t) * d1 * d2 / v
    return 0.01 * vanna, 1e-4 * volga


def test_given_random_options_then_vanna_and_volga_match_closed_forms():
    c = random_cases(20_000, seed=11)
    g = bsm.greeks(*args(c))
    vanna, volga = closed_form_vanna_volga(c)
    np.testing.assert_allclose(g.vanna, vanna, rtol=1e-10, atol=1e-14)
    assert_close(g.volga, volga, 1e-10, 1e-14 * c["spot"], "volga")


def test_given_price_function_then_it_equals_the_price_of_greeks_bit_for_bit():
    c = random_cases(5_000, seed=3)
    np.testing.assert_array_equal(bsm.price(*args(c)), bsm.greeks(*args(c)).price)


def test_given_calls_and_puts_then_put_call_parity_holds_for_price_and_every_greek():
    c = random_cases(20_000, seed=5)
    c["is_call"] = np.ones_like(c["is_call"])
    call = bsm.greeks(*args(c))
    c["is_call"] = np.zeros_like(c["is_call"])
    put = bsm.greeks(*args(c))
    s, k, t, r, q = (c[name] for name in ("spot", "strike", "t", "rate", "div"))
    sq, kr = s * np.exp(-q * t), k * np.exp(-r * t)
    parity = {
        "price": sq - kr,
        "delta": np.exp(-q * t),
        "gamma": 0.0,
        "vega": 0.0,
        "theta": (q * sq - r * kr) / 365.0,
        "rho": 0.01 * t * kr,
        "vanna": 0.0,
        "volga": 0.0,
    }
    scale = {"price": s + k, "theta": (s + k) / 365, "rho": k * t, "gamma": 1 / s, "volga": s}
    for name in GREEKS:
        diff = getattr(call, name) - getattr(put, name)
        assert_close(diff, parity[name], 1e-12, 1e-14 * scale.get(name, 1.0), name)


def fd_cases() -> dict[str, np.ndarray]:
    """Away from the edges, where central differences are accurate to ~1e-8."""
    rng = np.random.default_rng(17)
    n = 2_000
    t = rng.uniform(0.1, 3.0, n)
    vol = rng.uniform(0.1, 0.8, n)
    spot = rng.uniform(20.0, 200.0, n)
    return {
        "spot": spot,
        "strike": spot * np.exp(rng.uniform(-1.5, 1.5, n) * vol * np.sqrt(t)),
        "t": t,
        "rate": rng.uniform(-0.01, 0.08, n),
        "div": rng.uniform(0.0, 0.05, n),
        "vol": vol,
        "is_call": rng.random(n) < 0.5,
    }


def bumped(c: dict[str, np.ndarray], name: str, h: np.ndarray | float, field: str) -> np.ndarray:
    up = dict(c, **{name: c[name] + h})
    down = dict(c, **{name: c[name] - h})
    return getattr(bsm.greeks(*args(up)), field), getattr(bsm.greeks(*args(down)), field)


@pytest.mark.parametrize(
    ("greek", "bump", "field", "units"),
    [
        ("delta", "spot", "price", 1.0),
        ("gamma", "spot", "delta", 1.0),
        ("vega", "vol", "price", 0.01),
        ("theta", "t", "price", -1.0 / 365.0),
        ("rho", "rate", "price", 0.01),
        ("vanna", "vol", "delta", 0.01),
        ("volga", "vol", "vega", 0.01),
    ],
)
def test_given_central_differences_then_each_greek_matches_its_definition_and_units(
    greek, bump, field, units
):
    c = fd_cases()
    h = 1e-4 * c["spot"] if bump == "spot" else 1e-5
    up, down = bumped(c, bump, h, field)
    fd = (up - down) / (2 * h) * units
    exact = getattr(bsm.greeks(*args(c)), greek)
    scale = np.abs(getattr(bsm.greeks(*args(c)), field)).max() * units / np.max(h)
    np.testing.assert_allclose(exact, fd, rtol=2e-6, atol=1e-9 * abs(scale), err_msg=greek)


def test_given_second_differences_then_gamma_and_volga_match_the_price_curvature():
    c = fd_cases()
    g = bsm.greeks(*args(c))
    h = 1e-3 * c["spot"]
    up, down = bumped(c, "spot", h, "price")
    np.testing.assert_allclose(g.gamma, (up - 2 * g.price + down) / h**2, rtol=1e-4, atol=1e-7)
    hv = 1e-3
    up, down = bumped(c, "vol", hv, "price")
    np.testing.assert_allclose(
        g.volga, (up - 2 * g.price + down) / hv**2 * 1e-4, rtol=1e-4, atol=1e-6
    )


# --- limits and edges ---------------------------------------------------------------------------


def test_given_expiry_then_price_is_intrinsic_and_delta_is_the_step_with_half_at_the_strike():
    spot = np.array([90.0, 100.0, 110.0])
    for is_call, step in ((True, [0.0, 0.5, 1.0]), (False, [-1.0, -0.5, 0.0])):
        g = bsm.greeks(spot, 100.0, 0.0, 0.05, 0.02, 0.3, is_call)
        intrinsic = np.maximum((spot - 100.0) * (1 if is_call else -1), 0.0)
        np.testing.assert_array_equal(g.price, intrinsic)
        np.testing.assert_array_equal(g.delta, step)
        for name in ("gamma", "vega", "rho", "vanna", "volga"):
            np.testing.assert_array_equal(getattr(g, name), 0.0)
        # Theta: the finite carry part ω (q S N(ω d1) - r K N(ω d2)) / 365 with the step for N.
        sign = 1 if is_call else -1
        carry = sign * (0.02 * spot - 0.05 * 100.0) * np.abs(np.array(step)) / 365.0
        np.testing.assert_allclose(g.theta, carry, rtol=1e-15, atol=1e-18)


def test_given_time_to_expiry_shrinking_to_zero_then_price_and_delta_converge_to_the_limit():
    spot = np.array([80.0, 99.0, 100.0, 101.0, 120.0])
    at_expiry = bsm.greeks(spot, 100.0, 0.0, 0.03, 0.01, 0.25, True)
    near = bsm.greeks(spot, 100.0, 1e-14, 0.03, 0.01, 0.25, True)
    np.testing.assert_allclose(near.price, at_expiry.price, atol=1e-5)
    np.testing.assert_allclose(near.delta, at_expiry.delta, atol=1e-6)


def test_given_zero_vol_then_price_is_discounted_intrinsic_of_the_forward():
    t, r, q = 2.0, 0.05, 0.01
    strikes = np.array([80.0, 100.0 * np.exp((r - q) * t), 120.0])
    g = bsm.greeks(100.0, strikes, t, r, q, 0.0, [[True], [False]])
    sq, kr = 100.0 * np.exp(-q * t), strikes * np.exp(-r * t)
    np.testing.assert_allclose(g.price[0], np.maximum(sq - kr, 0.0), rtol=1e-15, atol=1e-13)
    np.testing.assert_allclose(g.price[1], np.maximum(kr - sq, 0.0), rtol=1e-15, atol=1e-13)
    # Delta steps at the forward (index 1 is exactly at it, up to rounding of F).
    assert g.delta[0, 0] == pytest.approx(np.exp(-q * t))
    assert g.delta[0, 2] == 0.0
    assert g.delta[1, 0] == 0.0
    assert g.delta[1, 2] == pytest.approx(-np.exp(-q * t))
    for name in ("gamma", "vega", "vanna", "volga"):
        np.testing.assert_array_equal(getattr(g, name), 0.0)
    # Continuity: a vol of 1e-9 gives (nearly) the same values away from the forward.
    tiny = bsm.greeks(100.0, strikes[[0, 2]], t, r, q, 1e-9, True)
    np.testing.assert_allclose(tiny.price, g.price[0, [0, 2]], atol=1e-12)
    np.testing.assert_allclose(tiny.theta, g.theta[0, [0, 2]], atol=1e-12)


def test_given_exactly_at_the_forward_with_zero_vol_then_delta_is_half_the_discounted_step():
    r = q = 0.03  # F == S exactly
    g = bsm.greeks(100.0, 100.0, 1.0, r, q, 0.0, [True, False])
    np.testing.assert_allclose(g.delta, [0.5 * np.exp(-q), -0.5 * np.exp(-q)], rtol=1e-15)
    np.testing.assert_array_equal(g.price, 0.0)


def test_given_infinite_vol_limit_then_price_is_the_upper_bound():
    g = bsm.greeks(100.0, 90.0, 1.0, 0.05, 0.02, 1e160, [True, False])
    np.testing.assert_allclose(g.price, [100 * np.exp(-0.02), 90 * np.exp(-0.05)], rtol=1e-15)
    np.testing.assert_allclose(g.delta, [np.exp(-0.02), 0.0])


@pytest.mark.parametrize("strike", [1e-8, 1e-3, 1e3, 1e8])
def test_given_tiny_and_huge_strikes_then_values_are_finite_and_at_their_bounds(strike):
    spot = 1.0
    t = np.array([1 / 365, 1.0, 30.0])
    vol = np.array([[0.01], [0.3], [3.0]])
    for is_call in (True, False):
        g = bsm.greeks(spot, strike, t, 0.04, 0.01, vol, is_call)
        for name in GREEKS:
            assert np.all(np.isfinite(getattr(g, name))), (name, strike, is_call)
        sq, kr = spot * np.exp(-0.01 * t), strike * np.exp(-0.04 * t)
        lower = np.maximum((sq - kr) if is_call else (kr - sq), 0.0)
        upper = sq if is_call else kr
        assert np.all(g.price >= lower) and np.all(g.price <= upper * (1 + 1e-15))
        if (strike > 1e4 and is_call) or (
            strike < 1e-4 and not is_call
        ):  # hopelessly out of the money
            np.testing.assert_array_equal(g.price[:2, :2], 0.0)


def test_given_deep_in_the_money_then_price_is_never_below_discounted_intrinsic():
    rng = np.random.default_rng(23)
    n = 50_000
    t = rng.uniform(1e-4, 5.0, n)
    r, q = rng.uniform(-0.02, 0.1, n), rng.uniform(0.0, 0.08, n)
    is_call = rng.random(n) < 0.5
    strike = 100.0 * np.exp(np.where(is_call, -1.0, 1.0) * rng.uniform(0.0, 5.0, n))
    price = bsm.price(100.0, strike, t, r, q, rng.uniform(1e-4, 0.5, n), is_call)
    sq, kr = bsm.discounted(100.0, strike, t, r, q)
    intrinsic = np.maximum(np.where(is_call, 1.0, -1.0) * (sq - kr), 0.0)
    assert np.all(price >= intrinsic)


# --- shapes and invalid input ------------------------------------------------------------------


def test_given_broadcastable_shapes_then_outputs_have_the_broadcast_shape():
    spot = np.linspace(80, 120, 5).reshape(5, 1, 1)
    strike = np.linspace(90, 110, 3).reshape(1, 3, 1)
    t = np.array([0.1, 0.5, 1.0, 2.0]).reshape(1, 1, 4)
    g = bsm.greeks(spot, strike, t, 0.02, 0.0, 0.2, True)
    for name in GREEKS:
        assert getattr(g, name).shape == (5, 3, 4)
    # Each element equals the scalar evaluation.
    one = bsm.greeks(float(spot[2, 0, 0]), float(strike[0, 1, 0]), 1.0, 0.02, 0.0, 0.2, True)
    for name in GREEKS:
        assert getattr(g, name)[2, 1, 2] == pytest.approx(float(getattr(one, name)), rel=1e-14)
    assert bsm.price(100.0, 100.0, 1.0, 0.0, 0.0, 0.2, True).shape == ()
    assert bsm.price(100.0, [[100.0]], 1.0, 0.0, 0.0, 0.2, [True, False]).shape == (1, 2)
    assert bsm.price(100.0, np.empty((0, 3)), 1.0, 0.0, 0.0, 0.2, True).shape == (0, 3)


def test_given_more_elements_than_a_block_then_results_equal_elementwise_evaluation():
    c = random_cases(3 * 16384 + 7, seed=29)
    whole = bsm.greeks(*args(c))
    part = slice(40_000, 40_010)
    piece = bsm.greeks(*(a[part] for a in args(c)))
    for name in GREEKS:
        np.testing.assert_array_equal(getattr(whole, name)[part], getattr(piece, name))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("spot", 0.0),
        ("spot", -1.0),
        ("spot", np.inf),
        ("strike", 0.0),
        ("strike", np.nan),
        ("t", -1e-9),
        ("t", np.inf),
        ("rate", np.nan),
        ("div", -np.inf),
        ("vol", -0.01),
        ("vol", np.nan),
    ],
)
def test_given_one_invalid_element_then_only_that_element_is_nan(field, value):
    c = {k: np.asarray(v) for k, v in random_cases(6, seed=31).items()}
    c[field] = c[field].astype(float)
    c[field][2] = value
    g = bsm.greeks(*args(c))
    for name in GREEKS:
        values = getattr(g, name)
        assert np.isnan(values[2]), name
        assert np.all(np.isfinite(np.delete(values, 2))), name
    assert np.isnan(bsm.price(*args(c))[2])


def test_given_the_module_doctests_then_they_pass():
    assert doctest.testmod(bsm).failed == 0
