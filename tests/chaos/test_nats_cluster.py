"""A three-node NATS cluster (routes on loopback, every stream and bucket at R3) loses a node
under flow (`BareCluster(nats_servers=3)`: the test owns the servers).

kill -9 the node that leads the order stream while the desk hedges: the services connected to
it move to the others, the streams elect new leaders, and hedging goes on on two nodes (orders,
fills and every service's heartbeats after the kill); then the node comes back on its own ports
and store and catches up from its peers. Nothing acknowledged is lost: every message the
order, execution-report and trade streams held before the kill is still there, in place, every
node's replica of each stream ends with the same messages, and the chaos invariants hold
(fills on the stream = execution's store = the ledger's, no order twice, nothing from a fenced
leader).
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_harness import BareCluster, Observer, all_live, stream_contents
from invariants import assert_invariants

from hedgemesh.runtime.nats_cluster import CLUSTER_NAME
from hedgemesh.wire import subjects

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

STREAMS = (subjects.STREAM_ORDERS, subjects.STREAM_EXEC, subjects.STREAM_TRADES)
#: How long the desk runs on two nodes before the third comes back (real seconds).
DOWN_S = 8.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BareCluster]:
    started = BareCluster(tmp_path_factory.mktemp("nats3") / "var", nats_servers=3).start()
    try:
        yield started
    finally:
        started.close()


def _replica_states(monitor_url: str) -> dict[str, tuple[int, int]]:
    """(messages, last seq) of each stream's replica on one node, from its `/jsz`."""
    with urllib.request.urlopen(f"{monitor_url}/jsz?streams=true", timeout=5) as reply:
        jsz: dict[str, Any] = json.load(reply)
    return {
        stream["name"]: (stream["state"]["messages"], stream["state"]["last_seq"])
        for account in jsz.get("account_details", [])
        for stream in account.get("stream_detail", [])
        if stream["name"] in STREAMS
    }


async def test_given_a_node_killed_under_flow_then_hedging_goes_on_and_nothing_acked_is_lost(
    cluster: BareCluster, eventually
) -> None:
    observer = await Observer().start(cluster.nats.url)
    try:
        instances = list(cluster.supervisor.children)
        await eventually(all_live(observer, instances), timeout=120)
        await eventually(lambda: len(observer.orders) >= 5, timeout=90)

        js = observer.nc.jetstream()
        leader = (await js.stream_info(subjects.STREAM_ORDERS)).cluster.leader
        node = int(leader.removeprefix(f"{CLUSTER_NAME}-n")) - 1
        before = await stream_contents(observer, STREAMS)
        cluster.nats.kill(node)
        killed_at = time.monotonic()
        print(f"killed {leader} (the order stream's leader) with {len(observer.orders)} orders")

        def since_kill(heard: list[Any]) -> int:
            return sum(1 for h in heard if h.at > killed_at)

        def every_service_heard_after_the_kill() -> bool:
            after = {h.message.instance for h in observer.beats if h.at > killed_at + 1.0}
            return set(instances) <= after

        await eventually(every_service_heard_after_the_kill, timeout=20)
        await eventually(lambda: since_kill(observer.orders) >= 5, timeout=40)
        fills = [r for r in observer.reports if r.message.last_quantity]
        assert fills, "no fill heard at all"
        await eventually(
            lambda: any(r.at > killed_at and r.message.last_quantity for r in observer.reports),
            timeout=30,
        )
        new_leader = (await js.stream_info(subjects.STREAM_ORDERS)).cluster.leader
        assert new_leader != leader
        print(
            f"on two nodes: {since_kill(observer.orders)} orders, "
            f"{since_kill(observer.reports)} reports; the order stream led by {new_leader}"
        )
        remaining = DOWN_S - (time.monotonic() - killed_at)
        if remaining > 0:
            time.sleep(remaining)

        cluster.nats.start(node)
        after = await stream_contents(observer, STREAMS)
        for stream in STREAMS:
            assert after[stream][: len(before[stream])] == before[stream], stream

        quiet = cluster.pid("marketdata")  # no ticks, no trades: the orders in flight settle
        assert quiet
        os.kill(quiet, signal.SIGSTOP)
        try:
            report = await assert_invariants(cluster.nats.url, cluster.database_url, settle_s=45)
            print(report.summary())

            def replicas_agree() -> dict[str, tuple[int, int]] | None:
                states = [_replica_states(str(s.monitor_url)) for s in cluster.nats.servers]
                if all(state == states[0] and len(state) == len(STREAMS) for state in states):
                    return states[0]
                return None

            agreed = await eventually(replicas_agree, timeout=30)
            print(f"every node's replica: {agreed}")
        finally:
            os.kill(quiet, signal.SIGCONT)
    finally:
        await observer.close()
