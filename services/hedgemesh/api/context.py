"""What the routes work with: the settings, the read model and the ports (one per app)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from hedgemesh.api.adapters.desk import Desk
from hedgemesh.api.adapters.records import Records
from hedgemesh.api.adapters.watch import DeskWatch
from hedgemesh.api.config import ApiSettings
from hedgemesh.api.domain.readmodel import ReadModel


class Lifecycle(Protocol):
    """What the app starts with its lifespan and stops at shutdown (the NATS service, ...)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class ApiContext:
    """The application's state; `lifecycle` is None when the caller runs the parts itself."""

    settings: ApiSettings
    model: ReadModel
    desk: Desk
    records: Records
    lifecycle: Lifecycle | None = None
    watch: DeskWatch | None = None
    """The desk's health (None where the caller runs no NATS service)."""
    status_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One status question to the manager at a time."""
