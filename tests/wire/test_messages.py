"""Every message: round trip, strict decoding, frozen, size limit, registry."""

from __future__ import annotations

import doctest
import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from wire_examples import FIELDS, TIMESTAMP_FIELDS, example, replaced, typed_leaves

import hedgemesh.wire as wire
from hedgemesh.wire import (
    MAX_PAYLOAD_BYTES,
    MESSAGES,
    ControlCommand,
    DeadLetter,
    PayloadTooLarge,
    Tick,
    UnknownKind,
    decode,
    instruments,
    orders,
)

KINDS = sorted(MESSAGES)


def _dumps(data: object) -> str:
    return json.dumps(data, allow_nan=True)


def _cases(kind_filter):
    return [
        pytest.param(kind, path, id=f"{kind}:{'.'.join(map(str, path))}")
        for kind in KINDS
        for path, value in typed_leaves(kind)
        if kind_filter(path, value)
    ]


def _is_number(path, value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_plain_string(path, value) -> bool:
    return isinstance(value, str) and path[-1] not in TIMESTAMP_FIELDS


def _is_timestamp(path, value) -> bool:
    return path[-1] in TIMESTAMP_FIELDS


def test_given_the_registry_then_every_kind_has_an_example_and_its_class_says_its_kind():
    assert set(FIELDS) == set(MESSAGES)
    for kind, cls in MESSAGES.items():
        assert cls.kind == kind
        assert type(example(kind)) is cls


@pytest.mark.parametrize("kind", KINDS)
def test_given_a_message_when_encoded_and_decoded_then_equal(kind):
    message = example(kind)
    assert decode(kind, message.to_json()) == message
    assert decode(kind, message.to_json().decode()) == message
    assert decode(kind, memoryview(message.to_json())) == message
    assert type(message).from_json(message.to_json()) == message


@pytest.mark.parametrize("kind", KINDS)
def test_given_an_unknown_field_then_rejected(kind):
    data = example(kind).model_dump(mode="json")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        decode(kind, _dumps({**data, "surprise": 1}))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("field", ["id", "ts"])
def test_given_no_id_or_ts_on_the_wire_then_rejected_not_invented(kind, field):
    data = example(kind).model_dump(mode="json")
    del data[field]
    with pytest.raises(ValidationError, match=field):
        decode(kind, _dumps(data))


@pytest.mark.parametrize(("kind", "path"), _cases(_is_number))
def test_given_a_string_for_a_number_then_rejected(kind, path):
    data = example(kind).model_dump(mode="json")
    value = dict(typed_leaves(kind))[path]
    with pytest.raises(ValidationError):
        decode(kind, _dumps(replaced(data, path, str(value))))


@pytest.mark.parametrize(("kind", "path"), _cases(_is_number))
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_given_a_non_finite_number_then_rejected(kind, path, literal):
    data = example(kind).model_dump(mode="json")
    text = _dumps(replaced(data, path, "__SENTINEL__")).replace('"__SENTINEL__"', literal)
    with pytest.raises(ValidationError):
        decode(kind, text)


@pytest.mark.parametrize(("kind", "path"), _cases(_is_number))
def test_given_a_boolean_for_a_number_then_rejected(kind, path):
    data = example(kind).model_dump(mode="json")
    with pytest.raises(ValidationError):
        decode(kind, _dumps(replaced(data, path, True)))


@pytest.mark.parametrize(("kind", "path"), _cases(_is_plain_string))
def test_given_a_number_for_a_string_then_rejected(kind, path):
    data = example(kind).model_dump(mode="json")
    with pytest.raises(ValidationError):
        decode(kind, _dumps(replaced(data, path, 1)))


@pytest.mark.parametrize(("kind", "path"), _cases(_is_timestamp))
def test_given_a_naive_timestamp_then_rejected(kind, path):
    data = example(kind).model_dump(mode="json")
    with pytest.raises(ValidationError, match="timezone"):
        decode(kind, _dumps(replaced(data, path, "2026-06-01T14:30:00")))


def test_given_a_float_for_a_whole_quantity_then_rejected():
    data = example("order").model_dump(mode="json")
    with pytest.raises(ValidationError, match="int"):
        decode("order", _dumps({**data, "quantity": 6.0}))


def test_given_a_timestamp_with_an_offset_then_normalised_to_utc():
    data = example("tick").model_dump(mode="json")
    tick = decode("tick", _dumps({**data, "ts": "2026-06-01T16:30:00+02:00"}))
    assert tick.ts == datetime(2026, 6, 1, 14, 30, tzinfo=UTC)
    assert tick.ts.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_given_a_timestamp_that_leaves_the_calendar_in_utc_then_a_validation_error(stamp):
    data = example("tick").model_dump(mode="json")
    with pytest.raises(ValidationError, match="out of range"):
        decode("tick", _dumps({**data, "ts": stamp}))


def test_given_nan_inside_free_form_control_params_then_rejected():
    data = example("control_command").model_dump(mode="json")
    text = _dumps({**data, "params": {"limits": [1.0, float("nan")]}})
    assert "NaN" in text
    with pytest.raises(ValidationError):
        decode("control_command", text)
    with pytest.raises(ValidationError):
        ControlCommand(target="manager", action="halt", issued_by="op", params={"x": float("inf")})


@pytest.mark.parametrize("kind", KINDS)
def test_given_a_message_then_it_is_frozen(kind):
    message = example(kind)
    with pytest.raises(ValidationError, match="frozen"):
        message.id = "other"  # type: ignore[misc]


def test_given_a_nested_value_then_it_is_frozen_and_hashable_too():
    order = example("order")
    with pytest.raises(ValidationError, match="frozen"):
        order.instrument.strike = 1.0  # type: ignore[misc]
    assert {order.instrument: 1}[example("execution_report").instrument] == 1


def test_given_evolve_then_a_validated_copy_with_the_change():
    tick = example("tick")
    moved = tick.evolve(price=5001.0, bid=5000.5)
    assert (moved.price, moved.bid, moved.id) == (5001.0, 5000.5, tick.id)
    with pytest.raises(ValidationError, match="above ask"):
        tick.evolve(bid=6000.0)


@pytest.mark.parametrize("kind", KINDS)
def test_given_a_payload_over_the_limit_then_payload_too_large_before_parsing(kind):
    limit = MESSAGES[kind].max_payload_bytes
    with pytest.raises(PayloadTooLarge) as raised:
        decode(kind, b"[" * (limit + 1))
    assert (raised.value.size, raised.value.limit) == (limit + 1, limit)


def test_given_a_valid_payload_exactly_at_the_limit_then_accepted():
    text = example("tick").to_json()
    padded = text + b" " * (MAX_PAYLOAD_BYTES - len(text))
    assert decode("tick", padded) == example("tick")
    with pytest.raises(PayloadTooLarge):
        decode("tick", padded + b" ")


def test_given_a_text_payload_then_its_size_counts_utf8_bytes_not_characters():
    text = " " * (MAX_PAYLOAD_BYTES // 2) + "é" * (MAX_PAYLOAD_BYTES // 4 + 1)
    assert len(text) < MAX_PAYLOAD_BYTES
    with pytest.raises(PayloadTooLarge):
        Tick.from_json(text)


def test_given_a_dead_letter_quoting_a_large_payload_then_it_still_decodes():
    letter = example("dead_letter").evolve(payload="x" * 300_000, payload_size=300_000)
    assert len(letter.to_json()) > MAX_PAYLOAD_BYTES
    assert DeadLetter.from_json(letter.to_json()) == letter


def test_given_an_unknown_kind_then_unknown_kind_naming_the_known_ones():
    with pytest.raises(UnknownKind, match="tick"):
        decode("tock", b"{}")


def test_given_the_package_then_every_message_class_and_subjects_are_exported():
    for cls in MESSAGES.values():
        assert getattr(wire, cls.__name__) is cls
    assert wire.subjects.PREFIX == "hedge.v1"
    assert set(wire.__all__) <= set(dir(wire))


@pytest.mark.parametrize("module", [instruments, orders])
def test_given_the_doctests_then_they_pass(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
