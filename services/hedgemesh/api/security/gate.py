"""The ASGI middleware in front of everything: who is asking (a bearer token) and how often.

Every HTTP request but those to `OPEN_PATHS` (the health probe and the API's own description)
must carry `Authorization: Bearer <token>` of a configured token — 401 with
`WWW-Authenticate: Bearer` otherwise — and within its caller's rate (429 with `Retry-After`
past it). The caller is put in the request's state (`scope["state"]["caller"]`) for the routes'
role checks and the audit trail. It sits before `FastPath`, so pre-encoded answers are never
given to an unauthenticated request.
"""

from __future__ import annotations

import math

from starlette.types import ASGIApp, Receive, Scope, Send

from hedgemesh.api.errors import error_response
from hedgemesh.api.security.auth import DEV_CALLER, Caller, TokenTable
from hedgemesh.api.security.ratelimit import RateLimiter

__all__ = ["CALLER", "OPEN_PATHS", "Gate", "caller_of"]

#: Answered to anyone: the probe of compose and Kubernetes, the OpenAPI document and its UIs.
OPEN_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
#: Where the caller is kept in the request's state.
CALLER = "caller"
_REALM = 'Bearer realm="hedgemesh"'


def caller_of(scope: Scope) -> Caller | None:
    """The caller `Gate` let through, if any."""
    state = scope.get("state")
    return None if state is None else state.get(CALLER)


def _bearer(scope: Scope) -> bytes | None:
    """The token of an `Authorization: Bearer <token>` header (None: no such header)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            token = token.strip()
            if scheme.lower() != b"bearer" or not token:
                return None
            return token
    return None


class Gate:
    """ASGI middleware: authenticate (`tokens`; None: development mode, everyone is an admin)
    and rate-limit per caller (`limiter`)."""

    def __init__(self, app: ASGIApp, tokens: TokenTable | None, limiter: RateLimiter) -> None:
        self.app = app
        self.tokens = tokens
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        caller: Caller | None = DEV_CALLER
        if self.tokens is not None:
            token = _bearer(scope)
            if token is None:
                await error_response(
                    401,
                    "UNAUTHORIZED",
                    "this endpoint needs a bearer token: send `Authorization: Bearer <token>`",
                    headers={"WWW-Authenticate": _REALM},
                )(scope, receive, send)
                return
            caller = self.tokens.caller(token)
            if caller is None:
                await error_response(
                    401,
                    "UNAUTHORIZED",
                    "the bearer token is not one of the API's tokens",
                    headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
                )(scope, receive, send)
                return
        assert caller is not None
        wait_s = self.limiter.take(caller.name)
        if wait_s > 0:
            retry_after_s = max(1, math.ceil(wait_s))
            await error_response(
                429,
                "TOO_MANY_REQUESTS",
                f"{caller.name} is over its rate of {self.limiter.rate_per_s:g} requests/s "
                f"(bursts of {self.limiter.burst}): retry in {retry_after_s} s",
                headers={"Retry-After": str(retry_after_s)},
            )(scope, receive, send)
            return
        scope.setdefault("state", {})[CALLER] = caller
        await self.app(scope, receive, send)
