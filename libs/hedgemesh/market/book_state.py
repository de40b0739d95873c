"""The book and its market as the agents, the manager and the API see them: pure, no I/O.

`BookState` is fed the wire messages a service receives — `PositionSnapshot` (per underlying,
from the ledger), `Tick` and `Surface` (from marketdata) — and answers risk questions at a
given time `now` with `hedgemesh.quant.book.book_risk` (one vectorised pass over every
underlying):

- `risk(now)`: greeks per underlying, per (underlying, expiry bucket) and in total. Row i of
  every table is underlying `underlyings[i]`: those with a tick and a surface (the ones that
  can be priced), sorted by name.
- `greeks_per_unit(instruments, now)`: the greeks one unit of quantity of each candidate hedge
  brings (one contract of an option, multiplier included; one unit of the underlying), on
  the same vol lookup and pricing as `risk`, so that "book + legs" adds up exactly. An
  `InstrumentBatch` (arrays built once) prices the same candidates on every tick cheaply.
- `fair_values(instruments)`: `hedgemesh.market.fair_value.fair_values` on the latest tick and
  surface (the one fair-value formula of the system).
- staleness: `tick_age_s(underlying, now)`, `is_stale(underlying, now, max_age_s)`.

Mapping to the quant book. A wire `Position` becomes one row of `quant.book.Positions`:
the underlying's index in `underlyings`, KIND_OPTION or KIND_UNDERLYING, the strike, the
expiry in years from `now` (ACT/365: (expiry − now) / 365 days), call or put, the signed
quantity and the multiplier. Options with expiry ≤ now are left out (expired: the ledger
settles them), and so are flat positions. The market is one row per priced underlying:
spot = the tick's price, rate and dividend yield from the surface, and the surface's SVI
slices as a `VolSurface` (`fair_value.vol_surface`, converted once per surface message). The
vol of an option is read at log-moneyness ln(K / F) with F = spot · e^{(rate − div)·t} at t
years from `now` (sticky moneyness, as `book_risk` does).

Ordering. A snapshot replaces the held one only if its `as_of_seq` is higher (the ledger's
sequence survives restarts); a tick or a surface replaces the held one if it is newer by
(`ts`, `seq`), so an out-of-order or replayed message is ignored while a restarted producer,
whose `seq` starts again, is still followed.

Caching. The wire positions are turned into arrays once per snapshot, and the arrays of
every priced underlying are concatenated once per change of positions or of the set of
priced underlyings, ordered by (underlying, expiry) — the layout `Positions` sorts into, so
its sort per `now` runs on ordered data. `Market` is rebuilt once per new tick or surface,
and `risk` is memoised for the last `now`, so several readers in one tick share one pass.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from hedgemesh.market.fair_value import InstrumentArrays, fair_values
from hedgemesh.market.view import MarketView
from hedgemesh.quant import bsm
from hedgemesh.quant.book import (
    DEFAULT_BUCKET_EDGES_DAYS,
    KIND_OPTION,
    KIND_UNDERLYING,
    BookRisk,
    Market,
    Positions,
    book_risk,
)
from hedgemesh.quant.surface import VolSurface
from hedgemesh.wire.book import Position, PositionSnapshot
from hedgemesh.wire.instruments import Instrument
from hedgemesh.wire.market import Surface, Tick

__all__ = ["SECONDS_PER_YEAR", "BookState", "InstrumentBatch", "UnitGreeks"]

_M = TypeVar("_M", Tick, Surface)

SECONDS_PER_YEAR = bsm.DAYS_PER_YEAR * 86_400.0
"""ACT/365 year, in seconds (as `bsm` and `fair_value`)."""


@dataclass(frozen=True, slots=True, eq=False)
class UnitGreeks:
    """Greeks of one unit of quantity of each instrument (one option contract, multiplier
    included; one unit of the underlying), arrays in the order of the instruments asked.

    value: premium of one contract (currency; 0 for the underlying, which `book_risk` does not
    value); delta: units of the underlying; gamma: delta per 1 currency unit of spot;
    vega_per_point: currency per vol point; theta_per_day: currency per calendar day;
    vanna_per_point: change of delta per vol point; volga_per_point: change of vega per point
    per vol point; vol: the implied vol used (decimal; 0 for the underlying). An expired option
    has all zero.
    """

    value: NDArray[np.float64]
    delta: NDArray[np.float64]
    gamma: NDArray[np.float64]
    vega_per_point: NDArray[np.float64]
    theta_per_day: NDArray[np.float64]
    vol: NDArray[np.float64]
    vanna_per_point: NDArray[np.float64]
    volga_per_point: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.delta.size)


@dataclass(frozen=True, slots=True, eq=False)
class _Rows:
    """One underlying's open positions as arrays (expiry as Unix seconds; 0 for the
    underlying), sorted by expiry."""

    kind: NDArray[np.int8]
    strike: NDArray[np.float64]
    expiry_s: NDArray[np.float64]
    is_call: NDArray[np.bool_]
    quantity: NDArray[np.float64]
    multiplier: NDArray[np.float64]

    @classmethod
    def of(cls, positions: Sequence[Position]) -> _Rows:
        open_ = [p for p in positions if p.quantity != 0]
        arrays = InstrumentArrays.of([p.instrument for p in open_])
        n = len(open_)
        quantity = np.fromiter((p.quantity for p in open_), np.float64, n)
        multiplier = np.fromiter((p.instrument.multiplier for p in open_), np.float64, n)
        kind = np.where(arrays.is_option, KIND_OPTION, KIND_UNDERLYING).astype(np.int8)
        order = np.argsort(arrays.expiry_s, kind="stable")
        return cls(
            kind[order],
            arrays.strike[order],
            arrays.expiry_s[order],
            arrays.is_call[order],
            quantity[order],
            multiplier[order],
        )


_NO_ROWS = _Rows.of(())


@dataclass(frozen=True, slots=True, eq=False)
class _Layout:
    """The open positions of every priced underlying, concatenated in (underlying, expiry)
    order, with each row's underlying index."""

    underlying: NDArray[np.int64]
    rows: _Rows


def _years(expiry_s: NDArray[np.float64], now: datetime) -> NDArray[np.float64]:
    return (expiry_s - now.timestamp()) / SECONDS_PER_YEAR


class BookState:
    """Positions, ticks and surfaces of any number of underlyings, and the book's risk on them
    (see the module doc). Not thread-safe; one per service, fed from its event loop."""

    def __init__(self, bucket_edges_days: Sequence[float] = DEFAULT_BUCKET_EDGES_DAYS) -> None:
        self._edges = tuple(float(e) for e in bucket_edges_days)
        self._snapshots: dict[str, PositionSnapshot] = {}
        self._rows: dict[str, _Rows] = {}
        self._view = MarketView()
        self._underlyings: tuple[str, ...] = ()
        self._index: dict[str, int] = {}
        self._layout: _Layout | None = None
        self._market: Market | None = None
        self._surface_market: Market | None = None
        self._risk: tuple[float, BookRisk] | None = None

    # -- inputs ---------------------------------------------------------------------------

    @property
    def bucket_edges_days(self) -> tuple[float, ...]:
        """Expiry bucket edges (calendar days) of `risk(...).by_bucket`."""
        return self._edges

    def apply(self, message: PositionSnapshot | Tick | Surface) -> bool:
        """Take any input message; True if it changed the state (see `apply_*`)."""
        if isinstance(message, PositionSnapshot):
            return self.apply_snapshot(message)
        if isinstance(message, Tick):
            return self.apply_tick(message)
        return self.apply_surface(message)

    def apply_snapshot(self, snapshot: PositionSnapshot) -> bool:
        """Replace the underlying's positions if `snapshot.as_of_seq` is higher than the held
        one's (True), else ignore it (False)."""
        held = self._snapshots.get(snapshot.underlying)
        if held is not None and snapshot.as_of_seq <= held.as_of_seq:
            return False
        self._snapshots[snapshot.underlying] = snapshot
        self._rows[snapshot.underlying] = _Rows.of(snapshot.positions)
        self._layout = None
        self._risk = None
        return True

    def apply_tick(self, tick: Tick) -> bool:
        """Take the tick if newer by (ts, seq) than the held one (True), else ignore it."""
        return self._apply_market(tick, self._view.tick, self._view.apply_tick)

    def apply_surface(self, surface: Surface) -> bool:
        """Take the surface if newer by (ts, seq) than the held one (True), else ignore it;
        ValueError (nothing taken) for one the quant library refuses."""
        return self._apply_market(surface, self._view.surface, self._view.apply_surface)

    def _apply_market(
        self,
        message: _M,
        held: Callable[[str], _M | None],
        take: Callable[[_M], None],
    ) -> bool:
        previous = held(message.underlying)
        if previous is not None and (message.ts, message.seq) <= (previous.ts, previous.seq):
            return False
        take(message)
        first = previous is None
        self._market_moved(message.underlying, first=first, surface=isinstance(message, Surface))
        return True

    def _market_moved(self, underlying: str, *, first: bool, surface: bool) -> None:
        self._market = None
        if surface:
            self._surface_market = None
        self._risk = None
        if first:
            priced = self._view.priced()
            if priced != self._underlyings:
                self._surface_market = None
                self._underlyings = priced
                self._index = {name: i for i, name in enumerate(priced)}
                self._layout = None

    # -- what is held ---------------------------------------------------------------------

    @property
    def underlyings(self) -> tuple[str, ...]:
        """Underlyings with a tick and a surface, sorted: row i of `risk` is `underlyings[i]`."""
        return self._underlyings

    def index(self, underlying: str) -> int:
        """Row of `underlying` in `risk`; KeyError if it has no tick or no surface yet."""
        return self._index[underlying]

    @property
    def view(self) -> MarketView:
        """The market held (the latest tick and surface of each underlying)."""
        return self._view

    def tick(self, underlying: str) -> Tick | None:
        return self._view.tick(underlying)

    def surface(self, underlying: str) -> Surface | None:
        return self._view.surface(underlying)

    def vol_surface(self, underlying: str) -> VolSurface | None:
        """The held surface as a quant `VolSurface` (converted once)."""
        return self._view.vol_surface(underlying)

    def snapshot(self, underlying: str) -> PositionSnapshot | None:
        return self._snapshots.get(underlying)

    def positions_seq(self, underlying: str) -> int | None:
        """`as_of_seq` of the held snapshot, or None."""
        snapshot = self._snapshots.get(underlying)
        return None if snapshot is None else snapshot.as_of_seq

    def position_quantity(self, instrument: Instrument) -> int:
        """Signed quantity held of `instrument` (0 if none)."""
        snapshot = self._snapshots.get(instrument.underlying)
        if snapshot is None:
            return 0
        symbol = instrument.symbol
        return next((p.quantity for p in snapshot.positions if p.instrument.symbol == symbol), 0)

    def unpriced_underlyings(self) -> tuple[str, ...]:
        """Underlyings with open positions but no tick or no surface: not in `risk`."""
        return tuple(
            sorted(u for u, rows in self._rows.items() if len(rows.kind) and u not in self._index)
        )

    # -- staleness ------------------------------------------------------------------------

    def tick_age_s(self, underlying: str, now: datetime) -> float:
        """Seconds from the latest tick's `ts` to `now` (inf if there is none)."""
        tick = self._view.tick(underlying)
        return math.inf if tick is None else (now - tick.ts).total_seconds()

    def is_stale(self, underlying: str, now: datetime, max_age_s: float) -> bool:
        """True when there is no tick or no surface, or the tick is older than `max_age_s`."""
        if underlying not in self._index:
            return True
        return self.tick_age_s(underlying, now) > max_age_s

    # -- the quant book -------------------------------------------------------------------

    def market(self) -> Market | None:
        """The quant `Market` of `underlyings` (None while none is priced)."""
        if self._market is None and self._underlyings:
            inputs = [self._view.inputs(u) for u in self._underlyings]
            spot = np.array([tick.price for tick, _, _ in inputs])
            if self._surface_market is None:
                self._surface_market = Market(
                    spot=spot,
                    rate=np.array([surface.rate for _, surface, _ in inputs]),
                    div=np.array([surface.div for _, surface, _ in inputs]),
                    surfaces=tuple(vol for _, _, vol in inputs),
                )
            self._market = _with_spot(self._surface_market, spot)
        return self._market

    def _positions_layout(self) -> _Layout:
        if self._layout is None:
            parts = [(i, self._rows[u]) for i, u in enumerate(self._underlyings) if u in self._rows]
            parts.append((0, _NO_ROWS))  # so that the concatenations have something to join
            rows = _Rows(
                *(np.concatenate([getattr(r, f.name) for _, r in parts]) for f in fields(_Rows))
            )
            und = np.concatenate([np.full(len(r.kind), i, np.int64) for i, r in parts])
            self._layout = _Layout(und, rows)
        return self._layout

    def positions(self, now: datetime) -> Positions:
        """The quant `Positions` of the priced underlyings at `now` (expired options and flat
        positions left out; expiry of the underlying's rows is 0)."""
        layout = self._positions_layout()
        rows = layout.rows
        option = rows.kind == KIND_OPTION
        expiry = np.where(option, _years(rows.expiry_s, now), 0.0)
        live = ~option | (expiry > 0.0)
        return Positions(
            layout.underlying[live],
            rows.kind[live],
            rows.strike[live],
            expiry[live],
            rows.is_call[live],
            rows.quantity[live],
            rows.multiplier[live],
        )

    def risk(self, now: datetime) -> BookRisk:
        """Greeks of the book at `now` per underlying (rows as `underlyings`), per (underlying,
        expiry bucket) and in total; ValueError while no underlying is priced."""
        market = self.market()
        if market is None:
            raise ValueError("no underlying has both a tick and a surface yet")
        stamp = now.timestamp()
        if self._risk is not None and self._risk[0] == stamp:
            return self._risk[1]
        risk = book_risk(self.positions(now), market, self._edges)
        self._risk = (stamp, risk)
        return risk

    def greeks_per_unit(
        self, instruments: Sequence[Instrument] | InstrumentBatch, now: datetime
    ) -> UnitGreeks:
        """Greeks of one unit of quantity of each instrument at `now` (see `UnitGreeks`);
        KeyError if an instrument's underlying is not priced."""
        batch = (
            instruments
            if isinstance(instruments, InstrumentBatch)
            else InstrumentBatch.of(instruments)
        )
        n = len(batch)
        market = self.market()
        if market is None and n:
            raise KeyError(batch.names[0])
        und = np.array([self._index[name] for name in batch.names], np.intp)[batch.code]
        arrays, multiplier = batch.arrays, batch.multiplier
        t = _years(arrays.expiry_s, now)
        live = arrays.is_option & (t > 0.0)
        value, delta, gamma, vega, theta, vol, vanna, volga = (np.zeros(n) for _ in range(8))
        delta[~arrays.is_option] = multiplier[~arrays.is_option]
        if live.any():
            assert market is not None
            u, tl = und[live], t[live]
            k = (
                np.log(arrays.strike[live])
                - market._ln_spot[u]
                - (market.rate - market.div)[u] * tl
            )
            sigma = np.sqrt(np.maximum(market.stack.implied_variance(k, tl, u), 0.0))
            g = bsm.greeks(
                market.spot[u],
                arrays.strike[live],
                tl,
                market.rate[u],
                market.div[u],
                sigma,
                arrays.is_call[live],
            )
            m = multiplier[live]
            value[live], delta[live], gamma[live] = g.price * m, g.delta * m, g.gamma * m
            vega[live], theta[live], vol[live] = g.vega * m, g.theta * m, sigma
            vanna[live], volga[live] = g.vanna * m, g.volga * m
        return UnitGreeks(value, delta, gamma, vega, theta, vol, vanna, volga)

    def revalue(
        self,
        batch: InstrumentBatch,
        now: datetime,
        spot: float,
        vol: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Value of one unit of each instrument of one underlying at `now` with the spot and
        the implied vols given (not the market's): an option by Black–Scholes–Merton on the
        latest surface's rate and dividend yield, times its multiplier; the underlying at
        `spot` × multiplier; an expired option at 0. For full-revaluation P&L attribution.
        KeyError if the underlying is not priced."""
        n = len(batch)
        if not n:
            return np.empty(0)
        if len(batch.names) > 1:
            raise ValueError(f"instruments of several underlyings: {list(batch.names)}")
        surface = self.surface(batch.names[0])
        if surface is None:
            raise KeyError(batch.names[0])
        arrays, multiplier = batch.arrays, batch.multiplier
        t = _years(arrays.expiry_s, now)
        live = arrays.is_option & (t > 0.0)
        value = np.where(arrays.is_option, 0.0, spot * multiplier)
        if live.any():
            value[live] = (
                bsm.price(
                    spot,
                    arrays.strike[live],
                    t[live],
                    surface.rate,
                    surface.div,
                    vol[live],
                    arrays.is_call[live],
                )
                * multiplier[live]
            )
        return value

    def fair_values(
        self, instruments: Sequence[Instrument] | InstrumentBatch
    ) -> NDArray[np.float64]:
        """Fair value per unit of the underlying of each instrument (all on one underlying),
        from the latest tick and surface (`hedgemesh.market.fair_value`); KeyError if that
        underlying is not priced."""
        batch = (
            instruments
            if isinstance(instruments, InstrumentBatch)
            else InstrumentBatch.of(instruments)
        )
        if not len(batch):
            return np.empty(0)
        if len(batch.names) > 1:
            raise ValueError(f"instruments of several underlyings: {list(batch.names)}")
        underlying = batch.names[0]
        if underlying not in self._index:
            raise KeyError(underlying)
        tick, surface, vol = self._view.inputs(underlying)
        return fair_values(tick, surface, batch.arrays, surf=vol)


def _with_spot(market: Market, spot: NDArray[np.float64]) -> Market:
    """`market` at other spots, sharing its stacked surfaces (the stack is built once per
    surface, not per tick; a fresh `Market` would rebuild it). Spot is checked as `Market`
    checks it."""
    if np.array_equal(spot, market.spot):
        return market
    if spot.shape != market.spot.shape or not np.all(np.isfinite(spot) & (spot > 0.0)):
        raise ValueError("spot must be finite and > 0, one per underlying")
    moved = copy.copy(market)
    frozen = spot.copy()
    frozen.flags.writeable = False
    object.__setattr__(moved, "spot", frozen)
    object.__setattr__(moved, "_ln_spot", np.log(frozen))
    return moved


@dataclass(frozen=True, slots=True, eq=False)
class InstrumentBatch:
    """Instruments with their arrays built once, to be priced on many ticks (an agent's
    listed candidates): `greeks_per_unit` and `fair_values` take one in place of a list.

    names: the distinct underlyings; code: each instrument's index in `names`; arrays: strike,
    expiry, right (`fair_value.InstrumentArrays`, one underlying's or, for several, with an
    empty `underlying`); multiplier per instrument.
    """

    instruments: tuple[Instrument, ...]
    names: tuple[str, ...]
    code: NDArray[np.intp]
    arrays: InstrumentArrays
    multiplier: NDArray[np.float64]

    @classmethod
    def of(cls, instruments: Sequence[Instrument]) -> InstrumentBatch:
        items = tuple(instruments)
        names = tuple(sorted({i.underlying for i in items}))
        position = {name: k for k, name in enumerate(names)}
        n = len(items)
        code = np.fromiter((position[i.underlying] for i in items), np.intp, n)
        if len(names) <= 1:
            arrays = InstrumentArrays.of(items)
        else:  # InstrumentArrays holds one underlying: build per underlying, then interleave
            parts = [np.flatnonzero(code == k) for k in range(len(names))]
            groups = [InstrumentArrays.of([items[int(i)] for i in part]) for part in parts]
            where = np.concatenate(parts)
            columns = []
            for name in ("is_option", "strike", "expiry_s", "is_call"):
                column = np.empty(n, getattr(groups[0], name).dtype)
                column[where] = np.concatenate([getattr(g, name) for g in groups])
                columns.append(column)
            arrays = InstrumentArrays("", *columns)
        multiplier = np.fromiter((i.multiplier for i in items), np.float64, n)
        return cls(items, names, code, arrays, multiplier)

    def __len__(self) -> int:
        return len(self.instruments)
