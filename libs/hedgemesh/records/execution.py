"""Execution's records: an order as stored with its working state, and a switch (the kill
switch). Plain frozen dataclasses (no I/O): `hedgemesh.store.execution` reads them back, the
engine resumes from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hedgemesh.wire.orders import ExecStatus, Order

__all__ = ["StoredOrder", "Switch"]


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order as execution stored it, with its working state.

    `status` is None until the first report (received, not yet accepted or rejected).
    """

    order: Order
    status: ExecStatus | None
    final: bool
    cum_quantity: int
    leaves_quantity: int
    avg_price: float | None
    fees: float
    last_seq: int
    reason_code: str | None
    algo_state: dict[str, Any] | None
    received_at: datetime
    updated_at: datetime

    @property
    def client_order_id(self) -> str:
        return self.order.client_order_id

    @property
    def next_seq(self) -> int:
        """The seq the next report on this order takes."""
        return self.last_seq + 1


@dataclass(frozen=True, slots=True)
class Switch:
    """A switch of execution (the kill switch) as last set."""

    name: str
    engaged: bool
    reason: str
    changed_by: str
    changed_at: datetime
