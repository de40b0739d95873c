"""Fair values from a tick and a surface: Black–Scholes–Merton at the surface's vol."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hedgemesh.market.fair_value import InstrumentArrays, fair_values, implied_vols, vol_surface
from hedgemesh.market.session import MarketSession
from hedgemesh.quant import bsm, svi
from hedgemesh.quant.svi import SviParams
from hedgemesh.scenario.testing import make_scenario
from hedgemesh.wire.instruments import Instrument, OptionRight
from hedgemesh.wire.market import Tick

ORIGIN = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
YEAR_S = 365 * 86400


@pytest.fixture(scope="module")
def market():
    session = MarketSession(make_scenario(), ORIGIN)
    session.start()
    session.run_until(600.0)
    state = session.states["SPX"]
    return state.tick(), state.surface(), state.chain.instruments


def test_given_listed_options_then_fair_values_equal_bsm_on_the_slice_vol(market):
    tick, surface, instruments = market
    values = fair_values(tick, surface, instruments)
    by_expiry = {s.expiry: s for s in surface.slices}
    for instrument, value in zip(instruments, values, strict=True):
        s = by_expiry[instrument.expiry]
        vol = svi.implied_vol(
            SviParams(s.a, s.b, s.rho, s.m, s.sigma), np.log(instrument.strike / s.forward), s.t
        )
        expected = bsm.price(tick.price, instrument.strike, s.t, surface.rate, surface.div, vol,
                             instrument.right is OptionRight.CALL)  # fmt: skip
        assert value == pytest.approx(float(expected), rel=1e-12, abs=1e-12)


def test_given_calls_and_puts_then_put_call_parity_holds(market):
    tick, surface, instruments = market
    values = dict(
        zip((i.symbol for i in instruments), fair_values(tick, surface, instruments), strict=True)
    )
    for call in (i for i in instruments if i.right is OptionRight.CALL):
        put = call.symbol.replace("-C-", "-P-")
        t = (call.expiry - tick.ts).total_seconds() / YEAR_S
        forward_value = tick.price * np.exp(-surface.div * t) - call.strike * np.exp(
            -surface.rate * t
        )
        assert values[call.symbol] - values[put] == pytest.approx(forward_value, abs=1e-9)


def test_given_the_underlying_then_its_fair_value_is_the_tick_price(market):
    tick, surface, instruments = market
    values = fair_values(tick, surface, [Instrument.spot("SPX"), instruments[0]])
    assert values[0] == tick.price
    assert fair_values(tick, surface, [Instrument.spot("SPX")]).tolist() == [tick.price]


def test_given_a_tick_newer_than_the_surface_then_the_smile_rides_with_the_forward(market):
    tick, surface, instruments = market
    moved = Tick(
        id="x",
        ts=tick.ts + timedelta(seconds=5),
        underlying="SPX",
        price=tick.price * 1.01,
        seq=tick.seq + 1,
    )
    option = instruments[4]
    s = next(s for s in surface.slices if s.expiry == option.expiry)
    k = np.log(option.strike / (s.forward * 1.01))
    vol = svi.implied_vol(SviParams(s.a, s.b, s.rho, s.m, s.sigma), k, s.t)
    assert implied_vols(moved, surface, [option])[0] == pytest.approx(float(vol), rel=1e-12)
    t = (option.expiry - moved.ts).total_seconds() / YEAR_S
    expected = bsm.price(
        moved.price,
        option.strike,
        t,
        surface.rate,
        surface.div,
        vol,
        option.right is OptionRight.CALL,
    )
    assert fair_values(moved, surface, [option])[0] == pytest.approx(float(expected), rel=1e-12)


def test_given_an_expired_option_then_it_is_worth_its_intrinsic_value(market):
    tick, surface, _ = market
    put = Instrument.option("SPX", tick.ts - timedelta(days=1), tick.price + 100, "put")
    assert fair_values(tick, surface, [put])[0] == pytest.approx(100.0)


def test_given_arrays_or_a_converted_surface_then_the_values_are_the_same(market):
    tick, surface, instruments = market
    plain = fair_values(tick, surface, instruments)
    arrays = InstrumentArrays.of(instruments)
    fast = fair_values(tick, surface, arrays, surf=vol_surface(surface))
    np.testing.assert_array_equal(plain, fast)


def test_given_another_underlying_then_valuing_refuses(market):
    tick, surface, _ = market
    other = Instrument.option("NDX", tick.ts + timedelta(days=7), 18000, "call")
    with pytest.raises(ValueError, match="NDX"):
        fair_values(tick, surface, [other])
    with pytest.raises(ValueError, match="several underlyings"):
        InstrumentArrays.of([other, Instrument.spot("SPX")])
