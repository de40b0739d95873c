"""The agents' capital budgets: option premium each may spend per period, re-allocated at the
end of every period toward the agent that removed the most risk per unit of premium.

Periods are aligned to multiples of `period_s` since the Unix epoch, so every replica agrees on
them. Within a period an agent's approved premium is charged against its allocation; a proposal
is scaled down to what is left (`BUDGET_EXHAUSTED` when nothing is).

Re-allocation (`reallocate`), over a pool T = Σ allocations, each agent a with floor
f_a = floor_fraction × T / n:
- an agent that spent nothing this period keeps its allocation (no evidence either way);
- the others share what they hold: target_a = f + (their pool − n_active f) × e_a / Σ e, with
  efficiency e_a = max(risk removed_a, 0) / premium spent_a (risk in limits, as the solve) and
  f the floor (lowered to their mean allocation if they hold less than their floors);
- each moves a fraction `rate` of the way: new_a = (1 − rate) × old_a + rate × target_a.
The pool is conserved, nobody falls below its floor once there, and when nobody removed any
risk the allocations stay as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["AgentBudget", "Budgets", "Reallocation", "period_start", "reallocate"]

#: Efficiency is reported per this much premium (risk removed per million).
EFFICIENCY_UNIT = 1e6
#: Less premium than this (currency) counts as nothing spent.
MIN_SPEND = 1e-6


def period_start(now: datetime, period_s: float) -> datetime:
    """The start of the period holding `now` (aligned to the Unix epoch)."""
    t = now.timestamp()
    return datetime.fromtimestamp(math.floor(t / period_s) * period_s, UTC)


@dataclass(frozen=True, slots=True)
class Reallocation:
    """The next period's allocation of one agent and why (for the store and the API)."""

    agent: str
    allocated: float
    spent: float
    risk_removed: float
    efficiency: float | None
    floor: float
    next_allocation: float
    reason: str


def reallocate(
    allocated: Mapping[str, float],
    spent: Mapping[str, float],
    removed: Mapping[str, float],
    *,
    floor_fraction: float,
    rate: float,
) -> list[Reallocation]:
    """Next period's allocations (module doc), one per agent in `allocated`, sorted by agent."""
    agents = sorted(allocated)
    if not agents:
        return []
    pool = sum(allocated.values())
    floor = floor_fraction * pool / len(agents)
    efficiency = {
        a: max(removed.get(a, 0.0), 0.0) / spent[a] for a in agents if spent.get(a, 0.0) > MIN_SPEND
    }
    active = [a for a in agents if a in efficiency]
    total_e = sum(efficiency.values())
    active_pool = sum(allocated[a] for a in active)
    if active:  # floors come out of what the active agents hold, never out of the idle ones
        floor = min(floor, active_pool / len(active))
    share_pool = active_pool - floor * len(active)
    out = []
    for a in agents:
        old = allocated[a]
        e = efficiency.get(a)
        if e is None:
            new, why = old, "kept: nothing spent this period"
        elif total_e <= 0.0:
            new, why = old, "kept: no agent removed risk this period"
        else:
            # The share first: a subnormal efficiency times the pool would underflow and lose
            # part of the pool; its ratio to the (exact) sum of subnormals does not.
            share = e / total_e
            target = floor + max(share_pool, 0.0) * share
            new = (1.0 - rate) * old + rate * target
            why = (
                f"toward {target:.6g} ({100 * share:.1f} % of the risk removed per unit "
                f"of premium among the agents that spent)"
            )
        out.append(
            Reallocation(
                agent=a,
                allocated=old,
                spent=spent.get(a, 0.0),
                risk_removed=removed.get(a, 0.0),
                efficiency=None if e is None else e * EFFICIENCY_UNIT,
                floor=floor,
                next_allocation=new,
                reason=why,
            )
        )
    return out


@dataclass
class AgentBudget:
    """One agent's budget in the current period (currency; risk in limits)."""

    allocated: float
    spent: float = 0.0
    risk_removed: float = 0.0

    @property
    def left(self) -> float:
        return max(self.allocated - self.spent, 0.0)


class Budgets:
    """Every agent's budget in the current period, and the period's roll-over."""

    def __init__(
        self,
        allocations: Mapping[str, float],
        *,
        period_s: float,
        floor_fraction: float,
        rate: float,
        now: datetime,
    ) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be > 0")
        self.period_s = period_s
        self.floor_fraction = floor_fraction
        self.rate = rate
        self.agents = {a: AgentBudget(float(v)) for a, v in sorted(allocations.items())}
        self.start = period_start(now, period_s)
        self.last: list[Reallocation] = []
        self.last_at: datetime | None = None

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.start.timestamp() + self.period_s, UTC)

    def left(self, agent: str) -> float | None:
        """Premium the agent may still spend this period; None for an agent without a budget."""
        budget = self.agents.get(agent)
        return None if budget is None else budget.left

    def charge(self, agent: str, premium: float, risk_removed: float) -> None:
        budget = self.agents.get(agent)
        if budget is not None:
            budget.spent += max(premium, 0.0)
            budget.risk_removed += risk_removed

    def restore(
        self,
        allocations: Mapping[str, float],
        spending: Mapping[str, tuple[float, float]],
        *,
        now: datetime,
    ) -> None:
        """Take over a predecessor's state: allocations (of the last closed period) and this
        period's (premium, risk removed) per agent."""
        self.start = period_start(now, self.period_s)
        for agent, budget in self.agents.items():
            budget.allocated = float(allocations.get(agent, budget.allocated))
            budget.spent, budget.risk_removed = spending.get(agent, (0.0, 0.0))

    def roll(self, now: datetime) -> tuple[datetime, datetime, list[Reallocation]] | None:
        """Close the current period if `now` is past its end: returns (start, end, the
        re-allocations) and opens the period holding `now`; None while it runs."""
        end = self.end
        if now < end:
            return None
        start = self.start
        result = reallocate(
            {a: b.allocated for a, b in self.agents.items()},
            {a: b.spent for a, b in self.agents.items()},
            {a: b.risk_removed for a, b in self.agents.items()},
            floor_fraction=self.floor_fraction,
            rate=self.rate,
        )
        for r in result:
            self.agents[r.agent] = AgentBudget(r.next_allocation)
        self.start = period_start(now, self.period_s)
        self.last, self.last_at = result, end
        return start, end, result

    def status(self) -> dict[str, object]:
        """The budgets for the `status` control reply (JSON-ready)."""
        last = {r.agent: r for r in self.last}
        pool = sum(b.allocated for b in self.agents.values())
        floor = self.floor_fraction * pool / max(len(self.agents), 1)
        return {
            "period_start": self.start.isoformat(),
            "period_end": self.end.isoformat(),
            "agents": {
                agent: {
                    "allocated": b.allocated,
                    "spent": b.spent,
                    "left": b.left,
                    "risk_removed": b.risk_removed,
                    "floor": floor,
                    "last_reallocation": None
                    if agent not in last
                    else {
                        "at": self.last_at.isoformat() if self.last_at else None,
                        "from": last[agent].allocated,
                        "to": last[agent].next_allocation,
                        "efficiency": last[agent].efficiency,
                        "reason": last[agent].reason,
                    },
                }
                for agent, b in self.agents.items()
            },
        }
