"""Crash-only execution: whatever it was doing when it stopped or died, after a restart every
order completes once, no report is lost and none is doubled on the stream."""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from exec_examples import (
    Market,
    check_report_chain,
    exec_reports,
    final_reports,
    later,
    made_reports,
    of,
    order,
    quoted,
    ready,
    send,
    start_process,
)

from hedgemesh.store.db import make_engine, migrate, session_factory
from hedgemesh.store.execution import ExecutionRepository
from hedgemesh.wire import ExecStatus, TimeInForce, Twap, subjects

pytestmark = pytest.mark.timeout(90)


def repository(url: str) -> ExecutionRepository:
    migrate(url)
    return ExecutionRepository(session_factory(make_engine(url)))


def twap_order(cycle: str, quantity: int = 40, slices: int = 4, duration_s: float = 4.0):
    return order(
        cycle,
        quantity=quantity,
        limit_price=5010.0,
        tif=TimeInForce.GTC,
        algo=Twap(duration_s=duration_s, slices=slices),
    )


async def fills_on_stream(bus, o) -> int:
    return sum(1 for r in of(await exec_reports(bus.js), o) if r.is_fill)


async def test_given_a_restart_mid_twap_then_the_order_resumes_on_schedule_and_fills_once(
    bus, start_execution, eventually
):
    first = await start_execution()
    await quoted(bus, first, eventually)
    twap = twap_order("cycle-restart")
    await send(bus, twap)

    async def first_slice_filled():
        return await fills_on_stream(bus, twap) == 1

    await eventually(first_slice_filled)
    assert await first.close() == 0
    first.clock.advance(2.5)  # slices 1 and 2 fall due while it is down

    second = await start_execution()
    await quoted(bus, second, eventually)

    async def caught_up():
        return await fills_on_stream(bus, twap) == 2

    await eventually(caught_up)
    second.clock.advance(1.0)
    reports = of(await final_reports(bus, eventually, twap), twap)

    check_report_chain(reports, twap)
    assert [r.last_quantity for r in reports if r.is_fill] == [10, 20, 10]
    assert reports[-1].status is ExecStatus.FILLED


async def test_given_reports_stored_but_not_published_then_a_start_publishes_them_once(
    bus, start_execution, database_url, eventually
):
    repo = repository(database_url)
    buy = order("cycle-outbox", quantity=10)
    assert repo.insert_order(buy)
    engine_reports = made_reports(
        buy, (ExecStatus.ACCEPTED, 0, None), (ExecStatus.FILLED, 10, 500100), at=later(1)
    )
    for report in engine_reports:
        repo.record_report(report)
    await bus.js_publish(
        subjects.exec_report("SPX"), engine_reports[0], msg_id=engine_reports[0].exec_id
    )

    await start_execution()  # published the first, died before marking it

    reports = of(await final_reports(bus, eventually, buy), buy)
    assert reports == engine_reports
    await eventually(lambda: repo.unpublished_reports() == [])


async def test_given_an_order_stored_but_never_judged_then_a_start_works_it(
    bus, start_execution, database_url, eventually
):
    repo = repository(database_url)
    buy = order("cycle-unjudged", quantity=10)
    assert repo.insert_order(buy)  # the process died right after storing it

    run = await start_execution()
    await quoted(bus, run, eventually)

    reports = of(await final_reports(bus, eventually, buy), buy)
    check_report_chain(reports, buy)
    assert reports[-1].status is ExecStatus.FILLED


async def test_given_orders_stored_unjudged_across_a_new_epoch_then_each_meets_its_own_fence(
    bus, start_execution, database_url, eventually
):
    # The store's thread had not written their reports when the process died: the older
    # order arrived before any order of the newer epoch, so it was never stale.
    repo = repository(database_url)
    older = order("cycle-old-epoch", quantity=5, epoch=3)
    newer = order("cycle-new-epoch", quantity=5, epoch=4)
    assert repo.insert_order(older, received_at=later(0))
    assert repo.insert_order(newer, received_at=later(1))

    run = await start_execution()
    await quoted(bus, run, eventually)

    reports = await final_reports(bus, eventually, older, newer)
    assert [r.status for r in of(reports, older)][-1] is ExecStatus.FILLED
    assert [r.status for r in of(reports, newer)][-1] is ExecStatus.FILLED
    assert run.component.engine.fence == 4


async def test_given_a_fence_stored_then_a_restarted_service_still_refuses_older_epochs(
    bus, start_execution, eventually
):
    first = await start_execution()
    await quoted(bus, first, eventually)
    newer = order("cycle-e9", quantity=1, epoch=9)
    await send(bus, newer)
    await final_reports(bus, eventually, newer)
    await first.close()

    second = await start_execution()
    await quoted(bus, second, eventually)
    older = order("cycle-e8", quantity=1, epoch=8)
    await send(bus, older)

    (refused,) = of(await final_reports(bus, eventually, older), older)
    assert refused.status is ExecStatus.REJECTED
    assert refused.reason_code.value == "STALE_EPOCH"


# -- a real process, killed with SIGKILL ---------------------------------------------------------


async def test_given_execution_killed_mid_twap_then_the_restarted_process_completes_it_once(
    bus, nats_server, database_url, tmp_path, eventually
):
    twap = twap_order("cycle-kill", quantity=60, slices=6, duration_s=3.0)
    async with Market(bus):
        process = start_process(nats_server, database_url, tmp_path)
        try:
            await ready(bus, eventually)
            await send(bus, twap)

            async def some_filled():
                return await fills_on_stream(bus, twap) >= 2

            await eventually(some_filled, timeout=10)
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=5) == -signal.SIGKILL
            filled_before = await fills_on_stream(bus, twap)
            assert filled_before < 6

            process = start_process(nats_server, database_url, tmp_path)
            await ready(bus, eventually)
            reports = of(await final_reports(bus, eventually, twap), twap)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=10) == 0

    check_report_chain(reports, twap)
    assert reports[-1].status is ExecStatus.FILLED
    assert sum(r.last_quantity or 0 for r in reports) == twap.quantity
    assert max(Counter(r.exec_id for r in reports).values()) == 1  # nothing published twice
    stored = repository(database_url).reports(twap.client_order_id)
    assert stored == reports  # the stream and the store agree, report for report
