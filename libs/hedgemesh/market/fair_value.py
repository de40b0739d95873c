"""The fair value of any instrument from the latest tick and surface: the one place it is
computed (marketdata prices client trades with it, the ledger marks with it, execution's
liquidity providers quote around it, the agents cost hedges with it).

For an option on the tick's underlying with strike K and expiry E:

- the surface's vol at that expiry and moneyness: σ = √(w(k, T)/T) on the surface's SVI slices
  (`hedgemesh.quant.surface.VolSurface`; between slices linear in total variance), with
  T = E − surface.ts and k = ln(K / F), the forward F moved by the tick's spot since the
  surface (F = F_surface(T) · tick.price / surface.spot: sticky moneyness between surfaces);
- priced by Black–Scholes–Merton (`hedgemesh.quant.bsm.price`) at the tick's price, the
  surface's rate and dividend yield, and the time to expiry from the tick's ts.

The underlying's fair value is the tick's price. Values are per unit of the underlying (an
option's premium, as prices are on the wire); an expired option is worth its intrinsic value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from hedgemesh.quant import bsm
from hedgemesh.quant.surface import VolSurface
from hedgemesh.quant.svi import SviParams
from hedgemesh.wire.instruments import Instrument, OptionRight
from hedgemesh.wire.market import Surface, Tick

__all__ = ["InstrumentArrays", "fair_values", "implied_vols", "vol_surface"]

#: Seconds per year (ACT/365, as `bsm`).
_SECONDS_PER_YEAR = 365.0 * 86_400.0


def vol_surface(surface: Surface) -> VolSurface:
    """The quant surface of a wire `Surface`: slice times from its `ts`, its forwards, spot."""
    params = [SviParams(s.a, s.b, s.rho, s.m, s.sigma) for s in surface.slices]
    return VolSurface(
        [s.t for s in surface.slices],
        params,
        [s.forward for s in surface.slices],
        spot=surface.spot,
        rate=surface.rate,
        div=surface.div,
    )


@dataclass(frozen=True, slots=True, eq=False)
class InstrumentArrays:
    """Instruments of one underlying as arrays (build once, value many times)."""

    underlying: str
    is_option: NDArray[np.bool_]
    strike: NDArray[np.float64]
    """Strike (currency); 1 where not an option (unused)."""
    expiry_s: NDArray[np.float64]
    """Expiry as Unix seconds; 0 where not an option."""
    is_call: NDArray[np.bool_]

    @classmethod
    def of(
        cls, instruments: Sequence[Instrument], underlying: str | None = None
    ) -> InstrumentArrays:
        """Arrays of `instruments`, which must all be on one underlying (`underlying` if given)."""
        names = {i.underlying for i in instruments}
        if underlying is not None:
            names.add(underlying)
        if len(names) > 1:
            raise ValueError(f"instruments of several underlyings: {sorted(names)}")
        n = len(instruments)
        is_option = np.fromiter((i.is_option for i in instruments), bool, n)
        strike = np.fromiter((i.strike or 1.0 for i in instruments), np.float64, n)
        expiry = np.fromiter(
            (i.expiry.timestamp() if i.expiry is not None else 0.0 for i in instruments),
            np.float64,
            n,
        )
        is_call = np.fromiter((i.right is OptionRight.CALL for i in instruments), bool, n)
        return cls(next(iter(names), ""), is_option, strike, expiry, is_call)

    def __len__(self) -> int:
        return int(self.strike.size)


def _years(expiry_s: NDArray[np.float64], since: datetime) -> NDArray[np.float64]:
    return (expiry_s - since.timestamp()) / _SECONDS_PER_YEAR


def _checked(
    tick: Tick, surface: Surface, instruments: Sequence[Instrument] | InstrumentArrays
) -> InstrumentArrays:
    if tick.underlying != surface.underlying:
        raise ValueError(f"a tick of {tick.underlying} with a surface of {surface.underlying}")
    arrays = (
        instruments
        if isinstance(instruments, InstrumentArrays)
        else InstrumentArrays.of(instruments, tick.underlying)
    )
    if len(arrays) and arrays.underlying != tick.underlying:
        raise ValueError(f"instruments of {arrays.underlying} valued on {tick.underlying}")
    return arrays


def _vols(
    tick: Tick, surface: Surface, arrays: InstrumentArrays, surf: VolSurface | None
) -> NDArray[np.float64]:
    surf = surf or vol_surface(surface)
    t_surface = _years(arrays.expiry_s, surface.ts)
    forward = surf.forward(t_surface) * (tick.price / surface.spot)
    k = np.log(arrays.strike / forward)
    return np.where(arrays.is_option, surf.implied_vol_k(k, t_surface), 0.0)


def implied_vols(
    tick: Tick,
    surface: Surface,
    instruments: Sequence[Instrument] | InstrumentArrays,
    *,
    surf: VolSurface | None = None,
) -> NDArray[np.float64]:
    """The surface's implied vol (decimal) of each option (0 for the underlying); `surf`: the
    surface already converted by `vol_surface`, to save the conversion."""
    arrays = _checked(tick, surface, instruments)
    return _vols(tick, surface, arrays, surf)


def fair_values(
    tick: Tick,
    surface: Surface,
    instruments: Sequence[Instrument] | InstrumentArrays,
    *,
    surf: VolSurface | None = None,
) -> NDArray[np.float64]:
    """Fair value per unit of the underlying of each instrument (see the module doc).

    tick and surface must be of the same underlying as every instrument (ValueError
    otherwise). `surf`: `vol_surface(surface)` if the caller keeps it.
    """
    arrays = _checked(tick, surface, instruments)
    if not arrays.is_option.any():
        return np.full(len(arrays), tick.price)
    vol = _vols(tick, surface, arrays, surf)
    t = np.maximum(_years(arrays.expiry_s, tick.ts), 0.0)
    prices = bsm.price(tick.price, arrays.strike, t, surface.rate, surface.div, vol, arrays.is_call)
    return np.where(arrays.is_option, prices, tick.price)
