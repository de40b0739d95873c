"""The manager's decisions: one cycle of proposals in, a decision per proposal and orders out.

`DecisionEngine.decide(cycle, now, epoch)` (no I/O; the book, limits, budgets, trading state and
orders in flight are held here and fed by the adapter) goes through, in order:

1. **Trading state.** HALTED: every proposal is rejected `TRADING_HALTED` and nothing is
   routed (not even the residual delta).
2. **Inputs.** No limits for the underlying: `INVALID_REQUEST`. A tick older than the
   underlying's `max_tick_age_s`, or no tick or surface: `STALE_MARKET_DATA`, nothing routed.
   No position snapshot yet: `STALE_POSITIONS`, nothing routed.
3. **Each proposal on its own** (rejected, the others go on): when REDUCING, legs that grow
   |gamma| or |vega| at the margin `TRADING_REDUCING`; an agent epoch below one seen
   before from that agent `STALE_EPOCH`; a leg on an expired option `INSTRUMENT_EXPIRED`; an
   option worth less than a tick, or a leg whose limit price lies outside the price collar
   around fair value, `PRICE_COLLAR`; an agent without a budget, or with none left while the
   proposal costs premium but not even one contract of it fits, `BUDGET_EXHAUSTED`.
4. **The joint solve** (`solve`): the proposals still standing are netted per instrument and
   scaled jointly against cost, residual risk, the limits, the budgets, the day's cost budget,
   the order caps and, when REDUCING, the rule that no greek's magnitude grows. A proposal
   taken at less than its whole gets the reason `solve.attribute` finds.
5. **Rounding and the underlying.** Net option orders are rounded to whole contracts (half
   away from zero) within their caps; then the underlying order takes the residual delta,
   if outside the band, to `delta_rehedge_to` × band (within its caps), in whole units.
6. **Orders.** One marketable limit IOC order per instrument, split into at most
   `max_orders_per_instrument` orders each within the per-order quantity and notional limits
   (client order id attempt = slice number); limit price fair × (1 ± `limit_collar_fraction`
   × collar), rounded to the tick away from crossing the collar. Each cites the decisions
   whose legs it carries (the underlying's: every decision that took something, or the
   cycle's own marker `<cycle>:delta`).

The book's greeks are the ledger's positions plus the orders in flight (`InFlight`), priced by
`BookState` at `now`. Budgets are charged with each decision's premium (Σ |qty| × fair ×
multiplier of its option legs, at its scale), and the day's cost with the orders' expected
spread and fees as they fill (`charge_fill`: an IOC order that does not fill costs nothing).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hedgemesh.manager.domain.budgets import Budgets
from hedgemesh.manager.domain.gather import Cycle
from hedgemesh.manager.domain.inflight import InFlight
from hedgemesh.manager.domain.limits import DeskLimits, firm_factors, firm_vector
from hedgemesh.manager.domain.solve import (
    DELTA,
    GAMMA,
    GREEKS,
    VEGA,
    Instruments,
    Problem,
    Solution,
    attribute,
    solve,
)
from hedgemesh.market.book_state import BookState
from hedgemesh.records.decisions import CycleRecord, DecisionRecord
from hedgemesh.venue.spec import VenueSpec
from hedgemesh.wire.codes import ReasonCode, TradingState
from hedgemesh.wire.hedging import Decision, DecisionOutcome, Proposal
from hedgemesh.wire.instruments import Instrument, Side
from hedgemesh.wire.orders import MarketableLimit, Order, OrderType, TimeInForce, client_order_id
from hedgemesh.wire.partitions import partition_lease, partition_of
from hedgemesh.wire.state import RiskLimits, TradingStatus

__all__ = ["CycleOutcome", "DecisionEngine", "DecisionParams", "decision_id"]

#: Scales this close to 1 (or 0) count as whole (or nothing).
_WHOLE = 1e-6
#: Orders whose unit cost is kept for charging their fills.
_ORDERS_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class DecisionParams:
    """How the manager decides (`ManagerSettings.decision_params()` builds them; see it for each
    field's meaning); `venue`: tick sizes, multipliers, half spreads and fees of the books, for
    the limit prices and the expected cost of each order."""

    delta_band_fraction: float
    delta_rehedge_to: float
    risk_weight: float
    breach_weight: float
    dead_zone_fraction: float
    max_orders_per_instrument: int
    limit_collar_fraction: float
    bucket_vega_limit_fraction: float
    venue: VenueSpec


@dataclass(frozen=True)
class CycleOutcome:
    """What deciding a cycle produced: its record, a decision per proposal, the orders, and
    each order's expected spread and fees per unit (currency, by client order id)."""

    cycle: CycleRecord
    decisions: list[DecisionRecord]
    orders: list[Order]
    unit_costs: dict[str, float] = field(default_factory=dict)


def decision_id(proposal_id: str) -> str:
    """The deterministic id of the decision on a proposal (the same from any leader)."""
    return "d-" + hashlib.sha256(proposal_id.encode()).hexdigest()[:32]


@dataclass(frozen=True, eq=False)
class _Listing:
    """A cycle's instruments (the underlying first), legs matrix, and one order's cap each."""

    instruments: Instruments
    listed: list[Instrument]
    legs: NDArray[np.float64]
    single: NDArray[np.float64]


@dataclass
class _Verdict:
    upper: float = 1.0
    code: ReasonCode | None = None
    detail: str = ""


@dataclass
class DecisionEngine:
    """The decision state of one manager (module doc)."""

    params: DecisionParams
    book: BookState
    limits: DeskLimits
    budgets: Budgets
    inflight: InFlight = field(default_factory=InFlight)
    trading: TradingStatus = field(
        default_factory=lambda: TradingStatus(state=TradingState.ACTIVE, changed_by="manager")
    )
    agent_epochs: dict[str, int] = field(default_factory=dict)
    """The highest epoch seen per agent lease: the agent's, or `<agent>.p<n>` for each partition
    of a partitioned agent (each has its own lease, so its own sequence of epochs)."""
    partitions: int = 1
    cost_day: date | None = None
    cost_today: dict[str, float] = field(default_factory=dict)
    """Spread and fees spent today per underlying: each fill at its order's unit cost."""
    order_costs: OrderedDict[str, tuple[str, float]] = field(default_factory=OrderedDict)
    """Client order id → (underlying, expected cost per unit) of the orders routed here."""

    # -- the book ----------------------------------------------------------------------------

    @property
    def n_greeks(self) -> int:
        """Greek axes of the solve: delta, gamma, vega, then vega per expiry bucket."""
        return len(GREEKS) + len(self.book.bucket_edges_days) + 1

    def greek_names(self) -> tuple[str, ...]:
        edges = (0.0, *self.book.bucket_edges_days)
        buckets = [f"vega_{lo:g}-{hi:g}d" for lo, hi in itertools.pairwise(edges)]
        return (*GREEKS, *buckets, f"vega_{edges[-1]:g}d+")

    def unit_greeks(self, instruments: Sequence[Instrument], now: datetime) -> NDArray[np.float64]:
        """(K, G) greeks per unit: delta, gamma, vega, and the vega again in the column of the
        option's expiry bucket (as `quant.book` buckets it: days to expiry against the edges)."""
        unit = self.book.greeks_per_unit(instruments, now)
        n_buckets = self.n_greeks - len(GREEKS)
        out = np.zeros((len(instruments), self.n_greeks))
        out[:, DELTA], out[:, GAMMA], out[:, VEGA] = unit.delta, unit.gamma, unit.vega_per_point
        days = np.array(
            [
                (i.expiry - now).total_seconds() / 86_400.0 if i.expiry is not None else 0.0
                for i in instruments
            ]
        )
        bucket = np.searchsorted(np.asarray(self.book.bucket_edges_days), days, side="right")
        rows = np.arange(len(instruments))
        out[rows, len(GREEKS) + np.minimum(bucket, n_buckets - 1)] = unit.vega_per_point
        return out

    def greeks(self, now: datetime) -> dict[str, NDArray[np.float64]]:
        """The greeks (`n_greeks` axes) of every priced underlying: positions plus the orders
        in flight."""
        names = self.book.underlyings
        if not names:
            return {}
        risk = self.book.risk(now)
        table, buckets = risk.by_underlying, risk.by_bucket.vega_per_point
        out = {}
        for i, und in enumerate(names):
            g = np.concatenate(
                [[table.delta[i], table.gamma[i], table.vega_per_point[i]], buckets[i]]
            )
            pending = self.inflight.pending(und)
            if pending:
                instruments = [inst for inst, _ in pending.values()]
                qty = np.array([q for _, q in pending.values()], dtype=float)
                g = g + qty @ self.unit_greeks(instruments, now)
            out[und] = g
        return out

    def working_delta(self, underlying: str) -> tuple[float, float]:
        """(down, up) ≥ 0: how far the book's delta (`greeks`, which counts every working
        order as if it filled) may still move as the working orders on the underlying end:
        each one's rest may be cancelled instead (IOC), so the delta ends in
        [delta − down, delta + up]. Working option orders count as filled: their legs were
        sized to what their books show, and a shortfall is hedged when its report comes."""
        _, leaves = self.inflight.working(underlying).get(underlying, (None, 0))
        return max(float(leaves), 0.0), max(-float(leaves), 0.0)

    def delta_band(self, underlying: str) -> float | None:
        lim = self.limits.get(underlying)
        return None if lim is None else lim.max_abs_delta * self.params.delta_band_fraction

    def needs_delta_hedge(self, underlying: str, now: datetime) -> bool:
        """The manager's own check on a tick: trading, fresh data, positions known, and the
        book's delta (with orders in flight) outside the band."""
        lim = self.limits.get(underlying)
        if (
            lim is None
            or self.trading.state is TradingState.HALTED
            or self.book.positions_seq(underlying) is None
            or self.book.is_stale(underlying, now, lim.max_tick_age_s)
        ):
            return False
        band = lim.max_abs_delta * self.params.delta_band_fraction
        g = self.greeks(now).get(underlying)
        if g is None:
            return False
        return certain_delta(g[DELTA], self.working_delta(underlying), band) is not None

    # -- deciding ----------------------------------------------------------------------------

    def reject_alone(
        self, proposal: Proposal, code: ReasonCode, detail: str, now: datetime, epoch: int
    ) -> DecisionRecord:
        """A decision on a proposal outside a cycle's solve (late, refused at the door)."""
        return DecisionRecord(_decision(proposal, 0.0, code, detail, now, epoch), proposal)

    def refuse(self, cycle: Cycle, detail: str, now: datetime, epoch: int) -> CycleOutcome:
        """Every proposal of the cycle rejected `INVALID_REQUEST`, nothing routed (what is
        left when deciding failed)."""
        decisions = [
            self.reject_alone(p, ReasonCode.INVALID_REQUEST, detail, now, epoch)
            for p in sorted(cycle.proposals, key=lambda p: (p.agent, p.id))
        ]
        zero = np.zeros(self.n_greeks)
        record = self._record(
            cycle, epoch, now, len(decisions), zero, zero, [], 0.0, 0.0, {"error": detail}
        )
        return CycleOutcome(record, decisions, [])

    def decide(self, cycle: Cycle, now: datetime, epoch: int) -> CycleOutcome:
        """Decide a gathered cycle (module doc); charges budgets and the day's cost."""
        und = cycle.underlying
        proposals = sorted(cycle.proposals, key=lambda p: (p.agent, p.id))
        state = self.trading.state
        lim = self.limits.get(und)
        self.roll_cost_day(now)
        blanket = self._blanket(und, lim, now)
        greeks = self.greeks(now) if self.book.underlyings else {}
        before = greeks.get(und, np.zeros(self.n_greeks))
        if blanket is not None:
            code, detail = blanket
            decisions = [
                DecisionRecord(_decision(p, 0.0, code, detail, now, epoch), p) for p in proposals
            ]
            return CycleOutcome(
                self._record(cycle, epoch, now, len(decisions), before, before, [], 0.0, 0.0, {}),
                decisions,
                [],
            )
        assert lim is not None
        verdicts = [self._precheck(p, lim, now) for p in proposals]
        listing = self._instruments(und, proposals, verdicts, now, lim)
        instruments, legs = listing.instruments, listing.legs
        premium = np.abs(legs[:, 1:]) @ (instruments.price[1:] * instruments.multiplier[1:])
        if state is TradingState.REDUCING:
            _refuse_risk_adding(verdicts, legs[:, 1:] @ instruments.greeks[1:], before)
        problem = self._problem(und, lim, greeks, instruments, legs, verdicts, premium, proposals)
        taken = problem.upper > 0
        if taken.any():
            solution = solve(problem)
        else:
            solution = Solution(np.zeros(len(proposals)), np.zeros(len(instruments)), before, 0,
                                "nothing to solve", 0.0)  # fmt: skip
        if not solution.ok:
            for v in verdicts:
                if v.upper > 0:
                    v.upper, v.code = 0.0, ReasonCode.INVALID_REQUEST
                    v.detail = f"the joint solve failed: {solution.message}"
            solution = Solution(np.zeros(len(proposals)), np.zeros(len(instruments)), before,
                                solution.status, solution.message, 0.0)  # fmt: skip
        hedge_delta = cycle.delta_check or bool(taken.any())
        spread = self.working_delta(und)
        net = self._rounded(problem, solution, hedge_delta, state, spread)
        after = before + net @ instruments.greeks
        decisions = self._decisions(proposals, verdicts, problem, solution, premium, now, epoch)
        orders = self._orders(cycle, listing, net, decisions, lim, epoch, now)
        cost = float(instruments.cost @ np.abs(net))
        gross = float(instruments.notional @ np.abs(net))
        for d in decisions:
            self.budgets.charge(d.decision.agent, d.premium, d.risk_removed)
        unit_costs = self._unit_costs(listing, orders)
        for coid, unit in unit_costs.items():
            self.order_costs[coid] = (und, unit)
        while len(self.order_costs) > _ORDERS_REMEMBERED:
            self.order_costs.popitem(last=False)
        solver: dict[str, Any] = {
            "method": "highs" if taken.any() else "none",
            "status": solution.status,
            "objective": solution.objective,
            "message": solution.message,
            "scales": [float(s) for s in solution.scale],
        }
        record = self._record(
            cycle, epoch, now, len(decisions), before, after, orders, cost, gross, solver
        )
        return CycleOutcome(record, decisions, orders, unit_costs)

    @staticmethod
    def _unit_costs(listing: _Listing, orders: Sequence[Order]) -> dict[str, float]:
        index = {inst.symbol: k for k, inst in enumerate(listing.listed)}
        cost = listing.instruments.cost
        return {o.client_order_id: float(cost[index[o.instrument.symbol]]) for o in orders}

    def charge_fill(self, client_order_id: str, quantity: int, now: datetime) -> None:
        """A fill of an order routed here: its expected cost per unit × the quantity filled
        counts against the underlying's daily cost budget (orders that do not fill cost
        nothing)."""
        known = self.order_costs.get(client_order_id)
        if known is None or quantity <= 0:
            return
        self.roll_cost_day(now)
        und, unit = known
        self.cost_today[und] = self.cost_today.get(und, 0.0) + unit * quantity

    def _blanket(
        self, und: str, lim: RiskLimits | None, now: datetime
    ) -> tuple[ReasonCode, str] | None:
        """A reason that refuses the whole cycle, or None."""
        if self.trading.state is TradingState.HALTED:
            reason = self.trading.reason or "no reason given"
            return ReasonCode.TRADING_HALTED, f"trading is halted ({reason})"
        if lim is None:
            return ReasonCode.INVALID_REQUEST, f"no limits for {und}"
        if self.book.is_stale(und, now, lim.max_tick_age_s):
            age = self.book.tick_age_s(und, now)
            return ReasonCode.STALE_MARKET_DATA, (
                f"no tick and surface for {und}"
                if math.isinf(age) or und not in self.book.underlyings
                else f"last {und} tick is {age:.3g} s old (max {lim.max_tick_age_s:g} s)"
            )
        if self.book.positions_seq(und) is None:
            return ReasonCode.STALE_POSITIONS, f"no position snapshot for {und} yet"
        return None

    def _precheck(self, proposal: Proposal, lim: RiskLimits, now: datetime) -> _Verdict:
        agent = proposal.agent
        if proposal.epoch is not None:
            lease = partition_lease(
                agent, partition_of(proposal.underlying, self.partitions), self.partitions
            )
            seen = self.agent_epochs.get(lease, 0)
            if proposal.epoch < seen:
                return _Verdict(
                    0.0, ReasonCode.STALE_EPOCH, f"agent epoch {proposal.epoch} < {seen} seen"
                )
            self.agent_epochs[lease] = proposal.epoch
        options = [leg for leg in proposal.legs if leg.instrument.is_option]
        for leg in options:
            expiry = leg.instrument.expiry
            if expiry is not None and expiry <= now:
                return _Verdict(0.0, ReasonCode.INSTRUMENT_EXPIRED, f"{leg.instrument} expired")
        instruments = [leg.instrument for leg in proposal.legs]
        fair = self.book.fair_values(instruments)
        for leg, value in zip(proposal.legs, fair, strict=True):
            tick = self.params.venue.option.tick_size if leg.instrument.is_option else 0.0
            if not math.isfinite(value) or value < max(tick, 1e-12):
                return _Verdict(
                    0.0,
                    ReasonCode.PRICE_COLLAR,
                    f"{leg.instrument} is worth {value:.3g}: "
                    "below a tick, no price within the collar",
                )
            if leg.limit_price is not None and abs(leg.limit_price / value - 1) > lim.price_collar:
                return _Verdict(
                    0.0,
                    ReasonCode.PRICE_COLLAR,
                    f"{leg.instrument} limit {leg.limit_price:g} is more than "
                    f"{100 * lim.price_collar:g} % from fair value {value:.6g}",
                )
        left = self.budgets.left(agent)
        if left is None:
            return _Verdict(0.0, ReasonCode.BUDGET_EXHAUSTED, f"no budget for agent {agent}")
        legs = zip(proposal.legs, fair, strict=True)
        premiums = [
            float(v) * leg.instrument.multiplier for leg, v in legs if leg.instrument.is_option
        ]
        cheapest = min(premiums, default=0.0)
        if options and left < cheapest:
            return _Verdict(
                0.0,
                ReasonCode.BUDGET_EXHAUSTED,
                f"{agent} has {left:.6g} of its budget left, less than a contract ({cheapest:.6g})",
            )
        return _Verdict()

    def _instruments(
        self,
        und: str,
        proposals: Sequence[Proposal],
        verdicts: Sequence[_Verdict],
        now: datetime,
        lim: RiskLimits,
    ) -> _Listing:
        """The underlying and every option leg of a proposal still standing; the legs matrix."""
        spot = Instrument.spot(und)
        options: dict[str, Instrument] = {}
        for p, v in zip(proposals, verdicts, strict=True):
            if v.upper > 0:
                for leg in p.legs:
                    if leg.instrument.is_option:
                        options.setdefault(leg.instrument.symbol, leg.instrument)
        listed = [spot, *(options[s] for s in sorted(options))]
        index = {inst.symbol: k for k, inst in enumerate(listed)}
        legs = np.zeros((len(proposals), len(listed)))
        for i, (p, v) in enumerate(zip(proposals, verdicts, strict=True)):
            if v.upper > 0:
                for leg in p.legs:
                    legs[i, index[leg.instrument.symbol]] += leg.quantity
        greeks = self.unit_greeks(listed, now)
        price = self.book.fair_values(listed)
        mult = np.array([inst.multiplier for inst in listed])
        prm = self.params
        books = [prm.venue.book(inst) for inst in listed]
        half_spread = np.array([b.half_spread_bp for b in books])
        per_contract = np.array([b.fee_per_contract for b in books])
        fee_bp = np.array([b.fee_bp for b in books])
        cost = half_spread * 1e-4 * price * mult + (per_contract + fee_bp * 1e-4 * price * mult)
        by_notional = np.floor(lim.max_order_notional / np.maximum(price * mult, 1e-12))
        single = np.minimum(lim.max_order_quantity, by_notional)
        cap_reason = tuple(
            ReasonCode.NOTIONAL_EXCEEDS_MAXIMUM
            if by_notional[k] < lim.max_order_quantity
            else ReasonCode.QUANTITY_EXCEEDS_MAXIMUM
            for k in range(len(listed))
        )
        inst = Instruments(
            symbols=tuple(index),
            greeks=greeks,
            price=price,
            multiplier=mult,
            cost=cost,
            max_quantity=single * prm.max_orders_per_instrument,
            cap_reason=cap_reason,
        )
        return _Listing(inst, listed, legs, single)

    def _problem(
        self,
        und: str,
        lim: RiskLimits,
        greeks: dict[str, NDArray[np.float64]],
        instruments: Instruments,
        legs: NDArray[np.float64],
        verdicts: Sequence[_Verdict],
        premium: NDArray[np.float64],
        proposals: Sequence[Proposal],
    ) -> Problem:
        firm = self.limits.firm
        firm_other = None
        spot = float(instruments.price[0])
        if firm is not None:
            total = np.zeros(len(GREEKS))
            for name, g in greeks.items():
                if name != und:
                    tick = self.book.tick(name)
                    assert tick is not None  # priced underlyings have one
                    total += firm_factors(tick.price) * g[: len(GREEKS)]
            firm_other = total
        agents = tuple(p.agent for p in proposals)
        budget_left = {}
        for a in set(agents):
            left = self.budgets.left(a)
            if left is not None:
                budget_left[a] = left
        return Problem(
            book=greeks[und],
            limits=self._limit_vector(und, lim, spot),
            instruments=instruments,
            legs=legs,
            upper=np.array([v.upper for v in verdicts]),
            premium=premium,
            agents=agents,
            budget_left=budget_left,
            max_gross_notional=math.inf if firm is None else firm.max_gross_notional_per_cycle,
            max_cost=lim.daily_cost_budget - self.cost_today.get(und, 0.0),
            firm_other=firm_other,
            firm_limits=None if firm is None else firm_vector(firm),
            firm_factors=firm_factors(spot),
            reducing=self.trading.state is TradingState.REDUCING,
            risk_weight=self.params.risk_weight,
            breach_weight=self.params.breach_weight,
            dead_zone=self.params.dead_zone_fraction,
        )

    def _limit_vector(self, und: str, lim: RiskLimits, spot: float) -> NDArray[np.float64]:
        """(delta band, gamma limit at `spot`, vega limit, each bucket's vega limit)."""
        n_buckets = self.n_greeks - len(GREEKS)
        bucket = lim.max_abs_vega_per_vol_point * self.params.bucket_vega_limit_fraction
        return np.concatenate(
            [
                self.limits.vector(und, self.params.delta_band_fraction, spot),
                np.full(n_buckets, bucket),
            ]
        )

    def _rounded(
        self,
        problem: Problem,
        solution: Solution,
        hedge_delta: bool,
        state: TradingState,
        spread: tuple[float, float] = (0.0, 0.0),
    ) -> NDArray[np.float64]:
        """Whole net orders: options rounded within caps, then the underlying (module doc);
        `spread`: `working_delta`, the delta the working orders may still not bring."""
        inst = problem.instruments
        net = np.sign(solution.net) * np.floor(np.abs(solution.net) + 0.5)
        net = np.clip(net, -np.floor(inst.max_quantity), np.floor(inst.max_quantity))
        net[0] = 0.0
        residual = problem.book + net @ inst.greeks
        band = problem.limits[DELTA]
        delta = certain_delta(residual[DELTA], spread, band)
        if (hedge_delta or solution.net[0] != 0.0) and delta is not None:
            target = math.copysign(self.params.delta_rehedge_to * band, delta)
            per_unit = inst.greeks[0, DELTA]
            h = (target - delta) / per_unit
            cap = float(inst.max_quantity[0])
            unit_notional = float(inst.notional[0])
            if math.isfinite(problem.max_gross_notional) and unit_notional > 0:
                room = problem.max_gross_notional - float(inst.notional @ np.abs(net))
                cap = min(cap, max(room, 0.0) / unit_notional)
            if inst.cost[0] > 0 and math.isfinite(problem.max_cost):
                room = problem.max_cost - float(inst.cost @ np.abs(net))
                cap = min(cap, max(room, 0.0) / inst.cost[0])
            h = math.copysign(min(math.floor(abs(h) + 0.5), math.floor(cap)), h)
            if state is TradingState.REDUCING and abs(delta + h * per_unit) > abs(delta):
                h = 0.0
            net[0] = h
        return net

    def _decisions(
        self,
        proposals: Sequence[Proposal],
        verdicts: Sequence[_Verdict],
        problem: Problem,
        solution: Solution,
        premium: NDArray[np.float64],
        now: datetime,
        epoch: int,
    ) -> list[DecisionRecord]:
        out = []
        G = problem.instruments.greeks
        B = problem.book
        limits = np.array([1.0, *problem.limits[1:]])
        limits = np.where(limits > 0, limits, 1.0)
        for i, (p, v) in enumerate(zip(proposals, verdicts, strict=True)):
            s = float(solution.scale[i]) if v.upper > 0 else 0.0
            s = 1.0 if s >= 1.0 - _WHOLE else (0.0 if s <= _WHOLE else round(s, 6))
            code, detail = v.code, v.detail
            if v.upper > 0 and s < 1.0:
                code = attribute(problem, solution, i)
                detail = (
                    f"{_DETAILS[code]} (the book with the orders in flight: delta {B[DELTA]:.4g}, "
                    f"gamma {B[GAMMA]:.4g}, vega {B[VEGA]:.4g})"
                )
            change = s * (problem.legs[i, 1:] @ G[1:])
            removed = float(
                sum((abs(B[g]) - abs(B[g] + change[g])) / limits[g] for g in (GAMMA, VEGA))
            )
            decision = _decision(p, s, code, detail, now, epoch)
            out.append(DecisionRecord(decision, p, float(premium[i] * s), removed if s else 0.0))
        return out

    def _orders(
        self,
        cycle: Cycle,
        listing: _Listing,
        net: NDArray[np.float64],
        decisions: Sequence[DecisionRecord],
        lim: RiskLimits,
        epoch: int,
        now: datetime,
    ) -> list[Order]:
        taken = [d for d in decisions if d.decision.scale_factor > 0]
        orders = []
        for k in np.flatnonzero(net):
            instrument = listing.listed[k]
            side = Side.BUY if net[k] > 0 else Side.SELL
            if k == 0:
                cites = [d.decision.id for d in taken] or [f"{cycle.cycle_id}:delta"]
            else:
                symbol = instrument.symbol
                cites = [
                    d.decision.id
                    for d in taken
                    if any(leg.instrument.symbol == symbol for leg in d.proposal.legs)
                ]
            fair = float(listing.instruments.price[k])
            limit = self._limit_price(instrument, fair, side, lim.price_collar)
            for attempt, quantity in enumerate(_slices(int(abs(net[k])), int(listing.single[k]))):
                coid = client_order_id(cycle.cycle_id, instrument, attempt)
                orders.append(
                    Order(
                        id=f"{coid}-e{epoch}",
                        ts=now,
                        client_order_id=coid,
                        instrument=instrument,
                        side=side,
                        quantity=quantity,
                        order_type=OrderType.LIMIT,
                        limit_price=limit,
                        time_in_force=TimeInForce.IOC,
                        algo=MarketableLimit(),
                        cycle_id=cycle.cycle_id,
                        epoch=epoch,
                        decision_ids=cites[:64],
                    )
                )
        return orders

    def _limit_price(self, instrument: Instrument, fair: float, side: Side, collar: float) -> float:
        """fair × (1 ± fraction × collar) on the tick grid, rounded toward fair value."""
        p = self.params
        tick = p.venue.book(instrument).tick_size
        raw = fair * (1.0 + side.sign * p.limit_collar_fraction * collar)
        ticks = math.floor(raw / tick + 1e-9) if side is Side.BUY else math.ceil(raw / tick - 1e-9)
        return round(max(ticks, 1) * tick, 10)

    # -- the day's cost budget ---------------------------------------------------------------

    def roll_cost_day(self, now: datetime) -> None:
        """Start a new day's cost count when `now` is on another UTC day."""
        if now.date() != self.cost_day:
            self.cost_day, self.cost_today = now.date(), {}

    def _record(
        self,
        cycle: Cycle,
        epoch: int,
        now: datetime,
        n_decisions: int,
        before: NDArray[np.float64],
        after: NDArray[np.float64],
        orders: Sequence[Order],
        cost: float,
        gross: float,
        solver: dict[str, Any],
    ) -> CycleRecord:
        return CycleRecord(
            cycle_id=cycle.cycle_id,
            underlying=cycle.underlying,
            epoch=epoch,
            trigger=cycle.trigger,
            trading_state=self.trading.state.value,
            decided_at=now,
            proposals=n_decisions,
            orders=len(orders),
            expected_cost=cost,
            gross_notional=gross,
            greeks_before=dict(zip(self.greek_names(), map(float, before), strict=True)),
            greeks_after=dict(zip(self.greek_names(), map(float, after), strict=True)),
            solver=solver,
        )


_DETAILS = {
    ReasonCode.BUDGET_EXHAUSTED: "scaled to the agent's premium budget (or the day's cost budget)",
    ReasonCode.QUANTITY_EXCEEDS_MAXIMUM: "an order would exceed the per-order quantity limit",
    ReasonCode.NOTIONAL_EXCEEDS_MAXIMUM: "an order, or the cycle, would exceed its notional limit",
    ReasonCode.TRADING_REDUCING: "reducing only: more would grow a greek's magnitude",
    ReasonCode.DELTA_LIMIT: "more would breach the delta limit (the underlying cannot offset it)",
    ReasonCode.GAMMA_LIMIT: "more would breach the gamma limit",
    ReasonCode.VEGA_LIMIT: "more would breach the vega limit (or an expiry bucket's)",
    ReasonCode.NETTED_OUT: "the cycle's other proposals already cover it (the joint solve)",
    ReasonCode.RISK_NOT_REDUCED: "more would not reduce the book's risk by more than it costs",
}


def _refuse_risk_adding(
    verdicts: Sequence[_Verdict], change: NDArray[np.float64], book: NDArray[np.float64]
) -> None:
    """REDUCING: refuse a proposal whose legs, at the margin, grow |gamma| or |vega|."""
    for verdict, d in zip(verdicts, change, strict=True):
        grows = [
            name
            for g, name in ((GAMMA, "gamma"), (VEGA, "vega"))
            if (book[g] == 0 and abs(d[g]) > 0) or book[g] * d[g] > 0
        ]
        if verdict.upper > 0 and grows:
            verdict.upper, verdict.code = 0.0, ReasonCode.TRADING_REDUCING
            verdict.detail = f"reducing only: its legs grow |{'|, |'.join(grows)}|"


def _decision(
    proposal: Proposal,
    scale: float,
    code: ReasonCode | None,
    detail: str,
    now: datetime,
    epoch: int,
) -> Decision:
    if scale >= 1.0:
        outcome, code, detail = DecisionOutcome.APPROVED, None, ""
    elif scale > 0.0:
        outcome = DecisionOutcome.SCALED
        detail = f"scaled to {scale:.4g}: {detail}"
    else:
        outcome = DecisionOutcome.REJECTED
    return Decision(
        id=decision_id(proposal.id),
        ts=now,
        proposal_id=proposal.id,
        agent=proposal.agent,
        underlying=proposal.underlying,
        cycle_id=proposal.cycle_id,
        outcome=outcome,
        reason_code=code,
        scale_factor=scale,
        detail=detail[:1024],
        epoch=epoch,
    )


def certain_delta(delta: float, spread: tuple[float, float], band: float) -> float | None:
    """The delta to hedge, or None: `delta` counts the working orders as filled, and
    `spread` = (down, up) is how far it may still move as they end. Outside the band on one
    side whatever they bring, the edge of [delta − down, delta + up] nearest the band is
    hedged (so a cancelled rest is hedged by the next cycle, never twice); reaching into the
    band, nothing is, until the orders report (no buying right after selling)."""
    lo, hi = delta - spread[0], delta + spread[1]
    edge = band * (1 + 1e-9)
    if lo > edge:
        return lo
    if hi < -edge:
        return hi
    return None


def _slices(quantity: int, single: int) -> list[int]:
    """`quantity` in the fewest orders of at most `single`, sizes differing by at most one."""
    if quantity <= 0:
        return []
    count = max(1, -(-quantity // max(single, 1)))
    base, extra = divmod(quantity, count)
    return [base + 1] * extra + [base] * (count - extra)
