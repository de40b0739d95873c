"""Malformed NATS messages, one class at a time, from a seed: what a fuzzer, a broken producer or
an attacker would send to a service. Each comes as (class, subject, payload bytes)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wire_examples import example

from hedgemesh.wire.base import MAX_PAYLOAD_BYTES

#: The numeric field of a kind that NaN, infinities, zero and negative values go into.
NUMBER = {"tick": "price", "surface": "spot", "order": "quantity"}

CLASSES = (
    "invalid_json",
    "nan",
    "infinite",
    "non_positive",
    "unknown_field",
    "wrong_type",
    "oversized",
    "unknown_instrument",
    "future_timestamp",
    "out_of_order",
)


@dataclass(frozen=True)
class Target:
    """A kind of message a service consumes, on one subject."""

    kind: str
    subject: str
    sequenced: bool = False  # ticks and surfaces: an out-of-order seq is refused
    underlying_at: tuple[str, ...] = ("underlying",)  # where its underlying is said


def valid(kind: str, now: datetime, rng: random.Random, **overrides: Any) -> dict[str, Any]:
    """A valid message of `kind` stamped `now`, as JSON data, with a fresh id."""
    data: dict[str, Any] = example(kind).model_dump(mode="json")
    data |= {"id": f"fuzz-{rng.getrandbits(64):016x}", "ts": now.isoformat()}
    return data | overrides


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def _text(data: dict[str, Any]) -> bytes:
    return json.dumps(data, allow_nan=True).encode()


def malformed(
    cls: str, target: Target, now: datetime, rng: random.Random, last_seq: int
) -> bytes | None:
    """One payload of class `cls` for `target`, or None when the class does not apply to it."""
    data = valid(target.kind, now, rng)
    number = NUMBER.get(target.kind)
    makers: dict[str, Callable[[], bytes | None]] = {
        "invalid_json": lambda: rng.choice(
            [_text(data)[: rng.randrange(1, 40)], rng.randbytes(rng.randrange(1, 64)), b""]
        ),
        "nan": lambda: _text(_set(data, (number,), float("nan"))) if number else None,
        "infinite": lambda: (
            _text(data).replace(
                f'"{number}": {json.dumps(data[number])}'.encode(),
                f'"{number}": {rng.choice(["1e999", "-1e999", "Infinity"])}'.encode(),
            )
            if number
            else None
        ),
        "non_positive": lambda: (
            _text(_set(data, (number,), rng.choice([0, -1, -rng.uniform(1, 1e6)])))
            if number
            else None
        ),
        "unknown_field": lambda: _text(data | {f"x_{rng.randrange(1000)}": 1}),
        "wrong_type": lambda: _text(
            data | rng.choice([{"id": rng.randrange(10**6)}, {"ts": "yesterday"}])
        ),
        "oversized": lambda: _text(data | {"pad": "x" * (MAX_PAYLOAD_BYTES + 1)}),
        "unknown_instrument": lambda: (
            _text(_set(data, target.underlying_at, "ZZZ")) if target.underlying_at else None
        ),
        "future_timestamp": lambda: _text(
            data | {"ts": (now + timedelta(hours=rng.uniform(1, 48))).isoformat()}
        ),
        "out_of_order": lambda: (
            _text(
                data
                | {
                    "seq": rng.randrange(0, last_seq + 1),
                    "ts": (now - timedelta(seconds=1)).isoformat(),
                }
            )
            if target.sequenced
            else None
        ),
    }
    return makers[cls]()


def flood(
    targets: list[Target], count: int, seed: int, now: datetime, last_seq: int
) -> list[tuple[str, str, bytes]]:
    """`count` malformed messages over `targets` and every class that applies, seeded."""
    rng = random.Random(seed)
    out: list[tuple[str, str, bytes]] = []
    while len(out) < count:
        target, cls = rng.choice(targets), rng.choice(CLASSES)
        payload = malformed(cls, target, now, rng, last_seq)
        if payload is not None:
            out.append((cls, target.subject, payload))
    return out
