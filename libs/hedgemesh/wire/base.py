"""The base of every wire message: frozen, strict, no unknown fields, finite numbers only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

#: Largest payload a consumer accepts before validation (bytes). Bigger ones are dead-lettered.
MAX_PAYLOAD_BYTES = 256 * 1024

Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
"""A NATS subject token: letters, digits, `_` and `-` (no dots, no wildcards)."""

Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
"""A printable ASCII identifier without spaces."""


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A timezone-aware timestamp, normalised to UTC. Naive timestamps are rejected."""


def new_id() -> str:
    """A fresh random message id (32 hex digits)."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class WireModel(BaseModel):
    """Base of every message on the wire.

    Frozen, unknown fields forbidden, NaN and infinities rejected, strict types (a string is
    never coerced into a number when decoding from the wire). Every message carries an `id` and a UTC timestamp `ts`;
    both default to fresh values, and deterministic producers pass their own.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        validate_default=True,
    )

    #: The message type's name on the wire and in the schema file; set by each subclass.
    kind: ClassVar[str] = ""

    id: Id = Field(default_factory=new_id, description="Unique message id.")
    ts: UtcDatetime = Field(default_factory=utc_now, description="When the message was made (UTC).")

    def to_json(self) -> bytes:
        """Encode as compact UTF-8 JSON."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """Decode and validate strictly; raises `pydantic.ValidationError` or `PayloadTooLarge`."""
        if len(data) > MAX_PAYLOAD_BYTES:
            raise PayloadTooLarge(len(data))
        return cls.model_validate_json(data, strict=True)

    def evolve(self, **changes: Any) -> Self:
        """A validated copy with some fields changed."""
        return type(self).model_validate({**self.model_dump(), **changes})


class PayloadTooLarge(ValueError):
    """A payload above `MAX_PAYLOAD_BYTES`; rejected before it is parsed."""

    def __init__(self, size: int) -> None:
        super().__init__(f"payload of {size} bytes exceeds the limit of {MAX_PAYLOAD_BYTES} bytes")
        self.size = size
