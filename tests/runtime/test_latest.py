"""Conflated subscriptions (`Bus.subscribe_latest`): a slow consumer of state reads the newest
message per subject, skips what it could not read in time, and other subscriptions do not wait
behind it."""

from __future__ import annotations

import time

import pytest
from runtime_examples import Reading, reading

from hedgemesh.runtime.bus import Bus, Envelope

pytestmark = pytest.mark.timeout(20)

STATE = "hedge.v1.md.tick.{}"
ORDERS = "hedge.v1.order.TEST"
BURST = 200


async def test_given_a_burst_on_a_slow_handler_then_it_gets_the_newest_per_subject_and_skips(
    bus: Bus, nats_client, eventually
):
    seen: dict[str, list[int]] = {"A": [], "B": []}

    async def slow(message: Reading, envelope: Envelope) -> None:
        seen[envelope.subject.rsplit(".", 1)[1]].append(message.seq)
        time.sleep(0.002)  # busy: the burst arrives faster than this handles it

    await bus.subscribe_latest(STATE.format("*"), Reading, slow)
    for seq in range(1, BURST + 1):
        for name in ("A", "B"):
            await nats_client.publish(STATE.format(name), reading(seq, sensor=name).to_json())
    await eventually(lambda: seen["A"][-1:] == [BURST] and seen["B"][-1:] == [BURST], timeout=10)
    for seqs in seen.values():
        assert seqs == sorted(seqs) and len(seqs) < BURST  # newest first, never a step back
    skipped = sum(bus.latest.conflated.values())
    assert skipped == 2 * BURST - len(seen["A"]) - len(seen["B"])
    assert bus.stats.handled[STATE.format("A")] == len(seen["A"])


async def test_given_state_held_then_an_order_on_another_subscription_goes_before_it(
    bus: Bus, nats_client, eventually
):
    handled_state: list[int] = []
    held_at_order: list[int] = []

    async def slow(message: Reading, envelope: Envelope) -> None:
        handled_state.append(message.seq)
        time.sleep(0.002)

    async def on_order(message: Reading, envelope: Envelope) -> None:
        held_at_order.append(bus.latest.held)

    await bus.subscribe_latest(STATE.format("*"), Reading, slow)
    await bus.subscribe(ORDERS, Reading, on_order)
    for seq in range(1, BURST + 1):
        for name in "ABCDEFGH":
            await nats_client.publish(STATE.format(name), reading(seq, sensor=name).to_json())
    await nats_client.publish(ORDERS, reading(1).to_json())
    await eventually(lambda: held_at_order, timeout=10)
    # the order did not wait for the state held (one message per subject) to be handled
    assert held_at_order[0] > 0
    await eventually(lambda: bus.latest.held == 0, timeout=10)
    assert len(handled_state) < 8 * BURST
