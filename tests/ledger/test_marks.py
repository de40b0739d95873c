"""The ledger's marks (`MarketView.fair_values`): the underlying at its tick, options by BSM on
the SVI surface (sticky moneyness)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from ledger_examples import CALL, EXPIRY, NDX, PUT, SPX, T0, surface, tick

from hedgemesh.market.fair_value import vol_surface
from hedgemesh.market.view import MarketView
from hedgemesh.quant import bsm
from hedgemesh.wire import Instrument


def years_between(start, end) -> float:
    return (end - start).total_seconds() / (bsm.DAYS_PER_YEAR * 86_400.0)


def test_given_nothing_seen_then_nothing_marked() -> None:
    assert MarketView().fair_values([SPX, CALL], T0) == {}


def test_given_tick_only_then_underlying_marked_and_options_not() -> None:
    marks = MarketView()
    marks.apply_tick(tick(5000.0))
    assert marks.fair_values([SPX, CALL, NDX], T0) == {"SPX": 5000.0}


def test_given_surface_at_the_tick_spot_then_options_priced_by_bsm_at_the_surface_vol() -> None:
    marks = MarketView()
    marks.apply_tick(tick(5000.0))
    marks.apply_surface(surface(5000.0))
    now = T0 + timedelta(days=10)
    values = marks.fair_values([CALL, PUT], now)
    vols = vol_surface(surface(5000.0)).implied_vol([5000.0, 4500.0], years_between(T0, EXPIRY))
    expected = bsm.price(5000.0, [5000.0, 4500.0], years_between(now, EXPIRY), 0, 0, vols,
                         [True, False])  # fmt: skip
    np.testing.assert_allclose([values[CALL.symbol], values[PUT.symbol]], expected, rtol=1e-12)
    assert vols[1] > vols[0]  # the skew is there: a lower strike has a higher vol


def test_given_spot_moved_since_the_surface_then_vol_follows_moneyness() -> None:
    marks = MarketView()
    marks.apply_surface(surface(5000.0))
    marks.apply_tick(tick(4500.0))
    t = years_between(T0, EXPIRY)
    sticky_vol = vol_surface(surface(5000.0)).implied_vol(5000.0 * 5000.0 / 4500.0, t)
    value = marks.fair_values([CALL], T0)[CALL.symbol]
    assert value == pytest.approx(float(bsm.price(4500.0, 5000.0, t, 0, 0, sticky_vol, True)))


def test_given_expired_option_then_marked_at_intrinsic() -> None:
    marks = MarketView()
    marks.apply_surface(surface(5000.0))
    marks.apply_tick(tick(5100.0))
    after = EXPIRY + timedelta(hours=1)
    values = marks.fair_values([CALL, PUT], after)
    assert values == {CALL.symbol: pytest.approx(100.0), PUT.symbol: 0.0}


def test_given_surface_without_tick_then_its_spot_is_used() -> None:
    marks = MarketView()
    marks.apply_surface(surface(5000.0))
    assert marks.spot("SPX", or_surface=True) == 5000.0
    assert marks.spot("SPX") is None  # nothing trades on a surface's spot (execution)
    assert set(marks.fair_values([SPX, CALL], T0)) == {SPX.symbol, CALL.symbol}
    assert marks.spot("NDX") is None
    assert Instrument.spot("NDX").symbol not in marks.fair_values([NDX], T0)
