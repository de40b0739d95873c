"""Risk and cost figures of hedged P&L across paths, and the cost-versus-risk frontier.

Inputs are arrays with one value per path along the last axis (a 2-D array gives one figure
per row, e.g. one row per policy): hedged P&L in currency (gains positive), transaction costs
in currency (≥ 0), turnover in whatever unit the engine counts (traded notional, shares).

Conventions:

- std is the sample standard deviation (ddof = 1), so at least two paths are needed;
- VaR_α is a positive loss number: VaR_α = −Q(1 − α), Q the empirical quantile of the P&L
  computed with `numpy.quantile(..., method="inverted_cdf")` — Hyndman & Fan's definition 1,
  the left-continuous inverse of the empirical distribution: the ⌈n(1 − α)⌉-th smallest P&L,
  always an observed value. A profit at that quantile gives a negative VaR;
- CVaR_α (expected shortfall) is the mean loss in the worst (1 − α) of the paths, counting the
  path at the boundary fractionally (Acerbi & Tasche 2002):
  CVaR_α = −(Σ_{i ≤ m} x_(i) + (n(1 − α) − m) x_(m+1)) / (n(1 − α)), m = ⌊n(1 − α)⌋,
  with x_(i) the sorted P&L. It is coherent and CVaR_α ≥ VaR_α always.
- mean − k·std is the mean-variance score of Hodges–Neuberger style comparisons (higher is
  better).

`summarise(...)` returns these as a JSON-ready dict of plain floats (keys `mean`, `std`,
`var95`, `cvar95`, `var99`, `cvar99`, `cost_mean`, `turnover`, …).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DEFAULT_LEVELS",
    "QUANTILE_METHOD",
    "cvar",
    "cvar_standard_error",
    "frontier",
    "frontier_from_summaries",
    "level_key",
    "mean_minus_k_std",
    "mean_minus_k_std_standard_error",
    "pareto_efficient",
    "std_standard_error",
    "summarise",
    "var",
]

Array = NDArray[np.float64]

#: Confidence levels `summarise` reports VaR and CVaR at.
DEFAULT_LEVELS = (0.95, 0.99)
#: The `numpy.quantile` method behind VaR (Hyndman & Fan definition 1).
QUANTILE_METHOD: Final = "inverted_cdf"


def _samples(values: ArrayLike, name: str = "pnl", minimum: int = 1) -> Array:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] < minimum:
        raise ValueError(f"{name} needs at least {minimum} path(s) along its last axis")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


def _tail(level: float) -> float:
    """The tail probability 1 − level, rounded to 12 decimals so that 1 − 0.95 is 0.05 and
    not 0.050000000000000044 (which would move the quantile of 100 paths by one path)."""
    level = float(level)
    tail = round(1.0 - level, 12)
    if not (0.0 < level < 1.0 and tail > 0.0):
        raise ValueError(f"confidence level must lie in (0, 1), got {level}")
    return tail


def _figure(result: Array) -> Any:
    """A plain float for a 0-d result, the array otherwise."""
    return float(result) if np.ndim(result) == 0 else result


def var(pnl: ArrayLike, level: float = 0.95) -> Any:
    """Value at risk at `level` (e.g. 0.95) as a positive loss: −Q(1 − level), Q the
    inverted-CDF empirical quantile. A float for 1-D input, one per row otherwise."""
    x = _samples(pnl)
    q = np.quantile(x, _tail(level), axis=-1, method=QUANTILE_METHOD)
    return _figure(-q)


def cvar(pnl: ArrayLike, level: float = 0.95) -> Any:
    """Conditional VaR (expected shortfall) at `level` as a positive loss, the Acerbi–Tasche
    estimator (module docstring). A float for 1-D input, one per row otherwise."""
    x = np.sort(_samples(pnl), axis=-1)
    n = x.shape[-1]
    tail = n * _tail(level)
    # Rounding guard: n(1 − α) = 4.999999999999999 counts 5 whole paths, not 4 and a sliver.
    whole = min(math.floor(tail + 1e-9), n)
    fraction = max(tail - whole, 0.0)
    total = x[..., :whole].sum(axis=-1)
    if whole < n:
        total = total + fraction * x[..., whole]
    return _figure(-total / tail)


def mean_minus_k_std(pnl: ArrayLike, k: float = 1.0) -> Any:
    """mean − k·std of the P&L (std with ddof = 1; k ≥ 0)."""
    if not (math.isfinite(k) and k >= 0.0):
        raise ValueError(f"k must be finite and >= 0, got {k}")
    x = _samples(pnl, minimum=2)
    return _figure(x.mean(axis=-1) - k * x.std(axis=-1, ddof=1))


def std_standard_error(pnl: ArrayLike) -> Any:
    """Standard error of the sample std s, from the delta method on the sample variance:
    Var(s²) ≈ (m₄ − s⁴ (n − 3)/(n − 1)) / n, se(s) ≈ √Var(s²) / (2s), m₄ the fourth central
    moment (exact for any law as n grows; √(s²/(2(n − 1))) for normal P&L). 0 when s = 0."""
    x = _samples(pnl, minimum=4)
    n = x.shape[-1]
    centred = x - x.mean(axis=-1, keepdims=True)
    s2 = (centred**2).sum(axis=-1) / (n - 1)
    m4 = (centred**4).mean(axis=-1)
    var_s2 = np.maximum(m4 - s2 * s2 * (n - 3) / (n - 1), 0.0) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(s2 > 0.0, np.sqrt(var_s2) / (2.0 * np.sqrt(s2)), 0.0)
    return _figure(se)


def mean_minus_k_std_standard_error(pnl: ArrayLike, k: float = 1.0) -> float:
    """Standard error of mean − k·std (1-D P&L, n ≥ 4), by the delta method: Var(x̄) = σ²/n,
    Var(s) as in `std_standard_error`, Cov(x̄, s) ≈ μ₃ / (2σn) (μ₃ the third central moment),
    so Var = σ²/n + k² Var(s) − k μ₃ / (σ n)."""
    x = _samples(pnl, minimum=4)
    n = x.size
    centred = x - x.mean()
    s = float(np.sqrt((centred**2).sum() / (n - 1)))
    if s == 0.0:
        return 0.0
    m3 = float((centred**3).mean())
    se_s = float(std_standard_error(x))
    variance = s * s / n + k * k * se_s * se_s - k * m3 / (s * n)
    return math.sqrt(max(variance, 0.0))


def cvar_standard_error(pnl: ArrayLike, level: float = 0.95) -> float:
    """Standard error of the CVaR estimate (1-D P&L): the asymptotic variance of expected
    shortfall, Var((L − v)₊) / (n (1 − level)²), L = −pnl the loss and v its VaR."""
    x = _samples(pnl, minimum=2)
    tail = _tail(level)
    loss = -x
    v = float(var(x, level))
    excess = np.maximum(loss - v, 0.0)
    return float(np.sqrt(excess.var(ddof=1) / x.size) / tail)


def level_key(prefix: str, level: float) -> str:
    """The summary key of a figure at a level: level_key("var", 0.95) == "var95",
    level_key("cvar", 0.975) == "cvar97.5"."""
    return f"{prefix}{(1.0 - _tail(level)) * 100:.10g}"


def summarise(
    pnl: ArrayLike,
    costs: ArrayLike | None = None,
    turnover: ArrayLike | None = None,
    *,
    k: float = 1.0,
    levels: Iterable[float] = DEFAULT_LEVELS,
) -> dict[str, float]:
    """The figures of one policy's hedged P&L across paths, as plain floats:

    n_paths; mean, stderr_mean (std/√n), std, std_stderr, median, min, max; var{L} and
    cvar{L} per level (var95, cvar95, var99, cvar99 by default); mean_minus_k_std and k;
    from 4 paths on, the standard errors mean_minus_k_std_stderr and cvar{L}_stderr;
    cost_mean, cost_std (0 without costs); turnover (the mean per path; 0 without).
    pnl is 1-D (n_paths ≥ 2); costs and turnover, when given, have the same shape.
    """
    x = _samples(pnl, minimum=2)
    if x.ndim != 1:
        raise ValueError(f"summarise takes one policy's 1-D P&L, got shape {x.shape}")
    n = x.size
    std = float(x.std(ddof=1))
    out: dict[str, float] = {
        "n_paths": float(n),
        "mean": float(x.mean()),
        "stderr_mean": std / math.sqrt(n),
        "std": std,
        "std_stderr": float(std_standard_error(x)) if n >= 4 else math.inf,
        "median": float(np.median(x)),
        "min": float(x.min()),
        "max": float(x.max()),
    }
    for level in levels:
        out[level_key("var", level)] = var(x, level)
        out[level_key("cvar", level)] = cvar(x, level)
    out["mean_minus_k_std"] = mean_minus_k_std(x, k)
    out["k"] = float(k)
    if n >= 4:
        out["mean_minus_k_std_stderr"] = mean_minus_k_std_standard_error(x, k)
        for level in levels:
            out[level_key("cvar", level) + "_stderr"] = cvar_standard_error(x, level)
    cost = _per_path(costs, n, "costs")
    out["cost_mean"] = float(cost.mean())
    out["cost_std"] = float(cost.std(ddof=1))
    out["turnover"] = float(_per_path(turnover, n, "turnover").mean())
    if not math.isfinite(out["std_stderr"]):
        del out["std_stderr"]  # too few paths for a fourth moment; JSON has no infinity
    return out


def _per_path(values: ArrayLike | None, n: int, name: str) -> Array:
    if values is None:
        return np.zeros(n)
    v = _samples(values, name)
    if v.shape != (n,):
        raise ValueError(f"{name} must have one value per path, shape ({n},), got {v.shape}")
    return v


def pareto_efficient(costs: ArrayLike, risks: ArrayLike) -> NDArray[np.bool_]:
    """True where no other point is at least as good on both cost and risk and strictly
    better on one (lower is better on both). Identical points are all efficient."""
    c = _samples(costs, "costs")
    r = _samples(risks, "risks")
    if c.ndim != 1 or c.shape != r.shape:
        raise ValueError(f"costs and risks must be 1-D of one length, got {c.shape}, {r.shape}")
    no_worse = (c[None, :] <= c[:, None]) & (r[None, :] <= r[:, None])  # [i, j]: j vs i
    better = (c[None, :] < c[:, None]) | (r[None, :] < r[:, None])
    return ~np.any(no_worse & better, axis=1)


def frontier(
    widths: Sequence[float] | ArrayLike, costs: ArrayLike, risks: ArrayLike
) -> list[dict[str, float | bool]]:
    """The cost-versus-risk points of a policy across band widths, in the order given:
    [{"width", "cost", "std", "efficient"}], efficient as in `pareto_efficient` (cost is
    the mean transaction cost, risk the std of hedged P&L)."""
    w = np.asarray(widths, dtype=np.float64)
    efficient = pareto_efficient(costs, risks)
    if w.shape != efficient.shape:
        raise ValueError(f"one width per point: {w.shape} widths, {efficient.shape} points")
    c, r = np.asarray(costs, dtype=np.float64), np.asarray(risks, dtype=np.float64)
    return [
        {"width": float(wi), "cost": float(ci), "std": float(ri), "efficient": bool(ei)}
        for wi, ci, ri, ei in zip(w, c, r, efficient, strict=True)
    ]


def frontier_from_summaries(
    summaries: Mapping[float, Mapping[str, float]],
    *,
    cost_key: str = "cost_mean",
    risk_key: str = "std",
) -> list[dict[str, float | bool]]:
    """`frontier` over {band width: summarise(...)} results."""
    widths = list(summaries)
    return frontier(
        widths,
        [summaries[w][cost_key] for w in widths],
        [summaries[w][risk_key] for w in widths],
    )
