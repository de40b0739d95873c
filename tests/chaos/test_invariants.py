"""The chaos invariants on a small real cluster (execution and the ledger over a real
nats-server and one store): they hold after honest work, and catch each kind of breach."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from exec_examples import order, tick
from invariants import assert_invariants, check_invariants

from hedgemesh.execution.bootstrap import build as build_execution
from hedgemesh.execution.config import ExecutionSettings
from hedgemesh.ledger.bootstrap import build as build_ledger
from hedgemesh.ledger.config import LedgerSettings
from hedgemesh.runtime.clock import EPOCH, SteppedClock
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.service import RuntimeSettings
from hedgemesh.store.db import StoreSettings, make_engine, migrate, session_factory
from hedgemesh.store.execution import ExecutionRepository
from hedgemesh.wire import ExecStatus, Side, subjects
from hedgemesh.wire.codes import TradingState
from hedgemesh.wire.orders import ExecutionReport
from hedgemesh.wire.state import TradingStatus

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def desk(nats_server, tmp_path, bus):
    """Execution and the ledger in-process on one SQLite store and one stepped clock."""
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    migrate(url)
    clock = SteppedClock()
    nats = NatsSettings(url=nats_server.url)
    services = [
        build_execution(
            ExecutionSettings(market_data_wait_s=1.0),
            store=StoreSettings(url=url),
            runtime=RuntimeSettings(instance="exec-0"),
            nats=nats,
            clock=clock,
        ),
        build_ledger(
            LedgerSettings(),
            store=StoreSettings(url=url),
            runtime=RuntimeSettings(instance="ledger-0"),
            nats=nats,
            clock=clock,
        ),
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(service.run(stop)) for service in services]
    execution = services[0].components[0]
    await asyncio.wait_for(execution.ready.wait(), 20)
    yield url, ExecutionRepository(session_factory(make_engine(url)))
    stop.set()
    await asyncio.gather(*tasks)


async def trade(bus, count: int, *, epoch: int = 7, first: int = 0) -> list:
    await bus.publish(subjects.tick("SPX"), tick())
    orders = [
        order(f"cycle-{i}", quantity=5, side=Side.BUY if i % 2 else Side.SELL, epoch=epoch,
              limit_price=5010.0 if i % 2 else 4990.0)
        for i in range(first, first + count)
    ]  # fmt: skip
    for o in orders:
        await bus.js_publish(subjects.order("SPX"), o, msg_id=o.client_order_id)
    return orders


async def test_given_honest_work_then_every_invariant_holds_with_its_counts(bus, nats_server, desk):
    url, _ = desk
    await trade(bus, 6)

    report = await assert_invariants(nats_server.url, url, check_manager=False)

    assert report.orders_on_stream == report.orders_stored == 6
    assert report.fills_on_stream == report.fills_stored == report.fills_booked >= 6
    assert report.orders_open == 0


async def test_given_an_order_id_sent_twice_past_dedup_then_it_is_caught(bus, nats_server, desk):
    url, _ = desk
    (first,) = await trade(bus, 1)
    await assert_invariants(nats_server.url, url, check_manager=False)

    await bus.js_publish(subjects.order("SPX"), first.evolve(id="resent"), msg_id="other-id")

    report = await check_invariants(nats_server.url, url, check_manager=False)
    assert f"order id twice on the stream: {first.client_order_id} (2 times)" in report.violations


async def test_given_a_fill_on_the_stream_execution_never_made_then_it_is_caught(
    bus, nats_server, desk
):
    url, repo = desk
    (first,) = await trade(bus, 1)
    await assert_invariants(nats_server.url, url, check_manager=False)
    fill = next(r for r in repo.reports(first.client_order_id) if r.is_fill)

    forged = fill.evolve(id="forged", exec_id=f"{fill.exec_id}-x", seq=99)
    await bus.js_publish(subjects.exec_report("SPX"), forged, msg_id=forged.exec_id)

    with pytest.raises(AssertionError) as failure:
        await assert_invariants(nats_server.url, url, check_manager=False, settle_s=2.0)
    text = str(failure.value)
    assert f"fill on the stream, not stored by execution: {forged.exec_id}" in text
    assert "report on the stream not in execution's store" in text


async def test_given_orders_published_while_halted_then_their_acceptance_is_caught(
    bus, nats_server, desk
):
    url, _ = desk
    kv = TypedKV(await bus.js.key_value(subjects.KV_TRADING_STATE), TradingStatus, "trading_state")
    halted = TradingStatus(state=TradingState.HALTED, changed_by="operator")
    await kv.put("desk", halted)
    during = await trade(bus, 2)
    await kv.put("desk", halted.evolve(state=TradingState.ACTIVE))
    after = await trade(bus, 1, first=2)

    with pytest.raises(AssertionError) as failure:
        await assert_invariants(nats_server.url, url, check_manager=False, settle_s=3.0)
    text = str(failure.value)
    for o in during:
        assert f"order published while HALTED was accepted: {o.client_order_id}" in text
    assert after[0].client_order_id not in text
    report = await check_invariants(nats_server.url, url, check_manager=False)
    assert report.trading_state_changes == 2
    assert len(report.violations) == 2


async def test_given_an_older_epoch_accepted_after_a_newer_one_then_the_fence_breach_is_caught(
    bus, nats_server, desk
):
    url, repo = desk
    await trade(bus, 1, epoch=9)
    await assert_invariants(nats_server.url, url, check_manager=False)

    # What a broken fence would leave: an order of epoch 8 received later, and accepted.
    stale = order("cycle-stale", quantity=5, epoch=8)
    assert repo.insert_order(stale, received_at=EPOCH + timedelta(hours=1))
    accepted = ExecutionReport(
        ts=EPOCH, client_order_id=stale.client_order_id, exec_id=f"{stale.client_order_id}-1",
        seq=1, cycle_id=stale.cycle_id, instrument=stale.instrument, side=stale.side,
        status=ExecStatus.ACCEPTED, order_quantity=5, cum_quantity=0, leaves_quantity=5,
    )  # fmt: skip
    repo.record_report(accepted)

    report = await check_invariants(nats_server.url, url, check_manager=False)
    assert any(
        v.startswith(f"order from a fenced leader accepted: {stale.client_order_id} (epoch 8")
        for v in report.violations
    ), report.summary()
    assert any(v.startswith("stored order not on the stream") for v in report.violations)
