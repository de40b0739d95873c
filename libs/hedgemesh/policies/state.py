"""The vocabulary every hedge policy speaks: what it sees (`HedgeState`) and what it decides
(`Decision`), as frozen dataclasses of numpy arrays with one element per path.

The backtester builds a state of n = 10^5 paths at once; a live agent builds one of n = 1
(`hedgemesh.policies.live` does it from plain numbers). Nothing here does I/O.

Units (per path; "units" are units of the underlying, e.g. shares):

- spot: currency per unit of the underlying; time, horizon, tau: years (ACT/365, as `bsm`).
- rate, div: continuously compounded per year; vol: annualised decimal (0.2 = 20 %).
- `Exposure.delta`: units; `.gamma`: units per currency unit of spot; `.vega`: currency per
  vol point (0.01 of vol), all as in `hedgemesh.quant.bsm`.
- quantities and holdings: signed units of the underlying (an option contract on 100 shares
  held 3 times is 300); + long, − short.

Hedge instruments are columns: column 0 is always the underlying (delta 1, gamma 0, vega 0),
columns 1.. are the listed options the policy hedges with (`Policy.hedge_options`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hedgemesh.quant import bsm

__all__ = [
    "Decision",
    "Exposure",
    "HedgeMemory",
    "HedgeState",
    "OptionSet",
    "book_exposure",
    "priced_instruments",
    "remember",
    "underlying_column",
]

Array = NDArray[np.float64]


def _array(values: ArrayLike) -> Array:
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Exposure:
    """Greeks of a position, per path: shape (n,) for a book, (n, k) per unit of k instruments.

    delta: units of the underlying; gamma: units per currency unit of spot; vega: currency per
    vol point.
    """

    delta: Array
    gamma: Array
    vega: Array

    @classmethod
    def zeros(cls, shape: int | tuple[int, ...]) -> Exposure:
        return cls(np.zeros(shape), np.zeros(shape), np.zeros(shape))

    def combined(self, holdings: Array) -> Exposure:
        """Σ_j holdings[:, j] · self[:, j]: the exposure (n,) of holding ``holdings`` (n, k) of
        instruments whose per-unit greeks are ``self`` (n, k)."""
        return Exposure(
            np.einsum("nk,nk->n", holdings, self.delta),
            np.einsum("nk,nk->n", holdings, self.gamma),
            np.einsum("nk,nk->n", holdings, self.vega),
        )

    def __add__(self, other: Exposure) -> Exposure:
        return Exposure(self.delta + other.delta, self.gamma + other.gamma, self.vega + other.vega)


def underlying_column(n: int) -> tuple[Array, Array, Array]:
    """Per-unit greeks of the underlying for n paths: delta 1, gamma 0, vega 0."""
    return np.ones(n), np.zeros(n), np.zeros(n)


@dataclass(frozen=True, eq=False)
class OptionSet:
    """European options held on each path: arrays of shape (n, m) (or broadcastable to it).

    strike: currency; tau: years to expiry (>= 0; 0 is worth intrinsic value); is_call: bool;
    quantity: signed units of the underlying (0 for an empty slot); vol: the implied vol each
    option is marked at. Greeks come from `hedgemesh.quant.bsm` at the state's spot, rate and div.
    """

    strike: Array
    tau: Array
    is_call: NDArray[np.bool_]
    quantity: Array
    vol: Array

    def greeks(self, spot: Array, rate: float, div: float, vol: Array | None = None) -> bsm.Greeks:
        """Greeks per unit of each option, (n, m), at spot (n,) and ``vol`` (default: the marks)."""
        return bsm.greeks(
            spot[:, None],
            self.strike,
            self.tau,
            rate,
            div,
            self.vol if vol is None else vol,
            self.is_call,
        )

    def delta(self, spot: Array, rate: float, div: float, vol: Array) -> Array:
        """Σ quantity · delta per path at the given vols (n, m): the repricing policies use it."""
        return (self.quantity * self.greeks(spot, rate, div, vol).delta).sum(axis=-1)


@dataclass(frozen=True, eq=False)
class HedgeMemory:
    """What a policy remembers between decisions, per path: when and at what spot it last
    rebalanced (NaN: never), and ``extra`` (n, d), a policy's own state (a recurrent network's
    hidden state; None: none yet). Carried explicitly from one decision to the next."""

    last_time: Array
    last_spot: Array
    extra: Array | None = None

    @classmethod
    def empty(cls, n: int) -> HedgeMemory:
        return cls(np.full(n, np.nan), np.full(n, np.nan))


@dataclass(frozen=True, eq=False)
class HedgeState:
    """Everything a policy may look at, for n paths at one time.

    time: years since an arbitrary origin (the same clock as the memory); spot, vol (n,): the
    underlying's price and reference (at-the-money) vol; rate, div: scalars; book: the greeks of
    the book being hedged (hedges excluded) at market vols; book_options / book_underlying: what
    the book holds (the repricing policies value it at another vol); horizon (n,): years to the
    book's horizon (`HedgeState.build`: the |gamma|-weighted expiry of its options);
    instruments: per-unit greeks of the k hedge instruments (n, k), column 0 the underlying;
    holdings (n, k): hedge units held now; memory: see `HedgeMemory`.
    """

    time: float
    spot: Array
    vol: Array
    rate: float
    div: float
    book: Exposure
    book_options: OptionSet | None
    book_underlying: Array
    horizon: Array
    instruments: Exposure
    holdings: Array
    memory: HedgeMemory
    _n: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_n", int(self.spot.shape[0]))

    @property
    def n(self) -> int:
        """Number of paths."""
        return self._n

    @property
    def k(self) -> int:
        """Number of hedge instruments (the underlying included)."""
        return int(self.holdings.shape[1])

    def hedge_exposure(self, holdings: Array | None = None) -> Exposure:
        """Exposure of the hedge instruments at ``holdings`` (default: the current ones)."""
        return self.instruments.combined(self.holdings if holdings is None else holdings)

    def net(self, holdings: Array | None = None) -> Exposure:
        """Book plus hedges: the exposure left after holding ``holdings`` (default: current)."""
        return self.book + self.hedge_exposure(holdings)

    @classmethod
    def build(
        cls,
        *,
        time: float,
        spot: ArrayLike,
        vol: ArrayLike,
        rate: float,
        div: float,
        book_options: OptionSet | None,
        book_underlying: ArrayLike,
        instruments: Exposure,
        holdings: ArrayLike,
        memory: HedgeMemory,
        book_greeks: bsm.Greeks | None = None,
    ) -> HedgeState:
        """A state whose book greeks and horizon follow from its options and underlying.

        ``book_greeks``: the options' greeks per unit (n, m) when already priced (the engine
        prices them anyway for the book's value); otherwise one bsm pass here.
        """
        s = _array(spot)
        n = s.shape[0]
        under = np.broadcast_to(_array(book_underlying), (n,))
        if book_options is None:
            book = Exposure(under.copy(), np.zeros(n), np.zeros(n))
            horizon = np.zeros(n)
        else:
            g = book_options.greeks(s, rate, div) if book_greeks is None else book_greeks
            book = book_exposure(book_options.quantity, g, under)
            horizon = book_horizon(book_options, g.gamma)
        return cls(
            time=float(time),
            spot=s,
            vol=np.broadcast_to(_array(vol), (n,)),
            rate=float(rate),
            div=float(div),
            book=book,
            book_options=book_options,
            book_underlying=under,
            horizon=horizon,
            instruments=instruments,
            holdings=_array(holdings),
            memory=memory,
        )


def book_exposure(quantity: Array, greeks: bsm.Greeks, underlying: Array) -> Exposure:
    """The book's exposure per path: Σ quantity · greek over its options (n, m), plus the
    underlying units it holds in its delta."""
    return Exposure(
        underlying + (quantity * greeks.delta).sum(axis=-1),
        (quantity * greeks.gamma).sum(axis=-1),
        (quantity * greeks.vega).sum(axis=-1),
    )


def priced_instruments(
    spot: Array, rate: float, div: float, options: OptionSet | None
) -> tuple[Exposure, Array]:
    """Per-unit greeks and prices, both (n, k), of the hedge instruments: column 0 the
    underlying (delta 1, price spot), columns 1.. the ``options`` (n, k − 1) (their quantity
    is not used)."""
    n = spot.shape[0]
    if options is None or options.strike.shape[-1] == 0:
        one = Exposure(*(c[:, None] for c in underlying_column(n)))
        return one, spot[:, None].copy()
    g = options.greeks(spot, rate, div)
    delta, gamma, vega = underlying_column(n)
    return (
        Exposure(
            np.column_stack([delta, g.delta]),
            np.column_stack([gamma, g.gamma]),
            np.column_stack([vega, g.vega]),
        ),
        np.column_stack([spot, g.price]),
    )


def book_horizon(options: OptionSet, gamma_per_unit: Array) -> Array:
    """Years to the book's horizon, per path: Σ|q Γ| τ / Σ|q Γ| over its options, or the longest
    remaining life where the book has no gamma (all expired or deep in/out of the money)."""
    weight = np.abs(options.quantity * gamma_per_unit)
    tau = np.broadcast_to(options.tau, weight.shape)
    total = weight.sum(axis=-1)
    longest = np.where(options.quantity != 0.0, tau, 0.0).max(axis=-1, initial=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        weighted = (weight * tau).sum(axis=-1) / total
    return np.where(total > 0.0, weighted, longest)


@dataclass(frozen=True, eq=False)
class Decision:
    """A policy's answer: target hedge holdings (n, k) and, per path, whether its trigger fired
    (a rebalance: the memory records this time and spot; a band policy fires only outside its
    band)."""

    target: Array
    rebalance: NDArray[np.bool_]
    holdings: Array
    """The holdings the decision was taken from (so that ``trades`` needs nothing else)."""
    extra: Array | None = None
    """The policy's own state to remember (`HedgeMemory.extra`), or None to keep it."""

    @property
    def trades(self) -> Array:
        """Units to trade per instrument, (n, k): target − holdings (+ buys)."""
        return self.target - self.holdings


def remember(memory: HedgeMemory, state: HedgeState, decision: Decision) -> HedgeMemory:
    """The memory after ``decision``: this time and spot on the paths that rebalanced, and the
    decision's ``extra`` state (kept from before when it gives none)."""
    fired = decision.rebalance
    return HedgeMemory(
        np.where(fired, state.time, memory.last_time),
        np.where(fired, state.spot, memory.last_spot),
        memory.extra if decision.extra is None else decision.extra,
    )


def years(days: float) -> float:
    """Calendar days to years (ACT/365, as `bsm`)."""
    return float(days) / bsm.DAYS_PER_YEAR


def finite(owner: str, name: str, value: float, *, low: float = -math.inf, strict: bool = False):
    """``value`` as a float, after checking it is finite and above ``low`` (or at it, unless
    ``strict``); a ValueError names the owner and the parameter otherwise."""
    v = float(value)
    ok = math.isfinite(v) and (v > low if strict else v >= low)
    if not ok:
        bound = f"> {low}" if strict else f">= {low}"
        raise ValueError(f"{owner}: {name} must be finite and {bound}, got {value!r}")
    return v
