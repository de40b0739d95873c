"""Settings every specialist agent shares; each agent's own class sets its env prefix
(`HEDGEMESH_GAMMA_AGENT_`, `HEDGEMESH_VEGA_AGENT_`) and its defaults. The cost model's venue
(spreads, depth, tick size, fee) is the venue's own spec, shared with execution and the manager:
`hedgemesh.venue.settings.VenueSettings` (`HEDGEMESH_VENUE_*`)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings

from hedgemesh.agentkit.domain.rules import AgentRules
from hedgemesh.quant.book import DEFAULT_BUCKET_EDGES_DAYS
from hedgemesh.scenario import DEFAULT_SCENARIO
from hedgemesh.wire.base import Token
from hedgemesh.wire.ops import HedgePolicy


class AgentSettings(BaseSettings):
    """Bands, triggers, the choice of options and the timings of one specialist agent.

    Bands are fractions of the live limit in KV `limits` (per underlying): the agent acts when
    its greek's magnitude exceeds `band_fraction` × limit and brings it back to
    `target_fraction` × limit (a no-trade band with hysteresis). Clock seconds follow the
    service's clock (fast in an accelerated cluster); real seconds are wall time (network waits).
    """

    scenario: Path = Field(
        default=DEFAULT_SCENARIO,
        validation_alias=AliasChoices("scenario", "HEDGEMESH_SCENARIO"),
        description="Scenario file, for the listed chain's strike grid (`HEDGEMESH_SCENARIO`).",
    )
    band_fraction: float = Field(default=0.5, gt=0, le=1, description="Of the limit: acts past.")
    target_fraction: float = Field(
        default=0.25, ge=0, le=1, description="Of the limit: where a hedge brings the greek."
    )
    price_move: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Re-hedge to the target band once spot moved this much (relative) since the "
        "last hedge; 0: off.",
    )
    timer_interval_s: float = Field(
        default=1800.0,
        ge=0,
        le=86_400 * 30,
        description="Re-hedge to the target band this often (clock seconds); 0: off.",
    )
    timer_poll_s: float = Field(
        default=60.0, gt=0, le=86_400, description="How often the timer looks (clock seconds)."
    )
    min_tenor_days: float = Field(default=2.0, ge=0, le=3650)
    max_tenor_days: float = Field(default=45.0, gt=0, le=3650)
    max_sd: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="Near the money: |ln(K/F)| within this many standard deviations σ√τ.",
    )
    max_legs: int = Field(default=6, ge=1, le=32)
    depth_fraction: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="A leg takes at most this fraction of the depth its ladder shows (and never "
        "more than the limits' max_order_quantity).",
    )
    collar_fraction: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="A leg's limit price stays within this share of the limits' price collar "
        "from fair value (room for fair to move before the manager checks it).",
    )
    manager: Token | None = Field(
        default="manager",
        description="The service whose leader decides proposals: none is made until its "
        "heartbeat says a leader is ready (its subscriptions made). None: no such wait.",
    )
    manager_timeout_s: float = Field(
        default=6.0,
        gt=0,
        le=3600,
        description="A manager leader whose last heartbeat is older than this is gone (real s).",
    )
    decision_timeout_s: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description="A proposal with no decision after this long no longer holds back the next "
        "one (real seconds).",
    )
    settle_timeout_s: float = Field(
        default=1.5,
        gt=0,
        le=3600,
        description="An approved proposal holds back the next one until the ledger has booked "
        "a fill of its orders, or this long (real seconds; orders that filled nothing).",
    )
    standby_cycle_s: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="A standby evaluates an underlying at most this often (real seconds; 0: on "
        "every tick, as the leader): it keeps the book, the hold and the memory of the leader's "
        "proposals on every message, and a take-over evaluates on the next tick.",
    )
    kv_poll_s: float = Field(
        default=0.25, gt=0, le=60, description="Limits and trading state re-read (real seconds)."
    )
    snapshot_retry_s: float = Field(
        default=1.0, gt=0, le=60, description="Retry of the start-up snapshot request (real s)."
    )
    policy: HedgePolicy = Field(
        default=HedgePolicy.BAND,
        description="band, or learned (an agent with a checkpoint; the band is its fallback).",
    )
    bucket_edges_days: tuple[float, ...] = DEFAULT_BUCKET_EDGES_DAYS

    @model_validator(mode="after")
    def _bands_nest(self) -> Self:
        if self.target_fraction > self.band_fraction:
            raise ValueError("target_fraction must not exceed band_fraction")
        if self.min_tenor_days >= self.max_tenor_days:
            raise ValueError("min_tenor_days must be below max_tenor_days")
        return self

    def rules(self) -> AgentRules:
        """The core's rules (the fields of `AgentRules`, by name)."""
        names = {f.name for f in fields(AgentRules)}
        return AgentRules(**self.model_dump(include=names))
