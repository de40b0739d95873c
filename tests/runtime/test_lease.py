"""Leadership through a KV lease: refusal while live, hand-over after expiry, fencing epochs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from hedgemesh.runtime.bus import Bus
from hedgemesh.runtime.clock import SteppedClock
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.lease import Lease, LeaseRecord
from hedgemesh.runtime.streams import ensure_streams
from hedgemesh.wire import subjects

pytestmark = pytest.mark.timeout(20)

TTL_S = 6.0


@pytest.fixture
async def leases(bus: Bus) -> TypedKV[LeaseRecord]:
    buckets = await ensure_streams(bus.js)
    return TypedKV(buckets[subjects.KV_LEASES], LeaseRecord, subjects.KV_LEASES)


class Events:
    """Records gain/loss callbacks as ("gained" | "lost", epoch)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def gained(self, epoch: int) -> None:
        self.seen.append(("gained", epoch))

    async def lost(self, epoch: int) -> None:
        self.seen.append(("lost", epoch))


def _lease(kv, holder: str, clock, events: Events | None = None, **options) -> Lease:
    return Lease(
        kv,
        "manager",
        holder,
        TTL_S,
        clock=clock,
        on_gained=events.gained if events else None,
        on_lost=events.lost if events else None,
        **options,
    )


async def test_given_a_free_lease_then_the_first_holder_gets_it_with_the_revision_as_epoch(leases):
    clock = SteppedClock()
    events = Events()
    a = _lease(leases, "a", clock, events)
    assert await a.step()
    stored = await leases.get("manager")
    assert stored is not None
    assert a.is_leader and a.epoch == stored.revision
    assert stored.value.holder == "a"
    assert stored.value.expires_at == clock.now() + timedelta(seconds=TTL_S)
    assert events.seen == [("gained", a.epoch)]


async def test_given_a_live_lease_then_a_second_holder_is_refused(leases):
    clock = SteppedClock()
    a, b = _lease(leases, "a", clock), _lease(leases, "b", clock)
    await a.step()
    clock.advance(TTL_S - 0.001)
    assert not await b.step()
    assert not b.is_leader and b.epoch is None
    assert b.holder_seen == "a"


async def test_given_the_holder_renews_then_the_lease_outlives_its_first_ttl(leases):
    clock = SteppedClock()
    a, b = _lease(leases, "a", clock), _lease(leases, "b", clock)
    await a.step()
    epoch = a.epoch
    for _ in range(5):
        clock.advance(TTL_S / 3)
        assert await a.step()
        assert not await b.step()
    assert a.is_leader and a.epoch == epoch  # renewals keep the epoch
    assert (await leases.get("manager")).revision > epoch


async def test_given_the_holder_stops_renewing_then_a_standby_takes_over_after_expiry(leases):
    clock = SteppedClock()
    a_events, b_events = Events(), Events()
    a, b = _lease(leases, "a", clock, a_events), _lease(leases, "b", clock, b_events)
    await a.step()
    old_epoch = a.epoch
    assert not await b.step()

    clock.advance(TTL_S)
    assert not a.is_leader  # the clock alone tells the old holder it may no longer act
    assert await b.step()
    assert b.is_leader and b.epoch > old_epoch
    assert b_events.seen == [("gained", b.epoch)]

    assert a_events.seen == [("gained", old_epoch)]
    assert not await a.step()  # its renewal loses the compare-and-set
    assert a_events.seen == [("gained", old_epoch), ("lost", old_epoch)]
    assert not await a.step()
    assert a.holder_seen == "b"


async def test_given_successive_hand_overs_then_epochs_strictly_increase(leases):
    clock = SteppedClock()
    holders = [_lease(leases, name, clock) for name in ("a", "b", "c")]
    epochs = []
    for holder in holders * 2:
        clock.advance(TTL_S)
        await holder.step()  # renewal fails for the old holder, takeover for the new one
        assert await holder.step()
        epochs.append(holder.epoch)
    assert epochs == sorted(set(epochs))


async def test_given_a_released_lease_then_a_standby_takes_it_at_once(leases):
    clock = SteppedClock()
    a_events = Events()
    a, b = _lease(leases, "a", clock, a_events), _lease(leases, "b", clock)
    await a.step()
    await a.release()
    assert not a.is_leader
    assert a_events.seen[-1] == ("lost", a_events.seen[0][1])
    assert await b.step()
    assert b.epoch > a_events.seen[0][1]


async def test_given_an_expired_holder_whom_nobody_replaced_then_it_renews_and_keeps_its_epoch(
    leases,
):
    clock = SteppedClock()
    a = _lease(leases, "a", clock)
    await a.step()
    epoch = a.epoch
    clock.advance(TTL_S * 2)
    assert not a.is_leader
    assert await a.step()
    assert a.epoch == epoch


async def test_given_an_unreadable_lease_record_then_it_is_taken_over(leases, bus):
    buckets = await ensure_streams(bus.js)
    await buckets[subjects.KV_LEASES].put("manager", b"not a lease")
    a = _lease(leases, "a", SteppedClock())
    assert await a.step()
    assert (await leases.get("manager")).value.holder == "a"


async def test_given_the_background_loop_then_a_crashed_leader_is_replaced_within_the_ttl(
    leases, eventually
):
    clock = SteppedClock()
    a = _lease(leases, "a", clock)
    b = _lease(leases, "b", clock)
    assert await a.start()
    assert not await b.start()
    await eventually(lambda: clock.sleepers == 2)
    await a.stop(release=False)  # as a crash: no release, no more renewals

    for _ in range(4):  # four renew periods (ttl/3 each) pass the ttl
        sleeping = clock.sleepers
        clock.advance(TTL_S / 3)
        await eventually(lambda n=sleeping: clock.sleepers == n)
    assert b.is_leader and not a.is_leader
    await b.stop()
    assert not b.is_leader
    assert (await leases.get("manager")).value.released


async def test_given_a_standby_then_it_looks_again_as_the_holders_record_lapses(leases):
    clock = SteppedClock()
    a = _lease(leases, "a", clock)
    b = _lease(leases, "b", clock)
    assert await a.step()
    assert b.next_step_in_s() == TTL_S / 3  # nothing seen yet: the renewal period
    clock.advance(TTL_S - 0.5)
    assert not await b.step()
    assert b.next_step_in_s() == pytest.approx(0.51)  # a's record lapses in 0.5 s
    clock.advance(0.51)
    assert await b.step()  # a crashed (no renewal): b leads as soon as a's lease lapsed
    assert b.next_step_in_s() == TTL_S / 3  # leading: renews every ttl/3


def test_given_a_ttl_out_of_range_then_refused(leases):
    with pytest.raises(ValueError, match="ttl_s"):
        Lease(leases, "manager", "a", 0.0)


async def test_given_a_failing_callback_then_the_lease_is_still_gained(leases):
    def broken(epoch: int) -> None:
        raise RuntimeError("callback bug")

    a = Lease(leases, "manager", "a", TTL_S, clock=SteppedClock(), on_gained=broken)
    assert await asyncio.wait_for(a.step(), 5.0)
    assert a.is_leader


async def test_given_a_take_over_slower_than_the_ttl_then_the_new_leader_still_renews(leases):
    """The gain's work (a manager's recovery) runs beside the lease loop: a new leader that
    spends longer than the ttl recovering keeps the lease, rather than handing it to the
    restarted replica a ttl later (a second, needless change of leader)."""
    from hedgemesh.runtime.clock import LiveClock

    recovering = asyncio.Event()
    finished = asyncio.Event()

    async def slow_recovery(epoch: int) -> None:
        recovering.set()
        await asyncio.sleep(0.6)  # three times the ttl
        finished.set()

    first = Lease(leases, "manager", "m-2", 0.2, clock=LiveClock())
    assert await first.step()  # a holder that crashes now: never renewed
    second = Lease(leases, "manager", "m-1", 0.2, clock=LiveClock(), on_gained=slow_recovery)
    rival = Lease(leases, "manager", "m-3", 0.2, clock=LiveClock())
    await second.start()
    try:
        await asyncio.wait_for(recovering.wait(), 2.0)
        await rival.start()  # the restarted replica, standing by while the new leader recovers
        await asyncio.wait_for(finished.wait(), 2.0)
        await asyncio.sleep(0.3)
        assert second.is_leader and not rival.is_leader
        held = await leases.get("manager")
        assert held is not None and held.value.holder == "m-1"
    finally:
        await rival.stop()
        await second.stop()


async def test_given_a_crashed_leader_restarted_at_once_then_the_warm_standby_takes_over(leases):
    """The supervisor restarts a killed leader within a second; for one ttl after it starts it
    leaves the lapsed record to the standby that was watching it."""
    clock = SteppedClock()
    a, b = _lease(leases, "a", clock), _lease(leases, "b", clock)
    assert await a.step() and not await b.step()
    clock.advance(TTL_S + 0.1)  # a was killed: its record lapsed 0.1 s ago
    restarted = _lease(leases, "a", clock)
    try:
        assert not await restarted.start()  # it could take it, but defers to b
        assert await b.step()
        assert restarted.holder_seen is None or restarted.holder_seen != "b"
        assert not await restarted.step()
    finally:
        await restarted.stop(release=False)


async def test_given_no_standby_then_a_restarted_leader_takes_its_lease_after_one_ttl(leases):
    clock = SteppedClock()
    a = _lease(leases, "a", clock)
    assert await a.step()
    clock.advance(TTL_S + 0.1)
    restarted = _lease(leases, "a", clock)
    try:
        assert not await restarted.start()
        assert restarted.next_step_in_s() == TTL_S / 3  # it keeps looking, every renewal period
        clock.advance(TTL_S - 0.2)
        assert not await restarted.step()  # still deferring to a standby there may be
        clock.advance(0.2)
        assert await restarted.step() and restarted.epoch > 0  # a ttl after the record lapsed
    finally:
        await restarted.stop()


async def test_given_a_record_lapsed_long_ago_or_released_then_a_new_instance_takes_it_at_once(
    leases,
):
    clock = SteppedClock()
    a = _lease(leases, "a", clock)
    assert await a.step()
    clock.advance(2 * TTL_S + 0.1)  # the whole desk was down longer than a ttl
    fresh = _lease(leases, "b", clock)
    try:
        assert await fresh.start()
        await fresh.release()
        other = _lease(leases, "c", clock)
        assert await other.start()  # a released lease is free to all
        await other.stop()
    finally:
        await fresh.stop()
