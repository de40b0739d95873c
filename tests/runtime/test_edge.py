"""Edge checks that need state: timestamps from the future and ticks out of sequence are
dead-lettered with their reason, and the next good message is served at once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from wire_examples import example

from hedgemesh.runtime.bus import Bus, Envelope
from hedgemesh.runtime.clock import SteppedClock
from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.runtime.edge import (
    FUTURE_TIMESTAMP,
    OUT_OF_ORDER,
    UNKNOWN_INSTRUMENT,
    EdgeSettings,
    SequenceGuard,
    check_future,
    check_known,
    edge_env,
)
from hedgemesh.runtime.errors import Rejected
from hedgemesh.runtime.streams import ensure_streams
from hedgemesh.wire import subjects
from hedgemesh.wire.instruments import Instrument
from hedgemesh.wire.market import Tick
from hedgemesh.wire.ops import DeadLetter

pytestmark = pytest.mark.timeout(20)

CLOCK_START = SteppedClock().now()


def _tick(seq: int, *, ahead_s: float = 0.0, underlying: str = "SPX") -> Tick:
    return Tick(
        underlying=underlying,
        price=5000.0 + seq,
        seq=seq,
        ts=CLOCK_START + timedelta(seconds=ahead_s),
    )


@pytest.fixture
async def guarded(nats_server) -> AsyncIterator[Bus]:
    nc = await connect(NatsSettings(url=nats_server.url, name="edge"), initial_timeout_s=5.0)
    bus = Bus(
        nc,
        "edge-test",
        clock=SteppedClock(),
        edge=EdgeSettings(max_future_s=5.0, check_sequence=True),
    )
    await ensure_streams(bus.js)
    yield bus
    await bus.close()


def test_given_a_timestamp_past_the_tolerance_then_it_is_refused_and_within_it_is_not() -> None:
    check_future(_tick(1, ahead_s=5.0), CLOCK_START, 5.0)
    check_future(_tick(1, ahead_s=3600.0), CLOCK_START, None)
    with pytest.raises(Rejected) as refused:
        check_future(_tick(1, ahead_s=5.001), CLOCK_START, 5.0)
    assert refused.value.code == FUTURE_TIMESTAMP and "5.001 s ahead" in refused.value.reason


def test_given_a_seq_not_above_the_last_then_refused_unless_stamped_later() -> None:
    guard = SequenceGuard()
    guard.admit(_tick(7))
    guard.admit(_tick(3, underlying="NDX"))  # its own sequence
    for stale in (_tick(7), _tick(6), _tick(2, ahead_s=-1.0)):
        with pytest.raises(Rejected) as refused:
            guard.admit(stale)
        assert refused.value.code == OUT_OF_ORDER
    guard.admit(_tick(8))
    guard.admit(_tick(1, ahead_s=1.0))  # a restarted producer: seq 1 again, but later
    with pytest.raises(Rejected):
        guard.admit(_tick(1, ahead_s=1.0))


def test_given_an_underlying_the_desk_does_not_trade_then_refused() -> None:
    known = frozenset({"SPX", "NDX"})
    check_known(_tick(1), known)
    check_known(_tick(1, underlying="ZZZ"), None)
    order = example("order")
    check_known(order, known)
    with pytest.raises(Rejected) as refused:
        check_known(_tick(1, underlying="ZZZ"), known)
    assert refused.value.code == UNKNOWN_INSTRUMENT and "ZZZ" in refused.value.reason
    other = order.model_copy(update={"instrument": Instrument.parse("RUT")})
    with pytest.raises(Rejected):
        check_known(other, known)


def test_edge_settings_come_from_the_environment_and_refuse_a_bad_value(monkeypatch) -> None:
    assert EdgeSettings() == EdgeSettings(max_future_s=None, check_sequence=False)
    monkeypatch.setenv("HEDGEMESH_EDGE_MAX_FUTURE_S", "2.5")
    monkeypatch.setenv("HEDGEMESH_EDGE_CHECK_SEQUENCE", "true")
    assert EdgeSettings() == EdgeSettings(max_future_s=2.5, check_sequence=True)
    for name, value in edge_env(["SPX", "NDX"]).items():
        monkeypatch.setenv(name, value)
    assert EdgeSettings().known_underlyings == {"SPX", "NDX"}
    monkeypatch.setenv("HEDGEMESH_EDGE_UNDERLYINGS", "SPX,spx.*")
    with pytest.raises(ValidationError, match="underlyings"):
        EdgeSettings()
    monkeypatch.setenv("HEDGEMESH_EDGE_MAX_FUTURE_S", "-1")
    with pytest.raises(ValidationError, match="max_future_s"):
        EdgeSettings()


async def test_given_future_and_out_of_order_ticks_then_dead_lettered_and_the_next_served_fast(
    guarded, nats_client, eventually
):
    handled: dict[int, float] = {}

    async def on_tick(tick: Tick, envelope: Envelope) -> None:
        handled[tick.seq] = time.monotonic()

    letters: list[DeadLetter] = []

    async def on_letter(letter: DeadLetter, envelope: Envelope) -> None:
        letters.append(letter)

    await guarded.subscribe(subjects.deadletter("edge-test"), DeadLetter, on_letter)
    await guarded.subscribe(subjects.ALL_TICKS, Tick, on_tick)
    subject = subjects.tick("SPX")
    for tick in (_tick(5), _tick(5), _tick(4), _tick(6, ahead_s=60.0)):
        await nats_client.publish(subject, tick.to_json())
    sent = time.monotonic()
    await nats_client.publish(subject, _tick(6).to_json())
    await eventually(lambda: 6 in handled)
    assert handled[6] - sent < 0.1
    await eventually(lambda: len(letters) == 3)
    errors = sorted(letter.error for letter in letters)
    assert errors == [FUTURE_TIMESTAMP, OUT_OF_ORDER, OUT_OF_ORDER]
    assert set(handled) == {5, 6}
    counts: dict[Any, int] = dict(guarded.stats.dead_letters)
    assert counts == {(subject, OUT_OF_ORDER): 2, (subject, FUTURE_TIMESTAMP): 1}


async def test_given_two_subscriptions_then_each_keeps_its_own_sequence(
    guarded, nats_client, eventually
):
    seen: list[tuple[str, int]] = []

    def recorder(name: str) -> Any:
        async def on_tick(tick: Tick, envelope: Envelope) -> None:
            seen.append((name, tick.seq))

        return on_tick

    await guarded.subscribe(subjects.ALL_TICKS, Tick, recorder("a"))
    await guarded.subscribe(subjects.tick("SPX"), Tick, recorder("b"))
    await nats_client.publish(subjects.tick("SPX"), _tick(1).to_json())
    await eventually(lambda: sorted(seen) == [("a", 1), ("b", 1)])
    assert guarded.stats.dead_letters == {}
