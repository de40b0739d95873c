"""Pre-trade controls at the gateway, on the engine without I/O: a test per control, each
refusal with its reason code and counted; and the algorithms' bound of children by their
parent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from exec_examples import CALL, SPOT, order, surface, tick
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.execution.config import ExecutionSettings
from hedgemesh.execution.domain.engine import Engine
from hedgemesh.runtime.clock import EPOCH
from hedgemesh.venue.algos import ChildExceedsParent, ParentOrder, PlaceChild, make_algo
from hedgemesh.venue.book import SELL, Fill
from hedgemesh.wire import ExecStatus, Iceberg, ReasonCode, Side, TimeInForce, Twap
from hedgemesh.wire.ops import ControlAction

T0 = EPOCH.timestamp()


def engine(**settings) -> Engine:
    e = Engine(ExecutionSettings(**settings).engine_params())
    e.on_tick(tick(), T0)
    e.on_surface(surface(), T0)
    return e


def statuses(reports) -> list[ExecStatus]:
    return [r.status for r in reports]


def refused(reports, reason: ReasonCode) -> bool:
    return [(r.status, r.reason_code) for r in reports] == [(ExecStatus.REJECTED, reason)]


def test_given_an_order_over_the_notional_maximum_then_refused_and_counted():
    e = engine(max_order_notional=1_000_000.0)  # 200 units at 5,010
    assert refused(e.receive(order("big", quantity=200), T0), ReasonCode.NOTIONAL_EXCEEDS_MAXIMUM)
    assert statuses(e.receive(order("fits", quantity=199), T0))[0] is ExecStatus.ACCEPTED
    assert e.controls.denials == {"NOTIONAL_EXCEEDS_MAXIMUM": 1}


def test_given_an_order_over_the_quantity_maximum_then_refused_and_counted():
    e = engine(max_order_quantity=10)
    assert refused(e.receive(order("big", quantity=11), T0), ReasonCode.QUANTITY_EXCEEDS_MAXIMUM)
    assert e.controls.denials == {"QUANTITY_EXCEEDS_MAXIMUM": 1}


@pytest.mark.parametrize(
    ("side", "limit", "accepted"),
    [
        (Side.BUY, SPOT * 1.011, False),  # through fair by more than the 1 % collar
        (Side.BUY, SPOT * 1.009, True),
        (Side.SELL, SPOT * 0.989, False),
        (Side.SELL, SPOT * 0.991, True),
        (Side.BUY, SPOT * 0.5, True),  # far on the passive side: it cannot trade through fair
    ],
)
def test_given_a_limit_through_fair_value_past_the_collar_then_refused(side, limit, accepted):
    e = engine(price_collar=0.01)
    reports = e.receive(order("collar", side=side, quantity=1, limit_price=round(limit, 2)), T0)
    if accepted:
        assert statuses(reports)[0] is ExecStatus.ACCEPTED
    else:
        assert refused(reports, ReasonCode.PRICE_COLLAR)
        assert "fair value 5000" in reports[0].text
        assert e.controls.denials == {"PRICE_COLLAR": 1}


def test_given_an_option_then_the_collar_is_against_its_fair_value_with_a_floor_in_ticks():
    e = engine(price_collar=0.05, price_collar_min_ticks=5)
    fair = e._fair(CALL)
    assert fair is not None and fair > 10
    over = order("opt-over", CALL, quantity=1, limit_price=round(fair * 1.06, 2))
    within = order("opt-in", CALL, quantity=1, limit_price=round(fair * 1.04, 2))
    assert refused(e.receive(over, T0), ReasonCode.PRICE_COLLAR)
    assert statuses(e.receive(within, T0))[0] is ExecStatus.ACCEPTED
    tiny = engine(price_collar=0.0001, price_collar_min_ticks=5)  # the floor: 5 ticks
    inside = order("opt-floor", CALL, quantity=1, limit_price=round(fair + 0.04, 2))
    assert statuses(tiny.receive(inside, T0))[0] is ExecStatus.ACCEPTED


def test_given_more_orders_than_the_rate_allows_then_refused_and_reducing_asked_once_per_burst():
    e = engine(max_orders_per_window=3, order_rate_window_s=1.0)
    burst = [e.receive(order(f"r{i}", quantity=1), T0 + i * 0.1) for i in range(5)]

    assert [statuses(r)[0] for r in burst[:3]] == [ExecStatus.ACCEPTED] * 3
    assert all(refused(r, ReasonCode.ORDER_RATE_EXCEEDED) for r in burst[3:])
    (request,) = e.controls.take_requests()
    assert (request.action, request.reason) == (
        ControlAction.REDUCE,
        ReasonCode.ORDER_RATE_EXCEEDED,
    )
    assert e.controls.denials == {"ORDER_RATE_EXCEEDED": 2}

    calm = e.receive(order("calm", quantity=1), T0 + 5)  # the window has passed: re-armed
    assert statuses(calm)[0] is ExecStatus.ACCEPTED and not e.controls.throttled
    again = [e.receive(order(f"s{i}", quantity=1), T0 + 5 + i * 0.01) for i in range(4)]
    assert refused(again[-1], ReasonCode.ORDER_RATE_EXCEEDED)
    assert [r.action for r in e.controls.take_requests()] == [ControlAction.REDUCE]


def test_given_the_days_notional_spent_then_refused_until_the_next_day():
    e = engine(max_daily_notional=1_100_000.0)  # two orders of 100 units at 5,010
    assert statuses(e.receive(order("d1", quantity=100), T0))[0] is ExecStatus.ACCEPTED
    assert statuses(e.receive(order("d2", quantity=100), T0))[0] is ExecStatus.ACCEPTED
    assert refused(e.receive(order("d3", quantity=100), T0), ReasonCode.DAILY_NOTIONAL_EXCEEDED)
    assert e.controls.day_notional == pytest.approx(2 * 100 * 5010.0)

    tomorrow = T0 + 86_400
    e.on_tick(tick(at=EPOCH + timedelta(days=1), seq=2), tomorrow)
    assert statuses(e.receive(order("d4", quantity=100), tomorrow))[0] is ExecStatus.ACCEPTED
    assert e.controls.denials == {"DAILY_NOTIONAL_EXCEEDED": 1}


def test_given_the_days_fills_lose_past_the_limit_then_halt_is_asked_and_orders_refused():
    e = engine(max_daily_loss=5_000.0)
    bought = e.receive(order("long", quantity=100, limit_price=5010.0), T0)
    assert statuses(bought)[-1] is ExecStatus.FILLED
    assert e.on_time(T0 + 1) is not None and e.controls.requests == []  # about flat: no trip

    e.on_tick(tick(price=SPOT - 100, seq=2), T0 + 2)  # 100 units lose about 10,000
    e.on_time(T0 + 3)
    (request,) = e.controls.take_requests()
    assert (request.action, request.reason) == (ControlAction.HALT, ReasonCode.DAILY_LOSS_LIMIT)
    assert e.controls.loss_halted
    assert refused(e.receive(order("more", quantity=1), T0 + 4), ReasonCode.DAILY_LOSS_LIMIT)
    assert e.controls.take_requests() == []  # asked once


def test_given_the_kill_switch_then_working_orders_cancel_new_ones_are_refused_until_released():
    e = engine()
    resting = order("rest", quantity=5, limit_price=4900.0, tif=TimeInForce.GTC)
    assert statuses(e.receive(resting, T0)) == [ExecStatus.ACCEPTED]

    (cancelled,) = e.engage_kill_switch("runaway", T0 + 1)
    assert (cancelled.status, cancelled.reason_code) == (
        ExecStatus.CANCELLED,
        ReasonCode.KILL_SWITCH,
    )
    assert e.orders == {}
    assert refused(e.receive(order("new", quantity=1), T0 + 2), ReasonCode.KILL_SWITCH)

    e.release_kill_switch()
    assert statuses(e.receive(order("after", quantity=1), T0 + 3))[0] is ExecStatus.ACCEPTED
    assert e.controls.denials == {"KILL_SWITCH": 1}


def test_given_the_kill_switch_engaged_at_a_restart_then_resumed_orders_are_cancelled_unworked():
    e = engine()
    e.controls.kill_switch = "still engaged"
    twap = order("twap", quantity=40, tif=TimeInForce.GTC, algo=Twap(duration_s=4, slices=4))
    (report,) = e.resume(twap, seq=2, fills=[], accepted_at=EPOCH, now=T0 + 1)
    assert (report.status, report.reason_code, report.seq) == (
        ExecStatus.CANCELLED,
        ReasonCode.KILL_SWITCH,
        3,
    )
    assert e.orders == {} and e.venue.working == {}  # nothing sent to a book


# -- children never exceed their parent ----------------------------------------------------------


def test_given_a_fill_larger_than_the_working_child_then_the_algo_refuses_it():
    parent = ParentOrder.from_wire(order("p", quantity=10, tif=TimeInForce.GTC), 0.01)
    algo = make_algo(parent)
    (child,) = [a for a in algo.start(T0) if isinstance(a, PlaceChild)]
    over = Fill(1, "taker", "lp", child.child_id, child.owner, SELL, 501_000, 11, 0, 0)
    with pytest.raises(ChildExceedsParent):
        algo.on_event(over, T0)


@settings(max_examples=60, deadline=None)
@given(
    quantity=st.integers(2, 200),
    kind=st.sampled_from(["limit", "twap", "iceberg"]),
    steps=st.lists(st.tuples(st.floats(0, 2), st.floats(-30, 30)), max_size=15),
)
def test_given_any_flow_then_filled_and_working_children_stay_within_the_parent(
    quantity, kind, steps
):
    algo = {
        "limit": None,
        "twap": Twap(duration_s=5, slices=min(5, quantity)),
        "iceberg": Iceberg(display_quantity=max(1, quantity // 3)),
    }[kind]
    e = engine()
    o = order(f"prop-{kind}", quantity=quantity, tif=TimeInForce.GTC, algo=algo)
    e.receive(o, T0)
    now, price = T0, SPOT
    for dt, move in steps:
        now += dt
        price = max(100.0, price + move)
        e.on_tick(tick(price=price, seq=int(now)), now)
        e.on_time(now)
        venue_algo = e.venue.working.get(o.client_order_id)
        if venue_algo is not None:
            assert venue_algo.cum_quantity + sum(venue_algo.working.values()) <= quantity


def test_given_the_days_option_fills_replayed_before_any_surface_then_no_loss_is_judged():
    e = engine(max_daily_loss=10_000.0)
    limit = round(e._fair(CALL) * 1.1, 2)
    fills = [
        r for r in e.receive(order("opt", CALL, quantity=10, limit_price=limit), T0) if r.is_fill
    ]
    assert fills
    # no market data yet
    restarted = Engine(ExecutionSettings(max_daily_loss=10_000.0).engine_params())
    restarted.replay_day([], fills)
    assert restarted.controls.day_cash < -10_000.0  # the premium paid: cash alone looks a loss
    assert not restarted.check_loss(T0 + 1) and restarted.controls.requests == []
    restarted.on_tick(tick(), T0 + 2)
    restarted.on_surface(surface(), T0 + 2)
    assert not restarted.check_loss(T0 + 3)  # marked: about what it cost


def test_given_no_fair_value_for_an_option_then_it_is_refused_as_uncheckable():
    e = engine()
    e._fair = lambda instrument: None  # a surface the pricer cannot value it on
    reports = e.receive(order("nofair", CALL, quantity=1, limit_price=100.0), T0)
    assert refused(reports, ReasonCode.PRICE_COLLAR)
    assert "cannot be checked" in reports[0].text
