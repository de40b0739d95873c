"""Background tasks: stopping one reliably (`cancel_and_wait`), and a component's background
work spawned, timed and stopped together (`Background`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(
    task: asyncio.Task[object] | None, *, timeout_s: float = 5.0, retry_s: float = 0.1
) -> None:
    """Cancel `task` and return once it has finished (or after `timeout_s`, with a warning).

    The cancellation is repeated until the task is done: on Python 3.11 `asyncio.wait_for`,
    which nats-py uses inside its calls, can swallow a cancellation that arrives as its inner
    future completes, and a plain `task.cancel(); await task` then hangs. The task's own
    exception, if any, is retrieved (and logged) rather than raised.
    """
    if task is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not task.done():
        if loop.time() >= deadline:
            log.warning("task %s did not stop within %s s", task.get_name(), timeout_s)
            return
        task.cancel()
        await asyncio.wait({task}, timeout=retry_s)
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s had failed: %r", task.get_name(), task.exception())


class Background:
    """A component's background work: tasks spawned now, later (one timer per key) or every
    so often, each failure logged (never lost), all stopped by `stop`."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: list[asyncio.Task[Any]] = []
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run `work` now, in the background."""
        task = asyncio.create_task(work, name=name)
        self._tasks.append(task)
        task.add_done_callback(self._forget)

    def later(self, delay_s: float, key: str, work: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Run `work()` in `delay_s` real seconds, unless a timer for `key` is set already."""
        if key not in self._timers:
            self._timers[key] = asyncio.get_running_loop().call_later(
                delay_s, lambda: self._fire(key, work)
            )

    def cancel(self, key: str) -> None:
        """Drop the timer for `key`, if one is set."""
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def every(self, interval_s: float, work: Callable[[], Awaitable[None]], name: str) -> None:
        """Run `work()` every `interval_s` real seconds (the first after one interval); a
        failure is logged and the next round runs."""

        async def rounds() -> None:
            while True:
                await asyncio.sleep(interval_s)
                try:
                    await work()
                except Exception:
                    log.exception("%s: periodic work %s failed", self.owner, name)

        self.spawn(rounds(), name)

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            await cancel_and_wait(task)

    def _fire(self, key: str, work: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self._timers.pop(key, None)
        self.spawn(work(), key)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: background work failed", self.owner, exc_info=task.exception())
