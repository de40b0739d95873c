"""The market the liquidity providers quote around: spot, fair values of listed options, vols.

Holds the last `Tick` and `Surface` per underlying; no I/O. Option fair values are
Black–Scholes–Merton on the surface's SVI slices, with the surface moved with spot at fixed
moneyness (the strike scaled by surface spot / current spot) and time to expiry from `now`.

Until `hedgemesh.market.fair_value` lands (the market-data service's pure pricing, which this
module will then call), this is the small adapter over `hedgemesh.quant` that execution uses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from hedgemesh.quant import bsm
from hedgemesh.quant.surface import VolSurface
from hedgemesh.quant.svi import SviParams
from hedgemesh.wire.instruments import Instrument, OptionRight
from hedgemesh.wire.market import Surface, Tick

SECONDS_PER_YEAR = bsm.DAYS_PER_YEAR * 86_400.0


def years_between(start: datetime, end: datetime) -> float:
    """ACT/365 year fraction from `start` to `end` (negative when `end` is earlier)."""
    return (end - start).total_seconds() / SECONDS_PER_YEAR


def vol_surface(surface: Surface) -> VolSurface:
    """The quant surface of a wire `Surface`: SVI slices and forwards, through (0, spot)."""
    return VolSurface(
        [s.t for s in surface.slices],
        [SviParams(s.a, s.b, s.rho, s.m, s.sigma) for s in surface.slices],
        [s.forward for s in surface.slices],
        spot=surface.spot,
    )


@dataclass(frozen=True, slots=True)
class _Smile:
    wire: Surface
    surface: VolSurface
    expiries: frozenset[datetime]


class Marks:
    """The latest tick and surface of each underlying, and what follows from them."""

    def __init__(self) -> None:
        self._spot: dict[str, float] = {}
        self._smiles: dict[str, _Smile] = {}

    def on_tick(self, tick: Tick) -> None:
        self._spot[tick.underlying] = tick.price

    def on_surface(self, surface: Surface) -> None:
        """Take a surface; raises ValueError for one the quant library refuses."""
        smile = _Smile(surface, vol_surface(surface), frozenset(s.expiry for s in surface.slices))
        self._smiles[surface.underlying] = smile

    def spot(self, underlying: str) -> float | None:
        """The last tick's price, else the last surface's spot; None before either."""
        spot = self._spot.get(underlying)
        if spot is None and underlying in self._smiles:
            return self._smiles[underlying].wire.spot
        return spot

    def has_surface(self, underlying: str) -> bool:
        return underlying in self._smiles

    def listed_expiries(self, underlying: str) -> frozenset[datetime]:
        """The expiries of the last surface (the listed ones); empty before a surface."""
        smile = self._smiles.get(underlying)
        return frozenset() if smile is None else smile.expiries

    def depth_multiplier(self, underlying: str) -> float:
        """Depth relative to normal from the last surface (below 1 in a drought); 1 before."""
        smile = self._smiles.get(underlying)
        return 1.0 if smile is None else smile.wire.depth_multiplier

    def atm_vol(self, underlying: str, days: float, default: float) -> float:
        """The at-the-money-forward implied vol `days` out, or `default` before a surface."""
        smile = self._smiles.get(underlying)
        if smile is None:
            return default
        vol = float(smile.surface.implied_vol_k(0.0, days / bsm.DAYS_PER_YEAR))
        return vol if math.isfinite(vol) and vol > 0 else default

    def option_values(
        self, options: Sequence[Instrument], now: datetime
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(fair premium per unit, implied vol) of options on one underlying, or None without a
        spot or a surface. Expired options are worth their intrinsic value."""
        if not options:
            return np.empty(0), np.empty(0)
        underlying = options[0].underlying
        spot, smile = self.spot(underlying), self._smiles.get(underlying)
        if spot is None or smile is None:
            return None
        expiries = [o.expiry for o in options if o.expiry is not None]
        if len(expiries) != len(options) or any(o.underlying != underlying for o in options):
            raise ValueError(f"only options on {underlying} can be priced together")
        strike = np.array([o.strike for o in options], dtype=np.float64)
        t_now = np.array([max(years_between(now, e), 0.0) for e in expiries])
        t_vol = np.array([max(years_between(smile.wire.ts, e), 1e-9) for e in expiries])
        vol = smile.surface.implied_vol(strike * (smile.wire.spot / spot), t_vol)
        is_call = np.array([o.right is OptionRight.CALL for o in options])
        wire = smile.wire
        return bsm.price(spot, strike, t_now, wire.rate, wire.div, vol, is_call), vol
