"""Errors the runtime raises, so that service code never needs to import `nats` to catch one."""

from __future__ import annotations


class Rejected(Exception):
    """Raised by a message handler to refuse its input: the message is dead-lettered, not retried.

    `code` is machine-readable (for example `STALE_TICK`), `reason` is for a person.
    """

    def __init__(self, code: str, reason: str = "") -> None:
        super().__init__(f"{code}: {reason}" if reason else code)
        self.code = code
        self.reason = reason or code


class NatsUnavailable(Exception):
    """A publish, request or KV operation could not reach NATS (or JetStream) in time."""


class NoResponders(NatsUnavailable):
    """A request found nobody subscribed to its subject."""


class JetStreamRefused(Exception):
    """JetStream answered with an error (limits, bad stream config, unknown consumer, ...)."""

    def __init__(self, code: int | None, description: str) -> None:
        super().__init__(f"JetStream refused ({code}): {description}")
        self.code = code
        self.description = description


class CasConflict(Exception):
    """A compare-and-set KV write lost: the key changed (or exists) since the revision given."""

    def __init__(self, bucket: str, key: str, detail: str = "") -> None:
        super().__init__(f"{bucket}/{key} changed concurrently" + (f": {detail}" if detail else ""))
        self.bucket = bucket
        self.key = key


class CorruptValue(Exception):
    """A KV value that does not decode into its model; carries the revision to replace it at."""

    def __init__(self, bucket: str, key: str, revision: int, error: Exception) -> None:
        super().__init__(f"{bucket}/{key} at revision {revision} is not valid: {error}")
        self.bucket = bucket
        self.key = key
        self.revision = revision


class NatsServerError(RuntimeError):
    """The local nats-server could not be found, started or stopped."""


class PortInUse(NatsServerError):
    """The port asked for is already taken by another process."""

    def __init__(self, host: str, port: int, hint: str) -> None:
        super().__init__(f"port {port} on {host} is already in use; {hint}")
        self.host = host
        self.port = port
