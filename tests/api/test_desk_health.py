"""The desk's health: what makes it degraded (`api.domain.health`), and the watch that says so
once at ERROR, clears it at INFO, and serves it (`api.adapters.watch`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from hedgemesh.api.adapters.watch import DeskWatch
from hedgemesh.api.domain.health import DeskHealth, HealthRules
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.ops import ConsumerProgress, Heartbeat, Role, ServiceState

T0 = datetime(2026, 1, 2, 14, 30, tzinfo=UTC)


def beat(service, instance, role=Role.LEADER, lag_ms=0.0, **kw):
    return Heartbeat(
        service=service, instance=instance, role=role, state=ServiceState.READY, seq=1,
        started_at=T0, pid=1, lag_ms=lag_ms, ts=T0, **kw,
    )  # fmt: skip


def test_given_a_leader_lagging_past_the_threshold_then_degraded_naming_it_not_for_a_standby():
    health = DeskHealth(HealthRules(lag_s=30.0))
    causes = health.evaluate(
        [
            beat("gamma-agent", "g1", lag_ms=45_000.0),
            beat("gamma-agent", "g2", role=Role.STANDBY, lag_ms=90_000.0),
        ],
        [],
        real=0.0,
    )
    assert causes == {"lag:g1": "g1 lags the market by 45.0 s (limit 30 s)"}
    assert health.evaluate([beat("gamma-agent", "g1", lag_ms=1_000.0)], [], real=1.0) == {}


def test_given_a_consumer_far_behind_then_degraded_with_its_backlog():
    behind = {"execution": ConsumerProgress(stream="HEDGE_ORDERS", seq=10, pending=5000)}
    causes = DeskHealth(HealthRules(pending=1000)).evaluate(
        [beat("execution", "x1", role=Role.SINGLE, consumers=behind)], [], real=0.0
    )
    assert causes["backlog:execution"].startswith("x1's consumer execution is 5000 messages")


def test_given_most_decisions_of_the_window_stale_then_degraded_until_the_window_passes():
    health = DeskHealth(HealthRules(stale_share=0.5, stale_min=5, window_s=30.0))
    for i in range(6):
        health.on_decision(ReasonCode.STALE_MARKET_DATA, real=float(i))
    for i in range(4):
        health.on_decision(None, real=float(i))
    assert "stale" in health.evaluate([], [], real=10.0)
    assert "stale" not in health.evaluate([], [], real=40.0)


def test_given_a_limit_breached_past_its_time_then_degraded_and_cleared_when_inside_again():
    health = DeskHealth(HealthRules(breach_s=20.0))
    assert health.evaluate([], ["SPX.max_abs_delta"], real=0.0) == {}
    assert health.evaluate([], ["SPX.max_abs_delta"], real=15.0) == {}
    assert "breach:SPX.max_abs_delta" in health.evaluate([], ["SPX.max_abs_delta"], real=21.0)
    assert health.evaluate([], [], real=22.0) == {}
    assert health.evaluate([], ["SPX.max_abs_delta"], real=23.0) == {}  # the clock restarts


class _Model:
    def __init__(self) -> None:
        self.beats: list[Heartbeat] = []

    def fresh_heartbeats(self) -> list[Heartbeat]:
        return self.beats

    def risk_view(self):
        raise LookupError("no market yet")


def test_the_watch_says_a_cause_once_at_error_and_its_end_once_at_info(caplog):
    model = _Model()
    watch = DeskWatch(model, HealthRules(lag_s=30.0))  # type: ignore[arg-type]
    model.beats = [beat("manager", "m1", lag_ms=60_000.0)]
    with caplog.at_level(logging.INFO, logger="hedgemesh.api.adapters.watch"):
        watch.check()
        watch.check()
        assert watch.view()["status"] == "degraded"
        assert watch.view()["causes"] == ["m1 lags the market by 60.0 s (limit 30 s)"]
        model.beats = [beat("manager", "m1", lag_ms=100.0)]
        watch.check()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "desk degraded: m1 lags the market by 60.0 s (limit 30 s)"
    ]
    assert any("no longer degraded" in r.getMessage() for r in caplog.records)
    assert watch.view()["status"] == "ok"
