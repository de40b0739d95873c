"""ExecutionRepository: an order is stored once, reports once, and the order follows them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from store_examples import CALL, T0, make_order, report

from hedgemesh.store.execution import (
    ConflictingReport,
    ExecutionRepository,
    Switch,
    UnknownOrder,
)
from hedgemesh.wire import ExecStatus, ReasonCode, Side


@pytest.fixture
def repo(sessions) -> ExecutionRepository:
    return ExecutionRepository(sessions)


def test_given_new_order_when_inserted_then_stored_as_received_and_working(repo) -> None:
    order = make_order()
    assert repo.insert_order(order, received_at=T0 + timedelta(seconds=1))
    stored = repo.get_order(order.client_order_id)
    assert stored is not None
    assert stored.order == order
    assert (stored.status, stored.final, stored.last_seq, stored.next_seq) == (None, False, 0, 1)
    assert (stored.cum_quantity, stored.leaves_quantity, stored.avg_price) == (0, 100, None)
    assert stored.received_at == T0 + timedelta(seconds=1)
    assert stored.updated_at.tzinfo is not None
    assert [w.client_order_id for w in repo.working_orders()] == [order.client_order_id]


def test_given_repeated_client_order_id_then_second_insert_refused_and_first_kept(repo) -> None:
    first = make_order(quantity=100)
    again = first.evolve(id="another-message", quantity=5)
    assert repo.insert_order(first)
    assert not repo.insert_order(again)
    stored = repo.get_order(first.client_order_id)
    assert stored is not None and stored.order.quantity == 100


def test_given_unknown_client_order_id_then_get_order_is_none(repo) -> None:
    assert repo.get_order("nope") is None


def test_given_reports_then_order_state_follows_the_latest(repo) -> None:
    order = make_order(quantity=100)
    repo.insert_order(order)
    assert repo.record_report(report(order, 1, ExecStatus.ACCEPTED))
    assert repo.record_report(
        report(order, 2, ExecStatus.PARTIALLY_FILLED, 40, last=40, price=5000.0, avg=5000.0, fees=2)
    )
    stored = repo.get_order(order.client_order_id)
    assert stored is not None
    assert stored.status is ExecStatus.PARTIALLY_FILLED and not stored.final
    assert (stored.cum_quantity, stored.leaves_quantity, stored.avg_price) == (40, 60, 5000.0)
    assert repo.record_report(
        report(order, 3, ExecStatus.FILLED, 100, last=60, price=5010.0, avg=5006.0, fees=3)
    )
    stored = repo.get_order(order.client_order_id)
    assert stored is not None
    assert stored.status is ExecStatus.FILLED and stored.final
    assert (stored.cum_quantity, stored.leaves_quantity, stored.avg_price) == (100, 0, 5006.0)
    assert stored.fees == pytest.approx(5.0)
    assert stored.last_seq == 3
    assert repo.working_orders() == []


def test_given_same_exec_id_twice_then_recorded_once_and_fees_counted_once(repo) -> None:
    order = make_order(quantity=10)
    repo.insert_order(order)
    fill = report(order, 1, ExecStatus.FILLED, 10, last=10, price=5000.0, avg=5000.0, fees=1.5)
    assert repo.record_report(fill)
    assert not repo.record_report(fill.evolve(id="redelivered"))
    assert len(repo.reports(order.client_order_id)) == 1
    stored = repo.get_order(order.client_order_id)
    assert stored is not None and stored.fees == pytest.approx(1.5)


def test_given_late_lower_seq_then_stored_but_order_not_moved_back(repo) -> None:
    order = make_order(quantity=10)
    repo.insert_order(order)
    repo.record_report(report(order, 2, ExecStatus.FILLED, 10, last=10, price=5000.0, avg=5000.0))
    assert repo.record_report(report(order, 1, ExecStatus.ACCEPTED))
    stored = repo.get_order(order.client_order_id)
    assert stored is not None and stored.status is ExecStatus.FILLED and stored.last_seq == 2
    assert [r.seq for r in repo.reports(order.client_order_id)] == [2, 1]


def test_given_report_for_unknown_order_then_refused(repo) -> None:
    with pytest.raises(UnknownOrder):
        repo.record_report(report(make_order(), 1, ExecStatus.ACCEPTED))
    assert repo.reports() == []


def test_given_seq_taken_by_another_exec_id_then_conflict_and_nothing_stored(repo) -> None:
    order = make_order()
    repo.insert_order(order)
    repo.record_report(report(order, 1, ExecStatus.ACCEPTED))
    with pytest.raises(ConflictingReport):
        repo.record_report(report(order, 1, ExecStatus.ACCEPTED, exec_id="other"))
    assert [r.exec_id for r in repo.reports()] == [f"{order.client_order_id}-1"]


def test_given_report_disagreeing_with_its_order_then_conflict(repo) -> None:
    order = make_order(side=Side.BUY)
    repo.insert_order(order)
    wrong = report(order.evolve(side=Side.SELL), 1, ExecStatus.ACCEPTED)
    with pytest.raises(ConflictingReport, match="side"):
        repo.record_report(wrong)
    assert repo.reports() == []


def test_given_rejection_then_order_final_with_reason(repo) -> None:
    order = make_order()
    repo.insert_order(order)
    repo.record_report(report(order, 1, ExecStatus.REJECTED, reason_code=ReasonCode.STALE_EPOCH))
    stored = repo.get_order(order.client_order_id)
    assert stored is not None and stored.final and stored.reason_code == "STALE_EPOCH"


def test_given_mixed_reports_then_queries_filter_by_order_seq_and_fills(repo) -> None:
    a, b = make_order("cycle-a"), make_order("cycle-b", CALL, quantity=5, limit_price=120.0)
    for order in (a, b):
        repo.insert_order(order)
    repo.record_report(report(a, 1, ExecStatus.ACCEPTED))
    repo.record_report(report(b, 1, ExecStatus.ACCEPTED))
    repo.record_report(report(a, 2, ExecStatus.PARTIALLY_FILLED, 30, last=30, price=5000, avg=5000))
    repo.record_report(report(b, 2, ExecStatus.FILLED, 5, last=5, price=120.0, avg=120.0))
    repo.record_report(report(a, 3, ExecStatus.CANCELLED, 30, avg=5000))
    assert [(r.client_order_id, r.seq) for r in repo.reports()] == [
        (a.client_order_id, 1),
        (b.client_order_id, 1),
        (a.client_order_id, 2),
        (b.client_order_id, 2),
        (a.client_order_id, 3),
    ]
    assert [r.seq for r in repo.reports(a.client_order_id, since_seq=1)] == [2, 3]
    assert [r.exec_id for r in repo.fills()] == [f"{a.client_order_id}-2", f"{b.client_order_id}-2"]
    assert [r.seq for r in repo.fills(a.client_order_id)] == [2]
    assert [r.instrument for r in repo.fills(underlying="SPX")] == [a.instrument, CALL]
    assert repo.fills(underlying="NDX") == []


def test_given_orders_of_several_states_then_working_orders_are_the_unfinished_oldest_first(
    repo,
) -> None:
    done = make_order("c1", ts=T0)
    working = make_order("c2", ts=T0 + timedelta(seconds=2))
    never_reported = make_order("c3", ts=T0 + timedelta(seconds=1))
    for order in (done, working, never_reported):
        repo.insert_order(order)
    repo.record_report(report(done, 1, ExecStatus.FILLED, 100, last=100, price=5000, avg=5000))
    repo.record_report(report(working, 1, ExecStatus.ACCEPTED))
    assert [w.client_order_id for w in repo.working_orders()] == [
        never_reported.client_order_id,
        working.client_order_id,
    ]
    assert repo.working_orders(underlying="NDX") == []


def test_given_orders_then_max_epoch_is_the_highest_seen(repo) -> None:
    assert repo.max_epoch() is None
    repo.insert_order(make_order("c1", epoch=3))
    repo.insert_order(make_order("c2", epoch=9))
    repo.insert_order(make_order("c3", epoch=4))
    assert repo.max_epoch() == 9


def test_given_algo_state_saved_then_it_survives_a_new_repository(repo, sessions) -> None:
    order = make_order()
    repo.insert_order(order)
    repo.save_algo_state(order.client_order_id, {"slices_sent": 3, "next_at": "2026-03-02"})
    stored = ExecutionRepository(sessions).get_order(order.client_order_id)
    assert stored is not None and stored.algo_state == {"slices_sent": 3, "next_at": "2026-03-02"}
    with pytest.raises(UnknownOrder):
        repo.save_algo_state("nope", {})


def test_given_reports_then_outbox_lists_unpublished_until_marked(repo) -> None:
    order = make_order()
    repo.insert_order(order)
    for seq, status in ((1, ExecStatus.ACCEPTED), (2, ExecStatus.CANCELLED)):
        repo.record_report(report(order, seq, status))
    pending = repo.unpublished_reports()
    assert [r.seq for r in pending] == [1, 2]
    assert repo.mark_published([pending[0].exec_id]) == 1
    assert repo.mark_published([pending[0].exec_id]) == 0
    assert [r.seq for r in repo.unpublished_reports()] == [2]
    assert repo.mark_published([]) == 0


def test_given_batch_of_reports_then_stored_in_order_in_one_go_and_repeats_flagged(repo) -> None:
    a, b = make_order("cycle-a", quantity=10), make_order("cycle-b", quantity=10)
    repo.insert_order(a)
    repo.insert_order(b)
    accepted_a = report(a, 1, ExecStatus.ACCEPTED)
    batch = [
        accepted_a,
        report(b, 1, ExecStatus.ACCEPTED),
        report(a, 2, ExecStatus.FILLED, 10, last=10, price=5000.0, avg=5000.0, fees=1.0),
        accepted_a,
    ]
    assert repo.record_reports(batch) == [True, True, True, False]
    stored = repo.get_order(a.client_order_id)
    assert stored is not None and stored.status is ExecStatus.FILLED and stored.fees == 1.0
    assert [r.exec_id for r in repo.reports()] == [r.exec_id for r in batch[:3]]


def test_given_batch_with_a_refused_report_then_nothing_of_it_is_stored(repo) -> None:
    a, unknown = make_order("cycle-a"), make_order("cycle-x")
    repo.insert_order(a)
    with pytest.raises(UnknownOrder, match=unknown.client_order_id):
        repo.record_reports(
            [report(a, 1, ExecStatus.ACCEPTED), report(unknown, 1, ExecStatus.ACCEPTED)]
        )
    with pytest.raises(ConflictingReport):
        repo.record_reports(
            [report(a, 1, ExecStatus.ACCEPTED), report(a, 1, ExecStatus.ACCEPTED, exec_id="again")]
        )
    assert repo.reports() == []
    stored = repo.get_order(a.client_order_id)
    assert stored is not None and stored.status is None


def test_given_orders_received_over_time_then_orders_and_reports_filter_by_arrival(repo) -> None:
    old, new = make_order("cycle-old"), make_order("cycle-new")
    assert repo.insert_order(old, received_at=T0)
    assert repo.insert_order(new, received_at=T0 + timedelta(hours=1))
    repo.record_reports([report(old, 1, ExecStatus.ACCEPTED), report(new, 1, ExecStatus.ACCEPTED)])

    since = T0 + timedelta(minutes=30)
    assert [o.client_order_id for o in repo.orders()] == [old.client_order_id, new.client_order_id]
    assert [o.client_order_id for o in repo.orders(received_since=since)] == [new.client_order_id]
    assert [r.client_order_id for r in repo.reports(received_since=since)] == [new.client_order_id]


def test_given_a_switch_engaged_then_released_then_the_last_setting_is_kept(repo, sessions) -> None:
    assert repo.switches() == {}
    repo.set_switch(Switch("kill", True, "runaway algo", "ops-1", T0))
    repo.set_switch(Switch("kill", False, "fixed", "ops-2", T0 + timedelta(minutes=5)))

    (kill,) = ExecutionRepository(sessions).switches().values()
    assert kill == Switch("kill", False, "fixed", "ops-2", T0 + timedelta(minutes=5))
