"""The depth an agent's own hedges took from the option books, as the venue refills it: pure.

The venue's providers refill what a sweep took with a half-life (`LadderCost.half_life_s`,
execution's option books: 30 clock seconds). An agent that sizes its next legs to the depth a
fresh ladder shows would, a tick after its last hedge, ask for contracts that are not there
yet: its IOC orders fill a part, the rest is cancelled, and the delta the manager hedged for
the whole leg is wrong by the difference. So each agent remembers what its proposals took,
per option and side (a buy sweeps the asks, a sell the bids), scaled by the manager's
decision (rejected: nothing taken), and sizes its next legs to what is back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from hedgemesh.policies.selection import LadderCost
from hedgemesh.wire.hedging import Proposal
from hedgemesh.wire.instruments import Instrument

__all__ = ["TakenDepth"]

#: Records older than this many half-lives are forgotten (less than 0.1 % still missing).
_FORGET_HALF_LIVES = 10.0


@dataclass
class _Taken:
    at: datetime
    contracts: dict[tuple[str, int], float]
    """(symbol, side) → contracts; side +1: bought from the asks, −1: sold into the bids."""


@dataclass
class TakenDepth:
    """What this agent's proposals took from each option book, by proposal id."""

    costs: LadderCost
    _records: dict[str, _Taken] = field(default_factory=dict)

    def take(self, proposal: Proposal) -> None:
        """A proposal sent (or the leader's, seen by a standby): its legs as taken at once."""
        contracts: dict[tuple[str, int], float] = {}
        for leg in proposal.legs:
            if leg.instrument.is_option and leg.quantity:
                key = (leg.instrument.symbol, 1 if leg.quantity > 0 else -1)
                contracts[key] = contracts.get(key, 0.0) + abs(leg.quantity)
        if contracts:
            self._records[proposal.id] = _Taken(proposal.ts, contracts)

    def scale(self, proposal_id: str, factor: float) -> None:
        """The manager took `factor` of the proposal (0: rejected, nothing was taken)."""
        record = self._records.get(proposal_id)
        if record is None:
            return
        if factor <= 0.0:
            del self._records[proposal_id]
            return
        for key in record.contracts:
            record.contracts[key] *= min(factor, 1.0)

    def missing(
        self, instruments: Sequence[Instrument], side: NDArray[np.float64], now: datetime
    ) -> NDArray[np.float64]:
        """Contracts per instrument (on its `side`: +1 asks, −1 bids) the books still miss of
        what this agent took, at clock time `now`."""
        self._forget(now)
        out = np.zeros(len(instruments))
        if not self._records:
            return out
        keys = zip(instruments, side, strict=True)
        index = {(inst.symbol, int(s)): k for k, (inst, s) in enumerate(keys)}
        for record in self._records.values():
            age = (now - record.at).total_seconds()
            for key, taken in record.contracts.items():
                k = index.get(key)
                if k is not None:
                    out[k] += float(self.costs.still_missing(taken, age))
        return out

    def _forget(self, now: datetime) -> None:
        horizon = _FORGET_HALF_LIVES * self.costs.half_life_s
        old = [pid for pid, r in self._records.items() if (now - r.at).total_seconds() > horizon]
        for pid in old:
            del self._records[pid]
