"""Synthetic liquidity providers: a ladder of quotes around a fair value given from outside.

The model, per book and side (all prices in ticks, sizes in units or contracts):

- Ladder. With `scale = (vol / ref_vol) ** spread_vol_exponent * drought`, the touch sits
  `half = max(min_half_spread_ticks, fair * half_spread_bp * 1e-4 * scale / tick)` ticks from
  fair and level i a further `i * step` ticks out, `step = max(min_level_step_ticks,
  fair * level_step_bp * 1e-4 * scale / tick)`; bids round down and asks up, so the ladder
  never crosses (the spread is at least one tick). Level i targets `top_size * size_decay**i
  * (ref_vol / vol) ** size_vol_exponent / drought` (rounded; a size below one is not shown),
  optionally times a lognormal jitter (`size_jitter`) drawn from the seeded generator whenever
  the fair value changes. High volatility and a drought (multiplier > 1, set by the scenario)
  widen spreads and level spacing and thin the sizes.
- Resilience. Quantity taken from level i is remembered as missing, `missing_i`; the level shows
  `target_i - missing_i` rounded, and the missing quantity decays exponentially,
  `missing_i(t) = missing_i(t0) * 2 ** (-(t - t0) / half_life_s)`: half of what a sweep took is
  back after one half-life, 15/16 after four. A large order walks down the ladder and pays for
  it; a patient one (TWAP) leaves time for depth to return.
- Re-quoting. On `update(now, ...)` the provider moves every level whose price changed, removes
  empty levels, trims a level that shows more than its target (amend down, keeping priority),
  and tops up one that is a `refill_step` fraction of its target or more short, or whole again
  (a new order, losing priority). It takes everything it moves off the book before posting
  anything new, so it never meets its own quotes. A new quote can meet another owner's stale
  resting order (left on the book after fair value moved through it): that order is picked off
  at its own price, as a real market maker would.

Time is an argument, never read from a clock; with a seed the provider is deterministic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable
from dataclasses import dataclass
from typing import NamedTuple

from hedgemesh.venue.book import BUY, SELL, Cancelled, Event, Fill, OrderBook

_SIDES = (BUY, SELL)


@dataclass(frozen=True, slots=True)
class LiquidityParams:
    """How a provider quotes; prices in basis points of fair value or ticks, sizes in units."""

    levels: int = 5
    half_spread_bp: float = 2.0  # fair to touch, at ref_vol and no drought
    min_half_spread_ticks: float = 0.5
    level_step_bp: float = 1.0  # between consecutive levels
    min_level_step_ticks: float = 1.0
    top_size: float = 100.0  # size at the touch at ref_vol and no drought
    size_decay: float = 0.7  # level i shows top_size * size_decay**i
    ref_vol: float = 0.20  # volatility (annualised) at which the figures above hold
    spread_vol_exponent: float = 1.0  # spreads scale with (vol / ref_vol) ** this
    size_vol_exponent: float = 0.5  # sizes scale with (ref_vol / vol) ** this
    half_life_s: float = 30.0  # consumed depth comes back with this half-life (seconds)
    size_jitter: float = 0.0  # lognormal sd of level sizes, redrawn when fair value changes
    refill_step: float = 0.1  # top up a level once it is this fraction of its target short

    def __post_init__(self) -> None:
        positive = {
            "half_spread_bp": self.half_spread_bp,
            "min_half_spread_ticks": self.min_half_spread_ticks,
            "level_step_bp": self.level_step_bp,
            "min_level_step_ticks": self.min_level_step_ticks,
            "top_size": self.top_size,
            "ref_vol": self.ref_vol,
            "half_life_s": self.half_life_s,
            "refill_step": self.refill_step,
        }
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value!r}")
        if self.levels < 1:
            raise ValueError(f"levels must be >= 1, got {self.levels}")
        if not 0 < self.size_decay <= 1:
            raise ValueError(f"size_decay must be in (0, 1], got {self.size_decay}")
        if not (self.size_jitter >= 0 and math.isfinite(self.size_jitter)):
            raise ValueError(f"size_jitter must be finite and >= 0, got {self.size_jitter}")


class Ladder(NamedTuple):
    """Quote prices (ticks, best first; a bid at or below zero is dropped) and target sizes."""

    bids: tuple[int, ...]
    asks: tuple[int, ...]
    sizes: tuple[float, ...]  # target size of level i, both sides


def ladder(
    fair: float, vol: float, drought: float, tick_size: float, params: LiquidityParams
) -> Ladder:
    """The provider's ladder around `fair` (currency) at volatility `vol` and a drought multiplier.

    >>> ladder(100.0, 0.2, 1.0, 0.01, LiquidityParams(levels=3))
    Ladder(bids=(9998, 9997, 9996), asks=(10002, 10003, 10004), sizes=(100.0, 70.0, 49.0))
    """
    for name, value in (("fair", fair), ("vol", vol), ("drought", drought), ("tick", tick_size)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    p = params
    scale = (vol / p.ref_vol) ** p.spread_vol_exponent * drought
    centre = fair / tick_size
    half = max(p.min_half_spread_ticks, fair * p.half_spread_bp * 1e-4 * scale / tick_size)
    step = max(p.min_level_step_ticks, fair * p.level_step_bp * 1e-4 * scale / tick_size)
    # Snap float noise (99.99999999 ticks) before rounding outwards.
    offsets = [round(half + i * step, 9) for i in range(p.levels)]
    bids = tuple(b for b in (math.floor(round(centre - o, 9)) for o in offsets) if b > 0)
    asks = tuple(math.ceil(round(centre + o, 9)) for o in offsets)
    size = p.top_size * (p.ref_vol / vol) ** p.size_vol_exponent / drought
    return Ladder(bids, asks, tuple(round(size * p.size_decay**i, 9) for i in range(p.levels)))


class _Quote:
    __slots__ = ("level", "order_id", "price", "side")

    def __init__(self, order_id: str, side: int, level: int, price: int) -> None:
        self.order_id, self.side, self.level, self.price = order_id, side, level, price


class LiquidityProvider:
    """Quotes a ladder on one book around an externally given fair value; see the module doc.

    Call `update(now, fair=..., vol=..., drought=...)` when the market moves and on a timer (to
    let consumed depth come back), and `observe(events, now)` with the events of every order
    others send to the book, so the provider learns what was taken from it.
    """

    def __init__(
        self,
        book: OrderBook,
        owner: str,
        params: LiquidityParams | None = None,
        seed: int = 0,
    ) -> None:
        self.book = book
        self.owner = owner
        self.params = params or LiquidityParams()
        self._rng = random.Random(seed)
        levels = self.params.levels
        self._missing = {BUY: [0.0] * levels, SELL: [0.0] * levels}
        self._jitter = {BUY: [1.0] * levels, SELL: [1.0] * levels}
        self._quotes: dict[tuple[int, int], _Quote] = {}
        self._by_id: dict[Hashable, _Quote] = {}
        self._count = 0
        self._t: float | None = None
        self.fair: float | None = None
        self.vol: float | None = None
        self.drought = 1.0
        self.position = 0  # signed units the provider has bought (+) or sold (-)
        self.cash_ticks = 0  # ticks x units received (+) or paid (-)

    # -- state ---------------------------------------------------------------------------------

    def missing(self, side: int) -> list[float]:
        """Quantity taken per level of `side` that has not come back yet (as of the last call)."""
        return list(self._missing[side])

    def quotes(self) -> list[tuple[int, int, int, int]]:
        """(side, level, price, remaining) of each live quote."""
        out = []
        for q in self._quotes.values():
            order = self.book.order(q.order_id)
            if order is not None:
                out.append((q.side, q.level, q.price, order.remaining))
        return sorted(out)

    # -- driving -------------------------------------------------------------------------------

    def observe(self, events: list[Event], now: float) -> None:
        """Learn fills of own quotes (and own takes) from book events produced by others."""
        self._advance(now)
        for e in events:
            self._learn(e)

    def update(
        self,
        now: float,
        *,
        fair: float | None = None,
        vol: float | None = None,
        drought: float | None = None,
    ) -> list[Event]:
        """Let depth refill to `now`, take any new market state, re-quote; returns book events."""
        self._advance(now)
        if vol is not None:
            self.vol = vol
        if drought is not None:
            if not (math.isfinite(drought) and drought > 0):
                raise ValueError(f"drought must be finite and > 0, got {drought!r}")
            self.drought = drought
        if fair is not None and fair != self.fair:
            self.fair = fair
            self._draw_jitter()
        if self.fair is None or self.vol is None:
            return []
        target = ladder(self.fair, self.vol, self.drought, self.book.tick_size, self.params)
        return self._requote(target)

    def withdraw(self) -> list[Event]:
        """Cancel every quote (for a halt or the end of the session)."""
        events: list[Event] = []
        for q in list(self._quotes.values()):
            events += self._drop(q)
        return events

    # -- internals -----------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        if self._t is not None:
            dt = now - self._t
            if dt < 0:
                raise ValueError(f"time went backwards: {now} after {self._t}")
            if dt > 0:
                decay = 0.5 ** (dt / self.params.half_life_s)
                for side in _SIDES:
                    self._missing[side] = [m * decay for m in self._missing[side]]
        self._t = now

    def _draw_jitter(self) -> None:
        sd = self.params.size_jitter
        if sd == 0:
            return
        for side in _SIDES:
            self._jitter[side] = [
                math.exp(self._rng.gauss(-0.5 * sd * sd, sd)) for _ in range(self.params.levels)
            ]

    def _learn(self, e: Event) -> None:
        if isinstance(e, Fill):
            if e.maker_owner == self.owner:
                q = self._by_id.get(e.maker_id)
                if q is not None:
                    self._missing[q.side][q.level] += e.quantity
                self._book_trade(-e.taker_side, e.price, e.quantity)
            if e.taker_owner == self.owner:
                self._book_trade(e.taker_side, e.price, e.quantity)
        elif isinstance(e, Cancelled) and e.owner == self.owner:
            q = self._by_id.pop(e.order_id, None)
            if q is not None:
                self._quotes.pop((q.side, q.level), None)

    def _book_trade(self, side: int, price: int, quantity: int) -> None:
        self.position += side * quantity
        self.cash_ticks -= side * price * quantity

    def _wanted(self, side: int, level: int, sizes: tuple[float, ...]) -> tuple[int, int]:
        """(what level shows now, what it shows when nothing is missing)."""
        target = sizes[level] * self._jitter[side][level]
        full = math.floor(target + 0.5)
        return max(0, math.floor(target - self._missing[side][level] + 0.5)), full

    def _requote(self, target: Ladder) -> list[Event]:
        events: list[Event] = []
        posts: list[tuple[int, int, int, int]] = []  # side, level, price, quantity
        step = self.params.refill_step
        for side, prices in ((BUY, target.bids), (SELL, target.asks)):
            for level in range(self.params.levels):
                price = prices[level] if level < len(prices) else None
                wanted, full = (0, 0) if price is None else self._wanted(side, level, target.sizes)
                q = self._quotes.get((side, level))
                order = None if q is None else self.book.order(q.order_id)
                if q is not None and order is None:  # filled away
                    self._forget(q)
                    q = None
                if q is not None and order is not None:
                    if q.price == price and wanted > 0:
                        if order.remaining > wanted:
                            events += self.book.amend(q.order_id, quantity=wanted)
                            continue
                        short = wanted - order.remaining
                        if short < max(1.0, step * target.sizes[level]) and wanted < full:
                            continue
                        if short <= 0:
                            continue
                    events += self._drop(q)
                if wanted > 0 and price is not None:
                    posts.append((side, level, price, wanted))
        for side, level, price, quantity in posts:
            self._count += 1
            order_id = f"{self.owner}:{self._count}"
            got = self.book.submit(order_id, self.owner, side, price, quantity)
            for e in got:
                self._learn(e)
            if order_id in self.book:
                q = _Quote(order_id, side, level, price)
                self._quotes[(side, level)] = q
                self._by_id[order_id] = q
            events += got
        return events

    def _drop(self, q: _Quote) -> list[Event]:
        self._forget(q)
        return self.book.cancel(q.order_id)

    def _forget(self, q: _Quote) -> None:
        self._quotes.pop((q.side, q.level), None)
        self._by_id.pop(q.order_id, None)
