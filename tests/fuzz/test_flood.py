"""1,000 malformed NATS messages into a running agent and into a running execution (real
nats-server, each service its own process as `python -m hedgemesh.<svc>`, edge checks on as
`hedgemesh up` sets them): every one is dead-lettered with its reason, nothing is redelivered in a
loop, heartbeats go on, and a valid message after the flood is served within 100 ms.

Starts processes: run under the lock (`flock /tmp/hedgemesh-heavy.lock pytest tests/fuzz`).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from malformed import CLASSES, Target, flood, valid

from hedgemesh.runtime.bus import Bus
from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.runtime.edge import edge_env
from hedgemesh.runtime.streams import ensure_streams
from hedgemesh.wire import subjects
from hedgemesh.wire.market import Tick
from hedgemesh.wire.ops import ControlAction, ControlCommand, DeadLetter, Heartbeat
from hedgemesh.wire.orders import ExecutionReport, Order

pytestmark = pytest.mark.timeout(240)

FLOOD = 1000
SEED = 20261121
UNDERLYINGS = ("SPX", "NDX")
#: The seq of the valid tick sent before the flood: out-of-order ticks come below it.
BASE_SEQ = 1_000_000
ORDER_TARGET = Target("order", subjects.order("SPX"), underlying_at=("instrument", "underlying"))


@contextmanager
def process(module: str, instance: str, nats_url: str, home: Path, **env: str) -> Iterator[None]:
    log = (home / f"{instance}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", module],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("HEDGEMESH_")},
            "HEDGEMESH_NATS_URL": nats_url,
            "HEDGEMESH_INSTANCE": instance,
            "HEDGEMESH_HOME": str(home),
            "HEDGEMESH_HEARTBEAT_INTERVAL_S": "0.5",
            "HEDGEMESH_LOG_LEVEL": "WARNING",
            **edge_env(UNDERLYINGS),
            **env,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


class Watch:
    """Heartbeats and dead letters of one service, as they come."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.beats: list[tuple[float, Heartbeat]] = []
        self.letters: list[tuple[float, DeadLetter]] = []

    async def start(self, nc: Any) -> Watch:
        async def on_beat(msg: Any) -> None:
            self.beats.append((time.monotonic(), Heartbeat.from_json(msg.data)))

        async def on_letter(msg: Any) -> None:
            self.letters.append((time.monotonic(), DeadLetter.from_json(msg.data)))

        await nc.subscribe(f"{subjects.PREFIX}.heartbeat.{self.service}.*", cb=on_beat)
        await nc.subscribe(subjects.deadletter(self.service), cb=on_letter)
        for _ in range(2):
            await nc.flush()
        return self

    def ready(self) -> bool:
        return any(beat.state.value == "ready" for _, beat in self.beats)

    def beat_after(self, moment: float) -> bool:
        return any(at > moment for at, _ in self.beats)


@pytest.fixture
async def admin(nats_server) -> AsyncIterator[Bus]:
    bus = Bus(
        await connect(NatsSettings(url=nats_server.url, name="fuzz"), initial_timeout_s=5.0),
        "fuzz",
    )
    await ensure_streams(bus.js)
    yield bus
    await bus.close()


async def _stored_letters(bus: Bus, service: str) -> int:
    info = await bus.js.stream_info(
        subjects.STREAM_DEADLETTER, subjects_filter=subjects.deadletter(service)
    )
    return (info.state.subjects or {}).get(subjects.deadletter(service), 0)


async def _send(nc: Any, messages: list[tuple[str, str, bytes]]) -> None:
    js = nc.jetstream()
    for i, (_, subject, payload) in enumerate(messages):
        if subject.startswith(f"{subjects.PREFIX}.order."):  # orders travel through JetStream
            await js.publish(subject, payload, headers={"Nats-Msg-Id": f"fuzz-{i}"})
        else:
            await nc.publish(subject, payload)
    await nc.flush()


def _valid_tick(underlying: str, seq: int) -> bytes:
    data = valid("tick", datetime.now(UTC), random.Random(seq), underlying=underlying, seq=seq)
    return Tick.model_validate(data).to_json()


def _assert_every_class_reached(watch: Watch, messages: list[tuple[str, str, bytes]]) -> None:
    sent = Counter(cls for cls, _, _ in messages)
    assert set(sent) <= set(CLASSES)
    errors = Counter(letter.error for _, letter in watch.letters)
    for expected in ("INVALID_JSON", "INVALID_MESSAGE", "PAYLOAD_TOO_LARGE"):
        assert errors[expected] > 0, errors
    for cls, code in (
        ("future_timestamp", "FUTURE_TIMESTAMP"),
        ("unknown_instrument", "UNKNOWN_INSTRUMENT"),
        ("out_of_order", "OUT_OF_ORDER"),
    ):
        if sent[cls]:
            assert errors[code] > 0, (cls, errors)
    assert all(letter.reason for _, letter in watch.letters)


async def test_given_1000_malformed_messages_then_the_agent_dead_letters_each_and_serves_on(
    nats_server, admin, tmp_path, eventually
):
    watch = await Watch("gamma-agent").start(admin.nc)
    with process("hedgemesh.gamma_agent", "gamma-fuzz", nats_server.url, tmp_path):
        await eventually(watch.ready, timeout=60, interval=0.05)
        tick = subjects.tick("SPX")
        await admin.nc.publish(tick, _valid_tick("SPX", BASE_SEQ))
        targets = [
            Target("tick", tick, sequenced=True),
            Target("position_snapshot", subjects.positions("SPX")),
            Target("decision", subjects.decision("gamma-agent")),
            Target("heartbeat", f"{subjects.PREFIX}.heartbeat.manager.m1", underlying_at=()),
        ]
        messages = flood(targets, FLOOD - 1, SEED, datetime.now(UTC), BASE_SEQ)
        await _send(admin.nc, messages)
        flooded = time.monotonic()
        await eventually(lambda: len(watch.letters) >= FLOOD - 1, timeout=60, interval=0.05)
        # The flood served, a valid tick, then the 1,000th malformed message on the same
        # subscription (served in order): its dead letter proves the valid tick was handled.
        marker = b"not json: the last of the flood"
        sent = time.monotonic()
        await admin.nc.publish(tick, _valid_tick("SPX", BASE_SEQ + 1))
        await admin.nc.publish(tick, marker)
        await admin.nc.flush()
        await eventually(lambda: len(watch.letters) >= FLOOD, timeout=10, interval=0.005)
        at, last = watch.letters[-1]
        assert last.payload == marker.decode()
        print(f"agent: {FLOOD} dead-lettered; the valid tick after them served within "
              f"{1e3 * (at - sent):.1f} ms")  # fmt: skip
        assert at - sent < 0.1, f"the valid tick took {1e3 * (at - sent):.0f} ms to serve"
        await eventually(lambda: watch.beat_after(flooded), timeout=5)
        await eventually(lambda: _stored_letters(admin, "gamma-agent"), timeout=10)
        assert await _stored_letters(admin, "gamma-agent") == FLOOD
        assert len(watch.letters) == FLOOD
        _assert_every_class_reached(watch, [*messages, ("invalid_json", tick, marker)])


async def test_given_1000_malformed_messages_then_execution_dead_letters_each_once_and_serves_on(
    nats_server, admin, tmp_path, eventually
):
    watch = await Watch("execution").start(admin.nc)
    database = f"sqlite:///{tmp_path / 'execution.db'}"
    reports: list[ExecutionReport] = []

    async def on_report(msg: Any) -> None:
        reports.append(ExecutionReport.from_json(msg.data))

    await admin.nc.subscribe(subjects.ALL_EXEC_REPORTS, cb=on_report)
    with process(
        "hedgemesh.execution", "execution-fuzz", nats_server.url, tmp_path,
        HEDGEMESH_DATABASE_URL=database,
        HEDGEMESH_EXECUTION_MARKET_DATA_WAIT_S="0",  # judge the valid order at once
    ):  # fmt: skip
        await eventually(watch.ready, timeout=60, interval=0.05)
        tick = subjects.tick("SPX")
        await admin.nc.publish(tick, _valid_tick("SPX", BASE_SEQ))
        targets = [ORDER_TARGET, ORDER_TARGET, Target("tick", tick, sequenced=True)]
        messages = flood(targets, FLOOD, SEED + 1, datetime.now(UTC), BASE_SEQ)
        await _send(admin.nc, messages)
        flooded = time.monotonic()
        await eventually(lambda: len(watch.letters) >= FLOOD, timeout=90, interval=0.05)

        status = ControlCommand(target="execution", action=ControlAction.STATUS, issued_by="fuzz")
        sent = time.monotonic()
        reply = await admin.command(status, timeout_s=2.0)
        answered_s = time.monotonic() - sent
        print(f"execution: {FLOOD} dead-lettered; status answered in {1e3 * answered_s:.1f} ms")
        assert reply.ok and answered_s < 0.1

        order = valid("order", datetime.now(UTC), random.Random(SEED))
        await admin.js.publish(ORDER_TARGET.subject, Order.model_validate(order).to_json())
        await eventually(
            lambda: any(r.client_order_id == order["client_order_id"] for r in reports)
        )

        await eventually(lambda: watch.beat_after(flooded), timeout=5)
        assert await _stored_letters(admin, "execution") == FLOOD
        assert len(watch.letters) == FLOOD
        info = await admin.js.consumer_info(subjects.STREAM_ORDERS, "execution-orders")
        orders = sum(1 for _, subject, _ in messages if subject == ORDER_TARGET.subject)
        assert info.delivered.consumer_seq == orders + 1  # every bad order once, and the good one
        assert info.num_redelivered == 0 and info.num_ack_pending == 0 and info.num_pending == 0
        _assert_every_class_reached(watch, messages)
