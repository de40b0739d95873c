"""Live agent parameters (`AgentParams`, KV `agent_params`): their validation and how the core
applies them over the environment's settings."""

from __future__ import annotations

import pytest
from agent_examples import ORIGIN, gamma_core, vega_core
from pydantic import ValidationError

from hedgemesh.agentkit.domain.core import Skip
from hedgemesh.wire.params import PARAMETERS, AgentParams


def params(agent: str = "gamma-agent", **fields) -> AgentParams:
    return AgentParams(agent=agent, changed_by="ops", **fields)


def test_given_no_field_then_nothing_is_overridden():
    assert params().overrides() == {}


def test_given_some_fields_then_only_those_are_overridden():
    set_ = params(enabled=False, max_legs=3, band_fraction=0.6, target_fraction=0.3)
    assert set_.overrides() == {
        "enabled": False, "max_legs": 3, "band_fraction": 0.6, "target_fraction": 0.3,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"band_fraction": 0.0, "target_fraction": 0.0}, "greater than 0"),
        ({"band_fraction": 1.5, "target_fraction": 0.1}, "less than or equal to 1"),
        ({"band_fraction": 0.4, "target_fraction": 0.5}, "must not exceed band_fraction"),
        ({"band_fraction": 0.4}, "set together"),
        ({"target_fraction": 0.1}, "set together"),
        ({"price_move": -0.01}, "greater than or equal to 0"),
        ({"timer_interval_s": 86_400 * 31}, "less than or equal to"),
        ({"max_legs": 0}, "greater than or equal to 1"),
        ({"max_legs": 33}, "less than or equal to 32"),
        ({"depth_fraction": 0.0}, "greater than 0"),
        ({"collar_fraction": 1.01}, "less than or equal to 1"),
        ({"price_move": float("nan")}, "finite"),
        ({"kv_poll_s": 1.0}, "Extra inputs are not permitted"),
    ],
)
def test_given_a_bad_value_then_it_is_refused(fields, message):
    with pytest.raises(ValidationError, match=message):
        params(**fields)


def test_given_the_enabled_switch_on_the_wire_then_only_a_boolean_is_accepted():
    raw = params().model_dump(mode="json") | {"enabled": "no"}
    with pytest.raises(ValidationError, match="valid boolean"):
        AgentParams.model_validate(raw, strict=True)


def test_every_parameter_is_a_rule_of_the_agents():
    rules = gamma_core().environment
    assert all(hasattr(rules, name) for name in PARAMETERS if name != "enabled")


def test_given_params_then_the_core_runs_with_them_over_the_environment():
    core = gamma_core(price_move=0.02, max_legs=6)
    core.apply_params(params(max_legs=2, band_fraction=0.9, target_fraction=0.5), revision=3)
    assert (core.rules.max_legs, core.rules.band_fraction) == (2, 0.9)
    assert core.rules.target_fraction == 0.5 and core.rules.price_move == 0.02
    assert core.params_revision == 3 and core.environment.max_legs == 6
    assert type(core.rules) is type(core.environment)
    core.apply_params(None, None)  # the key deleted: the environment's again
    assert core.rules == core.environment and core.params_revision is None


def test_given_fewer_legs_then_proposals_have_at_most_that_many():
    wide, narrow = gamma_core(), gamma_core()
    narrow.apply_params(params(max_legs=1), revision=1)
    first = wide.evaluate("SPX", ORIGIN, 0.0).proposal
    second = narrow.evaluate("SPX", ORIGIN, 0.0).proposal
    assert first is not None and second is not None
    assert len(first.legs) > 1 and len(second.legs) == 1


def test_given_disabled_then_nothing_is_proposed_until_enabled_again():
    core = vega_core()
    core.apply_params(params("vega-agent", enabled=False), revision=1)
    assert core.evaluate("SPX", ORIGIN, 0.0).skipped is Skip.DISABLED
    core.apply_params(params("vega-agent", enabled=True), revision=2)
    assert core.evaluate("SPX", ORIGIN, 0.0).proposal is not None


def test_given_another_agents_params_then_they_are_refused_and_nothing_changes():
    core = gamma_core()
    with pytest.raises(ValueError, match="not 'gamma-agent'"):
        core.apply_params(params("vega-agent", enabled=False), revision=1)
    assert core.enabled and core.params_revision is None
