"""Implied-volatility surface across expiries from raw SVI slices.

Each expiry Tᵢ (year fraction, strictly increasing) has raw SVI parameters for total variance
wᵢ(k) at log-moneyness k = ln(K/F(Tᵢ)) and a forward F(Tᵢ). Between and beyond slices the
surface is defined in total variance at fixed log-moneyness k = ln(K/F(t)):

- Tᵢ ≤ t ≤ Tᵢ₊₁: w(k, t) linear in t between wᵢ(k) and wᵢ₊₁(k);
- t < T₀: w(k, t) = w₀(k) · t/T₀ (the first slice's implied vol held flat in t);
- t > Tₙ₋₁: w(k, t) = wₙ₋₁(k) · t/Tₙ₋₁ (flat implied vol beyond the last expiry).

All three keep w(k, ·) non-decreasing when the slices are free of calendar arbitrage and
w(k, 0) = 0. The forward curve F(t) is log-linear in t through the given forwards (and
through (0, spot) when spot is given), extended with the end segments' carry.

Evaluation is vectorised over arrays of (k, t) and, through `SliceStack`, over points that
belong to different surfaces (one underlying per group) at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hedgemesh.quant import svi
from hedgemesh.quant.svi import KRange, SviFit, SviParams

__all__ = [
    "ArbitrageReport",
    "ButterflyViolation",
    "CalendarViolation",
    "SliceStack",
    "VolSurface",
]

_FIELDS = ("a", "b", "rho", "m", "sigma")


def _readonly(array: NDArray) -> NDArray:
    array.flags.writeable = False
    return array


class SliceStack:
    """SVI slices of one or more surfaces, concatenated for vectorised lookup.

    Group g (one surface, e.g. one underlying) owns slice rows offset[g] : offset[g] + count[g],
    sorted by expiry. A group of n slices has n + 1 time segments (before the first slice,
    between successive slices, after the last), and on each the surface is

        w(k, t) = (s₀ + s₁ t) · w_lo(k) + (d₀ + d₁ t) · (w_hi(k) − w_lo(k))

    with the coefficients and both slices' parameters precomputed per segment. A lookup is
    then one search for the segment, one gather and two SVI evaluations, for any number of
    groups at once (a shifted-key searchsorted, no Python loop over groups).
    """

    __slots__ = ("_cap", "_keys", "_segments", "_shift", "count", "expiries", "offset")

    def __init__(self, expiries: Sequence[NDArray], tables: Sequence[NDArray]) -> None:
        """expiries[g]: group g's slice expiries (years, increasing); tables[g]: its (n, 5)
        raw SVI rows (a, b, rho, m, sigma)."""
        if len(expiries) == 0 or len(expiries) != len(tables):
            raise ValueError("need one expiry array and one parameter table per group")
        count = np.array([len(e) for e in expiries], dtype=np.int64)
        if np.any(count == 0):
            raise ValueError("every group needs at least one slice")
        for e, p in zip(expiries, tables, strict=True):
            t = np.asarray(e, dtype=np.float64)
            if not (t[0] > 0.0 and np.all(np.diff(t) > 0.0) and np.isfinite(t[-1])):
                raise ValueError("each group's expiries must be finite, > 0, increasing")
            if np.shape(p) != (t.size, 5):
                raise ValueError("each group needs an (n, 5) table of (a, b, rho, m, sigma)")
        self.count = _readonly(count)
        self.offset = _readonly(np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64))
        self.expiries = _readonly(np.concatenate(expiries).astype(np.float64))
        self._segments = _readonly(
            np.concatenate(
                [_segment_table(np.asarray(e, np.float64), np.asarray(p, np.float64))
                 for e, p in zip(expiries, tables, strict=True)],
                axis=1,
            )
        )  # fmt: skip
        # Search keys: times clipped to [0, cap] (past the last slice all is extrapolation),
        # group g shifted by g·(cap + 1), so groups never overlap. Rounding of the shifted key
        # can only move a time within ~1e-12 of a slice expiry into the neighbouring segment,
        # where w is the same (the surface is continuous in t).
        self._cap = float(self.expiries.max()) + 1.0
        self._shift = _readonly(np.arange(len(count), dtype=np.float64) * (self._cap + 1.0))
        self._keys = _readonly(self.expiries + np.repeat(self._shift, count))

    @classmethod
    def from_surfaces(cls, surfaces: Sequence[VolSurface]) -> SliceStack:
        """Stack surfaces in order: surface i is group i."""
        return cls([s.expiries for s in surfaces], [s.table for s in surfaces])

    def total_variance(
        self, k: ArrayLike, t: ArrayLike, group: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Total variance w(k, t) (year · vol²) of each point on its group's surface.

        k: log-moneyness ln(K/F(t)); t: year fraction (t ≤ 0 gives 0); group: index of each
        point's surface (default 0, allowed only for a single-surface stack). Broadcasts.
        Fastest when the points are sorted by (group, t).
        """
        return self._evaluate(k, t, group, per_year=False)

    def implied_variance(
        self, k: ArrayLike, t: ArrayLike, group: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Implied variance w(k, t)/t (vol²) of each point; arguments as `total_variance`.

        Computed without dividing by t outside the slices, so it is exact for tiny t, and at
        t ≤ 0 it is the t → 0⁺ limit (the first slice's implied variance at k).
        """
        return self._evaluate(k, t, group, per_year=True)

    def _evaluate(
        self, k: ArrayLike, t: ArrayLike, group: ArrayLike | None, per_year: bool
    ) -> NDArray[np.float64]:
        k_arr = np.asarray(k, dtype=np.float64)
        t_pos = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
        t_key = np.minimum(t_pos, self._cap)
        if group is None:
            if len(self.count) != 1:
                raise ValueError("group is required when the stack holds several surfaces")
            if self.count[0] <= _COUNT_LOOP_MAX:  # beats a random-access binary search
                seg = np.zeros(t_key.shape, dtype=np.intp)
                for expiry in self.expiries.tolist():
                    seg += t_key >= expiry
            else:
                seg = np.searchsorted(self._keys, t_key, side="right")
        else:
            g = np.asarray(group, dtype=np.intp)
            if g.size and (g.min() < 0 or g.max() >= len(self.count)):
                raise ValueError("group index out of range")
            seg = np.searchsorted(self._keys, t_key + self._shift.take(g), side="right") + g
        a0, b0, r0, m0, v0, a1, b1, r1, m1, v1, s0, s1, d0, d1 = self._segments.take(seg, axis=1)
        w_lo = _svi_sq(a0, b0, r0, m0, v0, k_arr)
        w_hi = _svi_sq(a1, b1, r1, m1, v1, k_arr)
        if per_year:  # (s₀/t + s₁) w_lo + (d₀/t + d₁) Δw; s₀ = d₀ = 0 outside the slices
            inv_t = 1.0 / np.maximum(t_pos, _T_TINY)
            return (s0 * inv_t + s1) * w_lo + (d0 * inv_t + d1) * (w_hi - w_lo)
        return (s0 + s1 * t_pos) * w_lo + (d0 + d1 * t_pos) * (w_hi - w_lo)


#: Up to this many slices, a single surface finds segments by counting, not bisection.
_COUNT_LOOP_MAX = 32
#: Floor of t in 1/t: only reached where the coefficients of 1/t are 0 (before the first slice).
_T_TINY = 1e-300


def _svi_sq(a: NDArray, b: NDArray, rho: NDArray, m: NDArray, sig2: NDArray, k: NDArray) -> NDArray:
    """Raw SVI with σ² given (saves a square per point)."""
    x = k - m
    return a + b * (rho * x + np.sqrt(x * x + sig2))


def _hinges(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[tuple[float, float], NDArray]:
    """The piecewise-linear interpolant of (x, y), extended by its end segments, as a line
    c₀ + c₁ t plus hinges Σ hⱼ · max(t − xⱼ, 0): returns ((c₀, c₁), [[xⱼ], [hⱼ]])."""
    if x.size == 1:
        return (float(y[0]), 0.0), np.empty((2, 0))
    slope = np.diff(y) / np.diff(x)
    line = (float(y[0] - slope[0] * x[0]), float(slope[0]))
    return line, np.vstack([x[1:-1], np.diff(slope)])


def _segment_table(t: NDArray[np.float64], p: NDArray[np.float64]) -> NDArray[np.float64]:
    """(14, n + 1) per-segment rows: lo slice (a, b, ρ, m, σ²), hi slice (same), s₀, s₁, d₀, d₁.

    Segment 0 (t < T₀) and n (t ≥ Tₙ₋₁) scale one slice by t/T (flat implied vol); segment
    j in between interpolates linearly in t from slice j − 1 (exact at t = Tⱼ₋₁) to slice j.
    """
    n = t.size
    rows = np.column_stack([p[:, :4], p[:, 4] ** 2])  # (n, 5)
    lo = np.concatenate([[0], np.arange(n)])
    hi = np.concatenate([np.arange(n), [n - 1]])
    inv_dt = np.zeros(n + 1)
    inv_dt[1:n] = 1.0 / np.diff(t)
    s0 = np.ones(n + 1)
    s1 = np.zeros(n + 1)
    s0[[0, n]] = 0.0
    s1[0], s1[n] = 1.0 / t[0], 1.0 / t[-1]
    d1 = inv_dt
    d0 = -(t[lo] * inv_dt)
    return np.vstack([rows[lo].T, rows[hi].T, s0, s1, d0, d1])


@dataclass(frozen=True, slots=True)
class ButterflyViolation:
    """A k-range of slice `expiry_index` where Gatheral's g < 0 (`k_range.worst` = min g)."""

    expiry_index: int
    expiry: float
    k_range: KRange


@dataclass(frozen=True, slots=True)
class CalendarViolation:
    """A k-range where total variance falls from one expiry to the next.

    `k_range.worst` is the most negative w(k, later) − w(k, earlier) (year · vol²).
    """

    earlier_index: int
    earlier_expiry: float
    later_expiry: float
    k_range: KRange


@dataclass(frozen=True, slots=True)
class ArbitrageReport:
    """Every static-arbitrage violation found on a k-grid; empty (`ok`) when clean."""

    butterfly: tuple[ButterflyViolation, ...]
    calendar: tuple[CalendarViolation, ...]
    k_min: float
    k_max: float

    @property
    def ok(self) -> bool:
        return not (self.butterfly or self.calendar)

    @property
    def violations(self) -> tuple[ButterflyViolation | CalendarViolation, ...]:
        return self.butterfly + self.calendar

    def describe(self) -> str:
        """One line per violation, for logs and dead-letter reasons."""
        if self.ok:
            return f"no static arbitrage on k in [{self.k_min:g}, {self.k_max:g}]"
        lines = []
        for b in self.butterfly:
            r = b.k_range
            lines.append(
                f"butterfly: slice {b.expiry_index} (T={b.expiry:g}) k in "
                f"[{r.k_lo:g}, {r.k_hi:g}], min g={r.worst:.3g} at k={r.k_worst:g}"
            )
        for c in self.calendar:
            r = c.k_range
            lines.append(
                f"calendar: T={c.earlier_expiry:g} -> T={c.later_expiry:g} k in "
                f"[{r.k_lo:g}, {r.k_hi:g}], w falls by {-r.worst:.3g} at k={r.k_worst:g}"
            )
        return "\n".join(lines)


class VolSurface:
    """Implied-vol surface: raw SVI slices at strictly increasing expiries, with forwards.

    Give `forwards` (one per expiry) or `spot` (with `rate` and `div`, continuously
    compounded, for F(t) = spot · e^{(rate − div) t}); with both, the forward curve runs
    through (0, spot) and the given forwards, and rate and div are not used. Immutable and
    cheap to build (tens of µs; no calibration: see `VolSurface.calibrate`).
    """

    __slots__ = ("_fwd_hinges", "_fwd_line", "fits", "forwards", "params", "stack", "table")

    def __init__(
        self,
        expiries: ArrayLike,
        params: Sequence[SviParams],
        forwards: ArrayLike | None = None,
        *,
        spot: float | None = None,
        rate: float = 0.0,
        div: float = 0.0,
        fits: Sequence[SviFit] | None = None,
    ) -> None:
        t = np.atleast_1d(np.asarray(expiries, dtype=np.float64))
        if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0.0):
            raise ValueError("expiries must be a non-empty 1-d array of finite years > 0")
        if np.any(np.diff(t) <= 0.0):
            raise ValueError("expiries must be strictly increasing")
        params = tuple(params)
        if len(params) != t.size or not all(isinstance(p, SviParams) for p in params):
            raise ValueError("need exactly one SviParams per expiry")
        if forwards is None:
            if spot is None:
                raise ValueError("give forwards or spot (with rate and div)")
            if not all(math.isfinite(x) for x in (spot, rate, div)) or spot <= 0.0:
                raise ValueError("spot must be finite and > 0, rate and div finite")
            fwd = spot * np.exp((rate - div) * t)
        else:
            fwd = np.atleast_1d(np.asarray(forwards, dtype=np.float64)).copy()
            if fwd.shape != t.shape or not np.all(np.isfinite(fwd)) or np.any(fwd <= 0.0):
                raise ValueError("forwards must be finite, > 0, one per expiry")
        if spot is not None and not (math.isfinite(spot) and spot > 0.0):
            raise ValueError("spot must be finite and > 0")
        table = np.array([[getattr(p, f) for f in _FIELDS] for p in params], dtype=np.float64)
        self.table = _readonly(table)
        self.stack = SliceStack([t], [table])
        self.params: tuple[SviParams, ...] = params
        self.forwards = _readonly(fwd)
        if spot is None:  # forwards alone: interpolate ln F between them
            self._fwd_line, self._fwd_hinges = _hinges(t, np.log(fwd))
        elif forwards is None:  # constant carry: ln F(t) = ln S + (r − q) t
            self._fwd_line, self._fwd_hinges = (math.log(spot), rate - div), np.empty((2, 0))
        else:  # through (0, spot) and the forwards
            x, y = np.concatenate([[0.0], t]), np.log(np.concatenate([[spot], fwd]))
            self._fwd_line, self._fwd_hinges = _hinges(x, y)
        self.fits: tuple[SviFit, ...] | None = None if fits is None else tuple(fits)

    def __repr__(self) -> str:
        return f"VolSurface(expiries={self.expiries.tolist()}, forwards={self.forwards.tolist()})"

    @property
    def expiries(self) -> NDArray[np.float64]:
        """Slice expiries (years), strictly increasing, read-only."""
        return self.stack.expiries

    def forward(self, t: ArrayLike) -> NDArray[np.float64]:
        """Forward F(t): log-linear between nodes, end segments' carry beyond them."""
        t_arr = np.asarray(t, dtype=np.float64)
        c0, c1 = self._fwd_line
        lnf = c0 + c1 * t_arr
        for knot, kink in self._fwd_hinges.T.tolist():
            lnf = lnf + kink * np.maximum(t_arr - knot, 0.0)
        return np.exp(lnf)

    def total_variance(self, k: ArrayLike, t: ArrayLike) -> NDArray[np.float64]:
        """Total variance w(k, t) (year · vol²) at log-moneyness k = ln(K/F(t)), years t."""
        return self.stack.total_variance(k, t)

    def implied_vol_k(self, k: ArrayLike, t: ArrayLike) -> NDArray[np.float64]:
        """Implied vol (decimal) at log-moneyness k and years t; t ≤ 0 gives the t → 0 limit."""
        return np.sqrt(np.maximum(self.stack.implied_variance(k, t), 0.0))

    def implied_vol(self, strike: ArrayLike, t: ArrayLike) -> NDArray[np.float64]:
        """Implied vol (decimal) at strikes and years t (broadcast), k = ln(strike/F(t))."""
        strike_arr = np.asarray(strike, dtype=np.float64)
        if np.any(~(strike_arr > 0.0)):
            raise ValueError("strikes must be > 0")
        return self.implied_vol_k(np.log(strike_arr / self.forward(t)), t)

    def check_arbitrage(self, k_grid: ArrayLike | None = None, tol: float = 0.0) -> ArbitrageReport:
        """Butterfly check of every slice and calendar check of every successive pair.

        Calendar: w(k, Tᵢ₊₁) ≥ w(k, Tᵢ) − tol on the grid (fixed log-moneyness). The
        interpolated and extrapolated parts of the surface add no violation of their own.
        """
        grid = svi.validate_k_grid(k_grid)
        t = self.expiries
        butterfly = [
            ButterflyViolation(i, float(t[i]), r)
            for i, p in enumerate(self.params)
            for r in svi.check_butterfly(p, grid, tol).violations
        ]
        w = np.stack([svi.total_variance(p, grid) for p in self.params])  # (n, K)
        calendar = [
            CalendarViolation(i, float(t[i]), float(t[i + 1]), r)
            for i in range(len(self.params) - 1)
            for r in svi.k_ranges(grid, w[i + 1] - w[i], tol)
        ]
        return ArbitrageReport(tuple(butterfly), tuple(calendar), float(grid[0]), float(grid[-1]))

    @classmethod
    def calibrate(
        cls,
        quotes_by_expiry: Mapping[float, tuple[ArrayLike, ...]],
        *,
        forwards: Mapping[float, float] | None = None,
        spot: float | None = None,
        rate: float = 0.0,
        div: float = 0.0,
    ) -> VolSurface:
        """Fit one raw SVI slice per expiry to market quotes.

        quotes_by_expiry: {expiry (years): (strikes, vols) or (strikes, vols, weights)}.
        Forwards come from `forwards` ({expiry: forward}) or from spot/rate/div. The fits
        (rmse, success) are kept on `surface.fits`; check `surface.check_arbitrage()`.
        """
        expiries = sorted(float(t) for t in quotes_by_expiry)
        if forwards is not None:
            fwd_by_t = {float(t): float(f) for t, f in forwards.items()}
            missing = [t for t in expiries if t not in fwd_by_t]
            if missing:
                raise ValueError(f"no forward for expiries {missing}")
            fwd = np.array([fwd_by_t[t] for t in expiries])
        elif spot is not None:
            fwd = spot * np.exp((rate - div) * np.array(expiries))
        else:
            raise ValueError("give forwards or spot (with rate and div)")
        by_t = {float(t): q for t, q in quotes_by_expiry.items()}
        fits = []
        for t, f in zip(expiries, fwd, strict=True):
            quote = by_t[t]
            if len(quote) not in (2, 3):
                raise ValueError("each expiry's quotes are (strikes, vols) or (+ weights)")
            strikes = np.asarray(quote[0], dtype=np.float64)
            if np.any(~(strikes > 0.0)):
                raise ValueError(f"strikes must be > 0 (expiry {t})")
            weights = quote[2] if len(quote) == 3 else None
            fits.append(svi.calibrate(np.log(strikes / f), quote[1], t, weights))
        params = [fit.params for fit in fits]
        return cls(expiries, params, fwd, spot=spot, rate=rate, div=div, fits=fits)
