"""Wires the manager: its component inside a `Service` with the `manager` lease."""

from __future__ import annotations

from hedgemesh.manager.adapters.component import ManagerComponent
from hedgemesh.manager.config import ManagerSettings
from hedgemesh.runtime.clock import Clock
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.service import RuntimeSettings, Service
from hedgemesh.scenario import load_scenario
from hedgemesh.scenario.model import Scenario
from hedgemesh.store.db import StoreSettings
from hedgemesh.venue.settings import VenueSettings
from hedgemesh.venue.spec import VenueSpec

SERVICE = "manager"
LEASE = "manager"


def build(
    settings: ManagerSettings | None = None,
    *,
    scenario: Scenario | None = None,
    store: StoreSettings | None = None,
    runtime: RuntimeSettings | None = None,
    nats: NatsSettings | None = None,
    clock: Clock | None = None,
    venue: VenueSpec | None = None,
) -> Service:
    """A manager replica; every argument defaults to its settings from the environment (the
    scenario from `settings.scenario`, which fails here, naming the key, if the file is bad; the
    venue from `HEDGEMESH_VENUE_*`).

    The component is `service.components[0]`.
    """
    settings = settings or ManagerSettings()
    if scenario is None and settings.scenario is not None:
        scenario = load_scenario(settings.scenario)
    venue = venue or VenueSettings().spec()
    component = ManagerComponent(settings, store or StoreSettings(), scenario, venue)
    return Service(
        SERVICE,
        components=[component],
        lease=LEASE,
        on_gained=component.on_gained,
        on_lost=component.on_lost,
        settings=runtime,
        nats=nats,
        clock=clock,
    )
