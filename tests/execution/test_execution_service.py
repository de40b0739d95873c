"""Execution over a real nats-server, run in-process on a stepped clock: orders in from
`HEDGE_ORDERS`, reports out on `HEDGE_EXEC`, the store underneath."""

from __future__ import annotations

import json

import pytest
from exec_examples import (
    CALL,
    SPX,
    UNLISTED,
    check_report_chain,
    dead_letters,
    exec_reports,
    final_reports,
    of,
    order,
    quoted,
    send,
    tick,
)

from hedgemesh.runtime.clock import SteppedClock
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.lease import Lease, LeaseRecord
from hedgemesh.runtime.streams import ensure_streams
from hedgemesh.wire import ExecStatus, Iceberg, ReasonCode, Side, TimeInForce, Twap, subjects

pytestmark = pytest.mark.timeout(60)


async def test_given_a_quoted_book_then_a_marketable_order_fills_inside_it_and_within_its_limit(
    bus, start_execution, eventually
):
    run = await start_execution()
    await quoted(bus, run, eventually)
    book = run.component.engine.quote("SPX")
    buy = order("cycle-buy", quantity=150, limit_price=book.ask_depth[1][0])
    await send(bus, buy)

    reports = of(await final_reports(bus, eventually, buy), buy)

    check_report_chain(reports, buy)
    assert reports[0].status is ExecStatus.ACCEPTED
    fills = [r for r in reports if r.is_fill]
    assert fills, "a marketable order against a quoted book fills"
    for fill in fills:
        assert book.bid < book.ask <= fill.last_price <= buy.limit_price
    touch, second = book.ask_depth[0], book.ask_depth[1]
    assert sum(f.last_quantity for f in fills) == min(buy.quantity, touch[1] + second[1])
    assert reports[-1].status in (ExecStatus.FILLED, ExecStatus.CANCELLED)
    assert reports[-1].avg_price == pytest.approx(
        sum(f.last_price * f.last_quantity for f in fills) / reports[-1].cum_quantity
    )


async def test_given_an_option_order_then_its_book_opens_around_fair_value_and_fills_it(
    bus, start_execution, eventually
):
    run = await start_execution()
    await quoted(bus, run, eventually)
    sell = order("cycle-opt", CALL, Side.SELL, 30, limit_price=1.0, tif=TimeInForce.IOC)
    await send(bus, sell)

    reports = of(await final_reports(bus, eventually, sell), sell)

    check_report_chain(reports, sell)
    book = run.component.engine.quote(CALL.symbol)
    assert book is not None
    fills = [r for r in reports if r.is_fill]
    assert fills and all(f.last_price <= book.ask for f in fills)
    assert all(f.fees == pytest.approx(f.last_quantity * 0.5) for f in fills)


async def test_given_an_order_id_sent_again_then_it_is_executed_once(
    bus, start_execution, eventually
):
    run = await start_execution()
    await quoted(bus, run, eventually)
    buy = order("cycle-dup", quantity=20)
    first = await send(bus, buy)
    again = await send(bus, buy)  # JetStream drops the repeat by its Nats-Msg-Id
    other_msg = await send(bus, buy, msg_id="another-message-id")  # only the store stops this
    await final_reports(bus, eventually, buy)

    async def handled_three():
        return run.component.stats["duplicates"] == 1

    await eventually(handled_three)
    await bus.flush()
    assert not first[0].duplicate and again[0].duplicate and not other_msg[0].duplicate
    reports = of(await exec_reports(bus.js), buy)
    check_report_chain(reports, buy)
    assert sum(r.last_quantity or 0 for r in reports) == buy.quantity
    assert run.component.stats["orders"] == 1


async def test_given_a_twap_then_every_state_change_is_reported_with_cum_plus_leaves_equal_quantity(
    bus, start_execution, eventually
):
    run = await start_execution()
    await quoted(bus, run, eventually)
    twap = order(
        "cycle-twap",
        quantity=40,
        limit_price=5010.0,
        tif=TimeInForce.DAY,
        algo=Twap(duration_s=4, slices=4),
    )
    await send(bus, twap)

    for n in range(1, 5):  # slice n-1 fires at n-1 seconds: one fill report each

        async def reported(n=n):
            return len(of(await exec_reports(bus.js), twap)) == 1 + n

        await eventually(reported)
        run.clock.advance(1.0)

    reports = of(await final_reports(bus, eventually, twap), twap)

    check_report_chain(reports, twap)
    statuses = [r.status for r in reports]
    assert statuses[0] is ExecStatus.ACCEPTED and statuses[-1] is ExecStatus.FILLED
    assert statuses.count(ExecStatus.PARTIALLY_FILLED) == 3  # one fill per slice
    assert [r.last_quantity for r in reports[1:]] == [10, 10, 10, 10]


async def test_given_an_iceberg_resting_past_the_close_then_it_expires(
    bus, start_execution, eventually
):
    run = await start_execution()
    await quoted(bus, run, eventually)
    bid = run.component.engine.quote("SPX").bid
    iceberg = order(
        "cycle-ice",
        quantity=30,
        limit_price=bid - 5,
        tif=TimeInForce.DAY,
        algo=Iceberg(display_quantity=10),
    )
    await send(bus, iceberg)
    await eventually(lambda: iceberg.client_order_id in run.component.engine.venue.working)
    resting = run.component.engine.quote("SPX").bid_depth
    assert (bid - 5, 10) in resting  # only the display shows

    run.clock.advance(7 * 3600)  # past 21:00 UTC

    reports = of(await final_reports(bus, eventually, iceberg), iceberg)
    assert [r.status for r in reports] == [ExecStatus.ACCEPTED, ExecStatus.EXPIRED]
    assert reports[-1].reason_code is ReasonCode.TIME_IN_FORCE


async def test_given_a_resting_order_when_fair_value_moves_through_it_then_it_is_filled(
    bus, start_execution, eventually
):
    run = await start_execution()
    await quoted(bus, run, eventually)
    bid = run.component.engine.quote("SPX").bid
    resting = order("cycle-rest", quantity=5, limit_price=bid - 10, tif=TimeInForce.GTC)
    await send(bus, resting)
    await eventually(lambda: resting.client_order_id in run.component.engine.venue.working)

    await bus.publish(subjects.tick("SPX"), tick(price=bid - 30, seq=2))

    reports = of(await final_reports(bus, eventually, resting), resting)
    check_report_chain(reports, resting)
    assert reports[-1].status is ExecStatus.FILLED
    assert reports[-1].last_price == resting.limit_price  # picked off at its own price


async def test_given_an_order_from_an_older_epoch_then_it_is_refused_stale_epoch(
    bus, start_execution, eventually
):
    run = await start_execution()
    await quoted(bus, run, eventually)
    new_leader = order("cycle-new", quantity=1, epoch=9)
    old_leader = order("cycle-old", quantity=1, epoch=8)
    await send(bus, new_leader, old_leader)

    reports = await final_reports(bus, eventually, new_leader, old_leader)

    assert of(reports, new_leader)[-1].status is ExecStatus.FILLED
    (refused,) = of(reports, old_leader)
    assert refused.status is ExecStatus.REJECTED and refused.reason_code is ReasonCode.STALE_EPOCH
    assert run.component.engine.fence == 9


async def test_given_the_manager_lease_changes_hands_then_the_old_leaders_order_is_refused_first(
    bus, start_execution, eventually
):
    """The deposed leader's order arrives before any order of its successor: the fence already
    follows the lease in KV, so it is refused."""
    buckets = await ensure_streams(bus.js)
    leases = TypedKV(buckets[subjects.KV_LEASES], LeaseRecord, subjects.KV_LEASES)
    clock = SteppedClock()
    old = Lease(leases, "manager", "manager-1", 2.0, clock=clock)
    new = Lease(leases, "manager", "manager-2", 2.0, clock=clock)
    assert await old.step()
    old_epoch = old.epoch
    assert old_epoch is not None
    run = await start_execution(lease_poll_real_s=0.02)
    await quoted(bus, run, eventually)
    await eventually(lambda: run.component.stats["lease_polls"] > 0)

    clock.advance(3.0)  # the old leader paused past its lease; the standby takes it
    assert await new.step()
    await eventually(lambda: run.component.engine.fence > old_epoch)
    late = order("cycle-late", quantity=1, epoch=old_epoch)
    await send(bus, late)

    (refused,) = of(await final_reports(bus, eventually, late), late)
    assert refused.status is ExecStatus.REJECTED and refused.reason_code is ReasonCode.STALE_EPOCH
    assert new.epoch is not None and run.component.engine.fence <= new.epoch  # it may trade


async def test_given_an_unknown_instrument_then_it_is_rejected_with_the_reason(
    bus, start_execution, eventually
):
    run = await start_execution()
    await quoted(bus, run, eventually)
    unlisted = order("cycle-unlisted", UNLISTED, quantity=1, limit_price=100.0)
    no_market = order("cycle-zzz", instrument=SPX.model_copy(update={"underlying": "ZZZ"}))
    await send(bus, unlisted, no_market)
    await eventually(lambda: len(run.component.engine.orders) == 1)  # ZZZ waits for data

    run.clock.advance(1.0)  # market_data_wait_s

    reports = await final_reports(bus, eventually, unlisted, no_market)
    for o, text in ((unlisted, "expiry not listed"), (no_market, "no market data for ZZZ")):
        (rejected,) = of(reports, o)
        assert rejected.status is ExecStatus.REJECTED
        assert rejected.reason_code is ReasonCode.UNKNOWN_INSTRUMENT
        assert text in rejected.text


async def test_given_a_malformed_order_then_it_is_dead_lettered_and_the_next_order_is_served(
    bus, nats_client, start_execution, eventually
):
    run = await start_execution()
    await quoted(bus, run, eventually)
    await nats_client.jetstream().publish(subjects.order("SPX"), b'{"client_order_id": 1')
    negative = order("cycle-bad").model_dump(mode="json") | {"quantity": -5}
    await nats_client.jetstream().publish(subjects.order("SPX"), json.dumps(negative).encode())
    good = order("cycle-good", quantity=3)
    await send(bus, good)

    reports = await final_reports(bus, eventually, good)

    assert of(reports, good)[-1].status is ExecStatus.FILLED

    async def two_dead_letters():
        return len(await dead_letters(bus.js)) == 2

    await eventually(two_dead_letters)
    errors = sorted(d.error for d in await dead_letters(bus.js))
    assert errors == ["INVALID_JSON", "INVALID_MESSAGE"]
    assert run.component.stats["orders"] == 1
