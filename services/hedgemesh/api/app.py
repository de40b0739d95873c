"""`create_app(settings)`: the FastAPI application (no module-level app: each call builds one).

Production wiring (NATS service, store, read model) comes from `bootstrap.build_context`;
tests pass their own `ApiContext` (a fake desk, a scratch store). The lifespan starts the
context's lifecycle in the background, so the HTTP server answers at once — `/health` says
503 until NATS is connected — and stops it at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from hedgemesh.api.adapters.monitor import Monitor
from hedgemesh.api.config import ApiSettings
from hedgemesh.api.context import ApiContext
from hedgemesh.api.deps import known_query, needs_viewer
from hedgemesh.api.errors import install_error_handlers
from hedgemesh.api.fastpath import FastPath
from hedgemesh.api.routes import ROUTERS, health, room
from hedgemesh.api.security.audit import AuditTrail
from hedgemesh.api.security.auth import token_table
from hedgemesh.api.security.gate import Gate
from hedgemesh.api.security.logins import LoginGuard
from hedgemesh.api.security.ratelimit import RateLimiter
from hedgemesh.api.security.session import Sessions
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.store.audit import AuditEntry

__all__ = ["create_app"]

log = logging.getLogger(__name__)

DESCRIPTION = """\
The desk's positions, risk against limits, limits (read and change), orders, fills, the
manager's decisions, the agents, P&L with its attribution, and the controls (halt, resume,
reduce-only), and the audit trail of every change. Every endpoint but `/health` needs a bearer
token (`Authorization: Bearer <token>`) whose role allows it: viewer (every GET), operator
(control, the audit trail), admin (limits). Errors are JSON:
`{"error": CODE, "message": ..., "detail": ...}`.
"""


def create_app(
    settings: ApiSettings | None = None, *, context: ApiContext | None = None
) -> FastAPI:
    """The API on `context` (default: the production wiring of `settings`)."""
    if context is None:
        from hedgemesh.api.bootstrap import build_context

        context = build_context(settings or ApiSettings())
    ctx = context
    tokens = token_table(ctx.settings)  # AuthConfigError: missing or unsafe tokens
    sessions = Sessions(ttl_s=ctx.settings.session_ttl_s)
    monitor = Monitor(ctx, interval_s=ctx.settings.stream_interval_s)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        lifecycle = ctx.lifecycle
        if lifecycle is None:
            yield
            await monitor.stop()
            return
        starting = asyncio.create_task(lifecycle.start(), name="api-start")
        monitor.start()  # the control room's history accrues from the start
        try:
            yield
        finally:
            await monitor.stop()
            if not starting.done():
                await cancel_and_wait(starting)
            elif starting.exception() is not None:
                log.error("api: start-up failed", exc_info=starting.exception())
            await lifecycle.stop()

    app = FastAPI(
        title="hedgemesh",
        summary="An automated hedging desk for options books",
        description=DESCRIPTION,
        version="1",
        lifespan=lifespan,
        docs_url=None,  # served from the package by routes.room: no CDN
        redoc_url=None,
    )
    app.state.context = ctx
    install_error_handlers(app)
    for router in ROUTERS:
        guards = [Depends(known_query)]
        if router is not health.router:
            guards.append(Depends(needs_viewer))
        app.include_router(router, dependencies=guards)
    logins = LoginGuard(
        ctx.settings.login_max_failures, ctx.settings.login_window_s, record=_recorder(ctx)
    )
    room.install(app, tokens, sessions, monitor, logins)
    # Middleware added last runs first: Gate, then FastPath, then AuditTrail, then routing.
    app.add_middleware(AuditTrail, record=_recorder(ctx), ready=_prober(ctx))
    if ctx.settings.fast_path:
        model = ctx.model
        app.add_middleware(
            FastPath,
            bodies={
                "/v1/positions": model.positions_json,
                "/v1/limits": model.limits_json,
                "/v1/risk": model.risk_json,
            },
        )
    limiter = RateLimiter(ctx.settings.rate_limit_per_s, ctx.settings.rate_limit_burst)
    app.add_middleware(Gate, tokens=tokens, limiter=limiter, sessions=sessions, logins=logins)
    return app


def _prober(context: ApiContext) -> Callable[[], Awaitable[None]]:
    async def probe() -> None:
        await run_in_threadpool(context.records.probe_audit)

    return probe


def _recorder(context: ApiContext) -> Callable[[AuditEntry], Awaitable[None]]:
    async def record(entry: AuditEntry) -> None:
        await run_in_threadpool(context.records.record_audit, entry)

    return record
