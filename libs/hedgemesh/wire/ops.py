"""Operational messages: heartbeats, dead letters, control commands and replies."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, NonNegativeFloat, StringConstraints

from hedgemesh.wire import subjects
from hedgemesh.wire.base import (
    MAX_INT64,
    Id,
    JsonValue,
    Seq,
    Token,
    UtcDatetime,
    WireModel,
    WireValue,
)

#: NATS's default largest message (bytes); a dead letter may carry a payload up to about this.
NATS_MAX_PAYLOAD_BYTES = 1024 * 1024

_Text = Annotated[str, StringConstraints(max_length=4096)]


class Role(StrEnum):
    LEADER = "leader"
    STANDBY = "standby"
    SINGLE = "single"


class ServiceState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    DEGRADED = "degraded"
    STOPPING = "stopping"


class HedgePolicy(StrEnum):
    """An agent's hedge policy: the classical band, or a learned network (band as fallback)."""

    BAND = "band"
    LEARNED = "learned"


class PolicyStatus(WireValue):
    """The hedge policy an agent runs: the one asked for, the one that took its last decision,
    and how often the band stood in for a learned policy (and why, last time)."""

    asked: HedgePolicy
    last: HedgePolicy | None = Field(default=None, description="None: no decision yet.")
    decisions: int = Field(ge=0, le=MAX_INT64, description="Decisions asked of the policy.")
    fallbacks: int = Field(ge=0, le=MAX_INT64, description="Of them, taken by the band.")
    reason: Token | None = Field(
        default=None, description="Why the band took the last decision (missing, checksum, "
        "shape, non_finite, out_of_bounds, too_slow, invalid); None: the asked policy did.",
    )  # fmt: skip
    detail: Annotated[str, StringConstraints(max_length=500)] = ""


class ConsumerProgress(WireValue):
    """How far one durable JetStream consumer of an instance has got through its stream."""

    stream: Token
    seq: Seq = Field(description="Stream sequence of the last message it handled.")
    pending: int = Field(ge=0, le=MAX_INT64, description="Messages left behind it then.")


class Heartbeat(WireModel):
    """Liveness of one service instance, published every few seconds."""

    kind: ClassVar[str] = "heartbeat"
    subject_pattern: ClassVar[str] = subjects.ALL_HEARTBEATS

    service: Token
    instance: Token
    role: Role
    state: ServiceState
    seq: Seq = Field(description="Increases by one per heartbeat of this instance.")
    started_at: UtcDatetime
    pid: int = Field(ge=0, le=MAX_INT64, description="Operating-system process id.")
    lag_ms: NonNegativeFloat = Field(
        default=0.0,
        description="How far behind its input the instance was at worst since its last "
        "heartbeat, in milliseconds of the cluster's clock.",
    )
    epoch: Seq | None = Field(
        default=None, description="Leader fencing token (the lease's KV revision) when leading."
    )
    params_revision: Seq | None = Field(
        default=None,
        description="An agent's live parameters in force: their KV `agent_params` revision "
        "(None: its environment's settings alone).",
    )
    partitions: list[Annotated[int, Field(ge=0, le=1023)]] | None = Field(
        default=None,
        max_length=1024,
        description="A partitioned service: the partitions this instance leads (None: not "
        "partitioned).",
    )
    policy: PolicyStatus | None = Field(
        default=None, description="An agent's hedge policy in force (None: not an agent)."
    )
    consumers: dict[Token, ConsumerProgress] | None = Field(
        default=None,
        max_length=64,
        description="Its durable JetStream consumers by name: how far each has got (None: none).",
    )

    @property
    def publish_subject(self) -> str:
        return subjects.heartbeat(self.service, self.instance)


class DeadLetter(WireModel):
    """A message a consumer rejected, with the reason. Nothing rejected is lost.

    It may quote a payload of up to `MAX_PAYLOAD_BYTES` and more, so it is itself accepted up to
    `NATS_MAX_PAYLOAD_BYTES`.
    """

    kind: ClassVar[str] = "dead_letter"
    subject_pattern: ClassVar[str] = subjects.ALL_DEADLETTERS
    max_payload_bytes: ClassVar[int] = NATS_MAX_PAYLOAD_BYTES

    service: Token = Field(description="The service that rejected the message.")
    subject: str = Field(max_length=512, description="The subject the message arrived on.")
    reason: str = Field(max_length=4096, description="Why it was rejected, for a person.")
    error: str = Field(max_length=64, description="Machine-readable class of the rejection.")
    payload: str = Field(
        max_length=300_000,
        description="The raw payload as text (UTF-8, undecodable bytes escaped), maybe truncated.",
    )
    payload_size: int = Field(
        ge=0, le=MAX_INT64, description="Size of the original payload in bytes."
    )
    headers: dict[_Text, _Text] = Field(default_factory=dict, max_length=256)

    @property
    def publish_subject(self) -> str:
        return subjects.deadletter(self.service)


#: The one origin that relays operators: the api authenticates them (REST tokens) and names
#: them in `issued_by`; from any other origin the origin itself is who asked.
OPERATOR_ORIGIN = "api"


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
    subject_pattern: ClassVar[str] = subjects.ALL_CONTROL

    target: Token
    action: ControlAction
    issued_by: Id = Field(
        description="The operator the api speaks for (informational): authority and the audit "
        "come from the origin in the subject, the sender's authenticated NATS user."
    )
    reason: str = Field(default="", max_length=1024)
    params: dict[_Text, JsonValue] = Field(
        default_factory=dict, max_length=256, description="Action arguments (finite JSON)."
    )

    @property
    def publish_subject(self) -> str:
        raise LookupError(
            "a control command's subject names its sender: subject_for(origin), "
            "hedge.v1.control.<target>.<action>.<origin>"
        )

    def actor(self, origin: str) -> str:
        """Who asked, as the trail records it: the operator the api authenticated, else the
        sending service (never a name the body claims)."""
        return self.issued_by if origin == OPERATOR_ORIGIN else origin

    def subject_for(self, origin: str) -> str:
        """The subject `origin` (the sender's NATS user) sends this command on."""
        return subjects.control(self.target, self.action.value, origin)


class ControlReply(WireModel):
    """The answer to a `ControlCommand`: accepted or refused, with a machine-readable reason."""

    kind: ClassVar[str] = "control_reply"

    command_id: Id = Field(description="`id` of the command answered (its cause).")
    target: Token
    ok: bool
    reason: str = Field(
        default="", max_length=64, description="Machine-readable code when refused."
    )
    detail: str = Field(default="", max_length=4096)
    state: dict[_Text, JsonValue] = Field(
        default_factory=dict, max_length=256, description="The target's state after the command."
    )
