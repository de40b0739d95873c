"""FIX orders ↔ execution's orders and reports (pure): what a NewOrderSingle becomes, what is
refused before execution, and the ExecutionReports a replace and a cancel read as."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime

import pytest

from hedgemesh.execution.domain.fix import orders as fix_orders
from hedgemesh.execution.domain.fix.codec import Tag
from hedgemesh.execution.domain.fix.orders import (
    FixOrders,
    OrdRejReason,
    Refusal,
    internal_id,
    order_from,
)
from hedgemesh.records.fix import FixRequest, RequestKind
from hedgemesh.wire import ExecStatus, ExecutionReport, Instrument, Order, Side

from .fix_examples import frame, new_order

AT = datetime(2026, 1, 5, 15, tzinfo=UTC)


def test_doctests() -> None:
    assert doctest.testmod(fix_orders).failed == 0


@pytest.mark.parametrize(
    ("ord_type", "tif", "price", "expected_tif"),
    [
        ("2", None, 5000.0, "day"),
        ("2", "1", 5000.0, "gtc"),
        ("2", "3", 5000.0, "ioc"),
        ("2", "4", 5000.0, "fok"),
        ("1", None, None, "ioc"),  # a market order's rest never rests
        ("1", "4", None, "fok"),
    ],
)
def test_a_new_order_single_becomes_the_clients_order(ord_type, tif, price, expected_tif) -> None:
    msg = frame(new_order("A-1", seq=2, qty=7, side="2", ord_type=ord_type, price=price, tif=tif))
    order = order_from(msg, "CLIENT1", AT)
    assert isinstance(order, Order)
    assert order.client_order_id == internal_id("CLIENT1", "A-1")
    assert (order.side, order.quantity, order.limit_price) == (Side.SELL, 7, price)
    assert order.time_in_force.value == expected_tif
    assert order.counterparty == "CLIENT1" and order.epoch == 0


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"symbol": "spx?"}, OrdRejReason.UNKNOWN_SYMBOL),
        ({"side": "5"}, OrdRejReason.UNSUPPORTED_CHARACTERISTIC),
        ({"ord_type": "3"}, OrdRejReason.UNSUPPORTED_CHARACTERISTIC),
        ({"tif": "6"}, OrdRejReason.UNSUPPORTED_CHARACTERISTIC),
        ({"qty": 0}, OrdRejReason.INCORRECT_QUANTITY),
        ({"ord_type": "2"}, OrdRejReason.OTHER),  # a limit without a price
    ],
)
def test_what_execution_cannot_take_is_refused_with_a_reason(changes, reason) -> None:
    fields = {"seq": 2, "qty": 1, "ord_type": "1"} | changes
    refusal = order_from(frame(new_order("A-1", **fields)), "CLIENT1", AT)
    assert isinstance(refusal, Refusal) and refusal.reason == reason


def _report(coid: str, seq: int, status: ExecStatus, cum: int, qty: int, **more) -> ExecutionReport:
    return ExecutionReport(
        id=f"{coid}-{seq}", ts=AT, client_order_id=coid, exec_id=f"{coid}-{seq}", seq=seq,
        cycle_id="fix-C", instrument=Instrument.spot("SPX"), side=Side.BUY, status=status,
        order_quantity=qty, cum_quantity=cum,
        leaves_quantity=0 if status in (ExecStatus.CANCELLED, ExecStatus.FILLED) else qty - cum,
        counterparty="C", **more,
    )  # fmt: skip


def _fill(coid: str, seq: int, cum: int, qty: int, price: float, avg: float) -> ExecutionReport:
    status = ExecStatus.PARTIALLY_FILLED
    return _report(coid, seq, status, cum, qty, last_quantity=cum, last_price=price, avg_price=avg)


def test_a_replace_reads_as_one_order_and_a_cancel_answers_its_own_clordid() -> None:
    book = FixOrders()
    first, second = internal_id("C", "A"), internal_id("C", "B")
    book.learn(FixRequest("C", "A", RequestKind.NEW, first, None, 10, AT))
    fill = _fill(first, 2, 4, 10, 100.0, 100.0)
    _, body = book.message_for(fill)
    assert dict(body)[Tag.CUM_QTY] == 4 and dict(body)[Tag.ORD_STATUS] == "1"
    # replace A (4 filled at 100) by B for 20 in all: B works the 16 left
    book.learn(FixRequest("C", "B", RequestKind.REPLACE, second, "A", 20, AT, 4, 400.0))
    cancelled = _report(first, 3, ExecStatus.CANCELLED, 4, 10, avg_price=100.0)
    assert book.message_for(cancelled)[1] is None  # the Replaced report stands for it
    _, body = book.message_for(_report(second, 1, ExecStatus.ACCEPTED, 0, 16))
    fields = dict(body)
    assert (fields[Tag.EXEC_TYPE], fields[Tag.ORD_STATUS]) == ("5", "1")
    assert (fields[Tag.CL_ORD_ID], fields[Tag.ORIG_CL_ORD_ID]) == ("B", "A")
    assert (fields[Tag.ORDER_QTY], fields[Tag.CUM_QTY], fields[Tag.LEAVES_QTY]) == (20, 4, 16)
    fill = _fill(second, 2, 6, 16, 110.0, 110.0)
    fields = dict(book.message_for(fill)[1])
    assert fields[Tag.CUM_QTY] == 10 and fields[Tag.AVG_PX] == "106"
    # a cancel of B: answered under the cancel's ClOrdID
    book.learn(FixRequest("C", "X", RequestKind.CANCEL, second, "B", 20, AT))
    fields = dict(
        book.message_for(_report(second, 3, ExecStatus.CANCELLED, 6, 16, avg_price=110.0))[1]
    )
    assert (fields[Tag.EXEC_TYPE], fields[Tag.CL_ORD_ID], fields[Tag.ORIG_CL_ORD_ID]) == (
        "4",
        "X",
        "B",
    )
    assert book.made == {} and book.cancel_of == {} and book.replaced_by == {}
    hedge = _report("SPX-abc", 1, ExecStatus.ACCEPTED, 0, 5)
    assert book.message_for(hedge) is None
