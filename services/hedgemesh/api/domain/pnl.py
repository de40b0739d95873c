"""P&L attribution followed incrementally from what the API already receives (pure, no I/O).

Per underlying, the tracker holds the book as of the latest position snapshot (quantities
and cash) and the value and greeks per unit of each holding at the latest market state (from
the shared `BookState`: the same vol lookup and pricing as the risk figures). Then:

- every tick or surface is a market move: the holdings are revalued and the change explained
  by delta, gamma, vega, vanna, volga and theta at the previous state
  (`quant.attribution.explain_move`); a large move (spot by more than `large_spot_move`, or
  any holding's vol by more than `large_vol_move`) is split by full revaluation instead
  (`quant.attribution.explain_move_revalued`). The rest is unexplained;
- every new snapshot is a change of holdings: the quantities bought or sold are valued at the
  current state and the cash they moved added (`quant.attribution.trade_pnl`). When the
  snapshot was caused by a hedge fill (its `causation_id` is the id of an execution report the
  API saw) that P&L is a transaction cost — spread, slippage and fees against fair value —
  otherwise a new trade (a client's).

So the breakdown always adds up to the change of the book's value, cash + Σ quantity ·
value, since the baseline: the first snapshot seen once the underlying is priced. The
underlying itself is valued at spot.

**Windows.** The cumulative breakdowns are sampled (about one sample per underlying per
`sample_s` of market time, the newest moving with the book); a window's attribution is the
cumulative breakdown now less the one at the window's start. A window that starts before the
tracker began following (the API started after the desk) carries the ledger's total P&L at
the baseline as `not_followed`: what the book made before the API saw it, exact when the
ledger's book opened inside the window (as every scenario run's does), not split by source.

Approximations, said plainly: each small move is explained by the greeks of its start (many
small moves, one per tick, keep the rest small); an option that expires between two moves
drops to zero value (unexplained) until the ledger's settlement arrives as cash (a new trade);
a snapshot that books several events at once is classified by its last one.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from hedgemesh.market.book_state import BookState, InstrumentBatch
from hedgemesh.quant.attribution import (
    VOL_POINT,
    MoveAttribution,
    PnlBreakdown,
    explain_move,
    explain_move_revalued,
    trade_pnl,
)
from hedgemesh.wire.book import PositionSnapshot
from hedgemesh.wire.instruments import Instrument

__all__ = ["HedgeBook", "PnlTracker", "UnderlyingPnl"]

_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True, eq=False)
class _Units:
    """Value and greeks of one unit of each holding at one market state."""

    at: datetime
    spot: float
    value: NDArray[np.float64]
    delta: NDArray[np.float64]
    gamma: NDArray[np.float64]
    vega_per_point: NDArray[np.float64]
    theta_per_day: NDArray[np.float64]
    vol: NDArray[np.float64]
    vanna_per_point: NDArray[np.float64]
    volga_per_point: NDArray[np.float64]


@dataclass(slots=True, eq=False)
class HedgeBook:
    """The hedges alone: quantities the hedge fills changed, per instrument, and their cash
    (fees included). Valued at the market, `Σ q · V + cash` is the hedges' P&L — market moves
    on what they bought and the costs of buying it — so the book without them made
    `total − hedge P&L`."""

    instruments: dict[str, Instrument] = field(default_factory=dict)
    quantity: dict[str, float] = field(default_factory=dict)
    cash: float = 0.0

    def add(self, instruments: list[Instrument], change: NDArray[np.float64], cash: float) -> None:
        for instrument, q in zip(instruments, change, strict=True):
            if q:
                self.instruments[instrument.symbol] = instrument
                self.quantity[instrument.symbol] = self.quantity.get(instrument.symbol, 0.0) + q
        self.cash += cash


@dataclass(slots=True, eq=False)
class UnderlyingPnl:
    """What the tracker follows of one underlying."""

    underlying: str
    holdings: InstrumentBatch
    """The instruments held (arrays built once per snapshot, priced on every tick)."""
    quantity: NDArray[np.float64]
    cash: float
    units: _Units | None = None
    baseline_value: float | None = None
    since: datetime | None = None
    breakdown: PnlBreakdown = field(default_factory=PnlBreakdown)
    """Cumulative since the baseline."""
    ledger_pnl: float = 0.0
    """The latest snapshot's total P&L (the ledger's, since its book opened)."""
    ledger_pnl_at_baseline: float = 0.0
    history_at: list[float] = field(default_factory=list)
    """Market times (Unix seconds) of the samples of `history`, increasing."""
    history: list[PnlBreakdown] = field(default_factory=list)
    """The cumulative breakdown at each time of `history_at`."""
    hedges: HedgeBook = field(default_factory=lambda: HedgeBook())
    """What the hedge fills bought and sold since the baseline, and the cash they moved."""

    def at(self, when: datetime) -> PnlBreakdown | None:
        """The cumulative breakdown as of `when` (the last sample not after it); None when
        `when` is before the baseline."""
        i = bisect.bisect_right(self.history_at, when.timestamp())
        return self.history[i - 1] if i else None

    def window(self, start: datetime) -> PnlBreakdown:
        """P&L from `start` to now (see the module doc's windows)."""
        if self.since is None:
            return PnlBreakdown()
        if start < self.since:
            return self.breakdown + PnlBreakdown(not_followed=self.ledger_pnl_at_baseline)
        held = self.at(start)
        return self.breakdown - (held or PnlBreakdown())

    @property
    def value(self) -> float | None:
        """The book's value, cash + Σ quantity · value per unit (currency); None unpriced."""
        if self.units is None:
            return None
        return self.cash + float(np.dot(self.quantity, self.units.value))

    @property
    def change(self) -> float | None:
        """Change of value since the baseline: what the breakdown explains (currency)."""
        value = self.value
        if value is None or self.baseline_value is None:
            return None
        return value - self.baseline_value


def _holdings(snapshot: PositionSnapshot) -> tuple[InstrumentBatch, NDArray[np.float64]]:
    open_ = [p for p in snapshot.positions if p.quantity != 0]
    quantity = np.fromiter((p.quantity for p in open_), np.float64, len(open_))
    return InstrumentBatch.of([p.instrument for p in open_]), quantity


class PnlTracker:
    """P&L attribution of every underlying (see the module doc); fed after `BookState` took
    the message. Not thread-safe: one per read model.

    large_spot_move: a relative spot move above which a move is split by full revaluation;
    large_vol_move: the same for any holding's implied vol (decimal); sample_s: market seconds
    between samples of the cumulative breakdown; samples_kept: the most kept per underlying
    (the oldest are dropped)."""

    def __init__(
        self,
        book: BookState,
        *,
        fills_remembered: int = 10_000,
        large_spot_move: float = 0.005,
        large_vol_move: float = 0.5 * VOL_POINT,
        sample_s: float = 60.0,
        samples_kept: int = 20_000,
    ) -> None:
        self._book = book
        self._books: dict[str, UnderlyingPnl] = {}
        self._fills: OrderedDict[str, None] = OrderedDict()
        self._fills_remembered = fills_remembered
        self.large_spot_move = large_spot_move
        self.large_vol_move = large_vol_move
        self.sample_s = sample_s
        self.samples_kept = samples_kept

    def __getitem__(self, underlying: str) -> UnderlyingPnl:
        return self._books[underlying]

    def underlyings(self) -> list[str]:
        return sorted(self._books)

    def get(self, underlying: str) -> UnderlyingPnl | None:
        return self._books.get(underlying)

    def total(self, start: datetime | None = None) -> PnlBreakdown:
        """Every underlying's breakdown since its baseline, or over the window from `start`."""
        return sum(
            (b.breakdown if start is None else b.window(start) for b in self._books.values()),
            PnlBreakdown(),
        )

    # -- inputs -------------------------------------------------------------------------------

    def note_fill(self, report_id: str) -> None:
        """Remember an execution report's message id: a snapshot it caused is a hedge fill."""
        self._fills[report_id] = None
        if len(self._fills) > self._fills_remembered:
            self._fills.popitem(last=False)

    def on_market(self, underlying: str) -> None:
        """A new tick or surface of `underlying` was applied to the book: explain the move."""
        book = self._books.get(underlying)
        if book is None:
            return
        units = self._units(underlying, book.holdings)
        if units is None:
            return
        before = book.units
        book.units = units
        if before is None:
            self._set_baseline(book)
            return
        if not len(book.holdings):
            return
        book.breakdown += self._explain(book, before, units).breakdown()
        self._sample(book, units.at)

    def _explain(self, book: UnderlyingPnl, before: _Units, after: _Units) -> MoveAttribution:
        """The move from `before` to `after` of the book's holdings: by the greeks, or by full
        revaluation when it is large."""
        common = {
            "quantity": book.quantity,
            "value_before": before.value,
            "value_after": after.value,
            "delta": before.delta,
            "theta_per_day": before.theta_per_day,
            "vega_per_point": before.vega_per_point,
            "spot_before": before.spot,
            "spot_after": after.spot,
            "vol_before": before.vol,
            "vol_after": after.vol,
            "days": max((after.at - before.at).total_seconds(), 0.0) / _SECONDS_PER_DAY,
        }
        large_spot = abs(after.spot - before.spot) > self.large_spot_move * before.spot
        large_vol = bool(np.any(np.abs(after.vol - before.vol) > self.large_vol_move))
        if not (large_spot or large_vol):
            return explain_move(
                gamma=before.gamma,
                vanna_per_point=before.vanna_per_point,
                volga_per_point=before.volga_per_point,
                **common,
            )
        revalue = self._book.revalue
        holdings, at = book.holdings, before.at
        return explain_move_revalued(
            value_spot_moved=revalue(holdings, at, after.spot, before.vol),
            value_vol_moved=revalue(holdings, at, before.spot, after.vol),
            value_both_moved=revalue(holdings, at, after.spot, after.vol),
            **common,
        )

    def _sample(self, book: UnderlyingPnl, when: datetime) -> None:
        """Record the cumulative breakdown at `when` (replacing the last sample when it is
        less than `sample_s` older)."""
        t = when.timestamp()
        times, samples = book.history_at, book.history
        if times and t < times[-1]:
            t = times[-1]  # a snapshot stamped before the latest tick: keep the order
        if len(times) >= 2 and t - times[-2] < self.sample_s:
            times[-1], samples[-1] = t, book.breakdown
        else:
            times.append(t)
            samples.append(book.breakdown)
        if len(times) > self.samples_kept:
            del times[0], samples[0]

    def on_snapshot(self, snapshot: PositionSnapshot) -> None:
        """A newer snapshot of the underlying was applied to the book: book the change of
        holdings as trades (transaction costs when a hedge fill caused it)."""
        holdings, quantity = _holdings(snapshot)
        book = self._books.get(snapshot.underlying)
        if book is None:
            book = UnderlyingPnl(snapshot.underlying, holdings, quantity, snapshot.cash)
            book.ledger_pnl = snapshot.total_pnl
            self._books[snapshot.underlying] = book
            self.on_market(snapshot.underlying)
            return
        book.ledger_pnl = snapshot.total_pnl
        if book.units is not None:
            before, after = book.holdings.instruments, holdings.instruments
            union = list({i.symbol: i for i in (*before, *after)}.values())
            units = self._units(snapshot.underlying, InstrumentBatch.of(union))
            if units is not None:
                index = {i.symbol: n for n, i in enumerate(union)}
                change = np.zeros(len(union))
                np.add.at(change, [index[i.symbol] for i in after], quantity)
                np.subtract.at(change, [index[i.symbol] for i in before], book.quantity)
                pnl = trade_pnl(change, units.value, snapshot.cash - book.cash)
                if snapshot.causation_id is not None and snapshot.causation_id in self._fills:
                    book.breakdown += PnlBreakdown(transaction_costs=pnl)
                    book.hedges.add(union, change, snapshot.cash - book.cash)
                else:
                    book.breakdown += PnlBreakdown(new_trades=pnl)
                self._sample(book, max(snapshot.ts, units.at))
        book.holdings, book.quantity, book.cash = holdings, quantity, snapshot.cash
        if book.units is not None:
            book.units = self._units(snapshot.underlying, holdings)

    # -- valuation ----------------------------------------------------------------------------

    def hedge_pnl(self, underlying: str) -> float | None:
        """The P&L of the hedges since the baseline at the latest market (`HedgeBook`); None
        while the underlying is not priced."""
        book = self._books.get(underlying)
        if book is None or book.units is None:
            return None
        hedges = book.hedges
        held = [s for s, q in hedges.quantity.items() if q]
        if not held:
            return hedges.cash
        units = self._units(underlying, InstrumentBatch.of([hedges.instruments[s] for s in held]))
        if units is None:
            return None
        return hedges.cash + float(np.dot([hedges.quantity[s] for s in held], units.value))

    def _set_baseline(self, book: UnderlyingPnl) -> None:
        assert book.units is not None
        book.baseline_value = book.value
        book.since = book.units.at
        book.ledger_pnl_at_baseline = book.ledger_pnl
        self._sample(book, book.units.at)

    def _market_time(self, underlying: str) -> datetime | None:
        tick, surface = self._book.tick(underlying), self._book.surface(underlying)
        if tick is None or surface is None or underlying not in self._book.underlyings:
            return None
        return max(tick.ts, surface.ts)

    def _units(self, underlying: str, batch: InstrumentBatch) -> _Units | None:
        """Value and greeks per unit of the instruments at the underlying's latest market
        state; None while it has no tick or no surface."""
        at = self._market_time(underlying)
        tick = self._book.tick(underlying)
        if at is None or tick is None:
            return None
        g = self._book.greeks_per_unit(batch, at)
        # BookState values options only; the underlying is worth its spot per unit (as
        # `BookState.revalue`).
        value = np.where(batch.arrays.is_option, g.value, tick.price * batch.multiplier)
        return _Units(
            at,
            tick.price,
            value,
            g.delta,
            g.gamma,
            g.vega_per_point,
            g.theta_per_day,
            g.vol,
            g.vanna_per_point,
            g.volga_per_point,
        )
