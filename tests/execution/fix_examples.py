"""Helpers for the FIX tests: a counterparty's side of the wire, in bytes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from hedgemesh.execution.domain.fix.codec import FixMessage, Framer, Tag, encode, fix_time

US = "HEDGEMESH"
CLIENT = "CLIENT1"
PASSWORD = "s3cret"
T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def wire(
    msg_type: str,
    body: Sequence[tuple[int, object]] = (),
    *,
    seq: int,
    sender: str = CLIENT,
    target: str = US,
    poss_dup: bool = False,
) -> bytes:
    """A message as the counterparty would send it."""
    return encode(
        msg_type,
        body,
        sender=sender,
        target=target,
        seq=seq,
        sent_at=T0,
        orig_sent_at=fix_time(T0) if poss_dup else None,
    )


def frame(raw: bytes) -> FixMessage:
    """The one message in `raw`."""
    (message,) = list(Framer().feed(raw))
    assert isinstance(message, FixMessage), message
    return message


def logon(seq: int = 1, password: str = PASSWORD, hb: int = 30, reset: bool = False) -> bytes:
    body: list[tuple[int, object]] = [(Tag.ENCRYPT_METHOD, 0), (Tag.HEART_BT_INT, hb)]
    if reset:
        body.append((Tag.RESET_SEQ_NUM_FLAG, "Y"))
    body.append((Tag.PASSWORD, password))
    return wire("A", body, seq=seq)


def new_order(
    clordid: str, *, seq: int, qty: int = 1, side: str = "1", ord_type: str = "1",
    price: float | None = None, tif: str | None = None, symbol: str = "SPX", poss_dup: bool = False,
) -> bytes:  # fmt: skip
    body: list[tuple[int, object]] = [
        (Tag.CL_ORD_ID, clordid), (Tag.SYMBOL, symbol), (Tag.SIDE, side),
        (Tag.TRANSACT_TIME, fix_time(T0)), (Tag.ORDER_QTY, qty), (Tag.ORD_TYPE, ord_type),
    ]  # fmt: skip
    if price is not None:
        body.append((Tag.PRICE, price))
    if tif is not None:
        body.append((Tag.TIME_IN_FORCE, tif))
    return wire("D", body, seq=seq, poss_dup=poss_dup)
