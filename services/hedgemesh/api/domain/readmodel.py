"""What the API knows of the desk, in memory, fed by NATS (pure: no I/O; one event loop).

The feed hands every message it receives to an `on_*` method; the routes read views from
here, never from the network or the database on a hot GET. Responses that only change when a
message arrives (positions, limits) are encoded to JSON bytes once per change and served as
they are; risk, which also moves with the clock (time to expiry), is recomputed at most every
`risk_max_age_s` or when an input changes.

Underlyings: those of the scenario, plus any seen on a tick, surface, snapshot or in KV
`limits`. An underlying outside that set is unknown (404).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from hedgemesh.api.domain import render
from hedgemesh.api.domain.pnl import PnlTracker
from hedgemesh.api.domain.views import (
    AgentsResponse,
    AgentView,
    InstanceView,
    LimitsEntry,
    LimitsResponse,
    ManagerView,
    PnlResponse,
    ProposalSummary,
    RiskResponse,
)
from hedgemesh.market.book_state import BookState
from hedgemesh.runtime.clock import Clock, LiveClock
from hedgemesh.wire.book import PositionSnapshot
from hedgemesh.wire.codes import TradingState
from hedgemesh.wire.hedging import Proposal
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.ops import Heartbeat, Role
from hedgemesh.wire.orders import ExecutionReport
from hedgemesh.wire.state import FIRM_LIMITS_KEY, FirmLimits, RiskLimits, TradingStatus

__all__ = ["ReadModel"]


@dataclass(frozen=True, slots=True)
class _Seen:
    """A message and when it arrived (the clock's monotonic seconds)."""

    message: Any
    received: float


@dataclass(frozen=True, slots=True)
class _Stored:
    """A KV value and its revision."""

    value: Any
    revision: int


class ReadModel:
    """The desk as the API follows it (see the module doc)."""

    def __init__(
        self,
        underlyings: Iterable[str] = (),
        *,
        clock: Clock | None = None,
        heartbeat_stale_s: float = 10.0,
        risk_max_age_s: float = 0.25,
        day_start: datetime | None = None,
    ) -> None:
        self.clock = clock or LiveClock()
        """The cluster's clock: market time (`now`), the time risk is computed at."""
        self.real: Clock = self.clock
        """Ages in real seconds (heartbeats, proposals, the manager's status, the risk cache):
        `bootstrap` sets the service's live clock here when the cluster's runs faster."""
        self.day_start = day_start
        """The trading day's start (the cluster clock's start); None: midnight UTC."""
        self.book = BookState()
        self.pnl = PnlTracker(self.book)
        self.heartbeat_stale_s = heartbeat_stale_s
        self.risk_max_age_s = risk_max_age_s
        self._known: set[str] = set(underlyings)
        self._limits: dict[str, _Stored] = {}
        self._firm: _Stored | None = None
        self._trading: TradingStatus | None = None
        self._instances: dict[tuple[str, str], _Seen] = {}
        self._proposals: dict[str, _Seen] = {}
        self._manager: _Seen | None = None
        self._manager_error = "no status asked yet"
        self._encoded: dict[str, bytes] = {}
        self._risk: tuple[float, RiskResponse, bytes | None] | None = None

    # -- what is known ------------------------------------------------------------------------

    @property
    def underlyings(self) -> list[str]:
        """Every underlying the desk knows of, sorted."""
        return sorted(self._known)

    def knows(self, underlying: str) -> bool:
        return underlying in self._known

    @property
    def trading_status(self) -> TradingStatus | None:
        """KV `trading_state/desk` as last read: the state, why, and who set it."""
        return self._trading

    @property
    def trading_state(self) -> TradingState | None:
        return None if self._trading is None else self._trading.state

    def snapshots(self) -> dict[str, PositionSnapshot]:
        held = (self.book.snapshot(u) for u in self._known)
        return {s.underlying: s for s in held if s is not None}

    # -- inputs from NATS ---------------------------------------------------------------------

    def on_snapshot(self, snapshot: PositionSnapshot) -> None:
        self._known.add(snapshot.underlying)
        if self.book.apply_snapshot(snapshot):
            self.pnl.on_snapshot(snapshot)
            self._changed("positions")

    def on_tick(self, tick: Tick) -> None:
        self._known.add(tick.underlying)
        if self.book.apply_tick(tick):
            self.pnl.on_market(tick.underlying)
            self._risk = None

    def on_surface(self, surface: Surface) -> None:
        self._known.add(surface.underlying)
        if self.book.apply_surface(surface):
            self.pnl.on_market(surface.underlying)
            self._risk = None

    def on_execution_report(self, report: ExecutionReport) -> None:
        if report.is_fill:
            self.pnl.note_fill(report.id)

    def on_heartbeat(self, heartbeat: Heartbeat) -> None:
        key = (heartbeat.service, heartbeat.instance)
        held = self._instances.get(key)
        if held is None or heartbeat.seq >= held.message.seq or heartbeat.pid != held.message.pid:
            self._instances[key] = _Seen(heartbeat, self.real.monotonic())

    def fresh_heartbeats(self) -> list[Heartbeat]:
        """The latest heartbeat of every instance heard within `heartbeat_stale_s` (real)."""
        now = self.real.monotonic()
        return [
            seen.message
            for seen in self._instances.values()
            if now - seen.received <= self.heartbeat_stale_s
        ]

    def on_proposal(self, proposal: Proposal) -> None:
        self._known.add(proposal.underlying)
        self._proposals[proposal.agent] = _Seen(proposal, self.real.monotonic())

    def on_limits(self, key: str, value: RiskLimits | FirmLimits | None, revision: int) -> None:
        """A value of KV `limits` (None: the key is missing). Older revisions are ignored."""
        held = self._firm if key == FIRM_LIMITS_KEY else self._limits.get(key)
        if value is not None and held is not None and revision <= held.revision:
            return
        if value is None and held is None:
            return
        stored = None if value is None else _Stored(value, revision)
        if key == FIRM_LIMITS_KEY:
            self._firm = stored
        elif stored is None:
            self._limits.pop(key, None)
        else:
            self._known.add(key)
            self._limits[key] = stored
        self._changed("limits")

    def on_trading_status(self, status: TradingStatus | None) -> None:
        if status != self._trading:
            self._trading = status
            self._risk = None

    def on_manager_status(self, state: dict[str, Any] | None, error: str = "") -> None:
        """The `state` of the manager's reply to a status command, or why there is none."""
        if state is None:
            self._manager, self._manager_error = None, error
        else:
            self._manager, self._manager_error = _Seen(state, self.real.monotonic()), ""

    def manager_status_age_s(self) -> float | None:
        return None if self._manager is None else self.real.monotonic() - self._manager.received

    # -- views --------------------------------------------------------------------------------

    def _changed(self, *what: str) -> None:
        for name in what:
            for key in [k for k in self._encoded if k.split("?")[0] == name]:
                del self._encoded[key]
        self._risk = None

    def _cached(self, key: str, make: Callable[[], bytes]) -> bytes:
        body = self._encoded.get(key)
        if body is None:
            body = self._encoded[key] = make()
        return body

    def positions_json(self, underlying: str | None = None) -> bytes:
        """The positions response, encoded once per change of snapshots (per filter)."""
        key = "positions" if underlying is None else f"positions?{underlying}"

        def make() -> bytes:
            snapshots = self.snapshots()
            if underlying is not None:
                snapshots = {k: v for k, v in snapshots.items() if k == underlying}
            return render.positions_response(snapshots.values()).model_dump_json().encode()

        return self._cached(key, make)

    def limits_view(self) -> LimitsResponse:
        return LimitsResponse(
            underlyings=[self.limits_entry(key) for key in sorted(self._limits)],
            firm=None if self._firm is None else self.limits_entry(FIRM_LIMITS_KEY),
        )

    def limits_json(self) -> bytes:
        return self._cached("limits", lambda: self.limits_view().model_dump_json().encode())

    def limits_entry(self, key: str) -> LimitsEntry:
        stored = self._firm if key == FIRM_LIMITS_KEY else self._limits[key]
        assert stored is not None
        return render.limits_entry(key, stored.value, stored.revision)

    def risk_limits(self) -> dict[str, RiskLimits]:
        return {key: stored.value for key, stored in self._limits.items()}

    def risk_view(self) -> RiskResponse:
        """Risk at the clock's now, reused for `risk_max_age_s` of the clock's monotonic
        time unless an input changed."""
        return self._risk_cached()[0]

    def risk_json(self) -> bytes:
        """`risk_view()` encoded (once per computation)."""
        view, body = self._risk_cached()
        if body is None:
            body = view.model_dump_json().encode()
            assert self._risk is not None
            self._risk = (self._risk[0], view, body)
        return body

    def _risk_cached(self) -> tuple[RiskResponse, bytes | None]:
        monotonic = self.real.monotonic()
        if self._risk is not None and monotonic - self._risk[0] <= self.risk_max_age_s:
            return self._risk[1], self._risk[2]
        view = render.risk_response(
            self.book,
            self.clock.now(),
            self.risk_limits(),
            None if self._firm is None else self._firm.value,
            self.trading_state,
        )
        self._risk = (monotonic, view, None)
        return view, None

    def trading_day_start(self) -> datetime:
        """The default window of P&L: the cluster clock's start when it has one (a scenario
        run's offset 0), else the clock's day at midnight UTC."""
        if self.day_start is not None:
            return self.day_start
        return datetime.combine(self.clock.now().astimezone(UTC).date(), time(), UTC)

    def pnl_view(self, underlying: str | None = None, since: datetime | None = None) -> PnlResponse:
        """P&L and its attribution over the window from `since` (default: the trading
        day's start) to now."""
        start = since or self.trading_day_start()
        return render.pnl_response(self.pnl, self.snapshots(), underlying, start)

    def agents_view(self) -> AgentsResponse:
        now = self.real.monotonic()
        budgets = self._budgets()
        by_service: dict[str, list[InstanceView]] = {}
        for (service, instance), seen in sorted(self._instances.items()):
            beat: Heartbeat = seen.message
            age = now - seen.received
            by_service.setdefault(service, []).append(
                InstanceView(
                    instance=instance,
                    role=beat.role,
                    state=beat.state,
                    alive=age <= self.heartbeat_stale_s,
                    last_heartbeat_age_s=age,
                    epoch=beat.epoch,
                    pid=beat.pid,
                    lag_ms=beat.lag_ms,
                    params_revision=beat.params_revision,
                    policy=beat.policy,
                )
            )
        names = sorted({*by_service, *self._proposals, *budgets})
        agents = []
        for name in names:
            instances = by_service.get(name, [])
            leaders = [i.instance for i in instances if i.role is Role.LEADER and i.alive]
            budget = budgets.get(name)
            agents.append(
                AgentView(
                    service=name,
                    leader=leaders[0] if leaders else None,
                    instances=instances,
                    last_proposal=self._proposal_summary(name, now),
                    budget=budget if isinstance(budget, dict) else None,
                )
            )
        manager = self._manager
        return AgentsResponse(
            agents=agents,
            manager=ManagerView(
                available=manager is not None,
                detail=self._manager_error,
                state=manager.message if manager is not None else {},
            ),
            trading_state=self.trading_state,
        )

    def _budgets(self) -> dict[str, Any]:
        """Budgets by agent from the manager's status: `state.budgets.agents`."""
        budgets = {} if self._manager is None else self._manager.message.get("budgets")
        agents = budgets.get("agents") if isinstance(budgets, dict) else None
        return agents if isinstance(agents, dict) else {}

    def _proposal_summary(self, agent: str, now: float) -> ProposalSummary | None:
        seen = self._proposals.get(agent)
        if seen is None:
            return None
        p: Proposal = seen.message
        return ProposalSummary(
            id=p.id,
            cycle_id=p.cycle_id,
            underlying=p.underlying,
            trigger=p.trigger.value,
            reason=p.reason,
            legs=len(p.legs),
            expected_delta=p.expected_change.delta,
            expected_gamma=p.expected_change.gamma,
            expected_vega_per_point=p.expected_change.vega_per_vol_point,
            estimated_cost=p.estimated_cost,
            ts=p.ts,
            age_s=now - seen.received,
        )
