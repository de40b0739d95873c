"""The cycle around every specialist: one proposal in flight, one per tick, decisions, and
leadership (standbys compute, only the leader publishes), on fakes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from agent_examples import ORIGIN, book_holdings, gamma_core, moved, snapshot

from hedgemesh.agentkit.adapters.component import AgentComponent
from hedgemesh.agentkit.domain.core import Skip
from hedgemesh.gamma_agent.config import GammaAgentSettings
from hedgemesh.runtime.clock import SteppedClock
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.hedging import Decision, DecisionOutcome
from hedgemesh.wire.ops import Heartbeat, PolicyStatus, Role, ServiceState
from hedgemesh.wire.orders import ExecStatus, ExecutionReport, Side, client_order_id


def decision(proposal, outcome):
    code = None if outcome is DecisionOutcome.APPROVED else ReasonCode.GAMMA_LIMIT
    scale = {"approved": 1.0, "scaled": 0.5, "rejected": 0.0}[outcome.value]
    return Decision(
        proposal_id=proposal.id, agent=proposal.agent, underlying=proposal.underlying,
        cycle_id=proposal.cycle_id, outcome=outcome, reason_code=code, scale_factor=scale,
        epoch=1,
    )  # fmt: skip


def test_given_a_proposal_in_flight_then_the_next_tick_waits_for_its_decision():
    core = gamma_core()
    first = core.evaluate("SPX", ORIGIN, 0.0).proposal
    assert first is not None
    assert core.evaluate("SPX", ORIGIN, 0.1).skipped is Skip.SAME_CYCLE
    later = moved(core, "SPX", 1.0)
    assert core.evaluate("SPX", later.ts, 0.5).skipped is Skip.PENDING
    core.on_decision(decision(first, DecisionOutcome.REJECTED), 0.6)
    again = core.evaluate("SPX", later.ts, 0.7).proposal
    assert again is not None and again.cycle_id != first.cycle_id


def test_given_no_decision_then_the_hold_ends_after_the_decision_timeout():
    core = gamma_core(decision_timeout_s=2.0)
    assert core.evaluate("SPX", ORIGIN, 0.0).proposal is not None
    later = moved(core, "SPX", 1.0)
    assert core.evaluate("SPX", later.ts, 1.9).skipped is Skip.PENDING
    assert core.evaluate("SPX", later.ts, 2.0).proposal is not None


def test_given_an_approval_then_the_hold_ends_when_the_ledger_books_a_fill_of_its_orders():
    core = gamma_core(settle_timeout_s=60.0)
    first = core.evaluate("SPX", ORIGIN, 0.0).proposal
    assert first is not None
    core.on_decision(decision(first, DecisionOutcome.APPROVED), 0.1)
    later = moved(core, "SPX", 1.0)
    assert core.evaluate("SPX", later.ts, 10.0).skipped is Skip.PENDING  # fills not booked yet
    # The ledger books someone else's trade first: the positions move on, the hold stays.
    other = snapshot("SPX", dict(book_holdings()["SPX"]), seq=2)
    core.on_snapshot(other.model_copy(update={"causation_id": "trade-17"}))
    assert core.evaluate("SPX", later.ts, 10.1).skipped is Skip.PENDING
    filled = dict(book_holdings()["SPX"])
    for leg in first.legs:
        filled[leg.instrument] = filled.get(leg.instrument, 0) + leg.quantity
    coid = client_order_id(first.cycle_id, first.legs[-1].instrument, 1)  # its second slice
    booked = snapshot("SPX", filled, seq=3).model_copy(update={"causation_id": f"{coid}-2"})
    core.on_snapshot(booked)
    evaluation = core.evaluate("SPX", later.ts, 10.2)
    assert evaluation.skipped is Skip.NO_TRIGGER  # hedged: gamma back inside its band


def test_given_an_approval_without_fills_then_the_hold_ends_after_the_settle_timeout():
    core = gamma_core(settle_timeout_s=3.0)
    first = core.evaluate("SPX", ORIGIN, 0.0).proposal
    core.on_decision(decision(first, DecisionOutcome.SCALED), 1.0)
    later = moved(core, "SPX", 1.0)
    assert core.evaluate("SPX", later.ts, 3.9).skipped is Skip.PENDING
    assert core.evaluate("SPX", later.ts, 4.0).proposal is not None


def test_given_an_approval_whose_order_ends_unfilled_then_the_hold_ends_on_its_final_report():
    core = gamma_core(settle_timeout_s=60.0)
    first = core.evaluate("SPX", ORIGIN, 0.0).proposal
    assert first is not None
    core.on_decision(decision(first, DecisionOutcome.APPROVED), 0.1)
    later = moved(core, "SPX", 1.0)
    leg = first.legs[0]
    coid = client_order_id(first.cycle_id, leg.instrument, 0)

    def report(status: ExecStatus, seq: int) -> ExecutionReport:
        return ExecutionReport(
            client_order_id=coid, exec_id=f"{coid}-{seq}", seq=seq, cycle_id=first.cycle_id,
            instrument=leg.instrument, side=Side.BUY if leg.quantity > 0 else Side.SELL,
            status=status, order_quantity=abs(leg.quantity), cum_quantity=0,
            leaves_quantity=abs(leg.quantity) if status is ExecStatus.ACCEPTED else 0,
        )  # fmt: skip

    core.on_report(report(ExecStatus.ACCEPTED, 1))  # working: the hold stays
    assert core.evaluate("SPX", later.ts, 0.5).skipped is Skip.PENDING
    core.on_report(report(ExecStatus.CANCELLED, 2))  # the IOC's rest: nothing to book
    assert core.evaluate("SPX", later.ts, 0.6).skipped is not Skip.PENDING


def test_given_another_proposals_decision_then_the_hold_stays():
    core = gamma_core()
    first = core.evaluate("SPX", ORIGIN, 0.0).proposal
    other = first.evolve(id="gamma-agent-SPX-999")
    core.on_decision(decision(other, DecisionOutcome.REJECTED), 0.1)
    later = moved(core, "SPX", 1.0)
    assert core.evaluate("SPX", later.ts, 0.2).skipped is Skip.PENDING


def test_given_two_replicas_on_the_same_inputs_then_their_proposals_are_identical():
    a, b = gamma_core(), gamma_core()
    pa = a.evaluate("SPX", ORIGIN, 0.0, epoch=4).proposal
    pb = b.evaluate("SPX", ORIGIN, 5.0, epoch=4).proposal
    assert pa == pb


@dataclass
class FakeBus:
    sent: list = field(default_factory=list)

    async def publish(self, subject, message):
        self.sent.append((subject, message))


@dataclass
class FakeService:
    """What `AgentComponent.cycle` uses of a `Service`."""

    is_leader: bool
    epoch: int | None
    clock: SteppedClock
    bus: FakeBus = field(default_factory=FakeBus)
    instance: str = "test"
    policy_status: PolicyStatus | None = None

    def leads(self, underlying: str) -> bool:
        return self.is_leader

    def warm_for(self, underlying: str) -> bool:
        return True

    def epoch_for(self, underlying: str) -> int | None:
        return self.epoch


def test_given_a_standby_then_it_computes_but_does_not_publish():
    standby = AgentComponent(gamma_core(), GammaAgentSettings(manager=None), real_time=lambda: 0.0)
    standby._service = FakeService(is_leader=False, epoch=None, clock=SteppedClock(ORIGIN))
    evaluation = asyncio.run(standby.cycle("SPX"))
    assert evaluation.proposal is not None and evaluation.proposal.epoch is None
    assert standby._service.bus.sent == [] and standby.published_count == 0
    assert list(standby.decided) == [evaluation.proposal]
    assert standby.evaluations["proposed"] == 1


def test_given_the_leader_then_it_publishes_with_its_epoch():
    leader = AgentComponent(gamma_core(), GammaAgentSettings(manager=None), real_time=lambda: 0.0)
    leader._service = FakeService(is_leader=True, epoch=11, clock=SteppedClock(ORIGIN))
    evaluation = asyncio.run(leader.cycle("SPX"))
    [(subject, proposal)] = leader._service.bus.sent
    assert subject == "hedge.v1.proposal.gamma-agent"
    assert proposal == evaluation.proposal and proposal.epoch == 11
    assert leader.published_count == 1
    leader._service.clock.advance(10.0)
    asyncio.run(leader.cycle("SPX"))  # same tick: nothing more
    assert len(leader._service.bus.sent) == 1 and leader.evaluations["same_cycle"] == 1


def test_given_a_stale_book_then_the_timer_cycle_proposes_nothing():
    leader = AgentComponent(gamma_core(), GammaAgentSettings(manager=None), real_time=lambda: 0.0)
    clock = SteppedClock(ORIGIN + timedelta(hours=1))
    leader._service = FakeService(is_leader=True, epoch=1, clock=clock)
    assert asyncio.run(leader.cycle("SPX")).skipped is Skip.STALE
    assert leader._service.bus.sent == []


def test_given_a_standby_then_its_own_proposals_hold_nothing_back_but_the_leaders_do():
    standby = gamma_core()
    own = standby.evaluate("SPX", ORIGIN, 0.0, leading=False).proposal
    assert own is not None
    later = moved(standby, "SPX", 1.0)
    assert standby.evaluate("SPX", later.ts, 0.1, leading=False).proposal is not None
    leader = own.evolve(id="gamma-agent-SPX-leader", tick_seq=later.seq, epoch=3)
    standby.on_peer_proposal(leader, 0.2)
    after = moved(standby, "SPX", 1.0)
    assert standby.evaluate("SPX", after.ts, 0.3).skipped is Skip.PENDING  # took over: waits
    standby.on_decision(decision(leader, DecisionOutcome.REJECTED), 0.4)
    assert standby.evaluate("SPX", after.ts, 0.5).proposal is not None


def test_given_a_worst_price_past_the_collar_then_the_limit_stops_inside_it():
    from hedgemesh.agentkit.domain.core import Leg, _wire_leg
    from hedgemesh.wire.instruments import Instrument

    option = Instrument.option("SPX", ORIGIN + timedelta(days=7), 5000.0, "call")
    buy = _wire_leg(Leg(option, 10, fair=10.0, cost=0.0, worst_offset=3.0), 0.04, 0.01)
    sell = _wire_leg(Leg(option, -10, fair=10.0, cost=0.0, worst_offset=3.0), 0.04, 0.01)
    near = _wire_leg(Leg(option, 10, fair=10.0, cost=0.0, worst_offset=0.123), 0.04, 0.01)
    tiny = _wire_leg(Leg(option, -10, fair=0.004, cost=0.0, worst_offset=0.01), 0.04, 0.01)
    assert (buy.limit_price, sell.limit_price) == (10.4, 9.6)  # the collar's edge
    assert near.limit_price == 10.12  # the worst expected price, rounded towards fair
    assert tiny.limit_price == 0.01 and sell.quantity == -10  # never below a tick


def manager_beat(role: Role, state: ServiceState, instance: str = "manager-1") -> Heartbeat:
    return Heartbeat(
        service="manager", instance=instance, role=role, state=state, seq=1,
        started_at=ORIGIN, pid=1, lag_ms=0.0, epoch=3, ts=ORIGIN,
    )  # fmt: skip


def test_given_no_manager_leader_ready_then_nothing_is_proposed_until_one_is():
    now = [0.0]
    leader = AgentComponent(
        gamma_core(), GammaAgentSettings(manager_timeout_s=6.0), real_time=lambda: now[0]
    )
    leader._service = FakeService(is_leader=True, epoch=1, clock=SteppedClock(ORIGIN))
    assert asyncio.run(leader.cycle("SPX")).skipped is Skip.NO_MANAGER
    leader.on_manager_heartbeat(manager_beat(Role.LEADER, ServiceState.STARTING))  # subscribing
    assert asyncio.run(leader.cycle("SPX")).skipped is Skip.NO_MANAGER
    leader.on_manager_heartbeat(manager_beat(Role.STANDBY, ServiceState.READY, "manager-2"))
    assert asyncio.run(leader.cycle("SPX")).skipped is Skip.NO_MANAGER
    leader.on_manager_heartbeat(manager_beat(Role.LEADER, ServiceState.READY))
    assert asyncio.run(leader.cycle("SPX")).proposal is not None
    assert leader._service.bus.sent


def test_given_the_manager_leader_gone_then_proposals_wait_for_the_next_one():
    now = [0.0]
    agent = AgentComponent(
        gamma_core(), GammaAgentSettings(manager_timeout_s=6.0), real_time=lambda: now[0]
    )
    agent.on_manager_heartbeat(manager_beat(Role.LEADER, ServiceState.READY))
    assert agent.manager_ready()
    now[0] = 6.5  # its heartbeats stopped: dead or cut off
    assert not agent.manager_ready()
    agent.on_manager_heartbeat(manager_beat(Role.LEADER, ServiceState.READY, "manager-2"))
    assert agent.manager_ready()
    agent.on_manager_heartbeat(manager_beat(Role.LEADER, ServiceState.STOPPING, "manager-2"))
    assert not agent.manager_ready()
