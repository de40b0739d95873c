"""Edge checks that need the service's state: the clock, and the last sequence number seen.

Decoding (`hedgemesh.wire`) already refuses what a message alone shows to be wrong: NaN and
infinities, non-positive quantities and prices, unknown fields, wrong types, oversized payloads.
Three checks need more than the message, so the `Bus` applies them to every subscription of
every service once the settings turn them on (`hedgemesh up` and compose do):

- `UNKNOWN_INSTRUMENT`: about an underlying the desk does not trade (its `underlying`, or its
  `instrument`'s, is not in `underlyings`, the scenario's);
- `FUTURE_TIMESTAMP`: stamped more than `max_future_s` ahead of the service clock;
- `OUT_OF_ORDER`: a sequenced kind (ticks and surfaces, keyed by underlying) whose seq is not
  above the last one that subscription saw for its key, unless it is stamped later (a
  restarted producer starts its run over from seq 1).

Either is raised as `Rejected`, so the message is dead-lettered with the reason and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hedgemesh.runtime.errors import Rejected
from hedgemesh.wire.base import WireModel

FUTURE_TIMESTAMP = "FUTURE_TIMESTAMP"
UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
OUT_OF_ORDER = "OUT_OF_ORDER"


class EdgeSettings(BaseSettings):
    """Which edge checks a bus applies; each can be set from `HEDGEMESH_EDGE_<FIELD>`.

    Off unless set: in-process tests drive services on stepped clocks far from the wall clock.
    """

    model_config = SettingsConfigDict(env_prefix="HEDGEMESH_EDGE_", frozen=True, extra="ignore")

    max_future_s: float | None = Field(
        default=None,
        gt=0.0,
        le=86_400.0,
        description="Refuse a message stamped more than this ahead of the service clock "
        "(seconds of that clock). None: no check.",
    )
    check_sequence: bool = Field(
        default=False, description="Refuse ticks and surfaces out of sequence per underlying."
    )
    underlyings: str | None = Field(
        default=None,
        pattern=r"^[A-Z][A-Z0-9_]{0,31}(,[A-Z][A-Z0-9_]{0,31})*$",
        description="The underlyings the desk trades, comma-separated (`SPX,NDX`); a message "
        "about another is refused. None: no check.",
    )

    @property
    def known_underlyings(self) -> frozenset[str] | None:
        return None if self.underlyings is None else frozenset(self.underlyings.split(","))


def edge_env(underlyings: list[str] | tuple[str, ...], max_future_s: float = 5.0) -> dict[str, str]:
    """The environment that turns every check on for a deployment (the launcher's, compose's)."""
    return {
        "HEDGEMESH_EDGE_MAX_FUTURE_S": repr(float(max_future_s)),
        "HEDGEMESH_EDGE_CHECK_SEQUENCE": "true",
        "HEDGEMESH_EDGE_UNDERLYINGS": ",".join(underlyings),
    }


def check_known(message: WireModel, known: frozenset[str] | None) -> None:
    """Raise `Rejected(UNKNOWN_INSTRUMENT)` when the message is about an underlying not known."""
    if known is None:
        return
    underlying = getattr(message, "underlying", None)
    if underlying is None:
        underlying = getattr(getattr(message, "instrument", None), "underlying", None)
    if isinstance(underlying, str) and underlying not in known:
        raise Rejected(
            UNKNOWN_INSTRUMENT,
            f"{type(message).kind} about {underlying}, not one of {', '.join(sorted(known))}",
        )


def check_future(message: WireModel, now: datetime, max_future_s: float | None) -> None:
    """Raise `Rejected(FUTURE_TIMESTAMP)` when `message.ts` is too far ahead of `now`."""
    if max_future_s is None:
        return
    ahead_s = (message.ts - now) / timedelta(seconds=1)
    if ahead_s > max_future_s:
        raise Rejected(
            FUTURE_TIMESTAMP,
            f"stamped {message.ts.isoformat()}, {ahead_s:.3f} s ahead of the service clock "
            f"({now.isoformat()}); at most {max_future_s} s allowed",
        )


@dataclass
class SequenceGuard:
    """The last (seq, ts) seen per key of one subscription; refuses what comes out of order."""

    last: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    def admit(self, message: WireModel) -> None:
        key_field = type(message).sequence_key
        if key_field is None:
            return
        key = str(getattr(message, key_field))
        seq: int = getattr(message, "seq")  # noqa: B009 (every sequenced kind has one)
        held = self.last.get(key)
        if held is not None and seq <= held[0] and message.ts <= held[1]:
            raise Rejected(
                OUT_OF_ORDER,
                f"{type(message).kind} {key} seq {seq} is not above {held[0]}, the last seen, "
                f"and not stamped later ({message.ts.isoformat()} <= {held[1].isoformat()})",
            )
        self.last[key] = (seq, message.ts)
