"""The marketdata service over a real nats-server: ticks and surfaces per underlying in seq
order on the injected clock, the initial trades stored once even across a restart, client
flow trades, replay timing, catching up, and a bad scenario refused before start-up."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import defaultdict
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
import yaml

from hedgemesh.marketdata.bootstrap import build
from hedgemesh.marketdata.config import MarketDataSettings
from hedgemesh.runtime import AcceleratedClock, NatsSettings, SteppedClock
from hedgemesh.runtime.clock import EPOCH
from hedgemesh.runtime.service import RuntimeSettings
from hedgemesh.scenario import DEFAULT_SCENARIO, load_scenario
from hedgemesh.scenario.testing import make_scenario, scenario_dict, underlying_dict
from hedgemesh.wire import ClientTrade, Surface, Tick, subjects
from hedgemesh.wire.ops import ControlCommand, ControlReply

pytestmark = pytest.mark.timeout(60)

POSITIONS = [
    {"underlying": "SPX", "expiry_days": 7, "moneyness": 1.0, "right": "put", "quantity": -150},
    {"underlying": "SPX", "expiry_days": 30, "moneyness": 0.95, "right": "put", "quantity": -80},
    {"underlying": "NDX", "quantity": 10},
]


def _two_underlyings(**changes):
    ndx = underlying_dict("NDX", spot=18000.0, tick_interval="5s")
    return make_scenario(
        scenario_dict(
            **{"underlyings": [underlying_dict(), ndx], "positions": POSITIONS, **changes}
        )
    )


def _service(server, scenario, clock, **settings):
    return build(
        MarketDataSettings(**settings),
        scenario=scenario,
        clock=clock,
        runtime=RuntimeSettings(instance="md-test", heartbeat_interval_s=60.0),
        nats=NatsSettings(url=server.url),
    )


@asynccontextmanager
async def running(service):
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    publisher = service.components[0]
    try:
        await asyncio.wait_for(publisher.started.wait(), 10.0)
        yield publisher
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 10.0) == 0


async def _collect(bus, subject, model):
    seen = defaultdict(list)

    async def on(message, envelope):
        seen[message.underlying].append(message)

    await bus.subscribe(subject, model, on)
    return seen


async def _stored_trades(bus) -> list[ClientTrade]:
    info = await bus.js.stream_info(subjects.STREAM_TRADES)
    return [
        ClientTrade.from_json((await bus.js.get_msg(subjects.STREAM_TRADES, seq)).data)
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
        if info.state.messages
    ]


async def test_given_a_stepped_clock_then_each_underlying_ticks_in_seq_order_with_its_surface(
    nats_server, bus, eventually
):
    ticks = await _collect(bus, subjects.ALL_TICKS, Tick)
    surfaces = await _collect(bus, subjects.ALL_SURFACES, Surface)
    clock = SteppedClock()
    every = _service(nats_server, _two_underlyings(), clock, surface_vol_tolerance=0.0)
    async with running(every) as publisher:
        await eventually(lambda: len(ticks["SPX"]) == 1 and len(ticks["NDX"]) == 1)
        for _ in range(6):
            clock.advance(10.0)
            await eventually(lambda: len(ticks["SPX"]) == 1 + round(clock.monotonic() / 10))
        await eventually(lambda: len(ticks["NDX"]) == 13 and len(surfaces["NDX"]) == 13)
        assert publisher.stats.skipped_late == 0
    assert [t.seq for t in ticks["SPX"]] == list(range(7))
    assert [t.seq for t in ticks["NDX"]] == list(range(13))
    assert [t.ts - EPOCH for t in ticks["SPX"]] == [timedelta(seconds=10 * i) for i in range(7)]
    for symbol in ("SPX", "NDX"):
        assert [s.seq for s in surfaces[symbol]] == [t.seq for t in ticks[symbol]]
        assert all(s.spot == t.price for s, t in zip(surfaces[symbol], ticks[symbol], strict=True))


async def _command(bus, action: str, **params) -> ControlReply:
    command = ControlCommand(
        target="marketdata", action=action, issued_by="test", params=params, ts=EPOCH
    )
    return await bus.command(command)


async def test_given_one_underlying_halted_then_only_its_ticks_stop_until_resumed(
    nats_server, bus, eventually
):
    ticks = await _collect(bus, subjects.ALL_TICKS, Tick)
    surfaces = await _collect(bus, subjects.ALL_SURFACES, Surface)
    clock = SteppedClock()
    every = _service(nats_server, _two_underlyings(), clock, surface_vol_tolerance=0.0)
    async with running(every) as publisher:
        await eventually(lambda: len(ticks["SPX"]) == 1 and len(ticks["NDX"]) == 1)
        reply = await _command(bus, "halt", underlying="SPX")
        assert reply.ok and reply.state["paused"] == ["SPX"]
        clock.advance(10.0)
        await eventually(lambda: len(ticks["NDX"]) == 3)
        assert len(ticks["SPX"]) == 1 and len(surfaces["SPX"]) == 1
        assert publisher.stats.skipped_paused == 2  # SPX's tick and surface at +10 s
        reply = await _command(bus, "resume", underlying="SPX")
        assert reply.ok and reply.state["paused"] == []
        clock.advance(10.0)
        await eventually(lambda: len(ticks["SPX"]) == 2 and len(surfaces["SPX"]) == 2)
    assert [t.seq for t in ticks["SPX"]] == [0, 2]  # the market went on while paused
    assert [t.seq for t in ticks["NDX"]] == list(range(5))


async def test_given_a_bad_feed_command_then_it_is_refused_with_a_reason(nats_server, bus):
    async with running(_service(nats_server, _two_underlyings(), SteppedClock())):
        unknown = await _command(bus, "halt", underlying="DAX")
        assert (unknown.ok, unknown.reason) == (False, "UNKNOWN_UNDERLYING")
        unsupported = await _command(bus, "set_limit", name="x", value=1)
        assert (unsupported.ok, unsupported.reason) == (False, "UNSUPPORTED_ACTION")
        everything = await _command(bus, "halt")
        assert everything.ok and everything.state["paused"] == ["NDX", "SPX"]
        status = await _command(bus, "status")
        assert status.ok and status.state["paused"] == ["NDX", "SPX"]


async def test_given_a_restart_then_the_initial_trades_are_on_the_stream_exactly_once(
    nats_server, bus, eventually
):
    scenario = _two_underlyings()
    for run in range(2):
        service = _service(nats_server, scenario, SteppedClock(), client_flow=False)
        async with running(service) as publisher:
            assert (publisher.stats.trades, publisher.stats.duplicate_trades) == (
                (3, 0) if run == 0 else (0, 3)
            )
    trades = await _stored_trades(bus)
    assert len(trades) == 3
    assert [t.instrument.symbol for t in trades] == [
        "SPX-20240109-P-5000", "SPX-20240201-P-4750", "NDX",
    ]  # fmt: skip
    assert len({t.trade_id for t in trades}) == 3


async def test_given_more_initial_trades_than_in_flight_then_each_is_stored_once_in_order(
    nats_server, bus
):
    """Three slices of `trades_in_flight` (the last one short), acks awaited together."""
    scenario = _two_underlyings(positions=POSITIONS * 50)
    service = _service(
        nats_server, scenario, SteppedClock(), client_flow=False, trades_in_flight=64
    )
    async with running(service) as publisher:
        assert (publisher.stats.trades, publisher.stats.duplicate_trades) == (150, 0)
    trades = await _stored_trades(bus)
    assert [int(t.trade_id.rsplit("-", 1)[1]) for t in trades] == list(range(150))


async def test_given_client_flow_then_its_trades_arrive_on_the_trade_stream(
    nats_server, bus, eventually
):
    flow = {"rate_per_hour": 3600, "max_expiry_days": 40, "moneyness": [0.9, 1.1]}
    clock = SteppedClock()
    async with running(_service(nats_server, _two_underlyings(client_flow=flow), clock)) as pub:
        clock.advance(120.0)
        await eventually(lambda: pub.stats.trades >= 3 + 60, timeout=10)
    trades = await _stored_trades(bus)
    flow_trades = [t for t in trades if "-flow-" in t.trade_id]
    assert len(flow_trades) >= 60 and len({t.trade_id for t in trades}) == len(trades)
    assert all(t.instrument.is_option and EPOCH < t.ts <= clock.now() for t in flow_trades)
    assert [t.ts for t in flow_trades] == sorted(t.ts for t in flow_trades)


async def test_given_a_replay_then_each_tick_waits_for_its_recorded_time(
    nats_server, bus, eventually, tmp_path
):
    (tmp_path / "spx.csv").write_text(
        "timestamp,price\n2024-03-01T14:30:00Z,5000\n2024-03-01T14:30:30Z,5010\n"
        "2024-03-01T14:31:30Z,4990\n"
    )
    spx = underlying_dict(model={"kind": "replay", "file": "spx.csv"})
    del spx["spot"]
    scenario = make_scenario(scenario_dict(underlyings=[spx]), base_dir=tmp_path)
    ticks = await _collect(bus, subjects.ALL_TICKS, Tick)
    clock = SteppedClock()
    async with running(_service(nats_server, scenario, clock)) as publisher:

        def parked_after(published: int) -> bool:  # waiting on the clock, nothing in flight
            waiting = 1 if published < 3 else 0  # the publisher, until the end (heartbeats keep
            # real time, so they never wait on this clock)
            return clock.sleepers == waiting and publisher.stats.ticks == published

        await eventually(lambda: len(ticks["SPX"]) == 1)
        for step, published in ((29.0, 1), (1.0, 2), (59.0, 2), (1.0, 3)):
            clock.advance(step)
            await eventually(lambda published=published: parked_after(published))
        await eventually(lambda: len(ticks["SPX"]) == 3)
    assert [(t.seq, t.price, (t.ts - EPOCH).total_seconds()) for t in ticks["SPX"]] == [
        (0, 5000, 0.0), (1, 5010, 30.0), (2, 4990, 90.0),
    ]  # fmt: skip


async def test_given_a_start_an_hour_ago_then_it_catches_up_without_replaying_the_past(
    nats_server, bus, eventually
):
    scenario = _two_underlyings(start=(EPOCH - timedelta(hours=1)).isoformat())
    ticks = await _collect(bus, subjects.ALL_TICKS, Tick)
    async with running(_service(nats_server, scenario, SteppedClock(), max_lag_s=30)) as pub:
        await eventually(lambda: ticks["SPX"] and ticks["SPX"][-1].seq == 360)
        assert pub.stats.trades == 3  # the initial trades are never skipped
    assert ticks["SPX"][0].seq == 357  # the first within 30 s of the clock
    assert pub.stats.skipped_late > 0


async def test_given_an_accelerated_clock_then_an_hour_of_the_default_scenario_passes_in_seconds(
    nats_server, bus, eventually
):
    ticks = await _collect(bus, subjects.ALL_TICKS, Tick)
    scenario = load_scenario(DEFAULT_SCENARIO)
    # At 3600x the default 30 s catch-up lag is 8 ms of real time, which a loaded machine's
    # scheduler exceeds: every tick must go out here, however late.
    service = _service(nats_server, scenario, AcceleratedClock(3600.0), max_lag_s=86_400.0)
    async with running(service):
        await eventually(lambda: len(ticks["SPX"]) >= 360 and len(ticks["NDX"]) >= 360, timeout=20)
    for series in ticks.values():
        assert [t.seq for t in series] == list(range(len(series)))


def test_given_a_bad_scenario_then_the_service_exits_naming_the_key(tmp_path):
    data = scenario_dict()
    data["underlyings"][0]["model"] = {"kind": "heston", "v0": 0.02, "kappa": 0, "theta": 0.03,
                                       "xi": 0.5, "rho": -0.7}  # fmt: skip
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    done = subprocess.run(
        [sys.executable, "-m", "hedgemesh.marketdata", "--scenario", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "", "HEDGEMESH_NATS_URL": "nats://127.0.0.1:1"},
    )
    assert done.returncode == 1
    assert "underlyings[0].model.kappa: must be > 0" in done.stderr
