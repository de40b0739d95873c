"""The manager component: NATS, KV and the store around the decision engine.

Every replica (leader and standbys) keeps the same state warm: it subscribes to ticks,
surfaces, position snapshots, execution reports, orders, proposals, decisions and heartbeats,
reads KV `limits` and `trading_state`, and gathers cycles. Only the leader (lease `manager`)
decides, publishes decisions and orders (stamped with its epoch), writes KV `trading_state`,
records budget periods, and answers control commands.

- **Proposals** (`hedge.v1.proposal.*`): a duplicate id is dropped; one for a cycle already
  decided is rejected `CYCLE_CLOSED` (leader); else gathered. A cycle is decided as soon as
  every live specialist slice has proposed, or `gather_window_real_s` after it opened.
- **Ticks**: the leader checks the book's delta and, when the band is breached, decides a
  cycle of its own at once (`<UND>-<seq>-delta`: the underlying alone; the agents' cycle of
  the same tick is apart and closes its own residual delta against the orders in flight).
- **Execution reports and position snapshots**: orders in flight and the book follow them;
  the leader checks the delta again `delta_recheck_real_s` after a burst of them
  (`<UND>-<seq>-delta-r<n>`), so an option fill's delta, a cancelled rest or a client trade is
  hedged as it happens, not a tick later.
- **Deciding** (one cycle at a time): the engine decides; orders go to JetStream
  (`Nats-Msg-Id` = client order id) and decisions to `hedge.v1.decision.<agent>`, then the
  cycle is stored with `published_at` (or without, when NATS failed: the timer re-publishes
  from the store). A store failure keeps the outcome in memory and retries.
- **Take-over**: control is served; budgets and the day's cost are restored from the store;
  stored orders and decisions never published are published (orders re-stamped with the new
  epoch, same client order ids, unless older than `outbox_max_age_s`); cycles gathered as a
  standby that the store does not hold are decided.
- **Control** (`hedge.v1.control.manager`, served by the leader only, so a request reaches the
  leader alone; one arriving during a hand-over at a replica that just lost the lease gets
  `ok=false`, reason `NOT_LEADER`): halt, resume, reduce, set_limit, status.
- **Timer**: budget periods roll (leader records them), slice liveness and the manager's own
  REDUCING rule, orders in flight expire, outboxes are retried, stale standby cycles dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import Engine as DbEngine

from hedgemesh.manager.adapters.control import ControlHandler
from hedgemesh.manager.config import ManagerSettings
from hedgemesh.manager.domain.budgets import Budgets, period_start
from hedgemesh.manager.domain.engine import CycleOutcome, DecisionEngine
from hedgemesh.manager.domain.gather import Cycle, Gatherer
from hedgemesh.manager.domain.heard import PredecessorLog
from hedgemesh.manager.domain.inflight import InFlight
from hedgemesh.manager.domain.limits import (
    FIRM_LIMITS_KEY,
    DeskLimits,
    FallbackLimits,
    fallback_limits,
)
from hedgemesh.manager.domain.trading import auto_state
from hedgemesh.market.book_state import BookState
from hedgemesh.runtime.bus import Bus, Envelope
from hedgemesh.runtime.errors import CasConflict, CorruptValue, NatsUnavailable
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.scenario.model import Scenario
from hedgemesh.store.db import StoreSettings, make_engine, migrate, session_factory
from hedgemesh.store.decisions import BudgetPeriod, DecisionRecord, DecisionRepository
from hedgemesh.venue.spec import VENUE, VenueSpec
from hedgemesh.wire import subjects
from hedgemesh.wire.book import PositionSnapshot, PositionSnapshotRequest
from hedgemesh.wire.codes import ReasonCode, TradingState
from hedgemesh.wire.hedging import Decision, Proposal
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.ops import Heartbeat, Role, ServiceState
from hedgemesh.wire.orders import ExecutionReport, Order
from hedgemesh.wire.state import FirmLimits, RiskLimits, TradingStatus

if TYPE_CHECKING:
    from hedgemesh.runtime.clock import Clock
    from hedgemesh.runtime.service import Service

log = logging.getLogger(__name__)

CONTROL_TARGET = "manager"
TRADING_KEY = "desk"
T = TypeVar("T")


@dataclass
class _Slice:
    """The last leader heartbeat seen of one specialist service (real seconds)."""

    instance: str
    seen_at: float


class ManagerComponent:
    """Runs the decision engine inside a `Service` (see the module docstring)."""

    def __init__(
        self,
        settings: ManagerSettings,
        store: StoreSettings,
        scenario: Scenario | None = None,
        venue: VenueSpec = VENUE,
    ) -> None:
        self.settings = settings
        self.venue = venue
        self.store_settings = store
        self.scenario = scenario
        self.stats: Counter[str] = Counter()
        self.ready = asyncio.Event()
        self.gatherer = Gatherer(settings.gather_window_real_s, settings.closed_cycles_kept)
        self.engine: DecisionEngine | None = None
        self.repo: DecisionRepository | None = None
        self.last_cycle: dict[str, Any] | None = None
        self.slices: dict[str, _Slice] = {}
        self.control = ControlHandler(self)
        self._service: Service | None = None
        self._db: DbEngine | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="manager-store")
        self._lock = asyncio.Lock()
        self._store_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[Any]] = []
        self._inherited: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._unstored: list[tuple[CycleOutcome, datetime | None]] = []
        #: Stored orders never published and too old to route: left unpublished in the store
        #: (the truth), skipped by the outbox, not in flight.
        self._dropped: set[str] = set()
        #: What this replica heard the leader publish while standing by (`heard`).
        self.heard = PredecessorLog()
        self._control_sub: Any = None
        self._leading = False
        self._started_at = 0.0
        self._known: set[str] = set()
        self._delta_due: set[str] = set()
        self._rechecks: dict[str, int] = {}  # delta cycle id of a tick → rechecks on it

    # -- what the adapters share -------------------------------------------------------------

    @property
    def service(self) -> Service:
        assert self._service is not None, "the manager component is not started"
        return self._service

    @property
    def bus(self) -> Bus:
        return self.service.bus

    @property
    def clock(self) -> Clock:
        return self.service.clock

    @property
    def is_leader(self) -> bool:
        return self._service is not None and self._service.is_leader and self._leading

    @property
    def known_underlyings(self) -> set[str]:
        """Underlyings seen (scenario, ticks, snapshots)."""
        return set(self._known)

    def limits_kv(self) -> TypedKV[RiskLimits]:
        return self.service.kv(subjects.KV_LIMITS, RiskLimits)

    def firm_kv(self) -> TypedKV[FirmLimits]:
        return self.service.kv(subjects.KV_LIMITS, FirmLimits)

    def trading_kv(self) -> TypedKV[TradingStatus]:
        return self.service.kv(subjects.KV_TRADING_STATE, TradingStatus)

    async def in_store(self, call: Callable[[], T]) -> T:
        """Run a store call on the store's own thread (one at a time, in order)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, service: Service) -> None:
        self._service = service
        s = self.settings
        now = service.clock.now()
        self._started_at = _real()
        url = self.store_settings.url
        await self.in_store(lambda: migrate(url))
        self._db = make_engine(url, self.store_settings)
        self.repo = DecisionRepository(session_factory(self._db))
        self.engine = DecisionEngine(
            params=s.decision_params(self.venue),
            book=BookState(),
            limits=DeskLimits(),
            budgets=Budgets(
                self._allocations(),
                period_s=self._budget_spec("period", s.budget_period_s),
                floor_fraction=self._budget_spec("floor_fraction", s.budget_floor_fraction),
                rate=self._budget_spec("reallocation_rate", s.budget_reallocation_rate),
                now=now,
            ),
            inflight=InFlight(s.inflight_timeout_real_s),
        )
        await self._seed_kv()
        await self._poll_kv()
        await self._restore_from_store()
        bus = service.bus
        await bus.subscribe(subjects.ALL_SURFACES, Surface, self._on_surface)
        await bus.subscribe(subjects.ALL_TICKS, Tick, self._on_tick)
        await bus.subscribe(subjects.ALL_POSITIONS, PositionSnapshot, self._on_positions)
        await bus.subscribe(subjects.ALL_EXEC_REPORTS, ExecutionReport, self._on_report)
        await bus.subscribe(subjects.ALL_ORDERS, Order, self._on_order)
        await bus.subscribe(subjects.ALL_DECISIONS, Decision, self._on_decision)
        await bus.subscribe(subjects.ALL_HEARTBEATS, Heartbeat, self._on_heartbeat)
        await bus.subscribe(subjects.ALL_PROPOSALS, Proposal, self._on_proposal)
        await self._request_snapshots()
        self._tasks = [
            asyncio.create_task(self._run_every(s.kv_poll_real_s, self._poll_kv), name="kv"),
            asyncio.create_task(self._run_every(s.timer_real_s, self._on_timer), name="timer"),
        ]
        self.ready.set()
        if service.is_leader:
            await self.on_gained(service.epoch or 0)

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
        await self._drop_control()
        if self._unstored:
            with contextlib.suppress(Exception):
                await self._store_pending()
        self._pool.shutdown(wait=True)
        if self._db is not None:
            self._db.dispose()
            self._db = None

    async def on_gained(self, epoch: int) -> None:
        """Lease callback: this replica now leads with `epoch`."""
        if self.engine is None or self._leading:
            return  # not started yet: `start` calls back once it is
        self._leading = True
        self.stats["gained"] += 1
        log.info("manager: leading with epoch %d", epoch)
        try:
            await self._restore_from_store()
            await self._record_predecessors(epoch)
            await self._republish(epoch)
        except Exception:
            log.exception("manager: take-over recovery failed; carrying on")
        self._control_sub = await self.bus.serve_control(CONTROL_TARGET, self.control.handle)
        self._inherited = set(self.gatherer.open)
        loop_now = asyncio.get_running_loop().time()
        for cycle in list(self.gatherer.open.values()):
            self._schedule(cycle, loop_now)

    async def on_lost(self, epoch: int) -> None:
        """Lease callback: leadership (of `epoch`) is gone; stop acting at once."""
        self._leading = False
        self.stats["lost"] += 1
        log.warning("manager: no longer leading (epoch %d)", epoch)
        await self._drop_control()

    async def _drop_control(self) -> None:
        sub, self._control_sub = self._control_sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    # -- start-up ----------------------------------------------------------------------------

    def _budget_spec(self, name: str, default: float) -> float:
        spec = self.scenario.limits.budgets if self.scenario and self.scenario.limits else None
        return float(getattr(spec, name)) if spec is not None else default

    def _allocations(self) -> dict[str, float]:
        spec = self.scenario.limits.budgets if self.scenario and self.scenario.limits else None
        if spec is not None:
            return dict(spec.agents)
        return {agent: self.settings.default_budget for agent in self.settings.agents}

    async def _seed_kv(self) -> None:
        """Create KV limits from the scenario and the trading state, never overwriting."""
        who = f"scenario:{self.scenario.name}" if self.scenario else "manager"
        limits = self.scenario.limits if self.scenario else None
        if self.scenario is not None:
            self._known.update(self.scenario.symbols)
        if limits is not None:
            if limits.firm is not None:
                await _create(self.firm_kv(), FIRM_LIMITS_KEY, limits.firm.firm_limits(who))
            for symbol, spec in limits.underlyings.items():
                await _create(self.limits_kv(), symbol, spec.risk_limits(symbol, who))
        initial = TradingStatus(
            state=TradingState.ACTIVE, reason="initial state", changed_by=self.service.instance
        )
        await _create(self.trading_kv(), TRADING_KEY, initial)

    async def _poll_kv(self) -> None:
        """Read the trading state and every known limit from KV (all replicas)."""
        engine = self.engine
        assert engine is not None
        try:
            status = await self.trading_kv().get(TRADING_KEY)
            if status is not None:
                engine.trading = status.value
            firm = await self.firm_kv().get(FIRM_LIMITS_KEY)
            if firm is not None:
                engine.limits.set(FIRM_LIMITS_KEY, firm.value, firm.revision)
            for und in sorted(self._known | set(engine.book.underlyings)):
                held = await self.limits_kv().get(und)
                if held is not None:
                    engine.limits.set(und, held.value, held.revision)
        except (NatsUnavailable, CorruptValue) as error:
            self.stats["kv_errors"] += 1
            log.warning("manager: KV read failed: %s", error)

    async def _restore_from_store(self) -> None:
        """Budgets and the day's cost as the store has them (a predecessor's state)."""
        engine, repo = self.engine, self.repo
        assert engine is not None and repo is not None
        now = self.clock.now()
        budgets = engine.budgets
        start = period_start(now, budgets.period_s)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        latest = await self.in_store(repo.latest_budget_periods)
        spending = await self.in_store(lambda: repo.spending_since(start))
        costs = await self.in_store(lambda: repo.cost_since(day))
        allocations = {a: p.next_allocation for a, p in latest.items() if p.period_end <= start}
        budgets.restore(
            allocations,
            {a: (sp.premium, sp.risk_removed) for a, sp in spending.items()},
            now=now,
        )
        engine.roll_cost_day(now)
        engine.cost_today = dict(costs)

    async def _request_snapshots(self) -> None:
        for und in sorted(self._known):
            request = PositionSnapshotRequest(underlying=und, requested_by=self.service.instance)
            try:
                snapshot = await self.bus.request(
                    subjects.POSITIONS_SNAPSHOT, request, PositionSnapshot, timeout_s=1.0
                )
            except (NatsUnavailable, ValidationError) as error:
                log.info("manager: no position snapshot for %s yet (%s)", und, error)
                continue
            await self._on_positions(snapshot, None)

    # -- market, positions, orders -----------------------------------------------------------

    async def _on_surface(self, surface: Surface, envelope: Envelope | None) -> None:
        assert self.engine is not None
        self.engine.book.apply_surface(surface)

    async def _on_tick(self, tick: Tick, envelope: Envelope | None) -> None:
        engine = self.engine
        assert engine is not None
        if not engine.book.apply_tick(tick):
            return
        und = tick.underlying
        if und not in self._known:
            self._known.add(und)
        now = self.clock.now()  # heartbeats say how far behind the market this runs
        self.service.lag_ms = max((now - tick.ts).total_seconds(), 0.0) * 1e3
        if engine.limits.get(und) is None:
            await self._limits_for(und, tick.price)
        await self._check_delta(und, delta_cycle_id(und, tick.seq), now)

    async def _check_delta(self, und: str, cycle_id: str, now: datetime) -> None:
        """The leader's own delta check: outside the band, a cycle of its own, decided at once
        (nothing to wait for)."""
        engine = self.engine
        assert engine is not None
        if not self.is_leader or not engine.needs_delta_hedge(und, now):
            return
        loop_now = asyncio.get_running_loop().time()
        if self.gatherer.open_for_delta(cycle_id, und, loop_now) is not None:
            self.stats["delta_cycles"] += 1
            await self._decide(cycle_id, now)

    def _delta_soon(self, und: str) -> None:
        """Check `und`'s delta again shortly (one check for a burst of reports or snapshots)."""
        if not self.is_leader or und in self._delta_due:
            return
        self._delta_due.add(und)
        asyncio.get_running_loop().call_later(
            self.settings.delta_recheck_real_s,
            lambda: self._spawn(self._recheck_delta(und), f"delta-{und}"),
        )

    async def _recheck_delta(self, und: str) -> None:
        self._delta_due.discard(und)
        engine = self.engine
        assert engine is not None
        tick = engine.book.tick(und)
        if tick is None:
            return
        base = delta_cycle_id(und, tick.seq)
        self._rechecks[base] = n = self._rechecks.get(base, 0) + 1
        while len(self._rechecks) > 64:
            del self._rechecks[next(iter(self._rechecks))]
        await self._check_delta(und, f"{base}-r{n}", self.clock.now())

    async def _limits_for(self, und: str, spot: float) -> None:
        """A new underlying's limits: from KV, else the fallback (in memory now, and in KV
        with create when leading, so that an operator sees and can change them)."""
        engine = self.engine
        assert engine is not None
        try:
            held = await self.limits_kv().get(und)
        except (NatsUnavailable, CorruptValue) as error:
            log.warning("manager: KV limits of %s unreadable: %s", und, error)
            held = None
        if held is not None:
            engine.limits.set(und, held.value, held.revision)
            return
        s = self.settings
        fallback = FallbackLimits(
            s.fallback_dollar_delta,
            s.fallback_dollar_gamma_per_pct,
            s.fallback_vega_per_vol_point,
            s.fallback_order_notional,
            s.fallback_order_quantity,
            s.fallback_daily_cost_budget,
            s.fallback_price_collar,
            s.fallback_max_tick_age_s,
        )
        value = fallback_limits(und, spot, fallback, "manager-fallback")
        engine.limits.set(und, value, 0)
        log.warning("manager: no limits for %s: fallback %s", und, value.model_dump())
        if self.is_leader:
            self._spawn(_create(self.limits_kv(), und, value), f"fallback-{und}")

    async def _on_positions(self, snapshot: PositionSnapshot, envelope: Envelope | None) -> None:
        engine = self.engine
        assert engine is not None
        newer = engine.book.apply_snapshot(snapshot)
        engine.inflight.on_snapshot(snapshot)
        self._known.add(snapshot.underlying)
        if newer:
            self._delta_soon(snapshot.underlying)

    async def _on_report(self, report: ExecutionReport, envelope: Envelope) -> None:
        engine = self.engine
        assert engine is not None
        engine.inflight.on_report(report, _real())
        if report.is_fill:
            engine.charge_fill(report.client_order_id, report.last_quantity or 0, self.clock.now())
        self._delta_soon(report.instrument.underlying)

    async def _on_order(self, order: Order, envelope: Envelope) -> None:
        assert self.engine is not None
        self.engine.inflight.on_order(order, _real())
        if not self.is_leader:
            self.heard.on_order(order)

    async def _on_decision(self, decision: Decision, envelope: Envelope) -> None:
        """Another replica decided this cycle: a standby closes it."""
        if not self.is_leader:
            self.heard.on_decision(decision)
            if decision.cycle_id in self.gatherer.open:
                self.gatherer.close(decision.cycle_id)

    async def _on_heartbeat(self, heartbeat: Heartbeat, envelope: Envelope) -> None:
        if heartbeat.service not in self.settings.agents:
            return
        now = _real()
        held = self.slices.get(heartbeat.service)
        if heartbeat.state is ServiceState.STOPPING or heartbeat.role is Role.STANDBY:
            if held is not None and held.instance == heartbeat.instance:
                del self.slices[heartbeat.service]
            return
        self.slices[heartbeat.service] = _Slice(heartbeat.instance, now)

    def live_slices(self) -> set[str]:
        """Specialist services with a leader heartbeat within `agent_timeout_real_s`."""
        now = _real()
        timeout = self.settings.agent_timeout_real_s
        return {name for name, sl in self.slices.items() if now - sl.seen_at <= timeout}

    # -- proposals and cycles ----------------------------------------------------------------

    async def _on_proposal(self, proposal: Proposal, envelope: Envelope) -> None:
        self.stats["proposals"] += 1
        self.heard.on_proposal(proposal)
        if self.gatherer.seen(proposal.id):
            self.stats["duplicate_proposals"] += 1
            return
        if self.gatherer.is_closed(proposal.cycle_id):
            self.gatherer.note(proposal.id)
            if self.is_leader:
                await self._late(proposal)
            return
        loop_now = asyncio.get_running_loop().time()
        cycle = self.gatherer.add(proposal, loop_now)
        if self.gatherer.complete(cycle, self.live_slices()):
            await self._decide(cycle.cycle_id)
        else:
            self._schedule(cycle, loop_now)

    def _schedule(self, cycle: Cycle, loop_now: float) -> None:
        if not self.is_leader or cycle.cycle_id in self._timers:
            return
        delay = max(self.gatherer.due_at(cycle) - loop_now, 0.0)
        cycle_id = cycle.cycle_id
        self._timers[cycle_id] = asyncio.get_running_loop().call_later(
            delay, lambda: self._spawn(self._decide(cycle_id), f"decide-{cycle_id}")
        )

    def _spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)

    def _forget_task(self, task: asyncio.Task[Any]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("manager: background work failed", exc_info=task.exception())

    async def _late(self, proposal: Proposal) -> None:
        """A proposal for a cycle already decided: rejected CYCLE_CLOSED, stored, published."""
        engine, repo = self.engine, self.repo
        assert engine is not None and repo is not None
        record = engine.reject_alone(
            proposal,
            ReasonCode.CYCLE_CLOSED,
            f"cycle {proposal.cycle_id} was decided before this proposal arrived",
            self.clock.now(),
            self.service.epoch or 0,
        )
        self.stats["late_proposals"] += 1
        published = await self._publish_decisions([record.decision])
        stored = DecisionRecord(
            record.decision, record.proposal, published_at=self.clock.now() if published else None
        )
        try:
            await self.in_store(lambda: repo.record_decision(stored))
        except Exception:
            log.exception("manager: could not store the late decision %s", record.decision.id)

    async def _decide(self, cycle_id: str, now: datetime | None = None) -> None:
        """Decide one gathered cycle, publish, store (module doc); `now`: the clock's time
        the caller already read (the book's risk is computed once per instant)."""
        handle = self._timers.pop(cycle_id, None)
        if handle is not None:
            handle.cancel()
        async with self._lock:
            if not self.is_leader:
                return  # a standby keeps it open; decided on take-over if nobody did
            if cycle_id in self._inherited:
                self._inherited.discard(cycle_id)
                repo = self.repo
                assert repo is not None
                if await self.in_store(lambda: repo.has_cycle(cycle_id)):
                    self.gatherer.close(cycle_id)
                    return  # the predecessor decided it
            cycle = self.gatherer.close(cycle_id)
            if cycle is None:
                return
            engine = self.engine
            assert engine is not None
            epoch = self.service.epoch
            if epoch is None:
                return
            started = time.perf_counter()
            try:
                outcome = engine.decide(cycle, now or self.clock.now(), epoch)
            except Exception as error:  # a bug: still one decision per proposal, no orders
                self.stats["decide_errors"] += 1
                log.exception("manager: deciding %s failed", cycle_id)
                outcome = engine.refuse(
                    cycle, f"deciding failed: {error!r}", self.clock.now(), epoch
                )
            for order in outcome.orders:
                engine.inflight.on_order(order, _real())
            published = await self._publish_orders(outcome.orders)
            published = await self._publish_decisions([d.decision for d in outcome.decisions]) and (
                published
            )
            self.stats["cycles"] += 1
            self.stats["orders"] += len(outcome.orders)
            self.stats["decisions"] += len(outcome.decisions)
            self.last_cycle = {
                "cycle_id": cycle_id,
                "underlying": cycle.underlying,
                "trigger": outcome.cycle.trigger,
                "decided_at": outcome.cycle.decided_at.isoformat(),
                "proposals": len(outcome.decisions),
                "orders": len(outcome.orders),
                "greeks_before": outcome.cycle.greeks_before,
                "greeks_after": outcome.cycle.greeks_after,
                "decide_ms": 1e3 * (time.perf_counter() - started),
            }
            self._unstored.append((outcome, self.clock.now() if published else None))
        self._spawn(self._store_pending(), "store")  # off the path of the next message

    async def _publish_orders(self, orders: list[Order]) -> bool:
        if not orders:
            return True
        results = await asyncio.gather(
            *(self.bus.js_publish(o.publish_subject, o, msg_id=o.client_order_id) for o in orders),
            return_exceptions=True,
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        for error in failed:
            log.warning("manager: order not published (will retry from the store): %s", error)
        self.stats["duplicate_orders"] += sum(
            1 for r in results if not isinstance(r, BaseException) and r.duplicate
        )
        return not failed

    async def _publish_decisions(self, decisions: list[Decision]) -> bool:
        ok = True
        for decision in decisions:
            try:
                await self.bus.publish(decision.publish_subject, decision)
            except NatsUnavailable as error:
                ok = False
                log.warning("manager: decision %s not published: %s", decision.id, error)
        return ok

    async def _store_pending(self) -> None:
        """Store decided cycles in the order decided (one writer at a time); on a failure the
        rest wait for the next call."""
        repo = self.repo
        assert repo is not None
        async with self._store_lock:
            while self._unstored:
                outcome, published_at = self._unstored[0]
                try:
                    await self.in_store(
                        functools.partial(
                            repo.record_cycle,
                            outcome.cycle,
                            outcome.decisions,
                            outcome.orders,
                            published_at=published_at,
                            unit_costs=outcome.unit_costs,
                        )
                    )
                except Exception:
                    self.stats["store_errors"] += 1
                    log.exception(
                        "manager: storing cycle %s failed; will retry", outcome.cycle.cycle_id
                    )
                    return
                self._unstored.pop(0)

    # -- take-over ---------------------------------------------------------------------------

    async def _republish(self, epoch: int) -> None:
        """Publish what a predecessor stored but never published (module doc)."""
        repo = self.repo
        assert repo is not None
        now = self.clock.now()
        max_age = timedelta(seconds=self.settings.outbox_max_age_s)
        orders = await self._outbox_orders()
        fresh = [o for o in orders if now - o.ts <= max_age]
        stale = [o for o in orders if now - o.ts > max_age]
        restamped = [
            o.model_copy(update={"epoch": epoch, "id": f"{o.client_order_id}-e{epoch}"})
            for o in fresh
        ]
        if restamped and await self._publish_orders(restamped):
            for o in restamped:
                assert self.engine is not None
                self.engine.inflight.on_order(o, _real())
        elif restamped:
            fresh = []
        if stale:
            log.warning("manager: %d stored orders too old to route; dropped", len(stale))
            self._dropped.update(o.client_order_id for o in stale)
            assert self.engine is not None
            self.engine.inflight.forget(self._dropped)
        decisions = await self.in_store(repo.unpublished_decisions)
        sent = [d for d in decisions if await self._publish_decisions([d])]
        coids = [o.client_order_id for o in fresh]
        await self.in_store(
            lambda: repo.mark_published(
                decision_ids=[d.id for d in sent], client_order_ids=coids, at=now
            )
        )
        self.stats["republished_orders"] += len(fresh)

    async def _record_predecessors(self, epoch: int) -> None:
        """Store the cycles a predecessor published but did not store (`heard`)."""
        repo, engine = self.repo, self.engine
        assert repo is not None and engine is not None
        heard = self.heard.cycle_ids()
        stored = await self.in_store(lambda: {c for c in heard if repo.has_cycle(c)})
        unstored = self.heard.unstored(epoch, stored.__contains__, engine.trading.state.value)
        now = self.clock.now()
        record = functools.partial(repo.record_cycle, published_at=now)
        for c in unstored:
            await self.in_store(functools.partial(record, c.cycle, c.decisions, c.orders))
        if unstored:
            log.warning("manager: stored %d cycles its predecessor published", len(unstored))
        self.stats["predecessor_cycles"] += len(unstored)

    async def _outbox_orders(self, limit: int = 1000) -> list[Order]:
        """Stored orders never published, oldest first, less those dropped as too old."""
        repo = self.repo
        assert repo is not None
        orders = await self.in_store(lambda: repo.unpublished_orders(limit + len(self._dropped)))
        return [o for o in orders if o.client_order_id not in self._dropped][:limit]

    async def _decide_inherited(self) -> None:
        """Cycles gathered while standing by that are due and not in the store: decide."""
        repo = self.repo
        assert repo is not None
        loop_now = asyncio.get_running_loop().time()
        for cycle in self.gatherer.due(loop_now):
            if cycle.cycle_id not in self._timers:
                self._inherited.add(cycle.cycle_id)  # check the store first
                await self._decide(cycle.cycle_id)

    # -- timer -------------------------------------------------------------------------------

    async def _run_every(self, interval_s: float, work: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await work()
            except Exception:
                log.exception("manager: periodic work failed")

    async def _on_timer(self) -> None:
        engine, repo = self.engine, self.repo
        assert engine is not None and repo is not None
        now = self.clock.now()
        rolled = engine.budgets.roll(now)
        if rolled is not None and self.is_leader:
            start, end, results = rolled
            periods = [
                BudgetPeriod(
                    agent=r.agent,
                    period_start=start,
                    period_end=end,
                    allocated=r.allocated,
                    spent=r.spent,
                    risk_removed=r.risk_removed,
                    efficiency=r.efficiency,
                    floor=r.floor,
                    next_allocation=r.next_allocation,
                    reason=r.reason,
                    recorded_at=now,
                )
                for r in results
            ]
            await self.in_store(lambda: repo.record_budget_periods(periods))
        engine.inflight.expire(_real())
        if self.is_leader:
            await self._apply_auto_state()
            await self._store_pending()
            orders = await self._outbox_orders(1)
            decisions = await self.in_store(lambda: repo.unpublished_decisions(1))
            if orders or decisions:
                await self._republish(self.service.epoch or 0)
            await self._decide_inherited()
        else:
            cutoff = asyncio.get_running_loop().time() - self.settings.standby_cycles_kept_s
            self.gatherer.forget_older_than(cutoff)

    async def _apply_auto_state(self) -> None:
        engine = self.engine
        assert engine is not None
        s = self.settings
        if not s.degrade_when_slice_down:
            return
        if _real() - self._started_at < s.startup_grace_real_s:
            return
        down = set(s.agents) - self.live_slices()
        wanted = auto_state(engine.trading, down, self.service.instance)
        if wanted is not None:
            await self.set_trading(wanted)

    async def set_trading(self, status: TradingStatus) -> TradingStatus:
        """Write the trading state to KV and act on it at once (leader)."""
        assert self.engine is not None
        status = status.model_copy(update={"ts": self.clock.now()})
        await self.trading_kv().put(TRADING_KEY, status)
        self.engine.trading = status
        log.warning(
            "manager: trading %s by %s: %s", status.state.value, status.changed_by, status.reason
        )
        return status


def delta_cycle_id(underlying: str, tick_seq: int) -> str:
    """The id of the manager's own residual-delta cycle on a tick."""
    return f"{underlying}-{tick_seq}-delta"


def _real() -> float:
    """Real seconds (monotonic): for liveness and orders in flight, whatever the clock's speed."""
    return time.monotonic()


async def _create(kv: TypedKV[Any], key: str, value: Any) -> bool:
    """Create a KV key unless it exists; True when created."""
    try:
        await kv.create(key, value)
        return True
    except CasConflict:
        return False
    except NatsUnavailable as error:
        log.warning("manager: could not seed %s/%s: %s", kv.bucket, key, error)
        return False
