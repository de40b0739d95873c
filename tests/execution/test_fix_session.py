"""The FIX session layer as a pure state machine: logon, numbers, gaps, resend, validation,
heartbeats (frames and times in, effects out)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hedgemesh.execution.domain.fix.codec import FixMessage, Framer, Garbled, Tag, checksum
from hedgemesh.execution.domain.fix.session import (
    Close,
    Deliver,
    Effect,
    FixSession,
    Ignored,
    LoggedOn,
    Replay,
    Send,
    SeqState,
    SessionConfig,
    State,
)
from hedgemesh.records.fix import SentMessage

from .fix_examples import CLIENT, PASSWORD, T0, US, frame, logon, new_order, wire

CONFIG = SessionConfig(comp_id=US, passwords={CLIENT: PASSWORD})


def _session(next_in: int = 1, next_out: int = 1) -> tuple[FixSession, SeqState]:
    seqs = SeqState(CLIENT, next_in, next_out)
    return FixSession(CONFIG, {CLIENT: seqs}, now=0.0), seqs


def _feed(session: FixSession, raw: bytes, now: float = 0.0) -> list[Effect]:
    effects: list[Effect] = []
    for item in Framer().feed(raw):
        effects += session.on_frame(item, now, T0)
    return effects


def _sent(effects: list[Effect]) -> list[FixMessage]:
    return [frame(e.raw) for e in effects if isinstance(e, Send)]


def _logged_on(next_in: int = 1, next_out: int = 1) -> tuple[FixSession, SeqState]:
    session, seqs = _session(next_in, next_out)
    effects = _feed(session, logon(seq=next_in))
    assert LoggedOn(CLIENT) in effects
    return session, seqs


def test_logon_is_answered_with_our_logon_and_numbers_advance() -> None:
    session, seqs = _session()
    effects = _feed(session, logon(hb=5))
    (answer,) = _sent(effects)
    assert answer.msg_type == "A" and answer.seq == 1
    assert answer.get(Tag.HEART_BT_INT) == "5"
    assert answer.get(Tag.SENDER_COMP_ID) == US and answer.get(Tag.TARGET_COMP_ID) == CLIENT
    assert (seqs.next_in, seqs.next_out) == (2, 2)
    assert session.state is State.ACTIVE


def test_a_wrong_password_gets_a_logout_and_a_disconnect() -> None:
    session, seqs = _session()
    effects = _feed(session, logon(password="guess"))
    assert [m.msg_type for m in _sent(effects)] == ["5"]
    assert "password" in (_sent(effects)[0].get(Tag.TEXT) or "")
    assert isinstance(effects[-1], Close)
    assert not any(isinstance(e, LoggedOn) for e in effects)
    assert seqs.next_in == 1


def test_an_unknown_sender_or_a_first_message_other_than_logon_is_disconnected() -> None:
    session, _ = _session()
    assert isinstance(_feed(session, wire("A", [(98, 0), (108, 30)], seq=1, sender="X"))[-1], Close)
    session, _ = _session()
    assert isinstance(_feed(session, new_order("A", seq=1))[-1], Close)


def test_reset_seq_num_flag_starts_both_directions_at_one() -> None:
    session, seqs = _session(next_in=50, next_out=70)
    (answer,) = _sent(_feed(session, logon(reset=True)))
    assert answer.seq == 1 and answer.get(Tag.RESET_SEQ_NUM_FLAG) == "Y"
    assert (seqs.next_in, seqs.next_out) == (2, 2)


def test_an_application_message_is_delivered_once_at_its_number() -> None:
    session, seqs = _logged_on()
    effects = _feed(session, new_order("A-1", seq=2))
    assert [type(e) for e in effects] == [Deliver]
    assert seqs.next_in == 3
    # the same number again, as a possible duplicate: dropped
    assert isinstance(_feed(session, new_order("A-1", seq=2, poss_dup=True))[0], Ignored)
    # and without PossDupFlag: too low, logout
    effects = _feed(session, new_order("A-1", seq=2))
    assert "too low" in (_sent(effects)[0].get(Tag.TEXT) or "")
    assert isinstance(effects[-1], Close)


def test_a_gap_asks_for_a_resend_once_and_delivers_in_order_after_the_gap_fill() -> None:
    session, seqs = _logged_on()
    effects = _feed(session, new_order("A-4", seq=4))
    (ask,) = _sent(effects)
    assert (
        ask.msg_type == "2" and ask.get(Tag.BEGIN_SEQ_NO) == "2" and ask.get(Tag.END_SEQ_NO) == "0"
    )
    assert _sent(_feed(session, new_order("A-5", seq=5))) == []  # no second ResendRequest
    gap_fill = wire("4", [(Tag.GAP_FILL_FLAG, "Y"), (Tag.NEW_SEQ_NO, 3)], seq=2, poss_dup=True)
    assert _feed(session, gap_fill) == []
    effects = _feed(session, new_order("A-3", seq=3, poss_dup=True))
    delivered = [e.message.get(Tag.CL_ORD_ID) for e in effects if isinstance(e, Deliver)]
    assert delivered == ["A-3", "A-4", "A-5"]
    assert seqs.next_in == 6
    # the counterparty's resend of 4 and 5 arrives as possible duplicates: dropped
    assert all(
        isinstance(e, Ignored) for e in _feed(session, new_order("A-4", seq=4, poss_dup=True))
    )


def test_a_logon_above_the_expected_number_is_accepted_then_asks_for_the_gap() -> None:
    session, seqs = _session(next_in=3)
    effects = _feed(session, logon(seq=7))
    assert [m.msg_type for m in _sent(effects)] == ["A", "2"]
    assert _sent(effects)[1].get(Tag.BEGIN_SEQ_NO) == "3"
    _feed(session, wire("4", [(Tag.GAP_FILL_FLAG, "Y"), (Tag.NEW_SEQ_NO, 8)], seq=3, poss_dup=True))
    assert seqs.next_in == 8
    assert [type(e) for e in _feed(session, new_order("X", seq=8))] == [Deliver]


def test_a_resend_request_is_answered_with_possdup_copies_and_gap_fills() -> None:
    session, seqs = _logged_on()  # our Logon was 1
    for n in range(3):  # 2, 3, 4: execution reports
        session.send("8", [(Tag.EXEC_ID, f"E{n}")], 0.0, T0)
    session.send("0", [], 0.0, T0)  # 5: a heartbeat
    session.send("8", [(Tag.EXEC_ID, "E3")], 0.0, T0)  # 6
    (replay,) = _feed(session, wire("2", [(Tag.BEGIN_SEQ_NO, 1), (Tag.END_SEQ_NO, 0)], seq=2))
    assert replay == Replay(1, 0)
    stored = [SentMessage(CLIENT, s, "8", ((Tag.EXEC_ID, f"E{i}"),), "20260105-15:00:00.000")
              for i, s in enumerate((2, 3, 4, 6))]  # fmt: skip
    sent = _sent(session.replay(stored, 1, 0, T0))
    assert [(m.msg_type, m.seq) for m in sent] == [
        ("4", 1),
        ("8", 2),
        ("8", 3),
        ("8", 4),
        ("4", 5),
        ("8", 6),
    ]
    assert sent[0].get(Tag.NEW_SEQ_NO) == "2" and sent[4].get(Tag.NEW_SEQ_NO) == "6"
    assert all(m.get(Tag.POSS_DUP_FLAG) == "Y" and m.get(Tag.ORIG_SENDING_TIME) for m in sent)
    assert seqs.next_out == 7  # a resend moves no number


def test_a_missing_required_tag_gets_a_reject_naming_it_and_consumes_the_number() -> None:
    session, seqs = _logged_on()
    raw = wire("D", [(Tag.CL_ORD_ID, "A"), (Tag.SYMBOL, "SPX"), (Tag.SIDE, "1")], seq=2)
    (reject,) = _sent(_feed(session, raw))
    assert reject.msg_type == "3"
    assert reject.get(Tag.REF_SEQ_NUM) == "2" and reject.get(Tag.REF_TAG_ID) == "60"
    assert reject.get(Tag.SESSION_REJECT_REASON) == "1"
    assert seqs.next_in == 3


def test_unknown_and_unsupported_message_types() -> None:
    session, seqs = _logged_on()
    (reject,) = _sent(_feed(session, wire("ZZ", seq=2)))
    assert reject.msg_type == "3" and reject.get(Tag.SESSION_REJECT_REASON) == "11"
    (business,) = _sent(_feed(session, wire("B", [(148, "news")], seq=3)))
    assert business.msg_type == "j" and business.get(Tag.BUSINESS_REJECT_REASON) == "3"
    assert business.get(Tag.REF_MSG_TYPE) == "B"
    assert seqs.next_in == 4 and session.state is State.ACTIVE


def test_a_garbled_frame_is_ignored_without_consuming_a_number() -> None:
    session, seqs = _logged_on()
    effects = session.on_frame(Garbled("CheckSum", b"..."), 0.0, T0)
    assert [type(e) for e in effects] == [Ignored]
    assert seqs.next_in == 2 and session.state is State.ACTIVE


def test_possdup_without_orig_sending_time_is_rejected() -> None:
    session, _ = _logged_on()
    raw = new_order("A", seq=2).replace(b"\x0152=", b"\x0143=Y\x0152=")
    body = raw[raw.index(b"35=") : raw.rindex(b"10=")]
    raw = b"8=FIX.4.4\x019=" + str(len(body)).encode() + b"\x01" + body
    raw += f"10={checksum(raw):03d}\x01".encode()
    (reject,) = _sent(_feed(session, raw))
    assert reject.get(Tag.REF_TAG_ID) == "122"


def test_heartbeats_test_requests_and_the_timeout() -> None:
    session, _ = _session()
    _feed(session, logon(hb=10), now=0.0)
    assert session.on_time(5.0, T0) == []
    assert [m.msg_type for m in _sent(session.on_time(10.0, T0))] == ["0"]
    (test,) = _sent(session.on_time(12.5, T0))
    assert test.msg_type == "1"
    # answered: the test request is cleared
    _feed(session, wire("0", [(Tag.TEST_REQ_ID, test.get(Tag.TEST_REQ_ID))], seq=2), now=13.0)
    assert session.next_wakeup() > 13.0
    # unanswered this time: a logout and a disconnect
    assert [m.msg_type for m in _sent(session.on_time(30.0, T0))] == ["1"]  # it counts as sent
    effects = session.on_time(40.0, T0)
    assert [m.msg_type for m in _sent(effects)] == ["5"] and isinstance(effects[-1], Close)


def test_a_test_request_is_answered_with_its_id() -> None:
    session, _ = _logged_on()
    (heartbeat,) = _sent(_feed(session, wire("1", [(Tag.TEST_REQ_ID, "ping")], seq=2)))
    assert heartbeat.msg_type == "0" and heartbeat.get(Tag.TEST_REQ_ID) == "ping"


def test_logout_is_answered_and_the_connection_closed() -> None:
    session, _ = _logged_on()
    effects = _feed(session, wire("5", seq=2))
    assert [m.msg_type for m in _sent(effects)] == ["5"] and isinstance(effects[-1], Close)


def test_no_logon_in_time_closes() -> None:
    session, _ = _session()
    assert session.on_time(5.0, T0) == []
    assert isinstance(session.on_time(CONFIG.logon_timeout_s, T0)[-1], Close)


_KINDS = st.sampled_from(["0", "1", "2", "4", "D", "F", "ZZ", "B", "5"])


@st.composite
def _frames(draw: st.DrawFn) -> bytes:
    """A frame a counterparty might send: any type, a number near the expected one, possibly
    a duplicate, possibly garbled."""
    kind = draw(_KINDS)
    seq = draw(st.integers(1, 12))
    poss_dup = draw(st.booleans())
    body: list[tuple[int, object]] = []
    if kind == "D":
        body = list(frame(new_order(f"A-{seq}", seq=seq)).body())
    elif kind == "2":
        body = [(Tag.BEGIN_SEQ_NO, draw(st.integers(1, 5))), (Tag.END_SEQ_NO, 0)]
    elif kind == "4":
        body = [(Tag.GAP_FILL_FLAG, "Y"), (Tag.NEW_SEQ_NO, draw(st.integers(1, 14)))]
    elif kind == "1":
        body = [(Tag.TEST_REQ_ID, "t")]
    raw = wire(kind, body, seq=seq, poss_dup=poss_dup)
    if draw(st.integers(0, 9)) == 0:
        raw = raw[:-3] + b"00\x01"  # a wrong checksum (almost always)
    return raw


@given(st.lists(_frames(), max_size=25))
def test_any_stream_of_frames_never_delivers_a_number_twice_or_out_of_order(
    frames: list[bytes],
) -> None:
    """Whatever arrives, in whatever order: no exception, application messages delivered in
    strictly increasing numbers, each once, and the expected number never moves back."""
    session, seqs = _logged_on()
    delivered: list[int] = []
    expected = seqs.next_in
    for raw in frames:
        for effect in _feed(session, raw):
            if isinstance(effect, Deliver):
                delivered.append(effect.message.seq or 0)
            elif isinstance(effect, Replay):
                session.replay([], effect.begin, effect.end, T0)
        assert seqs.next_in >= expected
        expected = seqs.next_in
        if session.state is State.CLOSED:
            break
    assert delivered == sorted(set(delivered))
