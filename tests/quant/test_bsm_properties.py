"""Properties of Black–Scholes–Merton prices and greeks that hold for every valid input."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.quant import bsm

PROPERTY_SETTINGS = settings(max_examples=400, derandomize=True, deadline=None)

spots = st.floats(1e-3, 1e4)
log_moneyness = st.floats(-6.0, 6.0)
times = st.one_of(st.just(0.0), st.floats(1e-8, 10.0))
rates = st.floats(-0.05, 0.2)
vols = st.one_of(st.just(0.0), st.floats(1e-6, 3.0))
kinds = st.booleans()


def bounds(spot, strike, t, rate, div, is_call):
    sq, kr = spot * math.exp(-div * t), strike * math.exp(-rate * t)
    lower = max((sq - kr) if is_call else (kr - sq), 0.0)
    return lower, sq if is_call else kr


@PROPERTY_SETTINGS
@given(spots, log_moneyness, times, rates, rates, vols, kinds)
def test_given_any_valid_input_then_price_lies_within_no_arbitrage_bounds_and_greeks_are_sane(
    spot, m, t, rate, div, vol, is_call
):
    strike = spot * math.exp(m)
    g = bsm.greeks(spot, strike, t, rate, div, vol, is_call)
    for name in bsm.Greeks._fields:
        assert np.isfinite(getattr(g, name)), name
    lower, upper = bounds(spot, strike, t, rate, div, is_call)
    ulps = 4e-16 * (spot + strike)  # math.exp here, numpy's exp there
    assert lower - ulps <= g.price <= upper + ulps
    dq = math.exp(-div * t)
    if is_call:
        assert 0.0 <= g.delta <= dq * (1 + 4e-16)
    else:
        assert -dq * (1 + 4e-16) <= g.delta <= 0.0
    assert g.gamma >= 0.0
    assert g.vega >= 0.0


@PROPERTY_SETTINGS
@given(spots, log_moneyness, times, rates, rates, vols, kinds, st.floats(1e-6, 0.5))
def test_given_a_higher_spot_then_calls_are_worth_more_and_puts_less(
    spot, m, t, rate, div, vol, is_call, bump
):
    strike = spot * math.exp(m)
    low, high = bsm.price([spot, spot * (1 + bump)], strike, t, rate, div, vol, is_call)
    slack = 1e-14 * (spot + strike)
    assert (high >= low - slack) if is_call else (high <= low + slack)


@PROPERTY_SETTINGS
@given(spots, log_moneyness, times, rates, rates, kinds, st.floats(0.0, 3.0), st.floats(1e-6, 1.0))
def test_given_a_higher_vol_then_the_price_does_not_fall(spot, m, t, rate, div, is_call, vol, bump):
    strike = spot * math.exp(m)
    low, high = bsm.price(spot, strike, t, rate, div, [vol, vol + bump], is_call)
    assert high >= low - 1e-14 * (spot + strike)


@PROPERTY_SETTINGS
@given(spots, log_moneyness, times, rates, rates, vols, kinds, st.floats(1e-6, 0.5))
def test_given_a_higher_strike_then_calls_are_worth_less_and_puts_more(
    spot, m, t, rate, div, vol, is_call, bump
):
    strike = spot * math.exp(m)
    low, high = bsm.price(spot, [strike, strike * (1 + bump)], t, rate, div, vol, is_call)
    slack = 1e-14 * (spot + strike)
    assert (high <= low + slack) if is_call else (high >= low - slack)
