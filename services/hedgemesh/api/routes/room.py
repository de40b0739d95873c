"""The control room: the page at `/`, its static files, signing in, the live stream, and the
OpenAPI docs served from the package (no CDN: they work offline).

- `GET /`: the page (`static/index.html`); `/static/...`: its script, styles and the vendored
  libraries (uPlot, Swagger UI, ReDoc), open to anyone, as `/docs` and `/redoc` are.
- `POST /v1/session` `{"token": ...}`: sign in with an API token; answers who you are and a
  CSRF token, and sets the session cookie (`security/session.py`). `GET /v1/session`: the
  same for the cookie held; `DELETE /v1/session`: sign out.
- `GET /v1/stream` (viewer): server-sent events, a snapshot then a frame a second
  (`adapters/monitor.py`).
- `GET /metrics` (viewer): Prometheus' text format (`hedgemesh.runtime.metrics`).
- `GET /v1/history` (viewer): the stream's samples so far; `GET /v1/report` (viewer): the
  post-trade report as one page (`adapters/report.py`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from hedgemesh.api.adapters.monitor import Monitor
from hedgemesh.api.adapters.records import StoreUnavailable
from hedgemesh.api.adapters.report import PAGE, ReportData, write_report
from hedgemesh.api.context import ApiContext
from hedgemesh.api.deps import ViewerCaller
from hedgemesh.api.errors import ApiError
from hedgemesh.api.security.auth import DEV_CALLER, Caller, TokenTable
from hedgemesh.api.security.gate import SIGN_IN, client_address, throttled
from hedgemesh.api.security.logins import LoginGuard
from hedgemesh.api.security.session import COOKIE, Session, Sessions
from hedgemesh.runtime import metrics

__all__ = ["STATIC", "install", "router"]

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


def _who(session: Session) -> dict[str, str]:
    return {"name": session.caller.name, "role": session.caller.role.value, "csrf": session.csrf}


@router.get("/")
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


@router.post("/v1/session")
async def sign_in(
    request: Request, response: Response, token: Annotated[str, Body(embed=True, max_length=512)]
) -> Any:
    """Sign in with an API token: a session cookie and its CSRF token. Failures are counted
    per client address (`security/logins.py`): too many, and the address waits (429)."""
    tokens: TokenTable | None = request.app.state.tokens
    logins: LoginGuard = request.app.state.logins
    address = client_address(request.scope) or "unknown"
    if tokens is not None and (wait_s := logins.wait_s(address)) > 0:
        return throttled(address, wait_s)
    caller: Caller | None = DEV_CALLER if tokens is None else tokens.caller(token.encode())
    if caller is None:
        await logins.failed(address, "POST", SIGN_IN, "sign-in with an unknown token")
        raise ApiError(401, "that is not one of the API's tokens")
    sessions: Sessions = request.app.state.sessions
    session_id, session = sessions.open(caller)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(sessions.ttl_s),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return _who(session)


@router.get("/v1/session")
async def whoami(request: Request, caller: ViewerCaller) -> dict[str, str]:
    """Who the session cookie signs in as, and its CSRF token (401 without a session)."""
    session_id = request.cookies.get(COOKIE)
    session = None if session_id is None else request.app.state.sessions.get(session_id)
    if session is None:
        raise ApiError(401, "no session: sign in with POST /v1/session")
    return _who(session)


@router.delete("/v1/session", status_code=204)
async def sign_out(request: Request, caller: ViewerCaller) -> Response:
    session_id = request.cookies.get(COOKIE)
    if session_id is not None:
        request.app.state.sessions.close(session_id)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/v1/stream")
async def stream(request: Request, caller: ViewerCaller) -> EventSourceResponse:
    """The desk, live: a `snapshot` event, then a `frame` event a second."""
    monitor: Monitor = request.app.state.monitor
    return EventSourceResponse(monitor.events(), ping=10)


@router.get("/v1/history")
async def history(request: Request, caller: ViewerCaller) -> dict[str, Any]:
    """The control room's samples so far (P&L and attribution, the hedges' P&L, greeks and
    every limit's utilisation), oldest first."""
    monitor: Monitor = request.app.state.monitor
    return {"samples": list(monitor.history)}


@router.get("/v1/report")
async def report(request: Request, caller: ViewerCaller) -> HTMLResponse:
    """The post-trade report of the run so far, as one HTML page (charts inline)."""
    context: ApiContext = request.app.state.context
    monitor: Monitor = request.app.state.monitor
    store = context.records

    def rows() -> dict[str, list[dict[str, Any]]]:
        return {
            "orders": [o.model_dump(mode="json") for o in store.orders(limit=PAGE)],
            "fills": [f.model_dump(mode="json") for f in store.fills(limit=PAGE)],
            "decisions": [d.model_dump(mode="json") for d in store.decisions(limit=PAGE)],
        }

    try:
        stored = await run_in_threadpool(rows)
    except StoreUnavailable as error:
        raise ApiError(503, str(error)) from None
    data = ReportData(
        history=list(monitor.history),
        pnl=context.model.pnl_view().model_dump(mode="json"),
        agents=context.model.agents_view().model_dump(mode="json"),
        **stored,
    )
    with tempfile.TemporaryDirectory(prefix="hedgemesh-report-") as folder:
        page = await run_in_threadpool(write_report, data, Path(folder), inline=True)
    return HTMLResponse(page)


@router.get("/metrics")
async def prometheus(caller: ViewerCaller) -> Response:
    """Prometheus' text format: this process's metrics (any token; the scrape config sends
    one)."""
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


@router.get("/docs")
async def swagger(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="hedgemesh API",
        swagger_js_url="/static/vendor/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui.css",
        swagger_favicon_url="/static/vendor/favicon-32x32.png",
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="hedgemesh API",
        redoc_js_url="/static/vendor/redoc.standalone.js",
        redoc_favicon_url="/static/vendor/favicon-32x32.png",
        with_google_fonts=False,
    )


def install(
    app: FastAPI,
    tokens: TokenTable | None,
    sessions: Sessions,
    monitor: Monitor,
    logins: LoginGuard,
) -> None:
    """The control room's routes and static files on `app`."""
    app.state.tokens, app.state.sessions, app.state.monitor = tokens, sessions, monitor
    app.state.logins = logins
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
