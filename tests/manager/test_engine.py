"""The decision engine on a real book (BookState on a simulated market), without NATS."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from manager_examples import (
    CALL_7,
    CALL_30,
    PUT_7,
    SPX,
    T0,
    book,
    cycle,
    engine,
    firm,
    limits,
    option,
    proposal,
    snapshot,
)
from manager_examples import report as report_on

from hedgemesh.manager.domain.engine import decision_id
from hedgemesh.market.book_state import BookState
from hedgemesh.wire import (
    DecisionOutcome,
    ExecStatus,
    OrderType,
    ReasonCode,
    Side,
    TimeInForce,
    TradingState,
    TradingStatus,
    client_order_id,
)

NOW = T0 + timedelta(seconds=1)
SHORT_STRADDLE = [(CALL_7, -300), (PUT_7, -300)]


def outcomes(result):
    return [(d.decision.outcome, d.decision.reason_code) for d in result.decisions]


def greeks_after(result):
    after = result.cycle.greeks_after
    return after["delta"], after["gamma"], after["vega_per_vol_point"]


def test_given_a_cycle_then_every_proposal_gets_exactly_one_decision():
    e = engine(book(SHORT_STRADDLE))
    proposals = [
        proposal([(CALL_7, 50)]),
        proposal([(PUT_7, 40)], agent="vega-agent"),
        proposal([(CALL_30, 20)], agent="vega-agent", epoch=1),
        proposal([(CALL_7, 10, 1.0)]),  # a limit price far outside the collar
    ]
    result = e.decide(cycle(*proposals), NOW, epoch=3)
    assert sorted(d.decision.proposal_id for d in result.decisions) == sorted(
        p.id for p in proposals
    )
    assert all(d.decision.epoch == 3 for d in result.decisions)
    assert all(d.decision.id == decision_id(d.decision.proposal_id) for d in result.decisions)
    assert result.cycle.proposals == len(proposals)


def test_given_a_short_gamma_book_when_an_agent_buys_gamma_then_approved_and_routed():
    e = engine(book(SHORT_STRADDLE))
    p = proposal([(CALL_7, 100), (PUT_7, 100)])
    result = e.decide(cycle(p), NOW, epoch=7)
    assert outcomes(result) == [(DecisionOutcome.APPROVED, None)]
    by_symbol = {o.instrument.symbol: o for o in result.orders}
    assert by_symbol[CALL_7.symbol].quantity == 100
    assert by_symbol[CALL_7.symbol].side is Side.BUY
    order = by_symbol[PUT_7.symbol]
    assert order.client_order_id == client_order_id("SPX-1", PUT_7)
    assert order.epoch == 7
    assert order.order_type is OrderType.LIMIT and order.time_in_force is TimeInForce.IOC
    assert order.decision_ids == [decision_id(p.id)]
    before, after = result.cycle.greeks_before, result.cycle.greeks_after
    assert abs(after["gamma"]) < abs(before["gamma"])


def test_given_any_cycle_then_the_residual_delta_is_closed_by_the_underlying():
    state = book([(CALL_7, -300)])  # short calls: delta about −15,000
    e = engine(state)
    result = e.decide(cycle(proposal([(CALL_30, 50)])), NOW, epoch=1)
    delta, _, _ = greeks_after(result)
    assert abs(delta) <= 0.5 + 1e-9  # rehedged to flat, in whole units
    spot_orders = [o for o in result.orders if o.instrument == SPX]
    assert spot_orders and all(o.side is Side.BUY for o in spot_orders)
    assert all(o.quantity <= limits().max_order_quantity for o in spot_orders)
    attempts = {client_order_id("SPX-1", SPX, a) for a in range(len(spot_orders))}
    assert {o.client_order_id for o in spot_orders} == attempts


def test_given_the_rehedge_target_at_the_band_edge_then_delta_stops_at_the_edge():
    e = engine(book([(CALL_7, -30)]), delta_rehedge_to=1.0)
    result = e.decide(cycle(delta_check=True), NOW, epoch=1)
    delta, _, _ = greeks_after(result)
    band = limits().max_abs_delta * 0.5
    assert band - 0.5 <= abs(delta) <= band + 0.5


def test_given_no_proposal_and_delta_inside_the_band_then_nothing_is_routed():
    e = engine(book([(CALL_7, -1)]))  # about −52 of delta, band 500
    result = e.decide(cycle(delta_check=True), NOW, epoch=1)
    assert result.orders == [] and result.decisions == []


def test_given_the_managers_own_delta_cycle_then_its_order_cites_the_cycle():
    e = engine(book([(CALL_7, -30)]))
    assert e.needs_delta_hedge("SPX", NOW)
    result = e.decide(cycle(delta_check=True), NOW, epoch=1)
    assert [o.instrument for o in result.orders] == [SPX]
    assert result.orders[0].decision_ids == ["SPX-1:delta"]
    assert result.cycle.trigger == "delta_band"


def test_given_halted_then_every_proposal_is_rejected_and_nothing_routed():
    e = engine(book(SHORT_STRADDLE))
    e.trading = TradingStatus(state=TradingState.HALTED, reason="ops", changed_by="ann")
    result = e.decide(cycle(proposal([(CALL_7, 10)]), delta_check=True), NOW, epoch=1)
    assert outcomes(result) == [(DecisionOutcome.REJECTED, ReasonCode.TRADING_HALTED)]
    assert result.orders == []
    assert not e.needs_delta_hedge("SPX", NOW)


WIDE = {"max_abs_gamma": 1000.0, "max_abs_vega_per_vol_point": 1e6}


def test_given_reducing_then_only_what_reduces_every_greek_is_routed():
    e = engine(book(SHORT_STRADDLE), limits(**WIDE))
    e.trading = TradingStatus(state=TradingState.REDUCING, changed_by="ann")
    reduces = proposal([(CALL_7, 50), (PUT_7, 50)])
    adds = proposal([(CALL_7, -50), (PUT_7, -50)], agent="vega-agent")
    result = e.decide(cycle(reduces, adds), NOW, epoch=1)
    by_agent = {d.decision.agent: d.decision for d in result.decisions}
    assert by_agent["gamma-agent"].outcome is DecisionOutcome.APPROVED
    assert by_agent["vega-agent"].outcome is DecisionOutcome.REJECTED
    assert by_agent["vega-agent"].reason_code is ReasonCode.TRADING_REDUCING
    before, after = result.cycle.greeks_before, result.cycle.greeks_after
    for greek in before:
        assert abs(after[greek]) <= abs(before[greek]) + 1e-6


def test_given_active_then_a_risk_adding_proposal_alone_is_not_taken():
    e = engine(book(SHORT_STRADDLE), limits(**WIDE))
    result = e.decide(cycle(proposal([(CALL_7, -50)])), NOW, epoch=1)
    assert outcomes(result) == [(DecisionOutcome.REJECTED, ReasonCode.RISK_NOT_REDUCED)]


def test_given_a_stale_tick_then_nothing_is_routed():
    e = engine(book(SHORT_STRADDLE), limits(max_tick_age_s=5.0))
    late = T0 + timedelta(seconds=6)
    result = e.decide(cycle(proposal([(CALL_7, 10)]), delta_check=True), late, epoch=1)
    assert outcomes(result) == [(DecisionOutcome.REJECTED, ReasonCode.STALE_MARKET_DATA)]
    assert result.orders == []
    assert not e.needs_delta_hedge("SPX", late)


def test_given_no_position_snapshot_then_stale_positions():
    state = BookState()
    source = book()
    surface, tick = source.surface("SPX"), source.tick("SPX")
    assert surface is not None and tick is not None
    state.apply(surface)
    state.apply(tick)
    result = engine(state).decide(cycle(proposal([(CALL_7, 10)])), NOW, epoch=1)
    assert outcomes(result) == [(DecisionOutcome.REJECTED, ReasonCode.STALE_POSITIONS)]


def test_given_a_leg_limit_outside_the_collar_then_price_collar():
    e = engine(book(SHORT_STRADDLE))
    fair = float(e.book.fair_values([CALL_7])[0])
    inside = proposal([(CALL_7, 10, round(fair * 1.04, 2))])
    outside = proposal([(PUT_7, 10, 1.0)], agent="vega-agent")
    result = e.decide(cycle(inside, outside), NOW, epoch=1)
    verdicts = {d.decision.proposal_id: d.decision for d in result.decisions}
    assert verdicts[inside.id].outcome is DecisionOutcome.APPROVED
    assert verdicts[outside.id].reason_code is ReasonCode.PRICE_COLLAR


def test_given_orders_then_every_limit_price_lies_within_the_collar_of_fair_value():
    e = engine(book(SHORT_STRADDLE), limits(price_collar=0.02))
    result = e.decide(cycle(proposal([(CALL_7, 100), (PUT_7, 100)])), NOW, epoch=1)
    assert result.orders
    for order in result.orders:
        fair = float(e.book.fair_values([order.instrument])[0])
        assert order.limit_price is not None
        assert abs(order.limit_price / fair - 1) <= 0.02
        crosses = order.limit_price > fair if order.side is Side.BUY else order.limit_price < fair
        assert crosses  # marketable


def test_given_an_expired_leg_then_instrument_expired():
    expired = option(7, 5000).model_copy(update={"expiry": T0 - timedelta(days=1)})
    e = engine(book(SHORT_STRADDLE))
    result = e.decide(cycle(proposal([(expired, 10)])), NOW, epoch=1)
    assert outcomes(result) == [(DecisionOutcome.REJECTED, ReasonCode.INSTRUMENT_EXPIRED)]


def test_given_an_older_agent_epoch_then_stale_epoch():
    e = engine(book(SHORT_STRADDLE))
    e.decide(cycle(proposal([(CALL_7, 10)], epoch=5)), NOW, epoch=1)
    result = e.decide(cycle(proposal([(CALL_7, 10)], epoch=4), cycle_id="SPX-2"), NOW, epoch=1)
    assert outcomes(result) == [(DecisionOutcome.REJECTED, ReasonCode.STALE_EPOCH)]


def test_given_a_quantity_limit_then_orders_are_split_and_the_cycle_capped():
    e = engine(book([(CALL_7, -2000)]), limits(max_order_quantity=100), max_orders_per_instrument=3)
    result = e.decide(cycle(proposal([(CALL_7, 500)])), NOW, epoch=1)
    (d,) = result.decisions
    assert d.decision.outcome is DecisionOutcome.SCALED
    assert d.decision.reason_code is ReasonCode.QUANTITY_EXCEEDS_MAXIMUM
    calls = [o for o in result.orders if o.instrument == CALL_7]
    assert sorted(o.quantity for o in calls) == [100, 100, 100]
    assert len({o.client_order_id for o in calls}) == 3


def test_given_an_order_notional_limit_then_notional_exceeds_maximum():
    e = engine(book([(CALL_7, -2000)]), limits(max_order_notional=50_000.0))
    per_contract = float(e.book.fair_values([CALL_7])[0]) * 100
    result = e.decide(cycle(proposal([(CALL_7, 500)])), NOW, epoch=1)
    (d,) = result.decisions
    assert d.decision.reason_code is ReasonCode.NOTIONAL_EXCEEDS_MAXIMUM
    for order in result.orders:
        fair = float(e.book.fair_values([order.instrument])[0])
        assert order.quantity * fair * order.instrument.multiplier <= 50_000.0
    assert per_contract > 0


@pytest.mark.parametrize(
    ("greek", "changes"),
    [
        ("gamma", {"max_abs_gamma": 20.0}),
        ("vega_per_vol_point", {"max_abs_vega_per_vol_point": 10_000.0}),
    ],
)
def test_given_an_underlying_limit_then_a_proposal_breaching_it_is_scaled(greek, changes):
    # A long-gamma, long-vega book; the agent sells options that would flip it past the limit.
    e = engine(book([(CALL_7, 100), (PUT_7, 100)]), limits(**changes))
    result = e.decide(cycle(proposal([(CALL_7, -400), (PUT_7, -400)])), NOW, epoch=1)
    (d,) = result.decisions
    assert d.decision.outcome in (DecisionOutcome.SCALED, DecisionOutcome.REJECTED)
    assert abs(result.cycle.greeks_after[greek]) <= getattr(limits(**changes), _limit(greek)) * 1.02


def _limit(greek: str) -> str:
    return {"gamma": "max_abs_gamma", "vega_per_vol_point": "max_abs_vega_per_vol_point"}[greek]


def test_given_a_delta_limit_the_underlying_cannot_meet_then_delta_limit():
    tight = limits(max_order_quantity=100, max_abs_delta=200.0)
    e = engine(book([(CALL_7, -50), (PUT_7, -50)]), tight, max_orders_per_instrument=1)
    result = e.decide(cycle(proposal([(CALL_7, 50)])), NOW, epoch=1)  # +2,600 delta
    (d,) = result.decisions
    assert d.decision.reason_code is ReasonCode.DELTA_LIMIT
    assert abs(result.cycle.greeks_after["delta"]) <= 100.0 + 60.0  # band, within a contract


def test_given_firm_limits_then_the_firm_vega_bounds_the_cycle():
    e = engine(book(), firm_limits=firm(max_abs_vega_per_vol_point=20_000.0))
    result = e.decide(cycle(proposal([(CALL_30, 100)], agent="vega-agent")), NOW, epoch=1)
    (d,) = result.decisions
    assert d.decision.reason_code in (ReasonCode.VEGA_LIMIT, ReasonCode.RISK_NOT_REDUCED)
    assert abs(result.cycle.greeks_after["vega_per_vol_point"]) <= 20_000.0 + 600.0


def test_given_a_firm_gross_notional_cap_then_the_cycle_stays_under_it():
    e = engine(book(SHORT_STRADDLE), firm_limits=firm(max_gross_notional_per_cycle=500_000.0))
    result = e.decide(cycle(proposal([(CALL_7, 200), (PUT_7, 200)])), NOW, epoch=1)
    (d,) = result.decisions
    assert d.decision.reason_code is ReasonCode.NOTIONAL_EXCEEDS_MAXIMUM
    assert result.cycle.gross_notional <= 500_000.0 * 1.01


def test_given_a_budget_then_proposals_are_scaled_to_it_and_charged():
    e = engine(book(SHORT_STRADDLE), budgets={"gamma-agent": 100_000.0, "vega-agent": 1e9})
    p = proposal([(CALL_7, 100)])
    premium = 100 * float(e.book.fair_values([CALL_7])[0]) * 100
    result = e.decide(cycle(p), NOW, epoch=1)
    (d,) = result.decisions
    assert d.decision.outcome is DecisionOutcome.SCALED
    assert d.decision.reason_code is ReasonCode.BUDGET_EXHAUSTED
    assert d.decision.scale_factor == pytest.approx(100_000.0 / premium, rel=1e-4)
    assert d.premium == pytest.approx(100_000.0, rel=1e-4)
    assert e.budgets.left("gamma-agent") == pytest.approx(0.0, abs=1.0)
    again = e.decide(cycle(proposal([(CALL_7, 10)]), cycle_id="SPX-2"), NOW, epoch=1)
    assert outcomes(again) == [(DecisionOutcome.REJECTED, ReasonCode.BUDGET_EXHAUSTED)]


def test_given_an_agent_without_a_budget_then_budget_exhausted():
    e = engine(book(SHORT_STRADDLE), budgets={"gamma-agent": 1e9})
    result = e.decide(cycle(proposal([(CALL_30, 10)], agent="rogue-agent")), NOW, epoch=1)
    assert outcomes(result) == [(DecisionOutcome.REJECTED, ReasonCode.BUDGET_EXHAUSTED)]


def test_given_the_days_cost_budget_spent_by_fills_then_nothing_more_is_routed():
    e = engine(book(SHORT_STRADDLE), limits(daily_cost_budget=1000.0))
    first = e.decide(cycle(proposal([(CALL_7, 100), (PUT_7, 100)])), NOW, epoch=1)
    assert first.cycle.expected_cost <= 1000.0 + 1e-6
    assert e.cost_today.get("SPX", 0.0) == 0.0  # routed, not filled: nothing spent yet
    for order in first.orders:
        e.charge_fill(order.client_order_id, order.quantity, NOW)
    assert e.cost_today["SPX"] == pytest.approx(first.cycle.expected_cost)
    second = e.decide(cycle(proposal([(CALL_7, 100)]), cycle_id="SPX-2"), NOW, epoch=1)
    assert second.decisions[0].decision.outcome is not DecisionOutcome.APPROVED


def test_given_orders_that_do_not_fill_then_they_cost_nothing():
    e = engine(book(SHORT_STRADDLE), limits(daily_cost_budget=1000.0))
    first = e.decide(cycle(proposal([(CALL_7, 100), (PUT_7, 100)])), NOW, epoch=1)
    assert set(first.unit_costs) == {o.client_order_id for o in first.orders}
    e.charge_fill("someone-elses-order", 10, NOW)
    second = e.decide(cycle(proposal([(CALL_7, 10)]), cycle_id="SPX-2"), NOW, epoch=1)
    assert second.decisions[0].decision.outcome is DecisionOutcome.APPROVED


def test_given_the_same_cycle_decided_twice_then_the_client_order_ids_are_the_same():
    proposals = [
        proposal([(CALL_7, 100), (PUT_7, 80)]),
        proposal([(CALL_30, 30)], agent="vega-agent"),
    ]
    first = engine(book(SHORT_STRADDLE)).decide(cycle(*proposals), NOW, epoch=4)
    second = engine(book(SHORT_STRADDLE)).decide(cycle(*proposals), NOW, epoch=5)
    assert [o.client_order_id for o in first.orders] == [o.client_order_id for o in second.orders]
    assert [o.quantity for o in first.orders] == [o.quantity for o in second.orders]
    assert {o.epoch for o in second.orders} == {5}


def test_given_orders_in_flight_then_the_next_cycle_does_not_hedge_them_again():
    e = engine(book([(CALL_7, -30)]))
    first = e.decide(cycle(delta_check=True), NOW, epoch=1)
    assert first.orders
    for order in first.orders:
        e.inflight.on_order(order, NOW.timestamp())
    assert not e.needs_delta_hedge("SPX", NOW)
    second = e.decide(cycle(delta_check=True, cycle_id="SPX-2"), NOW, epoch=1)
    assert second.orders == []
    # The orders fill and the ledger books them: the book is hedged without the overlay too.
    order = first.orders[0]
    report = report_on(order, "r1", ExecStatus.FILLED, order.quantity, order.quantity)
    e.inflight.on_report(report, NOW.timestamp())
    assert not e.needs_delta_hedge("SPX", NOW)
    booked = snapshot([(CALL_7, -30), (SPX, order.signed_quantity)], seq=2)
    e.book.apply(booked.model_copy(update={"causation_id": "r1"}))
    e.inflight.on_snapshot(booked.model_copy(update={"causation_id": "r1"}))
    assert e.inflight.pending("SPX") == {}
    assert not e.needs_delta_hedge("SPX", NOW)


@pytest.mark.parametrize("filled", [True, False], ids=["filled", "cancelled"])
def test_given_a_working_order_that_may_not_fill_then_delta_waits_for_its_report(filled):
    e = engine(book([(CALL_7, -30)]))  # delta about −1,560, band 500
    (buy,) = e.decide(cycle(delta_check=True), NOW, epoch=1).orders
    e.inflight.on_order(buy, NOW.timestamp())
    # A client then sells the desk calls' worth of delta back: counting the working buy as
    # filled the book is long 1,300 (above the band), without it short 260 (inside).
    e.book.apply(snapshot([(CALL_7, -30), (SPX, 1300)], seq=2))
    assert not e.needs_delta_hedge("SPX", NOW)
    assert e.decide(cycle(delta_check=True, cycle_id="SPX-2"), NOW, epoch=1).orders == []

    end = ExecStatus.FILLED if filled else ExecStatus.CANCELLED
    last = buy.quantity if filled else None
    report = report_on(buy, "r1", end, last or 0, last)
    e.inflight.on_report(report, NOW.timestamp())
    assert e.needs_delta_hedge("SPX", NOW) is filled
    third = e.decide(cycle(delta_check=True, cycle_id="SPX-3"), NOW, epoch=1)
    if filled:  # now certain: the long delta is sold, once
        (sell,) = third.orders
        assert sell.side is Side.SELL and abs(sell.quantity - 1300) <= 1
    else:
        assert third.orders == []


def test_given_a_working_order_then_only_the_certain_part_of_the_residual_is_hedged():
    e = engine(book([(CALL_7, -30)]))  # delta about −1,560, band 500
    (buy,) = e.decide(cycle(delta_check=True), NOW, epoch=1).orders
    e.inflight.on_order(buy, NOW.timestamp())
    e.book.apply(snapshot([(CALL_7, -60)], seq=2))  # another −1,560 arrives meanwhile
    (more,) = e.decide(cycle(delta_check=True, cycle_id="SPX-2"), NOW, epoch=1).orders
    assert more.side is Side.BUY and abs(more.quantity - buy.quantity) <= 1
    e.inflight.on_order(more, NOW.timestamp())
    e.inflight.on_report(report_on(buy, "r1", ExecStatus.CANCELLED, 0, None), NOW.timestamp())
    (again,) = e.decide(cycle(delta_check=True, cycle_id="SPX-3"), NOW, epoch=1).orders
    assert again.side is Side.BUY and abs(again.quantity - buy.quantity) <= 1


def test_given_a_decision_then_risk_removed_is_measured_in_limits():
    e = engine(book(SHORT_STRADDLE))
    result = e.decide(cycle(proposal([(CALL_7, 100), (PUT_7, 100)])), NOW, epoch=1)
    (d,) = result.decisions
    before = np.array([result.cycle.greeks_before[g] for g in ("gamma", "vega_per_vol_point")])
    after_legs = d.risk_removed
    assert after_legs > 0
    assert d.risk_removed <= float(np.sum(np.abs(before) / [50.0, 100_000.0]))


def test_given_a_failed_decision_then_every_proposal_is_still_answered():
    e = engine(book(SHORT_STRADDLE))
    proposals = [proposal([(CALL_7, 10)]), proposal([(PUT_7, 5)], agent="vega-agent")]
    result = e.refuse(cycle(*proposals), "deciding failed: boom", NOW, epoch=2)
    assert [d.decision.reason_code for d in result.decisions] == [ReasonCode.INVALID_REQUEST] * 2
    assert result.orders == [] and result.cycle.solver == {"error": "deciding failed: boom"}


def test_given_a_bucket_over_its_vega_limit_then_a_proposal_fixing_it_is_taken():
    # Long 30-day calls, short 7-day calls: total vega near flat, the 30-90 day bucket over
    # its limit (100,000). Moving vega back into the 0-30 day bucket is approved.
    e = engine(book([(CALL_30, 200), (CALL_7, -400)]), limits(max_abs_gamma=1e4))
    before = e.greeks(NOW)["SPX"]
    names = e.greek_names()
    bucket = names.index("vega_30-90d")
    assert before[bucket] > 100_000 and abs(before[2]) < 0.1 * before[bucket]
    p = proposal([(CALL_30, -40), (CALL_7, 80)], agent="vega-agent")
    result = e.decide(cycle(p), NOW, epoch=1)
    assert outcomes(result) == [(DecisionOutcome.APPROVED, None)]
    assert abs(result.cycle.greeks_after["vega_30-90d"]) <= 100_000.0
    assert set(result.cycle.greeks_after) == set(names)


def test_given_a_proposal_pushing_a_bucket_past_its_limit_then_vega_limit():
    e = engine(book([(CALL_7, -200)]), limits(max_abs_gamma=1e4), bucket_vega_limit_fraction=0.5)
    # Short 7-day calls (vega about −56,000 in 0-30 days); buying 30-day calls would flatten
    # total vega but push the 30-90 day bucket past its 50,000 limit.
    result = e.decide(cycle(proposal([(CALL_30, 150)], agent="vega-agent")), NOW, epoch=1)
    (d,) = result.decisions
    assert d.decision.outcome is DecisionOutcome.SCALED
    assert d.decision.reason_code is ReasonCode.VEGA_LIMIT
    assert abs(result.cycle.greeks_after["vega_30-90d"]) <= 50_000.0 + 600.0
