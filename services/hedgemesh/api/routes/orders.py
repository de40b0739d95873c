"""GET /v1/orders and /v1/fills: execution's store, newest first, filtered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hedgemesh.api.adapters.records import OrderStatus
from hedgemesh.api.deps import (
    DEFAULT_PAGE,
    ID_PATTERN,
    Limit,
    Since,
    Store,
    UnderlyingFilter,
    read,
)
from hedgemesh.api.domain.views import FillsResponse, OrdersResponse
from hedgemesh.api.errors import ERROR_RESPONSES, NOT_FOUND, UNAVAILABLE

router = APIRouter(tags=["execution"], responses={**ERROR_RESPONSES, **NOT_FOUND, **UNAVAILABLE})


@router.get("/v1/orders", response_model=OrdersResponse)
async def orders(
    store: Store,
    underlying: UnderlyingFilter,
    status: Annotated[
        OrderStatus | None,
        Query(description="pending (not reported on yet), working (not final), or a status."),
    ] = None,
    since: Since = None,
    limit: Limit = DEFAULT_PAGE,
) -> OrdersResponse:
    """Hedge orders as execution received and worked them."""
    rows = await read(
        lambda: store.orders(underlying=underlying, status=status, since=since, limit=limit)
    )
    return OrdersResponse(orders=rows)


@router.get("/v1/fills", response_model=FillsResponse)
async def fills(
    store: Store,
    underlying: UnderlyingFilter,
    client_order_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Only this order's fills.")
    ] = None,
    since: Since = None,
    limit: Limit = DEFAULT_PAGE,
) -> FillsResponse:
    """Fills (partial and full) of hedge orders."""
    rows = await read(
        lambda: store.fills(
            underlying=underlying, client_order_id=client_order_id, since=since, limit=limit
        )
    )
    return FillsResponse(fills=rows)
