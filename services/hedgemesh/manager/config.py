"""Manager settings, from `HEDGEMESH_MANAGER_*` (the database from `HEDGEMESH_DATABASE_URL`, the
scenario from `HEDGEMESH_SCENARIO`).

The venue's tick sizes, spreads and fees (for limit prices and the expected cost of an order) are
the venue's own facts: `hedgemesh.venue.settings.VenueSettings` (`HEDGEMESH_VENUE_*`).

Times are clock seconds (the injected clock: simulated time on an accelerated cluster) unless
the name says `real`: the gather window, liveness, orders in flight and the polling intervals
are about processes and the network, and run on real time whatever the clock's speed.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hedgemesh.manager.domain.core import ManagerRules
from hedgemesh.manager.domain.engine import DecisionParams
from hedgemesh.manager.domain.limits import FallbackLimits
from hedgemesh.scenario import DEFAULT_SCENARIO
from hedgemesh.venue.spec import VENUE, VenueSpec
from hedgemesh.wire.base import Token


class ManagerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HEDGEMESH_MANAGER_",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
        populate_by_name=True,
    )

    scenario: Path | None = Field(
        default=DEFAULT_SCENARIO,
        validation_alias=AliasChoices(
            "scenario", "HEDGEMESH_MANAGER_SCENARIO", "HEDGEMESH_SCENARIO"
        ),
        description="Scenario whose `limits:` section seeds KV `limits` and the budgets; "
        "none: fallbacks only.",
    )

    # -- cycles ---------------------------------------------------------------------------------
    agents: tuple[Token, ...] = Field(
        default=("gamma-agent", "vega-agent"),
        description="The specialist slices: a cycle is complete once each live one proposed; "
        "budgets when the scenario gives none.",
    )
    gather_window_real_s: float = Field(
        default=0.02,
        ge=0,
        le=10,
        description="How long a cycle waits for proposals after its first (real s), unless "
        "every live specialist slice has proposed before.",
    )
    delta_recheck_real_s: float = Field(
        default=0.003,
        ge=0,
        le=10,
        description="After an execution report or a new position snapshot, the leader checks "
        "the underlying's delta again this soon (real s; a burst makes one check): option "
        "fills, cancelled rests and client trades are hedged as they happen, not a tick later.",
    )
    closed_cycles_kept: int = Field(
        default=4096, ge=16, le=1_000_000, description="Decided cycle ids remembered."
    )
    standby_cycles_kept_s: float = Field(
        default=30.0, gt=0, le=3600, description="A standby keeps undecided cycles this long."
    )

    # -- the solve ------------------------------------------------------------------------------
    delta_band_fraction: float = Field(
        default=0.5, gt=0, le=1, description="The delta band, as a fraction of the delta limit."
    )
    delta_rehedge_to: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="A band breach is hedged to this fraction of the "
        "band (0: flat, 1: the band's edge).",
    )
    risk_weight: float = Field(
        default=1e6, gt=0, le=1e12, description="Currency per whole limit of gamma or vega risk."
    )
    breach_weight: float = Field(
        default=1e9, gt=0, le=1e15, description="Currency per whole limit breached."
    )
    dead_zone_fraction: float = Field(
        default=0.01, ge=0, lt=1, description="Risk within this fraction of a limit is flat."
    )
    bucket_vega_limit_fraction: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Each expiry bucket's vega limit, as a fraction of the underlying's.",
    )
    max_orders_per_instrument: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Orders of one instrument per cycle (each within the per-order limits).",
    )

    # -- orders ---------------------------------------------------------------------------------
    limit_collar_fraction: float = Field(
        default=0.8, gt=0, le=1, description="Limit price = fair ± this × the price collar."
    )
    outbox_max_age_s: float = Field(
        default=30.0,
        gt=0,
        le=86_400,
        description="A new leader routes a predecessor's stored, "
        "unpublished orders only if younger than this.",
    )
    inflight_timeout_real_s: float = Field(
        default=120.0,
        gt=0,
        le=86_400,
        description="An order with no report for this long (real s) is dropped from the orders "
        "in flight. An order on JetStream is worked when execution gets to it, however late: "
        "forgetting it early would hedge its risk twice.",
    )

    # -- budgets --------------------------------------------------------------------------------
    default_budget: float = Field(
        default=5e6, ge=0, description="Premium per period per agent when the scenario has none."
    )
    budget_period_s: float = Field(default=3600.0, gt=0, le=86_400 * 31)
    budget_floor_fraction: float = Field(default=0.2, ge=0, le=1)
    budget_reallocation_rate: float = Field(default=0.5, gt=0, le=1)

    # -- fallback limits for an underlying without any (currency, converted at its spot) --------
    fallback_dollar_delta: float = Field(default=5e6, ge=0)
    fallback_dollar_gamma_per_pct: float = Field(default=1e7, ge=0)
    fallback_vega_per_vol_point: float = Field(default=1e5, ge=0)
    fallback_order_notional: float = Field(default=2.5e7, ge=0)
    fallback_order_quantity: int = Field(default=5000, ge=1)
    fallback_daily_cost_budget: float = Field(default=2.5e5, ge=0)
    fallback_price_collar: float = Field(default=0.05, gt=0, le=1)
    fallback_max_tick_age_s: float = Field(default=30.0, gt=0, le=86_400)

    # -- liveness and polling -------------------------------------------------------------------
    agent_timeout_real_s: float = Field(
        default=3.0,
        gt=0,
        le=3600,
        description="A slice with no leader heartbeat for this long (real s) is down.",
    )
    degrade_when_slice_down: bool = Field(
        default=True, description="Go REDUCING while a specialist slice has no live leader."
    )
    reduce_lag_s: float | None = Field(
        default=10.0,
        gt=0,
        le=86_400,
        description="On a live clock (speed 1): REDUCING while the manager or an agent leader "
        "lags the market by more than this (s); None: never. An accelerated clock is paced "
        "by marketdata instead.",
    )
    startup_grace_real_s: float = Field(
        default=5.0, ge=0, le=3600, description="No degrading this soon after start (real s)."
    )
    kv_poll_real_s: float = Field(
        default=0.2, gt=0, le=60, description="How often limits and trading state are re-read."
    )
    timer_real_s: float = Field(
        default=0.25, gt=0, le=60, description="Budget periods, liveness and outbox checks."
    )

    def decision_params(self, venue: VenueSpec = VENUE) -> DecisionParams:
        """The decision engine's parameters (the fields of `DecisionParams`, by name) on
        `venue` (its tick sizes, spreads and fees: `hedgemesh.venue.settings.VenueSettings`)."""
        names = {f.name for f in fields(DecisionParams)} - {"venue"}
        return DecisionParams(**self.model_dump(include=names), venue=venue)

    def rules(self) -> ManagerRules:
        """The core's rules (the fields of `ManagerRules` by name; the fallback limits from
        the `fallback_*` fields)."""
        names = {f.name for f in fields(ManagerRules)} - {"fallback"}
        fallback = {f.name: getattr(self, f"fallback_{f.name}") for f in fields(FallbackLimits)}
        return ManagerRules(**self.model_dump(include=names), fallback=FallbackLimits(**fallback))
