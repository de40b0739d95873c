"""What every specialist agent does around its own decision: pure, no I/O.

`AgentCore` holds the agent's `BookState` (positions, ticks, surfaces), the desk's live limits
and trading state, and per underlying a small memory; `evaluate(underlying, now, ...)` runs one
hedge cycle on the latest tick and returns an `Evaluation`: a `Proposal`, or why there is none.
The gates, in order:

1. market data: a tick and a surface (NO_MARKET); limits for the underlying (NO_LIMITS); a
   manager leader ready to decide (NO_MANAGER: its heartbeat, as the adapter sees it; a
   proposal nobody is subscribed to receive would never get a decision);
2. the desk's trading state: HALTED proposes nothing (HALTED);
3. staleness: the tick is older than the limits' `max_tick_age_s` (STALE);
4. a trigger: the specialist's band is breached (BAND_BREACH), or spot moved by `price_move`
   since the last hedge (PRICE_MOVE), or `timer_interval_s` passed since it (TIMER); else
   NO_TRIGGER. The first look at an underlying sets the reference time and spot;
5. one proposal per tick (SAME_CYCLE), and none while the previous one is in flight
   (PENDING): until its decision says rejected, or it was approved and the ledger has booked a
   fill of its orders (a position snapshot caused by one), or one of its orders ended with
   nothing filled (its final execution report: nothing to book), or a timeout passed (no decision:
   `decision_timeout_s`; approved but no fill booked: `settle_timeout_s`, real seconds). Any
   newer snapshot would not do: in a busy hour the ledger books older fills first, and the
   next proposal would ask again for the risk this one covers. A trigger held back here stays
   armed; past this gate the memory takes this time and spot (the trigger is served, whether
   or not there is anything to trade);
6. the specialist's plan (`Specialist.plan`): legs in whole contracts, or nothing to do
   (INSIDE_BAND);
7. REDUCING: only a plan that reduces risk (NOT_REDUCING): it must not raise |gamma| nor
   |vega| of the underlying, and must lower one of them (the underlying's delta is the
   manager's: it hedges the residual with the underlying).

Leadership is not a gate here: standbys evaluate the same inputs the same way (their memory
stays warm, their proposals are identical: ids are deterministic), and only the leader's
adapter publishes. A standby's own proposals hold nothing back; it mirrors the hold of the
leader's published proposals instead (`on_peer_proposal`).

Proposal id = f"{agent}-{cycle_id}", cycle id = f"{underlying}-{tick.seq}".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Protocol

import numpy as np

from hedgemesh.agentkit.domain.chain import Candidates, Listings, listed_candidates
from hedgemesh.agentkit.domain.depth import TakenDepth
from hedgemesh.agentkit.domain.rules import AgentRules
from hedgemesh.market.book_state import BookState
from hedgemesh.policies.selection import Allocation, LadderCost, allocate
from hedgemesh.quant.book import BookRisk
from hedgemesh.scenario.model import ChainSpec
from hedgemesh.venue.spec import VENUE
from hedgemesh.wire.book import PositionSnapshot
from hedgemesh.wire.codes import TradingState
from hedgemesh.wire.hedging import (
    MAX_LEGS,
    Decision,
    DecisionOutcome,
    Greeks,
    HedgeLeg,
    HedgeTrigger,
    Proposal,
)
from hedgemesh.wire.instruments import Instrument
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.orders import ExecutionReport, client_order_id
from hedgemesh.wire.params import AgentParams
from hedgemesh.wire.state import RiskLimits, TradingStatus

__all__ = [
    "DESK",
    "AgentCore",
    "Evaluation",
    "Leg",
    "Plan",
    "PlanContext",
    "Skip",
    "Specialist",
    "legs_from",
]

DESK = "desk"
"""The key of the desk-wide trading state in KV `trading_state` (an underlying's key narrows)."""

_STRICTNESS = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_GREEK_TOLERANCE = 1e-9


class Skip(StrEnum):
    """Why an evaluation proposed nothing."""

    NO_MARKET = "no_market"
    NO_LIMITS = "no_limits"
    NO_MANAGER = "no_manager"
    HALTED = "halted"
    STALE = "stale"
    NO_TRIGGER = "no_trigger"
    SAME_CYCLE = "same_cycle"
    PENDING = "pending"
    INSIDE_BAND = "inside_band"
    NOT_REDUCING = "not_reducing"
    DISABLED = "disabled"
    NOT_WARM = "not_warm"
    """A partitioned agent neither leading the underlying's partition nor next in line for it."""
    STANDBY = "standby"
    """A standby between its `standby_cycle_s` evaluations (the adapter's gate)."""


@dataclass(frozen=True, slots=True)
class Leg:
    """One option to trade: signed whole contracts (+ buys), its fair value per unit, the
    expected cost of the whole leg (currency) and how far from fair its last contract is
    expected to trade (currency per unit)."""

    instrument: Instrument
    contracts: int
    fair: float
    cost: float
    worst_offset: float


@dataclass(frozen=True, slots=True)
class Plan:
    """A specialist's answer: the legs, the change of the book's greeks it aims for (its
    objective; the other greeks 0), what the legs bring in all, and why (for a person)."""

    legs: tuple[Leg, ...]
    objective: Greeks
    leg_greeks: Greeks
    reason: str


@dataclass(eq=False)
class PlanContext:
    """What a specialist sees for one underlying in one cycle."""

    underlying: str
    now: datetime
    trigger: HedgeTrigger
    tick: Tick
    surface: Surface
    book: BookState
    risk: BookRisk
    row: int
    limits: RiskLimits
    rules: AgentRules
    costs: LadderCost
    chain: ChainSpec | None
    listings: Listings = field(default_factory=Listings)
    taken: TakenDepth | None = None
    """What this agent's recent hedges took from the books (None: fresh books assumed)."""

    @property
    def drought(self) -> float:
        """1 / the surface's depth multiplier: how much thinner and wider the venue is."""
        return 1.0 / self.surface.depth_multiplier

    @cached_property
    def candidates(self) -> Candidates:
        """The listed options in the agent's tenor window now, priced (empty without a chain
        spec)."""
        if self.chain is None:
            return Candidates.empty()
        s = self.rules
        return listed_candidates(
            self.book, self.underlying, self.chain, self.now,
            min_days=s.min_tenor_days, max_days=s.max_tenor_days, listings=self.listings,
        )  # fmt: skip

    def allocate(self, wanted: float, greek: str, options: Candidates, max_legs: int) -> Allocation:
        """`policies.selection.allocate` of `wanted` of `greek` (an attribute of `UnitGreeks`:
        gamma, vega_per_point) over `options`, each leg at most the depth its ladder shows
        within the leg's limit price (`collar_fraction` × the price collar from fair: more
        would not fill), less what this agent's recent hedges took and the venue has not
        refilled yet (`taken`), × `depth_fraction`, and the limits' `max_order_quantity`."""
        if len(options) == 0 or max_legs < 1:
            return Allocation((), (), (), ())
        per_contract = getattr(options.unit, greek)
        reach = self.rules.collar_fraction * self.limits.price_collar * options.fair
        depth = self.costs.depth(options.fair, options.unit.vol, self.drought, within=reach)
        if self.taken is not None:
            side = np.where(wanted * per_contract >= 0.0, 1.0, -1.0)  # buys sweep the asks
            depth = depth - self.taken.missing(options.instruments, side, self.now)
        cap = np.minimum(
            np.floor(np.maximum(depth, 0.0) * self.rules.depth_fraction),
            self.limits.max_order_quantity,
        )
        return allocate(
            wanted,
            per_contract,
            options.fair,
            options.unit.vol,
            options.multiplier,
            self.costs,
            drought=self.drought,
            max_contracts=cap,
            max_legs=max_legs,
        )

    def legs_of(
        self, allocation: Allocation, options: Candidates
    ) -> tuple[tuple[Leg, ...], Greeks]:
        """The allocation's legs (with their fair values, costs and worst price offsets) and
        what they bring in all: delta, gamma, vega per vol point."""
        idx = np.asarray(allocation.index, np.intp)
        contracts = np.asarray(allocation.contracts, np.float64)
        worst = self.costs.worst_price_offset(
            contracts, options.fair[idx], options.unit.vol[idx], self.drought
        )
        legs = tuple(
            Leg(options.instruments[i], q, float(options.fair[i]), c, float(w))
            for i, q, c, w in zip(
                allocation.index, allocation.contracts, allocation.cost, worst, strict=True
            )
        )
        u = options.unit
        brought = Greeks(
            delta=float(contracts @ u.delta[idx]),
            gamma=float(contracts @ u.gamma[idx]),
            vega_per_vol_point=float(contracts @ u.vega_per_point[idx]),
        )
        return legs, brought


def legs_from(
    ctx: PlanContext, wanted: float, greek: str, options: Candidates
) -> tuple[tuple[Leg, ...], Greeks]:
    """Allocate `wanted` of `greek` over `options` with the rules' `max_legs`: the legs and
    what they bring."""
    return ctx.legs_of(ctx.allocate(wanted, greek, options, ctx.rules.max_legs), options)


class Specialist(Protocol):
    """The part that differs between agents: its name, its band test and its plan."""

    @property
    def agent(self) -> str:
        """The agent's service name and subject token, e.g. gamma-agent."""
        ...

    def breached(self, risk: BookRisk, row: int, limits: RiskLimits, rules: AgentRules) -> bool:
        """Whether the specialist's greek is outside its band (the BAND_BREACH trigger)."""
        ...

    def plan(self, ctx: PlanContext) -> Plan | None:
        """Legs to propose, or None when there is nothing to do in whole contracts."""
        ...


#: Orders of one instrument the manager may split a leg into (its `max_orders_per_instrument`).
_SLICES = 10


@dataclass
class _Pending:
    proposal_id: str
    positions_seq: int | None
    sent_real: float
    orders: frozenset[str] = frozenset()
    """Client order ids the manager gives this proposal's legs (every slice)."""
    decided_real: float | None = None
    booked: bool = False
    """A position snapshot caused by a fill of one of `orders` has come."""

    @classmethod
    def of(cls, proposal: Proposal, real_now: float) -> _Pending:
        orders = frozenset(
            client_order_id(proposal.cycle_id, leg.instrument, attempt)
            for leg in proposal.legs
            for attempt in range(_SLICES)
        )
        return cls(proposal.id, proposal.positions_seq, real_now, orders)


@dataclass
class _Memory:
    """Per underlying: the last trigger's clock time and spot, the last proposal's tick seq,
    and the proposal in flight."""

    last_time: datetime | None = None
    last_spot: float | None = None
    last_cycle_seq: int | None = None
    pending: _Pending | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one evaluation: a proposal, or the reason there is none."""

    underlying: str
    proposal: Proposal | None = None
    skipped: Skip | None = None
    trigger: HedgeTrigger | None = None
    detail: str = ""


@dataclass
class AgentCore:
    """One specialist's state and cycle (see the module doc)."""

    specialist: Specialist
    rules: AgentRules
    chains: Mapping[str, ChainSpec] = field(default_factory=dict)
    book: BookState = field(default_factory=BookState)
    costs: LadderCost = field(default_factory=lambda: LadderCost.of(VENUE.option))
    limits: dict[str, RiskLimits] = field(default_factory=dict)
    trading: dict[str, TradingStatus] = field(default_factory=dict)
    memory: dict[str, _Memory] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.environment = self.rules
        """The rules from the environment: the live parameters override some of them."""
        self.params: AgentParams | None = None
        self.params_revision: int | None = None
        """KV revision of the live parameters in force; None: the environment's alone."""
        self.listings = Listings()
        self.taken = TakenDepth(self.costs)

    @property
    def agent(self) -> str:
        return self.specialist.agent

    # -- desk state --------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """False while the live parameters switch the agent off (it proposes nothing)."""
        return self.params is None or self.params.enabled is not False

    def apply_params(self, params: AgentParams | None, revision: int | None) -> None:
        """Run with the environment's rules overridden by `params` (None: the environment's
        alone) from the next cycle on. Every value `AgentParams` accepts applies (same ranges,
        the two band fractions set together), so this cannot fail on a valid message."""
        if params is not None and params.agent != self.agent:
            raise ValueError(f"parameters for {params.agent!r} are not {self.agent!r}'s")
        overrides = params.overrides() if params is not None else {}
        overrides.pop("enabled", None)
        self.rules = replace(self.environment, **overrides)
        self.params, self.params_revision = params, revision

    def trading_state(self, underlying: str) -> TradingState:
        """The stricter of the desk's state and the underlying's own (ACTIVE when neither)."""
        states = [s.state for key in (DESK, underlying) if (s := self.trading.get(key))]
        return max(states, key=_STRICTNESS.__getitem__, default=TradingState.ACTIVE)

    def on_peer_proposal(self, proposal: Proposal, real_now: float) -> None:
        """The leader's proposal, seen by a standby: the standby holds back as the leader
        does, so that on taking over it neither repeats a hedge in flight nor waits for a
        decision on a proposal nobody sent."""
        memory = self.memory.setdefault(proposal.underlying, _Memory())
        memory.last_cycle_seq = max(memory.last_cycle_seq or 0, proposal.tick_seq)
        memory.pending = _Pending.of(proposal, real_now)
        self.taken.take(proposal)
        tick = self.book.tick(proposal.underlying)  # the leader served a trigger on it
        if tick is not None and tick.seq == proposal.tick_seq:
            memory.last_time, memory.last_spot = proposal.ts, tick.price

    def on_decision(self, decision: Decision, real_now: float) -> None:
        """The manager's verdict on a proposal: a rejection frees the underlying at once; an
        approval holds it until the ledger has booked a fill of its orders (or
        `settle_timeout_s`). What the proposal took from the books is scaled to what the
        manager took of it."""
        self.taken.scale(decision.proposal_id, decision.scale_factor)
        memory = self.memory.get(decision.underlying)
        pending = memory.pending if memory else None
        if memory is None or pending is None or pending.proposal_id != decision.proposal_id:
            return
        if decision.outcome is DecisionOutcome.REJECTED:
            memory.pending = None
        else:
            pending.decided_real = real_now

    def on_snapshot(self, snapshot: PositionSnapshot) -> bool:
        """A position snapshot: into the book (False when not newer); one the ledger sent
        for booking a fill of the proposal in flight (its `causation_id` is the fill's report,
        `<client order id>-<seq>`) releases the hold once the proposal is approved: the next
        proposal sees this one's hedge in the positions, not the risk it already covers."""
        memory = self.memory.get(snapshot.underlying)
        pending = memory.pending if memory else None
        cause = snapshot.causation_id
        if pending is not None and cause and cause.rsplit("-", 1)[0] in pending.orders:
            pending.booked = True
        return self.book.apply_snapshot(snapshot)

    def on_report(self, report: ExecutionReport) -> None:
        """An execution report: an order of the proposal in flight that ended with nothing
        filled (rejected, cancelled, expired) releases the hold at once, as there is nothing
        for the ledger to book; one that filled waits for its booking (`on_snapshot`)."""
        memory = self.memory.get(report.instrument.underlying)
        pending = memory.pending if memory else None
        if pending is None or report.client_order_id not in pending.orders:
            return
        if report.is_terminal and report.cum_quantity == 0:
            pending.booked = True

    # -- the cycle ---------------------------------------------------------------------------

    def evaluate(
        self,
        underlying: str,
        now: datetime,
        real_now: float,
        *,
        epoch: int | None = None,
        leading: bool = True,
        manager_ready: bool = True,
    ) -> Evaluation:
        """One hedge cycle for `underlying` on its latest tick at clock time `now` (`real_now`:
        monotonic real seconds, for the in-flight timeouts); `epoch`: the leader's fencing
        token to stamp on the proposal. A standby (`leading` false) computes the same cycle
        but its proposal is not sent, so it holds nothing back: its hold mirrors the leader's
        proposals instead (`on_peer_proposal`). `manager_ready`: whether a manager leader is
        there to decide (else NO_MANAGER)."""
        book = self.book
        tick, surface = book.tick(underlying), book.surface(underlying)
        if tick is None or surface is None:
            return Evaluation(underlying, skipped=Skip.NO_MARKET)
        limits = self.limits.get(underlying)
        if limits is None:
            return Evaluation(underlying, skipped=Skip.NO_LIMITS)
        if not self.enabled:
            return Evaluation(underlying, skipped=Skip.DISABLED)
        if not manager_ready:
            return Evaluation(underlying, skipped=Skip.NO_MANAGER)
        state = self.trading_state(underlying)
        if state is TradingState.HALTED:
            return Evaluation(underlying, skipped=Skip.HALTED)
        if book.is_stale(underlying, now, limits.max_tick_age_s):
            age = book.tick_age_s(underlying, now)
            return Evaluation(underlying, skipped=Skip.STALE, detail=f"tick {age:.1f} s old")
        risk = book.risk(now)
        row = book.index(underlying)
        memory = self.memory.setdefault(underlying, _Memory())
        trigger = self._trigger(memory, risk, row, limits, tick, now)
        if trigger is None:
            return Evaluation(underlying, skipped=Skip.NO_TRIGGER)
        if memory.last_cycle_seq == tick.seq:
            return Evaluation(underlying, skipped=Skip.SAME_CYCLE, trigger=trigger)
        if self._in_flight(memory, underlying, real_now):
            return Evaluation(underlying, skipped=Skip.PENDING, trigger=trigger)
        memory.last_time, memory.last_spot = now, tick.price  # the trigger is served
        ctx = PlanContext(
            underlying, now, trigger, tick, surface, book, risk, row, limits, self.rules,
            self.costs, self.chains.get(underlying), self.listings, self.taken,
        )  # fmt: skip
        plan = self.specialist.plan(ctx)
        if plan is None or not plan.legs:
            return Evaluation(underlying, skipped=Skip.INSIDE_BAND, trigger=trigger)
        if state is TradingState.REDUCING and not _reduces(risk, row, plan.leg_greeks):
            return Evaluation(underlying, skipped=Skip.NOT_REDUCING, trigger=trigger)
        proposal = self._proposal(ctx, plan, epoch)
        memory.last_cycle_seq = tick.seq
        if leading:
            memory.pending = _Pending.of(proposal, real_now)
            self.taken.take(proposal)
        return Evaluation(underlying, proposal=proposal, trigger=trigger)

    def _trigger(
        self,
        memory: _Memory,
        risk: BookRisk,
        row: int,
        limits: RiskLimits,
        tick: Tick,
        now: datetime,
    ) -> HedgeTrigger | None:
        if memory.last_time is None or memory.last_spot is None:  # first look: the baseline
            memory.last_time, memory.last_spot = now, tick.price
        if self.specialist.breached(risk, row, limits, self.rules):
            return HedgeTrigger.BAND_BREACH
        s = self.rules
        if s.price_move > 0.0 and abs(tick.price / memory.last_spot - 1.0) >= s.price_move:
            return HedgeTrigger.PRICE_MOVE
        elapsed = (now - memory.last_time).total_seconds()
        if s.timer_interval_s > 0.0 and elapsed >= s.timer_interval_s:
            return HedgeTrigger.TIMER
        return None

    def _in_flight(self, memory: _Memory, underlying: str, real_now: float) -> bool:
        pending = memory.pending
        if pending is None:
            return False
        s = self.rules
        if pending.decided_real is None:
            done = real_now - pending.sent_real >= s.decision_timeout_s
        else:
            done = pending.booked or real_now - pending.decided_real >= s.settle_timeout_s
        if done:
            memory.pending = None
        return not done

    def _proposal(self, ctx: PlanContext, plan: Plan, epoch: int | None) -> Proposal:
        tick = ctx.tick
        cycle_id = f"{ctx.underlying}-{tick.seq}"
        collar = self.rules.collar_fraction * ctx.limits.price_collar
        legs = [_wire_leg(leg, collar, self.costs.tick_size) for leg in plan.legs[:MAX_LEGS]]
        return Proposal(
            id=f"{self.agent}-{cycle_id}",
            ts=ctx.now,
            agent=self.agent,
            epoch=epoch,
            underlying=ctx.underlying,
            cycle_id=cycle_id,
            trigger=ctx.trigger,
            reason=plan.reason[:1024],
            legs=legs,
            expected_change=plan.objective,
            leg_greeks=plan.leg_greeks,
            estimated_cost=sum(leg.cost for leg in plan.legs),
            tick_seq=tick.seq,
            positions_seq=ctx.book.positions_seq(ctx.underlying),
            causation_id=tick.id,
        )


def _wire_leg(leg: Leg, collar: float, tick_size: float) -> HedgeLeg:
    """The leg with its limit price: fair plus the expected worst offset for a buy (minus for
    a sell), never further from fair than `collar` (a fraction of fair: a share of the limits'
    price collar, so that a small move of fair before the manager checks it keeps it inside),
    rounded to the tick towards fair, and at least one tick."""
    side = 1 if leg.contracts > 0 else -1
    offset = min(leg.worst_offset, collar * leg.fair)
    raw = leg.fair + side * offset
    ticks = round(raw / tick_size, 9)  # snap float noise (1039.9999999) before rounding
    rounded = math.floor(ticks) if side > 0 else math.ceil(ticks)
    price = max(rounded * tick_size, tick_size)
    return HedgeLeg(instrument=leg.instrument, quantity=leg.contracts, limit_price=round(price, 10))


def _reduces(risk: BookRisk, row: int, change: Greeks) -> bool:
    """Whether a change lowers |gamma| or |vega| of the underlying and raises neither."""
    gamma = float(risk.by_underlying.gamma[row])
    vega = float(risk.by_underlying.vega_per_point[row])
    before = np.abs([gamma, vega])
    after = np.abs([gamma + change.gamma, vega + change.vega_per_vol_point])
    tolerance = _GREEK_TOLERANCE * (1.0 + before)
    return bool(np.all(after <= before + tolerance) and np.any(after < before - tolerance))
