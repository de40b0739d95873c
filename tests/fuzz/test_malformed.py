"""The flood's generator: seeded, and every message it makes is refused at the edge, by
decoding or else by the edge check of its class."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from malformed import CLASSES, Target, flood, valid
from pydantic import ValidationError

from hedgemesh.runtime.edge import SequenceGuard, check_future, check_known
from hedgemesh.runtime.errors import Rejected
from hedgemesh.wire import decode, subjects
from hedgemesh.wire.base import PayloadTooLarge

NOW = datetime(2026, 11, 21, 15, tzinfo=UTC)
TARGETS = [
    Target("tick", subjects.tick("SPX"), sequenced=True),
    Target("position_snapshot", subjects.positions("SPX")),
    Target("decision", subjects.decision("gamma-agent")),
    Target("heartbeat", f"{subjects.PREFIX}.heartbeat.manager.m1", underlying_at=()),
    Target("order", subjects.order("SPX"), underlying_at=("instrument", "underlying")),
]
KIND = {target.subject: target.kind for target in TARGETS}


def test_given_a_seed_then_the_flood_is_the_same_and_covers_every_class() -> None:
    first = flood(TARGETS, 1000, 7, NOW, 100)
    assert first == flood(TARGETS, 1000, 7, NOW, 100)
    assert first != flood(TARGETS, 1000, 8, NOW, 100)
    assert {cls for cls, _, _ in first} == set(CLASSES)


@pytest.mark.parametrize("seed", range(3))
def test_every_malformed_message_is_refused_by_decoding_or_by_its_edge_check(seed: int) -> None:
    for cls, subject, payload in flood(TARGETS, 1000, seed, NOW, 100):
        try:
            message = decode(KIND[subject], payload)
        except (ValidationError, PayloadTooLarge):
            continue
        guard = SequenceGuard()
        guard.admit(decode("tick", _base_tick()))
        with pytest.raises(Rejected):
            check_known(message, frozenset({"SPX", "NDX"}))
            check_future(message, NOW, 5.0)
            guard.admit(message)
        assert cls in ("unknown_instrument", "future_timestamp", "out_of_order"), cls


def _base_tick() -> bytes:
    return json.dumps(valid("tick", NOW, random.Random(0), seq=100)).encode()
