"""Gathering a cycle's proposals before it is decided.

A cycle (id `<UND>-<tick seq>`, shared by every agent that evaluated the same tick) opens with
its first proposal. It is due when every live specialist slice has proposed for it, or
`window_s` after it opened, whichever comes first. The manager's own residual-delta cycle on a
tick (`<UND>-<tick seq>-delta`, `open_for_delta`) has no proposals and is decided at once.
Once decided a cycle's id is remembered (the last `kept` ids), so a proposal
arriving later is answered `CYCLE_CLOSED`. Pure: times (real seconds) are passed in.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from hedgemesh.wire.hedging import Proposal

__all__ = ["Cycle", "Gatherer"]


@dataclass
class Cycle:
    """A cycle being gathered."""

    cycle_id: str
    underlying: str
    opened_at: float
    proposals: list[Proposal] = field(default_factory=list)
    delta_check: bool = False
    """Opened (also) by the manager's own delta band check."""

    @property
    def agents(self) -> set[str]:
        return {p.agent for p in self.proposals}

    @property
    def trigger(self) -> str:
        return "proposals" if self.proposals else "delta_band"


class Gatherer:
    """Open cycles, their due times, and the ids of the cycles already decided."""

    def __init__(self, window_s: float, kept: int = 4096) -> None:
        self.window_s = window_s
        self.kept = kept
        self.open: dict[str, Cycle] = {}
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._proposal_ids: OrderedDict[str, None] = OrderedDict()

    def is_closed(self, cycle_id: str) -> bool:
        return cycle_id in self._closed

    def seen(self, proposal_id: str) -> bool:
        """Whether this proposal id was gathered before (a duplicate delivery)."""
        return proposal_id in self._proposal_ids

    def note(self, proposal_id: str) -> None:
        """Remember a proposal id decided outside a cycle (late), so a repeat is a duplicate."""
        _remember(self._proposal_ids, proposal_id, self.kept * 8)

    def add(self, proposal: Proposal, now: float) -> Cycle:
        """Gather a proposal into its (maybe new) cycle; the caller checked it is not closed
        and not a duplicate."""
        cycle = self._cycle(proposal.cycle_id, proposal.underlying, now)
        cycle.proposals.append(proposal)
        self.note(proposal.id)
        return cycle

    def open_for_delta(self, cycle_id: str, underlying: str, now: float) -> Cycle | None:
        """Open (or mark) the cycle for the manager's own delta hedge; None if decided."""
        if cycle_id in self._closed:
            return None
        cycle = self._cycle(cycle_id, underlying, now)
        cycle.delta_check = True
        return cycle

    def _cycle(self, cycle_id: str, underlying: str, now: float) -> Cycle:
        cycle = self.open.get(cycle_id)
        if cycle is None:
            cycle = self.open[cycle_id] = Cycle(cycle_id, underlying, now)
        return cycle

    def complete(self, cycle: Cycle, live_agents: Iterable[str]) -> bool:
        """Every live specialist slice has proposed (and at least one has)."""
        live = set(live_agents)
        return bool(cycle.proposals) and bool(live) and live <= cycle.agents

    def due_at(self, cycle: Cycle) -> float:
        return cycle.opened_at + self.window_s

    def due(self, now: float) -> list[Cycle]:
        """Cycles whose window has passed, oldest first."""
        return sorted(
            (c for c in self.open.values() if now >= self.due_at(c)), key=lambda c: c.opened_at
        )

    def close(self, cycle_id: str) -> Cycle | None:
        """Take a cycle out for deciding and remember its id."""
        _remember(self._closed, cycle_id, self.kept)
        return self.open.pop(cycle_id, None)

    def forget_older_than(self, cutoff: float) -> list[Cycle]:
        """Drop open cycles opened before `cutoff` (a standby's, never decided)."""
        old = [c for c in self.open.values() if c.opened_at < cutoff]
        for c in old:
            del self.open[c.cycle_id]
        return old


def _remember(ids: OrderedDict[str, None], key: str, kept: int) -> None:
    ids[key] = None
    ids.move_to_end(key)
    while len(ids) > kept:
        ids.popitem(last=False)
