"""The manager's core: every rule of a manager replica, fed messages and times, answering with
effects. No I/O: the adapter (`manager.adapters.component`) turns bytes into these calls and the
effects into NATS, KV, the store and timers.

Every replica (leader and standbys) keeps the same state warm: the book, orders in flight,
limits, trading state, budgets, open cycles, the specialist slices' liveness. Only the leader
(`At.lease` and `leading`) decides and asks for writes.

- **Proposals** (`on_proposal`): a duplicate id is dropped; one for a cycle already decided is
  rejected `CYCLE_CLOSED` (leader: `PublishLate`); else gathered. A cycle is decided as soon as
  every live specialist slice has proposed (`Decide`), or its gathering window after it opened
  (`DecideLater`).
- **Ticks** (`on_tick`): the leader checks the book's delta and, when the band is breached,
  decides a cycle of its own at once (`<UND>-<seq>-delta`: the underlying alone). An underlying
  without limits asks for them first (`FetchLimits`, then `on_limits`: KV's, else fallbacks in
  memory, created in KV by the leader).
- **Execution reports and position snapshots** (`on_report`, `on_positions`): orders in flight
  and the book follow them; the leader checks the delta again `delta_recheck_real_s` after a
  burst of them (`RecheckDelta`, then `recheck`: `<UND>-<seq>-delta-r<n>`).
- **Deciding** (`decide`, one cycle at a time): the decision engine decides; the orders go in
  flight at once; the adapter publishes and stores the outcome. A cycle open when leadership
  was gained (`inherit`) was maybe decided by the predecessor: the adapter asks the store
  first (`inherited`) and says so (`predecessor_decided`).
- **Timer** (`on_timer`): budget periods roll (the leader records them), orders in flight
  expire, the slices' liveness sets the manager's own REDUCING (`SetTrading`), the leader's
  outboxes are flushed and inherited cycles come due; a standby forgets stale cycles.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from hedgemesh.manager.domain.effects import (
    At,
    CreateLimits,
    Decide,
    DecideDue,
    DecideLater,
    Effect,
    FetchLimits,
    FlushOutbox,
    Lag,
    PublishLate,
    RecheckDelta,
    RecordBudgets,
    SetTrading,
)
from hedgemesh.manager.domain.engine import CycleOutcome, DecisionEngine
from hedgemesh.manager.domain.gather import Cycle, Gatherer
from hedgemesh.manager.domain.heard import PredecessorLog
from hedgemesh.manager.domain.limits import FallbackLimits, fallback_limits
from hedgemesh.manager.domain.trading import auto_state
from hedgemesh.records.decisions import BudgetPeriod
from hedgemesh.wire.book import PositionSnapshot
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.hedging import Decision, Proposal
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.ops import Heartbeat, Role, ServiceState
from hedgemesh.wire.orders import ExecutionReport, Order
from hedgemesh.wire.state import RiskLimits, TradingStatus

__all__ = ["ManagerCore", "ManagerRules", "delta_cycle_id"]

log = logging.getLogger(__name__)

#: Delta re-checks remembered (tick cycle ids, for numbering `-r<n>`).
_RECHECKS_KEPT = 64


def delta_cycle_id(underlying: str, tick_seq: int) -> str:
    """The id of the manager's own residual-delta cycle on a tick."""
    return f"{underlying}-{tick_seq}-delta"


@dataclass(frozen=True, slots=True)
class ManagerRules:
    """The core's parameters (`ManagerSettings.rules()`; see it for each field's meaning)."""

    agents: tuple[str, ...]
    gather_window_real_s: float
    delta_recheck_real_s: float
    closed_cycles_kept: int
    standby_cycles_kept_s: float
    agent_timeout_real_s: float
    degrade_when_slice_down: bool
    startup_grace_real_s: float
    fallback: FallbackLimits
    reduce_lag_s: float | None = None
    """REDUCING while a leader lags the market by more (clock s); None: off (an accelerated
    clock is paced instead)."""


@dataclass
class _Slice:
    """The last leader heartbeat seen of one specialist service (real seconds)."""

    instance: str
    seen_at: float
    lag_s: float = 0.0


class ManagerCore:
    """One manager replica's rules (module doc)."""

    def __init__(self, rules: ManagerRules, engine: DecisionEngine) -> None:
        self.rules = rules
        self.engine = engine
        self.gatherer = Gatherer(rules.gather_window_real_s, rules.closed_cycles_kept)
        self.heard = PredecessorLog()
        """What this replica heard the leader publish while standing by."""
        self.stats: Counter[str] = Counter()
        self.slices: dict[str, _Slice] = {}
        self.own_lag_s = 0.0
        """How far behind the market this replica's last tick was (clock s)."""
        self.known: set[str] = set()
        """Underlyings seen (scenario, ticks, snapshots)."""
        self.last_cycle: dict[str, Any] | None = None
        self.leading = False
        """This replica acts as the leader (from `gain` to `lose`)."""
        self.instance = "manager"
        self.started_at = 0.0
        self._inherited: set[str] = set()
        self._scheduled: set[str] = set()
        self._delta_due: set[str] = set()
        self._rechecks: dict[str, int] = {}  # delta cycle id of a tick → rechecks on it

    def is_leader(self, at: At) -> bool:
        return at.lease and self.leading

    def start(self, instance: str, at: At, known: set[str]) -> None:
        """The replica starts: its name (for the states it sets), when (the start-up grace
        of the REDUCING rule), and the underlyings known from the scenario."""
        self.instance, self.started_at = instance, at.real
        self.known.update(known)

    # -- leadership --------------------------------------------------------------------------

    def gain(self) -> bool:
        """Leadership gained; False when already leading (nothing to do)."""
        if self.leading:
            return False
        self.leading = True
        self.stats["gained"] += 1
        return True

    def inherit(self, at: At) -> list[Effect]:
        """After the take-over's recovery: every cycle open now may have been decided by the
        predecessor (`inherited`), and each is decided when its window is over."""
        self._inherited = set(self.gatherer.open)
        return [e for c in list(self.gatherer.open.values()) for e in self._schedule(c, at)]

    def lose(self) -> None:
        self.leading = False
        self.stats["lost"] += 1

    # -- market, positions, orders -----------------------------------------------------------

    def on_surface(self, surface: Surface) -> None:
        self.engine.book.apply_surface(surface)

    def on_tick(self, tick: Tick, at: At) -> list[Effect]:
        if not self.engine.book.apply_tick(tick):
            return []
        und = tick.underlying
        self.known.add(und)
        lag = Lag(max((at.now - tick.ts).total_seconds(), 0.0) * 1e3)
        self.own_lag_s = lag.ms / 1e3
        cycle_id = delta_cycle_id(und, tick.seq)
        if self.engine.limits.get(und) is None:
            return [lag, FetchLimits(und, tick.price, cycle_id, at.now)]
        return [lag, *self._check_delta(und, cycle_id, at)]

    def on_limits(
        self, wanted: FetchLimits, held: tuple[RiskLimits, int] | None, at: At
    ) -> list[Effect]:
        """KV's limits (value, revision) of a new underlying, or None: fallbacks in memory now
        (and in KV, created, when leading); then the delta check of the tick that asked."""
        und, effects = wanted.underlying, list[Effect]()
        if held is not None:
            self.engine.limits.set(und, *held)
        else:
            value = fallback_limits(und, wanted.spot, self.rules.fallback, "manager-fallback")
            self.engine.limits.set(und, value, 0)
            log.warning("manager: no limits for %s: fallback %s", und, value.model_dump())
            if self.is_leader(at):
                effects.append(CreateLimits(und, value))
        return effects + self._check_delta(und, wanted.cycle_id, replace(at, now=wanted.now))

    def on_positions(self, snapshot: PositionSnapshot, at: At) -> list[Effect]:
        engine = self.engine
        newer = engine.book.apply_snapshot(snapshot)
        engine.inflight.on_snapshot(snapshot)
        self.known.add(snapshot.underlying)
        return self._delta_soon(snapshot.underlying, at) if newer else []

    def on_report(self, report: ExecutionReport, at: At) -> list[Effect]:
        engine = self.engine
        engine.inflight.on_report(report, at.real)
        if report.is_fill:
            engine.charge_fill(report.client_order_id, report.last_quantity or 0, at.now)
        return self._delta_soon(report.instrument.underlying, at)

    def on_order(self, order: Order, at: At) -> None:
        self.engine.inflight.on_order(order, at.real)
        if not self.is_leader(at):
            self.heard.on_order(order)

    def on_decision(self, decision: Decision, at: At) -> None:
        """Another replica decided this cycle: a standby closes it."""
        if not self.is_leader(at):
            self.heard.on_decision(decision)
            if decision.cycle_id in self.gatherer.open:
                self.gatherer.close(decision.cycle_id)

    def on_heartbeat(self, heartbeat: Heartbeat, at: At) -> None:
        if heartbeat.service not in self.rules.agents:
            return
        held = self.slices.get(heartbeat.service)
        if heartbeat.state is ServiceState.STOPPING or heartbeat.role is Role.STANDBY:
            if held is not None and held.instance == heartbeat.instance:
                del self.slices[heartbeat.service]
            return
        self.slices[heartbeat.service] = _Slice(
            heartbeat.instance, at.real, heartbeat.lag_ms / 1000.0
        )

    def live_slices(self, real: float) -> set[str]:
        """Specialist services with a leader heartbeat within `agent_timeout_real_s`."""
        timeout = self.rules.agent_timeout_real_s
        return {name for name, sl in self.slices.items() if real - sl.seen_at <= timeout}

    # -- the delta trigger -------------------------------------------------------------------

    def _check_delta(self, und: str, cycle_id: str, at: At) -> list[Effect]:
        """The leader's own delta check: outside the band, a cycle of its own, decided at once
        (nothing to wait for)."""
        if not self.is_leader(at) or not self.engine.needs_delta_hedge(und, at.now):
            return []
        if self.gatherer.open_for_delta(cycle_id, und, at.real) is None:
            return []
        self.stats["delta_cycles"] += 1
        return [Decide(cycle_id, at.now)]

    def _delta_soon(self, und: str, at: At) -> list[Effect]:
        """Check `und`'s delta again shortly (one check for a burst of reports or snapshots)."""
        if not self.is_leader(at) or und in self._delta_due:
            return []
        self._delta_due.add(und)
        return [RecheckDelta(und, self.rules.delta_recheck_real_s)]

    def recheck(self, und: str, at: At) -> list[Effect]:
        """The delta check `RecheckDelta` asked for: a cycle `<UND>-<seq>-delta-r<n>`."""
        self._delta_due.discard(und)
        tick = self.engine.book.tick(und)
        if tick is None:
            return []
        base = delta_cycle_id(und, tick.seq)
        self._rechecks[base] = n = self._rechecks.get(base, 0) + 1
        while len(self._rechecks) > _RECHECKS_KEPT:
            del self._rechecks[next(iter(self._rechecks))]
        return self._check_delta(und, f"{base}-r{n}", at)

    # -- proposals and cycles ----------------------------------------------------------------

    def on_proposal(self, proposal: Proposal, at: At) -> list[Effect]:
        self.stats["proposals"] += 1
        self.heard.on_proposal(proposal)
        gatherer = self.gatherer
        if gatherer.seen(proposal.id):
            self.stats["duplicate_proposals"] += 1
            return []
        if gatherer.is_closed(proposal.cycle_id):
            gatherer.note(proposal.id)
            return [self._late(proposal, at)] if self.is_leader(at) else []
        cycle = gatherer.add(proposal, at.real)
        if gatherer.complete(cycle, self.live_slices(at.real)):
            return [Decide(cycle.cycle_id)]
        return self._schedule(cycle, at)

    def _late(self, proposal: Proposal, at: At) -> PublishLate:
        """A proposal for a cycle already decided: rejected CYCLE_CLOSED."""
        record = self.engine.reject_alone(
            proposal,
            ReasonCode.CYCLE_CLOSED,
            f"cycle {proposal.cycle_id} was decided before this proposal arrived",
            at.now,
            at.epoch or 0,
        )
        self.stats["late_proposals"] += 1
        return PublishLate(record)

    def _schedule(self, cycle: Cycle, at: At) -> list[Effect]:
        if not self.is_leader(at) or cycle.cycle_id in self._scheduled:
            return []
        self._scheduled.add(cycle.cycle_id)
        delay = max(self.gatherer.due_at(cycle) - at.real, 0.0)
        return [DecideLater(cycle.cycle_id, delay)]

    def inherited(self, cycle_id: str, at: At) -> bool:
        """Whether deciding `cycle_id` now needs the store asked first: the leader inherited
        it open, and its predecessor may have decided it."""
        return self.is_leader(at) and cycle_id in self._inherited

    def decide(
        self,
        cycle_id: str,
        at: At,
        *,
        now: datetime | None = None,
        predecessor_decided: bool = False,
    ) -> CycleOutcome | None:
        """Decide one gathered cycle (`Decide`, `DecideLater`): its outcome to publish and
        store, or None (a standby keeps it open; decided already; no epoch). `now`: the
        clock's time already read for it; `predecessor_decided`: the store holds this
        inherited cycle."""
        self._scheduled.discard(cycle_id)
        if not self.is_leader(at):
            return None  # a standby keeps it open; decided on take-over if nobody did
        if cycle_id in self._inherited:
            self._inherited.discard(cycle_id)
            if predecessor_decided:
                self.gatherer.close(cycle_id)
                return None
        cycle = self.gatherer.close(cycle_id)
        if cycle is None or at.epoch is None:
            return None
        engine, epoch = self.engine, at.epoch
        try:
            outcome = engine.decide(cycle, now or at.now, epoch)
        except Exception as error:  # a bug: still one decision per proposal, no orders
            self.stats["decide_errors"] += 1
            log.exception("manager: deciding %s failed", cycle_id)
            outcome = engine.refuse(cycle, f"deciding failed: {error!r}", at.now, epoch)
        for order in outcome.orders:
            engine.inflight.on_order(order, at.real)
        self.stats["cycles"] += 1
        self.stats["orders"] += len(outcome.orders)
        self.stats["decisions"] += len(outcome.decisions)
        record = outcome.cycle
        self.last_cycle = {
            "cycle_id": cycle_id,
            "underlying": cycle.underlying,
            "trigger": record.trigger,
            "decided_at": record.decided_at.isoformat(),
            "proposals": len(outcome.decisions),
            "orders": len(outcome.orders),
            "greeks_before": record.greeks_before,
            "greeks_after": record.greeks_after,
        }
        return outcome

    def due_inherited(self, at: At) -> list[Effect]:
        """Cycles gathered while standing by whose window is over and that no timer decides:
        decided now, the store asked first."""
        effects: list[Effect] = []
        for cycle in self.gatherer.due(at.real):
            if cycle.cycle_id not in self._scheduled:
                self._inherited.add(cycle.cycle_id)
                effects.append(Decide(cycle.cycle_id))
        return effects

    # -- timer and trading state -------------------------------------------------------------

    def on_timer(self, at: At) -> list[Effect]:
        """Budget periods, orders in flight, liveness, outboxes, due cycles (module doc)."""
        engine, leader = self.engine, self.is_leader(at)
        effects: list[Effect] = []
        rolled = engine.budgets.roll(at.now)
        if rolled is not None and leader:
            start, end, results = rolled
            periods = [
                BudgetPeriod(**asdict(r), period_start=start, period_end=end, recorded_at=at.now)
                for r in results
            ]
            effects.append(RecordBudgets(periods))
        engine.inflight.expire(at.real)
        if not leader:
            self.gatherer.forget_older_than(at.real - self.rules.standby_cycles_kept_s)
            return effects
        return [*effects, *self._auto_state(at), FlushOutbox(), DecideDue()]

    def _auto_state(self, at: At) -> list[Effect]:
        rules = self.rules
        if not rules.degrade_when_slice_down or at.real - self.started_at < (
            rules.startup_grace_real_s
        ):
            return []
        live = self.live_slices(at.real)
        down = set(rules.agents) - live
        wanted = auto_state(self.engine.trading, down, self.instance, self._lagging(live))
        return [] if wanted is None else [SetTrading(wanted)]

    def _lagging(self, live: set[str]) -> list[str]:
        """Leaders (the live slices' and this one) behind the market past `reduce_lag_s`."""
        limit = self.rules.reduce_lag_s
        if limit is None:
            return []
        lags = [(self.slices[name].instance, self.slices[name].lag_s) for name in live]
        lags.append((self.instance, self.own_lag_s))
        return [f"{who} {lag:.1f} s behind (limit {limit:g} s)" for who, lag in lags if lag > limit]

    def set_trading(self, status: TradingStatus) -> None:
        """Act on a trading state written to KV."""
        self.engine.trading = status
        log.warning(
            "manager: trading %s by %s: %s", status.state.value, status.changed_by, status.reason
        )

    # -- status ------------------------------------------------------------------------------

    def status(self, at: At) -> dict[str, Any]:
        """The replica's state for the `status` control reply (JSON-ready):

        {
          "instance", "role" ("leader" | "standby"), "epoch",
          "trading_state": {"state", "reason", "changed_by", "causation_id", "ts"},
          "budgets": {"period_start", "period_end", "agents": {name: {"allocated",
                      "spent", "left", "risk_removed", "floor", "last_reallocation": None |
                      {"at", "from", "to", "efficiency", "reason"}}}},
          "slices": {agent: {"live", "leader", "heartbeat_age_s"}},
          "limits": {"revision", "revisions": {key: rev}, "underlyings": {UND: {...}},
                     "firm": {...} | None},
          "last_cycle": None | {"cycle_id", "underlying", "trigger", "decided_at",
                     "proposals", "orders", "greeks_before", "greeks_after", "decide_ms"},
          "open_cycles", "orders_in_flight" (count), "in_flight": {UND: {symbol: signed
                     quantity routed or filled but not yet in the positions}},
          "counters": {name: count}
        }
        """
        engine, slices = self.engine, self.slices
        live = self.live_slices(at.real)
        trading = engine.trading
        return {
            "instance": self.instance,
            "role": "leader" if self.is_leader(at) else "standby",
            "epoch": at.epoch,
            "trading_state": {
                "state": trading.state.value,
                "reason": trading.reason,
                "changed_by": trading.changed_by,
                "causation_id": trading.causation_id,
                "ts": trading.ts.isoformat(),
            },
            "budgets": engine.budgets.status(),
            "slices": {
                agent: {
                    "live": agent in live,
                    "leader": slices[agent].instance if agent in slices else None,
                    "heartbeat_age_s": round(at.real - slices[agent].seen_at, 3)
                    if agent in slices
                    else None,
                }
                for agent in self.rules.agents
            },
            "limits": engine.limits.status(),
            "last_cycle": self.last_cycle,
            "open_cycles": len(self.gatherer.open),
            "orders_in_flight": engine.inflight.working_orders(),
            "in_flight": {
                und: {
                    symbol: qty for symbol, (_, qty) in sorted(engine.inflight.pending(und).items())
                }
                for und in sorted(self.known)
            },
            "counters": dict(sorted(self.stats.items())),
        }
