"""Policies that hedge with the underlying alone: no hedge, delta on a timer, on a price move,
in a fixed band, in the Whalley–Wilmott and Zakamouline bands, at Leland's adjusted vol, and
portfolio insurance (replicating a protective put with stock and cash).

Each returns target holdings of the underlying (instrument column 0). "Delta-neutral" means
underlying = −(book delta); a band policy leaves the holding alone inside its band and, outside,
trades only back to the nearest edge. Formulas, units and references: docs/policies.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hedgemesh.policies.base import (
    Policy,
    book_delta_at,
    decided,
    delta_neutral_underlying,
    interval_due,
    into_band,
    non_negative,
    positive,
    require_options,
    scaled_vol,
    short_gamma_sign,
    with_underlying,
)
from hedgemesh.policies.state import Array, Decision, HedgeState, years

__all__ = [
    "DeltaBand",
    "DeltaInterval",
    "DeltaMove",
    "Leland",
    "NoHedge",
    "PortfolioInsurance",
    "WhalleyWilmott",
    "Zakamouline",
]

_FLOOR = 1e-8
"""Floor of vol and of years to the horizon in the band formulas (they divide by both)."""


def _band_decision(state: HedgeState, centre: Array, half_width: Array) -> Decision:
    """Keep the underlying in [centre − h, centre + h], moving only to the nearest edge."""
    held = state.holdings[:, 0]
    new, moved = into_band(held, centre, half_width)
    return decided(state, with_underlying(state, state.holdings, new), moved)


def _delta_decision(state: HedgeState, book_delta: Array, fired: np.ndarray) -> Decision:
    """Delta-neutral against ``book_delta`` on the paths where ``fired``."""
    target = with_underlying(
        state, state.holdings, delta_neutral_underlying(state, state.holdings, book_delta)
    )
    return decided(state, target, fired)


@dataclass(frozen=True, kw_only=True)
class NoHedge(Policy):
    """Never trade: the unhedged book, the baseline of every comparison."""

    kind: ClassVar[str] = "no_hedge"

    def decide(self, state: HedgeState) -> Decision:
        self.check(state)
        return decided(state, state.holdings, np.zeros(state.n, dtype=bool))


@dataclass(frozen=True, kw_only=True)
class DeltaInterval(Policy):
    """Delta-neutral every ``interval_days`` calendar days (0: at every decision), with the
    book's delta at market vols, or at the fixed ``vol`` when given (a hedger's own vol)."""

    kind: ClassVar[str] = "delta_interval"
    interval_days: float = 0.0
    vol: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        non_negative(self.kind, "interval_days", self.interval_days)
        if self.vol is not None:
            non_negative(self.kind, "vol", self.vol)

    def _book_delta(self, state: HedgeState) -> Array:
        if self.vol is None:
            return state.book.delta
        require_options(self, state)
        return book_delta_at(state, np.full(1, self.vol))

    def decide(self, state: HedgeState) -> Decision:
        self.check(state)
        fired = interval_due(state, self.interval_days)
        return _delta_decision(state, self._book_delta(state), fired)


@dataclass(frozen=True, kw_only=True)
class DeltaMove(Policy):
    """Delta-neutral whenever spot has moved by ``threshold`` (relative, 0.01 = 1 %) or more
    since the last rebalance (and at the first decision)."""

    kind: ClassVar[str] = "delta_move"
    threshold: float = 0.01

    @property
    def trigger(self) -> str:
        return "price_move"

    def __post_init__(self) -> None:
        super().__post_init__()
        non_negative(self.kind, "threshold", self.threshold)

    def decide(self, state: HedgeState) -> Decision:
        self.check(state)
        last = state.memory.last_spot
        with np.errstate(invalid="ignore", divide="ignore"):
            moved = np.abs(state.spot / last - 1.0) >= self.threshold
        return _delta_decision(state, state.book.delta, np.isnan(last) | moved)


@dataclass(frozen=True, kw_only=True)
class DeltaBand(Policy):
    """Keep the net delta within ±``half_width`` units of the underlying; outside, trade back
    to the nearest edge of the band (not to zero)."""

    kind: ClassVar[str] = "delta_band"
    band_policy: ClassVar[bool] = True
    half_width: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        non_negative(self.kind, "half_width", self.half_width)

    def decide(self, state: HedgeState) -> Decision:
        self.check(state)
        centre = delta_neutral_underlying(state, state.holdings, state.book.delta)
        return _band_decision(state, centre, np.full(state.n, self.half_width))


def whalley_wilmott_half_width(
    state: HedgeState, cost: float, risk_aversion: float, gamma: Array
) -> Array:
    """H = (3/2 · e^{−r τ} · λ S Γ² / γ)^{1/3} in units of the underlying, τ the book's horizon."""
    discount = np.exp(-state.rate * state.horizon)
    return np.cbrt(1.5 * discount * cost * state.spot * np.square(gamma) / risk_aversion)


@dataclass(frozen=True, kw_only=True)
class _UtilityBand(Policy):
    """A band from a utility-based analysis: λ (``cost``), the proportional cost of trading the
    underlying, one way, and γ (``risk_aversion``), absolute risk aversion per currency unit."""

    band_policy: ClassVar[bool] = True
    cost: float = 0.001
    risk_aversion: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        non_negative(self.kind, "cost", self.cost)
        positive(self.kind, "risk_aversion", self.risk_aversion)


@dataclass(frozen=True, kw_only=True)
class WhalleyWilmott(_UtilityBand):
    """Whalley–Wilmott's asymptotic no-trade band around the Black–Scholes delta.

    H = (3/2 · e^{−r(T−t)} · λ S Γ² / γ)^{1/3} units of the underlying, with λ (``cost``) the
    proportional cost of trading the underlying (0.001 = 10 bp of notional, one way), γ
    (``risk_aversion``) the hedger's absolute risk aversion (exponential utility, per currency
    unit), Γ the book's gamma (units per currency unit), S spot and T − t the book's horizon.
    Whalley & Wilmott, Mathematical Finance 7(3), 1997, 307–324.
    """

    kind: ClassVar[str] = "whalley_wilmott"

    def decide(self, state: HedgeState) -> Decision:
        self.check(state)
        centre = delta_neutral_underlying(state, state.holdings, state.book.delta)
        net_gamma = state.net().gamma
        h = whalley_wilmott_half_width(state, self.cost, self.risk_aversion, net_gamma)
        return _band_decision(state, centre, h)


@dataclass(frozen=True)
class ZakamoulineBand:
    """Zakamouline's band per path: the variance factor of the modified vol and the half-width
    H0 + H1 (units of the underlying)."""

    variance_factor: Array
    half_width: Array


def zakamouline_band(state: HedgeState, cost: float, risk_aversion: float) -> ZakamoulineBand:
    """Zakamouline (2006) with λ = cost, γ = risk aversion, σ the reference vol, τ the horizon:

    H0 = λ / (γ S σ² τ);  H1 = 1.12 λ^0.31 τ^0.05 (e^{−rτ}/σ)^0.25 (|Γ|/γ)^0.5;
    K = −4.76 λ^0.78 τ^−0.02 (e^{−rτ}/σ)^0.25 (γ S² |Γ|)^0.15;  σ_m² = σ² (1 − s K),

    s = +1 for a short-gamma book (σ_m > σ), −1 for a long one. σ and τ are floored at 1e-8.
    """
    sigma = np.maximum(state.vol, _FLOOR)
    tau = np.maximum(state.horizon, _FLOOR)
    s = state.spot
    gamma = np.abs(state.book.gamma)
    lam, g = cost, risk_aversion
    carry = (np.exp(-state.rate * tau) / sigma) ** 0.25
    h0 = lam / (g * s * sigma * sigma * tau)
    h1 = 1.12 * lam**0.31 * tau**0.05 * carry * np.sqrt(gamma / g)
    k = -4.76 * lam**0.78 * tau**-0.02 * carry * (g * s * s * gamma) ** 0.15
    return ZakamoulineBand(1.0 - short_gamma_sign(state) * k, h0 + h1)


@dataclass(frozen=True, kw_only=True)
class Zakamouline(_UtilityBand):
    """Zakamouline's regression-based approximation of the utility-optimal band: the band
    ±(H0 + H1) around the delta at a modified vol σ_m (formulas in `zakamouline_band`).

    λ (``cost``): proportional cost of the underlying, one way; γ (``risk_aversion``): absolute
    risk aversion per currency unit. V. I. Zakamouline, "Efficient analytic approximation of
    the optimal hedging strategy for a European call option with transaction costs",
    Quantitative Finance 6(5), 2006, 435–445.
    """

    kind: ClassVar[str] = "zakamouline"

    def decide(self, state: HedgeState) -> Decision:
        self.check(state)
        require_options(self, state)
        band = zakamouline_band(state, self.cost, self.risk_aversion)
        if state.book_options is None:
            book_delta = state.book.delta
        else:
            book_delta = book_delta_at(state, scaled_vol(state, band.variance_factor))
        centre = delta_neutral_underlying(state, state.holdings, book_delta)
        return _band_decision(state, centre, band.half_width)


def leland_variance_factor(state: HedgeState, round_trip_cost: float, interval_days: float):
    """1 + s √(2/π) k / (σ_i √δt) per book option (n, m): σ̃² = σ² times this (s as in
    `short_gamma_sign`; σ_i = 0 gives 1)."""
    assert state.book_options is not None
    opts = state.book_options
    sigma = np.broadcast_to(opts.vol, np.broadcast_shapes(opts.vol.shape, opts.quantity.shape))
    number = math.sqrt(2.0 / math.pi) * round_trip_cost / math.sqrt(years(interval_days))
    with np.errstate(divide="ignore"):
        le = np.where(sigma > 0.0, number / sigma, 0.0)
    return 1.0 + short_gamma_sign(state)[:, None] * le


@dataclass(frozen=True, kw_only=True)
class Leland(Policy):
    """Delta-neutral every ``interval_days`` at Leland's adjusted vol,
    σ̃² = σ² (1 + s √(2/π) · k / (σ √δt)), k (``round_trip_cost``) the round-trip proportional
    cost (twice the one-way rate), δt the interval in years, s = +1 for a short-gamma book
    (σ̃ > σ) and −1 for a long one. H. E. Leland, "Option pricing and replication with
    transactions costs", Journal of Finance 40(5), 1985, 1283–1301.
    """

    kind: ClassVar[str] = "leland"
    round_trip_cost: float = 0.002
    interval_days: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        non_negative(self.kind, "round_trip_cost", self.round_trip_cost)
        positive(self.kind, "interval_days", self.interval_days)

    def decide(self, state: HedgeState) -> Decision:
        self.check(state)
        require_options(self, state)
        fired = interval_due(state, self.interval_days)
        if state.book_options is None:
            return _delta_decision(state, state.book.delta, fired)
        factor = leland_variance_factor(state, self.round_trip_cost, self.interval_days)
        return _delta_decision(state, book_delta_at(state, scaled_vol(state, factor)), fired)


@dataclass(frozen=True, kw_only=True)
class PortfolioInsurance(DeltaInterval):
    """Replicate a protective put on a stock portfolio with stock and cash.

    The book is the insured portfolio the replication must deliver (`hedgemesh.backtest.books
    .insured_portfolio`: short the shares and short the puts), so its delta is −N (1 + Δ_put):
    every ``interval_days`` (default daily) the policy holds N (1 + Δ_put) shares, valued at
    the replication ``vol`` (None: market vols), never short (a stock-and-cash replication
    cannot be), and the rest in cash. Its shortfall when the market gaps is the engine's −P&L.
    """

    kind: ClassVar[str] = "portfolio_insurance"
    interval_days: float = 1.0

    def decide(self, state: HedgeState) -> Decision:
        self.check(state)
        fired = interval_due(state, self.interval_days)
        stock = np.maximum(-self._book_delta(state), 0.0)
        return decided(state, with_underlying(state, state.holdings, stock), fired)
