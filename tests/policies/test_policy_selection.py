"""Choosing listed options for a wanted greek change, and the ladder cost model behind it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hedgemesh.policies.selection import LadderCost, allocate, eligible, vega_bucket_changes
from hedgemesh.venue.liquidity import LiquidityParams, ladder
from hedgemesh.venue.spec import VENUE

COSTS = LadderCost.of(VENUE.option)


def walk(q, fair, vol, multiplier=100.0, drought=1.0, costs=COSTS):
    """Oracle: take q contracts from the venue's own ladder level by level (within its depth)."""
    params = LiquidityParams(
        levels=costs.levels,
        half_spread_bp=costs.half_spread_bp,
        min_half_spread_ticks=costs.min_half_spread_ticks,
        level_step_bp=costs.level_step_bp,
        min_level_step_ticks=costs.min_level_step_ticks,
        top_size=costs.top_size,
        size_decay=costs.size_decay,
        ref_vol=costs.ref_vol,
    )
    quotes = ladder(fair, vol, drought, costs.tick_size, params)
    left, paid = q, 0.0
    for ask, size in zip(quotes.asks, quotes.sizes, strict=True):
        take = min(left, math.floor(size + 0.5))
        paid += take * (ask * costs.tick_size - fair)
        left -= take
    assert left == 0, "the oracle only walks the shown depth"
    return paid * multiplier + costs.fee_per_contract * q


@pytest.mark.parametrize(
    ("q", "fair", "vol", "drought"),
    [(1, 12.34, 0.2, 1.0), (30, 12.34, 0.2, 1.0), (120, 55.0, 0.15, 1.0), (7, 0.8, 0.3, 2.0),
     (60, 3.21, 0.25, 1.0), (150, 140.0, 0.12, 1.0)],
)  # fmt: skip
def test_given_a_quantity_within_the_shown_depth_then_cost_equals_walking_the_venue_ladder(
    q, fair, vol, drought
):
    got = COSTS.cost(q, fair, vol, 100.0, drought)
    assert float(got) == pytest.approx(walk(q, fair, vol, drought=drought), rel=1e-9, abs=1e-9)


def test_given_more_than_the_shown_depth_then_further_levels_of_the_last_size_step_out():
    costs = LadderCost.of(VENUE.option, levels=2, top_size=10, size_decay=0.5, fee_per_contract=0.0)
    # fair 1.0: half = max(1, 0.75) = 1 tick, step = max(1, 0.4) = 1 tick; sizes 10, 5
    # levels at 1 and 2 ticks; then 5 more at 3 ticks, 5 at 4, 2 at 5 (22 in all).
    ticks = 10 * 1 + 5 * 2 + 5 * 3 + 5 * 4 + 2 * 5
    assert float(costs.cost(27, 1.0, 0.2, 1.0)) == pytest.approx(ticks * 0.01)
    assert float(costs.worst_price_offset(27, 1.0, 0.2)) == pytest.approx(5 * 0.01)
    assert float(costs.worst_price_offset(12, 1.0, 0.2)) == pytest.approx(2 * 0.01)


def test_given_sizes_then_cost_is_zero_for_nothing_rises_with_size_and_sign_does_not_matter():
    q = np.array([0, 1, 5, 50, 200, 1000])
    c = COSTS.cost(q, 20.0, 0.2)
    assert c[0] == 0.0 and np.all(np.diff(c) > 0.0)
    np.testing.assert_array_equal(COSTS.cost(-q, 20.0, 0.2), c)


def test_given_a_drought_or_higher_vol_then_the_same_trade_costs_more():
    base = float(COSTS.cost(100, 20.0, 0.2))
    assert float(COSTS.cost(100, 20.0, 0.2, drought=4.0)) > base
    assert float(COSTS.cost(100, 20.0, 0.4)) > base


def test_given_bad_inputs_then_cost_refuses():
    with pytest.raises(ValueError, match="drought"):
        COSTS.cost(1, 1.0, 0.2, drought=0.0)
    with pytest.raises(ValueError, match="vol"):
        COSTS.cost(1, 1.0, 0.0)
    with pytest.raises(ValueError, match="size_decay"):
        LadderCost.of(VENUE.option, size_decay=1.5)


def test_given_equal_gamma_then_the_option_with_the_lower_premium_is_cheaper_per_gamma():
    # same gamma per contract; spreads are in bp of the premium, so the cheap option wins
    out = allocate(0.5, [0.01, 0.01], fair=[40.0, 8.0], vol=[0.2, 0.2], multiplier=100.0,
                   costs=COSTS)  # fmt: skip
    assert out.index == (1,) and out.contracts == (50,)
    assert out.total_delivered == pytest.approx(0.5)
    assert out.total_cost == pytest.approx(float(COSTS.cost(50, 8.0, 0.2)))


def test_given_more_gamma_per_contract_then_it_can_beat_a_cheaper_premium():
    out = allocate(1.0, [0.01, 0.05], fair=[8.0, 20.0], vol=[0.2, 0.2], multiplier=100.0,
                   costs=COSTS)  # fmt: skip
    assert out.index == (1,) and out.contracts == (20,)


def test_given_a_cap_per_order_then_the_rest_goes_to_the_next_cheapest_options():
    out = allocate(1.0, [0.01, 0.01, 0.01], fair=[8.0, 9.0, 30.0], vol=0.2, multiplier=100.0,
                   costs=COSTS, max_contracts=40, max_legs=4)  # fmt: skip
    assert out.index == (0, 1, 2) and out.contracts == (40, 40, 20)
    capped = allocate(1.0, [0.01, 0.01, 0.01], fair=[8.0, 9.0, 30.0], vol=0.2, multiplier=100.0,
                      costs=COSTS, max_contracts=40, max_legs=2)  # fmt: skip
    assert capped.contracts == (40, 40)


def test_given_a_cap_per_option_then_each_leg_takes_at_most_its_own_cap():
    fair = np.array([8.0, 9.0])
    caps = COSTS.depth(fair, 0.2)
    assert caps.tolist() == [139.0, 139.0]  # 50 + 35 + 24.5→25 (half up) + 17.15→17 + 12.005→12
    out = allocate(2.0, [0.01, 0.01], fair=fair, vol=0.2, multiplier=100.0, costs=COSTS,
                   max_contracts=caps)  # fmt: skip
    assert out.contracts == (139, 61)
    assert len(allocate(1.0, [0.01], fair=[8.0], vol=0.2, multiplier=100.0, costs=COSTS,
                        max_contracts=0)) == 0  # fmt: skip


def test_given_a_negative_want_then_it_sells_whole_contracts():
    out = allocate(-0.333, [0.01, 0.02], fair=[8.0, 8.0], vol=0.2, multiplier=100.0, costs=COSTS)
    assert out.index == (1,) and out.contracts == (-17,)
    assert out.total_delivered == pytest.approx(-0.34)


def test_given_less_than_half_a_contract_or_no_usable_option_then_nothing():
    assert len(allocate(0.004, [0.01], fair=[8.0], vol=0.2, multiplier=100.0, costs=COSTS)) == 0
    assert len(allocate(0.5, [0.0, np.nan], fair=8.0, vol=0.2, multiplier=100.0, costs=COSTS)) == 0
    assert len(allocate(0.0, [0.01], fair=[8.0], vol=0.2, multiplier=100.0, costs=COSTS)) == 0


def test_given_the_tenor_window_and_sd_bound_then_eligible_keeps_near_the_money_options():
    days = np.array([3.0, 10.0, 10.0, 10.0, 60.0])
    strike = np.array([100.0, 100.0, 103.0, 110.0, 110.0])
    # one sd over 10 days at 20 %: 0.2·√(10/365) = 3.31 %; over 60 days 8.1 %
    mask = eligible(strike, 100.0, 0.2, days, min_days=5, max_days=90, max_sd=1.0)
    assert mask.tolist() == [False, True, True, False, False]
    wide = eligible(strike, 100.0, 0.2, days, min_days=5, max_days=90, max_sd=1.5)
    assert wide.tolist() == [False, True, True, False, True]


def test_given_buckets_then_only_those_past_the_trigger_move_back_to_the_target_edge():
    change = vega_bucket_changes([-9000.0, -4000.0, 2500.0, 12000.0], trigger=5000.0, target=2000.0)
    assert change.tolist() == [7000.0, 0.0, 0.0, -10000.0]
    with pytest.raises(ValueError, match="trigger"):
        vega_bucket_changes([1.0], trigger=1.0, target=2.0)


def test_given_a_reach_then_depth_counts_only_the_levels_within_it():
    costs = LadderCost.of(VENUE.option, levels=3, top_size=10, size_decay=0.5)
    # fair 1.0: the levels sit 1, 2 and 3 ticks from fair with 10, 5 and 3 contracts.
    assert float(costs.depth(1.0, 0.2)) == 18.0
    assert float(costs.depth(1.0, 0.2, within=0.02)) == 15.0
    assert float(costs.depth(1.0, 0.2, within=0.005)) == 0.0
    both = costs.depth(np.array([1.0, 1.0]), 0.2, within=np.array([0.01, 0.03]))
    assert both.tolist() == [10.0, 18.0]


def test_given_a_sweep_then_the_depth_it_took_comes_back_with_the_half_life():
    costs = LadderCost.of(VENUE.option, half_life_s=30.0)
    assert costs.still_missing(40.0, 0.0) == pytest.approx(40.0)
    assert costs.still_missing(40.0, 30.0) == pytest.approx(20.0)
    assert costs.still_missing([40.0, 8.0], [60.0, -5.0]).tolist() == pytest.approx([10.0, 8.0])
