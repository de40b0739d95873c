"""GET /health: for compose and Kubernetes probes (NATS connected, database reachable)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from hedgemesh.api.deps import Context, read
from hedgemesh.api.domain.views import HealthResponse
from hedgemesh.api.errors import ApiError

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "Degraded."}},
)
async def health(context: Context) -> JSONResponse:
    """200 when the API is connected to NATS and the database answers, else 503 saying which
    is not; `degraded` with the desk's causes (still 200) when the desk does not keep up."""
    problems = []
    nats = context.desk.connected
    if not nats:
        problems.append("not connected to NATS")
    try:
        await read(context.records.ping)
        database = True
    except ApiError as error:
        database = False
        problems.append(error.message)
    causes = context.watch.view()["causes"] if context.watch is not None else []
    body = HealthResponse(
        status="ok" if not problems and not causes else "degraded",
        nats_connected=nats,
        database_reachable=database,
        detail="; ".join(problems),
        causes=causes,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if not problems else 503)
