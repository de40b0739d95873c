"""The ASGI middleware in front of everything: who is asking (a bearer token) and how often.

Every HTTP request but those to `OPEN_PATHS` (the health probe and the API's own description)
must carry `Authorization: Bearer <token>` of a configured token — 401 with
`WWW-Authenticate: Bearer` otherwise — and within its caller's rate (429 with `Retry-After`
past it). Without that header, the control room's session cookie (`session.py`) stands for the
token it signed in with; a mutating request on a cookie needs the session's `X-CSRF-Token`
(403 without it). The control room's page and static files, and signing in, are open. The
caller is put in the request's state (`scope["state"]["caller"]`) for the routes' role checks
and the audit trail. It sits before `FastPath`, so pre-encoded answers are never
given to an unauthenticated request.
"""

from __future__ import annotations

import math

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from hedgemesh.api.errors import error_response
from hedgemesh.api.security.auth import DEV_CALLER, Caller, TokenTable, is_loopback
from hedgemesh.api.security.logins import LoginGuard
from hedgemesh.api.security.ratelimit import RateLimiter
from hedgemesh.api.security.session import COOKIE, CSRF_HEADER, Sessions

__all__ = ["CALLER", "OPEN_PATHS", "Gate", "caller_of", "client_address", "throttled"]

#: Answered to anyone: the probe of compose and Kubernetes, the OpenAPI document and its UIs,
#: the control room's page.
OPEN_PATHS = frozenset(
    {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/", "/favicon.ico"}
)
#: Static files (the control room's scripts, the docs' assets): open.
OPEN_PREFIX = "/static/"
#: Signing in (`POST`): checks the token it is sent itself.
SIGN_IN = "/v1/session"
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
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


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return value.decode("latin-1")
    return None


def client_address(scope: Scope) -> str | None:
    """The client's address (None: unknown)."""
    client = scope.get("client")
    return None if not client else str(client[0])


def throttled(address: str, wait_s: float) -> ASGIApp:
    retry_after_s = max(1, math.ceil(wait_s))
    return error_response(
        429,
        "TOO_MANY_REQUESTS",
        f"too many failed logins from {address}: retry in {retry_after_s} s",
        headers={"Retry-After": str(retry_after_s)},
    )


def _is_open(scope: Scope) -> bool:
    path = scope["path"]
    return (
        path in OPEN_PATHS
        or path.startswith(OPEN_PREFIX)
        or (path == SIGN_IN and scope.get("method") == "POST")
    )


class Gate:
    """ASGI middleware: authenticate (`tokens`; None: development mode, everyone is an admin)
    and rate-limit per caller (`limiter`)."""

    def __init__(
        self,
        app: ASGIApp,
        tokens: TokenTable | None,
        limiter: RateLimiter,
        sessions: Sessions | None = None,
        logins: LoginGuard | None = None,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.limiter = limiter
        self.sessions = sessions
        self.logins = logins or LoginGuard()

    def _session_caller(self, scope: Scope) -> Caller | bool | None:
        """The caller of the request's session cookie; None: no (open) session; False: a
        mutating request without the session's CSRF token."""
        cookies = _header(scope, b"cookie")
        if self.sessions is None or cookies is None:
            return None
        session_id = cookie_parser(cookies).get(COOKIE)
        session = None if session_id is None else self.sessions.get(session_id)
        if session is None:
            return None
        if scope.get("method") in _MUTATING and not self.sessions.csrf_matches(
            session, _header(scope, CSRF_HEADER.encode())
        ):
            return False
        return session.caller

    def _authenticate(self, tokens: TokenTable, scope: Scope) -> Caller | ASGIApp:
        """The caller of the request's bearer token or session cookie, or the refusal."""
        token = _bearer(scope)
        if token is None and _header(scope, b"authorization") is None:
            session_caller = self._session_caller(scope)
            if session_caller is False:
                return error_response(
                    403,
                    "FORBIDDEN",
                    f"a change made with the session cookie needs its {CSRF_HEADER} header",
                )
            if isinstance(session_caller, Caller):
                return session_caller
        if token is None:
            return error_response(
                401,
                "UNAUTHORIZED",
                "this endpoint needs a bearer token: send `Authorization: Bearer <token>`",
                headers={"WWW-Authenticate": _REALM},
            )
        caller = tokens.caller(token)
        if caller is None:
            return error_response(
                401,
                "UNAUTHORIZED",
                "the bearer token is not one of the API's tokens",
                headers={"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
            )
        return caller

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_open(scope):
            await self.app(scope, receive, send)
            return
        caller: Caller = DEV_CALLER
        if self.tokens is None and not is_loopback(client_address(scope)):
            await error_response(
                403, "FORBIDDEN", "development mode (no tokens) answers this machine only"
            )(scope, receive, send)
            return
        if self.tokens is not None:
            address = client_address(scope) or "unknown"
            wait_s = self.logins.wait_s(address)
            if wait_s > 0:
                await throttled(address, wait_s)(scope, receive, send)
                return
            found = self._authenticate(self.tokens, scope)
            if not isinstance(found, Caller):
                if _bearer(scope) is not None:  # a token, and not one of ours: a failed login
                    reason = "not one of the API's tokens"
                    await self.logins.failed(address, scope["method"], scope["path"], reason)
                await found(scope, receive, send)
                return
            caller = found
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
