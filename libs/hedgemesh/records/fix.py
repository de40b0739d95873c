"""The FIX gateway's records: application messages sent (kept for resend) and the ClOrdIDs a
counterparty used. Plain frozen dataclasses (no I/O): `hedgemesh.store.fix` keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["FixRequest", "RequestKind", "SentMessage"]


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message we numbered for a counterparty: an application message (its type, body and
    first SendingTime, to resend it with PossDupFlag), or, with `seq` None, an execution
    report that maps to no FIX message (the cancel of an order a replace took over). `exec_id`:
    the execution report it came from, so that each is sent once."""

    counterparty: str
    seq: int | None
    msg_type: str
    body: tuple[tuple[int, str], ...]
    sent_at: str
    exec_id: str | None = None


class RequestKind(StrEnum):
    NEW = "new"  # NewOrderSingle: an order of its own
    REPLACE = "replace"  # OrderCancelReplaceRequest: an order taking over another's rest
    CANCEL = "cancel"  # OrderCancelRequest


@dataclass(frozen=True, slots=True)
class FixRequest:
    """A ClOrdID a counterparty used (unique per counterparty, across restarts).

    `client_order_id` is execution's order it created (new, replace) or targets (cancel);
    `order_qty` the FIX OrderQty (a replace: the new total, of which `carried_qty` was filled
    under the ClOrdIDs it replaced, for `carried_notional` = Σ price × quantity)."""

    counterparty: str
    cl_ord_id: str
    kind: RequestKind
    client_order_id: str
    orig_cl_ord_id: str | None
    order_qty: int
    received_at: datetime
    carried_qty: int = 0
    carried_notional: float = 0.0
