"""The FIX codec: framing, checksums, body lengths, garbled bytes (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hedgemesh.execution.domain.fix.codec import (
    FixMessage,
    Framer,
    Garbled,
    Tag,
    checksum,
    parse_time,
)

from .fix_examples import T0, frame, logon, new_order, wire


def test_a_message_round_trips_with_its_length_and_checksum() -> None:
    raw = new_order("A-1", seq=7, qty=3, ord_type="2", price=5000.25, tif="3")
    message = frame(raw)
    assert message.msg_type == "D"
    assert message.seq == 7
    assert message.get(Tag.CL_ORD_ID) == "A-1"
    assert message.get(Tag.PRICE) == "5000.25"
    body_start = raw.index(b"\x01", raw.index(b"9=")) + 1
    trailer = raw.rindex(b"10=")
    assert int(raw[raw.index(b"9=") + 2 : body_start - 1]) == trailer - body_start
    assert int(raw[trailer + 3 : trailer + 6]) == checksum(raw[:trailer])
    assert parse_time(message.get(Tag.SENDING_TIME) or "") == T0


def test_a_stream_fed_byte_by_byte_gives_the_same_messages() -> None:
    stream = logon() + new_order("A-1", seq=2) + wire("0", seq=3)
    framer = Framer()
    got = [m for i in range(len(stream)) for m in framer.feed(stream[i : i + 1])]
    assert [m.msg_type for m in got if isinstance(m, FixMessage)] == ["A", "D", "0"]
    assert framer.pending == 0


def _corrupt_checksum(raw: bytes) -> bytes:
    at = raw.rindex(b"10=") + 3
    wrong = (int(raw[at : at + 3]) + 1) % 256
    return raw[:at] + f"{wrong:03d}".encode() + raw[at + 3 :]


def test_a_wrong_checksum_is_garbled_and_the_next_message_still_reads() -> None:
    frames = list(Framer().feed(_corrupt_checksum(wire("0", seq=1)) + wire("0", seq=2)))
    assert isinstance(frames[0], Garbled) and "CheckSum" in frames[0].reason
    assert isinstance(frames[1], FixMessage) and frames[1].seq == 2


def test_a_wrong_body_length_is_garbled_and_the_next_message_still_reads() -> None:
    good = wire("0", seq=2)
    for wrong in (b"9=5\x01", b"9=500\x01"):
        bad = wire("0", seq=1)
        start = bad.index(b"9=")
        bad = bad[:start] + wrong + bad[bad.index(b"\x01", start) + 1 :]
        frames = list(Framer().feed(bad + good))
        assert isinstance(frames[0], Garbled) and "BodyLength" in frames[0].reason
        assert [f.seq for f in frames if isinstance(f, FixMessage)] == [2]


def test_junk_and_bad_fields_are_garbled() -> None:
    frames = list(Framer().feed(b"hello" + wire("0", seq=1)))
    assert isinstance(frames[0], Garbled) and isinstance(frames[1], FixMessage)
    raw = wire("0", [(Tag.TEXT, "x")], seq=1).replace(b"58=x", b"5x=x")
    fixed = raw[: raw.rindex(b"10=")]
    raw = fixed + f"10={checksum(fixed):03d}\x01".encode()
    (bad,) = Framer().feed(raw)
    assert isinstance(bad, Garbled) and "tag=value" in bad.reason


@given(st.binary(max_size=300))
def test_any_bytes_before_a_message_never_hide_it(junk: bytes) -> None:
    """Garbage of any kind is reported garbled, never raises, and a message after it (once
    the garbage cannot be read as a message start) is found."""
    while b"8=FIX" in junk:  # removing one may join two halves into another
        junk = junk.replace(b"8=FIX", b"")
    framer = Framer()
    frames = list(framer.feed(junk + b"\x01" + wire("0", seq=9)))
    assert frames and isinstance(frames[-1], FixMessage) and frames[-1].seq == 9
    assert all(isinstance(f, Garbled) for f in frames[:-1])
