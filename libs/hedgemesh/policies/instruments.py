"""Which listed option a policy hedges with: chosen by maturity and moneyness, and when to roll.

A `HedgeOption` says "the 30-day at-the-money call, re-chosen every day" (or "the 90-day, held
until a day before expiry"). The same three functions serve both halves:

- `select(spec, spot, time)`: the strike and expiry of a fresh choice (the backtester's listed
  options are synthetic: any strike and expiry, or strikes on a grid of `strike_step`);
- `roll_due(spec, selected_at, expiry, time)`: whether the option held must be replaced;
- `select_listed(spec, spot, time, strikes, expiries)`: the live agent's choice from the
  listed chain (the nearest listed expiry, then the nearest strike on it).

When a roll is due, the option held is closed (sold back at its price) and the new one opened
from zero: the backtester does it in `hedgemesh.backtest.engine`, the live adapter in
`hedgemesh.policies.live` (its ``closing`` hedges).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hedgemesh.policies.state import finite, years

__all__ = ["TIME_TOLERANCE", "HedgeOption", "roll_due", "select", "select_listed"]

TIME_TOLERANCE = 1e-9
"""Years (about 0.03 s): two times closer than this are the same time (clock rounding)."""


@dataclass(frozen=True, kw_only=True)
class HedgeOption:
    """A listed option to hedge with, chosen by maturity and moneyness.

    tenor_days: calendar days to expiry when chosen (30: a 30-day option). moneyness: strike /
    spot when chosen (1.0: at the money). is_call: call or put. roll_days: days after which a
    fresh option is chosen (1.0: rolled daily; None: held until min_life_days before expiry).
    min_life_days: the option is replaced once its remaining life falls to this (an option
    about to expire has its gamma in a spike or gone). max_drift: the option is replaced once
    spot has left its strike by more than this many standard deviations of its remaining life,
    |ln(S/K)| > max_drift · σ √τ (default 1: a call's delta outside about [0.16, 0.84]; None:
    never), before its gamma fades away. strike_step: listed strike spacing (currency; 0: any
    strike). ladder: a fresh option is chosen at every decision and what was bought before is
    never sold back but held to its expiry (a ladder of freshly struck options, as in Cao et
    al.'s benchmark): the policy sees the fresh option with a holding of 0 and the earlier rungs
    in the book's exposure (roll_days, min_life_days and max_drift do not apply).
    """

    tenor_days: float = 30.0
    moneyness: float = 1.0
    is_call: bool = True
    roll_days: float | None = None
    min_life_days: float = 7.0
    max_drift: float | None = 1.0
    strike_step: float = 0.0
    ladder: bool = False

    def __post_init__(self) -> None:
        owner = "HedgeOption"
        finite(owner, "tenor_days", self.tenor_days, low=0.0, strict=True)
        finite(owner, "moneyness", self.moneyness, low=0.0, strict=True)
        finite(owner, "min_life_days", self.min_life_days, low=0.0)
        finite(owner, "strike_step", self.strike_step, low=0.0)
        if self.roll_days is not None:
            finite(owner, "roll_days", self.roll_days, low=0.0, strict=True)
        if self.max_drift is not None:
            finite(owner, "max_drift", self.max_drift, low=0.0, strict=True)
        if self.min_life_days >= self.tenor_days:
            raise ValueError("HedgeOption: min_life_days must be below tenor_days")
        if self.ladder and self.roll_days is not None:
            raise ValueError(
                "HedgeOption: roll_days does not apply to a ladder (a fresh option every decision)"
            )

    @property
    def label(self) -> str:
        """A short name, e.g. ``30d-100%-C``."""
        kind = "C" if self.is_call else "P"
        ladder = "-ladder" if self.ladder else ""
        return f"{self.tenor_days:g}d-{100 * self.moneyness:g}%-{kind}{ladder}"


def select(spec: HedgeOption, spot: ArrayLike, time: float) -> tuple[NDArray, NDArray]:
    """(strike, expiry) of a fresh choice per path: strike = moneyness · spot (on the strike
    grid if any, never below one step), expiry = time + tenor (years)."""
    s = np.asarray(spot, dtype=np.float64)
    strike = spec.moneyness * s
    if spec.strike_step > 0.0:
        strike = np.maximum(np.round(strike / spec.strike_step), 1.0) * spec.strike_step
    return strike, np.full(s.shape, time + years(spec.tenor_days))


def roll_due(
    spec: HedgeOption,
    selected_at: ArrayLike,
    expiry: ArrayLike,
    time: float,
    spot: ArrayLike | None = None,
    strike: ArrayLike | None = None,
    vol: ArrayLike | None = None,
) -> NDArray[np.bool_]:
    """Whether the option held (chosen at ``selected_at``, expiring at ``expiry``, years; of
    ``strike``, marked at ``vol``) must be replaced at ``time`` and ``spot``: never chosen
    (NaN), its roll period is over, its remaining life is down to ``min_life_days``, or spot
    has drifted from its strike by more than ``max_drift`` standard deviations (spot, strike
    and vol are needed then). A ladder is due at every decision."""
    chosen = np.asarray(selected_at, dtype=np.float64)
    life = np.asarray(expiry, dtype=np.float64) - time
    if spec.ladder:
        return np.ones(np.broadcast_shapes(chosen.shape, life.shape), dtype=bool)
    due = np.isnan(chosen) | (life <= years(spec.min_life_days) + TIME_TOLERANCE)
    if spec.roll_days is not None:
        due |= time - chosen >= years(spec.roll_days) - TIME_TOLERANCE
    if spec.max_drift is not None:
        if spot is None or strike is None or vol is None:
            raise ValueError("roll_due: a HedgeOption with max_drift needs spot, strike and vol")
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.asarray(spot, dtype=np.float64) / np.asarray(strike, dtype=np.float64)
            log_moneyness = np.abs(np.log(ratio))
            sd = np.asarray(vol, dtype=np.float64) * np.sqrt(np.maximum(life, 0.0))
        due |= ~np.isnan(chosen) & (log_moneyness > spec.max_drift * sd)
    return due


def select_listed(
    spec: HedgeOption, spot: float, time: float, strikes: ArrayLike, expiries: ArrayLike
) -> int:
    """Index of the listed option (arrays of strikes and expiry times in years, one per option,
    calls and puts of the wanted kind only) nearest to the spec: among the options with more
    than ``min_life_days`` to live, the expiry nearest to time + tenor, then on it the strike
    nearest to moneyness · spot (the lower one on a tie). Raises ValueError when none lives
    long enough."""
    k = np.asarray(strikes, dtype=np.float64)
    t = np.asarray(expiries, dtype=np.float64)
    alive = t - time > years(spec.min_life_days) + TIME_TOLERANCE
    if k.shape != t.shape or k.ndim != 1:
        raise ValueError("strikes and expiries must be 1-d arrays of the same length")
    if not alive.any():
        raise ValueError("no listed option lives longer than min_life_days")
    target_t = time + years(spec.tenor_days)
    gap_t = np.where(alive, np.abs(t - target_t), np.inf)
    best_t = t[np.argmin(gap_t)]
    gap_k = np.where(alive & (t == best_t), np.abs(k - spec.moneyness * spot), np.inf)
    order = np.lexsort((k, gap_k))
    return int(order[0])
