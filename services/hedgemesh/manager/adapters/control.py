"""Control commands to the manager (`hedge.v1.control.manager`), answered by the leader.

| action | params | effect |
|---|---|---|
| `halt` | — | KV `trading_state/desk` = HALTED (reason: the command's `reason`) |
| `resume` | — | ACTIVE |
| `reduce` | — | REDUCING (only orders that shrink no greek's magnitude) |
| `set_limit` | `name`: an underlying or `firm`; `limits`: {field: value} | see below |
| `status` | — | nothing; the state below |

`set_limit` changes the given fields of KV `limits/<name>` by compare-and-set (a new
underlying needs every field) and applies them at once.

Every `ok=true` reply carries the manager's state in `ControlReply.state` (see `status`).
Refusals (`ok=false`, `reason`): `NOT_LEADER` (a replica that just lost the lease; retry),
`INVALID_REQUEST` (bad params, unknown field), `INVALID_MESSAGE` (a value the limits model
refuses, with the field named in `detail`), `CONFLICT` (the limit changed concurrently three
times in a row), `UNSUPPORTED_ACTION`, `NATS_UNAVAILABLE` (KV unreachable).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from hedgemesh.manager.domain.limits import FIRM_LIMITS_KEY, updated
from hedgemesh.manager.domain.trading import STATE_OF_ACTION
from hedgemesh.runtime.bus import Envelope
from hedgemesh.runtime.errors import CasConflict, NatsUnavailable, Rejected
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.wire.base import TOKEN_PATTERN
from hedgemesh.wire.ops import ControlAction, ControlCommand, ControlReply
from hedgemesh.wire.state import FirmLimits, RiskLimits, TradingStatus

if TYPE_CHECKING:
    from hedgemesh.manager.adapters.component import ManagerComponent

__all__ = ["ControlHandler"]

_CAS_TRIES = 3


class ControlHandler:
    """Serves the manager's control commands (module doc)."""

    def __init__(self, component: ManagerComponent) -> None:
        self.component = component

    async def handle(self, command: ControlCommand, envelope: Envelope) -> ControlReply:
        c = self.component
        if not c.is_leader:
            raise Rejected("NOT_LEADER", f"{c.service.instance} is a standby; retry")
        action = command.action
        try:
            if action in STATE_OF_ACTION:
                await c.set_trading(
                    TradingStatus(
                        state=STATE_OF_ACTION[action],
                        reason=command.reason,
                        changed_by=command.issued_by,
                        causation_id=command.id,
                    )
                )
            elif action is ControlAction.SET_LIMIT:
                await self._set_limit(command)
            elif action is not ControlAction.STATUS:
                raise Rejected("UNSUPPORTED_ACTION", f"the manager does not serve {action}")
        except NatsUnavailable as error:
            raise Rejected("NATS_UNAVAILABLE", str(error)) from error
        return ControlReply(
            command_id=command.id,
            target=command.target,
            ok=True,
            state=self.status(),
            ts=c.clock.now(),
        )

    async def _set_limit(self, command: ControlCommand) -> None:
        c = self.component
        engine = c.engine
        assert engine is not None
        name = command.params.get("name")
        changes = command.params.get("limits")
        if not isinstance(name, str) or not isinstance(changes, dict):
            raise Rejected(
                "INVALID_REQUEST",
                "set_limit needs params {name: <underlying> or 'firm', limits: {field: value}}",
            )
        kv: TypedKV[Any]
        model: type[RiskLimits] | type[FirmLimits]
        if name == FIRM_LIMITS_KEY:
            kv, model = c.firm_kv(), FirmLimits
        else:
            if not re.fullmatch(TOKEN_PATTERN, name):
                raise Rejected("INVALID_REQUEST", f"{name!r} is not an underlying or 'firm'")
            kv, model = c.limits_kv(), RiskLimits
        for _ in range(_CAS_TRIES):
            held = await kv.get(name)
            value: Any
            try:
                if held is None:
                    extra = {} if model is FirmLimits else {"underlying": name}
                    value = model.model_validate(
                        {
                            **changes,
                            **extra,
                            "changed_by": command.issued_by,
                            "causation_id": command.id,
                        }
                    )
                else:
                    current: Any = held.value
                    value = updated(
                        current,
                        changes,
                        changed_by=command.issued_by,
                        causation_id=command.id,
                    )
            except ValueError as error:
                if type(error) is ValueError:
                    raise Rejected("INVALID_REQUEST", str(error)) from error
                raise  # a ValidationError: INVALID_MESSAGE with the field named
            value = value.model_copy(update={"ts": c.clock.now()})
            try:
                if held is None:
                    revision = await kv.create(name, value)
                else:
                    revision = await kv.update(name, value, last=held.revision)
            except CasConflict:
                continue
            engine.limits.set(name, value, revision)
            return
        raise Rejected("CONFLICT", f"limits/{name} kept changing; try again")

    def status(self) -> dict[str, Any]:
        """The manager's state: role, trading state, budgets, live slices, limits, last cycle.

        {
          "instance", "role" ("leader" | "standby"), "epoch",
          "trading_state": {"state", "reason", "changed_by", "causation_id", "ts"},
          "budgets": {"period_start", "period_end", "agents": {name: {"allocated",
                      "spent", "left", "risk_removed", "floor", "last_reallocation": None |
                      {"at", "from", "to", "efficiency", "reason"}}}},
          "slices": {agent: {"live", "leader", "heartbeat_age_s"}},
          "limits": {"revision", "revisions": {key: rev}, "underlyings": {UND: {...}},
                     "firm": {...} | None},
          "last_cycle": None | {"cycle_id", "underlying", "trigger", "decided_at",
                     "proposals", "orders", "greeks_before", "greeks_after", "decide_ms"},
          "open_cycles", "orders_in_flight" (count), "in_flight": {UND: {symbol: signed
                     quantity routed or filled but not yet in the positions}},
          "counters": {name: count}
        }
        """
        c = self.component
        engine = c.engine
        assert engine is not None
        live = c.live_slices()
        now = time.monotonic()
        trading = engine.trading
        return {
            "instance": c.service.instance,
            "role": "leader" if c.is_leader else "standby",
            "epoch": c.service.epoch,
            "trading_state": {
                "state": trading.state.value,
                "reason": trading.reason,
                "changed_by": trading.changed_by,
                "causation_id": trading.causation_id,
                "ts": trading.ts.isoformat(),
            },
            "budgets": engine.budgets.status(),
            "slices": {
                agent: {
                    "live": agent in live,
                    "leader": c.slices[agent].instance if agent in c.slices else None,
                    "heartbeat_age_s": round(now - c.slices[agent].seen_at, 3)
                    if agent in c.slices
                    else None,
                }
                for agent in c.settings.agents
            },
            "limits": engine.limits.status(),
            "last_cycle": c.last_cycle,
            "open_cycles": len(c.gatherer.open),
            "orders_in_flight": engine.inflight.working_orders(),
            "in_flight": {
                und: {
                    symbol: qty for symbol, (_, qty) in sorted(engine.inflight.pending(und).items())
                }
                for und in sorted(c.known_underlyings)
            },
            "counters": dict(sorted(c.stats.items())),
        }
