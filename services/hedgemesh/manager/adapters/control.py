"""Control commands to the manager (`hedge.v1.control.manager.<action>.<origin>`), answered by
the leader. Who may send which action is the server's permissions on the subject (the api any,
execution only `reduce` and `halt`); `changed_by` is the authenticated origin (`actor_of`).

| action | params | effect |
|---|---|---|
| `halt` | — | KV `trading_state/desk` = HALTED (reason: the command's `reason`) |
| `resume` | — | ACTIVE |
| `reduce` | — | REDUCING (only orders that shrink no greek's magnitude) |
| `set_limit` | `name`: an underlying or `firm`; `limits`: {field: value} | see below |
| `status` | — | nothing; the state below |

`set_limit` changes the given fields of KV `limits/<name>` by compare-and-set (a new
underlying needs every field) and applies them at once.

Every `ok=true` reply carries the manager's state in `ControlReply.state`
(`ManagerCore.status`). The handler sees the manager through `ControlPort` only.
Refusals (`ok=false`, `reason`): `NOT_LEADER` (a replica that just lost the lease; retry),
`INVALID_REQUEST` (bad params, unknown field), `INVALID_MESSAGE` (a value the limits model
refuses, with the field named in `detail`), `CONFLICT` (the limit changed concurrently three
times in a row), `UNSUPPORTED_ACTION`, `NATS_UNAVAILABLE` (KV unreachable).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol

from hedgemesh.manager.domain.limits import FIRM_LIMITS_KEY, updated
from hedgemesh.manager.domain.trading import STATE_OF_ACTION
from hedgemesh.runtime.bus import Envelope, actor_of
from hedgemesh.runtime.errors import CasConflict, NatsUnavailable, Rejected
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.wire.base import TOKEN_PATTERN
from hedgemesh.wire.ops import ControlAction, ControlCommand, ControlReply
from hedgemesh.wire.state import FirmLimits, RiskLimits, TradingStatus

__all__ = ["ControlHandler", "ControlPort"]

_CAS_TRIES = 3


class ControlPort(Protocol):
    """What control needs of the manager (its component implements it)."""

    @property
    def is_leader(self) -> bool: ...

    @property
    def instance(self) -> str: ...

    def now(self) -> datetime:
        """The clock's time."""
        ...

    def status(self) -> dict[str, Any]:
        """The manager's state (`ManagerCore.status`)."""
        ...

    async def set_trading(self, status: TradingStatus) -> TradingStatus:
        """Write the trading state to KV and act on it at once."""
        ...

    def limits_kv(self) -> TypedKV[RiskLimits]: ...

    def firm_kv(self) -> TypedKV[FirmLimits]: ...

    def set_limits(self, name: str, value: RiskLimits | FirmLimits, revision: int) -> None:
        """Act at once on limits just written to KV."""
        ...


class ControlHandler:
    """Serves the manager's control commands (module doc)."""

    def __init__(self, port: ControlPort) -> None:
        self.port = port

    async def handle(self, command: ControlCommand, envelope: Envelope) -> ControlReply:
        c = self.port
        if not c.is_leader:
            raise Rejected("NOT_LEADER", f"{c.instance} is a standby; retry")
        action, who = command.action, actor_of(command, envelope)
        try:
            if action in STATE_OF_ACTION:
                await c.set_trading(
                    TradingStatus(
                        state=STATE_OF_ACTION[action],
                        reason=command.reason,
                        changed_by=who,
                        causation_id=command.id,
                    )
                )
            elif action is ControlAction.SET_LIMIT:
                await self._set_limit(command, who)
            elif action is not ControlAction.STATUS:
                raise Rejected("UNSUPPORTED_ACTION", f"the manager does not serve {action}")
        except NatsUnavailable as error:
            raise Rejected("NATS_UNAVAILABLE", str(error)) from error
        return ControlReply(
            command_id=command.id,
            target=command.target,
            ok=True,
            state=c.status(),
            ts=c.now(),
        )

    async def _set_limit(self, command: ControlCommand, who: str) -> None:
        c = self.port
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
                            "changed_by": who,
                            "causation_id": command.id,
                        }
                    )
                else:
                    current: Any = held.value
                    value = updated(
                        current,
                        changes,
                        changed_by=who,
                        causation_id=command.id,
                    )
            except ValueError as error:
                if type(error) is ValueError:
                    raise Rejected("INVALID_REQUEST", str(error)) from error
                raise  # a ValidationError: INVALID_MESSAGE with the field named
            value = value.model_copy(update={"ts": c.now()})
            try:
                if held is None:
                    revision = await kv.create(name, value)
                else:
                    revision = await kv.update(name, value, last=held.revision)
            except CasConflict:
                continue
            c.set_limits(name, value, revision)
            return
        raise Rejected("CONFLICT", f"limits/{name} kept changing; try again")
