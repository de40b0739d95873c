"""The execution component: NATS and the store around the engine.

Start-up is recovery (crash-only): migrate the store, raise the epoch fence to the highest
epoch stored, subscribe to market data, queue the reports stored but not yet published, resume
every order the store holds as working, and only then consume new orders. Everything runs on
the event loop, one message at a time, so the engine and the store see one order of events.

- Orders (`HEDGE_ORDERS`, durable consumer): stored first (`insert_order`; the client order id
  is the unique key), judged and worked by the engine, reports stored; the message is
  acknowledged when the handler returns. A repeated client order id does nothing: no second
  execution and no new report (the first one's reports stand). The one exception is an order
  stored but never reported on (the store failed, or the process died, in between): its
  redelivery is judged then.
- Ticks and surfaces (core NATS): fair values move, providers re-quote.
- A timer on the injected clock: TWAP slices, refills, day and option expiries.
- Control (`hedge.v1.control.execution.<action>.<origin>`): `status` answers the fence, the
  working orders, the outbox backlog, every book's best bid and ask, and the pre-trade
  controls' state and counts;
  `halt` engages the kill switch (stored first, so that it survives a restart; every working
  order is cancelled, every new one refused) and `resume` releases it.
- Requests to the manager: when a control trips (the order-rate throttle: `reduce`; the day's
  loss limit: `halt`), a `ControlCommand` on `hedge.v1.control.manager.<action>.execution`
  (the only control the server lets execution send), retried until the leader accepts it;
  the refusals go on meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine as DbEngine

from hedgemesh.execution.adapters.fix import FixGateway
from hedgemesh.execution.adapters.outbox import Outbox, StoreThread
from hedgemesh.execution.config import ExecutionSettings
from hedgemesh.execution.domain.controls import StateRequest
from hedgemesh.execution.domain.engine import Engine
from hedgemesh.execution.domain.reports import utc
from hedgemesh.runtime import metrics
from hedgemesh.runtime.bus import Envelope, actor_of
from hedgemesh.runtime.clock import Clock
from hedgemesh.runtime.errors import CorruptValue, NatsUnavailable, Rejected
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.lease import LeaseRecord
from hedgemesh.runtime.streams import DurableConsumer
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.store.audit import AuditRepository, ControlTrail
from hedgemesh.store.db import StoreSettings, make_engine, migrate, session_factory
from hedgemesh.store.execution import ExecutionRepository, Switch
from hedgemesh.store.fix import FixRepository
from hedgemesh.venue.spec import VENUE, VenueSpec
from hedgemesh.wire import subjects
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.ops import ControlAction, ControlCommand, ControlReply
from hedgemesh.wire.orders import ExecStatus, ExecutionReport, Order

if TYPE_CHECKING:
    from hedgemesh.runtime.service import Service

log = logging.getLogger(__name__)

CONTROL_TARGET = "execution"
#: Where a tripped control asks for a new trading state, and as whom.
MANAGER_TARGET = "manager"
#: The kill switch's name in the store (`exec_switches`).
KILL_SWITCH = "kill"
#: Pause between tries of a request to the manager (real seconds), and how many tries.
_REQUEST_RETRY_S = 0.5
_REQUEST_TRIES = 120
#: Pause (real seconds) when a due time did not move, so that the timer cannot spin.
_MIN_TIMER_S = 1e-3
#: Clock seconds the timer waits when nothing is due and nothing needs a round (a kick wakes it).
_IDLE_S = 3600.0
#: Orders whose arrival time is kept for the order → fill latency (the oldest dropped).
_LATENCIES_KEPT = 10_000

REPORTS = metrics.counter("execution_reports_total", "Execution reports, by status.", ["status"])
DENIALS = metrics.counter(
    "pretrade_denials_total", "Orders refused by the pre-trade controls, by code.", ["code"]
)
ORDER_TO_FILL = metrics.histogram(
    "order_to_fill_seconds", "From an order's arrival at execution to each of its fills."
)


class ExecutionComponent:
    """Runs the engine inside a `Service`; see the module docstring."""

    def __init__(
        self, settings: ExecutionSettings, store: StoreSettings, venue: VenueSpec = VENUE
    ) -> None:
        self.settings = settings
        self.store_settings = store
        self.engine = Engine(settings.engine_params(venue))
        self.stats: Counter[str] = Counter()
        self.repo: ExecutionRepository | None = None
        self.outbox: Outbox | None = None
        self.store = StoreThread()
        """The store's own thread: order inserts and the outbox's writes, in order, off the
        event loop (a commit waiting for SQLite's lock never stalls market data or acks)."""
        self.ready = asyncio.Event()
        self._db: DbEngine | None = None
        self._clock: Clock | None = None
        self._consumer: DurableConsumer[Order] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._lease_watch: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()
        self._idle = False  # the timer waits for a kick: nothing due, nothing to refill or mark
        self._t = 0.0
        self._service: Service | None = None
        self._bus: Any = None
        self._requests: set[asyncio.Task[None]] = set()
        self._received: dict[str, float] = {}
        """When each working order arrived (perf_counter), for the order → fill latency."""
        self.fix: FixGateway | None = None
        """The FIX 4.4 acceptor when `fix_port` is set (`hedgemesh.execution.adapters.fix`)."""
        if settings.fix_port is not None:
            config = settings.fix_session_config()
            self.fix = FixGateway(self, config, settings.fix_host, settings.fix_port)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, service: Service) -> None:
        bus = service.bus
        self._clock = service.clock
        self._service = service
        url = self.store_settings.url
        migrate(url)
        self._db = make_engine(url, self.store_settings)
        repo = self.repo = ExecutionRepository(session_factory(self._db))
        self._bus = bus
        self.engine.raise_fence(repo.max_epoch() or 0)
        kill = repo.switches().get(KILL_SWITCH)
        if kill is not None and kill.engaged:
            self.engine.controls.kill_switch = kill.reason or "engaged"
            log.warning("execution: the kill switch is engaged (%s): nothing trades", kill.reason)
        today = utc(self._now()).replace(hour=0, minute=0, second=0, microsecond=0)
        self.engine.replay_day(
            repo.orders(received_since=today), repo.reports(received_since=today)
        )
        await bus.subscribe_latest(subjects.ALL_TICKS, Tick, self._on_tick)
        await bus.subscribe_latest(subjects.ALL_SURFACES, Surface, self._on_surface)
        trail = ControlTrail(AuditRepository(session_factory(self._db)), run=self.store.run)
        await bus.serve_control(CONTROL_TARGET, self._on_control, audit=trail)
        s = self.settings
        outbox = self.outbox = Outbox(
            repo,
            bus,
            store=self.store,
            batch=s.publish_batch,
            window=s.publish_window,
            retry_s=s.publish_retry_s,
            max_retry_s=s.publish_max_retry_s,
            ack_timeout_s=s.publish_ack_timeout_s,
            on_stored=None if self.fix is None else self.fix.on_stored,
        )
        backlog = outbox.load_backlog()
        outbox.start()
        if self.fix is not None:  # before the orders resume: their reports go to FIX too
            await self.fix.start(FixRepository(session_factory(self._db)))
        resumed = self._recover(repo)
        log.info("execution: %d reports to publish, %d orders resumed", backlog, resumed)
        self._consumer = DurableConsumer(
            bus,
            stream=subjects.STREAM_ORDERS,
            durable=s.orders_durable,
            model=Order,
            handler=self._on_order,
            max_deliver=s.max_deliver,
            ack_wait_s=s.ack_wait_s,
            retry_delay_s=s.retry_delay_s,
        )
        await self._consumer.start()
        self._timer = asyncio.create_task(self._run_timer(), name="execution-timer")
        if s.manager_lease is not None:
            leases = service.kv(subjects.KV_LEASES, LeaseRecord)
            self._lease_watch = asyncio.create_task(
                self._watch_lease(leases, s.manager_lease), name="execution-lease-watch"
            )
        self.ready.set()

    async def stop(self) -> None:
        if self.fix is not None:
            await self.fix.stop()
        if self._consumer is not None:
            await self._consumer.stop()
        for task in list(self._requests):
            await cancel_and_wait(task)
        await cancel_and_wait(self._timer)
        self._timer = None
        await cancel_and_wait(self._lease_watch)
        self._lease_watch = None
        if self.outbox is not None:
            await self.outbox.stop()
        self.store.close()
        if self._db is not None:
            self._db.dispose()
            self._db = None

    async def _watch_lease(self, leases: TypedKV[LeaseRecord], name: str) -> None:
        """Fence on the manager's lease itself, not only on the epochs of the orders seen.

        A leader's epoch is the KV revision that gave it the lease, so a new holder's epoch is
        above every revision of the record under the old one. When the holder changes, the
        fence rises to the old holder's last revision seen + 1: an order from the deposed leader
        (paused past its lease, then woken) is refused even when it arrives before any order of
        its successor.
        """
        holder: str | None = None
        revision = 0
        while True:
            try:
                entry = await leases.get(name)
            except (NatsUnavailable, CorruptValue) as error:
                log.debug("execution: lease %s unreadable: %s", name, error)
                entry = None
            self.stats["lease_polls"] += 1
            if entry is not None:
                if holder is not None and entry.value.holder != holder:
                    before = self.engine.fence
                    self.engine.raise_fence(revision + 1)
                    if self.engine.fence > before:
                        self.stats["lease_fence_raised"] += 1
                        log.info(
                            "execution: %s passed from %s to %s: fence %d",
                            name,
                            holder,
                            entry.value.holder,
                            self.engine.fence,
                        )
                holder, revision = entry.value.holder, entry.revision
            await asyncio.sleep(self.settings.lease_poll_real_s)

    def _recover(self, repo: ExecutionRepository) -> int:
        """Resume every order the store holds as working; returns how many."""
        working = repo.working_orders()
        for stored in working:
            reports = repo.reports(stored.client_order_id)
            accepted = next((r for r in reports if r.status is ExecStatus.ACCEPTED), None)
            fence = None
            if accepted is None:  # never judged: against the fence it met on arrival
                fence = repo.max_epoch(received_before=stored.received_at) or 0
            try:
                resumed = self.engine.resume(
                    stored.order,
                    seq=stored.last_seq,
                    fills=[r for r in reports if r.is_fill],
                    accepted_at=None if accepted is None else accepted.ts,
                    now=self._now(),
                    fence=fence,
                )
            except Exception:  # one order the engine cannot take must not stop the venue
                log.exception(
                    "order %s could not be resumed; left as stored", stored.client_order_id
                )
                self.stats["unresumable"] += 1
                continue
            self._commit(resumed)
        return len(working)

    # -- handlers ----------------------------------------------------------------------------

    async def _on_order(self, order: Order, envelope: Envelope) -> None:
        repo = self.repo
        assert repo is not None
        coid = order.client_order_id
        if self.engine.knows(coid):
            self.stats["duplicates"] += 1
            self.engine.controls.count(ReasonCode.DUPLICATE)
            return
        received = utc(self._now())
        if not await self.store.run(lambda: repo.insert_order(order, received_at=received)):
            stored = await self.store.run(lambda: repo.get_order(coid))
            if stored is None or stored.status is not None:
                self.stats["duplicates"] += 1
                self.engine.controls.count(ReasonCode.DUPLICATE)
                log.info("order %s seen before: not executed again", coid)
                return
            order = stored.order  # stored, never judged: the first version stands
        self.work(order)

    def work(self, order: Order) -> None:
        """Judge and work an order already stored (from NATS, or a FIX client's)."""
        self.stats["orders"] += 1
        self._received[order.client_order_id] = time.perf_counter()
        while len(self._received) > _LATENCIES_KEPT:
            del self._received[next(iter(self._received))]
        self._commit(self.engine.receive(order, self._now()))

    def cancel(self, client_order_id: str, text: str) -> list[ExecutionReport]:
        """Cancel a working order at a client's request; its reports ([] if not working)."""
        reports = self.engine.cancel(client_order_id, self._now(), text)
        self._commit(reports)
        return reports

    def now(self) -> float:
        """The clock's time (Unix seconds, never going backwards)."""
        return self._now()

    async def _on_tick(self, tick: Tick, envelope: Envelope) -> None:
        reports = self.engine.on_tick(tick, self._now())
        self._commit(reports, kick=self._idle and self.engine.wants_rounds())
        if self._service is not None:  # heartbeats say how far behind the market this runs
            lag_s = self._now() - tick.ts.timestamp()
            self._service.lag_ms = max(lag_s, 0.0) * 1e3

    async def _on_surface(self, surface: Surface, envelope: Envelope) -> None:
        try:
            reports = self.engine.on_surface(surface, self._now())
        except ValueError as error:
            raise Rejected("INVALID_SURFACE", str(error)) from error
        self._commit(reports, kick=self._idle and self.engine.wants_rounds())

    async def _on_control(self, command: ControlCommand, envelope: Envelope) -> ControlReply:
        action = command.action
        if action in (ControlAction.HALT, ControlAction.RESUME):
            await self._set_kill_switch(command, actor_of(command, envelope))
        elif action is not ControlAction.STATUS:
            raise Rejected(
                "UNSUPPORTED_ACTION", f"execution answers status, halt and resume, not {action}"
            )
        engine = self.engine
        books: dict[str, Any] = {}
        for symbol in sorted(engine.venue.books):
            quote = engine.quote(symbol)
            assert quote is not None
            books[symbol] = {"bid": quote.bid, "ask": quote.ask}
        unsaved, unpublished = self.outbox.backlog if self.outbox else (0, 0)
        return ControlReply(
            command_id=command.id,
            target=CONTROL_TARGET,
            ok=True,
            state={
                "fence": engine.fence,
                "working": len(engine.orders),
                "unsaved_reports": unsaved,
                "unpublished_reports": unpublished,
                "books": books,
                "controls": engine.controls.state(),
                **({} if self.fix is None else {"fix": self.fix.state()}),
                **{k: v for k, v in self.stats.items()},
            },
        )

    async def _set_kill_switch(self, command: ControlCommand, who: str) -> None:
        """`halt`: engage the kill switch; `resume`: release it. Stored before it acts."""
        repo = self.repo
        assert repo is not None
        engaged = command.action is ControlAction.HALT
        switch = Switch(KILL_SWITCH, engaged, command.reason, who, utc(self._now()))
        try:
            await self.store.run(lambda: repo.set_switch(switch))
        except Exception as error:
            raise Rejected(
                "STORE_UNAVAILABLE", f"the kill switch was not stored: {error}"
            ) from error
        if engaged:
            log.warning("execution: kill switch engaged by %s: %s", who, command.reason)
            self._commit(self.engine.engage_kill_switch(command.reason, self._now()))
        else:
            log.warning("execution: kill switch released by %s", who)
            self.engine.release_kill_switch()

    # -- internals ---------------------------------------------------------------------------

    def _now(self) -> float:
        """The clock's time in Unix seconds, never going backwards."""
        assert self._clock is not None
        self._t = max(self._t, self._clock.now().timestamp())
        return self._t

    def _commit(self, reports: list[ExecutionReport], *, kick: bool = True) -> None:
        """Store, then publish, what the engine reported; wake the timer (new due times: `kick`,
        and whenever something was reported); send what a tripped control asks of the manager."""
        if reports:
            assert self.outbox is not None
            self.outbox.put(reports)
            self._measure(reports)
        if kick or reports:
            self._kick.set()
        for request in self.engine.controls.take_requests():
            log.error("execution: %s: asking the manager to %s", request.text, request.action)
            self.stats[f"requested_{request.action.value}"] += 1
            task = asyncio.create_task(self._ask_manager(request), name="ask-manager")
            self._requests.add(task)
            task.add_done_callback(self._requests.discard)

    def _measure(self, reports: list[ExecutionReport]) -> None:
        """Metrics of what the engine reported: denials by code, fills, order → fill time."""
        now = time.perf_counter()
        for report in reports:
            REPORTS.labels(status=report.status.value).inc()
            if report.status is ExecStatus.REJECTED and report.reason_code is not None:
                DENIALS.labels(code=report.reason_code.value).inc()
            received = self._received.get(report.client_order_id)
            if report.is_fill and received is not None:
                ORDER_TO_FILL.observe(now - received)
            if report.is_terminal:
                self._received.pop(report.client_order_id, None)

    async def _ask_manager(self, request: StateRequest) -> None:
        """Send `request` to the manager until its leader accepts it (a standby refuses)."""
        command = ControlCommand(
            target=MANAGER_TARGET,
            action=request.action,
            issued_by=CONTROL_TARGET,
            reason=f"{request.reason.value}: {request.text}",
        )
        for _ in range(_REQUEST_TRIES):
            try:
                reply = await self._bus.command(command)
                if reply.ok:
                    log.warning("execution: the manager accepted %s", request.action)
                    return
                log.warning("execution: the manager refused %s: %s", request.action, reply.reason)
            except (NatsUnavailable, ValueError) as error:
                log.warning("execution: %s not delivered to the manager: %s", request.action, error)
            await asyncio.sleep(_REQUEST_RETRY_S)
        log.error("execution: the manager never accepted %s", request.action)

    async def _run_timer(self) -> None:
        """Call `engine.on_time` when something falls due, and at least every refill interval
        while the engine wants rounds (an order works, so consumed depth comes back; the day's
        loss to re-mark after a move); a kick (new orders, new due times, a move) recomputes."""
        assert self._clock is not None
        refill = self.settings.refill_interval_s
        next_refill = self._now() + refill
        while True:
            self._kick.clear()
            now = self._now()
            due = self.engine.next_wakeup()
            self._idle = not self.engine.wants_rounds()
            if not self._idle:
                target = next_refill if due is None else min(due, next_refill)
            else:
                target = now + _IDLE_S if due is None else due
            if target > now:
                await self._sleep_until(target)
                if self._now() < target:
                    continue  # kicked: work out the next due time again
            now = self._now()
            if now >= next_refill:
                next_refill = now + refill
            try:
                self._commit(self.engine.on_time(now))
            except Exception:
                log.exception("execution timer failed; carrying on")
            due = self.engine.next_wakeup()
            if due is not None and due <= now:  # nothing moved it: do not spin
                await asyncio.sleep(_MIN_TIMER_S)

    async def _sleep_until(self, target: float) -> None:
        """Sleep until clock time `target`, or until kicked. What is left is read when the sleep
        begins: a clock moved on in between (a stepped clock in a test) is not overslept."""
        clock = self._clock
        assert clock is not None

        async def until() -> None:
            await clock.sleep(target - self._now())

        sleeping = asyncio.ensure_future(until())
        kicked = asyncio.ensure_future(self._kick.wait())
        try:
            await asyncio.wait({sleeping, kicked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeping, kicked):
                task.cancel()
