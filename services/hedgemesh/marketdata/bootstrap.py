"""Wire the marketdata service: settings and scenario → clock → `Service` with its publisher."""

from __future__ import annotations

from hedgemesh.marketdata.config import MarketDataSettings
from hedgemesh.marketdata.publisher import MarketDataPublisher
from hedgemesh.runtime import AcceleratedClock, Clock, LiveClock, NatsSettings, Service
from hedgemesh.runtime.service import RuntimeSettings
from hedgemesh.scenario import Scenario, load_scenario

SERVICE = "marketdata"


def clock_for(scenario: Scenario, runtime: RuntimeSettings) -> Clock:
    """`HEDGEMESH_CLOCK_SPEED` when set (the launcher sets one speed for every service), else
    the scenario's `clock.speed`; anchored to the cluster's start (`HEDGEMESH_CLOCK_START` and
    `HEDGEMESH_CLOCK_ANCHOR`) when the launcher gives one, so every service shares the time."""
    speed = runtime.clock_speed if "clock_speed" in runtime.model_fields_set else None
    speed = speed or scenario.clock.speed
    if speed == 1.0 and runtime.clock_start is None:
        return LiveClock()
    return AcceleratedClock(speed, runtime.clock_start, anchor=runtime.clock_anchor)


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
    clock = clock or clock_for(scenario, runtime)
    publisher = MarketDataPublisher(scenario, settings)
    return Service(SERVICE, components=[publisher], settings=runtime, nats=nats, clock=clock)
