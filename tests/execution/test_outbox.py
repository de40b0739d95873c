"""The outbox on fakes: a slow store never stalls the event loop, publishes are pipelined, and a
failed publish is retried (with a growing pause) until every report is on the stream, once and
in order."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from exec_examples import made_reports, order

from hedgemesh.execution.adapters.outbox import Outbox
from hedgemesh.runtime.bus import PublishAck
from hedgemesh.runtime.errors import NatsUnavailable
from hedgemesh.wire import ExecStatus, ExecutionReport

pytestmark = pytest.mark.timeout(30)


def reports(count: int) -> list[ExecutionReport]:
    """`count` reports over several orders: each an acceptance and a fill, in order."""
    out: list[ExecutionReport] = []
    for i in range((count + 1) // 2):
        o = order(f"cycle-{i}", quantity=10)
        out += made_reports(o, (ExecStatus.ACCEPTED, 0, None), (ExecStatus.FILLED, 10, 500_000))
    return out[:count]


class FakeRepo:
    """What the outbox needs of `ExecutionRepository`, in memory; `gate` (when set) holds
    every store call until it is set, and `entered` says one is waiting."""

    def __init__(self) -> None:
        self.stored: list[ExecutionReport] = []
        self.marked: set[str] = set()
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.gate_opened_in_time: bool | None = None

    def record_reports(self, batch: Sequence[ExecutionReport]) -> list[bool]:
        if self.gate is not None:
            self.entered.set()
            self.gate_opened_in_time = self.gate.wait(timeout=3.0)
        known = {r.exec_id for r in self.stored}
        self.stored += [r for r in batch if r.exec_id not in known]
        return [r.exec_id not in known for r in batch]

    def record_report(self, report: ExecutionReport) -> bool:
        return self.record_reports([report])[0]

    def unpublished_reports(self, limit: int = 1000) -> list[ExecutionReport]:
        return [r for r in self.stored if r.exec_id not in self.marked][:limit]

    def mark_published(self, exec_ids: Iterable[str], **_: Any) -> int:
        ids = set(exec_ids) - self.marked
        self.marked |= ids
        return len(ids)


class FakeStream:
    """JetStream as the outbox sees it: stores each message id once, in arrival order.

    `fail` maps an exec id to how many of its publishes fail; `ack_lost` decides whether such
    a failure stored the message anyway (a timed-out ack) or not (the connection was down).
    `gate` (when set) holds every publish until it is set."""

    def __init__(self, *, fail: dict[str, int] | None = None, ack_lost: bool = True) -> None:
        self.stream: list[str] = []
        self.fail = dict(fail or {})
        self.ack_lost = ack_lost
        self.gate: asyncio.Event | None = None
        self.in_flight = 0
        self.most_in_flight = 0
        self.attempts = 0

    async def js_publish(
        self, subject: str, message: ExecutionReport, *, msg_id: str, timeout_s: float
    ) -> PublishAck:
        self.attempts += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            failing = self.fail.get(msg_id, 0) > 0
            if failing:
                self.fail[msg_id] -= 1
            duplicate = msg_id in self.stream
            if not duplicate and (not failing or self.ack_lost):
                self.stream.append(msg_id)
            if failing:
                raise NatsUnavailable(f"JetStream publish to {subject}: TimeoutError")
            return PublishAck(stream="HEDGE_EXEC", seq=len(self.stream), duplicate=duplicate)
        finally:
            self.in_flight -= 1


def outbox(repo: FakeRepo, bus: FakeStream, **options: Any) -> Outbox:
    settings: dict[str, Any] = {"retry_s": 0.001, "max_retry_s": 0.01}
    settings.update(options)
    box = Outbox(repo, bus, **settings)  # type: ignore[arg-type]
    box.start()
    return box


async def test_given_a_store_that_blocks_then_the_event_loop_keeps_serving(eventually):
    repo, bus = FakeRepo(), FakeStream()
    repo.gate = threading.Event()
    box = outbox(repo, bus)
    sent = reports(4)

    box.put(sent)  # returns at once: the store works on its own thread
    await eventually(repo.entered.is_set, timeout=5)
    assert box.backlog == (4, 0)
    repo.gate.set()  # the loop is free to do this while the store waits

    await eventually(lambda: bus.stream == [r.exec_id for r in sent], timeout=5)
    assert repo.gate_opened_in_time is True
    await box.stop()
    assert repo.marked == {r.exec_id for r in sent}


async def test_given_many_reports_then_publishes_are_pipelined_within_the_window(eventually):
    repo, bus = FakeRepo(), FakeStream()
    bus.gate = asyncio.Event()
    box = outbox(repo, bus, window=8)
    sent = reports(20)

    box.put(sent)
    await eventually(lambda: bus.in_flight == 8, timeout=5)
    bus.gate.set()

    await eventually(lambda: len(bus.stream) == 20, timeout=5)
    assert bus.most_in_flight == 8
    assert bus.stream == [r.exec_id for r in sent]
    await box.stop()


@pytest.mark.parametrize("ack_lost", [True, False], ids=["ack-timed-out", "not-stored"])
async def test_given_publishes_that_fail_then_each_report_is_retried_until_it_is_on_the_stream(
    eventually, ack_lost
):
    sent = reports(10)
    failing = {sent[3].exec_id: 3, sent[4].exec_id: 1}
    repo, bus = FakeRepo(), FakeStream(fail=failing, ack_lost=ack_lost)
    box = outbox(repo, bus, window=4)

    box.put(sent[:6])
    box.put(sent[6:])

    await eventually(lambda: box.backlog == (0, 0) and box._idle.is_set(), timeout=5)
    assert sorted(bus.stream) == sorted(r.exec_id for r in sent)  # each once, none lost
    if ack_lost:  # JetStream kept them in their place; the retries were duplicates
        assert bus.stream == [r.exec_id for r in sent]
        assert box.stats["duplicates"] == 2
    assert box.stats["publish_errors"] == 4
    await box.stop()
    assert repo.marked == {r.exec_id for r in sent}


async def test_given_nats_down_for_a_while_then_the_backlog_goes_out_in_order_once_it_is_back(
    eventually,
):
    sent = reports(12)
    repo, bus = FakeRepo(), FakeStream(fail={r.exec_id: 5 for r in sent}, ack_lost=False)
    box = outbox(repo, bus, window=4)

    box.put(sent)

    await eventually(lambda: len(bus.stream) == 12, timeout=5)
    assert bus.stream == [r.exec_id for r in sent]
    await box.stop()


def test_given_failures_in_a_row_then_the_pause_doubles_up_to_its_cap():
    box = Outbox(FakeRepo(), FakeStream(), retry_s=0.05, max_retry_s=0.3)  # type: ignore[arg-type]
    pauses = []
    for failures in range(6):
        box._failures = failures
        pauses.append(box.backoff_s)
    assert pauses == [0.0, 0.05, 0.1, 0.2, 0.3, 0.3]
