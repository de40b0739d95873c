"""The component that runs a `MarketSession` on the service's clock and publishes it.

Each batch is published when the clock reaches its time: surfaces, then ticks (core NATS),
then client trades (JetStream, `Nats-Msg-Id` = trade id, retried until stored, so a NATS
outage delays trades but loses none). Scheduled events are logged as they happen. A batch more
than `max_lag_s` behind the clock publishes its trades but not its ticks and surfaces, so a
paused or restarted service catches up to the present instead of replaying the past. An
underlying paused by a control command (`control.FeedControl`) publishes no ticks or surfaces
until resumed.

The clock: offset 0's trades (the initial positions) go out first; a clock `hedgemesh up` left
held starts once the desk is ready (`pacing.DeskPacer`), then offset 0's market, then the rest,
the pacer slowing the clock whenever the desk lags behind it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass

from hedgemesh.market.session import Batch, MarketSession
from hedgemesh.market.surface_filter import SurfaceFilter
from hedgemesh.marketdata.adapters.control import CONTROL_TARGET, FeedControl
from hedgemesh.marketdata.adapters.pacing import DeskPacer
from hedgemesh.marketdata.config import MarketDataSettings
from hedgemesh.runtime import JetStreamRefused, NatsUnavailable, Service, metrics
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.scenario import Scenario
from hedgemesh.wire import subjects
from hedgemesh.wire.base import WireModel
from hedgemesh.wire.book import ClientTrade

log = logging.getLogger(__name__)


TICKS = metrics.counter("ticks_published_total", "Ticks published, by underlying.", ["underlying"])
SKIPPED_LATE = metrics.counter(
    "ticks_skipped_late_total", "Ticks and surfaces not published: later than max_lag_s."
)


@dataclass
class PublisherStats:
    """Counters for health checks and tests."""

    ticks: int = 0
    surfaces: int = 0
    trades: int = 0
    duplicate_trades: int = 0
    skipped_late: int = 0
    skipped_paused: int = 0
    surfaces_held_back: int = 0
    """Surfaces not sent: the last one sent still says the same (`SurfaceFilter`)."""
    publish_errors: int = 0


class MarketDataPublisher:
    """Paces a scenario's session on the clock and publishes every batch."""

    def __init__(self, scenario: Scenario, settings: MarketDataSettings) -> None:
        self.scenario = scenario
        self.settings = settings
        self.stats = PublisherStats()
        self.session: MarketSession | None = None
        self.started = asyncio.Event()
        """Set once the first batch (offset 0 and the initial trades) is out."""
        self.paused: set[str] = set()
        """Underlyings whose ticks and surfaces are not published (`FeedControl`)."""
        self.desk = DeskPacer(settings)
        self.surfaces = SurfaceFilter(
            settings.surface_vol_tolerance, settings.surface_max_interval_s
        )
        self._service: Service | None = None
        self._task: asyncio.Task[None] | None = None
        self._pacing: asyncio.Task[None] | None = None

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.scenario.symbols)

    def counters(self) -> dict[str, int]:
        return asdict(self.stats)

    async def start(self, service: Service) -> None:
        self._service = service
        await service.bus.serve_control(CONTROL_TARGET, FeedControl(self, service.clock).handle)
        await self.desk.start(service)
        # The cluster's start (when the launcher gives one) is offset 0, so a restarted
        # marketdata resumes the scenario where it is instead of replaying it from the start.
        origin = self.scenario.origin(service.settings.clock_start or service.clock.now())
        self.session = MarketSession(self.scenario, origin, client_flow=self.settings.client_flow)
        scenario = self.scenario
        log.info(
            "marketdata: scenario %s (seed %d) from %s, underlyings %s",
            scenario.name, scenario.seed, origin.isoformat(), ", ".join(scenario.symbols),
        )  # fmt: skip
        self._task = asyncio.create_task(self._run(self.session), name="marketdata")

    async def stop(self) -> None:
        """Cancel the run (again if a cancellation is lost: see `cancel_and_wait`)."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
        pacing, self._pacing = self._pacing, None
        await cancel_and_wait(pacing)

    async def _run(self, session: MarketSession) -> None:
        assert self._service is not None
        clock = self._service.clock
        try:
            first = session.start()
            trades_seq = await self._publish(first, market=False)
            await self.desk.start_when_ready(trades_seq)
            await self._publish(first, trades=False)
            self.started.set()
            self._pacing = asyncio.create_task(self.desk.run(), name="marketdata-pacing")
            while (offset := session.next_offset()) is not None:
                due = session.origin.timestamp() + offset
                await clock.sleep(due - clock.now().timestamp())
                await self._publish(session.advance())
            log.info("marketdata: every feed has ended; nothing more to publish")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("marketdata: the session failed")
            raise

    async def _publish(self, batch: Batch, *, market: bool = True, trades: bool = True) -> int:
        """Publish the batch's market (events, surfaces, ticks) and trades; returns the stream
        sequence of its last trade (0: none)."""
        if market:
            await self._market(batch)
        return await self._store_all(batch.trades) if trades else 0

    async def _market(self, batch: Batch) -> None:
        service = self._service
        assert service is not None
        for underlying, event in batch.events:
            log.info("marketdata: %s at +%gs on %s", event.kind, event.at, underlying)
        for ended in batch.ended:
            log.warning("marketdata: feed ended: %s", ended)
        late_s = (service.clock.now() - batch.ts).total_seconds()
        service.lag_ms = max(late_s, 0.0) * 1000.0
        if late_s > self.settings.max_lag_s:
            self.stats.skipped_late += len(batch.ticks) + len(batch.surfaces)
            SKIPPED_LATE.inc(len(batch.ticks) + len(batch.surfaces))
        else:
            for surface in batch.surfaces:
                if surface.underlying not in self.paused and not self.surfaces.admit(surface):
                    self.stats.surfaces_held_back += 1
                    continue
                if await self._feed(surface.underlying, surface.publish_subject, surface):
                    self.stats.surfaces += 1
            for tick in batch.ticks:
                if await self._feed(tick.underlying, tick.publish_subject, tick):
                    self.stats.ticks += 1
                    TICKS.labels(underlying=tick.underlying).inc()

    async def _store_all(self, trades: list[ClientTrade]) -> int:
        """Store a batch's trades, `trades_in_flight` at a time: each slice is sent in order
        and its acks awaited together (a trade retried after a failure lands later); the
        highest stream sequence stored (0: none)."""
        step, last = self.settings.trades_in_flight, 0
        for start in range(0, len(trades), step):
            seqs = await asyncio.gather(*(self._store(t) for t in trades[start : start + step]))
            last = max(last, *seqs)
        return last

    async def _feed(self, underlying: str, subject: str, message: WireModel) -> bool:
        """Publish a tick or surface unless its underlying is paused."""
        if underlying in self.paused:
            self.stats.skipped_paused += 1
            return False
        return await self._core(subject, message)

    async def _core(self, subject: str, message: WireModel) -> bool:
        assert self._service is not None
        try:
            await self._service.bus.publish(subject, message)
        except NatsUnavailable as error:
            self.stats.publish_errors += 1
            log.warning("marketdata: not published on %s: %s", subject, error)
            return False
        return True

    async def _store(self, trade: ClientTrade) -> int:
        """Store a trade on JetStream, retrying until it is (the id makes retries safe); its
        stream sequence (the first copy's, for a duplicate)."""
        assert self._service is not None
        while True:
            try:
                ack = await self._service.bus.js_publish(
                    subjects.BOOK_TRADE, trade, msg_id=trade.trade_id
                )
            except (NatsUnavailable, JetStreamRefused) as error:
                self.stats.publish_errors += 1
                log.warning("marketdata: trade %s not stored yet: %s", trade.trade_id, error)
                await asyncio.sleep(self.settings.retry_s)
                continue
            if ack.duplicate:
                self.stats.duplicate_trades += 1
            else:
                self.stats.trades += 1
            return ack.seq
