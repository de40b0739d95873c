"""Is the desk keeping up? The causes that make it `degraded`, from what the API hears: pure.

- **lag**: an acting instance (a leader, or a single one such as execution) says in its
  heartbeat it ran more than `lag_s` clock seconds behind the market (past the limits'
  `max_tick_age` the manager refuses its cycles as stale);
- **backlog**: a durable consumer left more than `pending` messages behind it on its stream;
- **stale**: at least `stale_share` of the last `window_s` real seconds' decisions (and at
  least `stale_min` of them) were rejected for stale market data or positions;
- **breach**: a limit has stayed breached for more than `breach_s` real seconds.

`DeskHealth.evaluate` returns the causes in force, by key (`lag:gamma-agent-1`); the caller
logs each one once when it appears (ERROR) and when it clears (INFO).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from hedgemesh.api.domain.views import RiskResponse
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.ops import Heartbeat, Role, ServiceState

STALE = frozenset({ReasonCode.STALE_MARKET_DATA, ReasonCode.STALE_POSITIONS})
ACTING = (Role.LEADER, Role.SINGLE)


@dataclass(frozen=True)
class HealthRules:
    """When the desk is degraded (`HEDGEMESH_API_DEGRADED_*`)."""

    lag_s: float = 30.0
    pending: int = 1000
    stale_share: float = 0.5
    stale_min: int = 5
    window_s: float = 30.0
    breach_s: float = 20.0


def breached(risk: RiskResponse) -> list[str]:
    """Every limit breached now: `SPX.max_abs_delta`, `SPX.0-30d.max_abs_vega_per_vol_point`,
    `firm.max_abs_dollar_delta`."""
    out = []
    for u in risk.underlyings:
        out += [f"{u.underlying}.{c.name}" for c in u.checks if c.breached]
        for b in u.buckets:
            out += [f"{u.underlying}.{b.bucket}.{c.name}" for c in b.checks if c.breached]
    return out + [f"firm.{c.name}" for c in risk.total.checks if c.breached]


class DeskHealth:
    """The causes of a degraded desk (see the module doc); times in real seconds."""

    def __init__(self, rules: HealthRules) -> None:
        self.rules = rules
        self._decisions: deque[tuple[float, bool]] = deque()
        self._breached_since: dict[str, float] = {}

    def on_decision(self, reason: ReasonCode | None, real: float) -> None:
        self._decisions.append((real, reason in STALE))

    def evaluate(
        self, beats: Iterable[Heartbeat], breaches: Iterable[str], real: float
    ) -> dict[str, str]:
        rules, causes = self.rules, {}
        for beat in beats:
            if beat.state is not ServiceState.READY or beat.service == "api":
                continue
            lag_s = beat.lag_ms / 1000.0
            if beat.role in ACTING and lag_s > rules.lag_s:
                causes[f"lag:{beat.instance}"] = (
                    f"{beat.instance} lags the market by {lag_s:.1f} s (limit {rules.lag_s:g} s)"
                )
            for name, consumer in (beat.consumers or {}).items():
                if consumer.pending > rules.pending:
                    causes[f"backlog:{name}"] = (
                        f"{beat.instance}'s consumer {name} is {consumer.pending} messages "
                        f"behind on {consumer.stream} (limit {rules.pending})"
                    )
        while self._decisions and self._decisions[0][0] < real - rules.window_s:
            self._decisions.popleft()
        stale = sum(1 for _, was in self._decisions if was)
        total = len(self._decisions)
        if stale >= rules.stale_min and stale >= rules.stale_share * total:
            causes["stale"] = (
                f"{stale} of {total} decisions in {rules.window_s:g} s rejected for stale data"
            )
        now_breached = set(breaches)
        self._breached_since = {
            name: self._breached_since.get(name, real) for name in sorted(now_breached)
        }
        for name, since in self._breached_since.items():
            if real - since > rules.breach_s:
                causes[f"breach:{name}"] = (
                    f"limit {name} breached for {real - since:.0f} s (limit {rules.breach_s:g} s)"
                )
        return causes
