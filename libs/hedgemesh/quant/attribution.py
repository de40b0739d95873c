"""P&L attribution: a book's change of value explained by its greeks (pure, vectorised).

A market move takes each instrument from state 0 to state 1: spot S0 → S1, its implied vol
σ0 → σ1, `days` calendar days later. A holding of q units (an option contract with its
multiplier, or one unit of the underlying) with value V and greeks per unit taken at state 0
earns, with dS = S1 − S0 and dσ = σ1 − σ0 (decimal):

    actual      = q (V1 − V0)              exact revaluation
    delta       = q Δ0 dS                  Δ in units of the underlying
    gamma       = ½ q Γ0 dS²               Γ per 1 currency unit of spot
    theta       = q Θ0 days                Θ per calendar day (negative for a long option)
    vega        = q ν0 dσ / 0.01           ν per vol point
    unexplained = actual − (delta + gamma + theta + vega)

the Taylor expansion to second order in spot and first order in time and vol. What is left
is unexplained: the cross terms (vanna dS dσ, charm dS dt), volga dσ², and higher orders.
With time and vol fixed it shrinks as dS³; with spot and vol fixed as days²; with spot and
time fixed as dσ². A position in the underlying itself (V = S, Δ = 1 per unit) is explained
by delta exactly.

Trades. A change of holdings Δq bought for cash Δcash (negative when paying; fees included)
earns Δq · V + Δcash against the value V at that moment: the edge of a client trade done
above fair value, or the cost (spread, slippage and fees) of a hedge. Market moves plus trades
add up to the change of the book's value cash + Σ q V, exactly.

    >>> move = explain_move(
    ...     quantity=2.0, value_before=10.0, value_after=14.6, delta=0.5, gamma=0.02,
    ...     theta_per_day=-0.1, vega_per_point=0.2, spot_before=100.0, spot_after=108.0,
    ...     vol_before=0.20, vol_after=0.21, days=1.0,
    ... )
    >>> [round(float(x), 6) for x in (move.delta, move.gamma, move.theta, move.vega)]
    [8.0, 1.28, -0.2, 0.4]
    >>> round(float(move.unexplained), 6)
    -0.28
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["VOL_POINT", "MoveAttribution", "PnlBreakdown", "explain_move", "trade_pnl"]

VOL_POINT = 0.01
"""One volatility point (decimal), the unit of `vega_per_point`."""


@dataclass(frozen=True, slots=True, eq=False)
class MoveAttribution:
    """P&L of a market move per holding (currency), broadcast over the inputs' shape."""

    delta: NDArray[np.float64]
    gamma: NDArray[np.float64]
    theta: NDArray[np.float64]
    vega: NDArray[np.float64]
    actual: NDArray[np.float64]
    """The exact change of value, q (V1 − V0)."""

    @property
    def explained(self) -> NDArray[np.float64]:
        """delta + gamma + theta + vega."""
        return self.delta + self.gamma + self.theta + self.vega

    @property
    def unexplained(self) -> NDArray[np.float64]:
        """actual − explained: the cross and higher-order terms."""
        return self.actual - self.explained

    def breakdown(self) -> PnlBreakdown:
        """The move summed over holdings, as a `PnlBreakdown` (no trades)."""
        return PnlBreakdown(
            delta=float(np.sum(self.delta)),
            gamma=float(np.sum(self.gamma)),
            theta=float(np.sum(self.theta)),
            vega=float(np.sum(self.vega)),
            unexplained=float(np.sum(self.unexplained)),
        )


def _finite(name: str, value: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


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
) -> MoveAttribution:
    """Attribute the move of each holding (see the module doc).

    quantity: units held through the move (signed); value_*: value per unit before and after
    (currency); delta, gamma, theta_per_day, vega_per_point: greeks per unit at the start (the
    units of `hedgemesh.quant.bsm`, times the multiplier); spot_*: the underlying (currency);
    vol_*: implied vol (decimal; anything, e.g. 0, for the underlying, whose vega is 0);
    days: calendar days the move took (≥ 0). All broadcast together; non-finite inputs or
    negative days raise ValueError.
    """
    q = _finite("quantity", quantity)
    d_value = _finite("value_after", value_after) - _finite("value_before", value_before)
    d_spot = _finite("spot_after", spot_after) - _finite("spot_before", spot_before)
    d_vol = _finite("vol_after", vol_after) - _finite("vol_before", vol_before)
    elapsed = _finite("days", days)
    if np.any(elapsed < 0):
        raise ValueError("days must be >= 0: a move cannot go back in time")
    return MoveAttribution(
        delta=q * _finite("delta", delta) * d_spot,
        gamma=0.5 * q * _finite("gamma", gamma) * d_spot * d_spot,
        theta=q * _finite("theta_per_day", theta_per_day) * elapsed,
        vega=q * _finite("vega_per_point", vega_per_point) * (d_vol / VOL_POINT),
        actual=q * d_value,
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
    """P&L by source (currency); `total` is their sum. Add breakdowns with `+`.

    delta, gamma, theta, vega: explained by the greeks; transaction_costs: the P&L of hedge
    fills against fair value (spread, slippage and fees; usually negative); new_trades: the P&L
    of other trades (client trades) against fair value; unexplained: what the greeks leave.
    """

    delta: float = 0.0
    gamma: float = 0.0
    theta: float = 0.0
    vega: float = 0.0
    transaction_costs: float = 0.0
    new_trades: float = 0.0
    unexplained: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))

    def __add__(self, other: PnlBreakdown) -> PnlBreakdown:
        if not isinstance(other, PnlBreakdown):
            return NotImplemented
        return PnlBreakdown(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))
