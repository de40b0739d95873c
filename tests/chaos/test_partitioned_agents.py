"""Agents partitioned by underlying while the desk runs (`HEDGEMESH_PARTITIONS=4`, the chaos
cluster through `hedgemesh up`): the two gamma-agent replicas share the partitions (one lease
each, SPX and NDX led by different replicas); a third instance added to the running desk takes
the partition rendezvous hashing gives it — SPX's — by hand-over, and SPX's proposals go on
under its epoch; killed -9, its partition goes back within the lease's bound; no order is lost
or doubled (the chaos invariants: a proposal id that two leaders of one partition both sent
is decided once, by the manager's duplicate rule).
"""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from chaos_checks import assert_no_duplicate_orders
from chaos_harness import LEASE_TTL_S, ChaosCluster, Observer, all_live, settled_invariants

from hedgemesh.launcher import catalog
from hedgemesh.runtime.partitions import preference
from hedgemesh.wire.partitions import partition_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PARTITIONS = 4
AGENT = "gamma-agent"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosCluster]:
    started = ChaosCluster(
        tmp_path_factory.mktemp("partitioned") / "var",
        env={"HEDGEMESH_PARTITIONS": str(PARTITIONS)},
    )
    try:
        yield started.wait_running()
    finally:
        started.stop()


@pytest.fixture
async def observer(cluster: ChaosCluster, eventually) -> AsyncIterator[Observer]:
    watching = await Observer().start(cluster.nats_url)
    try:
        await eventually(all_live(watching, list(cluster.instances())), timeout=60)
        yield watching
    finally:
        await watching.close()


def _led(observer: Observer) -> dict[str, list[int]]:
    """The partitions each live gamma-agent instance says it leads."""
    return {
        b.instance: list(b.partitions or [])
        for b in observer.latest_beats().values()
        if b.service == AGENT and b.state.value == "ready"
    }


def _proposed_since(observer: Observer, underlying: str, since: float, epoch: int = 0) -> int:
    return sum(
        1
        for h in observer.proposals
        if h.at > since
        and h.message.agent == AGENT
        and h.message.underlying == underlying
        and (h.message.epoch or 0) > epoch
    )


async def test_given_an_instance_added_then_killed_then_partitions_move_and_nothing_doubles(
    cluster: ChaosCluster, observer: Observer, eventually
) -> None:
    spx = partition_of("SPX", PARTITIONS)
    replicas = catalog.find(AGENT).instance_names()  # type: ignore[union-attr]

    preferred = {
        name: [p for p in range(PARTITIONS) if preference(p, replicas)[0] == name]
        for name in replicas
    }  # whoever started first led every partition, and handed the other's over once it settled
    await eventually(lambda: _led(observer) == preferred, timeout=30)
    await eventually(
        lambda: _proposed_since(observer, "SPX", time.monotonic() - 5) >= 2, timeout=30
    )

    # An instance that rendezvous hashing puts first for SPX's partition joins the desk.
    added = next(
        f"{AGENT}-{k}"
        for k in range(3, 50)
        if preference(spx, [*replicas, f"{AGENT}-{k}"])[0] == f"{AGENT}-{k}"
    )
    process = cluster.spawn(catalog.find(AGENT), added)  # type: ignore[arg-type]
    try:
        joined_at = time.monotonic()

        def handed_over() -> float | None:
            led = _led(observer)
            others = [p for name, ps in led.items() if name != added for p in ps]
            if spx in led.get(added, []) and spx not in others:
                return time.monotonic() - joined_at
            return None

        took = await eventually(handed_over, timeout=6 * LEASE_TTL_S)
        print(f"{added} leads {_led(observer)[added]} {took:.2f} s after it started")
        await eventually(lambda: _proposed_since(observer, "SPX", joined_at) >= 2, timeout=30)

        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed_at = time.monotonic()

        def taken_back() -> float | None:
            led = _led(observer)
            if any(spx in ps for name, ps in led.items() if name != added):
                return time.monotonic() - killed_at
            return None

        took = await eventually(taken_back, timeout=4 * LEASE_TTL_S)
        print(f"SPX's partition led again {took:.2f} s after the kill")
        assert took <= LEASE_TTL_S + LEASE_TTL_S / 3 + 1.5  # the ttl, a step, a heartbeat
        await eventually(lambda: _proposed_since(observer, "SPX", killed_at) >= 1, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)

    orders = assert_no_duplicate_orders(observer)
    report = await settled_invariants(cluster, observer, eventually)
    print(f"{orders} orders heard; {report.summary()}")
