"""Instruments and messages for the ledger tests, deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hedgemesh.wire import (
    ClientTrade,
    ExecStatus,
    ExecutionReport,
    Instrument,
    Side,
    Surface,
    SviSlice,
    Tick,
)

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
EXPIRY = datetime(2026, 12, 18, 21, tzinfo=UTC)
SPX = Instrument.spot("SPX")
CALL = Instrument.option("SPX", EXPIRY, 5000, "call")
PUT = Instrument.option("SPX", EXPIRY, 4500, "put")
NDX = Instrument.spot("NDX")


def trade(
    trade_id: str, instrument: Instrument, quantity: int, price: float, seq: int = 0
) -> ClientTrade:
    """A client trade; `quantity` is the book's signed quantity (+ the book bought)."""
    return ClientTrade(
        id=f"msg-{trade_id}",
        ts=T0 + timedelta(seconds=seq),
        trade_id=trade_id,
        instrument=instrument,
        side=Side.of(quantity),
        quantity=abs(quantity),
        price=price,
        counterparty="client-1",
    )


def fill(
    exec_id: str, instrument: Instrument, quantity: int, price: float, fees: float = 0.0
) -> ExecutionReport:
    """A hedge order of `quantity` (signed) filled in full at `price` in one report."""
    return ExecutionReport(
        id=f"msg-{exec_id}",
        ts=T0,
        client_order_id=f"order-{exec_id}",
        exec_id=exec_id,
        seq=2,
        cycle_id="cycle-1",
        instrument=instrument,
        side=Side.of(quantity),
        status=ExecStatus.FILLED,
        order_quantity=abs(quantity),
        cum_quantity=abs(quantity),
        leaves_quantity=0,
        last_quantity=abs(quantity),
        last_price=price,
        avg_price=price,
        fees=fees,
    )


def accepted(exec_id: str, instrument: Instrument, quantity: int) -> ExecutionReport:
    return ExecutionReport(
        id=f"msg-{exec_id}",
        ts=T0,
        client_order_id=f"order-{exec_id}",
        exec_id=exec_id,
        seq=1,
        cycle_id="cycle-1",
        instrument=instrument,
        side=Side.of(quantity),
        status=ExecStatus.ACCEPTED,
        order_quantity=abs(quantity),
        cum_quantity=0,
        leaves_quantity=abs(quantity),
    )


def tick(price: float, underlying: str = "SPX", seq: int = 1) -> Tick:
    return Tick(id=f"tick-{seq}", ts=T0, underlying=underlying, price=price, seq=seq)


def surface(spot: float, rho: float = -0.6, ts: datetime = T0) -> Surface:
    """One SVI slice at `EXPIRY` (skewed: `rho`), forward at spot (no carry)."""
    t = (EXPIRY - ts).total_seconds() / (365 * 86_400)
    return Surface(
        id="surface-1",
        ts=ts,
        underlying="SPX",
        spot=spot,
        rate=0.0,
        div=0.0,
        slices=[
            SviSlice(expiry=EXPIRY, t=t, forward=spot, a=0.02, b=0.1, rho=rho, m=0.0, sigma=0.1)
        ],
        seq=1,
    )
