"""Streams, buckets, dedup by Nats-Msg-Id, and durable consumers that ack only after the work."""

from __future__ import annotations

import asyncio

import pytest
from nats.js import api
from runtime_examples import Reading, collect, reading

from hedgemesh.runtime.bus import Bus, Envelope
from hedgemesh.runtime.errors import Rejected
from hedgemesh.runtime.streams import BUCKETS, STREAMS, DurableConsumer, ensure_streams
from hedgemesh.wire import subjects
from hedgemesh.wire.ops import DeadLetter

pytestmark = pytest.mark.timeout(20)

ORDERS = subjects.order("SPX")


async def test_given_streams_ensured_twice_then_the_second_time_changes_nothing(bus):
    before = {s.name: await bus.js.stream_info(s.name) for s in STREAMS}
    buckets = await ensure_streams(bus.js)
    assert sorted(buckets) == sorted(b.name for b in BUCKETS)
    for spec in STREAMS:
        info = await bus.js.stream_info(spec.name)
        assert info.config.subjects == list(spec.subjects)
        assert info.config.storage == api.StorageType.FILE
        assert info.config.duplicate_window == spec.duplicate_window_s
        assert info.state.messages == 0
        assert info.created == before[spec.name].created


async def test_given_a_stream_with_other_limits_then_ensure_brings_it_up_to_date(bus):
    await bus.js.update_stream(
        api.StreamConfig(
            name=subjects.STREAM_ORDERS,
            subjects=[subjects.ALL_ORDERS],
            storage=api.StorageType.FILE,
            max_age=60.0,
            duplicate_window=5.0,
        )
    )
    await ensure_streams(bus.js)
    info = await bus.js.stream_info(subjects.STREAM_ORDERS)
    assert info.config.max_age == 7 * 86_400.0
    assert info.config.duplicate_window == 120.0


async def test_given_a_bucket_with_other_settings_then_ensure_brings_it_up_to_date(bus):
    info = await bus.js.stream_info(f"KV_{subjects.KV_LIMITS}")
    config = info.config
    config.max_msgs_per_subject = 2
    await bus.js.update_stream(config)
    buckets = await ensure_streams(bus.js)
    assert (await buckets[subjects.KV_LIMITS].status()).history == 16


async def test_given_an_order_id_published_twice_then_one_message_is_stored(bus):
    first = await bus.js_publish(ORDERS, reading(1), msg_id="ord-1")
    again = await bus.js_publish(ORDERS, reading(1), msg_id="ord-1")
    other = await bus.js_publish(ORDERS, reading(2), msg_id="ord-2")
    assert (first.stream, first.duplicate) == (subjects.STREAM_ORDERS, False)
    assert again.duplicate and again.seq == first.seq
    assert not other.duplicate and other.seq == first.seq + 1
    info = await bus.js.stream_info(subjects.STREAM_ORDERS)
    assert info.state.messages == 2


async def test_given_no_msg_id_then_the_message_id_deduplicates(bus):
    message = reading(3)
    await bus.js_publish(ORDERS, message)
    again = await bus.js_publish(ORDERS, message)
    assert again.duplicate
    stored = await bus.js.get_last_msg(subjects.STREAM_ORDERS, ORDERS)
    assert stored.headers["Nats-Msg-Id"] == message.id


# -- durable consumers -------------------------------------------------------------------------


async def _consume(bus: Bus, handler, **options) -> DurableConsumer[Reading]:
    consumer = DurableConsumer(
        bus,
        stream=subjects.STREAM_ORDERS,
        durable="probe",
        model=Reading,
        handler=handler,
        subject=subjects.ALL_ORDERS,
        **{"retry_delay_s": 0.0, "fetch_timeout_s": 0.2, **options},
    )
    await consumer.start()
    return consumer


async def _consumer_info(bus: Bus) -> api.ConsumerInfo:
    return await bus.js.consumer_info(subjects.STREAM_ORDERS, "probe")


async def test_given_a_handler_still_working_then_the_message_is_not_acked_until_it_returns(
    bus, eventually
):
    started, release = asyncio.Event(), asyncio.Event()

    async def handler(message: Reading, envelope: Envelope) -> None:
        started.set()
        await release.wait()

    await _consume(bus, handler)
    await bus.js_publish(ORDERS, reading(1))
    await asyncio.wait_for(started.wait(), 5.0)
    info = await _consumer_info(bus)
    assert info.num_ack_pending == 1 and info.ack_floor.stream_seq == 0
    release.set()

    async def acked():
        info = await _consumer_info(bus)
        return info.num_ack_pending == 0 and info.ack_floor.stream_seq == 1

    await eventually(acked)


async def test_given_a_handler_that_fails_once_then_the_message_is_redelivered_and_acked(
    bus, eventually
):
    deliveries: list[tuple[int, int]] = []

    async def handler(message: Reading, envelope: Envelope) -> None:
        deliveries.append((message.seq, envelope.delivered))
        if envelope.delivered == 1:
            raise ConnectionError("database briefly away")

    await _consume(bus, handler)
    await bus.js_publish(ORDERS, reading(1))
    await bus.js_publish(ORDERS, reading(2))

    async def all_acked():
        info = await _consumer_info(bus)
        return info.ack_floor.stream_seq == 2 and info.num_ack_pending == 0

    await eventually(all_acked)
    # Each message is delivered twice; a retry may come after later messages.
    assert sorted(deliveries) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert bus.stats.handler_errors[ORDERS] == 2
    assert bus.stats.dead_letters == {}


async def test_given_a_bad_message_then_it_is_dead_lettered_once_and_never_redelivered(
    bus, nats_client, eventually
):
    handled: list[int] = []
    letters = await collect(nats_client, subjects.deadletter("test"), DeadLetter)

    async def handler(message: Reading, envelope: Envelope) -> None:
        if message.value < 0:
            raise Rejected("NEGATIVE_READING", "below zero")
        handled.append(message.seq)

    await _consume(bus, handler)
    js = nats_client.jetstream()
    await js.publish(ORDERS, b'{"sensor": "s1", "value": NaN, "seq": 1}')
    await bus.js_publish(ORDERS, reading(2, value=-1.0))
    await bus.js_publish(ORDERS, reading(3))

    async def consumed():
        info = await _consumer_info(bus)
        return info.ack_floor.stream_seq == 3 and info.num_ack_pending == 0

    await eventually(consumed)
    await eventually(lambda: len(letters) == 2)
    assert handled == [3]
    assert [(dl.error, dl.id) for dl in letters] == [
        ("INVALID_MESSAGE", f"{subjects.STREAM_ORDERS}-1"),
        ("NEGATIVE_READING", f"{subjects.STREAM_ORDERS}-2"),
    ]
    info = await _consumer_info(bus)
    assert info.num_redelivered == 0 and info.num_pending == 0
    assert (await bus.js.stream_info(subjects.STREAM_DEADLETTER)).state.messages == 2


async def test_given_a_handler_that_always_fails_then_the_last_delivery_is_dead_lettered(
    bus, nats_client, eventually
):
    attempts: list[int] = []
    letters = await collect(nats_client, subjects.deadletter("test"), DeadLetter)

    async def handler(message: Reading, envelope: Envelope) -> None:
        attempts.append(envelope.delivered)
        raise RuntimeError("always")

    await _consume(bus, handler, max_deliver=3)
    await bus.js_publish(ORDERS, reading(1))
    await eventually(lambda: letters)
    assert attempts == [1, 2, 3]
    assert letters[0].error == "HANDLER_FAILED"

    async def terminated():
        return (await _consumer_info(bus)).ack_floor.stream_seq == 1

    await eventually(terminated)


async def test_given_a_consumer_restarted_then_it_resumes_after_the_last_ack(bus, eventually):
    seen: list[int] = []

    async def handler(message: Reading, envelope: Envelope) -> None:
        seen.append(message.seq)

    first = await _consume(bus, handler)
    await bus.js_publish(ORDERS, reading(1))
    await eventually(lambda: seen == [1])
    await first.stop()
    await bus.js_publish(ORDERS, reading(2))
    await _consume(bus, handler)
    await eventually(lambda: seen == [1, 2])


def test_given_max_deliver_below_one_then_refused(bus):
    with pytest.raises(ValueError, match="max_deliver"):
        DurableConsumer(bus, stream="S", durable="d", model=Reading, handler=None, max_deliver=0)


async def test_given_a_backlog_then_the_consumer_pending_gauge_follows_it_down(bus, eventually):
    from prometheus_client.parser import text_string_to_metric_families

    from hedgemesh.runtime import metrics

    def pending() -> list[float]:
        return [
            s.value
            for f in text_string_to_metric_families(metrics.render().decode())
            for s in f.samples
            if s.name == "hedgemesh_consumer_pending_messages" and s.labels["consumer"] == "probe"
        ]

    for n in range(5):
        await bus.js_publish(ORDERS, reading(100 + n), msg_id=f"pending-{n}")
    seen: list[list[float]] = []

    async def handler(message: Reading, _envelope) -> None:
        seen.append(pending())  # the gauge as this message is handled

    consumer = await _consume(bus, handler)
    try:
        await eventually(lambda: len(seen) == 5, timeout=10)
        assert seen == [[4.0], [3.0], [2.0], [1.0], [0.0]]
    finally:
        await consumer.stop()
