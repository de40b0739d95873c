"""The agents' settings (env prefixes, cost assumptions = execution's venue) and the listed
options they choose from (= marketdata's chain)."""

from __future__ import annotations

import pytest
from agent_examples import ORIGIN, gamma_core, scenario
from pydantic import ValidationError

from hedgemesh.agentkit.chain import Listings, listed_candidates, listed_instruments
from hedgemesh.agentkit.config import CostSettings
from hedgemesh.execution.config import ExecutionSettings
from hedgemesh.gamma_agent.config import GammaAgentSettings
from hedgemesh.market.session import MarketSession
from hedgemesh.vega_agent.config import VegaAgentSettings


def test_given_the_defaults_then_the_cost_model_assumes_executions_option_books():
    execution = ExecutionSettings()
    costs = CostSettings()
    liquidity = execution.option_liquidity.model_dump()
    for name, value in costs.model_dump().items():
        if name in liquidity:
            assert value == liquidity[name], name
    assert costs.tick_size == execution.option_tick_size
    assert costs.fee_per_contract == execution.option_fee_per_contract


def test_given_the_environment_then_each_agent_reads_its_own_prefix(monkeypatch):
    monkeypatch.setenv("HEDGEMESH_GAMMA_AGENT_BAND_FRACTION", "0.7")
    monkeypatch.setenv("HEDGEMESH_GAMMA_AGENT_COSTS__TOP_SIZE", "20")
    monkeypatch.setenv("HEDGEMESH_VEGA_AGENT_VEGA_TENOR_DAYS", "60")
    gamma, vega = GammaAgentSettings(), VegaAgentSettings()
    assert gamma.band_fraction == 0.7 and gamma.costs.top_size == 20.0
    assert vega.band_fraction == 0.5 and vega.vega_tenor_days == 60.0
    assert vega.min_tenor_days == 20.0 and gamma.min_tenor_days == 2.0


def test_given_bands_or_tenors_that_do_not_nest_then_the_settings_refuse():
    with pytest.raises(ValidationError, match="target_fraction"):
        GammaAgentSettings(band_fraction=0.3, target_fraction=0.4)
    with pytest.raises(ValidationError, match="min_tenor_days"):
        VegaAgentSettings(min_tenor_days=90, max_tenor_days=60)
    with pytest.raises(ValidationError, match="policy_tenor_days"):
        GammaAgentSettings(policy_tenor_days=1.0)


def test_given_the_start_then_the_candidates_are_marketdatas_listed_chain():
    session = MarketSession(scenario(), ORIGIN, client_flow=False)
    session.start()
    for underlying, state in session.states.items():
        spec = next(u.chain for u in scenario().underlyings if u.symbol == underlying)
        listed = listed_instruments(underlying, spec, state.chain.expiry_times, state.tick().price)
        assert set(listed) == set(state.chain.instruments)


def test_given_a_tenor_window_then_only_those_expiries_are_priced_and_listings_are_kept():
    core = gamma_core()
    listings = Listings()
    spec = core.chains["SPX"]
    first = listed_candidates(core.book, "SPX", spec, ORIGIN, min_days=2, max_days=45,
                              listings=listings)  # fmt: skip
    assert first.tau_days.min() >= 2 and first.tau_days.max() <= 45
    assert {round(d) for d in first.tau_days} == {7, 14, 30}
    again = listed_candidates(core.book, "SPX", spec, ORIGIN, min_days=2, max_days=45,
                              listings=listings)  # fmt: skip
    assert again.instruments is first.instruments
    assert (first.fair > 0).all() and (first.unit.gamma > 0).all()
