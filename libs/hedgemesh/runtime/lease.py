"""Leadership through a JetStream KV lease, with a fencing epoch.

One key per role (for example `manager`) in bucket `leases`. Its value is a `LeaseRecord`:
who holds it and until when. Every write is compare-and-set on the key's revision:

- acquire a free key with `create` (fails when it exists);
- renew with `update(last=revision)`; a failure means someone else took it;
- take over a stale record (expired, released, or unreadable) with `update(last=its revision)`,
  so two standbys racing for it cannot both win.

The **epoch** is the KV revision obtained when the lease was acquired. Revisions only grow, so
each new leader's epoch is larger than every earlier one; downstream consumers fence out a
deposed leader by refusing anything stamped with an epoch below the largest they have seen.

Why the expiry is a timestamp in the value rather than a per-key TTL: JetStream KV TTLs are
bucket-wide, or per message on nats-server 2.11+ only, and a per-message TTL is not refreshed
by `update` (nats-server#6959); expiry on the server also runs on the server's wall clock. A
timestamp in the record is read through the injected `Clock`, so tests step through hand-overs
deterministically and the cluster can run faster than real time. The cost: holders and
standbys compare against their own clocks, so clock skew between machines shortens or
lengthens a lease by the skew; the epoch fence covers the overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from pydantic import Field

from hedgemesh.runtime.clock import Clock, LiveClock
from hedgemesh.runtime.errors import CasConflict, CorruptValue, NatsUnavailable
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.wire.base import Id, UtcDatetime, WireModel

log = logging.getLogger(__name__)

#: A standby looks again this long after the record it saw lapses (the holder's clock may be a
#: little ahead of its own), and never sooner than this after its last look.
_LAPSE_MARGIN_S = 0.01

LeaseCallback = Callable[[int], Awaitable[None] | None]
"""Called with the epoch when leadership is gained or lost."""


class LeaseRecord(WireModel):
    """The value of one key in KV `leases`."""

    kind: ClassVar[str] = "lease_record"

    holder: Id = Field(description="The instance holding the lease.")
    expires_at: UtcDatetime = Field(description="The lease is free from this instant on.")
    ttl_s: float = Field(gt=0.0, le=3600.0, description="Lease duration (seconds).")
    released: bool = Field(default=False, description="Given up before expiry by its holder.")

    def is_stale(self, now: datetime) -> bool:
        return self.released or now >= self.expires_at


@dataclass(frozen=True, slots=True)
class _Tenure:
    epoch: int
    revision: int
    expires_at: datetime


class Lease:
    """Hold, renew and hand over one named lease.

    `step()` makes one attempt (acquire when free or stale, renew when held); `start()` makes
    one and then keeps stepping in the background every `renew_every_s` (default `ttl_s / 3`).
    `is_leader` turns false as soon as the clock passes the last successful renewal's expiry,
    even before the next `step()` finds out who took over.
    """

    def __init__(
        self,
        kv: TypedKV[LeaseRecord],
        name: str,
        holder: str,
        ttl_s: float,
        *,
        clock: Clock | None = None,
        on_gained: LeaseCallback | None = None,
        on_lost: LeaseCallback | None = None,
        renew_every_s: float | None = None,
    ) -> None:
        if not 0.0 < ttl_s <= 3600.0:
            raise ValueError(f"ttl_s must be in (0, 3600] seconds, got {ttl_s}")
        self.kv = kv
        self.name = name
        self.holder = holder
        self.ttl_s = ttl_s
        self.clock = clock or LiveClock()
        self.renew_every_s = renew_every_s or ttl_s / 3.0
        self.on_gained = on_gained
        self.on_lost = on_lost
        self.holder_seen: str | None = None
        """The holder found at the last read while standing by (None: free or unknown)."""
        self.expiry_seen: datetime | None = None
        """When the record found at the last read while standing by expires."""
        self._tenure: _Tenure | None = None
        self._task: asyncio.Task[None] | None = None
        self._gaining: asyncio.Task[None] | None = None
        """`on_gained` running beside the loop: a slow take-over never delays a renewal."""
        self._joined_at: datetime | None = None
        """When `start` made its first attempt: for one ttl after it, a record that lapsed
        less than a ttl ago is left to the standbys that were watching it (`_defers`): alone,
        a restarted leader takes its old lease back a ttl after it lapsed."""

    @property
    def is_leader(self) -> bool:
        return self._tenure is not None and self.clock.now() < self._tenure.expires_at

    @property
    def epoch(self) -> int | None:
        """The fencing epoch while leading, else None."""
        return self._tenure.epoch if self.is_leader and self._tenure else None

    def _record(self, now: datetime, *, released: bool = False) -> LeaseRecord:
        expires_at = now if released else now + timedelta(seconds=self.ttl_s)
        return LeaseRecord(
            holder=self.holder, expires_at=expires_at, ttl_s=self.ttl_s, released=released, ts=now
        )

    async def step(self, *, detach: bool = False) -> bool:
        """One acquire-or-renew attempt; returns whether this holder leads afterwards.
        `detach`: run `on_gained` beside the caller instead of waiting for it (the loop does,
        so a take-over's recovery longer than the ttl cannot make the new leader miss its
        renewal and hand the lease to the next replica: a second, needless change)."""
        now = self.clock.now()
        if self._tenure is not None:
            return await self._renew(now, self._tenure)
        try:
            current = await self.kv.get(self.name)
            if current is None:
                revision = await self.kv.create(self.name, self._record(now))
            elif current.value.is_stale(now) and not self._defers(current.value, now):
                revision = await self.kv.update(self.name, self._record(now), last=current.revision)
            else:
                self.holder_seen = current.value.holder
                self.expiry_seen = current.value.expires_at
                return False
        except CorruptValue as bad:
            log.warning("lease %s: unreadable record (%s); taking it over", self.name, bad)
            try:
                revision = await self.kv.update(self.name, self._record(now), last=bad.revision)
            except (CasConflict, NatsUnavailable):
                return False
        except (CasConflict, NatsUnavailable):
            return False
        self._tenure = _Tenure(revision, revision, now + timedelta(seconds=self.ttl_s))
        self.holder_seen = self.holder
        log.info("lease %s: %s leads with epoch %d", self.name, self.holder, revision)
        if detach:
            self._gaining = asyncio.create_task(
                notify(self.on_gained, revision), name=f"lease-{self.name}-gained"
            )
        else:
            await notify(self.on_gained, revision)
        return True

    def _defers(self, record: LeaseRecord, now: datetime) -> bool:
        """Whether this instance, started less than a ttl ago, leaves a record that lapsed less
        than a ttl ago to a warm standby: a crashed leader restarted by its supervisor would
        otherwise often win its own lease back, cold, before the standby's next look (a
        lease released on purpose is free to all)."""
        joined = self._joined_at
        if joined is None or record.released:
            return False
        grace = self._grace()
        return now - joined < grace and now - record.expires_at < grace

    async def _renew(self, now: datetime, tenure: _Tenure) -> bool:
        try:
            revision = await self.kv.update(self.name, self._record(now), last=tenure.revision)
        except CasConflict:
            await self._lose("taken over by another holder")
            return False
        except NatsUnavailable as error:
            if now >= tenure.expires_at:
                await self._lose(f"not renewed before expiry ({error})")
            return self.is_leader
        self._tenure = _Tenure(tenure.epoch, revision, now + timedelta(seconds=self.ttl_s))
        return True

    async def _lose(self, why: str) -> None:
        tenure, self._tenure = self._tenure, None
        gaining, self._gaining = self._gaining, None
        if gaining is not None:  # the gain's work ends before the loss is acted on
            with contextlib.suppress(Exception):
                await gaining
        if tenure is not None:
            log.warning("lease %s: %s lost epoch %d: %s", self.name, self.holder, tenure.epoch, why)
            await notify(self.on_lost, tenure.epoch)

    async def release(self) -> None:
        """Give the lease up now, so a standby takes over at its next step."""
        tenure = self._tenure
        if tenure is None:
            return
        with contextlib.suppress(CasConflict, NatsUnavailable):
            await self.kv.update(
                self.name, self._record(self.clock.now(), released=True), last=tenure.revision
            )
        await self._lose("released")

    # -- background loop ---------------------------------------------------------------------

    def next_step_in_s(self) -> float:
        """How long to wait before the next step: `renew_every_s`, or less while standing by
        when the holder's record expires sooner, so a standby takes over a crashed leader's
        lease the moment it lapses rather than up to a renewal period later."""
        if self._tenure is not None or self.expiry_seen is None:
            return self.renew_every_s
        lapses_at = self.expiry_seen
        if self._joined_at is not None:  # a new instance defers (`_defers`) until then
            lapses_at = max(lapses_at, min(self._joined_at, lapses_at) + self._grace())
        lapses_in_s = (lapses_at - self.clock.now()).total_seconds() + _LAPSE_MARGIN_S
        return min(self.renew_every_s, max(lapses_in_s, _LAPSE_MARGIN_S))

    async def run(self) -> None:
        """Step every `next_step_in_s()` until cancelled (waiting first: `start` made the
        first)."""
        while True:
            await self.clock.sleep(self.next_step_in_s())
            try:
                await self.step(detach=True)
            except Exception:
                log.exception("lease %s: step failed", self.name)

    def _grace(self) -> timedelta:
        return timedelta(seconds=self.ttl_s)

    async def start(self) -> bool:
        """Make the first attempt now, then keep stepping in the background; returns whether
        this holder leads after the first attempt. For one ttl a record that lapsed less than
        a ttl ago is left to the standbys (`_defers`)."""
        if self._joined_at is None:
            self._joined_at = self.clock.now()
        leading = await self.step()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"lease-{self.name}")
        return leading

    async def stop(self, *, release: bool = True) -> None:
        """Stop the loop and (by default) release the lease. `release=False` walks away as a
        crash would: the lease lapses after its ttl."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        if self._gaining is not None:
            await cancel_and_wait(self._gaining)
            self._gaining = None
        if release:
            await self.release()


async def notify(callback: LeaseCallback | None, epoch: int) -> None:
    """Call a gain/loss callback (sync or async); its failure is logged, never raised."""
    if callback is None:
        return
    try:
        result = callback(epoch)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("lease callback %r failed", callback)
