"""The ledger's edges: durable consumers in, snapshots out, and the store underneath.

Trades and fills are booked one at a time (a lock spans the two consumers): the domain
computes the booking from the in-memory books, the store writes it in one transaction (or
finds its id booked already), and only then is the in-memory state moved on and the message
acknowledged (by the `DurableConsumer`, after the handler returns). A crash anywhere before
the acknowledgement means a redelivery, which the store recognises by id. Database calls run
in a worker thread so that the event loop keeps serving ticks and requests.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import TYPE_CHECKING

from hedgemesh.ledger.adapters.pacer import SnapshotPacer
from hedgemesh.ledger.config import LedgerSettings
from hedgemesh.ledger.domain.ledger import Booking, BookingRefused, Ledger
from hedgemesh.market.view import MarketView
from hedgemesh.runtime import metrics
from hedgemesh.runtime.bus import Envelope, Handler, M
from hedgemesh.runtime.errors import Rejected
from hedgemesh.runtime.streams import DurableConsumer
from hedgemesh.runtime.tasks import Background
from hedgemesh.store.db import StoreSettings, make_engine, migrate, session_factory
from hedgemesh.store.ledger import EventKind, LedgerRepository, StaleLedger
from hedgemesh.wire import subjects
from hedgemesh.wire.book import ClientTrade, PositionSnapshot, PositionSnapshotRequest
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.orders import ExecutionReport

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hedgemesh.runtime.service import Service

log = logging.getLogger(__name__)


BOOKINGS = metrics.counter("ledger_bookings_total", "Events booked, by kind.", ["kind"])


class LedgerComponent:
    """The ledger inside a `Service`: `start` recovers the books from the store and subscribes;
    `stop` ends the periodic snapshots and closes the store."""

    def __init__(self, settings: LedgerSettings, store: StoreSettings) -> None:
        self.settings = settings
        self.store = store
        self.ledger = Ledger()
        self.market = MarketView()
        self.booked = 0
        """Events booked by this process (redeliveries of booked ids not counted)."""
        self.duplicates = 0
        """Events whose id was booked before (redeliveries, re-sent trades)."""
        self._service: Service | None = None
        self._engine: Engine | None = None
        self._repo: LedgerRepository | None = None
        self._lock = asyncio.Lock()
        self._consumers: list[DurableConsumer[ClientTrade] | DurableConsumer[ExecutionReport]] = []
        self._background = Background("ledger")
        self._pacer = SnapshotPacer(settings.snapshot_min_gap_s)

    @property
    def service(self) -> Service:
        if self._service is None:
            raise RuntimeError("the ledger is not started")
        return self._service

    @property
    def repo(self) -> LedgerRepository:
        if self._repo is None:
            raise RuntimeError("the ledger is not started")
        return self._repo

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, service: Service) -> None:
        self._service = service
        url = self.store.url
        await asyncio.to_thread(migrate, url)
        self._engine = make_engine(url, self.store)
        self._repo = LedgerRepository(session_factory(self._engine))
        await self._reload()
        log.info(
            "ledger: %d positions in %d underlyings recovered from the store",
            len(self.ledger.positions), len(self.ledger.accounts),
        )  # fmt: skip
        bus = service.bus
        await bus.subscribe_latest(subjects.ALL_TICKS, Tick, self._on_tick)
        await bus.subscribe_latest(subjects.ALL_SURFACES, Surface, self._on_surface)
        await bus.subscribe(
            subjects.POSITIONS_SNAPSHOT, PositionSnapshotRequest, self._on_request, queue="ledger"
        )
        self._consumers = [
            self._consumer(subjects.STREAM_TRADES, self.settings.trades_durable, ClientTrade,
                           self._on_trade),
            self._consumer(subjects.STREAM_EXEC, self.settings.fills_durable, ExecutionReport,
                           self._on_report),
        ]  # fmt: skip
        for consumer in self._consumers:
            await consumer.start()
        self._background.every(self.settings.snapshot_interval_s, self._publish_all, "snapshots")

    def _consumer(
        self, stream: str, durable: str, model: type[M], handler: Handler[M]
    ) -> DurableConsumer[M]:
        return DurableConsumer(
            self.service.bus,
            stream=stream,
            durable=durable,
            model=model,
            handler=handler,
            max_deliver=self.settings.max_deliver,
            ack_wait_s=self.settings.ack_wait_s,
            retry_delay_s=self.settings.retry_delay_s,
        )

    async def stop(self) -> None:
        await self._background.stop()
        for consumer in self._consumers:
            await consumer.stop()
        self._consumers = []
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    async def _reload(self) -> None:
        positions, accounts = await asyncio.to_thread(
            lambda: (self.repo.positions(), self.repo.accounts())
        )
        self.ledger = Ledger.from_records(positions, accounts)

    # -- booking -----------------------------------------------------------------------------

    async def _on_trade(self, trade: ClientTrade, envelope: Envelope) -> None:
        await self._book(
            event_id=trade.trade_id,
            kind=EventKind.TRADE,
            message=trade,
            signed_quantity=trade.signed_quantity,
            price=trade.price,
            fees=0.0,
        )

    async def _on_report(self, report: ExecutionReport, envelope: Envelope) -> None:
        if not report.is_fill:
            return  # acks, cancels, rejects change no position
        assert report.last_price is not None  # a fill has one (wire rule)
        await self._book(  # a client's (FIX) fill is its trade with the book: the other side
            event_id=report.exec_id,
            kind=EventKind.FILL if report.counterparty is None else EventKind.TRADE,
            message=report,
            signed_quantity=report.signed_last_quantity,
            price=report.last_price,
            fees=report.book_fees,
        )

    async def _book(
        self,
        *,
        event_id: str,
        kind: EventKind,
        message: ClientTrade | ExecutionReport,
        signed_quantity: int,
        price: float,
        fees: float,
    ) -> None:
        async with self._lock:
            try:
                booking = self.ledger.prepare(
                    event_id=event_id,
                    kind=kind,
                    message_id=message.id,
                    instrument=message.instrument,
                    signed_quantity=signed_quantity,
                    price=price,
                    fees=fees,
                    ts=message.ts,
                    raw=message.to_json().decode(),
                )
            except BookingRefused as error:
                if await asyncio.to_thread(self.repo.is_booked, event_id):
                    self.duplicates += 1  # booked before (then refused only now): nothing to do
                    return
                raise Rejected(ReasonCode.INVALID_REQUEST.value, str(error)) from error
            if not await self._store(booking):
                self.duplicates += 1
                log.debug("ledger: %s %s already booked", kind.value, event_id)
                return
            self.ledger.commit(booking)
            self.booked += 1
            BOOKINGS.labels(kind=kind.value).inc()
        await self._booked(booking.account.underlying)

    async def _store(self, booking: Booking) -> bool:
        try:
            return await asyncio.to_thread(
                self.repo.book,
                booking.event,
                booking.position,
                booking.account,
                booked_at=self.service.clock.now(),
            )
        except StaleLedger:
            log.warning("ledger: the store moved on under us; reloading the books")
            await self._reload()
            raise  # a handler error: the message is redelivered and booked on the fresh state

    # -- market data -------------------------------------------------------------------------

    async def _on_tick(self, tick: Tick, envelope: Envelope) -> None:
        self.market.apply_tick(tick)

    async def _on_surface(self, surface: Surface, envelope: Envelope) -> None:
        self.market.apply_surface(surface)

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot(self, underlying: str) -> PositionSnapshot:
        """The book in one underlying now, marked at the latest fair values."""
        now = self.service.clock.now()
        held = self.ledger.holdings(underlying)
        marks = self.market.fair_values((p.instrument for p in held if p.quantity), now)
        return self.ledger.snapshot(underlying, marks, now)

    async def _publish(self, underlying: str) -> None:
        try:
            await self.service.bus.publish(
                subjects.positions(underlying), self.snapshot(underlying)
            )
        except Exception:  # the booking stands; the next snapshot catches up
            log.exception("ledger: could not publish the %s snapshot", underlying)

    async def _booked(self, underlying: str) -> None:
        """Publish the snapshot after a booking, now or coalesced (`SnapshotPacer`)."""
        delay = self._pacer.after_booking(underlying, time.monotonic())
        if delay == 0.0:
            await self._publish(underlying)
        elif delay is not None:
            work = functools.partial(self._publish_due, underlying)
            self._background.later(delay, f"snapshot-{underlying}", work)

    async def _publish_due(self, underlying: str) -> None:
        self._pacer.published(underlying, time.monotonic())
        await self._publish(underlying)

    async def _publish_all(self) -> None:
        for underlying in self.ledger.underlyings:
            await self._publish(underlying)

    async def _on_request(self, request: PositionSnapshotRequest, envelope: Envelope) -> None:
        if envelope.reply:
            await self.service.bus.publish(envelope.reply, self.snapshot(request.underlying))
