"""One underlying of a scenario, tick by tick: its price (simulated or replayed), its listed
chain and its implied-vol surface.

A simulated underlying ticks every `tick_interval` from offset 0 (tick k at k·interval); its
path model (`hedgemesh.quant.paths`) steps between ticks, and the step is split at every
gap or lasting vol spike so that each applies exactly at its time. Decaying vol spikes run the
step in business time (`EventSchedule.business_years`), with the drift kept on calendar time.
A replayed underlying ticks at its recorded offsets; a gap multiplies every later price.

Everything is deterministic: the generator of underlying i is seeded from (seed, i), and a
state is a pure function of the scenario, the origin and the tick index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from hedgemesh.market.chain import ListedChain
from hedgemesh.market.dynamics import Factor, SurfaceDynamics, variance_ratio
from hedgemesh.market.events import EventSchedule
from hedgemesh.market.replay import read_ticks
from hedgemesh.quant.paths import PathModel, PathState, make_model
from hedgemesh.scenario.model import (
    SECONDS_PER_YEAR,
    ReplaySpec,
    Scenario,
    UnderlyingSpec,
)
from hedgemesh.wire.market import Surface, SviSlice, Tick

__all__ = ["MarketState", "ReplayedUnderlying", "SimulatedUnderlying", "UnderlyingFeed", "feeds"]

#: Entropy word that keeps the generators of the underlyings apart from other streams.
PATH_STREAM = 0


def run_id(origin: datetime) -> str:
    """A compact token for a run's origin: 20240102T143000Z (microseconds when not zero)."""
    text = origin.strftime("%Y%m%dT%H%M%S")
    return f"{text}{origin.microsecond:06d}Z" if origin.microsecond else f"{text}Z"


@dataclass(frozen=True, eq=False)
class MarketState:
    """One underlying at one tick: what the tick and the surface publish."""

    underlying: str
    seq: int
    offset_s: float
    ts: datetime
    spot: float
    rate: float
    div: float
    chain: ListedChain
    expiry_times: tuple[datetime, ...]
    tenors: NDArray[np.float64]
    """Years from ts to each listed expiry (> 0, increasing)."""
    atm_total_variance: NDArray[np.float64]
    svi: NDArray[np.float64]
    """(n, 5) raw SVI rows (a, b, ρ, m, σ), one per listed expiry."""
    depth_multiplier: float
    run: str

    @property
    def forwards(self) -> NDArray[np.float64]:
        return self.spot * np.exp((self.rate - self.div) * self.tenors)

    @property
    def atm_vols(self) -> NDArray[np.float64]:
        """ATM implied vol (decimal) of each listed expiry."""
        return np.sqrt(self.atm_total_variance / self.tenors)

    def tick(self) -> Tick:
        return Tick(
            id=f"md-{self.underlying}-{self.run}-t{self.seq}",
            ts=self.ts,
            underlying=self.underlying,
            price=self.spot,
            seq=self.seq,
        )

    def surface(self) -> Surface | None:
        """The surface, or None when no listed expiry is left."""
        if not self.expiry_times:
            return None
        slices = [
            SviSlice(expiry=e, t=t, forward=f, a=a, b=b, rho=r, m=m, sigma=s)
            for e, t, f, (a, b, r, m, s) in zip(
                self.expiry_times,
                self.tenors.tolist(),
                self.forwards.tolist(),
                self.svi.tolist(),
                strict=True,
            )
        ]
        return Surface(
            id=f"md-{self.underlying}-{self.run}-s{self.seq}",
            ts=self.ts,
            underlying=self.underlying,
            spot=self.spot,
            rate=self.rate,
            div=self.div,
            slices=slices,
            seq=self.seq,
            depth_multiplier=self.depth_multiplier,
        )


class UnderlyingFeed:
    """Shared by simulated and replayed underlyings: the chain, the surface, the schedule."""

    def __init__(
        self, spec: UnderlyingSpec, events: EventSchedule, origin: datetime, start_spot: float
    ) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.events = events
        self.origin = origin
        self.start_spot = start_spot
        """The spot at offset 0 before any event: strikes are listed, moneyness measured and
        the skew dynamics anchored there."""
        self.run = run_id(origin)
        self.dynamics = SurfaceDynamics.from_spec(spec)
        self.chain = ListedChain.first_listing(spec, origin, start_spot)
        self.seq = 0
        self.offset_s = 0.0
        self.state: MarketState | None = None
        self.halted: str | None = None
        """Why the feed stopped (a price that left (0, ∞)), or None while it runs."""

    # -- what subclasses provide -------------------------------------------------------------

    def _next_offset(self) -> float | None:
        raise NotImplementedError

    def _move_to(self, offset_s: float) -> float:
        """Advance the price to offset_s and return it."""
        raise NotImplementedError

    def _variance_factor(self) -> float | Factor:
        raise NotImplementedError

    def next_offset(self) -> float | None:
        """Offset (seconds) of the next tick; None once the feed has ended or halted."""
        return None if self.halted else self._next_offset()

    # -- ticking -----------------------------------------------------------------------------

    def advance(self) -> MarketState | None:
        """Move to the next tick and return its state; None once the feed has ended (a replay
        at its last row) or halted (see `halted`)."""
        offset = self.next_offset()
        if offset is None:
            return None
        spot = self._move_to(offset)
        if not (math.isfinite(spot) and spot > 0.0):
            self.halted = f"price {spot} at offset {offset:g} s"
            return None
        self.offset_s = offset
        self.state = self._snapshot(offset, spot)
        self.seq += 1
        return self.state

    def _snapshot(self, offset_s: float, spot: float) -> MarketState:
        ts = self.origin + timedelta(seconds=offset_s)
        self.chain = self.chain.rolled(ts, spot)
        expiries = self.chain.expiry_times
        tenors = np.array([(e - ts).total_seconds() for e in expiries]) / SECONDS_PER_YEAR
        if expiries:
            overlay = self.events.variance_overlay
            model = self._variance_factor()
            spot_f = self.dynamics.spot_factor(math.log(spot / self.start_spot))

            def factor(u: NDArray[np.float64]) -> NDArray[np.float64]:
                base = model(u) if callable(model) else model
                return base * spot_f * overlay(offset_s, offset_s + u * SECONDS_PER_YEAR)

            expiry_offsets = np.array([(e - self.origin).total_seconds() for e in expiries])
            theta = self.dynamics.atm_total_variance(
                tenors,
                factor,
                breaks=self.events.overlay_breaks(offset_s),
                event_variance=self.events.event_variance(offset_s, expiry_offsets),
            )
            svi = self.dynamics.slices(theta)
        else:
            theta, svi = np.empty(0), np.empty((0, 5))
        return MarketState(
            underlying=self.symbol,
            seq=self.seq,
            offset_s=offset_s,
            ts=ts,
            spot=spot,
            rate=self.spec.rate,
            div=self.spec.div,
            chain=self.chain,
            expiry_times=expiries,
            tenors=tenors,
            atm_total_variance=theta,
            svi=svi,
            depth_multiplier=self.events.depth_multiplier(offset_s),
            run=self.run,
        )


class SimulatedUnderlying(UnderlyingFeed):
    """A path model stepped tick by tick."""

    def __init__(
        self, spec: UnderlyingSpec, events: EventSchedule, origin: datetime, seed: int, index: int
    ) -> None:
        assert spec.spot is not None
        super().__init__(spec, events, origin, spec.spot)
        params = spec.model.model_dump(exclude={"kind", "mu"})
        self.model: PathModel = make_model(spec.model.kind, mu=spec.drift, **params)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, PATH_STREAM, index]))
        self.start_state: PathState = self.model.initial_state(spec.spot, 1)
        self.path: PathState = self._apply(self.start_state, 0.0, -math.inf)
        self.interval_s = spec.tick_interval

    def _next_offset(self) -> float:
        return self.seq * self.interval_s

    def _apply(self, state: PathState, t0: float, t_before: float) -> PathState:
        for jump in self.events.discontinuities(t_before, t0):
            state = self.model.shock(
                state, spot_factor=jump.spot_factor, vol_factor=jump.vol_factor
            )
        return state

    def _move_to(self, offset_s: float) -> float:
        state, t = self.path, self.offset_s
        if offset_s > t:
            stops = [d.at_s for d in self.events.discontinuities(t, offset_s)]
            for stop in [*stops, offset_s]:
                if stop > t:
                    state = self._step(state, t, stop)
                state = self._apply(state, stop, t)
                t = stop
        self.path = state
        return float(state.spot[0])

    def _step(self, state: PathState, t0: float, t1: float) -> PathState:
        calendar = (t1 - t0) / SECONDS_PER_YEAR
        business = self.events.business_years(t0, t1)
        state = self.model.step(state, business, self.rng)
        if business != calendar:  # the drift runs on calendar time
            drift = math.exp(self.spec.drift * (calendar - business))
            state = self.model.shock(state, spot_factor=drift)
        return state

    def _variance_factor(self) -> float | Factor:
        return variance_ratio(self.spec.model, self.start_state, self.path)


class ReplayedUnderlying(UnderlyingFeed):
    """Prices from a CSV file at their recorded offsets."""

    def __init__(self, spec: UnderlyingSpec, events: EventSchedule, origin: datetime) -> None:
        assert isinstance(spec.model, ReplaySpec)
        self.ticks = read_ticks(spec.model, spec.symbol)
        super().__init__(spec, events, origin, float(self.ticks.prices[0]))

    def _next_offset(self) -> float | None:
        return float(self.ticks.offsets_s[self.seq]) if self.seq < len(self.ticks) else None

    def _move_to(self, offset_s: float) -> float:
        factor = 1.0
        for jump in self.events.discontinuities(-math.inf, offset_s):
            factor *= jump.spot_factor
        return float(self.ticks.prices[self.seq]) * factor

    def _variance_factor(self) -> float | Factor:
        return 1.0


def feeds(scenario: Scenario, origin: datetime) -> dict[str, UnderlyingFeed]:
    """One feed per underlying of the scenario, by symbol, in the scenario's order."""
    out: dict[str, UnderlyingFeed] = {}
    for index, spec in enumerate(scenario.underlyings):
        replay = isinstance(spec.model, ReplaySpec)
        events = EventSchedule(scenario.events_for(spec.symbol), stateful=not replay)
        out[spec.symbol] = (
            ReplayedUnderlying(spec, events, origin)
            if replay
            else SimulatedUnderlying(spec, events, origin, scenario.seed, index)
        )
    return out
