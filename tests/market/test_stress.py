"""The stress grid on a book: no shock changes nothing, the centre's greeks are the risk
figures', shocked values are Black–Scholes–Merton revaluations, and the firm adds up."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from api_examples import chain, feed_batches, session, snapshot

from hedgemesh.api.domain.readmodel import ReadModel
from hedgemesh.market.stress import SPOT_SHOCKS, VOL_SHOCKS, stress_grid
from hedgemesh.quant import bsm
from hedgemesh.wire.instruments import Instrument


@pytest.fixture
def book():
    market = session("SPX", "NDX")
    model = ReadModel(["SPX", "NDX"])
    feed_batches(model, market.run_until(30))
    spx, ndx = chain(market, "SPX"), chain(market, "NDX")
    model.on_snapshot(snapshot("SPX", [(spx[2], -20), (spx[9], 15), (Instrument.spot("SPX"), 300)]))
    model.on_snapshot(snapshot("NDX", [(ndx[4], -8)]))
    return model.book, spx[9]


def test_given_no_shock_then_the_centre_is_the_book_now(book):
    state, _ = book
    now = state.tick("SPX").ts
    grid = stress_grid(state, now)
    centre = (VOL_SHOCKS.index(0.0), SPOT_SHOCKS.index(0.0))
    risk = state.risk(now).by_underlying
    for i, name in enumerate(state.underlyings):
        cells = grid.underlyings[name]
        assert cells.pnl[centre] == pytest.approx(0.0, abs=1e-6)
        assert cells.delta[centre] == pytest.approx(risk.delta[i])
        assert cells.dollar_gamma_per_pct[centre] == pytest.approx(risk.dollar_gamma_per_pct[i])
        assert cells.vega_per_point[centre] == pytest.approx(risk.vega_per_point[i])
    total = grid.underlyings["SPX"].pnl + grid.underlyings["NDX"].pnl
    np.testing.assert_allclose(grid.firm.pnl, total)
    assert grid.firm.delta is None and grid.firm.as_dict()["delta"] is None


def test_given_a_shock_then_each_holding_is_revalued_at_the_shocked_spot_and_vol():
    market = session("SPX")
    model = ReadModel(["SPX"])
    feed_batches(model, market.run_until(30))
    call = next(i for i in chain(market) if i.is_option and i.right.value == "call")
    model.on_snapshot(snapshot("SPX", [(call, 3), (Instrument.spot("SPX"), -100)]))
    state = model.book
    now, spot = state.tick("SPX").ts, state.tick("SPX").price
    grid = stress_grid(state, now, spot_shocks=(-0.05, 0.0), vol_shocks=(0.0, 10.0))
    unit = state.greeks_per_unit([call], now)
    surface = state.surface("SPX")
    t = (call.expiry.timestamp() - now.timestamp()) / (365 * 86_400)
    shocked = bsm.price(spot * 0.95, call.strike, t, surface.rate, surface.div,
                        unit.vol[0] + 0.10, True) * call.multiplier  # fmt: skip
    expected = 3 * (shocked - unit.value[0]) - 100 * (spot * 0.95 - spot)
    assert grid.underlyings["SPX"].pnl[1, 0] == pytest.approx(expected, rel=1e-9)
    # Down 5 % and vol up: a long call with a short underlying hedge.
    assert grid.underlyings["SPX"].pnl[1, 0] > grid.underlyings["SPX"].pnl[0, 0]
