"""The market as a service holds it: the latest tick and surface of each underlying, and the fair
values they give. Pure, no I/O; one type for every service (execution quotes its books on it,
the ledger marks positions with it, `BookState` prices the book's risk on it).

`apply_tick` and `apply_surface` take the message given (the last one wins; `BookState` keeps
only messages newer by (ts, seq) before it hands them on). A surface is converted to a quant
`VolSurface` once, when it arrives (`hedgemesh.market.fair_value.vol_surface`; a surface the
quant library refuses raises ValueError and changes nothing). Fair values and implied vols come
from `hedgemesh.market.fair_value`, the one place they are computed.

Spot. `spot(u)` is the last tick's price (None before the first tick: nothing trades on a
surface's spot); `spot(u, or_surface=True)` falls back on the last surface's spot (a mark for
the ledger before the first tick).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from hedgemesh.market import fair_value
from hedgemesh.quant import bsm
from hedgemesh.quant.surface import VolSurface
from hedgemesh.wire.instruments import Instrument
from hedgemesh.wire.market import Surface, Tick

__all__ = ["MarketView"]


@dataclass(frozen=True, slots=True)
class _Smile:
    wire: Surface
    surface: VolSurface
    expiries: frozenset[datetime]


class MarketView:
    """The latest tick and surface of each underlying (module doc)."""

    def __init__(self) -> None:
        self._ticks: dict[str, Tick] = {}
        self._smiles: dict[str, _Smile] = {}

    # -- inputs ---------------------------------------------------------------------------

    def apply_tick(self, tick: Tick) -> None:
        self._ticks[tick.underlying] = tick

    def apply_surface(self, surface: Surface) -> None:
        """Take a surface; raises ValueError for one the quant library refuses."""
        expiries = frozenset(s.expiry for s in surface.slices)
        self._smiles[surface.underlying] = _Smile(
            surface, fair_value.vol_surface(surface), expiries
        )

    # -- what is held ---------------------------------------------------------------------

    def tick(self, underlying: str) -> Tick | None:
        return self._ticks.get(underlying)

    def surface(self, underlying: str) -> Surface | None:
        smile = self._smiles.get(underlying)
        return None if smile is None else smile.wire

    def vol_surface(self, underlying: str) -> VolSurface | None:
        """The held surface as a quant `VolSurface` (converted once)."""
        smile = self._smiles.get(underlying)
        return None if smile is None else smile.surface

    def has_surface(self, underlying: str) -> bool:
        return underlying in self._smiles

    def priced(self) -> tuple[str, ...]:
        """The underlyings with a tick and a surface (those that can be priced), sorted."""
        return tuple(sorted(self._ticks.keys() & self._smiles.keys()))

    def inputs(self, underlying: str) -> tuple[Tick, Surface, VolSurface]:
        """The tick, the surface and its `VolSurface` of a priced underlying; KeyError if it
        lacks either."""
        smile = self._smiles[underlying]
        return self._ticks[underlying], smile.wire, smile.surface

    def spot(self, underlying: str, *, or_surface: bool = False) -> float | None:
        """The last tick's price; with `or_surface`, else the last surface's spot; None before
        either."""
        tick = self._ticks.get(underlying)
        if tick is not None:
            return tick.price
        smile = self._smiles.get(underlying) if or_surface else None
        return None if smile is None else smile.wire.spot

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

    # -- fair values ----------------------------------------------------------------------

    def option_values(
        self, options: Sequence[Instrument]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        """(fair premium per unit, implied vol) of options on one underlying at the last tick's
        time, or None without a tick or a surface."""
        if not options:
            return np.empty(0), np.empty(0)
        underlying = options[0].underlying
        tick, smile = self._ticks.get(underlying), self._smiles.get(underlying)
        if tick is None or smile is None:
            return None
        arrays = fair_value.InstrumentArrays.of(options, underlying)
        return (
            fair_value.fair_values(tick, smile.wire, arrays, surf=smile.surface),
            fair_value.implied_vols(tick, smile.wire, arrays, surf=smile.surface),
        )

    def fair_values(self, instruments: Iterable[Instrument], now: datetime) -> dict[str, float]:
        """Price per unit of each instrument that can be marked at `now`, by symbol.

        The underlying: its spot (`or_surface`). An option: `fair_value` on the latest tick (or
        the surface's spot) as the market at `now` (time to expiry from `now`; 0 once expired:
        intrinsic value) and surface (sticky moneyness when spot moved since). Options of an
        underlying without a surface, or without a spot, are left out.
        """
        values: dict[str, float] = {}
        options: dict[str, list[Instrument]] = {}
        for instrument in instruments:
            spot = self.spot(instrument.underlying, or_surface=True)
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

    def _tick_at(self, underlying: str, now: datetime) -> Tick | None:
        """The last tick (or the surface's spot) as the market at `now`."""
        tick = self._ticks.get(underlying)
        if tick is None:
            smile = self._smiles.get(underlying)
            if smile is None:
                return None
            tick = Tick(underlying=underlying, price=smile.wire.spot, seq=0, ts=smile.wire.ts)
        return tick.model_copy(update={"ts": now})
