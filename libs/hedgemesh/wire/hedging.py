"""Hedging: an agent's proposal (legs and why) and the manager's decision on it."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Self

from pydantic import Field, model_validator

from hedgemesh.wire import subjects
from hedgemesh.wire.base import Id, Seq, Token, WireModel, WireValue
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.instruments import (
    Cost,
    Instrument,
    NonZeroQuantity,
    Price,
    Side,
    Underlying,
    require_one_underlying,
)

#: Most legs in one proposal.
MAX_LEGS = 32


class Greeks(WireValue):
    """Sensitivities of a position or of a set of legs (the unit is in each field)."""

    delta: float = Field(description="Units of the underlying (shares-equivalent).")
    gamma: float = Field(description="Change of delta per 1 currency unit move of the underlying.")
    vega_per_vol_point: float = Field(
        description="Change of value per 1 volatility point (0.01) of implied vol (currency)."
    )


class HedgeLeg(WireValue):
    """One instrument a proposal wants to trade; positive quantity buys."""

    instrument: Instrument
    quantity: NonZeroQuantity = Field(description="Contracts or units; + buys, − sells.")
    limit_price: Price | None = Field(
        default=None, description="Worst acceptable price per unit (currency); none: at market."
    )

    @property
    def side(self) -> Side:
        return Side.of(self.quantity)


class HedgeTrigger(StrEnum):
    BAND_BREACH = "band_breach"  # a greek left its band
    PRICE_MOVE = "price_move"  # the underlying moved more than a threshold since the last hedge
    TIMER = "timer"  # the periodic re-hedge
    MANUAL = "manual"  # an operator asked


class Proposal(WireModel):
    """An agent's hedge for its slice of risk: the legs it wants and why.

    Rules: 1..`MAX_LEGS` legs, all on `underlying`, each instrument at most once.
    """

    kind: ClassVar[str] = "proposal"
    subject_pattern: ClassVar[str] = subjects.ALL_PROPOSALS

    agent: Token = Field(description="The proposing agent, e.g. gamma-agent.")
    epoch: Seq | None = Field(
        default=None, description="The agent's leader fencing token (its lease's KV revision)."
    )
    underlying: Underlying
    cycle_id: Id = Field(
        description="The hedge cycle (correlation id); agents reacting to the same tick share it."
    )
    trigger: HedgeTrigger
    reason: str = Field(max_length=1024, description="Why, for a person.")
    legs: list[HedgeLeg] = Field(min_length=1, max_length=MAX_LEGS)
    expected_change: Greeks = Field(
        description="The change of the book's greeks the agent aims for (its objective)."
    )
    leg_greeks: Greeks = Field(
        description="The greeks the legs bring in all, side effects included (e.g. an option "
        "leg's delta)."
    )
    estimated_cost: Cost = Field(description="Expected spread and fees of the legs (currency).")
    tick_seq: Seq = Field(description="`seq` of the latest tick the agent used.")
    positions_seq: Seq | None = Field(
        default=None, description="`as_of_seq` of the position snapshot the agent used."
    )
    causation_id: Id | None = Field(
        default=None, description="Id of the message that fired the trigger (a tick, a command)."
    )

    @model_validator(mode="after")
    def _legs_on_the_underlying(self) -> Self:
        require_one_underlying((leg.instrument for leg in self.legs), self.underlying)
        return self

    @property
    def publish_subject(self) -> str:
        return subjects.proposal(self.agent)


class DecisionOutcome(StrEnum):
    APPROVED = "approved"
    SCALED = "scaled"  # approved at `scale_factor` of every leg's quantity
    REJECTED = "rejected"


class Decision(WireModel):
    """The manager's verdict on one proposal, recorded for every proposal.

    Rules: `approved` has scale 1 and no reason code; `scaled` has a scale in (0, 1) and a reason
    code; `rejected` has scale 0 and a reason code.
    """

    kind: ClassVar[str] = "decision"
    subject_pattern: ClassVar[str] = subjects.ALL_DECISIONS

    proposal_id: Id = Field(description="`id` of the proposal decided (its cause).")
    agent: Token = Field(description="The proposing agent.")
    underlying: Underlying
    cycle_id: Id
    outcome: DecisionOutcome
    reason_code: ReasonCode | None = Field(
        default=None, description="Machine-readable reason when scaled or rejected."
    )
    scale_factor: float = Field(ge=0, le=1, description="Fraction of each leg approved.")
    detail: str = Field(default="", max_length=1024, description="The reason, for a person.")
    epoch: Seq = Field(description="The manager's leader fencing token.")

    @model_validator(mode="after")
    def _outcome_consistent(self) -> Self:
        approved = self.outcome is DecisionOutcome.APPROVED
        if approved != (self.reason_code is None):
            raise ValueError("a reason code is required iff the proposal is not simply approved")
        expected = {
            DecisionOutcome.APPROVED: self.scale_factor == 1,
            DecisionOutcome.SCALED: 0 < self.scale_factor < 1,
            DecisionOutcome.REJECTED: self.scale_factor == 0,
        }[self.outcome]
        if not expected:
            raise ValueError(
                f"scale factor {self.scale_factor} does not fit outcome {self.outcome}"
            )
        return self

    @property
    def publish_subject(self) -> str:
        return subjects.decision(self.agent)
