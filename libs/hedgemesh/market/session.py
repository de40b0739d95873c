"""Everything a scenario emits, in time order: what the marketdata service publishes.

    session = MarketSession(scenario, origin)
    first = session.start()                 # offset 0: surfaces, ticks, the initial trades
    while (offset := session.next_offset()) is not None:
        batch = session.advance()           # everything due at `offset`

A `Batch` holds the surfaces and ticks of the underlyings that ticked (a surface before its
tick, so a consumer woken by a tick already has the matching surface) and the client trades
that arrived. Deterministic: the same scenario, seed and origin give the same batches, with
the same message ids, whatever the clock does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hedgemesh.market.clientflow import ClientFlow, initial_trades
from hedgemesh.market.simulator import MarketState, UnderlyingFeed, feeds
from hedgemesh.scenario.model import EventSpec, Scenario
from hedgemesh.wire.book import ClientTrade
from hedgemesh.wire.market import Surface, Tick

__all__ = ["Batch", "MarketSession"]


@dataclass(frozen=True)
class Batch:
    """What is due at one offset (seconds from the origin)."""

    offset_s: float
    ts: datetime
    surfaces: list[Surface] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    trades: list[ClientTrade] = field(default_factory=list)
    events: list[tuple[str, EventSpec]] = field(default_factory=list)
    """(underlying, event) for every scheduled event that happened since the previous batch."""
    ended: list[str] = field(default_factory=list)
    """Underlyings whose feed ended (replay finished) or halted, with the reason."""


class MarketSession:
    """A scenario run from `origin` (the wall time of offset 0)."""

    def __init__(self, scenario: Scenario, origin: datetime, *, client_flow: bool = True) -> None:
        if origin.tzinfo is None:
            raise ValueError("origin must be timezone-aware")
        self.scenario = scenario
        self.origin = origin
        self.feeds: dict[str, UnderlyingFeed] = feeds(scenario, origin)
        self.flow = ClientFlow(scenario, origin) if client_flow and scenario.client_flow else None
        self.states: dict[str, MarketState] = {}
        self._started = False
        self._ended: set[str] = set()

    def start(self) -> Batch:
        """The first batch: every underlying at offset 0 and the initial trades."""
        if self._started:
            raise RuntimeError("the session has started")
        self._started = True
        batch = self._tick(0.0, [f for f in self.feeds.values() if f.next_offset() == 0.0])
        starts = {s: f.start_spot for s, f in self.feeds.items()}
        batch.trades.extend(initial_trades(self.scenario, self.states, starts))
        return batch

    def next_offset(self) -> float | None:
        """Offset of the next batch (seconds), None when nothing more will happen."""
        offsets = [o for f in self.feeds.values() if (o := f.next_offset()) is not None]
        if self.flow is not None and offsets:
            offsets.append(self.flow.next_offset())
        return min(offsets) if offsets else None

    def advance(self) -> Batch:
        """Everything due at `next_offset()` (ticks first, then client trades)."""
        if not self._started:
            raise RuntimeError("call start() first")
        offset = self.next_offset()
        if offset is None:
            raise RuntimeError("the session has ended")
        due = [f for f in self.feeds.values() if f.next_offset() == offset]
        batch = self._tick(offset, due)
        while self.flow is not None and self.flow.next_offset() <= offset:
            trade = self.flow.arrive(self.states)
            if trade is not None:
                batch.trades.append(trade)
        return batch

    def run_until(self, offset_s: float) -> list[Batch]:
        """Every batch up to and including `offset_s` (after `start`)."""
        batches = []
        while (nxt := self.next_offset()) is not None and nxt <= offset_s:
            batches.append(self.advance())
        return batches

    def _tick(self, offset: float, due: list[UnderlyingFeed]) -> Batch:
        batch = Batch(offset, self.origin + timedelta(seconds=offset))
        for feed in due:
            before = feed.offset_s if feed.state is not None else -1.0
            state = feed.advance()
            if state is None:
                self._end(feed, batch)
                continue
            self.states[feed.symbol] = state
            batch.events.extend((feed.symbol, e) for e in feed.events.happened(before, offset))
            surface = state.surface()
            if surface is not None:
                batch.surfaces.append(surface)
            batch.ticks.append(state.tick())
            if feed.next_offset() is None:
                self._end(feed, batch)
        return batch

    def _end(self, feed: UnderlyingFeed, batch: Batch) -> None:
        if feed.symbol not in self._ended:
            self._ended.add(feed.symbol)
            batch.ended.append(f"{feed.symbol}: {feed.halted or 'replay finished'}")
