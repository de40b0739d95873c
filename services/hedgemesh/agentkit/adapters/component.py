"""A specialist agent inside a `Service`: its inputs over NATS into the `AgentCore`, and its
proposals out. The only module of the agents that does I/O.

In: ticks, surfaces and position snapshots of every underlying (core NATS; the current
snapshots are also asked of the ledger at start-up, retried until it answers), the manager's
decisions on this agent's proposals, the leader's proposals (a standby mirrors their hold),
the manager's heartbeats (no proposal until a manager leader is ready to decide it), and KV
`limits`, `trading_state` and its own key of `agent_params` (the live parameters, applied
from the next cycle on, by leader and standbys alike), re-read every `kv_poll_s`. Every
tick that is newer than the one held runs a cycle for its underlying; a timer runs one for
every underlying every `timer_poll_s` of clock time. Out: each cycle's `Proposal` on
`hedge.v1.proposal.<agent>`, stamped with the lease epoch, from the leader only; standbys run
the same cycles on the same inputs (warm) and publish nothing.

Handlers log and continue (the `Bus` dead-letters undecodable input before it gets here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from hedgemesh.agentkit.config import AgentSettings
from hedgemesh.agentkit.domain.core import DESK, AgentCore, Evaluation, Skip
from hedgemesh.runtime import metrics
from hedgemesh.runtime.bus import Envelope
from hedgemesh.runtime.errors import CorruptValue, NatsUnavailable
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.wire import subjects
from hedgemesh.wire.book import PositionSnapshot, PositionSnapshotRequest
from hedgemesh.wire.hedging import Decision, Proposal
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.ops import Heartbeat, Role, ServiceState
from hedgemesh.wire.orders import ExecutionReport
from hedgemesh.wire.params import AgentParams
from hedgemesh.wire.state import RiskLimits, TradingStatus

if TYPE_CHECKING:
    from hedgemesh.runtime.service import Service

log = logging.getLogger(__name__)


EVALUATIONS = metrics.counter(
    "evaluations_total", "Agent evaluations by outcome (proposed, or why skipped).", ["outcome"]
)
PROPOSALS = metrics.counter(
    "proposals_total", "Proposals published (when leading), by trigger.", ["trigger", "underlying"]
)
TICK_TO_PROPOSAL = metrics.histogram(
    "tick_to_proposal_seconds", "From a tick's arrival to the proposal it triggered, published."
)


class AgentComponent:
    """Feeds an `AgentCore` from NATS and publishes its proposals when leading.

    Counters for health and tests: `evaluations` (by outcome: proposed or the `Skip`),
    `published_count`, and the latest proposals published (`published`) and decided
    (`decided`, published or not).
    """

    def __init__(
        self,
        core: AgentCore,
        settings: AgentSettings,
        underlyings: tuple[str, ...] = (),
        *,
        real_time: Callable[[], float] = time.monotonic,
    ) -> None:
        self.core = core
        self.settings = settings
        """The environment's settings: the adapter's own (manager, polling, timer)."""
        self.underlyings = underlyings
        """Underlyings whose snapshots, limits and trading state are read at start."""
        self.evaluations: Counter[str] = Counter()
        self.published: deque[Proposal] = deque(maxlen=256)
        self.published_count = 0
        self._tick_at: dict[str, float] = {}
        """When the latest tick of each underlying arrived (perf_counter), for the latency."""
        self.decided: deque[Proposal] = deque(maxlen=256)
        self._real_time = real_time
        self._service: Service | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._snapshots_due: set[str] = set()
        self._params_seen: int | None = None
        """The last revision of the live parameters looked at (applied or refused)."""
        self._manager: tuple[str, float] | None = None
        """The manager leader's instance and when it last said it was ready (real time)."""
        self._standby_cycled: dict[str, float] = {}
        """When this instance, standing by, last evaluated each underlying (real time)."""

    @property
    def service(self) -> Service:
        if self._service is None:
            raise RuntimeError("the agent component is not started")
        return self._service

    def _known(self) -> set[str]:
        return {*self.underlyings, *self.core.book.underlyings}

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, service: Service) -> None:
        self._service = service
        self._snapshots_due = set(self.underlyings)
        await self._read_desk()
        self._policy_status()
        bus = service.bus
        await bus.subscribe_latest(subjects.ALL_SURFACES, Surface, self._on_surface)
        await bus.subscribe(subjects.ALL_POSITIONS, PositionSnapshot, self._on_positions)
        await bus.subscribe(subjects.decision(self.core.agent), Decision, self._on_decision)
        await bus.subscribe(subjects.ALL_EXEC_REPORTS, ExecutionReport, self._on_report)
        await bus.subscribe(subjects.proposal(self.core.agent), Proposal, self._on_peer_proposal)
        manager = self.settings.manager
        if manager is not None:
            heartbeats = f"{subjects.PREFIX}.heartbeat.{subjects.token(manager)}.*"
            await bus.subscribe(heartbeats, Heartbeat, self._on_manager_heartbeat)
        await bus.subscribe_latest(subjects.ALL_TICKS, Tick, self._on_tick)
        self._tasks = [
            asyncio.create_task(self._poll_desk(), name=f"{self.core.agent}-desk"),
            asyncio.create_task(self._timer(), name=f"{self.core.agent}-timer"),
            asyncio.create_task(self._request_snapshots(), name=f"{self.core.agent}-snapshots"),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            await cancel_and_wait(task)

    # -- inputs ------------------------------------------------------------------------------

    async def _on_tick(self, tick: Tick, envelope: Envelope) -> None:
        if self.core.book.apply_tick(tick):
            self._tick_at[tick.underlying] = time.perf_counter()
            await self.cycle(tick.underlying)
            service = self.service  # heartbeats say how far behind the market this runs
            service.lag_ms = max((service.clock.now() - tick.ts).total_seconds(), 0.0) * 1e3

    async def _on_surface(self, surface: Surface, envelope: Envelope) -> None:
        self.core.book.apply_surface(surface)

    async def _on_positions(self, snapshot: PositionSnapshot, envelope: Envelope) -> None:
        self.core.on_snapshot(snapshot)
        self._snapshots_due.discard(snapshot.underlying)

    async def _on_peer_proposal(self, proposal: Proposal, envelope: Envelope) -> None:
        service = self.service
        mine = service.leads(proposal.underlying)
        if not (mine and proposal.epoch == service.epoch_for(proposal.underlying)):  # not ours
            self.core.on_peer_proposal(proposal, self._real_time())

    async def _on_report(self, report: ExecutionReport, envelope: Envelope) -> None:
        self.core.on_report(report)

    async def _on_decision(self, decision: Decision, envelope: Envelope) -> None:
        self.core.on_decision(decision, self._real_time())

    async def _on_manager_heartbeat(self, heartbeat: Heartbeat, envelope: Envelope) -> None:
        self.on_manager_heartbeat(heartbeat)

    def on_manager_heartbeat(self, heartbeat: Heartbeat) -> None:
        """A manager replica's heartbeat: a leader whose components have started (READY) is
        subscribed to proposals; one stopping or standing by is not (anymore)."""
        if heartbeat.role is Role.LEADER and heartbeat.state is ServiceState.READY:
            self._manager = (heartbeat.instance, self._real_time())
        elif self._manager is not None and self._manager[0] == heartbeat.instance:
            self._manager = None

    def manager_ready(self) -> bool:
        """Whether a manager leader has said, within `manager_timeout_s`, it is ready."""
        settings = self.settings
        if settings.manager is None:
            return True
        seen = self._manager
        return seen is not None and self._real_time() - seen[1] <= settings.manager_timeout_s

    async def _read_desk(self) -> None:
        """Re-read the limits and trading state of every known underlying (and the desk's),
        and the agent's live parameters."""
        service = self.service
        await self._read_params()
        limits = service.kv(subjects.KV_LIMITS, RiskLimits)
        states = service.kv(subjects.KV_TRADING_STATE, TradingStatus)
        core = self.core
        for underlying in sorted(self._known()):
            with contextlib.suppress(CorruptValue):
                entry = await limits.get(underlying)
                if entry is None:
                    core.limits.pop(underlying, None)
                else:
                    core.limits[underlying] = entry.value
        for key in (DESK, *sorted(self._known())):
            with contextlib.suppress(CorruptValue):
                state = await states.get(key)
                if state is None:
                    core.trading.pop(key, None)
                else:
                    core.trading[key] = state.value

    async def _read_params(self) -> None:
        """Apply the live parameters when their revision changed (gone: the environment's
        settings again); an invalid value is logged and the parameters in force are kept."""
        service, core = self.service, self.core
        try:
            entry = await service.kv(subjects.KV_AGENT_PARAMS, AgentParams).get(core.agent)
        except CorruptValue as error:
            if self._params_seen != error.revision:
                self._params_seen = error.revision
                log.error("%s: live parameters not applied: %s", core.agent, error)
            return
        revision = entry.revision if entry is not None else None
        if revision == self._params_seen:
            return
        self._params_seen = revision
        try:
            core.apply_params(entry.value if entry is not None else None, revision)
        except ValueError as error:
            log.error("%s: live parameters of revision %s not applied: %s", core.agent,
                      revision, error)  # fmt: skip
            return
        service.params_revision = revision
        self._policy_status()
        log.info("%s: live parameters of revision %s in force: %s", core.agent, revision,
                 core.params.overrides() if core.params else "the environment's")  # fmt: skip

    def _policy_status(self) -> None:
        """The specialist's hedge policy into the heartbeats; a warning, with the count, each
        time the band stood in for a learned policy."""
        status_of = getattr(self.core.specialist, "policy_status", None)
        if status_of is None:
            return
        status = status_of(self.core.rules)
        before = self.service.policy_status
        self.service.policy_status = status
        if status.fallbacks > (before.fallbacks if before is not None else 0):
            log.warning(
                "%s: the band stood in for the learned policy (%s: %s); %d fallbacks in %d "
                "decisions", self.core.agent, status.reason, status.detail, status.fallbacks,
                status.decisions,
            )  # fmt: skip
        elif before is not None and status.last != before.last and status.last is not None:
            log.info("%s: the %s policy decides", self.core.agent, status.last.value)

    async def _poll_desk(self) -> None:
        while True:
            await asyncio.sleep(self.settings.kv_poll_s)
            try:
                await self._read_desk()
            except NatsUnavailable as error:
                log.warning("%s: limits not re-read: %s", self.core.agent, error)
            except Exception:
                log.exception("%s: limits not re-read", self.core.agent)

    async def _request_snapshots(self) -> None:
        """Ask the ledger for the snapshots not received yet, until each has come (the ledger
        also publishes them periodically)."""
        bus = self.service.bus
        requested_by = f"{self.core.agent}.{self.service.instance}"
        tries = 0
        while self._snapshots_due:
            tries += 1
            for underlying in sorted(self._snapshots_due):
                request = PositionSnapshotRequest(
                    underlying=underlying, requested_by=requested_by, ts=self.service.clock.now()
                )
                try:
                    reply = await bus.request(
                        subjects.POSITIONS_SNAPSHOT, request, PositionSnapshot, timeout_s=1.0
                    )
                except Exception as error:  # no ledger yet, a timeout, a bad reply
                    level = logging.INFO if tries == 1 else logging.DEBUG
                    log.log(level, "%s: no snapshot of %s yet (%s)", self.core.agent, underlying,
                            error)  # fmt: skip
                    continue
                self.core.book.apply_snapshot(reply)
                self._snapshots_due.discard(underlying)
            if self._snapshots_due:
                await asyncio.sleep(self.settings.snapshot_retry_s)

    async def _timer(self) -> None:
        clock = self.service.clock
        while True:
            await clock.sleep(self.settings.timer_poll_s)
            for underlying in self.core.book.underlyings:
                try:
                    await self.cycle(underlying)
                except Exception:
                    log.exception("%s: timer cycle of %s failed", self.core.agent, underlying)

    # -- the cycle ---------------------------------------------------------------------------

    def _standing_by(self, underlying: str) -> Skip | None:
        """Why a standby does not evaluate `underlying` now (None: it does). A third in line
        keeps the state only (NOT_WARM); the next in line evaluates once every
        `standby_cycle_s` (STANDBY otherwise): its book, hold and the leader's proposals are
        kept on every message, so a take-over evaluates the next tick as the leader would,
        without the cost of every cycle in between."""
        if not self.service.warm_for(underlying):
            return Skip.NOT_WARM
        now = self._real_time()
        last = self._standby_cycled.get(underlying)
        if last is not None and now - last < self.settings.standby_cycle_s:
            return Skip.STANDBY
        self._standby_cycled[underlying] = now
        return None

    async def cycle(self, underlying: str) -> Evaluation:
        """Evaluate `underlying` now; publish the proposal when this instance leads."""
        service = self.service
        leader = service.leads(underlying)  # its partition's lease (or the agent's)
        if not leader:
            skip = self._standing_by(underlying)
            if skip is not None:
                self.evaluations[str(skip)] += 1
                return Evaluation(underlying, skipped=skip)
        evaluation = self.core.evaluate(
            underlying,
            service.clock.now(),
            self._real_time(),
            epoch=service.epoch_for(underlying) if leader else None,
            leading=leader,
            manager_ready=self.manager_ready(),
        )
        self._policy_status()
        proposal = evaluation.proposal
        outcome = "proposed" if proposal else str(evaluation.skipped)
        self.evaluations[outcome] += 1
        EVALUATIONS.labels(outcome=outcome).inc()
        if proposal is None:
            return evaluation
        self.decided.append(proposal)
        if leader and service.leads(underlying):
            await service.bus.publish(proposal.publish_subject, proposal)
            self.published.append(proposal)
            self.published_count += 1
            PROPOSALS.labels(trigger=proposal.trigger.value, underlying=underlying).inc()
            ticked = self._tick_at.pop(underlying, None)
            if ticked is not None:
                TICK_TO_PROPOSAL.observe(time.perf_counter() - ticked)
            log.info(
                "%s: %s %s (%s): %d legs, cost %.0f", self.core.agent, proposal.cycle_id,
                proposal.trigger.value, proposal.reason, len(proposal.legs),
                proposal.estimated_cost,
            )  # fmt: skip
        return evaluation
