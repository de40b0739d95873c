"""The manager's metrics of a decided cycle (adapters/measure.py)."""

from hedgemesh.manager.adapters import measure
from hedgemesh.manager.adapters.measure import CycleMeter


def test_given_more_arrivals_than_kept_then_the_oldest_are_dropped(monkeypatch):
    monkeypatch.setattr(measure, "ARRIVALS_KEPT", 3)
    meter = CycleMeter()
    for n in range(5):
        meter.arrived(f"p{n}")
    assert list(meter._arrived) == ["p2", "p3", "p4"]


def test_given_a_decided_cycle_without_orders_then_no_order_latency_is_observed():
    meter = CycleMeter()
    before = measure.DECISION_TO_ORDER._sum.get()
    meter.decided([], [], started=1.0, routed=2.0)
    assert measure.DECISION_TO_ORDER._sum.get() == before
