"""Clocks: live, stepped by hand, and accelerated."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from hedgemesh.runtime.clock import EPOCH, AcceleratedClock, Clock, LiveClock, SteppedClock

pytestmark = pytest.mark.timeout(10)


def test_every_clock_satisfies_the_clock_protocol():
    for clock in (LiveClock(), SteppedClock(), AcceleratedClock(10.0)):
        assert isinstance(clock, Clock)
        assert clock.now().tzinfo is not None
        assert clock.now().utcoffset() == timedelta(0)


def test_given_a_stepped_clock_then_time_moves_only_when_advanced():
    clock = SteppedClock()
    assert clock.now() == EPOCH
    assert clock.monotonic() == 0.0
    clock.advance(2.5)
    assert clock.now() == EPOCH + timedelta(seconds=2.5)
    assert clock.monotonic() == 2.5
    clock.set(EPOCH + timedelta(minutes=1))
    assert clock.monotonic() == 60.0


def test_given_a_stepped_clock_when_moved_backwards_then_refused():
    clock = SteppedClock()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1.0)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(EPOCH - timedelta(seconds=1))


def test_given_a_naive_start_then_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        SteppedClock(datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        AcceleratedClock(2.0, start=datetime(2024, 1, 1))


async def test_given_sleepers_then_each_wakes_once_its_deadline_is_reached_in_order():
    clock = SteppedClock()
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("late", 3.0), ("early", 1.0))]
    while clock.sleepers < 2:
        await asyncio.sleep(0)
    clock.advance(0.999)
    await asyncio.sleep(0)
    assert woke == []
    clock.advance(0.001)
    await asyncio.sleep(0)
    assert woke == ["early"]
    assert clock.sleepers == 1
    clock.advance(5.0)
    await asyncio.gather(*tasks)
    assert woke == ["early", "late"]
    assert clock.sleepers == 0


async def test_given_a_zero_sleep_on_a_stepped_clock_then_it_returns_without_time_moving():
    clock = SteppedClock()
    await asyncio.wait_for(clock.sleep(0.0), timeout=1.0)
    await asyncio.wait_for(clock.sleep(-3.0), timeout=1.0)
    assert clock.monotonic() == 0.0


async def test_given_an_accelerated_clock_then_a_sleep_covers_its_duration_in_clock_time():
    start = datetime(2030, 6, 1, tzinfo=UTC)
    clock = AcceleratedClock(1000.0, start=start)
    before = clock.monotonic()
    await clock.sleep(20.0)  # 20 ms of real time
    assert clock.monotonic() - before >= 20.0
    assert clock.now() >= start + timedelta(seconds=20.0)


@pytest.mark.parametrize("speed", [0.0, -1.0, float("inf"), float("nan")])
def test_given_a_speed_that_is_not_finite_and_positive_then_refused(speed):
    with pytest.raises(ValueError, match="speed"):
        AcceleratedClock(speed)


async def test_given_a_live_clock_then_now_follows_the_system_clock():
    clock = LiveClock()
    before = datetime.now(UTC)
    now = clock.now()
    assert before <= now <= datetime.now(UTC)
    first = clock.monotonic()
    await clock.sleep(0.001)
    assert clock.monotonic() > first


def test_given_two_accelerated_clocks_with_one_anchor_then_they_agree_on_the_time() -> None:
    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    anchor = time.time() - 10.0  # the cluster started ten real seconds ago
    first = AcceleratedClock(60.0, start, anchor=anchor)
    time.sleep(0.01)
    second = AcceleratedClock(60.0, start, anchor=anchor)
    assert abs((first.now() - second.now()).total_seconds()) < 0.5
    assert first.now() - start >= timedelta(seconds=600)


def test_given_service_settings_with_start_and_anchor_then_the_service_clock_is_shared() -> None:
    from hedgemesh.runtime.service import RuntimeSettings, Service

    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    settings = RuntimeSettings(clock_speed=60.0, clock_start=start, clock_anchor=time.time())
    clock = Service("probe", settings=settings).clock
    assert isinstance(clock, AcceleratedClock)
    assert abs((clock.now() - start).total_seconds()) < 5.0
