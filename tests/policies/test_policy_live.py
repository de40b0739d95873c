"""The live adapter: one state from plain numbers, the same policy, trades as plain legs."""

from __future__ import annotations

import numpy as np
import pytest

from hedgemesh.policies import DeltaGamma, DeltaInterval, DeltaMove, WhalleyWilmott, live
from hedgemesh.policies.live import LiveHedge, LiveInput, LiveMemory, LiveOption
from hedgemesh.quant import bsm

CALL = LiveOption(strike=100.0, tau=0.25, is_call=True, vol=0.2, quantity=-100.0)


def _input(spot: float = 100.0, time: float = 0.0, hedges=None, **kwargs) -> LiveInput:
    return LiveInput(
        time=time,
        spot=spot,
        rate=0.01,
        div=0.0,
        vol=0.2,
        hedges=hedges or [LiveHedge("XYZ", None, 10.0)],
        book_options=[CALL],
        **kwargs,
    )


def test_delta_hedge_of_a_written_call_buys_its_delta_less_what_is_held():
    delta = float(bsm.greeks(100.0, 100.0, 0.25, 0.01, 0.0, 0.2, True).delta)
    d = live.decide(DeltaInterval(), _input())
    assert d.targets == pytest.approx((100.0 * delta,), rel=1e-14)
    assert [leg.label for leg in d.legs] == ["XYZ"]
    assert d.legs[0].quantity == pytest.approx(100.0 * delta - 10.0, rel=1e-14)
    assert d.rebalanced and d.trigger == "timer"
    assert d.after.delta == pytest.approx(0.0, abs=1e-12)
    assert d.before.delta == pytest.approx(10.0 - 100.0 * delta, rel=1e-14)
    assert d.memory == LiveMemory(0.0, 100.0)


def test_memory_goes_out_and_back_in_explicitly():
    policy = DeltaMove(threshold=0.02)
    first = live.decide(policy, _input())
    held = LiveHedge("XYZ", None, first.targets[0])
    quiet = live.decide(policy, _input(spot=101.0, time=0.01, hedges=[held]), first.memory)
    assert not quiet.rebalanced and quiet.legs == () and quiet.memory == first.memory
    moved = live.decide(policy, _input(spot=103.0, time=0.02, hedges=[held]), quiet.memory)
    assert moved.rebalanced and moved.memory == LiveMemory(0.02, 103.0)
    assert moved.trigger == "price_move"


def test_band_policy_inside_its_band_sends_no_leg():
    delta = float(bsm.greeks(100.0, 100.0, 0.25, 0.01, 0.0, 0.2, True).delta)
    held = LiveHedge("XYZ", None, 100.0 * delta + 1.0)
    d = live.decide(WhalleyWilmott(cost=0.001, risk_aversion=0.01), _input(hedges=[held]))
    assert d.legs == () and not d.rebalanced and d.trades == (0.0,)


def test_a_roll_closes_the_old_option_first_then_trades_the_new_one():
    new = LiveOption(strike=101.0, tau=30 / 365, is_call=True, vol=0.2)
    old = LiveOption(strike=95.0, tau=29 / 365, is_call=True, vol=0.2)
    d = live.decide(
        DeltaGamma(),
        _input(
            spot=101.0,
            hedges=[LiveHedge("XYZ", None, 0.0), LiveHedge("XYZ-C101", new, 0.0)],
            closing=[LiveHedge("XYZ-C95", old, 40.0)],
        ),
    )
    assert [leg.label for leg in d.legs] == ["XYZ-C95", "XYZ", "XYZ-C101"]
    assert d.legs[0].quantity == -40.0
    assert d.after.gamma == pytest.approx(0.0, abs=1e-12)
    assert d.after.delta == pytest.approx(0.0, abs=1e-10)
    g = d.leg_greeks
    assert g.gamma == pytest.approx(-d.before.gamma, rel=1e-12)


@pytest.mark.parametrize(
    "bad",
    [
        lambda: LiveOption(strike=0.0, tau=0.1, is_call=True, vol=0.2),
        lambda: LiveOption(strike=100.0, tau=float("nan"), is_call=True, vol=0.2),
        lambda: LiveHedge("X", None, float("inf")),
        lambda: _input(spot=-1.0),
        lambda: _input(hedges=[LiveHedge("C", CALL)]),
        lambda: _input(hedges=[LiveHedge("X"), LiveHedge("Y")]),
        lambda: _input(closing=[LiveHedge("X")]),
    ],
)
def test_given_bad_input_then_the_adapter_refuses_it(bad):
    with pytest.raises(ValueError):
        bad()


def test_given_the_wrong_number_of_hedges_then_decide_refuses():
    with pytest.raises(ValueError, match="needs 2 hedge"):
        live.decide(DeltaGamma(), _input())


def test_state_of_is_the_n_equals_one_state():
    s = live.state_of(DeltaInterval(), _input(), LiveMemory(0.5, 99.0))
    assert s.n == 1 and s.k == 1
    assert s.memory.last_time[0] == 0.5 and s.memory.last_spot[0] == 99.0
    assert np.isnan(live.state_of(DeltaInterval(), _input(), LiveMemory()).memory.last_time[0])
