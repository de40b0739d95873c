"""The cluster's simulated clock, kept in KV `clock` (key `cluster`) so that every process of a
cluster — local processes, compose containers, Kubernetes pods started at different moments —
reads one accelerated time.

The record is the clock's current **segment**: at the real (Unix) instant `anchor` the simulated
time was `at`, and from then on it runs `speed` simulated seconds per real second. A change of
rate (pacing the simulated clock on the desk's lag) writes a new segment that starts where the
old one had got to (`retimed`), by compare-and-set on the key's revision, so the simulated time
never jumps: only its slope changes. `segment` counts the changes; `start` keeps the simulated
instant the cluster's clock began at. Speed 0 holds the clock: `hedgemesh up` starts it held, and
marketdata starts it at `ceiling` once the desk is ready (leaders elected, positions loaded).
`ceiling` is the speed asked for (the scenario's or `--speed`): pacing slows the clock below it
when the desk lags, never above it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from pydantic import Field

from hedgemesh.wire.base import Id, UtcDatetime, WireModel

#: The one key of KV `clock`.
CLUSTER_CLOCK_KEY = "cluster"
MAX_SPEED = 10_000.0


class ClockRecord(WireModel):
    """The value of KV `clock/cluster`: one segment of the cluster's simulated clock."""

    kind: ClassVar[str] = "clock_record"

    start: UtcDatetime = Field(description="Simulated instant the cluster's clock began at.")
    at: UtcDatetime = Field(description="Simulated time at `anchor`.")
    anchor: float = Field(gt=0.0, description="Unix time (real seconds) this segment begins.")
    speed: float = Field(
        ge=0.0, le=MAX_SPEED, description="Simulated seconds per real second (0: held)."
    )
    ceiling: float | None = Field(
        default=None,
        gt=0.0,
        le=MAX_SPEED,
        description="The speed asked for; pacing never runs the clock faster. None: `speed`.",
    )
    segment: int = Field(default=0, ge=0, description="Rate changes since the clock began.")
    changed_by: Id = Field(description="The instance or tool that wrote this segment.")
    reason: str = Field(default="", max_length=1024, description="Why, for a person.")

    @classmethod
    def begin(
        cls,
        start: datetime,
        anchor: float,
        speed: float,
        by: str,
        *,
        ceiling: float | None = None,
        reason: str = "",
    ) -> ClockRecord:
        """The first segment: simulated `start` at real `anchor`, `speed` times real time."""
        return cls(
            start=start,
            at=start,
            anchor=anchor,
            speed=speed,
            ceiling=ceiling,
            changed_by=by,
            reason=reason,
        )

    @property
    def held(self) -> bool:
        """Stopped until the desk is ready."""
        return self.speed == 0.0

    @property
    def top_speed(self) -> float:
        """The speed pacing may return to."""
        return self.ceiling if self.ceiling is not None else self.speed

    def time_at(self, unix_s: float) -> datetime:
        """The simulated time at real Unix time `unix_s` (on this segment's slope)."""
        return self.at + timedelta(seconds=(unix_s - self.anchor) * self.speed)

    def summary(self, unix_s: float) -> dict[str, object]:
        """What an operator sees of the clock at real `unix_s` (`hedgemesh status`,
        `GET /v1/desk`): the speed in force, the ceiling, whether held or paced, and why."""
        return {
            "speed": self.speed,
            "ceiling": self.top_speed,
            "held": self.held,
            "paced": not self.held and self.speed < self.top_speed,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "segment": self.segment,
            "now": self.time_at(unix_s).isoformat(),
        }

    def retimed(self, speed: float, unix_s: float, by: str, reason: str = "") -> ClockRecord:
        """The next segment: from real `unix_s` on, `speed`; continuous with this one."""
        return ClockRecord(
            start=self.start,
            at=self.time_at(unix_s),
            anchor=unix_s,
            speed=speed,
            ceiling=self.ceiling,
            segment=self.segment + 1,
            changed_by=by,
            reason=reason,
        )
