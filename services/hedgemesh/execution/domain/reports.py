"""One order's execution reports: deterministic exec ids, per-order seq, prices in currency, fees.

`OrderRecord` turns the venue's `ParentUpdate`s (prices in ticks) into wire `ExecutionReport`s
and numbers them. Report n of order `c` has exec id (and message id) `c-n`, so the same report
made again after a crash carries the same `Nats-Msg-Id` and JetStream or the ledger drops the
repeat. Pure: no I/O, time is an argument (seconds since the Unix epoch).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from hedgemesh.venue.algos import ParentUpdate
from hedgemesh.venue.book import ticks_to_price
from hedgemesh.venue.spec import BookSpec
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.orders import ExecStatus, ExecutionReport, Order, TimeInForce

_TEXT_LIMIT = 1024
#: The longest wire `Id` (`hedgemesh.wire.base.Id`).
MAX_ID_LENGTH = 128


def exec_id(client_order_id: str, seq: int) -> str:
    """The id of report `seq` on an order: `<client order id>-<seq>`, or a hash of the client
    order id in its place when that would be longer than a wire id may be.

    >>> exec_id("SPX-abc", 3)
    'SPX-abc-3'
    """
    candidate = f"{client_order_id}-{seq}"
    if len(candidate) <= MAX_ID_LENGTH:
        return candidate
    digest = hashlib.sha256(client_order_id.encode()).hexdigest()[:40]
    return f"x-{digest}-{seq}"


def utc(seconds: float) -> datetime:
    """Seconds since the Unix epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(slots=True)
class OrderRecord:
    """An order execution is working (or judging), and the reports made on it so far."""

    order: Order
    book: BookSpec
    """The spec of its book: the tick size of its prices, its fees."""
    seq: int = 0
    """Seq of the last report made (stored reports included, after a restart)."""
    status: ExecStatus | None = None
    expiring: bool = False
    """Its cancellation was asked because its time ran out: report EXPIRED, not CANCELLED."""
    waiting_since: float | None = None
    """When it started waiting for market data of its underlying (None: not waiting)."""
    resume: dict[str, float | int] | None = None
    """How far it was worked before a restart: `cum_quantity`, `cum_notional_ticks`,
    `started_at` (the algorithm's resume arguments); None for an order never accepted."""
    closes_at: float | None = None
    """A day order expires at this time (seconds since the Unix epoch)."""
    arrival_price: float | None = None
    """The venue's mid (or fair value) when the order was first worked; on every report."""

    @property
    def client_order_id(self) -> str:
        return self.order.client_order_id

    @property
    def tick_size(self) -> float:
        return self.book.tick_size

    @property
    def symbol(self) -> str:
        return self.order.instrument.symbol

    @property
    def is_day(self) -> bool:
        return self.order.time_in_force is TimeInForce.DAY

    def report(
        self, update: ParentUpdate, now: float, mid_after: float | None = None
    ) -> ExecutionReport:
        """The next report, from the venue's update (prices from ticks to currency);
        `mid_after`: the venue's mid after a fill."""
        status = update.status
        if status is ExecStatus.CANCELLED and self.expiring:
            status = ExecStatus.EXPIRED
        last_price = None
        fee = 0.0
        if update.last_price is not None and update.last_quantity is not None:
            last_price = ticks_to_price(update.last_price, self.tick_size)
            fee = self.book.fee(update.last_quantity, last_price, self.order.instrument.multiplier)
        avg = None if update.avg_price is None else ticks_to_price(update.avg_price, self.tick_size)
        return self._next(
            status,
            now,
            cum=update.cum_quantity,
            leaves=update.leaves_quantity,
            last_quantity=update.last_quantity,
            last_price=last_price,
            avg_price=avg,
            fees=fee,
            reason=update.reason,
            text=update.text,
            mid_after=mid_after if last_price is not None else None,
        )

    def rejected(self, reason: ReasonCode, text: str, now: float) -> ExecutionReport:
        """REJECTED before anything was worked."""
        return self._next(ExecStatus.REJECTED, now, cum=0, leaves=0, reason=reason, text=text)

    def expired(self, reason: ReasonCode, text: str, now: float) -> ExecutionReport:
        """EXPIRED without the venue (an order waiting for market data when its time ran out)."""
        return self.closed(ExecStatus.EXPIRED, reason, text, now)

    def closed(
        self, status: ExecStatus, reason: ReasonCode, text: str, now: float
    ) -> ExecutionReport:
        """CANCELLED or EXPIRED without the venue, keeping what a resumed order had filled."""
        resume = self.resume or {}
        cum = int(resume.get("cum_quantity", 0))
        notional = float(resume.get("cum_notional_ticks", 0))
        avg = ticks_to_price(notional / cum, self.tick_size) if cum else None
        return self._next(status, now, cum=cum, leaves=0, avg_price=avg, reason=reason, text=text)

    def _next(
        self,
        status: ExecStatus,
        now: float,
        *,
        cum: int,
        leaves: int,
        last_quantity: int | None = None,
        last_price: float | None = None,
        avg_price: float | None = None,
        fees: float = 0.0,
        reason: ReasonCode | None = None,
        text: str = "",
        mid_after: float | None = None,
    ) -> ExecutionReport:
        self.seq += 1
        self.status = status
        order = self.order
        ident = exec_id(order.client_order_id, self.seq)
        return ExecutionReport(
            id=ident,
            ts=utc(now),
            client_order_id=order.client_order_id,
            exec_id=ident,
            seq=self.seq,
            cycle_id=order.cycle_id,
            instrument=order.instrument,
            side=order.side,
            status=status,
            order_quantity=order.quantity,
            cum_quantity=cum,
            leaves_quantity=leaves,
            last_quantity=last_quantity,
            last_price=last_price,
            avg_price=avg_price,
            fees=fees,
            reason_code=reason,
            text=text[:_TEXT_LIMIT],
            counterparty=order.counterparty,
            arrival_price=self.arrival_price,
            mid_after=mid_after,
        )
