"""The API's production wiring (the composition root): read model, NATS service, store."""

from __future__ import annotations

import asyncio
import logging

from hedgemesh.api.adapters.desk import NatsDesk
from hedgemesh.api.adapters.feed import Feed
from hedgemesh.api.adapters.records import Records
from hedgemesh.api.adapters.watch import DeskWatch
from hedgemesh.api.config import ApiSettings
from hedgemesh.api.context import ApiContext
from hedgemesh.api.domain.readmodel import ReadModel
from hedgemesh.runtime.clock import Clock
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.service import RuntimeSettings, Service
from hedgemesh.scenario import ScenarioError, load_scenario
from hedgemesh.store.db import StoreSettings, make_engine, migrate, session_factory

__all__ = ["SERVICE", "ServiceLifecycle", "build_context", "scenario_underlyings"]

log = logging.getLogger(__name__)

SERVICE = "api"


def scenario_underlyings(settings: ApiSettings) -> list[str]:
    """The scenario's underlyings; none (with a warning) when it cannot be read."""
    if settings.scenario is None:
        return []
    try:
        return list(load_scenario(settings.scenario).symbols)
    except (OSError, ScenarioError, ValueError) as error:
        log.warning(
            "api: scenario %s not read (%s); underlyings come from NATS", settings.scenario, error
        )
        return []


class ServiceLifecycle:
    """Migrates the store (in a thread), then starts the NATS service; stops it."""

    def __init__(self, service: Service, store: StoreSettings) -> None:
        self.service = service
        self.store = store
        self._started = False

    async def start(self) -> None:
        try:
            await asyncio.to_thread(migrate, self.store.url)
        except Exception:
            log.exception("api: migrating the store failed; reads of it will fail")
        await self.service.start()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            await self.service.stop()


def build_context(
    settings: ApiSettings,
    *,
    store: StoreSettings | None = None,
    runtime: RuntimeSettings | None = None,
    nats: NatsSettings | None = None,
    clock: Clock | None = None,
) -> ApiContext:
    """Every part from its settings (each defaults to the environment)."""
    store = store or StoreSettings()
    runtime = runtime or RuntimeSettings()
    feed_model = ReadModel(
        scenario_underlyings(settings),
        heartbeat_stale_s=settings.heartbeat_stale_s,
        risk_max_age_s=settings.risk_max_age_s,
        day_start=runtime.clock_start,
    )
    feed = Feed(feed_model, kv_poll_s=settings.kv_poll_s)
    watch = DeskWatch(feed_model, settings.health_rules())
    service = Service(SERVICE, components=[feed, watch], settings=runtime, nats=nats, clock=clock)
    feed_model.clock = service.clock
    feed_model.real = service.liveness_clock  # heartbeat ages in real seconds at any speed
    return ApiContext(
        settings=settings,
        model=feed_model,
        desk=NatsDesk(service, control_timeout_s=settings.control_timeout_s),
        records=Records(session_factory(make_engine(store.url, store))),
        lifecycle=ServiceLifecycle(service, store),
        watch=watch,
    )
