"""Wires the ledger: its component inside a `Service` (the composition root)."""

from __future__ import annotations

from hedgemesh.ledger.adapters.component import LedgerComponent
from hedgemesh.ledger.config import LedgerSettings
from hedgemesh.runtime.clock import Clock
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.service import RuntimeSettings, Service
from hedgemesh.store.db import StoreSettings

SERVICE = "ledger"


def build(
    settings: LedgerSettings | None = None,
    *,
    store: StoreSettings | None = None,
    runtime: RuntimeSettings | None = None,
    nats: NatsSettings | None = None,
    clock: Clock | None = None,
) -> Service:
    """The ledger service; every argument defaults to its settings from the environment."""
    component = LedgerComponent(settings or LedgerSettings(), store or StoreSettings())
    return Service(SERVICE, components=[component], settings=runtime, nats=nats, clock=clock)
