"""Policies that hedge with listed options as well: delta–gamma with one option (fully,
partially, or inside a gamma no-trade band) and delta–gamma–vega with two.

The option holdings are chosen first, from the book's greeks (hedges excluded) and the options'
greeks per unit; the underlying then makes the whole delta-neutral. Which options are used is
each policy's `HedgeOption` (maturity and moneyness, rolled or held; see
`hedgemesh.policies.instruments`). Formulas: docs/policies.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from hedgemesh.policies.base import (
    Policy,
    decided,
    delta_neutral_underlying,
    fraction,
    interval_due,
    non_negative,
    with_underlying,
)
from hedgemesh.policies.instruments import HedgeOption
from hedgemesh.policies.state import Array, Decision, HedgeState

__all__ = [
    "MIN_GAMMA_TIMES_SPOT",
    "MIN_VEGA_OVER_SPOT",
    "SINGULAR_TOLERANCE",
    "DeltaGamma",
    "DeltaGammaVega",
    "DeltaVega",
]

MIN_GAMMA_TIMES_SPOT = 1e-3
"""A hedge option whose gamma per unit times spot (dimensionless) is below this (far out of
the money or about to expire) is not traded: its holding is kept, not divided by ~0."""

MIN_VEGA_OVER_SPOT = 1e-6
"""Likewise for vega: a hedge option whose vega per vol point per unit over spot is below this
is not traded."""

SINGULAR_TOLERANCE = 0.05
"""The 2×2 gamma–vega system counts as singular when |det| ≤ this × (|g1 v2| + |g2 v1|): the
two options are (nearly) the same risk, and solving would give huge offsetting holdings; the
option holdings are then kept. Under Black–Scholes the ratio |det| / (|g1 v2| + |g2 v1|) is
(τ2 − τ1)/(τ2 + τ1) for lives τ1 < τ2 whatever the strikes, so 0.05 asks the longer option to
live at least 10.5 % longer than the shorter."""


def _with_delta(state: HedgeState, options: Array, fired: NDArray[np.bool_]) -> Decision:
    """``options`` (n, k) holdings in columns 1.., the underlying made delta-neutral."""
    under = delta_neutral_underlying(state, options, state.book.delta)
    return decided(state, with_underlying(state, options, under), fired)


def _usable(gamma: Array, spot: Array) -> NDArray[np.bool_]:
    return np.abs(gamma * spot) >= MIN_GAMMA_TIMES_SPOT


@dataclass(frozen=True, kw_only=True)
class DeltaGamma(Policy):
    """Delta–gamma with one listed option (``hedge``), every ``interval_days`` (0: each
    decision).

    Without a band: hold h = −f · Γ_book / Γ_option options (``fraction`` f = 1: gamma-neutral;
    0.5: half the gamma). With ``gamma_band`` b (units of the underlying per currency unit):
    trade options only when the net gamma Γ_book + h Γ_option leaves [−b, b], and then only
    back to the nearest edge. Then the underlying makes the delta zero.
    """

    kind: ClassVar[str] = "delta_gamma"
    hedge: HedgeOption = field(default_factory=HedgeOption)
    fraction: float = 1.0
    gamma_band: float | None = None
    interval_days: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        fraction(self.kind, "fraction", self.fraction)
        non_negative(self.kind, "interval_days", self.interval_days)
        if self.gamma_band is not None:
            non_negative(self.kind, "gamma_band", self.gamma_band)
            if self.fraction != 1.0:
                raise ValueError(f"{self.kind}: give a gamma_band or a fraction, not both")
        if not isinstance(self.hedge, HedgeOption):
            raise TypeError(f"{self.kind}: hedge must be a HedgeOption")

    @property
    def trigger(self) -> str:
        return "timer" if self.gamma_band is None else "band_breach"

    @property
    def hedge_options(self) -> tuple[HedgeOption, ...]:
        return (self.hedge,)

    def _greek(self, state: HedgeState) -> tuple[Array, Array, NDArray[np.bool_]]:
        """The greek neutralised: the book's (n,), the option's per unit (n,), usable (n,)."""
        g = state.instruments.gamma[:, 1]
        return state.book.gamma, g, _usable(g, state.spot)

    def decide(self, state: HedgeState) -> Decision:
        self.check(state)
        fired = interval_due(state, self.interval_days)
        book, g, usable = self._greek(state)
        held = state.holdings[:, 1]
        safe_g = np.where(usable, g, 1.0)
        if self.gamma_band is None:
            wanted = -self.fraction * book / safe_g
        else:
            net = book + held * g
            edge = np.clip(net, -self.gamma_band, self.gamma_band)
            wanted = held - (net - edge) / safe_g
        options = state.holdings.copy()
        options[:, 1] = np.where(usable, wanted, held)
        return _with_delta(state, options, fired)


@dataclass(frozen=True, kw_only=True)
class DeltaVega(DeltaGamma):
    """Delta–vega with one listed option: as `DeltaGamma` with vega (per vol point) in place of
    gamma: h = −f · V_book / V_option, or a band of ``gamma_band`` currency per vol point on the
    net vega. Then the underlying makes the delta zero."""

    kind: ClassVar[str] = "delta_vega"

    def _greek(self, state: HedgeState) -> tuple[Array, Array, NDArray[np.bool_]]:
        v = state.instruments.vega[:, 1]
        return state.book.vega, v, np.abs(v) >= MIN_VEGA_OVER_SPOT * state.spot


def _two_options() -> tuple[HedgeOption, HedgeOption]:
    """A 30-day option, and a 90-day one renewed every 30 days (so it keeps 60 to 90 days, never
    drifting into the other's maturity, where the system is singular)."""
    return HedgeOption(tenor_days=30.0), HedgeOption(tenor_days=90.0, roll_days=30.0)


@dataclass(frozen=True, kw_only=True)
class DeltaGammaVega(Policy):
    """Delta–gamma–vega with two listed options (``hedges``), every ``interval_days``.

    Per path, solve [[g1, g2], [v1, v2]] · [h1, h2] = −[Γ_book, V_book] (g, v: gamma and vega
    per vol point per unit of each option) in closed form; where the system is singular (see
    `SINGULAR_TOLERANCE`) or an option has next to no gamma (`MIN_GAMMA_TIMES_SPOT`) keep the
    option holdings. Then the underlying makes the delta zero.
    """

    kind: ClassVar[str] = "delta_gamma_vega"
    hedges: tuple[HedgeOption, HedgeOption] = field(default_factory=_two_options)
    interval_days: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        non_negative(self.kind, "interval_days", self.interval_days)
        if len(self.hedges) != 2 or not all(isinstance(h, HedgeOption) for h in self.hedges):
            raise ValueError(f"{self.kind}: hedges must be two HedgeOption")

    @property
    def hedge_options(self) -> tuple[HedgeOption, ...]:
        return tuple(self.hedges)

    def decide(self, state: HedgeState) -> Decision:
        self.check(state)
        fired = interval_due(state, self.interval_days)
        g1, g2 = state.instruments.gamma[:, 1], state.instruments.gamma[:, 2]
        v1, v2 = state.instruments.vega[:, 1], state.instruments.vega[:, 2]
        gb, vb = state.book.gamma, state.book.vega
        det = g1 * v2 - g2 * v1
        scale = np.abs(g1 * v2) + np.abs(g2 * v1)
        usable = _usable(g1, state.spot) & _usable(g2, state.spot)
        solvable = usable & (np.abs(det) > SINGULAR_TOLERANCE * scale) & np.isfinite(det)
        safe = np.where(solvable, det, 1.0)
        options = state.holdings.copy()
        options[:, 1] = np.where(solvable, (vb * g2 - gb * v2) / safe, options[:, 1])
        options[:, 2] = np.where(solvable, (gb * v1 - vb * g1) / safe, options[:, 2])
        return _with_delta(state, options, fired)
