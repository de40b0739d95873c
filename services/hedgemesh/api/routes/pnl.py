"""GET /v1/pnl: the ledger's P&L with its attribution by greek, costs and new trades."""

from __future__ import annotations

from fastapi import APIRouter

from hedgemesh.api.deps import Model, Since, UnderlyingFilter
from hedgemesh.api.domain.views import PnlResponse
from hedgemesh.api.errors import ERROR_RESPONSES, NOT_FOUND

router = APIRouter(tags=["book"], responses={**ERROR_RESPONSES, **NOT_FOUND})


@router.get("/v1/pnl", response_model=PnlResponse)
async def pnl(model: Model, underlying: UnderlyingFilter, since: Since = None) -> PnlResponse:
    """Total P&L (the ledger's realised + unrealised) per underlying and in all, and its
    attribution over a window (`since`, default: the trading day's start) to now: delta,
    gamma, vega, vanna, volga, theta, transaction costs (hedge fills against fair value), new
    trades (client trades against fair value), P&L before the API followed, and the
    unexplained rest; the components add up to the total to the cent. See docs/api.md."""
    return model.pnl_view(underlying, since)
