"""Compare-and-set of a KV entry for the routes that change one (limits, agent parameters):
the revision the caller read is checked, then the write is conditional on it."""

from __future__ import annotations

from hedgemesh.api.adapters.desk import CasConflict, Desk, DeskUnavailable
from hedgemesh.api.errors import ApiError
from hedgemesh.wire.base import WireModel


def refuse_stale(what: str, held: int, sent: int | None) -> None:
    """409 STALE_REVISION when the caller sent a revision (`sent`) other than the `held` one."""
    if sent is not None and sent != held:
        raise ApiError(
            409,
            f"{what} are at revision {held}, not {sent}: read them again and retry",
            code="STALE_REVISION",
        )


async def store_if_unchanged(
    desk: Desk, bucket: str, key: str, value: WireModel, *, last: int, what: str
) -> int:
    """Store `value` unless the entry moved past revision `last` (0: unless it exists); its
    new revision. 409 CONCURRENT_CHANGE when someone else won, 503 when the desk is down."""
    try:
        return await desk.update(bucket, key, value, last=last)
    except CasConflict:
        raise ApiError(
            409,
            f"{what} changed concurrently (were at revision {last}): read them again and retry",
            code="CONCURRENT_CHANGE",
        ) from None
    except DeskUnavailable as error:
        raise ApiError(503, str(error)) from None
