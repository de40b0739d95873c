"""Wires the manager (the composition root): its core (decision engine on a book, limits,
budgets and orders in flight), its store, and its component inside a `Service` with the
`manager` lease. Every collaborator is built here, before anything starts."""

from __future__ import annotations

import dataclasses

from hedgemesh.manager.adapters.component import ManagerComponent
from hedgemesh.manager.adapters.outbox import Outbox
from hedgemesh.manager.config import ManagerSettings
from hedgemesh.manager.domain.budgets import Budgets
from hedgemesh.manager.domain.core import ManagerCore
from hedgemesh.manager.domain.engine import DecisionEngine
from hedgemesh.manager.domain.inflight import InFlight
from hedgemesh.manager.domain.limits import DeskLimits
from hedgemesh.market.book_state import BookState
from hedgemesh.runtime.clock import AcceleratedClock, Clock
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.service import RuntimeSettings, Service, clock_for
from hedgemesh.scenario import load_scenario
from hedgemesh.scenario.model import Scenario
from hedgemesh.store.audit import AuditRepository, ControlTrail
from hedgemesh.store.db import StoreSettings, make_engine, session_factory
from hedgemesh.store.decisions import DecisionRepository
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

    The component is `service.components[0]` (its `core`, `outbox` and `ready` event).
    """
    settings = settings or ManagerSettings()
    if scenario is None and settings.scenario is not None:
        scenario = load_scenario(settings.scenario)
    store = store or StoreSettings()
    runtime = runtime or RuntimeSettings()
    clock = clock or clock_for(runtime)
    engine = DecisionEngine(
        params=settings.decision_params(venue or VenueSettings().spec()),
        book=BookState(),
        limits=DeskLimits(),
        budgets=budgets(settings, scenario, clock),
        inflight=InFlight(settings.inflight_timeout_real_s),
        partitions=runtime.partitions,  # the agents' leases, one per partition
    )
    rules = settings.rules()
    if isinstance(clock, AcceleratedClock) and clock.speed > 1.0:
        rules = dataclasses.replace(rules, reduce_lag_s=None)  # paced, not reduced
    core = ManagerCore(rules, engine)
    db = make_engine(store.url, store)
    outbox = Outbox(DecisionRepository(session_factory(db)), db, store.url, core.stats)
    trail = ControlTrail(AuditRepository(session_factory(db)))
    component = ManagerComponent(settings, core, outbox, scenario, trail=trail)
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


def budgets(settings: ManagerSettings, scenario: Scenario | None, clock: Clock) -> Budgets:
    """The agents' budgets: the scenario's `limits.budgets` when it has them, else
    `default_budget` for each of `agents` and the settings' period, floor and rate (the period
    is set again from the store at start)."""
    spec = scenario.limits.budgets if scenario and scenario.limits else None
    if spec is None:
        return Budgets(
            {agent: settings.default_budget for agent in settings.agents},
            period_s=settings.budget_period_s,
            floor_fraction=settings.budget_floor_fraction,
            rate=settings.budget_reallocation_rate,
            now=clock.now(),
        )
    return Budgets(
        dict(spec.agents),
        period_s=float(spec.period),
        floor_fraction=float(spec.floor_fraction),
        rate=float(spec.reallocation_rate),
        now=clock.now(),
    )
