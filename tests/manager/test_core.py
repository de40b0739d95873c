"""The manager's rules as plain calls on `ManagerCore`, no server: the delta trigger and its
re-checks, gathering, the late-proposal rule, the inherited cycle, slice liveness and the
automatic trading state. Times are passed in (`At`): nothing here sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from manager_examples import CALL_7, PUT_7, T0, book, engine, proposal, report, snapshot

from hedgemesh.manager.config import ManagerSettings
from hedgemesh.manager.domain.core import ManagerCore
from hedgemesh.manager.domain.effects import (
    At,
    CreateLimits,
    Decide,
    DecideDue,
    DecideLater,
    FetchLimits,
    FlushOutbox,
    Lag,
    PublishLate,
    RecheckDelta,
    SetTrading,
)
from hedgemesh.wire import ExecStatus, ReasonCode, Tick, TradingState
from hedgemesh.wire.book import PositionSnapshot
from hedgemesh.wire.hedging import Decision
from hedgemesh.wire.ops import Heartbeat, Role, ServiceState

NOW = T0 + timedelta(seconds=1)
SHORT_CALLS = [(CALL_7, -30)]  # about −1,560 of delta: outside the 500 band
GRACE = ManagerSettings().startup_grace_real_s


def at(real: float = 100.0, *, lease: bool = True, epoch: int | None = 7, now=NOW) -> At:
    return At(now, real, lease, epoch)


def core(positions=SHORT_CALLS, *, leading: bool = True, **settings) -> ManagerCore:
    c = ManagerCore(ManagerSettings(**settings).rules(), engine(book(positions)))
    c.start("manager-1", at(0.0), {"SPX"})
    if leading:
        c.gain()
    return c


def next_tick(c: ManagerCore, seconds: float = 1.0, underlying: str = "SPX") -> Tick:
    held = c.engine.book.tick("SPX")
    assert held is not None
    return held.evolve(
        underlying=underlying, seq=held.seq + 1, ts=held.ts + timedelta(seconds=seconds)
    )


def beat(service: str, instance: str, role: Role = Role.LEADER, state=ServiceState.READY):
    return Heartbeat(
        service=service, instance=instance, role=role, state=state, seq=1, started_at=T0, pid=1
    )


def decide_all(c: ManagerCore, effects, when: At) -> list:
    return [c.decide(e.cycle_id, when, now=e.now) for e in effects if isinstance(e, Decide)]


# -- the delta trigger ------------------------------------------------------------------------


def test_given_a_tick_with_delta_outside_the_band_then_the_leader_decides_a_cycle_of_its_own():
    c = core()
    tick = next_tick(c)
    effects = c.on_tick(tick, at())
    assert effects == [Lag(0.0), Decide(f"SPX-{tick.seq}-delta", NOW)]
    (outcome,) = decide_all(c, effects, at())
    assert [o.instrument.symbol for o in outcome.orders] == ["SPX"]
    assert c.stats["delta_cycles"] == 1 and c.stats["cycles"] == 1
    assert c.engine.inflight.pending("SPX")  # the hedge is in flight at once


def test_given_a_standby_or_a_stale_tick_then_no_delta_cycle():
    standby = core(leading=False)
    assert standby.on_tick(next_tick(standby), at()) == [Lag(0.0)]
    leader = core()
    assert leader.on_tick(next_tick(leader), at(lease=False)) == [Lag(0.0)]  # lease gone
    tick = next_tick(leader)
    leader.on_tick(tick, at())
    assert leader.on_tick(tick, at()) == []  # the same tick again: not newer


def test_given_the_tick_behind_the_clock_then_the_lag_is_reported():
    c = core(positions=[])
    tick = next_tick(c)
    effects = c.on_tick(tick, at(now=tick.ts + timedelta(seconds=1)))
    assert effects == [Lag(1000.0)]  # delta inside the band: nothing to decide


def test_given_a_burst_of_reports_then_one_recheck_and_rechecks_number_their_cycles():
    c = core()
    tick = next_tick(c)
    c.on_tick(tick, at())
    (outcome,) = decide_all(c, c.on_tick(next_tick(c, 2.0), at()), at())
    order = outcome.orders[0]
    burst = [
        c.on_report(report(order, "r1", ExecStatus.ACCEPTED, 0, None), at()),
        c.on_report(report(order, "r2", ExecStatus.CANCELLED, 0, None), at()),
    ]
    assert burst == [[RecheckDelta("SPX", ManagerSettings().delta_recheck_real_s)], []]
    seq = tick.seq + 1
    assert c.recheck("SPX", at()) == [Decide(f"SPX-{seq}-delta-r1", NOW)]  # the rest cancelled
    assert c.on_report(report(order, "r3", ExecStatus.CANCELLED, 0, None), at()) != []
    assert c.recheck("SPX", at()) == [Decide(f"SPX-{seq}-delta-r2", NOW)]


def test_given_a_newer_snapshot_then_the_delta_is_checked_again_and_an_older_one_is_ignored():
    c = core(positions=[])
    assert c.on_positions(snapshot(SHORT_CALLS, seq=2), at()) == [
        RecheckDelta("SPX", ManagerSettings().delta_recheck_real_s)
    ]
    c.recheck("SPX", at())
    assert c.on_positions(snapshot(SHORT_CALLS, seq=2), at()) == []


def test_given_an_underlying_without_limits_then_kv_is_asked_and_fallbacks_follow():
    c = core(positions=[])
    tick = next_tick(c, underlying="NDX").evolve(price=18_000.0)
    (_, wanted) = c.on_tick(tick, at())
    assert wanted == FetchLimits("NDX", 18_000.0, f"NDX-{tick.seq}-delta", NOW)
    effects = c.on_limits(wanted, None, at())
    (created,) = effects  # no surface for NDX yet: no delta cycle
    assert isinstance(created, CreateLimits) and created.underlying == "NDX"
    assert c.engine.limits.get("NDX") == created.limits
    standby = core(positions=[], leading=False)
    assert standby.on_limits(wanted, None, at()) == []  # in memory only: the leader creates


# -- gathering, late proposals ------------------------------------------------------------------


def test_given_every_live_slice_proposed_then_the_cycle_is_decided_else_after_its_window():
    c = core(positions=[])
    c.on_heartbeat(beat("gamma-agent", "g-1"), at(99.0))
    c.on_heartbeat(beat("vega-agent", "v-1"), at(99.0))
    first = proposal([(CALL_7, 1)], agent="gamma-agent", cycle="SPX-9")
    second = proposal([(PUT_7, 1)], agent="vega-agent", cycle="SPX-9")
    window = ManagerSettings().gather_window_real_s
    (later,) = c.on_proposal(first, at(100.0))
    assert later == DecideLater("SPX-9", pytest.approx(window))
    assert c.on_proposal(second, at(100.0)) == [Decide("SPX-9")]


def test_given_a_proposal_after_its_cycle_was_decided_then_the_leader_rejects_it_cycle_closed():
    c = core(positions=[])
    c.on_proposal(proposal([(CALL_7, 1)], cycle="SPX-9"), at())
    assert c.decide("SPX-9", at()) is not None
    late = proposal([(PUT_7, 1)], agent="vega-agent", cycle="SPX-9")
    (rejected,) = c.on_proposal(late, at())
    assert isinstance(rejected, PublishLate)
    decision = rejected.record.decision
    assert decision.reason_code is ReasonCode.CYCLE_CLOSED and decision.epoch == 7
    assert c.stats["late_proposals"] == 1
    assert c.on_proposal(late, at()) == []  # the same proposal again: a duplicate
    assert c.stats["duplicate_proposals"] == 1
    standby = core(positions=[], leading=False)
    standby.gatherer.close("SPX-9")
    assert standby.on_proposal(late, at()) == []  # a standby answers nothing


def test_given_a_standby_then_it_gathers_but_never_decides_and_forgets_stale_cycles():
    c = core(positions=[], leading=False)
    assert c.on_proposal(proposal([(CALL_7, 1)], cycle="SPX-9"), at(100.0)) == []
    assert c.decide("SPX-9", at()) is None and "SPX-9" in c.gatherer.open
    kept = ManagerSettings().standby_cycles_kept_s
    assert c.on_timer(at(100.0 + kept + 1)) == [] and "SPX-9" not in c.gatherer.open


def test_given_the_leaders_decision_then_a_standby_closes_the_cycle_and_remembers_it():
    leader, standby = core(positions=[]), core(positions=[], leading=False)
    p = proposal([(CALL_7, 1)], cycle="SPX-9")
    leader.on_proposal(p, at())
    standby.on_proposal(p, at())
    outcome = leader.decide("SPX-9", at())
    assert outcome is not None
    decision: Decision = outcome.decisions[0].decision
    assert decision.cycle_id == "SPX-9"
    standby.on_decision(decision, at(lease=False))
    assert "SPX-9" not in standby.gatherer.open and standby.heard.cycle_ids() == ["SPX-9"]


# -- the inherited cycle ------------------------------------------------------------------------


def test_given_cycles_open_at_take_over_then_the_store_decides_whether_to_decide_them():
    c = core(positions=[], leading=False)
    c.on_proposal(proposal([(CALL_7, 1)], cycle="SPX-8"), at(100.0))
    c.on_proposal(proposal([(CALL_7, 1)], cycle="SPX-9"), at(100.0))
    assert c.gain()
    window = pytest.approx(ManagerSettings().gather_window_real_s)
    effects = c.inherit(at(100.0))
    assert sorted(effects, key=str) == [DecideLater("SPX-8", window), DecideLater("SPX-9", window)]
    assert c.inherited("SPX-8", at()) and not c.inherited("SPX-8", at(lease=False))
    assert c.decide("SPX-8", at(), predecessor_decided=True) is None  # the predecessor did
    assert c.gatherer.is_closed("SPX-8") and c.stats["cycles"] == 0
    assert c.decide("SPX-9", at(), predecessor_decided=False) is not None
    assert not c.inherited("SPX-9", at()) and c.stats["cycles"] == 1


def test_given_the_leaders_timer_then_outboxes_flush_before_inherited_cycles_come_due():
    c = core(positions=[], leading=False, degrade_when_slice_down=False)
    c.on_proposal(proposal([(CALL_7, 1)], cycle="SPX-9"), at(100.0))
    c.gain()
    assert c.on_timer(at(100.0)) == [FlushOutbox(), DecideDue()]
    assert c.due_inherited(at(100.0)) == []  # inside its window
    assert c.due_inherited(at(101.0)) == [Decide("SPX-9")]
    assert c.inherited("SPX-9", at())


def test_given_a_cycle_with_a_timer_then_it_is_not_due_twice():
    c = core(positions=[])
    assert c.on_proposal(proposal([(CALL_7, 1)], cycle="SPX-9"), at(100.0)) != []
    assert c.due_inherited(at(101.0)) == []  # its own timer decides it


# -- liveness and the automatic trading state ----------------------------------------------------


def test_given_heartbeats_then_slices_are_live_until_they_stop_or_stand_by():
    c = core(positions=[])
    timeout = ManagerSettings().agent_timeout_real_s
    c.on_heartbeat(beat("gamma-agent", "g-1"), at(10.0))
    c.on_heartbeat(beat("vega-agent", "v-1"), at(10.0))
    c.on_heartbeat(beat("ledger", "l-1"), at(10.0))  # not a specialist slice
    assert c.live_slices(10.0 + timeout) == {"gamma-agent", "vega-agent"}
    assert c.live_slices(10.1 + timeout) == set()
    c.on_heartbeat(beat("gamma-agent", "g-2", Role.STANDBY), at(11.0))  # another standby
    c.on_heartbeat(beat("vega-agent", "v-1", state=ServiceState.STOPPING), at(11.0))
    assert c.live_slices(11.0) == {"gamma-agent"}
    c.on_heartbeat(beat("gamma-agent", "g-1", Role.STANDBY), at(11.0))  # the leader steps down
    assert c.live_slices(11.0) == set()


def test_given_a_slice_down_then_the_leader_reduces_after_the_grace_and_resumes_when_it_returns():
    c = core(positions=[])
    c.on_heartbeat(beat("gamma-agent", "g-1"), at(GRACE))
    assert SetTrading not in map(type, c.on_timer(at(GRACE - 0.1)))  # starting up: no verdict
    (wanted,) = [e for e in c.on_timer(at(GRACE + 0.1)) if isinstance(e, SetTrading)]
    assert wanted.status.state is TradingState.REDUCING
    assert wanted.status.reason == "no live leader for vega-agent"
    assert wanted.status.changed_by == "manager-1"
    c.set_trading(wanted.status)
    assert SetTrading not in map(type, c.on_timer(at(GRACE + 0.2)))  # already so
    c.on_heartbeat(beat("vega-agent", "v-1"), at(GRACE + 0.3))
    (back,) = [e for e in c.on_timer(at(GRACE + 0.3)) if isinstance(e, SetTrading)]
    assert back.status.state is TradingState.ACTIVE
    standby = core(positions=[], leading=False)
    assert standby.on_timer(at(GRACE + 0.1)) == []  # only the leader sets the state


def test_given_a_live_clock_and_a_leader_lagging_past_the_limit_then_reducing_until_it_keeps_up():
    c = core(positions=[], reduce_lag_s=10.0)
    c.on_heartbeat(beat("vega-agent", "v-1"), at(GRACE))
    c.on_heartbeat(beat("gamma-agent", "g-1").evolve(lag_ms=12_500.0), at(GRACE))
    (wanted,) = [e for e in c.on_timer(at(GRACE + 0.1)) if isinstance(e, SetTrading)]
    assert wanted.status.state is TradingState.REDUCING
    assert wanted.status.reason == ("the desk lags the live market: g-1 12.5 s behind (limit 10 s)")
    c.set_trading(wanted.status)
    c.on_heartbeat(beat("gamma-agent", "g-1").evolve(lag_ms=800.0), at(GRACE + 1.0))
    (back,) = [e for e in c.on_timer(at(GRACE + 1.0)) if isinstance(e, SetTrading)]
    assert back.status.state is TradingState.ACTIVE
    paced = core(positions=[], reduce_lag_s=None)  # an accelerated clock: paced instead
    paced.on_heartbeat(beat("vega-agent", "v-1"), at(GRACE))
    paced.on_heartbeat(beat("gamma-agent", "g-1").evolve(lag_ms=60_000.0), at(GRACE))
    assert SetTrading not in map(type, paced.on_timer(at(GRACE + 0.1)))


def test_given_the_rule_switched_off_then_the_state_is_left_alone():
    c = core(positions=[], degrade_when_slice_down=False)
    assert c.on_timer(at(GRACE + 10)) == [FlushOutbox(), DecideDue()]


def test_given_a_status_then_it_reports_the_replica_as_the_control_reply_carries_it():
    c = core(positions=[])
    c.on_heartbeat(beat("gamma-agent", "g-1"), at(99.0))
    status = c.status(at(100.0))
    assert status["instance"] == "manager-1" and status["role"] == "leader"
    assert status["epoch"] == 7 and status["trading_state"]["state"] == "ACTIVE"
    assert status["slices"]["gamma-agent"] == {
        "live": True,
        "leader": "g-1",
        "heartbeat_age_s": 1.0,
    }
    assert status["slices"]["vega-agent"]["live"] is False
    assert c.status(at(lease=False))["role"] == "standby"


def test_given_snapshots_then_known_underlyings_grow():
    c = core(positions=[])
    empty = PositionSnapshot(
        underlying="NDX", positions=[], cash=0, realised_pnl=0, unrealised_pnl=0, as_of_seq=1, ts=T0
    )
    c.on_positions(empty, at())
    assert c.known == {"SPX", "NDX"}
