"""What a standby heard its leader publish, so that a successor can store a cycle its
predecessor published but died before storing.

The leader publishes a cycle's orders and decisions, then stores the cycle in the background
(off the path of the next tick). A kill -9 between the two leaves orders on the stream that the
store does not hold: execution works them and the ledger books them, but the manager's audit
(`mgr_cycles`, `mgr_decisions`, `mgr_orders`) would miss the cycle. Every replica hears the
orders, decisions and proposals; a standby keeps the last `max_cycles` cycles' worth, and when
it takes over, `unstored(...)` gives those the store lacks as records to store (published: they
were heard on NATS). A predecessor that stores late loses to them (one row per cycle id).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from hedgemesh.records.decisions import CycleRecord, DecisionRecord
from hedgemesh.wire.hedging import Decision, Proposal
from hedgemesh.wire.orders import Order

#: The trigger recorded for a cycle stored by its decider's successor.
RECORDED_BY_SUCCESSOR = "recorded_by_successor"


@dataclass
class _Heard:
    orders: dict[str, Order] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UnstoredCycle:
    """A heard cycle as `DecisionRepository.record_cycle` takes it."""

    cycle: CycleRecord
    decisions: list[DecisionRecord]
    orders: list[Order]


class PredecessorLog:
    """The leader's orders and decisions by cycle, and the proposals they decide, as heard."""

    def __init__(self, max_cycles: int = 1000) -> None:
        self.max_cycles = max_cycles
        self._cycles: OrderedDict[str, _Heard] = OrderedDict()
        self._proposals: OrderedDict[str, Proposal] = OrderedDict()

    def _cycle(self, cycle_id: str) -> _Heard:
        heard = self._cycles.get(cycle_id)
        if heard is None:
            heard = self._cycles[cycle_id] = _Heard()
            while len(self._cycles) > self.max_cycles:
                self._cycles.popitem(last=False)
        return heard

    def on_order(self, order: Order) -> None:
        self._cycle(order.cycle_id).orders[order.client_order_id] = order

    def on_decision(self, decision: Decision) -> None:
        self._cycle(decision.cycle_id).decisions[decision.id] = decision

    def on_proposal(self, proposal: Proposal) -> None:
        self._proposals[proposal.id] = proposal
        while len(self._proposals) > 4 * self.max_cycles:
            self._proposals.popitem(last=False)

    def cycle_ids(self) -> list[str]:
        return list(self._cycles)

    def unstored(
        self, before_epoch: int, stored: Callable[[str], bool], trading_state: str
    ) -> list[UnstoredCycle]:
        """The heard cycles of epochs below `before_epoch` that `stored(cycle_id)` says the
        store lacks, oldest first; forgets everything heard."""
        out = []
        for cycle_id, heard in self._cycles.items():
            orders, decisions = list(heard.orders.values()), list(heard.decisions.values())
            epochs = [o.epoch for o in orders] + [d.epoch for d in decisions]
            if not epochs or max(epochs) >= before_epoch or stored(cycle_id):
                continue
            records = [
                DecisionRecord(d, self._proposals[d.proposal_id])
                for d in decisions
                if d.proposal_id in self._proposals
            ]
            underlying = orders[0].instrument.underlying if orders else decisions[0].underlying
            cycle = CycleRecord(
                cycle_id=cycle_id,
                underlying=underlying,
                epoch=max(epochs),
                trigger=RECORDED_BY_SUCCESSOR,
                trading_state=trading_state,
                decided_at=_earliest([o.ts for o in orders] + [d.ts for d in decisions]),
                proposals=len(records),
                orders=len(orders),
            )
            out.append(UnstoredCycle(cycle, records, orders))
        self._cycles.clear()
        return out


def _earliest(times: list[datetime]) -> datetime:
    return min(times)
