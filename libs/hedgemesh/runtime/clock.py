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
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class _Segment:
    """From real monotonic instant `real0` on, the simulated time is `at` + (t − real0) × speed
    and `monotonic()` is `mono0` + the same simulated seconds."""

    real0: float
    at: datetime
    speed: float
    mono0: float

    def now(self, real: float) -> datetime:
        return self.at + timedelta(seconds=(real - self.real0) * self.speed)

    def monotonic(self, real: float) -> float:
        return self.mono0 + (real - self.real0) * self.speed


class AcceleratedClock:
    """Real time sped up `speed` times.

    `now()` starts at `start` (default: the real time) and runs `speed` seconds per real second;
    `sleep(s)` waits until the clock has moved `s` seconds. `speed=1` behaves like `LiveClock`.

    `anchor` (seconds since the Unix epoch) shares one simulated time between processes: `now()`
    is `start` at that wall-clock instant, so every service the launcher starts with the same
    `start` and `anchor` agrees on the time whenever it was started. Without it the clock starts
    when it is made.

    `follow(at, anchor, speed)` moves the clock onto a segment of the cluster's clock (KV
    `clock`, `hedgemesh.runtime.cluster_clock`): from real `anchor` on, `now()` is `at` plus
    `speed` times the real time since. An anchor in the future schedules the change: the clock
    keeps its rate until then, so every process that read the segment in time switches at the
    same real instant. Speed 0 holds the clock (the desk is not ready yet). `monotonic()` stays
    continuous across segments, and a `sleep` in progress follows a change of rate.
    """

    def __init__(
        self, speed: float, start: datetime | None = None, *, anchor: float | None = None
    ) -> None:
        if not speed > 0.0 or speed == float("inf"):
            raise ValueError(f"speed must be a finite positive number, got {speed!r}")
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        start = (start or datetime.now(UTC)).astimezone(UTC)
        anchor = time.time() if anchor is None else anchor
        # monotonic(): simulated seconds since `start`, continuous across later segments.
        self._segments: list[_Segment] = []
        self._woken: set[asyncio.Future[None]] = set()
        self.follow(start, anchor, speed)

    def follow(self, at: datetime, anchor: float, speed: float) -> None:
        """Run on a new segment: simulated `at` at Unix time `anchor`, then `speed`x (0: held)."""
        if not speed >= 0.0 or speed == float("inf"):
            raise ValueError(f"speed must be a finite number, 0 or more, got {speed!r}")
        if not math.isfinite(anchor):
            raise ValueError(f"anchor must be a finite Unix time, got {anchor!r}")
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        real_now = time.monotonic()
        # The real monotonic instant of the anchor: measured once, monotonic time after.
        real0 = real_now - (time.time() - anchor)
        mono0 = self._segment(real0).monotonic(real0) if self._segments else 0.0
        kept = [s for s in self._segments if s.real0 < real0]
        # Only the segment in force now and those scheduled after it are needed.
        while len(kept) > 1 and kept[1].real0 <= real_now:
            kept.pop(0)
        self._segments = [*kept, _Segment(real0, at.astimezone(UTC), float(speed), mono0)]
        woken, self._woken = self._woken, set()
        for future in woken:
            if not future.done():
                future.set_result(None)

    def _segment(self, real: float) -> _Segment:
        """The segment in force at real monotonic `real` (the first one before it began)."""
        found = self._segments[0]
        for segment in self._segments[1:]:
            if segment.real0 > real:
                break
            found = segment
        return found

    @property
    def speed(self) -> float:
        """Simulated seconds per real second now (0 while held)."""
        return self._segment(time.monotonic()).speed

    def now(self) -> datetime:
        real = time.monotonic()
        return self._segment(real).now(real)

    def monotonic(self) -> float:
        real = time.monotonic()
        return self._segment(real).monotonic(real)

    def _real_wait(self, target: float) -> float:
        """Real seconds until `monotonic()` reaches `target` on the segments known now
        (infinite while held with no change scheduled)."""
        real = time.monotonic()
        for i, segment in enumerate(self._segments):
            end = self._segments[i + 1].real0 if i + 1 < len(self._segments) else math.inf
            if end <= real:
                continue
            begin = max(real, segment.real0)
            if segment.monotonic(begin) >= target:
                return begin - real
            if segment.speed > 0.0:
                reach = segment.real0 + (target - segment.mono0) / segment.speed
                if reach < end:
                    return max(reach - real, 0.0)
        return math.inf

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0.0:
            await asyncio.sleep(0)
            return
        target = self.monotonic() + seconds
        loop = asyncio.get_running_loop()
        while (wait := self._real_wait(target)) > 0.0:
            future: asyncio.Future[None] = loop.create_future()
            self._woken.add(future)  # a new segment wakes it to measure again
            timer = None if math.isinf(wait) else loop.call_later(wait, _wake, future)
            try:
                await future
            finally:
                self._woken.discard(future)
                if timer is not None:
                    timer.cancel()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


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
