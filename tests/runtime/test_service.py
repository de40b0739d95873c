"""The service runner: heartbeats, roles from the lease, clean and prompt shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from runtime_examples import Reading, collect, reading

from hedgemesh.runtime.bus import Envelope
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.service import RuntimeSettings, Service, default_instance
from hedgemesh.wire import subjects
from hedgemesh.wire.ops import Heartbeat, Role, ServiceState

pytestmark = pytest.mark.timeout(30)

FAST = {"heartbeat_interval_s": 0.05, "lease_ttl_s": 1.5}


def _service(server, instance: str, **options) -> Service:
    return Service(
        "probe",
        settings=RuntimeSettings(instance=instance, **FAST),
        nats=NatsSettings(url=server.url),
        **options,
    )


class Recorder:
    """A component that records its lifecycle and every reading, slowly."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.handling = asyncio.Event()

    async def start(self, service: Service) -> None:
        self.events.append("start")
        await service.bus.subscribe(subjects.tick("SPX"), Reading, self.on_reading)

    async def on_reading(self, message: Reading, envelope: Envelope) -> None:
        self.handling.set()
        await asyncio.sleep(0.2)  # work in flight when the stop comes
        self.events.append(f"handled {message.seq}")

    async def stop(self) -> None:
        self.events.append("stop")


async def test_given_a_running_service_then_heartbeats_count_up_and_it_stops_cleanly(
    nats_server, nats_client, eventually
):
    beats = await collect(nats_client, subjects.heartbeat("probe", "one"), Heartbeat)
    recorder = Recorder()
    service = _service(nats_server, "one", components=[recorder])
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))

    await eventually(lambda: len(beats) >= 4)
    seqs = [b.seq for b in beats]
    assert seqs == list(range(len(seqs)))
    assert beats[-1].state is ServiceState.READY and beats[-1].role is Role.SINGLE
    assert beats[-1].pid == os.getpid() and beats[-1].epoch is None
    health = service.health()
    assert health.ready and health.connected and health.heartbeat_seq >= 4
    assert health.last_heartbeat is not None

    await nats_client.publish(subjects.tick("SPX"), reading(1).to_json())
    await nats_client.publish(subjects.tick("SPX"), b"{broken")
    await eventually(lambda: recorder.handling.is_set())
    stop.set()
    assert await asyncio.wait_for(running, 5.0) == 0

    assert recorder.events == ["start", "handled 1", "stop"]  # in-flight work done first
    await eventually(lambda: beats[-1].state is ServiceState.STOPPING)
    assert service.health().dead_letters == {subjects.tick("SPX"): 1}
    assert not service.health().connected


async def test_given_two_instances_sharing_a_lease_then_one_leads_and_one_stands_by(
    nats_server, nats_client, eventually
):
    beats = await collect(nats_client, subjects.ALL_HEARTBEATS, Heartbeat)
    gained: list[tuple[str, int]] = []
    first, second = (
        _service(
            nats_server,
            name,
            lease="probe",
            on_gained=lambda epoch, name=name: gained.append((name, epoch)),
        )
        for name in ("a", "b")
    )
    stops = [asyncio.Event(), asyncio.Event()]
    runs = [asyncio.create_task(s.run(e)) for s, e in zip((first, second), stops, strict=True)]
    await eventually(lambda: first.state is ServiceState.READY)
    await eventually(lambda: second.state is ServiceState.READY)

    def roles() -> dict[str, Heartbeat]:
        return {b.instance: b for b in beats[-6:]}

    await eventually(lambda: {h.role for h in roles().values()} == {Role.LEADER, Role.STANDBY})
    leader = first if first.is_leader else second
    standby = second if leader is first else first
    epoch = leader.epoch
    assert roles()[leader.instance].epoch == epoch and roles()[standby.instance].epoch is None

    stops[0 if leader is first else 1].set()  # the leader stops and releases its lease
    await eventually(lambda: standby.is_leader, timeout=5.0)
    assert standby.epoch > epoch
    assert gained == [(leader.instance, epoch), (standby.instance, standby.epoch)]
    stops[1 if leader is first else 0].set()
    assert await asyncio.gather(*runs) == [0, 0]


async def test_given_no_nats_then_a_stop_during_start_up_still_exits_cleanly(tmp_path):
    settings = RuntimeSettings(instance="lonely", **FAST)
    service = Service(
        "probe", settings=settings, nats=NatsSettings(url="nats://127.0.0.1:1", name="x")
    )
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    await asyncio.sleep(0)  # let it start waiting for NATS
    stop.set()
    assert await asyncio.wait_for(running, 5.0) == 0
    assert not service.health().connected


def test_given_the_default_instance_then_it_is_a_valid_token():
    assert subjects.token(default_instance()) == default_instance()
    assert str(os.getpid()) in default_instance()


async def test_given_sigterm_then_the_service_process_exits_zero_within_five_seconds(
    nats_server, nats_client, eventually
):
    beats = await collect(nats_client, subjects.heartbeat("probe", "proc-1"), Heartbeat)
    env = {
        **os.environ,
        "HEDGEMESH_NATS_URL": nats_server.url,
        "HEDGEMESH_INSTANCE": "proc-1",
        "HEDGEMESH_HEARTBEAT_INTERVAL_S": "0.05",
    }
    script = Path(__file__).with_name("service_process.py")
    process = subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE)
    try:
        await eventually(lambda: len(beats) >= 3, timeout=15.0)
        assert [b.seq for b in beats[:3]] == [0, 1, 2]
        assert beats[-1].role is Role.LEADER and beats[-1].epoch is not None
        process.send_signal(signal.SIGTERM)
        await eventually(lambda: process.poll() is not None, timeout=5.0)
        assert process.returncode == 0, process.stderr.read().decode()
        await eventually(lambda: beats[-1].state is ServiceState.STOPPING)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stderr.close()


async def test_given_an_accelerated_market_clock_then_leases_and_heartbeats_keep_real_time(
    nats_server,
) -> None:
    import asyncio

    from hedgemesh.runtime.clock import AcceleratedClock
    from hedgemesh.runtime.connection import NatsSettings
    from hedgemesh.runtime.service import RuntimeSettings, Service

    settings = RuntimeSettings(instance="fast-1", heartbeat_interval_s=0.2, lease_ttl_s=1.0)
    service = Service(
        "fast",
        lease="fast",
        settings=settings,
        nats=NatsSettings(url=nats_server.url),
        clock=AcceleratedClock(1000.0),  # a lease ttl of 1 s would last 1 ms on this clock
    )
    await service.start()
    try:
        first_epoch = service.epoch
        assert service.is_leader and first_epoch is not None
        await asyncio.sleep(1.0)
        assert service.is_leader and service.epoch == first_epoch  # no flapping
        assert service.health().heartbeat_seq <= 8  # ~5 beats in 1 s, not thousands
    finally:
        await service.stop()
