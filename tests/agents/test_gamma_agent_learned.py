"""The gamma-agent running a learned policy (no NATS): the checkpoint decides through the same
`policies.live.decide`, the band stands in (and says why, with a count) when it cannot, live
parameters switch between the two, and the component puts it all in the heartbeats and the
logs."""

from __future__ import annotations

import asyncio
import logging

import pytest
from agent_examples import ORIGIN, core
from pydantic import ValidationError

from hedgemesh.agentkit.adapters.component import AgentComponent
from hedgemesh.gamma_agent.config import GammaAgentSettings
from hedgemesh.gamma_agent.domain.specialist import GammaSpecialist
from hedgemesh.policies.learned.serving import LearnedServing
from hedgemesh.runtime.clock import SteppedClock
from hedgemesh.wire.ops import HedgePolicy
from hedgemesh.wire.params import AgentParams
from tests.policies.learned_checkpoints import write_checkpoint

from .test_agent_core import FakeService


def learned_core(checkpoint, **settings):
    serving = LearnedServing(checkpoint, budget_s=1.0)
    agent = core(GammaSpecialist(serving=serving), GammaAgentSettings(manager=None, **settings))
    return agent, serving


def spx_gamma(agent):
    return float(agent.book.risk(ORIGIN).by_underlying.gamma[agent.book.index("SPX")])


def test_given_policy_learned_then_the_checkpoint_decides_within_bounds(tmp_path):
    write_checkpoint(tmp_path / "ck", head="fraction", bias=0.0)  # about half of neutral
    agent, serving = learned_core(tmp_path / "ck", policy="learned")
    gamma = spx_gamma(agent)
    proposal = agent.evaluate("SPX", ORIGIN, 0.0).proposal
    assert proposal is not None
    change = proposal.expected_change.gamma
    assert 0.0 < change / -gamma < 1.0  # towards neutral, never past it
    status = agent.specialist.policy_status(agent.rules)
    assert (status.asked, status.last, status.fallbacks) == ("learned", "learned", 0)
    assert status.decisions == serving.decisions == 1


def test_given_a_missing_checkpoint_then_the_band_decides_and_says_why(tmp_path):
    band_agent, _ = learned_core(None)
    agent, _ = learned_core(tmp_path / "nothing", policy="learned")
    band = band_agent.evaluate("SPX", ORIGIN, 0.0).proposal
    fallen = agent.evaluate("SPX", ORIGIN, 0.0).proposal
    assert band is not None and fallen is not None
    assert fallen.expected_change == band.expected_change
    status = agent.specialist.policy_status(agent.rules)
    assert (status.last, status.fallbacks, status.reason) == ("band", 1, "missing")
    assert "nothing" in status.detail


def test_live_parameters_switch_the_agent_between_policies(tmp_path):
    write_checkpoint(tmp_path / "ck", head="fraction")
    agent, serving = learned_core(tmp_path / "ck")
    band = agent.evaluate("SPX", ORIGIN, 0.0).proposal
    assert serving.decisions == 0  # the environment's policy: the band
    learned = learned_core(tmp_path / "ck")[0]
    learned.apply_params(AgentParams(agent="gamma-agent", changed_by="ops", policy="learned"), 4)
    proposal = learned.evaluate("SPX", ORIGIN, 0.0).proposal
    assert band is not None and proposal is not None
    assert proposal.expected_change.gamma != pytest.approx(band.expected_change.gamma)
    assert learned.specialist.policy_status(learned.rules).asked is HedgePolicy.LEARNED
    learned.apply_params(None, None)
    assert learned.specialist.policy_status(learned.rules).asked is HedgePolicy.BAND


def test_only_the_gamma_agent_can_be_asked_for_a_learned_policy():
    with pytest.raises(ValidationError, match="no learned policy"):
        AgentParams(agent="vega-agent", changed_by="ops", policy="learned")
    assert AgentParams(agent="vega-agent", changed_by="ops", policy="band").policy == "band"


def test_the_component_puts_the_policy_in_the_heartbeats_and_logs_each_fallback(tmp_path, caplog):
    agent, _ = learned_core(tmp_path / "nothing", policy="learned")
    settings = GammaAgentSettings(manager=None, policy="learned")
    component = AgentComponent(agent, settings, real_time=lambda: 0.0)
    component._service = FakeService(is_leader=False, epoch=None, clock=SteppedClock(ORIGIN))
    with caplog.at_level(logging.WARNING, logger="hedgemesh.agentkit.component"):
        asyncio.run(component.cycle("SPX"))
    status = component._service.policy_status
    assert status is not None and status.fallbacks == 1 and status.reason == "missing"
    assert "the band stood in for the learned policy (missing" in caplog.text
    assert "1 fallbacks in 1 decisions" in caplog.text
