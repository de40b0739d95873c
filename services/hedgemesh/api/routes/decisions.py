"""GET /v1/decisions: the manager's decision on every proposal, newest first, filtered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hedgemesh.api.deps import (
    DEFAULT_PAGE,
    ID_PATTERN,
    Limit,
    Since,
    Store,
    UnderlyingFilter,
    read,
)
from hedgemesh.api.domain.views import DecisionsResponse
from hedgemesh.api.errors import ERROR_RESPONSES, NOT_FOUND, UNAVAILABLE
from hedgemesh.wire.base import TOKEN_PATTERN
from hedgemesh.wire.hedging import DecisionOutcome

router = APIRouter(tags=["manager"], responses={**ERROR_RESPONSES, **NOT_FOUND, **UNAVAILABLE})


@router.get("/v1/decisions", response_model=DecisionsResponse)
async def decisions(
    store: Store,
    underlying: UnderlyingFilter,
    agent: Annotated[
        str | None, Query(pattern=TOKEN_PATTERN, description="Only this agent's proposals.")
    ] = None,
    outcome: Annotated[
        DecisionOutcome | None, Query(description="approved, scaled or rejected.")
    ] = None,
    cycle_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="One hedge cycle.")
    ] = None,
    since: Since = None,
    limit: Limit = DEFAULT_PAGE,
) -> DecisionsResponse:
    """Decisions with their reason codes, the premium charged and the risk removed."""
    rows = await read(
        lambda: store.decisions(
            agent=agent,
            underlying=underlying,
            cycle_id=cycle_id,
            outcome=outcome,
            since=since,
            limit=limit,
        )
    )
    return DecisionsResponse(decisions=rows)
