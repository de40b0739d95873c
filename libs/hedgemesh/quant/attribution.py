"""P&L attribution: a book's change of value explained by its greeks (pure, vectorised).

A market move takes each instrument from state 0 to state 1: spot S0 → S1, its implied vol
σ0 → σ1, `days` calendar days later. A holding of q units (an option contract with its
multiplier, or one unit of the underlying) with value V and greeks per unit taken at state 0
earns, with dS = S1 − S0, dσ = σ1 − σ0 (decimal) and p = dσ / 0.01 (vol points):

    actual      = q (V1 − V0)              exact revaluation
    delta       = q Δ0 dS                  Δ in units of the underlying
    gamma       = ½ q Γ0 dS²               Γ per 1 currency unit of spot
    vega        = q ν0 p                   ν per vol point
    vanna       = q ∂Δ/∂σ0 dS p            vanna per vol point (change of delta)
    volga       = ½ q ∂ν/∂σ0 p²            volga per vol point (change of vega per point)
    theta       = q Θ0 days                Θ per calendar day (negative for a long option)
    unexplained = actual − (delta + gamma + vega + vanna + volga + theta)

the Taylor expansion to second order in spot and vol (the cross term included) and first
order in time. What is left: charm (dS dt), the vol-time cross, and third orders. A position in
the underlying itself (V = S, Δ = 1 per unit) is explained by delta exactly.

**Large moves** (a gap, a vol spike) leave third orders that no second-order expansion
explains. `explain_move_revalued` splits them by full revaluation at three more states, all at
the start's time: V(S1, σ0), V(S0, σ1) and V(S1, σ1). Then

    delta = q Δ0 dS                    gamma = q (V(S1, σ0) − V0) − delta
    vega  = q ν0 p                     volga = q (V(S0, σ1) − V0) − vega
    vanna = q (V(S1, σ1) − V(S1, σ0) − V(S0, σ1) + V0)
    theta = q Θ0 days                  unexplained = the rest: q (V1 − V(S1, σ1)) − theta

so gamma holds every order of spot beyond the first, volga every order of vol beyond the
first, vanna every cross term of spot and vol, and only time's cross terms stay unexplained.

Trades. A change of holdings Δq bought for cash Δcash (negative when paying; fees included)
earns Δq · V + Δcash against the value V at that moment: the edge of a client trade done
above fair value, or the cost (spread, slippage and fees) of a hedge. Market moves plus trades
add up to the change of the book's value cash + Σ q V, exactly.

    >>> move = explain_move(
    ...     quantity=2.0, value_before=10.0, value_after=14.6, delta=0.5, gamma=0.02,
    ...     theta_per_day=-0.1, vega_per_point=0.2, spot_before=100.0, spot_after=108.0,
    ...     vol_before=0.20, vol_after=0.21, days=1.0, vanna_per_point=0.01,
    ...     volga_per_point=0.004,
    ... )
    >>> [round(float(x), 6) for x in (move.delta, move.gamma, move.theta, move.vega)]
    [8.0, 1.28, -0.2, 0.4]
    >>> [round(float(x), 6) for x in (move.vanna, move.volga, move.unexplained)]
    [0.16, 0.004, -0.444]
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "VOL_POINT",
    "MoveAttribution",
    "PnlBreakdown",
    "explain_move",
    "explain_move_revalued",
    "trade_pnl",
]

VOL_POINT = 0.01
"""One volatility point (decimal), the unit of `vega_per_point`."""


@dataclass(frozen=True, slots=True, eq=False)
class MoveAttribution:
    """P&L of a market move per holding (currency), broadcast over the inputs' shape."""

    delta: NDArray[np.float64]
    gamma: NDArray[np.float64]
    vega: NDArray[np.float64]
    vanna: NDArray[np.float64]
    volga: NDArray[np.float64]
    theta: NDArray[np.float64]
    actual: NDArray[np.float64]
    """The exact change of value, q (V1 − V0)."""

    @property
    def explained(self) -> NDArray[np.float64]:
        """delta + gamma + vega + vanna + volga + theta."""
        return self.delta + self.gamma + self.vega + self.vanna + self.volga + self.theta

    @property
    def unexplained(self) -> NDArray[np.float64]:
        """actual − explained: what the terms leave (see the module doc)."""
        return self.actual - self.explained

    def breakdown(self) -> PnlBreakdown:
        """The move summed over holdings, as a `PnlBreakdown` (no trades)."""
        return PnlBreakdown(
            delta=float(np.sum(self.delta)),
            gamma=float(np.sum(self.gamma)),
            vega=float(np.sum(self.vega)),
            vanna=float(np.sum(self.vanna)),
            volga=float(np.sum(self.volga)),
            theta=float(np.sum(self.theta)),
            unexplained=float(np.sum(self.unexplained)),
        )


def _finite(name: str, value: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def _first_order(
    quantity: ArrayLike,
    delta: ArrayLike,
    vega_per_point: ArrayLike,
    theta_per_day: ArrayLike,
    spot_before: ArrayLike,
    spot_after: ArrayLike,
    vol_before: ArrayLike,
    vol_after: ArrayLike,
    days: ArrayLike,
) -> tuple[NDArray[np.float64], ...]:
    """(q, dS, p, delta term, vega term, theta term), checked."""
    q = _finite("quantity", quantity)
    d_spot = _finite("spot_after", spot_after) - _finite("spot_before", spot_before)
    points = (_finite("vol_after", vol_after) - _finite("vol_before", vol_before)) / VOL_POINT
    elapsed = _finite("days", days)
    if np.any(elapsed < 0):
        raise ValueError("days must be >= 0: a move cannot go back in time")
    return (
        q,
        d_spot,
        points,
        q * _finite("delta", delta) * d_spot,
        q * _finite("vega_per_point", vega_per_point) * points,
        q * _finite("theta_per_day", theta_per_day) * elapsed,
    )


def explain_move(
    *,
    quantity: ArrayLike,
    value_before: ArrayLike,
    value_after: ArrayLike,
    delta: ArrayLike,
    gamma: ArrayLike,
    theta_per_day: ArrayLike,
    vega_per_point: ArrayLike,
    spot_before: ArrayLike,
    spot_after: ArrayLike,
    vol_before: ArrayLike,
    vol_after: ArrayLike,
    days: ArrayLike,
    vanna_per_point: ArrayLike = 0.0,
    volga_per_point: ArrayLike = 0.0,
) -> MoveAttribution:
    """Attribute the move of each holding by its greeks (the Taylor terms of the module doc).

    quantity: units held through the move (signed); value_*: value per unit before and after
    (currency); delta, gamma, theta_per_day, vega_per_point, vanna_per_point (change of delta
    per vol point), volga_per_point (change of vega per point per point): greeks per unit at
    the start (the units of `hedgemesh.quant.bsm`, times the multiplier); spot_*: the
    underlying (currency); vol_*: implied vol (decimal; anything, e.g. 0, for the underlying,
    whose vega is 0); days: calendar days the move took (≥ 0). All broadcast together;
    non-finite inputs or negative days raise ValueError.
    """
    q, d_spot, points, delta_pnl, vega_pnl, theta_pnl = _first_order(
        quantity,
        delta,
        vega_per_point,
        theta_per_day,
        spot_before,
        spot_after,
        vol_before,
        vol_after,
        days,
    )
    d_value = _finite("value_after", value_after) - _finite("value_before", value_before)
    return MoveAttribution(
        delta=delta_pnl,
        gamma=0.5 * q * _finite("gamma", gamma) * d_spot * d_spot,
        vega=vega_pnl,
        vanna=q * _finite("vanna_per_point", vanna_per_point) * d_spot * points,
        volga=0.5 * q * _finite("volga_per_point", volga_per_point) * points * points,
        theta=theta_pnl,
        actual=q * d_value,
    )


def explain_move_revalued(
    *,
    quantity: ArrayLike,
    value_before: ArrayLike,
    value_after: ArrayLike,
    value_spot_moved: ArrayLike,
    value_vol_moved: ArrayLike,
    value_both_moved: ArrayLike,
    delta: ArrayLike,
    theta_per_day: ArrayLike,
    vega_per_point: ArrayLike,
    spot_before: ArrayLike,
    spot_after: ArrayLike,
    vol_before: ArrayLike,
    vol_after: ArrayLike,
    days: ArrayLike,
) -> MoveAttribution:
    """Attribute a large move by full revaluation (the module doc's second table).

    value_spot_moved, value_vol_moved, value_both_moved: value per unit at the start's time
    with spot moved, vol moved, and both (currency); the other inputs as `explain_move`.
    """
    q, _, _, delta_pnl, vega_pnl, theta_pnl = _first_order(
        quantity,
        delta,
        vega_per_point,
        theta_per_day,
        spot_before,
        spot_after,
        vol_before,
        vol_after,
        days,
    )
    v0 = _finite("value_before", value_before)
    v_spot = _finite("value_spot_moved", value_spot_moved)
    v_vol = _finite("value_vol_moved", value_vol_moved)
    v_both = _finite("value_both_moved", value_both_moved)
    return MoveAttribution(
        delta=delta_pnl,
        gamma=q * (v_spot - v0) - delta_pnl,
        vega=vega_pnl,
        vanna=q * (v_both - v_spot - v_vol + v0),
        volga=q * (v_vol - v0) - vega_pnl,
        theta=theta_pnl,
        actual=q * (_finite("value_after", value_after) - v0),
    )


def trade_pnl(quantity_change: ArrayLike, unit_value: ArrayLike, cash_change: float) -> float:
    """P&L of trades at the moment they are booked: Σ Δq · V + Δcash (currency).

    quantity_change: change of units held per instrument; unit_value: each instrument's value
    per unit (multiplier included) at that moment; cash_change: cash received (negative when
    paid), fees included. Positive for a trade done better than fair value, negative for one
    that paid spread or fees.
    """
    dq = _finite("quantity_change", quantity_change)
    value = _finite("unit_value", unit_value)
    if dq.shape != value.shape:
        raise ValueError(f"quantity_change {dq.shape} and unit_value {value.shape} differ")
    cash = float(cash_change)
    if not np.isfinite(cash):
        raise ValueError("cash_change must be finite")
    return float(np.dot(dq.ravel(), value.ravel())) + cash


@dataclass(frozen=True, slots=True)
class PnlBreakdown:
    """P&L by source (currency); `total` is their sum. Add and subtract breakdowns.

    delta, gamma, vega, vanna, volga, theta: explained by the greeks (or, for large moves, by
    full revaluation); transaction_costs: the P&L of hedge fills against fair value (spread,
    slippage and fees; usually negative); new_trades: the P&L of other trades (client trades)
    against fair value; not_followed: P&L before the attribution began following (unexplained
    by source; see `hedgemesh.api.pnl`); unexplained: what the terms leave.
    """

    delta: float = 0.0
    gamma: float = 0.0
    vega: float = 0.0
    vanna: float = 0.0
    volga: float = 0.0
    theta: float = 0.0
    transaction_costs: float = 0.0
    new_trades: float = 0.0
    not_followed: float = 0.0
    unexplained: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))

    def __add__(self, other: PnlBreakdown) -> PnlBreakdown:
        if not isinstance(other, PnlBreakdown):
            return NotImplemented
        return PnlBreakdown(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: PnlBreakdown) -> PnlBreakdown:
        if not isinstance(other, PnlBreakdown):
            return NotImplemented
        return PnlBreakdown(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))
