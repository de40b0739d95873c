"""Partition ownership: one lease per partition, owners balanced over the live instances.

Every instance of a partitioned service (`HEDGEMESH_PARTITIONS` > 1) holds a `Lease` object per
partition (`<service>.p<n>` in KV `leases`, each with its own fencing epoch) and a view of which
instances of its service are alive (`Membership`, from their heartbeats). Who should lead a
partition is decided by **rendezvous hashing** (`preference`): each live instance scores
`hash(instance/partition)` and the highest leads. Every instance computes the same order from
the same members, so without talking to each other:

- an instance *acquires* a partition's lease (free, released or lapsed) only where it comes first
  among the live instances, so partitions spread evenly and a dead owner's partitions go to
  whichever live instance each now prefers, one lease ttl after its last renewal (the take-over
  bound of a single lease);
- an instance *hands over* a partition it holds when another live instance, alive for at least
  `settle_s`, now comes first (an instance added to the desk): it releases the lease and the
  preferred one takes it at its next step; a new instance takes about 1/n of the partitions and
  nothing else moves;
- the lease itself keeps it safe when two instances disagree about who is alive: a
  compare-and-set on the key, so one holder at a time, and each new holder a larger epoch.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable

from hedgemesh.runtime.clock import Clock, LiveClock
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.lease import Lease, LeaseCallback, LeaseRecord
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.wire.partitions import partition_lease

log = logging.getLogger(__name__)

PartitionCallback = Callable[[int, int], Awaitable[None] | None]
"""Called with (partition, epoch) when a partition's lease is gained or lost."""


def _score(member: str, partition: int) -> int:
    # BLAKE2b, not FNV-1a: names that differ in their last character must still score apart.
    digest = hashlib.blake2b(f"{member}/{partition}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def preference(partition: int, members: Iterable[str]) -> list[str]:
    """`members` in order of preference to lead `partition` (rendezvous hashing: the highest
    score first, names breaking ties)."""
    return sorted(members, key=lambda m: (_score(m, partition), m), reverse=True)


class Membership:
    """Which instances of one service are alive: itself, and each one heard (a heartbeat)
    within `timeout_s` real seconds; `since` tells how long each has been alive."""

    def __init__(self, me: str, timeout_s: float, clock: Clock | None = None) -> None:
        self.me = me
        self.timeout_s = timeout_s
        self.clock = clock or LiveClock()
        self._last: dict[str, float] = {}
        self._since: dict[str, float] = {}

    def saw(self, member: str) -> None:
        now = self.clock.monotonic()
        if member not in self._last or now - self._last[member] > self.timeout_s:
            self._since[member] = now  # (back) alive from now
        self._last[member] = now

    def forget(self, member: str) -> None:
        """`member` said it stops (a STOPPING heartbeat): not alive from now."""
        self._last.pop(member, None)
        self._since.pop(member, None)

    def live(self) -> list[str]:
        now = self.clock.monotonic()
        alive = {m for m, t in self._last.items() if now - t <= self.timeout_s}
        return sorted(alive | {self.me})

    def alive_for(self, member: str) -> float:
        """How long `member` has been alive (real seconds; 0 when it is not)."""
        if member == self.me:
            return float("inf")
        if member not in self.live():
            return 0.0
        return self.clock.monotonic() - self._since[member]


class PartitionOwnership:
    """The partitions this instance leads, kept balanced (module docstring)."""

    def __init__(
        self,
        kv: TypedKV[LeaseRecord],
        service: str,
        me: str,
        count: int,
        ttl_s: float,
        membership: Membership,
        *,
        clock: Clock | None = None,
        settle_s: float | None = None,
        on_gained: PartitionCallback | None = None,
        on_lost: PartitionCallback | None = None,
    ) -> None:
        self.me = me
        self.count = count
        self.membership = membership
        self.settle_s = ttl_s if settle_s is None else settle_s
        self.on_gained = on_gained
        self.on_lost = on_lost
        self.leases = {
            p: Lease(
                kv,
                partition_lease(service, p, count),
                me,
                ttl_s,
                clock=clock,
                on_gained=self._relay(True, p),
                on_lost=self._relay(False, p),
            )
            for p in range(count)
        }
        self.step_every_s = ttl_s / 3.0
        self._wanted: set[int] = set()  # partitions it should lead and does not yet
        self._task: asyncio.Task[None] | None = None

    def _relay(self, gained: bool, partition: int) -> LeaseCallback:
        """The lease's callback for one partition: the ownership's, with the partition."""

        async def relay(epoch: int) -> None:
            callback = self.on_gained if gained else self.on_lost
            if callback is not None:
                result = callback(partition, epoch)
                if inspect.isawaitable(result):
                    await result

        return relay

    # -- what the service asks ---------------------------------------------------------------

    def leads(self, partition: int) -> bool:
        return self.leases[partition].is_leader

    def epoch(self, partition: int) -> int | None:
        return self.leases[partition].epoch

    def led(self) -> list[int]:
        return [p for p, lease in self.leases.items() if lease.is_leader]

    def next_in_line(self, partition: int) -> bool:
        """Whether this instance leads `partition` or would take it over first (it comes first
        or second among the live instances): the ones that keep its evaluation warm."""
        return self.leads(partition) or self.me in preference(partition, self.membership.live())[:2]

    # -- stepping ----------------------------------------------------------------------------

    async def step(self) -> list[int]:
        """One pass over every partition: renew what it holds and should, hand over what a
        settled better-placed instance should hold, acquire what it should lead; returns the
        partitions it leads afterwards."""
        live = self.membership.live()
        self._wanted = set()
        for partition, lease in self.leases.items():
            first = preference(partition, live)[0]
            if lease.is_leader:
                if first != self.me and self.membership.alive_for(first) >= self.settle_s:
                    log.info("partition %d: handing over to %s", partition, first)
                    await lease.release()
                else:
                    await lease.step()
            elif first == self.me and not await lease.step():
                self._wanted.add(partition)
        return self.led()

    def next_step_in_s(self) -> float:
        """A third of the ttl, or sooner when a lease it should take lapses sooner."""
        return min([self.step_every_s, *(self.leases[p].next_step_in_s() for p in self._wanted)])

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.next_step_in_s())
            try:
                await self.step()
            except Exception:
                log.exception("partition ownership: step failed")

    async def start(self) -> list[int]:
        led = await self.step()
        self._task = asyncio.create_task(self.run(), name="partition-ownership")
        return led

    async def stop(self, *, release: bool = True) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        for lease in self.leases.values():
            await lease.stop(release=release)
