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
        description="Publish every underlying's snapshot this often, in real seconds (on the "
        "accelerated clock a clock second is a few milliseconds: hundreds of snapshots a second "
        "that every service would parse).",
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
