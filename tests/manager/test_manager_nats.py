"""The manager over a real nats-server (and a SQLite store): proposals in, decisions and orders
out, control commands, live limits, leadership."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from manager_examples import SPX, limits, option, proposal, snapshot
from manager_examples import market as first_market
from manager_examples import report as report_of

from hedgemesh.manager.adapters.component import ManagerComponent
from hedgemesh.manager.bootstrap import build
from hedgemesh.manager.config import ManagerSettings
from hedgemesh.manager.domain.engine import decision_id
from hedgemesh.runtime.bus import Bus
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.server import NatsServer
from hedgemesh.runtime.service import RuntimeSettings, Service
from hedgemesh.runtime.streams import ensure_streams
from hedgemesh.store.db import StoreSettings, make_engine, migrate, session_factory
from hedgemesh.store.decisions import CycleRecord, DecisionRecord, DecisionRepository
from hedgemesh.wire import (
    ControlAction,
    ControlCommand,
    ControlReply,
    Decision,
    DecisionOutcome,
    ExecStatus,
    Heartbeat,
    Instrument,
    MarketableLimit,
    Order,
    OrderType,
    Proposal,
    ReasonCode,
    RiskLimits,
    Role,
    ServiceState,
    Side,
    TimeInForce,
    TradingState,
    TradingStatus,
    client_order_id,
    subjects,
)

pytestmark = pytest.mark.timeout(60)

#: Options listed a week out from today (the market is published at the real time).
TODAY = datetime.now(UTC)
CALL_7 = option(7, 5000, origin=TODAY)
PUT_7 = option(7, 5000, "put", origin=TODAY)

STRADDLE = [(CALL_7, -300), (PUT_7, -300)]


class Manager:
    """A manager replica started in-process, and what it shares with the test."""

    def __init__(self, service: Service) -> None:
        self.service = service

    @property
    def component(self) -> ManagerComponent:
        component = self.service.components[0]
        assert isinstance(component, ManagerComponent)
        return component


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'manager.db'}"


@pytest.fixture
async def start_manager(
    nats_server: NatsServer, database_url: str
) -> AsyncIterator[Callable[..., object]]:
    started: list[Service] = []

    async def start(
        instance: str = "mgr-1", database: str | None = None, **changes: object
    ) -> Manager:
        values: dict = {
            "scenario": None,
            "agents": ("gamma-agent", "vega-agent"),
            "gather_window_real_s": 0.05,
            "degrade_when_slice_down": False,
            "kv_poll_real_s": 0.05,
            "timer_real_s": 0.05,
            "default_budget": 1e9,
        }
        values.update(changes)
        service = build(
            ManagerSettings(**values),
            store=StoreSettings(url=database or database_url),
            runtime=RuntimeSettings(instance=instance, lease_ttl_s=1.0, heartbeat_interval_s=0.2),
            nats=NatsSettings(url=nats_server.url, name=instance),
        )
        await service.start()
        started.append(service)
        return Manager(service)

    yield start
    for service in reversed(started):
        with contextlib.suppress(Exception):
            await service.stop()


async def seed(bus: Bus, *, positions=STRADDLE, **limit_changes) -> None:
    """Limits in KV, then the market and the book for SPX (timestamps now). The delta limit
    is wide unless a test sets it: no hedge of the manager's own gets in the way."""
    kv = await kv_of(bus, subjects.KV_LIMITS, RiskLimits)
    await kv.put("SPX", limits(**{"max_abs_delta": 1e6, **limit_changes}))
    await publish_market(bus)
    await bus.publish(subjects.positions("SPX"), snapshot(positions))


async def publish_market(bus: Bus, seq: int = 0) -> None:
    surfaces, ticks = first_market(datetime.now(UTC))
    for surface in surfaces:
        await bus.publish(subjects.surface("SPX"), surface)
    for tick in ticks:
        await bus.publish(subjects.tick("SPX"), tick.model_copy(update={"seq": seq}))


async def ready(manager: Manager, eventually) -> None:
    engine = manager.component.core.engine
    assert engine is not None
    await eventually(lambda: engine.book.positions_seq("SPX") and engine.limits.get("SPX"))
    await eventually(lambda: "SPX" in engine.book.underlyings)


class Capture:
    """Every decision and order seen on NATS (orders with their Nats-Msg-Id)."""

    def __init__(self) -> None:
        self.decisions: list[Decision] = []
        self.orders: list[tuple[str, Order]] = []

    async def attach(self, nats_client) -> Capture:
        async def on_decision(msg) -> None:
            self.decisions.append(Decision.from_json(msg.data))

        async def on_order(msg) -> None:
            self.orders.append((msg.headers.get("Nats-Msg-Id", ""), Order.from_json(msg.data)))

        await nats_client.subscribe(subjects.ALL_DECISIONS, cb=on_decision)
        await nats_client.subscribe(subjects.ALL_ORDERS, cb=on_order)
        await nats_client.flush()
        return self


async def send(bus: Bus, p: Proposal) -> Proposal:
    await bus.publish(subjects.proposal(p.agent), p)
    return p


async def stream_orders(bus: Bus) -> list[tuple[str, Order]]:
    """The orders stored in HEDGE_ORDERS with their message ids."""
    info = await bus.js.stream_info(subjects.STREAM_ORDERS)
    out = []
    if not info.state.messages:
        return out
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await bus.js.get_msg(subjects.STREAM_ORDERS, seq)
        out.append(((msg.headers or {}).get("Nats-Msg-Id", ""), Order.from_json(msg.data or b"")))
    return out


async def kv_of(bus: Bus, bucket: str, model: type) -> TypedKV:
    """A typed view of a declared bucket, as the API and the agents have it."""
    return TypedKV(await bus.js.key_value(bucket), model, bucket)


async def command(bus: Bus, action: ControlAction, **fields: object) -> ControlReply:
    """A control command to the manager, from the API."""
    fields.setdefault("issued_by", "ann")
    return await bus.command(ControlCommand(target="manager", action=action, **fields))


def repository(url: str) -> DecisionRepository:
    return DecisionRepository(session_factory(make_engine(url)))


async def test_given_proposals_then_decisions_and_orders_with_ids_and_epoch(
    bus, nats_client, start_manager, database_url, eventually
):
    capture = await Capture().attach(nats_client)
    manager = await start_manager()
    await seed(bus)
    await ready(manager, eventually)
    epoch = manager.service.epoch
    assert epoch is not None
    gamma = await send(bus, proposal([(CALL_7, 100), (PUT_7, 100)], cycle="SPX-0"))
    vega = await send(bus, proposal([(CALL_7, 20)], agent="vega-agent", cycle="SPX-0"))

    await eventually(lambda: len(capture.decisions) == 2)
    assert {d.proposal_id for d in capture.decisions} == {gamma.id, vega.id}
    assert all(d.epoch == epoch for d in capture.decisions)
    repo = repository(database_url)
    await eventually(lambda: repo.has_cycle("SPX-0"))
    routed = repo.orders_of_cycle("SPX-0")
    assert {r.decision.proposal_id for r in repo.decisions(cycle_id="SPX-0")} == {gamma.id, vega.id}

    async def all_stored():
        return len(found := await stream_orders(bus)) == len(routed) and found

    stored = await eventually(all_stored)
    assert sorted(m for m, _ in stored) == sorted(o.client_order_id for o in routed)
    for msg_id, order in stored:
        assert msg_id == order.client_order_id
        assert order.epoch == epoch and order.cycle_id == "SPX-0"
    assert {o.instrument for _, o in stored} >= {CALL_7, PUT_7}
    assert repo.unpublished_orders() == [] and repo.unpublished_decisions() == []


async def test_given_a_proposal_after_its_cycle_then_it_is_rejected_cycle_closed(
    bus, nats_client, start_manager, eventually
):
    capture = await Capture().attach(nats_client)
    manager = await start_manager()
    await seed(bus)
    await ready(manager, eventually)
    await send(bus, proposal([(CALL_7, 10)], cycle="SPX-0"))
    await eventually(lambda: len(capture.decisions) == 1)
    late = await send(bus, proposal([(PUT_7, 10)], agent="vega-agent", cycle="SPX-0"))
    await send(bus, late)  # a duplicate delivery: still one decision
    await eventually(lambda: len(capture.decisions) == 2)
    assert capture.decisions[1].proposal_id == late.id
    assert capture.decisions[1].reason_code is ReasonCode.CYCLE_CLOSED
    # The duplicate may be handled after the decision is seen: wait for it to be counted.
    await eventually(lambda: manager.component.core.stats["duplicate_proposals"] == 1)


async def test_given_halt_by_control_then_proposals_are_rejected_and_nothing_routed(
    bus, nats_client, start_manager, eventually
):
    capture = await Capture().attach(nats_client)
    manager = await start_manager()
    await seed(bus)
    await ready(manager, eventually)
    reply = await command(bus, ControlAction.HALT, issued_by="ann", reason="ops")
    assert reply.ok, reply.detail
    assert reply.state["trading_state"]["state"] == "HALTED"
    kv = await kv_of(bus, subjects.KV_TRADING_STATE, TradingStatus)
    held = await kv.get("desk")
    assert held is not None and held.value.state is TradingState.HALTED
    assert held.value.causation_id == reply.command_id
    await send(bus, proposal([(CALL_7, 100)], cycle="SPX-0"))
    await publish_market(bus, seq=1)  # a tick: no own delta hedge either
    await eventually(lambda: len(capture.decisions) == 1)
    assert capture.decisions[0].reason_code is ReasonCode.TRADING_HALTED
    assert capture.orders == []

    resumed = await command(bus, ControlAction.RESUME, issued_by="ann")
    assert resumed.ok and resumed.state["trading_state"]["state"] == "ACTIVE"
    await send(bus, proposal([(CALL_7, 100)], cycle="SPX-2"))
    await eventually(lambda: capture.orders)


async def test_given_set_limit_by_control_or_in_kv_then_it_applies_live(
    bus, nats_client, start_manager, eventually
):
    capture = await Capture().attach(nats_client)
    manager = await start_manager()
    await seed(bus)
    await ready(manager, eventually)
    reply = await command(
        bus, ControlAction.SET_LIMIT, params={"name": "SPX", "limits": {"max_order_quantity": 10}}
    )
    assert reply.ok, reply.detail
    assert reply.state["limits"]["underlyings"]["SPX"]["max_order_quantity"] == 10
    await send(bus, proposal([(CALL_7, 200)], cycle="SPX-0"))  # at most 10 orders of 10
    await eventually(lambda: capture.decisions)
    assert capture.decisions[0].reason_code is ReasonCode.QUANTITY_EXCEEDS_MAXIMUM
    assert all(o.quantity <= 10 for _, o in capture.orders)

    # The API changes KV directly (compare-and-set); the manager follows within its poll.
    kv = await kv_of(bus, subjects.KV_LIMITS, RiskLimits)
    held = await kv.get("SPX")
    assert held is not None
    await kv.update(
        "SPX", held.value.model_copy(update={"max_order_quantity": 7}), last=held.revision
    )
    engine = manager.component.core.engine
    await eventually(lambda: engine.limits.get("SPX").max_order_quantity == 7)

    bad = await command(
        bus, ControlAction.SET_LIMIT, params={"name": "SPX", "limits": {"price_collar": 7.0}}
    )
    assert not bad.ok and bad.reason == "INVALID_MESSAGE" and "price_collar" in bad.detail
    unknown = await command(
        bus, ControlAction.SET_LIMIT, params={"name": "SPX", "limits": {"max_vanna": 1}}
    )
    assert not unknown.ok and unknown.reason == "INVALID_REQUEST"


async def test_given_a_status_command_then_the_reply_carries_the_managers_state(
    bus, start_manager, eventually
):
    manager = await start_manager(agents=("gamma-agent",))
    await seed(bus)
    await ready(manager, eventually)
    reply = await command(bus, ControlAction.STATUS, issued_by="api")
    assert reply.ok
    state = reply.state
    assert state["role"] == "leader" and state["epoch"] == manager.service.epoch
    assert state["trading_state"]["state"] == "ACTIVE"
    assert set(state["budgets"]["agents"]) == {"gamma-agent"}
    assert state["budgets"]["agents"]["gamma-agent"]["allocated"] == 1e9
    assert state["slices"]["gamma-agent"]["live"] is False
    assert state["limits"]["underlyings"]["SPX"]["max_abs_gamma"] == 50.0
    assert state["limits"]["revision"] > 0
    json.dumps(state)  # plain JSON
    unsupported = await command(bus, ControlAction.SET_PARAMS, issued_by="api")
    assert not unsupported.ok and unsupported.reason == "UNSUPPORTED_ACTION"


async def test_given_a_tick_with_delta_outside_the_band_then_the_manager_hedges_it_alone(
    bus, nats_client, start_manager, eventually
):
    capture = await Capture().attach(nats_client)
    manager = await start_manager()
    await seed(bus, positions=[(CALL_7, -30)], max_abs_delta=1000.0)
    await ready(manager, eventually)
    await publish_market(bus, seq=1)  # the first tick may have come before the positions
    await eventually(lambda: capture.orders)
    (msg_id, order), *_ = capture.orders
    assert order.instrument == SPX and order.cycle_id in ("SPX-0-delta", "SPX-1-delta")
    assert order.decision_ids == [f"{order.cycle_id}:delta"]
    assert msg_id == order.client_order_id
    assert capture.decisions == []


async def test_given_a_trade_booked_between_ticks_then_its_delta_is_hedged_before_the_next(
    bus, nats_client, start_manager, eventually
):
    capture = await Capture().attach(nats_client)
    manager = await start_manager()
    await seed(bus, positions=[(CALL_7, -5)], max_abs_delta=1000.0)  # about −260: in the band
    await ready(manager, eventually)
    await publish_market(bus, seq=1)
    engine = manager.component.core.engine
    await eventually(lambda: engine.book.tick("SPX").seq == 1)
    assert capture.orders == []

    # A client buys 25 more calls from the desk: the ledger's snapshot, no tick.
    booked = snapshot([(CALL_7, -30)]).model_copy(update={"as_of_seq": 2, "causation_id": "t-9"})
    await bus.publish(subjects.positions("SPX"), booked)
    await eventually(lambda: capture.orders)
    (_, order), *_ = capture.orders
    assert order.instrument == SPX and order.side is Side.BUY
    assert order.cycle_id == "SPX-1-delta-r1"  # a recheck on the tick of seq 1


@pytest.mark.parametrize("filled", [True, False], ids=["filled", "cancelled"])
async def test_given_an_option_order_reported_then_the_delta_of_what_filled_is_hedged_at_once(
    bus, nats_client, start_manager, eventually, filled
):
    capture = await Capture().attach(nats_client)
    manager = await start_manager()
    await seed(bus, positions=STRADDLE, max_abs_delta=4000.0)  # delta −1,200; band 2,000
    await ready(manager, eventually)
    # The gamma hedge: calls bought, the underlying sold against their delta, as if filled.
    await send(bus, proposal([(CALL_7, 100)], cycle="SPX-0"))
    await eventually(lambda: len(capture.orders) == 2)
    by = {o.instrument: o for _, o in capture.orders}
    assert by[SPX].side is Side.SELL
    call, hedge = by[CALL_7], by[SPX]
    for order in (call, hedge):
        fills = filled or order is hedge
        last = order.quantity if fills else None
        end = ExecStatus.FILLED if fills else ExecStatus.CANCELLED
        report = report_of(order, f"r-{order.client_order_id}", end, last or 0, last)
        await bus.publish(subjects.exec_report("SPX"), report)
    if filled:  # as decided: nothing more to do
        with contextlib.suppress(AssertionError):
            await eventually(lambda: len(capture.orders) > 2, timeout=0.5)
        assert len(capture.orders) == 2
    else:  # the calls did not come: the delta sold against them is bought back, to flat
        await eventually(lambda: len(capture.orders) > 2)
        back = [o for _, o in capture.orders[2:]]
        assert all(o.instrument == SPX and o.side is Side.BUY for o in back)
        engine = manager.component.core.engine
        await eventually(lambda: len(engine.inflight.working("SPX")) == 1)
        assert abs(engine.greeks(datetime.now(UTC))["SPX"][0]) <= 1.0


async def test_given_two_replicas_then_only_the_leader_routes_and_the_standby_takes_over(
    bus, nats_client, start_manager, eventually
):
    capture = await Capture().attach(nats_client)
    first = await start_manager("mgr-1")
    second = await start_manager("mgr-2")
    await seed(bus)
    await ready(first, eventually)
    await ready(second, eventually)
    leader, standby = (first, second) if first.service.is_leader else (second, first)
    assert not standby.service.is_leader
    await send(bus, proposal([(CALL_7, 100)], cycle="SPX-0"))
    await eventually(lambda: capture.decisions and capture.orders)
    assert len(capture.decisions) == 1
    epochs = {o.epoch for _, o in capture.orders}
    assert epochs == {leader.service.epoch}
    assert standby.component.core.stats["cycles"] == 0
    # Warm: it gathered the proposal too, and closed the cycle when the decision went by.
    assert standby.component.core.stats["proposals"] == 1
    await eventually(lambda: "SPX-0" not in standby.component.core.gatherer.open)
    reply = await command(bus, ControlAction.STATUS, issued_by="api")
    assert reply.state["instance"] == leader.service.instance

    old_epoch = leader.service.epoch
    await leader.service.stop()  # releases the lease: the standby leads at its next step
    await eventually(lambda: standby.component.is_leader, timeout=5)
    assert standby.service.epoch is not None and standby.service.epoch > old_epoch
    await publish_market(bus, seq=5)
    await send(bus, proposal([(PUT_7, 100)], cycle="SPX-5"))
    await eventually(lambda: any(o.epoch == standby.service.epoch for _, o in capture.orders))
    await eventually(lambda: len(capture.decisions) == 2)  # orders go out before decisions
    reply = await command(bus, ControlAction.STATUS, issued_by="api")
    assert reply.state["instance"] == standby.service.instance


async def test_given_a_slice_without_a_leader_then_the_manager_reduces_until_it_returns(
    bus, start_manager, eventually
):
    manager = await start_manager(
        agents=("gamma-agent",), degrade_when_slice_down=True, startup_grace_real_s=0.0,
        agent_timeout_real_s=0.5,
    )  # fmt: skip
    engine = manager.component.core.engine
    await eventually(lambda: engine.trading.state is TradingState.REDUCING)
    assert "gamma-agent" in engine.trading.reason
    beat = Heartbeat(
        service="gamma-agent",
        instance="g-1",
        role=Role.LEADER,
        state=ServiceState.READY,
        seq=1,
        started_at=datetime.now(UTC),
        pid=1,
    )
    await bus.publish(subjects.heartbeat("gamma-agent", "g-1"), beat)
    await eventually(lambda: engine.trading.state is TradingState.ACTIVE)
    kv = await kv_of(bus, subjects.KV_TRADING_STATE, TradingStatus)
    held = await kv.get("desk")
    assert held is not None and held.value.state is TradingState.ACTIVE


async def test_given_a_scenario_with_limits_then_kv_is_seeded_without_overwriting(
    bus, start_manager, eventually
):
    from hedgemesh.scenario import DEFAULT_SCENARIO
    from hedgemesh.wire import FirmLimits

    kv = await kv_of(bus, subjects.KV_LIMITS, RiskLimits)
    await kv.put("NDX", limits(underlying="NDX", max_abs_gamma=1.5, changed_by="ops"))
    manager = await start_manager(scenario=DEFAULT_SCENARIO)
    spx = await kv.get("SPX")
    ndx = await kv.get("NDX")
    assert spx is not None and spx.value.max_abs_gamma == 120.0
    assert ndx is not None and ndx.value.changed_by == "ops"  # an operator's value stays
    firm = await kv_of(bus, subjects.KV_LIMITS, FirmLimits)
    held = await firm.get("firm")
    assert held is not None and held.value.max_abs_vega_per_vol_point == 2.5e5
    budgets = manager.component.core.engine.budgets
    assert set(budgets.agents) == {"gamma-agent", "vega-agent"}
    await eventually(lambda: manager.component.core.engine.limits.get("NDX") is not None)
    assert manager.component.core.engine.limits.get("NDX").max_abs_gamma == 1.5
    assert Instrument.spot("NDX").underlying == "NDX"


async def test_given_a_cycle_decided_again_after_a_failover_then_jetstream_drops_the_repeats(
    bus, nats_client, start_manager, tmp_path, eventually
):
    capture = await Capture().attach(nats_client)
    first = await start_manager("mgr-1")
    await seed(bus)
    await ready(first, eventually)
    proposals = [
        proposal([(CALL_7, 100), (PUT_7, 100)], cycle="SPX-0", pid="again-1"),
        proposal([(CALL_7, 20)], agent="vega-agent", cycle="SPX-0", pid="again-2"),
    ]
    for p in proposals:
        await send(bus, p)
    await eventually(lambda: len(capture.decisions) == 2)
    before = await stream_orders(bus)
    assert before
    await first.service.stop()

    # A successor that never saw the cycle (its own store) decides the same proposals again.
    second = await start_manager("mgr-2", database=f"sqlite:///{tmp_path / 'other.db'}")
    await eventually(lambda: second.component.is_leader)
    await seed(bus)
    await ready(second, eventually)
    for p in proposals:
        await send(bus, p)
    await eventually(lambda: len(capture.decisions) == 4)
    await eventually(lambda: second.component.core.stats["duplicate_orders"] == len(before))
    after = await stream_orders(bus)
    assert sorted(m for m, _ in after) == sorted(m for m, _ in before)


def _store_unpublished_cycle(database_url: str, age_s: float = 0.0):
    """A predecessor (epoch 1) stored a cycle `age_s` ago and died before publishing it: the
    repository, its order and its decision."""
    migrate(database_url)
    pending = proposal([(CALL_7, 5)], cycle="SPX-9", pid="orphan")
    orphan = Order(
        id="orphan-e1",
        client_order_id=client_order_id("SPX-9", CALL_7),
        instrument=CALL_7,
        side=Side.BUY,
        quantity=5,
        order_type=OrderType.LIMIT,
        limit_price=100.0,
        time_in_force=TimeInForce.IOC,
        algo=MarketableLimit(),
        cycle_id="SPX-9",
        epoch=1,
        decision_ids=[decision_id("orphan")],
        ts=datetime.now(UTC) - timedelta(seconds=age_s),
    )
    decision = Decision(
        id=decision_id("orphan"),
        proposal_id="orphan",
        agent="gamma-agent",
        underlying="SPX",
        cycle_id="SPX-9",
        outcome=DecisionOutcome.APPROVED,
        scale_factor=1.0,
        epoch=1,
    )
    cycle_record = CycleRecord(
        cycle_id="SPX-9", underlying="SPX", epoch=1, trigger="proposals",
        trading_state="ACTIVE", decided_at=datetime.now(UTC), proposals=1, orders=1,
    )  # fmt: skip
    repo = repository(database_url)
    assert repo.record_cycle(cycle_record, [DecisionRecord(decision, pending)], [orphan])
    return repo, orphan, decision


async def test_given_orders_stored_but_never_published_then_the_new_leader_routes_them(
    bus, nats_client, start_manager, database_url, eventually
):
    # A predecessor (epoch 1) stored a cycle and died before publishing it.
    repo, orphan, decision = _store_unpublished_cycle(database_url)
    capture = await Capture().attach(nats_client)
    buckets = await ensure_streams(nats_client.jetstream())
    await buckets[subjects.KV_LEASES].put("earlier", b"{}")  # the new leader's epoch is not 1
    manager = await start_manager()
    await eventually(lambda: capture.orders and capture.decisions)
    (msg_id, routed), *_ = capture.orders
    assert msg_id == orphan.client_order_id
    assert routed.epoch == manager.service.epoch and routed.quantity == 5
    assert capture.decisions[0].id == decision.id
    await eventually(lambda: not repo.unpublished_orders() and not repo.unpublished_decisions())
    # The stream holds the re-stamped order: so does the manager's own record of it.
    assert [o.epoch for o in repo.orders_of_cycle("SPX-9")] == [routed.epoch]


async def test_given_stored_orders_too_old_to_route_then_they_stay_unpublished_and_not_in_flight(
    bus, nats_client, start_manager, database_url, eventually
):
    repo, orphan, decision = _store_unpublished_cycle(database_url, age_s=3600.0)
    capture = await Capture().attach(nats_client)
    manager = await start_manager()
    await eventually(lambda: capture.decisions)  # the outbox ran: the decision is still news
    assert capture.decisions[0].id == decision.id
    assert orphan.client_order_id in manager.component.outbox.dropped
    assert capture.orders == []
    assert [o.client_order_id for o in repo.unpublished_orders()] == [orphan.client_order_id]
    assert manager.component.core.engine.inflight.working("SPX") == {}


async def test_given_a_budget_period_ends_then_the_leader_records_the_reallocation(
    bus, start_manager, database_url, eventually
):
    manager = await start_manager(budget_period_s=0.2)
    repo = repository(database_url)
    history = await eventually(lambda: repo.budget_history(), timeout=10)
    assert {p.agent for p in history} <= {"gamma-agent", "vega-agent"}
    assert all(p.reason.startswith("kept") for p in history)  # nothing was spent
    reply = await command(bus, ControlAction.STATUS, issued_by="api")
    assert reply.state["budgets"]["agents"]["gamma-agent"]["last_reallocation"] is not None
    assert manager.service.is_leader


async def test_given_a_leader_dies_before_storing_a_published_cycle_then_its_successor_stores_it(
    bus, nats_client, start_manager, database_url, eventually
):
    capture = await Capture().attach(nats_client)
    first = await start_manager("mgr-1")
    await eventually(lambda: first.service.is_leader)
    second = await start_manager("mgr-2")
    await seed(bus)
    await ready(first, eventually)
    await ready(second, eventually)

    def never_stored(*args, **kwargs):
        raise RuntimeError("killed before the store")

    first.component.outbox.repo.record_cycle = never_stored  # as a kill -9 after publishing
    p = await send(bus, proposal([(CALL_7, 10)], cycle="SPX-0"))
    await eventually(lambda: capture.orders and capture.decisions)
    await eventually(lambda: "SPX-0" in second.component.core.heard.cycle_ids())
    repo = repository(database_url)
    assert not repo.has_cycle("SPX-0")
    old_epoch = first.service.epoch
    await first.service.stop()  # its store still fails: as a crash, the cycle is not stored
    await eventually(lambda: second.component.is_leader, timeout=5)
    await eventually(lambda: repo.has_cycle("SPX-0"))
    (cycle,) = [c for c in repo.cycles() if c.cycle_id == "SPX-0"]
    assert cycle.trigger == "recorded_by_successor" and cycle.epoch == old_epoch
    assert cycle.orders == len(capture.orders) and cycle.proposals == 1
    assert repo.decided([p.id]) == {p.id}
    assert repo.unpublished_orders() == []
    assert second.component.core.stats["predecessor_cycles"] == 1


async def test_given_the_leader_stops_mid_cycle_then_the_warm_standby_decides_it(
    bus, nats_client, start_manager, eventually
):
    capture = await Capture().attach(nats_client)
    first = await start_manager("mgr-1", gather_window_real_s=10.0)  # would wait long
    await eventually(lambda: first.service.is_leader)
    second = await start_manager("mgr-2")
    await seed(bus)
    await ready(first, eventually)
    await ready(second, eventually)
    p = await send(bus, proposal([(CALL_7, 10)], cycle="SPX-0"))
    await eventually(lambda: "SPX-0" in second.component.core.gatherer.open)  # warm
    await first.service.stop()  # with the cycle still open
    await eventually(lambda: second.component.is_leader, timeout=5)
    await eventually(lambda: capture.decisions)
    (decision,) = capture.decisions
    assert decision.proposal_id == p.id and decision.epoch == second.service.epoch
