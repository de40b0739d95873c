"""Partitions: the stable map of underlyings, rendezvous preference, and ownership by one lease
per partition over a real KV — balanced, a dead owner's partitions taken over within a lease's
ttl, an added instance taking its share by hand-over, and never two leaders of a partition."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgemesh.runtime import Service, TypedKV
from hedgemesh.runtime.clock import SteppedClock
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.lease import LeaseRecord
from hedgemesh.runtime.partitions import Membership, PartitionOwnership, preference
from hedgemesh.runtime.service import RuntimeSettings
from hedgemesh.wire import subjects
from hedgemesh.wire.partitions import partition_lease, partition_of, split

COUNT = 16
TTL_S = 3.0


def test_the_map_is_stable_and_spreads_200_underlyings_evenly() -> None:
    underlyings = [f"U{i:03d}" for i in range(200)]
    sizes = sorted(len(names) for names in split(underlyings, COUNT).values())
    assert sizes[0] >= 8 and sizes[-1] <= 18, sizes
    assert [partition_of(u, COUNT) for u in ("SPX", "NDX")] == [10, 5]  # never changes
    assert partition_lease("manager", 3, COUNT) == "manager.p3"
    assert partition_lease("manager", 0, 1) == "manager"
    with pytest.raises(ValueError):
        partition_of("SPX", 0)


@settings(max_examples=50, derandomize=True, database=None)
@given(st.sets(st.from_regex(r"[a-z]{1,8}-[0-9]", fullmatch=True), min_size=2, max_size=8))
def test_an_added_member_takes_partitions_only_from_others_never_moves_the_rest(members) -> None:
    members = sorted(members)
    before = {p: preference(p, members[:-1])[0] for p in range(COUNT)}
    after = {p: preference(p, members)[0] for p in range(COUNT)}
    moved = {p for p in range(COUNT) if before[p] != after[p]}
    assert all(after[p] == members[-1] for p in moved)


class Desk:
    """Instances of one partitioned service over one KV, stepped by hand on a stepped clock."""

    def __init__(self, kv: TypedKV[LeaseRecord], clock: SteppedClock) -> None:
        self.kv, self.clock = kv, clock
        self.members: dict[str, PartitionOwnership] = {}
        self.gained: list[tuple[str, int, int]] = []

    def add(self, name: str) -> None:
        membership = Membership(name, timeout_s=TTL_S, clock=self.clock)
        self.members[name] = PartitionOwnership(
            self.kv,
            "svc",
            name,
            COUNT,
            TTL_S,
            membership,
            clock=self.clock,
            settle_s=1.0,
            on_gained=lambda p, epoch, name=name: self.gained.append((name, p, epoch)),
        )

    def heartbeats(self) -> None:
        for a in self.members.values():
            for b in self.members:
                a.membership.saw(b)

    async def step(self, seconds: float = TTL_S / 3) -> None:
        self.clock.advance(seconds)
        self.heartbeats()
        for owner in self.members.values():
            await owner.step()
        self.assert_one_leader_at_most()

    def assert_one_leader_at_most(self) -> None:
        leaders = Counter(p for o in self.members.values() for p in o.led())
        assert all(n == 1 for n in leaders.values()), leaders

    def led(self) -> dict[str, list[int]]:
        return {name: o.led() for name, o in self.members.items()}


@pytest.fixture
async def desk(bus) -> Desk:
    kv = TypedKV(await bus.js.key_value(subjects.KV_LEASES), LeaseRecord, subjects.KV_LEASES)
    return Desk(kv, SteppedClock())


async def test_given_three_instances_then_each_partition_has_one_leader_as_preferred(desk) -> None:
    for name in ("svc-1", "svc-2", "svc-3"):
        desk.add(name)
    desk.heartbeats()
    for _ in range(2):
        await desk.step()
    led = desk.led()
    assert sorted(p for ps in led.values() for p in ps) == list(range(COUNT))
    for name, partitions in led.items():
        assert partitions == [p for p in range(COUNT) if preference(p, led)[0] == name]
        assert 2 <= len(partitions) <= 10, led


async def test_given_an_owner_killed_then_its_partitions_are_taken_within_the_ttl(desk) -> None:
    for name in ("svc-1", "svc-2", "svc-3"):
        desk.add(name)
    desk.heartbeats()
    await desk.step()
    dead = desk.members.pop("svc-2")  # crashed: no more steps, heartbeats or releases
    orphaned = dead.led()
    epochs = {p: dead.epoch(p) for p in orphaned}
    assert orphaned
    waited = 0.0
    while not all(any(o.leads(p) for o in desk.members.values()) for p in orphaned):
        await desk.step(0.25)
        waited += 0.25
        assert waited <= TTL_S + TTL_S / 3 + 0.25, f"not taken over after {waited} s"
    for p in orphaned:
        (new,) = [o for o in desk.members.values() if o.leads(p)]
        assert new.epoch(p) > epochs[p]  # fenced: a larger epoch than the dead owner's
    assert sorted(p for ps in desk.led().values() for p in ps) == list(range(COUNT))


async def test_given_an_instance_added_then_it_takes_its_share_by_hand_over(desk) -> None:
    for name in ("svc-1", "svc-2"):
        desk.add(name)
    desk.heartbeats()
    await desk.step()
    before = desk.led()
    desk.add("svc-3")
    for _ in range(12):  # about four ttls, never two leaders of one partition (checked each step)
        await desk.step()
    after = desk.led()
    wanted = [p for p in range(COUNT) if preference(p, list(after))[0] == "svc-3"]
    assert after["svc-3"] == wanted and wanted
    for name in ("svc-1", "svc-2"):  # the others lost only what svc-3 took
        assert set(before[name]) - set(after[name]) <= set(wanted)
    assert sorted(p for ps in after.values() for p in ps) == list(range(COUNT))


async def test_given_three_instances_then_only_the_leader_and_the_next_in_line_keep_warm(
    desk,
) -> None:
    for name in ("svc-1", "svc-2", "svc-3"):
        desk.add(name)
    desk.heartbeats()
    await desk.step()
    for p in range(COUNT):
        order = preference(p, list(desk.members))
        warm = {name for name, o in desk.members.items() if o.next_in_line(p)}
        assert warm == set(order[:2])
        assert desk.members[order[0]].leads(p)


async def test_given_a_member_silent_past_the_timeout_then_it_is_not_live() -> None:
    clock = SteppedClock()
    membership = Membership("a", timeout_s=2.0, clock=clock)
    membership.saw("b")
    clock.advance(1.5)
    assert membership.live() == ["a", "b"] and membership.alive_for("b") == 1.5
    clock.advance(timedelta(seconds=1).total_seconds())
    assert membership.live() == ["a"] and membership.alive_for("b") == 0.0


async def test_given_two_partitioned_services_then_they_share_and_one_takes_all_at_a_stop(
    nats_server, eventually
) -> None:
    """Two instances of a partitioned service over a real nats-server: each leads a share of
    the partitions (its heartbeats say which), every underlying has one leader and its own
    partition's epoch; one stopping hands its share to the other at once."""
    settings = {"partitions": 4, "lease_ttl_s": 1.0, "heartbeat_interval_s": 0.1}
    nats = NatsSettings(url=nats_server.url)
    services = [
        Service(
            "svc",
            lease="svc",
            partitioned=True,
            settings=RuntimeSettings(instance=f"svc-{i}", **settings),
            nats=nats,
        )
        for i in (1, 2)
    ]
    for service in services:
        await service.start()
    try:

        def shared() -> bool:
            led = [set(s.led_partitions() or []) for s in services]
            return led[0].isdisjoint(led[1]) and led[0] | led[1] == {0, 1, 2, 3} and all(led)

        await eventually(shared, timeout=10)
        for underlying in ("SPX", "NDX", "AAPL", "MSFT", "TSLA"):
            leaders = [s for s in services if s.leads(underlying)]
            assert len(leaders) == 1
            assert leaders[0].epoch_for(underlying) is not None
        assert all(s.role.value == "leader" for s in services)
        await services[1].stop()
        await eventually(lambda: services[0].led_partitions() == [0, 1, 2, 3], timeout=5)
    finally:
        for service in services:
            await service.stop()
