"""The venue's facts from the environment (`HEDGEMESH_VENUE_*`), read by every service whose work
depends on them: execution (its books), the manager (the expected cost of an order) and the
agents (their cost model). Defaults are `hedgemesh.venue.spec.VENUE`; a field set in the
environment changes only that field, for all of them at once:

    HEDGEMESH_VENUE_OPTION__FEE_PER_CONTRACT=0.65
    HEDGEMESH_VENUE_OPTION__LIQUIDITY__TOP_SIZE=20
    HEDGEMESH_VENUE_UNDERLYING__TICK_SIZE=0.25
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hedgemesh.venue.liquidity import LiquidityParams
from hedgemesh.venue.spec import VENUE, BookSpec, VenueSpec
from hedgemesh.wire.instruments import MAX_QUANTITY

__all__ = ["BookSettings", "LiquiditySettings", "VenueSettings"]


class LiquiditySettings(BaseModel):
    """How the synthetic liquidity providers of one kind of book quote (see
    `hedgemesh.venue.liquidity`): basis points of fair value, ticks, units or contracts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    levels: int = Field(ge=1, le=50)
    half_spread_bp: float = Field(gt=0, le=10_000, description="Fair to touch.")
    min_half_spread_ticks: float = Field(gt=0, le=10_000)
    level_step_bp: float = Field(gt=0, le=10_000, description="Between levels.")
    min_level_step_ticks: float = Field(gt=0, le=10_000)
    top_size: float = Field(gt=0, le=MAX_QUANTITY, description="At the touch.")
    size_decay: float = Field(gt=0, le=1, description="Level i shows decay**i.")
    ref_vol: float = Field(gt=0, le=10, description="Vol of the figures above.")
    spread_vol_exponent: float = Field(ge=0, le=10)
    size_vol_exponent: float = Field(ge=0, le=10)
    half_life_s: float = Field(gt=0, le=86_400, description="Depth refill (clock seconds).")
    size_jitter: float = Field(ge=0, le=5)
    refill_step: float = Field(gt=0, le=1)

    def params(self) -> LiquidityParams:
        return LiquidityParams(**self.model_dump())


class BookSettings(BaseModel):
    """One kind of book (`hedgemesh.venue.spec.BookSpec`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tick_size: float = Field(gt=0, le=1e6, description="Currency.")
    multiplier: float = Field(gt=0, le=1e6, description="Units of the underlying per contract.")
    fee_per_contract: float = Field(ge=0, le=1e6, description="Currency per contract filled.")
    fee_bp: float = Field(ge=0, le=1000, description="Basis points of the notional filled.")
    liquidity: LiquiditySettings

    @classmethod
    def of(cls, spec: BookSpec) -> BookSettings:
        return cls.model_validate(asdict(spec))

    def spec(self) -> BookSpec:
        fields: dict[str, Any] = self.model_dump(exclude={"liquidity"})
        return BookSpec(**fields, liquidity=self.liquidity.params())


class VenueSettings(BaseSettings):
    """The venue (module doc)."""

    model_config = SettingsConfigDict(
        env_prefix="HEDGEMESH_VENUE_",
        env_nested_delimiter="__",
        nested_model_default_partial_update=True,
        frozen=True,
        extra="ignore",
    )

    underlying: BookSettings = BookSettings.of(VENUE.underlying)
    option: BookSettings = BookSettings.of(VENUE.option)

    def spec(self) -> VenueSpec:
        return VenueSpec(underlying=self.underlying.spec(), option=self.option.spec())
