"""How the implied-vol surface moves: with spot, with the model's variance, with the events.

The published surface of an underlying at time t is SSVI (`hedgemesh.market.ssvi`) with the
scenario's shape (η, γ, ρ) and ATM total variances

    θ(τ) = ∫₀^τ ξ_b(u) · R_model(u) · e^(−2 β x) · f_events(t + u) du  +  Σ event_vol²

- ξ_b: the base forward variance, from the scenario's ATM vols (so at the start, with no
  event, the surface is exactly the base surface);
- R_model(u): the model's expected instantaneous variance u years ahead from its state now,
  over the same from its state at the start — Heston (θ_h + (v − θ_h)e^(−κu)) / (same at v₀);
  GBM and Merton the ratio of (diffusive vol² + jump variance); SABR (α/α₀)² (S/S₀)^(2β−2),
  its backbone; 1 for a replay. So the ATM level follows Heston's v, and vol shocks;
- x = ln(S/S₀) and the elasticity β = −R_s ρ φ(θ_ref)/2: skew stickiness R_s = 0 is sticky
  moneyness (the smile rides with the forward, ATM vol unchanged), R_s = 1 sticky strike at the
  skew tenor (the ATM vol moves along the smile: up when spot falls under a negative skew);
- f_events: the decaying vol spikes (`EventSchedule.variance_overlay`);
- event_vol²: the announcements still to come before each expiry.

Every factor is positive, so θ increases with τ and the surface stays free of calendar and
butterfly arbitrage (SSVI with η(1 + |ρ|) ≤ 2, checked when the scenario loads).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hedgemesh.market import ssvi
from hedgemesh.quant.paths import PathState
from hedgemesh.scenario.model import (
    GbmSpec,
    HestonSpec,
    MertonSpec,
    ModelSpec,
    SabrSpec,
    UnderlyingSpec,
)

__all__ = ["SurfaceDynamics", "variance_ratio"]

Factor = Callable[[NDArray[np.float64]], NDArray[np.float64]]

#: Bound on |2 β x|: the spot factor stays within [1/100, 100] of the base variance.
_MAX_LOG_SPOT_FACTOR = math.log(100.0)


def variance_ratio(model: ModelSpec, start: PathState, now: PathState) -> float | Factor:
    """R_model: expected variance u years ahead from `now` over the same from `start` (the
    states of one underlying, index 0). A number where it does not depend on u."""
    if isinstance(model, HestonSpec):
        assert start.variance is not None and now.variance is not None
        v0, v = float(start.variance[0]), float(now.variance[0])
        kappa, theta = model.kappa, model.theta

        def heston(u: NDArray[np.float64]) -> NDArray[np.float64]:
            decay = np.exp(-kappa * u)
            return (theta + (v - theta) * decay) / (theta + (v0 - theta) * decay)

        return heston
    if isinstance(model, GbmSpec | MertonSpec):
        assert start.vol is not None and now.vol is not None
        jumps = model.jump_variance if isinstance(model, MertonSpec) else 0.0
        return (float(now.vol[0]) ** 2 + jumps) / (float(start.vol[0]) ** 2 + jumps)
    if isinstance(model, SabrSpec):
        assert start.vol is not None and now.vol is not None
        alpha = float(now.vol[0]) / float(start.vol[0])
        spot = float(now.spot[0]) / float(start.spot[0])
        return alpha * alpha * spot ** (2.0 * model.beta - 2.0)
    return 1.0


@dataclass(frozen=True)
class SurfaceDynamics:
    """The surface model of one underlying (parameters only; `atm_total_variance` and
    `slices` are the pure functions)."""

    term: ssvi.AtmTermStructure
    eta: float
    gamma: float
    rho: float
    elasticity: float
    """β: d ln(ATM variance) / d ln(spot) = −2β."""

    @classmethod
    def from_spec(cls, spec: UnderlyingSpec) -> SurfaceDynamics:
        surface = spec.surface
        term = surface.term_structure()
        eta = surface.resolved_eta
        theta_ref = float(term.total_variance(surface.skew_tenor_days / 365.0))
        phi_ref = float(ssvi.phi(theta_ref, eta, surface.gamma))
        elasticity = -spec.skew_stickiness * surface.rho * phi_ref / 2.0
        return cls(term, eta, surface.gamma, surface.rho, elasticity)

    def spot_factor(self, log_move: float) -> float:
        """e^(−2βx): the ATM variance factor of a log spot move x from the start."""
        exponent = -2.0 * self.elasticity * log_move
        return math.exp(min(max(exponent, -_MAX_LOG_SPOT_FACTOR), _MAX_LOG_SPOT_FACTOR))

    def atm_total_variance(
        self,
        tau: NDArray[np.float64],
        factor: float | Factor,
        *,
        breaks: NDArray[np.float64] | None = None,
        event_variance: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """θ at tenors τ (years, > 0) for a forward-variance factor (a number or u ↦ array)."""
        theta = ssvi.integrate_forward_variance(
            self.term, tau, factor, () if breaks is None else breaks
        )
        return theta if event_variance is None else theta + event_variance

    def slices(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Raw SVI rows (a, b, ρ, m, σ) of the SSVI slices with ATM total variances θ."""
        return ssvi.raw_params(theta, self.eta, self.gamma, self.rho)
