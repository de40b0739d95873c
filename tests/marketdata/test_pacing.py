"""Pacing the simulated clock on the desk's lag, and the desk's readiness to start it: the pure
rules (`hedgemesh.marketdata.domain.pacing`)."""

from __future__ import annotations

from datetime import UTC, datetime

from hedgemesh.marketdata.domain.pacing import Lag, Pacer, PaceRules, acting_lags, missing
from hedgemesh.wire import subjects
from hedgemesh.wire.ops import ConsumerProgress, Heartbeat, Role, ServiceState

T0 = datetime(2026, 1, 2, 14, 30, tzinfo=UTC)


def beat(service, instance, role=Role.LEADER, state=ServiceState.READY, lag_ms=0.0, **kw):
    return Heartbeat(
        service=service, instance=instance, role=role, state=state, seq=1, started_at=T0,
        pid=1, lag_ms=lag_ms, ts=T0, **kw,
    )  # fmt: skip


def test_given_a_lag_past_the_pacing_lag_then_the_clock_slows_in_proportion_and_says_why():
    pacer = Pacer(PaceRules(lag_s=10.0), ceiling=390.0, speed=390.0, now=0.0)
    decision = pacer.decide([Lag("gamma-agent-1", "gamma-agent", 40.0)], now=10.0)
    assert decision is not None and decision.slower
    assert decision.speed == 390.0 * 0.25  # 0.8 * 10 / 40 = 0.2, at most a quarter at once
    assert "gamma-agent-1 40.0 s behind" in decision.reason
    # Heartbeats measured at the old speed are not acted on again within the settling time.
    assert pacer.decide([Lag("gamma-agent-1", "gamma-agent", 40.0)], now=11.0) is None


def test_given_a_desk_that_keeps_up_then_the_clock_climbs_back_to_its_ceiling_and_no_higher():
    pacer = Pacer(PaceRules(lag_s=10.0), ceiling=390.0, speed=100.0, now=0.0)
    speeds, now = [], 0.0
    for _ in range(10):
        now += 5.0
        decision = pacer.decide([Lag("manager-1", "manager", 1.0)], now)
        if decision is not None:
            assert not decision.slower
            speeds.append(decision.speed)
    assert speeds[-1] == 390.0 and speeds == sorted(speeds)
    assert pacer.decide([Lag("manager-1", "manager", 1.0)], now + 5.0) is None


def test_given_a_lag_between_half_and_the_pacing_lag_then_the_speed_holds():
    pacer = Pacer(PaceRules(lag_s=10.0), ceiling=390.0, speed=200.0, now=0.0)
    assert pacer.decide([Lag("manager-1", "manager", 7.0)], now=10.0) is None


def test_given_a_live_clock_then_pacing_is_off_and_never_slows_it():
    pacer = Pacer(PaceRules(lag_s=10.0), ceiling=1.0, speed=1.0, now=0.0)
    assert not pacer.enabled
    assert pacer.decide([Lag("manager-1", "manager", 500.0)], now=10.0) is None


def test_given_a_floor_then_pacing_never_goes_below_it():
    pacer = Pacer(PaceRules(lag_s=10.0, floor=50.0), ceiling=390.0, speed=60.0, now=0.0)
    decision = pacer.decide([Lag("manager-1", "manager", 1000.0)], now=10.0)
    assert decision is not None and decision.speed == 50.0


def test_the_lags_that_pace_are_the_acting_ready_instances_not_standbys_or_marketdata():
    beats = [
        beat("gamma-agent", "g1", lag_ms=2000.0),
        beat("gamma-agent", "g2", role=Role.STANDBY, lag_ms=90_000.0),
        beat("execution", "x1", role=Role.SINGLE, lag_ms=500.0),
        beat("marketdata", "m1", role=Role.SINGLE, lag_ms=80_000.0),
        beat("ledger", "l1", role=Role.SINGLE, state=ServiceState.STOPPING, lag_ms=70_000.0),
    ]
    lags = acting_lags(beats, ignore=("marketdata",))
    assert sorted((lag.instance, lag.lag_s) for lag in lags) == [("g1", 2.0), ("x1", 0.5)]


def test_the_desk_is_ready_once_every_service_leads_and_the_ledger_booked_the_initial_trades():
    desk = ("ledger", "manager", "gamma-agent")
    progress = {"ledger-trades": ConsumerProgress(stream=subjects.STREAM_TRADES, seq=7, pending=0)}
    beats = {
        "m1": beat("manager", "m1", role=Role.STANDBY),
        "g1": beat("gamma-agent", "g1"),
        "l1": beat("ledger", "l1", role=Role.SINGLE, consumers=progress),
    }
    assert missing(beats, desk, "ledger", trades_seq=9) == [
        "ledger has booked client trades to 7 of 9",
        "no ready manager leader",
    ]
    beats["m1"] = beat("manager", "m1")
    assert missing(beats, desk, "ledger", trades_seq=7) == []
