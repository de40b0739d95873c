"""Fuzzing every decoder: whatever arrives, `decode` either returns a valid message (one that
survives its own round trip) or raises `ValidationError` / `PayloadTooLarge`, nothing else."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from wire_examples import example, leaves, replaced

from hedgemesh.wire import MESSAGES, PayloadTooLarge, decode

KINDS = sorted(MESSAGES)

FUZZ = settings(
    max_examples=80,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Values chosen to sit on or beyond the edges the contracts draw.
EDGES = st.sampled_from(
    [
        0,
        -0.0,
        -1,
        1,
        2**31,
        2**53 + 1,
        2**63 - 1,
        2**63,
        2**64,
        -(2**63) - 1,
        10**30,
        1e308,
        -1e308,
        5e-324,
        1e12,
        1e12 + 1,
        "",
        " ",
        "x" * 5000,
        "SPX",
        "spx",
        "a.b",
        "*",
        ">",
        "\x00",
        "\u2028",
        "é",
        "2026-06-01T14:30:00",
        "2026-06-01T14:30:00Z",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "2026-02-30T00:00:00Z",
        "1e3",
        "NaN",
        True,
        False,
        None,
        [],
        {},
    ]
)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included: `json.dumps` writes them as literals
    | st.text(max_size=40)
    | EDGES
)
JSONISH = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _decodes_or_rejects(kind: str, payload: bytes | str) -> None:
    """The property: a clean rejection, or a valid message that round-trips."""
    try:
        message = decode(kind, payload)
    except (ValidationError, PayloadTooLarge):
        return
    assert type(message) is MESSAGES[kind]
    assert decode(kind, message.to_json()) == message


def _paths(value: object, path: tuple = ()) -> list[tuple]:
    """Every path inside a JSON value, inner nodes included (the root is `()`)."""
    inner: list[tuple] = []
    if isinstance(value, dict):
        inner = [p for key, item in value.items() for p in _paths(item, (*path, key))]
    elif isinstance(value, list):
        inner = [p for i, item in enumerate(value) for p in _paths(item, (*path, i))]
    return [path, *inner]


def _at(value: object, path: tuple) -> object:
    for step in path:
        value = value[step]  # type: ignore[index]
    return value


def _like(value: object) -> st.SearchStrategy[object]:
    """Values of the same JSON type as `value`, so that some edits still make valid messages."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-(2**65), 2**65) | st.integers(-3, 3) | EDGES
    if isinstance(value, float):
        return st.floats(allow_nan=False, allow_infinity=False) | st.floats(-2.0, 2.0) | EDGES
    if isinstance(value, str):
        stamps = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
        return st.text(max_size=20) | stamps | EDGES
    return JSONISH


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> str:
    """The example of `kind` after one to three random edits, as JSON text."""
    data: object = example(kind).model_dump(mode="json")
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        parent = _at(data, path[:-1]) if path else None
        edit = draw(st.sampled_from(["like", "like", "like", "replace", "edge", "delete", "add"]))
        if edit == "delete" and isinstance(parent, dict):
            data = replaced(data, path[:-1], {k: v for k, v in parent.items() if k != path[-1]})
        elif edit == "add" and isinstance(parent, dict):
            extra = {**parent, draw(st.text(max_size=8)): draw(JSONISH)}
            data = replaced(data, path[:-1], extra)
        else:
            new = {"like": _like(_at(data, path)), "edge": EDGES}.get(edit, JSONISH)
            data = replaced(data, path, draw(new))
    return json.dumps(data, allow_nan=True)


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(payload=st.binary(max_size=512))
def test_given_arbitrary_bytes_then_only_validation_errors(kind, payload):
    _decodes_or_rejects(kind, payload)


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(value=JSONISH)
def test_given_arbitrary_json_values_then_only_validation_errors(kind, value):
    _decodes_or_rejects(kind, json.dumps(value, allow_nan=True))


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data())
def test_given_mutations_of_a_valid_message_then_only_validation_errors(kind, data):
    _decodes_or_rejects(kind, data.draw(mutated(kind)))


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data())
def test_given_byte_level_damage_to_a_valid_payload_then_only_validation_errors(kind, data):
    payload = bytearray(example(kind).to_json())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(payload)))
        damage = data.draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        if damage == "cut":
            del payload[at:]
        elif damage == "insert":
            payload[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif payload and at < len(payload):
            if damage == "flip":
                payload[at] ^= 1 << data.draw(st.integers(0, 7))
            else:
                del payload[at]
    _decodes_or_rejects(kind, bytes(payload))


@pytest.mark.parametrize("kind", KINDS)
def test_given_the_fuzz_seeds_then_the_unchanged_example_decodes(kind):
    """The mutations start from a valid message, so a rejection is the edit's doing."""
    text = json.dumps(example(kind).model_dump(mode="json"))
    assert decode(kind, text) == example(kind)
    assert leaves(json.loads(text))
