"""FixRepository: session numbers and messages survive a restart, a ClOrdID is used once, and
execution reports not yet turned into messages are found again."""

from __future__ import annotations

import pytest
from store_examples import T0, make_order, report

from hedgemesh.store.execution import ExecutionRepository
from hedgemesh.store.fix import FixRepository, FixRequest, RequestKind, SentMessage
from hedgemesh.wire import ExecStatus


@pytest.fixture
def repo(sessions) -> FixRepository:
    return FixRepository(sessions)


def _message(seq: int | None, exec_id: str | None = None) -> SentMessage:
    return SentMessage(
        "C1", seq, "8", ((17, f"E{seq}"), (58, "a b=c")), "20260302-14:30:00.000", exec_id
    )


def _request(cl_ord_id: str, coid: str, kind: RequestKind = RequestKind.NEW) -> FixRequest:
    return FixRequest("C1", cl_ord_id, kind, coid, None, 100, T0)


def test_numbers_and_messages_are_kept_and_read_back_by_range(repo) -> None:
    assert repo.sessions() == {}
    repo.save("C1", 3, 5, [_message(2, "x-1"), _message(3, "x-2"), _message(4)])
    repo.save("C1", 4, 6, [_message(5), _message(None, "x-3")])
    assert repo.sessions() == {"C1": (4, 6)}
    assert [m.seq for m in repo.messages("C1", 3)] == [3, 4, 5]
    assert [m.seq for m in repo.messages("C1", 2, 3)] == [2, 3]
    assert repo.messages("C1", 2, 2)[0].body == ((17, "E2"), (58, "a b=c"))
    # a report stored twice is kept once
    repo.save("C1", 4, 7, [_message(6, "x-1")])
    assert [m.seq for m in repo.messages("C1", 1)] == [2, 3, 4, 5]
    # a reset drops the messages
    repo.save("C1", 1, 2, [], reset=True)
    assert repo.messages("C1", 1) == [] and repo.sessions() == {"C1": (1, 2)}


def test_a_clordid_is_used_once_with_its_order_stored_in_the_same_transaction(
    repo, sessions
) -> None:
    orders = ExecutionRepository(sessions)
    first = make_order("fix-1")
    assert repo.insert_new(first, _request("A", first.client_order_id))
    assert orders.get_order(first.client_order_id) is not None
    other = make_order("fix-2")
    assert not repo.insert_new(other, _request("A", other.client_order_id))
    assert orders.get_order(other.client_order_id) is None
    cancel = _request("A-cxl", first.client_order_id, RequestKind.CANCEL)
    assert repo.insert_request(cancel) and not repo.insert_request(cancel)
    assert [r.cl_ord_id for r in repo.requests([first.client_order_id])] == ["A", "A-cxl"]
    assert {r.cl_ord_id for r in repo.working_requests()} == {"A", "A-cxl"}
    orders.record_report(report(first, 1, ExecStatus.CANCELLED))
    assert repo.working_requests() == []


def test_reports_not_yet_turned_into_messages_are_found(repo, sessions) -> None:
    orders = ExecutionRepository(sessions)
    hedge, fix = make_order("hedge"), make_order("fix")
    orders.insert_order(hedge)
    repo.insert_new(fix, _request("A", fix.client_order_id))
    first, second = report(fix, 1, ExecStatus.ACCEPTED), report(fix, 2, ExecStatus.CANCELLED)
    orders.record_reports([report(hedge, 1, ExecStatus.ACCEPTED), first, second])
    assert [r.exec_id for r in repo.unsent_reports()] == [first.exec_id, second.exec_id]
    repo.save("C1", 2, 3, [_message(2, first.exec_id), _message(None, second.exec_id)])
    assert repo.unsent_reports() == []
