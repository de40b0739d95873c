"""Wires execution: its component inside a `Service` (the composition root)."""

from __future__ import annotations

from hedgemesh.execution.adapters.component import ExecutionComponent
from hedgemesh.execution.config import ExecutionSettings
from hedgemesh.runtime.clock import Clock
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.service import RuntimeSettings, Service
from hedgemesh.store.db import StoreSettings
from hedgemesh.venue.settings import VenueSettings
from hedgemesh.venue.spec import VenueSpec

SERVICE = "execution"


def build(
    settings: ExecutionSettings | None = None,
    *,
    store: StoreSettings | None = None,
    runtime: RuntimeSettings | None = None,
    nats: NatsSettings | None = None,
    clock: Clock | None = None,
    venue: VenueSpec | None = None,
) -> Service:
    """The execution service; every argument defaults to its settings from the environment
    (the venue from `HEDGEMESH_VENUE_*`).

    The component is `service.components[0]` (its `engine`, `outbox` and `ready` event).
    """
    component = ExecutionComponent(
        settings or ExecutionSettings(), store or StoreSettings(), venue or VenueSettings().spec()
    )
    return Service(SERVICE, components=[component], settings=runtime, nats=nats, clock=clock)
