"""One simulated clock for a cluster (KV `clock`): the first writer wins, every other process
follows its record whenever it started, and a change of rate carries the time on without a
jump."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from hedgemesh.runtime import Service, TypedKV
from hedgemesh.runtime.clock import AcceleratedClock
from hedgemesh.runtime.cluster_clock import ClockFollower, join, retime
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.service import RuntimeSettings
from hedgemesh.wire import subjects
from hedgemesh.wire.clock import CLUSTER_CLOCK_KEY, ClockRecord

START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def test_given_a_segment_then_time_runs_at_its_speed_from_its_anchor() -> None:
    first = ClockRecord.begin(START, anchor=1000.0, speed=100.0, by="a")
    assert first.time_at(1000.0) == START
    assert first.time_at(1010.0) == START + timedelta(seconds=1000)
    second = first.retimed(10.0, 1010.0, "pacer", "lag")
    assert (second.at, second.anchor, second.speed, second.segment) == (
        START + timedelta(seconds=1000),
        1010.0,
        10.0,
        1,
    )
    assert second.start == START
    assert second.time_at(1020.0) == START + timedelta(seconds=1100)


def test_given_a_clock_that_follows_a_slower_segment_then_monotonic_never_goes_back() -> None:
    clock = AcceleratedClock(1000.0, START)
    before = clock.monotonic()
    clock.follow(START - timedelta(hours=1), time.time(), 2.0)
    assert clock.monotonic() >= before
    assert abs((clock.now() - (START - timedelta(hours=1))).total_seconds()) < 1.0
    assert clock.speed == 2.0


@pytest.fixture
async def clock_kv(bus) -> TypedKV[ClockRecord]:
    return TypedKV(await bus.js.key_value(subjects.KV_CLOCK), ClockRecord, subjects.KV_CLOCK)


async def test_given_two_processes_then_the_first_writer_wins_and_the_second_follows(
    clock_kv,
) -> None:
    first = AcceleratedClock(390.0, START)
    later = AcceleratedClock(50.0, START + timedelta(days=3))  # another start, another speed
    won = await join(clock_kv, first, "first")
    followed = await join(clock_kv, later, "later")
    assert followed.revision == won.revision and followed.value.changed_by == "first"
    assert later.speed == 390.0
    assert abs((later.now() - first.now()).total_seconds()) < 390 * 0.05


async def test_given_a_new_rate_then_every_follower_takes_it_without_a_jump(clock_kv) -> None:
    leader, other = AcceleratedClock(100.0, START), AcceleratedClock(100.0, START)
    await join(clock_kv, leader, "a")
    follower = ClockFollower(clock_kv, other, "b", poll_s=0.01)
    await follower.start()
    try:
        before = other.now()
        changed = await retime(clock_kv, 5.0, "pacer", "the desk lags")
        assert changed.value.segment == 1 and changed.value.reason == "the desk lags"
        assert await follower.check() or follower.revision == changed.revision
        assert other.speed == 5.0
        jump = (other.now() - before).total_seconds()
        assert 0.0 <= jump < 100 * 0.5  # carried on from where it was, no step
        assert not await follower.check()  # nothing newer
    finally:
        await follower.stop()


async def test_given_a_service_on_an_accelerated_clock_then_it_follows_the_cluster_record(
    nats_server, clock_kv
) -> None:
    record = ClockRecord.begin(START, time.time(), 200.0, "launcher")
    await clock_kv.put(CLUSTER_CLOCK_KEY, record)
    settings = RuntimeSettings(instance="svc-1")
    clock = AcceleratedClock(7.0, START + timedelta(days=30))
    service = Service("svc", settings=settings, nats=NatsSettings(url=nats_server.url), clock=clock)
    await service.start()
    try:
        assert clock.speed == 200.0
        assert abs((clock.now() - record.time_at(time.time())).total_seconds()) < 200 * 0.05
    finally:
        await service.stop()


def test_given_a_change_scheduled_ahead_then_the_clock_keeps_its_rate_until_then() -> None:
    clock = AcceleratedClock(100.0, START, anchor=time.time())
    soon = time.time() + 0.2
    record = ClockRecord.begin(START, time.time(), 100.0, "a").retimed(10.0, soon, "pacer")
    clock.follow(record.at, record.anchor, record.speed)
    assert clock.speed == 100.0  # not yet
    time.sleep(0.25)
    assert clock.speed == 10.0
    assert abs((clock.now() - record.time_at(time.time())).total_seconds()) < 0.1


async def test_given_a_held_clock_then_time_stands_and_a_sleep_waits_for_the_start() -> None:
    clock = AcceleratedClock(100.0, START)
    clock.follow(START, time.time(), 0.0)
    assert clock.speed == 0.0
    sleeping = asyncio.create_task(clock.sleep(5.0))  # five clock seconds
    await asyncio.sleep(0.2)
    assert not sleeping.done() and clock.now() == START
    began = time.monotonic()
    clock.follow(START, time.time() + 0.1, 100.0)  # runs 0.1 s from now: 0.05 s later done
    await asyncio.wait_for(sleeping, 2.0)
    assert 0.1 <= time.monotonic() - began < 0.5


async def test_given_a_slower_rate_during_a_sleep_then_the_sleep_follows_it() -> None:
    clock = AcceleratedClock(1000.0, START)
    began = time.monotonic()
    sleeping = asyncio.create_task(clock.sleep(100.0))  # 0.1 s at 1000x
    await asyncio.sleep(0.02)
    clock.follow(clock.now(), time.time(), 200.0)  # the other 80 clock s take 0.4 s
    await asyncio.wait_for(sleeping, 2.0)
    assert 0.35 < time.monotonic() - began < 0.8


async def test_given_a_held_record_then_retime_starts_it_with_a_lead(clock_kv) -> None:
    await clock_kv.put(
        CLUSTER_CLOCK_KEY, ClockRecord.begin(START, time.time(), 0.0, "up", ceiling=390.0)
    )
    held = await clock_kv.get(CLUSTER_CLOCK_KEY)
    assert held is not None and held.value.held and held.value.top_speed == 390.0
    began = time.time()
    started = await retime(clock_kv, 390.0, "marketdata", "ready", lead_s=1.0)
    assert started.value.at == START and started.value.anchor >= began + 1.0
    assert started.value.ceiling == 390.0 and not started.value.held
