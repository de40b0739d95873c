"""Execution reports to the store first, then to JetStream, in order, losing none.

`Outbox.put(reports)` stores the reports of one engine step in one transaction
(`ExecutionRepository.record_reports`) before any of them may be published; `run()` publishes
the stored ones on `hedge.v1.exec.<UND>` with `Nats-Msg-Id` = exec id, in order, and marks them
published (in one transaction at most every `mark_interval_s`). A crash anywhere in between
loses nothing: a report stored but not yet marked is published again after the restart
(`load_backlog`), and JetStream drops the repeat by its message id (the ledger by its exec id
beyond the duplicate window). A report not yet stored when the process dies was never
published either: the venue is simulated in this process, so what the store holds is what
happened.

When the store fails, reports wait in memory, in order, and are stored before anything newer;
when NATS fails, stored reports wait and are published on reconnection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable

from hedgemesh.runtime.bus import Bus
from hedgemesh.runtime.tasks import cancel_and_wait
from hedgemesh.store.execution import ConflictingReport, ExecutionRepository, UnknownOrder
from hedgemesh.wire.orders import ExecutionReport

log = logging.getLogger(__name__)


class Outbox:
    """Store, then publish, every report; see the module docstring."""

    def __init__(
        self,
        repo: ExecutionRepository,
        bus: Bus,
        *,
        batch: int = 256,
        retry_s: float = 0.5,
        mark_interval_s: float = 0.2,
    ) -> None:
        self.repo = repo
        self.bus = bus
        self.batch = batch
        self.retry_s = retry_s
        self.mark_interval_s = mark_interval_s
        self.stats: Counter[str] = Counter()
        self._unsaved: deque[ExecutionReport] = deque()
        self._unpublished: deque[ExecutionReport] = deque()
        self._published: list[str] = []  # exec ids on JetStream, not yet marked in the store
        self._marked_at = 0.0
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
        """Store these reports (after any still waiting), then queue them for publishing."""
        self._unsaved.extend(reports)
        self.save()
        self._kick()

    def save(self) -> bool:
        """Store the waiting reports in order, in one transaction; False when the store failed
        (they stay queued). A batch the store refuses (a report contradicting its order: a
        bug) is stored report by report, and the refused ones are dropped and logged."""
        if not self._unsaved:
            return True
        batch = list(self._unsaved)
        try:
            stored = self.repo.record_reports(batch)
        except (ConflictingReport, UnknownOrder):
            stored = [self._save_one(report) for report in batch]
        except Exception:
            log.exception("storing %d reports failed; retrying", len(batch))
            self.stats["store_errors"] += 1
            return False
        self._unsaved.clear()
        self.stats["stored"] += sum(stored)
        # A repeat of a stored report is not queued: it is published from the stored one.
        self._unpublished.extend(r for r, new in zip(batch, stored, strict=True) if new)
        return True

    def _save_one(self, report: ExecutionReport) -> bool:
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
        self._mark()

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
                self._mark()
            self._wake.clear()
            while self._unsaved or self._unpublished:
                if not (self.save() and await self._publish_batch()):
                    self._mark()
                    await asyncio.sleep(self.retry_s)
                elif (
                    len(self._published) >= self.batch
                    or time.monotonic() - self._marked_at >= self.mark_interval_s
                ):
                    self._mark()
            self._idle.set()

    async def _publish_batch(self) -> bool:
        """Publish up to `batch` stored reports in order; False on a failure."""
        for report in list(self._unpublished)[: self.batch]:
            try:
                ack = await self.bus.js_publish(
                    report.publish_subject, report, msg_id=report.exec_id
                )
            except Exception as error:
                log.warning("publishing report %s failed: %r", report.exec_id, error)
                self.stats["publish_errors"] += 1
                return False
            self.stats["duplicates" if ack.duplicate else "published"] += 1
            self._published.append(report.exec_id)
            self._unpublished.popleft()
        return True

    def _mark(self) -> None:
        """Mark what went out as published, in one transaction. If this fails (or the process
        dies first), a restart publishes them again and JetStream drops the repeats."""
        self._marked_at = time.monotonic()
        if not self._published:
            return
        ids, self._published = self._published, []
        try:
            self.repo.mark_published(ids)
        except Exception:
            log.exception("marking %d reports published failed", len(ids))
