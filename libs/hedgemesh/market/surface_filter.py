"""Which surfaces are worth sending: a surface re-sent whole on every tick mostly repeats the last.

A consumer prices with the last surface it holds and the latest tick (sticky moneyness: the
forward moves with spot, `hedgemesh.market.fair_value`), so a new surface says something only
where its implied vols differ from the held one's. `SurfaceFilter.admit` passes a surface when

- it is the underlying's first, or `vol_tolerance` is 0 (every surface);
- its listed expiries, rate, dividend yield or `depth_multiplier` differ from the last sent;
- one of its slices' implied vols at the log-moneyness points `K_POINTS` (each slice at its own
  time to expiry, as a consumer reads it) differs from the last sent's by more than
  `vol_tolerance` (absolute, e.g. 0.001 = 0.1 vol point): a gap, a vol spike, the drift of a
  stochastic vol;
- `max_interval_s` of the surface's own time has passed since the last sent.

Pure: surfaces in, a verdict out; the marketdata service applies it before publishing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hedgemesh.wire.market import Surface, SviSlice

__all__ = ["K_POINTS", "SurfaceFilter"]

#: Log-moneyness points compared: the money and both wings (ln 0.8 ≈ −0.22).
K_POINTS = (-0.2, -0.1, 0.0, 0.1, 0.2)


def _vol(s: SviSlice, k: float) -> float:
    w = s.a + s.b * (s.rho * (k - s.m) + math.sqrt((k - s.m) ** 2 + s.sigma**2))
    return math.sqrt(max(w, 0.0) / s.t)


def _vol_moved(before: Surface, after: Surface, tolerance: float) -> bool:
    for old, new in zip(before.slices, after.slices, strict=True):
        for k in K_POINTS:
            if abs(_vol(new, k) - _vol(old, k)) > tolerance:
                return True
    return False


def _same_terms(before: Surface, after: Surface) -> bool:
    return (
        before.rate == after.rate
        and before.div == after.div
        and before.depth_multiplier == after.depth_multiplier
        and [s.expiry for s in before.slices] == [s.expiry for s in after.slices]
    )


@dataclass
class SurfaceFilter:
    """The surfaces to send, per underlying (module doc)."""

    vol_tolerance: float = 0.0
    max_interval_s: float = 300.0
    sent: dict[str, Surface] = field(default_factory=dict)
    """The last surface passed, per underlying."""
    held_back: int = 0

    def admit(self, surface: Surface) -> bool:
        """Whether `surface` is to be sent (it becomes the last sent when it is)."""
        last = self.sent.get(surface.underlying)
        due = (
            self.vol_tolerance <= 0.0
            or last is None
            or not _same_terms(last, surface)
            or (surface.ts - last.ts).total_seconds() >= self.max_interval_s
            or _vol_moved(last, surface, self.vol_tolerance)
        )
        if due:
            self.sent[surface.underlying] = surface
        else:
            self.held_back += 1
        return due
