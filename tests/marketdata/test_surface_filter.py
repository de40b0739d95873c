"""Surfaces re-sent only when they say something new (`hedgemesh.market.surface_filter`): on the
default scenario, few surfaces go out, the gap's at once, and what a consumer prices with the
last surface sent stays within the tolerance of pricing with every surface."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from hedgemesh.market.session import MarketSession
from hedgemesh.market.surface_filter import SurfaceFilter
from hedgemesh.market.view import MarketView
from hedgemesh.scenario import DEFAULT_SCENARIO, load_scenario
from hedgemesh.wire.instruments import Instrument

ORIGIN = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
TOLERANCE = 0.0005


def test_given_the_default_day_then_few_surfaces_go_out_and_held_back_vols_stay_within_tolerance():
    scenario = load_scenario(DEFAULT_SCENARIO)
    session = MarketSession(scenario, ORIGIN)
    session.start()
    surfaces = SurfaceFilter(TOLERANCE, 300.0)
    every, sent = MarketView(), MarketView()
    total = passed = 0
    gap = ORIGIN.timestamp() + 3600.0
    for _ in range(2 * 360 + 30):  # two hours and the gap, SPX and NDX every 10 s
        batch = session.advance()
        for surface in batch.surfaces:
            total += 1
            every.apply_surface(surface)
            if surfaces.admit(surface):
                passed += 1
                sent.apply_surface(surface)
            elif abs(surface.ts.timestamp() - gap) < 1.0:
                raise AssertionError(f"the gap's surface of {surface.underlying} held back")
        for tick in batch.ticks:
            every.apply_tick(tick)
            sent.apply_tick(tick)
            tv = every.surface(tick.underlying)
            assert tv is not None
            options = [
                Instrument.option(tick.underlying, s.expiry, s.forward * m, right)
                for s in tv.slices
                for m in (0.9, 1.0, 1.1)
                for right in ("call", "put")
            ]
            exact, held = every.option_values(options), sent.option_values(options)
            assert exact is not None and held is not None
            assert np.max(np.abs(held[1] - exact[1])) <= 2 * TOLERANCE  # vols, sticky moneyness
    assert passed < 0.35 * total and surfaces.held_back == total - passed
