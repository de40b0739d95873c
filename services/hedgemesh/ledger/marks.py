"""Fair values to mark the book: the underlying at its last tick, options by Black–Scholes–Merton
on the last implied-vol surface (SVI slices), moved with spot at fixed moneyness.

Holds the last `Tick` and `Surface` per underlying; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from hedgemesh.market import fair_value
from hedgemesh.quant import bsm
from hedgemesh.quant.surface import VolSurface
from hedgemesh.wire.instruments import Instrument
from hedgemesh.wire.market import Surface, Tick

SECONDS_PER_YEAR = bsm.DAYS_PER_YEAR * 86_400.0

#: The quant surface of a wire `Surface` (one conversion, in `hedgemesh.market.fair_value`).
vol_surface = fair_value.vol_surface


def years_between(start: datetime, end: datetime) -> float:
    """ACT/365 year fraction from `start` to `end` (negative when `end` is earlier)."""
    return (end - start).total_seconds() / SECONDS_PER_YEAR


@dataclass(frozen=True, slots=True)
class _Smile:
    wire: Surface
    surface: VolSurface


class Marks:
    """The latest market of each underlying, and the fair values it gives
    (`hedgemesh.market.fair_value`: the one place fair values are computed)."""

    def __init__(self) -> None:
        self._ticks: dict[str, Tick] = {}
        self._smiles: dict[str, _Smile] = {}

    def on_tick(self, tick: Tick) -> None:
        self._ticks[tick.underlying] = tick

    def on_surface(self, surface: Surface) -> None:
        self._smiles[surface.underlying] = _Smile(surface, vol_surface(surface))

    def spot(self, underlying: str) -> float | None:
        """The last tick's price, else the last surface's spot; None before either."""
        if underlying in self._ticks:
            return self._ticks[underlying].price
        smile = self._smiles.get(underlying)
        return None if smile is None else smile.wire.spot

    def _tick_at(self, underlying: str, now: datetime) -> Tick | None:
        """The last tick (or the surface's spot) as the market at `now`."""
        tick = self._ticks.get(underlying)
        if tick is None:
            smile = self._smiles.get(underlying)
            if smile is None:
                return None
            tick = Tick(underlying=underlying, price=smile.wire.spot, seq=0, ts=smile.wire.ts)
        return tick.model_copy(update={"ts": now})

    def fair_values(self, instruments: Iterable[Instrument], now: datetime) -> dict[str, float]:
        """Price per unit of each instrument that can be marked at `now`, by symbol.

        The underlying: its spot. An option: `hedgemesh.market.fair_value` on the latest tick
        (time to expiry from `now`; 0 once expired: intrinsic value) and surface (sticky
        moneyness when spot moved since). Options of an underlying without a surface, or
        without a spot, are left out.
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
            tick = self._tick_at(underlying, now)
            if smile is None or tick is None:
                continue
            prices = fair_value.fair_values(tick, smile.wire, chain, surf=smile.surface)
            values.update(zip((o.symbol for o in chain), prices.tolist(), strict=True))
        return values
