"""GET /v1/pnl: the ledger's P&L with its attribution by greek, costs and new trades."""

from __future__ import annotations

from fastapi import APIRouter

from hedgemesh.api.deps import Model, UnderlyingFilter
from hedgemesh.api.domain.views import PnlResponse
from hedgemesh.api.errors import ERROR_RESPONSES, NOT_FOUND

router = APIRouter(tags=["book"], responses={**ERROR_RESPONSES, **NOT_FOUND})


@router.get("/v1/pnl", response_model=PnlResponse)
async def pnl(model: Model, underlying: UnderlyingFilter) -> PnlResponse:
    """Total P&L (the ledger's realised + unrealised) per underlying and in all, and its
    attribution since the API began following: delta, gamma, theta, vega, transaction costs
    (hedge fills against fair value), new trades (client trades against fair value) and the
    unexplained rest. See docs/api.md for the method."""
    return model.pnl_view(underlying)
