"""FIX 4.4 messages: framing and validation of bytes off the wire, encoding with `simplefix`.

`Framer.feed(data)` splits a byte stream into frames and says, for each, whether it is a
message (`FixMessage`) or garbled (`Garbled`: junk before `8=`, another BeginString, a body
length that does not end on the checksum field, a wrong checksum, a field that is not
`tag=value`). The standard says a garbled message is ignored without consuming a sequence
number; the session layer does so, and a gap it leaves is recovered by a ResendRequest.

`encode(...)` builds a message with the standard header (BeginString, BodyLength, MsgType,
SenderCompID, TargetCompID, MsgSeqNum, SendingTime, and PossDupFlag/OrigSendingTime on a
resend) and the trailer (CheckSum) through `simplefix.FixMessage`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import simplefix

BEGIN_STRING = "FIX.4.4"
SOH = b"\x01"
_BEGIN = b"8=" + BEGIN_STRING.encode() + SOH
_START = b"8=FIX"
_LENGTH = re.compile(rb"9=(\d{1,9})\x01")
_CHECKSUM = re.compile(rb"10=(\d{3})\x01")
#: Longest body accepted (bytes); a larger BodyLength is garbled.
MAX_BODY = 1 << 16
_TIME = "%Y%m%d-%H:%M:%S.%f"


class Tag:
    """The tag numbers used here (FIX 4.4)."""

    AVG_PX = 6
    BEGIN_SEQ_NO = 7
    BEGIN_STRING = 8
    BODY_LENGTH = 9
    CHECKSUM = 10
    CL_ORD_ID = 11
    CUM_QTY = 14
    END_SEQ_NO = 16
    EXEC_ID = 17
    LAST_PX = 31
    LAST_QTY = 32
    MSG_SEQ_NUM = 34
    MSG_TYPE = 35
    NEW_SEQ_NO = 36
    ORDER_ID = 37
    ORDER_QTY = 38
    ORD_STATUS = 39
    ORD_TYPE = 40
    ORIG_CL_ORD_ID = 41
    POSS_DUP_FLAG = 43
    PRICE = 44
    REF_SEQ_NUM = 45
    SENDER_COMP_ID = 49
    SENDING_TIME = 52
    SIDE = 54
    SYMBOL = 55
    TARGET_COMP_ID = 56
    TEXT = 58
    TIME_IN_FORCE = 59
    TRANSACT_TIME = 60
    POSS_RESEND = 97
    ENCRYPT_METHOD = 98
    CXL_REJ_REASON = 102
    ORD_REJ_REASON = 103
    HEART_BT_INT = 108
    TEST_REQ_ID = 112
    ORIG_SENDING_TIME = 122
    GAP_FILL_FLAG = 123
    RESET_SEQ_NUM_FLAG = 141
    EXEC_TYPE = 150
    LEAVES_QTY = 151
    REF_TAG_ID = 371
    REF_MSG_TYPE = 372
    SESSION_REJECT_REASON = 373
    BUSINESS_REJECT_REF_ID = 379
    BUSINESS_REJECT_REASON = 380
    CXL_REJ_RESPONSE_TO = 434
    PASSWORD = 554


#: Header fields `encode` writes itself (the caller gives the body only).
HEADER_TAGS = frozenset(
    {
        Tag.BEGIN_STRING,
        Tag.BODY_LENGTH,
        Tag.MSG_TYPE,
        Tag.SENDER_COMP_ID,
        Tag.TARGET_COMP_ID,
        Tag.MSG_SEQ_NUM,
        Tag.SENDING_TIME,
        Tag.POSS_DUP_FLAG,
        Tag.POSS_RESEND,
        Tag.ORIG_SENDING_TIME,
        Tag.CHECKSUM,
    }
)


@dataclass(frozen=True, slots=True)
class FixMessage:
    """A framed, checksummed message: its fields in order (values as text)."""

    fields: tuple[tuple[int, str], ...]
    raw: bytes

    def get(self, tag: int) -> str | None:
        """The first value of `tag`, or None."""
        for number, value in self.fields:
            if number == tag:
                return value
        return None

    @property
    def msg_type(self) -> str | None:
        return self.get(Tag.MSG_TYPE)

    @property
    def seq(self) -> int | None:
        """MsgSeqNum, or None when missing or not a positive integer."""
        value = self.get(Tag.MSG_SEQ_NUM)
        return int(value) if value is not None and value.isdigit() and int(value) > 0 else None

    @property
    def poss_dup(self) -> bool:
        return self.get(Tag.POSS_DUP_FLAG) == "Y"

    def body(self) -> list[tuple[int, str]]:
        """The fields `encode` does not write itself (to re-encode the message)."""
        return [(tag, value) for tag, value in self.fields if tag not in HEADER_TAGS]

    def empty_tag(self) -> int | None:
        """The first tag given without a value, if any."""
        return next((tag for tag, value in self.fields if value == ""), None)


@dataclass(frozen=True, slots=True)
class Garbled:
    """Bytes that are not a valid message, and why."""

    reason: str
    raw: bytes


class Framer:
    """Splits a byte stream into messages and garbled frames (see the module docstring)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[FixMessage | Garbled]:
        """Append `data`; yield every complete frame now in the buffer, in order."""
        self._buffer += data
        while True:
            frame = self._next()
            if frame is None:
                return
            yield frame

    @property
    def pending(self) -> int:
        """Bytes waiting for the rest of their frame."""
        return len(self._buffer)

    def _take(self, n: int) -> bytes:
        taken = bytes(self._buffer[:n])
        del self._buffer[:n]
        return taken

    def _skip_to_next_start(self, reason: str) -> Garbled:
        after = self._buffer.find(_START, 1)
        return Garbled(reason, self._take(after if after > 0 else len(self._buffer)))

    def _next(self) -> FixMessage | Garbled | None:
        buf = self._buffer
        if not buf:
            return None
        start = buf.find(_START)
        if start != 0:
            if start < 0:  # keep a tail that may be the start of `8=FIX`
                keep = next(
                    (k for k in range(len(_START) - 1, 0, -1) if buf.endswith(_START[:k])), 0
                )
                if len(buf) == keep:
                    return None
                return Garbled("no BeginString", self._take(len(buf) - keep))
            return Garbled("bytes before BeginString", self._take(start))
        if len(buf) < len(_BEGIN):
            return None
        if not buf.startswith(_BEGIN):
            return self._skip_to_next_start(f"BeginString is not {BEGIN_STRING}")
        length = _LENGTH.match(buf, len(_BEGIN))
        if length is None:
            if len(buf) - len(_BEGIN) < 12 and re.fullmatch(rb"9?=?\d*", buf[len(_BEGIN) :]):
                return None  # the length field is still arriving
            return self._skip_to_next_start("BodyLength (9) missing or not a number")
        body_length = int(length.group(1))
        if body_length > MAX_BODY:
            return self._skip_to_next_start(f"BodyLength {body_length} over {MAX_BODY}")
        body_start = length.end()
        trailer_at = body_start + body_length
        end = trailer_at + 7  # 10=nnn<SOH>
        if len(buf) < end:
            # a new message starting inside the declared body: this one's length is wrong
            if buf.find(SOH + _BEGIN, body_start) >= 0:
                return self._skip_to_next_start("BodyLength does not match the message")
            return None
        trailer = _CHECKSUM.match(buf, trailer_at)
        if trailer is None or buf[trailer_at - 1 : trailer_at] != SOH:
            return self._skip_to_next_start("BodyLength does not match the message")
        given = int(trailer.group(1))  # read before the buffer moves under the match
        raw = self._take(end)
        expected = checksum(raw[:trailer_at])
        if given != expected:
            return Garbled(f"CheckSum {given:03d} is not {expected:03d}", raw)
        return _parse(raw)


def checksum(data: bytes) -> int:
    """The FIX checksum: the sum of the bytes modulo 256."""
    return sum(data) % 256


def _parse(raw: bytes) -> FixMessage | Garbled:
    fields: list[tuple[int, str]] = []
    for part in raw[:-1].split(SOH):
        tag, sep, value = part.partition(b"=")
        if not sep or not tag.isdigit() or tag.startswith(b"0"):
            return Garbled(f"field {part[:20]!r} is not tag=value", raw)
        try:
            fields.append((int(tag), value.decode("ascii")))
        except UnicodeDecodeError:
            return Garbled(f"tag {int(tag)} is not ASCII", raw)
    return FixMessage(tuple(fields), raw)


def fix_time(at: datetime) -> str:
    """UTCTimestamp with milliseconds: `YYYYMMDD-HH:MM:SS.sss`."""
    return at.astimezone(UTC).strftime(_TIME)[:-3]


def parse_time(text: str) -> datetime | None:
    """A UTCTimestamp (seconds or milliseconds), or None when it is not one."""
    for pattern in ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def encode(
    msg_type: str,
    body: Iterable[tuple[int, object]],
    *,
    sender: str,
    target: str,
    seq: int,
    sent_at: datetime,
    orig_sent_at: str | None = None,
) -> bytes:
    """One message; `orig_sent_at` (OrigSendingTime) marks it a possible duplicate (a resend)."""
    message = simplefix.FixMessage()
    message.append_pair(Tag.BEGIN_STRING, BEGIN_STRING, header=True)
    message.append_pair(Tag.MSG_TYPE, msg_type, header=True)
    message.append_pair(Tag.SENDER_COMP_ID, sender, header=True)
    message.append_pair(Tag.TARGET_COMP_ID, target, header=True)
    message.append_pair(Tag.MSG_SEQ_NUM, seq, header=True)
    if orig_sent_at is not None:
        message.append_pair(Tag.POSS_DUP_FLAG, "Y", header=True)
    message.append_pair(Tag.SENDING_TIME, fix_time(sent_at), header=True)
    if orig_sent_at is not None:
        message.append_pair(Tag.ORIG_SENDING_TIME, orig_sent_at, header=True)
    for tag, value in body:
        message.append_pair(tag, value)
    return bytes(message.encode())
