"""The market the liquidity providers quote around: the last tick and surface of each
underlying, and what follows from them. No I/O.

Fair values and implied vols come from `hedgemesh.market.fair_value` (the one place they are
computed: the underlying at its tick, options by Black–Scholes–Merton on the surface moved with
spot); this module only keeps the latest inputs and the surface converted once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from hedgemesh.market.fair_value import InstrumentArrays, fair_values, implied_vols, vol_surface
from hedgemesh.quant import bsm
from hedgemesh.quant.surface import VolSurface
from hedgemesh.wire.instruments import Instrument
from hedgemesh.wire.market import Surface, Tick


@dataclass(frozen=True, slots=True)
class _Smile:
    wire: Surface
    surface: VolSurface
    expiries: frozenset[datetime]


class Marks:
    """The latest tick and surface of each underlying."""

    def __init__(self) -> None:
        self._ticks: dict[str, Tick] = {}
        self._smiles: dict[str, _Smile] = {}

    def on_tick(self, tick: Tick) -> None:
        self._ticks[tick.underlying] = tick

    def on_surface(self, surface: Surface) -> None:
        """Take a surface; raises ValueError for one the quant library refuses."""
        smile = _Smile(surface, vol_surface(surface), frozenset(s.expiry for s in surface.slices))
        self._smiles[surface.underlying] = smile

    def spot(self, underlying: str) -> float | None:
        """The last tick's price; None before the first tick."""
        tick = self._ticks.get(underlying)
        return None if tick is None else tick.price

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

    def option_values(self, options: Sequence[Instrument]) -> tuple[np.ndarray, np.ndarray] | None:
        """(fair premium per unit, implied vol) of options on one underlying, or None without
        a tick or a surface (see `hedgemesh.market.fair_value`)."""
        if not options:
            return np.empty(0), np.empty(0)
        underlying = options[0].underlying
        tick, smile = self._ticks.get(underlying), self._smiles.get(underlying)
        if tick is None or smile is None:
            return None
        arrays = InstrumentArrays.of(options, underlying)
        return (
            fair_values(tick, smile.wire, arrays, surf=smile.surface),
            implied_vols(tick, smile.wire, arrays, surf=smile.surface),
        )
