"""Chaos: the server is killed (SIGKILL) and restarted on the same port and store."""

from __future__ import annotations

import pytest
from runtime_examples import Reading, reading

from hedgemesh.runtime.bus import Bus, Envelope
from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.runtime.streams import DurableConsumer, ensure_streams
from hedgemesh.wire import subjects

pytestmark = pytest.mark.timeout(30)

TICKS = subjects.tick("SPX")
ORDERS = subjects.order("SPX")


async def _bus(server, name: str) -> Bus:
    nc = await connect(NatsSettings(url=server.url, name=name), initial_timeout_s=5.0)
    return Bus(nc, name)


async def _kill_and_restart(server, buses, eventually) -> None:
    port = server.port
    server.kill()
    await eventually(lambda: not any(b.connected for b in buses))
    server.start()
    assert server.port == port
    await eventually(lambda: all(b.connected for b in buses), timeout=10.0)
    for b in buses:
        await b.flush()  # subscriptions re-sent on reconnect have reached the server


async def test_given_a_server_crash_then_subscribers_resume_and_acked_data_survives(
    nats_server, eventually
):
    publisher, subscriber = await _bus(nats_server, "pub"), await _bus(nats_server, "sub")
    try:
        await ensure_streams(publisher.js)
        acks = [await publisher.js_publish(ORDERS, reading(seq)) for seq in (1, 2, 3)]
        seen: list[int] = []

        async def on_tick(message: Reading, envelope: Envelope) -> None:
            seen.append(message.seq)

        await subscriber.subscribe(TICKS, Reading, on_tick)
        await publisher.publish(TICKS, reading(1))
        await eventually(lambda: seen == [1])

        await _kill_and_restart(nats_server, [publisher, subscriber], eventually)

        await publisher.publish(TICKS, reading(2))
        await eventually(lambda: seen == [1, 2])
        info = await publisher.js.stream_info(subjects.STREAM_ORDERS)
        assert info.state.messages == 3 and info.state.last_seq == acks[-1].seq
        stored = await publisher.js.get_msg(subjects.STREAM_ORDERS, acks[0].seq)
        assert Reading.from_json(stored.data) == reading(1)
    finally:
        await publisher.close()
        await subscriber.close()


async def test_given_a_server_crash_then_a_durable_consumer_goes_on_where_it_left(
    nats_server, eventually
):
    bus = await _bus(nats_server, "exec")
    try:
        await ensure_streams(bus.js)
        seen: list[tuple[int, int]] = []

        async def on_order(message: Reading, envelope: Envelope) -> None:
            seen.append((message.seq, envelope.delivered))

        consumer = DurableConsumer(
            bus,
            stream=subjects.STREAM_ORDERS,
            durable="exec",
            model=Reading,
            handler=on_order,
            fetch_timeout_s=0.2,
        )
        await consumer.start()
        await bus.js_publish(ORDERS, reading(1))
        await eventually(lambda: seen == [(1, 1)])

        async def acked() -> bool:
            info = await bus.js.consumer_info(subjects.STREAM_ORDERS, "exec")
            return info.ack_floor.stream_seq == 1

        await eventually(acked)
        await _kill_and_restart(nats_server, [bus], eventually)

        await bus.js_publish(ORDERS, reading(2))
        await eventually(lambda: seen == [(1, 1), (2, 1)], timeout=10.0)
    finally:
        await bus.close()
