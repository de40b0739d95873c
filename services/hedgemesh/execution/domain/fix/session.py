"""The FIX 4.4 session layer, pure: one connection's state machine over a counterparty's
sequence numbers. Frames in (`on_frame`), time in (`on_time`), effects out.

- **Logon** must come first: SenderCompID a configured counterparty, TargetCompID ours, the
  counterparty's Password (554), a HeartBtInt within bounds; else Logout and disconnect.
  ResetSeqNumFlag (141=Y) starts both directions at 1. One connection per counterparty.
- **Sequence numbers** (`SeqState`, the store's): a message above the expected number is
  queued and a ResendRequest (BeginSeqNo = expected, EndSeqNo = 0) asks for the gap once; the
  queue drains as the gap fills. Below it: dropped if PossDupFlag=Y, else Logout ("MsgSeqNum
  too low") and disconnect. A ResendRequest is answered at once even across a gap of ours (so
  that two sides each waiting for the other never deadlock).
- **ResendRequest** → `Replay(begin, end)`: the adapter reads what it stored and calls `replay`,
  which re-sends application messages with PossDupFlag=Y and OrigSendingTime under their own
  numbers and covers everything else (admin messages, numbers never stored) with
  SequenceReset-GapFill.
- **SequenceReset**: GapFill moves the expected number forward (never back: Reject); Reset mode
  sets it whatever the message's own number.
- **Validation**: a missing required tag, a tag without a value, PossDupFlag=Y without
  OrigSendingTime → Reject (373 with RefTagID); a MsgType FIX 4.4 does not define → Reject
  (InvalidMsgType); one it defines that is not served here → BusinessMessageReject (380=3,
  unsupported); wrong CompIDs → Reject (CompID problem) then Logout. Each consumes its number.
  A garbled frame is ignored and consumes none.
- **Heartbeats**: a Heartbeat after HeartBtInt without sending; a TestRequest after HeartBtInt
  (× `test_request_factor`) without hearing anything; disconnect if that too goes unanswered
  for another HeartBtInt. Logon and Logout answers are awaited `logon_timeout_s` /
  `logout_timeout_s`.

Application messages (NewOrderSingle, OrderCancelRequest, OrderCancelReplaceRequest) are
handed on as `Deliver`; what the application sends goes out through `Outbound.message`, which
numbers it whether or not a connection is up (stored, it is resent on the counterparty's
ResendRequest after it reconnects).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from hedgemesh.execution.domain.fix.codec import FixMessage, Garbled, Tag, encode, fix_time
from hedgemesh.records.fix import SentMessage

#: Every MsgType FIX 4.4 defines (the data dictionary's list).
FIX44_MSG_TYPES = frozenset(
    [*"0123456789ABCDEFGHJKLMNPQRSTVWXYZabcdefghijklmnopqrstuvwxyz"]
    + [f"A{c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    + [f"B{c}" for c in "ABCDEFGH"]
)


class MsgType:
    HEARTBEAT = "0"
    TEST_REQUEST = "1"
    RESEND_REQUEST = "2"
    REJECT = "3"
    SEQUENCE_RESET = "4"
    LOGOUT = "5"
    LOGON = "A"
    EXECUTION_REPORT = "8"
    ORDER_CANCEL_REJECT = "9"
    NEW_ORDER_SINGLE = "D"
    ORDER_CANCEL_REQUEST = "F"
    ORDER_CANCEL_REPLACE_REQUEST = "G"
    BUSINESS_MESSAGE_REJECT = "j"


ADMIN = frozenset([*"012345A"])
#: Application messages served here, and their required tags (beyond the header).
APPLICATION: Mapping[str, tuple[int, ...]] = {
    MsgType.NEW_ORDER_SINGLE: (
        Tag.CL_ORD_ID, Tag.SYMBOL, Tag.SIDE, Tag.TRANSACT_TIME, Tag.ORDER_QTY, Tag.ORD_TYPE,
    ),
    MsgType.ORDER_CANCEL_REQUEST: (
        Tag.ORIG_CL_ORD_ID, Tag.CL_ORD_ID, Tag.SYMBOL, Tag.SIDE, Tag.TRANSACT_TIME,
    ),
    MsgType.ORDER_CANCEL_REPLACE_REQUEST: (
        Tag.ORIG_CL_ORD_ID, Tag.CL_ORD_ID, Tag.SYMBOL, Tag.SIDE, Tag.TRANSACT_TIME,
        Tag.ORDER_QTY, Tag.ORD_TYPE,
    ),
}  # fmt: skip
_ADMIN_REQUIRED: Mapping[str, tuple[int, ...]] = {
    MsgType.LOGON: (Tag.ENCRYPT_METHOD, Tag.HEART_BT_INT),
    MsgType.TEST_REQUEST: (Tag.TEST_REQ_ID,),
    MsgType.RESEND_REQUEST: (Tag.BEGIN_SEQ_NO, Tag.END_SEQ_NO),
    MsgType.REJECT: (Tag.REF_SEQ_NUM,),
    MsgType.SEQUENCE_RESET: (Tag.NEW_SEQ_NO,),
}
_HEADER_REQUIRED = (Tag.SENDER_COMP_ID, Tag.TARGET_COMP_ID, Tag.SENDING_TIME)


class RejectReason:
    """SessionRejectReason (373)."""

    INVALID_TAG_NUMBER = 0
    REQUIRED_TAG_MISSING = 1
    TAG_WITHOUT_VALUE = 4
    VALUE_INCORRECT = 5
    COMP_ID_PROBLEM = 9
    INVALID_MSG_TYPE = 11


#: BusinessRejectReason (380): unsupported message type.
UNSUPPORTED_MESSAGE_TYPE = 3


@dataclass(slots=True)
class SeqState:
    """A counterparty's session numbers (kept in the store): the next number it must send us,
    and the next we send it."""

    counterparty: str
    next_in: int = 1
    next_out: int = 1


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Plain session settings (`ExecutionSettings.fix_session_config()` builds them)."""

    comp_id: str
    passwords: Mapping[str, str]
    """Counterparty SenderCompID → its password."""
    min_heartbeat_s: int = 1
    max_heartbeat_s: int = 300
    test_request_factor: float = 1.2
    logon_timeout_s: float = 10.0
    logout_timeout_s: float = 2.0


# -- effects ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Write `raw` (message number `seq`). `keep`: an application message, stored for resend;
    `replay`: a resend under its old number (the numbers do not move)."""

    seq: int
    msg_type: str
    raw: bytes
    keep: bool = False
    replay: bool = False
    body: tuple[tuple[int, str], ...] = ()
    sent_at: str = ""

    def kept(self, counterparty: str, exec_id: str | None = None) -> SentMessage:
        """The record to store for resend."""
        return SentMessage(counterparty, self.seq, self.msg_type, self.body, self.sent_at, exec_id)


@dataclass(frozen=True, slots=True)
class Deliver:
    """An application message for the order layer (its number consumed)."""

    message: FixMessage


@dataclass(frozen=True, slots=True)
class Replay:
    """The counterparty asked for messages `begin`..`end` again (`end` included): read what is
    stored in that range and call `FixSession.replay`."""

    begin: int
    end: int


@dataclass(frozen=True, slots=True)
class LoggedOn:
    """Logged on (`reset`: with ResetSeqNumFlag: forget what was sent before)."""

    counterparty: str
    reset: bool = False


@dataclass(frozen=True, slots=True)
class Close:
    """Disconnect (after writing what came before), and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A frame dropped without an answer (garbled, or a possible duplicate already seen)."""

    reason: str


Effect = Send | Deliver | Replay | LoggedOn | Close | Ignored


class Outbound:
    """Numbers and encodes what we send one counterparty (on a connection or not)."""

    def __init__(self, comp_id: str, seqs: SeqState) -> None:
        self.comp_id = comp_id
        self.seqs = seqs

    def message(self, msg_type: str, body: Sequence[tuple[int, object]], now: datetime) -> Send:
        seq = self.seqs.next_out
        self.seqs.next_out += 1
        text = tuple((tag, str(value)) for tag, value in body)
        raw = encode(
            msg_type, text, sender=self.comp_id, target=self.seqs.counterparty, seq=seq,
            sent_at=now,
        )  # fmt: skip
        keep = msg_type not in ADMIN
        return Send(seq, msg_type, raw, keep=keep, body=text, sent_at=fix_time(now))

    def resend(self, stored: SentMessage, now: datetime) -> Send:
        assert stored.seq is not None
        raw = encode(
            stored.msg_type, stored.body, sender=self.comp_id, target=self.seqs.counterparty,
            seq=stored.seq, sent_at=now, orig_sent_at=stored.sent_at,
        )  # fmt: skip
        return Send(stored.seq, stored.msg_type, raw, replay=True)

    def gap_fill(self, seq: int, new_seq: int, now: datetime) -> Send:
        raw = encode(
            MsgType.SEQUENCE_RESET,
            [(Tag.GAP_FILL_FLAG, "Y"), (Tag.NEW_SEQ_NO, new_seq)],
            sender=self.comp_id, target=self.seqs.counterparty, seq=seq, sent_at=now,
            orig_sent_at=fix_time(now),
        )  # fmt: skip
        return Send(seq, MsgType.SEQUENCE_RESET, raw, replay=True)


@dataclass(frozen=True, slots=True)
class _Invalid:
    """Why a message is refused: a Reject's reason and tag, or (reason None) a
    BusinessMessageReject."""

    reason: int | None
    tag: int
    text: str


class State(Enum):
    AWAIT_LOGON = "await_logon"
    ACTIVE = "active"
    LOGOUT_SENT = "logout_sent"
    CLOSED = "closed"


@dataclass(slots=True)
class _Timers:
    connected: float
    last_sent: float
    last_heard: float
    test_sent: float | None = None
    logout_sent: float | None = None


@dataclass(slots=True)
class _Gap:
    """A ResendRequest of ours outstanding, and what arrived beyond the gap meanwhile."""

    queued: dict[int, FixMessage] = field(default_factory=dict)
    answered: set[int] = field(default_factory=set)  # ResendRequests in the queue, answered


class FixSession:
    """One connection's session (see the module docstring). `states(comp_id)` gives a
    configured counterparty's `SeqState` (None for one not configured)."""

    def __init__(self, config: SessionConfig, states: Mapping[str, SeqState], now: float) -> None:
        self.config = config
        self._states = states
        self.state = State.AWAIT_LOGON
        self.out: Outbound | None = None
        self.heartbeat_s = 30
        self._timers = _Timers(now, now, now)
        self._gap: _Gap | None = None
        self._test_id = 0

    @property
    def counterparty(self) -> str | None:
        return None if self.out is None else self.out.seqs.counterparty

    @property
    def seqs(self) -> SeqState | None:
        return None if self.out is None else self.out.seqs

    # -- input -----------------------------------------------------------------------------

    def on_frame(self, frame: FixMessage | Garbled, now: float, at: datetime) -> list[Effect]:
        """One frame off the wire."""
        if self.state is State.CLOSED:
            return []
        self._timers.last_heard = now
        if isinstance(frame, Garbled):
            return [Ignored(f"garbled: {frame.reason}")]
        if self.state is State.AWAIT_LOGON:
            return self._logon(frame, now, at)
        return self._sequenced(frame, now, at)

    def on_time(self, now: float, at: datetime) -> list[Effect]:
        """Heartbeats, test requests and timeouts due by `now`."""
        t = self._timers
        if self.state is State.AWAIT_LOGON:
            if now - t.connected >= self.config.logon_timeout_s:
                return self._close("no Logon in time")
            return []
        if self.state is State.LOGOUT_SENT:
            assert t.logout_sent is not None
            if now - t.logout_sent >= self.config.logout_timeout_s:
                return self._close("no Logout answer in time")
            return []
        if self.state is not State.ACTIVE:
            return []
        effects: list[Effect] = []
        hb = self.heartbeat_s
        if t.test_sent is not None and now - t.test_sent >= hb:
            return self.logout("heartbeat timeout: no answer to a TestRequest", now, at, close=True)
        if t.test_sent is None and now - t.last_heard >= hb * self.config.test_request_factor:
            self._test_id += 1
            t.test_sent = now
            effects.append(
                self._send(MsgType.TEST_REQUEST, [(Tag.TEST_REQ_ID, f"T{self._test_id}")], now, at)
            )
        if now - t.last_sent >= hb:
            effects.append(self._send(MsgType.HEARTBEAT, [], now, at))
        return effects

    def next_wakeup(self) -> float:
        """When `on_time` may next have something to do."""
        t = self._timers
        if self.state is State.AWAIT_LOGON:
            return t.connected + self.config.logon_timeout_s
        if self.state is State.LOGOUT_SENT and t.logout_sent is not None:
            return t.logout_sent + self.config.logout_timeout_s
        hb = self.heartbeat_s
        hear = (
            t.test_sent + hb
            if t.test_sent is not None
            else t.last_heard + hb * self.config.test_request_factor
        )
        return min(t.last_sent + hb, hear)

    def send(
        self, msg_type: str, body: Sequence[tuple[int, object]], now: float, at: datetime
    ) -> Send:
        """An application message on this session."""
        return self._send(msg_type, body, now, at)

    def replay(
        self, stored: Sequence[SentMessage], begin: int, end: int, at: datetime
    ) -> list[Send]:
        """Answer a ResendRequest for `begin`..`end` from the stored application messages
        (`stored`, in the range, any order): each re-sent under its number with PossDupFlag,
        every other number covered by a SequenceReset-GapFill."""
        assert self.out is not None
        last = self.out.seqs.next_out - 1
        end = last if end == 0 or end > last else end
        by_seq = {s.seq: s for s in stored if s.seq is not None and begin <= s.seq <= end}
        effects: list[Send] = []
        seq = begin
        while seq <= end:
            if seq in by_seq:
                effects.append(self.out.resend(by_seq[seq], at))
                seq += 1
                continue
            gap_end = seq
            while gap_end + 1 <= end and gap_end + 1 not in by_seq:
                gap_end += 1
            effects.append(self.out.gap_fill(seq, gap_end + 1, at))
            seq = gap_end + 1
        return effects

    def logout(self, text: str, now: float, at: datetime, *, close: bool = False) -> list[Effect]:
        """Send Logout (then wait for the answer, or `close` at once)."""
        effects: list[Effect] = [
            self._send(MsgType.LOGOUT, [(Tag.TEXT, text)] if text else [], now, at)
        ]
        if close:
            return effects + self._close(text)
        self.state = State.LOGOUT_SENT
        self._timers.logout_sent = now
        return effects

    # -- logon -----------------------------------------------------------------------------

    def _logon(self, msg: FixMessage, now: float, at: datetime) -> list[Effect]:
        if msg.msg_type != MsgType.LOGON:
            return self._close(f"first message is {msg.msg_type!r}, not Logon")
        sender, target = msg.get(Tag.SENDER_COMP_ID), msg.get(Tag.TARGET_COMP_ID)
        states = self._states.get(sender or "")
        password = self.config.passwords.get(sender or "")
        if states is None or password is None:
            return self._close(f"SenderCompID {sender!r} unknown, or already logged on")
        if target != self.config.comp_id:
            return self._close(f"TargetCompID {target!r} is not {self.config.comp_id!r}")
        self.out = Outbound(self.config.comp_id, states)
        seq = msg.seq
        if seq is None:
            return self.logout("MsgSeqNum (34) missing", now, at, close=True)
        if not hmac.compare_digest((msg.get(Tag.PASSWORD) or "").encode(), password.encode()):
            return self.logout("logon refused: wrong password", now, at, close=True)
        hb_text = msg.get(Tag.HEART_BT_INT) or ""
        low, high = self.config.min_heartbeat_s, self.config.max_heartbeat_s
        if not hb_text.isdigit() or not low <= int(hb_text) <= high:
            return self.logout(f"HeartBtInt must be {low}..{high} s", now, at, close=True)
        reset = msg.get(Tag.RESET_SEQ_NUM_FLAG) == "Y"
        if reset:
            states.next_in = states.next_out = 1
        if seq < states.next_in:
            text = f"MsgSeqNum too low, expecting {states.next_in} but received {seq}"
            return self.logout(text, now, at, close=True)
        self.heartbeat_s = int(hb_text)
        self.state = State.ACTIVE
        body: list[tuple[int, object]] = [
            (Tag.ENCRYPT_METHOD, 0),
            (Tag.HEART_BT_INT, self.heartbeat_s),
        ]
        if reset:
            body.append((Tag.RESET_SEQ_NUM_FLAG, "Y"))
        effects: list[Effect] = [
            LoggedOn(states.counterparty, reset),
            self._send(MsgType.LOGON, body, now, at),
        ]
        if seq > states.next_in:
            effects += self._ask_resend(seq, msg, now, at, queue=False)
        else:
            states.next_in += 1
        return effects

    # -- sequenced messages ----------------------------------------------------------------

    def _sequenced(self, msg: FixMessage, now: float, at: datetime) -> list[Effect]:
        assert self.out is not None
        seqs = self.out.seqs
        seq = msg.seq
        if seq is None:
            return self.logout("MsgSeqNum (34) missing or invalid", now, at, close=True)
        if msg.msg_type == MsgType.SEQUENCE_RESET and msg.get(Tag.GAP_FILL_FLAG) != "Y":
            return self._reset_mode(msg, now, at)
        if seq < seqs.next_in:
            if msg.poss_dup:
                return [Ignored(f"possible duplicate {seq} already seen")]
            text = f"MsgSeqNum too low, expecting {seqs.next_in} but received {seq}"
            return self.logout(text, now, at, close=True)
        if seq > seqs.next_in:
            return self._ask_resend(seq, msg, now, at, queue=True)
        effects = self._process(msg, now, at)
        return effects + self._drain(now, at)

    def _ask_resend(
        self, seq: int, msg: FixMessage, now: float, at: datetime, *, queue: bool
    ) -> list[Effect]:
        assert self.out is not None
        effects: list[Effect] = []
        first = self._gap is None
        if first:
            self._gap = _Gap()
        gap = self._gap
        assert gap is not None
        if queue:
            gap.queued.setdefault(seq, msg)
            if msg.msg_type == MsgType.RESEND_REQUEST and seq not in gap.answered:
                gap.answered.add(seq)  # answered now, not again when its turn comes
                effects += self._answer_resend(msg, now, at)
        if first:
            body = [(Tag.BEGIN_SEQ_NO, self.out.seqs.next_in), (Tag.END_SEQ_NO, 0)]
            effects.append(self._send(MsgType.RESEND_REQUEST, body, now, at))
        return effects

    def _drain(self, now: float, at: datetime) -> list[Effect]:
        """Process what was queued beyond a gap that is now filled."""
        effects: list[Effect] = []
        gap = self._gap
        assert self.out is not None
        seqs = self.out.seqs
        while gap is not None and self.state is State.ACTIVE:
            for stale in [s for s in gap.queued if s < seqs.next_in]:
                del gap.queued[stale]
            msg = gap.queued.pop(seqs.next_in, None)
            if msg is None:
                break
            if msg.msg_type == MsgType.RESEND_REQUEST and (msg.seq in gap.answered):
                seqs.next_in += 1
                continue
            effects += self._process(msg, now, at)
        if gap is not None and not gap.queued:
            self._gap = None
        return effects

    def _reset_mode(self, msg: FixMessage, now: float, at: datetime) -> list[Effect]:
        assert self.out is not None
        seqs = self.out.seqs
        new = msg.get(Tag.NEW_SEQ_NO) or ""
        if not new.isdigit() or int(new) < seqs.next_in:
            return [self._reject(msg, RejectReason.VALUE_INCORRECT, Tag.NEW_SEQ_NO,
                                 f"NewSeqNo {new!r} below the expected {seqs.next_in}", now, at,
                                 consume=False)]  # fmt: skip
        seqs.next_in = int(new)
        return self._drain(now, at)

    def _process(self, msg: FixMessage, now: float, at: datetime) -> list[Effect]:
        """A message at the expected number: validated, its number consumed, acted on."""
        assert self.out is not None
        seqs = self.out.seqs
        invalid = self._invalid(msg)
        if invalid is not None:
            if invalid.reason is None:
                return [self._business_reject(msg, invalid.text, now, at)]
            return [self._reject(msg, invalid.reason, invalid.tag, invalid.text, now, at)]
        kind = msg.msg_type
        if kind == MsgType.SEQUENCE_RESET:  # gap fill (reset mode is handled before)
            new = msg.get(Tag.NEW_SEQ_NO) or ""
            if not new.isdigit() or int(new) <= seqs.next_in:
                text = f"GapFill NewSeqNo {new!r} does not move past {seqs.next_in}"
                return [
                    self._reject(msg, RejectReason.VALUE_INCORRECT, Tag.NEW_SEQ_NO, text, now, at)
                ]
            seqs.next_in = int(new)
            return []
        seqs.next_in += 1
        if kind == MsgType.HEARTBEAT:
            if msg.get(Tag.TEST_REQ_ID) is not None:
                self._timers.test_sent = None
            return []
        if kind == MsgType.TEST_REQUEST:
            body = [(Tag.TEST_REQ_ID, msg.get(Tag.TEST_REQ_ID))]
            return [self._send(MsgType.HEARTBEAT, body, now, at)]
        if kind == MsgType.RESEND_REQUEST:
            return self._answer_resend(msg, now, at)
        if kind == MsgType.REJECT:
            return [Ignored(f"Reject of our {msg.get(Tag.REF_SEQ_NUM)}: {msg.get(Tag.TEXT) or ''}")]
        if kind == MsgType.LOGOUT:
            if self.state is State.LOGOUT_SENT:
                return self._close("logged out")
            return self.logout("", now, at, close=True)
        if kind == MsgType.LOGON:
            return self.logout("Logon on a logged-on session", now, at, close=True)
        return [Deliver(msg)]

    def _invalid(self, msg: FixMessage) -> _Invalid | None:
        """Why `msg` must be rejected, or None when it is valid."""
        assert self.out is not None
        kind = msg.msg_type or ""
        if kind not in FIX44_MSG_TYPES:
            return _Invalid(
                RejectReason.INVALID_MSG_TYPE, Tag.MSG_TYPE, f"MsgType {kind!r} is not FIX 4.4"
            )
        empty = msg.empty_tag()
        if empty is not None:
            return _Invalid(RejectReason.TAG_WITHOUT_VALUE, empty, f"tag {empty} has no value")
        required = _HEADER_REQUIRED + _ADMIN_REQUIRED.get(kind, ()) + APPLICATION.get(kind, ())
        missing = next((tag for tag in required if msg.get(tag) is None), None)
        if missing is None and msg.poss_dup and msg.get(Tag.ORIG_SENDING_TIME) is None:
            missing = Tag.ORIG_SENDING_TIME
        if missing is not None:
            text = f"required tag {missing} missing"
            return _Invalid(RejectReason.REQUIRED_TAG_MISSING, missing, text)
        if (
            msg.get(Tag.SENDER_COMP_ID) != self.out.seqs.counterparty
            or msg.get(Tag.TARGET_COMP_ID) != self.config.comp_id
        ):
            return _Invalid(RejectReason.COMP_ID_PROBLEM, Tag.SENDER_COMP_ID, "CompID problem")
        if kind not in ADMIN and kind not in APPLICATION:
            return _Invalid(None, Tag.MSG_TYPE, f"MsgType {kind} is not served here")
        return None

    # -- answers ---------------------------------------------------------------------------

    def _answer_resend(self, msg: FixMessage, now: float, at: datetime) -> list[Effect]:
        begin, end = msg.get(Tag.BEGIN_SEQ_NO) or "", msg.get(Tag.END_SEQ_NO) or ""
        if not begin.isdigit() or not end.isdigit() or int(begin) < 1:
            return [
                self._reject(
                    msg,
                    RejectReason.VALUE_INCORRECT,
                    Tag.BEGIN_SEQ_NO,
                    "bad range",
                    now,
                    at,
                    consume=False,
                )
            ]
        return [Replay(int(begin), int(end))]

    def _reject(
        self, msg: FixMessage, reason: int, tag: int, text: str, now: float, at: datetime,
        *, consume: bool = True,
    ) -> Send:  # fmt: skip
        assert self.out is not None
        if consume and msg.seq == self.out.seqs.next_in:
            self.out.seqs.next_in += 1
        body: list[tuple[int, object]] = [(Tag.REF_SEQ_NUM, msg.seq or 0)]
        if tag:
            body.append((Tag.REF_TAG_ID, tag))
        if msg.msg_type:
            body.append((Tag.REF_MSG_TYPE, msg.msg_type))
        body += [(Tag.SESSION_REJECT_REASON, reason), (Tag.TEXT, text)]
        return self._send(MsgType.REJECT, body, now, at)

    def _business_reject(self, msg: FixMessage, text: str, now: float, at: datetime) -> Send:
        assert self.out is not None
        if msg.seq == self.out.seqs.next_in:
            self.out.seqs.next_in += 1
        body: list[tuple[int, object]] = [
            (Tag.REF_SEQ_NUM, msg.seq or 0),
            (Tag.REF_MSG_TYPE, msg.msg_type or ""),
            (Tag.BUSINESS_REJECT_REASON, UNSUPPORTED_MESSAGE_TYPE),
            (Tag.TEXT, text),
        ]
        return self._send(MsgType.BUSINESS_MESSAGE_REJECT, body, now, at)

    def _send(
        self, msg_type: str, body: Sequence[tuple[int, object]], now: float, at: datetime
    ) -> Send:
        assert self.out is not None
        self._timers.last_sent = now
        return self.out.message(msg_type, body, at)

    def _close(self, reason: str) -> list[Effect]:
        self.state = State.CLOSED
        return [Close(reason)]
