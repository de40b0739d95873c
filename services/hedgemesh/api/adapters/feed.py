"""The read model's inputs over NATS: a `Component` of the API's `Service`.

Subscribes to position snapshots, ticks, surfaces, execution reports (core NATS sees what
JetStream stores), heartbeats and proposals, and hands each decoded message to the read model
(bad input is dead-lettered by the bus). At start it asks the ledger for a snapshot of every
known underlying, so positions show at once rather than at the ledger's next periodic
snapshot; then it re-reads KV `limits` (every known underlying and `firm`) and
`trading_state/desk` every `kv_poll_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from hedgemesh.api.domain.readmodel import ReadModel
from hedgemesh.runtime.bus import Envelope
from hedgemesh.runtime.errors import CorruptValue, NatsUnavailable
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.service import Service
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.wire import subjects
from hedgemesh.wire.base import WireModel
from hedgemesh.wire.book import PositionSnapshot, PositionSnapshotRequest
from hedgemesh.wire.hedging import Proposal
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.ops import Heartbeat
from hedgemesh.wire.orders import ExecutionReport
from hedgemesh.wire.state import FIRM_LIMITS_KEY, FirmLimits, RiskLimits, TradingStatus

__all__ = ["DESK_KEY", "Feed"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=WireModel)

#: The key of the desk-wide trading state in KV `trading_state`.
DESK_KEY = "desk"
_SNAPSHOT_TIMEOUT_S = 1.0


def _handler(apply: Callable[[M], None]) -> Callable[[M, Envelope], Awaitable[None]]:
    async def handle(message: M, _envelope: Envelope) -> None:
        apply(message)

    return handle


class Feed:
    """Feeds a `ReadModel` from NATS (see the module doc)."""

    def __init__(self, model: ReadModel, *, kv_poll_s: float = 0.5) -> None:
        self.model = model
        self.kv_poll_s = kv_poll_s
        self._service: Service | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, service: Service) -> None:
        self._service = service
        bus, model = service.bus, self.model
        await bus.subscribe(subjects.ALL_POSITIONS, PositionSnapshot, _handler(model.on_snapshot))
        await bus.subscribe_latest(subjects.ALL_TICKS, Tick, _handler(model.on_tick))
        await bus.subscribe_latest(subjects.ALL_SURFACES, Surface, _handler(model.on_surface))
        await bus.subscribe(
            subjects.ALL_EXEC_REPORTS, ExecutionReport, _handler(model.on_execution_report)
        )
        await bus.subscribe(subjects.ALL_HEARTBEATS, Heartbeat, _handler(model.on_heartbeat))
        await bus.subscribe(subjects.ALL_PROPOSALS, Proposal, _handler(model.on_proposal))
        await self.poll_state()
        self._task = asyncio.create_task(self._run(), name="api-feed")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        await self.request_snapshots()
        while True:
            await asyncio.sleep(self.kv_poll_s)  # real time: KV polling is not market time
            try:
                await self.poll_state()
            except Exception:
                log.exception("api: reading KV failed")

    async def request_snapshots(self) -> None:
        """Ask the ledger for each known underlying's snapshot (no ledger: nothing happens)."""
        assert self._service is not None
        bus = self._service.bus
        for underlying in self.model.underlyings:
            request = PositionSnapshotRequest(
                underlying=underlying, requested_by="api", ts=self._service.clock.now()
            )
            with contextlib.suppress(NatsUnavailable, ValueError):
                snapshot = await bus.request(
                    subjects.POSITIONS_SNAPSHOT,
                    request,
                    PositionSnapshot,
                    timeout_s=_SNAPSHOT_TIMEOUT_S,
                )
                self.model.on_snapshot(snapshot)

    async def poll_state(self) -> None:
        """Read KV `limits` (each known underlying, and `firm`) and `trading_state/desk`."""
        assert self._service is not None
        service = self._service
        limits = service.kv(subjects.KV_LIMITS, RiskLimits)
        for key in self.model.underlyings:
            await self._read_limits(limits, key)
        await self._read_limits(service.kv(subjects.KV_LIMITS, FirmLimits), FIRM_LIMITS_KEY)
        try:
            status = await service.kv(subjects.KV_TRADING_STATE, TradingStatus).get(DESK_KEY)
        except (NatsUnavailable, CorruptValue) as error:
            log.debug("api: trading_state/%s not read: %s", DESK_KEY, error)
        else:
            self.model.on_trading_status(None if status is None else status.value)

    async def _read_limits(self, kv: TypedKV[RiskLimits] | TypedKV[FirmLimits], key: str) -> None:
        try:
            entry = await kv.get(key)
        except (NatsUnavailable, CorruptValue) as error:
            log.debug("api: limits/%s not read: %s", key, error)
            return
        if entry is None:
            self.model.on_limits(key, None, 0)
        else:
            self.model.on_limits(key, entry.value, entry.revision)
