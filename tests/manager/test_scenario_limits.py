"""The scenario's `limits:` section: typed, checked, and turned into the KV seeds."""

from __future__ import annotations

import pytest

from hedgemesh.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario
from hedgemesh.scenario.testing import make_scenario, scenario_dict

SPX_LIMITS = {
    "max_abs_delta": 1000,
    "max_abs_gamma": 50,
    "max_abs_vega_per_vol_point": 1e5,
    "max_order_quantity": 500,
    "max_order_notional": 1e7,
    "daily_cost_budget": 1e5,
}


def _with_limits(limits: dict) -> dict:
    data = scenario_dict()
    data["limits"] = limits
    return data


def test_given_the_default_scenario_then_every_underlying_and_the_firm_have_limits():
    scenario = load_scenario(DEFAULT_SCENARIO)
    assert scenario.limits is not None
    assert set(scenario.limits.underlyings) == set(scenario.symbols)
    assert scenario.limits.firm is not None
    assert scenario.limits.budgets is not None
    assert set(scenario.limits.budgets.agents) == {"gamma-agent", "vega-agent"}


def test_given_an_underlying_entry_then_its_risk_limits_carry_the_values_and_defaults():
    symbol = scenario_dict()["underlyings"][0]["symbol"]
    scenario = make_scenario(_with_limits({"underlyings": {symbol: SPX_LIMITS}}))
    assert scenario.limits is not None
    limits = scenario.limits.underlyings[symbol].risk_limits(symbol, "scenario")
    assert limits.underlying == symbol
    assert limits.max_abs_gamma == 50.0
    assert limits.max_order_quantity == 500
    assert limits.price_collar == 0.05
    assert limits.max_tick_age_s == 30.0
    assert limits.changed_by == "scenario"


def test_given_a_tick_age_with_a_unit_then_it_is_read_as_seconds():
    symbol = scenario_dict()["underlyings"][0]["symbol"]
    entry = {**SPX_LIMITS, "max_tick_age": "2m"}
    scenario = make_scenario(_with_limits({"underlyings": {symbol: entry}}))
    assert scenario.limits is not None
    assert scenario.limits.underlyings[symbol].max_tick_age == 120.0


def test_given_an_unknown_underlying_in_limits_then_the_error_names_its_key():
    with pytest.raises(ScenarioError, match=r"limits\.underlyings\.ZZZ"):
        make_scenario(_with_limits({"underlyings": {"ZZZ": SPX_LIMITS}}))


@pytest.mark.parametrize(
    ("key", "value"),
    [("max_abs_gamma", -1.0), ("max_order_quantity", 0), ("price_collar", 1.5), ("extra", 1)],
)
def test_given_a_bad_underlying_limit_then_loading_fails_at_that_key(key, value):
    symbol = scenario_dict()["underlyings"][0]["symbol"]
    with pytest.raises(ScenarioError, match=key):
        make_scenario(_with_limits({"underlyings": {symbol: {**SPX_LIMITS, key: value}}}))


def test_given_budgets_without_agents_then_loading_fails():
    with pytest.raises(ScenarioError, match=r"limits\.budgets\.agents"):
        make_scenario(_with_limits({"budgets": {"agents": {}}}))


def test_given_firm_limits_then_the_wire_value_has_them():
    firm = {
        "max_abs_dollar_delta": 1e7,
        "max_abs_dollar_gamma_per_pct": 2e7,
        "max_abs_vega_per_vol_point": 1e5,
        "max_gross_notional_per_cycle": 3e7,
    }
    scenario = make_scenario(_with_limits({"firm": firm}))
    assert scenario.limits is not None and scenario.limits.firm is not None
    wire = scenario.limits.firm.firm_limits("scenario")
    assert wire.max_gross_notional_per_cycle == 3e7
    assert wire.max_abs_dollar_gamma_per_pct == 2e7
