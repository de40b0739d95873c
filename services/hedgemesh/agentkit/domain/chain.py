"""The listed options an agent may hedge with, priced on the book's market: pure.

Expiries are the surface's slices (what marketdata lists and quotes now, rolls included;
execution accepts an option only on a listed expiry); strikes are the scenario chain's strike
grid at the current spot (`hedgemesh.market.chain.listed_strikes`: its moneyness levels times
spot, rounded as the chain rounds; absolute strikes as given), both rights the chain lists, its
multiplier. Each comes with its greeks per contract (`BookState.greeks_per_unit`, the book's own
vol lookup and pricing), its fair value and what `policies.selection` needs to judge it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from hedgemesh.market.book_state import SECONDS_PER_YEAR, BookState, InstrumentBatch, UnitGreeks
from hedgemesh.market.chain import listed_strikes
from hedgemesh.policies.selection import eligible
from hedgemesh.scenario.model import ChainSpec
from hedgemesh.wire.instruments import Instrument

__all__ = ["Candidates", "Listings", "listed_candidates", "listed_instruments"]

_DAY_S = 86_400.0


@dataclass(frozen=True, slots=True, eq=False)
class Candidates:
    """Options of one underlying, arrays in the order of `instruments` (by expiry, strike,
    right). tau_days: calendar days to expiry; forward: F = S e^{(r − q)τ} (currency)."""

    instruments: tuple[Instrument, ...]
    unit: UnitGreeks
    fair: NDArray[np.float64]
    strike: NDArray[np.float64]
    tau_days: NDArray[np.float64]
    forward: NDArray[np.float64]
    is_call: NDArray[np.bool_]
    multiplier: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.instruments)

    @classmethod
    def empty(cls) -> Candidates:
        """No options (an underlying without a chain spec)."""
        none = np.empty(0)
        unit = UnitGreeks(*(none for _ in UnitGreeks.__slots__))
        return cls((), unit, none, none, none, none, np.empty(0, bool), none)

    def near_the_money(self, min_days: float, max_days: float, max_sd: float) -> NDArray[np.bool_]:
        """`policies.selection.eligible` on these options (with a usable vol)."""
        vol = self.unit.vol
        window = eligible(
            self.strike,
            self.forward,
            vol,
            self.tau_days,
            min_days=min_days,
            max_days=max_days,
            max_sd=max_sd,
        )
        return window & (vol > 0.0) & (self.fair > 0.0)

    def take(self, mask: NDArray[np.bool_]) -> Candidates:
        """The options where `mask` holds."""
        idx = np.flatnonzero(mask)
        u = self.unit
        return Candidates(
            tuple(self.instruments[i] for i in idx),
            UnitGreeks(*(getattr(u, f)[idx] for f in UnitGreeks.__slots__)),
            self.fair[idx],
            self.strike[idx],
            self.tau_days[idx],
            self.forward[idx],
            self.is_call[idx],
            self.multiplier[idx],
        )


def listed_instruments(
    underlying: str, spec: ChainSpec, expiries: Sequence[datetime], spot: float
) -> tuple[Instrument, ...]:
    """Every option of the chain's strike grid at `spot` on each of `expiries`."""
    strikes = listed_strikes(spec, spot)
    return tuple(
        Instrument.option(underlying, expiry, strike, right, spec.multiplier)
        for expiry in expiries
        for strike in strikes
        for right in spec.rights
    )


class Listings:
    """The listed options of each underlying as an `InstrumentBatch`, built again only when
    the expiries in the tenor window or the strike grid change (a roll, or spot crossing a
    rounding step), not on every cycle."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[tuple[object, ...], InstrumentBatch]] = {}

    def batch(
        self, underlying: str, spec: ChainSpec, expiries: Sequence[datetime], spot: float
    ) -> InstrumentBatch:
        key = (spec, tuple(expiries), listed_strikes(spec, spot))
        held = self._held.get(underlying)
        if held is None or held[0] != key:
            batch = InstrumentBatch.of(listed_instruments(underlying, spec, expiries, spot))
            held = self._held[underlying] = (key, batch)
        return held[1]


def listed_candidates(
    book: BookState,
    underlying: str,
    spec: ChainSpec,
    now: datetime,
    *,
    min_days: float = 0.0,
    max_days: float = float("inf"),
    listings: Listings | None = None,
) -> Candidates:
    """The listed options of `underlying` with min_days ≤ life ≤ max_days at `now`, priced on
    `book`'s market (which must have the underlying's tick and surface). `listings` keeps the
    instruments from one call to the next."""
    tick, surface = book.tick(underlying), book.surface(underlying)
    if tick is None or surface is None:
        raise KeyError(f"{underlying} has no tick or no surface")
    now_s = now.timestamp()
    window = [
        s.expiry
        for s in surface.slices
        if min_days <= (s.expiry.timestamp() - now_s) / _DAY_S <= max_days
    ]
    batch = (listings or Listings()).batch(underlying, spec, window, tick.price)
    arrays = batch.arrays
    tau_days = (arrays.expiry_s - now_s) / _DAY_S
    carry = surface.rate - surface.div
    return Candidates(
        instruments=batch.instruments,
        unit=book.greeks_per_unit(batch, now),
        fair=book.fair_values(batch),
        strike=arrays.strike,
        tau_days=tau_days,
        forward=tick.price * np.exp(carry * tau_days * _DAY_S / SECONDS_PER_YEAR),
        is_call=arrays.is_call,
        multiplier=batch.multiplier,
    )
