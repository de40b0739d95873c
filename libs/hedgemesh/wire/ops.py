"""Operational messages: heartbeats, dead letters, control commands and replies."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field, NonNegativeFloat, NonNegativeInt

from hedgemesh.wire.base import Id, Token, UtcDatetime, WireModel


class Role(StrEnum):
    LEADER = "leader"
    STANDBY = "standby"
    SINGLE = "single"


class ServiceState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    DEGRADED = "degraded"
    STOPPING = "stopping"


class Heartbeat(WireModel):
    """Liveness of one service instance, published every few seconds."""

    kind: ClassVar[str] = "heartbeat"

    service: Token
    instance: Token
    role: Role
    state: ServiceState
    seq: NonNegativeInt = Field(description="Increases by one per heartbeat of this instance.")
    started_at: UtcDatetime
    pid: NonNegativeInt
    lag_ms: NonNegativeFloat = Field(
        default=0.0, description="How far behind its input the instance is, in milliseconds."
    )
    epoch: NonNegativeInt | None = Field(
        default=None, description="Leader fencing token (the lease's KV revision) when leading."
    )


class DeadLetter(WireModel):
    """A message a consumer rejected, with the reason. Nothing rejected is lost."""

    kind: ClassVar[str] = "dead_letter"

    service: Token = Field(description="The service that rejected the message.")
    subject: str = Field(max_length=512, description="The subject the message arrived on.")
    reason: str = Field(max_length=4096, description="Why it was rejected, for a person.")
    error: str = Field(max_length=64, description="Machine-readable class of the rejection.")
    payload: str = Field(
        max_length=300_000,
        description="The raw payload as text (UTF-8, undecodable bytes escaped), maybe truncated.",
    )
    payload_size: NonNegativeInt = Field(description="Size of the original payload in bytes.")
    headers: dict[str, str] = Field(default_factory=dict)


class ControlAction(StrEnum):
    HALT = "halt"
    RESUME = "resume"
    REDUCE = "reduce"
    SET_LIMIT = "set_limit"
    SET_PARAMS = "set_params"
    STATUS = "status"


class ControlCommand(WireModel):
    """A command from an operator (through the api) to a service; answered by `ControlReply`."""

    kind: ClassVar[str] = "control_command"

    target: Token
    action: ControlAction
    issued_by: Id = Field(description="Who asked (an operator or a service).")
    reason: str = Field(default="", max_length=1024)
    params: dict[str, Any] = Field(default_factory=dict)


class ControlReply(WireModel):
    """The answer to a `ControlCommand`: accepted or refused, with a machine-readable reason."""

    kind: ClassVar[str] = "control_reply"

    command_id: Id
    target: Token
    ok: bool
    reason: str = Field(default="", max_length=64, description="Machine-readable code when refused.")
    detail: str = Field(default="", max_length=4096)
    state: dict[str, Any] = Field(default_factory=dict)
