"""Risk of a whole options book in one vectorised pass.

Positions are a struct of arrays (`Positions`), the market one row per underlying (`Market`:
spot, rate, dividend yield and a `VolSurface`). `book_risk` looks up every option's vol on its
own underlying's surface (all underlyings at once), prices the greeks with `bsm.greeks`, and
sums them per (underlying, expiry bucket) with one segmented reduction; per-underlying figures
are sums over buckets and totals are sums over underlyings, so the three levels always agree.

Units (per position: greek per unit of underlying × quantity × multiplier):

- value: option premium, currency. Stock and futures positions carry none (futures are
  margined; stock is cash-like and valued by the ledger): they contribute delta only.
- delta: units of the underlying (shares). A stock/future position's delta is
  quantity × multiplier.
- gamma: units of the underlying per 1 currency unit move of spot.
- vega_per_point, theta_per_day, rho_per_pct: currency per vol point, per calendar day,
  per 1 % of rate.
- vanna_per_point: units of the underlying per vol point; volga_per_point: currency per vol
  point, per vol point.
- dollar_delta = delta · S: currency exposure to the underlying.
- dollar_gamma_per_pct = gamma · S² / 100: the change of dollar delta (currency) when spot
  rises 1 %. (The gamma P&L of a 1 % move is half of it times 0.01.)

Totals across underlyings are given only for the figures in currency that add up under a
move of every underlying (or vol, or rate) at once: value, dollar delta, dollar gamma, vega,
theta, rho and volga. Delta, gamma and vanna are in units of different underlyings and are
not summed across them.

Vol lookup: the option's log-moneyness k = ln(K/F) uses the forward F = S e^{(rate − div)t}
of this market (the one the greeks use), so a surface built at another spot is read sticky in
moneyness.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from hedgemesh.quant import bsm
from hedgemesh.quant.surface import SliceStack, VolSurface

__all__ = [
    "ADDITIVE_FIELDS",
    "DEFAULT_BUCKET_EDGES_DAYS",
    "DEFAULT_OPTION_MULTIPLIER",
    "KIND_OPTION",
    "KIND_UNDERLYING",
    "BookRisk",
    "BookTotals",
    "Market",
    "Positions",
    "RiskTable",
    "book_risk",
]

KIND_UNDERLYING = 0
"""Position kind: the underlying itself (stock, or a future on it): delta only."""
KIND_OPTION = 1
"""Position kind: a European option on the underlying."""

DEFAULT_OPTION_MULTIPLIER = 100.0
"""Units of underlying per option contract when a record does not say."""

DEFAULT_BUCKET_EDGES_DAYS = (30, 90, 180, 365)
"""Expiry bucket edges in calendar days: [0, 30), [30, 90), …, [365, ∞)."""

DAYS_PER_YEAR = bsm.DAYS_PER_YEAR
"""Expiries are ACT/365 year fractions, as in `bsm`."""

_KINDS = {"underlying": KIND_UNDERLYING, "option": KIND_OPTION}
_OPTION_GREEKS = 8  # price, delta, gamma, vega, theta, rho, vanna, volga (bsm.Greeks order)
_MAX_CACHED_EDGES = 8


def _frozen_array(value: ArrayLike, dtype: DTypeLike) -> NDArray[Any]:
    array = np.array(value, dtype=dtype, copy=True)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True, eq=False)
class _OptionLegs:
    """Option positions sorted by (underlying, expiry): the layout the vol lookup and the
    segmented sums want. Market-independent, built once per `Positions`."""

    underlying: NDArray[np.intp]
    expiry: NDArray[np.float64]
    strike: NDArray[np.float64]
    log_strike: NDArray[np.float64]
    is_call: NDArray[np.bool_]
    notional: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Positions:
    """A book as parallel arrays, one element per position (struct of arrays).

    underlying: index of the underlying in the `Market` (int ≥ 0); kind: KIND_OPTION or
    KIND_UNDERLYING; strike: option strike (> 0; ignored for the underlying); expiry: years to
    expiry (≥ 0; for the underlying it only picks the bucket: 0 for stock, the future's expiry
    for a future); is_call: call or put; quantity: signed number of contracts (or shares);
    multiplier: units of underlying per contract (> 0).

    Arrays are copied and made read-only. Construction also sorts the options into the layout
    `book_risk` uses, so build a `Positions` once and price it against many markets.
    """

    underlying: NDArray[np.int64]
    kind: NDArray[np.int8]
    strike: NDArray[np.float64]
    expiry: NDArray[np.float64]
    is_call: NDArray[np.bool_]
    quantity: NDArray[np.float64]
    multiplier: NDArray[np.float64]
    _legs: _OptionLegs = field(init=False, repr=False)
    _delta_one: tuple[NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]] = field(
        init=False, repr=False
    )
    _groups: dict[tuple[float, ...], Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        dtypes = {
            "underlying": np.int64,
            "kind": np.int8,
            "strike": np.float64,
            "expiry": np.float64,
            "is_call": np.bool_,
            "quantity": np.float64,
            "multiplier": np.float64,
        }
        for name, dtype in dtypes.items():
            object.__setattr__(self, name, _frozen_array(getattr(self, name), dtype))
        arrays = [getattr(self, name) for name in dtypes]
        n = self.underlying.shape
        if any(a.ndim != 1 or a.shape != n for a in arrays):
            raise ValueError("position arrays must be 1-d and of the same length")
        option = self.kind == KIND_OPTION
        if not np.all(option | (self.kind == KIND_UNDERLYING)):
            raise ValueError("kind must be KIND_OPTION or KIND_UNDERLYING")
        if np.any(self.underlying < 0):
            raise ValueError("underlying indices must be >= 0")
        if not (np.all(np.isfinite(self.quantity)) and np.all(np.isfinite(self.multiplier))):
            raise ValueError("quantity and multiplier must be finite")
        if np.any(~(self.multiplier > 0.0)):
            raise ValueError("multiplier must be > 0")
        if np.any(~(self.expiry >= 0.0) | ~np.isfinite(self.expiry)):
            raise ValueError("expiry must be finite and >= 0 (years)")
        if np.any(~(self.strike[option] > 0.0) | ~np.isfinite(self.strike[option])):
            raise ValueError("option strikes must be finite and > 0")

        notional = self.quantity * self.multiplier
        opt = np.flatnonzero(option)
        order = opt[np.lexsort((self.expiry[opt], self.underlying[opt]))]
        strike = self.strike[order]
        legs = _OptionLegs(
            underlying=self.underlying[order].astype(np.intp),
            expiry=self.expiry[order],
            strike=strike,
            log_strike=np.log(strike),
            is_call=self.is_call[order],
            notional=notional[order],
        )
        one = np.flatnonzero(~option)
        delta_one = (self.underlying[one].astype(np.intp), self.expiry[one], notional[one])
        object.__setattr__(self, "_legs", legs)
        object.__setattr__(self, "_delta_one", delta_one)
        object.__setattr__(self, "_groups", {})

    def __len__(self) -> int:
        return int(self.underlying.size)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> Positions:
        """Build from mappings with keys underlying, quantity and, for options, strike,
        expiry, is_call. Optional: kind ("option" or "underlying"; default "option" when a
        strike is given), multiplier (default 100 for options, 1 for the underlying), expiry
        for the underlying (default 0)."""
        rows = []
        for record in records:
            kind_name = record.get("kind", "option" if "strike" in record else "underlying")
            if kind_name not in _KINDS:
                raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind_name!r}")
            kind = _KINDS[kind_name]
            is_option = kind == KIND_OPTION
            rows.append(
                (
                    int(record["underlying"]),
                    kind,
                    float(record["strike"]) if is_option else math.nan,
                    float(record["expiry"]) if is_option else float(record.get("expiry", 0.0)),
                    bool(record["is_call"]) if is_option else False,
                    float(record["quantity"]),
                    float(
                        record.get("multiplier", DEFAULT_OPTION_MULTIPLIER if is_option else 1.0)
                    ),
                )
            )
        columns = list(zip(*rows, strict=True)) if rows else [()] * 7
        return cls(*columns)

    def _option_groups(
        self, edges_years: tuple[float, ...], n_underlyings: int
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """(group id, first leg) of every non-empty (underlying, bucket) group of options.

        Group id = underlying · n_buckets + bucket. The legs are sorted by (underlying,
        expiry), so group ids are non-decreasing and each group is one contiguous run.
        Cached per bucket edges.
        """
        key = (*edges_years, float(n_underlyings))
        cached = self._groups.get(key)
        if cached is None:
            legs = self._legs
            gid = legs.underlying * (len(edges_years) + 1) + _bucket(legs.expiry, edges_years)
            starts = np.flatnonzero(np.diff(gid, prepend=-1))
            cached = (gid[starts], starts)
            if len(self._groups) >= _MAX_CACHED_EDGES:
                self._groups.clear()
            self._groups[key] = cached
        return cached


def _bucket(expiry: NDArray[np.float64], edges_years: Sequence[float]) -> NDArray[np.intp]:
    """Bucket index of each expiry: number of edges ≤ expiry."""
    return np.searchsorted(np.asarray(edges_years), expiry, side="right")


@dataclass(frozen=True, eq=False)
class Market:
    """Per underlying i: spot[i] (> 0), rate[i] and div[i] (continuously compounded, decimal)
    and surfaces[i], its implied-vol surface. The surfaces are stacked once here for the
    vectorised lookup across underlyings."""

    spot: NDArray[np.float64]
    rate: NDArray[np.float64]
    div: NDArray[np.float64]
    surfaces: tuple[VolSurface, ...]
    stack: SliceStack = field(init=False, repr=False)
    _ln_spot: NDArray[np.float64] = field(init=False, repr=False)
    _carry: NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("spot", "rate", "div"):
            value = _frozen_array(np.atleast_1d(getattr(self, name)), np.float64)
            object.__setattr__(self, name, value)
        surfaces = tuple(self.surfaces)
        object.__setattr__(self, "surfaces", surfaces)
        n = self.spot.shape
        if self.spot.ndim != 1 or self.rate.shape != n or self.div.shape != n:
            raise ValueError("spot, rate and div must be 1-d and of the same length")
        if len(surfaces) != n[0] or n[0] == 0:
            raise ValueError("need one VolSurface per underlying, and at least one underlying")
        if not all(isinstance(s, VolSurface) for s in surfaces):
            raise ValueError("surfaces must be VolSurface instances")
        if np.any(~(self.spot > 0.0)) or not np.all(np.isfinite(self.spot)):
            raise ValueError("spot must be finite and > 0")
        if not (np.all(np.isfinite(self.rate)) and np.all(np.isfinite(self.div))):
            raise ValueError("rate and div must be finite")
        object.__setattr__(self, "stack", SliceStack.from_surfaces(surfaces))
        object.__setattr__(self, "_ln_spot", np.log(self.spot))
        object.__setattr__(self, "_carry", self.rate - self.div)

    def __len__(self) -> int:
        return int(self.spot.size)


@dataclass(frozen=True, eq=False)
class RiskTable:
    """Aggregated risk; every field has the same shape ((U,) per underlying, (U, B) per
    underlying and expiry bucket). Units in the module doc."""

    value: NDArray[np.float64]
    delta: NDArray[np.float64]
    gamma: NDArray[np.float64]
    vega_per_point: NDArray[np.float64]
    theta_per_day: NDArray[np.float64]
    rho_per_pct: NDArray[np.float64]
    vanna_per_point: NDArray[np.float64]
    volga_per_point: NDArray[np.float64]
    dollar_delta: NDArray[np.float64]
    dollar_gamma_per_pct: NDArray[np.float64]


ADDITIVE_FIELDS = (
    "value",
    "vega_per_point",
    "theta_per_day",
    "rho_per_pct",
    "volga_per_point",
    "dollar_delta",
    "dollar_gamma_per_pct",
)
"""RiskTable fields in currency, summed across underlyings into `BookTotals`."""


@dataclass(frozen=True, slots=True)
class BookTotals:
    """Book-wide sums of the currency figures (units in the module doc)."""

    value: float
    vega_per_point: float
    theta_per_day: float
    rho_per_pct: float
    volga_per_point: float
    dollar_delta: float
    dollar_gamma_per_pct: float


@dataclass(frozen=True, eq=False)
class BookRisk:
    """Risk per underlying, per (underlying, expiry bucket), and book totals."""

    by_underlying: RiskTable
    by_bucket: RiskTable
    total: BookTotals
    bucket_edges_days: tuple[float, ...]

    @property
    def bucket_labels(self) -> tuple[str, ...]:
        """Names of the buckets, e.g. ('0-30d', '30-90d', …, '365d+')."""
        bounds = (0.0, *self.bucket_edges_days)
        labels = [f"{lo:g}-{hi:g}d" for lo, hi in itertools.pairwise(bounds)]
        return (*labels, f"{bounds[-1]:g}d+")


def _validated_edges(bucket_edges_days: Sequence[float]) -> tuple[float, ...]:
    edges = tuple(float(e) for e in bucket_edges_days)
    if not all(math.isfinite(e) and e > 0.0 for e in edges):
        raise ValueError("bucket edges must be finite and > 0 (days)")
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError("bucket edges must be strictly increasing")
    return edges


def book_risk(
    positions: Positions,
    market: Market,
    bucket_edges_days: Sequence[float] = DEFAULT_BUCKET_EDGES_DAYS,
) -> BookRisk:
    """Greeks of the book per underlying, per (underlying, expiry bucket) and in total.

    One vectorised pass: vol lookup on every option's surface, `bsm.greeks`, one segmented
    sum per greek. Bucket b holds expiries in [edge[b−1], edge[b]) days (edges in calendar
    days; the first bucket starts at 0, the last is open). Stock and futures add
    quantity × multiplier to delta (and so to dollar delta) and nothing else.
    """
    edges = _validated_edges(bucket_edges_days)
    edges_years = tuple(e / DAYS_PER_YEAR for e in edges)
    n_und, n_buckets = len(market), len(edges) + 1
    if len(positions) and int(positions.underlying.max()) >= n_und:
        raise ValueError("a position refers to an underlying the market does not have")

    sums = np.zeros((_OPTION_GREEKS, n_und * n_buckets))
    legs = positions._legs
    if legs.expiry.size:
        group, starts = positions._option_groups(edges_years, n_und)
        u, t = legs.underlying, legs.expiry
        k = legs.log_strike - market._ln_spot.take(u) - market._carry.take(u) * t
        vol = np.sqrt(np.maximum(market.stack.implied_variance(k, t, u), 0.0))
        greeks = bsm.greeks(
            market.spot.take(u),
            legs.strike,
            t,
            market.rate.take(u),
            market.div.take(u),
            vol,
            legs.is_call,
        )
        weighted = np.empty_like(t)
        for row, greek in enumerate(greeks):
            np.multiply(greek, legs.notional, out=weighted)
            sums[row, group] = np.add.reduceat(weighted, starts)
    d_und, d_expiry, d_notional = positions._delta_one
    if d_und.size:
        gid = d_und * n_buckets + _bucket(d_expiry, edges_years)
        sums[1] += np.bincount(gid, weights=d_notional, minlength=n_und * n_buckets)

    by_bucket = _table(sums.reshape(_OPTION_GREEKS, n_und, n_buckets), market.spot[:, None])
    by_underlying = _table(sums.reshape(_OPTION_GREEKS, n_und, n_buckets).sum(axis=2), market.spot)
    total = BookTotals(**{f: float(getattr(by_underlying, f).sum()) for f in ADDITIVE_FIELDS})
    return BookRisk(by_underlying, by_bucket, total, edges)


def _table(sums: NDArray[np.float64], spot: NDArray[np.float64]) -> RiskTable:
    """RiskTable from summed (price, delta, gamma, vega, theta, rho, vanna, volga) rows."""
    value, delta, gamma, vega, theta, rho, vanna, volga = sums
    return RiskTable(
        value=value,
        delta=delta,
        gamma=gamma,
        vega_per_point=vega,
        theta_per_day=theta,
        rho_per_pct=rho,
        vanna_per_point=vanna,
        volga_per_point=volga,
        dollar_delta=delta * spot,
        dollar_gamma_per_pct=gamma * spot * spot / 100.0,
    )
