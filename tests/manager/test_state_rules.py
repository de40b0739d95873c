"""The manager's small rules: gathering cycles, orders in flight, trading state, limit changes."""

from __future__ import annotations

import pytest
from manager_examples import CALL_7, SPX, T0, proposal, report, snapshot
from pydantic import ValidationError

from hedgemesh.manager.domain.gather import Gatherer
from hedgemesh.manager.domain.inflight import InFlight
from hedgemesh.manager.domain.limits import (
    DeskLimits,
    FallbackLimits,
    fallback_limits,
    firm_factors,
    updated,
)
from hedgemesh.manager.domain.trading import STATE_OF_ACTION, auto_state
from hedgemesh.wire import (
    ControlAction,
    ExecStatus,
    MarketableLimit,
    Order,
    OrderType,
    RiskLimits,
    Side,
    TimeInForce,
    TradingState,
    TradingStatus,
    client_order_id,
)

# -- gathering -------------------------------------------------------------------------------


def test_given_proposals_of_one_cycle_then_they_gather_until_every_live_agent_proposed():
    g = Gatherer(window_s=0.05)
    first = proposal([(CALL_7, 1)], agent="gamma-agent", cycle="SPX-7")
    cycle = g.add(first, now=10.0)
    assert not g.complete(cycle, {"gamma-agent", "vega-agent"})
    assert g.complete(cycle, {"gamma-agent"})  # the vega slice is down: no need to wait
    g.add(proposal([(CALL_7, 1)], agent="vega-agent", cycle="SPX-7"), now=10.01)
    assert g.complete(cycle, {"gamma-agent", "vega-agent"})
    assert len(cycle.proposals) == 2 and g.seen(first.id)


def test_given_a_window_then_cycles_fall_due_after_it_oldest_first():
    g = Gatherer(window_s=0.05)
    g.add(proposal([(CALL_7, 1)], cycle="SPX-2"), now=1.01)
    g.add(proposal([(CALL_7, 1)], cycle="SPX-1"), now=1.00)
    assert g.due(1.04) == []
    assert [c.cycle_id for c in g.due(1.06)] == ["SPX-1", "SPX-2"]


def test_given_a_decided_cycle_then_it_is_closed_and_no_delta_cycle_reopens_it():
    g = Gatherer(window_s=0.05, kept=16)
    g.add(proposal([(CALL_7, 1)], cycle="SPX-1"), now=0.0)
    assert g.close("SPX-1") is not None
    assert g.is_closed("SPX-1")
    assert g.open_for_delta("SPX-1", "SPX", 1.0) is None
    delta = g.open_for_delta("SPX-2", "SPX", 1.0)
    assert delta is not None and delta.trigger == "delta_band"


def test_given_old_open_cycles_then_a_standby_forgets_them():
    g = Gatherer(window_s=0.05)
    g.add(proposal([(CALL_7, 1)], cycle="SPX-1"), now=0.0)
    g.add(proposal([(CALL_7, 1)], cycle="SPX-2"), now=50.0)
    assert [c.cycle_id for c in g.forget_older_than(30.0)] == ["SPX-1"]
    assert list(g.open) == ["SPX-2"]


# -- orders in flight ------------------------------------------------------------------------


def order(quantity: int = 10, attempt: int = 0) -> Order:
    coid = client_order_id("SPX-1", SPX, attempt)
    return Order(
        id=f"o-{coid}",
        client_order_id=coid,
        instrument=SPX,
        side=Side.BUY,
        quantity=quantity,
        order_type=OrderType.LIMIT,
        limit_price=5100.0,
        time_in_force=TimeInForce.IOC,
        algo=MarketableLimit(),
        cycle_id="SPX-1",
        epoch=1,
        decision_ids=["d"],
    )


def booked(cause: str, seq: int = 2):
    return snapshot([(SPX, 6)], seq=seq).model_copy(update={"causation_id": cause})


def test_given_an_order_then_its_quantity_is_in_flight_until_booked():
    f = InFlight()
    o = order(10)
    f.on_order(o, 0.0)
    f.on_order(o, 0.0)  # seen twice (its own publish, then the subject): once
    assert f.pending("SPX")[SPX.symbol][1] == 10
    f.on_report(report(o, "r1", ExecStatus.PARTIALLY_FILLED, 6, 6), 1.0)
    assert f.pending("SPX")[SPX.symbol][1] == 10  # 4 working + 6 filled, not booked
    f.on_report(report(o, "r2", ExecStatus.CANCELLED, 6, None), 1.0)
    assert f.pending("SPX")[SPX.symbol][1] == 6
    f.on_snapshot(booked("r1"))
    assert f.pending("SPX") == {}


def test_given_the_snapshot_before_the_report_then_the_fill_is_not_counted_twice():
    f = InFlight()
    o = order(10)
    f.on_order(o, 0.0)
    f.on_snapshot(booked("r1"))  # the ledger was faster than our subscription
    f.on_report(report(o, "r1", ExecStatus.FILLED, 10, 10), 1.0)
    assert f.pending("SPX") == {}


def test_given_an_order_never_reported_then_it_expires():
    f = InFlight(timeout_s=5.0)
    f.on_order(order(10), 0.0)
    assert f.expire(4.0) == []
    assert f.expire(6.0) == [order(10).client_order_id]
    assert f.pending("SPX") == {}
    assert f.working_orders() == 0


# -- trading state ---------------------------------------------------------------------------


def status(state: TradingState, by: str = "ann", reason: str = "") -> TradingStatus:
    return TradingStatus(state=state, changed_by=by, reason=reason)


def test_given_control_actions_then_each_maps_to_its_state():
    assert STATE_OF_ACTION == {
        ControlAction.HALT: TradingState.HALTED,
        ControlAction.RESUME: TradingState.ACTIVE,
        ControlAction.REDUCE: TradingState.REDUCING,
    }


def test_given_a_slice_down_then_active_goes_reducing_and_back_when_it_returns():
    down = auto_state(status(TradingState.ACTIVE), {"vega-agent"}, "mgr-1")
    assert down is not None and down.state is TradingState.REDUCING
    assert "vega-agent" in down.reason and down.changed_by == "mgr-1"
    assert auto_state(down, {"vega-agent"}, "mgr-1") is None  # nothing new
    up = auto_state(down, set(), "mgr-1")
    assert up is not None and up.state is TradingState.ACTIVE


def test_given_a_predecessors_own_reducing_then_the_new_leader_undoes_it():
    down = auto_state(status(TradingState.ACTIVE), {"vega-agent"}, "mgr-1")
    assert down is not None
    up = auto_state(down, set(), "mgr-2")  # mgr-1 died while REDUCING; mgr-2 leads now
    assert up is not None and up.state is TradingState.ACTIVE and up.changed_by == "mgr-2"


def test_given_an_operators_state_then_the_manager_never_overrides_it():
    assert auto_state(status(TradingState.HALTED), {"vega-agent"}, "mgr-1") is None
    assert auto_state(status(TradingState.HALTED), set(), "mgr-1") is None
    by_hand = status(TradingState.REDUCING, reason="drawdown")
    assert auto_state(by_hand, set(), "mgr-1") is None


# -- limits ----------------------------------------------------------------------------------


def risk_limits(**changes) -> RiskLimits:
    from manager_examples import limits

    return limits(**changes)


def test_given_a_partial_change_then_only_those_fields_move_and_the_cause_is_kept():
    new = updated(risk_limits(), {"max_abs_gamma": 25.0}, changed_by="ann", causation_id="c1")
    assert new.max_abs_gamma == 25.0
    assert new.max_abs_delta == risk_limits().max_abs_delta
    assert (new.changed_by, new.causation_id) == ("ann", "c1")


@pytest.mark.parametrize("changes", [{"max_gamma": 1.0}, {"underlying": "NDX"}, {}])
def test_given_an_unknown_fixed_or_empty_change_then_it_is_refused(changes):
    with pytest.raises(ValueError, match=r"cannot set|no limit"):
        updated(risk_limits(), changes, changed_by="ann", causation_id="c1")


def test_given_a_bad_value_then_the_model_refuses_it_naming_the_field():
    with pytest.raises(ValidationError, match="price_collar"):
        updated(risk_limits(), {"price_collar": 3.0}, changed_by="ann", causation_id="c1")


def test_given_revisions_then_only_newer_values_replace_held_ones():
    desk = DeskLimits()
    assert desk.set("SPX", risk_limits(max_abs_gamma=10.0), 5)
    assert not desk.set("SPX", risk_limits(max_abs_gamma=99.0), 4)
    assert desk.get("SPX").max_abs_gamma == 10.0
    assert desk.vector("SPX", 0.5, 5000.0).tolist() == [500.0, 10.0, 100_000.0]
    assert desk.status()["revision"] == 5


def test_given_a_dollar_gamma_limit_then_the_tighter_of_the_two_binds_at_spot():
    desk = DeskLimits()
    # $2M per 1 % at 5000 is gamma 8: tighter than 10; at 4000 it is 12.5, and 10 binds.
    desk.set("SPX", risk_limits(max_abs_gamma=10.0, max_abs_dollar_gamma_per_pct=2e6), 1)
    assert desk.vector("SPX", 0.5, 5000.0).tolist() == [500.0, 8.0, 100_000.0]
    assert desk.vector("SPX", 0.5, 4000.0).tolist() == [500.0, 10.0, 100_000.0]


def test_given_an_underlying_without_limits_then_fallbacks_scale_with_its_spot():
    fallback = FallbackLimits(5e6, 1e7, 1e5, 2.5e7, 5000, 2.5e5, 0.05, 30.0)
    lim = fallback_limits("NDX", 20_000.0, fallback, "manager-fallback")
    assert lim.max_abs_delta == pytest.approx(250.0)  # $5M / 20,000
    assert lim.max_abs_gamma == pytest.approx(1e7 * 100 / 20_000.0**2)
    dollar_gamma = lim.max_abs_gamma * firm_factors(20_000.0)[1]
    assert dollar_gamma == pytest.approx(1e7)
    with pytest.raises(ValueError, match="spot"):
        fallback_limits("NDX", 0.0, fallback, "x")
    assert T0.tzinfo is not None
