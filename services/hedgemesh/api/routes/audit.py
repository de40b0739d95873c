"""GET /v1/audit: the trail of mutating calls (limit changes, control commands), newest first."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from hedgemesh.api.deps import DEFAULT_PAGE, Limit, OperatorCaller, Since, Store, read
from hedgemesh.api.domain.views import AuditResponse
from hedgemesh.api.errors import ERROR_RESPONSES, FORBIDDEN, UNAVAILABLE

router = APIRouter(tags=["audit"], responses={**ERROR_RESPONSES, **FORBIDDEN, **UNAVAILABLE})

#: A path prefix: printable ASCII, no spaces.
_PATH_PATTERN = r"^/[\x21-\x7e]{0,511}$"
_MAX_ID = 2**63 - 1


@router.get("/v1/audit", response_model=AuditResponse)
async def audit(
    store: Store,
    _caller: OperatorCaller,
    actor: Annotated[
        str | None,
        Query(pattern=r"^[\x21-\x7e]{1,128}$", description="Only this token's calls (its name)."),
    ] = None,
    method: Annotated[
        Literal["POST", "PUT", "PATCH", "DELETE"] | None, Query(description="Only this method.")
    ] = None,
    path: Annotated[
        str | None,
        Query(
            pattern=_PATH_PATTERN,
            description="Only paths starting with this (e.g. /v1/limits/ or /v1/control/).",
        ),
    ] = None,
    status: Annotated[
        int | None, Query(ge=100, le=599, description="Only calls answered with this status.")
    ] = None,
    since: Since = None,
    before_id: Annotated[
        int | None,
        Query(ge=1, le=_MAX_ID, description="Only entries older than this id (the next page)."),
    ] = None,
    limit: Limit = DEFAULT_PAGE,
) -> AuditResponse:
    """Who changed what (method, path, body), the state before and after, when, and the
    answer — refusals included. Needs an operator or admin token."""
    rows = await read(
        lambda: store.audit(
            actor=actor,
            method=method,
            path=path,
            status=status,
            since=since,
            before_id=before_id,
            limit=limit,
        )
    )
    return AuditResponse(entries=rows)
