"""Which listed options to trade for a wanted change of one greek, and what it costs: pure.

A policy says how much of a greek to add (the gamma-agent: `DeltaGamma` with a gamma band;
the vega-agent: a band per expiry bucket, `vega_bucket_changes`); this module says with which
listed options, in whole contracts, at the lowest expected cost. The live agents call it; the
backtester can call it on the same arrays.

Eligibility (`eligible`): an option qualifies when its life lies in a tenor window (days) and
it is near the money, |ln(K/F)| ≤ max_sd · σ √τ (within `max_sd` standard deviations of its own
remaining life, so the window is wide for long options and narrow for short ones).

Cost model (`LadderCost`): the expected cost of taking q contracts at once from the venue's
synthetic liquidity ladder (`hedgemesh.venue.liquidity.ladder`, the book execution works
against), plus a fee per contract. Per unit of the underlying, with `scale = (σ/ref_vol)^a ·
drought` (drought = 1 / the surface's `depth_multiplier`):

    half = max(min_half_spread_ticks, fair · half_spread_bp · 1e-4 · scale / tick)   ticks
    step = max(min_level_step_ticks, fair · level_step_bp · 1e-4 · scale / tick)     ticks
    level i (i = 0 … levels − 1): price fair ± (half + i · step) ticks, rounded away from fair
    to the tick; size round(top_size · decay^i · (ref_vol/σ)^b / drought) contracts

`depth(…, within=x)` counts what the levels at most x from fair show (what a limit price x
through fair can take); `still_missing(taken, age)` what a sweep of `taken` contracts `age`
seconds ago still leaves missing (the venue refills with `half_life_s`).

q is taken level by level; what the shown levels cannot fill is priced on further levels of
the last size, each one `step` further out (a conservative stand-in for waiting for depth to
come back). Cost = Σ taken_i · |price_i − fair| · multiplier + fee · q (currency, ≥ 0): the
half-spread at the touch plus the market impact of walking the ladder.

Choice (`allocate`): greedy in whole contracts. While some of the wanted change is left, every
unused eligible option is sized to deliver what is left (rounded to whole contracts, at most
`max_contracts`), costed at that size, and the one with the lowest expected cost per unit of
greek delivered wins (ties: the earlier option). Every leg moves the greek the way wanted
(no leg undoes another's rounding). It stops when no option can deliver a whole contract's
worth towards the target, or at `max_legs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hedgemesh.policies.base import into_band
from hedgemesh.policies.state import finite

if TYPE_CHECKING:
    from hedgemesh.venue.spec import BookSpec

__all__ = ["Allocation", "LadderCost", "allocate", "eligible", "vega_bucket_changes"]

Array = NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class LadderCost:
    """The venue ladder's parameters (`hedgemesh.venue.liquidity.LiquidityParams` for option
    books: basis points of the premium, ticks, contracts) and the fee per contract (currency).
    `LadderCost.of(VENUE.option)`: the venue's option books (`hedgemesh.venue.spec`), the one
    place their figures live."""

    levels: int
    half_spread_bp: float
    min_half_spread_ticks: float
    level_step_bp: float
    min_level_step_ticks: float
    top_size: float
    size_decay: float
    ref_vol: float
    spread_vol_exponent: float
    size_vol_exponent: float
    tick_size: float
    fee_per_contract: float
    half_life_s: float
    """The venue's resilience: half of the depth a sweep took is back after this long (s)."""

    @classmethod
    def of(cls, book: BookSpec, **changes: float) -> LadderCost:
        """The ladder of one kind of the venue's books (its liquidity, tick size and fee per
        contract), with `changes`."""
        names = {f.name for f in fields(cls)} - {"tick_size", "fee_per_contract"}
        values: dict[str, Any] = {name: getattr(book.liquidity, name) for name in names}
        values.update(tick_size=book.tick_size, fee_per_contract=book.fee_per_contract)
        return cls(**{**values, **changes})

    def __post_init__(self) -> None:
        owner = "LadderCost"
        for name in ("half_spread_bp", "min_half_spread_ticks", "level_step_bp", "top_size",
                     "min_level_step_ticks", "ref_vol", "tick_size", "half_life_s"):  # fmt: skip
            finite(owner, name, getattr(self, name), low=0.0, strict=True)
        for name in ("spread_vol_exponent", "size_vol_exponent", "fee_per_contract"):
            finite(owner, name, getattr(self, name), low=0.0)
        if not 0.0 < self.size_decay <= 1.0:
            raise ValueError(f"LadderCost: size_decay must be in (0, 1], got {self.size_decay}")
        if self.levels < 1:
            raise ValueError(f"LadderCost: levels must be >= 1, got {self.levels}")

    def cost(
        self,
        contracts: ArrayLike,
        fair: ArrayLike,
        vol: ArrayLike,
        multiplier: ArrayLike = 100.0,
        drought: float = 1.0,
    ) -> Array:
        """Expected cost (currency, ≥ 0) of buying or selling |contracts| of options worth
        `fair` per unit of the underlying at implied vol `vol` (decimal), all broadcast; see the
        module doc. drought ≥ 1 thins and widens the ladder (1 / depth_multiplier)."""
        return self._walk(contracts, fair, vol, multiplier, drought)[0]

    def worst_price_offset(
        self, contracts: ArrayLike, fair: ArrayLike, vol: ArrayLike, drought: float = 1.0
    ) -> Array:
        """How far from fair (currency per unit, ≥ 0) the last of |contracts| is expected to
        trade: a limit price this far through fair fills the whole quantity on a fresh ladder."""
        return self._walk(contracts, fair, vol, 1.0, drought)[1]

    def depth(
        self,
        fair: ArrayLike,
        vol: ArrayLike,
        drought: float = 1.0,
        within: ArrayLike = np.inf,
    ) -> Array:
        """Contracts the ladder shows on one side when nothing is missing: on every level, or
        only on the levels at most `within` from fair (currency per unit; e.g. how far a limit
        price may go), all broadcast."""
        f = np.asarray(fair, np.float64)
        offset, size, _ = self._levels(f, np.asarray(vol, np.float64), drought)
        reach = np.asarray(within, np.float64)[..., None] / self.tick_size
        return np.where(offset <= reach + 1e-9, size, 0.0).sum(axis=-1)

    def still_missing(self, taken: ArrayLike, age_s: ArrayLike) -> Array:
        """Contracts of `taken` (swept from a ladder `age_s` seconds ago) not back yet: the
        venue refills consumed depth with the half-life, taken · 2^(−age / half_life)."""
        age = np.maximum(np.asarray(age_s, np.float64), 0.0)
        return np.asarray(taken, np.float64) * np.exp2(-age / self.half_life_s)

    def _levels(self, f: Array, v: Array, drought: float) -> tuple[Array, Array, Array]:
        """(offset of each level from fair in ticks, its size in contracts, the step in ticks),
        levels on the last axis, as the venue builds them (see the module doc)."""
        if not (math.isfinite(drought) and drought > 0.0):
            raise ValueError(f"drought must be finite and > 0, got {drought!r}")
        f, v = np.broadcast_arrays(f, v)
        if np.any(~(f >= 0.0)) or np.any(~(v > 0.0)):
            raise ValueError("fair must be >= 0 and vol > 0")
        tick = self.tick_size
        scale = (v / self.ref_vol) ** self.spread_vol_exponent * drought
        half = np.maximum(self.min_half_spread_ticks, f * self.half_spread_bp * 1e-4 * scale / tick)
        step = np.maximum(self.min_level_step_ticks, f * self.level_step_bp * 1e-4 * scale / tick)
        centre = f / tick
        i = np.arange(self.levels)
        # The ask of level i in ticks from fair, rounded as the venue rounds (the bid mirrors
        # it), and its size in whole contracts (round half up; below one: not shown).
        offsets = np.round(half[..., None] + i * step[..., None], 9)
        offset = np.ceil(np.round(centre[..., None] + offsets, 9)) - centre[..., None]
        top = self.top_size * (self.ref_vol / v) ** self.size_vol_exponent / drought
        size = np.floor(np.round(top[..., None] * self.size_decay**i, 9) + 0.5)
        return offset, size, step

    def _walk(
        self,
        contracts: ArrayLike,
        fair: ArrayLike,
        vol: ArrayLike,
        multiplier: ArrayLike,
        drought: float,
    ) -> tuple[Array, Array]:
        q, f, v, m = np.broadcast_arrays(
            np.abs(np.asarray(contracts, np.float64)),
            np.asarray(fair, np.float64),
            np.asarray(vol, np.float64),
            np.asarray(multiplier, np.float64),
        )
        if not np.all(np.isfinite(q)):
            raise ValueError("contracts must be finite")
        offset, size, step = self._levels(f, v, drought)
        tick = self.tick_size
        depth_before = np.cumsum(size, axis=-1) - size
        taken = np.clip(q[..., None] - depth_before, 0.0, size)
        ticks = (taken * offset).sum(axis=-1)
        # Beyond the shown depth: levels of the last size (at least one), `step` further each.
        rest = np.maximum(q - size.sum(axis=-1), 0.0)
        last = np.maximum(size[..., -1], 1.0)
        full = np.floor(rest / last)
        part = rest - full * last
        last_offset = offset[..., -1]
        ticks += last * (full * last_offset + step * full * (full + 1.0) / 2.0)
        ticks += part * (last_offset + (full + 1.0) * step)
        shown = np.where(taken > 0.0, offset, 0.0).max(axis=-1, initial=0.0)
        beyond = last_offset + np.ceil(rest / last) * step
        worst = np.where(rest > 0.0, beyond, shown) * tick
        return ticks * tick * m + self.fee_per_contract * q, worst


def eligible(
    strike: ArrayLike,
    forward: ArrayLike,
    vol: ArrayLike,
    tau_days: ArrayLike,
    *,
    min_days: float,
    max_days: float,
    max_sd: float,
) -> NDArray[np.bool_]:
    """Options with min_days ≤ life ≤ max_days (calendar days) that are within `max_sd`
    standard deviations of the money: |ln(K/F)| ≤ max_sd · σ · √(τ years)."""
    k = np.asarray(strike, np.float64)
    days = np.asarray(tau_days, np.float64)
    sd = np.asarray(vol, np.float64) * np.sqrt(np.maximum(days, 0.0) / 365.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        moneyness = np.abs(np.log(k / np.asarray(forward, np.float64)))
    return (days >= min_days) & (days <= max_days) & (moneyness <= max_sd * sd)


@dataclass(frozen=True, slots=True)
class Allocation:
    """Legs chosen by `allocate`: option indices, signed whole contracts (+ buys), what each
    delivers of the greek, and its expected cost (currency)."""

    index: tuple[int, ...]
    contracts: tuple[int, ...]
    delivered: tuple[float, ...]
    cost: tuple[float, ...]

    @property
    def total_delivered(self) -> float:
        return float(sum(self.delivered))

    @property
    def total_cost(self) -> float:
        return float(sum(self.cost))

    def __len__(self) -> int:
        return len(self.index)


def allocate(
    wanted: float,
    greek_per_contract: ArrayLike,
    fair: ArrayLike,
    vol: ArrayLike,
    multiplier: ArrayLike,
    costs: LadderCost,
    *,
    drought: float = 1.0,
    max_contracts: ArrayLike = 1_000_000,
    max_legs: int = 4,
) -> Allocation:
    """Whole-contract legs that add about `wanted` of a greek (e.g. gamma, units per currency;
    or vega, currency per vol point) at the lowest expected cost (see the module doc).

    greek_per_contract, fair, vol, multiplier: per eligible option (one contract's greek, the
    premium per unit of the underlying, its implied vol, its multiplier). max_contracts: the
    most contracts of one leg, a number or one per option (e.g. an order size limit, or the
    depth the ladder shows, so that a large hedge is spread over several strikes and expiries
    instead of walking far down one ladder). Options whose greek per contract is 0 or not
    finite are never chosen.
    """
    finite("allocate", "wanted", wanted)
    if max_legs < 1:
        raise ValueError("max_legs must be >= 1")
    arrays = (greek_per_contract, fair, vol, multiplier, max_contracts)
    g, f, v, m, cap = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in arrays))
    cap = np.floor(cap)
    usable = np.isfinite(g) & (g != 0.0) & (cap >= 1.0)
    safe_g = np.where(usable, g, 1.0)
    left = float(wanted)
    chosen: list[int] = []
    legs: list[tuple[int, int, float, float]] = []
    while len(legs) < max_legs:
        open_ = usable.copy()
        open_[chosen] = False
        contracts = np.clip(np.rint(left / safe_g), -cap, cap)
        contracts = np.where(open_, contracts, 0.0)
        delivered = contracts * g
        same_way = np.sign(delivered) == math.copysign(1.0, wanted)
        helpful = open_ & same_way & (np.abs(left - delivered) < abs(left))
        if not helpful.any():
            break
        cost = costs.cost(contracts, f, v, m, drought)
        score = np.where(helpful, cost / np.where(helpful, np.abs(delivered), 1.0), np.inf)
        best = int(np.argmin(score))
        chosen.append(best)
        legs.append((best, int(contracts[best]), float(delivered[best]), float(cost[best])))
        left -= float(delivered[best])
    if not legs:
        return Allocation((), (), (), ())
    index, qty, gave, paid = zip(*legs, strict=True)
    return Allocation(index, qty, gave, paid)


def vega_bucket_changes(vega: ArrayLike, trigger: float, target: float) -> Array:
    """Per expiry bucket, the vega change (currency per vol point) that brings a bucket whose
    |vega| exceeds `trigger` back to the edge of ±`target` (`target` ≤ `trigger`; a no-trade
    band with hysteresis); 0 for the buckets inside ±`trigger`. Uses the policies' `into_band`."""
    finite("vega_bucket_changes", "target", target, low=0.0)
    finite("vega_bucket_changes", "trigger", trigger, low=target)
    v = np.asarray(vega, np.float64)
    inside, _ = into_band(v, np.zeros_like(v), np.full_like(v, target))
    return np.where(np.abs(v) > trigger, inside - v, 0.0)
