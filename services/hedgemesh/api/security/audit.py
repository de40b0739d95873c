"""The audit trail: every mutating request (POST, PUT, PATCH, DELETE) that got past `Gate` is
recorded with who sent it, what it asked (method, path, body), the state before and after, when
(real UTC time) and the status it was answered with — refusals (403, 409, 422, 503) included.

An ASGI middleware inside `Gate`: it keeps the first `MAX_BODY_BYTES` of the request body as it
is read, and writes the entry when the response starts (so whoever reads the trail after the
answer finds it). The route says what changed through the `Change` it is handed (`deps.Audit`);
a route that changes nothing leaves both sides None.

Fails closed: before the route runs, `ready` proves the trail can be written now (an append
rolled back); when it cannot, the call is answered 503 `AUDIT_UNAVAILABLE` and the route never
runs, so nothing changes unrecorded. Should the entry still fail after the route acted (the
store lost in between), the answer stands, with an ERROR saying the change is unrecorded and
`api_audit_failures_total{stage="record"}` counted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hedgemesh.api.errors import error_response
from hedgemesh.api.security.auth import Caller
from hedgemesh.api.security.gate import caller_of
from hedgemesh.runtime import metrics
from hedgemesh.store.audit import AuditEntry

__all__ = ["CHANGE", "MAX_BODY_BYTES", "MUTATING", "AuditTrail", "Change", "body_value"]

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Most of a request body kept in the trail.
MAX_BODY_BYTES = 16 * 1024
#: Where a route's `Change` is kept in the request's state.
CHANGE = "audit_change"

Record = Callable[[AuditEntry], Awaitable[None]]
Ready = Callable[[], Awaitable[None]]

FAILURES = metrics.counter(
    "api_audit_failures_total",
    "Audit entries that could not be written: probe (the call refused), record (after acting).",
    ["stage"],
)


@dataclass
class Change:
    """What a mutating route changed: JSON values of the state before and after."""

    before: Any = None
    after: Any = None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def body_value(raw: bytes, size: int) -> Any:
    """A request body for the trail: its JSON value, else its text (cut when over
    `MAX_BODY_BYTES`, with the full size said); None when empty."""
    if not size:
        return None
    if size <= MAX_BODY_BYTES:
        try:
            return json.loads(raw, parse_constant=_no_constant)
        except ValueError:
            pass
    text = raw.decode("utf-8", errors="replace")
    return text if size <= MAX_BODY_BYTES else f"{text}… ({size} bytes)"


class AuditTrail:
    """ASGI middleware: `record` an `AuditEntry` per mutating request (`clock`: when)."""

    def __init__(
        self,
        app: ASGIApp,
        record: Record,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ready: Ready | None = None,
    ) -> None:
        self.app = app
        self.record = record
        self.clock = clock
        self.ready = ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = caller_of(scope) if scope["type"] == "http" else None
        if caller is None or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        if self.ready is not None:
            try:
                await self.ready()
            except Exception as error:
                FAILURES.labels(stage="probe").inc()
                log.error(
                    "api: the audit trail cannot be written; %s %s by %s refused, nothing "
                    "changed: %s", scope["method"], scope["path"], caller.name, error,
                )  # fmt: skip
                refusal = error_response(
                    503,
                    "AUDIT_UNAVAILABLE",
                    "the audit trail cannot be written, so nothing was changed; try again once "
                    "the store is back",
                )
                await refusal(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        recorded = False

        async def reading() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                if size < MAX_BODY_BYTES:
                    chunks.append(body[: MAX_BODY_BYTES - size])
                size += len(body)
            return message

        async def answering(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                await self._write(scope, caller, body_value(b"".join(chunks), size), message)
            await send(message)

        try:
            await self.app(scope, reading, answering)
        except Exception:
            if not recorded:
                await self._write(
                    scope, caller, body_value(b"".join(chunks), size), {"status": 500}
                )
            raise

    async def _write(self, scope: Scope, caller: Caller, body: Any, start: Message) -> None:
        change = scope.get("state", {}).get(CHANGE) or Change()
        entry = AuditEntry(
            at=self.clock(),
            actor=caller.name,
            role=caller.role.value,
            method=scope["method"],
            path=scope["path"],
            status=int(start["status"]),
            body=body,
            before=change.before,
            after=change.after,
        )
        try:
            await self.record(entry)
        except Exception:
            FAILURES.labels(stage="record").inc()
            log.exception(
                "api: the audit entry of %s %s (answered %d) was not stored: the change is "
                "unrecorded", entry.method, entry.path, entry.status,
            )  # fmt: skip
