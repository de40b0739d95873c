"""Price path models: GBM, Heston, SABR and Merton jumps, whole-array or one step at a time.

Every model is a frozen dataclass of validated parameters with one step kernel (`_advance`)
behind two ways of using it:

- `model.simulate(s0, dt, n_steps, n_paths, rng, antithetic=False) -> PathSet`: whole paths,
  spot of shape (n_paths, n_steps + 1), for a backtest;
- `state = model.initial_state(s0, n, corr=None)`, then `state = model.step(state, dt, rng)`
  per tick, advancing n underlyings one step, for a live simulator; `model.shock(state,
  spot_factor=..., vol_factor=...)` applies a scheduled gap or vol spike from outside.

`simulate` draws the shocks of each step exactly as `step` does (`rng.standard_normal((n,
model.n_shocks))`), so stepping `initial_state(s0, n_paths)` with the same generator gives the
same paths bit for bit.

Units: spot in currency, times and `dt` in years (ACT/365 as in `bsm`), drifts and rates per
year (continuously compounded), vols annualised decimals (0.2 = 20 %), variance in vol² (per
year). `mu` is the drift of the price itself: E[S(t + dt) | S(t)] = S(t) e^{mu dt} for every
model (Merton's jumps are compensated; Heston's QE scheme is martingale-corrected), so
`mu = rate − div` gives the risk-neutral measure and any other value a real-world one.

Schemes (one step of length dt, z standard normal shocks):

- GBM: exact, S' = S exp((mu − σ²/2) dt + σ √dt z₀).
- Heston: Andersen's quadratic-exponential (QE) scheme for the variance (ψ_c = 1.5,
  γ₁ = γ₂ = ½) with the martingale correction of the log-spot step; the variance is ≥ 0 by
  construction and E[v' | v] equals the exact CIR mean θ + (v − θ) e^{−κ dt}. z₀ drives the
  part of the spot independent of the variance, z₁ the variance (its uniform is Φ(z₁)).
  Where the correction does not exist (strongly positive ρ with large dt) the uncorrected
  drift is used.
- SABR: α is exact lognormal, α' = α exp(ν √dt z_α − ν² dt / 2) with z_α = ρ z₀ + √(1 − ρ²) z₁;
  the forward uses α at the start of the step. β = 1: log-Euler (exactly a martingale given
  α); β < 1: Euler, F' = F e^{mu dt} + α F^β √dt z₀, absorbed at zero (once F ≤ 0 it stays
  0), which biases the mean up by the absorbed mass only.
- Merton: exact, N ~ Poisson(λ dt) by inverse transform of the uniform Φ(z₁) (so antithetic
  and correlated shocks still work), log jump sum N·m + √N·s·z₂, drift mu − λk − σ²/2 with
  k = e^{m + s²/2} − 1.

Correlation (step API): `initial_state(..., corr=C)` stores a factor L of C (Cholesky, or a
symmetric root when C is singular) and every drawn shock column is mixed across the n
underlyings by L. The columns of each underlying stay standard normal (its own law is
unchanged); the spot Brownian motions of any two underlyings get correlation C_ij (exactly for
GBM and Merton's diffusion; for Heston and SABR, whose spot noise mixes both columns with the
same ρ, too). Merton's jump counts become dependent through the same Gaussian copula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

__all__ = [
    "GBM",
    "MODELS",
    "SABR",
    "Heston",
    "Merton",
    "PathModel",
    "PathSet",
    "PathState",
    "correlation_factor",
    "make_model",
]

Array = NDArray[np.float64]

#: Andersen's switching level between the quadratic and the exponential branch of QE.
_PSI_CRIT = 1.5
#: Poisson tail mass ignored when tabulating the jump-count survival function.
_POISSON_TAIL = 1e-17
#: Tolerance on the eigenvalues and the diagonal of a correlation matrix.
_CORR_TOL = 1e-10


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    array.flags.writeable = False
    return array


def _finite(owner: str, name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner} {name} must be finite, got {value!r}")
    return value


def _positive_dt(dt: float) -> float:
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0.0):
        raise ValueError(f"dt must be a finite number of years > 0, got {dt!r}")
    return dt


@dataclass(frozen=True, slots=True, eq=False)
class PathState:
    """The state of n underlyings at one time (every array has shape (n,)).

    spot: price (> 0; SABR with β < 1 may reach the absorbing 0). variance: Heston's
    instantaneous variance v (vol², ≥ 0), else None. vol: the instantaneous diffusive vol
    (annualised): GBM's and Merton's σ per underlying (starts at the model's σ, changed only by
    `shock`), SABR's α; None for Heston. jumps: Merton's number of jumps in the last step
    (int), else None. chol: factor L (n, n) of the correlation across the underlyings, or None
    for independent underlyings.
    """

    spot: Array
    variance: Array | None = None
    vol: Array | None = None
    jumps: NDArray[np.int64] | None = None
    chol: Array | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of underlyings."""
        return int(self.spot.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class PathSet:
    """Simulated (or historical) paths, one row per path, column t at time t·dt.

    spot: (n_paths, n_steps + 1). variance: Heston's v path (same shape) or None. vol: SABR's α
    path (same shape) or None. jumps: Merton's jump count per step, (n_paths, n_steps), or None.
    dt: step in years. Arrays are read-only and stored time-major (Fortran order), so
    spot[:, t] — every path at one time, what a backtester reads — is contiguous.
    With `antithetic=True`, path i and path i + n_paths/2 are an antithetic pair.
    """

    spot: Array
    dt: float
    variance: Array | None = None
    vol: Array | None = None
    jumps: NDArray[np.int64] | None = None

    @property
    def n_paths(self) -> int:
        return int(self.spot.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.spot.shape[1]) - 1

    @property
    def times(self) -> Array:
        """Time of each column in years from the start: (n_steps + 1,)."""
        return np.arange(self.n_steps + 1, dtype=np.float64) * self.dt

    def log_returns(self) -> Array:
        """ln(S(t+dt)/S(t)) per step, (n_paths, n_steps) (−inf after an absorption at 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.diff(np.log(self.spot), axis=1)


def correlation_factor(corr: ArrayLike) -> Array:
    """A matrix L with L Lᵀ = corr: the lower Cholesky factor, or, when corr is only positive
    semi-definite (perfect correlations), the symmetric square root.

    Raises ValueError unless corr is a finite, symmetric (n, n) matrix with unit diagonal and
    no eigenvalue below −1e-10.
    """
    c = np.array(corr, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"correlation must be a square (n, n) matrix, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("correlation must be finite")
    if not np.allclose(c, c.T, rtol=0.0, atol=_CORR_TOL):
        raise ValueError("correlation must be symmetric")
    if not np.allclose(np.diag(c), 1.0, rtol=0.0, atol=_CORR_TOL):
        raise ValueError("correlation must have a unit diagonal")
    if np.any(np.abs(c) > 1.0 + _CORR_TOL):
        raise ValueError("correlation entries must lie in [-1, 1]")
    try:
        return _frozen(np.linalg.cholesky(c))
    except np.linalg.LinAlgError:
        pass
    eigval, eigvec = np.linalg.eigh(0.5 * (c + c.T))
    if eigval.min() < -_CORR_TOL:
        raise ValueError(
            f"correlation must be positive semi-definite, smallest eigenvalue {eigval.min():.3g}"
        ) from None
    return _frozen((eigvec * np.sqrt(np.clip(eigval, 0.0, None))) @ eigvec.T)


class PathModel:
    """Shared machinery of the models: state handling, stepping, whole-path simulation.

    Subclasses define `n_shocks` (standard normals per underlying per step), `_rules` (the
    check of each parameter), `_start` (the state fields beside spot and the parameter each
    starts from), `_recorded` (the state fields `simulate` keeps besides spot) and the one
    step kernel `_advance(state, dt, z)`.
    """

    __slots__ = ()
    n_shocks: ClassVar[int]
    _recorded: ClassVar[tuple[str, ...]] = ()
    _rules: ClassVar[dict[str, str]]
    _start: ClassVar[dict[str, str]]

    def __post_init__(self) -> None:
        _validate(self, self._rules)

    def _initial_extras(self, n: int) -> dict[str, Any]:
        extras: dict[str, Any] = {
            name: _frozen(np.full(n, getattr(self, param))) for name, param in self._start.items()
        }
        if "jumps" in self._recorded:
            extras["jumps"] = _frozen(np.zeros(n, dtype=np.int64))
        return extras

    def _advance(self, state: PathState, dt: float, z: Array) -> PathState:
        raise NotImplementedError

    # -- the step API -------------------------------------------------------------------------

    def initial_state(
        self, s0: ArrayLike, n: int | None = None, *, corr: ArrayLike | None = None
    ) -> PathState:
        """State of n underlyings at time 0. s0: spot (> 0), a scalar or an (n,) array; n
        defaults to the size of s0. corr: optional (n, n) correlation across the underlyings.
        """
        s = np.array(s0, dtype=np.float64)
        if s.ndim > 1:
            raise ValueError(f"s0 must be a scalar or a 1-D array, got shape {s.shape}")
        if n is None:
            n = s.size
        if not (isinstance(n, int | np.integer) and n >= 1):
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        try:
            spot = np.broadcast_to(s, (int(n),)).copy()
        except ValueError:
            raise ValueError(f"s0 of shape {s.shape} does not fit n = {n}") from None
        if not np.all(np.isfinite(spot) & (spot > 0.0)):
            raise ValueError("s0 must be finite and > 0")
        chol = None
        if corr is not None:
            chol = correlation_factor(corr)
            if chol.shape[0] != n:
                raise ValueError(f"correlation is {chol.shape[0]}x{chol.shape[0]}, n is {n}")
        return PathState(spot=_frozen(spot), chol=chol, **self._initial_extras(int(n)))

    def step(
        self,
        state: PathState,
        dt: float,
        rng: np.random.Generator | None = None,
        shocks: ArrayLike | None = None,
    ) -> PathState:
        """Advance every underlying of `state` by dt years (≥ 0); returns a new state.

        Shocks are drawn as rng.standard_normal((n, n_shocks)) and mixed by the state's
        correlation factor; or pass `shocks` of that shape to use them as they are (no
        correlation applied; `rng` is then not needed). dt = 0 (no time passed, e.g. two
        ticks at one instant) returns the state as it is, with no jumps, and draws nothing.
        """
        if dt == 0.0:
            return state if state.jumps is None else replace(state, jumps=_frozen(0 * state.jumps))
        dt = _positive_dt(dt)
        n = state.n
        if shocks is None:
            if rng is None:
                raise ValueError("step needs an rng or shocks")
            z = rng.standard_normal((n, self.n_shocks))
            if state.chol is not None:
                z = state.chol @ z
        else:
            z = np.asarray(shocks, dtype=np.float64)
            if z.shape != (n, self.n_shocks):
                raise ValueError(f"shocks must have shape {(n, self.n_shocks)}, got {z.shape}")
            if not np.all(np.isfinite(z)):
                raise ValueError("shocks must be finite")
        return self._advance(state, dt, z)

    def shock(
        self, state: PathState, *, spot_factor: ArrayLike = 1.0, vol_factor: ArrayLike = 1.0
    ) -> PathState:
        """A scheduled event applied from outside: spot × spot_factor (a gap) and the
        instantaneous vol × vol_factor (Heston's variance × vol_factor²). Factors are scalars
        or (n,) arrays, finite and > 0. GBM's, Merton's and SABR's vol keep the new level;
        Heston's variance reverts to θ at speed κ.
        """
        spot_f = self._factor("spot_factor", spot_factor, state.n)
        vol_f = self._factor("vol_factor", vol_factor, state.n)
        changes: dict[str, Any] = {"spot": _frozen(state.spot * spot_f)}
        if state.variance is not None:
            changes["variance"] = _frozen(state.variance * vol_f * vol_f)
        if state.vol is not None:
            changes["vol"] = _frozen(state.vol * vol_f)
        return replace(state, **changes)

    @staticmethod
    def _factor(name: str, value: ArrayLike, n: int) -> Array:
        f = np.array(value, dtype=np.float64)
        try:
            f = np.broadcast_to(f, (n,))
        except ValueError:
            raise ValueError(f"{name} of shape {f.shape} does not fit n = {n}") from None
        if not np.all(np.isfinite(f) & (f > 0.0)):
            raise ValueError(f"{name} must be finite and > 0")
        return f

    # -- whole paths --------------------------------------------------------------------------

    def simulate(
        self,
        s0: ArrayLike,
        dt: float,
        n_steps: int,
        n_paths: int,
        rng: np.random.Generator,
        *,
        antithetic: bool = False,
    ) -> PathSet:
        """n_paths independent paths of n_steps steps of dt years from s0 (scalar or
        (n_paths,)). antithetic: the second half of the paths uses the negated shocks of the
        first (n_paths must be even)."""
        dt = _positive_dt(dt)
        for name, value in (("n_steps", n_steps), ("n_paths", n_paths)):
            if not (isinstance(value, int | np.integer) and value >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if antithetic and n_paths % 2:
            raise ValueError(f"antithetic paths come in pairs: n_paths must be even, {n_paths}")
        state = self.initial_state(s0, int(n_paths))
        spot = np.empty((n_steps + 1, n_paths))
        spot[0] = state.spot
        kept = {name: self._record_buffer(name, state, n_steps) for name in self._recorded}
        draw = n_paths // 2 if antithetic else n_paths
        for i in range(n_steps):
            z = rng.standard_normal((draw, self.n_shocks))
            if antithetic:
                z = np.concatenate((z, -z))
            state = self._advance(state, dt, z)
            spot[i + 1] = state.spot
            for name, buffer in kept.items():
                buffer[i + 1 - (name == "jumps")] = getattr(state, name)
        return PathSet(
            spot=_frozen(spot.T),
            dt=dt,
            **{name: _frozen(buffer.T) for name, buffer in kept.items()},
        )

    @staticmethod
    def _record_buffer(name: str, state: PathState, n_steps: int) -> NDArray[Any]:
        if name == "jumps":
            return np.empty((n_steps, state.n), dtype=np.int64)
        buffer = np.empty((n_steps + 1, state.n))
        buffer[0] = getattr(state, name)
        return buffer


_RULES: dict[str, tuple[float, float, bool, bool]] = {
    # rule: (low, high, low included, high included)
    "finite": (-math.inf, math.inf, False, False),
    "> 0": (0.0, math.inf, False, False),
    ">= 0": (0.0, math.inf, True, False),
    "in [0, 1]": (0.0, 1.0, True, True),
    "in [-1, 1]": (-1.0, 1.0, True, True),
}


def _validate(model: Any, rules: dict[str, str]) -> None:
    """Coerce each named parameter to a finite float and check it against its rule."""
    owner = type(model).__name__
    for name, rule in rules.items():
        value = _finite(owner, name, getattr(model, name))
        low, high, low_in, high_in = _RULES[rule]
        above = low < value or (low_in and value == low)
        below = value < high or (high_in and value == high)
        if not (above and below):
            raise ValueError(f"{owner} {name} must be {rule}, got {value}")
        object.__setattr__(model, name, value)


@dataclass(frozen=True, slots=True, kw_only=True)
class GBM(PathModel):
    """Geometric Brownian motion dS = mu S dt + σ S dW.

    mu: drift per year; sigma: vol (annualised, ≥ 0). One shock per step.
    """

    mu: float = 0.0
    sigma: float

    n_shocks: ClassVar[int] = 1
    _rules: ClassVar[dict[str, str]] = {"mu": "finite", "sigma": ">= 0"}
    _start: ClassVar[dict[str, str]] = {"vol": "sigma"}

    def _advance(self, state: PathState, dt: float, z: Array) -> PathState:
        vol = state.vol
        assert vol is not None
        log_growth = (self.mu - 0.5 * vol * vol) * dt + vol * math.sqrt(dt) * z[:, 0]
        return replace(state, spot=_frozen(state.spot * np.exp(log_growth)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Heston(PathModel):
    """Heston: dS = mu S dt + √v S dW_S, dv = κ(θ − v) dt + ξ √v dW_v, d⟨W_S, W_v⟩ = ρ dt.

    mu: drift per year; kappa: mean-reversion speed per year (> 0); theta: long-run variance
    (vol², > 0); xi: vol of variance (> 0); rho: spot–variance correlation in [−1, 1]; v0:
    initial variance (≥ 0). QE scheme (see the module docstring); two shocks per step.
    """

    mu: float = 0.0
    kappa: float
    theta: float
    xi: float
    rho: float
    v0: float

    n_shocks: ClassVar[int] = 2
    _recorded: ClassVar[tuple[str, ...]] = ("variance",)
    _rules: ClassVar[dict[str, str]] = {
        "mu": "finite",
        "kappa": "> 0",
        "theta": "> 0",
        "xi": "> 0",
        "rho": "in [-1, 1]",
        "v0": ">= 0",
    }
    _start: ClassVar[dict[str, str]] = {"variance": "v0"}

    def mean_variance(self, v: ArrayLike, t: ArrayLike) -> Array:
        """E[v(t) | v(0) = v] = θ + (v − θ) e^{−κt} (vol²), t in years."""
        return self.theta + (np.asarray(v, dtype=np.float64) - self.theta) * np.exp(
            -self.kappa * np.asarray(t, dtype=np.float64)
        )

    def _advance(self, state: PathState, dt: float, z: Array) -> PathState:
        v = state.variance
        assert v is not None
        kappa, theta, xi, rho = self.kappa, self.theta, self.xi, self.rho
        e = math.exp(-kappa * dt)
        m = theta + (v - theta) * e
        s2 = v * (xi * xi * e * (1.0 - e) / kappa) + theta * xi * xi * (1.0 - e) ** 2 / (
            2.0 * kappa
        )
        psi = s2 / (m * m)
        quad = psi <= _PSI_CRIT
        zv = z[:, 1]
        # Log-spot with γ1 = γ2 = 1/2 and the martingale correction K0* = −ln M − (K1 + K3/2) v,
        # M = E[exp(A v') | v], A = K2 + K4/2.
        k_mid = 0.5 * dt * (kappa * rho / xi - 0.5)
        k1 = k_mid - rho / xi
        k2 = k_mid + rho / xi
        k3 = k4 = 0.5 * dt * (1.0 - rho * rho)
        big_a = k2 + 0.5 * k4
        if quad.all():  # the usual case at daily steps: no fancy indexing
            v_next, log_m = _qe_quadratic(m, psi, zv, big_a)
        else:
            v_next, log_m = np.empty_like(v), np.empty_like(v)
            if quad.any():
                v_next[quad], log_m[quad] = _qe_quadratic(m[quad], psi[quad], zv[quad], big_a)
            other = ~quad
            v_next[other], log_m[other] = _qe_exponential(m[other], psi[other], zv[other], big_a)
        k0 = np.where(
            np.isfinite(log_m), -log_m - (k1 + 0.5 * k3) * v, -rho * kappa * theta * dt / xi
        )
        log_growth = (
            self.mu * dt + k0 + k1 * v + k2 * v_next + np.sqrt(k3 * v + k4 * v_next) * z[:, 0]
        )
        return replace(
            state, spot=_frozen(state.spot * np.exp(log_growth)), variance=_frozen(v_next)
        )


def _qe_quadratic(m: Array, psi: Array, zv: Array, big_a: float) -> tuple[Array, Array]:
    """QE where ψ ≤ 1.5: v' = a (b + Z)² (a scaled non-central χ² with one degree of freedom)
    matching the conditional mean m and variance ψm²; and ln M, nan where M does not exist."""
    two_over = 2.0 / psi
    b2 = two_over - 1.0 + np.sqrt(two_over * (two_over - 1.0))
    a = m / (1.0 + b2)
    v_next = a * (np.sqrt(b2) + zv) ** 2
    one_minus = 1.0 - 2.0 * big_a * a
    with np.errstate(divide="ignore", invalid="ignore"):
        log_m = big_a * b2 * a / one_minus - 0.5 * np.log(one_minus)
    return v_next, np.where(one_minus > 0.0, log_m, np.nan)


def _qe_exponential(m: Array, psi: Array, zv: Array, big_a: float) -> tuple[Array, Array]:
    """QE where ψ > 1.5: mass p at 0 and an exponential tail of rate β, by inverting the
    uniform U = Φ(Z) (1 − U = Φ(−Z) keeps the tail exact); and ln M, nan where M does not
    exist."""
    p = (psi - 1.0) / (psi + 1.0)
    beta = (1.0 - p) / m
    one_minus_u = special.ndtr(-zv)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.log((1.0 - p) / one_minus_u) / beta
        log_m = np.log(p + beta * (1.0 - p) / (beta - big_a))
    v_next = np.where(one_minus_u >= 1.0 - p, 0.0, tail)
    return v_next, np.where(beta > big_a, log_m, np.nan)


@dataclass(frozen=True, slots=True, kw_only=True)
class SABR(PathModel):
    """SABR: dF = mu F dt + α F^β dW_F, dα = ν α dW_α, d⟨W_F, W_α⟩ = ρ dt, absorbed at F = 0.

    alpha: initial α (> 0; lognormal vol when β = 1, normal vol when β = 0); beta: CEV
    exponent in [0, 1]; rho: correlation in [−1, 1]; nu: vol of vol (≥ 0); mu: drift per year
    (0 for the forward itself, a martingale). Two shocks per step.
    """

    alpha: float
    beta: float
    rho: float
    nu: float
    mu: float = 0.0

    n_shocks: ClassVar[int] = 2
    _recorded: ClassVar[tuple[str, ...]] = ("vol",)
    _rules: ClassVar[dict[str, str]] = {
        "alpha": "> 0",
        "beta": "in [0, 1]",
        "rho": "in [-1, 1]",
        "nu": ">= 0",
        "mu": "finite",
    }
    _start: ClassVar[dict[str, str]] = {"vol": "alpha"}

    def _advance(self, state: PathState, dt: float, z: Array) -> PathState:
        alpha = state.vol
        assert alpha is not None
        f = state.spot
        sqrt_dt = math.sqrt(dt)
        if self.beta == 1.0:
            f_next = f * np.exp((self.mu - 0.5 * alpha * alpha) * dt + alpha * sqrt_dt * z[:, 0])
        else:
            alive = f > 0.0
            local = alpha * np.where(alive, f, 0.0) ** self.beta
            moved = f * math.exp(self.mu * dt) + local * sqrt_dt * z[:, 0]
            f_next = np.where(alive & (moved > 0.0), moved, 0.0)
        z_alpha = self.rho * z[:, 0] + math.sqrt(1.0 - self.rho * self.rho) * z[:, 1]
        nu = self.nu
        alpha_next = alpha * np.exp(nu * sqrt_dt * z_alpha - 0.5 * nu * nu * dt)
        return replace(state, spot=_frozen(f_next), vol=_frozen(alpha_next))


@lru_cache(maxsize=128)
def _poisson_thresholds(mean: float) -> Array:
    """t_k = −Φ⁻¹(P(N > k)), k = 0, 1, … while P(N > k) > 1e-17, N ~ Poisson(mean): the
    standard normal z gives N = #{k : t_k < z}, the inverse transform of U = Φ(z) read in the
    z scale (no Φ per draw, and exact in the tail)."""
    upper = int(mean + 12.0 * math.sqrt(mean) + 40.0)
    sf = stats.poisson.sf(np.arange(upper), mean)
    sf = sf[sf > _POISSON_TAIL]
    return _frozen(-special.ndtri(sf))


@dataclass(frozen=True, slots=True, kw_only=True)
class Merton(PathModel):
    """Merton jump-diffusion: dS/S⁻ = (mu − λk) dt + σ dW + (e^Y − 1) dN, Y ~ N(m, s²).

    mu: total drift per year (jumps compensated: E[S(t)] = S(0) e^{mu t}); sigma: diffusive
    vol (≥ 0); lam: jump intensity per year (≥ 0); jump_mean m and jump_std s (≥ 0) of the
    log jump size; k = e^{m + s²/2} − 1. Three shocks per step (diffusion, count, size).
    """

    mu: float = 0.0
    sigma: float
    lam: float
    jump_mean: float
    jump_std: float

    n_shocks: ClassVar[int] = 3
    _recorded: ClassVar[tuple[str, ...]] = ("jumps",)
    _rules: ClassVar[dict[str, str]] = {
        "mu": "finite",
        "sigma": ">= 0",
        "lam": ">= 0",
        "jump_mean": "finite",
        "jump_std": ">= 0",
    }
    _start: ClassVar[dict[str, str]] = {"vol": "sigma"}

    @property
    def jump_compensator(self) -> float:
        """k = E[e^Y − 1], the mean relative jump."""
        return math.expm1(self.jump_mean + 0.5 * self.jump_std**2)

    def _advance(self, state: PathState, dt: float, z: Array) -> PathState:
        vol = state.vol
        assert vol is not None
        counts = np.searchsorted(_poisson_thresholds(self.lam * dt), z[:, 1]).astype(np.int64)
        jump = counts * self.jump_mean + np.sqrt(counts) * self.jump_std * z[:, 2]
        drift = (self.mu - self.lam * self.jump_compensator - 0.5 * vol * vol) * dt
        log_growth = drift + vol * math.sqrt(dt) * z[:, 0] + jump
        return replace(state, spot=_frozen(state.spot * np.exp(log_growth)), jumps=_frozen(counts))


#: Model classes by the name a config uses.
MODELS: dict[str, type[PathModel]] = {"gbm": GBM, "heston": Heston, "sabr": SABR, "merton": Merton}


def make_model(name: str, **params: float) -> PathModel:
    """The model called `name` ("gbm", "heston", "sabr", "merton"; any case) with `params`."""
    try:
        cls = MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown path model {name!r}; choose one of {sorted(MODELS)}") from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"{name}: {exc}") from None
