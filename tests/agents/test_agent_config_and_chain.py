"""The agents' settings (env prefixes, one venue for every cost model) and the listed
options they choose from (= marketdata's chain)."""

from __future__ import annotations

import pytest
from agent_examples import ORIGIN, gamma_core, scenario
from pydantic import ValidationError

from hedgemesh.agentkit.domain.chain import Listings, listed_candidates, listed_instruments
from hedgemesh.execution.bootstrap import build as build_execution
from hedgemesh.gamma_agent.bootstrap import build as build_gamma
from hedgemesh.gamma_agent.config import GammaAgentSettings
from hedgemesh.manager.bootstrap import build as build_manager
from hedgemesh.market.session import MarketSession
from hedgemesh.policies.selection import LadderCost
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.service import RuntimeSettings
from hedgemesh.scenario import DEFAULT_SCENARIO
from hedgemesh.store.db import StoreSettings
from hedgemesh.vega_agent.config import VegaAgentSettings
from hedgemesh.venue.spec import VENUE


def test_given_a_venue_setting_then_execution_the_manager_and_the_agents_all_read_it(monkeypatch):
    monkeypatch.setenv("HEDGEMESH_VENUE_OPTION__FEE_PER_CONTRACT", "0.65")
    monkeypatch.setenv("HEDGEMESH_VENUE_OPTION__LIQUIDITY__TOP_SIZE", "20")
    monkeypatch.setenv("HEDGEMESH_SCENARIO", str(DEFAULT_SCENARIO))
    runtime = RuntimeSettings(instance="venue-test")
    nats = NatsSettings(url="nats://127.0.0.1:1")
    store = StoreSettings(url="sqlite://")
    engine = build_execution(store=store, runtime=runtime, nats=nats).components[0].engine
    manager = build_manager(store=store, runtime=runtime, nats=nats).components[0]
    agent = build_gamma(runtime=runtime, nats=nats).components[0].core
    assert engine.venue_spec.option.fee_per_contract == 0.65
    assert engine.venue_spec.option.liquidity.top_size == 20.0
    assert manager.core.engine.params.venue == engine.venue_spec
    assert agent.costs == LadderCost.of(engine.venue_spec.option)
    assert agent.costs.fee_per_contract == 0.65 and agent.costs.top_size == 20.0
    assert agent.costs.half_spread_bp == VENUE.option.half_spread_bp  # the rest as it was


def test_given_the_environment_then_each_agent_reads_its_own_prefix(monkeypatch):
    monkeypatch.setenv("HEDGEMESH_GAMMA_AGENT_BAND_FRACTION", "0.7")
    monkeypatch.setenv("HEDGEMESH_VEGA_AGENT_VEGA_TENOR_DAYS", "60")
    gamma, vega = GammaAgentSettings(), VegaAgentSettings()
    assert gamma.band_fraction == 0.7
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
