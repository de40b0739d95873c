"""Fair values to mark the book: the underlying at its last tick, options by Black–Scholes–Merton
on the last implied-vol surface (SVI slices), moved with spot at fixed moneyness.

Holds the last `Tick` and `Surface` per underlying; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    """The quant surface of a wire `Surface`: its slices' SVI parameters and forwards, through
    (0, spot)."""
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


class Marks:
    """The latest market of each underlying, and the fair values it gives."""

    def __init__(self) -> None:
        self._spot: dict[str, float] = {}
        self._smiles: dict[str, _Smile] = {}

    def on_tick(self, tick: Tick) -> None:
        self._spot[tick.underlying] = tick.price

    def on_surface(self, surface: Surface) -> None:
        self._smiles[surface.underlying] = _Smile(surface, vol_surface(surface))

    def spot(self, underlying: str) -> float | None:
        """The last tick's price, else the last surface's spot; None before either."""
        if underlying in self._spot:
            return self._spot[underlying]
        smile = self._smiles.get(underlying)
        return None if smile is None else smile.wire.spot

    def fair_values(self, instruments: Iterable[Instrument], now: datetime) -> dict[str, float]:
        """Price per unit of each instrument that can be marked now, by symbol.

        The underlying: its spot. An option: `bsm.price` with the surface's rate and dividend
        yield, time to expiry from `now` (0 once expired: intrinsic value), and the implied vol
        the surface gives at the same moneyness relative to spot (sticky moneyness: the strike
        is scaled by surface spot / current spot), at the expiry's time from the surface's
        `ts`. Options of an underlying without a surface, or without a spot, are left out.
        """
        values: dict[str, float] = {}
        options: dict[str, list[Instrument]] = {}
        for instrument in instruments:
            spot = self.spot(instrument.underlying)
            if spot is None:
                continue
            if instrument.is_option:
                options.setdefault(instrument.underlying, []).append(instrument)
            else:
                values[instrument.symbol] = spot
        for underlying, chain in options.items():
            smile = self._smiles.get(underlying)
            spot = self.spot(underlying)
            if smile is None or spot is None:
                continue
            prices = option_values(chain, spot, smile.wire, smile.surface, now)
            values.update(zip((o.symbol for o in chain), prices.tolist(), strict=True))
        return values


def option_values(
    options: list[Instrument], spot: float, wire: Surface, surface: VolSurface, now: datetime
) -> np.ndarray:
    """Fair premium per unit of options on one underlying (see `Marks.fair_values`)."""
    expiries = [o.expiry for o in options if o.expiry is not None]
    if len(expiries) != len(options):
        raise ValueError("only options have an expiry to price")
    strike = np.array([o.strike for o in options], dtype=np.float64)
    t_now = np.array([max(years_between(now, e), 0.0) for e in expiries])
    t_vol = np.array([max(years_between(wire.ts, e), 0.0) for e in expiries])
    vol = surface.implied_vol(strike * (wire.spot / spot), t_vol)
    is_call = np.array([o.right is OptionRight.CALL for o in options])
    return bsm.price(spot, strike, t_now, wire.rate, wire.div, vol, is_call)
