"""What makes input bad, and the `DeadLetter` that records it. Pure: no I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import ValidationError

from hedgemesh.runtime.errors import Rejected
from hedgemesh.wire.base import PayloadTooLarge, new_id, utc_now
from hedgemesh.wire.ops import DeadLetter

#: Most characters of the raw payload kept in a dead letter. JSON escaping can grow text up to
#: six-fold and the whole dead letter must fit one NATS message (1 MiB by default).
PAYLOAD_TEXT_LIMIT = 64 * 1024
_REASON_LIMIT = 4096
_ERROR_LIMIT = 64
_SUBJECT_LIMIT = 512
_HEADERS_LIMIT = 256
_HEADER_TEXT_LIMIT = 4096


class BadInput(StrEnum):
    """Machine-readable classes of rejection raised by the runtime itself."""

    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    INVALID_JSON = "INVALID_JSON"
    INVALID_MESSAGE = "INVALID_MESSAGE"
    HANDLER_FAILED = "HANDLER_FAILED"


def classify(error: BaseException) -> tuple[str, str] | None:
    """`(error class, reason)` when `error` means the input is bad; None for any other failure.

    >>> classify(PayloadTooLarge(300_000))[0]
    'PAYLOAD_TOO_LARGE'
    >>> classify(Rejected("STALE_TICK", "tick 3 s old"))
    ('STALE_TICK', 'tick 3 s old')
    >>> classify(KeyError("x")) is None
    True
    """
    if isinstance(error, PayloadTooLarge):
        return BadInput.PAYLOAD_TOO_LARGE.value, str(error)
    if isinstance(error, Rejected):
        return error.code[:_ERROR_LIMIT], error.reason
    if isinstance(error, ValidationError):
        problems = error.errors(include_url=False, include_input=False)
        kind = (
            BadInput.INVALID_JSON
            if any(p["type"] == "json_invalid" for p in problems)
            else BadInput.INVALID_MESSAGE
        )
        details = "; ".join(
            f"{'.'.join(map(str, p['loc'])) or '<root>'}: {p['type']} ({p['msg']})"
            for p in problems
        )
        return kind.value, f"{error.title}: {details}"
    return None


def payload_text(payload: bytes) -> str:
    """The payload as UTF-8 text, undecodable bytes escaped, cut to `PAYLOAD_TEXT_LIMIT`."""
    return payload[: PAYLOAD_TEXT_LIMIT * 4].decode("utf-8", "backslashreplace")[
        :PAYLOAD_TEXT_LIMIT
    ]


def make_dead_letter(
    *,
    service: str,
    subject: str,
    payload: bytes,
    headers: Mapping[str, str] | None,
    error: str,
    reason: str,
    id: str | None = None,
    ts: datetime | None = None,
) -> DeadLetter:
    """A `DeadLetter` for a rejected message, with over-long fields cut to the schema's limits."""
    return DeadLetter(
        id=id or new_id(),
        ts=ts or utc_now(),
        service=service,
        subject=subject[:_SUBJECT_LIMIT],
        reason=reason[:_REASON_LIMIT] or error,
        error=error[:_ERROR_LIMIT],
        payload=payload_text(payload),
        payload_size=len(payload),
        headers={
            name[:_HEADER_TEXT_LIMIT]: value[:_HEADER_TEXT_LIMIT]
            for name, value in list((headers or {}).items())[:_HEADERS_LIMIT]
        },
    )
