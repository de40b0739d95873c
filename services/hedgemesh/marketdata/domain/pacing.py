"""Pacing the simulated clock on the desk's lag, and when the desk is ready to start it: pure.

The desk's lag is what its acting instances (leaders, and single instances such as execution)
say in their heartbeats: how far behind the market's ticks they were at worst, in seconds of the
cluster's clock. A simulated clock never runs ahead of the desk: `Pacer.decide` slows it when
the worst lag passes `PaceRules.lag_s` (in proportion, at once) and speeds it up again by steps
while the lag stays under half of that, never above the speed asked for (`ceiling`). The lag is
measured in clock seconds because that is what goes stale: a manager refuses a tick older than
the limits' `max_tick_age` (30 clock seconds by default), however fast the clock runs.

`missing(...)` says what the desk still lacks before the clock may start: an acting instance of
every service of the desk, ready, and the ledger through the initial trades.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hedgemesh.wire import subjects
from hedgemesh.wire.ops import Heartbeat, Role, ServiceState

#: Instances whose lag paces the clock: the ones that act (a standby's work is not on the path).
ACTING = (Role.LEADER, Role.SINGLE)


@dataclass(frozen=True)
class PaceRules:
    """How pacing reacts (`HEDGEMESH_MARKETDATA_PACE_*`)."""

    lag_s: float = 10.0
    """The desk's worst lag, in clock seconds, that pacing holds it under."""
    floor: float = 1.0
    """Never slower than this (simulated seconds per real second)."""
    step_up: float = 1.25
    """Speed-up factor per step while the lag is under half of `lag_s`."""
    settle_s: float = 4.0
    """Real seconds after a change before the next: heartbeats measured at the old speed pass."""
    min_change: float = 0.05
    """Relative changes smaller than this are not worth a new segment."""


@dataclass(frozen=True, slots=True)
class Lag:
    """One acting instance's worst lag, from its heartbeat."""

    instance: str
    service: str
    lag_s: float

    def __str__(self) -> str:
        return f"{self.instance} {self.lag_s:.1f} s behind"


@dataclass(frozen=True, slots=True)
class Retime:
    """Run the clock at `speed` from now on, for `reason`; `slower`: a slow-down."""

    speed: float
    reason: str
    slower: bool


def acting_lags(beats: Iterable[Heartbeat], ignore: Iterable[str] = ()) -> list[Lag]:
    """The lag of every acting, ready instance among `beats`, except the `ignore`d services."""
    skip = set(ignore)
    return [
        Lag(b.instance, b.service, b.lag_ms / 1000.0)
        for b in beats
        if b.role in ACTING and b.state is ServiceState.READY and b.service not in skip
    ]


class Pacer:
    """Decides the clock's speed from the desk's lags (see the module doc)."""

    def __init__(self, rules: PaceRules, ceiling: float, speed: float, now: float) -> None:
        self.rules = rules
        self.ceiling = ceiling
        self.speed = speed
        self._changed_at = now

    @property
    def enabled(self) -> bool:
        """A clock at real time or slower is a live feed's: it cannot be slowed, only degraded."""
        return self.ceiling > max(1.0, self.rules.floor)

    def decide(self, lags: list[Lag], now: float) -> Retime | None:
        """A new speed, or None to keep this one; `now` in real seconds."""
        if not self.enabled or not lags or now - self._changed_at < self.rules.settle_s:
            return None
        worst = max(lags, key=lambda lag: lag.lag_s)
        rules = self.rules
        if worst.lag_s > rules.lag_s:
            # In proportion to the excess, with a margin, at most a quarter of the speed at once.
            target = max(rules.floor, self.speed * max(0.25, 0.8 * rules.lag_s / worst.lag_s))
            reason = f"the desk lags: {worst}, over the pacing lag of {rules.lag_s:g} s"
        elif worst.lag_s < rules.lag_s / 2 and self.speed < self.ceiling:
            target = min(self.ceiling, self.speed * rules.step_up)
            reason = f"the desk keeps up: at most {worst.lag_s:.1f} s behind"
        else:
            return None
        if target != self.ceiling and abs(target - self.speed) < rules.min_change * self.speed:
            return None
        slower = target < self.speed
        self.speed, self._changed_at = target, now
        return Retime(target, reason, slower)

    def followed(self, speed: float, now: float) -> None:
        """Someone else (an operator, a restarted marketdata) set the speed."""
        if speed != self.speed:
            self.speed, self._changed_at = speed, now


def missing(
    beats: Mapping[str, Heartbeat], desk: Iterable[str], ledger: str, trades_seq: int
) -> list[str]:
    """What the desk lacks before the clock may start (empty: ready): each service of `desk`
    with an acting, ready instance, and `ledger` through stream sequence `trades_seq` of the
    client trades (the initial positions)."""
    lacking = []
    for service in desk:
        acting = [
            b
            for b in beats.values()
            if b.service == service and b.role in ACTING and b.state is ServiceState.READY
        ]
        if not acting:
            lacking.append(f"no ready {service} leader")
        elif service == ledger and trades_seq > 0:
            done = max(
                (
                    c.seq
                    for b in acting
                    for c in (b.consumers or {}).values()
                    if c.stream == subjects.STREAM_TRADES
                ),
                default=0,
            )
            if done < trades_seq:
                lacking.append(f"{ledger} has booked client trades to {done} of {trades_seq}")
    return lacking
