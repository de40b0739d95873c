"""Wire messages for store and ledger tests, built deterministically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hedgemesh.wire import (
    ExecStatus,
    ExecutionReport,
    Instrument,
    MarketableLimit,
    Order,
    OrderType,
    Side,
    TimeInForce,
    client_order_id,
)

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
SPX = Instrument.spot("SPX")
CALL = Instrument.option("SPX", datetime(2026, 12, 18, 21, tzinfo=UTC), 5000, "call")


def make_order(
    cycle: str = "cycle-1",
    instrument: Instrument = SPX,
    side: Side = Side.BUY,
    quantity: int = 100,
    *,
    limit_price: float = 5010.0,
    epoch: int = 7,
    attempt: int = 0,
    ts: datetime = T0,
) -> Order:
    coid = client_order_id(cycle, instrument, attempt)
    return Order(
        id=f"order-{coid}",
        ts=ts,
        client_order_id=coid,
        instrument=instrument,
        side=side,
        quantity=quantity,
        order_type=OrderType.LIMIT,
        limit_price=limit_price,
        time_in_force=TimeInForce.DAY,
        algo=MarketableLimit(),
        cycle_id=cycle,
        epoch=epoch,
        decision_ids=[f"decision-{cycle}"],
    )


def report(
    order: Order,
    seq: int,
    status: ExecStatus,
    cum: int = 0,
    *,
    last: int | None = None,
    price: float | None = None,
    avg: float | None = None,
    fees: float = 0.0,
    exec_id: str | None = None,
    **extra,
) -> ExecutionReport:
    """A report on `order`; leaves follow from the status (0 once final)."""
    final = status in (ExecStatus.FILLED, ExecStatus.CANCELLED, ExecStatus.REJECTED)
    return ExecutionReport(
        id=f"msg-{order.client_order_id}-{seq}",
        ts=order.ts + timedelta(seconds=seq),
        client_order_id=order.client_order_id,
        exec_id=exec_id or f"{order.client_order_id}-{seq}",
        seq=seq,
        cycle_id=order.cycle_id,
        instrument=order.instrument,
        side=order.side,
        status=status,
        order_quantity=order.quantity,
        cum_quantity=cum,
        leaves_quantity=0 if final else order.quantity - cum,
        last_quantity=last,
        last_price=price,
        avg_price=avg,
        fees=fees,
        **extra,
    )
