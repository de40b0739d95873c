"""GET /v1/positions and /v1/risk: the ledger's positions and the book's greeks on limits;
POST /v1/book/trades: bring your own book (`hedgemesh.market.bookfile`)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hedgemesh.api.adapters.desk import DeskUnavailable
from hedgemesh.api.deps import AdminCaller, Audit, DeskPort, Model, UnderlyingFilter
from hedgemesh.api.domain.views import PositionsResponse, RiskResponse, TradesBooked, TradesEntry
from hedgemesh.api.errors import (
    BAD_BODY,
    ERROR_RESPONSES,
    FORBIDDEN,
    NOT_FOUND,
    UNAVAILABLE,
    ApiError,
)
from hedgemesh.market.bookfile import BookFileError, parse_rows

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


@router.post(
    "/v1/book/trades",
    response_model=TradesBooked,
    responses={**BAD_BODY, **FORBIDDEN, **UNAVAILABLE},
)
async def book_trades(
    entry: TradesEntry, model: Model, desk: DeskPort, caller: AdminCaller, audit: Audit
) -> TradesBooked:
    """Bring your own book: enter positions as client trades (`instrument`, signed `quantity`
    on the book's side, `price`; optional `counterparty`, `multiplier`, `trade_id`). Every row
    is checked first: a bad one is a 422 naming its item and field, and nothing is sent. The
    trades go to the ledger by the client flow's path (JetStream `hedge.v1.book.trade`,
    idempotent by `trade_id`). Needs an admin token; audited."""
    source = entry.source or f"request by {caller.name}"
    try:
        rows = [row.model_dump(exclude_none=True) for row in entry.trades]
        trades = parse_rows(
            rows, source, now=model.clock.now(), known_underlyings=model.underlyings
        )
    except BookFileError as error:
        raise ApiError(
            422,
            f"{len(error.errors)} problem(s) in the trades: {error.errors[0]}",
            detail=[{"item": e.line, "field": e.field, "message": e.message} for e in error.errors],
        ) from None
    booked, duplicates = [], []
    for trade in trades:
        try:
            new = await desk.book_trade(trade)
        except DeskUnavailable as error:
            raise ApiError(503, str(error)) from None
        (booked if new else duplicates).append(trade.trade_id)
    audit.after = {"booked": booked, "duplicates": duplicates}
    return TradesBooked(booked=booked, duplicates=duplicates)
