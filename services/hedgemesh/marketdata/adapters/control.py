"""Control of the feed on `hedge.v1.control.marketdata`: pause and resume one underlying's ticks
and surfaces (a feed outage on demand, for the stale-data circuit breaker and drills).

- `halt` (param `underlying`, optional: every underlying without it): stop publishing its ticks
  and surfaces;
- `resume` (the same param): publish them again, from the market's present;
- `status`: the paused underlyings and the publisher's counters.

The market goes on while an underlying is paused (its path, the chain, client trades); resuming
publishes the current tick, as a feed coming back would. Refusals: `UNSUPPORTED_ACTION`,
`UNKNOWN_UNDERLYING`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from hedgemesh.runtime import Clock, Rejected
from hedgemesh.runtime.bus import Envelope
from hedgemesh.wire.ops import ControlAction, ControlCommand, ControlReply

CONTROL_TARGET = "marketdata"


class FeedPort(Protocol):
    """What control needs of the feed (the publisher implements it)."""

    paused: set[str]
    """Underlyings whose ticks and surfaces are not published."""

    @property
    def symbols(self) -> Sequence[str]:
        """The underlyings of the scenario."""
        ...

    def counters(self) -> dict[str, Any]:
        """The publisher's counters."""
        ...


class FeedControl:
    """Answers control commands for the publisher's feed."""

    def __init__(self, feed: FeedPort, clock: Clock) -> None:
        self.feed = feed
        self.clock = clock

    async def handle(self, command: ControlCommand, envelope: Envelope) -> ControlReply:
        feed = self.feed
        if command.action in (ControlAction.HALT, ControlAction.RESUME):
            underlyings = self._underlyings(command)
            if command.action is ControlAction.HALT:
                feed.paused |= underlyings
            else:
                feed.paused -= underlyings
        elif command.action is not ControlAction.STATUS:
            detail = f"marketdata answers halt, resume and status, not {command.action}"
            raise Rejected("UNSUPPORTED_ACTION", detail)
        return ControlReply(
            command_id=command.id,
            target=CONTROL_TARGET,
            ok=True,
            state={"paused": sorted(feed.paused), **feed.counters()},
            ts=self.clock.now(),
        )

    def _underlyings(self, command: ControlCommand) -> set[str]:
        symbols = set(self.feed.symbols)
        underlying = command.params.get("underlying")
        if underlying is None:
            return symbols
        if underlying not in symbols:
            raise Rejected("UNKNOWN_UNDERLYING", f"{underlying!r} is not one of {sorted(symbols)}")
        return {str(underlying)}
