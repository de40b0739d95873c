"""The base of every wire message: frozen, strict, no unknown fields, finite numbers only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
)
from typing_extensions import TypeAliasType

#: Largest payload a consumer accepts before validation (bytes). Bigger ones are dead-lettered.
MAX_PAYLOAD_BYTES = 256 * 1024

#: Largest integer on the wire (int64), so that every consumer, in any language, can hold it.
MAX_INT64 = 2**63 - 1

TOKEN_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"
"""The pattern of one NATS subject token (anchored; matched as a whole)."""

Token = Annotated[str, StringConstraints(pattern=TOKEN_PATTERN)]
"""A NATS subject token: letters, digits, `_` and `-` (no dots, no wildcards)."""

Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
"""A printable ASCII identifier without spaces."""

Seq = Annotated[int, Field(ge=0, le=MAX_INT64)]
"""A sequence number: a non-negative int64."""

_FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
_JsonText = Annotated[StrictStr, StringConstraints(max_length=4096)]

_Int64 = Annotated[StrictInt, Field(ge=-MAX_INT64 - 1, le=MAX_INT64)]

JsonValue = TypeAliasType(
    "JsonValue",
    # A string, so that the self-references resolve lazily (mypy cannot resolve a recursive
    # alias whose value names itself in quotes; pydantic evaluates the string in this module).
    "StrictBool | _Int64 | _FiniteFloat | _JsonText"
    " | Annotated[list[JsonValue], Field(max_length=1024)]"
    " | Annotated[dict[_JsonText, JsonValue], Field(max_length=1024)]"
    " | None",
)
"""Free-form JSON with finite numbers only (`typing.Any` would let NaN and Infinity through)."""


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-01:00 is past datetime.max in UTC
        raise ValueError("timestamp out of range once converted to UTC") from exc


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A timezone-aware timestamp, normalised to UTC. Naive timestamps are rejected."""


def new_id() -> str:
    """A fresh random message id (32 hex digits)."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


def payload_size(data: bytes | bytearray | memoryview | str) -> int:
    """Size of a payload in bytes (a `str` counts as its UTF-8 encoding)."""
    if isinstance(data, str):
        return len(data.encode("utf-8", "surrogatepass"))
    return memoryview(data).nbytes


class WireValue(BaseModel):
    """A value embedded in messages (an instrument, a hedge leg): the wire rules without `id`/`ts`.

    Frozen, unknown fields forbidden, NaN and infinities rejected.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        validate_default=True,
    )


_ENVELOPE = ("id", "ts")


def _envelope_required(schema: dict[str, Any]) -> None:
    """In the exported schema: `id` and `ts` are required on the wire (defaults are for code)."""
    schema["required"] = sorted({*schema.get("required", ()), *_ENVELOPE})


class WireModel(WireValue):
    """Base of every message on the wire.

    Frozen, unknown fields forbidden, NaN and infinities rejected, strict types (a string is
    never coerced into a number when decoding from the wire). Every message carries an `id` and
    a UTC timestamp `ts`: decoding JSON requires both; in code they default to fresh values, and
    deterministic producers pass their own.
    """

    model_config = ConfigDict(json_schema_extra=_envelope_required)

    #: The message type's name on the wire and in the schema file; set by each subclass.
    kind: ClassVar[str] = ""
    #: The (wildcard) subject the message travels on; "" where it has none (a reply, a KV value).
    subject_pattern: ClassVar[str] = ""
    #: Largest payload `from_json` accepts for this message type (bytes).
    max_payload_bytes: ClassVar[int] = MAX_PAYLOAD_BYTES
    #: The field that keys this kind's `seq` (e.g. `underlying` for ticks): the runtime refuses a
    #: message whose seq is not above the last one seen for its key. None: not sequenced.
    sequence_key: ClassVar[str | None] = None

    id: Id = Field(default_factory=new_id, description="Unique message id.")
    ts: UtcDatetime = Field(default_factory=utc_now, description="When the message was made (UTC).")

    @property
    def publish_subject(self) -> str:
        """The concrete subject this message is published on (it matches `subject_pattern`)."""
        raise LookupError(f"a {self.kind or type(self).__name__} has no subject of its own")

    def to_json(self) -> bytes:
        """Encode as compact UTF-8 JSON."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, data: bytes | bytearray | memoryview | str) -> Self:
        """Decode and validate strictly; raises `pydantic.ValidationError` or `PayloadTooLarge`."""
        size = payload_size(data)
        if size > cls.max_payload_bytes:
            raise PayloadTooLarge(size, cls.max_payload_bytes)
        if isinstance(data, memoryview):
            data = data.tobytes()
        message = cls.model_validate_json(data, strict=True)
        # A decoder must never invent the id (idempotency) or the time (staleness) of a message.
        missing = [name for name in _ENVELOPE if name not in message.model_fields_set]
        if missing:
            raise ValidationError.from_exception_data(
                cls.__name__,
                [{"type": "missing", "loc": (name,), "input": data} for name in missing],
                input_type="json",
            )
        return message

    def evolve(self, **changes: Any) -> Self:
        """A validated copy with some fields changed."""
        return type(self).model_validate({**self.model_dump(), **changes})


class PayloadTooLarge(ValueError):
    """A payload above the size limit (`MAX_PAYLOAD_BYTES` by default); rejected unparsed."""

    def __init__(self, size: int, limit: int = MAX_PAYLOAD_BYTES) -> None:
        super().__init__(f"payload of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit
