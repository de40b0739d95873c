"""GET /v1/limits and PUT /v1/limits/{name}: the live risk limits in KV `limits`.

A limit is named `<UNDERLYING>.<limit>` (`SPX.max_abs_delta`) or `firm.<limit>`
(`firm.max_abs_dollar_delta`). A change is a compare-and-set on the KV entry: the manager
and the agents read the new value on their next poll or watch; two concurrent changes cannot
both win (409 for the loser), and a change sent with the revision read before is refused
(409) when someone else changed the limits since.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import ValidationError

from hedgemesh.api.adapters.cas import refuse_stale, store_if_unchanged
from hedgemesh.api.adapters.desk import DeskUnavailable
from hedgemesh.api.deps import AdminCaller, Audit, DeskPort, Model
from hedgemesh.api.domain.render import limit_names, number_or_none
from hedgemesh.api.domain.views import LimitChange, LimitChanged, LimitsResponse
from hedgemesh.api.errors import (
    BAD_BODY,
    CONFLICT,
    ERROR_RESPONSES,
    FORBIDDEN,
    NOT_FOUND,
    UNAVAILABLE,
    ApiError,
)
from hedgemesh.wire import subjects
from hedgemesh.wire.base import new_id
from hedgemesh.wire.state import FIRM_LIMITS_KEY, FirmLimits, RiskLimits

router = APIRouter(tags=["limits"], responses=ERROR_RESPONSES)

#: `<UNDERLYING>.<limit>` or `firm.<limit>`.
NAME_PATTERN = r"^(firm|[A-Z][A-Z0-9_]{0,31})\.[a-z][a-z0-9_]{0,63}$"
_NAME = re.compile(r"^(?P<key>firm|[A-Z][A-Z0-9_]{0,31})\.(?P<limit>[a-z][a-z0-9_]{0,63})$")


@router.get("/v1/limits", response_model=LimitsResponse)
async def get_limits(model: Model) -> Response:
    """Every underlying's limits and the firm's, each with the KV revision to send back with
    a change."""
    return Response(model.limits_json(), media_type="application/json")


@router.put(
    "/v1/limits/{name}",
    response_model=LimitChanged,
    responses={**BAD_BODY, **FORBIDDEN, **NOT_FOUND, **CONFLICT, **UNAVAILABLE},
)
async def put_limit(
    name: Annotated[
        str,
        Path(
            max_length=100,
            pattern=NAME_PATTERN,
            description="`<UNDERLYING>.<limit>` (e.g. SPX.max_abs_delta) or `firm.<limit>` "
            "(e.g. firm.max_abs_dollar_delta).",
        ),
    ],
    change: LimitChange,
    model: Model,
    desk: DeskPort,
    caller: AdminCaller,
    audit: Audit,
) -> LimitChanged:
    """Change one limit (compare-and-set on KV `limits`); the manager picks it up live. Needs
    an admin token; audited (`GET /v1/audit`) with the value and revision before and after."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise ApiError(
            422,
            f"limit name {name!r} must read <UNDERLYING>.<limit> or firm.<limit>, "
            "e.g. SPX.max_abs_delta",
        )
    key, limit = match["key"], match["limit"]
    kind: type[RiskLimits] | type[FirmLimits] = FirmLimits if key == FIRM_LIMITS_KEY else RiskLimits
    if limit not in limit_names(kind):
        raise ApiError(404, f"no limit {limit!r} for {key}; limits: {', '.join(limit_names(kind))}")
    try:
        current = await desk.get(subjects.KV_LIMITS, key, kind)
    except DeskUnavailable as error:
        raise ApiError(503, str(error)) from None
    if current is None:
        raise ApiError(404, f"no limits for {key} in KV {subjects.KV_LIMITS}")
    previous = number_or_none(getattr(current.value, limit))
    audit.before = {"value": previous, "revision": current.revision}
    refuse_stale(f"the limits of {key}", current.revision, change.revision)
    try:
        updated = current.value.evolve(
            **{limit: change.value},
            changed_by=caller.name,
            causation_id=None,
            id=new_id(),
            ts=model.clock.now(),
        )
    except ValidationError as error:
        reasons = "; ".join(e["msg"] for e in error.errors())
        raise ApiError(422, f"{name} = {change.value!r} is refused: {reasons}") from None
    revision = await store_if_unchanged(
        desk, subjects.KV_LIMITS, key, updated, last=current.revision, what=f"the limits of {key}"
    )
    model.on_limits(key, updated, revision)
    audit.after = {"value": number_or_none(getattr(updated, limit)), "revision": revision}
    return LimitChanged(name=name, previous=previous, entry=model.limits_entry(key))
