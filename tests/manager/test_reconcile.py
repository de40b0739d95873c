"""On every take-over the manager reconciles its record (`mgr_orders`) with the order stream:
orders a killed leader published and never stored (nobody heard them standing by) are stored
as routed, under their cycle, once."""

# ruff: noqa: F811 (the fixtures imported from test_manager_nats are parameters here)
from __future__ import annotations

from test_manager_nats import database_url, repository, start_manager  # noqa: F401
from wire_examples import example

from hedgemesh.wire import subjects
from hedgemesh.wire.orders import Order


def _order(n: int, cycle: str) -> Order:
    order = example("order", cycle_id=cycle, epoch=3)
    assert isinstance(order, Order)
    return order.model_copy(update={"client_order_id": f"{cycle}-coid-{n}", "id": f"o-{n}"})


async def test_given_orders_only_on_the_stream_then_a_new_leader_stores_them_once(
    bus, start_manager, database_url, eventually
):
    lost = [_order(n, "SPX-lost-cycle") for n in range(3)]
    for order in lost:  # a leader published, then died before storing
        await bus.js_publish(subjects.order("SPX"), order, msg_id=order.client_order_id)
    first = await start_manager("mgr-1")
    await eventually(lambda: first.component.core.stats["reconciled_orders"] == 3)
    repo = repository(database_url)
    stored = repo.orders_of_cycle("SPX-lost-cycle")
    assert [o.client_order_id for o in stored] == sorted(o.client_order_id for o in lost)
    assert all(o.epoch == 3 for o in stored)
    assert repo.cycle("SPX-lost-cycle").trigger == "reconciled"
    await first.service.stop()
    second = await start_manager("mgr-2")  # the next take-over finds nothing missing
    await eventually(lambda: second.service.is_leader)
    await eventually(lambda: second.component.core.stats["reconciliations"] == 1)
    assert second.component.core.stats["reconciled_orders"] == 0
    assert len(repo.orders_of_cycle("SPX-lost-cycle")) == 3
