"""The manager's metrics: decisions by outcome and reason, orders routed, and the latencies from
a proposal's arrival to its decision and from a cycle's decision to its orders."""

from __future__ import annotations

import time

from hedgemesh.runtime import metrics
from hedgemesh.wire.hedging import Decision
from hedgemesh.wire.orders import Order

DECISIONS = metrics.counter(
    "decisions_total", "Decisions on proposals, by outcome and reason code.", ["outcome", "reason"]
)
ORDERS = metrics.counter("orders_routed_total", "Hedge orders published.", ["underlying"])
PROPOSAL_TO_DECISION = metrics.histogram(
    "proposal_to_decision_seconds", "From a proposal's arrival to its decision, published."
)
DECISION_TO_ORDER = metrics.histogram(
    "decision_to_order_seconds", "From a cycle's decision starting to its orders published."
)
#: Proposals whose arrival time is kept for the latency (the oldest dropped).
ARRIVALS_KEPT = 10_000


class CycleMeter:
    """Keeps each proposal's arrival time and records a decided cycle's metrics."""

    def __init__(self) -> None:
        self._arrived: dict[str, float] = {}
        """When each proposal arrived (perf_counter), for the proposal → decision latency."""

    def arrived(self, proposal_id: str) -> None:
        self._arrived[proposal_id] = time.perf_counter()
        while len(self._arrived) > ARRIVALS_KEPT:
            del self._arrived[next(iter(self._arrived))]

    def decided(
        self, orders: list[Order], decisions: list[Decision], started: float, routed: float
    ) -> None:
        """Decisions by outcome and reason, orders, and the latencies of one decided cycle."""
        now = time.perf_counter()
        for decision in decisions:
            reason = "" if decision.reason_code is None else decision.reason_code.value
            DECISIONS.labels(outcome=decision.outcome.value, reason=reason).inc()
            arrived = self._arrived.pop(decision.proposal_id, None)
            if arrived is not None:
                PROPOSAL_TO_DECISION.observe(now - arrived)
        for order in orders:
            ORDERS.labels(underlying=order.instrument.underlying).inc()
        if orders:
            DECISION_TO_ORDER.observe(routed - started)
