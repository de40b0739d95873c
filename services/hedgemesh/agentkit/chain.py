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

from hedgemesh.market.book_state import SECONDS_PER_YEAR, BookState, UnitGreeks
from hedgemesh.market.chain import listed_strikes
from hedgemesh.policies.selection import eligible
from hedgemesh.scenario.model import ChainSpec
from hedgemesh.wire.instruments import Instrument, OptionRight

__all__ = ["Candidates", "listed_candidates"]

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


def listed_candidates(
    book: BookState, underlying: str, spec: ChainSpec, now: datetime
) -> Candidates:
    """The listed options of `underlying` alive at `now`, priced on `book`'s market (which must
    have the underlying's tick and surface)."""
    tick, surface = book.tick(underlying), book.surface(underlying)
    if tick is None or surface is None:
        raise KeyError(f"{underlying} has no tick or no surface")
    alive = [s.expiry for s in surface.slices if s.expiry > now]
    instruments = listed_instruments(underlying, spec, alive, tick.price)
    n = len(instruments)
    unit = book.greeks_per_unit(instruments, now)
    strike = np.fromiter((i.strike or 0.0 for i in instruments), np.float64, n)
    expiry_s = np.fromiter(
        (i.expiry.timestamp() if i.expiry else 0.0 for i in instruments), np.float64, n
    )
    tau_days = (expiry_s - now.timestamp()) / _DAY_S
    carry = surface.rate - surface.div
    forward = tick.price * np.exp(carry * tau_days * _DAY_S / SECONDS_PER_YEAR)
    return Candidates(
        instruments=instruments,
        unit=unit,
        fair=book.fair_values(instruments) if n else np.empty(0),
        strike=strike,
        tau_days=tau_days,
        forward=forward,
        is_call=np.fromiter((i.right is OptionRight.CALL for i in instruments), bool, n),
        multiplier=np.fromiter((i.multiplier for i in instruments), np.float64, n),
    )
