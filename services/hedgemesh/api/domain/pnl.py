"""P&L attribution followed incrementally from what the API already receives (pure, no I/O).

Per underlying, the tracker holds the book as of the latest position snapshot (quantities
and cash) and the value and greeks per unit of each holding at the latest market state (from
the shared `BookState`: the same vol lookup and pricing as the risk figures). Then:

- every tick or surface is a market move: the holdings are revalued and the change explained
  by delta, gamma, theta and vega at the previous state (`quant.attribution.explain_move`);
  the rest is unexplained;
- every new snapshot is a change of holdings: the quantities bought or sold are valued at the
  current state and the cash they moved added (`quant.attribution.trade_pnl`). When the
  snapshot was caused by a hedge fill (its `causation_id` is the id of an execution report the
  API saw) that P&L is a transaction cost — spread, slippage and fees against fair value —
  otherwise a new trade (a client's).

So the breakdown always adds up to the change of the book's value, cash + Σ quantity ·
value, since the baseline: the first snapshot seen once the underlying is priced. The
underlying itself is valued at spot. Approximations, said plainly: each move is explained by
the greeks of its start (many small moves, one per tick, keep the rest small); an option that
expires between two moves drops to zero value (unexplained) until the ledger's settlement
arrives as cash (a new trade); a snapshot that books several events at once is classified by
its last one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from hedgemesh.market.book_state import BookState, InstrumentBatch
from hedgemesh.quant.attribution import PnlBreakdown, explain_move, trade_pnl
from hedgemesh.wire.book import PositionSnapshot

__all__ = ["PnlTracker", "UnderlyingPnl"]

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
    the message. Not thread-safe: one per read model."""

    def __init__(self, book: BookState, *, fills_remembered: int = 10_000) -> None:
        self._book = book
        self._books: dict[str, UnderlyingPnl] = {}
        self._fills: OrderedDict[str, None] = OrderedDict()
        self._fills_remembered = fills_remembered

    def __getitem__(self, underlying: str) -> UnderlyingPnl:
        return self._books[underlying]

    def underlyings(self) -> list[str]:
        return sorted(self._books)

    def get(self, underlying: str) -> UnderlyingPnl | None:
        return self._books.get(underlying)

    def total(self) -> PnlBreakdown:
        return sum((b.breakdown for b in self._books.values()), PnlBreakdown())

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
        move = explain_move(
            quantity=book.quantity,
            value_before=before.value,
            value_after=units.value,
            delta=before.delta,
            gamma=before.gamma,
            theta_per_day=before.theta_per_day,
            vega_per_point=before.vega_per_point,
            spot_before=before.spot,
            spot_after=units.spot,
            vol_before=before.vol,
            vol_after=units.vol,
            days=max((units.at - before.at).total_seconds(), 0.0) / _SECONDS_PER_DAY,
        )
        book.breakdown += move.breakdown()

    def on_snapshot(self, snapshot: PositionSnapshot) -> None:
        """A newer snapshot of the underlying was applied to the book: book the change of
        holdings as trades (transaction costs when a hedge fill caused it)."""
        holdings, quantity = _holdings(snapshot)
        book = self._books.get(snapshot.underlying)
        if book is None:
            book = UnderlyingPnl(snapshot.underlying, holdings, quantity, snapshot.cash)
            self._books[snapshot.underlying] = book
            self.on_market(snapshot.underlying)
            return
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
                else:
                    book.breakdown += PnlBreakdown(new_trades=pnl)
        book.holdings, book.quantity, book.cash = holdings, quantity, snapshot.cash
        if book.units is not None:
            book.units = self._units(snapshot.underlying, holdings)

    # -- valuation ----------------------------------------------------------------------------

    def _set_baseline(self, book: UnderlyingPnl) -> None:
        assert book.units is not None
        book.baseline_value = book.value
        book.since = book.units.at

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
        # BookState values options only; the underlying is worth its spot per unit.
        value = np.where(batch.arrays.is_option, g.value, tick.price)
        return _Units(
            at, tick.price, value, g.delta, g.gamma, g.vega_per_point, g.theta_per_day, g.vol
        )
