"""FastAPI dependencies, as `Annotated` types the routes declare in their signatures."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BeforeValidator
from starlette.concurrency import run_in_threadpool

from hedgemesh.api.adapters.desk import Desk
from hedgemesh.api.adapters.records import Records, StoreUnavailable
from hedgemesh.api.context import ApiContext
from hedgemesh.api.domain.readmodel import ReadModel
from hedgemesh.api.errors import ApiError
from hedgemesh.api.security.audit import CHANGE, Change
from hedgemesh.api.security.auth import Caller, Role
from hedgemesh.api.security.gate import caller_of

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


Model = Annotated[ReadModel, Depends(_model)]
DeskPort = Annotated[Desk, Depends(_desk)]
Store = Annotated[Records, Depends(_records)]

#: Declares the bearer scheme in the OpenAPI document; `Gate` has checked the token already.
bearer = HTTPBearer(
    scheme_name="bearer",
    description="A token of the API (`HEDGEMESH_API_TOKENS_FILE`; `hedgemesh up` writes one "
    "per role): `Authorization: Bearer <token>`.",
    auto_error=False,
)


async def _caller(
    request: Request, _token: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Caller:
    caller = caller_of(request.scope)
    if caller is None:  # only when the app runs without its Gate
        raise ApiError(401, "this endpoint needs a bearer token")
    return caller


def needs(role: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency: the caller, or 403 unless its role allows what `role` may do."""

    async def check(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
        if not caller.role.allows(role):
            raise ApiError(
                403,
                f"{caller.name} holds a {caller.role.value} token: this needs {role.value} "
                f"or above ({', '.join(r.value for r in Role if r.allows(role))})",
            )
        return caller

    check.__name__ = f"needs_{role.value}"
    return check


needs_viewer = needs(Role.VIEWER)
needs_operator = needs(Role.OPERATOR)
needs_admin = needs(Role.ADMIN)
#: Any token (every GET), an operator's or an admin's, an admin's.
ViewerCaller = Annotated[Caller, Depends(needs_viewer)]
OperatorCaller = Annotated[Caller, Depends(needs_operator)]
AdminCaller = Annotated[Caller, Depends(needs_admin)]


def _query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter a route (and its dependencies) declares."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


_KNOWN_QUERIES: dict[int, frozenset[str]] = {}


async def known_query(request: Request) -> None:
    """422 for a query parameter the route does not declare (a typo such as `?underlyng=SPX`
    would otherwise be ignored and answered with everything)."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    known = _KNOWN_QUERIES.get(id(route))
    if known is None:
        known = _KNOWN_QUERIES[id(route)] = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ApiError(
            422,
            f"unknown query parameter {', '.join(map(repr, unknown[:5]))}; "
            f"{request.url.path} takes {', '.join(sorted(known)) or 'none'}",
        )


async def _change(request: Request) -> Change:
    change = Change()
    request.scope.setdefault("state", {})[CHANGE] = change
    return change


#: What a mutating route changed, for the audit trail (set `before` and `after`).
Audit = Annotated[Change, Depends(_change)]


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
_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_date_time(value: object) -> object:
    """Only ISO 8601 text: pydantic would read `?since=39` as 39 s after the Unix epoch."""
    if isinstance(value, str) and not _ISO_DATE_TIME.match(value):
        raise ValueError("must be an ISO 8601 date and time, e.g. 2026-01-02T15:04:05Z")
    return value


Since = Annotated[
    AwareDatetime | None,
    BeforeValidator(_iso_date_time),
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
