"""Choosing the hedge option by maturity and moneyness, and when to roll it."""

from __future__ import annotations

import numpy as np
import pytest

from hedgemesh.policies import HedgeOption, roll_due, select, select_listed

DAY = 1.0 / 365.0


def test_select_puts_the_strike_at_moneyness_times_spot_and_expiry_a_tenor_ahead():
    strike, expiry = select(HedgeOption(tenor_days=90, moneyness=1.05), [100.0, 80.0], 0.5)
    assert np.array_equal(strike, [105.0, 84.0])
    assert np.array_equal(expiry, [0.5 + 90 * DAY] * 2)


def test_select_rounds_to_the_listed_strike_grid_and_never_below_one_step():
    spec = HedgeOption(strike_step=5.0)
    assert np.array_equal(select(spec, [101.0, 103.0, 1.0], 0.0)[0], [100.0, 105.0, 5.0])


def test_roll_due_when_never_chosen_after_the_roll_period_or_at_the_minimum_life():
    spec = HedgeOption(tenor_days=30, roll_days=1.0, min_life_days=7, max_drift=None)
    chosen = np.array([np.nan, 0.0, 0.0, 0.0])
    expiry = np.array([1.0, 30 * DAY, 30 * DAY, 7.5 * DAY])
    due = roll_due(spec, chosen, expiry, 0.4 * DAY)
    assert list(due) == [True, False, False, False]
    due = roll_due(spec, chosen, expiry, 1.0 * DAY)  # a day after the choice: rolled daily
    assert list(due) == [True, True, True, True]
    held = HedgeOption(tenor_days=30, min_life_days=7, max_drift=None)
    assert list(roll_due(held, chosen, expiry, 0.6 * DAY)) == [True, False, False, True]


def test_roll_due_when_spot_drifts_more_than_max_drift_standard_deviations():
    spec = HedgeOption(tenor_days=30, max_drift=1.0)
    sd = 0.2 * np.sqrt(25 * DAY)
    spot = 100.0 * np.exp(np.array([0.9, 1.1, -1.1]) * sd)
    due = roll_due(spec, np.zeros(3), np.full(3, 30 * DAY), 5 * DAY, spot, 100.0, 0.2)
    assert list(due) == [False, True, True]
    with pytest.raises(ValueError, match="max_drift"):
        roll_due(spec, np.zeros(1), np.ones(1), 0.0)


def test_select_listed_picks_the_nearest_expiry_then_the_nearest_strike():
    strikes = [95.0, 100.0, 105.0, 95.0, 100.0, 105.0, 100.0]
    expiries = [3 * DAY, 3 * DAY, 3 * DAY, 28 * DAY, 28 * DAY, 28 * DAY, 91 * DAY]
    spec = HedgeOption(tenor_days=30, moneyness=1.0)
    assert select_listed(spec, 101.0, 0.0, strikes, expiries) == 4
    assert select_listed(HedgeOption(tenor_days=90), 104.0, 0.0, strikes, expiries) == 6
    # the 3-day options live less than min_life_days (7): never chosen
    assert select_listed(HedgeOption(tenor_days=8), 100.0, 0.0, strikes, expiries) == 4
    # a tie on strike goes to the lower one
    assert select_listed(spec, 102.5, 0.0, strikes, expiries) == 4


def test_select_listed_refuses_a_chain_with_nothing_alive():
    with pytest.raises(ValueError, match="no listed option"):
        select_listed(HedgeOption(), 100.0, 0.0, [100.0], [2 * DAY])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tenor_days": 0.0},
        {"moneyness": -1.0},
        {"roll_days": 0.0},
        {"min_life_days": 40.0},
        {"max_drift": 0.0},
        {"strike_step": float("nan")},
    ],
)
def test_given_bad_hedge_option_parameters_then_refused(kwargs):
    with pytest.raises(ValueError):
        HedgeOption(**kwargs)


def test_hedge_option_label():
    assert HedgeOption(tenor_days=90, moneyness=0.95, is_call=False).label == "90d-95%-P"
