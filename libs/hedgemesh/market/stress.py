"""The stress grid: the live book's P&L and greeks under spot × vol shocks (pure, no I/O).

For every priced underlying of a `BookState`, the holdings of its latest position snapshot —
the client book and every hedge the ledger booked, options and the underlying alike — are
revalued with spot moved by each of `spot_shocks` (relative: −0.05 is 5 % down) and every
option's implied vol moved by each of `vol_shocks` (vol points, added to the vol each option
has now: sticky strike, a parallel shift of the smile; floored at 1 point). Time stands still.
Per cell: the P&L against the book's value now (currency), delta (units of the underlying),
dollar delta, dollar gamma per 1 % and vega per vol point. The firm-wide grid adds the
currency figures over the underlyings under the same relative shocks (every index moving by
the same percentage: a one-factor stress).

    >>> SPOT_SHOCKS[0], SPOT_SHOCKS[-1], VOL_SHOCKS
    (-0.1, 0.1, (-5.0, 0.0, 5.0, 10.0, 20.0))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from hedgemesh.market.book_state import SECONDS_PER_YEAR, BookState, InstrumentBatch
from hedgemesh.quant import bsm

__all__ = ["SPOT_SHOCKS", "VOL_SHOCKS", "StressCells", "StressGrid", "stress_grid"]

#: Default spot shocks (relative).
SPOT_SHOCKS: tuple[float, ...] = (-0.10, -0.05, -0.02, -0.01, 0.0, 0.01, 0.02, 0.05, 0.10)
#: Default vol shocks (vol points).
VOL_SHOCKS: tuple[float, ...] = (-5.0, 0.0, 5.0, 10.0, 20.0)
_MIN_VOL = 0.01


@dataclass(frozen=True, slots=True, eq=False)
class StressCells:
    """Figures of one grid, each an array [vol shock, spot shock]; `delta` is None firm-wide
    (units of different underlyings do not add)."""

    pnl: NDArray[np.float64]
    dollar_delta: NDArray[np.float64]
    dollar_gamma_per_pct: NDArray[np.float64]
    vega_per_point: NDArray[np.float64]
    delta: NDArray[np.float64] | None = None

    def as_dict(self) -> dict[str, list[list[float]] | None]:
        """Plain lists (for JSON)."""
        names = ("pnl", "delta", "dollar_delta", "dollar_gamma_per_pct", "vega_per_point")
        return {
            name: None if (a := getattr(self, name)) is None else np.round(a, 2).tolist()
            for name in names
        }


@dataclass(frozen=True, slots=True, eq=False)
class StressGrid:
    spot_shocks: tuple[float, ...]
    vol_shocks: tuple[float, ...]
    underlyings: dict[str, StressCells]
    firm: StressCells


def _cells(
    book: BookState,
    underlying: str,
    now: datetime,
    spot_shocks: NDArray[np.float64],
    vol_shocks: NDArray[np.float64],
) -> StressCells | None:
    snapshot, tick, surface = (
        book.snapshot(underlying),
        book.tick(underlying),
        book.surface(underlying),
    )
    shape = (len(vol_shocks), len(spot_shocks))
    if snapshot is None or tick is None or surface is None:
        return None
    held = [p for p in snapshot.positions if p.quantity != 0]
    zeros = np.zeros(shape)
    if not held:
        return StressCells(zeros, zeros, zeros, zeros, zeros)
    batch = InstrumentBatch.of([p.instrument for p in held])
    quantity = np.array([p.quantity for p in held], np.float64)
    unit = book.greeks_per_unit(batch, now)
    arrays, multiplier = batch.arrays, batch.multiplier
    t = np.maximum((arrays.expiry_s - now.timestamp()) / SECONDS_PER_YEAR, 0.0)
    live = arrays.is_option & (t > 0.0)
    spot = tick.price * (1.0 + spot_shocks)  # [spot]
    underlying_rows = ~arrays.is_option
    # The underlying: value S × m per unit, delta m.
    value = np.einsum("i,s->s", quantity[underlying_rows] * multiplier[underlying_rows], spot)
    value = np.broadcast_to(value, shape).copy()
    delta = np.full(shape, float(np.dot(quantity[underlying_rows], multiplier[underlying_rows])))
    gamma, vega = np.zeros(shape), np.zeros(shape)
    if live.any():
        q = (quantity * multiplier)[live]
        vol = np.maximum(unit.vol[live][None, None, :] + vol_shocks[:, None, None] / 100, _MIN_VOL)
        g = bsm.greeks(
            spot[None, :, None],
            arrays.strike[live],
            t[live],
            surface.rate,
            surface.div,
            vol,
            arrays.is_call[live],
        )
        value += g.price @ q
        delta += g.delta @ q
        gamma += g.gamma @ q
        vega += g.vega @ q
    now_value = float(np.dot(quantity, unit.value)) + float(
        np.dot(quantity[underlying_rows], multiplier[underlying_rows]) * tick.price
    )
    return StressCells(
        pnl=value - now_value,
        dollar_delta=delta * spot[None, :],
        dollar_gamma_per_pct=gamma * spot[None, :] ** 2 / 100.0,
        vega_per_point=vega,
        delta=delta,
    )


def stress_grid(
    book: BookState,
    now: datetime,
    spot_shocks: Sequence[float] = SPOT_SHOCKS,
    vol_shocks: Sequence[float] = VOL_SHOCKS,
) -> StressGrid:
    """The grid of every priced underlying with a snapshot, and firm-wide (module doc)."""
    spots, vols = np.asarray(spot_shocks, np.float64), np.asarray(vol_shocks, np.float64)
    rows = {u: c for u in book.underlyings if (c := _cells(book, u, now, spots, vols))}
    shape = (len(vols), len(spots))

    def total(name: str) -> NDArray[np.float64]:
        return sum((getattr(c, name) for c in rows.values()), np.zeros(shape))

    firm = StressCells(
        total("pnl"), total("dollar_delta"), total("dollar_gamma_per_pct"), total("vega_per_point")
    )
    return StressGrid(tuple(spot_shocks), tuple(vol_shocks), rows, firm)
