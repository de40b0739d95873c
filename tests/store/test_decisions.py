"""DecisionRepository: a cycle decided once, a decision per proposal, outboxes, budgets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from store_examples import CALL, SPX, T0, make_order, report

from hedgemesh.store.decisions import (
    BudgetPeriod,
    CycleRecord,
    DecisionRecord,
    DecisionRepository,
)
from hedgemesh.store.execution import ExecutionRepository
from hedgemesh.wire import (
    Decision,
    DecisionOutcome,
    ExecStatus,
    Greeks,
    HedgeLeg,
    HedgeTrigger,
    Proposal,
    ReasonCode,
)


@pytest.fixture
def repo(sessions) -> DecisionRepository:
    return DecisionRepository(sessions)


def proposal(pid: str, cycle: str = "SPX-1", agent: str = "gamma-agent", qty: int = 10) -> Proposal:
    return Proposal(
        id=pid,
        ts=T0,
        agent=agent,
        epoch=3,
        underlying="SPX",
        cycle_id=cycle,
        trigger=HedgeTrigger.BAND_BREACH,
        reason="gamma below its band",
        legs=[HedgeLeg(instrument=CALL, quantity=qty)],
        expected_change=Greeks(delta=0.0, gamma=1.0, vega_per_vol_point=100.0),
        leg_greeks=Greeks(delta=500.0, gamma=1.0, vega_per_vol_point=100.0),
        estimated_cost=25.0,
        tick_seq=1,
    )


def decision(
    p: Proposal,
    outcome: DecisionOutcome = DecisionOutcome.APPROVED,
    *,
    seconds: float = 0.0,
) -> Decision:
    scale, code = {
        DecisionOutcome.APPROVED: (1.0, None),
        DecisionOutcome.SCALED: (0.5, ReasonCode.BUDGET_EXHAUSTED),
        DecisionOutcome.REJECTED: (0.0, ReasonCode.TRADING_HALTED),
    }[outcome]
    return Decision(
        id=f"d-{p.id}",
        ts=T0 + timedelta(seconds=seconds),
        proposal_id=p.id,
        agent=p.agent,
        underlying=p.underlying,
        cycle_id=p.cycle_id,
        outcome=outcome,
        reason_code=code,
        scale_factor=scale,
        epoch=9,
    )


def cycle(cycle_id: str = "SPX-1", *, seconds: float = 0.0, cost: float = 12.5) -> CycleRecord:
    return CycleRecord(
        cycle_id=cycle_id,
        underlying="SPX",
        epoch=9,
        trigger="proposals",
        trading_state="ACTIVE",
        decided_at=T0 + timedelta(seconds=seconds),
        proposals=1,
        orders=1,
        expected_cost=cost,
        gross_notional=1e5,
        greeks_before={"delta": 10.0, "gamma": -5.0, "vega_per_vol_point": -100.0},
        greeks_after={"delta": 0.0, "gamma": -4.0, "vega_per_vol_point": 0.0},
        solver={"method": "highs", "status": 0, "objective": 1.5},
    )


def record(p: Proposal, outcome=DecisionOutcome.APPROVED, *, premium=1000.0, removed=0.1, s=0.0):
    return DecisionRecord(decision(p, outcome, seconds=s), p, premium=premium, risk_removed=removed)


def test_given_a_cycle_then_cycle_decisions_and_orders_are_stored_together(repo) -> None:
    p = proposal("p1")
    order = make_order("SPX-1", CALL, quantity=10, limit_price=50.0, epoch=9)
    assert repo.record_cycle(cycle(), [record(p)], [order])
    assert repo.has_cycle("SPX-1")
    assert repo.cycle("SPX-1") == cycle()
    stored = repo.decision_for("p1")
    assert stored is not None
    assert stored.decision == decision(p)
    assert stored.proposal == p
    assert (stored.premium, stored.risk_removed, stored.published_at) == (1000.0, 0.1, None)
    assert repo.orders_of_cycle("SPX-1") == [order]
    assert repo.decided(["p1", "p2"]) == {"p1"}


def test_given_a_cycle_stored_before_then_a_second_decision_of_it_stores_nothing(repo) -> None:
    p1, p2 = proposal("p1"), proposal("p2")
    assert repo.record_cycle(cycle(), [record(p1)], [make_order("SPX-1", SPX, epoch=9)])
    replay = [record(p1, DecisionOutcome.REJECTED), record(p2)]
    assert not repo.record_cycle(cycle(), replay, [make_order("SPX-1", CALL, epoch=10)])
    stored = repo.decision_for("p1")
    assert stored is not None and stored.decision.outcome is DecisionOutcome.APPROVED
    assert repo.decided(["p2"]) == set()
    assert [o.instrument for o in repo.orders_of_cycle("SPX-1")] == [SPX]


def test_given_a_proposal_decided_in_an_earlier_cycle_then_only_the_new_ones_are_stored(
    repo,
) -> None:
    p1 = proposal("p1")
    assert repo.record_decision(record(p1))
    assert not repo.record_decision(record(p1, DecisionOutcome.REJECTED))
    p2 = proposal("p2")
    assert repo.record_cycle(cycle(), [record(p1), record(p2)])
    assert repo.count_decisions(cycle_id="SPX-1") == 2
    stored = repo.decision_for("p1")
    assert stored is not None and stored.decision.outcome is DecisionOutcome.APPROVED


def test_given_decisions_of_another_cycle_then_recording_refuses(repo) -> None:
    with pytest.raises(ValueError, match="SPX-2"):
        repo.record_cycle(cycle("SPX-2"), [record(proposal("p1", cycle="SPX-1"))])
    assert not repo.has_cycle("SPX-2")


def test_given_published_marks_then_the_outboxes_hold_only_the_rest(repo) -> None:
    p1, p2 = proposal("p1"), proposal("p2")
    o1 = make_order("SPX-1", SPX, epoch=9)
    o2 = make_order("SPX-1", CALL, epoch=9, ts=T0 + timedelta(seconds=1))
    repo.record_cycle(cycle(), [record(p1), record(p2, s=1.0)], [o1, o2])
    assert [d.proposal_id for d in repo.unpublished_decisions()] == ["p1", "p2"]
    assert repo.unpublished_orders() == [o1, o2]
    changed = repo.mark_published(decision_ids=["d-p1"], client_order_ids=[o1.client_order_id])
    assert changed == 2
    assert [d.proposal_id for d in repo.unpublished_decisions()] == ["p2"]
    assert repo.unpublished_orders() == [o2]
    assert repo.mark_published(decision_ids=["d-p1"]) == 0  # already published
    stored = repo.decision_for("p1")
    assert stored is not None and stored.published_at is not None


def test_given_decisions_then_queries_filter_and_page_newest_first(repo) -> None:
    for i in range(5):
        agent = "gamma-agent" if i % 2 == 0 else "vega-agent"
        p = proposal(f"p{i}", cycle=f"SPX-{i}", agent=agent)
        outcome = DecisionOutcome.REJECTED if i == 4 else DecisionOutcome.APPROVED
        repo.record_cycle(cycle(f"SPX-{i}", seconds=i), [record(p, outcome, s=i)])
    newest = repo.decisions(limit=2)
    assert [r.decision.proposal_id for r in newest] == ["p4", "p3"]
    page = repo.decisions(before=newest[-1].decision.ts, limit=10)
    assert [r.decision.proposal_id for r in page] == ["p2", "p1", "p0"]
    gamma = repo.decisions(agent="gamma-agent")
    assert [r.decision.proposal_id for r in gamma] == ["p4", "p2", "p0"]
    rejected = repo.decisions(outcome=DecisionOutcome.REJECTED)
    assert [r.decision.proposal_id for r in rejected] == ["p4"]
    assert [r.decision.proposal_id for r in repo.decisions(cycle_id="SPX-3")] == ["p3"]
    assert len(repo.decisions(since=T0 + timedelta(seconds=3))) == 2
    assert [c.cycle_id for c in repo.cycles(limit=2)] == ["SPX-4", "SPX-3"]
    with pytest.raises(ValueError, match="limit"):
        repo.decisions(limit=0)


def test_given_decisions_then_spending_sums_from_the_start_of_the_span(repo) -> None:
    repo.record_cycle(cycle("SPX-1"), [record(proposal("p1", "SPX-1"), premium=100.0)])
    repo.record_cycle(
        cycle("SPX-2", seconds=60),
        [record(proposal("p2", "SPX-2"), premium=50.0, removed=0.25, s=60)],
    )
    repo.record_cycle(
        cycle("SPX-3", seconds=61),
        [record(proposal("p3", "SPX-3", agent="vega-agent"), premium=7.0, removed=0.5, s=61)],
    )
    spending = repo.spending_since(T0 + timedelta(seconds=60))
    assert spending["gamma-agent"].premium == pytest.approx(50.0)
    assert spending["gamma-agent"].risk_removed == pytest.approx(0.25)
    assert spending["vega-agent"].premium == pytest.approx(7.0)
    assert repo.spending_since(T0 + timedelta(days=1)) == {}


def test_given_orders_filled_then_the_days_cost_is_their_unit_cost_times_the_fills(
    repo, sessions
) -> None:
    early = make_order("SPX-1", SPX, quantity=100, epoch=9, ts=T0)
    late = make_order("SPX-2", CALL, quantity=10, epoch=9, ts=T0 + timedelta(seconds=60))
    unfilled = make_order("SPX-2", SPX, quantity=50, epoch=9, ts=T0 + timedelta(seconds=60))
    repo.record_cycle(cycle("SPX-1"), [], [early], unit_costs={early.client_order_id: 1.0})
    costs = {late.client_order_id: 30.0, unfilled.client_order_id: 1.0}
    repo.record_cycle(cycle("SPX-2", seconds=60), [], [late, unfilled], unit_costs=costs)
    execution = ExecutionRepository(sessions)
    for order, filled in ((early, 100), (late, 4), (unfilled, 0)):
        execution.insert_order(order)
        execution.record_report(report(order, 1, ExecStatus.ACCEPTED))
        if filled:
            status = ExecStatus.FILLED if filled == order.quantity else ExecStatus.PARTIALLY_FILLED
            execution.record_report(
                report(order, 2, status, filled, last=filled, price=50.0, avg=50.0)
            )
    assert repo.cost_since(T0) == {"SPX": pytest.approx(100 * 1.0 + 4 * 30.0)}
    assert repo.cost_since(T0 + timedelta(seconds=60)) == {"SPX": pytest.approx(4 * 30.0)}


def period(agent: str, hour: int, next_allocation: float) -> BudgetPeriod:
    start = T0 + timedelta(hours=hour)
    return BudgetPeriod(
        agent=agent,
        period_start=start,
        period_end=start + timedelta(hours=1),
        allocated=1e6,
        spent=4e5,
        risk_removed=0.8,
        efficiency=2.0,
        floor=2e5,
        next_allocation=next_allocation,
        reason="toward the better agent",
        recorded_at=start + timedelta(hours=1),
    )


def test_given_budget_periods_then_history_and_latest_allocation_per_agent(repo) -> None:
    assert repo.record_budget_periods(
        [period("gamma-agent", 0, 1.1e6), period("vega-agent", 0, 9e5)]
    )
    assert repo.record_budget_periods([period("gamma-agent", 1, 1.2e6)]) == 1
    assert repo.record_budget_periods([period("gamma-agent", 1, 5.0)]) == 0  # a repeat
    history = repo.budget_history(agent="gamma-agent")
    assert [p.next_allocation for p in history] == [1.2e6, 1.1e6]
    latest = repo.latest_budget_periods()
    assert latest["gamma-agent"].next_allocation == 1.2e6
    assert latest["vega-agent"].next_allocation == 9e5
    assert latest["gamma-agent"].period_start.tzinfo is not None
    assert len(repo.budget_history(limit=10)) == 3


def test_given_a_cycle_published_before_it_is_stored_then_nothing_waits_in_the_outbox(
    repo,
) -> None:
    at = T0 + timedelta(seconds=2)
    order = make_order("SPX-1", SPX, epoch=9)
    assert repo.record_cycle(cycle(), [record(proposal("p1"))], [order], published_at=at)
    assert repo.unpublished_decisions() == []
    assert repo.unpublished_orders() == []
    stored = repo.decision_for("p1")
    assert stored is not None and stored.published_at == at
