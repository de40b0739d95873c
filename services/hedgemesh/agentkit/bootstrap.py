"""Wire one specialist agent: scenario (for the listed chains) → core → component → `Service`
with its lease (only the leader publishes)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from hedgemesh.agentkit.adapters.component import AgentComponent
from hedgemesh.agentkit.config import AgentSettings
from hedgemesh.agentkit.domain.core import AgentCore, Specialist
from hedgemesh.market.book_state import BookState
from hedgemesh.policies.selection import LadderCost
from hedgemesh.runtime import Clock, NatsSettings, Service
from hedgemesh.runtime.service import RuntimeSettings, clock_for, run_service
from hedgemesh.scenario import Scenario, ScenarioError, load_scenario
from hedgemesh.venue.settings import VenueSettings
from hedgemesh.venue.spec import VenueSpec


def build_agent(
    specialist: Specialist,
    settings: AgentSettings,
    *,
    scenario: Scenario | None = None,
    clock: Clock | None = None,
    runtime: RuntimeSettings | None = None,
    nats: NatsSettings | None = None,
    venue: VenueSpec | None = None,
) -> Service:
    """The agent's service, leased under its name; raises `ScenarioError` for a bad scenario.

    The clock is the cluster's (`HEDGEMESH_CLOCK_*`, else the scenario's speed), as
    marketdata's, so that tick ages are measured on the time the ticks are stamped with. The
    cost model reads the venue (`HEDGEMESH_VENUE_*`) as execution and the manager do.
    """
    scenario = scenario or load_scenario(settings.scenario)
    runtime = runtime or RuntimeSettings()
    chains = {u.symbol: u.chain for u in scenario.underlyings}
    venue = venue or VenueSettings().spec()
    core = AgentCore(
        specialist,
        settings.rules(),
        chains,
        BookState(bucket_edges_days=settings.bucket_edges_days),
        LadderCost.of(venue.option),
    )
    component = AgentComponent(core, settings, tuple(scenario.symbols))
    return Service(
        specialist.agent,
        components=[component],
        lease=specialist.agent,
        settings=runtime,
        nats=nats,
        clock=clock or clock_for(runtime, scenario.clock.speed),
    )


def run_agent(
    prog: str,
    settings_type: type[AgentSettings],
    build: Callable[..., Service],
    argv: list[str] | None = None,
) -> NoReturn:
    """What each agent's `__main__` runs: settings from the environment (`--scenario FILE`
    overrides the scenario), the scenario loaded (a bad one stops here, with the key that is
    wrong, before connecting), then `build(settings, scenario=...)` under `run_service`."""
    package = sys.modules.get(prog)
    parser = argparse.ArgumentParser(
        prog=f"python -m {prog}",
        description=package.__doc__ if package else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scenario", help="scenario file (default $HEDGEMESH_SCENARIO or scenarios/default.yaml)"
    )
    args = parser.parse_args(argv)
    settings = settings_type(scenario=args.scenario) if args.scenario else settings_type()
    try:
        scenario = load_scenario(settings.scenario)
    except ScenarioError as error:
        sys.exit(f"{prog}: {error}")
    run_service(lambda: build(settings, scenario=scenario))
