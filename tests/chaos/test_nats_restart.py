"""NATS itself, and stopping: on a cluster whose nats-server the test owns (`BareCluster`).

4. kill -9 the nats-server and start it again on the same port (same JetStream store): every
   service heard from again within 2 s (heartbeats resume), the acknowledged messages of every
   stream kept, hedging goes on, and the invariants hold.
6. SIGTERM every service: each exits 0 within 5 s (graceful drain).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
from chaos_harness import HEARTBEAT_S, BareCluster, Observer, all_live, stream_contents
from invariants import assert_invariants

from hedgemesh.wire import subjects

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

STREAMS = (subjects.STREAM_ORDERS, subjects.STREAM_EXEC, subjects.STREAM_TRADES)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BareCluster]:
    started = BareCluster(tmp_path_factory.mktemp("bare") / "var").start()
    try:
        yield started
    finally:
        started.close()


async def test_given_nats_restarts_then_every_service_is_back_within_2_s_and_nothing_is_lost(
    cluster: BareCluster, eventually
) -> None:
    observer = await Observer().start(cluster.server.url)
    try:
        instances = list(cluster.supervisor.children)
        await eventually(all_live(observer, instances), timeout=90)
        await eventually(lambda: len(observer.orders) >= 5, timeout=60)
        before = await stream_contents(observer, STREAMS)

        cluster.server.kill()
        time.sleep(4 * HEARTBEAT_S)  # every service notices (pings every second)
        cluster.server.start()
        restarted_at = time.monotonic()

        def back(instance: str) -> float | None:
            beats = (h for h in observer.beats if h.message.instance == instance)
            beat = next((h for h in beats if h.at > restarted_at), None)
            return None if beat is None else beat.at - restarted_at

        def every_one_back() -> dict[str, float] | None:
            took = {i: back(i) for i in instances}
            return None if None in took.values() else took  # type: ignore[return-value]

        took = await eventually(every_one_back, timeout=15)
        worst = max(took, key=lambda i: took[i])
        print(
            f"after the NATS restart: every service heard from, the last ({worst}) in "
            f"{took[worst]:.2f} s"
        )
        assert took[worst] <= 2.0, took
        after = await stream_contents(observer, STREAMS)
        for stream in STREAMS:
            assert after[stream][: len(before[stream])] == before[stream], stream
        orders_after = len(observer.orders)
        await eventually(lambda: len(observer.orders) > orders_after, timeout=20)

        quiet = cluster.pid("marketdata")  # no ticks, no trades: the orders in flight settle
        assert quiet
        os.kill(quiet, signal.SIGSTOP)
        try:
            url = cluster.server.url
            report = await assert_invariants(url, cluster.database_url, settle_s=30)
        finally:
            os.kill(quiet, signal.SIGCONT)
        print(report.summary())
    finally:
        await observer.close()


def test_given_sigterm_to_every_service_then_each_exits_0_within_5_s(cluster: BareCluster) -> None:
    instances = list(cluster.supervisor.children)
    assert all(cluster.supervisor.children[i].alive for i in instances)
    stopped = cluster.stop_services()
    print("SIGTERM: " + ", ".join(f"{i} {s.code} in {s.took_s:.2f} s" for i, s in stopped.items()))
    assert set(stopped) == set(instances)
    assert {i: s.code for i, s in stopped.items()} == dict.fromkeys(instances, 0)
    assert max(s.took_s for s in stopped.values()) <= 5.0
