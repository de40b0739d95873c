"""Ledger settings, from `HEDGEMESH_LEDGER_*` (the database from `HEDGEMESH_DATABASE_URL`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hedgemesh.wire.base import Token


class LedgerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEDGEMESH_LEDGER_", frozen=True, extra="ignore")

    snapshot_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="Publish every underlying's snapshot this often (real seconds, whatever the "
        "clock's speed: the re-send is for late listeners and fresh marks, not the market's time).",
    )
    snapshot_min_gap_s: float = Field(
        default=0.05,
        ge=0,
        le=60,
        description="After a booking an underlying's snapshot goes out at once unless one went "
        "out less than this long ago (real seconds); then its newest state once the gap has "
        "passed: a flood of bookings sends one snapshot per gap, not one per booking.",
    )
    trades_durable: Token = Field(default="ledger-trades", description="Consumer on trades.")
    fills_durable: Token = Field(default="ledger-fills", description="Consumer on reports.")
    max_deliver: int = Field(
        default=10, ge=1, le=1000, description="Tries per message before it is dead-lettered."
    )
    retry_delay_s: float = Field(default=1.0, gt=0, le=600, description="Wait before a retry.")
    ack_wait_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Redeliver a message not acknowledged after this long: how soon a restart "
        "sees the one in flight when the last process died (a booking takes milliseconds; a "
        "redelivery while it is still running is harmless, the store books each id once).",
    )
