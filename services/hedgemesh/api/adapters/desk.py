"""The API's ports to the running desk over NATS: control commands to the manager, and the
KV buckets `limits` and `trading_state`.

`Desk` is what the routes use; `NatsDesk` implements it on the API's `Service` (its bus and
buckets), and tests hand the app a fake. Failures come back as `DeskUnavailable` (NATS down,
nobody serving control, no reply in time) or `CasConflict` (a KV compare-and-set lost).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol, TypeVar

from hedgemesh.runtime.errors import (
    CasConflict,
    CorruptValue,
    JetStreamRefused,
    NatsUnavailable,
    NoResponders,
)
from hedgemesh.runtime.kv import Versioned
from hedgemesh.runtime.service import Service
from hedgemesh.wire import subjects
from hedgemesh.wire.base import WireModel
from hedgemesh.wire.book import ClientTrade
from hedgemesh.wire.ops import ControlCommand, ControlReply

__all__ = [
    "EXECUTION",
    "MANAGER",
    "NOT_LEADER",
    "CasConflict",
    "Desk",
    "DeskUnavailable",
    "NatsDesk",
]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=WireModel)

#: The control target of the manager.
MANAGER = "manager"
#: The control target of execution (its kill switch).
EXECUTION = "execution"
#: Reason code of a standby's refusal: ask again, the leader may answer next time.
NOT_LEADER = "NOT_LEADER"
_RETRY_PAUSE_S = 0.05


class DeskUnavailable(Exception):
    """NATS, JetStream or the manager could not be reached; `str()` says which, for a person."""


class Desk(Protocol):
    """Control and live state of the desk (see the module doc)."""

    @property
    def connected(self) -> bool: ...

    async def command(self, command: ControlCommand) -> ControlReply:
        """Send a command and return the reply; `DeskUnavailable` when nobody answers."""
        ...

    async def get(self, bucket: str, key: str, model: type[M]) -> Versioned[M] | None:
        """The latest value of `bucket/key` (None when missing)."""
        ...

    async def update(self, bucket: str, key: str, value: WireModel, *, last: int) -> int:
        """Compare-and-set `bucket/key` from revision `last`; the new revision, or
        `CasConflict`."""
        ...

    async def book_trade(self, trade: ClientTrade) -> bool:
        """Store a client trade on JetStream (`hedge.v1.book.trade`, deduplicated by its id),
        the ledger's input; False when it was stored before."""
        ...


class NatsDesk:
    """`Desk` on a `Service`'s connection (usable once the service has started)."""

    def __init__(self, service: Service, *, control_timeout_s: float = 2.0) -> None:
        self._service = service
        self.control_timeout_s = control_timeout_s

    @property
    def connected(self) -> bool:
        return self._service.health().connected

    def _check_connected(self) -> None:
        if not self.connected:
            raise DeskUnavailable("the API is not connected to NATS (yet); try again shortly")

    async def command(self, command: ControlCommand) -> ControlReply:
        """Ask until the leader answers: a standby's NOT_LEADER is retried within the timeout."""
        self._check_connected()
        deadline = time.monotonic() + self.control_timeout_s
        subject = command.subject_for(self._service.bus.service)
        while True:
            left = deadline - time.monotonic()
            try:
                reply = await self._service.bus.command(command, timeout_s=max(left, 0.01))
            except NoResponders:
                raise DeskUnavailable(
                    f"no {command.target} answers control commands on {subject}: "
                    f"is the {command.target} running?"
                ) from None
            except NatsUnavailable:
                raise DeskUnavailable(
                    f"the {command.target} did not answer within {self.control_timeout_s:g} s"
                ) from None
            if reply.ok or reply.reason != NOT_LEADER or left <= _RETRY_PAUSE_S:
                return reply
            await asyncio.sleep(_RETRY_PAUSE_S)

    async def get(self, bucket: str, key: str, model: type[M]) -> Versioned[M] | None:
        self._check_connected()
        try:
            return await self._service.kv(bucket, model).get(key)
        except CorruptValue as error:
            raise DeskUnavailable(f"KV {bucket}/{key} holds an invalid value: {error}") from None
        except NatsUnavailable as error:
            raise DeskUnavailable(f"KV {bucket} is unreachable: {error}") from None

    async def update(self, bucket: str, key: str, value: WireModel, *, last: int) -> int:
        self._check_connected()
        try:
            return await self._service.kv(bucket, type(value)).update(key, value, last=last)
        except NatsUnavailable as error:
            raise DeskUnavailable(f"KV {bucket} is unreachable: {error}") from None

    async def book_trade(self, trade: ClientTrade) -> bool:
        self._check_connected()
        try:
            ack = await self._service.bus.js_publish(
                subjects.BOOK_TRADE, trade, msg_id=trade.trade_id
            )
        except (NatsUnavailable, JetStreamRefused) as error:
            raise DeskUnavailable(f"the trade stream is unreachable: {error}") from None
        return not ack.duplicate
