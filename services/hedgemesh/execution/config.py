"""Execution settings, from `HEDGEMESH_EXECUTION_*` (the database from `HEDGEMESH_DATABASE_URL`).

The venue's books (tick sizes, multipliers, fees, liquidity) are the venue's facts, shared with
the manager and the agents: `hedgemesh.venue.settings.VenueSettings` (`HEDGEMESH_VENUE_*`).
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import time
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hedgemesh.execution.domain.controls import ControlLimits
from hedgemesh.execution.domain.fix.session import SessionConfig
from hedgemesh.execution.domain.params import EngineParams
from hedgemesh.venue.spec import VENUE, VenueSpec
from hedgemesh.wire.base import Token
from hedgemesh.wire.instruments import MAX_MONEY, MAX_QUANTITY


class ExecutionSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HEDGEMESH_EXECUTION_",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
    )

    # -- intake --------------------------------------------------------------------------------
    orders_durable: Token = Field(default="execution-orders", description="Consumer on orders.")
    manager_lease: Token | None = Field(
        default="manager",
        description="The manager's lease in KV `leases`: when it changes hands the fence rises "
        "past the last revision of the old holder, before any order of the new one arrives. "
        "None: fence on the epochs of orders only.",
    )
    lease_poll_real_s: float = Field(
        default=0.2, gt=0, le=60, description="How often the lease is read (real seconds)."
    )
    max_deliver: int = Field(
        default=10, ge=1, le=1000, description="Tries per order message before dead-lettering."
    )
    retry_delay_s: float = Field(default=1.0, gt=0, le=600, description="Wait before a retry.")
    ack_wait_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Redeliver an order unacknowledged this long (one a crash left in flight).",
    )
    underlyings: tuple[str, ...] = Field(
        default=(),
        description="Underlyings traded here; empty: any underlying with market data.",
    )
    market_data_wait_s: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="How long an order for an underlying without market data yet waits for it "
        "before it is rejected UNKNOWN_INSTRUMENT (clock seconds).",
    )
    max_order_quantity: int = Field(
        default=1_000_000, ge=1, le=MAX_QUANTITY, description="Larger orders are rejected."
    )

    # -- pre-trade controls (docs/execution.md) ------------------------------------------------
    max_order_notional: float = Field(
        default=1e9, gt=0, le=MAX_MONEY, description="quantity × price × multiplier per order."
    )
    price_collar: float = Field(
        default=0.25,
        gt=0,
        le=10,
        description="How far a limit may lie through fair value (fraction of fair value).",
    )
    price_collar_min_ticks: float = Field(
        default=5.0, ge=0, le=1e6, description="The collar is never narrower (ticks)."
    )
    max_orders_per_window: int = Field(
        default=1000, ge=1, le=1_000_000, description="Orders past it are refused; REDUCING."
    )
    order_rate_window_s: float = Field(
        default=1.0, gt=0, le=3600, description="The throttle's window (clock seconds)."
    )
    max_daily_notional: float = Field(
        default=1e12, gt=0, le=MAX_MONEY, description="Notional of the day's accepted orders."
    )
    max_daily_loss: float = Field(
        default=1e8,
        gt=0,
        le=MAX_MONEY,
        description="The day's loss on execution's fills (marked) that halts trading.",
    )

    # -- venue ---------------------------------------------------------------------------------
    default_vol: float = Field(
        default=0.20, gt=0, le=10, description="Vol the providers assume before any surface."
    )
    vol_reference_days: float = Field(
        default=30.0, gt=0, le=3650, description="Tenor of the at-the-money vol for the spot book."
    )
    session_close_utc: time = Field(
        default=time(21, 0), description="Day orders expire at the first close after arrival."
    )
    refill_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="Providers refill consumed depth at least this often (clock seconds).",
    )
    seed: int = Field(default=0, ge=0, description="Seeds every provider (with its symbol).")

    # -- outbox --------------------------------------------------------------------------------
    publish_batch: int = Field(
        default=256, ge=1, le=10_000, description="Reports published per outbox round."
    )
    publish_window: int = Field(
        default=64, ge=1, le=10_000, description="Report publishes in flight at once."
    )
    publish_ack_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="How long a publish waits for JetStream's ack before it is retried (real "
        "seconds; a retry costs a duplicate, so a busy machine is given time).",
    )
    publish_retry_s: float = Field(
        default=0.05,
        gt=0,
        le=60,
        description="Pause after a failed round, doubling each time (real seconds).",
    )
    publish_max_retry_s: float = Field(
        default=2.0, gt=0, le=600, description="The longest pause between retries (real seconds)."
    )

    # -- FIX 4.4 acceptor (docs/fix.md) ---------------------------------------------------------
    fix_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="TCP port of the FIX 4.4 acceptor; None: no acceptor (0: any free port).",
    )
    fix_host: str = Field(default="127.0.0.1", description="Address the acceptor listens on.")
    fix_comp_id: Token = Field(default="HEDGEMESH", description="Our SenderCompID.")
    fix_passwords: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Counterparty SenderCompID → its logon password (JSON); merged with "
        "`fix_passwords_file`.",
    )
    fix_passwords_file: Path | None = Field(
        default=None,
        description="A JSON file {SenderCompID: password} (0600; `hedgemesh up` writes one).",
    )
    fix_min_heartbeat_s: int = Field(default=1, ge=1, le=3600, description="Lowest HeartBtInt.")
    fix_max_heartbeat_s: int = Field(
        default=300, ge=1, le=3600, description="Highest HeartBtInt accepted at logon."
    )
    fix_logon_timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="A connection must log on within this."
    )

    def fix_session_config(self) -> SessionConfig:
        """The FIX sessions' settings, passwords from `fix_passwords` and the file (a file that
        cannot be read or is not a JSON object of strings stops the service)."""
        passwords = {name: secret.get_secret_value() for name, secret in self.fix_passwords.items()}
        if self.fix_passwords_file is not None:
            loaded = json.loads(self.fix_passwords_file.read_text())
            if not isinstance(loaded, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in loaded.items()
            ):
                raise ValueError(f"{self.fix_passwords_file}: not a JSON object of passwords")
            passwords.update(loaded)
        return SessionConfig(
            comp_id=self.fix_comp_id,
            passwords=passwords,
            min_heartbeat_s=self.fix_min_heartbeat_s,
            max_heartbeat_s=self.fix_max_heartbeat_s,
            logon_timeout_s=self.fix_logon_timeout_s,
        )

    def control_limits(self) -> ControlLimits:
        """The pre-trade controls' settings (the fields of `ControlLimits`, by name)."""
        names = {f.name for f in fields(ControlLimits)}
        return ControlLimits(**self.model_dump(include=names))

    def engine_params(self, venue: VenueSpec = VENUE) -> EngineParams:
        """The engine's parameters (the fields of `EngineParams`, by name) on `venue`."""
        names = {f.name for f in fields(EngineParams)} - {"controls", "venue"}
        return EngineParams(
            **self.model_dump(include=names), controls=self.control_limits(), venue=venue
        )
