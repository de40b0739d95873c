"""One simulated clock for a cluster (KV `clock`): the first writer wins, every other process
follows its record whenever it started, and a change of rate carries the time on without a
jump."""

from __future__ import annotations

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
