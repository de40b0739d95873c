"""Execution reports to the store first, then to JetStream, in order, losing none.

`Outbox.put(reports)` queues the reports of one engine step; `run()` stores what is queued in
one transaction (`ExecutionRepository.record_reports`) before any of it may be published,
publishes the stored reports on `hedge.v1.exec.<UND>` with `Nats-Msg-Id` = exec id, and marks
them published (in one transaction at most every `mark_interval_s`). A crash anywhere in
between loses nothing: a report stored but not yet marked is published again after the restart
(`load_backlog`), and JetStream drops the repeat by its message id (the ledger by its exec id
beyond the duplicate window). A report not yet stored when the process dies was never
published either: the venue is simulated in this process, so what the store holds is what
happened (an order whose reports were lost that way is judged again on restart: stored, never
reported on).

Never blocking the event loop, never giving up:

- **The store runs on its own thread** (`StoreThread`, one call at a time, in order; the
  service sends its order inserts through the same thread), so a slow commit or a SQLite lock
  held by another process never stalls the loop. A stalled loop was what made JetStream
  publish acknowledgements time out on a busy machine: the ack had arrived, but the loop only
  looked after the timer had fired.
- **Publishing is pipelined**: up to `window` publishes in flight at once (written to the
  connection in order, so the stream stores them in order), each waiting for its
  acknowledgement up to `ack_timeout_s`. One publish at a time was bounded by the round trip:
  a few hundred reports a second on a loaded machine, and a backlog of hundreds after a hedge
  storm.
- **A failed publish is retried for ever**, before anything newer, with a back-off doubling
  from `retry_s` to `max_retry_s` (reset by a success). A publish that timed out was usually
  stored by JetStream all the same; its retry comes back as a duplicate and keeps its place in
  the stream.

When the store fails, reports wait in memory, in order, and are stored before anything newer;
when NATS fails, stored reports wait and are published on reconnection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from hedgemesh.runtime.bus import Bus, PublishAck
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.store.execution import ConflictingReport, ExecutionRepository, UnknownOrder
from hedgemesh.wire.orders import ExecutionReport

log = logging.getLogger(__name__)

T = TypeVar("T")


class StoreThread:
    """Store calls on one thread of their own: one at a time, in the order submitted."""

    def __init__(self, name: str = "execution-store") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class Outbox:
    """Store, then publish, every report; see the module docstring."""

    def __init__(
        self,
        repo: ExecutionRepository,
        bus: Bus,
        *,
        store: StoreThread | None = None,
        batch: int = 256,
        window: int = 64,
        retry_s: float = 0.05,
        max_retry_s: float = 2.0,
        ack_timeout_s: float = 10.0,
        mark_interval_s: float = 0.2,
        on_stored: Callable[[list[ExecutionReport]], None] | None = None,
    ) -> None:
        self.repo = repo
        self.bus = bus
        self.store = store or StoreThread()
        self._own_store = store is None
        self.batch = batch
        self.window = max(1, window)
        self.retry_s = retry_s
        self.max_retry_s = max(max_retry_s, retry_s)
        self.ack_timeout_s = ack_timeout_s
        self.mark_interval_s = mark_interval_s
        self.on_stored = on_stored
        """Told of each batch of reports newly stored (the FIX gateway sends them on)."""
        self.stats: Counter[str] = Counter()
        self._unsaved: deque[ExecutionReport] = deque()
        self._unpublished: deque[ExecutionReport] = deque()
        self._published: list[str] = []  # exec ids on JetStream, not yet marked in the store
        self._marked_at = 0.0
        self._failures = 0  # consecutive failed rounds: the back-off's exponent
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    @property
    def backlog(self) -> tuple[int, int]:
        """(reports not yet stored, reports stored but not yet published)."""
        return len(self._unsaved), len(self._unpublished)

    def load_backlog(self) -> int:
        """Queue the reports the store holds unpublished (after a restart); how many."""
        reports = self.repo.unpublished_reports(limit=1 << 30)
        self._unpublished.extend(reports)
        self._kick()
        return len(reports)

    def put(self, reports: Iterable[ExecutionReport]) -> None:
        """Queue these reports (after any still waiting) to be stored, then published."""
        self._unsaved.extend(reports)
        self._kick()

    async def save(self) -> bool:
        """Store the waiting reports in order, in one transaction, on the store's thread;
        False when the store failed (they stay queued). A batch the store refuses (a report
        contradicting its order: a bug) is stored report by report, and the refused ones are
        dropped and logged."""
        if not self._unsaved:
            return True
        batch = list(self._unsaved)
        try:
            stored = await self.store.run(lambda: self._record(batch))
        except Exception:
            log.exception("storing %d reports failed; retrying", len(batch))
            self.stats["store_errors"] += 1
            return False
        for _ in batch:  # reports queued while the store worked stay queued
            self._unsaved.popleft()
        self.stats["stored"] += sum(stored)
        # A repeat of a stored report is not queued: it is published from the stored one.
        fresh = [r for r, new in zip(batch, stored, strict=True) if new]
        self._unpublished.extend(fresh)
        if self.on_stored is not None and fresh:
            self.on_stored(fresh)
        return True

    def _record(self, batch: list[ExecutionReport]) -> list[bool]:
        """On the store's thread: the batch in one transaction, else report by report."""
        try:
            return self.repo.record_reports(batch)
        except (ConflictingReport, UnknownOrder):
            return [self._record_one(report) for report in batch]

    def _record_one(self, report: ExecutionReport) -> bool:
        try:
            return self.repo.record_report(report)
        except (ConflictingReport, UnknownOrder):
            log.exception("report %s refused by the store; dropped", report.exec_id)
            self.stats["refused"] += 1
            return False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="execution-outbox")

    async def flush(self, timeout_s: float) -> bool:
        """Wait until everything is stored and published (True), or `timeout_s` passed."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
            return True
        except TimeoutError:
            return False

    async def stop(self, timeout_s: float = 2.0) -> None:
        """Publish what can be published within `timeout_s`, mark it, then stop."""
        await self.flush(timeout_s)
        await cancel_and_wait(self._task)
        self._task = None
        await self._mark()
        if self._own_store:
            self.store.close()

    def _kick(self) -> None:
        if self._unsaved or self._unpublished:
            self._idle.clear()
            self._wake.set()

    async def _run(self) -> None:
        while True:
            try:  # with marks owed, wake up in time to write them
                owed = self.mark_interval_s if self._published else None
                await asyncio.wait_for(self._wake.wait(), owed)
            except TimeoutError:
                await self._mark()
            self._wake.clear()
            while self._unsaved or self._unpublished:
                failure = "storing failed" if not await self.save() else await self._publish_batch()
                if failure is None:
                    self._failures = 0
                    if (
                        len(self._published) >= self.batch
                        or time.monotonic() - self._marked_at >= self.mark_interval_s
                    ):
                        await self._mark()
                    continue
                await self._mark()
                self._failures += 1
                log.warning("outbox: %s; retrying in %.2g s", failure, self.backoff_s)
                await asyncio.sleep(self.backoff_s)
            self._idle.set()

    @property
    def backoff_s(self) -> float:
        """The pause before the next try after `_failures` failed rounds in a row."""
        if self._failures <= 0:
            return 0.0
        return min(self.retry_s * 2.0 ** min(self._failures - 1, 30), self.max_retry_s)

    async def _publish_batch(self) -> str | None:
        """Publish up to `batch` stored reports, `window` at a time, in order. None when all
        went out; else what failed (those reports stay first in the queue, in order)."""
        todo = list(self._unpublished)[: self.batch]
        for start in range(0, len(todo), self.window):
            chunk = todo[start : start + self.window]
            results = await asyncio.gather(
                *(self._publish(report) for report in chunk), return_exceptions=True
            )
            failed: list[tuple[ExecutionReport, BaseException]] = []
            for report, result in zip(chunk, results, strict=True):
                self._unpublished.popleft()
                if isinstance(result, BaseException):
                    failed.append((report, result))
                    continue
                self.stats["duplicates" if result.duplicate else "published"] += 1
                self._published.append(report.exec_id)
            if failed:
                self.stats["publish_errors"] += len(failed)
                self._unpublished.extendleft(reversed([report for report, _ in failed]))
                report, error = failed[0]
                return (
                    f"publishing {len(failed)} of {len(chunk)} reports failed "
                    f"(first {report.exec_id}: {error!r})"
                )
        return None

    async def _publish(self, report: ExecutionReport) -> PublishAck:
        return await self.bus.js_publish(
            report.publish_subject, report, msg_id=report.exec_id, timeout_s=self.ack_timeout_s
        )

    async def _mark(self) -> None:
        """Mark what went out as published, in one transaction. If this fails (or the process
        dies first), a restart publishes them again and JetStream drops the repeats."""
        self._marked_at = time.monotonic()
        if not self._published:
            return
        ids, self._published = self._published, []
        try:
            await self.store.run(lambda: self.repo.mark_published(ids))
        except Exception:
            log.exception("marking %d reports published failed", len(ids))
