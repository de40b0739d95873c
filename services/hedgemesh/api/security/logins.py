"""Failed logins, per client address: each one logged (never the token presented), counted
(`api_failed_logins_total`) and put in the audit trail (actor `anonymous`, status 401, the
address); past `max_failures` within `window_s` the address is refused (429 with `Retry-After`)
until its oldest failure ages out, without the token even being looked at.

A failed login is a bearer token that is not one of the API's, or a sign-in (`POST
/v1/session`) with one. A request without any token is not a login and is not counted.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from hedgemesh.runtime import metrics
from hedgemesh.store.audit import AuditEntry

__all__ = ["LoginGuard"]

log = logging.getLogger(__name__)

FAILED = metrics.counter("api_failed_logins_total", "Bearer tokens or sign-ins refused.")
THROTTLED = metrics.counter(
    "api_login_throttled_total", "Requests refused because their address failed too often."
)
#: Addresses remembered at most (the oldest forgotten first).
MAX_ADDRESSES = 10_000


class LoginGuard:
    """Counts failed logins per address over a sliding window (see the module doc)."""

    def __init__(
        self,
        max_failures: int = 10,
        window_s: float = 60.0,
        *,
        record: Callable[[AuditEntry], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.record = record
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str) -> deque[float]:
        seen = self._failures.get(address)
        if seen is None:
            return deque()
        cutoff = self._clock() - self.window_s
        while seen and seen[0] <= cutoff:
            seen.popleft()
        return seen

    def wait_s(self, address: str) -> float:
        """0 when `address` may try now, else the seconds until its oldest failure ages out."""
        seen = self._recent(address)
        if len(seen) < self.max_failures:
            return 0.0
        THROTTLED.inc()
        return max(seen[0] + self.window_s - self._clock(), 0.001)

    async def failed(self, address: str, method: str, path: str, reason: str) -> None:
        """Note a failed login from `address`: logged, counted, audited."""
        seen = self._recent(address)
        seen.append(self._clock())
        self._failures[address] = seen
        self._failures.move_to_end(address)
        while len(self._failures) > MAX_ADDRESSES:
            self._failures.popitem(last=False)
        FAILED.inc()
        log.warning(
            "api: failed login from %s on %s %s: %s (%d in %g s)",
            address, method, path, reason, len(seen), self.window_s,
        )  # fmt: skip
        if self.record is None:
            return
        entry = AuditEntry(
            at=datetime.now(UTC),
            actor="anonymous",
            role="none",
            method=method,
            path=path,
            status=401,
            after={"client": address, "reason": reason},
        )
        try:
            await self.record(entry)
        except Exception as error:
            log.error("api: the failed login from %s was not audited: %s", address, error)
