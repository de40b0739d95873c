"""FastAPI dependencies, as `Annotated` types the routes declare in their signatures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from hedgemesh.api.context import ApiContext
from hedgemesh.api.desk import Desk
from hedgemesh.api.errors import ApiError
from hedgemesh.api.readmodel import ReadModel
from hedgemesh.api.records import Records, StoreUnavailable

#: Most rows a list returns.
MAX_PAGE = 1000
#: Rows a list returns unless `limit` says otherwise.
DEFAULT_PAGE = 100
_UNDERLYING_PATTERN = r"^[A-Z][A-Z0-9_]{0,31}$"
#: A wire `Id`: printable ASCII without spaces.
ID_PATTERN = r"^[\x21-\x7e]{1,128}$"

T = TypeVar("T")


async def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(_context)]


async def _model(context: Context) -> ReadModel:
    return context.model


async def _desk(context: Context) -> Desk:
    return context.desk


async def _records(context: Context) -> Records:
    return context.records


async def _operator(context: Context) -> str:
    """Who is asking: the configured operator until requests are authenticated."""
    return context.settings.operator


Model = Annotated[ReadModel, Depends(_model)]
DeskPort = Annotated[Desk, Depends(_desk)]
Store = Annotated[Records, Depends(_records)]
Operator = Annotated[str, Depends(_operator)]


def known_underlying(model: ReadModel, underlying: str) -> str:
    """`underlying`, or 404 when the desk does not know it."""
    if not model.knows(underlying):
        known = ", ".join(model.underlyings) or "none yet"
        raise ApiError(404, f"unknown underlying {underlying!r}; known: {known}")
    return underlying


async def _underlying_filter(
    model: Model,
    underlying: Annotated[
        str | None,
        Query(
            pattern=_UNDERLYING_PATTERN,
            description="Only this underlying (upper-case code, e.g. SPX); 404 if unknown.",
        ),
    ] = None,
) -> str | None:
    return None if underlying is None else known_underlying(model, underlying)


UnderlyingFilter = Annotated[str | None, Depends(_underlying_filter)]
Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"Most rows returned (1 to {MAX_PAGE}).")
]
Since = Annotated[
    AwareDatetime | None,
    Query(
        description="Only rows at or after this time (ISO 8601 with a timezone, e.g. "
        "2026-01-02T15:04:05Z)."
    ),
]


async def read(query: Callable[[], T]) -> T:
    """Run a blocking store query in a worker thread; 503 when the store cannot answer."""
    try:
        return await run_in_threadpool(query)
    except StoreUnavailable as error:
        raise ApiError(503, str(error)) from None
