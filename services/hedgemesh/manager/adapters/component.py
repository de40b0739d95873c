"""The manager inside a `Service`: NATS in, the core's effects out. The rules are the core's
(`manager.domain.core`); this module only translates.

Every replica subscribes to ticks, surfaces, position snapshots, execution reports, orders,
proposals, decisions and heartbeats, hands each to `ManagerCore`, and carries out the effects it
gets back: decide a cycle (publish its orders and decisions, store it: `adapters.outbox`), a
timer for a cycle's window or a delta re-check, KV writes (`adapters.kv`), a trading state.
Take-over recovery is `adapters.takeover`; control commands are `adapters.control`, served by
the leader only (lease `manager`), so a request reaches the leader alone; one arriving during a
hand-over at a replica that just lost the lease gets `ok=false`, reason `NOT_LEADER`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from hedgemesh.manager.adapters import takeover
from hedgemesh.manager.adapters.control import ControlHandler
from hedgemesh.manager.adapters.kv import ManagerKV, create
from hedgemesh.manager.adapters.measure import CycleMeter
from hedgemesh.manager.adapters.outbox import Outbox
from hedgemesh.manager.config import ManagerSettings
from hedgemesh.manager.domain import effects as fx
from hedgemesh.manager.domain.core import ManagerCore
from hedgemesh.runtime.bus import Bus, ControlAudit, Envelope
from hedgemesh.runtime.errors import NatsUnavailable
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.tasks import Background
from hedgemesh.scenario.model import Scenario
from hedgemesh.wire import subjects
from hedgemesh.wire.book import PositionSnapshot, PositionSnapshotRequest
from hedgemesh.wire.hedging import Decision, Proposal
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.ops import Heartbeat
from hedgemesh.wire.orders import ExecutionReport, Order
from hedgemesh.wire.state import FirmLimits, RiskLimits, TradingStatus

if TYPE_CHECKING:
    from hedgemesh.runtime.service import Service

log = logging.getLogger(__name__)

CONTROL_TARGET = "manager"


class ManagerComponent:
    """Runs a `ManagerCore` inside a `Service` (module doc); the `ControlPort` of control."""

    def __init__(
        self,
        settings: ManagerSettings,
        core: ManagerCore,
        outbox: Outbox,
        scenario: Scenario | None = None,
        *,
        trail: ControlAudit | None = None,
    ) -> None:
        self.settings = settings
        self.trail = trail  # where other services' control commands are audited
        self.core = core
        self.outbox = outbox
        self.scenario = scenario
        self.kv = ManagerKV(lambda bucket, model: self.service.kv(bucket, model))
        self.control = ControlHandler(self)
        self.ready = asyncio.Event()
        self._service: Service | None = None
        self._lock = asyncio.Lock()
        self._meter = CycleMeter()
        self._background = Background("manager")
        self._control_sub: Any = None

    # -- the service -------------------------------------------------------------------------

    @property
    def service(self) -> Service:
        if self._service is None:
            raise RuntimeError("the manager component is not started")
        return self._service

    @property
    def bus(self) -> Bus:
        return self.service.bus

    @property
    def is_leader(self) -> bool:
        return self._service is not None and self._service.is_leader and self.core.leading

    @property
    def instance(self) -> str:
        return self.service.instance

    def now(self) -> datetime:
        return self.service.clock.now()

    def _at(self) -> fx.At:
        service = self.service
        return fx.At(service.clock.now(), time.monotonic(), service.is_leader, service.epoch)

    # -- the control port --------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self.core.status(self._at())

    async def set_trading(self, status: TradingStatus) -> TradingStatus:
        status = status.model_copy(update={"ts": self.now()})
        await self.kv.put_trading(status)
        self.core.set_trading(status)
        return status

    def limits_kv(self) -> TypedKV[RiskLimits]:
        return self.kv.limits()

    def firm_kv(self) -> TypedKV[FirmLimits]:
        return self.kv.firm()

    def set_limits(self, name: str, value: RiskLimits | FirmLimits, revision: int) -> None:
        self.core.engine.limits.set(name, value, revision)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, service: Service) -> None:
        self._service = service
        s, core = self.settings, self.core
        symbols = set(self.scenario.symbols) if self.scenario is not None else set()
        core.start(service.instance, self._at(), symbols)
        await self.outbox.migrate()
        await self.kv.seed(self.scenario, service.instance)
        await self.kv.poll(core)
        await takeover.restore(core, self.outbox, self.now())
        bus = service.bus
        await bus.subscribe_latest(subjects.ALL_SURFACES, Surface, self._on_surface)
        await bus.subscribe_latest(subjects.ALL_TICKS, Tick, self._on_tick)
        await bus.subscribe(subjects.ALL_POSITIONS, PositionSnapshot, self._on_positions)
        await bus.subscribe(subjects.ALL_EXEC_REPORTS, ExecutionReport, self._on_report)
        await bus.subscribe(subjects.ALL_ORDERS, Order, self._on_order)
        await bus.subscribe(subjects.ALL_DECISIONS, Decision, self._on_decision)
        await bus.subscribe(subjects.ALL_HEARTBEATS, Heartbeat, self._on_heartbeat)
        await bus.subscribe(subjects.ALL_PROPOSALS, Proposal, self._on_proposal)
        await self._request_snapshots()
        self._background.every(s.kv_poll_real_s, lambda: self.kv.poll(core), "kv")
        self._background.every(s.timer_real_s, self._on_timer, "timer")
        self.ready.set()
        if service.is_leader:
            await self.on_gained(service.epoch or 0)

    async def stop(self) -> None:
        await self._background.stop()
        await self._drop_control()
        await self.outbox.close()

    async def on_gained(self, epoch: int) -> None:
        """Lease callback: this replica now leads with `epoch` (recovery, then control)."""
        if self._service is None or not self.core.gain():
            return  # not started yet (`start` calls back once it is), or leading already
        log.info("manager: leading with epoch %d", epoch)
        core, outbox = self.core, self.outbox
        try:
            await takeover.restore(core, outbox, self.now())
            await takeover.record_predecessors(core, outbox, epoch, self.now())
            await self._republish(epoch)
        except Exception:
            log.exception("manager: take-over recovery failed; carrying on")
        self._control_sub = await self.bus.serve_control(
            CONTROL_TARGET, self.control.handle, audit=self.trail
        )
        await self._apply(core.inherit(self._at()))
        reconcile = takeover.reconcile_orders(core, outbox, self.bus, self.now())
        self._background.spawn(reconcile, "reconcile-orders")  # reads the stream back

    async def on_lost(self, epoch: int) -> None:
        """Lease callback: leadership (of `epoch`) is gone; stop acting at once."""
        self.core.lose()
        log.warning("manager: no longer leading (epoch %d)", epoch)
        await self._drop_control()

    async def _drop_control(self) -> None:
        sub, self._control_sub = self._control_sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _request_snapshots(self) -> None:
        for und in sorted(self.core.known):
            request = PositionSnapshotRequest(
                underlying=und, requested_by=self.service.instance, ts=self.now()
            )
            try:
                snapshot = await self.bus.request(
                    subjects.POSITIONS_SNAPSHOT, request, PositionSnapshot, timeout_s=1.0
                )
            except (NatsUnavailable, ValidationError) as error:
                log.info("manager: no position snapshot for %s yet (%s)", und, error)
                continue
            await self._on_positions(snapshot, None)

    # -- NATS in -----------------------------------------------------------------------------

    async def _on_surface(self, surface: Surface, envelope: Envelope | None) -> None:
        self.core.on_surface(surface)

    async def _on_tick(self, tick: Tick, envelope: Envelope | None) -> None:
        await self._apply_at(self.core.on_tick, tick)

    async def _on_positions(self, snapshot: PositionSnapshot, envelope: Envelope | None) -> None:
        await self._apply_at(self.core.on_positions, snapshot)

    async def _on_report(self, report: ExecutionReport, envelope: Envelope) -> None:
        await self._apply_at(self.core.on_report, report)

    async def _on_order(self, order: Order, envelope: Envelope) -> None:
        self.core.on_order(order, self._at())

    async def _on_decision(self, decision: Decision, envelope: Envelope) -> None:
        self.core.on_decision(decision, self._at())

    async def _on_heartbeat(self, heartbeat: Heartbeat, envelope: Envelope) -> None:
        self.core.on_heartbeat(heartbeat, self._at())

    async def _on_proposal(self, proposal: Proposal, envelope: Envelope) -> None:
        self._meter.arrived(proposal.id)
        await self._apply_at(self.core.on_proposal, proposal)

    async def _on_timer(self) -> None:
        await self._apply_at(self.core.on_timer)

    # -- effects out -------------------------------------------------------------------------

    async def _apply(self, effects: list[fx.Effect]) -> None:
        """Carry out the core's effects, in order."""
        for effect in effects:
            match effect:
                case fx.Lag(ms):
                    self.service.lag_ms = ms
                case fx.Decide(cycle_id, now):
                    await self._decide(cycle_id, now)
                case fx.DecideLater(cycle_id, delay_s):
                    work = functools.partial(self._decide, cycle_id)
                    self._background.later(delay_s, f"decide-{cycle_id}", work)
                case fx.RecheckDelta(und, delay_s):
                    work = functools.partial(self._apply_at, self.core.recheck, und)
                    self._background.later(delay_s, f"delta-{und}", work)
                case fx.PublishLate(record):
                    published = await self.outbox.publish_decisions(self.bus, [record.decision])
                    await self.outbox.store_decision(record, self.now() if published else None)
                case fx.FetchLimits(und):
                    held = await self.kv.read_limits(und)
                    await self._apply(self.core.on_limits(effect, held, self._at()))
                case fx.CreateLimits(und, value):
                    created = create(self.kv.limits(), und, value)
                    self._background.spawn(created, f"fallback-{und}")
                case fx.SetTrading(status):
                    await self.set_trading(status)
                case fx.RecordBudgets(periods):
                    await self.outbox.record_budgets(periods)
                case fx.FlushOutbox():
                    republish = functools.partial(self._republish, self.service.epoch or 0)
                    await takeover.flush(self.outbox, republish)
                case fx.DecideDue():
                    await self._apply_at(self.core.due_inherited)

    async def _decide(self, cycle_id: str, now: datetime | None = None) -> None:
        """Decide one cycle (one at a time), publish its orders and decisions, then store it
        off the path of the next message."""
        self._background.cancel(f"decide-{cycle_id}")
        async with self._lock:
            at, outbox = self._at(), self.outbox
            decided = False
            if self.core.inherited(cycle_id, at):
                decided = await outbox.run(lambda: outbox.repo.has_cycle(cycle_id))
            started = time.perf_counter()
            outcome = self.core.decide(cycle_id, at, now=now, predecessor_decided=decided)
            if outcome is None:
                return
            published = await outbox.publish_orders(self.bus, outcome.orders)
            routed = time.perf_counter()
            decisions = [d.decision for d in outcome.decisions]
            published = await outbox.publish_decisions(self.bus, decisions) and published
            self._meter.decided(outcome.orders, decisions, started, routed)
            if self.core.last_cycle is not None:
                self.core.last_cycle["decide_ms"] = 1e3 * (time.perf_counter() - started)
            outbox.queue(outcome, self.now() if published else None)
        self._background.spawn(outbox.store_pending(), "store")

    async def _apply_at(self, handler: Callable[..., list[fx.Effect]], *args: Any) -> None:
        """The effects of a core call made now (`handler(*args, at)`)."""
        await self._apply(handler(*args, self._at()))

    async def _republish(self, epoch: int) -> None:
        """Publish what the store holds unpublished, stamped with `epoch` (`takeover`)."""
        max_age = self.settings.outbox_max_age_s
        await takeover.republish(
            self.core, self.outbox, self.bus, epoch, self.now(), time.monotonic(), max_age
        )
