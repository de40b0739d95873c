"""Wire the marketdata service: settings and scenario → clock → `Service` with its publisher."""

from __future__ import annotations

from hedgemesh.marketdata.adapters.component import MarketDataPublisher
from hedgemesh.marketdata.config import MarketDataSettings
from hedgemesh.runtime import Clock, NatsSettings, Service
from hedgemesh.runtime.service import RuntimeSettings, clock_for
from hedgemesh.scenario import Scenario, load_scenario

SERVICE = "marketdata"


def build(
    settings: MarketDataSettings | None = None,
    *,
    scenario: Scenario | None = None,
    clock: Clock | None = None,
    runtime: RuntimeSettings | None = None,
    nats: NatsSettings | None = None,
) -> Service:
    """The marketdata service; raises `ScenarioError` for a bad scenario file."""
    settings = settings or MarketDataSettings()
    scenario = scenario or load_scenario(settings.scenario)
    runtime = runtime or RuntimeSettings()
    clock = clock or clock_for(runtime, scenario.clock.speed)
    publisher = MarketDataPublisher(scenario, settings)
    return Service(SERVICE, components=[publisher], settings=runtime, nats=nats, clock=clock)
