"""The market a backtest runs in: spot paths, rates, and the vol every option is priced at.

`MarketPaths` holds the spot of n paths at N + 1 times (from `hedgemesh.quant.paths` or
`hedgemesh.quant.history`, or any array), the rate and dividend yield (continuously
compounded, constant), and a vol source:

- `ConstantVol(vol)`: every option at one implied vol (Black–Scholes world);
- `PathVol(vol)`: every option at the path's own instantaneous vol at that time, e.g. SABR's
  α (`PathVol.of(pathset)`) — implied vol taken as the instantaneous vol, a first-order
  approximation that moves option marks with the vol;
- `HestonVol(variance, kappa, theta)`: an option of life τ at the root of the expected mean
  variance over its life, θ + (v − θ)(1 − e^{−κτ})/(κτ) (the variance-swap level of the
  Heston path's current variance v): a term structure that mean-reverts, and never as close
  to zero as √v itself (`HestonVol.of(pathset, model)`);
- `SurfaceVol(surface)`: a fixed `VolSurface` read sticky in moneyness: an option of strike K
  and life τ is at the surface's vol at log-moneyness ln(K / F), F = S e^{(r − q) τ} the
  current forward, and life τ.

Every source also gives the reference vol the band policies use: its at-the-money vol at the
book's horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hedgemesh.quant.surface import VolSurface

__all__ = [
    "ConstantVol",
    "HestonVol",
    "MarketPaths",
    "PathVol",
    "SurfaceVol",
    "VolSource",
    "with_gap",
]

Array = NDArray[np.float64]


class VolSource(Protocol):
    """Implied vols for pricing at step ``i``: arrays broadcast to the options' shape."""

    def option_vols(self, i: int, spot: Array, strike: Array, tau: Array, carry: float) -> Array:
        """Vol of options (strike, tau: (n, m) or broadcastable) at spot (n,) at step i."""
        ...

    def reference(self, i: int, spot: Array, tau: Array, carry: float) -> Array:
        """At-the-money vol (n,) for life ``tau`` (n,) at step i."""
        ...


@dataclass(frozen=True)
class ConstantVol:
    """One implied vol (annualised decimal, >= 0) for every option at every time."""

    vol: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.vol) and self.vol >= 0.0):
            raise ValueError(f"ConstantVol: vol must be finite and >= 0, got {self.vol!r}")

    def option_vols(self, i: int, spot: Array, strike: Array, tau: Array, carry: float) -> Array:
        return np.full(np.broadcast_shapes((*spot.shape, 1), np.shape(strike)), self.vol)

    def reference(self, i: int, spot: Array, tau: Array, carry: float) -> Array:
        return np.full(spot.shape, self.vol)


@dataclass(frozen=True, eq=False)
class PathVol:
    """Each path's instantaneous vol per step, (n, N + 1): every option on path p at step i is
    priced at vol[p, i]."""

    vol: Array

    def __post_init__(self) -> None:
        v = np.asfortranarray(np.asarray(self.vol, dtype=np.float64))
        if v.ndim != 2 or not np.all(np.isfinite(v)) or np.any(v < 0.0):
            raise ValueError("PathVol: vol must be a finite (n_paths, n_steps + 1) array >= 0")
        object.__setattr__(self, "vol", v)

    @classmethod
    def of(cls, paths: object) -> PathVol:
        """From a `PathSet`: √variance (Heston), else its vol path (SABR's α, a lognormal vol
        for β = 1)."""
        variance = getattr(paths, "variance", None)
        if variance is not None:
            return cls(np.sqrt(np.maximum(variance, 0.0)))
        vol = getattr(paths, "vol", None)
        if vol is None:
            raise ValueError("PathVol.of: the paths carry neither a variance nor a vol path")
        return cls(vol)

    def option_vols(self, i: int, spot: Array, strike: Array, tau: Array, carry: float) -> Array:
        column = self.vol[:, i][:, None]
        return np.broadcast_to(column, np.broadcast_shapes(column.shape, np.shape(strike)))

    def reference(self, i: int, spot: Array, tau: Array, carry: float) -> Array:
        return self.vol[:, i].copy()


@dataclass(frozen=True, eq=False)
class HestonVol:
    """Each path's Heston variance v (n, N + 1) read as a term structure of implied vols:
    σ(τ)² = θ + (v − θ)(1 − e^{−κτ})/(κτ), v at τ = 0 (κ: mean reversion per year, θ:
    long-run variance)."""

    variance: Array
    kappa: float
    theta: float

    def __post_init__(self) -> None:
        v = np.asfortranarray(np.asarray(self.variance, dtype=np.float64))
        if v.ndim != 2 or not np.all(np.isfinite(v)) or np.any(v < 0.0):
            raise ValueError("HestonVol: variance must be a finite (n, n_steps + 1) array >= 0")
        if not (self.kappa > 0.0 and self.theta > 0.0):
            raise ValueError("HestonVol: kappa and theta must be > 0")
        object.__setattr__(self, "variance", v)

    @classmethod
    def of(cls, paths: object, model: object) -> HestonVol:
        """From a Heston `PathSet` and its model (its kappa and theta)."""
        variance = getattr(paths, "variance", None)
        if variance is None:
            raise ValueError("HestonVol.of: the paths carry no variance")
        return cls(variance, float(model.kappa), float(model.theta))  # type: ignore[attr-defined]

    def _vol(self, v: Array, tau: Array) -> Array:
        x = self.kappa * np.asarray(tau, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            weight = np.where(x > 1e-8, -np.expm1(-x) / x, 1.0 - 0.5 * x)
        return np.sqrt(np.maximum(self.theta + (v - self.theta) * weight, 0.0))

    def option_vols(self, i: int, spot: Array, strike: Array, tau: Array, carry: float) -> Array:
        return self._vol(self.variance[:, i][:, None], tau)

    def reference(self, i: int, spot: Array, tau: Array, carry: float) -> Array:
        return self._vol(self.variance[:, i], tau)


@dataclass(frozen=True)
class SurfaceVol:
    """A fixed implied-vol surface, read sticky in moneyness (see the module doc)."""

    surface: VolSurface

    def option_vols(self, i: int, spot: Array, strike: Array, tau: Array, carry: float) -> Array:
        tau = np.asarray(tau, dtype=np.float64)
        k = np.log(np.asarray(strike) / spot[:, None]) - carry * tau
        return self.surface.implied_vol_k(k, tau)

    def reference(self, i: int, spot: Array, tau: Array, carry: float) -> Array:
        return self.surface.implied_vol_k(np.zeros(spot.shape), tau)


def _vol_source(vol: VolSource | float | VolSurface) -> VolSource:
    if isinstance(vol, VolSurface):
        return SurfaceVol(vol)
    if isinstance(vol, int | float):
        return ConstantVol(float(vol))
    return vol


@dataclass(frozen=True, eq=False)
class MarketPaths:
    """Spot paths (n_paths, n_steps + 1) at ``times`` (years from the start, increasing), a
    constant rate and dividend yield, and the vol source options are priced with (a number:
    `ConstantVol`; a `VolSurface`: `SurfaceVol`).

    The spot is kept time-major (Fortran order), so each step's column is contiguous.
    """

    spot: Array
    times: Array
    rate: float = 0.0
    div: float = 0.0
    vol: VolSource = field(default_factory=lambda: ConstantVol(0.2))

    def __post_init__(self) -> None:
        s = np.asfortranarray(np.asarray(self.spot, dtype=np.float64))
        t = np.asarray(self.times, dtype=np.float64)
        if s.ndim != 2 or s.shape[1] < 2:
            raise ValueError("MarketPaths: spot must be (n_paths, n_steps + 1), n_steps >= 1")
        if t.shape != (s.shape[1],) or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
            raise ValueError("MarketPaths: times must be finite, increasing, one per column")
        if not np.all(np.isfinite(s)) or np.any(s <= 0.0):
            raise ValueError("MarketPaths: spot must be finite and > 0")
        if not (math.isfinite(self.rate) and math.isfinite(self.div)):
            raise ValueError("MarketPaths: rate and div must be finite")
        object.__setattr__(self, "spot", s)
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "vol", _vol_source(self.vol))

    @classmethod
    def of(
        cls,
        paths: object,
        *,
        rate: float = 0.0,
        div: float = 0.0,
        vol: VolSource | float | VolSurface | str = 0.2,
    ) -> MarketPaths:
        """From a `PathSet` (spot, times): ``vol`` a number, a `VolSurface`, a `VolSource`, or
        ``"path"`` for the paths' own vol (`PathVol.of`)."""
        spot = np.asarray(paths.spot)  # type: ignore[attr-defined]
        times = np.asarray(paths.times)  # type: ignore[attr-defined]
        source = PathVol.of(paths) if isinstance(vol, str) and vol == "path" else vol
        if isinstance(source, str):
            raise ValueError(f"MarketPaths.of: unknown vol {vol!r} (a number, a surface, 'path')")
        return cls(spot, times, rate, div, _vol_source(source))

    @property
    def n_paths(self) -> int:
        return int(self.spot.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.spot.shape[1]) - 1

    @property
    def horizon(self) -> float:
        """Years from the first to the last time."""
        return float(self.times[-1] - self.times[0])

    def subset(self, paths: ArrayLike) -> MarketPaths:
        """The same market on some of the paths (indices), e.g. to replay one."""
        idx = np.atleast_1d(np.asarray(paths, dtype=np.intp))
        vol = self.vol
        if isinstance(vol, PathVol):
            vol = PathVol(vol.vol[idx])
        elif isinstance(vol, HestonVol):
            vol = HestonVol(vol.variance[idx], vol.kappa, vol.theta)
        return MarketPaths(self.spot[idx], self.times, self.rate, self.div, vol)


def with_gap(spot: ArrayLike, step: int, move: float) -> Array:
    """Paths with a gap: from column ``step`` on, every price times (1 + move) (−0.2: a 20 %
    overnight fall between step − 1 and step, with no trading in between)."""
    s = np.array(spot, dtype=np.float64, order="F")
    if not (1 <= step < s.shape[1]) or not (math.isfinite(move) and move > -1.0):
        raise ValueError("with_gap: need 1 <= step <= n_steps and a move > -1")
    s[:, step:] *= 1.0 + move
    return s
