"""A scenario's scheduled events for one underlying, as pure functions of time.

Times are offsets from the scenario's start in seconds. An event at `at` has happened for every
t ≥ at (the tick at `at` shows it):

- gap: the spot × (1 + pct/100) at `at` (a discontinuity the path steps to exactly);
- vol spike with a half-life h: from `at` on, the market's clock runs faster: variance per unit
  of time × f(s) = 1 + (M² − 1)·2^(−(s − at)/h). The simulated path takes each step in that
  business time (`business_years`), and the implied surface sees the same factor on its
  forward variances (`variance_overlay`), so realised and implied vol jump by M together and
  decay together;
- vol spike without a half-life: a lasting shock to the model's vol state (GBM's, Merton's
  and SABR's vol × M, Heston's variance × M², which reverts at its kappa); for a replayed
  underlying, which has no state, a lasting factor M² on the surface;
- liquidity drought: the venue's depth × the multiplier for at ≤ t < at + duration (several
  droughts multiply);
- announcement: while t < at, every expiry after `at` carries event_vol² of extra total
  variance (the market prices the move); it does not move the price itself — pair it with a
  gap for that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hedgemesh.scenario.model import (
    SECONDS_PER_YEAR,
    AnnouncementEvent,
    EventSpec,
    GapEvent,
    LiquidityDroughtEvent,
    VolSpikeEvent,
)

__all__ = ["Discontinuity", "EventSchedule"]

_LN2 = math.log(2.0)
#: Break points of the forward-variance integral around a decaying spike, in half-lives.
_SPIKE_BREAKS = 2.0 ** np.arange(-3, 7)


@dataclass(frozen=True, slots=True)
class Discontinuity:
    """What happens to the path at one instant: spot × spot_factor, vol state × vol_factor."""

    at_s: float
    spot_factor: float
    vol_factor: float


class EventSchedule:
    """The events of one underlying. `stateful`: the path model has a vol state that a lasting
    spike shocks (False for a replayed underlying)."""

    def __init__(self, events: Sequence[EventSpec], *, stateful: bool) -> None:
        self.events = tuple(sorted(events, key=lambda e: e.at))
        jumps: dict[float, tuple[float, float]] = {}
        spikes: list[tuple[float, float, float]] = []  # (at, M² − 1, decay rate per second)
        droughts: list[tuple[float, float, float]] = []
        announcements: list[tuple[float, float]] = []
        for event in self.events:
            spot_f, vol_f = jumps.get(event.at, (1.0, 1.0))
            if isinstance(event, GapEvent):
                jumps[event.at] = (spot_f * (1.0 + event.pct / 100.0), vol_f)
            elif isinstance(event, VolSpikeEvent):
                if event.half_life is not None:
                    spikes.append((event.at, event.multiplier**2 - 1.0, _LN2 / event.half_life))
                elif stateful:
                    jumps[event.at] = (spot_f, vol_f * event.multiplier)
                else:
                    spikes.append((event.at, event.multiplier**2 - 1.0, 0.0))
            elif isinstance(event, LiquidityDroughtEvent):
                droughts.append((event.at, event.at + event.duration, event.depth_multiplier))
            elif isinstance(event, AnnouncementEvent):
                announcements.append((event.at, event.event_vol**2))
        self.discontinuity_list = tuple(Discontinuity(at, *f) for at, f in sorted(jumps.items()))
        self._spikes = np.array(spikes, dtype=np.float64).reshape(-1, 3)
        self._droughts = np.array(droughts, dtype=np.float64).reshape(-1, 3)
        self._announcements = np.array(announcements, dtype=np.float64).reshape(-1, 2)

    def discontinuities(self, t0: float, t1: float) -> tuple[Discontinuity, ...]:
        """Gaps and lasting spikes with t0 < at ≤ t1, in time order (at most one per instant)."""
        return tuple(d for d in self.discontinuity_list if t0 < d.at_s <= t1)

    def happened(self, t0: float, t1: float) -> tuple[EventSpec, ...]:
        """Every event with t0 < at ≤ t1 (for logs and notes)."""
        return tuple(e for e in self.events if t0 < e.at <= t1)

    def _active_spikes(self, t: float) -> NDArray[np.float64]:
        return self._spikes[self._spikes[:, 0] <= t]

    def variance_overlay(self, t: float, s: ArrayLike) -> NDArray[np.float64]:
        """Variance multiplier at future times s ≥ t (seconds) of the spikes that happened by t
        (1 where none)."""
        s_arr = np.asarray(s, dtype=np.float64)
        spikes = self._active_spikes(t)
        if spikes.shape[0] == 0:
            return np.ones_like(s_arr)
        at, c, lam = spikes[:, 0], spikes[:, 1], spikes[:, 2]
        age = np.maximum(s_arr[..., None] - at, 0.0)
        return np.prod(1.0 + c * np.exp(-lam * age), axis=-1)

    def business_years(self, t0: float, t1: float) -> float:
        """Business time of the step [t0, t1] (years): ∫ f(s) ds by Simpson's rule over the
        spikes active at t0 (a step never crosses an event: the path steps to each one)."""
        dt = (t1 - t0) / SECONDS_PER_YEAR
        if self._active_spikes(t0).shape[0] == 0:
            return dt
        f0, fm, f1 = self.variance_overlay(t0, [t0, 0.5 * (t0 + t1), t1]).tolist()
        return dt * (f0 + 4.0 * fm + f1) / 6.0

    def overlay_breaks(self, t: float) -> NDArray[np.float64]:
        """Tenors (years) where the overlay at t changes fast: a few half-lives of each spike."""
        spikes = self._active_spikes(t)
        decaying = spikes[spikes[:, 2] > 0.0]
        if decaying.shape[0] == 0:
            return np.empty(0)
        half_lives_years = _LN2 / decaying[:, 2] / SECONDS_PER_YEAR
        return (half_lives_years[:, None] * _SPIKE_BREAKS[None, :]).ravel()

    def depth_multiplier(self, t: float) -> float:
        """The venue's depth relative to normal at t: the product of the droughts under way."""
        d = self._droughts
        active = (d[:, 0] <= t) & (t < d[:, 1])
        return float(np.prod(d[active, 2])) if active.any() else 1.0

    def event_variance(self, t: float, expiry_offsets: ArrayLike) -> NDArray[np.float64]:
        """Extra total variance (years · vol²) of each expiry (offset in seconds) from the
        announcements still to come at t that fall before it."""
        e = np.asarray(expiry_offsets, dtype=np.float64)
        a = self._announcements
        if a.shape[0] == 0:
            return np.zeros_like(e)
        pending = a[a[:, 0] > t]
        return (pending[None, :, 1] * (pending[None, :, 0] < e[:, None])).sum(axis=1)
