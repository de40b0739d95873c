"""How often the ledger may publish an underlying's snapshot after bookings.

The first booking after a quiet spell is published at once (a fill reaches the manager and the
agents without delay); bookings within `min_gap_s` of the last publication are coalesced into
one publication of the newest state when the gap has passed. A flood of bookings — a firm's book
loaded as client trades, a burst of fills — then costs one snapshot per gap and underlying, not
one per booking (each snapshot is marked in full and parsed by every service that holds a book).
"""

from __future__ import annotations


class SnapshotPacer:
    """Decides, per underlying, whether a booking's snapshot goes out now or later (real time)."""

    def __init__(self, min_gap_s: float) -> None:
        self.min_gap_s = min_gap_s
        self._last: dict[str, float] = {}
        self._due: set[str] = set()

    def after_booking(self, underlying: str, now: float) -> float | None:
        """0.0: publish now; a delay: publish then (once: None while one is due already)."""
        if underlying in self._due:
            return None
        wait = self._last.get(underlying, float("-inf")) + self.min_gap_s - now
        if wait <= 0:
            self._last[underlying] = now
            return 0.0
        self._due.add(underlying)
        return wait

    def published(self, underlying: str, now: float) -> None:
        """A due (coalesced) snapshot of `underlying` went out at `now`."""
        self._due.discard(underlying)
        self._last[underlying] = now
