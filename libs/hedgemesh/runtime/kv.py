"""Typed JetStream KV: values are wire messages, writes can be compare-and-set on a revision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic

import nats.js.errors
from nats.js.kv import KeyValue

from hedgemesh.runtime.bus import M, encode
from hedgemesh.runtime.connection import nats_errors
from hedgemesh.runtime.errors import CasConflict, CorruptValue


@dataclass(frozen=True, slots=True)
class Versioned(Generic[M]):
    """A value and the revision it was stored at (revisions increase across the bucket)."""

    value: M
    revision: int


class TypedKV(Generic[M]):
    """One bucket whose values are `model` messages."""

    def __init__(self, kv: KeyValue, model: type[M], bucket: str) -> None:
        self._kv = kv
        self.model = model
        self.bucket = bucket

    async def get(self, key: str) -> Versioned[M] | None:
        """The latest value, or None when the key is missing or deleted.

        Raises `CorruptValue` (which carries the revision) when the stored bytes do not decode.
        """
        with nats_errors(f"get {self.bucket}/{key}"):
            try:
                entry = await self._kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                return None
        revision = entry.revision
        if revision is None:  # nats-py types it Optional; an entry read back always has one
            raise RuntimeError(f"{self.bucket}/{key}: the KV entry came back without a revision")
        try:
            return Versioned(self.model.from_json(entry.value or b""), revision)
        except ValueError as error:  # a ValidationError, or PayloadTooLarge
            raise CorruptValue(self.bucket, key, revision, error) from error

    async def put(self, key: str, value: M) -> int:
        """Store unconditionally; returns the new revision."""
        with nats_errors(f"put {self.bucket}/{key}"):
            return await self._kv.put(key, encode(value))

    async def create(self, key: str, value: M) -> int:
        """Store only if the key does not exist (or was deleted); `CasConflict` otherwise."""
        with nats_errors(f"create {self.bucket}/{key}"):
            try:
                return await self._kv.create(key, encode(value))
            except nats.js.errors.KeyWrongLastSequenceError as error:
                raise CasConflict(self.bucket, key, "it exists") from error

    async def update(self, key: str, value: M, *, last: int) -> int:
        """Store only if the latest revision is still `last`; `CasConflict` otherwise."""
        with nats_errors(f"update {self.bucket}/{key}"):
            try:
                return await self._kv.update(key, encode(value), last=last)
            except nats.js.errors.KeyWrongLastSequenceError as error:
                raise CasConflict(self.bucket, key, f"not at revision {last} any more") from error
