"""Injected time: a live clock, a clock advanced by hand, and one faster than real time.

Every component that reads the time or waits takes a `Clock`, so a test can step through an
hour of leases and heartbeats in microseconds and a whole cluster can run faster than real time.
No I/O here beyond `asyncio.sleep`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

#: Where a `SteppedClock` starts unless told otherwise: a fixed instant, so runs repeat exactly.
EPOCH = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


@runtime_checkable
class Clock(Protocol):
    """The time source every component receives."""

    def now(self) -> datetime:
        """The current wall time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; only differences mean anything."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time (returns at once for zero or less)."""
        ...


class LiveClock:
    """Real time: the system clock and `asyncio.sleep`."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class AcceleratedClock:
    """Real time sped up `speed` times.

    `now()` starts at `start` (default: the real time) and runs `speed` seconds per real second;
    `sleep(s)` waits `s / speed` real seconds. `speed=1` behaves like `LiveClock`.

    `anchor` (seconds since the Unix epoch) shares one simulated time between processes: `now()`
    is `start` at that wall-clock instant, so every service the launcher starts with the same
    `start` and `anchor` agrees on the time whenever it was started. Without it the clock starts
    when it is made.

    `follow(at, anchor, speed)` moves the clock onto a segment of the cluster's clock (KV
    `clock`, `hedgemesh.runtime.cluster_clock`): from then on `now()` is `at` at real `anchor`,
    `speed` times real time. `monotonic()` stays continuous across it (its slope changes).
    """

    def __init__(
        self, speed: float, start: datetime | None = None, *, anchor: float | None = None
    ) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        start = (start or datetime.now(UTC)).astimezone(UTC)
        anchor = time.time() if anchor is None else anchor
        # monotonic(): simulated seconds since `start`, continuous across later segments.
        self._mono0 = (time.time() - anchor) * speed if math.isfinite(anchor) else 0.0
        self.follow(start, anchor, speed)

    def follow(self, at: datetime, anchor: float, speed: float) -> None:
        """Run on a new segment: simulated `at` at Unix time `anchor`, then `speed`x."""
        if not speed > 0.0 or speed == float("inf"):
            raise ValueError(f"speed must be a finite positive number, got {speed!r}")
        if not math.isfinite(anchor):
            raise ValueError(f"anchor must be a finite Unix time, got {anchor!r}")
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        if hasattr(self, "_real0"):
            self._mono0 = self.monotonic()
        real_now = time.monotonic()
        self._seg_start = real_now
        self.speed = float(speed)
        self._at = at.astimezone(UTC)
        # The real monotonic instant of the anchor: measured once, monotonic time after.
        self._real0 = real_now - (time.time() - anchor)

    def now(self) -> datetime:
        return self._at + timedelta(seconds=(time.monotonic() - self._real0) * self.speed)

    def monotonic(self) -> float:
        return self._mono0 + (time.monotonic() - self._seg_start) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self.speed)


class SteppedClock:
    """A clock that moves only when told to: `advance(seconds)` or `set(when)`.

    Sleepers wake, in deadline order, once the clock has been advanced to or past their deadline.
    `sleepers` says how many are waiting, so a test can wait until a task is parked before
    moving time on.
    """

    def __init__(self, start: datetime = EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._start = start.astimezone(UTC)
        self._elapsed_s = 0.0
        self._order = itertools.count()
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed_s)

    def monotonic(self) -> float:
        return self._elapsed_s

    @property
    def sleepers(self) -> int:
        """How many `sleep` calls are waiting for time to move."""
        return sum(1 for _, _, future in self._waiting if not future.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0.0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (self._elapsed_s + seconds, next(self._order), future))
        await future

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (not negative) and wake every sleeper now due."""
        if seconds < 0.0:
            raise ValueError(f"a clock cannot go backwards ({seconds} s)")
        self._elapsed_s += seconds
        while self._waiting and self._waiting[0][0] <= self._elapsed_s:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)

    def set(self, when: datetime) -> None:
        """Move time forward to `when` (not earlier than now)."""
        self.advance((when - self.now()).total_seconds())
