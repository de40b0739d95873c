"""One accelerated simulated clock for a whole cluster, kept in KV `clock` (key `cluster`).

- `join(kv, clock, by)`: the first writer wins — the record is created from this process's own
  clock (its speed, and its simulated time now at the real time now) unless one exists; either
  way the clock then follows the record that is in force.
- `ClockFollower`: what `Service` runs for an accelerated clock: joins at start-up, then reads the
  record every `poll_s` real seconds and follows a newer segment (a change of rate).
- `retime(kv, speed, by, reason, lead_s)`: change the rate `lead_s` real seconds from now
  (compare-and-set; the simulated time carries on from where it is): marketdata's pacer
  (`hedgemesh.marketdata.adapters.pacing`) slows it when the desk lags and starts a held clock
  once the desk is ready. The lead (longer than the followers' poll) lets every process switch
  at the same real instant, so they never disagree about the time.

`hedgemesh up` writes the record itself (`put`) before starting the services: each launcher run
is a new simulation, and its services already share its start and anchor through the
environment. Compose and Kubernetes start containers at different moments: the first service up
writes the record, the others follow it, and a restarted container follows it too.
"""

from __future__ import annotations

import asyncio
import logging
import time

from hedgemesh.runtime.clock import AcceleratedClock
from hedgemesh.runtime.errors import CasConflict, CorruptValue, NatsUnavailable
from hedgemesh.runtime.kv import TypedKV, Versioned
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.wire.clock import CLUSTER_CLOCK_KEY, ClockRecord

log = logging.getLogger(__name__)

POLL_S = 0.5
#: A change of rate takes effect this long after it is written: every follower reads it first.
LEAD_S = 1.5
_RETIME_TRIES = 5


def record_of(clock: AcceleratedClock, by: str) -> ClockRecord:
    """A first segment from a process's own clock: its time now, at the real time now."""
    return ClockRecord.begin(clock.now(), time.time(), clock.speed, by)


def follow(clock: AcceleratedClock, record: ClockRecord) -> None:
    clock.follow(record.at, record.anchor, record.speed)


async def join(
    kv: TypedKV[ClockRecord], clock: AcceleratedClock, by: str
) -> Versioned[ClockRecord]:
    """Create the record from `clock` unless one exists (first writer wins); follow the one in
    force and return it with its revision."""
    mine = record_of(clock, by)
    try:
        revision = await kv.create(CLUSTER_CLOCK_KEY, mine)
        held: Versioned[ClockRecord] | None = Versioned(mine, revision)
        log.info("cluster clock: %s began it at %s, %gx", by, mine.at.isoformat(), mine.speed)
    except CasConflict:
        held = await kv.get(CLUSTER_CLOCK_KEY)
    if held is None:  # deleted between the two calls: try once more
        return await join(kv, clock, by)
    follow(clock, held.value)
    return held


async def retime(
    kv: TypedKV[ClockRecord], speed: float, by: str, reason: str = "", lead_s: float = 0.0
) -> Versioned[ClockRecord]:
    """Run the cluster's clock at `speed` from `lead_s` real seconds on (a new segment,
    compare-and-set)."""
    for _ in range(_RETIME_TRIES):
        held = await kv.get(CLUSTER_CLOCK_KEY)
        if held is None:
            raise LookupError("the cluster has no clock record to retime")
        at = max(time.time() + lead_s, held.value.anchor)
        record = held.value.retimed(speed, at, by, reason)
        try:
            return Versioned(record, await kv.update(CLUSTER_CLOCK_KEY, record, last=held.revision))
        except CasConflict:
            continue
    raise CasConflict(kv.bucket, CLUSTER_CLOCK_KEY, f"changed {_RETIME_TRIES} times while retiming")


class ClockFollower:
    """Keeps one process's `AcceleratedClock` on the cluster's record."""

    def __init__(
        self, kv: TypedKV[ClockRecord], clock: AcceleratedClock, by: str, poll_s: float = POLL_S
    ) -> None:
        self.kv = kv
        self.clock = clock
        self.by = by
        self.poll_s = poll_s
        self.revision = 0
        self.record: ClockRecord | None = None
        """The segment in force (or scheduled) as last read."""
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        joined = await join(self.kv, self.clock, self.by)
        self.revision, self.record = joined.revision, joined.value
        self._task = asyncio.create_task(self._poll(), name="cluster-clock")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    def adopt(self, held: Versioned[ClockRecord]) -> None:
        """Follow a segment this process wrote itself (`retime`), without waiting for the poll."""
        if held.revision > self.revision:
            follow(self.clock, held.value)
            self.revision, self.record = held.revision, held.value

    async def check(self) -> bool:
        """Read the record once; follow it if it is newer. True when the clock changed."""
        try:
            held = await self.kv.get(CLUSTER_CLOCK_KEY)
        except (NatsUnavailable, CorruptValue) as error:
            log.warning("cluster clock: not read (%s); keeping segment %d", error, self.revision)
            return False
        if held is None or held.revision <= self.revision:
            return False
        follow(self.clock, held.value)
        self.revision, self.record = held.revision, held.value
        log.info(
            "cluster clock: segment %d, %gx from %s (%s: %s)",
            held.value.segment,
            held.value.speed,
            held.value.at.isoformat(),
            held.value.changed_by,
            held.value.reason or "no reason given",
        )
        return True

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            await self.check()
