"""Settings of the marketdata service, from the environment (`HEDGEMESH_MARKETDATA_<FIELD>`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hedgemesh.marketdata.domain.pacing import PaceRules
from hedgemesh.scenario import DEFAULT_SCENARIO


class MarketDataSettings(BaseSettings):
    """What to run and how to pace it."""

    model_config = SettingsConfigDict(
        env_prefix="HEDGEMESH_MARKETDATA_", frozen=True, extra="ignore", populate_by_name=True
    )

    scenario: Path = Field(
        default=DEFAULT_SCENARIO,
        validation_alias=AliasChoices(
            "scenario", "HEDGEMESH_MARKETDATA_SCENARIO", "HEDGEMESH_SCENARIO"
        ),
        description="Scenario file (also `HEDGEMESH_SCENARIO`, which every service reads).",
    )
    client_flow: bool = Field(
        default=True, description="Publish the scenario's client flow (initial trades always)."
    )
    max_lag_s: float = Field(
        default=30.0,
        gt=0.0,
        le=86_400.0,
        description="Ticks and surfaces more than this many clock seconds late are skipped "
        "(catching up after a pause or a pinned start in the past); trades never are.",
    )
    retry_s: float = Field(
        default=0.5, gt=0.0, le=60.0, description="Wait between tries to store a trade (real s)."
    )
    surface_vol_tolerance: float = Field(
        default=0.0005,
        ge=0.0,
        le=1.0,
        description="A surface is re-sent only when one of its implied vols moved by more than "
        "this (0.0005: 0.05 vol point) since the last sent, or its terms changed (expiries, "
        "rate, dividend, depth), or surface_max_interval_s passed; 0: every tick's surface "
        "(hedgemesh.market.surface_filter).",
    )
    surface_max_interval_s: float = Field(
        default=300.0,
        gt=0.0,
        le=86_400.0,
        description="At most this long between surfaces (clock s).",
    )
    pace_lag_s: float = Field(
        default=PaceRules.lag_s,
        gt=0.0,
        le=3600.0,
        description="Pacing: the desk's worst lag (clock seconds) the clock is slowed to keep "
        "it under; keep it well below the limits' max_tick_age.",
    )
    pace_floor: float = Field(
        default=PaceRules.floor, gt=0.0, le=10_000.0, description="Pacing: never slower than this."
    )
    desk: tuple[str, ...] = Field(
        default=("ledger", "execution", "manager", "gamma-agent", "vega-agent"),
        description="Services that must have a ready leader before a held clock starts.",
    )
    ledger: str = Field(default="ledger", description="The service that books client trades.")
    ready_timeout_s: float = Field(
        default=120.0,
        gt=0.0,
        le=3600.0,
        description="Real seconds to wait for the desk before starting a held clock anyway.",
    )

    def pace_rules(self) -> PaceRules:
        return PaceRules(lag_s=self.pace_lag_s, floor=self.pace_floor)

    trades_in_flight: int = Field(
        default=256,
        ge=1,
        le=10_000,
        description="Trades of one batch stored on JetStream at once (sent in order, acks awaited "
        "together): a firm's book of 100,000 positions took minutes one ack at a time.",
    )
