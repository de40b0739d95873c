"""P&L attribution against exact Black–Scholes–Merton revaluation on small cases."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from hedgemesh.quant import attribution, bsm
from hedgemesh.quant.attribution import PnlBreakdown, explain_move, trade_pnl

RATE, DIV = 0.03, 0.01
MULTIPLIER = 100.0


def _option_move(
    *,
    quantity: float = 3.0,
    spot: float = 100.0,
    d_spot: float = 0.0,
    vol: float = 0.25,
    d_vol: float = 0.0,
    days: float = 0.0,
    strike: float = 105.0,
    t: float = 0.5,
    is_call: bool = True,
) -> attribution.MoveAttribution:
    """A holding of `quantity` contracts of one option, revalued exactly after the move."""
    before = bsm.greeks(spot, strike, t, RATE, DIV, vol, is_call)
    after_price = bsm.price(
        spot + d_spot, strike, t - days / bsm.DAYS_PER_YEAR, RATE, DIV, vol + d_vol, is_call
    )
    return explain_move(
        quantity=quantity,
        value_before=before.price * MULTIPLIER,
        value_after=after_price * MULTIPLIER,
        delta=before.delta * MULTIPLIER,
        gamma=before.gamma * MULTIPLIER,
        theta_per_day=before.theta * MULTIPLIER,
        vega_per_point=before.vega * MULTIPLIER,
        spot_before=spot,
        spot_after=spot + d_spot,
        vol_before=vol,
        vol_after=vol + d_vol,
        days=days,
    )


def test_given_the_module_doctests_then_they_pass() -> None:
    assert doctest.testmod(attribution).failed == 0


def test_given_any_move_then_the_components_add_up_to_the_exact_revaluation() -> None:
    move = _option_move(d_spot=3.0, d_vol=0.02, days=2.0)
    total = move.delta + move.gamma + move.theta + move.vega + move.unexplained
    assert total == pytest.approx(move.actual, rel=1e-12)


@pytest.mark.parametrize("is_call", [True, False])
def test_given_a_spot_move_alone_then_unexplained_shrinks_as_the_cube_of_the_move(
    is_call: bool,
) -> None:
    big = _option_move(d_spot=0.2, is_call=is_call)
    small = _option_move(d_spot=0.1, is_call=is_call)
    assert float(big.theta) == 0.0 and float(big.vega) == 0.0
    # Delta and gamma explain the move to third order: halving dS divides the rest by ~8.
    ratio = float(big.unexplained) / float(small.unexplained)
    assert ratio == pytest.approx(8.0, rel=0.05)
    assert abs(float(small.unexplained)) < 1e-3 * abs(float(small.actual))


def test_given_time_passing_alone_then_theta_explains_it_to_second_order() -> None:
    week = _option_move(days=4.0)
    two_days = _option_move(days=2.0)
    assert float(week.delta) == 0.0 and float(week.gamma) == 0.0 and float(week.vega) == 0.0
    assert float(week.theta) < 0  # a long option decays
    assert float(week.unexplained) / float(two_days.unexplained) == pytest.approx(4.0, rel=0.05)
    assert abs(float(two_days.unexplained)) < 1e-2 * abs(float(two_days.actual))


def test_given_a_vol_move_alone_then_vega_explains_it_to_second_order() -> None:
    big = _option_move(d_vol=0.02)
    small = _option_move(d_vol=0.01)
    assert float(big.delta) == 0.0 and float(big.theta) == 0.0
    # What is left is volga's ½ dσ²: halving dσ divides it by ~4.
    assert float(big.unexplained) / float(small.unexplained) == pytest.approx(4.0, rel=0.05)
    volga = bsm.greeks(100.0, 105.0, 0.5, RATE, DIV, 0.25, True).volga * MULTIPLIER * 3.0
    assert float(small.unexplained) == pytest.approx(0.5 * volga * 1.0**2, rel=0.05)


def test_given_a_position_in_the_underlying_then_delta_explains_it_exactly() -> None:
    move = explain_move(
        quantity=-250.0,
        value_before=101.5,
        value_after=98.25,
        delta=1.0,
        gamma=0.0,
        theta_per_day=0.0,
        vega_per_point=0.0,
        spot_before=101.5,
        spot_after=98.25,
        vol_before=0.0,
        vol_after=0.0,
        days=0.5,
    )
    assert float(move.delta) == pytest.approx(812.5)
    assert float(move.actual) == pytest.approx(812.5)
    assert float(move.unexplained) == pytest.approx(0.0, abs=1e-9)


def test_given_a_book_of_holdings_then_the_breakdown_sums_them() -> None:
    strikes = np.array([90.0, 100.0, 110.0])
    quantity = np.array([2.0, -5.0, 4.0])
    before = bsm.greeks(100.0, strikes, 0.25, RATE, DIV, 0.3, True)
    after = bsm.price(101.0, strikes, 0.25 - 1 / 365, RATE, DIV, 0.31, True)
    move = explain_move(
        quantity=quantity,
        value_before=before.price,
        value_after=after,
        delta=before.delta,
        gamma=before.gamma,
        theta_per_day=before.theta,
        vega_per_point=before.vega,
        spot_before=100.0,
        spot_after=101.0,
        vol_before=0.3,
        vol_after=0.31,
        days=1.0,
    )
    breakdown = move.breakdown()
    assert move.delta.shape == (3,)
    assert breakdown.delta == pytest.approx(float(np.sum(quantity * before.delta)))
    assert breakdown.total == pytest.approx(float(np.sum(quantity * (after - before.price))))
    assert breakdown.transaction_costs == 0.0 and breakdown.new_trades == 0.0


@pytest.mark.parametrize(
    "bad", [{"days": -1.0}, {"spot_after": float("nan")}, {"quantity": float("inf")}]
)
def test_given_negative_days_or_non_finite_input_then_it_is_refused(bad: dict) -> None:
    arguments = {
        "quantity": 1.0,
        "value_before": 1.0,
        "value_after": 1.0,
        "delta": 0.5,
        "gamma": 0.0,
        "theta_per_day": 0.0,
        "vega_per_point": 0.0,
        "spot_before": 100.0,
        "spot_after": 100.0,
        "vol_before": 0.2,
        "vol_after": 0.2,
        "days": 0.0,
    }
    with pytest.raises(ValueError):
        explain_move(**{**arguments, **bad})


def test_given_a_hedge_bought_above_fair_value_then_its_trade_pnl_is_the_cost() -> None:
    # Bought 10 contracts (multiplier 100) at 5.20 worth 5.00, and paid 7.50 fees.
    cash = -10 * 5.20 * MULTIPLIER - 7.50
    assert trade_pnl([10.0], [5.00 * MULTIPLIER], cash) == pytest.approx(-207.5)


def test_given_a_client_sale_to_the_book_below_fair_value_then_its_trade_pnl_is_the_edge() -> None:
    # The book bought 200 shares at 99 and sold 2 calls at 3.10 worth 3.00.
    cash = -200 * 99.0 + 2 * 3.10 * MULTIPLIER
    pnl = trade_pnl([200.0, -2.0], [100.0, 3.00 * MULTIPLIER], cash)
    assert pnl == pytest.approx(200.0 + 20.0)


def test_given_mismatched_or_non_finite_trade_inputs_then_they_are_refused() -> None:
    with pytest.raises(ValueError):
        trade_pnl([1.0, 2.0], [1.0], 0.0)
    with pytest.raises(ValueError):
        trade_pnl([1.0], [1.0], float("nan"))


def test_given_breakdowns_then_they_add_field_by_field() -> None:
    first = PnlBreakdown(delta=1.0, gamma=2.0, transaction_costs=-0.5)
    second = PnlBreakdown(delta=0.5, theta=-1.0, new_trades=3.0, unexplained=0.25)
    combined = first + second
    assert combined == PnlBreakdown(
        delta=1.5, gamma=2.0, theta=-1.0, transaction_costs=-0.5, new_trades=3.0, unexplained=0.25
    )
    assert combined.total == pytest.approx(5.25)


def _second_order_move(d_spot: float, d_vol: float, *, revalued: bool = False):
    """3 contracts of one call moved in spot and vol together (no time): by the greeks with
    vanna and volga, or by full revaluation."""
    spot, vol, strike, t, q = 100.0, 0.25, 105.0, 0.5, 3.0

    def value(s: float, v: float) -> float:
        return float(bsm.price(s, strike, t, RATE, DIV, v, True)) * MULTIPLIER

    g = bsm.greeks(spot, strike, t, RATE, DIV, vol, True)
    common = {
        "quantity": q,
        "value_before": value(spot, vol),
        "value_after": value(spot + d_spot, vol + d_vol),
        "delta": g.delta * MULTIPLIER,
        "theta_per_day": g.theta * MULTIPLIER,
        "vega_per_point": g.vega * MULTIPLIER,
        "spot_before": spot,
        "spot_after": spot + d_spot,
        "vol_before": vol,
        "vol_after": vol + d_vol,
        "days": 0.0,
    }
    if revalued:
        return attribution.explain_move_revalued(
            value_spot_moved=value(spot + d_spot, vol),
            value_vol_moved=value(spot, vol + d_vol),
            value_both_moved=value(spot + d_spot, vol + d_vol),
            **common,
        )
    return explain_move(
        gamma=g.gamma * MULTIPLIER,
        vanna_per_point=g.vanna * MULTIPLIER,
        volga_per_point=g.volga * MULTIPLIER,
        **common,
    )


def test_given_spot_and_vol_moving_together_then_vanna_and_volga_leave_only_third_orders() -> None:
    big = _second_order_move(2.0, 0.02)
    small = _second_order_move(1.0, 0.01)
    assert float(big.vanna) != 0.0 and float(big.volga) != 0.0
    # Every second-order term explained: halving both moves divides the rest by ~8.
    assert float(big.unexplained) / float(small.unexplained) == pytest.approx(8.0, rel=0.1)
    # Without vanna and volga the cross and vol-squared terms would stay unexplained.
    cross = abs(float(small.vanna)) + abs(float(small.volga))
    assert abs(float(small.unexplained)) < 0.2 * cross


def test_given_a_gap_and_a_vol_spike_then_full_revaluation_explains_every_order() -> None:
    gap = _second_order_move(-15.0, 0.12, revalued=True)
    greeks = _second_order_move(-15.0, 0.12)
    total = gap.delta + gap.gamma + gap.vega + gap.vanna + gap.volga + gap.theta
    assert float(total) == pytest.approx(float(gap.actual), rel=1e-12)
    # No time passed: nothing is left; the second-order expansion leaves much more.
    assert abs(float(gap.unexplained)) < 1e-9 * abs(float(gap.actual))
    assert abs(float(greeks.unexplained)) > 0.01 * abs(float(greeks.actual))
    # The same split as the greeks for the first orders; gamma takes every order of spot.
    assert float(gap.delta) == pytest.approx(float(greeks.delta))
    assert float(gap.vega) == pytest.approx(float(greeks.vega))
    assert float(gap.gamma) == pytest.approx(float(greeks.gamma), rel=0.5)


def test_given_breakdowns_then_one_subtracts_from_another_field_by_field() -> None:
    later = PnlBreakdown(delta=3.0, vanna=1.0, not_followed=2.0)
    earlier = PnlBreakdown(delta=1.0, volga=0.5)
    assert later - earlier == PnlBreakdown(delta=2.0, vanna=1.0, volga=-0.5, not_followed=2.0)
