"""A small message type and helpers shared by the runtime tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from hedgemesh.runtime.clock import EPOCH
from hedgemesh.wire.base import Token, WireModel


class Reading(WireModel):
    """A stand-in message: one finite number from one sensor."""

    kind: ClassVar[str] = "test_reading"

    sensor: Token
    value: float
    seq: int


def reading(seq: int = 1, value: float = 1.5, sensor: str = "s1") -> Reading:
    """A deterministic reading: its id and timestamp follow from `seq`."""
    return Reading(
        id=f"reading-{seq}",
        ts=EPOCH + timedelta(seconds=seq),
        sensor=sensor,
        value=value,
        seq=seq,
    )


async def collect(nc: Any, subject: str, model: type[WireModel] | None = None) -> list[Any]:
    """Subscribe `nc` to `subject`; the returned list fills up with the decoded messages (or raw
    payloads when `model` is None) as they arrive."""
    received: list[Any] = []

    async def on_message(msg: Any) -> None:
        received.append(model.from_json(msg.data) if model is not None else msg.data)

    await nc.subscribe(subject, cb=on_message)
    for _ in range(2):  # one flush does not cover a queued SUB: see `Bus.flush`
        await nc.flush()
    return received
