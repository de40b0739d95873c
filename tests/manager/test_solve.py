"""The joint solve on small problems whose answer is known by hand.

Instruments: U the underlying (delta 1), A a pure-gamma option (gamma 1 per unit), V a
pure-vega option (vega 100 per unit), D an option with delta 10 and gamma 1. The book is short
gamma (−10) and vega (−1000). With the default risk weight 1e4 a unit of gamma risk is worth
1e4/20 = 500 and a unit of vega 1e4/5000 = 2, far above the unit costs (1), so the solve takes
what reduces risk and the constraints decide the rest.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.manager.domain.solve import Instruments, Problem, at_bounds, attribute, solve
from hedgemesh.wire import ReasonCode

Q = ReasonCode.QUANTITY_EXCEEDS_MAXIMUM
U, A, V, D = 0, 1, 2, 3


def instruments(caps: tuple[float, float, float, float] = (1e6, 1e6, 1e6, 1e6)) -> Instruments:
    return Instruments(
        symbols=("U", "A", "V", "D"),
        greeks=np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 100.0], [10.0, 1.0, 0]]),
        price=np.array([100.0, 10.0, 20.0, 10.0]),
        multiplier=np.ones(4),
        cost=np.array([0.01, 1.0, 1.0, 1.0]),
        max_quantity=np.array(caps),
        cap_reason=(Q, Q, Q, Q),
    )


def problem(*legs: dict[int, float], **changes) -> Problem:
    matrix = np.zeros((len(legs), 4))
    for i, leg in enumerate(legs):
        for k, q in leg.items():
            matrix[i, k] = q
    inst = changes.pop("instruments", instruments())
    values = dict(
        book=np.array([0.0, -10.0, -1000.0]),
        limits=np.array([50.0, 20.0, 5000.0]),
        instruments=inst,
        legs=matrix,
        upper=np.ones(len(legs)),
        premium=np.abs(matrix[:, 1:]) @ inst.price[1:],
        agents=tuple(f"agent-{i}" for i in range(len(legs))),
        risk_weight=1e4,
        dead_zone=0.0,
    )
    values.update(changes)
    return Problem(**values)


def test_given_a_proposal_that_only_reduces_gamma_then_it_is_taken_whole():
    p = problem({A: 8})
    s = solve(p)
    assert s.ok
    assert s.scale == pytest.approx([1.0])
    assert s.net == pytest.approx([0, 8, 0, 0], abs=1e-9)
    assert s.after == pytest.approx([0, -2, -1000])


def test_given_a_proposal_past_flat_then_it_is_scaled_to_flat_and_not_past():
    p = problem({A: 15})
    s = solve(p)
    assert s.scale == pytest.approx([10 / 15])
    assert s.after[1] == pytest.approx(0.0, abs=1e-9)
    assert attribute(p, s, 0) is ReasonCode.RISK_NOT_REDUCED


def test_given_a_dead_zone_then_risk_inside_it_counts_as_flat():
    p = problem({A: 15}, dead_zone=0.1)  # 10 % of the gamma limit 20: |gamma| ≤ 2 is flat
    assert solve(p).after[1] == pytest.approx(-2.0)


def test_given_opposite_legs_in_one_instrument_then_only_the_net_is_traded():
    # P0 buys 10 A; P1 sells 4 A and buys 10 V. Together: gamma −4 (2000), vega 0 (0), cost
    # on |6| A + 10 V = 16; without P1: gamma 0 but vega −1000 (2000 + the unit cost).
    p = problem({A: 10}, {A: -4, V: 10}, limits=np.array([50.0, 20.0, 500.0]))
    s = solve(p)
    assert s.scale == pytest.approx([1.0, 1.0])
    assert s.net == pytest.approx([0, 6, 10, 0], abs=1e-9)
    assert s.objective == pytest.approx(16 + 4 * 1e4 / 20, rel=1e-9)


def test_given_two_proposals_for_the_same_risk_then_together_they_take_it_once():
    p = problem({A: 10}, {A: 10})
    s = solve(p)
    assert s.scale.sum() == pytest.approx(1.0)
    scaled = [i for i in range(2) if s.scale[i] < 1 - 1e-6]
    assert scaled
    assert {attribute(p, s, i) for i in scaled} == {ReasonCode.NETTED_OUT}


def test_given_legs_that_bring_delta_then_the_underlying_closes_it_to_the_band():
    p = problem({D: 10})  # +100 delta, band 50
    s = solve(p)
    assert s.scale == pytest.approx([1.0])
    assert s.net[U] == pytest.approx(-50.0)
    assert s.after[0] == pytest.approx(50.0)


def test_given_a_gamma_limit_then_a_proposal_is_scaled_to_it():
    # Selling 15 A takes gamma from −10 to −25 (limit 20) while 10 V cut the vega breach.
    p = problem({A: -15, V: 10}, limits=np.array([50.0, 20.0, 500.0]))
    s = solve(p)
    assert s.scale == pytest.approx([10 / 15])
    assert s.after[1] == pytest.approx(-20.0)
    assert attribute(p, s, 0) is ReasonCode.GAMMA_LIMIT


def test_given_a_vega_limit_then_a_proposal_is_scaled_to_it():
    # Gamma is over its limit (−30 of 20): 12 A cut the breach, but the 60 short V that come
    # with them take vega from −1000 to −7000 (limit 5000), a dearer breach per unit of scale.
    p = problem({A: 12, V: -60}, book=np.array([0.0, -30.0, -1000.0]))
    s = solve(p)
    assert s.scale == pytest.approx([2 / 3])
    assert s.after[2] == pytest.approx(-5000.0)
    assert attribute(p, s, 0) is ReasonCode.VEGA_LIMIT


def test_given_the_underlying_cannot_offset_the_delta_then_delta_limit():
    p = problem({D: 10}, instruments=instruments((10, 1e6, 1e6, 1e6)))
    s = solve(p)
    assert s.scale == pytest.approx([0.6])  # 100 s − 10 = 50
    assert s.after[0] == pytest.approx(50.0)
    assert attribute(p, s, 0) is ReasonCode.DELTA_LIMIT


def test_given_an_order_size_cap_then_quantity_exceeds_maximum():
    p = problem({A: 10}, instruments=instruments((1e6, 5, 1e6, 1e6)))
    s = solve(p)
    assert s.scale == pytest.approx([0.5])
    assert attribute(p, s, 0) is ReasonCode.QUANTITY_EXCEEDS_MAXIMUM


def test_given_a_notional_cap_then_its_reason_is_the_notional():
    inst = replace(
        instruments((1e6, 5, 1e6, 1e6)), cap_reason=(Q, ReasonCode.NOTIONAL_EXCEEDS_MAXIMUM, Q, Q)
    )
    p = problem({A: 10}, instruments=inst)
    s = solve(p)
    assert attribute(p, s, 0) is ReasonCode.NOTIONAL_EXCEEDS_MAXIMUM


def test_given_a_gross_notional_cap_per_cycle_then_notional_exceeds_maximum():
    p = problem({A: 10}, max_gross_notional=50.0)  # A is worth 10: five of them
    s = solve(p)
    assert s.scale == pytest.approx([0.5])
    assert attribute(p, s, 0) is ReasonCode.NOTIONAL_EXCEEDS_MAXIMUM


def test_given_a_budget_then_the_proposal_is_scaled_to_what_is_left():
    p = problem({A: 10}, budget_left={"agent-0": 30.0})  # premium 100 at scale 1
    s = solve(p)
    assert s.scale == pytest.approx([0.3])
    assert attribute(p, s, 0) is ReasonCode.BUDGET_EXHAUSTED


def test_given_the_days_cost_budget_then_budget_exhausted():
    p = problem({A: 10}, max_cost=4.0)
    s = solve(p)
    assert s.scale == pytest.approx([0.4])
    assert attribute(p, s, 0) is ReasonCode.BUDGET_EXHAUSTED


def test_given_reducing_then_a_proposal_growing_any_greek_is_refused():
    legs = {A: 10, V: -5}  # cuts gamma risk by 10 but grows |vega| by 500
    active = solve(problem(legs))
    assert active.scale == pytest.approx([1.0])
    p = problem(legs, reducing=True)
    s = solve(p)
    assert s.scale == pytest.approx([0.0], abs=1e-9)
    assert attribute(p, s, 0) is ReasonCode.TRADING_REDUCING


def test_given_a_firm_limit_then_the_firm_total_bounds_the_proposal():
    # Other underlyings: +1500 dollar gamma; this one at spot 100 adds 100 per unit of gamma.
    p = problem(
        {A: 10},
        firm_other=np.array([0.0, 1500.0, 0.0]),
        firm_limits=np.array([1e9, 1000.0, 1e9]),
        firm_factors=np.array([100.0, 100.0, 1.0]),
    )
    s = solve(p)
    assert s.scale == pytest.approx([0.5])  # 1500 + 100 (−10 + 10 s) = 1000
    assert attribute(p, s, 0) is ReasonCode.GAMMA_LIMIT


def test_given_risk_worth_less_than_its_cost_then_risk_not_reduced():
    p = problem({A: 10}, risk_weight=1.0)  # a unit of gamma is worth 1/20 < the unit cost 1
    s = solve(p)
    assert s.scale == pytest.approx([0.0], abs=1e-9)
    assert attribute(p, s, 0) is ReasonCode.RISK_NOT_REDUCED


def test_given_a_bound_of_zero_then_the_proposal_takes_nothing():
    p = problem({A: 10}, {V: 10}, upper=np.array([0.0, 1.0]))
    s = solve(p)
    assert s.scale[0] == 0.0
    assert s.scale[1] == pytest.approx(1.0)


def test_given_mismatched_shapes_then_the_problem_refuses():
    with pytest.raises(ValueError, match="legs"):
        problem({A: 1}, upper=np.ones(2))


def test_given_no_finite_caps_then_the_objective_is_cost_plus_weighted_risk():
    p = problem({A: 4})
    s = solve(p)
    expected = 4 * 1.0 + 1e4 * (6 / 20 + 1000 / 5000)  # cost of 4 A, |gamma|, |vega|
    assert math.isclose(s.objective, expected, rel_tol=1e-9)


def test_given_every_proposal_best_taken_whole_then_the_shortcut_answers_without_the_lp():
    p = problem({A: 8}, {V: 5})
    quick = solve(p)
    assert quick.message == "every proposal at its bound"
    full = solve(p, shortcut=False)
    assert quick.scale == pytest.approx(full.scale)
    assert quick.net == pytest.approx(full.net, abs=1e-9)
    assert quick.objective == pytest.approx(full.objective, rel=1e-9)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-30, 30), st.integers(-30, 30), st.integers(-30, 30), st.floats(0, 1)
        ),
        min_size=1,
        max_size=3,
    ),
    st.tuples(st.floats(-300, 300), st.floats(-40, 40), st.floats(-8000, 8000)),
    st.sampled_from([math.inf, 300.0]),
    st.booleans(),
    st.sampled_from([0.0, 0.05]),
)
def test_given_any_problem_then_the_shortcut_agrees_with_the_lp(legs, book, gross, reducing, dz):
    p = problem(
        *({A: a, V: v, D: d} for a, v, d, _ in legs),
        book=np.array(book),
        upper=np.array([u for *_, u in legs]),
        max_gross_notional=gross,
        reducing=reducing,
        dead_zone=dz,
        instruments=instruments((200, 25, 25, 25)),
    )
    quick = at_bounds(p)
    if quick is None:
        return
    full = solve(p, shortcut=False)
    assert full.ok
    assert quick.objective == pytest.approx(full.objective, rel=1e-6, abs=1e-3)
    assert full.scale == pytest.approx(p.upper, abs=1e-6)


def bucketed(*legs: dict[int, float], **changes) -> Problem:
    """Two expiry buckets after (delta, gamma, vega): A sits in bucket 1, V in bucket 2."""
    greeks = np.array(
        [
            [1.0, 0, 0, 0, 0],  # U
            [0, 1.0, 50.0, 50.0, 0],  # A: gamma 1 and vega 50, in bucket 1
            [0, 0, 100.0, 0, 100.0],  # V: vega 100 in bucket 2
            [10.0, 1.0, 0, 0, 0],  # D
        ]
    )
    values = dict(
        instruments=replace(instruments(), greeks=greeks),
        book=np.array([0.0, -10.0, -1000.0, 4200.0, -5200.0]),
        limits=np.array([50.0, 20.0, 5000.0, 4500.0, 4500.0]),
    )
    values.update(changes)
    return problem(*legs, **values)


def test_given_a_bucket_limit_then_a_proposal_is_scaled_to_it_as_vega_limit():
    # A adds 50 vega to bucket 1 a contract: 4200 → 4500 at 6 of the 16 asked (gamma −4).
    p = bucketed({A: 16})
    s = solve(p)
    assert s.scale == pytest.approx([6 / 16])
    assert s.after[3] == pytest.approx(4500.0)
    assert attribute(p, s, 0) is ReasonCode.VEGA_LIMIT


def test_given_buckets_inside_their_limits_then_moving_vega_between_them_is_not_penalised():
    # 10 V bring total vega from −1000 to 0 and bucket 2 from −5200 to −4200 (out of its
    # breach); bucket 1 stays at 4200: inside its limit, it weighs nothing. Taken whole.
    p = bucketed({V: 10})
    s = solve(p)
    assert s.scale == pytest.approx([1.0])
    assert s.after[2:] == pytest.approx([0.0, 4200.0, -4200.0])
