"""Every message type by its `kind`, and a decoder that picks the type by kind."""

from __future__ import annotations

from hedgemesh.wire.base import WireModel
from hedgemesh.wire.book import ClientTrade, PositionSnapshot, PositionSnapshotRequest
from hedgemesh.wire.clock import ClockRecord
from hedgemesh.wire.hedging import Decision, Proposal
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.ops import ControlCommand, ControlReply, DeadLetter, Heartbeat
from hedgemesh.wire.orders import ExecutionReport, Order
from hedgemesh.wire.params import AgentParams
from hedgemesh.wire.state import FirmLimits, RiskLimits, TradingStatus

_ALL: tuple[type[WireModel], ...] = (
    Tick,
    Surface,
    ClientTrade,
    PositionSnapshot,
    PositionSnapshotRequest,
    Proposal,
    Decision,
    Order,
    ExecutionReport,
    Heartbeat,
    DeadLetter,
    ControlCommand,
    ControlReply,
    TradingStatus,
    RiskLimits,
    FirmLimits,
    AgentParams,
    ClockRecord,
)

MESSAGES: dict[str, type[WireModel]] = {cls.kind: cls for cls in _ALL}
"""Message class by kind."""

if len(MESSAGES) != len(_ALL) or "" in MESSAGES:
    raise RuntimeError("every message type needs its own non-empty kind")


class UnknownKind(LookupError):
    """No message type has this kind."""


def decode(kind: str, data: bytes | bytearray | memoryview | str) -> WireModel:
    """Decode raw JSON `data` as the message type `kind`, strictly.

    Raises `pydantic.ValidationError` for bad data, `PayloadTooLarge` for a payload over the
    type's limit, and `UnknownKind` for a kind that is not in `MESSAGES` (a programming error).
    """
    try:
        cls = MESSAGES[kind]
    except KeyError:
        raise UnknownKind(f"unknown message kind {kind!r}; known: {sorted(MESSAGES)}") from None
    return cls.from_json(data)
