"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
import logging

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
