"""Market data is state, not a queue: conflated subscriptions hand on the newest message only.

A `Conflator` (one per `Bus`) holds, per subject, the newest message not yet handed on, in the
order the subjects first arrived, and one task hands them to their handlers one at a time. A
message that a newer one on the same subject replaced before its turn is skipped and counted
(`conflated`, and the `conflated_total` metric by kind): a consumer that falls behind on ticks
and surfaces reads the present, never a backlog, and its NATS subscription never fills up
(the callback only stores the message), so the server has no reason to cut the connection as
a slow consumer. Between two messages the task yields to the event loop, so orders, reports
and control commands on other subscriptions never wait behind a run of market data.

A surface and its tick keep their order (the surface goes out first): both are held in
arrival order, and a newer message takes the place of the one it replaces.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from hedgemesh.runtime import metrics
from hedgemesh.runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)

CONFLATED = metrics.counter(
    "conflated_total", "State messages skipped because a newer one replaced them.", ["kind"]
)

Delivery = Callable[[], Awaitable[object]]


class Conflator:
    """The newest undelivered message per subject, handed on by one task (see the module)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.conflated: Counter[str] = Counter()
        """Messages skipped, by subject."""
        self._held: dict[str, tuple[str, Delivery]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> int:
        """Subjects with a message waiting for its turn."""
        return len(self._held)

    def offer(self, subject: str, kind: str, deliver: Delivery) -> None:
        """Hold `deliver` (the handling of one message) as `subject`'s newest."""
        if subject in self._held:
            self.conflated[subject] += 1
            CONFLATED.labels(kind=kind).inc()
        self._held[subject] = (kind, deliver)
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.service}-latest")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._held:
                subject = next(iter(self._held))
                _, deliver = self._held.pop(subject)
                try:
                    await deliver()
                except Exception:
                    log.exception("%s: a message on %s was not handled", self.service, subject)
                await asyncio.sleep(0)  # what waits on other subscriptions goes first

    async def stop(self) -> None:
        """Drop what is held (state: the next message brings the present) and stop."""
        self._held.clear()
        task, self._task = self._task, None
        await cancel_and_wait(task)
