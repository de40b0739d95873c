"""The manager's key-value state: KV `limits` (per underlying, and the firm's) and
`trading_state` (the desk's), read by every replica, written by the leader.

At start the scenario's limits and the initial ACTIVE state are created, never overwriting
what is there; every `kv_poll_real_s` the trading state and every known limit are read again
(an operator may have changed them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hedgemesh.manager.domain.core import ManagerCore
from hedgemesh.manager.domain.limits import FIRM_LIMITS_KEY
from hedgemesh.runtime.errors import CasConflict, CorruptValue, NatsUnavailable
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.scenario.model import Scenario
from hedgemesh.wire import subjects
from hedgemesh.wire.codes import TradingState
from hedgemesh.wire.state import FirmLimits, RiskLimits, TradingStatus

__all__ = ["TRADING_KEY", "ManagerKV"]

log = logging.getLogger(__name__)

#: The desk-wide key of KV `trading_state`.
TRADING_KEY = "desk"


class ManagerKV:
    """The buckets as typed views (`kv(bucket, model)`: the service's)."""

    def __init__(self, kv: Callable[[str, type[Any]], TypedKV[Any]]) -> None:
        self._kv = kv

    def limits(self) -> TypedKV[RiskLimits]:
        return self._kv(subjects.KV_LIMITS, RiskLimits)

    def firm(self) -> TypedKV[FirmLimits]:
        return self._kv(subjects.KV_LIMITS, FirmLimits)

    def trading(self) -> TypedKV[TradingStatus]:
        return self._kv(subjects.KV_TRADING_STATE, TradingStatus)

    async def seed(self, scenario: Scenario | None, instance: str) -> None:
        """Create KV limits from the scenario and the trading state, never overwriting."""
        who = f"scenario:{scenario.name}" if scenario else "manager"
        limits = scenario.limits if scenario else None
        if limits is not None:
            if limits.firm is not None:
                await create(self.firm(), FIRM_LIMITS_KEY, limits.firm.firm_limits(who))
            for symbol, spec in limits.underlyings.items():
                await create(self.limits(), symbol, spec.risk_limits(symbol, who))
        initial = TradingStatus(
            state=TradingState.ACTIVE, reason="initial state", changed_by=instance
        )
        await create(self.trading(), TRADING_KEY, initial)

    async def poll(self, core: ManagerCore) -> None:
        """Read the trading state and every known limit into the core (all replicas)."""
        engine = core.engine
        try:
            status = await self.trading().get(TRADING_KEY)
            if status is not None:
                engine.trading = status.value
            firm = await self.firm().get(FIRM_LIMITS_KEY)
            if firm is not None:
                engine.limits.set(FIRM_LIMITS_KEY, firm.value, firm.revision)
            for und in sorted(core.known | set(engine.book.underlyings)):
                held = await self.limits().get(und)
                if held is not None:
                    engine.limits.set(und, held.value, held.revision)
        except (NatsUnavailable, CorruptValue) as error:
            core.stats["kv_errors"] += 1
            log.warning("manager: KV read failed: %s", error)

    async def read_limits(self, underlying: str) -> tuple[RiskLimits, int] | None:
        """An underlying's limits and their revision, or None (none there, or unreadable)."""
        try:
            held = await self.limits().get(underlying)
        except (NatsUnavailable, CorruptValue) as error:
            log.warning("manager: KV limits of %s unreadable: %s", underlying, error)
            return None
        return None if held is None else (held.value, held.revision)

    async def put_trading(self, status: TradingStatus) -> None:
        await self.trading().put(TRADING_KEY, status)


async def create(kv: TypedKV[Any], key: str, value: Any) -> bool:
    """Create a KV key unless it exists; True when created."""
    try:
        await kv.create(key, value)
        return True
    except CasConflict:
        return False
    except NatsUnavailable as error:
        log.warning("manager: could not seed %s/%s: %s", kv.bucket, key, error)
        return False
