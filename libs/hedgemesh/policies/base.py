"""What every policy shares: the `Policy` base (a frozen, validated config with a `name` that
decides), and the small pieces of decision logic several policies use (one place each)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from hedgemesh.policies.instruments import TIME_TOLERANCE, HedgeOption
from hedgemesh.policies.state import Array, Decision, HedgeState, finite, years

__all__ = ["Policy"]


@dataclass(frozen=True, kw_only=True)
class Policy:
    """A hedge policy: its parameters (validated on construction) and `decide`.

    kind: the registry key (`hedgemesh.policies.POLICIES`). name: a label for tables and plots
    (defaults to the kind). trigger: why it trades, for the live agents' proposals
    (``band_breach``, ``price_move`` or ``timer``, as `hedgemesh.wire.HedgeTrigger`).
    hedge_options: the listed options it hedges with, instrument columns 1.. of the state.
    """

    kind: ClassVar[str] = ""
    band_policy: ClassVar[bool] = False
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.kind)

    @property
    def trigger(self) -> str:
        """``band_breach`` for a band policy, else ``timer`` (`DeltaMove`: ``price_move``)."""
        return "band_breach" if self.band_policy else "timer"

    @property
    def hedge_options(self) -> tuple[HedgeOption, ...]:
        return ()

    @property
    def n_instruments(self) -> int:
        """Hedge instrument columns: the underlying and the hedge options."""
        return 1 + len(self.hedge_options)

    def decide(self, state: HedgeState) -> Decision:
        raise NotImplementedError

    def check(self, state: HedgeState) -> None:
        """Raise ValueError when the state's instrument columns do not fit this policy."""
        if state.k != self.n_instruments:
            raise ValueError(
                f"{self.name}: needs {self.n_instruments} hedge instrument column(s), "
                f"the state has {state.k}"
            )


def interval_due(state: HedgeState, interval_days: float) -> NDArray[np.bool_]:
    """Paths whose last rebalance is ``interval_days`` or more ago, or never happened."""
    last = state.memory.last_time
    if interval_days <= 0.0:
        return np.ones(state.n, dtype=bool)
    elapsed = state.time - last
    return np.isnan(last) | (elapsed >= years(interval_days) - TIME_TOLERANCE)


def with_underlying(state: HedgeState, target: Array, underlying: Array) -> Array:
    """``target`` (n, k) with column 0 replaced by ``underlying`` (a new array)."""
    out = target.copy()
    out[:, 0] = underlying
    return out


def delta_neutral_underlying(state: HedgeState, option_holdings: Array, book_delta: Array) -> Array:
    """Units of the underlying that make book + hedge options + underlying delta-neutral, with
    ``option_holdings`` (n, k) in columns 1.. (column 0 is ignored) and the book's delta
    ``book_delta`` (n,) (at market vols, or at an adjusted vol)."""
    options_delta = np.einsum("nk,nk->n", option_holdings[:, 1:], state.instruments.delta[:, 1:])
    return -(book_delta + options_delta)


def into_band(held: Array, centre: Array, half_width: Array) -> tuple[Array, NDArray[np.bool_]]:
    """Move ``held`` into [centre − half_width, centre + half_width], to the nearest edge only
    when outside (inside: unchanged). Returns (new holdings, the paths that moved)."""
    low = centre - half_width
    high = centre + half_width
    moved = (held < low) | (held > high)
    return np.where(held < low, low, np.where(held > high, high, held)), moved


def decided(state: HedgeState, target: Array, fired: NDArray[np.bool_]) -> Decision:
    """A Decision that keeps the current holdings on the paths where the trigger did not fire."""
    keep = state.holdings
    return Decision(
        target=np.where(fired[:, None], target, keep), rebalance=fired, holdings=state.holdings
    )


def short_gamma_sign(state: HedgeState) -> Array:
    """+1 where the book is short gamma (a hedger who buys high and sells low: the cost adds
    to the variance), −1 where it is long, per path (0 gamma counts as short)."""
    return np.where(state.book.gamma > 0.0, -1.0, 1.0)


def require_options(policy: Policy, state: HedgeState) -> None:
    if state.book_options is None and np.any(state.book.gamma != 0.0):
        raise ValueError(f"{policy.name}: needs the book's options (state.book_options)")


def book_delta_at(state: HedgeState, vol: Array) -> Array:
    """The book's delta with its options valued at ``vol`` (broadcastable to their (n, m)
    shape) instead of their marks: the repricing policies (Leland, Zakamouline, a fixed
    replication vol) hedge towards it."""
    if state.book_options is None:
        return state.book_underlying.copy()
    opts = state.book_options
    return state.book_underlying + opts.delta(state.spot, state.rate, state.div, vol)


def scaled_vol(state: HedgeState, variance_factor: Array) -> Array:
    """Every book option's vol with its variance scaled: σ_i √max(factor, 0), factor of shape
    (n,) or (n, m). Needs the book's options."""
    assert state.book_options is not None
    factor = np.maximum(variance_factor, 0.0)
    if factor.ndim == 1:
        factor = factor[:, None]
    return state.book_options.vol * np.sqrt(factor)


def positive(owner: str, name: str, value: float) -> float:
    return finite(owner, name, value, low=0.0, strict=True)


def non_negative(owner: str, name: str, value: float) -> float:
    return finite(owner, name, value, low=0.0)


def fraction(owner: str, name: str, value: float) -> float:
    v = finite(owner, name, value, low=0.0)
    if v > 1.0 or math.isnan(v):
        raise ValueError(f"{owner}: {name} must lie in [0, 1], got {value!r}")
    return v
