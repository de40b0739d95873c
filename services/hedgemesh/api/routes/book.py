"""GET /v1/positions and /v1/risk: the ledger's positions and the book's greeks on limits."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hedgemesh.api.deps import Model, UnderlyingFilter
from hedgemesh.api.domain.views import PositionsResponse, RiskResponse
from hedgemesh.api.errors import ERROR_RESPONSES, NOT_FOUND

router = APIRouter(tags=["book"], responses={**ERROR_RESPONSES, **NOT_FOUND})

JSON = "application/json"


@router.get("/v1/positions", response_model=PositionsResponse)
async def positions(model: Model, underlying: UnderlyingFilter) -> Response:
    """Positions per underlying, as of the ledger's latest snapshot of each: quantities,
    average prices, the ledger's marks, cash and P&L."""
    return Response(model.positions_json(underlying), media_type=JSON)


@router.get("/v1/risk", response_model=RiskResponse)
async def risk(model: Model, underlying: UnderlyingFilter) -> Response:
    """Greeks per underlying and expiry bucket and in total, each against its limit (KV
    `limits`) with its utilisation, at the clock's time; `underlying` lists only that one
    (the total stays the whole book's)."""
    if underlying is None:
        return Response(model.risk_json(), media_type=JSON)
    view = model.risk_view()
    rows = [row for row in view.underlyings if row.underlying == underlying]
    return Response(
        view.model_copy(update={"underlyings": rows}).model_dump_json(), media_type=JSON
    )
