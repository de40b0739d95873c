"""SSVI (Gatheral–Jacquier 2014): an implied-vol surface free of static arbitrage by construction.

Total implied variance at log-moneyness k = ln(K/F(τ)) and tenor τ (years) is

    w(k, τ) = θ/2 · (1 + ρ φ(θ) k + √((φ(θ) k + ρ)² + 1 − ρ²)),   θ = θ(τ) the ATM total variance,

with the power-law curvature φ(θ) = η θ^(−γ) (1 + θ)^(γ − 1). Each expiry is a raw SVI slice
(a, b, ρ, m, σ) = (θ(1 − ρ²)/2, θφ/2, ρ, −ρ/φ, √(1 − ρ²)/φ). The surface has no calendar
arbitrage when θ is non-decreasing in τ, and no butterfly arbitrage when η (1 + |ρ|) ≤ 2 with
0 < γ ≤ ½ (their Corollary 4.1 and Theorem 4.2: then θφ(θ)(1 + |ρ|) < 4 and
θφ(θ)²(1 + |ρ|) ≤ 4 for every θ). So the market simulator moves θ (a positive integral of
forward variance, hence increasing) and never has to repair a surface.

ATM skew of a slice: dσ/dk at k = 0 is ρ φ(θ) √θ / (2√τ) (vol per unit of log-moneyness).

Pure numpy; θ and τ in years · vol² and years.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MAX_ETA_ONE_PLUS_RHO",
    "AtmTermStructure",
    "atm_skew",
    "eta_for_skew",
    "integrate_forward_variance",
    "phi",
    "raw_params",
]

Array = NDArray[np.float64]

#: Largest η (1 + |ρ|) for which the power-law SSVI surface is free of butterfly arbitrage.
MAX_ETA_ONE_PLUS_RHO = 2.0
#: Floor of θ in φ(θ) (years · vol²): θ is positive for any τ > 0, this only guards rounding.
_THETA_FLOOR = 1e-300

#: Gauss–Legendre rule used on every piece of the forward-variance integral.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)


def phi(theta: ArrayLike, eta: float, gamma: float) -> Array:
    """Power-law curvature φ(θ) = η θ^(−γ) (1 + θ)^(γ − 1) (per unit of k per √variance)."""
    th = np.maximum(np.asarray(theta, dtype=np.float64), _THETA_FLOOR)
    return eta * th ** (-gamma) * (1.0 + th) ** (gamma - 1.0)


def raw_params(theta: ArrayLike, eta: float, gamma: float, rho: float) -> Array:
    """Raw SVI rows (a, b, ρ, m, σ), shape (n, 5), of the SSVI slices with ATM total variances
    θ (n,) (years · vol², > 0)."""
    th = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    if np.any(~(th > 0.0)):
        raise ValueError("ATM total variances must be > 0")
    f = phi(th, eta, gamma)
    root = math.sqrt(1.0 - rho * rho)
    return np.column_stack(
        [0.5 * th * root * root, 0.5 * th * f, np.full_like(th, rho), -rho / f, root / f]
    )


def atm_skew(theta: ArrayLike, tau: ArrayLike, eta: float, gamma: float, rho: float) -> Array:
    """dσ/dk at the money (vol per unit of log-moneyness) of the slices (θ, τ)."""
    th = np.asarray(theta, dtype=np.float64)
    return rho * phi(th, eta, gamma) * np.sqrt(th) / (2.0 * np.sqrt(np.asarray(tau, np.float64)))


def eta_for_skew(skew: float, tau: float, theta: float, rho: float, gamma: float) -> float:
    """The η that gives ATM skew `skew` (dσ/dk) to the slice (θ, τ); `skew` and ρ share a sign."""
    if skew * rho <= 0.0 or not (tau > 0.0 and theta > 0.0):
        raise ValueError("need skew and rho of the same sign, tau > 0 and theta > 0")
    phi_ref = 2.0 * skew * math.sqrt(tau) / (rho * math.sqrt(theta))
    return phi_ref * theta**gamma * (1.0 + theta) ** (1.0 - gamma)


class AtmTermStructure:
    """The base ATM total variance θ_b(τ): linear in τ between the nodes (τᵢ, σᵢ² τᵢ), through
    (0, 0) before the first and at the last node's vol beyond the last, so the forward variance
    ξ_b = dθ_b/dτ is piecewise constant and positive.

    tenors: years, increasing; vols: ATM implied vols (decimal) with σᵢ² τᵢ increasing.
    """

    __slots__ = ("_w", "forward_variances", "tenors")

    def __init__(self, tenors: ArrayLike, vols: ArrayLike) -> None:
        t = np.asarray(tenors, dtype=np.float64)
        v = np.asarray(vols, dtype=np.float64)
        if t.ndim != 1 or t.size == 0 or t.shape != v.shape:
            raise ValueError("need one vol per tenor, at least one")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))) or t[0] <= 0.0:
            raise ValueError("tenors and vols must be finite, tenors > 0")
        w = v * v * t
        if np.any(np.diff(t) <= 0.0) or np.any(np.diff(w) <= 0.0) or np.any(v <= 0.0):
            raise ValueError("tenors and total variances σ²τ must be strictly increasing")
        self.tenors = t
        self._w = w
        knots = np.concatenate([[0.0], t])
        slopes = np.diff(np.concatenate([[0.0], w])) / np.diff(knots)
        #: ξ_b on (0, τ₀], (τ₀, τ₁], …, (τₙ₋₁, ∞): n + 1 values (vol²).
        self.forward_variances = np.concatenate([slopes, [v[-1] ** 2]])

    def total_variance(self, tau: ArrayLike) -> Array:
        """θ_b(τ) (years · vol²); τ ≤ 0 gives 0."""
        tau_arr = np.maximum(np.asarray(tau, dtype=np.float64), 0.0)
        inside = np.interp(tau_arr, np.concatenate([[0.0], self.tenors]), np.r_[0.0, self._w])
        beyond = self._w[-1] + self.forward_variances[-1] * (tau_arr - self.tenors[-1])
        return np.where(tau_arr > self.tenors[-1], beyond, inside)

    def forward_variance(self, u: ArrayLike) -> Array:
        """ξ_b(u), the base instantaneous forward variance at tenor u (vol²)."""
        return self.forward_variances[np.searchsorted(self.tenors, np.asarray(u), side="left")]


def integrate_forward_variance(
    term: AtmTermStructure,
    tau: ArrayLike,
    factor: object,
    breaks: ArrayLike = (),
) -> Array:
    """θ(τ) = ∫₀^τ ξ_b(u) · factor(u) du at the tenors τ (years, > 0).

    `factor` maps an array of tenors u (years) to positive multipliers (or is a float). The
    integral is 8-point Gauss–Legendre on every piece between the base nodes, the τ themselves
    and `breaks` (where the factor changes fast), so it is exact for the base alone.
    """
    tau_arr = np.asarray(tau, dtype=np.float64)
    if tau_arr.size == 0:
        return np.empty(0)
    if np.any(~(tau_arr > 0.0)):
        raise ValueError("tenors must be > 0")
    top = float(tau_arr.max())
    points = np.concatenate([[0.0], term.tenors, tau_arr, np.asarray(breaks, dtype=np.float64)])
    points = np.unique(points[(points >= 0.0) & (points <= top)])
    lo, hi = points[:-1], points[1:]
    half = 0.5 * (hi - lo)
    u = (0.5 * (hi + lo))[:, None] + half[:, None] * _GL_X[None, :]  # (pieces, 8)
    values = term.forward_variance(u)
    values = values * (factor(u) if callable(factor) else float(factor))  # type: ignore[arg-type]
    pieces = (values * _GL_W[None, :]).sum(axis=1) * half
    cumulative = np.concatenate([[0.0], np.cumsum(pieces)])
    return cumulative[np.searchsorted(points, tau_arr)]
