"""Orders in flight: routed but not yet in the ledger's positions.

Between an order and the position snapshot that includes its fills, the book the manager sees
lacks that order; deciding the next cycle on it would hedge the same risk twice. So the manager
adds to the ledger's positions, per instrument:

- the working quantity of every order not yet final (from `Order`s on `hedge.v1.order.*` and
  the `ExecutionReport`s that follow: leaves quantity, signed), and
- every fill reported but not yet booked.

A fill is booked once a `PositionSnapshot` of its underlying arrives whose `causation_id` is
that fill's report id or the id of a later report in the order the manager received them (the
ledger books fills in stream order). A snapshot naming a report not seen yet is remembered, so
the report is taken as booked when it arrives. An order with no report for `timeout_s` is
dropped (execution never took it). Pure: times are passed in (Unix seconds).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from hedgemesh.wire.book import PositionSnapshot
from hedgemesh.wire.instruments import Instrument
from hedgemesh.wire.orders import ExecutionReport, Order

__all__ = ["InFlight"]

_REMEMBERED = 4096


@dataclass
class _Working:
    instrument: Instrument
    sign: int
    leaves: int
    seen_at: float


@dataclass
class _Underlying:
    working: dict[str, _Working] = field(default_factory=dict)
    unbooked: OrderedDict[str, tuple[Instrument, int]] = field(default_factory=OrderedDict)
    """Fills reported, not yet booked: report id → (instrument, signed quantity)."""
    booked_early: deque[str] = field(default_factory=lambda: deque(maxlen=_REMEMBERED))


class InFlight:
    """Quantities routed but not yet in the positions, per underlying (module doc)."""

    def __init__(self, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self._by_underlying: dict[str, _Underlying] = {}
        self._finished: deque[str] = deque(maxlen=_REMEMBERED)
        self._finished_set: set[str] = set()

    def _of(self, underlying: str) -> _Underlying:
        return self._by_underlying.setdefault(underlying, _Underlying())

    def on_order(self, order: Order, now: float) -> None:
        """An order routed (by this manager or seen on the order subject); idempotent."""
        coid = order.client_order_id
        book = self._of(order.instrument.underlying)
        if coid in book.working or coid in self._finished_set:
            return
        book.working[coid] = _Working(order.instrument, order.side.sign, order.quantity, now)

    def on_report(self, report: ExecutionReport, now: float) -> None:
        book = self._of(report.instrument.underlying)
        if report.is_fill and report.id not in book.unbooked:
            if report.id in book.booked_early:
                self._drop_booked(book, report.id, include=False)
            else:
                book.unbooked[report.id] = (report.instrument, report.signed_last_quantity)
        coid = report.client_order_id
        working = book.working.get(coid)
        if report.is_terminal:
            book.working.pop(coid, None)
            if coid not in self._finished_set:
                if len(self._finished) == self._finished.maxlen:
                    self._finished_set.discard(self._finished[0])
                self._finished.append(coid)
                self._finished_set.add(coid)
        elif working is not None:
            working.leaves = report.leaves_quantity
            working.seen_at = now

    def on_snapshot(self, snapshot: PositionSnapshot) -> None:
        """Positions now include every fill up to the snapshot's cause."""
        cause = snapshot.causation_id
        if cause is None:
            return
        book = self._of(snapshot.underlying)
        if cause in book.unbooked:
            self._drop_booked(book, cause, include=True)
        else:
            book.booked_early.append(cause)

    @staticmethod
    def _drop_booked(book: _Underlying, report_id: str, *, include: bool) -> None:
        """Drop the fills received before `report_id` (and it, if `include`)."""
        while book.unbooked:
            first = next(iter(book.unbooked))
            if first == report_id:
                if include:
                    book.unbooked.popitem(last=False)
                return
            book.unbooked.popitem(last=False)

    def forget(self, client_order_ids: set[str]) -> None:
        """Orders that will never be worked (dropped unpublished): no longer in flight."""
        for book in self._by_underlying.values():
            for coid in client_order_ids & set(book.working):
                del book.working[coid]

    def expire(self, now: float) -> list[str]:
        """Drop orders silent for `timeout_s`; returns their client order ids."""
        gone = []
        for book in self._by_underlying.values():
            for coid, w in list(book.working.items()):
                if now - w.seen_at > self.timeout_s:
                    del book.working[coid]
                    gone.append(coid)
        return gone

    def pending(self, underlying: str) -> dict[str, tuple[Instrument, int]]:
        """Signed quantity per symbol routed or filled but not in the positions yet."""
        out = self.working(underlying)
        book = self._by_underlying.get(underlying)
        for instrument, quantity in book.unbooked.values() if book else ():
            _add(out, instrument, quantity)
        return {s: v for s, v in out.items() if v[1] != 0}

    def working(self, underlying: str) -> dict[str, tuple[Instrument, int]]:
        """Signed leaves quantity per symbol of the orders not yet final: the part of
        `pending` that may still not happen (an IOC order's rest is cancelled)."""
        book = self._by_underlying.get(underlying)
        out: dict[str, tuple[Instrument, int]] = {}
        for w in book.working.values() if book else ():
            _add(out, w.instrument, w.sign * w.leaves)
        return {s: v for s, v in out.items() if v[1] != 0}

    def working_orders(self) -> int:
        return sum(len(b.working) for b in self._by_underlying.values())


def _add(out: dict[str, tuple[Instrument, int]], instrument: Instrument, quantity: int) -> None:
    held = out.get(instrument.symbol)
    out[instrument.symbol] = (instrument, quantity + (held[1] if held else 0))
