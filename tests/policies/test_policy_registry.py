"""The registry the config loader builds policies from."""

from __future__ import annotations

import pytest

from hedgemesh.policies import POLICIES, DeltaGamma, DeltaGammaVega, HedgeOption, Policy, make


def test_every_policy_of_the_issue_is_registered_by_its_kind():
    assert set(POLICIES) == {
        "no_hedge",
        "delta_interval",
        "delta_move",
        "delta_band",
        "whalley_wilmott",
        "zakamouline",
        "leland",
        "delta_gamma",
        "delta_vega",
        "delta_gamma_vega",
        "portfolio_insurance",
        "learned",
    }
    for kind, factory in POLICIES.items():
        if kind == "learned":  # needs its checkpoint: tests/policies/test_policy_learned.py
            continue
        policy = factory()
        assert isinstance(policy, Policy)
        assert policy.kind == kind == policy.name


def test_make_builds_hedge_options_from_plain_mappings():
    p = make("delta_gamma", {"hedge": {"tenor_days": 90, "roll_days": 1}, "fraction": 0.5})
    assert isinstance(p, DeltaGamma)
    assert p.hedge == HedgeOption(tenor_days=90, roll_days=1)
    q = make("delta_gamma_vega", hedges=[{"tenor_days": 30}, {"tenor_days": 180}], name="dgv")
    assert isinstance(q, DeltaGammaVega) and q.name == "dgv"
    assert [h.tenor_days for h in q.hedges] == [30.0, 180.0]


def test_make_refuses_unknown_kinds_and_parameters_naming_what_is_known():
    with pytest.raises(ValueError, match="whalley_wilmott"):
        make("whaley")
    with pytest.raises(ValueError, match="risk_aversion"):
        make("whalley_wilmott", {"lambda": 0.1})
    with pytest.raises(ValueError):
        make("delta_band", half_width=-1.0)


def test_policies_are_frozen_and_comparable():
    p = make("delta_band", half_width=5.0)
    assert p == make("delta_band", half_width=5.0)
    with pytest.raises(AttributeError):
        p.half_width = 1.0  # type: ignore[misc]
