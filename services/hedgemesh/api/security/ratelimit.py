"""Requests per caller, limited by a token bucket each.

A bucket holds up to `burst` requests and refills at `rate_per_s`; a request takes one, and when
none is left it is refused with how long until one is (the `Retry-After` of a 429). Buckets are
per caller name, so one token's flood never slows another's requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "TokenBucket"]


@dataclass
class TokenBucket:
    """`burst` requests at once, `rate_per_s` sustained."""

    rate_per_s: float
    burst: float
    tokens: float
    stamp_s: float

    def take(self, now_s: float) -> float:
        """Take one request: 0 when allowed, else the seconds until one would be."""
        self.tokens = min(self.burst, self.tokens + (now_s - self.stamp_s) * self.rate_per_s)
        self.stamp_s = now_s
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate_per_s


class RateLimiter:
    """A `TokenBucket` per key (a caller's name), full at its first request."""

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate_per_s must be > 0 and burst >= 1, got {rate_per_s}, {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str) -> float:
        """0 when `key` may make a request now, else the seconds it must wait."""
        now_s = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(
                self.rate_per_s, float(self.burst), float(self.burst), now_s
            )
        return bucket.take(now_s)
