"""The event schedule as functions of time: gaps, spikes, droughts, announcements."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter

from hedgemesh.market.events import EventSchedule
from hedgemesh.scenario.model import SECONDS_PER_YEAR, EventSpec

HOUR = 3600.0
_EVENTS = TypeAdapter(list[EventSpec])


def _schedule(*events: dict, stateful: bool = True) -> EventSchedule:
    return EventSchedule(_EVENTS.validate_python(list(events)), stateful=stateful)


def test_given_gaps_and_a_lasting_spike_at_one_time_then_one_discontinuity_multiplies_them():
    schedule = _schedule(
        {"kind": "gap", "at": "1h", "pct": -5},
        {"kind": "gap", "at": "1h", "pct": -2},
        {"kind": "vol_spike", "at": "1h", "multiplier": 1.5},
        {"kind": "gap", "at": "2h", "pct": 10},
    )
    (jump,) = schedule.discontinuities(0.0, HOUR)
    assert jump.at_s == HOUR
    assert jump.spot_factor == pytest.approx(0.95 * 0.98) and jump.vol_factor == 1.5
    assert schedule.discontinuities(HOUR, 1.5 * HOUR) == ()  # at == t0 is not after t0
    assert [d.at_s for d in schedule.discontinuities(0.0, 3 * HOUR)] == [HOUR, 2 * HOUR]


def test_given_a_decaying_spike_then_the_excess_variance_halves_each_half_life():
    schedule = _schedule({"kind": "vol_spike", "at": "1h", "multiplier": 2.0, "half_life": "30m"})
    assert schedule.discontinuities(0, 10 * HOUR) == ()  # it is an overlay, not a state shock
    assert schedule.variance_overlay(0.5 * HOUR, [HOUR, 2 * HOUR]).tolist() == [1.0, 1.0]
    at = HOUR + np.array([0.0, 0.5, 1.0, 1.5]) * HOUR
    np.testing.assert_allclose(schedule.variance_overlay(HOUR, at), 1 + 3 * 0.5 ** np.arange(4))


def test_given_a_spike_then_business_time_is_the_integral_of_the_overlay():
    half_life = 1800.0
    schedule = _schedule({"kind": "vol_spike", "at": 0, "multiplier": 2.0, "half_life": half_life})
    lam = math.log(2) / half_life
    t0, t1 = 100.0, 110.0
    exact = (t1 - t0) + 3 / lam * (math.exp(-lam * t0) - math.exp(-lam * t1))
    assert schedule.business_years(t0, t1) == pytest.approx(exact / SECONDS_PER_YEAR, rel=1e-9)
    assert _schedule().business_years(t0, t1) == (t1 - t0) / SECONDS_PER_YEAR


def test_given_a_replay_then_a_lasting_spike_is_a_constant_overlay():
    schedule = _schedule({"kind": "vol_spike", "at": 0, "multiplier": 1.5}, stateful=False)
    assert schedule.discontinuities(-1, 10) == ()
    assert schedule.variance_overlay(5.0, [5.0, 1e9]).tolist() == [2.25, 2.25]


def test_given_droughts_then_depth_multiplies_while_each_lasts():
    schedule = _schedule(
        {"kind": "liquidity_drought", "at": "1h", "duration": "1h", "depth_multiplier": 0.5},
        {"kind": "liquidity_drought", "at": "90m", "duration": "1h", "depth_multiplier": 0.4},
    )
    depth = [schedule.depth_multiplier(h * HOUR) for h in (0.5, 1.0, 1.5, 2.0, 2.5)]
    assert depth == pytest.approx([1.0, 0.5, 0.2, 0.4, 1.0])


def test_given_an_announcement_then_expiries_after_it_carry_its_variance_until_it_passes():
    schedule = _schedule({"kind": "announcement", "at": "1h", "name": "CPI", "event_vol": 0.02})
    expiries = [0.5 * HOUR, 2 * HOUR, 30 * HOUR]
    assert schedule.event_variance(0.0, expiries).tolist() == pytest.approx([0, 4e-4, 4e-4])
    assert schedule.event_variance(HOUR, expiries).tolist() == [0, 0, 0]
    assert [e.kind for e in schedule.happened(0.0, HOUR)] == ["announcement"]
