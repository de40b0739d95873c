"""The ledger's snapshot pacing after bookings (adapters/pacer.py)."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedgemesh.ledger.adapters.pacer import SnapshotPacer


def test_given_a_quiet_underlying_then_its_booking_is_published_at_once():
    pacer = SnapshotPacer(0.05)
    assert pacer.after_booking("SPX", 10.0) == 0.0
    assert pacer.after_booking("NDX", 10.0) == 0.0  # each underlying paced on its own


def test_given_bookings_within_the_gap_then_one_publication_is_due_at_its_end():
    pacer = SnapshotPacer(0.05)
    pacer.after_booking("SPX", 10.0)
    assert pacer.after_booking("SPX", 10.01) == pytest.approx(0.04)  # due when the gap passed
    assert pacer.after_booking("SPX", 10.02) is None  # coalesced into the due one
    pacer.published("SPX", 10.05)
    assert pacer.after_booking("SPX", 10.2) == 0.0


def test_given_no_gap_then_every_booking_is_published():
    pacer = SnapshotPacer(0.0)
    assert [pacer.after_booking("SPX", 1.0) for _ in range(3)] == [0.0, 0.0, 0.0]


@given(st.lists(st.floats(min_value=0, max_value=0.2), min_size=1, max_size=200))
def test_given_any_bookings_then_publications_are_a_gap_apart_and_the_last_state_goes_out(steps):
    """Simulated: publications never closer than the gap, and none is left undone at the end."""
    gap, pacer, now = 0.05, SnapshotPacer(0.05), 0.0
    due_at: float | None = None
    published: list[float] = []
    for step in steps:
        now += step
        if due_at is not None and due_at <= now:
            pacer.published("SPX", due_at)
            published.append(due_at)
            due_at = None
        delay = pacer.after_booking("SPX", now)
        if delay == 0.0:
            published.append(now)
        elif delay is not None:
            due_at = now + delay
    if due_at is not None:
        published.append(due_at)
    assert all(b - a >= gap - 1e-9 for a, b in itertools.pairwise(published))
    assert published[-1] >= now  # the newest booking is in a publication at or after it
