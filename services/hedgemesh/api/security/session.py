"""Browser sessions: the control room signs in once with an API token and then rides a cookie.

`POST /v1/session` with `{"token": ...}` checks the token against the API's `TokenTable` and
opens a session: a random id (256 bits) sent back as an `HttpOnly`, `SameSite=Strict` cookie,
and a CSRF token in the body. `Gate` accepts the cookie where no `Authorization` header is
sent: the session's caller is the token's (same name, same role, same rate limit). A mutating
request on a cookie must also carry `X-CSRF-Token` with the session's CSRF token (a page of
another site can make the browser send the cookie, never read the token). Sessions live in
memory (a restarted API signs everyone out) for `ttl_s` after sign-in; `DELETE /v1/session`
ends one. Only the ids' SHA-256 digests are kept, as with tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from hedgemesh.api.security.auth import Caller

__all__ = ["COOKIE", "CSRF_HEADER", "Session", "Sessions"]

#: The session cookie's name.
COOKIE = "hedgemesh_session"
#: The header a cookie-authenticated mutating request carries.
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True, slots=True)
class Session:
    caller: Caller
    csrf: str
    expires: float
    """On the monotonic clock."""


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


class Sessions:
    """Open sessions by the digest of their id; the oldest are dropped past `max_sessions`."""

    def __init__(
        self,
        ttl_s: float = 12 * 3600.0,
        max_sessions: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._monotonic = monotonic
        self._open: OrderedDict[bytes, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def open(self, caller: Caller) -> tuple[str, Session]:
        """A new session of `caller`: (its id, for the cookie; the session)."""
        session_id = secrets.token_urlsafe(32)
        session = Session(caller, secrets.token_urlsafe(32), self._monotonic() + self.ttl_s)
        self._open[_digest(session_id)] = session
        while len(self._open) > self.max_sessions:
            self._open.popitem(last=False)
        return session_id, session

    def get(self, session_id: str) -> Session | None:
        """The open session of that id (None: unknown or expired)."""
        key = _digest(session_id)
        session = self._open.get(key)
        if session is None:
            return None
        if self._monotonic() >= session.expires:
            del self._open[key]
            return None
        return session

    def close(self, session_id: str) -> bool:
        return self._open.pop(_digest(session_id), None) is not None

    @staticmethod
    def csrf_matches(session: Session, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(session.csrf, presented)
