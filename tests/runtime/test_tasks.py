"""cancel_and_wait stops tasks that swallow a cancellation, and never hangs."""

from __future__ import annotations

import asyncio

from hedgemesh.runtime.tasks import cancel_and_wait


async def test_given_a_task_that_swallows_the_first_cancel_then_it_is_cancelled_again() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed == 0:  # as asyncio.wait_for can on Python 3.11
                    swallowed += 1
                    continue
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task), 2.0)
    assert task.cancelled() and swallowed == 1


async def test_given_a_task_that_never_stops_then_it_gives_up_after_the_timeout() -> None:
    released = asyncio.Event()

    async def stuck() -> None:
        while not released.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue  # ignores every cancellation until released

    task = asyncio.create_task(stuck())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task, timeout_s=0.3), 2.0)
    assert not task.done()
    released.set()  # leave nothing behind the test
    await cancel_and_wait(task)
    assert task.done()


async def test_given_a_failed_or_missing_task_then_nothing_is_raised() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    await cancel_and_wait(None)
