"""Raw SVI smile per expiry: total variance, derivatives, calibration, butterfly check.

Raw SVI (Gatheral 2004) gives the total implied variance w = σ_BS² · t of one expiry as a
function of log-moneyness k = ln(K/F):

    w(k) = a + b · (ρ (k − m) + √((k − m)² + σ²))

All functions are pure and broadcast over numpy arrays of k. Volatilities are decimals
(0.2 = 20 %), times are year fractions, total variance is in year · vol².

Calibration is the quasi-explicit method (Zeliade 2009, De Marco & Martini): with
y = (k − m)/σ the model is linear in (a, u, v) where u = bσ(1 + ρ), v = bσ(1 − ρ) are σ times
the right and left wing slopes of w,

    w = a + u · (√(y² + 1) + y)/2 + v · (√(y² + 1) − y)/2,

so for fixed (m, σ) the fit is a 3-variable least-squares problem with box bounds
(0 ≤ u, v ≤ 2σ keeps both wing slopes within Roger Lee's moment bound of 2). A vectorised
grid over (m, σ) gives the start, Nelder–Mead refines (m, σ), and a bounded least-squares
polish in vol space on (m, σ, w_min, right slope, left slope) finishes. Deterministic.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares, minimize

__all__ = [
    "DEFAULT_K_GRID",
    "MAX_WING_SLOPE",
    "ButterflyReport",
    "KRange",
    "SviFit",
    "SviParams",
    "calibrate",
    "check_butterfly",
    "d2w_dk2",
    "dw_dk",
    "g_function",
    "implied_vol",
    "k_ranges",
    "raw_total_variance",
    "total_variance",
    "validate_k_grid",
]

#: Largest wing slope dw/dk allowed by calibration (Roger Lee's moment formula: ≤ 2).
MAX_WING_SLOPE = 2.0

#: Log-moneyness grid of the arbitrage checks unless the caller passes one.
DEFAULT_K_GRID: NDArray[np.float64] = np.linspace(-3.0, 3.0, 1201)
DEFAULT_K_GRID.flags.writeable = False

#: Slack on the minimum total variance, so rounding at the w ≥ 0 boundary is not an error.
_W_MIN_TOL = 1e-12
#: Smallest wing slope used by calibration, which keeps |ρ| strictly below 1.
_MIN_SLOPE = 1e-9
_MIN_QUOTES = 5


@dataclass(frozen=True, slots=True)
class SviParams:
    """Raw SVI parameters of one expiry (total variance in year · vol², k = ln(K/F)).

    Valid when every field is finite, b ≥ 0, |ρ| < 1, σ > 0 and the minimum total variance
    a + bσ√(1 − ρ²) ≥ 0 (so w(k) ≥ 0 for every k). Invalid parameters raise ValueError.
    """

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def __post_init__(self) -> None:
        for name in ("a", "b", "rho", "m", "sigma"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f"SVI {name} must be finite, got {value!r}")
            object.__setattr__(self, name, value)
        if self.b < 0.0:
            raise ValueError(f"SVI b must be >= 0, got {self.b}")
        if not -1.0 < self.rho < 1.0:
            raise ValueError(f"SVI rho must lie in (-1, 1), got {self.rho}")
        if self.sigma <= 0.0:
            raise ValueError(f"SVI sigma must be > 0, got {self.sigma}")
        if self.min_total_variance < -_W_MIN_TOL:
            raise ValueError(
                "SVI minimum total variance a + b*sigma*sqrt(1 - rho^2) must be >= 0, "
                f"got {self.min_total_variance}"
            )

    @property
    def min_total_variance(self) -> float:
        """min over k of w(k) = a + bσ√(1 − ρ²) (year · vol²)."""
        return self.a + self.b * self.sigma * math.sqrt(1.0 - self.rho * self.rho)

    @property
    def wing_slopes(self) -> tuple[float, float]:
        """Asymptotic slopes of w: (left b(1 − ρ), right b(1 + ρ)); Lee's bound is 2 each."""
        return self.b * (1.0 - self.rho), self.b * (1.0 + self.rho)


def total_variance(params: SviParams, k: ArrayLike) -> NDArray[np.float64]:
    """Total implied variance w(k) (year · vol²) at log-moneyness k = ln(K/F)."""
    p = params
    return raw_total_variance(p.a, p.b, p.rho, p.m, p.sigma, np.asarray(k, dtype=np.float64))


def raw_total_variance(
    a: ArrayLike, b: ArrayLike, rho: ArrayLike, m: ArrayLike, sigma: ArrayLike, k: ArrayLike
) -> NDArray[np.float64]:
    """w(k) for parameters given as broadcasting arrays (no validation: the caller's job).

    The vectorised kernel behind `total_variance`, used where many slices are evaluated at
    once (one parameter row per point).
    """
    x = np.subtract(k, m)
    return np.add(a, np.multiply(b, np.multiply(rho, x) + np.sqrt(x * x + np.square(sigma))))


def dw_dk(params: SviParams, k: ArrayLike) -> NDArray[np.float64]:
    """First derivative of total variance in log-moneyness, dw/dk."""
    x = np.asarray(k, dtype=np.float64) - params.m
    return params.b * (params.rho + x / np.sqrt(x * x + params.sigma**2))


def d2w_dk2(params: SviParams, k: ArrayLike) -> NDArray[np.float64]:
    """Second derivative of total variance in log-moneyness, d²w/dk² (≥ 0: w is convex)."""
    x = np.asarray(k, dtype=np.float64) - params.m
    s2 = params.sigma**2
    return params.b * s2 / (x * x + s2) ** 1.5


def implied_vol(params: SviParams, k: ArrayLike, t: ArrayLike) -> NDArray[np.float64]:
    """Black implied vol √(w(k)/t) (decimal) for time to expiry t > 0 (years)."""
    t_arr = np.asarray(t, dtype=np.float64)
    if np.any(~(t_arr > 0.0)):
        raise ValueError("time to expiry t must be > 0 for an implied vol")
    return np.sqrt(np.maximum(total_variance(params, k), 0.0) / t_arr)


def g_function(params: SviParams, k: ArrayLike) -> NDArray[np.float64]:
    """Gatheral's butterfly function g(k); the risk-neutral density is ≥ 0 iff g ≥ 0.

    g(k) = (1 − k w'/(2w))² − (w'²/4)(1/w + 1/4) + w''/2. Where w ≤ 0 the density is not
    defined and g is −inf (reported as a violation).
    """
    k_arr = np.asarray(k, dtype=np.float64)
    w = total_variance(params, k_arr)
    w1 = dw_dk(params, k_arr)
    w2 = d2w_dk2(params, k_arr)
    positive = w > 0.0
    safe_w = np.where(positive, w, 1.0)
    g = (1.0 - k_arr * w1 / (2.0 * safe_w)) ** 2 - 0.25 * w1 * w1 * (1.0 / safe_w + 0.25)
    return np.where(positive, g + 0.5 * w2, -np.inf)


@dataclass(frozen=True, slots=True)
class KRange:
    """A contiguous run of grid points [k_lo, k_hi] that fails a check.

    `worst` is the most negative checked value in the run (g for a butterfly check, the
    total-variance increase w(T2) − w(T1) for a calendar check), found at `k_worst`.
    """

    k_lo: float
    k_hi: float
    worst: float
    k_worst: float


def k_ranges(k: ArrayLike, values: ArrayLike, tol: float = 0.0) -> tuple[KRange, ...]:
    """The contiguous runs of a sorted grid k where values < −tol, with the worst of each."""
    k_arr = np.asarray(k, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    bad = ~(v >= -tol)  # NaN counts as a failure
    if not bad.any():
        return ()
    edges = np.diff(bad.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)  # exclusive
    out = []
    for lo, hi in zip(starts.tolist(), stops.tolist(), strict=True):
        run = np.nan_to_num(v[lo:hi], nan=-np.inf)
        j = lo + int(np.argmin(run))
        out.append(KRange(float(k_arr[lo]), float(k_arr[hi - 1]), float(v[j]), float(k_arr[j])))
    return tuple(out)


def validate_k_grid(k_grid: ArrayLike | None) -> NDArray[np.float64]:
    """The given k-grid (or DEFAULT_K_GRID), checked: 1-d, finite, strictly increasing."""
    grid = DEFAULT_K_GRID if k_grid is None else np.asarray(k_grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)):
        raise ValueError("k_grid must be a 1-d array of at least 2 finite log-moneyness values")
    if np.any(np.diff(grid) <= 0.0):
        raise ValueError("k_grid must be strictly increasing")
    return grid


@dataclass(frozen=True, slots=True)
class ButterflyReport:
    """Butterfly (density) check of one slice on a k-grid: where g(k) < −tol, and how badly."""

    min_g: float
    k_at_min_g: float
    violations: tuple[KRange, ...]

    @property
    def ok(self) -> bool:
        """True when g ≥ −tol on the whole grid."""
        return not self.violations


def check_butterfly(
    params: SviParams, k_grid: ArrayLike | None = None, tol: float = 0.0
) -> ButterflyReport:
    """Butterfly-arbitrage check of one SVI slice: every k-range of the grid where g < −tol."""
    grid = validate_k_grid(k_grid)
    g = g_function(params, grid)
    j = int(np.argmin(g))
    return ButterflyReport(float(g[j]), float(grid[j]), k_ranges(grid, g, tol))


# --------------------------------------------------------------------------- calibration


@dataclass(frozen=True, slots=True)
class SviFit:
    """Result of calibrating one expiry: parameters and the fit error in vol (decimal)."""

    params: SviParams
    rmse: float
    """Root-mean-square of model − quote vol over the quotes (unweighted)."""
    max_error: float
    """Largest |model − quote| vol over the quotes."""
    success: bool
    message: str


def _wing_features(k: NDArray[np.float64], m: NDArray, sigma: NDArray) -> NDArray[np.float64]:
    """Design matrix [1, (√(y²+1)+y)/2, (√(y²+1)−y)/2] with y = (k − m)/σ; shape (..., n, 3)."""
    y = (k - m[..., None]) / sigma[..., None]
    r = np.sqrt(y * y + 1.0)
    return np.stack([np.ones_like(y), 0.5 * (r + y), 0.5 * (r - y)], axis=-1)


# Candidate active sets of the 3-variable box problem in (a, u, v): each variable free (0),
# at its lower bound (1) or upper bound (2); `a` may also be pinned at 0 (3), which keeps a
# feasible candidate for the non-box constraint a + √(uv) ≥ 0 whatever the data.
_PATTERNS = np.array(
    [p for p in itertools.product(range(4), range(3), range(3))], dtype=np.int8
)  # (36, 3)


def _inner_fit(
    k: NDArray[np.float64],
    w: NDArray[np.float64],
    omega2: NDArray[np.float64],
    m: NDArray[np.float64],
    sigma: NDArray[np.float64],
    a_hi: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Best (a, u, v) for each (m, σ) and the weighted squared error, vectorised over (m, σ).

    Exact for the box problem: every active set is solved and the best feasible candidate is
    kept (a convex box QP attains its minimum at one of them). Returns x (G, 3) and err (G,).
    """
    f = _wing_features(k, m, sigma)  # (G, n, 3)
    fw = f * omega2[:, None]
    h = np.einsum("gni,gnj->gij", fw, f)  # (G, 3, 3)
    rhs = np.einsum("gni,n->gi", fw, w)  # (G, 3)
    const = float(np.dot(omega2, w * w))
    g_count = m.shape[0]
    lo = np.stack([-2.0 * sigma, _MIN_SLOPE * sigma, _MIN_SLOPE * sigma], axis=-1)
    hi = np.stack([np.full(g_count, a_hi), MAX_WING_SLOPE * sigma, MAX_WING_SLOPE * sigma], axis=-1)
    pin = np.stack([lo, hi, np.zeros_like(lo)], axis=1)  # (G, 3 kinds, 3 vars)

    p = _PATTERNS  # (P, 3)
    fixed = p > 0  # (P, 3)
    eye = np.eye(3)
    mat = np.where(fixed[None, :, :, None], eye[None, None], h[:, None])  # (G, P, 3, 3)
    pinned = pin[:, np.clip(p - 1, 0, 2), np.arange(3)]  # (G, P, 3)
    b = np.where(fixed[None], pinned, rhs[:, None, :])
    x = np.linalg.solve(mat, b[..., None])[..., 0]  # (G, P, 3)

    tol = 1e-12 * (1.0 + np.abs(x))
    inside = np.all((x >= lo[:, None] - tol) & (x <= hi[:, None] + tol), axis=-1)
    floor_ok = x[..., 0] + np.sqrt(np.clip(x[..., 1] * x[..., 2], 0.0, None)) >= -_W_MIN_TOL
    err = np.einsum("gpi,gij,gpj->gp", x, h, x) - 2.0 * np.einsum("gpi,gi->gp", x, rhs) + const
    err = np.where(inside & floor_ok, err, np.inf)
    best = np.argmin(err, axis=1)
    rows = np.arange(g_count)
    return x[rows, best], np.maximum(err[rows, best], 0.0)


def _params_from_linear(x: NDArray[np.float64], m: float, sigma: float) -> SviParams:
    a, u, v = (float(t) for t in x)
    u, v = max(u, _MIN_SLOPE * sigma), max(v, _MIN_SLOPE * sigma)
    a = max(a, -math.sqrt(u * v))  # rounding only: candidates already satisfy it
    return SviParams(a=a, b=(u + v) / (2.0 * sigma), rho=(u - v) / (u + v), m=m, sigma=sigma)


def _params_from_slopes(z: NDArray[np.float64]) -> SviParams:
    """(m, σ, w_min, right slope, left slope) → raw SVI parameters."""
    m, sigma, w_min, right, left = (float(t) for t in z)
    b = 0.5 * (right + left)
    return SviParams(
        a=w_min - sigma * math.sqrt(right * left),
        b=b,
        rho=(right - left) / (right + left),
        m=m,
        sigma=sigma,
    )


def _validate_quotes(
    k: ArrayLike, vols: ArrayLike, t: float, weights: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], float, NDArray[np.float64]]:
    k_arr = np.asarray(k, dtype=np.float64)
    v_arr = np.asarray(vols, dtype=np.float64)
    if k_arr.ndim != 1 or k_arr.shape != v_arr.shape:
        raise ValueError("k and vols must be 1-d arrays of the same length")
    if k_arr.size < _MIN_QUOTES:
        raise ValueError(f"need at least {_MIN_QUOTES} quotes to fit 5 SVI parameters")
    if not (np.all(np.isfinite(k_arr)) and np.all(np.isfinite(v_arr)) and np.all(v_arr > 0)):
        raise ValueError("k must be finite and vols finite and > 0")
    t = float(t)
    if not (math.isfinite(t) and t > 0.0):
        raise ValueError(f"time to expiry t must be finite and > 0, got {t}")
    if weights is None:
        w_arr = np.ones_like(k_arr)
    else:
        w_arr = np.broadcast_to(np.asarray(weights, dtype=np.float64), k_arr.shape).copy()
        if not (np.all(np.isfinite(w_arr)) and np.all(w_arr >= 0.0)):
            raise ValueError("weights must be finite and >= 0")
    if np.unique(k_arr[w_arr > 0.0]).size < _MIN_QUOTES:
        raise ValueError(f"need at least {_MIN_QUOTES} distinct strikes with positive weight")
    return k_arr, v_arr, t, w_arr


def calibrate(k: ArrayLike, vols: ArrayLike, t: float, weights: ArrayLike | None = None) -> SviFit:
    """Fit raw SVI to the implied vols of one expiry.

    k: log-moneyness ln(K/F) of each quote; vols: Black implied vols (decimal); t: time to
    expiry (years); weights: relative weight of each quote's vol error (default equal).
    Minimises Σ weightᵢ² (σ_SVI(kᵢ) − volᵢ)² subject to valid parameters and wing slopes
    within Lee's bound. Raises ValueError on unusable input (fewer than 5 distinct strikes,
    non-finite or non-positive values); `success` is False only if the optimiser failed.
    """
    k_arr, v_arr, t, wt = _validate_quotes(k, vols, t, weights)
    w_mkt = v_arr * v_arr * t
    # Vol error ≈ w error / (2 σ t): weight total variance so the linear stage fits vols.
    omega2 = (wt / (2.0 * v_arr * t)) ** 2
    k_lo, k_hi = float(k_arr.min()), float(k_arr.max())
    span = max(k_hi - k_lo, 1e-3)
    m_bounds = (k_lo - span, k_hi + span)
    s_bounds = (1e-4 * span, 10.0 * span)
    a_hi = float(w_mkt.max())

    # 1. Vectorised grid over (m, σ) with the exact inner solve.
    mg, sg = np.meshgrid(
        np.linspace(k_lo - 0.5 * span, k_hi + 0.5 * span, 25),
        np.geomspace(5e-3 * span, 2.0 * span, 16),
        indexing="ij",
    )
    _, err = _inner_fit(k_arr, w_mkt, omega2, mg.ravel(), sg.ravel(), a_hi)
    j = int(np.argmin(err))
    start = np.array([mg.ravel()[j], math.log(sg.ravel()[j])])

    # 2. Nelder–Mead on (m, ln σ) of the profiled (inner-optimal) error.
    def profiled(z: NDArray[np.float64]) -> float:
        return float(_inner_fit(k_arr, w_mkt, omega2, z[:1], np.exp(z[1:]), a_hi)[1][0])

    nm = minimize(
        profiled,
        start,
        method="Nelder-Mead",
        bounds=[m_bounds, (math.log(s_bounds[0]), math.log(s_bounds[1]))],
        options={"xatol": 1e-9, "fatol": 1e-9 * float(err[j]) + 1e-20, "maxiter": 1000},
    )
    m0, s0 = float(nm.x[0]), math.exp(float(nm.x[1]))
    x0, _ = _inner_fit(k_arr, w_mkt, omega2, np.array([m0]), np.array([s0]), a_hi)
    first = _params_from_linear(x0[0], m0, s0)

    # 3. Bounded least-squares polish in vol space on (m, σ, w_min, right, left slope).
    def residuals(z: NDArray[np.float64]) -> NDArray[np.float64]:
        p = _params_from_slopes(z)
        return wt * (implied_vol(p, k_arr, t) - v_arr)

    right0, left0 = first.wing_slopes[::-1]
    z0 = np.array([first.m, first.sigma, max(first.min_total_variance, 0.0), right0, left0])
    lower = np.array([m_bounds[0], s_bounds[0], 0.0, _MIN_SLOPE, _MIN_SLOPE])
    upper = np.array([m_bounds[1], s_bounds[1], np.inf, MAX_WING_SLOPE, MAX_WING_SLOPE])
    z0 = np.clip(z0, lower, np.nextafter(upper, -np.inf))
    polish = least_squares(
        residuals, z0, bounds=(lower, upper), method="trf", x_scale="jac",
        ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=600,
    )  # fmt: skip
    first_error = wt * (implied_vol(first, k_arr, t) - v_arr)
    candidates = [(float(np.sum(first_error**2)), first)]
    if np.all(np.isfinite(polish.x)):
        candidates.append((2.0 * float(polish.cost), _params_from_slopes(polish.x)))
    _, params = min(candidates, key=lambda c: c[0])

    error = implied_vol(params, k_arr, t) - v_arr
    rmse = float(np.sqrt(np.mean(error * error)))
    success = bool(math.isfinite(rmse) and (nm.success or polish.status > 0))
    message = f"nelder-mead: {nm.message}; polish: {polish.message}"
    return SviFit(params, rmse, float(np.max(np.abs(error))), success, message)
