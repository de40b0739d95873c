"""What the engine is told: plain values, no environment (`ExecutionSettings.engine_params()`
builds them; each default lives there, once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from hedgemesh.execution.domain.controls import ControlLimits
from hedgemesh.venue.spec import VenueSpec

__all__ = ["EngineParams"]


@dataclass(frozen=True, slots=True)
class EngineParams:
    """The engine's parameters (see `ExecutionSettings` for each field's meaning); `venue`: the
    books' tick sizes, multipliers, fees and liquidity."""

    underlyings: tuple[str, ...]
    market_data_wait_s: float
    max_order_quantity: int
    default_vol: float
    vol_reference_days: float
    session_close_utc: time
    seed: int
    controls: ControlLimits
    venue: VenueSpec
