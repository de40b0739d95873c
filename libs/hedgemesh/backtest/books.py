"""The books a backtest hedges: a single option, a list of positions, or a stream of client
trades arriving at random (Poisson) times.

A book spec turns into `BookArrays` on a market (`materialise`): per path and position, the
strike, the expiry and the arrival time (years from the start), call or put, and the signed
quantity in units of the underlying (contracts × multiplier; − written, + bought), plus units
of the underlying the book holds. Static books share one row across paths (shape (1, m)); a
Poisson book has its own positions per path (shape (n, m), unused slots at quantity 0).

The engine books every position at its fair value when it arrives (the premium goes to cash),
marks it to market while it lives, and settles it at intrinsic value at the first time on or
after its expiry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from hedgemesh.backtest.instruments import MarketPaths
from hedgemesh.policies.state import finite
from hedgemesh.quant.bsm import DAYS_PER_YEAR

__all__ = [
    "Book",
    "BookArrays",
    "OptionPosition",
    "PoissonBook",
    "StaticBook",
    "insured_portfolio",
    "single_option",
]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class BookArrays:
    """A book laid out for the engine: arrays (1 or n, m) of strike, expiry (years), start
    (arrival, years), is_call and quantity (units of the underlying), and units of the
    underlying held (a number)."""

    strike: Array
    expiry: Array
    start: Array
    is_call: NDArray[np.bool_]
    quantity: Array
    underlying: float = 0.0

    @property
    def n_options(self) -> int:
        return int(self.strike.shape[1])


class Book(Protocol):
    """A book spec: lays itself out on a market."""

    def materialise(self, market: MarketPaths) -> BookArrays: ...


@dataclass(frozen=True, kw_only=True)
class OptionPosition:
    """A European option position: ``quantity`` units of the underlying (− written), the strike
    as a number or as ``moneyness`` × the first spot of each path, ``expiry`` in years from the
    start, call or put."""

    quantity: float
    expiry: float
    strike: float | None = None
    moneyness: float | None = None
    is_call: bool = True

    def __post_init__(self) -> None:
        owner = "OptionPosition"
        finite(owner, "quantity", self.quantity)
        finite(owner, "expiry", self.expiry, low=0.0, strict=True)
        if (self.strike is None) == (self.moneyness is None):
            raise ValueError(f"{owner}: give a strike or a moneyness, one of the two")
        if self.strike is not None:
            finite(owner, "strike", self.strike, low=0.0, strict=True)
        if self.moneyness is not None:
            finite(owner, "moneyness", self.moneyness, low=0.0, strict=True)


@dataclass(frozen=True, kw_only=True)
class StaticBook:
    """Positions all held from the start: options and units of the underlying."""

    options: tuple[OptionPosition, ...] = ()
    underlying: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))
        finite("StaticBook", "underlying", self.underlying)

    def materialise(self, market: MarketPaths) -> BookArrays:
        m = len(self.options)
        relative = any(o.moneyness is not None for o in self.options)
        rows = market.n_paths if relative else 1
        strike = np.empty((rows, m))
        for j, o in enumerate(self.options):
            if o.strike is not None:
                strike[:, j] = o.strike
            else:
                strike[:, j] = float(o.moneyness or 0.0) * market.spot[:rows, 0]

        def row(values: Sequence[float | bool], dtype: type = np.float64) -> NDArray:
            return np.asarray(values, dtype=dtype).reshape(1, m)

        return BookArrays(
            strike=strike,
            expiry=row([market.times[0] + o.expiry for o in self.options]),
            start=np.full((1, m), market.times[0]),
            is_call=row([o.is_call for o in self.options], bool),
            quantity=row([o.quantity for o in self.options]),
            underlying=self.underlying,
        )


def single_option(
    *, strike: float, expiry: float, is_call: bool = True, quantity: float = -1.0
) -> StaticBook:
    """One option: ``quantity`` units (default: one written), strike, expiry in years."""
    return StaticBook(
        options=(OptionPosition(quantity=quantity, strike=strike, expiry=expiry, is_call=is_call),)
    )


def insured_portfolio(*, units: float, strike: float, expiry: float) -> StaticBook:
    """What a portfolio insurer owes: ``units`` shares each with a protective put at ``strike``
    expiring in ``expiry`` years, i.e. a payoff of units · max(S_T, K). The book is short both
    (−units shares, −units puts); replicating it with stock and cash (`PortfolioInsurance`)
    makes the hedged P&L the replication's surplus, and its negative the shortfall."""
    finite("insured_portfolio", "units", units, low=0.0, strict=True)
    return StaticBook(
        options=(OptionPosition(quantity=-units, strike=strike, expiry=expiry, is_call=False),),
        underlying=-units,
    )


@dataclass(frozen=True, kw_only=True)
class PoissonBook:
    """Client trades arriving as a Poisson process, on top of an ``initial`` book.

    trades_per_year: arrival intensity per path. Each trade: a life drawn from ``tenors_days``,
    a strike of moneyness uniform in ``moneyness`` × spot at arrival, a call with probability
    ``call_probability``, written (the client buys) with probability ``sell_probability``, of
    a size drawn from ``sizes`` (units of the underlying). Arrivals in (t_{i−1}, t_i] are
    booked at t_i, for steps 1 to N − 1. ``seed`` fixes the draws (the same trades for every
    policy compared on a market).
    """

    trades_per_year: float
    tenors_days: tuple[float, ...] = (30.0, 60.0, 90.0)
    moneyness: tuple[float, float] = (0.9, 1.1)
    call_probability: float = 0.5
    sell_probability: float = 0.7
    sizes: tuple[float, ...] = (100.0,)
    initial: StaticBook = field(default_factory=StaticBook)
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "PoissonBook"
        finite(owner, "trades_per_year", self.trades_per_year, low=0.0)
        for name in ("call_probability", "sell_probability"):
            p = finite(owner, name, getattr(self, name), low=0.0)
            if p > 1.0:
                raise ValueError(f"{owner}: {name} must lie in [0, 1]")
        if not self.tenors_days or not self.sizes:
            raise ValueError(f"{owner}: tenors_days and sizes must not be empty")
        for t in self.tenors_days:
            finite(owner, "tenors_days", t, low=0.0, strict=True)
        for s in self.sizes:
            finite(owner, "sizes", s, low=0.0, strict=True)
        lo, hi = (float(x) for x in self.moneyness)
        if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 < lo <= hi):
            raise ValueError(f"{owner}: moneyness must be (low, high) with 0 < low <= high")

    def materialise(self, market: MarketPaths) -> BookArrays:
        rng = np.random.default_rng(self.seed)
        n, n_steps = market.n_paths, market.n_steps
        dt = np.diff(market.times)
        lam = self.trades_per_year * dt[: n_steps - 1]  # arrivals booked at steps 1..N-1
        counts = rng.poisson(lam, size=(n, n_steps - 1))
        per_path = counts.sum(axis=1)
        m = int(per_path.max(initial=0))
        path = np.repeat(np.arange(n), per_path)
        step = np.repeat(np.tile(np.arange(1, n_steps), n), counts.ravel())
        rank = np.arange(path.size) - np.repeat(np.cumsum(per_path) - per_path, per_path)
        total = path.size
        tenor = rng.choice(np.asarray(self.tenors_days, dtype=np.float64), total)
        lo, hi = self.moneyness
        strike = rng.uniform(lo, hi, total) * market.spot[path, step]
        is_call = rng.random(total) < self.call_probability
        sign = np.where(rng.random(total) < self.sell_probability, -1.0, 1.0)
        size = rng.choice(np.asarray(self.sizes, dtype=np.float64), total)
        start = market.times[step]
        never = float(market.times[-1]) + 1.0  # unused slots: arrive after the end, quantity 0

        def grid(values: NDArray, fill: float | bool, dtype: type = np.float64) -> NDArray:
            out: NDArray = np.full((n, m), fill, dtype=dtype)
            out[path, rank] = values
            return out

        arrived = BookArrays(
            strike=grid(strike, 1.0),
            expiry=grid(start + tenor / DAYS_PER_YEAR, never),
            start=grid(start, never),
            is_call=grid(is_call, True, bool),
            quantity=grid(sign * size, 0.0),
        )
        base = self.initial.materialise(market)
        return BookArrays(
            strike=_join(base.strike, arrived.strike, n),
            expiry=_join(base.expiry, arrived.expiry, n),
            start=_join(base.start, arrived.start, n),
            is_call=_join(base.is_call, arrived.is_call, n),
            quantity=_join(base.quantity, arrived.quantity, n),
            underlying=base.underlying,
        )


def _join(first: NDArray, second: NDArray, n: int) -> NDArray:
    return np.concatenate([np.broadcast_to(first, (n, first.shape[1])), second], axis=1)
