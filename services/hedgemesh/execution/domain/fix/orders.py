"""FIX orders ↔ execution's orders and reports, pure.

- `order_from(message, ...)`: a NewOrderSingle (or the new side of an
  OrderCancelReplaceRequest) as a wire `Order` of the counterparty, or a `Refusal` (an
  ExecutionReport Rejected with OrdRejReason) for what execution cannot take: an unknown
  symbol, a side, order type or time in force not served, a quantity or price not a positive
  number, a ClOrdID that is not a wire id.
- `FixOrders`: which ClOrdID made, replaced or cancels which of execution's orders, and
  `message_for(report)`: the ExecutionReport (35=8) an execution report becomes (None: the
  cancel of an order a replace took over, which the Replaced report stands for).

Execution's order id is derived from (counterparty, ClOrdID) (`internal_id`), so a ClOrdID
names the same order after a restart. A replace is a new order for what is left
(new OrderQty − filled so far) under the new ClOrdID, once the old one is cancelled; its
reports carry the filled quantity over (`carried_qty`, `carried_notional`), so CumQty, AvgPx
and LeavesQty read as one order to the counterparty.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from hedgemesh.execution.domain.fix.codec import FixMessage, Tag, fix_time
from hedgemesh.records.fix import FixRequest, RequestKind
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.instruments import Instrument, Side
from hedgemesh.wire.orders import (
    ExecStatus,
    ExecutionReport,
    MarketableLimit,
    Order,
    OrderType,
    TimeInForce,
)

_WIRE_ID = re.compile(r"[\x21-\x7e]{1,128}")
_SIDES = {"1": Side.BUY, "2": Side.SELL}
_FIX_SIDE = {Side.BUY: "1", Side.SELL: "2"}
_ORD_TYPES = {"1": OrderType.MARKET, "2": OrderType.LIMIT}
_TIFS = {"0": TimeInForce.DAY, "1": TimeInForce.GTC, "3": TimeInForce.IOC, "4": TimeInForce.FOK}
#: ExecType (150) and OrdStatus (39) of each status (a fill's OrdStatus depends on CumQty).
_EXEC_TYPE = {
    ExecStatus.ACCEPTED: "0",
    ExecStatus.PARTIALLY_FILLED: "F",
    ExecStatus.FILLED: "F",
    ExecStatus.CANCELLED: "4",
    ExecStatus.REJECTED: "8",
    ExecStatus.EXPIRED: "C",
}
REPLACED = "5"


class OrdRejReason:
    """OrdRejReason (103)."""

    BROKER_OPTION = 0
    UNKNOWN_SYMBOL = 1
    EXCHANGE_CLOSED = 2
    EXCEEDS_LIMIT = 3
    UNKNOWN_ORDER = 5
    DUPLICATE_ORDER = 6
    UNSUPPORTED_CHARACTERISTIC = 11
    INCORRECT_QUANTITY = 13
    OTHER = 99


_REJECT_REASON = {
    ReasonCode.UNKNOWN_INSTRUMENT: OrdRejReason.UNKNOWN_SYMBOL,
    ReasonCode.INSTRUMENT_EXPIRED: OrdRejReason.UNKNOWN_SYMBOL,
    ReasonCode.QUANTITY_EXCEEDS_MAXIMUM: OrdRejReason.INCORRECT_QUANTITY,
    ReasonCode.NOTIONAL_EXCEEDS_MAXIMUM: OrdRejReason.EXCEEDS_LIMIT,
    ReasonCode.PRICE_COLLAR: OrdRejReason.EXCEEDS_LIMIT,
    ReasonCode.DAILY_NOTIONAL_EXCEEDED: OrdRejReason.EXCEEDS_LIMIT,
    ReasonCode.DAILY_LOSS_LIMIT: OrdRejReason.EXCEEDS_LIMIT,
    ReasonCode.ORDER_RATE_EXCEEDED: OrdRejReason.EXCEEDS_LIMIT,
    ReasonCode.KILL_SWITCH: OrdRejReason.EXCHANGE_CLOSED,
    ReasonCode.DUPLICATE: OrdRejReason.DUPLICATE_ORDER,
    ReasonCode.INVALID_REQUEST: OrdRejReason.UNSUPPORTED_CHARACTERISTIC,
}


def internal_id(counterparty: str, cl_ord_id: str) -> str:
    """Execution's client order id for a counterparty's ClOrdID (deterministic).

    >>> internal_id("CLIENT1", "A-1")
    'fix-4e20a949fedc9c738bbdb8a3cfa80657'
    """
    digest = hashlib.sha256(f"{counterparty}\x1f{cl_ord_id}".encode()).hexdigest()[:32]
    return f"fix-{digest}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an order is refused before execution sees it (OrdRejReason and text)."""

    reason: int
    text: str


def _positive(text: str | None, kind: type[int] | type[float]) -> int | float | None:
    try:
        value = kind(text or "")
    except ValueError:
        return None
    return value if value > 0 and value == value else None  # NaN != NaN


def order_from(
    msg: FixMessage, counterparty: str, at: datetime, *, quantity: int | None = None
) -> Order | Refusal:
    """The wire Order a NewOrderSingle (or a replace's new side, with `quantity` what is left
    to work) asks for, or why it cannot be taken."""
    cl_ord_id = msg.get(Tag.CL_ORD_ID) or ""
    if not _WIRE_ID.fullmatch(cl_ord_id):
        return Refusal(OrdRejReason.OTHER, "ClOrdID must be 1-128 printable characters")
    try:
        instrument = Instrument.parse(msg.get(Tag.SYMBOL) or "")
    except ValueError as error:
        return Refusal(OrdRejReason.UNKNOWN_SYMBOL, str(error))
    side = _SIDES.get(msg.get(Tag.SIDE) or "")
    if side is None:
        return Refusal(OrdRejReason.UNSUPPORTED_CHARACTERISTIC, "Side must be 1 (buy) or 2 (sell)")
    order_type = _ORD_TYPES.get(msg.get(Tag.ORD_TYPE) or "")
    if order_type is None:
        text = "OrdType must be 1 (market) or 2 (limit)"
        return Refusal(OrdRejReason.UNSUPPORTED_CHARACTERISTIC, text)
    tif = _TIFS.get(msg.get(Tag.TIME_IN_FORCE) or "0")
    if tif is None:
        text = "TimeInForce must be 0 (day), 1 (GTC), 3 (IOC) or 4 (FOK)"
        return Refusal(OrdRejReason.UNSUPPORTED_CHARACTERISTIC, text)
    total = _positive(msg.get(Tag.ORDER_QTY), int)
    if total is None:
        return Refusal(OrdRejReason.INCORRECT_QUANTITY, "OrderQty must be a positive integer")
    price = None
    if order_type is OrderType.LIMIT:
        price = _positive(msg.get(Tag.PRICE), float)
        if price is None:
            return Refusal(OrdRejReason.OTHER, "a limit order needs a positive Price (44)")
    elif tif not in (TimeInForce.IOC, TimeInForce.FOK):
        tif = TimeInForce.IOC  # a market order's rest is cancelled, never left resting
    coid = internal_id(counterparty, cl_ord_id)
    try:
        return Order(
            id=coid,
            ts=at,
            client_order_id=coid,
            instrument=instrument,
            side=side,
            quantity=int(quantity if quantity is not None else total),
            order_type=order_type,
            limit_price=price,
            time_in_force=tif,
            algo=MarketableLimit(),
            cycle_id=f"fix-{counterparty}"[:128],
            epoch=0,
            decision_ids=[coid],
            counterparty=counterparty,
        )
    except ValueError as error:
        return Refusal(OrdRejReason.OTHER, str(error).splitlines()[0])


def rejection_body(
    msg: FixMessage, refusal: Refusal, exec_id: str, at: datetime
) -> list[tuple[int, object]]:
    """An ExecutionReport Rejected for an order execution never saw."""
    return [
        (Tag.ORDER_ID, "NONE"),
        (Tag.CL_ORD_ID, msg.get(Tag.CL_ORD_ID)),
        (Tag.EXEC_ID, exec_id),
        (Tag.EXEC_TYPE, "8"),
        (Tag.ORD_STATUS, "8"),
        (Tag.ORD_REJ_REASON, refusal.reason),
        (Tag.SYMBOL, msg.get(Tag.SYMBOL)),
        (Tag.SIDE, msg.get(Tag.SIDE)),
        (Tag.ORDER_QTY, msg.get(Tag.ORDER_QTY) or 0),
        (Tag.LEAVES_QTY, 0),
        (Tag.CUM_QTY, 0),
        (Tag.AVG_PX, 0),
        (Tag.TRANSACT_TIME, fix_time(at)),
        (Tag.TEXT, refusal.text[:200]),
    ]


def cancel_reject_body(
    msg: FixMessage, *, order_id: str, ord_status: str, reason: int, text: str
) -> list[tuple[int, object]]:
    """An OrderCancelReject (35=9) answering a cancel (434=1) or replace (434=2) request;
    CxlRejReason (102): 0 too late, 1 unknown order, 2 broker option, 6 duplicate ClOrdID."""
    response_to = "2" if msg.msg_type == "G" else "1"
    return [
        (Tag.ORDER_ID, order_id),
        (Tag.CL_ORD_ID, msg.get(Tag.CL_ORD_ID)),
        (Tag.ORIG_CL_ORD_ID, msg.get(Tag.ORIG_CL_ORD_ID)),
        (Tag.ORD_STATUS, ord_status),
        (Tag.CXL_REJ_RESPONSE_TO, response_to),
        (Tag.CXL_REJ_REASON, reason),
        (Tag.TEXT, text[:200]),
    ]


class FixOrders:
    """Which ClOrdID made, replaced or cancels which order (see the module docstring)."""

    def __init__(self) -> None:
        self.made: dict[str, FixRequest] = {}
        """Execution's order id → the NewOrderSingle or replace that made it."""
        self.cancel_of: dict[str, FixRequest] = {}
        """Execution's order id → the cancel request asked of it."""
        self.replaced_by: dict[str, FixRequest] = {}
        """Execution's order id → the replace taking over from it."""

    def learn(self, request: FixRequest) -> None:
        """Remember a request (as it is stored; at start-up, every working one)."""
        if request.kind is RequestKind.CANCEL:
            self.cancel_of[request.client_order_id] = request
            return
        self.made[request.client_order_id] = request
        if request.kind is RequestKind.REPLACE and request.orig_cl_ord_id is not None:
            original = internal_id(request.counterparty, request.orig_cl_ord_id)
            self.replaced_by[original] = request

    def forget(self, request: FixRequest) -> None:
        """Undo `learn` (a request the store refused)."""
        if request.kind is RequestKind.CANCEL:
            self.cancel_of.pop(request.client_order_id, None)
            return
        self.made.pop(request.client_order_id, None)
        if request.kind is RequestKind.REPLACE and request.orig_cl_ord_id is not None:
            self.replaced_by.pop(internal_id(request.counterparty, request.orig_cl_ord_id), None)

    def message_for(
        self, report: ExecutionReport
    ) -> tuple[FixRequest, list[tuple[int, object]] | None] | None:
        """The request `report` answers and the ExecutionReport body for it (None: no message,
        the cancel of a replaced order); None when it is no FIX order's report."""
        coid = report.client_order_id
        made = self.made.get(coid)
        if made is None:
            return None
        status = report.status
        if report.is_terminal:
            self.made.pop(coid, None)
            cancel = self.cancel_of.pop(coid, None)
            replaced = self.replaced_by.pop(coid, None)
        else:
            cancel = self.cancel_of.get(coid)
            replaced = None
        if replaced is not None and status is ExecStatus.CANCELLED:
            return made, None
        cum = made.carried_qty + report.cum_quantity
        notional = made.carried_notional + (report.avg_price or 0.0) * report.cum_quantity
        exec_type = _EXEC_TYPE[status]
        if status is ExecStatus.ACCEPTED and made.kind is RequestKind.REPLACE:
            exec_type = REPLACED
        ord_status = _ord_status(status, exec_type, cum, made.order_qty)
        cl_ord_id, orig = made.cl_ord_id, made.orig_cl_ord_id
        if status is ExecStatus.CANCELLED and cancel is not None:
            cl_ord_id, orig = cancel.cl_ord_id, made.cl_ord_id
        body: list[tuple[int, object]] = [
            (Tag.ORDER_ID, coid),
            (Tag.CL_ORD_ID, cl_ord_id),
        ]
        if orig is not None and (exec_type in (REPLACED, "4") or status is ExecStatus.REJECTED):
            body.append((Tag.ORIG_CL_ORD_ID, orig))
        body += [
            (Tag.EXEC_ID, report.exec_id),
            (Tag.EXEC_TYPE, exec_type),
            (Tag.ORD_STATUS, ord_status),
        ]
        if status is ExecStatus.REJECTED:
            code = report.reason_code
            reason = (
                OrdRejReason.OTHER if code is None else _REJECT_REASON.get(code, OrdRejReason.OTHER)
            )
            body.append((Tag.ORD_REJ_REASON, reason))
        body += [
            (Tag.SYMBOL, report.instrument.symbol),
            (Tag.SIDE, _FIX_SIDE[report.side]),
            (Tag.ORDER_QTY, made.order_qty),
            (Tag.LEAVES_QTY, report.leaves_quantity),
            (Tag.CUM_QTY, cum),
            (Tag.AVG_PX, _price(notional / cum) if cum else 0),
        ]
        if report.is_fill:
            body += [(Tag.LAST_QTY, report.last_quantity), (Tag.LAST_PX, _price(report.last_price))]
        body.append((Tag.TRANSACT_TIME, fix_time(report.ts)))
        if report.reason_code is not None or report.text:
            why = f"{report.reason_code.value}: " if report.reason_code is not None else ""
            body.append((Tag.TEXT, (why + report.text)[:200]))
        return made, body


def _ord_status(status: ExecStatus, exec_type: str, cum: int, order_qty: int) -> str:
    if status in (ExecStatus.ACCEPTED, ExecStatus.PARTIALLY_FILLED, ExecStatus.FILLED):
        if cum >= order_qty:
            return "2"
        return "1" if cum else "0"
    return exec_type


def _price(value: float | None) -> str:
    """A price as FIX text: enough digits, no exponent."""
    return f"{value or 0.0:.10f}".rstrip("0").rstrip(".") or "0"
